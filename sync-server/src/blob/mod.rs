//! Photo bytes: where they are kept ([`BlobStore`]), what is accepted ([`check_image`]), and
//! how fast a device may send them ([`rate::ByteRate`]).
//!
//! A photo travels beside the documents (`docs/protocol.md`, *Photos*): a report's document
//! holds only a reference, the bytes arrive in chunks through `PUT /v1/uploads/{hash}`. The
//! relay's *metadata* — upload offsets, completed photos, which documents reference which
//! photo — lives in [`crate::storage::Storage`] with everything else; the *bytes* live here,
//! behind a trait.
//!
//! Two implementations; the relay picks the one beside its storage:
//!
//! - [`FsBlobStore`] (a relay on SQLite) keeps under `<data>/blobs/`:
//!   `sha256/ab/<hash>`, complete photos, content-addressed (`ab` = the hash's first two hex
//!   digits), each written once and never changed; `partial/<device>-<hash>`, uploads in
//!   progress, one file per device and photo.
//! - [`PgBlobStore`] (a relay on PostgreSQL) keeps the same as rows of the shared database,
//!   so every relay of a deployment serves every photo and a device's chunks may reach
//!   different relays.
//!
//! Their contract, which the upload endpoint relies on:
//!
//! - a chunk is durable (`fsync`ed, or committed) before [`BlobStore::write_chunk`] returns;
//! - a complete photo appears under its hash only whole and verified: [`BlobStore::complete`]
//!   hashes the partial upload, checks the image and publishes it atomically (a rename, or
//!   one transaction). A crash at any point leaves the partial upload or the whole photo,
//!   never a part of a photo under its hash;
//! - a storage that cannot be reached fails with an [`io::Error`] holding
//!   [`crate::storage::StorageError::Unavailable`], answered `503 unavailable`.

use std::io;
use std::path::Path;
use std::time::SystemTime;

use crate::ids::DeviceId;

#[cfg(test)]
mod conformance;
mod fs;
mod pg;
pub mod rate;

pub use fs::FsBlobStore;
pub use pg::{PgBlobStore, READ_PIECE};

/// Largest photo, in bytes (the same bound as a report's photo reference).
pub const MAX_PHOTO_BYTES: u64 = noaber_core::model::report::MAX_PHOTO_BYTES;

/// Largest chunk one `PUT /v1/uploads/{hash}` carries (1 MiB).
pub const MAX_CHUNK_BYTES: usize = 1024 * 1024;

/// Photo transfers a file store runs at once (each holds at most two descriptors: the photo
/// and, while flushing, its directory), fewer under an open-file limit below 8 192 (an eighth
/// of the limit goes to photo files). One more is answered `503 unavailable`, to be retried;
/// the relay counts these descriptors below its open-file limit, so they never take the room
/// of a connection (`crate::transport::connection_cap`).
pub const MAX_OPEN_PHOTO_FILES: usize = 512;

/// Partial uploads untouched this long are discarded (7 days).
pub const PARTIAL_TTL: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 60 * 60);

/// A photo's SHA-256, as it appears in a URL: 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlobHash(pub [u8; 32]);

impl BlobHash {
    /// Parses 64 lowercase hex digits; anything else is `None`.
    pub fn parse(s: &str) -> Option<BlobHash> {
        let bytes = s.as_bytes();
        if bytes.len() != 64 {
            return None;
        }
        let digit = |b: u8| match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'a'..=b'f' => Some(b - b'a' + 10),
            _ => None,
        };
        let mut out = [0u8; 32];
        for (o, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
            let (hi, lo) = match pair {
                [hi, lo] => (digit(*hi)?, digit(*lo)?),
                _ => return None,
            };
            *o = hi << 4 | lo;
        }
        Some(BlobHash(out))
    }

    /// The 64 lowercase hex digits.
    pub fn hex(&self) -> String {
        crate::ids::hex(&self.0)
    }
}

impl std::fmt::Debug for BlobHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BlobHash({})", self.hex())
    }
}

/// Why a completed upload was refused; its partial upload has been discarded.
#[derive(Debug, thiserror::Error)]
pub enum CompleteError {
    /// The bytes do not hash to the name they were uploaded under.
    #[error("the bytes do not match their sha-256")]
    HashMismatch,
    /// The bytes are not an acceptable photo; the message says why.
    #[error("photo rejected: {0}")]
    Rejected(String),
    /// The disk failed (nothing was published; the partial upload may remain).
    #[error("i/o: {0}")]
    Io(#[from] io::Error),
}

/// A readable range of a stored photo.
pub type BlobReader = std::pin::Pin<Box<dyn tokio::io::AsyncRead + Send>>;

/// Where photo bytes live. Methods are synchronous (the relay calls them on blocking threads),
/// except [`BlobStore::read`], whose reader is consumed by the async response.
pub trait BlobStore: Send + Sync + 'static {
    /// How many bytes of this device's upload of `hash` are on disk (0 when none).
    ///
    /// # Errors
    ///
    /// I/O errors.
    fn partial_len(&self, device: &DeviceId, hash: &BlobHash) -> io::Result<u64>;

