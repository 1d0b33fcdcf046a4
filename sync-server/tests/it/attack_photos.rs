//! Attacks on photos: a hash is not a capability, upload status is no existence oracle, the quota
//! holds under parallel uploads (issue 11, findings 5 and 7).

use noaber_core::{Audience, Role};
use noaber_relay::DeviceId;
use reqwest::StatusCode;

use crate::blobs::{fetch, jpeg, put, put_json, report_with, sha, status, upload};
use crate::support::{Device, TestRelay, TestResult};

const MIB: usize = 1024 * 1024;

/// A fetch's status and JSON error body (`Null` for a photo).
async fn fetched(
    relay: &TestRelay,
    device: &Device,
    hash: &str,
) -> TestResult<(StatusCode, serde_json::Value)> {
    let resp = fetch(relay, Some(device.token()), hash, None).await?;
    let status = resp.status();
    if status == StatusCode::OK {
        return Ok((status, serde_json::Value::Null));
    }
    Ok((status, resp.json().await?))
}

/// What the relay answers for a photo that does not exist: what every refusal must look like.
async fn unknown(
    relay: &TestRelay,
    device: &Device,
) -> TestResult<(StatusCode, serde_json::Value)> {
    let answer = fetched(relay, device, &sha(b"no such photo")).await?;
    assert_eq!(answer.0, StatusCode::NOT_FOUND);
    assert_eq!(answer.1["error"]["code"], "not_found");
    Ok(answer)
}

/// Whether the relay answers `device` that it holds its upload of the photo whole.
async fn holds(relay: &TestRelay, device: &Device, hash: &str) -> TestResult<bool> {
    Ok(status(relay, device.token(), hash).await?.1)
}

/// A member of buurt B asks where "their upload" of buurt A's photo stands, and sends a first
/// chunk of it: both answers are exactly those for a hash nobody uploaded (on main:
/// `complete: true` and the photo's size).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_status_of_another_buurts_photo_is_that_of_an_unknown_one() -> TestResult {
    let relay = TestRelay::start().await?;
    let (alpha, org_a) = relay.buurt("Alpha")?;
    let (_, org_b) = relay.buurt("Beta")?;
    let a = Device::join(&relay, &org_a, "Ans", Role::Organiser).await?;
    let code = relay.invite(&alpha, Role::Resident, 1)?;
    let neighbour = Device::join(&relay, &code, "Nel", Role::Resident).await?;
    let x = Device::join(&relay, &org_b, "Xander", Role::Organiser).await?;
    let bytes = jpeg(120_000, 40);
    let hash = upload(&relay, a.token(), &bytes, MIB).await?;
    let never = sha(b"never uploaded");

    for asker in [&x, &neighbour] {
        let get = |h: String| {
            let relay = &relay;
            async move {
                let resp = relay
                    .http
                    .get(relay.url(&format!("/v1/uploads/{h}")))
                    .bearer_auth(asker.token())
                    .send()
                    .await?;
                TestResult::Ok((resp.status(), resp.text().await?))
            }
        };
        let (known, unknown) = (get(hash.clone()).await?, get(never.clone()).await?);
        assert_eq!(known, unknown);
        assert_eq!(known.0, StatusCode::OK);
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&known.1)?,
            serde_json::json!({"v": 1, "offset": 0, "complete": false})
        );
    }
    // A first chunk is taken as the start of the asker's own upload, not answered `complete`.
    let (s, v) = put_json(&relay, x.token(), &hash, 0, bytes.len(), &bytes[..1_000]).await?;
    assert_eq!(
        (s, v),
        (
            StatusCode::OK,
            serde_json::json!({"v": 1, "offset": 1_000, "complete": false})
        )
    );
    // Nothing is held by the askers; the uploader is still answered about their own upload.
    assert!(!holds(&relay, &x, &hash).await?);
    assert!(!holds(&relay, &neighbour, &hash).await?);
    assert_eq!(status(&relay, a.token(), &hash).await?, (120_000, true));
    relay.stop().await?;
    Ok(())
}

/// A member of buurt B who learnt the hash of buurt A's photo references it from a report of
/// their own: the change is accepted (a reference is only data), but the photo is `404
/// not_found` for them and their buurt, exactly like an unknown one (on main: `200` and the
/// bytes). Buurt A keeps its photo.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hash_referenced_from_another_buurt_gives_nothing() -> TestResult {
    let relay = TestRelay::start().await?;
    let (alpha, org_a) = relay.buurt("Alpha")?;
    let (beta, org_b) = relay.buurt("Beta")?;
    let mut a = Device::join(&relay, &org_a, "Ans", Role::Organiser).await?;
    let code = relay.invite(&alpha, Role::Resident, 1)?;
    let neighbour = Device::join(&relay, &code, "Nel", Role::Resident).await?;
    let mut x = Device::join(&relay, &org_b, "Xander", Role::Organiser).await?;
    let code = relay.invite(&beta, Role::Resident, 1)?;
    let y = Device::join(&relay, &code, "Yara", Role::Resident).await?;
    let bytes = jpeg(60_000, 41);
    let hash = upload(&relay, a.token(), &bytes, MIB).await?;
    report_with(&relay, &mut a, &bytes, Audience::Buurt).await?;
    report_with(&relay, &mut x, &bytes, Audience::Buurt).await?;

    let refused = unknown(&relay, &x).await?;
    assert_eq!(fetched(&relay, &x, &hash).await?, refused);
    assert_eq!(fetched(&relay, &y, &hash).await?, refused);
    let head = relay
        .http
        .head(relay.url(&format!("/v1/blobs/{hash}")))
        .bearer_auth(x.token())
        .send()
        .await?;
    assert_eq!(head.status(), StatusCode::NOT_FOUND);
    assert!(!holds(&relay, &x, &hash).await?);
    // The relay keeps serving buurt A its photo.
    assert_eq!(fetched(&relay, &neighbour, &hash).await?.0, StatusCode::OK);
    relay.stop().await?;
    Ok(())
}

