//! Errors of the device library: each says what went wrong in words a technician or an app
//! developer can act on, and which kind of problem it is, so that an FFI layer can map them to
//! a small set of typed errors without parsing messages.

use std::path::PathBuf;

use fieldsync_proto::wire::ErrorCode;
use fieldsync_proto::{ActionError, DocumentError};

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("not logged in on this device; run `fieldsync login --server URL --user NAME` first")]
    NotLoggedIn,

    #[error(
        "{what} was not found on this device; run `fieldsync sync` if it was assigned recently"
    )]
    NotFound { what: String },

    #[error("'{input}' matches several work orders ({}); type more of the number", candidates.join(", "))]
    Ambiguous {
        input: String,
        candidates: Vec<String>,
    },

    #[error(transparent)]
    Action(#[from] ActionError),

    #[error("the server at {server} could not be reached ({reason}); your work is saved on this device and will sync later")]
    Offline { server: String, reason: String },

    #[error("the server refused the request ({code}): {message}")]
    Server { code: ErrorCode, message: String },

    #[error("the server did not accept this device's credentials ({message}); log in again with `fieldsync login`")]
    Unauthorized { message: String },

    /// An administrator revoked this device. Its local data (work orders, unsent and refused
    /// changes, session) has been removed; logging in again registers it as a new device.
    #[error("this device was revoked by an administrator ({message}); its work orders and unsent changes have been removed from it. Log in again to use it as a new device")]
    DeviceRevoked { message: String },

    #[error("the server at {server} did not present a certificate this device trusts ({reason}); if it uses its own certificate authority, log in with `--ca-cert FILE`")]
    UntrustedServer { server: String, reason: String },

    #[error("this device holds {pending} unsynced change(s) made by {owner}; log in as {owner} and run `fieldsync sync` before logging in as someone else")]
    OtherUsersChanges { owner: String, pending: usize },

    #[error("{0}")]
    InvalidInput(String),

    #[error(transparent)]
    Storage(#[from] StoreError),

    #[error("work order {number} could not be processed: {source}")]
    Document {
        number: String,
        #[source]
        source: DocumentError,
    },

    #[error("the local store is damaged: {what}; run `fieldsync sync` to fetch a fresh copy, or remove the store directory and log in again")]
    Corrupt { what: String },
}

/// Failures of the SQLite store underneath.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("could not create the store directory {path}: {source}")]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("could not open the local store {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("the local store was written by a newer version of Fieldsync (schema {found}, this version knows up to {known}); update Fieldsync")]
    TooNew { found: i64, known: i64 },
    #[error("the local store failed: {0} (if the disk is full, free some space and try again)")]
    Sqlite(#[from] rusqlite::Error),
    /// SQLite could not grow the store's files: the write was rolled back whole.
    #[error("the device's disk is full: the local store {path} could not save this; nothing was changed and everything saved before is intact. Free some space on the device and try again")]
    DiskFull { path: PathBuf },
}

impl StoreError {
    /// Whether this is SQLite saying the disk is full.
    pub(crate) fn is_disk_full(&self) -> bool {
        matches!(self, StoreError::Sqlite(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull))
            || matches!(self, StoreError::DiskFull { .. })
    }
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::Storage(StoreError::Sqlite(e))
    }
}

impl Error {
    /// A document problem, tagged with the work order it concerns. Refusals of an action become
    /// `Action`, so callers can tell "not allowed" from "broken".
    pub(crate) fn document(number: impl Into<String>, source: DocumentError) -> Self {
        match source {
            DocumentError::Action(e) => Error::Action(e),
            source => Error::Document {
                number: number.into(),
                source,
            },
        }
    }

    /// Whether trying again later, unchanged, may succeed (network and server trouble).
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Offline { .. } => true,
            Error::Storage(e) => e.is_disk_full(),
            Error::Server { code, .. } => {
                matches!(code, ErrorCode::Internal | ErrorCode::RateLimited)
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offline_says_the_work_is_kept() {
        let e = Error::Offline {
            server: "https://fs.example".into(),
            reason: "connection refused".into(),
        };
        let text = e.to_string();
        assert!(text.contains("saved on this device"), "{text}");
        assert!(e.is_retryable());
    }

    #[test]
    fn action_refusals_stay_typed() {
        let refusal = ActionError::OfficeOnly {
            action: "close",
            role: fieldsync_proto::Role::Technician,
        };
        let e = Error::document("WO-AAAA-BBBB", DocumentError::Action(refusal.clone()));
        assert!(matches!(e, Error::Action(ref a) if *a == refusal), "{e}");
        let e = Error::document("WO-AAAA-BBBB", DocumentError::Corrupt("bad".into()));
        assert!(e.to_string().contains("WO-AAAA-BBBB"), "{e}");
    }
}
