//! Ownership tasks: adopt (claim) or back up, pledges, occurrences done or skipped, pause,
//! checklists.

use noaber_core::model::task::{
    self as core, ChecklistItem, Occurrence, Outcome, Pledge, TaskSchedule, TaskStanding,
    TaskStatus,
};
use noaber_core::{Audience, MemberId};

use crate::error::Result;
use crate::store::NoaberStore;
use crate::types::{GeoPoint, Notice, PointChange, count, entity, notices};

// Hand-converted: defaults, a `GeoPoint` point and an optional audience, unlike the core's.
/// What a new task says.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct NewTask {
    /// A short title ("Binnentuin water geven").
    pub title: String,
    /// Details (may be empty).
    #[uniffi(default = "")]
    pub description: String,
    /// An optional exact point.
    #[uniffi(default)]
    pub point: Option<GeoPoint>,
    /// A location label (may be empty).
    #[uniffi(default = "")]
    pub location_label: String,
    /// A recurrence rule (`FREQ=WEEKLY;BYDAY=MO,TH`); `None` for a one-off task.
    #[uniffi(default)]
    pub rrule: Option<String>,
    /// `YYYY-MM-DD`: the series' start (required with `rrule`) or the one-off's date.
    #[uniffi(default)]
    pub dtstart: Option<String>,
    /// IANA time zone; `None` means Europe/Amsterdam.
    #[uniffi(default)]
    pub tz: Option<String>,
    /// Pledge mode: households needed before the task starts, 1..=100.
    #[uniffi(default)]
    pub pledge_target: Option<u32>,
    /// Who reads it; `None` for the whole buurt. Fixed at creation.
    #[uniffi(default)]
    pub audience: Option<Audience>,
}

impl From<NewTask> for core::NewTask {
    fn from(n: NewTask) -> Self {
        core::NewTask {
            audience: n.audience.unwrap_or_default(),
            title: n.title,
            description: n.description,
            lat: n.point.map(|p| p.lat),
            lon: n.point.map(|p| p.lon),
            location_label: n.location_label,
            rrule: n.rrule,
            dtstart: n.dtstart,
            tz: n.tz,
            pledge_target: n.pledge_target,
        }
    }
}

/// A task's schedule.
#[uniffi::remote(Record)]
pub struct TaskSchedule {
    /// A recurrence rule; `None` makes the task one-off.
    #[uniffi(default)]
    pub rrule: Option<String>,
    /// `YYYY-MM-DD`; required with `rrule`.
    #[uniffi(default)]
    pub dtstart: Option<String>,
    /// IANA time zone; `None` means Europe/Amsterdam.
    #[uniffi(default)]
    pub tz: Option<String>,
}

// Hand-converted: the point is a `PointChange` (the core's is an `Option<Option<_>>`).
/// Changes to a task; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, uniffi::Record)]
pub struct TaskEdit {
    /// New title.
    #[uniffi(default)]
    pub title: Option<String>,
    /// New description.
    #[uniffi(default)]
    pub description: Option<String>,
    /// New location label.
    #[uniffi(default)]
    pub location_label: Option<String>,
    /// A new point, or its removal.
    #[uniffi(default)]
    pub point: Option<PointChange>,
    /// A new schedule.
    #[uniffi(default)]
    pub schedule: Option<TaskSchedule>,
}

impl From<TaskEdit> for core::TaskEdit {
    fn from(e: TaskEdit) -> Self {
        core::TaskEdit {
            title: e.title,
            description: e.description,
            location_label: e.location_label,
            point: e.point.map(Into::into),
            schedule: e.schedule,
        }
    }
}

/// Derived status of a task (`due` and `overdue` are in [`TaskView::due_state`] and lists).
#[uniffi::remote(Enum)]
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

/// What happened to one occurrence.
#[uniffi::remote(Enum)]
pub enum Outcome {
    /// Someone did it.
    Done,
    /// Passed over on purpose.
    Skipped,
}

/// A recorded occurrence.
#[uniffi::remote(Record)]
pub struct Occurrence {
    /// The occurrence's date, `YYYY-MM-DD`.
    pub date: String,
    /// Done or skipped.
    pub outcome: Outcome,
    /// Who recorded it.
    pub by: MemberId,
    /// When it was recorded, ms.
    pub at: i64,
    /// Their note (may be empty).
    pub note: String,
}

