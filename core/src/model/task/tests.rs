//! The kind's unit tests (whole stores as replicas, and the pure operations).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use jiff::tz::TimeZone;

use crate::doc;
use crate::error::{Error, Result};
use crate::ids::MemberId;
use crate::model::{Detail, Kind};

use std::sync::Arc;

use super::*;
use crate::clock::ManualClock;
use crate::model::Role;
use crate::store::Store;
use crate::store::query::ListQuery;
use crate::testing::{DAY, Device, HOUR, deliver, sync};

/// Tuesday 2025-03-25 12:00 UTC (13:00 in Amsterdam).
const T: i64 = 1_742_904_000_000;

/// Switches the store to act as another member; returns that member.
fn become_member(store: &Store, role: Role, household: Option<&str>) -> Result<MemberId> {
    let m = MemberId::new()?;
    store.set_member_id(&m)?;
    store.set_identity(role, None, household)?;
    Ok(m)
}

fn act_as(store: &Store, m: &MemberId, role: Role) -> Result<()> {
    store.set_member_id(m)?;
    store.set_identity(role, None, None)?;
    Ok(())
}

fn field(r: Result<impl std::fmt::Debug>) -> &'static str {
    match r {
        Err(Error::InvalidInput { field, .. }) => field,
        other => panic!("expected invalid input, got {other:?}"),
    }
}

fn is_not_allowed<T: std::fmt::Debug>(r: Result<T>) -> bool {
    matches!(r, Err(Error::NotAllowed { .. }))
}

fn is_transition<T: std::fmt::Debug>(r: Result<T>) -> bool {
    matches!(r, Err(Error::InvalidTransition { .. }))
}

fn codes(v: &TaskView, m: &MemberId) -> Vec<&'static str> {
    v.notices
        .iter()
        .filter(|n| &n.member == m)
        .map(|n| n.code.as_str())
        .collect()
}

#[test]
fn create_validates_every_field() -> Result<()> {
    let d = Device::new(Role::Resident, T)?;
    let s = &d.store;
    let weekly = || NewTask::recurring("Tuin", "FREQ=WEEKLY", "2025-03-22");
    assert_eq!(field(s.create_task(&NewTask::new("  "))), "title");
    assert_eq!(
        field(s.create_task(&NewTask::new(&"x".repeat(201)))),
        "title"
    );
    let long = NewTask {
        description: "x".repeat(5_001),
        ..NewTask::new("Tuin")
    };
    assert_eq!(field(s.create_task(&long)), "description");
    let label = NewTask {
        location_label: "x".repeat(121),
        ..NewTask::new("Tuin")
    };
    assert_eq!(field(s.create_task(&label)), "location_label");
    let bad_lat = NewTask {
        lat: Some(91.0),
        lon: Some(5.0),
        ..NewTask::new("Tuin")
    };
    assert_eq!(field(s.create_task(&bad_lat)), "lat");
    let half = NewTask {
        lat: Some(52.0),
        ..NewTask::new("Tuin")
    };
    assert_eq!(field(s.create_task(&half)), "lon");
    for rule in [
        "FREQ=YEARLY",
        "FREQ=WEEKLY;BYDAY=XX",
        "garbage",
        "FREQ=DAILY;INTERVAL=0",
    ] {
        let t = NewTask {
            rrule: Some(rule.into()),
            ..weekly()
        };
        assert_eq!(field(s.create_task(&t)), "recurrence", "{rule}");
    }
    let ended = NewTask {
        rrule: Some("FREQ=DAILY;UNTIL=20250101".into()),
        ..weekly()
    };
    assert_eq!(field(s.create_task(&ended)), "recurrence");
    let no_start = NewTask {
        dtstart: None,
        ..weekly()
    };
    assert_eq!(field(s.create_task(&no_start)), "dtstart");
    for date in [
        "2025-3-22",
        "2025-02-30",
        "20250322",
        "2025-03-22T10:00",
        "1850-01-01",
        "",
    ] {
        let t = NewTask {
            dtstart: Some(date.into()),
            ..weekly()
        };
        assert_eq!(field(s.create_task(&t)), "dtstart", "{date}");
    }
    for tz in [
        "Mars/Olympus_Mons",
        "",
        "Europe/Amsterdam/x",
        &"E".repeat(65),
    ] {
        let t = NewTask {
            tz: Some(tz.to_owned()),
            ..weekly()
        };
        assert_eq!(field(s.create_task(&t)), "tz", "{tz}");
    }
    for k in [0, 101] {
        let t = NewTask {
            pledge_target: Some(k),
            ..weekly()
        };
        assert_eq!(field(s.create_task(&t)), "pledge_target", "{k}");
    }

    // Valid input is stored canonically, with the default zone.
    let id = s.create_task(&NewTask {
        rrule: Some(" rrule:freq=weekly;interval=1 ".into()),
        ..weekly()
    })?;
    let v = s.task(&id)?;
    assert_eq!(v.recurrence.as_deref(), Some("FREQ=WEEKLY"));
    assert_eq!(v.dtstart.as_deref(), Some("2025-03-22"));
    assert_eq!(v.tz, DEFAULT_TZ);
    assert_eq!(v.status, TaskStatus::Unadopted);
    let ny = s.create_task(&NewTask {
        tz: Some("America/New_York".into()),
        ..weekly()
    })?;
    assert_eq!(s.task(&ny)?.tz, "America/New_York");
    Ok(())
}

