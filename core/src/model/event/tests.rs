//! The kind's unit tests (whole stores as replicas, and the pure operations).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use automerge::AutoCommit;

use crate::doc::{self, Field};
use crate::error::{Error, Result};
use crate::ids::{EntityId, MemberId};
use crate::model::{Ctx, Detail, Kind};

use super::*;
use crate::model::Role;
use crate::store::query::ListQuery;
use crate::testing::{Device, HOUR, deliver, sync};

const T0: i64 = 1_750_000_000_000;

fn party() -> NewEvent {
    NewEvent::new(
        "Burendag",
        "Buurthuis De Schakel",
        T0 + 24 * HOUR,
        T0 + 28 * HOUR,
    )
}

fn members(n: usize) -> Result<Vec<MemberId>> {
    (0..n).map(|_| MemberId::new()).collect()
}

fn ids(list: &[Attendee]) -> Vec<MemberId> {
    list.iter().map(|a| a.member.clone()).collect()
}

fn codes(v: &EventView, m: &MemberId) -> Vec<&'static str> {
    v.notices
        .iter()
        .filter(|n| &n.member == m)
        .map(|n| n.code.as_str())
        .collect()
}

fn bad_field<T>(r: Result<T>) -> Option<&'static str> {
    match r {
        Err(Error::InvalidInput { field, .. }) => Some(field),
        _ => None,
    }
}

fn not_allowed<T>(r: Result<T>) -> bool {
    matches!(r, Err(Error::NotAllowed { .. }))
}

fn invalid_transition<T>(r: Result<T>) -> bool {
    matches!(r, Err(Error::InvalidTransition { .. }))
}

#[test]
fn creation_validates_every_field() -> Result<()> {
    let org = Device::new(Role::Organiser, T0)?;
    let p = party();
    let cases: Vec<(&str, NewEvent)> = vec![
        (
            "title",
            NewEvent {
                title: "  ".into(),
                ..party()
            },
        ),
        (
            "title",
            NewEvent {
                title: "x".repeat(201),
                ..party()
            },
        ),
        (
            "description",
            NewEvent {
                description: "x".repeat(5_001),
                ..party()
            },
        ),
        (
            "place",
            NewEvent {
                place: String::new(),
                ..party()
            },
        ),
        (
            "place",
            NewEvent {
                place: "x".repeat(121),
                ..party()
            },
        ),
        (
            "starts_at",
            NewEvent {
                starts_at: -1,
                ..party()
            },
        ),
        (
            "ends_at",
            NewEvent {
                ends_at: i64::MAX,
                ..party()
            },
        ),
        (
            "ends_at",
            NewEvent {
                ends_at: p.starts_at - 1,
                ..party()
            },
        ),
        (
            "lat",
            NewEvent {
                point: Some((90.5, 6.0)),
                ..party()
            },
        ),
        (
            "lat",
            NewEvent {
                point: Some((f64::NAN, 6.0)),
                ..party()
            },
        ),
        (
            "lon",
            NewEvent {
                point: Some((52.0, 181.0)),
                ..party()
            },
        ),
        (
            "capacity",
            NewEvent {
                capacity: Some(0),
                ..party()
            },
        ),
        (
            "capacity",
            NewEvent {
                capacity: Some(100_001),
                ..party()
            },
        ),
    ];
    for (field, new) in cases {
        assert_eq!(
            bad_field(org.store.create_event(&new)),
            Some(field),
            "{field}"
        );
    }
    let q = ListQuery {
        kind: Some(Kind::Event),
        ..Default::default()
    };
    assert!(
        org.store.list(&q)?.items.is_empty(),
        "nothing stored for refused events"
    );

    // The edges are accepted, and what was written reads back.
    let new = NewEvent {
        description: "  Soep en muziek  ".into(),
        point: Some((52.37, 4.89)),
        capacity: Some(100_000),
        ends_at: p.starts_at,
        ..party()
    };
    let id = org.store.create_event(&new)?;
    org.store.create_event(&NewEvent {
        capacity: Some(1),
        ..party()
    })?;
    let v = org.store.event(&id)?;
    assert_eq!(v.title, "Burendag");
    assert_eq!(v.description, "Soep en muziek");
    assert_eq!((v.starts_at, v.ends_at), (p.starts_at, p.starts_at));
    assert_eq!(
        (v.lat, v.lon, v.capacity),
        (Some(52.37), Some(4.89), Some(100_000))
    );
    assert_eq!(v.status, EventStatus::Upcoming);
    assert_eq!(v.creator, org.member);
    assert_eq!(v.attendance(&org.member), Attendance::NoAnswer);
    assert_eq!(v.coverage(), None);
    Ok(())
}

