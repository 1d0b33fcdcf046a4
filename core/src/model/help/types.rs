//! The kind's types: inputs, views, statuses and the limits on what is written.

use serde::Serialize;

use super::fields::EDITOR;
use crate::ids::MemberId;
use crate::model::{Ctx, Notice};

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

pub(super) const MAX_TITLE: usize = 200;
pub(super) const MAX_BODY: usize = 5_000;
pub(super) const MAX_LABEL: usize = 120;
pub(super) const MAX_MESSAGE: usize = 2_000;

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

    pub(super) fn may_manage(&self, ctx: &Ctx) -> bool {
        EDITOR.permits(&ctx.member, ctx.role, &self.requester)
    }
}
