//! Validating pushed changes and handing them to the group commit.
//!
//! For each pushed change, in order (the first failing step rejects it with a code):
//!
//! 1. `too_large`: bounded before parsing — size, what compressed columns may inflate to and
//!    the work the change declares (`validate::check_bounds`), and with the document's
//!    operation count (`Work::fits_document`); a push declaring more than `MAX_PUSH_OPS` in
//!    all is `413` before anything is validated;
//! 2. `bad_change`: the document id is 16 bytes and the change decodes;
//! 3. a change already in this buurt's log, or accepted earlier in flight, is accepted again
//!    and not stored twice;
//! 4. `wrong_buurt`: a document belongs to the buurt its first change was pushed to; pushing to
//!    another buurt's document is refused with the same code whether it exists or not;
//! 5. the change must be one this device may make to this document in its current state
//!    (`validate::check_change`): its actor is the device's (`actor_not_yours`), every
//!    dependency is already in the relay's copy (`missing_dependencies` — a device pushes in
//!    order, so only a change built on a rejected one fails here, and it must, or the log would
//!    hold a change no device can apply), and the pusher's role may write what it writes
//!    (`not_allowed`, `forged_entry`, `immutable`, ...);
//! 6. it is applied to the relay's copy, so later changes of the same request (and of other
//!    requests) are checked against it; for a restricted document (`noaber_core::audience`)
//!    the members it made readers are stored with it, and pulls send the document's changes
//!    only to its readers and coordinators; for a report, the photos it references are
//!    stored with it too (`blob_refs`, each with the member who attached it), which decides
//!    who may fetch them: only through a reference whose attacher uploaded the photo in this
//!    buurt. Such a reference is not refused at push — honest devices push a report before
//!    its photo's upload finishes — it just gives no one the photo.
//!
//! The relay's copies live in [`DocCache`]s, LRUs of loaded documents (`doc_cache` in all,
//! 1 024 by default, and [`DOC_CACHE_OPS`] operations, shared out among 8 shards): memory is
//! bounded whatever the number or size of documents stored. A request's validation runs in its
//! buurt's turn with a heavy-task permit (`Relay::heavy`): a buurt validates one request at a
//! time and queues the accepted changes to the writer before its turn ends, so the log's order
//! never puts a change before one it was validated against (a change only ever depends on
//! documents of its own buurt). A document is taken out of its shard for its validation and put
//! back, so a shard's lock is held for microseconds, never across a validation: another buurt
//! sharing the shard does not wait. If a commit fails,
//! every document it touched is dropped from the cache (it holds changes the disk does not).
//! Several relays may share one PostgreSQL database, so a cached copy can lack what another
//! relay committed: a change depending on something the copy lacks but the buurt's log holds
//! has its document rebuilt from the log before it is validated (`stale`), and `/v1/missing`
//! rebuilds a copy that lacks any of the document's committed changes. A change is thus never
//! refused for the cache's sake.

use std::collections::BTreeSet;
use std::num::NonZeroUsize;

use automerge::{AutoCommit, Change, ChangeHash, ReadDoc};
use lru::LruCache;

use noaber_core::model::report;
use noaber_core::sync::wire::{
    MAX_CHANGE_BYTES, MAX_INFLATED_BYTES, MAX_PUSH_OPS, PushChange, Rejected,
};
use noaber_core::validate;
use noaber_core::{Audience, EntityId, MemberId, audience};

use crate::blob::BlobHash;
use crate::error::{Error, Result};
use crate::ids::{BuurtId, hex};
use crate::relay::Relay;
use crate::storage::{AppendBatch, Appended, DeviceAuth, NewChange, PhotoRef};

/// Runs `f`, turning a panic inside the document library into [`Error::Document`].
pub(crate) fn guard<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
        .unwrap_or_else(|_| Err(Error::Document("the document library failed".into())))
}

/// Builds a document from its stored changes.
///
/// # Errors
///
/// [`Error::Document`] when a stored change does not decode or apply.
pub(crate) fn build_doc(changes: Vec<Vec<u8>>) -> Result<AutoCommit> {
    guard(|| {
        let changes = changes
            .into_iter()
            .map(|b| {
                Change::from_bytes(b).map_err(|e| Error::Document(format!("stored change: {e}")))
            })
            .collect::<Result<Vec<_>>>()?;
        let mut doc = AutoCommit::new();
        doc.apply_changes(changes)
            .map_err(|e| Error::Document(format!("applying stored changes: {e}")))?;
        Ok(doc)
    })
}

