//! The kind's unit tests (whole stores as replicas, and the pure operations).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::error::{Error, Result};
use crate::ids::MemberId;

use super::*;
use crate::model::Role;
use crate::store::Store;
use crate::testing::{Device, deliver};

const T0: i64 = 1_790_000_000_000;

fn me(s: &Store) -> MemberId {
    s.identity().member
}

#[test]
fn create_validates_each_field() -> Result<()> {
    let s = Device::new(Role::Resident, T0)?.store;
    let ok = NewHelp::ask("groceries", "Boodschappen");
    let cases: Vec<(NewHelp, &str)> = vec![
        (
            NewHelp {
                title: "  ".into(),
                ..ok.clone()
            },
            "title",
        ),
        (
            NewHelp {
                title: "x".repeat(201),
                ..ok.clone()
            },
            "title",
        ),
        (
            NewHelp {
                category: "drugs".into(),
                ..ok.clone()
            },
            "category",
        ),
        (
            NewHelp {
                urgency: "now!".into(),
                ..ok.clone()
            },
            "urgency",
        ),
        (
            NewHelp {
                precision: "house_number".into(),
                ..ok.clone()
            },
            "precision",
        ),
        (
            NewHelp {
                body: "x".repeat(5_001),
                ..ok.clone()
            },
            "body",
        ),
        (
            NewHelp {
                window_start: Some(10),
                window_end: Some(5),
                ..ok.clone()
            },
            "window_end",
        ),
    ];
    for (bad, field) in cases {
        match s.create_help(&bad) {
            Err(Error::InvalidInput { field: f, .. }) => assert_eq!(f, field),
            other => panic!("expected invalid `{field}`, got {other:?}"),
        }
    }
    assert!(
        s.list(&Default::default())?.items.is_empty(),
        "nothing stored for refused input"
    );
    s.create_help(&ok)?;
    Ok(())
}

#[test]
fn full_flow_and_typed_refusals() -> Result<()> {
    let (req, clock, _) = Device::new(Role::Resident, T0)?.into_parts();
    let helper = Device::new(Role::Resident, T0)?.store;
    let id = req.create_help(&NewHelp::ask("transport", "Lift naar het ziekenhuis"))?;
    deliver(&req, &helper)?;
    clock.advance(1_000);
    helper.respond_help(&id, "ik rijd")?;
    deliver(&helper, &req)?;
    assert!(matches!(
        req.respond_help(&id, "self"),
        Err(Error::NotAllowed { .. })
    ));
    assert!(matches!(
        req.complete_help(&id),
        Err(Error::InvalidTransition { .. })
    ));
    req.match_help(&id, &me(&helper))?;
    assert_eq!(req.help(&id)?.status, HelpStatus::Matched);
    req.complete_help(&id)?;
    req.thank_help(&id, "Dank je wel!")?;
    let v = req.help(&id)?;
    assert_eq!(v.status, HelpStatus::Done);
    assert_eq!(v.thanks.len(), 1);
    assert!(matches!(
        req.cancel_help(&id, ""),
        Err(Error::InvalidTransition { .. })
    ));

    let id2 = req.create_help(&NewHelp::ask("odd_jobs", "Lamp ophangen"))?;
    req.cancel_help(&id2, "al geregeld")?;
    match req.complete_help(&id2) {
        Err(Error::InvalidTransition { status, .. }) => assert_eq!(status, "cancelled"),
        other => panic!("marking a cancelled request done must fail, got {other:?}"),
    }
    Ok(())
}

#[test]
fn expiry_is_derived_from_the_clock() -> Result<()> {
    let (s, clock, _) = Device::new(Role::Resident, T0)?.into_parts();
    let mut new = NewHelp::ask("company", "Wandelen");
    new.window_end = Some(T0 + 60_000);
    let id = s.create_help(&new)?;
    let q = crate::ListQuery {
        status: Some("open".into()),
        ..Default::default()
    };
    assert_eq!(s.list(&q)?.items.len(), 1);
    clock.advance(60_000);
    assert!(s.list(&q)?.items.is_empty());
    let q = crate::ListQuery {
        status: Some("expired".into()),
        ..Default::default()
    };
    assert_eq!(s.list(&q)?.items.len(), 1);
    let other = Device::new(Role::Resident, T0)?.store;
    deliver(&s, &other)?;
    other.set_identity(Role::Resident, None, None)?;
    // the other store's clock is still at T0: not expired there, as its own clock says
    assert_eq!(other.help(&id)?.status, HelpStatus::Open);
    Ok(())
}

