//! The kind's types: inputs, views, statuses and the limits on what is written.

use serde::Serialize;

use crate::ids::{EntityId, MemberId};
use crate::model::{Action, Notice, Role, allowed};

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

pub(super) const MAX_DESCRIPTION: usize = 5_000;
pub(super) const MAX_LABEL_PART: usize = 80;
pub(super) const MAX_REASON: usize = 2_000;
pub(super) const MAX_RESPONSE: usize = 5_000;
pub(super) const MAX_PARTY: usize = 200;
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
    pub(super) fn work_rank(self) -> Option<u8> {
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

    pub(super) fn verb(&self) -> &'static str {
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

    pub(super) fn may_attach(&self, member: &MemberId, role: Role) -> bool {
        member == &self.reporter
            || allowed(Action::WorkReport, role)
            || allowed(Action::TriageReport, role)
    }
}
