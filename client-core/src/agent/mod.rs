//! The background sync agent: makes sync something an app never calls. It syncs on start,
//! shortly after local edits (debounced), when the live channel announces a commit the device
//! has not got, and periodically; backs off with jitter while the server is unreachable and
//! resumes at once when it answers again (the live connection reopening, or `sync_now`).
//!
//! ```no_run
//! # async fn demo() -> fieldsync_client::Result<()> {
//! use std::sync::Arc;
//! use fieldsync_client::{AgentOptions, Client, SyncAgent};
//! let client = Arc::new(Client::open("/data/fieldsync")?);
//! let agent = SyncAgent::start(client.clone(), AgentOptions::default())?;
//! let mut events = client.subscribe();
//! while let Some(event) = events.next().await {
//!     println!("{event:?}");
//! }
//! drop(agent); // stops syncing
//! # Ok(()) }
//! ```

mod backoff;
mod live;

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::client::Client;
use crate::error::{Error, Result};
use crate::events::{SyncState, SyncStatus};
use crate::sync::MAX_ROUNDS;

use backoff::{jitter, Backoff};
use live::LiveSignals;

/// When the background agent syncs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentOptions {
    /// Quiet time after a local edit before uploading, so that a burst of taps goes in one
    /// round trip.
    pub debounce: Duration,
    /// Longest an edit waits while edits keep coming.
    pub max_debounce: Duration,
    /// A sync at least this often, whatever else happens (a safety net under the live channel).
    pub periodic: Duration,
    /// First wait after a failed attempt; doubles with each failure.
    pub retry_min: Duration,
    /// Longest wait between attempts while the server is unreachable.
    pub retry_max: Duration,
    /// Keep a live connection open so that server changes arrive at once.
    pub live: bool,
}

impl Default for AgentOptions {
    fn default() -> Self {
        AgentOptions {
            debounce: Duration::from_millis(200),
            max_debounce: Duration::from_secs(2),
            periodic: Duration::from_secs(5 * 60),
            retry_min: Duration::from_secs(1),
            retry_max: Duration::from_secs(60),
            live: true,
        }
    }
}

/// A running background agent; dropping it stops it.
#[derive(Debug)]
pub struct SyncAgent {
    client: Arc<Client>,
    task: JoinHandle<()>,
    live_task: Option<JoinHandle<()>>,
}

impl SyncAgent {
    /// Starts syncing `client` in the background, on the current tokio runtime.
    pub fn start(client: Arc<Client>, options: AgentOptions) -> Result<SyncAgent> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            Error::InvalidInput(
                "the background sync agent needs a tokio runtime; start it from async code".into(),
            )
        })?;
        let signals = Arc::new(LiveSignals::default());
        let live_task = options
            .live
            .then(|| runtime.spawn(live::run(client.clone(), options.clone(), signals.clone())));
        let task = runtime.spawn(run(client.clone(), options, signals));
        Ok(SyncAgent {
            client,
            task,
            live_task,
        })
    }

    /// Syncs as soon as possible, cutting any backoff wait short: for a "sync now" button, or
    /// when the platform reports that the network is back.
    pub fn sync_now(&self) {
        self.client.hub().wake.notify_one();
    }

    /// The sync status now.
    pub fn status(&self) -> SyncStatus {
        self.client.sync_status()
    }

    /// Stops the agent. A sync in progress is cut off, which is safe: the next one resumes.
    pub fn stop(self) {}
}

impl Drop for SyncAgent {
    fn drop(&mut self) {
        self.task.abort();
        if let Some(live) = &self.live_task {
            live.abort();
        }
        self.client.hub().update_status(|s| {
            s.live = false;
            if matches!(s.state, SyncState::Connecting | SyncState::Syncing(_)) {
                s.state = SyncState::Idle;
            }
        });
    }
}

