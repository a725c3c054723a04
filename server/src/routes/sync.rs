//! `POST /v1/sync`: one protocol round trip: push the device's changes, then pull a page.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use fieldsync_proto::wire::{self, PushOutcome, SyncRequest, SyncResponse};
use fieldsync_proto::Timestamp;

use crate::auth::AuthUser;
use crate::error::Error;
use crate::state::AppState;
use crate::sync::pull::{pull, PullRequest};
use crate::sync::push::push_all;

pub fn routes() -> Router<AppState> {
    Router::new().route(wire::SYNC_PATH, post(sync))
}

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
        state.blobs(),
        &auth.actor(),
        request.push,
        now,
    )
    .await?;
    let page = pull(
        state.storage(),
        PullRequest {
            device: auth.device,
            scope: auth.scope(),
            cursor: request.cursor,
            resync: request.resync,
            limits: request.limits,
        },
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
    let status = if rejected {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        [(header::CONTENT_TYPE, wire::CONTENT_TYPE)],
        wire::encode(&response),
    )
        .into_response())
}
