//! Photos: resumable uploads (`/v1/uploads/{hash}`), fetches with ranges (`/v1/blobs/{hash}`),
//! their limits, and who may fetch what — against a real relay over HTTP.

use noaber_core::model::report::{NewReport, PhotoRef};
use noaber_core::{Audience, EntityId, Role};
use noaber_relay::Config;
use reqwest::{Response, StatusCode};
use sha2::{Digest, Sha256};

use crate::support::{Device, TestRelay, TestResult};

const MIB: usize = 1024 * 1024;

/// The camera-like fixture: EXIF with GPS, a serial number, the owner's name (what an old or
/// modified client might upload unstripped).
const CAMERA_JPG: &[u8] = include_bytes!("../../../tests/fixtures/photos/camera.jpg");

/// A real, metadata-free JPEG of exactly `len` bytes (at least ~1.4 KB) that differs per
/// `seed`: the cleaned fixture with its entropy-coded scan lengthened by filler bytes that
/// contain no marker (no `0xFF`), then the end-of-image marker.
pub(crate) fn jpeg(len: usize, seed: u8) -> Vec<u8> {
    let mut b = noaber_core::photo::clean(CAMERA_JPG).unwrap().bytes;
    assert_eq!(b.split_off(b.len() - 2), [0xFF, 0xD9], "ends with EOI");
    assert!(len >= b.len() + 2, "a photo of {len} bytes is too small");
    let mut x = u32::from(seed).wrapping_mul(2_654_435_761).wrapping_add(1);
    let fill = len - b.len() - 2;
    b.extend((0..fill).map(|_| {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        ((x >> 24) % 0xFF) as u8
    }));
    b.extend_from_slice(&[0xFF, 0xD9]);
    b
}

pub(crate) fn sha(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub(crate) async fn put(
    relay: &TestRelay,
    token: Option<&str>,
    hash: &str,
    offset: usize,
    total: usize,
    chunk: &[u8],
) -> TestResult<Response> {
    let mut req = relay
        .http
        .put(relay.url(&format!("/v1/uploads/{hash}")))
        .header("content-type", "application/octet-stream")
        .header("upload-offset", offset.to_string())
        .header("upload-length", total.to_string())
        .body(chunk.to_vec());
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    Ok(req.send().await?)
}

/// `PUT` and the answer's status and JSON body.
pub(crate) async fn put_json(
    relay: &TestRelay,
    token: &str,
    hash: &str,
    offset: usize,
    total: usize,
    chunk: &[u8],
) -> TestResult<(StatusCode, serde_json::Value)> {
    let resp = put(relay, Some(token), hash, offset, total, chunk).await?;
    Ok((resp.status(), resp.json().await?))
}

/// `GET /v1/uploads/{hash}`: `(offset, complete)`.
pub(crate) async fn status(relay: &TestRelay, token: &str, hash: &str) -> TestResult<(u64, bool)> {
    let resp = relay
        .http
        .get(relay.url(&format!("/v1/uploads/{hash}")))
        .bearer_auth(token)
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::OK);
    let v: serde_json::Value = resp.json().await?;
    assert_eq!(v["v"], 1);
    Ok((
        v["offset"].as_u64().ok_or("offset")?,
        v["complete"].as_bool().ok_or("complete")?,
    ))
}

/// Uploads `bytes` in chunks of `chunk`; the last answer must be 201.
pub(crate) async fn upload(
    relay: &TestRelay,
    token: &str,
    bytes: &[u8],
    chunk: usize,
) -> TestResult<String> {
    let hash = sha(bytes);
    let mut at = 0;
    for part in bytes.chunks(chunk) {
        let (s, v) = put_json(relay, token, &hash, at, bytes.len(), part).await?;
        at += part.len();
        let want = if at == bytes.len() {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        };
        assert_eq!(s, want, "{v}");
        assert_eq!(v["offset"].as_u64(), Some(at as u64));
        assert_eq!(v["complete"].as_bool(), Some(at == bytes.len()));
    }
    Ok(hash)
}

