//! Who may write a task's root fields after creation: the table its operations and
//! [`crate::validate`] both read (through [`crate::model::fields`]).

use crate::model::Action;
use crate::model::fields::{Fields, Who};

/// Who edits a task: the creator, or a role that may manage tasks.
pub(crate) const EDITOR: Who = Who::CreatorOr(Action::ManageTask);

/// The root fields of a task; a key this schema does not know is written by the editors.
pub(crate) const FIELDS: Fields = Fields {
    known: &[
        ("title", EDITOR),
        ("description", EDITOR),
        ("location_label", EDITOR),
        ("lat", EDITOR),
        ("lon", EDITOR),
        ("rrule", Who::Nobody),
        ("dtstart", Who::Nobody),
        ("tz", Who::Nobody),
        ("pledge_target", Who::Nobody),
    ],
    unknown: EDITOR,
};

/// The action a role needs to create a task.
pub(crate) const CREATE: Option<Action> = Some(Action::CreateTask);
