//! [`FsBlobStore`]: photos as files under the relay's data directory.
//!
//! The partial upload is its own temporary file: completing an upload verifies it, flushes it
//! and renames it to its content address, then flushes both directories. `rename` within one
//! filesystem is atomic, so a reader (or a restarted relay) finds the photo whole or not at
//! all; a crash before the rename leaves the partial upload, which the device resumes or the
//! 7-day clean-up removes.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::{BlobHash, BlobReader, BlobStore, CompleteError, MAX_OPEN_PHOTO_FILES, check_image};
use crate::ids::DeviceId;
use crate::storage::StorageError;

/// Read size while hashing a finished upload (bounded memory whatever the photo's size).
const HASH_BUFFER: usize = 64 * 1024;

/// Photos as files: `sha256/ab/<hash>` complete, `partial/<device>-<hash>` in progress.
#[derive(Debug, Clone)]
pub struct FsBlobStore {
    complete: PathBuf,
    partial: PathBuf,
    /// One permit per transfer that may hold files open (see [`MAX_OPEN_PHOTO_FILES`]).
    files: Arc<Semaphore>,
    bound: usize,
}

/// A streamed read and the permit its open file holds.
struct Permitted<R> {
    inner: R,
    _permit: OwnedSemaphorePermit,
}

impl<R: AsyncRead + Unpin> AsyncRead for Permitted<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

/// Flushes a directory, so a file created, renamed or removed in it survives a power cut.
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

fn not_found_is_none<T>(r: io::Result<T>) -> io::Result<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

impl FsBlobStore {
    /// Opens (creating it if needed) the store in `root` (the relay uses `<data>/blobs`).
    ///
    /// # Errors
    ///
    /// I/O errors creating the directories.
    pub fn open(root: impl AsRef<Path>) -> io::Result<Self> {
        // At most an eighth of the open-file limit for photo files (two per transfer), so a
        // small limit still leaves most of its room to connections.
        let bound = crate::transport::fd_limit().map_or(MAX_OPEN_PHOTO_FILES, |(soft, _)| {
            usize::try_from(soft / 16).map_or(MAX_OPEN_PHOTO_FILES, |n| n.min(MAX_OPEN_PHOTO_FILES))
        });
        FsBlobStore::open_bounded(root, bound)
    }

    /// [`FsBlobStore::open`] running at most `transfers` transfers at once (at least 1).
    ///
    /// # Errors
    ///
    /// As [`FsBlobStore::open`].
    pub fn open_bounded(root: impl AsRef<Path>, transfers: usize) -> io::Result<Self> {
        let root = root.as_ref();
        let bound = transfers.max(1);
        let store = FsBlobStore {
            complete: root.join("sha256"),
            partial: root.join("partial"),
            files: Arc::new(Semaphore::new(bound)),
            bound,
        };
        fs::create_dir_all(&store.complete)?;
        fs::create_dir_all(&store.partial)?;
        Ok(store)
    }

    fn partial_path(&self, device: &DeviceId, hash: &BlobHash) -> PathBuf {
        self.partial
            .join(format!("{}-{}", device.as_str(), hash.hex()))
    }

    fn final_path(&self, hash: &BlobHash) -> PathBuf {
        let hex = hash.hex();
        let fan = hex.get(..2).unwrap_or("00").to_owned();
        self.complete.join(fan).join(hex)
    }

    /// A transfer's permit to open files, or `unavailable` (retry) when all are taken.
    fn permit(&self) -> io::Result<OwnedSemaphorePermit> {
        Arc::clone(&self.files).try_acquire_owned().map_err(|_| {
            io::Error::other(StorageError::Unavailable(
                "too many photo transfers at once".into(),
            ))
        })
    }

    fn remove_partial(&self, path: &Path) -> io::Result<()> {
        match fs::remove_file(path) {
            Ok(()) => sync_dir(&self.partial),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }
}

impl BlobStore for FsBlobStore {
    fn partial_len(&self, device: &DeviceId, hash: &BlobHash) -> io::Result<u64> {
        Ok(
            not_found_is_none(fs::metadata(self.partial_path(device, hash)))?
                .map_or(0, |m| m.len()),
        )
    }