#[test]
fn cancel_beats_a_concurrent_match_both_orders() -> Result<()> {
    for cancel_first in [true, false] {
        let (req, req_clock, _) = Device::new(Role::Resident, T0)?.into_parts();
        let (org, org_clock, _) = Device::new(Role::Organiser, T0)?.into_parts();
        let helper = Device::new(Role::Resident, T0)?.store;
        let id = req.create_help(&NewHelp::ask("groceries", "Boodschappen"))?;
        deliver(&req, &helper)?;
        helper.respond_help(&id, "")?;
        deliver(&req, &org)?;
        deliver(&helper, &org)?;
        deliver(&helper, &req)?;
        // offline: requester cancels, organiser matches
        let (c, m) = if cancel_first {
            (1_000, 2_000)
        } else {
            (2_000, 1_000)
        };
        req_clock.set(T0 + c);
        org_clock.set(T0 + m);
        req.cancel_help(&id, "")?;
        org.match_help(&id, &me(&helper))?;
        deliver(&req, &org)?;
        deliver(&org, &req)?;
        for s in [&req, &org] {
            let v = s.help(&id)?;
            assert_eq!(
                v.status,
                HelpStatus::Cancelled,
                "cancel_first={cancel_first}"
            );
            assert!(
                v.notices
                    .iter()
                    .any(|n| n.member == me(&helper) && n.code == "request_cancelled")
            );
        }
        assert_eq!(req.projection_dump()?, org.projection_dump()?);
    }
    Ok(())
}

#[test]
fn two_organisers_matching_different_helpers_first_wins() -> Result<()> {
    let req = Device::new(Role::Resident, T0)?.store;
    let (o1, c1, _) = Device::new(Role::Organiser, T0)?.into_parts();
    let (o2, c2, _) = Device::new(Role::Organiser, T0)?.into_parts();
    let h1 = Device::new(Role::Resident, T0)?.store;
    let h2 = Device::new(Role::Resident, T0)?.store;
    let id = req.create_help(&NewHelp::ask("paperwork", "Formulier"))?;
    for h in [&h1, &h2] {
        deliver(&req, h)?;
        h.respond_help(&id, "")?;
    }
    for o in [&o1, &o2] {
        deliver(&req, o)?;
        deliver(&h1, o)?;
        deliver(&h2, o)?;
    }
    c1.set(T0 + 5_000);
    c2.set(T0 + 4_000); // o2 acted first
    o1.match_help(&id, &me(&h1))?;
    o2.match_help(&id, &me(&h2))?;
    deliver(&o1, &o2)?;
    deliver(&o2, &o1)?;
    for o in [&o1, &o2] {
        let v = o.help(&id)?;
        assert_eq!(v.helper, Some(me(&h2)));
        assert!(
            v.notices
                .iter()
                .any(|n| n.member == me(&h1) && n.code == "match_superseded")
        );
        assert!(
            v.notices
                .iter()
                .any(|n| n.member == me(&o1) && n.code == "match_superseded")
        );
    }
    Ok(())
}

#[test]
fn concurrent_title_edits_merge() -> Result<()> {
    let a = Device::new(Role::Resident, T0)?.store;
    let b = Device::new(Role::Organiser, T0)?.store;
    let id = a.create_help(&NewHelp::ask("garden", "Tuin wieden"))?;
    deliver(&a, &b)?;
    a.edit_help(&id, Some("Tuin wieden zaterdag"), None)?;
    b.edit_help(&id, Some("Voortuin wieden"), None)?;
    deliver(&a, &b)?;
    deliver(&b, &a)?;
    let t = a.help(&id)?.title;
    assert_eq!(t, b.help(&id)?.title);
    assert!(
        t.contains("zaterdag") && t.contains("Voortuin"),
        "both edits survive: {t}"
    );
    Ok(())
}

#[test]
fn a_resident_cannot_match_for_someone_else() -> Result<()> {
    let req = Device::new(Role::Resident, T0)?.store;
    let other = Device::new(Role::Resident, T0)?.store;
    let id = req.create_help(&NewHelp::ask("groceries", "Boodschappen"))?;
    deliver(&req, &other)?;
    other.respond_help(&id, "")?;
    assert!(matches!(
        other.match_help(&id, &me(&other)),
        Err(Error::NotAllowed { .. })
    ));
    assert!(matches!(
        other.cancel_help(&id, ""),
        Err(Error::NotAllowed { .. })
    ));
    Ok(())
}
