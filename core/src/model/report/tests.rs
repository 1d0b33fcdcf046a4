//! The kind's unit tests (whole stores as replicas, and the pure operations).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use automerge::AutoCommit;

use crate::doc;
use crate::error::{Error, Result};
use crate::ids::{EntityId, MemberId};
use crate::model::{Detail, Kind, Role};

use super::*;
use crate::store::query::ListQuery;
use crate::testing::{Device, sync};

const T: i64 = 1_700_000_000_000;

/// Every device derives the same view and projection rows; returns that view.
fn converged(devices: &[&Device], id: &EntityId) -> Result<ReportView> {
    let first = devices[0].store.report(id)?;
    let dump = devices[0].store.projection_dump()?;
    for d in &devices[1..] {
        assert_eq!(d.store.report(id)?, first);
        assert_eq!(d.store.projection_dump()?, dump);
    }
    Ok(first)
}

fn sample() -> NewReport {
    NewReport {
        description: "Kapotte lamp in de kelder".into(),
        complex: Some("Complex 4".into()),
        floor: Some("kelder".into()),
        stairwell: Some("portiek 12–20".into()),
        severity: "high".into(),
        ..NewReport::at("lighting", 52.37, 4.89)
    }
}

fn photo(hash_digit: char) -> PhotoRef {
    PhotoRef {
        hash: hash_digit.to_string().repeat(64),
        mime: "image/jpeg".into(),
        size: 1_000_000,
        width: 4000,
        height: 3000,
    }
}

fn field_of(r: Result<impl std::fmt::Debug>) -> &'static str {
    match r {
        Err(Error::InvalidInput { field, .. }) => field,
        other => panic!("expected invalid input, got {other:?}"),
    }
}

#[test]
fn create_and_project() -> Result<()> {
    let r = Device::new(Role::Resident, T)?;
    let id = r.store.create_report(&sample())?;
    let v = r.store.report(&id)?;
    assert_eq!(v.status, ReportStatus::Reported);
    assert_eq!((v.lat, v.lon), (Some(52.37), Some(4.89)));
    assert_eq!(
        v.location_label().as_deref(),
        Some("Complex 4 · kelder · portiek 12–20")
    );
    assert_eq!(v.reporter, r.member);
    let page = r.store.list(&ListQuery {
        kind: Some(Kind::Report),
        ..Default::default()
    })?;
    let row = &page.items[0];
    assert_eq!(row.status, "reported");
    assert!(row.needs_response);
    assert_eq!(row.category.as_deref(), Some("lighting"));
    assert_eq!(row.title, "Kapotte lamp in de kelder");
    assert_eq!(
        row.location_label.as_deref(),
        Some("Complex 4 · kelder · portiek 12–20")
    );
    assert!(
        matches!(&row.detail, Detail::Report { severity, me_too: 0, .. } if severity == "high")
    );
    let mine = r.store.list(&ListQuery {
        mine: true,
        ..Default::default()
    })?;
    assert_eq!(mine.items.len(), 1);
    let found = r.store.list(&ListQuery {
        text: Some("lamp".into()),
        ..Default::default()
    })?;
    assert_eq!(found.items.len(), 1);

    // Only the present parts make the label; no description falls back to the category.
    let bare = r.store.create_report(&NewReport {
        floor: Some("2".into()),
        ..NewReport::at("graffiti", 52.0, 5.0)
    })?;
    let v = r.store.report(&bare)?;
    assert_eq!(v.location_label().as_deref(), Some("2"));
    assert_eq!(v.title(), "graffiti");
    Ok(())
}

