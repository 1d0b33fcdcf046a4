//! [`PgBlobStore`]: photos in PostgreSQL, when several relays share one database.
//!
//! Tables (`migrations/postgres/006_photo_bytes.sql`): `blob_partial_chunks` holds uploads in
//! progress, one row per chunk as the device sent it; `blob_files` and `blob_file_chunks` hold
//! complete photos. Every relay of a deployment reads the same rows, so a photo uploaded
//! through one relay is served by all of them, and a device may send each chunk to another
//! relay (a round-robin balancer) without losing its place.
//!
//! The [`BlobStore`] contract, kept here by transactions instead of `fsync` and `rename`:
//!
//! - **A chunk is durable before `write_chunk` returns**: one transaction, committed with
//!   `synchronous_commit=on` (every connection of the pool sets it).
//! - **One writer per upload, across relays**: `write_chunk` and `complete` take a
//!   transaction-scoped advisory lock on the device and photo first, so two relays handling
//!   chunks of one upload at once run one after the other (the upload endpoint's in-process
//!   claim covers only its own relay).
//! - **A photo appears whole and verified, or not at all**: `complete` reads the chunks in
//!   order, checks they are contiguous and as long as announced, hashes them, checks the image,
//!   and only then inserts the `blob_files` row and copies the chunks, in the same transaction
//!   that deletes the partial upload. The `blob_files` insert settles two uploads of the same
//!   photo completing at once (two devices, two relays): the second waits for the first's
//!   commit, finds the row, and adds nothing, so one photo's chunks never mix two devices'
//!   chunk boundaries.
//! - **Reads are streamed**: [`BlobStore::read`] sends the range in pieces of at most
//!   [`READ_PIECE`] bytes, each one query (`substring` on the server), through a channel of
//!   two pieces, so memory stays bounded whatever the photo's size and however slow the
//!   reader. A database that goes away mid-stream ends the body with an error (the client
//!   sees a short response and fetches again).
//! - **An unreachable database is `503 unavailable`**: errors are [`StorageError`]s inside
//!   [`io::Error`]s; the HTTP layer finds [`StorageError::Unavailable`] in them.
//!
//! Why rows and not an object store: see `ARCHITECTURE.md` (*Photos on PostgreSQL*).

use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::SystemTime;

use deadpool_postgres::Pool;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, ReadBuf};
use tokio::sync::mpsc;

use super::{BlobHash, BlobReader, BlobStore, CompleteError, MAX_CHUNK_BYTES, check_image};
use crate::ids::DeviceId;
use crate::storage::postgres::{Fail, Res};
use crate::storage::{PostgresStorage, StorageError};

/// The most one query of a streamed read fetches (256 KiB).
pub const READ_PIECE: u64 = 256 * 1024;

/// Pieces a streamed read keeps ready ahead of a slow reader.
const READ_AHEAD: usize = 2;

/// Photos as rows of the relay's PostgreSQL database, through the storage's own pool and
/// runtime.
#[derive(Clone)]
pub struct PgBlobStore {
    storage: Arc<PostgresStorage>,
}

impl std::fmt::Debug for PgBlobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgBlobStore").finish_non_exhaustive()
    }
}

/// A storage error as the [`BlobStore`] methods return it (see the module docs).
fn to_io(e: StorageError) -> io::Error {
    io::Error::other(e)
}

fn out_of_range(n: u64) -> Fail {
    Fail::Storage(StorageError::Backend(format!("{n} is out of range")))
}

/// The advisory lock of one device's upload of one photo (the key is a hash of both; a
/// collision only makes two unrelated uploads wait for each other).
async fn lock_upload(tx: &deadpool_postgres::Transaction<'_>, key: &str) -> Res<()> {
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
        &[&key],
    )
    .await?;
    Ok(())
}

fn upload_key(device: &DeviceId, hash: &BlobHash) -> String {
    format!("noaber-upload {} {}", device.as_str(), hash.hex())
}

fn millis(t: SystemTime) -> i64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn to_i64(n: u64) -> Res<i64> {
    i64::try_from(n).map_err(|_| out_of_range(n))
}

