//! Migrations of the device store.
//!
//! Forward-only, numbered SQL files (`migrations/NNN_name.sql`) compiled in with
//! `include_str!`. The applied version is `PRAGMA user_version`. Pragmas are set per connection
//! in [`configure`], never inside a migration. An applied migration is never edited: the test
//! `upgrade_from_frozen_v1_matches_fresh` keeps a frozen copy of each released schema.

use rusqlite::Connection;

use crate::error::{Error, Result};

/// The migrations, in order; index + 1 is the `user_version` each one leads to.
const MIGRATIONS: &[(&str, &str)] = &[
    ("001_initial", include_str!("migrations/001_initial.sql")),
    ("002_buurten", include_str!("migrations/002_buurten.sql")),
    ("003_photos", include_str!("migrations/003_photos.sql")),
    (
        "004_outbox_by_document",
        include_str!("migrations/004_outbox_by_document.sql"),
    ),
    (
        "005_identity_per_buurt",
        include_str!("migrations/005_identity_per_buurt.sql"),
    ),
    (
        "006_outbox_retries",
        include_str!("migrations/006_outbox_retries.sql"),
    ),
    (
        "007_typed_detail",
        include_str!("migrations/007_typed_detail.sql"),
    ),
    (
        "008_search_pages",
        include_str!("migrations/008_search_pages.sql"),
    ),
];

/// The schema version this code writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Per-connection settings: WAL, `synchronous=NORMAL` (durable against application crashes;
/// a power cut can lose the last transactions but never corrupts — the outbox keeps un-acked
/// changes, so nothing acknowledged by the relay is lost), foreign keys, a busy timeout.
pub(crate) fn configure(conn: &Connection) -> Result<()> {
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", true)?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    // A checkpoint (the only fsync with synchronous=NORMAL) every 4 000 WAL pages (16 MB)
    // rather than SQLite's 1 000: a local write dirties ~20 pages, many of them the same hot
    // index and full-text pages, which a rarer checkpoint writes back once.
    conn.pragma_update(None, "wal_autocheckpoint", 4000)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    // Every statement of the write path and the common queries stays prepared (the default
    // of 16 thrashes: re-parsing SQL was 13% of a local write).
    conn.set_prepared_statement_cache_capacity(256);
    Ok(())
}

