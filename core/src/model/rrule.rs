//! Recurrence rules for ownership tasks: a documented subset of RFC 5545 `RRULE`.
//!
//! A task that recurs ("water the courtyard garden every Monday and Thursday", "clean the
//! stairwell every 2 weeks", "monthly on the 1st") stores its rule as text and a start date,
//! `dtstart`. Occurrences are civil dates ([`Date`]); there are no times of day.
//!
//! # The subset
//!
//! A rule is `KEY=VALUE` parts separated by `;`, with an optional leading `RRULE:`. Keys and
//! values are case-insensitive; a single trailing `;` and whitespace around the whole rule are
//! tolerated, whitespace inside it is not. At most 256 bytes.
//!
//! | key | values | notes |
//! |---|---|---|
//! | `FREQ` | `DAILY`, `WEEKLY`, `MONTHLY` | required |
//! | `INTERVAL` | `1` to `366` | default `1`: every n-th day, week or month, counted from `dtstart` |
//! | `BYDAY` | `MO`,`TU`,`WE`,`TH`,`FR`,`SA`,`SU`, comma separated | `WEEKLY`: the days of each week; `DAILY`: keeps only those days; refused with `MONTHLY`; no numeric prefix (`1MO`, `-1FR`) |
//! | `BYMONTHDAY` | `1` to `31` | `MONTHLY` only; months without that day are skipped (no negative days) |
//! | `UNTIL` | `YYYYMMDD` or `YYYY-MM-DD` | inclusive last date; no `T...Z` time part |
//! | `COUNT` | `1` to `10000` | total number of occurrences; not together with `UNTIL` |
//!
//! Every other RFC 5545 key (`WKST`, `BYMONTH`, `BYSETPOS`, ...) is refused, as are duplicate
//! keys, empty values and malformed values; the error names the key and the value.
//!
//! The meaning, with `I` the interval:
//!
//! - `DAILY`: `dtstart`, `dtstart + I` days, `dtstart + 2I` days, ...; with `BYDAY`, only those
//!   of them that fall on one of the listed weekdays.
//! - `WEEKLY`: weeks run Monday to Sunday (`WKST=MO`) and are counted from the week holding
//!   `dtstart`; in week 0, week `I`, week `2I`, ... every listed weekday (without `BYDAY`:
//!   `dtstart`'s weekday) on or after `dtstart` is an occurrence.
//! - `MONTHLY`: in month 0, month `I`, month `2I`, ... counted from `dtstart`'s month, the day
//!   `BYMONTHDAY` (without it: `dtstart`'s day of month) when that month has it and it is not
//!   before `dtstart`. "Monthly on the 31st" thus skips February, April, June, September and
//!   November, as RFC 5545 says.
//! - `UNTIL` ends the series after that date (the date itself is included); `COUNT` after that
//!   many occurrences, counted from the first one.
//!
//! Examples, each with `dtstart` in brackets:
//!
//! ```text
//! FREQ=WEEKLY;BYDAY=MO,TH                  [Wed 2024-01-03]  2024-01-04, 01-08, 01-11, 01-15, ...
//! FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH       [Wed 2024-01-03]  2024-01-04, 01-15, 01-18, 01-29, ...
//! FREQ=WEEKLY;INTERVAL=2                   [Wed 2024-01-03]  2024-01-03, 01-17, 01-31, ...
//! FREQ=MONTHLY;BYMONTHDAY=1                [2024-01-15]      2024-02-01, 03-01, 04-01, ...
//! FREQ=MONTHLY                             [2024-01-31]      2024-01-31, 03-31, 05-31, 07-31, ...
//! FREQ=DAILY;INTERVAL=3;COUNT=4            [2024-02-27]      2024-02-27, 03-01, 03-04, 03-07
//! RRULE:freq=daily;until=2024-01-03        [2024-01-01]      2024-01-01, 01-02, 01-03
//! ```
//!
//! # Deviations from RFC 5545
//!
//! - RFC 5545 makes `dtstart` the first occurrence even when it does not match the rule. Here
//!   it is an occurrence only when it matches: a task started on a Wednesday that recurs on
//!   Mondays and Thursdays is first due on the Thursday, not on the Wednesday. `COUNT` counts
//!   matching occurrences only.
//! - Only the keys and forms above; `UNTIL` is a date, never a date-time.
//!
//! The queries ([`Rule::next_on_or_after`], [`Rule::between`], ...) jump arithmetically to the
//! wanted period and never walk the series from `dtstart`, so a daily rule started decades ago
//! answers as fast as one started yesterday, `COUNT` included.

use std::fmt;

use jiff::civil::Date;

use crate::error::{Error, Result};

/// The field name every parse error carries.
const FIELD: &str = "recurrence";
/// The longest rule text accepted, in bytes.
const MAX_LEN: usize = 256;
/// The largest `INTERVAL`.
const MAX_INTERVAL: u32 = 366;
/// The largest `COUNT`.
const MAX_COUNT: u32 = 10_000;
/// The largest `BYMONTHDAY`.
const MAX_MONTH_DAY: u32 = 31;
/// Weekday codes, Monday first: index `i` is bit `i` of a weekday mask.
const WEEKDAY_CODES: [&str; 7] = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"];
/// RFC 5545 keys this subset knows but refuses.
const UNSUPPORTED_KEYS: [&str; 8] = [
    "WKST",
    "BYSECOND",
    "BYMINUTE",
    "BYHOUR",
    "BYWEEKNO",
    "BYYEARDAY",
    "BYMONTH",
    "BYSETPOS",
];

/// A parsed recurrence rule; see the [module docs](self) for the subset and its meaning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    freq: Freq,
    /// `1..=MAX_INTERVAL`.
    interval: u32,
    /// Bit `i` set: weekday `i` (Monday = 0) was listed in `BYDAY`; `0` when `BYDAY` is absent.
    /// Only ever non-zero for `Daily` and `Weekly`.
    by_day: u8,
    /// `BYMONTHDAY`, `1..=31`; only ever set for `Monthly`.
    by_month_day: Option<u8>,
    end: End,
}

/// How a series ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// It does not.
    Never,
    /// After this date (inclusive).
    Until(Date),
    /// After this many occurrences, `1..=MAX_COUNT`.
    Count(u32),
}

/// How often a rule repeats (`FREQ`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Freq {
    /// Every `INTERVAL` days.
    Daily,
    /// Every `INTERVAL` weeks (Monday to Sunday).
    Weekly,
    /// Every `INTERVAL` months.
    Monthly,
}

impl Freq {
    /// The RFC 5545 spelling.
    fn code(self) -> &'static str {
        match self {
            Freq::Daily => "DAILY",
            Freq::Weekly => "WEEKLY",
            Freq::Monthly => "MONTHLY",
        }
    }
}