/// How a finished upload fared, decided inside `complete`'s transaction.
enum Completed {
    Published(&'static str),
    Refused(CompleteError),
    /// Not what was announced (a gap, or another length): nothing changed.
    Short(String),
}

impl PgBlobStore {
    /// The photo store in the database `storage` is on (migrated by
    /// [`PostgresStorage::open`]).
    pub fn new(storage: Arc<PostgresStorage>) -> Self {
        PgBlobStore { storage }
    }

    fn run<T, Fut>(&self, fut: impl FnOnce(Pool) -> Fut) -> io::Result<T>
    where
        T: Send + 'static,
        Fut: std::future::Future<Output = Res<T>> + Send + 'static,
    {
        self.storage.run(fut).map_err(to_io)
    }

    /// Copies the complete photos of a file store in `root` (`<data>/blobs`, where a relay on
    /// PostgreSQL kept them before migration 006) into the database, each in one transaction,
    /// skipping those already here. A file whose bytes do not hash to its name is skipped and
    /// logged. Once every file was read, `sha256/` is renamed `sha256.imported/` (kept, for the
    /// operator to remove), so later starts do not read it again. Returns how many photos were
    /// imported.
    ///
    /// # Errors
    ///
    /// I/O errors reading the directory, database errors.
    pub fn import_files(&self, root: &Path) -> io::Result<usize> {
        let complete = root.join("sha256");
        let fans = match std::fs::read_dir(&complete) {
            Ok(fans) => fans,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e),
        };
        let mut imported = 0;
        for fan in fans {
            let fan = fan?;
            if !fan.file_type()?.is_dir() {
                continue;
            }
            for file in std::fs::read_dir(fan.path())? {
                let file = file?;
                let name = file.file_name();
                let Some(hash) = name.to_str().and_then(BlobHash::parse) else {
                    continue;
                };
                if self.stored_len(&hash)?.is_some() {
                    continue;
                }
                let bytes = std::fs::read(file.path())?;
                if Sha256::digest(&bytes).as_slice() != hash.0.as_slice() {
                    tracing::warn!("a photo file does not match its name; not imported");
                    continue;
                }
                if self.publish(&hash, bytes)? {
                    imported += 1;
                }
            }
        }
        std::fs::rename(&complete, root.join("sha256.imported"))?;
        Ok(imported)
    }

    /// Stores the verified photo `hash` whole, unless it is already stored; `true` if it was
    /// not.
    fn publish(&self, hash: &BlobHash, bytes: Vec<u8>) -> io::Result<bool> {
        let h = hash.0.to_vec();
        self.run(move |pool| async move {
            let mut client = pool.get().await?;
            let tx = client.transaction().await?;
            let len = to_i64(bytes.len() as u64)?;
            let fresh = tx
                .execute(
                    "INSERT INTO blob_files (hash, length) VALUES ($1, $2)
                     ON CONFLICT (hash) DO NOTHING",
                    &[&h, &len],
                )
                .await?
                == 1;
            if fresh {
                let mut off = 0i64;
                for piece in bytes.chunks(MAX_CHUNK_BYTES) {
                    tx.execute(
                        "INSERT INTO blob_file_chunks (hash, off, bytes) VALUES ($1, $2, $3)",
                        &[&h, &off, &piece],
                    )
                    .await?;
                    off += to_i64(piece.len() as u64)?;
                }
            }
            tx.commit().await?;
            Ok(fresh)
        })
    }
}

impl BlobStore for PgBlobStore {
    fn partial_len(&self, device: &DeviceId, hash: &BlobHash) -> io::Result<u64> {
        let (d, h) = (device.as_str().to_owned(), hash.0.to_vec());
        let len: i64 = self.run(move |pool| async move {
            let client = pool.get().await?;
            let st = client
                .prepare_cached(
                    "SELECT coalesce(max(off + length(bytes)), 0)::BIGINT
                     FROM blob_partial_chunks WHERE device = $1 AND hash = $2",
                )
                .await?;
            Ok(client.query_one(&st, &[&d, &h]).await?.try_get(0)?)
        })?;
        Ok(u64::try_from(len).unwrap_or(0))
    }