/// Brings the database to [`SCHEMA_VERSION`], each migration in its own transaction.
///
/// # Errors
///
/// [`Error::Storage`] when the database is newer than this code (downgrades are refused rather
/// than risk damaging data) or a migration fails.
pub(crate) fn migrate(conn: &mut Connection) -> Result<()> {
    let current: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if current > SCHEMA_VERSION {
        return Err(Error::Storage(format!(
            "the store has schema version {current}, this app understands up to {SCHEMA_VERSION}; update the app"
        )));
    }
    for (i, (name, sql)) in MIGRATIONS.iter().enumerate() {
        let version = i as i64 + 1;
        if version <= current {
            continue;
        }
        let tx = conn.transaction()?;
        tx.execute_batch(sql)
            .map_err(|e| Error::Storage(format!("migration `{name}` failed: {e}")))?;
        tx.pragma_update(None, "user_version", version)?;
        tx.commit()?;
        tracing::info!(migration = name, version, "applied store migration");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The schema as a comparable list of (type, name, sql) rows.
    fn dump(conn: &Connection) -> Vec<(String, String, String)> {
        let mut stmt = conn
            .prepare("SELECT type, name, coalesce(sql, '') FROM sqlite_schema ORDER BY type, name")
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    /// A store created by the first release (frozen copy of 001) upgrades to the same schema a
    /// fresh store has.
    #[test]
    fn upgrade_from_frozen_v1_matches_fresh() -> Result<()> {
        let mut old = Connection::open_in_memory()?;
        old.execute_batch(include_str!("../../tests/frozen/schema_v1.sql"))?;
        old.pragma_update(None, "user_version", 1)?;
        migrate(&mut old)?;

        let mut fresh = Connection::open_in_memory()?;
        migrate(&mut fresh)?;
        assert_eq!(dump(&old), dump(&fresh));
        let v: i64 = fresh.pragma_query_value(None, "user_version", |r| r.get(0))?;
        assert_eq!(v, SCHEMA_VERSION);
        Ok(())
    }

    /// A store that joined a buurt before ids were per buurt (version 4) keeps acting there
    /// with the member and actor it registered; only the next join gets fresh ids.
    #[test]
    fn a_joined_store_keeps_its_ids_after_the_identity_migration() -> Result<()> {
        let old = Connection::open_in_memory()?;
        for (_, sql) in &MIGRATIONS[..4] {
            old.execute_batch(sql)?;
        }
        old.pragma_update(None, "user_version", 4)?;
        let (member, actor) = (
            "11111111111111111111111111111111",
            "22222222222222222222222222222222",
        );
        let buurt = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
        old.execute_batch(&format!(
            "INSERT INTO settings (key, value) VALUES ('member_id', '{member}'),
                 ('device_actor', '{actor}'), ('active_buurt', '{buurt}'), ('role', 'organiser');
             INSERT INTO buurten (id, name, relay_url, member, role, device, token, joined_at)
                 VALUES ('{buurt}', 'B', 'https://r', '{member}', 'organiser', '{buurt}', 'tttttttttttttttttttttttttttttttt', 0);"
        ))?;
        let store = crate::store::Store::from_connection(
            old,
            std::sync::Arc::new(crate::clock::ManualClock::new(1_790_000_000_000)),
            None,
        )?;
        let me = store.identity();
        assert_eq!((me.member.as_str(), me.actor.as_str()), (member, actor));
        assert_eq!(me.role, crate::Role::Organiser);
        let id = store.create_help(&crate::model::help::NewHelp::ask(
            "groceries",
            "Na de update",
        ))?;
        assert_eq!(store.help(&id)?.requester.as_str(), member);
        let next = store.join_attempt("https://r", "AAAA-AAAA-AAAA")?;
        assert_ne!(next.member.as_str(), member);
        assert_ne!(next.actor, actor);
        Ok(())
    }

    /// A store whose list rows were written by an older derivation (here: the untyped detail
    /// JSON of schema 6 and no `projection_version`) re-derives them when opened, so lists read
    /// typed rows; a damaged row is a clear storage error until a rebuild repairs it.
    #[test]
    fn old_list_rows_are_re_derived_on_open() -> Result<()> {
        use crate::model::Detail;
        let dir = tempfile::tempdir().map_err(|e| Error::Other(e.to_string()))?;
        let path = dir.path().join("store.db");
        let clock = std::sync::Arc::new(crate::clock::ManualClock::new(1_790_000_000_000));
        let list = |s: &crate::store::Store| s.list(&crate::ListQuery::default());
        let id = {
            let s = crate::store::Store::open_with_clock(&path, clock.clone())?;
            let id = s.create_help(&crate::model::help::NewHelp::ask(
                "groceries",
                "Boodschappen",
            ))?;
            s.with_conn(|c, _| {
                c.execute_batch(
                    r#"UPDATE entities SET detail = '{"mode":"ask","urgency":"normal","precision":"buurt","helper":null,"responses":0}';
                       DELETE FROM settings WHERE key = 'projection_version';"#,
                )?;
                Ok(())
            })?;
            id
        };
        let s = crate::store::Store::open_with_clock(&path, clock.clone())?;
        let page = list(&s)?;
        assert_eq!(page.items[0].id, id.as_str());
        assert!(
            matches!(&page.items[0].detail, Detail::Help { mode, responses: 0, .. } if mode == "ask")
        );

        s.with_conn(|c, _| Ok(c.execute("UPDATE entities SET detail = '{\"v\":1}'", [])?))?;
        assert!(
            matches!(list(&s), Err(Error::Storage(m)) if m.contains(&format!("entity `{id}`: unreadable list detail")))
        );
        assert_eq!(s.rebuild_projections()?, 1);
        assert_eq!(list(&s)?.items.len(), 1);
        Ok(())
    }

    #[test]
    fn refuses_a_newer_store() -> Result<()> {
        let mut conn = Connection::open_in_memory()?;
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)?;
        assert!(matches!(migrate(&mut conn), Err(Error::Storage(_))));
        Ok(())
    }

    #[test]
    fn migrating_twice_is_harmless() -> Result<()> {
        let mut conn = Connection::open_in_memory()?;
        migrate(&mut conn)?;
        migrate(&mut conn)?;
        Ok(())
    }
}
