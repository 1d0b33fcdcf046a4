//! Buurt events: RSVPs with a capacity and a waitlist, volunteer roles and shifts.
//!
//! # Document (schema 1, `kind = "event"`)
//!
//! | key | type | notes |
//! |---|---|---|
//! | `title`, `description` | Text | merged character by character |
//! | `starts_at`, `ends_at` | int | ms; always written together, `ends_at >= starts_at` |
//! | `place` | str | the place label ("Buurthuis De Schakel") |
//! | `lat`, `lon` | f64? | optional exact point; written (or deleted) together |
//! | `capacity` | int? | `1..=100000`; absent means unlimited |
//!
//! The fields are edited by organisers, staff and the event's creator; scalars are
//! last-writer-wins. A field that reads back out of range (a hostile or buggy peer) is treated
//! as absent (`capacity`, point) or clamped (`ends_at` to `starts_at`).
//!
//! Log entries:
//!
//! | entry | fields | who |
//! |---|---|---|
//! | `rsvp` | `status` (`going`, `maybe`, `declined`), `seen` (`confirmed`, `waitlisted`; going only) | any member, for themself |
//! | `add_role` | `name`, `description` | organiser, staff — the entry id is the role id |
//! | `add_shift` | `role_id`, `starts_at`, `ends_at`, `needed` (`1..=1000`) | organiser, staff — the entry id is the shift id |
//! | `signup`, `unsignup` | `shift` | any member, for themself |
//! | `cancel` | `reason` | organiser, staff |
//!
//! (`t`, `by`, `role`, `at` are the keys every entry has, see `crate::doc`; so a shift names
//! its volunteer role as `role_id`.)
//!
//! `seen` records what the writer's own device showed when it said "going" (a place, or a
//! waitlist position); it only decides which notice the writer gets, never who has a place.
//!
//! # The rules (every device computes them identically)
//!
//! Entries are replayed in `(at, by, id)` order. An entry that is not valid at its place in
//! that order is ignored.
//!
//! - **Answers.** A member's answer is their latest `rsvp` entry. Each member writes only their
//!   own (entries carry `by`; the API always writes the local member, the relay checks it).
//! - **Waitlist.** The members whose answer is `going` queue by the `rsvp` entry that *made*
//!   them going — the first `going` of their current unbroken run of `going` answers, so saying
//!   `going` twice (two devices of one member) keeps the place, while going → maybe → going
//!   goes to the back. The queue is ordered by that entry's `(at, member id, entry id)`. The
//!   first `capacity` members are confirmed; the rest are waitlisted, in queue order. A
//!   decline (or maybe) of a confirmed member therefore promotes the first on the waitlist.
//! - **Racing for the last place.** Two members who both took the last place offline end up,
//!   on every device, with the earlier `going` entry confirmed and the later one waitlisted.
//!   Notices: every waitlisted member gets `waitlisted` ("number N on the waitlist"); one whose
//!   own device had shown them a place (`seen = confirmed`) also gets `bumped`. A confirmed
//!   member who was waitlisted when they said going — by their own device (`seen =
//!   waitlisted`) or in the replay (the queue was full when their entry came) — gets
//!   `promoted`.
//! - **Capacity** is a last-writer-wins field, not an entry: changing it re-derives the whole
//!   waitlist with the new capacity (lowering it waitlists the latest confirmed members, who are
//!   told `bumped`; raising it confirms the first waitlisted, who are told `promoted`).
//! - **Cancel.** The first valid `cancel` in the order stands; every `rsvp`, `add_role`,
//!   `add_shift`, `signup` and `unsignup` after it is ignored, so answers and sign-ups are
//!   frozen as they were at the cancel. Confirmed and waitlisted members, volunteers, and
//!   members whose `going`/`maybe` or sign-up came after the cancel are told
//!   `event_cancelled`. Locally, answering or signing up for a cancelled event is refused.
//! - **Roles and shifts** are sets: every valid `add_role`/`add_shift` before the cancel counts,
//!   whatever its place relative to other entries (so a shift written on a device whose clock
//!   is behind the role's device still finds its role, and a sign-up still finds its shift).
//! - **Shift sign-ups.** A member's latest `signup`/`unsignup` for a shift decides whether
//!   they are signed up. Signed-up members queue by the entry that made them signed up (as for
//!   the waitlist); the first `needed` are *on*, the rest *reserve* (told `shift_reserve` with
//!   their position). Coverage is, over all shifts, the places filled (capped at each shift's
//!   need) divided by the places needed.
//! - Status is `upcoming` or `cancelled`. "Past" is not stored: lists compare `starts_at` and
//!   `ends_at` with their own clock.

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
