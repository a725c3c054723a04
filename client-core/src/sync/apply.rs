//! Applies one sync response to the store, all in the caller's single write transaction: push
//! outcomes settle the outbox, updates merge into documents and refresh the index, and only then
//! does the cursor move. If anything fails on the way, the transaction rolls back whole and the
//! same page is fetched again next time.

use std::borrow::Cow;
use std::collections::HashSet;

use rusqlite::Connection;

use fieldsync_proto::wire::{
    ChangeBytes, DocUpdate, ErrorCode, PushOutcome, Rejection, SyncResponse, UpdatePayload,
};
use fieldsync_proto::{
    Action, ActionError, DocumentError, Timestamp, WorkOrderDocument, WorkOrderId, WorkOrderSummary,
};

use crate::edit::LocalEdit;
use crate::error::Result;
use crate::local::{self, name_of};
use crate::store::{docs, index, leaving, meta, outbox, resync};
use crate::sync::notes;
use crate::sync::request::Outgoing;

/// What applying one response did.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Applied {
    pub accepted_docs: usize,
    pub rejected_docs: usize,
    /// Outbox rows settled: acknowledged, or moved to the rejected list.
    pub settled_rows: usize,
    /// Updates taken in (stored, removed, or knowingly kept).
    pub pulled_docs: usize,
    /// Documents newly waiting for a full copy.
    pub needs_resync: Vec<WorkOrderId>,
    /// Documents whose local copy changed or went away, for change notifications.
    pub changed: Vec<WorkOrderId>,
}

enum UpdateOutcome {
    Stored,
    /// Nothing new in it (the device's own changes coming back, say).
    Unchanged,
    Removed,
    /// Removed from scope, but kept until its local changes are acknowledged.
    Kept,
    NeedsResync(String),
}

pub(crate) fn apply_response(
    tx: &Connection,
    out: &Outgoing,
    resp: &SyncResponse,
    now: Timestamp,
) -> Result<Applied> {
    let mut applied = Applied::default();
    for result in &resp.results {
        let doc = result.doc;
        let sent = out.sent_ids(doc);
        if sent.is_empty() {
            tracing::warn!(%doc, "the server answered for a document this device did not push");
            continue;
        }
        match &result.outcome {
            PushOutcome::Accepted { .. } => {
                applied.settled_rows += outbox::delete_outbox_ids(tx, sent)?;
                applied.accepted_docs += 1;
            }
            PushOutcome::Rejected(rejection) => {
                applied.settled_rows += settle_rejection(tx, doc, sent, rejection, now)?;
                applied.needs_resync.push(doc);
                applied.changed.push(doc);
                applied.rejected_docs += 1;
            }
        }
        if leaving::is_leaving(tx, doc)? && !outbox::doc_has_outbox(tx, doc)? {
            // It left this device's scope; now that its changes are settled, it goes.
            docs::drop_doc(tx, doc)?;
            leaving::clear(tx, doc)?;
            resync::clear_resync(tx, doc)?;
            applied.needs_resync.retain(|d| *d != doc);
        }
    }

    let mut answered = HashSet::new();
    for update in &resp.updates {
        answered.insert(update.doc);
        let outcome = apply_update(tx, update, now)?;
        if matches!(outcome, UpdateOutcome::Stored | UpdateOutcome::Removed)
            && !applied.changed.contains(&update.doc)
        {
            applied.changed.push(update.doc);
        }
        match outcome {
            UpdateOutcome::Stored
            | UpdateOutcome::Unchanged
            | UpdateOutcome::Removed
            | UpdateOutcome::Kept => {
                applied.pulled_docs += 1;
                if matches!(update.payload, UpdatePayload::Snapshot(_)) {
                    applied.needs_resync.retain(|d| *d != update.doc);
                }
            }
            UpdateOutcome::NeedsResync(reason) => {
                tracing::warn!(doc = %update.doc, %reason, "update not applied; asking for a full copy");
                resync::mark_resync(tx, update.doc, &reason, now)?;
                if !applied.needs_resync.contains(&update.doc) {
                    applied.needs_resync.push(update.doc);
                }
            }
        }
    }

    if !resp.more {
        // The pull is complete: a full copy asked for and not sent is out of this device's
        // scope (or gone), so stop asking.
        for doc in &out.request.resync {
            if !answered.contains(doc) && !applied.needs_resync.contains(doc) {
                tracing::info!(%doc, "full copy not sent by the server; no longer asking");
                resync::clear_resync(tx, *doc)?;
                reject_held_out_of_scope(tx, *doc, now)?;
            }
        }
    }

    meta::set_cursor(tx, resp.cursor)?;
    Ok(applied)
}

fn apply_update(tx: &Connection, update: &DocUpdate, now: Timestamp) -> Result<UpdateOutcome> {
    let id = update.doc;
    match &update.payload {
        UpdatePayload::Snapshot(bytes) => match update.summary.as_ref() {
            Some(summary) if summary.id == id && is_new_here(tx, id)? => {
                file_new_snapshot(tx, id, bytes, summary)
            }
            _ => apply_snapshot(tx, id, bytes, now),
        },
        UpdatePayload::Changes(changes) => match update.summary.as_ref() {
            Some(summary) if summary.id == id && nothing_in_play(tx, id)? => {
                file_changes(tx, id, changes, summary)
            }
            _ => apply_changes(tx, id, changes, now),
        },
        UpdatePayload::Removed => {
            if outbox::doc_has_unsent(tx, id)? {
                // Reassigned while this device still has work to upload: that goes first.
                leaving::mark(tx, id, now)?;
                return Ok(UpdateOutcome::Kept);
            }
            reject_held_out_of_scope(tx, id, now)?;
            docs::drop_doc(tx, id)?;
            resync::clear_resync(tx, id)?;
            leaving::clear(tx, id)?;
            Ok(UpdateOutcome::Removed)
        }
    }
}

