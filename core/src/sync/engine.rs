//! The sans-I/O sync engine: what to push, how to apply what came back, when to retry.
//!
//! One round is `prepare` → (the transport sends [`Round::request`] and receives a
//! [`SyncResponse`]) → `finish`. No I/O happens here, so the whole protocol logic is tested
//! without a network, and any transport (HTTP here, something else on a phone) drives it.
//!
//! Guarantees:
//! - A local change stays in the outbox until a response acknowledges it; the relay answers
//!   only after committing, so an ack means durable. A lost response means the same changes are
//!   pushed again, which the relay treats as duplicates.
//! - Pulled changes are applied to documents and projections in one transaction per round;
//!   the cursor moves only after that commit. A crash in between re-pulls the same page, and
//!   re-applied changes are duplicates (ignored).
//! - A response that contradicts its request (a version, an index out of range, a cursor that
//!   goes backwards or beyond what was pulled) is refused as a whole: nothing is acked.
//!
//! A refused change is one of two things ([`retryable`]):
//! - **Refused for good** (`bad_change`, `not_allowed`, `bad_time`, …): it is never pushed
//!   again, and since every later local change of its document depends on it, the document
//!   falls back to the relay's version (reset, then fetched by the repair path); those later
//!   changes are refused as `superseded`. The UI shows each refusal ([`SyncStatus::rejected`]).
//! - **Refused for now** (`unavailable`: the relay could not load the document;
//!   `missing_dependencies`: the relay lacks a change this one depends on, as when another
//!   relay on the same database has it and this one has not caught up): the change stays in the
//!   outbox, still pending, and is held back — with every later change of its document — for
//!   [`retry_wait_ms`] (2 s, 4 s, 8 s, … up to 5 min) before it is pushed again. An
//!   `unavailable` change is retried for as long as it takes. A change refused
//!   `missing_dependencies` [`MAX_DEPENDENCY_RETRIES`] times is refused for good: whatever it
//!   depends on is not coming, and the document is repaired as above rather than staying forked
//!   with every later change refused too.

use std::time::Duration;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::store::membership::{Buurt, Enrolment};
use crate::store::{ApplyReport, Store};
use crate::sync::wire::{self, PROTOCOL_VERSION, PushChange, SyncRequest, SyncResponse};

/// Most changes pushed per round.
pub const PUSH_PER_ROUND: usize = 500;

pub use crate::retry::{MAX_DEPENDENCY_RETRIES, backoff, gives_up, retry_wait_ms, retryable};

/// One prepared round: the request to send, and what it pushed.
#[derive(Debug, Clone)]
pub struct Round {
    /// The buurt.
    pub buurt: String,
    /// The request body to send.
    pub request: SyncRequest,
    /// Local outbox seqs of the pushed changes, in request order.
    seqs: Vec<i64>,
    /// The most changes this round could push (a full round means more may wait).
    limit: usize,
}

/// A change the relay refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RejectedChange {
    /// The entity it belonged to.
    pub entity: String,
    /// The relay's code.
    pub code: String,
    /// The relay's reason.
    pub reason: String,
}

/// What one round did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RoundOutcome {
    /// Changes pushed.
    pub pushed: usize,
    /// Of those, accepted (durable at the relay).
    pub accepted: usize,
    /// Of those, refused for good.
    pub rejected: Vec<RejectedChange>,
    /// Of those, refused for now ([`retryable`]): still pending, pushed again later.
    pub retrying: Vec<RejectedChange>,
    /// Changes pulled.
    pub pulled: usize,
    /// What applying them did.
    pub applied: ApplyReport,
    /// The new cursor.
    pub cursor: u64,
    /// Whether another round is needed (more to pull, or more to push).
    pub again: bool,
}

/// What a UI shows about one buurt's sync.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyncStatus {
    /// The buurt.
    pub buurt: String,
    /// Local changes waiting for an acknowledgement.
    pub pending: i64,
    /// Local changes the relay refused for good (they are not retried; refusals for now stay
    /// in `pending`).
    pub rejected: Vec<RejectedChange>,
    /// When the last sync completed.
    pub last_sync_at: Option<i64>,
    /// The last error, while the last attempt failed.
    pub last_error: Option<String>,
    /// The cursor (pulled up to).
    pub cursor: i64,
    /// The relay's head as last heard; `head - cursor` is what a running pull still has to do.
    pub head: i64,
    /// Consecutive failures.
    pub failures: i64,
}

