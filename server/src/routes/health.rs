//! `GET /healthz`: whether the server and its database answer.

use axum::routing::get;
use axum::{extract::State, Router};

use crate::error::Error;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/healthz", get(healthz))
}

async fn healthz(State(state): State<AppState>) -> Result<&'static str, Error> {
    state.storage().ping().await?;
    Ok("ok")
}
