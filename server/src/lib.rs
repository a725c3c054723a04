//! The Fieldsync server: the sync endpoint devices talk to, the dispatcher API, sign-in, and
//! the storage behind them.
//!
//! `RunningServer::start` is the whole server in a tokio task (the binary and end-to-end tests
//! use it); `app` is the router alone, for tests that call it with `oneshot`.

mod accounts;
pub mod auth;
pub mod blobs;
pub mod demo;
mod error;
mod job_queue;
pub mod live;
mod routes;
mod server;
mod state;
pub mod storage;
pub mod sync;
mod tls;

pub use auth::limit::{BucketLimit, LoginLimits};
pub use blobs::{BlobLimits, BlobStore, FsBlobStore};
pub use error::Error;
pub use fieldsync_proto::api::{NewUser, TechnicianProfile};
pub use routes::{app, openapi_document, MAX_JSON_BYTES, OPENAPI_PATH, REQUEST_TIMEOUT};
pub use server::{RunningServer, ServerOptions, StartOptions, BLOB_DIR, DATABASE_FILE};
pub use state::{AppState, TOKEN_TTL_MILLIS};
pub use storage::{SharedStorage, SqliteStorage, Storage};
pub use tls::TlsFiles;