#[test]
fn validation() -> Result<()> {
    let r = Device::new(Role::Caretaker, T)?;
    let s = &r.store;
    assert_eq!(
        field_of(s.create_report(&NewReport::at("lighting", 91.0, 4.0))),
        "lat"
    );
    assert_eq!(
        field_of(s.create_report(&NewReport::at("lighting", f64::NAN, 4.0))),
        "lat"
    );
    assert_eq!(
        field_of(s.create_report(&NewReport::at("lighting", 52.0, 181.0))),
        "lon"
    );
    assert_eq!(
        field_of(s.create_report(&NewReport::at("broken", 52.0, 4.0))),
        "category"
    );
    let bad_severity = NewReport {
        severity: "meh".into(),
        ..sample()
    };
    assert_eq!(field_of(s.create_report(&bad_severity)), "severity");
    let long = NewReport {
        stairwell: Some("x".repeat(81)),
        ..sample()
    };
    assert_eq!(field_of(s.create_report(&long)), "stairwell");
    let long = NewReport {
        description: "x".repeat(5_001),
        ..sample()
    };
    assert_eq!(field_of(s.create_report(&long)), "description");

    let id = s.create_report(&sample())?;
    let reject = |reason: &str| ReportTransition::Reject {
        reason: reason.into(),
    };
    assert_eq!(field_of(s.transition_report(&id, reject(""))), "reason");
    assert_eq!(field_of(s.transition_report(&id, reject("   "))), "reason");
    let itself = ReportTransition::Duplicate { of: id.clone() };
    assert_eq!(field_of(s.transition_report(&id, itself)), "of");
    let refer = ReportTransition::Refer { to: " ".into() };
    assert_eq!(field_of(s.transition_report(&id, refer)), "to");
    assert_eq!(s.report(&id)?.status, ReportStatus::Reported);

    let bad = PhotoRef {
        hash: "A".repeat(64),
        ..photo('a')
    };
    assert_eq!(field_of(s.attach_photo_ref(&id, &bad)), "hash");
    let bad = PhotoRef {
        hash: "a".repeat(63),
        ..photo('a')
    };
    assert_eq!(field_of(s.attach_photo_ref(&id, &bad)), "hash");
    let bad = PhotoRef {
        mime: "image/gif".into(),
        ..photo('a')
    };
    assert_eq!(field_of(s.attach_photo_ref(&id, &bad)), "mime");
    let bad = PhotoRef {
        size: MAX_PHOTO_BYTES + 1,
        ..photo('a')
    };
    assert_eq!(field_of(s.attach_photo_ref(&id, &bad)), "size");
    let bad = PhotoRef {
        width: 0,
        ..photo('a')
    };
    assert_eq!(field_of(s.attach_photo_ref(&id, &bad)), "width");
    let edge = PhotoRef {
        size: MAX_PHOTO_BYTES,
        ..photo('b')
    };
    s.attach_photo_ref(&id, &edge)?;
    s.attach_photo_ref(&id, &edge)?; // the same hash again: kept once
    s.attach_photo_ref(&id, &photo('c'))?;
    let v = s.report(&id)?;
    assert_eq!(v.photos.len(), 2);
    assert_eq!(v.photos[0].photo, edge);
    Ok(())
}

#[test]
fn full_workflow_with_reopen_and_confirm() -> Result<()> {
    let r = Device::new(Role::Resident, T)?;
    let c = Device::new(Role::Caretaker, T)?;
    let id = r.store.create_report(&sample())?;
    sync(&[&r, &c])?;
    use ReportTransition::*;
    for (i, step) in [Acknowledge, Plan, Start, Resolve].into_iter().enumerate() {
        c.clock.advance(1_000);
        c.store.transition_report(&id, step.clone())?;
        assert_eq!(c.store.report(&id)?.status, step.target(), "step {i}");
    }
    // Backwards is not a step.
    assert!(matches!(
        c.store.transition_report(&id, Plan),
        Err(Error::InvalidTransition { .. })
    ));
    sync(&[&r, &c])?;
    r.clock.set(T + 10_000);
    r.store.transition_report(
        &id,
        Reopen {
            reason: "lamp is weer stuk".into(),
        },
    )?;
    let v = r.store.report(&id)?;
    assert_eq!(v.status, ReportStatus::Reopened);
    assert!(v.needs_response());
    sync(&[&r, &c])?;
    // Reopened behaves like reported: skip straight to resolved.
    c.clock.set(T + 20_000);
    c.store.transition_report(&id, Resolve)?;
    sync(&[&r, &c])?;
    r.clock.set(T + 30_000);
    r.store.transition_report(&id, Confirm)?;
    sync(&[&r, &c])?;
    let v = converged(&[&r, &c], &id)?;
    assert_eq!(v.status, ReportStatus::Confirmed);
    assert!(!v.needs_response());
    let steps: Vec<&str> = v.timeline.iter().map(|t| t.to.as_str()).collect();
    assert_eq!(
        steps,
        [
            "acknowledged",
            "planned",
            "in_progress",
            "resolved",
            "reopened",
            "resolved",
            "confirmed"
        ]
    );
    assert_eq!(v.timeline[4].reason.as_deref(), Some("lamp is weer stuk"));
    assert_eq!(v.timeline[4].by, r.member);
    assert_eq!(v.timeline[5].at, T + 20_000);
    assert!(v.notices.is_empty());
    // Confirmed is final, for everyone; a new "me too" is refused.
    for s in [&r.store, &c.store] {
        assert!(matches!(
            s.transition_report(&id, Acknowledge),
            Err(Error::InvalidTransition { .. })
        ));
        assert!(matches!(
            s.transition_report(
                &id,
                Reopen {
                    reason: String::new()
                }
            ),
            Err(Error::InvalidTransition { .. })
        ));
    }
    assert!(matches!(
        c.store.me_too_report(&id),
        Err(Error::InvalidTransition { .. })
    ));
    Ok(())
}

