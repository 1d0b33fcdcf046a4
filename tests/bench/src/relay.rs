//! `relay`: many simulated devices pushing and pulling at once against one relay process.
//!
//! - throughput: `devices` devices in `buurten` buurten, each with `per_device` changes made
//!   offline by a real store (help requests: one creation change each), all syncing at once in
//!   a closed loop: each simulated device sends its next `POST /v1/sync` when the last one was
//!   answered, pushing at most `batch` changes and pulling a page of at most `page` changes
//!   (decoded, not applied: the load generator shares the machine with the relay, and applying
//!   every neighbour's changes in 64 stores would measure the generator). Durable changes per
//!   second = changes acknowledged / wall time; an acknowledgement means committed with
//!   `synchronous=FULL` (group commit). Push latency is each request's round trip.
//! - memory: the relay's resident memory after 1 000 and after 100 000 stored documents (a
//!   device of one buurt pushing them in batches): memory must not grow with documents stored.
//! - under attack (`attack_*`, in `attack.rs`): an honest device's sync round trip while one
//!   account streams op bombs at a relay capped at 2 GiB of address space, as a ratio to the
//!   same device's round trips on the same relay just before.

use std::time::Instant;

use noaber_core::model::help::NewHelp;
use noaber_core::sync::wire::{
    self, CBOR, JoinRequest, JoinResponse, PROTOCOL_VERSION, PushChange, SyncRequest, SyncResponse,
};
use noaber_core::{Role, Store};

use crate::report::Report;
use crate::stats::percentile;
use crate::sync::Device;
use crate::workload::RelayProcess;
use crate::{BenchResult, Scale};

/// A simulated device: its token, its cursor and the changes its store made offline.
pub(crate) struct LoadDevice {
    url: String,
    /// Its bearer token.
    pub(crate) token: String,
    cursor: u64,
    changes: Vec<PushChange>,
}

impl LoadDevice {
    /// Joins with a real store's member and actor ids (raw `POST /v1/join`, keeping the
    /// token), then makes `n` help requests offline in that store.
    pub(crate) async fn new(
        http: &reqwest::Client,
        url: &str,
        invite: &str,
        n: usize,
    ) -> BenchResult<Self> {
        let store = Store::open_in_memory(std::sync::Arc::new(noaber_core::SystemClock))?;
        let id = store.identity();
        let join = JoinRequest {
            v: PROTOCOL_VERSION,
            invite: invite.to_owned(),
            display_name: "bewoner".into(),
            member: id.member.to_string(),
            actors: vec![id.actor.clone()],
            join_secret: None,
        };
        let resp = http
            .post(format!("{url}/v1/join"))
            .json(&join)
            .send()
            .await?;
        if !resp.status().is_success() {
            return Err(format!("join: status {}", resp.status()).into());
        }
        let joined: JoinResponse = resp.json().await?;
        for i in 0..n {
            store.create_help(&NewHelp::ask("groceries", &format!("Verzoek {i}")))?;
        }
        let changes = store
            .pending_changes(n.saturating_mul(2))?
            .into_iter()
            .map(|c| PushChange {
                doc: wire::doc_bytes(&c.entity),
                change: c.bytes,
            })
            .collect();
        Ok(LoadDevice {
            url: url.to_owned(),
            token: joined.token,
            cursor: 0,
            changes,
        })
    }

    /// One round trip: pushes up to `batch` changes, pulls a page. Returns (acknowledged, ms).
    async fn round(
        &mut self,
        http: &reqwest::Client,
        batch: usize,
        page: u32,
    ) -> BenchResult<(usize, f64)> {
        let n = batch.min(self.changes.len());
        let push: Vec<PushChange> = self.changes.drain(..n).collect();
        let body = wire::to_cbor(&SyncRequest {
            v: PROTOCOL_VERSION,
            cursor: self.cursor,
            push,
            max: Some(page),
        })?;
        let started = Instant::now();
        let resp = http
            .post(format!("{}/v1/sync", self.url))
            .header(reqwest::header::CONTENT_TYPE, CBOR)
            .bearer_auth(&self.token)
            .body(body)
            .send()
            .await?;
        if !resp.status().is_success() {
            return Err(format!("sync: status {}", resp.status()).into());
        }
        let bytes = resp.bytes().await?;
        let ms = started.elapsed().as_secs_f64() * 1e3;
        let answer: SyncResponse = wire::from_cbor(&bytes)?;
        if let Some(r) = answer.rejected.first() {
            return Err(format!("a change was refused: {} ({})", r.code, r.reason).into());
        }
        self.cursor = answer.cursor;
        Ok((n, ms))
    }
}

