//! The dispatcher's work order API: create, list, read, assign and act. Technicians may only
//! read their own work orders; to them every other one does not exist.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use fieldsync_proto::api::{AssignRequest, WorkOrderDetail, WorkOrderPage, WorkOrderRow};
use fieldsync_proto::wire::ErrorBody;
use fieldsync_proto::{
    board_sla, Action, CustomerTier, NewWorkOrder, Priority, Role, Status, Timestamp, UserId,
    WorkOrderId,
};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::detail;
use super::extract::{work_order_id, JsonBody, QueryParams};
use crate::auth::AuthUser;
use crate::error::Error;
use crate::state::AppState;
use crate::storage::{Seq, WorkOrderQuery};
use crate::sync::edit;

const DEFAULT_LIMIT: u32 = 50;
const MAX_LIMIT: u32 = 500;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(read))
        .routes(routes!(assign))
        .routes(routes!(act))
}

fn not_found(id: &WorkOrderId) -> Error {
    Error::NotFound(format!("there is no work order with id {id}"))
}

/// Refuses an assignment to someone who is not a technician.
pub(super) async fn ensure_technician(
    state: &AppState,
    field: &str,
    id: UserId,
) -> Result<(), Error> {
    match state.storage().user(id).await? {
        Some(user) if user.role == Role::Technician => Ok(()),
        Some(user) => Err(Error::field(
            field,
            format!("{} is a {}, not a technician", user.username, user.role),
        )),
        None => Err(Error::field(
            field,
            format!("there is no user with id {id}"),
        )),
    }
}

/// Creates a work order from an intake; priority and SLA targets are computed, never sent.
#[utoipa::path(
    post,
    path = "/v1/work-orders",
    operation_id = "create_work_order",
    tag = "work orders",
    security(("bearer_token" = [])),
    request_body = NewWorkOrder,
    responses(
        (status = 201, description = "Created; the detail as `GET /v1/work-orders/{id}` shows it.", body = WorkOrderDetail),
        (status = 400, description = "A field is missing or breaks a rule; `field` names it (e.g. `customer.name`, `assignee`).", body = ErrorBody),
        (status = 403, description = "Technicians do not create work orders.", body = ErrorBody),
    ),
)]
async fn create(
    State(state): State<AppState>,
    auth: AuthUser,
    JsonBody(new): JsonBody<NewWorkOrder>,
) -> Result<(StatusCode, Json<WorkOrderDetail>), Error> {
    auth.require_office("creating work orders")?;
    if let Some(tech) = new.assignee {
        ensure_technician(&state, "assignee", tech).await?;
    }
    let now = Timestamp::now();
    let (wo, version) = edit::create(
        state.storage(),
        state.server_actor(),
        &auth.actor(),
        new,
        now,
    )
    .await?;
    tracing::info!(number = %wo.number, "work order created");
    let detail = detail::detail(&state, &wo, version, now).await?;
    Ok((StatusCode::CREATED, Json(detail)))
}

/// Query parameters of `GET /v1/work-orders`; lists are comma-separated.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListParams {
    /// Statuses to show, comma-separated, e.g. `new,assigned`.
    status: Option<String>,
    /// Priorities to show, comma-separated, e.g. `P1,P2`.
    priority: Option<String>,
    /// Customer tiers to show, comma-separated, e.g. `vip,standard`.
    tier: Option<String>,
    /// Only work orders whose site is in this region.
    region: Option<String>,
    /// The assignee's user id; `technician` is the same filter under the console's name.
    #[param(value_type = Option<UserId>)]
    assignee: Option<String>,
    /// The assignee's user id (the same filter as `assignee`; if both are given they must agree).
    #[param(value_type = Option<UserId>)]
    technician: Option<String>,
    /// `true`: only work orders that are not completed, closed or cancelled.
    #[param(value_type = Option<bool>)]
    open: Option<String>,
    /// Rows per page, 1 to 500 (50 if absent).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 500)]
    limit: Option<String>,
    /// Rows to skip.
    #[param(value_type = Option<u64>)]
    offset: Option<String>,
}

