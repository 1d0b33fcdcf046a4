//! Records and enums shared by every kind: ids, kinds and roles, the local identity, points,
//! comments, notices, and the list/search/count queries.
//!
//! The core has no uniffi derives. A core type whose fields are all uniffi types is exported
//! as it is, with `#[uniffi::remote(..)]` repeating its definition (uniffi checks the copy
//! against the real type when it builds the converters); the rest are records of this crate,
//! converted by hand.

use noaber_core::model::{CommentRow, Detail};
use noaber_core::store::query::{BBox, NoticeRow, Order, StatusCount};
use noaber_core::{Audience, Changed, EntityId, Identity, Kind, MemberId, Role};
use noaber_core::{Page, Summary};

use crate::error::{NoaberError, Result};

/// Parses an entity id argument (32 lowercase hex digits).
pub(crate) fn entity(id: &str) -> Result<EntityId> {
    Ok(EntityId::parse(id)?)
}

/// Parses a member id argument (32 lowercase hex digits).
pub(crate) fn member(id: &str) -> Result<MemberId> {
    Ok(MemberId::parse(id)?)
}

/// A count or position for the foreign side (`usize` is not portable across the FFI).
pub(crate) fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// The core's `usize` counts and positions, named for the foreign side.
type Count = usize;

uniffi::custom_type!(
    /// A count or 1-based position (the core's `usize`; an unsigned 64-bit integer here).
    Count,
    u64,
    {
        remote,
        lower: |n| count(n),
        try_lift: |n| Ok(usize::try_from(n)?),
    }
);

/// Exports one of the core's id newtypes as a string (a `typealias` for the foreign side), parsed
/// as it crosses: a malformed id is refused with `InvalidInput` (`id` or `member`).
macro_rules! id_type {
    ($(#[$doc:meta])* $id:ident) => {
        uniffi::custom_type!(
            $(#[$doc])*
            $id,
            String,
            {
                remote,
                lower: |id| id.to_string(),
                try_lift: |s| Ok($id::parse(&s).map_err(NoaberError::from)?),
            }
        );
    };
}

id_type!(
    /// An entity id: 32 lowercase hex digits.
    EntityId
);
id_type!(
    /// A member id: 32 lowercase hex digits.
    MemberId
);

/// The kinds of entity.
#[uniffi::remote(Enum)]
pub enum Kind {
    /// A help request or offer.
    Help,
    /// A buurt event.
    Event,
    /// An ownership task.
    Task,
    /// An environment issue report.
    Report,
    /// A member profile.
    Profile,
}

/// Who reads a document; fixed when it is created (the core's `audience` module has the rule).
#[uniffi::remote(Enum)]
pub enum Audience {
    /// Every member of the buurt (the default).
    Buurt,
    /// The creator, organisers and staff, and the members it is shared with.
    Organisers,
    /// As `Organisers`, plus everyone who takes part (responds, is matched, comments, ...).
    Participants,
}

// Hand-converted: the core's member set is a `BTreeSet`, not a uniffi type.
/// Who reads a document.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Readers {
    /// Its audience.
    pub audience: Audience,
    /// Besides organisers and staff, the member ids that read it (empty for `Buurt`, which
    /// every member reads).
    pub members: Vec<String>,
}

impl From<noaber_core::Readers> for Readers {
    fn from(r: noaber_core::Readers) -> Self {
        Readers {
            audience: r.audience,
            members: r.members.into_iter().map(|m| m.to_string()).collect(),
        }
    }
}

/// A member's role in a buurt; what each may do is the core's permission table.
#[uniffi::remote(Enum)]
pub enum Role {
    /// A resident.
    Resident,
    /// A caretaker (huismeester, wijkbeheerder).
    Caretaker,
    /// A community organiser.
    Organiser,
    /// Housing-corporation staff or the residents' committee.
    Staff,
}

/// The person using this device.
#[uniffi::remote(Record)]
pub struct Identity {
    /// The member id written into documents.
    pub member: MemberId,
    /// The role the device acts in.
    pub role: Role,
    /// Display name, if set.
    pub display_name: Option<String>,
    /// Household / complex label, if set.
    pub household: Option<String>,
    /// This device's Automerge actor id (hex).
    pub actor: String,
}

/// An exact point.
#[derive(Debug, Clone, Copy, PartialEq, uniffi::Record)]
pub struct GeoPoint {
    /// Latitude, −90..=90.
    pub lat: f64,
    /// Longitude, −180..=180.
    pub lon: f64,
}

/// How an edit changes an entity's point.
#[derive(Debug, Clone, Copy, PartialEq, uniffi::Enum)]
pub enum PointChange {
    /// Set the point.
    Set {
        /// The new point.
        point: GeoPoint,
    },
    /// Remove the point.
    Remove,
}

impl From<PointChange> for Option<(f64, f64)> {
    fn from(p: PointChange) -> Self {
        match p {
            PointChange::Set { point } => Some((point.lat, point.lon)),
            PointChange::Remove => None,
        }
    }
}

// Hand-converted: the core's `code` is an enum the foreign side reads as a string.
/// Something a member should be told because someone else's concurrent action won.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Notice {
    /// Who is told.
    pub member: String,
    /// Stable machine code (`claim_lost`, `match_superseded`, `waitlisted`, ...).
    pub code: String,
    /// A sentence for people.
    pub text: String,
}

