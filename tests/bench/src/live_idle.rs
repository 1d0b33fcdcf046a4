//! The `relay` suite's idle-live figures: how many live connections (`GET /v1/live`,
//! WebSocket) one relay holds open at once, and its resident memory while it does. DESIGN's
//! target: 10 000 idle live connections in at most 300 MB.
//!
//! A relay on SQLite; `n / 4` devices in buurten of at most 3 000 connections (a device may hold
//! 4, a buurt 4 000), each device opening 4 connections; the client sockets are bound to
//! different loopback addresses (127.0.0.2, .3, …; 200 connections each), as phones behind
//! different NATs, so the relay's per-address cap (256) is not what limits them. Each
//! connection reads (answering the relay's pings) and sends nothing. The figures are read two
//! seconds after the last connection opened; the relay's memory before any was opened (with
//! the same devices joined) is the baseline for the per-connection cost.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use noaber_core::Role;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::relay::LoadDevice;
use crate::report::Report;
use crate::workload::RelayProcess;
use crate::{BenchResult, Scale};

/// Connections opened at once while ramping up.
const WAVE: usize = 250;
/// Connections per client address.
const PER_ADDRESS: usize = 200;

/// Opens one idle live connection from `from` with `token`; it lives until `stop` changes.
async fn open_one(
    relay: SocketAddr,
    from: std::net::Ipv4Addr,
    token: String,
    open: Arc<AtomicUsize>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> BenchResult<()> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind(SocketAddr::from((from, 0)))?;
    let stream = socket.connect(relay).await?;
    let mut req = format!("ws://{relay}/v1/live").into_client_request()?;
    req.headers_mut()
        .insert("authorization", format!("Bearer {token}").parse()?);
    // Small buffers: the load generator holds as many connections as the relay does.
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0);
    let (mut ws, _) =
        tokio_tungstenite::client_async_with_config(req, stream, Some(config)).await?;
    open.fetch_add(1, Ordering::SeqCst);
    tokio::spawn(async move {
        loop {
            tokio::select! {
                msg = ws.next() => match msg {
                    Some(Ok(_)) => continue,
                    _ => break,
                },
                _ = stop.changed() => break,
            }
        }
        open.fetch_sub(1, Ordering::SeqCst);
    });
    Ok(())
}

/// Adds `idle_live_connections`, `idle_live_rss_mb` and `idle_live_kib_per_connection`.
pub async fn measure(scale: Scale, r: &mut Report) -> BenchResult<()> {
    let want = scale.pick(10_000, 40);
    // This process and the relay (which inherits the limit) each hold `want` sockets.
    let fds = noaber_e2e::raise_open_files((want * 2 + 4_096) as u64)?;
    let relay = RelayProcess::start(&[
        ("NOABER_RELAY_JOIN_PER_INVITE_PER_MINUTE", "100000"),
        ("NOABER_RELAY_JOIN_PER_INVITE_BURST", "100000"),
    ])?;
    let http = reqwest::Client::new();
    let per_device = 4;
    let per_buurt = 3_000;
    let mut tokens = Vec::new();
    let mut invite = String::new();
    for i in 0..want.div_ceil(per_device) {
        if (i * per_device) % per_buurt == 0 {
            invite = relay.buurt(Role::Resident)?.1;
        }
        tokens.push(
            LoadDevice::new(&http, &relay.url(), &invite, 0)
                .await?
                .token,
        );
    }
    drop(http);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = relay.rss_mb();
    eprintln!(
        "relay: {} devices joined, relay at {before:.0} MB; opening {want} live connections",
        tokens.len()
    );

    let open = Arc::new(AtomicUsize::new(0));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut refused = 0usize;
    let mut first_error = None;
    for wave in (0..want).collect::<Vec<_>>().chunks(WAVE) {
        let mut tasks = Vec::new();
        for &i in wave {
            let from = std::net::Ipv4Addr::new(127, 0, 0, 2 + u8::try_from(i / PER_ADDRESS)?);
            let token = tokens[i / per_device].clone();
            tasks.push(tokio::spawn(open_one(
                relay.addr,
                from,
                token,
                open.clone(),
                stopped.clone(),
            )));
        }
        for t in tasks {
            if let Err(e) = t.await? {
                refused += 1;
                first_error.get_or_insert_with(|| e.to_string());
            }
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let held = open.load(Ordering::SeqCst);
    let during = relay.rss_mb();
    let _ = stop.send(true);
    eprintln!(
        "relay: {held} live connections open, relay at {during:.0} MB ({refused} refused{})",
        first_error
            .map(|e| format!(", first: {e}"))
            .unwrap_or_default()
    );
    r.add(
        "idle_live_connections",
        held as f64,
        &format!(
            "idle live connections one relay held open at once, of {want} opened; target ≥ 10 000"
        ),
    );
    r.add(
        "idle_live_rss_mb",
        during,
        "the relay's resident memory while holding them (MB); target ≤ 300",
    );
    r.add(
        "idle_live_kib_per_connection",
        if held == 0 {
            0.0
        } else {
            (during - before).max(0.0) * 1024.0 / held as f64
        },
        "resident memory each idle live connection adds (KiB)",
    );
    if held < want {
        r.note(format!(
            "idle live: {held} of {want} connections held ({refused} refused); open-file limit \
             {fds} (raise the hard limit to hold more)"
        ));
    }
    Ok(())
}