#[test]
fn offline_claims_give_the_same_adopter_everywhere() -> Result<()> {
    let a = Device::new(Role::Resident, T)?;
    let b = Device::new(Role::Resident, T)?;
    let id = a.store.create_task(&NewTask::recurring(
        "Trappenhuis",
        "FREQ=WEEKLY",
        "2025-03-22",
    ))?;
    deliver(&a.store, &b.store)?;

    // Both claim offline; B's claim is earlier.
    a.clock.set(T + 2_000);
    b.clock.set(T + 1_000);
    a.store.claim_task(&id)?;
    b.store.claim_task(&id)?;
    assert_eq!(
        a.store.task(&id)?.adopter.as_ref(),
        Some(&a.member),
        "before sync A sees itself"
    );
    sync(&[&a, &b])?;

    let va = a.store.task(&id)?;
    let vb = b.store.task(&id)?;
    assert_eq!(va, vb);
    assert_eq!(project(&va), project(&vb));
    assert_eq!(va.adopter.as_ref(), Some(&b.member));
    assert_eq!(va.backups, vec![a.member.clone()]);
    assert_eq!(va.status, TaskStatus::Active);
    assert_eq!(codes(&va, &a.member), vec!["claim_lost"]);
    assert!(codes(&va, &b.member).is_empty());
    let lost = va
        .notices
        .iter()
        .find(|n| n.code == "claim_lost")
        .expect("notice");
    assert!(lost.text.contains(b.member.as_str()) && lost.text.contains("first backup"));
    // The store's notice list shows it to A.
    assert!(
        a.store
            .my_notices()?
            .iter()
            .any(|n| n.code == "claim_lost" && n.entity == id.as_str())
    );

    // Equal timestamps: the lower member id wins, on both devices.
    let id2 = a.store.create_task(&NewTask::new("Bankje"))?;
    deliver(&a.store, &b.store)?;
    a.clock.set(T + 5_000);
    b.clock.set(T + 5_000);
    a.store.claim_task(&id2)?;
    b.store.claim_task(&id2)?;
    sync(&[&a, &b])?;
    let (va, vb) = (a.store.task(&id2)?, b.store.task(&id2)?);
    assert_eq!(va, vb);
    let (first, second) = if a.member < b.member {
        (&a.member, &b.member)
    } else {
        (&b.member, &a.member)
    };
    assert_eq!(va.adopter.as_ref(), Some(first));
    assert_eq!(codes(&va, second), vec!["claim_lost"]);
    Ok(())
}

#[test]
fn release_hands_over_in_claim_order() -> Result<()> {
    let d = Device::new(Role::Resident, T)?;
    let s = &d.store;
    let id = s.create_task(&NewTask::recurring(
        "Binnentuin",
        "FREQ=WEEKLY",
        "2025-03-22",
    ))?;
    let ans = become_member(s, Role::Resident, None)?;
    s.claim_task(&id)?;
    assert!(
        is_transition(s.claim_task(&id)),
        "claiming twice is refused"
    );
    d.clock.advance(1_000);
    let bas = become_member(s, Role::Resident, None)?;
    s.claim_task(&id)?; // joins as backup knowingly: no claim_lost
    d.clock.advance(1_000);
    let cor = become_member(s, Role::Resident, None)?;
    s.claim_task(&id)?;
    let v = s.task(&id)?;
    assert_eq!(v.adopter.as_ref(), Some(&ans));
    assert_eq!(v.backups, vec![bas.clone(), cor.clone()]);
    assert!(
        v.notices.is_empty(),
        "joining as backup is not a lost claim: {:?}",
        v.notices
    );

    d.clock.advance(1_000);
    act_as(s, &ans, Role::Resident)?;
    s.release_task(&id)?;
    let v = s.task(&id)?;
    assert_eq!(v.adopter.as_ref(), Some(&bas));
    assert_eq!(v.backups, vec![cor.clone()]);
    assert_eq!(codes(&v, &bas), vec!["now_adopter"]);

    // Ans comes back: last in line.
    d.clock.advance(1_000);
    s.claim_task(&id)?;
    assert_eq!(s.task(&id)?.backups, vec![cor.clone(), ans.clone()]);

    // A backup leaving does not change the adopter.
    d.clock.advance(1_000);
    act_as(s, &cor, Role::Resident)?;
    s.release_task(&id)?;
    let v = s.task(&id)?;
    assert_eq!(v.adopter.as_ref(), Some(&bas));
    assert_eq!(v.backups, vec![ans.clone()]);
    assert!(matches!(s.release_task(&id), Err(Error::NotFound { .. })));

    d.clock.advance(1_000);
    act_as(s, &bas, Role::Resident)?;
    s.release_task(&id)?;
    let v = s.task(&id)?;
    assert_eq!(v.adopter.as_ref(), Some(&ans));
    assert!(v.backups.is_empty());
    assert_eq!(codes(&v, &ans), vec!["now_adopter"]);

    d.clock.advance(1_000);
    act_as(s, &ans, Role::Resident)?;
    s.release_task(&id)?;
    let v = s.task(&id)?;
    assert_eq!(v.status, TaskStatus::Unadopted);
    assert!(project(&v).needs_response);
    Ok(())
}

