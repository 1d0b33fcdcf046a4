//! The `Store` API of `crate::model::comment`: a thin layer over its operations.

use crate::error::Result;
use crate::ids::EntityId;
use crate::model::comment::*;
use crate::store::Store;

impl Store {
    /// Adds a comment by the local member to any entity; returns the comment id.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`](crate::Error::NotFound) for an unknown entity;
    /// [`Error::InvalidInput`](crate::Error::InvalidInput) for an empty or over-long body.
    pub fn add_comment(&self, entity: &EntityId, body: &str) -> Result<String> {
        let kind = self.kind_of(entity)?;
        self.update_entity(entity, kind, |d, ctx| add(d, ctx, body))
    }

    /// Edits the local member's own comment.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`](crate::Error::NotFound); [`Error::NotAllowed`](crate::Error::NotAllowed)
    /// for someone else's comment; [`Error::InvalidTransition`](crate::Error::InvalidTransition)
    /// for a withdrawn one.
    pub fn edit_comment(&self, entity: &EntityId, comment: &str, body: &str) -> Result<()> {
        let kind = self.kind_of(entity)?;
        self.update_entity(entity, kind, |d, ctx| edit(d, ctx, comment, body))
    }

    /// Withdraws the local member's own comment.
    ///
    /// # Errors
    ///
    /// As [`Store::edit_comment`].
    pub fn withdraw_comment(&self, entity: &EntityId, comment: &str) -> Result<()> {
        let kind = self.kind_of(entity)?;
        self.update_entity(entity, kind, |d, ctx| withdraw(d, ctx, comment))
    }
}
