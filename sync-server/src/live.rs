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
//!
//! Closing the oldest rather than refusing the newest suits phones: a phone that changed
//! networks leaves half-open sockets behind that the relay would otherwise count for up to the
//! idle timeout, and refusing would lock the device out for that long. A device that keeps
//! opening sockets only ever holds four.
//!
//! On every ping the device's token is checked again, so a revoked device is disconnected
//! within one ping interval. Heads travel through a `tokio::sync::watch` per buurt rather than
//! a broadcast channel: only the latest head matters, a slow socket skips intermediate values
//! instead of lagging, and memory per buurt is constant.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::{
    CloseFrame, Message, WebSocket, WebSocketUpgrade, rejection::WebSocketUpgradeRejection,
};
use axum::response::{IntoResponse, Response};
use tokio::sync::{oneshot, watch};
use tokio::time::{Instant, MissedTickBehavior};

use crate::http::error::ApiError;
use crate::http::extract::Authed;
use crate::ids::{BuurtId, DeviceId};
use crate::relay::Relay;

/// Largest message or frame a client may send.
pub const MAX_CLIENT_MESSAGE: usize = 4 * 1024;
/// Most bytes buffered for a socket that does not read.
pub const MAX_WRITE_BUFFER: usize = 16 * 1024;
/// A send that takes longer drops the connection.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// Close code sent to a connection replaced by a newer one of the same device.
const CLOSE_REPLACED: u16 = 4000;
/// Close code sent when the device's token stopped working.
const CLOSE_REVOKED: u16 = 4001;

/// The latest head of each buurt with live listeners.
#[derive(Debug, Default)]
pub(crate) struct Heads {
    buurten: Mutex<HashMap<BuurtId, watch::Sender<u64>>>,
}

impl Heads {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<BuurtId, watch::Sender<u64>>> {
        self.buurten
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Listens to a buurt's head. Call before reading the head from storage, then
    /// [`Heads::publish`] what was read: no commit in between is missed.
    pub(crate) fn subscribe(&self, buurt: &BuurtId) -> watch::Receiver<u64> {
        self.lock()
            .entry(buurt.clone())
            .or_insert_with(|| watch::channel(0).0)
            .subscribe()
    }

    /// Moves a buurt's head forward (never back) and wakes its listeners.
    pub(crate) fn publish(&self, buurt: &BuurtId, head: u64) {
        let mut map = self.lock();
        if let Some(tx) = map.get(buurt) {
            if tx.receiver_count() == 0 {
                map.remove(buurt);
            } else {
                tx.send_if_modified(|h| {
                    let moved = head > *h;
                    if moved {
                        *h = head;
                    }
                    moved
                });
            }
        }
    }
}

/// A device's open connections, oldest first: their ids and how to close them.
type Connections = VecDeque<(u64, oneshot::Sender<()>)>;

/// The open live connections of each device.
#[derive(Debug)]
pub(crate) struct LiveRegistry {
    per_device: usize,
    next: AtomicU64,
    devices: Mutex<HashMap<DeviceId, Connections>>,
}

impl LiveRegistry {
    pub(crate) fn new(per_device: usize) -> Self {
        LiveRegistry {
            per_device: per_device.max(1),
            next: AtomicU64::new(0),
            devices: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<DeviceId, Connections>> {
        self.devices
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Registers a connection; closes the device's oldest ones beyond the limit. The receiver
    /// fires when this connection is to close.
    fn register(&self, device: &DeviceId) -> (u64, oneshot::Receiver<()>) {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        let mut map = self.lock();
        let conns = map.entry(device.clone()).or_default();
        while conns.len() >= self.per_device {
            if let Some((_, kick)) = conns.pop_front() {
                let _ = kick.send(());
            }
        }
        conns.push_back((id, tx));
        (id, rx)
    }

    fn unregister(&self, device: &DeviceId, id: u64) {
        let mut map = self.lock();
        if let Some(conns) = map.get_mut(device) {
            conns.retain(|(c, _)| *c != id);
            if conns.is_empty() {
                map.remove(device);
            }
        }
    }

    /// How many live connections a device holds.
    #[cfg(test)]
    pub(crate) fn count(&self, device: &DeviceId) -> usize {
        self.lock().get(device).map_or(0, VecDeque::len)
    }
}

/// `GET /v1/live`.
pub(crate) async fn live(
    State(relay): State<Relay>,
    authed: Authed,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let ws = ws.map_err(|e| ApiError::BadRequest(format!("not a WebSocket upgrade: {e}")))?;
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
        .on_upgrade(move |socket| run(socket, relay, authed, heads));
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

async fn run(mut socket: WebSocket, relay: Relay, authed: Authed, mut heads: watch::Receiver<u64>) {
    let device = authed.device.device.clone();
    let (id, mut kicked) = relay.inner.live.register(&device);
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
            _ = &mut kicked => break End::Close(CLOSE_REPLACED, "replaced by a newer connection"),
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
    relay.inner.live.unregister(&device, id);
    metrics::gauge!(crate::metrics::LIVE).decrement(1.0);
    tracing::debug!(device = %device, "live connection closed");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_only_move_forward_and_reach_subscribers() -> crate::Result<()> {
        let heads = Heads::default();
        let b = BuurtId::new()?;
        heads.publish(&b, 5); // nobody listens: nothing kept
        assert!(heads.lock().is_empty());
        let mut rx = heads.subscribe(&b);
        heads.publish(&b, 3);
        assert!(rx.has_changed().unwrap_or(false));
        assert_eq!(*rx.borrow_and_update(), 3);
        heads.publish(&b, 2);
        assert!(!rx.has_changed().unwrap_or(true));
        drop(rx);
        heads.publish(&b, 9);
        assert!(heads.lock().is_empty());
        Ok(())
    }

    #[test]
    fn a_device_keeps_at_most_its_limit_closing_the_oldest() -> crate::Result<()> {
        let reg = LiveRegistry::new(2);
        let d = DeviceId::new()?;
        let (a, mut ka) = reg.register(&d);
        let (_b, mut kb) = reg.register(&d);
        let (_c, mut kc) = reg.register(&d);
        assert_eq!(reg.count(&d), 2);
        assert!(ka.try_recv().is_ok());
        assert!(kb.try_recv().is_err());
        assert!(kc.try_recv().is_err());
        reg.unregister(&d, a); // already gone: harmless
        assert_eq!(reg.count(&d), 2);
        Ok(())
    }
}
