//! `FieldsyncError`: the one error type apps see. Each variant is a kind of problem an app
//! handles differently (ask to sign in, show "saved, will sync", show the refusal); the message
//! is the library's, written for a person.

use fieldsync_client::Error;

#[derive(Debug, thiserror::Error, uniffi::Error)]
#[uniffi(flat_error)]
pub enum FieldsyncError {
    /// Nobody is signed in on this device, the server refused the credentials, or this device
    /// was revoked (its data is then removed): sign in.
    #[error("{reason}")]
    NotSignedIn { reason: String },
    /// The server could not be reached; the work is saved and syncs later.
    #[error("{reason}")]
    Offline { reason: String },
    /// The server's certificate is not trusted: sign in again with the right certificate
    /// authority, or check the address.
    #[error("{reason}")]
    UntrustedServer { reason: String },
    /// The action is not allowed now (wrong status, office-only, invalid values).
    #[error("{reason}")]
    NotAllowed { reason: String },
    /// No such work order on this device, or the text matches several.
    #[error("{reason}")]
    NotFound { reason: String },
    /// An argument was malformed (an id, a JSON body, a server address).
    #[error("{reason}")]
    InvalidInput { reason: String },
    /// The server refused the request for a reason it gave.
    #[error("{reason}")]
    Server { reason: String },
    /// Another user's unsynced changes are on this device.
    #[error("{reason}")]
    OtherUsersChanges { reason: String },
    /// The local store failed or is damaged (disk full, say).
    #[error("{reason}")]
    Storage { reason: String },
    /// A failure inside the library.
    #[error("{reason}")]
    Internal { reason: String },
}

impl From<Error> for FieldsyncError {
    fn from(e: Error) -> Self {
        let reason = e.to_string();
        match e {
            Error::NotLoggedIn | Error::Unauthorized { .. } | Error::DeviceRevoked { .. } => {
                FieldsyncError::NotSignedIn { reason }
            }
            Error::Offline { .. } => FieldsyncError::Offline { reason },
            Error::UntrustedServer { .. } => FieldsyncError::UntrustedServer { reason },
            Error::Action(_) => FieldsyncError::NotAllowed { reason },
            Error::NotFound { .. } | Error::Ambiguous { .. } => FieldsyncError::NotFound { reason },
            Error::InvalidInput(_) => FieldsyncError::InvalidInput { reason },
            Error::Server { .. } => FieldsyncError::Server { reason },
            Error::OtherUsersChanges { .. } => FieldsyncError::OtherUsersChanges { reason },
            Error::Storage(_) | Error::Corrupt { .. } | Error::Document { .. } => {
                FieldsyncError::Storage { reason }
            }
        }
    }
}

impl FieldsyncError {
    pub(crate) fn invalid(reason: impl Into<String>) -> Self {
        FieldsyncError::InvalidInput {
            reason: reason.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn library_errors_keep_their_kind_and_message() {
        let e: FieldsyncError = Error::Offline {
            server: "http://x".into(),
            reason: "refused".into(),
        }
        .into();
        assert!(matches!(e, FieldsyncError::Offline { .. }));
        assert!(e.to_string().contains("saved on this device"), "{e}");
        let e: FieldsyncError = Error::NotLoggedIn.into();
        assert!(matches!(e, FieldsyncError::NotSignedIn { .. }));
        assert!(e.to_string().contains("login"), "{e}");
    }
}
