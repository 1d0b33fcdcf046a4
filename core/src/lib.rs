//! Noaber's core: the neighbourhood's domain rules, its Automerge documents and the offline
//! SQLite store a phone (or the CLI) keeps.
//!
//! - [`model`] — one module per entity kind: the document schema, the operations, and the
//!   deterministic rule that derives status from what people did.
//! - [`photo`] — report photos made safe to store and send: metadata stripped, pixels
//!   untouched.
//! - [`store`] — the device store: document bytes, projections, the local change log,
//!   queries and subscriptions.
//!
//! `noaber-core` knows nothing about HTTP, uniffi or a UI. Time comes from an injected
//! [`Clock`].

pub mod clock;
pub(crate) mod doc;
pub mod error;
#[cfg(any(test, feature = "forge"))]
pub mod forge;
pub mod ids;
pub mod kind;
pub mod limits;
pub mod model;
pub use model::audience;
pub mod names;
pub mod photo;
pub mod retry;
pub mod store;
pub mod sync;
#[cfg(test)]
pub(crate) mod testing;
pub mod validate;

pub use audience::{Audience, Readers};
pub use clock::{Clock, ManualClock, SystemClock};
pub use doc::SCHEMA_VERSION as DOC_SCHEMA_VERSION;
pub use error::{Error, Result};
pub use ids::{EntityId, MemberId};
pub use model::{Kind, Role};
pub use store::query::{BBox, ListQuery, Order, Page, StatusCount, Summary};
pub use store::{Changed, Identity, Store, Subscription};
