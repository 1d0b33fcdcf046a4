//! Ownership task subcommands: adopt, back up, record occurrences.
//!
//! Each subcommand is one call into the core. The core validates every value and names the
//! offending field in its error; clap checks the shape of the command line (ids, numbers,
//! times, which flags go together).

use clap::builder::PossibleValuesParser;
use clap::{ArgGroup, Args, Subcommand};
use noaber_core::model::task::{NewTask, Outcome, TaskEdit, TaskSchedule, TaskStanding, TaskView};
use noaber_core::{Audience, EntityId, Error, Store};
use serde::Serialize;

use crate::args::{Point, PointEdit, audience, entity_id};
use crate::out::Out;

/// Task subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum TaskCmd {
    /// Create an ownership task; prints the new id.
    Create(NewTaskArgs),
    /// Show one task: adopter, backups, pledges, checklist, occurrences, what is due.
    Show {
        /// The task.
        #[arg(value_parser = entity_id)]
        id: EntityId,
    },
    /// Edit a task's fields or schedule (the creator, caretakers, organisers, staff); schedule
    /// parts left out are kept.
    Edit(TaskEditArgs),
    /// Adopt the task, or become a backup when it has an adopter; prints which.
    Claim {
        /// The task.
        #[arg(value_parser = entity_id)]
        id: EntityId,
    },
    /// Step back as adopter or backup (the first backup takes over).
    Release {
        /// The task.
        #[arg(value_parser = entity_id)]
        id: EntityId,
    },
    /// Pledge your household to carry a task in pledge mode.
    Pledge {
        /// The task.
        #[arg(value_parser = entity_id)]
        id: EntityId,
    },
    /// Withdraw your pledge.
    Unpledge {
        /// The task.
        #[arg(value_parser = entity_id)]
        id: EntityId,
    },
    /// Record an occurrence as done or skipped (adopter, backups, caretakers, organisers).
    Record {
        /// The task.
        #[arg(value_parser = entity_id)]
        id: EntityId,
        /// The occurrence's date, YYYY-MM-DD; when left out, the latest occurrence on or before
        /// today in the task's time zone.
        #[arg(long)]
        date: Option<String>,
        /// What happened.
        #[arg(value_parser = PossibleValuesParser::new(["done", "skipped"]))]
        outcome: String,
        /// A note.
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Pause the task: nothing falls due while paused (the adopter, caretakers, organisers).
    Pause {
        /// The task.
        #[arg(value_parser = entity_id)]
        id: EntityId,
    },
    /// Resume a paused task.
    Resume {
        /// The task.
        #[arg(value_parser = entity_id)]
        id: EntityId,
    },
    /// Add or remove checklist items.
    Check {
        /// The task.
        #[arg(value_parser = entity_id)]
        id: EntityId,
        #[command(subcommand)]
        op: CheckCmd,
    },
}

/// Checklist subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum CheckCmd {
    /// Add an item; prints its id.
    Add {
        /// The item's text.
        text: String,
    },
    /// Remove an item by its id.
    Remove {
        /// The item id.
        item: String,
    },
}

/// The fields of a new task.
#[derive(Debug, Args)]
pub(crate) struct NewTaskArgs {
    /// Short title.
    #[arg(long)]
    title: String,
    /// Details.
    #[arg(long, default_value = "")]
    description: String,
    /// Recurrence rule ("FREQ=WEEKLY;BYDAY=MO"); a one-off task when left out.
    #[arg(long, requires = "start")]
    rrule: Option<String>,
    /// YYYY-MM-DD: the series' first day, or a one-off's date.
    #[arg(long)]
    start: Option<String>,
    /// IANA time zone the dates live in (Europe/Amsterdam when left out).
    #[arg(long)]
    tz: Option<String>,
    /// Pledge mode: households needed before the task starts (1 to 100).
    #[arg(long)]
    pledges: Option<u32>,
    #[command(flatten)]
    point: Point,
    /// Location label ("Binnentuin blok C").
    #[arg(long, default_value = "")]
    location: String,
    /// Who reads it: buurt (everyone), organisers, participants.
    #[arg(long, default_value = "buurt", value_parser = audience)]
    audience: Audience,
}

