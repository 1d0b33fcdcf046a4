//! [`SqliteStorage`]: the embedded default, one SQLite file in WAL mode.
//!
//! One write connection behind a mutex (SQLite has one writer anyway; the relay's group-commit
//! thread is its main user, joins and admin commands take it briefly) and a small pool of read
//! connections, so pulls and token checks never wait for a commit. Every write runs in
//! [`SqliteStorage::write`], which commits only on `Ok`; every read runs in one transaction, so
//! it sees one consistent snapshot. `synchronous=FULL` makes each commit durable before it
//! returns.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

use automerge::ActorId;
use noaber_core::{MemberId, Role};
use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, Transaction, params};

use super::decode::{array, buurt_id, device_id, member, role, to_i64, to_u64};
use super::plan::{
    ActorHolder, EnrolledDevice, Enrolment, JoinFacts, JoinPlan, StoredInvite, assemble_page,
    check_join, page_fetch, plan_append, quota_allows,
};
use super::schema;
use super::{
    AppendBatch, BatchOutcome, BlobRow, Buurt, DeviceAuth, DeviceRow, JoinRefusal, JoinTicket,
    Joined, LogPage, LoggedChange, MemberRow, NewInvite, Puller, Storage, StorageError,
    StorageResult, UploadRow,
};
use crate::ids::{BuurtId, DeviceId, hex};

/// The database file's name inside the data directory.
pub const DB_FILE: &str = "relay.sqlite3";

/// Read connections, at most. A read waits for one to be free rather than opening another:
/// a fresh connection starts with a cold page cache (and parses the schema), which under many
/// concurrent pulls made every read go to the operating system for its pages.
const MAX_READERS: usize = 8;

/// The read connections: idle ones, and how many exist.
#[derive(Default)]
struct Readers {
    idle: Vec<Connection>,
    open: usize,
}

impl From<rusqlite::Error> for StorageError {
    fn from(e: rusqlite::Error) -> Self {
        match e.sqlite_error_code() {
            // Another process (a backup, an admin command) held the database's lock for longer
            // than the busy timeout: nothing was done, and the same request may succeed later
            // (`503 unavailable` with `Retry-After`, not `500`).
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
                StorageError::Unavailable(format!("sqlite: {e}"))
            }
            _ => StorageError::Backend(format!("sqlite: {e}")),
        }
    }
}

fn is_constraint(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == ErrorCode::ConstraintViolation)
}

/// The internal key of a buurt.
fn buurt_n(tx: &Transaction<'_>, id: &BuurtId) -> StorageResult<Option<i64>> {
    Ok(tx
        .prepare_cached("SELECT n FROM buurten WHERE id = ?1")?
        .query_row([id.as_str()], |r| r.get(0))
        .optional()?)
}

fn require_buurt(tx: &Transaction<'_>, id: &BuurtId) -> StorageResult<i64> {
    buurt_n(tx, id)?.ok_or_else(|| StorageError::NotFound {
        what: "buurt",
        id: id.to_string(),
    })
}

fn require_device(tx: &Transaction<'_>, id: &DeviceId) -> StorageResult<i64> {
    tx.prepare_cached("SELECT n FROM devices WHERE id = ?1")?
        .query_row([id.as_str()], |r| r.get(0))
        .optional()?
        .ok_or_else(|| StorageError::NotFound {
            what: "device",
            id: id.to_string(),
        })
}

/// The relay's SQLite storage.
pub struct SqliteStorage {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Readers>,
    reader_free: Condvar,
}

