//! Photos: `GET`/`PUT /v1/uploads/{hash}` (resumable upload in chunks) and `GET`/`HEAD
//! /v1/blobs/{hash}` (fetch, with one byte range), exactly as `docs/protocol.md` (*Photos*)
//! specifies them.
//!
//! An upload's state is split on purpose: the bytes are in the [`crate::blob::BlobStore`]
//! (flushed before a chunk is acknowledged), the offset the relay acknowledged is in
//! [`crate::storage::Storage`] (committed after the bytes). The offset a device continues
//! from is the smaller of the two, so a crash between them costs the device one chunk again,
//! never a gap. One chunk per device and photo is handled at a time; a concurrent second one
//! is answered `409 offset_mismatch`.
//!
//! A hash is not a capability. The bytes are stored once, but every upload is recorded per
//! buurt and member ([`crate::storage::Storage::held_blob`]): both upload endpoints answer
//! only about the caller's own uploads (a photo someone else uploaded is answered exactly like
//! an unknown one, so the caller proves possession by sending the bytes), and a fetch needs a
//! readable document whose reference was attached by a member who uploaded the photo in that
//! buurt ([`crate::storage::Storage::blob_readable`]). The reference is not checked at push:
//! devices push a report before its photo is uploaded (an offline caretaker's report syncs
//! first, its photo follows), so the relay gates the fetch instead.
//!
//! Logs name photo hashes only at `debug` (a hash identifies a photo).

use std::collections::HashSet;
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio_util::io::ReaderStream;

use super::error::ApiError;
use super::extract::{Authed, bytes, content_type_is};
use noaber_core::sync::wire::UploadStatus;

use crate::blob::{BlobHash, CompleteError, MAX_CHUNK_BYTES, MAX_PHOTO_BYTES};
use crate::error::{Error, Result};
use crate::ids::DeviceId;
use crate::relay::Relay;
use crate::storage::{Puller, UploadRow};

/// `Upload-Offset`: where a chunk starts (request), where to continue (`409` answer).
pub(crate) const UPLOAD_OFFSET: HeaderName = HeaderName::from_static("upload-offset");
/// `Upload-Length`: the photo's total size.
pub(crate) const UPLOAD_LENGTH: HeaderName = HeaderName::from_static("upload-length");
/// The body limit of `PUT /v1/uploads/{hash}`: one chunk and a little slack, so the handler
/// (not the limit layer) answers a chunk just over [`MAX_CHUNK_BYTES`].
pub(crate) const PUT_BODY_LIMIT: usize = MAX_CHUNK_BYTES + 4 * 1024;

const OCTET_STREAM: &str = "application/octet-stream";

/// The answer of `GET` and `PUT /v1/uploads/{hash}`: the wire type devices decode
/// (`noaber_core::sync::wire::UploadStatus`, pinned there).
fn upload_status(offset: u64, complete: bool) -> UploadStatus {
    UploadStatus {
        v: 1,
        offset,
        complete,
    }
}

/// The uploads being written now, by device and photo: one chunk at a time each.
#[derive(Debug, Default)]
pub(crate) struct Uploading(Mutex<HashSet<(DeviceId, [u8; 32])>>);

/// One device's claim on one upload, released when dropped.
struct Claim<'a> {
    set: &'a Uploading,
    key: (DeviceId, [u8; 32]),
}

impl Uploading {
    fn claim(&self, device: &DeviceId, hash: &BlobHash) -> Option<Claim<'_>> {
        let key = (device.clone(), hash.0);
        let fresh = self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key.clone());
        fresh.then_some(Claim { set: self, key })
    }
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        self.set
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.key);
    }
}

fn parse_hash(s: &str) -> Result<BlobHash, ApiError> {
    BlobHash::parse(s).ok_or_else(|| {
        ApiError::BadRequest("`hash` must be 64 lowercase hex digits (the photo's sha-256)".into())
    })
}

/// The photo's size when the device's member uploaded it whole in its buurt; `None` for a
/// photo someone else uploaded, exactly as for an unknown one (the same one lookup either way).
/// A photo file published by a relay that crashed before recording it (rename done, row not
/// written) is not taken as the caller's: its uploader finds its offset back at 0 and sends
/// the bytes again, which proves it holds them.
fn held(r: &Relay, device: &DeviceId, hash: &BlobHash) -> Result<Option<u64>> {
    Ok(r.inner.storage.held_blob(device, &hash.0)?)
}

