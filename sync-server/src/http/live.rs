//! `GET /v1/live`: a WebSocket that tells a device when its buurt's log moved.
//!
//! The server sends a text frame `{"head": N}` on connect and whenever the buurt's head moves;
//! the device then syncs. Client messages are read only to notice the peer is alive, never
//! interpreted. Limits, all set here explicitly:
//!
//! | limit | value |
//! |---|---|
//! | largest client message / frame | [`MAX_CLIENT_MESSAGE`] (4 KiB; bigger closes the socket) |
//! | read buffer | 4 KiB (tungstenite's default is 128 KiB per socket) |
//! | write buffer | written eagerly; at most [`MAX_WRITE_BUFFER`] buffered, then the socket fails |
//! | a send that does not complete | [`SEND_TIMEOUT`], then the socket is dropped |
//! | ping | every `live_ping_secs` (30 s) |
//! | idle | closed after `live_idle_secs` (90 s) with nothing received (pongs count) |
//! | per device | `live_per_device` (4): a further connection **closes the oldest** |
//! | per buurt | `live_per_buurt` (4 000): a further one is refused, `503 live_full` |
//! | in all | `live_max` (16 000): a further one is refused, `503 live_full` |
//!
//! Closing the oldest rather than refusing the newest suits phones: a phone that changed
//! networks leaves half-open sockets behind that the relay would otherwise count for up to the
//! idle timeout, and refusing would lock the device out for that long. A device that keeps
//! opening sockets only ever holds four. The buurt and relay caps are checked before the
//! upgrade (`503 live_full` with `Retry-After: 60`, an answer every client already treats as
//! a network failure and retries later); a device at its own limit is never refused by them,
//! as its new connection replaces one of its own. Every live socket is also a connection in
//! `transport`'s counts.
//!
//! On every ping the device's token is checked again, so a revoked device is disconnected
//! within one ping interval. Heads and the connection registry are `crate::live`.

use axum::extract::State;
use axum::extract::ws::{
    CloseFrame, Message, WebSocket, WebSocketUpgrade, rejection::WebSocketUpgradeRejection,
};
use axum::response::{IntoResponse, Response};
use tokio::sync::watch;
use tokio::time::{Instant, MissedTickBehavior};

use super::error::ApiError;
use super::extract::Authed;
use crate::live::{Full, MAX_CLIENT_MESSAGE, MAX_WRITE_BUFFER, SEND_TIMEOUT, Slot};
use crate::relay::Relay;

/// Close code sent to a connection replaced by a newer one of the same device.
const CLOSE_REPLACED: u16 = 4000;
/// Close code sent when the device's token stopped working.
const CLOSE_REVOKED: u16 = 4001;

/// `GET /v1/live`.
pub(crate) async fn live(
    State(relay): State<Relay>,
    authed: Authed,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let ws = ws.map_err(|e| ApiError::BadRequest(format!("not a WebSocket upgrade: {e}")))?;
    let slot = relay
        .inner
        .live
        .admit(&authed.device.device, &authed.device.buurt)
        .map_err(|full| {
            let scope = match full {
                Full::Buurt => "buurt",
                Full::All => "all",
            };
            metrics::counter!(crate::metrics::LIVE_REFUSED, "scope" => scope).increment(1);
            tracing::debug!(scope, "live connection refused: full");
            ApiError::LiveFull
        })?;
    let mut heads = relay.inner.heads.subscribe(&authed.device.buurt);
    let buurt = authed.device.buurt.clone();
    let head = relay
        .blocking(move |r| Ok(r.inner.storage.head(&buurt)?))
        .await?;
    relay.inner.heads.publish(&authed.device.buurt, head);
    heads.mark_changed();
    let response = ws
        .read_buffer_size(MAX_CLIENT_MESSAGE)
        .write_buffer_size(0)
        .max_write_buffer_size(MAX_WRITE_BUFFER)
        .max_message_size(MAX_CLIENT_MESSAGE)
        .max_frame_size(MAX_CLIENT_MESSAGE)
        .on_upgrade(move |socket| run(socket, relay, authed, heads, slot));
    Ok(response.into_response())
}

enum End {
    Gone,
    Close(u16, &'static str),
}

/// Completes when the relay starts shutting down.
async fn stopping(shutdown: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns is not `Send`: drop it here.
    let _ = shutdown.wait_for(|s| *s).await.map(|_| ());
}

async fn send(socket: &mut WebSocket, msg: Message) -> bool {
    matches!(
        tokio::time::timeout(SEND_TIMEOUT, socket.send(msg)).await,
        Ok(Ok(()))
    )
}

async fn run(
    mut socket: WebSocket,
    relay: Relay,
    authed: Authed,
    mut heads: watch::Receiver<u64>,
    mut slot: Slot,
) {
    let device = authed.device.device.clone();
    let mut shutdown = relay.inner.shutdown.subscribe();
    metrics::gauge!(crate::metrics::LIVE).increment(1.0);
    tracing::debug!(device = %device, "live connection opened");

    let ping_every = relay.inner.config.ping_interval();
    let idle = relay.inner.config.idle_timeout();
    let mut ticker = tokio::time::interval_at(Instant::now() + ping_every, ping_every);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut last_heard = Instant::now();

    let end = loop {
        tokio::select! {
            changed = heads.changed() => {
                if changed.is_err() {
                    break End::Close(1011, "relay restarting");
                }
                let head = *heads.borrow_and_update();
                let text = format!("{{\"head\":{head}}}");
                if !send(&mut socket, Message::Text(text.into())).await {
                    break End::Gone;
                }
            }
            msg = socket.recv() => match msg {
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break End::Gone,
                Some(Ok(_)) => last_heard = Instant::now(),
            },
            _ = ticker.tick() => {
                if last_heard.elapsed() >= idle {
                    break End::Close(1001, "idle");
                }
                let hash = authed.token_hash;
                let still = relay
                    .blocking(move |r| Ok(r.inner.storage.device_by_token(&hash)?))
                    .await;
                if !matches!(still, Ok(Some(ref d)) if !d.revoked) {
                    break End::Close(CLOSE_REVOKED, "token no longer valid");
                }
                if !send(&mut socket, Message::Ping(Default::default())).await {
                    break End::Gone;
                }
            }
            _ = &mut slot.kicked => break End::Close(CLOSE_REPLACED, "replaced by a newer connection"),
            () = stopping(&mut shutdown) => break End::Close(1001, "relay shutting down"),
        }
    };
    if let End::Close(code, reason) = end {
        let frame = CloseFrame {
            code,
            reason: reason.into(),
        };
        let _ = send(&mut socket, Message::Close(Some(frame))).await;
    }
    drop(slot);
    metrics::gauge!(crate::metrics::LIVE).decrement(1.0);
    tracing::debug!(device = %device, "live connection closed");
}
