//! Help requests and offers.
//!
//! # Document (schema 1, `kind = "help"`)
//!
//! | key | type | notes |
//! |---|---|---|
//! | `mode` | str | `ask` or `offer` |
//! | `category` | str | `groceries`, `transport`, `odd_jobs`, `company`, `paperwork`, `garden`, `other` |
//! | `title`, `body` | Text | merged character by character |
//! | `urgency` | str | `low`, `normal`, `high` |
//! | `window_start`, `window_end` | int? | ms; after `window_end` an open request is *expired* |
//! | `precision` | str | `complex`, `stairwell`, `street`, `buurt` — never a house number |
//! | `location_label` | str | the label at that precision ("Portiek 12–20") |
//!
//! Log entries: `respond {message}`, `withdraw`, `match {helper}`, `unmatch {match}`,
//! `done`, `cancel {reason}`, `thanks {text}`.
//!
//! # The rule (every device computes it identically)
//!
//! Entries are replayed in `(at, by, id)` order through the state machine
//! `open → matched → done`, with `cancelled` reachable from `open` and `matched`. An entry that
//! is not valid at its place in that order is ignored and whoever it concerned is told
//! (a [`Notice`]). Consequences, each property-tested:
//!
//! - **Cancel vs. match**: cancel always wins. Cancel first: the later match is ignored and the
//!   helper told `request_cancelled`. Match first: the request is matched, then cancelled, and
//!   the helper is told `request_cancelled`. No request is ever both cancelled and matched.
//! - **Two organisers match different helpers**: the earlier match wins; the later one is
//!   ignored and both its helper and its matcher are told `match_superseded`.
//! - **Done vs. cancel**: whichever comes first in the order stands; the other is ignored.
//! - A match needs the helper's response to be active at that point; a matched helper who
//!   withdraws their response un-matches the request (`helper_withdrew` to the requester).
//! - Responses: each member writes only their own; a member's latest `respond`/`withdraw`
//!   decides whether their response is active.
//! - Expiry is not stored: an `open` request whose `window_end` has passed is *expired*
//!   (queries compare `expires_at` with the injected clock).

use automerge::{AutoCommit, ROOT, ReadDoc};
use serde::Serialize;

use crate::doc::{self, Entry, Field};
use crate::error::{Error, Result};
use crate::ids::{EntityId, MemberId};
use crate::model::{
    Action, Ctx, Detail, Kind, Notice, NoticeCode, Participant, Projection, Relation, require,
};

names! {
    /// The entries of this kind's log (`t`), as stored.
    pub enum HelpEntry {
        /// `cancel`.
        Cancel = "cancel",
        /// `done`.
        Done = "done",
        /// `match`.
        Match = "match",
        /// `respond`.
        Respond = "respond",
        /// `thanks`.
        Thanks = "thanks",
        /// `unmatch`.
        Unmatch = "unmatch",
        /// `withdraw`.
        Withdraw = "withdraw",
    }
}

/// Categories of help.
pub const CATEGORIES: &[&str] = &[
    "groceries",
    "transport",
    "odd_jobs",
    "company",
    "paperwork",
    "garden",
    "other",
];
/// Location precisions a help request may use.
pub const PRECISIONS: &[&str] = &["complex", "stairwell", "street", "buurt"];
/// Urgencies.
pub const URGENCIES: &[&str] = &["low", "normal", "high"];

const MAX_TITLE: usize = 200;
const MAX_BODY: usize = 5_000;
const MAX_LABEL: usize = 120;
const MAX_MESSAGE: usize = 2_000;

/// What a new help request or offer says.
#[derive(Debug, Clone, PartialEq)]
pub struct NewHelp {
    /// `true` to offer help, `false` to ask for it.
    pub offer: bool,
    /// One of [`CATEGORIES`].
    pub category: String,
    /// A short title.
    pub title: String,
    /// Details (may be empty).
    pub body: String,
    /// One of [`URGENCIES`].
    pub urgency: String,
    /// Start of the time window, ms.
    pub window_start: Option<i64>,
    /// End of the time window, ms; after it an open request expires.
    pub window_end: Option<i64>,
    /// One of [`PRECISIONS`] (default `street`).
    pub precision: String,
    /// A label at that precision; never a house number.
    pub location_label: String,
    /// Who reads it ([`crate::audience`]); the whole buurt unless chosen otherwise.
    pub audience: crate::audience::Audience,
}