#[test]
fn pledges_count_distinct_households() -> Result<()> {
    let a = Device::in_household(Role::Resident, Some("Portiek 12"), T)?;
    let b = Device::in_household(Role::Resident, Some("Portiek 12"), T)?;
    let task = NewTask {
        pledge_target: Some(2),
        ..NewTask::recurring("Moestuin", "FREQ=WEEKLY", "2025-03-22")
    };
    let id = a.store.create_task(&task)?;
    deliver(&a.store, &b.store)?;
    assert_eq!(a.store.task(&id)?.status, TaskStatus::Pledging);

    // Two members of one household pledge offline: one household.
    a.clock.set(T + 1_000);
    b.clock.set(T + 2_000);
    a.store.pledge_task(&id)?;
    b.store.pledge_task(&id)?;
    sync(&[&a, &b])?;
    let v = a.store.task(&id)?;
    assert_eq!(v, b.store.task(&id)?);
    assert_eq!(v.pledges.len(), 2);
    assert_eq!(v.households, 1);
    assert_eq!(v.status, TaskStatus::Pledging);
    assert!(
        is_transition(a.store.pledge_task(&id)),
        "pledging twice is refused"
    );

    // Claims are allowed while pledging; the status stays pledging, with no due date.
    a.store.claim_task(&id)?;
    let v = a.store.task(&id)?;
    assert_eq!(
        (v.status, v.adopter.as_ref()),
        (TaskStatus::Pledging, Some(&a.member))
    );
    assert_eq!((v.due_at, v.overdue_at), (None, None));
    assert!(is_transition(a.store.record_occurrence(
        &id,
        "2025-03-22",
        Outcome::Done,
        ""
    )));

    // A member without a household counts as their own.
    let c = become_member(&b.store, Role::Resident, None)?;
    b.store.pledge_task(&id)?;
    sync(&[&a, &b])?;
    let v = a.store.task(&id)?;
    assert_eq!(v.households, 2);
    assert_eq!(v.status, TaskStatus::Active);
    assert!(v.due_at.is_some());
    assert!(
        v.pledges
            .iter()
            .any(|p| p.member == c && p.household == c.as_str())
    );
    let p = project(&v);
    assert!(matches!(
        p.detail,
        Detail::Task {
            pledges: 2,
            pledge_target: Some(2),
            ..
        }
    ));
    assert!(
        p.participants
            .iter()
            .any(|x| x.member == c && x.relation == "pledger")
    );

    // Started stays started when a pledge is withdrawn.
    b.store.unpledge_task(&id)?;
    let v = b.store.task(&id)?;
    assert_eq!((v.households, v.status), (1, TaskStatus::Active));
    assert!(matches!(
        b.store.unpledge_task(&id),
        Err(Error::NotFound { .. })
    ));

    // A task without a target takes no pledges.
    let plain = a.store.create_task(&NewTask::new("Bankje"))?;
    assert!(is_transition(a.store.pledge_task(&plain)));
    Ok(())
}

