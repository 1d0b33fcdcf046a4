//! Who may write a help's root fields after creation: the table its operations and
//! [`crate::validate`] both read (through [`crate::model::fields`]).

use crate::model::Action;
use crate::model::fields::{Fields, Who};

/// Who edits a help: the creator (requester), or a role that may match helpers for others.
pub(crate) const EDITOR: Who = Who::CreatorOr(Action::MatchHelpForOthers);

/// The root fields of a help; a key this schema does not know is written by the editors.
pub(crate) const FIELDS: Fields = Fields {
    known: &[
        ("title", EDITOR),
        ("body", EDITOR),
        ("mode", Who::Nobody),
        ("category", Who::Nobody),
        ("urgency", Who::Nobody),
        ("window_start", Who::Nobody),
        ("window_end", Who::Nobody),
        ("precision", Who::Nobody),
        ("location_label", Who::Nobody),
    ],
    unknown: EDITOR,
};

/// The action a role needs to create a help.
pub(crate) const CREATE: Option<Action> = Some(Action::CreateHelp);
