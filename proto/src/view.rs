//! Read models of a work order for people and programs: the full view (document plus derived
//! values, as JSON) and the one-line summary kept in index tables for fast lists.

use serde::{Deserialize, Serialize};

use crate::attachment::Attachment;
use crate::classification::{CustomerTier, Impact, IntakeChannel, ProblemCategory, Urgency};
use crate::ids::{UserId, WorkOrderId};
use crate::priority::Priority;
use crate::sla::SlaClock;
use crate::status::{Conflict, Status};
use crate::time::Timestamp;
use crate::work_order::{
    Asset, Completion, Customer, PartUsage, RepairRecord, ScheduleWindow, StatusEvent, WorkOrder,
};

/// Everything about one work order, with its derived values.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WorkOrderView {
    pub id: WorkOrderId,
    pub number: String,
    pub status: Status,
    pub priority: Priority,
    pub sla: SlaClock,
    pub conflicts: Vec<Conflict>,
    pub channel: IntakeChannel,
    pub created_at: Timestamp,
    pub created_by: UserId,
    pub customer: Customer,
    pub asset: Asset,
    pub category: ProblemCategory,
    pub urgency: Urgency,
    pub impact: Impact,
    pub assignee: Option<UserId>,
    pub schedule: Option<ScheduleWindow>,
    pub description: String,
    pub notes: String,
    pub status_events: Vec<StatusEvent>,
    pub part_usages: Vec<PartUsage>,
    pub repair_records: Vec<RepairRecord>,
    pub completion: Option<Completion>,
    pub parts_used: i64,
    /// Photos, signatures and documents (references; the bytes are at `/v1/blobs/{sha256}`).
    #[serde(default)]
    pub attachments: Vec<Attachment>,
}

impl WorkOrderView {
    pub fn new(wo: &WorkOrder, now: Timestamp) -> Self {
        let derived = wo.derive(now);
        Self {
            id: wo.id,
            number: wo.number.clone(),
            status: derived.status,
            priority: derived.priority,
            sla: derived.sla,
            conflicts: derived.conflicts,
            channel: wo.channel,
            created_at: wo.created_at,
            created_by: wo.created_by,
            customer: wo.customer.clone(),
            asset: wo.asset.clone(),
            category: wo.category,
            urgency: wo.urgency,
            impact: wo.impact,
            assignee: wo.assignee,
            schedule: wo.schedule,
            description: wo.description.clone(),
            notes: wo.notes.as_str().to_owned(),
            status_events: wo.status_events.clone(),
            part_usages: wo.unique_part_usages().cloned().collect(),
            repair_records: wo.unique_repair_records().cloned().collect(),
            completion: wo.completion.clone(),
            parts_used: derived.parts_used,
            attachments: wo.unique_attachments().cloned().collect(),
        }
    }
}

/// One line per work order, as stored in index tables and shown in lists.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WorkOrderSummary {
    pub id: WorkOrderId,
    pub number: String,
    pub status: Status,
    pub priority: Priority,
    pub customer_name: String,
    pub tier: CustomerTier,
    pub region: String,
    pub category: ProblemCategory,
    pub assignee: Option<UserId>,
    pub created_at: Timestamp,
    pub response_due: Timestamp,
    pub resolution_due: Timestamp,
    pub schedule_start: Option<Timestamp>,
    pub conflicts: u32,
}

impl WorkOrderSummary {
    pub fn new(wo: &WorkOrder, now: Timestamp) -> Self {
        let d = wo.derive(now);
        Self {
            id: wo.id,
            number: wo.number.clone(),
            status: d.status,
            priority: d.priority,
            customer_name: wo.customer.name.clone(),
            tier: wo.customer.tier,
            region: wo.customer.site.region.clone(),
            category: wo.category,
            assignee: wo.assignee,
            created_at: wo.created_at,
            response_due: d.sla.response_due,
            resolution_due: d.sla.resolution_due,
            schedule_start: wo.schedule.map(|s| s.start),
            conflicts: u32::try_from(d.conflicts.len()).unwrap_or(u32::MAX),
        }
    }
}
