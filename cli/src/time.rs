//! Parsing times given on the command line.
//!
//! Accepted: milliseconds since the epoch (`1764064800000`), an RFC 3339 timestamp
//! (`2026-12-01T10:00:00Z`, `2026-12-01T10:00+01:00`), or a civil date-time or date
//! (`2026-12-01T10:00`, `2026-12-01`) read in the buurt's time zone, Europe/Amsterdam unless
//! `NOABER_TZ` names another.

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};

/// The time zone civil times are read and shown in.
pub fn zone() -> TimeZone {
    let name = std::env::var("NOABER_TZ").unwrap_or_else(|_| "Europe/Amsterdam".into());
    TimeZone::get(&name).unwrap_or(TimeZone::UTC)
}

/// Parses a time argument into ms since the epoch.
pub fn parse_ms(s: &str) -> Result<i64, String> {
    let s = s.trim();
    if let Ok(ms) = s.parse::<i64>() {
        return Ok(ms);
    }
    if let Ok(ts) = s.parse::<Timestamp>() {
        return Ok(ts.as_millisecond());
    }
    if let Ok(dt) = s.parse::<DateTime>() {
        return dt
            .to_zoned(zone())
            .map(|z| z.timestamp().as_millisecond())
            .map_err(|e| format!("`{s}`: {e}"));
    }
    if let Ok(d) = s.parse::<Date>() {
        return d
            .to_zoned(zone())
            .map(|z| z.timestamp().as_millisecond())
            .map_err(|e| format!("`{s}`: {e}"));
    }
    Err(format!(
        "`{s}` is not a time: use 2026-12-01T10:00, 2026-12-01, an RFC 3339 timestamp or epoch milliseconds"
    ))
}

/// Renders ms since the epoch as a civil time in [`zone`].
pub fn show(ms: i64) -> String {
    match Timestamp::from_millisecond(ms) {
        Ok(ts) => {
            let z: Zoned = ts.to_zoned(zone());
            z.strftime("%Y-%m-%d %H:%M").to_string()
        }
        Err(_) => ms.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_forms() {
        assert_eq!(parse_ms("1764064800000"), Ok(1_764_064_800_000));
        assert_eq!(parse_ms("2026-01-01T00:00:00Z"), Ok(1_767_225_600_000));
        assert!(parse_ms("2026-12-01T10:00").is_ok());
        assert!(parse_ms("2026-12-01").is_ok());
        assert!(parse_ms("tomorrow").is_err());
    }
}