/// Whether this device holds nothing of the document: no copy, no local edits waiting.
fn is_new_here(tx: &Connection, id: WorkOrderId) -> Result<bool> {
    Ok(!docs::is_stored(tx, id)? && !outbox::doc_has_outbox(tx, id)?)
}

/// Files a document this device has never held under the server's index row, without loading
/// it: the first sync of a whole day's work stays a matter of writing bytes. The document is
/// loaded (and checked) the first time someone opens it.
fn file_new_snapshot(
    tx: &Connection,
    id: WorkOrderId,
    bytes: &[u8],
    summary: &WorkOrderSummary,
) -> Result<UpdateOutcome> {
    docs::replace_chunks(tx, id, bytes)?;
    index::upsert_summary(tx, summary)?;
    resync::clear_resync(tx, id)?;
    leaving::clear(tx, id)?;
    Ok(UpdateOutcome::Stored)
}

/// Whether this device holds the document and nothing of its own is in play for it: no local
/// edits in the outbox (sent or not, held or not), no full copy asked for, not on its way out.
/// Its copy is then the server's as of an earlier page, and the server's index row of the
/// changes it sends is the one this device would derive.
fn nothing_in_play(tx: &Connection, id: WorkOrderId) -> Result<bool> {
    Ok(docs::is_stored(tx, id)?
        && !outbox::doc_has_outbox(tx, id)?
        && !resync::is_marked(tx, id)?
        && !leaving::is_leaving(tx, id)?)
}

/// Files received changes as one more chunk under the server's index row, without loading the
/// document: catching up on a day of office edits stays a matter of writing bytes. Changes
/// this device holds already are harmless (loading merges each change once); the chunks are
/// compacted later, off this path (`docs::compact_piled_up`). A change that does not decode is
/// not stored: the document is asked for whole. One whose dependencies this copy lacks shows
/// when the document is next loaded, which asks for it whole then (`docs::load_document`).
fn file_changes(
    tx: &Connection,
    id: WorkOrderId,
    changes: &[ChangeBytes],
    summary: &WorkOrderSummary,
) -> Result<UpdateOutcome> {
    for (index, change) in changes.iter().enumerate() {
        if let Err(e) = automerge::Change::from_bytes(change.0.clone()) {
            return Ok(UpdateOutcome::NeedsResync(format!(
                "received change {index} could not be decoded: {e}"
            )));
        }
    }
    let chunk: Vec<u8> = changes.iter().flat_map(|c| c.0.iter().copied()).collect();
    docs::append_chunk(tx, id, &chunk)?;
    index::upsert_summary(tx, summary)?;
    Ok(UpdateOutcome::Stored)
}

fn apply_snapshot(
    tx: &Connection,
    id: WorkOrderId,
    bytes: &[u8],
    now: Timestamp,
) -> Result<UpdateOutcome> {
    let existing = docs::load_chunks(tx, id)?;
    let merged = if existing.is_empty() {
        WorkOrderDocument::load(bytes)
    } else {
        match WorkOrderDocument::load_chunks(existing.iter().map(Vec::as_slice)) {
            Ok(mut doc) => doc.merge_bytes(bytes).map(|()| doc),
            Err(e) => {
                tracing::warn!(doc = %id, error = %e, "local copy unreadable; rebuilding from the server's copy");
                rebuild(tx, id, bytes)
            }
        }
    };
    let mut doc = match merged {
        Ok(doc) => doc,
        Err(e) => {
            return Ok(UpdateOutcome::NeedsResync(format!(
                "the full copy could not be loaded: {e}"
            )))
        }
    };
    let wo = match doc.read_valid(id) {
        Ok(wo) => wo,
        Err(e) => {
            return Ok(UpdateOutcome::NeedsResync(format!(
                "the full copy is not a valid work order: {e}"
            )))
        }
    };
    if existing.is_empty() {
        docs::replace_chunks(tx, id, bytes)?;
    } else {
        docs::replace_chunks(tx, id, &doc.save())?;
    }
    index::upsert_summary(tx, &WorkOrderSummary::new(&wo, now))?;
    resync::clear_resync(tx, id)?;
    leaving::clear(tx, id)?;
    replay_held(tx, id, now)?;
    Ok(UpdateOutcome::Stored)
}

/// Settles a refused push of `doc`: the changes before the refused one were stored, the refused
/// one goes to the rejected list, and the later ones are held to be made again on the server's
/// version (or refused too, if they built on a creation the server refused). The local copy is
/// dropped and asked for whole. Returns how many sent rows were settled.
fn settle_rejection(
    tx: &Connection,
    doc: WorkOrderId,
    sent: &[i64],
    rejection: &Rejection,
    now: Timestamp,
) -> Result<usize> {
    let stored = usize::try_from(rejection.accepted)
        .unwrap_or(usize::MAX)
        .min(sent.len());
    let mut settled = outbox::delete_outbox_ids(tx, &sent[..stored])?;
    let number = name_of(tx, doc)?;
    if let Some(&refused) = sent.get(stored) {
        let creation = matches!(outbox::edit_of(tx, refused)?, Some(LocalEdit::Create(_)));
        settled += outbox::reject_rows(
            tx,
            &[refused],
            &number,
            rejection.code,
            &rejection.message,
            now,
        )?;
        outbox::hold_all(tx, doc)?;
        if creation {
            // Nothing can be made again on a work order that was never created.
            let message = format!(
                "the creation of {number} was refused, so this edit of it was not sent: {}",
                rejection.message
            );
            settled += outbox::reject_held(tx, doc, &number, rejection.code, &message, now)?;
        }
    }
    docs::drop_doc(tx, doc)?;
    let reason = format!("the server refused a change ({})", rejection.code);
    resync::mark_resync(tx, doc, &reason, now)?;
    tracing::warn!(%doc, %number, code = %rejection.code, accepted = stored, "change refused by the server");
    Ok(settled)
}

