//! The kind's types: inputs, views, statuses and the limits on what is written.

use serde::Serialize;

use crate::error::{Error, Result};
use crate::ids::MemberId;
use crate::model::Notice;

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

pub(super) const MAX_TITLE: usize = 200;
pub(super) const MAX_DESCRIPTION: usize = 5_000;
pub(super) const MAX_PLACE: usize = 120;
pub(super) const MAX_ROLE_NAME: usize = 80;
pub(super) const MAX_ROLE_DESCRIPTION: usize = 1_000;
pub(super) const MAX_REASON: usize = 2_000;

pub(super) const SEEN_CONFIRMED: &str = "confirmed";
pub(super) const SEEN_WAITLISTED: &str = "waitlisted";

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
}