#[test]
fn terminal_states_keep_their_fields() -> Result<()> {
    let c = Device::new(Role::Caretaker, T)?;
    let other = c.store.create_report(&sample())?;
    let a = c.store.create_report(&sample())?;
    let b = c.store.create_report(&sample())?;
    let d = c.store.create_report(&sample())?;
    c.store.transition_report(
        &a,
        ReportTransition::Reject {
            reason: "privéterrein".into(),
        },
    )?;
    c.store
        .transition_report(&b, ReportTransition::Duplicate { of: other.clone() })?;
    c.store.transition_report(
        &d,
        ReportTransition::Refer {
            to: "gemeente".into(),
        },
    )?;
    assert_eq!(
        c.store.report(&a)?.reject_reason.as_deref(),
        Some("privéterrein")
    );
    assert_eq!(
        c.store.report(&b)?.duplicate_of.as_deref(),
        Some(other.as_str())
    );
    assert_eq!(c.store.report(&d)?.referred_to.as_deref(), Some("gemeente"));
    for id in [&a, &b, &d] {
        assert!(!c.store.report(id)?.needs_response());
        assert!(matches!(
            c.store.transition_report(id, ReportTransition::Resolve),
            Err(Error::InvalidTransition { .. })
        ));
    }
    let rows = c.store.list(&ListQuery {
        status: Some("duplicate".into()),
        ..Default::default()
    })?;
    assert_eq!(rows.items.len(), 1);
    Ok(())
}

/// Each transition × each role, as someone who is not the reporter, and as the reporter.
#[test]
fn permission_matrix_for_transitions() -> Result<()> {
    use ReportTransition::*;
    let dup_of = EntityId::new()?;
    // (step, needs the report resolved first, acting as reporter, [resident, caretaker, organiser, staff])
    let table: Vec<(ReportTransition, bool, bool, [bool; 4])> = vec![
        (Acknowledge, false, false, [false, true, false, true]),
        (Plan, false, false, [false, true, false, true]),
        (Start, false, false, [false, true, false, true]),
        (Resolve, false, false, [false, true, false, true]),
        (
            Reject {
                reason: "nee".into(),
            },
            false,
            false,
            [false, true, true, true],
        ),
        (
            Duplicate { of: dup_of.clone() },
            false,
            false,
            [false, true, true, true],
        ),
        (
            Refer {
                to: "gemeente".into(),
            },
            false,
            false,
            [false, true, true, true],
        ),
        (Confirm, true, false, [false, false, false, false]),
        (
            Reopen {
                reason: String::new(),
            },
            true,
            false,
            [false, false, false, true],
        ),
        (Confirm, true, true, [true, true, true, true]),
        (
            Reopen {
                reason: String::new(),
            },
            true,
            true,
            [true, true, true, true],
        ),
    ];
    let worker = MemberId::new()?;
    for (step, resolved_first, as_reporter, row) in &table {
        for (role, want) in Role::ALL.into_iter().zip(row) {
            let d = Device::new(Role::Resident, T)?;
            let reporter = MemberId::new()?;
            let actor = if *as_reporter {
                reporter.clone()
            } else {
                MemberId::new()?
            };
            d.store.set_member_id(&reporter)?;
            d.store
                .set_identity(if *as_reporter { role } else { Role::Resident }, None, None)?;
            let id = d.store.create_report(&sample())?;
            if *resolved_first {
                d.store.set_member_id(&worker)?;
                d.store.set_identity(Role::Caretaker, None, None)?;
                d.store.transition_report(&id, Resolve)?;
            }
            d.store.set_member_id(&actor)?;
            d.store.set_identity(role, None, None)?;
            let got = d.store.transition_report(&id, step.clone());
            let ctx = format!("{step:?} by {role:?} (reporter: {as_reporter})");
            if *want {
                assert!(got.is_ok(), "{ctx}: {got:?}");
                assert_eq!(d.store.report(&id)?.status, step.target(), "{ctx}");
            } else {
                assert!(
                    matches!(got, Err(Error::NotAllowed { .. })),
                    "{ctx}: {got:?}"
                );
            }
        }
    }
    Ok(())
}