impl NewHelp {
    /// An ask with defaults: normal urgency, street precision, no window.
    pub fn ask(category: &str, title: &str) -> Self {
        NewHelp {
            audience: crate::audience::Audience::Buurt,
            offer: false,
            category: category.to_owned(),
            title: title.to_owned(),
            body: String::new(),
            urgency: "normal".into(),
            window_start: None,
            window_end: None,
            precision: "street".into(),
            location_label: String::new(),
        }
    }
}

/// Derived status of a help request (expiry is derived at query time, see module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HelpStatus {
    /// Waiting for a helper.
    Open,
    /// A helper was matched.
    Matched,
    /// Done.
    Done,
    /// Cancelled.
    Cancelled,
}

impl HelpStatus {
    /// Status name as stored in projections.
    pub fn as_str(self) -> &'static str {
        match self {
            HelpStatus::Open => "open",
            HelpStatus::Matched => "matched",
            HelpStatus::Done => "done",
            HelpStatus::Cancelled => "cancelled",
        }
    }
}

/// An active "I can help" response.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Response {
    /// The responder.
    pub member: MemberId,
    /// When they (last) responded.
    pub at: i64,
    /// Their message.
    pub message: String,
}

/// Thanks or feedback left after done.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Thanks {
    /// Who wrote it.
    pub by: MemberId,
    /// When.
    pub at: i64,
    /// The text.
    pub text: String,
}

/// Everything a screen shows about one help request, derived from its document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HelpView {
    /// Entity id.
    pub id: String,
    /// `ask` or `offer`.
    pub mode: String,
    /// Category.
    pub category: String,
    /// Title.
    pub title: String,
    /// Body.
    pub body: String,
    /// Urgency.
    pub urgency: String,
    /// Window start.
    pub window_start: Option<i64>,
    /// Window end.
    pub window_end: Option<i64>,
    /// Location precision.
    pub precision: String,
    /// Location label.
    pub location_label: String,
    /// The requester (or offerer).
    pub requester: MemberId,
    /// Created at.
    pub created_at: i64,
    /// Last activity.
    pub updated_at: i64,
    /// Derived status.
    pub status: HelpStatus,
    /// Active responses, in order.
    pub responses: Vec<Response>,
    /// The matched helper.
    pub helper: Option<MemberId>,
    /// Who made the standing match.
    pub matched_by: Option<MemberId>,
    /// The standing match's entry id (for `unmatch`).
    pub match_id: Option<String>,
    /// Thanks and feedback.
    pub thanks: Vec<Thanks>,
    /// Cancel reason, if cancelled with one.
    pub cancel_reason: Option<String>,
    /// What members should be told.
    pub notices: Vec<Notice>,
}

impl HelpView {
    /// Whether the request is expired at `now` (open, and its window has ended).
    pub fn is_expired(&self, now: i64) -> bool {
        self.status == HelpStatus::Open && self.window_end.is_some_and(|end| end <= now)
    }

    fn may_manage(&self, ctx: &Ctx) -> bool {
        ctx.member == self.requester || crate::model::allowed(Action::MatchHelpForOthers, ctx.role)
    }
}

fn one_of(field: &'static str, value: &str, allowed: &[&str]) -> Result<String> {
    if allowed.contains(&value) {
        Ok(value.to_owned())
    } else {
        Err(Error::invalid(
            field,
            format!("`{value}` is not one of {}", allowed.join(", ")),
        ))
    }
}

