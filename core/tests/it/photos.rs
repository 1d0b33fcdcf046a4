//! Photos on the device: metadata stripped before anything is stored, content-addressed files
//! beside the database, the persistent upload queue, and the bounded cache.

use std::sync::Arc;

use noaber_core::model::report::NewReport;
use noaber_core::store::photos::UploadState;
use noaber_core::{Error, ManualClock, Result, Role, Store};

use crate::support::{Replica, T0, deliver};

/// A camera-like JPEG (`tests/fixtures/photos/`): EXIF with a GPS position, a body serial
/// number, the owner's name, times, an IFD1 thumbnail and orientation 6; an XMP packet with
/// the position again; a comment with a name and a street.
const CAMERA_JPG: &[u8] = include_bytes!("../../../tests/fixtures/photos/camera.jpg");
const CAMERA_PNG: &[u8] = include_bytes!("../../../tests/fixtures/photos/camera.png");
const CAMERA_WEBP: &[u8] = include_bytes!("../../../tests/fixtures/photos/camera.webp");

/// Byte strings that would give away the home, the camera or the person.
const SECRETS: &[&[u8]] = &[
    b"SN-HOME-4242",
    b"Ans de Vries",
    b"Lindelaan",
    b"NoaberCam",
    b"Basement 3000",
    b"2026:11:25",
    b"xmpmeta",
    b"GPS",
];

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn assert_clean(bytes: &[u8]) {
    for s in SECRETS {
        assert!(
            !contains(bytes, s),
            "`{}` survived",
            String::from_utf8_lossy(s)
        );
    }
    // The GPS latitude's rationals (52/1, 5/1, 4321/100) as EXIF writes them (big-endian, as
    // Pillow does): gone with the GPS IFD.
    assert!(!contains(
        bytes,
        &[0, 0, 0, 52, 0, 0, 0, 1, 0, 0, 0, 5, 0, 0, 0, 1]
    ));
}

fn report(r: &Replica) -> Result<noaber_core::EntityId> {
    r.store
        .create_report(&NewReport::at("lighting", 52.09, 5.12))
}

/// Every file under `dir`, recursively.
fn files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn a_camera_photo_is_stored_without_any_metadata_and_referenced_by_hash() -> Result<()> {
    let dir = tempfile::tempdir().map_err(|e| Error::Other(e.to_string()))?;
    let db = dir.path().join("noaber.db");
    let store = Store::open_with_clock(&db, Arc::new(ManualClock::new(T0)))?;
    store.set_identity(Role::Caretaker, None, None)?;
    let id = store.create_report(&NewReport::at("lighting", 52.09, 5.12))?;
    for (name, bytes, mime) in [
        ("jpeg", CAMERA_JPG, "image/jpeg"),
        ("png", CAMERA_PNG, "image/png"),
        ("webp", CAMERA_WEBP, "image/webp"),
    ] {
        let r = store.attach_photo(&id, bytes)?;
        assert_eq!(r.mime, mime, "{name}");
        assert_eq!((r.width, r.height), (96, 64), "{name}");
        let held = store.photo(&r.hash)?.expect("held");
        assert_eq!(held.mime, mime);
        assert_eq!(r.size, held.bytes.len() as u64);
        assert_eq!(noaber_core::store::photos::sha256_hex(&held.bytes), r.hash);
        assert_clean(&held.bytes);
        let info = noaber_core::photo::inspect(&held.bytes)?;
        assert!(
            info.metadata_found.is_empty(),
            "{name}: {:?}",
            info.metadata_found
        );
    }
    // The picture stays upright: the JPEG keeps orientation 6 (and nothing else).
    let jpeg = &store.report(&id)?.photos[0].photo;
    let held = store.photo(&jpeg.hash)?.expect("held");
    assert_eq!(noaber_core::photo::inspect(&held.bytes)?.orientation, 6);

    // On disk: the database and the photo files carry no trace either.
    let on_disk = files(dir.path());
    assert!(on_disk.len() >= 4, "{on_disk:?}");
    for f in on_disk {
        let bytes = std::fs::read(&f).map_err(|e| Error::Other(e.to_string()))?;
        for s in [
            &b"SN-HOME-4242"[..],
            b"Ans de Vries",
            b"Lindelaan",
            b"xmpmeta",
        ] {
            assert!(!contains(&bytes, s), "{} holds a secret", f.display());
        }
    }
    // The document holds the reference, never the bytes: the change is small.
    let changes = store.pending_changes(100)?;
    assert!(changes.iter().all(|c| c.bytes.len() < 1_000));
    Ok(())
}

