//! The sync protocol's messages, version 1 — the exact bytes on the wire.
//!
//! These types are the wire format and nothing else: domain types never derive `Serialize`
//! for the wire; the engine converts by hand. Bodies of `/v1/sync` are CBOR (RFC 8949) maps
//! with the short keys below; `/v1/join` and errors are JSON. `docs/protocol.md` is the
//! normative description; `tests` below pin the bytes (golden tests), because old app versions
//! stay in the field.
//!
//! Compatibility rules: a field is never renamed or re-typed within a version; new optional
//! fields may be added (decoders ignore unknown keys); anything else is a new version `v`.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The protocol version this code speaks.
pub const PROTOCOL_VERSION: u32 = 1;

/// Media type of CBOR bodies.
pub const CBOR: &str = "application/cbor";

/// Most changes one sync request may push.
pub const MAX_PUSH: usize = 1_000;
pub use crate::limits::{
    MAX_CHANGE_ACTORS, MAX_CHANGE_BYTES, MAX_CHANGE_DEPS, MAX_CHANGE_OPS, MAX_CHANGE_PREDS,
    MAX_DOC_OPS, MAX_INFLATED_BYTES,
};
/// Most operations the changes of one push may declare together (a relay validates a push as
/// one piece of work); a device splits its pushes to stay under it.
pub const MAX_PUSH_OPS: u64 = 1_000_000;
/// Largest request body the relay reads.
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;
/// Most changes one response pulls (a page); the client asks again while `more`.
pub const MAX_PULL: usize = 2_000;

/// `POST /v1/join` request (JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinRequest {
    /// Protocol version, `1`.
    pub v: u32,
    /// The invite code, as given by an organiser.
    pub invite: String,
    /// The name other members see.
    pub display_name: String,
    /// The device's member id (32 hex digits), created with its store.
    pub member: String,
    /// The device's Automerge actor ids (hex) that its changes will carry.
    pub actors: Vec<String>,
    /// 64 lowercase hex digits (32 random bytes) the device generated for this join and stored
    /// before sending: the same request again (an answer lost) gets the same device and token.
    /// Absent from older clients (then a retry is refused as before).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub join_secret: Option<String>,
}

/// `POST /v1/join` response (JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinResponse {
    /// Protocol version, `1`.
    pub v: u32,
    /// The buurt joined (32 hex digits).
    pub buurt: String,
    /// Its name.
    pub buurt_name: String,
    /// The member id, as registered.
    pub member: String,
    /// The role the invite gave.
    pub role: String,
    /// This device's id.
    pub device: String,
    /// The device's secret token: sent as `Authorization: Bearer <token>`; shown once.
    pub token: String,
}

/// One change pushed by a device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushChange {
    /// The document (entity) id, 16 bytes.
    #[serde(with = "serde_bytes")]
    pub doc: Vec<u8>,
    /// The raw Automerge change.
    #[serde(with = "serde_bytes")]
    pub change: Vec<u8>,
}

/// `POST /v1/sync` request (CBOR).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncRequest {
    /// Protocol version, `1`.
    pub v: u32,
    /// The highest log sequence number the device has pulled (0 at first).
    pub cursor: u64,
    /// Changes the device made since its last acknowledgement, oldest first.
    #[serde(default)]
    pub push: Vec<PushChange>,
    /// Largest page the device wants pulled (the relay caps it at its own maximum).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<u32>,
}

/// Why one pushed change was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejected {
    /// Index of the change in the request's `push`.
    pub i: u32,
    /// Stable machine code (`actor_not_yours`, `forged_entry`, ...; see the protocol).
    pub code: String,
    /// A sentence for developers.
    pub reason: String,
}

/// One change pulled from the buurt's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullChange {
    /// Its sequence number in the buurt's log.
    pub seq: u64,
    /// The document (entity) id, 16 bytes.
    #[serde(with = "serde_bytes")]
    pub doc: Vec<u8>,
    /// The raw Automerge change.
    #[serde(with = "serde_bytes")]
    pub change: Vec<u8>,
}

