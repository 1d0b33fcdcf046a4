//! A photo taken offline in a basement reaches a neighbour's phone: stripped of its metadata on
//! the device, uploaded after its report synced, resumed after a cut connection, fetched on
//! demand — and no GPS position survives anywhere, on either device or at the relay.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use noaber_core::Role;
use noaber_core::model::report::NewReport;
use noaber_core::store::photos::UploadState;
use noaber_core::sync::http::UPLOAD_CHUNK;
use noaber_e2e::{Device, InProcessRelay, Proxy, TestResult};

/// The camera-like fixture: EXIF with a GPS position (52°5'43.21"N 5°7'12.34"E), a body
/// serial number, the owner's name, times and a thumbnail; XMP with the position again; a
/// comment naming a street.
const CAMERA_JPG: &[u8] = include_bytes!("../../fixtures/photos/camera.jpg");

/// What must not survive: the serial, the owner, the street, the XMP packet, and the GPS
/// latitude's rationals as EXIF stores them (52/1, 5/1, big-endian).
const SECRETS: &[&[u8]] = &[
    b"SN-HOME-4242",
    b"Ans de Vries",
    b"Lindelaan",
    b"xmpmeta",
    &[0, 0, 0, 52, 0, 0, 0, 1, 0, 0, 0, 5, 0, 0, 0, 1],
];

/// The fixture with its picture data lengthened to `len` bytes (a full-size camera photo
/// carries the same metadata in front of a few megabytes of scan): the metadata is intact.
fn camera_photo(len: usize) -> Vec<u8> {
    let mut b = CAMERA_JPG.to_vec();
    assert_eq!(b.split_off(b.len() - 2), [0xFF, 0xD9]);
    let mut x = 0x9e37_79b9_u32;
    b.extend((0..len - CAMERA_JPG.len()).map(|_| {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        ((x >> 24) % 0xFF) as u8
    }));
    b.extend_from_slice(&[0xFF, 0xD9]);
    b
}

fn holds_a_secret(bytes: &[u8]) -> Option<String> {
    SECRETS
        .iter()
        .find(|s| bytes.windows(s.len()).any(|w| w == **s))
        .map(|s| String::from_utf8_lossy(s).into_owned())
}

