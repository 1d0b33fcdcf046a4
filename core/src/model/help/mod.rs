//! Help requests and offers.
//!
//! # Document (schema 1, `kind = "help"`)
//!
//! | key | type | notes |
//! |---|---|---|
//! | `mode` | str | `ask` or `offer` |
//! | `category` | str | `groceries`, `transport`, `odd_jobs`, `company`, `paperwork`, `garden`, `other` |
//! | `title`, `body` | Text | merged character by character |
//! | `urgency` | str | `low`, `normal`, `high` |
//! | `window_start`, `window_end` | int? | ms; after `window_end` an open request is *expired* |
//! | `precision` | str | `complex`, `stairwell`, `street`, `buurt` — never a house number |
//! | `location_label` | str | the label at that precision ("Portiek 12–20") |
//!
//! Log entries: `respond {message}`, `withdraw`, `match {helper}`, `unmatch {match}`,
//! `done`, `cancel {reason}`, `thanks {text}`.
//!
//! # The rule (every device computes it identically)
//!
//! Entries are replayed in `(at, by, id)` order through the state machine
//! `open → matched → done`, with `cancelled` reachable from `open` and `matched`. An entry that
//! is not valid at its place in that order is ignored and whoever it concerned is told
//! (a [`Notice`](crate::model::Notice)). Consequences, each property-tested:
//!
//! - **Cancel vs. match**: cancel always wins. Cancel first: the later match is ignored and the
//!   helper told `request_cancelled`. Match first: the request is matched, then cancelled, and
//!   the helper is told `request_cancelled`. No request is ever both cancelled and matched.
//! - **Two organisers match different helpers**: the earlier match wins; the later one is
//!   ignored and both its helper and its matcher are told `match_superseded`.
//! - **Done vs. cancel**: whichever comes first in the order stands; the other is ignored.
//! - A match needs the helper's response to be active at that point; a matched helper who
//!   withdraws their response un-matches the request (`helper_withdrew` to the requester).
//! - Responses: each member writes only their own; a member's latest `respond`/`withdraw`
//!   decides whether their response is active.
//! - Expiry is not stored: an `open` request whose `window_end` has passed is *expired*
//!   (queries compare `expires_at` with the injected clock).

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
