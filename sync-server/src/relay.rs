//! The relay's shared state ([`Relay`]): storage, the writer, caches, live connections, limits,
//! the clock. Serving it over HTTP is `server.rs` and `http/`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::watch;

use crate::blob::rate::ByteRate;
use crate::blob::{BlobStore, FsBlobStore, PARTIAL_TTL};
use crate::commit::Committer;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::ids::BuurtId;
use crate::ingest::DocCache;
use crate::live::{Heads, LiveRegistry};
use crate::ratelimit::RateLimiter;
use crate::storage::{PostgresStorage, SqliteStorage, Storage};
use noaber_core::{Clock, SystemClock};

/// Shards of the validation cache; `doc_cache` is shared out among them.
pub(crate) const CACHE_SHARDS: usize = 8;

/// Heavy tasks (validating a push, loading a document for `/v1/missing`) that may run at once,
/// in all. They run on the blocking threads, so the rest of those (`main.rs` allows 4) stays
/// free for token lookups and storage reads, which must never queue behind a long validation.
/// A buurt runs one heavy task at a time (see [`Relay::heavy`]), so one buurt, however hostile,
/// leaves the other permits to everyone else.
pub const HEAVY_TASKS: usize = 2;

/// A running relay's state: storage, the group-commit writer, the validation cache, live
/// connections. Cheap to clone (one `Arc`); every clone is the same relay.
#[derive(Clone)]
pub struct Relay {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) storage: Arc<dyn Storage>,
    pub(crate) committer: Committer,
    /// The validation cache, in shards by buurt: requests of different buurten validate in
    /// parallel; those of one buurt always meet in one shard, in order (see `ingest`).
    pub(crate) docs: Vec<Mutex<DocCache>>,
    /// One turn per buurt: its heavy tasks run one after another (see [`Relay::heavy`]).
    /// Buurten are created by operators, so the map stays small.
    pub(crate) turns: Mutex<HashMap<BuurtId, Arc<tokio::sync::Mutex<()>>>>,
    /// Permits for heavy tasks ([`HEAVY_TASKS`]).
    pub(crate) heavy: Arc<tokio::sync::Semaphore>,
    pub(crate) heads: Arc<Heads>,
    pub(crate) live: LiveRegistry,
    pub(crate) joins: RateLimiter,
    /// Join attempts per invite code (keyed by the code's hash), from any address.
    pub(crate) invite_joins: RateLimiter<[u8; 32]>,
    /// Photo bytes (`<data>/blobs`, or the PostgreSQL database).
    pub(crate) blobs: Arc<dyn BlobStore>,
    /// Photo bytes each device may still send this minute.
    pub(crate) blob_rate: ByteRate,
    /// The photo uploads a chunk is being written to right now.
    pub(crate) uploading: crate::http::blobs::Uploading,
    pub(crate) config: Config,
    pub(crate) shutdown: watch::Sender<bool>,
    /// Wall time for every millisecond timestamp the relay writes or compares (changes'
    /// `received_at`, the clock window of pushed entries, joins, uploads, their expiry).
    pub(crate) clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay")
            .field("data", &self.inner.config.data)
            .field("postgres", &self.inner.config.postgres.is_some())
            .finish_non_exhaustive()
    }
}

impl Relay {
    /// Opens the relay on the PostgreSQL database `config.postgres` names, or else on the
    /// SQLite database in `config.data` (created if missing).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for a configuration out of range; [`Error::Storage`] when the
    /// database cannot be opened or migrated; [`Error::Io`] if the writer thread cannot start.
    ///
    /// On PostgreSQL the photos' bytes are in the database too ([`crate::blob::PgBlobStore`]),
    /// so every relay sharing it serves every photo; photo files a relay on PostgreSQL kept in
    /// `<data>/blobs/` before are imported at start (and set aside in `blobs/sha256.imported/`).
    pub fn open(config: &Config) -> Result<Relay> {
        Relay::open_with_clock(config, Arc::new(SystemClock))
    }

