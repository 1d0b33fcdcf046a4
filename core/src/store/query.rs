//! Queries an app screen makes: all SQL over projections, none loads a document.
//!
//! Clock-dependent statuses are derived here, in SQL, from the stored timestamps and the
//! store's clock: an `open` entity past `expires_at` is `expired`; an entity past `overdue_at`
//! is `overdue`, past `due_at` it is `due`. Pagination is keyset (no OFFSET), so a page costs
//! the same at the end of a long list as at its start.

use rusqlite::types::Value;
use rusqlite::{Connection, params_from_iter};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::ids::EntityId;
use crate::model::{CommentRow, Detail, Kind};
use crate::store::Store;

/// The status a list shows, with the clock applied (`?1` is now).
const EFFECTIVE_STATUS: &str = "CASE \
    WHEN e.status = 'open' AND e.expires_at IS NOT NULL AND e.expires_at <= ?1 THEN 'expired' \
    WHEN e.overdue_at IS NOT NULL AND e.overdue_at <= ?1 THEN 'overdue' \
    WHEN e.due_at IS NOT NULL AND e.due_at <= ?1 THEN 'due' \
    ELSE e.status END";

/// Largest page a query returns.
pub const MAX_PAGE: u32 = 500;

/// Sort order of a list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Order {
    /// Most recently active first (`updated_at` descending).
    #[default]
    Recent,
    /// Soonest first by start time (`starts_at` ascending); entities without one are left out.
    Upcoming,
}

/// A rectangle of latitude/longitude.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BBox {
    /// Southern edge.
    pub south: f64,
    /// Western edge.
    pub west: f64,
    /// Northern edge.
    pub north: f64,
    /// Eastern edge.
    pub east: f64,
}

/// A list query. All filters combine with AND; `Default` lists everything, recent first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListQuery {
    /// Only this kind.
    pub kind: Option<Kind>,
    /// Only this (effective) status, e.g. `open`, `expired`, `overdue`.
    pub status: Option<String>,
    /// Only this category.
    pub category: Option<String>,
    /// Only entities whose time range (or creation time) reaches at or after this.
    pub from: Option<i64>,
    /// ... and starts at or before this.
    pub to: Option<i64>,
    /// Only entities with a point inside this box.
    pub bbox: Option<BBox>,
    /// Only entities the local member takes part in (created, responded, RSVPed, adopted, ...).
    pub mine: bool,
    /// Only entities that need a response (each kind defines it).
    pub needs_response: bool,
    /// Full-text search over titles, bodies and comments (words, prefix-matched).
    pub text: Option<String>,
    /// Sort order.
    pub order: Order,
    /// Page size (1..=[`MAX_PAGE`]; 0 means 50).
    pub limit: u32,
    /// The `next` cursor of the previous page.
    pub after: Option<String>,
}

/// One row of a list.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Entity id.
    pub id: String,
    /// Kind.
    pub kind: Kind,
    /// Effective status (clock applied).
    pub status: String,
    /// Category.
    pub category: Option<String>,
    /// Title.
    pub title: String,
    /// Creator.
    pub created_by: String,
    /// Created at.
    pub created_at: i64,
    /// Last activity.
    pub updated_at: i64,
    /// Start of the time range.
    pub starts_at: Option<i64>,
    /// End of the time range.
    pub ends_at: Option<i64>,
    /// Location label.
    pub location_label: Option<String>,
    /// Latitude.
    pub lat: Option<f64>,
    /// Longitude.
    pub lon: Option<f64>,
    /// Whether someone should respond.
    pub needs_response: bool,
    /// Kind-specific figures (going, waitlisted, adopter, me-too count, ...).
    pub detail: Detail,
    /// Whether a change made on this device waits for the relay's acknowledgement (what a
    /// caretaker's offline screen marks as "not sent yet"); refused changes do not count.
    pub unsynced: bool,
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Page {
    /// The rows.
    pub items: Vec<Summary>,
    /// Cursor for the next page; `None` on the last page.
    pub next: Option<String>,
}

/// How many entities of a kind have a status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusCount {
    /// Kind.
    pub kind: Kind,
    /// Effective status.
    pub status: String,
    /// Count.
    pub count: i64,
}

/// Something the local member should be told (see [`crate::model::Notice`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NoticeRow {
    /// The entity it is about.
    pub entity: String,
    /// Its kind.
    pub kind: Kind,
    /// Its title.
    pub title: String,
    /// Machine code.
    pub code: String,
    /// Sentence.
    pub text: String,
}

