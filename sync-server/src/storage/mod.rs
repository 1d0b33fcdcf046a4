//! The relay's durable state behind one trait: buurten, invites, members, devices, the actor
//! ids registered to devices, and each buurt's append-only log of Automerge changes.
//!
//! [`Storage`] is all that protocol and validation code see; no SQLite type appears here.
//! [`SqliteStorage`] is the embedded default; [`PostgresStorage`] (config key `postgres`) lets
//! several relay processes share one database. Both make every decision — the join rules, which
//! changes an append stores and at which seq, how a pull's page ends — through the same pure
//! functions (`plan.rs`, whose module docs are those rules written down), keeping only the
//! I/O themselves. Both pass the same conformance suite (`conformance.rs`, run by each
//! implementation's tests) and keep the contracts written on each method, in particular:
//!
//! - **[`Storage::append`] is the only way into the log**, and returns only after everything
//!   it wrote is durable (SQLite: `synchronous=FULL`; PostgreSQL: `synchronous_commit=on`).
//!   The relay calls it from one writer thread with many requests' changes at once (group
//!   commit), so an implementation commits once per call, not per change.
//! - **Sequence numbers are per buurt, contiguous from 1, and become visible in order**: a
//!   reader never sees seq `n + 1` without seq `n`. SQLite gets this from its single writer;
//!   PostgreSQL takes the buurt rows' locks inside the transaction rather than use a sequence,
//!   whose values commit out of order.
//! - **Audience is enforced in the pull**: a restricted document's changes reach only its
//!   readers (recorded through [`NewChange::grants`]) and coordinators.
//! - **Photos are referenced with the change that references them**: [`NewChange::photos`]
//!   (each with the member who attached it) are stored in the same commit. A photo is
//!   fetchable exactly when a document a member reads holds a reference whose attacher
//!   *holds* the photo: uploaded its bytes whole in that buurt ([`Storage::complete_blob`]).
//!   A hash alone is never a capability (the bytes themselves live in [`crate::blob`]).
//! - **A quota is checked and reserved in one transaction** ([`Storage::start_upload`]), so
//!   parallel upload starts of one device never reserve more than its quota together.
//! - **Nothing here holds every document in memory**: the relay asks for one document's
//!   changes at a time and keeps a bounded cache itself.
//!
//! Methods are synchronous: the relay calls them on blocking threads. [`PostgresStorage`] runs
//! its async pool on a runtime of its own and waits for the answer on a channel.

use automerge::ActorId;
use noaber_core::{Audience, MemberId, Role};

use crate::ids::{BuurtId, DeviceId};

#[cfg(test)]
mod conformance;
mod decode;
#[cfg(test)]
mod fixtures;
#[cfg(test)]
pub(crate) mod pg_harness;
mod plan;
pub(crate) mod postgres;
mod schema;
mod sqlite;
pub use sqlite::DB_FILE;

pub use postgres::{DEFAULT_POOL_SIZE, PostgresStorage};
pub use sqlite::SqliteStorage;

/// Why storage failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// The backend (database, disk) failed; the message is for logs, not for clients.
    #[error("storage backend: {0}")]
    Backend(String),
    /// The database cannot be reached right now (PostgreSQL down, restarting, or refusing
    /// connections): nothing was done, and the same request may succeed later. Answered
    /// `503 unavailable` with `Retry-After`.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// The database was written by a newer relay; refusing is safer than damaging it.
    #[error(
        "the database has schema version {found}, this relay understands up to {supported}; update the relay"
    )]
    TooNew {
        /// The version found on disk.
        found: i64,
        /// The newest version this code knows.
        supported: i64,
    },
    /// Stored data does not decode (a bug or a damaged database).
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    /// The buurt (or device, member) an operation names does not exist.
    #[error("no {what} with id `{id}`")]
    NotFound {
        /// What was looked up.
        what: &'static str,
        /// The id.
        id: String,
    },
    /// A row with this id already exists.
    #[error("{what} `{id}` already exists")]
    Conflict {
        /// What was created.
        what: &'static str,
        /// The id.
        id: String,
    },
}

