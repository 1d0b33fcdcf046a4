//! Writing projection rows: one entity's [`Projection`] into the plain SQL tables that lists,
//! filters, counts and search read (`entities` with the kind's [`Detail`] as its stored JSON,
//! `participants`, `notices`, `comments`, `search`). Called in the same transaction as the change that caused
//! it, and by the rebuild.

use rusqlite::{Transaction, params};

use crate::error::Result;
use crate::ids::EntityId;
#[cfg(doc)]
use crate::model::Detail;
use crate::model::Projection;

/// Removes every projection row of `id`.
pub(crate) fn delete(tx: &Transaction<'_>, id: &EntityId) -> Result<()> {
    let seq: Option<i64> = {
        use rusqlite::OptionalExtension;
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
    delete(tx, id)?;
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

    let mut ins = tx.prepare_cached(
        "INSERT OR IGNORE INTO participants (entity_id, member_id, relation) VALUES (?1, ?2, ?3)",
    )?;
    for part in &p.participants {
        ins.execute(params![
            id.as_str(),
            part.member.as_str(),
            part.relation.as_str()
        ])?;
    }
    let mut ins = tx.prepare_cached(
        "INSERT OR IGNORE INTO notices (entity_id, member_id, code, text) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for n in &p.notices {
        ins.execute(params![
            id.as_str(),
            n.member.as_str(),
            n.code.as_str(),
            n.text
        ])?;
    }
    let mut ins = tx.prepare_cached(
        "INSERT INTO comments (entity_id, comment_id, author, at, body, edited_at, withdrawn)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    let mut comment_text = String::new();
    for c in &p.comments {
        ins.execute(params![
            id.as_str(),
            c.id,
            c.author.as_str(),
            c.at,
            c.body,
            c.edited_at,
            c.withdrawn
        ])?;
        if !c.withdrawn {
            comment_text.push_str(&c.body);
            comment_text.push('\n');
        }
    }
    tx.prepare_cached("INSERT INTO search (rowid, title, body, comments) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![seq, p.title, p.body, comment_text])?;
    Ok(())
}
