//! `noaber-ffi`: the API the Android and iOS shells (and the Kotlin, Swift and Python tests)
//! call, exported with [uniffi](https://mozilla.github.io/uniffi-rs/) proc-macros.
//!
//! This crate is **thin**: it converts between foreign-friendly records and the core's types
//! and delegates. It decides nothing about the domain; every rule lives in `noaber-core`.
//! It is also the only crate that uses uniffi.
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
pub use event::{
    Attendance, Attendee, CapacityChange, EventEdit, EventStatus, EventView, NewEvent, Rsvp, Shift,
    ShiftSlot, VolunteerRole,
};
pub use help::{HelpResponse, HelpStatus, HelpThanks, HelpView, NewHelp};
pub use photo::{LocalPhoto, PhotoUpload, UploadListener, UploadReport, UploadState};
pub use profile::{NewProfile, ProfileEdit, ProfileView};
pub use report::{
    MeToo, NewReport, PhotoRef, ReportPhoto, ReportStatus, ReportTransition, ReportView,
    TimelineEntry,
};
pub use store::NoaberStore;
pub use subscribe::{ChangeListener, Subscription};
pub use sync::{Buurt, CancelHandle, RejectedChange, SyncListener, SyncReport, SyncStatus};
pub use task::{
    ChecklistItem, NewTask, Occurrence, Outcome, Pledge, TaskEdit, TaskSchedule, TaskStanding,
    TaskStatus, TaskView,
};
pub use types::{
    BBox, Changed, Comment, GeoPoint, Identity, Kind, ListOrder, ListQuery, MyNotice, Notice, Page,
    PointChange, Role, StatusCount, Summary,
};

uniffi::setup_scaffolding!();
