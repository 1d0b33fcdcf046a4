//! The words every layer shares: which [`Kind`] a document is, a member's [`Role`], and the
//! [`Ctx`] an operation runs in. They sit below documents and the domain so that `doc` (the
//! shape every document shares) needs nothing of `model` (the rules of each kind).

use serde::Serialize;

use crate::error::{Error, Result};
use crate::ids::MemberId;

/// The kinds of entity; one Automerge document each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A help request or offer.
    Help,
    /// A buurt event.
    Event,
    /// An ownership task (adopted by residents).
    Task,
    /// An environment issue report.
    Report,
    /// A member profile.
    Profile,
}

impl Kind {
    /// Every kind, in a stable order.
    pub const ALL: [Kind; 5] = [
        Kind::Help,
        Kind::Event,
        Kind::Task,
        Kind::Report,
        Kind::Profile,
    ];

    /// The name used in documents, SQL and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Help => "help",
            Kind::Event => "event",
            Kind::Task => "task",
            Kind::Report => "report",
            Kind::Profile => "profile",
        }
    }

    /// Parses [`Kind::as_str`]'s output.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for an unknown kind.
    pub fn parse(s: &str) -> Result<Kind> {
        Kind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                Error::invalid(
                    "kind",
                    format!("unknown kind `{s}` (help, event, task, report, profile)"),
                )
            })
    }
}

/// A member's role in a buurt. What each role may do is [`allowed`](crate::model::allowed)'s table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A resident of the buurt.
    Resident,
    /// A caretaker (huismeester, wijkbeheerder).
    Caretaker,
    /// A community organiser.
    Organiser,
    /// Housing-corporation staff or the residents' committee.
    Staff,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 4] = [
        Role::Resident,
        Role::Caretaker,
        Role::Organiser,
        Role::Staff,
    ];

    /// The name used in documents and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Resident => "resident",
            Role::Caretaker => "caretaker",
            Role::Organiser => "organiser",
            Role::Staff => "staff",
        }
    }

    /// Parses [`Role::as_str`]'s output.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for an unknown role.
    pub fn parse(s: &str) -> Result<Role> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                Error::invalid(
                    "role",
                    format!("unknown role `{s}` (resident, caretaker, organiser, staff)"),
                )
            })
    }
}

/// Who is acting, and when: passed to every operation.
#[derive(Debug, Clone, PartialEq)]
pub struct Ctx {
    /// The acting member.
    pub member: MemberId,
    /// Their role.
    pub role: Role,
    /// Their household label (used by pledges: "k distinct households").
    pub household: Option<String>,
    /// Now, ms since the epoch, from the store's clock.
    pub now: i64,
}
