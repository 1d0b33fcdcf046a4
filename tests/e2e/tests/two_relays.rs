//! Two relay processes on one PostgreSQL cluster, as an operator runs them behind a load
//! balancer: each relay with its own data directory, a throwaway cluster of the test's own
//! (started, crashed, stopped and restarted by the test), devices reaching the relays through
//! proxies that stand in for the balancer.
//!
//! - devices on different relays see each other's changes; comments on one request alternate
//!   between relays;
//! - live connections are woken by commits made through the other relay, also after the
//!   database restarted;
//! - a photo uploaded through one relay (its upload moved to the other halfway) is fetched
//!   through the other;
//! - a kill -9 loop over both relays and the database ends with no acknowledged change lost
//!   and identical projections everywhere;
//! - PostgreSQL stopped under load: `503 unavailable`, `/readyz` failing, then recovery
//!   without restarting a relay.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::Arc;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::time::Duration;

use noaber_core::model::help::NewHelp;
use noaber_core::model::report::NewReport;
use noaber_core::sync::http::UPLOAD_CHUNK;
use noaber_core::{EntityId, ListQuery, Role};
use noaber_e2e::{Device, Proxy, RelayProcess, TestResult, now_ms};
use noaber_relay::admin::{self, InviteOptions};
use noaber_relay::storage::PostgresStorage;

#[path = "../../../sync-server/src/storage/pg_harness.rs"]
mod pg_harness;

/// One relay of the deployment: its own data directory, its process, and the proxy devices
/// reach it through (its address stays when the relay restarts on another port).
struct Slot {
    data: tempfile::TempDir,
    relay: Option<RelayProcess>,
    proxy: Proxy,
}

/// A database cluster and two relays on it.
struct Deployment {
    cluster: pg_harness::Cluster,
    conn: String,
    slots: Vec<Slot>,
}

impl Deployment {
    async fn start() -> TestResult<Deployment> {
        let cluster = pg_harness::Cluster::start()?;
        let conn = cluster.database()?;
        let mut slots = Vec::new();
        for _ in 0..2 {
            let data = tempfile::tempdir()?;
            let relay = RelayProcess::start_on_postgres(data.path(), &conn)?;
            let proxy = Proxy::start(relay.addr).await?;
            slots.push(Slot {
                data,
                relay: Some(relay),
                proxy,
            });
        }
        Ok(Deployment {
            cluster,
            conn,
            slots,
        })
    }

    /// Through the balancer to relay `i`.
    fn url(&self, i: usize) -> String {
        self.slots[i].proxy.url()
    }

    /// Relay `i` itself (for `/readyz`).
    fn direct(&self, i: usize) -> String {
        self.slots[i].relay.as_ref().expect("running").url()
    }

    /// A buurt and an invite for `role`, made with the admin functions on the database.
    fn buurt(&self, role: Role) -> TestResult<(noaber_relay::BuurtId, String)> {
        let storage = PostgresStorage::open(&self.conn, 1)?;
        let created = admin::create_buurt(&storage, "De Linde", now_ms())?;
        let code = self.invite_with(&storage, &created.buurt_id, role)?;
        Ok((created.buurt_id, code))
    }

    fn invite(&self, buurt: &noaber_relay::BuurtId, role: Role) -> TestResult<String> {
        let storage = PostgresStorage::open(&self.conn, 1)?;
        self.invite_with(&storage, buurt, role)
    }

    fn invite_with(
        &self,
        storage: &PostgresStorage,
        buurt: &noaber_relay::BuurtId,
        role: Role,
    ) -> TestResult<String> {
        let inv = admin::create_invite(
            storage,
            buurt,
            &InviteOptions {
                role,
                expires: "7d".into(),
                uses: 100,
                member: None,
            },
            now_ms(),
        )?;
        Ok(inv.code)
    }

    /// SIGKILL relay `i`.
    fn kill(&mut self, i: usize) {
        if let Some(relay) = self.slots[i].relay.take() {
            relay.kill();
        }
    }

