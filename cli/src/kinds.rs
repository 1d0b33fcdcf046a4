//! Subcommands of the event, task, report and profile kinds.
//!
//! Each subcommand is one call into the core (a few read the derived view afterwards to say
//! where the local member now stands). The core validates every value and names the offending
//! field in its error; clap only checks the shape of the command line (numbers, times, which
//! flags go together).

use clap::builder::PossibleValuesParser;
use clap::{ArgGroup, Args, Subcommand};
use noaber_core::model::event::{Attendance, EventEdit, NewEvent, Rsvp, ShiftSlot};
use noaber_core::model::profile::{NewProfile, ProfileEdit};
use noaber_core::model::report::{NewReport, ReportTransition};
use noaber_core::model::task::{NewTask, Outcome, TaskEdit, TaskSchedule, TaskStanding, TaskView};
use noaber_core::{EntityId, Error, Store};
use serde::Serialize;

use crate::{Out, entity, time};

// ---------------------------------------------------------------------------------------------
// Events

/// Event subcommands.
#[derive(Debug, Subcommand)]
pub enum EventCmd {
    /// Create an event (organisers and staff); prints the new id.
    Create(NewEventArgs),
    /// Show one event: answers, waitlist, roles, shifts and where you stand.
    Show {
        /// The event.
        id: String,
    },
    /// Edit an event's fields (organisers, staff, the creator).
    Edit(EventEditArgs),
    /// Answer an event for yourself; prints where you stand.
    Rsvp {
        /// The event.
        id: String,
        /// Your answer.
        #[arg(value_parser = PossibleValuesParser::new(["going", "maybe", "declined"]))]
        answer: String,
    },
    /// Add a volunteer role (organisers and staff); prints the role id.
    Role {
        /// The event.
        id: String,
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
        id: String,
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
        id: String,
        /// The shift id.
        shift: String,
    },
    /// Withdraw yourself from a shift (the first reserve moves up).
    Withdraw {
        /// The event.
        id: String,
        /// The shift id.
        shift: String,
    },
    /// Cancel the event (organisers and staff); everyone going or volunteering is told.
    Cancel {
        /// The event.
        id: String,
        /// Why (shown to those who are told).
        #[arg(long, default_value = "")]
        reason: String,
    },
}

/// The fields of a new event.
#[derive(Debug, Args)]
pub struct NewEventArgs {
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
    /// Latitude of an exact point (with --lon).
    #[arg(long, requires = "lon", allow_negative_numbers = true)]
    lat: Option<f64>,
    /// Longitude of an exact point (with --lat).
    #[arg(long, requires = "lat", allow_negative_numbers = true)]
    lon: Option<f64>,
    /// Who reads it: buurt (everyone), organisers, participants.
    #[arg(long, default_value = "buurt", value_parser = crate::audience)]
    pub audience: noaber_core::Audience,
}

/// Changes to an event; at least one.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("change").required(true).multiple(true)))]
pub struct EventEditArgs {
    /// The event.
    id: String,
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
    /// New latitude (with --lon).
    #[arg(
        long,
        group = "change",
        requires = "lon",
        allow_negative_numbers = true
    )]
    lat: Option<f64>,
    /// New longitude (with --lat).
    #[arg(
        long,
        group = "change",
        requires = "lat",
        allow_negative_numbers = true
    )]
    lon: Option<f64>,
    /// Remove the exact point.
    #[arg(long, group = "change", conflicts_with_all = ["lat", "lon"])]
    no_point: bool,
}

/// A point from `--lat`/`--lon` (clap makes sure both or neither are given).
fn point(lat: Option<f64>, lon: Option<f64>) -> Option<(f64, f64)> {
    lat.zip(lon)
}

