//! The `Store` API of `crate::model::profile`: a thin layer over its operations.

use crate::error::{Error, Result};
use crate::ids::EntityId;
use crate::model::Kind;
use crate::model::profile::{self, *};
use crate::store::Store;
use crate::store::query::{ListQuery, MAX_PAGE};

impl Store {
    /// Creates the local member's profile; returns its id.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] naming the field for an empty or over-long display name, an
    /// over-long household, skill or availability, too many skills, or `profile` when the
    /// local member already has one; storage errors.
    pub fn create_profile(&self, new: &NewProfile) -> Result<EntityId> {
        if let Some(existing) = self.my_profile()? {
            return Err(Error::invalid(
                "profile",
                format!("the member already has profile `{}`", existing.id),
            ));
        }
        self.create_entity(Kind::Profile, |doc, id, ctx| create(doc, id, ctx, new))
    }

    /// The derived view of one profile (loads its document).
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`], [`Error::Corrupt`], storage errors.
    pub fn profile(&self, id: &EntityId) -> Result<ProfileView> {
        self.read_entity(id, Kind::Profile, derive)
    }

    /// The local member's profile, if they have one: found through the projection (no
    /// document is loaded but the one returned). With several (created offline on two
    /// devices), the oldest.
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub fn my_profile(&self) -> Result<Option<ProfileView>> {
        let me = self.identity().member;
        let mut oldest: Option<(i64, String)> = None;
        let mut after = None;
        for _ in 0..MAX_PAGES {
            let page = self.list(&ListQuery {
                kind: Some(Kind::Profile),
                mine: true,
                limit: MAX_PAGE,
                after: after.take(),
                ..Default::default()
            })?;
            for s in page
                .items
                .into_iter()
                .filter(|s| s.created_by == me.as_str())
            {
                let candidate = (s.created_at, s.id);
                if oldest.as_ref().is_none_or(|o| &candidate < o) {
                    oldest = Some(candidate);
                }
            }
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        match oldest {
            Some((_, id)) => Ok(Some(self.profile(&EntityId::parse(&id)?)?)),
            None => Ok(None),
        }
    }

    /// Edits the display name, household and/or availability of the local member's profile.
    ///
    /// # Errors
    ///
    /// [`Error::NotAllowed`] for someone else's profile; [`Error::InvalidInput`] naming the
    /// field for an empty or over-long name or over-long text.
    pub fn edit_profile(&self, id: &EntityId, edit: &ProfileEdit) -> Result<()> {
        self.update_entity(id, Kind::Profile, |doc, ctx| {
            profile::edit_profile(doc, ctx, edit)
        })
    }

    /// Adds a skill to the local member's profile (a no-op when it is already there, in any
    /// letter case).
    ///
    /// # Errors
    ///
    /// [`Error::NotAllowed`] for someone else's profile; [`Error::InvalidInput`] for an empty
    /// or over-long skill, or `skills` when the profile already lists [`MAX_SKILLS`].
    pub fn add_skill(&self, id: &EntityId, skill_name: &str) -> Result<()> {
        self.update_entity(id, Kind::Profile, |doc, ctx| {
            profile::add_skill(doc, ctx, skill_name)
        })
    }

    /// Removes a skill (matched case-insensitively) from the local member's profile.
    ///
    /// # Errors
    ///
    /// [`Error::NotAllowed`] for someone else's profile; [`Error::NotFound`] when the profile
    /// does not list the skill; [`Error::InvalidInput`] for an empty or over-long skill.
    pub fn remove_skill(&self, id: &EntityId, skill_name: &str) -> Result<()> {
        self.update_entity(id, Kind::Profile, |doc, ctx| {
            profile::remove_skill(doc, ctx, skill_name)
        })
    }
}
