//! `AppState`: what every request handler shares: the storage and the server's own identity.

use std::sync::Arc;

use automerge::ActorId;
use fieldsync_proto::api::NewUser;
use fieldsync_proto::UserId;

use crate::auth::limit::{LoginLimiter, LoginLimits};
use crate::blobs::{BlobLimits, SharedBlobStore};
use crate::error::Error;
use crate::storage::{NewAuditEntry, SharedStorage};
use crate::sync::budget::PullBudget;
use crate::sync::cache::DocumentCache;
use crate::sync::merger::MergeThreads;

/// How long a login stays valid.
pub const TOKEN_TTL_MILLIS: i64 = 30 * 24 * 60 * 60 * 1000;

#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    storage: SharedStorage,
    /// Automerge actor of edits made through the JSON API, new for every process so that it
    /// never repeats a sequence number another process (or a device) used.
    server_actor: ActorId,
    /// Flips to `true` when the server shuts down, so that long-lived connections close.
    shutdown: tokio::sync::watch::Sender<bool>,
    /// In memory: each server instance limits the attempts it sees.
    login_limiter: LoginLimiter,
    /// Attachment bytes; `None` in routers built without one (attachment routes then refuse).
    blobs: Option<SharedBlobStore>,
    blob_limits: BlobLimits,
    /// Documents pushed to lately, kept loaded for the next push.
    hot_documents: Arc<DocumentCache>,
    /// The threads pushed documents are merged on.
    merges: MergeThreads,
    /// Bytes of pull pages built at once.
    pull_budget: PullBudget,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("server_actor", &self.inner.server_actor)
            .finish_non_exhaustive()
    }
}

impl AppState {
    pub fn new(storage: SharedStorage) -> Self {
        Self::with_login_limits(storage, LoginLimits::default())
    }

    /// With other login rate limits than the defaults.
    pub fn with_login_limits(storage: SharedStorage, limits: LoginLimits) -> Self {
        Self::build(storage, limits, None, BlobLimits::default())
    }

    /// With a blob store for attachments and limits on uploads.
    pub fn with_blobs(
        storage: SharedStorage,
        login_limits: LoginLimits,
        blobs: SharedBlobStore,
        blob_limits: BlobLimits,
    ) -> Self {
        Self::build(storage, login_limits, Some(blobs), blob_limits)
    }

    fn build(
        storage: SharedStorage,
        login_limits: LoginLimits,
        blobs: Option<SharedBlobStore>,
        blob_limits: BlobLimits,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                storage,
                server_actor: ActorId::random(),
                shutdown: tokio::sync::watch::Sender::new(false),
                login_limiter: LoginLimiter::new(login_limits),
                blobs,
                blob_limits,
                hot_documents: Arc::default(),
                merges: MergeThreads::default(),
                pull_budget: PullBudget::default(),
            }),
        }
    }

    /// The attachment blob store, if this server has one.
    pub fn blobs(&self) -> Option<&SharedBlobStore> {
        self.inner.blobs.as_ref()
    }

    pub fn blob_limits(&self) -> BlobLimits {
        self.inner.blob_limits
    }

    pub fn login_limiter(&self) -> &LoginLimiter {
        &self.inner.login_limiter
    }

    /// Appends to the audit trail.
    pub async fn audit(&self, entries: Vec<NewAuditEntry>) -> Result<(), Error> {
        self.inner.storage.append_audit(entries).await?;
        Ok(())
    }

    /// The cache of documents pushed to lately.
    pub fn hot_documents(&self) -> &Arc<DocumentCache> {
        &self.inner.hot_documents
    }

    /// The threads pushed documents are merged on.
    pub fn merges(&self) -> &MergeThreads {
        &self.inner.merges
    }

    /// The bytes of pull pages this server may build at once.
    pub fn pull_budget(&self) -> &PullBudget {
        &self.inner.pull_budget
    }

    pub fn storage(&self) -> &SharedStorage {
        &self.inner.storage
    }

    pub fn server_actor(&self) -> &ActorId {
        &self.inner.server_actor
    }

    /// Becomes `true` when the server starts shutting down.
    pub fn shutdown_signal(&self) -> tokio::sync::watch::Receiver<bool> {
        self.inner.shutdown.subscribe()
    }

    /// Tells long-lived connections (live WebSockets) to close: a graceful shutdown waits for
    /// requests in flight, and upgraded connections would otherwise never end.
    pub fn begin_shutdown(&self) {
        self.inner.shutdown.send_replace(true);
    }

    /// Creates an account after checking every field; the password is stored only hashed.
    pub async fn create_user(&self, new: NewUser) -> Result<UserId, Error> {
        crate::accounts::create_user(self, new, None).await
    }
}
