//! [`PostgresStorage`]: the relay's state in PostgreSQL, for when one machine is not enough
//! (several relay processes behind a load balancer share one database).
//!
//! # Synchronous trait, asynchronous driver
//!
//! [`Storage`] is synchronous: the relay calls it from `spawn_blocking` threads and from its
//! group-commit writer thread, admin commands call it with no runtime at all, and a few callers
//! (start-up, tests) call it from inside an async task. The driver (`tokio-postgres` with a
//! `deadpool-postgres` pool) is asynchronous. The storage therefore **owns a small tokio
//! runtime of its own** (one worker thread, `relay-postgres`): it holds the pool's connections
//! and their driver tasks. Each method spawns one future onto that runtime and waits for its
//! answer on a plain `std` channel. It never calls `block_on`, so it works the same from any
//! thread — a blocking thread, a thread with no runtime, or an async task of *another* runtime
//! (which then blocks its thread for the call, as any synchronous I/O would; it cannot
//! deadlock, because the query runs on the storage's own worker). One worker is plenty: the
//! work is waiting on the network; decoding rows is cheap. Dropping the storage shuts the
//! runtime down without blocking, so it may be dropped anywhere too.
//!
//! # How each contract of the trait is kept
//!
//! - **Durable acks**: every connection is opened with `-c synchronous_commit=on` appended to
//!   the startup options, which wins over `ALTER DATABASE/ROLE … SET synchronous_commit`; a
//!   `COMMIT` returns only once its WAL is flushed (given the server runs with `fsync=on`,
//!   its default). [`Storage::append`] is one transaction, one commit, per call.
//! - **Contiguous per-buurt sequence numbers, visible in order**: `append` first locks the row
//!   of every buurt it writes (`SELECT … ORDER BY n FOR NO KEY UPDATE`; in key order, so two
//!   relays appending to the same buurten cannot deadlock), reads `head`, numbers the changes
//!   `head + 1 …`, and writes the new `head` before committing. A second appender to the same
//!   buurt waits for the lock, which is released only after the first transaction's commit is
//!   visible; it then reads the new head. So commits happen in sequence order and no snapshot
//!   ever holds seq `n + 1` without `n`. (A `SEQUENCE` would not do: its values commit out of
//!   order.) `NO KEY UPDATE` rather than `UPDATE` lets joins (whose foreign keys take a key-share
//!   lock on the buurt) run while a commit is under way.
//! - **All or nothing**: everything `append` decides (`plan.rs`, as SQLite's) is decided
//!   before its first write; any error rolls the transaction back. A document first pushed to
//!   two buurten at once is settled by `INSERT … ON CONFLICT DO NOTHING` on `documents`: the
//!   loser re-reads the owner and reports `WrongBuurt` (retried a bounded number of times).
//! - **One snapshot per pull**: `pull` runs in a `REPEATABLE READ, READ ONLY` transaction (its
//!   two queries are pipelined). Single-statement reads need no transaction: a statement always
//!   sees one snapshot.
//! - **Audience in the pull**: a document's audience is its first stored change's, copied onto
//!   each of its log rows; a stored change's grants become `readers` rows in the same
//!   transaction. `pull` leaves out rows of restricted documents unless the puller is a
//!   coordinator or a reader (`EXISTS` on `readers`' primary key).
//! - **Atomic joins, even concurrent ones**: every `join` first takes one transaction-scoped
//!   advisory lock (`JOIN_LOCK`), so joins run one at a time relay-wide: the cross-buurt
//!   checks of member and actor ids and the lookup of a retried join see every earlier join,
//!   and two identical retries enrol one device. It also locks the invite row (`SELECT … FOR
//!   UPDATE OF i`), so two joins redeeming the last use of an invite serialise and the second
//!   sees it used up. A member id or actor id registered concurrently through another invite is caught
//!   by the inserts themselves (`ON CONFLICT DO NOTHING` for members; for actors an upsert that
//!   only takes over an actor of a *revoked* device of the same member) and the whole join
//!   rolls back with the refusal. Deadlocks and serialisation failures (SQLSTATE 40P01, 40001)
//!   are retried a few times; they roll back completely, so a retry is safe.
//! - **Heads announced across relays** ([`Storage::watch_heads`]): the statement that moves
//!   the heads also runs `pg_notify('noaber_heads', '<buurt> <head>')` for each buurt it
//!   moved, in the same transaction: PostgreSQL delivers the notification only on commit, in
//!   commit order, to every session listening. Each relay listens on one connection of its own
//!   (see `listen`), re-reading every head after each (re)connect.
//! - **Errors carry no secrets**: a backend error is reported as PostgreSQL's message and
//!   SQLSTATE only, never its `DETAIL` (which can quote row values). The connection string is
//!   never logged or printed.
//!
//! # Schema
//!
//! Forward-only numbered migrations, `migrations/postgres/NNN_name.sql`, applied at open in one
//! transaction under an advisory lock (two relays starting at once do not race). PostgreSQL has
//! no `user_version`: the table `schema_version` keeps one row per applied migration. A database
//! of a newer relay is refused with [`StorageError::TooNew`]. The shape follows SQLite's:
//! internal `BIGINT` keys, ids as `TEXT`, hashes and document/actor ids as `BYTEA`, sequence
//! numbers and milliseconds as `BIGINT`, per-document facts keyed by `documents.id`.
//!
//! TLS is not supported yet (`NoTls`): use a Unix socket or a trusted network.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::str::FromStr;
use std::sync::{Arc, mpsc};
use std::time::Duration;

use automerge::ActorId;
use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime};
use noaber_core::{MemberId, Role};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{IsolationLevel, NoTls};

use super::decode::{array, buurt_id, device_id, member, role, to_i64, to_u64};
use super::plan::{
    ActorHolder, EnrolledDevice, Enrolment, JoinFacts, JoinPlan, StoredInvite, assemble_page,
    check_join, page_fetch, plan_append, quota_allows,
};
use super::{
    AppendBatch, BatchOutcome, BlobRow, Buurt, DeviceAuth, DeviceRow, HeadSink, JoinRefusal,
    JoinTicket, Joined, LogPage, LoggedChange, MemberRow, NewInvite, Puller, Storage, StorageError,
    StorageResult, UploadRow,
};
use crate::ids::{BuurtId, DeviceId, hex};

/// Connections the pool keeps at most unless configured otherwise.
pub const DEFAULT_POOL_SIZE: usize = 8;

/// The migrations, in order; index + 1 is the version each one leads to.
const MIGRATIONS: &[(&str, &str)] = &[
    (
        "001_initial",
        include_str!("migrations/postgres/001_initial.sql"),
    ),
    (
        "002_audience",
        include_str!("migrations/postgres/002_audience.sql"),
    ),
    (
        "003_blobs",
        include_str!("migrations/postgres/003_blobs.sql"),
    ),
    (
        "004_photo_holders",
        include_str!("migrations/postgres/004_photo_holders.sql"),
    ),
    (
        "005_identity",
        include_str!("migrations/postgres/005_identity.sql"),
    ),
    (
        "006_photo_bytes",
        include_str!("migrations/postgres/006_photo_bytes.sql"),
    ),
];

/// The schema version this code writes.
pub(crate) const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// The advisory lock migrations hold (any constant; "noaber" in ASCII).
const MIGRATION_LOCK: i64 = 0x6e6f_6162_6572;

/// How long to wait for a connection (to connect, or for a free one in the pool).
const TIMEOUT: Duration = Duration::from_secs(10);

/// How often a transaction that lost a deadlock or serialisation race is tried again.
const RETRIES: usize = 3;

/// What goes wrong inside the async code, turned into a [`StorageError`] in one place.
pub(crate) enum Fail {
    Pg(tokio_postgres::Error),
    Pool(PoolError),
    Storage(StorageError),
}

impl From<tokio_postgres::Error> for Fail {
    fn from(e: tokio_postgres::Error) -> Self {
        Fail::Pg(e)
    }
}

impl From<PoolError> for Fail {
    fn from(e: PoolError) -> Self {
        Fail::Pool(e)
    }
}

impl From<StorageError> for Fail {
    fn from(e: StorageError) -> Self {
        Fail::Storage(e)
    }
}

/// A backend error without PostgreSQL's `DETAIL`, which can quote row values.
fn pg_error(e: &tokio_postgres::Error) -> StorageError {
    StorageError::Backend(pg_message(e))
}

/// The message of [`pg_error`].
fn pg_message(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("postgres: {} (sqlstate {})", db.message(), db.code().code());
    }
    match std::error::Error::source(e) {
        Some(cause) => format!("postgres: {e}: {cause}"),
        None => format!("postgres: {e}"),
    }
}

/// Whether `e` says the server went away or cannot take connections, rather than that a
/// statement failed: the connection closed or broke, or SQLSTATE class 08 (connection
/// exception) or 57P (the server is shutting down, crashed or starting up).
fn is_outage(e: &tokio_postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    match e.code() {
        Some(code) => {
            let c = code.code();
            c.starts_with("08") || c.starts_with("57P")
        }
        // No server answer at all: the socket failed (refused, reset, timed out). Not a
        // parameter that did not serialise or a column that did not decode: those are bugs.
        None => {
            e.as_db_error().is_none()
                && std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>())
        }
    }
}

impl From<Fail> for StorageError {
    fn from(f: Fail) -> Self {
        match f {
            // A connection the pool could not make or recycle: the database is away.
            Fail::Pool(PoolError::Backend(e)) => StorageError::Unavailable(pg_message(&e)),
            Fail::Pg(e) if is_outage(&e) => StorageError::Unavailable(pg_message(&e)),
            Fail::Pg(e) => pg_error(&e),
            Fail::Pool(PoolError::Timeout(_)) => StorageError::Unavailable(format!(
                "postgres: no connection within {}s",
                TIMEOUT.as_secs()
            )),
            Fail::Pool(e) => StorageError::Backend(format!("postgres pool: {e}")),
            Fail::Storage(e) => e,
        }
    }
}

pub(crate) type Res<T> = Result<T, Fail>;

fn is_transient(f: &Fail) -> bool {
    let code = match f {
        Fail::Pg(e) | Fail::Pool(PoolError::Backend(e)) => e.code(),
        _ => None,
    };
    code.is_some_and(|c| {
        *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED
    })
}

fn is_unique_violation(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&SqlState::UNIQUE_VIOLATION)
}

