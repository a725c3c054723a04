//! Dispatch suggestions: the technicians who fit a work order best, with the reasons.
//!
//! Fast at any number of open jobs: the load of each technician comes from the count the
//! storage keeps per technician, so a request reads one document, the technicians and one row
//! per technician, and ranks in one pass.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::Json;
use fieldsync_proto::api::{SuggestionList, TechnicianSuggestion};
use fieldsync_proto::wire::ErrorBody;
use fieldsync_proto::WorkOrderId;
use fieldsync_proto::{rank, DispatchJob, Role, TechnicianProfile, WorkOrderDocument};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{work_order_id, QueryParams};
use crate::auth::AuthUser;
use crate::error::Error;
use crate::state::AppState;

pub const DEFAULT_SUGGESTIONS: u32 = 5;
pub const MAX_SUGGESTIONS: u32 = 50;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(suggestions))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct SuggestionParams {
    /// How many technicians to suggest, 1 to 50 (5 if absent).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 50)]
    limit: Option<String>,
}

fn parse_limit(text: Option<&str>) -> Result<u32, Error> {
    match text {
        None | Some("") => Ok(DEFAULT_SUGGESTIONS),
        Some(text) => match text.parse::<u32>() {
            Ok(n) if (1..=MAX_SUGGESTIONS).contains(&n) => Ok(n),
            _ => Err(Error::field(
                "limit",
                format!("'{text}' is not a number from 1 to {MAX_SUGGESTIONS}"),
            )),
        },
    }
}

/// The technicians who fit the work order best, with the reasons for each rank.
///
/// Ranked by skill match, distance from the site, current load and seniority for VIP work.
/// Office only.
#[utoipa::path(
    get,
    path = "/v1/work-orders/{id}/suggestions",
    operation_id = "suggest_technicians",
    tag = "dispatch",
    security(("bearer_token" = [])),
    params(("id" = WorkOrderId, Path, description = "The work order's id."), SuggestionParams),
    responses(
        (status = 200, description = "Best fit first.", body = SuggestionList),
        (status = 400, description = "`id` or `limit` is malformed; `field` names it.", body = ErrorBody),
        (status = 403, description = "Suggestions are for the office.", body = ErrorBody),
        (status = 404, description = "No such work order.", body = ErrorBody),
    ),
)]
async fn suggestions(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<String>,
    QueryParams(params): QueryParams<SuggestionParams>,
) -> Result<Json<SuggestionList>, Error> {
    let id = work_order_id(&id)?;
    let limit = parse_limit(params.limit.as_deref())?;
    let storage = state.storage();
    let stored = storage
        .load_document(id)
        .await?
        .filter(|s| auth.scope().contains(&s.summary))
        .ok_or_else(|| Error::NotFound(format!("there is no work order with id {id}")))?;
    auth.require_office("dispatch suggestions")?;
    let wo = WorkOrderDocument::load(&stored.snapshot)
        .and_then(|doc| doc.read())
        .map_err(|e| Error::Internal(format!("work order {}: {e}", stored.summary.number)))?;
    let job = DispatchJob::from_work_order(&wo);
    let (technicians, load) = tokio::try_join!(
        storage.users_with_role(Role::Technician),
        storage.open_jobs_by_technician()
    )?;
    Ok(Json(SuggestionList {
        suggestions: rank_technicians(&job, technicians, &load, limit),
    }))
}

/// Ranks the technicians for the job with their open job counts; best first.
pub fn rank_technicians(
    job: &DispatchJob,
    technicians: Vec<crate::storage::User>,
    load: &HashMap<fieldsync_proto::UserId, u32>,
    limit: u32,
) -> Vec<TechnicianSuggestion> {
    let profiles: Vec<TechnicianProfile> = technicians
        .into_iter()
        .map(|u| TechnicianProfile {
            id: u.id,
            open_jobs: load.get(&u.id).copied().unwrap_or(0),
            display_name: u.display_name,
            skills: u.profile.skills,
            region: u.profile.region,
            latitude: u.profile.latitude,
            longitude: u.profile.longitude,
            senior: u.profile.senior,
        })
        .collect();
    let by_id: HashMap<_, _> = profiles.iter().map(|p| (p.id, p)).collect();
    rank(job, &profiles, limit as usize)
        .into_iter()
        .zip(1u32..)
        .map(|(s, rank)| {
            let profile = by_id.get(&s.technician);
            TechnicianSuggestion {
                technician_id: s.technician,
                name: s.display_name,
                rank,
                score: s.score,
                distance_km: s.distance_km.map(|km| (km * 10.0).round() / 10.0),
                open_jobs: profile.map_or(0, |p| p.open_jobs),
                skill_match: s.has_skill,
                senior: profile.is_some_and(|p| p.senior),
                reasons: s.reasons,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::User;
    use fieldsync_proto::api::TechnicianProfile as Profile;
    use fieldsync_proto::{CustomerTier, Priority, ProblemCategory, UserId};

    fn tech(name: &str, skills: &[&str], latitude: f64, senior: bool) -> User {
        User {
            id: UserId::new(),
            username: name.into(),
            display_name: name.into(),
            role: Role::Technician,
            profile: Profile {
                skills: skills.iter().map(|s| (*s).to_owned()).collect(),
                region: "north".into(),
                latitude,
                longitude: 10.0,
                senior,
            },
        }
    }

    #[test]
    fn limit_is_checked_by_name() {
        assert_eq!(parse_limit(None).expect("default"), DEFAULT_SUGGESTIONS);
        assert_eq!(parse_limit(Some("12")).expect("given"), 12);
        for bad in ["0", "51", "-1", "five"] {
            let err = parse_limit(Some(bad)).expect_err(bad);
            assert_eq!(err.field_name(), Some("limit"), "{err}");
        }
    }

    #[test]
    fn load_from_the_index_decides_between_equals() {
        let job = DispatchJob {
            category: ProblemCategory::Hardware,
            latitude: 53.5,
            longitude: 10.0,
            region: "north".into(),
            tier: CustomerTier::Vip,
            priority: Priority::P3,
        };
        let busy = tech("busy", &["hardware"], 53.5, false);
        let free = tech("free", &["hardware"], 53.5, false);
        let senior = tech("senior", &["hardware"], 53.5, true);
        let unskilled = tech("unskilled", &["software"], 53.5, true);
        let load = HashMap::from([(busy.id, 4), (senior.id, 4)]);
        let ids = [busy.id, free.id, senior.id, unskilled.id];
        let got = rank_technicians(&job, vec![busy, free, senior, unskilled], &load, 10);
        let order: Vec<_> = got.iter().map(|s| s.name.as_str()).collect();
        // At P3 four open jobs cost 24 points and seniority on VIP work gains 20.
        assert_eq!(order, ["free", "senior", "busy", "unskilled"], "{got:#?}");
        assert_eq!(got.iter().map(|s| s.rank).collect::<Vec<_>>(), [1, 2, 3, 4]);
        assert_eq!(got[0].open_jobs, 0);
        assert_eq!(got[1].open_jobs, 4);
        assert!(got[1].senior && !got[0].senior);
        assert!(!got[3].skill_match && got[0].skill_match);
        assert!(
            got[2].reasons.contains(&"4 open jobs".to_owned()),
            "{:?}",
            got[2].reasons
        );
        assert_eq!(got[0].technician_id, ids[1]);
        assert_eq!(rank_technicians(&job, Vec::new(), &load, 5), Vec::new());
    }
}
