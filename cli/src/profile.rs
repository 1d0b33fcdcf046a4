//! Member profile subcommands.
//!
//! Each subcommand is one call into the core. The core validates every value and names the
//! offending field in its error; clap checks the shape of the command line (ids, numbers,
//! times, which flags go together).

use clap::{ArgGroup, Subcommand};
use noaber_core::model::profile::{NewProfile, ProfileEdit};
use noaber_core::{EntityId, Error, Store};

use crate::args::entity_id;
use crate::out::Out;

/// Profile subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum ProfileCmd {
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
        #[arg(value_parser = entity_id)]
        id: EntityId,
    },
    /// Show your own profile (JSON `null` when you have none).
    Mine,
    /// Edit your profile.
    #[command(group(ArgGroup::new("change").required(true).multiple(true)))]
    Edit {
        /// The profile; your own when left out.
        #[arg(value_parser = entity_id)]
        id: Option<EntityId>,
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
pub(crate) enum SkillCmd {
    /// Add a skill (nothing changes when it is already listed, in any letter case).
    Add {
        /// The skill.
        skill: String,
        /// The profile; your own when left out.
        #[arg(long, value_parser = entity_id)]
        id: Option<EntityId>,
    },
    /// Remove a skill (matched in any letter case).
    Remove {
        /// The skill.
        skill: String,
        /// The profile; your own when left out.
        #[arg(long, value_parser = entity_id)]
        id: Option<EntityId>,
    },
}

/// The profile `id` names, or the local member's own.
fn profile_id(s: &Store, id: Option<EntityId>) -> Result<EntityId, Error> {
    match id {
        Some(id) => Ok(id),
        None => match s.my_profile()? {
            Some(p) => EntityId::parse(&p.id),
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
pub(crate) fn run(s: &Store, o: &Out, c: ProfileCmd) -> Result<(), Error> {
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
        ProfileCmd::Show { id } => o.view(&s.profile(&id)?),
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
            s.edit_profile(&profile_id(s, id)?, &edit)?;
            o.ok()
        }
        ProfileCmd::Skill(SkillCmd::Add { skill, id }) => {
            s.add_skill(&profile_id(s, id)?, &skill)?;
            o.ok()
        }
        ProfileCmd::Skill(SkillCmd::Remove { skill, id }) => {
            s.remove_skill(&profile_id(s, id)?, &skill)?;
            o.ok()
        }
    }
}