#[test]
fn weekly_next_open_due_and_overdue_across_dst() -> Result<()> {
    let d = Device::new(Role::Resident, T)?;
    let s = &d.store;
    let id = s.create_task(&NewTask::recurring(
        "Containers buiten",
        "FREQ=WEEKLY",
        "2025-03-22",
    ))?;
    s.claim_task(&id)?;

    // Nothing recorded: the first occurrence is open, and overdue on Tuesday 25 March.
    let v = s.task(&id)?;
    assert_eq!(v.next_open.as_deref(), Some("2025-03-22"));
    assert_eq!(v.due_at, Some(1_742_598_000_000)); // 2025-03-22T00:00+01:00
    assert_eq!(v.overdue_at, Some(1_742_770_800_000)); // 2025-03-24T00:00+01:00
    assert_eq!(v.due_state(T), "overdue");
    let page = s.list(&ListQuery {
        kind: Some(Kind::Task),
        status: Some("overdue".into()),
        ..Default::default()
    })?;
    assert_eq!(page.items.len(), 1);

    // Date checks.
    assert_eq!(
        field(s.record_occurrence(&id, "2025-03-29", Outcome::Done, "")),
        "date"
    ); // future
    assert_eq!(
        field(s.record_occurrence(&id, "2025-03-23", Outcome::Done, "")),
        "date"
    ); // not an occurrence
    assert_eq!(
        field(s.record_occurrence(&id, "2025-03-15", Outcome::Done, "")),
        "date"
    ); // before dtstart
    assert_eq!(
        field(s.record_occurrence(&id, "22-03-2025", Outcome::Done, "")),
        "date"
    );
    assert_eq!(
        field(s.record_occurrence(&id, "2025-03-22", Outcome::Done, &"x".repeat(1_001))),
        "note"
    );

    // Done on the 22nd: next is the 29th; the clocks go forward in the night of the 30th,
    // so the two grace days are 47 hours.
    s.record_occurrence(&id, "2025-03-22", Outcome::Done, "gedaan")?;
    assert_eq!(
        field(s.record_occurrence(&id, "2025-03-22", Outcome::Skipped, "")),
        "date"
    );
    let v = s.task(&id)?;
    assert_eq!(v.next_open.as_deref(), Some("2025-03-29"));
    assert_eq!(v.due_at, Some(1_743_202_800_000)); // 2025-03-29T00:00+01:00
    assert_eq!(v.overdue_at, Some(1_743_372_000_000)); // 2025-03-31T00:00+02:00
    assert_eq!(
        v.overdue_at.zip(v.due_at).map(|(o, d)| o - d),
        Some(47 * HOUR)
    );
    assert_eq!(v.due_state(T), "not_due");
    assert_eq!(v.due_state(1_743_202_800_000), "due");
    assert_eq!(v.due_state(1_743_372_000_000 - 1), "due");
    assert_eq!(v.due_state(1_743_372_000_000), "overdue");
    assert!(
        matches!(&project(&v).detail, Detail::Task { next_open: Some(n), .. } if n == "2025-03-29")
    );
    assert_eq!(v.occurrences.len(), 1);
    assert_eq!(
        (v.occurrences[0].outcome, v.occurrences[0].note.as_str()),
        (Outcome::Done, "gedaan")
    );

    // Two weeks later the 29th was missed and the 5th of April done: the 29th is passed over.
    d.clock.set(T + 12 * DAY);
    s.record_occurrence(&id, "2025-04-05", Outcome::Done, "")?;
    let v = s.task(&id)?;
    assert_eq!(v.next_open.as_deref(), Some("2025-04-12"));
    assert_eq!(v.due_at, Some(1_744_408_800_000)); // 2025-04-12T00:00+02:00
    assert_eq!(v.overdue_at, Some(1_744_408_800_000 + 2 * DAY));
    // A missed earlier occurrence may still be recorded; it does not move next_open back.
    s.record_occurrence(&id, "2025-03-29", Outcome::Skipped, "regen")?;
    let v = s.task(&id)?;
    assert_eq!(v.next_open.as_deref(), Some("2025-04-12"));
    let dates: Vec<&str> = v.occurrences.iter().map(|o| o.date.as_str()).collect();
    assert_eq!(dates, ["2025-04-05", "2025-03-29", "2025-03-22"]);

    // The autumn change makes the grace days 49 hours.
    let autumn = s.create_task(&NewTask::recurring("Bladeren", "FREQ=WEEKLY", "2025-10-25"))?;
    let v = s.task(&autumn)?;
    assert_eq!(v.due_at, Some(1_761_343_200_000)); // 2025-10-25T00:00+02:00
    assert_eq!(v.overdue_at, Some(1_761_519_600_000)); // 2025-10-27T00:00+01:00
    assert_eq!(v.status, TaskStatus::Unadopted);
    Ok(())
}

#[test]
fn done_beats_skipped_whatever_the_order() -> Result<()> {
    let a = Device::new(Role::Resident, T)?;
    let b = Device::new(Role::Resident, T)?;
    let id = a
        .store
        .create_task(&NewTask::recurring("Vegen", "FREQ=DAILY", "2025-03-20"))?;
    a.store.claim_task(&id)?;
    deliver(&a.store, &b.store)?;
    b.clock.set(T + 1_000);
    b.store.claim_task(&id)?;
    deliver(&b.store, &a.store)?;

    // 20 March: A skips first, B does it later. 21 March: B does it first, A skips later.
    a.clock.set(T + 10_000);
    a.store
        .record_occurrence(&id, "2025-03-20", Outcome::Skipped, "")?;
    b.clock.set(T + 20_000);
    b.store
        .record_occurrence(&id, "2025-03-20", Outcome::Done, "")?;
    b.clock.set(T + 30_000);
    b.store
        .record_occurrence(&id, "2025-03-21", Outcome::Done, "")?;
    a.clock.set(T + 40_000);
    a.store
        .record_occurrence(&id, "2025-03-21", Outcome::Skipped, "")?;
    sync(&[&a, &b])?;

    let va = a.store.task(&id)?;
    assert_eq!(va, b.store.task(&id)?);
    for o in &va.occurrences {
        if o.date == "2025-03-20" || o.date == "2025-03-21" {
            assert_eq!((o.outcome, &o.by), (Outcome::Done, &b.member), "{}", o.date);
        }
    }
    assert_eq!(
        codes(&va, &a.member),
        vec!["skip_overruled", "skip_overruled"]
    );
    assert_eq!(va.next_open.as_deref(), Some("2025-03-22"));
    // A done may still be recorded over a skip locally.
    a.clock.set(T + 50_000);
    a.store
        .record_occurrence(&id, "2025-03-22", Outcome::Skipped, "")?;
    a.store
        .record_occurrence(&id, "2025-03-22", Outcome::Done, "toch gedaan")?;
    let v = a.store.task(&id)?;
    assert_eq!(v.occurrences[0].outcome, Outcome::Done);
    Ok(())
}

