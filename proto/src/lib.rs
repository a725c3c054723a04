//! Fieldsync's shared vocabulary: the domain types and rules of field service, the work order
//! document schema, and the wire protocol between devices and the server.
//!
//! Pure by design: no I/O and no async runtime, so every rule is tested deterministically and
//! the client library and the server can never disagree on what a work order means.
//!
//! With the `openapi` feature (the server's), the JSON bodies also describe themselves as
//! OpenAPI schemas (`utoipa::ToSchema`); the device library builds without it.

mod actions;
pub mod api;
mod attachment;
mod canonical;
mod chunks;
mod classification;
mod derived;
mod dispatch;
mod document;
mod fields;
mod followup;
mod ids;
mod intake;
mod kpi;
pub mod live;
#[cfg(feature = "openapi")]
mod openapi;
mod priority;
pub mod rules;
mod shape;
mod sla;
mod snapshot;
mod status;
mod stock;
#[cfg(test)]
mod testing;
mod time;
mod validation;
mod view;
mod vocab;
pub mod wire;
mod work_order;

pub use actions::{
    apply_action, create_work_order, Action, ActionError, Actor, NewPartUsage, NewRepairRecord,
    NewWorkOrder, Violations,
};
pub use attachment::{
    content_type_for, Attachment, AttachmentKind, BadBlobHash, BlobHash, NewAttachment,
    UploadStart, UploadStatus, BLOBS_PATH, CHUNK_SHA256_HEADER, MAX_CONTENT_TYPE_BYTES,
    MAX_FILE_NAME_BYTES,
};
pub use chunks::count_chunks;
pub use classification::{
    CustomerTier, HoldReason, Impact, IntakeChannel, ProblemCategory, Role, Urgency,
};
pub use derived::Derived;
pub use dispatch::{
    haversine_km, rank, required_skill, DispatchJob, Suggestion, TechnicianProfile,
};
pub use document::{
    actor_for, change_made_at, DocumentError, LocalChange, MergedChange, WorkOrderDocument,
};
pub use followup::{
    due_followups, followup_due_at, nps, record_followup, DueFollowUp, FollowUp, FollowUpError,
    NewFollowUp, Nps, FOLLOW_UP_DELAY_HOURS,
};
pub use ids::{CustomerId, DeviceId, EntryId, IdParseError, PartNumber, UserId, WorkOrderId};
pub use intake::{intake_preview, IntakePreview};
pub use kpi::{
    kpi_report, DurationStats, KpiError, KpiFigures, KpiOptions, KpiPeriod, KpiReport, PeriodKpis,
    Rate, RepeatRepair, SatisfactionAverage, TechnicianKpis, REPEAT_REPAIR_DAYS,
};
pub use priority::{priority, Priority};
pub use sla::{
    board_sla, sla_clock, sla_targets, BoardSla, BoardSlaState, ClockState, SlaClock, SlaFacts,
    SlaTargets,
};
pub use status::{fold_status, Conflict, ConflictKind, Status, StatusFold};
pub use stock::{
    derive_stock, stock_alerts, stock_levels, usages_from_work_order, MovementError, MovementKind,
    StockAlert, StockAlertKind, StockKey, StockLevel, StockMovement, MAX_MOVEMENT_QUANTITY,
};
pub use time::Timestamp;
pub use validation::{validate, Violation, MAX_ENTRIES, MAX_PART_QUANTITY, MAX_TEXT_BYTES};
pub use view::{WorkOrderSummary, WorkOrderView};
pub use vocab::UnknownWord;
pub use work_order::{
    human_number, Asset, Completion, Contact, Customer, Measurement, PartUsage, RepairRecord,
    ScheduleWindow, Site, StatusEvent, WorkOrder, SCHEMA_VERSION,
};

/// Re-exported so that users of the document API name the same Automerge types.
pub use automerge::ChangeHash;
