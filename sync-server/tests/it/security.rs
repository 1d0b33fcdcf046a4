//! The security matrix: buurten are isolated, tokens are checked, changes are validated,
//! hostile bytes are bounded.

use std::io::Read;

use automerge::transaction::Transactable;
use automerge::{ActorId, AutoCommit, ObjType, ROOT};
use noaber_core::sync::wire::{self, CBOR, PushChange, SyncRequest};
use noaber_core::{EntityId, Role};
use noaber_relay::admin;
use noaber_relay::repair::MissingRequest;
use reqwest::StatusCode;

use crate::support::{Device, TestRelay, TestResult, ask, code, now_ms};

fn req(cursor: u64, push: Vec<PushChange>) -> SyncRequest {
    SyncRequest {
        v: 1,
        cursor,
        push,
        max: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_of_one_buurt_cannot_read_or_write_another() -> TestResult {
    let relay = TestRelay::start().await?;
    let (buurt_a, org_a) = relay.buurt("Alpha")?;
    let (_, org_b) = relay.buurt("Beta")?;
    let mut a = Device::join(&relay, &org_a, "Ans", Role::Organiser).await?;
    let mut b = Device::join(&relay, &org_b, "Bert", Role::Organiser).await?;
    let secret = ask(&a, "Alleen voor Alpha")?;
    a.sync_all(&relay).await?;

    // Reading: B's pulls never contain A's changes.
    let resp = b.sync(&relay).await?;
    assert!(resp.pull.is_empty());
    assert_eq!(resp.cursor, 0);

    // Writing: B's own change, pushed as if it were for A's document.
    ask(&b, "Bert's eigen vraag")?;
    let (_, mut push) = b.pending()?;
    push[0].doc = wire::doc_bytes(&secret);
    let resp = relay
        .sync(b.token(), &req(0, push))
        .await?
        .map_err(|e| format!("{e:?}"))?;
    assert_eq!(resp.rejected.len(), 1);
    assert_eq!(resp.rejected[0].code, "wrong_buurt");

    // Even A's own change bytes, replayed by B, do not get in.
    let a_change = relay.storage().doc_changes(&buurt_a, &{
        let d: [u8; 16] = wire::doc_bytes(&secret).try_into().map_err(|_| "id")?;
        d
    })?;
    let replay = vec![PushChange {
        doc: wire::doc_bytes(&secret),
        change: a_change[0].1.clone(),
    }];
    let resp = relay
        .sync(b.token(), &req(0, replay))
        .await?
        .map_err(|e| format!("{e:?}"))?;
    assert_eq!(resp.rejected[0].code, "wrong_buurt");

    // Repair does not reveal A's document either.
    let resp = relay
        .http
        .post(relay.url("/v1/missing"))
        .bearer_auth(b.token())
        .header("content-type", CBOR)
        .body(wire::to_cbor(&MissingRequest {
            v: 1,
            doc: wire::doc_bytes(&secret),
            heads: vec![],
        })?)
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);

    // A's document is untouched and A's log holds only A's change.
    assert_eq!(relay.storage().head(&buurt_a)?, 1);
    let resp = a.sync(&relay).await?;
    assert!(resp.pull.is_empty());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_unknown_malformed_and_revoked_tokens_get_401() -> TestResult {
    let relay = TestRelay::start().await?;
    let (_, org) = relay.buurt("Alpha")?;
    let a = Device::join(&relay, &org, "Ans", Role::Organiser).await?;
    let body = wire::to_cbor(&req(0, vec![]))?;
    let send = |auth: Option<String>| {
        let mut r = relay
            .http
            .post(relay.url("/v1/sync"))
            .header("content-type", CBOR)
            .body(body.clone());
        if let Some(a) = auth {
            r = r.header("authorization", a);
        }
        r.send()
    };
    let unknown = noaber_relay::Token::new()?.reveal();
    for auth in [
        None,
        Some("Bearer".to_owned()),
        Some("Bearer not-a-token".to_owned()),
        Some(format!("Basic {}", a.token())),
        Some(format!("Bearer {}", a.token().to_uppercase())),
        Some(format!("Bearer {unknown}")),
    ] {
        let resp = send(auth.clone()).await?;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{auth:?}");
        assert_eq!(
            resp.headers().get("www-authenticate").map(|v| v.as_bytes()),
            Some(&b"Bearer"[..])
        );
        let e: wire::ErrorBody = resp.json().await?;
        assert_eq!(e.error.code, "unauthorized");
    }
    assert_eq!(
        send(Some(format!("Bearer {}", a.token()))).await?.status(),
        StatusCode::OK
    );
    let device = noaber_relay::DeviceId::parse(&a.joined.device)?;
    admin::revoke_device(relay.storage(), &device, now_ms())?;
    let resp = send(Some(format!("Bearer {}", a.token()))).await?;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_by_another_devices_actor_is_rejected() -> TestResult {
    let relay = TestRelay::start().await?;
    let (buurt, org) = relay.buurt("Alpha")?;
    let a = Device::join(&relay, &org, "Ans", Role::Organiser).await?;
    let code_ = relay.invite(&buurt, Role::Resident, 5)?;
    let mut b = Device::join(&relay, &code_, "Bert", Role::Resident).await?;
    ask(&b, "Bert's vraag")?;
    let (_, bert_changes) = b.pending()?;
    let resp = relay
        .sync(a.token(), &req(0, bert_changes))
        .await?
        .map_err(|e| format!("{e:?}"))?;
    assert_eq!(resp.rejected.len(), 1);
    assert_eq!(
        (resp.rejected[0].i, resp.rejected[0].code.as_str()),
        (0, "actor_not_yours")
    );
    assert_eq!(relay.storage().head(&buurt)?, 0);
    // Bert himself may push it.
    b.sync_all(&relay).await?;
    assert_eq!(relay.storage().head(&buurt)?, 1);
    Ok(())
}

/// A resident's hand-made document claiming to create an event.
fn resident_event(actor: &str, member: &str, id: &EntityId) -> TestResult<Vec<u8>> {
    let mut doc = AutoCommit::new().with_actor(ActorId::from(hex_bytes(actor)?));
    doc.put(ROOT, "schema", 1i64)?;
    doc.put(ROOT, "kind", "event")?;
    doc.put(ROOT, "id", id.as_str())?;
    doc.put(ROOT, "created_at", now_ms())?;
    doc.put(ROOT, "created_by", member)?;
    doc.put(ROOT, "created_role", "resident")?;
    doc.put_object(ROOT, "log", ObjType::Map)?;
    doc.put_object(ROOT, "comments", ObjType::Map)?;
    doc.put(ROOT, "title", "Feest")?;
    doc.commit();
    let change = doc.get_last_local_change().ok_or("no change")?;
    Ok(change.raw_bytes().to_vec())
}

fn hex_bytes(s: &str) -> TestResult<Vec<u8>> {
    (0..s.len())
        .step_by(2)
        .map(|i| Ok(u8::from_str_radix(s.get(i..i + 2).ok_or("hex")?, 16)?))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resident_creating_an_event_is_not_allowed() -> TestResult {
    let relay = TestRelay::start().await?;
    let (buurt, org) = relay.buurt("Alpha")?;
    let _a = Device::join(&relay, &org, "Ans", Role::Organiser).await?;
    let code_ = relay.invite(&buurt, Role::Resident, 5)?;
    let b = Device::join(&relay, &code_, "Bert", Role::Resident).await?;
    let me = b.store.identity();
    let id = EntityId::new()?;
    let change = resident_event(&me.actor, me.member.as_str(), &id)?;
    let push = vec![PushChange {
        doc: wire::doc_bytes(&id),
        change,
    }];
    let resp = relay
        .sync(b.token(), &req(0, push))
        .await?
        .map_err(|e| format!("{e:?}"))?;
    assert_eq!(resp.rejected.len(), 1);
    assert_eq!(
        resp.rejected[0].code, "not_allowed",
        "{:?}",
        resp.rejected[0]
    );
    assert_eq!(relay.storage().head(&buurt)?, 0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_and_oversized_bodies_get_4xx_and_the_relay_keeps_serving() -> TestResult {
    let relay = TestRelay::start().await?;
    let (_, org) = relay.buurt("Alpha")?;
    let mut a = Device::join(&relay, &org, "Ans", Role::Organiser).await?;

    let r = relay
        .sync_bytes(Some(a.token()), b"\xff\x00 not cbor".to_vec())
        .await?;
    let e = r.err().ok_or("garbage accepted")?;
    assert_eq!((e.0, code(&e)), (StatusCode::BAD_REQUEST, "bad_request"));

    let r = relay
        .sync_bytes(Some(a.token()), vec![0; wire::MAX_BODY_BYTES + 1])
        .await?;
    let e = r.err().ok_or("oversized body accepted")?;
    assert_eq!(
        (e.0, code(&e)),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
    );

    let many = vec![
        PushChange {
            doc: vec![0; 16],
            change: vec![0]
        };
        wire::MAX_PUSH + 1
    ];
    let r = relay.sync(a.token(), &req(0, many)).await?;
    let e = r.err().ok_or("too many changes accepted")?;
    assert_eq!(
        (e.0, code(&e)),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
    );

    let resp = relay
        .http
        .post(relay.url("/v1/sync"))
        .bearer_auth(a.token())
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    // Garbage inside a well-formed request: that change is rejected, its neighbour accepted.
    ask(&a, "Boodschappen")?;
    let (_, mut push) = a.pending()?;
    push.insert(
        0,
        PushChange {
            doc: push[0].doc.clone(),
            change: b"\x85\x6f\x4a\x83garbage".to_vec(),
        },
    );
    push.insert(
        1,
        PushChange {
            doc: vec![1, 2, 3],
            change: push[1].change.clone(),
        },
    );
    let resp = relay
        .sync(a.token(), &req(0, push))
        .await?
        .map_err(|e| format!("{e:?}"))?;
    let codes: Vec<_> = resp
        .rejected
        .iter()
        .map(|r| (r.i, r.code.as_str()))
        .collect();
    assert_eq!(codes, [(0, "bad_change"), (1, "bad_change")]);
    assert_eq!(resp.cursor, 1);

    // Unknown routes and methods are JSON errors too.
    let resp = relay.http.get(relay.url("/v2/nothing")).send().await?;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        resp.json::<wire::ErrorBody>().await?.error.code,
        "not_found"
    );
    let resp = relay.http.get(relay.url("/v1/sync")).send().await?;
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);

    // Still serving.
    a.store.pending_changes(10)?;
    let resp = a.sync(&relay).await?;
    assert_eq!(resp.cursor, 1);
    Ok(())
}

fn status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

/// Resets the process's peak resident memory (`VmHWM`) to what it uses now.
fn reset_peak() -> TestResult {
    std::fs::write("/proc/self/clear_refs", "5")?;
    Ok(())
}

/// An Automerge compressed-change chunk (type 2) whose DEFLATE body inflates to `inflated`
/// zero bytes; the checksum is not checked before the bound, so any will do.
fn deflate_bomb(inflated: u64) -> TestResult<Vec<u8>> {
    let mut body = Vec::new();
    flate2::read::DeflateEncoder::new(
        std::io::repeat(0).take(inflated),
        flate2::Compression::best(),
    )
    .read_to_end(&mut body)?;
    let mut chunk = vec![0x85, 0x6f, 0x4a, 0x83, 0, 0, 0, 0, 2];
    noaber_core::forge::uleb(body.len() as u64, &mut chunk);
    chunk.extend_from_slice(&body);
    Ok(chunk)
}

/// A real Automerge change whose compressed columns inflate to `inflated` bytes: one string
/// value of repeated letters, which `Change::bytes` deflates about a thousandfold.
fn real_bomb(actor: &str, inflated: usize) -> TestResult<Vec<u8>> {
    let mut doc = AutoCommit::new().with_actor(ActorId::from(hex_bytes(actor)?));
    doc.put(ROOT, "x", "a".repeat(inflated))?;
    doc.commit();
    let mut change = doc.get_last_local_change().ok_or("no change")?;
    let bytes = change.bytes().into_owned();
    assert_eq!(bytes.get(8), Some(&2), "not a compressed change chunk");
    Ok(bytes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deflate_bomb_is_rejected_without_inflating() -> TestResult {
    let relay = TestRelay::start().await?;
    let (buurt, org) = relay.buurt("Alpha")?;
    let a = Device::join(&relay, &org, "Ans", Role::Organiser).await?;
    // A valid change of ~100 KB that Automerge would inflate to 96 MB, and a forged chunk of
    // ~200 KB that inflates to 256 MB: both within the body and change limits.
    let real = real_bomb(&a.store.identity().actor, 96 * 1024 * 1024)?;
    let forged = deflate_bomb(256 * 1024 * 1024)?;
    for b in [&real, &forged] {
        assert!(b.len() < wire::MAX_CHANGE_BYTES, "{}", b.len());
    }
    let push = vec![
        PushChange {
            doc: vec![7; 16],
            change: real,
        },
        PushChange {
            doc: vec![8; 16],
            change: forged,
        },
    ];
    // The peak, not the end: an inflated buffer would be freed again before the answer.
    reset_peak()?;
    let before = status_kb("VmRSS:");
    let resp = relay
        .sync(a.token(), &req(0, push))
        .await?
        .map_err(|e| format!("{e:?}"))?;
    let peak_mb = status_kb("VmHWM:").saturating_sub(before) / 1024;
    assert!(
        peak_mb < 48,
        "the relay's memory peaked {peak_mb} MB higher"
    );
    let codes: Vec<_> = resp.rejected.iter().map(|r| r.code.as_str()).collect();
    assert_eq!(codes, ["too_large", "too_large"]);
    assert_eq!(relay.storage().head(&buurt)?, 0);
    Ok(())
}
