//! The device store: Automerge documents, their SQL projections and the local change log, in
//! one SQLite database.
//!
//! One [`Store`] owns one connection (one writer, WAL). Every local edit runs as
//! `Store::update_entity`: load the document (from a bounded cache, or from disk), let the
//! kind's module apply the operation, commit the Automerge change, then in **one** SQLite
//! transaction append the change bytes, record it in the outbox and rewrite the entity's
//! projection rows. If any step fails nothing is written and the cached document is dropped, so
//! memory and disk never disagree. Subscribers are told after the commit, with no lock held.
//!
//! Nothing here loads all documents: opening the store reads a few settings; lists and counts
//! are SQL over projections; documents are loaded on demand, at most [`CACHE_DOCS`] kept.

use std::collections::{HashMap, HashSet};
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use automerge::{ActorId, AutoCommit, Change, ReadDoc, transaction::CommitOptions};
use lru::LruCache;
use rusqlite::{Connection, OptionalExtension, params};

use crate::clock::{Clock, SystemClock};
use crate::error::{Error, Result};
use crate::ids::{EntityId, MemberId, hex};
use crate::model::{self, Ctx, Kind, Role};

mod audience;
mod comment;
mod docs;
mod event;
mod help;
pub mod membership;
mod outbox;
pub mod photos;
mod profile;
pub(crate) mod project;
pub mod query;
mod report;
pub(crate) mod schema;
mod subscribe;
mod task;

pub use outbox::{ApplyReport, OutgoingChange};
pub use subscribe::{Changed, Subscription};

/// Documents kept loaded in memory (~17 KB each for a small document).
pub const CACHE_DOCS: usize = 64;

/// Which derivation wrote the projection rows, kept in the `projection_version` setting:
/// the stored [`Detail`](crate::model::Detail) format and the version of the derivation rules.
/// Bump [`PROJECTION_RULES`] whenever a kind's `derive`/`project` gives other rows for
/// documents that already exist; a store opened by code with another value re-derives every
/// row once ([`Store::rebuild_projections`]), so lists never show rows of an older rule.
fn projection_version() -> String {
    format!(
        "detail-{}/rules-{PROJECTION_RULES}",
        crate::model::DETAIL_VERSION
    )
}

/// The version of the derivation rules (see [`projection_version`]). 2: the full-text index
/// was recreated empty by migration 008.
const PROJECTION_RULES: u32 = 2;

/// The local person using this device, as they act in the active buurt.
///
/// Member and actor ids are **per buurt**: each join registers the store's *pending* ids (made
/// at first start, used by whatever is written before any join) and then makes fresh ones for
/// the next join, so a person cannot be linked across buurten and nobody who learns their ids
/// in one buurt can register them in another. Before any join (or after leaving every buurt)
/// this is the pending identity. Display name and household are the store's own.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Identity {
    /// The member id written into documents as `by` (in the active buurt).
    pub member: MemberId,
    /// The member's role (in the active buurt).
    pub role: Role,
    /// Display name, if set.
    pub display_name: Option<String>,
    /// Household / complex label, if set.
    pub household: Option<String>,
    /// This device's Automerge actor id in the active buurt (hex).
    pub actor: String,
}

/// Who the store writes as in one buurt: its member id, actor id and role.
#[derive(Debug, Clone)]
pub(crate) struct Acting {
    pub(crate) member: MemberId,
    pub(crate) actor: String,
    pub(crate) role: Role,
}

