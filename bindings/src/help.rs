//! Help requests and offers: ask, offer, respond, match, done, cancel, thanks.

use noaber_core::model::help::{self as core, HelpStatus, Response, Thanks};
use noaber_core::{Audience, MemberId};

use crate::error::Result;
use crate::store::NoaberStore;
use crate::types::{Notice, entity, member, notices};

// Hand-converted: defaults and an optional audience, unlike the core's.
/// What a new help request or offer says.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct NewHelp {
    /// `true` to offer help, `false` to ask for it.
    #[uniffi(default = false)]
    pub offer: bool,
    /// `groceries`, `transport`, `odd_jobs`, `company`, `paperwork`, `garden` or `other`.
    pub category: String,
    /// A short title.
    pub title: String,
    /// Details (may be empty).
    #[uniffi(default = "")]
    pub body: String,
    /// `low`, `normal` or `high`.
    #[uniffi(default = "normal")]
    pub urgency: String,
    /// Start of the time window, ms.
    #[uniffi(default)]
    pub window_start: Option<i64>,
    /// End of the time window, ms; after it an open request expires.
    #[uniffi(default)]
    pub window_end: Option<i64>,
    /// Location precision: `complex`, `stairwell`, `street` or `buurt`.
    #[uniffi(default = "street")]
    pub precision: String,
    /// A label at that precision; never a house number.
    #[uniffi(default = "")]
    pub location_label: String,
    /// Who reads it; `None` for the whole buurt. Fixed at creation.
    #[uniffi(default)]
    pub audience: Option<Audience>,
}

impl From<NewHelp> for core::NewHelp {
    fn from(n: NewHelp) -> Self {
        core::NewHelp {
            audience: n.audience.unwrap_or_default(),
            offer: n.offer,
            category: n.category,
            title: n.title,
            body: n.body,
            urgency: n.urgency,
            window_start: n.window_start,
            window_end: n.window_end,
            precision: n.precision,
            location_label: n.location_label,
        }
    }
}

/// Derived status of a help request (`expired` is applied by lists, with the clock).
#[uniffi::remote(Enum)]
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

/// An active "I can help".
#[uniffi::remote(Record)]
#[uniffi(name = "HelpResponse")]
pub struct Response {
    /// The responder.
    pub member: MemberId,
    /// When they (last) responded, ms.
    pub at: i64,
    /// Their message.
    pub message: String,
}

/// Thanks or feedback left after done.
#[uniffi::remote(Record)]
#[uniffi(name = "HelpThanks")]
pub struct Thanks {
    /// Who wrote it.
    pub by: MemberId,
    /// When, ms.
    pub at: i64,
    /// The text.
    pub text: String,
}

// Hand-converted: adds `expired`, derived with the clock.
/// Everything a screen shows about one help request.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
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
    /// Window start, ms.
    pub window_start: Option<i64>,
    /// Window end, ms.
    pub window_end: Option<i64>,
    /// Location precision.
    pub precision: String,
    /// Location label.
    pub location_label: String,
    /// The requester (or offerer).
    pub requester: String,
    /// Created at, ms.
    pub created_at: i64,
    /// Last activity, ms.
    pub updated_at: i64,
    /// Derived status.
    pub status: HelpStatus,
    /// Whether it is expired now (open, and its window has ended).
    pub expired: bool,
    /// Active responses, in order.
    pub responses: Vec<Response>,
    /// The matched helper.
    pub helper: Option<String>,
    /// Who made the standing match.
    pub matched_by: Option<String>,
    /// Thanks and feedback.
    pub thanks: Vec<Thanks>,
    /// Cancel reason, if cancelled with one.
    pub cancel_reason: Option<String>,
    /// What members should be told.
    pub notices: Vec<Notice>,
}

