//! Who may read a document: its audience, and the rule that turns a document into its readers.
//!
//! Help requests touch special-category data (health, debts, loneliness), and some things are
//! for the organisers only (a private report, an event being planned). So a document is
//! written for an **audience**, chosen when it is created and never changed afterwards:
//!
//! | audience | stored as `audience` | who reads it |
//! |---|---|---|
//! | [`Audience::Buurt`] | absent (or `"buurt"`) | every member of the buurt (the default) |
//! | [`Audience::Organisers`] | `"organisers"` | the creator, coordinators, members it was shared with |
//! | [`Audience::Participants`] | `"participants"` | as `organisers`, plus every member the document involves |
//!
//! - **Coordinators** are the roles [`Role::Organiser`] and [`Role::Staff`]: they read every
//!   document of their buurt, as they coordinate and answer for it. Caretakers are not
//!   coordinators; a restricted report reaches a caretaker by being shared with them.
//! - **Shared with**: a `share {member}` entry in the document's log (see [`crate::Store::share`])
//!   adds a reader. Only the creator or a coordinator (by the entry's recorded role) may share;
//!   other `share` entries are ignored, as each kind ignores entries their author may not make.
//! - **Involved** (participants only): everyone who wrote an entry or a comment in the
//!   document (only readers may write, so this only keeps them), and every member a *naming
//!   field* names when its entry's author may name them. The naming fields, with who may name
//!   (by the entry's recorded role, which the relay verifies):
//!
//!   | kind | entry | field | named by |
//!   |---|---|---|---|
//!   | any | `share` | `member` | the creator, a coordinator (all restricted audiences) |
//!   | help | `match` | `helper` | the requester (the creator), [`Action::MatchHelpForOthers`] (organiser, staff) |
//!
//!   Nothing else adds a reader: a member id written in any other field (a `respond` whose
//!   message is someone's id, a `match` by a neighbour) adds nobody, so a reader cannot open a
//!   document to whom they like. The match's helper reads the request from the match on, so a
//!   helper an organiser matched sees what they were matched to. This is read from the
//!   append-only log, not from the derived state, so it never shrinks when the state moves on
//!   (an unmatched helper stays a reader), and it does not depend on the order entries arrived
//!   in: every replica and the relay compute the same readers from the same changes.
//! - **Readers only grow.** Every source above is append-only, so nothing removes a member from
//!   a document's readers (a device keeps what it once received, so taking access back would
//!   only pretend). Only losing a coordinator role takes away what came with the role: the
//!   relay stops sending those documents, and the device removes them at once (the store resets
//!   every document its member no longer reads; the repair path then confirms the relay will
//!   not send them and forgets them).
//! - An `audience` this code does not know (a newer schema's) is treated as
//!   [`Audience::Organisers`]: unknown means restricted, never more open.
//!
//! The relay applies the same rule ([`crate::validate`] refuses writes by non-readers; the relay
//! sends a restricted document's changes only to its readers), so every device and the relay
//! agree on who reads what.

use std::collections::BTreeSet;

use automerge::{ROOT, ReadDoc};
use serde::Serialize;

use crate::doc;
use crate::error::{Error, Result};
use crate::ids::MemberId;
use crate::model::{self, Action, Kind, Role};

/// The entry type that shares a restricted document with one more member.
pub(crate) const SHARE: &str = "share";
/// The help entry that matches a helper (`helper`: their member id), see [`crate::model::help`].
const HELP_MATCH: &str = "match";

/// Who a document is written for. Fixed at creation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Audience {
    /// Every member of the buurt.
    #[default]
    Buurt,
    /// The creator, coordinators and the members it was shared with.
    Organisers,
    /// As [`Audience::Organisers`], plus every member the document involves.
    Participants,
}

impl Audience {
    /// Every audience.
    pub const ALL: [Audience; 3] = [
        Audience::Buurt,
        Audience::Organisers,
        Audience::Participants,
    ];

    /// The name used in documents and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            Audience::Buurt => "buurt",
            Audience::Organisers => "organisers",
            Audience::Participants => "participants",
        }
    }

    /// Parses [`Audience::as_str`]'s output.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for an unknown audience.
    pub fn parse(s: &str) -> Result<Audience> {
        Audience::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| {
                Error::invalid(
                    "audience",
                    format!("unknown audience `{s}` (buurt, organisers, participants)"),
                )
            })
    }

    /// Whether only some members read documents of this audience.
    pub fn is_restricted(self) -> bool {
        self != Audience::Buurt
    }
}

/// Whether `role` reads every document of its buurt.
pub fn is_coordinator(role: Role) -> bool {
    matches!(role, Role::Organiser | Role::Staff)
}

/// Who reads one document.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Readers {
    /// The document's audience.
    pub audience: Audience,
    /// Besides coordinators, the members who read it (empty for [`Audience::Buurt`], which
    /// every member reads).
    pub members: BTreeSet<MemberId>,
}

