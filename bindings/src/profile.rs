//! Member profiles: display name, household, skills, availability.

use noaber_core::model::profile as core;

use crate::error::Result;
use crate::store::NoaberStore;
use crate::types::entity;

/// What a new profile says.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
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

impl From<NewProfile> for core::NewProfile {
    fn from(n: NewProfile) -> Self {
        core::NewProfile {
            display_name: n.display_name,
            household: n.household,
            skills: n.skills,
            availability: n.availability,
        }
    }
}

/// Changes to a profile; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
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

impl From<ProfileEdit> for core::ProfileEdit {
    fn from(e: ProfileEdit) -> Self {
        core::ProfileEdit {
            display_name: e.display_name,
            household: e.household,
            availability: e.availability,
        }
    }
}

/// A member's profile.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ProfileView {
    /// Entity id.
    pub id: String,
    /// The member whose profile it is.
    pub member: String,
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

impl From<core::ProfileView> for ProfileView {
    fn from(v: core::ProfileView) -> Self {
        ProfileView {
            id: v.id,
            member: v.member.to_string(),
            display_name: v.display_name,
            household: v.household,
            skills: v.skills,
            availability: v.availability,
            created_at: v.created_at,
            updated_at: v.updated_at,
        }
    }
}

#[uniffi::export]
impl NoaberStore {
    /// Creates the local member's profile; returns its id.
    ///
    /// # Errors
    ///
    /// `InvalidInput` naming the field, or `profile` when the member already has one.
    pub fn create_profile(&self, new: NewProfile) -> Result<String> {
        Ok(self.store.create_profile(&new.into())?.to_string())
    }

    /// One profile.
    ///
    /// # Errors
    ///
    /// `InvalidInput` (`id`); `NotFound`; `Storage`.
    pub fn profile(&self, id: String) -> Result<ProfileView> {
        Ok(self.store.profile(&entity(&id)?)?.into())
    }

    /// The local member's profile, if they have one.
    ///
    /// # Errors
    ///
    /// `Storage`.
    pub fn my_profile(&self) -> Result<Option<ProfileView>> {
        Ok(self.store.my_profile()?.map(ProfileView::from))
    }

    /// Edits the local member's profile.
    ///
    /// # Errors
    ///
    /// `NotAllowed` for someone else's profile; `InvalidInput` naming the field.
    pub fn edit_profile(&self, id: String, edit: ProfileEdit) -> Result<()> {
        Ok(self.store.edit_profile(&entity(&id)?, &edit.into())?)
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