/// A `PUT` whose connection is closed after half of its body was sent.
async fn cut_put(
    relay: &TestRelay,
    token: &str,
    hash: &str,
    offset: usize,
    total: usize,
    chunk: &[u8],
) -> TestResult {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = relay.url.trim_start_matches("http://");
    let mut conn = tokio::net::TcpStream::connect(addr).await?;
    let head = format!(
        "PUT /v1/uploads/{hash} HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {token}\r\n\
         content-type: application/octet-stream\r\nupload-offset: {offset}\r\n\
         upload-length: {total}\r\ncontent-length: {}\r\n\r\n",
        chunk.len()
    );
    conn.write_all(head.as_bytes()).await?;
    conn.write_all(&chunk[..chunk.len() / 2]).await?;
    conn.shutdown().await?;
    // The relay gives up on the body; whatever it answers (if anything), the chunk is lost.
    let mut answer = Vec::new();
    let _ = conn.read_to_end(&mut answer).await;
    Ok(())
}

pub(crate) async fn fetch(
    relay: &TestRelay,
    token: Option<&str>,
    hash: &str,
    range: Option<&str>,
) -> TestResult<Response> {
    let mut req = relay.http.get(relay.url(&format!("/v1/blobs/{hash}")));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(r) = range {
        req = req.header("range", r);
    }
    Ok(req.send().await?)
}

fn header<'a>(resp: &'a Response, name: &str) -> Option<&'a str> {
    resp.headers().get(name).and_then(|v| v.to_str().ok())
}

pub(crate) async fn error_code(resp: Response) -> TestResult<String> {
    let v: serde_json::Value = resp.json().await?;
    Ok(v["error"]["code"]
        .as_str()
        .ok_or("no error code")?
        .to_owned())
}