/// Runs `$attempt` (an expression giving a future) until it succeeds, fails for good, or has
/// lost [`RETRIES`] deadlock/serialisation races.
macro_rules! retrying {
    ($attempt:expr) => {{
        let mut lost = 0usize;
        loop {
            match $attempt.await {
                Err(f) if is_transient(&f) && lost < RETRIES => {
                    lost += 1;
                    tracing::debug!(lost, "postgres transaction lost a race; retrying");
                }
                other => break other,
            }
        }
    }};
}

fn not_found(what: &'static str, id: &str) -> Fail {
    Fail::Storage(StorageError::NotFound {
        what,
        id: id.to_owned(),
    })
}

/// The relay's PostgreSQL storage. See the module docs for how it keeps the trait's contracts.
pub struct PostgresStorage {
    pool: Pool,
    /// How to connect (for the listener's own connection, see [`Storage::watch_heads`]).
    config: tokio_postgres::Config,
    /// `Some` until dropped; see [`Drop`].
    runtime: Option<tokio::runtime::Runtime>,
}

impl std::fmt::Debug for PostgresStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the connection string: it may hold a password.
        f.debug_struct("PostgresStorage")
            .field("pool_size", &self.pool.status().max_size)
            .finish_non_exhaustive()
    }
}

impl Drop for PostgresStorage {
    fn drop(&mut self) {
        self.pool.close();
        // Unlike dropping a runtime, this never blocks, so it is allowed inside async code.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl PostgresStorage {
    /// Connects to the database `conn` names (`host=/run/postgresql user=noaber dbname=noaber`
    /// or `postgres://user:password@host/dbname`), with at most `pool_size` connections, and
    /// brings its schema up to date (creating it in an empty database).
    ///
    /// # Errors
    ///
    /// [`StorageError::Backend`] for a connection string that does not parse, a database that
    /// cannot be reached or a migration that fails; [`StorageError::TooNew`] for a database of
    /// a newer relay.
    pub fn open(conn: &str, pool_size: usize) -> StorageResult<Self> {
        let storage = Self::connect(conn, pool_size)?;
        storage.run(|pool| async move { migrate_to(&pool, SCHEMA_VERSION).await })?;
        Ok(storage)
    }

    /// The pool and runtime of [`PostgresStorage::open`], without touching the schema.
    fn connect(conn: &str, pool_size: usize) -> StorageResult<Self> {
        let mut pg = tokio_postgres::Config::from_str(conn).map_err(|e| {
            // The parser's messages name options and positions, never values.
            let why = std::error::Error::source(&e).map_or_else(String::new, |c| format!(": {c}"));
            StorageError::Backend(format!("invalid `postgres` connection string{why}"))
        })?;
        let options = match pg.get_options() {
            Some(o) if !o.trim().is_empty() => format!("{o} -c synchronous_commit=on"),
            _ => "-c synchronous_commit=on".to_owned(),
        };
        pg.options(options);
        if pg.get_application_name().is_none() {
            pg.application_name("noaber-relay");
        }
        if pg.get_connect_timeout().is_none() {
            pg.connect_timeout(TIMEOUT);
        }
        let manager = Manager::from_config(
            pg.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(pool_size.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(TIMEOUT))
            .create_timeout(Some(TIMEOUT))
            .recycle_timeout(Some(TIMEOUT))
            .build()
            .map_err(|e| StorageError::Backend(format!("postgres pool: {e}")))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("relay-postgres")
            .enable_all()
            .build()
            .map_err(|e| {
                StorageError::Backend(format!("cannot start the postgres runtime: {e}"))
            })?;
        Ok(PostgresStorage {
            pool,
            config: pg,
            runtime: Some(runtime),
        })
    }

    /// Runs the future `f` makes on the storage's runtime and waits for its result (see the
    /// module docs for why this is sound from any thread). The photo store,
    /// [`crate::blob::PgBlobStore`], runs its queries through this too.
    pub(crate) fn run<T, F, Fut>(&self, f: F) -> StorageResult<T>
    where
        T: Send + 'static,
        F: FnOnce(Pool) -> Fut,
        Fut: Future<Output = Res<T>> + Send + 'static,
    {
        let runtime = self
            .runtime
            .as_ref()
            .ok_or_else(|| StorageError::Backend("postgres: the storage is closed".into()))?;
        run_on(runtime.handle(), f(self.pool.clone()))
    }

    /// Spawns `fut` on the storage's runtime (a streamed photo read); `false` once closed.
    pub(crate) fn spawn(&self, fut: impl Future<Output = ()> + Send + 'static) -> bool {
        match self.runtime.as_ref() {
            Some(rt) => {
                rt.spawn(fut);
                true
            }
            None => false,
        }
    }

    /// A handle on the pool (for futures [`PostgresStorage::spawn`] runs).
    pub(crate) fn pool(&self) -> Pool {
        self.pool.clone()
    }
}

/// Runs `fut` on the storage's runtime and waits for its result on a plain channel (see the
/// module docs for why this is sound from any thread). Once the storage is dropped its runtime
/// is shut down: the future is dropped unrun and this answers that the storage is closed.
fn run_on<T, Fut>(runtime: &tokio::runtime::Handle, fut: Fut) -> StorageResult<T>
where
    T: Send + 'static,
    Fut: Future<Output = Res<T>> + Send + 'static,
{
    let (tx, rx) = mpsc::sync_channel(1);
    runtime.spawn(async move {
        // The receiver waits until this sends; it is gone only if the caller is.
        let _ = tx.send(fut.await);
    });
    rx.recv()
        .map_err(|_| StorageError::Backend("postgres: the storage is closed".into()))?
        .map_err(StorageError::from)
}

/// Brings the schema to version `target` (at most [`SCHEMA_VERSION`]; tests pass less) in one
/// transaction, under an advisory lock.
async fn migrate_to(pool: &Pool, target: i64) -> Res<()> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    // Created only when missing: `CREATE … IF NOT EXISTS` would need the CREATE privilege
    // even then, and a relay whose schema is current needs none.
    let exists: bool = tx
        .query_one("SELECT to_regclass('schema_version') IS NOT NULL", &[])
        .await?
        .try_get(0)?;
    if !exists {
        tx.batch_execute(
            "CREATE TABLE schema_version (
                 version    BIGINT PRIMARY KEY,
                 name       TEXT NOT NULL,
                 applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
             )",
        )
        .await?;
    }
    let current: i64 = tx
        .query_one("SELECT coalesce(max(version), 0) FROM schema_version", &[])
        .await?
        .try_get(0)?;
    if current > SCHEMA_VERSION {
        return Err(Fail::Storage(StorageError::TooNew {
            found: current,
            supported: SCHEMA_VERSION,
        }));
    }
    for (version, (name, sql)) in (1i64..).zip(MIGRATIONS.iter()) {
        if version <= current || version > target {
            continue;
        }
        tx.batch_execute(sql).await.map_err(|e| {
            let StorageError::Backend(why) = pg_error(&e) else {
                return Fail::Pg(e);
            };
            Fail::Storage(StorageError::Backend(format!(
                "migration `{name}` failed: {why}"
            )))
        })?;
        tx.execute(
            "INSERT INTO schema_version (version, name) VALUES ($1, $2)",
            &[&version, name],
        )
        .await?;
        tracing::info!(
            migration = name,
            version,
            "applied relay migration (postgres)"
        );
    }
    tx.commit().await?;
    Ok(())
}

