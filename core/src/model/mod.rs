//! The neighbourhood's domain: one module per entity kind.
//!
//! Each kind's module owns, for its documents:
//! - the schema of the document (module docs);
//! - the operations, which validate against the *derived* current state and then append
//!   entries or edit fields of an [`automerge::AutoCommit`];
//! - `derive`, the deterministic rule from document to view (status, winners, waitlists), with
//!   the concurrency rule written down beside it;
//! - `project`, which turns a view into the [`Projection`] rows the store keeps in SQL.
//!
//! Modules never touch SQL and never do I/O: the store calls them inside its transaction.

use automerge::ReadDoc;
use serde::Serialize;

pub use crate::kind::{Ctx, Kind, Role};
pub use detail::{DETAIL_VERSION, Detail};
pub(crate) use fields::{create_action, fields};

use crate::error::{Error, Result};
use crate::ids::MemberId;

/// Declares a closed set of names written into documents and SQL: the enum, every value in
/// declaration order (`ALL`), its stored name (`as_str`, also its JSON), `parse`, and
/// comparison with a `&str`. Declare values in the order of their names, so sorting by value
/// sorts as the stored names did (tested for each set).
macro_rules! names {
    ($(#[$m:meta])* pub enum $name:ident { $($(#[$vm:meta])* $var:ident = $s:literal,)+ }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name {
            $($(#[$vm])* $var,)+
        }

        impl $name {
            /// Every value, in declaration order (which is the order of their names).
            pub const ALL: &'static [$name] = &[$($name::$var,)+];

            /// The name stored in documents and SQL.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$var => $s,)+
                }
            }

            /// Parses [`Self::as_str`]'s output; `None` for a name this version does not know.
            pub fn parse(s: &str) -> Option<$name> {
                match s {
                    $($s => Some($name::$var),)+
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }

        impl PartialEq<$name> for String {
            fn eq(&self, other: &$name) -> bool {
                self.as_str() == other.as_str()
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
}

pub mod audience;
pub mod comment;
pub mod detail;
pub mod event;
pub(crate) mod fields;
pub mod help;
pub mod profile;
pub mod report;
pub mod rrule;
pub mod task;

/// Actions whose permission depends on the role alone. Actions that depend on the member's
/// relation to the entity (only the requester may cancel, only an RSVP for oneself) are
/// checked in the kind's module, next to the rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Create a help request or offer.
    CreateHelp,
    /// Match a responder to someone else's help request (organisers).
    MatchHelpForOthers,
    /// Create a buurt event.
    CreateEvent,
    /// Edit or cancel an event, add roles and shifts.
    ManageEvent,
    /// Create an ownership task.
    CreateTask,
    /// Edit, pause or resume a task one did not create.
    ManageTask,
    /// Create an issue report.
    CreateReport,
    /// Acknowledge, plan, start, resolve a report.
    WorkReport,
    /// Reject, mark duplicate, refer; set the responsible party and the public response.
    TriageReport,
}

impl Action {
    /// What the action is, for messages ("a resident may not create events").
    pub fn describe(self) -> &'static str {
        match self {
            Action::CreateHelp => "create help requests",
            Action::MatchHelpForOthers => "match helpers to someone else's request",
            Action::CreateEvent => "create events",
            Action::ManageEvent => "manage events",
            Action::CreateTask => "create tasks",
            Action::ManageTask => "manage tasks",
            Action::CreateReport => "create reports",
            Action::WorkReport => "work on reports",
            Action::TriageReport => "triage reports",
        }
    }
}

/// The permission table: which roles may take `action`. One place, tested as a matrix; the
/// relay enforces the same table on what it accepts.
pub fn allowed(action: Action, role: Role) -> bool {
    use Action::*;
    use Role::*;
    match action {
        CreateHelp | CreateReport => true,
        CreateTask => true,
        MatchHelpForOthers => matches!(role, Organiser | Staff),
        CreateEvent | ManageEvent => matches!(role, Organiser | Staff),
        ManageTask => matches!(role, Organiser | Staff | Caretaker),
        WorkReport => matches!(role, Caretaker | Staff),
        TriageReport => matches!(role, Caretaker | Staff | Organiser),
    }
}

/// Fails with [`Error::NotAllowed`] unless `ctx`'s role may take `action`.
pub(crate) fn require(ctx: &Ctx, action: Action) -> Result<()> {
    if allowed(action, ctx.role) {
        Ok(())
    } else {
        Err(Error::not_allowed(format!(
            "a {} may not {}",
            ctx.role.as_str(),
            action.describe()
        )))
    }
}

names! {
    /// How a member relates to an entity (the `participants` projection's `relation`).
    pub enum Relation {
        /// Adopted a task.
        Adopter = "adopter",
        /// A task's backup.
        Backup = "backup",
        /// Commented on it.
        Commenter = "commenter",
        /// Created it (events, tasks, profiles).
        Creator = "creator",
        /// Confirmed "going" to an event.
        Going = "going",
        /// The matched helper of a help request.
        Helper = "helper",
        /// "Maybe" for an event.
        Maybe = "maybe",
        /// Said "me too" on a report.
        MeToo = "me_too",
        /// Pledged to a task.
        Pledger = "pledger",
        /// Made a report.
        Reporter = "reporter",
        /// Asked (or offered) help.
        Requester = "requester",
        /// Responded "I can help".
        Responder = "responder",
        /// Signed up for a shift (on or reserve).
        Volunteer = "volunteer",
        /// On an event's waitlist.
        Waitlisted = "waitlisted",
    }
}

names! {
    /// What a [`Notice`] tells: a stable machine code the shells turn into words.
    pub enum NoticeCode {
        /// A confirmed RSVP is on the waitlist now: another answer came first (offline) or the
        /// capacity was lowered.
        Bumped = "bumped",
        /// Someone else claimed the task first; you are a backup.
        ClaimLost = "claim_lost",
        /// The event was cancelled.
        EventCancelled = "event_cancelled",
        /// The matched helper withdrew; the request is open again.
        HelperWithdrew = "helper_withdrew",
        /// A match came after the request was cancelled.
        MatchIgnored = "match_ignored",
        /// Another match was made first.
        MatchSuperseded = "match_superseded",
        /// You became the task's adopter (a hand-over).
        NowAdopter = "now_adopter",
        /// An occurrence record was not applied.
        OccurrenceIgnored = "occurrence_ignored",
        /// Promoted from the waitlist.
        Promoted = "promoted",
        /// The request was cancelled.
        RequestCancelled = "request_cancelled",
        /// On a shift's reserve list: it was full.
        ShiftReserve = "shift_reserve",
        /// A skip was overruled by a done for the same occurrence.
        SkipOverruled = "skip_overruled",
        /// A report transition came too late and was not applied.
        TransitionIgnored = "transition_ignored",
        /// No longer matched to the request.
        Unmatched = "unmatched",
        /// Waitlisted for an event.
        Waitlisted = "waitlisted",
    }
}

/// How a member relates to an entity; kept in the `participants` projection so "mine" is SQL.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Participant {
    /// The member.
    pub member: MemberId,
    /// The relation.
    pub relation: Relation,
}

/// Something a member should be told because a concurrent action of someone else won
/// ("you are first backup: Ans claimed it first"). Derived, so every device agrees.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Notice {
    /// Who is told.
    pub member: MemberId,
    /// Stable machine code.
    pub code: NoticeCode,
    /// A sentence for people, without personal data beyond member ids.
    pub text: String,
}

/// The comment rows of an entity, for the comments projection and full-text search.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CommentRow {
    /// The comment's id inside the document.
    pub id: String,
    /// Its author.
    pub author: MemberId,
    /// When it was written.
    pub at: i64,
    /// Its current text (empty when withdrawn).
    pub body: String,
    /// When it was last edited, if ever.
    pub edited_at: Option<i64>,
    /// Whether the author withdrew it.
    pub withdrawn: bool,
}