/// Every file under `dir`, with its bytes.
fn files(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files(&p));
        } else if let Ok(b) = std::fs::read(&p) {
            out.push((p, b));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_taken_offline_arrives_on_a_second_device_and_no_gps_survives() -> TestResult {
    let relay = InProcessRelay::start().await?;
    let addr = relay.url.trim_start_matches("http://").parse()?;
    let proxy = Proxy::start(addr).await?;
    let (buurt, caretakers) = relay.buurt("De Linde", Role::Caretaker)?;
    let residents = relay.invite(&buurt, Role::Resident)?;
    // The caretaker's phone reaches the relay through a proxy that can cut the connection.
    let care = Device::joined(&proxy.url(), &caretakers, "Huismeester").await?;
    let ans = Device::joined(&relay.url, &residents, "Ans").await?;

    // In the basement, offline: a report with a 700 KB camera photo.
    let original = camera_photo(700_000);
    let id = care
        .store
        .create_report(&NewReport::at("lighting", 52.0907, 5.1214))?;
    let photo = care.store.attach_photo(&id, &original)?;
    assert!(photo.size < original.len() as u64, "the metadata is gone");
    assert!(
        photo.size > 3 * UPLOAD_CHUNK as u64 / 2,
        "more than one chunk"
    );
    let queued = care.store.photo_uploads()?;
    assert_eq!((queued.len(), queued[0].state), (1, UploadState::Pending));

    // Back upstairs: the report syncs first. The neighbour sees it, its photo "pending".
    care.sync().await?;
    ans.sync().await?;
    let seen = ans.store.report(&id)?;
    assert_eq!(seen.photos.len(), 1);
    assert_eq!(seen.photos[0].photo, photo);
    assert!(ans.store.photo(&photo.hash)?.is_none());
    assert!(
        ans.client
            .fetch_photo(&ans.store, &ans.buurt, &photo.hash)
            .await?
            .is_none(),
        "pending until uploaded"
    );

    // The upload is cut in the middle of its second chunk.
    proxy.cut_next_request_after(UPLOAD_CHUNK + UPLOAD_CHUNK / 2);
    let first = care
        .client
        .upload_photos(&care.store, &care.buurt, |_| {})
        .await?;
    assert_eq!((first.completed, first.waiting), (0, 1));
    let q = care.store.photo_uploads()?;
    assert_eq!(q[0].state, UploadState::Pending);
    assert_eq!(
        q[0].sent, UPLOAD_CHUNK as u64,
        "the first chunk was acknowledged"
    );
    assert!(q[0].last_error.is_some());
    assert_eq!(q[0].attempts, 1);

    // The next attempt resumes from the relay's offset, not from zero.
    let mut progress = Vec::new();
    let second = care
        .client
        .upload_photos(&care.store, &care.buurt, |p| progress.push(p.sent))
        .await?;
    assert_eq!((second.completed, second.waiting), (1, 0));
    assert_eq!(second.bytes_sent, photo.size - UPLOAD_CHUNK as u64);
    assert_eq!(progress.last(), Some(&photo.size));
    assert!(progress.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(care.store.photo_uploads()?[0].state, UploadState::Done);

    // The neighbour's phone fetches it: the same clean bytes.
    let got = ans
        .client
        .fetch_photo(&ans.store, &ans.buurt, &photo.hash)
        .await?
        .expect("uploaded");
    let mine = care.store.photo(&photo.hash)?.expect("taken here");
    assert_eq!(got, mine);
    assert_eq!(got.mime, "image/jpeg");
    assert_eq!(holds_a_secret(&got.bytes), None);
    // A second fetch is served from the cache.
    assert_eq!(ans.store.photo(&photo.hash)?, Some(got));

    // No GPS anywhere: every file of both devices and of the relay (databases, write-ahead
    // logs, photo files).
    for dir in [care.dir(), ans.dir(), relay.data_dir()] {
        for (path, bytes) in files(dir) {
            assert_eq!(holds_a_secret(&bytes), None, "{}", path.display());
        }
    }
    assert!(
        files(relay.data_dir())
            .iter()
            .any(|(_, b)| *b == mine.bytes),
        "the relay stores the photo as a file"
    );

    // A member of another buurt cannot fetch it, even knowing its hash.
    let (_, elsewhere) = relay.buurt("Het Plein", Role::Resident)?;
    let stranger = Device::joined(&relay.url, &elsewhere, "Vreemde").await?;
    assert!(
        stranger
            .client
            .fetch_photo(&stranger.store, &stranger.buurt, &photo.hash)
            .await?
            .is_none()
    );
    Ok(())
}

/// The same journey with the `noaber` CLI, as an organiser on a laptop scripts it: a report
/// made offline with `--photo`, `noaber sync` on both stores (which uploads the photo after the
/// report), `noaber photo fetch` on the second — and the fetched file carries no GPS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_reports_with_a_photo_and_the_other_store_fetches_it_after_both_sync() -> TestResult
{
    let relay = InProcessRelay::start().await?;
    let (buurt, caretakers) = relay.buurt("De Linde", Role::Caretaker)?;
    let residents = relay.invite(&buurt, Role::Resident)?;
    let dir = tempfile::tempdir()?;
    let (care, ans) = (dir.path().join("care"), dir.path().join("ans"));
    let photo_file = dir.path().join("IMG_2041.jpg");
    std::fs::write(&photo_file, camera_photo(400_000))?;
    let url = relay.url.clone();
    let run = move |store: std::path::PathBuf, args: Vec<String>| {
        tokio::task::spawn_blocking(move || {
            let out = std::process::Command::new(noaber_e2e::cli_binary())
                .arg("--store")
                .arg(&store)
                .args(&args)
                .output()
                .unwrap();
            (
                out.status.code(),
                String::from_utf8_lossy(&out.stdout).into_owned(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        })
    };
    let args = |a: &[&str]| a.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    let ok = |r: (Option<i32>, String, String)| {
        assert_eq!(r.0, Some(0), "stdout: {}\nstderr: {}", r.1, r.2);
        r.1
    };

    // Offline first: the report and its photo exist before the store ever joined (acting in
    // the role the invite will give: the relay checks it).
    ok(run(care.clone(), args(&["whoami", "--role", "caretaker"])).await?);
    let id = ok(run(
        care.clone(),
        args(&[
            "report",
            "create",
            "--category",
            "lighting",
            "--lat",
            "52.0907",
            "--lon",
            "5.1214",
            "--photo",
            photo_file.to_str().unwrap(),
        ]),
    )
    .await?);
    let id = id.trim().to_owned();
    assert!(ok(run(care.clone(), args(&["status"])).await?).contains("waits for `noaber join`"));
    ok(run(
        care.clone(),
        args(&["join", &url, &caretakers, "--name", "Huismeester"]),
    )
    .await?);
    ok(run(
        ans.clone(),
        args(&["join", &url, &residents, "--name", "Ans"]),
    )
    .await?);

    let synced = ok(run(care.clone(), args(&["sync"])).await?);
    assert!(synced.contains("photos uploaded 1"), "{synced}");
    let status: serde_json::Value =
        serde_json::from_str(&ok(run(care.clone(), args(&["--json", "status"])).await?))?;
    assert_eq!(status["photo_uploads"][0]["state"], "done", "{status}");
    ok(run(ans.clone(), args(&["sync"])).await?);

    let shown: serde_json::Value = serde_json::from_str(&ok(run(
        ans.clone(),
        args(&["--json", "report", "show", &id]),
    )
    .await?))?;
    let hash = shown["photos"][0]["photo"]["hash"]
        .as_str()
        .expect("the report lists its photo")
        .to_owned();
    let out = dir.path().join("lamp.jpg");
    ok(run(
        ans.clone(),
        args(&["photo", "fetch", &hash, "--out", out.to_str().unwrap()]),
    )
    .await?);
    let fetched = std::fs::read(&out)?;
    assert_eq!(noaber_core::store::photos::sha256_hex(&fetched), hash);
    assert_eq!(holds_a_secret(&fetched), None);

    // A photo the relay does not hold: "pending", exit code 3.
    let unknown = "0".repeat(64);
    let (code, stdout, _) = run(
        ans.clone(),
        args(&["photo", "fetch", &unknown, "--out", out.to_str().unwrap()]),
    )
    .await?;
    assert_eq!(code, Some(3));
    assert!(stdout.contains("pending"), "{stdout}");
    Ok(())
}

/// A photo whose file disappeared from the device (cleared by hand, a broken SD card) is
/// marked refused with the reason instead of being retried for ever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_whose_file_is_gone_is_refused_not_retried_for_ever() -> TestResult {
    let relay = InProcessRelay::start().await?;
    let (_, caretakers) = relay.buurt("De Linde", Role::Caretaker)?;
    let care = Device::joined(&relay.url, &caretakers, "Huismeester").await?;
    let id = care
        .store
        .create_report(&NewReport::at("litter", 52.0, 5.0))?;
    let photo = care.store.attach_photo(&id, &camera_photo(300_000))?;
    care.sync().await?;
    let file = care
        .dir()
        .join("noaber.db.photos")
        .join(&photo.hash[..2])
        .join(&photo.hash);
    std::fs::remove_file(&file)?;
    let report = care
        .client
        .upload_photos(&care.store, &care.buurt, |_| {})
        .await?;
    assert_eq!(
        (report.completed, report.rejected, report.waiting),
        (0, 1, 0)
    );
    let q = care.store.photo_uploads()?;
    assert_eq!(q[0].state, UploadState::Rejected);
    assert!(
        q[0].last_error
            .as_deref()
            .unwrap_or("")
            .contains("no longer on this device")
    );
    // Nothing is due any more.
    let again = care
        .client
        .upload_photos(&care.store, &care.buurt, |_| {})
        .await?;
    assert_eq!(again, Default::default());
    Ok(())
}
