//! Migrations of the relay's SQLite database.
//!
//! Forward-only, numbered SQL files (`migrations/NNN_name.sql`) compiled in with
//! `include_str!`. The applied version is `PRAGMA user_version`. Pragmas are set per connection
//! in [`configure`], never inside a migration. An applied migration is never edited.

use rusqlite::Connection;

use super::{StorageError, StorageResult};

/// The migrations, in order; index + 1 is the `user_version` each one leads to.
const MIGRATIONS: &[(&str, &str)] = &[
    ("001_initial", include_str!("migrations/001_initial.sql")),
    ("002_audience", include_str!("migrations/002_audience.sql")),
    ("003_blobs", include_str!("migrations/003_blobs.sql")),
    (
        "004_photo_holders",
        include_str!("migrations/004_photo_holders.sql"),
    ),
    ("005_identity", include_str!("migrations/005_identity.sql")),
];

/// The schema version this code writes.
pub(crate) const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Per-connection settings: WAL, `synchronous=FULL` (a commit is on disk before it returns:
/// an acknowledgement means durable, even across a power cut), foreign keys, a busy timeout
/// (the admin commands may write while the server runs).
pub(crate) fn configure(conn: &Connection) -> StorageResult<()> {
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", true)?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

/// Brings the database to [`SCHEMA_VERSION`], each migration in its own transaction.
///
/// # Errors
///
/// [`StorageError::TooNew`] when the database is newer than this code; backend errors.
pub(crate) fn migrate(conn: &mut Connection) -> StorageResult<()> {
    let current: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if current > SCHEMA_VERSION {
        return Err(StorageError::TooNew {
            found: current,
            supported: SCHEMA_VERSION,
        });
    }
    for (version, (name, sql)) in (1i64..).zip(MIGRATIONS.iter()) {
        if version <= current {
            continue;
        }
        let tx = conn.transaction()?;
        tx.execute_batch(sql)
            .map_err(|e| StorageError::Backend(format!("migration `{name}` failed: {e}")))?;
        tx.pragma_update(None, "user_version", version)?;
        tx.commit()?;
        tracing::info!(migration = name, version, "applied relay migration");
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn refuses_a_newer_database() -> StorageResult<()> {
        let mut conn = Connection::open_in_memory()?;
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)?;
        assert!(matches!(
            migrate(&mut conn),
            Err(StorageError::TooNew { .. })
        ));
        Ok(())
    }

    /// A buurt, a member, a device and one logged change, as every schema version stores them.
    const OLD_ROWS: &str = "INSERT INTO buurten (n, id, name, created_at) VALUES (1, 'b', 'B', 0);
        INSERT INTO members (buurt, id, display_name, role, joined_at)
            VALUES (1, 'm', 'M', 'resident', 0);
        INSERT INTO devices (n, id, buurt, member, token_hash, created_at)
            VALUES (1, 'd', 1, 'm', x'00', 0);
        INSERT INTO documents (id, buurt) VALUES (x'01', 1);
        INSERT INTO log (buurt, seq, doc, hash, device, bytes, received_at)
            VALUES (1, 1, x'01', x'02', 1, x'03', 0);";

    /// A database written by the first release keeps its rows; its documents are for the whole
    /// buurt (the only audience there was).
    #[test]
    fn a_version_1_database_upgrades_with_its_log() -> StorageResult<()> {
        let mut conn = Connection::open_in_memory()?;
        conn.execute_batch(MIGRATIONS[0].1)?;
        conn.pragma_update(None, "user_version", 1)?;
        conn.execute_batch(OLD_ROWS)?;
        migrate(&mut conn)?;
        let audiences: (i64, i64) = conn.query_row(
            "SELECT d.audience, l.audience FROM documents d JOIN log l ON l.doc = d.id",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        assert_eq!(audiences, (0, 0));
        let readers: i64 = conn.query_row("SELECT count(*) FROM readers", [], |r| r.get(0))?;
        assert_eq!(readers, 0);
        Ok(())
    }

    /// A version-2 database gains the photo tables, empty, and keeps its log.
    #[test]
    fn a_version_2_database_upgrades_with_empty_photo_tables() -> StorageResult<()> {
        let mut conn = Connection::open_in_memory()?;
        conn.execute_batch(MIGRATIONS[0].1)?;
        conn.execute_batch(MIGRATIONS[1].1)?;
        conn.pragma_update(None, "user_version", 2)?;
        conn.execute_batch(OLD_ROWS)?;
        migrate(&mut conn)?;
        let count = |table: &str| -> StorageResult<i64> {
            Ok(conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?)
        };
        assert_eq!(count("log")?, 1);
        for table in ["blob_uploads", "blobs", "blob_refs"] {
            assert_eq!(count(table)?, 0, "{table}");
        }
        Ok(())
    }

    /// A version-3 database's photos stay with their uploader (now a holding) and its
    /// references name the member whose change made them.
    #[test]
    fn a_version_3_database_keeps_its_photos_with_their_uploaders() -> StorageResult<()> {
        let mut conn = Connection::open_in_memory()?;
        for (_, sql) in &MIGRATIONS[..3] {
            conn.execute_batch(sql)?;
        }
        conn.pragma_update(None, "user_version", 3)?;
        conn.execute_batch(OLD_ROWS)?;
        conn.execute_batch(
            "INSERT INTO blobs (hash, mime, size, device, created_at)
                 VALUES (x'05', 'image/jpeg', 10, 1, 7);
             INSERT INTO blob_refs (buurt, hash, doc, seq) VALUES (1, x'05', x'01', 1);",
        )?;
        migrate(&mut conn)?;
        let held: (i64, String, i64, i64) = conn.query_row(
            "SELECT buurt, member, device, size FROM blob_holders WHERE hash = x'05'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )?;
        assert_eq!(held, (1, "m".into(), 1, 10));
        let by: String = conn.query_row(
            "SELECT member FROM blob_refs WHERE hash = x'05' AND doc = x'01'",
            [],
            |r| r.get(0),
        )?;
        assert_eq!(by, "m");
        Ok(())
    }

    #[test]
    fn migrating_twice_is_harmless() -> StorageResult<()> {
        let mut conn = Connection::open_in_memory()?;
        migrate(&mut conn)?;
        migrate(&mut conn)?;
        let v: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        assert_eq!(v, SCHEMA_VERSION);
        Ok(())
    }
}
