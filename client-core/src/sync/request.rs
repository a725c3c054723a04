//! Builds the next sync request from the store: the outbox grouped per document (oldest first,
//! bounded in size), the cursor, and the documents waiting for a full copy. Remembers exactly
//! which outbox rows went out, so that an acknowledgement removes those and no others.

use rusqlite::Connection;

use fieldsync_proto::wire::{ChangeBytes, PullLimits, PushDoc, SyncRequest};
use fieldsync_proto::WorkOrderId;

use crate::error::Result;
use crate::store::{meta, outbox, resync};

/// Most change bytes pushed in one round; the rest goes in the next round.
pub(crate) const PUSH_BUDGET_BYTES: usize = 2 * 1024 * 1024;
/// Most documents asked for whole in one round.
pub(crate) const MAX_RESYNC_PER_ROUND: usize = 500;
/// Pages of this many documents commit often enough that an interrupted first sync of a big
/// store keeps most of its progress, and progress bars move.
const PULL_LIMITS: PullLimits = PullLimits {
    max_docs: 200,
    max_bytes: 4 * 1024 * 1024,
};

/// A request and the outbox rows it carries.
#[derive(Debug)]
pub(crate) struct Outgoing {
    pub request: SyncRequest,
    /// Outbox row ids sent for each pushed document, oldest first, in `request.push` order.
    pub sent: Vec<(WorkOrderId, Vec<i64>)>,
    pub push_bytes: usize,
}

impl Outgoing {
    pub fn sent_ids(&self, doc: WorkOrderId) -> &[i64] {
        self.sent
            .iter()
            .find(|(d, _)| *d == doc)
            .map(|(_, ids)| ids.as_slice())
            .unwrap_or(&[])
    }

    pub fn sent_rows(&self) -> usize {
        self.sent.iter().map(|(_, ids)| ids.len()).sum()
    }
}

pub(crate) fn build(conn: &Connection, budget: usize) -> Result<Outgoing> {
    let mut bytes = 0usize;
    let rows = outbox::scan_outbox(conn, |row| {
        // Always send at least one change, however large, or a big change would never go.
        if bytes > 0 && bytes + row.change.len() > budget {
            return false;
        }
        bytes += row.change.len();
        true
    })?;
    let mut push: Vec<PushDoc> = Vec::new();
    let mut sent: Vec<(WorkOrderId, Vec<i64>)> = Vec::new();
    for row in rows {
        match sent.iter().position(|(d, _)| *d == row.doc) {
            Some(i) => {
                sent[i].1.push(row.id);
                push[i].changes.push(ChangeBytes(row.change));
            }
            None => {
                sent.push((row.doc, vec![row.id]));
                push.push(PushDoc {
                    doc: row.doc,
                    changes: vec![ChangeBytes(row.change)],
                });
            }
        }
    }
    Ok(Outgoing {
        request: SyncRequest {
            cursor: meta::get_cursor(conn)?,
            push,
            resync: resync::resync_docs(conn, MAX_RESYNC_PER_ROUND)?,
            limits: PULL_LIMITS,
        },
        sent,
        push_bytes: bytes,
    })
}