/// Operations the validation cache holds in all (shared out among its shards like
/// `doc_cache`): a loaded document costs ~55 bytes per operation, and one may hold up to
/// `MAX_DOC_OPS` (1 000 000), so counting documents alone does not bound memory. A shard over
/// its share drops its least recently used documents, keeping at least the one just used.
pub const DOC_CACHE_OPS: u64 = 2_000_000;

/// The validation cache: loaded documents, least recently used dropped first, bounded by
/// count and by the operations they hold.
pub(crate) struct DocCache {
    lru: LruCache<[u8; 16], (AutoCommit, u64)>,
    ops: u64,
    max_ops: u64,
}

impl DocCache {
    pub(crate) fn new(capacity: usize, max_ops: u64) -> Self {
        DocCache {
            lru: LruCache::new(NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN)),
            ops: 0,
            max_ops,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.lru.len()
    }

    pub(crate) fn clear(&mut self) {
        self.lru.clear();
        self.ops = 0;
    }

    pub(crate) fn evict(&mut self, doc: &[u8; 16]) {
        self.take(doc);
    }

    /// Takes a document out of the cache (the caller validates on it without holding the
    /// shard's lock, in its buurt's turn, and puts it back).
    pub(crate) fn take(&mut self, doc: &[u8; 16]) -> Option<AutoCommit> {
        let (d, ops) = self.lru.pop(doc)?;
        self.ops = self.ops.saturating_sub(ops);
        Some(d)
    }

    /// Puts a document (back) in, dropping the least recently used ones while the cache holds
    /// more operations than its share.
    pub(crate) fn put(&mut self, doc: [u8; 16], loaded: AutoCommit) {
        let ops = loaded.stats().num_ops;
        if let Some((_, old)) = self.lru.put(doc, (loaded, ops)) {
            self.ops = self.ops.saturating_sub(old);
        }
        self.ops = self.ops.saturating_add(ops);
        while self.ops > self.max_ops && self.lru.len() > 1 {
            match self.lru.pop_lru() {
                Some((_, (_, dropped))) => self.ops = self.ops.saturating_sub(dropped),
                None => break,
            }
        }
    }
}

/// The relay's copy of a document of `buurt`, taken out of the validation cache or loaded from
/// `rows` (its stored changes, read by the caller when `None`); `None` while no change of it
/// is stored or accepted. Call only in the buurt's turn ([`Relay::heavy`]) and put the copy
/// back with [`DocCache::put`] unless it is to be dropped.
///
/// # Errors
///
/// Storage errors; [`Error::Document`] if stored changes do not load (a damaged database).
pub(crate) fn checkout(
    relay: &Relay,
    buurt: &BuurtId,
    doc: &[u8; 16],
    rows: Option<Vec<(Hash32, Vec<u8>)>>,
) -> Result<Option<AutoCommit>> {
    let cached = relay.docs(buurt).take(doc);
    if cached.is_some() {
        return Ok(cached);
    }
    let rows = match rows {
        Some(rows) => rows,
        None => relay.inner.storage.doc_changes(buurt, doc)?,
    };
    if rows.is_empty() {
        return Ok(None);
    }
    build_doc(rows.into_iter().map(|(_, b)| b).collect())
        .map(Some)
        .map_err(|e| Error::Document(format!("document `{}` does not load: {e}", hex(doc))))
}

