//! The work order lifecycle: the status is a deterministic fold over the append-only list of
//! status events, the same on every replica, with impossible concurrent sequences flagged.

use serde::{Deserialize, Serialize};

use crate::classification::Role;
use crate::ids::EntryId;
use crate::vocab::word_enum;
use crate::work_order::StatusEvent;

word_enum!(
    /// Where a work order is in its life.
    Status, "status" {
        New => "new",
        Assigned => "assigned",
        Accepted => "accepted",
        Traveling => "traveling",
        OnSite => "on_site",
        InProgress => "in_progress",
        OnHold => "on_hold",
        Completed => "completed",
        Closed => "closed",
        Cancelled => "cancelled",
    }
);

impl Status {
    /// Position in the normal flow; `OnHold` sits beside `InProgress`. Cancelled is outside it.
    fn stage(self) -> u8 {
        match self {
            Status::New => 0,
            Status::Assigned => 1,
            Status::Accepted => 2,
            Status::Traveling => 3,
            Status::OnSite => 4,
            Status::InProgress | Status::OnHold => 5,
            Status::Completed => 6,
            Status::Closed => 7,
            Status::Cancelled => 8,
        }
    }

    /// Open work: not completed, closed or cancelled.
    pub fn is_open(self) -> bool {
        !matches!(self, Status::Completed | Status::Closed | Status::Cancelled)
    }

    /// The technician has started real work on site.
    pub fn work_started(self) -> bool {
        matches!(
            self,
            Status::OnSite
                | Status::InProgress
                | Status::OnHold
                | Status::Completed
                | Status::Closed
        )
    }

    /// Statuses a technician sets from the field.
    pub fn is_field_status(self) -> bool {
        matches!(
            self,
            Status::Accepted
                | Status::Traveling
                | Status::OnSite
                | Status::InProgress
                | Status::OnHold
                | Status::Completed
        )
    }

    /// Who may append an event moving to this status.
    pub fn allowed_for(self, role: Role) -> bool {
        if self.is_field_status() {
            // The office may not forge field work; admins may, to repair records.
            role == Role::Technician || role == Role::Admin
        } else {
            role.is_office()
        }
    }

    /// The transitions of the normal flow, as a single person working alone would make them.
    pub fn can_move_to(self, to: Status) -> bool {
        use Status::*;
        matches!(
            (self, to),
            (New, Assigned)
                | (New, Cancelled)
                | (Assigned, Assigned)
                | (Assigned, Accepted)
                | (Assigned, Cancelled)
                | (Accepted, Assigned)
                | (Accepted, Traveling)
                | (Accepted, Cancelled)
                | (Traveling, Assigned)
                | (Traveling, OnSite)
                | (Traveling, Cancelled)
                | (OnSite, InProgress)
                | (InProgress, OnHold)
                | (InProgress, Completed)
                | (OnHold, InProgress)
                | (OnHold, Assigned)
                | (Completed, Closed)
        )
    }
}

/// What the fold found impossible, kept so a dispatcher can review it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Conflict {
    /// The event that did not fit the sequence.
    pub event: EntryId,
    pub kind: ConflictKind,
    pub from: Status,
    pub to: Status,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ConflictKind {
    /// The technician worked on a job that the office had cancelled: the work stands.
    WorkedAfterCancellation,
    /// The office cancelled a job on which work had already started: the cancellation is set aside.
    CancelledAfterWorkStarted,
    /// The job was reassigned while its technician was already working on it.
    ReassignedDuringWork,
    /// Field progress arrived out of order (a step was skipped by concurrent edits): it is kept.
    SkippedSteps,
    /// An event that moves the job backwards; it is set aside.
    OutOfOrder,
}

impl ConflictKind {
    pub fn describe(self) -> &'static str {
        match self {
            ConflictKind::WorkedAfterCancellation => {
                "the technician worked on the job after the office cancelled it; the work was kept"
            }
            ConflictKind::CancelledAfterWorkStarted => {
                "the office cancelled the job after work had started on site; the cancellation was set aside"
            }
            ConflictKind::ReassignedDuringWork => {
                "the job was reassigned while its technician was working on it; the reassignment was set aside"
            }
            ConflictKind::SkippedSteps => "field progress arrived out of order; it was kept",
            ConflictKind::OutOfOrder => "a status change would move the job backwards; it was set aside",
        }
    }
}

/// The result of folding a work order's status events.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusFold {
    pub status: Status,
    pub conflicts: Vec<Conflict>,
    /// Index (into the event list) of each event that took effect.
    pub applied: Vec<usize>,
}

