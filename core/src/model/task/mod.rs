//! Ownership tasks: residents adopt the courtyard garden, the stairwell, the bench.
//!
//! A task has an *adopter* who looks after it and *backups* who take over when the adopter
//! steps back. It may recur (a [`Rule`](crate::model::rrule::Rule) on civil dates from `dtstart`, in the task's time
//! zone); each occurrence is recorded as done or skipped. A task in *pledge mode* waits until
//! enough households pledge to carry it before it starts.
//!
//! # Document (schema 1, `kind = "task"`)
//!
//! | key | type | notes |
//! |---|---|---|
//! | `title`, `description` | Text | merged character by character |
//! | `lat`, `lon` | f64? | an optional exact point ("the bench by the playground") |
//! | `location_label` | str | "Binnentuin blok C", may be empty |
//! | `rrule` | str? | the recurrence rule, canonical ([`Rule::to_rule_string`](crate::model::rrule::Rule::to_rule_string)); absent: one-off |
//! | `dtstart` | str? | `YYYY-MM-DD`: the series' start, or the one-off's date; required with `rrule` |
//! | `tz` | str | IANA time zone the dates live in (default `Europe/Amsterdam`) |
//! | `pledge_target` | int? | pledge mode: distinct households needed, `1..=100`; set at creation only |
//!
//! `rrule`, `dtstart` and `tz` are the schedule at creation. A later change of schedule is a log
//! entry (`schedule`, below), never an overwrite of these fields, so every occurrence is checked
//! against the schedule that was in force at its place in the log.
//!
//! Log entries (besides the common `{t, by, role, at}`):
//!
//! | `t` | fields | who |
//! |---|---|---|
//! | `claim` | `as`: `adopter` or `backup` (what the claimant saw when claiming) | anyone, for themself |
//! | `release` | | a member who is in, for themself |
//! | `pledge` | `household`: the pledger's household label (member id when they have none) | anyone, for themself |
//! | `unpledge` | | a pledger, for themself |
//! | `occurrence` | `date` (`YYYY-MM-DD`), `outcome` (`done` or `skipped`), `note` | adopter, backup, or [`Action::ManageTask`](crate::model::Action::ManageTask) |
//! | `pause`, `resume` | | adopter, or [`Action::ManageTask`](crate::model::Action::ManageTask) |
//! | `check_add` | `text`; the entry id is the item id | creator, adopter, backup, or [`Action::ManageTask`](crate::model::Action::ManageTask) |
//! | `check_remove` | `item` | as `check_add` |
//! | `schedule` | `rrule` (empty: one-off), `dtstart` (empty: undated), `tz` | creator, or [`Action::ManageTask`](crate::model::Action::ManageTask) |
//!
//! # The rule (every device computes it identically)
//!
//! Entries are replayed in `(at, by, id)` order; an entry that is not valid at its place in
//! that order is ignored, and whoever it concerned is told where that helps (a [`Notice`](crate::model::Notice)).
//! An entry's `at` is at least 1 ms after every entry its device had seen (`doc::next_at`),
//! so what someone did *after seeing* another action sorts after it, whatever the clocks say.
//!
//! - **Adopter and backups.** For each member, their latest `claim`/`release` decides whether
//!   they are *in*. The members who are in are ordered by the `at` of the claim that brought
//!   them in (tie: member id, then entry id — exactly the log order); the first is the adopter,
//!   the rest are the backups in that order. A claim by a member who is already in changes
//!   nothing (they keep their place). So when two people claim a task offline, every device
//!   shows the earlier claimant as adopter and the other as first backup, and the other is told
//!   `claim_lost` ("… claimed it first; you are first backup") — unless they claimed knowing
//!   there was an adopter already (`as = backup`: "join as backup"). When the adopter releases,
//!   the first backup becomes adopter (hand-over) and is told `now_adopter`. Claims on a
//!   finished task are ignored.
//! - **Pledge mode.** Each member's latest `pledge`/`unpledge` decides whether they pledge; a
//!   pledge counts for the household label it carries, so two members of one household count
//!   once. The task is `pledging` until, at some point in the log, `pledge_target` distinct
//!   households pledge at once; from then on it has *started* and stays started even when
//!   pledges are withdrawn later (people already count on it). Claims are allowed at any time,
//!   also while pledging (status stays `pledging` until the target is met); recording
//!   occurrences is not (the task has not started). Without a `pledge_target`, pledges are
//!   ignored.
//! - **Occurrences.** An `occurrence` entry counts when, at its place in the log, the task is
//!   not pledging, its author is the adopter or a backup or has [`Action::ManageTask`](crate::model::Action::ManageTask), its
//!   date is an occurrence of the schedule in force then (the rule's dates; a dated one-off's
//!   `dtstart`; any date for an undated one-off) and that date is not after the day of the
//!   entry's `at` in the task's time zone. Otherwise it is ignored and its author is told
//!   `occurrence_ignored`. For one date, **done beats skipped** (someone actually did it),
//!   whatever their order; among equal outcomes the first stands. A skip overruled by a done
//!   tells the skipper `skip_overruled`.
//! - **Pause / resume**: by the adopter at that point or by [`Action::ManageTask`](crate::model::Action::ManageTask); the latest
//!   valid one wins.
//! - **Schedule**: the latest valid `schedule` entry (by the creator or [`Action::ManageTask`](crate::model::Action::ManageTask),
//!   with a valid rule, date and time zone) is in force from its place on.
//! - **Checklist**: items are `check_add` entries in log order, minus `check_remove`d ones
//!   (at most [`MAX_CHECKLIST`] items; further adds are ignored).
//!
//! **Next open occurrence** (`next_open`): the first occurrence strictly after the latest
//! recorded occurrence date, or the first on or after `dtstart` when none is recorded — so
//! occurrences missed before a recorded one are passed over, not piled up. A dated one-off's
//! only occurrence is open until a date on or after it is recorded; an undated one-off has none.
//!
//! **Status** (clock-free, stored): `finished` when the schedule has no next open occurrence
//! any more (the rule ended and its last occurrence is recorded; a one-off is recorded);
//! otherwise `pledging` while the pledge target is unmet; otherwise `paused`; otherwise
//! `unadopted` (no adopter; `needs_response`) or `active`.
//!
//! **Due and overdue are not stored**: the projection sets `due_at` to the start of
//! `next_open`'s day in the task's time zone and `overdue_at` to the start of the day
//! [`Rule::grace_days`](crate::model::rrule::Rule::grace_days) calendar days later (a one-off: 1 day), both only while the status is
//! `active` or `unadopted`; the list queries compare them with the clock. Days are calendar
//! days in the task's zone, so a week with a daylight-saving change still starts and ends at
//! local midnight.

mod derive;
mod entry;
mod fields;
mod ops;
mod schedule;
mod types;

pub(crate) use derive::*;
pub use entry::*;
pub(crate) use fields::*;
pub(crate) use ops::*;
pub use schedule::*;
pub use types::*;

#[cfg(test)]
mod tests;