#[test]
fn waitlist_with_capacity_two_and_a_decline_promoting() -> Result<()> {
    let d = Device::new(Role::Organiser, T0)?;
    let id = d.store.create_event(&NewEvent {
        capacity: Some(2),
        ..party()
    })?;
    let m = members(4)?;
    for (i, member) in m.iter().enumerate() {
        d.as_member(member)?;
        let got = d.store.rsvp_event(&id, Rsvp::Going)?;
        let want = if i < 2 {
            Attendance::Going { place: i + 1 }
        } else {
            Attendance::Waitlisted { position: i - 1 }
        };
        assert_eq!(got, want, "member {i}");
    }
    let v = d.store.event(&id)?;
    assert_eq!(ids(&v.confirmed), vec![m[0].clone(), m[1].clone()]);
    assert_eq!(ids(&v.waitlist), vec![m[2].clone(), m[3].clone()]);
    assert_eq!(codes(&v, &m[2]), vec!["waitlisted"]);
    assert!(
        v.notices
            .iter()
            .any(|n| n.member == m[3] && n.text.contains("number 2"))
    );
    assert!(codes(&v, &m[0]).is_empty());
    // The device recorded what it showed: a waitlist place.
    assert_eq!(
        d.store.rsvp_event(&id, Rsvp::Going)?,
        Attendance::Waitlisted { position: 2 }
    );

    // A confirmed member declines: the first on the waitlist gets the place and is told.
    d.as_member(&m[1])?;
    d.store.rsvp_event(&id, Rsvp::Declined)?;
    let v = d.store.event(&id)?;
    assert_eq!(ids(&v.confirmed), vec![m[0].clone(), m[2].clone()]);
    assert_eq!(ids(&v.waitlist), vec![m[3].clone()]);
    assert_eq!(ids(&v.declined), vec![m[1].clone()]);
    assert_eq!(codes(&v, &m[2]), vec!["promoted"]);
    assert_eq!(codes(&v, &m[3]), vec!["waitlisted"]);
    assert!(
        v.notices
            .iter()
            .any(|n| n.member == m[3] && n.text.contains("number 1"))
    );
    assert_eq!(v.attendance(&m[3]), Attendance::Waitlisted { position: 1 });

    // The projection row carries the counts.
    let q = ListQuery {
        kind: Some(Kind::Event),
        ..Default::default()
    };
    let row = d.store.list(&q)?.items.remove(0);
    assert_eq!(row.status, "upcoming");
    assert!(matches!(
        row.detail,
        Detail::Event {
            going: 2,
            waitlisted: 1,
            capacity: Some(2),
            ..
        }
    ));
    assert_eq!(row.starts_at, Some(party().starts_at));
    assert_eq!(row.location_label.as_deref(), Some("Buurthuis De Schakel"));
    assert!(!row.needs_response);
    d.store.set_member_id(&m[3])?;
    let mine = ListQuery { mine: true, ..q };
    assert_eq!(
        d.store.list(&mine)?.items.len(),
        1,
        "the waitlisted member sees it as theirs"
    );
    let notices = d.store.my_notices()?;
    assert!(
        notices
            .iter()
            .any(|n| n.code == "waitlisted" && n.entity == id.as_str())
    );
    Ok(())
}

#[test]
fn going_maybe_going_goes_to_the_back() -> Result<()> {
    let d = Device::new(Role::Organiser, T0)?;
    let id = d.store.create_event(&NewEvent {
        capacity: Some(2),
        ..party()
    })?;
    let m = members(3)?;
    for member in &m {
        d.as_member(member)?;
        d.store.rsvp_event(&id, Rsvp::Going)?;
    }
    d.as_member(&m[0])?;
    assert_eq!(d.store.rsvp_event(&id, Rsvp::Maybe)?, Attendance::Maybe);
    let v = d.store.event(&id)?;
    assert_eq!(ids(&v.confirmed), vec![m[1].clone(), m[2].clone()]);
    assert_eq!(ids(&v.maybe), vec![m[0].clone()]);
    assert_eq!(codes(&v, &m[2]), vec!["promoted"]);

    d.as_member(&m[0])?;
    assert_eq!(
        d.store.rsvp_event(&id, Rsvp::Going)?,
        Attendance::Waitlisted { position: 1 }
    );
    let v = d.store.event(&id)?;
    assert_eq!(ids(&v.confirmed), vec![m[1].clone(), m[2].clone()]);
    assert_eq!(ids(&v.waitlist), vec![m[0].clone()]);
    assert!(v.maybe.is_empty());
    Ok(())
}