/// The replay applies the same table to entries a device wrote without asking the API
/// (an old or hostile client): ignored, and the author is told.
#[test]
fn forged_entries_are_ignored() -> Result<()> {
    let r = Device::new(Role::Resident, T)?;
    let id = r.store.create_report(&sample())?;
    r.store.update_entity(&id, Kind::Report, |doc, ctx| {
        doc::append_entry(doc, ctx, "transition", &[("to", "resolved".into())])?;
        doc::append_entry(doc, ctx, "transition", &[("to", "teleported".into())])?;
        doc::append_entry(doc, ctx, "me_too", &[])?;
        doc::append_entry(doc, ctx, "responsible", &[("party", "me".into())])?;
        Ok(())
    })?;
    let v = r.store.report(&id)?;
    assert_eq!(v.status, ReportStatus::Reported);
    assert!(v.timeline.is_empty());
    assert_eq!(
        v.me_too_count(),
        0,
        "the reporter's own me-too never counts"
    );
    assert_eq!(v.responsible, None);
    assert_eq!(v.notices.len(), 1, "unknown statuses are ignored silently");
    assert_eq!(v.notices[0].code, "transition_ignored");
    assert_eq!(v.notices[0].member, r.member);
    assert!(
        r.store
            .my_notices()?
            .iter()
            .any(|n| n.code == "transition_ignored")
    );
    Ok(())
}

#[test]
fn me_too_latest_per_member_wins() -> Result<()> {
    let r = Device::new(Role::Resident, T)?;
    let n = Device::new(Role::Resident, T)?;
    let id = r.store.create_report(&sample())?;
    assert!(matches!(
        r.store.me_too_report(&id),
        Err(Error::NotAllowed { .. })
    ));
    sync(&[&r, &n])?;
    n.store.me_too_report(&id)?;
    n.store.me_too_report(&id)?; // already active: no second entry, still one
    assert_eq!(n.store.report(&id)?.me_too_count(), 1);
    n.clock.advance(1);
    n.store.withdraw_me_too(&id)?;
    assert_eq!(n.store.report(&id)?.me_too_count(), 0);
    assert!(matches!(
        n.store.withdraw_me_too(&id),
        Err(Error::NotFound { .. })
    ));
    n.clock.advance(1);
    n.store.me_too_report(&id)?;
    sync(&[&r, &n])?;
    let v = converged(&[&r, &n], &id)?;
    assert_eq!(v.me_too_count(), 1);
    assert_eq!(v.me_too[0].member, n.member);
    let mine = n.store.list(&ListQuery {
        mine: true,
        ..Default::default()
    })?;
    assert_eq!(
        mine.items.len(),
        1,
        "a me-too makes the report the member's"
    );
    Ok(())
}