#[test]
fn bad_photos_are_refused_with_a_clear_error_and_change_nothing() -> Result<()> {
    let r = Replica::new(Role::Resident)?;
    let id = report(&r)?;
    let before = r.store.pending_changes(100)?.len();
    for (what, bytes) in [
        ("empty", Vec::new()),
        ("text", b"just some text, not a picture".to_vec()),
        ("gif", b"GIF89a\x01\x00\x01\x00\x00\x00\x00;".to_vec()),
        ("truncated", CAMERA_JPG[..CAMERA_JPG.len() / 3].to_vec()),
        ("too large", {
            let mut b = CAMERA_JPG.to_vec();
            b.resize(15_000_001, 0);
            b
        }),
    ] {
        match r.store.attach_photo(&id, &bytes) {
            Err(Error::InvalidInput { field: "photo", .. }) => {}
            other => panic!("{what}: {other:?}"),
        }
    }
    assert_eq!(r.store.pending_changes(100)?.len(), before);
    assert!(r.store.photo_uploads()?.is_empty());
    assert!(r.store.report(&id)?.photos.is_empty());
    // A neighbour who is not the reporter nor a working role may not attach.
    let other = Replica::new(Role::Resident)?;
    deliver(&r, &other)?;
    assert!(matches!(
        other.store.attach_photo(&id, CAMERA_JPG),
        Err(Error::NotAllowed { .. })
    ));
    assert!(other.store.photo_uploads()?.is_empty());
    Ok(())
}

#[test]
fn the_upload_queue_persists_resumes_backs_off_and_finishes() -> Result<()> {
    let dir = tempfile::tempdir().map_err(|e| Error::Other(e.to_string()))?;
    let db = dir.path().join("noaber.db");
    let clock = Arc::new(ManualClock::new(T0));
    let hash;
    let id;
    {
        let store = Store::open_with_clock(&db, clock.clone())?;
        id = store.create_report(&NewReport::at("graffiti", 52.0, 5.0))?;
        hash = store.attach_photo(&id, CAMERA_JPG)?.hash;
        // Attaching the same picture again is a no-op.
        assert_eq!(store.attach_photo(&id, CAMERA_JPG)?.hash, hash);
        let q = store.photo_uploads()?;
        assert_eq!(q.len(), 1);
        assert_eq!(
            (q[0].sent, q[0].state, q[0].buurt.clone()),
            (0, UploadState::Pending, None)
        );
        // Not joined yet: nothing is due for any buurt.
        assert!(store.due_photo_uploads("b")?.is_empty());
        store.photo_upload_progress(&hash, 1_000, false)?;
    }
    // After a restart the queue and the acknowledged offset are still there.
    let store = Store::open_with_clock(&db, clock.clone())?;
    let q = store.photo_uploads()?;
    assert_eq!((q.len(), q[0].sent), (1, 1_000));
    assert_eq!(store.photo_chunk(&hash, 1_000, 16)?, {
        let held = store.photo(&hash)?.expect("held").bytes;
        held[1_000..1_016].to_vec()
    });
    // Failures back off, growing.
    let w1 = store.photo_upload_failed(&hash, &Error::Network("cut".into()))?;
    let w2 = store.photo_upload_failed(&hash, &Error::Network("cut".into()))?;
    assert!(w2 > w1 || w2.as_secs() >= 2, "{w1:?} then {w2:?}");
    let q = store.photo_uploads()?;
    assert_eq!(q[0].attempts, 2);
    assert!(q[0].next_attempt_at > T0);
    assert_eq!(q[0].last_error.as_deref(), Some("network: cut"));
    // Done: state and offset recorded, errors cleared.
    store.photo_upload_progress(&hash, q[0].size, true)?;
    let q = store.photo_uploads()?;
    assert_eq!(
        (q[0].state, q[0].sent, q[0].attempts),
        (UploadState::Done, q[0].size, 0)
    );
    // A day later the done upload leaves the list.
    clock.advance(86_400_001);
    assert!(store.photo_uploads()?.is_empty());
    Ok(())
}

