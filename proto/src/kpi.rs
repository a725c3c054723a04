//! Service KPIs for managers: response and resolution times, SLA compliance, first-time-fix rate,
//! repeat repairs, satisfaction and NPS, overall, per period and per technician.
//!
//! Each work order belongs to the period in which it was created (a cohort), so that every figure
//! in one row is about the same set of jobs and a job never moves between rows as it progresses.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Datelike};
use serde::{Deserialize, Serialize};

use crate::followup::{nps, FollowUp, Nps};
use crate::ids::{UserId, WorkOrderId};
use crate::sla::ClockState;
use crate::status::Status;
use crate::time::Timestamp;
use crate::work_order::WorkOrder;

/// A job on the same asset within this many days of a completed repair means the fix did not hold.
pub const REPEAT_REPAIR_DAYS: i64 = 30;

const MINUTE_MS: i64 = 60_000;
const DAY_MS: i64 = 24 * 60 * MINUTE_MS;
/// Widest offset from UTC any place keeps (UTC+14), with room to spare.
const MAX_UTC_OFFSET_MINUTES: i32 = 18 * 60;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum KpiPeriod {
    Day,
    /// ISO weeks, Monday to Sunday.
    #[default]
    Week,
    /// Calendar months.
    Month,
}

/// How to group the report. Missing fields take their defaults (ISO weeks, UTC).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KpiOptions {
    pub period: KpiPeriod,
    /// Where days start for the people reading the report, e.g. 60 for UTC+01:00. A fixed offset:
    /// periods that span a daylight-saving change are an hour off at one end.
    pub utc_offset_minutes: i32,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KpiError {
    #[error("utc_offset_minutes must be between -{MAX_UTC_OFFSET_MINUTES} and {MAX_UTC_OFFSET_MINUTES}, got {0}")]
    BadUtcOffset(i32),
}

/// Count, mean and median of a duration, in minutes; `None` without samples.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DurationStats {
    pub count: u32,
    pub mean_minutes: Option<f64>,
    pub median_minutes: Option<f64>,
}

/// How many of `total` met the condition, and that as a percentage (`None` when `total` is 0).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Rate {
    pub hits: u32,
    pub total: u32,
    pub percent: Option<f64>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SatisfactionAverage {
    pub responses: u32,
    pub mean: Option<f64>,
}

