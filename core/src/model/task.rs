//! Ownership tasks: residents adopt the courtyard garden, the stairwell, the bench.
//!
//! A task has an *adopter* who looks after it and *backups* who take over when the adopter
//! steps back. It may recur (a [`Rule`] on civil dates from `dtstart`, in the task's time
//! zone); each occurrence is recorded as done or skipped. A task in *pledge mode* waits until
//! enough households pledge to carry it before it starts.
//!
//! # Document (schema 1, `kind = "task"`)
//!
//! | key | type | notes |
//! |---|---|---|
//! | `title`, `description` | Text | merged character by character |
//! | `lat`, `lon` | f64? | an optional exact point ("the bench by the playground") |
//! | `location_label` | str | "Binnentuin blok C", may be empty |
//! | `rrule` | str? | the recurrence rule, canonical ([`Rule::to_rule_string`]); absent: one-off |
//! | `dtstart` | str? | `YYYY-MM-DD`: the series' start, or the one-off's date; required with `rrule` |
//! | `tz` | str | IANA time zone the dates live in (default `Europe/Amsterdam`) |
//! | `pledge_target` | int? | pledge mode: distinct households needed, `1..=100`; set at creation only |
//!
//! `rrule`, `dtstart` and `tz` are the schedule at creation. A later change of schedule is a log
//! entry (`schedule`, below), never an overwrite of these fields, so every occurrence is checked
//! against the schedule that was in force at its place in the log.
//!
//! Log entries (besides the common `{t, by, role, at}`):
//!
//! | `t` | fields | who |
//! |---|---|---|
//! | `claim` | `as`: `adopter` or `backup` (what the claimant saw when claiming) | anyone, for themself |
//! | `release` | | a member who is in, for themself |
//! | `pledge` | `household`: the pledger's household label (member id when they have none) | anyone, for themself |
//! | `unpledge` | | a pledger, for themself |
//! | `occurrence` | `date` (`YYYY-MM-DD`), `outcome` (`done` or `skipped`), `note` | adopter, backup, or [`Action::ManageTask`] |
//! | `pause`, `resume` | | adopter, or [`Action::ManageTask`] |
//! | `check_add` | `text`; the entry id is the item id | creator, adopter, backup, or [`Action::ManageTask`] |
//! | `check_remove` | `item` | as `check_add` |
//! | `schedule` | `rrule` (empty: one-off), `dtstart` (empty: undated), `tz` | creator, or [`Action::ManageTask`] |
//!
//! # The rule (every device computes it identically)
//!
//! Entries are replayed in `(at, by, id)` order; an entry that is not valid at its place in
//! that order is ignored, and whoever it concerned is told where that helps (a [`Notice`]).
//! An entry's `at` is at least 1 ms after every entry its device had seen (`doc::next_at`),
//! so what someone did *after seeing* another action sorts after it, whatever the clocks say.
//!
//! - **Adopter and backups.** For each member, their latest `claim`/`release` decides whether
//!   they are *in*. The members who are in are ordered by the `at` of the claim that brought
//!   them in (tie: member id, then entry id — exactly the log order); the first is the adopter,
//!   the rest are the backups in that order. A claim by a member who is already in changes
//!   nothing (they keep their place). So when two people claim a task offline, every device
//!   shows the earlier claimant as adopter and the other as first backup, and the other is told
//!   `claim_lost` ("… claimed it first; you are first backup") — unless they claimed knowing
//!   there was an adopter already (`as = backup`: "join as backup"). When the adopter releases,
//!   the first backup becomes adopter (hand-over) and is told `now_adopter`. Claims on a
//!   finished task are ignored.
//! - **Pledge mode.** Each member's latest `pledge`/`unpledge` decides whether they pledge; a
//!   pledge counts for the household label it carries, so two members of one household count
//!   once. The task is `pledging` until, at some point in the log, `pledge_target` distinct
//!   households pledge at once; from then on it has *started* and stays started even when
//!   pledges are withdrawn later (people already count on it). Claims are allowed at any time,
//!   also while pledging (status stays `pledging` until the target is met); recording
//!   occurrences is not (the task has not started). Without a `pledge_target`, pledges are
//!   ignored.
//! - **Occurrences.** An `occurrence` entry counts when, at its place in the log, the task is
//!   not pledging, its author is the adopter or a backup or has [`Action::ManageTask`], its
//!   date is an occurrence of the schedule in force then (the rule's dates; a dated one-off's
//!   `dtstart`; any date for an undated one-off) and that date is not after the day of the
//!   entry's `at` in the task's time zone. Otherwise it is ignored and its author is told
//!   `occurrence_ignored`. For one date, **done beats skipped** (someone actually did it),
//!   whatever their order; among equal outcomes the first stands. A skip overruled by a done
//!   tells the skipper `skip_overruled`.
//! - **Pause / resume**: by the adopter at that point or by [`Action::ManageTask`]; the latest
//!   valid one wins.
//! - **Schedule**: the latest valid `schedule` entry (by the creator or [`Action::ManageTask`],
//!   with a valid rule, date and time zone) is in force from its place on.
//! - **Checklist**: items are `check_add` entries in log order, minus `check_remove`d ones
//!   (at most [`MAX_CHECKLIST`] items; further adds are ignored).
//!
//! **Next open occurrence** (`next_open`): the first occurrence strictly after the latest
//! recorded occurrence date, or the first on or after `dtstart` when none is recorded — so
//! occurrences missed before a recorded one are passed over, not piled up. A dated one-off's
//! only occurrence is open until a date on or after it is recorded; an undated one-off has none.
//!
//! **Status** (clock-free, stored): `finished` when the schedule has no next open occurrence
//! any more (the rule ended and its last occurrence is recorded; a one-off is recorded);
//! otherwise `pledging` while the pledge target is unmet; otherwise `paused`; otherwise
//! `unadopted` (no adopter; `needs_response`) or `active`.
//!
//! **Due and overdue are not stored**: the projection sets `due_at` to the start of
//! `next_open`'s day in the task's time zone and `overdue_at` to the start of the day
//! [`Rule::grace_days`] calendar days later (a one-off: 1 day), both only while the status is
//! `active` or `unadopted`; the list queries compare them with the clock. Days are calendar
//! days in the task's zone, so a week with a daylight-saving change still starts and ends at
//! local midnight.

use std::collections::BTreeMap;

use automerge::{AutoCommit, ROOT, ReadDoc};
use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use serde::Serialize;

use crate::doc::{self, Entry, Field};
use crate::error::{Error, Result};
use crate::ids::{EntityId, MemberId};
use crate::model::rrule::Rule;
use crate::model::{
    Action, Ctx, Detail, Kind, Notice, NoticeCode, Participant, Projection, Relation, allowed,
    require,
};

names! {
    /// The entries of this kind's log (`t`), as stored.
    pub enum TaskEntry {
        /// `check_add`.
        CheckAdd = "check_add",
        /// `check_remove`.
        CheckRemove = "check_remove",
        /// `claim`.
        Claim = "claim",
        /// `occurrence`.
        Occurrence = "occurrence",
        /// `pause`.
        Pause = "pause",
        /// `pledge`.
        Pledge = "pledge",
        /// `release`.
        Release = "release",
        /// `resume`.
        Resume = "resume",
        /// `schedule`.
        Schedule = "schedule",
        /// `unpledge`.
        Unpledge = "unpledge",
    }
}

/// The time zone a task uses when none is given.
pub const DEFAULT_TZ: &str = "Europe/Amsterdam";
/// Most checklist items a task keeps.
pub const MAX_CHECKLIST: usize = 100;
/// Largest pledge target.
pub const MAX_PLEDGE_TARGET: u32 = 100;
/// Recorded occurrences a [`TaskView`] lists (the most recent ones).
pub const RECENT_OCCURRENCES: usize = 50;

const MAX_TITLE: usize = 200;
const MAX_DESCRIPTION: usize = 5_000;
const MAX_LABEL: usize = 120;
const MAX_ITEM: usize = 200;
pub(crate) const MAX_NOTE: usize = 1_000;
const MAX_HOUSEHOLD: usize = 120;
const MAX_TZ: usize = 64;
/// Accepted years of a date: wide enough for any real task, narrow enough to stay far from
/// the calendar's limits.
const YEARS: std::ops::RangeInclusive<i16> = 1970..=2999;
/// Grace days of a one-off task.
const ONE_OFF_GRACE: i32 = 1;

/// What a new task says.
#[derive(Debug, Clone, PartialEq)]
pub struct NewTask {
    /// A short title ("Binnentuin water geven").
    pub title: String,
    /// Details (may be empty).
    pub description: String,
    /// Latitude of an exact point, with `lon`.
    pub lat: Option<f64>,
    /// Longitude of an exact point, with `lat`.
    pub lon: Option<f64>,
    /// A location label (may be empty).
    pub location_label: String,
    /// A recurrence rule ([`Rule::parse`]); `None` for a one-off task.
    pub rrule: Option<String>,
    /// `YYYY-MM-DD`: the series' start (required with `rrule`) or the one-off's date.
    pub dtstart: Option<String>,
    /// IANA time zone name; `None` means [`DEFAULT_TZ`].
    pub tz: Option<String>,
    /// Pledge mode: households needed before the task starts, `1..=100`.
    pub pledge_target: Option<u32>,
    /// Who reads it ([`crate::audience`]); the whole buurt unless chosen otherwise.
    pub audience: crate::audience::Audience,
}

impl NewTask {
    /// An undated one-off task with only a title.
    pub fn new(title: &str) -> Self {
        NewTask {
            audience: crate::audience::Audience::Buurt,
            title: title.to_owned(),
            description: String::new(),
            lat: None,
            lon: None,
            location_label: String::new(),
            rrule: None,
            dtstart: None,
            tz: None,
            pledge_target: None,
        }
    }

    /// A recurring task: `rrule` from `dtstart` (`YYYY-MM-DD`) in [`DEFAULT_TZ`].
    pub fn recurring(title: &str, rrule: &str, dtstart: &str) -> Self {
        NewTask {
            rrule: Some(rrule.to_owned()),
            dtstart: Some(dtstart.to_owned()),
            ..NewTask::new(title)
        }
    }
}

/// A task's schedule, as given to [`Store::edit_task`](crate::Store::edit_task).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TaskSchedule {
    /// A recurrence rule; `None` makes the task one-off.
    pub rrule: Option<String>,
    /// `YYYY-MM-DD`; required with `rrule`.
    pub dtstart: Option<String>,
    /// IANA time zone; `None` means [`DEFAULT_TZ`].
    pub tz: Option<String>,
}

