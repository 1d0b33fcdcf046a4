//! Who may write a report's root fields after creation: the table its operations and
//! [`crate::validate`] both read (through [`crate::model::fields`]).

use crate::model::Action;
use crate::model::fields::{Fields, Who};

/// The root fields of a report; a key this schema does not know only the creator writes.
pub(crate) const FIELDS: Fields = Fields {
    known: &[
        ("description", Who::CreatorOr(Action::WorkReport)),
        ("response", Who::RoleFor(Action::TriageReport)),
        ("category", Who::Nobody),
        ("lat", Who::Nobody),
        ("lon", Who::Nobody),
        ("complex", Who::Nobody),
        ("floor", Who::Nobody),
        ("stairwell", Who::Nobody),
        ("severity", Who::Nobody),
    ],
    unknown: Who::Creator,
};

/// The action a role needs to create a report.
pub(crate) const CREATE: Option<Action> = Some(Action::CreateReport);
