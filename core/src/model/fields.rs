//! Who may write a kind's root fields after creation: one table per kind
//! (`model/<kind>/fields.rs`), read by the kind's operations before they write a field and by
//! [`crate::validate`] when it checks a received change (rule 10 there), so the rule lives in
//! one place.

use crate::error::{Error, Result};
use crate::ids::MemberId;
use crate::model::{Action, Ctx, Kind, Role, allowed, event, help, profile, report, task};

/// Who may write a root kind field after creation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Who {
    /// Nobody: the field is set at creation only.
    Nobody,
    /// Only the document's creator.
    Creator,
    /// The creator, or a role allowed to take the action.
    CreatorOr(Action),
    /// A role allowed to take the action.
    RoleFor(Action),
}

impl Who {
    /// Whether `member`, in `role`, may write a field of a document `creator` created.
    pub(crate) fn permits(self, member: &MemberId, role: Role, creator: &MemberId) -> bool {
        match self {
            Who::Nobody => false,
            Who::Creator => member == creator,
            Who::CreatorOr(action) => member == creator || allowed(action, role),
            Who::RoleFor(action) => allowed(action, role),
        }
    }
}

/// The root kind fields of one kind: `(field, who)`, and who writes keys not listed.
#[derive(Debug)]
pub(crate) struct Fields {
    /// The fields this schema knows, with who may write each.
    pub(crate) known: &'static [(&'static str, Who)],
    /// Who may write a key this schema does not know (a newer schema's field).
    pub(crate) unknown: Who,
}

impl Fields {
    /// Who may write `field`.
    pub(crate) fn who(&self, field: &str) -> Who {
        self.known
            .iter()
            .find(|(k, _)| *k == field)
            .map_or(self.unknown, |(_, who)| *who)
    }

    /// Whether `ctx`'s member and role may write `field` of a document `creator` created.
    pub(crate) fn permits(&self, field: &str, ctx: &Ctx, creator: &MemberId) -> bool {
        self.who(field).permits(&ctx.member, ctx.role, creator)
    }

    /// An operation's check before it writes root fields: each `(field, written)` whose
    /// `written` is set must be [`Fields::permits`]ted. An edit that writes none of them is
    /// checked as if it wrote them all, so that it is refused to whom any write would be.
    ///
    /// # Errors
    ///
    /// [`Error::NotAllowed`] with `refusal` when a field may not be written.
    pub(crate) fn require(
        &self,
        fields: &[(&str, bool)],
        ctx: &Ctx,
        creator: &MemberId,
        refusal: &str,
    ) -> Result<()> {
        let none = fields.iter().all(|(_, written)| !written);
        let permitted = fields
            .iter()
            .filter(|(_, written)| none || *written)
            .all(|(field, _)| self.permits(field, ctx, creator));
        if permitted {
            Ok(())
        } else {
            Err(Error::not_allowed(refusal))
        }
    }
}

/// The field table of `kind`.
pub(crate) fn fields(kind: Kind) -> &'static Fields {
    match kind {
        Kind::Help => &help::FIELDS,
        Kind::Event => &event::FIELDS,
        Kind::Task => &task::FIELDS,
        Kind::Report => &report::FIELDS,
        Kind::Profile => &profile::FIELDS,
    }
}

/// The action a role needs to create a document of `kind`; `None` for profiles (anyone, for
/// themself).
pub(crate) fn create_action(kind: Kind) -> Option<Action> {
    match kind {
        Kind::Help => help::CREATE,
        Kind::Event => event::CREATE,
        Kind::Task => task::CREATE,
        Kind::Report => report::CREATE,
        Kind::Profile => profile::CREATE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table in `validate.rs`'s docs (what a second client reads) says what the code
    /// tables say: every row's "who" is the code's, and every field of every kind has a row.
    #[test]
    fn the_documented_table_is_the_code_table() {
        let docs = include_str!("../validate.rs");
        let who = |text: &str| -> Who {
            let action = |t: &str| {
                let name = t.split("[`Action::").nth(1)?.split('`').next()?;
                ALL_ACTIONS
                    .iter()
                    .copied()
                    .find(|a| format!("{a:?}") == name)
            };
            if text.starts_with("nobody") {
                Who::Nobody
            } else if text.starts_with("the creator only") {
                Who::Creator
            } else if text.starts_with("the creator") {
                Who::CreatorOr(action(text).expect("an action after `or`"))
            } else {
                Who::RoleFor(action(text).expect("an action"))
            }
        };
        let mut documented = Vec::new();
        for line in docs.lines().filter_map(|l| l.strip_prefix("//! | ")) {
            let cells: Vec<&str> = line.split(" | ").map(str::trim).collect();
            let Some(kind) = Kind::ALL.iter().find(|k| k.as_str() == cells[0]) else {
                continue;
            };
            for field in cells[1].split(", ") {
                let field = field.trim_matches('`');
                documented.push((*kind, field.to_owned()));
                assert_eq!(
                    fields(*kind).who(field),
                    who(cells[2]),
                    "validate.rs documents {}.{field} as `{}`",
                    kind.as_str(),
                    cells[2]
                );
            }
        }
        for &kind in Kind::ALL {
            for (field, _) in fields(kind).known {
                assert!(
                    documented.contains(&(kind, (*field).to_owned())),
                    "{}.{field} is missing from validate.rs's table",
                    kind.as_str()
                );
            }
        }
    }

    /// Every action, for reading the documented table.
    const ALL_ACTIONS: &[Action] = &[
        Action::CreateHelp,
        Action::CreateReport,
        Action::CreateTask,
        Action::MatchHelpForOthers,
        Action::CreateEvent,
        Action::ManageEvent,
        Action::ManageTask,
        Action::WorkReport,
        Action::TriageReport,
    ];
}