#[test]
fn pause_and_resume() -> Result<()> {
    let a = Device::new(Role::Resident, T)?;
    let c = Device::new(Role::Caretaker, T)?;
    let id = a
        .store
        .create_task(&NewTask::recurring("Tuin", "FREQ=WEEKLY", "2025-03-22"))?;
    a.store.claim_task(&id)?;
    a.store.pause_task(&id)?;
    assert!(is_transition(a.store.pause_task(&id)));
    let v = a.store.task(&id)?;
    assert_eq!((v.status, v.paused), (TaskStatus::Paused, true));
    assert_eq!((v.due_at, v.overdue_at), (None, None));
    assert_eq!(
        v.next_open.as_deref(),
        Some("2025-03-22"),
        "next_open stays known while paused"
    );
    a.store.resume_task(&id)?;
    assert!(is_transition(a.store.resume_task(&id)));
    assert_eq!(a.store.task(&id)?.status, TaskStatus::Active);

    // A neighbour may not pause someone else's task; a caretaker may.
    become_member(&c.store, Role::Resident, None)?;
    deliver(&a.store, &c.store)?;
    assert!(is_not_allowed(c.store.pause_task(&id)));
    become_member(&c.store, Role::Caretaker, None)?;

    // After a pause both saw, offline: the adopter resumes at +5 s and pauses again at
    // +6 s, the caretaker resumes at +10 s. The latest entry wins on both devices.
    a.clock.set(T + 1_000);
    a.store.pause_task(&id)?;
    deliver(&a.store, &c.store)?;
    c.clock.set(T + 10_000);
    c.store.resume_task(&id)?;
    a.clock.set(T + 5_000);
    a.store.resume_task(&id)?;
    a.clock.set(T + 6_000);
    a.store.pause_task(&id)?;
    sync(&[&a, &c])?;
    let v = a.store.task(&id)?;
    assert_eq!(v, c.store.task(&id)?);
    assert_eq!(
        v.status,
        TaskStatus::Active,
        "the caretaker's later resume wins"
    );
    Ok(())
}

#[test]
fn permission_refusals() -> Result<()> {
    let d = Device::new(Role::Resident, T)?;
    let s = &d.store;
    let creator = d.member.clone();
    let id = s.create_task(&NewTask::recurring("Tuin", "FREQ=WEEKLY", "2025-03-22"))?;
    let adopter = become_member(s, Role::Resident, None)?;
    s.claim_task(&id)?;

    let stranger = become_member(s, Role::Resident, None)?;
    let edit = TaskEdit {
        title: Some("Andere tuin".into()),
        ..TaskEdit::default()
    };
    assert!(is_not_allowed(s.edit_task(&id, &edit)));
    assert!(is_not_allowed(s.record_occurrence(
        &id,
        "2025-03-22",
        Outcome::Done,
        ""
    )));
    assert!(is_not_allowed(s.add_checklist_item(&id, "Schoffelen")));
    assert!(is_not_allowed(s.pause_task(&id)));

    // A stranger's occurrence entry written past the checks is ignored by the rule.
    s.update_entity(&id, Kind::Task, |doc, ctx| {
        let fields = [("date", "2025-03-22".into()), ("outcome", "done".into())];
        doc::append_entry(doc, ctx, "occurrence", &fields)
    })?;
    let v = s.task(&id)?;
    assert!(v.occurrences.is_empty());
    assert_eq!(codes(&v, &stranger), vec!["occurrence_ignored"]);

    // A backup (a claim) may record; a caretaker may without claiming; the creator edits.
    act_as(s, &adopter, Role::Resident)?;
    s.record_occurrence(&id, "2025-03-22", Outcome::Done, "")?;
    become_member(s, Role::Caretaker, None)?;
    s.edit_task(
        &id,
        &TaskEdit {
            location_label: Some("Blok C".into()),
            ..TaskEdit::default()
        },
    )?;
    act_as(s, &creator, Role::Resident)?;
    s.edit_task(&id, &edit)?;
    assert!(
        is_not_allowed(s.pause_task(&id)),
        "the creator is not the adopter"
    );
    let v = s.task(&id)?;
    assert_eq!(
        (v.title.as_str(), v.location_label.as_str()),
        ("Andere tuin", "Blok C")
    );
    assert_eq!(
        field(s.edit_task(
            &id,
            &TaskEdit {
                title: Some(String::new()),
                ..TaskEdit::default()
            }
        )),
        "title"
    );
    let bad_tz = TaskSchedule {
        tz: Some("Nowhere/Land".into()),
        ..TaskSchedule::default()
    };
    assert_eq!(
        field(s.edit_task(
            &id,
            &TaskEdit {
                schedule: Some(bad_tz),
                ..TaskEdit::default()
            }
        )),
        "tz"
    );
    Ok(())
}

