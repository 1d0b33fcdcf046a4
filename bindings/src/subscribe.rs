//! Change subscriptions for the foreign side: a listener the app implements, and the
//! [`Subscription`] whose `cancel()` (or drop) stops delivery.
//!
//! Delivery is the core's `Store::subscribe`: the listener runs after the commit on the
//! committing thread, with neither the store's lock nor the listener registry's lock held.
//! A listener that throws is contained here, so an app's bug cannot break the write (or the
//! sync) that triggered the notification.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use noaber_core::{Changed, Store};

/// Told which entities changed. Implemented by the app.
#[uniffi::export(foreign)]
pub trait ChangeListener: Send + Sync {
    /// Entities changed in one commit (a local write, or a batch a sync pulled). Called on a
    /// Rust thread with no lock held; calling back into the store is fine, but hand slow work
    /// to another thread.
    fn on_change(&self, changed: Vec<Changed>);
}

/// A registered [`ChangeListener`]. `cancel()`, or dropping it, stops delivery.
#[derive(Debug, uniffi::Object)]
pub struct Subscription {
    inner: noaber_core::Subscription,
}

impl Subscription {
    pub(crate) fn register(store: &Store, listener: Arc<dyn ChangeListener>) -> Arc<Subscription> {
        let inner = store.subscribe(move |changed| {
            let changed: Vec<Changed> = changed.to_vec();
            let delivered =
                std::panic::catch_unwind(AssertUnwindSafe(|| listener.on_change(changed)));
            if delivered.is_err() {
                tracing::warn!("a change listener failed; the change itself is committed");
            }
        });
        Arc::new(Subscription { inner })
    }
}

#[uniffi::export]
impl Subscription {
    /// Stops delivery to the listener. Idempotent.
    pub fn cancel(&self) {
        self.inner.cancel();
    }
}