#[test]
fn two_devices_of_one_member_saying_going_keep_the_first_place() -> Result<()> {
    let org = Device::new(Role::Organiser, T0)?;
    let id = org.store.create_event(&NewEvent {
        capacity: Some(1),
        ..party()
    })?;
    let phone = Device::new(Role::Resident, T0)?;
    let tablet = Device::new(Role::Resident, T0)?;
    tablet.store.set_member_id(&phone.member)?;
    let other = Device::new(Role::Resident, T0)?;
    for d in [&phone, &tablet, &other] {
        deliver(&org.store, &d.store)?;
    }
    phone.clock.set(T0 + 100);
    phone.store.rsvp_event(&id, Rsvp::Going)?;
    other.clock.set(T0 + 150);
    other.store.rsvp_event(&id, Rsvp::Going)?;
    tablet.clock.set(T0 + 200);
    tablet.store.rsvp_event(&id, Rsvp::Going)?;
    sync(&[&org, &phone, &tablet, &other])?;
    let v = org.store.event(&id)?;
    assert_eq!(ids(&v.confirmed), vec![phone.member.clone()]);
    assert_eq!(ids(&v.waitlist), vec![other.member.clone()]);
    assert_eq!(v.confirmed[0].since, T0 + 100);
    Ok(())
}

#[test]
fn racing_for_the_last_place_converges_and_tells_the_loser() -> Result<()> {
    let org = Device::new(Role::Organiser, T0)?;
    let id = org.store.create_event(&NewEvent {
        capacity: Some(2),
        ..party()
    })?;
    org.store.rsvp_event(&id, Rsvp::Going)?; // one place left
    let a = Device::new(Role::Resident, T0)?;
    let b = Device::new(Role::Resident, T0)?;
    deliver(&org.store, &a.store)?;
    deliver(&org.store, &b.store)?;

    // Both offline, both see the last place free and take it.
    a.clock.set(T0 + 100);
    b.clock.set(T0 + 200);
    assert_eq!(
        a.store.rsvp_event(&id, Rsvp::Going)?,
        Attendance::Going { place: 2 }
    );
    assert_eq!(
        b.store.rsvp_event(&id, Rsvp::Going)?,
        Attendance::Going { place: 2 }
    );

    sync(&[&org, &a, &b])?;
    let va = a.store.event(&id)?;
    let vb = b.store.event(&id)?;
    assert_eq!(va, vb, "both devices derive the same view");
    assert_eq!(va, org.store.event(&id)?);
    assert_eq!(a.store.projection_dump()?, b.store.projection_dump()?);
    assert_eq!(
        ids(&va.confirmed),
        vec![org.member.clone(), a.member.clone()]
    );
    assert_eq!(ids(&va.waitlist), vec![b.member.clone()]);
    assert_eq!(
        vb.attendance(&b.member),
        Attendance::Waitlisted { position: 1 }
    );
    let mut loser = codes(&vb, &b.member);
    loser.sort();
    assert_eq!(loser, vec!["bumped", "waitlisted"]);
    assert!(codes(&va, &a.member).is_empty());
    let told = b.store.my_notices()?;
    assert!(
        told.iter()
            .any(|n| n.code == "waitlisted" && n.text.contains("number 1"))
    );

    // The winner steps back: the loser gets the place and is told.
    a.clock.set(T0 + 300);
    a.store.rsvp_event(&id, Rsvp::Declined)?;
    sync(&[&org, &a, &b])?;
    let vb = b.store.event(&id)?;
    assert_eq!(vb, a.store.event(&id)?);
    assert_eq!(
        ids(&vb.confirmed),
        vec![org.member.clone(), b.member.clone()]
    );
    assert_eq!(codes(&vb, &b.member), vec!["promoted"]);
    Ok(())
}

