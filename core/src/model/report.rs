//! Environment issue reports: what is broken, dirty or unsafe in the buurt, logged by a
//! caretaker in a basement or by a resident on the stairs — often without a connection — and
//! followed until the reporter agrees it is fixed.
//!
//! Reports exist so that "handled" means handled: every step is an entry with its author and
//! time, the reporter closes the loop (confirm or reopen), and neighbours add weight with
//! "me too" instead of filing duplicates.
//!
//! # Document (schema 1, `kind = "report"`)
//!
//! | key | type | notes |
//! |---|---|---|
//! | `category` | str | one of [`CATEGORIES`] |
//! | `description` | Text | merged character by character |
//! | `lat`, `lon` | f64 | the exact point (reports always carry one) |
//! | `complex`, `floor`, `stairwell` | str? | the location label's parts, each optional |
//! | `severity` | str | one of [`SEVERITIES`] |
//! | `response` | Text | the public response; created empty at creation, edited by triagers |
//!
//! Log entries:
//!
//! - `edit` — the description was edited (by the reporter, a caretaker or staff);
//! - `response` — the public response was edited (by a caretaker, organiser or staff);
//! - `transition {to, reason?, of?, referred_to?}` — a workflow step (`to` is a status name);
//! - `me_too`, `me_too_withdraw` — a member's "me too" and its withdrawal;
//! - `responsible {party}` — the party responsible (empty `party` clears it);
//! - `photo {hash, mime, size, width, height}` — a reference to a photo (sha-256 of its bytes;
//!   the photo itself travels separately).
//!
//! # Workflow
//!
//! `reported → acknowledged → planned → in_progress → resolved`, then the reporter confirms
//! (`confirmed`, final) or reopens (`reopened`, which behaves exactly like `reported`).
//! `rejected` (reason required), `duplicate` (`of` another report, never itself) and `referred`
//! (`referred_to` the municipality or a contractor) are terminal. Skipping forward is allowed
//! (a caretaker may resolve a fresh report directly); going back is not.
//!
//! | from ＼ to | acknowledged | planned | in_progress | resolved | confirmed | reopened | rejected, duplicate, referred |
//! |---|---|---|---|---|---|---|---|
//! | reported, reopened | W | W | W | W | – | – | T |
//! | acknowledged | – | W | W | W | – | – | T |
//! | planned | – | – | W | W | – | – | T |
//! | in_progress | – | – | – | W | – | – | T |
//! | resolved | – | – | – | – | R | R, S | – |
//! | confirmed, rejected, duplicate, referred | – | – | – | – | – | – | – |
//!
//! W: a role with [`Action::WorkReport`] (caretaker, staff). T: a role with
//! [`Action::TriageReport`] (caretaker, organiser, staff), with the step's required field.
//! R: the reporter (the document's creator), whatever their role. S: staff.
//!
//! # The rules (every device computes them identically)
//!
//! - **Transitions** are replayed in `(at, by, id)` order through the table above, using the
//!   role each entry was written with (the relay verifies it). A transition that is not
//!   allowed at its place in that order — wrong state, wrong role, missing or malformed field —
//!   is ignored, and its author is told `transition_ignored`. A transition to the state the
//!   report is already in is redundant (what its author wanted already holds): ignored, no
//!   notice. A `to` this code does not know comes from a newer schema and is ignored silently.
//! - **Two workers disagree offline** (one resolves, one rejects): the earlier in the order
//!   applies; the later is no longer valid from the state it finds (nothing leaves `resolved`
//!   except confirm/reopen; nothing leaves `rejected`), so it is ignored and its author told.
//!   Every replica ends in the same state.
//! - **Me too**: each member's latest `me_too`/`me_too_withdraw` decides whether their
//!   "me too" is active; the reporter's own never counts; the count is the number of distinct
//!   members with an active one. The count does **not** depend on the workflow state, so a
//!   "me too" made offline while a caretaker resolved the report survives the merge: the
//!   report is resolved *and* the count went up, on every replica. On a resolved, rejected,
//!   duplicate or referred report a new "me too" is an "it is still there" signal and the API
//!   accepts it; only a `confirmed` report (the reporter agreed it is fixed) refuses new ones.
//! - **Responsible party**: the latest `responsible` entry by a triaging role wins.
//! - **Photos**: references by the reporter or a working/triaging role, with a valid hash,
//!   type and size, are kept in order; a hash already attached is kept once; at most
//!   [`MAX_PHOTOS`] (the first ones in the order).
//! - **Description and response** are `Text`: concurrent edits merge character by character,
//!   so two people typing offline both keep their words. Their `edit`/`response` entries only
//!   say who edited when (the latest in the order is shown).
//! - **Causal stamps** (`doc::next_at`): a new entry sorts after every entry its
//!   author's document already holds, so a confirm written after seeing a resolve replays
//!   after it even when the caretaker's phone clock runs ahead of the reporter's.

use std::collections::BTreeSet;

use automerge::{AutoCommit, ROOT, ReadDoc};
use serde::Serialize;

use crate::doc::{self, Entry, Field};
use crate::error::{Error, Result};
use crate::ids::{EntityId, MemberId};
use crate::model::{
    Action, Ctx, Detail, Kind, Notice, NoticeCode, Participant, Projection, Relation, Role,
    allowed, require,
};

names! {
    /// The entries of this kind's log (`t`), as stored.
    pub enum ReportEntry {
        /// `edit`.
        Edit = "edit",
        /// `me_too`.
        MeToo = "me_too",
        /// `me_too_withdraw`.
        MeTooWithdraw = "me_too_withdraw",
        /// `photo`.
        Photo = "photo",
        /// `response`.
        Response = "response",
        /// `responsible`.
        Responsible = "responsible",
        /// `transition`.
        Transition = "transition",
    }
}

/// Categories of issue.
pub const CATEGORIES: &[&str] = &[
    "litter",
    "graffiti",
    "lighting",
    "damage",
    "pests",
    "overgrowth",
    "bulky_waste",
    "unsafe_situation",
    "other",
];
/// Severities.
pub const SEVERITIES: &[&str] = &["low", "normal", "high", "urgent"];
/// Photo types a reference may name.
pub const PHOTO_MIMES: &[&str] = &["image/jpeg", "image/png", "image/webp"];
/// Largest photo, in bytes.
pub const MAX_PHOTO_BYTES: u64 = 15_000_000;

// One limit everywhere: a photo `photo::clean` accepts can always be referenced and uploaded.
const _: () = assert!(crate::photo::MAX_PHOTO_BYTES as u64 == MAX_PHOTO_BYTES);
/// Largest photo width or height, in pixels.
pub const MAX_PHOTO_SIDE: u32 = 20_000;
/// Most photo references one report keeps.
pub const MAX_PHOTOS: usize = 20;

const MAX_DESCRIPTION: usize = 5_000;
const MAX_LABEL_PART: usize = 80;
const MAX_REASON: usize = 2_000;
const MAX_RESPONSE: usize = 5_000;
const MAX_PARTY: usize = 200;
const MAX_TITLE: usize = 80;

/// What a new report says.
#[derive(Debug, Clone, PartialEq)]
pub struct NewReport {
    /// One of [`CATEGORIES`].
    pub category: String,
    /// What is wrong (may be empty: a category and a photo often say enough).
    pub description: String,
    /// Latitude of the exact point.
    pub lat: f64,
    /// Longitude of the exact point.
    pub lon: f64,
    /// Complex name or number, if useful.
    pub complex: Option<String>,
    /// Floor ("kelder", "3"), if useful.
    pub floor: Option<String>,
    /// Stairwell ("portiek 12–20"), if useful.
    pub stairwell: Option<String>,
    /// One of [`SEVERITIES`].
    pub severity: String,
    /// Who reads it ([`crate::audience`]); the whole buurt unless chosen otherwise.
    pub audience: crate::audience::Audience,
}

impl NewReport {
    /// A report of `category` at a point, with normal severity and no description or label.
    pub fn at(category: &str, lat: f64, lon: f64) -> Self {
        NewReport {
            audience: crate::audience::Audience::Buurt,
            category: category.to_owned(),
            description: String::new(),
            lat,
            lon,
            complex: None,
            floor: None,
            stairwell: None,
            severity: "normal".into(),
        }
    }
}

