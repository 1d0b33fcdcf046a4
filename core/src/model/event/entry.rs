//! The entries of this kind's log (`t`), as stored: one enum the operations append and the
//! replay matches.

use serde::Serialize;

names! {
    /// The entries of this kind's log (`t`), as stored.
    pub enum EventEntry {
        /// `add_role`.
        AddRole = "add_role",
        /// `add_shift`.
        AddShift = "add_shift",
        /// `cancel`.
        Cancel = "cancel",
        /// `rsvp`.
        Rsvp = "rsvp",
        /// `signup`.
        Signup = "signup",
        /// `unsignup`.
        Unsignup = "unsignup",
    }
}