/// Everything the store writes to SQL for one entity, derived from its document alone.
///
/// Deterministic: the same document gives the same projection on every device, so a rebuild
/// equals the incrementally maintained tables. Clock-dependent statuses (expired, due,
/// overdue) are not stored; the queries derive them from `expires_at`, `due_at` and
/// `overdue_at` and the caller's "now".
#[derive(Debug, Clone, PartialEq)]
pub struct Projection {
    /// The kind.
    pub kind: Kind,
    /// Derived status, clock-independent (`open`, `matched`, `done`, `going`, ...).
    pub status: String,
    /// Category, where the kind has one.
    pub category: Option<String>,
    /// Title (display name for profiles).
    pub title: String,
    /// Searchable body text.
    pub body: String,
    /// The creator.
    pub created_by: MemberId,
    /// Creation time.
    pub created_at: i64,
    /// Last activity.
    pub updated_at: i64,
    /// Start of the entity's time range (help window, event start), if any.
    pub starts_at: Option<i64>,
    /// End of the time range, if any.
    pub ends_at: Option<i64>,
    /// An `open` entity whose `expires_at <= now` is shown as `expired`.
    pub expires_at: Option<i64>,
    /// A task is due from `due_at`.
    pub due_at: Option<i64>,
    /// ... and overdue from `overdue_at`.
    pub overdue_at: Option<i64>,
    /// Exact point (reports, optional for events and tasks).
    pub lat: Option<f64>,
    /// Exact point.
    pub lon: Option<f64>,
    /// Location label at the entity's precision.
    pub location_label: Option<String>,
    /// Whether someone should act on it (each kind's module defines when).
    pub needs_response: bool,
    /// Members and how they relate to it.
    pub participants: Vec<Participant>,
    /// Things members should be told.
    pub notices: Vec<Notice>,
    /// Comments.
    pub comments: Vec<CommentRow>,
    /// Kind-specific figures, stored as [`Detail`] in `entities.detail`.
    pub detail: Detail,
}

