//! SLA targets and clocks: response and resolution due times per priority and tier, paused while
//! the job is on hold for the customer, using the times the technician acted on the device.

use serde::{Deserialize, Serialize};

use crate::classification::{CustomerTier, Urgency};
use crate::priority::Priority;
use crate::status::{Status, StatusFold};
use crate::time::Timestamp;
use crate::work_order::WorkOrder;

/// How long the company promises to take, in minutes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SlaTargets {
    pub response_minutes: i64,
    pub resolution_minutes: i64,
}

/// The promise for a job: by priority, tightened for VIP customers and emergencies.
pub fn sla_targets(priority: Priority, tier: CustomerTier, urgency: Urgency) -> SlaTargets {
    let (mut response, mut resolution) = match priority {
        Priority::P1 => (30, 4 * 60),
        Priority::P2 => (2 * 60, 8 * 60),
        Priority::P3 => (8 * 60, 2 * 24 * 60),
        Priority::P4 => (24 * 60, 5 * 24 * 60),
    };
    if tier == CustomerTier::Vip {
        response = response.min(30);
    }
    if urgency == Urgency::Emergency {
        resolution = resolution.min(4 * 60);
    }
    SlaTargets {
        response_minutes: response,
        resolution_minutes: resolution,
    }
}

/// State of one clock, as a dispatcher's board shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ClockState {
    Running,
    /// Less than a quarter of the target is left.
    NearBreach,
    Breached,
    Paused,
    /// Done in time.
    Met,
    /// Done, but late.
    Missed,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SlaClock {
    pub targets: SlaTargets,
    pub response_due: Timestamp,
    pub resolution_due: Timestamp,
    pub responded_at: Option<Timestamp>,
    pub resolved_at: Option<Timestamp>,
    /// Time spent on hold for the customer, which extends the resolution due time.
    pub paused_millis: i64,
    pub response: ClockState,
    pub resolution: ClockState,
    /// Some device times were out of order, before the job existed, or later than `now` (a
    /// device clock running ahead), and were moved to fit: the figures use the moved times.
    pub times_adjusted: bool,
}

/// Computes both clocks from the events that took effect in the status fold.
pub fn sla_clock(
    wo: &WorkOrder,
    fold: &StatusFold,
    priority: Priority,
    now: Timestamp,
) -> SlaClock {
    let targets = sla_targets(priority, wo.customer.tier, wo.urgency);
    let created = wo.created_at;
    let response_due = created.plus_minutes(targets.response_minutes);

    // Device clocks can be wrong; keep the applied events' times monotonic, not before
    // creation, and not after `now` (nobody acted in the future).
    let mut times_adjusted = false;
    let mut last = created;
    let mut responded_at = None;
    let mut resolved_at = None;
    let mut paused_millis = 0i64;
    let mut pause_started: Option<Timestamp> = None;
    for &index in &fold.applied {
        let event = &wo.status_events[index];
        let at = if event.at < last {
            times_adjusted = true;
            last
        } else if event.at > now {
            times_adjusted = true;
            now.max(last)
        } else {
            event.at
        };
        last = at;
        if let Some(start) = pause_started.take() {
            paused_millis += at.millis() - start.millis();
        }
        if event.status.is_field_status() && responded_at.is_none() {
            responded_at = Some(at);
        }
        match event.status {
            Status::OnHold if event.hold.is_some_and(|h| h.pauses_sla()) => {
                pause_started = Some(at)
            }
            Status::Completed => resolved_at = Some(at),
            Status::Assigned | Status::Accepted | Status::Traveling => {
                // A reassignment after a reopened job does not count as resolved.
            }
            _ => {}
        }
    }
    if fold.status != Status::Completed && fold.status != Status::Closed {
        resolved_at = None;
    }
    let paused_now = pause_started.is_some() && fold.status == Status::OnHold;
    if let Some(start) = pause_started {
        if paused_now {
            paused_millis += (now.millis() - start.millis()).max(0);
        }
    }
    let resolution_due = created
        .plus_minutes(targets.resolution_minutes)
        .plus_millis(paused_millis);

    let response = clock_state(
        responded_at,
        response_due,
        targets.response_minutes,
        now,
        false,
        fold.status,
    );
    let resolution = clock_state(
        resolved_at,
        resolution_due,
        targets.resolution_minutes,
        now,
        paused_now,
        fold.status,
    );
    SlaClock {
        targets,
        response_due,
        resolution_due,
        responded_at,
        resolved_at,
        paused_millis,
        response,
        resolution,
        times_adjusted,
    }
}