impl Readers {
    /// Whether `member`, in `role`, reads the document.
    pub fn may_read(&self, member: &MemberId, role: Role) -> bool {
        !self.audience.is_restricted() || is_coordinator(role) || self.members.contains(member)
    }
}

/// The audience a document was created for: [`Audience::Buurt`] when it says none.
pub fn audience(doc: &impl ReadDoc) -> Audience {
    match doc::get_str(doc, &ROOT, "audience") {
        None => Audience::Buurt,
        Some(s) => Audience::parse(&s).unwrap_or(Audience::Organisers),
    }
}

/// Whether a document's `audience` key holds a value this code knows (absent counts as known).
pub(crate) fn audience_is_known(doc: &impl ReadDoc) -> bool {
    match doc.get(ROOT, "audience") {
        Ok(None) => true,
        Ok(Some(_)) => {
            doc::get_str(doc, &ROOT, "audience").is_some_and(|s| Audience::parse(&s).is_ok())
        }
        Err(_) => false,
    }
}

/// The readers of a document, by the rule in the module docs. A document without a readable
/// header (its creation change has not arrived) has no readers besides coordinators, unless it
/// names no audience at all.
pub fn readers(doc: &impl ReadDoc) -> Readers {
    let audience = audience(doc);
    let mut members = BTreeSet::new();
    if !audience.is_restricted() {
        return Readers { audience, members };
    }
    let Ok(header) = doc::header(doc) else {
        return Readers { audience, members };
    };
    for e in doc::entries(doc) {
        if let Some(named) = named_reader(&header, audience, &e) {
            members.insert(named);
        }
        // `share` entries count only as above: their author is not "involved" (a resident's
        // unauthorised share must add nobody).
        if audience == Audience::Participants && e.t != SHARE {
            members.insert(e.by);
        }
    }
    if audience == Audience::Participants {
        members.extend(
            crate::model::comment::rows(doc)
                .into_iter()
                .map(|c| c.author),
        );
    }
    members.insert(header.created_by);
    Readers { audience, members }
}

/// The member entry `e` makes a reader by naming them, if its type, field and author allow it
/// (the table in the module docs); `None` for every other entry and field.
fn named_reader(header: &doc::Header, audience: Audience, e: &doc::Entry) -> Option<MemberId> {
    let creator = e.by == header.created_by;
    let field = match (header.kind, e.t.as_str()) {
        (_, SHARE) if creator || is_coordinator(e.role) => "member",
        (Kind::Help, HELP_MATCH)
            if audience == Audience::Participants
                && (creator || model::allowed(Action::MatchHelpForOthers, e.role)) =>
        {
            "helper"
        }
        _ => return None,
    };
    e.str(field)
        .filter(|m| !m.is_empty())
        .map(|m| MemberId::from_doc(m.to_owned()))
}

/// Writes a new document's audience; nothing for [`Audience::Buurt`], so documents for the
/// whole buurt stay byte-for-byte what they were before audiences existed.
pub(crate) fn init(doc: &mut automerge::AutoCommit, audience: Audience) -> Result<()> {
    if audience.is_restricted() {
        doc::put(doc, &ROOT, "audience", audience.as_str())?;
    }
    Ok(())
}