/// A caretaker resolves while a neighbour, offline, says "me too": both survive.
#[test]
fn resolve_and_concurrent_me_too_both_survive() -> Result<()> {
    let r = Device::new(Role::Resident, T)?;
    let c = Device::new(Role::Caretaker, T)?;
    let n = Device::new(Role::Resident, T)?;
    let id = r.store.create_report(&sample())?;
    sync(&[&r, &c, &n])?;
    n.clock.set(T + 5);
    n.store.me_too_report(&id)?;
    c.clock.set(T + 10);
    c.store.transition_report(&id, ReportTransition::Resolve)?;
    sync(&[&r, &c, &n])?;
    let v = converged(&[&r, &c, &n], &id)?;
    assert_eq!(v.status, ReportStatus::Resolved);
    assert_eq!(v.me_too_count(), 1);
    assert!(v.notices.is_empty());

    // The other way round: the me-too is later than the resolve in the order.
    let id = r.store.create_report(&sample())?;
    sync(&[&r, &c, &n])?;
    c.clock.set(T + 100);
    c.store.transition_report(&id, ReportTransition::Resolve)?;
    n.clock.set(T + 200);
    n.store.me_too_report(&id)?;
    sync(&[&r, &c, &n])?;
    let v = converged(&[&r, &c, &n], &id)?;
    assert_eq!(v.status, ReportStatus::Resolved);
    assert_eq!(v.me_too_count(), 1);
    let row = &r
        .store
        .list(&ListQuery {
            kind: Some(Kind::Report),
            status: Some("resolved".into()),
            ..Default::default()
        })?
        .items;
    assert!(
        row.iter()
            .all(|s| matches!(s.detail, Detail::Report { me_too: 1, .. }))
    );
    Ok(())
}

/// Two caretakers offline: one resolves, one rejects. The earlier in `(at, by, id)` order
/// stands on every replica; the other is told `transition_ignored`.
#[test]
fn conflicting_transitions_converge_and_notify_the_loser() -> Result<()> {
    for resolve_first in [true, false] {
        let r = Device::new(Role::Resident, T)?;
        let c1 = Device::new(Role::Caretaker, T)?;
        let c2 = Device::new(Role::Caretaker, T)?;
        let id = r.store.create_report(&sample())?;
        sync(&[&r, &c1, &c2])?;
        let (resolve_at, reject_at) = if resolve_first {
            (T + 10, T + 20)
        } else {
            (T + 20, T + 10)
        };
        c1.clock.set(resolve_at);
        c1.store.transition_report(&id, ReportTransition::Resolve)?;
        c2.clock.set(reject_at);
        c2.store.transition_report(
            &id,
            ReportTransition::Reject {
                reason: "niet van ons".into(),
            },
        )?;
        sync(&[&r, &c1, &c2])?;
        let v = converged(&[&r, &c1, &c2], &id)?;
        let (winner_status, loser) = if resolve_first {
            (ReportStatus::Resolved, &c2)
        } else {
            (ReportStatus::Rejected, &c1)
        };
        assert_eq!(v.status, winner_status);
        assert_eq!(v.timeline.len(), 1);
        assert_eq!(v.notices.len(), 1);
        assert_eq!(v.notices[0].member, loser.member);
        assert_eq!(v.notices[0].code, "transition_ignored");
        let told = loser.store.my_notices()?;
        assert!(
            told.iter()
                .any(|n| n.code == "transition_ignored" && n.entity == id.as_str())
        );
    }
    Ok(())
}

/// The same step by two caretakers at the same time is redundant, not a conflict.
#[test]
fn same_step_twice_is_not_a_conflict() -> Result<()> {
    let c1 = Device::new(Role::Caretaker, T)?;
    let c2 = Device::new(Role::Caretaker, T)?;
    let id = c1.store.create_report(&sample())?;
    sync(&[&c1, &c2])?;
    c1.store
        .transition_report(&id, ReportTransition::Acknowledge)?;
    c2.store
        .transition_report(&id, ReportTransition::Acknowledge)?;
    sync(&[&c1, &c2])?;
    let v = converged(&[&c1, &c2], &id)?;
    assert_eq!(v.status, ReportStatus::Acknowledged);
    assert_eq!(v.timeline.len(), 1);
    assert!(v.notices.is_empty());
    Ok(())
}