/// The ids and role the store acts with in `buurt` (its joined row), or the pending identity
/// for `None`, a document made before any join, or a buurt not (or no longer) joined.
pub(crate) fn acting_in(conn: &Connection, buurt: Option<&str>) -> Result<Acting> {
    if let Some(b) = buurt {
        let row: Option<(String, Option<String>, String)> = conn
            .prepare_cached("SELECT member, actor, role FROM buurten WHERE id = ?1")?
            .query_row([b], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?;
        if let Some((member, actor, role)) = row {
            let actor = match actor {
                Some(a) => a,
                None => setting(conn, "device_actor")?.unwrap_or_default(),
            };
            return Ok(Acting {
                member: MemberId::parse(&member)?,
                actor,
                role: Role::parse(&role).unwrap_or(Role::Resident),
            });
        }
    }
    Ok(Acting {
        member: MemberId::parse(&setting(conn, "member_id")?.unwrap_or_default())?,
        actor: setting(conn, "device_actor")?.unwrap_or_default(),
        role: match setting(conn, "role")? {
            Some(r) => Role::parse(&r)?,
            None => Role::Resident,
        },
    })
}

/// Replaces the pending identity with fresh random ids (after a join registered it).
pub(crate) fn renew_pending(conn: &Connection) -> Result<()> {
    set_setting(conn, "member_id", Some(MemberId::new()?.as_str()))?;
    set_setting(
        conn,
        "device_actor",
        Some(&hex(&crate::ids::random_bytes::<16>()?)),
    )
}

fn actor_id(hex: &str) -> Result<ActorId> {
    ActorId::try_from(hex)
        .map_err(|e| Error::Storage(format!("stored device actor is invalid: {e}")))
}

struct Inner {
    conn: Connection,
    cache: LruCache<EntityId, AutoCommit>,
    identity: Identity,
    /// The buurt new entities are created in (`None` before the first join).
    active_buurt: Option<String>,
}

impl Inner {
    /// Recomputes [`Inner::identity`] after the active buurt or its ids changed.
    fn refresh_identity(&mut self) -> Result<()> {
        self.identity = load_identity(&self.conn, self.active_buurt.as_deref())?;
        Ok(())
    }
}

/// A Noaber device store. `Send + Sync`; calls serialise on one connection.
/// Local reads and writes are fast synchronous calls: call them off a UI's main thread.
pub struct Store {
    inner: Mutex<Inner>,
    clock: Arc<dyn Clock>,
    subscribers: subscribe::Registry,
    path: Option<PathBuf>,
    blobs: photos::Blobs,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn setting(conn: &Connection, key: &str) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT value FROM settings WHERE key = ?1")?
        .query_row([key], |r| r.get(0))
        .optional()?)
}

pub(crate) fn set_setting(conn: &Connection, key: &str, value: Option<&str>) -> Result<()> {
    match value {
        Some(v) => conn
            .prepare_cached("INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value")?
            .execute(params![key, v])?,
        None => conn.prepare_cached("DELETE FROM settings WHERE key = ?1")?.execute([key])?,
    };
    Ok(())
}

/// Reads the identity in `active` (see [`Identity`]), creating the pending actor and member
/// ids on first open.
fn load_identity(conn: &Connection, active: Option<&str>) -> Result<Identity> {
    if setting(conn, "device_actor")?.is_none() {
        let a = hex(&crate::ids::random_bytes::<16>()?);
        set_setting(conn, "device_actor", Some(&a))?;
    }
    if setting(conn, "member_id")?.is_none() {
        set_setting(conn, "member_id", Some(MemberId::new()?.as_str()))?;
    }
    let acting = acting_in(conn, active)?;
    actor_id(&acting.actor)?;
    Ok(Identity {
        member: acting.member,
        role: acting.role,
        display_name: setting(conn, "display_name")?,
        household: setting(conn, "household")?,
        actor: acting.actor,
    })
}

impl Store {
    /// Opens (or creates) the store in the SQLite file at `path`, with the system clock.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`] when the file cannot be opened or migrated (including a store written
    /// by a newer app version).
    pub fn open(path: impl AsRef<Path>) -> Result<Store> {
        Store::open_with_clock(path, Arc::new(SystemClock))
    }

