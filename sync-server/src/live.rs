//! What live connections share, apart from HTTP: the latest head of each buurt ([`Heads`]) and
//! the registry that bounds live connections per device, per buurt and in all
//! ([`LiveRegistry`]). The WebSocket handler of `GET /v1/live` is `http/live.rs`; its
//! protocol, pings, timeouts and the caps' behaviour are described there.
//!
//! Heads come from this relay's group-commit writer and, where several relays share one
//! PostgreSQL database, from the others' commits through the storage's listener
//! ([`crate::storage::Storage::watch_heads`], `LISTEN/NOTIFY`): a device may be live on any
//! relay of a deployment and hear of every commit. Heads travel through a `tokio::sync::watch`
//! per buurt rather than a broadcast channel: only the latest head matters, a slow socket skips
//! intermediate values instead of lagging, and memory per buurt is constant.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{oneshot, watch};

use crate::ids::{BuurtId, DeviceId};

/// Largest message or frame a client may send.
pub const MAX_CLIENT_MESSAGE: usize = 4 * 1024;
/// Most bytes buffered for a socket that does not read.
pub const MAX_WRITE_BUFFER: usize = 16 * 1024;
/// A send that takes longer drops the connection.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// The latest head of each buurt with live listeners.
#[derive(Debug, Default)]
pub(crate) struct Heads {
    buurten: Mutex<HashMap<BuurtId, watch::Sender<u64>>>,
}

impl Heads {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<BuurtId, watch::Sender<u64>>> {
        self.buurten
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Listens to a buurt's head. Call before reading the head from storage, then
    /// [`Heads::publish`] what was read: no commit in between is missed.
    pub(crate) fn subscribe(&self, buurt: &BuurtId) -> watch::Receiver<u64> {
        self.lock()
            .entry(buurt.clone())
            .or_insert_with(|| watch::channel(0).0)
            .subscribe()
    }

    /// Moves a buurt's head forward (never back) and wakes its listeners.
    pub(crate) fn publish(&self, buurt: &BuurtId, head: u64) {
        let mut map = self.lock();
        if let Some(tx) = map.get(buurt) {
            if tx.receiver_count() == 0 {
                map.remove(buurt);
            } else {
                tx.send_if_modified(|h| {
                    let moved = head > *h;
                    if moved {
                        *h = head;
                    }
                    moved
                });
            }
        }
    }
}

impl crate::storage::HeadSink for Heads {
    fn moved(&self, buurt: &BuurtId, head: u64) {
        self.publish(buurt, head);
    }
}

/// A device's open connections, oldest first: their ids and how to close them.
type Connections = VecDeque<(u64, oneshot::Sender<()>)>;

/// The open live connections: per device (to close the oldest), and counts per buurt and in
/// all (to refuse beyond `live_per_buurt` and `live_max`).
#[derive(Debug)]
pub(crate) struct LiveRegistry {
    per_device: usize,
    per_buurt: usize,
    max: usize,
    next: AtomicU64,
    open: Arc<Mutex<Open>>,
}

#[derive(Debug, Default)]
struct Open {
    devices: HashMap<DeviceId, Connections>,
    buurten: HashMap<BuurtId, usize>,
    total: usize,
}

/// Which live cap was full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Full {
    Buurt,
    All,
}

/// A live connection's place in the [`LiveRegistry`], given back when dropped.
#[derive(Debug)]
pub(crate) struct Slot {
    open: Arc<Mutex<Open>>,
    device: DeviceId,
    buurt: BuurtId,
    id: u64,
    /// Fires when a newer connection of the device replaces this one.
    pub(crate) kicked: oneshot::Receiver<()>,
}

fn lock(open: &Mutex<Open>) -> std::sync::MutexGuard<'_, Open> {
    open.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = lock(&self.open);
        if let Some(conns) = open.devices.get_mut(&self.device) {
            conns.retain(|(c, _)| *c != self.id);
            if conns.is_empty() {
                open.devices.remove(&self.device);
            }
        }
        if let Some(n) = open.buurten.get_mut(&self.buurt) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.buurten.remove(&self.buurt);
            }
        }
        open.total = open.total.saturating_sub(1);
    }
}

impl LiveRegistry {
    pub(crate) fn new(per_device: usize, per_buurt: usize, max: usize) -> Self {
        LiveRegistry {
            per_device: per_device.max(1),
            per_buurt: per_buurt.max(1),
            max: max.max(1),
            next: AtomicU64::new(0),
            open: Arc::new(Mutex::new(Open::default())),
        }
    }