/// Writes a new help request into an empty document.
pub(crate) fn create(doc: &mut AutoCommit, id: &EntityId, ctx: &Ctx, new: &NewHelp) -> Result<()> {
    require(ctx, Action::CreateHelp)?;
    let title = doc::require_text("title", &new.title, MAX_TITLE)?;
    doc::check_len("body", &new.body, MAX_BODY)?;
    doc::check_len("location_label", &new.location_label, MAX_LABEL)?;
    let category = one_of("category", &new.category, CATEGORIES)?;
    let urgency = one_of("urgency", &new.urgency, URGENCIES)?;
    let precision = one_of("precision", &new.precision, PRECISIONS)?;
    if let (Some(s), Some(e)) = (new.window_start, new.window_end) {
        if e < s {
            return Err(Error::invalid("window_end", "is before `window_start`"));
        }
    }
    doc::init(doc, Kind::Help, id, ctx)?;
    crate::audience::init(doc, new.audience)?;
    doc::put(doc, &ROOT, "mode", if new.offer { "offer" } else { "ask" })?;
    doc::put(doc, &ROOT, "category", category)?;
    doc::set_text(doc, &ROOT, "title", &title)?;
    doc::set_text(doc, &ROOT, "body", new.body.trim())?;
    doc::put(doc, &ROOT, "urgency", urgency)?;
    doc::put_opt(doc, &ROOT, "window_start", new.window_start.map(Field::Int))?;
    doc::put_opt(doc, &ROOT, "window_end", new.window_end.map(Field::Int))?;
    doc::put(doc, &ROOT, "precision", precision)?;
    doc::put(doc, &ROOT, "location_label", new.location_label.trim())?;
    Ok(())
}

/// Derives the view: replays the log as the module docs describe.
pub(crate) fn derive(doc: &impl ReadDoc) -> Result<HelpView> {
    let header = doc::header(doc)?;
    let entries = doc::entries(doc);
    let mut v = HelpView {
        id: header.id.clone(),
        mode: doc::get_str(doc, &ROOT, "mode").unwrap_or_else(|| "ask".into()),
        category: doc::get_str(doc, &ROOT, "category").unwrap_or_else(|| "other".into()),
        title: doc::get_text(doc, &ROOT, "title").unwrap_or_default(),
        body: doc::get_text(doc, &ROOT, "body").unwrap_or_default(),
        urgency: doc::get_str(doc, &ROOT, "urgency").unwrap_or_else(|| "normal".into()),
        window_start: doc::get_i64(doc, &ROOT, "window_start"),
        window_end: doc::get_i64(doc, &ROOT, "window_end"),
        precision: doc::get_str(doc, &ROOT, "precision").unwrap_or_else(|| "buurt".into()),
        location_label: doc::get_str(doc, &ROOT, "location_label").unwrap_or_default(),
        requester: header.created_by.clone(),
        created_at: header.created_at,
        updated_at: doc::updated_at(&header, &entries),
        status: HelpStatus::Open,
        responses: Vec::new(),
        helper: None,
        matched_by: None,
        match_id: None,
        thanks: Vec::new(),
        cancel_reason: None,
        notices: Vec::new(),
    };
    for e in &entries {
        apply(&mut v, e);
    }
    Ok(v)
}

fn notice(v: &mut HelpView, member: &MemberId, code: NoticeCode, text: &str) {
    v.notices.push(Notice {
        member: member.clone(),
        code,
        text: text.to_owned(),
    });
}

fn is_manager(v: &HelpView, e: &Entry) -> bool {
    e.by == v.requester || crate::model::allowed(Action::MatchHelpForOthers, e.role)
}