/// Shorthand for storage results.
pub type StorageResult<T> = std::result::Result<T, StorageError>;

/// A buurt and where its log stands.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Buurt {
    /// Its id.
    pub id: BuurtId,
    /// Its name, as the operator gave it.
    pub name: String,
    /// The highest sequence number in its log (0 while empty).
    pub head: u64,
    /// When it was created (ms since the epoch).
    pub created_at: i64,
}

/// An invite to store. Only the code's hash is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewInvite {
    /// SHA-256 of the normalised code.
    pub hash: [u8; 32],
    /// The buurt it admits to.
    pub buurt: BuurtId,
    /// The role it gives a new member.
    pub role: Role,
    /// If set, only this (existing) member may redeem it: it links a further device.
    pub member: Option<MemberId>,
    /// When it was made (ms).
    pub created_at: i64,
    /// It is refused from this moment on (ms).
    pub expires_at: i64,
    /// How many joins it admits (at least 1).
    pub max_uses: u32,
}

/// Everything one join writes, atomically: the invite's use, the member (if new), the device
/// with its token hash, and the device's actor ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinTicket {
    /// SHA-256 of the normalised invite code presented.
    pub invite_hash: [u8; 32],
    /// The member id the device presented.
    pub member: MemberId,
    /// The display name (stored for a new member; an existing member keeps theirs).
    pub display_name: String,
    /// The new device's id.
    pub device: DeviceId,
    /// SHA-256 of the new device's token.
    pub token_hash: [u8; 32],
    /// The device's Automerge actor ids (distinct, 1..=8).
    pub actors: Vec<ActorId>,
    /// Whether the device sent a `join_secret`: then `token_hash` is derived from it (the same
    /// secret gives the same token), and a retry of this same join finds the device by it.
    pub retryable: bool,
    /// Now (ms): invites expiring at or before it are refused.
    pub now: i64,
}

/// What a successful join registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Joined {
    /// The buurt joined.
    pub buurt: BuurtId,
    /// Its name.
    pub buurt_name: String,
    /// The member (new or existing).
    pub member: MemberId,
    /// The member's role (the invite's for a new member, the stored one otherwise).
    pub role: Role,
    /// The new device (or, for a retry, the device the first attempt enrolled).
    pub device: DeviceId,
    /// Whether this was a retry of a join already done (nothing was written).
    pub retry: bool,
}

/// Why a join was refused; nothing was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinRefusal {
    /// No invite has this code.
    UnknownInvite,
    /// The invite has expired.
    Expired,
    /// The invite has been used as often as it allows.
    UsedUp,
    /// The member id belongs to someone else in this buurt, is registered in another buurt,
    /// or the invite is bound to another member.
    MemberTaken,
    /// One of the actor ids is registered in another buurt, or to another device in this
    /// buurt.
    ActorTaken,
    /// The `join_secret` (its derived token) belongs to a device enrolled by a different join
    /// (another invite, member or actors), or to a revoked device.
    SecretTaken,
}

/// What the relay knows about the device behind a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceAuth {
    /// The device.
    pub device: DeviceId,
    /// Its buurt.
    pub buurt: BuurtId,
    /// The member it acts for.
    pub member: MemberId,
    /// The member's current role.
    pub role: Role,
    /// The actor ids registered to it.
    pub actors: Vec<ActorId>,
    /// Whether an operator revoked it (its token no longer works).
    pub revoked: bool,
}

/// A member, for operators.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MemberRow {
    /// The member id.
    pub member: MemberId,
    /// The display name given at join.
    pub display_name: String,
    /// The role.
    pub role: Role,
    /// When the member first joined (ms).
    pub joined_at: i64,
    /// How many of their devices are not revoked.
    pub active_devices: u32,
}

/// A device, for operators.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DeviceRow {
    /// The device id.
    pub device: DeviceId,
    /// The member it acts for.
    pub member: MemberId,
    /// When it joined (ms).
    pub created_at: i64,
    /// When it was revoked (ms), if it was.
    pub revoked_at: Option<i64>,
    /// Its actor ids, hex.
    pub actors: Vec<String>,
}

