//! Validating pushed changes and handing them to the group commit.
//!
//! For each pushed change, in order (the first failing step rejects it with a code):
//!
//! 1. `too_large`: bounded before parsing — size and what compressed columns may inflate to
//!    (`validate::check_bounds`);
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
//!    stored with it too (`blob_refs`), which decides who may fetch them.
//!
//! The relay's copies live in [`DocCache`]s, LRUs of loaded documents (`doc_cache` in all,
//! 1 024 by default, shared out among 8 shards): memory is bounded whatever the number of
//! documents stored. A buurt's documents always live in one shard (chosen by the buurt id), so
//! buurten validate in parallel. Validation holds its shard's lock for one request and queues
//! the accepted changes to the writer before releasing it, so the log's order never puts a
//! change before one it was validated against (a change only ever depends on documents of its
//! own buurt). If a commit fails,
//! every document it touched is dropped from the cache (it holds changes the disk does not).

use std::collections::BTreeSet;
use std::num::NonZeroUsize;

use automerge::{AutoCommit, Change, ChangeHash};
use lru::LruCache;

use noaber_core::model::report;
use noaber_core::sync::wire::{MAX_CHANGE_BYTES, MAX_INFLATED_BYTES, PushChange, Rejected};
use noaber_core::validate;
use noaber_core::{Audience, EntityId, MemberId, audience};

use crate::blob::BlobHash;
use crate::error::{Error, Result};
use crate::http::error::ApiError;
use crate::ids::{BuurtId, hex};
use crate::relay::Relay;
use crate::storage::{AppendBatch, Appended, DeviceAuth, NewChange, Storage};

/// Runs `f`, turning a panic inside the document library into an error.
pub(crate) fn guard<T>(f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
        .unwrap_or_else(|_| Err("the document library failed".into()))
}

