//! `POST /v1/login`: a username and password for a bearer token bound to a device.

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use fieldsync_proto::api::{LoginRequest, LoginResponse, LOGIN_PATH};

use super::extract::JsonBody;
use crate::auth::ClientAddress;
use crate::error::Error;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route(LOGIN_PATH, post(login))
}

async fn login(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    JsonBody(req): JsonBody<LoginRequest>,
) -> Result<Json<LoginResponse>, Error> {
    crate::accounts::login(&state, req, address).await.map(Json)
}
