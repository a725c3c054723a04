//! Pull: the page of updates a device receives: whole documents it has never had, changes
//! it has not seen of the ones it has, and removals of documents that left its scope.
//!
//! A device acknowledges a page by sending its cursor with the next request, so the server
//! treats a document as received only once the device's cursor has passed the point where it
//! was sent; an unacknowledged snapshot or removal is simply sent again.

use std::collections::HashMap;

use fieldsync_proto::wire::{ChangeBytes, Cursor, DocUpdate, PullLimits, UpdatePayload};
use fieldsync_proto::{DeviceId, WorkOrderId, WorkOrderSummary};

use super::budget::{PageReservation, SMALL_PAGE_BYTES};
use crate::error::Error;
use crate::storage::{
    CandidateBatch, CandidateQuery, ChangesAfter, Delivery, DeliveryRecord, HeldLimit,
    PullCandidate, Scope, Seq, SharedStorage, StoredDocument,
};

/// Most documents in one response, whatever the device asks for.
pub const SERVER_MAX_DOCS: u32 = 500;
/// Most payload bytes in one response (a single larger document is still sent alone).
pub const SERVER_MAX_BYTES: u32 = 8 * 1024 * 1024;
/// Allowance per update for its id and framing, so that many tiny updates still count.
const UPDATE_OVERHEAD: usize = 64;
/// Candidates read from storage at a time.
const BATCH: u32 = 256;
/// Candidates a full page looks at past its end, to pass over those with nothing for the device.
const LOOK_PAST_FULL_PAGE: usize = 256;
/// Snapshots read from storage at a time (bounded, since documents can be large).
const PRELOAD_DOCS: usize = 64;

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
    fn new(limits: PullLimits) -> Page {
        Page {
            updates: Vec::new(),
            deliveries: Vec::new(),
            bytes: 0,
            max_docs: limits.max_docs.clamp(1, SERVER_MAX_DOCS) as usize,
            max_bytes: limits.max_bytes.clamp(1, SERVER_MAX_BYTES) as usize,
        }
    }

    fn is_full(&self) -> bool {
        self.updates.len() >= self.max_docs
    }

    /// Adds the update if it fits; the first always fits, so every page makes progress.
    fn try_add(&mut self, doc: WorkOrderId, update: Update) -> bool {
        let Update {
            payload,
            summary,
            delivery,
        } = update;
        let size = payload.byte_len() + UPDATE_OVERHEAD;
        if !self.updates.is_empty() && (self.is_full() || self.bytes + size > self.max_bytes) {
            return false;
        }
        self.bytes += size;
        self.updates.push(DocUpdate {
            doc,
            payload,
            summary,
        });
        if let Some(delivery) = delivery {
            self.deliveries.push(DeliveryRecord { doc, delivery });
        }
        true
    }
}

/// One update to send, and what to remember having sent.
struct Update {
    payload: UpdatePayload,
    /// The stored index row of the state the update leads to, sent along with a snapshot or
    /// changes so that a device holding nothing else of the document need not derive it.
    summary: Option<WorkOrderSummary>,
    delivery: Option<Delivery>,
}

impl Update {
    fn removed(delivery: Option<Delivery>) -> Update {
        Update {
            payload: UpdatePayload::Removed,
            summary: None,
            delivery,
        }
    }

    fn snapshot(stored: StoredDocument, sent_seq: Seq) -> Update {
        Update {
            payload: UpdatePayload::Snapshot(stored.snapshot),
            summary: Some(stored.summary),
            delivery: Some(Delivery {
                sent_seq,
                removed: false,
            }),
        }
    }
}

/// Whether the device has the candidate's document already (its delivery is acknowledged).
fn device_has(req: &PullRequest, candidate: &PullCandidate) -> bool {
    candidate.held_at(Seq(req.cursor.0))
}

/// Reads together the documents the first `room` candidates will send whole.
async fn preload_snapshots(
    storage: &SharedStorage,
    req: &PullRequest,
    batch: &[PullCandidate],
    skip: &Resent,
    room: usize,
) -> Result<HashMap<WorkOrderId, StoredDocument>, Error> {
    let wanted: Vec<WorkOrderId> = batch
        .iter()
        .filter(|c| !skip.contains_key(&c.doc))
        .take(room)
        .filter(|c| c.in_scope && !device_has(req, c))
        .map(|c| c.doc)
        .collect();
    if wanted.is_empty() {
        return Ok(HashMap::new());
    }
    let loaded = storage.load_documents(wanted).await?;
    Ok(loaded.into_iter().map(|d| (d.id, d)).collect())
}

