//! The checks every [`BlobStore`] must pass, run by each implementation's tests.
//!
//! Each check takes a way to open the store — called again to play a relay that restarted on
//! the same directory or database — and pins one promise of the trait's contract.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

use super::{BlobHash, BlobStore, CompleteError};
use crate::ids::DeviceId;

pub(crate) type Outcome = Result<(), Box<dyn std::error::Error>>;

/// Opens the store under test (again: the same directory or database).
pub(crate) type Open<'a> = &'a dyn Fn() -> Box<dyn BlobStore>;

/// Generates one `#[test]` per check for the store `$open` (an expression of type `Open`)
/// makes; `$open` is evaluated once per test.
macro_rules! suite {
    ($open:expr) => {
        $crate::blob::conformance::suite!(@each $open;
            chunks_complete_into_one_photo_read_in_any_range,
            a_wrong_hash_or_a_non_image_is_refused_and_discarded,
            a_crash_halfway_leaves_the_partial_upload_never_half_a_photo,
            old_partial_uploads_are_discarded_new_ones_kept,
            two_devices_uploading_one_photo_store_it_once,
            uploads_of_devices_and_photos_are_apart,
        );
    };
    (@each $open:expr; $($check:ident),* $(,)?) => {
        $(
            #[test]
            fn $check() -> $crate::blob::conformance::Outcome {
                let open = $open;
                $crate::blob::conformance::$check(&open)
            }
        )*
    };
}
pub(crate) use suite;

/// A real, metadata-free JPEG of `len` bytes: the cleaned fixture with a longer scan.
pub(crate) fn jpeg(len: usize) -> Vec<u8> {
    let camera = include_bytes!("../../../tests/fixtures/photos/camera.jpg");
    let mut b = noaber_core::photo::clean(camera).unwrap().bytes;
    b.truncate(b.len() - 2); // the end-of-image marker, put back below
    b.extend((0..len - b.len() - 2).map(|i| (i * 7 % 251) as u8));
    b.extend_from_slice(&[0xFF, 0xD9]);
    b
}

pub(crate) fn hash_of(bytes: &[u8]) -> BlobHash {
    BlobHash(Sha256::digest(bytes).into())
}

/// `len` bytes of `hash` from `start`, read to the end on a runtime of its own.
pub(crate) fn read_all(s: &dyn BlobStore, h: &BlobHash, start: u64, len: u64) -> Vec<u8> {
    let mut r = s.read(h, start, len).unwrap().expect("the photo is stored");
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async move {
        let mut out = Vec::new();
        r.read_to_end(&mut out).await.unwrap();
        out
    })
}

fn upload(s: &dyn BlobStore, d: &DeviceId, bytes: &[u8], chunk: usize) -> Outcome {
    let h = hash_of(bytes);
    for (i, piece) in bytes.chunks(chunk).enumerate() {
        s.write_chunk(d, &h, (i * chunk) as u64, piece)?;
    }
    Ok(())
}

pub(crate) fn chunks_complete_into_one_photo_read_in_any_range(open: Open) -> Outcome {
    let s = open();
    let d = DeviceId::new()?;
    // Longer than a streamed read's piece, in chunks that do not line up with pieces.
    let bytes = jpeg(700_000);
    let h = hash_of(&bytes);
    upload(&*s, &d, &bytes, 70_001)?;
    assert_eq!(s.partial_len(&d, &h)?, 700_000);
    assert_eq!(s.stored_len(&h)?, None, "not a photo before it is complete");
    assert!(s.read(&h, 0, 1)?.is_none());
    assert_eq!(s.head(&h, 3)?, None);
    assert_eq!(s.complete(&d, &h, 700_000)?, "image/jpeg");
    assert_eq!(s.partial_len(&d, &h)?, 0);
    assert_eq!(s.stored_len(&h)?, Some(700_000));
    assert_eq!(read_all(&*s, &h, 0, 700_000), bytes);
    for (start, len) in [
        (10, 5),
        (70_000, 3),
        (69_990, 300_000),
        (699_999, 1),
        (0, 1),
    ] {
        let (a, b) = (start as usize, (start + len) as usize);
        assert_eq!(read_all(&*s, &h, start, len), &bytes[a..b], "{start}+{len}");
    }
    assert_eq!(s.head(&h, 3)?, Some(vec![0xFF, 0xD8, 0xFF]));
    assert_eq!(s.head(&h, 1_000_000)?.map(|b| b.len()), Some(700_000));
    // A restarted relay finds it.
    let again = open();
    assert_eq!(again.stored_len(&h)?, Some(700_000));
    assert_eq!(read_all(&*again, &h, 0, 700_000), bytes);
    Ok(())
}

