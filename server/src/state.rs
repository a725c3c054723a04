//! `AppState`: what every request handler shares: the storage and the server's own identity.

use std::sync::Arc;

use automerge::ActorId;
use fieldsync_proto::api::NewUser;
use fieldsync_proto::UserId;

use crate::auth::limit::{LoginLimiter, LoginLimits};
use crate::error::Error;
use crate::storage::{NewAuditEntry, SharedStorage};

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
    /// In memory: each server instance limits the attempts it sees.
    login_limiter: LoginLimiter,
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
        Self {
            inner: Arc::new(Inner {
                storage,
                server_actor: ActorId::random(),
                login_limiter: LoginLimiter::new(limits),
            }),
        }
    }

    pub fn login_limiter(&self) -> &LoginLimiter {
        &self.inner.login_limiter
    }

    /// Appends to the audit trail.
    pub async fn audit(&self, entries: Vec<NewAuditEntry>) -> Result<(), Error> {
        self.inner.storage.append_audit(entries).await?;
        Ok(())
    }

    pub fn storage(&self) -> &SharedStorage {
        &self.inner.storage
    }

    pub fn server_actor(&self) -> &ActorId {
        &self.inner.server_actor
    }

    /// Creates an account after checking every field; the password is stored only hashed.
    pub async fn create_user(&self, new: NewUser) -> Result<UserId, Error> {
        crate::accounts::create_user(self, new, None).await
    }
}
