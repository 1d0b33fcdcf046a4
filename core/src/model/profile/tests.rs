//! The kind's unit tests (whole stores as replicas, and the pure operations).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::doc;
use crate::error::{Error, Result};
use crate::ids::MemberId;
use crate::model::{Detail, Kind};

use super::*;
use crate::model::Role;
use crate::store::query::ListQuery;
use crate::testing::{Device, sync};

const T: i64 = 1_700_000_000_000;

fn ans() -> NewProfile {
    NewProfile {
        display_name: "Ans".into(),
        household: Some("Complex 4".into()),
        skills: vec!["fietsen repareren".into(), "Turks".into(), "turks".into()],
        availability: "doordeweeks 's avonds".into(),
    }
}

fn field_of(r: Result<impl std::fmt::Debug>) -> &'static str {
    match r {
        Err(Error::InvalidInput { field, .. }) => field,
        other => panic!("expected invalid input, got {other:?}"),
    }
}

#[test]
fn create_project_and_find_mine() -> Result<()> {
    let me = MemberId::new()?;
    let s = Device::for_member(&me, Role::Resident, T)?.store;
    assert_eq!(s.my_profile()?, None);
    let id = s.create_profile(&ans())?;
    let v = s.profile(&id)?;
    assert_eq!(v.member, me);
    assert_eq!(v.display_name, "Ans");
    assert_eq!(
        v.skills,
        ["fietsen repareren", "Turks"],
        "case-insensitive duplicates merge"
    );
    assert_eq!(s.my_profile()?.map(|p| p.id), Some(id.as_str().to_owned()));
    assert_eq!(field_of(s.create_profile(&ans())), "profile");

    let page = s.list(&ListQuery {
        kind: Some(Kind::Profile),
        ..Default::default()
    })?;
    assert_eq!(page.items[0].status, "active");
    assert_eq!(page.items[0].title, "Ans");
    assert!(matches!(
        &page.items[0].detail,
        Detail::Profile { household: Some(h), .. } if h == "Complex 4"
    ));
    for word in ["fietsen", "avonds"] {
        let found = s.list(&ListQuery {
            text: Some(word.into()),
            ..Default::default()
        })?;
        assert_eq!(found.items.len(), 1, "{word}");
    }
    Ok(())
}

#[test]
fn validation() -> Result<()> {
    let s = Device::for_member(&MemberId::new()?, Role::Resident, T)?.store;
    let p = |f: fn(&mut NewProfile)| {
        let mut p = ans();
        f(&mut p);
        p
    };
    assert_eq!(
        field_of(s.create_profile(&p(|p| p.display_name = "  ".into()))),
        "display_name"
    );
    assert_eq!(
        field_of(s.create_profile(&p(|p| p.display_name = "a".repeat(81)))),
        "display_name"
    );
    // Issue 11, finding 9: names that reorder or hide text (the rule of `names`).
    for name in [
        "Ans\u{202E}sneoJ",
        "An\u{200B}s",
        "\u{2066}Ans",
        "Ans\u{FEFF}",
    ] {
        let mut named = ans();
        named.display_name = name.into();
        assert_eq!(field_of(s.create_profile(&named)), "display_name");
    }
    assert!(matches!(
        s.set_identity(crate::Role::Resident, Some("Ans\u{202E}"), None),
        Err(Error::InvalidInput { field, .. }) if field == "display_name"
    ));
    assert_eq!(
        field_of(s.create_profile(&p(|p| p.household = Some("h".repeat(121))))),
        "household"
    );
    assert_eq!(
        field_of(s.create_profile(&p(|p| p.skills = vec![String::new()]))),
        "skill"
    );
    assert_eq!(
        field_of(s.create_profile(&p(|p| p.skills = vec!["s".repeat(41)]))),
        "skill"
    );
    assert_eq!(
        field_of(s.create_profile(&p(|p| p.availability = "a".repeat(501)))),
        "availability"
    );
    let many = p(|p| p.skills = (0..31).map(|i| format!("skill {i}")).collect());
    assert_eq!(field_of(s.create_profile(&many)), "skills");
    let id = s.create_profile(&p(|p| p.display_name = "a".repeat(80)))?;
    let empty = ProfileEdit {
        display_name: Some(String::new()),
        ..Default::default()
    };
    assert_eq!(field_of(s.edit_profile(&id, &empty)), "display_name");
    assert_eq!(field_of(s.add_skill(&id, " ")), "skill");
    Ok(())
}

