//! Several devices, each with its own store, against a real relay over real HTTP.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use noaber_core::model::event::{NewEvent, Rsvp};
use noaber_core::model::help::NewHelp;
use noaber_core::model::task::NewTask;
use noaber_core::{ListQuery, Role};
use noaber_e2e::{Device, InProcessRelay, TestResult, now_ms};

/// A small deterministic generator for sync orders (xorshift).
struct Order(u64);
impl Order {
    fn next(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// Three devices edit offline — conflicting claims, an RSVP race for the last place, a cancel
/// racing a match, concurrent title edits — then sync in random orders. All end with identical
/// projections, and the rules hold.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_devices_converge_whatever_the_sync_order() -> TestResult {
    for seed in [1u64, 7, 42, 1234] {
        let relay = InProcessRelay::start().await?;
        let (buurt, org_invite) = relay.buurt("De Linde", Role::Organiser)?;
        let res_invite = relay.invite(&buurt, Role::Resident)?;
        let org = Device::joined(&relay.url, &org_invite, "Fatima").await?;
        let ans = Device::joined(&relay.url, &res_invite, "Ans").await?;
        let piet = Device::joined(&relay.url, &res_invite, "Piet").await?;
        let devices = [&org, &ans, &piet];

        // Shared starting point.
        let start = now_ms() + 86_400_000;
        let mut ev = NewEvent::new("Buurtbarbecue", "Binnentuin", start, start + 3_600_000);
        ev.capacity = Some(1);
        let event = org.store.create_event(&ev)?;
        let task = org.store.create_task(&NewTask::new("Trappenhuis vegen"))?;
        let help = ans
            .store
            .create_help(&NewHelp::ask("groceries", "Boodschappen"))?;
        for d in devices {
            d.sync().await?;
        }
        for d in devices {
            d.sync().await?;
        }
        piet.store.respond_help(&help, "ik kan")?;
        piet.sync().await?;
        org.sync().await?;
        ans.sync().await?;

        // Offline: everyone acts at once.
        ans.store.claim_task(&task)?;
        piet.store.claim_task(&task)?;
        ans.store.rsvp_event(&event, Rsvp::Going)?;
        piet.store.rsvp_event(&event, Rsvp::Going)?;
        ans.store.cancel_help(&help, "al geregeld")?;
        org.store.match_help(&help, &piet.member())?;
        org.store
            .edit_help(&help, Some("Boodschappen dinsdag"), None)?;
        ans.store
            .edit_help(&help, Some("Boodschappen bij de Jumbo"), None)?;

        // Sync in a random order, several times over.
        let mut order = Order(seed);
        for _ in 0..9 {
            devices[order.next(3)].sync().await?;
        }
        for d in devices {
            d.sync().await?;
        }
        for d in devices {
            d.sync().await?;
        }

        let dump = org.store.projection_dump()?;
        assert_eq!(ans.store.projection_dump()?, dump, "seed {seed}");
        assert_eq!(piet.store.projection_dump()?, dump, "seed {seed}");
        for d in devices {
            assert_eq!(
                d.store.sync_status(&d.buurt)?.pending,
                0,
                "everything acknowledged"
            );
        }

        let t = org.store.task(&task)?;
        assert!(
            t.adopter.is_some() && t.backups.len() == 1,
            "one adopter, one backup"
        );
        let e = org.store.event(&event)?;
        assert_eq!(
            (e.confirmed.len(), e.waitlist.len()),
            (1, 1),
            "capacity holds"
        );
        let h = org.store.help(&help)?;
        assert_eq!(
            h.status.as_str(),
            "cancelled",
            "cancel beats a concurrent match"
        );
        assert!(
            h.title.contains("dinsdag") && h.title.contains("Jumbo"),
            "both title edits survive"
        );
        let loser = t.backups[0].clone();
        let notices: Vec<_> = if loser == ans.member() {
            ans.store.my_notices()?
        } else {
            piet.store.my_notices()?
        };
        assert!(
            notices.iter().any(|n| n.code == "claim_lost"),
            "the other claimant is told"
        );
    }
    Ok(())
}

/// A pull larger than one page, and a device that was offline while 10 000 changes were made.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_offline_for_ten_thousand_changes_catches_up() -> TestResult {
    let relay = InProcessRelay::start().await?;
    let (_, invite) = relay.buurt("De Linde", Role::Resident)?;
    let busy = Device::joined(&relay.url, &invite, "Busy").await?;
    let away = Device::joined(&relay.url, &invite, "Away").await?;
    // 1 000 requests with 9 comments each: 10 000 changes (fewer with NOABER_E2E_CHANGES).
    let n: usize = std::env::var("NOABER_E2E_CHANGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let t = std::time::Instant::now();
    let mut current = busy
        .store
        .create_help(&NewHelp::ask("groceries", "Eerste"))?;
    for i in 1..n {
        if i % 10 == 0 {
            current = busy
                .store
                .create_help(&NewHelp::ask("other", &format!("Verzoek {i}")))?;
        } else {
            busy.store
                .add_comment(&current, &format!("opmerking {i}"))?;
        }
    }
    eprintln!("created {n} changes in {:?}", t.elapsed());
    let t = std::time::Instant::now();
    let pushed = busy.sync().await?;
    assert_eq!(pushed.accepted, n);
    eprintln!("pushed in {:?}", t.elapsed());
    let t = std::time::Instant::now();
    let mut progress = Vec::new();
    let pulled = away
        .client
        .sync_with_progress(&away.store, &away.buurt, |_| {
            let s = away.store.sync_status(&away.buurt).unwrap();
            progress.push((s.cursor, s.head));
        })
        .await?;
    assert!(
        progress.len() > 1 && progress[0].0 < progress[0].1,
        "progress: {progress:?}"
    );
    assert_eq!(
        progress.last().map(|p| p.0),
        progress.last().map(|p| p.1),
        "done: cursor = head"
    );
    assert_eq!(pulled.pulled, n);
    eprintln!("pulled in {:?}", t.elapsed());
    assert!(pulled.rounds > 1, "more than one page");
    assert_eq!(away.store.projection_dump()?, busy.store.projection_dump()?);
    let q = ListQuery {
        text: Some("opmerking".into()),
        ..Default::default()
    };
    assert_eq!(
        away.store.list(&q)?.items.len(),
        50,
        "a full first page of matches"
    );
    let counts = away.store.status_counts()?;
    assert_eq!(counts.iter().map(|c| c.count).sum::<i64>(), (n / 10) as i64);
    Ok(())
}

/// Members of one buurt never see another buurt's entities.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buurten_are_separate() -> TestResult {
    let relay = InProcessRelay::start().await?;
    let (_, a_inv) = relay.buurt("A", Role::Resident)?;
    let (_, b_inv) = relay.buurt("B", Role::Resident)?;
    let a = Device::joined(&relay.url, &a_inv, "In A").await?;
    let b = Device::joined(&relay.url, &b_inv, "In B").await?;
    a.store
        .create_help(&NewHelp::ask("groceries", "Alleen voor A"))?;
    a.sync().await?;
    let r = b.sync().await?;
    assert_eq!(r.pulled, 0);
    assert!(b.store.list(&ListQuery::default())?.items.is_empty());
    Ok(())
}

