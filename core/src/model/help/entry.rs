//! The entries of this kind's log (`t`), as stored: one enum the operations append and the
//! replay matches.

use serde::Serialize;

names! {
    /// The entries of this kind's log (`t`), as stored.
    pub enum HelpEntry {
        /// `cancel`.
        Cancel = "cancel",
        /// `done`.
        Done = "done",
        /// `match`.
        Match = "match",
        /// `respond`.
        Respond = "respond",
        /// `thanks`.
        Thanks = "thanks",
        /// `unmatch`.
        Unmatch = "unmatch",
        /// `withdraw`.
        Withdraw = "withdraw",
    }
}