impl Rule {
    /// Parses the subset described in the [module docs](self).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] with field `recurrence` and a reason naming the offending key
    /// and value: an unknown, unsupported or repeated key, an empty or malformed value, a
    /// missing `FREQ`, a combination the subset refuses, or more than 256 bytes.
    pub fn parse(s: &str) -> Result<Rule> {
        if s.len() > MAX_LEN {
            return Err(invalid(format!(
                "rule is {} bytes long, at most {MAX_LEN} are allowed",
                s.len()
            )));
        }
        let text = s.trim();
        let text = match text.get(..6) {
            Some(prefix) if prefix.eq_ignore_ascii_case("RRULE:") => text.get(6..).unwrap_or(""),
            _ => text,
        };
        let text = text.strip_suffix(';').unwrap_or(text);
        if text.is_empty() {
            return Err(invalid("rule is empty, expected at least `FREQ`"));
        }

        let mut freq = None;
        let mut interval = None;
        let mut by_day = None;
        let mut by_month_day = None;
        let mut until = None;
        let mut count = None;
        // (canonical key, the part as written) of every part seen so far.
        let mut seen: Vec<(String, &str)> = Vec::new();

        for part in text.split(';') {
            if part.is_empty() {
                return Err(invalid(format!("empty part between two `;`, got `{s}`")));
            }
            let Some((raw_key, value)) = part.split_once('=') else {
                return Err(invalid(format!("expected `KEY=VALUE`, got `{part}`")));
            };
            if raw_key.is_empty() {
                return Err(invalid(format!("missing key, got `{part}`")));
            }
            let key = raw_key.to_ascii_uppercase();
            if value.is_empty() {
                return Err(invalid(format!("empty value for `{key}`, got `{part}`")));
            }
            if let Some((_, first)) = seen.iter().find(|(k, _)| *k == key) {
                return Err(invalid(format!(
                    "key `{key}` given twice, got `{first}` and `{part}`"
                )));
            }
            match key.as_str() {
                "FREQ" => freq = Some(parse_freq(value, part)?),
                "INTERVAL" => {
                    interval = Some(parse_number(value, 1, MAX_INTERVAL).ok_or_else(|| {
                        invalid(format!(
                            "interval must be a whole number from 1 to {MAX_INTERVAL}, got `{part}`"
                        ))
                    })?);
                }
                "BYDAY" => by_day = Some((parse_weekdays(value, part)?, part)),
                "BYMONTHDAY" => {
                    let day = parse_number(value, 1, MAX_MONTH_DAY)
                        .and_then(|d| u8::try_from(d).ok())
                        .ok_or_else(|| {
                            invalid(format!(
                                "month day must be a whole number from 1 to {MAX_MONTH_DAY}, \
                                 got `{part}`"
                            ))
                        })?;
                    by_month_day = Some((day, part));
                }
                "UNTIL" => until = Some((parse_until(value, part)?, part)),
                "COUNT" => {
                    let n = parse_number(value, 1, MAX_COUNT).ok_or_else(|| {
                        invalid(format!(
                            "count must be a whole number from 1 to {MAX_COUNT}, got `{part}`"
                        ))
                    })?;
                    count = Some((n, part));
                }
                k if UNSUPPORTED_KEYS.contains(&k) => {
                    return Err(invalid(format!(
                        "key `{key}` is not supported, got `{part}`"
                    )));
                }
                _ => return Err(invalid(format!("unknown key `{key}`, got `{part}`"))),
            }
            seen.push((key, part));
        }

        let Some(freq) = freq else {
            return Err(invalid(format!("missing `FREQ`, got `{s}`")));
        };
        if let (Freq::Monthly, Some((_, part))) = (freq, by_day) {
            return Err(invalid(format!(
                "weekdays cannot be combined with `FREQ=MONTHLY` (use `BYMONTHDAY`), got `{part}`"
            )));
        }
        if let (Freq::Daily | Freq::Weekly, Some((_, part))) = (freq, by_month_day) {
            return Err(invalid(format!(
                "a month day needs `FREQ=MONTHLY`, got `{part}` with `FREQ={}`",
                freq.code()
            )));
        }
        let end = match (until, count) {
            (Some((_, until_part)), Some((_, count_part))) => {
                return Err(invalid(format!(
                    "`UNTIL` and `COUNT` cannot be combined, got `{until_part}` and `{count_part}`"
                )));
            }
            (Some((date, _)), None) => End::Until(date),
            (None, Some((n, _))) => End::Count(n),
            (None, None) => End::Never,
        };
        Ok(Rule {
            freq,
            interval: interval.unwrap_or(1),
            by_day: by_day.map_or(0, |(mask, _)| mask),
            by_month_day: by_month_day.map(|(day, _)| day),
            end,
        })
    }

    /// The canonical text, e.g. `FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH;COUNT=10`.
    ///
    /// Keys in the order `FREQ`, `INTERVAL` (omitted when 1), `BYDAY` (Monday first),
    /// `BYMONTHDAY`, `UNTIL` (as `YYYYMMDD`), `COUNT`; `Rule::parse` of it gives back `self`.
    /// The same text is the [`Display`](fmt::Display) form.
    pub fn to_rule_string(&self) -> String {
        self.to_string()
    }

    /// How often the rule repeats.
    pub fn freq(&self) -> Freq {
        self.freq
    }

    /// The interval, `1..=366` (days, weeks or months, by [`Rule::freq`]).
    pub fn interval(&self) -> u32 {
        self.interval
    }

    /// The first occurrence on or after `from` of the series that starts at `dtstart`;
    /// `None` when there is none (the series ended through `COUNT` or `UNTIL`, its rule never
    /// matches a date, or the date would lie past year 9999).
    ///
    /// Runs in constant time, whatever the distance between `dtstart` and `from`.
    pub fn next_on_or_after(&self, dtstart: Date, from: Date) -> Option<Date> {
        self.next_with_index(dtstart, from).map(|(date, _)| date)
    }

    /// The first occurrence strictly after `after` of the series that starts at `dtstart`;
    /// `None` as for [`Rule::next_on_or_after`].
    pub fn next_after(&self, dtstart: Date, after: Date) -> Option<Date> {
        let from = after.tomorrow().ok()?;
        self.next_on_or_after(dtstart, from)
    }

    /// The occurrences in `[from, to]` (both inclusive) of the series that starts at
    /// `dtstart`, in order, at most `limit` of them.
    pub fn between(&self, dtstart: Date, from: Date, to: Date, limit: usize) -> Vec<Date> {
        let mut out = Vec::new();
        if limit == 0 || from > to {
            return out;
        }
        let mut next = self.next_with_index(dtstart, from);
        while let Some((date, index)) = next {
            if date > to || out.len() >= limit {
                break;
            }
            out.push(date);
            // The next occurrence is the next candidate, with the next index.
            next = date
                .tomorrow()
                .ok()
                .and_then(|day| self.first_candidate(dtstart, day))
                .map(|date| (date, index + 1))
                .filter(|&(date, index)| self.within_end(date, index));
        }
        out
    }

    /// The due window in days: how long a caretaker has, counting the occurrence's own day,
    /// before a missed occurrence counts as overdue. `DAILY` → 1, `WEEKLY` → 2,
    /// `MONTHLY` → 7; an occurrence on day `d` is overdue from day `d + grace_days()` on.
    pub fn grace_days(&self) -> i32 {
        match self.freq {
            Freq::Daily => 1,
            Freq::Weekly => 2,
            Freq::Monthly => 7,
        }
    }

    /// The first occurrence on or after `from` and its zero-based index in the series (only
    /// computed, and otherwise `0`, when the rule has a `COUNT`).
    fn next_with_index(&self, dtstart: Date, from: Date) -> Option<(Date, i64)> {
        let lo = from.max(dtstart);
        if let End::Until(until) = self.end {
            if lo > until {
                return None;
            }
        }
        let occurrence = self.first_candidate(dtstart, lo)?;
        let index = match self.end {
            End::Count(_) => self.index_of(dtstart, occurrence),
            End::Never | End::Until(_) => 0,
        };
        self.within_end(occurrence, index)
            .then_some((occurrence, index))
    }

