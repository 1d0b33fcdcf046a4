//! Attacks with changes that declare more work than their bytes show (op bombs), and the relay's
//! bounds on what it expands, validates and rebuilds (issue 11, finding 1); plus two smaller
//! ones of finding 9 (a lower-case `bearer` scheme, a malformed `doc`).

use noaber_core::Role;
use noaber_core::forge::Forge;
use noaber_core::sync::wire::{MAX_PUSH, PushChange, SyncRequest};
use reqwest::StatusCode;

use crate::support::{Device, TestRelay, TestResult, ask, code};

fn puts(actor: &[u8], ops: i64) -> Vec<u8> {
    Forge::puts(actor, ops).chunk()
}

fn many_preds(actor: &[u8], preds: i64) -> Vec<u8> {
    Forge::many_preds(actor, preds).chunk()
}

fn actor_of(d: &Device) -> TestResult<Vec<u8>> {
    let hex = d.store.identity().actor;
    Ok((0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16))
        .collect::<Result<_, _>>()?)
}

/// An attacker in one buurt and an honest member of another.
async fn two_buurten(relay: &TestRelay) -> TestResult<(Device, Device)> {
    let (a, a_org) = relay.buurt("Aanval")?;
    let (_, b_org) = relay.buurt("Rust")?;
    let _ = a;
    let attacker = Device::join(relay, &a_org, "Mallory", Role::Organiser).await?;
    let honest = Device::join(relay, &b_org, "Bea", Role::Organiser).await?;
    Ok((attacker, honest))
}

async fn push(
    relay: &TestRelay,
    d: &Device,
    push: Vec<PushChange>,
) -> TestResult<
    Result<noaber_core::sync::wire::SyncResponse, (StatusCode, noaber_core::sync::wire::ErrorBody)>,
> {
    relay
        .sync(
            d.token(),
            &SyncRequest {
                v: 1,
                cursor: 0,
                push,
                max: None,
            },
        )
        .await
}

#[tokio::test]
async fn op_bombs_are_refused_too_large_unexpanded_and_others_keep_syncing() -> TestResult {
    let relay = TestRelay::start().await?;
    let (attacker, mut honest) = two_buurten(&relay).await?;
    let actor = actor_of(&attacker)?;
    let bombs = vec![
        puts(&actor, 1_000_000),
        puts(&actor, 6_000_000),
        many_preds(&actor, 1_000_000),
    ];
    for bomb in &bombs {
        assert!(bomb.len() < 100, "{} bytes", bomb.len());
    }
    let doc = vec![7u8; 16];
    for round in 0..3 {
        let resp = push(
            &relay,
            &attacker,
            bombs
                .iter()
                .map(|b| PushChange {
                    doc: doc.clone(),
                    change: b.clone(),
                })
                .collect(),
        )
        .await?
        .map_err(|e| format!("round {round}: {e:?}"))?;
        let codes: Vec<_> = resp.rejected.iter().map(|r| r.code.as_str()).collect();
        assert_eq!(codes, ["too_large"; 3], "{:?}", resp.rejected);
        assert!(resp.rejected[0].reason.contains("1000000 operations"));
        assert!(resp.rejected[1].reason.contains("6000000 operations"));
        assert!(resp.rejected[2].reason.contains("predecessors"));
        // The honest member of the other buurt is served between the bombs.
        ask(&honest, &format!("boodschappen {round}"))?;
        honest.sync_all(&relay).await?;
    }
    assert_eq!(
        relay.storage().doc_buurt(&[7u8; 16])?,
        None,
        "nothing stored"
    );
    Ok(())
}

#[tokio::test]
async fn a_push_declaring_more_than_a_million_operations_is_payload_too_large() -> TestResult {
    let relay = TestRelay::start().await?;
    let (attacker, mut honest) = two_buurten(&relay).await?;
    let actor = actor_of(&attacker)?;
    // Each change stays under the per-change bound; together they are over the push's.
    let many: Vec<PushChange> = (0..11u8)
        .map(|i| PushChange {
            doc: vec![i; 16],
            change: puts(&actor, 99_999),
        })
        .collect();
    assert!(many.len() < MAX_PUSH);
    let e = push(&relay, &attacker, many)
        .await?
        .err()
        .ok_or("accepted")?;
    assert_eq!(
        (e.0, code(&e)),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
    );
    assert!(
        e.1.error.message.contains("1099989 operations"),
        "{:?}",
        e.1
    );
    for i in 0..11u8 {
        assert_eq!(relay.storage().doc_buurt(&[i; 16])?, None);
    }
    ask(&honest, "na de aanval")?;
    honest.sync_all(&relay).await?;
    Ok(())
}

#[tokio::test]
async fn a_malformed_doc_is_a_bad_change_and_a_lower_case_bearer_is_accepted() -> TestResult {
    let relay = TestRelay::start().await?;
    let (mut attacker, _) = two_buurten(&relay).await?;
    ask(&attacker, "echt")?;
    let (_, mut pending) = attacker.pending()?;
    let honest = pending.remove(0);
    let resp = push(
        &relay,
        &attacker,
        vec![PushChange {
            doc: vec![1; 15],
            change: honest.change.clone(),
        }],
    )
    .await?
    .map_err(|e| format!("{e:?}"))?;
    assert_eq!(resp.rejected.len(), 1);
    assert_eq!(resp.rejected[0].code, "bad_change");
    assert!(resp.rejected[0].reason.contains("`doc` is 15 bytes"));
    assert_eq!(relay.storage().head(&attacker_buurt(&attacker)?)?, 0);

    // RFC 9110: the scheme is case-insensitive.
    for scheme in ["bearer", "BEARER"] {
        let status = relay
            .http
            .post(relay.url("/v1/sync"))
            .header("content-type", noaber_core::sync::wire::CBOR)
            .header("authorization", format!("{scheme} {}", attacker.token()))
            .body(noaber_core::sync::wire::to_cbor(&SyncRequest {
                v: 1,
                cursor: 0,
                push: vec![],
                max: None,
            })?)
            .send()
            .await?
            .status();
        assert_eq!(status, StatusCode::OK, "{scheme}");
    }
    attacker.sync_all(&relay).await?;
    Ok(())
}

fn attacker_buurt(d: &Device) -> TestResult<noaber_relay::BuurtId> {
    Ok(noaber_relay::BuurtId::parse(&d.joined.buurt)?)
}
