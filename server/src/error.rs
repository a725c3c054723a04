//! The server's error type and how it is answered over HTTP: a client's mistake becomes a 4xx
//! `ErrorBody` whose message names the field, work order or rule; a server failure becomes a
//! generic 500 with the detail in the log only.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use fieldsync_proto::wire::{ErrorBody, ErrorCode, WireError};

use crate::storage::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    InvalidInput(String),
    /// Bad input in one named field (a JSON path such as `customer.name`, or a query parameter).
    #[error("{field}: {message}")]
    InvalidField { field: String, message: String },
    #[error("{0}")]
    Unauthorized(String),
    /// The device behind the token was revoked by an administrator.
    #[error("{0}")]
    DeviceRevoked(String),
    #[error("{message}")]
    RateLimited {
        message: String,
        retry_after_secs: u64,
    },
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// An edit decided on an older version of a work order that changed since in a way the
    /// edit would overwrite.
    #[error("{message}")]
    Stale {
        message: String,
        current_version: u64,
    },
    #[error("{0}")]
    TooLarge(String),
    /// Uploaded bytes that do not match their hash.
    #[error("{0}")]
    HashMismatch(String),
    /// The feature needs a part the server was built without (a router with no blob store).
    #[error("{0}")]
    Unavailable(String),
    #[error(transparent)]
    Wire(#[from] WireError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("{0}")]
    Internal(String),
}

impl Error {
    pub fn internal(what: impl std::fmt::Display) -> Self {
        Error::Internal(what.to_string())
    }

    /// Bad input in `field`; the message says what is wrong with it.
    pub fn field(field: impl Into<String>, message: impl std::fmt::Display) -> Self {
        Error::InvalidField {
            field: field.into(),
            message: message.to_string(),
        }
    }

    /// The input field the error is about, if it is about one.
    pub fn field_name(&self) -> Option<&str> {
        match self {
            Error::InvalidField { field, .. } => Some(field),
            Error::Stale { .. } => Some("expected_version"),
            _ => None,
        }
    }

    /// What the client is told: status, code and a message it can act on.
    fn public(&self) -> (StatusCode, ErrorCode, String) {
        match self {
            Error::InvalidInput(_) | Error::InvalidField { .. } => (
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidInput,
                self.to_string(),
            ),
            Error::Unauthorized(m) => (StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized, m.clone()),
            Error::DeviceRevoked(m) => {
                (StatusCode::UNAUTHORIZED, ErrorCode::DeviceRevoked, m.clone())
            }
            Error::RateLimited { message, .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                ErrorCode::RateLimited,
                message.clone(),
            ),
            Error::Forbidden(m) => (StatusCode::FORBIDDEN, ErrorCode::Forbidden, m.clone()),
            Error::NotFound(m) => (StatusCode::NOT_FOUND, ErrorCode::NotFound, m.clone()),
            Error::Conflict(m) => (StatusCode::CONFLICT, ErrorCode::Conflict, m.clone()),
            Error::Stale { message, .. } => {
                (StatusCode::CONFLICT, ErrorCode::Conflict, message.clone())
            }
            Error::TooLarge(m) => (StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::TooLarge, m.clone()),
            Error::HashMismatch(m) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::HashMismatch,
                m.clone(),
            ),
            Error::Unavailable(m) => (
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::Internal,
                m.clone(),
            ),
            Error::Wire(e) => {
                let status = match e {
                    WireError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
                    _ => StatusCode::BAD_REQUEST,
                };
                (status, e.code(), e.to_string())
            }
            Error::Storage(StorageError::UsernameTaken(_)) => {
                (StatusCode::CONFLICT, ErrorCode::Conflict, self.to_string())
            }
            Error::Storage(StorageError::Full(_)) => (
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::Internal,
                "the server's storage is full, so nothing of this request was stored; an operator must free disk space, then the request can be retried".into(),
            ),
            Error::Storage(_) | Error::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                ErrorCode::Internal,
                "the server failed to handle the request; it was logged, and the request can be retried".into(),
            ),
        }
    }
}

/// An error answer with the shared JSON body.
pub fn error_response(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Response {
    body_response(status, ErrorBody::new(code, message))
}

fn body_response(status: StatusCode, body: ErrorBody) -> Response {
    let json = serde_json::to_vec(&body).unwrap_or_else(|_| b"{}".to_vec());
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        json,
    )
        .into_response()
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let (status, code, message) = self.public();
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        } else {
            tracing::debug!(%code, %message, "request refused");
        }
        let mut body = match self.field_name() {
            Some(field) => ErrorBody::for_field(code, field, message),
            None => ErrorBody::new(code, message),
        };
        if let Error::Stale {
            current_version, ..
        } = self
        {
            body.error.current_version = Some(current_version);
        }
        let mut response = body_response(status, body);
        if let Error::RateLimited {
            retry_after_secs, ..
        } = self
        {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_details_stay_in_the_log() {
        let err = Error::Storage(StorageError::Database(
            "disk I/O error at /secret/path".into(),
        ));
        let (status, code, message) = err.public();
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(code, ErrorCode::Internal);
        assert!(!message.contains("/secret/path"), "{message}");
    }

    #[test]
    fn full_storage_is_a_503_that_says_so() {
        let err = Error::Storage(StorageError::Full("database or disk is full".into()));
        let (status, code, message) = err.public();
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(code, ErrorCode::Internal, "retryable");
        assert!(message.contains("storage is full"), "{message}");
    }

    #[test]
    fn wire_errors_keep_their_code() {
        let (status, code, _) = Error::Wire(WireError::UnsupportedVersion { found: 9 }).public();
        assert_eq!(
            (status, code),
            (StatusCode::BAD_REQUEST, ErrorCode::UnsupportedVersion)
        );
        let (status, code, _) = Error::Wire(WireError::TooLarge { len: 1 }).public();
        assert_eq!(
            (status, code),
            (StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::TooLarge)
        );
    }
}