/// Turns user input into an FTS5 query: every word becomes a quoted prefix term, so quotes,
/// operators and column filters in the input are matched literally and cannot break the query.
fn fts_query(text: &str) -> Option<String> {
    let terms: Vec<String> = text
        .split_whitespace()
        .take(16)
        .map(|w| format!("\"{}\"*", w.replace('"', "\"\"")))
        .collect();
    (!terms.is_empty()).then(|| terms.join(" "))
}

fn parse_cursor(s: &str) -> Result<(i64, String)> {
    let bad = || {
        Error::invalid(
            "after",
            format!("`{s}` is not a cursor from a previous page"),
        )
    };
    let (v, id) = s.split_once(':').ok_or_else(bad)?;
    let v = v.parse::<i64>().map_err(|_| bad())?;
    let id = EntityId::parse(id).map_err(|_| bad())?;
    Ok((v, id.as_str().to_owned()))
}

fn check_bbox(b: &BBox) -> Result<()> {
    crate::doc::check_point(b.south, b.west)?;
    crate::doc::check_point(b.north, b.east)?;
    if b.south > b.north || b.west > b.east {
        return Err(Error::invalid(
            "bbox",
            "south must be ≤ north and west ≤ east",
        ));
    }
    Ok(())
}

fn run_list(conn: &Connection, me: &str, now: i64, q: &ListQuery) -> Result<Page> {
    let limit = match q.limit {
        0 => 50,
        n if n > MAX_PAGE => {
            return Err(Error::invalid(
                "limit",
                format!("{n} is more than {MAX_PAGE}"),
            ));
        }
        n => n,
    };
    let mut args: Vec<Value> = vec![Value::Integer(now)];
    let mut arg = |v: Value| {
        args.push(v);
        format!("?{}", args.len())
    };
    let mut wh: Vec<String> = Vec::new();
    let mut from = "entities e";
    if let Some(k) = q.kind {
        wh.push(format!("e.kind = {}", arg(Value::Text(k.as_str().into()))));
    }
    if let Some(s) = &q.status {
        wh.push(format!(
            "({EFFECTIVE_STATUS}) = {}",
            arg(Value::Text(s.clone()))
        ));
    }
    if let Some(c) = &q.category {
        wh.push(format!("e.category = {}", arg(Value::Text(c.clone()))));
    }
    if let Some(from) = q.from {
        wh.push(format!(
            "coalesce(e.ends_at, e.starts_at, e.created_at) >= {}",
            arg(Value::Integer(from))
        ));
    }
    if let Some(to) = q.to {
        wh.push(format!(
            "coalesce(e.starts_at, e.created_at) <= {}",
            arg(Value::Integer(to))
        ));
    }
    if let Some(b) = &q.bbox {
        check_bbox(b)?;
        let (s, n) = (arg(Value::Real(b.south)), arg(Value::Real(b.north)));
        let (w, e) = (arg(Value::Real(b.west)), arg(Value::Real(b.east)));
        wh.push(format!(
            "e.lat BETWEEN {s} AND {n} AND e.lon BETWEEN {w} AND {e}"
        ));
    }
    if q.mine {
        wh.push(format!(
            "EXISTS (SELECT 1 FROM participants p WHERE p.entity_id = e.id AND p.member_id = {})",
            arg(Value::Text(me.into()))
        ));
    }
    if q.needs_response {
        wh.push(format!(
            "e.needs_response = 1 AND ({EFFECTIVE_STATUS}) <> 'expired'"
        ));
    }
    if let Some(t) = &q.text {
        crate::doc::check_len("text", t, 500)?;
        match fts_query(t) {
            // Driven from the full-text index (a join, not `IN (subquery)`): SQLite then walks
            // only the matching rows.
            Some(fq) => {
                from = "search s JOIN entities e ON e.seq = s.rowid";
                wh.push(format!("search MATCH {}", arg(Value::Text(fq))));
            }
            None => return Err(Error::invalid("text", "has no words to search for")),
        }
    }
    let (sort_col, cmp, dir) = match q.order {
        Order::Recent => ("e.updated_at", "<", "DESC"),
        Order::Upcoming => {
            wh.push("e.starts_at IS NOT NULL".into());
            ("e.starts_at", ">", "ASC")
        }
    };
    if let Some(c) = &q.after {
        let (v, id) = parse_cursor(c)?;
        let (v, id) = (arg(Value::Integer(v)), arg(Value::Text(id)));
        wh.push(format!(
            "({sort_col} {cmp} {v} OR ({sort_col} = {v} AND e.id {cmp} {id}))"
        ));
    }
    let lim = arg(Value::Integer(i64::from(limit) + 1));
    let where_sql = if wh.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", wh.join(" AND "))
    };
    let sql = format!(
        "SELECT e.id, e.kind, {EFFECTIVE_STATUS}, e.category, e.title, e.created_by, e.created_at,
                e.updated_at, e.starts_at, e.ends_at, e.location_label, e.lat, e.lon,
                e.needs_response, e.detail, {sort_col},
                EXISTS (SELECT 1 FROM outbox o WHERE o.doc_id = e.id
                        AND o.acked_at IS NULL AND o.rejected_code IS NULL)
         FROM {from} {where_sql}
         ORDER BY {sort_col} {dir}, e.id {dir} LIMIT {lim}"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(params_from_iter(args))?;
    let mut items = Vec::new();
    let mut last_sort = Vec::new();
    while let Some(r) = rows.next()? {
        let kind: String = r.get(1)?;
        let id: String = r.get(0)?;
        // A damaged row names its entity (`rebuild_projections` repairs it).
        let detail = Detail::from_stored(&r.get::<_, String>(14)?).map_err(|e| match e {
            Error::Storage(why) => Error::Storage(format!("entity `{id}`: {why}")),
            e => e,
        })?;
        items.push(Summary {
            id,
            kind: Kind::parse(&kind)?,
            status: r.get(2)?,
            category: r.get(3)?,
            title: r.get(4)?,
            created_by: r.get(5)?,
            created_at: r.get(6)?,
            updated_at: r.get(7)?,
            starts_at: r.get(8)?,
            ends_at: r.get(9)?,
            location_label: r.get(10)?,
            lat: r.get(11)?,
            lon: r.get(12)?,
            needs_response: r.get(13)?,
            detail,
            unsynced: r.get(16)?,
        });
        last_sort.push(r.get::<_, i64>(15)?);
    }
    let mut next = None;
    if items.len() > limit as usize {
        items.truncate(limit as usize);
        if let (Some(last), Some(v)) = (items.last(), last_sort.get(limit as usize - 1)) {
            next = Some(format!("{v}:{}", last.id));
        }
    }
    Ok(Page { items, next })
}