/// The device's upload: its row and the offset it continues from (see the module docs).
fn resume_point(r: &Relay, device: &DeviceId, hash: &BlobHash) -> Result<(Option<UploadRow>, u64)> {
    let row = r.inner.storage.upload(device, &hash.0)?;
    let at = match &row {
        Some(row) => row.offset.min(r.inner.blobs.partial_len(device, hash)?),
        None => 0,
    };
    Ok((row, at))
}

/// `GET /v1/uploads/{hash}`: where this device's upload of the photo stands.
pub(crate) async fn status(
    State(relay): State<Relay>,
    authed: Authed,
    Path(hash): Path<String>,
) -> Result<Json<UploadStatus>, ApiError> {
    let hash = parse_hash(&hash)?;
    let device = authed.device.device;
    let status = relay
        .blocking(move |r| {
            if let Some(size) = held(r, &device, &hash)? {
                return Ok(upload_status(size, true));
            }
            Ok(upload_status(resume_point(r, &device, &hash)?.1, false))
        })
        .await?;
    Ok(Json(status))
}

fn header_u64(headers: &HeaderMap, name: &HeaderName) -> Result<u64, ApiError> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| ApiError::BadRequest(format!("`{name}` must be a decimal number")))
}

/// What a chunk did.
enum Put {
    /// The upload goes on from here.
    Progress(u64),
    /// The photo is held whole; `true` when this chunk completed it.
    Complete(u64, bool),
}