    /// Whether a candidate `date` with zero-based `index` comes before the series' end.
    fn within_end(&self, date: Date, index: i64) -> bool {
        match self.end {
            End::Never => true,
            End::Until(until) => date <= until,
            End::Count(count) => index < i64::from(count),
        }
    }

    /// The weekdays of a weekly series: `BYDAY`, or else `dtstart`'s weekday.
    fn weekly_days(&self, dtstart: Date) -> u8 {
        if self.by_day != 0 {
            self.by_day
        } else {
            weekday_bit(weekday_index(dtstart))
        }
    }

    /// The day of month of a monthly series: `BYMONTHDAY`, or else `dtstart`'s day.
    fn month_day(&self, dtstart: Date) -> i64 {
        self.by_month_day
            .map_or_else(|| i64::from(dtstart.day()), i64::from)
    }

    /// The first date on or after `lo` (which is on or after `dtstart`) that the rule matches,
    /// ignoring `COUNT` and `UNTIL`.
    ///
    /// All numbers stay far inside `i64`: day numbers are within ±4 million, month numbers
    /// within ±130 000 and the interval is at most 366.
    fn first_candidate(&self, dtstart: Date, lo: Date) -> Option<Date> {
        let interval = i64::from(self.interval);
        match self.freq {
            Freq::Daily => {
                let start = day_number(dtstart);
                let k = ceil_div(day_number(lo) - start, interval);
                if self.by_day == 0 {
                    return date_from_day_number(start + k * interval);
                }
                // The weekday of `dtstart + k * interval` repeats every 7 steps of `k`.
                let first_weekday = weekday_index(dtstart);
                (k..k + 7)
                    .find(|j| has_weekday(self.by_day, first_weekday + j * interval))
                    .and_then(|j| date_from_day_number(start + j * interval))
            }
            Freq::Weekly => {
                let days = self.weekly_days(dtstart);
                let monday = day_number(dtstart) - weekday_index(dtstart);
                let week = (day_number(lo) - monday).div_euclid(7);
                if week % interval == 0 {
                    if let Some(day) = (weekday_index(lo)..7).find(|&d| has_weekday(days, d)) {
                        return date_from_day_number(monday + week * 7 + day);
                    }
                }
                let next_week = (week / interval + 1) * interval;
                let day = (0..7).find(|&d| has_weekday(days, d))?;
                date_from_day_number(monday + next_week * 7 + day)
            }
            Freq::Monthly => {
                let day = self.month_day(dtstart);
                let first_month = month_number(dtstart);
                let months = month_number(lo) - first_month;
                let k = if months % interval == 0 && i64::from(lo.day()) <= day {
                    months / interval
                } else {
                    months / interval + 1
                };
                // Whether month `k` has the day repeats with this period in `k`: if none of
                // that many months has it, none ever will.
                let period = month_period(day, interval);
                (k..k + period)
                    .map(|j| first_month + j * interval)
                    .find(|&month| days_in_month(month) >= day)
                    .and_then(|month| date_in_month(month, day))
            }
        }
    }

    /// How many occurrences come before `occurrence` (a date the rule matches, on or after
    /// `dtstart`): its zero-based index in the series, ignoring `COUNT` and `UNTIL`.
    fn index_of(&self, dtstart: Date, occurrence: Date) -> i64 {
        let interval = i64::from(self.interval);
        match self.freq {
            Freq::Daily => {
                let steps = (day_number(occurrence) - day_number(dtstart)) / interval;
                if self.by_day == 0 {
                    return steps;
                }
                let first_weekday = weekday_index(dtstart);
                count_periodic(steps, 7, |j| {
                    has_weekday(self.by_day, first_weekday + j * interval)
                })
            }
            Freq::Weekly => {
                let days = self.weekly_days(dtstart);
                let per_week = i64::from(days.count_ones());
                let monday = day_number(dtstart) - weekday_index(dtstart);
                // Matching days from the Monday of week 0 up to (not including) `date`,
                // ignoring that the series starts at `dtstart`.
                let matches_before = |date: Date| {
                    let week = (day_number(date) - monday).div_euclid(7);
                    let whole_weeks = ceil_div(week, interval) * per_week;
                    let this_week = if week % interval == 0 {
                        count_weekdays_before(days, weekday_index(date))
                    } else {
                        0
                    };
                    whole_weeks + this_week
                };
                matches_before(occurrence) - matches_before(dtstart)
            }
            Freq::Monthly => {
                let day = self.month_day(dtstart);
                let first_month = month_number(dtstart);
                let steps = (month_number(occurrence) - first_month) / interval;
                let has_day = |j: i64| days_in_month(first_month + j * interval) >= day;
                let all = count_periodic(steps, month_period(day, interval), has_day);
                // Month 0's day lies before `dtstart` when `BYMONTHDAY` is smaller.
                let skipped = steps > 0 && day < i64::from(dtstart.day()) && has_day(0);
                all - i64::from(skipped)
            }
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FREQ={}", self.freq.code())?;
        if self.interval != 1 {
            write!(f, ";INTERVAL={}", self.interval)?;
        }
        if self.by_day != 0 {
            f.write_str(";BYDAY=")?;
            let mut first = true;
            for (index, code) in (0..).zip(WEEKDAY_CODES) {
                if has_weekday(self.by_day, index) {
                    if !first {
                        f.write_str(",")?;
                    }
                    f.write_str(code)?;
                    first = false;
                }
            }
        }
        if let Some(day) = self.by_month_day {
            write!(f, ";BYMONTHDAY={day}")?;
        }
        match self.end {
            End::Never => Ok(()),
            End::Until(date) => write!(
                f,
                ";UNTIL={:04}{:02}{:02}",
                date.year(),
                date.month(),
                date.day()
            ),
            End::Count(count) => write!(f, ";COUNT={count}"),
        }
    }
}

/// A parse error for the `recurrence` field.
fn invalid(reason: impl Into<String>) -> Error {
    Error::InvalidInput {
        field: FIELD,
        reason: reason.into(),
    }
}

/// Parses `FREQ`'s value.
fn parse_freq(value: &str, part: &str) -> Result<Freq> {
    match value.to_ascii_uppercase().as_str() {
        "DAILY" => Ok(Freq::Daily),
        "WEEKLY" => Ok(Freq::Weekly),
        "MONTHLY" => Ok(Freq::Monthly),
        "YEARLY" | "HOURLY" | "MINUTELY" | "SECONDLY" => Err(invalid(format!(
            "frequency is not supported, expected `DAILY`, `WEEKLY` or `MONTHLY`, got `{part}`"
        ))),
        _ => Err(invalid(format!(
            "unknown frequency, expected `DAILY`, `WEEKLY` or `MONTHLY`, got `{part}`"
        ))),
    }
}

/// A plain decimal number (ASCII digits only, no sign) in `min..=max`.
fn parse_number(value: &str, min: u32, max: u32) -> Option<u32> {
    if value.is_empty() || value.len() > 9 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value
        .parse::<u32>()
        .ok()
        .filter(|n| (min..=max).contains(n))
}

/// Parses `BYDAY`'s comma-separated weekday codes into a mask.
fn parse_weekdays(value: &str, part: &str) -> Result<u8> {
    let mut mask = 0u8;
    for item in value.split(',') {
        let upper = item.to_ascii_uppercase();
        let Some(index) = (0..)
            .zip(WEEKDAY_CODES)
            .find_map(|(i, code)| (code == upper).then_some(i))
        else {
            return Err(invalid(format!(
                "invalid weekday `{item}`, expected `MO`, `TU`, `WE`, `TH`, `FR`, `SA` or `SU` \
                 without a numeric prefix, got `{part}`"
            )));
        };
        let bit = weekday_bit(index);
        if mask & bit != 0 {
            return Err(invalid(format!(
                "weekday `{item}` is listed twice, got `{part}`"
            )));
        }
        mask |= bit;
    }
    Ok(mask)
}

/// Parses `UNTIL`'s value, `YYYYMMDD` or `YYYY-MM-DD`.
fn parse_until(value: &str, part: &str) -> Result<Date> {
    let bytes = value.as_bytes();
    let digits_at = |range: std::ops::Range<usize>| {
        bytes
            .get(range.clone())
            .filter(|b| b.iter().all(u8::is_ascii_digit))
            .and_then(|_| value.get(range))
    };
    let fields = match bytes.len() {
        8 => digits_at(0..4).zip(digits_at(4..6)).zip(digits_at(6..8)),
        10 if bytes.get(4) == Some(&b'-') && bytes.get(7) == Some(&b'-') => {
            digits_at(0..4).zip(digits_at(5..7)).zip(digits_at(8..10))
        }
        _ => None,
    };
    let Some(((year, month), day)) = fields else {
        return Err(invalid(format!(
            "end date must be written `YYYYMMDD` or `YYYY-MM-DD`, got `{part}`"
        )));
    };
    year.parse::<i16>()
        .ok()
        .zip(month.parse::<i8>().ok())
        .zip(day.parse::<i8>().ok())
        .and_then(|((y, m), d)| Date::new(y, m, d).ok())
        .ok_or_else(|| invalid(format!("end date does not exist, got `{part}`")))
}

/// The mask bit of weekday `index` (Monday = 0); `0` outside `0..7`.
fn weekday_bit(index: i64) -> u8 {
    u32::try_from(index)
        .ok()
        .filter(|&i| i < 7)
        .and_then(|i| 1u8.checked_shl(i))
        .unwrap_or(0)
}

/// Whether `mask` holds the weekday `index` (taken modulo 7, Monday = 0).
fn has_weekday(mask: u8, index: i64) -> bool {
    mask & weekday_bit(index.rem_euclid(7)) != 0
}

/// How many weekdays of `mask` come before weekday `index` in a Monday-first week.
fn count_weekdays_before(mask: u8, index: i64) -> i64 {
    (0..index.clamp(0, 7))
        .map(|d| i64::from(mask & weekday_bit(d) != 0))
        .sum()
}

/// The weekday of `date`, Monday = 0 to Sunday = 6.
fn weekday_index(date: Date) -> i64 {
    i64::from(date.weekday().to_monday_zero_offset())
}

/// `ceil(a / b)` for `b > 0`.
fn ceil_div(a: i64, b: i64) -> i64 {
    a.div_euclid(b) + i64::from(a.rem_euclid(b) != 0)
}

/// How many `k` in `0..n` satisfy `pred`, when `pred(k) == pred(k + period)` for all `k`.
fn count_periodic(n: i64, period: i64, pred: impl Fn(i64) -> bool) -> i64 {
    if n <= 0 || period <= 0 {
        return 0;
    }
    let count = |end: i64| (0..end).map(|k| i64::from(pred(k))).sum::<i64>();
    n / period * count(period) + count(n % period)
}

/// The period, in steps of `interval` months, with which "the month has day `day`" repeats.
///
/// Days up to 28 are in every month; whether a month has the 30th or 31st repeats yearly;
/// the 29th depends on leap years, which repeat every 400 years (4800 months).
fn month_period(day: i64, interval: i64) -> i64 {
    let months = match day {
        ..=28 => 1,
        29 => 4800,
        _ => 12,
    };
    months / gcd(months, interval)
}

/// The greatest common divisor of two positive numbers.
fn gcd(mut a: i64, mut b: i64) -> i64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a.max(1)
}