/// Derived workflow state of a report (see the module docs for the table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportStatus {
    /// Logged, nobody has acted yet.
    Reported,
    /// Someone who works on reports has seen it.
    Acknowledged,
    /// Work is planned.
    Planned,
    /// Work has started.
    InProgress,
    /// Fixed, waiting for the reporter.
    Resolved,
    /// The reporter confirmed the fix (final).
    Confirmed,
    /// The reporter (or staff) says it is not fixed; behaves like `Reported`.
    Reopened,
    /// Rejected with a reason (terminal).
    Rejected,
    /// A duplicate of another report (terminal).
    Duplicate,
    /// Referred to the municipality or a contractor (terminal).
    Referred,
}

impl ReportStatus {
    /// Every status.
    pub const ALL: [ReportStatus; 10] = [
        ReportStatus::Reported,
        ReportStatus::Acknowledged,
        ReportStatus::Planned,
        ReportStatus::InProgress,
        ReportStatus::Resolved,
        ReportStatus::Confirmed,
        ReportStatus::Reopened,
        ReportStatus::Rejected,
        ReportStatus::Duplicate,
        ReportStatus::Referred,
    ];

    /// Status name as stored in entries and projections.
    pub fn as_str(self) -> &'static str {
        match self {
            ReportStatus::Reported => "reported",
            ReportStatus::Acknowledged => "acknowledged",
            ReportStatus::Planned => "planned",
            ReportStatus::InProgress => "in_progress",
            ReportStatus::Resolved => "resolved",
            ReportStatus::Confirmed => "confirmed",
            ReportStatus::Reopened => "reopened",
            ReportStatus::Rejected => "rejected",
            ReportStatus::Duplicate => "duplicate",
            ReportStatus::Referred => "referred",
        }
    }

    /// Parses [`ReportStatus::as_str`]'s output; `None` for a name this code does not know.
    pub fn parse(s: &str) -> Option<ReportStatus> {
        ReportStatus::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Whether nothing can follow (confirmed, rejected, duplicate, referred).
    pub fn is_final(self) -> bool {
        matches!(
            self,
            ReportStatus::Confirmed
                | ReportStatus::Rejected
                | ReportStatus::Duplicate
                | ReportStatus::Referred
        )
    }

    /// Position on the work path: reported/reopened 0 … resolved 4; `None` off the path.
    fn work_rank(self) -> Option<u8> {
        match self {
            ReportStatus::Reported | ReportStatus::Reopened => Some(0),
            ReportStatus::Acknowledged => Some(1),
            ReportStatus::Planned => Some(2),
            ReportStatus::InProgress => Some(3),
            ReportStatus::Resolved => Some(4),
            _ => None,
        }
    }
}

/// A workflow step, as the API takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportTransition {
    /// → `acknowledged` (caretaker, staff).
    Acknowledge,
    /// → `planned` (caretaker, staff).
    Plan,
    /// → `in_progress` (caretaker, staff).
    Start,
    /// → `resolved` (caretaker, staff).
    Resolve,
    /// `resolved` → `confirmed` (the reporter).
    Confirm,
    /// `resolved` → `reopened` (the reporter, or staff), with an optional reason.
    Reopen {
        /// Why it is not fixed (may be empty).
        reason: String,
    },
    /// → `rejected` (caretaker, organiser, staff).
    Reject {
        /// Why (required).
        reason: String,
    },
    /// → `duplicate` of another report (caretaker, organiser, staff).
    Duplicate {
        /// The report this one duplicates (not itself).
        of: EntityId,
    },
    /// → `referred` to another party (caretaker, organiser, staff).
    Refer {
        /// The municipality, a contractor, ... (required).
        to: String,
    },
}

impl ReportTransition {
    /// The status this step leads to.
    pub fn target(&self) -> ReportStatus {
        match self {
            ReportTransition::Acknowledge => ReportStatus::Acknowledged,
            ReportTransition::Plan => ReportStatus::Planned,
            ReportTransition::Start => ReportStatus::InProgress,
            ReportTransition::Resolve => ReportStatus::Resolved,
            ReportTransition::Confirm => ReportStatus::Confirmed,
            ReportTransition::Reopen { .. } => ReportStatus::Reopened,
            ReportTransition::Reject { .. } => ReportStatus::Rejected,
            ReportTransition::Duplicate { .. } => ReportStatus::Duplicate,
            ReportTransition::Refer { .. } => ReportStatus::Referred,
        }
    }

    fn verb(&self) -> &'static str {
        match self {
            ReportTransition::Acknowledge => "acknowledge",
            ReportTransition::Plan => "plan",
            ReportTransition::Start => "start",
            ReportTransition::Resolve => "resolve",
            ReportTransition::Confirm => "confirm",
            ReportTransition::Reopen { .. } => "reopen",
            ReportTransition::Reject { .. } => "reject",
            ReportTransition::Duplicate { .. } => "mark as duplicate",
            ReportTransition::Refer { .. } => "refer",
        }
    }
}

/// A reference to a photo of the issue (or of the fix). The photo's bytes travel separately,
/// stripped of EXIF/GPS metadata on the device; the document holds only this reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PhotoRef {
    /// SHA-256 of the photo's bytes: 64 lowercase hex digits.
    pub hash: String,
    /// One of [`PHOTO_MIMES`].
    pub mime: String,
    /// Size in bytes, at most [`MAX_PHOTO_BYTES`].
    pub size: u64,
    /// Width in pixels, 1..=[`MAX_PHOTO_SIDE`].
    pub width: u32,
    /// Height in pixels, 1..=[`MAX_PHOTO_SIDE`].
    pub height: u32,
}

/// An attached photo reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportPhoto {
    /// Who attached it.
    pub by: MemberId,
    /// When.
    pub at: i64,
    /// The reference.
    pub photo: PhotoRef,
}

/// One applied workflow step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimelineEntry {
    /// Who took it.
    pub by: MemberId,
    /// Their role then.
    pub role: Role,
    /// When.
    pub at: i64,
    /// The status it led to.
    pub to: ReportStatus,
    /// Reason (reject, reopen), if given.
    pub reason: Option<String>,
    /// The report this one duplicates (duplicate).
    pub of: Option<String>,
    /// Who it was referred to (referred).
    pub referred_to: Option<String>,
}

/// An active "me too".
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MeToo {
    /// The member.
    pub member: MemberId,
    /// Since when (the entry that made it active).
    pub at: i64,
}

/// Everything a screen shows about one report, derived from its document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportView {
    /// Entity id.
    pub id: String,
    /// Category.
    pub category: String,
    /// Description.
    pub description: String,
    /// Latitude (always written at creation; `None` only for a damaged document).
    pub lat: Option<f64>,
    /// Longitude (as `lat`).
    pub lon: Option<f64>,
    /// Complex, if given.
    pub complex: Option<String>,
    /// Floor, if given.
    pub floor: Option<String>,
    /// Stairwell, if given.
    pub stairwell: Option<String>,
    /// Severity.
    pub severity: String,
    /// The reporter (creator).
    pub reporter: MemberId,
    /// Created at.
    pub created_at: i64,
    /// Last activity.
    pub updated_at: i64,
    /// Derived workflow state.
    pub status: ReportStatus,
    /// Applied workflow steps, in order.
    pub timeline: Vec<TimelineEntry>,
    /// Active "me too"s (never the reporter), in the order they became active.
    pub me_too: Vec<MeToo>,
    /// The party responsible, if set.
    pub responsible: Option<String>,
    /// The public response (empty until someone triaging writes one).
    pub response: String,
    /// When the response was last edited.
    pub response_at: Option<i64>,
    /// Who last edited the response.
    pub response_by: Option<MemberId>,
    /// When the description was last edited.
    pub edited_at: Option<i64>,
    /// Photo references, in order.
    pub photos: Vec<ReportPhoto>,
    /// The reject reason, when rejected.
    pub reject_reason: Option<String>,
    /// The report this duplicates, when a duplicate.
    pub duplicate_of: Option<String>,
    /// Who it was referred to, when referred.
    pub referred_to: Option<String>,
    /// What members should be told.
    pub notices: Vec<Notice>,
}

impl ReportView {
    /// The location label: the present parts of complex, floor and stairwell, joined by ` · `.
    pub fn location_label(&self) -> Option<String> {
        let parts: Vec<&str> = [&self.complex, &self.floor, &self.stairwell]
            .into_iter()
            .filter_map(|p| p.as_deref())
            .collect();
        (!parts.is_empty()).then(|| parts.join(" · "))
    }

    /// The number of distinct members with an active "me too".
    pub fn me_too_count(&self) -> usize {
        self.me_too.len()
    }

    /// Whether someone working on reports should look at it: `reported` or `reopened`.
    pub fn needs_response(&self) -> bool {
        matches!(self.status, ReportStatus::Reported | ReportStatus::Reopened)
    }

