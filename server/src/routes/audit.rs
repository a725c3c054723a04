//! `GET /v1/audit`: the audit trail for dispatchers and admins, filtered by work order, user
//! and time, newest first. Technicians cannot read it.

use axum::extract::State;
use axum::Json;
use fieldsync_proto::api::{AuditPage, AUDIT_PATH};
use fieldsync_proto::wire::ErrorBody;
use fieldsync_proto::{Timestamp, WorkOrderId};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::admin::resolve_user;
use super::extract::QueryParams;
use crate::auth::AuthUser;
use crate::error::Error;
use crate::state::AppState;
use crate::storage::AuditQuery;

const DEFAULT_LIMIT: u32 = 100;
const MAX_LIMIT: u32 = 1000;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(audit))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct AuditParams {
    /// A work order id or number.
    doc: Option<String>,
    /// A user id or username.
    user: Option<String>,
    /// Entries from this time on (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    from: Option<String>,
    /// Entries up to this time (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    to: Option<String>,
    /// How many entries, 1 to 1000 (100 if absent).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    limit: Option<String>,
    /// Entries older than this entry id, to page back.
    #[param(value_type = Option<u64>)]
    before: Option<String>,
}

fn time(field: &str, text: Option<&str>) -> Result<Option<Timestamp>, Error> {
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(text) => Timestamp::parse_rfc3339(text).map(Some).map_err(|e| {
            Error::InvalidInput(format!(
                "{field}: '{text}' is not an RFC 3339 time like 2026-03-01T09:00:00Z ({e})"
            ))
        }),
    }
}

/// The audit trail, newest first, filtered by work order, user and time. Office only.
#[utoipa::path(
    get,
    path = AUDIT_PATH,
    operation_id = "read_audit",
    tag = "reports",
    security(("bearer_token" = [])),
    params(AuditParams),
    responses(
        (status = 200, description = "Newest first.", body = AuditPage),
        (status = 400, description = "A parameter is malformed; the message names it.", body = ErrorBody),
        (status = 403, description = "The audit trail is for the office.", body = ErrorBody),
        (status = 404, description = "There is no such `user`.", body = ErrorBody),
    ),
)]
async fn audit(
    State(state): State<AppState>,
    auth: AuthUser,
    QueryParams(p): QueryParams<AuditParams>,
) -> Result<Json<AuditPage>, Error> {
    auth.require_office("the audit trail")?;
    let mut query = AuditQuery {
        from: time("from", p.from.as_deref())?,
        to: time("to", p.to.as_deref())?,
        limit: DEFAULT_LIMIT,
        ..Default::default()
    };
    if let Some(doc) = p.doc.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
        match doc.parse::<WorkOrderId>() {
            Ok(id) => query.doc = Some(id),
            Err(_) if doc.to_ascii_uppercase().starts_with("WO-") => {
                query.number = Some(doc.to_ascii_uppercase())
            }
            Err(_) => {
                return Err(Error::InvalidInput(format!(
                    "doc: '{doc}' is neither a work order id nor a number like WO-7KQ2-M9XD"
                )))
            }
        }
    }
    if let Some(user) = p.user.as_deref().filter(|u| !u.trim().is_empty()) {
        query.user = Some(resolve_user(&state, "user", user).await?.id);
    }
    if let Some(text) = p.limit.as_deref().filter(|l| !l.is_empty()) {
        query.limit = match text.parse::<u32>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
            _ => {
                return Err(Error::InvalidInput(format!(
                    "limit: '{text}' is not a number from 1 to {MAX_LIMIT}"
                )))
            }
        };
    }
    if let Some(text) = p.before.as_deref().filter(|b| !b.is_empty()) {
        query.before_id = Some(text.parse::<u64>().map_err(|_| {
            Error::InvalidInput(format!("before: '{text}' is not an audit entry id"))
        })?);
    }
    if let (Some(from), Some(to)) = (query.from, query.to) {
        if to < from {
            return Err(Error::InvalidInput(format!(
                "to ({to}) is before from ({from})"
            )));
        }
    }
    let items = state.storage().audit(query).await?;
    Ok(Json(AuditPage { items }))
}
