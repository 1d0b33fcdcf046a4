//! Shared helpers: replicas with their own clocks, and change delivery between them.

use std::sync::Arc;

use noaber_core::{EntityId, ManualClock, MemberId, Result, Role, Store};

pub const T0: i64 = 1_790_000_000_000;

pub struct Replica {
    pub store: Store,
    pub clock: Arc<ManualClock>,
}

impl Replica {
    pub fn new(role: Role) -> Result<Replica> {
        let clock = Arc::new(ManualClock::new(T0));
        let store = Store::open_in_memory(clock.clone())?;
        store.set_identity(role, None, None)?;
        Ok(Replica { store, clock })
    }

    pub fn member(&self) -> MemberId {
        self.store.identity().member
    }

    /// Every local change this replica made, as `(entity, bytes)`.
    pub fn outgoing(&self) -> Result<Vec<(EntityId, Vec<u8>)>> {
        Ok(self
            .store
            .pending_changes(1_000_000)?
            .into_iter()
            .map(|c| (c.entity, c.bytes))
            .collect())
    }
}

/// Delivers everything `from` made to `to`.
pub fn deliver(from: &Replica, to: &Replica) -> Result<()> {
    to.store.apply_remote_changes(&from.outgoing()?)?;
    Ok(())
}

/// Delivers everything to everyone.
pub fn sync_all(rs: &[&Replica]) -> Result<()> {
    for a in rs {
        for b in rs {
            if !std::ptr::eq(*a, *b) {
                deliver(a, b)?;
            }
        }
    }
    Ok(())
}