/// Held edits of a work order this device will not get back: refused, with the reason.
fn reject_held_out_of_scope(tx: &Connection, doc: WorkOrderId, now: Timestamp) -> Result<()> {
    let number = name_of(tx, doc)?;
    let moved = outbox::reject_held(
        tx,
        doc,
        &number,
        ErrorCode::Forbidden,
        &format!(
            "{number} is no longer available to this device, so this edit, made after a refused one, could not be made again"
        ),
        now,
    )?;
    if moved > 0 {
        tracing::warn!(%doc, %number, moved, "held edits refused: the work order left this device");
    }
    Ok(())
}

/// The code a held edit gets when it cannot be made again on the server's version.
fn code_for(e: &DocumentError) -> ErrorCode {
    match e {
        DocumentError::Action(ActionError::WrongStatus { .. }) => ErrorCode::Conflict,
        DocumentError::Action(
            ActionError::FieldWorkOnly { .. }
            | ActionError::OfficeOnly { .. }
            | ActionError::NotAssignee { .. },
        ) => ErrorCode::Forbidden,
        _ => ErrorCode::InvalidDocument,
    }
}

/// Makes the held edits of `id` again, in their order, on the version just stored: each that
/// still applies becomes a new change in its old place in the outbox; each that does not goes
/// to the rejected list with the reason. A notes edit is made again as the change of the text
/// the person made (`notes::rebase`), not as the whole text they left.
fn replay_held(tx: &Connection, id: WorkOrderId, now: Timestamp) -> Result<()> {
    let held = outbox::held_edits(tx, id)?;
    if held.is_empty() {
        return Ok(());
    }
    let actor = local::require_session(tx)?.actor();
    let number = name_of(tx, id)?;
    let Some(mut doc) = docs::load_document(tx, id)? else {
        return Ok(());
    };
    let mut latest = None;
    for edit in held {
        let mut action = match &edit.edit {
            LocalEdit::Act(action) => Cow::Borrowed(action),
            LocalEdit::Create(_) => {
                outbox::reject_rows(
                    tx,
                    &[edit.id],
                    &number,
                    ErrorCode::Conflict,
                    "the work order exists already; the creation was not made again",
                    now,
                )?;
                continue;
            }
        };
        let mut notes_before = None;
        if let (Action::EditNotes { text }, Some(base)) = (action.as_ref(), &edit.notes_before) {
            // An unreadable version fails `act` below with the reason.
            if let Ok(current) = doc.read() {
                let theirs = current.notes.as_str().to_owned();
                action = Cow::Owned(Action::EditNotes {
                    text: notes::rebase(base, text, &theirs),
                });
                notes_before = Some(theirs);
            }
        }
        // The person's own time, so that SLA clocks count from when they acted.
        match doc.act(&action, &actor, edit.at) {
            Ok((wo, change)) => {
                docs::append_chunk(tx, id, &change.bytes)?;
                outbox::release(
                    tx,
                    edit.id,
                    &change.hash,
                    &change.bytes,
                    notes_before.as_deref(),
                )?;
                latest = Some(wo);
            }
            Err(DocumentError::Unchanged) => {
                // The server's version already looks like this edit wanted: nothing to send.
                outbox::delete_outbox_ids(tx, &[edit.id])?;
            }
            Err(e) => {
                let message = format!(
                    "{} could not be made again on the server's version of {number}: {e}",
                    action.name()
                );
                outbox::reject_rows(tx, &[edit.id], &number, code_for(&e), &message, now)?;
            }
        }
    }
    if let Some(wo) = latest {
        index::upsert_summary(tx, &WorkOrderSummary::new(&wo, now))?;
        let chunks = docs::chunk_count(tx, id)?;
        docs::compact_if_needed(tx, id, chunks, &mut doc)?;
    }
    Ok(())
}

/// The server's copy plus this device's unacknowledged changes, when the local copy is lost.
fn rebuild(
    tx: &Connection,
    id: WorkOrderId,
    snapshot: &[u8],
) -> std::result::Result<WorkOrderDocument, fieldsync_proto::DocumentError> {
    let mut doc = WorkOrderDocument::load(snapshot)?;
    if let Ok(pending) = outbox::outbox_changes_for(tx, id) {
        if let Err(e) = doc.apply_changes(&pending) {
            tracing::warn!(doc = %id, error = %e, "unsent local changes could not be re-applied");
            doc = WorkOrderDocument::load(snapshot)?;
        }
    }
    Ok(doc)
}

fn apply_changes(
    tx: &Connection,
    id: WorkOrderId,
    changes: &[ChangeBytes],
    now: Timestamp,
) -> Result<UpdateOutcome> {
    let existing = docs::load_chunks(tx, id)?;
    let mut doc = match WorkOrderDocument::load_chunks(existing.iter().map(Vec::as_slice)) {
        Ok(doc) => doc,
        Err(e) => {
            return Ok(UpdateOutcome::NeedsResync(format!(
                "the local copy could not be loaded: {e}"
            )))
        }
    };
    let new: HashSet<_> = match doc.apply_changes(changes) {
        Ok(new) => new.into_iter().collect(),
        Err(e) => {
            return Ok(UpdateOutcome::NeedsResync(format!(
                "received changes could not be applied: {e}"
            )))
        }
    };
    if new.is_empty() {
        return Ok(UpdateOutcome::Unchanged);
    }
    let wo = match doc.read_valid(id) {
        Ok(wo) => wo,
        Err(e) => {
            return Ok(UpdateOutcome::NeedsResync(format!(
                "received changes leave an invalid work order: {e}"
            )))
        }
    };
    // One chunk for the page's new changes: concatenated change chunks load incrementally.
    let mut chunk = Vec::new();
    for change in changes {
        let hash = automerge::Change::from_bytes(change.0.clone())
            .ok()
            .map(|c| c.hash());
        if hash.is_none_or(|h| new.contains(&h)) {
            chunk.extend_from_slice(&change.0);
        }
    }
    let chunks = docs::append_chunk(tx, id, &chunk)?;
    index::upsert_summary(tx, &WorkOrderSummary::new(&wo, now))?;
    docs::compact_if_needed(tx, id, chunks, &mut doc)?;
    Ok(UpdateOutcome::Stored)
}