#[test]
fn concurrent_description_edits_merge() -> Result<()> {
    let r = Device::new(Role::Resident, T)?;
    let c = Device::new(Role::Caretaker, T)?;
    let n = Device::new(Role::Resident, T)?;
    let id = r.store.create_report(&NewReport {
        description: "lamp stuk".into(),
        ..sample()
    })?;
    sync(&[&r, &c, &n])?;
    assert!(matches!(
        n.store.edit_report(&id, "x"),
        Err(Error::NotAllowed { .. })
    ));
    r.store.edit_report(&id, "kelder: lamp stuk")?;
    c.store.edit_report(&id, "lamp stuk, nieuwe besteld")?;
    sync(&[&r, &c, &n])?;
    let v = converged(&[&r, &c, &n], &id)?;
    assert_eq!(v.description, "kelder: lamp stuk, nieuwe besteld");
    Ok(())
}

#[test]
fn responsible_and_response() -> Result<()> {
    let r = Device::new(Role::Resident, T)?;
    let s = Device::new(Role::Staff, T)?;
    let o = Device::new(Role::Organiser, T)?;
    let id = r.store.create_report(&sample())?;
    sync(&[&r, &s, &o])?;
    assert!(matches!(
        r.store.set_report_responsible(&id, "ik"),
        Err(Error::NotAllowed { .. })
    ));
    assert!(matches!(
        r.store.set_report_response(&id, "ok"),
        Err(Error::NotAllowed { .. })
    ));
    s.clock.set(T + 10);
    s.store.set_report_responsible(&id, "Woonstichting")?;
    o.clock.set(T + 20);
    o.store.set_report_responsible(&id, "Gemeente")?;
    s.clock.set(T + 30);
    s.store.set_report_response(&id, "We kijken ernaar.")?;
    o.clock.set(T + 40);
    o.store.set_report_response(&id, "Doorgegeven.")?;
    sync(&[&r, &s, &o])?;
    let v = converged(&[&r, &s, &o], &id)?;
    assert_eq!(
        v.responsible.as_deref(),
        Some("Gemeente"),
        "the latest by order wins"
    );
    assert!(v.response.contains("We kijken ernaar.") || v.response.contains("Doorgegeven."));
    assert_eq!(v.updated_at, T + 40);
    assert_eq!(v.response_at, Some(T + 40));
    assert_eq!(v.response_by.as_ref(), Some(&o.member));
    let found = r.store.list(&ListQuery {
        text: Some("kijken".into()),
        ..Default::default()
    })?;
    assert_eq!(
        found.items.len(),
        usize::from(v.response.contains("kijken"))
    );
    let page = r.store.list(&ListQuery {
        kind: Some(Kind::Report),
        ..Default::default()
    })?;
    assert!(matches!(
        &page.items[0].detail,
        Detail::Report { responsible: Some(r), .. } if r == "Gemeente"
    ));
    o.clock.set(T + 50);
    o.store.set_report_responsible(&id, "")?;
    assert_eq!(o.store.report(&id)?.responsible, None);
    Ok(())
}

#[test]
fn photo_permissions_and_limit() -> Result<()> {
    let r = Device::new(Role::Resident, T)?;
    let n = Device::new(Role::Resident, T)?;
    let c = Device::new(Role::Caretaker, T)?;
    let id = r.store.create_report(&sample())?;
    sync(&[&r, &n, &c])?;
    r.store.attach_photo_ref(&id, &photo('0'))?;
    sync(&[&r, &n, &c])?;
    assert!(matches!(
        n.store.attach_photo_ref(&id, &photo('1')),
        Err(Error::NotAllowed { .. })
    ));
    let digits = "123456789abcdef";
    for ch in digits.chars() {
        c.store.attach_photo_ref(&id, &photo(ch))?;
    }
    for i in 1..=4 {
        let hash = format!("{:064x}", 0x1000 + i);
        c.store
            .attach_photo_ref(&id, &PhotoRef { hash, ..photo('0') })?;
    }
    assert_eq!(c.store.report(&id)?.photos.len(), MAX_PHOTOS);
    let one_more = PhotoRef {
        hash: format!("{:064x}", 0x2000),
        ..photo('0')
    };
    assert_eq!(field_of(c.store.attach_photo_ref(&id, &one_more)), "photo");
    sync(&[&r, &n, &c])?;
    let v = converged(&[&r, &n, &c], &id)?;
    assert_eq!(v.photos[0].by, r.member);
    let page = r.store.list(&ListQuery {
        kind: Some(Kind::Report),
        ..Default::default()
    })?;
    assert!(matches!(
        page.items[0].detail,
        Detail::Report { photos, .. } if photos == MAX_PHOTOS as i64
    ));
    Ok(())
}