/// Changes to a task; `None` leaves a field as it is.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TaskEdit {
    /// New title.
    pub title: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New location label.
    pub location_label: Option<String>,
    /// `Some(Some((lat, lon)))` sets the point, `Some(None)` removes it.
    pub point: Option<Option<(f64, f64)>>,
    /// A new schedule (recorded as a `schedule` entry).
    pub schedule: Option<TaskSchedule>,
}

/// Derived, clock-free status of a task (due and overdue are derived at query time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    /// Pledge mode, target not met yet.
    Pledging,
    /// Nobody has adopted it.
    Unadopted,
    /// Adopted and running.
    Active,
    /// Paused.
    Paused,
    /// The schedule has no open occurrence left.
    Finished,
}

impl TaskStatus {
    /// Status name as stored in projections.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Pledging => "pledging",
            TaskStatus::Unadopted => "unadopted",
            TaskStatus::Active => "active",
            TaskStatus::Paused => "paused",
            TaskStatus::Finished => "finished",
        }
    }
}

/// What happened to one occurrence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Someone did it.
    Done,
    /// It was passed over on purpose.
    Skipped,
}

impl Outcome {
    /// The name used in documents and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Done => "done",
            Outcome::Skipped => "skipped",
        }
    }

    /// Parses [`Outcome::as_str`]'s output.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] (field `outcome`) for anything else.
    pub fn parse(s: &str) -> Result<Outcome> {
        match s {
            "done" => Ok(Outcome::Done),
            "skipped" => Ok(Outcome::Skipped),
            _ => Err(Error::invalid(
                "outcome",
                format!("`{s}` is not one of done, skipped"),
            )),
        }
    }
}

/// A recorded occurrence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Occurrence {
    /// The occurrence's date, `YYYY-MM-DD`.
    pub date: String,
    /// Done or skipped.
    pub outcome: Outcome,
    /// Who recorded it.
    pub by: MemberId,
    /// When it was recorded.
    pub at: i64,
    /// Their note (may be empty).
    pub note: String,
}

/// An active pledge.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pledge {
    /// The pledger.
    pub member: MemberId,
    /// The household it counts for.
    pub household: String,
    /// When they (last) pledged.
    pub at: i64,
}

/// One checklist item.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChecklistItem {
    /// The item id (its `check_add` entry id).
    pub id: String,
    /// The text.
    pub text: String,
    /// Who added it.
    pub by: MemberId,
    /// When.
    pub at: i64,
}

/// The schedule in force: parsed, for computing dates.
#[derive(Debug, Clone, PartialEq)]
struct Schedule {
    rule: Option<Rule>,
    dtstart: Option<Date>,
    tz_name: String,
    tz: TimeZone,
}

impl Schedule {
    /// The schedule at creation, read leniently: a value this device cannot parse counts as
    /// absent (a one-off, undated, in the default zone).
    fn from_root(d: &impl ReadDoc) -> Schedule {
        let rule = doc::get_str(d, &ROOT, "rrule").and_then(|r| Rule::parse(&r).ok());
        let dtstart =
            doc::get_str(d, &ROOT, "dtstart").and_then(|s| parse_date("dtstart", &s).ok());
        let tz = doc::get_str(d, &ROOT, "tz").and_then(|t| parse_tz(&t).ok());
        Schedule::build(rule, dtstart, tz)
    }

