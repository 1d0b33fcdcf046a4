//! Photos on reports, on the device: taken offline, stripped of metadata, kept by content, and
//! queued for upload.
//!
//! A caretaker photographs a broken light in a basement with no signal. [`Store::attach_photo`]
//! strips the picture of every piece of metadata ([`crate::photo::clean`]: EXIF with its GPS
//! position, serial numbers and times, XMP, IPTC, thumbnails) **before** anything is stored,
//! names the clean bytes by their SHA-256, writes them to a file beside the database, and in
//! one transaction appends the reference to the report's document (`photo {hash, mime, size,
//! width, height}`, never the bytes) and queues the upload. The report syncs like any other
//! change; the photo follows through the upload queue, resumably (`sync::http`), and other
//! devices show "photo pending" until the relay holds it.
//!
//! # Files
//!
//! `<database file>.photos/<first two hex digits>/<hash>`, each written to a temporary file,
//! flushed and renamed, so a file under a hash always holds exactly the bytes of that hash.
//! A file whose row is missing (the app died between the file and the transaction) is removed
//! by an eviction pass once it is an hour old (younger, it may belong to an attach in
//! progress on another thread). An in-memory store keeps photos in memory.
//!
//! # The queue and the cache
//!
//! - `photo_uploads` holds one row per (photo, report) taken here: bytes the relay acknowledged
//!   as durable (`sent`), attempts and the time of the next one (backoff, as for sync), and the
//!   state (`pending`, `done`, `rejected` with the relay's reason). It survives restarts: an
//!   upload cut at byte 700 000 continues from the relay's offset, not from zero.
//! - Downloaded photos are a cache bounded by [`Store::set_photo_cache_limit`] bytes: the least
//!   recently used are evicted first, and a photo taken here whose upload is not done is never
//!   evicted (it exists nowhere else).

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::{OptionalExtension, params};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::ids::{EntityId, hex};
use crate::model::Kind;
use crate::model::report::{self, PhotoRef};
use crate::store::Store;

/// How many bytes of downloaded photos a store keeps unless told otherwise (200 MB).
pub const DEFAULT_PHOTO_CACHE_BYTES: u64 = 200_000_000;

/// Where an upload stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UploadState {
    /// Waiting or in progress.
    Pending,
    /// The relay holds the photo.
    Done,
    /// The relay refused it for good (the reason is in `last_error`).
    Rejected,
}

impl UploadState {
    fn parse(s: &str) -> Self {
        match s {
            "done" => UploadState::Done,
            "rejected" => UploadState::Rejected,
            _ => UploadState::Pending,
        }
    }
}

/// One photo in the upload queue.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PhotoUpload {
    /// SHA-256 of the photo, 64 hex digits.
    pub hash: String,
    /// The report it is attached to.
    pub entity: EntityId,
    /// The buurt whose relay receives it (`None` until the report belongs to one).
    pub buurt: Option<String>,
    /// Its size in bytes.
    pub size: u64,
    /// Bytes the relay has acknowledged as durable.
    pub sent: u64,
    /// Where it stands.
    pub state: UploadState,
    /// Consecutive failed attempts.
    pub attempts: u32,
    /// When the next attempt may start, ms (0: at once).
    pub next_attempt_at: i64,
    /// The last failure, if any (no personal data: a network or relay message).
    pub last_error: Option<String>,
}

/// A photo's bytes as held here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalPhoto {
    /// The bytes (metadata-free).
    pub bytes: Vec<u8>,
    /// `image/jpeg`, `image/png` or `image/webp`.
    pub mime: String,
}

/// The store's photo files: a directory beside the database, or memory for an in-memory store.
pub(crate) enum Blobs {
    Dir(PathBuf),
    Memory(Mutex<HashMap<String, Arc<Vec<u8>>>>),
}

impl Blobs {
    /// The blob directory for a database at `db` (`<db>.photos`), or memory.
    pub(crate) fn beside(db: Option<&Path>) -> Blobs {
        match db {
            Some(p) => {
                let mut name = p.as_os_str().to_owned();
                name.push(".photos");
                Blobs::Dir(PathBuf::from(name))
            }
            None => Blobs::Memory(Mutex::new(HashMap::new())),
        }
    }