/// One validated change to append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewChange {
    /// The document (entity) id, 16 bytes.
    pub doc: [u8; 16],
    /// The change's hash.
    pub hash: [u8; 32],
    /// The change's bytes, as pushed.
    pub bytes: Vec<u8>,
    /// The document's audience (fixed at creation; recorded with its first change).
    pub audience: Audience,
    /// Members who read the (restricted) document from this change on and did not before
    /// ([`noaber_core::audience`]: readers only grow). Empty for a buurt document.
    pub grants: Vec<MemberId>,
    /// The photo references the document holds once this change is applied, each with the
    /// member who attached it ([`noaber_core::model::report::photo_refs`]; empty for other
    /// kinds). Stored with the change, they decide who may fetch a photo
    /// ([`Storage::blob_readable`]).
    pub photos: Vec<PhotoRef>,
}

/// A document's reference to a photo: which photo, and who attached it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhotoRef {
    /// The photo's SHA-256.
    pub hash: [u8; 32],
    /// The member who attached it (the `photo` entry's author).
    pub by: MemberId,
}

/// An upload in progress: one device's upload of one photo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadRow {
    /// The photo's total size, as the upload's first chunk declared it.
    pub length: u64,
    /// How many bytes the relay holds durably (the next chunk starts here).
    pub offset: u64,
    /// When a chunk last arrived (ms).
    pub updated_at: i64,
}

/// A photo the relay holds whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobRow {
    /// Its media type (`image/jpeg`, `image/png`, `image/webp`).
    pub mime: String,
    /// Its size in bytes.
    pub size: u64,
    /// The device whose upload completed it first.
    pub uploaded_by: DeviceId,
    /// When it was completed (ms).
    pub created_at: i64,
}

/// How an audience is stored: 0 the whole buurt, 1 organisers, 2 participants.
pub(crate) fn audience_code(a: Audience) -> i64 {
    match a {
        Audience::Buurt => 0,
        Audience::Organisers => 1,
        Audience::Participants => 2,
    }
}

/// Who is pulling: what [`Storage::pull`] needs to leave out what they may not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Puller {
    /// The pulling device (its own changes are left out).
    pub device: DeviceId,
    /// The member it acts for.
    pub member: MemberId,
    /// Whether the member's role reads every document ([`noaber_core::audience::is_coordinator`]).
    pub coordinator: bool,
}

impl Puller {
    /// The puller an authenticated device is.
    pub fn of(device: &DeviceAuth) -> Puller {
        Puller {
            device: device.device.clone(),
            member: device.member.clone(),
            coordinator: noaber_core::audience::is_coordinator(device.role),
        }
    }
}

/// The validated changes of one request: one device, one buurt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendBatch {
    /// The buurt whose log they join.
    pub buurt: BuurtId,
    /// The device that pushed them (pulls leave a device's own changes out).
    pub device: DeviceId,
    /// The changes, in the order pushed.
    pub changes: Vec<NewChange>,
    /// When they arrived (ms).
    pub received_at: i64,
}

/// What [`Storage::append`] did with one change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Appended {
    /// Stored at this sequence number.
    Stored(u64),
    /// The buurt's log already had it; nothing stored.
    Duplicate,
    /// The document belongs to another buurt; nothing stored.
    WrongBuurt,
}

/// What [`Storage::append`] did with one batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchOutcome {
    /// One entry per change of the batch, in order.
    pub appended: Vec<Appended>,
    /// The buurt's head once the whole call committed.
    pub head: u64,
}

/// One change read from a buurt's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedChange {
    /// Its sequence number.
    pub seq: u64,
    /// The document (entity) id.
    pub doc: [u8; 16],
    /// The change's bytes.
    pub bytes: Vec<u8>,
}

/// A page of a buurt's log, as [`Storage::pull`] reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogPage {
    /// The changes, in sequence order.
    pub changes: Vec<LoggedChange>,
    /// The last sequence number examined: the device's next cursor.
    pub cursor: u64,
    /// Whether changes for this device remain beyond `cursor`.
    pub more: bool,
}

