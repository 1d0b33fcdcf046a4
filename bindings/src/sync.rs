//! Buurten and sync: join (network), list, make active, leave; sync once, live sync, status.
//!
//! Network calls are `async` for the foreign side, but their work runs as a task on this
//! library's own tokio runtime ([`runtime`]), not on the thread that polls the foreign future:
//! a Kotlin coroutine started on the main dispatcher must not apply a pulled batch to SQLite
//! on the main thread. The foreign future only waits for the task; dropping it (Kotlin or
//! Python cancellation) aborts the task. A Swift `Task`'s cancellation drops nothing, so every
//! network call also takes an optional [`CancelHandle`].
//!
//! Stopping a sync half-way is safe by the core's design: a local change leaves the outbox
//! only when its acknowledgement has been recorded, and pulled changes and the cursor are
//! committed together; an interrupted round is simply repeated.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use noaber_core::Role;
use noaber_core::store::membership::Buurt;
use noaber_core::sync::engine::{RejectedChange, SyncStatus};
use noaber_core::sync::http::{self, SyncReport};
use tokio::runtime::Runtime;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::error::{NoaberError, Result};
use crate::store::NoaberStore;

/// A buurt this device has joined.
#[uniffi::remote(Record)]
pub struct Buurt {
    /// Buurt id (32 hex digits).
    pub id: String,
    /// Its name.
    pub name: String,
    /// The relay's base URL.
    pub relay_url: String,
    /// The local member's id there.
    pub member: String,
    /// The local member's role there.
    pub role: Role,
    /// This device's id at the relay.
    pub device: String,
    /// The highest log sequence number pulled.
    pub cursor: i64,
    /// The highest sequence number the relay reported.
    pub head: i64,
    /// When the device joined, ms.
    pub joined_at: i64,
    /// When the last sync completed, ms.
    pub last_sync_at: Option<i64>,
    /// The last sync error, while the last attempt failed.
    pub last_error: Option<String>,
    /// Consecutive failed attempts.
    pub failures: i64,
}

/// A local change the relay refused (it is not retried).
#[uniffi::remote(Record)]
pub struct RejectedChange {
    /// The entity it belonged to.
    pub entity: String,
    /// The relay's code.
    pub code: String,
    /// The relay's reason.
    pub reason: String,
}

/// What one sync did, summed over its rounds.
#[uniffi::remote(Record)]
pub struct SyncReport {
    /// Round trips made.
    pub rounds: usize,
    /// Local changes pushed and accepted (durable at the relay).
    pub accepted: usize,
    /// Local changes the relay refused for good.
    pub rejected: Vec<RejectedChange>,
    /// Local changes refused for now (`unavailable`, `missing_dependencies`): still pending,
    /// pushed again by a later sync after a doubling wait; nothing to show the user yet.
    pub retrying: usize,
    /// Changes pulled.
    pub pulled: usize,
    /// Of those, new to this device.
    pub applied: usize,
    /// The cursor at the end.
    pub cursor: u64,
    /// Documents repaired (missing changes fetched).
    pub repaired: usize,
}

/// What a screen shows about one buurt's sync.
#[uniffi::remote(Record)]
pub struct SyncStatus {
    /// The buurt.
    pub buurt: String,
    /// Local changes waiting for an acknowledgement.
    pub pending: i64,
    /// Local changes the relay refused, newest first.
    pub rejected: Vec<RejectedChange>,
    /// When the last sync completed, ms.
    pub last_sync_at: Option<i64>,
    /// The last error, while the last attempt failed.
    pub last_error: Option<String>,
    /// Pulled up to this sequence number.
    pub cursor: i64,
    /// The relay's head as last heard; `head - cursor` is what a running pull still has to do.
    pub head: i64,
    /// Consecutive failures.
    pub failures: i64,
}

/// Stops a long network operation (join, sync, live sync) it was passed to. One handle may
/// be passed to several operations; once cancelled it stays cancelled.
#[derive(Debug, uniffi::Object)]
pub struct CancelHandle {
    cancelled: watch::Sender<bool>,
}

#[uniffi::export]
impl CancelHandle {
    /// A handle that has not been cancelled.
    #[uniffi::constructor]
    pub fn new() -> Arc<CancelHandle> {
        Arc::new(CancelHandle {
            cancelled: watch::channel(false).0,
        })
    }

