//! The sync engine: one round trip at a time (push the outbox, pull a page), each answer applied
//! in one transaction, repeated until caught up. Safe to interrupt anywhere: until an answer is
//! applied nothing local changes, and a retried push is idempotent on the server.

pub(crate) mod apply;
mod notes;
pub(crate) mod request;

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use fieldsync_proto::wire::Cursor;
use fieldsync_proto::{Timestamp, WorkOrderId};

use crate::error::{Error, Result};
use crate::remote::Remote;
use crate::store::{docs, meta, outbox, resync, Store};

/// Documents compacted at most at the end of one sync.
const COMPACT_PER_SYNC: usize = 64;

/// Rounds one `sync` makes at most; a later sync carries on from the stored cursor.
pub(crate) const MAX_ROUNDS: usize = 64;

/// What one `sync` did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncReport {
    /// Round trips made.
    pub rounds: usize,
    /// Documents whose local changes were uploaded (counted once per round).
    pub pushed_docs: usize,
    pub accepted_docs: usize,
    /// Documents whose changes the server refused; see `Client::rejected_changes`.
    pub rejected_docs: usize,
    /// Document updates received and applied.
    pub pulled_docs: usize,
    /// Where the next sync resumes.
    pub cursor: Cursor,
    /// Attachments the server holds now that were queued here.
    #[serde(default)]
    pub uploaded_attachments: usize,
    /// Attachment bytes sent.
    #[serde(default)]
    pub attachment_bytes_sent: u64,
    /// Attachments the server refused for now; they stay queued with the reason.
    #[serde(default)]
    pub attachments_refused: usize,
}

/// Progress of a running sync, for progress bars.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncProgress {
    /// Document updates received so far.
    pub docs_done: u64,
    /// Updates expected in all (grows if the server finds more).
    pub docs_total: u64,
    /// Bytes received so far.
    pub bytes_done: u64,
}

/// Runs rounds until nothing is left to push or pull. `changed` hears, after each round's
/// commit, which documents that round changed on this device. If the server says this device
/// was revoked, everything the device holds is removed before the error is returned.
pub(crate) async fn run(
    store: &Store,
    remote: &Remote,
    progress: &(dyn Fn(SyncProgress) + Send + Sync),
    changed: &(dyn Fn(&[WorkOrderId]) + Send + Sync),
) -> Result<SyncReport> {
    let result = rounds(store, remote, progress, changed).await;
    if result.is_ok() {
        // Documents that local actions or filed changes left in many pieces are rewritten now,
        // off the path a person waits on. Failing here loses nothing: they are compacted
        // another time.
        let now = Timestamp::now();
        match store.write(|tx| docs::compact_piled_up(tx, COMPACT_PER_SYNC, now)) {
            Ok(0) => {}
            Ok(n) => tracing::debug!(documents = n, "compacted after sync"),
            Err(e) => tracing::warn!(error = %e, "could not compact documents after sync"),
        }
    }
    if let Err(Error::DeviceRevoked { .. }) = &result {
        store.write(|tx| crate::store::wipe(tx))?;
        tracing::warn!("this device was revoked; its local data was removed");
    }
    result
}

async fn rounds(
    store: &Store,
    remote: &Remote,
    progress: &(dyn Fn(SyncProgress) + Send + Sync),
    changed: &(dyn Fn(&[WorkOrderId]) + Send + Sync),
) -> Result<SyncReport> {
    let session = store.read(meta::get_session)?.ok_or(Error::NotLoggedIn)?;
    remote.trust(session.ca_cert_pem.as_deref())?;
    let server = session.session.server_url.clone();
    let mut report = SyncReport::default();
    let mut state = SyncProgress::default();
    // Documents already asked for whole during this sync: if one fails again, asking a third
    // time in the same sync would not help.
    let mut asked_whole: HashSet<WorkOrderId> = HashSet::new();

    for _ in 0..MAX_ROUNDS {
        let outgoing = store.read(|c| request::build(c, request::PUSH_BUDGET_BYTES))?;
        asked_whole.extend(outgoing.request.resync.iter().copied());
        tracing::debug!(
            push_docs = outgoing.request.push.len(),
            push_bytes = outgoing.push_bytes,
            resync = outgoing.request.resync.len(),
            cursor = outgoing.request.cursor.0,
            "sync round"
        );
        let (response, bytes) = remote
            .sync(&server, &session.token, &outgoing.request)
            .await?;
        let now = Timestamp::now();
        let applied = store.write(|tx| apply::apply_response(tx, &outgoing, &response, now))?;
        changed(&applied.changed);

        report.rounds += 1;
        report.pushed_docs += outgoing.request.push.len();
        report.accepted_docs += applied.accepted_docs;
        report.rejected_docs += applied.rejected_docs;
        report.pulled_docs += applied.pulled_docs;
        report.cursor = response.cursor;
        state.docs_done += response.updates.len() as u64;
        state.docs_total = state.docs_done + response.remaining_docs;
        state.bytes_done += bytes as u64;
        progress(state);

        let (outbox_left, resync_left) =
            store.read(|c| Ok((outbox::unsent_count(c)?, resync::resync_docs(c, 1)?)))?;
        let pushed_something = applied.settled_rows > 0 || outgoing.sent_rows() == 0;
        let new_resync = applied
            .needs_resync
            .iter()
            .any(|d| !asked_whole.contains(d));
        let again = response.more
            || (outbox_left > 0 && pushed_something)
            || (!resync_left.is_empty() && new_resync);
        if !again {
            break;
        }
    }
    Ok(report)
}
