//! Local edits, each as one write transaction: load the document, make the change, append it
//! as a chunk, queue it in the outbox, refresh the index row, commit. A refused action writes
//! nothing; an edit that returned is on disk.

use rusqlite::Connection;

use fieldsync_proto::{
    human_number, Action, DocumentError, NewWorkOrder, Timestamp, WorkOrderDocument, WorkOrderId,
    WorkOrderSummary, WorkOrderView,
};

use crate::edit::LocalEdit;
use crate::error::{Error, Result};
use crate::session::Session;
use crate::store::{doc_cache, docs, index, meta, outbox};

/// The signed-in session, or the error that tells the person to log in.
pub(crate) fn require_session(conn: &Connection) -> Result<Session> {
    meta::get_session(conn)?
        .map(|s| s.session)
        .ok_or(Error::NotLoggedIn)
}

/// How a work order is named in messages: its number if this device knows it.
pub(crate) fn name_of(conn: &Connection, id: WorkOrderId) -> Result<String> {
    Ok(index::number_of(conn, id)?.unwrap_or_else(|| human_number(&id)))
}

fn not_found(id: WorkOrderId) -> Error {
    Error::NotFound {
        what: format!("work order {} ({id})", human_number(&id)),
    }
}

pub(crate) fn act(
    tx: &Connection,
    id: WorkOrderId,
    action: &Action,
    now: Timestamp,
) -> Result<WorkOrderView> {
    let session = require_session(tx)?;
    let (mut doc, mut chunks) =
        docs::load_document_and_chunks(tx, id)?.ok_or_else(|| not_found(id))?;
    // A notes edit keeps the text it started from, so that it can be made again as the same
    // change of the text if the server refuses an earlier change (see `sync::notes`).
    let notes_before = match action {
        Action::EditNotes { .. } => Some(
            doc.read()
                .map_err(|e| Error::document(human_number(&id), e))?
                .notes
                .as_str()
                .to_owned(),
        ),
        _ => None,
    };
    let (wo, change) = match doc.act(action, &session.actor(), now) {
        Ok(done) => done,
        // Allowed, but nothing to record (notes set to the text they already hold).
        Err(DocumentError::Unchanged) => return view(tx, id, now),
        Err(e) => return Err(Error::document(name_of(tx, id)?, e)),
    };
    let count = docs::append_chunk(tx, id, &change.bytes)?;
    outbox::push_outbox(
        tx,
        id,
        &change.hash,
        &change.bytes,
        &LocalEdit::Act(action.clone()),
        notes_before.as_deref(),
        now,
    )?;
    index::upsert_summary(tx, &WorkOrderSummary::new(&wo, now))?;
    if !docs::compact_past(tx, id, count, &mut doc, docs::ACTION_COMPACT_AFTER_CHUNKS)? {
        // The next action on this job, the usual next step, starts from memory.
        chunks.push(change.bytes);
        doc_cache::OPENED.put(id, chunks, &doc);
    }
    Ok(WorkOrderView::new(&wo, now))
}

pub(crate) fn create(tx: &Connection, new: NewWorkOrder, now: Timestamp) -> Result<WorkOrderView> {
    let session = require_session(tx)?;
    let id = WorkOrderId::new();
    let (_, wo, change) = WorkOrderDocument::create(id, new.clone(), &session.actor(), now)
        .map_err(|e| Error::document(human_number(&id), e))?;
    docs::append_chunk(tx, id, &change.bytes)?;
    outbox::push_outbox(
        tx,
        id,
        &change.hash,
        &change.bytes,
        &LocalEdit::Create(Box::new(new)),
        None,
        now,
    )?;
    index::upsert_summary(tx, &WorkOrderSummary::new(&wo, now))?;
    Ok(WorkOrderView::new(&wo, now))
}

/// The full view of a stored work order.
pub(crate) fn view(conn: &Connection, id: WorkOrderId, now: Timestamp) -> Result<WorkOrderView> {
    let doc = docs::load_document(conn, id)?.ok_or_else(|| not_found(id))?;
    let wo = doc
        .read()
        .map_err(|e| Error::document(human_number(&id), e))?;
    Ok(WorkOrderView::new(&wo, now))
}

#[cfg(test)]
mod tests {
    use fieldsync_proto::wire::UpdatePayload;
    use fieldsync_proto::{ActionError, NewPartUsage, Role, Status, Urgency, WorkOrderDocument};

    use super::*;
    use crate::store::{docs, Store};
    use crate::sync::apply::apply_response;
    use crate::sync::request;
    use crate::testing::{intake, now, response, server_doc, store_as};

    /// A technician's store holding one job assigned to them, as received from the server.
    fn tech_with_job() -> (Store, WorkOrderId) {
        let (store, session) = store_as(Role::Technician);
        let (id, mut doc) = server_doc(session.user_id);
        let resp = response(1, vec![(id, UpdatePayload::Snapshot(doc.save()))]);
        store
            .write(|tx| {
                let out = request::build(tx, request::PUSH_BUDGET_BYTES)?;
                apply_response(tx, &out, &resp, now())
            })
            .expect("apply");
        (store, id)
    }

    fn part(number: &str, quantity: i64) -> Action {
        Action::RecordPartUsage(NewPartUsage {
            part_number: number.into(),
            quantity,
            source_location: "VAN-07".into(),
            serial: None,
            refurbished: false,
        })
    }

    fn pending(store: &Store) -> usize {
        store.read(outbox::outbox_count).expect("count")
    }

