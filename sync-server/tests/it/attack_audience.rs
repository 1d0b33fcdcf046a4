//! Attacks on who reads a restricted document: readers added only by named fields of named entries
//! written by an author entitled to name them (issue 11, finding 2). A participant who writes
//! another member's id into a message (or a `match` they may not make) adds nobody: that member's
//! pull skips the document and `POST /v1/missing` answers `404 not_found`, as for a document that
//! does not exist; a `match {helper}` by the requester does make the helper a reader.

use noaber_core::model::help::NewHelp;
use noaber_core::sync::wire::{self, CBOR, SyncRequest};
use noaber_core::{Audience, EntityId, Role};
use noaber_relay::repair::MissingRequest;
use reqwest::StatusCode;

use crate::attack_time::{push_raw, raw_entry};
use crate::support::{Device, TestRelay, TestResult};

/// `POST /v1/missing` for all of `id`: the status and the body.
async fn missing(
    relay: &TestRelay,
    d: &Device,
    id: &EntityId,
) -> TestResult<(StatusCode, Vec<u8>)> {
    let resp = relay
        .http
        .post(relay.url("/v1/missing"))
        .bearer_auth(d.token())
        .header("content-type", CBOR)
        .body(wire::to_cbor(&MissingRequest {
            v: 1,
            doc: wire::doc_bytes(id),
            heads: vec![],
        })?)
        .send()
        .await?;
    Ok((resp.status(), resp.bytes().await?.to_vec()))
}

/// Whether a pull of everything from cursor 0 by `d` holds a change of `id`.
async fn pulls(relay: &TestRelay, d: &Device, id: &EntityId) -> TestResult<bool> {
    let req = SyncRequest {
        v: 1,
        cursor: 0,
        push: vec![],
        max: None,
    };
    let resp = relay
        .sync(d.token(), &req)
        .await?
        .map_err(|e| format!("{e:?}"))?;
    assert!(!resp.more);
    Ok(resp
        .pull
        .iter()
        .any(|p| p.doc.as_slice() == wire::doc_bytes(id).as_slice()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_id_in_a_respond_or_a_neighbours_match_adds_no_reader() -> TestResult {
    let relay = TestRelay::start().await?;
    let (buurt, org_code) = relay.buurt("Hoek")?;
    let mut org = Device::join(&relay, &org_code, "Olga", Role::Organiser).await?;
    let code = relay.invite(&buurt, Role::Resident, 3)?;
    let mut requester = Device::join(&relay, &code, "Rita", Role::Resident).await?;
    let mut attacker = Device::join(&relay, &code, "Aart", Role::Resident).await?;
    let mut victim = Device::join(&relay, &code, "Vera", Role::Resident).await?;
    let victim_id = victim.store.identity().member;

    // A debt request for participants; the requester shares it with the attacker, who
    // becomes a legitimate reader.
    let id = requester.store.create_help(&NewHelp {
        audience: Audience::Participants,
        ..NewHelp::ask("paperwork", "Schulden")
    })?;
    requester
        .store
        .share(&id, &attacker.store.identity().member)?;
    requester.sync_all(&relay).await?;
    attacker.sync_all(&relay).await?;
    assert!(attacker.store.help(&id).is_ok());

    // The attack: a response whose message is the victim's member id (what any client can
    // write), and a hand-made `match {helper: victim}` by a resident who may not match.
    attacker.store.respond_help(&id, victim_id.as_str())?;
    attacker.sync_all(&relay).await?;
    let at = attacker.store.help(&id)?.updated_at + 1;
    let forged = raw_entry(
        &attacker,
        &id,
        "match",
        &[("helper", victim_id.as_str())],
        at,
    )?;
    let resp = push_raw(&relay, &attacker, &id, forged).await?;
    assert!(resp.rejected.is_empty(), "{:?}", resp.rejected);

    // The victim reads nothing of it: not in a pull from the start, and `/v1/missing`
    // answers exactly as for a document that does not exist.
    victim.sync_all(&relay).await?;
    assert!(victim.store.help(&id).is_err());
    assert!(!pulls(&relay, &victim, &id).await?);
    let unknown = EntityId::new()?;
    let answer = |(status, body): (StatusCode, Vec<u8>), id: &EntityId| {
        (
            status,
            String::from_utf8_lossy(&body).replace(id.as_str(), "{id}"),
        )
    };
    let known = answer(missing(&relay, &victim, &id).await?, &id);
    assert_eq!(known.0, StatusCode::NOT_FOUND);
    assert!(known.1.contains("not_found"), "{}", known.1);
    assert_eq!(
        known,
        answer(missing(&relay, &victim, &unknown).await?, &unknown)
    );

    // The relay still serves the readers: the organiser and the attacker (a participant).
    org.sync_all(&relay).await?;
    assert_eq!(org.store.help(&id)?.responses.len(), 1);
    assert!(pulls(&relay, &attacker, &id).await?);

    // A match by the requester names a reader: the victim now pulls the document.
    requester.sync_all(&relay).await?;
    let at = requester.store.help(&id)?.updated_at + 1;
    let matched = raw_entry(
        &requester,
        &id,
        "match",
        &[("helper", victim_id.as_str())],
        at,
    )?;
    let resp = push_raw(&relay, &requester, &id, matched).await?;
    assert!(resp.rejected.is_empty(), "{:?}", resp.rejected);
    assert!(pulls(&relay, &victim, &id).await?);
    let (status, _) = missing(&relay, &victim, &id).await?;
    assert_eq!(status, StatusCode::OK);
    Ok(())
}
