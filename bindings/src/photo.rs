//! Photos on reports: attach (metadata stripped on the device), the resumable upload queue,
//! and fetching a photo another device took.

use std::sync::Arc;

use noaber_core::store::photos as core;
use noaber_core::sync::http;

use crate::error::Result;
use crate::report::PhotoRef;
use crate::store::NoaberStore;
use crate::sync::{CancelHandle, run, tell};
use crate::types::{count, entity};

/// A photo's bytes as held on this device (metadata-free).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct LocalPhoto {
    /// The bytes.
    pub bytes: Vec<u8>,
    /// `image/jpeg`, `image/png` or `image/webp`.
    pub mime: String,
}

impl From<core::LocalPhoto> for LocalPhoto {
    fn from(p: core::LocalPhoto) -> Self {
        LocalPhoto {
            bytes: p.bytes,
            mime: p.mime,
        }
    }
}

/// Where a photo's upload stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum UploadState {
    /// Waiting or in progress.
    Pending,
    /// The relay holds the photo.
    Done,
    /// The relay refused it for good (`last_error` says why).
    Rejected,
}

/// One photo in the upload queue.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PhotoUpload {
    /// SHA-256 of the photo.
    pub hash: String,
    /// The report it is attached to.
    pub entity_id: String,
    /// The buurt whose relay receives it (`None` until the report belongs to one).
    pub buurt_id: Option<String>,
    /// Size in bytes.
    pub size: u64,
    /// Bytes the relay holds durably.
    pub sent: u64,
    /// Where it stands.
    pub state: UploadState,
    /// Consecutive failed attempts.
    pub attempts: u32,
    /// When the next attempt may start, ms (0: at once).
    pub next_attempt_at: i64,
    /// The last failure, if any.
    pub last_error: Option<String>,
}

impl From<core::PhotoUpload> for PhotoUpload {
    fn from(u: core::PhotoUpload) -> Self {
        PhotoUpload {
            hash: u.hash,
            entity_id: u.entity.to_string(),
            buurt_id: u.buurt,
            size: u.size,
            sent: u.sent,
            state: match u.state {
                core::UploadState::Pending => UploadState::Pending,
                core::UploadState::Done => UploadState::Done,
                core::UploadState::Rejected => UploadState::Rejected,
            },
            attempts: u.attempts,
            next_attempt_at: u.next_attempt_at,
            last_error: u.last_error,
        }
    }
}

/// What one upload run did.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct UploadReport {
    /// Photos the relay now holds whole.
    pub completed: u64,
    /// Photos the relay refused for good.
    pub rejected: u64,
    /// Photos still waiting (retried after a backoff).
    pub waiting: u64,
    /// Bytes sent in this run.
    pub bytes_sent: u64,
}

impl From<http::UploadReport> for UploadReport {
    fn from(r: http::UploadReport) -> Self {
        UploadReport {
            completed: count(r.completed),
            rejected: count(r.rejected),
            waiting: count(r.waiting),
            bytes_sent: r.bytes_sent,
        }
    }
}

/// Told after every chunk the relay acknowledged. Implemented by the app.
#[uniffi::export(foreign)]
pub trait UploadListener: Send + Sync {
    /// `sent` of `total` bytes of the photo `hash` (on report `entity_id`) are at the relay.
    /// Called on a Rust thread.
    fn on_progress(&self, hash: String, entity_id: String, sent: u64, total: u64);
}

#[uniffi::export]
impl NoaberStore {
    /// Attaches a photo (JPEG, PNG or WebP bytes) to a report: its metadata (EXIF with GPS,
    /// serial numbers and times, XMP, IPTC, thumbnails) is stripped before it is stored; the
    /// report gets the reference and the upload is queued. Works offline.
    ///
    /// # Errors
    ///
    /// `InvalidInput` (`photo`: not a JPEG/PNG/WebP, empty, truncated, over 15 MB);
    /// `NotAllowed` unless the reporter, a caretaker, organiser or staff; `NotFound`; `Storage`.
    pub fn attach_photo(&self, id: String, bytes: Vec<u8>) -> Result<PhotoRef> {
        Ok(self.store.attach_photo(&entity(&id)?, &bytes)?.into())
    }

    /// [`NoaberStore::attach_photo`] for a file (a larger file than allowed is not read).
    ///
    /// # Errors
    ///
    /// `InvalidInput` (`path` when unreadable); as `attach_photo`.
    pub fn attach_photo_file(&self, id: String, path: String) -> Result<PhotoRef> {
        Ok(self.store.attach_photo_file(&entity(&id)?, path)?.into())
    }

    /// A photo's bytes if this device holds them (taken here or cached); `None`: fetch it.
    ///
    /// # Errors
    ///
    /// `InvalidInput` (`hash`); `Storage`.
    pub fn photo(&self, hash: String) -> Result<Option<LocalPhoto>> {
        Ok(self.store.photo(&hash)?.map(Into::into))
    }

    /// The upload queue, oldest first (uploads done in the last day included).
    ///
    /// # Errors
    ///
    /// `Storage`.
    pub fn photo_uploads(&self) -> Result<Vec<PhotoUpload>> {
        Ok(self
            .store
            .photo_uploads()?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// Keeps at most `bytes` of downloaded photos (photos waiting to upload are always kept).
    ///
    /// # Errors
    ///
    /// `Storage`.
    pub fn set_photo_cache_limit(&self, bytes: u64) -> Result<()> {
        Ok(self.store.set_photo_cache_limit(bytes)?)
    }
}

#[uniffi::export]
impl NoaberStore {
    /// Uploads the buurt's queued photos whose turn has come, each resuming from the relay's
    /// offset; `listener` hears every acknowledged chunk. Live sync does this by itself after
    /// each sync; call it after `sync` otherwise.
    ///
    /// # Errors
    ///
    /// `Rejected` (`unauthorized`); `NotFound` (buurt); `Storage`; `Cancelled`. Network
    /// failures are recorded in the queue (see `photo_uploads`), not thrown.
    pub async fn upload_photos(
        &self,
        buurt_id: String,
        listener: Option<Arc<dyn UploadListener>>,
        cancel: Option<Arc<CancelHandle>>,
    ) -> Result<UploadReport> {
        let store = Arc::clone(&self.store);
        let client = self.client();
        run(cancel, async move {
            let report = client?
                .upload_photos(&store, &buurt_id, |p| {
                    if let Some(l) = &listener {
                        tell(|| {
                            l.on_progress(p.hash.clone(), p.entity.to_string(), p.sent, p.total);
                        });
                    }
                })
                .await?;
            Ok(report.into())
        })
        .await
    }

    /// A photo from this device, or else from the buurt's relay (checked and cached).
    /// `None` when the relay does not hold it yet: show "photo pending".
    ///
    /// # Errors
    ///
    /// `InvalidInput` (`hash`, or `photo` for bytes that fail the checks); `Network`;
    /// `Rejected`; `NotFound` (buurt); `Storage`; `Cancelled`.
    pub async fn fetch_photo(
        &self,
        buurt_id: String,
        hash: String,
        cancel: Option<Arc<CancelHandle>>,
    ) -> Result<Option<LocalPhoto>> {
        let store = Arc::clone(&self.store);
        let client = self.client();
        run(cancel, async move {
            Ok(client?
                .fetch_photo(&store, &buurt_id, &hash)
                .await?
                .map(Into::into))
        })
        .await
    }
}
