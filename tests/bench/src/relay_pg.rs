//! The `relay` suite's PostgreSQL figures: durable changes per second with **two relay
//! processes on one database**, against **one relay on the same kind of database** as the
//! baseline, in the same run.
//!
//! A private PostgreSQL cluster with `fsync` on (`pg_harness::Cluster::start_durable`), a fresh
//! database per round; devices in several buurten split between the relays (round-robin, as a
//! balancer would), the same closed loop as the SQLite throughput figure. Rounds alternate
//! (one relay, two relays, one, two) and each figure is the median of its rounds. On a machine
//! with few cores the two relays, the database and the load generator share them, so the ratio
//! says what a second relay costs or gains here, not on a real deployment.

use noaber_core::Role;

use crate::pg_harness::Cluster;
use crate::relay::{LoadDevice, closed_loop};
use crate::report::Report;
use crate::stats::median;
use crate::workload::RelayProcess;
use crate::{BenchResult, Scale};

/// One round on a fresh database with `relays` relay processes; durable changes per second.
async fn round(cluster: &Cluster, relays: usize, scale: Scale) -> BenchResult<f64> {
    let buurten = scale.pick(4, 1);
    let per_buurt = scale.pick(8, 2);
    let per_device = scale.pick(500, 10);
    let conn = cluster.database()?;
    let mut procs = Vec::new();
    for _ in 0..relays {
        procs.push(RelayProcess::start_on_postgres(&conn, &[])?);
    }
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(120))
        .build()?;
    let mut devices = Vec::new();
    for b in 0..buurten {
        let (_, invite) = procs[b % relays].buurt(Role::Resident)?;
        for d in 0..per_buurt {
            let via = &procs[(b * per_buurt + d) % relays];
            devices.push(LoadDevice::new(&http, &via.url(), &invite, per_device).await?);
        }
    }
    let total = buurten * per_buurt * per_device;
    let (acked, secs, _) = closed_loop(devices, &http, 50, 200).await?;
    if acked != total {
        return Err(format!("{acked} of {total} changes acknowledged").into());
    }
    for p in &mut procs {
        if let Some(how) = p.exited() {
            return Err(format!("a relay exited during the round: {how}").into());
        }
    }
    Ok(acked as f64 / secs)
}

/// Adds `durable_changes_per_s_1_relay_pg`, `durable_changes_per_s_2_relays` and their ratio.
pub async fn measure(scale: Scale, r: &mut Report) -> BenchResult<()> {
    let cluster = Cluster::start_durable()?;
    let (mut one, mut two) = (Vec::new(), Vec::new());
    for _ in 0..scale.pick(2, 1) {
        one.push(round(&cluster, 1, scale).await?);
        two.push(round(&cluster, 2, scale).await?);
        eprintln!(
            "relay: on PostgreSQL, one relay {:.0}/s, two relays {:.0}/s",
            one.last().copied().unwrap_or(0.0),
            two.last().copied().unwrap_or(0.0)
        );
    }
    let (one, two) = (median(&one), median(&two));
    r.add(
        "durable_changes_per_s_1_relay_pg",
        one,
        "acknowledged changes per second, one relay on PostgreSQL (fsync on): the baseline",
    );
    r.add(
        "durable_changes_per_s_2_relays",
        two,
        "acknowledged changes per second, two relays on one PostgreSQL, devices split",
    );
    r.add(
        "ratio_2_relays_vs_1_relay_pg",
        two / one,
        "two relays' throughput / one relay's, same database kind, same run",
    );
    Ok(())
}
