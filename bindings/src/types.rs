//! Records and enums shared by every kind: ids, kinds and roles, the local identity, points,
//! comments, notices, and the list/search/count queries. Converted by hand from the core's
//! types (the core has no uniffi derives).

use noaber_core::store::query::NoticeRow;
use noaber_core::{EntityId, MemberId};

use crate::error::Result;

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

/// The kinds of entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
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

impl From<noaber_core::Kind> for Kind {
    fn from(k: noaber_core::Kind) -> Self {
        match k {
            noaber_core::Kind::Help => Kind::Help,
            noaber_core::Kind::Event => Kind::Event,
            noaber_core::Kind::Task => Kind::Task,
            noaber_core::Kind::Report => Kind::Report,
            noaber_core::Kind::Profile => Kind::Profile,
        }
    }
}

impl From<Kind> for noaber_core::Kind {
    fn from(k: Kind) -> Self {
        match k {
            Kind::Help => noaber_core::Kind::Help,
            Kind::Event => noaber_core::Kind::Event,
            Kind::Task => noaber_core::Kind::Task,
            Kind::Report => noaber_core::Kind::Report,
            Kind::Profile => noaber_core::Kind::Profile,
        }
    }
}

/// Who reads a document; fixed when it is created (the core's `audience` module has the rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum Audience {
    /// Every member of the buurt (the default).
    Buurt,
    /// The creator, organisers and staff, and the members it is shared with.
    Organisers,
    /// As `Organisers`, plus everyone who takes part (responds, is matched, comments, ...).
    Participants,
}

impl From<noaber_core::Audience> for Audience {
    fn from(a: noaber_core::Audience) -> Self {
        match a {
            noaber_core::Audience::Buurt => Audience::Buurt,
            noaber_core::Audience::Organisers => Audience::Organisers,
            noaber_core::Audience::Participants => Audience::Participants,
        }
    }
}

impl From<Audience> for noaber_core::Audience {
    fn from(a: Audience) -> Self {
        match a {
            Audience::Buurt => noaber_core::Audience::Buurt,
            Audience::Organisers => noaber_core::Audience::Organisers,
            Audience::Participants => noaber_core::Audience::Participants,
        }
    }
}

/// The audience a new entity's optional `audience` field asks for (`None`: the whole buurt).
pub(crate) fn audience(a: Option<Audience>) -> noaber_core::Audience {
    a.map_or(noaber_core::Audience::Buurt, Into::into)
}

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
            audience: r.audience.into(),
            members: r.members.into_iter().map(|m| m.to_string()).collect(),
        }
    }
}

/// A member's role in a buurt; what each may do is the core's permission table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
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

impl From<noaber_core::Role> for Role {
    fn from(r: noaber_core::Role) -> Self {
        match r {
            noaber_core::Role::Resident => Role::Resident,
            noaber_core::Role::Caretaker => Role::Caretaker,
            noaber_core::Role::Organiser => Role::Organiser,
            noaber_core::Role::Staff => Role::Staff,
        }
    }
}

impl From<Role> for noaber_core::Role {
    fn from(r: Role) -> Self {
        match r {
            Role::Resident => noaber_core::Role::Resident,
            Role::Caretaker => noaber_core::Role::Caretaker,
            Role::Organiser => noaber_core::Role::Organiser,
            Role::Staff => noaber_core::Role::Staff,
        }
    }
}

/// The person using this device.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Identity {
    /// The member id written into documents.
    pub member: String,
    /// The role the device acts in.
    pub role: Role,
    /// Display name, if set.
    pub display_name: Option<String>,
    /// Household / complex label, if set.
    pub household: Option<String>,
    /// This device's Automerge actor id (hex).
    pub actor: String,
}

impl From<noaber_core::Identity> for Identity {
    fn from(i: noaber_core::Identity) -> Self {
        Identity {
            member: i.member.to_string(),
            role: i.role.into(),
            display_name: i.display_name,
            household: i.household,
            actor: i.actor,
        }
    }
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
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct MyNotice {
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

impl From<NoticeRow> for MyNotice {
    fn from(n: NoticeRow) -> Self {
        MyNotice {
            entity: n.entity,
            kind: n.kind.into(),
            title: n.title,
            code: n.code,
            text: n.text,
        }
    }
}

/// One entity that changed in a commit.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Changed {
    /// The entity id.
    pub id: String,
    /// Its kind.
    pub kind: Kind,
}

impl From<&noaber_core::Changed> for Changed {
    fn from(c: &noaber_core::Changed) -> Self {
        Changed {
            id: c.id.to_string(),
            kind: c.kind.into(),
        }
    }
}

/// A comment on an entity.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Comment {
    /// The comment id (for edit and withdraw).
    pub id: String,
    /// Its author.
    pub author: String,
    /// When it was written, ms since the epoch.
    pub at: i64,
    /// Its text (empty when withdrawn).
    pub body: String,
    /// When it was last edited, if ever.
    pub edited_at: Option<i64>,
    /// Whether the author withdrew it.
    pub withdrawn: bool,
}

