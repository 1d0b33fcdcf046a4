//! Invite codes: human-typable, case-insensitive, stored only as hashes.
//!
//! A code is 12 characters from a 30-letter alphabet without look-alikes (no `0 O 1 I L U`),
//! printed in groups of four: `K7QM-3XHD-9PTA` (~59 bits). Typing it in lower case, without the
//! dashes or with spaces is fine: [`normalise`] maps all of those to the same 12 characters,
//! and only SHA-256 of that form is stored. Guessing is bounded by the join rate limit.

use crate::error::{Error, Result};
use crate::ids::{random_bytes, sha256};

/// The characters codes are made of.
const ALPHABET: &[u8; 30] = b"ABCDEFGHJKMNPQRSTVWXYZ23456789";
/// Characters in a code (without dashes).
pub const CODE_LEN: usize = 12;

/// A new random code, grouped `XXXX-XXXX-XXXX`.
///
/// # Errors
///
/// Fails only when the operating system has no randomness to give.
pub fn new_code() -> Result<String> {
    let mut chars = Vec::with_capacity(CODE_LEN);
    // Rejection sampling keeps every character equally likely: 240 = 8 × 30.
    while chars.len() < CODE_LEN {
        for b in random_bytes::<32>()? {
            if chars.len() < CODE_LEN && b < 240 {
                chars.push(ALPHABET[usize::from(b % 30)]);
            }
        }
    }
    let groups: Vec<String> = chars
        .chunks(4)
        .map(|g| String::from_utf8_lossy(g).into_owned())
        .collect();
    Ok(groups.join("-"))
}

/// The canonical form of a typed code: upper case, dashes and spaces removed.
///
/// # Errors
///
/// [`Error::InvalidInput`] (`invite`) unless exactly [`CODE_LEN`] characters of the alphabet
/// remain. The message never repeats the code.
pub fn normalise(typed: &str) -> Result<String> {
    if typed.len() > 64 {
        return Err(Error::invalid("invite", "is too long to be an invite code"));
    }
    let code: String = typed
        .chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if code.len() != CODE_LEN || !code.bytes().all(|b| ALPHABET.contains(&b)) {
        return Err(Error::invalid(
            "invite",
            format!("is not an invite code ({CODE_LEN} letters and digits, in groups of four)"),
        ));
    }
    Ok(code)
}

/// What is stored for a code: SHA-256 of its canonical form.
///
/// # Errors
///
/// As [`normalise`].
pub fn hash(typed: &str) -> Result<[u8; 32]> {
    Ok(sha256(normalise(typed)?.as_bytes()))
}

/// Parses an expiry: a duration from `now` (`30m`, `12h`, `7d`) or an RFC 3339 time; the
/// result is in ms and must lie in the future, at most a year ahead.
///
/// # Errors
///
/// [`Error::InvalidInput`] (`expires`) for anything else.
pub fn parse_expiry(s: &str, now: i64) -> Result<i64> {
    const YEAR_MS: i64 = 366 * 24 * 3600 * 1000;
    let s = s.trim();
    let duration = [('m', 60_000i64), ('h', 3_600_000), ('d', 86_400_000)]
        .into_iter()
        .find_map(|(unit, ms)| s.strip_suffix(unit).map(|n| (n, ms)));
    let at = match duration {
        Some((n, ms)) => {
            let n: i64 = n.parse().map_err(|_| {
                Error::invalid("expires", format!("`{s}` is not like `30m`, `12h` or `7d`"))
            })?;
            n.checked_mul(ms)
                .and_then(|d| now.checked_add(d))
                .ok_or_else(|| Error::invalid("expires", format!("`{s}` is too far ahead")))?
        }
        None => {
            let ts: jiff::Timestamp = s.parse().map_err(|_| {
                Error::invalid(
                    "expires",
                    format!("`{s}` is neither a duration (`7d`) nor an RFC 3339 time"),
                )
            })?;
            ts.as_millisecond()
        }
    };
    if at <= now {
        return Err(Error::invalid(
            "expires",
            format!("`{s}` is not in the future"),
        ));
    }
    if at.saturating_sub(now) > YEAR_MS {
        return Err(Error::invalid(
            "expires",
            format!("`{s}` is more than a year ahead"),
        ));
    }
    Ok(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_grouped_typable_and_normalise() -> Result<()> {
        let code = new_code()?;
        assert_eq!(code.len(), 14);
        assert_eq!(code.matches('-').count(), 2);
        let canonical = normalise(&code)?;
        assert_eq!(normalise(&code.to_lowercase())?, canonical);
        assert_eq!(normalise(&code.replace('-', " "))?, canonical);
        assert_eq!(hash(&code)?, hash(&canonical.to_lowercase())?);
        assert_ne!(new_code()?, code);
        Ok(())
    }

    #[test]
    fn garbage_codes_are_refused_without_echo() {
        for bad in [
            "",
            "ABCD-EFGH-JKM",
            "ABCD-EFGH-JKMNP",
            "0000-0000-0000",
            "ÄBCD-EFGH-JKMN",
        ] {
            let err = match normalise(bad) {
                Ok(c) => format!("accepted as {c}"),
                Err(e) => e.to_string(),
            };
            assert!(err.contains("invalid `invite`"), "{err}");
            if !bad.is_empty() {
                assert!(!err.contains(bad), "{err}");
            }
        }
        assert!(normalise(&"A".repeat(1000)).is_err());
    }

    #[test]
    fn expiries_parse_durations_and_times() -> Result<()> {
        let now = 1_800_000_000_000;
        assert_eq!(parse_expiry("7d", now)?, now + 7 * 86_400_000);
        assert_eq!(parse_expiry("90m", now)?, now + 90 * 60_000);
        assert_eq!(
            parse_expiry("2027-01-15T12:00:00Z", now)?,
            1_800_014_400_000
        );
        for bad in [
            "",
            "d",
            "-1d",
            "0h",
            "400d",
            "soon",
            "2020-01-01T00:00:00Z",
            "99999999999999999d",
        ] {
            assert!(parse_expiry(bad, now).is_err(), "{bad}");
        }
        Ok(())
    }
}
