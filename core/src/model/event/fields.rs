//! Who may write a event's root fields after creation: the table its operations and
//! [`crate::validate`] both read (through [`crate::model::fields`]).

use crate::model::Action;
use crate::model::fields::{Fields, Who};

/// Who edits a event: the creator, or a role that may manage events.
pub(crate) const EDITOR: Who = Who::CreatorOr(Action::ManageEvent);

/// The root fields of a event; a key this schema does not know is written by the editors.
pub(crate) const FIELDS: Fields = Fields {
    known: &[
        ("title", EDITOR),
        ("description", EDITOR),
        ("starts_at", EDITOR),
        ("ends_at", EDITOR),
        ("place", EDITOR),
        ("lat", EDITOR),
        ("lon", EDITOR),
        ("capacity", EDITOR),
    ],
    unknown: EDITOR,
};

/// The action a role needs to create a event.
pub(crate) const CREATE: Option<Action> = Some(Action::CreateEvent);