/// Appends a `share {member}` entry, after checking the acting member may share.
pub(crate) fn share(
    doc: &mut automerge::AutoCommit,
    ctx: &model::Ctx,
    member: &MemberId,
) -> Result<()> {
    let header = doc::header(doc)?;
    let now = readers(doc);
    if !now.audience.is_restricted() {
        return Err(Error::invalid(
            "audience",
            "the whole buurt reads this document already",
        ));
    }
    if ctx.member != header.created_by && !is_coordinator(ctx.role) {
        return Err(Error::not_allowed(
            "only the creator or an organiser may share a restricted document",
        ));
    }
    if member.as_str().is_empty() || member.as_str().len() > 64 {
        return Err(Error::invalid("member", "is not a member id"));
    }
    if now.members.contains(member) {
        return Ok(());
    }
    doc::append_entry(doc, ctx, SHARE, &[("member", member.as_str().into())])?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::model::help::NewHelp;
    use crate::testing::{Device, deliver};

    const T: i64 = 1_800_000_000_000;

    #[test]
    fn audiences_round_trip_and_unknown_is_restricted() -> Result<()> {
        for a in Audience::ALL {
            assert_eq!(Audience::parse(a.as_str())?, a);
        }
        assert!(Audience::parse("everyone").is_err());
        let mut d = automerge::AutoCommit::new();
        assert_eq!(audience(&d), Audience::Buurt);
        doc::put(&mut d, &ROOT, "audience", "household")?;
        assert_eq!(audience(&d), Audience::Organisers);
        assert!(!audience_is_known(&d));
        Ok(())
    }

    #[test]
    fn a_buurt_document_stores_no_audience_key() -> Result<()> {
        let s = Device::new(Role::Resident, T)?.store;
        let id = s.create_help(&NewHelp::ask("groceries", "Boodschappen"))?;
        let bytes = s.document_bytes(&id)?;
        let d = automerge::AutoCommit::load(&bytes)?;
        assert!(d.get(ROOT, "audience")?.is_none());
        assert_eq!(s.readers(&id)?, Readers::default());
        Ok(())
    }

    #[test]
    fn readers_of_each_audience() -> Result<()> {
        let (requester, _, r) = Device::new(Role::Resident, T)?.into_parts();
        let (helper, _, h) = Device::new(Role::Resident, T)?.into_parts();
        let (organiser, _, o) = Device::new(Role::Organiser, T)?.into_parts();
        let (other, _, x) = Device::new(Role::Resident, T)?.into_parts();
        let (caretaker, _, c) = Device::new(Role::Caretaker, T)?.into_parts();
        let new = NewHelp {
            audience: Audience::Participants,
            ..NewHelp::ask("paperwork", "Hulp met een brief")
        };
        let id = requester.create_help(&new)?;
        let readers = requester.readers(&id)?;
        assert_eq!(readers.audience, Audience::Participants);
        assert!(readers.may_read(&r, Role::Resident));
        assert!(readers.may_read(&o, Role::Organiser));
        assert!(readers.may_read(&o, Role::Staff));
        assert!(!readers.may_read(&h, Role::Resident));
        assert!(!readers.may_read(&c, Role::Caretaker));

        // A resident who is not the creator may not share it; the organiser may.
        deliver(&requester, &organiser)?;
        deliver(&requester, &other)?;
        assert!(matches!(
            other.share(&id, &h),
            Err(Error::NotAllowed { .. })
        ));
        organiser.share(&id, &h)?;
        deliver(&organiser, &requester)?;
        deliver(&organiser, &helper)?;
        deliver(&requester, &helper)?;
        let readers = helper.readers(&id)?;
        assert!(readers.may_read(&h, Role::Resident));
        assert!(!readers.may_read(&x, Role::Resident));
        // Every replica computes the same readers.
        assert_eq!(requester.readers(&id)?, readers);
        assert_eq!(organiser.readers(&id)?, readers);

        // Sharing with someone who already reads it writes nothing.
        let before = organiser.pending_changes(1000)?.len();
        organiser.share(&id, &h)?;
        assert_eq!(organiser.pending_changes(1000)?.len(), before);

        // A buurt document cannot be shared: everyone reads it already.
        let open = requester.create_help(&NewHelp::ask("groceries", "Boodschappen"))?;
        assert!(matches!(
            requester.share(&open, &h),
            Err(Error::InvalidInput {
                field: "audience",
                ..
            })
        ));
        let _ = caretaker;
        Ok(())
    }

    #[test]
    fn a_share_by_someone_not_allowed_is_ignored() -> Result<()> {
        // A forged share entry (a resident who is not the creator, writing by hand) does not
        // add a reader on any device.
        let requester = Device::new(Role::Resident, T)?.store;
        let (other, _, x) = Device::new(Role::Resident, T)?.into_parts();
        let y = Device::new(Role::Resident, T)?.member;
        for audience in [Audience::Organisers, Audience::Participants] {
            let new = NewHelp {
                audience,
                ..NewHelp::ask("paperwork", "Schulden")
            };
            let id = requester.create_help(&new)?;
            deliver(&requester, &other)?;
            let ctx = model::Ctx {
                member: x.clone(),
                role: Role::Resident,
                household: None,
                now: T,
            };
            let mut d = automerge::AutoCommit::load(&other.document_bytes(&id)?)?;
            doc::append_entry(&mut d, &ctx, SHARE, &[("member", y.as_str().into())])?;
            assert!(!readers(&d).members.contains(&y), "{audience:?}");
        }
        Ok(())
    }

    /// Who wrote an entry, relative to the document.
    #[derive(Debug, Clone, Copy)]
    enum Author {
        Creator,
        Other(Role),
    }

    /// The readers rule as a matrix: each naming (or not naming) field of each entry type,
    /// written by an author who may name a reader or not, in each restricted audience and
    /// kind. `named`: whether the member the field holds becomes a reader.
    #[test]
    fn only_named_fields_by_entitled_authors_add_readers() -> Result<()> {
        use Audience::{Organisers, Participants};
        use Author::{Creator, Other};
        use Role::{Caretaker, Organiser, Resident, Staff};
        let (requester, _, r) = Device::new(Role::Resident, T)?.into_parts();
        #[rustfmt::skip]
        let cases: &[(Kind, Audience, &str, &str, Author, bool)] = &[
            // share {member}: the creator or a coordinator, in both restricted audiences.
            (Kind::Help, Participants, SHARE, "member", Creator, true),
            (Kind::Help, Participants, SHARE, "member", Other(Organiser), true),
            (Kind::Help, Participants, SHARE, "member", Other(Staff), true),
            (Kind::Help, Participants, SHARE, "member", Other(Resident), false),
            (Kind::Help, Participants, SHARE, "member", Other(Caretaker), false),
            (Kind::Help, Organisers, SHARE, "member", Creator, true),
            (Kind::Help, Organisers, SHARE, "member", Other(Organiser), true),
            (Kind::Help, Organisers, SHARE, "member", Other(Resident), false),
            (Kind::Task, Participants, SHARE, "member", Creator, true),
            (Kind::Task, Participants, SHARE, "member", Other(Resident), false),
            // match {helper}: the requester or who may match for others, participants only.
            (Kind::Help, Participants, HELP_MATCH, "helper", Creator, true),
            (Kind::Help, Participants, HELP_MATCH, "helper", Other(Organiser), true),
            (Kind::Help, Participants, HELP_MATCH, "helper", Other(Staff), true),
            (Kind::Help, Participants, HELP_MATCH, "helper", Other(Resident), false),
            (Kind::Help, Participants, HELP_MATCH, "helper", Other(Caretaker), false),
            (Kind::Help, Organisers, HELP_MATCH, "helper", Creator, false),
            (Kind::Task, Participants, HELP_MATCH, "helper", Creator, false),
            // Any other field holding a member id, whoever writes it: nobody.
            (Kind::Help, Participants, "respond", "message", Other(Resident), false),
            (Kind::Help, Participants, "respond", "message", Other(Organiser), false),
            (Kind::Help, Participants, "respond", "helper", Other(Resident), false),
            (Kind::Help, Participants, HELP_MATCH, "member", Creator, false),
            (Kind::Help, Participants, "thanks", "text", Creator, false),
            (Kind::Help, Participants, "cancel", "reason", Other(Organiser), false),
            (Kind::Help, Participants, "unmatch", "match", Creator, false),
            (Kind::Task, Participants, "pledge", "household", Other(Resident), false),
            (Kind::Help, Participants, "a_newer_schemas_entry", "member", Creator, false),
        ];
        for &(kind, audience, t, field, author, named) in cases {
            let id = match kind {
                Kind::Task => requester.create_task(&crate::model::task::NewTask {
                    audience,
                    ..crate::model::task::NewTask::new("Bankje")
                })?,
                _ => requester.create_help(&NewHelp {
                    audience,
                    ..NewHelp::ask("paperwork", "Schulden")
                })?,
            };
            let victim = MemberId::new()?;
            let (by, role) = match author {
                Creator => (r.clone(), Role::Resident),
                Other(role) => (MemberId::new()?, role),
            };
            let ctx = model::Ctx {
                member: by.clone(),
                role,
                household: None,
                now: T,
            };
            let mut d = automerge::AutoCommit::load(&requester.document_bytes(&id)?)?;
            doc::append_entry(&mut d, &ctx, t, &[(field, victim.as_str().into())])?;
            let readers = readers(&d);
            let case = format!("{kind:?} {audience:?} {t}.{field} by {author:?}");
            assert_eq!(readers.members.contains(&victim), named, "{case}");
            assert_eq!(readers.may_read(&victim, Role::Resident), named, "{case}");
            // The author of a non-share entry of a participants document is involved.
            let involved = audience == Participants && t != SHARE;
            assert_eq!(
                readers.members.contains(&by),
                involved || by == r,
                "{case}: author"
            );
        }
        Ok(())
    }

    #[test]
    fn a_respond_naming_someone_makes_only_its_author_a_reader() -> Result<()> {
        // The attack of issue 11: a participant responds with another member's id as the
        // message; that member must not read the request.
        let requester = Device::new(Role::Resident, T)?.store;
        let neighbour = Device::new(Role::Resident, T)?.store;
        let victim = Device::new(Role::Resident, T)?.member;
        let id = requester.create_help(&NewHelp {
            audience: Audience::Participants,
            ..NewHelp::ask("paperwork", "Schulden")
        })?;
        deliver(&requester, &neighbour)?;
        neighbour.respond_help(&id, victim.as_str())?;
        deliver(&neighbour, &requester)?;
        let readers = requester.readers(&id)?;
        assert!(!readers.may_read(&victim, Role::Resident));
        assert_eq!(readers.members.len(), 2);
        // The requester matches the neighbour: the neighbour was a reader already, nobody else
        // becomes one.
        requester.match_help(&id, &neighbour.identity().member)?;
        assert_eq!(requester.readers(&id)?, readers);
        Ok(())
    }
}
