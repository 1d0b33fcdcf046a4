//! Photos made safe to store and send: metadata stripped, pixels untouched.
//!
//! A phone's photo says far more than its pixels: where it was taken (EXIF GPS), with which
//! device (serial numbers), when, by whom (XMP, IPTC, comments), and often a second, smaller
//! copy of the picture (EXIF and JFIF thumbnails, MPF secondary images) that may show what the
//! main image was cropped to hide. A report photo of a broken light in a basement must not tell
//! the neighbourhood where its maker lives. DESIGN.md (Privacy): photos lose their metadata on
//! the device, before they are stored or sent; the relay re-checks with [`inspect`].
//!
//! [`clean`] takes untrusted bytes and returns bytes that keep only what renders the image:
//!
//! | format | kept | dropped |
//! |---|---|---|
//! | JPEG | SOI, DQT, DHT, DAC, SOF*, DRI, DNL, SOS + scan data, EOI, APP0 JFIF (its thumbnail removed), APP2 ICC profile, APP14 Adobe | APP1 EXIF and XMP, APP13 IPTC/Photoshop, COM, APP0 JFXX, APP2 MPF, every other APPn, anything after EOI |
//! | PNG | IHDR, PLTE, IDAT, IEND, gAMA, cHRM, sRGB, iCCP, sBIT, pHYs, tRNS | eXIf, tEXt, zTXt, iTXt, tIME, every other ancillary chunk, anything after IEND |
//! | WebP | VP8, VP8L, VP8X (flags fixed), ALPH, ANIM, ANMF, ICCP | EXIF, XMP, unknown chunks, anything after the RIFF end |
//!
//! **Orientation.** A camera stores the picture as the sensor saw it and says in EXIF how to
//! turn it. Dropping that would turn the picture sideways, so when the original orientation is
//! not 1 the output carries a minimal EXIF block with the Orientation tag only (big-endian
//! TIFF, IFD0 with one entry, no further IFD): 26 bytes that say nothing about the maker.
//!
//! **No re-encoding.** The compressed image data (JPEG scans, PNG IDAT, WebP bitstreams) is
//! copied byte for byte, so quality is never lost and the decoded pixels are identical.
//!
//! **Untrusted input.** The type is sniffed from the content, never from a name. Input is
//! bounded by [`MAX_PHOTO_BYTES`] before anything else is looked at; every length field is
//! checked against the bytes actually there, with checked arithmetic, so truncated or hostile
//! input gives a [`PhotoError`], never a panic (property-tested, and fuzzed by
//! `fuzz/fuzz_targets/photo_clean.rs`).
//!
//! [`clean`]'s output always [`inspect`]s as clean, and cleaning is idempotent:
//! `clean(clean(x)) == clean(x)`.

mod exif;
mod jpeg;
mod png;
mod webp;

/// The largest photo accepted, in bytes (15 MB, the limit of a report's photo reference and of
/// the relay). Checked before anything else.
pub const MAX_PHOTO_BYTES: usize = 15_000_000;

/// Labels of the metadata [`inspect`] reports in [`ImageInfo::metadata_found`].
pub mod found {
    /// An EXIF block other than the minimal orientation-only one [`super::clean`] writes.
    pub const EXIF: &str = "exif";
    /// An EXIF block with a GPS directory (a position).
    pub const GPS: &str = "gps";
    /// An embedded thumbnail: EXIF IFD1, a JFIF thumbnail or a JFXX segment.
    pub const THUMBNAIL: &str = "thumbnail";
    /// XMP (JPEG APP1, PNG iTXt `XML:com.adobe.xmp`, WebP `XMP ` chunk).
    pub const XMP: &str = "xmp";
    /// IPTC / Photoshop (JPEG APP13).
    pub const IPTC: &str = "iptc";
    /// A JPEG comment (COM).
    pub const COMMENT: &str = "comment";
    /// MPF secondary images (JPEG APP2 `MPF`).
    pub const MPF: &str = "mpf";
    /// PNG text chunks (tEXt, zTXt, iTXt other than XMP).
    pub const TEXT: &str = "text";
    /// The PNG tIME chunk (last modification time).
    pub const TIME: &str = "time";
    /// Bytes after the end of the image (JPEG EOI, PNG IEND, WebP RIFF end).
    pub const TRAILING_DATA: &str = "trailing-data";
    /// A JPEG segment that is neither image data nor an allowed APPn.
    pub const UNKNOWN_SEGMENT: &str = "unknown-segment";
    /// A PNG or WebP chunk that is neither image data nor an allowed colour chunk.
    pub const UNKNOWN_CHUNK: &str = "unknown-chunk";
}