    fn file(dir: &Path, hash: &str) -> Result<PathBuf> {
        let prefix = hash
            .get(..2)
            .ok_or_else(|| Error::invalid("hash", "must be 64 lowercase hex digits"))?;
        Ok(dir.join(prefix).join(hash))
    }

    /// Stores `bytes` under `hash` (the caller computed it) atomically; a no-op when held.
    fn put(&self, hash: &str, bytes: &[u8]) -> Result<()> {
        match self {
            Blobs::Memory(m) => {
                let mut m = m.lock().unwrap_or_else(|p| p.into_inner());
                m.entry(hash.to_owned())
                    .or_insert_with(|| Arc::new(bytes.to_vec()));
                Ok(())
            }
            Blobs::Dir(dir) => {
                let path = Self::file(dir, hash)?;
                if path.exists() {
                    return Ok(());
                }
                let parent = path
                    .parent()
                    .ok_or_else(|| Error::Storage("photo path has no parent".into()))?;
                std::fs::create_dir_all(parent).map_err(|e| io("create the photo folder", &e))?;
                let tmp = parent.join(format!(".tmp-{}", hex(&crate::ids::random_bytes::<8>()?)));
                let written = (|| -> std::io::Result<()> {
                    let mut f = std::fs::File::create(&tmp)?;
                    f.write_all(bytes)?;
                    f.sync_all()?;
                    std::fs::rename(&tmp, &path)?;
                    // The rename itself is durable once the folder is flushed.
                    #[cfg(unix)]
                    std::fs::File::open(parent)?.sync_all()?;
                    Ok(())
                })();
                if let Err(e) = written {
                    let _ = std::fs::remove_file(&tmp);
                    return Err(io("write a photo", &e));
                }
                Ok(())
            }
        }
    }

    fn get(&self, hash: &str) -> Result<Option<Vec<u8>>> {
        match self {
            Blobs::Memory(m) => {
                let m = m.lock().unwrap_or_else(|p| p.into_inner());
                Ok(m.get(hash).map(|b| b.as_ref().clone()))
            }
            Blobs::Dir(dir) => match std::fs::read(Self::file(dir, hash)?) {
                Ok(b) => Ok(Some(b)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(io("read a photo", &e)),
            },
        }
    }

    /// Up to `len` bytes of `hash` from `offset`.
    fn range(&self, hash: &str, offset: u64, len: usize) -> Result<Option<Vec<u8>>> {
        match self {
            Blobs::Memory(m) => {
                let m = m.lock().unwrap_or_else(|p| p.into_inner());
                let Some(b) = m.get(hash) else {
                    return Ok(None);
                };
                let start = usize::try_from(offset).unwrap_or(usize::MAX).min(b.len());
                let end = start.saturating_add(len).min(b.len());
                Ok(b.get(start..end).map(<[u8]>::to_vec))
            }
            Blobs::Dir(dir) => {
                use std::io::{Read, Seek, SeekFrom};
                let mut f = match std::fs::File::open(Self::file(dir, hash)?) {
                    Ok(f) => f,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                    Err(e) => return Err(io("read a photo", &e)),
                };
                f.seek(SeekFrom::Start(offset))
                    .map_err(|e| io("read a photo", &e))?;
                let mut out = Vec::with_capacity(len);
                f.take(u64::try_from(len).unwrap_or(u64::MAX))
                    .read_to_end(&mut out)
                    .map_err(|e| io("read a photo", &e))?;
                Ok(Some(out))
            }
        }
    }

    fn remove(&self, hash: &str) -> Result<()> {
        match self {
            Blobs::Memory(m) => {
                m.lock().unwrap_or_else(|p| p.into_inner()).remove(hash);
                Ok(())
            }
            Blobs::Dir(dir) => match std::fs::remove_file(Self::file(dir, hash)?) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(io("remove a photo", &e)),
            },
        }
    }

