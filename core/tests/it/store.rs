//! The store: persistence, projections, rebuild, corruption, subscriptions, outbox, queries.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use noaber_core::model::help::NewHelp;
use noaber_core::{Error, Kind, ListQuery, ManualClock, Order, Result, Role, Store};

use crate::support::{Replica, T0, deliver};

fn ask(store: &Store, title: &str) -> Result<noaber_core::EntityId> {
    store.create_help(&NewHelp::ask("groceries", title))
}

#[test]
fn data_survives_reopen_and_open_loads_no_document() -> Result<()> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("noaber.db");
    let clock = Arc::new(ManualClock::new(T0));
    let (id, member) = {
        let s = Store::open_with_clock(&path, clock.clone())?;
        let id = ask(&s, "Boodschappen")?;
        s.add_comment(&id, "Ik kan morgen")?;
        (id, s.identity().member)
    };
    let s = Store::open_with_clock(&path, clock)?;
    assert_eq!(s.loaded_documents(), 0, "opening must not load documents");
    assert_eq!(
        s.identity().member,
        member,
        "identity is stable across opens"
    );
    let page = s.list(&ListQuery::default())?;
    assert_eq!(page.items.len(), 1);
    assert_eq!(s.loaded_documents(), 0, "a list must not load documents");
    assert_eq!(s.help(&id)?.title, "Boodschappen");
    assert_eq!(s.loaded_documents(), 1);
    assert_eq!(s.pending_count()?, 2);
    Ok(())
}

#[test]
fn compaction_keeps_every_change() -> Result<()> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("noaber.db");
    let clock = Arc::new(ManualClock::new(T0));
    let id = {
        let s = Store::open_with_clock(&path, clock.clone())?;
        let id = ask(&s, "Titel")?;
        for i in 0..150 {
            clock.advance(1);
            s.edit_help(&id, Some(&format!("Titel {i}")), None)?;
        }
        id
    };
    let s = Store::open_with_clock(&path, clock)?;
    assert_eq!(s.help(&id)?.title, "Titel 149");
    assert_eq!(
        s.pending_count()?,
        151,
        "every change stays in the outbox until acked"
    );
    Ok(())
}

#[test]
fn rebuild_equals_incremental_projections() -> Result<()> {
    let a = Replica::new(Role::Resident)?;
    let b = Replica::new(Role::Organiser)?;
    let mut ids = Vec::new();
    for i in 0..20 {
        ids.push(ask(&a.store, &format!("Verzoek {i}"))?);
    }
    deliver(&a, &b)?;
    for (i, id) in ids.iter().enumerate() {
        b.clock.advance(10);
        b.store.respond_help(id, "ik help")?;
        if i % 3 == 0 {
            b.store.add_comment(id, &format!("opmerking {i}"))?;
        }
    }
    deliver(&b, &a)?;
    for id in ids.iter().step_by(2) {
        a.store.match_help(id, &b.member())?;
    }
    a.store.cancel_help(&ids[1], "niet meer nodig")?;
    let before = a.store.projection_dump()?;
    assert!(before.len() > 60);
    assert_eq!(a.store.rebuild_projections()?, 20);
    assert_eq!(a.store.projection_dump()?, before);
    Ok(())
}

#[test]
fn a_corrupt_document_fails_alone() -> Result<()> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("noaber.db");
    let clock = Arc::new(ManualClock::new(T0));
    let (good, bad) = {
        let s = Store::open_with_clock(&path, clock.clone())?;
        (ask(&s, "Goed")?, ask(&s, "Kapot")?)
    };
    {
        // Damage one document's stored bytes behind the store's back.
        let conn = rusqlite::Connection::open(&path).unwrap();
        let n = conn
            .execute(
                "UPDATE doc_changes SET bytes = x'856f4a83deadbeef' WHERE doc_id = ?1",
                [bad.as_str()],
            )
            .unwrap();
        assert_eq!(n, 1);
    }
    let s = Store::open_with_clock(&path, clock)?;
    match s.help(&bad) {
        Err(Error::Corrupt { id, .. }) => assert_eq!(id, bad),
        other => panic!("expected corrupt, got {other:?}"),
    }
    assert!(matches!(
        s.add_comment(&bad, "x"),
        Err(Error::Corrupt { .. })
    ));
    assert_eq!(s.help(&good)?.title, "Goed");
    s.add_comment(&good, "nog steeds bruikbaar")?;
    assert_eq!(
        s.list(&ListQuery::default())?.items.len(),
        2,
        "lists still show both"
    );
    assert_eq!(
        s.rebuild_projections()?,
        1,
        "rebuild skips the corrupt one and keeps going"
    );
    Ok(())
}