impl From<noaber_core::model::Notice> for Notice {
    fn from(n: noaber_core::model::Notice) -> Self {
        Notice {
            member: n.member.to_string(),
            code: n.code.as_str().to_owned(),
            text: n.text,
        }
    }
}

pub(crate) fn notices(ns: Vec<noaber_core::model::Notice>) -> Vec<Notice> {
    ns.into_iter().map(Notice::from).collect()
}

/// A notice for the local member, with the entity it is about.
#[uniffi::remote(Record)]
#[uniffi(name = "MyNotice")]
pub struct NoticeRow {
    /// The entity.
    pub entity: String,
    /// Its kind.
    pub kind: Kind,
    /// Its title.
    pub title: String,
    /// Machine code.
    pub code: String,
    /// A sentence for people.
    pub text: String,
}

/// One entity that changed in a commit.
#[uniffi::remote(Record)]
pub struct Changed {
    /// The entity id.
    pub id: EntityId,
    /// Its kind.
    pub kind: Kind,
}

/// A comment on an entity.
#[uniffi::remote(Record)]
#[uniffi(name = "Comment")]
pub struct CommentRow {
    /// The comment id (for edit and withdraw).
    pub id: String,
    /// Its author.
    pub author: MemberId,
    /// When it was written, ms since the epoch.
    pub at: i64,
    /// Its text (empty when withdrawn).
    pub body: String,
    /// When it was last edited, if ever.
    pub edited_at: Option<i64>,
    /// Whether the author withdrew it.
    pub withdrawn: bool,
}

/// Sort order of a list.
#[uniffi::remote(Enum)]
#[uniffi(name = "ListOrder")]
pub enum Order {
    /// Most recently active first.
    Recent,
    /// Soonest start first; entities without a start are left out.
    Upcoming,
}

/// A latitude/longitude rectangle.
#[uniffi::remote(Record)]
pub struct BBox {
    /// Southern edge.
    pub south: f64,
    /// Western edge.
    pub west: f64,
    /// Northern edge.
    pub north: f64,
    /// Eastern edge.
    pub east: f64,
}

// Hand-converted: its fields differ from the core's (`time_from` for `from`, optional order).
/// A list, filter or search query. Every filter is optional and they combine with AND; the
/// default lists everything, most recent first, 50 per page.
#[derive(Debug, Clone, Default, PartialEq, uniffi::Record)]
pub struct ListQuery {
    /// Only this kind.
    #[uniffi(default)]
    pub kind: Option<Kind>,
    /// Only this effective status (`open`, `expired`, `overdue`, `upcoming`, ...).
    #[uniffi(default)]
    pub status: Option<String>,
    /// Only this category.
    #[uniffi(default)]
    pub category: Option<String>,
    /// Only entities whose time range (or creation) reaches at or after this, ms.
    #[uniffi(default)]
    pub time_from: Option<i64>,
    /// ... and starts at or before this, ms.
    #[uniffi(default)]
    pub time_to: Option<i64>,
    /// Only entities with a point inside this box.
    #[uniffi(default)]
    pub bbox: Option<BBox>,
    /// Only entities the local member takes part in.
    #[uniffi(default)]
    pub mine: bool,
    /// Only entities that need a response.
    #[uniffi(default)]
    pub needs_response: bool,
    /// Full-text search over titles, bodies and comments (words, prefix matched).
    #[uniffi(default)]
    pub text: Option<String>,
    /// Sort order; `None` is `ListOrder::Recent`.
    #[uniffi(default)]
    pub order: Option<Order>,
    /// Page size, 1..=500; 0 means 50.
    #[uniffi(default)]
    pub limit: u32,
    /// The `next` cursor of the previous page.
    #[uniffi(default)]
    pub after: Option<String>,
}

