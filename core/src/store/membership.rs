//! The buurten this device belongs to, and the bookkeeping sync needs for each: the relay,
//! the device's token, the cursor in the buurt's log, the last success and failure.
//!
//! The token is a secret: it is stored here (inside the app's private storage), handed only to
//! the transport, and never part of [`Buurt`], its `Debug` output or any log.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::ids::MemberId;
use crate::model::Role;
use crate::store::{Store, set_setting};

/// A buurt this device has joined.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Buurt {
    /// Buurt id (32 hex digits).
    pub id: String,
    /// Its name.
    pub name: String,
    /// The relay's base URL.
    pub relay_url: String,
    /// The local member's id there.
    pub member: String,
    /// The local member's role there.
    pub role: Role,
    /// This device's id at the relay.
    pub device: String,
    /// The highest log sequence number pulled.
    pub cursor: i64,
    /// The highest sequence number the relay reported.
    pub head: i64,
    /// When the device joined.
    pub joined_at: i64,
    /// When the last sync completed.
    pub last_sync_at: Option<i64>,
    /// The last sync error, if the last attempt failed.
    pub last_error: Option<String>,
    /// Consecutive failed attempts (drives the backoff).
    pub failures: i64,
}

fn is_hex32(s: &str) -> bool {
    s.len() == 32
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

const BUURT_COLS: &str = "id, name, relay_url, member, role, device, cursor, head, joined_at, \
                          last_sync_at, last_error, failures";

fn row_to_buurt(r: &rusqlite::Row<'_>) -> rusqlite::Result<(Buurt, String)> {
    let role: String = r.get(4)?;
    Ok((
        Buurt {
            id: r.get(0)?,
            name: r.get(1)?,
            relay_url: r.get(2)?,
            member: r.get(3)?,
            role: Role::parse(&role).unwrap_or(Role::Resident),
            device: r.get(5)?,
            cursor: r.get(6)?,
            head: r.get(7)?,
            joined_at: r.get(8)?,
            last_sync_at: r.get(9)?,
            last_error: r.get(10)?,
            failures: r.get(11)?,
        },
        role,
    ))
}

/// The ids and secret one join sends ([`Store::join_attempt`]), stored before it is sent.
#[derive(Clone, PartialEq, Eq)]
pub struct JoinAttempt {
    /// The member id to register (the pending one when the attempt began).
    pub member: MemberId,
    /// The actor id to register (hex).
    pub actor: String,
    /// The `join_secret` (64 hex digits): a secret like a token, never logged.
    pub secret: String,
}

impl std::fmt::Debug for JoinAttempt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JoinAttempt")
            .field("member", &self.member)
            .field("actor", &self.actor)
            .finish_non_exhaustive()
    }
}

/// An invite code's canonical form for keying attempts: upper case, no dashes or spaces.
fn canonical_invite(invite: &str) -> String {
    invite
        .chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// What a relay's answer to a join registered, as the store records it (the sync layer
/// converts the relay's `JoinResponse` into this; every field is checked by [`Store::enrol`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrolment {
    /// The buurt joined (32 hex digits).
    pub buurt: String,
    /// Its name.
    pub buurt_name: String,
    /// The member id, as registered.
    pub member: String,
    /// The role the invite gave.
    pub role: String,
    /// This device's id.
    pub device: String,
    /// The device's secret token.
    pub token: String,
}

impl Store {
    /// The ids and secret to join `relay_url` with `invite`: those of an earlier attempt with
    /// the same invite that got no answer (a retry sends exactly what the first attempt sent,
    /// so the relay recognises it and answers with the same device and token), else the
    /// pending member and actor ids with a fresh random secret, stored durably before this
    /// returns.
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub fn join_attempt(&self, relay_url: &str, invite: &str) -> Result<JoinAttempt> {
        let relay = relay_url.trim_end_matches('/');
        let invite = canonical_invite(invite);
        let inner = self.lock();
        let found: Option<(String, String, String)> = inner
            .conn
            .prepare_cached(
                "SELECT member, actor, secret FROM pending_joins WHERE relay_url = ?1 AND invite = ?2",
            )?
            .query_row(params![relay, invite], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?;
        if let Some((member, actor, secret)) = found {
            return Ok(JoinAttempt {
                member: MemberId::parse(&member)?,
                actor,
                secret,
            });
        }
        let pending = crate::store::acting_in(&inner.conn, None)?;
        let attempt = JoinAttempt {
            member: pending.member,
            actor: pending.actor,
            secret: crate::ids::hex(&crate::ids::random_bytes::<32>()?),
        };
        inner
            .conn
            .prepare_cached(
                "INSERT INTO pending_joins (relay_url, invite, member, actor, secret, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                relay,
                invite,
                attempt.member.as_str(),
                attempt.actor,
                attempt.secret,
                self.now_ms()
            ])?;
        Ok(attempt)
    }

