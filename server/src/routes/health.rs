//! `GET /healthz`: whether the server and its database answer.

use axum::extract::State;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::Error;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(healthz))
}

/// Whether the server and its database answer; `ok` as plain text when they do.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "service",
    responses((status = 200, description = "The server and its database answer.", body = String, content_type = "text/plain")),
)]
async fn healthz(State(state): State<AppState>) -> Result<&'static str, Error> {
    state.storage().ping().await?;
    Ok("ok")
}