    /// Hashes whose files were last written more than [`ORPHAN_GRACE`] ago (candidates for
    /// the orphan sweep), removing unfinished temporary files as old as that. The grace period
    /// matters: `attach_photo` writes its file *before* the transaction that records it, so a
    /// sweep running meanwhile on another thread (a download's eviction) must not take a file
    /// that is about to be recorded. A memory store is not swept.
    fn settled(&self) -> Result<Vec<String>> {
        let Blobs::Dir(dir) = self else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        let top = match std::fs::read_dir(dir) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(io("list photos", &e)),
        };
        let old_enough = |f: &std::fs::DirEntry| {
            f.metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > ORPHAN_GRACE)
        };
        for sub in top.flatten() {
            let Ok(files) = std::fs::read_dir(sub.path()) else {
                continue;
            };
            for f in files.flatten() {
                let Some(name) = f.file_name().to_str().map(str::to_owned) else {
                    continue;
                };
                if !old_enough(&f) {
                    continue;
                }
                if report::is_sha256_hex(&name) {
                    out.push(name);
                } else if name.starts_with(".tmp-") {
                    // A write the app did not finish.
                    let _ = std::fs::remove_file(f.path());
                }
            }
        }
        Ok(out)
    }
}

/// How old a file without a row must be before the sweep removes it (see [`Blobs::settled`]).
const ORPHAN_GRACE: std::time::Duration = std::time::Duration::from_secs(3600);

fn io(what: &str, e: &std::io::Error) -> Error {
    Error::Storage(format!("cannot {what}: {e}"))
}

/// SHA-256 of `bytes` as 64 lowercase hex digits.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

const CACHE_LIMIT_KEY: &str = "photo_cache_bytes";

/// Pending uploads whose next attempt is due by `?1` (ms; `i64::MAX`: all of them).
const DUE_BY: &str = "u.state = 'pending' AND u.next_attempt_at <= ?1";

impl Store {
    /// Attaches a photo to a report: strips its metadata, stores the clean bytes by their
    /// SHA-256 beside the database, appends the reference to the report and queues the upload
    /// — the reference and the queue entry in one transaction. Works offline. Attaching the
    /// same picture again is a no-op that returns the same reference.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] (`photo`) for bytes that are not a JPEG, PNG or WebP, are empty,
    /// truncated or over the size limit; what [`Store::attach_photo_ref`] refuses (not the
    /// reporter or a working role, too many photos); [`Error::NotFound`]; storage errors.
    pub fn attach_photo(&self, id: &EntityId, bytes: &[u8]) -> Result<PhotoRef> {
        let clean = crate::photo::clean(bytes)?;
        let photo = PhotoRef {
            hash: sha256_hex(&clean.bytes),
            mime: clean.media_type.as_mime().to_owned(),
            size: u64::try_from(clean.bytes.len()).unwrap_or(u64::MAX),
            width: clean.width,
            height: clean.height,
        };
        self.blobs.put(&photo.hash, &clean.bytes)?;
        let entity = id.as_str().to_owned();
        self.update_entity_also(
            id,
            Kind::Report,
            |doc, ctx| report::attach_photo(doc, ctx, &photo),
            |tx, ctx| {
                tx.prepare_cached(
                    "INSERT INTO photos (hash, mime, size, width, height, origin, stored, last_used)
                     VALUES (?1, ?2, ?3, ?4, ?5, 'taken', 1, ?6)
                     ON CONFLICT(hash) DO UPDATE SET stored = 1, origin = 'taken',
                         last_used = excluded.last_used",
                )?
                .execute(params![
                    photo.hash,
                    photo.mime,
                    i64::try_from(photo.size).unwrap_or(i64::MAX),
                    photo.width,
                    photo.height,
                    ctx.now
                ])?;
                tx.prepare_cached(
                    "INSERT INTO photo_uploads (hash, entity, created_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT(hash, entity) DO NOTHING",
                )?
                .execute(params![photo.hash, entity, ctx.now])?;
                Ok(())
            },
        )?;
        Ok(photo)
    }