    fn write_chunk(
        &self,
        device: &DeviceId,
        hash: &BlobHash,
        offset: u64,
        bytes: &[u8],
    ) -> io::Result<()> {
        let key = upload_key(device, hash);
        let (d, h, b) = (device.as_str().to_owned(), hash.0.to_vec(), bytes.to_vec());
        let now = millis(SystemTime::now());
        let written = self.run(move |pool| async move {
            let offset = to_i64(offset)?;
            let mut client = pool.get().await?;
            let tx = client.transaction().await?;
            lock_upload(&tx, &key).await?;
            let held: i64 = tx
                .query_one(
                    "SELECT coalesce(max(off + length(bytes)), 0)::BIGINT
                     FROM blob_partial_chunks WHERE device = $1 AND hash = $2",
                    &[&d, &h],
                )
                .await?
                .try_get(0)?;
            if offset > held {
                return Ok(Err(format!(
                    "offset {offset} is past the {held} bytes stored"
                )));
            }
            if offset < held {
                // Bytes past `offset` were written but never acknowledged (a crash between
                // this commit and the offset's, or a retried chunk): the device sends them
                // again.
                tx.execute(
                    "DELETE FROM blob_partial_chunks
                     WHERE device = $1 AND hash = $2 AND off >= $3",
                    &[&d, &h, &offset],
                )
                .await?;
                tx.execute(
                    "UPDATE blob_partial_chunks
                     SET bytes = substring(bytes FROM 1 FOR ($3::BIGINT - off)::INT)
                     WHERE device = $1 AND hash = $2 AND off < $3::BIGINT
                       AND off + length(bytes) > $3::BIGINT",
                    &[&d, &h, &offset],
                )
                .await?;
            }
            if !b.is_empty() {
                tx.execute(
                    "INSERT INTO blob_partial_chunks (device, hash, off, bytes, written_at)
                     VALUES ($1, $2, $3, $4, $5)",
                    &[&d, &h, &offset, &b, &now],
                )
                .await?;
            }
            tx.commit().await?;
            Ok(Ok(()))
        })?;
        written.map_err(|why| io::Error::new(io::ErrorKind::InvalidInput, why))
    }