/// The removal to send of a candidate that left the device's scope, if it was not sent yet.
fn removal(req: &PullRequest, candidate: &PullCandidate) -> Option<Update> {
    let acknowledged = |d: &Delivery| d.sent_seq.0 <= req.cursor.0;
    // Only documents this device was sent come here: tell it to drop them, once.
    match candidate.delivery {
        Some(d) if !d.removed || !acknowledged(&d) => Some(Update::removed(Some(Delivery {
            sent_seq: candidate.updated_seq,
            removed: true,
        }))),
        _ => None,
    }
}

/// Whether the candidate is known to have nothing for the device without reading anything
/// more: a removal it acknowledged, or a document it holds whose new changes, read with the
/// candidates, are all its own.
fn nothing_for(
    req: &PullRequest,
    candidate: &PullCandidate,
    held: &HashMap<WorkOrderId, Option<ChangesAfter>>,
) -> bool {
    if !candidate.in_scope {
        return removal(req, candidate).is_none();
    }
    device_has(req, candidate) && matches!(held.get(&candidate.doc), Some(None))
}

/// What to send of one candidate, if anything. `preloaded` may hold its stored document, and
/// `held` the changes the device has not seen of it.
async fn update_for(
    storage: &SharedStorage,
    req: &PullRequest,
    candidate: &PullCandidate,
    preloaded: &mut HashMap<WorkOrderId, StoredDocument>,
    held: &mut HashMap<WorkOrderId, Option<ChangesAfter>>,
) -> Result<Option<Update>, Error> {
    if !candidate.in_scope {
        return Ok(removal(req, candidate));
    }
    if device_has(req, candidate) {
        let after = match held.remove(&candidate.doc) {
            Some(read) => read,
            None => {
                storage
                    .changes_after(candidate.doc, Seq(req.cursor.0), req.device)
                    .await?
            }
        };
        let Some(after) = after else {
            return Ok(None);
        };
        return Ok(Some(Update {
            payload: UpdatePayload::Changes(after.changes.into_iter().map(ChangeBytes).collect()),
            summary: Some(after.summary),
            delivery: None,
        }));
    }
    let stored = match preloaded.remove(&candidate.doc) {
        Some(stored) => Some(stored),
        None => storage.load_document(candidate.doc).await?,
    };
    let Some(stored) = stored else {
        return Ok(None);
    };
    if !req.scope.contains(&stored.summary) {
        // Reassigned since the candidates were read: the next pull sends the removal.
        return Ok(None);
    }
    Ok(Some(Update::snapshot(stored, candidate.updated_seq)))
}

/// The documents a device asked for whole, each with the stored version it was answered with
/// (`Seq(0)` for one this server does not hold).
type Resent = HashMap<WorkOrderId, Seq>;

/// The next page for a device. `reservation` is taken from the pull budget before the page
/// holds snapshots or grows past a small size; the caller keeps it until the page is encoded.
pub async fn pull(
    storage: &SharedStorage,
    req: PullRequest,
    reservation: &mut PageReservation<'_>,
) -> Result<PullPage, Error> {
    let mut page = Page::new(req.limits);
    // Read before looking for documents (with the first candidates, when no document is
    // resent whole first): whatever is committed later gets a higher number, so a cursor up to
    // here skips nothing.
    let high_water = if req.resync.is_empty() {
        None
    } else {
        Some(storage.max_seq().await?)
    };
    let (resent, full) = resend_whole(storage, &req, &mut page, reservation).await?;
    let scanned = if full {
        stop(Seq(req.cursor.0), high_water)
    } else {
        scan(storage, &req, &mut page, reservation, &resent, high_water).await?
    };
    finish(storage, &req, page, scanned).await
}

