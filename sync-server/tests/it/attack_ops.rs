//! Attacks with changes that declare more work than their bytes show (op bombs), and the relay's
//! bounds on what it expands, validates and rebuilds (issue 11, finding 1); plus two smaller
//! ones of finding 9 (a lower-case `bearer` scheme, a malformed `doc`).

use noaber_core::Role;
use noaber_core::sync::wire::{MAX_PUSH, PushChange, SyncRequest};
use reqwest::StatusCode;
use sha2::{Digest, Sha256};

use crate::support::{Device, TestRelay, TestResult, ask, code};

fn uleb(mut n: u64, out: &mut Vec<u8>) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// One run-length run: `count` (a positive signed LEB128, written here as unsigned: every
/// count used below is < 2^62 and its top bit pattern is the same) copies of `value`.
fn run(count: u64, value: u64) -> Vec<u8> {
    let mut out = Vec::new();
    // signed LEB128 of a positive number: as unsigned, plus a 0 byte if the last byte's
    // sign bit (0x40) is set
    let mut n = count;
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 && byte & 0x40 == 0 {
            out.push(byte);
            break;
        }
        out.push(byte | 0x80);
        if n == 0 {
            out.push(0);
            break;
        }
    }
    uleb(value, &mut out);
    out
}

/// A change chunk (type 1, with a valid checksum) by `actor` whose columns are the given
/// `(spec, bytes)`: what no honest encoder writes, built by hand.
fn forge(actor: &[u8], columns: &[(u64, Vec<u8>)]) -> Vec<u8> {
    let mut body = Vec::new();
    uleb(0, &mut body); // deps
    uleb(actor.len() as u64, &mut body);
    body.extend(actor);
    body.extend([1, 1, 0, 0, 0]); // seq, start_op, time, message, other actors
    uleb(columns.len() as u64, &mut body);
    for (spec, bytes) in columns {
        uleb(*spec, &mut body);
        uleb(bytes.len() as u64, &mut body);
    }
    for (_, bytes) in columns {
        body.extend(bytes);
    }
    let mut hashed = vec![1u8];
    uleb(body.len() as u64, &mut hashed);
    hashed.extend(&body);
    let hash = Sha256::digest(&hashed);
    let mut out = vec![0x85, 0x6f, 0x4a, 0x83];
    out.extend(&hash[..4]);
    out.extend(hashed);
    out
}

/// `ops` puts of `null` on the root key `"x"`, in single runs: a few dozen bytes.
fn puts(actor: &[u8], ops: u64) -> Vec<u8> {
    let mut insert = Vec::new();
    uleb(ops, &mut insert);
    let mut key = run(ops, 1);
    key.push(b'x');
    forge(
        actor,
        &[
            (0x15, key),
            (0x34, insert),
            (0x42, run(ops, 1)),
            (0x56, run(ops, 0)),
            (0x70, run(ops, 0)),
        ],
    )
}

/// One delete declaring `preds` predecessors.
fn many_preds(actor: &[u8], preds: u64) -> Vec<u8> {
    let mut key = run(1, 1);
    key.push(b'x');
    forge(
        actor,
        &[
            (0x15, key),
            (0x34, vec![1]),
            (0x42, run(1, 3)),
            (0x56, run(1, 0)),
            (0x70, run(1, preds)),
            (0x71, run(preds, 0)),
            (0x73, run(preds, 1)),
        ],
    )
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