/// A report on `device` referencing the photo `bytes`, synced to the relay.
pub(crate) async fn report_with(
    relay: &TestRelay,
    device: &mut Device,
    bytes: &[u8],
    audience: Audience,
) -> TestResult<EntityId> {
    let id = device.store.create_report(&NewReport {
        audience,
        ..NewReport::at("lighting", 52.37, 4.89)
    })?;
    device.store.attach_photo_ref(
        &id,
        &PhotoRef {
            hash: sha(bytes),
            mime: "image/jpeg".into(),
            size: bytes.len() as u64,
            width: 640,
            height: 480,
        },
    )?;
    device.sync_all(relay).await?;
    Ok(id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_uploaded_in_three_chunks_is_fetched_back_whole_and_in_ranges() -> TestResult {
    let relay = TestRelay::start().await?;
    let (_, org) = relay.buurt("Alpha")?;
    let mut a = Device::join(&relay, &org, "Ans", Role::Organiser).await?;
    let bytes = jpeg(250_000, 1);
    let hash = upload(&relay, a.token(), &bytes, 100_000).await?;
    assert_eq!(status(&relay, a.token(), &hash).await?, (250_000, true));
    report_with(&relay, &mut a, &bytes, Audience::Buurt).await?;

    let resp = fetch(&relay, Some(a.token()), &hash, None).await?;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(header(&resp, "content-type"), Some("image/jpeg"));
    assert_eq!(header(&resp, "content-length"), Some("250000"));
    assert_eq!(header(&resp, "etag"), Some(format!("\"{hash}\"").as_str()));
    assert_eq!(header(&resp, "accept-ranges"), Some("bytes"));
    assert_eq!(
        header(&resp, "cache-control"),
        Some("private, max-age=31536000, immutable")
    );
    assert_eq!(resp.bytes().await?.as_ref(), bytes.as_slice());

    for (range, from, to) in [
        ("bytes=10-19", 10, 19),
        ("bytes=249990-", 249_990, 249_999),
        ("bytes=-5", 249_995, 249_999),
        ("bytes=0-999999", 0, 249_999),
    ] {
        let resp = fetch(&relay, Some(a.token()), &hash, Some(range)).await?;
        assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT, "{range}");
        let want = format!("bytes {from}-{to}/250000");
        assert_eq!(header(&resp, "content-range"), Some(want.as_str()));
        assert_eq!(
            header(&resp, "content-length"),
            Some((to - from + 1).to_string().as_str())
        );
        assert_eq!(resp.bytes().await?.as_ref(), &bytes[from..=to], "{range}");
    }
    let resp = fetch(&relay, Some(a.token()), &hash, Some("bytes=250000-")).await?;
    assert_eq!(resp.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(header(&resp, "content-range"), Some("bytes */250000"));
    assert_eq!(error_code(resp).await?, "range_not_satisfiable");
    // Several ranges: the whole photo.
    let resp = fetch(&relay, Some(a.token()), &hash, Some("bytes=0-1,5-6")).await?;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.bytes().await?.len(), 250_000);

    let resp = relay
        .http
        .head(relay.url(&format!("/v1/blobs/{hash}")))
        .bearer_auth(a.token())
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(header(&resp, "content-length"), Some("250000"));
    assert_eq!(header(&resp, "content-type"), Some("image/jpeg"));
    assert!(resp.bytes().await?.is_empty());
    relay.stop().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_cut_off_resumes_from_the_relays_offset() -> TestResult {
    let relay = TestRelay::start().await?;
    let (buurt, org) = relay.buurt("Alpha")?;
    let a = Device::join(&relay, &org, "Ans", Role::Organiser).await?;
    let bytes = jpeg(300_000, 2);
    let hash = sha(&bytes);
    assert_eq!(status(&relay, a.token(), &hash).await?, (0, false));
    let (s, _) = put_json(&relay, a.token(), &hash, 0, 300_000, &bytes[..120_000]).await?;
    assert_eq!(s, StatusCode::OK);
    // The next chunk's connection is cut halfway through its body: nothing of it counts.
    cut_put(
        &relay,
        a.token(),
        &hash,
        120_000,
        300_000,
        &bytes[120_000..220_000],
    )
    .await?;
    // The device asks where it stands.
    assert_eq!(status(&relay, a.token(), &hash).await?, (120_000, false));
    // A chunk from the wrong place is refused with the place to continue from.
    let resp = put(
        &relay,
        Some(a.token()),
        &hash,
        100_000,
        300_000,
        &bytes[100_000..200_000],
    )
    .await?;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    assert_eq!(header(&resp, "upload-offset"), Some("120000"));
    assert_eq!(error_code(resp).await?, "offset_mismatch");
    // A different total than the upload started with is a bad request.
    let (s, v) = put_json(
        &relay,
        a.token(),
        &hash,
        120_000,
        300_001,
        &bytes[120_000..],
    )
    .await?;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bad_request"))
    );
    let (s, _) = put_json(
        &relay,
        a.token(),
        &hash,
        120_000,
        300_000,
        &bytes[120_000..],
    )
    .await?;
    assert_eq!(s, StatusCode::CREATED);

    // Its uploader is done: a chunk more is ignored.
    assert_eq!(status(&relay, a.token(), &hash).await?, (300_000, true));
    let (s, v) = put_json(&relay, a.token(), &hash, 0, 300_000, &bytes[..1000]).await?;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        v,
        serde_json::json!({"v": 1, "offset": 300_000, "complete": true})
    );
    // Another member's device is answered about its own upload only (a hash is no existence
    // oracle): it sends the bytes itself, which are stored once.
    let code_ = relay.invite(&buurt, Role::Resident, 1)?;
    let b = Device::join(&relay, &code_, "Bert", Role::Resident).await?;
    assert_eq!(status(&relay, b.token(), &hash).await?, (0, false));
    upload(&relay, b.token(), &bytes, 200_000).await?;
    assert_eq!(status(&relay, b.token(), &hash).await?, (300_000, true));
    let stored = relay
        .storage()
        .blob(&Sha256::digest(&bytes).into())?
        .ok_or("no row")?;
    assert_eq!(stored.uploaded_by.as_str(), a.joined.device.as_str());
    relay.stop().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_bytes_and_non_images_are_refused_and_discarded() -> TestResult {
    let relay = TestRelay::start().await?;
    let (_, org) = relay.buurt("Alpha")?;
    let a = Device::join(&relay, &org, "Ans", Role::Organiser).await?;
    let bytes = jpeg(200_000, 3);
    let claimed = sha(&jpeg(200_000, 4));
    let (s, _) = put_json(&relay, a.token(), &claimed, 0, 200_000, &bytes[..100_000]).await?;
    assert_eq!(s, StatusCode::OK);
    let resp = put(
        &relay,
        Some(a.token()),
        &claimed,
        100_000,
        200_000,
        &bytes[100_000..],
    )
    .await?;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_code(resp).await?, "hash_mismatch");
    assert_eq!(status(&relay, a.token(), &claimed).await?, (0, false));

    // The original camera file, metadata and all (an old or modified client): refused, and
    // the message says what it carries.
    let dirty_hash = sha(CAMERA_JPG);
    let resp = put(
        &relay,
        Some(a.token()),
        &dirty_hash,
        0,
        CAMERA_JPG.len(),
        CAMERA_JPG,
    )
    .await?;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: serde_json::Value = resp.json().await?;
    assert_eq!(body["error"]["code"], "photo_rejected");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("metadata") && message.contains("gps"),
        "{message}"
    );
    assert_eq!(status(&relay, a.token(), &dirty_hash).await?, (0, false));

    let text = b"<html>not a photo at all</html>".repeat(100);
    let hash = sha(&text);
    let resp = put(&relay, Some(a.token()), &hash, 0, text.len(), &text).await?;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_code(resp).await?, "photo_rejected");
    assert_eq!(status(&relay, a.token(), &hash).await?, (0, false));
    let partial = relay.dir.path().join("blobs").join("partial");
    assert_eq!(
        std::fs::read_dir(partial)?.count(),
        0,
        "no partial upload is left"
    );
    relay.stop().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_and_oversized_uploads_are_refused() -> TestResult {
    let relay = TestRelay::start().await?;
    let (_, org) = relay.buurt("Alpha")?;
    let a = Device::join(&relay, &org, "Ans", Role::Organiser).await?;
    let bytes = jpeg(2_000, 5);
    let hash = sha(&bytes);
    let t = Some(a.token());

    let resp = put(&relay, None, &hash, 0, 2_000, &bytes).await?;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let resp = put(&relay, t, &hash.to_uppercase(), 0, 2_000, &bytes).await?;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let resp = put(&relay, t, &hash, 0, 15_000_001, &bytes).await?;
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(error_code(resp).await?, "payload_too_large");
    let resp = put(&relay, t, &hash, 0, 0, &[]).await?;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    // The chunk runs past the declared total.
    let resp = put(&relay, t, &hash, 0, 1_000, &bytes).await?;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    // An empty chunk that does not finish the upload.
    let resp = put(&relay, t, &hash, 0, 2_000, &[]).await?;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    // A chunk over 1 MiB.
    let big = jpeg(MIB + 1, 6);
    let resp = put(&relay, t, &sha(&big), 0, big.len(), &big).await?;
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // Missing headers, wrong content type.
    let resp = relay
        .http
        .put(relay.url(&format!("/v1/uploads/{hash}")))
        .bearer_auth(a.token())
        .header("content-type", "application/octet-stream")
        .body(bytes.clone())
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let resp = relay
        .http
        .put(relay.url(&format!("/v1/uploads/{hash}")))
        .bearer_auth(a.token())
        .header("content-type", "image/jpeg")
        .header("upload-offset", "0")
        .header("upload-length", "2000")
        .body(bytes.clone())
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let resp = relay
        .http
        .get(relay.url(&format!("/v1/uploads/{hash}")))
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    relay.stop().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_14_mb_photo_uploads_in_1_mib_chunks() -> TestResult {
    let relay = TestRelay::start().await?;
    let (_, org) = relay.buurt("Alpha")?;
    let mut a = Device::join(&relay, &org, "Ans", Role::Organiser).await?;
    let bytes = jpeg(14_000_000, 7);
    let hash = upload(&relay, a.token(), &bytes, MIB).await?;
    report_with(&relay, &mut a, &bytes, Audience::Buurt).await?;
    let resp = fetch(&relay, Some(a.token()), &hash, None).await?;
    assert_eq!(resp.status(), StatusCode::OK);
    let got = resp.bytes().await?;
    assert_eq!(got.len(), 14_000_000);
    assert_eq!(sha(&got), hash);
    relay.stop().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_over_its_quota_is_refused() -> TestResult {
    let relay = TestRelay::start_with(|c| c.blob_quota_bytes = 1_000_000).await?;
    let (_, org) = relay.buurt("Alpha")?;
    let a = Device::join(&relay, &org, "Ans", Role::Organiser).await?;
    upload(&relay, a.token(), &jpeg(600_000, 8), MIB).await?;
    // Started uploads count with their whole declared length.
    let second = jpeg(300_000, 9);
    let (s, _) = put_json(
        &relay,
        a.token(),
        &sha(&second),
        0,
        300_000,
        &second[..1_000],
    )
    .await?;
    assert_eq!(s, StatusCode::OK);
    let third = jpeg(200_000, 10);
    let resp = put(
        &relay,
        Some(a.token()),
        &sha(&third),
        0,
        200_000,
        &third[..1_000],
    )
    .await?;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(error_code(resp).await?, "quota_exceeded");
    relay.stop().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_sending_too_fast_is_told_when_to_retry() -> TestResult {
    let relay = TestRelay::start_with(|c| c.blob_rate_bytes_per_minute = MIB as u64).await?;
    let (_, org) = relay.buurt("Alpha")?;
    let a = Device::join(&relay, &org, "Ans", Role::Organiser).await?;
    let bytes = jpeg(2 * MIB, 11);
    let hash = sha(&bytes);
    let (s, _) = put_json(&relay, a.token(), &hash, 0, bytes.len(), &bytes[..700_000]).await?;
    assert_eq!(s, StatusCode::OK);
    let resp = put(
        &relay,
        Some(a.token()),
        &hash,
        700_000,
        bytes.len(),
        &bytes[700_000..1_400_000],
    )
    .await?;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = header(&resp, "retry-after")
        .ok_or("no retry-after")?
        .parse()?;
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(error_code(resp).await?, "rate_limited");
    // Nothing of the refused chunk was kept.
    assert_eq!(status(&relay, a.token(), &hash).await?, (700_000, false));
    relay.stop().await?;
    Ok(())
}

/// Who may fetch a photo: a member reading a document of their buurt that references it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_is_fetched_only_by_members_reading_a_document_referencing_it() -> TestResult {
    let relay = TestRelay::start().await?;
    let (alpha, org) = relay.buurt("Alpha")?;
    let (_, org_beta) = relay.buurt("Beta")?;
    let mut a = Device::join(&relay, &org, "Ans", Role::Organiser).await?;
    let code_ = relay.invite(&alpha, Role::Resident, 1)?;
    let r = Device::join(&relay, &code_, "Rik", Role::Resident).await?;
    let x = Device::join(&relay, &org_beta, "Xander", Role::Organiser).await?;

    let open = jpeg(50_000, 12);
    let restricted = jpeg(50_000, 13);
    let loose = jpeg(50_000, 14);
    let (open_h, restricted_h, loose_h) = (
        upload(&relay, a.token(), &open, MIB).await?,
        upload(&relay, a.token(), &restricted, MIB).await?,
        upload(&relay, a.token(), &loose, MIB).await?,
    );
    report_with(&relay, &mut a, &open, Audience::Buurt).await?;
    report_with(&relay, &mut a, &restricted, Audience::Organisers).await?;

    let got = |token: Option<String>, hash: String| {
        let relay = &relay;
        async move {
            let resp = fetch(relay, token.as_deref(), &hash, None).await?;
            TestResult::Ok(resp.status())
        }
    };
    let (at, rt, xt) = (
        Some(a.token().to_owned()),
        Some(r.token().to_owned()),
        Some(x.token().to_owned()),
    );
    // A member of the buurt reads the buurt report's photo.
    assert_eq!(got(rt.clone(), open_h.clone()).await?, StatusCode::OK);
    // A member of another buurt: as if it did not exist.
    assert_eq!(got(xt, open_h.clone()).await?, StatusCode::NOT_FOUND);
    // The restricted report's photo: its organiser yes, the resident not.
    assert_eq!(got(at.clone(), restricted_h.clone()).await?, StatusCode::OK);
    assert_eq!(got(rt.clone(), restricted_h).await?, StatusCode::NOT_FOUND);
    // A photo no document references, even for its uploader.
    assert_eq!(got(at, loose_h.clone()).await?, StatusCode::NOT_FOUND);
    assert_eq!(got(rt.clone(), loose_h).await?, StatusCode::NOT_FOUND);
    // A photo that does not exist.
    assert_eq!(got(rt, sha(b"nothing")).await?, StatusCode::NOT_FOUND);
    // Nobody without a token.
    assert_eq!(got(None, open_h).await?, StatusCode::UNAUTHORIZED);
    relay.stop().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_relay_resumes_an_upload_from_its_durable_offset() -> TestResult {
    let relay = TestRelay::start().await?;
    let (_, org) = relay.buurt("Alpha")?;
    let a = Device::join(&relay, &org, "Ans", Role::Organiser).await?;
    let bytes = jpeg(3 * MIB, 15);
    let hash = sha(&bytes);
    for i in 0..2 {
        let part = &bytes[i * MIB..(i + 1) * MIB];
        let (s, _) = put_json(&relay, a.token(), &hash, i * MIB, bytes.len(), part).await?;
        assert_eq!(s, StatusCode::OK);
    }
    let dir = relay.kill();

    let config = Config::with_data(dir.path());
    let relay = TestRelay::start_in(dir, config).await?;
    assert_eq!(
        status(&relay, a.token(), &hash).await?,
        (2 * MIB as u64, false)
    );
    let (s, _) = put_json(
        &relay,
        a.token(),
        &hash,
        2 * MIB,
        bytes.len(),
        &bytes[2 * MIB..],
    )
    .await?;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(
        status(&relay, a.token(), &hash).await?,
        (3 * MIB as u64, true)
    );
    relay.stop().await?;
    Ok(())
}

/// A relay that crashed after publishing a photo's file but before recording it: the file is
/// not taken as anyone's (a hash proves nothing), so the device finds its offset at 0, sends
/// the photo again, and is done; the photo is then recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_published_but_not_recorded_is_recovered() -> TestResult {
    let relay = TestRelay::start().await?;
    let (_, org) = relay.buurt("Alpha")?;
    let a = Device::join(&relay, &org, "Ans", Role::Organiser).await?;
    let bytes = jpeg(40_000, 16);
    let hash = noaber_relay::blob::BlobHash(Sha256::digest(&bytes).into());
    let device = noaber_relay::DeviceId::parse(&a.joined.device)?;
    // The file layer's half of a completion, without the storage's.
    relay.relay.blobs().write_chunk(&device, &hash, 0, &bytes)?;
    relay.relay.blobs().complete(&device, &hash, 40_000)?;
    assert!(relay.storage().blob(&hash.0)?.is_none());
    assert_eq!(status(&relay, a.token(), &hash.hex()).await?, (0, false));
    upload(&relay, a.token(), &bytes, MIB).await?;
    assert_eq!(
        status(&relay, a.token(), &hash.hex()).await?,
        (40_000, true)
    );
    let row = relay.storage().blob(&hash.0)?.ok_or("not recorded")?;
    assert_eq!((row.mime.as_str(), row.size), ("image/jpeg", 40_000));
    relay.stop().await?;
    Ok(())
}

/// A photo recorded as uploaded whose file is gone (a disk lost, a data directory not shared
/// between relays): `404 not_found` on `GET` and `HEAD`, never `500` — the device cannot fix
/// it by retrying, and the report itself stays readable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_photo_whose_file_is_gone_is_not_found() -> TestResult {
    let relay = TestRelay::start().await?;
    let (_, org) = relay.buurt("Alpha")?;
    let mut a = Device::join(&relay, &org, "Ans", Role::Organiser).await?;
    let bytes = jpeg(30_000, 17);
    let hash = upload(&relay, a.token(), &bytes, MIB).await?;
    report_with(&relay, &mut a, &bytes, Audience::Buurt).await?;
    assert_eq!(
        fetch(&relay, Some(a.token()), &hash, None).await?.status(),
        StatusCode::OK
    );
    let file = relay
        .dir
        .path()
        .join("blobs/sha256")
        .join(&hash[..2])
        .join(&hash);
    std::fs::remove_file(file)?;
    let resp = fetch(&relay, Some(a.token()), &hash, None).await?;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(resp).await?, "not_found");
    let resp = fetch(&relay, Some(a.token()), &hash, Some("bytes=0-9")).await?;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let resp = relay
        .http
        .head(relay.url(&format!("/v1/blobs/{hash}")))
        .bearer_auth(a.token())
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    relay.stop().await?;
    Ok(())
}

/// A partial upload's expiry follows the relay's injected clock: six days on it is kept, past
/// seven its row and bytes are discarded and the device starts again from 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partial_upload_expires_by_the_relays_clock() -> TestResult {
    const DAY: i64 = 24 * 60 * 60 * 1000;
    let clock = std::sync::Arc::new(noaber_relay::ManualClock::new(crate::support::now_ms()));
    let relay = TestRelay::start_with_clock(clock.clone()).await?;
    let (_, org) = relay.buurt("Alpha")?;
    let a = Device::join(&relay, &org, "Ans", Role::Organiser).await?;
    let bytes = jpeg(300_000, 3);
    let hash = sha(&bytes);
    let (s, _) = put_json(&relay, a.token(), &hash, 0, 300_000, &bytes[..120_000]).await?;
    assert_eq!(s, StatusCode::OK);
    clock.advance(6 * DAY);
    assert_eq!(relay.relay.discard_stale_uploads()?, 0);
    assert_eq!(status(&relay, a.token(), &hash).await?, (120_000, false));
    clock.advance(2 * DAY);
    assert_eq!(relay.relay.discard_stale_uploads()?, 1);
    assert_eq!(status(&relay, a.token(), &hash).await?, (0, false));
    Ok(())
}