/// `PUT /v1/uploads/{hash}`: one chunk of the device's upload.
pub(crate) async fn put(
    State(relay): State<Relay>,
    authed: Authed,
    Path(hash): Path<String>,
    req: Request,
) -> Result<Response, ApiError> {
    let hash = parse_hash(&hash)?;
    if !content_type_is(&req, OCTET_STREAM) {
        return Err(ApiError::UnsupportedMediaType(OCTET_STREAM));
    }
    let offset = header_u64(req.headers(), &UPLOAD_OFFSET)?;
    let length = header_u64(req.headers(), &UPLOAD_LENGTH)?;
    if length == 0 {
        return Err(ApiError::BadRequest(
            "`upload-length` must be at least 1".into(),
        ));
    }
    if length > MAX_PHOTO_BYTES {
        return Err(ApiError::PayloadTooLarge(format!(
            "a photo may have at most {MAX_PHOTO_BYTES} bytes, not {length}"
        )));
    }
    let chunk = bytes(req, PUT_BODY_LIMIT).await?;
    if chunk.len() > MAX_CHUNK_BYTES {
        return Err(ApiError::PayloadTooLarge(format!(
            "a chunk may have at most {MAX_CHUNK_BYTES} bytes"
        )));
    }
    let device = authed.device.device;
    let outcome = relay
        .blocking(move |r| put_chunk(r, &device, &hash, offset, length, &chunk))
        .await??;
    Ok(match outcome {
        Put::Progress(at) => Json(upload_status(at, false)).into_response(),
        Put::Complete(size, now) => {
            let status = if now {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            (status, Json(upload_status(size, true))).into_response()
        }
    })
}

/// The chunk's checks and writes, on a blocking thread; the order is the protocol's.
fn put_chunk(
    r: &Relay,
    device: &DeviceId,
    hash: &BlobHash,
    offset: u64,
    length: u64,
    chunk: &[u8],
) -> Result<Result<Put, ApiError>> {
    if let Some(size) = held(r, device, hash)? {
        return Ok(Ok(Put::Complete(size, false)));
    }
    let Some(_claim) = r.inner.uploading.claim(device, hash) else {
        // Another chunk of this upload is being written: its answer says where to go on.
        return Ok(Err(ApiError::OffsetMismatch(
            resume_point(r, device, hash)?.1,
        )));
    };
    let (row, at) = resume_point(r, device, hash)?;
    if offset != at {
        return Ok(Err(ApiError::OffsetMismatch(at)));
    }
    if let Some(row) = &row {
        if row.length != length {
            return Ok(Err(ApiError::BadRequest(format!(
                "`upload-length` {length} differs from the {} the upload started with",
                row.length
            ))));
        }
    }
    let len = chunk.len() as u64;
    let end = offset.saturating_add(len);
    if end > length {
        return Ok(Err(ApiError::BadRequest(format!(
            "the chunk ends at {end}, past `upload-length` {length}"
        ))));
    }
    if len == 0 && end != length {
        return Ok(Err(ApiError::BadRequest(
            "an empty chunk must finish the upload".into(),
        )));
    }
    let now = r.now_ms();
    let started = row.is_none();
    if started {
        // Checked and reserved in one transaction: parallel starts never exceed the quota.
        let quota = r.inner.config.blob_quota_bytes;
        let reserve = UploadRow {
            length,
            offset: 0,
            updated_at: now,
        };
        if let Err(used) = r
            .inner
            .storage
            .start_upload(device, &hash.0, &reserve, quota)?
        {
            return Ok(Err(ApiError::QuotaExceeded(format!(
                "this device keeps {used} photo bytes; {length} more exceed its quota of {quota}"
            ))));
        }
    }
    if len > 0 {
        if let Err(wait) = r.inner.blob_rate.take(device, len, Instant::now()) {
            if started {
                // Nothing of a refused chunk is kept, not even its reservation.
                r.inner.storage.drop_upload(device, &hash.0)?;
            }
            return Ok(Err(ApiError::SlowDown(wait)));
        }
    }
    r.inner.blobs.write_chunk(device, hash, offset, chunk)?;
    metrics::counter!(crate::metrics::BLOB_BYTES_UPLOADED).increment(len);
    if end < length {
        let row = UploadRow {
            length,
            offset: end,
            updated_at: now,
        };
        r.inner.storage.set_upload(device, &hash.0, &row)?;
        return Ok(Ok(Put::Progress(end)));
    }
    let refused = match r.inner.blobs.complete(device, hash, length) {
        Ok(mime) => {
            r.inner
                .storage
                .complete_blob(device, &hash.0, mime, length, now)?;
            metrics::counter!(crate::metrics::BLOB_UPLOADS_COMPLETED).increment(1);
            tracing::debug!(hash = %hash.hex(), length, "photo upload completed");
            return Ok(Ok(Put::Complete(length, true)));
        }
        Err(CompleteError::Io(e)) => return Err(Error::Io(e)),
        Err(CompleteError::HashMismatch) => ApiError::HashMismatch,
        Err(CompleteError::Rejected(why)) => ApiError::PhotoRejected(why),
    };
    r.inner.storage.drop_upload(device, &hash.0)?;
    let code = match refused {
        ApiError::HashMismatch => "hash_mismatch",
        _ => "photo_rejected",
    };
    metrics::counter!(crate::metrics::BLOB_UPLOADS_REJECTED, "code" => code).increment(1);
    tracing::debug!(hash = %hash.hex(), code, "photo upload refused");
    Ok(Err(refused))
}

/// The part of a photo a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Span {
    /// All of it (no `Range`, several ranges, or one this relay does not understand).
    Whole,
    /// Bytes `start..=end`.
    Part(u64, u64),
    /// A range outside the photo.
    Outside,
}