/// Changes to a task; at least one. Schedule options left out keep the schedule's other parts.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("change").required(true).multiple(true)))]
pub(crate) struct TaskEditArgs {
    /// The task.
    #[arg(value_parser = entity_id)]
    id: EntityId,
    /// New title.
    #[arg(long, group = "change")]
    title: Option<String>,
    /// New description.
    #[arg(long, group = "change")]
    description: Option<String>,
    /// New location label.
    #[arg(long, group = "change")]
    location: Option<String>,
    #[command(flatten)]
    point: PointEdit,
    /// New recurrence rule.
    #[arg(long, group = "change", conflicts_with = "one_off")]
    rrule: Option<String>,
    /// Make the task one-off (no recurrence).
    #[arg(long, group = "change")]
    one_off: bool,
    /// New start date, YYYY-MM-DD.
    #[arg(long, group = "change", conflicts_with = "undated")]
    start: Option<String>,
    /// Remove the start date (only for a one-off).
    #[arg(long, group = "change")]
    undated: bool,
    /// New time zone.
    #[arg(long, group = "change")]
    tz: Option<String>,
}

fn standing_text(st: TaskStanding) -> String {
    match st {
        TaskStanding::Adopter => "adopter".to_owned(),
        TaskStanding::Backup { position } => format!("backup (number {position})"),
        TaskStanding::None => "not in".to_owned(),
    }
}

/// A task's view with what is due now and where the local member stands.
#[derive(Serialize)]
struct TaskShown<'a> {
    #[serde(flatten)]
    view: &'a TaskView,
    due: &'static str,
    you: TaskStanding,
}

/// Runs a task subcommand.
///
/// # Errors
///
/// What the core refuses (invalid input naming the field, not allowed, a finished or paused
/// task, an unknown id) and storage errors.
pub(crate) fn run(s: &Store, o: &Out, c: TaskCmd) -> Result<(), Error> {
    match c {
        TaskCmd::Create(a) => {
            let new = NewTask {
                audience: a.audience,
                title: a.title,
                description: a.description,
                lat: a.point.lat,
                lon: a.point.lon,
                location_label: a.location,
                rrule: a.rrule,
                dtstart: a.start,
                tz: a.tz,
                pledge_target: a.pledges,
            };
            o.id(s.create_task(&new)?.as_str())
        }
        TaskCmd::Show { id } => {
            let v = s.task(&id)?;
            let shown = TaskShown {
                due: v.due_state(s.now_ms()),
                you: v.standing(&s.identity().member),
                view: &v,
            };
            o.view(&shown)
        }
        TaskCmd::Edit(a) => {
            let id = a.id;
            let reschedule =
                a.rrule.is_some() || a.one_off || a.start.is_some() || a.undated || a.tz.is_some();
            let schedule = if reschedule {
                // A schedule is replaced as a whole: keep the parts not given.
                let v = s.task(&id)?;
                Some(TaskSchedule {
                    rrule: if a.one_off {
                        None
                    } else {
                        a.rrule.or(v.recurrence)
                    },
                    dtstart: if a.undated {
                        None
                    } else {
                        a.start.or(v.dtstart)
                    },
                    tz: a.tz.or(Some(v.tz)),
                })
            } else {
                None
            };
            let edit = TaskEdit {
                title: a.title,
                description: a.description,
                location_label: a.location,
                point: a.point.get(),
                schedule,
            };
            s.edit_task(&id, &edit)?;
            o.ok()
        }
        TaskCmd::Claim { id } => {
            let st = s.claim_task(&id)?;
            o.print(&st, || standing_text(st))
        }
        TaskCmd::Release { id } => {
            s.release_task(&id)?;
            o.ok()
        }
        TaskCmd::Pledge { id } => {
            s.pledge_task(&id)?;
            o.ok()
        }
        TaskCmd::Unpledge { id } => {
            s.unpledge_task(&id)?;
            o.ok()
        }
        TaskCmd::Record {
            id,
            date,
            outcome,
            note,
        } => {
            let outcome = Outcome::parse(&outcome)?;
            let date = match date {
                Some(d) => d,
                None => s.task(&id)?.current_occurrence(s.now_ms()).ok_or_else(|| {
                    Error::InvalidInput {
                        field: "date",
                        reason: "the task has no occurrence on or before today; give `--date`"
                            .into(),
                    }
                })?,
            };
            s.record_occurrence(&id, &date, outcome, &note)?;
            o.ok()
        }
        TaskCmd::Pause { id } => {
            s.pause_task(&id)?;
            o.ok()
        }
        TaskCmd::Resume { id } => {
            s.resume_task(&id)?;
            o.ok()
        }
        TaskCmd::Check { id, op } => match op {
            CheckCmd::Add { text } => o.id(&s.add_checklist_item(&id, &text)?),
            CheckCmd::Remove { item } => {
                s.remove_checklist_item(&id, item.trim())?;
                o.ok()
            }
        },
    }
}