#[test]
fn only_the_owner_edits() -> Result<()> {
    let owner = MemberId::new()?;
    let a = Device::for_member(&owner, Role::Resident, T)?;
    let b = Device::for_member(&MemberId::new()?, Role::Resident, T)?;
    b.store.set_identity(Role::Staff, None, None)?;
    let id = a.store.create_profile(&ans())?;
    sync(&[&a, &b])?;
    let edit = ProfileEdit {
        display_name: Some("Niet Ans".into()),
        ..Default::default()
    };
    assert!(matches!(
        b.store.edit_profile(&id, &edit),
        Err(Error::NotAllowed { .. })
    ));
    assert!(matches!(
        b.store.add_skill(&id, "inbreken"),
        Err(Error::NotAllowed { .. })
    ));
    assert!(matches!(
        b.store.remove_skill(&id, "Turks"),
        Err(Error::NotAllowed { .. })
    ));
    assert_eq!(
        b.store.my_profile()?,
        None,
        "someone else's profile is not mine"
    );

    a.clock.advance(1_000);
    a.store.edit_profile(
        &id,
        &ProfileEdit {
            display_name: Some("Ans de Vries".into()),
            household: Some(String::new()),
            availability: Some("weekends".into()),
        },
    )?;
    // A forged skill entry by someone else is ignored by the replay.
    b.store.update_entity(&id, Kind::Profile, |doc, ctx| {
        doc::append_entry(doc, ctx, "skill_add", &[("skill", "inbreken".into())])?;
        Ok(())
    })?;
    sync(&[&a, &b])?;
    let v = a.store.profile(&id)?;
    assert_eq!(v, b.store.profile(&id)?);
    assert_eq!(v.display_name, "Ans de Vries");
    assert_eq!(v.household, None);
    assert_eq!(v.availability, "weekends");
    assert_eq!(v.updated_at, T + 1_000);
    assert!(!v.skills.iter().any(|s| s == "inbreken"));
    assert_eq!(a.store.projection_dump()?, b.store.projection_dump()?);
    Ok(())
}

/// The owner's phone and tablet add skills offline: both are kept. An add concurrent with
/// a remove of the same skill: the later one in the order wins.
#[test]
fn concurrent_skill_adds_merge() -> Result<()> {
    let owner = MemberId::new()?;
    let phone = Device::for_member(&owner, Role::Resident, T)?;
    let tablet = Device::for_member(&owner, Role::Resident, T)?;
    let id = phone.store.create_profile(&ans())?;
    sync(&[&phone, &tablet])?;
    phone.clock.set(T + 10);
    phone.store.add_skill(&id, "koken")?;
    phone.clock.set(T + 12);
    phone.store.remove_skill(&id, "turks")?;
    tablet.clock.set(T + 20);
    tablet.store.add_skill(&id, "Tuinieren")?;
    tablet.clock.set(T + 25);
    tablet.store.add_skill(&id, "Koken")?; // the tablet has not seen the phone's add
    tablet.clock.set(T + 33);
    tablet.store.remove_skill(&id, "Turks")?;
    tablet.clock.set(T + 35);
    tablet.store.add_skill(&id, "TURKS")?; // later than the phone's remove: it stays
    phone.clock.set(T + 40);
    phone.store.remove_skill(&id, "koken")?; // later than the tablet's add: it goes
    tablet.clock.set(T + 41);
    tablet.store.add_skill(&id, "fietsen REPAREREN")?; // already there: no entry
    sync(&[&phone, &tablet])?;
    let v = phone.store.profile(&id)?;
    assert_eq!(v, tablet.store.profile(&id)?);
    assert_eq!(v.skills, ["fietsen repareren", "Tuinieren", "TURKS"]);
    assert_eq!(
        phone.store.projection_dump()?,
        tablet.store.projection_dump()?
    );
    assert!(matches!(
        phone.store.remove_skill(&id, "vliegen"),
        Err(Error::NotFound { .. })
    ));
    Ok(())
}

/// Two devices of one member each created a profile offline: both see the oldest as theirs.
#[test]
fn my_profile_picks_the_oldest() -> Result<()> {
    let owner = MemberId::new()?;
    let phone = Device::for_member(&owner, Role::Resident, T)?;
    let tablet = Device::for_member(&owner, Role::Resident, T)?;
    tablet.clock.set(T + 100);
    let _newer = tablet.store.create_profile(&ans())?;
    phone.clock.set(T + 50);
    let older = phone.store.create_profile(&ans())?;
    sync(&[&phone, &tablet])?;
    for s in [&phone.store, &tablet.store] {
        assert_eq!(
            s.my_profile()?.map(|p| p.id),
            Some(older.as_str().to_owned())
        );
    }
    Ok(())
}
