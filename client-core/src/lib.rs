//! Fieldsync's device library: work orders kept in a local SQLite store as Automerge documents,
//! edited offline with every edit durable before the call returns, and synchronised with the
//! server through an outbox and a cursor. The `fieldsync` CLI is built on it.
//!
//! ```no_run
//! # async fn demo() -> fieldsync_client::Result<()> {
//! let client = fieldsync_client::Client::open("/data/fieldsync")?;
//! client.login("https://fieldsync.example.com", "ana", "secret", "Ana's tablet").await?;
//! client.sync().await?;
//! for job in client.my_open_jobs()? {
//!     println!("{} {:?} {}", job.number, job.priority, job.customer_name);
//! }
//! # Ok(()) }
//! ```

mod admin;
mod agent;
mod attachments;
mod client;
mod edit;
mod error;
mod events;
mod local;
mod query;
mod remote;
mod session;
mod shortcuts;
mod store;
mod sync;
#[cfg(test)]
mod testing;

pub mod cli;

pub use admin::AuditFilter;
pub use agent::{AgentOptions, SyncAgent};
pub use attachments::{
    AttachSource, AttachmentInfo, PendingUpload, UploadProgress, UploadReport, ATTACHMENTS_DIR,
    CHUNK_BYTES,
};
pub use client::Client;
pub use edit::{LocalEdit, RejectedChange};
pub use error::{Error, Result, StoreError};
pub use events::{ChangeSource, ClientEvent, Subscription, SyncState, SyncStatus};
pub use fieldsync_proto::api::{AuditEntry, AuditKind, DeviceInfo, TechnicianInfo};
pub use query::{ListOrder, ListQuery};
pub use session::{LoginOptions, Session};
pub use store::DB_FILE;
pub use sync::{SyncProgress, SyncReport};
