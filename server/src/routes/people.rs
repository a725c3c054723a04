//! People and reference data for the console: technicians for dispatch, account creation by
//! admins, and the parts catalogue.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use fieldsync_proto::api::{CreatedUser, NewUser, TechnicianInfo};
use fieldsync_proto::Role;

use super::extract::JsonBody;
use crate::auth::AuthUser;
use crate::error::Error;
use crate::state::AppState;
use crate::storage::Part;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/technicians", get(technicians))
        .route("/v1/admin/users", post(create_user))
        .route("/v1/parts", get(parts))
}

async fn technicians(
    State(state): State<AppState>,
    auth: AuthUser,
) -> Result<Json<Vec<TechnicianInfo>>, Error> {
    auth.require_office("the technician list")?;
    let users = state.storage().users_with_role(Role::Technician).await?;
    Ok(Json(
        users
            .into_iter()
            .map(|u| TechnicianInfo {
                id: u.id,
                username: u.username,
                display_name: u.display_name,
                skills: u.profile.skills,
                region: u.profile.region,
                latitude: u.profile.latitude,
                longitude: u.profile.longitude,
                senior: u.profile.senior,
            })
            .collect(),
    ))
}

async fn create_user(
    State(state): State<AppState>,
    auth: AuthUser,
    JsonBody(new): JsonBody<NewUser>,
) -> Result<(StatusCode, Json<CreatedUser>), Error> {
    if auth.user.role != Role::Admin {
        return Err(Error::Forbidden(format!(
            "only admins create accounts; a {} cannot",
            auth.user.role
        )));
    }
    let username = new.username.clone();
    let id = crate::accounts::create_user(&state, new, Some(&auth.user)).await?;
    tracing::info!(%username, "account created");
    Ok((StatusCode::CREATED, Json(CreatedUser { id })))
}

async fn parts(State(state): State<AppState>, _auth: AuthUser) -> Result<Json<Vec<Part>>, Error> {
    Ok(Json(state.storage().parts().await?))
}