    /// The title lists show: the description's first line (shortened), else the category.
    pub fn title(&self) -> String {
        match self
            .description
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
        {
            Some(line) if line.chars().count() > MAX_TITLE => {
                let mut t: String = line.chars().take(MAX_TITLE.saturating_sub(1)).collect();
                t.push('…');
                t
            }
            Some(line) => line.to_owned(),
            None => self.category.clone(),
        }
    }

    fn may_attach(&self, member: &MemberId, role: Role) -> bool {
        member == &self.reporter
            || allowed(Action::WorkReport, role)
            || allowed(Action::TriageReport, role)
    }
}

// ---------------------------------------------------------------------------------------------
// Validation shared by the API and the replay

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

fn label_part(field: &'static str, value: Option<&String>) -> Result<Option<String>> {
    let Some(v) = value.map(|v| v.trim()).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    doc::check_len(field, v, MAX_LABEL_PART)?;
    Ok(Some(v.to_owned()))
}

pub(crate) fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Validates a photo reference.
pub(crate) fn check_photo(p: &PhotoRef) -> Result<()> {
    if !is_sha256_hex(&p.hash) {
        return Err(Error::invalid(
            "hash",
            "must be 64 lowercase hex digits (sha-256)",
        ));
    }
    if !PHOTO_MIMES.contains(&p.mime.as_str()) {
        return Err(Error::invalid(
            "mime",
            format!("is not one of {}", PHOTO_MIMES.join(", ")),
        ));
    }
    if p.size > MAX_PHOTO_BYTES {
        return Err(Error::invalid(
            "size",
            format!("{} bytes is more than {MAX_PHOTO_BYTES}", p.size),
        ));
    }
    for (field, v) in [("width", p.width), ("height", p.height)] {
        if !(1..=MAX_PHOTO_SIDE).contains(&v) {
            return Err(Error::invalid(
                field,
                format!("{v} is not in 1..={MAX_PHOTO_SIDE}"),
            ));
        }
    }
    Ok(())
}

fn photo_from_entry(e: &Entry) -> Option<PhotoRef> {
    let p = PhotoRef {
        hash: e.str("hash")?.to_owned(),
        mime: e.str("mime")?.to_owned(),
        size: u64::try_from(e.int("size")?).ok()?,
        width: u32::try_from(e.int("width")?).ok()?,
        height: u32::try_from(e.int("height")?).ok()?,
    };
    check_photo(&p).ok().map(|()| p)
}

/// The photos a report document references: the hashes of the photo entries
/// [`Store::report`](crate::Store::report) shows (well-formed, attached by someone allowed to, at
/// most [`MAX_PHOTOS`], each once), in attachment order. Empty for a document of another kind or
/// one without a readable header. The relay records who attached them ([`photo_refs`]).
pub fn photo_hashes(d: &impl ReadDoc) -> Vec<String> {
    if !doc::header(d).is_ok_and(|h| matches!(h.kind, Kind::Report)) {
        return Vec::new();
    }
    derive(d)
        .map(|v| v.photos.into_iter().map(|p| p.photo.hash).collect())
        .unwrap_or_default()
}

/// Who attached each photo a report shows ([`photo_hashes`]): one `(hash, attacher)` pair per
/// member whose `photo` entry for that hash counts (well-formed, written by someone allowed to
/// attach), so a photo two members attached names both, whichever entry came first. Sorted,
/// without repeats; empty for a document of another kind. The relay records these with each
/// accepted change: a photo is served only through a reference whose attacher uploaded the
/// photo's bytes in that buurt (`docs/protocol.md`, *Photos*), so knowing a hash gives nothing.
pub fn photo_refs(d: &impl ReadDoc) -> Vec<(String, MemberId)> {
    if !doc::header(d).is_ok_and(|h| matches!(h.kind, Kind::Report)) {
        return Vec::new();
    }
    let entries = doc::entries(d);
    let Ok(v) = derive_from(d, &entries) else {
        return Vec::new();
    };
    let shown: BTreeSet<&str> = v.photos.iter().map(|p| p.photo.hash.as_str()).collect();
    let mut refs = BTreeSet::new();
    for e in entries
        .iter()
        .filter(|e| e.t == ReportEntry::Photo && v.may_attach(&e.by, e.role))
    {
        if let Some(p) = photo_from_entry(e).filter(|p| shown.contains(p.hash.as_str())) {
            refs.insert((p.hash, e.by.clone()));
        }
    }
    refs.into_iter().collect()
}

/// Why a transition is not applied.
#[derive(Debug)]
enum Refusal {
    /// The report is already in the target state.
    Redundant,
    /// Not allowed from the current state.
    State,
    /// The role or relation does not allow it.
    Permission(&'static str),
    /// A required field is missing or malformed.
    Input(Error),
}

/// A transition someone attempts (from the API) or attempted (an entry being replayed).
struct Attempt<'a> {
    by: &'a MemberId,
    role: Role,
    to: ReportStatus,
    reason: Option<&'a str>,
    of: Option<&'a str>,
    referred_to: Option<&'a str>,
}

fn required(field: &'static str, value: Option<&str>, max: usize) -> Result<(), Refusal> {
    doc::require_text(field, value.unwrap_or_default(), max)
        .map(|_| ())
        .map_err(Refusal::Input)
}

