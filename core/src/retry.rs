//! When to try again: the waits after failed rounds and after refusals for now. Pure time
//! arithmetic shared by the sync engine (rounds, refusals) and the store (photo uploads, the
//! outbox's hold-back), which must not depend on the sync layer.

use std::time::Duration;

/// How often a change may be refused `missing_dependencies` before it counts as refused for
/// good (see the module docs); with [`retry_wait_ms`] about 30 s after the first refusal.
pub const MAX_DEPENDENCY_RETRIES: i64 = 5;

/// Whether a refusal with this `code` may pass by itself, so the change is pushed again.
pub fn retryable(code: &str) -> bool {
    matches!(code, "missing_dependencies" | "unavailable")
}

/// Whether a change refused for now (`code`, [`retryable`]) for the `refusals`th time is
/// refused for good.
pub fn gives_up(code: &str, refusals: i64) -> bool {
    code == "missing_dependencies" && refusals >= MAX_DEPENDENCY_RETRIES
}

/// How long a change refused for now is held back after its `refusals`th such refusal, in
/// milliseconds: 2 s doubling, at most 5 minutes.
pub fn retry_wait_ms(refusals: i64) -> i64 {
    let exp = u32::try_from(refusals.clamp(1, 20)).unwrap_or(1);
    2_000_i64.saturating_mul(1 << (exp - 1)).min(300_000)
}

/// Exponential backoff with jitter: after `failures` consecutive failures, wait between half
/// and all of `min(2^failures s, 5 min)`; `jitter` in `0.0..=1.0` picks where. Jitter spreads
/// the retries of many phones after a relay outage.
pub fn backoff(failures: u32, jitter: f64) -> Duration {
    if failures == 0 {
        return Duration::ZERO;
    }
    let cap = 300.0_f64;
    let full = 2f64
        .powi(i32::try_from(failures.min(16)).unwrap_or(16))
        .min(cap);
    let j = if jitter.is_finite() {
        jitter.clamp(0.0, 1.0)
    } else {
        0.5
    };
    Duration::from_secs_f64(full * (0.5 + 0.5 * j))
}
