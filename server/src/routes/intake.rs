//! Intake preview: the priority and SLA targets a work order would get, computed from what the
//! office has typed so far, before anything is saved.

use axum::extract::State;
use axum::Json;
use fieldsync_proto::wire::ErrorBody;
use fieldsync_proto::{
    create_work_order, intake_preview, ActionError, IntakePreview, NewWorkOrder, Timestamp,
    WorkOrderId,
};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::JsonBody;
use super::work_orders::ensure_technician;
use crate::auth::AuthUser;
use crate::error::Error;
use crate::state::AppState;
use crate::sync::edit::from_document_error;

pub const PREVIEW_PATH: &str = "/v1/intake/preview";

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(preview))
}

/// Priority, SLA targets and due times an intake would get, with the reasons; saves nothing.
///
/// The intake is checked as creating it would be, so the same fields are refused. Office only.
#[utoipa::path(
    post,
    path = PREVIEW_PATH,
    operation_id = "preview_intake",
    tag = "dispatch",
    security(("bearer_token" = [])),
    request_body = NewWorkOrder,
    responses(
        (status = 200, description = "What creating the work order now would compute.", body = IntakePreview),
        (status = 400, description = "A field is missing or breaks a rule; `field` names it.", body = ErrorBody),
        (status = 403, description = "The preview is for the office.", body = ErrorBody),
    ),
)]
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
