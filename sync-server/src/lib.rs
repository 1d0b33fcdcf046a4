//! Noaber's relay: authenticated buurten, validated changes, a durable per-buurt log.
//!
//! A device joins a buurt with an invite code and gets a secret token. It then syncs in one
//! round trip: it pushes the changes it made since its last acknowledgement and pulls every
//! change of its buurt after its cursor. The relay checks every pushed change before storing it
//! (bounds, decoding, document ownership, then `noaber_core::validate`: actor, dependencies,
//! role), commits accepted ones durably — many requests share one fsync (group commit) — and
//! only then answers. A WebSocket tells online devices when their buurt's log moved.
//!
//! | module | what |
//! |---|---|
//! | `relay.rs` | [`Relay`]: the shared state (storage, writer, caches, limits, clock) |
//! | `server.rs` | [`serve`]: listeners, connection limits, graceful shutdown |
//! | `http/` | routes, extractors, the one `IntoResponse` for errors ([`ApiError`], mapping every [`Error`]) |
//! | `http/live.rs` | the `/v1/live` WebSocket handler |
//! | `ingest.rs` | the validation pipeline and the bounded document cache |
//! | `commit.rs` | the group-commit writer thread |
//! | `live.rs` | per-buurt heads, live connection limits (per device, buurt, in all) |
//! | [`transport`] | the accept loop: connection caps, header, idle and body timeouts, the open-file limit |
//! | [`storage`] | the [`storage::Storage`] trait, SQLite, migrations, the conformance suite |
//! | [`blob`] | photo bytes: the [`blob::BlobStore`] trait and its filesystem implementation, the image check, the per-device byte rate |
//! | `http/blobs.rs` | `/v1/uploads/{hash}` and `/v1/blobs/{hash}` |
//! | [`admin`] | operator commands; [`invite`] codes; [`ratelimit`]; [`config`] |
//! | [`repair`] | the messages of `POST /v1/missing` |
//!
//! The relay knows the domain only through `noaber_core::validate`; it never interprets a
//! document itself. Its memory does not grow with the documents stored: documents are loaded
//! into a bounded LRU only to validate changes.

pub mod admin;
pub mod blob;
mod commit;
pub mod config;
pub mod error;
mod http;
pub mod ids;
mod ingest;
pub mod invite;
mod live;
mod metrics;
pub mod ratelimit;
mod relay;
pub mod repair;
mod server;
pub mod storage;
pub mod transport;

pub use config::{Config, Overrides};
pub use error::{Error, Result};
pub use http::error::ApiError;
pub use ids::{BuurtId, DeviceId, Token};
pub use live::{MAX_CLIENT_MESSAGE, MAX_WRITE_BUFFER, SEND_TIMEOUT};
pub use noaber_core::{Clock, ManualClock, SystemClock};
pub use relay::Relay;
pub use server::serve;
