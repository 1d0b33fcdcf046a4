//! Report photos: camera-like files carrying GPS, serial, time, XMP, IPTC, thumbnails and
//! trailers lose all of it, keep their orientation and their exact pixels; hostile bytes give
//! errors, never panics (the stable mirror of `fuzz/fuzz_targets/photo_clean.rs`).

use std::io::Cursor;
use std::sync::LazyLock;

use exif::experimental::Writer;
use exif::{Field, In, Rational, Tag, Value};
use image::{ExtendedColorType, ImageEncoder};
use noaber_core::photo::{self, MAX_PHOTO_BYTES, MediaType, PhotoError, found};
use proptest::prelude::*;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const SERIAL: &str = "SERIAL-SECRET-4242";
const MAKE: &str = "NoaberCam Marker";
const DATE: &str = "2026:11:25 12:34:56";
const LAT_SECONDS: Rational = Rational {
    num: 1234,
    denom: 100,
};
const LONG_SECONDS: Rational = Rational {
    num: 5678,
    denom: 100,
};
const XMP: &[u8] = b"http://ns.adobe.com/xap/1.0/\0<x:xmpmeta xmlns:x=\"adobe:ns:meta/\">\
<rdf:RDF><exif:GPSLatitude>52,22.2057N</exif:GPSLatitude></rdf:RDF></x:xmpmeta>";
const COMMENT: &[u8] = b"taken at the marker person's home";
const TRAILER: &[u8] = b"TRAILING-SECRET";

