//! `peer`: Noaber beside the stock Automerge stack (`samod` clients, the
//! `@automerge/automerge-repo-sync-server` npm package as server), the same two workloads in one
//! run, alternating the two sides round by round; bytes counted on each client's socket by the
//! same counting proxy.
//!
//! - reconnect: a device holding 1 000 documents reconnects after 10 were changed elsewhere;
//! - initial sync: a new device fetches a buurt (a set of documents) of 1 000.
//!
//! Noaber's side is the `sync` suite's fixture (`sync::Fixture`: mixed documents, a title edit
//! per changed document); the stock side is `stock::StockStack` (help-request-like documents of
//! ~540 bytes, one small log entry per changed document). Ratios are peer / Noaber: above 1 is
//! Noaber ahead.

use crate::report::Report;
use crate::stats::median;
use crate::stock::StockStack;
use crate::sync::Fixture;
use crate::{BenchResult, Scale};

/// Runs the suite.
pub async fn run(scale: Scale) -> BenchResult<Report> {
    let docs = scale.pick(1_000, 20);
    let changed = scale.pick(10, 2);
    let rounds = scale.pick(5, 1);
    eprintln!("peer: seeding Noaber's relay with {docs} documents");
    let ours = Fixture::new(docs).await?;
    eprintln!("peer: starting the stock stack (npm ci if needed)");
    let mut theirs = StockStack::start().await?;

    let (mut n_bytes, mut n_ms, mut n_init) = (Vec::new(), Vec::new(), Vec::new());
    let (mut p_bytes, mut p_ms, mut p_init, mut p_msgs) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        eprintln!("peer: round {} of {rounds}", round + 1);
        let r = ours.reconnect(changed, round).await?;
        n_bytes.push((r.up + r.down) as f64);
        n_ms.push(r.ms);
        let p = theirs.reconnect(docs, changed).await?;
        p_bytes.push((p.bytes_up + p.bytes_down) as f64);
        p_ms.push(p.ms);
        p_msgs.push(p.messages.unwrap_or(0) as f64);
        let (ms, _) = ours.initial_sync().await?;
        n_init.push(ms);
        p_init.push(theirs.initial_sync(docs).await?.ms);
    }
    let ratio = |a: f64, b: f64| a / b.max(f64::MIN_POSITIVE);
    let mut r = Report::new("peer");
    r.add(
        "noaber_reconnect_bytes",
        median(&n_bytes),
        "Noaber: reconnect, bytes up + down",
    );
    r.add(
        "peer_reconnect_bytes",
        median(&p_bytes),
        "stock: reconnect, bytes up + down",
    );
    r.add(
        "reconnect_bytes_ratio",
        ratio(median(&p_bytes), median(&n_bytes)),
        "stock / Noaber; aim ≥ 50",
    );
    r.add(
        "noaber_reconnect_ms",
        median(&n_ms),
        "Noaber: reconnect (ms)",
    );
    r.add("peer_reconnect_ms", median(&p_ms), "stock: reconnect (ms)");
    r.add(
        "reconnect_time_ratio",
        ratio(median(&p_ms), median(&n_ms)),
        "stock / Noaber; aim ≥ 10",
    );
    r.add(
        "peer_reconnect_messages",
        median(&p_msgs),
        "stock: reconnect, protocol messages",
    );
    r.add(
        "noaber_initial_sync_ms",
        median(&n_init),
        "Noaber: initial sync (ms)",
    );
    r.add(
        "peer_initial_sync_ms",
        median(&p_init),
        "stock: initial sync (ms)",
    );
    r.add(
        "initial_sync_time_ratio",
        ratio(median(&p_init), median(&n_init)),
        "stock / Noaber; aim ≥ 10",
    );
    r.add(
        "peer_server_rss_mb",
        theirs.server_rss_mb().unwrap_or(0.0),
        "stock server memory (MB)",
    );
    r.add(
        "noaber_relay_rss_mb",
        ours.relay.rss_mb(),
        "Noaber relay memory (MB)",
    );
    r.add(
        "peer_redials",
        theirs.redials() as f64,
        "stock: measured rounds that needed a redial",
    );
    r.note(format!(
        "{docs} documents, {changed} changed per reconnect, {rounds} rounds alternating \
         Noaber and stock, medians; loopback, counting proxies"
    ));
    Ok(r)
}
