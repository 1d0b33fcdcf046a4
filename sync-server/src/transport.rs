//! The relay's own accept loop: every connection is counted, bounded and timed before a byte
//! of it is parsed. `axum::serve` has none of this; without it 200 slow connections held the
//! relay for minutes, a few hundred idle sockets used up its file descriptors, and each parked
//! request head could grow a ~400 KB buffer.
//!
//! | limit | default (config key) | over it |
//! |---|---|---|
//! | connections in all (WebSockets included) | 20 000 (`max_connections`), lowered to fit the open-file limit | closed at once, nothing read |
//! | connections from one address (IPv6: one /64) | 256 (`max_connections_per_address`) | closed at once, nothing read |
//! | request head complete (HTTP/1.1), counted from accept or from the previous answer | 10 s (`http_header_timeout_secs`) | connection closed |
//! | no request in progress (HTTP/1.1 and HTTP/2) | 60 s (`http_idle_timeout_secs`) | connection closed |
//! | request body complete, counted from its head | 60 s (`http_body_timeout_secs`) | `408 request_timeout`, connection closed |
//! | request head size (HTTP/1.1 read buffer, HTTP/2 header list) | 16 KiB (`http_max_header_bytes`) | connection closed (HTTP/2: `431`) |
//! | headers per request (HTTP/1.1) | [`MAX_HEADERS`] | connection closed |
//! | concurrent HTTP/2 streams per connection | [`H2_MAX_STREAMS`] | stream refused |
//!
//! A connection keeps its place in both counts for its whole life: the place travels with the
//! socket (`Counted`) into a WebSocket upgrade, so live connections count too. The address
//! count is per socket peer: behind a reverse proxy every client shares the proxy's address,
//! so connections from a `trusted_proxies` address count only in all (the proxy limits its
//! clients; `X-Forwarded-For` is only a claim and cannot decide what a socket costs).
//!
//! The cap in all is kept below the process's open-file limit ([`connection_cap`]): every
//! connection is one descriptor; photo files are bounded apart (at most
//! [`crate::blob::MAX_OPEN_PHOTO_FILES`] transfers at once, each up to two descriptors), and
//! the database, its journal and the listeners need [`FD_RESERVE`] besides.
//! `main` raises the soft open-file limit to the hard one first ([`raise_fd_limit`]).

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::ConnectInfo;
use axum::http::Request;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::{Instant, Sleep};
use tower::ServiceExt;

use crate::config::Config;

/// The smallest `http_max_header_bytes` (hyper's smallest HTTP/1.1 read buffer).
pub(crate) const MIN_HEADER_BYTES: usize = 8 * 1024;
/// Most headers in one HTTP/1.1 request.
pub const MAX_HEADERS: usize = 64;
/// Most concurrent HTTP/2 streams on one connection.
pub const H2_MAX_STREAMS: u32 = 32;
/// Open files kept free beside the connections: the database and its journal (SQLite) or
/// its pool's sockets (PostgreSQL), the listeners, logs, photo uploads being written.
pub const FD_RESERVE: u64 = 256;
/// An HTTP/2 connection is pinged this often, and closed when a ping goes unanswered for
/// as long.
const H2_PING: Duration = Duration::from_secs(30);

/// What one listener's connections may do (see the module docs).
#[derive(Debug, Clone)]
pub(crate) struct Http {
    pub(crate) header_timeout: Duration,
    pub(crate) idle_timeout: Duration,
    pub(crate) body_timeout: Duration,
    pub(crate) max_header_bytes: usize,
}

impl Http {
    pub(crate) fn from_config(config: &Config) -> Self {
        Http {
            header_timeout: config.header_timeout(),
            idle_timeout: config.http_idle_timeout(),
            body_timeout: config.body_timeout(),
            max_header_bytes: config.http_max_header_bytes.max(MIN_HEADER_BYTES),
        }
    }

    fn builder(&self) -> Builder<TokioExecutor> {
        let mut builder = Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(self.header_timeout)
            .max_buf_size(self.max_header_bytes)
            .max_headers(MAX_HEADERS);
        let header_list = u32::try_from(self.max_header_bytes).unwrap_or(u32::MAX);
        builder
            .http2()
            .timer(TokioTimer::new())
            // WebSockets over HTTP/2 (RFC 8441), as `axum::serve` offers them.
            .enable_connect_protocol()
            .max_header_list_size(header_list)
            .max_concurrent_streams(H2_MAX_STREAMS)
            .keep_alive_interval(H2_PING)
            .keep_alive_timeout(H2_PING);
        builder
    }
}