    /// Forgets a join attempt the relay refused for good (the next attempt starts afresh).
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub fn forget_join_attempt(&self, relay_url: &str, invite: &str) -> Result<()> {
        let inner = self.lock();
        inner
            .conn
            .prepare_cached("DELETE FROM pending_joins WHERE relay_url = ?1 AND invite = ?2")?
            .execute(params![
                relay_url.trim_end_matches('/'),
                canonical_invite(invite)
            ])?;
        Ok(())
    }

    /// Records a successful join: the buurt, the device's token and role, and the member and
    /// actor ids registered there (the relay's answer names the member; the actor is the one
    /// the store's [`JoinAttempt`] for that member sent, else the pending one). The buurt
    /// becomes the active one (new entities are created in it). When the join registered the
    /// pending identity, entities created before any join are assigned to it and the pending
    /// ids are replaced by fresh ones, so the next buurt gets ids of its own.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] naming the field when the relay's answer is malformed
    /// (`buurt`, `member`, `device`, `role`, `token`, `relay_url`); storage errors.
    pub fn enrol(&self, relay_url: &str, resp: &Enrolment) -> Result<Buurt> {
        if !(relay_url.starts_with("http://") || relay_url.starts_with("https://"))
            || relay_url.len() > 2_000
        {
            return Err(Error::invalid(
                "relay_url",
                "must be an http:// or https:// URL",
            ));
        }
        for (field, v) in [
            ("buurt", &resp.buurt),
            ("member", &resp.member),
            ("device", &resp.device),
        ] {
            if !is_hex32(v) {
                return Err(Error::invalid(field, "is not 32 lowercase hex digits"));
            }
        }
        let role = Role::parse(&resp.role)?;
        if resp.token.len() < 32
            || resp.token.len() > 256
            || !resp.token.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(Error::invalid("token", "is not a device token"));
        }
        crate::doc::check_len("buurt_name", &resp.buurt_name, 200)?;
        let member = MemberId::parse(&resp.member)?;
        let now = self.now_ms();
        let relay = relay_url.trim_end_matches('/');
        {
            let mut inner = self.lock();
            let pending = crate::store::acting_in(&inner.conn, None)?;
            let tx = inner.conn.transaction()?;
            let attempted: Option<String> = tx
                .prepare_cached(
                    "SELECT actor FROM pending_joins WHERE relay_url = ?1 AND member = ?2
                     ORDER BY created_at DESC LIMIT 1",
                )?
                .query_row(params![relay, member.as_str()], |r| r.get(0))
                .optional()?;
            let actor = attempted.unwrap_or_else(|| pending.actor.clone());
            tx.execute(
                "INSERT INTO buurten (id, name, relay_url, member, role, device, token, joined_at, actor)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                 ON CONFLICT(id) DO UPDATE SET name = excluded.name, relay_url = excluded.relay_url,
                     member = excluded.member, role = excluded.role, device = excluded.device,
                     token = excluded.token, actor = excluded.actor,
                     cursor = 0, head = 0, failures = 0, last_error = NULL",
                params![
                    resp.buurt,
                    resp.buurt_name,
                    relay,
                    resp.member,
                    role.as_str(),
                    resp.device,
                    resp.token,
                    now,
                    actor
                ],
            )?;
            tx.execute(
                "DELETE FROM pending_joins WHERE member = ?1 OR actor = ?2",
                params![member.as_str(), actor],
            )?;
            if member == pending.member || actor == pending.actor {
                // The pending identity is registered now: what was written with it moves to
                // this buurt, and the next join gets fresh ids.
                tx.execute(
                    "UPDATE documents SET buurt = ?1 WHERE buurt IS NULL",
                    [&resp.buurt],
                )?;
                crate::store::renew_pending(&tx)?;
            }
            set_setting(&tx, "role", Some(role.as_str()))?;
            set_setting(&tx, "active_buurt", Some(&resp.buurt))?;
            tx.commit()?;
            inner.active_buurt = Some(resp.buurt.clone());
            inner.refresh_identity()?;
        }
        self.buurt(&resp.buurt)
    }

    /// Makes the next join register an existing member (a second phone of the same person)
    /// instead of the pending member id, with an invite the relay bound to that member.
    /// Buurten already joined keep their ids.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] (`member`) when this store already made changes with the pending
    /// member id, before any join (they would be orphaned: use a fresh store); storage errors.
    pub fn adopt_member(&self, member: &MemberId) -> Result<()> {
        let pending = self.with_conn(|conn, _| crate::store::acting_in(conn, None))?;
        if pending.member == *member {
            return Ok(());
        }
        let made: i64 = self.with_conn(|conn, _| {
            Ok(conn
                .prepare_cached(
                    "SELECT count(*) FROM outbox o JOIN documents d ON d.id = o.doc_id
                     WHERE d.buurt IS NULL",
                )?
                .query_row([], |r| r.get(0))?)
        })?;
        if made > 0 {
            return Err(Error::invalid(
                "member",
                "this store already made changes as another member; use a fresh store for a second device",
            ));
        }
        self.set_member_id(member)
    }

    /// The buurten this device has joined, oldest first.
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub fn buurten(&self) -> Result<Vec<Buurt>> {
        self.with_conn(|conn, _| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {BUURT_COLS} FROM buurten ORDER BY joined_at, id"
            ))?;
            let rows = stmt.query_map([], row_to_buurt)?;
            Ok(rows
                .map(|r| r.map(|(b, _)| b))
                .collect::<Result<Vec<_>, _>>()?)
        })
    }

    /// One joined buurt.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] when this device has not joined it.
    pub fn buurt(&self, id: &str) -> Result<Buurt> {
        self.with_conn(|conn, _| {
            let row = conn
                .prepare_cached(&format!("SELECT {BUURT_COLS} FROM buurten WHERE id = ?1"))?
                .query_row([id], row_to_buurt)
                .optional()?;
            row.map(|(b, _)| b)
                .ok_or_else(|| Error::not_found("buurt", id))
        })
    }

    /// The buurt new entities are created in.
    pub fn active_buurt(&self) -> Option<String> {
        self.lock().active_buurt.clone()
    }

    /// Makes `id` the buurt new entities are created in.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] when this device has not joined it.
    pub fn set_active_buurt(&self, id: &str) -> Result<()> {
        let b = self.buurt(id)?;
        let mut inner = self.lock();
        set_setting(&inner.conn, "active_buurt", Some(&b.id))?;
        set_setting(&inner.conn, "role", Some(b.role.as_str()))?;
        inner.active_buurt = Some(b.id);
        inner.refresh_identity()
    }

    /// Leaves a buurt: forgets its token and removes its entities from this device (documents,
    /// projections and un-synced changes). Another joined buurt, if any, becomes active.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] when this device has not joined it; storage errors.
    pub fn leave_buurt(&self, id: &str) -> Result<()> {
        self.buurt(id)?;
        let mut inner = self.lock();
        inner.cache.clear();
        let tx = inner.conn.transaction()?;
        let ids: Vec<String> = {
            let mut stmt = tx.prepare("SELECT id FROM documents WHERE buurt = ?1")?;
            let rows = stmt.query_map([id], |r| r.get(0))?;
            rows.collect::<Result<_, _>>()?
        };
        for doc in &ids {
            let eid = crate::ids::EntityId::parse(doc)?;
            crate::store::project::delete(&tx, &eid)?;
            tx.execute("DELETE FROM entities WHERE id = ?1", [doc])?;
            tx.execute("DELETE FROM doc_changes WHERE doc_id = ?1", [doc])?;
            tx.execute("DELETE FROM change_hashes WHERE doc_id = ?1", [doc])?;
            tx.execute("DELETE FROM outbox WHERE doc_id = ?1", [doc])?;
            tx.execute("DELETE FROM documents WHERE id = ?1", [doc])?;
        }
        tx.execute("DELETE FROM buurten WHERE id = ?1", [id])?;
        let next: Option<(String, String)> = tx
            .query_row(
                "SELECT id, role FROM buurten ORDER BY joined_at, id LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        set_setting(&tx, "active_buurt", next.as_ref().map(|(b, _)| b.as_str()))?;
        if let Some((_, role)) = &next {
            set_setting(&tx, "role", Some(role))?;
        }
        tx.commit()?;
        inner.active_buurt = next.map(|(b, _)| b);
        inner.refresh_identity()
    }

    /// The device token for a buurt (for the transport only).
    #[cfg_attr(not(feature = "http"), allow(dead_code))]
    pub(crate) fn buurt_token(&self, id: &str) -> Result<String> {
        self.with_conn(|conn, _| {
            conn.prepare_cached("SELECT token FROM buurten WHERE id = ?1")?
                .query_row([id], |r| r.get(0))
                .optional()?
                .ok_or_else(|| Error::not_found("buurt", id))
        })
    }
}