    fn write_chunk(
        &self,
        device: &DeviceId,
        hash: &BlobHash,
        offset: u64,
        bytes: &[u8],
    ) -> io::Result<()> {
        let _permit = self.permit()?;
        let path = self.partial_path(device, hash);
        let existed = path.exists();
        let mut f = OpenOptions::new()
            .write(true)
            .create(offset == 0)
            .truncate(false)
            .open(&path)?;
        let len = f.metadata()?.len();
        if offset > len {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("offset {offset} is past the {len} bytes on disk"),
            ));
        }
        // Bytes past `offset` were written but never acknowledged (a crash between the flush
        // and the offset's commit, or a retried chunk): the device sends them again.
        if len != offset {
            f.set_len(offset)?;
        }
        f.seek(SeekFrom::Start(offset))?;
        f.write_all(bytes)?;
        f.sync_all()?;
        if !existed {
            sync_dir(&self.partial)?;
        }
        Ok(())
    }

    fn complete(
        &self,
        device: &DeviceId,
        hash: &BlobHash,
        length: u64,
    ) -> Result<&'static str, CompleteError> {
        let _permit = self.permit()?;
        let path = self.partial_path(device, hash);
        let mut f = File::open(&path)?;
        let on_disk = f.metadata()?.len();
        if on_disk != length {
            return Err(CompleteError::Io(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("the upload holds {on_disk} bytes, {length} expected"),
            )));
        }
        let mut hasher = Sha256::new();
        // The whole photo, for the image check (bounded: `length` is at most
        // `MAX_PHOTO_BYTES`, checked when the upload started).
        let mut whole = Vec::with_capacity(usize::try_from(length).unwrap_or(0));
        let mut buf = vec![0u8; HASH_BUFFER];
        loop {
            let n = f.read(&mut buf)?;
            let Some(read) = buf.get(..n) else {
                unreachable!("read returned more than the buffer holds; this is a bug")
            };
            if read.is_empty() {
                break;
            }
            whole.extend_from_slice(read);
            hasher.update(read);
        }
        if hasher.finalize().as_slice() != hash.0.as_slice() {
            drop(f);
            self.remove_partial(&path)?;
            return Err(CompleteError::HashMismatch);
        }
        let mime = match check_image(&whole) {
            Ok(mime) => mime,
            Err(reason) => {
                drop(f);
                self.remove_partial(&path)?;
                return Err(CompleteError::Rejected(reason));
            }
        };
        f.sync_all()?;
        drop(f);
        let target = self.final_path(hash);
        let fan = target.parent().unwrap_or(&self.complete).to_owned();
        if !fan.exists() {
            fs::create_dir_all(&fan)?;
            sync_dir(&self.complete)?;
        }
        fs::rename(&path, &target)?;
        sync_dir(&fan)?;
        sync_dir(&self.partial)?;
        Ok(mime)
    }

    fn discard(&self, device: &DeviceId, hash: &BlobHash) -> io::Result<()> {
        self.remove_partial(&self.partial_path(device, hash))
    }

    fn stored_len(&self, hash: &BlobHash) -> io::Result<Option<u64>> {
        Ok(not_found_is_none(fs::metadata(self.final_path(hash)))?.map(|m| m.len()))
    }

    fn head(&self, hash: &BlobHash, n: usize) -> io::Result<Option<Vec<u8>>> {
        let _permit = self.permit()?;
        let Some(f) = not_found_is_none(File::open(self.final_path(hash)))? else {
            return Ok(None);
        };
        let mut out = Vec::with_capacity(n);
        f.take(u64::try_from(n).unwrap_or(u64::MAX))
            .read_to_end(&mut out)?;
        Ok(Some(out))
    }

    fn read(&self, hash: &BlobHash, start: u64, len: u64) -> io::Result<Option<BlobReader>> {
        // Held until the response has streamed the range (or was dropped).
        let permit = self.permit()?;
        let Some(mut f) = not_found_is_none(File::open(self.final_path(hash)))? else {
            return Ok(None);
        };
        f.seek(SeekFrom::Start(start))?;
        Ok(Some(Box::pin(Permitted {
            inner: tokio::fs::File::from_std(f).take(len),
            _permit: permit,
        })))
    }

    fn open_files(&self) -> u64 {
        2 * self.bound as u64
    }

    fn discard_partials_before(&self, before: SystemTime) -> io::Result<usize> {
        let _permit = self.permit()?;
        let mut removed = 0;
        for entry in fs::read_dir(&self.partial)? {
            let entry = entry?;
            let old = entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| t < before);
            if !old {
                continue;
            }
            match fs::remove_file(entry.path()) {
                Ok(()) => removed += 1,
                Err(e) => tracing::warn!(error = %e, "cannot remove an old partial upload"),
            }
        }
        if removed > 0 {
            sync_dir(&self.partial)?;
        }
        Ok(removed)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::blob::conformance::{hash_of, jpeg};

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    /// The store on one temporary directory, reopened by each call (the directory lives as
    /// long as the test's closure).
    fn on_a_directory() -> impl Fn() -> Box<dyn BlobStore> {
        let dir = std::sync::Arc::new(tempfile::tempdir().unwrap());
        move || Box::new(FsBlobStore::open(dir.path()).unwrap())
    }

    crate::blob::conformance::suite!(on_a_directory());

    use crate::blob::is_unavailable;

    /// A store holds at most its bound of transfers' files open: one more is `unavailable`
    /// (retried by the device) until one ends — a streamed read ends when its reader is dropped.
    #[test]
    fn transfers_beyond_the_bound_are_unavailable_until_one_ends() -> TestResult {
        let dir = tempfile::tempdir()?;
        let s = FsBlobStore::open_bounded(dir.path(), 2)?;
        assert_eq!(s.open_files(), 4);
        let d = DeviceId::new()?;
        let bytes = jpeg(5_000);
        let h = hash_of(&bytes);
        s.write_chunk(&d, &h, 0, &bytes)?;
        s.complete(&d, &h, 5_000)?;
        let (first, second) = (s.read(&h, 0, 10)?, s.read(&h, 0, 10)?);
        assert!(first.is_some() && second.is_some());
        assert!(is_unavailable(
            &s.read(&h, 0, 10).err().ok_or("a third read")?
        ));
        assert!(is_unavailable(&s.head(&h, 3).unwrap_err()));
        assert!(is_unavailable(
            &s.write_chunk(&d, &hash_of(b"x"), 0, b"x").unwrap_err()
        ));
        // Metadata needs no file: still answered.
        assert_eq!(s.stored_len(&h)?, Some(5_000));
        drop(first);
        assert_eq!(s.head(&h, 3)?, Some(vec![0xFF, 0xD8, 0xFF]));
        assert!(s.read(&h, 0, 10)?.is_some());
        Ok(())
    }

    #[test]
    fn a_complete_photo_is_one_content_addressed_file() -> TestResult {
        let dir = tempfile::tempdir()?;
        let s = FsBlobStore::open(dir.path())?;
        let d = DeviceId::new()?;
        let bytes = jpeg(20_000);
        let h = hash_of(&bytes);
        s.write_chunk(&d, &h, 0, &bytes)?;
        assert!(
            dir.path()
                .join("partial")
                .join(format!("{}-{}", d.as_str(), h.hex()))
                .is_file()
        );
        s.complete(&d, &h, 20_000)?;
        let hex = h.hex();
        let file = dir.path().join("sha256").join(&hex[..2]).join(&hex);
        assert_eq!(fs::read(file)?, bytes);
        assert_eq!(fs::read_dir(dir.path().join("partial"))?.count(), 0);
        Ok(())
    }
}
