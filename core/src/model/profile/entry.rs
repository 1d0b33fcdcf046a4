//! The entries of this kind's log (`t`), as stored: one enum the operations append and the
//! replay matches.

use serde::Serialize;

names! {
    /// The entries of this kind's log (`t`), as stored.
    pub enum ProfileEntry {
        /// `edit`.
        Edit = "edit",
        /// `skill_add`.
        SkillAdd = "skill_add",
        /// `skill_remove`.
        SkillRemove = "skill_remove",
    }
}
