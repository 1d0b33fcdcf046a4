//! The kind's types: inputs, views, statuses and the limits on what is written.

use std::collections::BTreeMap;

use jiff::civil::Date;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::ids::MemberId;
use crate::model::rrule::Rule;
use crate::model::{Ctx, Notice};

use super::{EDITOR, LOOKBACK_DAYS, Schedule, parse_date, parse_tz};

/// The time zone a task uses when none is given.
pub const DEFAULT_TZ: &str = "Europe/Amsterdam";
/// Most checklist items a task keeps.
pub const MAX_CHECKLIST: usize = 100;
/// Largest pledge target.
pub const MAX_PLEDGE_TARGET: u32 = 100;
/// Recorded occurrences a [`TaskView`] lists (the most recent ones).
pub const RECENT_OCCURRENCES: usize = 50;

pub(super) const MAX_TITLE: usize = 200;
pub(super) const MAX_DESCRIPTION: usize = 5_000;
pub(super) const MAX_LABEL: usize = 120;
pub(super) const MAX_ITEM: usize = 200;
pub(crate) const MAX_NOTE: usize = 1_000;
pub(super) const MAX_HOUSEHOLD: usize = 120;
pub(super) const MAX_TZ: usize = 64;
/// Accepted years of a date: wide enough for any real task, narrow enough to stay far from
/// the calendar's limits.
pub(super) const YEARS: std::ops::RangeInclusive<i16> = 1970..=2999;
/// Grace days of a one-off task.
pub(super) const ONE_OFF_GRACE: i32 = 1;

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
    pub(super) schedule: Schedule,
    #[serde(skip)]
    pub(super) recorded: BTreeMap<Date, Outcome>,
    #[serde(skip)]
    pub(super) next_open_day: Option<Date>,
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

    pub(super) fn may_edit(&self, ctx: &Ctx) -> bool {
        EDITOR.permits(&ctx.member, ctx.role, &self.creator)
    }
}
