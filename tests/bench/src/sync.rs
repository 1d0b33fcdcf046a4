//! `sync`: one device and a relay on loopback over real HTTP, every byte counted on the socket
//! by a proxy in front of the relay (a separate process, release build).
//!
//! - initial sync: a buurt holds `docs` documents (one creation change each, pushed by a
//!   seeding device); a new device joins and syncs until it holds them all. Several fresh
//!   devices, the median.
//! - reconnect: a device holds all `docs` documents and is in sync; another member edits 10 of
//!   them (a title each) and syncs; the first device syncs once. Round trips (HTTP requests),
//!   bytes up and down, time, and the bytes beyond the 10 changes' own.

use std::time::Instant;

use noaber_core::Role;
use noaber_core::sync::http::Client;

use crate::proxy::CountingProxy;
use crate::report::Report;
use crate::stats::median;
use crate::workload::{RelayProcess, TempStore, fill};
use crate::{BenchResult, Scale};

/// A device joined through the proxy.
pub struct Device {
    /// Its store.
    pub t: TempStore,
    /// Its client.
    pub client: Client,
    /// The buurt id.
    pub buurt: String,
}

impl Device {
    /// A new device that joined with `invite` at `url`.
    pub async fn join(url: &str, invite: &str, name: &str) -> BenchResult<Device> {
        let t = TempStore::new()?;
        let client = Client::new()?;
        let b = client.join(&t.store, url, invite, name).await?;
        Ok(Device {
            t,
            client,
            buurt: b.id,
        })
    }

    /// One full sync (as many rounds as it takes).
    pub async fn sync(&self) -> BenchResult<noaber_core::sync::http::SyncReport> {
        Ok(self.client.sync(&self.t.store, &self.buurt).await?)
    }
}

/// What one reconnect cost.
#[derive(Debug, Clone, Copy)]
pub struct Reconnect {
    /// HTTP requests made.
    pub round_trips: usize,
    /// Bytes from the device.
    pub up: u64,
    /// Bytes to the device.
    pub down: u64,
    /// The changes' own bytes.
    pub change_bytes: u64,
    /// Wall time.
    pub ms: f64,
}

/// A buurt of `docs` documents on a relay behind a counting proxy, with one device holding
/// them all and another that edits: the reconnect workload's fixture.
pub struct Fixture {
    /// The relay process.
    pub relay: RelayProcess,
    /// The proxy in front of it.
    pub proxy: CountingProxy,
    /// The device that reconnects.
    pub holder: Device,
    /// The member who edits while the holder is away.
    pub editor: Device,
    /// Help requests the editor may edit.
    pub editable: Vec<noaber_core::EntityId>,
    invite: String,
}

impl Fixture {
    /// Seeds the buurt (`docs` mixed documents, pushed by the editor) and brings the holder
    /// in sync. Not measured.
    pub async fn new(docs: usize) -> BenchResult<Fixture> {
        let relay = RelayProcess::start(&[])?;
        let proxy = CountingProxy::start(relay.addr).await?;
        let (_, invite) = relay.buurt(Role::Organiser)?;
        let editor = Device::join(&proxy.url(), &invite, "Fatima").await?;
        let ids = fill(&editor.t.store, docs)?;
        editor.sync().await?;
        let holder = Device::join(&proxy.url(), &invite, "Ans").await?;
        holder.sync().await?;
        let editable = ids.into_iter().step_by(10).collect();
        Ok(Fixture {
            relay,
            proxy,
            holder,
            editor,
            editable,
            invite,
        })
    }

    /// A new device's first sync of the whole buurt: (ms, bytes down).
    pub async fn initial_sync(&self) -> BenchResult<(f64, u64)> {
        let fresh = Device::join(&self.proxy.url(), &self.invite, "Kees").await?;
        let before = self.proxy.bytes();
        let started = Instant::now();
        fresh.sync().await?;
        let ms = started.elapsed().as_secs_f64() * 1e3;
        Ok((ms, self.proxy.bytes().since(before).down))
    }

    /// The editor changes `changed` documents and syncs; then the holder reconnects.
    pub async fn reconnect(&self, changed: usize, round: usize) -> BenchResult<Reconnect> {
        for k in 0..changed {
            let id = &self.editable[(round * changed + k) % self.editable.len()];
            self.editor.t.store.edit_help(
                id,
                Some(&format!("Boodschappen, ronde {round}")),
                None,
            )?;
        }
        let change_bytes: u64 = self
            .editor
            .t
            .store
            .pending_changes(10_000)?
            .iter()
            .map(|c| c.bytes.len() as u64)
            .sum();
        self.editor.sync().await?;
        // A reconnect is a fresh connection, as after a phone woke up.
        let holder = Client::new()?;
        let before = self.proxy.bytes();
        let started = Instant::now();
        let report = holder
            .sync(&self.holder.t.store, &self.holder.buurt)
            .await?;
        let ms = started.elapsed().as_secs_f64() * 1e3;
        let bytes = self.proxy.bytes().since(before);
        if report.applied < changed {
            return Err(
                format!("reconnect applied {} of {changed} changes", report.applied).into(),
            );
        }
        Ok(Reconnect {
            round_trips: report.rounds + report.repaired,
            up: bytes.up,
            down: bytes.down,
            change_bytes,
            ms,
        })
    }
}

/// Runs the suite.
pub async fn run(scale: Scale) -> BenchResult<Report> {
    let docs = scale.pick(10_000, 200);
    let changed = 10;
    let rounds = scale.pick(5, 2);
    let seeding = Instant::now();
    let f = Fixture::new(docs).await?;
    let seed_s = seeding.elapsed().as_secs_f64();

    let mut initial = Vec::new();
    let mut initial_bytes = Vec::new();
    let mut recon = Vec::new();
    for round in 0..rounds {
        // Alternate the two workloads so both see the same machine.
        let (ms, down) = f.initial_sync().await?;
        initial.push(ms);
        initial_bytes.push(down as f64);
        recon.push(f.reconnect(changed, round).await?);
    }
    let pick = |g: fn(&Reconnect) -> f64| median(&recon.iter().map(g).collect::<Vec<_>>());
    let mut r = Report::new("sync");
    r.add(
        "initial_sync_ms",
        median(&initial),
        "new device pulls the whole buurt (ms); target ≤ 5 000",
    );
    r.add(
        "initial_sync_bytes_down",
        median(&initial_bytes),
        "bytes to the new device",
    );
    r.add(
        "reconnect_round_trips",
        pick(|x| x.round_trips as f64),
        "HTTP requests; target 1",
    );
    r.add(
        "reconnect_bytes_up",
        pick(|x| x.up as f64),
        "bytes from the device",
    );
    r.add(
        "reconnect_bytes_down",
        pick(|x| x.down as f64),
        "bytes to the device",
    );
    r.add(
        "reconnect_overhead_bytes",
        pick(|x| (x.up + x.down) as f64 - x.change_bytes as f64),
        "bytes beyond the changes' own; target ≤ 2 048",
    );
    r.add(
        "reconnect_change_bytes",
        pick(|x| x.change_bytes as f64),
        "the changes' own bytes",
    );
    r.add("reconnect_ms", pick(|x| x.ms), "reconnect, wall time (ms)");
    r.add(
        "relay_rss_mb",
        f.relay.rss_mb(),
        "relay process memory (MB)",
    );
    r.add("docs", docs as f64, "documents in the buurt");
    r.note(format!(
        "{docs} mixed documents (seeded in {seed_s:.1} s); {changed} changed per reconnect; \
         {rounds} rounds, medians; loopback, relay release build, counting proxy in between"
    ));
    Ok(r)
}
