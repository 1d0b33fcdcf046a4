//! Identifiers the relay mints (buurt and device ids), secrets (tokens), and hex helpers.
//!
//! Ids are 128 random bits rendered as 32 lowercase hex digits, like the core's entity and
//! member ids: they carry no meaning and no personal data, so they may appear in logs. Tokens
//! are 256 random bits; only their SHA-256 is stored and they never appear in logs.

use std::fmt;

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// Random bytes from the operating system.
pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).map_err(|e| Error::Other(format!("no randomness available: {e}")))?;
    Ok(buf)
}

/// Lowercase hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len().saturating_mul(2));
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    s
}

/// Decodes lowercase hex; `None` for odd lengths, upper case or other characters.
pub(crate) fn unhex(s: &str) -> Option<Vec<u8>> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        }
    }
    let bytes = s.as_bytes();
    if bytes.len() % 2 != 0 {
        return None;
    }
    bytes
        .chunks_exact(2)
        .map(|p| match p {
            [hi, lo] => Some((nibble(*hi)? << 4) | nibble(*lo)?),
            _ => None,
        })
        .collect()
}

/// SHA-256 of `bytes`.
pub(crate) fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

fn is_hex_id(s: &str) -> bool {
    s.len() == 32
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

macro_rules! hex_id {
    ($(#[$doc:meta])* $name:ident, $field:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// A new random id.
            ///
            /// # Errors
            ///
            /// Fails only when the operating system has no randomness to give.
            pub fn new() -> Result<Self> {
                Ok($name(hex(&random_bytes::<16>()?)))
            }

            /// Parses an id as printed by `as_str`.
            ///
            /// # Errors
            ///
            /// [`Error::InvalidInput`] unless `s` is 32 lowercase hex digits.
            pub fn parse(s: &str) -> Result<Self> {
                if is_hex_id(s) {
                    Ok($name(s.to_owned()))
                } else {
                    Err(Error::invalid($field, "is not 32 lowercase hex digits"))
                }
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

hex_id!(
    /// The id of a buurt (a community, the unit of membership): 32 lowercase hex digits.
    BuurtId,
    "buurt"
);
hex_id!(
    /// The id of an enrolled device: 32 lowercase hex digits.
    DeviceId,
    "device"
);

/// A device's secret: 32 random bytes, shown once as 64 hex digits. Only its SHA-256
/// ([`Token::hash`]) is stored. `Debug` does not print it.
pub struct Token([u8; 32]);

impl Token {
    /// A new random token.
    ///
    /// # Errors
    ///
    /// Fails only when the operating system has no randomness to give.
    pub fn new() -> Result<Self> {
        Ok(Token(random_bytes()?))
    }

    /// The token a join with this `join_secret` (32 bytes) gets: SHA-256 of a fixed label and
    /// the secret. A retried join derives the same token, so the relay can answer it again
    /// while storing only the token's hash.
    pub fn derived(join_secret: &[u8; 32]) -> Self {
        let mut input = Vec::with_capacity(64);
        input.extend_from_slice(b"noaber join token v1\0");
        input.extend_from_slice(join_secret);
        Token(sha256(&input))
    }

    /// Parses the 64 lowercase hex digits a device sends; `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        let bytes = unhex(s)?;
        <[u8; 32]>::try_from(bytes.as_slice()).ok().map(Token)
    }

    /// The text the device keeps and sends (64 hex digits).
    pub fn reveal(&self) -> String {
        hex(&self.0)
    }

    /// What the relay stores: SHA-256 of the token's bytes.
    pub fn hash(&self) -> [u8; 32] {
        sha256(&self.0)
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(…)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_refuses_garbage() {
        assert_eq!(
            unhex(&hex(&[0, 1, 0xab, 0xff])),
            Some(vec![0, 1, 0xab, 0xff])
        );
        assert_eq!(unhex("abc"), None);
        assert_eq!(unhex("AB"), None);
        assert_eq!(unhex("zz"), None);
    }

    #[test]
    fn ids_and_tokens_parse_what_they_print() -> Result<()> {
        let b = BuurtId::new()?;
        assert_eq!(BuurtId::parse(b.as_str())?, b);
        assert!(DeviceId::parse("x").is_err());
        let t = Token::new()?;
        let parsed = Token::parse(&t.reveal()).ok_or_else(|| Error::Other("parse".into()))?;
        assert_eq!(parsed.hash(), t.hash());
        assert!(Token::parse(&"a".repeat(63)).is_none());
        assert!(!format!("{t:?}").contains(&t.reveal()));
        Ok(())
    }
}
