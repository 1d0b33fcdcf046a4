//! Writing projection rows: one entity's [`Projection`] into the plain SQL tables that lists,
//! filters, counts and search read. Called in the same transaction as the change that caused
//! it, and by the rebuild.

use rusqlite::{Transaction, params};

use crate::error::Result;
use crate::ids::EntityId;
use crate::model::{KindRow, Projection};

/// Kind-specific columns as JSON, kept in `entities.detail` for display in lists.
fn detail_json(row: &KindRow) -> serde_json::Value {
    use serde_json::json;
    match row {
        KindRow::Help {
            mode,
            urgency,
            precision,
            helper,
            responses,
        } => json!({
            "mode": mode, "urgency": urgency, "precision": precision,
            "helper": helper, "responses": responses,
        }),
        KindRow::Event {
            capacity,
            going,
            waitlisted,
            maybe,
            shifts_needed,
            shifts_filled,
        } => json!({
            "capacity": capacity, "going": going, "waitlisted": waitlisted, "maybe": maybe,
            "shifts_needed": shifts_needed, "shifts_filled": shifts_filled,
        }),
        KindRow::Task {
            adopter,
            backups,
            pledges,
            pledge_target,
            paused,
            next_open,
            recurrence,
        } => json!({
            "adopter": adopter, "backups": backups, "pledges": pledges,
            "pledge_target": pledge_target, "paused": paused, "next_open": next_open,
            "recurrence": recurrence,
        }),
        KindRow::Report {
            severity,
            me_too,
            responsible,
            photos,
        } => json!({
            "severity": severity, "me_too": me_too, "responsible": responsible, "photos": photos,
        }),
        KindRow::Profile {
            display_name,
            household,
        } => json!({
            "display_name": display_name, "household": household,
        }),
    }
}

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
        "DELETE FROM help_requests WHERE id = ?1",
        "DELETE FROM events WHERE id = ?1",
        "DELETE FROM tasks WHERE id = ?1",
        "DELETE FROM reports WHERE id = ?1",
        "DELETE FROM profiles WHERE id = ?1",
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
    let detail = detail_json(&p.row).to_string();
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

    match &p.row {
        KindRow::Help {
            mode,
            urgency,
            precision,
            helper,
            responses,
        } => {
            tx.prepare_cached(
                "INSERT INTO help_requests (id, mode, urgency, precision, helper, responses)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                id.as_str(),
                mode,
                urgency,
                precision,
                helper.as_ref().map(|m| m.as_str()),
                responses
            ])?;
        }
        KindRow::Event {
            capacity,
            going,
            waitlisted,
            maybe,
            shifts_needed,
            shifts_filled,
        } => {
            tx.prepare_cached(
                "INSERT INTO events (id, capacity, going, waitlisted, maybe, shifts_needed, shifts_filled)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![id.as_str(), capacity, going, waitlisted, maybe, shifts_needed, shifts_filled])?;
        }
        KindRow::Task {
            adopter,
            backups,
            pledges,
            pledge_target,
            paused,
            next_open,
            recurrence,
        } => {
            tx.prepare_cached(
                "INSERT INTO tasks (id, adopter, backups, pledges, pledge_target, paused, next_open, recurrence)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                id.as_str(),
                adopter.as_ref().map(|m| m.as_str()),
                backups,
                pledges,
                pledge_target,
                paused,
                next_open,
                recurrence
            ])?;
        }
        KindRow::Report {
            severity,
            me_too,
            responsible,
            photos,
        } => {
            tx.prepare_cached(
                "INSERT INTO reports (id, severity, me_too, responsible, photos) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![id.as_str(), severity, me_too, responsible, photos])?;
        }
        KindRow::Profile {
            display_name,
            household,
        } => {
            tx.prepare_cached(
                "INSERT INTO profiles (id, display_name, household) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![id.as_str(), display_name, household])?;
        }
    }

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
