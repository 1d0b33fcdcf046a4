//! A task's schedule: its recurrence rule, start date and time zone, and the dates they give.

use automerge::{ROOT, ReadDoc};
use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

use crate::doc;
use crate::error::{Error, Result};
use crate::model::rrule::Rule;

use super::{DEFAULT_TZ, MAX_TZ, ONE_OFF_GRACE, YEARS};

/// The schedule in force: parsed, for computing dates.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Schedule {
    pub(super) rule: Option<Rule>,
    pub(super) dtstart: Option<Date>,
    pub(super) tz_name: String,
    tz: TimeZone,
}

impl Schedule {
    /// The schedule at creation, read leniently: a value this device cannot parse counts as
    /// absent (a one-off, undated, in the default zone).
    pub(super) fn from_root(d: &impl ReadDoc) -> Schedule {
        let rule = doc::get_str(d, &ROOT, "rrule").and_then(|r| Rule::parse(&r).ok());
        let dtstart =
            doc::get_str(d, &ROOT, "dtstart").and_then(|s| parse_date("dtstart", &s).ok());
        let tz = doc::get_str(d, &ROOT, "tz").and_then(|t| parse_tz(&t).ok());
        Schedule::build(rule, dtstart, tz)
    }

    pub(super) fn build(
        rule: Option<Rule>,
        dtstart: Option<Date>,
        tz: Option<(String, TimeZone)>,
    ) -> Schedule {
        let (tz_name, tz) = tz.unwrap_or_else(default_tz);
        // A rule without a start has no dates: treat it as a one-off, undated.
        let rule = rule.filter(|_| dtstart.is_some());
        Schedule {
            rule,
            dtstart,
            tz_name,
            tz,
        }
    }

    /// Whether `d` is an occurrence of this schedule.
    pub(super) fn has(&self, d: Date) -> bool {
        match (&self.rule, self.dtstart) {
            (Some(rule), Some(start)) => rule.next_on_or_after(start, d) == Some(d),
            (_, Some(start)) => d == start,
            (_, None) => true,
        }
    }

    /// The first open occurrence given the latest recorded date.
    pub(super) fn next_open(&self, latest: Option<Date>) -> Option<Date> {
        match (&self.rule, self.dtstart) {
            (Some(rule), Some(start)) => match latest {
                Some(l) => rule.next_after(start, l),
                None => rule.next_on_or_after(start, start),
            },
            (_, Some(start)) => match latest {
                Some(l) if l >= start => None,
                _ => Some(start),
            },
            (_, None) => None,
        }
    }

    /// Whether nothing is left to do, given the latest recorded date.
    pub(super) fn finished(&self, latest: Option<Date>) -> bool {
        if self.rule.is_none() && self.dtstart.is_none() {
            latest.is_some()
        } else {
            self.next_open(latest).is_none()
        }
    }

    pub(super) fn grace_days(&self) -> i32 {
        self.rule.as_ref().map_or(ONE_OFF_GRACE, Rule::grace_days)
    }

    /// The civil date of instant `ms` in this zone.
    pub(super) fn day_of(&self, ms: i64) -> Option<Date> {
        Timestamp::from_millisecond(ms)
            .ok()
            .map(|t| t.to_zoned(self.tz.clone()).date())
    }

    /// The first instant of `d` in this zone, ms.
    pub(super) fn start_of(&self, d: Date) -> Option<i64> {
        d.to_zoned(self.tz.clone())
            .ok()
            .map(|z| z.timestamp().as_millisecond())
    }
}

/// How far [`TaskView::current_occurrence`](super::TaskView::current_occurrence) looks back.
pub const LOOKBACK_DAYS: i64 = 800;

fn default_tz() -> (String, TimeZone) {
    // Without a time zone database the task still works, in UTC.
    (
        DEFAULT_TZ.to_owned(),
        TimeZone::get(DEFAULT_TZ).unwrap_or(TimeZone::UTC),
    )
}

/// Parses a strict `YYYY-MM-DD` date within [`YEARS`].
pub(crate) fn parse_date(field: &'static str, s: &str) -> Result<Date> {
    let b = s.as_bytes();
    let shape = b.len() == 10
        && b.iter().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        });
    if !shape {
        return Err(Error::invalid(
            field,
            format!("`{s}` is not a date `YYYY-MM-DD`"),
        ));
    }
    let d: Date = s
        .parse()
        .map_err(|_| Error::invalid(field, format!("`{s}` is not a calendar date")))?;
    if !YEARS.contains(&d.year()) {
        return Err(Error::invalid(
            field,
            format!(
                "`{s}` is outside the years {}..={}",
                YEARS.start(),
                YEARS.end()
            ),
        ));
    }
    Ok(d)
}

/// Validates an IANA time zone name against the time zone database.
pub(super) fn parse_tz(s: &str) -> Result<(String, TimeZone)> {
    let s = s.trim();
    doc::check_len("tz", s, MAX_TZ)?;
    if s.is_empty() {
        return Err(Error::invalid("tz", "must not be empty"));
    }
    let tz = TimeZone::get(s)
        .map_err(|_| Error::invalid("tz", format!("`{s}` is not a known IANA time zone")))?;
    Ok((s.to_owned(), tz))
}

/// Validates a schedule as given by a caller; returns it with the canonical rule text.
pub(super) fn check_schedule(
    rrule: Option<&str>,
    dtstart: Option<&str>,
    tz: Option<&str>,
) -> Result<Schedule> {
    let rule = rrule
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(Rule::parse)
        .transpose()?;
    let dtstart = dtstart
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| parse_date("dtstart", d))
        .transpose()?;
    let tz = tz.map(parse_tz).transpose()?;
    if let Some(rule) = &rule {
        let Some(start) = dtstart else {
            return Err(Error::invalid(
                "dtstart",
                "is required with a recurrence rule",
            ));
        };
        if rule.next_on_or_after(start, start).is_none() {
            return Err(Error::invalid(
                "recurrence",
                format!("`{rule}` has no occurrence on or after `dtstart`"),
            ));
        }
    }
    Ok(Schedule::build(rule, dtstart, tz))
}

pub(super) fn check_point(lat: Option<f64>, lon: Option<f64>) -> Result<Option<(f64, f64)>> {
    match (lat, lon) {
        (Some(lat), Some(lon)) => {
            doc::check_point(lat, lon)?;
            Ok(Some((lat, lon)))
        }
        (None, None) => Ok(None),
        (Some(_), None) => Err(Error::invalid("lon", "is required with `lat`")),
        (None, Some(_)) => Err(Error::invalid("lat", "is required with `lon`")),
    }
}
