//! WebP: a RIFF container walked chunk by chunk.
//!
//! Layout: `RIFF size(4, little-endian) WEBP`, then chunks `fourcc size(4) data [pad]`, each
//! padded to an even length. A *simple* file holds one `VP8 ` (lossy) or `VP8L` (lossless)
//! chunk and nothing else is kept. An *extended* file starts with `VP8X` (flags and canvas
//! size) and may hold ICCP, ANIM/ANMF (animation, kept whole), ALPH, the bitstream, and then
//! the EXIF and XMP chunks, which are dropped. The output's VP8X flags say what it really
//! holds (EXIF only with the orientation block, never XMP), its reserved bits are zeroed, and
//! the RIFF size is recomputed. Bytes after the RIFF end are dropped.

use super::{Facts, PhotoError, exif, found, le16, le32};

const FORMAT: &str = "WebP";

const FLAG_ICC: u8 = 0x20;
const FLAG_ALPHA: u8 = 0x10;
const FLAG_EXIF: u8 = 0x08;
const FLAG_ANIMATION: u8 = 0x02;

fn malformed(reason: impl Into<String>) -> PhotoError {
    PhotoError::Malformed {
        format: FORMAT,
        reason: reason.into(),
    }
}

struct Chunk<'a> {
    fourcc: [u8; 4],
    data: &'a [u8],
}

struct Parsed<'a> {
    facts: Facts,
    /// `Some((flags, canvas))` for an extended file: VP8X's flags and its 6 canvas bytes.
    vp8x: Option<(u8, &'a [u8])>,
    /// Kept chunks, in order (without VP8X).
    kept: Vec<Chunk<'a>>,
}

pub(super) fn clean(bytes: &[u8]) -> Result<(Vec<u8>, Facts), PhotoError> {
    let parsed = parse(bytes)?;
    let orientation = parsed.facts.orientation;
    let mut body = Vec::with_capacity(bytes.len());
    let mut tiff = None;
    if let Some((flags, canvas)) = parsed.vp8x {
        let has_icc = parsed.kept.iter().any(|c| &c.fourcc == b"ICCP");
        let mut flags = flags & (FLAG_ALPHA | FLAG_ANIMATION);
        if has_icc {
            flags |= FLAG_ICC;
        }
        if orientation != 1 {
            flags |= FLAG_EXIF;
            tiff = Some(exif::minimal_tiff(orientation));
        }
        let mut vp8x = vec![flags, 0, 0, 0];
        vp8x.extend_from_slice(canvas);
        write_chunk(&mut body, b"VP8X", &vp8x)?;
    }
    for chunk in &parsed.kept {
        write_chunk(&mut body, &chunk.fourcc, chunk.data)?;
    }
    if let Some(tiff) = tiff {
        write_chunk(&mut body, b"EXIF", &tiff)?;
    }
    let riff_size = body
        .len()
        .checked_add(4)
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| malformed("too large for RIFF"))?;
    let mut out = Vec::with_capacity(body.len().saturating_add(12));
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&riff_size.to_le_bytes());
    out.extend_from_slice(b"WEBP");
    out.extend_from_slice(&body);
    Ok((out, parsed.facts))
}

pub(super) fn inspect(bytes: &[u8]) -> Result<Facts, PhotoError> {
    parse(bytes).map(|p| p.facts)
}

fn write_chunk(out: &mut Vec<u8>, fourcc: &[u8; 4], data: &[u8]) -> Result<(), PhotoError> {
    let size = u32::try_from(data.len()).map_err(|_| malformed("chunk too large"))?;
    out.extend_from_slice(fourcc);
    out.extend_from_slice(&size.to_le_bytes());
    out.extend_from_slice(data);
    if data.len() % 2 == 1 {
        out.push(0);
    }
    Ok(())
}