    /// Starts relay `i` again (on a new port) and points its proxy there.
    fn restart(&mut self, i: usize) -> TestResult {
        let slot = &mut self.slots[i];
        if slot.relay.is_none() {
            let relay = RelayProcess::start_on_postgres(slot.data.path(), &self.conn)?;
            slot.proxy.retarget(relay.addr);
            slot.relay = Some(relay);
        }
        Ok(())
    }

    /// Both relays' last log lines.
    fn logs(&self) -> String {
        let mut out = String::new();
        for (i, slot) in self.slots.iter().enumerate() {
            if let Some(r) = &slot.relay {
                out.push_str(&format!("\n--- relay {i}:\n{}", r.log_tail()));
            }
        }
        out
    }

    /// Fails with a relay's log if one of them died by itself.
    fn check_alive(&mut self) -> TestResult {
        for (i, slot) in self.slots.iter_mut().enumerate() {
            if let Some(how) = slot.relay.as_mut().and_then(RelayProcess::exited) {
                return Err(format!("relay {i} exited: {how}").into());
            }
        }
        Ok(())
    }
}

fn items(d: &Device) -> TestResult<usize> {
    Ok(d.store
        .list(&ListQuery {
            limit: 500,
            ..Default::default()
        })?
        .items
        .len())
}

/// Indexes of a busy device's counters: syncs that succeeded, syncs answered `unavailable`.
const OK: usize = 0;
const UNAVAILABLE: usize = 1;

