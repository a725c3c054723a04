//! The dashboard's figures: first response and resolution times, SLA compliance,
//! first-time-fix rate, repeat repairs, satisfaction and NPS, by period and by technician.

use axum::extract::State;
use axum::Json;
use fieldsync_proto::wire::ErrorBody;
use fieldsync_proto::{kpi_report, KpiOptions, KpiPeriod, KpiReport, Timestamp, WorkOrder};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::detail::read_stored;
use super::extract::QueryParams;
use crate::auth::AuthUser;
use crate::error::Error;
use crate::state::AppState;

/// The window when none is given: the last 30 days.
const DEFAULT_DAYS: i64 = 30;
/// The longest window one report covers.
const MAX_DAYS: i64 = 400;
/// Most work orders one report reads.
const MAX_ORDERS: u32 = 50_000;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(report))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct KpiParams {
    /// Start of the window (work orders created from then on): RFC 3339 or milliseconds since
    /// 1970. 30 days before `to` if absent; the window may be at most 400 days long.
    from: Option<String>,
    /// End of the window (exclusive): RFC 3339 or milliseconds since 1970; now if absent.
    to: Option<String>,
    /// How `by_period` groups: `day`, `week` (ISO weeks, the default) or `month`.
    #[param(value_type = Option<KpiPeriod>)]
    period: Option<String>,
    /// Where days start for the reader, in minutes east of UTC (e.g. 60 for UTC+01:00).
    #[param(value_type = Option<i32>)]
    utc_offset_minutes: Option<String>,
}

/// A time as RFC 3339 text or milliseconds since the epoch.
fn time_param(field: &str, text: Option<&str>) -> Result<Option<Timestamp>, Error> {
    match text.map(str::trim) {
        None | Some("") => Ok(None),
        Some(text) => {
            if let Ok(ms) = text.parse::<i64>() {
                return Ok(Some(Timestamp(ms)));
            }
            Timestamp::parse_rfc3339(text).map(Some).map_err(|_| {
                Error::field(
                    field,
                    format!("'{text}' is not an RFC 3339 time or milliseconds since 1970"),
                )
            })
        }
    }
}

/// The window `[from, to)` and options of a request.
fn parse(params: &KpiParams, now: Timestamp) -> Result<(Timestamp, Timestamp, KpiOptions), Error> {
    let to = time_param("to", params.to.as_deref())?.unwrap_or(now);
    let from = time_param("from", params.from.as_deref())?
        .unwrap_or(to.plus_minutes(-DEFAULT_DAYS * 24 * 60));
    if from >= to {
        return Err(Error::field("from", "must be before to"));
    }
    if to.millis() - from.millis() > MAX_DAYS * 24 * 60 * 60_000 {
        return Err(Error::field(
            "from",
            format!("the window may be at most {MAX_DAYS} days long"),
        ));
    }
    let period = match params.period.as_deref().map(str::trim) {
        None | Some("") | Some("week") => KpiPeriod::Week,
        Some("day") => KpiPeriod::Day,
        Some("month") => KpiPeriod::Month,
        Some(other) => {
            return Err(Error::field(
                "period",
                format!("'{other}' is not one of day, week, month"),
            ))
        }
    };
    let utc_offset_minutes = match params.utc_offset_minutes.as_deref().map(str::trim) {
        None | Some("") => 0,
        Some(text) => text.parse::<i32>().map_err(|_| {
            Error::field(
                "utc_offset_minutes",
                format!("'{text}' is not a number of minutes"),
            )
        })?,
    };
    Ok((
        from,
        to,
        KpiOptions {
            period,
            utc_offset_minutes,
        },
    ))
}

/// The dashboard's figures, overall, by period and by technician.
///
/// First response and resolution times, SLA compliance, first-time-fix rate, repeat repairs
/// within 30 days, satisfaction and NPS. Office only.
#[utoipa::path(
    get,
    path = "/v1/kpis",
    operation_id = "kpi_report",
    tag = "reports",
    security(("bearer_token" = [])),
    params(KpiParams),
    responses(
        (status = 200, description = "The report for the window.", body = KpiReport),
        (status = 400, description = "A parameter is malformed or the window is empty or too long; `field` names it.", body = ErrorBody),
        (status = 403, description = "KPIs are for the office.", body = ErrorBody),
    ),
)]
async fn report(
    State(state): State<AppState>,
    auth: AuthUser,
    QueryParams(params): QueryParams<KpiParams>,
) -> Result<Json<KpiReport>, Error> {
    auth.require_office("the KPI dashboard")?;
    let now = Timestamp::now();
    let (from, to, options) = parse(&params, now)?;
    let storage = state.storage();
    let (stored, follow_ups) = tokio::try_join!(
        storage.documents_created(from, to, MAX_ORDERS),
        storage.follow_ups()
    )?;
    let orders = stored
        .iter()
        .map(read_stored)
        .collect::<Result<Vec<WorkOrder>, Error>>()?;
    let report = kpi_report(&orders, &follow_ups, now, options)
        .map_err(|e| Error::field("utc_offset_minutes", e))?;
    Ok(Json(report))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_checked_by_name() {
        let now = Timestamp(1_700_000_000_000);
        let (from, to, options) = parse(&KpiParams::default(), now).expect("defaults");
        assert_eq!(to, now);
        assert_eq!(to.millis() - from.millis(), DEFAULT_DAYS * 24 * 60 * 60_000);
        assert_eq!(options.period, KpiPeriod::Week);
        let given = KpiParams {
            from: Some("2023-11-01T00:00:00.000Z".into()),
            to: Some("1700000000000".into()),
            period: Some("month".into()),
            utc_offset_minutes: Some("-300".into()),
        };
        let (from, to, options) = parse(&given, now).expect("given");
        assert_eq!(
            from,
            Timestamp::parse_rfc3339("2023-11-01T00:00:00Z").expect("time")
        );
        assert_eq!(to, now);
        assert_eq!(
            (options.period, options.utc_offset_minutes),
            (KpiPeriod::Month, -300)
        );
        for (params, field) in [
            (
                KpiParams {
                    from: Some("yesterday".into()),
                    ..Default::default()
                },
                "from",
            ),
            (
                KpiParams {
                    from: Some("1700000000001".into()),
                    ..Default::default()
                },
                "from",
            ),
            (
                KpiParams {
                    period: Some("year".into()),
                    ..Default::default()
                },
                "period",
            ),
            (
                KpiParams {
                    utc_offset_minutes: Some("UTC".into()),
                    ..Default::default()
                },
                "utc_offset_minutes",
            ),
        ] {
            let err = parse(&params, now).expect_err(field);
            assert_eq!(err.field_name(), Some(field), "{err}");
        }
    }
}
