//! Administration of devices and accounts: list devices, revoke one, reset a password. Admins
//! only; every action is written to the audit trail.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use fieldsync_proto::api::{AuditKind, DeviceInfo, PasswordReset, DEVICES_PATH};
use fieldsync_proto::wire::ErrorBody;
use fieldsync_proto::{DeviceId, Role, Timestamp, UserId};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{JsonBody, QueryParams};
use crate::auth::AuthUser;
use crate::error::Error;
use crate::state::AppState;
use crate::storage::{NewAuditEntry, User};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(devices))
        .routes(routes!(revoke))
        .routes(routes!(reset_password))
}

fn require_admin(auth: &AuthUser, what: &str) -> Result<(), Error> {
    if auth.user.role == Role::Admin {
        Ok(())
    } else {
        Err(Error::Forbidden(format!(
            "{what} is for admins; a {} cannot do it",
            auth.user.role
        )))
    }
}

/// A user named by id or username.
pub async fn resolve_user(state: &AppState, field: &str, text: &str) -> Result<User, Error> {
    let text = text.trim();
    let found = match text.parse::<UserId>() {
        Ok(id) => state.storage().user(id).await?,
        Err(_) => state
            .storage()
            .user_by_username(text)
            .await?
            .map(|(user, _)| user),
    };
    found.ok_or_else(|| Error::NotFound(format!("{field}: there is no user '{text}'")))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct DeviceParams {
    /// Only this user's devices: a user id or username.
    user: Option<String>,
}

/// Registered devices, with when they were last seen and whether they were revoked.
///
/// Admins only.
#[utoipa::path(
    get,
    path = DEVICES_PATH,
    operation_id = "list_devices",
    tag = "accounts",
    security(("bearer_token" = [])),
    params(DeviceParams),
    responses(
        (status = 200, description = "The devices.", body = Vec<DeviceInfo>),
        (status = 403, description = "The device list is for admins.", body = ErrorBody),
        (status = 404, description = "There is no such `user`.", body = ErrorBody),
    ),
)]
async fn devices(
    State(state): State<AppState>,
    auth: AuthUser,
    QueryParams(params): QueryParams<DeviceParams>,
) -> Result<Json<Vec<DeviceInfo>>, Error> {
    require_admin(&auth, "the device list")?;
    let user = match params.user.as_deref().filter(|u| !u.trim().is_empty()) {
        Some(text) => Some(resolve_user(&state, "user", text).await?.id),
        None => None,
    };
    Ok(Json(state.storage().devices(user).await?))
}

/// Revokes a device: its token is refused from then on.
///
/// Revoking again answers the same. Admins only; written to the audit trail.
#[utoipa::path(
    post,
    path = "/v1/admin/devices/{id}/revoke",
    operation_id = "revoke_device",
    tag = "accounts",
    security(("bearer_token" = [])),
    params(("id" = DeviceId, Path, description = "The device's id.")),
    responses(
        (status = 200, description = "Revoked; the device with `revoked_at`.", body = DeviceInfo),
        (status = 400, description = "`id` is not a device id.", body = ErrorBody),
        (status = 403, description = "Revoking devices is for admins.", body = ErrorBody),
        (status = 404, description = "No such device.", body = ErrorBody),
    ),
)]
async fn revoke(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<DeviceInfo>, Error> {
    require_admin(&auth, "revoking devices")?;
    let id: DeviceId = id
        .parse()
        .map_err(|e: fieldsync_proto::IdParseError| Error::InvalidInput(format!("path: {e}")))?;
    let now = Timestamp::now();
    let device = state
        .storage()
        .revoke_device(id, now)
        .await?
        .ok_or_else(|| Error::NotFound(format!("there is no device with id {id}")))?;
    if device.revoked_at == Some(now) {
        state
            .audit(vec![NewAuditEntry {
                user: Some(device.user),
                username: Some(device.username.clone()),
                device: Some(device.id),
                ..NewAuditEntry::new(
                    AuditKind::DeviceRevoked,
                    now,
                    format!(
                        "device '{}' revoked by {} ({})",
                        device.name, auth.user.username, auth.user.role
                    ),
                )
            }])
            .await?;
        tracing::info!(device = %device.id, owner = %device.username, "device revoked");
    }
    Ok(Json(device))
}

/// Sets a new password for an account and ends its sessions.
///
/// Admins only; written to the audit trail.
#[utoipa::path(
    post,
    path = "/v1/admin/users/{user}/password",
    tag = "accounts",
    security(("bearer_token" = [])),
    params(("user" = String, Path, description = "The user's id or username.")),
    request_body = PasswordReset,
    responses(
        (status = 204, description = "Set; the user's devices must sign in again."),
        (status = 400, description = "The password breaks a rule (e.g. too short).", body = ErrorBody),
        (status = 403, description = "Resetting passwords is for admins.", body = ErrorBody),
        (status = 404, description = "No such user.", body = ErrorBody),
    ),
)]
async fn reset_password(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(user): Path<String>,
    JsonBody(body): JsonBody<PasswordReset>,
) -> Result<StatusCode, Error> {
    require_admin(&auth, "resetting passwords")?;
    let target = resolve_user(&state, "path", &user).await?;
    crate::accounts::reset_password(&state, &target, body.password, &auth.user).await?;
    tracing::info!(username = %target.username, "password reset");
    Ok(StatusCode::NO_CONTENT)
}