#[test]
fn checklist_keeps_entry_order() -> Result<()> {
    let d = Device::new(Role::Resident, T)?;
    let s = &d.store;
    let id = s.create_task(&NewTask::new("Trappenhuis"))?;
    let one = s.add_checklist_item(&id, "Vegen")?;
    d.clock.advance(1);
    let two = s.add_checklist_item(&id, "Dweilen")?;
    d.clock.advance(1);
    let three = s.add_checklist_item(&id, "Ramen")?;
    assert_eq!(field(s.add_checklist_item(&id, " ")), "text");
    assert_eq!(field(s.add_checklist_item(&id, &"x".repeat(201))), "text");
    s.remove_checklist_item(&id, &two)?;
    assert!(matches!(
        s.remove_checklist_item(&id, &two),
        Err(Error::NotFound { .. })
    ));
    let v = s.task(&id)?;
    let ids: Vec<&str> = v.checklist.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(ids, [one.as_str(), three.as_str()]);
    assert_eq!(v.checklist[0].text, "Vegen");
    Ok(())
}

#[test]
fn one_off_tasks_finish_when_recorded() -> Result<()> {
    let d = Device::new(Role::Caretaker, T)?;
    let s = &d.store;
    let dated = s.create_task(&NewTask {
        dtstart: Some("2025-03-24".into()),
        ..NewTask::new("Bank verven")
    })?;
    let v = s.task(&dated)?;
    assert_eq!(
        (v.status, v.next_open.as_deref()),
        (TaskStatus::Unadopted, Some("2025-03-24"))
    );
    assert_eq!(v.due_at, Some(1_742_770_800_000)); // 2025-03-24T00:00+01:00
    assert_eq!(v.overdue_at, Some(1_742_770_800_000 + DAY));
    assert_eq!(
        field(s.record_occurrence(&dated, "2025-03-23", Outcome::Done, "")),
        "date"
    );
    s.record_occurrence(&dated, "2025-03-24", Outcome::Done, "")?;
    let v = s.task(&dated)?;
    assert_eq!(
        (v.status, v.next_open.as_deref(), v.due_at),
        (TaskStatus::Finished, None, None)
    );
    assert!(is_transition(s.claim_task(&dated)));
    assert!(is_transition(s.pause_task(&dated)));

    let undated = s.create_task(&NewTask::new("Fietsenrek repareren"))?;
    let v = s.task(&undated)?;
    assert_eq!(
        (v.status, v.next_open.as_deref(), v.due_at),
        (TaskStatus::Unadopted, None, None)
    );
    assert_eq!(
        field(s.record_occurrence(&undated, "2025-03-26", Outcome::Done, "")),
        "date"
    );
    s.record_occurrence(&undated, "2025-03-25", Outcome::Skipped, "")?;
    assert_eq!(s.task(&undated)?.status, TaskStatus::Finished);
    let again = s.record_occurrence(&undated, "2025-03-24", Outcome::Done, "");
    assert!(is_transition(again), "a finished task takes no new dates");
    s.record_occurrence(&undated, "2025-03-25", Outcome::Done, "toch")?;
    let v = s.task(&undated)?;
    assert_eq!(
        (v.occurrences.len(), v.occurrences[0].outcome),
        (1, Outcome::Done)
    );

    // A series with a COUNT finishes when its last occurrence is recorded.
    let counted = s.create_task(&NewTask::recurring(
        "Actieweek",
        "FREQ=DAILY;COUNT=2",
        "2025-03-23",
    ))?;
    s.record_occurrence(&counted, "2025-03-24", Outcome::Skipped, "")?;
    assert_eq!(s.task(&counted)?.status, TaskStatus::Finished);
    Ok(())
}

