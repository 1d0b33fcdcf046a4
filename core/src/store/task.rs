//! The `Store` API of `crate::model::task`: a thin layer over its operations.

use crate::error::Result;
use crate::ids::EntityId;
use crate::model::Kind;
use crate::model::task::{self, *};
use crate::store::Store;

impl Store {
    /// Creates an ownership task by the local member; returns its id.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`](crate::Error::InvalidInput) naming the field: empty or over-long
    /// `title`, over-long `description` or `location_label`, a bad point (`lat`, `lon`), a bad
    /// `recurrence` rule or one without occurrences, a missing or malformed `dtstart`, an unknown
    /// `tz`, a `pledge_target` outside `1..=100`; storage errors.
    pub fn create_task(&self, new: &NewTask) -> Result<EntityId> {
        self.create_entity(Kind::Task, |d, id, ctx| create(d, id, ctx, new))
    }

    /// The derived view of one task (loads its document).
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`](crate::Error::NotFound), [`Error::Corrupt`](crate::Error::Corrupt),
    /// storage errors.
    pub fn task(&self, id: &EntityId) -> Result<TaskView> {
        self.read_entity(id, Kind::Task, derive)
    }

    /// Edits a task's fields and/or schedule (the creator, or
    /// [`Action::ManageTask`](crate::model::Action::ManageTask)). Text merges character by
    /// character; a new schedule is a `schedule` entry.
    ///
    /// # Errors
    ///
    /// [`Error::NotAllowed`](crate::Error::NotAllowed) for anyone else;
    /// [`Error::InvalidInput`](crate::Error::InvalidInput) as for [`Store::create_task`].
    pub fn edit_task(&self, id: &EntityId, edit: &TaskEdit) -> Result<()> {
        self.update_entity(id, Kind::Task, |d, ctx| task::edit_task(d, ctx, edit))
    }

    /// The local member claims the task: adopter when nobody is, otherwise backup (last in
    /// line); returns where they now stand on this device. Concurrent claims are settled by the
    /// rule in the module docs, so after a sync the standing may change (the loser is told).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidTransition`](crate::Error::InvalidTransition) when the task is finished or
    /// the member is already in.
    pub fn claim_task(&self, id: &EntityId) -> Result<TaskStanding> {
        self.update_entity(id, Kind::Task, task::claim_task)
    }

    /// The local member steps back as adopter or backup; the first backup takes over.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`](crate::Error::NotFound) when the local member is neither adopter nor
    /// backup.
    pub fn release_task(&self, id: &EntityId) -> Result<()> {
        self.update_entity(id, Kind::Task, task::release_task)
    }

    /// The local member pledges to carry the task, for their household (their member id when
    /// they have no household label).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidTransition`](crate::Error::InvalidTransition) when the task is not in pledge
    /// mode, is finished, or the member already pledged.
    pub fn pledge_task(&self, id: &EntityId) -> Result<()> {
        self.update_entity(id, Kind::Task, task::pledge_task)
    }

    /// The local member withdraws their pledge. A task that has started stays started.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`](crate::Error::NotFound) when the local member has no active pledge.
    pub fn unpledge_task(&self, id: &EntityId) -> Result<()> {
        self.update_entity(id, Kind::Task, task::unpledge_task)
    }

    /// Records an occurrence (`date`, `YYYY-MM-DD`) as done or skipped (the adopter, a backup, or
    /// [`Action::ManageTask`](crate::model::Action::ManageTask)). Recording a done over a skip is
    /// allowed; done beats skipped.
    ///
    /// # Errors
    ///
    /// [`Error::NotAllowed`](crate::Error::NotAllowed) for anyone else;
    /// [`Error::InvalidTransition`](crate::Error::InvalidTransition) while pledging, or when
    /// finished unless it records a done over a skip;
    /// [`Error::InvalidInput`](crate::Error::InvalidInput) for a malformed `date`, a date that is
    /// not an occurrence of the schedule, after today (in the task's zone) or already recorded with
    /// that outcome or as done, or an over-long `note`.
    pub fn record_occurrence(
        &self,
        id: &EntityId,
        date: &str,
        outcome: Outcome,
        note: &str,
    ) -> Result<()> {
        self.update_entity(id, Kind::Task, |d, ctx| {
            task::record_occurrence(d, ctx, date, outcome, note)
        })
    }

    /// Pauses the task (the adopter, or [`Action::ManageTask`](crate::model::Action::ManageTask)):
    /// no due dates while paused.
    ///
    /// # Errors
    ///
    /// [`Error::NotAllowed`](crate::Error::NotAllowed) for anyone else;
    /// [`Error::InvalidTransition`](crate::Error::InvalidTransition) when already paused or
    /// finished.
    pub fn pause_task(&self, id: &EntityId) -> Result<()> {
        self.pause_or_resume(id, true)
    }

    /// Resumes a paused task (the adopter, or
    /// [`Action::ManageTask`](crate::model::Action::ManageTask)).
    ///
    /// # Errors
    ///
    /// [`Error::NotAllowed`](crate::Error::NotAllowed) for anyone else;
    /// [`Error::InvalidTransition`](crate::Error::InvalidTransition) unless paused.
    pub fn resume_task(&self, id: &EntityId) -> Result<()> {
        self.pause_or_resume(id, false)
    }

    fn pause_or_resume(&self, id: &EntityId, pause: bool) -> Result<()> {
        self.update_entity(id, Kind::Task, |d, ctx| {
            task::pause_or_resume(d, ctx, pause)
        })
    }

    /// Adds a checklist item (the creator, adopter, a backup, or
    /// [`Action::ManageTask`](crate::model::Action::ManageTask)); returns its id.
    ///
    /// # Errors
    ///
    /// [`Error::NotAllowed`](crate::Error::NotAllowed) for anyone else;
    /// [`Error::InvalidInput`](crate::Error::InvalidInput) for empty or over-long `text` or a full
    /// checklist.
    pub fn add_checklist_item(&self, id: &EntityId, text: &str) -> Result<String> {
        self.update_entity(id, Kind::Task, |d, ctx| {
            task::add_checklist_item(d, ctx, text)
        })
    }

    /// Removes a checklist item.
    ///
    /// # Errors
    ///
    /// [`Error::NotAllowed`](crate::Error::NotAllowed) as for [`Store::add_checklist_item`];
    /// [`Error::NotFound`](crate::Error::NotFound) for an unknown item.
    pub fn remove_checklist_item(&self, id: &EntityId, item: &str) -> Result<()> {
        self.update_entity(id, Kind::Task, |d, ctx| {
            task::remove_checklist_item(d, ctx, item)
        })
    }
}
