//! Who may write a profile's root fields after creation: the table its operations and
//! [`crate::validate`] both read (through [`crate::model::fields`]).

use crate::model::Action;
use crate::model::fields::{Fields, Who};

/// The root fields of a profile; a key this schema does not know only the creator writes.
pub(crate) const FIELDS: Fields = Fields {
    known: &[
        ("display_name", Who::Creator),
        ("household", Who::Creator),
        ("availability", Who::Creator),
    ],
    unknown: Who::Creator,
};

/// Anyone may create a profile, for themself (`validate` requires `created_by` to be the
/// pusher).
pub(crate) const CREATE: Option<Action> = None;
