//! JPEG: a walk over the marker segments, keeping those that render the image.
//!
//! Layout: `FFD8` (SOI), then segments `FF xx len(2, big-endian, counts itself) payload`,
//! standalone markers (`RSTn`, `TEM`) without a length, and after each SOS the entropy-coded
//! scan, which runs until a marker other than a stuffed `FF00` or a restart `FFD0`–`FFD7`.
//! `FFD9` (EOI) ends the image; whatever follows (MPF secondary images, vendor trailers) is
//! dropped. Fill bytes (`FF` repeated before a marker) are dropped with the segment they pad.

use std::borrow::Cow;

use super::{Facts, PhotoError, be16, exif, found};

const FORMAT: &str = "JPEG";

const SOI: u8 = 0xD8;
const EOI: u8 = 0xD9;
const SOS: u8 = 0xDA;
const APP0: u8 = 0xE0;
const APP1: u8 = 0xE1;
const APP2: u8 = 0xE2;
const APP13: u8 = 0xED;
const APP14: u8 = 0xEE;
const COM: u8 = 0xFE;

const JFIF: &[u8] = b"JFIF\0";
/// JFIF APP0 payload without a thumbnail: identifier, version, units, densities, 0×0 thumb.
const JFIF_LEN: usize = 14;

fn malformed(reason: impl Into<String>) -> PhotoError {
    PhotoError::Malformed {
        format: FORMAT,
        reason: reason.into(),
    }
}

fn truncated(at: usize) -> PhotoError {
    malformed(format!("truncated at byte {at}"))
}

/// The segments to keep, in order, and where the orientation block goes.
struct Parsed<'a> {
    facts: Facts,
    /// Kept segments (each with its marker), the scans with their entropy-coded data.
    parts: Vec<Cow<'a, [u8]>>,
    /// The first kept segment is the JFIF APP0, which must stay first: the orientation
    /// block goes after it.
    jfif_first: bool,
}

pub(super) fn clean(bytes: &[u8]) -> Result<(Vec<u8>, Facts), PhotoError> {
    let parsed = parse(bytes)?;
    let orientation = parsed.facts.orientation;
    let mut out = Vec::with_capacity(bytes.len());
    out.extend_from_slice(&[0xFF, SOI]);
    let split = usize::from(parsed.jfif_first);
    let (head, rest) = parsed.parts.split_at(split.min(parsed.parts.len()));
    for part in head {
        out.extend_from_slice(part);
    }
    if orientation != 1 {
        let tiff = exif::minimal_tiff(orientation);
        // Marker, length (counts itself: 2 + 6 + 26 = 34), prefix, block.
        out.extend_from_slice(&[0xFF, APP1, 0, 34]);
        out.extend_from_slice(exif::JPEG_PREFIX);
        out.extend_from_slice(&tiff);
    }
    for part in rest {
        out.extend_from_slice(part);
    }
    out.extend_from_slice(&[0xFF, EOI]);
    Ok((out, parsed.facts))
}

pub(super) fn inspect(bytes: &[u8]) -> Result<Facts, PhotoError> {
    parse(bytes).map(|p| p.facts)
}

