//! The entries of this kind's log (`t`), as stored: one enum the operations append and the
//! replay matches.

use serde::Serialize;

names! {
    /// The entries of this kind's log (`t`), as stored.
    pub enum ReportEntry {
        /// `edit`.
        Edit = "edit",
        /// `me_too`.
        MeToo = "me_too",
        /// `me_too_withdraw`.
        MeTooWithdraw = "me_too_withdraw",
        /// `photo`.
        Photo = "photo",
        /// `response`.
        Response = "response",
        /// `responsible`.
        Responsible = "responsible",
        /// `transition`.
        Transition = "transition",
    }
}