impl From<&wire::JoinResponse> for Enrolment {
    fn from(r: &wire::JoinResponse) -> Self {
        Enrolment {
            buurt: r.buurt.clone(),
            buurt_name: r.buurt_name.clone(),
            member: r.member.clone(),
            role: r.role.clone(),
            device: r.device.clone(),
            token: r.token.clone(),
        }
    }
}

impl Store {
    /// Records a successful join from the relay's answer to `POST /v1/join`: see
    /// [`Store::enrol`], which checks every field.
    ///
    /// # Errors
    ///
    /// As [`Store::enrol`].
    pub fn join_buurt(&self, relay_url: &str, resp: &wire::JoinResponse) -> Result<Buurt> {
        self.enrol(relay_url, &Enrolment::from(resp))
    }

    /// Prepares the next round for `buurt`: its cursor and up to [`PUSH_PER_ROUND`] pending
    /// local changes.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for a buurt this device has not joined; storage errors.
    pub fn sync_prepare(&self, buurt: &str) -> Result<Round> {
        self.sync_prepare_at_most(buurt, PUSH_PER_ROUND)
    }

    /// [`Store::sync_prepare`] pushing at most `max_push` changes (clamped to
    /// `1..=PUSH_PER_ROUND`): smaller requests for a poor connection, where a large one would
    /// rarely get through whole.
    ///
    /// # Errors
    ///
    /// As [`Store::sync_prepare`].
    pub fn sync_prepare_at_most(&self, buurt: &str, max_push: usize) -> Result<Round> {
        let limit = max_push.clamp(1, PUSH_PER_ROUND);
        let b = self.buurt(buurt)?;
        let pending = self.pending_for_buurt(buurt, limit)?;
        let seqs = pending.iter().map(|c| c.seq).collect();
        let push = pending
            .into_iter()
            .map(|c| PushChange {
                doc: wire::doc_bytes(&c.entity),
                change: c.bytes,
            })
            .collect();
        Ok(Round {
            buurt: b.id,
            request: SyncRequest {
                v: PROTOCOL_VERSION,
                cursor: u64::try_from(b.cursor).unwrap_or(0),
                push,
                max: None,
            },
            seqs,
            limit,
        })
    }