/// The repair path: a device whose log lacks a document's first change (a damaged or
/// restored store) fetches what the document misses from the relay, by heads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_missing_its_dependencies_is_repaired() -> TestResult {
    let relay = InProcessRelay::start().await?;
    let (_, invite) = relay.buurt("De Linde", Role::Resident)?;
    let a = Device::joined(&relay.url, &invite, "A").await?;
    let b = Device::joined(&relay.url, &invite, "B").await?;
    let id = a
        .store
        .create_help(&NewHelp::ask("groceries", "Boodschappen"))?;
    a.store.add_comment(&id, "tweede wijziging")?;
    let changes = a.store.pending_changes(10)?;
    a.sync().await?;

    // b holds only the second change: the document waits for its creation.
    let later = changes[1].bytes.clone();
    b.store.apply_repair(&b.buurt, &id, vec![later])?;
    assert!(
        b.store.help(&id).is_err(),
        "not readable without its creation"
    );
    assert_eq!(b.store.needing_repair(&b.buurt, 10)?.len(), 1);

    let repaired = b.client.repair(&b.store, &b.buurt).await?;
    assert_eq!(repaired, 1);
    assert_eq!(b.store.help(&id)?.title, "Boodschappen");
    assert_eq!(b.store.comments(&id)?.len(), 1);
    assert!(b.store.needing_repair(&b.buurt, 10)?.is_empty());
    Ok(())
}