/// Whether `change` depends on a change the buurt's log holds but the cached copy `current`
/// does not: another relay sharing the database committed it after this copy was loaded. One
/// lookup per dependency the copy lacks, so the common case (every dependency known) costs
/// nothing.
fn stale(
    storage: &dyn crate::storage::Storage,
    buurt: &BuurtId,
    current: Option<&mut AutoCommit>,
    change: &Change,
) -> Result<bool> {
    let Some(d) = current else {
        return Ok(false);
    };
    for dep in change.deps() {
        if d.get_change_meta_by_hash(dep).is_none() && storage.has_change(buurt, &dep.0)? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// A change hash as storage returns it.
type Hash32 = [u8; 32];

fn rejected(i: usize, code: &str, reason: impl Into<String>) -> Rejected {
    Rejected {
        i: u32::try_from(i).unwrap_or(u32::MAX),
        code: code.to_owned(),
        reason: reason.into(),
    }
}

/// What validation made of a request's push.
struct Staged {
    rejected: Vec<Rejected>,
    /// Index in the request of each change in `batch`.
    index: Vec<usize>,
    batch: AppendBatch,
    duplicates: usize,
    /// The operations the push declares, when over `MAX_PUSH_OPS` (nothing was validated).
    over_budget: Option<u64>,
}

/// How far ahead of the relay's clock an entry's `at` (or a new document's `created_at`) may be.
pub const MAX_CLOCK_AHEAD_MS: i64 = 24 * 60 * 60 * 1000;

/// How far behind the relay's clock a new document's `created_at` may be: 90 days, longer than
/// a device may plausibly have been offline with the document in its outbox.
pub const MAX_CREATED_BEHIND_MS: i64 = 90 * 24 * 60 * 60 * 1000;

/// Steps 1–6 for one request, in its buurt's turn ([`Relay::heavy`]). Documents are taken out
/// of the cache for their validation and put back when accepted; a shard's lock is held only
/// to take or put one, never across a validation.
/// [`stage_into`], and if it fails halfway, the cached copies it already moved are dropped:
/// they hold changes that will not be committed, and a copy holding a change the log lacks
/// would answer that change's next push as a duplicate — acknowledged, never stored.
fn stage(relay: &Relay, device: &DeviceAuth, push: Vec<PushChange>, now: i64) -> Result<Staged> {
    let mut moved = Vec::new();
    let staged = stage_into(relay, device, push, now, &mut moved);
    if staged.is_err() {
        let mut cache = relay.docs(&device.buurt);
        for d in &moved {
            cache.evict(d);
        }
    }
    staged
}

/// Validates `push` against the relay's copies, applying what is accepted to them (each copy
/// it moves is listed in `moved`), and stages the accepted changes for one commit.
fn stage_into(
    relay: &Relay,
    device: &DeviceAuth,
    push: Vec<PushChange>,
    now: i64,
    moved: &mut Vec<[u8; 16]>,
) -> Result<Staged> {
    let storage = relay.inner.storage.as_ref();
    let pusher = validate::Pusher {
        member: device.member.clone(),
        role: device.role,
        actors: device.actors.clone(),
        // A phone's clock may be wrong by hours (time zones, no network time in a basement);
        // a day of allowance refuses only what can only be an attack or a broken clock.
        not_after: Some(now.saturating_add(MAX_CLOCK_AHEAD_MS)),
        // A caretaker's phone may create a report in a basement and be offline for weeks; a
        // document dated earlier than that can only be an attack on the lists' order.
        created_not_before: Some(now.saturating_sub(MAX_CREATED_BEHIND_MS)),
    };
    let mut out = Staged {
        rejected: Vec::new(),
        index: Vec::new(),
        batch: AppendBatch {
            buurt: device.buurt.clone(),
            device: device.device.clone(),
            changes: Vec::new(),
            received_at: now,
        },
        duplicates: 0,
        over_budget: None,
    };
    // Step 1 for every change first: the push's declared work, read from the changes'
    // metadata, bounds what this request may make the relay expand.
    let works: Vec<_> = push
        .iter()
        .map(|pc| validate::check_bounds(&pc.change, MAX_CHANGE_BYTES, MAX_INFLATED_BYTES))
        .collect();
    let declared = works
        .iter()
        .filter_map(|w| w.as_ref().ok())
        .fold(0u64, |sum, w| sum.saturating_add(w.ops));
    if declared > MAX_PUSH_OPS {
        out.over_budget = Some(declared);
        return Ok(out);
    }
    for (i, (pc, work)) in push.into_iter().zip(works).enumerate() {
        let work = match work {
            Ok(work) => work,
            Err(r) => {
                out.rejected.push(rejected(i, r.code, r.reason));
                continue;
            }
        };
        let Ok(doc) = <[u8; 16]>::try_from(pc.doc.as_slice()) else {
            let reason = format!("`doc` is {} bytes, 16 expected", pc.doc.len());
            out.rejected.push(rejected(i, "bad_change", reason));
            continue;
        };
        let entity = EntityId::parse(&hex(&doc))
            .map_err(|e| Error::Other(format!("document id: {e}; this is a bug")))?;
        let decoded =
            guard(|| Change::from_bytes(pc.change).map_err(|e| Error::Document(e.to_string())));
        let mut change = match decoded {
            Ok(c) => c,
            Err(e) => {
                out.rejected
                    .push(rejected(i, "bad_change", format!("does not decode: {e}")));
                continue;
            }
        };
        let hash: ChangeHash = change.hash();
        if storage.has_change(&device.buurt, &hash.0)? {
            out.duplicates += 1;
            continue;
        }
        if storage
            .doc_buurt(&doc)?
            .is_some_and(|owner| owner != device.buurt)
        {
            let reason = format!("document `{entity}` cannot be written from this buurt");
            out.rejected.push(rejected(i, "wrong_buurt", reason));
            continue;
        }
        let load = || match checkout(relay, &device.buurt, &doc, None) {
            Ok(current) => Ok(Ok(current)),
            Err(e @ Error::Document(_)) => {
                tracing::error!(error = %e, "a stored document does not load");
                let reason = "the relay cannot load this document now";
                Ok(Err(rejected(i, "unavailable", reason)))
            }
            Err(e) => Err(e),
        };
        let mut current = match load()? {
            Ok(current) => current,
            Err(r) => {
                out.rejected.push(r);
                continue;
            }
        };
        // Another relay on the same database may have committed changes the cached copy
        // lacks. A dependency missing from the copy but present in the buurt's log means the
        // copy is stale: it is rebuilt from the committed log (taken out of the cache above,
        // so `checkout` loads it), and the change is validated against that.
        if stale(storage, &device.buurt, current.as_mut(), &change)? {
            drop(current.take());
            current = match load()? {
                Ok(current) => current,
                Err(r) => {
                    out.rejected.push(r);
                    continue;
                }
            };
        }
        let put_back = |d: Option<AutoCommit>| {
            if let Some(d) = d {
                relay.docs(&device.buurt).put(doc, d);
            }
        };
        if current
            .as_mut()
            .is_some_and(|d| d.get_change_meta_by_hash(&hash).is_some())
        {
            put_back(current);
            out.duplicates += 1;
            continue;
        }
        // The document's bound, from the cached copy's operation count and the change's
        // declared operations, before the change is applied.
        let ops_now = current.as_ref().map_or(0, |d| d.stats().num_ops);
        if let Err(r) = work.fits_document(ops_now) {
            put_back(current);
            out.rejected.push(rejected(i, r.code, r.reason));
            continue;
        }
        // Validation applies the change to the relay's copy itself (no copy per change); a
        // refused change may have touched it, so the copy is then dropped and reloaded from
        // the stored log on next use.
        let bytes = change.bytes().into_owned();
        // Readers before the change, for a restricted document (the audience never changes,
        // so a buurt document needs no more than this one key read).
        let before = current
            .as_ref()
            .filter(|d| audience::audience(*d).is_restricted())
            .map(|d| audience::readers(d).members)
            .unwrap_or_default();
        let mut d = current.unwrap_or_default();
        let verdict = validate::check_and_apply(&mut d, &entity, &change, &pusher)
            .map(|()| access(&d, before));
        let Access {
            audience,
            grants,
            photos,
        } = match verdict {
            Ok(access) => {
                put_back(Some(d));
                moved.push(doc);
                access
            }
            Err(r) => {
                out.rejected.push(rejected(i, r.code, r.reason));
                continue;
            }
        };
        out.index.push(i);
        out.batch.changes.push(NewChange {
            doc,
            hash: hash.0,
            bytes,
            audience,
            grants,
            photos,
        });
    }
    Ok(out)
}

/// What an accepted change decides about access: the document's audience, who reads it now
/// that did not `before` (readers only grow; see `noaber_core::audience`), and the photos it
/// references (a report's; who may fetch a photo follows from who reads such a document).
struct Access {
    audience: Audience,
    grants: Vec<MemberId>,
    photos: Vec<PhotoRef>,
}

/// The [`Access`] of a document after an accepted change.
fn access(d: &AutoCommit, before: BTreeSet<MemberId>) -> Access {
    let audience = audience::audience(d);
    let photos = report::photo_refs(d)
        .into_iter()
        .filter_map(|(h, by)| BlobHash::parse(&h).map(|b| PhotoRef { hash: b.0, by }))
        .collect();
    let grants = if audience.is_restricted() {
        let now = audience::readers(d).members;
        now.difference(&before).cloned().collect()
    } else {
        Vec::new()
    };
    Access {
        audience,
        grants,
        photos,
    }
}

/// Validates a request's pushed changes, commits the accepted ones durably and returns the
/// rejections. Returns only after the commit.
///
/// # Errors
///
/// [`Error::TooLarge`] when the pushed changes declare more than `MAX_PUSH_OPS` operations
/// (nothing validated); storage errors (nothing of the request is then acknowledged).
pub(crate) async fn push(
    relay: &Relay,
    device: &DeviceAuth,
    push: Vec<PushChange>,
) -> Result<Vec<Rejected>> {
    let buurt = device.buurt.clone();
    let device = device.clone();
    let now = relay.now_ms();
    let (staged, receiver) = relay
        .heavy(&buurt, move |r| {
            let mut staged = stage(r, &device, push, now)?;
            let receiver = if staged.batch.changes.is_empty() {
                None
            } else {
                let batch = std::mem::replace(
                    &mut staged.batch,
                    AppendBatch {
                        buurt: device.buurt.clone(),
                        device: device.device.clone(),
                        changes: Vec::new(),
                        received_at: now,
                    },
                );
                let docs: Vec<[u8; 16]> = batch.changes.iter().map(|c| c.doc).collect();
                match r.inner.committer.submit(batch) {
                    Ok(rx) => Some((rx, docs)),
                    Err(e) => {
                        let mut cache = r.docs(&device.buurt);
                        for d in &docs {
                            cache.evict(d);
                        }
                        return Err(e.into());
                    }
                }
            };
            Ok((staged, receiver))
        })
        .await?;
    if let Some(declared) = staged.over_budget {
        return Err(Error::TooLarge(format!(
            "the pushed changes declare {declared} operations, at most {MAX_PUSH_OPS} per request"
        )));
    }
    let Staged {
        mut rejected,
        index,
        duplicates,
        ..
    } = staged;
    let mut accepted = duplicates;
    if let Some((rx, docs)) = receiver {
        // Waited for in a task of its own: when the request is dropped meanwhile (its client
        // went away), a failed commit must still drop the copies holding its changes.
        let (r, b) = (relay.clone(), buurt.clone());
        let (committed, docs) = tokio::spawn(async move {
            let committed = rx.await;
            if !matches!(committed, Ok(Ok(_))) {
                evict(&r, &b, &docs).await;
            }
            (committed, docs)
        })
        .await
        .map_err(|_| Error::Other("the commit wait ended early".into()))?;
        let outcome = match committed {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(e)) => return Err(Error::from(e)),
            Err(_) => return Err(Error::Other("the commit thread is gone".into())),
        };
        let mut raced = Vec::new();
        for ((appended, i), doc) in outcome.appended.iter().zip(&index).zip(&docs) {
            match appended {
                Appended::Stored(_) => accepted += 1,
                Appended::Duplicate => {
                    accepted += 1;
                    metrics::counter!(crate::metrics::DUPLICATES).increment(1);
                }
                Appended::WrongBuurt => {
                    raced.push(*doc);
                    let reason = "document cannot be written from this buurt";
                    rejected.push(self::rejected(*i, "wrong_buurt", reason));
                }
            }
        }
        if !raced.is_empty() {
            evict(relay, &buurt, &raced).await;
        }
    }
    metrics::counter!(crate::metrics::ACCEPTED).increment(accepted as u64);
    metrics::counter!(crate::metrics::DUPLICATES).increment(duplicates as u64);
    for r in &rejected {
        metrics::counter!(crate::metrics::REJECTED, "code" => r.code.clone()).increment(1);
    }
    rejected.sort_by_key(|r| r.i);
    Ok(rejected)
}

/// Drops documents from the cache (their copies hold changes the disk does not), in the
/// buurt's turn: no validation has them taken out meanwhile.
async fn evict(relay: &Relay, buurt: &BuurtId, docs: &[[u8; 16]]) {
    let _turn = relay.turn_of(buurt).await;
    let mut cache = relay.docs(buurt);
    for d in docs {
        cache.evict(d);
    }
}
