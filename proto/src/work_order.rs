//! The work order document schema: what one Automerge document holds, as typed Rust structs.
//!
//! Plain fields are owned by one side (see `rules`); whatever has a history is an append-only
//! list of entries with device-made ids; notes are mergeable text. Priority, SLA due times and the
//! current status are derived (see `derived`), never stored, so concurrent edits cannot leave a
//! stale computed value behind.

use autosurgeon::{Hydrate, Reconcile, Text};

use crate::attachment::Attachment;
use crate::classification::{
    CustomerTier, HoldReason, Impact, IntakeChannel, ProblemCategory, Role, Urgency,
};
use crate::ids::{CustomerId, DeviceId, EntryId, UserId, WorkOrderId};
use crate::status::Status;
use crate::time::Timestamp;

/// Version of the document layout written by this code.
pub const SCHEMA_VERSION: i64 = 1;

#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate)]
pub struct WorkOrder {
    pub schema: i64,
    pub id: WorkOrderId,
    /// Human number used on the phone and on paper, e.g. `WO-7KQ2-M9XD`.
    pub number: String,
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
    pub notes: Text,
    pub status_events: Vec<StatusEvent>,
    pub part_usages: Vec<PartUsage>,
    pub repair_records: Vec<RepairRecord>,
    pub completion: Option<Completion>,
    /// Photos, signatures and documents; documents written before attachments existed have none.
    #[autosurgeon(missing = "Vec::new")]
    pub attachments: Vec<Attachment>,
}

#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Customer {
    pub id: CustomerId,
    pub name: String,
    pub tier: CustomerTier,
    pub site: Site,
    pub contact: Contact,
}

#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Site {
    pub address: String,
    pub region: String,
    pub latitude: f64,
    pub longitude: f64,
}

#[derive(
    Debug, Clone, PartialEq, Default, Reconcile, Hydrate, serde::Serialize, serde::Deserialize,
)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Contact {
    pub name: String,
    pub phone: String,
    pub email: String,
}

#[derive(
    Debug, Clone, PartialEq, Default, Reconcile, Hydrate, serde::Serialize, serde::Deserialize,
)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Asset {
    pub model: String,
    pub serial: String,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Reconcile, Hydrate, serde::Serialize, serde::Deserialize,
)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ScheduleWindow {
    pub start: Timestamp,
    pub end: Timestamp,
}

/// One step of the lifecycle, appended by whoever made it.
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatusEvent {
    #[key]
    pub id: EntryId,
    pub status: Status,
    pub by: UserId,
    pub role: Role,
    pub device: DeviceId,
    /// When the person acted, by the device's clock.
    pub at: Timestamp,
    pub reason: Option<String>,
    pub hold: Option<HoldReason>,
}

/// A part taken from a van or warehouse and used on this job.
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PartUsage {
    #[key]
    pub id: EntryId,
    pub part_number: String,
    pub quantity: i64,
    /// The stock location the part came from (a van or warehouse code).
    pub source_location: String,
    pub serial: Option<String>,
    pub refurbished: bool,
    pub by: UserId,
    pub device: DeviceId,
    pub at: Timestamp,
}

/// What the technician found and did.
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RepairRecord {
    #[key]
    pub id: EntryId,
    pub diagnosis: String,
    pub action_taken: String,
    pub measurements: Vec<Measurement>,
    pub by: UserId,
    pub device: DeviceId,
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Measurement {
    /// What was measured, e.g. `pressure`.
    pub name: String,
    pub value: f64,
    /// Unit of `value`, e.g. `bar`.
    pub unit: String,
}

/// Written by the technician when the job is done.
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Completion {
    pub resolution: String,
    /// Name of the customer who signed for the work, if anyone did.
    pub signed_by: Option<String>,
    pub first_time_fix: bool,
    pub by: UserId,
    pub device: DeviceId,
    pub at: Timestamp,
}

impl WorkOrder {
    /// Part usages with each entry counted once, in list order.
    pub fn unique_part_usages(&self) -> impl Iterator<Item = &PartUsage> {
        let mut seen = std::collections::HashSet::new();
        self.part_usages.iter().filter(move |u| seen.insert(u.id))
    }

    /// Attachments with each entry counted once, in list order.
    pub fn unique_attachments(&self) -> impl Iterator<Item = &Attachment> {
        let mut seen = std::collections::HashSet::new();
        self.attachments.iter().filter(move |a| seen.insert(a.id))
    }

    /// Repair records with each entry counted once, in list order.
    pub fn unique_repair_records(&self) -> impl Iterator<Item = &RepairRecord> {
        let mut seen = std::collections::HashSet::new();
        self.repair_records
            .iter()
            .filter(move |r| seen.insert(r.id))
    }
}

/// A human number from the id: short, unambiguous letters, stable on every replica.
pub fn human_number(id: &WorkOrderId) -> String {
    const ALPHABET: &[u8] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
    let bytes = id.as_uuid().as_bytes();
    // The last bytes of a UUIDv7 are random; 40 bits give 8 characters.
    let mut n: u64 = 0;
    for b in &bytes[11..16] {
        n = (n << 8) | u64::from(*b);
    }
    let mut out = String::with_capacity(12);
    out.push_str("WO-");
    for i in 0..8 {
        if i == 4 {
            out.push('-');
        }
        let shift = 35 - 5 * i;
        out.push(char::from(ALPHABET[((n >> shift) & 31) as usize]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_numbers_are_short_and_distinct() {
        let a = human_number(&WorkOrderId::new());
        let b = human_number(&WorkOrderId::new());
        assert_eq!(a.len(), 12, "{a}");
        assert!(a.starts_with("WO-"));
        assert_ne!(a, b);
    }
}