/// The figures for one group of work orders.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KpiFigures {
    pub work_orders: u32,
    /// Completed or closed.
    pub completed: u32,
    pub cancelled: u32,
    /// From creation to the technician's first response (accepting the job or later).
    pub first_response: DurationStats,
    /// From creation to completion, wall-clock time including holds.
    pub resolution: DurationStats,
    /// Response clocks met, of those decided (met, missed, or breached while still open).
    pub response_sla: Rate,
    /// Resolution clocks met, of those decided.
    pub resolution_sla: Rate,
    /// Completed jobs fixed on the first visit, of all completed jobs.
    pub first_time_fix: Rate,
    /// Completed jobs whose asset needed another job within 30 days, of completed jobs with a
    /// serial number.
    pub repeat_repairs: Rate,
    /// Satisfaction (1–5) from the latest follow-up of each job.
    pub satisfaction: SatisfactionAverage,
    pub nps: Nps,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PeriodKpis {
    /// `2024-06-10` for a day, `2024-W24` for an ISO week (in the report's offset).
    pub label: String,
    pub start: Timestamp,
    /// Exclusive.
    pub end: Timestamp,
    pub figures: KpiFigures,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TechnicianKpis {
    pub technician: UserId,
    pub figures: KpiFigures,
}

/// A completed repair whose asset came back.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RepeatRepair {
    pub serial: String,
    pub repaired: WorkOrderId,
    pub repaired_number: String,
    /// Who completed the repair that did not hold (missing only in a damaged document).
    pub repaired_by: Option<UserId>,
    pub repeat: WorkOrderId,
    pub repeat_number: String,
    pub days_later: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KpiReport {
    pub generated_at: Timestamp,
    pub options: KpiOptions,
    pub overall: KpiFigures,
    /// Periods with at least one work order, oldest first.
    pub by_period: Vec<PeriodKpis>,
    /// By the technician who completed the job, or else its current assignee; unassigned jobs
    /// appear only in `overall` and `by_period`. Ordered by id.
    pub by_technician: Vec<TechnicianKpis>,
    pub repeats: Vec<RepeatRepair>,
}

/// KPIs of `work_orders` as of `now`, with satisfaction and NPS from `followups`.
///
/// Repeat repairs are found among the work orders given: include jobs created up to 30 days
/// after the last period of interest, or recent repairs will look as if they held. Work orders
/// given twice count once; of several follow-ups for one job, the latest recorded counts.
pub fn kpi_report(
    work_orders: &[WorkOrder],
    followups: &[FollowUp],
    now: Timestamp,
    options: KpiOptions,
) -> Result<KpiReport, KpiError> {
    if options.utc_offset_minutes.abs() > MAX_UTC_OFFSET_MINUTES {
        return Err(KpiError::BadUtcOffset(options.utc_offset_minutes));
    }
    let mut seen = std::collections::HashSet::new();
    let orders: Vec<&WorkOrder> = work_orders.iter().filter(|wo| seen.insert(wo.id)).collect();

    let latest = latest_followups(followups);
    let mut facts: Vec<Facts> = orders
        .iter()
        .map(|wo| Facts::new(wo, now, latest.get(&wo.id).copied()))
        .collect();
    let repeats = find_repeats(&orders, &mut facts);

    let mut overall = Acc::default();
    let mut periods: BTreeMap<i64, Acc> = BTreeMap::new();
    let mut technicians: BTreeMap<UserId, Acc> = BTreeMap::new();
    for f in &facts {
        overall.add(f);
        let start = period_start(f.created.millis(), options);
        periods.entry(start).or_default().add(f);
        if let Some(t) = f.technician {
            technicians.entry(t).or_default().add(f);
        }
    }

    Ok(KpiReport {
        generated_at: now,
        options,
        overall: overall.finish(),
        by_period: periods
            .into_iter()
            .map(|(start, acc)| {
                let (label, end) = period_label_and_end(start, options);
                PeriodKpis {
                    label,
                    start: Timestamp(start),
                    end: Timestamp(end),
                    figures: acc.finish(),
                }
            })
            .collect(),
        by_technician: technicians
            .into_iter()
            .map(|(technician, acc)| TechnicianKpis {
                technician,
                figures: acc.finish(),
            })
            .collect(),
        repeats,
    })
}

/// The latest follow-up per work order; ties on time are broken by content, so any order of the
/// input gives the same choice.
fn latest_followups(followups: &[FollowUp]) -> HashMap<WorkOrderId, &FollowUp> {
    let mut latest: HashMap<WorkOrderId, &FollowUp> = HashMap::new();
    for f in followups {
        latest
            .entry(f.work_order)
            .and_modify(|kept| {
                if (f.recorded_at, f) > (kept.recorded_at, *kept) {
                    *kept = f;
                }
            })
            .or_insert(f);
    }
    latest
}

/// What one work order contributes, worked out once.
struct Facts {
    created: Timestamp,
    status: Status,
    response_ms: Option<i64>,
    resolved_at: Option<Timestamp>,
    response_met: Option<bool>,
    resolution_met: Option<bool>,
    first_time_fix: Option<bool>,
    /// For completed jobs with a serial: whether the asset came back within 30 days.
    came_back: Option<bool>,
    technician: Option<UserId>,
    satisfaction: Option<u8>,
    nps: Option<u8>,
}

impl Facts {
    fn new(wo: &WorkOrder, now: Timestamp, followup: Option<&FollowUp>) -> Self {
        let d = wo.derive(now);
        let completed = matches!(d.status, Status::Completed | Status::Closed);
        let completion = wo.completion.as_ref().filter(|_| completed);
        let sla = &d.sla;
        let met = |state: ClockState, done: Option<Timestamp>| match state {
            // A cancelled job's untouched clock reads "met" but promised nothing.
            ClockState::Met => done.map(|_| true),
            ClockState::Missed | ClockState::Breached => Some(false),
            ClockState::Running | ClockState::NearBreach | ClockState::Paused => None,
        };
        let resolved_at = sla.resolved_at.filter(|_| completed);
        Self {
            created: wo.created_at,
            status: d.status,
            response_ms: sla
                .responded_at
                .map(|t| t.millis().saturating_sub(wo.created_at.millis())),
            resolved_at,
            response_met: met(sla.response, sla.responded_at),
            resolution_met: met(sla.resolution, resolved_at),
            first_time_fix: completion.map(|c| c.first_time_fix),
            came_back: None,
            technician: completion.map(|c| c.by).or(wo.assignee),
            satisfaction: followup
                .and_then(|f| f.satisfaction)
                .filter(|s| (1..=5).contains(s)),
            nps: followup.and_then(|f| f.nps).filter(|n| *n <= 10),
        }
    }

    fn resolution_ms(&self) -> Option<i64> {
        self.resolved_at
            .map(|t| t.millis().saturating_sub(self.created.millis()))
    }
}

/// Serial numbers are typed by people: compare them without case or surrounding spaces.
fn serial_key(serial: &str) -> Option<String> {
    let s = serial.trim();
    (!s.is_empty()).then(|| s.to_uppercase())
}

/// Marks each completed job whose asset got another (not cancelled) job within 30 days after
/// completion, and lists them.
fn find_repeats(orders: &[&WorkOrder], facts: &mut [Facts]) -> Vec<RepeatRepair> {
    // Per serial, the creation times of every job that was not cancelled, sorted.
    let mut by_serial: HashMap<String, Vec<(Timestamp, usize)>> = HashMap::new();
    for (i, wo) in orders.iter().enumerate() {
        if facts[i].status == Status::Cancelled {
            continue;
        }
        if let Some(key) = serial_key(&wo.asset.serial) {
            by_serial.entry(key).or_default().push((wo.created_at, i));
        }
    }
    for jobs in by_serial.values_mut() {
        jobs.sort_unstable_by_key(|&(at, i)| (at, orders[i].id));
    }

    let mut repeats = Vec::new();
    for (i, wo) in orders.iter().enumerate() {
        let (Some(done), Some(key)) = (facts[i].resolved_at, serial_key(&wo.asset.serial)) else {
            continue;
        };
        let window_end = done.plus_minutes(REPEAT_REPAIR_DAYS * 24 * 60);
        let jobs = by_serial.get(&key).map(Vec::as_slice).unwrap_or_default();
        let first_after = jobs.partition_point(|&(at, _)| at <= done);
        let next = jobs[first_after..]
            .iter()
            .take_while(|&&(at, _)| at <= window_end)
            .find(|&&(_, j)| j != i);
        facts[i].came_back = Some(next.is_some());
        if let Some(&(at, j)) = next {
            repeats.push(RepeatRepair {
                serial: wo.asset.serial.trim().to_owned(),
                repaired: wo.id,
                repaired_number: wo.number.clone(),
                repaired_by: wo.completion.as_ref().map(|c| c.by),
                repeat: orders[j].id,
                repeat_number: orders[j].number.clone(),
                days_later: (at.millis() - done.millis()) as f64 / DAY_MS as f64,
            });
        }
    }
    repeats.sort_by(|a, b| (&a.serial, a.repaired).cmp(&(&b.serial, b.repaired)));
    repeats
}

/// Running totals for one group.
#[derive(Default)]
struct Acc {
    work_orders: u32,
    completed: u32,
    cancelled: u32,
    response_ms: Vec<i64>,
    resolution_ms: Vec<i64>,
    response_sla: Counter,
    resolution_sla: Counter,
    first_time_fix: Counter,
    came_back: Counter,
    satisfaction: Vec<u8>,
    nps: Vec<u8>,
}

#[derive(Default)]
struct Counter {
    hits: u32,
    total: u32,
}

impl Counter {
    fn add(&mut self, outcome: Option<bool>) {
        if let Some(hit) = outcome {
            self.total += 1;
            self.hits += u32::from(hit);
        }
    }

    fn finish(&self) -> Rate {
        Rate {
            hits: self.hits,
            total: self.total,
            percent: (self.total > 0).then(|| 100.0 * f64::from(self.hits) / f64::from(self.total)),
        }
    }
}

impl Acc {
    fn add(&mut self, f: &Facts) {
        self.work_orders += 1;
        self.completed += u32::from(f.resolved_at.is_some());
        self.cancelled += u32::from(f.status == Status::Cancelled);
        self.response_ms.extend(f.response_ms);
        self.resolution_ms.extend(f.resolution_ms());
        self.response_sla.add(f.response_met);
        self.resolution_sla.add(f.resolution_met);
        self.first_time_fix.add(f.first_time_fix);
        self.came_back.add(f.came_back);
        self.satisfaction.extend(f.satisfaction);
        self.nps.extend(f.nps);
    }

    fn finish(self) -> KpiFigures {
        let responses = count(self.satisfaction.len());
        let sum: u32 = self.satisfaction.iter().map(|&s| u32::from(s)).sum();
        KpiFigures {
            work_orders: self.work_orders,
            completed: self.completed,
            cancelled: self.cancelled,
            first_response: duration_stats(self.response_ms),
            resolution: duration_stats(self.resolution_ms),
            response_sla: self.response_sla.finish(),
            resolution_sla: self.resolution_sla.finish(),
            first_time_fix: self.first_time_fix.finish(),
            repeat_repairs: self.came_back.finish(),
            satisfaction: SatisfactionAverage {
                responses,
                mean: (responses > 0).then(|| f64::from(sum) / f64::from(responses)),
            },
            nps: nps(self.nps),
        }
    }
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn duration_stats(mut samples_ms: Vec<i64>) -> DurationStats {
    if samples_ms.is_empty() {
        return DurationStats::default();
    }
    samples_ms.sort_unstable();
    let n = samples_ms.len();
    let to_minutes = |ms: f64| ms / MINUTE_MS as f64;
    let sum: i128 = samples_ms.iter().map(|&ms| i128::from(ms)).sum();
    let mid = n / 2;
    let median = if n % 2 == 1 {
        samples_ms[mid] as f64
    } else {
        // Halved before adding, so two huge samples cannot overflow.
        samples_ms[mid - 1] as f64 / 2.0 + samples_ms[mid] as f64 / 2.0
    };
    DurationStats {
        count: count(n),
        mean_minutes: Some(to_minutes(sum as f64 / n as f64)),
        median_minutes: Some(to_minutes(median)),
    }
}

/// Start (UTC millis) of the period holding `at`, with days starting at local midnight.
fn period_start(at: i64, options: KpiOptions) -> i64 {
    let offset = i64::from(options.utc_offset_minutes) * MINUTE_MS;
    let local = at.saturating_add(offset);
    let day_start = local.saturating_sub(local.rem_euclid(DAY_MS));
    let start = match options.period {
        KpiPeriod::Day => day_start,
        KpiPeriod::Week => {
            // Day 0 of the epoch, 1970-01-01, was a Thursday: three days after a Monday.
            let days_since_monday = (day_start.div_euclid(DAY_MS) + 3).rem_euclid(7);
            day_start.saturating_sub(days_since_monday * DAY_MS)
        }
        KpiPeriod::Month => match DateTime::from_timestamp_millis(day_start) {
            Some(local) => {
                let day_of_month = i64::from(local.date_naive().day0());
                day_start.saturating_sub(day_of_month * DAY_MS)
            }
            None => day_start,
        },
    };
    start.saturating_sub(offset)
}

/// Milliseconds in the calendar month starting at `local_start` (local time, at midnight).
fn month_length(local_start: i64) -> i64 {
    let Some(start) = DateTime::from_timestamp_millis(local_start) else {
        return 30 * DAY_MS;
    };
    let date = start.date_naive();
    let (year, month) = if date.month() == 12 {
        (date.year() + 1, 1)
    } else {
        (date.year(), date.month() + 1)
    };
    match chrono::NaiveDate::from_ymd_opt(year, month, 1) {
        Some(next) => (next - date).num_days() * DAY_MS,
        None => 30 * DAY_MS,
    }
}

fn period_label_and_end(start: i64, options: KpiOptions) -> (String, i64) {
    let offset = i64::from(options.utc_offset_minutes) * MINUTE_MS;
    let length = match options.period {
        KpiPeriod::Day => DAY_MS,
        KpiPeriod::Week => 7 * DAY_MS,
        KpiPeriod::Month => month_length(start.saturating_add(offset)),
    };
    let end = start.saturating_add(length);
    let label = match DateTime::from_timestamp_millis(start.saturating_add(offset)) {
        Some(local) => {
            let date = local.date_naive();
            match options.period {
                KpiPeriod::Day => {
                    format!("{:04}-{:02}-{:02}", date.year(), date.month(), date.day())
                }
                KpiPeriod::Week => {
                    let week = date.iso_week();
                    format!("{:04}-W{:02}", week.year(), week.week())
                }
                KpiPeriod::Month => format!("{:04}-{:02}", date.year(), date.month()),
            }
        }
        None => format!("period starting at {start} ms"),
    };
    (label, end)
}

#[cfg(test)]
pub(crate) mod fixtures {
    //! Work orders built through the real actions, at chosen times.

    use uuid::Uuid;

    use crate::actions::{create_work_order, Action, Actor, NewWorkOrder};
    use crate::classification::Role;
    use crate::ids::{DeviceId, UserId, WorkOrderId};
    use crate::time::Timestamp;
    use crate::work_order::{Asset, WorkOrder};

    /// Monday 2024-06-10 00:00:00 UTC.
    pub(crate) const T0: Timestamp = Timestamp(1_717_977_600_000);

    pub(crate) fn dispatcher() -> Actor {
        Actor {
            user: UserId(Uuid::from_u128(1000)),
            role: Role::Dispatcher,
            device: DeviceId(Uuid::from_u128(1001)),
        }
    }

    pub(crate) fn technician(n: u128) -> Actor {
        Actor {
            user: UserId(Uuid::from_u128(n)),
            role: Role::Technician,
            device: DeviceId(Uuid::from_u128(n + 500)),
        }
    }

    /// A standard-tier, normal-urgency hardware job on one unit (P3: respond within 8 hours,
    /// resolve within 2 days) for asset `X200-1`, created at `created`.
    pub(crate) fn job(created: Timestamp) -> WorkOrder {
        let intake = NewWorkOrder {
            asset: Asset {
                model: "Oven X200".into(),
                serial: "X200-1".into(),
            },
            assignee: None,
            ..crate::testing::intake(UserId::new())
        };
        create_work_order(WorkOrderId::new(), intake, &dispatcher(), created).expect("valid intake")
    }

    pub(crate) fn act(wo: &mut WorkOrder, action: &Action, actor: &Actor, at: Timestamp) {
        crate::actions::apply_action(wo, action, actor, at)
            .unwrap_or_else(|e| panic!("{}: {e}", action.name()));
    }

    /// Assigns the job to `tech`, who accepts, travels, arrives and starts work, all at `at`.
    pub(crate) fn start_work(wo: &mut WorkOrder, tech: &Actor, at: Timestamp) {
        let assign = Action::Assign {
            technician: tech.user,
        };
        act(wo, &assign, &dispatcher(), at);
        for step in [
            Action::Accept,
            Action::StartTravel,
            Action::Arrive,
            Action::StartWork,
        ] {
            act(wo, &step, tech, at);
        }
    }

    pub(crate) fn finish(wo: &mut WorkOrder, tech: &Actor, at: Timestamp, first_time_fix: bool) {
        let complete = Action::Complete {
            resolution: "replaced the heating element".into(),
            signed_by: None,
            first_time_fix,
        };
        act(wo, &complete, tech, at);
    }

    /// A job created at `created`, started `respond_min` later and completed `resolve_min` after
    /// creation by technician `tech`.
    pub(crate) fn done(
        created: Timestamp,
        tech: u128,
        respond_min: i64,
        resolve_min: i64,
        first_time_fix: bool,
    ) -> WorkOrder {
        let t = technician(tech);
        let mut wo = job(created);
        start_work(&mut wo, &t, created.plus_minutes(respond_min));
        finish(
            &mut wo,
            &t,
            created.plus_minutes(resolve_min),
            first_time_fix,
        );
        wo
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::{self, done, technician, T0};
    use super::*;
    use crate::actions::Action;
    use crate::followup::{record_followup, NewFollowUp};
    use proptest::prelude::*;

    const HOUR: i64 = 60;

    fn options(period: KpiPeriod) -> KpiOptions {
        KpiOptions {
            period,
            utc_offset_minutes: 0,
        }
    }

    fn report(orders: &[WorkOrder], followups: &[FollowUp], now: Timestamp) -> KpiReport {
        kpi_report(orders, followups, now, options(KpiPeriod::Week)).expect("valid options")
    }

    fn followup(wo: &WorkOrder, satisfaction: u8, score: u8, at: Timestamp) -> FollowUp {
        let answers = NewFollowUp {
            satisfaction: Some(satisfaction),
            nps: Some(score),
            comment: String::new(),
        };
        record_followup(wo, answers, UserId::new(), at).expect("valid follow-up")
    }

    #[test]
    fn duration_stats_table() {
        const M: i64 = MINUTE_MS;
        // (samples, count, mean, median)
        type Case = (&'static [i64], u32, Option<f64>, Option<f64>);
        let table: [Case; 5] = [
            (&[], 0, None, None),
            (&[10 * M], 1, Some(10.0), Some(10.0)),
            (&[30 * M, 10 * M, 20 * M], 3, Some(20.0), Some(20.0)),
            (
                &[10 * M, 20 * M, 30 * M, 100 * M],
                4,
                Some(40.0),
                Some(25.0),
            ),
            (
                &[i64::MAX, i64::MAX],
                2,
                Some(i64::MAX as f64 / M as f64),
                Some(i64::MAX as f64 / M as f64),
            ),
        ];
        for (samples, count, mean, median) in table {
            let got = duration_stats(samples.to_vec());
            assert_eq!(
                got,
                DurationStats {
                    count,
                    mean_minutes: mean,
                    median_minutes: median
                },
                "{samples:?}"
            );
        }
    }

    #[test]
    fn periods_table() {
        use KpiPeriod::*;
        let at = |s: &str| Timestamp::parse_rfc3339(s).expect("valid time").millis();
        let table = [
            // (time, period, offset minutes, expected start, label)
            (
                "2024-06-12T15:00:00Z",
                Day,
                0,
                "2024-06-12T00:00:00Z",
                "2024-06-12",
            ),
            (
                "2024-06-12T15:00:00Z",
                Week,
                0,
                "2024-06-10T00:00:00Z",
                "2024-W24",
            ),
            (
                "2024-06-10T00:00:00Z",
                Week,
                0,
                "2024-06-10T00:00:00Z",
                "2024-W24",
            ),
            (
                "2024-06-09T23:59:59Z",
                Week,
                0,
                "2024-06-03T00:00:00Z",
                "2024-W23",
            ),
            // 23:30 UTC on Sunday is already Monday in Berlin (UTC+2 in summer).
            (
                "2024-06-09T23:30:00Z",
                Week,
                120,
                "2024-06-09T22:00:00Z",
                "2024-W24",
            ),
            (
                "2024-06-12T01:00:00Z",
                Day,
                -300,
                "2024-06-11T05:00:00Z",
                "2024-06-11",
            ),
            // ISO week 1 of 2025 starts on Monday 2024-12-30.
            (
                "2025-01-01T12:00:00Z",
                Week,
                0,
                "2024-12-30T00:00:00Z",
                "2025-W01",
            ),
            (
                "1969-12-31T12:00:00Z",
                Week,
                0,
                "1969-12-29T00:00:00Z",
                "1970-W01",
            ),
        ];
        for (time, period, offset, start, label) in table {
            let o = KpiOptions {
                period,
                utc_offset_minutes: offset,
            };
            let got = period_start(at(time), o);
            assert_eq!(
                Timestamp(got),
                Timestamp(at(start)),
                "{time} {period:?} {offset}"
            );
            let (got_label, end) = period_label_and_end(got, o);
            assert_eq!(got_label, label, "{time} {period:?} {offset}");
            assert!(end > at(time) && got <= at(time));
        }
    }

    #[test]
    fn extreme_times_do_not_panic() {
        for period in [KpiPeriod::Day, KpiPeriod::Week] {
            for at in [i64::MIN, i64::MAX, 0] {
                let o = KpiOptions {
                    period,
                    utc_offset_minutes: -MAX_UTC_OFFSET_MINUTES,
                };
                let start = period_start(at, o);
                let _ = period_label_and_end(start, o);
            }
        }
    }

    #[test]
    fn bad_offset_is_refused_by_name() {
        let o = KpiOptions {
            period: KpiPeriod::Day,
            utc_offset_minutes: 24 * 60,
        };
        let err = kpi_report(&[], &[], T0, o).expect_err("offset too large");
        assert!(err.to_string().contains("utc_offset_minutes"), "{err}");
        assert!(err.to_string().contains("1440"), "{err}");
    }

    #[test]
    fn empty_report_has_no_rates() {
        let r = report(&[], &[], T0);
        assert_eq!(r.overall, KpiFigures::default());
        assert!(r.by_period.is_empty() && r.by_technician.is_empty() && r.repeats.is_empty());
    }

    #[test]
    fn times_and_sla_compliance() {
        // P3 targets: respond within 8 h, resolve within 48 h.
        let orders = [
            done(T0, 1, 60, 5 * HOUR, true),         // met both
            done(T0, 1, 9 * HOUR, 10 * HOUR, true),  // response missed
            done(T0, 2, 2 * HOUR, 50 * HOUR, false), // resolution missed
        ];
        let mut open_breached = fixtures::job(T0);
        fixtures::start_work(
            &mut open_breached,
            &technician(2),
            T0.plus_minutes(3 * HOUR),
        );
        let open_running = fixtures::job(T0.plus_minutes(70 * HOUR));
        let mut cancelled = fixtures::job(T0);
        let cancel = Action::Cancel {
            reason: "duplicate".into(),
        };
        fixtures::act(
            &mut cancelled,
            &cancel,
            &fixtures::dispatcher(),
            T0.plus_minutes(10),
        );

        let all: Vec<WorkOrder> = orders
            .iter()
            .cloned()
            .chain([open_breached, open_running, cancelled])
            .collect();
        let r = report(&all, &[], T0.plus_minutes(72 * HOUR));
        let o = &r.overall;
        assert_eq!((o.work_orders, o.completed, o.cancelled), (6, 3, 1));
        // Responses: 60, 540, 120, 180 minutes (the cancelled and untouched jobs never responded).
        assert_eq!(o.first_response.count, 4);
        assert_eq!(o.first_response.mean_minutes, Some(225.0));
        assert_eq!(o.first_response.median_minutes, Some(150.0));
        assert_eq!(o.resolution.count, 3);
        assert_eq!(o.resolution.median_minutes, Some(600.0));
        assert_eq!((o.response_sla.hits, o.response_sla.total), (3, 4));
        // Resolution: met, met, missed, and the open one breached at 72 h; the new job is running.
        assert_eq!((o.resolution_sla.hits, o.resolution_sla.total), (2, 4));
        assert_eq!(o.resolution_sla.percent, Some(50.0));
        assert_eq!((o.first_time_fix.hits, o.first_time_fix.total), (2, 3));
    }

    #[test]
    fn grouped_by_week_and_by_technician() {
        let week2 = T0.plus_minutes(7 * 24 * HOUR);
        let orders = [
            done(T0, 1, 30, 2 * HOUR, true),
            done(T0.plus_minutes(24 * HOUR), 2, 30, 3 * HOUR, false),
            done(week2, 1, 30, 4 * HOUR, true),
        ];
        let unassigned = fixtures::job(week2);
        let all: Vec<WorkOrder> = orders.iter().cloned().chain([unassigned]).collect();
        let r = report(&all, &[], week2.plus_minutes(24 * HOUR));

        let weeks: Vec<(&str, u32, u32)> = r
            .by_period
            .iter()
            .map(|p| (p.label.as_str(), p.figures.work_orders, p.figures.completed))
            .collect();
        assert_eq!(weeks, vec![("2024-W24", 2, 2), ("2024-W25", 2, 1)]);
        assert_eq!(r.by_period[0].start, T0);
        assert_eq!(r.by_period[0].end, week2);

        let techs: Vec<(UserId, u32, Option<f64>)> = r
            .by_technician
            .iter()
            .map(|t| {
                (
                    t.technician,
                    t.figures.completed,
                    t.figures.first_time_fix.percent,
                )
            })
            .collect();
        assert_eq!(
            techs,
            vec![
                (technician(1).user, 2, Some(100.0)),
                (technician(2).user, 1, Some(0.0))
            ]
        );
        assert_eq!(
            r.overall.work_orders, 4,
            "unassigned jobs still count overall"
        );

        let days = kpi_report(&all, &[], week2, options(KpiPeriod::Day)).expect("valid");
        let labels: Vec<&str> = days.by_period.iter().map(|p| p.label.as_str()).collect();
        assert_eq!(labels, vec!["2024-06-10", "2024-06-11", "2024-06-17"]);
    }

    #[test]
    fn repeat_repairs_within_30_days() {
        let day = 24 * HOUR;
        let with_serial = |mut wo: WorkOrder, serial: &str| {
            wo.asset.serial = serial.into();
            wo
        };
        // A: repaired on day 0, back on day 20 (repeat). The day-20 job: back on day 55 (not).
        let a1 = with_serial(done(T0, 1, 10, HOUR, true), "SN-A");
        let a2 = with_serial(done(T0.plus_minutes(20 * day), 2, 10, HOUR, true), " sn-a ");
        let a3 = with_serial(fixtures::job(T0.plus_minutes(55 * day)), "SN-A");
        // B: completed at 01:00, back one minute after the 30 days: not a repeat.
        let b1 = with_serial(done(T0, 1, 10, HOUR, true), "SN-B");
        let b2 = with_serial(fixtures::job(T0.plus_minutes(HOUR + 30 * day + 1)), "SN-B");
        // F: back exactly 30 days after completion: still a repeat.
        let f1 = with_serial(done(T0, 2, 10, HOUR, true), "SN-F");
        let f2 = with_serial(fixtures::job(T0.plus_minutes(HOUR + 30 * day)), "SN-F");
        // C: a job within 30 days that was cancelled does not count.
        let c1 = with_serial(done(T0, 2, 10, HOUR, true), "SN-C");
        let mut c2 = with_serial(fixtures::job(T0.plus_minutes(5 * day)), "SN-C");
        let cancel = Action::Cancel {
            reason: "customer fixed it".into(),
        };
        fixtures::act(
            &mut c2,
            &cancel,
            &fixtures::dispatcher(),
            T0.plus_minutes(5 * day),
        );
        // D: no serial, never matched with another job without one.
        let d1 = with_serial(done(T0, 1, 10, HOUR, true), "");
        let d2 = with_serial(fixtures::job(T0.plus_minutes(day)), " ");
        // E: a second job opened while the first was still in progress is not a repeat of it.
        let e2 = with_serial(fixtures::job(T0.plus_minutes(30)), "SN-E");
        let e1 = with_serial(done(T0, 2, 10, HOUR, true), "SN-E");

        let all = [
            a1.clone(),
            a2.clone(),
            a3,
            b1,
            b2,
            c1,
            c2,
            d1,
            d2,
            e2,
            e1,
            f1.clone(),
            f2.clone(),
        ];
        let r = report(&all, &[], T0.plus_minutes(60 * day));
        assert_eq!(r.repeats.len(), 2, "{:#?}", r.repeats);
        assert_eq!((r.repeats[1].repaired, r.repeats[1].repeat), (f1.id, f2.id));
        assert_eq!(r.repeats[1].days_later, 30.0);
        let rep = &r.repeats[0];
        assert_eq!((rep.repaired, rep.repeat), (a1.id, a2.id));
        assert_eq!(rep.serial, "SN-A");
        assert_eq!(rep.repaired_by, Some(technician(1).user));
        assert!(
            (rep.days_later - (20.0 - 1.0 / 24.0)).abs() < 1e-9,
            "{}",
            rep.days_later
        );
        // Completed with a serial: a1, a2, b1, c1, e1, f1 (d1 has none).
        assert_eq!(
            (
                r.overall.repeat_repairs.hits,
                r.overall.repeat_repairs.total
            ),
            (2, 6)
        );
        let t1 = &r.by_technician[0];
        assert_eq!(t1.technician, technician(1).user);
        assert_eq!(
            (
                t1.figures.repeat_repairs.hits,
                t1.figures.repeat_repairs.total
            ),
            (1, 2)
        );
    }

    #[test]
    fn satisfaction_and_nps_from_the_latest_follow_up() {
        let a = done(T0, 1, 30, HOUR, true);
        let b = done(T0, 1, 30, HOUR, true);
        let c = done(T0, 2, 30, HOUR, true);
        let later = T0.plus_minutes(60 * HOUR);
        let mut broken = followup(&c, 3, 7, later);
        broken.satisfaction = Some(9); // stored before validation existed: left out
        let followups = [
            followup(&a, 2, 3, later),
            followup(&a, 5, 10, later.plus_minutes(5)), // called back: this one counts
            followup(&b, 4, 9, later),
            broken,
        ];
        let r = report(&[a, b, c], &followups, later.plus_minutes(60));
        let o = &r.overall;
        assert_eq!(o.satisfaction.responses, 2);
        assert_eq!(o.satisfaction.mean, Some(4.5));
        assert_eq!(
            (o.nps.promoters, o.nps.passives, o.nps.detractors),
            (2, 1, 0)
        );
        assert!((o.nps.score.expect("responses") - 200.0 / 3.0).abs() < 1e-9);
        let t2 = &r.by_technician[1];
        assert_eq!(t2.figures.nps.score, Some(0.0));
        assert_eq!(t2.figures.satisfaction.mean, None);
    }

    #[test]
    fn duplicates_count_once_and_the_report_round_trips() {
        let a = done(T0, 1, 30, HOUR, true);
        let r = report(&[a.clone(), a], &[], T0.plus_minutes(10 * HOUR));
        assert_eq!(r.overall.work_orders, 1);
        let bytes = postcard::to_allocvec(&r).expect("serializable");
        let back: KpiReport = postcard::from_bytes(&bytes).expect("deserializable");
        assert_eq!(back, r);
    }

    proptest! {
        #[test]
        fn every_job_lands_in_exactly_one_period_and_rates_stay_in_range(
            offsets_hours in prop::collection::vec(0i64..24 * 40, 1..25),
            day in any::<bool>(),
            utc_offset in -MAX_UTC_OFFSET_MINUTES..=MAX_UTC_OFFSET_MINUTES,
        ) {
            let orders: Vec<WorkOrder> = offsets_hours
                .iter()
                .enumerate()
                .map(|(i, h)| {
                    let created = T0.plus_minutes(h * HOUR);
                    if i % 2 == 0 { done(created, (i % 3) as u128 + 1, 30, 3 * HOUR, i % 4 == 0) } else { fixtures::job(created) }
                })
                .collect();
            let o = KpiOptions { period: if day { KpiPeriod::Day } else { KpiPeriod::Week }, utc_offset_minutes: utc_offset };
            let r = kpi_report(&orders, &[], T0.plus_minutes(24 * 45 * HOUR), o).expect("valid");
            let total: u32 = r.by_period.iter().map(|p| p.figures.work_orders).sum();
            prop_assert_eq!(total as usize, orders.len());
            for pair in r.by_period.windows(2) {
                prop_assert!(pair[0].end <= pair[1].start);
            }
            for p in &r.by_period {
                for rate in [&p.figures.response_sla, &p.figures.resolution_sla, &p.figures.first_time_fix, &p.figures.repeat_repairs] {
                    prop_assert!(rate.hits <= rate.total);
                    prop_assert!(rate.percent.is_none_or(|x| (0.0..=100.0).contains(&x)));
                }
            }
            for wo in &orders {
                let start = period_start(wo.created_at.millis(), o);
                let p = r.by_period.iter().find(|p| p.start.millis() == start);
                prop_assert!(p.is_some_and(|p| p.start <= wo.created_at && wo.created_at < p.end));
            }
        }

        #[test]
        fn median_lies_between_min_and_max(samples in prop::collection::vec(-1_000_000_000i64..1_000_000_000, 1..50)) {
            let s = duration_stats(samples.clone());
            let min = *samples.iter().min().expect("non-empty") as f64 / MINUTE_MS as f64;
            let max = *samples.iter().max().expect("non-empty") as f64 / MINUTE_MS as f64;
            for v in [s.median_minutes, s.mean_minutes] {
                let v = v.expect("samples");
                prop_assert!(v >= min - 1e-9 && v <= max + 1e-9);
            }
        }
    }

    #[test]
    fn months_are_calendar_months_in_local_time() {
        let at = |text: &str| Timestamp::parse_rfc3339(text).expect("time").millis();
        let utc = KpiOptions {
            period: KpiPeriod::Month,
            utc_offset_minutes: 0,
        };
        let start = period_start(at("2024-02-29T23:00:00Z"), utc);
        assert_eq!(start, at("2024-02-01T00:00:00Z"));
        assert_eq!(
            period_label_and_end(start, utc),
            ("2024-02".to_owned(), at("2024-03-01T00:00:00Z"))
        );
        let december = period_start(at("2023-12-31T12:00:00Z"), utc);
        assert_eq!(
            period_label_and_end(december, utc),
            ("2023-12".to_owned(), at("2024-01-01T00:00:00Z"))
        );
        // 23:00 UTC on 31 March is already April at UTC+02:00.
        let plus_two = KpiOptions {
            period: KpiPeriod::Month,
            utc_offset_minutes: 120,
        };
        let april = period_start(at("2024-03-31T23:00:00Z"), plus_two);
        assert_eq!(april, at("2024-03-31T22:00:00Z"));
        assert_eq!(period_label_and_end(april, plus_two).0, "2024-04");
    }
}
