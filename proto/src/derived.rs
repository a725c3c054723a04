//! Values derived from a work order document by deterministic folds: status and conflicts,
//! priority, SLA clocks, parts totals. Every replica computes the same from the same document.

use serde::{Deserialize, Serialize};

use crate::priority::{priority, Priority};
use crate::sla::{sla_clock, SlaClock};
use crate::status::{fold_status, Conflict, Status};
use crate::time::Timestamp;
use crate::work_order::WorkOrder;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Derived {
    pub status: Status,
    pub priority: Priority,
    pub conflicts: Vec<Conflict>,
    pub sla: SlaClock,
    pub parts_used: i64,
}

impl WorkOrder {
    /// Everything computed from the document, with SLA clocks as of `now`.
    pub fn derive(&self, now: Timestamp) -> Derived {
        let fold = fold_status(&self.status_events);
        let priority = self.priority();
        let sla = sla_clock(self, &fold, priority, now);
        Derived {
            status: fold.status,
            priority,
            conflicts: fold.conflicts,
            sla,
            parts_used: self.unique_part_usages().map(|u| u.quantity).sum(),
        }
    }

    pub fn priority(&self) -> Priority {
        priority(self.urgency, self.impact, self.customer.tier)
    }

    pub fn status(&self) -> Status {
        fold_status(&self.status_events).status
    }
}
