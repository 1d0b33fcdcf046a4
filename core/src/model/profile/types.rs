//! The kind's types: inputs, views, statuses and the limits on what is written.

use serde::Serialize;

use crate::ids::MemberId;

/// Longest display name, in characters.
pub const MAX_DISPLAY_NAME: usize = crate::names::MAX_DISPLAY_NAME;
/// Longest household label, in characters.
pub const MAX_HOUSEHOLD: usize = 120;
/// Longest skill, in characters.
pub const MAX_SKILL: usize = 40;
/// Most skills one profile lists.
pub const MAX_SKILLS: usize = 30;
/// Longest availability text, in characters.
pub const MAX_AVAILABILITY: usize = 500;

/// Pages of "my" profiles [`Store::my_profile`](crate::Store::my_profile) looks through at most.
pub(crate) const MAX_PAGES: usize = 20;

/// What a new profile says.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewProfile {
    /// Display name, 1..=80 characters.
    pub display_name: String,
    /// Household / complex label ("Complex 4"), if any.
    pub household: Option<String>,
    /// Skills ("fietsen repareren", "Turks"), each 1..=40 characters.
    pub skills: Vec<String>,
    /// When one has time, free text (may be empty).
    pub availability: String,
}

/// Changes to a profile; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProfileEdit {
    /// A new display name.
    pub display_name: Option<String>,
    /// A new household label; `Some("")` clears it.
    pub household: Option<String>,
    /// New availability text (may be empty).
    pub availability: Option<String>,
}

/// Everything a screen shows about one profile, derived from its document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProfileView {
    /// Entity id.
    pub id: String,
    /// The member whose profile it is (its creator).
    pub member: MemberId,
    /// Display name.
    pub display_name: String,
    /// Household / complex label.
    pub household: Option<String>,
    /// Present skills, alphabetical.
    pub skills: Vec<String>,
    /// Availability text.
    pub availability: String,
    /// Created at.
    pub created_at: i64,
    /// Last edit.
    pub updated_at: i64,
}