fn parse(bytes: &[u8]) -> Result<Parsed<'_>, PhotoError> {
    let riff_size = le32(bytes, 4).ok_or_else(|| malformed("truncated header"))?;
    if bytes.get(..4) != Some(b"RIFF".as_slice()) || bytes.get(8..12) != Some(b"WEBP".as_slice()) {
        return Err(malformed("no RIFF/WEBP header"));
    }
    let riff_end = usize::try_from(riff_size)
        .ok()
        .and_then(|s| s.checked_add(8))
        .filter(|end| *end <= bytes.len())
        .ok_or_else(|| malformed(format!("RIFF size {riff_size} runs past the end")))?;
    let chunks = chunks(bytes, riff_end)?;
    let mut facts = Facts {
        width: 0,
        height: 0,
        orientation: 1,
        found: Vec::new(),
    };
    if riff_end < bytes.len() {
        facts.note(found::TRAILING_DATA);
    }
    let mut iter = chunks.into_iter();
    let first = iter.next().ok_or_else(|| malformed("no chunks"))?;
    let mut kept = Vec::new();
    let vp8x = match &first.fourcc {
        b"VP8 " | b"VP8L" => {
            let (width, height) = bitstream_size(&first)?;
            facts.width = width;
            facts.height = height;
            kept.push(first);
            // A simple file holds nothing else: whatever follows is noted and dropped. An EXIF
            // chunk here is out of spec and ignored by decoders, so its orientation is too
            // (the picture already shows as stored).
            let mut orientation_decided = true;
            for chunk in iter {
                note_dropped(&mut facts, &chunk, &mut orientation_decided);
            }
            None
        }
        b"VP8X" => {
            let data = first.data;
            let flags = *data.first().ok_or_else(|| malformed("VP8X too short"))?;
            let canvas = data.get(4..10).ok_or_else(|| malformed("VP8X too short"))?;
            let dim = |at: usize| -> Result<u32, PhotoError> {
                let [a, b, c]: [u8; 3] =
                    super::array(canvas, at).ok_or_else(|| malformed("VP8X too short"))?;
                Ok(u32::from_le_bytes([a, b, c, 0]).saturating_add(1))
            };
            facts.width = dim(0)?;
            facts.height = dim(3)?;
            let mut seen_exif = false;
            let mut has_image = false;
            for chunk in iter {
                match &chunk.fourcc {
                    b"VP8 " | b"VP8L" | b"ANMF" => {
                        has_image = true;
                        kept.push(chunk);
                    }
                    b"ICCP" | b"ANIM" | b"ALPH" => kept.push(chunk),
                    _ => note_dropped(&mut facts, &chunk, &mut seen_exif),
                }
            }
            if !has_image {
                return Err(malformed("no image data"));
            }
            Some((flags, canvas))
        }
        _ => return Err(malformed("the first chunk is not VP8, VP8L or VP8X")),
    };
    Ok(Parsed { facts, vp8x, kept })
}

/// Notes what a dropped chunk carried; the first EXIF chunk gives the orientation.
fn note_dropped(facts: &mut Facts, chunk: &Chunk<'_>, seen_exif: &mut bool) {
    match &chunk.fourcc {
        b"EXIF" => facts.note_exif(exif::tiff_of(chunk.data), seen_exif),
        b"XMP " => facts.note(found::XMP),
        _ => facts.note(found::UNKNOWN_CHUNK),
    }
}

/// The chunks between the header and the RIFF end. A missing pad byte after the last chunk is
/// tolerated (some writers omit it); the output always has it.
fn chunks(bytes: &[u8], riff_end: usize) -> Result<Vec<Chunk<'_>>, PhotoError> {
    let mut out = Vec::new();
    let mut pos: usize = 12;
    while pos < riff_end {
        let fourcc: [u8; 4] = super::array(bytes, pos)
            .filter(|_| pos.saturating_add(8) <= riff_end)
            .ok_or_else(|| malformed(format!("truncated chunk at byte {pos}")))?;
        let size = le32(bytes, pos.saturating_add(4))
            .ok_or_else(|| malformed(format!("truncated chunk at byte {pos}")))?;
        let start = pos.saturating_add(8);
        let end = usize::try_from(size)
            .ok()
            .and_then(|s| start.checked_add(s))
            .filter(|end| *end <= riff_end)
            .ok_or_else(|| malformed(format!("chunk at byte {pos} runs past the RIFF end")))?;
        let data = bytes
            .get(start..end)
            .ok_or_else(|| malformed("chunk past the end"))?;
        out.push(Chunk { fourcc, data });
        pos = end.saturating_add(usize::from(size % 2 == 1));
    }
    Ok(out)
}

