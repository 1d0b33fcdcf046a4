//! Errors of the core.
//!
//! Two layers, as STYLE.md asks: [`Error`] is the public error with the variants a caller
//! (the CLI, the bindings, a UI) acts on; `Internal` carries the library errors underneath and
//! is converted in exactly one place ([`From<Internal> for Error`]). Messages name the offending
//! field or value but never carry personal data (titles, bodies, names).

use crate::ids::EntityId;

/// The error every public function of `noaber-core` returns.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No entity, comment or entry with this id is stored.
    #[error("no {what} with id `{id}`")]
    NotFound {
        /// What was looked up (`entity`, `comment`, `shift`, ...).
        what: &'static str,
        /// The id that was not found.
        id: String,
    },
    /// An argument is out of range or malformed.
    #[error("invalid `{field}`: {reason}")]
    InvalidInput {
        /// The name of the offending field, as the API spells it.
        field: &'static str,
        /// Why it was refused.
        reason: String,
    },
    /// The action is not possible in the entity's current (derived) state,
    /// e.g. marking a cancelled help request done.
    #[error("cannot {action} this {kind}: it is {status}")]
    InvalidTransition {
        /// The entity kind (`help`, `event`, `task`, `report`).
        kind: &'static str,
        /// The action that was refused (`complete`, `match`, ...).
        action: &'static str,
        /// The entity's current status.
        status: String,
    },
    /// The local member's role or relation to the entity does not allow the action.
    #[error("not allowed: {reason}")]
    NotAllowed {
        /// Which rule refused it.
        reason: String,
    },
    /// The stored bytes of one entity could not be decoded; every other entity stays readable.
    #[error("entity `{id}` is corrupt: {reason}")]
    Corrupt {
        /// The entity whose document failed to load.
        id: EntityId,
        /// What went wrong while decoding.
        reason: String,
    },
    /// The relay could not be reached (offline, timeout, connection cut).
    #[error("network: {0}")]
    Network(String),
    /// The relay answered with an error.
    #[error("relay refused ({status} `{code}`): {message}")]
    Relay {
        /// The HTTP status.
        status: u16,
        /// The relay's machine code.
        code: String,
        /// The relay's message.
        message: String,
    },
    /// The database could not be read or written.
    #[error("storage error: {0}")]
    Storage(String),
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

    pub(crate) fn not_allowed(reason: impl Into<String>) -> Self {
        Error::NotAllowed {
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

/// Library errors underneath [`Error`]; never shown to callers directly.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Internal {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("automerge: {0}")]
    Automerge(#[from] automerge::AutomergeError),
    #[error("automerge change: {0}")]
    LoadChange(#[from] automerge::LoadChangeError),
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
}

impl From<Internal> for Error {
    fn from(e: Internal) -> Self {
        match e {
            Internal::Sqlite(e) => Error::Storage(e.to_string()),
            Internal::Io(e) => Error::Storage(e.to_string()),
            Internal::Automerge(e) => Error::Other(format!("document error: {e}")),
            Internal::LoadChange(e) => Error::Other(format!("change could not be decoded: {e}")),
            Internal::Json(e) => Error::Other(format!("encoding error: {e}")),
        }
    }
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Internal::from(e).into()
    }
}

impl From<automerge::AutomergeError> for Error {
    fn from(e: automerge::AutomergeError) -> Self {
        Internal::from(e).into()
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Internal::from(e).into()
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Internal::from(e).into()
    }
}

/// Shorthand used throughout the core.
pub type Result<T, E = Error> = std::result::Result<T, E>;
