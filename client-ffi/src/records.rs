//! The records apps receive and send: flat copies of the library's types, with ids as
//! strings, times as Unix milliseconds and vocabulary words (status, priority, tier) as the
//! same snake_case words the JSON API uses. The full work order view, deeply nested, also comes
//! as JSON for screens that need every detail.

use std::time::Duration;

use fieldsync_client::{
    AgentOptions, ChangeSource, RejectedChange, Session, SyncReport, SyncState, SyncStatus,
};
use fieldsync_proto::{PartUsage, Priority, WorkOrderSummary, WorkOrderView};

fn priority(p: Priority) -> String {
    format!("{p:?}")
}

/// Who is signed in.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct SessionInfo {
    pub server_url: String,
    pub user_id: String,
    pub username: String,
    pub display_name: String,
    /// `technician`, `dispatcher` or `admin`.
    pub role: String,
    pub device_id: String,
    pub expires_at_ms: Option<i64>,
}

impl From<Session> for SessionInfo {
    fn from(s: Session) -> Self {
        SessionInfo {
            server_url: s.server_url,
            user_id: s.user_id.to_string(),
            username: s.username,
            display_name: s.display_name,
            role: s.role.to_string(),
            device_id: s.device_id.to_string(),
            expires_at_ms: s.expires_at.map(|t| t.millis()),
        }
    }
}

/// A row of a work order list.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct WorkOrderSummaryRecord {
    pub id: String,
    /// The number people use, e.g. `WO-7KQ2-M9XD`.
    pub number: String,
    /// `new`, `assigned`, `accepted`, `traveling`, `on_site`, `in_progress`, `on_hold`,
    /// `completed`, `closed` or `cancelled`.
    pub status: String,
    /// `P1` (most urgent) to `P4`.
    pub priority: String,
    pub customer_name: String,
    pub tier: String,
    pub region: String,
    pub category: String,
    pub assignee_id: Option<String>,
    pub created_at_ms: i64,
    pub response_due_ms: i64,
    pub resolution_due_ms: i64,
    pub schedule_start_ms: Option<i64>,
    /// Conflicts waiting for a dispatcher's review.
    pub conflicts: u32,
}

impl From<WorkOrderSummary> for WorkOrderSummaryRecord {
    fn from(s: WorkOrderSummary) -> Self {
        WorkOrderSummaryRecord {
            id: s.id.to_string(),
            number: s.number,
            status: s.status.to_string(),
            priority: priority(s.priority),
            customer_name: s.customer_name,
            tier: s.tier.to_string(),
            region: s.region,
            category: s.category.to_string(),
            assignee_id: s.assignee.map(|a| a.to_string()),
            created_at_ms: s.created_at.millis(),
            response_due_ms: s.response_due.millis(),
            resolution_due_ms: s.resolution_due.millis(),
            schedule_start_ms: s.schedule_start.map(|t| t.millis()),
            conflicts: s.conflicts,
        }
    }
}

/// A part recorded on a job.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct PartUsageRecord {
    pub part_number: String,
    pub quantity: i64,
    pub source_location: String,
    pub serial: Option<String>,
    pub refurbished: bool,
    pub at_ms: i64,
}

impl From<&PartUsage> for PartUsageRecord {
    fn from(p: &PartUsage) -> Self {
        PartUsageRecord {
            part_number: p.part_number.clone(),
            quantity: p.quantity,
            source_location: p.source_location.clone(),
            serial: p.serial.clone(),
            refurbished: p.refurbished,
            at_ms: p.at.millis(),
        }
    }
}

/// Everything a job screen shows; `view_json` holds the complete view (timeline, repair
/// records with measurements, SLA clocks) as JSON.
#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct WorkOrderDetails {
    pub id: String,
    pub number: String,
    pub status: String,
    pub priority: String,
    pub customer_name: String,
    pub customer_tier: String,
    pub address: String,
    pub region: String,
    pub contact_name: String,
    pub contact_phone: String,
    pub asset_model: String,
    pub asset_serial: String,
    pub category: String,
    pub description: String,
    pub notes: String,
    pub assignee_id: Option<String>,
    pub schedule_start_ms: Option<i64>,
    pub schedule_end_ms: Option<i64>,
    pub response_due_ms: i64,
    pub resolution_due_ms: i64,
    pub part_usages: Vec<PartUsageRecord>,
    pub repair_record_count: u32,
    pub resolution: Option<String>,
    /// Descriptions of conflicts waiting for a dispatcher's review.
    pub conflicts: Vec<String>,
    pub view_json: String,
}

impl From<WorkOrderView> for WorkOrderDetails {
    fn from(v: WorkOrderView) -> Self {
        let view_json = serde_json::to_string(&v).unwrap_or_default();
        WorkOrderDetails {
            id: v.id.to_string(),
            number: v.number.clone(),
            status: v.status.to_string(),
            priority: priority(v.priority),
            customer_name: v.customer.name.clone(),
            customer_tier: v.customer.tier.to_string(),
            address: v.customer.site.address.clone(),
            region: v.customer.site.region.clone(),
            contact_name: v.customer.contact.name.clone(),
            contact_phone: v.customer.contact.phone.clone(),
            asset_model: v.asset.model.clone(),
            asset_serial: v.asset.serial.clone(),
            category: v.category.to_string(),
            description: v.description.clone(),
            notes: v.notes.clone(),
            assignee_id: v.assignee.map(|a| a.to_string()),
            schedule_start_ms: v.schedule.map(|s| s.start.millis()),
            schedule_end_ms: v.schedule.map(|s| s.end.millis()),
            response_due_ms: v.sla.response_due.millis(),
            resolution_due_ms: v.sla.resolution_due.millis(),
            part_usages: v.part_usages.iter().map(PartUsageRecord::from).collect(),
            repair_record_count: u32::try_from(v.repair_records.len()).unwrap_or(u32::MAX),
            resolution: v.completion.as_ref().map(|c| c.resolution.clone()),
            conflicts: v
                .conflicts
                .iter()
                .map(|c| c.kind.describe().to_owned())
                .collect(),
            view_json,
        }
    }
}

