//! Sync: push, pull, duplicates, paging, cursors, repair.

use noaber_core::Role;
use noaber_core::sync::wire::{self, SyncRequest};
use noaber_relay::repair::{MissingRequest, MissingResponse};
use reqwest::StatusCode;
use serde_bytes::ByteBuf;

use crate::support::{Device, TestRelay, TestResult, ask, code};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_pushed_by_one_device_reach_another() -> TestResult {
    let relay = TestRelay::start().await?;
    let (buurt, org) = relay.buurt("Alpha")?;
    let mut a = Device::join(&relay, &org, "Ans", Role::Organiser).await?;
    let code_ = relay.invite(&buurt, Role::Resident, 5)?;
    let mut b = Device::join(&relay, &code_, "Bert", Role::Resident).await?;

    let ids = [
        ask(&a, "Boodschappen")?,
        ask(&a, "Lift naar het ziekenhuis")?,
    ];
    a.store
        .edit_help(&ids[0], Some("Boodschappen doen"), None)?;
    let resp = a.sync(&relay).await?;
    assert!(resp.rejected.is_empty(), "{:?}", resp.rejected);
    // A device never gets its own changes back.
    assert!(resp.pull.is_empty());
    assert_eq!((resp.cursor, resp.more), (3, false));
    assert_eq!(a.store.pending_count()?, 0);

    let resp = b.sync(&relay).await?;
    assert_eq!(
        resp.pull.iter().map(|p| p.seq).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    for id in &ids {
        assert_eq!(b.store.help(id)?, a.store.help(id)?);
        assert_eq!(b.store.heads(id)?, a.store.heads(id)?);
    }
    // Bert answers; Ans sees it.
    b.store.respond_help(&ids[1], "ik rijd")?;
    b.sync_all(&relay).await?;
    a.sync_all(&relay).await?;
    assert_eq!(a.store.help(&ids[1])?, b.store.help(&ids[1])?);
    assert_eq!(relay.storage().head(&buurt)?, 4);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushing_the_same_change_twice_is_harmless() -> TestResult {
    let relay = TestRelay::start().await?;
    let (buurt, org) = relay.buurt("Alpha")?;
    let a = Device::join(&relay, &org, "Ans", Role::Organiser).await?;
    ask(&a, "Boodschappen")?;
    let (_, push) = a.pending()?;
    // Twice in one request, then again in a second request (a lost acknowledgement).
    let twice = [push.clone(), push.clone()].concat();
    for p in [twice, push] {
        let resp = relay
            .sync(
                a.token(),
                &SyncRequest {
                    v: 1,
                    cursor: 0,
                    push: p,
                    max: None,
                },
            )
            .await?
            .map_err(|e| format!("{e:?}"))?;
        assert!(resp.rejected.is_empty(), "{:?}", resp.rejected);
        assert_eq!(resp.cursor, 1);
    }
    assert_eq!(relay.storage().head(&buurt)?, 1);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_log_is_pulled_in_pages() -> TestResult {
    let relay = TestRelay::start().await?;
    let (buurt, org) = relay.buurt("Alpha")?;
    let mut a = Device::join(&relay, &org, "Ans", Role::Organiser).await?;
    let code_ = relay.invite(&buurt, Role::Resident, 5)?;
    let mut b = Device::join(&relay, &code_, "Bert", Role::Resident).await?;
    let id = ask(&a, "Buurtbarbecue")?;
    for i in 0..2_499 {
        a.store.edit_help(&id, None, Some(&format!("versie {i}")))?;
    }
    // 2500 changes: three pushes of at most 1000.
    let mut pushes = 0;
    while a.store.pending_count()? > 0 {
        let resp = a.sync(&relay).await?;
        assert!(resp.rejected.is_empty(), "{:?}", resp.rejected.first());
        pushes += 1;
    }
    assert_eq!(pushes, 3);
    assert_eq!(relay.storage().head(&buurt)?, 2_500);

    // A small page first, then pages of the relay's maximum.
    let small = relay
        .sync(
            b.token(),
            &SyncRequest {
                v: 1,
                cursor: 0,
                push: vec![],
                max: Some(10),
            },
        )
        .await?
        .map_err(|e| format!("{e:?}"))?;
    assert_eq!((small.pull.len(), small.cursor, small.more), (10, 10, true));
    let mut pages = Vec::new();
    loop {
        let resp = b.sync(&relay).await?;
        pages.push((resp.pull.len(), resp.cursor, resp.more));
        if !resp.more {
            break;
        }
    }
    assert_eq!(pages, [(wire::MAX_PULL, 2_000, true), (500, 2_500, false)]);
    assert_eq!(b.store.help(&id)?, a.store.help(&id)?);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cursor_beyond_the_head_is_a_bad_request() -> TestResult {
    let relay = TestRelay::start().await?;
    let (_, org) = relay.buurt("Alpha")?;
    let a = Device::join(&relay, &org, "Ans", Role::Organiser).await?;
    let r = relay
        .sync(
            a.token(),
            &SyncRequest {
                v: 1,
                cursor: 7,
                push: vec![],
                max: None,
            },
        )
        .await?;
    let e = r.err().ok_or("cursor beyond head accepted")?;
    assert_eq!((e.0, code(&e)), (StatusCode::BAD_REQUEST, "bad_request"));
    let r = relay
        .sync(
            a.token(),
            &SyncRequest {
                v: 9,
                cursor: 0,
                push: vec![],
                max: None,
            },
        )
        .await?;
    let e = r.err().ok_or("version 9 accepted")?;
    assert_eq!(
        (e.0, code(&e)),
        (StatusCode::BAD_REQUEST, "unsupported_version")
    );
    Ok(())
}

async fn missing(
    relay: &TestRelay,
    token: &str,
    req: &MissingRequest,
) -> TestResult<(StatusCode, Vec<u8>)> {
    let resp = relay
        .http
        .post(relay.url("/v1/missing"))
        .bearer_auth(token)
        .header("content-type", wire::CBOR)
        .body(wire::to_cbor(req)?)
        .send()
        .await?;
    Ok((resp.status(), resp.bytes().await?.to_vec()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_returns_what_a_document_lacks_after_given_heads() -> TestResult {
    let relay = TestRelay::start().await?;
    let (_, org) = relay.buurt("Alpha")?;
    let mut a = Device::join(&relay, &org, "Ans", Role::Organiser).await?;
    let id = ask(&a, "Boodschappen")?;
    a.sync_all(&relay).await?;
    let heads_then: Vec<ByteBuf> = a
        .store
        .heads(&id)?
        .iter()
        .map(|h| {
            Ok(ByteBuf::from(
                h.parse::<automerge::ChangeHash>()?.0.to_vec(),
            ))
        })
        .collect::<Result<_, automerge::ParseChangeHashError>>()?;
    a.store.edit_help(&id, None, Some("twee"))?;
    a.store.edit_help(&id, None, Some("drie"))?;
    a.sync_all(&relay).await?;

    let doc = wire::doc_bytes(&id);
    let ask_for = |heads: Vec<ByteBuf>| MissingRequest {
        v: 1,
        doc: doc.clone(),
        heads,
    };
    let (status, body) = missing(&relay, a.token(), &ask_for(heads_then)).await?;
    assert_eq!(status, StatusCode::OK);
    let resp: MissingResponse = wire::from_cbor(&body)?;
    assert_eq!(resp.changes.len(), 2);
    let (_, body) = missing(&relay, a.token(), &ask_for(vec![])).await?;
    assert_eq!(wire::from_cbor::<MissingResponse>(&body)?.changes.len(), 3);
    // Unknown heads: everything.
    let (_, body) = missing(
        &relay,
        a.token(),
        &ask_for(vec![ByteBuf::from(vec![7; 32])]),
    )
    .await?;
    assert_eq!(wire::from_cbor::<MissingResponse>(&body)?.changes.len(), 3);
    // A fresh store rebuilds the document from the answer.
    let fresh = noaber_core::Store::open_in_memory(std::sync::Arc::new(noaber_core::SystemClock))?;
    let batch: Vec<_> = wire::from_cbor::<MissingResponse>(&body)?
        .changes
        .into_iter()
        .map(|c| (id.clone(), c.into_vec()))
        .collect();
    fresh.apply_remote_changes(&batch)?;
    assert_eq!(fresh.help(&id)?, a.store.help(&id)?);
    // Malformed requests and unknown documents.
    let (status, _) = missing(
        &relay,
        a.token(),
        &MissingRequest {
            v: 1,
            doc: vec![1; 3],
            heads: vec![],
        },
    )
    .await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = missing(
        &relay,
        a.token(),
        &MissingRequest {
            v: 1,
            doc: vec![1; 16],
            heads: vec![],
        },
    )
    .await?;
    assert_eq!(status, StatusCode::NOT_FOUND);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_relay_keeps_a_bounded_number_of_documents_loaded() -> TestResult {
    let relay = TestRelay::start_with(|c| c.doc_cache = 8).await?;
    let (buurt, org) = relay.buurt("Alpha")?;
    let mut a = Device::join(&relay, &org, "Ans", Role::Organiser).await?;
    for i in 0..30 {
        ask(&a, &format!("vraag {i}"))?;
    }
    a.sync_all(&relay).await?;
    assert_eq!(relay.storage().head(&buurt)?, 30);
    assert!(
        relay.relay.loaded_documents() <= 8,
        "{}",
        relay.relay.loaded_documents()
    );
    Ok(())
}
