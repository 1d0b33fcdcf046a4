//! The relay's public behaviour, against a real relay on `127.0.0.1:0` in this process.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod admin_cli;
mod attack_audience;
mod attack_connections;
mod attack_identity;
mod attack_ops;
mod attack_photos;
mod attack_time;
mod blobs;
mod durability;
mod join;
mod live;
#[path = "../../src/storage/pg_harness.rs"]
mod pg_harness;
mod postgres;
mod security;
mod storage_faults;
mod support;
mod sync;
