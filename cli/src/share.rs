//! Who reads a document: `share` it with one more member, list its `readers`.

use clap::Args;
use noaber_core::{EntityId, Error, MemberId, Store};

use crate::args::{entity_id, member_id};
use crate::out::Out;

/// The arguments of `share`.
#[derive(Debug, Args)]
pub(crate) struct ShareArgs {
    /// The entity id.
    #[arg(value_parser = entity_id)]
    id: EntityId,
    /// The member id to share it with.
    #[arg(value_parser = member_id)]
    member: MemberId,
}

/// The arguments of `readers`.
#[derive(Debug, Args)]
pub(crate) struct ReadersArgs {
    /// The entity id.
    #[arg(value_parser = entity_id)]
    id: EntityId,
}

/// Shares a restricted document with one more member.
pub(crate) fn share(store: &Store, out: &Out, a: ShareArgs) -> Result<(), Error> {
    store.share(&a.id, &a.member)?;
    out.ok()
}

/// Shows a document's audience and readers.
pub(crate) fn readers(store: &Store, out: &Out, a: ReadersArgs) -> Result<(), Error> {
    out.view(&store.readers(&a.id)?)
}