/// An active pledge.
#[uniffi::remote(Record)]
pub struct Pledge {
    /// The pledger.
    pub member: MemberId,
    /// The household it counts for.
    pub household: String,
    /// When they (last) pledged, ms.
    pub at: i64,
}

/// One checklist item.
#[uniffi::remote(Record)]
pub struct ChecklistItem {
    /// The item id.
    pub id: String,
    /// The text.
    pub text: String,
    /// Who added it.
    pub by: MemberId,
    /// When, ms.
    pub at: i64,
}

// Hand-converted: adds the due state now and the local member's standing.
/// Everything a screen shows about one task.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct TaskView {
    /// Entity id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Exact point, if any.
    pub point: Option<GeoPoint>,
    /// Location label (may be empty).
    pub location_label: String,
    /// The creator.
    pub creator: String,
    /// Created at, ms.
    pub created_at: i64,
    /// Last activity, ms.
    pub updated_at: i64,
    /// The recurrence rule in force; `None` for a one-off.
    pub recurrence: Option<String>,
    /// `YYYY-MM-DD` start of the schedule (a one-off's date), if any.
    pub dtstart: Option<String>,
    /// The time zone dates live in.
    pub tz: String,
    /// Pledge mode: households needed.
    pub pledge_target: Option<u32>,
    /// Derived status.
    pub status: TaskStatus,
    /// The adopter.
    pub adopter: Option<String>,
    /// Backups, first in line first.
    pub backups: Vec<String>,
    /// Active pledges, in order.
    pub pledges: Vec<Pledge>,
    /// Distinct households among the active pledges.
    pub households: u64,
    /// Whether paused.
    pub paused: bool,
    /// Checklist, in the order items were added.
    pub checklist: Vec<ChecklistItem>,
    /// Recorded occurrences, most recent date first.
    pub occurrences: Vec<Occurrence>,
    /// The first open occurrence, `YYYY-MM-DD`.
    pub next_open: Option<String>,
    /// From when `next_open` is due, ms.
    pub due_at: Option<i64>,
    /// From when it is overdue, ms.
    pub overdue_at: Option<i64>,
    /// `not_due`, `due` or `overdue` now.
    pub due_state: String,
    /// The occurrence "record it" means now (`YYYY-MM-DD`), if there is one.
    pub current_occurrence: Option<String>,
    /// What members should be told.
    pub notices: Vec<Notice>,
    /// Where the local member stands.
    pub my_standing: TaskStanding,
}

/// Where a member stands on a task.
#[uniffi::remote(Enum)]
pub enum TaskStanding {
    /// The adopter.
    Adopter,
    /// A backup, waiting to take over.
    Backup {
        /// 1-based place in the line of backups.
        position: usize,
    },
    /// Neither adopter nor backup (`NotIn` for the foreign side: `None` clashes with Python
    /// and Swift).
    #[uniffi(name = "NotIn")]
    None,
}

fn view(v: core::TaskView, now: i64, me: &MemberId) -> TaskView {
    TaskView {
        my_standing: v.standing(me),
        due_state: v.due_state(now).to_owned(),
        current_occurrence: v.current_occurrence(now),
        id: v.id,
        title: v.title,
        description: v.description,
        point: v.lat.zip(v.lon).map(|(lat, lon)| GeoPoint { lat, lon }),
        location_label: v.location_label,
        creator: v.creator.to_string(),
        created_at: v.created_at,
        updated_at: v.updated_at,
        recurrence: v.recurrence,
        dtstart: v.dtstart,
        tz: v.tz,
        pledge_target: v.pledge_target,
        status: v.status,
        adopter: v.adopter.map(|m| m.to_string()),
        backups: v.backups.iter().map(ToString::to_string).collect(),
        pledges: v.pledges,
        households: count(v.households),
        paused: v.paused,
        checklist: v.checklist,
        occurrences: v.occurrences,
        next_open: v.next_open,
        due_at: v.due_at,
        overdue_at: v.overdue_at,
        notices: notices(v.notices),
    }
}

#[uniffi::export]
impl NoaberStore {
    /// Creates an ownership task by the local member; returns its id.
    ///
    /// # Errors
    ///
    /// `InvalidInput` naming the field (`title`, `recurrence`, `dtstart`, `tz`,
    /// `pledge_target`, ...); `Storage`.
    pub fn create_task(&self, new: NewTask) -> Result<String> {
        Ok(self.store.create_task(&new.into())?.to_string())
    }