impl Store {
    /// One page of entities matching `q`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] naming the field for a bad cursor, box, limit or search text;
    /// storage errors.
    ///
    /// # Example
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use noaber_core::{Store, ManualClock, Kind, ListQuery, model::help::NewHelp};
    /// let store = Store::open_in_memory(Arc::new(ManualClock::new(1_700_000_000_000)))?;
    /// store.create_help(&NewHelp::ask("groceries", "Boodschappen op dinsdag"))?;
    /// let page = store.list(&ListQuery { kind: Some(Kind::Help), ..Default::default() })?;
    /// assert_eq!(page.items[0].status, "open");
    /// # Ok::<(), noaber_core::Error>(())
    /// ```
    pub fn list(&self, q: &ListQuery) -> Result<Page> {
        let now = self.now_ms();
        self.with_conn(|conn, me| run_list(conn, me.member.as_str(), now, q))
    }

    /// Per-kind, per-status counts (effective statuses), for an organiser's overview.
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub fn status_counts(&self) -> Result<Vec<StatusCount>> {
        let now = self.now_ms();
        self.with_conn(|conn, _| {
            // Stored statuses come from the (kind, status) index alone; then only the rows
            // whose clock fields have passed are read, to move them to expired/due/overdue.
            let mut counts: std::collections::BTreeMap<(String, String), i64> = Default::default();
            let mut stmt = conn.prepare_cached(
                "SELECT kind, status, count(*) FROM entities GROUP BY kind, status",
            )?;
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                counts.insert((r.get(0)?, r.get(1)?), r.get(2)?);
            }
            let sql = format!(
                "SELECT e.kind, e.status, {EFFECTIVE_STATUS} FROM entities e
                 WHERE (e.status = 'open' AND e.expires_at <= ?1) OR e.due_at <= ?1"
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            let mut rows = stmt.query([now])?;
            while let Some(r) = rows.next()? {
                let (kind, stored, shown): (String, String, String) =
                    (r.get(0)?, r.get(1)?, r.get(2)?);
                if stored != shown {
                    *counts.entry((kind.clone(), stored)).or_default() -= 1;
                    *counts.entry((kind, shown)).or_default() += 1;
                }
            }
            let mut out = Vec::new();
            for ((kind, status), count) in counts {
                if count > 0 {
                    out.push(StatusCount {
                        kind: Kind::parse(&kind)?,
                        status,
                        count,
                    });
                }
            }
            Ok(out)
        })
    }