/// Adds the documents the device asked for whole to the page. Returns what each was answered
/// with, and whether the page filled up before all were added.
async fn resend_whole(
    storage: &SharedStorage,
    req: &PullRequest,
    page: &mut Page,
    reservation: &mut PageReservation<'_>,
) -> Result<(Resent, bool), Error> {
    let mut resent = Resent::new();
    if req.resync.is_empty() {
        return Ok((resent, false));
    }
    reservation.hold(req.limits).await;
    for &doc in &req.resync {
        if resent.contains_key(&doc) {
            continue;
        }
        let stored = storage.load_document(doc).await?;
        resent.insert(doc, stored.as_ref().map_or(Seq(0), |s| s.version));
        let update = match stored {
            Some(s) if req.scope.contains(&s.summary) => {
                let version = s.version;
                Update::snapshot(s, version)
            }
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
                Update::removed(delivery)
            }
        };
        if !page.try_add(doc, update) {
            return Ok((resent, true));
        }
    }
    Ok((resent, false))
}

/// Where a scan of the candidates stopped.
struct Scanned {
    /// Every candidate up to here is in the page or has nothing for the device.
    processed: Seq,
    more: bool,
    /// The newest sequence number when the scan began.
    high_water: Option<Seq>,
}

/// Adds the changed documents after the device's cursor to the page, in commit order, until
/// it is full. `high_water` is the newest sequence number read before `resent` was loaded, if
/// it was.
async fn scan(
    storage: &SharedStorage,
    req: &PullRequest,
    page: &mut Page,
    reservation: &mut PageReservation<'_>,
    resent: &Resent,
    mut high_water: Option<Seq>,
) -> Result<Scanned, Error> {
    let mut processed = Seq(req.cursor.0);
    let mut after = processed;
    let mut looked_past = 0;
    'batches: loop {
        // The changes of as many held documents as the page has room for come along, and of
        // those a full page may pass over; without a reservation, only as many bytes of them
        // as a page may hold without one.
        let limited = !reservation.is_held();
        let room_for_bytes = if limited {
            SMALL_PAGE_BYTES.min(page.max_bytes)
        } else {
            page.max_bytes
        };
        let held = HeldLimit {
            docs: page.max_docs.saturating_sub(page.updates.len())
                + (LOOK_PAST_FULL_PAGE - looked_past),
            bytes: room_for_bytes.saturating_sub(page.bytes),
        };
        let CandidateBatch {
            high_water: read_with,
            candidates: batch,
            changes: mut held,
        } = storage
            .pull_candidates_with_changes(
                CandidateQuery {
                    device: req.device,
                    scope: req.scope,
                    after,
                    limit: BATCH,
                },
                Seq(req.cursor.0),
                held,
            )
            .await?;
        high_water.get_or_insert(read_with);
        let exhausted = batch.len() < BATCH as usize;
        let mut preloaded = HashMap::new();
        for (index, candidate) in batch.iter().enumerate() {
            after = candidate.updated_seq;
            match resent.get(&candidate.doc) {
                // In the page whole, at this version or a later one.
                Some(sent) if candidate.updated_seq <= *sent => {
                    processed = candidate.updated_seq;
                    continue;
                }
                // Committed after it was loaded for the page: the cursor must not pass this
                // commit, so the next page sends the document again.
                Some(_) => return Ok(stop(processed, high_water)),
                None => {}
            }
            if page.is_full() {
                // Past a full page, candidates with nothing for the device (its own changes
                // coming back, typically) are passed over, so that it is not made to ask
                // again for nothing.
                if looked_past >= LOOK_PAST_FULL_PAGE || !nothing_for(req, candidate, &held) {
                    return Ok(stop(processed, high_water));
                }
                looked_past += 1;
                processed = candidate.updated_seq;
                continue;
            }
            if limited
                && candidate.in_scope
                && device_has(req, candidate)
                && !held.contains_key(&candidate.doc)
            {
                // The changes read with the batch reached what a page may hold without a
                // reservation: take one, and read on from here with the room it gives.
                reservation.hold(req.limits).await;
                after = processed;
                continue 'batches;
            }
            if candidate.in_scope
                && !device_has(req, candidate)
                && !preloaded.contains_key(&candidate.doc)
            {
                reservation.hold(req.limits).await;
                let room = page.max_docs.saturating_sub(page.updates.len());
                preloaded = preload_snapshots(
                    storage,
                    req,
                    &batch[index..],
                    resent,
                    room.min(PRELOAD_DOCS),
                )
                .await?;
            }
            let update = update_for(storage, req, candidate, &mut preloaded, &mut held).await?;
            if let Some(update) = update {
                if !page.try_add(candidate.doc, update) {
                    return Ok(stop(processed, high_water));
                }
                if page.bytes > SMALL_PAGE_BYTES {
                    reservation.hold(req.limits).await;
                }
            }
            processed = candidate.updated_seq;
        }
        if exhausted {
            return Ok(Scanned {
                processed,
                more: false,
                high_water,
            });
        }
    }
}

