//! Live connections: each WebSocket on `/v1/live` listens to the storage's commit feed and
//! tells its device, in one small notice per burst, that something in its scope changed. The
//! device then syncs through the ordinary endpoint.
//!
//! Every connection holds O(1) state of its own: notices wait in the feed's shared, bounded
//! ring (a connection that falls behind it is told "something changed" once), and a device that
//! does not take a notice within `SEND_TIMEOUT` is disconnected rather than buffered for.

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use fieldsync_proto::live::LiveNotice;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::time::{timeout, Instant, MissedTickBehavior};

use crate::state::AppState;
use crate::storage::{CommitNotice, Scope};

/// How often the server pings an idle connection; mobile networks drop silent ones.
pub const PING_EVERY: Duration = Duration::from_secs(20);
/// A connection that sent nothing (not even a pong) for this long is gone.
pub const IDLE_LIMIT: Duration = Duration::from_secs(60);
/// Longest a single notice may take to leave; a slower device is disconnected and reconnects.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// Close code for a server shutting down ("service restart"): devices reconnect.
const CLOSE_RESTART: u16 = 1012;
/// Close code for a connection that stopped answering.
const CLOSE_IDLE: u16 = 1001;

/// Whether a commit concerns a device with this scope: its own work orders, including one it
/// just lost (so that it syncs and learns of the removal).
pub fn concerns(scope: Scope, notice: &CommitNotice) -> bool {
    match scope {
        Scope::All => true,
        Scope::AssignedTo(user) => {
            notice.assignee == Some(user) || notice.previous_assignee == Some(user)
        }
    }
}

/// The highest sequence number among `first` and every notice already waiting in `feed` that
/// concerns `scope`: one notice per burst. `None` if none of them concerns it. A lagged feed
/// means notices were lost, so the caller must assume one of them did.
fn coalesce(
    scope: Scope,
    first: CommitNotice,
    feed: &mut tokio::sync::broadcast::Receiver<CommitNotice>,
) -> (Option<u64>, bool) {
    let mut latest = concerns(scope, &first).then_some(first.seq.0);
    loop {
        match feed.try_recv() {
            Ok(n) if concerns(scope, &n) => latest = Some(latest.unwrap_or(0).max(n.seq.0)),
            Ok(_) => {}
            Err(TryRecvError::Lagged(_)) => return (latest, true),
            Err(TryRecvError::Empty | TryRecvError::Closed) => return (latest, false),
        }
    }
}

async fn send(socket: &mut WebSocket, notice: LiveNotice) -> bool {
    matches!(
        timeout(
            SEND_TIMEOUT,
            socket.send(Message::Text(notice.to_text().into()))
        )
        .await,
        Ok(Ok(()))
    )
}

async fn close(socket: &mut WebSocket, code: u16, reason: &'static str) {
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    let _ = timeout(SEND_TIMEOUT, socket.send(Message::Close(Some(frame)))).await;
}