fn parse(bytes: &[u8]) -> Result<Parsed<'_>, PhotoError> {
    if bytes.get(..2) != Some([0xFF, SOI].as_slice()) {
        return Err(malformed("no start-of-image marker"));
    }
    let mut facts = Facts {
        width: 0,
        height: 0,
        orientation: 1,
        found: Vec::new(),
    };
    let mut parts: Vec<Cow<'_, [u8]>> = Vec::new();
    let mut jfif_first = false;
    let mut seen_jfif = false;
    let mut seen_exif = false;
    let mut seen_frame = false;
    let mut seen_scan = false;
    let mut pos: usize = 2;
    loop {
        if *bytes.get(pos).ok_or_else(|| truncated(pos))? != 0xFF {
            return Err(malformed(format!("expected a marker at byte {pos}")));
        }
        // Skip fill bytes: the marker is the first byte after the last FF.
        let mut at = pos;
        while bytes.get(at.checked_add(1).ok_or_else(|| truncated(at))?) == Some(&0xFF) {
            at = at.checked_add(1).ok_or_else(|| truncated(at))?;
        }
        let code_at = at.checked_add(1).ok_or_else(|| truncated(at))?;
        let code = *bytes.get(code_at).ok_or_else(|| truncated(code_at))?;
        let after_code = code_at.checked_add(1).ok_or_else(|| truncated(code_at))?;
        match code {
            EOI => {
                if after_code < bytes.len() {
                    facts.note(found::TRAILING_DATA);
                }
                break;
            }
            SOI => return Err(malformed(format!("second start-of-image at byte {at}"))),
            0x00 => return Err(malformed(format!("expected a marker at byte {at}"))),
            // Standalone markers: a stray restart is harmless and kept, TEM is dropped.
            0xD0..=0xD7 => {
                parts.push(Cow::Borrowed(slice(bytes, at, after_code)?));
                pos = after_code;
                continue;
            }
            0x01 => {
                pos = after_code;
                continue;
            }
            _ => {}
        }
        let len = be16(bytes, after_code).ok_or_else(|| truncated(after_code))?;
        if len < 2 {
            return Err(malformed(format!("segment length {len} at byte {at}")));
        }
        let end = after_code
            .checked_add(usize::from(len))
            .filter(|end| *end <= bytes.len())
            .ok_or_else(|| malformed(format!("segment at byte {at} runs past the end")))?;
        let segment = slice(bytes, at, end)?;
        let payload = slice(bytes, after_code.saturating_add(2), end)?;
        match code {
            SOS => {
                if !seen_frame {
                    return Err(malformed("scan before the frame header"));
                }
                let scan_end = scan_end(bytes, end)?;
                parts.push(Cow::Borrowed(slice(bytes, at, scan_end)?));
                seen_scan = true;
                pos = scan_end;
                continue;
            }
            // Frame headers (SOF0–SOF15 but DHT, JPG, DAC).
            0xC0..=0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF => {
                if !seen_frame {
                    let height = be16(payload, 1).ok_or_else(|| truncated(end))?;
                    let width = be16(payload, 3).ok_or_else(|| truncated(end))?;
                    if width == 0 || height == 0 {
                        return Err(malformed("the frame header gives no width or height"));
                    }
                    facts.width = u32::from(width);
                    facts.height = u32::from(height);
                    seen_frame = true;
                }
                parts.push(Cow::Borrowed(segment));
            }
            // DHT, DAC, DNL, DQT, DRI, DHP, EXP.
            0xC4 | 0xCC | 0xDB..=0xDF => parts.push(Cow::Borrowed(segment)),
            APP0 if payload.starts_with(JFIF) && payload.len() >= JFIF_LEN && !seen_jfif => {
                seen_jfif = true;
                // Length 16 (2 + 14), the header up to the densities, thumbnail 0×0.
                let mut jfif = vec![0xFF, APP0, 0, 16];
                jfif.extend_from_slice(payload.get(..12).ok_or_else(|| truncated(end))?);
                jfif.extend_from_slice(&[0, 0]);
                if jfif.as_slice() != segment {
                    let thumb = payload.get(12..14).is_some_and(|t| t != [0, 0]);
                    facts.note(if thumb {
                        found::THUMBNAIL
                    } else {
                        found::UNKNOWN_SEGMENT
                    });
                }
                jfif_first = parts.is_empty();
                parts.push(Cow::Owned(jfif));
            }
            APP0 if payload.starts_with(b"JFXX\0") => facts.note(found::THUMBNAIL),
            APP1 if payload.starts_with(b"Exif\0") => {
                let tiff = payload.get(JPEG_PREFIX_LEN..).unwrap_or_default();
                facts.note_exif(tiff, &mut seen_exif);
            }
            APP1 if payload.starts_with(b"http://ns.adobe.com/") => facts.note(found::XMP),
            APP2 if payload.starts_with(b"ICC_PROFILE\0") => parts.push(Cow::Borrowed(segment)),
            APP2 if payload.starts_with(b"MPF\0") => facts.note(found::MPF),
            APP13 => facts.note(found::IPTC),
            APP14 if payload.starts_with(b"Adobe") => parts.push(Cow::Borrowed(segment)),
            COM => facts.note(found::COMMENT),
            // Every other APPn, JPGn and reserved marker.
            _ => facts.note(found::UNKNOWN_SEGMENT),
        }
        pos = end;
    }
    if !seen_frame || !seen_scan {
        return Err(malformed("no image data"));
    }
    Ok(Parsed {
        facts,
        parts,
        jfif_first,
    })
}

/// `Exif` + two bytes (`\0\0`, or `\0\xFF` from some old writers).
const JPEG_PREFIX_LEN: usize = 6;

fn slice(bytes: &[u8], from: usize, to: usize) -> Result<&[u8], PhotoError> {
    bytes.get(from..to).ok_or_else(|| truncated(from))
}

