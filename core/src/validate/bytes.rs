//! Rule 0, before anything is decoded: the bytes' size, their chunk framing, and what a
//! compressed change inflates to ([`check_bounds`](super::check_bounds)).

use std::io::Read;

use super::{BAD_CHANGE, Rejection, TOO_LARGE, Work, reject, work};

/// The magic bytes every Automerge chunk starts with.
pub(super) const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
/// Magic (4), checksum (4), chunk type (1).
pub(super) const PREFIX: usize = 9;
pub(super) const CHUNK_CHANGE: u8 = 1;
pub(super) const CHUNK_COMPRESSED_CHANGE: u8 = 2;

/// Reads an unsigned LEB128 number as Automerge writes it: at most 10 bytes, no overflow, no
/// overlong encoding. Returns the number and how many bytes it took.
pub(super) fn read_uleb128(bytes: &[u8]) -> Option<(u64, usize)> {
    let mut value: u64 = 0;
    let mut shift: u32 = 0;
    for (i, b) in bytes.iter().take(10).enumerate() {
        let low = u64::from(b & 0x7f);
        if shift == 63 && low > 1 {
            return None; // does not fit in 64 bits
        }
        value |= low << shift;
        if b & 0x80 == 0 {
            if i > 0 && *b == 0 {
                return None; // overlong: a trailing zero byte
            }
            return Some((value, i.saturating_add(1)));
        }
        shift = shift.saturating_add(7);
    }
    None
}

/// Checks untrusted bytes before Automerge parses them: their size, that they are one
/// Automerge change chunk (type 1) or compressed change chunk (type 2) whose length field
/// matches the bytes, that a compressed change's DEFLATE body inflates to at most
/// `max_inflated` bytes, and that the work the change declares in its column metadata — its
/// operations, predecessors, dependencies, actors, expanded strings ([`Work`]) — is within the
/// per-change limits of [`crate::sync::wire`] (`MAX_CHANGE_OPS`, ...). Automerge inflates
/// without a bound and expands every run it is given, so a small input could otherwise take
/// gigabytes of memory. Nothing is expanded here: only run headers are read. Checksums and
/// the change's contents are left to Automerge.
///
/// Returns the declared work; a caller holding the document checks it with
/// [`Work::fits_document`].
///
/// # Errors
///
/// A [`Rejection`] with code `too_large` when `bytes` is longer than `max_bytes`, inflates to
/// more than `max_inflated` bytes or declares more work than allowed (the reason names the
/// limit); `bad_change` when it is not a change chunk as described.
pub fn check_bounds(
    bytes: &[u8],
    max_bytes: usize,
    max_inflated: usize,
) -> Result<Work, Rejection> {
    if bytes.len() > max_bytes {
        return Err(reject(
            TOO_LARGE,
            format!(
                "the change is {} bytes, at most {max_bytes} allowed",
                bytes.len()
            ),
        ));
    }
    let (Some(magic), Some(&chunk_type), Some(rest)) =
        (bytes.get(..4), bytes.get(8), bytes.get(PREFIX..))
    else {
        return Err(reject(BAD_CHANGE, "the bytes are too short for a change"));
    };
    if magic != MAGIC {
        return Err(reject(BAD_CHANGE, "the bytes are not an automerge chunk"));
    }
    if chunk_type != CHUNK_CHANGE && chunk_type != CHUNK_COMPRESSED_CHANGE {
        return Err(reject(
            BAD_CHANGE,
            format!("chunk type {chunk_type} is not a change (1) or compressed change (2)"),
        ));
    }
    let Some((len, used)) = read_uleb128(rest) else {
        return Err(reject(
            BAD_CHANGE,
            "the chunk length is not a valid leb128 number",
        ));
    };
    let body = rest.get(used..).unwrap_or_default();
    if u64::try_from(body.len()).ok() != Some(len) {
        return Err(reject(
            BAD_CHANGE,
            format!(
                "the chunk length says {len} bytes but {} follow",
                body.len()
            ),
        ));
    }
    let work = if chunk_type == CHUNK_COMPRESSED_CHANGE {
        let cap = u64::try_from(max_inflated)
            .unwrap_or(u64::MAX)
            .saturating_add(1);
        let mut inflated = Vec::new();
        flate2::read::DeflateDecoder::new(body)
            .take(cap)
            .read_to_end(&mut inflated)
            .map_err(|_| reject(BAD_CHANGE, "the compressed change does not inflate"))?;
        if u64::try_from(inflated.len()).unwrap_or(u64::MAX) >= cap {
            return Err(reject(
                TOO_LARGE,
                format!("the compressed change inflates to more than {max_inflated} bytes"),
            ));
        }
        work::declared(&inflated)?
    } else {
        work::declared(body)?
    };
    work.check()?;
    Ok(work)
}