    /// Writes `bytes` at `offset` of the device's partial upload (creating it when `offset` is
    /// 0; anything on disk past `offset` is cut off first) and flushes them to disk.
    ///
    /// # Errors
    ///
    /// I/O errors; [`io::ErrorKind::InvalidInput`] when `offset` is past what is on disk.
    fn write_chunk(
        &self,
        device: &DeviceId,
        hash: &BlobHash,
        offset: u64,
        bytes: &[u8],
    ) -> io::Result<()>;

    /// Turns a finished partial upload of `length` bytes into the photo `hash`: verifies the
    /// SHA-256 and the image, then publishes it atomically. Returns the image's media type.
    /// A refused upload's partial file is removed.
    ///
    /// # Errors
    ///
    /// [`CompleteError::HashMismatch`], [`CompleteError::Rejected`], or I/O errors.
    fn complete(
        &self,
        device: &DeviceId,
        hash: &BlobHash,
        length: u64,
    ) -> Result<&'static str, CompleteError>;

    /// Removes the device's partial upload of `hash`, if any.
    ///
    /// # Errors
    ///
    /// I/O errors.
    fn discard(&self, device: &DeviceId, hash: &BlobHash) -> io::Result<()>;

    /// The size of the complete photo `hash`, if it is stored.
    ///
    /// # Errors
    ///
    /// I/O errors.
    fn stored_len(&self, hash: &BlobHash) -> io::Result<Option<u64>>;

    /// The first `n` bytes (fewer for a shorter photo) of the stored photo `hash`, if stored.
    ///
    /// # Errors
    ///
    /// I/O errors.
    fn head(&self, hash: &BlobHash, n: usize) -> io::Result<Option<Vec<u8>>>;

    /// `len` bytes of the stored photo `hash` from `start`; `None` when it is not stored.
    ///
    /// # Errors
    ///
    /// I/O errors.
    fn read(&self, hash: &BlobHash, start: u64, len: u64) -> io::Result<Option<BlobReader>>;

    /// The most file descriptors this store holds open at once (0: it opens none).
    fn open_files(&self) -> u64 {
        0
    }

    /// Removes partial uploads last written before `before`; returns how many.
    ///
    /// # Errors
    ///
    /// I/O errors reading the directory (a file that cannot be removed is skipped and logged).
    fn discard_partials_before(&self, before: SystemTime) -> io::Result<usize>;
}

/// Whether a [`BlobStore`] error says the storage cannot serve right now (an unreachable
/// database, every photo transfer taken): an [`io::Error`] holding
/// [`crate::storage::StorageError::Unavailable`], answered `503 unavailable`.
pub fn is_unavailable(e: &io::Error) -> bool {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<crate::storage::StorageError>())
        .is_some_and(|s| matches!(s, crate::storage::StorageError::Unavailable(_)))
}

/// The relay's image check on a whole photo (defence in depth: devices strip metadata before
/// they upload, but an old or modified client must not leak a home's GPS position): the media
/// type of a JPEG, PNG or WebP that carries no metadata (an orientation-only EXIF block is
/// allowed), or why it is refused. The same check devices apply, `noaber_core::photo::inspect`.
///
/// # Errors
///
/// A reason naming what was found, for the `photo_rejected` message.
pub fn check_image(bytes: &[u8]) -> Result<&'static str, String> {
    let info = noaber_core::photo::inspect(bytes).map_err(|e| e.to_string())?;
    if info.metadata_found.is_empty() {
        Ok(info.media_type.as_mime())
    } else {
        Err(format!(
            "the photo still carries metadata ({}); strip it before uploading",
            info.metadata_found.join(", ")
        ))
    }
}

/// The data directory's blob directory.
pub(crate) fn dir_in(data: &Path) -> std::path::PathBuf {
    data.join("blobs")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_64_lowercase_hex_digits() {
        let h = "ab".repeat(32);
        assert_eq!(BlobHash::parse(&h).map(|b| b.hex()), Some(h.clone()));
        assert!(BlobHash::parse(&h.to_uppercase()).is_none());
        assert!(BlobHash::parse(&h[..62]).is_none());
        assert!(BlobHash::parse(&format!("{}zz", &h[..62])).is_none());
        assert!(BlobHash::parse("").is_none());
    }

    #[test]
    fn the_check_accepts_clean_jpeg_png_and_webp_and_refuses_metadata_and_the_rest() {
        let fixtures =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/photos");
        for (name, mime) in [
            ("camera.jpg", "image/jpeg"),
            ("camera.png", "image/png"),
            ("camera.webp", "image/webp"),
        ] {
            let dirty = std::fs::read(fixtures.join(name)).unwrap();
            // An old or modified client uploading the original: refused, saying why.
            let refused = check_image(&dirty).unwrap_err();
            assert!(refused.contains("metadata"), "{name}: {refused}");
            let clean = noaber_core::photo::clean(&dirty).unwrap().bytes;
            assert_eq!(check_image(&clean), Ok(mime), "{name}");
        }
        assert!(check_image(b"GIF89a").is_err());
        assert!(check_image(b"RIFF\0\0\0\0WAVE").is_err());
        assert!(
            check_image(&[0xFF, 0xD8, 0xFF, 0xE0]).is_err(),
            "a header is not a photo"
        );
        assert!(check_image(b"").is_err());
    }
}
