//! The tokio runtime that async functions and background tasks run on. Apps call in from their
//! own threads (Kotlin coroutines, Swift tasks, Python asyncio), which have no tokio runtime, so
//! the library brings one: small, because a phone has few cores and sync is I/O-bound.

use std::future::Future;
use std::sync::OnceLock;

use tokio::runtime::{Builder, Runtime};

use crate::error::FieldsyncError;

static RUNTIME: OnceLock<Result<Runtime, String>> = OnceLock::new();

fn runtime() -> Result<&'static Runtime, FieldsyncError> {
    RUNTIME
        .get_or_init(|| {
            Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("fieldsync")
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| FieldsyncError::Internal {
            reason: format!("the background threads could not start: {e}"),
        })
}

/// Runs `future` on the library's runtime; the returned future can be awaited by any executor
/// (UniFFI's foreign-language async support polls it).
pub(crate) async fn run<T, F>(future: F) -> Result<T, FieldsyncError>
where
    T: Send + 'static,
    F: Future<Output = Result<T, FieldsyncError>> + Send + 'static,
{
    runtime()?
        .spawn(future)
        .await
        .map_err(|e| FieldsyncError::Internal {
            reason: format!("a background task stopped: {e}"),
        })?
}

/// Spawns a task on the library's runtime.
pub(crate) fn spawn<F>(future: F) -> Result<tokio::task::JoinHandle<()>, FieldsyncError>
where
    F: Future<Output = ()> + Send + 'static,
{
    Ok(runtime()?.spawn(future))
}

/// Runs `f` inside the runtime's context, for APIs that spawn onto "the current runtime".
pub(crate) fn enter<T>(f: impl FnOnce() -> T) -> Result<T, FieldsyncError> {
    let _guard = runtime()?.enter();
    Ok(f())
}