/// A comma-separated list of words, each parsed; empty means no filter.
fn word_list<T>(field: &str, text: Option<&str>) -> Result<Vec<T>, Error>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    match text.map(str::trim) {
        None | Some("") => Ok(Vec::new()),
        Some(list) => list
            .split(',')
            .map(|s| s.trim().parse::<T>().map_err(|e| Error::field(field, e)))
            .collect(),
    }
}

fn parse_priority(text: &str) -> Result<Priority, String> {
    let rank = text
        .strip_prefix(['P', 'p'])
        .and_then(|n| n.parse::<u8>().ok());
    rank.and_then(Priority::from_rank)
        .ok_or_else(|| format!("'{text}' is not a priority (expected P1, P2, P3 or P4)"))
}

fn user_param(field: &str, text: Option<String>) -> Result<Option<UserId>, Error> {
    text.filter(|a| !a.trim().is_empty())
        .map(|a| {
            a.trim()
                .parse::<UserId>()
                .map_err(|e| Error::field(field, e))
        })
        .transpose()
}

impl ListParams {
    fn into_query(self) -> Result<WorkOrderQuery, Error> {
        let statuses = word_list::<Status>("status", self.status.as_deref())?;
        let tiers = word_list::<CustomerTier>("tier", self.tier.as_deref())?;
        let priorities = match self.priority.as_deref().map(str::trim) {
            None | Some("") => Vec::new(),
            Some(list) => list
                .split(',')
                .map(|p| parse_priority(p.trim()).map_err(|e| Error::field("priority", e)))
                .collect::<Result<_, _>>()?,
        };
        let region = self
            .region
            .map(|r| r.trim().to_owned())
            .filter(|r| !r.is_empty());
        let assignee = user_param("assignee", self.assignee)?;
        let technician = user_param("technician", self.technician)?;
        let assignee = match (assignee, technician) {
            (Some(a), Some(t)) if a != t => {
                return Err(Error::field(
                    "technician",
                    "differs from assignee; give one of them",
                ))
            }
            (a, t) => a.or(t),
        };
        let open_only = match self.open.as_deref() {
            None | Some("") | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                return Err(Error::field(
                    "open",
                    format!("'{other}' is not true or false"),
                ))
            }
        };
        let limit = match self.limit.as_deref() {
            None | Some("") => DEFAULT_LIMIT,
            Some(text) => match text.parse::<u32>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
                _ => {
                    return Err(Error::field(
                        "limit",
                        format!("'{text}' is not a number from 1 to {MAX_LIMIT}"),
                    ))
                }
            },
        };
        let offset = match self.offset.as_deref() {
            None | Some("") => 0,
            Some(text) => text.parse::<u64>().map_err(|_| {
                Error::field(
                    "offset",
                    format!("'{text}' is not a number of items to skip"),
                )
            })?,
        };
        Ok(WorkOrderQuery {
            statuses,
            priorities,
            tiers,
            region,
            assignee,
            open_only,
            limit,
            offset,
        })
    }
}

/// The board: one page of work orders with their SLA state now, newest first.
///
/// Technicians see only their own.
#[utoipa::path(
    get,
    path = "/v1/work-orders",
    operation_id = "list_work_orders",
    tag = "work orders",
    security(("bearer_token" = [])),
    params(ListParams),
    responses(
        (status = 200, description = "One page of rows and how many match in total.", body = WorkOrderPage),
        (status = 400, description = "A parameter is malformed; `field` names it.", body = ErrorBody),
    ),
)]
async fn list(
    State(state): State<AppState>,
    auth: AuthUser,
    QueryParams(params): QueryParams<ListParams>,
) -> Result<Json<WorkOrderPage>, Error> {
    let mut query = params.into_query()?;
    if !auth.user.role.is_office() {
        if query.assignee.is_some_and(|a| a != auth.user.id) {
            return Ok(Json(WorkOrderPage {
                items: Vec::new(),
                total: 0,
            }));
        }
        query.assignee = Some(auth.user.id);
    }
    let page = state.storage().list_work_orders(query).await?;
    let now = Timestamp::now();
    Ok(Json(WorkOrderPage {
        items: page
            .items
            .into_iter()
            .map(|row| {
                let s = &row.summary;
                let sla = board_sla(s.status, s.response_due, s.resolution_due, &row.sla, now);
                WorkOrderRow {
                    summary: row.summary,
                    sla,
                }
            })
            .collect(),
        total: page.total,
    }))
}