/// One attempt at [`Storage::append`]: one transaction, committed only if everything worked.
async fn append_once(pool: &Pool, batches: &[AppendBatch]) -> Res<Vec<BatchOutcome>> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;

    // Lock every buurt written to, in key order, and read their heads.
    let mut buurt_ids: Vec<&str> = batches.iter().map(|b| b.buurt.as_str()).collect();
    buurt_ids.sort_unstable();
    buurt_ids.dedup();
    let lock = tx
        .prepare_cached(
            "SELECT id, n, head FROM buurten WHERE id = ANY($1) ORDER BY n FOR NO KEY UPDATE",
        )
        .await?;
    let mut buurten: HashMap<String, (i64, i64)> = HashMap::new();
    for row in tx.query(&lock, &[&buurt_ids]).await? {
        buurten.insert(row.try_get(0)?, (row.try_get(1)?, row.try_get(2)?));
    }
    let mut device_ids: Vec<&str> = batches.iter().map(|b| b.device.as_str()).collect();
    device_ids.sort_unstable();
    device_ids.dedup();
    let devices_st = tx
        .prepare_cached("SELECT id, n FROM devices WHERE id = ANY($1)")
        .await?;
    let mut devices: HashMap<String, i64> = HashMap::new();
    for row in tx.query(&devices_st, &[&device_ids]).await? {
        devices.insert(row.try_get(0)?, row.try_get(1)?);
    }
    let mut keys = Vec::with_capacity(batches.len());
    let mut devs = Vec::with_capacity(batches.len());
    let mut heads = HashMap::new();
    for batch in batches {
        let &(n, head) = buurten
            .get(batch.buurt.as_str())
            .ok_or_else(|| not_found("buurt", batch.buurt.as_str()))?;
        let &dev = devices
            .get(batch.device.as_str())
            .ok_or_else(|| not_found("device", batch.device.as_str()))?;
        keys.push(n);
        devs.push(dev);
        heads.insert(n, to_u64(head, "head")?);
    }

    // What is stored already: the documents' owners and the hashes in these logs.
    let mut docs: Vec<&[u8]> = Vec::new();
    let (mut pair_buurt, mut pair_hash): (Vec<i64>, Vec<&[u8]>) = (Vec::new(), Vec::new());
    for (batch, &n) in batches.iter().zip(&keys) {
        for c in &batch.changes {
            docs.push(c.doc.as_slice());
            pair_buurt.push(n);
            pair_hash.push(c.hash.as_slice());
        }
    }
    docs.sort_unstable();
    docs.dedup();
    let logged_st = tx
        .prepare_cached(
            "SELECT l.buurt, l.hash FROM unnest($1::bigint[], $2::bytea[]) AS q(buurt, hash)
             JOIN log l ON l.buurt = q.buurt AND l.hash = q.hash",
        )
        .await?;
    let mut logged = HashSet::new();
    for row in tx.query(&logged_st, &[&pair_buurt, &pair_hash]).await? {
        let hash: &[u8] = row.try_get(1)?;
        logged.insert((row.try_get::<_, i64>(0)?, array(hash, "change hash")?));
    }
    let owners_st = tx
        .prepare_cached("SELECT id, buurt, audience::bigint FROM documents WHERE id = ANY($1)")
        .await?;
    let new_docs_st = tx
        .prepare_cached(
            "INSERT INTO documents (id, buurt, audience)
             SELECT * FROM unnest($1::bytea[], $2::bigint[], $3::bigint[])
             ON CONFLICT (id) DO NOTHING",
        )
        .await?;
    // A document first pushed to another buurt by a concurrent transaction makes the insert
    // of its row do nothing: read the owners again and decide again.
    let mut attempts = 0usize;
    let plan = loop {
        let mut owners = HashMap::new();
        for row in tx.query(&owners_st, &[&docs]).await? {
            let id: &[u8] = row.try_get(0)?;
            let owner: (i64, i64) = (row.try_get(1)?, row.try_get(2)?);
            owners.insert(array(id, "document id")?, owner);
        }
        let plan = plan_append(batches, &keys, owners, &logged, heads.clone())?;
        if plan.new_docs.is_empty() {
            break plan;
        }
        let ids: Vec<&[u8]> = plan.new_docs.iter().map(|(d, ..)| d.as_slice()).collect();
        let ns: Vec<i64> = plan.new_docs.iter().map(|(_, n, _)| *n).collect();
        let audiences: Vec<i64> = plan.new_docs.iter().map(|(.., a)| *a).collect();
        let inserted = tx.execute(&new_docs_st, &[&ids, &ns, &audiences]).await?;
        if usize::try_from(inserted).is_ok_and(|i| i == ids.len()) {
            break plan;
        }
        attempts += 1;
        if attempts > RETRIES {
            return Err(Fail::Storage(StorageError::Backend(
                "postgres: documents kept changing buurt during an append".into(),
            )));
        }
    };

    // The log rows, the readers, the heads, then one durable commit.
    let mut cols = LogColumns::default();
    for row in &plan.rows {
        let (batch, c) = row.of(batches)?;
        let dev = devs.get(row.batch).copied().unwrap_or(-1);
        cols.buurt.push(row.buurt);
        cols.seq.push(row.seq);
        cols.doc.push(c.doc.as_slice());
        cols.hash.push(c.hash.as_slice());
        cols.device.push(dev);
        cols.bytes.push(c.bytes.as_slice());
        cols.received_at.push(batch.received_at);
        cols.audience.push(row.audience);
    }
    if !cols.seq.is_empty() {
        let insert = tx
            .prepare_cached(
                "INSERT INTO log (buurt, seq, doc, hash, device, bytes, received_at, audience)
                 SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bytea[], $4::bytea[],
                                      $5::bigint[], $6::bytea[], $7::bigint[], $8::bigint[])",
            )
            .await?;
        let params: [&(dyn ToSql + Sync); 8] = [
            &cols.buurt,
            &cols.seq,
            &cols.doc,
            &cols.hash,
            &cols.device,
            &cols.bytes,
            &cols.received_at,
            &cols.audience,
        ];
        tx.execute(&insert, &params).await?;
    }
    if !plan.grants.is_empty() {
        let grant = tx
            .prepare_cached(
                "INSERT INTO readers (doc, member, buurt, seq)
                 SELECT * FROM unnest($1::bytea[], $2::text[], $3::bigint[], $4::bigint[])
                 ON CONFLICT (doc, member) DO NOTHING",
            )
            .await?;
        let docs: Vec<&[u8]> = plan.grants.iter().map(|g| g.0.as_slice()).collect();
        let members: Vec<&str> = plan.grants.iter().map(|g| g.1.as_str()).collect();
        let ns: Vec<i64> = plan.grants.iter().map(|g| g.2).collect();
        let seqs: Vec<i64> = plan.grants.iter().map(|g| g.3).collect();
        tx.execute(&grant, &[&docs, &members, &ns, &seqs]).await?;
    }
    // The photos the stored changes' documents reference (a repeat does nothing).
    let mut refs = RefColumns::default();
    for row in &plan.rows {
        let (_, c) = row.of(batches)?;
        for p in &c.photos {
            refs.buurt.push(row.buurt);
            refs.hash.push(p.hash.as_slice());
            refs.doc.push(c.doc.as_slice());
            refs.member.push(p.by.as_str());
            refs.seq.push(row.seq);
        }
    }
    if !refs.seq.is_empty() {
        let insert = tx
            .prepare_cached(
                "INSERT INTO blob_refs (buurt, hash, doc, member, seq)
                 SELECT * FROM unnest($1::bigint[], $2::bytea[], $3::bytea[], $4::text[],
                                      $5::bigint[])
                 ON CONFLICT (buurt, hash, doc, member) DO NOTHING",
            )
            .await?;
        let params: [&(dyn ToSql + Sync); 5] =
            [&refs.buurt, &refs.hash, &refs.doc, &refs.member, &refs.seq];
        tx.execute(&insert, &params).await?;
    }
    let mut head_n = Vec::with_capacity(plan.heads.len());
    let mut head_v = Vec::with_capacity(plan.heads.len());
    for (n, head) in &plan.heads {
        head_n.push(*n);
        head_v.push(to_i64(*head, "head")?);
    }
    // Every buurt whose head moved is announced to the other relays (see `listen`); PostgreSQL
    // delivers a notification only when, and only if, its transaction commits.
    let set_heads = tx
        .prepare_cached(
            "WITH moved AS (
                 UPDATE buurten b SET head = u.head
                 FROM unnest($1::bigint[], $2::bigint[]) AS u(n, head)
                 WHERE b.n = u.n AND b.head <> u.head
                 RETURNING b.id, b.head)
             SELECT pg_notify($3, id || ' ' || head) FROM moved",
        )
        .await?;
    tx.query(&set_heads, &[&head_n, &head_v, &HEADS_CHANNEL])
        .await?;
    tx.commit().await?;
    Ok(plan.outcomes())
}

/// The columns of the log rows one append inserts (one `unnest` statement).
#[derive(Default)]
struct LogColumns<'a> {
    buurt: Vec<i64>,
    seq: Vec<i64>,
    doc: Vec<&'a [u8]>,
    hash: Vec<&'a [u8]>,
    device: Vec<i64>,
    bytes: Vec<&'a [u8]>,
    received_at: Vec<i64>,
    audience: Vec<i64>,
}

/// The columns of the photo references one append inserts.
#[derive(Default)]
struct RefColumns<'a> {
    buurt: Vec<i64>,
    hash: Vec<&'a [u8]>,
    doc: Vec<&'a [u8]>,
    member: Vec<&'a str>,
    seq: Vec<i64>,
}

/// One attempt at [`Storage::join`].
async fn join_once(pool: &Pool, t: &JoinTicket) -> Res<Result<Joined, JoinRefusal>> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    // Joins are serialised relay-wide (they are rare and rate-limited): the cross-buurt facts
    // of member and actor ids and the retry lookup then include every earlier join, and two
    // identical retries enrol one device. Each statement below reads what committed before it.
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&JOIN_LOCK])
        .await?;
    // The invite row's lock serialises joins on one invite: the second reads the first's use.
    let invite = tx
        .prepare_cached(
            "SELECT i.buurt, b.id, b.name, i.role, i.member, i.expires_at, i.max_uses, i.uses
             FROM invites i JOIN buurten b ON b.n = i.buurt WHERE i.hash = $1
             FOR UPDATE OF i",
        )
        .await?;
    // The ticket's actor ids, each once: the queries and the registration below take them so.
    let mut actors: Vec<Vec<u8>> = t.actors.iter().map(|a| a.to_bytes().to_vec()).collect();
    actors.sort_unstable();
    actors.dedup();
    let facts = match tx.query_opt(&invite, &[&t.invite_hash.as_slice()]).await? {
        None => None,
        Some(row) => {
            let invite = StoredInvite {
                buurt: row.try_get(0)?,
                buurt_id: row.try_get(1)?,
                buurt_name: row.try_get(2)?,
                role: row.try_get(3)?,
                member: row.try_get(4)?,
                expires_at: row.try_get(5)?,
                max_uses: row.try_get(6)?,
                uses: row.try_get(7)?,
            };
            Some(join_facts(&tx, t, &actors, invite).await?)
        }
    };
    let Enrolment {
        buurt: n,
        new_member,
        joined,
    } = match check_join(t, facts.as_ref())? {
        Err(why) => return refuse(tx, why).await,
        Ok(JoinPlan::Retry(joined)) => {
            tx.commit().await?;
            return Ok(Ok(joined));
        }
        Ok(JoinPlan::Enrol(enrolment)) => enrolment,
    };
    // The writes. Each also catches what a concurrent join registered since the facts were
    // read.
    if new_member {
        let insert = tx
            .prepare_cached(
                "INSERT INTO members (buurt, id, display_name, role, joined_at)
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            )
            .await?;
        let params: [&(dyn ToSql + Sync); 5] = [
            &n,
            &t.member.as_str(),
            &t.display_name,
            &joined.role.as_str(),
            &t.now,
        ];
        if tx.execute(&insert, &params).await? == 0 {
            return refuse(tx, JoinRefusal::MemberTaken).await;
        }
    }
    let device = tx
        .prepare_cached(
            "INSERT INTO devices (id, buurt, member, token_hash, created_at, join_invite)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING n",
        )
        .await?;
    let params: [&(dyn ToSql + Sync); 6] = [
        &t.device.as_str(),
        &n,
        &t.member.as_str(),
        &t.token_hash.as_slice(),
        &t.now,
        &t.invite_hash.as_slice(),
    ];
    let device_n: i64 = tx.query_one(&device, &params).await?.try_get(0)?;
    // An actor already registered is taken over only from a revoked device of this member.
    let register = tx
        .prepare_cached(
            "INSERT INTO actors (buurt, actor, device)
             SELECT $1, a, $3 FROM unnest($2::bytea[]) AS a
             ON CONFLICT (buurt, actor) DO UPDATE SET device = excluded.device
             WHERE EXISTS (SELECT 1 FROM devices d WHERE d.n = actors.device
                           AND d.member = $4 AND d.revoked_at IS NOT NULL)",
        )
        .await?;
    let registered = tx
        .execute(&register, &[&n, &actors, &device_n, &t.member.as_str()])
        .await?;
    if usize::try_from(registered).ok() != Some(actors.len()) {
        return refuse(tx, JoinRefusal::ActorTaken).await;
    }
    let used = tx
        .prepare_cached("UPDATE invites SET uses = uses + 1 WHERE hash = $1")
        .await?;
    tx.execute(&used, &[&t.invite_hash.as_slice()]).await?;
    tx.commit().await?;
    Ok(Ok(joined))
}

/// The advisory lock every join holds for its transaction (any constant: "join" in ASCII).
const JOIN_LOCK: i64 = 0x6a6f_696e;

