//! The repair path's messages: `POST /v1/missing`.
//!
//! A device that finds a document's dependencies missing (a damaged or restored local log)
//! asks for every change of that document it does not have, naming the heads it does have.
//! The answer is every stored change of the document that is not an ancestor of those heads,
//! in log order; if any head is unknown to the relay the answer is every change (the device
//! ignores the ones it already has). Bodies are CBOR, with the short keys below, like
//! `/v1/sync`; the types live in `noaber_core::sync::wire`.
//!
//! ```text
//! request  {"v": 1, "doc": h'<16 bytes>', "heads": [h'<32 bytes>', ...]}
//! response {"v": 1, "changes": [h'<change>', ...]}
//! ```
//!
//! Errors as everywhere: 401 without a valid token, 400 for a malformed body (a `doc` not 16
//! bytes, a head not 32 bytes, more than [`MAX_HEADS`] heads), 404 `not_found` for a document
//! the device's buurt does not hold (whether or not another buurt does).

pub use noaber_core::sync::wire::{MAX_HEADS, MissingRequest, MissingResponse};

#[cfg(test)]
mod tests {
    use noaber_core::sync::wire::{from_cbor, to_cbor};

    use serde_bytes::ByteBuf;

    use super::*;

    fn hex(b: &[u8]) -> String {
        crate::ids::hex(b)
    }

    /// The bytes of the repair messages, pinned like the sync messages.
    #[test]
    fn missing_messages_golden_bytes() -> noaber_core::Result<()> {
        let req = MissingRequest {
            v: 1,
            doc: vec![0xab; 16],
            heads: vec![ByteBuf::from(vec![0x01; 32])],
        };
        let bytes = to_cbor(&req)?;
        assert_eq!(
            hex(&bytes),
            concat!(
                "a3617601",
                "63646f6350abababababababababababababababab",
                "65686561647381",
                "58200101010101010101010101010101010101010101010101010101010101010101"
            )
        );
        assert_eq!(from_cbor::<MissingRequest>(&bytes)?, req);
        let resp = MissingResponse {
            v: 1,
            changes: vec![ByteBuf::from(vec![0x85, 0x6f])],
            more: false,
        };
        let bytes = to_cbor(&resp)?;
        assert_eq!(
            hex(&bytes),
            "a2617601676368616e67657381 42856f".replace(' ', "")
        );
        assert_eq!(from_cbor::<MissingResponse>(&bytes)?, resp);
        Ok(())
    }
}
