//! Environment issue report subcommands.
//!
//! Each subcommand is one call into the core. The core validates every value and names the
//! offending field in its error; clap checks the shape of the command line (ids, numbers,
//! times, which flags go together).

use clap::{ArgGroup, Args, Subcommand};
use noaber_core::model::report::{NewReport, ReportTransition};
use noaber_core::{Audience, EntityId, Error, Store};

use crate::args::{audience, entity_id};
use crate::out::Out;

/// Report subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum ReportCmd {
    /// Report an issue at an exact point; prints the new id.
    Create(NewReportArgs),
    /// Show one report: status, timeline, "me too"s, response, photos.
    Show {
        /// The report.
        #[arg(value_parser = entity_id)]
        id: EntityId,
    },
    /// Replace the description (the reporter, caretakers, staff).
    Edit {
        /// The report.
        #[arg(value_parser = entity_id)]
        id: EntityId,
        /// The new description.
        #[arg(long)]
        description: String,
    },
    /// Say it has been seen (caretakers, staff).
    Acknowledge {
        /// The report.
        #[arg(value_parser = entity_id)]
        id: EntityId,
    },
    /// Say work is planned (caretakers, staff).
    Plan {
        /// The report.
        #[arg(value_parser = entity_id)]
        id: EntityId,
    },
    /// Say work has started (caretakers, staff).
    Start {
        /// The report.
        #[arg(value_parser = entity_id)]
        id: EntityId,
    },
    /// Say it is fixed; the reporter then confirms or reopens (caretakers, staff).
    Resolve {
        /// The report.
        #[arg(value_parser = entity_id)]
        id: EntityId,
    },
    /// Confirm the fix (the reporter).
    Confirm {
        /// The report.
        #[arg(value_parser = entity_id)]
        id: EntityId,
    },
    /// Say a resolved report is not fixed (the reporter, staff).
    Reopen {
        /// The report.
        #[arg(value_parser = entity_id)]
        id: EntityId,
        /// What is still wrong.
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Reject the report (caretakers, organisers, staff).
    Reject {
        /// The report.
        #[arg(value_parser = entity_id)]
        id: EntityId,
        /// Why (required).
        #[arg(long)]
        reason: String,
    },
    /// Mark the report a duplicate of another (caretakers, organisers, staff).
    Duplicate {
        /// The report.
        #[arg(value_parser = entity_id)]
        id: EntityId,
        /// The report it duplicates.
        #[arg(long, value_parser = entity_id)]
        of: EntityId,
    },
    /// Refer the report to another party (caretakers, organisers, staff).
    Refer {
        /// The report.
        #[arg(value_parser = entity_id)]
        id: EntityId,
        /// Who takes it over (the municipality, a contractor).
        #[arg(long)]
        to: String,
    },
    /// Say "me too": you see it as well.
    MeToo {
        /// The report.
        #[arg(value_parser = entity_id)]
        id: EntityId,
    },
    /// Withdraw your "me too".
    WithdrawMeToo {
        /// The report.
        #[arg(value_parser = entity_id)]
        id: EntityId,
    },
    /// Set or clear the party responsible (caretakers, organisers, staff).
    #[command(group(ArgGroup::new("party_or_clear").required(true)))]
    Responsible {
        /// The report.
        #[arg(value_parser = entity_id)]
        id: EntityId,
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
        #[arg(value_parser = entity_id)]
        id: EntityId,
        /// The response text.
        text: String,
    },
    /// Attach photos (JPEG, PNG or WebP): stripped of EXIF/GPS and all other metadata on this
    /// device, then uploaded after the report syncs.
    Photo {
        /// The report.
        #[arg(value_parser = entity_id)]
        id: EntityId,
        /// Photo files.
        #[arg(required = true)]
        paths: Vec<std::path::PathBuf>,
    },
}

/// The fields of a new report.
#[derive(Debug, Args)]
pub(crate) struct NewReportArgs {
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
    #[arg(long, default_value = "buurt", value_parser = audience)]
    audience: Audience,
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
pub(crate) fn run(s: &Store, o: &Out, c: ReportCmd) -> Result<(), Error> {
    let step = |id: EntityId, t: ReportTransition| -> Result<(), Error> {
        s.transition_report(&id, t)?;
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
        ReportCmd::Show { id } => o.view(&s.report(&id)?),
        ReportCmd::Edit { id, description } => {
            s.edit_report(&id, &description)?;
            o.ok()
        }
        ReportCmd::Acknowledge { id } => step(id, ReportTransition::Acknowledge),
        ReportCmd::Plan { id } => step(id, ReportTransition::Plan),
        ReportCmd::Start { id } => step(id, ReportTransition::Start),
        ReportCmd::Resolve { id } => step(id, ReportTransition::Resolve),
        ReportCmd::Confirm { id } => step(id, ReportTransition::Confirm),
        ReportCmd::Reopen { id, reason } => step(id, ReportTransition::Reopen { reason }),
        ReportCmd::Reject { id, reason } => step(id, ReportTransition::Reject { reason }),
        ReportCmd::Duplicate { id, of } => step(id, ReportTransition::Duplicate { of }),
        ReportCmd::Refer { id, to } => step(id, ReportTransition::Refer { to }),
        ReportCmd::MeToo { id } => {
            s.me_too_report(&id)?;
            o.ok()
        }
        ReportCmd::WithdrawMeToo { id } => {
            s.withdraw_me_too(&id)?;
            o.ok()
        }
        ReportCmd::Responsible { id, party, clear } => {
            let party = if clear {
                String::new()
            } else {
                party.unwrap_or_default()
            };
            s.set_report_responsible(&id, &party)?;
            o.ok()
        }
        ReportCmd::Response { id, text } => {
            s.set_report_response(&id, &text)?;
            o.ok()
        }
        ReportCmd::Photo { id, paths } => {
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