/// The image formats accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaType {
    /// JPEG (JFIF or EXIF).
    Jpeg,
    /// PNG.
    Png,
    /// WebP, simple (lossy or lossless) or extended.
    Webp,
}

impl MediaType {
    /// The MIME type: `image/jpeg`, `image/png` or `image/webp`.
    pub fn as_mime(self) -> &'static str {
        match self {
            MediaType::Jpeg => "image/jpeg",
            MediaType::Png => "image/png",
            MediaType::Webp => "image/webp",
        }
    }
}

/// A photo made safe to store and send, by [`clean`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cleaned {
    /// The image without metadata; its compressed data is the original's, byte for byte.
    pub bytes: Vec<u8>,
    /// What the bytes are.
    pub media_type: MediaType,
    /// Width in pixels as stored (before orientation is applied).
    pub width: u32,
    /// Height in pixels as stored (before orientation is applied).
    pub height: u32,
    /// The EXIF orientation kept (1 to 8; 1 is upright, 6 turns 90° clockwise for display).
    /// Anything other than 1 is written into the output as a minimal EXIF block.
    pub orientation: u8,
}

/// What an image is and which metadata it carries, by [`inspect`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageInfo {
    /// What the bytes are.
    pub media_type: MediaType,
    /// Width in pixels as stored.
    pub width: u32,
    /// Height in pixels as stored.
    pub height: u32,
    /// The EXIF orientation (1 to 8; 1 when there is none or it is out of range).
    pub orientation: u8,
    /// The kinds of metadata found that [`clean`] would remove, each once, in the order first
    /// met (labels from [`found`]). Empty for [`clean`]'s output.
    pub metadata_found: Vec<&'static str>,
}

impl ImageInfo {
    /// Whether the image carries no metadata beyond what [`clean`] keeps.
    pub fn is_clean(&self) -> bool {
        self.metadata_found.is_empty()
    }
}

/// Why a photo was refused. Messages never carry the photo's content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PhotoError {
    /// Zero bytes.
    #[error("the photo is empty")]
    Empty,
    /// More than [`MAX_PHOTO_BYTES`].
    #[error("the photo is {size} bytes, more than the {max} allowed")]
    TooLarge {
        /// The size given.
        size: usize,
        /// [`MAX_PHOTO_BYTES`].
        max: usize,
    },
    /// A recognisable format that is not accepted.
    #[error("{format} is not supported: {hint}")]
    Unsupported {
        /// What the bytes look like (`HEIC/HEIF`, `GIF`, `PDF`, ...).
        format: &'static str,
        /// What to do instead.
        hint: &'static str,
    },
    /// Neither an accepted format nor a recognisable one.
    #[error("not an image: expected JPEG, PNG or WebP")]
    NotAnImage,
    /// An accepted format whose structure is broken (truncated, bad lengths, missing parts).
    #[error("malformed {format}: {reason}")]
    Malformed {
        /// `JPEG`, `PNG` or `WebP`.
        format: &'static str,
        /// What is wrong, with the byte offset where that helps.
        reason: String,
    },
}

impl From<PhotoError> for crate::Error {
    fn from(e: PhotoError) -> Self {
        crate::Error::InvalidInput {
            field: "photo",
            reason: e.to_string(),
        }
    }
}

/// Strips every kind of metadata from a JPEG, PNG or WebP photo and keeps its orientation.
///
/// See the [module docs](self) for what is kept and dropped.
///
/// # Errors
///
/// [`PhotoError::TooLarge`] over [`MAX_PHOTO_BYTES`] (input, or output with the orientation
/// block added), [`PhotoError::Empty`], [`PhotoError::Unsupported`] for a recognisable other
/// format (HEIC, GIF, TIFF, PDF, ...), [`PhotoError::NotAnImage`], and
/// [`PhotoError::Malformed`] for a broken JPEG, PNG or WebP.
pub fn clean(bytes: &[u8]) -> Result<Cleaned, PhotoError> {
    let media_type = sniff(bytes)?;
    let (out, facts) = match media_type {
        MediaType::Jpeg => jpeg::clean(bytes)?,
        MediaType::Png => png::clean(bytes)?,
        MediaType::Webp => webp::clean(bytes)?,
    };
    if out.len() > MAX_PHOTO_BYTES {
        return Err(PhotoError::TooLarge {
            size: out.len(),
            max: MAX_PHOTO_BYTES,
        });
    }
    Ok(Cleaned {
        bytes: out,
        media_type,
        width: facts.width,
        height: facts.height,
        orientation: facts.orientation,
    })
}