/// One step of the replay. Invalid entries are ignored (and noticed where someone should know).
fn apply(v: &mut HelpView, e: &Entry) {
    let open_or_matched = matches!(v.status, HelpStatus::Open | HelpStatus::Matched);
    match HelpEntry::parse(&e.t) {
        Some(HelpEntry::Respond) if open_or_matched && e.by != v.requester => {
            v.responses.retain(|r| r.member != e.by);
            v.responses.push(Response {
                member: e.by.clone(),
                at: e.at,
                message: e.str("message").unwrap_or_default().to_owned(),
            });
        }
        Some(HelpEntry::Withdraw) => {
            v.responses.retain(|r| r.member != e.by);
            if v.status == HelpStatus::Matched && v.helper.as_ref() == Some(&e.by) {
                v.status = HelpStatus::Open;
                v.helper = None;
                v.matched_by = None;
                v.match_id = None;
                let requester = v.requester.clone();
                notice(
                    v,
                    &requester,
                    NoticeCode::HelperWithdrew,
                    "your matched helper withdrew; the request is open again",
                );
            }
        }
        Some(HelpEntry::Match) => {
            let Some(helper) = e.str("helper").map(|h| MemberId::from_doc(h.to_owned())) else {
                return;
            };
            let responded = v.responses.iter().any(|r| r.member == helper);
            if v.status == HelpStatus::Open && is_manager(v, e) && responded {
                v.status = HelpStatus::Matched;
                v.helper = Some(helper);
                v.matched_by = Some(e.by.clone());
                v.match_id = Some(e.id.clone());
            } else if v.status == HelpStatus::Cancelled {
                notice(
                    v,
                    &helper,
                    NoticeCode::RequestCancelled,
                    "the request was cancelled before you were matched",
                );
                notice(
                    v,
                    &e.by,
                    NoticeCode::MatchIgnored,
                    "your match came after the request was cancelled",
                );
            } else if v.status == HelpStatus::Matched && v.helper.as_ref() != Some(&helper) {
                notice(
                    v,
                    &helper,
                    NoticeCode::MatchSuperseded,
                    "someone else was matched first",
                );
                notice(
                    v,
                    &e.by,
                    NoticeCode::MatchSuperseded,
                    "another match was made first; yours was not applied",
                );
            }
        }
        Some(HelpEntry::Unmatch) => {
            let target = e.str("match");
            let standing = v.match_id.as_deref();
            let may = is_manager(v, e) || v.helper.as_ref() == Some(&e.by);
            if v.status == HelpStatus::Matched && may && target.is_some() && target == standing {
                if let Some(h) = v.helper.take() {
                    if h != e.by {
                        notice(
                            v,
                            &h,
                            NoticeCode::Unmatched,
                            "you are no longer matched to this request",
                        );
                    }
                }
                v.status = HelpStatus::Open;
                v.matched_by = None;
                v.match_id = None;
            }
        }
        Some(HelpEntry::Done) => {
            let may = is_manager(v, e) || v.helper.as_ref() == Some(&e.by);
            if v.status == HelpStatus::Matched && may {
                v.status = HelpStatus::Done;
            }
        }
        Some(HelpEntry::Cancel) if open_or_matched && is_manager(v, e) => {
            if let Some(h) = v.helper.clone() {
                notice(
                    v,
                    &h,
                    NoticeCode::RequestCancelled,
                    "the request you were matched to was cancelled",
                );
            }
            v.status = HelpStatus::Cancelled;
            v.cancel_reason = e.str("reason").filter(|r| !r.is_empty()).map(str::to_owned);
        }
        Some(HelpEntry::Thanks) => {
            let party = e.by == v.requester || v.helper.as_ref() == Some(&e.by);
            if v.status == HelpStatus::Done && party {
                v.thanks.push(Thanks {
                    by: e.by.clone(),
                    at: e.at,
                    text: e.str("text").unwrap_or_default().to_owned(),
                });
            }
        }
        _ => {} // unknown entry types come from newer schemas: ignored
    }
}