impl From<ListQuery> for noaber_core::ListQuery {
    fn from(q: ListQuery) -> Self {
        noaber_core::ListQuery {
            kind: q.kind,
            status: q.status,
            category: q.category,
            from: q.time_from,
            to: q.time_to,
            bbox: q.bbox,
            mine: q.mine,
            needs_response: q.needs_response,
            text: q.text,
            order: q.order.unwrap_or_default(),
            limit: q.limit,
            after: q.after,
        }
    }
}

/// One row of a list.
#[uniffi::remote(Record)]
pub struct Summary {
    /// Entity id.
    pub id: String,
    /// Kind.
    pub kind: Kind,
    /// Effective status (the clock applied: `expired`, `due`, `overdue`, ...).
    pub status: String,
    /// Category.
    pub category: Option<String>,
    /// Title.
    pub title: String,
    /// Creator.
    pub created_by: String,
    /// Created at, ms.
    pub created_at: i64,
    /// Last activity, ms.
    pub updated_at: i64,
    /// Start of the time range, ms.
    pub starts_at: Option<i64>,
    /// End of the time range, ms.
    pub ends_at: Option<i64>,
    /// Location label.
    pub location_label: Option<String>,
    /// Latitude.
    pub lat: Option<f64>,
    /// Longitude.
    pub lon: Option<f64>,
    /// Whether someone should respond.
    pub needs_response: bool,
    /// Kind-specific figures (going, waitlisted, adopter, me-too count, ...).
    pub detail: Detail,
    /// Whether a change made on this device waits for the relay ("not sent yet").
    pub unsynced: bool,
}

/// What a list row shows beyond the common columns, by kind (`noaber_core::model::Detail`).
#[uniffi::remote(Enum)]
pub enum Detail {
    /// A help request or offer.
    Help {
        /// `ask` or `offer`.
        mode: String,
        /// `low`, `normal`, `high`.
        urgency: String,
        /// Location precision: `complex`, `stairwell`, `street`, `buurt`.
        precision: String,
        /// The matched helper, if any.
        helper: Option<MemberId>,
        /// Active responses.
        responses: i64,
    },
    /// A buurt event.
    Event {
        /// Capacity, if limited.
        capacity: Option<i64>,
        /// Confirmed "going".
        going: i64,
        /// Waitlisted.
        waitlisted: i64,
        /// "Maybe".
        maybe: i64,
        /// Volunteers needed over all shifts.
        shifts_needed: i64,
        /// Volunteer places filled (capped per shift at its need).
        shifts_filled: i64,
    },
    /// An adoptable task.
    Task {
        /// Current adopter.
        adopter: Option<MemberId>,
        /// Number of backups.
        backups: i64,
        /// Distinct pledging households.
        pledges: i64,
        /// Households needed before the task becomes active (pledge mode).
        pledge_target: Option<i64>,
        /// Whether paused.
        paused: bool,
        /// The oldest open occurrence (`YYYY-MM-DD`), if the task recurs and is not finished.
        next_open: Option<String>,
        /// The recurrence rule text.
        recurrence: Option<String>,
    },
    /// A report of a neglected environment.
    Report {
        /// `low`, `normal`, `high`, `urgent`.
        severity: String,
        /// "Me too" count (distinct members).
        me_too: i64,
        /// The party responsible, if set.
        responsible: Option<String>,
        /// Number of photo references.
        photos: i64,
    },
    /// A member's profile.
    Profile {
        /// Display name.
        display_name: String,
        /// Household / complex label.
        household: Option<String>,
    },
}

/// One page of a list.
#[uniffi::remote(Record)]
pub struct Page {
    /// The rows.
    pub items: Vec<Summary>,
    /// The cursor for the next page (`ListQuery.after`); `None` on the last page.
    pub next: Option<String>,
}

/// How many entities of a kind have a status.
#[uniffi::remote(Record)]
pub struct StatusCount {
    /// Kind.
    pub kind: Kind,
    /// Effective status.
    pub status: String,
    /// Count.
    pub count: i64,
}
