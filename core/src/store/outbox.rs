//! The local change log ("outbox"): every change this device made, in order, kept with its
//! bytes until a relay acknowledges it as durable. The sync engine reads it with
//! [`Store::pending_changes`] and marks progress with [`Store::ack_changes`].

use rusqlite::{Transaction, params};

use crate::error::Result;
use crate::ids::EntityId;
use crate::store::Store;

/// One un-acknowledged local change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingChange {
    /// Position in the local log (strictly increasing).
    pub seq: i64,
    /// The entity (document) it belongs to.
    pub entity: EntityId,
    /// The change hash, hex.
    pub hash: String,
    /// The raw Automerge change bytes.
    pub bytes: Vec<u8>,
}

/// What [`Store::apply_remote_changes`] did with a batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ApplyReport {
    /// Changes new to this device, stored and applied.
    pub applied: usize,
    /// Changes the device already had (ignored).
    pub duplicates: usize,
    /// Documents still waiting for their creation change (stored, not yet listed).
    pub waiting: usize,
    /// Changes stored unapplied because their document is corrupt on this device.
    pub corrupt: usize,
    /// Pulled changes skipped because they could not be decoded or applied.
    pub skipped: usize,
}

pub(crate) fn record(
    tx: &Transaction<'_>,
    id: &EntityId,
    hash: &automerge::ChangeHash,
    bytes: &[u8],
    now: i64,
) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO outbox (doc_id, hash, bytes, created_at) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![id.as_str(), hash.0.as_slice(), bytes, now])?;
    Ok(())
}

impl Store {
    /// Up to `limit` local changes not yet acknowledged, oldest first.
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub fn pending_changes(&self, limit: usize) -> Result<Vec<OutgoingChange>> {
        self.with_conn(|conn, _| {
            let mut stmt = conn.prepare_cached(
                "SELECT seq, doc_id, hash, bytes FROM outbox WHERE acked_at IS NULL ORDER BY seq LIMIT ?1",
            )?;
            let rows = stmt.query_map([i64::try_from(limit).unwrap_or(i64::MAX)], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, Vec<u8>>(2)?, r.get::<_, Vec<u8>>(3)?))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (seq, doc, hash, bytes) = row?;
                out.push(OutgoingChange {
                    seq,
                    entity: EntityId::parse(&doc)?,
                    hash: crate::ids::hex(&hash),
                    bytes,
                });
            }
            Ok(out)
        })
    }

    /// How many local changes wait to be synced: not acknowledged and not refused for good
    /// (a change the relay refused for now, `unavailable` or `missing_dependencies`, still
    /// waits; see [`crate::sync::engine`]). The same count as the buurten's
    /// [`crate::sync::engine::SyncStatus::pending`] together, plus changes of documents not in
    /// any buurt yet.
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub fn pending_count(&self) -> Result<u64> {
        self.outbox_count("acked_at IS NULL AND rejected_code IS NULL")
    }

    /// How many local changes the relay refused for good (never pushed again; each buurt's
    /// [`crate::sync::engine::SyncStatus::rejected`] lists the latest).
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub fn refused_count(&self) -> Result<u64> {
        self.outbox_count("rejected_code IS NOT NULL")
    }

    fn outbox_count(&self, filter: &'static str) -> Result<u64> {
        self.with_conn(|conn, _| {
            let n: i64 = conn
                .prepare_cached(&format!("SELECT count(*) FROM outbox WHERE {filter}"))?
                .query_row([], |r| r.get(0))?;
            Ok(u64::try_from(n).unwrap_or(0))
        })
    }

    /// Marks the changes with these local `seq`s as acknowledged (durable on a relay) and drops
    /// their outbox bytes (the document keeps them). Unknown or already acked seqs are ignored,
    /// so a repeated ack is harmless. Returns how many were newly acknowledged.
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub fn ack_changes(&self, seqs: &[i64]) -> Result<usize> {
        let now = self.now_ms();
        self.with_tx(|tx| {
            let mut stmt = tx.prepare_cached(
                "UPDATE outbox SET acked_at = ?2, bytes = NULL WHERE seq = ?1 AND acked_at IS NULL",
            )?;
            let mut n = 0;
            for seq in seqs {
                n += stmt.execute(params![seq, now])?;
            }
            Ok(n)
        })
    }
}
