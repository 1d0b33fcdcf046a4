//! Attacks on the relay's sockets: slow or idle connections, huge declared bodies, too many
//! connections from one address or in all, too many live sockets (issue 11, finding 4), and
//! `/metrics` on the public listener (finding 9).
//!
//! Raw sockets speak HTTP/1.1 by hand so that nothing hides what the relay does; clients bind
//! `127.0.0.2`, `127.0.0.3`, … to be other addresses. Every wait is for an event (an answer,
//! a close) and bounded by [`PATIENCE`], never a sleep.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use noaber_core::Role;
use noaber_core::sync::wire::SyncRequest;
use noaber_relay::{Config, Relay};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::{self, client::IntoClientRequest};

use crate::support::{Device, TestRelay, TestResult};

/// A safety net against hangs, never a synchronisation.
const PATIENCE: Duration = Duration::from_secs(20);

fn addr(relay: &TestRelay) -> TestResult<SocketAddr> {
    Ok(relay.url.trim_start_matches("http://").parse()?)
}

/// A connection to `to` from `127.0.0.<last>`.
async fn connect_from(to: SocketAddr, last: u8) -> TestResult<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::from((Ipv4Addr::new(127, 0, 0, last), 0)))?;
    Ok(socket.connect(to).await?)
}

/// One HTTP/1.1 answer: its status and body (`Content-Length` bodies only).
async fn read_answer(stream: &mut TcpStream) -> TestResult<(u16, String)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let read = async {
        loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                let len = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .map_or(Ok(0), |v| v.trim().parse::<usize>())?;
                if buf.len() >= end + 4 + len {
                    let status = head
                        .split_whitespace()
                        .nth(1)
                        .ok_or("no status")?
                        .parse::<u16>()?;
                    let body = String::from_utf8_lossy(&buf[end + 4..end + 4 + len]).into_owned();
                    return Ok::<_, Box<dyn std::error::Error + Send + Sync>>((status, body));
                }
            }
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Err("closed before a whole answer".into());
            }
            buf.extend_from_slice(&chunk[..n]);
        }
    };
    tokio::time::timeout(PATIENCE, read).await?
}

/// `GET /healthz` on a kept-alive connection.
async fn healthz(stream: &mut TcpStream) -> TestResult<u16> {
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: relay\r\n\r\n")
        .await?;
    Ok(read_answer(stream).await?.0)
}

/// Waits for the relay to close `stream` (EOF or reset); returns what it sent before.
async fn closed(stream: &mut TcpStream) -> TestResult<Vec<u8>> {
    let mut got = Vec::new();
    let mut chunk = [0u8; 4096];
    let wait = async {
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return got,
                Ok(n) => got.extend_from_slice(&chunk[..n]),
            }
        }
    };
    Ok(tokio::time::timeout(PATIENCE, wait).await?)
}

