//! `POST /v1/login`: a username and password for a bearer token bound to a device.

use axum::extract::State;
use axum::Json;
use fieldsync_proto::api::{LoginRequest, LoginResponse, LOGIN_PATH};
use fieldsync_proto::wire::ErrorBody;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::JsonBody;
use crate::auth::ClientAddress;
use crate::error::Error;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(login))
}

/// Signs in: a username and password for a bearer token bound to a device.
///
/// Repeated failures from one address or for one account are slowed down with 429.
#[utoipa::path(
    post,
    path = LOGIN_PATH,
    tag = "accounts",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in; send `token` as `Authorization: Bearer <token>`.", body = LoginResponse),
        (status = 400, description = "A field is missing or malformed; `field` names it.", body = ErrorBody),
        (status = 401, description = "Wrong username or password.", body = ErrorBody),
        (status = 429, description = "Too many failed sign-ins; try again after `Retry-After` seconds.", body = ErrorBody),
    ),
)]
async fn login(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    JsonBody(req): JsonBody<LoginRequest>,
) -> Result<Json<LoginResponse>, Error> {
    crate::accounts::login(&state, req, address).await.map(Json)
}