/// The work order detail.
///
/// The view with its version, the timeline with device and server times, conflicts and
/// refused edits with their review state, and the follow-up.
#[utoipa::path(
    get,
    path = "/v1/work-orders/{id}",
    operation_id = "read_work_order",
    tag = "work orders",
    security(("bearer_token" = [])),
    params(("id" = WorkOrderId, Path, description = "The work order's id.")),
    responses(
        (status = 200, description = "The work order.", body = WorkOrderDetail),
        (status = 400, description = "`id` is not a work order id.", body = ErrorBody),
        (status = 404, description = "No such work order, or not one the caller may see.", body = ErrorBody),
    ),
)]
async fn read(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<WorkOrderDetail>, Error> {
    let id = work_order_id(&id)?;
    let stored = state
        .storage()
        .load_document(id)
        .await?
        .filter(|s| auth.scope().contains(&s.summary))
        .ok_or_else(|| not_found(&id))?;
    let wo = detail::read_stored(&stored)?;
    Ok(Json(
        detail::detail(&state, &wo, stored.version, Timestamp::now()).await?,
    ))
}

/// `?expected_version=N` on an action: the version the dispatcher decided on.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct VersionParam {
    /// The `version` of the work order the edit was decided on; if it changed since in a way
    /// the edit would overwrite, the edit is refused with 409 and `current_version`.
    #[param(value_type = Option<u64>)]
    expected_version: Option<String>,
}

impl VersionParam {
    fn parse(&self) -> Result<Option<u64>, Error> {
        match self.expected_version.as_deref().map(str::trim) {
            None | Some("") => Ok(None),
            Some(text) => text.parse::<u64>().map(Some).map_err(|_| {
                Error::field(
                    "expected_version",
                    format!("'{text}' is not a version number"),
                )
            }),
        }
    }
}

async fn perform(
    state: &AppState,
    auth: &AuthUser,
    id: &str,
    action: Action,
    expected: Option<u64>,
) -> Result<Json<WorkOrderDetail>, Error> {
    let id = work_order_id(id)?;
    if !auth.user.role.is_office() {
        // Technicians work through their devices; the API does not even confirm the id.
        return match state.storage().load_document(id).await? {
            Some(s) if auth.scope().contains(&s.summary) => Err(Error::Forbidden(format!(
                "technicians change work order {} from their device, not through the office API",
                s.summary.number
            ))),
            _ => Err(not_found(&id)),
        };
    }
    if let Action::Assign { technician } = &action {
        ensure_technician(state, "technician", *technician).await?;
    }
    let now = Timestamp::now();
    let name = action.name();
    let (wo, version) = edit::act(
        state.storage(),
        state.server_actor(),
        &auth.actor(),
        id,
        action,
        expected.map(Seq),
        now,
    )
    .await?;
    let hashes: Vec<_> = wo.attachments.iter().map(|a| a.sha256.clone()).collect();
    crate::sync::push::record_references(state.blobs(), wo.id, &hashes).await;
    tracing::info!(number = %wo.number, action = name, "office edit");
    Ok(Json(detail::detail(state, &wo, version, now).await?))
}

/// Assigns the work order to a technician. Office only.
#[utoipa::path(
    post,
    path = "/v1/work-orders/{id}/assign",
    operation_id = "assign_work_order",
    tag = "work orders",
    security(("bearer_token" = [])),
    params(("id" = WorkOrderId, Path, description = "The work order's id."), VersionParam),
    request_body = AssignRequest,
    responses(
        (status = 200, description = "Assigned; the updated detail.", body = WorkOrderDetail),
        (status = 400, description = "A field is malformed, or `technician` is not a technician; `field` names it.", body = ErrorBody),
        (status = 403, description = "Technicians change work orders from their devices.", body = ErrorBody),
        (status = 404, description = "No such work order.", body = ErrorBody),
        (status = 409, description = "The work order changed since `expected_version` (`current_version` says where it is now), or its state does not allow this.", body = ErrorBody),
    ),
)]
async fn assign(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<String>,
    QueryParams(version): QueryParams<VersionParam>,
    JsonBody(req): JsonBody<AssignRequest>,
) -> Result<Json<WorkOrderDetail>, Error> {
    let action = Action::Assign {
        technician: req.technician,
    };
    let expected = req.expected_version.or(version.parse()?);
    perform(&state, &auth, &id, action, expected).await
}

