//! Event subcommands: RSVPs, waitlists, volunteer shifts.
//!
//! Each subcommand is one call into the core. The core validates every value and names the
//! offending field in its error; clap checks the shape of the command line (ids, numbers,
//! times, which flags go together).

use clap::builder::PossibleValuesParser;
use clap::{ArgGroup, Args, Subcommand};
use noaber_core::model::event::{Attendance, EventEdit, NewEvent, Rsvp, ShiftSlot};
use noaber_core::{Audience, EntityId, Error, Store};
use serde::Serialize;

use crate::args::{Point, PointEdit, audience, entity_id};
use crate::out::Out;
use crate::time;

/// Event subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum EventCmd {
    /// Create an event (organisers and staff); prints the new id.
    Create(NewEventArgs),
    /// Show one event: answers, waitlist, roles, shifts and where you stand.
    Show {
        /// The event.
        #[arg(value_parser = entity_id)]
        id: EntityId,
    },
    /// Edit an event's fields (organisers, staff, the creator).
    Edit(EventEditArgs),
    /// Answer an event for yourself; prints where you stand.
    Rsvp {
        /// The event.
        #[arg(value_parser = entity_id)]
        id: EntityId,
        /// Your answer.
        #[arg(value_parser = PossibleValuesParser::new(["going", "maybe", "declined"]))]
        answer: String,
    },
    /// Add a volunteer role (organisers and staff); prints the role id.
    Role {
        /// The event.
        #[arg(value_parser = entity_id)]
        id: EntityId,
        /// The role's name ("bar", "opbouw").
        #[arg(long)]
        name: String,
        /// What the volunteer does.
        #[arg(long, default_value = "")]
        description: String,
    },
    /// Add a shift of a volunteer role (organisers and staff); prints the shift id.
    Shift {
        /// The event.
        #[arg(value_parser = entity_id)]
        id: EntityId,
        /// The role id (printed by `event role`).
        #[arg(long)]
        role: String,
        /// Start of the shift.
        #[arg(long, value_parser = time::parse_ms)]
        start: i64,
        /// End of the shift.
        #[arg(long, value_parser = time::parse_ms)]
        end: i64,
        /// Volunteers needed (1 to 1000).
        #[arg(long, default_value_t = 1)]
        needed: i64,
    },
    /// Sign yourself up for a shift; prints whether you are on it or a reserve.
    Signup {
        /// The event.
        #[arg(value_parser = entity_id)]
        id: EntityId,
        /// The shift id.
        shift: String,
    },
    /// Withdraw yourself from a shift (the first reserve moves up).
    Withdraw {
        /// The event.
        #[arg(value_parser = entity_id)]
        id: EntityId,
        /// The shift id.
        shift: String,
    },
    /// Cancel the event (organisers and staff); everyone going or volunteering is told.
    Cancel {
        /// The event.
        #[arg(value_parser = entity_id)]
        id: EntityId,
        /// Why (shown to those who are told).
        #[arg(long, default_value = "")]
        reason: String,
    },
}

/// The fields of a new event.
#[derive(Debug, Args)]
pub(crate) struct NewEventArgs {
    /// Short title.
    #[arg(long)]
    title: String,
    /// Where: a place label ("Buurthuis De Schakel").
    #[arg(long)]
    place: String,
    /// Start (2026-12-01T10:00, a date, RFC 3339 or epoch ms).
    #[arg(long, value_parser = time::parse_ms)]
    start: i64,
    /// End; not before the start.
    #[arg(long, value_parser = time::parse_ms)]
    end: i64,
    /// Details.
    #[arg(long, default_value = "")]
    description: String,
    /// Confirmed places (1 to 100000); unlimited when left out.
    #[arg(long)]
    capacity: Option<i64>,
    #[command(flatten)]
    point: Point,
    /// Who reads it: buurt (everyone), organisers, participants.
    #[arg(long, default_value = "buurt", value_parser = audience)]
    audience: Audience,
}

