//! Buurt events: RSVPs with a waitlist, volunteer roles and shifts.

use noaber_core::model::event::{
    self as core, Attendance, Attendee, EventStatus, Rsvp, ShiftSlot, VolunteerRole,
};
use noaber_core::{Audience, MemberId};

use crate::error::Result;
use crate::store::NoaberStore;
use crate::types::{GeoPoint, Notice, PointChange, entity, notices};

// Hand-converted: defaults, a `GeoPoint` point and an optional audience, unlike the core's.
/// What a new event says.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct NewEvent {
    /// A short title.
    pub title: String,
    /// Details (may be empty).
    #[uniffi(default = "")]
    pub description: String,
    /// Start, ms since the epoch.
    pub starts_at: i64,
    /// End, ms; not before the start.
    pub ends_at: i64,
    /// Where: a label ("Buurthuis De Schakel").
    pub place: String,
    /// An optional exact point.
    #[uniffi(default)]
    pub point: Option<GeoPoint>,
    /// Confirmed places (1..=100000); `None` is unlimited.
    #[uniffi(default)]
    pub capacity: Option<i64>,
    /// Who reads it; `None` for the whole buurt. Fixed at creation.
    #[uniffi(default)]
    pub audience: Option<Audience>,
}

impl From<NewEvent> for core::NewEvent {
    fn from(n: NewEvent) -> Self {
        core::NewEvent {
            audience: n.audience.unwrap_or_default(),
            title: n.title,
            description: n.description,
            starts_at: n.starts_at,
            ends_at: n.ends_at,
            place: n.place,
            point: n.point.map(|p| (p.lat, p.lon)),
            capacity: n.capacity,
        }
    }
}

/// How an edit changes an event's capacity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum CapacityChange {
    /// At most `places` confirmed (1..=100000); the waitlist is derived again.
    Limited {
        /// Confirmed places.
        places: i64,
    },
    /// No limit.
    Unlimited,
}

// Hand-converted: the core's `Option<Option<_>>` fields are enums here.
/// Changes to an event; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, uniffi::Record)]
pub struct EventEdit {
    /// New title.
    #[uniffi(default)]
    pub title: Option<String>,
    /// New description.
    #[uniffi(default)]
    pub description: Option<String>,
    /// New place label.
    #[uniffi(default)]
    pub place: Option<String>,
    /// A new point, or its removal.
    #[uniffi(default)]
    pub point: Option<PointChange>,
    /// New start, ms.
    #[uniffi(default)]
    pub starts_at: Option<i64>,
    /// New end, ms.
    #[uniffi(default)]
    pub ends_at: Option<i64>,
    /// A new capacity, or no limit.
    #[uniffi(default)]
    pub capacity: Option<CapacityChange>,
}

impl From<EventEdit> for core::EventEdit {
    fn from(e: EventEdit) -> Self {
        core::EventEdit {
            title: e.title,
            description: e.description,
            place: e.place,
            point: e.point.map(Into::into),
            starts_at: e.starts_at,
            ends_at: e.ends_at,
            capacity: e.capacity.map(|c| match c {
                CapacityChange::Limited { places } => Some(places),
                CapacityChange::Unlimited => None,
            }),
        }
    }
}

/// A member's answer to an event.
#[uniffi::remote(Enum)]
pub enum Rsvp {
    /// Coming (confirmed or waitlisted, by the waitlist rule).
    Going,
    /// Perhaps.
    Maybe,
    /// Not coming.
    Declined,
}

/// Derived status of an event ("past" is not a status: compare its times with the clock).
#[uniffi::remote(Enum)]
pub enum EventStatus {
    /// Not cancelled.
    Upcoming,
    /// Cancelled by an organiser.
    Cancelled,
}

/// Where a member stands for an event.
#[uniffi::remote(Enum)]
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

/// A member's place on one shift.
#[uniffi::remote(Enum)]
pub enum ShiftSlot {
    /// Among the first `needed` sign-ups.
    On,
    /// Signed up beyond the need.
    Reserve {
        /// 1-based position among the reserves.
        position: usize,
    },
}

/// A member and when their current answer took effect.
#[uniffi::remote(Record)]
pub struct Attendee {
    /// The member.
    pub member: MemberId,
    /// For going: when they became going (their queue position); else their answer's time.
    pub since: i64,
}

/// A volunteer role ("bar", "opbouw").
#[uniffi::remote(Record)]
pub struct VolunteerRole {
    /// The role id.
    pub id: String,
    /// Name.
    pub name: String,
    /// What the volunteer does.
    pub description: String,
}

// Hand-converted: adds `filled` and the local member's `my_slot`.
/// A shift of a volunteer role, with who is on it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Shift {
    /// The shift id.
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
    pub on: Vec<String>,
    /// Further sign-ups, in order.
    pub reserve: Vec<String>,
    /// Places filled (at most `needed`).
    pub filled: i64,
    /// Where the local member stands on it, if signed up.
    pub my_slot: Option<ShiftSlot>,
}

// Hand-converted: adds the local member's attendance and slots, and a `GeoPoint`.
/// Everything a screen shows about one event.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
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
    /// Exact point, if set.
    pub point: Option<GeoPoint>,
    /// Confirmed places; `None` is unlimited.
    pub capacity: Option<i64>,
    /// The creator.
    pub creator: String,
    /// Created at, ms.
    pub created_at: i64,
    /// Last activity, ms.
    pub updated_at: i64,
    /// Derived status.
    pub status: EventStatus,
    /// When it was cancelled.
    pub cancelled_at: Option<i64>,
    /// The cancel reason, if given.
    pub cancel_reason: Option<String>,
    /// Confirmed members, in queue order.
    pub confirmed: Vec<Attendee>,
    /// Waitlisted members, in queue order.
    pub waitlist: Vec<Attendee>,
    /// Members who answered maybe.
    pub maybe: Vec<Attendee>,
    /// Members who declined.
    pub declined: Vec<Attendee>,
    /// Where the local member stands.
    pub my_attendance: Attendance,
    /// Volunteer roles, in the order they were added.
    pub roles: Vec<VolunteerRole>,
    /// Shifts, by start time.
    pub shifts: Vec<Shift>,
    /// Volunteers needed over all shifts.
    pub shifts_needed: i64,
    /// Volunteer places filled, capped per shift at its need.
    pub shifts_filled: i64,
    /// What members should be told.
    pub notices: Vec<Notice>,
}

