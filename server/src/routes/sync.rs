//! `POST /v1/sync`: one protocol round trip: push the device's changes, then pull a page.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use fieldsync_proto::wire::{self, ErrorBody, PushOutcome, SyncRequest, SyncResponse};
use fieldsync_proto::Timestamp;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::openapi::BinaryBody;
use crate::auth::AuthUser;
use crate::error::Error;
use crate::state::AppState;
use crate::sync::budget::PageReservation;
use crate::sync::pull::{pull, PullRequest};
use crate::sync::push::push_all;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(sync))
}

/// One round of the device sync protocol: push the device's changes, then pull updates.
///
/// Updates are a page of what changed in the device's scope. Request and answer are binary
/// protocol frames (`SyncRequest` and `SyncResponse`, postcard-encoded with a version header),
/// not JSON; refusals before a frame is answered are the usual JSON error body.
#[utoipa::path(
    post,
    path = wire::SYNC_PATH,
    tag = "devices",
    security(("bearer_token" = [])),
    request_body(
        content = inline(BinaryBody),
        content_type = "application/x-fieldsync",
        description = "A `SyncRequest` frame: changes to push, the device's cursor and page limits.",
    ),
    responses(
        (status = 200, description = "A `SyncResponse` frame: one result per pushed document, updates, the new cursor and whether there is more.", body = inline(BinaryBody), content_type = "application/x-fieldsync"),
        (status = 422, description = "A `SyncResponse` frame in which some pushed change was rejected (its result says why); the rest was applied.", body = inline(BinaryBody), content_type = "application/x-fieldsync"),
        (status = 400, description = "The body is not a protocol frame, or of a protocol version this server does not speak.", body = ErrorBody),
    ),
)]
async fn sync(
    State(state): State<AppState>,
    auth: AuthUser,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Error> {
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Error::TooLarge(format!(
                "the sync frame is larger than {} bytes",
                wire::MAX_FRAME_BYTES
            ))
        } else {
            Error::InvalidInput(format!("the request body could not be read: {e}"))
        }
    })?;
    let request: SyncRequest = wire::decode(&body)?;
    drop(body);
    let now = Timestamp::now();
    let results = push_all(
        state.storage(),
        state.hot_documents(),
        state.merges(),
        state.blobs(),
        &auth.actor(),
        request.push,
        now,
    )
    .await?;
    // Held until the page is encoded: the page and its encoding are the bulk of a response.
    let mut reservation = PageReservation::new(state.pull_budget());
    let page = pull(
        state.storage(),
        PullRequest {
            device: auth.device,
            scope: auth.scope(),
            cursor: request.cursor,
            resync: request.resync,
            limits: request.limits,
        },
        &mut reservation,
    )
    .await?;
    let rejected = results
        .iter()
        .any(|r| matches!(r.outcome, PushOutcome::Rejected(_)));
    tracing::info!(
        pushed = results.len(),
        rejected,
        updates = page.updates.len(),
        cursor = page.cursor.0,
        more = page.more,
        "synced"
    );
    let response = SyncResponse {
        results,
        updates: page.updates,
        cursor: page.cursor,
        more: page.more,
        remaining_docs: page.remaining_docs,
        server_time: Timestamp::now(),
    };
    let body = wire::encode(&response);
    drop(response);
    drop(reservation);
    let status = if rejected {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok((status, [(header::CONTENT_TYPE, wire::CONTENT_TYPE)], body).into_response())
}