    /// Takes a place for a connection of `device` in `buurt`, closing the device's oldest ones
    /// beyond its limit. A device at its limit always gets a place (it gives one back at once,
    /// and a phone that changed networks must not be locked out by its own half-open sockets);
    /// otherwise the buurt's and the relay's caps must have room.
    pub(crate) fn admit(&self, device: &DeviceId, buurt: &BuurtId) -> Result<Slot, Full> {
        let mut open = lock(&self.open);
        let held = open.devices.get(device).map_or(0, VecDeque::len);
        if held < self.per_device {
            if open.total >= self.max {
                return Err(Full::All);
            }
            if open.buurten.get(buurt).copied().unwrap_or(0) >= self.per_buurt {
                return Err(Full::Buurt);
            }
        }
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, kicked) = oneshot::channel();
        let conns = open.devices.entry(device.clone()).or_default();
        while conns.len() >= self.per_device {
            if let Some((_, kick)) = conns.pop_front() {
                let _ = kick.send(());
            }
        }
        conns.push_back((id, tx));
        *open.buurten.entry(buurt.clone()).or_insert(0) += 1;
        open.total += 1;
        Ok(Slot {
            open: Arc::clone(&self.open),
            device: device.clone(),
            buurt: buurt.clone(),
            id,
            kicked,
        })
    }

    /// How many live connections a device holds (not counting replaced ones still closing).
    #[cfg(test)]
    pub(crate) fn count(&self, device: &DeviceId) -> usize {
        lock(&self.open)
            .devices
            .get(device)
            .map_or(0, VecDeque::len)
    }

    /// Live connections counted in all (replaced ones until they are closed).
    #[cfg(test)]
    pub(crate) fn total(&self) -> usize {
        lock(&self.open).total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_only_move_forward_and_reach_subscribers() -> crate::Result<()> {
        let heads = Heads::default();
        let b = BuurtId::new()?;
        heads.publish(&b, 5); // nobody listens: nothing kept
        assert!(heads.lock().is_empty());
        let mut rx = heads.subscribe(&b);
        heads.publish(&b, 3);
        assert!(rx.has_changed().unwrap_or(false));
        assert_eq!(*rx.borrow_and_update(), 3);
        heads.publish(&b, 2);
        assert!(!rx.has_changed().unwrap_or(true));
        drop(rx);
        heads.publish(&b, 9);
        assert!(heads.lock().is_empty());
        Ok(())
    }

    #[test]
    fn a_device_keeps_at_most_its_limit_closing_the_oldest() -> crate::Result<()> {
        let reg = LiveRegistry::new(2, 10, 10);
        let (d, b) = (DeviceId::new()?, BuurtId::new()?);
        let mut first = reg
            .admit(&d, &b)
            .map_err(|_| crate::Error::Other("full".into()))?;
        let mut second = reg
            .admit(&d, &b)
            .map_err(|_| crate::Error::Other("full".into()))?;
        let mut third = reg
            .admit(&d, &b)
            .map_err(|_| crate::Error::Other("full".into()))?;
        assert_eq!(reg.count(&d), 2);
        assert!(first.kicked.try_recv().is_ok());
        assert!(second.kicked.try_recv().is_err());
        assert!(third.kicked.try_recv().is_err());
        assert_eq!(reg.total(), 3); // the replaced one counts until it is closed
        drop(first);
        assert_eq!((reg.count(&d), reg.total()), (2, 2));
        Ok(())
    }

    #[test]
    fn buurt_and_relay_caps_refuse_until_a_place_is_given_back() -> crate::Result<()> {
        let reg = LiveRegistry::new(1, 2, 3);
        let (a, b) = (BuurtId::new()?, BuurtId::new()?);
        let devices = (0..5)
            .map(|_| DeviceId::new())
            .collect::<crate::Result<Vec<_>>>()?;
        let a0 = reg.admit(&devices[0], &a);
        let a1 = reg.admit(&devices[1], &a);
        assert!(a0.is_ok() && a1.is_ok());
        assert!(matches!(reg.admit(&devices[2], &a), Err(Full::Buurt)));
        let b0 = reg.admit(&devices[3], &b);
        assert!(b0.is_ok());
        assert!(matches!(reg.admit(&devices[4], &b), Err(Full::All)));
        // A device at its own limit replaces its connection even when the caps are full.
        assert!(reg.admit(&devices[0], &a).is_ok());
        drop(a1);
        assert!(reg.admit(&devices[2], &a).is_ok());
        Ok(())
    }
}
