//! The OpenAPI document of the REST API, generated from the handlers' annotations and served
//! at `GET /api/openapi.json`: the parts every operation shares (the bearer scheme, the error
//! answers any request can get) are added here, once.

use std::sync::Arc;

use axum::extract::Extension;
use axum::http::header;
use axum::response::IntoResponse;
use fieldsync_proto::wire::ErrorBody;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi, RefOr, Response, ResponseBuilder};
use utoipa::{Modify, OpenApi as _, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

/// Where the document is served.
pub const OPENAPI_PATH: &str = "/api/openapi.json";
/// Name of the bearer token scheme in the document.
pub const BEARER: &str = "bearer_token";

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Fieldsync server API",
        description = "The dispatcher console's JSON API, sign-in, the device sync endpoint, \
            attachment blobs and the live channel. Every error answer is JSON: \
            `{\"error\": {\"code\", \"message\", \"field\"}}`, where `field` names the input \
            that was wrong when one was.",
    ),
    tags(
        (name = "accounts", description = "Sign-in, accounts and devices."),
        (name = "work orders", description = "Creating, listing, reading and changing work orders."),
        (name = "dispatch", description = "Intake preview and technician suggestions."),
        (name = "stock", description = "Parts stock derived from the movements ledger."),
        (name = "follow-ups", description = "Customer follow-up calls after completion."),
        (name = "reports", description = "KPIs and the audit trail."),
        (name = "devices", description = "The sync protocol, attachment blobs and the live channel."),
        (name = "service", description = "Health and this document."),
    ),
    modifiers(&BearerScheme),
)]
struct ApiDoc;

struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut OpenApi) {
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .description(Some(
                "The token of `POST /v1/login`, as `Authorization: Bearer <token>`.",
            ))
            .build();
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme(BEARER, SecurityScheme::Http(scheme));
    }
}

/// The document's header (info, tags, security scheme); the routes add their operations.
pub fn base() -> OpenApi {
    ApiDoc::openapi()
}

/// Adds the answers every operation can give: 401 to those that need a token, 413 to those
/// with a body, and 500 and 503 (server failure, full storage, request timeout) to all.
pub fn finish(mut doc: OpenApi) -> OpenApi {
    for item in doc.paths.paths.values_mut() {
        for op in operations(item) {
            let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
            if secured {
                add(
                    op,
                    "401",
                    "No valid token, or the device was revoked; sign in again.",
                );
            }
            if op.request_body.is_some() {
                add(
                    op,
                    "413",
                    "The request body is larger than this endpoint accepts.",
                );
            }
            add(
                op,
                "500",
                "The server failed; the detail is in its log and the request can be retried.",
            );
            add(
                op,
                "503",
                "The server's storage is full or the request took too long; nothing was stored.",
            );
        }
    }
    doc.components
        .get_or_insert_with(Default::default)
        .schemas
        .entry(ErrorBody::name().into_owned())
        .or_insert_with(<ErrorBody as utoipa::PartialSchema>::schema);
    doc
}

fn operations(item: &mut utoipa::openapi::PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.patch.as_mut(),
    ]
    .into_iter()
    .flatten()
}

fn add(op: &mut Operation, status: &str, description: &str) {
    op.responses
        .responses
        .entry(status.to_owned())
        .or_insert_with(|| RefOr::T(error_response(description)));
}

/// An answer with the shared error body.
fn error_response(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
                    ErrorBody::name(),
                ))))
                .build(),
        )
        .build()
}

/// The finished document as JSON, made once when the router is built.
#[derive(Clone)]
pub struct ApiDocument(Arc<String>);

impl ApiDocument {
    pub fn new(doc: &OpenApi) -> Self {
        ApiDocument(Arc::new(doc.to_json().unwrap_or_else(|e| {
            tracing::error!(error = %e, "the OpenAPI document could not be written");
            "{}".into()
        })))
    }
}

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(document))
}

/// This document: every JSON endpoint of the server with its parameters, bodies and answers.
#[utoipa::path(
    get,
    path = OPENAPI_PATH,
    operation_id = "openapi_document",
    tag = "service",
    responses(
        (status = 200, description = "The OpenAPI 3 document.", content_type = "application/json"),
    )
)]
async fn document(Extension(doc): Extension<ApiDocument>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        doc.0.as_str().to_owned(),
    )
}

/// Raw bytes in a request or an answer (sync frames, attachment chunks and downloads).
pub struct BinaryBody;

impl utoipa::PartialSchema for BinaryBody {
    fn schema() -> RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::Type::String)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::Binary,
            )))
            .into()
    }
}

impl ToSchema for BinaryBody {}