/// A page that ended before the last candidate, with everything up to `processed` in it.
fn stop(processed: Seq, high_water: Option<Seq>) -> Scanned {
    Scanned {
        processed,
        more: true,
        high_water,
    }
}

/// Records what the page sends and answers with it and the cursor that acknowledges it.
async fn finish(
    storage: &SharedStorage,
    req: &PullRequest,
    page: Page,
    scanned: Scanned,
) -> Result<PullPage, Error> {
    let Scanned {
        processed,
        more,
        high_water,
    } = scanned;
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
    let cursor = match high_water {
        Some(high_water) if !more => processed.max(high_water),
        _ => processed,
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use fieldsync_proto::UserId;

    use super::*;
    use crate::storage::conformance::{change, commit_ok, new_doc, sent};
    use crate::storage::sqlite::SqliteStorage;
    use crate::storage::{NewChange, Scope};
    use crate::sync::budget::PullBudget;

    fn docs(page: &PullPage) -> Vec<WorkOrderId> {
        page.updates.iter().map(|u| u.doc).collect()
    }

    /// Jobs delivered to a tablet, which holds them; each edit made by the office, or by the
    /// tablet itself.
    struct Held {
        storage: SharedStorage,
        tech: UserId,
        tablet: DeviceId,
        jobs: Vec<WorkOrderId>,
        cursor: Cursor,
        _dir: tempfile::TempDir,
    }

    impl Held {
        async fn new(count: usize) -> Held {
            let dir = tempfile::tempdir().expect("tempdir");
            let storage: SharedStorage = Arc::new(
                SqliteStorage::open(dir.path().join("fieldsync.db"))
                    .await
                    .expect("open"),
            );
            let (tech, tablet) = (UserId::new(), DeviceId::new());
            let mut jobs = Vec::new();
            let mut deliveries = Vec::new();
            for _ in 0..count {
                let job = WorkOrderId::new();
                let seq = commit_ok(&storage, new_doc(job, Some(tech), vec![change(1)])).await;
                jobs.push(job);
                deliveries.push(sent(job, seq));
            }
            storage
                .record_deliveries(tablet, deliveries)
                .await
                .expect("record");
            let cursor = Cursor(storage.max_seq().await.expect("max").0);
            Held {
                storage,
                tech,
                tablet,
                jobs,
                cursor,
                _dir: dir,
            }
        }

        async fn edit(&self, job: usize, by_the_tablet: bool) -> Seq {
            self.commit(job, by_the_tablet, change(2)).await
        }

        async fn commit(&self, job: usize, by_the_tablet: bool, change: NewChange) -> Seq {
            let doc = self.jobs[job];
            let mut c = new_doc(doc, Some(self.tech), vec![change]);
            c.expected = Some(
                self.storage
                    .load_document(doc)
                    .await
                    .expect("load")
                    .expect("job")
                    .version,
            );
            c.origin = by_the_tablet.then_some(self.tablet);
            commit_ok(&self.storage, c).await
        }

        /// The stored version of the tablet's copy of `job`.
        async fn delivered(&self, job: usize) -> Option<Seq> {
            let delivery = self.storage.delivery(self.tablet, self.jobs[job]).await;
            delivery.expect("delivery").map(|d| d.sent_seq)
        }

        fn request(&self, cursor: Cursor, max_docs: u32) -> PullRequest {
            PullRequest {
                device: self.tablet,
                scope: Scope::AssignedTo(self.tech),
                cursor,
                resync: Vec::new(),
                limits: PullLimits {
                    max_docs,
                    max_bytes: 1 << 20,
                },
            }
        }

        async fn pull(&self, req: PullRequest) -> PullPage {
            let budget = PullBudget::new(1 << 24);
            let mut reservation = PageReservation::new(&budget);
            pull(&self.storage, req, &mut reservation)
                .await
                .expect("pull")
        }

        /// A page of at most one document from `cursor`.
        async fn pull_one(&self, cursor: Cursor) -> PullPage {
            self.pull(self.request(cursor, 1)).await
        }
    }

    /// A job delivered to the tablet and edited since by the office; the tablet's copy is
    /// unreadable, so it asks for the job whole with its cursor where the job was sent.
    async fn resync() -> (Held, PullRequest, Seq) {
        let held = Held::new(1).await;
        let edited = held.edit(0, false).await;
        let req = PullRequest {
            resync: vec![held.jobs[0]],
            ..held.request(held.cursor, 10)
        };
        (held, req, edited)
    }

    #[tokio::test]
    async fn a_full_page_passes_over_the_devices_own_changes_coming_back() {
        let held = Held::new(3).await;
        held.edit(0, false).await;
        held.edit(1, true).await;
        let last = held.edit(2, true).await;

        let page = held.pull_one(held.cursor).await;
        assert_eq!(docs(&page), vec![held.jobs[0]]);
        assert!(!page.more, "nothing else is new to the tablet");
        assert_eq!(page.cursor, Cursor(last.0));
    }

    #[tokio::test]
    async fn a_full_page_stops_at_the_next_document_with_news() {
        let held = Held::new(3).await;
        held.edit(0, false).await;
        held.edit(1, true).await;
        let office = held.edit(2, false).await;

        let first = held.pull_one(held.cursor).await;
        assert_eq!(docs(&first), vec![held.jobs[0]]);
        assert!(first.more);
        assert!(
            first.cursor.0 < office.0,
            "the office's edit is still to come"
        );
        let second = held.pull_one(first.cursor).await;
        assert_eq!(docs(&second), vec![held.jobs[2]]);
        assert!(!second.more);
    }

    #[tokio::test]
    async fn changes_past_a_small_page_are_read_on_once_the_page_has_its_budget() {
        let held = Held::new(3).await;
        let big = 40 * 1024;
        for job in 0..3 {
            let mut edit = change(7);
            edit.bytes = vec![7; big];
            held.commit(job, false, edit).await;
        }
        let budget = PullBudget::new(1 << 24);
        let mut reservation = PageReservation::new(&budget);

        let page = pull(
            &held.storage,
            held.request(held.cursor, 10),
            &mut reservation,
        )
        .await
        .expect("pull");
        assert_eq!(docs(&page), held.jobs);
        for update in &page.updates {
            let UpdatePayload::Changes(changes) = &update.payload else {
                panic!("changes expected");
            };
            assert_eq!(changes.len(), 1);
            assert_eq!(changes[0].0.len(), big);
        }
        assert!(!page.more);
        assert!(reservation.is_held());
    }

    #[tokio::test]
    async fn a_document_asked_for_whole_is_sent_once_and_the_cursor_passes_it() {
        let (held, req, edited) = resync().await;

        let page = held.pull(req).await;
        assert_eq!(
            docs(&page),
            held.jobs,
            "whole, and not again as a candidate"
        );
        assert!(matches!(
            page.updates[0].payload,
            UpdatePayload::Snapshot(_)
        ));
        assert!(!page.more);
        assert_eq!(page.cursor, Cursor(edited.0));
        assert_eq!(held.delivered(0).await, Some(edited));
    }

    #[tokio::test]
    async fn a_commit_between_resending_a_document_and_the_scan_is_sent_next() {
        let (held, req, edited) = resync().await;
        let storage = &held.storage;
        let budget = PullBudget::new(1 << 24);
        let mut reservation = PageReservation::new(&budget);

        // `pull`, with another edit of the job landing after it was loaded to be resent.
        let high_water = Some(storage.max_seq().await.expect("max"));
        let mut page = Page::new(req.limits);
        let (resent, full) = resend_whole(storage, &req, &mut page, &mut reservation)
            .await
            .expect("resend");
        assert!(!full);
        assert_eq!(resent[&held.jobs[0]], edited);
        let again = held.edit(0, false).await;
        let scanned = scan(
            storage,
            &req,
            &mut page,
            &mut reservation,
            &resent,
            high_water,
        )
        .await
        .expect("scan");
        let first = finish(storage, &req, page, scanned).await.expect("finish");
        assert_eq!(docs(&first), held.jobs);
        assert!(first.more, "the page ends before the commit it lacks");
        assert!(
            first.cursor.0 < again.0,
            "the cursor must not pass {again:?}"
        );
        assert_eq!(held.delivered(0).await, Some(edited));

        // The next round brings the job as it is now.
        let second = held.pull(held.request(first.cursor, 10)).await;
        assert_eq!(docs(&second), held.jobs);
        assert!(!second.more);
        assert_eq!(second.cursor, Cursor(again.0));
        assert_eq!(held.delivered(0).await, Some(again));
    }
}
