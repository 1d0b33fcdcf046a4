//! [`serve`]: the relay's HTTP API and metrics on their listeners, connection limits,
//! graceful shutdown, and the hourly clean-up of stale partial uploads.

use std::future::Future;

use tokio::net::TcpListener;

use crate::error::{Error, Result};
use crate::relay::Relay;

/// Serves the relay's HTTP API on `listener`, and `GET /metrics` on `metrics` when given,
/// until `shutdown` completes; then stops taking connections, lets in-flight requests finish
/// (their commits included), closes live connections and waits for the commit thread to
/// drain.
///
/// Every connection is bounded as `transport` describes: at most `max_connections` in all
/// (fewer if the open-file limit says so; both are logged), `max_connections_per_address`
/// from one address, header, idle and body timeouts. `main` binds the listeners and passes a
/// signal future; tests bind `127.0.0.1:0`.
///
/// # Errors
///
/// [`Error::Io`] when a listener's address cannot be read; [`Error::Other`] when the commit
/// thread cannot be closed.
pub async fn serve<F>(
    listener: TcpListener,
    metrics: Option<TcpListener>,
    relay: Relay,
    shutdown: F,
) -> Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    let config = relay.inner.config.clone();
    let fds = crate::transport::fd_limit();
    let cap = crate::transport::connection_cap(
        config.max_connections,
        fds.map(|(soft, _)| soft),
        relay.inner.blobs.open_files(),
    );
    let addr = listener.local_addr()?;
    tracing::info!(
        %addr,
        max_connections = cap,
        configured = config.max_connections,
        per_address = config.max_connections_per_address,
        open_files = fds.map(|(soft, _)| soft),
        "connection limits"
    );
    if cap < config.max_connections {
        tracing::warn!(
            max_connections = cap,
            configured = config.max_connections,
            "the open-file limit lowers the connection cap; raise `ulimit -n` (the hard limit)"
        );
    }
    if config.live_max >= cap {
        tracing::warn!(
            live_max = config.live_max,
            max_connections = cap,
            "live connections can fill every connection"
        );
    }
    let http = crate::transport::Http::from_config(&config);
    let cleaner = tokio::spawn(discard_stale_uploads(relay.clone()));
    let stop = relay.inner.shutdown.subscribe();
    let signal = {
        let relay = relay.clone();
        tokio::spawn(async move {
            shutdown.await;
            tracing::info!("shutting down: finishing in-flight requests");
            relay.inner.shutdown.send_replace(true);
        })
    };
    let public = crate::transport::run(
        listener,
        crate::http::router(relay.clone()),
        crate::transport::Limits::new(
            cap,
            config.max_connections_per_address,
            &config.trusted_proxies,
        ),
        http.clone(),
        stop.clone(),
    );
    let private = async {
        if let Some(listener) = metrics {
            if let Ok(addr) = listener.local_addr() {
                tracing::info!(metrics_addr = %addr, "metrics listening");
            }
            // Only the operator's scraper connects here; a small cap keeps it from costing.
            let limits =
                crate::transport::Limits::new(METRICS_CONNECTIONS, METRICS_CONNECTIONS, &[]);
            crate::transport::run(listener, crate::http::metrics_router(), limits, http, stop)
                .await;
        }
    };
    tokio::join!(public, private);
    signal.abort();
    cleaner.abort();
    relay.inner.shutdown.send_replace(true);
    let r = relay.clone();
    tokio::task::spawn_blocking(move || r.inner.committer.close())
        .await
        .map_err(|e| Error::Other(format!("closing the commit thread failed: {e}")))?;
    tracing::info!("relay stopped");
    Ok(())
}

/// Connections the metrics listener serves at once.
const METRICS_CONNECTIONS: usize = 16;

/// How often `serve` discards stale partial uploads.
const CLEAN_EVERY: std::time::Duration = std::time::Duration::from_secs(60 * 60);

/// `serve`'s background task: [`Relay::discard_stale_uploads`] at start, then every hour.
async fn discard_stale_uploads(relay: Relay) {
    let mut every = tokio::time::interval(CLEAN_EVERY);
    loop {
        every.tick().await;
        match relay.blocking(|r| r.discard_stale_uploads()).await {
            Ok(0) => {}
            Ok(removed) => tracing::info!(removed, "discarded stale partial photo uploads"),
            Err(e) => tracing::warn!(error = %e, "discarding stale partial photo uploads failed"),
        }
    }
}