    /// [`Relay::open`] reading wall time from `clock` (tests, simulations) instead of the
    /// system's.
    ///
    /// # Errors
    ///
    /// As [`Relay::open`].
    pub fn open_with_clock(config: &Config, clock: Arc<dyn Clock>) -> Result<Relay> {
        config.check()?;
        let Some(conn) = &config.postgres else {
            let storage = Arc::new(SqliteStorage::open_dir(&config.data)?);
            return Relay::build(storage, fs_blobs(config)?, config, clock);
        };
        let storage = Arc::new(PostgresStorage::open(conn, config.postgres_pool)?);
        let blobs = crate::blob::PgBlobStore::new(Arc::clone(&storage));
        let old_files = crate::blob::dir_in(&config.data);
        let imported = blobs.import_files(&old_files)?;
        if imported > 0 {
            tracing::info!(
                imported,
                "photo files copied into the database; `<data>/blobs/sha256.imported/` may be removed"
            );
        }
        Relay::build(storage, Arc::new(blobs), config, clock)
    }

    /// A relay over any [`Storage`], keeping photos in `config.data`'s `blobs/` directory.
    ///
    /// # Errors
    ///
    /// As [`Relay::open`]; [`Error::Io`] when the photo directory cannot be created.
    pub fn with_storage(storage: Arc<dyn Storage>, config: &Config) -> Result<Relay> {
        config.check()?;
        Relay::with_stores(storage, fs_blobs(config)?, config)
    }

    /// A relay over any [`Storage`] and any [`BlobStore`].
    ///
    /// # Errors
    ///
    /// As [`Relay::open`].
    pub fn with_stores(
        storage: Arc<dyn Storage>,
        blobs: Arc<dyn BlobStore>,
        config: &Config,
    ) -> Result<Relay> {
        Relay::build(storage, blobs, config, Arc::new(SystemClock))
    }

    /// The one constructor every other ends in.
    fn build(
        storage: Arc<dyn Storage>,
        blobs: Arc<dyn BlobStore>,
        config: &Config,
        clock: Arc<dyn Clock>,
    ) -> Result<Relay> {
        config.check()?;
        crate::metrics::handle();
        let heads = Arc::new(Heads::default());
        let committer = Committer::start(Arc::clone(&storage), Arc::clone(&heads))?;
        // Several relays on one database: their commits reach this relay's live connections
        // too (PostgreSQL's LISTEN/NOTIFY; nothing to do for SQLite, which one relay opens).
        if storage.watch_heads(Arc::clone(&heads) as Arc<dyn crate::storage::HeadSink>) {
            tracing::debug!("listening for other relays' commits");
        }
        let (shutdown, _) = watch::channel(false);
        Ok(Relay {
            inner: Arc::new(Inner {
                storage,
                committer,
                docs: (0..CACHE_SHARDS)
                    .map(|_| {
                        Mutex::new(DocCache::new(
                            config.doc_cache / CACHE_SHARDS,
                            crate::ingest::DOC_CACHE_OPS / CACHE_SHARDS as u64,
                        ))
                    })
                    .collect(),
                turns: Mutex::new(HashMap::new()),
                heavy: Arc::new(tokio::sync::Semaphore::new(HEAVY_TASKS)),
                heads,
                live: LiveRegistry::new(
                    config.live_per_device,
                    config.live_per_buurt,
                    config.live_max,
                ),
                joins: RateLimiter::new(config.join_per_minute, config.join_burst),
                invite_joins: RateLimiter::new(
                    config.join_per_invite_per_minute,
                    config.join_per_invite_burst,
                ),
                blobs,
                blob_rate: ByteRate::new(config.blob_rate_bytes_per_minute),
                uploading: crate::http::blobs::Uploading::default(),
                config: config.clone(),
                shutdown,
                clock,
            }),
        })
    }

    /// The storage (administration, tests).
    pub fn storage(&self) -> &Arc<dyn Storage> {
        &self.inner.storage
    }

    /// Where the photos' bytes are (administration, tests).
    pub fn blobs(&self) -> &Arc<dyn BlobStore> {
        &self.inner.blobs
    }

