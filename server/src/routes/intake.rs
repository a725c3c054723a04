//! Intake preview: the priority and SLA targets a work order would get, computed from what the
//! office has typed so far, before anything is saved.

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use fieldsync_proto::{
    create_work_order, intake_preview, ActionError, IntakePreview, NewWorkOrder, Timestamp,
    WorkOrderId,
};

use super::extract::JsonBody;
use super::work_orders::ensure_technician;
use crate::auth::AuthUser;
use crate::error::Error;
use crate::state::AppState;
use crate::sync::edit::from_document_error;

pub const PREVIEW_PATH: &str = "/v1/intake/preview";

pub fn routes() -> Router<AppState> {
    Router::new().route(PREVIEW_PATH, post(preview))
}

/// Checks the intake as creating it would, then answers what creating it now would compute.
async fn preview(
    State(state): State<AppState>,
    auth: AuthUser,
    JsonBody(new): JsonBody<NewWorkOrder>,
) -> Result<Json<IntakePreview>, Error> {
    auth.require_office("previewing work orders")?;
    if let Some(tech) = new.assignee {
        ensure_technician(&state, "assignee", tech).await?;
    }
    let now = Timestamp::now();
    let answer = intake_preview(&new, now);
    // The same rules as creation, on a work order that is never stored.
    create_work_order(WorkOrderId::new(), new, &auth.actor(), now)
        .map_err(|e: ActionError| from_document_error(e.into()))?;
    Ok(Json(answer))
}
