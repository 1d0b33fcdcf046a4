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

use std::collections::{BTreeMap, BTreeSet};

use automerge::{AutoCommit, ROOT, ReadDoc};
use serde::Serialize;

use crate::doc::{self, Entry, Field};
use crate::error::{Error, Result};
use crate::ids::{EntityId, MemberId};
use crate::model::{
    Action, Ctx, Detail, Kind, Notice, NoticeCode, Participant, Projection, Relation, allowed,
    require,
};

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

/// Allowed capacities (number of confirmed places).
pub const CAPACITY: std::ops::RangeInclusive<i64> = 1..=100_000;
/// Allowed number of volunteers a shift needs.
pub const NEEDED: std::ops::RangeInclusive<i64> = 1..=1_000;
/// Allowed times, ms since the epoch (1970 up to the end of the year 9999).
pub const TIMES: std::ops::RangeInclusive<i64> = 0..=253_402_300_799_999;
/// Most volunteer roles one event may have.
pub const MAX_ROLES: usize = 100;
/// Most shifts one event may have.
pub const MAX_SHIFTS: usize = 500;

const MAX_TITLE: usize = 200;
const MAX_DESCRIPTION: usize = 5_000;
const MAX_PLACE: usize = 120;
const MAX_ROLE_NAME: usize = 80;
const MAX_ROLE_DESCRIPTION: usize = 1_000;
const MAX_REASON: usize = 2_000;

const SEEN_CONFIRMED: &str = "confirmed";
const SEEN_WAITLISTED: &str = "waitlisted";

/// What a new event says.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// A short title.
    pub title: String,
    /// Details (may be empty).
    pub description: String,
    /// Start, ms since the epoch.
    pub starts_at: i64,
    /// End, ms since the epoch; not before `starts_at`.
    pub ends_at: i64,
    /// Where: a label ("Buurthuis De Schakel").
    pub place: String,
    /// Optional exact point, `(lat, lon)`.
    pub point: Option<(f64, f64)>,
    /// Confirmed places (`1..=100000`); `None` is unlimited.
    pub capacity: Option<i64>,
    /// Who reads it ([`crate::audience`]); the whole buurt unless chosen otherwise.
    pub audience: crate::audience::Audience,
}

impl NewEvent {
    /// An event with no description, point or capacity.
    pub fn new(title: &str, place: &str, starts_at: i64, ends_at: i64) -> Self {
        NewEvent {
            audience: crate::audience::Audience::Buurt,
            title: title.to_owned(),
            description: String::new(),
            starts_at,
            ends_at,
            place: place.to_owned(),
            point: None,
            capacity: None,
        }
    }
}

/// An edit of an event's fields; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventEdit {
    /// New title.
    pub title: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New place label.
    pub place: Option<String>,
    /// New point: `Some(None)` removes it.
    pub point: Option<Option<(f64, f64)>>,
    /// New start (the end must still not be before it).
    pub starts_at: Option<i64>,
    /// New end.
    pub ends_at: Option<i64>,
    /// New capacity: `Some(None)` makes it unlimited. Re-derives the waitlist.
    pub capacity: Option<Option<i64>>,
}

/// A member's answer to an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rsvp {
    /// Coming (confirmed or waitlisted, by the waitlist rule).
    Going,
    /// Perhaps.
    Maybe,
    /// Not coming.
    Declined,
}

impl Rsvp {
    /// The name used in documents and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            Rsvp::Going => "going",
            Rsvp::Maybe => "maybe",
            Rsvp::Declined => "declined",
        }
    }

    /// Parses [`Rsvp::as_str`]'s output.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for anything else.
    pub fn parse(s: &str) -> Result<Rsvp> {
        [Rsvp::Going, Rsvp::Maybe, Rsvp::Declined]
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| Error::invalid("rsvp", format!("`{s}` is not going, maybe or declined")))
    }
}

/// Derived status of an event ("past" is not a status: compare the times with a clock).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventStatus {
    /// Not cancelled.
    Upcoming,
    /// Cancelled by an organiser.
    Cancelled,
}

impl EventStatus {
    /// Status name as stored in projections.
    pub fn as_str(self) -> &'static str {
        match self {
            EventStatus::Upcoming => "upcoming",
            EventStatus::Cancelled => "cancelled",
        }
    }
}

/// A member and the time their current answer took effect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attendee {
    /// The member.
    pub member: MemberId,
    /// For `going`: when they became going (their queue position); otherwise their latest
    /// answer's time.
    pub since: i64,
}

/// Where a member stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "answer", rename_all = "snake_case")]
pub enum Attendance {
    /// Has a place; `place` is 1-based in the confirmed order.
    Going {
        /// 1-based position among the confirmed.
        place: usize,
    },
    /// Going, but waiting for a place.
    Waitlisted {
        /// 1-based position on the waitlist.
        position: usize,
    },
    /// Answered maybe.
    Maybe,
    /// Declined.
    Declined,
    /// Has not answered.
    NoAnswer,
}

/// A volunteer role ("bar", "opbouw").
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VolunteerRole {
    /// The role id (the id of its `add_role` entry).
    pub id: String,
    /// Name.
    pub name: String,
    /// What the volunteer does.
    pub description: String,
}

/// A member's place in one shift.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "slot", rename_all = "snake_case")]
pub enum ShiftSlot {
    /// Among the first `needed` sign-ups.
    On,
    /// Signed up beyond the need; `position` is 1-based among the reserves.
    Reserve {
        /// 1-based position among the reserves.
        position: usize,
    },
}

/// A shift of a volunteer role, with who is on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Shift {
    /// The shift id (the id of its `add_shift` entry).
    pub id: String,
    /// The role id.
    pub role: String,
    /// Start, ms.
    pub starts_at: i64,
    /// End, ms.
    pub ends_at: i64,
    /// Volunteers needed.
    pub needed: i64,
    /// The first `needed` sign-ups, in order.
    pub on: Vec<MemberId>,
    /// Further sign-ups, in order.
    pub reserve: Vec<MemberId>,
}

impl Shift {
    /// Places filled (at most `needed`).
    pub fn filled(&self) -> i64 {
        i64::try_from(self.on.len())
            .unwrap_or(i64::MAX)
            .min(self.needed)
    }

    /// Whether the shift needs more volunteers.
    pub fn is_short(&self) -> bool {
        self.filled() < self.needed
    }

    /// Where `member` stands on this shift, if signed up.
    pub fn slot_of(&self, member: &MemberId) -> Option<ShiftSlot> {
        if self.on.contains(member) {
            return Some(ShiftSlot::On);
        }
        let i = self.reserve.iter().position(|m| m == member)?;
        Some(ShiftSlot::Reserve {
            position: i.saturating_add(1),
        })
    }
}

/// Everything a screen shows about one event, derived from its document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventView {
    /// Entity id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Start, ms.
    pub starts_at: i64,
    /// End, ms.
    pub ends_at: i64,
    /// Place label.
    pub place: String,
    /// Latitude, if a point is set.
    pub lat: Option<f64>,
    /// Longitude, if a point is set.
    pub lon: Option<f64>,
    /// Confirmed places; `None` is unlimited.
    pub capacity: Option<i64>,
    /// The creator.
    pub creator: MemberId,
    /// Created at.
    pub created_at: i64,
    /// Last activity.
    pub updated_at: i64,
    /// Derived status.
    pub status: EventStatus,
    /// When it was cancelled (the standing `cancel` entry's time).
    pub cancelled_at: Option<i64>,
    /// The cancel reason, if given.
    pub cancel_reason: Option<String>,
    /// Confirmed members, in queue order.
    pub confirmed: Vec<Attendee>,
    /// Waitlisted members, in queue order (first gets the next place).
    pub waitlist: Vec<Attendee>,
    /// Members who answered maybe, by member id.
    pub maybe: Vec<Attendee>,
    /// Members who declined, by member id.
    pub declined: Vec<Attendee>,
    /// Volunteer roles, in the order they were added.
    pub roles: Vec<VolunteerRole>,
    /// Shifts, by start time (then id).
    pub shifts: Vec<Shift>,
    /// Volunteers needed over all shifts.
    pub shifts_needed: i64,
    /// Volunteer places filled, capped per shift at its need.
    pub shifts_filled: i64,
    /// What members should be told.
    pub notices: Vec<Notice>,
}