/// Reads an image's type, dimensions and the metadata it carries, without changing it.
///
/// The relay's defence in depth: an upload whose `metadata_found` is not empty was not
/// cleaned (an old or modified client).
///
/// # Errors
///
/// The same as [`clean`].
pub fn inspect(bytes: &[u8]) -> Result<ImageInfo, PhotoError> {
    let media_type = sniff(bytes)?;
    let facts = match media_type {
        MediaType::Jpeg => jpeg::inspect(bytes)?,
        MediaType::Png => png::inspect(bytes)?,
        MediaType::Webp => webp::inspect(bytes)?,
    };
    Ok(ImageInfo {
        media_type,
        width: facts.width,
        height: facts.height,
        orientation: facts.orientation,
        metadata_found: facts.found,
    })
}

/// Tells the format from the first bytes, never from a name.
///
/// # Errors
///
/// [`PhotoError::TooLarge`], [`PhotoError::Empty`], [`PhotoError::Unsupported`] naming the
/// format when it is recognisable, else [`PhotoError::NotAnImage`].
pub fn sniff(bytes: &[u8]) -> Result<MediaType, PhotoError> {
    if bytes.len() > MAX_PHOTO_BYTES {
        return Err(PhotoError::TooLarge {
            size: bytes.len(),
            max: MAX_PHOTO_BYTES,
        });
    }
    if bytes.is_empty() {
        return Err(PhotoError::Empty);
    }
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Ok(MediaType::Jpeg);
    }
    if bytes.starts_with(png::SIGNATURE) {
        return Ok(MediaType::Png);
    }
    if bytes.starts_with(b"RIFF") && bytes.get(8..12) == Some(b"WEBP".as_slice()) {
        return Ok(MediaType::Webp);
    }
    Err(match unsupported(bytes) {
        Some((format, hint)) => PhotoError::Unsupported { format, hint },
        None => PhotoError::NotAnImage,
    })
}

const USE_ACCEPTED: &str = "use a JPEG, PNG or WebP photo";

/// Names the formats people are likely to pick by mistake.
fn unsupported(bytes: &[u8]) -> Option<(&'static str, &'static str)> {
    if bytes.get(4..8) == Some(b"ftyp".as_slice()) {
        let brand = bytes.get(8..12)?;
        return Some(match brand {
            b"heic" | b"heix" | b"hevc" | b"hevx" | b"heim" | b"heis" | b"mif1" | b"msf1" => {
                ("HEIC/HEIF", "convert to JPEG first")
            }
            b"avif" | b"avis" => ("AVIF", "convert to JPEG first"),
            _ => ("a video (MP4/QuickTime)", "take a photo instead"),
        });
    }
    let starts = |magic: &[u8]| bytes.starts_with(magic);
    if starts(b"GIF87a") || starts(b"GIF89a") {
        return Some(("GIF", USE_ACCEPTED));
    }
    if starts(b"II*\0") || starts(b"MM\0*") {
        return Some(("TIFF (or camera raw)", "convert to JPEG first"));
    }
    if starts(b"%PDF-") {
        return Some(("PDF", USE_ACCEPTED));
    }
    if starts(&[0xFF, 0x0A]) || starts(b"\0\0\0\x0CJXL \r\n\x87\n") {
        return Some(("JPEG XL", "convert to JPEG first"));
    }
    if starts(b"8BPS") {
        return Some(("a Photoshop document", USE_ACCEPTED));
    }
    if starts(b"BM") && bytes.get(6..10) == Some([0, 0, 0, 0].as_slice()) {
        return Some(("BMP", USE_ACCEPTED));
    }
    if starts(b"\0\0\x01\0") {
        return Some(("an icon (ICO)", USE_ACCEPTED));
    }
    let head = bytes.get(..bytes.len().min(512)).unwrap_or_default();
    let text = String::from_utf8_lossy(head);
    let text = text.trim_start();
    if text.starts_with("<svg") || (text.starts_with("<?xml") && text.contains("<svg")) {
        return Some(("SVG", USE_ACCEPTED));
    }
    None
}