/// An organiser demoted while offline: the relay refuses their cancel (its entry claims a role
/// the member no longer has), their later comment on that event cannot be accepted either (it
/// depends on the refused change), and the device falls back to the relay's version of the
/// event instead of being stuck for ever. Their other work still syncs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_change_does_not_block_the_device() -> TestResult {
    use noaber_core::model::event::Rsvp;
    let relay = InProcessRelay::start().await?;
    let (buurt, invite) = relay.buurt("De Linde", Role::Organiser)?;
    let org = Device::joined(&relay.url, &invite, "Fatima").await?;
    let start = now_ms() + 86_400_000;
    let new = NewEvent::new("Buurtbarbecue", "Binnentuin", start, start + 3_600_000);
    let event = org.store.create_event(&new)?;
    let other = org
        .store
        .create_help(&NewHelp::ask("groceries", "Boodschappen"))?;
    org.sync().await?;

    // Demoted at the relay; the phone does not know yet.
    let storage = relay.relay.storage();
    noaber_relay::admin::set_role(&**storage, &buurt, &org.member(), Role::Resident)?;
    org.store.cancel_event(&event, "regen")?;
    org.store.add_comment(&event, "jammer")?;
    org.store.add_comment(&other, "dit mag nog wel")?;

    let report = org.sync().await?;
    assert_eq!(
        report.accepted, 1,
        "the comment on the help request is accepted"
    );
    assert_eq!(report.rejected.len(), 2);
    assert!(report.rejected.iter().any(|r| r.code == "forged_entry"));
    assert!(
        report
            .rejected
            .iter()
            .any(|r| r.code == "missing_dependencies")
    );
    assert_eq!(
        report.repaired, 1,
        "the event falls back to the relay's version"
    );
    assert_eq!(
        org.store.event(&event)?.status.as_str(),
        "upcoming",
        "not cancelled"
    );
    assert!(org.store.comments(&event)?.is_empty());
    let status = org.store.sync_status(&org.buurt)?;
    assert_eq!(status.pending, 0, "nothing stuck");
    assert!(
        status.rejected.iter().any(|r| r.code == "forged_entry"),
        "the refusal is shown"
    );

    // The sync told the device its role; as a resident it goes on working with that event.
    assert_eq!(org.store.identity().role, Role::Resident);
    org.store.rsvp_event(&event, Rsvp::Going)?;
    let r = org.sync().await?;
    assert_eq!((r.accepted, r.rejected.len()), (1, 0));
    Ok(())
}