/// The open-file limit now (soft, hard); `None` where the platform has no such limit.
pub fn fd_limit() -> Option<(u64, Option<u64>)> {
    #[cfg(unix)]
    {
        let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile);
        Some((limit.current.unwrap_or(u64::MAX), limit.maximum))
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// Raises the soft open-file limit (`RLIMIT_NOFILE`) to the hard one; returns the limit in
/// force afterwards (unchanged when raising it is refused, as macOS does above `OPEN_MAX`).
pub fn raise_fd_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
        let before = getrlimit(Resource::Nofile);
        if let Some(hard) = before.maximum
            && before.current.is_some_and(|soft| soft < hard)
        {
            let raised = Rlimit {
                current: Some(hard),
                maximum: Some(hard),
            };
            if let Err(e) = setrlimit(Resource::Nofile, raised) {
                tracing::warn!(error = %e, hard, "cannot raise the open-file limit");
            }
        }
        fd_limit().map(|(soft, _)| soft)
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// The connection cap in force: `configured`, or less where the open-file limit `fds` leaves
/// no room for it — one descriptor per connection, once [`FD_RESERVE`] and the `files` the
/// photo store may hold open at once ([`crate::blob::BlobStore::open_files`]) are kept free.
/// At least 1.
pub fn connection_cap(configured: usize, fds: Option<u64>, files: u64) -> usize {
    let Some(fds) = fds else {
        return configured;
    };
    let room = fds.saturating_sub(FD_RESERVE).saturating_sub(files);
    configured
        .min(usize::try_from(room).unwrap_or(usize::MAX))
        .max(1)
}

/// The connections open on a listener, in all and per address.
#[derive(Debug)]
pub(crate) struct Limits {
    max: usize,
    per_address: usize,
    /// Addresses counted only in all (trusted reverse proxies).
    shared: Vec<IpAddr>,
    open: Mutex<Open>,
}

#[derive(Debug, Default)]
struct Open {
    total: usize,
    by_address: HashMap<IpAddr, usize>,
}

/// Why a connection was closed unread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refused {
    Full,
    Address,
}

impl Limits {
    pub(crate) fn new(max: usize, per_address: usize, shared: &[IpAddr]) -> Arc<Self> {
        Arc::new(Limits {
            max: max.max(1),
            per_address: per_address.max(1),
            shared: shared.iter().map(|ip| ip.to_canonical()).collect(),
            open: Mutex::new(Open::default()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Open> {
        self.open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Takes a place for a connection from `peer`, or says why there is none.
    fn admit(self: &Arc<Self>, peer: IpAddr) -> Result<Place, Refused> {
        let peer = peer.to_canonical();
        let key = (!self.shared.contains(&peer)).then(|| address_key(peer));
        let mut open = self.lock();
        if open.total >= self.max {
            return Err(Refused::Full);
        }
        if let Some(key) = key {
            let n = open.by_address.entry(key).or_insert(0);
            if *n >= self.per_address {
                return Err(Refused::Address);
            }
            *n += 1;
        }
        open.total += 1;
        metrics::gauge!(crate::metrics::CONNECTIONS).increment(1.0);
        Ok(Place {
            limits: Arc::clone(self),
            key,
        })
    }

    /// Connections open now.
    #[cfg(test)]
    pub(crate) fn open(&self) -> usize {
        self.lock().total
    }
}

/// The address a connection counts against: an IPv4 address, or an IPv6 address's /64 (one
/// subscriber's network; a host picks addresses in it at will).
fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(Ipv6Addr::from(prefix))
        }
    }
}

/// One connection's place in [`Limits`], given back when the socket closes.
#[derive(Debug)]
struct Place {
    limits: Arc<Limits>,
    key: Option<IpAddr>,
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut open = self.limits.lock();
        open.total = open.total.saturating_sub(1);
        if let Some(key) = self.key
            && let Some(n) = open.by_address.get_mut(&key)
        {
            *n -= 1;
            if *n == 0 {
                open.by_address.remove(&key);
            }
        }
        metrics::gauge!(crate::metrics::CONNECTIONS).decrement(1.0);
    }
}

/// A socket with its place: the place lasts as long as the socket, through an upgrade too.
#[derive(Debug)]
struct Counted {
    io: TcpStream,
    _place: Place,
}

impl AsyncRead for Counted {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

/// The error a request body yields when it did not arrive within `http_body_timeout_secs`.
#[derive(Debug)]
pub(crate) struct BodyTimeout(pub(crate) u64);

impl std::fmt::Display for BodyTimeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the body did not arrive within {} s", self.0)
    }
}

