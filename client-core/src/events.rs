//! What an app can watch: the sync state (offline, connecting, syncing with progress, idle,
//! error), the number of unsynced changes, and which work orders changed. The `Client` owns one
//! `Hub`; local edits, syncs and the background agent publish to it, and every `Subscription`
//! receives from it until dropped.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, watch, Notify};

use fieldsync_proto::{Timestamp, WorkOrderId};

use crate::sync::SyncProgress;

/// Events a slow subscriber may fall behind by before it is told it missed some.
const EVENT_CAPACITY: usize = 256;

/// Where the sync stands.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum SyncState {
    /// Nothing has been tried yet.
    #[default]
    Idle,
    /// The background agent is reaching the server.
    Connecting,
    /// A sync is running.
    Syncing(SyncProgress),
    /// The server could not be reached; work is kept and is sent when it can be.
    Offline { message: String },
    /// Syncing failed in a way that retrying alone will not fix (signed out, refused
    /// credentials, a damaged store); the message says what to do.
    Error { message: String },
}

/// The sync state and the figures an app shows beside it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncStatus {
    pub state: SyncState,
    /// Local changes not yet acknowledged by the server.
    pub pending_changes: u64,
    /// Whether the live connection is open (new server changes arrive within moments).
    pub live: bool,
    /// When the last sync finished without error.
    pub last_synced_at: Option<Timestamp>,
}

/// What made work orders change on this device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeSource {
    /// An action or creation on this device.
    Local,
    /// A sync brought the server's changes (or removed work orders that left this device).
    Server,
}

/// Something an app may want to redraw for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ClientEvent {
    /// These work orders changed on this device (or were removed from it).
    Changed {
        docs: Vec<WorkOrderId>,
        source: ChangeSource,
    },
    /// The sync status changed.
    Status(SyncStatus),
    /// The subscriber fell behind and missed events: re-read whatever it shows.
    Missed { count: u64 },
}

/// A stream of `ClientEvent`s; dropping it unsubscribes.
#[derive(Debug)]
pub struct Subscription {
    events: broadcast::Receiver<ClientEvent>,
}

impl Subscription {
    /// The next event, or `None` once the client is gone.
    pub async fn next(&mut self) -> Option<ClientEvent> {
        match self.events.recv().await {
            Ok(event) => Some(event),
            Err(broadcast::error::RecvError::Lagged(count)) => Some(ClientEvent::Missed { count }),
            Err(broadcast::error::RecvError::Closed) => None,
        }
    }

    /// The next event if one is waiting, without waiting.
    pub fn try_next(&mut self) -> Option<ClientEvent> {
        match self.events.try_recv() {
            Ok(event) => Some(event),
            Err(broadcast::error::TryRecvError::Lagged(count)) => {
                Some(ClientEvent::Missed { count })
            }
            Err(_) => None,
        }
    }
}

/// The publishing side, shared by the client and its background agent.
#[derive(Debug)]
pub(crate) struct Hub {
    events: broadcast::Sender<ClientEvent>,
    status: watch::Sender<SyncStatus>,
    /// Signalled after every local edit: the agent uploads it shortly.
    pub local_edit: Notify,
    /// Signalled when a sync should happen as soon as possible (sign-in, `sync_now`).
    pub wake: Notify,
}

impl Default for Hub {
    fn default() -> Self {
        Hub {
            events: broadcast::Sender::new(EVENT_CAPACITY),
            status: watch::Sender::new(SyncStatus::default()),
            local_edit: Notify::new(),
            wake: Notify::new(),
        }
    }
}

impl Hub {
    pub fn new() -> Arc<Hub> {
        Arc::new(Hub::default())
    }

    pub fn subscribe(&self) -> Subscription {
        Subscription {
            events: self.events.subscribe(),
        }
    }

    pub fn status(&self) -> SyncStatus {
        self.status.borrow().clone()
    }

    /// Changes the status; subscribers hear of it only if it really changed.
    pub fn update_status(&self, change: impl FnOnce(&mut SyncStatus)) {
        let mut changed = None;
        self.status.send_if_modified(|status| {
            let before = status.clone();
            change(status);
            if *status != before {
                changed = Some(status.clone());
                true
            } else {
                false
            }
        });
        if let Some(status) = changed {
            // No subscriber is not an error.
            let _ = self.events.send(ClientEvent::Status(status));
        }
    }

    pub fn changed(&self, docs: Vec<WorkOrderId>, source: ChangeSource) {
        if docs.is_empty() {
            return;
        }
        let _ = self.events.send(ClientEvent::Changed { docs, source });
    }

    /// A local edit was stored: tell subscribers and the agent.
    pub fn local_edit(&self, doc: WorkOrderId, pending: usize) {
        self.changed(vec![doc], ChangeSource::Local);
        self.update_status(|s| s.pending_changes = pending as u64);
        self.local_edit.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn subscribers_hear_real_changes_only_and_drop_cleanly() {
        let hub = Hub::new();
        let mut sub = hub.subscribe();
        let doc = WorkOrderId::new();
        hub.local_edit(doc, 1);
        assert_eq!(
            sub.next().await,
            Some(ClientEvent::Changed {
                docs: vec![doc],
                source: ChangeSource::Local
            })
        );
        match sub.next().await {
            Some(ClientEvent::Status(s)) => assert_eq!(s.pending_changes, 1),
            other => panic!("unexpected {other:?}"),
        }
        // The same status again is no news.
        hub.update_status(|s| s.pending_changes = 1);
        hub.changed(Vec::new(), ChangeSource::Server);
        assert_eq!(sub.try_next(), None);
        assert_eq!(hub.status().pending_changes, 1);

        drop(sub);
        assert_eq!(hub.events.receiver_count(), 0, "dropping unsubscribes");
    }

    #[tokio::test]
    async fn a_slow_subscriber_is_told_it_missed_events() {
        let hub = Hub::new();
        let mut sub = hub.subscribe();
        for n in 0..(EVENT_CAPACITY as u64 + 10) {
            hub.update_status(|s| s.pending_changes = n + 1);
        }
        assert_eq!(sub.next().await, Some(ClientEvent::Missed { count: 10 }));
        assert!(matches!(sub.next().await, Some(ClientEvent::Status(_))));
    }
}
