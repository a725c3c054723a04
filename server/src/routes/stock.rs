//! Parts stock: levels per part and location folded from the movements ledger with their
//! safety levels (below-safety and negative flagged, never clamped), the ledger itself, and
//! recording receipts, transfers, adjustments and safety levels.

use std::collections::{BTreeMap, HashMap};

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use fieldsync_proto::api::{
    MovementPage, NewMovement, NewMovementKind, SafetyUpdate, StockReport, StockRow, StockState,
};
use fieldsync_proto::wire::ErrorBody;
use fieldsync_proto::{
    derive_stock, MovementKind, StockKey, StockMovement, Timestamp, MAX_MOVEMENT_QUANTITY,
    MAX_TEXT_BYTES,
};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{JsonBody, QueryParams};
use crate::auth::AuthUser;
use crate::error::Error;
use crate::state::AppState;
use crate::storage::SafetyLevel;

const DEFAULT_MOVEMENTS: u32 = 100;
const MAX_MOVEMENTS: u32 = 1000;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(levels))
        .routes(routes!(movements, record))
        .routes(routes!(set_safety))
}

/// Stock rows from the folded ledger and the safety levels: every key of either, ordered by
/// location, then part.
pub fn stock_rows(
    stock: &BTreeMap<StockKey, i64>,
    safety: &[SafetyLevel],
    names: &HashMap<String, String>,
) -> Vec<StockRow> {
    let safety: BTreeMap<StockKey, i64> = safety
        .iter()
        .map(|s| ((s.location.clone(), s.part_number.clone()), s.level))
        .collect();
    let mut keys: Vec<&StockKey> = stock.keys().chain(safety.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .map(|key| {
            let on_hand = stock.get(key).copied().unwrap_or(0);
            let level = safety.get(key).copied().unwrap_or(0);
            let state = if on_hand < 0 {
                StockState::Negative
            } else if on_hand < level {
                StockState::BelowSafety
            } else {
                StockState::Ok
            };
            StockRow {
                location: key.0.clone(),
                part_number: key.1.clone(),
                part_name: names.get(&key.1).cloned().unwrap_or_default(),
                on_hand,
                safety: level,
                state,
            }
        })
        .collect()
}

/// Stock of every part at every location, folded from the movements ledger.
///
/// Every part and location with a movement or a safety level; below-safety and negative stock
/// are flagged, never clamped. Office only.
#[utoipa::path(
    get,
    path = "/v1/stock",
    operation_id = "stock_levels",
    tag = "stock",
    security(("bearer_token" = [])),
    responses(
        (status = 200, description = "Ordered by location, then part.", body = StockReport),
        (status = 403, description = "Stock is for the office.", body = ErrorBody),
    ),
)]
async fn levels(State(state): State<AppState>, auth: AuthUser) -> Result<Json<StockReport>, Error> {
    auth.require_office("the stock overview")?;
    let storage = state.storage();
    let (ledger, safety, parts) = tokio::try_join!(
        storage.stock_movements(None),
        storage.safety_levels(),
        storage.parts()
    )?;
    let stock = derive_stock(&ledger);
    let names = parts.into_iter().map(|p| (p.part_number, p.name)).collect();
    Ok(Json(StockReport {
        levels: stock_rows(&stock, &safety, &names),
    }))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct MovementParams {
    /// How many movements, 1 to 1000 (100 if absent).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    limit: Option<String>,
}

/// The movements ledger (receipts, transfers, usages from work orders, adjustments), newest first.
///
/// Office only.
#[utoipa::path(
    get,
    path = "/v1/stock/movements",
    operation_id = "list_movements",
    tag = "stock",
    security(("bearer_token" = [])),
    params(MovementParams),
    responses(
        (status = 200, description = "Newest first.", body = MovementPage),
        (status = 400, description = "`limit` is malformed.", body = ErrorBody),
        (status = 403, description = "Stock is for the office.", body = ErrorBody),
    ),
)]
async fn movements(
    State(state): State<AppState>,
    auth: AuthUser,
    QueryParams(params): QueryParams<MovementParams>,
) -> Result<Json<MovementPage>, Error> {
    auth.require_office("the stock ledger")?;
    let limit = match params.limit.as_deref() {
        None | Some("") => DEFAULT_MOVEMENTS,
        Some(text) => match text.parse::<u32>() {
            Ok(n) if (1..=MAX_MOVEMENTS).contains(&n) => n,
            _ => {
                return Err(Error::field(
                    "limit",
                    format!("'{text}' is not a number from 1 to {MAX_MOVEMENTS}"),
                ))
            }
        },
    };
    let items = state.storage().stock_movements(Some(limit)).await?;
    Ok(Json(MovementPage { items }))
}

