//! A small in-process rate limiter for invite redemption: token buckets per client address
//! and per invite code.
//!
//! Invite codes carry ~59 bits, so guessing is hopeless at any rate a limiter allows; the
//! limits keep one client from hammering the join path (each join attempt is a write) and
//! bound how fast any one code is tried, from however many addresses. The address budget is
//! generous (default 60 at once, 30 a minute): a housing complex behind one NAT address
//! joining on a welcome evening fits, while guessing codes from one address stays at
//! ~16 million a year against 2^59. The per-invite budget (default 30 at once, 10 a minute)
//! is what a leaked code, or one shared in a group chat, meets.
//!
//! IPv6 clients are keyed by their /64, which one subscriber usually holds entirely. Memory is
//! bounded: past [`MAX_CLIENTS`] tracked keys, buckets that have refilled are forgotten,
//! and if that is not enough the table starts afresh (a burst of distinct keys costs a
//! little precision, never memory).
//!
//! Behind a reverse proxy every request comes from the proxy's address; put the relay behind
//! one only with the proxy doing its own limiting (the relay does not trust `X-Forwarded-For`).

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

/// Most client addresses tracked at once.
pub const MAX_CLIENTS: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// A token bucket per key: a client address (the default), an invite code's hash.
#[derive(Debug)]
pub struct RateLimiter<K = IpAddr> {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<K, Bucket>>,
}

fn key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

impl RateLimiter<IpAddr> {
    /// Takes one token for the client `ip` (IPv6 by its /64) at time `now`; `false` when the
    /// client must wait.
    pub fn allow(&self, ip: IpAddr, now: Instant) -> bool {
        self.take(key(ip), now)
    }
}

impl<K: Eq + Hash> RateLimiter<K> {
    /// Allows `burst` attempts at once per key, refilling at `per_minute`.
    pub fn new(per_minute: u32, burst: u32) -> Self {
        RateLimiter {
            per_second: f64::from(per_minute) / 60.0,
            burst: f64::from(burst.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `k` at time `now`; `false` when it must wait.
    pub fn take(&self, k: K, now: Instant) -> bool {
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() >= MAX_CLIENTS {
            let (rate, burst) = (self.per_second, self.burst);
            buckets.retain(|_, b| {
                b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * rate < burst
            });
            if buckets.len() >= MAX_CLIENTS {
                buckets.clear();
            }
        }
        let b = buckets.entry(k).or_insert(Bucket {
            tokens: self.burst,
            at: now,
        });
        let refill = now.saturating_duration_since(b.at).as_secs_f64() * self.per_second;
        b.tokens = (b.tokens + refill).min(self.burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn bursts_then_refills_per_client() {
        let l = RateLimiter::new(60, 3);
        let t = Instant::now();
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        assert!((0..3).all(|_| l.allow(a, t)));
        assert!(!l.allow(a, t));
        assert!(l.allow(b, t));
        assert!(l.allow(a, t + Duration::from_secs(1)));
        assert!(!l.allow(a, t + Duration::from_secs(1)));
    }

    #[test]
    fn ipv6_clients_share_their_slash_64() {
        let l = RateLimiter::new(1, 1);
        let t = Instant::now();
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap_or(IpAddr::from([0u8; 4]));
        let b: IpAddr = "2001:db8:1:2::ffff"
            .parse()
            .unwrap_or(IpAddr::from([0u8; 4]));
        assert!(l.allow(a, t));
        assert!(!l.allow(b, t));
    }

    #[test]
    fn invite_codes_have_buckets_of_their_own() {
        let l: RateLimiter<[u8; 32]> = RateLimiter::new(60, 2);
        let t = Instant::now();
        assert!(l.take([1; 32], t) && l.take([1; 32], t));
        assert!(!l.take([1; 32], t));
        assert!(l.take([2; 32], t));
    }

    #[test]
    fn memory_stays_bounded() {
        let l = RateLimiter::new(60, 1);
        let t = Instant::now();
        for i in 0..(MAX_CLIENTS as u32 + 10) {
            l.allow(IpAddr::from(i.to_be_bytes()), t);
        }
        let n = l.buckets.lock().map(|b| b.len()).unwrap_or(0);
        assert!(n <= MAX_CLIENTS, "{n}");
    }
}