    /// [`Store::attach_photo`] for a file: reads at most the size limit (a larger file is
    /// refused without being read).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] (`path`) when the file cannot be read; as
    /// [`Store::attach_photo`].
    pub fn attach_photo_file(&self, id: &EntityId, path: impl AsRef<Path>) -> Result<PhotoRef> {
        use std::io::Read;
        let path = path.as_ref();
        let f = std::fs::File::open(path)
            .map_err(|e| Error::invalid("path", format!("cannot open the photo: {e}")))?;
        let mut bytes = Vec::new();
        // One byte past the limit tells "too large" without reading a huge file.
        f.take(report::MAX_PHOTO_BYTES.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(|e| Error::invalid("path", format!("cannot read the photo: {e}")))?;
        self.attach_photo(id, &bytes)
    }

    /// The bytes of a photo held here (taken here, or downloaded and still cached), marking it
    /// recently used; `None` when this device does not hold it (fetch it from the relay).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] (`hash`) for a malformed hash; storage errors.
    pub fn photo(&self, hash: &str) -> Result<Option<LocalPhoto>> {
        check_hash(hash)?;
        let now = self.now_ms();
        let row: Option<String> = self.with_conn(|c, _| {
            let mime = c
                .prepare_cached("SELECT mime FROM photos WHERE hash = ?1 AND stored = 1")?
                .query_row([hash], |r| r.get(0))
                .optional()?;
            if mime.is_some() {
                c.prepare_cached("UPDATE photos SET last_used = ?2 WHERE hash = ?1")?
                    .execute(params![hash, now])?;
            }
            Ok(mime)
        })?;
        let Some(mime) = row else {
            return Ok(None);
        };
        Ok(self
            .blobs
            .get(hash)?
            .map(|bytes| LocalPhoto { bytes, mime }))
    }

    /// Stores a photo downloaded from the relay in the cache, after checking that the bytes are
    /// the ones `hash` names and carry no metadata; then evicts down to the cache limit.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] (`photo`) when the bytes do not match `hash`, are not a clean
    /// JPEG, PNG or WebP; storage errors.
    pub fn store_fetched_photo(&self, hash: &str, bytes: &[u8]) -> Result<LocalPhoto> {
        check_hash(hash)?;
        if sha256_hex(bytes) != hash {
            return Err(Error::invalid(
                "photo",
                "the downloaded bytes do not match the photo's hash",
            ));
        }
        let info = crate::photo::inspect(bytes)?;
        if let Some(what) = info.metadata_found.first() {
            return Err(Error::invalid(
                "photo",
                format!("the downloaded photo carries metadata ({what}); it is not kept"),
            ));
        }
        let mime = info.media_type.as_mime().to_owned();
        self.blobs.put(hash, bytes)?;
        let now = self.now_ms();
        self.with_conn(|c, _| {
            c.prepare_cached(
                "INSERT INTO photos (hash, mime, size, width, height, origin, stored, last_used)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'fetched', 1, ?6)
                 ON CONFLICT(hash) DO UPDATE SET stored = 1, last_used = excluded.last_used",
            )?
            .execute(params![
                hash,
                mime,
                i64::try_from(bytes.len()).unwrap_or(i64::MAX),
                info.width,
                info.height,
                now
            ])?;
            Ok(())
        })?;
        self.evict_photos(false)?;
        Ok(LocalPhoto {
            bytes: bytes.to_vec(),
            mime,
        })
    }

    /// Sets how many bytes of photos the cache keeps (photos waiting for upload are kept
    /// whatever this says) and evicts down to it.
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub fn set_photo_cache_limit(&self, bytes: u64) -> Result<()> {
        let v = bytes.to_string();
        self.with_conn(|c, _| super::set_setting(c, CACHE_LIMIT_KEY, Some(&v)))?;
        self.evict_photos(true)?;
        Ok(())
    }

    /// The cache limit in bytes ([`DEFAULT_PHOTO_CACHE_BYTES`] unless set).
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub fn photo_cache_limit(&self) -> Result<u64> {
        Ok(self
            .with_conn(|c, _| super::setting(c, CACHE_LIMIT_KEY))?
            .and_then(|v| v.parse().ok())
            .unwrap_or(DEFAULT_PHOTO_CACHE_BYTES))
    }

    /// Bytes of photo files held now (taken and cached).
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub fn photo_bytes_held(&self) -> Result<u64> {
        self.with_conn(|c, _| {
            let n: i64 = c
                .prepare_cached("SELECT coalesce(sum(size), 0) FROM photos WHERE stored = 1")?
                .query_row([], |r| r.get(0))?;
            Ok(count(n))
        })
    }

    /// Removes the least recently used photo files until the held bytes fit the cache limit,
    /// never one whose upload is not done. Then, when anything was evicted or `sweep` asks for
    /// it, removes files no row names that are older than an hour (left by an attach that
    /// failed or was killed between its file and its row): a directory walk, so not on every
    /// download that fits.
    fn evict_photos(&self, sweep: bool) -> Result<()> {
        let limit = self.photo_cache_limit()?;
        let victims: Vec<String> = self.with_conn(|c, _| {
            let mut held: i64 = c
                .prepare_cached("SELECT coalesce(sum(size), 0) FROM photos WHERE stored = 1")?
                .query_row([], |r| r.get(0))?;
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            let mut out = Vec::new();
            if held <= limit {
                return Ok(out);
            }
            let mut stmt = c.prepare_cached(
                "SELECT hash, size FROM photos p WHERE stored = 1 AND NOT EXISTS (
                     SELECT 1 FROM photo_uploads u WHERE u.hash = p.hash AND u.state = 'pending')
                 ORDER BY last_used, hash",
            )?;
            let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
            for row in rows {
                if held <= limit {
                    break;
                }
                let (hash, size) = row?;
                held = held.saturating_sub(size);
                out.push(hash);
            }
            Ok(out)
        })?;
        for hash in &victims {
            // The row first: a crash after it leaves an orphan file the sweep removes, never
            // a row that claims a file that is gone.
            self.with_conn(|c, _| {
                c.prepare_cached("UPDATE photos SET stored = 0 WHERE hash = ?1")?
                    .execute([hash])?;
                Ok(())
            })?;
            self.blobs.remove(hash)?;
        }
        if victims.is_empty() && !sweep {
            return Ok(());
        }
        let stored: std::collections::HashSet<String> = self.with_conn(|c, _| {
            let mut stmt = c.prepare_cached("SELECT hash FROM photos WHERE stored = 1")?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })?;
        for hash in self.blobs.settled()? {
            if !stored.contains(&hash) {
                self.blobs.remove(&hash)?;
            }
        }
        Ok(())
    }