/// Where the entropy-coded data that starts at `from` ends: at the first `FF` that is neither
/// stuffing (`FF00`), a restart marker (`FFD0`–`FFD7`) nor a fill byte before a marker.
fn scan_end(bytes: &[u8], from: usize) -> Result<usize, PhotoError> {
    let mut i = from;
    loop {
        let rest = bytes.get(i..).ok_or_else(|| truncated(i))?;
        let ff = rest
            .iter()
            .position(|b| *b == 0xFF)
            .ok_or_else(|| malformed("scan data runs past the end"))?;
        i = i.checked_add(ff).ok_or_else(|| truncated(i))?;
        let next = i.checked_add(1).ok_or_else(|| truncated(i))?;
        match bytes.get(next) {
            None => return Err(malformed("scan data runs past the end")),
            Some(0x00 | 0xD0..=0xD7) => i = next.checked_add(1).ok_or_else(|| truncated(i))?,
            Some(0xFF) => i = next,
            Some(_) => return Ok(i),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A structurally complete JPEG (no real pixels): SOI, SOF0, SOS with scan data, EOI.
    fn tiny(extra: &[u8]) -> Vec<u8> {
        let mut v = vec![0xFF, SOI];
        v.extend_from_slice(extra);
        v.extend_from_slice(&[0xFF, 0xC0, 0, 11, 8, 0, 3, 0, 4, 1, 1, 0x11, 0]);
        v.extend_from_slice(&[0xFF, SOS, 0, 8, 1, 1, 0, 0, 63, 0]);
        v.extend_from_slice(&[0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD0, 0x56]);
        v.extend_from_slice(&[0xFF, EOI]);
        v
    }

    #[test]
    fn keeps_structure_and_reads_dimensions() {
        let input = tiny(&[]);
        let (out, facts) = clean(&input).unwrap();
        assert_eq!(out, input);
        assert_eq!((facts.width, facts.height), (4, 3));
        assert!(facts.found.is_empty());
    }

    #[test]
    fn drops_comment_and_trailing_bytes_and_fill() {
        let mut input = tiny(&[0xFF, 0xFF, COM, 0, 5, b'a', b'b', b'c']);
        input.extend_from_slice(b"trailer");
        let facts = inspect(&input).unwrap();
        assert_eq!(facts.found, [found::COMMENT, found::TRAILING_DATA]);
        let (out, _) = clean(&input).unwrap();
        assert_eq!(out, tiny(&[]));
    }

    #[test]
    fn jfif_loses_its_thumbnail_and_stays_first_before_the_orientation_block() {
        let jfif = |thumb: &[u8]| {
            let mut p = b"JFIF\0\x01\x02\x01\0\x48\0\x48".to_vec();
            p.extend_from_slice(thumb);
            let mut s = vec![0xFF, APP0, 0, u8::try_from(p.len() + 2).unwrap()];
            s.extend(p);
            s
        };
        let adobe = [
            0xFF, APP14, 0, 14, b'A', b'd', b'o', b'b', b'e', 0, 100, 0, 0, 0, 0, 1,
        ];
        let mut exif = vec![0xFF, APP1, 0, 34];
        exif.extend_from_slice(exif::JPEG_PREFIX);
        exif.extend_from_slice(&exif::minimal_tiff(8));
        let input = tiny(&[&exif[..], &jfif(&[1, 1, 9, 9, 9]), &adobe].concat());
        let facts = inspect(&input).unwrap();
        assert_eq!(facts.found, [found::THUMBNAIL]);
        assert_eq!(facts.orientation, 8);
        let (out, _) = clean(&input).unwrap();
        assert_eq!(out, tiny(&[&jfif(&[0, 0]), &exif[..], &adobe].concat()));
        assert!(inspect(&out).unwrap().found.is_empty());
        assert_eq!(clean(&out).unwrap().0, out);
    }

    #[test]
    fn broken_structures_are_errors() {
        let good = tiny(&[]);
        for cut in 0..good.len() {
            assert!(parse(&good[..cut]).is_err(), "cut at {cut}");
        }
        assert!(parse(&tiny(&[0xFF, COM, 0xFF, 0xFF])).is_err());
        assert!(parse(&tiny(&[0xFF, COM, 0, 1])).is_err());
        assert!(parse(&tiny(&[0xFF, SOI])).is_err());
        assert!(parse(&[0xFF, SOI, 0xFF, SOS, 0, 2, 0xFF, EOI]).is_err());
    }
}