#[test]
fn subscribers_hear_local_and_remote_commits_until_cancelled() -> Result<()> {
    let a = Replica::new(Role::Resident)?;
    let b = Replica::new(Role::Resident)?;
    let heard = Arc::new(Mutex::new(Vec::new()));
    let h = heard.clone();
    let sub = b.store.subscribe(move |changed| {
        h.lock()
            .unwrap()
            .extend(changed.iter().map(|c| (c.id.clone(), c.kind)));
    });
    let id = ask(&b.store, "Lokaal")?;
    let remote = ask(&a.store, "Van elders")?;
    deliver(&a, &b)?;
    assert_eq!(
        *heard.lock().unwrap(),
        vec![(id.clone(), Kind::Help), (remote, Kind::Help)]
    );
    // A failed operation tells nobody.
    assert!(b.store.complete_help(&id).is_err());
    assert_eq!(heard.lock().unwrap().len(), 2);
    sub.cancel();
    ask(&b.store, "Niet gehoord")?;
    assert_eq!(heard.lock().unwrap().len(), 2);

    // Dropping also stops delivery; a listener may call back into the store.
    let count = Arc::new(AtomicUsize::new(0));
    let store = Arc::new(b.store);
    let (c, s2) = (count.clone(), Arc::downgrade(&store));
    let sub = store.subscribe(move |_| {
        if let Some(s) = s2.upgrade() {
            let _ = s.list(&ListQuery::default()); // re-entrancy: no deadlock
        }
        c.fetch_add(1, Ordering::SeqCst);
    });
    ask(&store, "Gehoord")?;
    drop(sub);
    ask(&store, "Niet meer")?;
    assert_eq!(count.load(Ordering::SeqCst), 1);
    Ok(())
}

#[test]
fn outbox_is_ordered_and_acks_are_idempotent() -> Result<()> {
    let a = Replica::new(Role::Resident)?;
    let id = ask(&a.store, "Een")?;
    a.store.add_comment(&id, "twee")?;
    let pending = a.store.pending_changes(10)?;
    assert_eq!(pending.len(), 2);
    assert!(pending[0].seq < pending[1].seq);
    assert_eq!(a.store.ack_changes(&[pending[0].seq])?, 1);
    assert_eq!(
        a.store.ack_changes(&[pending[0].seq, 999_999])?,
        0,
        "repeat and unknown acks are harmless"
    );
    let rest = a.store.pending_changes(10)?;
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].seq, pending[1].seq);
    Ok(())
}

#[test]
fn remote_changes_duplicates_gaps_and_garbage() -> Result<()> {
    let a = Replica::new(Role::Resident)?;
    let b = Replica::new(Role::Resident)?;
    let id = ask(&a.store, "Origineel")?;
    a.store.edit_help(&id, Some("Tweede"), None)?;
    a.store.edit_help(&id, Some("Derde"), None)?;
    let changes = a.outgoing()?;
    // Newest first: the later changes wait for their dependencies.
    let mut reversed = changes.clone();
    reversed.reverse();
    let r = b.store.apply_remote_changes(&reversed[..2])?;
    assert_eq!(r.applied, 2);
    assert!(
        b.store.list(&ListQuery::default())?.items.is_empty(),
        "nothing to show without the creation change"
    );
    b.store.apply_remote_changes(&reversed[2..])?;
    assert_eq!(b.store.help(&id)?.title, "Derde");
    // Everything again: all duplicates.
    let r = b.store.apply_remote_changes(&changes)?;
    assert_eq!((r.applied, r.duplicates), (0, 3));
    // Garbage: a clear error, and nothing of the batch is applied.
    let mut batch = vec![(id.clone(), b"not an automerge change".to_vec())];
    batch.extend(changes.clone());
    match b.store.apply_remote_changes(&batch) {
        Err(Error::InvalidInput { field, .. }) => assert_eq!(field, "change"),
        other => panic!("expected invalid change, got {other:?}"),
    }
    assert_eq!(b.store.help(&id)?.title, "Derde");
    assert_eq!(
        b.store.pending_count()?,
        0,
        "received changes are not re-sent as our own"
    );
    Ok(())
}