/// What [`check_join`] decides on, once the invite is found (`actors`: the ticket's, each
/// once). Everything is read before any rule is applied: joins are rare, and a refused one
/// costs a few more reads.
async fn join_facts(
    tx: &deadpool_postgres::Transaction<'_>,
    t: &JoinTicket,
    actors: &[Vec<u8>],
    invite: StoredInvite,
) -> Res<JoinFacts> {
    let n = invite.buurt;
    let enrolled = if t.retryable {
        let st = tx
            .prepare_cached(
                "SELECT d.id, d.buurt, d.member, d.revoked_at IS NOT NULL, d.join_invite, m.role,
                        ARRAY(SELECT a.actor FROM actors a WHERE a.device = d.n)
                 FROM devices d JOIN members m ON m.buurt = d.buurt AND m.id = d.member
                 WHERE d.token_hash = $1",
            )
            .await?;
        match tx.query_opt(&st, &[&t.token_hash.as_slice()]).await? {
            None => None,
            Some(row) => Some(EnrolledDevice {
                id: row.try_get(0)?,
                buurt: row.try_get(1)?,
                member: row.try_get(2)?,
                revoked: row.try_get(3)?,
                invite: row.try_get(4)?,
                role: row.try_get(5)?,
                actors: row.try_get(6)?,
            }),
        }
    } else {
        None
    };
    let elsewhere = tx
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM members WHERE id = $1 AND buurt <> $2)")
        .await?;
    let member_elsewhere: bool = tx
        .query_one(&elsewhere, &[&t.member.as_str(), &n])
        .await?
        .try_get(0)?;
    let existing = tx
        .prepare_cached("SELECT role FROM members WHERE buurt = $1 AND id = $2")
        .await?;
    let member_role: Option<String> =
        match tx.query_opt(&existing, &[&n, &t.member.as_str()]).await? {
            Some(row) => Some(row.try_get(0)?),
            None => None,
        };
    let elsewhere = tx
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM actors WHERE actor = ANY($1) AND buurt <> $2)",
        )
        .await?;
    let actors_elsewhere: bool = tx.query_one(&elsewhere, &[&actors, &n]).await?.try_get(0)?;
    let holders = tx
        .prepare_cached(
            "SELECT d.member, d.revoked_at IS NOT NULL FROM actors a
             JOIN devices d ON d.n = a.device WHERE a.buurt = $1 AND a.actor = ANY($2)",
        )
        .await?;
    let mut actor_holders = Vec::new();
    for row in tx.query(&holders, &[&n, &actors]).await? {
        actor_holders.push(ActorHolder {
            member: row.try_get(0)?,
            revoked: row.try_get(1)?,
        });
    }
    Ok(JoinFacts {
        invite,
        enrolled,
        member_elsewhere,
        member_role,
        actors_elsewhere,
        actor_holders,
    })
}

/// One attempt of [`Storage::start_upload`]: the device's row is locked (`FOR NO KEY UPDATE`,
/// which the foreign-key checks of its other writes do not wait for) before its bytes are
/// counted, so a parallel start of the same device counts only after this one committed.
async fn start_upload_once(
    pool: &Pool,
    device: &DeviceId,
    hash: &[u8; 32],
    length: i64,
    offset: i64,
    updated_at: i64,
    quota: u64,
) -> Res<Result<(), u64>> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let lock = tx
        .prepare_cached("SELECT n FROM devices WHERE id = $1 FOR NO KEY UPDATE")
        .await?;
    let dev: i64 = match tx.query_opt(&lock, &[&device.as_str()]).await? {
        Some(row) => row.try_get(0)?,
        None => return Err(not_found("device", device.as_str())),
    };
    let count = tx
        .prepare_cached(
            "SELECT (coalesce((SELECT sum(size) FROM blob_holders WHERE device = $1), 0)
                   + coalesce((SELECT sum(length) FROM blob_uploads
                               WHERE device = $1 AND hash <> $2), 0))::bigint",
        )
        .await?;
    let used = to_u64(
        tx.query_one(&count, &[&dev, &hash.as_slice()])
            .await?
            .try_get(0)?,
        "blob bytes",
    )?;
    if let Err(used) = quota_allows(used, u64::try_from(length).unwrap_or(u64::MAX), quota) {
        // Nothing written; dropping the transaction rolls it back and releases the lock.
        return Ok(Err(used));
    }
    let insert = tx
        .prepare_cached(
            "INSERT INTO blob_uploads (device, hash, length, received, updated_at)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (device, hash) DO UPDATE SET length = excluded.length,
                received = excluded.received, updated_at = excluded.updated_at",
        )
        .await?;
    let params: [&(dyn ToSql + Sync); 5] = [&dev, &hash.as_slice(), &length, &offset, &updated_at];
    tx.execute(&insert, &params).await?;
    tx.commit().await?;
    Ok(Ok(()))
}

/// Rolls a join back and reports why it was refused.
async fn refuse(
    tx: deadpool_postgres::Transaction<'_>,
    why: JoinRefusal,
) -> Res<Result<Joined, JoinRefusal>> {
    tx.rollback().await?;
    Ok(Err(why))
}

/// The channel commits announce moved heads on; each payload is `"<buurt id> <head>"`.
const HEADS_CHANNEL: &str = "noaber_heads";
/// The head listener's first pause before it reconnects, doubled after each failure up to
/// [`LISTEN_WAIT_MAX`].
const LISTEN_WAIT: Duration = Duration::from_millis(250);
const LISTEN_WAIT_MAX: Duration = Duration::from_secs(30);
/// How often the head listener checks that its connection still answers (a silently dead
/// TCP connection would otherwise leave it deaf until the kernel gives up, many minutes).
const LISTEN_PING: Duration = Duration::from_secs(30);

/// Cross-relay live fan-out, run by [`Storage::watch_heads`] on the storage's runtime for
/// the storage's life. On a connection of its own (not the pool's: a pooled connection is
/// handed to others and `LISTEN` is per session) it runs `LISTEN noaber_heads`, then reads
/// every buurt's head once (a commit made while it was not listening is not missed), then
/// passes on each notification. `append` sends one per buurt whose head a commit moved, in
/// the commit's transaction, so a head is announced only once it is committed and visible.
/// A lost connection (the database restarted, the network failed, a ping unanswered within
/// [`TIMEOUT`]) is logged and reopened after a pause that doubles from [`LISTEN_WAIT`] to
/// [`LISTEN_WAIT_MAX`]; `relay_postgres_listening` says whether it is listening.
async fn listen(config: tokio_postgres::Config, sink: Arc<dyn HeadSink>) {
    let mut wait = LISTEN_WAIT;
    loop {
        let why = listen_once(&config, &*sink, &mut wait).await;
        metrics::gauge!(crate::metrics::PG_LISTENING).set(0.0);
        tracing::warn!(
            error = %why,
            retry_in_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
            "postgres: not listening for other relays' commits; reconnecting"
        );
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(LISTEN_WAIT_MAX);
    }
}

/// One connection's worth of [`listen`]; returns why it ended. Resets `wait` once listening.
async fn listen_once(
    config: &tokio_postgres::Config,
    sink: &dyn HeadSink,
    wait: &mut Duration,
) -> String {
    let (client, mut connection) = match config.connect(NoTls).await {
        Ok(c) => c,
        Err(e) => return pg_message(&e),
    };
    // The connection is driven by a task of its own, which hands notifications over; it ends
    // with the connection, or when this function returns (the guard aborts it).
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Result<String, String>>();
    let driver = tokio::spawn(async move {
        loop {
            let message = std::future::poll_fn(|cx| connection.poll_message(cx)).await;
            let sent = match message {
                Some(Ok(tokio_postgres::AsyncMessage::Notification(n))) => {
                    tx.send(Ok(n.payload().to_owned()))
                }
                Some(Ok(_)) => Ok(()),
                Some(Err(e)) => {
                    let _ = tx.send(Err(pg_message(&e)));
                    return;
                }
                None => {
                    let _ = tx.send(Err("the connection closed".into()));
                    return;
                }
            };
            if sent.is_err() {
                return;
            }
        }
    });
    let _driver = AbortOnDrop(driver);
    if let Err(e) = client
        .batch_execute(&format!("LISTEN {HEADS_CHANNEL}"))
        .await
    {
        return pg_message(&e);
    }
    match client.query("SELECT id, head FROM buurten", &[]).await {
        Ok(rows) => {
            for row in rows {
                if let (Ok(id), Ok(head)) = (row.try_get::<_, &str>(0), row.try_get::<_, i64>(1)) {
                    deliver(sink, id, head);
                }
            }
        }
        Err(e) => return pg_message(&e),
    }
    metrics::gauge!(crate::metrics::PG_LISTENING).set(1.0);
    tracing::info!("postgres: listening for other relays' commits");
    *wait = LISTEN_WAIT;
    let mut ping = tokio::time::interval(LISTEN_PING);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ping.tick().await;
    loop {
        tokio::select! {
            message = rx.recv() => match message {
                Some(Ok(payload)) => match payload.split_once(' ') {
                    Some((id, head)) => match head.parse::<i64>() {
                        Ok(head) => deliver(sink, id, head),
                        Err(_) => tracing::warn!("postgres: a head notification without a head"),
                    },
                    None => tracing::warn!("postgres: a head notification of another shape"),
                },
                Some(Err(why)) => return why,
                None => return "the connection's driver stopped".into(),
            },
            _ = ping.tick() => match tokio::time::timeout(TIMEOUT, client.simple_query("SELECT 1")).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => return pg_message(&e),
                Err(_) => return format!("no answer to a ping within {} s", TIMEOUT.as_secs()),
            },
        }
    }
}

/// Passes a buurt's head to the sink; ids and heads that do not parse are skipped (logged
/// without their value: the channel is the relays' own, so this is a bug or a stranger).
fn deliver(sink: &dyn HeadSink, id: &str, head: i64) {
    match (BuurtId::parse(id), u64::try_from(head)) {
        (Ok(buurt), Ok(head)) => sink.moved(&buurt, head),
        _ => tracing::warn!("postgres: a head notification that does not parse"),
    }
}

