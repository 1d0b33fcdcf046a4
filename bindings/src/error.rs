//! The one error the bindings throw, converted from `noaber_core::Error` in exactly one place
//! (`impl From<&noaber_core::Error> for NoaberError`).
//!
//! The variants are the ones a screen acts on: show the field that is wrong, hide a button the
//! member may not use, say "offline, will retry", show the relay's refusal. Messages come from
//! the core, which never puts titles, bodies, names or tokens in them.

use noaber_core::Error;

/// Why a call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum NoaberError {
    /// No entity, comment, shift, buurt, ... with this id is stored on this device.
    #[error("no {what} with id `{id}`")]
    NotFound {
        /// What was looked up (`entity`, `help`, `comment`, `shift`, `buurt`, ...).
        what: String,
        /// The id that was not found.
        id: String,
    },
    /// An argument is out of range or malformed; `field` names it as the API spells it.
    #[error("invalid `{field}`: {reason}")]
    InvalidInput {
        /// The offending field (`title`, `capacity`, `id`, ...).
        field: String,
        /// Why it was refused.
        reason: String,
    },
    /// The local member's role or relation to the entity does not allow the action, or the
    /// entity's current state does not (a cancelled request cannot be marked done).
    #[error("not allowed: {reason}")]
    NotAllowed {
        /// Which rule refused it.
        reason: String,
    },
    /// The relay could not be reached (offline, timeout, connection cut). Worth retrying.
    #[error("network: {detail}")]
    Network {
        /// What failed.
        detail: String,
    },
    /// The relay refused the request (an invalid invite, a revoked device, a rate limit).
    #[error("the relay refused (`{code}`): {reason}")]
    Rejected {
        /// The relay's machine code (`invite_invalid`, `unauthorized`, `rate_limited`, ...).
        code: String,
        /// The relay's explanation.
        reason: String,
    },
    /// The local database could not be read or written, or an entity's stored bytes are
    /// damaged.
    #[error("storage: {detail}")]
    Storage {
        /// What failed.
        detail: String,
    },
    /// The operation was stopped through its [`crate::CancelHandle`].
    #[error("the operation was cancelled")]
    Cancelled,
    /// Anything else; the message says what.
    #[error("{detail}")]
    Other {
        /// What went wrong.
        detail: String,
    },
}

impl From<&Error> for NoaberError {
    fn from(e: &Error) -> Self {
        match e {
            Error::NotFound { what, id } => NoaberError::NotFound {
                what: (*what).to_owned(),
                id: id.clone(),
            },
            Error::InvalidInput { field, reason } => NoaberError::InvalidInput {
                field: (*field).to_owned(),
                reason: reason.clone(),
            },
            Error::InvalidTransition { .. } => NoaberError::NotAllowed {
                reason: e.to_string(),
            },
            Error::NotAllowed { reason } => NoaberError::NotAllowed {
                reason: reason.clone(),
            },
            Error::Corrupt { .. } => NoaberError::Storage {
                detail: e.to_string(),
            },
            Error::Network(detail) => NoaberError::Network {
                detail: detail.clone(),
            },
            Error::Relay { code, message, .. } => NoaberError::Rejected {
                code: code.clone(),
                reason: message.clone(),
            },
            Error::Storage(detail) => NoaberError::Storage {
                detail: detail.clone(),
            },
            Error::Other(detail) => NoaberError::Other {
                detail: detail.clone(),
            },
            // `noaber_core::Error` is non-exhaustive: a variant added later is still reported.
            _ => NoaberError::Other {
                detail: e.to_string(),
            },
        }
    }
}

impl From<Error> for NoaberError {
    fn from(e: Error) -> Self {
        NoaberError::from(&e)
    }
}

/// Shorthand for the bindings' results.
pub type Result<T, E = NoaberError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_errors_map_to_the_variant_a_screen_acts_on() {
        let cases: Vec<(Error, NoaberError)> = vec![
            (
                Error::InvalidInput {
                    field: "title",
                    reason: "must not be empty".into(),
                },
                NoaberError::InvalidInput {
                    field: "title".into(),
                    reason: "must not be empty".into(),
                },
            ),
            (
                Error::InvalidTransition {
                    kind: "help",
                    action: "complete",
                    status: "cancelled".into(),
                },
                NoaberError::NotAllowed {
                    reason: "cannot complete this help: it is cancelled".into(),
                },
            ),
            (
                Error::Relay {
                    status: 403,
                    code: "invite_invalid".into(),
                    message: "the invite is not valid".into(),
                },
                NoaberError::Rejected {
                    code: "invite_invalid".into(),
                    reason: "the invite is not valid".into(),
                },
            ),
            (
                Error::Network("connection refused".into()),
                NoaberError::Network {
                    detail: "connection refused".into(),
                },
            ),
        ];
        for (core, expected) in cases {
            assert_eq!(NoaberError::from(core), expected);
        }
    }
}
