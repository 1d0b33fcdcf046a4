//! The `Store` API of `crate::model::event`: a thin layer over its operations.

use crate::error::Result;
use crate::ids::EntityId;
use crate::model::Kind;
use crate::model::event::{self, *};
use crate::store::Store;

impl Store {
    /// Creates an event organised by the local member; returns its id.
    ///
    /// # Errors
    ///
    /// [`Error::NotAllowed`](crate::Error::NotAllowed) unless the local member is an organiser or
    /// staff; [`Error::InvalidInput`](crate::Error::InvalidInput) naming the field for an empty or
    /// over-long title or place, an over-long description, a time out of range, an end before the
    /// start, a bad point or a capacity outside `1..=100000`; storage errors.
    pub fn create_event(&self, new: &NewEvent) -> Result<EntityId> {
        self.create_entity(Kind::Event, |doc, id, ctx| create(doc, id, ctx, new))
    }

    /// The derived view of one event (loads its document).
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`](crate::Error::NotFound), [`Error::Corrupt`](crate::Error::Corrupt),
    /// storage errors.
    pub fn event(&self, id: &EntityId) -> Result<EventView> {
        self.read_entity(id, Kind::Event, derive)
    }

    /// Edits an event's title, description, place, point, times or capacity. Text merges
    /// character by character; the other fields are last-writer-wins, and a capacity change
    /// re-derives the waitlist.
    ///
    /// # Errors
    ///
    /// [`Error::NotAllowed`](crate::Error::NotAllowed) unless the local member is an organiser,
    /// staff or the creator; [`Error::InvalidTransition`](crate::Error::InvalidTransition) for a
    /// cancelled event; [`Error::InvalidInput`](crate::Error::InvalidInput) as for
    /// [`Store::create_event`] (nothing is written if any field is invalid).
    pub fn edit_event(&self, id: &EntityId, e: &EventEdit) -> Result<()> {
        self.update_entity(id, Kind::Event, |doc, ctx| edit(doc, ctx, e))
    }

    /// Records the local member's answer (always their own) and returns where they now stand
    /// on this device. Repeating the current answer writes nothing and keeps one's place.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidTransition`](crate::Error::InvalidTransition) for a cancelled event; storage
    /// errors.
    pub fn rsvp_event(&self, id: &EntityId, answer: Rsvp) -> Result<Attendance> {
        self.update_entity(id, Kind::Event, |doc, ctx| rsvp(doc, ctx, answer))
    }

    /// Adds a volunteer role; returns its id.
    ///
    /// # Errors
    ///
    /// [`Error::NotAllowed`](crate::Error::NotAllowed) unless an organiser or staff;
    /// [`Error::InvalidTransition`](crate::Error::InvalidTransition) for a cancelled event;
    /// [`Error::InvalidInput`](crate::Error::InvalidInput) for an empty or over-long name, an
    /// over-long description, or more than [`MAX_ROLES`] roles.
    pub fn add_event_role(&self, id: &EntityId, name: &str, description: &str) -> Result<String> {
        self.update_entity(id, Kind::Event, |doc, ctx| {
            event::add_event_role(doc, ctx, name, description)
        })
    }

    /// Adds a shift of a role, needing `needed` volunteers; returns its id.
    ///
    /// # Errors
    ///
    /// [`Error::NotAllowed`](crate::Error::NotAllowed) unless an organiser or staff;
    /// [`Error::InvalidTransition`](crate::Error::InvalidTransition) for a cancelled event;
    /// [`Error::NotFound`](crate::Error::NotFound) for an unknown role;
    /// [`Error::InvalidInput`](crate::Error::InvalidInput) for times out of range or reversed,
    /// `needed` outside `1..=1000`, or more than [`MAX_SHIFTS`] shifts.
    pub fn add_event_shift(
        &self,
        id: &EntityId,
        role: &str,
        starts_at: i64,
        ends_at: i64,
        needed: i64,
    ) -> Result<String> {
        self.update_entity(id, Kind::Event, |doc, ctx| {
            add_shift(doc, ctx, role, (starts_at, ends_at), needed)
        })
    }

    /// Signs the local member up for a shift; returns whether they are on it or a reserve (on
    /// this device). Signing up again writes nothing.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`](crate::Error::NotFound) for an unknown shift;
    /// [`Error::InvalidTransition`](crate::Error::InvalidTransition) for a cancelled event; storage
    /// errors.
    pub fn signup_shift(&self, id: &EntityId, shift: &str) -> Result<ShiftSlot> {
        self.update_entity(id, Kind::Event, |doc, ctx| signup(doc, ctx, shift))
    }

    /// Withdraws the local member from a shift (the first reserve moves up).
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`](crate::Error::NotFound) for an unknown shift or when not signed up;
    /// [`Error::InvalidTransition`](crate::Error::InvalidTransition) for a cancelled event; storage
    /// errors.
    pub fn withdraw_shift(&self, id: &EntityId, shift: &str) -> Result<()> {
        self.update_entity(id, Kind::Event, |doc, ctx| withdraw(doc, ctx, shift))
    }

    /// Cancels the event; answers and sign-ups are frozen and everyone going or volunteering
    /// is told.
    ///
    /// # Errors
    ///
    /// [`Error::NotAllowed`](crate::Error::NotAllowed) unless an organiser or staff;
    /// [`Error::InvalidTransition`](crate::Error::InvalidTransition) when already cancelled;
    /// [`Error::InvalidInput`](crate::Error::InvalidInput) for an over-long reason.
    pub fn cancel_event(&self, id: &EntityId, reason: &str) -> Result<()> {
        self.update_entity(id, Kind::Event, |doc, ctx| cancel(doc, ctx, reason))
    }
}