/// The ledger entry for a request, checked by the ledger's own rules.
fn movement(new: NewMovement, auth: &AuthUser, now: Timestamp) -> Result<StockMovement, Error> {
    let location = new.location.trim().to_owned();
    let kind = match new.kind {
        NewMovementKind::Receipt => MovementKind::Receipt,
        NewMovementKind::Adjustment => MovementKind::Adjustment,
        NewMovementKind::Transfer => MovementKind::Transfer {
            from: location.clone(),
            to: new
                .to
                .as_deref()
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .ok_or_else(|| Error::field("to", "is required for a transfer"))?
                .to_owned(),
        },
    };
    if new.kind != NewMovementKind::Transfer && new.to.as_deref().is_some_and(|t| !t.is_empty()) {
        return Err(Error::field("to", "is only for transfers"));
    }
    let m = StockMovement {
        id: new.id.unwrap_or_default(),
        kind,
        part_number: new.part_number.trim().to_owned(),
        location,
        quantity: new.quantity,
        at: now,
        by: auth.user.id,
    };
    m.validate().map_err(|e| {
        let field = match e.violations.first().map(|v| v.field.as_str()) {
            Some("kind.to") => "to".to_owned(),
            Some(field) => field.to_owned(),
            None => "quantity".to_owned(),
        };
        Error::field(field, e)
    })?;
    Ok(m)
}

/// Records a receipt, transfer or adjustment.
///
/// A movement sent again with the same `id` counts once (200 instead of 201). Office only.
#[utoipa::path(
    post,
    path = "/v1/stock/movements",
    operation_id = "record_movement",
    tag = "stock",
    security(("bearer_token" = [])),
    request_body = NewMovement,
    responses(
        (status = 201, description = "Recorded.", body = StockMovement),
        (status = 200, description = "Already recorded under this `id`; counted once.", body = StockMovement),
        (status = 400, description = "A field is missing or breaks a ledger rule; `field` names it.", body = ErrorBody),
        (status = 403, description = "Stock is for the office.", body = ErrorBody),
    ),
)]
async fn record(
    State(state): State<AppState>,
    auth: AuthUser,
    JsonBody(new): JsonBody<NewMovement>,
) -> Result<(StatusCode, Json<StockMovement>), Error> {
    auth.require_office("recording stock movements")?;
    let now = Timestamp::now();
    let m = movement(new, &auth, now)?;
    let added = state
        .storage()
        .record_movements(vec![m.clone()], now)
        .await?;
    let status = if added == 1 {
        tracing::info!(part = %m.part_number, location = %m.location, quantity = m.quantity, "stock movement recorded");
        StatusCode::CREATED
    } else {
        // The same id again: a retried request, already counted.
        StatusCode::OK
    };
    Ok((status, Json(m)))
}

/// Sets the safety-stock level of a part at a location. Office only.
#[utoipa::path(
    put,
    path = "/v1/stock/safety",
    operation_id = "set_safety_level",
    tag = "stock",
    security(("bearer_token" = [])),
    request_body = SafetyUpdate,
    responses(
        (status = 200, description = "Set; the level as stored.", body = SafetyUpdate),
        (status = 400, description = "A field is missing or out of range; `field` names it.", body = ErrorBody),
        (status = 403, description = "Stock is for the office.", body = ErrorBody),
    ),
)]
async fn set_safety(
    State(state): State<AppState>,
    auth: AuthUser,
    JsonBody(update): JsonBody<SafetyUpdate>,
) -> Result<Json<SafetyUpdate>, Error> {
    auth.require_office("setting safety stock")?;
    let part = update.part.trim().to_owned();
    let location = update.location.trim().to_owned();
    for (field, value) in [("part", &part), ("location", &location)] {
        if value.is_empty() {
            return Err(Error::field(field, "is required"));
        }
        if value.len() > MAX_TEXT_BYTES {
            return Err(Error::field(
                field,
                format!("is longer than {MAX_TEXT_BYTES} bytes"),
            ));
        }
    }
    if !(0..=MAX_MOVEMENT_QUANTITY).contains(&update.level) {
        return Err(Error::field(
            "level",
            format!(
                "must be from 0 to {MAX_MOVEMENT_QUANTITY}, got {}",
                update.level
            ),
        ));
    }
    state
        .storage()
        .set_safety_level(SafetyLevel {
            location: location.clone(),
            part_number: part.clone(),
            level: update.level,
        })
        .await?;
    Ok(Json(SafetyUpdate {
        part,
        location,
        level: update.level,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_flag_negative_and_below_safety_without_clamping() {
        let stock = BTreeMap::from([
            (("VAN-1".to_owned(), "P-1".to_owned()), -2),
            (("VAN-1".to_owned(), "P-2".to_owned()), 3),
            (("WH".to_owned(), "P-1".to_owned()), 10),
        ]);
        let safety = vec![
            SafetyLevel {
                location: "VAN-1".into(),
                part_number: "P-2".into(),
                level: 5,
            },
            SafetyLevel {
                location: "VAN-2".into(),
                part_number: "P-1".into(),
                level: 1,
            },
        ];
        let names = HashMap::from([("P-1".to_owned(), "Fuse".to_owned())]);
        let rows = stock_rows(&stock, &safety, &names);
        let got: Vec<_> = rows
            .iter()
            .map(|r| {
                (
                    r.location.as_str(),
                    r.part_number.as_str(),
                    r.on_hand,
                    r.safety,
                    r.state,
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("VAN-1", "P-1", -2, 0, StockState::Negative),
                ("VAN-1", "P-2", 3, 5, StockState::BelowSafety),
                ("VAN-2", "P-1", 0, 1, StockState::BelowSafety),
                ("WH", "P-1", 10, 0, StockState::Ok),
            ]
        );
        assert_eq!(rows[0].part_name, "Fuse");
        assert_eq!(rows[1].part_name, "");
    }
}