    /// Applies the relay's answer to a prepared round: acknowledges what was accepted, marks
    /// what was refused, applies pulled changes, moves the cursor.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] (`field` = `response`) when the response contradicts the request
    /// (nothing is recorded); errors applying pulled changes; storage errors.
    pub fn sync_finish(&self, round: &Round, resp: &SyncResponse) -> Result<RoundOutcome> {
        let bad = |why: String| Error::invalid("response", why);
        if resp.v != PROTOCOL_VERSION {
            return Err(bad(format!(
                "version {} instead of {PROTOCOL_VERSION}",
                resp.v
            )));
        }
        let cursor = round.request.cursor;
        if resp.cursor < cursor {
            return Err(bad(format!(
                "cursor went back from {cursor} to {}",
                resp.cursor
            )));
        }
        let mut last = cursor;
        let mut batch = Vec::with_capacity(resp.pull.len());
        for p in &resp.pull {
            if p.seq <= last || p.seq > resp.cursor {
                return Err(bad(format!("pulled seq {} out of order", p.seq)));
            }
            last = p.seq;
            batch.push((wire::doc_id(&p.doc)?, p.change.clone()));
        }
        let mut refused = vec![None; round.seqs.len()];
        for r in &resp.rejected {
            let slot = usize::try_from(r.i)
                .ok()
                .and_then(|i| refused.get_mut(i))
                .ok_or_else(|| bad(format!("rejection index {} out of range", r.i)))?;
            *slot = Some((r.code.clone(), r.reason.clone()));
        }

        // Pulled changes first (one transaction), then the acks and the cursor (another):
        // a crash between them re-pulls, and duplicates are ignored.
        let applied = match self.apply_changes_in(Some(&round.buurt), &batch) {
            Ok(r) => r,
            // One undecodable change must not block the buurt for ever (the cursor would never
            // move): apply one by one and skip what this device cannot use.
            Err(Error::InvalidInput { .. }) => {
                let mut sum = ApplyReport::default();
                for item in &batch {
                    match self.apply_changes_in(Some(&round.buurt), std::slice::from_ref(item)) {
                        Ok(r) => {
                            sum.applied += r.applied;
                            sum.duplicates += r.duplicates;
                            sum.waiting += r.waiting;
                            sum.corrupt += r.corrupt;
                        }
                        Err(Error::InvalidInput { .. }) => {
                            tracing::warn!(entity = %item.0, "skipping a pulled change this device cannot apply");
                            sum.skipped += 1;
                        }
                        Err(e) => return Err(e),
                    }
                }
                sum
            }
            Err(e) => return Err(e),
        };
        let mut acked = Vec::new();
        let mut rejected = Vec::new();
        let mut retry = Vec::new();
        let mut refusals = Vec::new();
        for ((seq, outcome), push) in round.seqs.iter().zip(&refused).zip(&round.request.push) {
            match outcome {
                None => acked.push(*seq),
                Some((code, reason)) => {
                    let entity = wire::doc_id(&push.doc)
                        .map(|e| e.to_string())
                        .unwrap_or_default();
                    tracing::warn!(entity = %entity, code = %code, "relay refused a local change");
                    let item = (*seq, code.clone(), reason.clone());
                    if retryable(code) {
                        retry.push(item);
                    } else {
                        rejected.push(item);
                    }
                    refusals.push((
                        *seq,
                        RejectedChange {
                            entity,
                            code: code.clone(),
                            reason: reason.clone(),
                        },
                    ));
                }
            }
        }
        let new_cursor =
            i64::try_from(resp.cursor).map_err(|_| bad("cursor out of range".into()))?;
        let given_up = self.record_round(&round.buurt, &acked, &rejected, &retry, new_cursor)?;
        // Refused for good: by its code, given up now, or refused for now in a document that
        // falls back to the relay's version below (it depends on what was refused for good and
        // becomes `superseded`).
        let for_good: std::collections::BTreeSet<String> = refusals
            .iter()
            .filter(|(seq, r)| !retryable(&r.code) || given_up.contains(seq))
            .map(|(_, r)| r.entity.clone())
            .collect();
        let (rejected_out, retrying_out): (Vec<_>, Vec<_>) = refusals
            .into_iter()
            .partition(|(_, r)| for_good.contains(&r.entity));
        let rejected_out: Vec<RejectedChange> = rejected_out.into_iter().map(|(_, r)| r).collect();
        let retrying_out: Vec<RejectedChange> = retrying_out.into_iter().map(|(_, r)| r).collect();
        if let Some(head) = resp.head {
            self.record_head(&round.buurt, i64::try_from(head).unwrap_or(i64::MAX))?;
        }
        let mut widened = false;
        if let Some(role) = resp
            .role
            .as_deref()
            .and_then(|r| crate::Role::parse(r).ok())
        {
            widened = self.record_role(&round.buurt, role)?;
        }
        // A refused change poisons every later local change of its document (they depend on
        // it): fall back to the relay's version of that document (repaired after the round).
        let mut reset = std::collections::BTreeSet::new();
        for r in &rejected_out {
            if let Ok(entity) = crate::EntityId::parse(&r.entity) {
                reset.insert(entity);
            }
        }
        for entity in &reset {
            self.reset_document(entity)?;
        }
        // A new coordinator pulls the log again from the start (see `record_role`).
        let again = resp.more || round.seqs.len() >= round.limit || widened;
        Ok(RoundOutcome {
            pushed: round.seqs.len(),
            accepted: acked.len(),
            rejected: rejected_out,
            retrying: retrying_out,
            pulled: resp.pull.len(),
            applied,
            cursor: if widened { 0 } else { resp.cursor },
            again,
        })
    }

    /// Records a failed round (network down, relay error) and returns how long to wait before
    /// the next attempt ([`backoff`] with fresh jitter).
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub fn sync_failed(&self, buurt: &str, error: &Error) -> Result<Duration> {
        let failures = self.record_failure(buurt, &error.to_string())?;
        let jitter = crate::ids::random_bytes::<1>()
            .map(|b| f64::from(b[0]) / 255.0)
            .unwrap_or(0.5);
        Ok(backoff(u32::try_from(failures).unwrap_or(u32::MAX), jitter))
    }

