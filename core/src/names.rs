//! Names people show each other (display names): what a device accepts locally and what the
//! relay accepts at join, by one rule.
//!
//! A name is trimmed, 1..=[`MAX_DISPLAY_NAME`] characters, and holds no character that
//! renders as nothing or changes how the text around it is ordered: control characters
//! (category Cc), line and paragraph separators, and every format character (category Cf:
//! bidi embeddings, overrides and isolates U+202A–202E and U+2066–2069, zero-width spaces and
//! joiners U+200B–200F, U+2060–2064, the byte-order mark U+FEFF, tag characters, …), plus the
//! Hangul fillers that display as blanks. Such characters let someone impersonate another
//! member (`Ans\u{202E}` …) or pass a blank name.

use crate::error::{Error, Result};

/// Longest display name, in characters.
pub const MAX_DISPLAY_NAME: usize = 80;

/// The format characters (Unicode category Cf, Unicode 15.1), as inclusive ranges.
const FORMAT: &[(u32, u32)] = &[
    (0x00AD, 0x00AD),
    (0x0600, 0x0605),
    (0x061C, 0x061C),
    (0x06DD, 0x06DD),
    (0x070F, 0x070F),
    (0x0890, 0x0891),
    (0x08E2, 0x08E2),
    (0x180E, 0x180E),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x2064),
    (0x2066, 0x206F),
    (0xFEFF, 0xFEFF),
    (0xFFF9, 0xFFFB),
    (0x110BD, 0x110BD),
    (0x110CD, 0x110CD),
    (0x13430, 0x1343F),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0001, 0xE0001),
    (0xE0020, 0xE007F),
];

/// Characters that are not format characters but show as nothing: line and paragraph
/// separators, the Hangul fillers, the combining grapheme joiner.
const INVISIBLE: &[u32] = &[0x034F, 0x115F, 0x1160, 0x2028, 0x2029, 0x3164, 0xFFA0];

/// Whether `c` may not appear in a name (see the module docs).
pub fn is_forbidden_in_name(c: char) -> bool {
    let u = u32::from(c);
    c.is_control()
        || INVISIBLE.contains(&u)
        || FORMAT.iter().any(|&(lo, hi)| (lo..=hi).contains(&u))
}

/// Checks a name shown to others and returns it trimmed.
///
/// # Errors
///
/// [`Error::InvalidInput`] naming `field`: empty (after trimming), over `max_chars`
/// characters, or holding a forbidden character (the message gives its code point, never the
/// name).
pub fn check_name(field: &'static str, value: &str, max_chars: usize) -> Result<String> {
    let v = value.trim();
    let n = v.chars().count();
    if n == 0 {
        return Err(Error::invalid(field, "must not be empty"));
    }
    if n > max_chars {
        return Err(Error::invalid(
            field,
            format!("is {n} characters, at most {max_chars} allowed"),
        ));
    }
    if let Some(c) = v.chars().find(|&c| is_forbidden_in_name(c)) {
        return Err(Error::invalid(
            field,
            format!(
                "contains U+{:04X}, a control, format or invisible character",
                u32::from(c)
            ),
        ));
    }
    Ok(v.to_owned())
}

/// [`check_name`] for a `display_name` of at most [`MAX_DISPLAY_NAME`] characters.
///
/// # Errors
///
/// As [`check_name`].
pub fn display_name(value: &str) -> Result<String> {
    check_name("display_name", value, MAX_DISPLAY_NAME)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(name: &str) -> bool {
        matches!(display_name(name), Err(Error::InvalidInput { field, .. }) if field == "display_name")
    }

    /// The matrix of names: what people type passes, what hides or reorders text does not.
    #[test]
    fn display_names_refuse_invisible_and_reordering_characters() {
        for ok in [
            "Ans",
            "  Ans de Vries ",
            "José Müller-Lüdenscheidt",
            "Ümit Yılmaz",
            "محمد",
            "李小龙",
            "Anna 🌻",
            "O'Brien (flat 12)",
            &"a".repeat(MAX_DISPLAY_NAME),
        ] {
            assert!(display_name(ok).is_ok(), "{ok:?}");
        }
        assert_eq!(display_name("  Ans ").ok().as_deref(), Some("Ans"));
        let bidi = [
            '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}', '\u{2066}', '\u{2067}',
            '\u{2068}', '\u{2069}',
        ];
        let zero_width = [
            '\u{200B}', '\u{200C}', '\u{200D}', '\u{200E}', '\u{200F}', '\u{2060}', '\u{2061}',
            '\u{2062}', '\u{2063}', '\u{2064}', '\u{FEFF}',
        ];
        let other = [
            '\u{00AD}',
            '\u{061C}',
            '\u{180E}',
            '\u{E0041}',
            '\u{FFF9}',
            '\u{3164}',
            '\u{115F}',
            '\u{2028}',
            '\u{2029}',
            '\u{0000}',
            '\u{0007}',
            '\n',
            '\t',
            '\u{007F}',
            '\u{0085}',
        ];
        for c in bidi.iter().chain(&zero_width).chain(&other) {
            assert!(refused(&format!("An{c}s")), "U+{:04X}", u32::from(*c));
        }
        for bad in ["", "   ", "\u{200B}", &"a".repeat(MAX_DISPLAY_NAME + 1)] {
            assert!(refused(bad), "{bad:?}");
        }
        let Err(e) = display_name("Ans\u{202E}sneoJ") else {
            panic!("accepted");
        };
        assert!(e.to_string().contains("U+202E"), "{e}");
        assert!(!e.to_string().contains("Ans"), "{e}");
    }
}
