//! Identifiers: entity ids, member ids and the device's Automerge actor id.
//!
//! Ids are random (128 bits from the OS), rendered as 32 lowercase hex digits. They carry no
//! meaning and no personal data, so they may appear in logs.

use std::fmt;

use crate::error::{Error, Result};

/// Random bytes from the operating system.
pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).map_err(|e| Error::Other(format!("no randomness available: {e}")))?;
    Ok(buf)
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 0xf) as usize] as char);
    }
    s
}

/// A fresh random id: 32 hex digits.
pub(crate) fn new_hex_id() -> Result<String> {
    Ok(hex(&random_bytes::<16>()?))
}

/// A short random id for entries inside a document (64 bits: collisions within one document
/// are not a practical concern, and shorter keys keep changes small).
pub(crate) fn new_entry_id() -> Result<String> {
    Ok(hex(&random_bytes::<8>()?))
}

fn is_hex_id(s: &str, len: usize) -> bool {
    s.len() == len
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The id of one entity (one Automerge document): 32 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct EntityId(String);

impl EntityId {
    /// A new random entity id.
    ///
    /// # Errors
    ///
    /// Fails only when the operating system has no randomness to give.
    pub fn new() -> Result<Self> {
        Ok(EntityId(new_hex_id()?))
    }

    /// Parses an id as printed by [`EntityId::as_str`].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] unless `s` is 32 lowercase hex digits.
    pub fn parse(s: &str) -> Result<Self> {
        if is_hex_id(s, 32) {
            Ok(EntityId(s.to_owned()))
        } else {
            Err(Error::invalid(
                "id",
                format!("`{s}` is not 32 lowercase hex digits"),
            ))
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EntityId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The id of a member (a person in a buurt). Created on the device with the store; a later
/// "join" may register it with a relay.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct MemberId(String);

impl MemberId {
    /// A new random member id.
    ///
    /// # Errors
    ///
    /// Fails only when the operating system has no randomness to give.
    pub fn new() -> Result<Self> {
        Ok(MemberId(new_hex_id()?))
    }

    /// Parses a member id (32 lowercase hex digits).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for anything else.
    pub fn parse(s: &str) -> Result<Self> {
        if is_hex_id(s, 32) {
            Ok(MemberId(s.to_owned()))
        } else {
            Err(Error::invalid(
                "member",
                format!("`{s}` is not 32 lowercase hex digits"),
            ))
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Wraps a string read from a document without checking it; documents from other
    /// devices may carry ids we cannot vouch for, and they are only ever compared.
    pub(crate) fn from_doc(s: String) -> Self {
        MemberId(s)
    }
}

impl fmt::Display for MemberId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_reject_garbage() -> Result<()> {
        let id = EntityId::new()?;
        assert_eq!(EntityId::parse(id.as_str())?, id);
        assert!(EntityId::parse("").is_err());
        assert!(EntityId::parse("ABCDEF0123456789abcdef0123456789").is_err());
        assert!(EntityId::parse("../../etc/passwd").is_err());
        assert!(MemberId::parse(&"a".repeat(33)).is_err());
        Ok(())
    }
}
