//! The `Store` API of `crate::model::help`: a thin layer over its operations.

use crate::error::Result;
use crate::ids::{EntityId, MemberId};
use crate::model::Kind;
use crate::model::help::{self, *};
use crate::store::Store;

impl Store {
    /// Creates a help request (or offer) by the local member; returns its id.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`](crate::Error::InvalidInput) naming the field for an empty title,
    /// unknown category, urgency or precision, over-long text or a window that ends before it
    /// starts; storage errors.
    pub fn create_help(&self, new: &NewHelp) -> Result<EntityId> {
        self.create_entity(Kind::Help, |doc, id, ctx| create(doc, id, ctx, new))
    }

    /// The derived view of one help request (loads its document).
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`](crate::Error::NotFound), [`Error::Corrupt`](crate::Error::Corrupt),
    /// storage errors.
    pub fn help(&self, id: &EntityId) -> Result<HelpView> {
        self.read_entity(id, Kind::Help, derive)
    }

    /// Edits the title and/or body; concurrent edits merge character by character.
    ///
    /// # Errors
    ///
    /// [`Error::NotAllowed`](crate::Error::NotAllowed) unless the local member is the requester or
    /// an organiser; [`Error::InvalidInput`](crate::Error::InvalidInput) for empty titles or
    /// over-long text.
    pub fn edit_help(&self, id: &EntityId, title: Option<&str>, body: Option<&str>) -> Result<()> {
        self.update_entity(id, Kind::Help, |doc, ctx| {
            help::edit_help(doc, ctx, title, body)
        })
    }

    /// The local member says "I can help" (or updates their message).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidTransition`](crate::Error::InvalidTransition) when the request is done,
    /// cancelled or expired; [`Error::NotAllowed`](crate::Error::NotAllowed) for the requester
    /// themself.
    pub fn respond_help(&self, id: &EntityId, message: &str) -> Result<()> {
        self.update_entity(id, Kind::Help, |doc, ctx| {
            help::respond_help(doc, ctx, message)
        })
    }

    /// The local member withdraws their response (un-matching themself if they were matched).
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`](crate::Error::NotFound) when the local member has no active response.
    pub fn withdraw_help_response(&self, id: &EntityId) -> Result<()> {
        self.update_entity(id, Kind::Help, |doc, ctx| {
            help::withdraw_help_response(doc, ctx)
        })
    }

    /// Matches a responder as the helper (the requester, or an organiser).
    ///
    /// # Errors
    ///
    /// [`Error::NotAllowed`](crate::Error::NotAllowed) for anyone else;
    /// [`Error::InvalidTransition`](crate::Error::InvalidTransition) unless the request is open;
    /// [`Error::InvalidInput`](crate::Error::InvalidInput) when `helper` has no active response.
    pub fn match_help(&self, id: &EntityId, helper: &MemberId) -> Result<()> {
        self.update_entity(id, Kind::Help, |doc, ctx| {
            help::match_help(doc, ctx, helper)
        })
    }

    /// Undoes the standing match (the requester, an organiser, or the helper stepping back).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidTransition`](crate::Error::InvalidTransition) unless matched;
    /// [`Error::NotAllowed`](crate::Error::NotAllowed) for others.
    pub fn unmatch_help(&self, id: &EntityId) -> Result<()> {
        self.update_entity(id, Kind::Help, help::unmatch_help)
    }

    /// Marks a matched request done (the requester, the helper or an organiser).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidTransition`](crate::Error::InvalidTransition) unless matched (e.g.
    /// cancelled); [`Error::NotAllowed`](crate::Error::NotAllowed).
    pub fn complete_help(&self, id: &EntityId) -> Result<()> {
        self.update_entity(id, Kind::Help, help::complete_help)
    }

    /// Cancels an open or matched request (the requester or an organiser).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidTransition`](crate::Error::InvalidTransition) when done or already
    /// cancelled; [`Error::NotAllowed`](crate::Error::NotAllowed).
    pub fn cancel_help(&self, id: &EntityId, reason: &str) -> Result<()> {
        self.update_entity(id, Kind::Help, |doc, ctx| {
            help::cancel_help(doc, ctx, reason)
        })
    }

    /// Leaves thanks or feedback after done (the requester or the helper).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidTransition`](crate::Error::InvalidTransition) unless done;
    /// [`Error::NotAllowed`](crate::Error::NotAllowed) for others.
    pub fn thank_help(&self, id: &EntityId, text: &str) -> Result<()> {
        self.update_entity(id, Kind::Help, |doc, ctx| help::thank_help(doc, ctx, text))
    }
}
