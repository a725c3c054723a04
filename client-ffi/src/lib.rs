//! Fieldsync for Kotlin, Swift and Python apps: a thin UniFFI layer over `fieldsync-client`.
//! It only wraps the Rust API: `FieldsyncClient` (an object), records for what apps show,
//! `FieldsyncError` (typed, with messages a person can act on), async functions run on the
//! library's own tokio runtime, and `ClientListener`, a callback interface for change and
//! sync-state notifications whose `TaskHandle` stops the notifications when dropped.
//!
//! Generate the bindings with `scripts/generate-bindings.sh`.

mod client;
mod error;
mod listener;
mod records;
mod runtime;

pub use client::FieldsyncClient;
pub use error::FieldsyncError;
pub use listener::{ClientListener, TaskHandle};
pub use records::{
    BackgroundSyncOptions, PartUsageInput, PartUsageRecord, RejectedChangeRecord,
    RepairRecordInput, SessionInfo, SyncReportRecord, SyncStateRecord, SyncStatusRecord,
    WorkOrderDetails, WorkOrderSummaryRecord,
};

uniffi::setup_scaffolding!();