#[test]
fn cancel_wins_over_later_rsvps_and_freezes_earlier_ones() -> Result<()> {
    let org = Device::new(Role::Organiser, T0)?;
    let id = org.store.create_event(&NewEvent {
        capacity: Some(5),
        ..party()
    })?;
    let role = org.store.add_event_role(&id, "Bar", "")?;
    let shift = org
        .store
        .add_event_shift(&id, &role, T0 + 24 * HOUR, T0 + 26 * HOUR, 2)?;
    let early = Device::new(Role::Resident, T0)?;
    let late = Device::new(Role::Resident, T0)?;
    deliver(&org.store, &early.store)?;
    deliver(&org.store, &late.store)?;

    // Offline: one answers before the cancel, the organiser cancels, one answers after.
    early.clock.set(T0 + 100);
    early.store.rsvp_event(&id, Rsvp::Going)?;
    org.clock.set(T0 + 200);
    org.store.cancel_event(&id, "storm")?;
    late.clock.set(T0 + 300);
    late.store.rsvp_event(&id, Rsvp::Going)?;
    late.store.signup_shift(&id, &shift)?;
    early.clock.set(T0 + 400);
    early.store.rsvp_event(&id, Rsvp::Declined)?; // after the cancel: ignored too

    sync(&[&org, &early, &late])?;
    let v = org.store.event(&id)?;
    assert_eq!(v, early.store.event(&id)?);
    assert_eq!(v, late.store.event(&id)?);
    assert_eq!(
        late.store.projection_dump()?,
        early.store.projection_dump()?
    );
    assert_eq!(v.status, EventStatus::Cancelled);
    assert_eq!(v.cancelled_at, Some(T0 + 200));
    assert_eq!(v.cancel_reason.as_deref(), Some("storm"));
    assert_eq!(
        ids(&v.confirmed),
        vec![early.member.clone()],
        "frozen at the cancel"
    );
    assert_eq!(v.attendance(&late.member), Attendance::NoAnswer);
    assert!(v.shifts.iter().all(|s| s.on.is_empty()));
    assert_eq!(codes(&v, &early.member), vec!["event_cancelled"]);
    assert_eq!(codes(&v, &late.member), vec!["event_cancelled"]);
    assert!(codes(&v, &org.member).is_empty());

    // Now that the cancel is known, answering and signing up are refused locally.
    assert!(invalid_transition(late.store.rsvp_event(&id, Rsvp::Maybe)));
    assert!(invalid_transition(early.store.signup_shift(&id, &shift)));
    assert!(invalid_transition(org.store.cancel_event(&id, "")));
    assert!(invalid_transition(
        org.store.edit_event(&id, &EventEdit::default())
    ));

    let q = ListQuery {
        kind: Some(Kind::Event),
        ..Default::default()
    };
    let row = late.store.list(&q)?.items.remove(0);
    assert_eq!(row.status, "cancelled");
    assert!(!row.needs_response, "a cancelled event needs no volunteers");
    Ok(())
}