/// The transition table of the module docs. The one place both the API and the replay ask.
fn check(v: &ReportView, a: &Attempt<'_>) -> Result<(), Refusal> {
    use ReportStatus::*;
    if a.to == v.status {
        return Err(Refusal::Redundant);
    }
    let from_rank = v.status.work_rank();
    match a.to {
        Acknowledged | Planned | InProgress | Resolved => {
            let forward = matches!((from_rank, a.to.work_rank()), (Some(f), Some(t)) if f < t);
            if !forward {
                return Err(Refusal::State);
            }
            if !allowed(Action::WorkReport, a.role) {
                return Err(Refusal::Permission(
                    "only a caretaker or staff may work on a report",
                ));
            }
        }
        Rejected | Duplicate | Referred => {
            if !matches!(from_rank, Some(0..=3)) {
                return Err(Refusal::State);
            }
            if !allowed(Action::TriageReport, a.role) {
                return Err(Refusal::Permission(
                    "only a caretaker, organiser or staff may reject, mark duplicate or refer",
                ));
            }
            match a.to {
                Rejected => required("reason", a.reason, MAX_REASON)?,
                Referred => required("to", a.referred_to, MAX_PARTY)?,
                _ => {
                    let of = a.of.unwrap_or_default();
                    let of = EntityId::parse(of)
                        .map_err(|_| Refusal::Input(Error::invalid("of", "is not a report id")))?;
                    if of.as_str() == v.id {
                        return Err(Refusal::Input(Error::invalid(
                            "of",
                            "a report cannot duplicate itself",
                        )));
                    }
                }
            }
        }
        Confirmed => {
            if v.status != Resolved {
                return Err(Refusal::State);
            }
            if a.by != &v.reporter {
                return Err(Refusal::Permission("only the reporter may confirm the fix"));
            }
        }
        Reopened => {
            if v.status != Resolved {
                return Err(Refusal::State);
            }
            if a.by != &v.reporter && a.role != Role::Staff {
                return Err(Refusal::Permission(
                    "only the reporter or staff may reopen a report",
                ));
            }
            doc::check_len("reason", a.reason.unwrap_or_default(), MAX_REASON)
                .map_err(Refusal::Input)?;
        }
        Reported => return Err(Refusal::State),
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Document

/// Writes a new report into an empty document.
pub(crate) fn create(
    doc: &mut AutoCommit,
    id: &EntityId,
    ctx: &Ctx,
    new: &NewReport,
) -> Result<()> {
    require(ctx, Action::CreateReport)?;
    let category = one_of("category", &new.category, CATEGORIES)?;
    let severity = one_of("severity", &new.severity, SEVERITIES)?;
    doc::check_point(new.lat, new.lon)?;
    let description = new.description.trim();
    doc::check_len("description", description, MAX_DESCRIPTION)?;
    let complex = label_part("complex", new.complex.as_ref())?;
    let floor = label_part("floor", new.floor.as_ref())?;
    let stairwell = label_part("stairwell", new.stairwell.as_ref())?;
    doc::init(doc, Kind::Report, id, ctx)?;
    crate::audience::init(doc, new.audience)?;
    doc::put(doc, &ROOT, "category", category)?;
    doc::set_text(doc, &ROOT, "description", description)?;
    doc::put(doc, &ROOT, "lat", new.lat)?;
    doc::put(doc, &ROOT, "lon", new.lon)?;
    doc::put_opt(doc, &ROOT, "complex", complex.map(Field::Str))?;
    doc::put_opt(doc, &ROOT, "floor", floor.map(Field::Str))?;
    doc::put_opt(doc, &ROOT, "stairwell", stairwell.map(Field::Str))?;
    doc::put(doc, &ROOT, "severity", severity)?;
    // Created now, in the creation change: later edits only update this Text (see doc.rs).
    doc::set_text(doc, &ROOT, "response", "")?;
    Ok(())
}

/// Derives the view: replays the log as the module docs describe.
pub(crate) fn derive(d: &impl ReadDoc) -> Result<ReportView> {
    derive_from(d, &doc::entries(d))
}

/// [`derive`] over the document's `entries`, read once by a caller that needs them too.
fn derive_from(d: &impl ReadDoc, entries: &[Entry]) -> Result<ReportView> {
    let header = doc::header(d)?;
    let point = match (doc::get_f64(d, &ROOT, "lat"), doc::get_f64(d, &ROOT, "lon")) {
        (Some(lat), Some(lon)) if doc::check_point(lat, lon).is_ok() => Some((lat, lon)),
        _ => None,
    };
    let part = |key: &str| doc::get_str(d, &ROOT, key).filter(|s| !s.is_empty());
    let mut v = ReportView {
        id: header.id.clone(),
        category: doc::get_str(d, &ROOT, "category").unwrap_or_else(|| "other".into()),
        description: doc::get_text(d, &ROOT, "description").unwrap_or_default(),
        lat: point.map(|p| p.0),
        lon: point.map(|p| p.1),
        complex: part("complex"),
        floor: part("floor"),
        stairwell: part("stairwell"),
        severity: doc::get_str(d, &ROOT, "severity").unwrap_or_else(|| "normal".into()),
        reporter: header.created_by.clone(),
        created_at: header.created_at,
        updated_at: doc::updated_at(&header, entries),
        status: ReportStatus::Reported,
        timeline: Vec::new(),
        me_too: Vec::new(),
        responsible: None,
        response: doc::get_text(d, &ROOT, "response").unwrap_or_default(),
        response_at: None,
        response_by: None,
        edited_at: None,
        photos: Vec::new(),
        reject_reason: None,
        duplicate_of: None,
        referred_to: None,
        notices: Vec::new(),
    };
    let mut hashes = BTreeSet::new();
    for e in entries {
        apply(&mut v, &mut hashes, e);
    }
    Ok(v)
}

fn non_empty(s: Option<&str>) -> Option<String> {
    s.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// One step of the replay. Invalid entries are ignored (and noticed where someone should know).
fn apply(v: &mut ReportView, hashes: &mut BTreeSet<String>, e: &Entry) {
    match ReportEntry::parse(&e.t) {
        Some(ReportEntry::Transition) => {
            // A status this code does not know comes from a newer schema: ignored silently.
            let Some(to) = e.str("to").and_then(ReportStatus::parse) else {
                return;
            };
            let attempt = Attempt {
                by: &e.by,
                role: e.role,
                to,
                reason: e.str("reason"),
                of: e.str("of"),
                referred_to: e.str("referred_to"),
            };
            match check(v, &attempt) {
                Ok(()) => {
                    let step = TimelineEntry {
                        by: e.by.clone(),
                        role: e.role,
                        at: e.at,
                        to,
                        reason: non_empty(attempt.reason),
                        of: (to == ReportStatus::Duplicate)
                            .then(|| non_empty(attempt.of))
                            .flatten(),
                        referred_to: (to == ReportStatus::Referred)
                            .then(|| non_empty(attempt.referred_to))
                            .flatten(),
                    };
                    match to {
                        ReportStatus::Rejected => v.reject_reason = step.reason.clone(),
                        ReportStatus::Duplicate => v.duplicate_of = step.of.clone(),
                        ReportStatus::Referred => v.referred_to = step.referred_to.clone(),
                        _ => {}
                    }
                    v.status = to;
                    v.timeline.push(step);
                }
                Err(Refusal::Redundant) => {}
                Err(refusal) => {
                    let why = match refusal {
                        Refusal::Permission(_) => "your role may not take that step".to_owned(),
                        Refusal::Input(_) => "a required field was missing or invalid".to_owned(),
                        _ => format!("the report was already `{}`", v.status.as_str()),
                    };
                    v.notices.push(Notice {
                        member: e.by.clone(),
                        code: NoticeCode::TransitionIgnored,
                        text: format!("your change to `{}` was not applied: {why}", to.as_str()),
                    });
                }
            }
        }
        // The reporter's own never counts; an already active one keeps its first time.
        Some(ReportEntry::MeToo)
            if e.by != v.reporter && !v.me_too.iter().any(|m| m.member == e.by) =>
        {
            v.me_too.push(MeToo {
                member: e.by.clone(),
                at: e.at,
            });
        }
        Some(ReportEntry::MeTooWithdraw) => v.me_too.retain(|m| m.member != e.by),
        Some(ReportEntry::Edit) if e.by == v.reporter || allowed(Action::WorkReport, e.role) => {
            v.edited_at = Some(e.at);
        }
        Some(ReportEntry::Response) if allowed(Action::TriageReport, e.role) => {
            v.response_at = Some(e.at);
            v.response_by = Some(e.by.clone());
        }
        Some(ReportEntry::Responsible) if allowed(Action::TriageReport, e.role) => {
            let party = non_empty(e.str("party"));
            if party
                .as_deref()
                .is_none_or(|p| doc::check_len("party", p, MAX_PARTY).is_ok())
            {
                v.responsible = party;
            }
        }
        Some(ReportEntry::Photo) if v.may_attach(&e.by, e.role) && v.photos.len() < MAX_PHOTOS => {
            if let Some(photo) = photo_from_entry(e) {
                if hashes.insert(photo.hash.clone()) {
                    v.photos.push(ReportPhoto {
                        by: e.by.clone(),
                        at: e.at,
                        photo,
                    });
                }
            }
        }
        _ => {} // unknown entry types come from newer schemas: ignored
    }
}

/// The projection of a report.
///
/// `needs_response`: `reported` or `reopened`. Title: the description's first line, else the
/// category. Body (searched): description and public response.
pub(crate) fn project(v: &ReportView) -> Projection {
    let mut participants = vec![Participant {
        member: v.reporter.clone(),
        relation: Relation::Reporter,
    }];
    for m in &v.me_too {
        participants.push(Participant {
            member: m.member.clone(),
            relation: Relation::MeToo,
        });
    }
    let body = if v.response.is_empty() {
        v.description.clone()
    } else {
        format!("{}\n{}", v.description, v.response)
    };
    Projection {
        kind: Kind::Report,
        status: v.status.as_str().to_owned(),
        category: Some(v.category.clone()),
        title: v.title(),
        body,
        created_by: v.reporter.clone(),
        created_at: v.created_at,
        updated_at: v.updated_at,
        starts_at: None,
        ends_at: None,
        expires_at: None,
        due_at: None,
        overdue_at: None,
        lat: v.lat,
        lon: v.lon,
        location_label: v.location_label(),
        needs_response: v.needs_response(),
        participants,
        notices: v.notices.clone(),
        comments: Vec::new(),
        detail: Detail::Report {
            severity: v.severity.clone(),
            me_too: i64::try_from(v.me_too.len()).unwrap_or(i64::MAX),
            responsible: v.responsible.clone(),
            photos: i64::try_from(v.photos.len()).unwrap_or(i64::MAX),
        },
    }
}

pub(crate) fn refuse(v: &ReportView, action: &'static str) -> Error {
    Error::InvalidTransition {
        kind: "report",
        action,
        status: v.status.as_str().to_owned(),
    }
}

/// The operation behind `Store::edit_report` (its docs state the rule and the errors).
pub(crate) fn edit_report(doc: &mut AutoCommit, ctx: &Ctx, description: &str) -> Result<()> {
    let v = derive(doc)?;
    if ctx.member != v.reporter && !allowed(Action::WorkReport, ctx.role) {
        return Err(Error::not_allowed(
            "only the reporter, a caretaker or staff may edit a report",
        ));
    }
    let description = description.trim();
    doc::check_len("description", description, MAX_DESCRIPTION)?;
    doc::set_text(doc, &ROOT, "description", description)?;
    doc::append_entry(doc, ctx, ReportEntry::Edit, &[])?;
    Ok(())
}

/// The operation behind `Store::transition_report` (its docs state the rule and the errors).
pub(crate) fn transition_report(
    doc: &mut AutoCommit,
    ctx: &Ctx,
    step: ReportTransition,
) -> Result<()> {
    let v = derive(doc)?;
    let (reason, of, referred_to) = match &step {
        ReportTransition::Reopen { reason } | ReportTransition::Reject { reason } => {
            (Some(reason.trim()), None, None)
        }
        ReportTransition::Duplicate { of } => (None, Some(of.as_str()), None),
        ReportTransition::Refer { to } => (None, None, Some(to.trim())),
        _ => (None, None, None),
    };
    let attempt = Attempt {
        by: &ctx.member,
        role: ctx.role,
        to: step.target(),
        reason,
        of,
        referred_to,
    };
    match check(&v, &attempt) {
        Ok(()) => {}
        Err(Refusal::Redundant | Refusal::State) => return Err(refuse(&v, step.verb())),
        Err(Refusal::Permission(why)) => return Err(Error::not_allowed(why)),
        Err(Refusal::Input(e)) => return Err(e),
    }
    let mut fields: Vec<(&str, Field)> = vec![("to", step.target().as_str().into())];
    if let Some(r) = reason.filter(|r| !r.is_empty()) {
        fields.push(("reason", r.into()));
    }
    if let Some(of) = of {
        fields.push(("of", of.into()));
    }
    if let Some(to) = referred_to {
        fields.push(("referred_to", to.into()));
    }
    doc::append_entry(doc, ctx, ReportEntry::Transition, &fields)?;
    Ok(())
}

/// The operation behind `Store::me_too_report` (its docs state the rule and the errors).
pub(crate) fn me_too_report(doc: &mut AutoCommit, ctx: &Ctx) -> Result<()> {
    let v = derive(doc)?;
    if ctx.member == v.reporter {
        return Err(Error::not_allowed(
            "the reporter cannot say \"me too\" to their own report",
        ));
    }
    if v.status == ReportStatus::Confirmed {
        return Err(refuse(&v, "say \"me too\" to"));
    }
    if v.me_too.iter().any(|m| m.member == ctx.member) {
        return Ok(());
    }
    doc::append_entry(doc, ctx, ReportEntry::MeToo, &[])?;
    Ok(())
}

/// The operation behind `Store::withdraw_me_too` (its docs state the rule and the errors).
pub(crate) fn withdraw_me_too(doc: &mut AutoCommit, ctx: &Ctx) -> Result<()> {
    let v = derive(doc)?;
    if !v.me_too.iter().any(|m| m.member == ctx.member) {
        return Err(Error::not_found("me_too", ctx.member.as_str()));
    }
    doc::append_entry(doc, ctx, ReportEntry::MeTooWithdraw, &[])?;
    Ok(())
}

/// The operation behind `Store::set_report_responsible` (its docs state the rule and the errors).
pub(crate) fn set_report_responsible(doc: &mut AutoCommit, ctx: &Ctx, party: &str) -> Result<()> {
    require(ctx, Action::TriageReport)?;
    let party = party.trim();
    doc::check_len("party", party, MAX_PARTY)?;
    doc::append_entry(
        doc,
        ctx,
        ReportEntry::Responsible,
        &[("party", party.into())],
    )?;
    Ok(())
}

/// The operation behind `Store::set_report_response` (its docs state the rule and the errors).
pub(crate) fn set_report_response(doc: &mut AutoCommit, ctx: &Ctx, text: &str) -> Result<()> {
    require(ctx, Action::TriageReport)?;
    let text = text.trim();
    doc::check_len("response", text, MAX_RESPONSE)?;
    doc::set_text(doc, &ROOT, "response", text)?;
    doc::append_entry(doc, ctx, ReportEntry::Response, &[])?;
    Ok(())
}

/// Appends a `photo` entry for `photo` unless a photo with its hash is already attached (the
/// operation behind [`Store::attach_photo_ref`](crate::Store::attach_photo_ref) and the store's
/// `attach_photo`).
pub(crate) fn attach_photo(doc: &mut AutoCommit, ctx: &Ctx, photo: &PhotoRef) -> Result<()> {
    check_photo(photo)?;
    let v = derive(doc)?;
    if !v.may_attach(&ctx.member, ctx.role) {
        return Err(Error::not_allowed(
            "only the reporter, a caretaker, organiser or staff may attach photos",
        ));
    }
    if v.photos.iter().any(|p| p.photo.hash == photo.hash) {
        return Ok(());
    }
    if v.photos.len() >= MAX_PHOTOS {
        return Err(Error::invalid(
            "photo",
            format!("the report already has {MAX_PHOTOS} photos"),
        ));
    }
    let size =
        i64::try_from(photo.size).map_err(|_| Error::invalid("size", "does not fit in 64 bits"))?;
    doc::append_entry(
        doc,
        ctx,
        ReportEntry::Photo,
        &[
            ("hash", photo.hash.as_str().into()),
            ("mime", photo.mime.as_str().into()),
            ("size", size.into()),
            ("width", i64::from(photo.width).into()),
            ("height", i64::from(photo.height).into()),
        ],
    )?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::clock::ManualClock;
    use crate::store::Store;
    use crate::store::query::ListQuery;

    const T: i64 = 1_700_000_000_000;

    struct Device {
        store: Store,
        clock: Arc<ManualClock>,
        member: MemberId,
    }

    fn device(role: Role) -> Result<Device> {
        let clock = Arc::new(ManualClock::new(T));
        let store = Store::open_in_memory(clock.clone())?;
        let member = MemberId::new()?;
        store.set_member_id(&member)?;
        store.set_identity(role, None, None)?;
        Ok(Device {
            store,
            clock,
            member,
        })
    }

    /// Delivers every pending change of every device to every other device.
    fn sync(devices: &[&Device]) -> Result<()> {
        for from in devices {
            let batch: Vec<(EntityId, Vec<u8>)> = from
                .store
                .pending_changes(1000)?
                .into_iter()
                .map(|c| (c.entity, c.bytes))
                .collect();
            for to in devices {
                if !std::ptr::eq(*from, *to) {
                    to.store.apply_remote_changes(&batch)?;
                }
            }
        }
        Ok(())
    }

    /// Every device derives the same view and projection rows; returns that view.
    fn converged(devices: &[&Device], id: &EntityId) -> Result<ReportView> {
        let first = devices[0].store.report(id)?;
        let dump = devices[0].store.projection_dump()?;
        for d in &devices[1..] {
            assert_eq!(d.store.report(id)?, first);
            assert_eq!(d.store.projection_dump()?, dump);
        }
        Ok(first)
    }

    fn sample() -> NewReport {
        NewReport {
            description: "Kapotte lamp in de kelder".into(),
            complex: Some("Complex 4".into()),
            floor: Some("kelder".into()),
            stairwell: Some("portiek 12–20".into()),
            severity: "high".into(),
            ..NewReport::at("lighting", 52.37, 4.89)
        }
    }

    fn photo(hash_digit: char) -> PhotoRef {
        PhotoRef {
            hash: hash_digit.to_string().repeat(64),
            mime: "image/jpeg".into(),
            size: 1_000_000,
            width: 4000,
            height: 3000,
        }
    }

    fn field_of(r: Result<impl std::fmt::Debug>) -> &'static str {
        match r {
            Err(Error::InvalidInput { field, .. }) => field,
            other => panic!("expected invalid input, got {other:?}"),
        }
    }

    #[test]
    fn create_and_project() -> Result<()> {
        let r = device(Role::Resident)?;
        let id = r.store.create_report(&sample())?;
        let v = r.store.report(&id)?;
        assert_eq!(v.status, ReportStatus::Reported);
        assert_eq!((v.lat, v.lon), (Some(52.37), Some(4.89)));
        assert_eq!(
            v.location_label().as_deref(),
            Some("Complex 4 · kelder · portiek 12–20")
        );
        assert_eq!(v.reporter, r.member);
        let page = r.store.list(&ListQuery {
            kind: Some(Kind::Report),
            ..Default::default()
        })?;
        let row = &page.items[0];
        assert_eq!(row.status, "reported");
        assert!(row.needs_response);
        assert_eq!(row.category.as_deref(), Some("lighting"));
        assert_eq!(row.title, "Kapotte lamp in de kelder");
        assert_eq!(
            row.location_label.as_deref(),
            Some("Complex 4 · kelder · portiek 12–20")
        );
        assert!(
            matches!(&row.detail, Detail::Report { severity, me_too: 0, .. } if severity == "high")
        );
        let mine = r.store.list(&ListQuery {
            mine: true,
            ..Default::default()
        })?;
        assert_eq!(mine.items.len(), 1);
        let found = r.store.list(&ListQuery {
            text: Some("lamp".into()),
            ..Default::default()
        })?;
        assert_eq!(found.items.len(), 1);

        // Only the present parts make the label; no description falls back to the category.
        let bare = r.store.create_report(&NewReport {
            floor: Some("2".into()),
            ..NewReport::at("graffiti", 52.0, 5.0)
        })?;
        let v = r.store.report(&bare)?;
        assert_eq!(v.location_label().as_deref(), Some("2"));
        assert_eq!(v.title(), "graffiti");
        Ok(())
    }

    #[test]
    fn validation() -> Result<()> {
        let r = device(Role::Caretaker)?;
        let s = &r.store;
        assert_eq!(
            field_of(s.create_report(&NewReport::at("lighting", 91.0, 4.0))),
            "lat"
        );
        assert_eq!(
            field_of(s.create_report(&NewReport::at("lighting", f64::NAN, 4.0))),
            "lat"
        );
        assert_eq!(
            field_of(s.create_report(&NewReport::at("lighting", 52.0, 181.0))),
            "lon"
        );
        assert_eq!(
            field_of(s.create_report(&NewReport::at("broken", 52.0, 4.0))),
            "category"
        );
        let bad_severity = NewReport {
            severity: "meh".into(),
            ..sample()
        };
        assert_eq!(field_of(s.create_report(&bad_severity)), "severity");
        let long = NewReport {
            stairwell: Some("x".repeat(81)),
            ..sample()
        };
        assert_eq!(field_of(s.create_report(&long)), "stairwell");
        let long = NewReport {
            description: "x".repeat(5_001),
            ..sample()
        };
        assert_eq!(field_of(s.create_report(&long)), "description");

        let id = s.create_report(&sample())?;
        let reject = |reason: &str| ReportTransition::Reject {
            reason: reason.into(),
        };
        assert_eq!(field_of(s.transition_report(&id, reject(""))), "reason");
        assert_eq!(field_of(s.transition_report(&id, reject("   "))), "reason");
        let itself = ReportTransition::Duplicate { of: id.clone() };
        assert_eq!(field_of(s.transition_report(&id, itself)), "of");
        let refer = ReportTransition::Refer { to: " ".into() };
        assert_eq!(field_of(s.transition_report(&id, refer)), "to");
        assert_eq!(s.report(&id)?.status, ReportStatus::Reported);

        let bad = PhotoRef {
            hash: "A".repeat(64),
            ..photo('a')
        };
        assert_eq!(field_of(s.attach_photo_ref(&id, &bad)), "hash");
        let bad = PhotoRef {
            hash: "a".repeat(63),
            ..photo('a')
        };
        assert_eq!(field_of(s.attach_photo_ref(&id, &bad)), "hash");
        let bad = PhotoRef {
            mime: "image/gif".into(),
            ..photo('a')
        };
        assert_eq!(field_of(s.attach_photo_ref(&id, &bad)), "mime");
        let bad = PhotoRef {
            size: MAX_PHOTO_BYTES + 1,
            ..photo('a')
        };
        assert_eq!(field_of(s.attach_photo_ref(&id, &bad)), "size");
        let bad = PhotoRef {
            width: 0,
            ..photo('a')
        };
        assert_eq!(field_of(s.attach_photo_ref(&id, &bad)), "width");
        let edge = PhotoRef {
            size: MAX_PHOTO_BYTES,
            ..photo('b')
        };
        s.attach_photo_ref(&id, &edge)?;
        s.attach_photo_ref(&id, &edge)?; // the same hash again: kept once
        s.attach_photo_ref(&id, &photo('c'))?;
        let v = s.report(&id)?;
        assert_eq!(v.photos.len(), 2);
        assert_eq!(v.photos[0].photo, edge);
        Ok(())
    }

    #[test]
    fn full_workflow_with_reopen_and_confirm() -> Result<()> {
        let r = device(Role::Resident)?;
        let c = device(Role::Caretaker)?;
        let id = r.store.create_report(&sample())?;
        sync(&[&r, &c])?;
        use ReportTransition::*;
        for (i, step) in [Acknowledge, Plan, Start, Resolve].into_iter().enumerate() {
            c.clock.advance(1_000);
            c.store.transition_report(&id, step.clone())?;
            assert_eq!(c.store.report(&id)?.status, step.target(), "step {i}");
        }
        // Backwards is not a step.
        assert!(matches!(
            c.store.transition_report(&id, Plan),
            Err(Error::InvalidTransition { .. })
        ));
        sync(&[&r, &c])?;
        r.clock.set(T + 10_000);
        r.store.transition_report(
            &id,
            Reopen {
                reason: "lamp is weer stuk".into(),
            },
        )?;
        let v = r.store.report(&id)?;
        assert_eq!(v.status, ReportStatus::Reopened);
        assert!(v.needs_response());
        sync(&[&r, &c])?;
        // Reopened behaves like reported: skip straight to resolved.
        c.clock.set(T + 20_000);
        c.store.transition_report(&id, Resolve)?;
        sync(&[&r, &c])?;
        r.clock.set(T + 30_000);
        r.store.transition_report(&id, Confirm)?;
        sync(&[&r, &c])?;
        let v = converged(&[&r, &c], &id)?;
        assert_eq!(v.status, ReportStatus::Confirmed);
        assert!(!v.needs_response());
        let steps: Vec<&str> = v.timeline.iter().map(|t| t.to.as_str()).collect();
        assert_eq!(
            steps,
            [
                "acknowledged",
                "planned",
                "in_progress",
                "resolved",
                "reopened",
                "resolved",
                "confirmed"
            ]
        );
        assert_eq!(v.timeline[4].reason.as_deref(), Some("lamp is weer stuk"));
        assert_eq!(v.timeline[4].by, r.member);
        assert_eq!(v.timeline[5].at, T + 20_000);
        assert!(v.notices.is_empty());
        // Confirmed is final, for everyone; a new "me too" is refused.
        for s in [&r.store, &c.store] {
            assert!(matches!(
                s.transition_report(&id, Acknowledge),
                Err(Error::InvalidTransition { .. })
            ));
            assert!(matches!(
                s.transition_report(
                    &id,
                    Reopen {
                        reason: String::new()
                    }
                ),
                Err(Error::InvalidTransition { .. })
            ));
        }
        assert!(matches!(
            c.store.me_too_report(&id),
            Err(Error::InvalidTransition { .. })
        ));
        Ok(())
    }

    #[test]
    fn terminal_states_keep_their_fields() -> Result<()> {
        let c = device(Role::Caretaker)?;
        let other = c.store.create_report(&sample())?;
        let a = c.store.create_report(&sample())?;
        let b = c.store.create_report(&sample())?;
        let d = c.store.create_report(&sample())?;
        c.store.transition_report(
            &a,
            ReportTransition::Reject {
                reason: "privéterrein".into(),
            },
        )?;
        c.store
            .transition_report(&b, ReportTransition::Duplicate { of: other.clone() })?;
        c.store.transition_report(
            &d,
            ReportTransition::Refer {
                to: "gemeente".into(),
            },
        )?;
        assert_eq!(
            c.store.report(&a)?.reject_reason.as_deref(),
            Some("privéterrein")
        );
        assert_eq!(
            c.store.report(&b)?.duplicate_of.as_deref(),
            Some(other.as_str())
        );
        assert_eq!(c.store.report(&d)?.referred_to.as_deref(), Some("gemeente"));
        for id in [&a, &b, &d] {
            assert!(!c.store.report(id)?.needs_response());
            assert!(matches!(
                c.store.transition_report(id, ReportTransition::Resolve),
                Err(Error::InvalidTransition { .. })
            ));
        }
        let rows = c.store.list(&ListQuery {
            status: Some("duplicate".into()),
            ..Default::default()
        })?;
        assert_eq!(rows.items.len(), 1);
        Ok(())
    }

    /// Each transition × each role, as someone who is not the reporter, and as the reporter.
    #[test]
    fn permission_matrix_for_transitions() -> Result<()> {
        use ReportTransition::*;
        let dup_of = EntityId::new()?;
        // (step, needs the report resolved first, acting as reporter, [resident, caretaker, organiser, staff])
        let table: Vec<(ReportTransition, bool, bool, [bool; 4])> = vec![
            (Acknowledge, false, false, [false, true, false, true]),
            (Plan, false, false, [false, true, false, true]),
            (Start, false, false, [false, true, false, true]),
            (Resolve, false, false, [false, true, false, true]),
            (
                Reject {
                    reason: "nee".into(),
                },
                false,
                false,
                [false, true, true, true],
            ),
            (
                Duplicate { of: dup_of.clone() },
                false,
                false,
                [false, true, true, true],
            ),
            (
                Refer {
                    to: "gemeente".into(),
                },
                false,
                false,
                [false, true, true, true],
            ),
            (Confirm, true, false, [false, false, false, false]),
            (
                Reopen {
                    reason: String::new(),
                },
                true,
                false,
                [false, false, false, true],
            ),
            (Confirm, true, true, [true, true, true, true]),
            (
                Reopen {
                    reason: String::new(),
                },
                true,
                true,
                [true, true, true, true],
            ),
        ];
        let worker = MemberId::new()?;
        for (step, resolved_first, as_reporter, row) in &table {
            for (role, want) in Role::ALL.into_iter().zip(row) {
                let d = device(Role::Resident)?;
                let reporter = MemberId::new()?;
                let actor = if *as_reporter {
                    reporter.clone()
                } else {
                    MemberId::new()?
                };
                d.store.set_member_id(&reporter)?;
                d.store.set_identity(
                    if *as_reporter { role } else { Role::Resident },
                    None,
                    None,
                )?;
                let id = d.store.create_report(&sample())?;
                if *resolved_first {
                    d.store.set_member_id(&worker)?;
                    d.store.set_identity(Role::Caretaker, None, None)?;
                    d.store.transition_report(&id, Resolve)?;
                }
                d.store.set_member_id(&actor)?;
                d.store.set_identity(role, None, None)?;
                let got = d.store.transition_report(&id, step.clone());
                let ctx = format!("{step:?} by {role:?} (reporter: {as_reporter})");
                if *want {
                    assert!(got.is_ok(), "{ctx}: {got:?}");
                    assert_eq!(d.store.report(&id)?.status, step.target(), "{ctx}");
                } else {
                    assert!(
                        matches!(got, Err(Error::NotAllowed { .. })),
                        "{ctx}: {got:?}"
                    );
                }
            }
        }
        Ok(())
    }

    /// The replay applies the same table to entries a device wrote without asking the API
    /// (an old or hostile client): ignored, and the author is told.
    #[test]
    fn forged_entries_are_ignored() -> Result<()> {
        let r = device(Role::Resident)?;
        let id = r.store.create_report(&sample())?;
        r.store.update_entity(&id, Kind::Report, |doc, ctx| {
            doc::append_entry(doc, ctx, "transition", &[("to", "resolved".into())])?;
            doc::append_entry(doc, ctx, "transition", &[("to", "teleported".into())])?;
            doc::append_entry(doc, ctx, "me_too", &[])?;
            doc::append_entry(doc, ctx, "responsible", &[("party", "me".into())])?;
            Ok(())
        })?;
        let v = r.store.report(&id)?;
        assert_eq!(v.status, ReportStatus::Reported);
        assert!(v.timeline.is_empty());
        assert_eq!(
            v.me_too_count(),
            0,
            "the reporter's own me-too never counts"
        );
        assert_eq!(v.responsible, None);
        assert_eq!(v.notices.len(), 1, "unknown statuses are ignored silently");
        assert_eq!(v.notices[0].code, "transition_ignored");
        assert_eq!(v.notices[0].member, r.member);
        assert!(
            r.store
                .my_notices()?
                .iter()
                .any(|n| n.code == "transition_ignored")
        );
        Ok(())
    }

    #[test]
    fn me_too_latest_per_member_wins() -> Result<()> {
        let r = device(Role::Resident)?;
        let n = device(Role::Resident)?;
        let id = r.store.create_report(&sample())?;
        assert!(matches!(
            r.store.me_too_report(&id),
            Err(Error::NotAllowed { .. })
        ));
        sync(&[&r, &n])?;
        n.store.me_too_report(&id)?;
        n.store.me_too_report(&id)?; // already active: no second entry, still one
        assert_eq!(n.store.report(&id)?.me_too_count(), 1);
        n.clock.advance(1);
        n.store.withdraw_me_too(&id)?;
        assert_eq!(n.store.report(&id)?.me_too_count(), 0);
        assert!(matches!(
            n.store.withdraw_me_too(&id),
            Err(Error::NotFound { .. })
        ));
        n.clock.advance(1);
        n.store.me_too_report(&id)?;
        sync(&[&r, &n])?;
        let v = converged(&[&r, &n], &id)?;
        assert_eq!(v.me_too_count(), 1);
        assert_eq!(v.me_too[0].member, n.member);
        let mine = n.store.list(&ListQuery {
            mine: true,
            ..Default::default()
        })?;
        assert_eq!(
            mine.items.len(),
            1,
            "a me-too makes the report the member's"
        );
        Ok(())
    }

    /// A caretaker resolves while a neighbour, offline, says "me too": both survive.
    #[test]
    fn resolve_and_concurrent_me_too_both_survive() -> Result<()> {
        let r = device(Role::Resident)?;
        let c = device(Role::Caretaker)?;
        let n = device(Role::Resident)?;
        let id = r.store.create_report(&sample())?;
        sync(&[&r, &c, &n])?;
        n.clock.set(T + 5);
        n.store.me_too_report(&id)?;
        c.clock.set(T + 10);
        c.store.transition_report(&id, ReportTransition::Resolve)?;
        sync(&[&r, &c, &n])?;
        let v = converged(&[&r, &c, &n], &id)?;
        assert_eq!(v.status, ReportStatus::Resolved);
        assert_eq!(v.me_too_count(), 1);
        assert!(v.notices.is_empty());

        // The other way round: the me-too is later than the resolve in the order.
        let id = r.store.create_report(&sample())?;
        sync(&[&r, &c, &n])?;
        c.clock.set(T + 100);
        c.store.transition_report(&id, ReportTransition::Resolve)?;
        n.clock.set(T + 200);
        n.store.me_too_report(&id)?;
        sync(&[&r, &c, &n])?;
        let v = converged(&[&r, &c, &n], &id)?;
        assert_eq!(v.status, ReportStatus::Resolved);
        assert_eq!(v.me_too_count(), 1);
        let row = &r
            .store
            .list(&ListQuery {
                kind: Some(Kind::Report),
                status: Some("resolved".into()),
                ..Default::default()
            })?
            .items;
        assert!(
            row.iter()
                .all(|s| matches!(s.detail, Detail::Report { me_too: 1, .. }))
        );
        Ok(())
    }

    /// Two caretakers offline: one resolves, one rejects. The earlier in `(at, by, id)` order
    /// stands on every replica; the other is told `transition_ignored`.
    #[test]
    fn conflicting_transitions_converge_and_notify_the_loser() -> Result<()> {
        for resolve_first in [true, false] {
            let r = device(Role::Resident)?;
            let c1 = device(Role::Caretaker)?;
            let c2 = device(Role::Caretaker)?;
            let id = r.store.create_report(&sample())?;
            sync(&[&r, &c1, &c2])?;
            let (resolve_at, reject_at) = if resolve_first {
                (T + 10, T + 20)
            } else {
                (T + 20, T + 10)
            };
            c1.clock.set(resolve_at);
            c1.store.transition_report(&id, ReportTransition::Resolve)?;
            c2.clock.set(reject_at);
            c2.store.transition_report(
                &id,
                ReportTransition::Reject {
                    reason: "niet van ons".into(),
                },
            )?;
            sync(&[&r, &c1, &c2])?;
            let v = converged(&[&r, &c1, &c2], &id)?;
            let (winner_status, loser) = if resolve_first {
                (ReportStatus::Resolved, &c2)
            } else {
                (ReportStatus::Rejected, &c1)
            };
            assert_eq!(v.status, winner_status);
            assert_eq!(v.timeline.len(), 1);
            assert_eq!(v.notices.len(), 1);
            assert_eq!(v.notices[0].member, loser.member);
            assert_eq!(v.notices[0].code, "transition_ignored");
            let told = loser.store.my_notices()?;
            assert!(
                told.iter()
                    .any(|n| n.code == "transition_ignored" && n.entity == id.as_str())
            );
        }
        Ok(())
    }

    /// The same step by two caretakers at the same time is redundant, not a conflict.
    #[test]
    fn same_step_twice_is_not_a_conflict() -> Result<()> {
        let c1 = device(Role::Caretaker)?;
        let c2 = device(Role::Caretaker)?;
        let id = c1.store.create_report(&sample())?;
        sync(&[&c1, &c2])?;
        c1.store
            .transition_report(&id, ReportTransition::Acknowledge)?;
        c2.store
            .transition_report(&id, ReportTransition::Acknowledge)?;
        sync(&[&c1, &c2])?;
        let v = converged(&[&c1, &c2], &id)?;
        assert_eq!(v.status, ReportStatus::Acknowledged);
        assert_eq!(v.timeline.len(), 1);
        assert!(v.notices.is_empty());
        Ok(())
    }

    #[test]
    fn concurrent_description_edits_merge() -> Result<()> {
        let r = device(Role::Resident)?;
        let c = device(Role::Caretaker)?;
        let n = device(Role::Resident)?;
        let id = r.store.create_report(&NewReport {
            description: "lamp stuk".into(),
            ..sample()
        })?;
        sync(&[&r, &c, &n])?;
        assert!(matches!(
            n.store.edit_report(&id, "x"),
            Err(Error::NotAllowed { .. })
        ));
        r.store.edit_report(&id, "kelder: lamp stuk")?;
        c.store.edit_report(&id, "lamp stuk, nieuwe besteld")?;
        sync(&[&r, &c, &n])?;
        let v = converged(&[&r, &c, &n], &id)?;
        assert_eq!(v.description, "kelder: lamp stuk, nieuwe besteld");
        Ok(())
    }

    #[test]
    fn responsible_and_response() -> Result<()> {
        let r = device(Role::Resident)?;
        let s = device(Role::Staff)?;
        let o = device(Role::Organiser)?;
        let id = r.store.create_report(&sample())?;
        sync(&[&r, &s, &o])?;
        assert!(matches!(
            r.store.set_report_responsible(&id, "ik"),
            Err(Error::NotAllowed { .. })
        ));
        assert!(matches!(
            r.store.set_report_response(&id, "ok"),
            Err(Error::NotAllowed { .. })
        ));
        s.clock.set(T + 10);
        s.store.set_report_responsible(&id, "Woonstichting")?;
        o.clock.set(T + 20);
        o.store.set_report_responsible(&id, "Gemeente")?;
        s.clock.set(T + 30);
        s.store.set_report_response(&id, "We kijken ernaar.")?;
        o.clock.set(T + 40);
        o.store.set_report_response(&id, "Doorgegeven.")?;
        sync(&[&r, &s, &o])?;
        let v = converged(&[&r, &s, &o], &id)?;
        assert_eq!(
            v.responsible.as_deref(),
            Some("Gemeente"),
            "the latest by order wins"
        );
        assert!(v.response.contains("We kijken ernaar.") || v.response.contains("Doorgegeven."));
        assert_eq!(v.updated_at, T + 40);
        assert_eq!(v.response_at, Some(T + 40));
        assert_eq!(v.response_by.as_ref(), Some(&o.member));
        let found = r.store.list(&ListQuery {
            text: Some("kijken".into()),
            ..Default::default()
        })?;
        assert_eq!(
            found.items.len(),
            usize::from(v.response.contains("kijken"))
        );
        let page = r.store.list(&ListQuery {
            kind: Some(Kind::Report),
            ..Default::default()
        })?;
        assert!(matches!(
            &page.items[0].detail,
            Detail::Report { responsible: Some(r), .. } if r == "Gemeente"
        ));
        o.clock.set(T + 50);
        o.store.set_report_responsible(&id, "")?;
        assert_eq!(o.store.report(&id)?.responsible, None);
        Ok(())
    }

    #[test]
    fn photo_permissions_and_limit() -> Result<()> {
        let r = device(Role::Resident)?;
        let n = device(Role::Resident)?;
        let c = device(Role::Caretaker)?;
        let id = r.store.create_report(&sample())?;
        sync(&[&r, &n, &c])?;
        r.store.attach_photo_ref(&id, &photo('0'))?;
        sync(&[&r, &n, &c])?;
        assert!(matches!(
            n.store.attach_photo_ref(&id, &photo('1')),
            Err(Error::NotAllowed { .. })
        ));
        let digits = "123456789abcdef";
        for ch in digits.chars() {
            c.store.attach_photo_ref(&id, &photo(ch))?;
        }
        for i in 1..=4 {
            let hash = format!("{:064x}", 0x1000 + i);
            c.store
                .attach_photo_ref(&id, &PhotoRef { hash, ..photo('0') })?;
        }
        assert_eq!(c.store.report(&id)?.photos.len(), MAX_PHOTOS);
        let one_more = PhotoRef {
            hash: format!("{:064x}", 0x2000),
            ..photo('0')
        };
        assert_eq!(field_of(c.store.attach_photo_ref(&id, &one_more)), "photo");
        sync(&[&r, &n, &c])?;
        let v = converged(&[&r, &n, &c], &id)?;
        assert_eq!(v.photos[0].by, r.member);
        let page = r.store.list(&ListQuery {
            kind: Some(Kind::Report),
            ..Default::default()
        })?;
        assert!(matches!(
            page.items[0].detail,
            Detail::Report { photos, .. } if photos == MAX_PHOTOS as i64
        ));
        Ok(())
    }

    /// The caretaker's phone runs five minutes ahead of the reporter's. The reporter confirms
    /// after seeing the resolve; the confirm still replays after it.
    #[test]
    fn clock_skew_does_not_reorder_what_was_seen() -> Result<()> {
        let r = device(Role::Resident)?;
        let c = device(Role::Caretaker)?;
        let id = r.store.create_report(&sample())?;
        sync(&[&r, &c])?;
        c.clock.set(T + 300_000);
        c.store.transition_report(&id, ReportTransition::Resolve)?;
        sync(&[&r, &c])?;
        r.clock.set(T + 60_000);
        r.store.transition_report(&id, ReportTransition::Confirm)?;
        assert!(matches!(
            r.store.me_too_report(&id),
            Err(Error::NotAllowed { .. })
        ));
        sync(&[&r, &c])?;
        let v = converged(&[&r, &c], &id)?;
        assert_eq!(v.status, ReportStatus::Confirmed);
        assert!(v.notices.is_empty());
        assert_eq!(v.timeline[1].at, T + 300_001);
        Ok(())
    }

    /// `photo_refs` names every member whose attachment of a shown photo counts, also when
    /// two attached the same photo concurrently (whichever entry the merge puts first).
    #[test]
    fn photo_refs_name_every_attacher_of_a_shown_photo() -> Result<()> {
        let r = device(Role::Resident)?;
        let c = device(Role::Caretaker)?;
        let id = r.store.create_report(&sample())?;
        sync(&[&r, &c])?;
        r.store.attach_photo_ref(&id, &photo('a'))?;
        c.store.attach_photo_ref(&id, &photo('a'))?;
        c.store.attach_photo_ref(&id, &photo('b'))?;
        let mut d = AutoCommit::new();
        for dev in [&r, &c] {
            for ch in dev.store.pending_changes(1000)? {
                d.load_incremental(&ch.bytes).unwrap();
            }
        }
        let mut want = vec![
            ("a".repeat(64), r.member.clone()),
            ("a".repeat(64), c.member.clone()),
            ("b".repeat(64), c.member.clone()),
        ];
        want.sort();
        assert_eq!(photo_refs(&d), want);
        assert_eq!(photo_hashes(&d).len(), 2);
        assert!(photo_refs(&AutoCommit::new()).is_empty());
        Ok(())
    }

    /// `photo_hashes` lists the attached photos a device would show, and nothing for a
    /// document of another kind.
    #[test]
    fn photo_hashes_lists_the_attached_photos() -> Result<()> {
        let r = device(Role::Resident)?;
        let id = r.store.create_report(&sample())?;
        r.store.attach_photo_ref(&id, &photo('a'))?;
        r.store.attach_photo_ref(&id, &photo('b'))?;
        r.store.attach_photo_ref(&id, &photo('a'))?;
        let bytes: Vec<Vec<u8>> = r
            .store
            .pending_changes(1000)?
            .into_iter()
            .map(|c| c.bytes)
            .collect();
        let load = |bytes: &[Vec<u8>]| -> AutoCommit {
            let mut d = AutoCommit::new();
            for b in bytes {
                d.load_incremental(b).unwrap();
            }
            d
        };
        let d = load(&bytes);
        assert_eq!(photo_hashes(&d), vec!["a".repeat(64), "b".repeat(64)]);
        let help = r.store.create_help(&crate::model::help::NewHelp::ask(
            "groceries",
            "Boodschappen",
        ))?;
        let help_bytes: Vec<Vec<u8>> = r
            .store
            .pending_changes(1000)?
            .into_iter()
            .filter(|c| c.entity == help)
            .map(|c| c.bytes)
            .collect();
        assert!(photo_hashes(&load(&help_bytes)).is_empty());
        assert!(photo_hashes(&AutoCommit::new()).is_empty());
        Ok(())
    }
}
