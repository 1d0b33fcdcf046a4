//! The bounds every change is held to before anything in it is expanded: by the relay on what
//! it accepts and by a device on what it applies. They are part of the wire protocol (the sync
//! wire module re-exports them, `docs/protocol.md` states them), and they live down here
//! because validation and the store need them without depending on the sync layer.

/// Largest single change, in bytes (as sent).
pub const MAX_CHANGE_BYTES: usize = 256 * 1024;
/// Largest a compressed change may inflate to.
pub const MAX_INFLATED_BYTES: usize = 4 * 1024 * 1024;
/// Most operations one change may declare (the sum of its action column's runs), and most
/// values any column of it that runs alongside the operations may declare. Read from the
/// change's column metadata before anything is expanded (`validate::check_bounds`): a run of
/// a few bytes can declare millions of operations. Honest changes are small — creating a help
/// request is tens of operations, pasting a long text a few thousand.
pub const MAX_CHANGE_OPS: u64 = 100_000;
/// Most predecessors (operations a change overwrites or deletes) one change may declare in
/// all: a single operation's pred group can otherwise declare millions.
pub const MAX_CHANGE_PREDS: u64 = 100_000;
/// Most dependencies (heads it builds on) one change may name.
pub const MAX_CHANGE_DEPS: u64 = 1_024;
/// Most actors besides its own one change may name.
pub const MAX_CHANGE_ACTORS: u64 = 1_024;
/// Most operations a document may hold, counting a change's declared operations before it is
/// applied: a relay and a device keep documents in memory, and a document only grows.
pub const MAX_DOC_OPS: u64 = 1_000_000;