/// Serves one connection until the device leaves, stops answering, or the server shuts down.
/// `feed` must have been subscribed before the upgrade, so that no commit falls between.
pub async fn serve(
    mut socket: WebSocket,
    state: AppState,
    scope: Scope,
    mut feed: tokio::sync::broadcast::Receiver<CommitNotice>,
) {
    let mut shutdown = state.shutdown_signal();
    if *shutdown.borrow_and_update() {
        close(&mut socket, CLOSE_RESTART, "the server is shutting down").await;
        return;
    }
    let latest = match state.storage().max_seq().await {
        Ok(seq) => seq.0,
        Err(e) => {
            tracing::error!(error = %e, "live connection: cannot read the latest commit");
            close(&mut socket, 1011, "the server failed; reconnect later").await;
            return;
        }
    };
    if !send(&mut socket, LiveNotice::Ready { seq: latest }).await {
        return;
    }
    tracing::debug!(seq = latest, "live connection open");

    let mut heartbeat = tokio::time::interval_at(Instant::now() + PING_EVERY, PING_EVERY);
    heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut last_heard = Instant::now();
    loop {
        tokio::select! {
            _ = shutdown.changed() => {
                close(&mut socket, CLOSE_RESTART, "the server is restarting; reconnect").await;
                break;
            }
            notice = feed.recv() => {
                let (latest, lagged) = match notice {
                    Ok(first) => coalesce(scope, first, &mut feed),
                    Err(RecvError::Lagged(_)) => (None, true),
                    Err(RecvError::Closed) => {
                        close(&mut socket, CLOSE_RESTART, "the server is restarting; reconnect").await;
                        break;
                    }
                };
                let seq = if lagged {
                    // Some notices were lost: say "something changed" with the latest commit.
                    match state.storage().max_seq().await {
                        Ok(seq) => Some(seq.0.max(latest.unwrap_or(0))),
                        Err(e) => {
                            tracing::warn!(error = %e, "live connection: cannot read the latest commit");
                            latest
                        }
                    }
                } else {
                    latest
                };
                if let Some(seq) = seq {
                    if !send(&mut socket, LiveNotice::Changed { seq }).await {
                        tracing::debug!("live connection: the device did not take a notice in time");
                        break;
                    }
                }
            }
            message = socket.recv() => {
                match message {
                    // Pongs, pings (answered by the WebSocket layer) and anything else: alive.
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                    Some(Ok(_)) => last_heard = Instant::now(),
                }
            }
            _ = heartbeat.tick() => {
                if last_heard.elapsed() > IDLE_LIMIT {
                    close(&mut socket, CLOSE_IDLE, "no answer to pings").await;
                    break;
                }
                let ping = socket.send(Message::Ping(Default::default()));
                if !matches!(timeout(SEND_TIMEOUT, ping).await, Ok(Ok(()))) {
                    break;
                }
            }
        }
    }
    tracing::debug!("live connection closed");
}

#[cfg(test)]
mod tests {
    use fieldsync_proto::{UserId, WorkOrderId};

    use super::*;
    use crate::storage::Seq;

    fn notice(seq: u64, assignee: Option<UserId>, previous: Option<UserId>) -> CommitNotice {
        CommitNotice {
            doc: WorkOrderId::new(),
            seq: Seq(seq),
            assignee,
            previous_assignee: previous,
        }
    }

    #[test]
    fn technicians_hear_of_their_own_work_orders_and_of_ones_they_lose() {
        let ana = UserId::new();
        let ben = UserId::new();
        let scope = Scope::AssignedTo(ana);
        assert!(concerns(scope, &notice(1, Some(ana), None)));
        assert!(concerns(scope, &notice(2, Some(ben), Some(ana))), "lost");
        assert!(!concerns(scope, &notice(3, Some(ben), None)));
        assert!(!concerns(scope, &notice(4, None, None)));
        assert!(concerns(Scope::All, &notice(5, None, None)));
    }

    #[test]
    fn a_burst_becomes_one_notice_with_the_latest_relevant_seq() {
        let ana = UserId::new();
        let ben = UserId::new();
        let (tx, mut rx) = tokio::sync::broadcast::channel(8);
        for n in [notice(2, Some(ana), None), notice(3, Some(ben), None)] {
            tx.send(n).expect("send");
        }
        let (latest, lagged) =
            coalesce(Scope::AssignedTo(ana), notice(1, Some(ben), None), &mut rx);
        assert_eq!((latest, lagged), (Some(2), false));
        assert!(rx.try_recv().is_err(), "drained");

        tx.send(notice(5, Some(ben), None)).expect("send");
        let (latest, _) = coalesce(Scope::AssignedTo(ana), notice(4, Some(ben), None), &mut rx);
        assert_eq!(latest, None, "nothing of ana's");

        for seq in 10..20 {
            tx.send(notice(seq, Some(ben), None)).expect("send");
        }
        let (latest, lagged) =
            coalesce(Scope::AssignedTo(ana), notice(9, Some(ana), None), &mut rx);
        assert_eq!(latest, Some(9));
        assert!(lagged, "the ring of 8 overflowed");
    }
}
