//! Sync with a relay.
//!
//! - [`wire`] — the protocol's messages (the bytes on the wire).
//! - [`engine`] — the sans-I/O engine: prepare a round, apply its answer, back off on failure.
//! - `http` — the HTTP transport (feature `http`): the only place `core` does network I/O.
pub mod engine;
#[cfg(feature = "http")]
pub mod http;
pub mod wire;