/// A part to record.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct PartUsageInput {
    pub part_number: String,
    pub quantity: i64,
    /// The van or warehouse the part came from.
    pub source_location: String,
    pub serial: Option<String>,
    pub refurbished: bool,
}

/// A repair record to add; measurements go in as `name=value:unit` texts, e.g.
/// `pressure=2.4:bar`.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct RepairRecordInput {
    pub diagnosis: String,
    pub action_taken: String,
    pub measurements: Vec<String>,
}

/// Where the sync stands.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum SyncStateRecord {
    Idle,
    Connecting,
    Syncing {
        docs_done: u64,
        docs_total: u64,
        bytes_done: u64,
    },
    /// The server could not be reached; work is kept and sent later.
    Offline {
        reason: String,
    },
    /// Retrying alone will not help (sign in again, say); `reason` says what to do.
    Error {
        reason: String,
    },
}

/// The sync state and the figures shown beside it.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct SyncStatusRecord {
    pub state: SyncStateRecord,
    pub pending_changes: u64,
    /// The live connection is open: server changes arrive within moments.
    pub live: bool,
    pub last_synced_at_ms: Option<i64>,
}

impl From<SyncStatus> for SyncStatusRecord {
    fn from(s: SyncStatus) -> Self {
        let state = match s.state {
            SyncState::Idle => SyncStateRecord::Idle,
            SyncState::Connecting => SyncStateRecord::Connecting,
            SyncState::Syncing(p) => SyncStateRecord::Syncing {
                docs_done: p.docs_done,
                docs_total: p.docs_total,
                bytes_done: p.bytes_done,
            },
            SyncState::Offline { message } => SyncStateRecord::Offline { reason: message },
            SyncState::Error { message } => SyncStateRecord::Error { reason: message },
        };
        SyncStatusRecord {
            state,
            pending_changes: s.pending_changes,
            live: s.live,
            last_synced_at_ms: s.last_synced_at.map(|t| t.millis()),
        }
    }
}

/// What one sync did.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct SyncReportRecord {
    pub rounds: u32,
    pub pushed_docs: u32,
    pub accepted_docs: u32,
    pub rejected_docs: u32,
    pub pulled_docs: u32,
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl From<SyncReport> for SyncReportRecord {
    fn from(r: SyncReport) -> Self {
        SyncReportRecord {
            rounds: count(r.rounds),
            pushed_docs: count(r.pushed_docs),
            accepted_docs: count(r.accepted_docs),
            rejected_docs: count(r.rejected_docs),
            pulled_docs: count(r.pulled_docs),
        }
    }
}

/// A local change the server refused, with its reason.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct RejectedChangeRecord {
    pub work_order_id: String,
    pub number: String,
    /// What was done, e.g. `record_part_usage`.
    pub edit: String,
    pub code: String,
    pub reason: String,
    pub at_ms: i64,
}

impl From<RejectedChange> for RejectedChangeRecord {
    fn from(r: RejectedChange) -> Self {
        RejectedChangeRecord {
            work_order_id: r.doc.to_string(),
            number: r.number.clone(),
            edit: r.edit.name().to_owned(),
            code: r.code.to_string(),
            reason: r.message,
            at_ms: r.at.millis(),
        }
    }
}

/// When the background agent syncs; every field has a sensible default.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct BackgroundSyncOptions {
    /// Quiet time after a local edit before it is uploaded.
    #[uniffi(default = 200)]
    pub debounce_ms: u64,
    /// A sync at least this often.
    #[uniffi(default = 300000)]
    pub periodic_ms: u64,
    /// First wait after a failure; doubles up to `retry_max_ms`.
    #[uniffi(default = 1000)]
    pub retry_min_ms: u64,
    #[uniffi(default = 60000)]
    pub retry_max_ms: u64,
    /// Keep a live connection so that server changes arrive at once.
    #[uniffi(default = true)]
    pub live: bool,
}

impl Default for BackgroundSyncOptions {
    fn default() -> Self {
        let d = AgentOptions::default();
        BackgroundSyncOptions {
            debounce_ms: d.debounce.as_millis() as u64,
            periodic_ms: d.periodic.as_millis() as u64,
            retry_min_ms: d.retry_min.as_millis() as u64,
            retry_max_ms: d.retry_max.as_millis() as u64,
            live: d.live,
        }
    }
}

impl From<BackgroundSyncOptions> for AgentOptions {
    fn from(o: BackgroundSyncOptions) -> Self {
        let debounce = Duration::from_millis(o.debounce_ms);
        AgentOptions {
            debounce,
            max_debounce: (debounce * 10).max(Duration::from_secs(1)),
            periodic: Duration::from_millis(o.periodic_ms.max(1000)),
            retry_min: Duration::from_millis(o.retry_min_ms.max(10)),
            retry_max: Duration::from_millis(o.retry_max_ms.max(o.retry_min_ms).max(10)),
            live: o.live,
        }
    }
}

/// Whether a change notification came from the server (else from this device).
pub(crate) fn from_server(source: ChangeSource) -> bool {
    source == ChangeSource::Server
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_options_match_the_library() {
        let back: AgentOptions = BackgroundSyncOptions::default().into();
        let lib = AgentOptions::default();
        assert_eq!(back.debounce, lib.debounce);
        assert_eq!(back.periodic, lib.periodic);
        assert_eq!(back.retry_max, lib.retry_max);
        assert!(back.live);
    }
}
