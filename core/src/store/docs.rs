//! Document bytes on disk: incremental changes plus compacted snapshots.
//!
//! A document is stored as an optional snapshot (`save()` output) plus the changes that arrived
//! since, one row each. Loading applies the snapshot, then the changes. After
//! [`COMPACT_AFTER`] incremental changes the document is saved whole and its change rows
//! dropped, so loading stays fast and the database stays small. Only this module and the other
//! `store` modules write SQL.

use automerge::{AutoCommit, Change, ChangeHash};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::error::{Error, Result};
use crate::ids::EntityId;
use crate::model::Kind;

/// Incremental changes kept per document before it is compacted into a snapshot.
pub(crate) const COMPACT_AFTER: i64 = 64;

/// Runs Automerge on bytes it may choke on. Automerge 0.12 can panic on malformed input (an
/// out-of-range actor index in a forged change, for one) instead of returning an error; a panic
/// there must not take the app or the relay down, so it becomes an error for that input. The
/// document being worked on is dropped by the caller (it may be half-updated).
pub(crate) fn guard<T>(what: &str, f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(_) => Err(format!("{what} made the document library fail")),
    }
}

/// Loads one document from its snapshot and change rows.
///
/// # Errors
///
/// [`Error::NotFound`] when no row exists; [`Error::Corrupt`] when its bytes do not decode.
pub(crate) fn load(conn: &Connection, id: &EntityId) -> Result<AutoCommit> {
    let snapshot: Option<Option<Vec<u8>>> = conn
        .prepare_cached("SELECT snapshot FROM documents WHERE id = ?1")?
        .query_row([id.as_str()], |r| r.get(0))
        .optional()?;
    let Some(snapshot) = snapshot else {
        return Err(Error::not_found("entity", id.as_str()));
    };
    let corrupt = |reason: String| Error::Corrupt {
        id: id.clone(),
        reason,
    };
    let mut doc = match snapshot {
        Some(bytes) => guard("snapshot", || {
            AutoCommit::load(&bytes).map_err(|e| format!("snapshot: {e}"))
        })
        .map_err(corrupt)?,
        None => AutoCommit::new(),
    };
    let mut stmt =
        conn.prepare_cached("SELECT bytes FROM doc_changes WHERE doc_id = ?1 ORDER BY seq")?;
    let mut rows = stmt.query([id.as_str()])?;
    let mut changes = Vec::new();
    while let Some(row) = rows.next()? {
        let bytes: Vec<u8> = row.get(0)?;
        changes.push(Change::from_bytes(bytes).map_err(|e| corrupt(format!("change: {e}")))?);
    }
    if !changes.is_empty() {
        doc.apply_changes(changes)
            .map_err(|e| corrupt(format!("applying changes: {e}")))?;
    }
    Ok(doc)
}

/// The kind recorded for a document, if the document exists and its kind is known.
pub(crate) fn kind_of(conn: &Connection, id: &EntityId) -> Result<Option<Option<Kind>>> {
    let row: Option<Option<String>> = conn
        .prepare_cached("SELECT kind FROM documents WHERE id = ?1")?
        .query_row([id.as_str()], |r| r.get(0))
        .optional()?;
    Ok(match row {
        None => None,
        Some(None) => Some(None),
        Some(Some(k)) => Some(Some(Kind::parse(&k)?)),
    })
}

/// The buurt a stored document belongs to: `None` for no such document, `Some(None)` for one
/// with no buurt yet (made before any join, or applied from outside a sync).
pub(crate) fn buurt_of(conn: &Connection, id: &EntityId) -> Result<Option<Option<String>>> {
    Ok(conn
        .prepare_cached("SELECT buurt FROM documents WHERE id = ?1")?
        .query_row([id.as_str()], |r| r.get(0))
        .optional()?)
}

/// Whether the device already has the change with this hash.
pub(crate) fn has_change(tx: &Transaction<'_>, hash: &ChangeHash) -> Result<bool> {
    Ok(tx
        .prepare_cached("SELECT 1 FROM change_hashes WHERE hash = ?1")?
        .exists([hash.0.as_slice()])?)
}

