//! `GET /v1/live`: the WebSocket through which devices hear of new commits at once.
//!
//! Authentication is the bearer token of `POST /v1/login`, in the `Authorization` header of
//! the handshake, or, for clients that cannot set headers on a WebSocket (browsers), in the
//! `token` query parameter. Request logs record the path only, never the query.

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use fieldsync_proto::live::{LiveNotice, LIVE_PATH, LIVE_TOKEN_PARAM};
use fieldsync_proto::wire::ErrorBody;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::AuthUser;
use crate::error::Error;
use crate::state::AppState;

/// Largest message (and frame) a device may send on the live channel; it has nothing to say
/// but pongs.
const MAX_INCOMING_BYTES: usize = 4 * 1024;
/// Read buffer of one connection. The WebSocket layer's default (128 KiB, zero-filled on the
/// first read) would make an idle connection cost that much resident memory; what arrives here
/// is pongs of a few bytes, and a bigger message is still read, in several reads.
const READ_BUFFER_BYTES: usize = 1024;
/// Notices and pings are written out at once, not gathered in a buffer first.
const WRITE_BUFFER_BYTES: usize = 0;
/// Most bytes waiting to leave for a device that does not read; notices are tiny, so this is
/// only reached by a stuck connection, whose send then fails and the connection closes.
const MAX_OUTGOING_BYTES: usize = 64 * 1024;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(live))
}

/// The token from `?token=`, if the query has one.
fn query_token(query: Option<&str>) -> Option<String> {
    query?.split('&').find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        // Tokens are hex, so they need no percent-decoding.
        (name == LIVE_TOKEN_PARAM && !value.is_empty()).then(|| value.to_owned())
    })
}

/// The live channel, a WebSocket.
///
/// The server sends JSON text frames (`LiveNotice`): `ready` with its latest commit first, then
/// `changed` whenever something in the caller's scope is committed; the client answers by running
/// an ordinary sync. It carries no document data.
#[utoipa::path(
    get,
    path = LIVE_PATH,
    tag = "devices",
    security(("bearer_token" = [])),
    params(
        ("token" = Option<String>, Query, description = "The bearer token, for clients that cannot set `Authorization` on a WebSocket handshake (browsers)."),
    ),
    responses(
        (status = 101, description = "Switched to the WebSocket protocol; each message from the server is a `LiveNotice` as JSON text.", body = LiveNotice),
        (status = 400, description = "Not a WebSocket handshake.", body = ErrorBody),
    ),
)]
async fn live(State(state): State<AppState>, request: Request) -> Result<Response, Error> {
    let (mut parts, _body) = request.into_parts();
    if !parts.headers.contains_key(AUTHORIZATION) {
        if let Some(token) = query_token(parts.uri.query()) {
            let value = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
                Error::Unauthorized("the token in the query is not valid; sign in again".into())
            })?;
            parts.headers.insert(AUTHORIZATION, value);
        }
    }
    let auth = AuthUser::from_request_parts(&mut parts, &state).await?;
    let upgrade = WebSocketUpgrade::from_request_parts(&mut parts, &state)
        .await
        .map_err(|e| {
            Error::InvalidInput(format!(
                "{LIVE_PATH} is a WebSocket endpoint; connect with a WebSocket client ({e})"
            ))
        })?;
    // Subscribed before answering, so that no commit falls between the handshake and the
    // connection's first look at the feed.
    let feed = state.storage().subscribe();
    let scope = auth.scope();
    tracing::info!(user = %auth.user.username, device = %auth.device, "live connection");
    Ok(upgrade
        .read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(WRITE_BUFFER_BYTES)
        .max_write_buffer_size(MAX_OUTGOING_BYTES)
        .max_message_size(MAX_INCOMING_BYTES)
        .max_frame_size(MAX_INCOMING_BYTES)
        .on_upgrade(move |socket| crate::live::serve(socket, state, scope, feed))
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_found_among_other_parameters() {
        assert_eq!(query_token(Some("token=abc")), Some("abc".into()));
        assert_eq!(query_token(Some("x=1&token=abc&y=2")), Some("abc".into()));
        assert_eq!(query_token(Some("token=")), None);
        assert_eq!(query_token(Some("tokens=abc")), None);
        assert_eq!(query_token(None), None);
    }
}
