//! Notifications into the app: `ClientListener` is implemented in Kotlin, Swift or Python and
//! called from the library's threads; `TaskHandle` is what `subscribe` returns, and dropping
//! it (or calling `cancel`) stops the notifications.

use std::sync::Mutex;

use tokio::task::JoinHandle;

use crate::records::SyncStatusRecord;

/// Receives notifications. Called on a background thread: hop to the UI thread before
/// touching views. Calls must return quickly; a slow listener misses intermediate events and
/// is told so through `on_missed_events`.
#[uniffi::export(callback_interface)]
pub trait ClientListener: Send + Sync {
    /// These work orders changed on this device (or were removed from it); re-read them.
    /// `from_server` is false for the app's own edits.
    fn on_work_orders_changed(&self, work_order_ids: Vec<String>, from_server: bool);
    /// The sync state, unsynced change count or live connection changed.
    fn on_sync_status(&self, status: SyncStatusRecord);
    /// Some events were skipped because the listener was slow: re-read what is on screen.
    fn on_missed_events(&self, count: u64);
}

/// A running subscription or task; stops on `cancel` or when dropped.
#[derive(Debug, uniffi::Object)]
pub struct TaskHandle {
    task: Mutex<Option<JoinHandle<()>>>,
}

impl TaskHandle {
    pub(crate) fn new(task: JoinHandle<()>) -> TaskHandle {
        TaskHandle {
            task: Mutex::new(Some(task)),
        }
    }
}

#[uniffi::export]
impl TaskHandle {
    /// Stops the task; calling it again does nothing.
    pub fn cancel(&self) {
        let task = self
            .task
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        if let Some(task) = task {
            task.abort();
        }
    }

    /// Whether the task has stopped (cancelled, or the client is gone).
    pub fn is_finished(&self) -> bool {
        self.task
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .as_ref()
            .is_none_or(|t| t.is_finished())
    }
}

impl Drop for TaskHandle {
    fn drop(&mut self) {
        self.cancel();
    }
}