/// The projection of a help request.
///
/// `needs_response`: open with no active response yet.
pub(crate) fn project(v: &HelpView) -> Projection {
    let mut participants = vec![Participant {
        member: v.requester.clone(),
        relation: Relation::Requester,
    }];
    for r in &v.responses {
        participants.push(Participant {
            member: r.member.clone(),
            relation: Relation::Responder,
        });
    }
    if let Some(h) = &v.helper {
        participants.push(Participant {
            member: h.clone(),
            relation: Relation::Helper,
        });
    }
    Projection {
        kind: Kind::Help,
        status: v.status.as_str().to_owned(),
        category: Some(v.category.clone()),
        title: v.title.clone(),
        body: v.body.clone(),
        created_by: v.requester.clone(),
        created_at: v.created_at,
        updated_at: v.updated_at,
        starts_at: v.window_start,
        ends_at: v.window_end,
        expires_at: v.window_end,
        due_at: None,
        overdue_at: None,
        lat: None,
        lon: None,
        location_label: Some(v.location_label.clone()).filter(|l| !l.is_empty()),
        needs_response: v.status == HelpStatus::Open && v.responses.is_empty(),
        participants,
        notices: v.notices.clone(),
        comments: Vec::new(),
        detail: Detail::Help {
            mode: v.mode.clone(),
            urgency: v.urgency.clone(),
            precision: v.precision.clone(),
            helper: v.helper.clone(),
            responses: v.responses.len() as i64,
        },
    }
}

pub(crate) fn refuse(v: &HelpView, action: &'static str, now: i64) -> Error {
    let status = if v.is_expired(now) {
        "expired".to_owned()
    } else {
        v.status.as_str().to_owned()
    };
    Error::InvalidTransition {
        kind: "help request",
        action,
        status,
    }
}

/// The operation behind `Store::edit_help` (its docs state the rule and the errors).
pub(crate) fn edit_help(
    doc: &mut AutoCommit,
    ctx: &Ctx,
    title: Option<&str>,
    body: Option<&str>,
) -> Result<()> {
    let v = derive(doc)?;
    if !v.may_manage(ctx) {
        return Err(Error::not_allowed(
            "only the requester or an organiser may edit a help request",
        ));
    }
    if let Some(t) = title {
        let t = doc::require_text("title", t, MAX_TITLE)?;
        doc::set_text(doc, &ROOT, "title", &t)?;
    }
    if let Some(b) = body {
        doc::check_len("body", b, MAX_BODY)?;
        doc::set_text(doc, &ROOT, "body", b.trim())?;
    }
    Ok(())
}

/// The operation behind `Store::respond_help` (its docs state the rule and the errors).
pub(crate) fn respond_help(doc: &mut AutoCommit, ctx: &Ctx, message: &str) -> Result<()> {
    let v = derive(doc)?;
    if !matches!(v.status, HelpStatus::Open | HelpStatus::Matched) || v.is_expired(ctx.now) {
        return Err(refuse(&v, "respond to", ctx.now));
    }
    if ctx.member == v.requester {
        return Err(Error::not_allowed("you cannot respond to your own request"));
    }
    doc::check_len("message", message, MAX_MESSAGE)?;
    doc::append_entry(
        doc,
        ctx,
        HelpEntry::Respond,
        &[("message", message.trim().into())],
    )?;
    Ok(())
}

/// The operation behind `Store::withdraw_help_response` (its docs state the rule and the errors).
pub(crate) fn withdraw_help_response(doc: &mut AutoCommit, ctx: &Ctx) -> Result<()> {
    let v = derive(doc)?;
    if !v.responses.iter().any(|r| r.member == ctx.member) {
        return Err(Error::not_found("response", ctx.member.as_str()));
    }
    doc::append_entry(doc, ctx, HelpEntry::Withdraw, &[])?;
    Ok(())
}

/// The operation behind `Store::match_help` (its docs state the rule and the errors).
pub(crate) fn match_help(doc: &mut AutoCommit, ctx: &Ctx, helper: &MemberId) -> Result<()> {
    let v = derive(doc)?;
    if !v.may_manage(ctx) {
        return Err(Error::not_allowed(
            "only the requester or an organiser may match a helper",
        ));
    }
    if v.status != HelpStatus::Open || v.is_expired(ctx.now) {
        return Err(refuse(&v, "match", ctx.now));
    }
    if !v.responses.iter().any(|r| &r.member == helper) {
        return Err(Error::invalid(
            "helper",
            format!("`{helper}` has not responded"),
        ));
    }
    doc::append_entry(
        doc,
        ctx,
        HelpEntry::Match,
        &[("helper", helper.as_str().into())],
    )?;
    Ok(())
}

