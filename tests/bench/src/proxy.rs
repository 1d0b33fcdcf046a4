//! A TCP proxy that counts the bytes crossing it: what a benchmark reports as "bytes on the
//! wire" is measured here, on the socket, not inside either application.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Bytes that crossed the proxy so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Bytes {
    /// From the client to the server.
    pub up: u64,
    /// From the server to the client.
    pub down: u64,
    /// TCP connections accepted.
    pub connections: u64,
}

impl Bytes {
    /// What crossed between `earlier` and `self`.
    pub fn since(&self, earlier: Bytes) -> Bytes {
        Bytes {
            up: self.up.saturating_sub(earlier.up),
            down: self.down.saturating_sub(earlier.down),
            connections: self.connections.saturating_sub(earlier.connections),
        }
    }
}

#[derive(Debug, Default)]
struct Counters {
    up: AtomicU64,
    down: AtomicU64,
    connections: AtomicU64,
}

/// A counting proxy on loopback in front of `target`; runs until the runtime stops.
#[derive(Debug, Clone)]
pub struct CountingProxy {
    /// Where clients connect.
    pub addr: SocketAddr,
    counters: Arc<Counters>,
}

impl CountingProxy {
    /// Starts a proxy on an ephemeral loopback port.
    ///
    /// # Errors
    ///
    /// When no port can be bound.
    pub async fn start(target: SocketAddr) -> std::io::Result<CountingProxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let proxy = CountingProxy {
            addr: listener.local_addr()?,
            counters: Arc::new(Counters::default()),
        };
        let counters = Arc::clone(&proxy.counters);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                counters.connections.fetch_add(1, Ordering::Relaxed);
                tokio::spawn(pipe(client, target, Arc::clone(&counters)));
            }
        });
        Ok(proxy)
    }

    /// `http://ADDR`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The counts so far (take one before and one after a workload; see [`Bytes::since`]).
    pub fn bytes(&self) -> Bytes {
        Bytes {
            up: self.counters.up.load(Ordering::Relaxed),
            down: self.counters.down.load(Ordering::Relaxed),
            connections: self.counters.connections.load(Ordering::Relaxed),
        }
    }
}

async fn pipe(client: TcpStream, target: SocketAddr, counters: Arc<Counters>) {
    let Ok(server) = TcpStream::connect(target).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (cr, cw) = client.into_split();
    let (sr, sw) = server.into_split();
    let up = copy(cr, sw, Arc::clone(&counters), true);
    let down = copy(sr, cw, counters, false);
    let _ = tokio::join!(up, down);
}

async fn copy(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    counters: Arc<Counters>,
    up: bool,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let Some(chunk) = buf.get(..n) else { break };
        if to.write_all(chunk).await.is_err() {
            break;
        }
        let counter = if up { &counters.up } else { &counters.down };
        counter.fetch_add(n as u64, Ordering::Relaxed);
    }
    let _ = to.shutdown().await;
}
