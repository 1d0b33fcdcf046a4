//! Change subscriptions: callers register to be told which entities changed after each
//! commit. Listeners are called after the commit, with no store lock held.

use std::sync::{Arc, Mutex, Weak};

use crate::ids::EntityId;
use crate::model::Kind;

/// One entity that changed in a commit.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Changed {
    /// The entity.
    pub id: EntityId,
    /// Its kind.
    pub kind: Kind,
}

type Listener = Arc<dyn Fn(&[Changed]) + Send + Sync>;

#[derive(Default)]
struct Slots {
    next: u64,
    listeners: Vec<(u64, Listener)>,
}

/// The store's listeners.
#[derive(Default)]
pub(crate) struct Registry(Arc<Mutex<Slots>>);

impl Registry {
    pub(crate) fn add(&self, listener: Listener) -> Subscription {
        let mut slots = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let id = slots.next;
        slots.next += 1;
        slots.listeners.push((id, listener));
        Subscription {
            id,
            registry: Arc::downgrade(&self.0),
        }
    }

    /// Calls every listener; the registry lock is released before any listener runs, so a
    /// listener may subscribe or cancel.
    pub(crate) fn notify(&self, changed: &[Changed]) {
        let listeners: Vec<Listener> = {
            let slots = self.0.lock().unwrap_or_else(|p| p.into_inner());
            slots.listeners.iter().map(|(_, l)| Arc::clone(l)).collect()
        };
        for l in listeners {
            l(changed);
        }
    }
}

/// A registered listener. [`Subscription::cancel`] or dropping it stops delivery.
#[derive(Debug)]
pub struct Subscription {
    id: u64,
    registry: Weak<Mutex<Slots>>,
}

impl Subscription {
    /// Stops delivery to this listener. Idempotent.
    pub fn cancel(&self) {
        if let Some(reg) = self.registry.upgrade() {
            let mut slots = reg.lock().unwrap_or_else(|p| p.into_inner());
            slots.listeners.retain(|(id, _)| *id != self.id);
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.cancel();
    }
}