/// Performs an action on the work order as the office.
///
/// Classify, reschedule, cancel, close, attach, …: the body names the action in `action`.
#[utoipa::path(
    post,
    path = "/v1/work-orders/{id}/actions",
    operation_id = "act_on_work_order",
    tag = "work orders",
    security(("bearer_token" = [])),
    params(("id" = WorkOrderId, Path, description = "The work order's id."), VersionParam),
    request_body = Action,
    responses(
        (status = 200, description = "Done; the updated detail.", body = WorkOrderDetail),
        (status = 400, description = "The action is malformed or breaks a rule; `field` names the field.", body = ErrorBody),
        (status = 403, description = "Technicians act from their devices, and some actions are not the office's.", body = ErrorBody),
        (status = 404, description = "No such work order.", body = ErrorBody),
        (status = 409, description = "The work order changed since `expected_version`, or its state does not allow the action.", body = ErrorBody),
    ),
)]
async fn act(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<String>,
    QueryParams(version): QueryParams<VersionParam>,
    JsonBody(action): JsonBody<Action>,
) -> Result<Json<WorkOrderDetail>, Error> {
    let expected = version.parse()?;
    perform(&state, &auth, &id, action, expected).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_parameters_are_checked_by_name() {
        let bad = [
            (
                ListParams {
                    status: Some("new,exploded".into()),
                    ..Default::default()
                },
                "status",
            ),
            (
                ListParams {
                    assignee: Some("bob".into()),
                    ..Default::default()
                },
                "assignee",
            ),
            (
                ListParams {
                    open: Some("maybe".into()),
                    ..Default::default()
                },
                "open",
            ),
            (
                ListParams {
                    limit: Some("0".into()),
                    ..Default::default()
                },
                "limit",
            ),
            (
                ListParams {
                    limit: Some("9999".into()),
                    ..Default::default()
                },
                "limit",
            ),
            (
                ListParams {
                    offset: Some("-1".into()),
                    ..Default::default()
                },
                "offset",
            ),
            (
                ListParams {
                    priority: Some("P1,P5".into()),
                    ..Default::default()
                },
                "priority",
            ),
            (
                ListParams {
                    tier: Some("gold".into()),
                    ..Default::default()
                },
                "tier",
            ),
            (
                ListParams {
                    technician: Some("nobody".into()),
                    ..Default::default()
                },
                "technician",
            ),
        ];
        for (params, field) in bad {
            let err = params.into_query().expect_err(field);
            assert!(
                err.to_string().starts_with(field),
                "{err} should name {field}"
            );
            assert_eq!(err.field_name(), Some(field));
        }
        let tech = UserId::new();
        let q = ListParams {
            priority: Some("p1, P3".into()),
            tier: Some("vip,basic".into()),
            region: Some(" North ".into()),
            technician: Some(tech.to_string()),
            ..Default::default()
        }
        .into_query()
        .expect("valid");
        assert_eq!(q.priorities, vec![Priority::P1, Priority::P3]);
        assert_eq!(q.tiers, vec![CustomerTier::Vip, CustomerTier::Basic]);
        assert_eq!(q.region.as_deref(), Some("North"));
        assert_eq!(q.assignee, Some(tech));
        let q = ListParams {
            status: Some("new,on_hold".into()),
            open: Some("true".into()),
            limit: Some("10".into()),
            ..Default::default()
        }
        .into_query()
        .expect("valid");
        assert_eq!(q.statuses, vec![Status::New, Status::OnHold]);
        assert!(q.open_only);
        assert_eq!((q.limit, q.offset), (10, 0));
    }
}
