//! Photo transfer over HTTP: the resumable upload queue and downloads on demand
//! (`docs/protocol.md`, "Photos"). The queue's state lives in the store (`store::photos`); this
//! module moves bytes and records what the relay acknowledged after every chunk, so a cut
//! connection, a killed app or a cancelled task resumes from the relay's offset.

use super::{Client, network, relay_error};
use crate::error::{Error, Result};
use crate::store::Store;
use crate::store::photos::{LocalPhoto, PhotoUpload};
use crate::sync::wire::{self, UploadStatus};

/// Bytes per upload request: small enough that a flaky mobile connection loses little when a
/// request is cut, large enough that a 15 MB photo is ~60 requests.
pub const UPLOAD_CHUNK: usize = 256 * 1024;

/// How often one upload may be told "not that offset" in a row before it gives up for now (a
/// relay answering inconsistently must not keep a device busy for ever).
const MAX_OFFSET_RETRIES: usize = 4;

/// Progress of one photo's upload, for a UI.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UploadProgress {
    /// The photo.
    pub hash: String,
    /// The report it belongs to.
    pub entity: crate::EntityId,
    /// Bytes the relay holds durably.
    pub sent: u64,
    /// The photo's size.
    pub total: u64,
}

/// What one [`Client::upload_photos`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct UploadReport {
    /// Photos the relay now holds whole.
    pub completed: usize,
    /// Photos the relay refused for good (see the queue's `last_error`).
    pub rejected: usize,
    /// Photos still waiting (a failure stopped the run; they are retried after a backoff).
    pub waiting: usize,
    /// Bytes sent in this run.
    pub bytes_sent: u64,
}

/// What became of one upload attempt.
enum Outcome {
    Completed,
    Rejected,
    /// A failure worth retrying later; stop this run (the network is likely gone).
    Failed,
}

impl Client {
    /// Uploads every waiting photo of `buurt` (an explicit "sync now": backoff does not
    /// delay it), oldest first, each from the offset the relay reports, calling `on_progress`
    /// after every acknowledged chunk. A failure is recorded with a backoff and stops the run
    /// (the others wait for the next one); a photo the relay refuses for good is marked
    /// rejected. Cancelling (dropping the future) loses at most the chunk in flight.
    ///
    /// # Errors
    ///
    /// [`Error::Relay`] with `unauthorized` (a revoked device); storage errors. Network
    /// failures are recorded in the queue, not returned.
    pub async fn upload_photos(
        &self,
        store: &Store,
        buurt: &str,
        on_progress: impl FnMut(&UploadProgress),
    ) -> Result<UploadReport> {
        let todo = store.pending_photo_uploads(buurt)?;
        self.upload_each(store, buurt, todo, on_progress).await
    }

    /// [`Client::upload_photos`] for automatic retries (live sync): only the photos whose
    /// backoff has passed.
    ///
    /// # Errors
    ///
    /// As [`Client::upload_photos`].
    pub async fn upload_due_photos(
        &self,
        store: &Store,
        buurt: &str,
        on_progress: impl FnMut(&UploadProgress),
    ) -> Result<UploadReport> {
        let todo = store.due_photo_uploads(buurt)?;
        self.upload_each(store, buurt, todo, on_progress).await
    }

    async fn upload_each(
        &self,
        store: &Store,
        buurt: &str,
        due: Vec<PhotoUpload>,
        mut on_progress: impl FnMut(&UploadProgress),
    ) -> Result<UploadReport> {
        let mut report = UploadReport::default();
        if due.is_empty() {
            return Ok(report);
        }
        let b = store.buurt(buurt)?;
        let token = store.buurt_token(buurt)?;
        let mut left = due.len();
        for up in due {
            left = left.saturating_sub(1);
            let outcome = match self
                .upload_one(
                    store,
                    &b.relay_url,
                    &token,
                    &up,
                    &mut on_progress,
                    &mut report,
                )
                .await
            {
                Ok(o) => o,
                Err(e @ Error::Relay { status: 401, .. }) => return Err(e),
                Err(e @ (Error::Storage(_) | Error::Corrupt { .. })) => return Err(e),
                Err(e) => {
                    store.photo_upload_failed(&up.hash, &e)?;
                    Outcome::Failed
                }
            };
            match outcome {
                Outcome::Completed => report.completed += 1,
                Outcome::Rejected => report.rejected += 1,
                Outcome::Failed => {
                    report.waiting += 1 + left;
                    break;
                }
            }
        }
        Ok(report)
    }