/// Strings and bytes none of which may survive cleaning.
fn secrets() -> Vec<Vec<u8>> {
    let rational = |r: Rational| [r.num.to_le_bytes(), r.denom.to_le_bytes()].concat();
    let rational_be = |r: Rational| [r.num.to_be_bytes(), r.denom.to_be_bytes()].concat();
    vec![
        SERIAL.into(),
        MAKE.into(),
        DATE.into(),
        b"x:xmpmeta".to_vec(),
        b"Photoshop 3.0".to_vec(),
        b"Marker Person".to_vec(),
        b"marker person".to_vec(),
        b"JFXX".to_vec(),
        b"MPF\0".to_vec(),
        TRAILER.into(),
        rational(LAT_SECONDS),
        rational(LONG_SECONDS),
        rational_be(LAT_SECONDS),
        rational_be(LONG_SECONDS),
    ]
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn count(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .filter(|w| *w == needle)
        .count()
}

/// A 48×32 picture with enough structure that a wrong byte would show.
fn pixels(w: u32, h: u32) -> Vec<u8> {
    (0..h)
        .flat_map(|y| (0..w).flat_map(move |x| [(x * 5) as u8, (y * 7) as u8, (x ^ y) as u8, 255]))
        .collect()
}

fn encode_jpeg(w: u32, h: u32) -> Vec<u8> {
    let rgb: Vec<u8> = pixels(w, h)
        .chunks(4)
        .flat_map(|p| [p[0], p[1], p[2]])
        .collect();
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
        .write_image(&rgb, w, h, ExtendedColorType::Rgb8)
        .unwrap();
    out
}

/// A camera's EXIF (TIFF, little-endian like most cameras): Make/Model, Orientation 6,
/// DateTimeOriginal, BodySerialNumber, a GPS position and, with `thumbnail`, an IFD1 JPEG.
fn camera_tiff(thumbnail: Option<&[u8]>) -> Vec<u8> {
    let ascii = |tag, s: &str, ifd| Field {
        tag,
        ifd_num: ifd,
        value: Value::Ascii(vec![s.as_bytes().to_vec()]),
    };
    let fields = [
        ascii(Tag::Make, MAKE, In::PRIMARY),
        ascii(Tag::Model, "NC-1 Model", In::PRIMARY),
        Field {
            tag: Tag::Orientation,
            ifd_num: In::PRIMARY,
            value: Value::Short(vec![6]),
        },
        ascii(Tag::DateTimeOriginal, DATE, In::PRIMARY),
        ascii(Tag::BodySerialNumber, SERIAL, In::PRIMARY),
        ascii(Tag::GPSLatitudeRef, "N", In::PRIMARY),
        Field {
            tag: Tag::GPSLatitude,
            ifd_num: In::PRIMARY,
            value: Value::Rational(vec![
                Rational { num: 52, denom: 1 },
                Rational { num: 22, denom: 1 },
                LAT_SECONDS,
            ]),
        },
        ascii(Tag::GPSLongitudeRef, "E", In::PRIMARY),
        Field {
            tag: Tag::GPSLongitude,
            ifd_num: In::PRIMARY,
            value: Value::Rational(vec![
                Rational { num: 4, denom: 1 },
                Rational { num: 53, denom: 1 },
                LONG_SECONDS,
            ]),
        },
        Field {
            tag: Tag::Compression,
            ifd_num: In::THUMBNAIL,
            value: Value::Short(vec![6]),
        },
    ];
    let mut writer = Writer::new();
    let n = if thumbnail.is_some() {
        fields.len()
    } else {
        fields.len() - 1
    };
    for f in &fields[..n] {
        writer.push_field(f);
    }
    if let Some(t) = thumbnail {
        writer.set_jpeg(t, In::THUMBNAIL);
    }
    let mut buf = Cursor::new(Vec::new());
    writer.write(&mut buf, true).unwrap();
    buf.into_inner()
}

fn jpeg_segment(marker: u8, payload: &[u8]) -> Vec<u8> {
    let len = u16::try_from(payload.len() + 2).unwrap();
    let mut v = vec![0xFF, marker];
    v.extend_from_slice(&len.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

struct Sample {
    dirty: Vec<u8>,
    /// Compressed image data that must come through byte for byte.
    image_data: Vec<u8>,
    /// Segments or chunks that must be kept.
    kept: Vec<Vec<u8>>,
}

static THUMB: LazyLock<Vec<u8>> = LazyLock::new(|| encode_jpeg(16, 8));

/// A phone-like JPEG: SOI, APP1 EXIF (with IFD1 thumbnail), APP1 XMP, JFIF APP0 with a
/// 1×1 thumbnail, APP0 JFXX, APP2 ICC, APP2 MPF, APP13 IPTC, COM, the image, then an MPF
/// secondary image and a trailer after EOI.
static JPEG: LazyLock<Sample> = LazyLock::new(|| {
    let encoded = encode_jpeg(48, 32);
    // Skip the encoder's SOI and its APP0 JFIF when it wrote one.
    let mut body = &encoded[2..];
    if body.starts_with(&[0xFF, 0xE0]) {
        let len = usize::from(u16::from_be_bytes([body[2], body[3]]));
        body = &body[2 + len..];
    }
    let mut exif = b"Exif\0\0".to_vec();
    exif.extend(camera_tiff(Some(&THUMB)));
    let mut iptc = b"Photoshop 3.0\08BIM\x04\x04\0\0".to_vec();
    let record = [&[0x1C, 0x02, 0x50, 0x00, 13][..], b"Marker Person"].concat();
    iptc.extend_from_slice(&(record.len() as u32).to_be_bytes());
    iptc.extend(record);
    let icc = b"ICC_PROFILE\0\x01\x01not-a-real-profile".to_vec();
    let mut jfif = b"JFIF\0\x01\x01\0\0\x48\0\x48\x01\x01".to_vec();
    jfif.extend_from_slice(&[200, 10, 10]);
    let mut jfxx = b"JFXX\0\x10".to_vec();
    jfxx.extend_from_slice(&THUMB);

    let mut dirty = vec![0xFF, 0xD8];
    dirty.extend(jpeg_segment(0xE1, &exif));
    dirty.extend(jpeg_segment(0xE1, XMP));
    dirty.extend(jpeg_segment(0xE0, &jfif));
    dirty.extend(jpeg_segment(0xE0, &jfxx));
    dirty.extend(jpeg_segment(0xE2, &icc));
    dirty.extend(jpeg_segment(0xE2, b"MPF\0MM\0*\0\0\0\x08"));
    dirty.extend(jpeg_segment(0xED, &iptc));
    dirty.extend(jpeg_segment(0xFE, COMMENT));
    dirty.extend_from_slice(body);
    dirty.extend_from_slice(&THUMB);
    dirty.extend_from_slice(TRAILER);
    Sample {
        dirty,
        image_data: body.to_vec(),
        kept: vec![jpeg_segment(0xE2, &icc)],
    }
});

fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut v = u32::try_from(data.len()).unwrap().to_be_bytes().to_vec();
    v.extend_from_slice(kind);
    v.extend_from_slice(data);
    let mut crc = flate2::Crc::new();
    crc.update(kind);
    crc.update(data);
    v.extend_from_slice(&crc.sum().to_be_bytes());
    v
}

/// A PNG with eXIf (camera EXIF), tEXt, zTXt, iTXt XMP, tIME, a kept gAMA, and a trailer.
static PNG: LazyLock<Sample> = LazyLock::new(|| {
    let mut encoded = Vec::new();
    image::codecs::png::PngEncoder::new(&mut encoded)
        .write_image(&pixels(40, 30), 40, 30, ExtendedColorType::Rgba8)
        .unwrap();
    let ihdr_end = 8 + 25;
    let gama = png_chunk(b"gAMA", &45455_u32.to_be_bytes());
    let mut dirty = encoded[..ihdr_end].to_vec();
    dirty.extend(png_chunk(b"eXIf", &camera_tiff(None)));
    dirty.extend(png_chunk(b"tEXt", b"Author\0Marker Person"));
    dirty.extend(png_chunk(b"zTXt", b"Comment\0\0x\x9c\x03\0\0\0\0\x01"));
    let mut itxt = b"XML:com.adobe.xmp\0\0\0\0\0".to_vec();
    itxt.extend_from_slice(&XMP[29..]);
    dirty.extend(png_chunk(b"iTXt", &itxt));
    dirty.extend(png_chunk(b"tIME", &[0x07, 0xEA, 11, 25, 12, 34, 56]));
    dirty.extend_from_slice(&gama);
    dirty.extend_from_slice(&encoded[ihdr_end..]);
    dirty.extend_from_slice(TRAILER);
    let idat_at = encoded.windows(4).position(|w| w == b"IDAT").unwrap() - 4;
    Sample {
        dirty,
        image_data: encoded[idat_at..].to_vec(),
        kept: vec![gama],
    }
});

fn riff_chunk(fourcc: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut v = fourcc.to_vec();
    v.extend_from_slice(&u32::try_from(data.len()).unwrap().to_le_bytes());
    v.extend_from_slice(data);
    if data.len() % 2 == 1 {
        v.push(0);
    }
    v
}

/// An extended WebP: VP8X (alpha, EXIF, XMP flags), the lossless bitstream from the image
/// crate, an EXIF chunk (camera EXIF with the `Exif\0\0` prefix some writers use), an XMP
/// chunk, and a trailer after the RIFF end.
static WEBP: LazyLock<Sample> = LazyLock::new(|| {
    let (w, h) = (36_u32, 20_u32);
    let mut encoded = Vec::new();
    image::codecs::webp::WebPEncoder::new_lossless(&mut encoded)
        .write_image(&pixels(w, h), w, h, ExtendedColorType::Rgba8)
        .unwrap();
    assert_eq!(
        &encoded[12..16],
        b"VP8L",
        "the encoder writes a simple lossless file"
    );
    let vp8l = encoded[12..].to_vec();
    let mut vp8x = vec![0x10 | 0x08 | 0x04, 0, 0, 0];
    vp8x.extend_from_slice(&(w - 1).to_le_bytes()[..3]);
    vp8x.extend_from_slice(&(h - 1).to_le_bytes()[..3]);
    let mut exif = b"Exif\0\0".to_vec();
    exif.extend(camera_tiff(Some(&THUMB)));
    let mut body = b"WEBP".to_vec();
    body.extend(riff_chunk(b"VP8X", &vp8x));
    body.extend_from_slice(&vp8l);
    body.extend(riff_chunk(b"EXIF", &exif));
    body.extend(riff_chunk(b"XMP ", &XMP[29..]));
    let mut dirty = b"RIFF".to_vec();
    dirty.extend_from_slice(&u32::try_from(body.len()).unwrap().to_le_bytes());
    dirty.extend(body);
    dirty.extend_from_slice(TRAILER);
    Sample {
        dirty,
        image_data: vp8l,
        kept: vec![],
    }
});

fn rgba(bytes: &[u8]) -> Vec<u8> {
    image::load_from_memory(bytes)
        .unwrap()
        .to_rgba8()
        .into_raw()
}

/// Everything the brief asks of one cleaned sample.
fn check_sample(
    s: &Sample,
    media_type: MediaType,
    dims: (u32, u32),
    dirty_found: &[&str],
) -> TestResult {
    let before = photo::inspect(&s.dirty)?;
    assert_eq!(before.media_type, media_type);
    assert_eq!((before.width, before.height), dims);
    assert_eq!(before.orientation, 6);
    for what in dirty_found {
        assert!(
            before.metadata_found.contains(what),
            "{what} not flagged: {before:?}"
        );
    }
    let lat = [
        LAT_SECONDS.num.to_le_bytes(),
        LAT_SECONDS.denom.to_le_bytes(),
    ]
    .concat();
    for carried in [
        SERIAL.as_bytes(),
        DATE.as_bytes(),
        &lat,
        b"x:xmpmeta",
        TRAILER,
    ] {
        assert!(
            contains(&s.dirty, carried),
            "the sample should carry {carried:?}"
        );
    }

    let cleaned = photo::clean(&s.dirty)?;
    assert_eq!(cleaned.media_type, media_type);
    assert_eq!(cleaned.media_type.as_mime(), before.media_type.as_mime());
    assert_eq!((cleaned.width, cleaned.height), dims);
    assert_eq!(cleaned.orientation, 6);
    let out = &cleaned.bytes;
    for secret in secrets() {
        assert!(
            !contains(out, &secret),
            "{:?} survived",
            String::from_utf8_lossy(&secret)
        );
    }
    assert!(!contains(out, &THUMB), "the thumbnail survived");
    assert!(
        contains(out, &s.image_data),
        "the compressed image data changed"
    );
    for kept in &s.kept {
        assert!(contains(out, kept), "a rendering segment was dropped");
    }
    // The only EXIF is the orientation block: big-endian, IFD0 with one entry, no IFD1.
    let minimal: &[u8] = b"MM\0\x2a\0\0\0\x08\0\x01\x01\x12\0\x03\0\0\0\x01\0\x06\0\0\0\0\0\0";
    assert_eq!(count(out, minimal), 1);
    assert!(count(out, b"Exif") <= 1);
    if media_type == MediaType::Jpeg {
        assert_eq!(count(out, b"Exif\0\0MM"), 1);
    }

    // An independent reader sees Orientation 6 and nothing else.
    let read = exif::Reader::new().read_from_container(&mut Cursor::new(out))?;
    let tags: Vec<Tag> = read.fields().map(|f| f.tag).collect();
    assert_eq!(tags, [Tag::Orientation], "{tags:?}");
    let orientation = read.get_field(Tag::Orientation, In::PRIMARY).unwrap();
    assert_eq!(orientation.value.get_uint(0), Some(6));

    assert_eq!(rgba(&s.dirty), rgba(out), "the pixels changed");

    let after = photo::inspect(out)?;
    assert!(after.is_clean(), "{after:?}");
    assert_eq!(
        (after.width, after.height, after.orientation),
        (dims.0, dims.1, 6)
    );
    assert_eq!(photo::clean(out)?, cleaned, "cleaning is not idempotent");
    Ok(())
}

#[test]
fn camera_jpeg_loses_all_metadata_and_keeps_orientation_and_pixels() -> TestResult {
    check_sample(
        &JPEG,
        MediaType::Jpeg,
        (48, 32),
        &[
            found::EXIF,
            found::GPS,
            found::THUMBNAIL,
            found::XMP,
            found::IPTC,
            found::COMMENT,
            found::MPF,
            found::TRAILING_DATA,
        ],
    )
}

#[test]
fn png_loses_exif_text_and_time_and_keeps_colour_chunks() -> TestResult {
    check_sample(
        &PNG,
        MediaType::Png,
        (40, 30),
        &[
            found::EXIF,
            found::GPS,
            found::TEXT,
            found::XMP,
            found::TIME,
            found::TRAILING_DATA,
        ],
    )
}

#[test]
fn extended_webp_loses_exif_and_xmp_and_fixes_its_header() -> TestResult {
    check_sample(
        &WEBP,
        MediaType::Webp,
        (36, 20),
        &[
            found::EXIF,
            found::GPS,
            found::THUMBNAIL,
            found::XMP,
            found::TRAILING_DATA,
        ],
    )?;
    let out = photo::clean(&WEBP.dirty)?.bytes;
    let riff_size = u32::from_le_bytes(out[4..8].try_into()?);
    assert_eq!(usize::try_from(riff_size)? + 8, out.len());
    // VP8X flags: alpha and EXIF (the orientation block), no XMP.
    assert_eq!(&out[12..16], b"VP8X");
    assert_eq!(out[20], 0x10 | 0x08);
    Ok(())
}

#[test]
fn upright_photos_get_no_exif_at_all() -> TestResult {
    let encoded = encode_jpeg(8, 8);
    let mut with_exif = encoded[..2].to_vec();
    with_exif.extend(jpeg_segment(
        0xE1,
        b"Exif\0\0MM\0*\0\0\0\x08\0\x01\x01\x12\0\x03\0\0\0\x01\0\x01\0\0\0\0\0\0",
    ));
    with_exif.extend_from_slice(&encoded[2..]);
    let cleaned = photo::clean(&with_exif)?;
    assert_eq!(cleaned.orientation, 1);
    assert!(!contains(&cleaned.bytes, b"Exif"));
    assert_eq!(photo::inspect(&with_exif)?.metadata_found, [found::EXIF]);
    // A file that was already clean comes through unchanged.
    assert_eq!(photo::clean(&encoded)?.bytes, encoded);
    Ok(())
}

#[test]
fn refusals_are_clear_errors() {
    let err = |bytes: &[u8]| photo::clean(bytes).unwrap_err();
    assert_eq!(err(b""), PhotoError::Empty);
    assert_eq!(
        err(&vec![0xFF; MAX_PHOTO_BYTES + 1]),
        PhotoError::TooLarge {
            size: MAX_PHOTO_BYTES + 1,
            max: MAX_PHOTO_BYTES
        }
    );
    let heic = err(b"\0\0\0\x1cftypheic\0\0\0\0mif1heicmiaf");
    assert_eq!(
        heic.to_string(),
        "HEIC/HEIF is not supported: convert to JPEG first"
    );
    let gif = err(b"GIF89a\x10\0\x10\0\x80\0\0");
    assert!(
        matches!(gif, PhotoError::Unsupported { format: "GIF", .. }),
        "{gif}"
    );
    assert_eq!(err(b"just some text"), PhotoError::NotAnImage);

    let jpeg = &JPEG.dirty;
    let body_start = jpeg.len() - JPEG.image_data.len() - THUMB.len() - TRAILER.len();
    let truncated = err(&jpeg[..body_start + JPEG.image_data.len() / 2]);
    assert!(
        matches!(truncated, PhotoError::Malformed { format: "JPEG", .. }),
        "{truncated}"
    );
    let mut past_end = vec![0xFF, 0xD8, 0xFF, 0xE1, 0x40, 0x00];
    past_end.extend_from_slice(b"Exif\0\0MM\0*");
    let e = err(&past_end);
    assert_eq!(
        e.to_string(),
        "malformed JPEG: segment at byte 2 runs past the end"
    );

    // The core's public error, as the store and the bindings will return it.
    let core: noaber_core::Error = heic.into();
    assert!(matches!(
        core,
        noaber_core::Error::InvalidInput { field: "photo", .. }
    ));
}

/// What must hold for any input: no panic, and a successful clean inspects as clean and is
/// a fixed point.
fn holds_for(bytes: &[u8]) {
    let _ = photo::inspect(bytes);
    if let Ok(cleaned) = photo::clean(bytes) {
        let info = photo::inspect(&cleaned.bytes).unwrap();
        assert!(info.is_clean(), "{info:?}");
        assert_eq!(info.media_type, cleaned.media_type);
        assert_eq!(photo::clean(&cleaned.bytes).unwrap(), cleaned);
    }
}

#[derive(Debug, Clone)]
enum Edit {
    Set(prop::sample::Index, u8),
    Insert(prop::sample::Index, Vec<u8>),
    Remove(prop::sample::Index, usize),
    Truncate(prop::sample::Index),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        4 => (any::<prop::sample::Index>(), any::<u8>()).prop_map(|(i, b)| Edit::Set(i, b)),
        1 => (any::<prop::sample::Index>(), prop::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(i, b)| Edit::Insert(i, b)),
        1 => (any::<prop::sample::Index>(), 1..64_usize).prop_map(|(i, n)| Edit::Remove(i, n)),
        1 => any::<prop::sample::Index>().prop_map(Edit::Truncate),
    ]
}

fn apply(mut bytes: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for e in edits {
        if bytes.is_empty() {
            break;
        }
        match e {
            Edit::Set(i, b) => {
                let at = i.index(bytes.len());
                bytes[at] = *b;
            }
            Edit::Insert(i, b) => {
                let at = i.index(bytes.len());
                bytes.splice(at..at, b.iter().copied());
            }
            Edit::Remove(i, n) => {
                let at = i.index(bytes.len());
                let end = (at + n).min(bytes.len());
                bytes.drain(at..end);
            }
            Edit::Truncate(i) => bytes.truncate(i.index(bytes.len())),
        }
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(
        prefix in prop::sample::select(vec![
            &b""[..], b"\xFF\xD8\xFF", b"\x89PNG\r\n\x1a\n", b"RIFF\x20\0\0\0WEBPVP8X",
            b"RIFF\x20\0\0\0WEBPVP8L", b"\0\0\0\x18ftyp",
        ]),
        body in prop::collection::vec(any::<u8>(), 0..512),
    ) {
        holds_for(&[prefix, body.as_slice()].concat());
    }

    #[test]
    fn mutated_camera_files_never_panic(
        which in 0..5_usize,
        edits in prop::collection::vec(edit(), 1..6),
    ) {
        let base = match which {
            0 => JPEG.dirty.clone(),
            1 => PNG.dirty.clone(),
            2 => WEBP.dirty.clone(),
            3 => photo::clean(&JPEG.dirty).unwrap().bytes,
            _ => photo::clean(&WEBP.dirty).unwrap().bytes,
        };
        holds_for(&apply(base, &edits));
    }
}