fn clock_state(
    done_at: Option<Timestamp>,
    due: Timestamp,
    target_minutes: i64,
    now: Timestamp,
    paused: bool,
    status: Status,
) -> ClockState {
    if let Some(done) = done_at {
        return if done <= due {
            ClockState::Met
        } else {
            ClockState::Missed
        };
    }
    if status == Status::Cancelled {
        return ClockState::Met;
    }
    if paused {
        return ClockState::Paused;
    }
    let left = due.millis() - now.millis();
    if left < 0 {
        ClockState::Breached
    } else if left < target_minutes * 60_000 / 4 {
        ClockState::NearBreach
    } else {
        ClockState::Running
    }
}

/// What a list needs to show a job's SLA clocks without loading its document; stored next to the
/// summary whenever the work order is saved.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaFacts {
    pub response_minutes: i64,
    pub resolution_minutes: i64,
    pub responded_at: Option<Timestamp>,
    pub resolved_at: Option<Timestamp>,
    /// Set while the resolution clock is paused: when the facts were computed. The stored
    /// resolution due time counts the pause up to then and moves on with the clock.
    pub paused_at: Option<Timestamp>,
}

impl SlaFacts {
    pub fn new(clock: &SlaClock, now: Timestamp) -> Self {
        Self {
            response_minutes: clock.targets.response_minutes,
            resolution_minutes: clock.targets.resolution_minutes,
            responded_at: clock.responded_at,
            resolved_at: clock.resolved_at,
            paused_at: (clock.resolution == ClockState::Paused).then_some(now),
        }
    }
}

/// One word for a job's SLA on a dispatcher's board.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum BoardSlaState {
    /// Running with more than a quarter of each target left.
    Ok,
    /// A running clock has less than a quarter of its target left.
    NearBreach,
    /// A clock ran out (or the job was done late).
    Breached,
    /// On hold for the customer: the resolution clock is stopped.
    Paused,
    /// Done (or cancelled) within the targets.
    Met,
}

/// The SLA of one row of the board.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BoardSla {
    pub state: BoardSlaState,
    pub response_due: Timestamp,
    /// Moves on while the job is paused.
    pub resolution_due: Timestamp,
    /// Seconds until the nearest running clock runs out (negative once it has); for a paused job
    /// the time left on the resolution clock; for a done job the margin it was done with.
    pub remaining_seconds: i64,
}