#[test]
fn shifts_coverage_and_over_subscription() -> Result<()> {
    let d = Device::new(Role::Organiser, T0)?;
    let id = d.store.create_event(&party())?;
    let bar = d.store.add_event_role(&id, "Bar", "Tap and serve")?;
    let s1 = d
        .store
        .add_event_shift(&id, &bar, T0 + 24 * HOUR, T0 + 26 * HOUR, 2)?;
    let s2 = d
        .store
        .add_event_shift(&id, &bar, T0 + 26 * HOUR, T0 + 28 * HOUR, 1)?;
    let v = d.store.event(&id)?;
    assert_eq!(v.roles.len(), 1);
    assert_eq!(v.roles[0].name, "Bar");
    assert_eq!(
        (v.shifts_needed, v.shifts_filled, v.coverage()),
        (3, 0, Some(0.0))
    );
    assert!(project(&v).needs_response);

    // Bad shifts and sign-ups.
    assert!(matches!(
        d.store.add_event_shift(&id, "nope", T0, T0, 1),
        Err(Error::NotFound { what: "role", .. })
    ));
    assert_eq!(
        bad_field(d.store.add_event_shift(&id, &bar, T0, T0, 0)),
        Some("needed")
    );
    assert_eq!(
        bad_field(d.store.add_event_shift(&id, &bar, T0, T0, 1_001)),
        Some("needed")
    );
    assert_eq!(
        bad_field(d.store.add_event_shift(&id, &bar, T0, T0 - 1, 1)),
        Some("ends_at")
    );
    assert_eq!(
        bad_field(d.store.add_event_role(&id, " ", "")),
        Some("name")
    );
    assert!(matches!(
        d.store.signup_shift(&id, "nope"),
        Err(Error::NotFound { what: "shift", .. })
    ));

    let m = members(4)?;
    for (i, member) in m.iter().take(3).enumerate() {
        d.as_member(member)?;
        let slot = d.store.signup_shift(&id, &s1)?;
        let want = if i < 2 {
            ShiftSlot::On
        } else {
            ShiftSlot::Reserve { position: 1 }
        };
        assert_eq!(slot, want);
    }
    assert_eq!(
        d.store.signup_shift(&id, &s1)?,
        ShiftSlot::Reserve { position: 1 }
    );
    let v = d.store.event(&id)?;
    let shift = v.shift(&s1).expect("shift");
    assert_eq!(shift.on, vec![m[0].clone(), m[1].clone()]);
    assert_eq!(shift.reserve, vec![m[2].clone()]);
    assert_eq!(codes(&v, &m[2]), vec!["shift_reserve"]);
    assert_eq!(
        (v.shifts_needed, v.shifts_filled),
        (3, 2),
        "the reserve does not count"
    );
    assert!(
        project(&v).needs_response,
        "the second shift is still short"
    );

    d.as_member(&m[3])?;
    d.store.signup_shift(&id, &s2)?;
    let v = d.store.event(&id)?;
    assert_eq!((v.shifts_filled, v.coverage()), (3, Some(1.0)));
    assert!(!project(&v).needs_response);
    let q = ListQuery {
        kind: Some(Kind::Event),
        ..Default::default()
    };
    let row = d.store.list(&q)?.items.remove(0);
    assert!(matches!(
        row.detail,
        Detail::Event {
            shifts_needed: 3,
            shifts_filled: 3,
            ..
        }
    ));

    // One who is on withdraws: the reserve moves up.
    d.as_member(&m[0])?;
    d.store.withdraw_shift(&id, &s1)?;
    assert!(matches!(
        d.store.withdraw_shift(&id, &s1),
        Err(Error::NotFound { .. })
    ));
    let v = d.store.event(&id)?;
    let shift = v.shift(&s1).expect("shift");
    assert_eq!(shift.on, vec![m[1].clone(), m[2].clone()]);
    assert!(shift.reserve.is_empty());
    assert!(codes(&v, &m[2]).is_empty());
    assert!(
        project(&v)
            .participants
            .iter()
            .any(|p| p.member == m[3] && p.relation == "volunteer")
    );
    Ok(())
}

#[test]
fn racing_for_the_last_shift_place_converges() -> Result<()> {
    let org = Device::new(Role::Organiser, T0)?;
    let id = org.store.create_event(&party())?;
    let role = org.store.add_event_role(&id, "Opbouw", "")?;
    let shift = org
        .store
        .add_event_shift(&id, &role, T0 + 20 * HOUR, T0 + 24 * HOUR, 1)?;
    let a = Device::new(Role::Resident, T0)?;
    let b = Device::new(Role::Resident, T0)?;
    deliver(&org.store, &a.store)?;
    deliver(&org.store, &b.store)?;
    b.clock.set(T0 + 100);
    a.clock.set(T0 + 200);
    assert_eq!(a.store.signup_shift(&id, &shift)?, ShiftSlot::On);
    assert_eq!(b.store.signup_shift(&id, &shift)?, ShiftSlot::On);
    sync(&[&org, &a, &b])?;
    let v = a.store.event(&id)?;
    assert_eq!(v, b.store.event(&id)?);
    let s = v.shift(&shift).expect("shift");
    assert_eq!(s.on, vec![b.member.clone()]);
    assert_eq!(
        s.slot_of(&a.member),
        Some(ShiftSlot::Reserve { position: 1 })
    );
    assert_eq!(codes(&v, &a.member), vec!["shift_reserve"]);
    Ok(())
}