impl From<noaber_core::model::CommentRow> for Comment {
    fn from(c: noaber_core::model::CommentRow) -> Self {
        Comment {
            id: c.id,
            author: c.author.to_string(),
            at: c.at,
            body: c.body,
            edited_at: c.edited_at,
            withdrawn: c.withdrawn,
        }
    }
}

/// Sort order of a list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, uniffi::Enum)]
pub enum ListOrder {
    /// Most recently active first.
    #[default]
    Recent,
    /// Soonest start first; entities without a start are left out.
    Upcoming,
}

/// A latitude/longitude rectangle.
#[derive(Debug, Clone, Copy, PartialEq, uniffi::Record)]
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
    /// Sort order; `None` is [`ListOrder::Recent`].
    #[uniffi(default)]
    pub order: Option<ListOrder>,
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
            kind: q.kind.map(Into::into),
            status: q.status,
            category: q.category,
            from: q.time_from,
            to: q.time_to,
            bbox: q.bbox.map(|b| noaber_core::BBox {
                south: b.south,
                west: b.west,
                north: b.north,
                east: b.east,
            }),
            mine: q.mine,
            needs_response: q.needs_response,
            text: q.text,
            order: match q.order.unwrap_or_default() {
                ListOrder::Recent => noaber_core::Order::Recent,
                ListOrder::Upcoming => noaber_core::Order::Upcoming,
            },
            limit: q.limit,
            after: q.after,
        }
    }
}

/// One row of a list.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
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

impl From<noaber_core::Summary> for Summary {
    fn from(s: noaber_core::Summary) -> Self {
        Summary {
            id: s.id,
            kind: s.kind.into(),
            status: s.status,
            category: s.category,
            title: s.title,
            created_by: s.created_by,
            created_at: s.created_at,
            updated_at: s.updated_at,
            starts_at: s.starts_at,
            ends_at: s.ends_at,
            location_label: s.location_label,
            lat: s.lat,
            lon: s.lon,
            needs_response: s.needs_response,
            detail: s.detail.into(),
            unsynced: s.unsynced,
        }
    }
}

/// What a list row shows beyond the common columns, by kind (`noaber_core::model::Detail`;
/// member ids as their 32 hex digits, as everywhere in the bindings).
#[derive(Debug, Clone, PartialEq, uniffi::Enum)]
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
        helper: Option<String>,
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
        adopter: Option<String>,
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

impl From<noaber_core::model::Detail> for Detail {
    fn from(d: noaber_core::model::Detail) -> Self {
        use noaber_core::model::Detail as D;
        let id = |m: Option<MemberId>| m.map(|m| m.as_str().to_owned());
        match d {
            D::Help {
                mode,
                urgency,
                precision,
                helper,
                responses,
            } => Detail::Help {
                mode,
                urgency,
                precision,
                helper: id(helper),
                responses,
            },
            D::Event {
                capacity,
                going,
                waitlisted,
                maybe,
                shifts_needed,
                shifts_filled,
            } => Detail::Event {
                capacity,
                going,
                waitlisted,
                maybe,
                shifts_needed,
                shifts_filled,
            },
            D::Task {
                adopter,
                backups,
                pledges,
                pledge_target,
                paused,
                next_open,
                recurrence,
            } => Detail::Task {
                adopter: id(adopter),
                backups,
                pledges,
                pledge_target,
                paused,
                next_open,
                recurrence,
            },
            D::Report {
                severity,
                me_too,
                responsible,
                photos,
            } => Detail::Report {
                severity,
                me_too,
                responsible,
                photos,
            },
            D::Profile {
                display_name,
                household,
            } => Detail::Profile {
                display_name,
                household,
            },
        }
    }
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Page {
    /// The rows.
    pub items: Vec<Summary>,
    /// The cursor for the next page (`ListQuery.after`); `None` on the last page.
    pub next: Option<String>,
}

impl From<noaber_core::Page> for Page {
    fn from(p: noaber_core::Page) -> Self {
        Page {
            items: p.items.into_iter().map(Summary::from).collect(),
            next: p.next,
        }
    }
}

/// How many entities of a kind have a status.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct StatusCount {
    /// Kind.
    pub kind: Kind,
    /// Effective status.
    pub status: String,
    /// Count.
    pub count: i64,
}

impl From<noaber_core::StatusCount> for StatusCount {
    fn from(c: noaber_core::StatusCount) -> Self {
        StatusCount {
            kind: c.kind.into(),
            status: c.status,
            count: c.count,
        }
    }
}