/// `POST /v1/sync` response (CBOR). Sent only after every accepted change is durable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncResponse {
    /// Protocol version, `1`.
    pub v: u32,
    /// The pushed changes that were refused; every other pushed change is accepted and
    /// durable (including ones the relay already had).
    #[serde(default)]
    pub rejected: Vec<Rejected>,
    /// Changes with `cursor < seq <= new cursor`, in order, except those this device pushed.
    #[serde(default)]
    pub pull: Vec<PullChange>,
    /// The new cursor.
    pub cursor: u64,
    /// Whether more changes wait beyond `cursor` (ask again).
    pub more: bool,
    /// The log's head when the response was made (optional; added within v1): with `cursor`
    /// it tells a UI how far a long pull has come.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head: Option<u64>,
    /// The member's role now (optional; added within v1): a device learns a role change at
    /// its next sync instead of by having changes refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
}

/// Most heads a request may name.
pub const MAX_HEADS: usize = 1_024;

/// `POST /v1/missing` request (CBOR).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MissingRequest {
    /// Protocol version, `1`.
    pub v: u32,
    /// The document (entity) id, 16 bytes.
    #[serde(with = "serde_bytes")]
    pub doc: Vec<u8>,
    /// The document's heads on the device (32-byte change hashes); empty asks for everything.
    #[serde(default)]
    pub heads: Vec<serde_bytes::ByteBuf>,
}

/// `POST /v1/missing` response (CBOR).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MissingResponse {
    /// Protocol version, `1`.
    pub v: u32,
    /// The raw Automerge changes the device lacks, in log order.
    pub changes: Vec<serde_bytes::ByteBuf>,
    /// More changes are left after these (the answer is bounded): ask again with the heads
    /// these give. Absent means `false` (and is how older relays answer).
    #[serde(default, skip_serializing_if = "is_false")]
    pub more: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A live notification (WebSocket text frame, JSON): the buurt's log reached `head`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveHead {
    /// The highest sequence number in the buurt's log.
    pub head: u64,
}

/// Where a photo upload stands (JSON): the answer of `GET` and `PUT /v1/uploads/{hash}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadStatus {
    /// Protocol version, `1`.
    pub v: u32,
    /// Bytes of this device's upload the relay holds durably (the photo's size when complete).
    pub offset: u64,
    /// Whether the relay holds the whole photo.
    pub complete: bool,
}

/// The header naming where a chunk starts (and, on `409 offset_mismatch`, where to resume).
pub const UPLOAD_OFFSET: &str = "upload-offset";
/// The header naming a photo's total size on every chunk.
pub const UPLOAD_LENGTH: &str = "upload-length";
/// Most bytes one `PUT /v1/uploads/{hash}` may carry (1 MiB).
pub const MAX_UPLOAD_CHUNK: usize = 1 << 20;

/// An error body (JSON), with any 4xx/5xx status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// The error inside [`ErrorBody`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// Stable machine code (`unauthorized`, `payload_too_large`, ...).
    pub code: String,
    /// A sentence for developers; never personal data.
    pub message: String,
}

/// Encodes a message as CBOR.
///
/// # Errors
///
/// [`Error::Other`] if serialisation fails (it does not for these types).
pub fn to_cbor<T: Serialize>(msg: &T) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    ciborium::into_writer(msg, &mut out)
        .map_err(|e| Error::Other(format!("cbor encoding: {e}")))?;
    Ok(out)
}

/// Decodes a CBOR message from untrusted bytes (nesting depth is bounded by the decoder).
///
/// # Errors
///
/// [`Error::InvalidInput`] (`field` = `body`) for anything that is not a valid message.
pub fn from_cbor<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    ciborium::de::from_reader_with_recursion_limit(bytes, 16)
        .map_err(|e| Error::invalid("body", format!("not a valid message: {e}")))
}

/// Decodes a 16-byte document id into an [`crate::EntityId`].
///
/// # Errors
///
/// [`Error::InvalidInput`] unless exactly 16 bytes.
pub fn doc_id(bytes: &[u8]) -> Result<crate::EntityId> {
    if bytes.len() != 16 {
        return Err(Error::invalid(
            "doc",
            format!("is {} bytes, 16 expected", bytes.len()),
        ));
    }
    crate::EntityId::parse(&crate::ids::hex(bytes))
}