/// Derives the projection of any document by dispatching on its `kind`.
///
/// # Errors
///
/// [`Error::Other`] when the document lacks its header (for example its creation change has
/// not arrived yet).
pub(crate) fn project(doc: &impl ReadDoc) -> Result<Projection> {
    let header = crate::doc::header(doc)?;
    let mut p = match header.kind {
        Kind::Help => help::project(&help::derive(doc)?),
        Kind::Event => event::project(&event::derive(doc)?),
        Kind::Task => task::project(&task::derive(doc)?),
        Kind::Report => report::project(&report::derive(doc)?),
        Kind::Profile => profile::project(&profile::derive(doc)?),
    };
    p.comments = comment::rows(doc);
    for c in &p.comments {
        p.participants.push(Participant {
            member: c.author.clone(),
            relation: Relation::Commenter,
        });
    }
    p.participants.sort();
    p.participants.dedup();
    p.notices.sort();
    p.notices.dedup();
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The permission matrix, spelled out: a change to the table must change this test.
    #[test]
    fn permission_matrix() {
        use Action::*;
        let expect: &[(Action, [bool; 4])] = &[
            // resident, caretaker, organiser, staff
            (CreateHelp, [true, true, true, true]),
            (CreateReport, [true, true, true, true]),
            (CreateTask, [true, true, true, true]),
            (MatchHelpForOthers, [false, false, true, true]),
            (CreateEvent, [false, false, true, true]),
            (ManageEvent, [false, false, true, true]),
            (ManageTask, [false, true, true, true]),
            (WorkReport, [false, true, false, true]),
            (TriageReport, [false, true, true, true]),
        ];
        for (action, row) in expect {
            for (role, want) in Role::ALL.iter().zip(row) {
                assert_eq!(allowed(*action, *role), *want, "{action:?} for {role:?}");
            }
        }
    }

    #[test]
    fn names_are_declared_in_the_order_of_their_stored_names() {
        fn check<T: Copy + Ord + std::fmt::Debug>(
            all: &[T],
            name: fn(T) -> &'static str,
            parse: fn(&str) -> Option<T>,
        ) {
            for w in all.windows(2) {
                assert!(name(w[0]) < name(w[1]), "{:?} before {:?}", w[0], w[1]);
                assert!(w[0] < w[1]);
            }
            for &v in all {
                assert_eq!(parse(name(v)), Some(v));
            }
            assert_eq!(parse("no_such_name"), None);
        }
        check(Relation::ALL, Relation::as_str, Relation::parse);
        check(NoticeCode::ALL, NoticeCode::as_str, NoticeCode::parse);
    }

    #[test]
    fn kinds_and_roles_round_trip() -> Result<()> {
        for &k in Kind::ALL {
            assert_eq!(Kind::parse(k.as_str())?, k);
        }
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str())?, r);
        }
        assert!(Kind::parse("Help").is_err());
        assert!(Role::parse("admin").is_err());
        Ok(())
    }
}
