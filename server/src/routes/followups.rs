//! Closing the loop: follow-up calls due 48 hours after completion, and recording what the
//! customer said (satisfaction 1–5, NPS 0–10, comment).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use fieldsync_proto::api::FollowUpList;
use fieldsync_proto::wire::ErrorBody;
use fieldsync_proto::{
    due_followups, record_followup, FollowUp, FollowUpError, NewFollowUp, Timestamp, WorkOrder,
    WorkOrderId, FOLLOW_UP_DELAY_HOURS,
};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::detail::read_stored;
use super::extract::{work_order_id, JsonBody};
use crate::auth::AuthUser;
use crate::error::Error;
use crate::state::AppState;

/// Most follow-ups listed at once.
const MAX_DUE_LISTED: u32 = 200;
/// Completion is recorded with the device's time and resolution with the status event's; they
/// can differ a little, so candidates are taken this much early and checked exactly.
const CANDIDATE_SLACK_MINUTES: i64 = 60;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(due))
        .routes(routes!(record))
}

/// Follow-up calls due now (48 hours after completion, not yet recorded), longest waiting first.
///
/// Office only.
#[utoipa::path(
    get,
    path = "/v1/follow-ups",
    operation_id = "due_follow_ups",
    tag = "follow-ups",
    security(("bearer_token" = [])),
    responses(
        (status = 200, description = "Calls to make, longest waiting first.", body = FollowUpList),
        (status = 403, description = "Follow-ups are for the office.", body = ErrorBody),
    ),
)]
async fn due(State(state): State<AppState>, auth: AuthUser) -> Result<Json<FollowUpList>, Error> {
    auth.require_office("follow-up calls")?;
    let now = Timestamp::now();
    let cutoff = now.plus_minutes(CANDIDATE_SLACK_MINUTES - FOLLOW_UP_DELAY_HOURS * 60);
    let storage = state.storage();
    let ids = storage.awaiting_follow_up(cutoff, MAX_DUE_LISTED).await?;
    let mut orders: Vec<WorkOrder> = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(stored) = storage.load_document(id).await? {
            orders.push(read_stored(&stored)?);
        }
    }
    Ok(Json(FollowUpList {
        items: due_followups(&orders, &[], now),
    }))
}

/// Records what the customer said: satisfaction 1–5, NPS 0–10 and a comment. Office only.
#[utoipa::path(
    post,
    path = "/v1/work-orders/{id}/follow-up",
    operation_id = "record_follow_up",
    tag = "follow-ups",
    security(("bearer_token" = [])),
    params(("id" = WorkOrderId, Path, description = "The work order's id.")),
    request_body = NewFollowUp,
    responses(
        (status = 201, description = "Recorded.", body = FollowUp),
        (status = 400, description = "A score is out of range or the comment too long; `field` names it.", body = ErrorBody),
        (status = 403, description = "Follow-ups are for the office.", body = ErrorBody),
        (status = 404, description = "No such work order.", body = ErrorBody),
        (status = 409, description = "The job is not completed yet.", body = ErrorBody),
    ),
)]
async fn record(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<String>,
    JsonBody(answers): JsonBody<NewFollowUp>,
) -> Result<(StatusCode, Json<FollowUp>), Error> {
    let id = work_order_id(&id)?;
    let stored = state
        .storage()
        .load_document(id)
        .await?
        .filter(|s| auth.scope().contains(&s.summary))
        .ok_or_else(|| Error::NotFound(format!("there is no work order with id {id}")))?;
    auth.require_office("recording follow-ups")?;
    let wo = read_stored(&stored)?;
    let now = Timestamp::now();
    let follow_up = record_followup(&wo, answers, auth.user.id, now).map_err(|e| match &e {
        FollowUpError::NotCompleted { .. } => Error::Conflict(e.to_string()),
        FollowUpError::Invalid { violations, .. } => match violations.0.first() {
            Some(v) => Error::field(v.field.clone(), e.to_string()),
            None => Error::InvalidInput(e.to_string()),
        },
    })?;
    state.storage().record_follow_up(follow_up.clone()).await?;
    tracing::info!(number = %wo.number, "follow-up recorded");
    Ok((StatusCode::CREATED, Json(follow_up)))
}