impl EventView {
    /// Where `member` stands (use the local member's id to find one's own place).
    pub fn attendance(&self, member: &MemberId) -> Attendance {
        if let Some(i) = self.confirmed.iter().position(|a| &a.member == member) {
            return Attendance::Going {
                place: i.saturating_add(1),
            };
        }
        if let Some(i) = self.waitlist.iter().position(|a| &a.member == member) {
            return Attendance::Waitlisted {
                position: i.saturating_add(1),
            };
        }
        if self.maybe.iter().any(|a| &a.member == member) {
            return Attendance::Maybe;
        }
        if self.declined.iter().any(|a| &a.member == member) {
            return Attendance::Declined;
        }
        Attendance::NoAnswer
    }

    /// The current answer of `member`, if any.
    pub fn rsvp_of(&self, member: &MemberId) -> Option<Rsvp> {
        match self.attendance(member) {
            Attendance::Going { .. } | Attendance::Waitlisted { .. } => Some(Rsvp::Going),
            Attendance::Maybe => Some(Rsvp::Maybe),
            Attendance::Declined => Some(Rsvp::Declined),
            Attendance::NoAnswer => None,
        }
    }

    /// Volunteer coverage, `shifts_filled / shifts_needed` in `0.0..=1.0`; `None` without
    /// shifts.
    pub fn coverage(&self) -> Option<f64> {
        (self.shifts_needed > 0).then(|| self.shifts_filled as f64 / self.shifts_needed as f64)
    }

    /// The shift with this id.
    pub fn shift(&self, id: &str) -> Option<&Shift> {
        self.shifts.iter().find(|s| s.id == id)
    }

    fn may_edit(&self, ctx: &Ctx) -> bool {
        allowed(Action::ManageEvent, ctx.role) || ctx.member == self.creator
    }
}

// ---------------------------------------------------------------------------------------------
// Validation

fn check_time(field: &'static str, v: i64) -> Result<()> {
    if TIMES.contains(&v) {
        Ok(())
    } else {
        Err(Error::invalid(
            field,
            format!("{v} is not a time between 1970 and 9999"),
        ))
    }
}

fn check_times(starts_at: i64, ends_at: i64) -> Result<()> {
    check_time("starts_at", starts_at)?;
    check_time("ends_at", ends_at)?;
    if ends_at < starts_at {
        return Err(Error::invalid("ends_at", "is before `starts_at`"));
    }
    Ok(())
}

fn check_capacity(capacity: Option<i64>) -> Result<()> {
    match capacity {
        Some(c) if !CAPACITY.contains(&c) => Err(Error::invalid(
            "capacity",
            format!(
                "{c} is not between {} and {}",
                CAPACITY.start(),
                CAPACITY.end()
            ),
        )),
        _ => Ok(()),
    }
}

fn check_needed(needed: i64) -> Result<()> {
    if NEEDED.contains(&needed) {
        Ok(())
    } else {
        Err(Error::invalid(
            "needed",
            format!(
                "{needed} is not between {} and {}",
                NEEDED.start(),
                NEEDED.end()
            ),
        ))
    }
}

fn put_point(doc: &mut AutoCommit, point: Option<(f64, f64)>) -> Result<()> {
    if let Some((lat, lon)) = point {
        doc::check_point(lat, lon)?;
    }
    doc::put_opt(doc, &ROOT, "lat", point.map(|p| Field::F64(p.0)))?;
    doc::put_opt(doc, &ROOT, "lon", point.map(|p| Field::F64(p.1)))?;
    Ok(())
}

