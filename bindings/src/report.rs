//! Environment issue reports: create (offline), "me too", the workflow, the responsible party,
//! the public response, photo references.

use noaber_core::model::report::{
    self as core, MeToo, PhotoRef, ReportPhoto, ReportStatus, ReportTransition, TimelineEntry,
};
use noaber_core::{Audience, EntityId, MemberId, Role};

use crate::error::Result;
use crate::store::NoaberStore;
use crate::types::{Notice, entity, notices};

// Hand-converted: defaults and an optional audience, unlike the core's.
/// What a new report says.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct NewReport {
    /// `lighting`, `waste`, `graffiti`, ... (the core's categories).
    pub category: String,
    /// What is wrong (may be empty).
    #[uniffi(default = "")]
    pub description: String,
    /// Latitude of the exact point.
    pub lat: f64,
    /// Longitude of the exact point.
    pub lon: f64,
    /// Complex name or number.
    #[uniffi(default)]
    pub complex: Option<String>,
    /// Floor ("kelder", "3").
    #[uniffi(default)]
    pub floor: Option<String>,
    /// Stairwell ("portiek 12–20").
    #[uniffi(default)]
    pub stairwell: Option<String>,
    /// `low`, `normal`, `high` or `urgent`.
    #[uniffi(default = "normal")]
    pub severity: String,
    /// Who reads it; `None` for the whole buurt. Fixed at creation.
    #[uniffi(default)]
    pub audience: Option<Audience>,
}

impl From<NewReport> for core::NewReport {
    fn from(n: NewReport) -> Self {
        core::NewReport {
            audience: n.audience.unwrap_or_default(),
            category: n.category,
            description: n.description,
            lat: n.lat,
            lon: n.lon,
            complex: n.complex,
            floor: n.floor,
            stairwell: n.stairwell,
            severity: n.severity,
        }
    }
}

/// Derived workflow state of a report.
#[uniffi::remote(Enum)]
pub enum ReportStatus {
    /// Logged, nobody has acted yet.
    Reported,
    /// Seen by someone who works on reports.
    Acknowledged,
    /// Work is planned.
    Planned,
    /// Work has started.
    InProgress,
    /// Fixed, waiting for the reporter.
    Resolved,
    /// The reporter confirmed the fix (final).
    Confirmed,
    /// Not fixed after all; behaves like `Reported`.
    Reopened,
    /// Rejected with a reason (final).
    Rejected,
    /// A duplicate of another report (final).
    Duplicate,
    /// Referred to another party (final).
    Referred,
}

/// A workflow step.
#[uniffi::remote(Enum)]
pub enum ReportTransition {
    /// → acknowledged (caretaker, staff).
    Acknowledge,
    /// → planned (caretaker, staff).
    Plan,
    /// → in progress (caretaker, staff).
    Start,
    /// → resolved (caretaker, staff).
    Resolve,
    /// resolved → confirmed (the reporter).
    Confirm,
    /// resolved → reopened (the reporter, or staff).
    Reopen {
        /// Why it is not fixed (may be empty).
        reason: String,
    },
    /// → rejected (caretaker, organiser, staff).
    Reject {
        /// Why (required).
        reason: String,
    },
    /// → duplicate of another report (caretaker, organiser, staff).
    Duplicate {
        /// The report id this one duplicates.
        of: EntityId,
    },
    /// → referred to another party (caretaker, organiser, staff).
    Refer {
        /// The municipality, a contractor, ... (required).
        to: String,
    },
}