/// A resident who once saw the hash of an organisers-only photo attaches it to a buurt-wide
/// report of their own: neither they nor any other resident get the photo (`404`, as for an
/// unknown one; on main: `200`); the organisers still do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_organisers_photo_referenced_by_a_residents_report_stays_with_the_organisers()
-> TestResult {
    let relay = TestRelay::start().await?;
    let (alpha, org) = relay.buurt("Alpha")?;
    let mut o = Device::join(&relay, &org, "Ans", Role::Organiser).await?;
    let code = relay.invite(&alpha, Role::Organiser, 1)?;
    let o2 = Device::join(&relay, &code, "Otto", Role::Organiser).await?;
    let code = relay.invite(&alpha, Role::Resident, 2)?;
    let mut r = Device::join(&relay, &code, "Rik", Role::Resident).await?;
    let r2 = Device::join(&relay, &code, "Roos", Role::Resident).await?;
    let bytes = jpeg(60_000, 42);
    let hash = upload(&relay, o.token(), &bytes, MIB).await?;
    report_with(&relay, &mut o, &bytes, Audience::Organisers).await?;
    report_with(&relay, &mut r, &bytes, Audience::Buurt).await?;

    let refused = unknown(&relay, &r).await?;
    assert_eq!(fetched(&relay, &r, &hash).await?, refused);
    assert_eq!(fetched(&relay, &r2, &hash).await?, refused);
    assert!(!holds(&relay, &r, &hash).await?);
    assert_eq!(fetched(&relay, &o, &hash).await?.0, StatusCode::OK);
    assert_eq!(fetched(&relay, &o2, &hash).await?.0, StatusCode::OK);
    relay.stop().await?;
    Ok(())
}

/// The honest order of a caretaker who reported offline: the report (with its photo
/// reference) is pushed first, the photo uploaded after. Before the upload nobody gets the
/// photo (`404`: "pending"), after it every reader does. The reference is never refused at push.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caretakers_offline_report_is_pushed_before_its_photo_and_then_served() -> TestResult {
    let relay = TestRelay::start().await?;
    let (alpha, org) = relay.buurt("Alpha")?;
    let o = Device::join(&relay, &org, "Ans", Role::Organiser).await?;
    let code = relay.invite(&alpha, Role::Caretaker, 1)?;
    let mut c = Device::join(&relay, &code, "Cas", Role::Caretaker).await?;
    let code = relay.invite(&alpha, Role::Resident, 1)?;
    let r = Device::join(&relay, &code, "Rik", Role::Resident).await?;
    let bytes = jpeg(300_000, 43);
    let hash = sha(&bytes);
    report_with(&relay, &mut c, &bytes, Audience::Buurt).await?;
    assert_eq!(fetched(&relay, &r, &hash).await?.0, StatusCode::NOT_FOUND);
    upload(&relay, c.token(), &bytes, 100_000).await?;
    for reader in [&r, &o, &c] {
        let resp = fetch(&relay, Some(reader.token()), &hash, None).await?;
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(sha(&resp.bytes().await?), hash);
    }
    relay.stop().await?;
    Ok(())
}

/// Eight parallel upload starts, each alone within a 20 MB quota, declaring 6 MB each: at most
/// three are taken (on main all eight: 48 MB reserved), the others are `403 quota_exceeded`,
/// the device's reserved bytes never exceed the quota, and the relay keeps serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_upload_starts_cannot_reserve_more_than_the_quota() -> TestResult {
    const QUOTA: u64 = 20_000_000;
    const EACH: usize = 6_000_000;
    let relay = TestRelay::start_with(|c| c.blob_quota_bytes = QUOTA).await?;
    let (_, org) = relay.buurt("Alpha")?;
    let (_, org_b) = relay.buurt("Beta")?;
    let a = Device::join(&relay, &org, "Ans", Role::Organiser).await?;
    let chunk = vec![0xFFu8; 64 * 1024];
    let starts = (0..8u8).map(|i| {
        let (relay, a, chunk) = (&relay, &a, &chunk);
        async move {
            let hash = sha(&[i; 8]);
            let resp = put(relay, Some(a.token()), &hash, 0, EACH, chunk).await?;
            let status = resp.status();
            let body: serde_json::Value = resp.json().await?;
            TestResult::Ok((status, body))
        }
    });
    let answers = futures_util::future::try_join_all(starts).await?;
    let taken = answers.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    assert_eq!(taken, 3, "{answers:?}");
    for (s, body) in &answers {
        if *s != StatusCode::OK {
            assert_eq!(*s, StatusCode::FORBIDDEN, "{body}");
            assert_eq!(body["error"]["code"], "quota_exceeded");
        }
    }
    let device = DeviceId::parse(&a.joined.device)?;
    let reserved = relay.storage().blob_bytes(&device)?;
    assert_eq!(reserved, 3 * EACH as u64);
    assert!(reserved <= QUOTA);
    // The relay keeps serving: another device uploads a photo whole.
    let b = Device::join(&relay, &org_b, "Bert", Role::Organiser).await?;
    upload(&relay, b.token(), &jpeg(50_000, 44), MIB).await?;
    relay.stop().await?;
    Ok(())
}
