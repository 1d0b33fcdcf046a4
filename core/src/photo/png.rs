//! PNG: a walk over the chunks, keeping the critical ones and the colour chunks.
//!
//! Layout: the 8-byte signature, then chunks `length(4, big-endian) type(4) data crc(4)`, IHDR
//! first and IEND last; whatever follows IEND is dropped. Every kept chunk's CRC is checked
//! (a decoder would refuse it); dropped chunks are not looked at beyond their length. An
//! unknown *critical* chunk (upper-case first letter) is an error: no decoder could render it.

use super::{Facts, PhotoError, be32, exif, found};

/// The PNG signature.
pub(super) const SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

const FORMAT: &str = "PNG";
/// The largest chunk length the format allows (2^31 - 1).
const MAX_CHUNK: u32 = 0x7FFF_FFFF;
/// Ancillary chunks that change how the image renders.
const COLOUR_CHUNKS: [&[u8; 4]; 7] = [
    b"gAMA", b"cHRM", b"sRGB", b"iCCP", b"sBIT", b"pHYs", b"tRNS",
];

fn malformed(reason: impl Into<String>) -> PhotoError {
    PhotoError::Malformed {
        format: FORMAT,
        reason: reason.into(),
    }
}

struct Parsed<'a> {
    facts: Facts,
    /// IHDR, then the other kept chunks, each whole (length, type, data, CRC).
    ihdr: &'a [u8],
    rest: Vec<&'a [u8]>,
}

pub(super) fn clean(bytes: &[u8]) -> Result<(Vec<u8>, Facts), PhotoError> {
    let parsed = parse(bytes)?;
    let mut out = Vec::with_capacity(bytes.len());
    out.extend_from_slice(SIGNATURE);
    out.extend_from_slice(parsed.ihdr);
    if parsed.facts.orientation != 1 {
        write_chunk(
            &mut out,
            b"eXIf",
            &exif::minimal_tiff(parsed.facts.orientation),
        );
    }
    for chunk in &parsed.rest {
        out.extend_from_slice(chunk);
    }
    Ok((out, parsed.facts))
}

pub(super) fn inspect(bytes: &[u8]) -> Result<Facts, PhotoError> {
    parse(bytes).map(|p| p.facts)
}

fn write_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8; 26]) {
    out.extend_from_slice(&26_u32.to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let mut crc = flate2::Crc::new();
    crc.update(kind);
    crc.update(data);
    out.extend_from_slice(&crc.sum().to_be_bytes());
}

fn parse(bytes: &[u8]) -> Result<Parsed<'_>, PhotoError> {
    let mut pos = SIGNATURE.len();
    if bytes.get(..pos) != Some(SIGNATURE) {
        return Err(malformed("no signature"));
    }
    let mut facts = Facts {
        width: 0,
        height: 0,
        orientation: 1,
        found: Vec::new(),
    };
    let mut ihdr: Option<&[u8]> = None;
    let mut rest = Vec::new();
    let mut seen_exif = false;
    let mut seen_idat = false;
    loop {
        let len = be32(bytes, pos)
            .ok_or_else(|| malformed(format!("truncated at byte {pos}: no IEND chunk")))?;
        if len > MAX_CHUNK {
            return Err(malformed(format!("chunk length {len} at byte {pos}")));
        }
        let data_start = pos
            .checked_add(8)
            .ok_or_else(|| malformed("chunk past the end"))?;
        let kind: [u8; 4] = super::array(bytes, pos.saturating_add(4))
            .ok_or_else(|| malformed(format!("truncated chunk at byte {pos}")))?;
        let data_end = usize::try_from(len)
            .ok()
            .and_then(|len| data_start.checked_add(len))
            .ok_or_else(|| malformed("chunk past the end"))?;
        let end = data_end
            .checked_add(4)
            .filter(|end| *end <= bytes.len())
            .ok_or_else(|| malformed(format!("chunk at byte {pos} runs past the end")))?;
        if !kind.iter().all(u8::is_ascii_alphabetic) {
            return Err(malformed(format!("bad chunk type at byte {pos}")));
        }
        let chunk = bytes
            .get(pos..end)
            .ok_or_else(|| malformed("chunk past the end"))?;
        let data = bytes
            .get(data_start..data_end)
            .ok_or_else(|| malformed("chunk past the end"))?;
        let name = String::from_utf8_lossy(&kind);
        if ihdr.is_none() && &kind != b"IHDR" {
            return Err(malformed("the first chunk is not IHDR"));
        }
        let keep = match &kind {
            b"IHDR" => {
                if ihdr.is_some() {
                    return Err(malformed("a second IHDR chunk"));
                }
                let width = be32(data, 0).filter(|_| data.len() == 13);
                let height = be32(data, 4);
                let (Some(width), Some(height)) = (width, height) else {
                    return Err(malformed("IHDR is not 13 bytes"));
                };
                if width == 0 || height == 0 || width > MAX_CHUNK || height > MAX_CHUNK {
                    return Err(malformed(format!("dimensions {width}×{height}")));
                }
                facts.width = width;
                facts.height = height;
                check_crc(&kind, data, bytes, data_end, &name)?;
                ihdr = Some(chunk);
                false
            }
            b"IDAT" => {
                seen_idat = true;
                true
            }
            b"PLTE" | b"IEND" => true,
            k if COLOUR_CHUNKS.contains(&k) => true,
            b"eXIf" => {
                facts.note_exif(exif::tiff_of(data), &mut seen_exif);
                false
            }
            b"iTXt" if data.starts_with(b"XML:com.adobe.xmp\0") => {
                facts.note(found::XMP);
                false
            }
            b"tEXt" | b"zTXt" | b"iTXt" => {
                facts.note(found::TEXT);
                false
            }
            b"tIME" => {
                facts.note(found::TIME);
                false
            }
            _ if kind.first().is_some_and(u8::is_ascii_uppercase) => {
                return Err(malformed(format!("unknown critical chunk {name}")));
            }
            _ => {
                facts.note(found::UNKNOWN_CHUNK);
                false
            }
        };
        if keep {
            check_crc(&kind, data, bytes, data_end, &name)?;
            rest.push(chunk);
        }
        pos = end;
        if &kind == b"IEND" {
            break;
        }
    }
    if pos < bytes.len() {
        facts.note(found::TRAILING_DATA);
    }
    let Some(ihdr) = ihdr else {
        return Err(malformed("no IHDR chunk"));
    };
    if !seen_idat {
        return Err(malformed("no image data"));
    }
    Ok(Parsed { facts, ihdr, rest })
}