    async fn upload_one(
        &self,
        store: &Store,
        relay: &str,
        token: &str,
        up: &PhotoUpload,
        on_progress: &mut impl FnMut(&UploadProgress),
        report: &mut UploadReport,
    ) -> Result<Outcome> {
        let url = format!("{relay}/v1/uploads/{}", up.hash);
        let progress = |sent: u64| UploadProgress {
            hash: up.hash.clone(),
            entity: up.entity.clone(),
            sent,
            total: up.size,
        };
        // The relay's offset is the truth: it may hold more than we recorded (an ack lost with
        // the connection) or less (it discarded a stale partial upload).
        let resp = self
            .http
            .get(&url)
            .bearer_auth(token)
            .send()
            .await
            .map_err(|e| network(&e))?;
        if !resp.status().is_success() {
            return Err(relay_error(resp).await);
        }
        let st: UploadStatus = json(resp).await?;
        let mut offset = st.offset;
        if st.complete {
            store.photo_upload_progress(&up.hash, up.size, true)?;
            on_progress(&progress(up.size));
            return Ok(Outcome::Completed);
        }
        store.photo_upload_progress(&up.hash, offset, false)?;
        let mut mismatches = 0;
        loop {
            let chunk = match store.photo_chunk(&up.hash, offset, UPLOAD_CHUNK) {
                Ok(c) => c,
                // The file is gone (removed outside the app): nothing can ever be sent.
                Err(Error::NotFound { .. }) => {
                    store.photo_upload_rejected(
                        &up.hash,
                        "missing",
                        "the photo's file is no longer on this device",
                    )?;
                    return Ok(Outcome::Rejected);
                }
                Err(e) => return Err(e),
            };
            let len = u64::try_from(chunk.len()).unwrap_or(u64::MAX);
            if offset.saturating_add(len) > up.size || (chunk.is_empty() && offset < up.size) {
                return Err(Error::Storage(format!(
                    "the stored photo `{}` is not {} bytes long",
                    up.hash, up.size
                )));
            }
            let resp = self
                .http
                .put(&url)
                .bearer_auth(token)
                .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                .header(wire::UPLOAD_OFFSET, offset)
                .header(wire::UPLOAD_LENGTH, up.size)
                .body(chunk)
                .send()
                .await
                .map_err(|e| network(&e))?;
            let status = resp.status().as_u16();
            match status {
                200 | 201 => {
                    let st: UploadStatus = json(resp).await?;
                    report.bytes_sent = report.bytes_sent.saturating_add(len);
                    mismatches = 0;
                    offset = st.offset;
                    store.photo_upload_progress(&up.hash, offset, st.complete)?;
                    on_progress(&progress(offset));
                    if st.complete {
                        tracing::debug!(size = up.size, "photo uploaded");
                        return Ok(Outcome::Completed);
                    }
                }
                409 => {
                    let expected = resp
                        .headers()
                        .get(wire::UPLOAD_OFFSET)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse::<u64>().ok());
                    mismatches += 1;
                    match expected {
                        Some(o) if o <= up.size && mismatches <= MAX_OFFSET_RETRIES => {
                            offset = o;
                            store.photo_upload_progress(&up.hash, offset, false)?;
                        }
                        _ => return Err(relay_error(resp).await),
                    }
                }
                // The photo can never be accepted as it is: a hash or image the relay refuses,
                // or a size over its limit. Retrying would send the same bytes again.
                413 | 422 => {
                    let Error::Relay { code, message, .. } = relay_error(resp).await else {
                        unreachable!("relay_error always returns Error::Relay; this is a bug")
                    };
                    tracing::warn!(code = %code, "the relay refused a photo");
                    store.photo_upload_rejected(&up.hash, &code, &message)?;
                    return Ok(Outcome::Rejected);
                }
                _ => return Err(relay_error(resp).await),
            }
        }
    }

    /// Fetches a photo the device does not hold from `buurt`'s relay, checks it (hash, no
    /// metadata) and keeps it in the bounded cache. `Ok(None)` when the relay does not hold it
    /// (yet): the device that took it has not finished uploading — a UI shows "photo pending".
    /// A photo already held is returned without a request.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] (`hash`, or `photo` for bytes that do not match their hash or
    /// carry metadata); [`Error::Network`]; [`Error::Relay`]; storage errors.
    pub async fn fetch_photo(
        &self,
        store: &Store,
        buurt: &str,
        hash: &str,
    ) -> Result<Option<LocalPhoto>> {
        if let Some(p) = store.photo(hash)? {
            return Ok(Some(p));
        }
        let b = store.buurt(buurt)?;
        let token = store.buurt_token(buurt)?;
        let resp = self
            .http
            .get(format!("{}/v1/blobs/{hash}", b.relay_url))
            .bearer_auth(&token)
            .send()
            .await
            .map_err(|e| network(&e))?;
        if resp.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !resp.status().is_success() {
            return Err(relay_error(resp).await);
        }
        let limit = crate::model::report::MAX_PHOTO_BYTES;
        if resp.content_length().is_some_and(|n| n > limit) {
            return Err(Error::invalid(
                "photo",
                "the relay sent more than a photo may hold",
            ));
        }
        let bytes = read_bounded(resp, limit).await?;
        store.store_fetched_photo(hash, &bytes).map(Some)
    }
}

/// Reads a body of at most `limit` bytes (a relay that lies about its length cannot make the
/// device buffer more).
async fn read_bounded(mut resp: reqwest::Response, limit: u64) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| network(&e))? {
        out.extend_from_slice(&chunk);
        if u64::try_from(out.len()).unwrap_or(u64::MAX) > limit {
            return Err(Error::invalid(
                "photo",
                "the relay sent more than a photo may hold",
            ));
        }
    }
    Ok(out)
}

async fn json<T: serde::de::DeserializeOwned>(resp: reqwest::Response) -> Result<T> {
    let bytes = read_bounded(resp, 64 * 1024).await?;
    serde_json::from_slice(&bytes)
        .map_err(|e| Error::Network(format!("the relay's answer is malformed: {e}")))
}
