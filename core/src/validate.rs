//! What a relay accepts: the write rules of Noaber documents, checked on one pushed change.
//!
//! A relay passes every change a member pushes to every other member of the buurt. A change it
//! accepts can never be taken back (other devices merge it for good), so the relay refuses
//! anything the pusher was not allowed to write. The domain rules live here, in core, beside the
//! documents they protect; the relay only calls [`check_bounds`] on the bytes it received, decodes
//! them with [`automerge::Change::from_bytes`], and calls [`check_change`] with its own copy of
//! the document.
//!
//! # What derivation already handles, and what only the relay can
//!
//! Every kind's `derive` replays the `log` and **ignores entries whose recorded `role` may not
//! take their action** (a resident's `cancel` of an event, a resident's `transition` to
//! `resolved`), and entries that are not valid at their place in the order. So the relay does
//! not re-check workflows. What derivation cannot check is whether the *recorded* facts are
//! true: that `by` is the member who wrote the entry and `role` their role, that nobody rewrote
//! someone else's entry or comment, that root fields (which are not entries) were edited only by
//! those allowed to, and that a new document was created by someone allowed to create it. That
//! is this module.
//!
//! # The rules (each one tested below)
//!
//! | # | what | rule | refused with |
//! |---|---|---|---|
//! | 0 | the bytes ([`check_bounds`]) | at most `max_bytes`; an Automerge change chunk (type 1) or compressed change chunk (type 2) whose length field matches the bytes; a compressed body inflates to at most `max_inflated` bytes | `too_large`, `bad_change` |
//! | 1 | the actor | the change's actor is one of the pusher's device actors | `actor_not_yours` |
//! | 2 | dependencies | every dependency is in the relay's document (a new document's first change has none) | `missing_dependencies` |
//! | 3 | applying | the change applies to the document (a copy with [`check_change`]; the relay's cached copy with [`check_and_apply`], dropped on refusal), is new, and does not make Automerge fail | `bad_change` |
//! | 4 | creation | a document the relay has never seen must end up with `schema` (int ≥ 1), a known `kind`, `created_at`, `log` and `comments` maps (else `bad_change`); `id` equal to the entity it was pushed for (else `wrong_document`); `created_by`/`created_role` equal to the pusher and their role (else `forged_entry`); and the pusher's role must be allowed to create that kind (`CreateHelp`, `CreateEvent`, `CreateTask`, `CreateReport`; a profile anyone, for themself) | `bad_change`, `wrong_document`, `forged_entry`, `not_allowed` |
//! | 5 | header | after creation, `schema`, `audience`, `kind`, `id`, `created_by`, `created_role`, `created_at` and the `log` and `comments` containers themselves never change | `immutable` |
//! | 6 | new log entries | a new key in `log` holds a map whose `by` is the pusher and whose `role` is the pusher's role (`forged_entry`); with [`Pusher::not_after`] set, its `at` is an integer in `0..=not_after` (`bad_time`: a far-future `at` would sort after everything for as long as it lasts). Back-dating within an offline phone's plausible window cannot be told from honest offline work and is not refused | `forged_entry`, `bad_time` |
//! | 7 | existing log entries | are never changed or deleted, not even by their author | `immutable` |
//! | 8 | new comments | a new key in `comments` holds a map whose `author` is the pusher (`forged_entry`), with an `at` bounded as for entries (`bad_time`) | `forged_entry`, `bad_time` |
//! | 9 | existing comments | only their author changes them; never their `author` or `at`; never replaced or deleted; `withdrawn` only ever set to `true` | `not_allowed`, `immutable` |
//! | 10 | root kind fields | see the table below | `not_allowed`, `immutable` |
//! | 11 | reading | a document of a restricted [`crate::audience`] is written only by its readers (as they were before the change); a new document's `audience`, if any, is one this code knows (`bad_change`) | `not_allowed`, `bad_change` |
//! | 12 | the rest | accepted | |
//!
//! Root kind fields, by kind ("creator" is the document's `created_by`). Each kind's table is
//! `FIELDS` in `model/<kind>/fields.rs`, read here through `model::fields` and by the kind's
//! operations before they write a field, so an honest device and the relay decide alike
//! (tested as a matrix, `field_tables_decide_for_operations_and_relay_alike`):
//!
//! | kind | field | who may write it after creation |
//! |---|---|---|
//! | help | `title`, `body` | the creator (requester), or [`Action::MatchHelpForOthers`](crate::model::Action::MatchHelpForOthers) |
//! | help | `mode`, `category`, `urgency`, `window_start`, `window_end`, `precision`, `location_label` | nobody: set at creation only (`immutable`) |
//! | event | `title`, `description`, `starts_at`, `ends_at`, `place`, `lat`, `lon`, `capacity` | the creator, or [`Action::ManageEvent`](crate::model::Action::ManageEvent) |
//! | task | `title`, `description`, `location_label`, `lat`, `lon` | the creator, or [`Action::ManageTask`](crate::model::Action::ManageTask) |
//! | task | `rrule`, `dtstart`, `tz`, `pledge_target` | nobody: set at creation only (a schedule change is a `schedule` entry) |
//! | report | `description` | the creator (reporter), or [`Action::WorkReport`](crate::model::Action::WorkReport) |
//! | report | `response` | [`Action::TriageReport`](crate::model::Action::TriageReport) |
//! | report | `category`, `lat`, `lon`, `complex`, `floor`, `stairwell`, `severity` | nobody: set at creation only |
//! | profile | `display_name`, `household`, `availability` | the creator only |
//! | any | a key this schema does not know (a newer schema's field) | as the kind's editors: help, event, task as their `title`; report and profile the creator |
//!
//! The "set at creation only" rows follow each kind's own API, which is stricter than "the
//! creator may edit anything": no operation edits those fields after creation, so no honest
//! device ever writes them and the relay refuses a change that does. Editors also may not
//! *replace* a container (a `Text`) that already exists at a root key (`immutable`): a second
//! device's concurrent edits of the old one would be hidden (containers are created only in
//! the creation change, see `doc.rs`).
//!
//! # How a change is inspected
//!
//! The change is applied to a clone of the relay's document (`AutoCommit` is `Clone`, so the
//! relay's copy is only borrowed). Then **every operation** of the change is located — the
//! keys from the root to the object it writes, and the key it writes — and each location is
//! checked against the rules above. Operations are checked, not only what the change visibly
//! did: a write that loses a conflict on a key that was already in conflict leaves no trace in
//! a diff, yet it surfaces as soon as someone who had not seen it deletes the values that hid
//! it (an organiser removing `capacity` would unveil a resident's hidden `capacity`; the test
//! `a_hidden_write_that_loses_a_conflict_is_still_refused` shows it). As a second line, every
//! patch of `AutoCommit::diff(before, after)` is checked by the same rules, so a visible effect
//! cannot slip through a mistake in locating operations. Finally the state after the change is
//! read to check what new entries, new comments and a new header say, all their values
//! included (a right `by` winning over a hidden wrong one is still forged).
//!
//! Rejections carry a stable [`Rejection::code`] (one of [`REJECTION_CODES`]) and a lowercase
//! reason that names fields of the schema but never text from the change (keys and values
//! written by a hostile peer are never echoed).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};

