//! Member profiles: display name, household, skills, availability.

use noaber_core::MemberId;
use noaber_core::model::profile::{NewProfile, ProfileEdit, ProfileView};

use crate::error::Result;
use crate::store::NoaberStore;
use crate::types::entity;

/// What a new profile says.
#[uniffi::remote(Record)]
pub struct NewProfile {
    /// Display name, 1..=80 characters.
    pub display_name: String,
    /// Household / complex label ("Complex 4").
    #[uniffi(default)]
    pub household: Option<String>,
    /// Skills ("fietsen repareren", "Turks").
    #[uniffi(default)]
    pub skills: Vec<String>,
    /// When one has time, free text (may be empty).
    #[uniffi(default = "")]
    pub availability: String,
}

/// Changes to a profile; `None` leaves a field as it is.
#[uniffi::remote(Record)]
pub struct ProfileEdit {
    /// A new display name.
    #[uniffi(default)]
    pub display_name: Option<String>,
    /// A new household label; an empty one clears it.
    #[uniffi(default)]
    pub household: Option<String>,
    /// New availability text.
    #[uniffi(default)]
    pub availability: Option<String>,
}

/// A member's profile.
#[uniffi::remote(Record)]
pub struct ProfileView {
    /// Entity id.
    pub id: String,
    /// The member whose profile it is.
    pub member: MemberId,
    /// Display name.
    pub display_name: String,
    /// Household / complex label.
    pub household: Option<String>,
    /// Skills, alphabetical.
    pub skills: Vec<String>,
    /// Availability text.
    pub availability: String,
    /// Created at, ms.
    pub created_at: i64,
    /// Last edit, ms.
    pub updated_at: i64,
}

#[uniffi::export]
impl NoaberStore {
    /// Creates the local member's profile; returns its id.
    ///
    /// # Errors
    ///
    /// `InvalidInput` naming the field, or `profile` when the member already has one.
    pub fn create_profile(&self, new: NewProfile) -> Result<String> {
        Ok(self.store.create_profile(&new)?.to_string())
    }

    /// One profile.
    ///
    /// # Errors
    ///
    /// `InvalidInput` (`id`); `NotFound`; `Storage`.
    pub fn profile(&self, id: String) -> Result<ProfileView> {
        Ok(self.store.profile(&entity(&id)?)?)
    }

    /// The local member's profile, if they have one.
    ///
    /// # Errors
    ///
    /// `Storage`.
    pub fn my_profile(&self) -> Result<Option<ProfileView>> {
        Ok(self.store.my_profile()?)
    }

    /// Edits the local member's profile.
    ///
    /// # Errors
    ///
    /// `NotAllowed` for someone else's profile; `InvalidInput` naming the field.
    pub fn edit_profile(&self, id: String, edit: ProfileEdit) -> Result<()> {
        Ok(self.store.edit_profile(&entity(&id)?, &edit)?)
    }

    /// Adds a skill to the local member's profile.
    ///
    /// # Errors
    ///
    /// `NotAllowed` for someone else's profile; `InvalidInput` (`skill`, `skills`).
    pub fn add_skill(&self, id: String, skill: String) -> Result<()> {
        Ok(self.store.add_skill(&entity(&id)?, &skill)?)
    }

    /// Removes a skill from the local member's profile.
    ///
    /// # Errors
    ///
    /// `NotAllowed` for someone else's profile; `NotFound` when it does not list the skill.
    pub fn remove_skill(&self, id: String, skill: String) -> Result<()> {
        Ok(self.store.remove_skill(&entity(&id)?, &skill)?)
    }
}