pub(crate) fn a_wrong_hash_or_a_non_image_is_refused_and_discarded(open: Open) -> Outcome {
    let s = open();
    let d = DeviceId::new()?;
    let bytes = jpeg(2_000);
    let wrong = hash_of(b"something else");
    s.write_chunk(&d, &wrong, 0, &bytes)?;
    assert!(matches!(
        s.complete(&d, &wrong, 2_000),
        Err(CompleteError::HashMismatch)
    ));
    assert_eq!(s.partial_len(&d, &wrong)?, 0);
    assert_eq!(s.stored_len(&wrong)?, None);
    let text = b"just some text, no image".to_vec();
    let h = hash_of(&text);
    s.write_chunk(&d, &h, 0, &text)?;
    assert!(matches!(
        s.complete(&d, &h, text.len() as u64),
        Err(CompleteError::Rejected(_))
    ));
    assert_eq!((s.partial_len(&d, &h)?, s.stored_len(&h)?), (0, None));
    // A photo still carrying its camera's metadata: refused too.
    let dirty = include_bytes!("../../../tests/fixtures/photos/camera.jpg");
    let h = hash_of(dirty);
    s.write_chunk(&d, &h, 0, dirty)?;
    let Err(CompleteError::Rejected(why)) = s.complete(&d, &h, dirty.len() as u64) else {
        panic!("a photo with metadata was accepted");
    };
    assert!(why.contains("metadata"), "{why}");
    assert_eq!((s.partial_len(&d, &h)?, s.stored_len(&h)?), (0, None));
    Ok(())
}

/// A crash mid-upload leaves the partial upload and no photo under the hash. A relay
/// reopening the store sees exactly that; bytes written past the acknowledged offset are cut
/// off when the device resumes there, and the upload completes.
pub(crate) fn a_crash_halfway_leaves_the_partial_upload_never_half_a_photo(open: Open) -> Outcome {
    let d = DeviceId::new()?;
    let bytes = jpeg(30_000);
    let h = hash_of(&bytes);
    {
        let s = open();
        s.write_chunk(&d, &h, 0, &bytes[..10_000])?;
        // The next chunks reached the store but (the crash) their offset was never recorded.
        s.write_chunk(&d, &h, 10_000, &bytes[10_000..12_000])?;
        s.write_chunk(&d, &h, 12_000, &bytes[12_000..15_000])?;
    }
    let s = open();
    assert_eq!(s.stored_len(&h)?, None);
    assert!(s.read(&h, 0, 1)?.is_none());
    assert_eq!(s.partial_len(&d, &h)?, 15_000);
    // Completing a short upload is an error, and publishes or discards nothing.
    assert!(matches!(
        s.complete(&d, &h, 30_000),
        Err(CompleteError::Io(_))
    ));
    assert_eq!(s.stored_len(&h)?, None);
    assert_eq!(s.partial_len(&d, &h)?, 15_000);
    // The device resumes from the recorded offset, 11 000: inside a stored chunk.
    s.write_chunk(&d, &h, 11_000, &bytes[11_000..20_000])?;
    assert_eq!(s.partial_len(&d, &h)?, 20_000);
    let past = s.write_chunk(&d, &h, 40_000, b"x").unwrap_err();
    assert_eq!(past.kind(), std::io::ErrorKind::InvalidInput);
    assert_eq!(
        s.partial_len(&d, &h)?,
        20_000,
        "a refused chunk changes nothing"
    );
    s.write_chunk(&d, &h, 20_000, &bytes[20_000..30_000])?;
    assert_eq!(s.complete(&d, &h, 30_000)?, "image/jpeg");
    assert_eq!(s.stored_len(&h)?, Some(30_000));
    assert_eq!(read_all(&*s, &h, 0, 30_000), bytes);
    // Nothing to resume: a chunk past 0 of an upload that does not exist is refused.
    let other = hash_of(b"never started");
    assert!(s.write_chunk(&d, &other, 5, b"x").is_err());
    assert_eq!(s.partial_len(&d, &other)?, 0);
    Ok(())
}