#[test]
fn residents_may_not_create_cancel_edit_or_add_shifts() -> Result<()> {
    let resident = Device::new(Role::Resident, T0)?;
    let caretaker = Device::new(Role::Caretaker, T0)?;
    assert!(not_allowed(resident.store.create_event(&party())));
    assert!(not_allowed(caretaker.store.create_event(&party())));

    let org = Device::new(Role::Organiser, T0)?;
    let id = org.store.create_event(&party())?;
    let role = org.store.add_event_role(&id, "Bar", "")?;
    deliver(&org.store, &resident.store)?;
    let s = T0 + HOUR;
    assert!(not_allowed(resident.store.cancel_event(&id, "")));
    assert!(not_allowed(
        resident.store.add_event_role(&id, "Keuken", "")
    ));
    assert!(not_allowed(
        resident.store.add_event_shift(&id, &role, s, s, 1)
    ));
    let retitle = EventEdit {
        title: Some("Mijn feest".into()),
        ..Default::default()
    };
    assert!(not_allowed(resident.store.edit_event(&id, &retitle)));
    assert!(
        resident.store.pending_changes(10)?.is_empty(),
        "nothing was written"
    );
    // What a resident may do: answer and volunteer, for themself.
    resident.store.rsvp_event(&id, Rsvp::Maybe)?;

    // Staff who did not create it may manage it.
    let staff = Device::new(Role::Staff, T0)?;
    deliver(&org.store, &staff.store)?;
    staff.store.edit_event(&id, &retitle)?;
    staff.store.add_event_shift(&id, &role, s, s, 3)?;
    staff.store.cancel_event(&id, "")?;
    assert_eq!(staff.store.event(&id)?.status, EventStatus::Cancelled);
    Ok(())
}

#[test]
fn entries_by_unauthorised_roles_are_ignored_in_derivation() -> Result<()> {
    let org = Ctx {
        member: MemberId::new()?,
        role: Role::Organiser,
        household: None,
        now: T0,
    };
    let res = Ctx {
        member: MemberId::new()?,
        role: Role::Resident,
        household: None,
        now: T0,
    };
    let mut d = AutoCommit::new();
    create(&mut d, &EntityId::new()?, &org, &party())?;
    // A hostile resident device writes what only organisers may.
    let role = doc::append_entry(&mut d, &res, "add_role", &[("name", "Bar".into())])?;
    let mut org_role = org.clone();
    org_role.now = T0 + 100;
    let real = doc::append_entry(&mut d, &org_role, "add_role", &[("name", "Bar".into())])?;
    let shift = |role: &str| -> Vec<(&'static str, Field)> {
        vec![
            ("role_id", role.into()),
            ("starts_at", T0.into()),
            ("ends_at", T0.into()),
            ("needed", 1_i64.into()),
        ]
    };
    doc::append_entry(&mut d, &res, "add_shift", &shift(&real))?;
    doc::append_entry(&mut d, &res, "cancel", &[])?;
    doc::append_entry(&mut d, &res, "rsvp", &[("status", "sure".into())])?;
    let v = derive(&d)?;
    assert_eq!(
        v.roles.iter().map(|r| r.id.clone()).collect::<Vec<_>>(),
        vec![real.clone()]
    );
    assert!(!v.roles.iter().any(|r| r.id == role));
    assert!(v.shifts.is_empty());
    assert_eq!(v.status, EventStatus::Upcoming);
    assert_eq!(v.attendance(&res.member), Attendance::NoAnswer);

    // Clocks disagree: a shift (and a sign-up) whose `at` is before its role's still count.
    let mut early = org.clone();
    early.now = T0 + 50;
    let s = doc::append_entry(&mut d, &early, "add_shift", &shift(&real))?;
    let mut earlier = res.clone();
    earlier.now = T0 + 10;
    doc::append_entry(&mut d, &earlier, "signup", &[("shift", s.as_str().into())])?;
    let v = derive(&d)?;
    assert_eq!(
        v.shift(&s).map(|s| s.on.clone()),
        Some(vec![res.member.clone()])
    );
    Ok(())
}

#[test]
fn rsvp_is_always_by_the_local_member() -> Result<()> {
    let org = Device::new(Role::Organiser, T0)?;
    let id = org.store.create_event(&party())?;
    let r = Device::new(Role::Resident, T0)?;
    deliver(&org.store, &r.store)?;
    r.store.rsvp_event(&id, Rsvp::Going)?;
    r.store.signup_shift(&id, "none").ok(); // no shift: refused, nothing written
    let entries = r
        .store
        .read_entity(&id, Kind::Event, |d| Ok(doc::entries(d)))?;
    assert_eq!(entries.len(), 1);
    assert!(
        entries
            .iter()
            .all(|e| e.t == "rsvp" && e.by == r.member && e.role == Role::Resident)
    );
    deliver(&r.store, &org.store)?;
    let v = org.store.event(&id)?;
    assert_eq!(ids(&v.confirmed), vec![r.member.clone()]);
    assert_eq!(v.attendance(&org.member), Attendance::NoAnswer);
    // Repeating the answer writes nothing.
    let before = r.store.pending_count()?;
    r.store.rsvp_event(&id, Rsvp::Going)?;
    assert_eq!(r.store.pending_count()?, before);
    Ok(())
}