impl std::error::Error for BodyTimeout {}

/// The seconds of a [`BodyTimeout`] somewhere in `error`'s chain of sources.
pub(crate) fn body_timeout(error: &(dyn std::error::Error + 'static)) -> Option<u64> {
    let mut next = Some(error);
    while let Some(e) = next {
        if let Some(t) = e.downcast_ref::<BodyTimeout>() {
            return Some(t.0);
        }
        next = e.source();
    }
    None
}

/// A request body that must be complete by a deadline.
struct Deadline {
    inner: Incoming,
    at: Instant,
    secs: u64,
    /// Started the first time the body is waited for (most requests never wait).
    timer: Option<Pin<Box<Sleep>>>,
}

impl HttpBody for Deadline {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        let at = this.at;
        let timer = this
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(at)));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(BodyTimeout(this.secs))))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Requests of one connection in progress, their answers' bodies included.
type Busy = Arc<watch::Sender<usize>>;

/// Counts one request in progress until dropped.
struct Working(Busy);

impl Working {
    fn start(busy: &Busy) -> Self {
        busy.send_modify(|n| *n += 1);
        Working(Arc::clone(busy))
    }
}

impl Drop for Working {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// An answer's body, counting its request as in progress until it is sent (or dropped).
struct Answer {
    inner: Body,
    _working: Working,
}

impl HttpBody for Answer {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Completes once `busy` has been 0 for `idle` without a break.
async fn idle_for(mut busy: watch::Receiver<usize>, idle: Duration) {
    loop {
        // The guards `wait_for` returns are not `Send`: drop them at once.
        if busy.wait_for(|n| *n == 0).await.map(|_| ()).is_err() {
            return std::future::pending().await;
        }
        let woke =
            tokio::time::timeout(idle, async { busy.wait_for(|n| *n > 0).await.map(|_| ()) }).await;
        if woke.is_err() {
            return;
        }
    }
}

/// Completes when `stop` turns true (or its sender is gone).
async fn stopping(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await.map(|_| ());
}

/// Serves `app` on `listener` within `limits` until `stop` turns true; then takes no more
/// connections, lets each finish its requests in progress (HTTP/1.1 answers them and closes,
/// HTTP/2 sends `GOAWAY`) and returns when every one is closed. Upgraded connections
/// (WebSockets) are their handlers' to close; they keep their place until they do.
pub(crate) async fn run(
    listener: TcpListener,
    app: Router,
    limits: Arc<Limits>,
    http: Http,
    mut stop: watch::Receiver<bool>,
) {
    let builder = Arc::new(http.builder());
    // Each connection task holds a receiver; `closed()` completes when the last one is gone.
    let (all_closed, alive) = watch::channel(());
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    accept_failed(&e).await;
                    continue;
                }
            },
            () = stopping(&mut stop) => break,
        };
        let place = match limits.admit(peer.ip()) {
            Ok(place) => place,
            Err(why) => {
                // Closed unread: costs an accept and a close, nothing more.
                let reason = match why {
                    Refused::Full => "full",
                    Refused::Address => "address",
                };
                metrics::counter!(crate::metrics::CONNECTIONS_REFUSED, "reason" => reason)
                    .increment(1);
                tracing::debug!(reason, "connection refused");
                drop(stream);
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let io = Counted {
            io: stream,
            _place: place,
        };
        tokio::spawn(connection(
            Arc::clone(&builder),
            io,
            peer,
            app.clone(),
            http.clone(),
            stop.clone(),
            alive.clone(),
        ));
    }
    drop(alive);
    drop(listener);
    all_closed.closed().await;
}

