//! Helpers the core's unit tests share: a device (a store with an injected clock, acting as
//! one member) and the ways changes travel between devices in a test.
//!
//! Nothing here syncs through a relay: changes are handed from one store's outbox straight
//! to another's `apply_remote_changes`, and never acked, so a later delivery sends them
//! again (the receiving store ignores duplicates).

use std::sync::Arc;

use crate::clock::ManualClock;
use crate::error::Result;
use crate::ids::{EntityId, MemberId};
use crate::model::Role;
use crate::store::Store;

/// One minute, in clock milliseconds.
pub(crate) const MIN: i64 = 60_000;
/// One hour, in clock milliseconds.
pub(crate) const HOUR: i64 = 60 * MIN;
/// One day, in clock milliseconds.
pub(crate) const DAY: i64 = 24 * HOUR;

/// How many pending changes one delivery reads from a store's outbox (more than any test
/// makes, so a delivery sends them all).
const BATCH: usize = 1000;

/// A phone in a test: an in-memory store, the clock it was given, and the member it acts as.
pub(crate) struct Device {
    /// The device's store.
    pub(crate) store: Store,
    /// The store's clock: advance it to move the device's time.
    pub(crate) clock: Arc<ManualClock>,
    /// The member the store acts as (set when the device was made).
    pub(crate) member: MemberId,
}

impl Device {
    /// A device whose clock starts at `now`, acting as a new member with `role` and no
    /// household.
    pub(crate) fn new(role: Role, now: i64) -> Result<Device> {
        Device::in_household(role, None, now)
    }

    /// A device whose clock starts at `now`, acting as a new member with `role` in
    /// `household`.
    pub(crate) fn in_household(role: Role, household: Option<&str>, now: i64) -> Result<Device> {
        Device::build(MemberId::new()?, role, household, now)
    }

    /// A device whose clock starts at `now`, acting as the given `member` with `role` and no
    /// household (several devices can act as the same member).
    pub(crate) fn for_member(member: &MemberId, role: Role, now: i64) -> Result<Device> {
        Device::build(member.clone(), role, None, now)
    }

    fn build(member: MemberId, role: Role, household: Option<&str>, now: i64) -> Result<Device> {
        let clock = Arc::new(ManualClock::new(now));
        let store = Store::open_in_memory(clock.clone())?;
        store.set_member_id(&member)?;
        store.set_identity(role, None, household)?;
        Ok(Device {
            store,
            clock,
            member,
        })
    }

    /// The device taken apart: its store, its clock and the member it acts as.
    pub(crate) fn into_parts(self) -> (Store, Arc<ManualClock>, MemberId) {
        (self.store, self.clock, self.member)
    }

    /// Acts on this device as `member` (keeping the role), one minute after the previous
    /// action: the clock moves on by [`MIN`] first.
    pub(crate) fn as_member(&self, member: &MemberId) -> Result<()> {
        self.clock.advance(MIN);
        self.store.set_member_id(member)
    }
}

/// Delivers every pending change of `from` to `to` (the changes stay pending on `from`).
pub(crate) fn deliver(from: &Store, to: &Store) -> Result<()> {
    to.apply_remote_changes(&pending(from)?)?;
    Ok(())
}

/// Delivers every pending change of every device to every other device: the first
/// device's changes go to all the others, then the second device's, and so on.
pub(crate) fn sync(devices: &[&Device]) -> Result<()> {
    for from in devices {
        let batch = pending(&from.store)?;
        for to in devices {
            if !std::ptr::eq(*from, *to) {
                to.store.apply_remote_changes(&batch)?;
            }
        }
    }
    Ok(())
}

/// The store's pending changes, as `apply_remote_changes` takes them.
fn pending(from: &Store) -> Result<Vec<(EntityId, Vec<u8>)>> {
    Ok(from
        .pending_changes(BATCH)?
        .into_iter()
        .map(|c| (c.entity, c.bytes))
        .collect())
}
