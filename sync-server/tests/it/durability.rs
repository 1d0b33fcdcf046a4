//! An acknowledgement means durable; many concurrent pushers share commits.

use std::collections::HashSet;
use std::sync::Arc;

use noaber_core::Role;
use noaber_core::sync::wire::SyncRequest;
use noaber_relay::storage::{SqliteStorage, Storage};
use noaber_relay::{Config, Relay};

use crate::support::{Device, TestRelay, TestResult, ask};

/// Every hash in the `log` table of the database file at `dir`, read with a fresh connection.
fn logged_hashes(dir: &std::path::Path) -> TestResult<HashSet<Vec<u8>>> {
    let conn = rusqlite::Connection::open(dir.join("relay.sqlite3"))?;
    let mut stmt = conn.prepare("SELECT hash FROM log")?;
    let rows = stmt.query_map([], |r| r.get::<_, Vec<u8>>(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_change_survives_a_crash() -> TestResult {
    let relay = TestRelay::start().await?;
    let (buurt, org) = relay.buurt("Alpha")?;
    let mut a = Device::join(&relay, &org, "Ans", Role::Organiser).await?;
    let mut acked = HashSet::new();
    for round in 0..3 {
        for i in 0..7 {
            ask(&a, &format!("vraag {round}.{i}"))?;
        }
        let hashes: Vec<String> = a
            .store
            .pending_changes(100)?
            .into_iter()
            .map(|c| c.hash)
            .collect();
        let resp = a.sync(&relay).await?;
        assert!(resp.rejected.is_empty());
        acked.extend(hashes);
    }
    assert_eq!(acked.len(), 21);

    // What a crash right now would leave on disk: the database and its WAL, copied while the
    // relay still has them open, then opened afresh elsewhere.
    let snapshot = tempfile::tempdir()?;
    for f in ["relay.sqlite3", "relay.sqlite3-wal"] {
        let from = relay.dir.path().join(f);
        if from.exists() {
            std::fs::copy(&from, snapshot.path().join(f))?;
        }
    }
    let on_disk: HashSet<String> = logged_hashes(snapshot.path())?
        .iter()
        .map(|h| h.iter().map(|b| format!("{b:02x}")).collect())
        .collect();
    assert!(
        acked.is_subset(&on_disk),
        "acknowledged changes missing after a crash"
    );

    assert_eq!(relay.storage().head(&buurt)?, 21);
    relay.kill();
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_relay_restarts_with_everything_it_acknowledged() -> TestResult {
    let relay = TestRelay::start().await?;
    let (buurt, org) = relay.buurt("Alpha")?;
    let mut a = Device::join(&relay, &org, "Ans", Role::Organiser).await?;
    for i in 0..10 {
        ask(&a, &format!("vraag {i}"))?;
    }
    a.sync_all(&relay).await?;
    let dir = relay.kill();

    let config = Config::with_data(dir.path());
    let relay = TestRelay::start_in(dir, config).await?;
    assert_eq!(relay.storage().head(&buurt)?, 10);
    let code_ = relay.invite(&buurt, Role::Resident, 1)?;
    let mut b = Device::join(&relay, &code_, "Bert", Role::Resident).await?;
    let resp = b.sync(&relay).await?;
    assert_eq!(resp.pull.len(), 10);
    // Ans's device has nothing left to push, and re-pushing would change nothing.
    assert_eq!(a.store.pending_count()?, 0);
    relay.stop().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_pushers_are_all_acknowledged_and_all_stored() -> TestResult {
    let relay = Arc::new(TestRelay::start().await?);
    let (buurt, _) = relay.buurt("Alpha")?;
    let code_ = relay.invite(&buurt, Role::Resident, 100)?;
    let mut devices = Vec::new();
    for i in 0..50 {
        let d = Device::join(&relay, &code_, &format!("buur {i}"), Role::Resident).await?;
        for j in 0..4 {
            ask(&d, &format!("vraag {i}.{j}"))?;
        }
        devices.push(d);
    }
    let mut tasks = tokio::task::JoinSet::new();
    for d in devices {
        let relay = Arc::clone(&relay);
        tasks.spawn(async move {
            let (seqs, push) = d.pending()?;
            let resp = relay
                .sync(
                    d.token(),
                    &SyncRequest {
                        v: 1,
                        cursor: 0,
                        push,
                        max: Some(0),
                    },
                )
                .await?
                .map_err(|e| format!("{e:?}"))?;
            TestResult::Ok((seqs.len(), resp.rejected.len()))
        });
    }
    let mut pushed = 0;
    while let Some(done) = tasks.join_next().await {
        let (n, rejected) = done??;
        assert_eq!(rejected, 0);
        pushed += n;
    }
    assert_eq!(pushed, 200);
    assert_eq!(relay.storage().head(&buurt)?, 200);
    // All of them in the database, each once, seqs 1..=200 without a gap.
    let everything = noaber_relay::storage::Puller {
        device: noaber_relay::DeviceId::new()?,
        member: noaber_core::MemberId::new()?,
        coordinator: true,
    };
    let page = relay.storage().pull(&buurt, 0, 1_000, &everything)?;
    let seqs: Vec<u64> = page.changes.iter().map(|c| c.seq).collect();
    assert_eq!(seqs, (1..=200).collect::<Vec<_>>());
    let relay = Arc::try_unwrap(relay).map_err(|_| "relay still shared")?;
    let dir = relay.kill();
    assert_eq!(logged_hashes(dir.path())?.len(), 200);
    Ok(())
}

#[test]
fn storage_reopens_with_what_it_committed() -> TestResult {
    let dir = tempfile::tempdir()?;
    let buurt = noaber_relay::BuurtId::new()?;
    {
        let s = SqliteStorage::open_dir(dir.path())?;
        s.create_buurt(&buurt, "Alpha", 0)?;
    }
    let s = SqliteStorage::open_dir(dir.path())?;
    assert_eq!(s.buurt(&buurt)?.map(|b| b.name), Some("Alpha".into()));
    let relay = Relay::open(&Config::with_data(dir.path()))?;
    assert_eq!(relay.storage().buurten()?.len(), 1);
    Ok(())
}
