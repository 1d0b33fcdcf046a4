//! Just enough EXIF (TIFF structure) to read the orientation and tell what a block carries,
//! and to write the minimal orientation-only block.
//!
//! The minimal block is big-endian TIFF: header (8 bytes), IFD0 with one entry (Orientation,
//! SHORT, count 1), next-IFD offset 0. Nothing else, so it names no device, time or place.

/// The prefix of EXIF in a JPEG APP1 segment (and, from some writers, in WebP and PNG).
pub(super) const JPEG_PREFIX: &[u8] = b"Exif\0\0";

const TAG_ORIENTATION: u16 = 0x0112;
const TAG_GPS_IFD: u16 = 0x8825;
const TYPE_SHORT: u16 = 3;
/// More IFD0 entries than any camera writes; a larger count is garbage.
const MAX_ENTRIES: usize = 1_000;

/// The 26-byte TIFF block carrying only `orientation`.
pub(super) fn minimal_tiff(orientation: u8) -> [u8; 26] {
    [
        b'M',
        b'M',
        0,
        42,
        0,
        0,
        0,
        8, // header: big-endian, IFD0 at offset 8
        0,
        1, // one entry
        0x01,
        0x12,
        0,
        3,
        0,
        0,
        0,
        1,
        0,
        orientation,
        0,
        0, // Orientation, SHORT, 1, value
        0,
        0,
        0,
        0, // no next IFD (no thumbnail)
    ]
}

/// Whether `tiff` is exactly the minimal block [`minimal_tiff`] writes for a non-upright
/// orientation (the only EXIF a cleaned image may carry).
pub(super) fn is_minimal(tiff: &[u8]) -> bool {
    (2..=8).any(|o| tiff == minimal_tiff(o))
}

/// What an EXIF block says, as far as cleaning cares.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Summary {
    /// The Orientation tag when it is 1 to 8.
    pub(super) orientation: Option<u8>,
    /// IFD0 points to a GPS directory.
    pub(super) gps: bool,
    /// IFD0 is followed by IFD1 (the thumbnail's directory).
    pub(super) thumbnail: bool,
}

/// Strips the `Exif\0\0` prefix some containers put before the TIFF header.
pub(super) fn tiff_of(block: &[u8]) -> &[u8] {
    block.strip_prefix(JPEG_PREFIX).unwrap_or(block)
}

/// Reads IFD0 of a TIFF block. Unreadable input gives an empty summary: the block is dropped
/// anyway, and a broken EXIF must not make a photo unusable.
pub(super) fn summarize(tiff: &[u8]) -> Summary {
    read(tiff).unwrap_or_default()
}

fn read(tiff: &[u8]) -> Option<Summary> {
    let big = match tiff.get(..4)? {
        b"MM\0*" => true,
        b"II*\0" => false,
        _ => return None,
    };
    let u16_at = |at: usize| {
        super::array::<2>(tiff, at).map(|a| {
            if big {
                u16::from_be_bytes(a)
            } else {
                u16::from_le_bytes(a)
            }
        })
    };
    let u32_at = |at: usize| {
        super::array::<4>(tiff, at).map(|a| {
            if big {
                u32::from_be_bytes(a)
            } else {
                u32::from_le_bytes(a)
            }
        })
    };
    let ifd0 = usize::try_from(u32_at(4)?).ok()?;
    let count = usize::from(u16_at(ifd0)?);
    if count > MAX_ENTRIES {
        return None;
    }
    let mut summary = Summary::default();
    let first = ifd0.checked_add(2)?;
    for i in 0..count {
        let entry = first.checked_add(i.checked_mul(12)?)?;
        let tag = u16_at(entry)?;
        if tag == TAG_ORIENTATION && u16_at(entry.checked_add(2)?)? == TYPE_SHORT {
            let value = u16_at(entry.checked_add(8)?)?;
            summary.orientation = u8::try_from(value).ok().filter(|o| (1..=8).contains(o));
        } else if tag == TAG_GPS_IFD {
            summary.gps = true;
        }
    }
    let next = first.checked_add(count.checked_mul(12)?)?;
    summary.thumbnail = u32_at(next).is_some_and(|n| n != 0);
    Some(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_block_reads_back_and_is_recognised() {
        for o in 1..=8 {
            let block = minimal_tiff(o);
            let s = summarize(&block);
            assert_eq!(s.orientation, Some(o));
            assert!(!s.gps && !s.thumbnail);
            assert_eq!(is_minimal(&block), o != 1);
        }
        let mut other = minimal_tiff(6);
        other[19] = 9;
        assert!(!is_minimal(&other));
        assert_eq!(summarize(&other).orientation, None);
    }

    #[test]
    fn garbage_gives_an_empty_summary() {
        assert_eq!(summarize(b""), Summary::default());
        assert_eq!(summarize(b"MM\0*\xff\xff\xff\xff"), Summary::default());
        assert_eq!(summarize(b"II*\0\x08\0\0\0\xff\xff"), Summary::default());
        assert_eq!(tiff_of(b"Exif\0\0MM"), b"MM");
    }
}