#[test]
fn edits_validate_and_a_capacity_change_rederives_the_waitlist() -> Result<()> {
    let d = Device::new(Role::Organiser, T0)?;
    let id = d.store.create_event(&NewEvent {
        capacity: Some(3),
        ..party()
    })?;
    let m = members(3)?;
    for member in &m {
        d.as_member(member)?;
        d.store.rsvp_event(&id, Rsvp::Going)?;
    }
    let lower = EventEdit {
        capacity: Some(Some(1)),
        ..Default::default()
    };
    d.store.edit_event(&id, &lower)?;
    let v = d.store.event(&id)?;
    assert_eq!(ids(&v.confirmed), vec![m[0].clone()]);
    assert_eq!(ids(&v.waitlist), vec![m[1].clone(), m[2].clone()]);
    let mut told = codes(&v, &m[1]);
    told.sort();
    assert_eq!(told, vec!["bumped", "waitlisted"]);

    let unlimited = EventEdit {
        capacity: Some(None),
        ..Default::default()
    };
    d.store.edit_event(&id, &unlimited)?;
    let v = d.store.event(&id)?;
    assert_eq!(
        (v.capacity, v.confirmed.len(), v.waitlist.len()),
        (None, 3, 0)
    );
    assert!(v.notices.is_empty());

    // Bad edits change nothing.
    let start = party().starts_at;
    let cases: Vec<(&str, EventEdit)> = vec![
        (
            "ends_at",
            EventEdit {
                ends_at: Some(start - 1),
                ..Default::default()
            },
        ),
        (
            "ends_at",
            EventEdit {
                starts_at: Some(party().ends_at + 1),
                ..Default::default()
            },
        ),
        (
            "title",
            EventEdit {
                title: Some(String::new()),
                ..Default::default()
            },
        ),
        (
            "place",
            EventEdit {
                place: Some(" ".into()),
                ..Default::default()
            },
        ),
        (
            "lon",
            EventEdit {
                point: Some(Some((0.0, -180.5))),
                ..Default::default()
            },
        ),
        (
            "capacity",
            EventEdit {
                capacity: Some(Some(0)),
                ..Default::default()
            },
        ),
        (
            "capacity",
            EventEdit {
                title: Some("Ok".into()),
                capacity: Some(Some(-4)),
                ..Default::default()
            },
        ),
    ];
    for (field, e) in cases {
        assert_eq!(
            bad_field(d.store.edit_event(&id, &e)),
            Some(field),
            "{field}"
        );
    }
    assert_eq!(
        d.store.event(&id)?.title,
        "Burendag",
        "a refused edit writes nothing"
    );

    let moved = EventEdit {
        title: Some("Burendag 2".into()),
        description: Some("Met soep".into()),
        place: Some("Plein".into()),
        point: Some(Some((52.0, 5.0))),
        starts_at: Some(start + HOUR),
        ends_at: None,
        capacity: None,
    };
    d.store.edit_event(&id, &moved)?;
    let v = d.store.event(&id)?;
    assert_eq!(
        (v.title.as_str(), v.description.as_str(), v.place.as_str()),
        ("Burendag 2", "Met soep", "Plein")
    );
    assert_eq!((v.starts_at, v.ends_at), (start + HOUR, party().ends_at));
    assert_eq!((v.lat, v.lon), (Some(52.0), Some(5.0)));
    d.store.edit_event(
        &id,
        &EventEdit {
            point: Some(None),
            ..Default::default()
        },
    )?;
    assert_eq!(d.store.event(&id)?.lat, None);
    Ok(())
}

#[test]
fn the_creator_may_edit_even_as_a_resident_later() -> Result<()> {
    let d = Device::new(Role::Organiser, T0)?;
    let id = d.store.create_event(&party())?;
    d.store.set_identity(Role::Resident, None, None)?;
    d.store.edit_event(
        &id,
        &EventEdit {
            title: Some("Nieuw".into()),
            ..Default::default()
        },
    )?;
    assert!(not_allowed(d.store.cancel_event(&id, "")));
    assert_eq!(d.store.event(&id)?.title, "Nieuw");
    Ok(())
}