/// Width and height from a `VP8 ` key frame header or a `VP8L` header.
fn bitstream_size(chunk: &Chunk<'_>) -> Result<(u32, u32), PhotoError> {
    let d = chunk.data;
    let (width, height) = if &chunk.fourcc == b"VP8L" {
        if d.first() != Some(&0x2F) {
            return Err(malformed("bad VP8L signature"));
        }
        let bits = le32(d, 1).ok_or_else(|| malformed("VP8L header too short"))?;
        ((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
    } else {
        let is_key_frame = d.first().is_some_and(|b| b & 1 == 0);
        if !is_key_frame || d.get(3..6) != Some([0x9D, 0x01, 0x2A].as_slice()) {
            return Err(malformed("bad VP8 key frame header"));
        }
        let w = le16(d, 6).ok_or_else(|| malformed("VP8 header too short"))?;
        let h = le16(d, 8).ok_or_else(|| malformed("VP8 header too short"))?;
        (u32::from(w & 0x3FFF), u32::from(h & 0x3FFF))
    };
    if width == 0 || height == 0 {
        return Err(malformed("the bitstream gives no width or height"));
    }
    Ok((width, height))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn riff(chunks: &[(&[u8; 4], &[u8])]) -> Vec<u8> {
        let mut body = Vec::new();
        for (fourcc, data) in chunks {
            write_chunk(&mut body, fourcc, data).unwrap();
        }
        let mut v = b"RIFF".to_vec();
        v.extend_from_slice(&(body.len() as u32 + 4).to_le_bytes());
        v.extend_from_slice(b"WEBP");
        v.extend(body);
        v
    }

    /// A VP8L header for 3×2 (not a decodable bitstream; enough for the container).
    const VP8L: &[u8] = &[0x2F, 0x02, 0x40, 0x00, 0x00, 0xAA];

    #[test]
    fn simple_file_keeps_its_bitstream_only() {
        let input = riff(&[(b"VP8L", VP8L), (b"EXIF", b"MM\0*junk")]);
        let facts = inspect(&input).unwrap();
        assert_eq!((facts.width, facts.height), (3, 2));
        assert_eq!(facts.found, [found::EXIF]);
        let (out, _) = clean(&input).unwrap();
        assert_eq!(out, riff(&[(b"VP8L", VP8L)]));
    }

    #[test]
    fn exif_in_a_simple_file_does_not_turn_it() {
        let input = riff(&[(b"VP8L", VP8L), (b"EXIF", &exif::minimal_tiff(6))]);
        let facts = inspect(&input).unwrap();
        assert_eq!(facts.orientation, 1);
        assert!(facts.found.is_empty(), "the minimal block is not metadata");
        let (out, facts) = clean(&input).unwrap();
        assert_eq!(facts.orientation, 1);
        assert_eq!(out, riff(&[(b"VP8L", VP8L)]));
    }

    #[test]
    fn extended_file_loses_exif_and_xmp_and_gets_true_flags() {
        let vp8x = [0xFF, 1, 2, 3, 2, 0, 0, 1, 0, 0];
        let mut exif_block = exif::JPEG_PREFIX.to_vec();
        exif_block.extend_from_slice(&exif::minimal_tiff(3));
        exif_block[10] = 0x49; // no longer minimal
        let input = riff(&[
            (b"VP8X", &vp8x),
            (b"VP8L", VP8L),
            (b"EXIF", &exif_block),
            (b"XMP ", b"<x:xmpmeta/>"),
            (b"ABCD", b"?"),
        ]);
        let facts = inspect(&input).unwrap();
        assert_eq!((facts.width, facts.height), (3, 2));
        assert_eq!(facts.found, [found::EXIF, found::XMP, found::UNKNOWN_CHUNK]);
        let (out, facts) = clean(&input).unwrap();
        assert_eq!(facts.orientation, 1);
        let flags = FLAG_ALPHA | FLAG_ANIMATION;
        assert_eq!(
            out,
            riff(&[
                (b"VP8X", &[flags, 0, 0, 0, 2, 0, 0, 1, 0, 0]),
                (b"VP8L", VP8L)
            ])
        );
    }

    #[test]
    fn broken_structures_are_errors() {
        let good = riff(&[(b"VP8L", VP8L)]);
        for cut in 0..good.len() {
            assert!(parse(&good[..cut]).is_err(), "cut at {cut}");
        }
        assert!(parse(&riff(&[(b"VP8X", &[0; 10]), (b"ICCP", b"x")])).is_err());
        assert!(parse(&riff(&[(b"VP8 ", &[1, 0, 0, 0x9D, 1, 0x2A, 1, 0, 1, 0])])).is_err());
        let mut lying = good.clone();
        lying[16..20].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(parse(&lying).is_err());
    }
}