use automerge::{ActorId, AutoCommit, Change, ChangeHash, ObjType, ROOT, ReadDoc};

use crate::audience;
use crate::doc;
use crate::ids::{EntityId, MemberId};
use crate::model::Role;

mod bytes;
mod locate;
mod rules;
pub(crate) mod work;

pub use bytes::check_bounds;
use bytes::*;
use locate::*;
use rules::*;
pub use work::Work;

const BAD_CHANGE: &str = "bad_change";
const TOO_LARGE: &str = "too_large";
const ACTOR_NOT_YOURS: &str = "actor_not_yours";
const MISSING_DEPENDENCIES: &str = "missing_dependencies";
const NOT_ALLOWED: &str = "not_allowed";
const FORGED_ENTRY: &str = "forged_entry";
const IMMUTABLE: &str = "immutable";
const WRONG_DOCUMENT: &str = "wrong_document";
const BAD_TIME: &str = "bad_time";

/// Every code a [`Rejection`] may carry. Stable: relays and apps match on them.
///
/// - `bad_change`: the bytes are not one well-formed, new, applicable change (or a new document
///   lacks its header);
/// - `too_large`: the bytes, or what they inflate to, exceed the relay's limits;
/// - `actor_not_yours`: the change was written by a device actor the pusher does not own;
/// - `missing_dependencies`: the change builds on changes the relay does not have;
/// - `not_allowed`: the pusher's role or relation does not allow the write;
/// - `forged_entry`: an entry, comment or new document claims another author or role;
/// - `immutable`: the change rewrites what never changes (header, existing entries, ...);
/// - `wrong_document`: the change belongs to another document than it was pushed for.
pub const REJECTION_CODES: &[&str] = &[
    BAD_CHANGE,
    TOO_LARGE,
    ACTOR_NOT_YOURS,
    MISSING_DEPENDENCIES,
    NOT_ALLOWED,
    FORGED_ENTRY,
    IMMUTABLE,
    WRONG_DOCUMENT,
    BAD_TIME,
];

