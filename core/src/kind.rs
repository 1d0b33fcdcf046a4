//! The words every layer shares: which [`Kind`] a document is, a member's [`Role`], and the
//! [`Ctx`] an operation runs in. They sit below documents and the domain so that `doc` (the
//! shape every document shares) needs nothing of `model` (the rules of each kind).

use serde::Serialize;

use crate::error::{Error, Result};
use crate::ids::MemberId;

/// Declares [`Kind`] from one list, so a new kind cannot be missing from [`Kind::ALL`], from
/// [`Kind::as_str`] or from the parse error's list of names.
macro_rules! kinds {
    ($($(#[$m:meta])* $var:ident = $s:literal,)+) => {
        /// The kinds of entity; one Automerge document each.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(rename_all = "snake_case")]
        pub enum Kind {
            $($(#[$m])* $var,)+
        }

        impl Kind {
            /// Every kind, in a stable order (the declaration order, which is also `Ord`'s).
            pub const ALL: &'static [Kind] = &[$(Kind::$var,)+];

            /// The name used in documents, SQL and the CLI.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Kind::$var => $s,)+
                }
            }
        }
    };
}

kinds! {
    /// A help request or offer.
    Help = "help",
    /// A buurt event.
    Event = "event",
    /// An ownership task (adopted by residents).
    Task = "task",
    /// An environment issue report.
    Report = "report",
    /// A member profile.
    Profile = "profile",
}

impl Kind {
    /// Parses [`Kind::as_str`]'s output.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for an unknown kind.
    pub fn parse(s: &str) -> Result<Kind> {
        Kind::ALL
            .iter()
            .copied()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
                Error::invalid("kind", format!("unknown kind `{s}` ({})", names.join(", ")))
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