/// Errors that only the person can fix (signing in again): retrying on a timer would not help.
fn needs_the_person(e: &Error) -> bool {
    matches!(
        e,
        Error::NotLoggedIn
            | Error::Unauthorized { .. }
            | Error::DeviceRevoked { .. }
            | Error::UntrustedServer { .. }
            | Error::OtherUsersChanges { .. }
    )
}

/// The agent's loop: waits for the next reason to sync, syncs, and plans the next wait.
async fn run(client: Arc<Client>, options: AgentOptions, signals: Arc<LiveSignals>) {
    let hub = client.hub().clone();
    let mut announced = signals.announced.subscribe();
    let mut connected = signals.connected.subscribe();
    let mut backoff = Backoff::new(options.retry_min, options.retry_max);
    // When a failed attempt may be retried; `None` while not backing off.
    let mut retry_at: Option<Instant> = None;
    // Set by failures that need the person; lifted by sign-in or `sync_now`.
    let mut paused = false;
    // First and latest local edit not yet uploaded.
    let mut edits: Option<(Instant, Instant)> = None;
    let mut next_periodic = Instant::now();
    // Announced commit that a successful sync already answered; a cursor that stays behind an
    // announcement (it should not) must not make the agent sync in a loop.
    let mut answered = 0u64;
    hub.update_status(|s| s.state = SyncState::Connecting);

    loop {
        let now = Instant::now();
        let cursor = client.cursor().map(|c| c.0).unwrap_or(0);
        let due = if paused {
            None
        } else if let Some(at) = retry_at {
            Some(at)
        } else {
            let mut due = next_periodic;
            if let Some((first, last)) = edits {
                due = due.min((last + options.debounce).min(first + options.max_debounce));
            }
            let latest = *announced.borrow();
            if latest > cursor && latest > answered {
                due = now;
            }
            Some(due)
        };
        let wait = async {
            match due {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = wait => {}
            _ = hub.local_edit.notified() => {
                let now = Instant::now();
                edits = Some((edits.map_or(now, |(first, _)| first), now));
                continue;
            }
            _ = hub.wake.notified() => {
                paused = false;
                retry_at = None;
                backoff.reset();
                next_periodic = Instant::now();
                signals.reconnect.notify_one();
                continue;
            }
            changed = announced.changed() => {
                if changed.is_err() {
                    // The live task is gone (never started): only timers are left.
                    announced = tokio::sync::watch::Sender::new(0).subscribe();
                }
                continue;
            }
            changed = connected.changed() => {
                let up = changed.is_ok() && *connected.borrow_and_update();
                if changed.is_err() {
                    connected = tokio::sync::watch::Sender::new(false).subscribe();
                }
                if up && backoff.failures() > 0 {
                    // The server answers again: no need to wait out the backoff.
                    tracing::info!("server reachable again; syncing");
                    retry_at = None;
                    backoff.reset();
                    next_periodic = Instant::now();
                }
                continue;
            }
        }

        // Edits made from here on notify again and are picked up by the next round.
        let had_edits = edits.take();
        let announced_before = *announced.borrow();
        match client.sync().await {
            Ok(report) => {
                answered = announced_before;
                backoff.reset();
                retry_at = None;
                next_periodic = if report.rounds >= MAX_ROUNDS {
                    // More is waiting than one sync takes: carry on at once.
                    Instant::now()
                } else {
                    Instant::now() + options.periodic
                };
                if !*signals.connected.borrow() {
                    signals.reconnect.notify_one();
                }
            }
            Err(e) if needs_the_person(&e) => {
                tracing::warn!(error = %e, "background sync paused until sign-in or sync_now");
                paused = true;
                edits = had_edits;
            }
            Err(e) => {
                let wait = backoff.fail(jitter());
                tracing::info!(error = %e, retry_in_ms = wait.as_millis() as u64, "background sync failed; retrying later");
                retry_at = Some(Instant::now() + wait);
                edits = had_edits.or(edits);
            }
        }
    }
}