/// Appends one change to a document's rows, creating the document row when new.
/// Compacts the document when it has accumulated [`COMPACT_AFTER`] changes.
#[allow(clippy::too_many_arguments)]
pub(crate) fn append_change(
    tx: &Transaction<'_>,
    id: &EntityId,
    buurt: Option<&str>,
    kind: Option<Kind>,
    hash: &ChangeHash,
    bytes: &[u8],
    now: i64,
    doc: &mut AutoCommit,
) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO documents (id, kind, changes_since, updated_at, buurt) VALUES (?1, ?2, 1, ?3, ?4)
         ON CONFLICT(id) DO UPDATE SET
             kind = coalesce(documents.kind, excluded.kind),
             buurt = coalesce(documents.buurt, excluded.buurt),
             changes_since = documents.changes_since + 1,
             updated_at = excluded.updated_at",
    )?
    .execute(params![id.as_str(), kind.map(Kind::as_str), now, buurt])?;
    tx.prepare_cached("INSERT INTO doc_changes (doc_id, hash, bytes) VALUES (?1, ?2, ?3)")?
        .execute(params![id.as_str(), hash.0.as_slice(), bytes])?;
    tx.prepare_cached("INSERT OR IGNORE INTO change_hashes (hash, doc_id) VALUES (?1, ?2)")?
        .execute(params![hash.0.as_slice(), id.as_str()])?;
    let since: i64 = tx
        .prepare_cached("SELECT changes_since FROM documents WHERE id = ?1")?
        .query_row([id.as_str()], |r| r.get(0))?;
    if since >= COMPACT_AFTER {
        compact(tx, id, doc)?;
    }
    Ok(())
}

/// Stores a change for a document that cannot be loaded (corrupt), without applying it, so it
/// is not lost; a repair can replay it.
pub(crate) fn store_unapplied(
    tx: &Transaction<'_>,
    id: &EntityId,
    hash: &ChangeHash,
    bytes: &[u8],
    now: i64,
) -> Result<()> {
    tx.prepare_cached(
        "UPDATE documents SET changes_since = changes_since + 1, updated_at = ?2 WHERE id = ?1",
    )?
    .execute(params![id.as_str(), now])?;
    tx.prepare_cached("INSERT INTO doc_changes (doc_id, hash, bytes) VALUES (?1, ?2, ?3)")?
        .execute(params![id.as_str(), hash.0.as_slice(), bytes])?;
    tx.prepare_cached("INSERT OR IGNORE INTO change_hashes (hash, doc_id) VALUES (?1, ?2)")?
        .execute(params![hash.0.as_slice(), id.as_str()])?;
    Ok(())
}

/// Replaces a document's snapshot and change rows by one `save()`.
///
/// Changes still waiting for missing dependencies are not part of `save()`; they are kept as
/// change rows so nothing received is dropped.
pub(crate) fn compact(tx: &Transaction<'_>, id: &EntityId, doc: &mut AutoCommit) -> Result<()> {
    let snapshot = doc.save();
    // Rows whose change made it into the document are covered by the snapshot.
    let mut keep = Vec::new();
    {
        let mut stmt = tx.prepare_cached("SELECT seq, hash FROM doc_changes WHERE doc_id = ?1")?;
        let mut rows = stmt.query([id.as_str()])?;
        while let Some(row) = rows.next()? {
            let seq: i64 = row.get(0)?;
            let hash: Vec<u8> = row.get(1)?;
            let covered = ChangeHash::try_from(hash.as_slice())
                .ok()
                .and_then(|h| doc.get_change_by_hash(&h))
                .is_some();
            if !covered {
                keep.push(seq);
            }
        }
    }
    let kept = keep.len() as i64;
    if keep.is_empty() {
        tx.prepare_cached("DELETE FROM doc_changes WHERE doc_id = ?1")?
            .execute([id.as_str()])?;
    } else {
        let mut stmt = tx.prepare_cached("SELECT seq FROM doc_changes WHERE doc_id = ?1")?;
        let all: Vec<i64> = stmt
            .query_map([id.as_str()], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let mut del = tx.prepare_cached("DELETE FROM doc_changes WHERE seq = ?1")?;
        for seq in all.into_iter().filter(|s| !keep.contains(s)) {
            del.execute([seq])?;
        }
    }
    tx.prepare_cached("UPDATE documents SET snapshot = ?2, changes_since = ?3 WHERE id = ?1")?
        .execute(params![id.as_str(), snapshot, kept])?;
    Ok(())
}

/// Every document id, in a stable order.
pub(crate) fn all_ids(conn: &Connection) -> Result<Vec<EntityId>> {
    let mut stmt = conn.prepare("SELECT id FROM documents ORDER BY id")?;
    let ids = stmt
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    ids.iter().map(|s| EntityId::parse(s)).collect()
}