/// The board's SLA state of a job from its stored facts, at `now`.
pub fn board_sla(
    status: Status,
    response_due: Timestamp,
    resolution_due: Timestamp,
    facts: &SlaFacts,
    now: Timestamp,
) -> BoardSla {
    let seconds = |millis: i64| millis.div_euclid(1000);
    let response_missed = facts.responded_at.is_some_and(|at| at > response_due);
    if status == Status::Cancelled {
        return BoardSla {
            state: BoardSlaState::Met,
            response_due,
            resolution_due,
            remaining_seconds: 0,
        };
    }
    if let (false, Some(done)) = (status.is_open(), facts.resolved_at) {
        let late = done > resolution_due || response_missed;
        return BoardSla {
            state: if late {
                BoardSlaState::Breached
            } else {
                BoardSlaState::Met
            },
            response_due,
            resolution_due,
            remaining_seconds: seconds(resolution_due.millis() - done.millis()),
        };
    }
    if let (Status::OnHold, Some(paused_at)) = (status, facts.paused_at) {
        let left = resolution_due.millis() - paused_at.millis();
        return BoardSla {
            state: if response_missed || left < 0 {
                BoardSlaState::Breached
            } else {
                BoardSlaState::Paused
            },
            response_due,
            resolution_due: now.plus_millis(left.max(0)).max(resolution_due),
            remaining_seconds: seconds(left),
        };
    }
    let mut clocks = vec![(resolution_due, facts.resolution_minutes)];
    if facts.responded_at.is_none() {
        clocks.push((response_due, facts.response_minutes));
    }
    let mut state = if response_missed {
        BoardSlaState::Breached
    } else {
        BoardSlaState::Ok
    };
    let mut remaining = i64::MAX;
    for (due, target_minutes) in clocks {
        let left = due.millis() - now.millis();
        remaining = remaining.min(left);
        let clock = if left < 0 {
            BoardSlaState::Breached
        } else if left < target_minutes.saturating_mul(60_000) / 4 {
            BoardSlaState::NearBreach
        } else {
            BoardSlaState::Ok
        };
        state = match (state, clock) {
            (BoardSlaState::Breached, _) | (_, BoardSlaState::Breached) => BoardSlaState::Breached,
            (BoardSlaState::NearBreach, _) | (_, BoardSlaState::NearBreach) => {
                BoardSlaState::NearBreach
            }
            _ => BoardSlaState::Ok,
        };
    }
    BoardSla {
        state,
        response_due,
        resolution_due,
        remaining_seconds: seconds(remaining),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::priority::Priority::*;
    use CustomerTier::*;
    use Urgency::*;

    #[test]
    fn targets_table() {
        let table = [
            (P1, Standard, Emergency, 30, 240),
            (P2, Standard, Normal, 120, 480),
            (P2, Vip, Normal, 30, 480),
            (P2, Standard, Emergency, 120, 240),
            (P3, Basic, Normal, 480, 2880),
            (P4, Standard, Minor, 1440, 7200),
            (P4, Vip, Minor, 30, 7200),
        ];
        for (p, t, u, response, resolution) in table {
            let got = sla_targets(p, t, u);
            assert_eq!(
                (got.response_minutes, got.resolution_minutes),
                (response, resolution),
                "{p} {t} {u}"
            );
        }
    }

    fn event(status: Status, at: Timestamp) -> crate::work_order::StatusEvent {
        crate::work_order::StatusEvent {
            id: crate::ids::EntryId::new(),
            status,
            by: crate::ids::UserId::new(),
            role: if status.is_field_status() {
                crate::classification::Role::Technician
            } else {
                crate::classification::Role::Dispatcher
            },
            device: crate::ids::DeviceId::new(),
            at,
            reason: None,
            hold: None,
        }
    }

    fn sample(created: Timestamp, events: &[(Status, Timestamp)]) -> WorkOrder {
        use crate::work_order::{Asset, Contact, Customer, Site};
        use autosurgeon::Text;
        WorkOrder {
            schema: crate::work_order::SCHEMA_VERSION,
            id: crate::ids::WorkOrderId::new(),
            number: "WO-TEST-0001".into(),
            channel: crate::classification::IntakeChannel::Phone,
            created_at: created,
            created_by: crate::ids::UserId::new(),
            customer: Customer {
                id: crate::ids::CustomerId::new(),
                name: "Harbor Bakery".into(),
                tier: Standard,
                site: Site {
                    address: "Am Sandtorkai 1".into(),
                    region: "north".into(),
                    latitude: 53.5,
                    longitude: 9.9,
                },
                contact: Contact {
                    name: "Ines".into(),
                    phone: "+49 40 1".into(),
                    email: "ines@example.com".into(),
                },
            },
            asset: Asset {
                model: "DX-200".into(),
                serial: "S1".into(),
            },
            category: crate::classification::ProblemCategory::Hardware,
            // P2: a response is due within two hours.
            urgency: Emergency,
            impact: crate::classification::Impact::OneUnit,
            assignee: None,
            schedule: None,
            description: "Oven cold".into(),
            notes: Text::default(),
            status_events: events.iter().map(|&(s, at)| event(s, at)).collect(),
            part_usages: vec![],
            repair_records: vec![],
            completion: None,
            attachments: vec![],
        }
    }

    #[test]
    fn a_device_clock_hours_ahead_is_sanitized_and_flagged() {
        let created = Timestamp(1_700_000_000_000);
        let now = created.plus_minutes(60);
        // The tablet's clock runs six hours ahead: it says it accepted five hours from now.
        let wo = sample(
            created,
            &[
                (Status::Assigned, created.plus_minutes(1)),
                (Status::Accepted, created.plus_minutes(6 * 60 + 10)),
            ],
        );
        let fold = crate::status::fold_status(&wo.status_events);
        let clock = sla_clock(&wo, &fold, wo.priority(), now);
        assert!(clock.times_adjusted, "the future time is flagged");
        assert_eq!(clock.responded_at, Some(now), "moved back to now");
        assert_eq!(clock.response, ClockState::Met, "not a made-up breach");
    }

    #[test]
    fn a_device_clock_hours_behind_is_sanitized_and_flagged() {
        let created = Timestamp(1_700_000_000_000);
        let now = created.plus_minutes(60);
        let wo = sample(
            created,
            &[
                (Status::Assigned, created.plus_minutes(1)),
                // Three hours behind: before the job existed.
                (Status::Accepted, created.plus_minutes(-170)),
            ],
        );
        let fold = crate::status::fold_status(&wo.status_events);
        let clock = sla_clock(&wo, &fold, wo.priority(), now);
        assert!(clock.times_adjusted);
        assert_eq!(clock.responded_at, Some(created.plus_minutes(1)));
        assert_eq!(fold.status, Status::Accepted, "the order of events decides");
    }

    #[test]
    fn clock_state_thresholds() {
        let due = Timestamp(1_000_000 + 60 * 60_000);
        let start = Timestamp(1_000_000);
        assert_eq!(
            clock_state(None, due, 60, start, false, Status::Assigned),
            ClockState::Running
        );
        assert_eq!(
            clock_state(
                None,
                due,
                60,
                start.plus_minutes(50),
                false,
                Status::Assigned
            ),
            ClockState::NearBreach
        );
        assert_eq!(
            clock_state(
                None,
                due,
                60,
                start.plus_minutes(61),
                false,
                Status::Assigned
            ),
            ClockState::Breached
        );
        assert_eq!(
            clock_state(None, due, 60, start.plus_minutes(61), true, Status::OnHold),
            ClockState::Paused
        );
        assert_eq!(
            clock_state(
                Some(start.plus_minutes(59)),
                due,
                60,
                start,
                false,
                Status::Completed
            ),
            ClockState::Met
        );
        assert_eq!(
            clock_state(
                Some(start.plus_minutes(61)),
                due,
                60,
                start,
                false,
                Status::Completed
            ),
            ClockState::Missed
        );
    }

    #[test]
    fn board_states_from_stored_facts() {
        let created = Timestamp(1_000_000_000);
        let facts = SlaFacts {
            response_minutes: 60,
            resolution_minutes: 240,
            ..SlaFacts::default()
        };
        let response_due = created.plus_minutes(60);
        let resolution_due = created.plus_minutes(240);
        let at = |minutes: i64, status: Status, facts: &SlaFacts| {
            board_sla(
                status,
                response_due,
                resolution_due,
                facts,
                created.plus_minutes(minutes),
            )
        };
        let fresh = at(10, Status::New, &facts);
        assert_eq!(fresh.state, BoardSlaState::Ok);
        assert_eq!(
            fresh.remaining_seconds,
            50 * 60,
            "the response clock is nearer"
        );
        assert_eq!(
            at(50, Status::Assigned, &facts).state,
            BoardSlaState::NearBreach
        );
        assert_eq!(
            at(61, Status::Assigned, &facts).state,
            BoardSlaState::Breached
        );
        assert_eq!(at(61, Status::Assigned, &facts).remaining_seconds, -60);

        let responded = SlaFacts {
            responded_at: Some(created.plus_minutes(20)),
            ..facts
        };
        let working = at(61, Status::InProgress, &responded);
        assert_eq!(working.state, BoardSlaState::Ok);
        assert_eq!(working.remaining_seconds, (240 - 61) * 60);
        assert_eq!(
            at(200, Status::InProgress, &responded).state,
            BoardSlaState::NearBreach
        );
        let late_response = SlaFacts {
            responded_at: Some(created.plus_minutes(70)),
            ..facts
        };
        assert_eq!(
            at(80, Status::InProgress, &late_response).state,
            BoardSlaState::Breached
        );

        let paused = SlaFacts {
            paused_at: Some(created.plus_minutes(100)),
            ..responded
        };
        let hold = at(500, Status::OnHold, &paused);
        assert_eq!(hold.state, BoardSlaState::Paused);
        assert_eq!(
            hold.remaining_seconds,
            140 * 60,
            "the clock stopped at minute 100"
        );
        assert_eq!(hold.resolution_due, created.plus_minutes(640));

        let done = SlaFacts {
            resolved_at: Some(created.plus_minutes(230)),
            ..responded
        };
        assert_eq!(at(900, Status::Completed, &done).state, BoardSlaState::Met);
        let done_late = SlaFacts {
            resolved_at: Some(created.plus_minutes(250)),
            ..responded
        };
        let late = at(900, Status::Closed, &done_late);
        assert_eq!(late.state, BoardSlaState::Breached);
        assert_eq!(late.remaining_seconds, -600);
        assert_eq!(at(900, Status::Cancelled, &facts).state, BoardSlaState::Met);
    }
}