/// Builds a document from its stored changes.
pub(crate) fn build_doc(changes: Vec<Vec<u8>>) -> Result<AutoCommit, String> {
    guard(|| {
        let changes = changes
            .into_iter()
            .map(|b| Change::from_bytes(b).map_err(|e| format!("stored change: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        let mut doc = AutoCommit::new();
        doc.apply_changes(changes)
            .map_err(|e| format!("applying stored changes: {e}"))?;
        Ok(doc)
    })
}

/// The validation cache: loaded documents, least recently used dropped first.
pub(crate) struct DocCache {
    lru: LruCache<[u8; 16], AutoCommit>,
}

impl DocCache {
    pub(crate) fn new(capacity: usize) -> Self {
        DocCache {
            lru: LruCache::new(NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN)),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.lru.len()
    }

    pub(crate) fn clear(&mut self) {
        self.lru.clear();
    }

    pub(crate) fn evict(&mut self, doc: &[u8; 16]) {
        self.lru.pop(doc);
    }

    /// The relay's copy of a document of `buurt`, loaded if needed; `None` while no change of
    /// it is stored or accepted.
    ///
    /// # Errors
    ///
    /// Storage errors; `Error::Other` if stored changes do not load (a damaged database).
    pub(crate) fn get(
        &mut self,
        storage: &dyn Storage,
        buurt: &BuurtId,
        doc: &[u8; 16],
    ) -> Result<Option<&mut AutoCommit>> {
        if !self.lru.contains(doc) {
            let rows = storage.doc_changes(buurt, doc)?;
            if rows.is_empty() {
                return Ok(None);
            }
            let loaded = build_doc(rows.into_iter().map(|(_, b)| b).collect())
                .map_err(|e| Error::Other(format!("document `{}` does not load: {e}", hex(doc))))?;
            self.lru.put(*doc, loaded);
        }
        Ok(self.lru.get_mut(doc))
    }

    fn insert(&mut self, doc: [u8; 16], loaded: AutoCommit) {
        self.lru.put(doc, loaded);
    }
}

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
}

/// How far ahead of the relay's clock an entry's `at` may be.
pub const MAX_CLOCK_AHEAD_MS: i64 = 24 * 60 * 60 * 1000;

/// Steps 1–6 for one request; holds the cache lock throughout.
fn stage(
    storage: &dyn Storage,
    cache: &mut DocCache,
    device: &DeviceAuth,
    push: Vec<PushChange>,
    now: i64,
) -> Result<Staged> {
    let pusher = validate::Pusher {
        member: device.member.clone(),
        role: device.role,
        actors: device.actors.clone(),
        // A phone's clock may be wrong by hours (time zones, no network time in a basement);
        // a day of allowance refuses only what can only be an attack or a broken clock.
        not_after: Some(now.saturating_add(MAX_CLOCK_AHEAD_MS)),
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
    };
    for (i, pc) in push.into_iter().enumerate() {
        if let Err(r) = validate::check_bounds(&pc.change, MAX_CHANGE_BYTES, MAX_INFLATED_BYTES) {
            out.rejected.push(rejected(i, r.code, r.reason));
            continue;
        }
        let Ok(doc) = <[u8; 16]>::try_from(pc.doc.as_slice()) else {
            let reason = format!("`doc` is {} bytes, 16 expected", pc.doc.len());
            out.rejected.push(rejected(i, "bad_change", reason));
            continue;
        };
        let entity = EntityId::parse(&hex(&doc))
            .map_err(|e| Error::Other(format!("document id: {e}; this is a bug")))?;
        let mut change = match guard(|| Change::from_bytes(pc.change).map_err(|e| e.to_string())) {
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
        let mut current = match cache.get(storage, &device.buurt, &doc) {
            Ok(current) => current,
            Err(e @ Error::Other(_)) => {
                tracing::error!(error = %e, "a stored document does not load");
                let reason = "the relay cannot load this document now";
                out.rejected.push(rejected(i, "unavailable", reason));
                continue;
            }
            Err(e) => return Err(e),
        };
        let in_flight = current
            .as_deref_mut()
            .is_some_and(|d| d.get_change_meta_by_hash(&hash).is_some());
        if in_flight {
            out.duplicates += 1;
            continue;
        }
        // Validation applies the change to the cached document itself (no copy per change);
        // a refused change may have touched it, so the document is then dropped and reloaded
        // from the stored log on next use.
        let bytes = change.bytes().into_owned();
        let verdict = match current {
            Some(d) => {
                // Readers before the change, for a restricted document (the audience never
                // changes, so a buurt document needs no more than this one key read).
                let before = audience::audience(d)
                    .is_restricted()
                    .then(|| audience::readers(d).members);
                validate::check_and_apply(d, &entity, &change, &pusher)
                    .map(|()| access(d, before.unwrap_or_default()))
            }
            None => {
                let mut d = AutoCommit::new();
                let r = validate::check_and_apply(&mut d, &entity, &change, &pusher)
                    .map(|()| access(&d, BTreeSet::new()));
                if r.is_ok() {
                    cache.insert(doc, d);
                }
                r
            }
        };
        let Access {
            audience,
            grants,
            photos,
        } = match verdict {
            Ok(access) => access,
            Err(r) => {
                cache.evict(&doc);
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
    photos: Vec<[u8; 32]>,
}

/// The [`Access`] of a document after an accepted change.
fn access(d: &AutoCommit, before: BTreeSet<MemberId>) -> Access {
    let audience = audience::audience(d);
    let photos = report::photo_hashes(d)
        .iter()
        .filter_map(|h| BlobHash::parse(h).map(|b| b.0))
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
/// [`ApiError::Internal`] when storage fails (nothing of the request is then acknowledged).
pub(crate) async fn push(
    relay: &Relay,
    device: &DeviceAuth,
    push: Vec<PushChange>,
) -> Result<Vec<Rejected>, ApiError> {
    let buurt = device.buurt.clone();
    let device = device.clone();
    let now = jiff::Timestamp::now().as_millisecond();
    let (staged, receiver) = relay
        .blocking(move |r| {
            let mut cache = r.docs(&device.buurt);
            let mut staged = stage(r.inner.storage.as_ref(), &mut cache, &device, push, now)?;
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
    let Staged {
        mut rejected,
        index,
        duplicates,
        ..
    } = staged;
    let mut accepted = duplicates;
    if let Some((rx, docs)) = receiver {
        let outcome = match rx.await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(e)) => {
                evict(relay, &buurt, &docs);
                return Err(Error::from(e).into());
            }
            Err(_) => {
                evict(relay, &buurt, &docs);
                return Err(Error::Other("the commit thread is gone".into()).into());
            }
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
            evict(relay, &buurt, &raced);
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

fn evict(relay: &Relay, buurt: &BuurtId, docs: &[[u8; 16]]) {
    let mut cache = relay.docs(buurt);
    for d in docs {
        cache.evict(d);
    }
}
