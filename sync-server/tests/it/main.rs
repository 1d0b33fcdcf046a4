//! The relay's public behaviour, against a real relay on `127.0.0.1:0` in this process.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod admin_cli;
mod blobs;
mod durability;
mod join;
mod live;
#[path = "../../src/storage/pg_harness.rs"]
mod pg_harness;
mod postgres;
mod security;
mod support;
mod sync;
