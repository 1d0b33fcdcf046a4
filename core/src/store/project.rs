//! Writing projection rows: one entity's [`Projection`] into the plain SQL tables that lists,
//! filters, counts and search read (`entities` with the kind's [`Detail`] as its stored JSON,
//! `participants`, `notices`, `comments`, `search`). Called in the same transaction as the
//! change that caused it, and by the rebuild.
//!
//! Only what changed is written: most operations move a status or add one entry, and every
//! row rewritten is pages the commit writes (the local write's cost is mostly pages). So the
//! entity's row is upserted, and its participant, notice and comment rows and its full-text
//! entry are compared with what is stored and touched only where they differ. The result is
//! the same as deleting and inserting everything (`rebuild_projections` is compared with the
//! incremental rows in the tests).

use std::collections::{BTreeMap, BTreeSet};

use rusqlite::{OptionalExtension, Transaction, params, params_from_iter};

use crate::error::Result;
use crate::ids::EntityId;
#[cfg(doc)]
use crate::model::Detail;
use crate::model::Projection;

/// Removes every projection row of `id`.
pub(crate) fn delete(tx: &Transaction<'_>, id: &EntityId) -> Result<()> {
    let seq: Option<i64> = {
        tx.prepare_cached("SELECT seq FROM entities WHERE id = ?1")?
            .query_row([id.as_str()], |r| r.get(0))
            .optional()?
    };
    if let Some(seq) = seq {
        tx.prepare_cached("DELETE FROM search WHERE rowid = ?1")?
            .execute([seq])?;
    }
    for sql in [
        "DELETE FROM participants WHERE entity_id = ?1",
        "DELETE FROM notices WHERE entity_id = ?1",
        "DELETE FROM comments WHERE entity_id = ?1",
    ] {
        tx.prepare_cached(sql)?.execute([id.as_str()])?;
    }
    Ok(())
}