fn view(v: core::EventView, me: &MemberId) -> EventView {
    let my_attendance = v.attendance(me);
    EventView {
        shifts: v
            .shifts
            .iter()
            .map(|s| Shift {
                id: s.id.clone(),
                role: s.role.clone(),
                starts_at: s.starts_at,
                ends_at: s.ends_at,
                needed: s.needed,
                on: s.on.iter().map(ToString::to_string).collect(),
                reserve: s.reserve.iter().map(ToString::to_string).collect(),
                filled: s.filled(),
                my_slot: s.slot_of(me),
            })
            .collect(),
        my_attendance,
        id: v.id,
        title: v.title,
        description: v.description,
        starts_at: v.starts_at,
        ends_at: v.ends_at,
        place: v.place,
        point: v.lat.zip(v.lon).map(|(lat, lon)| GeoPoint { lat, lon }),
        capacity: v.capacity,
        creator: v.creator.to_string(),
        created_at: v.created_at,
        updated_at: v.updated_at,
        status: v.status,
        cancelled_at: v.cancelled_at,
        cancel_reason: v.cancel_reason,
        confirmed: v.confirmed,
        waitlist: v.waitlist,
        maybe: v.maybe,
        declined: v.declined,
        roles: v.roles,
        shifts_needed: v.shifts_needed,
        shifts_filled: v.shifts_filled,
        notices: notices(v.notices),
    }
}

#[uniffi::export]
impl NoaberStore {
    /// Creates an event organised by the local member; returns its id.
    ///
    /// # Errors
    ///
    /// `NotAllowed` unless an organiser or staff; `InvalidInput` naming the field.
    pub fn create_event(&self, new: NewEvent) -> Result<String> {
        Ok(self.store.create_event(&new.into())?.to_string())
    }

    /// One event, derived from its document, with where the local member stands.
    ///
    /// # Errors
    ///
    /// `InvalidInput` (`id`); `NotFound`; `Storage`.
    pub fn event(&self, id: String) -> Result<EventView> {
        let v = self.store.event(&entity(&id)?)?;
        Ok(view(v, &self.store.identity().member))
    }

    /// Edits an event's fields (nothing is written if any is invalid).
    ///
    /// # Errors
    ///
    /// `NotAllowed` unless an organiser, staff or the creator, or when cancelled;
    /// `InvalidInput` naming the field.
    pub fn edit_event(&self, id: String, edit: EventEdit) -> Result<()> {
        Ok(self.store.edit_event(&entity(&id)?, &edit.into())?)
    }

    /// Records the local member's answer; returns where they now stand on this device.
    ///
    /// # Errors
    ///
    /// `NotAllowed` for a cancelled event; `Storage`.
    pub fn rsvp_event(&self, id: String, answer: Rsvp) -> Result<Attendance> {
        Ok(self.store.rsvp_event(&entity(&id)?, answer)?)
    }

    /// Adds a volunteer role (the description may be empty, the default); returns its id.
    ///
    /// # Errors
    ///
    /// `NotAllowed` unless an organiser or staff; `InvalidInput` (`name`, `description`).
    #[uniffi::method(default(description = ""))]
    pub fn add_event_role(&self, id: String, name: String, description: String) -> Result<String> {
        Ok(self
            .store
            .add_event_role(&entity(&id)?, &name, &description)?)
    }

    /// Adds a shift of a role needing `needed` volunteers; returns its id.
    ///
    /// # Errors
    ///
    /// `NotAllowed` unless an organiser or staff; `NotFound` for an unknown role;
    /// `InvalidInput` for times or `needed` out of range.
    pub fn add_event_shift(
        &self,
        id: String,
        role_id: String,
        starts_at: i64,
        ends_at: i64,
        needed: i64,
    ) -> Result<String> {
        Ok(self
            .store
            .add_event_shift(&entity(&id)?, &role_id, starts_at, ends_at, needed)?)
    }

    /// Signs the local member up for a shift; returns whether they are on it or a reserve.
    ///
    /// # Errors
    ///
    /// `NotFound` for an unknown shift; `NotAllowed` for a cancelled event.
    pub fn signup_shift(&self, id: String, shift_id: String) -> Result<ShiftSlot> {
        Ok(self.store.signup_shift(&entity(&id)?, &shift_id)?)
    }

    /// Withdraws the local member from a shift.
    ///
    /// # Errors
    ///
    /// `NotFound` for an unknown shift or when not signed up; `NotAllowed` when cancelled.
    pub fn withdraw_shift(&self, id: String, shift_id: String) -> Result<()> {
        Ok(self.store.withdraw_shift(&entity(&id)?, &shift_id)?)
    }

    /// Cancels the event, with a reason (may be empty, the default); everyone going or
    /// volunteering is told.
    ///
    /// # Errors
    ///
    /// `NotAllowed` unless an organiser or staff, or when already cancelled.
    #[uniffi::method(default(reason = ""))]
    pub fn cancel_event(&self, id: String, reason: String) -> Result<()> {
        Ok(self.store.cancel_event(&entity(&id)?, &reason)?)
    }
}