    /// Cancels every operation this handle was passed to. Idempotent; callable from any
    /// thread.
    pub fn cancel(&self) {
        self.cancelled.send_replace(true);
    }

    /// Whether [`CancelHandle::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        *self.cancelled.borrow()
    }
}

impl CancelHandle {
    /// Completes once the handle is cancelled (at once if it already is).
    async fn cancelled(&self) {
        let mut rx = self.cancelled.subscribe();
        // The sender lives as long as `self`: `wait_for` cannot fail while we are borrowed.
        let _ = rx.wait_for(|c| *c).await;
    }
}

/// Told about each sync a live connection runs. Implemented by the app.
#[uniffi::export(foreign)]
pub trait SyncListener: Send + Sync {
    /// A sync completed. Called on a Rust thread.
    fn on_synced(&self, report: SyncReport);
    /// A sync failed; live sync retries by itself. Called on a Rust thread.
    fn on_sync_failed(&self, error: NoaberError);
}

/// The library's tokio runtime for network work: two worker threads, made on first use.
fn runtime() -> Result<&'static Runtime> {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    static INIT: Mutex<()> = Mutex::new(());
    if let Some(rt) = RUNTIME.get() {
        return Ok(rt);
    }
    let _one_at_a_time = INIT.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(rt) = RUNTIME.get() {
        return Ok(rt);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("noaber-net")
        .enable_all()
        .build()
        .map_err(|e| NoaberError::Other {
            detail: format!("cannot start the network runtime: {e}"),
        })?;
    Ok(RUNTIME.get_or_init(|| rt))
}

/// Aborts the task when the foreign side drops the future waiting for it.
struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Runs `work` on the library's runtime until it completes or `cancel` is cancelled.
pub(crate) async fn run<T, F>(cancel: Option<Arc<CancelHandle>>, work: F) -> Result<T>
where
    T: Send + 'static,
    F: Future<Output = Result<T>> + Send + 'static,
{
    let task = runtime()?.spawn(async move {
        match cancel {
            None => work.await,
            Some(cancel) => tokio::select! {
                biased;
                () = cancel.cancelled() => Err(NoaberError::Cancelled),
                out = work => out,
            },
        }
    });
    let mut task = AbortOnDrop(task);
    match (&mut task.0).await {
        Ok(out) => out,
        Err(e) if e.is_cancelled() => Err(NoaberError::Cancelled),
        Err(_) => Err(NoaberError::Other {
            detail: "the network task stopped unexpectedly; this is a bug".into(),
        }),
    }
}

impl NoaberStore {
    /// The shared HTTP client, made on first use.
    pub(crate) fn client(&self) -> Result<http::Client> {
        let mut slot = self.client.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(c) = slot.as_ref() {
            return Ok(c.clone());
        }
        let c = http::Client::new()?;
        *slot = Some(c.clone());
        Ok(c)
    }
}

/// Calls `f` on the app's listener, containing a failure of the app's code.
pub(crate) fn tell(f: impl FnOnce()) {
    if std::panic::catch_unwind(AssertUnwindSafe(f)).is_err() {
        tracing::warn!("an app listener (sync or upload progress) failed; the work goes on");
    }
}

#[uniffi::export]
impl NoaberStore {
    /// The buurten this device has joined, oldest first.
    ///
    /// # Errors
    ///
    /// `Storage`.
    pub fn buurten(&self) -> Result<Vec<Buurt>> {
        Ok(self.store.buurten()?)
    }

    /// One joined buurt.
    ///
    /// # Errors
    ///
    /// `NotFound` when this device has not joined it.
    pub fn buurt(&self, buurt_id: String) -> Result<Buurt> {
        Ok(self.store.buurt(&buurt_id)?)
    }

    /// The buurt new entities are created in (`None` before the first join).
    pub fn active_buurt(&self) -> Option<String> {
        self.store.active_buurt()
    }

    /// Makes a joined buurt the one new entities are created in; the device acts in the role
    /// it has there.
    ///
    /// # Errors
    ///
    /// `NotFound` when this device has not joined it.
    pub fn set_active_buurt(&self, buurt_id: String) -> Result<()> {
        Ok(self.store.set_active_buurt(&buurt_id)?)
    }