/// The 16 bytes of an entity id.
pub fn doc_bytes(id: &crate::EntityId) -> Vec<u8> {
    let s = id.as_str().as_bytes();
    let nibble = |c: u8| match c {
        b'0'..=b'9' => c - b'0',
        _ => c - b'a' + 10,
    };
    s.chunks(2)
        .map(|p| (nibble(p[0]) << 4) | nibble(p[1]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        crate::ids::hex(b)
    }

    /// The bytes of a v1 sync request, pinned: changing them breaks every app in the field.
    #[test]
    fn sync_request_golden_bytes() -> Result<()> {
        let req = SyncRequest {
            v: 1,
            cursor: 42,
            push: vec![PushChange {
                doc: vec![0xab; 16],
                change: vec![0x85, 0x6f, 0x4a, 0x83],
            }],
            max: None,
        };
        let bytes = to_cbor(&req)?;
        assert_eq!(
            hex(&bytes),
            "a361760166637572736f72182a6470757368 81a263646f6350abababababababababababababababab666368616e6765 44856f4a83"
                .replace(' ', "")
        );
        assert_eq!(from_cbor::<SyncRequest>(&bytes)?, req);
        Ok(())
    }

    #[test]
    fn sync_response_golden_bytes() -> Result<()> {
        let resp = SyncResponse {
            v: 1,
            rejected: vec![Rejected {
                i: 0,
                code: "forged_entry".into(),
                reason: "x".into(),
            }],
            pull: vec![PullChange {
                seq: 7,
                doc: vec![1; 16],
                change: vec![2],
            }],
            cursor: 7,
            more: false,
            head: None,
            role: None,
        };
        let bytes = to_cbor(&resp)?;
        assert_eq!(
            hex(&bytes),
            concat!(
                "a5617601687265",
                "6a656374656481a3616900",
                "64636f64656c666f726765645f656e747279",
                "66726561736f6e6178",
                "6470756c6c81a3637365710763646f635001010101010101010101010101010101",
                "666368616e67654102",
                "66637572736f7207646d6f7265f4"
            )
        );
        assert_eq!(from_cbor::<SyncResponse>(&bytes)?, resp);
        Ok(())
    }

    #[test]
    fn unknown_keys_are_ignored_and_garbage_refused() -> Result<()> {
        // A newer client adds a key: older relays still read the message.
        let mut value: ciborium::Value = ciborium::Value::Map(vec![
            ("v".into(), 1.into()),
            ("cursor".into(), 3.into()),
            ("future".into(), "x".into()),
        ]);
        let mut bytes = Vec::new();
        ciborium::into_writer(&value, &mut bytes).map_err(|e| Error::Other(e.to_string()))?;
        let req: SyncRequest = from_cbor(&bytes)?;
        assert_eq!((req.cursor, req.push.len()), (3, 0));
        value = ciborium::Value::Array(vec![]);
        bytes.clear();
        ciborium::into_writer(&value, &mut bytes).map_err(|e| Error::Other(e.to_string()))?;
        assert!(from_cbor::<SyncRequest>(&bytes).is_err());
        assert!(from_cbor::<SyncRequest>(b"\xff\xff").is_err());
        // Deep nesting is refused, not a stack overflow.
        let deep = [vec![0x81u8; 10_000], vec![0x00]].concat();
        assert!(from_cbor::<SyncRequest>(&deep).is_err());
        Ok(())
    }

    /// The upload status as the relay sends it, pinned.
    #[test]
    fn upload_status_golden_json() -> Result<()> {
        let st = UploadStatus {
            v: 1,
            offset: 262_144,
            complete: false,
        };
        let json = serde_json::to_string(&st).map_err(|e| Error::Other(e.to_string()))?;
        assert_eq!(json, r#"{"v":1,"offset":262144,"complete":false}"#);
        let newer: UploadStatus =
            serde_json::from_str(r#"{"v":1,"offset":5,"complete":true,"later":0}"#)
                .map_err(|e| Error::Other(e.to_string()))?;
        assert_eq!((newer.offset, newer.complete), (5, true));
        Ok(())
    }

    #[test]
    fn doc_ids_round_trip() -> Result<()> {
        let id = crate::EntityId::new()?;
        assert_eq!(doc_id(&doc_bytes(&id))?, id);
        assert!(doc_id(&[0; 15]).is_err());
        Ok(())
    }
}