/// Until a fresh connection from `127.0.0.<last>` is served (a closed connection's place is
/// given back when the relay has seen it close).
async fn served_again(to: SocketAddr, last: u8) -> TestResult {
    tokio::time::timeout(PATIENCE, async {
        loop {
            if let Ok(mut s) = connect_from(to, last).await
                && matches!(healthz(&mut s).await, Ok(200))
            {
                return;
            }
            tokio::task::yield_now().await;
        }
    })
    .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_header_is_closed_after_the_header_timeout() -> TestResult {
    let relay = TestRelay::start_with(|c| c.http_header_timeout_secs = 1).await?;
    let to = addr(&relay)?;
    let mut slow = connect_from(to, 1).await?;
    // Slowloris: a head that never ends.
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: relay\r\nX-A: ")
        .await?;
    let sent = closed(&mut slow).await?;
    assert!(
        !String::from_utf8_lossy(&sent).contains(" 200 "),
        "{sent:?}"
    );
    let mut honest = connect_from(to, 1).await?;
    assert_eq!(healthz(&mut honest).await?, 200);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_connection_is_closed_after_the_idle_timeout() -> TestResult {
    let relay = TestRelay::start_with(|c| {
        c.http_header_timeout_secs = 300;
        c.http_idle_timeout_secs = 1;
    })
    .await?;
    let to = addr(&relay)?;
    let mut kept = connect_from(to, 1).await?;
    assert_eq!(healthz(&mut kept).await?, 200);
    // Kept alive and then silent: closed although the header timeout is far off.
    assert_eq!(closed(&mut kept).await?, Vec::<u8>::new());
    let mut silent = connect_from(to, 1).await?;
    assert_eq!(closed(&mut silent).await?, Vec::<u8>::new());
    let mut honest = connect_from(to, 1).await?;
    assert_eq!(healthz(&mut honest).await?, 200);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_declared_body_on_join_is_refused_at_once() -> TestResult {
    let relay = TestRelay::start().await?;
    let (buurt, _) = relay.buurt("Alpha")?;
    let mut s = connect_from(addr(&relay)?, 1).await?;
    // The head only: an answer that waited for the body would never come.
    s.write_all(
        b"POST /v1/join HTTP/1.1\r\nHost: relay\r\nContent-Type: application/json\r\n\
          Content-Length: 1000000000\r\n\r\n",
    )
    .await?;
    let (status, body) = read_answer(&mut s).await?;
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("\"payload_too_large\""), "{body}");
    assert!(relay.storage().members(&buurt)?.is_empty());
    // The same on an authenticated route, before the token is even looked at.
    let mut s = connect_from(addr(&relay)?, 1).await?;
    s.write_all(
        b"POST /v1/sync HTTP/1.1\r\nHost: relay\r\nContent-Type: application/cbor\r\n\
          Authorization: Bearer 00\r\nContent-Length: 1000000000\r\n\r\n",
    )
    .await?;
    let (status, _) = read_answer(&mut s).await?;
    assert!(status == 413 || status == 401, "{status}");
    let mut honest = connect_from(addr(&relay)?, 1).await?;
    assert_eq!(healthz(&mut honest).await?, 200);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_body_is_cut_at_the_body_timeout() -> TestResult {
    let relay = TestRelay::start_with(|c| c.http_body_timeout_secs = 1).await?;
    let (buurt, org) = relay.buurt("Alpha")?;
    let mut s = connect_from(addr(&relay)?, 1).await?;
    s.write_all(
        b"POST /v1/join HTTP/1.1\r\nHost: relay\r\nContent-Type: application/json\r\n\
          Content-Length: 200\r\n\r\n{\"v\":1,",
    )
    .await?;
    let (status, body) = read_answer(&mut s).await?;
    assert_eq!(status, 408, "{body}");
    assert!(body.contains("\"request_timeout\""), "{body}");
    // The rest of that body is never read as a request: the relay closes the connection.
    closed(&mut s).await?;
    assert!(relay.storage().members(&buurt)?.is_empty());
    Device::join(&relay, &org, "Ans", Role::Organiser).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_per_address_cap_are_closed_while_another_address_is_served()
-> TestResult {
    let relay = TestRelay::start_with(|c| c.max_connections_per_address = 3).await?;
    let (_, org) = relay.buurt("Alpha")?;
    let a = Device::join(&relay, &org, "Ans", Role::Organiser).await?;
    let to = addr(&relay)?;
    // Two kept-alive HTTP connections and a live WebSocket from 127.0.0.5 (the joins above
    // came from 127.0.0.1): the cap of 3.
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut s = connect_from(to, 5).await?;
        assert_eq!(healthz(&mut s).await?, 200);
        held.push(s);
    }
    let mut req = relay
        .url("/v1/live")
        .replace("http://", "ws://")
        .into_client_request()?;
    req.headers_mut()
        .insert("authorization", format!("Bearer {}", a.token()).parse()?);
    let (ws, _) = tokio_tungstenite::client_async(req, connect_from(to, 5).await?).await?;
    // A fourth from the same address is closed unread, the live socket counting too.
    let mut over = connect_from(to, 5).await?;
    let _ = over
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: relay\r\n\r\n")
        .await;
    assert_eq!(closed(&mut over).await?, Vec::<u8>::new());
    // Another address is served meanwhile.
    let mut other = connect_from(to, 6).await?;
    assert_eq!(healthz(&mut other).await?, 200);
    // Once one of the first address's connections closes, it is served again.
    drop(ws);
    served_again(to, 5).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_global_cap_are_closed_until_one_closes() -> TestResult {
    let relay = TestRelay::start_with(|c| {
        c.max_connections = 3;
        c.max_connections_per_address = 3;
        c.live_max = 2;
        c.live_per_buurt = 2;
    })
    .await?;
    let to = addr(&relay)?;
    let mut held = Vec::new();
    for last in 1..=3 {
        let mut s = connect_from(to, last).await?;
        assert_eq!(healthz(&mut s).await?, 200);
        held.push(s);
    }
    for last in [1, 4] {
        let mut over = connect_from(to, last).await?;
        assert_eq!(closed(&mut over).await?, Vec::<u8>::new());
    }
    held.truncate(2);
    served_again(to, 4).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_sockets_are_capped_per_buurt_and_in_all() -> TestResult {
    let relay = TestRelay::start_with(|c| {
        c.live_per_device = 1;
        c.live_per_buurt = 2;
        c.live_max = 3;
    })
    .await?;
    let (alpha, org_a) = relay.buurt("Alpha")?;
    let (beta, org_b) = relay.buurt("Beta")?;
    let mut a = vec![Device::join(&relay, &org_a, "Ans", Role::Organiser).await?];
    let mut b = vec![Device::join(&relay, &org_b, "Bram", Role::Organiser).await?];
    let code_a = relay.invite(&alpha, Role::Resident, 5)?;
    let code_b = relay.invite(&beta, Role::Resident, 5)?;
    for name in ["Bert", "Cor"] {
        a.push(Device::join(&relay, &code_a, name, Role::Resident).await?);
    }
    b.push(Device::join(&relay, &code_b, "Dina", Role::Resident).await?);
    let live = |token: &str| {
        let url = relay.url("/v1/live").replace("http://", "ws://");
        let token = token.to_owned();
        async move {
            let mut req = url.into_client_request()?;
            req.headers_mut()
                .insert("authorization", format!("Bearer {token}").parse()?);
            let r = tokio::time::timeout(PATIENCE, tokio_tungstenite::connect_async(req)).await?;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(r)
        }
    };
    let refused = |r: Result<_, tungstenite::Error>| -> TestResult<String> {
        match r {
            Err(tungstenite::Error::Http(resp)) => {
                assert_eq!(resp.status().as_u16(), 503);
                assert!(resp.headers().contains_key("retry-after"));
                let body = resp.body().clone().unwrap_or_default();
                let v: serde_json::Value = serde_json::from_slice(&body)?;
                Ok(v["error"]["code"].as_str().unwrap_or_default().to_owned())
            }
            Err(e) => Err(format!("expected 503, got {e}").into()),
            Ok(_) => Err("expected 503, got a live connection".into()),
        }
    };
    let mut open = Vec::new();
    for d in &a[..2] {
        open.push(live(d.token()).await??);
    }
    // Alpha is full; Beta still gets one, which fills the relay.
    assert_eq!(refused(live(a[2].token()).await?)?, "live_full");
    open.push(live(b[0].token()).await??);
    assert_eq!(refused(live(b[1].token()).await?)?, "live_full");
    // A device at its own limit replaces its oldest connection instead of being refused.
    let again = live(a[0].token()).await??;
    open.push(again);
    // Refused devices still sync.
    let sync = relay
        .sync(
            a[2].token(),
            &SyncRequest {
                v: 1,
                cursor: 0,
                push: Vec::new(),
                max: None,
            },
        )
        .await?;
    assert!(sync.is_ok(), "{sync:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_not_public_but_served_on_their_own_listener() -> TestResult {
    let dir = tempfile::tempdir()?;
    let relay = Relay::open(&Config::with_data(dir.path()))?;
    let public = TcpListener::bind("127.0.0.1:0").await?;
    let metrics = TcpListener::bind("127.0.0.1:0").await?;
    let (api, scrape) = (
        format!("http://{}", public.local_addr()?),
        format!("http://{}", metrics.local_addr()?),
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(noaber_relay::serve(
        public,
        Some(metrics),
        relay,
        async move {
            let _ = stopped.await;
        },
    ));
    let http = reqwest::Client::new();
    let health = http.get(format!("{api}/healthz")).send().await?;
    assert_eq!(health.status().as_u16(), 200);
    let public = http.get(format!("{api}/metrics")).send().await?;
    assert_eq!(public.status().as_u16(), 404);
    let body: serde_json::Value = public.json().await?;
    assert_eq!(body["error"]["code"], "not_found");
    let scraped = http.get(format!("{scrape}/metrics")).send().await?;
    assert_eq!(scraped.status().as_u16(), 200);
    let text = scraped.text().await?;
    assert!(text.contains("relay_http_requests_total"), "{text}");
    assert!(text.contains("relay_connections"), "{text}");
    // The metrics listener serves nothing else.
    let other = http.get(format!("{scrape}/healthz")).send().await?;
    assert_eq!(other.status().as_u16(), 404);
    // Both listeners stop with the relay.
    let _ = stop.send(());
    tokio::time::timeout(PATIENCE, server).await???;
    Ok(())
}
