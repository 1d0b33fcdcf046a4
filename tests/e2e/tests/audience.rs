//! Restricted documents over a real relay: a help request for the participants only reaches
//! its requester, the organisers, and the helper it is shared with — never the rest of the
//! buurt, however they ask.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use noaber_core::model::help::{HelpStatus, NewHelp};
use noaber_core::{Audience, Error, ListQuery, Role};
use noaber_e2e::{Device, InProcessRelay, TestResult};
use noaber_relay::admin;

fn titles(d: &Device) -> TestResult<Vec<String>> {
    let mut t: Vec<String> = d
        .store
        .list(&ListQuery::default())?
        .items
        .into_iter()
        .map(|s| s.title)
        .collect();
    t.sort();
    Ok(t)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_participants_only_request_reaches_only_its_readers() -> TestResult {
    let relay = InProcessRelay::start().await?;
    let (buurt, org_invite) = relay.buurt("De Linde", Role::Organiser)?;
    let res_invite = relay.invite(&buurt, Role::Resident)?;
    let org = Device::joined(&relay.url, &org_invite, "Fatima").await?;
    let req = Device::joined(&relay.url, &res_invite, "Ans").await?;
    let helper = Device::joined(&relay.url, &res_invite, "Piet").await?;
    let stranger = Device::joined(&relay.url, &res_invite, "Kees").await?;
    let all = [&org, &req, &helper, &stranger];

    let private = req.store.create_help(&NewHelp {
        audience: Audience::Participants,
        ..NewHelp::ask("paperwork", "Hulp met een brief van de bank")
    })?;
    req.store
        .create_help(&NewHelp::ask("groceries", "Boodschappen"))?;
    req.sync().await?;
    for d in all {
        d.sync().await?;
    }

    // The organiser reads it; other residents do not even learn it exists.
    assert_eq!(titles(&org)?.len(), 2);
    for d in [&helper, &stranger] {
        assert_eq!(titles(d)?, ["Boodschappen"]);
        assert!(matches!(
            d.store.help(&private),
            Err(Error::NotFound { .. })
        ));
    }

    // The organiser shares it with a trusted volunteer, who reads all of it from their next
    // sync (the history before the share comes through the repair path), responds, and is
    // matched.
    org.store.share(&private, &helper.member())?;
    org.sync().await?;
    let report = helper.sync().await?;
    assert!(report.repaired >= 1, "{report:?}");
    assert_eq!(
        helper.store.help(&private)?.title,
        "Hulp met een brief van de bank"
    );
    helper.store.respond_help(&private, "ik kan dinsdag")?;
    helper.sync().await?;
    org.sync().await?;
    org.store.match_help(&private, &helper.member())?;
    org.sync().await?;
    for d in all {
        d.sync().await?;
    }
    for d in [&org, &req, &helper] {
        assert_eq!(d.store.help(&private)?.status, HelpStatus::Matched);
    }
    assert_eq!(titles(&stranger)?, ["Boodschappen"]);

    // A stranger who got hold of a later change (from a lost phone, say) cannot use it to
    // fetch the rest: the relay answers as for an unknown document, and the stranger's store
    // drops what it cannot read.
    let later = helper_change(&helper, &private)?;
    stranger
        .store
        .apply_repair(&stranger.buurt, &private, vec![later])?;
    assert_eq!(stranger.store.needing_repair(&stranger.buurt, 10)?.len(), 1);
    let report = stranger.sync().await?;
    assert_eq!(report.repaired, 1);
    assert!(
        stranger
            .store
            .needing_repair(&stranger.buurt, 10)?
            .is_empty()
    );
    assert!(matches!(
        stranger.store.help(&private),
        Err(Error::NotFound { .. })
    ));

    // Nor can a non-reader write to it: with the document copied onto their phone, their
    // response is refused with a reason.
    let doc = req.store.document_bytes(&private)?;
    let snapshot = automerge::AutoCommit::load(&doc)?;
    let changes: Vec<_> = snapshot
        .clone()
        .get_changes(&[])
        .into_iter()
        .map(|c| (private.clone(), c.raw_bytes().to_vec()))
        .collect();
    stranger.store.apply_remote_changes(&changes)?;
    assert_eq!(stranger.store.help(&private)?.responses.len(), 1);
    stranger.store.respond_help(&private, "ik ook")?;
    let report = stranger.sync().await?;
    assert_eq!(report.rejected.len(), 1, "{report:?}");
    assert_eq!(report.rejected[0].code, "not_allowed");
    // Its copy fell back to the relay's version, which for them is none at all.
    assert!(matches!(
        stranger.store.help(&private),
        Err(Error::NotFound { .. })
    ));
    for d in [&org, &req, &helper] {
        d.sync().await?;
        assert_eq!(d.store.help(&private)?.responses.len(), 1);
    }

    // Promoted to organiser, the stranger reads it from their next sync on.
    let other = Device::joined(&relay.url, &res_invite, "Joke").await?;
    other.sync().await?;
    assert_eq!(titles(&other)?, ["Boodschappen"]);
    admin::set_role(
        &**relay.relay.storage(),
        &buurt,
        &other.member(),
        Role::Organiser,
    )?;
    other.sync().await?;
    assert_eq!(other.store.identity().role, Role::Organiser);
    assert_eq!(other.store.help(&private)?.status, HelpStatus::Matched);

    // Demoted again, their phone drops what the role brought: the restricted request is gone
    // after the next sync, the buurt's request stays.
    admin::set_role(
        &**relay.relay.storage(),
        &buurt,
        &other.member(),
        Role::Resident,
    )?;
    other.sync().await?;
    assert_eq!(other.store.identity().role, Role::Resident);
    assert!(matches!(
        other.store.help(&private),
        Err(Error::NotFound { .. })
    ));
    assert_eq!(titles(&other)?, ["Boodschappen"]);
    assert!(other.store.needing_repair(&other.buurt, 10)?.is_empty());
    Ok(())
}

/// A change of `entity` the helper made (already acknowledged by the relay): its bytes, from
/// the helper's copy of the document.
fn helper_change(helper: &Device, entity: &noaber_core::EntityId) -> TestResult<Vec<u8>> {
    let bytes = helper.store.document_bytes(entity)?;
    let mut doc = automerge::AutoCommit::load(&bytes)?;
    let actor = helper.store.identity().actor;
    let mine = doc
        .get_changes(&[])
        .into_iter()
        .find(|c| c.actor_id().to_hex_string() == actor)
        .ok_or("the helper wrote no change")?;
    Ok(mine.raw_bytes().to_vec())
}

/// Who receives a resident's document of each audience, by role: the matrix.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn who_receives_what_by_role_and_audience() -> TestResult {
    let relay = InProcessRelay::start().await?;
    let (buurt, res_invite) = relay.buurt("De Linde", Role::Resident)?;
    let creator = Device::joined(&relay.url, &res_invite, "Ans").await?;
    let mut others = Vec::new();
    for role in Role::ALL {
        let invite = relay.invite(&buurt, role)?;
        others.push((
            role,
            Device::joined(&relay.url, &invite, role.as_str()).await?,
        ));
    }
    for audience in Audience::ALL {
        creator.store.create_help(&NewHelp {
            audience,
            ..NewHelp::ask("paperwork", audience.as_str())
        })?;
    }
    creator.sync().await?;
    assert_eq!(titles(&creator)?, ["buurt", "organisers", "participants"]);
    for (role, d) in &others {
        d.sync().await?;
        let want: &[&str] = match role {
            Role::Resident | Role::Caretaker => &["buurt"],
            Role::Organiser | Role::Staff => &["buurt", "organisers", "participants"],
        };
        assert_eq!(titles(d)?, want, "{role:?}");
    }
    Ok(())
}