#[cfg(test)]
mod tests {
    use fieldsync_proto::wire::{Cursor, ErrorCode, PushResult, Rejection};
    use fieldsync_proto::{Action, NewPartUsage, Role, ScheduleWindow, Status, UserId};

    use super::*;
    use crate::error::Error;
    use crate::local;
    use crate::store::Store;
    use crate::sync::request::{self, Outgoing};
    use crate::testing::{
        changes_since, now, office_actor, response, server_doc, store_as, update,
    };

    fn build(store: &Store) -> Outgoing {
        store
            .read(|c| request::build(c, request::PUSH_BUDGET_BYTES))
            .expect("build")
    }

    fn apply(store: &Store, out: &Outgoing, resp: &SyncResponse) -> Applied {
        store
            .write(|tx| apply_response(tx, out, resp, now()))
            .expect("apply")
    }

    fn act(store: &Store, id: WorkOrderId, action: Action) {
        store
            .write(|tx| local::act(tx, id, &action, now()))
            .expect("act");
    }

    fn part(number: &str) -> Action {
        Action::RecordPartUsage(NewPartUsage {
            part_number: number.into(),
            quantity: 1,
            source_location: "VAN-07".into(),
            serial: None,
            refurbished: false,
        })
    }

    fn pending(store: &Store) -> usize {
        store.read(outbox::outbox_count).expect("count")
    }

    fn cursor(store: &Store) -> Cursor {
        store.read(meta::get_cursor).expect("cursor")
    }

    fn has_doc(store: &Store, id: WorkOrderId) -> bool {
        store
            .read(|c| Ok(docs::chunk_count(c, id)? > 0))
            .expect("count")
    }

    fn resync_list(store: &Store) -> Vec<WorkOrderId> {
        store.read(|c| resync::resync_docs(c, 100)).expect("resync")
    }

    fn accepted(out: &Outgoing, doc: WorkOrderId) -> SyncResponse {
        let mut resp = response(out.request.cursor.0, Vec::new());
        resp.results.push(PushResult {
            doc,
            outcome: PushOutcome::Accepted { new_changes: 1 },
        });
        resp
    }

    /// A technician's store that received one job from the server, and that job's server copy.
    fn tech_with_job() -> (Store, WorkOrderId, WorkOrderDocument) {
        let (store, session) = store_as(Role::Technician);
        let (id, mut doc) = server_doc(session.user_id);
        let out = build(&store);
        let applied = apply(
            &store,
            &out,
            &response(5, vec![(id, UpdatePayload::Snapshot(doc.save()))]),
        );
        assert_eq!(applied.pulled_docs, 1);
        (store, id, doc)
    }

