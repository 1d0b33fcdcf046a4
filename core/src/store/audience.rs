//! The `Store` API of `crate::audience`: a thin layer over its operations.

use crate::audience::*;
use crate::error::Result;
use crate::ids::MemberId;
use crate::store::Store;

impl Store {
    /// Shares a restricted document with one more member, who reads it from their next sync
    /// on. Sharing with a member who already reads it changes nothing.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`](crate::Error::NotFound) for an unknown entity;
    /// [`Error::InvalidInput`](crate::Error::InvalidInput) (`audience`) for a document the whole
    /// buurt reads; [`Error::NotAllowed`](crate::Error::NotAllowed) unless the local member created
    /// the document or is a coordinator; storage errors.
    pub fn share(&self, entity: &crate::EntityId, member: &MemberId) -> Result<()> {
        let kind = self.kind_of(entity)?;
        self.update_entity(entity, kind, |d, ctx| share(d, ctx, member))
    }

    /// Who reads a document (its audience and, for a restricted one, its readers besides
    /// coordinators).
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`](crate::Error::NotFound) for an unknown entity; storage errors.
    pub fn readers(&self, entity: &crate::EntityId) -> Result<Readers> {
        let kind = self.kind_of(entity)?;
        self.read_entity(entity, kind, |d| Ok(readers(d)))
    }
}
