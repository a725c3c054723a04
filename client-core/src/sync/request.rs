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

#[cfg(test)]
mod tests {
    use fieldsync_proto::wire::UpdatePayload;
    use fieldsync_proto::{Action, Role};

    use super::*;
    use crate::local;
    use crate::sync::apply::apply_response;
    use crate::testing::{now, response, server_doc, store_as};

    #[test]
    fn pushes_are_grouped_per_document_oldest_first_and_bounded() {
        let (store, me) = store_as(Role::Technician);
        let (a, mut doc_a) = server_doc(me.user_id);
        let (b, mut doc_b) = server_doc(me.user_id);
        let page = response(
            1,
            vec![
                (a, UpdatePayload::Snapshot(doc_a.save())),
                (b, UpdatePayload::Snapshot(doc_b.save())),
            ],
        );
        store
            .write(|tx| apply_response(tx, &build(tx, PUSH_BUDGET_BYTES)?, &page, now()))
            .expect("jobs arrive");
        for (doc, action) in [
            (a, Action::Accept),
            (b, Action::Accept),
            (a, Action::StartTravel),
        ] {
            store
                .write(|tx| local::act(tx, doc, &action, now()))
                .expect("act");
        }

        let all = store.read(|c| build(c, PUSH_BUDGET_BYTES)).expect("build");
        assert_eq!(all.request.cursor.0, 1);
        let docs: Vec<_> = all.request.push.iter().map(|p| p.doc).collect();
        assert_eq!(docs, [a, b]);
        assert_eq!(all.request.push[0].changes.len(), 2);
        assert_eq!(all.sent_rows(), 3);
        let ids = all.sent_ids(a);
        assert!(ids[0] < ids[1], "oldest first");

        // A tiny budget still sends the oldest change, and nothing after the first that
        // does not fit.
        let one = store.read(|c| build(c, 1)).expect("build");
        assert_eq!(one.sent_rows(), 1);
        assert_eq!(one.sent_ids(a), &all.sent_ids(a)[..1]);
        assert!(one.sent_ids(b).is_empty());
    }
}