    #[test]
    fn a_snapshot_is_stored_indexed_and_moves_the_cursor() {
        let (store, id, _) = tech_with_job();
        assert_eq!(cursor(&store), Cursor(5));
        let view = store.read(|c| local::view(c, id, now())).expect("view");
        assert_eq!(view.status, Status::Assigned);
        let listed = store
            .read(|c| index::list(c, &Default::default()))
            .expect("list");
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].customer_name, "Harbor Bakery");
    }

    #[test]
    fn an_acknowledgement_removes_exactly_the_rows_sent() {
        let (store, id, _) = tech_with_job();
        act(&store, id, Action::Accept);
        act(&store, id, Action::StartTravel);
        let out = build(&store);
        assert_eq!(out.request.push.len(), 1);
        assert_eq!(out.request.push[0].changes.len(), 2);
        // Work goes on while the request is in flight.
        act(&store, id, Action::Arrive);
        let applied = apply(&store, &out, &accepted(&out, id));
        assert_eq!(applied.accepted_docs, 1);
        assert_eq!(applied.settled_rows, 2);
        assert_eq!(
            pending(&store),
            1,
            "the newer change waits for the next round"
        );
    }

    #[test]
    fn a_retried_push_after_a_lost_answer_leaves_no_duplicates() {
        let (store, id, _) = tech_with_job();
        act(&store, id, Action::Accept);
        act(&store, id, part("PUMP-200"));
        let first = build(&store);
        // The answer to `first` never arrives: nothing is applied, so the retry sends the same.
        let retry = build(&store);
        assert_eq!(first.request.push, retry.request.push);
        let chunks_before = store.read(|c| docs::chunk_count(c, id)).expect("chunks");

        // The server stored the first attempt; the retry is acknowledged, and it sends back the
        // device's own changes too (harmless duplicates must not double anything).
        let mut resp = accepted(&retry, id);
        resp.updates.push(update(
            id,
            UpdatePayload::Changes(retry.request.push[0].changes.clone()),
        ));
        apply(&store, &retry, &resp);
        // A late duplicate of the first answer changes nothing either.
        apply(&store, &first, &accepted(&first, id));

        assert_eq!(pending(&store), 0);
        assert_eq!(
            store.read(|c| docs::chunk_count(c, id)).expect("chunks"),
            chunks_before,
            "known changes are not stored again"
        );
        let view = store.read(|c| local::view(c, id, now())).expect("view");
        assert_eq!(view.part_usages.len(), 1);
        assert_eq!(view.parts_used, 1);
    }

    fn refused(out: &Outgoing, doc: WorkOrderId, code: ErrorCode, accepted: u32) -> SyncResponse {
        let mut resp = response(out.request.cursor.0 + 1, Vec::new());
        resp.results.push(PushResult {
            doc,
            outcome: PushOutcome::Rejected(Rejection {
                code,
                message: "technicians cannot change the schedule".into(),
                accepted,
            }),
        });
        resp
    }

    #[test]
    fn a_rejection_keeps_the_refused_change_and_replays_the_later_edits() {
        let (store, id, mut server) = tech_with_job();
        act(&store, id, Action::Accept);
        act(&store, id, part("PUMP-200"));
        let out = build(&store);
        // Made after the request went out; it builds on the refused change too.
        act(&store, id, part("FUSE-10A"));
        let applied = apply(
            &store,
            &out,
            &refused(&out, id, ErrorCode::FieldNotWritable, 0),
        );
        assert_eq!(applied.rejected_docs, 1);
        assert_eq!(applied.needs_resync, vec![id]);
        assert!(!has_doc(&store, id), "the local copy is dropped");
        assert_eq!(pending(&store), 2, "the later edits wait, held");

        let rejected = store.read(outbox::rejected_list).expect("rejected");
        assert_eq!(rejected.len(), 1, "only the refused change: {rejected:?}");
        assert_eq!(rejected[0].code, ErrorCode::FieldNotWritable);
        assert!(rejected[0].message.contains("schedule"));
        assert_eq!(rejected[0].action(), Some(&Action::Accept));
        assert!(rejected[0].number.starts_with("WO-"));

        // Nothing held is sent; the next request asks for the document whole.
        let next = build(&store);
        assert_eq!(next.request.resync, vec![id]);
        assert!(next.request.push.is_empty());
        // The server's version comes back (the office meanwhile moved the job on), and the
        // held edits are made again on top of it, in order, with their original times.
        server
            .act(&Action::Accept, &office_as_tech(&server), now())
            .ok();
        apply(
            &store,
            &next,
            &response(7, vec![(id, UpdatePayload::Snapshot(server.save()))]),
        );
        assert!(resync_list(&store).is_empty());
        let view = store.read(|c| local::view(c, id, now())).expect("view");
        assert_eq!(
            view.part_usages
                .iter()
                .map(|p| p.part_number.as_str())
                .collect::<Vec<_>>(),
            vec!["PUMP-200", "FUSE-10A"]
        );
        let again = build(&store);
        assert_eq!(again.request.push.len(), 1);
        assert_eq!(
            again.request.push[0].changes.len(),
            2,
            "both edits go up again"
        );
        assert_eq!(pending(&store), 2);
    }

    /// The assignee of the server copy, acting on it (for a server-side acceptance).
    fn office_as_tech(server: &WorkOrderDocument) -> fieldsync_proto::Actor {
        let wo = server.read().expect("read");
        fieldsync_proto::Actor {
            user: wo.assignee.expect("assigned"),
            role: Role::Technician,
            device: fieldsync_proto::DeviceId::new(),
        }
    }

    fn notes(store: &Store, id: WorkOrderId) -> String {
        store
            .read(|c| local::view(c, id, now()))
            .expect("view")
            .notes
    }

    /// The changes of `out` for `doc`, up to `n`, taken in by the server copy.
    fn server_takes(server: &mut WorkOrderDocument, out: &Outgoing, n: usize) {
        let push = &out.request.push[0];
        server
            .apply_changes(&push.changes[..n])
            .expect("the server stores the accepted part");
    }

    #[test]
    fn a_notes_edit_after_a_refused_change_is_made_again_once_beside_the_accepted_one() {
        // The notes edit before the refused change is stored on the server; the one after it
        // is held and made again on the server's version, which already holds the first. Text
        // splices are not idempotent, so each must reach the server exactly once.
        let (store, id, mut server) = tech_with_job();
        act(
            &store,
            id,
            Action::EditNotes {
                text: "[one]".into(),
            },
        );
        act(&store, id, Action::Accept);
        act(
            &store,
            id,
            Action::EditNotes {
                text: "[one] [two]".into(),
            },
        );
        let out = build(&store);
        assert_eq!(out.request.push[0].changes.len(), 3);
        server_takes(&mut server, &out, 1);
        apply(
            &store,
            &out,
            &refused(&out, id, ErrorCode::FieldNotWritable, 1),
        );
        assert_eq!(pending(&store), 1, "only the later notes edit is held");

        apply(
            &store,
            &build(&store),
            &response(7, vec![(id, UpdatePayload::Snapshot(server.save()))]),
        );
        assert_eq!(notes(&store, id), "[one] [two]");
        // The edit made again goes up, and the server ends with each part once.
        let again = build(&store);
        assert_eq!(again.request.push[0].changes.len(), 1);
        server_takes(&mut server, &again, 1);
        assert_eq!(server.read().expect("read").notes.as_str(), "[one] [two]");
        // A late copy of the first request changes nothing on the server: its accepted part is
        // there already, and the refused change is refused again.
        server_takes(&mut server, &out, 1);
        assert_eq!(server.read().expect("read").notes.as_str(), "[one] [two]");
    }

    #[test]
    fn a_held_notes_edit_keeps_what_others_wrote_meanwhile() {
        // Notes merge as text: making a held notes edit again adds what this device typed to
        // the server's text, and does not replace what someone else wrote in the meantime.
        let (store, id, mut server) = tech_with_job();
        act(&store, id, Action::Accept);
        act(
            &store,
            id,
            Action::EditNotes {
                text: "[mine]".into(),
            },
        );
        let out = build(&store);
        apply(
            &store,
            &out,
            &refused(&out, id, ErrorCode::FieldNotWritable, 0),
        );
        let admin = fieldsync_proto::Actor {
            role: Role::Admin,
            ..office_actor()
        };
        server
            .act(
                &Action::EditNotes {
                    text: "[theirs]".into(),
                },
                &admin,
                now(),
            )
            .expect("someone else's note");
        apply(
            &store,
            &build(&store),
            &response(7, vec![(id, UpdatePayload::Snapshot(server.save()))]),
        );
        let text = notes(&store, id);
        assert_eq!(text.matches("[mine]").count(), 1, "{text}");
        assert_eq!(text.matches("[theirs]").count(), 1, "{text}");
    }

    #[test]
    fn held_edits_that_no_longer_fit_are_refused_with_the_reason() {
        let (store, id, mut server) = tech_with_job();
        act(&store, id, Action::Accept);
        act(&store, id, Action::StartTravel);
        let out = build(&store);
        apply(
            &store,
            &out,
            &refused(&out, id, ErrorCode::FieldNotWritable, 0),
        );
        // The server's copy was cancelled by the office meanwhile: travelling no longer fits.
        server
            .act(
                &Action::Cancel {
                    reason: "duplicate".into(),
                },
                &office_actor(),
                now(),
            )
            .expect("cancel");
        apply(
            &store,
            &build(&store),
            &response(8, vec![(id, UpdatePayload::Snapshot(server.save()))]),
        );
        assert_eq!(pending(&store), 0);
        let rejected = store.read(outbox::rejected_list).expect("rejected");
        assert_eq!(rejected.len(), 2);
        assert_eq!(rejected[1].action(), Some(&Action::StartTravel));
        assert_eq!(rejected[1].code, ErrorCode::Conflict);
        assert!(
            rejected[1].message.contains("could not be made again"),
            "{}",
            rejected[1].message
        );
    }

    #[test]
    fn held_edits_of_a_work_order_that_left_the_device_are_refused() {
        let (store, id, _) = tech_with_job();
        act(&store, id, Action::Accept);
        act(&store, id, part("PUMP-200"));
        let out = build(&store);
        apply(
            &store,
            &out,
            &refused(&out, id, ErrorCode::FieldNotWritable, 0),
        );
        // Reassigned: the server answers the resync with a removal.
        apply(
            &store,
            &build(&store),
            &response(9, vec![(id, UpdatePayload::Removed)]),
        );
        assert_eq!(pending(&store), 0);
        let rejected = store.read(outbox::rejected_list).expect("rejected");
        assert_eq!(rejected.len(), 2);
        assert!(
            rejected[1].message.contains("no longer available"),
            "{}",
            rejected[1].message
        );
        assert!(resync_list(&store).is_empty());
    }

    #[test]
    fn changes_before_the_refused_one_count_as_acknowledged() {
        let (store, id, _) = tech_with_job();
        act(&store, id, Action::Accept);
        act(&store, id, part("PUMP-200"));
        let out = build(&store);
        let mut resp = response(6, Vec::new());
        resp.results.push(PushResult {
            doc: id,
            outcome: PushOutcome::Rejected(Rejection {
                code: ErrorCode::InvalidDocument,
                message: "part_usages[0].quantity: too large".into(),
                accepted: 1,
            }),
        });
        apply(&store, &out, &resp);
        let rejected = store.read(outbox::rejected_list).expect("rejected");
        assert_eq!(rejected.len(), 1);
        assert_eq!(rejected[0].action(), Some(&part("PUMP-200")));
    }

    #[test]
    fn an_interrupted_apply_leaves_the_cursor_and_outbox_unmoved() {
        let (store, id, mut server) = tech_with_job();
        act(&store, id, Action::Accept);
        let (other, mut other_doc) = server_doc(UserId::new());
        let out = build(&store);
        let mut resp = response(
            9,
            vec![
                (id, UpdatePayload::Snapshot(server.save())),
                (other, UpdatePayload::Snapshot(other_doc.save())),
            ],
        );
        resp.results.push(PushResult {
            doc: id,
            outcome: PushOutcome::Accepted { new_changes: 1 },
        });
        // The disk fills up while the second document is written.
        store
            .write(|tx| {
                tx.execute_batch(&format!(
                    "CREATE TEMP TRIGGER disk_full BEFORE INSERT ON doc_chunks
                     WHEN NEW.doc = '{other}' BEGIN SELECT RAISE(ABORT, 'disk full'); END;"
                ))?;
                Ok(())
            })
            .expect("trigger");
        let err = store
            .write(|tx| apply_response(tx, &out, &resp, now()))
            .expect_err("write fails");
        assert!(matches!(err, Error::Storage(_)), "{err:?}");

        assert_eq!(cursor(&store), Cursor(5), "cursor unmoved");
        assert_eq!(pending(&store), 1, "acknowledgement not applied");
        assert!(!has_doc(&store, other));
        let view = store.read(|c| local::view(c, id, now())).expect("view");
        assert_eq!(view.status, Status::Accepted, "the local edit is intact");

        // Once there is room again, the same page applies in full.
        store
            .write(|tx| Ok(tx.execute_batch("DROP TRIGGER temp.disk_full")?))
            .expect("drop trigger");
        apply(&store, &out, &resp);
        assert_eq!(cursor(&store), Cursor(9));
        assert_eq!(pending(&store), 0);
        assert!(has_doc(&store, other));
    }

    #[test]
    fn changes_that_cannot_apply_ask_for_a_full_copy_without_failing_the_sync() {
        let (store, id, mut server) = tech_with_job();
        let heads = server.heads();
        // Two office edits; the device is sent only the second, which needs the first.
        let office = office_actor();
        let classify = Action::Classify {
            category: fieldsync_proto::ProblemCategory::Hardware,
            urgency: fieldsync_proto::Urgency::Emergency,
            impact: fieldsync_proto::Impact::OneUnit,
            tier: None,
        };
        server.act(&classify, &office, now()).expect("classify");
        let start = now().plus_minutes(30);
        let window = Some(ScheduleWindow {
            start,
            end: start.plus_minutes(60),
        });
        server
            .act(&Action::Reschedule { window }, &office, now())
            .expect("reschedule");
        let changes = server.changes_since(&heads);
        assert_eq!(changes.len(), 2);
        let second = changes[1].1.clone();
        let out = build(&store);
        let applied = apply(
            &store,
            &out,
            &response(
                8,
                vec![(
                    id,
                    UpdatePayload::Changes(vec![fieldsync_proto::wire::ChangeBytes(second)]),
                )],
            ),
        );
        assert_eq!(applied.needs_resync, vec![id]);
        assert_eq!(cursor(&store), Cursor(8), "the rest of the page counts");
        assert_eq!(resync_list(&store), vec![id]);
        let view = store.read(|c| local::view(c, id, now())).expect("view");
        assert_eq!(view.urgency, fieldsync_proto::Urgency::Normal, "unchanged");

        // Complete changes apply, in one chunk, and refresh the index.
        let all = changes
            .into_iter()
            .map(|(_, bytes)| fieldsync_proto::wire::ChangeBytes(bytes))
            .collect();
        apply(
            &store,
            &build(&store),
            &response(9, vec![(id, UpdatePayload::Changes(all))]),
        );
        let listed = store
            .read(|c| index::list(c, &Default::default()))
            .expect("list");
        assert_eq!(listed[0].priority, fieldsync_proto::Priority::P2);
    }

    /// A page of `updates`, complete.
    fn page(cursor: u64, updates: Vec<DocUpdate>) -> SyncResponse {
        let mut resp = response(cursor, Vec::new());
        resp.updates = updates;
        resp
    }

    fn chunks(store: &Store, id: WorkOrderId) -> usize {
        store.read(|c| docs::chunk_count(c, id)).expect("chunks")
    }

    fn row(store: &Store, id: WorkOrderId) -> WorkOrderSummary {
        store
            .read(|c| index::list(c, &Default::default()))
            .expect("list")
            .into_iter()
            .find(|s| s.id == id)
            .expect("listed")
    }

    /// Office edits on the server copy: an emergency classification (P2) and a note.
    fn office_edits(server: &mut WorkOrderDocument) {
        let classify = Action::Classify {
            category: fieldsync_proto::ProblemCategory::Hardware,
            urgency: fieldsync_proto::Urgency::Emergency,
            impact: fieldsync_proto::Impact::OneUnit,
            tier: None,
        };
        server
            .act(&classify, &office_actor(), now())
            .expect("classify");
        let admin = fieldsync_proto::Actor {
            role: Role::Admin,
            ..office_actor()
        };
        server
            .act(
                &Action::EditNotes {
                    text: "[office]".into(),
                },
                &admin,
                now(),
            )
            .expect("note");
    }

    #[test]
    fn office_changes_are_filed_unread_under_the_servers_row() {
        let (store, id, mut server) = tech_with_job();
        let heads = server.heads();
        office_edits(&mut server);
        let sent = changes_since(&mut server, id, &heads);
        let before = chunks(&store, id);

        let applied = apply(&store, &build(&store), &page(6, vec![sent.clone()]));
        assert_eq!(applied.changed, vec![id]);
        assert!(applied.needs_resync.is_empty());
        assert_eq!(chunks(&store, id), before + 1, "one chunk for the page");
        assert_eq!(Some(row(&store, id)), sent.summary, "the server's row");

        // The same page again (its answer was lost, say): filed without loading the document to
        // see the changes are known, so stored again, and merged once when read.
        apply(&store, &build(&store), &page(7, vec![sent.clone()]));
        assert_eq!(chunks(&store, id), before + 2, "filed unread");
        let view = store.read(|c| local::view(c, id, now())).expect("view");
        assert_eq!(view.priority, fieldsync_proto::Priority::P2);
        assert_eq!(view.notes, "[office]");
        assert_eq!(Some(row(&store, id)), sent.summary);
        let mut local = store
            .read(|c| docs::load_document(c, id))
            .expect("loads")
            .expect("stored");
        assert_eq!(local.heads(), server.heads());
    }

    #[test]
    fn filed_changes_that_pile_up_are_compacted_after_the_sync() {
        let (store, id, mut server) = tech_with_job();
        let heads = server.heads();
        office_edits(&mut server);
        let sent = changes_since(&mut server, id, &heads);
        for cursor in 6..6 + docs::COMPACT_AFTER_CHUNKS as u64 {
            apply(&store, &build(&store), &page(cursor, vec![sent.clone()]));
        }
        assert!(chunks(&store, id) > docs::COMPACT_AFTER_CHUNKS);
        let compacted = store
            .write(|tx| docs::compact_piled_up(tx, 8, now()))
            .expect("compact");
        assert_eq!(compacted, 1);
        assert_eq!(chunks(&store, id), 1);
        let view = store.read(|c| local::view(c, id, now())).expect("view");
        assert_eq!(view.notes, "[office]");
        assert_eq!(view.priority, fieldsync_proto::Priority::P2);
    }

    #[test]
    fn changes_to_a_work_order_with_local_edits_merge_with_them() {
        let (store, id, mut server) = tech_with_job();
        let heads = server.heads();
        act(&store, id, Action::Accept);
        // The acceptance is on its way up when the office's edits come down: the server's row
        // does not know it yet, so the device derives its own.
        let in_flight = build(&store);
        assert_eq!(in_flight.request.push.len(), 1);
        office_edits(&mut server);
        let sent = changes_since(&mut server, id, &heads);
        assert_eq!(
            sent.summary.as_ref().map(|s| s.status),
            Some(Status::Assigned)
        );

        let applied = apply(&store, &in_flight, &page(6, vec![sent]));
        assert!(applied.needs_resync.is_empty());
        let view = store.read(|c| local::view(c, id, now())).expect("view");
        assert_eq!(view.status, Status::Accepted, "the local edit is kept");
        assert_eq!(view.notes, "[office]", "the office's edit is merged");
        let listed = row(&store, id);
        assert_eq!(listed.status, Status::Accepted);
        assert_eq!(listed.priority, fieldsync_proto::Priority::P2);
        assert_eq!(pending(&store), 1);
    }

    #[test]
    fn an_undecodable_change_asks_for_a_full_copy_and_stores_nothing() {
        let (store, id, mut server) = tech_with_job();
        let heads = server.heads();
        office_edits(&mut server);
        let mut sent = changes_since(&mut server, id, &heads);
        let UpdatePayload::Changes(changes) = &mut sent.payload else {
            unreachable!("changes_since sends changes");
        };
        let last = changes.last_mut().expect("two changes");
        last.0.truncate(last.0.len() / 2);
        let before = (chunks(&store, id), row(&store, id));

        let applied = apply(&store, &build(&store), &page(6, vec![sent]));
        assert_eq!(applied.needs_resync, vec![id]);
        assert_eq!(resync_list(&store), vec![id]);
        assert_eq!(
            (chunks(&store, id), row(&store, id)),
            before,
            "nothing stored"
        );
        assert_eq!(cursor(&store), Cursor(6), "the rest of the page counts");
        let view = store.read(|c| local::view(c, id, now())).expect("view");
        assert_eq!(view.notes, "", "the local copy is as it was");
    }

    #[test]
    fn changes_filed_without_what_they_build_on_make_the_copy_fetched_again() {
        let (store, id, mut server) = tech_with_job();
        let heads = server.heads();
        office_edits(&mut server);
        let mut sent = changes_since(&mut server, id, &heads);
        // Only the note arrives; the classification it builds on does not.
        if let UpdatePayload::Changes(changes) = &mut sent.payload {
            changes.remove(0);
        }
        let applied = apply(&store, &build(&store), &page(6, vec![sent]));
        assert!(applied.needs_resync.is_empty(), "not noticed unread");

        let err = store
            .read(|c| docs::load_document(c, id))
            .expect_err("an incomplete copy");
        assert!(matches!(err, Error::Corrupt { .. }), "{err:?}");
        assert!(err.to_string().contains("missing"), "{err}");
        // Asked for whole, and the server's copy makes it complete again.
        let marked = store
            .write(|tx| resync::fetch_again_unreadable(tx, id, &err.to_string(), now()))
            .expect("mark");
        assert!(marked);
        let next = build(&store);
        assert_eq!(next.request.resync, vec![id]);
        apply(
            &store,
            &next,
            &response(7, vec![(id, UpdatePayload::Snapshot(server.save()))]),
        );
        assert!(resync_list(&store).is_empty());
        let view = store.read(|c| local::view(c, id, now())).expect("view");
        assert_eq!(view.notes, "[office]");
        assert_eq!(view.priority, fieldsync_proto::Priority::P2);
    }

    #[test]
    fn removal_waits_for_unsent_changes() {
        let (store, id, _) = tech_with_job();
        act(&store, id, Action::Accept);
        let out = build(&store);
        let removed = response(10, vec![(id, UpdatePayload::Removed)]);
        apply(&store, &out, &removed);
        assert!(
            has_doc(&store, id),
            "kept: its change is not acknowledged yet"
        );

        // Once the change is acknowledged the document goes, without another removal.
        apply(&store, &out, &accepted(&out, id));
        assert!(!has_doc(&store, id));
        let listed = store
            .read(|c| index::list(c, &Default::default()))
            .expect("list");
        assert!(listed.is_empty());
    }

    #[test]
    fn a_snapshot_merges_with_unsent_local_changes() {
        let (store, id, mut server) = tech_with_job();
        act(&store, id, Action::Accept);
        let start = now().plus_minutes(90);
        let window = Some(ScheduleWindow {
            start,
            end: start.plus_minutes(60),
        });
        server
            .act(&Action::Reschedule { window }, &office_actor(), now())
            .expect("server edit");
        apply(
            &store,
            &build(&store),
            &response(11, vec![(id, UpdatePayload::Snapshot(server.save()))]),
        );
        let view = store.read(|c| local::view(c, id, now())).expect("view");
        assert_eq!(view.status, Status::Accepted, "local change kept");
        assert_eq!(
            view.schedule.map(|w| w.start),
            Some(start),
            "server change merged"
        );
        assert_eq!(pending(&store), 1);
    }

    #[test]
    fn a_full_copy_the_server_does_not_send_is_no_longer_asked_for() {
        let (store, _, _) = tech_with_job();
        let gone = WorkOrderId::new();
        store
            .write(|tx| resync::mark_resync(tx, gone, "test", now()))
            .expect("mark");
        let out = build(&store);
        assert_eq!(out.request.resync, vec![gone]);
        let mut partial = response(12, Vec::new());
        partial.more = true;
        apply(&store, &out, &partial);
        assert_eq!(resync_list(&store), vec![gone], "may come on a later page");
        apply(&store, &out, &response(13, Vec::new()));
        assert!(resync_list(&store).is_empty());
    }
}
