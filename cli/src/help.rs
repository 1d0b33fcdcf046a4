//! Help requests and offers.

use clap::{Args, Subcommand};
use noaber_core::model::help::NewHelp;
use noaber_core::{Audience, EntityId, Error, MemberId, Store};

use crate::args::{audience, entity_id, member_id};
use crate::out::Out;
use crate::time;

/// The fields of a new request or offer.
#[derive(Debug, Args)]
pub(crate) struct NewHelpArgs {
    /// Short title.
    #[arg(long)]
    title: String,
    /// groceries, transport, odd_jobs, company, paperwork, garden, other.
    #[arg(long, default_value = "other")]
    category: String,
    /// Details.
    #[arg(long, default_value = "")]
    body: String,
    /// low, normal, high.
    #[arg(long, default_value = "normal")]
    urgency: String,
    /// Location precision: complex, stairwell, street, buurt (never a house number).
    #[arg(long, default_value = "street")]
    precision: String,
    /// Location label at that precision.
    #[arg(long, default_value = "")]
    location: String,
    /// Start of the time window (2026-12-01T10:00, a date, RFC 3339 or epoch ms).
    #[arg(long, value_parser = time::parse_ms)]
    from: Option<i64>,
    /// End of the time window; after it an open request expires.
    #[arg(long, value_parser = time::parse_ms)]
    until: Option<i64>,
    /// Who reads it: buurt (everyone), organisers, participants (you, organisers, whoever it
    /// is shared with or involves).
    #[arg(long, default_value = "buurt", value_parser = audience)]
    audience: Audience,
}

impl NewHelpArgs {
    fn into_new(self, offer: bool) -> NewHelp {
        NewHelp {
            audience: self.audience,
            offer,
            category: self.category,
            title: self.title,
            body: self.body,
            urgency: self.urgency,
            window_start: self.from,
            window_end: self.until,
            precision: self.precision,
            location_label: self.location,
        }
    }
}

#[derive(Debug, Subcommand)]
pub(crate) enum HelpCmd {
    /// Ask for help; prints the new id.
    Ask(NewHelpArgs),
    /// Offer help; prints the new id.
    Offer(NewHelpArgs),
    /// Show one request with its responses and status.
    Show {
        #[arg(value_parser = entity_id)]
        id: EntityId,
    },
    /// Edit the title and/or body.
    Edit {
        #[arg(value_parser = entity_id)]
        id: EntityId,
        #[arg(long)]
        title: Option<String>,
        #[arg(long)]
        body: Option<String>,
    },
    /// Say "I can help".
    Respond {
        #[arg(value_parser = entity_id)]
        id: EntityId,
        #[arg(long, default_value = "")]
        message: String,
    },
    /// Withdraw your response.
    Withdraw {
        #[arg(value_parser = entity_id)]
        id: EntityId,
    },
    /// Match a responder as the helper (requester or organiser).
    Match {
        #[arg(value_parser = entity_id)]
        id: EntityId,
        /// The responder's member id.
        #[arg(long, value_parser = member_id)]
        helper: MemberId,
    },
    /// Undo the match.
    Unmatch {
        #[arg(value_parser = entity_id)]
        id: EntityId,
    },
    /// Mark done.
    Done {
        #[arg(value_parser = entity_id)]
        id: EntityId,
    },
    /// Cancel.
    Cancel {
        #[arg(value_parser = entity_id)]
        id: EntityId,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Leave thanks or feedback after done.
    Thank {
        #[arg(value_parser = entity_id)]
        id: EntityId,
        #[arg(long)]
        text: String,
    },
}

/// Runs a help subcommand.
pub(crate) fn run(store: &Store, out: &Out, cmd: HelpCmd) -> Result<(), Error> {
    match cmd {
        HelpCmd::Ask(a) => out.id(store.create_help(&a.into_new(false))?.as_str()),
        HelpCmd::Offer(a) => out.id(store.create_help(&a.into_new(true))?.as_str()),
        HelpCmd::Show { id } => out.view(&store.help(&id)?),
        HelpCmd::Edit { id, title, body } => {
            store.edit_help(&id, title.as_deref(), body.as_deref())?;
            out.ok()
        }
        HelpCmd::Respond { id, message } => {
            store.respond_help(&id, &message)?;
            out.ok()
        }
        HelpCmd::Withdraw { id } => {
            store.withdraw_help_response(&id)?;
            out.ok()
        }
        HelpCmd::Match { id, helper } => {
            store.match_help(&id, &helper)?;
            out.ok()
        }
        HelpCmd::Unmatch { id } => {
            store.unmatch_help(&id)?;
            out.ok()
        }
        HelpCmd::Done { id } => {
            store.complete_help(&id)?;
            out.ok()
        }
        HelpCmd::Cancel { id, reason } => {
            store.cancel_help(&id, &reason)?;
            out.ok()
        }
        HelpCmd::Thank { id, text } => {
            store.thank_help(&id, &text)?;
            out.ok()
        }
    }
}
