//! Comments on any entity.

use clap::Subcommand;
use noaber_core::{EntityId, Error, Store};

use crate::args::entity_id;
use crate::out::Out;
use crate::time;

/// Comment subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum CommentCmd {
    /// Add a comment; prints its id.
    Add {
        /// The entity.
        #[arg(value_parser = entity_id)]
        id: EntityId,
        /// The text.
        text: String,
    },
    /// Edit your own comment.
    Edit {
        #[arg(value_parser = entity_id)]
        id: EntityId,
        comment: String,
        text: String,
    },
    /// Withdraw your own comment.
    Withdraw {
        #[arg(value_parser = entity_id)]
        id: EntityId,
        comment: String,
    },
    /// List an entity's comments.
    List {
        #[arg(value_parser = entity_id)]
        id: EntityId,
    },
}

/// Runs a comment subcommand.
pub(crate) fn run(store: &Store, out: &Out, cmd: CommentCmd) -> Result<(), Error> {
    match cmd {
        CommentCmd::Add { id, text } => out.id(&store.add_comment(&id, &text)?),
        CommentCmd::Edit { id, comment, text } => {
            store.edit_comment(&id, &comment, &text)?;
            out.ok()
        }
        CommentCmd::Withdraw { id, comment } => {
            store.withdraw_comment(&id, &comment)?;
            out.ok()
        }
        CommentCmd::List { id } => {
            let comments = store.comments(&id)?;
            out.print(&comments, || {
                comments
                    .iter()
                    .map(|c| {
                        let body = if c.withdrawn {
                            "(withdrawn)"
                        } else {
                            c.body.as_str()
                        };
                        format!("{}  {}  {}  {}", c.id, time::show(c.at), c.author, body)
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        }
    }
}