/// Who pushed a change, as the relay knows them (never as the change claims).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pusher {
    /// The member, as authenticated by the relay.
    pub member: MemberId,
    /// Their role in the buurt, as the relay records it.
    pub role: Role,
    /// The Automerge actor ids of the member's devices.
    pub actors: Vec<ActorId>,
    /// The latest `at` a new entry may carry (the relay's clock plus an allowance for a
    /// phone's wrong clock); `None` leaves times unchecked. Entries are ordered by `at`, so a
    /// far-future `at` would sort after everything anyone writes for as long as it lasts.
    pub not_after: Option<i64>,
    /// The earliest `created_at` a new document may carry (the relay's clock minus how long a
    /// device may plausibly have been offline); `None` leaves it unchecked. With
    /// [`Pusher::not_after`] it bounds `created_at` on both sides: documents are listed by
    /// it, so a request dated in year 9999 would top every list for ever.
    pub created_not_before: Option<i64>,
}

/// Why a change was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// A stable machine code, one of [`REJECTION_CODES`].
    pub code: &'static str,
    /// A lowercase sentence for logs and developers; names schema fields, never user text.
    pub reason: String,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.reason)
    }
}

impl std::error::Error for Rejection {}

fn reject(code: &'static str, reason: impl Into<String>) -> Rejection {
    Rejection {
        code,
        reason: reason.into(),
    }
}

// ---------------------------------------------------------------------------------------------
// Changes

/// Checks one decoded change against the relay's current copy of its document, by the rules in
/// the module docs. `doc` is `None` when the relay has never seen the document: the change must
/// then create it. `entity` is the document id the change was pushed for. The change is applied
/// to a clone: `doc` is never modified, and the caller applies the change itself once accepted.
/// Never panics: Automerge 0.12 panics on some forged changes, which are refused as
/// `bad_change`.
///
/// # Errors
///
/// A [`Rejection`] whose code says which rule the change breaks (see [`REJECTION_CODES`]).
pub fn check_change(
    doc: Option<&AutoCommit>,
    entity: &EntityId,
    change: &Change,
    pusher: &Pusher,
) -> Result<(), Rejection> {
    if !pusher.actors.contains(change.actor_id()) {
        return Err(reject(
            ACTOR_NOT_YOURS,
            "the change was written by a device actor the pusher does not own",
        ));
    }
    let mut fork = doc.cloned().unwrap_or_default();
    check_and_apply(&mut fork, entity, change, pusher)
}

/// [`check_change`] without the copy: checks `change` by applying it to `doc` itself, which
/// costs nothing extra when the change is accepted (the common case) — copying a large
/// document for every change made validation quadratic in the document's history.
///
/// On `Ok` the change has been applied to `doc`. On `Err` the change may or may not have been
/// applied: the caller must discard `doc` (reload it from what it stored).
///
/// # Errors
///
/// As [`check_change`].
pub fn check_and_apply(
    doc: &mut AutoCommit,
    entity: &EntityId,
    change: &Change,
    pusher: &Pusher,
) -> Result<(), Rejection> {
    if !pusher.actors.contains(change.actor_id()) {
        return Err(reject(
            ACTOR_NOT_YOURS,
            "the change was written by a device actor the pusher does not own",
        ));
    }
    match catch_unwind(AssertUnwindSafe(|| inspect(doc, entity, change, pusher))) {
        Ok(result) => result,
        Err(_) => Err(reject(
            BAD_CHANGE,
            "the change made the document library fail",
        )),
    }
}