    /// What the local member should be told (lost claims, superseded matches, waitlist moves).
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub fn my_notices(&self) -> Result<Vec<NoticeRow>> {
        self.with_conn(|conn, me| {
            let mut stmt = conn.prepare_cached(
                "SELECT n.entity_id, e.kind, e.title, n.code, n.text FROM notices n
                 JOIN entities e ON e.id = n.entity_id
                 WHERE n.member_id = ?1 ORDER BY e.updated_at DESC, n.entity_id, n.code",
            )?;
            let rows = stmt.query_map([me.member.as_str()], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (entity, kind, title, code, text) = row?;
                out.push(NoticeRow {
                    entity,
                    kind: Kind::parse(&kind)?,
                    title,
                    code,
                    text,
                });
            }
            Ok(out)
        })
    }

    /// The comments of an entity, oldest first, from the projection (no document loaded).
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub fn comments(&self, id: &EntityId) -> Result<Vec<CommentRow>> {
        self.with_conn(|conn, _| {
            let mut stmt = conn.prepare_cached(
                "SELECT comment_id, author, at, body, edited_at, withdrawn FROM comments
                 WHERE entity_id = ?1 ORDER BY at, comment_id",
            )?;
            let rows = stmt.query_map([id.as_str()], |r| {
                Ok(CommentRow {
                    id: r.get(0)?,
                    author: crate::ids::MemberId::from_doc(r.get(1)?),
                    at: r.get(2)?,
                    body: r.get(3)?,
                    edited_at: r.get(4)?,
                    withdrawn: r.get(5)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    /// Every projection row as text, sorted: two replicas with equal dumps show their users the
    /// same thing. For convergence tests and diagnostics.
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub fn projection_dump(&self) -> Result<Vec<String>> {
        self.with_conn(|conn, _| {
            let mut out = Vec::new();
            for (table, order) in [
                ("entities", "id"),
                ("participants", "entity_id, member_id, relation"),
                ("notices", "entity_id, member_id, code, text"),
                ("comments", "entity_id, comment_id"),
            ] {
                let cols = if table == "entities" { "id, kind, status, category, title, created_by, created_at, updated_at, starts_at, ends_at, expires_at, due_at, overdue_at, lat, lon, location_label, needs_response, detail" } else { "*" };
                let mut stmt = conn.prepare(&format!("SELECT {cols} FROM {table} ORDER BY {order}"))?;
                let n = stmt.column_count();
                let mut rows = stmt.query([])?;
                while let Some(r) = rows.next()? {
                    let mut line = format!("{table}:");
                    for i in 0..n {
                        let v: Value = r.get(i)?;
                        line.push_str(&format!(" {v:?}"));
                    }
                    out.push(line);
                }
            }
            let mut stmt = conn.prepare(
                "SELECT e.id, s.title, s.body, s.comments FROM search s JOIN entities e ON e.seq = s.rowid ORDER BY e.id",
            )?;
            let rows = stmt.query_map([], |r| Ok(format!("search: {:?} {:?} {:?} {:?}", r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?)))?;
            for row in rows {
                out.push(row?);
            }
            Ok(out)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fts_input_is_quoted() {
        assert_eq!(
            fts_query("lamp kapot").as_deref(),
            Some("\"lamp\"* \"kapot\"*")
        );
        assert_eq!(
            fts_query("a\"b OR title:x").as_deref(),
            Some("\"a\"\"b\"* \"OR\"* \"title:x\"*")
        );
        assert_eq!(fts_query("   "), None);
    }

    #[test]
    fn cursors_are_checked() {
        assert!(parse_cursor("12:0123456789abcdef0123456789abcdef").is_ok());
        assert!(parse_cursor("12").is_err());
        assert!(parse_cursor("x:0123456789abcdef0123456789abcdef").is_err());
        assert!(parse_cursor("1:'; DROP TABLE entities; --").is_err());
    }
}