    /// Discards partial photo uploads untouched for 7 days (their rows and their files);
    /// returns how many files were removed. [`crate::serve`] runs this at start and every hour.
    ///
    /// # Errors
    ///
    /// Storage and I/O errors.
    pub fn discard_stale_uploads(&self) -> Result<usize> {
        let ttl_ms = i64::try_from(PARTIAL_TTL.as_millis()).unwrap_or(i64::MAX);
        let before = self.now_ms().saturating_sub(ttl_ms);
        let mut removed = 0;
        for (device, hash) in self.inner.storage.expire_uploads(before)? {
            self.inner
                .blobs
                .discard(&device, &crate::blob::BlobHash(hash))?;
            removed += 1;
        }
        let cutoff = std::time::UNIX_EPOCH
            + std::time::Duration::from_millis(u64::try_from(before).unwrap_or(0));
        // Files without a row: an upload whose row expired or was never written (a crash).
        removed += self.inner.blobs.discard_partials_before(cutoff)?;
        Ok(removed)
    }

    /// Now, in milliseconds since the Unix epoch, from the relay's clock.
    pub(crate) fn now_ms(&self) -> i64 {
        self.inner.clock.now_ms()
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// How many documents the validation cache holds now (bounded by `doc_cache`).
    pub fn loaded_documents(&self) -> usize {
        self.inner
            .docs
            .iter()
            .map(|shard| shard.lock().map_or(0, |c| c.len()))
            .sum()
    }

    pub(crate) fn docs(&self, buurt: &BuurtId) -> MutexGuard<'_, DocCache> {
        let shard = buurt.as_str().bytes().fold(0usize, |h, b| {
            h.wrapping_mul(31).wrapping_add(usize::from(b))
        }) % self.inner.docs.len().max(1);
        let Some(lock) = self.inner.docs.get(shard) else {
            unreachable!("shard {shard} is taken modulo the shard count; this is a bug")
        };
        // The cache is only a cache: after a panic, start it afresh rather than trust it.
        lock.lock().unwrap_or_else(|poisoned| {
            let mut docs = poisoned.into_inner();
            docs.clear();
            docs
        })
    }

    /// Runs a heavy task of `buurt` (validation, loading a document) on a blocking thread, in
    /// the buurt's turn and with one of the [`HEAVY_TASKS`] permits. Waiting for either
    /// happens here, on the async side, never on a blocking thread; both are held until `f`
    /// returns, even if the request that started it is dropped (so a buurt's tasks never
    /// overlap: they alone take its documents out of the validation cache and put them back,
    /// and submit its changes to the writer in the order they were validated).
    pub(crate) async fn heavy<T, F>(&self, buurt: &BuurtId, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Relay) -> Result<T> + Send + 'static,
    {
        let turn = self.turn(buurt).lock_owned().await;
        let permit = Arc::clone(&self.inner.heavy)
            .acquire_owned()
            .await
            .map_err(|_| Error::Other("the heavy task permits are closed".into()))?;
        self.blocking(move |r| {
            let _held = (turn, permit);
            f(r)
        })
        .await
    }

    /// Waits for `buurt`'s turn without running anything (to evict its cached documents).
    pub(crate) async fn turn_of(&self, buurt: &BuurtId) -> tokio::sync::OwnedMutexGuard<()> {
        self.turn(buurt).lock_owned().await
    }

    fn turn(&self, buurt: &BuurtId) -> Arc<tokio::sync::Mutex<()>> {
        let mut turns = self
            .inner
            .turns
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Arc::clone(turns.entry(buurt.clone()).or_default())
    }

    /// Runs a blocking storage call off the async threads.
    pub(crate) async fn blocking<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Relay) -> Result<T> + Send + 'static,
    {
        let relay = self.clone();
        tokio::task::spawn_blocking(move || f(&relay))
            .await
            .map_err(|e| Error::Other(format!("a blocking task failed: {e}")))?
    }
}

/// The photo store of a relay on SQLite: `config.data`'s `blobs/` directory.
fn fs_blobs(config: &Config) -> Result<Arc<dyn BlobStore>> {
    Ok(Arc::new(FsBlobStore::open(crate::blob::dir_in(
        &config.data,
    ))?))
}