/// A point edit: `--lat`/`--lon` set it, `--no-point` removes it.
fn point_edit(lat: Option<f64>, lon: Option<f64>, remove: bool) -> Option<Option<(f64, f64)>> {
    if remove {
        Some(None)
    } else {
        point(lat, lon).map(Some)
    }
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
pub fn event(s: &Store, o: &Out, c: EventCmd) -> Result<(), Error> {
    match c {
        EventCmd::Create(a) => {
            let new = NewEvent {
                audience: a.audience,
                title: a.title,
                description: a.description,
                starts_at: a.start,
                ends_at: a.end,
                place: a.place,
                point: point(a.lat, a.lon),
                capacity: a.capacity,
            };
            o.id(s.create_event(&new)?.as_str())
        }
        EventCmd::Show { id } => {
            let v = s.event(&entity(&id)?)?;
            let you = v.attendance(&s.identity().member);
            o.view(&Shown { view: &v, you })
        }
        EventCmd::Edit(a) => {
            let edit = EventEdit {
                title: a.title,
                description: a.description,
                place: a.place,
                point: point_edit(a.lat, a.lon, a.no_point),
                starts_at: a.start,
                ends_at: a.end,
                capacity: if a.unlimited {
                    Some(None)
                } else {
                    a.capacity.map(Some)
                },
            };
            s.edit_event(&entity(&a.id)?, &edit)?;
            o.ok()
        }
        EventCmd::Rsvp { id, answer } => {
            let standing = s.rsvp_event(&entity(&id)?, Rsvp::parse(&answer)?)?;
            o.print(&standing, || attendance_text(standing))
        }
        EventCmd::Role {
            id,
            name,
            description,
        } => o.id(&s.add_event_role(&entity(&id)?, &name, &description)?),
        EventCmd::Shift {
            id,
            role,
            start,
            end,
            needed,
        } => o.id(&s.add_event_shift(&entity(&id)?, role.trim(), start, end, needed)?),
        EventCmd::Signup { id, shift } => {
            let slot = s.signup_shift(&entity(&id)?, shift.trim())?;
            o.print(&slot, || slot_text(slot))
        }
        EventCmd::Withdraw { id, shift } => {
            s.withdraw_shift(&entity(&id)?, shift.trim())?;
            o.ok()
        }
        EventCmd::Cancel { id, reason } => {
            s.cancel_event(&entity(&id)?, &reason)?;
            o.ok()
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Tasks

/// Task subcommands.
#[derive(Debug, Subcommand)]
pub enum TaskCmd {
    /// Create an ownership task; prints the new id.
    Create(NewTaskArgs),
    /// Show one task: adopter, backups, pledges, checklist, occurrences, what is due.
    Show {
        /// The task.
        id: String,
    },
    /// Edit a task's fields or schedule (the creator, caretakers, organisers, staff); schedule
    /// parts left out are kept.
    Edit(TaskEditArgs),
    /// Adopt the task, or become a backup when it has an adopter; prints which.
    Claim {
        /// The task.
        id: String,
    },
    /// Step back as adopter or backup (the first backup takes over).
    Release {
        /// The task.
        id: String,
    },
    /// Pledge your household to carry a task in pledge mode.
    Pledge {
        /// The task.
        id: String,
    },
    /// Withdraw your pledge.
    Unpledge {
        /// The task.
        id: String,
    },
    /// Record an occurrence as done or skipped (adopter, backups, caretakers, organisers).
    Record {
        /// The task.
        id: String,
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
        id: String,
    },
    /// Resume a paused task.
    Resume {
        /// The task.
        id: String,
    },
    /// Add or remove checklist items.
    Check {
        /// The task.
        id: String,
        #[command(subcommand)]
        op: CheckCmd,
    },
}

/// Checklist subcommands.
#[derive(Debug, Subcommand)]
pub enum CheckCmd {
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
pub struct NewTaskArgs {
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
    /// Latitude of an exact point (with --lon).
    #[arg(long, requires = "lon", allow_negative_numbers = true)]
    lat: Option<f64>,
    /// Longitude of an exact point (with --lat).
    #[arg(long, requires = "lat", allow_negative_numbers = true)]
    lon: Option<f64>,
    /// Location label ("Binnentuin blok C").
    #[arg(long, default_value = "")]
    location: String,
    /// Who reads it: buurt (everyone), organisers, participants.
    #[arg(long, default_value = "buurt", value_parser = crate::audience)]
    pub audience: noaber_core::Audience,
}

/// Changes to a task; at least one. Schedule options left out keep the schedule's other parts.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("change").required(true).multiple(true)))]
pub struct TaskEditArgs {
    /// The task.
    id: String,
    /// New title.
    #[arg(long, group = "change")]
    title: Option<String>,
    /// New description.
    #[arg(long, group = "change")]
    description: Option<String>,
    /// New location label.
    #[arg(long, group = "change")]
    location: Option<String>,
    /// New latitude (with --lon).
    #[arg(
        long,
        group = "change",
        requires = "lon",
        allow_negative_numbers = true
    )]
    lat: Option<f64>,
    /// New longitude (with --lat).
    #[arg(
        long,
        group = "change",
        requires = "lat",
        allow_negative_numbers = true
    )]
    lon: Option<f64>,
    /// Remove the exact point.
    #[arg(long, group = "change", conflicts_with_all = ["lat", "lon"])]
    no_point: bool,
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
pub fn task(s: &Store, o: &Out, c: TaskCmd) -> Result<(), Error> {
    match c {
        TaskCmd::Create(a) => {
            let new = NewTask {
                audience: a.audience,
                title: a.title,
                description: a.description,
                lat: a.lat,
                lon: a.lon,
                location_label: a.location,
                rrule: a.rrule,
                dtstart: a.start,
                tz: a.tz,
                pledge_target: a.pledges,
            };
            o.id(s.create_task(&new)?.as_str())
        }
        TaskCmd::Show { id } => {
            let v = s.task(&entity(&id)?)?;
            let shown = TaskShown {
                due: v.due_state(s.now_ms()),
                you: v.standing(&s.identity().member),
                view: &v,
            };
            o.view(&shown)
        }
        TaskCmd::Edit(a) => {
            let id = entity(&a.id)?;
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
                point: point_edit(a.lat, a.lon, a.no_point),
                schedule,
            };
            s.edit_task(&id, &edit)?;
            o.ok()
        }
        TaskCmd::Claim { id } => {
            let st = s.claim_task(&entity(&id)?)?;
            o.print(&st, || standing_text(st))
        }
        TaskCmd::Release { id } => {
            s.release_task(&entity(&id)?)?;
            o.ok()
        }
        TaskCmd::Pledge { id } => {
            s.pledge_task(&entity(&id)?)?;
            o.ok()
        }
        TaskCmd::Unpledge { id } => {
            s.unpledge_task(&entity(&id)?)?;
            o.ok()
        }
        TaskCmd::Record {
            id,
            date,
            outcome,
            note,
        } => {
            let id = entity(&id)?;
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
            s.pause_task(&entity(&id)?)?;
            o.ok()
        }
        TaskCmd::Resume { id } => {
            s.resume_task(&entity(&id)?)?;
            o.ok()
        }
        TaskCmd::Check { id, op } => match op {
            CheckCmd::Add { text } => o.id(&s.add_checklist_item(&entity(&id)?, &text)?),
            CheckCmd::Remove { item } => {
                s.remove_checklist_item(&entity(&id)?, item.trim())?;
                o.ok()
            }
        },
    }
}

// ---------------------------------------------------------------------------------------------
// Reports

/// Report subcommands.
#[derive(Debug, Subcommand)]
pub enum ReportCmd {
    /// Report an issue at an exact point; prints the new id.
    Create(NewReportArgs),
    /// Show one report: status, timeline, "me too"s, response, photos.
    Show {
        /// The report.
        id: String,
    },
    /// Replace the description (the reporter, caretakers, staff).
    Edit {
        /// The report.
        id: String,
        /// The new description.
        #[arg(long)]
        description: String,
    },
    /// Say it has been seen (caretakers, staff).
    Acknowledge {
        /// The report.
        id: String,
    },
    /// Say work is planned (caretakers, staff).
    Plan {
        /// The report.
        id: String,
    },
    /// Say work has started (caretakers, staff).
    Start {
        /// The report.
        id: String,
    },
    /// Say it is fixed; the reporter then confirms or reopens (caretakers, staff).
    Resolve {
        /// The report.
        id: String,
    },
    /// Confirm the fix (the reporter).
    Confirm {
        /// The report.
        id: String,
    },
    /// Say a resolved report is not fixed (the reporter, staff).
    Reopen {
        /// The report.
        id: String,
        /// What is still wrong.
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Reject the report (caretakers, organisers, staff).
    Reject {
        /// The report.
        id: String,
        /// Why (required).
        #[arg(long)]
        reason: String,
    },
    /// Mark the report a duplicate of another (caretakers, organisers, staff).
    Duplicate {
        /// The report.
        id: String,
        /// The report it duplicates.
        #[arg(long)]
        of: String,
    },
    /// Refer the report to another party (caretakers, organisers, staff).
    Refer {
        /// The report.
        id: String,
        /// Who takes it over (the municipality, a contractor).
        #[arg(long)]
        to: String,
    },
    /// Say "me too": you see it as well.
    MeToo {
        /// The report.
        id: String,
    },
    /// Withdraw your "me too".
    WithdrawMeToo {
        /// The report.
        id: String,
    },
    /// Set or clear the party responsible (caretakers, organisers, staff).
    #[command(group(ArgGroup::new("party_or_clear").required(true)))]
    Responsible {
        /// The report.
        id: String,
        /// The party ("Gemeente Utrecht", "Aannemer De Vries").
        #[arg(group = "party_or_clear")]
        party: Option<String>,
        /// Clear the party responsible.
        #[arg(long, group = "party_or_clear")]
        clear: bool,
    },
    /// Replace the public response (caretakers, organisers, staff).
    Response {
        /// The report.
        id: String,
        /// The response text.
        text: String,
    },
    /// Attach photos (JPEG, PNG or WebP): stripped of EXIF/GPS and all other metadata on this
    /// device, then uploaded after the report syncs.
    Photo {
        /// The report.
        id: String,
        /// Photo files.
        #[arg(required = true)]
        paths: Vec<std::path::PathBuf>,
    },
}

/// The fields of a new report.
#[derive(Debug, Args)]
pub struct NewReportArgs {
    /// litter, graffiti, lighting, damage, pests, overgrowth, bulky_waste, unsafe_situation,
    /// other.
    #[arg(long)]
    category: String,
    /// What is wrong.
    #[arg(long, default_value = "")]
    description: String,
    /// Latitude of the exact point.
    #[arg(long, allow_negative_numbers = true)]
    lat: f64,
    /// Longitude of the exact point.
    #[arg(long, allow_negative_numbers = true)]
    lon: f64,
    /// Complex name or number.
    #[arg(long)]
    complex: Option<String>,
    /// Floor ("kelder", "3").
    #[arg(long)]
    floor: Option<String>,
    /// Stairwell ("portiek 12-20").
    #[arg(long)]
    stairwell: Option<String>,
    /// low, normal, high, urgent.
    #[arg(long, default_value = "normal")]
    severity: String,
    /// Who reads it: buurt (everyone), organisers, participants.
    #[arg(long, default_value = "buurt", value_parser = crate::audience)]
    pub audience: noaber_core::Audience,
    /// A photo to attach (JPEG, PNG or WebP; repeatable). Its metadata (EXIF, GPS, ...) is
    /// removed before it is stored; it uploads after the report syncs.
    #[arg(long = "photo")]
    photos: Vec<std::path::PathBuf>,
}

/// Reads a photo file and checks it is a JPEG, PNG or WebP within the size limit (the store
/// strips its metadata when it is attached).
fn read_photo(path: &std::path::Path) -> Result<Vec<u8>, Error> {
    use std::io::Read;
    let f = std::fs::File::open(path).map_err(|e| Error::InvalidInput {
        field: "photo",
        reason: format!("cannot open `{}`: {e}", path.display()),
    })?;
    let mut bytes = Vec::new();
    f.take(noaber_core::model::report::MAX_PHOTO_BYTES.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| Error::InvalidInput {
            field: "photo",
            reason: format!("cannot read `{}`: {e}", path.display()),
        })?;
    noaber_core::photo::clean(&bytes).map_err(|e| Error::InvalidInput {
        field: "photo",
        reason: format!("`{}`: {e}", path.display()),
    })?;
    Ok(bytes)
}

/// Runs a report subcommand.
///
/// # Errors
///
/// What the core refuses (invalid input naming the field, not allowed, a step that is not
/// possible from the report's status, an unknown id) and storage errors.
pub fn report(s: &Store, o: &Out, c: ReportCmd) -> Result<(), Error> {
    let step = |id: &str, t: ReportTransition| -> Result<(), Error> {
        s.transition_report(&entity(id)?, t)?;
        o.ok()
    };
    match c {
        ReportCmd::Create(a) => {
            let new = NewReport {
                audience: a.audience,
                category: a.category,
                description: a.description,
                lat: a.lat,
                lon: a.lon,
                complex: a.complex,
                floor: a.floor,
                stairwell: a.stairwell,
                severity: a.severity,
            };
            // Every photo is read and checked before anything is written: a bad file leaves
            // no report behind.
            let photos = a
                .photos
                .iter()
                .map(|p| read_photo(p))
                .collect::<Result<Vec<_>, _>>()?;
            let id = s.create_report(&new)?;
            for bytes in &photos {
                s.attach_photo(&id, bytes)?;
            }
            o.id(id.as_str())
        }
        ReportCmd::Show { id } => o.view(&s.report(&entity(&id)?)?),
        ReportCmd::Edit { id, description } => {
            s.edit_report(&entity(&id)?, &description)?;
            o.ok()
        }
        ReportCmd::Acknowledge { id } => step(&id, ReportTransition::Acknowledge),
        ReportCmd::Plan { id } => step(&id, ReportTransition::Plan),
        ReportCmd::Start { id } => step(&id, ReportTransition::Start),
        ReportCmd::Resolve { id } => step(&id, ReportTransition::Resolve),
        ReportCmd::Confirm { id } => step(&id, ReportTransition::Confirm),
        ReportCmd::Reopen { id, reason } => step(&id, ReportTransition::Reopen { reason }),
        ReportCmd::Reject { id, reason } => step(&id, ReportTransition::Reject { reason }),
        ReportCmd::Duplicate { id, of } => {
            let of = entity(&of)?;
            step(&id, ReportTransition::Duplicate { of })
        }
        ReportCmd::Refer { id, to } => step(&id, ReportTransition::Refer { to }),
        ReportCmd::MeToo { id } => {
            s.me_too_report(&entity(&id)?)?;
            o.ok()
        }
        ReportCmd::WithdrawMeToo { id } => {
            s.withdraw_me_too(&entity(&id)?)?;
            o.ok()
        }
        ReportCmd::Responsible { id, party, clear } => {
            let party = if clear {
                String::new()
            } else {
                party.unwrap_or_default()
            };
            s.set_report_responsible(&entity(&id)?, &party)?;
            o.ok()
        }
        ReportCmd::Response { id, text } => {
            s.set_report_response(&entity(&id)?, &text)?;
            o.ok()
        }
        ReportCmd::Photo { id, paths } => {
            let id = entity(&id)?;
            let photos = paths
                .iter()
                .map(|p| read_photo(p))
                .collect::<Result<Vec<_>, _>>()?;
            let refs = photos
                .iter()
                .map(|b| s.attach_photo(&id, b))
                .collect::<Result<Vec<_>, _>>()?;
            o.print(&refs, || {
                refs.iter()
                    .map(|r| {
                        format!(
                            "{} ({}, {}×{}, {} bytes)",
                            r.hash, r.mime, r.width, r.height, r.size
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Profiles

/// Profile subcommands.
#[derive(Debug, Subcommand)]
pub enum ProfileCmd {
    /// Create your profile (one per member); prints the new id.
    Create {
        /// Display name; your `whoami` name when left out.
        #[arg(long)]
        name: Option<String>,
        /// Household / complex label (never a house number); your `whoami` household when
        /// left out.
        #[arg(long)]
        household: Option<String>,
        /// A skill ("fietsen repareren"); repeat for more.
        #[arg(long = "skill")]
        skills: Vec<String>,
        /// When you have time ("doordeweeks 's avonds").
        #[arg(long, default_value = "")]
        availability: String,
    },
    /// Show one profile.
    Show {
        /// The profile.
        id: String,
    },
    /// Show your own profile (JSON `null` when you have none).
    Mine,
    /// Edit your profile.
    #[command(group(ArgGroup::new("change").required(true).multiple(true)))]
    Edit {
        /// The profile; your own when left out.
        id: Option<String>,
        /// New display name.
        #[arg(long, group = "change")]
        name: Option<String>,
        /// New household label; "" clears it.
        #[arg(long, group = "change")]
        household: Option<String>,
        /// New availability text.
        #[arg(long, group = "change")]
        availability: Option<String>,
    },
    /// Add or remove skills on your profile.
    #[command(subcommand)]
    Skill(SkillCmd),
}

/// Skill subcommands.
#[derive(Debug, Subcommand)]
pub enum SkillCmd {
    /// Add a skill (nothing changes when it is already listed, in any letter case).
    Add {
        /// The skill.
        skill: String,
        /// The profile; your own when left out.
        #[arg(long)]
        id: Option<String>,
    },
    /// Remove a skill (matched in any letter case).
    Remove {
        /// The skill.
        skill: String,
        /// The profile; your own when left out.
        #[arg(long)]
        id: Option<String>,
    },
}

/// The profile `id` names, or the local member's own.
fn profile_id(s: &Store, id: Option<&str>) -> Result<EntityId, Error> {
    match id {
        Some(id) => entity(id),
        None => match s.my_profile()? {
            Some(p) => entity(&p.id),
            None => Err(Error::NotFound {
                what: "profile for member",
                id: s.identity().member.as_str().to_owned(),
            }),
        },
    }
}

/// Runs a profile subcommand.
///
/// # Errors
///
/// What the core refuses (invalid input naming the field, someone else's profile, a second
/// profile, an unknown id or skill) and storage errors.
pub fn profile(s: &Store, o: &Out, c: ProfileCmd) -> Result<(), Error> {
    match c {
        ProfileCmd::Create {
            name,
            household,
            skills,
            availability,
        } => {
            let me = s.identity();
            let new = NewProfile {
                display_name: name.or(me.display_name).unwrap_or_default(),
                household: household.or(me.household),
                skills,
                availability,
            };
            o.id(s.create_profile(&new)?.as_str())
        }
        ProfileCmd::Show { id } => o.view(&s.profile(&entity(&id)?)?),
        ProfileCmd::Mine => match s.my_profile()? {
            Some(p) => o.view(&p),
            None => o.print(&serde_json::Value::Null, || "(no profile yet)".to_owned()),
        },
        ProfileCmd::Edit {
            id,
            name,
            household,
            availability,
        } => {
            let edit = ProfileEdit {
                display_name: name,
                household,
                availability,
            };
            s.edit_profile(&profile_id(s, id.as_deref())?, &edit)?;
            o.ok()
        }
        ProfileCmd::Skill(SkillCmd::Add { skill, id }) => {
            s.add_skill(&profile_id(s, id.as_deref())?, &skill)?;
            o.ok()
        }
        ProfileCmd::Skill(SkillCmd::Remove { skill, id }) => {
            s.remove_skill(&profile_id(s, id.as_deref())?, &skill)?;
            o.ok()
        }
    }
}
