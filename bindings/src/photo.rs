//! Photos on reports: attach (metadata stripped on the device), the resumable upload queue,
//! and fetching a photo another device took.

use std::sync::Arc;

use noaber_core::EntityId;
use noaber_core::model::report::PhotoRef;
use noaber_core::store::photos::{LocalPhoto, PhotoUpload, UploadState};
use noaber_core::sync::http::UploadReport;

use crate::error::Result;
use crate::store::NoaberStore;
use crate::sync::{CancelHandle, run, tell};
use crate::types::entity;

/// A photo's bytes as held on this device (metadata-free).
#[uniffi::remote(Record)]
pub struct LocalPhoto {
    /// The bytes.
    pub bytes: Vec<u8>,
    /// `image/jpeg`, `image/png` or `image/webp`.
    pub mime: String,
}

/// Where a photo's upload stands.
#[uniffi::remote(Enum)]
pub enum UploadState {
    /// Waiting or in progress.
    Pending,
    /// The relay holds the photo.
    Done,
    /// The relay refused it for good (`last_error` says why).
    Rejected,
}

/// One photo in the upload queue.
#[uniffi::remote(Record)]
pub struct PhotoUpload {
    /// SHA-256 of the photo.
    pub hash: String,
    /// The report it is attached to.
    #[uniffi(name = "entity_id")]
    pub entity: EntityId,
    /// The buurt whose relay receives it (`None` until the report belongs to one).
    #[uniffi(name = "buurt_id")]
    pub buurt: Option<String>,
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

/// What one upload run did.
#[uniffi::remote(Record)]
pub struct UploadReport {
    /// Photos the relay now holds whole.
    pub completed: usize,
    /// Photos the relay refused for good.
    pub rejected: usize,
    /// Photos still waiting (retried after a backoff).
    pub waiting: usize,
    /// Bytes sent in this run.
    pub bytes_sent: u64,
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
        Ok(self.store.attach_photo(&entity(&id)?, &bytes)?)
    }

    /// [`NoaberStore::attach_photo`] for a file (a larger file than allowed is not read).
    ///
    /// # Errors
    ///
    /// `InvalidInput` (`path` when unreadable); as `attach_photo`.
    pub fn attach_photo_file(&self, id: String, path: String) -> Result<PhotoRef> {
        Ok(self.store.attach_photo_file(&entity(&id)?, path)?)
    }

    /// A photo's bytes if this device holds them (taken here or cached); `None`: fetch it.
    ///
    /// # Errors
    ///
    /// `InvalidInput` (`hash`); `Storage`.
    pub fn photo(&self, hash: String) -> Result<Option<LocalPhoto>> {
        Ok(self.store.photo(&hash)?)
    }

    /// The upload queue, oldest first (uploads done in the last day included).
    ///
    /// # Errors
    ///
    /// `Storage`.
    pub fn photo_uploads(&self) -> Result<Vec<PhotoUpload>> {
        Ok(self.store.photo_uploads()?)
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
            Ok(client?
                .upload_photos(&store, &buurt_id, |p| {
                    if let Some(l) = &listener {
                        tell(|| {
                            l.on_progress(p.hash.clone(), p.entity.to_string(), p.sent, p.total);
                        });
                    }
                })
                .await?)
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
            Ok(client?.fetch_photo(&store, &buurt_id, &hash).await?)
        })
        .await
    }
}