    fn complete(
        &self,
        device: &DeviceId,
        hash: &BlobHash,
        length: u64,
    ) -> Result<&'static str, CompleteError> {
        let key = upload_key(device, hash);
        let (d, h, want) = (device.as_str().to_owned(), hash.0.to_vec(), hash.0);
        let outcome = self.run(move |pool| async move {
            let mut client = pool.get().await?;
            let tx = client.transaction().await?;
            lock_upload(&tx, &key).await?;
            let rows = tx
                .query(
                    "SELECT off, bytes FROM blob_partial_chunks
                     WHERE device = $1 AND hash = $2 ORDER BY off",
                    &[&d, &h],
                )
                .await?;
            // The whole photo, for the image check (bounded: `length` is at most
            // `MAX_PHOTO_BYTES`, checked when the upload started).
            let mut whole = Vec::with_capacity(usize::try_from(length).unwrap_or(0));
            for row in &rows {
                let off: i64 = row.try_get(0)?;
                let bytes: &[u8] = row.try_get(1)?;
                if u64::try_from(off).ok() != Some(whole.len() as u64) {
                    let gap = format!("the upload has a gap at {} bytes", whole.len());
                    return Ok(Completed::Short(gap));
                }
                whole.extend_from_slice(bytes);
            }
            if whole.len() as u64 != length {
                let short = format!("the upload holds {} bytes, {length} expected", whole.len());
                return Ok(Completed::Short(short));
            }
            let checked = if Sha256::digest(&whole).as_slice() == want.as_slice() {
                check_image(&whole).map_err(CompleteError::Rejected)
            } else {
                Err(CompleteError::HashMismatch)
            };
            let outcome = match checked {
                Err(refusal) => Completed::Refused(refusal),
                Ok(mime) => {
                    let fresh = tx
                        .execute(
                            "INSERT INTO blob_files (hash, length) VALUES ($1, $2)
                             ON CONFLICT (hash) DO NOTHING",
                            &[&h, &to_i64(length)?],
                        )
                        .await?
                        == 1;
                    if fresh {
                        tx.execute(
                            "INSERT INTO blob_file_chunks (hash, off, bytes)
                             SELECT hash, off, bytes FROM blob_partial_chunks
                             WHERE device = $1 AND hash = $2",
                            &[&d, &h],
                        )
                        .await?;
                    }
                    Completed::Published(mime)
                }
            };
            tx.execute(
                "DELETE FROM blob_partial_chunks WHERE device = $1 AND hash = $2",
                &[&d, &h],
            )
            .await?;
            tx.commit().await?;
            Ok(outcome)
        });
        match outcome {
            Ok(Completed::Published(mime)) => Ok(mime),
            Ok(Completed::Refused(why)) => Err(why),
            Ok(Completed::Short(why)) => Err(CompleteError::Io(io::Error::new(
                io::ErrorKind::InvalidInput,
                why,
            ))),
            Err(e) => Err(CompleteError::Io(e)),
        }
    }

    fn discard(&self, device: &DeviceId, hash: &BlobHash) -> io::Result<()> {
        let (d, h) = (device.as_str().to_owned(), hash.0.to_vec());
        self.run(move |pool| async move {
            let client = pool.get().await?;
            client
                .execute(
                    "DELETE FROM blob_partial_chunks WHERE device = $1 AND hash = $2",
                    &[&d, &h],
                )
                .await?;
            Ok(())
        })
    }

    fn stored_len(&self, hash: &BlobHash) -> io::Result<Option<u64>> {
        let h = hash.0.to_vec();
        let len: Option<i64> = self.run(move |pool| async move {
            let client = pool.get().await?;
            let st = client
                .prepare_cached("SELECT length FROM blob_files WHERE hash = $1")
                .await?;
            Ok(match client.query_opt(&st, &[&h]).await? {
                Some(row) => Some(row.try_get(0)?),
                None => None,
            })
        })?;
        Ok(len.map(|l| u64::try_from(l).unwrap_or(0)))
    }

    fn head(&self, hash: &BlobHash, n: usize) -> io::Result<Option<Vec<u8>>> {
        let Some(size) = self.stored_len(hash)? else {
            return Ok(None);
        };
        let want = size.min(n as u64);
        let h = hash.0.to_vec();
        let mut out = Vec::with_capacity(usize::try_from(want).unwrap_or(0));
        while (out.len() as u64) < want {
            let piece = (want - out.len() as u64).min(READ_PIECE);
            let (h, at) = (h.clone(), out.len() as u64);
            let bytes =
                self.run(move |pool| async move { piece_at(&pool, &h, at, piece).await })?;
            if bytes.is_empty() {
                return Err(missing_piece(at));
            }
            out.extend_from_slice(&bytes);
        }
        Ok(Some(out))
    }

    fn read(&self, hash: &BlobHash, start: u64, len: u64) -> io::Result<Option<BlobReader>> {
        let Some(size) = self.stored_len(hash)? else {
            return Ok(None);
        };
        let end = start.saturating_add(len).min(size);
        let (tx, rx) = mpsc::channel(READ_AHEAD);
        let (pool, h) = (self.storage.pool(), hash.0.to_vec());
        // Once the storage is closed the task is dropped unrun: the reader sees the end.
        self.storage.spawn(async move {
            let mut at = start;
            while at < end {
                let piece = (end - at).min(READ_PIECE);
                let sent = match piece_at(&pool, &h, at, piece).await {
                    Ok(bytes) if bytes.is_empty() => Err(missing_piece(at)),
                    Ok(bytes) => {
                        at += bytes.len() as u64;
                        Ok(bytes)
                    }
                    Err(f) => Err(to_io(StorageError::from(f))),
                };
                let failed = sent.is_err();
                // A reader that went away (the client disconnected) ends the stream.
                if tx.send(sent).await.is_err() || failed {
                    return;
                }
            }
        });
        Ok(Some(Box::pin(Pieces {
            rx,
            piece: Vec::new(),
            at: 0,
        })))
    }

    fn discard_partials_before(&self, before: SystemTime) -> io::Result<usize> {
        let before = millis(before);
        let removed: i64 = self.run(move |pool| async move {
            let client = pool.get().await?;
            // A data-modifying `WITH` runs to completion whether or not the query reads it.
            let row = client
                .query_one(
                    "WITH old AS (
                         SELECT device, hash FROM blob_partial_chunks
                         GROUP BY device, hash HAVING max(written_at) < $1
                     ), gone AS (
                         DELETE FROM blob_partial_chunks p USING old
                         WHERE p.device = old.device AND p.hash = old.hash
                     )
                     SELECT count(*) FROM old",
                    &[&before],
                )
                .await?;
            Ok(row.try_get(0)?)
        })?;
        Ok(usize::try_from(removed).unwrap_or(0))
    }
}