/// Rules 2 to 10, applying the change to `fork`.
fn inspect(
    fork: &mut AutoCommit,
    entity: &EntityId,
    change: &Change,
    pusher: &Pusher,
) -> Result<(), Rejection> {
    for dep in change.deps() {
        if fork.get_change_by_hash(dep).is_none() {
            return Err(reject(
                MISSING_DEPENDENCIES,
                format!("dependency {dep} of the change is not in the document"),
            ));
        }
    }
    let hash = change.hash();
    if fork.get_change_by_hash(&hash).is_some() {
        return Err(reject(BAD_CHANGE, "the change is already in the document"));
    }
    let before_heads = fork.get_heads();
    let before = Before::read(fork, entity)?;
    if before.header.is_none() && !before_heads.is_empty() {
        // Only an empty document may be created; one whose header is unreadable is refused
        // rather than treated as new (which would let anyone rewrite its header).
        return Err(reject(
            BAD_CHANGE,
            "the document has changes but no readable header",
        ));
    }
    if before.header.is_some() {
        // Rule 11: a restricted document is written only by its readers.
        let readers = audience::readers(fork);
        if !readers.may_read(&pusher.member, pusher.role) {
            return Err(reject(
                NOT_ALLOWED,
                "the document is not shared with the pusher",
            ));
        }
    }
    // Rules 6 and 8: what the change's author had seen, read before the change is applied.
    let latest_seen = latest_entry_at(fork, change.deps(), &before_heads);
    fork.apply_changes([change.clone()])
        .map_err(|_| reject(BAD_CHANGE, "the change cannot be applied to the document"))?;
    if fork.get_change_by_hash(&hash).is_none() {
        return Err(reject(
            BAD_CHANGE,
            "the change was not applied to the document",
        ));
    }
    let after_heads = fork.get_heads();

    if before.header.is_none() {
        check_creation(fork, entity, pusher)?;
    }
    let mut rules = Rules {
        before: &before,
        pusher,
        new_entries: BTreeSet::new(),
        new_comments: BTreeSet::new(),
        floor: Floor {
            created_at: doc::get_i64(fork, &ROOT, "created_at"),
            latest_seen,
        },
    };
    let mut paths = HashMap::new();
    for op in &change.decode().operations {
        let touch = locate_op(fork, op, &mut paths)?;
        rules.check(&touch)?;
    }
    for patch in fork.diff(&before_heads, &after_heads) {
        rules.check(&locate_patch(&patch))?;
    }
    rules.check_new_entries(fork)?;
    rules.check_new_comments(fork)
}

/// The latest `at` of the entries in the document as it was at `deps` (the state the change
/// was written on), read as every device reads entries ([`doc::entries`]); `None` without
/// entries there. Entries never change once written, so each one's `at` now is its `at` then;
/// only which of them `deps` include needs the history. `heads` are the document's current
/// heads: when the change builds on all of them (a device that is up to date, the common case)
/// every entry counts and no history is read.
fn latest_entry_at(d: &AutoCommit, deps: &[ChangeHash], heads: &[ChangeHash]) -> Option<i64> {
    let entries = doc::entries(d);
    let mut sorted_deps = deps.to_vec();
    sorted_deps.sort();
    let mut sorted_heads = heads.to_vec();
    sorted_heads.sort();
    if sorted_deps == sorted_heads {
        return entries.iter().map(|e| e.at).max();
    }
    let log = doc::get_obj(d, &ROOT, "log", ObjType::Map)?;
    let seen: HashSet<String> = d.keys_at(&log, deps).collect();
    entries
        .iter()
        .filter(|e| seen.contains(&e.id))
        .map(|e| e.at)
        .max()
}

#[cfg(test)]
mod tests;