/// Replaces the projection rows of `id` by `p`.
pub(crate) fn write(tx: &Transaction<'_>, id: &EntityId, p: &Projection) -> Result<()> {
    let detail = p.detail.to_stored()?;
    let seq: i64 = tx
        .prepare_cached(
            "INSERT INTO entities (id, kind, status, category, title, created_by, created_at,
                 updated_at, starts_at, ends_at, expires_at, due_at, overdue_at, lat, lon,
                 location_label, needs_response, detail)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)
             ON CONFLICT(id) DO UPDATE SET kind = excluded.kind, status = excluded.status,
                 category = excluded.category, title = excluded.title,
                 created_by = excluded.created_by, created_at = excluded.created_at,
                 updated_at = excluded.updated_at, starts_at = excluded.starts_at,
                 ends_at = excluded.ends_at, expires_at = excluded.expires_at,
                 due_at = excluded.due_at, overdue_at = excluded.overdue_at, lat = excluded.lat,
                 lon = excluded.lon, location_label = excluded.location_label,
                 needs_response = excluded.needs_response, detail = excluded.detail
             RETURNING seq",
        )?
        .query_row(
            params![
                id.as_str(),
                p.kind.as_str(),
                p.status,
                p.category,
                p.title,
                p.created_by.as_str(),
                p.created_at,
                p.updated_at,
                p.starts_at,
                p.ends_at,
                p.expires_at,
                p.due_at,
                p.overdue_at,
                p.lat,
                p.lon,
                p.location_label,
                p.needs_response,
                detail,
            ],
            |r| r.get(0),
        )?;

    write_set(
        tx,
        id,
        "participants",
        &["member_id", "relation"],
        p.participants
            .iter()
            .map(|x| vec![x.member.as_str().to_owned(), x.relation.as_str().to_owned()])
            .collect(),
    )?;
    write_set(
        tx,
        id,
        "notices",
        &["member_id", "code", "text"],
        p.notices
            .iter()
            .map(|n| {
                vec![
                    n.member.as_str().to_owned(),
                    n.code.as_str().to_owned(),
                    n.text.clone(),
                ]
            })
            .collect(),
    )?;
    write_comments(tx, id, p)?;

    let mut comment_text = String::new();
    for c in p.comments.iter().filter(|c| !c.withdrawn) {
        comment_text.push_str(&c.body);
        comment_text.push('\n');
    }
    let stored: Option<(String, String, String)> = tx
        .prepare_cached("SELECT title, body, comments FROM search WHERE rowid = ?1")?
        .query_row([seq], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    let text = (p.title.as_str(), p.body.as_str(), comment_text.as_str());
    if stored
        .as_ref()
        .map(|(t, b, c)| (t.as_str(), b.as_str(), c.as_str()))
        != Some(text)
    {
        if stored.is_some() {
            tx.prepare_cached("DELETE FROM search WHERE rowid = ?1")?
                .execute([seq])?;
        }
        tx.prepare_cached(
            "INSERT INTO search (rowid, title, body, comments) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![seq, p.title, p.body, comment_text])?;
    }
    Ok(())
}

/// Brings the rows of `id` in `table` — rows whose every column (`entity_id`, then `cols`) is
/// the key — to `want`: deletes the rows no longer wanted, inserts the new ones, leaves the rest.
fn write_set(
    tx: &Transaction<'_>,
    id: &EntityId,
    table: &str,
    cols: &[&str],
    want: BTreeSet<Vec<String>>,
) -> Result<()> {
    let select = format!(
        "SELECT {} FROM {table} WHERE entity_id = ?1",
        cols.join(", ")
    );
    let have: BTreeSet<Vec<String>> = tx
        .prepare_cached(&select)?
        .query_map([id.as_str()], |r| {
            (0..cols.len()).map(|i| r.get(i)).collect()
        })?
        .collect::<rusqlite::Result<_>>()?;
    let args = |row: &[String]| -> Vec<String> {
        std::iter::once(id.as_str().to_owned())
            .chain(row.iter().cloned())
            .collect()
    };
    let matching: Vec<String> = cols
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{c} = ?{}", i + 2))
        .collect();
    let delete = format!(
        "DELETE FROM {table} WHERE entity_id = ?1 AND {}",
        matching.join(" AND ")
    );
    for row in have.difference(&want) {
        tx.prepare_cached(&delete)?
            .execute(params_from_iter(args(row)))?;
    }
    let marks: Vec<String> = (1..=cols.len() + 1).map(|i| format!("?{i}")).collect();
    let insert = format!(
        "INSERT INTO {table} (entity_id, {}) VALUES ({})",
        cols.join(", "),
        marks.join(", ")
    );
    for row in want.difference(&have) {
        tx.prepare_cached(&insert)?
            .execute(params_from_iter(args(row)))?;
    }
    Ok(())
}

/// One stored comment row after its id: author, at, body, edited_at, withdrawn.
type CommentCols = (String, i64, String, Option<i64>, bool);

/// Brings the comment rows of `id` to `p.comments`, touching only added, changed or removed
/// comments.
fn write_comments(tx: &Transaction<'_>, id: &EntityId, p: &Projection) -> Result<()> {
    let have: BTreeMap<String, CommentCols> = tx
        .prepare_cached(
            "SELECT comment_id, author, at, body, edited_at, withdrawn FROM comments
             WHERE entity_id = ?1",
        )?
        .query_map([id.as_str()], |r| {
            Ok((
                r.get(0)?,
                (r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?),
            ))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let want: BTreeMap<&str, CommentCols> = p
        .comments
        .iter()
        .map(|c| {
            let cols = (
                c.author.as_str().to_owned(),
                c.at,
                c.body.clone(),
                c.edited_at,
                c.withdrawn,
            );
            (c.id.as_str(), cols)
        })
        .collect();
    for gone in have.keys().filter(|k| !want.contains_key(k.as_str())) {
        tx.prepare_cached("DELETE FROM comments WHERE entity_id = ?1 AND comment_id = ?2")?
            .execute(params![id.as_str(), gone])?;
    }
    for (cid, (author, at, body, edited_at, withdrawn)) in &want {
        let row = (author.clone(), *at, body.clone(), *edited_at, *withdrawn);
        if have.get(*cid) != Some(&row) {
            tx.prepare_cached(
                "INSERT OR REPLACE INTO comments
                     (entity_id, comment_id, author, at, body, edited_at, withdrawn)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                id.as_str(),
                cid,
                author,
                at,
                body,
                edited_at,
                withdrawn
            ])?;
        }
    }
    Ok(())
}
