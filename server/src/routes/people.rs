//! People and reference data for the console: technicians for dispatch, account creation by
//! admins, and the parts catalogue.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use fieldsync_proto::api::{CreatedUser, NewUser, TechnicianInfo};
use fieldsync_proto::wire::ErrorBody;
use fieldsync_proto::Role;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::JsonBody;
use crate::auth::AuthUser;
use crate::error::Error;
use crate::state::AppState;
use crate::storage::Part;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(technicians))
        .routes(routes!(create_user))
        .routes(routes!(parts))
}

/// Every technician with skills, home region, position and seniority. Office only.
#[utoipa::path(
    get,
    path = "/v1/technicians",
    operation_id = "list_technicians",
    tag = "accounts",
    security(("bearer_token" = [])),
    responses(
        (status = 200, description = "The technicians.", body = Vec<TechnicianInfo>),
        (status = 403, description = "The list is for the office.", body = ErrorBody),
    ),
)]
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

/// Creates an account. Admins only.
#[utoipa::path(
    post,
    path = "/v1/admin/users",
    tag = "accounts",
    security(("bearer_token" = [])),
    request_body = NewUser,
    responses(
        (status = 201, description = "Created.", body = CreatedUser),
        (status = 400, description = "A field is missing or breaks a rule (e.g. a short password); `field` or the message names it.", body = ErrorBody),
        (status = 403, description = "Only admins create accounts.", body = ErrorBody),
        (status = 409, description = "The username is taken.", body = ErrorBody),
    ),
)]
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

/// The parts catalogue. Anyone signed in.
#[utoipa::path(
    get,
    path = "/v1/parts",
    operation_id = "list_parts",
    tag = "stock",
    security(("bearer_token" = [])),
    responses((status = 200, description = "Every part in the catalogue.", body = Vec<Part>)),
)]
async fn parts(State(state): State<AppState>, _auth: AuthUser) -> Result<Json<Vec<Part>>, Error> {
    Ok(Json(state.storage().parts().await?))
}
