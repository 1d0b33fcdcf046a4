//! Refusals for now (`missing_dependencies`, `unavailable`, docs/protocol.md): a change the
//! relay cannot take yet stays pending and goes through once it can, instead of being refused
//! for good and forking its document (issue 12).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use noaber_core::model::help::NewHelp;
use noaber_core::sync::engine::retry_wait_ms;
use noaber_core::{EntityId, Role};
use noaber_e2e::{Device, InProcessRelay, TestResult};

/// Ans's new request, not yet pushed, which Bram holds already: it reached him another way than
/// through this relay.
async fn an_unpushed_request_seen_by_a_neighbour()
-> TestResult<(InProcessRelay, Device, Device, EntityId)> {
    let relay = InProcessRelay::start().await?;
    let (_, invite) = relay.buurt("De Linde", Role::Resident)?;
    let a = Device::joined(&relay.url, &invite, "Ans").await?;
    let b = Device::joined(&relay.url, &invite, "Bram").await?;
    let id = a
        .store
        .create_help(&NewHelp::ask("groceries", "Boodschappen"))?;
    let request: Vec<_> = a
        .store
        .pending_changes(10)?
        .into_iter()
        .map(|c| (c.entity, c.bytes))
        .collect();
    b.store.apply_remote_changes(&request)?;
    Ok((relay, a, b, id))
}

/// A neighbour's comment on a request the relay does not hold yet — the request reached the
/// neighbour another way, as from a second relay on the same database that this one has not
/// caught up with — is refused `missing_dependencies`, stays pending and held back, and is
/// accepted once the relay has the request; both devices end with the same comment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_refused_for_missing_dependencies_is_retried_and_accepted() -> TestResult {
    let (_relay, a, b, id) = an_unpushed_request_seen_by_a_neighbour().await?;
    b.store.add_comment(&id, "Ik kan dinsdag")?;

    let report = b.sync().await?;
    assert_eq!(
        (report.accepted, report.rejected.len(), report.retrying),
        (0, 0, 1),
        "{report:?}"
    );
    assert_eq!(b.store.pending_count()?, 1);
    assert_eq!(b.store.sync_status(&b.buurt)?.pending, 1);
    assert_eq!(b.store.refused_count()?, 0);
    let report = b.sync().await?;
    assert_eq!(
        (report.accepted, report.retrying),
        (0, 0),
        "held back for now"
    );

    // The relay catches up; after the wait the comment goes through.
    a.sync().await?;
    tokio::time::sleep(Duration::from_millis(
        u64::try_from(retry_wait_ms(1)).unwrap() + 200,
    ))
    .await;
    let report = b.sync().await?;
    assert_eq!(
        (report.accepted, report.rejected.len(), report.retrying),
        (1, 0, 0),
        "{report:?}"
    );
    assert_eq!((b.store.pending_count()?, b.store.refused_count()?), (0, 0));
    a.sync().await?;
    assert_eq!(a.store.comments(&id)?.len(), 1);
    assert_eq!(b.store.comments(&id)?.len(), 1);
    Ok(())
}

/// The same on a live connection: nothing else happens in the buurt after the relay caught up,
/// and the live client pushes the held-back comment by itself when its wait is over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_client_retries_a_refusal_for_now_by_itself() -> TestResult {
    let (_relay, a, b, id) = an_unpushed_request_seen_by_a_neighbour().await?;
    let b = Arc::new(b);

    let (reports_tx, mut reports) = tokio::sync::mpsc::unbounded_channel::<(usize, usize)>();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let live_b = b.clone();
    let live = tokio::spawn(async move {
        live_b
            .client
            .live(
                &live_b.store,
                &live_b.buurt,
                |res| {
                    if let Ok(rep) = res {
                        let _ = reports_tx.send((rep.accepted, rep.retrying));
                    }
                },
                async {
                    let _ = stop_rx.await;
                },
            )
            .await
    });
    // The initial sync, then the comment: refused for now.
    let wait = Duration::from_secs(20);
    assert_eq!(
        tokio::time::timeout(wait, reports.recv()).await?,
        Some((0, 0))
    );
    b.store.add_comment(&id, "Ik kan dinsdag")?;
    let mut seen = Vec::new();
    while !seen.contains(&(0, 1)) {
        seen.push(
            tokio::time::timeout(wait, reports.recv())
                .await?
                .ok_or("live ended")?,
        );
    }
    a.sync().await?;
    // Reports until the comment is accepted; waits on the client's own reports, the timeout
    // only fails the test.
    loop {
        let (accepted, _) = tokio::time::timeout(wait, reports.recv())
            .await?
            .ok_or("live ended")?;
        if accepted == 1 {
            break;
        }
    }
    assert_eq!((b.store.pending_count()?, b.store.refused_count()?), (0, 0));
    let _ = stop_tx.send(());
    live.await??;
    a.sync().await?;
    assert_eq!(a.store.comments(&id)?.len(), 1);
    Ok(())
}