/// Where a storage that several relays share reports the heads any of them moved
/// ([`Storage::watch_heads`]): the relay's live connections.
pub trait HeadSink: Send + Sync + 'static {
    /// `buurt`'s log now reaches at least `head`. Called again with the same or an older head
    /// at times (a reconnect reads every head afresh); the sink keeps only the highest.
    fn moved(&self, buurt: &BuurtId, head: u64);
}

/// The relay's durable state. See the module docs for the contracts every implementation keeps.
pub trait Storage: Send + Sync + 'static {
    /// Starts telling `sink` about heads moved by commits of *other* relays on the same
    /// database (this relay's own commits reach its live connections directly). Returns
    /// whether it does: `false` for a store only one relay opens (SQLite), which is the
    /// default. A storage that returns `true` keeps doing so across database restarts, and
    /// after each reconnect reports every buurt's head once, so a commit made while it was
    /// not listening is not missed.
    fn watch_heads(&self, sink: std::sync::Arc<dyn HeadSink>) -> bool {
        let _ = sink;
        false
    }

    /// Checks that the store answers (readiness).
    ///
    /// # Errors
    ///
    /// [`StorageError::Backend`] when it does not.
    fn ping(&self) -> StorageResult<()>;

    /// Creates a buurt with an empty log.
    ///
    /// # Errors
    ///
    /// [`StorageError::Conflict`] if the id exists; backend errors.
    fn create_buurt(&self, id: &BuurtId, name: &str, now: i64) -> StorageResult<()>;

    /// One buurt, if it exists.
    ///
    /// # Errors
    ///
    /// Backend errors.
    fn buurt(&self, id: &BuurtId) -> StorageResult<Option<Buurt>>;

    /// Every buurt, oldest first (operators have few).
    ///
    /// # Errors
    ///
    /// Backend errors.
    fn buurten(&self) -> StorageResult<Vec<Buurt>>;

    /// Stores an invite.
    ///
    /// # Errors
    ///
    /// [`StorageError::NotFound`] for an unknown buurt; [`StorageError::Conflict`] if an
    /// invite with the same hash exists; backend errors.
    fn create_invite(&self, invite: &NewInvite) -> StorageResult<()>;

    /// Redeems an invite and enrols a device, all or nothing.
    ///
    /// Rules, in this order: the invite must exist. If the ticket is
    /// [`retryable`](JoinTicket::retryable) and a device already has its `token_hash`, the
    /// join is a retry: when that device was enrolled in the invite's buurt through this same
    /// invite, for the ticket's member, with exactly the ticket's actors, and is not revoked,
    /// the answer is that device ([`Joined::retry`], nothing written, the invite not used
    /// again, even if it has expired or is used up since); otherwise
    /// [`JoinRefusal::SecretTaken`]. Then the invite must not be expired (`expires_at > now`)
    /// nor used up; if it is bound to a member, the ticket's member must be that member. A
    /// member id registered in another buurt is [`JoinRefusal::MemberTaken`] (ids are per
    /// buurt: nobody can squat someone's id in a buurt they have not joined yet). A member id
    /// new to the buurt is registered with the ticket's display name and the invite's role. A
    /// member id the buurt knows is accepted only with an invite bound to it (that is how a
    /// person adds a second device); otherwise [`JoinRefusal::MemberTaken`]. Each actor id must
    /// be unregistered in every other buurt, and in this buurt unregistered or registered to a
    /// *revoked* device of the same member (a re-enrolled phone keeps its actor); otherwise
    /// [`JoinRefusal::ActorTaken`]. On success the invite's use count goes up by one, and the
    /// device remembers the invite it came through. Concurrent joins are serialised, so two
    /// identical retries enrol one device.
    ///
    /// # Errors
    ///
    /// Backend errors (the outer `Result`); refusals are the inner one.
    fn join(&self, ticket: &JoinTicket) -> StorageResult<Result<Joined, JoinRefusal>>;

    /// The device whose token hashes to `token_hash`, revoked or not.
    ///
    /// # Errors
    ///
    /// Backend errors.
    fn device_by_token(&self, token_hash: &[u8; 32]) -> StorageResult<Option<DeviceAuth>>;

    /// The members of a buurt, by join time.
    ///
    /// # Errors
    ///
    /// [`StorageError::NotFound`] for an unknown buurt; backend errors.
    fn members(&self, buurt: &BuurtId) -> StorageResult<Vec<MemberRow>>;

    /// The devices of a buurt, by enrolment time.
    ///
    /// # Errors
    ///
    /// [`StorageError::NotFound`] for an unknown buurt; backend errors.
    fn devices(&self, buurt: &BuurtId) -> StorageResult<Vec<DeviceRow>>;

    /// Revokes a device: its token stops working. Revoking twice keeps the first time.
    /// Returns `false` for an unknown device.
    ///
    /// # Errors
    ///
    /// Backend errors.
    fn revoke_device(&self, device: &DeviceId, now: i64) -> StorageResult<bool>;

    /// Changes a member's role. Returns `false` for an unknown member.
    ///
    /// # Errors
    ///
    /// Backend errors.
    fn set_role(&self, buurt: &BuurtId, member: &MemberId, role: Role) -> StorageResult<bool>;

    /// The buurt a document belongs to (fixed by its first change), if any change of it is
    /// stored.
    ///
    /// # Errors
    ///
    /// Backend errors.
    fn doc_buurt(&self, doc: &[u8; 16]) -> StorageResult<Option<BuurtId>>;

    /// Whether the buurt's log holds a change with this hash.
    ///
    /// # Errors
    ///
    /// Backend errors.
    fn has_change(&self, buurt: &BuurtId, hash: &[u8; 32]) -> StorageResult<bool>;

    /// Every stored change of one document of `buurt`, `(hash, bytes)` in log order; empty for
    /// an unknown document or one of another buurt.
    ///
    /// # Errors
    ///
    /// Backend errors.
    fn doc_changes(
        &self,
        buurt: &BuurtId,
        doc: &[u8; 16],
    ) -> StorageResult<Vec<([u8; 32], Vec<u8>)>>;

    /// Appends validated changes, many requests' worth in one durable commit (see the module
    /// docs). Per change: a document of another buurt gives [`Appended::WrongBuurt`]; a hash
    /// already in the buurt's log (including one stored earlier in this same call) gives
    /// [`Appended::Duplicate`]; otherwise it is stored at the buurt's next sequence number, a
    /// new document becomes the buurt's with the change's audience, and the change's
    /// [`NewChange::grants`] become readers of the document (a duplicate grants nothing).
    /// Either everything is committed or nothing is.
    ///
    /// # Errors
    ///
    /// [`StorageError::NotFound`] for an unknown buurt or device; backend errors (then nothing
    /// was written).
    fn append(&self, batches: &[AppendBatch]) -> StorageResult<Vec<BatchOutcome>>;

    /// The head (highest sequence number) of a buurt's log; 0 while empty.
    ///
    /// # Errors
    ///
    /// [`StorageError::NotFound`] for an unknown buurt; backend errors.
    fn head(&self, buurt: &BuurtId) -> StorageResult<u64>;

    /// Reads a page of a buurt's log for one device, from one consistent snapshot: changes with
    /// `after < seq`, in order, leaving out those the pulling device pushed and those of
    /// restricted documents the puller does not read (unless a coordinator), at most `limit`.
    /// When fewer than `limit + 1` qualify, `cursor` is the head and `more` is false; otherwise
    /// `cursor` is the last returned change's seq and `more` is true.
    ///
    /// A member granted a document later receives its changes from then on; the earlier ones,
    /// which they lack, come through the repair path (`/v1/missing`).
    ///
    /// # Errors
    ///
    /// [`StorageError::NotFound`] for an unknown buurt; backend errors.
    fn pull(
        &self,
        buurt: &BuurtId,
        after: u64,
        limit: usize,
        puller: &Puller,
    ) -> StorageResult<LogPage>;

    /// The photo `hash`, if the relay holds it whole.
    ///
    /// # Errors
    ///
    /// Backend errors.
    fn blob(&self, hash: &[u8; 32]) -> StorageResult<Option<BlobRow>>;

    /// The size of the photo `hash` if the device's member holds it: an upload of it by any
    /// of the member's devices completed in the device's buurt ([`Storage::complete_blob`]).
    /// A photo someone else uploaded is `None`, exactly like an unknown one.
    ///
    /// # Errors
    ///
    /// Backend errors (an unknown device is `None`).
    fn held_blob(&self, device: &DeviceId, hash: &[u8; 32]) -> StorageResult<Option<u64>>;

    /// Starts the device's upload of `hash` if its quota allows, in one transaction: counts
    /// [`Storage::blob_bytes`] (leaving out an upload of `hash` itself) and, when that plus
    /// `row.length` is at most `quota`, records `row` (as [`Storage::set_upload`]); otherwise
    /// writes nothing and returns the bytes counted. Parallel starts of one device are
    /// serialised (SQLite: the one writer's immediate transaction; PostgreSQL: a row lock on
    /// the device), so together they never reserve more than `quota`.
    ///
    /// # Errors
    ///
    /// [`StorageError::NotFound`] for an unknown device; backend errors.
    fn start_upload(
        &self,
        device: &DeviceId,
        hash: &[u8; 32],
        row: &UploadRow,
        quota: u64,
    ) -> StorageResult<Result<(), u64>>;

    /// The device's upload of `hash` in progress, if any.
    ///
    /// # Errors
    ///
    /// Backend errors.
    fn upload(&self, device: &DeviceId, hash: &[u8; 32]) -> StorageResult<Option<UploadRow>>;

    /// Records (creates or replaces) the device's upload of `hash`; durable on return.
    ///
    /// # Errors
    ///
    /// [`StorageError::NotFound`] for an unknown device; backend errors.
    fn set_upload(&self, device: &DeviceId, hash: &[u8; 32], row: &UploadRow) -> StorageResult<()>;

    /// Forgets the device's upload of `hash`; `false` when there was none.
    ///
    /// # Errors
    ///
    /// Backend errors.
    fn drop_upload(&self, device: &DeviceId, hash: &[u8; 32]) -> StorageResult<bool>;

    /// Records the photo `hash` as held whole, the device's member as holding it in the
    /// device's buurt (charged to the device's quota), and forgets the device's upload of it,
    /// in one durable commit. A photo already recorded keeps its first row (its first
    /// uploader); a member already holding it keeps their first holding.
    ///
    /// # Errors
    ///
    /// [`StorageError::NotFound`] for an unknown device; backend errors.
    fn complete_blob(
        &self,
        device: &DeviceId,
        hash: &[u8; 32],
        mime: &str,
        size: u64,
        now: i64,
    ) -> StorageResult<()>;

    /// The photo bytes a device's quota counts: the photos whose upload it completed (each
    /// holding, whether or not the bytes were stored already) plus the declared lengths of its
    /// uploads in progress.
    ///
    /// # Errors
    ///
    /// Backend errors.
    fn blob_bytes(&self, device: &DeviceId) -> StorageResult<u64>;

    /// Forgets every upload last written before `before` (ms) and returns them, so their
    /// partial files can be removed.
    ///
    /// # Errors
    ///
    /// Backend errors.
    fn expire_uploads(&self, before: i64) -> StorageResult<Vec<(DeviceId, [u8; 32])>>;

    /// Whether a document of `buurt` that `puller` reads (as [`Storage::pull`] decides:
    /// audience, readers, coordinators) references the photo `hash` through a reference whose
    /// attacher holds the photo in `buurt` ([`Storage::held_blob`]). A reference written by a
    /// member who never uploaded the bytes there gives no one anything.
    ///
    /// # Errors
    ///
    /// Backend errors (an unknown buurt is `false`).
    fn blob_readable(
        &self,
        buurt: &BuurtId,
        hash: &[u8; 32],
        puller: &Puller,
    ) -> StorageResult<bool>;
}