    #[test]
    fn an_action_is_stored_queued_and_indexed_together() {
        let (store, id) = tech_with_job();
        let view = store
            .write(|tx| act(tx, id, &Action::Accept, now()))
            .expect("accept");
        assert_eq!(view.status, Status::Accepted);
        assert_eq!(pending(&store), 1);
        let listed = store
            .read(|c| index::list(c, &Default::default()))
            .expect("list");
        assert_eq!(listed[0].status, Status::Accepted);
        let reread = store.read(|c| local_view(c, id)).expect("view");
        assert_eq!(reread.status, Status::Accepted);
    }

    fn local_view(c: &Connection, id: WorkOrderId) -> Result<WorkOrderView> {
        view(c, id, now())
    }

    #[test]
    fn a_refused_action_changes_nothing() {
        let (store, id) = tech_with_job();
        let before = store.read(|c| docs::load_chunks(c, id)).expect("chunks");
        let err = store
            .write(|tx| act(tx, id, &Action::Arrive, now()))
            .expect_err("cannot arrive before travelling");
        assert!(
            matches!(err, Error::Action(ActionError::WrongStatus { .. })),
            "{err:?}"
        );
        assert!(
            err.to_string().contains("WO-"),
            "names the work order: {err}"
        );
        let err = store
            .write(|tx| act(tx, id, &Action::Close, now()))
            .expect_err("office work");
        assert!(matches!(err, Error::Action(ActionError::OfficeOnly { .. })));
        assert_eq!(
            store.read(|c| docs::load_chunks(c, id)).expect("chunks"),
            before
        );
        assert_eq!(pending(&store), 0);
    }

    #[test]
    fn an_action_that_changes_nothing_succeeds_without_queuing_anything() {
        let (store, id) = tech_with_job();
        store
            .write(|tx| act(tx, id, &Action::Accept, now()))
            .expect("accept");
        let notes = Action::EditNotes {
            text: "ring twice".into(),
        };
        store.write(|tx| act(tx, id, &notes, now())).expect("notes");
        let view = store
            .write(|tx| act(tx, id, &notes, now()))
            .expect("same notes again");
        assert_eq!(view.notes, "ring twice");
        assert_eq!(pending(&store), 2);
    }

    #[test]
    fn acting_without_a_session_asks_to_log_in() {
        let store = Store::open_in_memory().expect("store");
        let err = store
            .write(|tx| act(tx, WorkOrderId::new(), &Action::Accept, now()))
            .expect_err("not logged in");
        assert!(matches!(err, Error::NotLoggedIn));
        assert!(err.to_string().contains("fieldsync login"), "{err}");
    }

    #[test]
    fn an_unknown_work_order_is_named_in_the_error() {
        let (store, _) = tech_with_job();
        let id = WorkOrderId::new();
        let err = store
            .write(|tx| act(tx, id, &Action::Accept, now()))
            .expect_err("unknown");
        assert!(matches!(err, Error::NotFound { .. }));
        assert!(err.to_string().contains(&human_number(&id)), "{err}");
    }

    #[test]
    fn only_the_office_creates_work_orders() {
        let (store, _) = store_as(Role::Technician);
        let err = store
            .write(|tx| create(tx, intake("Kiosk", Urgency::Minor, None), now()))
            .expect_err("technicians cannot create");
        assert!(matches!(err, Error::Action(ActionError::OfficeOnly { .. })));

        let (office, _) = store_as(Role::Dispatcher);
        let view = office
            .write(|tx| create(tx, intake("Kiosk", Urgency::Minor, None), now()))
            .expect("create");
        assert_eq!(view.status, Status::New);
        assert_eq!(office.read(outbox::outbox_count).expect("count"), 1);
        let found = office
            .read(|c| index::find_by_text(c, &view.number))
            .expect("find");
        assert_eq!(found, view.id);
    }

    #[test]
    fn many_edits_compact_into_a_snapshot_that_reads_the_same() {
        let (store, id) = tech_with_job();
        let first_chunk = store.read(|c| docs::load_chunks(c, id)).expect("chunks");
        let steps = [
            Action::Accept,
            Action::StartTravel,
            Action::Arrive,
            Action::StartWork,
        ];
        for step in &steps {
            store.write(|tx| act(tx, id, step, now())).expect("step");
        }
        for i in 0..40 {
            store
                .write(|tx| act(tx, id, &part(&format!("P-{i}"), 1), now()))
                .expect("part");
        }
        // Actions leave the rewriting of the whole document to the sync.
        let chunks = store.read(|c| docs::chunk_count(c, id)).expect("count");
        assert_eq!(chunks, 45, "one chunk per action after the first copy");
        let compacted = store
            .write(|tx| docs::compact_piled_up(tx, 8, now()))
            .expect("compact");
        assert_eq!(compacted, 1);
        let chunks = store.read(|c| docs::chunk_count(c, id)).expect("count");
        assert_eq!(chunks, 1, "compacted into one snapshot");

        // The uncompacted history: the first snapshot plus every change, from the outbox.
        let changes = store
            .read(|c| outbox::outbox_changes_for(c, id))
            .expect("changes");
        assert_eq!(changes.len(), 44);
        let mut all = first_chunk;
        all.extend(changes);
        let uncompacted =
            WorkOrderDocument::load_chunks(all.iter().map(Vec::as_slice)).expect("load");
        let compacted = store
            .read(|c| docs::load_document(c, id))
            .expect("load")
            .expect("stored");
        assert_eq!(
            compacted.read().expect("compacted"),
            uncompacted.read().expect("uncompacted")
        );
        assert_eq!(compacted.read().expect("read").part_usages.len(), 40);
    }
}