#[test]
fn a_new_schedule_applies_from_its_entry_on() -> Result<()> {
    let a = Device::new(Role::Resident, T)?;
    let c = Device::new(Role::Caretaker, T)?;
    let id = a
        .store
        .create_task(&NewTask::recurring("Tuin", "FREQ=WEEKLY", "2025-03-22"))?;
    a.store.claim_task(&id)?;
    a.store
        .record_occurrence(&id, "2025-03-22", Outcome::Done, "")?;
    deliver(&a.store, &c.store)?;

    // The caretaker moves the task to daily from the 23rd; the adopter then records the
    // 23rd, which is a date of the new schedule only.
    c.clock.set(T + 1_000);
    let daily = TaskSchedule {
        rrule: Some("FREQ=DAILY".into()),
        dtstart: Some("2025-03-23".into()),
        tz: None,
    };
    c.store.edit_task(
        &id,
        &TaskEdit {
            schedule: Some(daily),
            ..TaskEdit::default()
        },
    )?;
    deliver(&c.store, &a.store)?;
    a.clock.set(T + 2_000);
    a.store
        .record_occurrence(&id, "2025-03-23", Outcome::Done, "")?;
    sync(&[&a, &c])?;
    let v = a.store.task(&id)?;
    assert_eq!(v, c.store.task(&id)?);
    assert_eq!(v.recurrence.as_deref(), Some("FREQ=DAILY"));
    assert_eq!(v.next_open.as_deref(), Some("2025-03-24"));
    assert_eq!(v.occurrences.len(), 2);

    // Back to a one-off without a date: nothing is due until someone records it.
    let none = TaskSchedule::default();
    c.store.edit_task(
        &id,
        &TaskEdit {
            schedule: Some(none),
            ..TaskEdit::default()
        },
    )?;
    let v = c.store.task(&id)?;
    assert_eq!(
        (v.recurrence.as_deref(), v.dtstart.as_deref()),
        (None, None)
    );
    assert_eq!(
        v.status,
        TaskStatus::Finished,
        "an undated one-off with a recorded date is done"
    );
    Ok(())
}

#[test]
fn projection_columns() -> Result<()> {
    let d = Device::new(Role::Resident, T)?;
    let s = &d.store;
    let new = NewTask {
        lat: Some(52.37),
        lon: Some(4.89),
        location_label: "Binnentuin".into(),
        ..NewTask::recurring("Tuin", "FREQ=WEEKLY;INTERVAL=2", "2025-03-22")
    };
    let id = s.create_task(&new)?;
    let p = project(&s.task(&id)?);
    assert_eq!(p.status, "unadopted");
    assert!(p.needs_response);
    assert_eq!(
        (p.lat, p.lon, p.location_label.as_deref()),
        (Some(52.37), Some(4.89), Some("Binnentuin"))
    );
    assert_eq!(p.starts_at, Some(1_742_598_000_000));
    s.claim_task(&id)?;
    let p = project(&s.task(&id)?);
    assert_eq!(p.status, "active");
    assert!(!p.needs_response);
    let want = Detail::Task {
        adopter: Some(d.member.clone()),
        backups: 0,
        pledges: 0,
        pledge_target: None,
        paused: false,
        next_open: Some("2025-03-22".into()),
        recurrence: Some("FREQ=WEEKLY;INTERVAL=2".into()),
    };
    assert_eq!(p.detail, want);
    assert!(
        p.participants
            .iter()
            .any(|x| x.member == d.member && x.relation == "adopter")
    );
    Ok(())
}

#[test]
fn current_occurrence_is_the_latest_on_or_before_today() -> Result<()> {
    // 2026-11-25 is a Wednesday; the rule is Mondays and Thursdays.
    let now = jiff::civil::date(2026, 11, 25)
        .at(12, 0, 0, 0)
        .to_zoned(TimeZone::get(DEFAULT_TZ).unwrap())
        .unwrap()
        .timestamp()
        .as_millisecond();
    let s = Store::open_in_memory(Arc::new(ManualClock::new(now)))?;
    let weekly = s.create_task(&NewTask::recurring(
        "Water",
        "FREQ=WEEKLY;BYDAY=MO,TH",
        "2026-11-02",
    ))?;
    assert_eq!(
        s.task(&weekly)?.current_occurrence(now).as_deref(),
        Some("2026-11-23")
    );
    let later = s.create_task(&NewTask::recurring("Later", "FREQ=DAILY", "2026-12-01"))?;
    assert_eq!(
        s.task(&later)?.current_occurrence(now),
        None,
        "not started yet"
    );
    let undated = s.create_task(&NewTask::new("Eenmalig"))?;
    assert_eq!(
        s.task(&undated)?.current_occurrence(now).as_deref(),
        Some("2026-11-25")
    );
    Ok(())
}

mod convergence {
    use std::collections::{BTreeMap, BTreeSet};

    use proptest::prelude::*;

    use super::*;