/// Waits until `cond` holds for every device's counters (given with the device's index), or
/// fails after 30 s naming `what`.
async fn until(
    counts: &[Arc<[AtomicUsize; 2]>],
    what: &str,
    cond: impl Fn(usize, &[AtomicUsize; 2]) -> bool,
) -> TestResult {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if counts.iter().enumerate().all(|(i, c)| cond(i, c)) {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            return Err(format!("a busy device never saw {what}").into());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Syncs every device until none has anything pending and all hold the same projections
/// (refusals for now are held back for a few seconds, so this may take some rounds).
async fn settle(devices: &[Arc<Device>]) -> TestResult {
    let mut last = String::new();
    for _ in 0..120 {
        for d in devices {
            if let Err(e) = d.sync().await {
                last = e.to_string();
            }
        }
        let mut pending = 0;
        for d in devices {
            pending += d.store.sync_status(&d.buurt)?.pending;
        }
        let first = devices[0].store.projection_dump()?;
        let mut same = true;
        for d in &devices[1..] {
            same &= d.store.projection_dump()? == first;
        }
        if pending == 0 && same {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let mut why = Vec::new();
    let first = devices[0].store.projection_dump()?;
    for (i, d) in devices.iter().enumerate() {
        let status = d.store.sync_status(&d.buurt)?;
        let dump = d.store.projection_dump()?;
        let differ: Vec<_> = dump.iter().filter(|l| !first.contains(l)).take(3).collect();
        let mut refused = std::collections::BTreeMap::new();
        for r in &status.rejected {
            *refused
                .entry(format!("{} {}: {}", &r.entity[..8], r.code, r.reason))
                .or_insert(0) += 1;
        }
        why.push(format!(
            "device {i}: {} pending, {} rejected {refused:?}, cursor {} head {}, {} items, {} lines not on device 0: {differ:?}",
            status.pending,
            status.rejected.len(),
            status.cursor,
            status.head,
            items(d)?,
            dump.iter().filter(|l| !first.contains(l)).count(),
        ));
    }
    Err(format!(
        "the devices did not settle; last error: {last}\n{}",
        why.join("\n")
    )
    .into())
}

/// Devices on different relays see each other's changes, and comments on one request made
/// through one relay and then the other (each relay's validation cache moved past by the other)
/// are all accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_on_two_relays_converge_and_comments_alternate() -> TestResult {
    let dep = Deployment::start().await?;
    let (_, invite) = dep.buurt(Role::Resident)?;
    let a = Device::joined(&dep.url(0), &invite, "Ans").await?;
    let b = Device::joined(&dep.url(1), &invite, "Bram").await?;
    let req = a
        .store
        .create_help(&NewHelp::ask("company", "Wie wil er koffie drinken?"))?;
    assert_eq!(a.sync().await?.accepted, 1);
    assert_eq!(b.sync().await?.applied, 1);
    for i in 0..10 {
        let (me, other) = if i % 2 == 0 { (&b, &a) } else { (&a, &b) };
        me.store.add_comment(&req, &format!("Reactie {i}"))?;
        let r = me.sync().await?;
        assert_eq!(
            (r.accepted, r.rejected.len(), r.retrying),
            (1, 0, 0),
            "comment {i}"
        );
        assert_eq!(other.sync().await?.applied, 1, "comment {i} arrived");
    }
    assert_eq!(a.store.comments(&req)?.len(), 10);
    assert_eq!(a.store.projection_dump()?, b.store.projection_dump()?);
    // A device joined through either relay pulls the same log.
    let c = Device::joined(&dep.url(1), &invite, "Cor").await?;
    let d = Device::joined(&dep.url(0), &invite, "Dini").await?;
    assert_eq!(c.sync().await?.pulled, 11);
    assert_eq!(d.sync().await?.pulled, 11);
    assert_eq!(c.store.projection_dump()?, a.store.projection_dump()?);
    Ok(())
}

/// A device live on relay 1 is woken by a push through relay 0 — also after PostgreSQL was
/// stopped and started again, which drops every relay's listening connection. While the
/// database is away, devices syncing under load get `503 unavailable`, both relays' `/readyz`
/// fail, nothing is acknowledged; once it is back, everything converges without a relay
/// restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_crosses_relays_and_a_stopped_database_is_survived_under_load() -> TestResult {
    let mut dep = Deployment::start().await?;
    let (_, invite) = dep.buurt(Role::Resident)?;
    let writer = Arc::new(Device::joined(&dep.url(0), &invite, "Schrijver").await?);
    let reader = Arc::new(Device::joined(&dep.url(1), &invite, "Lezer").await?);
    let busy: Vec<Arc<Device>> = vec![
        Arc::new(Device::joined(&dep.url(0), &invite, "Druk 1").await?),
        Arc::new(Device::joined(&dep.url(1), &invite, "Druk 2").await?),
    ];

    let (pulled_tx, mut pulled_rx) = tokio::sync::mpsc::unbounded_channel::<usize>();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let r = reader.clone();
    let live = tokio::spawn(async move {
        r.client
            .live(
                &r.store,
                &r.buurt,
                |res| {
                    if let Ok(rep) = res {
                        let _ = pulled_tx.send(rep.applied);
                    }
                },
                async {
                    let _ = stop_rx.await;
                },
            )
            .await
    });
    // Waits for the live client's own reports; the timeout only fails the test.
    async fn heard(rx: &mut tokio::sync::mpsc::UnboundedReceiver<usize>) -> TestResult<usize> {
        loop {
            let next = tokio::time::timeout(Duration::from_secs(30), rx.recv()).await?;
            let applied = next.ok_or("the live client stopped reporting")?;
            if applied > 0 {
                return Ok(applied);
            }
        }
    }
    // The initial sync.
    tokio::time::timeout(Duration::from_secs(30), pulled_rx.recv()).await?;

    writer
        .store
        .create_help(&NewHelp::ask("groceries", "Boodschappen"))?;
    writer.sync().await?;
    assert_eq!(
        heard(&mut pulled_rx).await?,
        1,
        "woken through the other relay"
    );

    // Load: the busy devices create and sync in a loop until told to stop, counting their
    // successes and their `unavailable` answers as they go.
    let running = Arc::new(AtomicBool::new(true));
    let mut load = Vec::new();
    let mut counts: Vec<Arc<[AtomicUsize; 2]>> = Vec::new();
    for (n, d) in busy.iter().enumerate() {
        let (d, running) = (d.clone(), running.clone());
        let count = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
        counts.push(count.clone());
        load.push(tokio::spawn(async move {
            let mut other = Vec::new();
            let mut i = 0;
            while running.load(SeqCst) {
                d.store
                    .create_help(&NewHelp::ask("odd_jobs", &format!("Klus {n}-{i}")))
                    .unwrap();
                i += 1;
                match d.client.sync(&d.store, &d.buurt).await {
                    Ok(_) => count[OK].fetch_add(1, SeqCst),
                    Err(noaber_core::Error::Relay {
                        status: 503, code, ..
                    }) if code == "unavailable" => count[UNAVAILABLE].fetch_add(1, SeqCst),
                    Err(e) => {
                        other.push(e.to_string());
                        0
                    }
                };
                // Pacing only: a device syncing without pause would be a benchmark.
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            other
        }));
    }
    // Every busy device synced once before the database goes.
    until(&counts, "a first sync", |_, c| c[OK].load(SeqCst) > 0).await?;
    dep.cluster.stop()?;
    // While it is away: syncs are refused as unavailable, readiness fails on both relays.
    let http = reqwest::Client::new();
    for i in 0..2 {
        let mut status = 0;
        for _ in 0..100 {
            status = http
                .get(format!("{}/readyz", dep.direct(i)))
                .send()
                .await?
                .status()
                .as_u16();
            if status == 503 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(status, 503, "relay {i} is not ready without its database");
    }
    let during = writer
        .store
        .create_help(&NewHelp::ask("groceries", "Tijdens de storing"))?;
    match writer.client.sync(&writer.store, &writer.buurt).await {
        Err(noaber_core::Error::Relay { status, code, .. }) => {
            assert_eq!((status, code.as_str()), (503, "unavailable"));
        }
        other => panic!("a sync without a database answered {other:?}"),
    }
    assert_eq!(writer.store.sync_status(&writer.buurt)?.pending, 1);
    // Every busy device was refused as unavailable (and nothing else) while it was away.
    until(&counts, "an `unavailable`", |_, c| {
        c[UNAVAILABLE].load(SeqCst) > 0
    })
    .await?;
    dep.cluster.restart()?;
    let synced_before: Vec<usize> = counts.iter().map(|c| c[OK].load(SeqCst)).collect();

    // Back: the writer's change goes through by itself, without a relay restart.
    let mut synced = false;
    for _ in 0..100 {
        if writer.sync().await.is_ok() {
            synced = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(synced, "the relay recovered by itself");
    assert_eq!(writer.store.sync_status(&writer.buurt)?.pending, 0);
    // And every busy device syncs again, without a relay restart.
    until(&counts, "a sync after the restart", |i, c| {
        c[OK].load(SeqCst) > synced_before[i]
    })
    .await?;
    running.store(false, SeqCst);
    for task in load {
        let other = task.await?;
        assert!(
            other.is_empty(),
            "only `unavailable` while away: {other:?}{}",
            dep.logs()
        );
    }
    // The live reader catches up (woken by whichever push came last).
    while reader.store.help(&during).is_err() {
        heard(&mut pulled_rx).await?;
    }
    // Now nobody else writes: one change through relay 0 must wake the reader on relay 1,
    // whose listening connection was dropped with the database and made again.
    let after = writer
        .store
        .create_help(&NewHelp::ask("groceries", "Na de storing"))?;
    writer.sync().await?;
    while reader.store.help(&after).is_err() {
        heard(&mut pulled_rx).await?;
    }
    let _ = stop_tx.send(());
    live.await??;
    dep.check_alive()?;
    let mut all = busy.clone();
    all.push(writer.clone());
    all.push(reader.clone());
    settle(&all).await?;
    // Nothing acknowledged was lost, nothing stored twice: a fresh device pulls every item.
    let fresh = Device::joined(&dep.url(1), &invite, "Nieuw").await?;
    fresh.sync().await?;
    assert_eq!(items(&fresh)?, items(&writer)?);
    assert_eq!(
        fresh.store.projection_dump()?,
        writer.store.projection_dump()?
    );
    Ok(())
}

/// A caretaker's photo goes up through relay 0; halfway the balancer moves the upload to relay
/// 1, which continues it; a resident on relay 1 and one on relay 0 fetch it. No relay's data
/// directory holds it: the bytes are in the database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_uploaded_through_one_relay_is_fetched_through_the_other() -> TestResult {
    let dep = Deployment::start().await?;
    let (buurt, caretakers) = dep.buurt(Role::Caretaker)?;
    let residents = dep.invite(&buurt, Role::Resident)?;
    let care = Device::joined(&dep.url(0), &caretakers, "Huismeester").await?;
    let ans = Device::joined(&dep.url(1), &residents, "Ans").await?;
    let bram = Device::joined(&dep.url(0), &residents, "Bram").await?;

    let camera = include_bytes!("../../fixtures/photos/camera.jpg");
    let mut original = camera[..camera.len() - 2].to_vec();
    original.extend((0..600_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8 % 0xFF));
    original.extend_from_slice(&[0xFF, 0xD9]);
    let id: EntityId = care
        .store
        .create_report(&NewReport::at("lighting", 52.0907, 5.1214))?;
    let photo = care.store.attach_photo(&id, &original)?;
    assert!(photo.size > UPLOAD_CHUNK as u64, "more than one chunk");
    care.sync().await?;

    // The first chunk reaches relay 0; the connection is cut in the second.
    dep.slots[0]
        .proxy
        .cut_next_request_after(UPLOAD_CHUNK + UPLOAD_CHUNK / 2);
    let first = care
        .client
        .upload_photos(&care.store, &care.buurt, |_| {})
        .await?;
    assert_eq!((first.completed, first.waiting), (0, 1));
    assert_eq!(care.store.photo_uploads()?[0].sent, UPLOAD_CHUNK as u64);
    // The balancer now sends the caretaker to relay 1, which knows where the upload stands.
    let relay1 = dep.slots[1].relay.as_ref().expect("running").addr;
    dep.slots[0].proxy.retarget(relay1);
    let second = care
        .client
        .upload_photos(&care.store, &care.buurt, |_| {})
        .await?;
    assert_eq!((second.completed, second.waiting), (1, 0));
    assert_eq!(
        second.bytes_sent,
        photo.size - UPLOAD_CHUNK as u64,
        "resumed"
    );
    let relay0 = dep.slots[0].relay.as_ref().expect("running").addr;
    dep.slots[0].proxy.retarget(relay0);

    let mine = care.store.photo(&photo.hash)?.expect("taken here");
    for reader in [&ans, &bram] {
        reader.sync().await?;
        let got = reader
            .client
            .fetch_photo(&reader.store, &reader.buurt, &photo.hash)
            .await?
            .expect("uploaded");
        assert_eq!(got, mine);
    }
    for slot in &dep.slots {
        let blobs = slot.data.path().join("blobs");
        assert!(
            !blobs.join("sha256").exists(),
            "a relay on PostgreSQL keeps no photo files"
        );
    }
    Ok(())
}

/// kill -9, 45 times in turn: relay 0, relay 1, the database — each while the devices (two on
/// each relay) are in the middle of syncing new requests and comments on one shared request.
/// After each cycle, everything a device has acknowledged is in the log. At the end every
/// device converges to identical projections, and fresh devices on either relay pull exactly
/// what was created: no acknowledged change lost, none stored twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_loop_over_both_relays_and_the_database_loses_nothing() -> TestResult {
    const CYCLES: usize = 45;
    const PER_CYCLE: usize = 2;
    let mut dep = Deployment::start().await?;
    let (_, invite) = dep.buurt(Role::Resident)?;
    let mut devices = Vec::new();
    for i in 0..4 {
        let d = Device::joined(&dep.url(i % 2), &invite, &format!("Buur {i}")).await?;
        devices.push(Arc::new(d));
    }
    let shared = devices[0]
        .store
        .create_help(&NewHelp::ask("company", "Samen koken?"))?;
    devices[0].sync().await?;
    for d in &devices[1..] {
        d.sync().await?;
    }
    let (mut relay_kills, mut db_kills, mut failed_syncs) = (0, 0, 0);
    let mut created: Vec<Vec<(usize, EntityId)>> = vec![Vec::new(); devices.len()];
    for cycle in 0..CYCLES {
        for (n, d) in devices.iter().enumerate() {
            for k in 0..PER_CYCLE {
                let title = format!("Klus {cycle}-{n}-{k}");
                let id = d.store.create_help(&NewHelp::ask("odd_jobs", &title))?;
                created[n].push((cycle, id));
            }
            d.store
                .add_comment(&shared, &format!("Ronde {cycle} van {n}"))?;
        }
        let syncs: Vec<_> = devices
            .iter()
            .map(|d| {
                let d = d.clone();
                tokio::spawn(async move { d.client.sync(&d.store, &d.buurt).await })
            })
            .collect();
        // Somewhere in the middle of the round trips.
        tokio::time::sleep(Duration::from_millis((cycle as u64 * 7) % 40)).await;
        let victim = cycle % 3;
        if victim == 2 {
            dep.cluster.crash()?;
            db_kills += 1;
        } else {
            dep.kill(victim);
            relay_kills += 1;
        }
        let mut outcomes = Vec::new();
        for s in syncs {
            let r = s.await?;
            if r.is_err() {
                failed_syncs += 1;
            }
            outcomes.push(format!("{r:?}"));
        }
        if victim == 2 {
            dep.cluster.restart()?;
        } else {
            dep.restart(victim)?;
        }
        dep.check_alive()?;
        // An acknowledgement means committed: a device with nothing pending has every request
        // it created in the database's log, whatever was killed.
        let (db, connection) = tokio_postgres::connect(&dep.conn, tokio_postgres::NoTls).await?;
        tokio::spawn(connection);
        for (n, d) in devices.iter().enumerate() {
            if d.store.sync_status(&d.buurt)?.pending != 0 {
                continue;
            }
            for (c, id) in &created[n] {
                let rows = db
                    .query(
                        "SELECT seq FROM log WHERE doc = decode($1, 'hex')",
                        &[&id.as_str()],
                    )
                    .await?;
                if rows.is_empty() {
                    return Err(format!(
                        "cycle {cycle} (victim {victim}): device {n} has nothing pending, yet \
                         its request {id} of cycle {c} is not in the log; the syncs: \
                         {outcomes:#?}{}",
                        dep.logs()
                    )
                    .into());
                }
            }
        }
    }
    assert_eq!((relay_kills, db_kills), (30, 15));
    assert!(failed_syncs > 0, "some kills hit a sync in flight");
    if let Err(e) = settle(&devices).await {
        // Where the changes only some devices hold stand in the database's log.
        let (client, connection) =
            tokio_postgres::connect(&dep.conn, tokio_postgres::NoTls).await?;
        tokio::spawn(connection);
        let mut found = Vec::new();
        let first = devices[0].store.projection_dump()?;
        for (i, d) in devices.iter().enumerate() {
            for line in d.store.projection_dump()? {
                if first.contains(&line) || !line.starts_with("entities: Text(\"") {
                    continue;
                }
                let id = &line["entities: Text(\"".len()..][..32];
                let rows = client
                    .query(
                        "SELECT seq, device FROM log WHERE doc = decode($1, 'hex') ORDER BY seq",
                        &[&id],
                    )
                    .await?;
                let rows: Vec<(i64, i64)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
                found.push(format!("device {i} holds {id}; the log: {rows:?}"));
            }
        }
        return Err(format!("{e}\n{}{}", found.join("\n"), dep.logs()).into());
    }
    let expected_items = 1 + CYCLES * PER_CYCLE * devices.len();
    let expected_comments = CYCLES * devices.len();
    for d in &devices {
        assert_eq!(items(d)?, expected_items);
        assert_eq!(d.store.comments(&shared)?.len(), expected_comments);
    }
    let creations = expected_items + expected_comments;
    for relay in 0..2 {
        let fresh = Device::joined(&dep.url(relay), &invite, "Nieuw").await?;
        let r = fresh.sync().await?;
        assert_eq!(
            r.pulled, creations,
            "relay {relay}: each change stored once"
        );
        assert_eq!(
            fresh.store.projection_dump()?,
            devices[0].store.projection_dump()?
        );
    }
    eprintln!(
        "{CYCLES} cycles: {relay_kills} relay kills, {db_kills} database kills, \
         {failed_syncs} syncs cut, {creations} changes"
    );
    Ok(())
}
