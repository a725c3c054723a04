//! `AuthUser`: the extractor that checks the bearer token of a request; `ClientAddress`: the
//! network address a request came from, where the server knows it.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use fieldsync_proto::{Actor, DeviceId, Timestamp};

use super::token;
use crate::error::Error;
use crate::state::AppState;
use crate::storage::{Scope, User};

/// How often a device's `last_seen` is written, at most.
const TOUCH_EVERY_MILLIS: i64 = 60_000;

/// The signed-in user and device a request acts for.
#[derive(Clone, Debug)]
pub struct AuthUser {
    pub user: User,
    pub device: DeviceId,
}

impl AuthUser {
    pub fn actor(&self) -> Actor {
        Actor {
            user: self.user.id,
            role: self.user.role,
            device: self.device,
        }
    }

    /// The work orders this user's devices receive.
    pub fn scope(&self) -> Scope {
        Scope::for_user(&self.user)
    }

    /// Refuses technicians: for the dispatcher console and its API.
    pub fn require_office(&self, what: &str) -> Result<(), Error> {
        if self.user.role.is_office() {
            Ok(())
        } else {
            Err(Error::Forbidden(format!(
                "{what} is for dispatchers and admins; a {} cannot do it",
                self.user.role
            )))
        }
    }
}

fn bearer(parts: &Parts) -> Result<&str, Error> {
    let missing = || {
        Error::Unauthorized(
            "sign in first: send the token from POST /v1/login as 'Authorization: Bearer <token>'"
                .into(),
        )
    };
    let value = parts.headers.get(AUTHORIZATION).ok_or_else(missing)?;
    let value = value.to_str().map_err(|_| missing())?;
    let (scheme, token) = value.trim().split_once(' ').ok_or_else(missing)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(missing());
    }
    Ok(token.trim())
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        let token = bearer(parts)?;
        let session = state
            .storage()
            .session(token::hash(token))
            .await?
            .ok_or_else(|| Error::Unauthorized("the token is not valid; sign in again".into()))?;
        let now = Timestamp::now();
        if session.revoked {
            let device = state.storage().device(session.device).await?;
            if device.is_some_and(|d| d.revoked_at.is_some()) {
                return Err(Error::DeviceRevoked(
                    "this device was revoked by an administrator; it may no longer sync, and its local data is to be removed"
                        .into(),
                ));
            }
            return Err(Error::Unauthorized(
                "the token was revoked (the password was reset, or the account disabled); sign in again"
                    .into(),
            ));
        }
        if now >= session.expires_at {
            return Err(Error::Unauthorized(format!(
                "the token expired at {}; sign in again",
                session.expires_at
            )));
        }
        if now.millis() - session.device_last_seen.millis() > TOUCH_EVERY_MILLIS {
            if let Err(e) = state.storage().touch_device(session.device, now).await {
                tracing::warn!(error = %e, "could not record when the device was last seen");
            }
        }
        let span = tracing::Span::current();
        span.record("user", tracing::field::display(&session.user.username));
        span.record("device", tracing::field::display(session.device));
        Ok(AuthUser {
            user: session.user,
            device: session.device,
        })
    }
}

/// The peer address of the connection, when the server was started with connection info
/// (`RunningServer` always is; routers called directly in tests are not). Forwarding headers
/// are not trusted: anyone could set them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAddress(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddress {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Infallible> {
        Ok(ClientAddress(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(addr)| addr.ip()),
        ))
    }
}
