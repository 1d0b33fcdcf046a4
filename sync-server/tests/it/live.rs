//! The live WebSocket: heads on connect and on every move, limits, shutdown.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use noaber_core::Role;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::support::{Device, TestRelay, TestResult, ask};

pub(crate) type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A safety net against hangs, never a synchronisation: each step waits for a message.
const PATIENCE: Duration = Duration::from_secs(20);

pub(crate) async fn connect(relay: &TestRelay, token: &str) -> Result<Socket, tungstenite::Error> {
    let url = relay.url.replace("http://", "ws://") + "/v1/live";
    let mut req = url.into_client_request()?;
    let value = format!("Bearer {token}").parse().map_err(|_| {
        tungstenite::Error::Url(tungstenite::error::UrlError::UnableToConnect(
            "header".into(),
        ))
    })?;
    req.headers_mut().insert("authorization", value);
    Ok(tokio_tungstenite::connect_async(req).await?.0)
}

/// The next `{"head": N}` or close frame, skipping pings.
pub(crate) async fn next(ws: &mut Socket) -> TestResult<Result<u64, Option<u16>>> {
    loop {
        let msg = tokio::time::timeout(PATIENCE, ws.next()).await?;
        match msg {
            Some(Ok(Message::Text(t))) => {
                let v: serde_json::Value = serde_json::from_str(t.as_str())?;
                return Ok(Ok(v["head"].as_u64().ok_or("no head")?));
            }
            Some(Ok(Message::Close(frame))) => return Ok(Err(frame.map(|f| u16::from(f.code)))),
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => return Ok(Err(None)),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_device_is_told_when_another_pushes() -> TestResult {
    let relay = TestRelay::start().await?;
    let (buurt, org) = relay.buurt("Alpha")?;
    let mut a = Device::join(&relay, &org, "Ans", Role::Organiser).await?;
    let code_ = relay.invite(&buurt, Role::Resident, 5)?;
    let b = Device::join(&relay, &code_, "Bert", Role::Resident).await?;
    ask(&a, "eerste")?;
    a.sync_all(&relay).await?;

    let mut ws = connect(&relay, b.token()).await?;
    assert_eq!(next(&mut ws).await?, Ok(1));
    // Client messages are ignored.
    ws.send(Message::text("hello")).await?;
    for i in 0..3 {
        ask(&a, &format!("vraag {i}"))?;
    }
    a.sync_all(&relay).await?;
    let mut head = 0;
    while head < 4 {
        head = next(&mut ws).await?.map_err(|c| format!("closed: {c:?}"))?;
    }
    assert_eq!(head, 4);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_needs_a_valid_token() -> TestResult {
    let relay = TestRelay::start().await?;
    match connect(&relay, &noaber_relay::Token::new()?.reveal()).await {
        Err(tungstenite::Error::Http(resp)) => assert_eq!(resp.status().as_u16(), 401),
        other => return Err(format!("expected 401, got {:?}", other.map(|_| ())).into()),
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fifth_connection_of_one_device_closes_the_oldest() -> TestResult {
    let relay = TestRelay::start().await?;
    let (_, org) = relay.buurt("Alpha")?;
    let a = Device::join(&relay, &org, "Ans", Role::Organiser).await?;
    let mut sockets = Vec::new();
    for _ in 0..5 {
        let mut ws = connect(&relay, a.token()).await?;
        assert_eq!(next(&mut ws).await?, Ok(0));
        sockets.push(ws);
    }
    assert_eq!(next(&mut sockets[0]).await?, Err(Some(4000)));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_live_connections_and_returns() -> TestResult {
    let relay = TestRelay::start().await?;
    let (_, org) = relay.buurt("Alpha")?;
    let a = Device::join(&relay, &org, "Ans", Role::Organiser).await?;
    let mut ws = connect(&relay, a.token()).await?;
    assert_eq!(next(&mut ws).await?, Ok(0));
    let stopping = tokio::spawn(relay.stop());
    assert_eq!(next(&mut ws).await?, Err(Some(u16::from(CloseCode::Away))));
    tokio::time::timeout(PATIENCE, stopping).await???;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_device_is_disconnected_at_the_next_ping() -> TestResult {
    let relay = TestRelay::start_with(|c| {
        c.live_ping_secs = 1;
        c.live_idle_secs = 30;
    })
    .await?;
    let (_, org) = relay.buurt("Alpha")?;
    let a = Device::join(&relay, &org, "Ans", Role::Organiser).await?;
    let mut ws = connect(&relay, a.token()).await?;
    assert_eq!(next(&mut ws).await?, Ok(0));
    let device = noaber_relay::DeviceId::parse(&a.joined.device)?;
    noaber_relay::admin::revoke_device(relay.storage(), &device, crate::support::now_ms())?;
    assert_eq!(next(&mut ws).await?, Err(Some(4001)));
    Ok(())
}

/// A peer that never answers pings is closed once idle. Speaks raw WebSocket so that nothing
/// answers the pings for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_peer_is_closed_after_the_idle_timeout() -> TestResult {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let relay = TestRelay::start_with(|c| {
        c.live_ping_secs = 1;
        c.live_idle_secs = 2;
    })
    .await?;
    let (_, org) = relay.buurt("Alpha")?;
    let a = Device::join(&relay, &org, "Ans", Role::Organiser).await?;
    let mut tcp = TcpStream::connect(relay.url.trim_start_matches("http://")).await?;
    let handshake = format!(
        "GET /v1/live HTTP/1.1\r\nHost: relay\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         Authorization: Bearer {}\r\n\r\n",
        a.token()
    );
    tcp.write_all(handshake.as_bytes()).await?;
    let mut buf = Vec::new();
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let mut chunk = [0u8; 512];
        let n = tokio::time::timeout(PATIENCE, tcp.read(&mut chunk)).await??;
        if n == 0 {
            return Err("closed during the handshake".into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    assert!(
        buf.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&buf)
    );
    let mut frames = buf[buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(0) + 4..].to_vec();
    let mut opcodes: Vec<u8> = Vec::new();
    // Server frames are unmasked and small here: [fin|opcode, len, payload...].
    while opcodes.last() != Some(&0x8) {
        match frames.get(1).map(|l| 2 + usize::from(l & 0x7f)) {
            Some(end) if frames.len() >= end => {
                opcodes.push(frames[0] & 0x0f);
                frames.drain(..end);
            }
            _ => {
                let mut chunk = [0u8; 512];
                let n = tokio::time::timeout(PATIENCE, tcp.read(&mut chunk)).await??;
                if n == 0 {
                    break;
                }
                frames.extend_from_slice(&chunk[..n]);
            }
        }
    }
    assert_eq!(
        opcodes.first(),
        Some(&0x1),
        "the head comes first: {opcodes:?}"
    );
    assert!(opcodes.contains(&0x9), "pinged before closing: {opcodes:?}");
    assert_eq!(opcodes.last(), Some(&0x8), "closed: {opcodes:?}");
    Ok(())
}