/// Runs the suite.
pub async fn run(scale: Scale) -> BenchResult<Report> {
    let buurten = scale.pick(4, 2);
    let per_buurt = scale.pick(16, 2);
    let per_device = scale.pick(1_000, 20);
    let batch = 50;
    let page = 200;
    let relay = RelayProcess::start(&[])?;
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(120))
        .build()?;

    // Devices and their offline changes (not measured).
    let mut devices = Vec::new();
    for _ in 0..buurten {
        let (_, invite) = relay.buurt(Role::Resident)?;
        for _ in 0..per_buurt {
            devices.push(LoadDevice::new(&http, &relay.url(), &invite, per_device).await?);
        }
    }
    let total: usize = devices.iter().map(|d| d.changes.len()).sum();
    eprintln!(
        "relay: {} devices ready with {total} changes; pushing",
        devices.len()
    );

    // All at once, closed loop.
    let (acked, secs, latencies) = closed_loop(devices, &http, batch, page).await?;
    if acked != total {
        return Err(format!("{acked} of {total} changes acknowledged").into());
    }
    eprintln!("relay: {acked} changes in {secs:.1} s; filling for the memory figures");
    // Memory against documents stored: one more buurt, one device pushing in batches.
    let (_, invite) = relay.buurt(Role::Resident)?;
    let filler = Device::join(&relay.url(), &invite, "vuller").await?;
    let small = scale.pick(1_000, 100);
    let large = scale.pick(100_000, 400);
    let mut stored = 0;
    let mut rss_small = 0.0;
    for target in [small, large] {
        while stored < target {
            let n = (target - stored).min(2_000);
            for i in 0..n {
                filler.t.store.create_help(&NewHelp::ask(
                    "groceries",
                    &format!("Document {}", stored + i),
                ))?;
            }
            filler.sync().await?;
            stored += n;
            eprintln!(
                "relay: {stored} documents stored, relay at {:.0} MB",
                relay.rss_mb()
            );
        }
        if target == small {
            rss_small = relay.rss_mb();
        }
    }
    let rss_large = relay.rss_mb();

    drop(relay);
    let mut r = Report::new("relay");
    crate::attack::measure(scale, &mut r).await?;
    crate::relay_pg::measure(scale, &mut r).await?;
    crate::live_idle::measure(scale, &mut r).await?;
    r.add(
        "durable_changes_per_s",
        acked as f64 / secs,
        "acknowledged (durable) changes per second; target ≥ 5 000",
    );
    r.add(
        "push_p50_ms",
        percentile(&latencies, 50.0),
        "push request round trip, median (ms)",
    );
    r.add(
        "push_p99_ms",
        percentile(&latencies, 99.0),
        "push request round trip, p99 (ms)",
    );
    r.add(
        "devices",
        (buurten * per_buurt) as f64,
        "devices pushing at once",
    );
    r.add(
        "rss_mb_1k_docs",
        rss_small,
        &format!("relay memory with {small} documents stored (MB)"),
    );
    r.add(
        "rss_mb_100k_docs",
        rss_large,
        &format!("relay memory with {large} documents stored (MB)"),
    );
    r.note(format!(
        "offered load: {} devices in {buurten} buurten, closed loop, {batch} changes pushed and \
         up to {page} pulled per request, {per_device} changes each ({total} in all); the load \
         generator shares the machine",
        buurten * per_buurt
    ));
    Ok(r)
}

/// Every device sends its next request when the last one was answered, until its changes are
/// all acknowledged. Returns (changes acknowledged, seconds, each request's round trip in ms).
pub(crate) async fn closed_loop(
    devices: Vec<LoadDevice>,
    http: &reqwest::Client,
    batch: usize,
    page: u32,
) -> BenchResult<(usize, f64, Vec<f64>)> {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for mut dev in devices {
        let http = http.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut acked = 0usize;
            while !dev.changes.is_empty() {
                let (n, ms) = dev.round(&http, batch, page).await?;
                acked += n;
                latencies.push(ms);
            }
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>((acked, latencies))
        }));
    }
    let mut acked = 0;
    let mut latencies = Vec::new();
    for t in tasks {
        let (a, l) = t.await??;
        acked += a;
        latencies.extend(l);
    }
    Ok((acked, started.elapsed().as_secs_f64(), latencies))
}