/// A reference to a photo (the bytes travel separately, stripped of metadata).
#[uniffi::remote(Record)]
pub struct PhotoRef {
    /// SHA-256 of the photo's bytes: 64 lowercase hex digits.
    pub hash: String,
    /// `image/jpeg`, `image/png` or `image/webp`.
    pub mime: String,
    /// Size in bytes.
    pub size: u64,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

/// An attached photo reference.
#[uniffi::remote(Record)]
pub struct ReportPhoto {
    /// Who attached it.
    pub by: MemberId,
    /// When, ms.
    pub at: i64,
    /// The reference.
    pub photo: PhotoRef,
}

/// One applied workflow step.
#[uniffi::remote(Record)]
pub struct TimelineEntry {
    /// Who took it.
    pub by: MemberId,
    /// Their role then.
    pub role: Role,
    /// When, ms.
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
#[uniffi::remote(Record)]
pub struct MeToo {
    /// The member.
    pub member: MemberId,
    /// Since when, ms.
    pub at: i64,
}

// Hand-converted: adds the title, location label and `needs_response`.
/// Everything a screen shows about one report.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ReportView {
    /// Entity id.
    pub id: String,
    /// The title lists show (the description's first line, else the category).
    pub title: String,
    /// Category.
    pub category: String,
    /// Description.
    pub description: String,
    /// Latitude.
    pub lat: Option<f64>,
    /// Longitude.
    pub lon: Option<f64>,
    /// Complex, if given.
    pub complex: Option<String>,
    /// Floor, if given.
    pub floor: Option<String>,
    /// Stairwell, if given.
    pub stairwell: Option<String>,
    /// Complex, floor and stairwell joined, if any is given.
    pub location_label: Option<String>,
    /// Severity.
    pub severity: String,
    /// The reporter.
    pub reporter: String,
    /// Created at, ms.
    pub created_at: i64,
    /// Last activity, ms.
    pub updated_at: i64,
    /// Derived workflow state.
    pub status: ReportStatus,
    /// Whether someone working on reports should look at it.
    pub needs_response: bool,
    /// Applied workflow steps, in order.
    pub timeline: Vec<TimelineEntry>,
    /// Active "me too"s, in order.
    pub me_too: Vec<MeToo>,
    /// The party responsible, if set.
    pub responsible: Option<String>,
    /// The public response (empty until written).
    pub response: String,
    /// When the response was last edited, ms.
    pub response_at: Option<i64>,
    /// Who last edited the response.
    pub response_by: Option<String>,
    /// When the description was last edited, ms.
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

fn view(v: core::ReportView) -> ReportView {
    ReportView {
        title: v.title(),
        location_label: v.location_label(),
        needs_response: v.needs_response(),
        id: v.id,
        category: v.category,
        description: v.description,
        lat: v.lat,
        lon: v.lon,
        complex: v.complex,
        floor: v.floor,
        stairwell: v.stairwell,
        severity: v.severity,
        reporter: v.reporter.to_string(),
        created_at: v.created_at,
        updated_at: v.updated_at,
        status: v.status,
        timeline: v.timeline,
        me_too: v.me_too,
        responsible: v.responsible,
        response: v.response,
        response_at: v.response_at,
        response_by: v.response_by.map(|m| m.to_string()),
        edited_at: v.edited_at,
        photos: v.photos,
        reject_reason: v.reject_reason,
        duplicate_of: v.duplicate_of,
        referred_to: v.referred_to,
        notices: notices(v.notices),
    }
}

#[uniffi::export]
impl NoaberStore {
    /// Creates an issue report by the local member at an exact point; works offline.
    ///
    /// # Errors
    ///
    /// `InvalidInput` naming the field (`category`, `severity`, `lat`, `lon`, ...).
    pub fn create_report(&self, new: NewReport) -> Result<String> {
        Ok(self.store.create_report(&new.into())?.to_string())
    }

    /// One report, derived from its document.
    ///
    /// # Errors
    ///
    /// `InvalidInput` (`id`); `NotFound`; `Storage`.
    pub fn report(&self, id: String) -> Result<ReportView> {
        Ok(view(self.store.report(&entity(&id)?)?))
    }

    /// Replaces the description.
    ///
    /// # Errors
    ///
    /// `NotAllowed` unless the reporter, a caretaker or staff; `InvalidInput`.
    pub fn edit_report(&self, id: String, description: String) -> Result<()> {
        Ok(self.store.edit_report(&entity(&id)?, &description)?)
    }

    /// Takes a workflow step.
    ///
    /// # Errors
    ///
    /// `NotAllowed` when the step is not possible now or not for this member's role;
    /// `InvalidInput` for a missing reason or referral, or a bad `of`.
    pub fn transition_report(&self, id: String, step: ReportTransition) -> Result<()> {
        Ok(self.store.transition_report(&entity(&id)?, step)?)
    }

    /// The local member says "me too".
    ///
    /// # Errors
    ///
    /// `NotAllowed` for the reporter, or when confirmed.
    pub fn me_too_report(&self, id: String) -> Result<()> {
        Ok(self.store.me_too_report(&entity(&id)?)?)
    }

    /// The local member withdraws their "me too".
    ///
    /// # Errors
    ///
    /// `NotFound` when the local member has no active "me too".
    pub fn withdraw_me_too(&self, id: String) -> Result<()> {
        Ok(self.store.withdraw_me_too(&entity(&id)?)?)
    }

    /// Sets the party responsible (empty clears it).
    ///
    /// # Errors
    ///
    /// `NotAllowed` unless a caretaker, organiser or staff; `InvalidInput`.
    pub fn set_report_responsible(&self, id: String, party: String) -> Result<()> {
        Ok(self.store.set_report_responsible(&entity(&id)?, &party)?)
    }

    /// Replaces the public response.
    ///
    /// # Errors
    ///
    /// `NotAllowed` unless a caretaker, organiser or staff; `InvalidInput`.
    pub fn set_report_response(&self, id: String, text: String) -> Result<()> {
        Ok(self.store.set_report_response(&entity(&id)?, &text)?)
    }
}
