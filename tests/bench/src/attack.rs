//! `relay` suite, under attack: an honest device's sync round trip while one organiser account
//! streams op bombs on three connections and grows a document to the per-document bound,
//! against the same device's round trips on the same relay just before (issue 11). The relay
//! runs with its address space capped at 2 GiB (`ulimit -v`): an allocation over it would abort
//! the process, so the suite fails if the relay does not live through it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use noaber_core::Role;
use noaber_core::model::help::NewHelp;
use noaber_core::sync::wire::MAX_DOC_OPS;
use noaber_e2e::attack::Attacker;

use crate::report::Report;
use crate::stats::percentile;
use crate::sync::Device;
use crate::workload::RelayProcess;
use crate::{BenchResult, Scale};

/// The relay's address-space cap.
const CAP: u64 = 2 << 30;

/// `rounds` honest round trips: a help request made, then a sync; their times in ms.
async fn honest(device: &Device, rounds: usize, tag: &str) -> BenchResult<Vec<f64>> {
    let mut times = Vec::with_capacity(rounds);
    for i in 0..rounds {
        device
            .t
            .store
            .create_help(&NewHelp::ask("groceries", &format!("{tag} {i}")))?;
        let started = Instant::now();
        let report = device.sync().await?;
        times.push(started.elapsed().as_secs_f64() * 1e3);
        if let Some(r) = report.rejected.first() {
            return Err(format!("an honest change was refused: {r:?}").into());
        }
    }
    Ok(times)
}

/// Measures and adds the `attack_*` figures to `r`.
pub async fn measure(scale: Scale, r: &mut Report) -> BenchResult<()> {
    let rounds = scale.pick(300, 10);
    let mut relay = RelayProcess::start_capped(&[], Some(CAP))?;
    let (_, attack_invite) = relay.buurt(Role::Organiser)?;
    let (_, honest_invite) = relay.buurt(Role::Resident)?;
    let device = Device::join(&relay.url(), &honest_invite, "Bea").await?;
    let before = honest(&device, rounds, "Voor").await?;

    let attacker = Arc::new(Attacker::join(&relay.url(), &attack_invite).await?);
    let stop = Arc::new(AtomicBool::new(false));
    let bombs = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for connection in 0..3u8 {
        let (a, stop, bombs) = (attacker.clone(), stop.clone(), bombs.clone());
        tasks.push(tokio::spawn(async move {
            let mut round = 0u8;
            while !stop.load(Ordering::Relaxed) {
                let codes = a
                    .bombs([connection, round, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1])
                    .await?;
                if codes != ["too_large", "too_large", "too_large", "bad_change"] {
                    return Err(format!("bombs answered {codes:?}").into());
                }
                bombs.fetch_add(4, Ordering::Relaxed);
                round = round.wrapping_add(1);
            }
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
        }));
    }
    let comments = Arc::new(AtomicU64::new(0));
    {
        let (a, stop, comments) = (attacker.clone(), stop.clone(), comments.clone());
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let (accepted, code, reason) = a.grow(2 * MAX_DOC_OPS / 4_990, &stop).await?;
                comments.fetch_add(accepted, Ordering::Relaxed);
                if !matches!(code.as_str(), "too_large" | "") {
                    return Err(format!("growing answered {code:?}: {reason}").into());
                }
            }
            Ok(())
        }));
    }
    let started = Instant::now();
    let under = honest(&device, rounds, "Tijdens").await?;
    let secs = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await??;
    }
    if let Some(how) = relay.exited() {
        return Err(format!("the relay died under the attack: {how}").into());
    }
    let ratio = |p: f64| percentile(&under, p) / percentile(&before, p).max(1e-3);
    r.add(
        "attack_sync_p50_ratio",
        ratio(50.0),
        "honest sync round trip under op-bomb attack ÷ the same just before, median",
    );
    r.add(
        "attack_sync_p99_ratio",
        ratio(99.0),
        "honest sync round trip under op-bomb attack ÷ the same just before, p99",
    );
    r.add(
        "attack_sync_p50_ms",
        percentile(&under, 50.0),
        "honest sync round trip under op-bomb attack, median (ms)",
    );
    r.add(
        "attack_bombs_per_s",
        bombs.load(Ordering::Relaxed) as f64 / secs,
        "op bombs refused per second meanwhile",
    );
    r.add(
        "attack_comments_per_s",
        comments.load(Ordering::Relaxed) as f64 / secs,
        "5 000-character comments accepted per second meanwhile (documents grown to the bound)",
    );
    r.add(
        "attack_relay_peak_mb",
        relay.peak_rss_mb(),
        "relay peak resident memory through the attack (MB); address space capped at 2 GiB",
    );
    r.note(format!(
        "under attack: {rounds} honest syncs before and {rounds} during, one device of another \
         buurt; the attacker (one organiser account) on three connections pushes rounds of four \
         bombs (1 000 000 and 6 000 000 declared puts, 1 000 000 declared predecessors, 99 999 \
         real puts for an uncreated document) and on a fourth grows requests by 5 000-character \
         comments to the 1 000 000-operation bound"
    ));
    Ok(())
}
