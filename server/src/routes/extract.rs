//! Request extractors whose refusals are `ErrorBody` answers naming what was wrong.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use fieldsync_proto::WorkOrderId;
use serde::de::DeserializeOwned;

use crate::error::Error;

/// A JSON body; a bad one is a 400 `invalid_input` naming the field (413 when too large).
pub struct JsonBody<T>(pub T);

impl<T, S> FromRequest<S> for JsonBody<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Error> {
        // Parsed as JSON first, then fitted to the type, so that a misfit names its field.
        let value = match axum::Json::<serde_json::Value>::from_request(req, state).await {
            Ok(axum::Json(value)) => value,
            Err(rejection) => return Err(json_error(rejection)),
        };
        serde_path_to_error::deserialize(value)
            .map(JsonBody)
            .map_err(|e| {
                let path = e.path().to_string();
                let message = e.into_inner().to_string();
                // A missing field is reported at its parent; name the field itself.
                let missing = message
                    .strip_prefix("missing field `")
                    .and_then(|rest| rest.split('`').next())
                    .map(str::to_owned);
                match (path.as_str(), missing.as_deref()) {
                    (".", Some(name)) => Error::field(name, message),
                    (".", None) => {
                        Error::InvalidInput(format!("the JSON body does not fit: {message}"))
                    }
                    (parent, Some(name)) => Error::field(format!("{parent}.{name}"), message),
                    (_, None) => Error::field(path, message),
                }
            })
    }
}

fn json_error(rejection: JsonRejection) -> Error {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return Error::TooLarge(format!(
            "the JSON body is larger than {} bytes",
            super::MAX_JSON_BYTES
        ));
    }
    match rejection {
        JsonRejection::MissingJsonContentType(_) => Error::InvalidInput(
            "the body must be JSON, sent with 'Content-Type: application/json'".into(),
        ),
        JsonRejection::JsonDataError(e) => {
            Error::InvalidInput(format!("the JSON body does not fit: {}", e.body_text()))
        }
        JsonRejection::JsonSyntaxError(e) => {
            Error::InvalidInput(format!("the body is not valid JSON: {}", e.body_text()))
        }
        other => Error::InvalidInput(other.body_text()),
    }
}

/// Query parameters; bad ones are a 400 `invalid_input` naming the parameter.
pub struct QueryParams<T>(pub T);

impl<T, S> FromRequestParts<S> for QueryParams<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Error> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| QueryParams(q.0))
            .map_err(|e: QueryRejection| {
                Error::InvalidInput(format!("bad query parameters: {}", e.body_text()))
            })
    }
}

/// A work order id from the path.
pub fn work_order_id(text: &str) -> Result<WorkOrderId, Error> {
    text.parse()
        .map_err(|e: fieldsync_proto::IdParseError| Error::field("id", e))
}