/// The operation behind `Store::unmatch_help` (its docs state the rule and the errors).
pub(crate) fn unmatch_help(doc: &mut AutoCommit, ctx: &Ctx) -> Result<()> {
    let v = derive(doc)?;
    let Some(match_id) = v
        .match_id
        .clone()
        .filter(|_| v.status == HelpStatus::Matched)
    else {
        return Err(refuse(&v, "unmatch", ctx.now));
    };
    if !(v.may_manage(ctx) || v.helper.as_ref() == Some(&ctx.member)) {
        return Err(Error::not_allowed(
            "only the requester, an organiser or the helper may unmatch",
        ));
    }
    doc::append_entry(doc, ctx, HelpEntry::Unmatch, &[("match", match_id.into())])?;
    Ok(())
}

/// The operation behind `Store::complete_help` (its docs state the rule and the errors).
pub(crate) fn complete_help(doc: &mut AutoCommit, ctx: &Ctx) -> Result<()> {
    let v = derive(doc)?;
    if v.status != HelpStatus::Matched {
        return Err(refuse(&v, "complete", ctx.now));
    }
    if !(v.may_manage(ctx) || v.helper.as_ref() == Some(&ctx.member)) {
        return Err(Error::not_allowed(
            "only the requester, the helper or an organiser may mark it done",
        ));
    }
    doc::append_entry(doc, ctx, HelpEntry::Done, &[])?;
    Ok(())
}

/// The operation behind `Store::cancel_help` (its docs state the rule and the errors).
pub(crate) fn cancel_help(doc: &mut AutoCommit, ctx: &Ctx, reason: &str) -> Result<()> {
    let v = derive(doc)?;
    if !matches!(v.status, HelpStatus::Open | HelpStatus::Matched) {
        return Err(refuse(&v, "cancel", ctx.now));
    }
    if !v.may_manage(ctx) {
        return Err(Error::not_allowed(
            "only the requester or an organiser may cancel",
        ));
    }
    doc::check_len("reason", reason, MAX_MESSAGE)?;
    doc::append_entry(
        doc,
        ctx,
        HelpEntry::Cancel,
        &[("reason", reason.trim().into())],
    )?;
    Ok(())
}

