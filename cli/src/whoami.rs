//! `whoami`: show or set who this device acts as.

use clap::Args;
use noaber_core::{Error, Role, Store};

use crate::args::role;
use crate::out::Out;

/// The arguments of `whoami`; with none it only shows.
#[derive(Debug, Args)]
pub(crate) struct WhoamiArgs {
    /// Set the role this device acts as (resident, caretaker, organiser, staff).
    #[arg(long, value_parser = role())]
    role: Option<Role>,
    /// Set your display name.
    #[arg(long)]
    name: Option<String>,
    /// Set your household / complex label.
    #[arg(long)]
    household: Option<String>,
}

/// Shows the identity, after setting what the arguments give.
pub(crate) fn run(store: &Store, out: &Out, a: WhoamiArgs) -> Result<(), Error> {
    let mut id = store.identity();
    if a.role.is_some() || a.name.is_some() || a.household.is_some() {
        let role = a.role.unwrap_or(id.role);
        let name = a.name.or(id.display_name.clone());
        let household = a.household.or(id.household.clone());
        id = store.set_identity(role, name.as_deref(), household.as_deref())?;
    }
    out.print(&id, || {
        format!(
            "member: {}\nrole: {}\nname: {}\nhousehold: {}",
            id.member,
            id.role.as_str(),
            id.display_name.as_deref().unwrap_or("-"),
            id.household.as_deref().unwrap_or("-")
        )
    })
}