/// Folds status events in list order. List order in the document is causal (an event appended
/// after seeing another comes after it) and the same on every replica, so the fold never depends
/// on device clocks.
pub fn fold_status(events: &[StatusEvent]) -> StatusFold {
    let mut status = Status::New;
    let mut conflicts = Vec::new();
    let mut applied = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (index, event) in events.iter().enumerate() {
        if !seen.insert(event.id) {
            continue; // the same entry twice counts once
        }
        let to = event.status;
        let from = status;
        if from.can_move_to(to) {
            status = to;
            applied.push(index);
            continue;
        }
        let conflict = |kind| Conflict {
            event: event.id,
            kind,
            from,
            to,
        };
        match (from, to) {
            (Status::Cancelled, to) if to.is_field_status() => {
                conflicts.push(conflict(ConflictKind::WorkedAfterCancellation));
                status = to;
                applied.push(index);
            }
            (from, Status::Cancelled) if from.work_started() => {
                conflicts.push(conflict(ConflictKind::CancelledAfterWorkStarted));
            }
            (from, Status::Assigned) if from.work_started() => {
                conflicts.push(conflict(ConflictKind::ReassignedDuringWork));
            }
            (from, to) if from == to => {
                // A repeated step (two devices both marked "traveling"): nothing to do.
            }
            (from, to)
                if to.is_field_status()
                    && from != Status::Cancelled
                    && from != Status::Closed
                    && to.stage() > from.stage() =>
            {
                conflicts.push(conflict(ConflictKind::SkippedSteps));
                status = to;
                applied.push(index);
            }
            _ => conflicts.push(conflict(ConflictKind::OutOfOrder)),
        }
    }
    StatusFold {
        status,
        conflicts,
        applied,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{DeviceId, UserId};
    use crate::time::Timestamp;

    fn ev(status: Status, role: Role) -> StatusEvent {
        StatusEvent {
            id: EntryId::new(),
            status,
            by: UserId::new(),
            role,
            device: DeviceId::new(),
            at: Timestamp(0),
            reason: None,
            hold: None,
        }
    }

    fn statuses(list: &[(Status, Role)]) -> Vec<StatusEvent> {
        list.iter().map(|&(s, r)| ev(s, r)).collect()
    }

    use Role::{Dispatcher as D, Technician as T};
    use Status::*;

    #[test]
    fn normal_flow_has_no_conflicts() {
        let events = statuses(&[
            (Assigned, D),
            (Accepted, T),
            (Traveling, T),
            (OnSite, T),
            (InProgress, T),
            (OnHold, T),
            (InProgress, T),
            (Completed, T),
            (Closed, D),
        ]);
        let fold = fold_status(&events);
        assert_eq!(fold.status, Closed);
        assert!(fold.conflicts.is_empty());
    }

    #[test]
    fn cancel_and_complete_resolve_the_same_in_either_order() {
        let work = [
            (Accepted, T),
            (Traveling, T),
            (OnSite, T),
            (InProgress, T),
            (Completed, T),
        ];
        let mut cancel_first = vec![(Assigned, D), (Cancelled, D)];
        cancel_first.extend(work);
        let mut cancel_last = vec![(Assigned, D)];
        cancel_last.extend(work);
        cancel_last.push((Cancelled, D));
        let mut interleaved = vec![(Assigned, D), (Accepted, T), (Traveling, T), (Cancelled, D)];
        interleaved.extend([(OnSite, T), (InProgress, T), (Completed, T)]);

        for case in [cancel_first, cancel_last, interleaved] {
            let fold = fold_status(&statuses(&case));
            assert_eq!(fold.status, Completed, "{case:?}");
            assert_eq!(fold.conflicts.len(), 1, "{case:?}: {:?}", fold.conflicts);
        }
    }

    #[test]
    fn cancel_before_any_work_stands() {
        let fold = fold_status(&statuses(&[(Assigned, D), (Cancelled, D)]));
        assert_eq!(fold.status, Cancelled);
        assert!(fold.conflicts.is_empty());
    }

    #[test]
    fn reassignment_during_work_is_set_aside_and_flagged() {
        let fold = fold_status(&statuses(&[
            (Assigned, D),
            (Accepted, T),
            (Traveling, T),
            (OnSite, T),
            (Assigned, D),
            (InProgress, T),
        ]));
        assert_eq!(fold.status, InProgress);
        assert_eq!(fold.conflicts[0].kind, ConflictKind::ReassignedDuringWork);
    }

    #[test]
    fn duplicate_entries_count_once() {
        let a = ev(Assigned, D);
        let fold = fold_status(&[a.clone(), a]);
        assert_eq!(fold.status, Assigned);
        assert_eq!(fold.applied, vec![0]);
    }

    #[test]
    fn nothing_moves_a_closed_job() {
        let fold = fold_status(&statuses(&[
            (Assigned, D),
            (Accepted, T),
            (Traveling, T),
            (OnSite, T),
            (InProgress, T),
            (Completed, T),
            (Closed, D),
            (Accepted, T),
        ]));
        assert_eq!(fold.status, Closed);
        assert_eq!(fold.conflicts[0].kind, ConflictKind::OutOfOrder);
    }
}