fn check_crc(
    kind: &[u8; 4],
    data: &[u8],
    bytes: &[u8],
    data_end: usize,
    name: &str,
) -> Result<(), PhotoError> {
    let stored = be32(bytes, data_end).ok_or_else(|| malformed("chunk past the end"))?;
    let mut crc = flate2::Crc::new();
    crc.update(kind);
    crc.update(data);
    if crc.sum() != stored {
        return Err(malformed(format!("bad CRC in chunk {name}")));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
        let mut v = (data.len() as u32).to_be_bytes().to_vec();
        v.extend_from_slice(kind);
        v.extend_from_slice(data);
        let mut crc = flate2::Crc::new();
        crc.update(kind);
        crc.update(data);
        v.extend_from_slice(&crc.sum().to_be_bytes());
        v
    }

    fn png(extra: &[u8]) -> Vec<u8> {
        let mut v = SIGNATURE.to_vec();
        v.extend(chunk(b"IHDR", &[0, 0, 0, 2, 0, 0, 0, 1, 8, 0, 0, 0, 0]));
        v.extend_from_slice(extra);
        v.extend(chunk(b"IDAT", b"not really zlib"));
        v.extend(chunk(b"IEND", b""));
        v
    }

    #[test]
    fn keeps_critical_and_colour_chunks_only() {
        let gama = chunk(b"gAMA", &[0, 0, 0xB1, 0x8F]);
        let mut extra = gama.clone();
        extra.extend(chunk(b"tEXt", b"Author\0someone"));
        extra.extend(chunk(b"tIME", &[7, 0xEA, 11, 25, 12, 0, 0]));
        extra.extend(chunk(b"vpAg", b"xyz"));
        let mut input = png(&extra);
        input.extend_from_slice(b"after");
        let facts = inspect(&input).unwrap();
        assert_eq!(
            facts.found,
            [
                found::TEXT,
                found::TIME,
                found::UNKNOWN_CHUNK,
                found::TRAILING_DATA
            ]
        );
        assert_eq!((facts.width, facts.height), (2, 1));
        let (out, _) = clean(&input).unwrap();
        assert_eq!(out, png(&gama));
    }

    #[test]
    fn broken_structures_are_errors() {
        let good = png(&[]);
        for cut in 0..good.len() {
            assert!(parse(&good[..cut]).is_err(), "cut at {cut}");
        }
        let mut bad_crc = good.clone();
        let last = bad_crc.len() - 1;
        bad_crc[last] ^= 1;
        assert!(parse(&bad_crc).is_err());
        assert!(parse(&png(&chunk(b"ABCD", b""))).is_err());
        let mut huge = SIGNATURE.to_vec();
        huge.extend_from_slice(&[0xFF, 0xFF, 0xFF, 0xF0]);
        huge.extend_from_slice(b"IHDR");
        assert!(parse(&huge).is_err());
    }
}