/// The operation behind `Store::thank_help` (its docs state the rule and the errors).
pub(crate) fn thank_help(doc: &mut AutoCommit, ctx: &Ctx, text: &str) -> Result<()> {
    let v = derive(doc)?;
    if v.status != HelpStatus::Done {
        return Err(refuse(&v, "thank", ctx.now));
    }
    if !(ctx.member == v.requester || v.helper.as_ref() == Some(&ctx.member)) {
        return Err(Error::not_allowed(
            "only the requester and the helper leave thanks",
        ));
    }
    let text = doc::require_text("text", text, MAX_MESSAGE)?;
    doc::append_entry(doc, ctx, HelpEntry::Thanks, &[("text", text.into())])?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::clock::ManualClock;
    use crate::model::Role;
    use crate::store::Store;

    const T0: i64 = 1_790_000_000_000;

    fn replica(role: Role) -> Result<(Store, Arc<ManualClock>)> {
        let clock = Arc::new(ManualClock::new(T0));
        let store = Store::open_in_memory(clock.clone())?;
        store.set_identity(role, None, None)?;
        Ok((store, clock))
    }

    /// Delivers every pending change of `from` to `to`.
    fn deliver(from: &Store, to: &Store) -> Result<()> {
        let batch: Vec<_> = from
            .pending_changes(10_000)?
            .into_iter()
            .map(|c| (c.entity, c.bytes))
            .collect();
        to.apply_remote_changes(&batch)?;
        Ok(())
    }

    fn me(s: &Store) -> MemberId {
        s.identity().member
    }

    #[test]
    fn create_validates_each_field() -> Result<()> {
        let (s, _) = replica(Role::Resident)?;
        let ok = NewHelp::ask("groceries", "Boodschappen");
        let cases: Vec<(NewHelp, &str)> = vec![
            (
                NewHelp {
                    title: "  ".into(),
                    ..ok.clone()
                },
                "title",
            ),
            (
                NewHelp {
                    title: "x".repeat(201),
                    ..ok.clone()
                },
                "title",
            ),
            (
                NewHelp {
                    category: "drugs".into(),
                    ..ok.clone()
                },
                "category",
            ),
            (
                NewHelp {
                    urgency: "now!".into(),
                    ..ok.clone()
                },
                "urgency",
            ),
            (
                NewHelp {
                    precision: "house_number".into(),
                    ..ok.clone()
                },
                "precision",
            ),
            (
                NewHelp {
                    body: "x".repeat(5_001),
                    ..ok.clone()
                },
                "body",
            ),
            (
                NewHelp {
                    window_start: Some(10),
                    window_end: Some(5),
                    ..ok.clone()
                },
                "window_end",
            ),
        ];
        for (bad, field) in cases {
            match s.create_help(&bad) {
                Err(Error::InvalidInput { field: f, .. }) => assert_eq!(f, field),
                other => panic!("expected invalid `{field}`, got {other:?}"),
            }
        }
        assert!(
            s.list(&Default::default())?.items.is_empty(),
            "nothing stored for refused input"
        );
        s.create_help(&ok)?;
        Ok(())
    }

    #[test]
    fn full_flow_and_typed_refusals() -> Result<()> {
        let (req, clock) = replica(Role::Resident)?;
        let (helper, _) = replica(Role::Resident)?;
        let id = req.create_help(&NewHelp::ask("transport", "Lift naar het ziekenhuis"))?;
        deliver(&req, &helper)?;
        clock.advance(1_000);
        helper.respond_help(&id, "ik rijd")?;
        deliver(&helper, &req)?;
        assert!(matches!(
            req.respond_help(&id, "self"),
            Err(Error::NotAllowed { .. })
        ));
        assert!(matches!(
            req.complete_help(&id),
            Err(Error::InvalidTransition { .. })
        ));
        req.match_help(&id, &me(&helper))?;
        assert_eq!(req.help(&id)?.status, HelpStatus::Matched);
        req.complete_help(&id)?;
        req.thank_help(&id, "Dank je wel!")?;
        let v = req.help(&id)?;
        assert_eq!(v.status, HelpStatus::Done);
        assert_eq!(v.thanks.len(), 1);
        assert!(matches!(
            req.cancel_help(&id, ""),
            Err(Error::InvalidTransition { .. })
        ));

        let id2 = req.create_help(&NewHelp::ask("odd_jobs", "Lamp ophangen"))?;
        req.cancel_help(&id2, "al geregeld")?;
        match req.complete_help(&id2) {
            Err(Error::InvalidTransition { status, .. }) => assert_eq!(status, "cancelled"),
            other => panic!("marking a cancelled request done must fail, got {other:?}"),
        }
        Ok(())
    }

    #[test]
    fn expiry_is_derived_from_the_clock() -> Result<()> {
        let (s, clock) = replica(Role::Resident)?;
        let mut new = NewHelp::ask("company", "Wandelen");
        new.window_end = Some(T0 + 60_000);
        let id = s.create_help(&new)?;
        let q = crate::ListQuery {
            status: Some("open".into()),
            ..Default::default()
        };
        assert_eq!(s.list(&q)?.items.len(), 1);
        clock.advance(60_000);
        assert!(s.list(&q)?.items.is_empty());
        let q = crate::ListQuery {
            status: Some("expired".into()),
            ..Default::default()
        };
        assert_eq!(s.list(&q)?.items.len(), 1);
        let (other, _) = replica(Role::Resident)?;
        deliver(&s, &other)?;
        other.set_identity(Role::Resident, None, None)?;
        // the other store's clock is still at T0: not expired there, as its own clock says
        assert_eq!(other.help(&id)?.status, HelpStatus::Open);
        Ok(())
    }

    #[test]
    fn cancel_beats_a_concurrent_match_both_orders() -> Result<()> {
        for cancel_first in [true, false] {
            let (req, req_clock) = replica(Role::Resident)?;
            let (org, org_clock) = replica(Role::Organiser)?;
            let (helper, _) = replica(Role::Resident)?;
            let id = req.create_help(&NewHelp::ask("groceries", "Boodschappen"))?;
            deliver(&req, &helper)?;
            helper.respond_help(&id, "")?;
            deliver(&req, &org)?;
            deliver(&helper, &org)?;
            deliver(&helper, &req)?;
            // offline: requester cancels, organiser matches
            let (c, m) = if cancel_first {
                (1_000, 2_000)
            } else {
                (2_000, 1_000)
            };
            req_clock.set(T0 + c);
            org_clock.set(T0 + m);
            req.cancel_help(&id, "")?;
            org.match_help(&id, &me(&helper))?;
            deliver(&req, &org)?;
            deliver(&org, &req)?;
            for s in [&req, &org] {
                let v = s.help(&id)?;
                assert_eq!(
                    v.status,
                    HelpStatus::Cancelled,
                    "cancel_first={cancel_first}"
                );
                assert!(
                    v.notices
                        .iter()
                        .any(|n| n.member == me(&helper) && n.code == "request_cancelled")
                );
            }
            assert_eq!(req.projection_dump()?, org.projection_dump()?);
        }
        Ok(())
    }

    #[test]
    fn two_organisers_matching_different_helpers_first_wins() -> Result<()> {
        let (req, _) = replica(Role::Resident)?;
        let (o1, c1) = replica(Role::Organiser)?;
        let (o2, c2) = replica(Role::Organiser)?;
        let (h1, _) = replica(Role::Resident)?;
        let (h2, _) = replica(Role::Resident)?;
        let id = req.create_help(&NewHelp::ask("paperwork", "Formulier"))?;
        for h in [&h1, &h2] {
            deliver(&req, h)?;
            h.respond_help(&id, "")?;
        }
        for o in [&o1, &o2] {
            deliver(&req, o)?;
            deliver(&h1, o)?;
            deliver(&h2, o)?;
        }
        c1.set(T0 + 5_000);
        c2.set(T0 + 4_000); // o2 acted first
        o1.match_help(&id, &me(&h1))?;
        o2.match_help(&id, &me(&h2))?;
        deliver(&o1, &o2)?;
        deliver(&o2, &o1)?;
        for o in [&o1, &o2] {
            let v = o.help(&id)?;
            assert_eq!(v.helper, Some(me(&h2)));
            assert!(
                v.notices
                    .iter()
                    .any(|n| n.member == me(&h1) && n.code == "match_superseded")
            );
            assert!(
                v.notices
                    .iter()
                    .any(|n| n.member == me(&o1) && n.code == "match_superseded")
            );
        }
        Ok(())
    }

    #[test]
    fn concurrent_title_edits_merge() -> Result<()> {
        let (a, _) = replica(Role::Resident)?;
        let (b, _) = replica(Role::Organiser)?;
        let id = a.create_help(&NewHelp::ask("garden", "Tuin wieden"))?;
        deliver(&a, &b)?;
        a.edit_help(&id, Some("Tuin wieden zaterdag"), None)?;
        b.edit_help(&id, Some("Voortuin wieden"), None)?;
        deliver(&a, &b)?;
        deliver(&b, &a)?;
        let t = a.help(&id)?.title;
        assert_eq!(t, b.help(&id)?.title);
        assert!(
            t.contains("zaterdag") && t.contains("Voortuin"),
            "both edits survive: {t}"
        );
        Ok(())
    }

    #[test]
    fn a_resident_cannot_match_for_someone_else() -> Result<()> {
        let (req, _) = replica(Role::Resident)?;
        let (other, _) = replica(Role::Resident)?;
        let id = req.create_help(&NewHelp::ask("groceries", "Boodschappen"))?;
        deliver(&req, &other)?;
        other.respond_help(&id, "")?;
        assert!(matches!(
            other.match_help(&id, &me(&other)),
            Err(Error::NotAllowed { .. })
        ));
        assert!(matches!(
            other.cancel_help(&id, ""),
            Err(Error::NotAllowed { .. })
        ));
        Ok(())
    }
}