    /// How long until a change of `buurt` refused for now may be pushed again (zero when it
    /// may already); `None` when no change is held back. A transport that keeps running (a
    /// live connection, a scheduled background sync) syncs again then.
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub fn sync_retry_in(&self, buurt: &str) -> Result<Option<Duration>> {
        let now = self.now_ms();
        Ok(self
            .next_retry_at(buurt)?
            .map(|at| Duration::from_millis(u64::try_from(at.saturating_sub(now)).unwrap_or(0))))
    }

    /// Notes the relay's head, as a live connection reported it.
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub fn sync_head(&self, buurt: &str, head: u64) -> Result<()> {
        self.record_head(buurt, i64::try_from(head).unwrap_or(i64::MAX))
    }

    /// The sync status of one buurt, for a UI.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for a buurt not joined; storage errors.
    pub fn sync_status(&self, buurt: &str) -> Result<SyncStatus> {
        let b = self.buurt(buurt)?;
        let rejected = self
            .rejected_for(buurt, 20)?
            .into_iter()
            .map(|(entity, code, reason)| RejectedChange {
                entity,
                code,
                reason,
            })
            .collect();
        Ok(SyncStatus {
            pending: self.pending_count_for(buurt)?,
            rejected,
            last_sync_at: b.last_sync_at,
            last_error: b.last_error,
            cursor: b.cursor,
            head: b.head.max(b.cursor),
            failures: b.failures,
            buurt: b.id,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::clock::ManualClock;
    use crate::model::help::NewHelp;
    use crate::sync::wire::{JoinResponse, PullChange, Rejected};

    fn joined(buurt: &str) -> Result<Store> {
        joined_with(buurt, Arc::new(ManualClock::new(1_790_000_000_000)))
    }

    fn joined_with(buurt: &str, clock: Arc<ManualClock>) -> Result<Store> {
        let s = Store::open_in_memory(clock)?;
        let me = s.identity().member;
        s.join_buurt(
            "http://127.0.0.1:1",
            &JoinResponse {
                v: 1,
                buurt: buurt.into(),
                buurt_name: "De Linde".into(),
                member: me.to_string(),
                role: "resident".into(),
                device: "d".repeat(32),
                token: "t".repeat(64),
            },
        )?;
        Ok(s)
    }

    const B: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn a_round_acks_rejects_pulls_and_moves_the_cursor() -> Result<()> {
        let a = joined(B)?;
        let b = joined(B)?;
        a.create_help(&NewHelp::ask("groceries", "Een"))?;
        a.create_help(&NewHelp::ask("groceries", "Twee"))?;
        let waiting = |s: &Store| -> Result<Vec<(String, bool)>> {
            let mut rows: Vec<_> = s
                .list(&Default::default())?
                .items
                .into_iter()
                .map(|r| (r.title, r.unsynced))
                .collect();
            rows.sort();
            Ok(rows)
        };
        assert_eq!(
            waiting(&a)?,
            [("Een".into(), true), ("Twee".into(), true)],
            "both wait to be sent"
        );
        let round = a.sync_prepare(B)?;
        assert_eq!(round.request.push.len(), 2);
        assert_eq!(round.request.cursor, 0);
        let resp = SyncResponse {
            v: 1,
            rejected: vec![Rejected {
                i: 1,
                code: "not_allowed".into(),
                reason: "x".into(),
            }],
            pull: vec![],
            cursor: 2,
            more: false,
            head: None,
            role: None,
        };
        let out = a.sync_finish(&round, &resp)?;
        assert_eq!((out.pushed, out.accepted, out.rejected.len()), (2, 1, 1));
        let status = a.sync_status(B)?;
        assert_eq!(
            (status.pending, status.cursor, status.rejected.len()),
            (0, 2, 1)
        );
        assert!(
            a.sync_prepare(B)?.request.push.is_empty(),
            "rejected changes are not pushed again"
        );
        // The acknowledged one no longer waits (the refused creation left the device's lists;
        // the sync status names it).
        assert_eq!(waiting(&a)?, [("Een".into(), false)]);

        // b pulls a's accepted change as a relay would hand it over.
        let first = &round.request.push[0];
        let round_b = b.sync_prepare(B)?;
        let resp_b = SyncResponse {
            v: 1,
            rejected: vec![],
            pull: vec![PullChange {
                seq: 1,
                doc: first.doc.clone(),
                change: first.change.clone(),
            }],
            cursor: 2,
            more: false,
            head: None,
            role: None,
        };
        let out = b.sync_finish(&round_b, &resp_b)?;
        assert_eq!(out.applied.applied, 1);
        assert_eq!(b.list(&Default::default())?.items.len(), 1);
        assert_eq!(b.buurt(B)?.cursor, 2);
        Ok(())
    }

    /// An answer to `round` refusing the pushed changes at `refused` with `code` and accepting
    /// the others; nothing pulled.
    fn refusing(round: &Round, refused: &[usize], code: &str) -> SyncResponse {
        SyncResponse {
            v: 1,
            rejected: refused
                .iter()
                .map(|&i| Rejected {
                    i: u32::try_from(i).unwrap_or(u32::MAX),
                    code: code.into(),
                    reason: "r".into(),
                })
                .collect(),
            pull: vec![],
            cursor: round.request.cursor,
            more: false,
            head: None,
            role: None,
        }
    }

    /// The documents of `round`'s pushed changes, in order.
    fn docs(round: &Round) -> Vec<Vec<u8>> {
        round.request.push.iter().map(|p| p.doc.clone()).collect()
    }

    /// `unavailable` and (a few times) `missing_dependencies` are refusals for now: the change
    /// stays pending, held back with every later change of its document while other documents
    /// go on, and is pushed again after the wait, then accepted. Status and outbox agree.
    #[test]
    fn a_refusal_for_now_is_retried_after_a_wait() -> Result<()> {
        let clock = Arc::new(ManualClock::new(1_790_000_000_000));
        let a = joined_with(B, clock.clone())?;
        let held = a.create_help(&NewHelp::ask("groceries", "Een"))?;
        a.create_help(&NewHelp::ask("groceries", "Twee"))?;
        let round = a.sync_prepare(B)?;
        let held_doc = round.request.push[0].doc.clone();
        let other_doc = round.request.push[1].doc.clone();
        let out = a.sync_finish(&round, &refusing(&round, &[0], "unavailable"))?;
        assert_eq!(
            (out.accepted, out.rejected.len(), out.retrying.len()),
            (1, 0, 1)
        );
        assert_eq!(out.retrying[0].code, "unavailable");
        assert!(!out.again);
        let status = a.sync_status(B)?;
        assert_eq!((status.pending, status.rejected.len()), (1, 0));
        assert_eq!((a.pending_count()?, a.refused_count()?), (1, 0));

        // Held back: a later change of the same document waits with it; another document's
        // change goes.
        a.edit_help(&held, None, Some("Met de auto"))?;
        let other = a.create_help(&NewHelp::ask("groceries", "Drie"))?;
        let round = a.sync_prepare(B)?;
        assert_eq!(docs(&round), [wire::doc_bytes(&other)]);
        assert_ne!(other_doc, held_doc);
        a.sync_finish(&round, &refusing(&round, &[], ""))?;
        assert_eq!(a.sync_status(B)?.pending, 2);

        // After the wait (2 s for a first refusal) both go, in order; refused again for now
        // (`missing_dependencies` this time), then the wait doubles.
        assert_eq!(
            a.sync_retry_in(B)?,
            Some(Duration::from_millis(retry_wait_ms(1).unsigned_abs()))
        );
        clock.advance(retry_wait_ms(1) - 1);
        assert!(a.sync_prepare(B)?.request.push.is_empty(), "still held");
        assert_eq!(a.sync_retry_in(B)?, Some(Duration::from_millis(1)));
        clock.advance(1);
        let round = a.sync_prepare(B)?;
        assert_eq!(docs(&round), [held_doc.clone(), held_doc.clone()]);
        let out = a.sync_finish(&round, &refusing(&round, &[0, 1], "missing_dependencies"))?;
        assert_eq!((out.rejected.len(), out.retrying.len()), (0, 2));
        clock.advance(retry_wait_ms(1));
        assert!(
            a.sync_prepare(B)?.request.push.is_empty(),
            "the second wait is longer"
        );
        clock.advance(retry_wait_ms(2) - retry_wait_ms(1));
        let round = a.sync_prepare(B)?;
        assert_eq!(round.request.push.len(), 2);
        let out = a.sync_finish(&round, &refusing(&round, &[], ""))?;
        assert_eq!((out.accepted, out.rejected.len()), (2, 0));
        assert_eq!(a.sync_status(B)?.pending, 0);
        assert_eq!(a.sync_retry_in(B)?, None);
        assert_eq!((a.pending_count()?, a.refused_count()?), (0, 0));
        Ok(())
    }

    /// A change refused `missing_dependencies` over and over is refused for good: the
    /// document is reset to the relay's version (repaired after the round) and its later
    /// changes are `superseded`, instead of every later change being refused for ever. An
    /// `unavailable` change is never given up.
    #[test]
    fn a_dependency_that_never_comes_is_given_up_and_the_document_repaired() -> Result<()> {
        let clock = Arc::new(ManualClock::new(1_790_000_000_000));
        let a = joined_with(B, clock.clone())?;
        let id = a.create_help(&NewHelp::ask("groceries", "Een"))?;
        a.edit_help(&id, None, Some("Later"))?;
        let lasting = a.create_help(&NewHelp::ask("groceries", "Twee"))?;
        for n in 1..=MAX_DEPENDENCY_RETRIES + 3 {
            let round = a.sync_prepare(B)?;
            let mut codes = Vec::new();
            for (i, p) in round.request.push.iter().enumerate() {
                let code = if wire::doc_id(&p.doc)? == id {
                    "missing_dependencies"
                } else {
                    "unavailable"
                };
                codes.push((i, code));
            }
            let resp = SyncResponse {
                rejected: codes
                    .iter()
                    .map(|&(i, code)| Rejected {
                        i: u32::try_from(i).unwrap_or(u32::MAX),
                        code: code.into(),
                        reason: "r".into(),
                    })
                    .collect(),
                ..refusing(&round, &[], "")
            };
            let out = a.sync_finish(&round, &resp)?;
            if n < MAX_DEPENDENCY_RETRIES {
                assert_eq!(
                    (out.rejected.len(), out.retrying.len()),
                    (0, 3),
                    "round {n}"
                );
            } else if n == MAX_DEPENDENCY_RETRIES {
                assert_eq!(
                    (out.rejected.len(), out.retrying.len()),
                    (2, 1),
                    "round {n}"
                );
                assert!(
                    out.rejected
                        .iter()
                        .all(|r| r.code == "missing_dependencies")
                );
            } else {
                assert_eq!(
                    (out.rejected.len(), out.retrying.len()),
                    (0, 1),
                    "round {n}"
                );
                assert_eq!(
                    round.request.push.len(),
                    1,
                    "only the unavailable one is pushed"
                );
            }
            clock.advance(retry_wait_ms(n));
        }
        // The given-up document waits for the relay's version; the other is still pending.
        let repair: Vec<_> = a
            .needing_repair(B, 10)?
            .into_iter()
            .map(|(e, _)| e)
            .collect();
        assert_eq!(repair, [id]);
        let status = a.sync_status(B)?;
        assert_eq!(status.pending, 1);
        assert_eq!(status.rejected.len(), 2);
        assert_eq!((a.pending_count()?, a.refused_count()?), (1, 2));
        assert!(a.help(&lasting).is_ok());
        Ok(())
    }

    #[test]
    fn retry_waits_double_up_to_five_minutes() {
        assert_eq!(retry_wait_ms(1), 2_000);
        assert_eq!(retry_wait_ms(2), 4_000);
        assert_eq!(retry_wait_ms(8), 256_000);
        assert_eq!(retry_wait_ms(9), 300_000);
        assert_eq!(retry_wait_ms(i64::MAX), 300_000);
        assert_eq!(retry_wait_ms(0), 2_000);
        assert!(retryable("unavailable") && retryable("missing_dependencies"));
        assert!(!retryable("bad_time") && !retryable("superseded"));
        assert!(!gives_up("unavailable", i64::MAX));
        assert!(!gives_up(
            "missing_dependencies",
            MAX_DEPENDENCY_RETRIES - 1
        ));
        assert!(gives_up("missing_dependencies", MAX_DEPENDENCY_RETRIES));
    }

    #[test]
    fn an_unusable_pulled_change_is_skipped_not_blocking() -> Result<()> {
        let a = joined(B)?;
        let b = joined(B)?;
        a.create_help(&NewHelp::ask("groceries", "Een"))?;
        let good = a.sync_prepare(B)?.request.push.remove(0);
        let round = b.sync_prepare(B)?;
        let resp = SyncResponse {
            v: 1,
            rejected: vec![],
            pull: vec![
                PullChange {
                    seq: 1,
                    doc: vec![7; 16],
                    change: b"garbage".to_vec(),
                },
                PullChange {
                    seq: 2,
                    doc: good.doc,
                    change: good.change,
                },
            ],
            cursor: 2,
            more: false,
            head: None,
            role: None,
        };
        let out = b.sync_finish(&round, &resp)?;
        assert_eq!((out.applied.applied, out.applied.skipped), (1, 1));
        assert_eq!(
            b.buurt(B)?.cursor,
            2,
            "the cursor moves past what cannot be used"
        );
        Ok(())
    }

    #[test]
    fn a_pulled_op_bomb_is_skipped_unexpanded_and_sync_goes_on() -> Result<()> {
        use crate::validate::work::tests::Forge;
        let a = joined(B)?;
        let b = joined(B)?;
        a.create_help(&NewHelp::ask("groceries", "Een"))?;
        let good = a.sync_prepare(B)?.request.push.remove(0);
        // A relay that let it through (or a hostile one): ~100 bytes declaring 6 000 000
        // operations; applying it would take this device's memory.
        let bomb = Forge::puts(&[9; 16], 6_000_000).chunk();
        let round = b.sync_prepare(B)?;
        let resp = SyncResponse {
            v: 1,
            rejected: vec![],
            pull: vec![
                PullChange {
                    seq: 1,
                    doc: vec![7; 16],
                    change: bomb,
                },
                PullChange {
                    seq: 2,
                    doc: good.doc,
                    change: good.change,
                },
            ],
            cursor: 2,
            more: false,
            head: None,
            role: None,
        };
        let out = b.sync_finish(&round, &resp)?;
        assert_eq!((out.applied.applied, out.applied.skipped), (1, 1));
        assert_eq!(b.buurt(B)?.cursor, 2, "sync goes on past the bomb");
        assert_eq!(b.list(&Default::default())?.items.len(), 1);
        let direct = b.apply_remote_changes(&[(
            crate::EntityId::parse(&"07".repeat(16))?,
            Forge::puts(&[9; 16], 1_000_000).chunk(),
        )]);
        let Err(Error::InvalidInput { reason, .. }) = direct else {
            return Err(Error::invalid(
                "test",
                format!("{direct:?} instead of a refusal"),
            ));
        };
        assert!(reason.contains("too_large"), "{reason}");
        Ok(())
    }

    #[test]
    fn the_relay_reported_role_becomes_the_local_one() -> Result<()> {
        let a = joined(B)?;
        assert_eq!(a.identity().role, crate::Role::Resident);
        let round = a.sync_prepare(B)?;
        let resp = SyncResponse {
            v: 1,
            rejected: vec![],
            pull: vec![],
            cursor: 0,
            more: false,
            head: Some(40),
            role: Some("caretaker".into()),
        };
        a.sync_finish(&round, &resp)?;
        assert_eq!(a.identity().role, crate::Role::Caretaker);
        assert_eq!(
            a.sync_status(B)?.head,
            40,
            "the head a UI shows progress against"
        );
        assert_eq!(a.buurt(B)?.role, crate::Role::Caretaker);
        // An unknown role from a newer relay changes nothing.
        let round = a.sync_prepare(B)?;
        a.sync_finish(
            &round,
            &SyncResponse {
                role: Some("mayor".into()),
                ..resp
            },
        )?;
        assert_eq!(a.identity().role, crate::Role::Caretaker);
        Ok(())
    }

    #[test]
    fn becoming_a_coordinator_pulls_the_log_again() -> Result<()> {
        let a = joined(B)?;
        let resp = |cursor: u64, role: &str| SyncResponse {
            v: 1,
            rejected: vec![],
            pull: vec![],
            cursor,
            more: false,
            head: Some(cursor),
            role: Some(role.into()),
        };
        let round = a.sync_prepare(B)?;
        let out = a.sync_finish(&round, &resp(30, "caretaker"))?;
        assert!(!out.again);
        assert_eq!(
            a.buurt(B)?.cursor,
            30,
            "a caretaker reads no more than before"
        );
        // Promoted: the relay left restricted documents out of every earlier pull.
        let round = a.sync_prepare(B)?;
        let out = a.sync_finish(&round, &resp(31, "organiser"))?;
        assert!(out.again, "the pull starts over at once");
        assert_eq!((out.cursor, a.buurt(B)?.cursor), (0, 0));
        // Still an organiser: the cursor moves on as usual.
        let round = a.sync_prepare(B)?;
        let out = a.sync_finish(&round, &resp(31, "organiser"))?;
        assert!(!out.again);
        assert_eq!(a.buurt(B)?.cursor, 31);
        // Organiser to staff is no widening.
        let round = a.sync_prepare(B)?;
        a.sync_finish(&round, &resp(32, "staff"))?;
        assert_eq!(a.buurt(B)?.cursor, 32);
        Ok(())
    }

    #[test]
    fn contradictory_responses_record_nothing() -> Result<()> {
        let a = joined(B)?;
        a.create_help(&NewHelp::ask("groceries", "Een"))?;
        let round = a.sync_prepare(B)?;
        let ok = SyncResponse {
            v: 1,
            rejected: vec![],
            pull: vec![],
            cursor: 0,
            more: false,
            head: None,
            role: None,
        };
        let bad = [
            SyncResponse { v: 2, ..ok.clone() },
            SyncResponse {
                rejected: vec![Rejected {
                    i: 9,
                    code: "x".into(),
                    reason: String::new(),
                }],
                ..ok.clone()
            },
            SyncResponse {
                pull: vec![PullChange {
                    seq: 5,
                    doc: vec![0; 16],
                    change: vec![],
                }],
                cursor: 3,
                ..ok.clone()
            },
            SyncResponse {
                pull: vec![PullChange {
                    seq: 1,
                    doc: vec![0; 3],
                    change: vec![],
                }],
                cursor: 1,
                ..ok.clone()
            },
        ];
        for resp in bad {
            assert!(a.sync_finish(&round, &resp).is_err(), "{resp:?}");
            assert_eq!(a.sync_status(B)?.pending, 1, "nothing acked");
        }
        Ok(())
    }

    #[test]
    fn failures_back_off_with_jitter() -> Result<()> {
        assert_eq!(backoff(0, 0.3), Duration::ZERO);
        assert_eq!(backoff(1, 1.0), Duration::from_secs(2));
        assert_eq!(backoff(1, 0.0), Duration::from_secs(1));
        assert_eq!(
            backoff(30, 1.0),
            Duration::from_secs(300),
            "capped at five minutes"
        );
        assert_eq!(backoff(3, f64::NAN), Duration::from_secs(6));
        let a = joined(B)?;
        let wait = a.sync_failed(B, &Error::Network("connection refused".into()))?;
        assert!(wait >= Duration::from_secs(1) && wait <= Duration::from_secs(2));
        let s = a.sync_status(B)?;
        assert_eq!(s.failures, 1);
        assert!(s.last_error.is_some());
        Ok(())
    }

    #[test]
    fn entities_made_before_joining_belong_to_the_first_buurt() -> Result<()> {
        let s = Store::open_in_memory(Arc::new(ManualClock::new(1_790_000_000_000)))?;
        s.create_help(&NewHelp::ask("groceries", "Voor het lid worden"))?;
        let me = s.identity().member;
        let resp = JoinResponse {
            v: 1,
            buurt: B.into(),
            buurt_name: "De Linde".into(),
            member: me.to_string(),
            role: "caretaker".into(),
            device: "d".repeat(32),
            token: "t".repeat(64),
        };
        s.join_buurt("https://relay.example", &resp)?;
        assert_eq!(s.identity().role, crate::Role::Caretaker);
        assert_eq!(s.sync_prepare(B)?.request.push.len(), 1);
        assert!(s.join_buurt("ftp://x", &resp).is_err());
        assert!(
            s.join_buurt(
                "https://x",
                &JoinResponse {
                    buurt: "../x".into(),
                    ..resp.clone()
                }
            )
            .is_err()
        );
        s.leave_buurt(B)?;
        assert!(
            s.list(&Default::default())?.items.is_empty(),
            "leaving removes the buurt's data"
        );
        assert!(s.buurten()?.is_empty());
        Ok(())
    }
}
