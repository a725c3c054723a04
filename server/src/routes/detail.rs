//! The work order detail a dispatcher reviews: the view with its version, a timeline with
//! device and server times, conflicts and refused edits with their review state, and the
//! follow-up; and marking a review item reviewed.

use std::collections::{HashMap, HashSet};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use fieldsync_proto::api::{
    AuditKind, RejectedEdit, ResolveReview, ReviewState, TimelineEntry, WorkOrderDetail,
};
use fieldsync_proto::wire::ErrorBody;
use fieldsync_proto::{
    followup_due_at, Timestamp, WorkOrder, WorkOrderDocument, WorkOrderId, WorkOrderView,
    MAX_TEXT_BYTES,
};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{work_order_id, JsonBody};
use crate::auth::AuthUser;
use crate::error::Error;
use crate::state::AppState;
use crate::storage::{AuditQuery, ReviewResolution, Seq, StoredDocument};

/// Most refused edits listed with one work order (newest first).
const MAX_REJECTED_SHOWN: u32 = 200;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(resolve))
}

fn conflict_review_id(event: &fieldsync_proto::EntryId) -> String {
    format!("conflict-{event}")
}

fn rejected_review_id(audit_id: u64) -> String {
    format!("rejected-{audit_id}")
}

/// Reads a stored work order.
pub fn read_stored(stored: &StoredDocument) -> Result<WorkOrder, Error> {
    WorkOrderDocument::load(&stored.snapshot)
        .and_then(|doc| doc.read())
        .map_err(|e| Error::Internal(format!("work order {}: {e}", stored.summary.number)))
}

/// Everything the detail shows about `wo`, stored at `version`.
pub async fn detail(
    state: &AppState,
    wo: &WorkOrder,
    version: Seq,
    now: Timestamp,
) -> Result<WorkOrderDetail, Error> {
    let storage = state.storage();
    let (receipts, resolutions, audit, follow_ups) = tokio::try_join!(
        storage.entry_receipts(wo.id),
        storage.review_resolutions(wo.id),
        storage.audit(AuditQuery {
            doc: Some(wo.id),
            limit: MAX_REJECTED_SHOWN,
            ..Default::default()
        }),
        storage.follow_ups(),
    )?;
    let view = WorkOrderView::new(wo, now);
    let resolved: HashMap<&str, &ReviewResolution> = resolutions
        .iter()
        .map(|r| (r.review_id.as_str(), r))
        .collect();
    let set_aside: HashSet<_> = view.conflicts.iter().map(|c| c.event).collect();
    let timeline = wo
        .status_events
        .iter()
        .map(|e| TimelineEntry {
            event: e.id,
            status: e.status,
            by: e.by,
            role: e.role,
            device: e.device,
            device_time: e.at,
            server_time: receipts.get(&e.id).copied(),
            reason: e.reason.clone(),
            hold: e.hold,
            set_aside: set_aside.contains(&e.id),
        })
        .collect();
    let state_of = |review_id: String, event| {
        let r = resolved.get(review_id.as_str());
        ReviewState {
            event,
            resolved: r.is_some(),
            resolved_by: r.map(|r| r.resolved_by),
            resolved_at: r.map(|r| r.resolved_at),
            note: r.map(|r| r.note.clone()),
            review_id,
        }
    };
    let conflict_reviews = view
        .conflicts
        .iter()
        .map(|c| state_of(conflict_review_id(&c.event), Some(c.event)))
        .collect();
    let rejected_edits = audit
        .into_iter()
        .filter(|a| a.kind == AuditKind::ChangeRejected)
        .map(|a| {
            let review = state_of(rejected_review_id(a.id), None);
            RejectedEdit {
                id: review.review_id,
                user: a.user,
                username: a.username,
                device: a.device,
                device_time: a.device_time,
                at: a.at,
                reason: a.detail,
                resolved: review.resolved,
                resolved_by: review.resolved_by,
                resolved_at: review.resolved_at,
            }
        })
        .collect();
    Ok(WorkOrderDetail {
        version: version.0,
        timeline,
        conflict_reviews,
        rejected_edits,
        follow_up_due: followup_due_at(wo),
        follow_up: follow_ups.into_iter().find(|f| f.work_order == wo.id),
        view,
    })
}

/// Marks a conflict or refused edit of the work order reviewed.
///
/// The first review stands; doing it again answers the same.
#[utoipa::path(
    post,
    path = "/v1/work-orders/{id}/reviews/{review_id}/resolve",
    operation_id = "resolve_review",
    tag = "work orders",
    security(("bearer_token" = [])),
    params(
        ("id" = WorkOrderId, Path, description = "The work order's id."),
        ("review_id" = String, Path, description = "A `review_id` of `conflict_reviews` or an `id` of `rejected_edits`."),
    ),
    request_body = ResolveReview,
    responses(
        (status = 200, description = "Reviewed; the updated detail.", body = WorkOrderDetail),
        (status = 400, description = "`id` or `note` is malformed; `field` names it.", body = ErrorBody),
        (status = 403, description = "Reviews are for the office.", body = ErrorBody),
        (status = 404, description = "No such work order, or it has no such review item.", body = ErrorBody),
    ),
)]
async fn resolve(
    State(state): State<AppState>,
    auth: AuthUser,
    Path((id, review_id)): Path<(String, String)>,
    JsonBody(body): JsonBody<ResolveReview>,
) -> Result<(StatusCode, Json<WorkOrderDetail>), Error> {
    let id = work_order_id(&id)?;
    let stored = state
        .storage()
        .load_document(id)
        .await?
        .filter(|s| auth.scope().contains(&s.summary))
        .ok_or_else(|| Error::NotFound(format!("there is no work order with id {id}")))?;
    auth.require_office("reviewing conflicts")?;
    if body.note.len() > MAX_TEXT_BYTES {
        return Err(Error::field(
            "note",
            format!(
                "is {} bytes; at most {MAX_TEXT_BYTES} are allowed",
                body.note.len()
            ),
        ));
    }
    let wo = read_stored(&stored)?;
    let now = Timestamp::now();
    let before = detail(&state, &wo, stored.version, now).await?;
    let known = before
        .conflict_reviews
        .iter()
        .map(|r| r.review_id.as_str())
        .chain(before.rejected_edits.iter().map(|r| r.id.as_str()))
        .any(|r| r == review_id);
    if !known {
        return Err(Error::NotFound(format!(
            "work order {} has no conflict or refused edit with review id {review_id}",
            wo.number
        )));
    }
    let added = state
        .storage()
        .resolve_review(
            id,
            ReviewResolution {
                review_id: review_id.clone(),
                resolved_by: auth.user.id,
                resolved_at: now,
                note: body.note.trim().to_owned(),
            },
        )
        .await?;
    if added {
        tracing::info!(number = %wo.number, %review_id, "review resolved");
    }
    let after = detail(&state, &wo, stored.version, now).await?;
    Ok((StatusCode::OK, Json(after)))
}