/// What a format parser learned.
pub(crate) struct Facts {
    pub(crate) width: u32,
    pub(crate) height: u32,
    pub(crate) orientation: u8,
    pub(crate) found: Vec<&'static str>,
}

impl Facts {
    fn note(&mut self, what: &'static str) {
        if !self.found.contains(&what) {
            self.found.push(what);
        }
    }

    /// Notes what an EXIF block (a TIFF structure) carries; the first block seen in a file
    /// gives the orientation (`seen_exif` tracks that across a file's blocks).
    fn note_exif(&mut self, tiff: &[u8], seen_exif: &mut bool) {
        let summary = exif::summarize(tiff);
        if !*seen_exif {
            *seen_exif = true;
            self.orientation = summary.orientation.unwrap_or(1);
        }
        if !exif::is_minimal(tiff) {
            self.note(found::EXIF);
        }
        if summary.gps {
            self.note(found::GPS);
        }
        if summary.thumbnail {
            self.note(found::THUMBNAIL);
        }
    }
}

/// Bounded reads: `None` past the end, never a panic.
fn array<const N: usize>(b: &[u8], at: usize) -> Option<[u8; N]> {
    b.get(at..at.checked_add(N)?)?.try_into().ok()
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    array(b, at).map(u16::from_be_bytes)
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    array(b, at).map(u32::from_be_bytes)
}

fn le16(b: &[u8], at: usize) -> Option<u16> {
    array(b, at).map(u16::from_le_bytes)
}

fn le32(b: &[u8], at: usize) -> Option<u32> {
    array(b, at).map(u32::from_le_bytes)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_by_content_and_names_what_it_refuses() {
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), Ok(MediaType::Jpeg));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n...."), Ok(MediaType::Png));
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), Ok(MediaType::Webp));
        assert_eq!(sniff(b""), Err(PhotoError::Empty));
        let heic = b"\0\0\0\x18ftypheic\0\0\0\0mif1heic";
        let err = sniff(heic).unwrap_err();
        assert_eq!(
            err.to_string(),
            "HEIC/HEIF is not supported: convert to JPEG first"
        );
        assert!(matches!(
            sniff(b"GIF89a\x01\0"),
            Err(PhotoError::Unsupported { format: "GIF", .. })
        ));
        assert!(matches!(
            sniff(b"%PDF-1.7"),
            Err(PhotoError::Unsupported { format: "PDF", .. })
        ));
        assert!(matches!(
            sniff(b"II*\0\x08\0\0\0"),
            Err(PhotoError::Unsupported { .. })
        ));
        assert!(matches!(
            sniff(b" <svg xmlns="),
            Err(PhotoError::Unsupported { format: "SVG", .. })
        ));
        assert_eq!(sniff(b"hello, world"), Err(PhotoError::NotAnImage));
        assert_eq!(sniff(b"RIFF\0\0\0\0WAVEfmt "), Err(PhotoError::NotAnImage));
        assert_eq!(
            PhotoError::NotAnImage.to_string(),
            "not an image: expected JPEG, PNG or WebP"
        );
    }

    #[test]
    fn size_is_checked_first() {
        let big = vec![0xFF; MAX_PHOTO_BYTES + 1];
        assert_eq!(
            clean(&big),
            Err(PhotoError::TooLarge {
                size: MAX_PHOTO_BYTES + 1,
                max: MAX_PHOTO_BYTES
            })
        );
        let e: crate::Error = PhotoError::Empty.into();
        assert!(matches!(
            e,
            crate::Error::InvalidInput { field: "photo", .. }
        ));
        assert_eq!(e.to_string(), "invalid `photo`: the photo is empty");
    }

    #[test]
    fn bounded_reads_never_panic() {
        let b = [1, 2, 3];
        assert_eq!(be16(&b, 1), Some(0x0203));
        assert_eq!(be16(&b, 2), None);
        assert_eq!(be32(&b, usize::MAX), None);
        assert_eq!(le32(&b, 0), None);
        assert_eq!(le16(&b, 0), Some(0x0201));
    }
}