#[test]
fn automatic_retries_wait_for_the_backoff_and_an_explicit_one_does_not() -> Result<()> {
    let clock = Arc::new(ManualClock::new(T0));
    let store = Store::open_in_memory(clock.clone())?;
    let id = store.create_report(&NewReport::at("graffiti", 52.0, 5.0))?;
    let hash = store.attach_photo(&id, CAMERA_JPG)?.hash;
    // Joining assigns the report (made before) to the buurt, and with it its photo.
    let me = store.identity().member;
    let b = store.join_buurt(
        "http://relay.invalid",
        &noaber_core::sync::wire::JoinResponse {
            v: 1,
            buurt: "b".repeat(32),
            buurt_name: "De Linde".into(),
            member: me.to_string(),
            role: "resident".into(),
            device: "d".repeat(32),
            token: "s".repeat(40),
        },
    )?;
    assert!(
        store.due_photo_uploads("other")?.is_empty(),
        "another buurt's relay"
    );
    let due = store.due_photo_uploads(&b.id)?;
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].buurt.as_deref(), Some(b.id.as_str()));
    let wait = store.photo_upload_failed(&hash, &Error::Network("offline".into()))?;
    assert!(store.due_photo_uploads(&b.id)?.is_empty(), "backing off");
    assert_eq!(
        store.pending_photo_uploads(&b.id)?.len(),
        1,
        "sync now ignores it"
    );
    clock.advance(i64::try_from(wait.as_millis()).unwrap_or(i64::MAX));
    assert_eq!(store.due_photo_uploads(&b.id)?.len(), 1, "due again");
    // Refused for good: neither list offers it again.
    store.photo_upload_rejected(&hash, "photo_rejected", "not a photo")?;
    assert!(store.pending_photo_uploads(&b.id)?.is_empty());
    assert_eq!(store.photo_uploads()?[0].state, UploadState::Rejected);
    Ok(())
}

#[test]
fn the_cache_stays_within_its_bound_and_never_evicts_an_unsent_photo() -> Result<()> {
    let dir = tempfile::tempdir().map_err(|e| Error::Other(e.to_string()))?;
    let clock = Arc::new(ManualClock::new(T0));
    let store = Store::open_with_clock(dir.path().join("noaber.db"), clock.clone())?;
    store.set_identity(Role::Caretaker, None, None)?;
    let id = store.create_report(&NewReport::at("litter", 52.0, 5.0))?;
    let taken = store.attach_photo(&id, CAMERA_JPG)?;
    // Three "downloaded" photos (clean bytes another device uploaded).
    let mut fetched = Vec::new();
    for src in [CAMERA_PNG, CAMERA_WEBP] {
        let clean = noaber_core::photo::clean(src)?.bytes;
        let hash = noaber_core::store::photos::sha256_hex(&clean);
        clock.advance(1_000);
        store.store_fetched_photo(&hash, &clean)?;
        fetched.push((hash, clean.len() as u64));
    }
    assert!(store.photo(&fetched[0].0)?.is_some());
    clock.advance(1_000);
    // Touch the first so the second is the least recently used.
    assert!(store.photo(&fetched[0].0)?.is_some());
    // A limit that fits the taken photo and one fetched one.
    let limit = taken.size + fetched[0].1.max(fetched[1].1);
    store.set_photo_cache_limit(limit)?;
    assert!(store.photo_bytes_held()? <= limit);
    assert!(
        store.photo(&fetched[1].0)?.is_none(),
        "least recently used goes first"
    );
    assert!(store.photo(&fetched[0].0)?.is_some());
    // A limit of zero still keeps the photo that has not been uploaded.
    store.set_photo_cache_limit(0)?;
    assert!(store.photo(&taken.hash)?.is_some());
    assert!(store.photo(&fetched[0].0)?.is_none());
    assert_eq!(store.photo_bytes_held()?, taken.size);
    // Once uploaded, it may go too.
    store.photo_upload_progress(&taken.hash, taken.size, true)?;
    store.set_photo_cache_limit(0)?;
    assert!(store.photo(&taken.hash)?.is_none());
    assert_eq!(store.photo_bytes_held()?, 0);
    Ok(())
}

