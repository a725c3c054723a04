//! Administration of devices and accounts: list devices, revoke one, reset a password. Admins
//! only; every action is written to the audit trail.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use fieldsync_proto::api::{AuditKind, DeviceInfo, PasswordReset, DEVICES_PATH};
use fieldsync_proto::{DeviceId, Role, Timestamp, UserId};
use serde::Deserialize;

use super::extract::{JsonBody, QueryParams};
use crate::auth::AuthUser;
use crate::error::Error;
use crate::state::AppState;
use crate::storage::{NewAuditEntry, User};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(DEVICES_PATH, get(devices))
        .route("/v1/admin/devices/{id}/revoke", post(revoke))
        .route("/v1/admin/users/{user}/password", post(reset_password))
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

#[derive(Debug, Default, Deserialize)]
struct DeviceParams {
    user: Option<String>,
}

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