/// Sync bookkeeping the engine needs; SQL stays in `store`.
impl Store {
    /// Up to `limit` un-acknowledged, un-rejected local changes of documents in `buurt`, except
    /// those of a document with a change held back for a retry until later (`retry_at`): the
    /// later ones depend on it and would only be refused for its absence.
    pub(crate) fn pending_for_buurt(
        &self,
        buurt: &str,
        limit: usize,
    ) -> Result<Vec<crate::store::OutgoingChange>> {
        let now = self.now_ms();
        self.with_conn(|conn, _| {
            let mut stmt = conn.prepare_cached(
                "SELECT o.seq, o.doc_id, o.hash, o.bytes FROM outbox o JOIN documents d ON d.id = o.doc_id
                 WHERE o.acked_at IS NULL AND o.rejected_code IS NULL AND d.buurt = ?1
                   AND NOT EXISTS (SELECT 1 FROM outbox h WHERE h.doc_id = o.doc_id
                        AND h.acked_at IS NULL AND h.rejected_code IS NULL AND h.retry_at > ?3)
                 ORDER BY o.seq LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![buurt, i64::try_from(limit).unwrap_or(i64::MAX), now], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, Vec<u8>>(2)?, r.get::<_, Vec<u8>>(3)?))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (seq, doc, hash, bytes) = row?;
                out.push(crate::store::OutgoingChange {
                    seq,
                    entity: crate::ids::EntityId::parse(&doc)?,
                    hash: crate::ids::hex(&hash),
                    bytes,
                });
            }
            Ok(out)
        })
    }

    /// The earliest time (ms, the store's clock) a change of `buurt` held back for a retry may
    /// be pushed again; `None` when none is held.
    pub(crate) fn next_retry_at(&self, buurt: &str) -> Result<Option<i64>> {
        self.with_conn(|conn, _| {
            Ok(conn
                .prepare_cached(
                    "SELECT min(o.retry_at) FROM outbox o JOIN documents d ON d.id = o.doc_id
                     WHERE o.acked_at IS NULL AND o.rejected_code IS NULL
                       AND o.retry_at IS NOT NULL AND d.buurt = ?1",
                )?
                .query_row([buurt], |r| r.get(0))?)
        })
    }

    /// Un-acknowledged, un-rejected local changes in `buurt`.
    pub(crate) fn pending_count_for(&self, buurt: &str) -> Result<i64> {
        self.with_conn(|conn, _| {
            Ok(conn
                .prepare_cached(
                    "SELECT count(*) FROM outbox o JOIN documents d ON d.id = o.doc_id
                     WHERE o.acked_at IS NULL AND o.rejected_code IS NULL AND d.buurt = ?1",
                )?
                .query_row([buurt], |r| r.get(0))?)
        })
    }

    /// Local changes the relay refused, newest first (at most `limit`).
    pub(crate) fn rejected_for(
        &self,
        buurt: &str,
        limit: usize,
    ) -> Result<Vec<(String, String, String)>> {
        self.with_conn(|conn, _| {
            let mut stmt = conn.prepare_cached(
                "SELECT o.doc_id, o.rejected_code, coalesce(o.rejected_reason, '') FROM outbox o
                 LEFT JOIN documents d ON d.id = o.doc_id
                 WHERE o.rejected_code IS NOT NULL AND (d.buurt = ?1 OR d.id IS NULL)
                 ORDER BY o.seq DESC LIMIT ?2",
            )?;
            let rows = stmt.query_map(
                params![buurt, i64::try_from(limit).unwrap_or(i64::MAX)],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    /// Records a round's outcome in one transaction: acks, refusals for good (`rejected`),
    /// refusals that may pass (`retry`: counted, the change held back for
    /// [`crate::retry::retry_wait_ms`] after its `n`th such refusal, or refused for good when
    /// [`crate::retry::gives_up`]), and the new cursor. Returns the seqs of the `retry` changes
    /// refused for good now.
    pub(crate) fn record_round(
        &self,
        buurt: &str,
        acked: &[i64],
        rejected: &[(i64, String, String)],
        retry: &[(i64, String, String)],
        cursor: i64,
    ) -> Result<Vec<i64>> {
        let now = self.now_ms();
        self.with_tx(|tx| {
            let mut ack = tx.prepare_cached(
                "UPDATE outbox SET acked_at = ?2, bytes = NULL, retry_at = NULL
                 WHERE seq = ?1 AND acked_at IS NULL",
            )?;
            for seq in acked {
                ack.execute(params![seq, now])?;
            }
            let mut rej = tx.prepare_cached(
                "UPDATE outbox SET rejected_code = ?2, rejected_reason = ?3, retry_at = NULL
                 WHERE seq = ?1 AND acked_at IS NULL",
            )?;
            for (seq, code, reason) in rejected {
                rej.execute(params![seq, code, reason])?;
            }
            let mut count = tx.prepare_cached(
                "UPDATE outbox SET retries = retries + 1
                 WHERE seq = ?1 AND acked_at IS NULL AND rejected_code IS NULL RETURNING retries",
            )?;
            let mut hold = tx.prepare_cached("UPDATE outbox SET retry_at = ?2 WHERE seq = ?1")?;
            let mut given_up = Vec::new();
            for (seq, code, reason) in retry {
                let Some(n) = count
                    .query_row([seq], |r| r.get::<_, i64>(0))
                    .optional()?
                else {
                    continue;
                };
                if crate::retry::gives_up(code, n) {
                    rej.execute(params![seq, code, reason])?;
                    given_up.push(*seq);
                } else {
                    hold.execute(params![seq, now.saturating_add(crate::retry::retry_wait_ms(n))])?;
                }
            }
            tx.prepare_cached(
                "UPDATE buurten SET cursor = max(cursor, ?2), head = max(head, ?2), last_sync_at = ?3,
                     last_error = NULL, last_error_at = NULL, failures = 0 WHERE id = ?1",
            )?
            .execute(params![buurt, cursor, now])?;
            Ok(given_up)
        })
    }

    /// Records a failed attempt; returns the number of consecutive failures.
    pub(crate) fn record_failure(&self, buurt: &str, message: &str) -> Result<i64> {
        let now = self.now_ms();
        self.with_tx(|tx| {
            tx.prepare_cached(
                "UPDATE buurten SET last_error = ?2, last_error_at = ?3, failures = failures + 1 WHERE id = ?1",
            )?
            .execute(params![buurt, message, now])?;
            Ok(tx
                .prepare_cached("SELECT failures FROM buurten WHERE id = ?1")?
                .query_row([buurt], |r| r.get(0))
                .optional()?
                .unwrap_or(0))
        })
    }

    /// Documents of `buurt` that wait for changes that never arrived, with their heads (at
    /// most `limit`): the repair path asks the relay for what each lacks.
    ///
    /// # Errors
    ///
    /// Storage errors; a document that does not load is skipped.
    pub fn needing_repair(
        &self,
        buurt: &str,
        limit: usize,
    ) -> Result<Vec<(crate::ids::EntityId, Vec<Vec<u8>>)>> {
        let ids: Vec<String> = self.with_conn(|conn, _| {
            let mut stmt = conn.prepare_cached(
                "SELECT id FROM documents WHERE buurt = ?1 AND needs_repair = 1 ORDER BY id LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![buurt, i64::try_from(limit).unwrap_or(i64::MAX)], |r| r.get(0))?;
            Ok(rows.collect::<Result<Vec<String>, _>>()?)
        })?;
        let mut out = Vec::new();
        for id in ids {
            let id = crate::ids::EntityId::parse(&id)?;
            let mut inner = self.lock();
            let Ok(mut doc) = self.take_doc(&mut inner, &id) else {
                continue;
            };
            let heads = doc.get_heads().iter().map(|h| h.0.to_vec()).collect();
            inner.cache.put(id.clone(), doc);
            out.push((id, heads));
        }
        Ok(out)
    }

    /// Applies what the relay sent for a document's repair.
    ///
    /// # Errors
    ///
    /// As [`Store::apply_remote_changes`].
    pub fn apply_repair(
        &self,
        buurt: &str,
        entity: &crate::ids::EntityId,
        changes: Vec<Vec<u8>>,
    ) -> Result<crate::store::ApplyReport> {
        let batch: Vec<_> = changes.into_iter().map(|c| (entity.clone(), c)).collect();
        self.apply_changes_in(Some(buurt), &batch)
    }

    /// Gives up this device's version of a document after the relay refused one of its local
    /// changes: every later local change of the document depends on the refused one, so none
    /// of them can ever be accepted. The document's stored changes and projection are dropped,
    /// its un-acknowledged local changes are marked `superseded`, and it is marked for repair,
    /// which fetches the relay's version (`/v1/missing` with no heads). The refused changes
    /// stay listed in the sync status.
    pub(crate) fn reset_document(&self, entity: &crate::ids::EntityId) -> Result<()> {
        let mut inner = self.lock();
        inner.cache.pop(entity);
        let tx = inner.conn.transaction()?;
        crate::store::project::delete(&tx, entity)?;
        tx.execute("DELETE FROM entities WHERE id = ?1", [entity.as_str()])?;
        tx.execute(
            "DELETE FROM doc_changes WHERE doc_id = ?1",
            [entity.as_str()],
        )?;
        tx.execute(
            "DELETE FROM change_hashes WHERE doc_id = ?1",
            [entity.as_str()],
        )?;
        tx.execute(
            "UPDATE documents SET snapshot = NULL, changes_since = 0, needs_repair = 1 WHERE id = ?1",
            [entity.as_str()],
        )?;
        tx.execute(
            "UPDATE outbox SET rejected_code = 'superseded',
                 rejected_reason = 'depends on a change the relay refused'
             WHERE doc_id = ?1 AND acked_at IS NULL AND rejected_code IS NULL",
            [entity.as_str()],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Forgets a document entirely (the relay has none of it: its creation was refused).
    #[cfg(feature = "http")]
    pub(crate) fn forget_document(&self, entity: &crate::ids::EntityId) -> Result<()> {
        self.reset_document(entity)?;
        self.with_tx(|tx| {
            tx.execute("DELETE FROM documents WHERE id = ?1", [entity.as_str()])?;
            Ok(())
        })
    }

    /// Records the member's role in `buurt` as the relay reported it; when `buurt` is the
    /// active one, the local identity acts in that role from now on.
    ///
    /// Becoming a coordinator (organiser, staff) widens what the member reads: documents for
    /// the organisers or the participants only, which the relay left out of every earlier pull.
    /// The buurt's cursor then goes back to 0, so the next sync pulls the log again (changes
    /// already held are ignored as duplicates); role changes are rare operator actions.
    /// Returns whether the cursor went back.
    pub(crate) fn record_role(&self, buurt: &str, role: Role) -> Result<bool> {
        let mut inner = self.lock();
        let before: Option<String> = inner
            .conn
            .prepare_cached("SELECT role FROM buurten WHERE id = ?1")?
            .query_row([buurt], |r| r.get(0))
            .optional()?;
        let was_coordinator = before
            .and_then(|r| Role::parse(&r).ok())
            .is_some_and(crate::audience::is_coordinator);
        inner
            .conn
            .prepare_cached("UPDATE buurten SET role = ?2 WHERE id = ?1")?
            .execute(params![buurt, role.as_str()])?;
        let widened = !was_coordinator && crate::audience::is_coordinator(role);
        if widened {
            inner
                .conn
                .prepare_cached("UPDATE buurten SET cursor = 0 WHERE id = ?1")?
                .execute([buurt])?;
            tracing::info!("now a coordinator: pulling the buurt's log again");
        }
        if inner.active_buurt.as_deref() == Some(buurt) && inner.identity.role != role {
            set_setting(&inner.conn, "role", Some(role.as_str()))?;
            tracing::info!(role = role.as_str(), "the relay reports a new role");
            inner.refresh_identity()?;
        }
        drop(inner);
        if was_coordinator && !crate::audience::is_coordinator(role) {
            self.drop_unreadable(buurt, role)?;
        }
        Ok(widened)
    }

    /// After losing a coordinator role: every document of `buurt` the member no longer reads
    /// is reset (its data leaves this device's tables) and marked for repair, which the relay
    /// answers as for an unknown document, so the repair forgets it. Loads each document of the
    /// buurt once; a role change is a rare operator action.
    fn drop_unreadable(&self, buurt: &str, role: Role) -> Result<()> {
        let b = self.buurt(buurt)?;
        let member = crate::ids::MemberId::parse(&b.member)?;
        let ids: Vec<String> = self.with_conn(|conn, _| {
            let mut stmt = conn.prepare_cached(
                "SELECT id FROM documents WHERE buurt = ?1 AND kind IS NOT NULL ORDER BY id",
            )?;
            let rows = stmt.query_map([buurt], |r| r.get(0))?;
            Ok(rows.collect::<std::result::Result<Vec<String>, _>>()?)
        })?;
        let mut dropped = 0usize;
        for id in ids {
            let id = crate::ids::EntityId::parse(&id)?;
            let readable = {
                let mut inner = self.lock();
                let Ok(doc) = self.take_doc(&mut inner, &id) else {
                    continue;
                };
                let readable = crate::audience::readers(&doc).may_read(&member, role);
                inner.cache.put(id.clone(), doc);
                readable
            };
            if !readable {
                self.reset_document(&id)?;
                dropped += 1;
            }
        }
        if dropped > 0 {
            tracing::info!(
                dropped,
                "no longer a coordinator: restricted documents removed"
            );
        }
        Ok(())
    }

    /// Notes the relay's head (from a live notification).
    pub(crate) fn record_head(&self, buurt: &str, head: i64) -> Result<()> {
        self.with_tx(|tx| {
            tx.prepare_cached("UPDATE buurten SET head = max(head, ?2) WHERE id = ?1")?
                .execute(params![buurt, head])?;
            Ok(())
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::clock::ManualClock;
    use crate::model::help::NewHelp;
    use crate::sync::wire::JoinResponse;

    const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    const RELAY: &str = "https://relay.example";

    fn store() -> Store {
        Store::open_in_memory(Arc::new(ManualClock::new(1_790_000_000_000))).unwrap()
    }

    /// Joins `buurt` as the client does: an attempt, then the relay's answer for its member.
    fn join(s: &Store, buurt: &str, invite: &str) -> Result<JoinAttempt> {
        let attempt = s.join_attempt(RELAY, invite)?;
        s.join_buurt(
            RELAY,
            &JoinResponse {
                v: 1,
                buurt: buurt.into(),
                buurt_name: "De Linde".into(),
                member: attempt.member.to_string(),
                role: "resident".into(),
                device: crate::ids::new_hex_id()?,
                token: "t".repeat(64),
            },
        )?;
        Ok(attempt)
    }

    /// The actor of a document's last local change.
    fn actor_of(s: &Store, id: &crate::EntityId) -> String {
        let mut inner = s.lock();
        let mut doc = s.take_doc(&mut inner, id).unwrap();
        let change = doc
            .get_changes(&[])
            .last()
            .map(|c| c.actor_id().to_hex_string());
        inner.cache.put(id.clone(), doc);
        change.unwrap()
    }

    /// Finding 6 (issue 11): one store in two buurten is two unrelated members with two actors;
    /// what it writes in each buurt carries that buurt's ids, whichever buurt is active.
    #[test]
    fn a_store_in_two_buurten_has_ids_of_its_own_in_each() -> Result<()> {
        let s = store();
        let before = s.identity();
        let early = s.create_help(&NewHelp::ask("groceries", "Voor het lid worden"))?;
        let in_a = join(&s, A, "AAAA-AAAA-AAAA")?;
        // The first join registers the ids the store had (what was written before stays valid).
        assert_eq!((&in_a.member, &in_a.actor), (&before.member, &before.actor));
        let help_a = s.create_help(&NewHelp::ask("groceries", "In A"))?;
        let in_b = join(&s, B, "BBBB-BBBB-BBBB")?;
        assert_ne!(in_a.member, in_b.member);
        assert_ne!(in_a.actor, in_b.actor);
        assert_ne!(in_a.secret, in_b.secret);
        // Active: B. Its identity is B's; a new entity is B's and written with B's ids.
        assert_eq!(s.identity().member, in_b.member);
        assert_eq!(s.identity().actor, in_b.actor);
        let help_b = s.create_help(&NewHelp::ask("groceries", "In B"))?;
        assert_eq!(s.help(&help_b)?.requester, in_b.member);
        assert_eq!(actor_of(&s, &help_b), in_b.actor);
        // An edit of A's entity while B is active is written with A's ids.
        s.add_comment(&help_a, "nog steeds nodig")?;
        assert_eq!(actor_of(&s, &help_a), in_a.actor);
        assert_eq!(
            s.comments(&help_a)?[0].author,
            in_a.member,
            "the comment is by A's member"
        );
        assert_eq!(actor_of(&s, &early), in_a.actor);
        s.set_active_buurt(A)?;
        assert_eq!(s.identity().member, in_a.member);
        let bs = s.buurten()?;
        assert_eq!(
            bs.iter().map(|b| b.member.as_str()).collect::<Vec<_>>(),
            [in_a.member.as_str(), in_b.member.as_str()]
        );
        // The ids the next join would send are fresh again.
        let next = s.join_attempt(RELAY, "CCCC-CCCC-CCCC")?;
        assert!(next.member != in_a.member && next.member != in_b.member);
        assert!(next.actor != in_a.actor && next.actor != in_b.actor);
        Ok(())
    }

    /// Finding 8 (issue 11): an attempt is stored before it is sent; asking again for the same
    /// invite (a retry after a lost answer, however typed) gives the same ids and secret, until
    /// the join is recorded or forgotten.
    #[test]
    fn a_join_attempt_is_the_same_until_it_is_answered() -> Result<()> {
        let s = store();
        let first = s.join_attempt(RELAY, "k7qm-3xhd-9pta")?;
        assert_eq!(first.secret.len(), 64);
        assert!(!format!("{first:?}").contains(&first.secret));
        assert_eq!(
            s.join_attempt(&format!("{RELAY}/"), "K7QM 3XHD 9PTA")?,
            first
        );
        s.forget_join_attempt(RELAY, "K7QM-3XHD-9PTA")?;
        let second = s.join_attempt(RELAY, "K7QM-3XHD-9PTA")?;
        assert_ne!(second.secret, first.secret);
        assert_eq!(second.member, first.member, "still the pending ids");
        s.join_buurt(
            RELAY,
            &JoinResponse {
                v: 1,
                buurt: A.into(),
                buurt_name: "De Linde".into(),
                member: second.member.to_string(),
                role: "resident".into(),
                device: "d".repeat(32),
                token: "t".repeat(64),
            },
        )?;
        let third = s.join_attempt(RELAY, "K7QM-3XHD-9PTA")?;
        assert_ne!(third.secret, second.secret);
        assert_ne!(third.member, second.member);
        Ok(())
    }

    /// A second phone adopts the member of one buurt for its next join; a buurt joined before
    /// keeps its ids.
    #[test]
    fn adopting_a_member_changes_only_the_next_join() -> Result<()> {
        let s = store();
        let in_a = join(&s, A, "AAAA-AAAA-AAAA")?;
        s.create_help(&NewHelp::ask("groceries", "In A"))?;
        let phone = MemberId::new()?;
        s.adopt_member(&phone)?;
        assert_eq!(s.identity().member, in_a.member, "A keeps its member");
        let in_b = join(&s, B, "BBBB-BBBB-BBBB")?;
        assert_eq!(in_b.member, phone);
        assert_eq!(s.buurt(A)?.member, in_a.member.as_str());
        Ok(())
    }
}