/// Reads a `Range` header against a photo of `size` bytes (RFC 9110 §14: one `bytes` range
/// `a-b`, `a-` or `-n`; anything else is ignored and the whole photo sent).
fn span(range: Option<&HeaderValue>, size: u64) -> Span {
    let Some(spec) = range
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().strip_prefix("bytes="))
    else {
        return Span::Whole;
    };
    if spec.contains(',') {
        return Span::Whole;
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return Span::Whole;
    };
    let num = |s: &str| -> Option<u64> {
        let s = s.trim();
        (!s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    let last = size.saturating_sub(1);
    match (a.trim().is_empty(), num(a), num(b)) {
        // `-n`: the last n bytes.
        (true, _, Some(n)) => {
            if n == 0 || size == 0 {
                Span::Outside
            } else {
                Span::Part(size.saturating_sub(n), last)
            }
        }
        // `a-` and `a-b`.
        (false, Some(start), end) if b.trim().is_empty() || end.is_some() => {
            if start >= size {
                return Span::Outside;
            }
            match end {
                Some(end) if end < start => Span::Whole,
                Some(end) => Span::Part(start, end.min(last)),
                None => Span::Part(start, last),
            }
        }
        _ => Span::Whole,
    }
}

/// `GET`/`HEAD /v1/blobs/{hash}`: a photo, for a member who reads a document referencing it.
pub(crate) async fn fetch(
    State(relay): State<Relay>,
    authed: Authed,
    method: Method,
    Path(hash): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let hash = parse_hash(&hash)?;
    let device = authed.device;
    let blob = relay
        .blocking(move |r| {
            // The readability check first, and alone, whether the photo exists or not: an
            // unknown photo and one the member may not see cost the same one query.
            let may =
                r.inner
                    .storage
                    .blob_readable(&device.buurt, &hash.0, &Puller::of(&device))?;
            if !may {
                return Ok(None);
            }
            Ok(r.inner.storage.blob(&hash.0)?)
        })
        .await?
        // The same answer whether the photo is missing or not the member's to see.
        .ok_or_else(|| ApiError::NotFound("no photo with this hash".into()))?;
    let size = blob.size;
    let (status, start, len) = match span(headers.get(header::RANGE), size) {
        Span::Whole => (StatusCode::OK, 0, size),
        Span::Part(a, b) => (StatusCode::PARTIAL_CONTENT, a, b - a + 1),
        Span::Outside => return Err(ApiError::RangeNotSatisfiable(size)),
    };
    // Recorded but its bytes not here (a file store lost them, or another relay's data
    // directory holds them): `404`, as for a photo never uploaded — not `500`, since nothing
    // failed that the device could retry into success.
    let absent = || {
        tracing::warn!("a recorded photo's bytes are not in the blob store");
        ApiError::NotFound("no photo with this hash".into())
    };
    let body = if method == Method::HEAD {
        let here = relay
            .blocking(move |r| Ok(r.inner.blobs.stored_len(&hash)?.is_some()))
            .await?;
        if !here {
            return Err(absent());
        }
        Body::empty()
    } else {
        let reader = relay
            .blocking(move |r| Ok(r.inner.blobs.read(&hash, start, len)?))
            .await?
            .ok_or_else(absent)?;
        metrics::counter!(crate::metrics::BLOB_BYTES_SERVED).increment(len);
        Body::from_stream(ReaderStream::new(reader))
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let h = response.headers_mut();
    let value = |s: String| HeaderValue::from_str(&s).map_err(|_| ApiError::Internal);
    h.insert(header::CONTENT_TYPE, value(blob.mime)?);
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    h.insert(header::ETAG, value(format!("\"{}\"", hash.hex()))?);
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=31536000, immutable"),
    );
    if status == StatusCode::PARTIAL_CONTENT {
        let end = start + len - 1;
        h.insert(
            header::CONTENT_RANGE,
            value(format!("bytes {start}-{end}/{size}"))?,
        );
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(range: &str, size: u64) -> Span {
        span(
            Some(&HeaderValue::from_str(range).unwrap_or(HeaderValue::from_static(""))),
            size,
        )
    }

    #[test]
    fn ranges_follow_rfc_9110() {
        assert_eq!(span(None, 10), Span::Whole);
        assert_eq!(at("bytes=2-5", 10), Span::Part(2, 5));
        assert_eq!(at("bytes=2-50", 10), Span::Part(2, 9));
        assert_eq!(at("bytes=7-", 10), Span::Part(7, 9));
        assert_eq!(at("bytes=-3", 10), Span::Part(7, 9));
        assert_eq!(at("bytes=-30", 10), Span::Part(0, 9));
        assert_eq!(at("bytes=10-", 10), Span::Outside);
        assert_eq!(at("bytes=10-12", 10), Span::Outside);
        assert_eq!(at("bytes=-0", 10), Span::Outside);
        assert_eq!(at("bytes=0-1,4-5", 10), Span::Whole);
        assert_eq!(at("bytes=5-2", 10), Span::Whole);
        assert_eq!(at("items=0-1", 10), Span::Whole);
        assert_eq!(at("bytes=x-1", 10), Span::Whole);
        assert_eq!(at("bytes=-", 10), Span::Whole);
    }
}
