//! [`NoaberStore`]: opening a store, the local identity, lists and counts, comments and
//! subscriptions. Each kind's operations are in their own module (`help.rs`, `event.rs`, ...)
//! as further `#[uniffi::export] impl NoaberStore` blocks; buurten and sync are in `sync.rs`.

use std::sync::{Arc, Mutex};

use noaber_core::model::CommentRow;
use noaber_core::store::query::{NoticeRow, StatusCount};
use noaber_core::sync::http::Client;
use noaber_core::{Identity, Kind, Role, Store};

use crate::error::Result;
use crate::subscribe::{ChangeListener, Subscription};
use crate::types::{ListQuery, Readers, entity, member};
use noaber_core::Page;

/// A Noaber device store: one SQLite file holding the documents, their projections and the
/// local change log.
///
/// Every synchronous method does local disk I/O (about a millisecond): call it off the main
/// thread. Calls from several threads are safe; they take turns on one connection.
#[derive(uniffi::Object)]
pub struct NoaberStore {
    pub(crate) store: Arc<Store>,
    /// The HTTP client, made on first network use and shared by every later call.
    pub(crate) client: Mutex<Option<Client>>,
}

impl std::fmt::Debug for NoaberStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NoaberStore")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

#[uniffi::export]
impl NoaberStore {
    /// Opens (or creates) the store in the SQLite file at `path`. The folder must exist.
    ///
    /// # Errors
    ///
    /// `Storage` when the file cannot be opened or was written by a newer app version.
    #[uniffi::constructor]
    pub fn open(path: String) -> Result<Arc<NoaberStore>> {
        Ok(Arc::new(NoaberStore {
            store: Arc::new(Store::open(path)?),
            client: Mutex::new(None),
        }))
    }

    /// Who this device acts as.
    pub fn identity(&self) -> Identity {
        self.store.identity()
    }

    /// Sets the role this device acts in (until a relay says otherwise), the display name and
    /// the household label; `None` clears a name or label.
    ///
    /// # Errors
    ///
    /// `InvalidInput` (`display_name`, `household`) for over-long text; `Storage`.
    pub fn set_identity(
        &self,
        role: Role,
        display_name: Option<String>,
        household: Option<String>,
    ) -> Result<Identity> {
        Ok(self
            .store
            .set_identity(role, display_name.as_deref(), household.as_deref())?)
    }

    /// Makes this device act as an existing member (a second phone of the same person), before
    /// joining with an invite the relay bound to that member.
    ///
    /// # Errors
    ///
    /// `InvalidInput` (`member`) for a malformed id or when this store already made changes
    /// as another member; `Storage`.
    pub fn adopt_member(&self, member_id: String) -> Result<()> {
        Ok(self.store.adopt_member(&member(&member_id)?)?)
    }

    /// Now, by the store's clock, in ms since the epoch.
    pub fn now_ms(&self) -> i64 {
        self.store.now_ms()
    }

    /// The kind of a stored entity.
    ///
    /// # Errors
    ///
    /// `InvalidInput` (`id`) for a malformed id; `NotFound`; `Storage`.
    pub fn kind_of(&self, id: String) -> Result<Kind> {
        Ok(self.store.kind_of(&entity(&id)?)?)
    }

    /// One page of entities matching `query` (lists, filters and full-text search). No
    /// document is loaded.
    ///
    /// # Errors
    ///
    /// `InvalidInput` naming the field for a bad cursor (`after`), box (`bbox`), page size
    /// (`limit`) or search text (`text`); `Storage`.
    pub fn list(&self, query: ListQuery) -> Result<Page> {
        Ok(self.store.list(&query.into())?)
    }

    /// Per-kind, per-status counts with the clock applied (an organiser's overview).
    ///
    /// # Errors
    ///
    /// `Storage`.
    pub fn status_counts(&self) -> Result<Vec<StatusCount>> {
        Ok(self.store.status_counts()?)
    }

    /// What the local member should be told (lost claims, superseded matches, waitlist).
    ///
    /// # Errors
    ///
    /// `Storage`.
    pub fn my_notices(&self) -> Result<Vec<NoticeRow>> {
        Ok(self.store.my_notices()?)
    }

    /// How many local changes wait to be synced (over every buurt, and those made before
    /// joining one): not yet acknowledged and not refused for good. A change the relay refused
    /// for now (`unavailable`, `missing_dependencies`) still waits; see each buurt's
    /// `SyncStatus.rejected` for what was refused for good.
    ///
    /// # Errors
    ///
    /// `Storage`.
    pub fn pending_count(&self) -> Result<u64> {
        Ok(self.store.pending_count()?)
    }

    /// Derives every list row again from the documents; returns how many entities it
    /// projected.
    ///
    /// # Errors
    ///
    /// `Storage`.
    pub fn rebuild_projections(&self) -> Result<u64> {
        Ok(crate::types::count(self.store.rebuild_projections()?))
    }

    /// Adds a comment by the local member to any entity; returns the comment id.
    ///
    /// # Errors
    ///
    /// `NotFound` for an unknown entity; `InvalidInput` (`body`) for an empty or over-long
    /// text.
    pub fn add_comment(&self, entity_id: String, body: String) -> Result<String> {
        Ok(self.store.add_comment(&entity(&entity_id)?, &body)?)
    }

    /// Edits the local member's own comment.
    ///
    /// # Errors
    ///
    /// `NotFound`; `NotAllowed` for someone else's or a withdrawn comment; `InvalidInput`.
    pub fn edit_comment(&self, entity_id: String, comment_id: String, body: String) -> Result<()> {
        Ok(self
            .store
            .edit_comment(&entity(&entity_id)?, &comment_id, &body)?)
    }

    /// Withdraws the local member's own comment.
    ///
    /// # Errors
    ///
    /// As [`NoaberStore::edit_comment`].
    pub fn withdraw_comment(&self, entity_id: String, comment_id: String) -> Result<()> {
        Ok(self
            .store
            .withdraw_comment(&entity(&entity_id)?, &comment_id)?)
    }

    /// The comments of an entity, oldest first.
    ///
    /// # Errors
    ///
    /// `InvalidInput` (`id`) for a malformed id; `Storage`.
    pub fn comments(&self, entity_id: String) -> Result<Vec<CommentRow>> {
        Ok(self.store.comments(&entity(&entity_id)?)?)
    }

    /// Shares a document written for the organisers or the participants with one more
    /// member (as its creator, or as an organiser or staff member); they read it from their
    /// next sync.
    ///
    /// # Errors
    ///
    /// `InvalidInput` (`id`, `member`, or `audience` for a document the whole buurt reads);
    /// `NotFound`; `NotAllowed`; `Storage`.
    pub fn share(&self, entity_id: String, member_id: String) -> Result<()> {
        Ok(self
            .store
            .share(&entity(&entity_id)?, &member(&member_id)?)?)
    }

    /// Who reads a document.
    ///
    /// # Errors
    ///
    /// `InvalidInput` (`id`); `NotFound`; `Storage`.
    pub fn readers(&self, entity_id: String) -> Result<Readers> {
        Ok(self.store.readers(&entity(&entity_id)?)?.into())
    }

    /// Registers `listener` to be told which entities changed after every commit: local
    /// writes and changes a sync pulled. It is called on the thread that committed, with no
    /// lock held. Delivery stops when the returned [`Subscription`] is cancelled or dropped
    /// (a notification already on its way may still arrive).
    pub fn subscribe(&self, listener: Arc<dyn ChangeListener>) -> Arc<Subscription> {
        Subscription::register(&self.store, listener)
    }
}