/// Changes to an event; at least one.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("change").required(true).multiple(true)))]
pub(crate) struct EventEditArgs {
    /// The event.
    #[arg(value_parser = entity_id)]
    id: EntityId,
    /// New title.
    #[arg(long, group = "change")]
    title: Option<String>,
    /// New description.
    #[arg(long, group = "change")]
    description: Option<String>,
    /// New place label.
    #[arg(long, group = "change")]
    place: Option<String>,
    /// New start (the end must not be before it).
    #[arg(long, group = "change", value_parser = time::parse_ms)]
    start: Option<i64>,
    /// New end.
    #[arg(long, group = "change", value_parser = time::parse_ms)]
    end: Option<i64>,
    /// New capacity (1 to 100000); re-derives the waitlist.
    #[arg(long, group = "change", conflicts_with = "unlimited")]
    capacity: Option<i64>,
    /// Remove the capacity: everyone going gets a place.
    #[arg(long, group = "change")]
    unlimited: bool,
    #[command(flatten)]
    point: PointEdit,
}

/// An event's view with where the local member stands.
#[derive(Serialize)]
struct Shown<'a, V, Y> {
    #[serde(flatten)]
    view: &'a V,
    you: Y,
}

fn attendance_text(a: Attendance) -> String {
    match a {
        Attendance::Going { place } => format!("going (place {place})"),
        Attendance::Waitlisted { position } => format!("waitlisted (number {position})"),
        Attendance::Maybe => "maybe".to_owned(),
        Attendance::Declined => "declined".to_owned(),
        Attendance::NoAnswer => "no answer".to_owned(),
    }
}

fn slot_text(slot: ShiftSlot) -> String {
    match slot {
        ShiftSlot::On => "on the shift".to_owned(),
        ShiftSlot::Reserve { position } => format!("reserve (number {position})"),
    }
}

/// Runs an event subcommand.
///
/// # Errors
///
/// What the core refuses (invalid input naming the field, not allowed, a cancelled event, an
/// unknown id) and storage errors.
pub(crate) fn run(s: &Store, o: &Out, c: EventCmd) -> Result<(), Error> {
    match c {
        EventCmd::Create(a) => {
            let new = NewEvent {
                audience: a.audience,
                title: a.title,
                description: a.description,
                starts_at: a.start,
                ends_at: a.end,
                place: a.place,
                point: a.point.get(),
                capacity: a.capacity,
            };
            o.id(s.create_event(&new)?.as_str())
        }
        EventCmd::Show { id } => {
            let v = s.event(&id)?;
            let you = v.attendance(&s.identity().member);
            o.view(&Shown { view: &v, you })
        }
        EventCmd::Edit(a) => {
            let edit = EventEdit {
                title: a.title,
                description: a.description,
                place: a.place,
                point: a.point.get(),
                starts_at: a.start,
                ends_at: a.end,
                capacity: if a.unlimited {
                    Some(None)
                } else {
                    a.capacity.map(Some)
                },
            };
            s.edit_event(&a.id, &edit)?;
            o.ok()
        }
        EventCmd::Rsvp { id, answer } => {
            let standing = s.rsvp_event(&id, Rsvp::parse(&answer)?)?;
            o.print(&standing, || attendance_text(standing))
        }
        EventCmd::Role {
            id,
            name,
            description,
        } => o.id(&s.add_event_role(&id, &name, &description)?),
        EventCmd::Shift {
            id,
            role,
            start,
            end,
            needed,
        } => o.id(&s.add_event_shift(&id, role.trim(), start, end, needed)?),
        EventCmd::Signup { id, shift } => {
            let slot = s.signup_shift(&id, shift.trim())?;
            o.print(&slot, || slot_text(slot))
        }
        EventCmd::Withdraw { id, shift } => {
            s.withdraw_shift(&id, shift.trim())?;
            o.ok()
        }
        EventCmd::Cancel { id, reason } => {
            s.cancel_event(&id, &reason)?;
            o.ok()
        }
    }
}
