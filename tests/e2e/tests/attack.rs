//! Issue 11, "done when": a relay process whose address space is capped (as `ulimit -v 2 GiB`
//! would) lives through a stream of op bombs from one organiser account, on several connections
//! at once, together with a document grown by accepted changes up to the per-document bound,
//! and serves an unrelated buurt all the while. An allocation over the cap aborts the process
//! (Rust cannot catch it), so a relay still running at the end never needed more.
//!
//! Latency under the attack is a benchmark figure (`noaber-bench relay`, `attack_*`), not
//! asserted here: these machines are shared.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use noaber_core::model::help::NewHelp;
use noaber_core::sync::wire::MAX_DOC_OPS;
use noaber_core::{ListQuery, Role};
use noaber_e2e::attack::Attacker;
use noaber_e2e::{Device, RelayProcess, TestResult, now_ms};
use noaber_relay::admin::{self, InviteOptions};
use noaber_relay::storage::SqliteStorage;

const CAP: u64 = 2 << 30;

fn invite(data: &std::path::Path, role: Role) -> TestResult<String> {
    let storage = SqliteStorage::open_dir(data)?;
    let buurt = admin::create_buurt(&storage, "Doelwit", now_ms())?.buurt_id;
    let options = InviteOptions {
        role,
        expires: "7d".into(),
        uses: 10,
        member: None,
    };
    Ok(admin::create_invite(&storage, &buurt, &options, now_ms())?.code)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_relay_capped_at_2_gib_survives_a_stream_of_op_bombs_and_serves_another_buurt()
-> TestResult {
    let data = tempfile::tempdir()?;
    let mut relay = RelayProcess::start_capped(data.path(), Some(CAP))?;
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", relay.child.id()))?;
    assert!(
        limits
            .lines()
            .any(|l| l.starts_with("Max address space") && l.contains(&CAP.to_string())),
        "{limits}"
    );
    let url = relay.url();
    let attacker = Arc::new(Attacker::join(&url, &invite(data.path(), Role::Organiser)?).await?);
    let honest = Device::joined(&url, &invite(data.path(), Role::Resident)?, "Bea").await?;

    // Bombs on three connections at once (see `Attacker::bombs`), while one request grows
    // by accepted comments until the relay refuses the one that would take it over the
    // per-document bound.
    let mut bombers = Vec::new();
    for connection in 0..3u8 {
        let a = attacker.clone();
        bombers.push(tokio::spawn(async move {
            for round in 0..4u8 {
                let codes = a.bombs([connection * 16 + round; 16]).await?;
                assert_eq!(codes, ["too_large", "too_large", "too_large", "bad_change"]);
            }
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
        }));
    }
    let a = attacker.clone();
    let grower = tokio::spawn(async move {
        a.grow(2 * MAX_DOC_OPS / 4_990, &AtomicBool::new(false))
            .await
    });

    // The honest resident of another buurt keeps asking and syncing through all of it.
    let mut asked = 0;
    while !(grower.is_finished() && bombers.iter().all(|b| b.is_finished())) {
        honest
            .store
            .create_help(&NewHelp::ask("groceries", &format!("Boodschappen {asked}")))?;
        let report = honest.sync().await?;
        assert!(report.rejected.is_empty(), "{report:?}");
        asked += 1;
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        if let Some(how) = relay.exited() {
            panic!("the relay died under the attack: {how}");
        }
    }
    for b in bombers {
        b.await??;
    }
    let (accepted, code, reason) = grower.await??;
    assert_eq!(code, "too_large", "{reason}");
    assert!(reason.contains("the document would hold"), "{reason}");
    assert!(
        accepted >= MAX_DOC_OPS / 5_000 - 1,
        "only {accepted} comments"
    );
    assert!(relay.exited().is_none());
    eprintln!(
        "survived {} bomb rounds and {accepted} accepted 5 000-character comments, {asked} honest \
         syncs meanwhile; peak resident memory {} MiB",
        3 * 4,
        relay.peak_rss_mib().unwrap_or(0)
    );

    // Afterwards: everything the honest member asked is at the relay.
    assert!(asked > 0);
    assert_eq!(honest.store.pending_count()?, 0);
    let mine = honest.store.list(&ListQuery {
        mine: true,
        ..ListQuery::default()
    })?;
    assert!(!mine.items.is_empty());
    Ok(())
}
