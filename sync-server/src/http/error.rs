//! Every failure of the HTTP API becomes a response here, in one `IntoResponse` impl.
//!
//! The body is always JSON `{"error": {"code": …, "message": …}}` (`wire::ErrorBody`). Codes
//! are stable and machine-readable; messages are for developers, lowercase, and never carry
//! internals (a 500 says only `internal error`; the cause goes to the log), tokens, invite
//! codes or personal data.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use noaber_core::sync::wire::{ErrorBody, ErrorDetail};

use crate::error::Error;

/// An error answered to a client.
#[derive(Debug)]
pub enum ApiError {
    /// 400 `bad_request`: the request is malformed.
    BadRequest(String),
    /// 400 `unsupported_version`: `v` is not 1.
    UnsupportedVersion(u32),
    /// 401 `unauthorized`: missing, unknown, revoked or malformed token.
    Unauthorized(&'static str),
    /// 403 `forbidden`.
    Forbidden(String),
    /// 404 `not_found`.
    NotFound(String),
    /// 405 `method_not_allowed`.
    MethodNotAllowed,
    /// 413 `payload_too_large`.
    PayloadTooLarge(String),
    /// 415 `unsupported_media_type`.
    UnsupportedMediaType(&'static str),
    /// 429 `rate_limited`.
    RateLimited(&'static str),
    /// 400 (malformed) or 403 (unknown, expired, used up) `invite_invalid`.
    InviteInvalid(StatusCode, &'static str),
    /// 409 `member_taken`.
    MemberTaken,
    /// 409 `actor_taken`.
    ActorTaken,
    /// 409 `join_secret_taken`: the `join_secret` belongs to another join (another invite,
    /// member or actor ids) or to a revoked device.
    JoinSecretTaken,
    /// 403 `quota_exceeded`: the device's photo storage quota would be exceeded.
    QuotaExceeded(String),
    /// 409 `offset_mismatch`: a chunk does not start at the upload's offset (the one given,
    /// also sent as `Upload-Offset`).
    OffsetMismatch(u64),
    /// 422 `hash_mismatch`: a completed upload's bytes do not match its hash.
    HashMismatch,
    /// 422 `photo_rejected`: a completed upload is not an acceptable photo; the reason.
    PhotoRejected(String),
    /// 416 `range_not_satisfiable`: a `Range` outside the photo of this many bytes.
    RangeNotSatisfiable(u64),
    /// 429 `rate_limited` with `Retry-After` in seconds: a device sending photo bytes faster
    /// than it may.
    SlowDown(u64),
    /// 408 `request_timeout`: the body did not arrive within `http_body_timeout_secs` (this
    /// many); the connection is closed after the answer.
    RequestTimeout(u64),
    /// 503 `live_full` with `Retry-After`: the relay holds as many live connections as it may,
    /// for the buurt or in all.
    LiveFull,
    /// 503 `unavailable`: the store does not answer (readiness).
    Unavailable,
    /// 500 `internal`: logged, never detailed to the client.
    Internal,
}

/// `Retry-After` of a `503 live_full`, in seconds.
const LIVE_RETRY_SECS: u64 = 60;

/// The `Retry-After` (seconds) of a `503 unavailable`: the database is away for a restart or
/// a failover, which takes seconds; clients back off further on repeats.
const UNAVAILABLE_RETRY_SECS: u64 = 5;

impl ApiError {
    fn parts(&self) -> (StatusCode, &'static str, String) {
        use ApiError::*;
        match self {
            BadRequest(m) => (StatusCode::BAD_REQUEST, "bad_request", m.clone()),
            UnsupportedVersion(v) => (
                StatusCode::BAD_REQUEST,
                "unsupported_version",
                format!("protocol version {v} is not supported; this relay speaks 1"),
            ),
            Unauthorized(m) => (StatusCode::UNAUTHORIZED, "unauthorized", (*m).to_owned()),
            Forbidden(m) => (StatusCode::FORBIDDEN, "forbidden", m.clone()),
            NotFound(m) => (StatusCode::NOT_FOUND, "not_found", m.clone()),
            MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this route does not take that method".into(),
            ),
            PayloadTooLarge(m) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", m.clone()),
            UnsupportedMediaType(want) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                format!("`content-type` must be `{want}`"),
            ),
            RateLimited(m) => (StatusCode::TOO_MANY_REQUESTS, "rate_limited", (*m).to_owned()),
            InviteInvalid(status, m) => (*status, "invite_invalid", (*m).to_owned()),
            MemberTaken => (
                StatusCode::CONFLICT,
                "member_taken",
                "this member id belongs to a member of the buurt, or is registered in another buurt; a further device of that member needs an invite made for them, and each buurt needs a member id of its own".into(),
            ),
            ActorTaken => (
                StatusCode::CONFLICT,
                "actor_taken",
                "an actor id is registered to another device, in this buurt or another one; each buurt needs actor ids of its own".into(),
            ),
            JoinSecretTaken => (
                StatusCode::CONFLICT,
                "join_secret_taken",
                "this join_secret belongs to another join or to a revoked device; join with a new one".into(),
            ),
            QuotaExceeded(m) => (StatusCode::FORBIDDEN, "quota_exceeded", m.clone()),
            OffsetMismatch(at) => (
                StatusCode::CONFLICT,
                "offset_mismatch",
                format!("the upload continues at offset {at}"),
            ),
            HashMismatch => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "hash_mismatch",
                "the uploaded bytes do not match their sha-256; the upload was discarded, start again from 0".into(),
            ),
            PhotoRejected(why) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "photo_rejected",
                format!("{why}; the upload was discarded"),
            ),
            RangeNotSatisfiable(len) => (
                StatusCode::RANGE_NOT_SATISFIABLE,
                "range_not_satisfiable",
                format!("the range is outside the photo's {len} bytes"),
            ),
            SlowDown(secs) => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!("photo upload rate exceeded; retry in {secs} s"),
            ),
            RequestTimeout(secs) => (
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                format!("the body did not arrive within {secs} s"),
            ),
            LiveFull => (
                StatusCode::SERVICE_UNAVAILABLE,
                "live_full",
                format!("too many live connections; retry in {LIVE_RETRY_SECS} s or sync without one"),
            ),
            Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                format!("the relay's database does not answer; nothing was done, retry in {UNAVAILABLE_RETRY_SECS} s"),
            ),
            Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "internal error".into(),
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, message) = self.parts();
        let body = ErrorBody {
            error: ErrorDetail {
                code: code.to_owned(),
                message,
            },
        };
        let mut response = (status, Json(body)).into_response();
        let headers = response.headers_mut();
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        match self {
            ApiError::OffsetMismatch(at) => {
                headers.insert(super::blobs::UPLOAD_OFFSET, HeaderValue::from(at));
            }
            ApiError::RangeNotSatisfiable(len) => {
                if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
                    headers.insert(header::CONTENT_RANGE, v);
                }
            }
            ApiError::SlowDown(secs) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
            }
            ApiError::LiveFull => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(LIVE_RETRY_SECS));
            }
            ApiError::Unavailable => {
                headers.insert(
                    header::RETRY_AFTER,
                    HeaderValue::from(UNAVAILABLE_RETRY_SECS),
                );
            }
            ApiError::RequestTimeout(_) => {
                // The rest of the body may still be on its way: do not read it as a request.
                headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            _ => {}
        }
        response
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        match e {
            Error::InvalidInput { field, reason } => {
                ApiError::BadRequest(format!("invalid `{field}`: {reason}"))
            }
            Error::NotFound { what, id } => ApiError::NotFound(format!("no {what} with id `{id}`")),
            Error::TooLarge(m) => ApiError::PayloadTooLarge(m),
            Error::Storage(crate::storage::StorageError::Unavailable(why)) => {
                tracing::warn!(error = %why, "storage unavailable");
                ApiError::Unavailable
            }
            // The photo store on PostgreSQL reports an outage inside an I/O error.
            Error::Io(e) if crate::blob::is_unavailable(&e) => {
                tracing::warn!(error = %e, "photo storage unavailable");
                ApiError::Unavailable
            }
            other => {
                tracing::error!(error = %other, "request failed");
                ApiError::Internal
            }
        }
    }
}

/// The response for a panic inside a handler (`CatchPanicLayer`): 500 `internal`.
pub(crate) fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    ApiError::Internal.into_response()
}