    /// One task, derived from its document, with its due state now.
    ///
    /// # Errors
    ///
    /// `InvalidInput` (`id`); `NotFound`; `Storage`.
    pub fn task(&self, id: String) -> Result<TaskView> {
        let v = self.store.task(&entity(&id)?)?;
        Ok(view(v, self.store.now_ms(), &self.store.identity().member))
    }

    /// Edits a task's fields and/or schedule.
    ///
    /// # Errors
    ///
    /// `NotAllowed` unless the creator or a caretaker, organiser or staff; `InvalidInput`.
    pub fn edit_task(&self, id: String, edit: TaskEdit) -> Result<()> {
        Ok(self.store.edit_task(&entity(&id)?, &edit.into())?)
    }

    /// The local member claims the task: adopter when nobody is, otherwise backup; returns
    /// where they now stand on this device (a concurrent claim elsewhere may still win after a
    /// sync: `TaskView.my_standing` and the notices tell).
    ///
    /// # Errors
    ///
    /// `NotAllowed` when finished or the member is already in.
    pub fn claim_task(&self, id: String) -> Result<TaskStanding> {
        Ok(self.store.claim_task(&entity(&id)?)?)
    }

    /// The local member steps back as adopter or backup; the first backup takes over.
    ///
    /// # Errors
    ///
    /// `NotFound` when the local member is neither adopter nor backup.
    pub fn release_task(&self, id: String) -> Result<()> {
        Ok(self.store.release_task(&entity(&id)?)?)
    }

    /// The local member pledges to carry the task, for their household.
    ///
    /// # Errors
    ///
    /// `NotAllowed` when not in pledge mode, finished, or already pledged.
    pub fn pledge_task(&self, id: String) -> Result<()> {
        Ok(self.store.pledge_task(&entity(&id)?)?)
    }

    /// The local member withdraws their pledge.
    ///
    /// # Errors
    ///
    /// `NotFound` when the local member has no active pledge.
    pub fn unpledge_task(&self, id: String) -> Result<()> {
        Ok(self.store.unpledge_task(&entity(&id)?)?)
    }

    /// Records the occurrence on `date` (`YYYY-MM-DD`; see `TaskView.current_occurrence`)
    /// as done or skipped, with a note (may be empty, the default).
    ///
    /// # Errors
    ///
    /// `NotAllowed` unless the adopter, a backup or a manager, or while pledging;
    /// `InvalidInput` (`date`, `note`) for a date that is not an occurrence, in the future,
    /// or already recorded.
    #[uniffi::method(default(note = ""))]
    pub fn record_occurrence(
        &self,
        id: String,
        date: String,
        outcome: Outcome,
        note: String,
    ) -> Result<()> {
        Ok(self
            .store
            .record_occurrence(&entity(&id)?, &date, outcome, &note)?)
    }

    /// Pauses the task: no due dates while paused.
    ///
    /// # Errors
    ///
    /// `NotAllowed` unless the adopter or a manager, or when paused or finished.
    pub fn pause_task(&self, id: String) -> Result<()> {
        Ok(self.store.pause_task(&entity(&id)?)?)
    }

    /// Resumes a paused task.
    ///
    /// # Errors
    ///
    /// `NotAllowed` unless the adopter or a manager, or unless paused.
    pub fn resume_task(&self, id: String) -> Result<()> {
        Ok(self.store.resume_task(&entity(&id)?)?)
    }

    /// Adds a checklist item; returns its id.
    ///
    /// # Errors
    ///
    /// `NotAllowed` for members not involved; `InvalidInput` (`text`).
    pub fn add_checklist_item(&self, id: String, text: String) -> Result<String> {
        Ok(self.store.add_checklist_item(&entity(&id)?, &text)?)
    }

    /// Removes a checklist item.
    ///
    /// # Errors
    ///
    /// `NotAllowed` for members not involved; `NotFound` for an unknown item.
    pub fn remove_checklist_item(&self, id: String, item_id: String) -> Result<()> {
        Ok(self.store.remove_checklist_item(&entity(&id)?, &item_id)?)
    }
}