/// Days since 1970-01-01 (proleptic Gregorian calendar).
fn day_number(date: Date) -> i64 {
    let month = i64::from(date.month());
    let year = i64::from(date.year()) - i64::from(month <= 2);
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + i64::from(date.day()) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The date `days` days after 1970-01-01; `None` outside the years jiff supports.
fn date_from_day_number(days: i64) -> Option<Date> {
    let shifted = days.checked_add(719_468)?;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era.checked_mul(400)? + i64::from(month <= 2);
    Date::new(
        i16::try_from(year).ok()?,
        i8::try_from(month).ok()?,
        i8::try_from(day).ok()?,
    )
    .ok()
}

/// Months since January of year 0.
fn month_number(date: Date) -> i64 {
    i64::from(date.year()) * 12 + i64::from(date.month()) - 1
}

/// The number of days in month `month` (as numbered by [`month_number`]).
fn days_in_month(month: i64) -> i64 {
    let year = month.div_euclid(12);
    match month.rem_euclid(12) + 1 {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Day `day` of month `month` (as numbered by [`month_number`]).
fn date_in_month(month: i64, day: i64) -> Option<Date> {
    Date::new(
        i16::try_from(month.div_euclid(12)).ok()?,
        i8::try_from(month.rem_euclid(12) + 1).ok()?,
        i8::try_from(day).ok()?,
    )
    .ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use jiff::ToSpan;
    use jiff::civil::date;
    use proptest::prelude::*;

    fn rule(s: &str) -> Rule {
        Rule::parse(s).unwrap()
    }

    fn reason(s: &str) -> String {
        match Rule::parse(s) {
            Err(Error::InvalidInput { field, reason }) => {
                assert_eq!(field, "recurrence");
                reason
            }
            other => panic!("expected an error for {s:?}, got {other:?}"),
        }
    }

    fn all(rule: &Rule, dtstart: Date) -> Vec<Date> {
        rule.between(dtstart, dtstart, date(9999, 12, 31), 100)
    }

    // ---- parsing ----

    #[test]
    fn parse_defaults_and_accessors() {
        let r = rule("FREQ=WEEKLY");
        assert_eq!(r.freq(), Freq::Weekly);
        assert_eq!(r.interval(), 1);
        assert_eq!(r.to_rule_string(), "FREQ=WEEKLY");
        let r = rule("FREQ=MONTHLY;INTERVAL=3");
        assert_eq!(r.freq(), Freq::Monthly);
        assert_eq!(r.interval(), 3);
        assert_eq!(rule("FREQ=DAILY").freq(), Freq::Daily);
    }

    #[test]
    fn parse_canonicalises() {
        let cases = [
            (
                "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH;COUNT=10",
                "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH;COUNT=10",
            ),
            (
                "rrule:count=10;byday=th,mo;interval=2;freq=weekly",
                "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH;COUNT=10",
            ),
            ("RRULE:FREQ=DAILY;INTERVAL=1", "FREQ=DAILY"),
            (
                "  FREQ=MONTHLY;BYMONTHDAY=01;UNTIL=2024-12-31;  ",
                "FREQ=MONTHLY;BYMONTHDAY=1;UNTIL=20241231",
            ),
            (
                "FREQ=DAILY;UNTIL=20240105;BYDAY=SU,SA",
                "FREQ=DAILY;BYDAY=SA,SU;UNTIL=20240105",
            ),
            (
                "Freq=Monthly;Interval=366;Count=10000",
                "FREQ=MONTHLY;INTERVAL=366;COUNT=10000",
            ),
            (
                "FREQ=WEEKLY;BYDAY=SU,SA,FR,TH,WE,TU,MO",
                "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR,SA,SU",
            ),
        ];
        for (input, canonical) in cases {
            let r = rule(input);
            assert_eq!(r.to_rule_string(), canonical, "{input}");
            assert_eq!(r.to_string(), canonical, "{input}");
            assert_eq!(rule(canonical), r, "{input}");
        }
    }

    #[test]
    fn parse_accepts_exactly_256_bytes() {
        let base = "FREQ=DAILY;COUNT=5";
        let padded = format!("{}{base}", " ".repeat(256 - base.len()));
        assert_eq!(padded.len(), 256);
        assert_eq!(rule(&padded).to_rule_string(), base);
        assert!(reason(&format!(" {padded}")).contains("257 bytes"));
    }

    #[test]
    fn parse_errors_name_key_and_value() {
        let cases: &[(&str, &[&str])] = &[
            ("", &["empty"]),
            ("   ", &["empty"]),
            ("RRULE:", &["empty"]),
            (";", &["empty"]),
            (
                "FREQ=DAILY;;COUNT=2",
                &["empty part", "FREQ=DAILY;;COUNT=2"],
            ),
            ("FREQ=DAILY;COUNT", &["`KEY=VALUE`", "`COUNT`"]),
            ("garbage", &["`KEY=VALUE`", "`garbage`"]),
            ("=DAILY", &["missing key", "`=DAILY`"]),
            ("FREQ=", &["empty value", "`FREQ`"]),
            ("FREQ=DAILY;INTERVAL=", &["empty value", "`INTERVAL`"]),
            ("INTERVAL=2", &["missing `FREQ`", "INTERVAL=2"]),
            (
                "FREQ=DAILY;freq=WEEKLY",
                &["`FREQ`", "twice", "`FREQ=DAILY`", "`freq=WEEKLY`"],
            ),
            (
                "FREQ=DAILY;COUNT=2;COUNT=2",
                &["`COUNT`", "twice", "`COUNT=2`"],
            ),
            ("FREQ=YEARLY", &["not supported", "`FREQ=YEARLY`"]),
            ("FREQ=HOURLY", &["not supported", "`FREQ=HOURLY`"]),
            ("FREQ=SOMETIMES", &["unknown frequency", "`FREQ=SOMETIMES`"]),
            ("FREQ=DAILY;INTERVAL=0", &["interval", "`INTERVAL=0`"]),
            ("FREQ=DAILY;INTERVAL=367", &["interval", "`INTERVAL=367`"]),
            ("FREQ=DAILY;INTERVAL=-1", &["interval", "`INTERVAL=-1`"]),
            ("FREQ=DAILY;INTERVAL=+2", &["interval", "`INTERVAL=+2`"]),
            ("FREQ=DAILY;INTERVAL=two", &["interval", "`INTERVAL=two`"]),
            (
                "FREQ=DAILY;INTERVAL=99999999999999999999",
                &["interval", "`INTERVAL=99999999999999999999`"],
            ),
            ("FREQ=DAILY;COUNT=0", &["count", "`COUNT=0`"]),
            ("FREQ=DAILY;COUNT=10001", &["count", "`COUNT=10001`"]),
            ("FREQ=DAILY;COUNT=1.5", &["count", "`COUNT=1.5`"]),
            ("FREQ=WEEKLY;BYDAY=1MO", &["weekday `1MO`", "`BYDAY=1MO`"]),
            (
                "FREQ=WEEKLY;BYDAY=-1FR",
                &["weekday `-1FR`", "`BYDAY=-1FR`"],
            ),
            ("FREQ=WEEKLY;BYDAY=MO,", &["weekday ``", "`BYDAY=MO,`"]),
            (
                "FREQ=WEEKLY;BYDAY=MONDAY",
                &["weekday `MONDAY`", "`BYDAY=MONDAY`"],
            ),
            (
                "FREQ=WEEKLY;BYDAY=MO,mo",
                &["`mo`", "twice", "`BYDAY=MO,mo`"],
            ),
            (
                "FREQ=WEEKLY;BYDAY=MO, TH",
                &["weekday ` TH`", "`BYDAY=MO, TH`"],
            ),
            ("FREQ=MONTHLY;BYDAY=MO", &["`FREQ=MONTHLY`", "`BYDAY=MO`"]),
            (
                "FREQ=MONTHLY;BYMONTHDAY=0",
                &["month day", "`BYMONTHDAY=0`"],
            ),
            (
                "FREQ=MONTHLY;BYMONTHDAY=32",
                &["month day", "`BYMONTHDAY=32`"],
            ),
            (
                "FREQ=MONTHLY;BYMONTHDAY=-1",
                &["month day", "`BYMONTHDAY=-1`"],
            ),
            (
                "FREQ=MONTHLY;BYMONTHDAY=1,15",
                &["month day", "`BYMONTHDAY=1,15`"],
            ),
            (
                "FREQ=WEEKLY;BYMONTHDAY=1",
                &["`FREQ=MONTHLY`", "`BYMONTHDAY=1`", "`FREQ=WEEKLY`"],
            ),
            (
                "FREQ=DAILY;BYMONTHDAY=1",
                &["`FREQ=MONTHLY`", "`BYMONTHDAY=1`", "`FREQ=DAILY`"],
            ),
            ("FREQ=DAILY;UNTIL=2024", &["end date", "`UNTIL=2024`"]),
            (
                "FREQ=DAILY;UNTIL=20240101T000000Z",
                &["end date", "`UNTIL=20240101T000000Z`"],
            ),
            (
                "FREQ=DAILY;UNTIL=2024/01/01",
                &["end date", "`UNTIL=2024/01/01`"],
            ),
            (
                "FREQ=DAILY;UNTIL=2024-1-011",
                &["end date", "`UNTIL=2024-1-011`"],
            ),
            (
                "FREQ=DAILY;UNTIL=+2024101",
                &["end date", "`UNTIL=+2024101`"],
            ),
            (
                "FREQ=DAILY;UNTIL=20230229",
                &["does not exist", "`UNTIL=20230229`"],
            ),
            (
                "FREQ=DAILY;UNTIL=2024-13-01",
                &["does not exist", "`UNTIL=2024-13-01`"],
            ),
            (
                "FREQ=DAILY;UNTIL=20240101;COUNT=3",
                &["`UNTIL`", "`COUNT`", "`UNTIL=20240101`", "`COUNT=3`"],
            ),
            ("FREQ=WEEKLY;WKST=MO", &["not supported", "`WKST=MO`"]),
            (
                "FREQ=MONTHLY;BYSETPOS=-1",
                &["not supported", "`BYSETPOS=-1`"],
            ),
            (
                "FREQ=DAILY;COLOR=red",
                &["unknown key `COLOR`", "`COLOR=red`"],
            ),
            (
                "FREQ=DAILY; COUNT=2",
                &["unknown key ` COUNT`", "` COUNT=2`"],
            ),
            ("FREQ=DAILY;COUNT=2 ;BYDAY=MO", &["count", "`COUNT=2 `"]),
            (
                "FREQ=WEEKLY=DAILY",
                &["unknown frequency", "`FREQ=WEEKLY=DAILY`"],
            ),
            ("FREQ=DAILY;ÜNTIL=1", &["unknown key", "`ÜNTIL=1`"]),
        ];
        for (input, needles) in cases {
            let reason = reason(input);
            for needle in *needles {
                assert!(
                    reason.contains(needle),
                    "{input:?}: {reason:?} lacks {needle:?}"
                );
            }
            let first = reason.chars().next().unwrap();
            assert!(!first.is_uppercase(), "{input:?}: {reason:?}");
            assert!(!reason.ends_with('.'), "{input:?}: {reason:?}");
        }
        let long = format!("FREQ=DAILY;{}", "X".repeat(300));
        assert!(reason(&long).contains("311 bytes"));
    }

    #[test]
    fn error_display_names_the_field() {
        let err = Rule::parse("FREQ=DAILY;INTERVAL=0").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid `recurrence`: interval must be a whole number from 1 to 366, got `INTERVAL=0`"
        );
    }

    // ---- known series ----

    #[test]
    fn weekly_two_days_every_other_week_from_a_wednesday() {
        let r = rule("FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH");
        let start = date(2024, 1, 3); // a Wednesday; its week starts Monday 2024-01-01
        assert_eq!(
            r.between(start, start, date(2024, 2, 29), 100),
            vec![
                date(2024, 1, 4),
                date(2024, 1, 15),
                date(2024, 1, 18),
                date(2024, 1, 29),
                date(2024, 2, 1),
                date(2024, 2, 12),
                date(2024, 2, 15),
                date(2024, 2, 26),
                date(2024, 2, 29),
            ]
        );
        // The Wednesday start does not match, so it is no occurrence.
        assert_eq!(r.next_on_or_after(start, start), Some(date(2024, 1, 4)));
        assert_eq!(
            r.next_after(start, date(2024, 1, 4)),
            Some(date(2024, 1, 15))
        );
        assert_eq!(
            r.next_on_or_after(start, date(2023, 6, 1)),
            Some(date(2024, 1, 4))
        );
    }

    #[test]
    fn weekly_without_byday_uses_the_start_weekday() {
        let r = rule("FREQ=WEEKLY;INTERVAL=2");
        let start = date(2024, 1, 3);
        assert_eq!(
            r.between(start, date(2024, 1, 1), date(2024, 2, 1), 10),
            vec![date(2024, 1, 3), date(2024, 1, 17), date(2024, 1, 31)]
        );
    }

    #[test]
    fn weekly_sunday_belongs_to_the_week_before() {
        // Week starts Monday: a Sunday start and a Monday occurrence are in different weeks.
        let r = rule("FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,SU");
        let start = date(2024, 1, 7); // Sunday
        assert_eq!(
            r.between(start, start, date(2024, 1, 31), 10),
            vec![
                date(2024, 1, 7),
                date(2024, 1, 15),
                date(2024, 1, 21),
                date(2024, 1, 29)
            ]
        );
    }

    #[test]
    fn monthly_on_the_31st_skips_short_months() {
        let r = rule("FREQ=MONTHLY");
        let start = date(2024, 1, 31);
        assert_eq!(
            r.between(start, start, date(2024, 12, 31), 100),
            vec![
                date(2024, 1, 31),
                date(2024, 3, 31),
                date(2024, 5, 31),
                date(2024, 7, 31),
                date(2024, 8, 31),
                date(2024, 10, 31),
                date(2024, 12, 31),
            ]
        );
        let r = rule("FREQ=MONTHLY;BYMONTHDAY=31;COUNT=3");
        assert_eq!(
            all(&r, date(2024, 2, 10)),
            vec![date(2024, 3, 31), date(2024, 5, 31), date(2024, 7, 31)]
        );
        // Every 12 months from April: April never has the 31st.
        let r = rule("FREQ=MONTHLY;INTERVAL=12;BYMONTHDAY=31");
        assert_eq!(r.next_on_or_after(date(2024, 4, 1), date(2024, 4, 1)), None);
        // The 29th of February every 12 months: leap years only, 2100 is none.
        let r = rule("FREQ=MONTHLY;INTERVAL=12");
        assert_eq!(
            r.between(date(2096, 2, 29), date(2096, 1, 1), date(2110, 1, 1), 10),
            vec![date(2096, 2, 29), date(2104, 2, 29), date(2108, 2, 29)]
        );
    }

    #[test]
    fn monthly_on_the_29th_counts_leap_years_across_centuries() {
        let r = rule("FREQ=MONTHLY;INTERVAL=12;COUNT=5");
        let start = date(2096, 2, 29);
        let want = [2096, 2104, 2108, 2112, 2116]
            .map(|y| date(y, 2, 29))
            .to_vec();
        assert_eq!(all(&r, start), want);
        assert_eq!(
            r.next_on_or_after(start, date(2116, 1, 1)),
            Some(date(2116, 2, 29))
        );
        assert_eq!(r.next_after(start, date(2116, 2, 29)), None);
        // Every month on the 29th for 10 years from 2095: Feb 2100 has none.
        let r = rule("FREQ=MONTHLY;BYMONTHDAY=29;COUNT=115");
        let start = date(2095, 1, 1);
        let got = all(&r, start);
        assert_eq!(got.len(), 100); // `between` above stops at 100
        let last = r.next_on_or_after(start, date(2104, 1, 1)).unwrap();
        let spec = Spec {
            freq: Freq::Monthly,
            interval: 1,
            by_day: Vec::new(),
            by_month_day: Some(29),
            until_offset: None,
            count: Some(115),
        };
        let reference = spec.reference(start, date(2120, 1, 1));
        assert_eq!(reference.len(), 115);
        assert_eq!(reference.get(..100), Some(got.as_slice()));
        assert_eq!(r.between(start, start, date(2120, 1, 1), 200), reference);
        assert!(reference.contains(&last));
    }

    #[test]
    fn monthly_by_month_day_before_the_start_day() {
        let r = rule("FREQ=MONTHLY;BYMONTHDAY=1;COUNT=3");
        assert_eq!(
            all(&r, date(2024, 1, 15)),
            vec![date(2024, 2, 1), date(2024, 3, 1), date(2024, 4, 1)]
        );
        let r = rule("FREQ=MONTHLY;BYMONTHDAY=1;INTERVAL=2");
        assert_eq!(
            r.between(date(2024, 1, 1), date(2024, 1, 1), date(2024, 7, 1), 10),
            vec![
                date(2024, 1, 1),
                date(2024, 3, 1),
                date(2024, 5, 1),
                date(2024, 7, 1)
            ]
        );
    }

    #[test]
    fn daily_every_third_day_with_count() {
        let r = rule("FREQ=DAILY;INTERVAL=3;COUNT=4");
        let start = date(2024, 2, 27);
        assert_eq!(
            all(&r, start),
            vec![
                date(2024, 2, 27),
                date(2024, 3, 1),
                date(2024, 3, 4),
                date(2024, 3, 7)
            ]
        );
        assert_eq!(r.next_after(start, date(2024, 3, 7)), None);
        assert_eq!(
            r.next_on_or_after(start, date(2024, 3, 5)),
            Some(date(2024, 3, 7))
        );
        assert_eq!(r.next_on_or_after(start, date(2024, 3, 8)), None);
    }

    #[test]
    fn daily_with_byday_filters() {
        let r = rule("FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR;COUNT=6");
        let start = date(2024, 1, 5); // Friday
        assert_eq!(
            all(&r, start),
            vec![
                date(2024, 1, 5),
                date(2024, 1, 8),
                date(2024, 1, 9),
                date(2024, 1, 10),
                date(2024, 1, 11),
                date(2024, 1, 12),
            ]
        );
        // Every 7 days from a Wednesday never falls on a Monday.
        let r = rule("FREQ=DAILY;INTERVAL=7;BYDAY=MO");
        assert_eq!(r.next_on_or_after(date(2024, 1, 3), date(2024, 1, 1)), None);
    }

    #[test]
    fn until_is_inclusive() {
        let r = rule("FREQ=DAILY;UNTIL=20240105");
        let start = date(2024, 1, 1);
        assert_eq!(all(&r, start).len(), 5);
        assert_eq!(
            r.next_on_or_after(start, date(2024, 1, 5)),
            Some(date(2024, 1, 5))
        );
        assert_eq!(r.next_after(start, date(2024, 1, 5)), None);
        let r = rule("FREQ=WEEKLY;UNTIL=2024-01-15");
        assert_eq!(
            all(&r, start),
            vec![date(2024, 1, 1), date(2024, 1, 8), date(2024, 1, 15)]
        );
        // An end before the start: nothing at all.
        let r = rule("FREQ=DAILY;UNTIL=20231231");
        assert_eq!(all(&r, start), Vec::<Date>::new());
    }

    #[test]
    fn between_respects_bounds_and_limit() {
        let r = rule("FREQ=DAILY");
        let start = date(2024, 1, 1);
        assert_eq!(
            r.between(start, date(2024, 1, 10), date(2024, 1, 12), 100)
                .len(),
            3
        );
        assert_eq!(
            r.between(start, date(2024, 1, 10), date(2024, 1, 12), 2)
                .len(),
            2
        );
        assert_eq!(
            r.between(start, date(2024, 1, 10), date(2024, 1, 12), 0)
                .len(),
            0
        );
        assert_eq!(
            r.between(start, date(2024, 1, 12), date(2024, 1, 10), 10)
                .len(),
            0
        );
        assert_eq!(
            r.between(start, date(2023, 12, 30), date(2024, 1, 1), 10),
            vec![start]
        );
    }

    #[test]
    fn daily_rule_thirty_years_in_is_fast_and_right() {
        let start = date(1995, 3, 14);
        let daily = rule("FREQ=DAILY");
        let from = date(2025, 6, 15);
        assert_eq!(daily.next_on_or_after(start, from), Some(from));
        let every_third = rule("FREQ=DAILY;INTERVAL=3");
        let next = every_third.next_on_or_after(start, from).unwrap();
        let offset = start.until((jiff::Unit::Day, next)).unwrap().get_days();
        assert_eq!(offset % 3, 0);
        assert!(next >= from && next < from.checked_add(3.days()).unwrap());
        // COUNT=10000 every day ends 10000 days after the start.
        let counted = rule("FREQ=DAILY;COUNT=10000");
        let last = start.checked_add(9_999.days()).unwrap();
        assert_eq!(counted.next_on_or_after(start, last), Some(last));
        assert_eq!(counted.next_after(start, last), None);
        assert_eq!(counted.next_on_or_after(start, from), None);
        // Weekdays only, counted: index arithmetic, not iteration.
        let workdays = rule("FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR;COUNT=10000");
        let mut last = start;
        let mut seen = 0;
        let mut day = start;
        while seen < 10_000 {
            if day.weekday().to_monday_zero_offset() < 5 {
                seen += 1;
                last = day;
            }
            day = day.tomorrow().unwrap();
        }
        assert_eq!(workdays.next_on_or_after(start, last), Some(last));
        assert_eq!(workdays.next_after(start, last), None);
        assert!(workdays.next_on_or_after(start, from).is_some());

        let clock = std::time::Instant::now();
        for i in 0..20_000 {
            let from = from.checked_add((i % 400).days()).unwrap();
            assert!(daily.next_on_or_after(start, from).is_some());
            assert!(workdays.next_on_or_after(start, from).is_some());
        }
        assert!(clock.elapsed() < std::time::Duration::from_secs(2));
    }

    #[test]
    fn extremes_of_the_calendar_do_not_panic() {
        let max = date(9999, 12, 31);
        let min = date(-9999, 1, 1);
        for text in [
            "FREQ=DAILY",
            "FREQ=DAILY;INTERVAL=366;BYDAY=SU",
            "FREQ=WEEKLY;INTERVAL=366;BYDAY=MO,SU",
            "FREQ=MONTHLY;INTERVAL=366",
            "FREQ=MONTHLY;BYMONTHDAY=29;INTERVAL=12;COUNT=10000",
        ] {
            let r = rule(text);
            for (start, from) in [(max, max), (min, max), (min, min), (date(9999, 12, 1), max)] {
                let _ = r.next_on_or_after(start, from);
                let _ = r.next_after(start, from);
                let _ = r.between(start, from, max, 5);
            }
        }
        assert_eq!(rule("FREQ=DAILY").next_after(max, max), None);
        assert_eq!(rule("FREQ=DAILY").next_on_or_after(max, max), Some(max));
        assert_eq!(
            rule("FREQ=MONTHLY").next_after(date(9999, 12, 31), max),
            None
        );
    }

    #[test]
    fn grace_days_by_frequency() {
        assert_eq!(rule("FREQ=DAILY").grace_days(), 1);
        assert_eq!(rule("FREQ=WEEKLY").grace_days(), 2);
        assert_eq!(rule("FREQ=MONTHLY").grace_days(), 7);
    }

    #[test]
    fn freq_serializes_snake_case() {
        fn assert_serialize<T: serde::Serialize>(_: &T) {}
        assert_serialize(&Freq::Monthly);
    }

    // ---- properties against a naive reference ----

    /// A rule as the property tests generate it, independent of `Rule`'s representation.
    #[derive(Debug, Clone)]
    struct Spec {
        freq: Freq,
        interval: u32,
        /// Weekday indices (Monday = 0) for `BYDAY`; empty when absent.
        by_day: Vec<i64>,
        by_month_day: Option<i8>,
        until_offset: Option<i64>,
        count: Option<u32>,
    }

    impl Spec {
        fn text(&self, dtstart: Date) -> String {
            let mut parts = vec![format!("FREQ={}", self.freq.code())];
            if self.interval != 1 || self.by_day.len() % 2 == 1 {
                parts.push(format!("INTERVAL={}", self.interval));
            }
            if !self.by_day.is_empty() {
                let days: Vec<&str> = self
                    .by_day
                    .iter()
                    .map(|&d| WEEKDAY_CODES[d as usize])
                    .collect();
                parts.push(format!("BYDAY={}", days.join(",")));
            }
            if let Some(d) = self.by_month_day {
                parts.push(format!("BYMONTHDAY={d}"));
            }
            if let Some(offset) = self.until_offset {
                let until = dtstart.checked_add(offset.days()).unwrap();
                parts.push(format!("UNTIL={until}"));
            }
            if let Some(n) = self.count {
                parts.push(format!("COUNT={n}"));
            }
            parts.reverse(); // key order must not matter
            parts.join(";")
        }

        /// Every occurrence up to `horizon`, walking day by day from `dtstart`.
        fn reference(&self, dtstart: Date, horizon: Date) -> Vec<Date> {
            let until = self
                .until_offset
                .map(|o| dtstart.checked_add(o.days()).unwrap());
            let interval = i64::from(self.interval);
            let start_weekday = i64::from(dtstart.weekday().to_monday_zero_offset());
            let mut out = Vec::new();
            let mut day = dtstart;
            let mut offset = 0i64;
            while day <= horizon {
                if until.is_some_and(|u| day > u) {
                    break;
                }
                if self.count.is_some_and(|n| out.len() >= n as usize) {
                    break;
                }
                let weekday = i64::from(day.weekday().to_monday_zero_offset());
                let hit = match self.freq {
                    Freq::Daily => {
                        offset % interval == 0
                            && (self.by_day.is_empty() || self.by_day.contains(&weekday))
                    }
                    Freq::Weekly => {
                        let week = (offset + start_weekday) / 7;
                        let days = if self.by_day.is_empty() {
                            vec![start_weekday]
                        } else {
                            self.by_day.clone()
                        };
                        week % interval == 0 && days.contains(&weekday)
                    }
                    Freq::Monthly => {
                        let months = (i64::from(day.year()) - i64::from(dtstart.year())) * 12
                            + i64::from(day.month())
                            - i64::from(dtstart.month());
                        months % interval == 0
                            && day.day() == self.by_month_day.unwrap_or(dtstart.day())
                    }
                };
                if hit {
                    out.push(day);
                }
                day = day.tomorrow().unwrap();
                offset += 1;
            }
            out
        }
    }

    fn spec_strategy() -> impl Strategy<Value = Spec> {
        let freq = prop_oneof![Just(Freq::Daily), Just(Freq::Weekly), Just(Freq::Monthly)];
        let interval = prop_oneof![4 => 1u32..=4, 2 => 1u32..=15, 1 => 1u32..=366];
        let by_day = prop::sample::subsequence((0..7).collect::<Vec<i64>>(), 0..=7).prop_shuffle();
        let by_month_day = prop::option::weighted(0.6, prop_oneof![1i8..=31, 27i8..=31]);
        let end = prop_oneof![
            2 => Just((None, None)),
            1 => (-40i64..4000).prop_map(|o| (Some(o), None)),
            1 => (1u32..80).prop_map(|n| (None, Some(n))),
        ];
        (freq, interval, by_day, by_month_day, end).prop_map(
            |(freq, interval, by_day, by_month_day, (until_offset, count))| Spec {
                freq,
                interval,
                by_day: if freq == Freq::Monthly {
                    Vec::new()
                } else {
                    by_day
                },
                by_month_day: if freq == Freq::Monthly {
                    by_month_day
                } else {
                    None
                },
                until_offset,
                count,
            },
        )
    }

    /// Dates from January 1st of `year` on, over about `years` years.
    fn date_strategy(year: i16, years: i64) -> impl Strategy<Value = Date> {
        (0i64..years * 365).prop_map(move |o| date(year, 1, 1).checked_add(o.days()).unwrap())
    }

    /// Compares every query with `spec`'s naive reference for the given start and from-dates.
    fn check_against_reference(
        spec: &Spec,
        dtstart: Date,
        from_offsets: &[i64],
        window: i64,
        limit: usize,
    ) -> std::result::Result<(), TestCaseError> {
        let text = spec.text(dtstart);
        let rule = Rule::parse(&text).unwrap();
        prop_assert_eq!(Rule::parse(&rule.to_rule_string()).unwrap(), rule.clone());
        let last_from = from_offsets.iter().max().copied().unwrap_or(0);
        let horizon = dtstart
            .checked_add((last_from + window + 12 * 366).days())
            .unwrap();
        let expected = spec.reference(dtstart, horizon);
        for &offset in from_offsets {
            let from = dtstart.checked_add(offset.days()).unwrap();
            let want = expected.iter().copied().find(|d| *d >= from);
            let got = rule.next_on_or_after(dtstart, from);
            match want {
                Some(_) => prop_assert_eq!(got, want, "{} from {}", text, from),
                // Nothing within the horizon: nothing at all, or something past it.
                None => prop_assert!(
                    got.is_none_or(|d| d > horizon),
                    "{} from {}: {:?}",
                    text,
                    from,
                    got
                ),
            }
            let want_after = expected.iter().copied().find(|d| *d > from);
            let got_after = rule.next_after(dtstart, from);
            match want_after {
                Some(_) => prop_assert_eq!(got_after, want_after, "{} after {}", text, from),
                None => prop_assert!(got_after.is_none_or(|d| d > horizon)),
            }
            let to = from.checked_add(window.days()).unwrap();
            let want_between: Vec<Date> = expected
                .iter()
                .copied()
                .filter(|d| *d >= from && *d <= to)
                .take(limit)
                .collect();
            prop_assert_eq!(
                rule.between(dtstart, from, to, limit),
                want_between,
                "{} in [{}, {}]",
                text,
                from,
                to
            );
        }
        Ok(())
    }

    /// Keys the near-miss parser property combines.
    const NEAR_MISS_KEYS: [&str; 10] = [
        "FREQ",
        "freq",
        "INTERVAL",
        "BYDAY",
        "BYMONTHDAY",
        "UNTIL",
        "COUNT",
        "WKST",
        "X",
        "",
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]

        #[test]
        fn queries_match_the_naive_reference(
            spec in spec_strategy(),
            dtstart in date_strategy(2000, 40),
            from_offsets in prop::collection::vec(-400i64..7000, 1..6),
            window in 0i64..800,
            limit in 0usize..40,
        ) {
            check_against_reference(&spec, dtstart, &from_offsets, window, limit)?;
        }

        #[test]
        fn queries_match_the_naive_reference_across_centuries(
            spec in spec_strategy(),
            dtstart in date_strategy(1590, 820),
            from_offsets in prop::collection::vec(-400i64..7000, 1..4),
            window in 0i64..800,
            limit in 0usize..40,
        ) {
            check_against_reference(&spec, dtstart, &from_offsets, window, limit)?;
        }

        #[test]
        fn day_numbers_agree_with_jiff(
            a in (-9999i16..=9999, 1i8..=12, 1i8..=31),
            b in (-9999i16..=9999, 1i8..=12, 1i8..=31),
        ) {
            let a = Date::new(a.0, a.1, a.2.min(28)).unwrap();
            let b = Date::new(b.0, b.1, b.2.min(28)).unwrap();
            let b = if b.day() % 2 == 0 { b.last_of_month() } else { b };
            prop_assert_eq!(date_from_day_number(day_number(a)), Some(a));
            prop_assert_eq!(date_from_day_number(day_number(b)), Some(b));
            let span = a.until((jiff::Unit::Day, b)).unwrap();
            prop_assert_eq!(day_number(b) - day_number(a), i64::from(span.get_days()));
            prop_assert_eq!(days_in_month(month_number(a)), i64::from(a.days_in_month()));
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,300}") {
            let _ = Rule::parse(&s);
        }

        #[test]
        fn parse_never_panics_on_near_misses(
            parts in prop::collection::vec(
                (
                    prop::sample::select(NEAR_MISS_KEYS.to_vec()),
                    "[A-Za-z0-9,+\\-=]{0,12}",
                ),
                0..6,
            ),
        ) {
            let text: Vec<String> = parts.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let text = text.join(";");
            if let Ok(rule) = Rule::parse(&text) {
                prop_assert_eq!(Rule::parse(&rule.to_rule_string()).unwrap(), rule);
            }
        }
    }
}