/// An accept error: a connection that failed before it was accepted is the peer's problem;
/// anything else (out of file descriptors) is waited out briefly rather than spun on.
async fn accept_failed(e: &std::io::Error) {
    use std::io::ErrorKind::*;
    if matches!(
        e.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    ) {
        return;
    }
    metrics::counter!(crate::metrics::CONNECTIONS_REFUSED, "reason" => "accept").increment(1);
    tracing::warn!(error = %e, "accepting a connection failed");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// One connection: served until it closes, is idle too long, or the relay stops.
async fn connection(
    builder: Arc<Builder<TokioExecutor>>,
    io: Counted,
    peer: SocketAddr,
    app: Router,
    http: Http,
    mut stop: watch::Receiver<bool>,
    _alive: watch::Receiver<()>,
) {
    let busy: Busy = Arc::new(watch::channel(0).0);
    let idle = busy.subscribe();
    let (body_timeout, secs) = (http.body_timeout, http.body_timeout.as_secs());
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let working = Working::start(&busy);
        let mut req = req.map(|inner| {
            Body::new(Deadline {
                inner,
                at: Instant::now() + body_timeout,
                secs,
                timer: None,
            })
        });
        req.extensions_mut().insert(ConnectInfo(peer));
        let call = app.clone().oneshot(req);
        async move {
            let response = match call.await {
                Ok(response) => response,
                Err(never) => match never {},
            };
            Ok::<_, Infallible>(response.map(|inner| Answer {
                inner,
                _working: working,
            }))
        }
    });
    let conn = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
    tokio::pin!(conn);
    let mut draining = false;
    loop {
        tokio::select! {
            done = conn.as_mut() => {
                if let Err(e) = done {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                break;
            }
            () = stopping(&mut stop), if !draining => {
                draining = true;
                conn.as_mut().graceful_shutdown();
            }
            () = idle_for(idle.clone(), http.idle_timeout) => {
                // Nothing in progress: dropping the connection loses nothing.
                tracing::debug!("closing an idle connection");
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_count_per_ipv4_address_and_ipv6_slash_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1"
            .parse()
            .unwrap_or(IpAddr::from([0; 4]));
        let b: IpAddr = "2001:db8:1:2:bbbb::9"
            .parse()
            .unwrap_or(IpAddr::from([0; 4]));
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap_or(IpAddr::from([0; 4]));
        assert_eq!(address_key(a), address_key(b));
        assert_ne!(address_key(a), address_key(c));
        let v4 = IpAddr::from([192, 0, 2, 1]);
        assert_eq!(address_key(v4), v4);
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap_or(v4);
        assert_eq!(address_key(mapped.to_canonical()), v4);
    }

    #[test]
    fn limits_count_in_all_and_per_address_and_give_places_back() {
        let proxy = IpAddr::from([10, 0, 0, 1]);
        let limits = Limits::new(3, 1, &[proxy]);
        let one = IpAddr::from([192, 0, 2, 1]);
        let first = limits.admit(one);
        assert!(first.is_ok());
        assert_eq!(limits.admit(one).err(), Some(Refused::Address));
        // A trusted proxy counts only in all.
        let p1 = limits.admit(proxy);
        let p2 = limits.admit(proxy);
        assert!(p1.is_ok() && p2.is_ok());
        assert_eq!(limits.open(), 3);
        assert_eq!(
            limits.admit(IpAddr::from([192, 0, 2, 2])).err(),
            Some(Refused::Full)
        );
        drop(first);
        assert_eq!(limits.open(), 2);
        assert!(limits.admit(one).is_ok());
    }

    #[test]
    fn the_cap_leaves_room_below_the_open_file_limit() {
        assert_eq!(connection_cap(20_000, None, 1_024), 20_000);
        assert_eq!(connection_cap(20_000, Some(1_048_576), 1_024), 20_000);
        // A sandbox's hard limit of 20 000: 10 000 live phones and more still fit.
        assert_eq!(connection_cap(20_000, Some(20_000), 1_024), 18_720);
        assert_eq!(connection_cap(20_000, Some(20_000), 0), 19_744);
        // A limit of 1 024: the file store takes an eighth (64 transfers, 128 files).
        assert_eq!(connection_cap(20_000, Some(1_024), 128), 640);
        assert_eq!(connection_cap(20_000, Some(100), 0), 1);
    }
}
