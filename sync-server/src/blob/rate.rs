//! [`ByteRate`]: how many photo bytes a device may send, a token bucket per device in memory.
//!
//! A bucket holds one minute's allowance (`blob_rate_bytes_per_minute`) and refills
//! continuously. A chunk that does not fit is refused whole, with the seconds until it would
//! fit (`Retry-After`). Memory is bounded: past [`MAX_DEVICES`] tracked devices, full buckets
//! (idle devices) are forgotten, and if that is not enough the table starts afresh. Several
//! relay processes each keep their own buckets: the limit is then per device and process.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use crate::ids::DeviceId;

/// Most devices tracked at once.
pub const MAX_DEVICES: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    bytes: f64,
    at: Instant,
}

/// A byte budget per device.
#[derive(Debug)]
pub struct ByteRate {
    per_second: f64,
    capacity: f64,
    buckets: Mutex<HashMap<DeviceId, Bucket>>,
}

impl ByteRate {
    /// Allows `per_minute` bytes a minute per device, a full minute's worth at once.
    pub fn new(per_minute: u64) -> Self {
        let capacity = per_minute.max(1) as f64;
        ByteRate {
            per_second: capacity / 60.0,
            capacity,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes `n` bytes from `device`'s budget at `now`; `Err(seconds)` to wait when they do not
    /// fit (nothing is taken then).
    ///
    /// # Errors
    ///
    /// The whole seconds (at least 1) after which the same request would fit.
    pub fn take(&self, device: &DeviceId, n: u64, now: Instant) -> Result<(), u64> {
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        if buckets.len() >= MAX_DEVICES && !buckets.contains_key(device) {
            let (rate, cap) = (self.per_second, self.capacity);
            buckets.retain(|_, b| {
                b.bytes + now.saturating_duration_since(b.at).as_secs_f64() * rate < cap
            });
            if buckets.len() >= MAX_DEVICES {
                buckets.clear();
            }
        }
        let b = buckets.entry(device.clone()).or_insert(Bucket {
            bytes: self.capacity,
            at: now,
        });
        let refill = now.saturating_duration_since(b.at).as_secs_f64() * self.per_second;
        b.bytes = (b.bytes + refill).min(self.capacity);
        b.at = now;
        let want = n as f64;
        if want <= b.bytes {
            b.bytes -= want;
            Ok(())
        } else {
            let wait = ((want.min(self.capacity) - b.bytes) / self.per_second).ceil();
            Err((wait as u64).max(1))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_minute_at_once_then_refills() -> Result<(), Box<dyn std::error::Error>> {
        let r = ByteRate::new(600);
        let t = Instant::now();
        let (a, b) = (DeviceId::new()?, DeviceId::new()?);
        assert_eq!(r.take(&a, 500, t), Ok(()));
        assert_eq!(r.take(&a, 200, t), Err(10));
        assert_eq!(r.take(&b, 600, t), Ok(()));
        assert_eq!(r.take(&a, 200, t + Duration::from_secs(10)), Ok(()));
        Ok(())
    }

    #[test]
    fn memory_stays_bounded() -> Result<(), Box<dyn std::error::Error>> {
        let r = ByteRate::new(60);
        let t = Instant::now();
        for _ in 0..(MAX_DEVICES + 10) {
            let _ = r.take(&DeviceId::new()?, 1, t);
        }
        let n = r.buckets.lock().map(|b| b.len()).unwrap_or(0);
        assert!(n <= MAX_DEVICES, "{n}");
        Ok(())
    }
}
