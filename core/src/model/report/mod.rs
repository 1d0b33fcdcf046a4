//! Environment issue reports: what is broken, dirty or unsafe in the buurt, logged by a
//! caretaker in a basement or by a resident on the stairs — often without a connection — and
//! followed until the reporter agrees it is fixed.
//!
//! Reports exist so that "handled" means handled: every step is an entry with its author and
//! time, the reporter closes the loop (confirm or reopen), and neighbours add weight with
//! "me too" instead of filing duplicates.
//!
//! # Document (schema 1, `kind = "report"`)
//!
//! | key | type | notes |
//! |---|---|---|
//! | `category` | str | one of [`CATEGORIES`] |
//! | `description` | Text | merged character by character |
//! | `lat`, `lon` | f64 | the exact point (reports always carry one) |
//! | `complex`, `floor`, `stairwell` | str? | the location label's parts, each optional |
//! | `severity` | str | one of [`SEVERITIES`] |
//! | `response` | Text | the public response; created empty at creation, edited by triagers |
//!
//! Log entries:
//!
//! - `edit` — the description was edited (by the reporter, a caretaker or staff);
//! - `response` — the public response was edited (by a caretaker, organiser or staff);
//! - `transition {to, reason?, of?, referred_to?}` — a workflow step (`to` is a status name);
//! - `me_too`, `me_too_withdraw` — a member's "me too" and its withdrawal;
//! - `responsible {party}` — the party responsible (empty `party` clears it);
//! - `photo {hash, mime, size, width, height}` — a reference to a photo (sha-256 of its bytes;
//!   the photo itself travels separately).
//!
//! # Workflow
//!
//! `reported → acknowledged → planned → in_progress → resolved`, then the reporter confirms
//! (`confirmed`, final) or reopens (`reopened`, which behaves exactly like `reported`).
//! `rejected` (reason required), `duplicate` (`of` another report, never itself) and `referred`
//! (`referred_to` the municipality or a contractor) are terminal. Skipping forward is allowed
//! (a caretaker may resolve a fresh report directly); going back is not.
//!
//! | from ＼ to | acknowledged | planned | in_progress | resolved | confirmed | reopened | rejected, duplicate, referred |
//! |---|---|---|---|---|---|---|---|
//! | reported, reopened | W | W | W | W | – | – | T |
//! | acknowledged | – | W | W | W | – | – | T |
//! | planned | – | – | W | W | – | – | T |
//! | in_progress | – | – | – | W | – | – | T |
//! | resolved | – | – | – | – | R | R, S | – |
//! | confirmed, rejected, duplicate, referred | – | – | – | – | – | – | – |
//!
//! W: a role with [`Action::WorkReport`](crate::model::Action::WorkReport) (caretaker, staff). T: a role with
//! [`Action::TriageReport`](crate::model::Action::TriageReport) (caretaker, organiser, staff), with the step's required field.
//! R: the reporter (the document's creator), whatever their role. S: staff.
//!
//! # The rules (every device computes them identically)
//!
//! - **Transitions** are replayed in `(at, by, id)` order through the table above, using the
//!   role each entry was written with (the relay verifies it). A transition that is not
//!   allowed at its place in that order — wrong state, wrong role, missing or malformed field —
//!   is ignored, and its author is told `transition_ignored`. A transition to the state the
//!   report is already in is redundant (what its author wanted already holds): ignored, no
//!   notice. A `to` this code does not know comes from a newer schema and is ignored silently.
//! - **Two workers disagree offline** (one resolves, one rejects): the earlier in the order
//!   applies; the later is no longer valid from the state it finds (nothing leaves `resolved`
//!   except confirm/reopen; nothing leaves `rejected`), so it is ignored and its author told.
//!   Every replica ends in the same state.
//! - **Me too**: each member's latest `me_too`/`me_too_withdraw` decides whether their
//!   "me too" is active; the reporter's own never counts; the count is the number of distinct
//!   members with an active one. The count does **not** depend on the workflow state, so a
//!   "me too" made offline while a caretaker resolved the report survives the merge: the
//!   report is resolved *and* the count went up, on every replica. On a resolved, rejected,
//!   duplicate or referred report a new "me too" is an "it is still there" signal and the API
//!   accepts it; only a `confirmed` report (the reporter agreed it is fixed) refuses new ones.
//! - **Responsible party**: the latest `responsible` entry by a triaging role wins.
//! - **Photos**: references by the reporter or a working/triaging role, with a valid hash,
//!   type and size, are kept in order; a hash already attached is kept once; at most
//!   [`MAX_PHOTOS`] (the first ones in the order).
//! - **Description and response** are `Text`: concurrent edits merge character by character,
//!   so two people typing offline both keep their words. Their `edit`/`response` entries only
//!   say who edited when (the latest in the order is shown).
//! - **Causal stamps** (`doc::next_at`): a new entry sorts after every entry its
//!   author's document already holds, so a confirm written after seeing a resolve replays
//!   after it even when the caretaker's phone clock runs ahead of the reporter's.

mod checks;
mod derive;
mod entry;
mod fields;
mod ops;
mod types;

pub use checks::*;
pub(crate) use derive::*;
pub use entry::*;
pub(crate) use fields::*;
pub(crate) use ops::*;
pub use types::*;

#[cfg(test)]
mod tests;