    /// The upload queue, oldest first (done uploads of the last day included, so a UI can say
    /// "sent").
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub fn photo_uploads(&self) -> Result<Vec<PhotoUpload>> {
        let since = self.now_ms().saturating_sub(86_400_000);
        self.uploads_where("u.state != 'done' OR u.done_at >= ?1", since)
    }

    /// Uploads of `buurt` whose backoff has passed (what automatic retries send), oldest
    /// first.
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub fn due_photo_uploads(&self, buurt: &str) -> Result<Vec<PhotoUpload>> {
        self.uploads_of(buurt, DUE_BY, self.now_ms())
    }

    /// Every waiting upload of `buurt`, backoff or not (what an explicit "sync now" sends),
    /// oldest first.
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub fn pending_photo_uploads(&self, buurt: &str) -> Result<Vec<PhotoUpload>> {
        self.uploads_of(buurt, DUE_BY, i64::MAX)
    }

    fn uploads_of(&self, buurt: &str, cond: &str, arg: i64) -> Result<Vec<PhotoUpload>> {
        Ok(self
            .uploads_where(cond, arg)?
            .into_iter()
            .filter(|u| u.buurt.as_deref() == Some(buurt))
            .collect())
    }

    fn uploads_where(&self, cond: &str, arg: i64) -> Result<Vec<PhotoUpload>> {
        let sql = format!(
            "SELECT u.hash, u.entity, d.buurt, p.size, u.sent, u.state, u.attempts,
                    u.next_attempt_at, u.last_error
             FROM photo_uploads u JOIN photos p ON p.hash = u.hash
             LEFT JOIN documents d ON d.id = u.entity
             WHERE {cond} ORDER BY u.created_at, u.hash"
        );
        self.with_conn(|c, _| {
            let mut stmt = c.prepare_cached(&sql)?;
            let rows = stmt.query_map([arg], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, i64>(6)?,
                    r.get::<_, i64>(7)?,
                    r.get::<_, Option<String>>(8)?,
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (hash, entity, buurt, size, sent, state, attempts, next, err) = row?;
                out.push(PhotoUpload {
                    hash,
                    entity: EntityId::parse(&entity)?,
                    buurt,
                    size: count(size),
                    sent: count(sent),
                    state: UploadState::parse(&state),
                    attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                    next_attempt_at: next,
                    last_error: err,
                });
            }
            Ok(out)
        })
    }