pub(crate) fn old_partial_uploads_are_discarded_new_ones_kept(open: Open) -> Outcome {
    let s = open();
    let (d, h_old, h_new) = (DeviceId::new()?, hash_of(b"a"), hash_of(b"b"));
    s.write_chunk(&d, &h_old, 0, b"old")?;
    // Not a wait for anything: the stores date uploads by the wall clock, so the cut-off must
    // fall strictly between the two writes.
    std::thread::sleep(Duration::from_millis(30));
    let cutoff = SystemTime::now();
    std::thread::sleep(Duration::from_millis(30));
    s.write_chunk(&d, &h_new, 0, b"new")?;
    assert_eq!(s.discard_partials_before(cutoff)?, 1);
    assert_eq!(
        (s.partial_len(&d, &h_old)?, s.partial_len(&d, &h_new)?),
        (0, 3)
    );
    assert_eq!(s.discard_partials_before(cutoff)?, 0);
    s.discard(&d, &h_new)?;
    assert_eq!(s.partial_len(&d, &h_new)?, 0);
    s.discard(&d, &h_new)?; // discarding nothing is fine
    Ok(())
}

/// Two devices (possibly behind two relays) upload the same photo in different chunk sizes and
/// both complete: the photo is stored once and reads back whole.
pub(crate) fn two_devices_uploading_one_photo_store_it_once(open: Open) -> Outcome {
    let s = open();
    let (a, b) = (DeviceId::new()?, DeviceId::new()?);
    let bytes = jpeg(300_000);
    let h = hash_of(&bytes);
    upload(&*s, &a, &bytes, 100_000)?;
    upload(&*s, &b, &bytes, 64_000)?;
    std::thread::scope(|scope| {
        let done: Vec<_> = [&a, &b]
            .map(|d| {
                let s = &*s;
                let h = &h;
                scope.spawn(move || s.complete(d, h, 300_000).map_err(|e| e.to_string()))
            })
            .into_iter()
            .map(|t| t.join().unwrap())
            .collect();
        assert_eq!(done, vec![Ok("image/jpeg"), Ok("image/jpeg")]);
    });
    assert_eq!(s.stored_len(&h)?, Some(300_000));
    assert_eq!(read_all(&*s, &h, 0, 300_000), bytes);
    assert_eq!(read_all(&*s, &h, 99_000, 2_000), &bytes[99_000..101_000]);
    Ok(())
}

pub(crate) fn uploads_of_devices_and_photos_are_apart(open: Open) -> Outcome {
    let s = open();
    let (a, b) = (DeviceId::new()?, DeviceId::new()?);
    let (p, q) = (jpeg(5_000), jpeg(6_000));
    let (hp, hq) = (hash_of(&p), hash_of(&q));
    s.write_chunk(&a, &hp, 0, &p[..1_000])?;
    s.write_chunk(&a, &hq, 0, &q[..2_000])?;
    s.write_chunk(&b, &hp, 0, &p[..3_000])?;
    assert_eq!(s.partial_len(&a, &hp)?, 1_000);
    assert_eq!(s.partial_len(&a, &hq)?, 2_000);
    assert_eq!(s.partial_len(&b, &hp)?, 3_000);
    assert_eq!(s.partial_len(&b, &hq)?, 0);
    s.discard(&a, &hp)?;
    assert_eq!(
        (s.partial_len(&a, &hp)?, s.partial_len(&b, &hp)?),
        (0, 3_000)
    );
    Ok(())
}
