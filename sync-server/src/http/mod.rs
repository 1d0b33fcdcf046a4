//! The HTTP API: routes, limits, panics, metrics.
//!
//! | route | body | what |
//! |---|---|---|
//! | `POST /v1/join` | JSON `JoinRequest` → `JoinResponse` | redeem an invite, enrol a device |
//! | `POST /v1/sync` | CBOR `SyncRequest` → `SyncResponse` | push and pull, one round trip |
//! | `POST /v1/missing` | CBOR `MissingRequest` → `MissingResponse` | repair one document |
//! | `GET /v1/live` | WebSocket | `{"head": N}` whenever the buurt's log moves |
//! | `GET /v1/uploads/{hash}` | → JSON `{v, offset, complete}` | where the device's photo upload stands |
//! | `PUT /v1/uploads/{hash}` | one chunk (≤ 1 MiB) → JSON | resumable photo upload |
//! | `GET`/`HEAD /v1/blobs/{hash}` | → the photo's bytes (one `Range`) | fetch a photo the member may see |
//! | `GET /healthz` | | 200 while the process serves |
//! | `GET /readyz` | | 200 when the store answers, else 503 |
//!
//! `GET /metrics` (Prometheus text) is served by [`metrics_router`] on its own listener
//! (`metrics_listen`), never on this one: it tells anyone how busy the relay is and how.
//!
//! Every error is JSON from [`error::ApiError`]. A panic in a handler is caught
//! (`CatchPanicLayer`) and answered 500 `internal`; other requests never notice.

use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use noaber_core::sync::wire::MAX_BODY_BYTES;
use tower_http::catch_panic::CatchPanicLayer;

use crate::relay::Relay;
use error::ApiError;

pub(crate) mod blobs;
pub(crate) mod error;
pub(crate) mod extract;
mod join;
mod live;
mod sync;

/// The relay's routes over `relay`.
pub(crate) fn router(relay: Relay) -> Router {
    let routes = Router::new()
        .route(
            "/v1/join",
            post(join::join).layer(DefaultBodyLimit::max(extract::MAX_JSON_BYTES)),
        )
        .route(
            "/v1/sync",
            post(sync::sync).layer(DefaultBodyLimit::max(MAX_BODY_BYTES)),
        )
        .route(
            "/v1/missing",
            post(sync::missing).layer(DefaultBodyLimit::max(MAX_BODY_BYTES)),
        )
        .route("/v1/live", get(live::live))
        .route(
            "/v1/uploads/{hash}",
            get(blobs::status)
                .put(blobs::put)
                .layer(DefaultBodyLimit::max(blobs::PUT_BODY_LIMIT)),
        )
        // `get` answers `HEAD` too (the handler leaves the body out).
        .route("/v1/blobs/{hash}", get(blobs::fetch))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .fallback(|| async { ApiError::NotFound("no such route".into()) })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed });
    harden(routes).with_state(relay)
}

/// The metrics listener's routes: `GET /metrics` only.
pub(crate) fn metrics_router() -> Router {
    harden(
        Router::new()
            .route("/metrics", get(metrics))
            .fallback(|| async { ApiError::NotFound("no such route".into()) })
            .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed }),
    )
}

/// What every route gets: request metrics, and a caught panic becomes 500 `internal`.
fn harden<S: Clone + Send + Sync + 'static>(routes: Router<S>) -> Router<S> {
    routes
        .layer(middleware::from_fn(track))
        .layer(CatchPanicLayer::custom(error::panic_response))
}

async fn ready(State(relay): State<Relay>) -> Result<&'static str, ApiError> {
    match relay.blocking(|r| Ok(r.inner.storage.ping()?)).await {
        Ok(()) => Ok("ready\n"),
        Err(e) => {
            tracing::warn!(error = %e, "not ready");
            Err(ApiError::Unavailable)
        }
    }
}

async fn metrics() -> Response {
    match crate::metrics::handle() {
        Some(handle) => {
            handle.run_upkeep();
            (
                [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
                handle.render(),
            )
                .into_response()
        }
        None => {
            ApiError::NotFound("metrics are not enabled in this process".into()).into_response()
        }
    }
}

/// Counts every request by route and status, and times it.
async fn track(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let started = Instant::now();
    let response = next.run(req).await;
    let status = response.status();
    metrics::counter!(
        crate::metrics::HTTP_REQUESTS,
        "route" => route.clone(),
        "status" => status.as_u16().to_string()
    )
    .increment(1);
    metrics::histogram!(crate::metrics::HTTP_SECONDS, "route" => route.clone())
        .record(started.elapsed().as_secs_f64());
    if status == StatusCode::INTERNAL_SERVER_ERROR {
        tracing::warn!(route, "answered 500");
    } else {
        tracing::debug!(route, status = status.as_u16(), "answered");
    }
    response
}

#[cfg(test)]
#[allow(clippy::panic)]
mod tests {
    use super::*;

    async fn boom() -> &'static str {
        panic!("secret detail")
    }

    /// A handler that panics answers 500 `internal` (no details), and the server goes on.
    #[tokio::test]
    async fn a_panicking_handler_answers_500_and_the_server_goes_on() -> crate::Result<()> {
        let app = harden(
            Router::new()
                .route("/boom", get(boom))
                .route("/fine", get(|| async { "fine" })),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        tokio::spawn(async move { axum::serve(listener, app).await });
        let err = |e: reqwest::Error| crate::Error::Other(e.to_string());
        let resp = reqwest::get(format!("http://{addr}/boom"))
            .await
            .map_err(err)?;
        assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = resp.text().await.map_err(err)?;
        assert!(body.contains("\"internal\""), "{body}");
        assert!(!body.contains("secret"), "{body}");
        let resp = reqwest::get(format!("http://{addr}/fine"))
            .await
            .map_err(err)?;
        assert_eq!(resp.status(), StatusCode::OK);
        Ok(())
    }
}