    /// Leaves a buurt: forgets its token and removes its entities from this device.
    ///
    /// # Errors
    ///
    /// `NotFound` when this device has not joined it; `Storage`.
    pub fn leave_buurt(&self, buurt_id: String) -> Result<()> {
        Ok(self.store.leave_buurt(&buurt_id)?)
    }

    /// The sync status of one buurt: pending changes, refusals, last sync and error.
    ///
    /// # Errors
    ///
    /// `NotFound` for a buurt not joined; `Storage`.
    pub fn sync_status(&self, buurt_id: String) -> Result<SyncStatus> {
        Ok(self.store.sync_status(&buurt_id)?)
    }
}

#[uniffi::export]
impl NoaberStore {
    /// Joins a buurt on the relay at `relay_url` with an invite code; the buurt becomes the
    /// active one and the device takes the role the invite gives.
    ///
    /// # Errors
    ///
    /// `Network` when the relay cannot be reached; `Rejected` with the relay's code
    /// (`invite_invalid`, `rate_limited`, ...); `InvalidInput` (`relay_url`); `Cancelled`.
    pub async fn join(
        &self,
        relay_url: String,
        invite: String,
        display_name: String,
        cancel: Option<Arc<CancelHandle>>,
    ) -> Result<Buurt> {
        let store = Arc::clone(&self.store);
        let client = self.client();
        run(cancel, async move {
            Ok(client?
                .join(&store, &relay_url, &invite, &display_name)
                .await?)
        })
        .await
    }

    /// Syncs one buurt once: pushes local changes, pulls everyone else's until nothing is
    /// left. Subscribers are told about what it pulled (on a Rust thread). A failure is also
    /// recorded in [`NoaberStore::sync_status`].
    ///
    /// # Errors
    ///
    /// `Network` (offline: retry later); `Rejected` (`unauthorized` for a revoked device);
    /// `NotFound` for a buurt not joined; `Storage`; `Cancelled`.
    pub async fn sync(
        &self,
        buurt_id: String,
        cancel: Option<Arc<CancelHandle>>,
    ) -> Result<SyncReport> {
        let store = Arc::clone(&self.store);
        let client = self.client();
        run(
            cancel,
            async move { Ok(client?.sync(&store, &buurt_id).await?) },
        )
        .await
    }

    /// Stays connected to a buurt until `cancel` is cancelled: syncs at once, then whenever
    /// the relay says its log moved, and tells `listener` about each sync. A dropped
    /// connection is retried with backoff. Returns normally once cancelled.
    ///
    /// # Errors
    ///
    /// `Rejected` (`unauthorized`: a revoked device, retrying cannot help); `NotFound` for a
    /// buurt not joined; `Storage`.
    pub async fn sync_live(
        &self,
        buurt_id: String,
        listener: Arc<dyn SyncListener>,
        cancel: Arc<CancelHandle>,
    ) -> Result<()> {
        let store = Arc::clone(&self.store);
        let client = self.client();
        run(None, async move {
            let stop = async move { cancel.cancelled().await };
            let on_sync = |r: &noaber_core::Result<SyncReport>| match r {
                Ok(report) => tell(|| listener.on_synced(report.clone())),
                Err(e) => tell(|| listener.on_sync_failed(e.into())),
            };
            Ok(client?.live(&store, &buurt_id, on_sync, stop).await?)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_on<T>(f: impl Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn a_cancel_handle_stops_work_that_would_never_end() {
        let cancel = CancelHandle::new();
        assert!(!cancel.is_cancelled());
        let pending = std::future::pending::<Result<()>>();
        let stopper = Arc::clone(&cancel);
        let out = block_on(async move {
            let work = run(Some(Arc::clone(&cancel)), pending);
            let stop = async move {
                stopper.cancel();
                stopper.cancel(); // idempotent
            };
            tokio::join!(work, stop).0
        });
        assert_eq!(out, Err(NoaberError::Cancelled));
    }

    #[test]
    fn work_runs_on_the_library_runtime_and_returns_its_result() {
        let cancel = CancelHandle::new();
        let name = block_on(run(Some(cancel), async {
            Ok(std::thread::current().name().map(str::to_owned))
        }));
        assert_eq!(name, Ok(Some("noaber-net".to_owned())));
    }
}
