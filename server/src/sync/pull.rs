//! Pull: the page of updates a device receives: whole documents it has never had, changes
//! it has not seen of the ones it has, and removals of documents that left its scope.
//!
//! A device acknowledges a page by sending its cursor with the next request, so the server
//! treats a document as received only once the device's cursor has passed the point where it
//! was sent; an unacknowledged snapshot or removal is simply sent again.

use std::collections::HashSet;

use fieldsync_proto::wire::{ChangeBytes, Cursor, DocUpdate, PullLimits, UpdatePayload};
use fieldsync_proto::{DeviceId, WorkOrderId};

use crate::error::Error;
use crate::storage::{
    CandidateQuery, Delivery, DeliveryRecord, PullCandidate, Scope, Seq, SharedStorage,
};

/// Most documents in one response, whatever the device asks for.
pub const SERVER_MAX_DOCS: u32 = 500;
/// Most payload bytes in one response (a single larger document is still sent alone).
pub const SERVER_MAX_BYTES: u32 = 8 * 1024 * 1024;
/// Allowance per update for its id and framing, so that many tiny updates still count.
const UPDATE_OVERHEAD: usize = 64;
/// Candidates read from storage at a time.
const BATCH: u32 = 256;

#[derive(Clone, Debug)]
pub struct PullRequest {
    pub device: DeviceId,
    pub scope: Scope,
    pub cursor: Cursor,
    pub resync: Vec<WorkOrderId>,
    pub limits: PullLimits,
}

#[derive(Clone, Debug, PartialEq)]
pub struct PullPage {
    pub updates: Vec<DocUpdate>,
    pub cursor: Cursor,
    pub more: bool,
    pub remaining_docs: u64,
}

/// The updates of one response, within the limits.
struct Page {
    updates: Vec<DocUpdate>,
    deliveries: Vec<DeliveryRecord>,
    bytes: usize,
    max_docs: usize,
    max_bytes: usize,
}

impl Page {
    fn is_full(&self) -> bool {
        self.updates.len() >= self.max_docs
    }

    /// Adds the update if it fits; the first always fits, so every page makes progress.
    fn try_add(
        &mut self,
        doc: WorkOrderId,
        payload: UpdatePayload,
        delivery: Option<Delivery>,
    ) -> bool {
        let size = payload.byte_len() + UPDATE_OVERHEAD;
        if !self.updates.is_empty() && (self.is_full() || self.bytes + size > self.max_bytes) {
            return false;
        }
        self.bytes += size;
        self.updates.push(DocUpdate { doc, payload });
        if let Some(delivery) = delivery {
            self.deliveries.push(DeliveryRecord { doc, delivery });
        }
        true
    }
}

/// What to send of one candidate, if anything, and what to remember having sent.
async fn update_for(
    storage: &SharedStorage,
    req: &PullRequest,
    candidate: &PullCandidate,
) -> Result<Option<(UpdatePayload, Option<Delivery>)>, Error> {
    let acknowledged = |d: &Delivery| d.sent_seq.0 <= req.cursor.0;
    if !candidate.in_scope {
        // Only documents this device was sent come here: tell it to drop them, once.
        return Ok(match candidate.delivery {
            Some(d) if !d.removed || !acknowledged(&d) => Some((
                UpdatePayload::Removed,
                Some(Delivery {
                    sent_seq: candidate.updated_seq,
                    removed: true,
                }),
            )),
            _ => None,
        });
    }
    let has_it = candidate
        .delivery
        .is_some_and(|d| !d.removed && acknowledged(&d));
    if has_it {
        let changes = storage
            .changes_after(candidate.doc, Seq(req.cursor.0), req.device)
            .await?;
        if changes.is_empty() {
            return Ok(None);
        }
        let changes = changes.into_iter().map(ChangeBytes).collect();
        return Ok(Some((UpdatePayload::Changes(changes), None)));
    }
    let Some(stored) = storage.load_document(candidate.doc).await? else {
        return Ok(None);
    };
    if !req.scope.contains(&stored.summary) {
        // Reassigned since the candidates were read: the next pull sends the removal.
        return Ok(None);
    }
    Ok(Some((
        UpdatePayload::Snapshot(stored.snapshot),
        Some(Delivery {
            sent_seq: candidate.updated_seq,
            removed: false,
        }),
    )))
}

pub async fn pull(storage: &SharedStorage, req: PullRequest) -> Result<PullPage, Error> {
    let mut page = Page {
        updates: Vec::new(),
        deliveries: Vec::new(),
        bytes: 0,
        max_docs: req.limits.max_docs.clamp(1, SERVER_MAX_DOCS) as usize,
        max_bytes: req.limits.max_bytes.clamp(1, SERVER_MAX_BYTES) as usize,
    };
    // Read before looking for documents: whatever is committed later gets a higher number,
    // so a cursor up to here skips nothing.
    let high_water = storage.max_seq().await?;
    let mut more = false;

    let mut resynced = HashSet::new();
    for &doc in &req.resync {
        if !resynced.insert(doc) {
            continue;
        }
        let stored = storage.load_document(doc).await?;
        let (payload, delivery) = match stored {
            Some(s) if req.scope.contains(&s.summary) => (
                UpdatePayload::Snapshot(s.snapshot),
                Some(Delivery {
                    sent_seq: s.version,
                    removed: false,
                }),
            ),
            // Out of scope, or unknown here (a creation that was refused, say): the device
            // should drop it. Both get the same answer, and the removal is remembered only for
            // a device that was sent the document, so that nothing tells an id that exists
            // from one that does not.
            other => {
                let sent = storage.delivery(req.device, doc).await?;
                let delivery = match (other, sent) {
                    (Some(s), Some(_)) => Some(Delivery {
                        sent_seq: s.version,
                        removed: true,
                    }),
                    _ => None,
                };
                (UpdatePayload::Removed, delivery)
            }
        };
        if !page.try_add(doc, payload, delivery) {
            more = true;
            break;
        }
    }

    let mut processed = Seq(req.cursor.0);
    if !more {
        let mut after = processed;
        'scan: loop {
            let batch = storage
                .pull_candidates(CandidateQuery {
                    device: req.device,
                    scope: req.scope,
                    after,
                    limit: BATCH,
                })
                .await?;
            let exhausted = batch.len() < BATCH as usize;
            for candidate in batch {
                after = candidate.updated_seq;
                if resynced.contains(&candidate.doc) {
                    processed = candidate.updated_seq;
                    continue;
                }
                if page.is_full() {
                    more = true;
                    break 'scan;
                }
                if let Some((payload, delivery)) = update_for(storage, &req, &candidate).await? {
                    if !page.try_add(candidate.doc, payload, delivery) {
                        more = true;
                        break 'scan;
                    }
                }
                processed = candidate.updated_seq;
            }
            if exhausted {
                break;
            }
        }
    }

    let remaining_docs = if more {
        storage
            .count_candidates(CandidateQuery {
                device: req.device,
                scope: req.scope,
                after: processed,
                limit: 0,
            })
            .await?
    } else {
        0
    };
    let cursor = if more {
        processed
    } else {
        processed.max(high_water)
    };
    storage
        .record_deliveries(req.device, page.deliveries)
        .await?;
    Ok(PullPage {
        updates: page.updates,
        cursor: Cursor(cursor.0),
        more,
        remaining_docs,
    })
}