/// Up to `len` bytes of the stored photo `hash` from `at`, from the one chunk holding `at`
/// (fewer at a chunk's end; empty when no chunk holds `at`).
async fn piece_at(pool: &Pool, hash: &[u8], at: u64, len: u64) -> Res<Vec<u8>> {
    let (at, len) = (to_i64(at)?, to_i64(len)?);
    let client = pool.get().await?;
    let st = client
        .prepare_cached(
            "SELECT substring(bytes FROM ($2::BIGINT - off + 1)::INT FOR $3::BIGINT::INT)
             FROM blob_file_chunks
             WHERE hash = $1 AND off <= $2::BIGINT AND off + length(bytes) > $2::BIGINT",
        )
        .await?;
    Ok(match client.query_opt(&st, &[&hash, &at, &len]).await? {
        Some(row) => row.try_get(0)?,
        None => Vec::new(),
    })
}

fn missing_piece(at: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        format!("a stored photo has no bytes at {at}"),
    )
}

/// The reading end of a streamed read: pieces from the channel, in order.
struct Pieces {
    rx: mpsc::Receiver<io::Result<Vec<u8>>>,
    piece: Vec<u8>,
    at: usize,
}

impl AsyncRead for Pieces {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        while this.at >= this.piece.len() {
            match this.rx.poll_recv(cx) {
                Poll::Ready(Some(Ok(piece))) => {
                    this.piece = piece;
                    this.at = 0;
                }
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Err(e)),
                // The sender is done: the end of the range.
                Poll::Ready(None) => return Poll::Ready(Ok(())),
                Poll::Pending => return Poll::Pending,
            }
        }
        let rest = this.piece.get(this.at..).unwrap_or_default();
        let n = rest.len().min(buf.remaining());
        buf.put_slice(rest.get(..n).unwrap_or_default());
        this.at += n;
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::blob::conformance::{hash_of, jpeg, read_all};
    use crate::storage::{DEFAULT_POOL_SIZE, pg_harness};

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    /// The store on one fresh database of the shared test cluster, reopened (a new storage,
    /// as a restarted or a second relay) by each call.
    fn on_a_database() -> impl Fn() -> Box<dyn BlobStore> {
        let conn = pg_harness::fresh_database().unwrap();
        move || {
            let storage = PostgresStorage::open(&conn, DEFAULT_POOL_SIZE).unwrap();
            Box::new(PgBlobStore::new(Arc::new(storage)))
        }
    }

    crate::blob::conformance::suite!(on_a_database());

    use crate::blob::is_unavailable;

    /// Two relays on one database: chunks alternate between them, either completes, both
    /// serve the photo.
    #[test]
    fn chunks_may_reach_either_relay_and_both_serve_the_photo() -> TestResult {
        let open = on_a_database();
        let (one, two) = (open(), open());
        let d = DeviceId::new()?;
        let bytes = jpeg(250_000);
        let h = hash_of(&bytes);
        for (i, piece) in bytes.chunks(50_000).enumerate() {
            let relay = if i % 2 == 0 { &one } else { &two };
            relay.write_chunk(&d, &h, (i * 50_000) as u64, piece)?;
            assert_eq!(one.partial_len(&d, &h)?, ((i + 1) * 50_000) as u64);
        }
        assert_eq!(two.complete(&d, &h, 250_000)?, "image/jpeg");
        assert_eq!(read_all(&*one, &h, 0, 250_000), bytes);
        assert_eq!(read_all(&*two, &h, 0, 250_000), bytes);
        Ok(())
    }

    /// A reader that stops early (a client that went away) ends the streaming task; the pool
    /// serves the next request.
    #[test]
    fn a_read_dropped_halfway_leaves_the_pool_usable() -> TestResult {
        let open = on_a_database();
        let s = open();
        let d = DeviceId::new()?;
        let bytes = jpeg(2_000_000);
        let h = hash_of(&bytes);
        for (i, piece) in bytes.chunks(1 << 20).enumerate() {
            s.write_chunk(&d, &h, (i << 20) as u64, piece)?;
        }
        s.complete(&d, &h, 2_000_000)?;
        for _ in 0..(DEFAULT_POOL_SIZE * 3) {
            let reader = s.read(&h, 0, 2_000_000)?;
            drop(reader);
        }
        assert_eq!(
            read_all(&*s, &h, 1_500_000, 10),
            &bytes[1_500_000..1_500_010]
        );
        Ok(())
    }

    #[test]
    fn photo_files_of_an_older_relay_are_imported_once() -> TestResult {
        let dir = tempfile::tempdir()?;
        let files = crate::blob::FsBlobStore::open(dir.path())?;
        let d = DeviceId::new()?;
        let (p, q) = (jpeg(40_000), jpeg(1_500_000));
        for bytes in [&p, &q] {
            let h = hash_of(bytes);
            for (i, piece) in bytes.chunks(1 << 20).enumerate() {
                files.write_chunk(&d, &h, (i << 20) as u64, piece)?;
            }
            files.complete(&d, &h, bytes.len() as u64)?;
        }
        // A damaged file (its bytes no longer match its name) is not imported.
        let r = jpeg(3_000);
        let hex = hash_of(&r).hex();
        std::fs::create_dir_all(dir.path().join("sha256").join(&hex[..2]))?;
        std::fs::write(dir.path().join("sha256").join(&hex[..2]).join(&hex), b"rot")?;
        let pg = PgBlobStore::new(Arc::new(PostgresStorage::open(
            &pg_harness::fresh_database()?,
            DEFAULT_POOL_SIZE,
        )?));
        assert_eq!(pg.import_files(dir.path())?, 2);
        // Set aside, not deleted: the next start reads nothing.
        assert!(!dir.path().join("sha256").exists());
        let kept = dir
            .path()
            .join("sha256.imported")
            .join(&hex[..2])
            .join(&hex);
        assert_eq!(std::fs::read(kept)?, b"rot");
        assert_eq!(pg.import_files(dir.path())?, 0, "imported once");
        assert_eq!(pg.stored_len(&hash_of(&q))?, Some(1_500_000));
        assert_eq!(pg.stored_len(&hash_of(&r))?, None);
        let mut out = Vec::new();
        let rt = tokio::runtime::Builder::new_current_thread().build()?;
        rt.block_on(async {
            use tokio::io::AsyncReadExt;
            pg.read(&hash_of(&q), 0, 1_500_000)
                .unwrap()
                .unwrap()
                .read_to_end(&mut out)
                .await
        })?;
        assert_eq!(out, q);
        // A data directory without photos imports nothing.
        let empty = tempfile::tempdir()?;
        assert_eq!(pg.import_files(&empty.path().join("blobs"))?, 0);
        Ok(())
    }

    /// The database gone: every method fails with an error the HTTP layer answers `503`.
    #[test]
    fn an_unreachable_database_is_reported_as_unavailable() -> TestResult {
        let cluster = pg_harness::Cluster::start()?;
        let conn = cluster.database()?;
        let s = PgBlobStore::new(Arc::new(PostgresStorage::open(&conn, 2)?));
        let d = DeviceId::new()?;
        let bytes = jpeg(5_000);
        let h = hash_of(&bytes);
        s.write_chunk(&d, &h, 0, &bytes)?;
        s.complete(&d, &h, 5_000)?;
        drop(cluster);
        assert!(is_unavailable(&s.stored_len(&h).unwrap_err()));
        assert!(is_unavailable(&s.partial_len(&d, &h).unwrap_err()));
        assert!(is_unavailable(&s.write_chunk(&d, &h, 0, b"x").unwrap_err()));
        let Err(CompleteError::Io(e)) = s.complete(&d, &h, 1) else {
            panic!("completed without a database");
        };
        assert!(is_unavailable(&e));
        assert!(s.read(&h, 0, 10).is_err());
        Ok(())
    }
}
