//! Extractors: the device behind a bearer token, and bounded CBOR / JSON bodies whose failures
//! become [`ApiError`]s.
//!
//! Extractors run in order, request parts first, so [`Authed`] refuses a request before its
//! body is read.

use axum::body::{Bytes, HttpBody};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{StatusCode, header, request::Parts};
use axum::response::{IntoResponse, Response};
use noaber_core::sync::wire::{self, CBOR};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::error::ApiError;
use crate::ids::Token;
use crate::relay::Relay;
use crate::storage::DeviceAuth;

/// The device a valid, unrevoked bearer token belongs to.
#[derive(Debug, Clone)]
pub(crate) struct Authed {
    pub(crate) device: DeviceAuth,
    /// SHA-256 of the token (re-checked by long-lived connections).
    pub(crate) token_hash: [u8; 32],
}

impl FromRequestParts<Relay> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, relay: &Relay) -> Result<Self, ApiError> {
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or(ApiError::Unauthorized(
                "missing `authorization: Bearer <token>` header",
            ))?;
        let token = value
            .to_str()
            .ok()
            .and_then(bearer)
            .and_then(Token::parse)
            .ok_or(ApiError::Unauthorized(
                "malformed token: 64 hex digits expected after `Bearer `",
            ))?;
        let token_hash = token.hash();
        let device = relay
            .blocking(move |r| Ok(r.inner.storage.device_by_token(&token_hash)?))
            .await?
            .ok_or(ApiError::Unauthorized("unknown token"))?;
        if device.revoked {
            return Err(ApiError::Unauthorized("this device has been revoked"));
        }
        Ok(Authed { device, token_hash })
    }
}

/// The credentials of an `Authorization` value whose scheme is `Bearer`, in any case (RFC
/// 9110 §11.1: the scheme is case-insensitive), separated from them by one or more spaces.
fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim_matches(' '))
}

pub(crate) fn content_type_is(req: &Request, want: &str) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(want))
}

/// The request's body, at most `limit` bytes (the route's `DefaultBodyLimit`). A declared
/// `Content-Length` over `limit` is refused before a byte of the body is read; a body that
/// does not arrive within `http_body_timeout_secs` is `408 request_timeout`.
pub(crate) async fn bytes(req: Request, limit: usize) -> Result<Bytes, ApiError> {
    let too_large = || ApiError::PayloadTooLarge(format!("the body is larger than {limit} bytes"));
    if req.body().size_hint().lower() > limit as u64 {
        return Err(too_large());
    }
    Bytes::from_request(req, &()).await.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            too_large()
        } else if let Some(t) = crate::transport::body_timeout(&e) {
            ApiError::RequestTimeout(t)
        } else {
            ApiError::BadRequest("the body could not be read".into())
        }
    })
}

/// A CBOR request body (`content-type: application/cbor`), at most `wire::MAX_BODY_BYTES`
/// (set per route with `DefaultBodyLimit`).
pub(crate) struct CborBody<T>(pub(crate) T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for CborBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _: &S) -> Result<Self, ApiError> {
        if !content_type_is(&req, CBOR) {
            return Err(ApiError::UnsupportedMediaType(CBOR));
        }
        let body = bytes(req, wire::MAX_BODY_BYTES).await?;
        wire::from_cbor(&body)
            .map(CborBody)
            .map_err(|e| ApiError::BadRequest(e.to_string()))
    }
}

/// Largest JSON body (`/v1/join`).
pub(crate) const MAX_JSON_BYTES: usize = 16 * 1024;

/// A JSON request body (`content-type: application/json`), at most [`MAX_JSON_BYTES`].
pub(crate) struct JsonBody<T>(pub(crate) T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _: &S) -> Result<Self, ApiError> {
        if !content_type_is(&req, "application/json") {
            return Err(ApiError::UnsupportedMediaType("application/json"));
        }
        let body = bytes(req, MAX_JSON_BYTES).await?;
        serde_json::from_slice(&body)
            .map(JsonBody)
            .map_err(|e| ApiError::BadRequest(format!("not a valid message: {e}")))
    }
}

/// A CBOR response.
pub(crate) struct Cbor<T>(pub(crate) T);

impl<T: Serialize> IntoResponse for Cbor<T> {
    fn into_response(self) -> Response {
        match wire::to_cbor(&self.0) {
            Ok(bytes) => ([(header::CONTENT_TYPE, CBOR)], bytes).into_response(),
            Err(e) => {
                tracing::error!(error = %e, "encoding a response failed");
                ApiError::Internal.into_response()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::bearer;

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        for v in ["Bearer abc", "bearer abc", "BEARER abc", "bEaReR   abc "] {
            assert_eq!(bearer(v), Some("abc"), "{v}");
        }
        for v in ["Basic abc", "Bearerabc", "abc", "Bearer"] {
            assert_eq!(bearer(v), None, "{v}");
        }
    }
}