/// A second phone of the same person: an invite bound to that member, and a fresh store that
/// adopts the member id. Both devices then act as one member (one RSVP, not two).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_device_of_the_same_member() -> TestResult {
    use noaber_core::model::event::Rsvp;
    use noaber_relay::admin::{self, InviteOptions};
    let relay = InProcessRelay::start().await?;
    let (buurt, invite) = relay.buurt("De Linde", Role::Organiser)?;
    let phone = Device::joined(&relay.url, &invite, "Fatima").await?;
    let start = now_ms() + 86_400_000;
    let new = NewEvent::new("Buurtbarbecue", "Binnentuin", start, start + 3_600_000);
    let event = phone.store.create_event(&new)?;
    phone.store.rsvp_event(&event, Rsvp::Going)?;
    phone.sync().await?;

    let storage = relay.relay.storage();
    let bound = admin::create_invite(
        &**storage,
        &buurt,
        &InviteOptions {
            role: Role::Resident,
            expires: "1d".into(),
            uses: 1,
            member: Some(phone.member()),
        },
        now_ms(),
    )?;
    // A fresh store, joined without adopting the member, is refused (the id is taken) ...
    let mut tablet = Device::new()?;
    let refused = tablet
        .client
        .join(&tablet.store, &relay.url, &bound.code, "Fatima")
        .await;
    assert!(
        matches!(refused, Err(noaber_core::Error::Relay { status: 409, .. })),
        "{refused:?}"
    );
    // ... and accepted as the same member.
    tablet.store.adopt_member(&phone.member())?;
    let b = tablet
        .client
        .join(&tablet.store, &relay.url, &bound.code, "Fatima")
        .await?;
    tablet.buurt = b.id;
    assert_eq!(
        b.role,
        Role::Organiser,
        "the member's own role, not the invite's"
    );
    tablet.sync().await?;
    tablet.store.rsvp_event(&event, Rsvp::Maybe)?;
    tablet.sync().await?;
    phone.sync().await?;
    let v = phone.store.event(&event)?;
    assert!(
        v.confirmed.is_empty() && v.maybe.len() == 1,
        "one member, latest answer wins"
    );
    assert_eq!(
        phone.store.projection_dump()?,
        tablet.store.projection_dump()?
    );
    // Ids are per buurt: the phone's changes belong to its buurt, so it may adopt a member for
    // its next join; a store that made changes before any join (with its pending ids) may not.
    phone.store.adopt_member(&noaber_core::MemberId::new()?)?;
    assert_eq!(
        phone.store.identity().member.as_str(),
        phone.store.buurt(&phone.buurt)?.member
    );
    let fresh = Device::new()?;
    fresh
        .store
        .create_help(&NewHelp::ask("groceries", "Voor het lid worden"))?;
    assert!(
        fresh
            .store
            .adopt_member(&noaber_core::MemberId::new()?)
            .is_err()
    );
    Ok(())
}

/// The device's live client: connected to `/v1/live`, it syncs as soon as another device's
/// change lands at the relay, without polling, and stops when told.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_device_hears_changes_as_they_land() -> TestResult {
    use std::time::Duration;
    let relay = InProcessRelay::start().await?;
    let (_, invite) = relay.buurt("De Linde", Role::Resident)?;
    let writer = Device::joined(&relay.url, &invite, "Schrijver").await?;
    let reader = std::sync::Arc::new(Device::joined(&relay.url, &invite, "Lezer").await?);

    let (pulled_tx, mut pulled_rx) = tokio::sync::mpsc::unbounded_channel::<(usize, usize)>();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let r = reader.clone();
    let live = tokio::spawn(async move {
        r.client
            .live(
                &r.store,
                &r.buurt,
                |res| {
                    if let Ok(rep) = res {
                        let _ = pulled_tx.send((rep.pulled, rep.accepted));
                    }
                },
                async {
                    let _ = stop_rx.await;
                },
            )
            .await
    });
    // The first report is the initial sync (nothing to pull yet).
    let first = tokio::time::timeout(Duration::from_secs(20), pulled_rx.recv()).await?;
    assert_eq!(first, Some((0, 0)));

    writer
        .store
        .create_help(&NewHelp::ask("groceries", "Boodschappen"))?;
    writer.sync().await?;
    // Waits on the live client's own report, not on a clock; the timeout only fails the test.
    let mut got = 0;
    while got == 0 {
        let next = tokio::time::timeout(Duration::from_secs(20), pulled_rx.recv()).await?;
        got = next.ok_or("the live client stopped reporting")?.0;
    }
    assert_eq!(got, 1);
    assert_eq!(reader.store.list(&ListQuery::default())?.items.len(), 1);

    // A local commit on the live device is pushed without anyone calling `sync`: the live
    // client is woken by the store's own commit notification.
    reader
        .store
        .create_help(&NewHelp::ask("groceries", "Nog een boodschap"))?;
    let mut accepted = 0;
    while accepted == 0 {
        let next = tokio::time::timeout(Duration::from_secs(20), pulled_rx.recv()).await?;
        accepted = next.ok_or("the live client stopped reporting")?.1;
    }
    assert_eq!(accepted, 1);
    assert_eq!(reader.store.sync_status(&reader.buurt)?.pending, 0);
    writer.sync().await?;
    assert_eq!(writer.store.list(&ListQuery::default())?.items.len(), 2);

    let _ = stop_tx.send(());
    live.await??;
    Ok(())
}