/// The caretaker's phone runs five minutes ahead of the reporter's. The reporter confirms
/// after seeing the resolve; the confirm still replays after it.
#[test]
fn clock_skew_does_not_reorder_what_was_seen() -> Result<()> {
    let r = Device::new(Role::Resident, T)?;
    let c = Device::new(Role::Caretaker, T)?;
    let id = r.store.create_report(&sample())?;
    sync(&[&r, &c])?;
    c.clock.set(T + 300_000);
    c.store.transition_report(&id, ReportTransition::Resolve)?;
    sync(&[&r, &c])?;
    r.clock.set(T + 60_000);
    r.store.transition_report(&id, ReportTransition::Confirm)?;
    assert!(matches!(
        r.store.me_too_report(&id),
        Err(Error::NotAllowed { .. })
    ));
    sync(&[&r, &c])?;
    let v = converged(&[&r, &c], &id)?;
    assert_eq!(v.status, ReportStatus::Confirmed);
    assert!(v.notices.is_empty());
    assert_eq!(v.timeline[1].at, T + 300_001);
    Ok(())
}

/// `photo_refs` names every member whose attachment of a shown photo counts, also when
/// two attached the same photo concurrently (whichever entry the merge puts first).
#[test]
fn photo_refs_name_every_attacher_of_a_shown_photo() -> Result<()> {
    let r = Device::new(Role::Resident, T)?;
    let c = Device::new(Role::Caretaker, T)?;
    let id = r.store.create_report(&sample())?;
    sync(&[&r, &c])?;
    r.store.attach_photo_ref(&id, &photo('a'))?;
    c.store.attach_photo_ref(&id, &photo('a'))?;
    c.store.attach_photo_ref(&id, &photo('b'))?;
    let mut d = AutoCommit::new();
    for dev in [&r, &c] {
        for ch in dev.store.pending_changes(1000)? {
            d.load_incremental(&ch.bytes).unwrap();
        }
    }
    let mut want = vec![
        ("a".repeat(64), r.member.clone()),
        ("a".repeat(64), c.member.clone()),
        ("b".repeat(64), c.member.clone()),
    ];
    want.sort();
    assert_eq!(photo_refs(&d), want);
    assert_eq!(photo_hashes(&d).len(), 2);
    assert!(photo_refs(&AutoCommit::new()).is_empty());
    Ok(())
}

/// `photo_hashes` lists the attached photos a device would show, and nothing for a
/// document of another kind.
#[test]
fn photo_hashes_lists_the_attached_photos() -> Result<()> {
    let r = Device::new(Role::Resident, T)?;
    let id = r.store.create_report(&sample())?;
    r.store.attach_photo_ref(&id, &photo('a'))?;
    r.store.attach_photo_ref(&id, &photo('b'))?;
    r.store.attach_photo_ref(&id, &photo('a'))?;
    let bytes: Vec<Vec<u8>> = r
        .store
        .pending_changes(1000)?
        .into_iter()
        .map(|c| c.bytes)
        .collect();
    let load = |bytes: &[Vec<u8>]| -> AutoCommit {
        let mut d = AutoCommit::new();
        for b in bytes {
            d.load_incremental(b).unwrap();
        }
        d
    };
    let d = load(&bytes);
    assert_eq!(photo_hashes(&d), vec!["a".repeat(64), "b".repeat(64)]);
    let help = r.store.create_help(&crate::model::help::NewHelp::ask(
        "groceries",
        "Boodschappen",
    ))?;
    let help_bytes: Vec<Vec<u8>> = r
        .store
        .pending_changes(1000)?
        .into_iter()
        .filter(|c| c.entity == help)
        .map(|c| c.bytes)
        .collect();
    assert!(photo_hashes(&load(&help_bytes)).is_empty());
    assert!(photo_hashes(&AutoCommit::new()).is_empty());
    Ok(())
}
