//! The HTTP surface: the dispatcher console's files and one router per API area, merged in
//! `app` with body limits, a request timeout and request tracing.
//!
//! Every API route is registered through its OpenAPI annotation (`api`), so the router and the
//! document served at `/api/openapi.json` are made from the same list and cannot disagree.

mod admin;
mod audit;
mod blobs;
mod console;
mod detail;
mod dispatch;
mod extract;
mod followups;
mod health;
mod intake;
mod kpis;
mod live;
mod login;
mod openapi;
mod people;
mod stock;
mod sync;
mod work_orders;

use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Extension, Request};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use fieldsync_proto::wire::{self, ErrorCode};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use utoipa_axum::router::OpenApiRouter;

use crate::error::{error_response, Error};
use crate::state::AppState;

pub use openapi::OPENAPI_PATH;

/// Largest JSON body accepted.
pub const MAX_JSON_BYTES: usize = 1024 * 1024;
/// Longest a request may take before it is answered with an error.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Every API route with its OpenAPI operation, and the body limit of its group.
fn api() -> OpenApiRouter<AppState> {
    let json = OpenApiRouter::new()
        .merge(login::routes())
        .merge(work_orders::routes())
        .merge(dispatch::routes())
        .merge(intake::routes())
        .merge(detail::routes())
        .merge(stock::routes())
        .merge(followups::routes())
        .merge(kpis::routes())
        .merge(people::routes())
        .merge(admin::routes())
        .merge(audit::routes())
        .layer(RequestBodyLimitLayer::new(MAX_JSON_BYTES));
    let frames = sync::routes().layer(RequestBodyLimitLayer::new(wire::MAX_FRAME_BYTES));
    OpenApiRouter::with_openapi(openapi::base())
        .merge(health::routes())
        .merge(openapi::routes())
        .merge(live::routes())
        .merge(json)
        .merge(frames)
        .merge(blobs::routes())
}

/// The OpenAPI document of the API, as served at `/api/openapi.json`.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    openapi::finish(api().into_openapi())
}

/// The whole server as a router, for `axum::serve` or for tests with `oneshot`.
pub fn app(state: AppState) -> Router {
    let (api, doc) = api().split_for_parts();
    let doc = openapi::ApiDocument::new(&openapi::finish(doc));
    Router::new()
        .merge(console::routes())
        .merge(api)
        .fallback(not_found)
        // The tower-http limits in `api` decide; axum's own default would cut frames at 2 MB.
        .layer(DefaultBodyLimit::disable())
        .layer(Extension(doc))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            REQUEST_TIMEOUT,
        ))
        .layer(middleware::from_fn(error_bodies))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            tracing::info_span!(
                "request",
                method = %req.method(),
                path = %req.uri().path(),
                user = tracing::field::Empty,
                device = tracing::field::Empty,
            )
        }))
        .with_state(state)
}

async fn not_found(req: Request) -> Error {
    Error::NotFound(format!(
        "there is no {} {} on this server",
        req.method(),
        req.uri().path()
    ))
}

/// Whether an answer has no content type or plain text.
fn bare_or_plain(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_none_or(|v| v.as_bytes().starts_with(b"text/plain"))
}

/// Gives the bare error answers of the layers and the router (body too large, timeout, a
/// method a path does not take) the usual JSON body.
async fn error_bodies(req: Request, next: Next) -> Response {
    let (method, path) = (req.method().clone(), req.uri().path().to_owned());
    let response = next.run(req).await;
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if is_json {
        return response;
    }
    match response.status() {
        StatusCode::PAYLOAD_TOO_LARGE => error_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::TooLarge,
            format!(
                "the request body is too large: JSON bodies may have at most {MAX_JSON_BYTES} bytes, sync frames {} bytes",
                wire::MAX_FRAME_BYTES
            ),
        ),
        StatusCode::SERVICE_UNAVAILABLE => error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Internal,
            format!(
                "the request took longer than {} seconds and was stopped; try again",
                REQUEST_TIMEOUT.as_secs()
            ),
        ),
        StatusCode::METHOD_NOT_ALLOWED if !response.headers().contains_key(header::CONTENT_TYPE) => {
            let allowed = response
                .headers()
                .get(header::ALLOW)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            let mut answer = error_response(
                StatusCode::METHOD_NOT_ALLOWED,
                ErrorCode::NotFound,
                format!("{path} does not take {method}; it takes {allowed}"),
            );
            if let Ok(value) = header::HeaderValue::from_str(&allowed) {
                answer.headers_mut().insert(header::ALLOW, value);
            }
            answer
        }
        // Any other bare or plain-text refusal (axum's own, for a path segment that is not
        // UTF-8, say); sync frames and files carry their own content type.
        status if status.is_client_error() && bare_or_plain(&response) => {
            let text = axum::body::to_bytes(response.into_body(), 16 * 1024)
                .await
                .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
                .unwrap_or_default();
            let reason = if text.is_empty() {
                status.canonical_reason().unwrap_or("bad request").to_owned()
            } else {
                text
            };
            error_response(
                status,
                ErrorCode::InvalidInput,
                format!("{method} {path} was refused: {reason}"),
            )
        }
        _ => response.into_response(),
    }
}
