//! Sync with a relay: the wire messages ([`wire`]).
pub mod wire;
