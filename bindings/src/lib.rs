//! `noaber-ffi`: the API the Android and iOS shells (and the Kotlin, Swift and Python tests)
//! call, exported with [uniffi](https://mozilla.github.io/uniffi-rs/) proc-macros.
//!
//! This crate is **thin**: it exports the core's own types where uniffi can take them as they
//! are (`#[uniffi::remote]`), converts the rest to foreign-friendly records, and delegates.
//! It decides nothing about the domain; every rule lives in `noaber-core`. It is also the only
//! crate that uses uniffi.
//!
//! - [`NoaberStore`] — one device store: identity, help requests, events, tasks, reports,
//!   profiles, comments, lists and counts, subscriptions, buurten and sync.
//! - [`NoaberError`] — the one error every fallible call throws.
//! - [`CancelHandle`] — stops a long network operation (sync, live sync, join). Cancelling a
//!   Swift `Task` does not drop the Rust future, so long calls take an explicit handle.
//! - [`ChangeListener`] / [`Subscription`], [`SyncListener`] — callbacks from Rust threads.
//!
//! # Threads
//!
//! Local reads and writes are synchronous and fast (about a millisecond), but they do disk
//! I/O: **call them off the main thread**. Network calls are `async`; their work runs on the
//! library's own tokio runtime, never on the caller's thread, so awaiting them from a UI thread
//! is fine. Listeners are called on Rust threads (the thread that committed a change, or a
//! sync worker), never while the library holds a lock, so they may call back into the store.
//!
//! See `bindings/README.md` for generating the Kotlin, Swift and Python code.

mod error;
mod event;
mod help;
mod photo;
mod profile;
mod report;
mod store;
mod subscribe;
mod sync;
mod task;
mod types;

pub use error::NoaberError;
pub use event::{CapacityChange, EventEdit, EventView, NewEvent, Shift};
pub use help::{HelpView, NewHelp};
pub use photo::UploadListener;
pub use report::{NewReport, ReportView};
pub use store::NoaberStore;
pub use subscribe::{ChangeListener, Subscription};
pub use sync::{CancelHandle, SyncListener};
pub use task::{NewTask, TaskEdit, TaskView};
pub use types::{GeoPoint, ListQuery, Notice, PointChange, Readers};

// The core's own types the API uses as they are (exported with `#[uniffi::remote]`), under
// their foreign names.
pub use noaber_core::model::CommentRow as Comment;
pub use noaber_core::model::Detail;
pub use noaber_core::model::event::{
    Attendance, Attendee, EventStatus, Rsvp, ShiftSlot, VolunteerRole,
};
pub use noaber_core::model::help::{HelpStatus, Response as HelpResponse, Thanks as HelpThanks};
pub use noaber_core::model::profile::{NewProfile, ProfileEdit, ProfileView};
pub use noaber_core::model::report::{
    MeToo, PhotoRef, ReportPhoto, ReportStatus, ReportTransition, TimelineEntry,
};
pub use noaber_core::model::task::{
    ChecklistItem, Occurrence, Outcome, Pledge, TaskSchedule, TaskStanding, TaskStatus,
};
pub use noaber_core::store::membership::Buurt;
pub use noaber_core::store::photos::{LocalPhoto, PhotoUpload, UploadState};
pub use noaber_core::store::query::NoticeRow as MyNotice;
pub use noaber_core::sync::engine::{RejectedChange, SyncStatus};
pub use noaber_core::sync::http::{SyncReport, UploadReport};
pub use noaber_core::{
    Audience, BBox, Changed, Identity, Kind, Order as ListOrder, Page, Role, StatusCount, Summary,
};

uniffi::setup_scaffolding!();