impl std::fmt::Debug for SqliteStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStorage")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while a connection was held leaves no half-written data (transactions roll back
    // on drop), so a poisoned lock is safe to take over.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl SqliteStorage {
    /// Opens (or creates) the database in the data directory `dir` (creating the directory),
    /// as the file [`DB_FILE`].
    ///
    /// # Errors
    ///
    /// As [`SqliteStorage::open`]; also when the directory cannot be created.
    pub fn open_dir(dir: impl AsRef<Path>) -> StorageResult<Self> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir).map_err(|e| {
            StorageError::Backend(format!("cannot create `{}`: {e}", dir.display()))
        })?;
        Self::open(dir.join(DB_FILE))
    }

    /// Opens (or creates) the database file at `path` and brings its schema up to date.
    ///
    /// # Errors
    ///
    /// [`StorageError::TooNew`] for a database of a newer relay; backend errors.
    pub fn open(path: impl AsRef<Path>) -> StorageResult<Self> {
        let path = path.as_ref().to_owned();
        let mut writer = Connection::open(&path)
            .map_err(|e| StorageError::Backend(format!("cannot open `{}`: {e}", path.display())))?;
        schema::configure(&writer)?;
        schema::migrate(&mut writer)?;
        Ok(SqliteStorage {
            path,
            writer: Mutex::new(writer),
            readers: Mutex::new(Readers::default()),
            reader_free: Condvar::new(),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` in an immediate write transaction; commits only if it returns `Ok`.
    fn write<T>(&self, f: impl FnOnce(&Transaction<'_>) -> StorageResult<T>) -> StorageResult<T> {
        let mut conn = lock(&self.writer);
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }

    /// Runs `f` in a read transaction on a pooled read connection (one snapshot).
    fn read<T>(&self, f: impl FnOnce(&Transaction<'_>) -> StorageResult<T>) -> StorageResult<T> {
        let mut conn = self.take_reader()?;
        let out = conn
            .transaction()
            .map_err(StorageError::from)
            .and_then(|tx| f(&tx));
        let mut pool = lock(&self.readers);
        pool.idle.push(conn);
        drop(pool);
        self.reader_free.notify_one();
        out
    }

    /// An idle read connection, a new one while fewer than [`MAX_READERS`] exist, or else the
    /// next one released.
    fn take_reader(&self) -> StorageResult<Connection> {
        let mut pool = lock(&self.readers);
        loop {
            if let Some(c) = pool.idle.pop() {
                return Ok(c);
            }
            if pool.open < MAX_READERS {
                pool.open += 1;
                drop(pool);
                let opened = Connection::open_with_flags(
                    &self.path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )
                .and_then(|c| {
                    c.busy_timeout(std::time::Duration::from_secs(10))?;
                    c.set_prepared_statement_cache_capacity(64);
                    Ok(c)
                });
                if opened.is_err() {
                    lock(&self.readers).open -= 1;
                    self.reader_free.notify_one();
                }
                return Ok(opened?);
            }
            pool = self
                .reader_free
                .wait(pool)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    fn actors_of(tx: &Transaction<'_>, device_n: i64) -> StorageResult<Vec<Vec<u8>>> {
        let mut stmt =
            tx.prepare_cached("SELECT actor FROM actors WHERE device = ?1 ORDER BY actor")?;
        let rows = stmt.query_map([device_n], |r| r.get::<_, Vec<u8>>(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

/// What [`check_join`] decides on, once the invite is found: everything is read before any
/// rule is applied (joins are rare; a refused one costs a few more reads).
fn join_facts(
    tx: &Transaction<'_>,
    t: &JoinTicket,
    invite: StoredInvite,
) -> StorageResult<JoinFacts> {
    let n = invite.buurt;
    let enrolled = if t.retryable {
        enrolled_device(tx, &t.token_hash)?
    } else {
        None
    };
    let member_elsewhere: bool = tx
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM members WHERE id = ?1 AND buurt <> ?2)")?
        .query_row(params![t.member.as_str(), n], |r| r.get(0))?;
    let member_role: Option<String> = tx
        .prepare_cached("SELECT role FROM members WHERE buurt = ?1 AND id = ?2")?
        .query_row(params![n, t.member.as_str()], |r| r.get(0))
        .optional()?;
    let mut elsewhere =
        tx.prepare_cached("SELECT EXISTS (SELECT 1 FROM actors WHERE actor = ?1 AND buurt <> ?2)")?;
    let mut holder = tx.prepare_cached(
        "SELECT d.member, d.revoked_at IS NOT NULL FROM actors a JOIN devices d ON d.n = a.device
         WHERE a.buurt = ?1 AND a.actor = ?2",
    )?;
    let mut actors_elsewhere = false;
    let mut actor_holders = Vec::new();
    for actor in &t.actors {
        actors_elsewhere |=
            elsewhere.query_row(params![actor.to_bytes(), n], |r| r.get::<_, bool>(0))?;
        if let Some((member, revoked)) = holder
            .query_row(params![n, actor.to_bytes()], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?
        {
            actor_holders.push(ActorHolder { member, revoked });
        }
    }
    Ok(JoinFacts {
        invite,
        enrolled,
        member_elsewhere,
        member_role,
        actors_elsewhere,
        actor_holders,
    })
}

/// The device that has the token hash `token_hash`, for a retried join.
fn enrolled_device(
    tx: &Transaction<'_>,
    token_hash: &[u8; 32],
) -> StorageResult<Option<EnrolledDevice>> {
    let found = tx
        .prepare_cached(
            "SELECT d.n, d.id, d.buurt, d.member, d.revoked_at IS NOT NULL, d.join_invite, m.role
             FROM devices d JOIN members m ON m.buurt = d.buurt AND m.id = d.member
             WHERE d.token_hash = ?1",
        )?
        .query_row([token_hash.as_slice()], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                EnrolledDevice {
                    id: r.get(1)?,
                    buurt: r.get(2)?,
                    member: r.get(3)?,
                    revoked: r.get(4)?,
                    invite: r.get(5)?,
                    role: r.get(6)?,
                    actors: Vec::new(),
                },
            ))
        })
        .optional()?;
    let Some((device_n, mut device)) = found else {
        return Ok(None);
    };
    device.actors = SqliteStorage::actors_of(tx, device_n)?;
    Ok(Some(device))
}

impl Storage for SqliteStorage {
    fn ping(&self) -> StorageResult<()> {
        self.read(|tx| {
            tx.query_row("SELECT count(*) FROM buurten", [], |r| r.get::<_, i64>(0))?;
            Ok(())
        })
    }

    fn create_buurt(&self, id: &BuurtId, name: &str, now: i64) -> StorageResult<()> {
        self.write(|tx| {
            tx.prepare_cached("INSERT INTO buurten (id, name, created_at) VALUES (?1, ?2, ?3)")?
                .execute(params![id.as_str(), name, now])
                .map_err(|e| {
                    if is_constraint(&e) {
                        StorageError::Conflict {
                            what: "buurt",
                            id: id.to_string(),
                        }
                    } else {
                        e.into()
                    }
                })?;
            Ok(())
        })
    }

    fn buurt(&self, id: &BuurtId) -> StorageResult<Option<Buurt>> {
        self.read(|tx| {
            let row = tx
                .prepare_cached("SELECT name, head, created_at FROM buurten WHERE id = ?1")?
                .query_row([id.as_str()], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, i64>(2)?,
                    ))
                })
                .optional()?;
            row.map(|(name, head, created_at)| {
                Ok(Buurt {
                    id: id.clone(),
                    name,
                    head: to_u64(head, "head")?,
                    created_at,
                })
            })
            .transpose()
        })
    }

    fn buurten(&self) -> StorageResult<Vec<Buurt>> {
        self.read(|tx| {
            let mut stmt =
                tx.prepare_cached("SELECT id, name, head, created_at FROM buurten ORDER BY n")?;
            let rows = stmt.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (id, name, head, created_at) = row?;
                out.push(Buurt {
                    id: buurt_id(id)?,
                    name,
                    head: to_u64(head, "head")?,
                    created_at,
                });
            }
            Ok(out)
        })
    }

    fn create_invite(&self, invite: &NewInvite) -> StorageResult<()> {
        self.write(|tx| {
            let n = require_buurt(tx, &invite.buurt)?;
            tx.prepare_cached(
                "INSERT INTO invites (hash, buurt, role, member, created_at, expires_at, max_uses)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                invite.hash.as_slice(),
                n,
                invite.role.as_str(),
                invite.member.as_ref().map(MemberId::as_str),
                invite.created_at,
                invite.expires_at,
                invite.max_uses,
            ])
            .map_err(|e| {
                if is_constraint(&e) {
                    StorageError::Conflict {
                        what: "invite",
                        id: "(hash)".into(),
                    }
                } else {
                    e.into()
                }
            })?;
            Ok(())
        })
    }

    fn join(&self, t: &JoinTicket) -> StorageResult<Result<Joined, JoinRefusal>> {
        // One writer connection: joins are serialised, so the facts below include every
        // earlier join and two identical retries enrol one device.
        self.write(|tx| {
            let invite = tx
                .prepare_cached(
                    "SELECT i.buurt, b.id, b.name, i.role, i.member, i.expires_at, i.max_uses, i.uses
                     FROM invites i JOIN buurten b ON b.n = i.buurt WHERE i.hash = ?1",
                )?
                .query_row([t.invite_hash.as_slice()], |r| {
                    Ok(StoredInvite {
                        buurt: r.get(0)?,
                        buurt_id: r.get(1)?,
                        buurt_name: r.get(2)?,
                        role: r.get(3)?,
                        member: r.get(4)?,
                        expires_at: r.get(5)?,
                        max_uses: r.get(6)?,
                        uses: r.get(7)?,
                    })
                })
                .optional()?;
            let facts = invite.map(|i| join_facts(tx, t, i)).transpose()?;
            let Enrolment {
                buurt: n,
                new_member,
                joined,
            } = match check_join(t, facts.as_ref())? {
                Err(why) => return Ok(Err(why)),
                Ok(JoinPlan::Retry(joined)) => return Ok(Ok(joined)),
                Ok(JoinPlan::Enrol(enrolment)) => enrolment,
            };
            if new_member {
                tx.prepare_cached(
                    "INSERT INTO members (buurt, id, display_name, role, joined_at)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )?
                .execute(params![
                    n,
                    t.member.as_str(),
                    t.display_name,
                    joined.role.as_str(),
                    t.now
                ])?;
            }
            tx.prepare_cached(
                "INSERT INTO devices (id, buurt, member, token_hash, created_at, join_invite)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                t.device.as_str(),
                n,
                t.member.as_str(),
                t.token_hash.as_slice(),
                t.now,
                t.invite_hash.as_slice()
            ])?;
            let device_n = tx.last_insert_rowid();
            {
                let mut ins = tx.prepare_cached(
                    "INSERT INTO actors (buurt, actor, device) VALUES (?1, ?2, ?3)
                     ON CONFLICT (buurt, actor) DO UPDATE SET device = excluded.device",
                )?;
                for actor in &t.actors {
                    ins.execute(params![n, actor.to_bytes(), device_n])?;
                }
            }
            tx.prepare_cached("UPDATE invites SET uses = uses + 1 WHERE hash = ?1")?
                .execute([t.invite_hash.as_slice()])?;
            Ok(Ok(joined))
        })
    }

    fn device_by_token(&self, token_hash: &[u8; 32]) -> StorageResult<Option<DeviceAuth>> {
        self.read(|tx| {
            let row = tx
                .prepare_cached(
                    "SELECT d.n, d.id, b.id, d.member, m.role, d.revoked_at
                     FROM devices d
                     JOIN buurten b ON b.n = d.buurt
                     JOIN members m ON m.buurt = d.buurt AND m.id = d.member
                     WHERE d.token_hash = ?1",
                )?
                .query_row([token_hash.as_slice()], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, Option<i64>>(5)?,
                    ))
                })
                .optional()?;
            let Some((device_n, device, buurt, m, r, revoked_at)) = row else {
                return Ok(None);
            };
            let actors = Self::actors_of(tx, device_n)?
                .into_iter()
                .map(ActorId::from)
                .collect();
            Ok(Some(DeviceAuth {
                device: device_id(device)?,
                buurt: buurt_id(buurt)?,
                member: member(m)?,
                role: role(&r)?,
                actors,
                revoked: revoked_at.is_some(),
            }))
        })
    }

    fn members(&self, buurt: &BuurtId) -> StorageResult<Vec<MemberRow>> {
        self.read(|tx| {
            let n = require_buurt(tx, buurt)?;
            let mut stmt = tx.prepare_cached(
                "SELECT m.id, m.display_name, m.role, m.joined_at,
                        (SELECT count(*) FROM devices d
                          WHERE d.buurt = m.buurt AND d.member = m.id AND d.revoked_at IS NULL)
                 FROM members m WHERE m.buurt = ?1 ORDER BY m.joined_at, m.id",
            )?;
            let rows = stmt.query_map([n], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, i64>(4)?,
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (id, display_name, r, joined_at, devices) = row?;
                out.push(MemberRow {
                    member: member(id)?,
                    display_name,
                    role: role(&r)?,
                    joined_at,
                    active_devices: u32::try_from(devices).unwrap_or(u32::MAX),
                });
            }
            Ok(out)
        })
    }

    fn devices(&self, buurt: &BuurtId) -> StorageResult<Vec<DeviceRow>> {
        self.read(|tx| {
            let n = require_buurt(tx, buurt)?;
            let mut stmt = tx.prepare_cached(
                "SELECT n, id, member, created_at, revoked_at FROM devices
                 WHERE buurt = ?1 ORDER BY created_at, n",
            )?;
            let rows = stmt
                .query_map([n], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, i64>(3)?,
                        r.get::<_, Option<i64>>(4)?,
                    ))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            let mut out = Vec::with_capacity(rows.len());
            for (device_n, id, m, created_at, revoked_at) in rows {
                out.push(DeviceRow {
                    device: device_id(id)?,
                    member: member(m)?,
                    created_at,
                    revoked_at,
                    actors: Self::actors_of(tx, device_n)?
                        .iter()
                        .map(|a| hex(a))
                        .collect(),
                });
            }
            Ok(out)
        })
    }

    fn revoke_device(&self, device: &DeviceId, now: i64) -> StorageResult<bool> {
        self.write(|tx| {
            let n = tx
                .prepare_cached(
                    "UPDATE devices SET revoked_at = coalesce(revoked_at, ?2) WHERE id = ?1",
                )?
                .execute(params![device.as_str(), now])?;
            Ok(n > 0)
        })
    }

    fn set_role(&self, buurt: &BuurtId, m: &MemberId, r: Role) -> StorageResult<bool> {
        self.write(|tx| {
            let Some(n) = buurt_n(tx, buurt)? else {
                return Ok(false);
            };
            let changed = tx
                .prepare_cached("UPDATE members SET role = ?3 WHERE buurt = ?1 AND id = ?2")?
                .execute(params![n, m.as_str(), r.as_str()])?;
            Ok(changed > 0)
        })
    }

    fn doc_buurt(&self, doc: &[u8; 16]) -> StorageResult<Option<BuurtId>> {
        self.read(|tx| {
            let id: Option<String> = tx
                .prepare_cached(
                    "SELECT b.id FROM documents d JOIN buurten b ON b.n = d.buurt WHERE d.id = ?1",
                )?
                .query_row([doc.as_slice()], |r| r.get(0))
                .optional()?;
            id.map(buurt_id).transpose()
        })
    }

    fn has_change(&self, buurt: &BuurtId, hash: &[u8; 32]) -> StorageResult<bool> {
        self.read(|tx| {
            Ok(tx
                .prepare_cached(
                    "SELECT 1 FROM log WHERE buurt = (SELECT n FROM buurten WHERE id = ?1)
                     AND hash = ?2",
                )?
                .query_row(params![buurt.as_str(), hash.as_slice()], |_| Ok(()))
                .optional()?
                .is_some())
        })
    }

    fn doc_changes(
        &self,
        buurt: &BuurtId,
        doc: &[u8; 16],
    ) -> StorageResult<Vec<([u8; 32], Vec<u8>)>> {
        self.read(|tx| {
            let Some(n) = buurt_n(tx, buurt)? else {
                return Ok(Vec::new());
            };
            let mut stmt = tx.prepare_cached(
                // Without the hint the planner walks the buurt's whole log by (buurt, seq),
                // which also yields seq order: O(log) per document load (see the test below).
                "SELECT hash, bytes FROM log INDEXED BY log_doc
                 WHERE doc = ?1 AND buurt = ?2 ORDER BY seq",
            )?;
            let rows = stmt.query_map(params![doc.as_slice(), n], |r| {
                Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Vec<u8>>(1)?))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (hash, bytes) = row?;
                out.push((array(&hash, "change hash")?, bytes));
            }
            Ok(out)
        })
    }

    fn append(&self, batches: &[AppendBatch]) -> StorageResult<Vec<BatchOutcome>> {
        self.write(|tx| {
            // The facts: each batch's buurt and device, the heads, the documents' owners and
            // the hashes already logged. The one writer keeps them true until the commit.
            let mut buurten = Vec::with_capacity(batches.len());
            let mut devices = Vec::with_capacity(batches.len());
            let mut heads = HashMap::new();
            let mut buurt_of = tx.prepare_cached("SELECT n, head FROM buurten WHERE id = ?1")?;
            let mut device_n = tx.prepare_cached("SELECT n FROM devices WHERE id = ?1")?;
            for batch in batches {
                let (n, head): (i64, i64) = buurt_of
                    .query_row([batch.buurt.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()?
                    .ok_or_else(|| StorageError::NotFound {
                        what: "buurt",
                        id: batch.buurt.to_string(),
                    })?;
                let dev: i64 = device_n
                    .query_row([batch.device.as_str()], |r| r.get(0))
                    .optional()?
                    .ok_or_else(|| StorageError::NotFound {
                        what: "device",
                        id: batch.device.to_string(),
                    })?;
                buurten.push(n);
                devices.push(dev);
                heads.insert(n, to_u64(head, "head")?);
            }
            let mut owner =
                tx.prepare_cached("SELECT buurt, audience FROM documents WHERE id = ?1")?;
            let mut dup = tx.prepare_cached("SELECT 1 FROM log WHERE buurt = ?1 AND hash = ?2")?;
            let mut owners = HashMap::new();
            let mut logged = HashSet::new();
            let mut looked_up = HashSet::new();
            for (batch, &n) in batches.iter().zip(&buurten) {
                for c in &batch.changes {
                    if looked_up.insert(c.doc) {
                        let found: Option<(i64, i64)> = owner
                            .query_row([c.doc.as_slice()], |r| Ok((r.get(0)?, r.get(1)?)))
                            .optional()?;
                        if let Some(o) = found {
                            owners.insert(c.doc, o);
                        }
                    }
                    if dup
                        .query_row(params![n, c.hash.as_slice()], |_| Ok(()))
                        .optional()?
                        .is_some()
                    {
                        logged.insert((n, c.hash));
                    }
                }
            }
            let plan = plan_append(batches, &buurten, owners, &logged, heads)?;

            // The writes: new documents, log rows with their photo references, readers, heads.
            let mut new_doc = tx.prepare_cached(
                "INSERT INTO documents (id, buurt, audience) VALUES (?1, ?2, ?3)",
            )?;
            for (doc, n, audience) in &plan.new_docs {
                new_doc.execute(params![doc.as_slice(), n, audience])?;
            }
            let mut insert = tx.prepare_cached(
                "INSERT INTO log (buurt, seq, doc, hash, device, bytes, received_at, audience)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?;
            let mut photo_ref = tx.prepare_cached(
                "INSERT INTO blob_refs (buurt, hash, doc, member, seq)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (buurt, hash, doc, member) DO NOTHING",
            )?;
            for row in &plan.rows {
                let (batch, c) = row.of(batches)?;
                let dev = devices.get(row.batch).copied().unwrap_or(-1);
                insert.execute(params![
                    row.buurt,
                    row.seq,
                    c.doc.as_slice(),
                    c.hash.as_slice(),
                    dev,
                    c.bytes,
                    batch.received_at,
                    row.audience
                ])?;
                for p in &c.photos {
                    photo_ref.execute(params![
                        row.buurt,
                        p.hash.as_slice(),
                        c.doc.as_slice(),
                        p.by.as_str(),
                        row.seq
                    ])?;
                }
            }
            let mut grant = tx.prepare_cached(
                "INSERT INTO readers (doc, member, buurt, seq) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (doc, member) DO NOTHING",
            )?;
            for (doc, m, n, seq) in &plan.grants {
                grant.execute(params![doc.as_slice(), m.as_str(), n, seq])?;
            }
            let mut set_head = tx.prepare_cached("UPDATE buurten SET head = ?2 WHERE n = ?1")?;
            for (n, head) in &plan.heads {
                set_head.execute(params![n, to_i64(*head, "head")?])?;
            }
            Ok(plan.outcomes())
        })
    }

    fn head(&self, buurt: &BuurtId) -> StorageResult<u64> {
        self.read(|tx| {
            let head: Option<i64> = tx
                .prepare_cached("SELECT head FROM buurten WHERE id = ?1")?
                .query_row([buurt.as_str()], |r| r.get(0))
                .optional()?;
            match head {
                Some(h) => to_u64(h, "head"),
                None => Err(StorageError::NotFound {
                    what: "buurt",
                    id: buurt.to_string(),
                }),
            }
        })
    }

    fn pull(
        &self,
        buurt: &BuurtId,
        after: u64,
        limit: usize,
        puller: &Puller,
    ) -> StorageResult<LogPage> {
        self.read(|tx| {
            let (n, head): (i64, i64) = tx
                .prepare_cached("SELECT n, head FROM buurten WHERE id = ?1")?
                .query_row([buurt.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?
                .ok_or_else(|| StorageError::NotFound {
                    what: "buurt",
                    id: buurt.to_string(),
                })?;
            let head = to_u64(head, "head")?;
            let me: i64 = tx
                .prepare_cached("SELECT n FROM devices WHERE id = ?1")?
                .query_row([puller.device.as_str()], |r| r.get(0))
                .optional()?
                .unwrap_or(-1);
            let fetch = page_fetch(limit);
            // Rows of restricted documents (audience != 0) only for coordinators and readers.
            let mut stmt = tx.prepare_cached(
                "SELECT seq, doc, bytes FROM log l
                 WHERE buurt = ?1 AND seq > ?2 AND device != ?3
                   AND (audience = 0 OR ?5 OR EXISTS (
                        SELECT 1 FROM readers r WHERE r.doc = l.doc AND r.member = ?6))
                 ORDER BY seq LIMIT ?4",
            )?;
            let args = params![
                n,
                to_i64(after, "cursor")?,
                me,
                fetch,
                puller.coordinator,
                puller.member.as_str()
            ];
            let rows = stmt.query_map(args, |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, Vec<u8>>(1)?,
                    r.get::<_, Vec<u8>>(2)?,
                ))
            })?;
            let mut changes = Vec::new();
            for row in rows {
                let (seq, doc, bytes) = row?;
                changes.push(LoggedChange {
                    seq: to_u64(seq, "seq")?,
                    doc: array(&doc, "document id")?,
                    bytes,
                });
            }
            Ok(assemble_page(changes, after, limit, head))
        })
    }

    fn blob(&self, hash: &[u8; 32]) -> StorageResult<Option<BlobRow>> {
        self.read(|tx| {
            let row = tx
                .prepare_cached(
                    "SELECT b.mime, b.size, d.id, b.created_at FROM blobs b
                     JOIN devices d ON d.n = b.device WHERE b.hash = ?1",
                )?
                .query_row([hash.as_slice()], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, i64>(3)?,
                    ))
                })
                .optional()?;
            row.map(|(mime, size, device, created_at)| {
                Ok(BlobRow {
                    mime,
                    size: to_u64(size, "size")?,
                    uploaded_by: device_id(device)?,
                    created_at,
                })
            })
            .transpose()
        })
    }

    fn held_blob(&self, device: &DeviceId, hash: &[u8; 32]) -> StorageResult<Option<u64>> {
        self.read(|tx| {
            let size: Option<i64> = tx
                .prepare_cached(
                    "SELECT h.size FROM devices d JOIN blob_holders h
                       ON h.buurt = d.buurt AND h.member = d.member AND h.hash = ?2
                     WHERE d.id = ?1",
                )?
                .query_row(params![device.as_str(), hash.as_slice()], |r| r.get(0))
                .optional()?;
            size.map(|s| to_u64(s, "size")).transpose()
        })
    }

    fn start_upload(
        &self,
        device: &DeviceId,
        hash: &[u8; 32],
        row: &UploadRow,
        quota: u64,
    ) -> StorageResult<Result<(), u64>> {
        // One immediate transaction on the one writer: no other start can count in between.
        self.write(|tx| {
            let dev = require_device(tx, device)?;
            let used: i64 = tx
                .prepare_cached(
                    "SELECT coalesce((SELECT sum(size) FROM blob_holders WHERE device = ?1), 0)
                          + coalesce((SELECT sum(length) FROM blob_uploads
                                      WHERE device = ?1 AND hash != ?2), 0)",
                )?
                .query_row(params![dev, hash.as_slice()], |r| r.get(0))?;
            if let Err(used) = quota_allows(to_u64(used, "blob bytes")?, row.length, quota) {
                return Ok(Err(used));
            }
            upsert_upload(tx, dev, hash, row)?;
            Ok(Ok(()))
        })
    }

    fn upload(&self, device: &DeviceId, hash: &[u8; 32]) -> StorageResult<Option<UploadRow>> {
        self.read(|tx| {
            let row = tx
                .prepare_cached(
                    "SELECT u.length, u.received, u.updated_at FROM blob_uploads u
                     JOIN devices d ON d.n = u.device WHERE d.id = ?1 AND u.hash = ?2",
                )?
                .query_row(params![device.as_str(), hash.as_slice()], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, i64>(2)?,
                    ))
                })
                .optional()?;
            row.map(|(length, offset, updated_at)| {
                Ok(UploadRow {
                    length: to_u64(length, "length")?,
                    offset: to_u64(offset, "offset")?,
                    updated_at,
                })
            })
            .transpose()
        })
    }

    fn set_upload(&self, device: &DeviceId, hash: &[u8; 32], row: &UploadRow) -> StorageResult<()> {
        self.write(|tx| {
            let dev = require_device(tx, device)?;
            upsert_upload(tx, dev, hash, row)
        })
    }

    fn drop_upload(&self, device: &DeviceId, hash: &[u8; 32]) -> StorageResult<bool> {
        self.write(|tx| {
            let n = tx
                .prepare_cached(
                    "DELETE FROM blob_uploads
                     WHERE device = (SELECT n FROM devices WHERE id = ?1) AND hash = ?2",
                )?
                .execute(params![device.as_str(), hash.as_slice()])?;
            Ok(n > 0)
        })
    }

    fn complete_blob(
        &self,
        device: &DeviceId,
        hash: &[u8; 32],
        mime: &str,
        size: u64,
        now: i64,
    ) -> StorageResult<()> {
        self.write(|tx| {
            let dev = require_device(tx, device)?;
            tx.prepare_cached(
                "INSERT INTO blobs (hash, mime, size, device, created_at) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (hash) DO NOTHING",
            )?
            .execute(params![hash.as_slice(), mime, to_i64(size, "size")?, dev, now])?;
            tx.prepare_cached(
                "INSERT INTO blob_holders (buurt, member, hash, device, size, created_at)
                 SELECT buurt, member, ?2, n, ?3, ?4 FROM devices WHERE n = ?1
                 ON CONFLICT (buurt, member, hash) DO NOTHING",
            )?
            .execute(params![dev, hash.as_slice(), to_i64(size, "size")?, now])?;
            tx.prepare_cached("DELETE FROM blob_uploads WHERE device = ?1 AND hash = ?2")?
                .execute(params![dev, hash.as_slice()])?;
            Ok(())
        })
    }

    fn blob_bytes(&self, device: &DeviceId) -> StorageResult<u64> {
        self.read(|tx| {
            let total: i64 = tx
                .prepare_cached(
                    "SELECT coalesce((SELECT sum(size) FROM blob_holders WHERE device = d.n), 0)
                          + coalesce((SELECT sum(length) FROM blob_uploads WHERE device = d.n), 0)
                     FROM devices d WHERE d.id = ?1",
                )?
                .query_row([device.as_str()], |r| r.get(0))
                .optional()?
                .unwrap_or(0);
            to_u64(total, "blob bytes")
        })
    }

    fn expire_uploads(&self, before: i64) -> StorageResult<Vec<(DeviceId, [u8; 32])>> {
        self.write(|tx| {
            let rows = tx
                .prepare_cached(
                    "SELECT d.id, u.hash FROM blob_uploads u JOIN devices d ON d.n = u.device
                     WHERE u.updated_at < ?1",
                )?
                .query_map([before], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            tx.prepare_cached("DELETE FROM blob_uploads WHERE updated_at < ?1")?
                .execute([before])?;
            rows.into_iter()
                .map(|(d, h)| Ok((device_id(d)?, array(&h, "photo hash")?)))
                .collect()
        })
    }

    fn blob_readable(
        &self,
        buurt: &BuurtId,
        hash: &[u8; 32],
        puller: &Puller,
    ) -> StorageResult<bool> {
        self.read(|tx| {
            // As the pull decides: buurt documents for all, restricted ones for coordinators
            // and readers; and only a reference whose attacher uploaded the photo here.
            Ok(tx
                .prepare_cached(
                    "SELECT 1 FROM blob_refs r JOIN documents d ON d.id = r.doc
                     JOIN blob_holders h
                       ON h.buurt = r.buurt AND h.member = r.member AND h.hash = r.hash
                     WHERE r.buurt = (SELECT n FROM buurten WHERE id = ?1) AND r.hash = ?2
                       AND (d.audience = 0 OR ?3 OR EXISTS (
                            SELECT 1 FROM readers x WHERE x.doc = r.doc AND x.member = ?4))
                     LIMIT 1",
                )?
                .query_row(
                    params![
                        buurt.as_str(),
                        hash.as_slice(),
                        puller.coordinator,
                        puller.member.as_str()
                    ],
                    |_| Ok(()),
                )
                .optional()?
                .is_some())
        })
    }
}

/// Records (creates or replaces) device `dev`'s upload of `hash`.
fn upsert_upload(
    tx: &Transaction<'_>,
    dev: i64,
    hash: &[u8; 32],
    row: &UploadRow,
) -> StorageResult<()> {
    tx.prepare_cached(
        "INSERT INTO blob_uploads (device, hash, length, received, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (device, hash) DO UPDATE SET length = excluded.length,
            received = excluded.received, updated_at = excluded.updated_at",
    )?
    .execute(params![
        dev,
        hash.as_slice(),
        to_i64(row.length, "length")?,
        to_i64(row.offset, "offset")?,
        row.updated_at
    ])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    super::super::conformance::suite!(super::SqliteStorage::open_dir);

    /// A database another process keeps locked past the busy timeout is `Unavailable` (the
    /// relay answers `503` and the device retries), not a backend failure (`500`); other
    /// errors stay backend failures.
    #[test]
    #[allow(clippy::unwrap_used)]
    fn a_busy_database_is_unavailable_for_now() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("busy.sqlite3");
        let holder = rusqlite::Connection::open(&path).unwrap();
        holder
            .execute_batch("CREATE TABLE t (n INTEGER); BEGIN EXCLUSIVE")
            .unwrap();
        let other = rusqlite::Connection::open(&path).unwrap();
        other.busy_timeout(std::time::Duration::ZERO).unwrap();
        let busy = other.execute("INSERT INTO t VALUES (1)", []).unwrap_err();
        assert!(matches!(
            super::StorageError::from(busy),
            super::StorageError::Unavailable(_)
        ));
        holder.execute_batch("COMMIT").unwrap();
        other.execute("INSERT INTO t VALUES (1)", []).unwrap();
        let broken = other
            .execute("INSERT INTO no_such_table VALUES (1)", [])
            .unwrap_err();
        assert!(matches!(
            super::StorageError::from(broken),
            super::StorageError::Backend(_)
        ));
    }

    /// The queries on every pushed change and every pull use the index that makes them
    /// O(result), never a walk of a buurt's whole log (`doc_changes` once did: a relay with a
    /// large log validated a few hundred changes a second).
    #[test]
    #[allow(clippy::unwrap_used)]
    fn hot_queries_use_their_indexes() -> super::StorageResult<()> {
        let dir = tempfile::tempdir().unwrap();
        let s = super::SqliteStorage::open_dir(dir.path())?;
        let conn = super::lock(&s.writer);
        let plan = |sql: &str| -> super::StorageResult<String> {
            let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(3))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?.join("; "))
        };
        let cases = [
            (
                "SELECT hash, bytes FROM log INDEXED BY log_doc WHERE doc = x'00' AND buurt = 1 ORDER BY seq",
                "USING INDEX log_doc (doc=?)",
            ),
            (
                "SELECT 1 FROM log WHERE buurt = 1 AND hash = x'00'",
                "USING COVERING INDEX log_hash (buurt=? AND hash=?)",
            ),
            (
                "SELECT seq, doc, bytes FROM log l WHERE buurt = 1 AND seq > 5 AND device != 2
                 AND (audience = 0 OR 0 OR EXISTS (
                      SELECT 1 FROM readers r WHERE r.doc = l.doc AND r.member = 'm'))
                 ORDER BY seq LIMIT 10",
                "(buurt=? AND seq>?)",
            ),
            (
                "SELECT buurt FROM documents WHERE id = x'00'",
                "USING PRIMARY KEY (id=?)",
            ),
            (
                "SELECT 1 FROM blob_refs r JOIN documents d ON d.id = r.doc
                 JOIN blob_holders h
                   ON h.buurt = r.buurt AND h.member = r.member AND h.hash = r.hash
                 WHERE r.buurt = 1 AND r.hash = x'00' AND (d.audience = 0 OR 0 OR EXISTS (
                      SELECT 1 FROM readers x WHERE x.doc = r.doc AND x.member = 'm'))
                 LIMIT 1",
                "USING PRIMARY KEY (buurt=? AND hash=?)",
            ),
        ];
        for (sql, want) in cases {
            let got = plan(sql)?;
            assert!(got.contains(want), "{sql}\n  plan: {got}\n  wanted: {want}");
        }
        Ok(())
    }
}