    #[derive(Debug, Clone, Copy)]
    enum Op {
        Claim,
        Release,
        Pledge,
        Unpledge,
        Record { day: u8, done: bool },
        Pause,
        Resume,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => Just(Op::Claim),
            2 => Just(Op::Release),
            2 => Just(Op::Pledge),
            1 => Just(Op::Unpledge),
            3 => (0..6u8, any::<bool>()).prop_map(|(day, done)| Op::Record { day, done }),
            1 => Just(Op::Pause),
            1 => Just(Op::Resume),
        ]
    }

    /// `(who, op, clock jitter, deliver to)`: after acting, `who` sends what it has to
    /// replica `to` (itself: to nobody).
    fn steps() -> impl Strategy<Value = Vec<(usize, Op, i64, usize)>> {
        prop::collection::vec((0..3usize, op(), 0..20i64, 0..3usize), 1..40)
    }

    fn run(steps: &[(usize, Op, i64, usize)]) -> Result<()> {
        // Two residents of one household and a caretaker without one.
        let devs = [
            Device::in_household(Role::Resident, Some("Portiek 12"), T)?,
            Device::in_household(Role::Resident, Some("Portiek 12"), T)?,
            Device::new(Role::Caretaker, T)?,
        ];
        let task = NewTask {
            pledge_target: Some(2),
            ..NewTask::recurring("Vegen", "FREQ=DAILY", "2025-03-20")
        };
        let id = devs[0].store.create_task(&task)?;
        for d in &devs[1..] {
            deliver(&devs[0].store, &d.store)?;
        }
        // The model: what each member last did, as their own device accepted it.
        let mut claimed: BTreeMap<usize, bool> = BTreeMap::new();
        let mut pledged: BTreeMap<usize, bool> = BTreeMap::new();
        // Records each device accepted: a record can still be ignored after the merge (it
        // was accepted against a state a concurrent entry changed, e.g. an unpledge that
        // sorts earlier means the target was never reached); then its author is told.
        let mut accepted: Vec<(usize, u8, Outcome)> = Vec::new();
        for (i, (who, op, jitter, to)) in steps.iter().enumerate() {
            let d = &devs[*who];
            // Skewed clocks: each device's clock is off by up to 20 ms.
            d.clock.set(T + (i as i64) * 10 + jitter);
            let s = &d.store;
            match op {
                Op::Claim => {
                    if s.claim_task(&id).is_ok() {
                        claimed.insert(*who, true);
                    }
                }
                Op::Release => {
                    if s.release_task(&id).is_ok() {
                        claimed.insert(*who, false);
                    }
                }
                Op::Pledge => {
                    if s.pledge_task(&id).is_ok() {
                        pledged.insert(*who, true);
                    }
                }
                Op::Unpledge => {
                    if s.unpledge_task(&id).is_ok() {
                        pledged.insert(*who, false);
                    }
                }
                Op::Record { day, done } => {
                    let date = format!("2025-03-2{day}");
                    let outcome = if *done {
                        Outcome::Done
                    } else {
                        Outcome::Skipped
                    };
                    if s.record_occurrence(&id, &date, outcome, "").is_ok() {
                        accepted.push((*who, *day, outcome));
                    }
                }
                Op::Pause => {
                    let _ = s.pause_task(&id);
                }
                Op::Resume => {
                    let _ = s.resume_task(&id);
                }
            }
            if to != who {
                deliver(s, &devs[*to].store)?;
            }
        }
        for _ in 0..2 {
            for a in &devs {
                for b in &devs {
                    deliver(&a.store, &b.store)?;
                }
            }
        }

        let v = devs[0].store.task(&id)?;
        for d in &devs[1..] {
            let other = d.store.task(&id)?;
            assert_eq!(v, other);
            assert_eq!(project(&v), project(&other));
        }
        let members_in: BTreeSet<&MemberId> = claimed
            .iter()
            .filter(|(_, c)| **c)
            .filter_map(|(w, _)| devs.get(*w).map(|d| &d.member))
            .collect();
        let derived_in: BTreeSet<&MemberId> = v.adopter.iter().chain(&v.backups).collect();
        assert_eq!(members_in, derived_in);
        assert_eq!(v.adopter.is_some(), !members_in.is_empty());
        let households: BTreeSet<String> = pledged
            .iter()
            .filter(|(_, p)| **p)
            .map(|(w, _)| {
                if *w < 2 {
                    "Portiek 12".to_owned()
                } else {
                    devs[2].member.to_string()
                }
            })
            .collect();
        assert_eq!(v.households, households.len());
        let recorded: BTreeMap<u8, Outcome> = v
            .occurrences
            .iter()
            .map(|o| (o.date.as_bytes()[9] - b'0', o.outcome))
            .collect();
        for (day, outcome) in &recorded {
            assert!(
                accepted.iter().any(|(_, d, o)| d == day && o == outcome),
                "only accepted records are derived"
            );
        }
        let told: BTreeSet<&MemberId> = v
            .notices
            .iter()
            .filter(|n| n.code == "occurrence_ignored")
            .map(|n| &n.member)
            .collect();
        for (who, day, outcome) in &accepted {
            if told.contains(&devs[*who].member) {
                continue;
            }
            // Not ignored: it stands, and done beats skipped for the same date.
            let got = recorded.get(day).copied();
            assert!(
                got.is_some(),
                "an accepted record that was not ignored is derived"
            );
            if *outcome == Outcome::Done {
                assert_eq!(got, Some(Outcome::Done), "done beats skipped");
            }
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        /// Random claims, releases, pledges, records and pauses on three replicas with
        /// skewed clocks and partial delivery converge, and agree with a simple model.
        #[test]
        fn replicas_converge_and_follow_the_rule(steps in steps()) {
            run(&steps).map_err(|e| TestCaseError::fail(e.to_string()))?;
        }
    }
}
