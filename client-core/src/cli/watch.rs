//! `fieldsync watch`: stays connected with the background agent and prints every change as it
//! arrives (work orders changed here or on the server, sync state), until `--for` seconds have
//! passed or ctrl-c.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use fieldsync_proto::{Timestamp, WorkOrderId};

use crate::agent::{AgentOptions, SyncAgent};
use crate::error::{Error, Result};
use crate::events::{ChangeSource, ClientEvent, SyncState, SyncStatus};
use crate::Client;

/// What the watch saw, for its closing line.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Watched {
    pub server_changes: usize,
    pub local_changes: usize,
}

fn clock() -> String {
    Timestamp::now()
        .to_datetime()
        .format("%H:%M:%S")
        .to_string()
}

/// One line for a status, or `None` if it says nothing new compared with `before` (progress
/// ticks of the same sync are not worth a line each).
pub(crate) fn status_line(status: &SyncStatus, before: Option<&SyncStatus>) -> Option<String> {
    let kind = |s: &SyncStatus| std::mem::discriminant(&s.state);
    if let Some(before) = before {
        if kind(before) == kind(status)
            && before.live == status.live
            && before.pending_changes == status.pending_changes
            && matches!(status.state, SyncState::Syncing(_) | SyncState::Idle)
        {
            return None;
        }
    }
    let state = match &status.state {
        SyncState::Idle => "up to date".to_string(),
        SyncState::Connecting => "connecting".to_string(),
        SyncState::Syncing(p) if p.docs_total > 0 => {
            format!("syncing {}/{} work orders", p.docs_done, p.docs_total)
        }
        SyncState::Syncing(_) => "syncing".to_string(),
        SyncState::Offline { message } => format!("offline: {message}"),
        SyncState::Error { message } => format!("error: {message}"),
    };
    let live = if status.live { "live" } else { "not live" };
    Some(format!(
        "{state} ({live}, {} unsynced change{})",
        status.pending_changes,
        if status.pending_changes == 1 { "" } else { "s" }
    ))
}

/// One line per changed work order: its number and what it is now, or that it left the device.
fn change_line(client: &Client, doc: WorkOrderId, source: ChangeSource) -> String {
    let origin = match source {
        ChangeSource::Local => "here",
        ChangeSource::Server => "from the server",
    };
    match client.get(doc) {
        Ok(v) => format!(
            "{}  {} {:?} {} ({origin})",
            v.number,
            v.status.as_str().replace('_', " "),
            v.priority,
            v.customer.name
        ),
        Err(Error::NotFound { .. }) => {
            format!(
                "{}  removed from this device ({origin})",
                fieldsync_proto::human_number(&doc)
            )
        }
        Err(e) => format!("{doc}  could not be read: {e}"),
    }
}

fn print(line: &str) {
    let mut out = std::io::stdout().lock();
    // A closed pipe ends nothing here; the watch stops on its own.
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// Runs the watch; returns the closing line.
pub(crate) async fn watch(
    client: Arc<Client>,
    seconds: Option<u64>,
    as_json: bool,
) -> Result<String> {
    let session = client.session()?.ok_or(Error::NotLoggedIn)?;
    let mut events = client.subscribe();
    let agent = SyncAgent::start(client.clone(), AgentOptions::default())?;
    if !as_json {
        print(&format!(
            "Watching {} as {} (ctrl-c to stop)…",
            session.server_url, session.username
        ));
    }
    let until = async {
        match seconds {
            Some(s) => tokio::time::sleep(Duration::from_secs(s)).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(until);
    let mut watched = Watched::default();
    let mut last_status: Option<SyncStatus> = None;
    loop {
        let event = tokio::select! {
            _ = &mut until => break,
            _ = tokio::signal::ctrl_c() => break,
            event = events.next() => match event {
                Some(event) => event,
                None => break,
            },
        };
        if let ClientEvent::Changed { docs, source } = &event {
            match source {
                ChangeSource::Server => watched.server_changes += docs.len(),
                ChangeSource::Local => watched.local_changes += docs.len(),
            }
        }
        if as_json {
            let line = serde_json::to_string(&event).map_err(|e| {
                Error::InvalidInput(format!("an event cannot be shown as JSON: {e}"))
            })?;
            print(&line);
            continue;
        }
        match event {
            ClientEvent::Changed { docs, source } => {
                for doc in docs {
                    print(&format!(
                        "{}  {}",
                        clock(),
                        change_line(&client, doc, source)
                    ));
                }
            }
            ClientEvent::Status(status) => {
                if let Some(line) = status_line(&status, last_status.as_ref()) {
                    print(&format!("{}  {line}", clock()));
                }
                last_status = Some(status);
            }
            ClientEvent::Missed { count } => {
                print(&format!(
                    "{}  ({count} events skipped; run `fieldsync list` to see everything)",
                    clock()
                ));
            }
        }
    }
    drop(agent);
    if as_json {
        return Ok(String::new());
    }
    Ok(format!(
        "Stopped watching: {} change{} from the server, {} here.\n",
        watched.server_changes,
        if watched.server_changes == 1 { "" } else { "s" },
        watched.local_changes
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::SyncProgress;

    fn status(state: SyncState, live: bool, pending: u64) -> SyncStatus {
        SyncStatus {
            state,
            pending_changes: pending,
            live,
            last_synced_at: None,
        }
    }

    #[test]
    fn status_lines_skip_progress_ticks_but_not_news() {
        let first = status(
            SyncState::Syncing(SyncProgress {
                docs_done: 0,
                docs_total: 0,
                bytes_done: 0,
            }),
            false,
            2,
        );
        assert_eq!(
            status_line(&first, None).as_deref(),
            Some("syncing (not live, 2 unsynced changes)")
        );
        let tick = status(
            SyncState::Syncing(SyncProgress {
                docs_done: 200,
                docs_total: 300,
                bytes_done: 9000,
            }),
            false,
            2,
        );
        assert_eq!(status_line(&tick, Some(&first)), None);
        let idle = status(SyncState::Idle, true, 0);
        assert_eq!(
            status_line(&idle, Some(&tick)).as_deref(),
            Some("up to date (live, 0 unsynced changes)")
        );
        let offline = status(
            SyncState::Offline {
                message: "the server at http://x could not be reached".into(),
            },
            false,
            1,
        );
        let line = status_line(&offline, Some(&idle)).expect("news");
        assert!(line.starts_with("offline: the server"), "{line}");
        assert!(line.ends_with("1 unsynced change)"), "{line}");
        assert!(
            status_line(&offline, Some(&offline)).is_some(),
            "every failed attempt is worth a line"
        );
    }
}
