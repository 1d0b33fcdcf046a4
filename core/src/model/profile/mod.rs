//! Member profiles: how neighbours see each other — a name, where one lives (at complex
//! precision, never a house number), what one is good at and when one has time. Organisers
//! match help requests against skills and availability, so both are searchable.
//!
//! # Document (schema 1, `kind = "profile"`)
//!
//! | key | type | notes |
//! |---|---|---|
//! | `display_name` | str | 1..=80 characters; last writer wins (see below) |
//! | `household` | str? | household / complex label, at most 120 characters |
//! | `availability` | Text | free text ("weekday evenings"), merged character by character |
//!
//! Log entries: `skill_add {skill}`, `skill_remove {skill}`, `edit` (the fields above were
//! edited; it only says when).
//!
//! # The rules
//!
//! - **Only the member themself** (the document's creator) edits their profile. The API
//!   refuses anyone else; the replay ignores skill entries by anyone else (the relay refuses
//!   their root edits).
//! - **One profile per member** is the convention:
//!   [`Store::create_profile`](crate::Store::create_profile) refuses a second one, and
//!   [`Store::my_profile`](crate::Store::my_profile) picks the oldest (by creation time, then id)
//!   if two devices of the same member created one each while offline.
//! - **Skills** are entries, so two devices adding skills offline both keep theirs. A skill is
//!   identified case-insensitively; it is present when its latest entry in `(at, by, id)` order
//!   is an add (an add concurrent with a remove of the same skill: the later one wins), and it
//!   is shown as written in that latest add. Skills are listed in alphabetical order.
//! - **Display name and household** are plain strings, last writer wins: a name merged
//!   character by character from two devices would be neither. Only the owner writes them, so
//!   a conflict is between the owner's own devices. **Availability** is `Text`: free prose,
//!   where keeping both devices' words is what the owner expects.

mod derive;
mod entry;
mod fields;
mod ops;
mod types;

pub(crate) use derive::*;
pub use entry::*;
pub(crate) use fields::*;
pub(crate) use ops::*;
pub use types::*;

#[cfg(test)]
mod tests;