#[test]
fn files_without_a_row_are_swept_once_an_hour_old_never_sooner() -> Result<()> {
    let dir = tempfile::tempdir().map_err(|e| Error::Other(e.to_string()))?;
    let db = dir.path().join("noaber.db");
    let store = Store::open_with_clock(&db, Arc::new(ManualClock::new(T0)))?;
    let id = store.create_report(&NewReport::at("litter", 52.0, 5.0))?;
    let kept = store.attach_photo(&id, CAMERA_JPG)?;
    let photos = dir.path().join("noaber.db.photos");
    let orphan = |hash: &str, age_secs: u64| -> Result<std::path::PathBuf> {
        let sub = photos.join(&hash[..2]);
        std::fs::create_dir_all(&sub).map_err(|e| Error::Other(e.to_string()))?;
        let path = sub.join(hash);
        let f = std::fs::File::create(&path).map_err(|e| Error::Other(e.to_string()))?;
        let then = std::time::SystemTime::now() - std::time::Duration::from_secs(age_secs);
        f.set_modified(then)
            .map_err(|e| Error::Other(e.to_string()))?;
        Ok(path)
    };
    // Left by an attach killed between its file and its transaction, two hours ago…
    let old = orphan(&"1".repeat(64), 7_200)?;
    // …and one an attach on another thread is writing right now.
    let fresh = orphan(&"2".repeat(64), 1)?;
    let tmp = photos.join(&kept.hash[..2]).join(".tmp-0123456789abcdef");
    std::fs::write(&tmp, b"half").map_err(|e| Error::Other(e.to_string()))?;
    store.set_photo_cache_limit(1_000_000)?; // an eviction pass
    assert!(!old.exists(), "an old orphan is swept");
    assert!(
        fresh.exists(),
        "a file that may be about to be recorded stays"
    );
    assert!(tmp.exists(), "a temporary file being written stays");
    assert!(store.photo(&kept.hash)?.is_some(), "a recorded photo stays");
    Ok(())
}

#[test]
fn downloaded_bytes_must_match_their_hash_and_be_clean() -> Result<()> {
    let r = Replica::new(Role::Resident)?;
    let clean = noaber_core::photo::clean(CAMERA_JPG)?.bytes;
    let hash = noaber_core::store::photos::sha256_hex(&clean);
    let wrong = noaber_core::store::photos::sha256_hex(b"something else");
    assert!(matches!(
        r.store.store_fetched_photo(&wrong, &clean),
        Err(Error::InvalidInput { field: "photo", .. })
    ));
    // A relay (or an old client) that passes on the original with its metadata: refused.
    let dirty_hash = noaber_core::store::photos::sha256_hex(CAMERA_JPG);
    assert!(matches!(
        r.store.store_fetched_photo(&dirty_hash, CAMERA_JPG),
        Err(Error::InvalidInput { field: "photo", .. })
    ));
    assert!(r.store.photo(&dirty_hash)?.is_none());
    assert!(matches!(
        r.store.photo("not-a-hash"),
        Err(Error::InvalidInput { field: "hash", .. })
    ));
    r.store.store_fetched_photo(&hash, &clean)?;
    assert_eq!(r.store.photo(&hash)?.map(|p| p.bytes), Some(clean));
    Ok(())
}