/// Writes a new event into an empty document.
pub(crate) fn create(doc: &mut AutoCommit, id: &EntityId, ctx: &Ctx, new: &NewEvent) -> Result<()> {
    require(ctx, Action::CreateEvent)?;
    let title = doc::require_text("title", &new.title, MAX_TITLE)?;
    doc::check_len("description", &new.description, MAX_DESCRIPTION)?;
    let place = doc::require_text("place", &new.place, MAX_PLACE)?;
    check_times(new.starts_at, new.ends_at)?;
    if let Some((lat, lon)) = new.point {
        doc::check_point(lat, lon)?;
    }
    check_capacity(new.capacity)?;
    doc::init(doc, Kind::Event, id, ctx)?;
    crate::audience::init(doc, new.audience)?;
    doc::set_text(doc, &ROOT, "title", &title)?;
    doc::set_text(doc, &ROOT, "description", new.description.trim())?;
    doc::put(doc, &ROOT, "starts_at", new.starts_at)?;
    doc::put(doc, &ROOT, "ends_at", new.ends_at)?;
    doc::put(doc, &ROOT, "place", place)?;
    put_point(doc, new.point)?;
    doc::put_opt(doc, &ROOT, "capacity", new.capacity.map(Field::Int))?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Derivation

/// The entry that made a member going (or signed up), with what it knew.
#[derive(Debug, Clone)]
struct Run {
    at: i64,
    entry: String,
    /// What the writer's device showed (`seen`), if recorded.
    seen: Option<String>,
    /// Whether the queue was already full when this entry came, in the replay.
    waitlisted_at_arrival: bool,
}

#[derive(Debug, Clone)]
struct Answer {
    rsvp: Rsvp,
    at: i64,
    /// `Some` while the answer is `going`.
    run: Option<Run>,
}

fn is_manager(e: &Entry) -> bool {
    allowed(Action::ManageEvent, e.role)
}

fn notice(v: &mut EventView, member: &MemberId, code: NoticeCode, text: String) {
    v.notices.push(Notice {
        member: member.clone(),
        code,
        text,
    });
}

fn capacity_usize(capacity: Option<i64>) -> Option<usize> {
    capacity.and_then(|c| usize::try_from(c).ok())
}

/// Derives the view: replays the log as the module docs describe.
pub(crate) fn derive(d: &impl ReadDoc) -> Result<EventView> {
    let header = doc::header(d)?;
    let entries = doc::entries(d);
    let starts_at = doc::get_i64(d, &ROOT, "starts_at").unwrap_or(header.created_at);
    let ends_at = doc::get_i64(d, &ROOT, "ends_at")
        .unwrap_or(starts_at)
        .max(starts_at);
    let (lat, lon) = match (doc::get_f64(d, &ROOT, "lat"), doc::get_f64(d, &ROOT, "lon")) {
        (Some(lat), Some(lon)) if doc::check_point(lat, lon).is_ok() => (Some(lat), Some(lon)),
        _ => (None, None),
    };
    let capacity = doc::get_i64(d, &ROOT, "capacity").filter(|c| CAPACITY.contains(c));
    let mut v = EventView {
        id: header.id.clone(),
        title: doc::get_text(d, &ROOT, "title").unwrap_or_default(),
        description: doc::get_text(d, &ROOT, "description").unwrap_or_default(),
        starts_at,
        ends_at,
        place: doc::get_str(d, &ROOT, "place").unwrap_or_default(),
        lat,
        lon,
        capacity,
        creator: header.created_by.clone(),
        created_at: header.created_at,
        updated_at: doc::updated_at(&header, &entries),
        status: EventStatus::Upcoming,
        cancelled_at: None,
        cancel_reason: None,
        confirmed: Vec::new(),
        waitlist: Vec::new(),
        maybe: Vec::new(),
        declined: Vec::new(),
        roles: Vec::new(),
        shifts: Vec::new(),
        shifts_needed: 0,
        shifts_filled: 0,
        notices: Vec::new(),
    };

    // 1. The standing cancel: the first valid one in the order.
    let cancel_at = entries
        .iter()
        .position(|e| e.t == EventEntry::Cancel && is_manager(e));
    if let Some(e) = cancel_at.and_then(|i| entries.get(i)) {
        v.status = EventStatus::Cancelled;
        v.cancelled_at = Some(e.at);
        v.cancel_reason = e.str("reason").filter(|r| !r.is_empty()).map(str::to_owned);
    }
    let cut = cancel_at.unwrap_or(entries.len());
    let (before, after) = entries.split_at(cut.min(entries.len()));

    // 2. Roles and shifts: sets of the valid entries before the cancel.
    for e in before
        .iter()
        .filter(|e| e.t == EventEntry::AddRole && is_manager(e))
    {
        let Some(name) = e.str("name").map(str::trim).filter(|n| !n.is_empty()) else {
            continue;
        };
        v.roles.push(VolunteerRole {
            id: e.id.clone(),
            name: name.to_owned(),
            description: e.str("description").unwrap_or_default().to_owned(),
        });
    }
    for e in before
        .iter()
        .filter(|e| e.t == EventEntry::AddShift && is_manager(e))
    {
        let (Some(role), Some(s), Some(end), Some(needed)) = (
            e.str("role_id"),
            e.int("starts_at"),
            e.int("ends_at"),
            e.int("needed"),
        ) else {
            continue;
        };
        if !v.roles.iter().any(|r| r.id == role)
            || check_times(s, end).is_err()
            || !NEEDED.contains(&needed)
        {
            continue;
        }
        v.shifts.push(Shift {
            id: e.id.clone(),
            role: role.to_owned(),
            starts_at: s,
            ends_at: end,
            needed,
            on: Vec::new(),
            reserve: Vec::new(),
        });
    }
    v.shifts
        .sort_by(|a, b| (a.starts_at, &a.id).cmp(&(b.starts_at, &b.id)));
    let shift_ids: BTreeSet<String> = v.shifts.iter().map(|s| s.id.clone()).collect();

    // 3. Answers and sign-ups, replayed in order up to the cancel.
    let cap = capacity_usize(capacity);
    let mut answers: BTreeMap<MemberId, Answer> = BTreeMap::new();
    let mut going_count: usize = 0;
    let mut signups: BTreeMap<(String, MemberId), (i64, String)> = BTreeMap::new();
    for e in before {
        match EventEntry::parse(&e.t) {
            Some(EventEntry::Rsvp) => {
                let Some(rsvp) = e.str("status").and_then(|s| Rsvp::parse(s).ok()) else {
                    continue;
                };
                let prev_run = answers.get(&e.by).and_then(|a| a.run.clone());
                let run = match (rsvp, prev_run) {
                    (Rsvp::Going, Some(run)) => Some(run), // still going: keeps its place
                    (Rsvp::Going, None) => {
                        let ahead = going_count;
                        going_count = going_count.saturating_add(1);
                        Some(Run {
                            at: e.at,
                            entry: e.id.clone(),
                            seen: e.str("seen").map(str::to_owned),
                            waitlisted_at_arrival: cap.is_some_and(|c| ahead >= c),
                        })
                    }
                    (_, Some(_)) => {
                        going_count = going_count.saturating_sub(1);
                        None
                    }
                    (_, None) => None,
                };
                answers.insert(
                    e.by.clone(),
                    Answer {
                        rsvp,
                        at: e.at,
                        run,
                    },
                );
            }
            Some(EventEntry::Signup) | Some(EventEntry::Unsignup) => {
                let Some(shift) = e.str("shift").filter(|s| shift_ids.contains(*s)) else {
                    continue;
                };
                let key = (shift.to_owned(), e.by.clone());
                if e.t == EventEntry::Unsignup {
                    signups.remove(&key);
                } else {
                    signups.entry(key).or_insert_with(|| (e.at, e.id.clone()));
                }
            }
            _ => {} // roles, shifts (above); unknown types come from newer schemas
        }
    }

    // The waitlist rule.
    let mut queue: Vec<(&MemberId, &Run)> = answers
        .iter()
        .filter_map(|(m, a)| a.run.as_ref().map(|r| (m, r)))
        .collect();
    queue.sort_by(|a, b| (a.1.at, a.0, &a.1.entry).cmp(&(b.1.at, b.0, &b.1.entry)));
    let split = cap.unwrap_or(usize::MAX).min(queue.len());
    let (confirmed, waitlist) = queue.split_at(split);
    v.confirmed = confirmed
        .iter()
        .map(|(m, r)| Attendee {
            member: (*m).clone(),
            since: r.at,
        })
        .collect();
    v.waitlist = waitlist
        .iter()
        .map(|(m, r)| Attendee {
            member: (*m).clone(),
            since: r.at,
        })
        .collect();
    for (m, a) in &answers {
        let attendee = Attendee {
            member: m.clone(),
            since: a.at,
        };
        match a.rsvp {
            Rsvp::Maybe => v.maybe.push(attendee),
            Rsvp::Declined => v.declined.push(attendee),
            Rsvp::Going => {}
        }
    }

    // The shift rule.
    let mut by_shift: BTreeMap<&str, Vec<(i64, &MemberId, &str)>> = BTreeMap::new();
    for ((shift, member), (at, entry)) in &signups {
        by_shift
            .entry(shift.as_str())
            .or_default()
            .push((*at, member, entry.as_str()));
    }
    for s in &mut v.shifts {
        let mut q = by_shift.remove(s.id.as_str()).unwrap_or_default();
        q.sort();
        let needed = usize::try_from(s.needed).unwrap_or(0);
        for (i, (_, m, _)) in q.into_iter().enumerate() {
            if i < needed {
                s.on.push(m.clone())
            } else {
                s.reserve.push(m.clone())
            }
        }
        v.shifts_needed = v.shifts_needed.saturating_add(s.needed);
        v.shifts_filled = v.shifts_filled.saturating_add(s.filled());
    }

    // Notices.
    if v.status == EventStatus::Cancelled {
        let mut told: BTreeSet<MemberId> = BTreeSet::new();
        told.extend(
            v.confirmed
                .iter()
                .chain(&v.waitlist)
                .map(|a| a.member.clone()),
        );
        for s in &v.shifts {
            told.extend(s.on.iter().chain(&s.reserve).cloned());
        }
        for e in after {
            let late_answer =
                e.t == EventEntry::Rsvp && matches!(e.str("status"), Some("going" | "maybe"));
            if late_answer || e.t == EventEntry::Signup {
                told.insert(e.by.clone());
            }
        }
        for m in &told {
            notice(
                &mut v,
                m,
                NoticeCode::EventCancelled,
                "the event was cancelled".to_owned(),
            );
        }
    } else {
        for (i, (m, r)) in waitlist.iter().enumerate() {
            let n = i.saturating_add(1);
            notice(
                &mut v,
                m,
                NoticeCode::Waitlisted,
                format!("you are number {n} on the waitlist"),
            );
            if r.seen.as_deref() == Some(SEEN_CONFIRMED) {
                let text = format!(
                    "another answer came first or the capacity was lowered: \
                     you are number {n} on the waitlist"
                );
                notice(&mut v, m, NoticeCode::Bumped, text);
            }
        }
        for (m, r) in confirmed {
            if r.seen.as_deref() == Some(SEEN_WAITLISTED) || r.waitlisted_at_arrival {
                notice(
                    &mut v,
                    m,
                    NoticeCode::Promoted,
                    "a place opened up: you are going".to_owned(),
                );
            }
        }
        let mut reserves = Vec::new();
        for s in &v.shifts {
            for (i, m) in s.reserve.iter().enumerate() {
                let n = i.saturating_add(1);
                reserves.push((
                    m.clone(),
                    format!("you are reserve number {n} for shift {}", s.id),
                ));
            }
        }
        for (m, text) in reserves {
            notice(&mut v, &m, NoticeCode::ShiftReserve, text);
        }
    }
    Ok(v)
}

/// The projection of an event.
///
/// `needs_response`: not cancelled, and some shift is short of volunteers.
pub(crate) fn project(v: &EventView) -> Projection {
    let mut participants = vec![Participant {
        member: v.creator.clone(),
        relation: Relation::Creator,
    }];
    let lists: [(&[Attendee], Relation); 3] = [
        (&v.confirmed, Relation::Going),
        (&v.waitlist, Relation::Waitlisted),
        (&v.maybe, Relation::Maybe),
    ];
    for (list, relation) in lists {
        for a in list {
            participants.push(Participant {
                member: a.member.clone(),
                relation,
            });
        }
    }
    for s in &v.shifts {
        for m in s.on.iter().chain(&s.reserve) {
            participants.push(Participant {
                member: m.clone(),
                relation: Relation::Volunteer,
            });
        }
    }
    let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
    Projection {
        kind: Kind::Event,
        status: v.status.as_str().to_owned(),
        category: None,
        title: v.title.clone(),
        body: v.description.clone(),
        created_by: v.creator.clone(),
        created_at: v.created_at,
        updated_at: v.updated_at,
        starts_at: Some(v.starts_at),
        ends_at: Some(v.ends_at),
        expires_at: None,
        due_at: None,
        overdue_at: None,
        lat: v.lat,
        lon: v.lon,
        location_label: Some(v.place.clone()).filter(|p| !p.is_empty()),
        needs_response: v.status != EventStatus::Cancelled && v.shifts.iter().any(Shift::is_short),
        participants,
        notices: v.notices.clone(),
        comments: Vec::new(),
        detail: Detail::Event {
            capacity: v.capacity,
            going: count(v.confirmed.len()),
            waitlisted: count(v.waitlist.len()),
            maybe: count(v.maybe.len()),
            shifts_needed: v.shifts_needed,
            shifts_filled: v.shifts_filled,
        },
    }
}

// ---------------------------------------------------------------------------------------------
// Operations

fn refuse_if_cancelled(v: &EventView, action: &'static str) -> Result<()> {
    if v.status == EventStatus::Cancelled {
        Err(Error::InvalidTransition {
            kind: "event",
            action,
            status: v.status.as_str().into(),
        })
    } else {
        Ok(())
    }
}

fn require_manager(ctx: &Ctx, what: &str) -> Result<()> {
    if allowed(Action::ManageEvent, ctx.role) {
        Ok(())
    } else {
        Err(Error::not_allowed(format!(
            "a {} may not {what}",
            ctx.role.as_str()
        )))
    }
}

pub(crate) fn edit(doc: &mut AutoCommit, ctx: &Ctx, e: &EventEdit) -> Result<()> {
    let v = derive(doc)?;
    if !v.may_edit(ctx) {
        return Err(Error::not_allowed(
            "only an organiser, staff or the creator may edit an event",
        ));
    }
    refuse_if_cancelled(&v, "edit")?;
    // Validate everything before writing anything.
    let title = e
        .title
        .as_deref()
        .map(|t| doc::require_text("title", t, MAX_TITLE))
        .transpose()?;
    if let Some(d) = &e.description {
        doc::check_len("description", d, MAX_DESCRIPTION)?;
    }
    let place = e
        .place
        .as_deref()
        .map(|p| doc::require_text("place", p, MAX_PLACE))
        .transpose()?;
    if let Some(Some((lat, lon))) = e.point {
        doc::check_point(lat, lon)?;
    }
    let times = (e.starts_at.is_some() || e.ends_at.is_some()).then(|| {
        (
            e.starts_at.unwrap_or(v.starts_at),
            e.ends_at.unwrap_or(v.ends_at),
        )
    });
    if let Some((s, end)) = times {
        check_times(s, end)?;
    }
    if let Some(c) = e.capacity {
        check_capacity(c)?;
    }
    if let Some(t) = title {
        doc::set_text(doc, &ROOT, "title", &t)?;
    }
    if let Some(d) = &e.description {
        doc::set_text(doc, &ROOT, "description", d.trim())?;
    }
    if let Some(p) = place {
        doc::put(doc, &ROOT, "place", p)?;
    }
    if let Some(point) = e.point {
        put_point(doc, point)?;
    }
    if let Some((s, end)) = times {
        // Both, always, one after the other: concurrent time edits then resolve to the same
        // change for both keys, so a merge never pairs one edit's start with another's end.
        doc::put(doc, &ROOT, "starts_at", s)?;
        doc::put(doc, &ROOT, "ends_at", end)?;
    }
    if let Some(c) = e.capacity {
        doc::put_opt(doc, &ROOT, "capacity", c.map(Field::Int))?;
    }
    Ok(())
}

pub(crate) fn rsvp(doc: &mut AutoCommit, ctx: &Ctx, answer: Rsvp) -> Result<Attendance> {
    let v = derive(doc)?;
    refuse_if_cancelled(&v, "answer")?;
    if v.rsvp_of(&ctx.member) == Some(answer) {
        return Ok(v.attendance(&ctx.member)); // already the answer: nothing to write
    }
    let mut fields = vec![("status", Field::from(answer.as_str()))];
    if answer == Rsvp::Going {
        // The local member joins the back of the queue: record what this device shows them.
        let queue = v.confirmed.len().saturating_add(v.waitlist.len());
        let full = capacity_usize(v.capacity).is_some_and(|c| queue >= c);
        fields.push((
            "seen",
            Field::from(if full {
                SEEN_WAITLISTED
            } else {
                SEEN_CONFIRMED
            }),
        ));
    }
    doc::append_entry(doc, ctx, EventEntry::Rsvp, &fields)?;
    Ok(derive(doc)?.attendance(&ctx.member))
}

fn add_role(doc: &mut AutoCommit, ctx: &Ctx, name: &str, description: &str) -> Result<String> {
    require_manager(ctx, "add volunteer roles")?;
    let v = derive(doc)?;
    refuse_if_cancelled(&v, "add a role to")?;
    let name = doc::require_text("name", name, MAX_ROLE_NAME)?;
    doc::check_len("description", description, MAX_ROLE_DESCRIPTION)?;
    if v.roles.len() >= MAX_ROLES {
        return Err(Error::invalid(
            "role",
            format!("an event has at most {MAX_ROLES} roles"),
        ));
    }
    let fields = [
        ("name", Field::from(name)),
        ("description", description.trim().into()),
    ];
    doc::append_entry(doc, ctx, EventEntry::AddRole, &fields)
}

pub(crate) fn add_shift(
    doc: &mut AutoCommit,
    ctx: &Ctx,
    role: &str,
    times: (i64, i64),
    needed: i64,
) -> Result<String> {
    require_manager(ctx, "add shifts")?;
    let v = derive(doc)?;
    refuse_if_cancelled(&v, "add a shift to")?;
    if !v.roles.iter().any(|r| r.id == role) {
        return Err(Error::not_found("role", role));
    }
    check_times(times.0, times.1)?;
    check_needed(needed)?;
    if v.shifts.len() >= MAX_SHIFTS {
        return Err(Error::invalid(
            "shift",
            format!("an event has at most {MAX_SHIFTS} shifts"),
        ));
    }
    let fields = [
        ("role_id", Field::from(role)),
        ("starts_at", times.0.into()),
        ("ends_at", times.1.into()),
        ("needed", needed.into()),
    ];
    doc::append_entry(doc, ctx, EventEntry::AddShift, &fields)
}

pub(crate) fn signup(doc: &mut AutoCommit, ctx: &Ctx, shift: &str) -> Result<ShiftSlot> {
    let v = derive(doc)?;
    let s = v
        .shift(shift)
        .ok_or_else(|| Error::not_found("shift", shift))?;
    refuse_if_cancelled(&v, "sign up for")?;
    if let Some(slot) = s.slot_of(&ctx.member) {
        return Ok(slot); // already signed up: nothing to write
    }
    doc::append_entry(doc, ctx, EventEntry::Signup, &[("shift", shift.into())])?;
    derive(doc)?
        .shift(shift)
        .and_then(|s| s.slot_of(&ctx.member))
        .ok_or_else(|| Error::Other("sign-up not found after writing it; this is a bug".into()))
}

pub(crate) fn withdraw(doc: &mut AutoCommit, ctx: &Ctx, shift: &str) -> Result<()> {
    let v = derive(doc)?;
    let s = v
        .shift(shift)
        .ok_or_else(|| Error::not_found("shift", shift))?;
    refuse_if_cancelled(&v, "withdraw from")?;
    if s.slot_of(&ctx.member).is_none() {
        return Err(Error::not_found("sign-up", shift));
    }
    doc::append_entry(doc, ctx, EventEntry::Unsignup, &[("shift", shift.into())])?;
    Ok(())
}

pub(crate) fn cancel(doc: &mut AutoCommit, ctx: &Ctx, reason: &str) -> Result<()> {
    require_manager(ctx, "cancel an event")?;
    let v = derive(doc)?;
    refuse_if_cancelled(&v, "cancel")?;
    doc::check_len("reason", reason, MAX_REASON)?;
    doc::append_entry(
        doc,
        ctx,
        EventEntry::Cancel,
        &[("reason", reason.trim().into())],
    )?;
    Ok(())
}

/// The operation behind `Store::add_event_role` (its docs state the rule and the errors).
pub(crate) fn add_event_role(
    doc: &mut AutoCommit,
    ctx: &Ctx,
    name: &str,
    description: &str,
) -> Result<String> {
    add_role(doc, ctx, name, description)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::clock::ManualClock;
    use crate::model::Role;
    use crate::store::Store;
    use crate::store::query::ListQuery;

    const T0: i64 = 1_750_000_000_000;
    const MIN: i64 = 60_000;
    const HOUR: i64 = 3_600_000;

    struct Device {
        store: Store,
        clock: Arc<ManualClock>,
        member: MemberId,
    }

    fn device(role: Role) -> Result<Device> {
        let clock = Arc::new(ManualClock::new(T0));
        let store = Store::open_in_memory(clock.clone())?;
        let member = MemberId::new()?;
        store.set_member_id(&member)?;
        store.set_identity(role, None, None)?;
        Ok(Device {
            store,
            clock,
            member,
        })
    }

    /// Sends every change `from` made to `to` (duplicates are ignored by the store).
    fn send(from: &Device, to: &Device) -> Result<()> {
        let batch: Vec<(EntityId, Vec<u8>)> = from
            .store
            .pending_changes(1000)?
            .into_iter()
            .map(|c| (c.entity, c.bytes))
            .collect();
        to.store.apply_remote_changes(&batch)?;
        Ok(())
    }

    /// Everyone sends to everyone.
    fn exchange(devices: &[&Device]) -> Result<()> {
        for from in devices {
            for to in devices {
                if !std::ptr::eq(*from, *to) {
                    send(from, to)?;
                }
            }
        }
        Ok(())
    }

    fn party() -> NewEvent {
        NewEvent::new(
            "Burendag",
            "Buurthuis De Schakel",
            T0 + 24 * HOUR,
            T0 + 28 * HOUR,
        )
    }

    fn members(n: usize) -> Result<Vec<MemberId>> {
        (0..n).map(|_| MemberId::new()).collect()
    }

    fn ids(list: &[Attendee]) -> Vec<MemberId> {
        list.iter().map(|a| a.member.clone()).collect()
    }

    fn codes(v: &EventView, m: &MemberId) -> Vec<&'static str> {
        v.notices
            .iter()
            .filter(|n| &n.member == m)
            .map(|n| n.code.as_str())
            .collect()
    }

    fn bad_field<T>(r: Result<T>) -> Option<&'static str> {
        match r {
            Err(Error::InvalidInput { field, .. }) => Some(field),
            _ => None,
        }
    }

    fn not_allowed<T>(r: Result<T>) -> bool {
        matches!(r, Err(Error::NotAllowed { .. }))
    }

    fn invalid_transition<T>(r: Result<T>) -> bool {
        matches!(r, Err(Error::InvalidTransition { .. }))
    }

    /// Acts on `d` as `member`, one minute after the previous action.
    fn as_member(d: &Device, member: &MemberId) -> Result<()> {
        d.clock.advance(MIN);
        d.store.set_member_id(member)
    }

    #[test]
    fn creation_validates_every_field() -> Result<()> {
        let org = device(Role::Organiser)?;
        let p = party();
        let cases: Vec<(&str, NewEvent)> = vec![
            (
                "title",
                NewEvent {
                    title: "  ".into(),
                    ..party()
                },
            ),
            (
                "title",
                NewEvent {
                    title: "x".repeat(201),
                    ..party()
                },
            ),
            (
                "description",
                NewEvent {
                    description: "x".repeat(5_001),
                    ..party()
                },
            ),
            (
                "place",
                NewEvent {
                    place: String::new(),
                    ..party()
                },
            ),
            (
                "place",
                NewEvent {
                    place: "x".repeat(121),
                    ..party()
                },
            ),
            (
                "starts_at",
                NewEvent {
                    starts_at: -1,
                    ..party()
                },
            ),
            (
                "ends_at",
                NewEvent {
                    ends_at: i64::MAX,
                    ..party()
                },
            ),
            (
                "ends_at",
                NewEvent {
                    ends_at: p.starts_at - 1,
                    ..party()
                },
            ),
            (
                "lat",
                NewEvent {
                    point: Some((90.5, 6.0)),
                    ..party()
                },
            ),
            (
                "lat",
                NewEvent {
                    point: Some((f64::NAN, 6.0)),
                    ..party()
                },
            ),
            (
                "lon",
                NewEvent {
                    point: Some((52.0, 181.0)),
                    ..party()
                },
            ),
            (
                "capacity",
                NewEvent {
                    capacity: Some(0),
                    ..party()
                },
            ),
            (
                "capacity",
                NewEvent {
                    capacity: Some(100_001),
                    ..party()
                },
            ),
        ];
        for (field, new) in cases {
            assert_eq!(
                bad_field(org.store.create_event(&new)),
                Some(field),
                "{field}"
            );
        }
        let q = ListQuery {
            kind: Some(Kind::Event),
            ..Default::default()
        };
        assert!(
            org.store.list(&q)?.items.is_empty(),
            "nothing stored for refused events"
        );

        // The edges are accepted, and what was written reads back.
        let new = NewEvent {
            description: "  Soep en muziek  ".into(),
            point: Some((52.37, 4.89)),
            capacity: Some(100_000),
            ends_at: p.starts_at,
            ..party()
        };
        let id = org.store.create_event(&new)?;
        org.store.create_event(&NewEvent {
            capacity: Some(1),
            ..party()
        })?;
        let v = org.store.event(&id)?;
        assert_eq!(v.title, "Burendag");
        assert_eq!(v.description, "Soep en muziek");
        assert_eq!((v.starts_at, v.ends_at), (p.starts_at, p.starts_at));
        assert_eq!(
            (v.lat, v.lon, v.capacity),
            (Some(52.37), Some(4.89), Some(100_000))
        );
        assert_eq!(v.status, EventStatus::Upcoming);
        assert_eq!(v.creator, org.member);
        assert_eq!(v.attendance(&org.member), Attendance::NoAnswer);
        assert_eq!(v.coverage(), None);
        Ok(())
    }

    #[test]
    fn waitlist_with_capacity_two_and_a_decline_promoting() -> Result<()> {
        let d = device(Role::Organiser)?;
        let id = d.store.create_event(&NewEvent {
            capacity: Some(2),
            ..party()
        })?;
        let m = members(4)?;
        for (i, member) in m.iter().enumerate() {
            as_member(&d, member)?;
            let got = d.store.rsvp_event(&id, Rsvp::Going)?;
            let want = if i < 2 {
                Attendance::Going { place: i + 1 }
            } else {
                Attendance::Waitlisted { position: i - 1 }
            };
            assert_eq!(got, want, "member {i}");
        }
        let v = d.store.event(&id)?;
        assert_eq!(ids(&v.confirmed), vec![m[0].clone(), m[1].clone()]);
        assert_eq!(ids(&v.waitlist), vec![m[2].clone(), m[3].clone()]);
        assert_eq!(codes(&v, &m[2]), vec!["waitlisted"]);
        assert!(
            v.notices
                .iter()
                .any(|n| n.member == m[3] && n.text.contains("number 2"))
        );
        assert!(codes(&v, &m[0]).is_empty());
        // The device recorded what it showed: a waitlist place.
        assert_eq!(
            d.store.rsvp_event(&id, Rsvp::Going)?,
            Attendance::Waitlisted { position: 2 }
        );

        // A confirmed member declines: the first on the waitlist gets the place and is told.
        as_member(&d, &m[1])?;
        d.store.rsvp_event(&id, Rsvp::Declined)?;
        let v = d.store.event(&id)?;
        assert_eq!(ids(&v.confirmed), vec![m[0].clone(), m[2].clone()]);
        assert_eq!(ids(&v.waitlist), vec![m[3].clone()]);
        assert_eq!(ids(&v.declined), vec![m[1].clone()]);
        assert_eq!(codes(&v, &m[2]), vec!["promoted"]);
        assert_eq!(codes(&v, &m[3]), vec!["waitlisted"]);
        assert!(
            v.notices
                .iter()
                .any(|n| n.member == m[3] && n.text.contains("number 1"))
        );
        assert_eq!(v.attendance(&m[3]), Attendance::Waitlisted { position: 1 });

        // The projection row carries the counts.
        let q = ListQuery {
            kind: Some(Kind::Event),
            ..Default::default()
        };
        let row = d.store.list(&q)?.items.remove(0);
        assert_eq!(row.status, "upcoming");
        assert!(matches!(
            row.detail,
            Detail::Event {
                going: 2,
                waitlisted: 1,
                capacity: Some(2),
                ..
            }
        ));
        assert_eq!(row.starts_at, Some(party().starts_at));
        assert_eq!(row.location_label.as_deref(), Some("Buurthuis De Schakel"));
        assert!(!row.needs_response);
        d.store.set_member_id(&m[3])?;
        let mine = ListQuery { mine: true, ..q };
        assert_eq!(
            d.store.list(&mine)?.items.len(),
            1,
            "the waitlisted member sees it as theirs"
        );
        let notices = d.store.my_notices()?;
        assert!(
            notices
                .iter()
                .any(|n| n.code == "waitlisted" && n.entity == id.as_str())
        );
        Ok(())
    }

    #[test]
    fn going_maybe_going_goes_to_the_back() -> Result<()> {
        let d = device(Role::Organiser)?;
        let id = d.store.create_event(&NewEvent {
            capacity: Some(2),
            ..party()
        })?;
        let m = members(3)?;
        for member in &m {
            as_member(&d, member)?;
            d.store.rsvp_event(&id, Rsvp::Going)?;
        }
        as_member(&d, &m[0])?;
        assert_eq!(d.store.rsvp_event(&id, Rsvp::Maybe)?, Attendance::Maybe);
        let v = d.store.event(&id)?;
        assert_eq!(ids(&v.confirmed), vec![m[1].clone(), m[2].clone()]);
        assert_eq!(ids(&v.maybe), vec![m[0].clone()]);
        assert_eq!(codes(&v, &m[2]), vec!["promoted"]);

        as_member(&d, &m[0])?;
        assert_eq!(
            d.store.rsvp_event(&id, Rsvp::Going)?,
            Attendance::Waitlisted { position: 1 }
        );
        let v = d.store.event(&id)?;
        assert_eq!(ids(&v.confirmed), vec![m[1].clone(), m[2].clone()]);
        assert_eq!(ids(&v.waitlist), vec![m[0].clone()]);
        assert!(v.maybe.is_empty());
        Ok(())
    }

    #[test]
    fn two_devices_of_one_member_saying_going_keep_the_first_place() -> Result<()> {
        let org = device(Role::Organiser)?;
        let id = org.store.create_event(&NewEvent {
            capacity: Some(1),
            ..party()
        })?;
        let phone = device(Role::Resident)?;
        let tablet = device(Role::Resident)?;
        tablet.store.set_member_id(&phone.member)?;
        let other = device(Role::Resident)?;
        for d in [&phone, &tablet, &other] {
            send(&org, d)?;
        }
        phone.clock.set(T0 + 100);
        phone.store.rsvp_event(&id, Rsvp::Going)?;
        other.clock.set(T0 + 150);
        other.store.rsvp_event(&id, Rsvp::Going)?;
        tablet.clock.set(T0 + 200);
        tablet.store.rsvp_event(&id, Rsvp::Going)?;
        exchange(&[&org, &phone, &tablet, &other])?;
        let v = org.store.event(&id)?;
        assert_eq!(ids(&v.confirmed), vec![phone.member.clone()]);
        assert_eq!(ids(&v.waitlist), vec![other.member.clone()]);
        assert_eq!(v.confirmed[0].since, T0 + 100);
        Ok(())
    }

    #[test]
    fn racing_for_the_last_place_converges_and_tells_the_loser() -> Result<()> {
        let org = device(Role::Organiser)?;
        let id = org.store.create_event(&NewEvent {
            capacity: Some(2),
            ..party()
        })?;
        org.store.rsvp_event(&id, Rsvp::Going)?; // one place left
        let a = device(Role::Resident)?;
        let b = device(Role::Resident)?;
        send(&org, &a)?;
        send(&org, &b)?;

        // Both offline, both see the last place free and take it.
        a.clock.set(T0 + 100);
        b.clock.set(T0 + 200);
        assert_eq!(
            a.store.rsvp_event(&id, Rsvp::Going)?,
            Attendance::Going { place: 2 }
        );
        assert_eq!(
            b.store.rsvp_event(&id, Rsvp::Going)?,
            Attendance::Going { place: 2 }
        );

        exchange(&[&org, &a, &b])?;
        let va = a.store.event(&id)?;
        let vb = b.store.event(&id)?;
        assert_eq!(va, vb, "both devices derive the same view");
        assert_eq!(va, org.store.event(&id)?);
        assert_eq!(a.store.projection_dump()?, b.store.projection_dump()?);
        assert_eq!(
            ids(&va.confirmed),
            vec![org.member.clone(), a.member.clone()]
        );
        assert_eq!(ids(&va.waitlist), vec![b.member.clone()]);
        assert_eq!(
            vb.attendance(&b.member),
            Attendance::Waitlisted { position: 1 }
        );
        let mut loser = codes(&vb, &b.member);
        loser.sort();
        assert_eq!(loser, vec!["bumped", "waitlisted"]);
        assert!(codes(&va, &a.member).is_empty());
        let told = b.store.my_notices()?;
        assert!(
            told.iter()
                .any(|n| n.code == "waitlisted" && n.text.contains("number 1"))
        );

        // The winner steps back: the loser gets the place and is told.
        a.clock.set(T0 + 300);
        a.store.rsvp_event(&id, Rsvp::Declined)?;
        exchange(&[&org, &a, &b])?;
        let vb = b.store.event(&id)?;
        assert_eq!(vb, a.store.event(&id)?);
        assert_eq!(
            ids(&vb.confirmed),
            vec![org.member.clone(), b.member.clone()]
        );
        assert_eq!(codes(&vb, &b.member), vec!["promoted"]);
        Ok(())
    }

    #[test]
    fn cancel_wins_over_later_rsvps_and_freezes_earlier_ones() -> Result<()> {
        let org = device(Role::Organiser)?;
        let id = org.store.create_event(&NewEvent {
            capacity: Some(5),
            ..party()
        })?;
        let role = org.store.add_event_role(&id, "Bar", "")?;
        let shift = org
            .store
            .add_event_shift(&id, &role, T0 + 24 * HOUR, T0 + 26 * HOUR, 2)?;
        let early = device(Role::Resident)?;
        let late = device(Role::Resident)?;
        send(&org, &early)?;
        send(&org, &late)?;

        // Offline: one answers before the cancel, the organiser cancels, one answers after.
        early.clock.set(T0 + 100);
        early.store.rsvp_event(&id, Rsvp::Going)?;
        org.clock.set(T0 + 200);
        org.store.cancel_event(&id, "storm")?;
        late.clock.set(T0 + 300);
        late.store.rsvp_event(&id, Rsvp::Going)?;
        late.store.signup_shift(&id, &shift)?;
        early.clock.set(T0 + 400);
        early.store.rsvp_event(&id, Rsvp::Declined)?; // after the cancel: ignored too

        exchange(&[&org, &early, &late])?;
        let v = org.store.event(&id)?;
        assert_eq!(v, early.store.event(&id)?);
        assert_eq!(v, late.store.event(&id)?);
        assert_eq!(
            late.store.projection_dump()?,
            early.store.projection_dump()?
        );
        assert_eq!(v.status, EventStatus::Cancelled);
        assert_eq!(v.cancelled_at, Some(T0 + 200));
        assert_eq!(v.cancel_reason.as_deref(), Some("storm"));
        assert_eq!(
            ids(&v.confirmed),
            vec![early.member.clone()],
            "frozen at the cancel"
        );
        assert_eq!(v.attendance(&late.member), Attendance::NoAnswer);
        assert!(v.shifts.iter().all(|s| s.on.is_empty()));
        assert_eq!(codes(&v, &early.member), vec!["event_cancelled"]);
        assert_eq!(codes(&v, &late.member), vec!["event_cancelled"]);
        assert!(codes(&v, &org.member).is_empty());

        // Now that the cancel is known, answering and signing up are refused locally.
        assert!(invalid_transition(late.store.rsvp_event(&id, Rsvp::Maybe)));
        assert!(invalid_transition(early.store.signup_shift(&id, &shift)));
        assert!(invalid_transition(org.store.cancel_event(&id, "")));
        assert!(invalid_transition(
            org.store.edit_event(&id, &EventEdit::default())
        ));

        let q = ListQuery {
            kind: Some(Kind::Event),
            ..Default::default()
        };
        let row = late.store.list(&q)?.items.remove(0);
        assert_eq!(row.status, "cancelled");
        assert!(!row.needs_response, "a cancelled event needs no volunteers");
        Ok(())
    }

    #[test]
    fn shifts_coverage_and_over_subscription() -> Result<()> {
        let d = device(Role::Organiser)?;
        let id = d.store.create_event(&party())?;
        let bar = d.store.add_event_role(&id, "Bar", "Tap and serve")?;
        let s1 = d
            .store
            .add_event_shift(&id, &bar, T0 + 24 * HOUR, T0 + 26 * HOUR, 2)?;
        let s2 = d
            .store
            .add_event_shift(&id, &bar, T0 + 26 * HOUR, T0 + 28 * HOUR, 1)?;
        let v = d.store.event(&id)?;
        assert_eq!(v.roles.len(), 1);
        assert_eq!(v.roles[0].name, "Bar");
        assert_eq!(
            (v.shifts_needed, v.shifts_filled, v.coverage()),
            (3, 0, Some(0.0))
        );
        assert!(project(&v).needs_response);

        // Bad shifts and sign-ups.
        assert!(matches!(
            d.store.add_event_shift(&id, "nope", T0, T0, 1),
            Err(Error::NotFound { what: "role", .. })
        ));
        assert_eq!(
            bad_field(d.store.add_event_shift(&id, &bar, T0, T0, 0)),
            Some("needed")
        );
        assert_eq!(
            bad_field(d.store.add_event_shift(&id, &bar, T0, T0, 1_001)),
            Some("needed")
        );
        assert_eq!(
            bad_field(d.store.add_event_shift(&id, &bar, T0, T0 - 1, 1)),
            Some("ends_at")
        );
        assert_eq!(
            bad_field(d.store.add_event_role(&id, " ", "")),
            Some("name")
        );
        assert!(matches!(
            d.store.signup_shift(&id, "nope"),
            Err(Error::NotFound { what: "shift", .. })
        ));

        let m = members(4)?;
        for (i, member) in m.iter().take(3).enumerate() {
            as_member(&d, member)?;
            let slot = d.store.signup_shift(&id, &s1)?;
            let want = if i < 2 {
                ShiftSlot::On
            } else {
                ShiftSlot::Reserve { position: 1 }
            };
            assert_eq!(slot, want);
        }
        assert_eq!(
            d.store.signup_shift(&id, &s1)?,
            ShiftSlot::Reserve { position: 1 }
        );
        let v = d.store.event(&id)?;
        let shift = v.shift(&s1).expect("shift");
        assert_eq!(shift.on, vec![m[0].clone(), m[1].clone()]);
        assert_eq!(shift.reserve, vec![m[2].clone()]);
        assert_eq!(codes(&v, &m[2]), vec!["shift_reserve"]);
        assert_eq!(
            (v.shifts_needed, v.shifts_filled),
            (3, 2),
            "the reserve does not count"
        );
        assert!(
            project(&v).needs_response,
            "the second shift is still short"
        );

        as_member(&d, &m[3])?;
        d.store.signup_shift(&id, &s2)?;
        let v = d.store.event(&id)?;
        assert_eq!((v.shifts_filled, v.coverage()), (3, Some(1.0)));
        assert!(!project(&v).needs_response);
        let q = ListQuery {
            kind: Some(Kind::Event),
            ..Default::default()
        };
        let row = d.store.list(&q)?.items.remove(0);
        assert!(matches!(
            row.detail,
            Detail::Event {
                shifts_needed: 3,
                shifts_filled: 3,
                ..
            }
        ));

        // One who is on withdraws: the reserve moves up.
        as_member(&d, &m[0])?;
        d.store.withdraw_shift(&id, &s1)?;
        assert!(matches!(
            d.store.withdraw_shift(&id, &s1),
            Err(Error::NotFound { .. })
        ));
        let v = d.store.event(&id)?;
        let shift = v.shift(&s1).expect("shift");
        assert_eq!(shift.on, vec![m[1].clone(), m[2].clone()]);
        assert!(shift.reserve.is_empty());
        assert!(codes(&v, &m[2]).is_empty());
        assert!(
            project(&v)
                .participants
                .iter()
                .any(|p| p.member == m[3] && p.relation == "volunteer")
        );
        Ok(())
    }

    #[test]
    fn racing_for_the_last_shift_place_converges() -> Result<()> {
        let org = device(Role::Organiser)?;
        let id = org.store.create_event(&party())?;
        let role = org.store.add_event_role(&id, "Opbouw", "")?;
        let shift = org
            .store
            .add_event_shift(&id, &role, T0 + 20 * HOUR, T0 + 24 * HOUR, 1)?;
        let a = device(Role::Resident)?;
        let b = device(Role::Resident)?;
        send(&org, &a)?;
        send(&org, &b)?;
        b.clock.set(T0 + 100);
        a.clock.set(T0 + 200);
        assert_eq!(a.store.signup_shift(&id, &shift)?, ShiftSlot::On);
        assert_eq!(b.store.signup_shift(&id, &shift)?, ShiftSlot::On);
        exchange(&[&org, &a, &b])?;
        let v = a.store.event(&id)?;
        assert_eq!(v, b.store.event(&id)?);
        let s = v.shift(&shift).expect("shift");
        assert_eq!(s.on, vec![b.member.clone()]);
        assert_eq!(
            s.slot_of(&a.member),
            Some(ShiftSlot::Reserve { position: 1 })
        );
        assert_eq!(codes(&v, &a.member), vec!["shift_reserve"]);
        Ok(())
    }

    #[test]
    fn residents_may_not_create_cancel_edit_or_add_shifts() -> Result<()> {
        let resident = device(Role::Resident)?;
        let caretaker = device(Role::Caretaker)?;
        assert!(not_allowed(resident.store.create_event(&party())));
        assert!(not_allowed(caretaker.store.create_event(&party())));

        let org = device(Role::Organiser)?;
        let id = org.store.create_event(&party())?;
        let role = org.store.add_event_role(&id, "Bar", "")?;
        send(&org, &resident)?;
        let s = T0 + HOUR;
        assert!(not_allowed(resident.store.cancel_event(&id, "")));
        assert!(not_allowed(
            resident.store.add_event_role(&id, "Keuken", "")
        ));
        assert!(not_allowed(
            resident.store.add_event_shift(&id, &role, s, s, 1)
        ));
        let retitle = EventEdit {
            title: Some("Mijn feest".into()),
            ..Default::default()
        };
        assert!(not_allowed(resident.store.edit_event(&id, &retitle)));
        assert!(
            resident.store.pending_changes(10)?.is_empty(),
            "nothing was written"
        );
        // What a resident may do: answer and volunteer, for themself.
        resident.store.rsvp_event(&id, Rsvp::Maybe)?;

        // Staff who did not create it may manage it.
        let staff = device(Role::Staff)?;
        send(&org, &staff)?;
        staff.store.edit_event(&id, &retitle)?;
        staff.store.add_event_shift(&id, &role, s, s, 3)?;
        staff.store.cancel_event(&id, "")?;
        assert_eq!(staff.store.event(&id)?.status, EventStatus::Cancelled);
        Ok(())
    }

    #[test]
    fn entries_by_unauthorised_roles_are_ignored_in_derivation() -> Result<()> {
        let org = Ctx {
            member: MemberId::new()?,
            role: Role::Organiser,
            household: None,
            now: T0,
        };
        let res = Ctx {
            member: MemberId::new()?,
            role: Role::Resident,
            household: None,
            now: T0,
        };
        let mut d = AutoCommit::new();
        create(&mut d, &EntityId::new()?, &org, &party())?;
        // A hostile resident device writes what only organisers may.
        let role = doc::append_entry(&mut d, &res, "add_role", &[("name", "Bar".into())])?;
        let mut org_role = org.clone();
        org_role.now = T0 + 100;
        let real = doc::append_entry(&mut d, &org_role, "add_role", &[("name", "Bar".into())])?;
        let shift = |role: &str| -> Vec<(&'static str, Field)> {
            vec![
                ("role_id", role.into()),
                ("starts_at", T0.into()),
                ("ends_at", T0.into()),
                ("needed", 1_i64.into()),
            ]
        };
        doc::append_entry(&mut d, &res, "add_shift", &shift(&real))?;
        doc::append_entry(&mut d, &res, "cancel", &[])?;
        doc::append_entry(&mut d, &res, "rsvp", &[("status", "sure".into())])?;
        let v = derive(&d)?;
        assert_eq!(
            v.roles.iter().map(|r| r.id.clone()).collect::<Vec<_>>(),
            vec![real.clone()]
        );
        assert!(!v.roles.iter().any(|r| r.id == role));
        assert!(v.shifts.is_empty());
        assert_eq!(v.status, EventStatus::Upcoming);
        assert_eq!(v.attendance(&res.member), Attendance::NoAnswer);

        // Clocks disagree: a shift (and a sign-up) whose `at` is before its role's still count.
        let mut early = org.clone();
        early.now = T0 + 50;
        let s = doc::append_entry(&mut d, &early, "add_shift", &shift(&real))?;
        let mut earlier = res.clone();
        earlier.now = T0 + 10;
        doc::append_entry(&mut d, &earlier, "signup", &[("shift", s.as_str().into())])?;
        let v = derive(&d)?;
        assert_eq!(
            v.shift(&s).map(|s| s.on.clone()),
            Some(vec![res.member.clone()])
        );
        Ok(())
    }

    #[test]
    fn rsvp_is_always_by_the_local_member() -> Result<()> {
        let org = device(Role::Organiser)?;
        let id = org.store.create_event(&party())?;
        let r = device(Role::Resident)?;
        send(&org, &r)?;
        r.store.rsvp_event(&id, Rsvp::Going)?;
        r.store.signup_shift(&id, "none").ok(); // no shift: refused, nothing written
        let entries = r
            .store
            .read_entity(&id, Kind::Event, |d| Ok(doc::entries(d)))?;
        assert_eq!(entries.len(), 1);
        assert!(
            entries
                .iter()
                .all(|e| e.t == "rsvp" && e.by == r.member && e.role == Role::Resident)
        );
        send(&r, &org)?;
        let v = org.store.event(&id)?;
        assert_eq!(ids(&v.confirmed), vec![r.member.clone()]);
        assert_eq!(v.attendance(&org.member), Attendance::NoAnswer);
        // Repeating the answer writes nothing.
        let before = r.store.pending_count()?;
        r.store.rsvp_event(&id, Rsvp::Going)?;
        assert_eq!(r.store.pending_count()?, before);
        Ok(())
    }

    #[test]
    fn edits_validate_and_a_capacity_change_rederives_the_waitlist() -> Result<()> {
        let d = device(Role::Organiser)?;
        let id = d.store.create_event(&NewEvent {
            capacity: Some(3),
            ..party()
        })?;
        let m = members(3)?;
        for member in &m {
            as_member(&d, member)?;
            d.store.rsvp_event(&id, Rsvp::Going)?;
        }
        let lower = EventEdit {
            capacity: Some(Some(1)),
            ..Default::default()
        };
        d.store.edit_event(&id, &lower)?;
        let v = d.store.event(&id)?;
        assert_eq!(ids(&v.confirmed), vec![m[0].clone()]);
        assert_eq!(ids(&v.waitlist), vec![m[1].clone(), m[2].clone()]);
        let mut told = codes(&v, &m[1]);
        told.sort();
        assert_eq!(told, vec!["bumped", "waitlisted"]);

        let unlimited = EventEdit {
            capacity: Some(None),
            ..Default::default()
        };
        d.store.edit_event(&id, &unlimited)?;
        let v = d.store.event(&id)?;
        assert_eq!(
            (v.capacity, v.confirmed.len(), v.waitlist.len()),
            (None, 3, 0)
        );
        assert!(v.notices.is_empty());

        // Bad edits change nothing.
        let start = party().starts_at;
        let cases: Vec<(&str, EventEdit)> = vec![
            (
                "ends_at",
                EventEdit {
                    ends_at: Some(start - 1),
                    ..Default::default()
                },
            ),
            (
                "ends_at",
                EventEdit {
                    starts_at: Some(party().ends_at + 1),
                    ..Default::default()
                },
            ),
            (
                "title",
                EventEdit {
                    title: Some(String::new()),
                    ..Default::default()
                },
            ),
            (
                "place",
                EventEdit {
                    place: Some(" ".into()),
                    ..Default::default()
                },
            ),
            (
                "lon",
                EventEdit {
                    point: Some(Some((0.0, -180.5))),
                    ..Default::default()
                },
            ),
            (
                "capacity",
                EventEdit {
                    capacity: Some(Some(0)),
                    ..Default::default()
                },
            ),
            (
                "capacity",
                EventEdit {
                    title: Some("Ok".into()),
                    capacity: Some(Some(-4)),
                    ..Default::default()
                },
            ),
        ];
        for (field, e) in cases {
            assert_eq!(
                bad_field(d.store.edit_event(&id, &e)),
                Some(field),
                "{field}"
            );
        }
        assert_eq!(
            d.store.event(&id)?.title,
            "Burendag",
            "a refused edit writes nothing"
        );

        let moved = EventEdit {
            title: Some("Burendag 2".into()),
            description: Some("Met soep".into()),
            place: Some("Plein".into()),
            point: Some(Some((52.0, 5.0))),
            starts_at: Some(start + HOUR),
            ends_at: None,
            capacity: None,
        };
        d.store.edit_event(&id, &moved)?;
        let v = d.store.event(&id)?;
        assert_eq!(
            (v.title.as_str(), v.description.as_str(), v.place.as_str()),
            ("Burendag 2", "Met soep", "Plein")
        );
        assert_eq!((v.starts_at, v.ends_at), (start + HOUR, party().ends_at));
        assert_eq!((v.lat, v.lon), (Some(52.0), Some(5.0)));
        d.store.edit_event(
            &id,
            &EventEdit {
                point: Some(None),
                ..Default::default()
            },
        )?;
        assert_eq!(d.store.event(&id)?.lat, None);
        Ok(())
    }

    #[test]
    fn the_creator_may_edit_even_as_a_resident_later() -> Result<()> {
        let d = device(Role::Organiser)?;
        let id = d.store.create_event(&party())?;
        d.store.set_identity(Role::Resident, None, None)?;
        d.store.edit_event(
            &id,
            &EventEdit {
                title: Some("Nieuw".into()),
                ..Default::default()
            },
        )?;
        assert!(not_allowed(d.store.cancel_event(&id, "")));
        assert_eq!(d.store.event(&id)?.title, "Nieuw");
        Ok(())
    }
}