    /// Up to `len` bytes of a photo held here, from `offset` (what an upload sends next).
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] when the file is gone; storage errors.
    pub fn photo_chunk(&self, hash: &str, offset: u64, len: usize) -> Result<Vec<u8>> {
        check_hash(hash)?;
        self.blobs
            .range(hash, offset, len)?
            .ok_or_else(|| Error::not_found("photo", hash))
    }

    /// Records that the relay holds `sent` bytes of the upload of `hash` (durably); a relay
    /// that holds the whole photo marks every queue entry for it done.
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub fn photo_upload_progress(&self, hash: &str, sent: u64, complete: bool) -> Result<()> {
        let now = self.now_ms();
        let sent = i64::try_from(sent).unwrap_or(i64::MAX);
        self.with_conn(|c, _| {
            if complete {
                c.prepare_cached(
                    "UPDATE photo_uploads SET state = 'done', sent = ?2, done_at = ?3,
                         attempts = 0, last_error = NULL
                     WHERE hash = ?1 AND state = 'pending'",
                )?
                .execute(params![hash, sent, now])?;
            } else {
                c.prepare_cached(
                    "UPDATE photo_uploads SET sent = ?2, attempts = 0, last_error = NULL
                     WHERE hash = ?1 AND state = 'pending'",
                )?
                .execute(params![hash, sent])?;
            }
            Ok(())
        })
    }

    /// Records a failed attempt (network, relay busy); returns how long to wait before the next,
    /// growing with consecutive failures as sync's backoff does.
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub fn photo_upload_failed(&self, hash: &str, error: &Error) -> Result<std::time::Duration> {
        let now = self.now_ms();
        let message = error.to_string();
        let attempts: i64 = self.with_conn(|c, _| {
            Ok(c.prepare_cached(
                "UPDATE photo_uploads SET attempts = attempts + 1, last_error = ?2
                 WHERE hash = ?1 AND state = 'pending' RETURNING attempts",
            )?
            .query_map(params![hash, message], |r| r.get::<_, i64>(0))?
            .filter_map(std::result::Result::ok)
            .max()
            .unwrap_or(1))
        })?;
        let jitter = crate::ids::random_bytes::<1>()
            .map(|b| f64::from(b[0]) / 255.0)
            .unwrap_or(0.5);
        let wait = crate::retry::backoff(u32::try_from(attempts).unwrap_or(u32::MAX), jitter);
        let next = now.saturating_add(i64::try_from(wait.as_millis()).unwrap_or(i64::MAX));
        self.with_conn(|c, _| {
            c.prepare_cached(
                "UPDATE photo_uploads SET next_attempt_at = ?2 WHERE hash = ?1 AND state = 'pending'",
            )?
            .execute(params![hash, next])?;
            Ok(())
        })?;
        Ok(wait)
    }

    /// Records that the relay refused the photo for good (`code`, `reason`): no more attempts.
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub fn photo_upload_rejected(&self, hash: &str, code: &str, reason: &str) -> Result<()> {
        let message = format!("{code}: {reason}");
        self.with_conn(|c, _| {
            c.prepare_cached(
                "UPDATE photo_uploads SET state = 'rejected', last_error = ?2
                 WHERE hash = ?1 AND state = 'pending'",
            )?
            .execute(params![hash, message])?;
            Ok(())
        })
    }

    /// Starts a fresh upload of `hash` from byte 0 (the relay discarded the partial one).
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub fn photo_upload_restart(&self, hash: &str) -> Result<()> {
        self.with_conn(|c, _| {
            c.prepare_cached(
                "UPDATE photo_uploads SET sent = 0 WHERE hash = ?1 AND state = 'pending'",
            )?
            .execute([hash])?;
            Ok(())
        })
    }
}

fn check_hash(hash: &str) -> Result<()> {
    if report::is_sha256_hex(hash) {
        Ok(())
    } else {
        Err(Error::invalid(
            "hash",
            "must be 64 lowercase hex digits (sha-256)",
        ))
    }
}