    fn build(
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
    fn has(&self, d: Date) -> bool {
        match (&self.rule, self.dtstart) {
            (Some(rule), Some(start)) => rule.next_on_or_after(start, d) == Some(d),
            (_, Some(start)) => d == start,
            (_, None) => true,
        }
    }

    /// The first open occurrence given the latest recorded date.
    fn next_open(&self, latest: Option<Date>) -> Option<Date> {
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
    fn finished(&self, latest: Option<Date>) -> bool {
        if self.rule.is_none() && self.dtstart.is_none() {
            latest.is_some()
        } else {
            self.next_open(latest).is_none()
        }
    }

    fn grace_days(&self) -> i32 {
        self.rule.as_ref().map_or(ONE_OFF_GRACE, Rule::grace_days)
    }

    /// The civil date of instant `ms` in this zone.
    fn day_of(&self, ms: i64) -> Option<Date> {
        Timestamp::from_millisecond(ms)
            .ok()
            .map(|t| t.to_zoned(self.tz.clone()).date())
    }

    /// The first instant of `d` in this zone, ms.
    fn start_of(&self, d: Date) -> Option<i64> {
        d.to_zoned(self.tz.clone())
            .ok()
            .map(|z| z.timestamp().as_millisecond())
    }
}

/// How far [`TaskView::current_occurrence`] looks back.
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
fn parse_tz(s: &str) -> Result<(String, TimeZone)> {
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
fn check_schedule(
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

fn check_point(lat: Option<f64>, lon: Option<f64>) -> Result<Option<(f64, f64)>> {
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

/// Everything a screen shows about one task, derived from its document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskView {
    /// Entity id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Exact point, if any.
    pub lat: Option<f64>,
    /// Exact point, if any.
    pub lon: Option<f64>,
    /// Location label (may be empty).
    pub location_label: String,
    /// The creator.
    pub creator: MemberId,
    /// Created at.
    pub created_at: i64,
    /// Last activity.
    pub updated_at: i64,
    /// The canonical recurrence rule in force; `None` for a one-off.
    pub recurrence: Option<String>,
    /// `YYYY-MM-DD` start of the schedule in force (a one-off's date), if any.
    pub dtstart: Option<String>,
    /// The time zone dates live in.
    pub tz: String,
    /// Pledge mode: households needed.
    pub pledge_target: Option<u32>,
    /// Derived status.
    pub status: TaskStatus,
    /// The adopter.
    pub adopter: Option<MemberId>,
    /// Backups, first in line first.
    pub backups: Vec<MemberId>,
    /// Active pledges, in order.
    pub pledges: Vec<Pledge>,
    /// Distinct households among the active pledges.
    pub households: usize,
    /// Whether paused (the status shows `paused` unless finished or pledging).
    pub paused: bool,
    /// Checklist, in the order items were added.
    pub checklist: Vec<ChecklistItem>,
    /// Recorded occurrences, most recent date first, at most [`RECENT_OCCURRENCES`].
    pub occurrences: Vec<Occurrence>,
    /// The first open occurrence, `YYYY-MM-DD` (see module docs).
    pub next_open: Option<String>,
    /// Start of `next_open`'s day in the task's zone, ms; only when active or unadopted.
    pub due_at: Option<i64>,
    /// From when the open occurrence is overdue, ms; only when active or unadopted.
    pub overdue_at: Option<i64>,
    /// What members should be told.
    pub notices: Vec<Notice>,
    #[serde(skip)]
    schedule: Schedule,
    #[serde(skip)]
    recorded: BTreeMap<Date, Outcome>,
    #[serde(skip)]
    next_open_day: Option<Date>,
}

/// Where a member stands on a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "as", rename_all = "snake_case")]
pub enum TaskStanding {
    /// The adopter.
    Adopter,
    /// A backup, waiting to take over.
    Backup {
        /// 1-based place in the line of backups.
        position: usize,
    },
    /// Neither adopter nor backup.
    None,
}

impl TaskView {
    /// Where `member` stands on this task, as derived now: adopter, a backup (with their place
    /// in line) or neither.
    pub fn standing(&self, member: &MemberId) -> TaskStanding {
        if self.adopter.as_ref() == Some(member) {
            return TaskStanding::Adopter;
        }
        match self.backups.iter().position(|m| m == member) {
            Some(i) => TaskStanding::Backup {
                position: i.saturating_add(1),
            },
            None => TaskStanding::None,
        }
    }

    /// `not_due`, `due` or `overdue` at `now` (ms), as the list queries derive it.
    pub fn due_state(&self, now: i64) -> &'static str {
        match (self.due_at, self.overdue_at) {
            (_, Some(o)) if o <= now => "overdue",
            (Some(d), _) if d <= now => "due",
            _ => "not_due",
        }
    }

    /// The occurrence "record it" most likely means at `now`: the latest occurrence on or
    /// before today (in the task's zone), looking back at most [`LOOKBACK_DAYS`] days; for a
    /// dated one-off its date once reached; for an undated one-off, today. `None` when there is
    /// none (the series has not started, or its last occurrence is older than the look-back).
    pub fn current_occurrence(&self, now: i64) -> Option<String> {
        let rule = self.recurrence.as_deref().and_then(|r| Rule::parse(r).ok());
        let dtstart = self
            .dtstart
            .as_deref()
            .and_then(|d| parse_date("dtstart", d).ok());
        let tz = parse_tz(&self.tz).ok();
        let sched = Schedule::build(rule, dtstart, tz);
        let today = sched.day_of(now)?;
        let date = match (&sched.rule, sched.dtstart) {
            (Some(rule), Some(start)) => {
                let from = today
                    .checked_sub(jiff::Span::new().days(LOOKBACK_DAYS))
                    .ok()?
                    .max(start);
                rule.between(start, from, today, usize::try_from(LOOKBACK_DAYS).ok()? + 1)
                    .pop()?
            }
            (_, Some(start)) => Some(start).filter(|s| *s <= today)?,
            (_, None) => today,
        };
        Some(date.to_string())
    }

    /// Whether `member` is the adopter or a backup.
    pub fn is_in(&self, member: &MemberId) -> bool {
        self.adopter.as_ref() == Some(member) || self.backups.contains(member)
    }

    fn may_edit(&self, ctx: &Ctx) -> bool {
        ctx.member == self.creator || allowed(Action::ManageTask, ctx.role)
    }
}

#[derive(Debug, Clone)]
struct Recorded {
    date: Date,
    outcome: Outcome,
    by: MemberId,
    at: i64,
    note: String,
}

/// The replay's state.
struct Replay {
    creator: MemberId,
    schedule: Schedule,
    pledge_target: Option<u32>,
    started: bool,
    /// Members who are in, in log order of their claims: the adopter first.
    claimants: Vec<MemberId>,
    pledges: Vec<Pledge>,
    paused: bool,
    checklist: Vec<ChecklistItem>,
    /// One per date.
    recorded: Vec<Recorded>,
    notices: Vec<Notice>,
}

impl Replay {
    fn adopter(&self) -> Option<&MemberId> {
        self.claimants.first()
    }

    fn is_in(&self, m: &MemberId) -> bool {
        self.claimants.contains(m)
    }

    fn households(&self) -> usize {
        let mut hs: Vec<&str> = self.pledges.iter().map(|p| p.household.as_str()).collect();
        hs.sort_unstable();
        hs.dedup();
        hs.len()
    }

    fn pledging(&self) -> bool {
        self.pledge_target.is_some() && !self.started
    }

    fn latest(&self) -> Option<Date> {
        self.recorded.iter().map(|r| r.date).max()
    }

    fn finished(&self) -> bool {
        self.schedule.finished(self.latest())
    }

    fn notice(&mut self, member: &MemberId, code: NoticeCode, text: String) {
        self.notices.push(Notice {
            member: member.clone(),
            code,
            text,
        });
    }

    fn may_manage(&self, e: &Entry) -> bool {
        allowed(Action::ManageTask, e.role)
    }

    fn may_checklist(&self, e: &Entry) -> bool {
        e.by == self.creator || self.is_in(&e.by) || self.may_manage(e)
    }

    /// One step of the replay.
    fn apply(&mut self, e: &Entry) {
        match TaskEntry::parse(&e.t) {
            Some(TaskEntry::Claim) => self.claim(e),
            Some(TaskEntry::Release) => self.release(e),
            Some(TaskEntry::Pledge) => {
                let Some(target) = self.pledge_target else {
                    return;
                };
                let household = e
                    .str("household")
                    .map(str::trim)
                    .filter(|h| !h.is_empty() && h.chars().count() <= MAX_HOUSEHOLD)
                    .unwrap_or(e.by.as_str())
                    .to_owned();
                self.pledges.retain(|p| p.member != e.by);
                self.pledges.push(Pledge {
                    member: e.by.clone(),
                    household,
                    at: e.at,
                });
                if self.households() >= target as usize {
                    self.started = true;
                }
            }
            Some(TaskEntry::Unpledge) => self.pledges.retain(|p| p.member != e.by),
            Some(TaskEntry::Occurrence) => self.occurrence(e),
            Some(TaskEntry::Pause) | Some(TaskEntry::Resume)
                if self.adopter() == Some(&e.by) || self.may_manage(e) =>
            {
                self.paused = e.t == TaskEntry::Pause;
            }
            Some(TaskEntry::CheckAdd) => {
                let text = e.str("text").map(str::trim).unwrap_or_default();
                let ok = !text.is_empty() && text.chars().count() <= MAX_ITEM;
                if ok && self.checklist.len() < MAX_CHECKLIST && self.may_checklist(e) {
                    self.checklist.push(ChecklistItem {
                        id: e.id.clone(),
                        text: text.to_owned(),
                        by: e.by.clone(),
                        at: e.at,
                    });
                }
            }
            Some(TaskEntry::CheckRemove) if self.may_checklist(e) => {
                if let Some(item) = e.str("item") {
                    self.checklist.retain(|i| i.id != item);
                }
            }
            Some(TaskEntry::Schedule) => {
                if e.by != self.creator && !self.may_manage(e) {
                    return;
                }
                let tz = e.str("tz");
                if let Ok(s) =
                    check_schedule(e.str("rrule"), e.str("dtstart"), tz.or(Some(DEFAULT_TZ)))
                {
                    self.schedule = s;
                }
            }
            _ => {} // unknown entry types come from newer schemas: ignored
        }
    }

    fn claim(&mut self, e: &Entry) {
        if self.is_in(&e.by) || self.finished() {
            return;
        }
        // Entries replay in `(at, by, id)` order, so this claim sorts after every claim
        // already in: appending keeps the claimants ordered by the written rule.
        self.claimants.push(e.by.clone());
        let place = self.claimants.len().saturating_sub(1);
        if place > 0 && e.str("as") == Some("adopter") {
            let first = self.adopter().map(|m| m.to_string()).unwrap_or_default();
            let which = if place == 1 {
                "first backup".to_owned()
            } else {
                format!("backup number {place}")
            };
            self.notice(
                &e.by,
                NoticeCode::ClaimLost,
                format!("member {first} claimed it first; you are {which}"),
            );
        }
    }

    fn release(&mut self, e: &Entry) {
        let Some(place) = self.claimants.iter().position(|c| c == &e.by) else {
            return;
        };
        self.claimants.remove(place);
        if place == 0 {
            if let Some(next) = self.adopter().cloned() {
                self.notice(
                    &next,
                    NoticeCode::NowAdopter,
                    "the adopter stepped back; you are now the adopter".into(),
                );
            }
        }
    }

    fn occurrence(&mut self, e: &Entry) {
        let (Some(date), Some(outcome)) = (
            e.str("date").and_then(|d| parse_date("date", d).ok()),
            e.str("outcome").and_then(|o| Outcome::parse(o).ok()),
        ) else {
            return;
        };
        let why = if self.pledging() {
            Some("the task has not reached its pledge target")
        } else if !(self.is_in(&e.by) || self.may_manage(e)) {
            Some("you were not adopter or backup then")
        } else if !self.schedule.has(date) {
            Some("that date is not an occurrence of the schedule")
        } else if self.schedule.day_of(e.at).is_none_or(|today| date > today) {
            Some("that date was still in the future")
        } else {
            None
        };
        if let Some(why) = why {
            self.notice(
                &e.by,
                NoticeCode::OccurrenceIgnored,
                format!("your record for {date} was not applied: {why}"),
            );
            return;
        }
        let note = e.str("note").unwrap_or_default();
        let note: String = note.chars().take(MAX_NOTE).collect();
        let new = Recorded {
            date,
            outcome,
            by: e.by.clone(),
            at: e.at,
            note,
        };
        match self.recorded.iter().position(|r| r.date == date) {
            None => self.recorded.push(new),
            Some(i) => {
                let Some(old) = self.recorded.get(i).cloned() else {
                    return;
                };
                if old.outcome == Outcome::Skipped && outcome == Outcome::Done {
                    self.notice(
                        &old.by,
                        NoticeCode::SkipOverruled,
                        format!("your skip of {date} was overruled: it was done"),
                    );
                    if let Some(slot) = self.recorded.get_mut(i) {
                        *slot = new;
                    }
                } else if old.outcome == Outcome::Done && outcome == Outcome::Skipped {
                    self.notice(
                        &e.by,
                        NoticeCode::SkipOverruled,
                        format!("your skip of {date} was overruled: it was done"),
                    );
                }
            }
        }
    }
}

/// Writes a new task into an empty document.
pub(crate) fn create(d: &mut AutoCommit, id: &EntityId, ctx: &Ctx, new: &NewTask) -> Result<()> {
    require(ctx, Action::CreateTask)?;
    let title = doc::require_text("title", &new.title, MAX_TITLE)?;
    doc::check_len("description", &new.description, MAX_DESCRIPTION)?;
    doc::check_len("location_label", &new.location_label, MAX_LABEL)?;
    let point = check_point(new.lat, new.lon)?;
    let schedule = check_schedule(
        new.rrule.as_deref(),
        new.dtstart.as_deref(),
        new.tz.as_deref(),
    )?;
    if let Some(k) = new.pledge_target {
        if !(1..=MAX_PLEDGE_TARGET).contains(&k) {
            return Err(Error::invalid(
                "pledge_target",
                format!("{k} is not in 1..={MAX_PLEDGE_TARGET}"),
            ));
        }
    }
    doc::init(d, Kind::Task, id, ctx)?;
    crate::audience::init(d, new.audience)?;
    doc::set_text(d, &ROOT, "title", &title)?;
    doc::set_text(d, &ROOT, "description", new.description.trim())?;
    if let Some((lat, lon)) = point {
        doc::put(d, &ROOT, "lat", lat)?;
        doc::put(d, &ROOT, "lon", lon)?;
    }
    doc::put(d, &ROOT, "location_label", new.location_label.trim())?;
    doc::put_opt(
        d,
        &ROOT,
        "rrule",
        schedule
            .rule
            .as_ref()
            .map(|r| Field::Str(r.to_rule_string())),
    )?;
    doc::put_opt(
        d,
        &ROOT,
        "dtstart",
        schedule.dtstart.map(|s| Field::Str(s.to_string())),
    )?;
    doc::put(d, &ROOT, "tz", schedule.tz_name.as_str())?;
    doc::put_opt(
        d,
        &ROOT,
        "pledge_target",
        new.pledge_target.map(|k| Field::Int(i64::from(k))),
    )?;
    Ok(())
}

/// Derives the view: replays the log as the module docs describe.
pub(crate) fn derive(d: &impl ReadDoc) -> Result<TaskView> {
    let header = doc::header(d)?;
    let entries = doc::entries(d);
    let pledge_target = doc::get_i64(d, &ROOT, "pledge_target")
        .and_then(|k| u32::try_from(k).ok())
        .filter(|k| (1..=MAX_PLEDGE_TARGET).contains(k));
    let mut r = Replay {
        creator: header.created_by.clone(),
        schedule: Schedule::from_root(d),
        pledge_target,
        started: false,
        claimants: Vec::new(),
        pledges: Vec::new(),
        paused: false,
        checklist: Vec::new(),
        recorded: Vec::new(),
        notices: Vec::new(),
    };
    for e in &entries {
        r.apply(e);
    }

    let latest = r.latest();
    let finished = r.finished();
    let status = if finished {
        TaskStatus::Finished
    } else if r.pledging() {
        TaskStatus::Pledging
    } else if r.paused {
        TaskStatus::Paused
    } else if r.claimants.is_empty() {
        TaskStatus::Unadopted
    } else {
        TaskStatus::Active
    };
    let next_open = if finished {
        None
    } else {
        r.schedule.next_open(latest)
    };
    let (due_at, overdue_at) = match next_open {
        Some(day) if matches!(status, TaskStatus::Active | TaskStatus::Unadopted) => {
            let overdue_day = day.checked_add(r.schedule.grace_days().days()).ok();
            (
                r.schedule.start_of(day),
                overdue_day.and_then(|o| r.schedule.start_of(o)),
            )
        }
        _ => (None, None),
    };
    let households = r.households();
    let mut recorded = r.recorded;
    recorded.sort_by_key(|r| std::cmp::Reverse(r.date));
    let (lat, lon) = match (doc::get_f64(d, &ROOT, "lat"), doc::get_f64(d, &ROOT, "lon")) {
        (Some(lat), Some(lon)) if doc::check_point(lat, lon).is_ok() => (Some(lat), Some(lon)),
        _ => (None, None),
    };
    let mut claimants = r.claimants.into_iter();
    let adopter = claimants.next();
    Ok(TaskView {
        id: header.id.clone(),
        title: doc::get_text(d, &ROOT, "title").unwrap_or_default(),
        description: doc::get_text(d, &ROOT, "description").unwrap_or_default(),
        lat,
        lon,
        location_label: doc::get_str(d, &ROOT, "location_label").unwrap_or_default(),
        creator: header.created_by.clone(),
        created_at: header.created_at,
        updated_at: doc::updated_at(&header, &entries),
        recurrence: r.schedule.rule.as_ref().map(Rule::to_rule_string),
        dtstart: r.schedule.dtstart.map(|s| s.to_string()),
        tz: r.schedule.tz_name.clone(),
        pledge_target: r.pledge_target,
        status,
        adopter,
        backups: claimants.collect(),
        pledges: r.pledges,
        households,
        paused: r.paused,
        checklist: r.checklist,
        occurrences: recorded
            .iter()
            .take(RECENT_OCCURRENCES)
            .map(|o| Occurrence {
                date: o.date.to_string(),
                outcome: o.outcome,
                by: o.by.clone(),
                at: o.at,
                note: o.note.clone(),
            })
            .collect(),
        next_open: next_open.map(|n| n.to_string()),
        due_at,
        overdue_at,
        notices: r.notices,
        schedule: r.schedule,
        recorded: recorded.iter().map(|o| (o.date, o.outcome)).collect(),
        next_open_day: next_open,
    })
}

/// The projection of a task.
///
/// `needs_response`: unadopted. `starts_at`: the start of `next_open`'s day whatever the
/// status (for "upcoming" lists); `due_at`/`overdue_at` only while active or unadopted.
pub(crate) fn project(v: &TaskView) -> Projection {
    let mut participants = vec![Participant {
        member: v.creator.clone(),
        relation: Relation::Creator,
    }];
    if let Some(a) = &v.adopter {
        participants.push(Participant {
            member: a.clone(),
            relation: Relation::Adopter,
        });
    }
    for b in &v.backups {
        participants.push(Participant {
            member: b.clone(),
            relation: Relation::Backup,
        });
    }
    for p in &v.pledges {
        participants.push(Participant {
            member: p.member.clone(),
            relation: Relation::Pledger,
        });
    }
    let starts_at = v.next_open_day.and_then(|n| v.schedule.start_of(n));
    Projection {
        kind: Kind::Task,
        status: v.status.as_str().to_owned(),
        category: None,
        title: v.title.clone(),
        body: v.description.clone(),
        created_by: v.creator.clone(),
        created_at: v.created_at,
        updated_at: v.updated_at,
        starts_at,
        ends_at: None,
        expires_at: None,
        due_at: v.due_at,
        overdue_at: v.overdue_at,
        lat: v.lat,
        lon: v.lon,
        location_label: Some(v.location_label.clone()).filter(|l| !l.is_empty()),
        needs_response: v.status == TaskStatus::Unadopted,
        participants,
        notices: v.notices.clone(),
        comments: Vec::new(),
        detail: Detail::Task {
            adopter: v.adopter.clone(),
            backups: v.backups.len() as i64,
            pledges: v.households as i64,
            pledge_target: v.pledge_target.map(i64::from),
            paused: v.paused,
            next_open: v.next_open.clone(),
            recurrence: v.recurrence.clone(),
        },
    }
}

pub(crate) fn refuse(v: &TaskView, action: &'static str) -> Error {
    Error::InvalidTransition {
        kind: "task",
        action,
        status: v.status.as_str().to_owned(),
    }
}

pub(crate) fn refuse_because(action: &'static str, status: &str) -> Error {
    Error::InvalidTransition {
        kind: "task",
        action,
        status: status.to_owned(),
    }
}

/// The operation behind `Store::edit_task` (its docs state the rule and the errors).
pub(crate) fn edit_task(d: &mut AutoCommit, ctx: &Ctx, edit: &TaskEdit) -> Result<()> {
    let v = derive(d)?;
    if !v.may_edit(ctx) {
        return Err(Error::not_allowed(
            "only the creator, a caretaker or an organiser may edit a task",
        ));
    }
    let title = edit
        .title
        .as_deref()
        .map(|t| doc::require_text("title", t, MAX_TITLE))
        .transpose()?;
    if let Some(desc) = &edit.description {
        doc::check_len("description", desc, MAX_DESCRIPTION)?;
    }
    if let Some(label) = &edit.location_label {
        doc::check_len("location_label", label, MAX_LABEL)?;
    }
    let point = match edit.point {
        Some(Some((lat, lon))) => Some(check_point(Some(lat), Some(lon))?),
        Some(None) => Some(None),
        None => None,
    };
    let schedule = edit
        .schedule
        .as_ref()
        .map(|s| check_schedule(s.rrule.as_deref(), s.dtstart.as_deref(), s.tz.as_deref()))
        .transpose()?;
    if let Some(t) = title {
        doc::set_text(d, &ROOT, "title", &t)?;
    }
    if let Some(desc) = &edit.description {
        doc::set_text(d, &ROOT, "description", desc.trim())?;
    }
    if let Some(label) = &edit.location_label {
        doc::put(d, &ROOT, "location_label", label.trim())?;
    }
    if let Some(point) = point {
        doc::put_opt(d, &ROOT, "lat", point.map(|(lat, _)| Field::F64(lat)))?;
        doc::put_opt(d, &ROOT, "lon", point.map(|(_, lon)| Field::F64(lon)))?;
    }
    if let Some(s) = schedule {
        let rrule = s
            .rule
            .as_ref()
            .map(Rule::to_rule_string)
            .unwrap_or_default();
        let dtstart = s.dtstart.map(|x| x.to_string()).unwrap_or_default();
        let fields = [
            ("rrule", rrule.into()),
            ("dtstart", dtstart.into()),
            ("tz", s.tz_name.into()),
        ];
        doc::append_entry(d, ctx, TaskEntry::Schedule, &fields)?;
    }
    Ok(())
}

/// The operation behind `Store::claim_task` (its docs state the rule and the errors).
pub(crate) fn claim_task(d: &mut AutoCommit, ctx: &Ctx) -> Result<TaskStanding> {
    let v = derive(d)?;
    if v.status == TaskStatus::Finished {
        return Err(refuse(&v, "claim"));
    }
    if v.is_in(&ctx.member) {
        return Err(refuse_because("claim", "already yours"));
    }
    let role = if v.adopter.is_none() {
        "adopter"
    } else {
        "backup"
    };
    doc::append_entry(d, ctx, TaskEntry::Claim, &[("as", role.into())])?;
    Ok(derive(d)?.standing(&ctx.member))
}

/// The operation behind `Store::release_task` (its docs state the rule and the errors).
pub(crate) fn release_task(d: &mut AutoCommit, ctx: &Ctx) -> Result<()> {
    let v = derive(d)?;
    if !v.is_in(&ctx.member) {
        return Err(Error::not_found("claim", ctx.member.as_str()));
    }
    doc::append_entry(d, ctx, TaskEntry::Release, &[])?;
    Ok(())
}

/// The operation behind `Store::pledge_task` (its docs state the rule and the errors).
pub(crate) fn pledge_task(d: &mut AutoCommit, ctx: &Ctx) -> Result<()> {
    let v = derive(d)?;
    if v.pledge_target.is_none() {
        return Err(refuse_because("pledge to", "not in pledge mode"));
    }
    if v.status == TaskStatus::Finished {
        return Err(refuse(&v, "pledge to"));
    }
    if v.pledges.iter().any(|p| p.member == ctx.member) {
        return Err(refuse_because("pledge to", "already pledged by you"));
    }
    let household = ctx
        .household
        .as_deref()
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .unwrap_or(ctx.member.as_str())
        .to_owned();
    doc::check_len("household", &household, MAX_HOUSEHOLD)?;
    doc::append_entry(
        d,
        ctx,
        TaskEntry::Pledge,
        &[("household", household.into())],
    )?;
    Ok(())
}

/// The operation behind `Store::unpledge_task` (its docs state the rule and the errors).
pub(crate) fn unpledge_task(d: &mut AutoCommit, ctx: &Ctx) -> Result<()> {
    let v = derive(d)?;
    if !v.pledges.iter().any(|p| p.member == ctx.member) {
        return Err(Error::not_found("pledge", ctx.member.as_str()));
    }
    doc::append_entry(d, ctx, TaskEntry::Unpledge, &[])?;
    Ok(())
}

/// The operation behind `Store::add_checklist_item` (its docs state the rule and the errors).
pub(crate) fn add_checklist_item(d: &mut AutoCommit, ctx: &Ctx, text: &str) -> Result<String> {
    let v = derive(d)?;
    if !(v.may_edit(ctx) || v.is_in(&ctx.member)) {
        return Err(Error::not_allowed(
            "only the creator, adopter, backups, caretakers or organisers edit the checklist",
        ));
    }
    let text = doc::require_text("text", text, MAX_ITEM)?;
    if v.checklist.len() >= MAX_CHECKLIST {
        return Err(Error::invalid(
            "text",
            format!("the checklist already has {MAX_CHECKLIST} items"),
        ));
    }
    doc::append_entry(d, ctx, TaskEntry::CheckAdd, &[("text", text.into())])
}

/// The operation behind `Store::record_occurrence` (its docs state the rule and the errors).
pub(crate) fn record_occurrence(
    d: &mut AutoCommit,
    ctx: &Ctx,
    date: &str,
    outcome: Outcome,
    note: &str,
) -> Result<()> {
    let v = derive(d)?;
    if !(v.is_in(&ctx.member) || allowed(Action::ManageTask, ctx.role)) {
        return Err(Error::not_allowed(
            "only the adopter, a backup, a caretaker or an organiser may record",
        ));
    }
    if v.status == TaskStatus::Pledging {
        return Err(refuse(&v, "record an occurrence of"));
    }
    let day = parse_date("date", date.trim())?;
    doc::check_len("note", note, MAX_NOTE)?;
    if !v.schedule.has(day) {
        return Err(Error::invalid(
            "date",
            format!("`{day}` is not an occurrence of the task's schedule"),
        ));
    }
    let today = v
        .schedule
        .day_of(ctx.now)
        .ok_or_else(|| Error::invalid("date", "today is out of range"))?;
    if day > today {
        return Err(Error::invalid(
            "date",
            format!("`{day}` is after today ({today})"),
        ));
    }
    match v.recorded.get(&day) {
        Some(Outcome::Done) => {
            return Err(Error::invalid(
                "date",
                format!("`{day}` is already recorded as done"),
            ));
        }
        Some(Outcome::Skipped) if outcome == Outcome::Skipped => {
            return Err(Error::invalid(
                "date",
                format!("`{day}` is already recorded as skipped"),
            ));
        }
        // A finished task only takes a done over a recorded skip.
        None if v.status == TaskStatus::Finished => {
            return Err(refuse(&v, "record an occurrence of"));
        }
        _ => {}
    }
    let fields = [
        ("date", day.to_string().into()),
        ("outcome", outcome.as_str().into()),
        ("note", note.trim().into()),
    ];
    doc::append_entry(d, ctx, TaskEntry::Occurrence, &fields)?;
    Ok(())
}

/// The operation behind `Store::pause_task` and `Store::resume_task`.
pub(crate) fn pause_or_resume(d: &mut AutoCommit, ctx: &Ctx, pause: bool) -> Result<()> {
    let v = derive(d)?;
    let action = if pause { "pause" } else { "resume" };
    if !(v.adopter.as_ref() == Some(&ctx.member) || allowed(Action::ManageTask, ctx.role)) {
        return Err(Error::not_allowed(format!(
            "only the adopter, a caretaker or an organiser may {action} a task"
        )));
    }
    if v.status == TaskStatus::Finished {
        return Err(refuse(&v, action));
    }
    if v.paused == pause {
        let status = if pause { "paused" } else { "not paused" };
        return Err(refuse_because(action, status));
    }
    let entry = if pause {
        TaskEntry::Pause
    } else {
        TaskEntry::Resume
    };
    doc::append_entry(d, ctx, entry, &[])?;
    Ok(())
}

/// The operation behind `Store::remove_checklist_item` (its docs state the rule and the errors).
pub(crate) fn remove_checklist_item(d: &mut AutoCommit, ctx: &Ctx, item: &str) -> Result<()> {
    let v = derive(d)?;
    if !(v.may_edit(ctx) || v.is_in(&ctx.member)) {
        return Err(Error::not_allowed(
            "only the creator, adopter, backups, caretakers or organisers edit the checklist",
        ));
    }
    if !v.checklist.iter().any(|i| i.id == item) {
        return Err(Error::not_found("checklist item", item));
    }
    doc::append_entry(d, ctx, TaskEntry::CheckRemove, &[("item", item.into())])?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::clock::ManualClock;
    use crate::model::Role;
    use crate::store::Store;
    use crate::store::query::ListQuery;

    /// Tuesday 2025-03-25 12:00 UTC (13:00 in Amsterdam).
    const T: i64 = 1_742_904_000_000;
    const HOUR: i64 = 3_600_000;
    const DAY: i64 = 24 * HOUR;

    struct Device {
        store: Store,
        clock: Arc<ManualClock>,
        member: MemberId,
    }

    fn device(role: Role, household: Option<&str>, now: i64) -> Result<Device> {
        let clock = Arc::new(ManualClock::new(now));
        let store = Store::open_in_memory(clock.clone())?;
        let member = MemberId::new()?;
        store.set_member_id(&member)?;
        store.set_identity(role, None, household)?;
        Ok(Device {
            store,
            clock,
            member,
        })
    }

    /// Switches the store to act as another member; returns that member.
    fn become_member(store: &Store, role: Role, household: Option<&str>) -> Result<MemberId> {
        let m = MemberId::new()?;
        store.set_member_id(&m)?;
        store.set_identity(role, None, household)?;
        Ok(m)
    }

    fn act_as(store: &Store, m: &MemberId, role: Role) -> Result<()> {
        store.set_member_id(m)?;
        store.set_identity(role, None, None)?;
        Ok(())
    }

    fn sync(from: &Store, to: &Store) -> Result<()> {
        let batch: Vec<(EntityId, Vec<u8>)> = from
            .pending_changes(1000)?
            .into_iter()
            .map(|c| (c.entity, c.bytes))
            .collect();
        to.apply_remote_changes(&batch)?;
        Ok(())
    }

    fn sync_both(a: &Store, b: &Store) -> Result<()> {
        sync(a, b)?;
        sync(b, a)
    }

    fn field(r: Result<impl std::fmt::Debug>) -> &'static str {
        match r {
            Err(Error::InvalidInput { field, .. }) => field,
            other => panic!("expected invalid input, got {other:?}"),
        }
    }

    fn is_not_allowed<T: std::fmt::Debug>(r: Result<T>) -> bool {
        matches!(r, Err(Error::NotAllowed { .. }))
    }

    fn is_transition<T: std::fmt::Debug>(r: Result<T>) -> bool {
        matches!(r, Err(Error::InvalidTransition { .. }))
    }

    fn codes(v: &TaskView, m: &MemberId) -> Vec<&'static str> {
        v.notices
            .iter()
            .filter(|n| &n.member == m)
            .map(|n| n.code.as_str())
            .collect()
    }

    #[test]
    fn create_validates_every_field() -> Result<()> {
        let d = device(Role::Resident, None, T)?;
        let s = &d.store;
        let weekly = || NewTask::recurring("Tuin", "FREQ=WEEKLY", "2025-03-22");
        assert_eq!(field(s.create_task(&NewTask::new("  "))), "title");
        assert_eq!(
            field(s.create_task(&NewTask::new(&"x".repeat(201)))),
            "title"
        );
        let long = NewTask {
            description: "x".repeat(5_001),
            ..NewTask::new("Tuin")
        };
        assert_eq!(field(s.create_task(&long)), "description");
        let label = NewTask {
            location_label: "x".repeat(121),
            ..NewTask::new("Tuin")
        };
        assert_eq!(field(s.create_task(&label)), "location_label");
        let bad_lat = NewTask {
            lat: Some(91.0),
            lon: Some(5.0),
            ..NewTask::new("Tuin")
        };
        assert_eq!(field(s.create_task(&bad_lat)), "lat");
        let half = NewTask {
            lat: Some(52.0),
            ..NewTask::new("Tuin")
        };
        assert_eq!(field(s.create_task(&half)), "lon");
        for rule in [
            "FREQ=YEARLY",
            "FREQ=WEEKLY;BYDAY=XX",
            "garbage",
            "FREQ=DAILY;INTERVAL=0",
        ] {
            let t = NewTask {
                rrule: Some(rule.into()),
                ..weekly()
            };
            assert_eq!(field(s.create_task(&t)), "recurrence", "{rule}");
        }
        let ended = NewTask {
            rrule: Some("FREQ=DAILY;UNTIL=20250101".into()),
            ..weekly()
        };
        assert_eq!(field(s.create_task(&ended)), "recurrence");
        let no_start = NewTask {
            dtstart: None,
            ..weekly()
        };
        assert_eq!(field(s.create_task(&no_start)), "dtstart");
        for date in [
            "2025-3-22",
            "2025-02-30",
            "20250322",
            "2025-03-22T10:00",
            "1850-01-01",
            "",
        ] {
            let t = NewTask {
                dtstart: Some(date.into()),
                ..weekly()
            };
            assert_eq!(field(s.create_task(&t)), "dtstart", "{date}");
        }
        for tz in [
            "Mars/Olympus_Mons",
            "",
            "Europe/Amsterdam/x",
            &"E".repeat(65),
        ] {
            let t = NewTask {
                tz: Some(tz.to_owned()),
                ..weekly()
            };
            assert_eq!(field(s.create_task(&t)), "tz", "{tz}");
        }
        for k in [0, 101] {
            let t = NewTask {
                pledge_target: Some(k),
                ..weekly()
            };
            assert_eq!(field(s.create_task(&t)), "pledge_target", "{k}");
        }

        // Valid input is stored canonically, with the default zone.
        let id = s.create_task(&NewTask {
            rrule: Some(" rrule:freq=weekly;interval=1 ".into()),
            ..weekly()
        })?;
        let v = s.task(&id)?;
        assert_eq!(v.recurrence.as_deref(), Some("FREQ=WEEKLY"));
        assert_eq!(v.dtstart.as_deref(), Some("2025-03-22"));
        assert_eq!(v.tz, DEFAULT_TZ);
        assert_eq!(v.status, TaskStatus::Unadopted);
        let ny = s.create_task(&NewTask {
            tz: Some("America/New_York".into()),
            ..weekly()
        })?;
        assert_eq!(s.task(&ny)?.tz, "America/New_York");
        Ok(())
    }

    #[test]
    fn offline_claims_give_the_same_adopter_everywhere() -> Result<()> {
        let a = device(Role::Resident, None, T)?;
        let b = device(Role::Resident, None, T)?;
        let id = a.store.create_task(&NewTask::recurring(
            "Trappenhuis",
            "FREQ=WEEKLY",
            "2025-03-22",
        ))?;
        sync(&a.store, &b.store)?;

        // Both claim offline; B's claim is earlier.
        a.clock.set(T + 2_000);
        b.clock.set(T + 1_000);
        a.store.claim_task(&id)?;
        b.store.claim_task(&id)?;
        assert_eq!(
            a.store.task(&id)?.adopter.as_ref(),
            Some(&a.member),
            "before sync A sees itself"
        );
        sync_both(&a.store, &b.store)?;

        let va = a.store.task(&id)?;
        let vb = b.store.task(&id)?;
        assert_eq!(va, vb);
        assert_eq!(project(&va), project(&vb));
        assert_eq!(va.adopter.as_ref(), Some(&b.member));
        assert_eq!(va.backups, vec![a.member.clone()]);
        assert_eq!(va.status, TaskStatus::Active);
        assert_eq!(codes(&va, &a.member), vec!["claim_lost"]);
        assert!(codes(&va, &b.member).is_empty());
        let lost = va
            .notices
            .iter()
            .find(|n| n.code == "claim_lost")
            .expect("notice");
        assert!(lost.text.contains(b.member.as_str()) && lost.text.contains("first backup"));
        // The store's notice list shows it to A.
        assert!(
            a.store
                .my_notices()?
                .iter()
                .any(|n| n.code == "claim_lost" && n.entity == id.as_str())
        );

        // Equal timestamps: the lower member id wins, on both devices.
        let id2 = a.store.create_task(&NewTask::new("Bankje"))?;
        sync(&a.store, &b.store)?;
        a.clock.set(T + 5_000);
        b.clock.set(T + 5_000);
        a.store.claim_task(&id2)?;
        b.store.claim_task(&id2)?;
        sync_both(&a.store, &b.store)?;
        let (va, vb) = (a.store.task(&id2)?, b.store.task(&id2)?);
        assert_eq!(va, vb);
        let (first, second) = if a.member < b.member {
            (&a.member, &b.member)
        } else {
            (&b.member, &a.member)
        };
        assert_eq!(va.adopter.as_ref(), Some(first));
        assert_eq!(codes(&va, second), vec!["claim_lost"]);
        Ok(())
    }

    #[test]
    fn release_hands_over_in_claim_order() -> Result<()> {
        let d = device(Role::Resident, None, T)?;
        let s = &d.store;
        let id = s.create_task(&NewTask::recurring(
            "Binnentuin",
            "FREQ=WEEKLY",
            "2025-03-22",
        ))?;
        let ans = become_member(s, Role::Resident, None)?;
        s.claim_task(&id)?;
        assert!(
            is_transition(s.claim_task(&id)),
            "claiming twice is refused"
        );
        d.clock.advance(1_000);
        let bas = become_member(s, Role::Resident, None)?;
        s.claim_task(&id)?; // joins as backup knowingly: no claim_lost
        d.clock.advance(1_000);
        let cor = become_member(s, Role::Resident, None)?;
        s.claim_task(&id)?;
        let v = s.task(&id)?;
        assert_eq!(v.adopter.as_ref(), Some(&ans));
        assert_eq!(v.backups, vec![bas.clone(), cor.clone()]);
        assert!(
            v.notices.is_empty(),
            "joining as backup is not a lost claim: {:?}",
            v.notices
        );

        d.clock.advance(1_000);
        act_as(s, &ans, Role::Resident)?;
        s.release_task(&id)?;
        let v = s.task(&id)?;
        assert_eq!(v.adopter.as_ref(), Some(&bas));
        assert_eq!(v.backups, vec![cor.clone()]);
        assert_eq!(codes(&v, &bas), vec!["now_adopter"]);

        // Ans comes back: last in line.
        d.clock.advance(1_000);
        s.claim_task(&id)?;
        assert_eq!(s.task(&id)?.backups, vec![cor.clone(), ans.clone()]);

        // A backup leaving does not change the adopter.
        d.clock.advance(1_000);
        act_as(s, &cor, Role::Resident)?;
        s.release_task(&id)?;
        let v = s.task(&id)?;
        assert_eq!(v.adopter.as_ref(), Some(&bas));
        assert_eq!(v.backups, vec![ans.clone()]);
        assert!(matches!(s.release_task(&id), Err(Error::NotFound { .. })));

        d.clock.advance(1_000);
        act_as(s, &bas, Role::Resident)?;
        s.release_task(&id)?;
        let v = s.task(&id)?;
        assert_eq!(v.adopter.as_ref(), Some(&ans));
        assert!(v.backups.is_empty());
        assert_eq!(codes(&v, &ans), vec!["now_adopter"]);

        d.clock.advance(1_000);
        act_as(s, &ans, Role::Resident)?;
        s.release_task(&id)?;
        let v = s.task(&id)?;
        assert_eq!(v.status, TaskStatus::Unadopted);
        assert!(project(&v).needs_response);
        Ok(())
    }

    #[test]
    fn pledges_count_distinct_households() -> Result<()> {
        let a = device(Role::Resident, Some("Portiek 12"), T)?;
        let b = device(Role::Resident, Some("Portiek 12"), T)?;
        let task = NewTask {
            pledge_target: Some(2),
            ..NewTask::recurring("Moestuin", "FREQ=WEEKLY", "2025-03-22")
        };
        let id = a.store.create_task(&task)?;
        sync(&a.store, &b.store)?;
        assert_eq!(a.store.task(&id)?.status, TaskStatus::Pledging);

        // Two members of one household pledge offline: one household.
        a.clock.set(T + 1_000);
        b.clock.set(T + 2_000);
        a.store.pledge_task(&id)?;
        b.store.pledge_task(&id)?;
        sync_both(&a.store, &b.store)?;
        let v = a.store.task(&id)?;
        assert_eq!(v, b.store.task(&id)?);
        assert_eq!(v.pledges.len(), 2);
        assert_eq!(v.households, 1);
        assert_eq!(v.status, TaskStatus::Pledging);
        assert!(
            is_transition(a.store.pledge_task(&id)),
            "pledging twice is refused"
        );

        // Claims are allowed while pledging; the status stays pledging, with no due date.
        a.store.claim_task(&id)?;
        let v = a.store.task(&id)?;
        assert_eq!(
            (v.status, v.adopter.as_ref()),
            (TaskStatus::Pledging, Some(&a.member))
        );
        assert_eq!((v.due_at, v.overdue_at), (None, None));
        assert!(is_transition(a.store.record_occurrence(
            &id,
            "2025-03-22",
            Outcome::Done,
            ""
        )));

        // A member without a household counts as their own.
        let c = become_member(&b.store, Role::Resident, None)?;
        b.store.pledge_task(&id)?;
        sync_both(&a.store, &b.store)?;
        let v = a.store.task(&id)?;
        assert_eq!(v.households, 2);
        assert_eq!(v.status, TaskStatus::Active);
        assert!(v.due_at.is_some());
        assert!(
            v.pledges
                .iter()
                .any(|p| p.member == c && p.household == c.as_str())
        );
        let p = project(&v);
        assert!(matches!(
            p.detail,
            Detail::Task {
                pledges: 2,
                pledge_target: Some(2),
                ..
            }
        ));
        assert!(
            p.participants
                .iter()
                .any(|x| x.member == c && x.relation == "pledger")
        );

        // Started stays started when a pledge is withdrawn.
        b.store.unpledge_task(&id)?;
        let v = b.store.task(&id)?;
        assert_eq!((v.households, v.status), (1, TaskStatus::Active));
        assert!(matches!(
            b.store.unpledge_task(&id),
            Err(Error::NotFound { .. })
        ));

        // A task without a target takes no pledges.
        let plain = a.store.create_task(&NewTask::new("Bankje"))?;
        assert!(is_transition(a.store.pledge_task(&plain)));
        Ok(())
    }

    #[test]
    fn weekly_next_open_due_and_overdue_across_dst() -> Result<()> {
        let d = device(Role::Resident, None, T)?;
        let s = &d.store;
        let id = s.create_task(&NewTask::recurring(
            "Containers buiten",
            "FREQ=WEEKLY",
            "2025-03-22",
        ))?;
        s.claim_task(&id)?;

        // Nothing recorded: the first occurrence is open, and overdue on Tuesday 25 March.
        let v = s.task(&id)?;
        assert_eq!(v.next_open.as_deref(), Some("2025-03-22"));
        assert_eq!(v.due_at, Some(1_742_598_000_000)); // 2025-03-22T00:00+01:00
        assert_eq!(v.overdue_at, Some(1_742_770_800_000)); // 2025-03-24T00:00+01:00
        assert_eq!(v.due_state(T), "overdue");
        let page = s.list(&ListQuery {
            kind: Some(Kind::Task),
            status: Some("overdue".into()),
            ..Default::default()
        })?;
        assert_eq!(page.items.len(), 1);

        // Date checks.
        assert_eq!(
            field(s.record_occurrence(&id, "2025-03-29", Outcome::Done, "")),
            "date"
        ); // future
        assert_eq!(
            field(s.record_occurrence(&id, "2025-03-23", Outcome::Done, "")),
            "date"
        ); // not an occurrence
        assert_eq!(
            field(s.record_occurrence(&id, "2025-03-15", Outcome::Done, "")),
            "date"
        ); // before dtstart
        assert_eq!(
            field(s.record_occurrence(&id, "22-03-2025", Outcome::Done, "")),
            "date"
        );
        assert_eq!(
            field(s.record_occurrence(&id, "2025-03-22", Outcome::Done, &"x".repeat(1_001))),
            "note"
        );

        // Done on the 22nd: next is the 29th; the clocks go forward in the night of the 30th,
        // so the two grace days are 47 hours.
        s.record_occurrence(&id, "2025-03-22", Outcome::Done, "gedaan")?;
        assert_eq!(
            field(s.record_occurrence(&id, "2025-03-22", Outcome::Skipped, "")),
            "date"
        );
        let v = s.task(&id)?;
        assert_eq!(v.next_open.as_deref(), Some("2025-03-29"));
        assert_eq!(v.due_at, Some(1_743_202_800_000)); // 2025-03-29T00:00+01:00
        assert_eq!(v.overdue_at, Some(1_743_372_000_000)); // 2025-03-31T00:00+02:00
        assert_eq!(
            v.overdue_at.zip(v.due_at).map(|(o, d)| o - d),
            Some(47 * HOUR)
        );
        assert_eq!(v.due_state(T), "not_due");
        assert_eq!(v.due_state(1_743_202_800_000), "due");
        assert_eq!(v.due_state(1_743_372_000_000 - 1), "due");
        assert_eq!(v.due_state(1_743_372_000_000), "overdue");
        assert!(
            matches!(&project(&v).detail, Detail::Task { next_open: Some(n), .. } if n == "2025-03-29")
        );
        assert_eq!(v.occurrences.len(), 1);
        assert_eq!(
            (v.occurrences[0].outcome, v.occurrences[0].note.as_str()),
            (Outcome::Done, "gedaan")
        );

        // Two weeks later the 29th was missed and the 5th of April done: the 29th is passed over.
        d.clock.set(T + 12 * DAY);
        s.record_occurrence(&id, "2025-04-05", Outcome::Done, "")?;
        let v = s.task(&id)?;
        assert_eq!(v.next_open.as_deref(), Some("2025-04-12"));
        assert_eq!(v.due_at, Some(1_744_408_800_000)); // 2025-04-12T00:00+02:00
        assert_eq!(v.overdue_at, Some(1_744_408_800_000 + 2 * DAY));
        // A missed earlier occurrence may still be recorded; it does not move next_open back.
        s.record_occurrence(&id, "2025-03-29", Outcome::Skipped, "regen")?;
        let v = s.task(&id)?;
        assert_eq!(v.next_open.as_deref(), Some("2025-04-12"));
        let dates: Vec<&str> = v.occurrences.iter().map(|o| o.date.as_str()).collect();
        assert_eq!(dates, ["2025-04-05", "2025-03-29", "2025-03-22"]);

        // The autumn change makes the grace days 49 hours.
        let autumn = s.create_task(&NewTask::recurring("Bladeren", "FREQ=WEEKLY", "2025-10-25"))?;
        let v = s.task(&autumn)?;
        assert_eq!(v.due_at, Some(1_761_343_200_000)); // 2025-10-25T00:00+02:00
        assert_eq!(v.overdue_at, Some(1_761_519_600_000)); // 2025-10-27T00:00+01:00
        assert_eq!(v.status, TaskStatus::Unadopted);
        Ok(())
    }

    #[test]
    fn done_beats_skipped_whatever_the_order() -> Result<()> {
        let a = device(Role::Resident, None, T)?;
        let b = device(Role::Resident, None, T)?;
        let id = a
            .store
            .create_task(&NewTask::recurring("Vegen", "FREQ=DAILY", "2025-03-20"))?;
        a.store.claim_task(&id)?;
        sync(&a.store, &b.store)?;
        b.clock.set(T + 1_000);
        b.store.claim_task(&id)?;
        sync(&b.store, &a.store)?;

        // 20 March: A skips first, B does it later. 21 March: B does it first, A skips later.
        a.clock.set(T + 10_000);
        a.store
            .record_occurrence(&id, "2025-03-20", Outcome::Skipped, "")?;
        b.clock.set(T + 20_000);
        b.store
            .record_occurrence(&id, "2025-03-20", Outcome::Done, "")?;
        b.clock.set(T + 30_000);
        b.store
            .record_occurrence(&id, "2025-03-21", Outcome::Done, "")?;
        a.clock.set(T + 40_000);
        a.store
            .record_occurrence(&id, "2025-03-21", Outcome::Skipped, "")?;
        sync_both(&a.store, &b.store)?;

        let va = a.store.task(&id)?;
        assert_eq!(va, b.store.task(&id)?);
        for o in &va.occurrences {
            if o.date == "2025-03-20" || o.date == "2025-03-21" {
                assert_eq!((o.outcome, &o.by), (Outcome::Done, &b.member), "{}", o.date);
            }
        }
        assert_eq!(
            codes(&va, &a.member),
            vec!["skip_overruled", "skip_overruled"]
        );
        assert_eq!(va.next_open.as_deref(), Some("2025-03-22"));
        // A done may still be recorded over a skip locally.
        a.clock.set(T + 50_000);
        a.store
            .record_occurrence(&id, "2025-03-22", Outcome::Skipped, "")?;
        a.store
            .record_occurrence(&id, "2025-03-22", Outcome::Done, "toch gedaan")?;
        let v = a.store.task(&id)?;
        assert_eq!(v.occurrences[0].outcome, Outcome::Done);
        Ok(())
    }

    #[test]
    fn pause_and_resume() -> Result<()> {
        let a = device(Role::Resident, None, T)?;
        let c = device(Role::Caretaker, None, T)?;
        let id = a
            .store
            .create_task(&NewTask::recurring("Tuin", "FREQ=WEEKLY", "2025-03-22"))?;
        a.store.claim_task(&id)?;
        a.store.pause_task(&id)?;
        assert!(is_transition(a.store.pause_task(&id)));
        let v = a.store.task(&id)?;
        assert_eq!((v.status, v.paused), (TaskStatus::Paused, true));
        assert_eq!((v.due_at, v.overdue_at), (None, None));
        assert_eq!(
            v.next_open.as_deref(),
            Some("2025-03-22"),
            "next_open stays known while paused"
        );
        a.store.resume_task(&id)?;
        assert!(is_transition(a.store.resume_task(&id)));
        assert_eq!(a.store.task(&id)?.status, TaskStatus::Active);

        // A neighbour may not pause someone else's task; a caretaker may.
        become_member(&c.store, Role::Resident, None)?;
        sync(&a.store, &c.store)?;
        assert!(is_not_allowed(c.store.pause_task(&id)));
        become_member(&c.store, Role::Caretaker, None)?;

        // After a pause both saw, offline: the adopter resumes at +5 s and pauses again at
        // +6 s, the caretaker resumes at +10 s. The latest entry wins on both devices.
        a.clock.set(T + 1_000);
        a.store.pause_task(&id)?;
        sync(&a.store, &c.store)?;
        c.clock.set(T + 10_000);
        c.store.resume_task(&id)?;
        a.clock.set(T + 5_000);
        a.store.resume_task(&id)?;
        a.clock.set(T + 6_000);
        a.store.pause_task(&id)?;
        sync_both(&a.store, &c.store)?;
        let v = a.store.task(&id)?;
        assert_eq!(v, c.store.task(&id)?);
        assert_eq!(
            v.status,
            TaskStatus::Active,
            "the caretaker's later resume wins"
        );
        Ok(())
    }

    #[test]
    fn permission_refusals() -> Result<()> {
        let d = device(Role::Resident, None, T)?;
        let s = &d.store;
        let creator = d.member.clone();
        let id = s.create_task(&NewTask::recurring("Tuin", "FREQ=WEEKLY", "2025-03-22"))?;
        let adopter = become_member(s, Role::Resident, None)?;
        s.claim_task(&id)?;

        let stranger = become_member(s, Role::Resident, None)?;
        let edit = TaskEdit {
            title: Some("Andere tuin".into()),
            ..TaskEdit::default()
        };
        assert!(is_not_allowed(s.edit_task(&id, &edit)));
        assert!(is_not_allowed(s.record_occurrence(
            &id,
            "2025-03-22",
            Outcome::Done,
            ""
        )));
        assert!(is_not_allowed(s.add_checklist_item(&id, "Schoffelen")));
        assert!(is_not_allowed(s.pause_task(&id)));

        // A stranger's occurrence entry written past the checks is ignored by the rule.
        s.update_entity(&id, Kind::Task, |doc, ctx| {
            let fields = [("date", "2025-03-22".into()), ("outcome", "done".into())];
            doc::append_entry(doc, ctx, "occurrence", &fields)
        })?;
        let v = s.task(&id)?;
        assert!(v.occurrences.is_empty());
        assert_eq!(codes(&v, &stranger), vec!["occurrence_ignored"]);

        // A backup (a claim) may record; a caretaker may without claiming; the creator edits.
        act_as(s, &adopter, Role::Resident)?;
        s.record_occurrence(&id, "2025-03-22", Outcome::Done, "")?;
        become_member(s, Role::Caretaker, None)?;
        s.edit_task(
            &id,
            &TaskEdit {
                location_label: Some("Blok C".into()),
                ..TaskEdit::default()
            },
        )?;
        act_as(s, &creator, Role::Resident)?;
        s.edit_task(&id, &edit)?;
        assert!(
            is_not_allowed(s.pause_task(&id)),
            "the creator is not the adopter"
        );
        let v = s.task(&id)?;
        assert_eq!(
            (v.title.as_str(), v.location_label.as_str()),
            ("Andere tuin", "Blok C")
        );
        assert_eq!(
            field(s.edit_task(
                &id,
                &TaskEdit {
                    title: Some(String::new()),
                    ..TaskEdit::default()
                }
            )),
            "title"
        );
        let bad_tz = TaskSchedule {
            tz: Some("Nowhere/Land".into()),
            ..TaskSchedule::default()
        };
        assert_eq!(
            field(s.edit_task(
                &id,
                &TaskEdit {
                    schedule: Some(bad_tz),
                    ..TaskEdit::default()
                }
            )),
            "tz"
        );
        Ok(())
    }

    #[test]
    fn checklist_keeps_entry_order() -> Result<()> {
        let d = device(Role::Resident, None, T)?;
        let s = &d.store;
        let id = s.create_task(&NewTask::new("Trappenhuis"))?;
        let one = s.add_checklist_item(&id, "Vegen")?;
        d.clock.advance(1);
        let two = s.add_checklist_item(&id, "Dweilen")?;
        d.clock.advance(1);
        let three = s.add_checklist_item(&id, "Ramen")?;
        assert_eq!(field(s.add_checklist_item(&id, " ")), "text");
        assert_eq!(field(s.add_checklist_item(&id, &"x".repeat(201))), "text");
        s.remove_checklist_item(&id, &two)?;
        assert!(matches!(
            s.remove_checklist_item(&id, &two),
            Err(Error::NotFound { .. })
        ));
        let v = s.task(&id)?;
        let ids: Vec<&str> = v.checklist.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(ids, [one.as_str(), three.as_str()]);
        assert_eq!(v.checklist[0].text, "Vegen");
        Ok(())
    }

    #[test]
    fn one_off_tasks_finish_when_recorded() -> Result<()> {
        let d = device(Role::Caretaker, None, T)?;
        let s = &d.store;
        let dated = s.create_task(&NewTask {
            dtstart: Some("2025-03-24".into()),
            ..NewTask::new("Bank verven")
        })?;
        let v = s.task(&dated)?;
        assert_eq!(
            (v.status, v.next_open.as_deref()),
            (TaskStatus::Unadopted, Some("2025-03-24"))
        );
        assert_eq!(v.due_at, Some(1_742_770_800_000)); // 2025-03-24T00:00+01:00
        assert_eq!(v.overdue_at, Some(1_742_770_800_000 + DAY));
        assert_eq!(
            field(s.record_occurrence(&dated, "2025-03-23", Outcome::Done, "")),
            "date"
        );
        s.record_occurrence(&dated, "2025-03-24", Outcome::Done, "")?;
        let v = s.task(&dated)?;
        assert_eq!(
            (v.status, v.next_open.as_deref(), v.due_at),
            (TaskStatus::Finished, None, None)
        );
        assert!(is_transition(s.claim_task(&dated)));
        assert!(is_transition(s.pause_task(&dated)));

        let undated = s.create_task(&NewTask::new("Fietsenrek repareren"))?;
        let v = s.task(&undated)?;
        assert_eq!(
            (v.status, v.next_open.as_deref(), v.due_at),
            (TaskStatus::Unadopted, None, None)
        );
        assert_eq!(
            field(s.record_occurrence(&undated, "2025-03-26", Outcome::Done, "")),
            "date"
        );
        s.record_occurrence(&undated, "2025-03-25", Outcome::Skipped, "")?;
        assert_eq!(s.task(&undated)?.status, TaskStatus::Finished);
        let again = s.record_occurrence(&undated, "2025-03-24", Outcome::Done, "");
        assert!(is_transition(again), "a finished task takes no new dates");
        s.record_occurrence(&undated, "2025-03-25", Outcome::Done, "toch")?;
        let v = s.task(&undated)?;
        assert_eq!(
            (v.occurrences.len(), v.occurrences[0].outcome),
            (1, Outcome::Done)
        );

        // A series with a COUNT finishes when its last occurrence is recorded.
        let counted = s.create_task(&NewTask::recurring(
            "Actieweek",
            "FREQ=DAILY;COUNT=2",
            "2025-03-23",
        ))?;
        s.record_occurrence(&counted, "2025-03-24", Outcome::Skipped, "")?;
        assert_eq!(s.task(&counted)?.status, TaskStatus::Finished);
        Ok(())
    }

    #[test]
    fn a_new_schedule_applies_from_its_entry_on() -> Result<()> {
        let a = device(Role::Resident, None, T)?;
        let c = device(Role::Caretaker, None, T)?;
        let id = a
            .store
            .create_task(&NewTask::recurring("Tuin", "FREQ=WEEKLY", "2025-03-22"))?;
        a.store.claim_task(&id)?;
        a.store
            .record_occurrence(&id, "2025-03-22", Outcome::Done, "")?;
        sync(&a.store, &c.store)?;

        // The caretaker moves the task to daily from the 23rd; the adopter then records the
        // 23rd, which is a date of the new schedule only.
        c.clock.set(T + 1_000);
        let daily = TaskSchedule {
            rrule: Some("FREQ=DAILY".into()),
            dtstart: Some("2025-03-23".into()),
            tz: None,
        };
        c.store.edit_task(
            &id,
            &TaskEdit {
                schedule: Some(daily),
                ..TaskEdit::default()
            },
        )?;
        sync(&c.store, &a.store)?;
        a.clock.set(T + 2_000);
        a.store
            .record_occurrence(&id, "2025-03-23", Outcome::Done, "")?;
        sync_both(&a.store, &c.store)?;
        let v = a.store.task(&id)?;
        assert_eq!(v, c.store.task(&id)?);
        assert_eq!(v.recurrence.as_deref(), Some("FREQ=DAILY"));
        assert_eq!(v.next_open.as_deref(), Some("2025-03-24"));
        assert_eq!(v.occurrences.len(), 2);

        // Back to a one-off without a date: nothing is due until someone records it.
        let none = TaskSchedule::default();
        c.store.edit_task(
            &id,
            &TaskEdit {
                schedule: Some(none),
                ..TaskEdit::default()
            },
        )?;
        let v = c.store.task(&id)?;
        assert_eq!(
            (v.recurrence.as_deref(), v.dtstart.as_deref()),
            (None, None)
        );
        assert_eq!(
            v.status,
            TaskStatus::Finished,
            "an undated one-off with a recorded date is done"
        );
        Ok(())
    }

    #[test]
    fn projection_columns() -> Result<()> {
        let d = device(Role::Resident, None, T)?;
        let s = &d.store;
        let new = NewTask {
            lat: Some(52.37),
            lon: Some(4.89),
            location_label: "Binnentuin".into(),
            ..NewTask::recurring("Tuin", "FREQ=WEEKLY;INTERVAL=2", "2025-03-22")
        };
        let id = s.create_task(&new)?;
        let p = project(&s.task(&id)?);
        assert_eq!(p.status, "unadopted");
        assert!(p.needs_response);
        assert_eq!(
            (p.lat, p.lon, p.location_label.as_deref()),
            (Some(52.37), Some(4.89), Some("Binnentuin"))
        );
        assert_eq!(p.starts_at, Some(1_742_598_000_000));
        s.claim_task(&id)?;
        let p = project(&s.task(&id)?);
        assert_eq!(p.status, "active");
        assert!(!p.needs_response);
        let want = Detail::Task {
            adopter: Some(d.member.clone()),
            backups: 0,
            pledges: 0,
            pledge_target: None,
            paused: false,
            next_open: Some("2025-03-22".into()),
            recurrence: Some("FREQ=WEEKLY;INTERVAL=2".into()),
        };
        assert_eq!(p.detail, want);
        assert!(
            p.participants
                .iter()
                .any(|x| x.member == d.member && x.relation == "adopter")
        );
        Ok(())
    }

    #[test]
    fn current_occurrence_is_the_latest_on_or_before_today() -> Result<()> {
        // 2026-11-25 is a Wednesday; the rule is Mondays and Thursdays.
        let now = jiff::civil::date(2026, 11, 25)
            .at(12, 0, 0, 0)
            .to_zoned(TimeZone::get(DEFAULT_TZ).unwrap())
            .unwrap()
            .timestamp()
            .as_millisecond();
        let s = Store::open_in_memory(Arc::new(ManualClock::new(now)))?;
        let weekly = s.create_task(&NewTask::recurring(
            "Water",
            "FREQ=WEEKLY;BYDAY=MO,TH",
            "2026-11-02",
        ))?;
        assert_eq!(
            s.task(&weekly)?.current_occurrence(now).as_deref(),
            Some("2026-11-23")
        );
        let later = s.create_task(&NewTask::recurring("Later", "FREQ=DAILY", "2026-12-01"))?;
        assert_eq!(
            s.task(&later)?.current_occurrence(now),
            None,
            "not started yet"
        );
        let undated = s.create_task(&NewTask::new("Eenmalig"))?;
        assert_eq!(
            s.task(&undated)?.current_occurrence(now).as_deref(),
            Some("2026-11-25")
        );
        Ok(())
    }

    mod convergence {
        use std::collections::{BTreeMap, BTreeSet};

        use proptest::prelude::*;

        use super::*;

        #[derive(Debug, Clone, Copy)]
        enum Op {
            Claim,
            Release,
            Pledge,
            Unpledge,
            Record { day: u8, done: bool },
            Pause,
            Resume,
        }

        fn op() -> impl Strategy<Value = Op> {
            prop_oneof![
                3 => Just(Op::Claim),
                2 => Just(Op::Release),
                2 => Just(Op::Pledge),
                1 => Just(Op::Unpledge),
                3 => (0..6u8, any::<bool>()).prop_map(|(day, done)| Op::Record { day, done }),
                1 => Just(Op::Pause),
                1 => Just(Op::Resume),
            ]
        }

        /// `(who, op, clock jitter, deliver to)`: after acting, `who` sends what it has to
        /// replica `to` (itself: to nobody).
        fn steps() -> impl Strategy<Value = Vec<(usize, Op, i64, usize)>> {
            prop::collection::vec((0..3usize, op(), 0..20i64, 0..3usize), 1..40)
        }

        fn run(steps: &[(usize, Op, i64, usize)]) -> Result<()> {
            // Two residents of one household and a caretaker without one.
            let devs = [
                device(Role::Resident, Some("Portiek 12"), T)?,
                device(Role::Resident, Some("Portiek 12"), T)?,
                device(Role::Caretaker, None, T)?,
            ];
            let task = NewTask {
                pledge_target: Some(2),
                ..NewTask::recurring("Vegen", "FREQ=DAILY", "2025-03-20")
            };
            let id = devs[0].store.create_task(&task)?;
            for d in &devs[1..] {
                sync(&devs[0].store, &d.store)?;
            }
            // The model: what each member last did, as their own device accepted it.
            let mut claimed: BTreeMap<usize, bool> = BTreeMap::new();
            let mut pledged: BTreeMap<usize, bool> = BTreeMap::new();
            // Records each device accepted: a record can still be ignored after the merge (it
            // was accepted against a state a concurrent entry changed, e.g. an unpledge that
            // sorts earlier means the target was never reached); then its author is told.
            let mut accepted: Vec<(usize, u8, Outcome)> = Vec::new();
            for (i, (who, op, jitter, to)) in steps.iter().enumerate() {
                let d = &devs[*who];
                // Skewed clocks: each device's clock is off by up to 20 ms.
                d.clock.set(T + (i as i64) * 10 + jitter);
                let s = &d.store;
                match op {
                    Op::Claim => {
                        if s.claim_task(&id).is_ok() {
                            claimed.insert(*who, true);
                        }
                    }
                    Op::Release => {
                        if s.release_task(&id).is_ok() {
                            claimed.insert(*who, false);
                        }
                    }
                    Op::Pledge => {
                        if s.pledge_task(&id).is_ok() {
                            pledged.insert(*who, true);
                        }
                    }
                    Op::Unpledge => {
                        if s.unpledge_task(&id).is_ok() {
                            pledged.insert(*who, false);
                        }
                    }
                    Op::Record { day, done } => {
                        let date = format!("2025-03-2{day}");
                        let outcome = if *done {
                            Outcome::Done
                        } else {
                            Outcome::Skipped
                        };
                        if s.record_occurrence(&id, &date, outcome, "").is_ok() {
                            accepted.push((*who, *day, outcome));
                        }
                    }
                    Op::Pause => {
                        let _ = s.pause_task(&id);
                    }
                    Op::Resume => {
                        let _ = s.resume_task(&id);
                    }
                }
                if to != who {
                    sync(s, &devs[*to].store)?;
                }
            }
            for _ in 0..2 {
                for a in &devs {
                    for b in &devs {
                        sync(&a.store, &b.store)?;
                    }
                }
            }

            let v = devs[0].store.task(&id)?;
            for d in &devs[1..] {
                let other = d.store.task(&id)?;
                assert_eq!(v, other);
                assert_eq!(project(&v), project(&other));
            }
            let members_in: BTreeSet<&MemberId> = claimed
                .iter()
                .filter(|(_, c)| **c)
                .filter_map(|(w, _)| devs.get(*w).map(|d| &d.member))
                .collect();
            let derived_in: BTreeSet<&MemberId> = v.adopter.iter().chain(&v.backups).collect();
            assert_eq!(members_in, derived_in);
            assert_eq!(v.adopter.is_some(), !members_in.is_empty());
            let households: BTreeSet<String> = pledged
                .iter()
                .filter(|(_, p)| **p)
                .map(|(w, _)| {
                    if *w < 2 {
                        "Portiek 12".to_owned()
                    } else {
                        devs[2].member.to_string()
                    }
                })
                .collect();
            assert_eq!(v.households, households.len());
            let recorded: BTreeMap<u8, Outcome> = v
                .occurrences
                .iter()
                .map(|o| (o.date.as_bytes()[9] - b'0', o.outcome))
                .collect();
            for (day, outcome) in &recorded {
                assert!(
                    accepted.iter().any(|(_, d, o)| d == day && o == outcome),
                    "only accepted records are derived"
                );
            }
            let told: BTreeSet<&MemberId> = v
                .notices
                .iter()
                .filter(|n| n.code == "occurrence_ignored")
                .map(|n| &n.member)
                .collect();
            for (who, day, outcome) in &accepted {
                if told.contains(&devs[*who].member) {
                    continue;
                }
                // Not ignored: it stands, and done beats skipped for the same date.
                let got = recorded.get(day).copied();
                assert!(
                    got.is_some(),
                    "an accepted record that was not ignored is derived"
                );
                if *outcome == Outcome::Done {
                    assert_eq!(got, Some(Outcome::Done), "done beats skipped");
                }
            }
            Ok(())
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(48))]
            /// Random claims, releases, pledges, records and pauses on three replicas with
            /// skewed clocks and partial delivery converge, and agree with a simple model.
            #[test]
            fn replicas_converge_and_follow_the_rule(steps in steps()) {
                run(&steps).map_err(|e| TestCaseError::fail(e.to_string()))?;
            }
        }
    }
}
