//! The entries of this kind's log (`t`), as stored: one enum the operations append and the
//! replay matches.

use serde::Serialize;

names! {
    /// The entries of this kind's log (`t`), as stored.
    pub enum TaskEntry {
        /// `check_add`.
        CheckAdd = "check_add",
        /// `check_remove`.
        CheckRemove = "check_remove",
        /// `claim`.
        Claim = "claim",
        /// `occurrence`.
        Occurrence = "occurrence",
        /// `pause`.
        Pause = "pause",
        /// `pledge`.
        Pledge = "pledge",
        /// `release`.
        Release = "release",
        /// `resume`.
        Resume = "resume",
        /// `schedule`.
        Schedule = "schedule",
        /// `unpledge`.
        Unpledge = "unpledge",
    }
}
