//! The `Store` API of `crate::model::report`: a thin layer over its operations.

use crate::error::Result;
use crate::ids::EntityId;
use crate::model::Kind;
use crate::model::report::{self, *};
use crate::store::Store;

impl Store {
    /// Creates an issue report by the local member at an exact point; returns its id.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`](crate::Error::InvalidInput) naming the field for an unknown category
    /// or severity, a point that is not a latitude/longitude, or over-long text; storage errors.
    pub fn create_report(&self, new: &NewReport) -> Result<EntityId> {
        self.create_entity(Kind::Report, |doc, id, ctx| create(doc, id, ctx, new))
    }

    /// The derived view of one report (loads its document).
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`](crate::Error::NotFound), [`Error::Corrupt`](crate::Error::Corrupt),
    /// storage errors.
    pub fn report(&self, id: &EntityId) -> Result<ReportView> {
        self.read_entity(id, Kind::Report, derive)
    }

    /// Replaces the description; concurrent edits merge character by character.
    ///
    /// # Errors
    ///
    /// [`Error::NotAllowed`](crate::Error::NotAllowed) unless the local member is the reporter or a
    /// caretaker or staff; [`Error::InvalidInput`](crate::Error::InvalidInput) for over-long text.
    pub fn edit_report(&self, id: &EntityId, description: &str) -> Result<()> {
        self.update_entity(id, Kind::Report, |doc, ctx| {
            report::edit_report(doc, ctx, description)
        })
    }

    /// Takes a workflow step (see the table in [`crate::model::report`]).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidTransition`](crate::Error::InvalidTransition) when the step is not possible
    /// from the current state (including a step to the state it is already in);
    /// [`Error::NotAllowed`](crate::Error::NotAllowed) when the local member's role or relation
    /// does not allow it; [`Error::InvalidInput`](crate::Error::InvalidInput) for a missing reject
    /// reason or referral, an `of` that is the report itself, or over-long text.
    pub fn transition_report(&self, id: &EntityId, step: ReportTransition) -> Result<()> {
        self.update_entity(id, Kind::Report, |doc, ctx| {
            report::transition_report(doc, ctx, step)
        })
    }

    /// The local member says "me too" (a no-op when theirs is already active).
    ///
    /// # Errors
    ///
    /// [`Error::NotAllowed`](crate::Error::NotAllowed) for the reporter;
    /// [`Error::InvalidTransition`](crate::Error::InvalidTransition) when the report is confirmed.
    pub fn me_too_report(&self, id: &EntityId) -> Result<()> {
        self.update_entity(id, Kind::Report, report::me_too_report)
    }

    /// The local member withdraws their "me too".
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`](crate::Error::NotFound) when the local member has no active "me too".
    pub fn withdraw_me_too(&self, id: &EntityId) -> Result<()> {
        self.update_entity(id, Kind::Report, |doc, ctx| {
            report::withdraw_me_too(doc, ctx)
        })
    }

    /// Sets the party responsible (an empty `party` clears it). The latest setting wins.
    ///
    /// # Errors
    ///
    /// [`Error::NotAllowed`](crate::Error::NotAllowed) unless a caretaker, organiser or staff;
    /// [`Error::InvalidInput`](crate::Error::InvalidInput) for an over-long party.
    pub fn set_report_responsible(&self, id: &EntityId, party: &str) -> Result<()> {
        self.update_entity(id, Kind::Report, |doc, ctx| {
            report::set_report_responsible(doc, ctx, party)
        })
    }

    /// Replaces the public response; concurrent edits merge character by character.
    ///
    /// # Errors
    ///
    /// [`Error::NotAllowed`](crate::Error::NotAllowed) unless a caretaker, organiser or staff;
    /// [`Error::InvalidInput`](crate::Error::InvalidInput) for over-long text.
    pub fn set_report_response(&self, id: &EntityId, text: &str) -> Result<()> {
        self.update_entity(id, Kind::Report, |doc, ctx| {
            report::set_report_response(doc, ctx, text)
        })
    }

    /// Attaches a photo reference (a no-op when a photo with this hash is already attached).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`](crate::Error::InvalidInput) naming `hash`, `mime`, `size`, `width`
    /// or `height` when the reference is malformed, or `photo` when the report already has
    /// [`MAX_PHOTOS`]; [`Error::NotAllowed`](crate::Error::NotAllowed) unless the reporter, a
    /// caretaker, organiser or staff.
    pub fn attach_photo_ref(&self, id: &EntityId, photo: &PhotoRef) -> Result<()> {
        check_photo(photo)?;
        self.update_entity(id, Kind::Report, |doc, ctx| attach_photo(doc, ctx, photo))
    }
}