fn view(v: core::HelpView, now: i64) -> HelpView {
    HelpView {
        expired: v.is_expired(now),
        id: v.id,
        mode: v.mode,
        category: v.category,
        title: v.title,
        body: v.body,
        urgency: v.urgency,
        window_start: v.window_start,
        window_end: v.window_end,
        precision: v.precision,
        location_label: v.location_label,
        requester: v.requester.to_string(),
        created_at: v.created_at,
        updated_at: v.updated_at,
        status: v.status,
        responses: v.responses,
        helper: v.helper.map(|m| m.to_string()),
        matched_by: v.matched_by.map(|m| m.to_string()),
        thanks: v.thanks,
        cancel_reason: v.cancel_reason,
        notices: notices(v.notices),
    }
}

#[uniffi::export]
impl NoaberStore {
    /// Creates a help request (or offer) by the local member; returns its id.
    ///
    /// # Errors
    ///
    /// `InvalidInput` naming the field (`title`, `category`, `urgency`, `precision`,
    /// `window_end`, ...); `Storage`.
    pub fn create_help(&self, new: NewHelp) -> Result<String> {
        Ok(self.store.create_help(&new.into())?.to_string())
    }

    /// One help request, derived from its document.
    ///
    /// # Errors
    ///
    /// `InvalidInput` (`id`); `NotFound`; `Storage`.
    pub fn help(&self, id: String) -> Result<HelpView> {
        let v = self.store.help(&entity(&id)?)?;
        Ok(view(v, self.store.now_ms()))
    }

    /// Edits the title and/or body (`None`, the default, keeps it).
    ///
    /// # Errors
    ///
    /// `NotAllowed` unless the requester or an organiser; `InvalidInput`.
    #[uniffi::method(default(title = None, body = None))]
    pub fn edit_help(&self, id: String, title: Option<String>, body: Option<String>) -> Result<()> {
        Ok(self
            .store
            .edit_help(&entity(&id)?, title.as_deref(), body.as_deref())?)
    }

    /// The local member says "I can help" (or updates their message).
    ///
    /// # Errors
    ///
    /// `NotAllowed` for the requester, or when the request is done, cancelled or expired.
    pub fn respond_help(&self, id: String, message: String) -> Result<()> {
        Ok(self.store.respond_help(&entity(&id)?, &message)?)
    }

    /// The local member withdraws their response.
    ///
    /// # Errors
    ///
    /// `NotFound` when the local member has no active response.
    pub fn withdraw_help_response(&self, id: String) -> Result<()> {
        Ok(self.store.withdraw_help_response(&entity(&id)?)?)
    }

    /// Matches a responder as the helper (the requester, or an organiser).
    ///
    /// # Errors
    ///
    /// `NotAllowed` for anyone else or unless open; `InvalidInput` when `helper` has no
    /// active response.
    pub fn match_help(&self, id: String, helper: String) -> Result<()> {
        Ok(self.store.match_help(&entity(&id)?, &member(&helper)?)?)
    }

    /// Undoes the standing match.
    ///
    /// # Errors
    ///
    /// `NotAllowed` unless matched, or for someone not involved.
    pub fn unmatch_help(&self, id: String) -> Result<()> {
        Ok(self.store.unmatch_help(&entity(&id)?)?)
    }

    /// Marks a matched request done.
    ///
    /// # Errors
    ///
    /// `NotAllowed` unless matched, or for someone not involved.
    pub fn complete_help(&self, id: String) -> Result<()> {
        Ok(self.store.complete_help(&entity(&id)?)?)
    }

    /// Cancels an open or matched request (the requester or an organiser); the reason may be
    /// empty (the default).
    ///
    /// # Errors
    ///
    /// `NotAllowed` when done or cancelled already, or for others.
    #[uniffi::method(default(reason = ""))]
    pub fn cancel_help(&self, id: String, reason: String) -> Result<()> {
        Ok(self.store.cancel_help(&entity(&id)?, &reason)?)
    }

    /// Leaves thanks or feedback after done (the requester or the helper).
    ///
    /// # Errors
    ///
    /// `NotAllowed` unless done, or for others.
    pub fn thank_help(&self, id: String, text: String) -> Result<()> {
        Ok(self.store.thank_help(&entity(&id)?, &text)?)
    }
}