/// Aborts a task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Storage for PostgresStorage {
    fn watch_heads(&self, sink: Arc<dyn HeadSink>) -> bool {
        let Some(runtime) = self.runtime.as_ref() else {
            return false;
        };
        runtime.spawn(listen(self.config.clone(), sink));
        true
    }

    fn ping(&self) -> StorageResult<()> {
        self.run(|pool| async move {
            let client = pool.get().await?;
            client.query_one("SELECT 1", &[]).await?;
            Ok(())
        })
    }

    fn create_buurt(&self, id: &BuurtId, name: &str, now: i64) -> StorageResult<()> {
        let (id, name) = (id.to_string(), name.to_owned());
        self.run(move |pool| async move {
            let client = pool.get().await?;
            let st = client
                .prepare_cached("INSERT INTO buurten (id, name, created_at) VALUES ($1, $2, $3)")
                .await?;
            match client.execute(&st, &[&id, &name, &now]).await {
                Ok(_) => Ok(()),
                Err(e) if is_unique_violation(&e) => {
                    Err(Fail::Storage(StorageError::Conflict { what: "buurt", id }))
                }
                Err(e) => Err(e.into()),
            }
        })
    }

    fn buurt(&self, id: &BuurtId) -> StorageResult<Option<Buurt>> {
        let id = id.clone();
        self.run(move |pool| async move {
            let client = pool.get().await?;
            let st = client
                .prepare_cached("SELECT name, head, created_at FROM buurten WHERE id = $1")
                .await?;
            let Some(row) = client.query_opt(&st, &[&id.as_str()]).await? else {
                return Ok(None);
            };
            Ok(Some(Buurt {
                name: row.try_get(0)?,
                head: to_u64(row.try_get(1)?, "head")?,
                created_at: row.try_get(2)?,
                id,
            }))
        })
    }

    fn buurten(&self) -> StorageResult<Vec<Buurt>> {
        self.run(|pool| async move {
            let client = pool.get().await?;
            let st = client
                .prepare_cached("SELECT id, name, head, created_at FROM buurten ORDER BY n")
                .await?;
            let mut out = Vec::new();
            for row in client.query(&st, &[]).await? {
                out.push(Buurt {
                    id: buurt_id(row.try_get(0)?)?,
                    name: row.try_get(1)?,
                    head: to_u64(row.try_get(2)?, "head")?,
                    created_at: row.try_get(3)?,
                });
            }
            Ok(out)
        })
    }

    fn create_invite(&self, invite: &NewInvite) -> StorageResult<()> {
        let invite = invite.clone();
        self.run(move |pool| async move {
            let client = pool.get().await?;
            let st = client
                .prepare_cached(
                    "INSERT INTO invites
                       (hash, buurt, role, member, created_at, expires_at, max_uses)
                     SELECT $1, n, $3, $4, $5, $6, $7 FROM buurten WHERE id = $2",
                )
                .await?;
            let params: [&(dyn ToSql + Sync); 7] = [
                &invite.hash.as_slice(),
                &invite.buurt.as_str(),
                &invite.role.as_str(),
                &invite.member.as_ref().map(MemberId::as_str),
                &invite.created_at,
                &invite.expires_at,
                &i64::from(invite.max_uses),
            ];
            match client.execute(&st, &params).await {
                Ok(0) => Err(not_found("buurt", invite.buurt.as_str())),
                Ok(_) => Ok(()),
                Err(e) if is_unique_violation(&e) => Err(Fail::Storage(StorageError::Conflict {
                    what: "invite",
                    id: "(hash)".into(),
                })),
                Err(e) => Err(e.into()),
            }
        })
    }

    fn join(&self, ticket: &JoinTicket) -> StorageResult<Result<Joined, JoinRefusal>> {
        let ticket = ticket.clone();
        self.run(move |pool| async move { retrying!(join_once(&pool, &ticket)) })
    }

    fn device_by_token(&self, token_hash: &[u8; 32]) -> StorageResult<Option<DeviceAuth>> {
        let token_hash = *token_hash;
        self.run(move |pool| async move {
            let client = pool.get().await?;
            let st = client
                .prepare_cached(
                    "SELECT d.id, b.id, d.member, m.role, d.revoked_at IS NOT NULL,
                            ARRAY(SELECT a.actor FROM actors a WHERE a.device = d.n
                                  ORDER BY a.actor)
                     FROM devices d
                     JOIN buurten b ON b.n = d.buurt
                     JOIN members m ON m.buurt = d.buurt AND m.id = d.member
                     WHERE d.token_hash = $1",
                )
                .await?;
            let Some(row) = client.query_opt(&st, &[&token_hash.as_slice()]).await? else {
                return Ok(None);
            };
            let actors: Vec<Vec<u8>> = row.try_get(5)?;
            Ok(Some(DeviceAuth {
                device: device_id(row.try_get(0)?)?,
                buurt: buurt_id(row.try_get(1)?)?,
                member: member(row.try_get(2)?)?,
                role: role(row.try_get(3)?)?,
                revoked: row.try_get(4)?,
                actors: actors.into_iter().map(ActorId::from).collect(),
            }))
        })
    }

    fn members(&self, buurt: &BuurtId) -> StorageResult<Vec<MemberRow>> {
        let buurt = buurt.clone();
        self.run(move |pool| async move {
            let client = pool.get().await?;
            // One statement, one snapshot: no rows at all means no such buurt.
            let st = client
                .prepare_cached(
                    "SELECT m.id, m.display_name, m.role, m.joined_at,
                            (SELECT count(*) FROM devices d WHERE d.buurt = m.buurt
                               AND d.member = m.id AND d.revoked_at IS NULL)
                     FROM buurten b LEFT JOIN members m ON m.buurt = b.n
                     WHERE b.id = $1 ORDER BY m.joined_at, m.id",
                )
                .await?;
            let rows = client.query(&st, &[&buurt.as_str()]).await?;
            if rows.is_empty() {
                return Err(not_found("buurt", buurt.as_str()));
            }
            let mut out = Vec::new();
            for row in rows {
                let Some(id) = row.try_get::<_, Option<String>>(0)? else {
                    continue; // the buurt has no member yet
                };
                let devices: i64 = row.try_get(4)?;
                out.push(MemberRow {
                    member: member(id)?,
                    display_name: row.try_get(1)?,
                    role: role(row.try_get(2)?)?,
                    joined_at: row.try_get(3)?,
                    active_devices: u32::try_from(devices).unwrap_or(u32::MAX),
                });
            }
            Ok(out)
        })
    }

    fn devices(&self, buurt: &BuurtId) -> StorageResult<Vec<DeviceRow>> {
        let buurt = buurt.clone();
        self.run(move |pool| async move {
            let client = pool.get().await?;
            let st = client
                .prepare_cached(
                    "SELECT d.id, d.member, d.created_at, d.revoked_at,
                            ARRAY(SELECT a.actor FROM actors a WHERE a.device = d.n
                                  ORDER BY a.actor)
                     FROM buurten b LEFT JOIN devices d ON d.buurt = b.n
                     WHERE b.id = $1 ORDER BY d.created_at, d.n",
                )
                .await?;
            let rows = client.query(&st, &[&buurt.as_str()]).await?;
            if rows.is_empty() {
                return Err(not_found("buurt", buurt.as_str()));
            }
            let mut out = Vec::new();
            for row in rows {
                let Some(id) = row.try_get::<_, Option<String>>(0)? else {
                    continue; // the buurt has no device yet
                };
                let actors: Vec<Vec<u8>> = row.try_get(4)?;
                out.push(DeviceRow {
                    device: device_id(id)?,
                    member: member(row.try_get(1)?)?,
                    created_at: row.try_get(2)?,
                    revoked_at: row.try_get(3)?,
                    actors: actors.iter().map(|a| hex(a)).collect(),
                });
            }
            Ok(out)
        })
    }

    fn revoke_device(&self, device: &DeviceId, now: i64) -> StorageResult<bool> {
        let device = device.clone();
        self.run(move |pool| async move {
            let client = pool.get().await?;
            let st = client
                .prepare_cached(
                    "UPDATE devices SET revoked_at = coalesce(revoked_at, $2) WHERE id = $1",
                )
                .await?;
            Ok(client.execute(&st, &[&device.as_str(), &now]).await? > 0)
        })
    }

    fn set_role(&self, buurt: &BuurtId, m: &MemberId, r: Role) -> StorageResult<bool> {
        let (buurt, m) = (buurt.clone(), m.clone());
        self.run(move |pool| async move {
            let client = pool.get().await?;
            let st = client
                .prepare_cached(
                    "UPDATE members SET role = $3
                     WHERE buurt = (SELECT n FROM buurten WHERE id = $1) AND id = $2",
                )
                .await?;
            let changed = client
                .execute(&st, &[&buurt.as_str(), &m.as_str(), &r.as_str()])
                .await?;
            Ok(changed > 0)
        })
    }

    fn doc_buurt(&self, doc: &[u8; 16]) -> StorageResult<Option<BuurtId>> {
        let doc = *doc;
        self.run(move |pool| async move {
            let client = pool.get().await?;
            let st = client
                .prepare_cached(
                    "SELECT b.id FROM documents d JOIN buurten b ON b.n = d.buurt WHERE d.id = $1",
                )
                .await?;
            match client.query_opt(&st, &[&doc.as_slice()]).await? {
                Some(row) => Ok(Some(buurt_id(row.try_get(0)?)?)),
                None => Ok(None),
            }
        })
    }

    fn has_change(&self, buurt: &BuurtId, hash: &[u8; 32]) -> StorageResult<bool> {
        let (buurt, hash) = (buurt.clone(), *hash);
        self.run(move |pool| async move {
            let client = pool.get().await?;
            let st = client
                .prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM log
                       WHERE buurt = (SELECT n FROM buurten WHERE id = $1) AND hash = $2)",
                )
                .await?;
            Ok(client
                .query_one(&st, &[&buurt.as_str(), &hash.as_slice()])
                .await?
                .try_get(0)?)
        })
    }

    fn doc_changes(
        &self,
        buurt: &BuurtId,
        doc: &[u8; 16],
    ) -> StorageResult<Vec<([u8; 32], Vec<u8>)>> {
        let (buurt, doc) = (buurt.clone(), *doc);
        self.run(move |pool| async move {
            let client = pool.get().await?;
            let st = client
                .prepare_cached(
                    "SELECT hash, bytes FROM log
                     WHERE doc = $2 AND buurt = (SELECT n FROM buurten WHERE id = $1)
                     ORDER BY seq",
                )
                .await?;
            let mut out = Vec::new();
            for row in client
                .query(&st, &[&buurt.as_str(), &doc.as_slice()])
                .await?
            {
                let hash: &[u8] = row.try_get(0)?;
                out.push((array(hash, "change hash")?, row.try_get(1)?));
            }
            Ok(out)
        })
    }

    fn append(&self, batches: &[AppendBatch]) -> StorageResult<Vec<BatchOutcome>> {
        if batches.is_empty() {
            return Ok(Vec::new());
        }
        // The future must own what it reads: it runs on the storage's runtime.
        let batches = batches.to_vec();
        self.run(move |pool| async move { retrying!(append_once(&pool, &batches)) })
    }

    fn head(&self, buurt: &BuurtId) -> StorageResult<u64> {
        let buurt = buurt.clone();
        self.run(move |pool| async move {
            let client = pool.get().await?;
            let st = client
                .prepare_cached("SELECT head FROM buurten WHERE id = $1")
                .await?;
            match client.query_opt(&st, &[&buurt.as_str()]).await? {
                Some(row) => Ok(to_u64(row.try_get(0)?, "head")?),
                None => Err(not_found("buurt", buurt.as_str())),
            }
        })
    }

    fn pull(
        &self,
        buurt: &BuurtId,
        after: u64,
        limit: usize,
        puller: &Puller,
    ) -> StorageResult<LogPage> {
        let (buurt, puller) = (buurt.clone(), puller.clone());
        let after_i = to_i64(after, "cursor")?;
        let fetch = page_fetch(limit);
        self.run(move |pool| async move {
            let mut client = pool.get().await?;
            let tx = client
                .build_transaction()
                .isolation_level(IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .await?;
            let head_st = tx
                .prepare_cached("SELECT head FROM buurten WHERE id = $1")
                .await?;
            // Rows of restricted documents (audience <> 0) only for coordinators and readers.
            let log_st = tx
                .prepare_cached(
                    "SELECT seq, doc, bytes FROM log l
                     WHERE buurt = (SELECT n FROM buurten WHERE id = $1) AND seq > $2
                       AND device <> coalesce((SELECT n FROM devices WHERE id = $3), -1)
                       AND (audience = 0 OR $5 OR EXISTS (
                            SELECT 1 FROM readers r WHERE r.doc = l.doc AND r.member = $6))
                     ORDER BY seq LIMIT $4",
                )
                .await?;
            let (b, d, m) = (
                buurt.as_str(),
                puller.device.as_str(),
                puller.member.as_str(),
            );
            let head_params: [&(dyn ToSql + Sync); 1] = [&b];
            let log_params: [&(dyn ToSql + Sync); 6] =
                [&b, &after_i, &d, &fetch, &puller.coordinator, &m];
            // Both run in the transaction's one snapshot; pipelined on the connection.
            let (head, rows) = tokio::try_join!(
                tx.query_opt(&head_st, &head_params),
                tx.query(&log_st, &log_params),
            )?;
            tx.commit().await?;
            let head = match head {
                Some(row) => to_u64(row.try_get(0)?, "head")?,
                None => return Err(not_found("buurt", buurt.as_str())),
            };
            let mut changes = Vec::with_capacity(rows.len());
            for row in rows {
                let doc: &[u8] = row.try_get(1)?;
                changes.push(LoggedChange {
                    seq: to_u64(row.try_get(0)?, "seq")?,
                    doc: array(doc, "document id")?,
                    bytes: row.try_get(2)?,
                });
            }
            Ok(assemble_page(changes, after, limit, head))
        })
    }

    fn blob(&self, hash: &[u8; 32]) -> StorageResult<Option<BlobRow>> {
        let hash = *hash;
        self.run(move |pool| async move {
            let client = pool.get().await?;
            let st = client
                .prepare_cached(
                    "SELECT b.mime, b.size, d.id, b.created_at FROM blobs b
                     JOIN devices d ON d.n = b.device WHERE b.hash = $1",
                )
                .await?;
            match client.query_opt(&st, &[&hash.as_slice()]).await? {
                Some(row) => Ok(Some(BlobRow {
                    mime: row.try_get(0)?,
                    size: to_u64(row.try_get(1)?, "size")?,
                    uploaded_by: device_id(row.try_get(2)?)?,
                    created_at: row.try_get(3)?,
                })),
                None => Ok(None),
            }
        })
    }

    fn held_blob(&self, device: &DeviceId, hash: &[u8; 32]) -> StorageResult<Option<u64>> {
        let (device, hash) = (device.clone(), *hash);
        self.run(move |pool| async move {
            let client = pool.get().await?;
            let st = client
                .prepare_cached(
                    "SELECT h.size FROM devices d JOIN blob_holders h
                       ON h.buurt = d.buurt AND h.member = d.member AND h.hash = $2
                     WHERE d.id = $1",
                )
                .await?;
            match client
                .query_opt(&st, &[&device.as_str(), &hash.as_slice()])
                .await?
            {
                Some(row) => Ok(Some(to_u64(row.try_get(0)?, "size")?)),
                None => Ok(None),
            }
        })
    }

    fn start_upload(
        &self,
        device: &DeviceId,
        hash: &[u8; 32],
        row: &UploadRow,
        quota: u64,
    ) -> StorageResult<Result<(), u64>> {
        let (device, hash, row) = (device.clone(), *hash, *row);
        let length = to_i64(row.length, "length")?;
        let offset = to_i64(row.offset, "offset")?;
        self.run(move |pool| async move {
            retrying!(start_upload_once(
                &pool,
                &device,
                &hash,
                length,
                offset,
                row.updated_at,
                quota
            ))
        })
    }

    fn upload(&self, device: &DeviceId, hash: &[u8; 32]) -> StorageResult<Option<UploadRow>> {
        let (device, hash) = (device.clone(), *hash);
        self.run(move |pool| async move {
            let client = pool.get().await?;
            let st = client
                .prepare_cached(
                    "SELECT u.length, u.received, u.updated_at FROM blob_uploads u
                     JOIN devices d ON d.n = u.device WHERE d.id = $1 AND u.hash = $2",
                )
                .await?;
            match client
                .query_opt(&st, &[&device.as_str(), &hash.as_slice()])
                .await?
            {
                Some(row) => Ok(Some(UploadRow {
                    length: to_u64(row.try_get(0)?, "length")?,
                    offset: to_u64(row.try_get(1)?, "offset")?,
                    updated_at: row.try_get(2)?,
                })),
                None => Ok(None),
            }
        })
    }

    fn set_upload(&self, device: &DeviceId, hash: &[u8; 32], row: &UploadRow) -> StorageResult<()> {
        let (device, hash, row) = (device.clone(), *hash, *row);
        let length = to_i64(row.length, "length")?;
        let offset = to_i64(row.offset, "offset")?;
        self.run(move |pool| async move {
            let client = pool.get().await?;
            let st = client
                .prepare_cached(
                    "INSERT INTO blob_uploads (device, hash, length, received, updated_at)
                     SELECT n, $2, $3, $4, $5 FROM devices WHERE id = $1
                     ON CONFLICT (device, hash) DO UPDATE SET length = excluded.length,
                        received = excluded.received, updated_at = excluded.updated_at",
                )
                .await?;
            let params: [&(dyn ToSql + Sync); 5] = [
                &device.as_str(),
                &hash.as_slice(),
                &length,
                &offset,
                &row.updated_at,
            ];
            if client.execute(&st, &params).await? == 0 {
                return Err(not_found("device", device.as_str()));
            }
            Ok(())
        })
    }

    fn drop_upload(&self, device: &DeviceId, hash: &[u8; 32]) -> StorageResult<bool> {
        let (device, hash) = (device.clone(), *hash);
        self.run(move |pool| async move {
            let client = pool.get().await?;
            let st = client
                .prepare_cached(
                    "DELETE FROM blob_uploads
                     WHERE device = (SELECT n FROM devices WHERE id = $1) AND hash = $2",
                )
                .await?;
            Ok(client
                .execute(&st, &[&device.as_str(), &hash.as_slice()])
                .await?
                > 0)
        })
    }

    fn complete_blob(
        &self,
        device: &DeviceId,
        hash: &[u8; 32],
        mime: &str,
        size: u64,
        now: i64,
    ) -> StorageResult<()> {
        let (device, hash, mime) = (device.clone(), *hash, mime.to_owned());
        let size = to_i64(size, "size")?;
        self.run(move |pool| async move {
            let mut client = pool.get().await?;
            let tx = client.transaction().await?;
            let dev_st = tx
                .prepare_cached("SELECT n FROM devices WHERE id = $1")
                .await?;
            let dev: i64 = match tx.query_opt(&dev_st, &[&device.as_str()]).await? {
                Some(row) => row.try_get(0)?,
                None => return Err(not_found("device", device.as_str())),
            };
            let insert = tx
                .prepare_cached(
                    "INSERT INTO blobs (hash, mime, size, device, created_at)
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (hash) DO NOTHING",
                )
                .await?;
            let params: [&(dyn ToSql + Sync); 5] = [&hash.as_slice(), &mime, &size, &dev, &now];
            tx.execute(&insert, &params).await?;
            let hold = tx
                .prepare_cached(
                    "INSERT INTO blob_holders (buurt, member, hash, device, size, created_at)
                     SELECT buurt, member, $2, n, $3, $4 FROM devices WHERE n = $1
                     ON CONFLICT (buurt, member, hash) DO NOTHING",
                )
                .await?;
            let params: [&(dyn ToSql + Sync); 4] = [&dev, &hash.as_slice(), &size, &now];
            tx.execute(&hold, &params).await?;
            let done = tx
                .prepare_cached("DELETE FROM blob_uploads WHERE device = $1 AND hash = $2")
                .await?;
            tx.execute(&done, &[&dev, &hash.as_slice()]).await?;
            tx.commit().await?;
            Ok(())
        })
    }

    fn blob_bytes(&self, device: &DeviceId) -> StorageResult<u64> {
        let device = device.clone();
        self.run(move |pool| async move {
            let client = pool.get().await?;
            let st = client
                .prepare_cached(
                    "SELECT (coalesce((SELECT sum(size) FROM blob_holders WHERE device = d.n), 0)
                           + coalesce((SELECT sum(length) FROM blob_uploads WHERE device = d.n), 0)
                           )::bigint
                     FROM devices d WHERE d.id = $1",
                )
                .await?;
            match client.query_opt(&st, &[&device.as_str()]).await? {
                Some(row) => Ok(to_u64(row.try_get(0)?, "blob bytes")?),
                None => Ok(0),
            }
        })
    }

    fn expire_uploads(&self, before: i64) -> StorageResult<Vec<(DeviceId, [u8; 32])>> {
        self.run(move |pool| async move {
            let client = pool.get().await?;
            let st = client
                .prepare_cached(
                    "DELETE FROM blob_uploads u USING devices d
                     WHERE d.n = u.device AND u.updated_at < $1 RETURNING d.id, u.hash",
                )
                .await?;
            let mut out = Vec::new();
            for row in client.query(&st, &[&before]).await? {
                let hash: &[u8] = row.try_get(1)?;
                out.push((device_id(row.try_get(0)?)?, array(hash, "photo hash")?));
            }
            Ok(out)
        })
    }

    fn blob_readable(
        &self,
        buurt: &BuurtId,
        hash: &[u8; 32],
        puller: &Puller,
    ) -> StorageResult<bool> {
        let (buurt, hash, puller) = (buurt.clone(), *hash, puller.clone());
        self.run(move |pool| async move {
            let client = pool.get().await?;
            // As the pull decides: buurt documents for all, restricted ones for coordinators
            // and readers; and only a reference whose attacher uploaded the photo here.
            let st = client
                .prepare_cached(
                    "SELECT 1 FROM blob_refs r JOIN documents d ON d.id = r.doc
                     JOIN blob_holders h
                       ON h.buurt = r.buurt AND h.member = r.member AND h.hash = r.hash
                     WHERE r.buurt = (SELECT n FROM buurten WHERE id = $1) AND r.hash = $2
                       AND (d.audience = 0 OR $3 OR EXISTS (
                            SELECT 1 FROM readers x WHERE x.doc = r.doc AND x.member = $4))
                     LIMIT 1",
                )
                .await?;
            let params: [&(dyn ToSql + Sync); 4] = [
                &buurt.as_str(),
                &hash.as_slice(),
                &puller.coordinator,
                &puller.member.as_str(),
            ];
            Ok(client.query_opt(&st, &params).await?.is_some())
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use std::sync::{Arc, Barrier};

    use noaber_core::{Audience, MemberId};

    use super::super::fixtures::{Fixture, NOW, any_invite, anyone, buurt, enrol, ticket};
    use super::super::pg_harness::{self, Cluster};
    use super::super::{AppendBatch, Appended, JoinRefusal, NewChange};
    use super::*;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    /// A storage on a fresh database of the shared test cluster.
    fn fresh(_dir: &std::path::Path) -> Result<PostgresStorage, Box<dyn std::error::Error>> {
        Ok(PostgresStorage::open(
            &pg_harness::fresh_database()?,
            DEFAULT_POOL_SIZE,
        )?)
    }

    super::super::conformance::suite!(fresh);

    /// A device enrolled in `b`.
    fn device(s: &dyn Storage, b: &BuurtId) -> Fixture<DeviceId> {
        let inv = any_invite(s, b, 1)?;
        Ok(enrol(s, inv, &MemberId::new()?, &[ActorId::random()])?
            .joined
            .device)
    }

    fn change(doc: [u8; 16], n: u32) -> NewChange {
        let mut hash = [0u8; 32];
        hash[..16].copy_from_slice(&doc);
        hash[28..].copy_from_slice(&n.to_be_bytes());
        NewChange {
            doc,
            hash,
            bytes: n.to_be_bytes().to_vec(),
            audience: Audience::Buurt,
            grants: Vec::new(),
            photos: Vec::new(),
        }
    }

    /// Runs `f` on `threads` threads released together; returns their results in order.
    fn race<T: Send>(threads: usize, f: impl Fn(usize) -> T + Sync) -> Vec<T> {
        let start = Barrier::new(threads);
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|i| {
                    let (start, f) = (&start, &f);
                    scope.spawn(move || {
                        start.wait();
                        f(i)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        })
    }

    #[test]
    fn concurrent_appends_give_contiguous_seqs_visible_in_order() -> TestResult {
        let conn = pg_harness::fresh_database()?;
        // Two storages stand for two relay processes sharing the database.
        let relays = [
            Arc::new(PostgresStorage::open(&conn, 4)?),
            Arc::new(PostgresStorage::open(&conn, 4)?),
        ];
        let (a, b) = (
            buurt(&*relays[0], "Schildersbuurt")?,
            buurt(&*relays[0], "Schildersbuurt")?,
        );
        let (da, db) = (device(&*relays[0], &a)?, device(&*relays[0], &b)?);
        const WRITERS: usize = 6;
        const ROUNDS: u32 = 15;
        let done = std::sync::atomic::AtomicUsize::new(0);
        let results = race(WRITERS + 1, |i| -> Result<Vec<u64>, String> {
            if i == WRITERS {
                // A reader: whatever it sees of buurt `a` is 1..=k, never a gap.
                let mut pulls = 0u32;
                while done.load(std::sync::atomic::Ordering::SeqCst) < WRITERS || pulls == 0 {
                    let page = relays[1]
                        .pull(&a, 0, 100_000, &anyone())
                        .map_err(|e| e.to_string())?;
                    let seqs: Vec<u64> = page.changes.iter().map(|c| c.seq).collect();
                    let want: Vec<u64> = (1..=seqs.len() as u64).collect();
                    if seqs != want || page.cursor != seqs.len() as u64 {
                        return Err(format!("pull saw {seqs:?} with cursor {}", page.cursor));
                    }
                    pulls += 1;
                }
                return Ok(Vec::new());
            }
            let s = &relays[i % 2];
            let mut stored = Vec::new();
            for round in 0..ROUNDS {
                let n = u32::try_from(i).unwrap() * 1000 + round * 2;
                let doc = [u8::try_from(i).unwrap() + 1; 16];
                let mut other = doc;
                other[0] = 0xb0 + u8::try_from(i).unwrap();
                // Both buurten in one call, in either order: locks are taken in key order.
                let mut batches = vec![
                    AppendBatch {
                        buurt: a.clone(),
                        device: da.clone(),
                        changes: vec![change(doc, n), change(doc, n + 1)],
                        received_at: NOW,
                    },
                    AppendBatch {
                        buurt: b.clone(),
                        device: db.clone(),
                        changes: vec![change(other, n)],
                        received_at: NOW,
                    },
                ];
                if i % 2 == 1 {
                    batches.reverse();
                }
                let out = s.append(&batches).map_err(|e| e.to_string())?;
                let ours = if i % 2 == 1 { &out[1] } else { &out[0] };
                for x in &ours.appended {
                    match x {
                        Appended::Stored(seq) => stored.push(*seq),
                        other => return Err(format!("unexpected {other:?}")),
                    }
                }
            }
            done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(stored)
        });
        let mut all = Vec::new();
        for r in results {
            all.extend(r?);
        }
        all.sort_unstable();
        let total = WRITERS as u64 * u64::from(ROUNDS) * 2;
        assert_eq!(all, (1..=total).collect::<Vec<_>>());
        assert_eq!(relays[1].head(&a)?, total);
        assert_eq!(relays[1].head(&b)?, total / 2);
        let page = relays[0].pull(&b, 0, 10_000, &anyone())?;
        assert_eq!(
            page.changes.iter().map(|c| c.seq).collect::<Vec<_>>(),
            (1..=total / 2).collect::<Vec<_>>()
        );
        Ok(())
    }

    #[test]
    fn concurrent_joins_on_the_last_use_of_an_invite_admit_exactly_one() -> TestResult {
        let s = PostgresStorage::open(&pg_harness::fresh_database()?, 8)?;
        let b = buurt(&s, "Schildersbuurt")?;
        for _ in 0..3 {
            let inv = any_invite(&s, &b, 2)?;
            // One use taken; the last one is raced for.
            let first = ticket(inv, &MemberId::new()?, &[ActorId::random()]);
            s.join(&first)?.map_err(|r| format!("{r:?}"))?;
            let outcomes = race(6, |_| {
                s.join(&ticket(
                    inv,
                    &MemberId::new().unwrap(),
                    &[ActorId::random()],
                ))
                .unwrap()
            });
            let won = outcomes.iter().filter(|o| o.is_ok()).count();
            assert_eq!(won, 1, "{outcomes:?}");
            assert!(
                outcomes
                    .iter()
                    .all(|o| o.is_ok() || *o == Err(JoinRefusal::UsedUp)),
                "{outcomes:?}"
            );
        }
        // Three rounds of two members each; the losers wrote nothing.
        assert_eq!(s.members(&b)?.len(), 6);
        assert_eq!(s.devices(&b)?.len(), 6);
        Ok(())
    }

    #[test]
    fn concurrent_joins_cannot_register_one_member_or_actor_twice() -> TestResult {
        let s = PostgresStorage::open(&pg_harness::fresh_database()?, 8)?;
        let b = buurt(&s, "Schildersbuurt")?;
        // The same new member id through different invites.
        let m = MemberId::new()?;
        let invites: Vec<_> = (0..4)
            .map(|_| any_invite(&s, &b, 1))
            .collect::<Result<_, _>>()?;
        let outcomes = race(4, |i| {
            s.join(&ticket(invites[i], &m, &[ActorId::random()]))
                .unwrap()
        });
        assert_eq!(
            outcomes.iter().filter(|o| o.is_ok()).count(),
            1,
            "{outcomes:?}"
        );
        assert!(
            outcomes
                .iter()
                .all(|o| o.is_ok() || *o == Err(JoinRefusal::MemberTaken))
        );
        // The same actor id for different members.
        let actor = ActorId::random();
        let invites: Vec<_> = (0..4)
            .map(|_| any_invite(&s, &b, 1))
            .collect::<Result<_, _>>()?;
        let outcomes = race(4, |i| {
            s.join(&ticket(
                invites[i],
                &MemberId::new().unwrap(),
                std::slice::from_ref(&actor),
            ))
            .unwrap()
        });
        assert_eq!(
            outcomes.iter().filter(|o| o.is_ok()).count(),
            1,
            "{outcomes:?}"
        );
        assert!(
            outcomes
                .iter()
                .all(|o| o.is_ok() || *o == Err(JoinRefusal::ActorTaken))
        );
        assert_eq!(s.members(&b)?.len(), 2);
        assert_eq!(s.devices(&b)?.len(), 2);
        Ok(())
    }

    /// Ids are unique across buurten even when joins to different buurten race; identical
    /// retries racing enrol one device.
    #[test]
    fn concurrent_joins_across_buurten_and_retries_enrol_once() -> TestResult {
        let s = PostgresStorage::open(&pg_harness::fresh_database()?, 8)?;
        let buurten: Vec<_> = (0..4)
            .map(|_| buurt(&s, "Schildersbuurt"))
            .collect::<Result<_, _>>()?;
        let invites: Vec<_> = buurten
            .iter()
            .map(|b| any_invite(&s, b, 1))
            .collect::<Result<_, _>>()?;
        let actor = ActorId::random();
        let outcomes = race(4, |i| {
            s.join(&ticket(
                invites[i],
                &MemberId::new().unwrap(),
                std::slice::from_ref(&actor),
            ))
            .unwrap()
        });
        assert_eq!(
            outcomes.iter().filter(|o| o.is_ok()).count(),
            1,
            "{outcomes:?}"
        );
        assert!(
            outcomes
                .iter()
                .all(|o| o.is_ok() || *o == Err(JoinRefusal::ActorTaken))
        );
        let b = buurt(&s, "Schildersbuurt")?;
        let once = any_invite(&s, &b, 1)?;
        let mut t = ticket(once, &MemberId::new()?, &[ActorId::random()]);
        t.retryable = true;
        let outcomes = race(4, |_| s.join(&t).unwrap());
        let joined: Vec<_> = outcomes.into_iter().map(Result::unwrap).collect();
        assert!(joined.iter().all(|j| j.device == joined[0].device));
        assert_eq!(joined.iter().filter(|j| !j.retry).count(), 1);
        assert_eq!(s.devices(&b)?.len(), 1);
        Ok(())
    }

    #[test]
    fn a_database_of_a_newer_relay_is_refused() -> TestResult {
        let cluster = pg_harness::shared()?;
        let conn = cluster.database()?;
        drop(PostgresStorage::open(&conn, 1)?);
        // Opening again is harmless, and so are two relays starting at once.
        let opened = race(3, |_| PostgresStorage::open(&conn, 1).map(drop));
        assert!(opened.iter().all(Result::is_ok), "{opened:?}");
        let dbname = conn.rsplit("dbname=").next().unwrap();
        cluster.execute(
            dbname,
            &format!(
                "INSERT INTO schema_version (version, name) VALUES ({}, 'from the future')",
                SCHEMA_VERSION + 1
            ),
        )?;
        match PostgresStorage::open(&conn, 1) {
            Err(StorageError::TooNew { found, supported }) => {
                assert_eq!((found, supported), (SCHEMA_VERSION + 1, SCHEMA_VERSION));
            }
            other => panic!("expected TooNew, got {other:?}"),
        }
        Ok(())
    }

    #[test]
    fn a_role_with_table_privileges_only_runs_a_migrated_database() -> TestResult {
        let cluster = pg_harness::shared()?;
        let conn = cluster.database()?;
        let dbname = conn.rsplit("dbname=").next().unwrap().to_owned();
        drop(PostgresStorage::open(&conn, 1)?); // the owner creates the schema
        let role = format!("{dbname}_relay");
        cluster.execute(
            &dbname,
            &format!(
                "CREATE ROLE {role} LOGIN;
                 GRANT CONNECT ON DATABASE {dbname} TO {role};
                 GRANT USAGE ON SCHEMA public TO {role};
                 GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA public TO {role};
                 GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {role};"
            ),
        )?;
        let relay_conn = conn.replace("user=noaber", &format!("user={role}"));
        let s = PostgresStorage::open(&relay_conn, 2)?;
        super::super::conformance::append_assigns_contiguous_seqs_and_skips_duplicates(&s)?;
        super::super::conformance::actors_are_unique_per_buurt(&s)?;
        Ok(())
    }

    /// A database of the first schema keeps its rows; its documents are for the whole buurt.
    #[test]
    fn a_version_1_database_upgrades_with_its_log() -> TestResult {
        let cluster = pg_harness::shared()?;
        let conn = cluster.database()?;
        let dbname = conn.rsplit("dbname=").next().unwrap().to_owned();
        let old = PostgresStorage::connect(&conn, 1)?;
        old.run(|pool| async move { migrate_to(&pool, 1).await })?;
        drop(old);
        cluster.execute(
            &dbname,
            "INSERT INTO buurten (id, name, created_at) VALUES ('b', 'B', 0);
             INSERT INTO members (buurt, id, display_name, role, joined_at)
                 VALUES (1, 'm', 'M', 'resident', 0);
             INSERT INTO devices (id, buurt, member, token_hash, created_at)
                 VALUES ('d', 1, 'm', sha256('t'), 0);
             INSERT INTO documents (id, buurt) VALUES (decode(repeat('01', 16), 'hex'), 1);
             INSERT INTO log (buurt, seq, doc, hash, device, bytes, received_at)
                 VALUES (1, 1, decode(repeat('01', 16), 'hex'), sha256('c'), 1, 'x', 0);",
        )?;
        let s = PostgresStorage::open(&conn, 1)?;
        let (audiences, readers, version) = s.run(|pool| async move {
            let client = pool.get().await?;
            let row = client
                .query_one(
                    "SELECT d.audience::bigint, l.audience::bigint,
                            (SELECT count(*) FROM readers),
                            (SELECT max(version) FROM schema_version)
                     FROM documents d JOIN log l ON l.doc = d.id",
                    &[],
                )
                .await?;
            let audiences: (i64, i64) = (row.try_get(0)?, row.try_get(1)?);
            let (readers, version): (i64, i64) = (row.try_get(2)?, row.try_get(3)?);
            Ok((audiences, readers, version))
        })?;
        assert_eq!((audiences, readers, version), ((0, 0), 0, SCHEMA_VERSION));
        Ok(())
    }

    /// A version-3 database's photos stay with their uploader (now a holding) and its
    /// references name the member whose change made them.
    #[test]
    fn a_version_3_database_keeps_its_photos_with_their_uploaders() -> TestResult {
        let cluster = pg_harness::shared()?;
        let conn = cluster.database()?;
        let dbname = conn.rsplit("dbname=").next().unwrap().to_owned();
        let old = PostgresStorage::connect(&conn, 1)?;
        old.run(|pool| async move { migrate_to(&pool, 3).await })?;
        drop(old);
        cluster.execute(
            &dbname,
            "INSERT INTO buurten (id, name, created_at) VALUES ('b', 'B', 0);
             INSERT INTO members (buurt, id, display_name, role, joined_at)
                 VALUES (1, 'm', 'M', 'resident', 0);
             INSERT INTO devices (id, buurt, member, token_hash, created_at)
                 VALUES ('d', 1, 'm', sha256('t'), 0);
             INSERT INTO documents (id, buurt) VALUES (decode(repeat('01', 16), 'hex'), 1);
             INSERT INTO log (buurt, seq, doc, hash, device, bytes, received_at)
                 VALUES (1, 1, decode(repeat('01', 16), 'hex'), sha256('c'), 1, 'x', 0);
             INSERT INTO blobs (hash, mime, size, device, created_at)
                 VALUES (sha256('p'), 'image/jpeg', 10, 1, 7);
             INSERT INTO blob_refs (buurt, hash, doc, seq)
                 VALUES (1, sha256('p'), decode(repeat('01', 16), 'hex'), 1);",
        )?;
        let s = PostgresStorage::open(&conn, 1)?;
        let got = s.run(|pool| async move {
            let client = pool.get().await?;
            let row = client
                .query_one(
                    "SELECT h.member, h.size, r.member FROM blob_holders h
                     JOIN blob_refs r ON r.hash = h.hash AND r.buurt = h.buurt",
                    &[],
                )
                .await?;
            let got: (String, i64, String) = (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
            Ok(got)
        })?;
        assert_eq!(got, ("m".into(), 10, "m".into()));
        Ok(())
    }

    #[test]
    fn commits_are_synchronous_whatever_the_database_default() -> TestResult {
        let cluster = pg_harness::shared()?;
        let conn = cluster.database()?;
        let dbname = conn.rsplit("dbname=").next().unwrap().to_owned();
        cluster.execute(
            "postgres",
            &format!("ALTER DATABASE {dbname} SET synchronous_commit = off"),
        )?;
        // Options already in the connection string are kept.
        let s = PostgresStorage::open(&format!("{conn} options='-c work_mem=8MB'"), 1)?;
        let (sync, work_mem) = s.run(|pool| async move {
            let client = pool.get().await?;
            let a: String = client
                .query_one("SHOW synchronous_commit", &[])
                .await?
                .try_get(0)?;
            let b: String = client.query_one("SHOW work_mem", &[]).await?.try_get(0)?;
            Ok((a, b))
        })?;
        assert_eq!((sync.as_str(), work_mem.as_str()), ("on", "8MB"));
        Ok(())
    }

    #[test]
    fn backend_errors_name_no_values_and_unreachable_databases_fail_cleanly() -> TestResult {
        let s = PostgresStorage::open(&pg_harness::fresh_database()?, 2)?;
        let b = buurt(&s, "Schildersbuurt")?;
        let inv = any_invite(&s, &b, 5)?;
        let t = ticket(inv, &MemberId::new()?, &[ActorId::random()]);
        s.join(&t)?.map_err(|r| format!("{r:?}"))?;
        // A second device with the same token hash violates a unique index; PostgreSQL's
        // DETAIL would quote the hash, our message must not.
        let mut again = ticket(inv, &MemberId::new()?, &[ActorId::random()]);
        again.token_hash = t.token_hash;
        let err = s.join(&again).unwrap_err().to_string();
        assert!(err.contains("23505"), "{err}");
        assert!(!err.contains(&hex(&t.token_hash)), "{err}");
        // The failed join wrote nothing.
        assert_eq!(s.members(&b)?.len(), 1);

        let missing = std::env::temp_dir().join("noaber-no-such-socket-dir");
        let err = PostgresStorage::open(
            &format!(
                "host={} user=noaber password=hunter2 dbname=x connect_timeout=2",
                missing.display()
            ),
            1,
        )
        .unwrap_err()
        .to_string();
        // Unreachable is "for now": the relay answers 503 and recovers when it is back.
        assert!(err.starts_with("storage unavailable: postgres"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
        let err = PostgresStorage::open("host=/x password='s3cret", 1)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("invalid `postgres` connection string"),
            "{err}"
        );
        assert!(!err.contains("s3cret"), "{err}");
        Ok(())
    }

    #[test]
    fn storage_works_from_inside_an_async_task_and_drops_there() -> TestResult {
        let conn = pg_harness::fresh_database()?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        rt.block_on(async move {
            let s = PostgresStorage::open(&conn, 1)?;
            s.ping()?;
            assert!(s.buurten()?.is_empty());
            drop(s);
            Ok::<_, StorageError>(())
        })?;
        Ok(())
    }

    #[test]
    fn a_private_cluster_is_removed_on_drop() -> TestResult {
        let cluster = Cluster::start()?;
        let dir = cluster.socket_dir().to_owned();
        let s = PostgresStorage::open(&cluster.database()?, 1)?;
        s.ping()?;
        drop(s);
        assert!(dir.join("data").is_dir());
        drop(cluster);
        assert!(!dir.exists(), "{} was left behind", dir.display());
        Ok(())
    }
}