    /// Opens the store at `path` with an injected clock.
    ///
    /// # Errors
    ///
    /// As [`Store::open`].
    pub fn open_with_clock(path: impl AsRef<Path>, clock: Arc<dyn Clock>) -> Result<Store> {
        let path = path.as_ref();
        let conn = Connection::open(path)
            .map_err(|e| Error::Storage(format!("cannot open `{}`: {e}", path.display())))?;
        Store::from_connection(conn, clock, Some(path.to_owned()))
    }

    /// A store in memory (tests, simulations); gone when dropped.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`] if SQLite cannot be initialised.
    pub fn open_in_memory(clock: Arc<dyn Clock>) -> Result<Store> {
        Store::from_connection(Connection::open_in_memory()?, clock, None)
    }

    fn from_connection(
        mut conn: Connection,
        clock: Arc<dyn Clock>,
        path: Option<PathBuf>,
    ) -> Result<Store> {
        schema::configure(&conn)?;
        schema::migrate(&mut conn)?;
        let active_buurt = setting(&conn, "active_buurt")?;
        let identity = load_identity(&conn, active_buurt.as_deref())?;
        let stale = setting(&conn, "projection_version")? != Some(projection_version());
        let cap = NonZeroUsize::new(CACHE_DOCS).unwrap_or(NonZeroUsize::MIN);
        let store = Store {
            inner: Mutex::new(Inner {
                active_buurt,
                conn,
                cache: LruCache::new(cap),
                identity,
            }),
            clock,
            subscribers: subscribe::Registry::default(),
            blobs: photos::Blobs::beside(path.as_deref()),
            path,
        };
        if stale {
            // Once after an update that changed the rules or the stored format (or on a new
            // store, where there is nothing to derive): one document at a time.
            let n = store.rebuild_projections()?;
            tracing::info!(entities = n, version = %projection_version(), "re-derived the projections");
        }
        Ok(store)
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while the lock was held cannot leave SQLite half-written (transactions roll
        // back on drop) and the cache is only a cache: recover instead of poisoning forever.
        self.inner.lock().unwrap_or_else(|poisoned| {
            let mut inner = poisoned.into_inner();
            inner.cache.clear();
            inner
        })
    }

    /// The local identity.
    pub fn identity(&self) -> Identity {
        self.lock().identity.clone()
    }

    /// Sets the local member's role, display name and household. Until a relay assigns a role
    /// at join, this is what the device acts as; the relay re-checks every change it accepts.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for over-long names; storage errors.
    pub fn set_identity(
        &self,
        role: Role,
        display_name: Option<&str>,
        household: Option<&str>,
    ) -> Result<Identity> {
        let display_name = display_name
            .filter(|n| !n.trim().is_empty())
            .map(crate::names::display_name)
            .transpose()?;
        let display_name = display_name.as_deref();
        if let Some(h) = household {
            crate::doc::check_len("household", h, 120)?;
        }
        let mut inner = self.lock();
        set_setting(&inner.conn, "role", Some(role.as_str()))?;
        set_setting(&inner.conn, "display_name", display_name)?;
        set_setting(&inner.conn, "household", household)?;
        inner.identity.role = role;
        inner.identity.display_name = display_name.map(str::to_owned);
        inner.identity.household = household.map(str::to_owned);
        Ok(inner.identity.clone())
    }

    /// Replaces the *pending* member id: the one written before any join and registered by
    /// the next join (used when a relay already knows this person, see
    /// [`Store::adopt_member`]). Buurten already joined keep theirs.
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub fn set_member_id(&self, member: &MemberId) -> Result<()> {
        let mut inner = self.lock();
        set_setting(&inner.conn, "member_id", Some(member.as_str()))?;
        inner.refresh_identity()
    }

    /// Now, by the store's clock.
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    fn ctx(&self, acting: &Acting, identity: &Identity) -> Ctx {
        Ctx {
            member: acting.member.clone(),
            role: acting.role,
            household: identity.household.clone(),
            now: self.clock.now_ms(),
        }
    }

    /// Takes the document out of the cache, or loads it.
    fn take_doc(&self, inner: &mut Inner, id: &EntityId) -> Result<AutoCommit> {
        if let Some(doc) = inner.cache.pop(id) {
            return Ok(doc);
        }
        // The actor is set by `commit_local`, to the document's buurt's.
        docs::load(&inner.conn, id)
    }

    /// Creates a new entity: `f` writes its creation change into an empty document.
    pub(crate) fn create_entity<F>(&self, kind: Kind, f: F) -> Result<EntityId>
    where
        F: FnOnce(&mut AutoCommit, &EntityId, &Ctx) -> Result<()>,
    {
        let id = EntityId::new()?;
        let doc = AutoCommit::new();
        let inner = self.lock();
        self.commit_local(
            inner,
            id.clone(),
            kind,
            doc,
            |doc, ctx| f(doc, &id, ctx),
            |_, _| Ok(()),
        )?;
        Ok(id)
    }

    /// Applies a local operation to an existing entity of `kind`.
    pub(crate) fn update_entity<F, T>(&self, id: &EntityId, kind: Kind, f: F) -> Result<T>
    where
        F: FnOnce(&mut AutoCommit, &Ctx) -> Result<T>,
    {
        let mut inner = self.lock();
        self.check_kind(&inner, id, kind)?;
        let doc = self.take_doc(&mut inner, id)?;
        self.commit_local(inner, id.clone(), kind, doc, f, |_, _| Ok(()))
    }

    /// Like [`Store::update_entity`], and when `f` changed the document, `also` writes local
    /// rows in the same transaction as the change (all or nothing).
    pub(crate) fn update_entity_also<F, T, A>(
        &self,
        id: &EntityId,
        kind: Kind,
        f: F,
        also: A,
    ) -> Result<T>
    where
        F: FnOnce(&mut AutoCommit, &Ctx) -> Result<T>,
        A: FnOnce(&rusqlite::Transaction<'_>, &Ctx) -> Result<()>,
    {
        let mut inner = self.lock();
        self.check_kind(&inner, id, kind)?;
        let doc = self.take_doc(&mut inner, id)?;
        self.commit_local(inner, id.clone(), kind, doc, f, also)
    }

    fn check_kind(&self, inner: &Inner, id: &EntityId, kind: Kind) -> Result<()> {
        match docs::kind_of(&inner.conn, id)? {
            Some(Some(k)) if k == kind => Ok(()),
            Some(Some(k)) => Err(Error::invalid(
                "id",
                format!("`{id}` is a {}, not a {}", k.as_str(), kind.as_str()),
            )),
            _ => Err(Error::not_found(kind.as_str(), id.as_str())),
        }
    }

    /// Runs `f` on `doc`, commits its change and persists it with the projection, all under
    /// the one lock `inner` (so no other call can see or load the document half-way).
    fn commit_local<F, T, A>(
        &self,
        mut inner: MutexGuard<'_, Inner>,
        id: EntityId,
        kind: Kind,
        mut doc: AutoCommit,
        f: F,
        also: A,
    ) -> Result<T>
    where
        F: FnOnce(&mut AutoCommit, &Ctx) -> Result<T>,
        A: FnOnce(&rusqlite::Transaction<'_>, &Ctx) -> Result<()>,
    {
        // Who writes: the member and actor of the document's buurt. A new document, or one
        // with no buurt yet, becomes the active buurt's (before any join: none, and the
        // pending identity writes).
        let buurt = docs::buurt_of(&inner.conn, &id)?
            .flatten()
            .or_else(|| inner.active_buurt.clone());
        let acting = acting_in(&inner.conn, buurt.as_deref())?;
        doc.set_actor(actor_id(&acting.actor)?);
        let ctx = self.ctx(&acting, &inner.identity);
        let out = match f(&mut doc, &ctx) {
            Ok(out) => out,
            Err(e) => {
                doc.rollback();
                inner.cache.put(id, doc);
                return Err(e);
            }
        };
        let Some(hash) = doc.commit_with(CommitOptions::default().with_time(ctx.now)) else {
            inner.cache.put(id, doc);
            return Ok(out); // nothing changed
        };
        let persisted = (|| -> Result<()> {
            let change = doc
                .get_last_local_change()
                .ok_or_else(|| Error::Other("committed change not found; this is a bug".into()))?;
            let bytes = change.raw_bytes().to_vec();
            let projection = model::project(&doc)?;
            let tx = inner.conn.transaction()?;
            docs::append_change(
                &tx,
                &id,
                buurt.as_deref(),
                Some(kind),
                &hash,
                &bytes,
                ctx.now,
                &mut doc,
            )?;
            outbox::record(&tx, &id, &hash, &bytes, ctx.now)?;
            project::write(&tx, &id, &projection)?;
            also(&tx, &ctx)?;
            tx.commit()?;
            Ok(())
        })();
        match persisted {
            Ok(()) => {
                inner.cache.put(id.clone(), doc);
                drop(inner);
                self.subscribers.notify(&[Changed { id, kind }]);
                Ok(out)
            }
            // The document in memory holds a change the disk does not: drop it so the next
            // read reloads what was committed.
            Err(e) => Err(e),
        }
    }

    /// Reads an entity of `kind` through `f` (loads its document if not cached).
    pub(crate) fn read_entity<F, T>(&self, id: &EntityId, kind: Kind, f: F) -> Result<T>
    where
        F: FnOnce(&AutoCommit) -> Result<T>,
    {
        let mut inner = self.lock();
        self.check_kind(&inner, id, kind)?;
        let doc = self.take_doc(&mut inner, id)?;
        let out = f(&doc);
        inner.cache.put(id.clone(), doc);
        out
    }

    /// The kind of a stored entity.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] when no such entity is stored (or its creation change has not
    /// arrived yet).
    pub fn kind_of(&self, id: &EntityId) -> Result<Kind> {
        let inner = self.lock();
        match docs::kind_of(&inner.conn, id)? {
            Some(Some(k)) => Ok(k),
            _ => Err(Error::not_found("entity", id.as_str())),
        }
    }

    /// The whole document of an entity, as `save()` bytes (for export and for tests that
    /// compare replicas).
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`], [`Error::Corrupt`], storage errors.
    pub fn document_bytes(&self, id: &EntityId) -> Result<Vec<u8>> {
        let mut inner = self.lock();
        let mut doc = self.take_doc(&mut inner, id)?;
        let bytes = doc.save();
        inner.cache.put(id.clone(), doc);
        Ok(bytes)
    }

    /// The heads of an entity's document, hex, sorted.
    ///
    /// # Errors
    ///
    /// As [`Store::document_bytes`].
    pub fn heads(&self, id: &EntityId) -> Result<Vec<String>> {
        let mut inner = self.lock();
        let mut doc = self.take_doc(&mut inner, id)?;
        let mut heads: Vec<String> = doc.get_heads().iter().map(|h| h.to_string()).collect();
        inner.cache.put(id.clone(), doc);
        heads.sort();
        Ok(heads)
    }

    /// Drops every projection row and derives them again from the documents, one document at
    /// a time (memory stays bounded), and records the projection version (the
    /// `projection_version` setting) in the same transaction. Returns how many entities were
    /// projected; documents that fail to load are skipped (and logged by id) so one corrupt
    /// entity cannot block the rest.
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub fn rebuild_projections(&self) -> Result<usize> {
        let mut inner = self.lock();
        inner.cache.clear();
        let ids = docs::all_ids(&inner.conn)?;
        let tx = inner.conn.transaction()?;
        for sql in [
            "DELETE FROM entities",
            "DELETE FROM search",
            "DELETE FROM participants",
            "DELETE FROM notices",
            "DELETE FROM comments",
        ] {
            tx.execute(sql, [])?;
        }
        let mut n = 0;
        for id in ids {
            let doc = match docs::load(&tx, &id) {
                Ok(doc) => doc,
                Err(e) => {
                    tracing::warn!(entity = %id, error = %e, "skipping unreadable document in rebuild");
                    continue;
                }
            };
            if let Ok(p) = model::project(&doc) {
                project::write(&tx, &id, &p)?;
                n += 1;
            }
        }
        set_setting(&tx, "projection_version", Some(&projection_version()))?;
        tx.commit()?;
        Ok(n)
    }

    /// Applies changes that came from elsewhere (a relay, another device) to their documents
    /// and projections, in one transaction. Duplicates are ignored; changes whose
    /// dependencies have not arrived are stored and wait (they take effect when the
    /// dependencies come). Documents are processed one at a time and go through the bounded
    /// cache, so a batch of 10 000 documents does not hold 10 000 documents in memory.
    /// A change for a document that is corrupt on this device is stored unapplied (nothing
    /// received is dropped) and counted in [`ApplyReport::corrupt`]. Subscribers are told which
    /// entities changed.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] when a change does not decode or cannot be applied (nothing of
    /// the batch is applied); storage errors.
    pub fn apply_remote_changes(&self, batch: &[(EntityId, Vec<u8>)]) -> Result<ApplyReport> {
        self.apply_changes_in(None, batch)
    }

    /// [`Store::apply_remote_changes`] for changes pulled from `buurt`: documents new to this
    /// device are recorded as belonging to it.
    pub(crate) fn apply_changes_in(
        &self,
        buurt: Option<&str>,
        batch: &[(EntityId, Vec<u8>)],
    ) -> Result<ApplyReport> {
        // Decode everything first and group by document, keeping first-arrival order.
        let mut order: Vec<EntityId> = Vec::new();
        let mut by_doc: HashMap<EntityId, Vec<Change>> = HashMap::new();
        for (id, bytes) in batch {
            // The relay's bounds, before automerge expands anything: a change declaring a
            // million operations in a few bytes would take this device's memory too.
            crate::validate::check_bounds(
                bytes,
                crate::limits::MAX_CHANGE_BYTES,
                crate::limits::MAX_INFLATED_BYTES,
            )
            .map_err(|r| Error::invalid("change", format!("for entity `{id}`: {r}")))?;
            let change = Change::from_bytes(bytes.clone()).map_err(|e| {
                Error::invalid("change", format!("for entity `{id}` does not decode: {e}"))
            })?;
            by_doc
                .entry(id.clone())
                .or_insert_with(|| {
                    order.push(id.clone());
                    Vec::new()
                })
                .push(change);
        }
        let mut guard = self.lock();
        let inner = &mut *guard;
        let now = self.clock.now_ms();
        let mut report = ApplyReport::default();
        let mut changed: Vec<Changed> = Vec::new();
        let mut touched: Vec<EntityId> = Vec::new();
        let result = (|| -> Result<()> {
            let tx = inner.conn.transaction()?;
            for id in &order {
                let Some(changes) = by_doc.remove(id) else {
                    continue;
                };
                let mut fresh = Vec::with_capacity(changes.len());
                let mut seen = HashSet::new();
                for change in changes {
                    let hash = change.hash();
                    if !seen.insert(hash) || docs::has_change(&tx, &hash)? {
                        report.duplicates += 1;
                    } else {
                        fresh.push(change);
                    }
                }
                if fresh.is_empty() {
                    continue;
                }
                let mut doc = match inner.cache.pop(id) {
                    Some(doc) => doc,
                    None => match docs::load(&tx, id) {
                        Ok(doc) => doc,
                        Err(Error::NotFound { .. }) => AutoCommit::new(),
                        Err(Error::Corrupt { .. }) => {
                            // Keep what arrived; the document stays unreadable until repaired.
                            for change in &fresh {
                                docs::store_unapplied(
                                    &tx,
                                    id,
                                    &change.hash(),
                                    change.raw_bytes(),
                                    now,
                                )?;
                            }
                            report.corrupt += fresh.len();
                            continue;
                        }
                        Err(e) => return Err(e),
                    },
                };
                let declared = fresh.iter().map(|c| c.len() as u64).sum::<u64>();
                let work = crate::validate::Work {
                    ops: declared,
                    ..crate::validate::Work::default()
                };
                if let Err(r) = work.fits_document(doc.stats().num_ops) {
                    inner.cache.put(id.clone(), doc);
                    return Err(Error::invalid("change", format!("for entity `{id}`: {r}")));
                }
                touched.push(id.clone());
                let hashes: Vec<_> = fresh
                    .iter()
                    .map(|c| (c.hash(), c.raw_bytes().to_vec()))
                    .collect();
                docs::guard("a received change", || {
                    doc.apply_changes(fresh).map_err(|e| e.to_string())
                })
                .map_err(|e| {
                    Error::invalid(
                        "change",
                        format!("for entity `{id}` cannot be applied: {e}"),
                    )
                })?;
                let kind = crate::doc::header(&doc).ok().map(|h| h.kind);
                for (hash, bytes) in &hashes {
                    docs::append_change(&tx, id, buurt, kind, hash, bytes, now, &mut doc)?;
                }
                report.applied += hashes.len();
                let needs_repair = !doc.get_missing_deps(&[]).is_empty();
                tx.prepare_cached("UPDATE documents SET needs_repair = ?2 WHERE id = ?1")?
                    .execute(params![id.as_str(), needs_repair])?;
                match model::project(&doc) {
                    Ok(p) => {
                        tx.prepare_cached(
                            "UPDATE documents SET kind = coalesce(kind, ?2) WHERE id = ?1",
                        )?
                        .execute(params![id.as_str(), p.kind.as_str()])?;
                        project::write(&tx, id, &p)?;
                        changed.push(Changed {
                            id: id.clone(),
                            kind: p.kind,
                        });
                    }
                    // Creation change not here yet: the document waits, unprojected.
                    Err(_) => report.waiting += 1,
                }
                inner.cache.put(id.clone(), doc);
            }
            tx.commit()?;
            Ok(())
        })();
        if let Err(e) = result {
            // Cached copies may hold changes the rollback removed from disk: drop them.
            for id in &touched {
                inner.cache.pop(id);
            }
            return Err(e);
        }
        drop(guard);
        if !changed.is_empty() {
            self.subscribers.notify(&changed);
        }
        Ok(report)
    }

    /// Registers `listener` to be told, after each commit, which entities changed. Delivery
    /// stops when the returned [`Subscription`] is cancelled or dropped. The listener runs on
    /// the committing thread with no store lock held, so it may call back into the store.
    pub fn subscribe(&self, listener: impl Fn(&[Changed]) + Send + Sync + 'static) -> Subscription {
        self.subscribers.add(Arc::new(listener))
    }

    /// How many documents are loaded in memory now (at most [`CACHE_DOCS`]); opening a store
    /// loads none.
    pub fn loaded_documents(&self) -> usize {
        self.lock().cache.len()
    }

    /// The path of the database file, if not in memory.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Runs `f` with the connection (queries).
    pub(crate) fn with_conn<T>(
        &self,
        f: impl FnOnce(&Connection, &Identity) -> Result<T>,
    ) -> Result<T> {
        let inner = self.lock();
        f(&inner.conn, &inner.identity)
    }

    /// Runs `f` in a write transaction on the connection (outbox bookkeeping).
    pub(crate) fn with_tx<T>(
        &self,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T>,
    ) -> Result<T> {
        let mut inner = self.lock();
        let tx = inner.conn.transaction()?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }
}
