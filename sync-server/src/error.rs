//! Errors of the relay's library API (opening, serving, administration, validating pushes).
//!
//! Two layers, as STYLE.md asks: [`Error`] has the variants a caller (the binary, a test, an
//! operator's script) acts on; storage errors arrive as [`StorageError`] and are wrapped, not
//! flattened, so the backend's message stays available to logs. HTTP responses are a separate
//! concern: `http::error::ApiError` turns failures into JSON bodies that never leak internals,
//! and its `From<Error>` is the one place an [`Error`] becomes a status code.
//! Messages are lowercase, name the offending field or value, and never carry personal data,
//! tokens or invite codes.

use crate::storage::StorageError;

/// The error every fallible public function of `noaber-relay` returns.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An argument is out of range or malformed.
    #[error("invalid `{field}`: {reason}")]
    InvalidInput {
        /// The name of the offending field, as the API or command line spells it.
        field: &'static str,
        /// Why it was refused.
        reason: String,
    },
    /// No buurt, member or device with this id.
    #[error("no {what} with id `{id}`")]
    NotFound {
        /// What was looked up (`buurt`, `member`, `device`).
        what: &'static str,
        /// The id that was not found.
        id: String,
    },
    /// The storage failed or refused (including a database written by a newer relay).
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The network or the file system failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// A request asks for more work than the relay takes at once (the pushed changes declare
    /// too many operations); the message says how much and the bound. Nothing was done.
    #[error("too large: {0}")]
    TooLarge(String),
    /// The document library cannot read a change or a stored document, or it panicked; the
    /// message says what (no document content).
    #[error("{0}")]
    Document(String),
    /// The configuration could not be read.
    #[error("configuration: {0}")]
    Config(String),
    /// Anything else; the message says what.
    #[error("{0}")]
    Other(String),
}

impl Error {
    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Error::InvalidInput {
            field,
            reason: reason.into(),
        }
    }

    pub(crate) fn not_found(what: &'static str, id: impl Into<String>) -> Self {
        Error::NotFound {
            what,
            id: id.into(),
        }
    }
}

/// Shorthand used throughout the relay.
pub type Result<T, E = Error> = std::result::Result<T, E>;