#[test]
fn keyset_pagination_visits_everything_once() -> Result<()> {
    let a = Replica::new(Role::Resident)?;
    let mut all = Vec::new();
    for i in 0..57 {
        if i % 5 != 0 {
            a.clock.advance(1); // some share a timestamp: the id breaks ties
        }
        all.push(ask(&a.store, &format!("Item {i}"))?.to_string());
    }
    let mut seen = Vec::new();
    let mut q = ListQuery {
        limit: 10,
        ..Default::default()
    };
    loop {
        let page = a.store.list(&q)?;
        seen.extend(page.items.iter().map(|s| s.id.clone()));
        match page.next {
            Some(next) => q.after = Some(next),
            None => break,
        }
    }
    assert_eq!(seen.len(), 57);
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), 57);
    all.sort();
    assert_eq!(sorted, all);
    assert!(
        a.store
            .list(&ListQuery {
                limit: 501,
                ..Default::default()
            })
            .is_err()
    );
    assert!(
        a.store
            .list(&ListQuery {
                after: Some("garbage".into()),
                ..Default::default()
            })
            .is_err()
    );
    Ok(())
}

#[test]
fn filters_search_counts_and_mine() -> Result<()> {
    let a = Replica::new(Role::Resident)?;
    let b = Replica::new(Role::Resident)?;
    let mut fiets = NewHelp::ask("transport", "Fiets repareren");
    fiets.body = "De ketting is eraf".into();
    fiets.window_start = Some(T0 + 3_600_000);
    fiets.window_end = Some(T0 + 7_200_000);
    let fiets = a.store.create_help(&fiets)?;
    let tuin = b.store.create_help(&NewHelp::ask("garden", "Tuin"))?;
    deliver(&a, &b)?;
    deliver(&b, &a)?;
    b.store.add_comment(&fiets, "Ik heb een kettingpons")?;
    deliver(&b, &a)?;

    let text = |t: &str| ListQuery {
        text: Some(t.into()),
        ..Default::default()
    };
    let ids = |p: noaber_core::Page| p.items.into_iter().map(|s| s.id).collect::<Vec<_>>();
    assert_eq!(
        ids(a.store.list(&text("ketting"))?),
        vec![fiets.to_string()],
        "body and comment, prefix"
    );
    assert_eq!(
        ids(a.store.list(&text("kettingpons"))?),
        vec![fiets.to_string()],
        "comment text"
    );
    assert!(
        a.store.list(&text("\"; DROP TABLE"))?.items.is_empty(),
        "operators are literal"
    );
    assert!(a.store.list(&text("   ")).is_err());

    let mine = ListQuery {
        mine: true,
        ..Default::default()
    };
    assert_eq!(ids(a.store.list(&mine)?), vec![fiets.to_string()]);
    assert_eq!(
        ids(b.store.list(&mine)?).len(),
        2,
        "b created one and commented on the other"
    );

    let cat = ListQuery {
        category: Some("garden".into()),
        ..Default::default()
    };
    assert_eq!(ids(a.store.list(&cat)?), vec![tuin.to_string()]);
    let upcoming = ListQuery {
        order: Order::Upcoming,
        ..Default::default()
    };
    assert_eq!(
        ids(a.store.list(&upcoming)?),
        vec![fiets.to_string()],
        "only entities with a start"
    );
    let range = ListQuery {
        from: Some(T0 + 8_000_000),
        ..Default::default()
    };
    assert_eq!(
        ids(a.store.list(&range)?),
        Vec::<String>::new(),
        "the window ended before `from`"
    );
    let needs = ListQuery {
        needs_response: true,
        ..Default::default()
    };
    assert_eq!(ids(a.store.list(&needs)?).len(), 2);

    a.clock.set(T0 + 7_200_000);
    let counts = a.store.status_counts()?;
    let get = |s: &str| counts.iter().find(|c| c.status == s).map(|c| c.count);
    assert_eq!(get("expired"), Some(1));
    assert_eq!(get("open"), Some(1));
    assert_eq!(
        ids(a.store.list(&needs)?),
        vec![tuin.to_string()],
        "expired needs no response"
    );
    Ok(())
}

#[test]
fn wrong_kind_and_unknown_ids_are_clear_errors() -> Result<()> {
    let a = Replica::new(Role::Resident)?;
    let id = ask(&a.store, "Iets")?;
    let unknown = noaber_core::EntityId::new()?;
    assert!(matches!(
        a.store.help(&unknown),
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        a.store.add_comment(&unknown, "x"),
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(a.store.comments(&id), Ok(c) if c.is_empty()));
    Ok(())
}
