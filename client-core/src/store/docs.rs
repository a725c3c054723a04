//! Work order documents as rows of Automerge chunks: appended one change at a time, read back
//! with incremental loading, and compacted into a single snapshot once they pile up.

use rusqlite::{params, Connection};

use fieldsync_proto::{Timestamp, WorkOrderDocument, WorkOrderId};

use crate::error::{Error, Result};
use crate::store::{doc_cache, resync};

/// More chunks than this and the document is rewritten as one snapshot, when sync work touches
/// it or at the end of a sync. The index that finds such documents (migration 6) holds the
/// same number.
pub(crate) const COMPACT_AFTER_CHUNKS: usize = 32;
/// A person's action compacts only past this many chunks: rewriting the whole document is kept
/// off the path a technician waits on, and left to the sync (the bound keeps loading cheap for
/// a device that stays offline for long).
pub(crate) const ACTION_COMPACT_AFTER_CHUNKS: usize = 256;

/// The document's chunks in order; empty if the document is not stored.
pub(crate) fn load_chunks(conn: &Connection, doc: WorkOrderId) -> Result<Vec<Vec<u8>>> {
    let mut stmt =
        conn.prepare_cached("SELECT bytes FROM doc_chunks WHERE doc = ?1 ORDER BY seq")?;
    let rows = stmt.query_map([doc.to_string()], |r| r.get::<_, Vec<u8>>(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The stored document, or `None` if this device does not hold it.
pub(crate) fn load_document(
    conn: &Connection,
    doc: WorkOrderId,
) -> Result<Option<WorkOrderDocument>> {
    Ok(load_document_and_chunks(conn, doc)?.map(|(loaded, _)| loaded))
}

/// The stored document with the chunks it was built from, or `None` if this device does not
/// hold it.
pub(crate) fn load_document_and_chunks(
    conn: &Connection,
    doc: WorkOrderId,
) -> Result<Option<(WorkOrderDocument, Vec<Vec<u8>>)>> {
    let chunks = load_chunks(conn, doc)?;
    if chunks.is_empty() {
        return Ok(None);
    }
    if let Some(kept) = doc_cache::OPENED.get(doc, &chunks) {
        return Ok(Some((kept, chunks)));
    }
    let unloadable = |why: String| Error::Corrupt {
        what: format!("work order {doc} cannot be loaded ({why})"),
    };
    // Chunks are filed unread by the sync (see `sync::apply`): reading them is where a bad one
    // shows, as a damaged copy.
    let mut loaded = WorkOrderDocument::load_chunks(chunks.iter().map(Vec::as_slice))
        .map_err(|e| unloadable(e.to_string()))?;
    // A change filed without the ones it builds on loads, but waits unapplied: the copy is
    // incomplete, and only a full copy from the server makes it whole.
    let missing = loaded.missing_dependencies();
    if missing > 0 {
        return Err(unloadable(format!(
            "{missing} change(s) that stored changes build on are missing"
        )));
    }
    doc_cache::OPENED.put(doc, chunks.clone(), &loaded);
    Ok(Some((loaded, chunks)))
}

/// Whether any chunk of the document is stored.
pub(crate) fn is_stored(conn: &Connection, doc: WorkOrderId) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM doc_chunks WHERE doc = ?1 LIMIT 1")?
        .exists([doc.to_string()])?)
}

/// Appends a chunk after the existing ones; returns how many chunks the document now has.
pub(crate) fn append_chunk(conn: &Connection, doc: WorkOrderId, bytes: &[u8]) -> Result<usize> {
    let id = doc.to_string();
    conn.prepare_cached(
        "INSERT INTO doc_chunks (doc, seq, bytes)
         VALUES (?1, (SELECT COALESCE(MAX(seq), -1) + 1 FROM doc_chunks WHERE doc = ?1), ?2)",
    )?
    .execute(params![id, bytes])?;
    chunk_count(conn, doc)
}

pub(crate) fn chunk_count(conn: &Connection, doc: WorkOrderId) -> Result<usize> {
    let n: i64 = conn
        .prepare_cached("SELECT COUNT(*) FROM doc_chunks WHERE doc = ?1")?
        .query_row([doc.to_string()], |r| r.get(0))?;
    Ok(usize::try_from(n).unwrap_or(0))
}

/// Replaces all of the document's chunks with one snapshot (a full save).
pub(crate) fn replace_chunks(conn: &Connection, doc: WorkOrderId, snapshot: &[u8]) -> Result<()> {
    let id = doc.to_string();
    conn.prepare_cached("DELETE FROM doc_chunks WHERE doc = ?1")?
        .execute([&id])?;
    conn.prepare_cached("INSERT INTO doc_chunks (doc, seq, bytes) VALUES (?1, 0, ?2)")?
        .execute(params![id, snapshot])?;
    Ok(())
}

/// Compacts the document if it has more than `COMPACT_AFTER_CHUNKS` chunks. `doc` must hold
/// everything stored.
pub(crate) fn compact_if_needed(
    conn: &Connection,
    id: WorkOrderId,
    chunks: usize,
    doc: &mut WorkOrderDocument,
) -> Result<bool> {
    compact_past(conn, id, chunks, doc, COMPACT_AFTER_CHUNKS)
}

/// Compacts the document if it has more than `limit` chunks.
pub(crate) fn compact_past(
    conn: &Connection,
    id: WorkOrderId,
    chunks: usize,
    doc: &mut WorkOrderDocument,
    limit: usize,
) -> Result<bool> {
    if chunks <= limit {
        return Ok(false);
    }
    replace_chunks(conn, id, &doc.save())?;
    Ok(true)
}

/// Documents holding more than `COMPACT_AFTER_CHUNKS` chunks and not waiting for a full copy,
/// read from the partial index of chunks numbered past the limit (migration 6). The index is
/// named since the planner would rather scan every document's chunks in order.
const PILED_UP: &str = "SELECT DISTINCT doc FROM doc_chunks INDEXED BY doc_chunks_piled_up
     WHERE seq >= 32 AND doc NOT IN (SELECT doc FROM resync) ORDER BY doc";

/// Compacts up to `max_docs` documents whose chunks piled up (local actions and changes filed
/// unread by the sync do not compact them); returns how many it compacted. One that cannot be
/// loaded is left as it is and asked for whole (`resync::fetch_again_unreadable`), so that it
/// neither stops the others nor stays broken.
pub(crate) fn compact_piled_up(
    conn: &Connection,
    max_docs: usize,
    now: Timestamp,
) -> Result<usize> {
    let piled: Vec<String> = conn
        .prepare_cached(PILED_UP)?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut compacted = 0;
    for text in piled {
        if compacted >= max_docs {
            break;
        }
        let id: WorkOrderId = text.parse().map_err(|e| Error::Corrupt {
            what: format!("the document store holds the id '{text}' ({e})"),
        })?;
        match load_document(conn, id) {
            Ok(Some(mut doc)) => {
                replace_chunks(conn, id, &doc.save())?;
                compacted += 1;
            }
            Ok(None) => {}
            Err(Error::Corrupt { what }) => {
                if resync::fetch_again_unreadable(conn, id, &what, now)? {
                    tracing::warn!(%id, %what, "unreadable local copy; asking the server for it again");
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(compacted)
}

/// Forgets the document: its chunks and its index row.
pub(crate) fn drop_doc(conn: &Connection, doc: WorkOrderId) -> Result<()> {
    let id = doc.to_string();
    conn.prepare_cached("DELETE FROM doc_chunks WHERE doc = ?1")?
        .execute([&id])?;
    conn.prepare_cached("DELETE FROM work_orders WHERE id = ?1")?
        .execute([&id])?;
    Ok(())
}

/// Forgets every document, for a store handed to another user.
pub(crate) fn drop_all_docs(conn: &Connection) -> Result<()> {
    conn.execute_batch("DELETE FROM doc_chunks; DELETE FROM work_orders;")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use fieldsync_proto::{Action, Role};

    use super::*;
    use crate::edit::LocalEdit;
    use crate::store::{outbox, Store};
    use crate::testing::{now, office_actor, server_doc, store_as};

    fn admin() -> fieldsync_proto::Actor {
        fieldsync_proto::Actor {
            role: Role::Admin,
            ..office_actor()
        }
    }

    /// A document stored as a snapshot followed by `edits` chunks of one office change each;
    /// with `gap`, the first change is left out, so the others lack what they build on.
    fn piled_up(store: &Store, edits: usize, gap: bool) -> WorkOrderId {
        let (id, mut doc) = server_doc(fieldsync_proto::UserId::new());
        let mut chunks = vec![doc.save()];
        for i in 0..edits {
            let note = Action::EditNotes {
                text: format!("note {i}"),
            };
            chunks.push(doc.act(&note, &admin(), now()).expect("note").1.bytes);
        }
        if gap {
            chunks.remove(1);
        }
        store
            .write(|tx| {
                replace_chunks(tx, id, &chunks[0])?;
                for chunk in &chunks[1..] {
                    append_chunk(tx, id, chunk)?;
                }
                Ok(())
            })
            .expect("store");
        id
    }

    fn resync_list(store: &Store) -> Vec<WorkOrderId> {
        store.read(|c| resync::resync_docs(c, 10)).expect("list")
    }

    #[test]
    fn a_copy_missing_changes_it_builds_on_is_reported_damaged() {
        let (store, _) = store_as(Role::Technician);
        let whole = piled_up(&store, 2, false);
        let gap = piled_up(&store, 2, true);
        let doc = store.read(|c| load_document(c, whole)).expect("loads");
        assert!(doc.is_some());
        let err = store
            .read(|c| load_document(c, gap))
            .expect_err("incomplete");
        assert!(matches!(err, Error::Corrupt { .. }), "{err:?}");
        assert!(err.to_string().contains("1 change(s)"), "{err}");
    }

    #[test]
    fn documents_are_compacted_after_a_sync_once_they_hold_more_than_the_limit() {
        let (store, _) = store_as(Role::Technician);
        let at_limit = piled_up(&store, COMPACT_AFTER_CHUNKS - 1, false);
        let past_limit = piled_up(&store, COMPACT_AFTER_CHUNKS, false);
        let count = |id| store.read(|c| chunk_count(c, id)).expect("count");
        assert_eq!(count(at_limit), COMPACT_AFTER_CHUNKS);
        assert_eq!(count(past_limit), COMPACT_AFTER_CHUNKS + 1);
        let before = stored_doc(&store, past_limit).read().expect("read");

        let compacted = store
            .write(|tx| compact_piled_up(tx, 8, now()))
            .expect("compact");
        assert_eq!(compacted, 1);
        assert_eq!(count(at_limit), COMPACT_AFTER_CHUNKS, "left as it is");
        assert_eq!(count(past_limit), 1);
        let after = stored_doc(&store, past_limit).read().expect("read");
        assert_eq!(after, before, "compaction keeps every edit");
        // Chunks appended after a compaction are numbered from it again.
        let change = office_note(&store, past_limit);
        store
            .write(|tx| append_chunk(tx, past_limit, &change))
            .expect("append");
        assert_eq!(
            store
                .write(|tx| compact_piled_up(tx, 8, now()))
                .expect("compact"),
            0
        );
    }

    fn stored_doc(store: &Store, id: WorkOrderId) -> WorkOrderDocument {
        store
            .read(|c| load_document(c, id))
            .expect("loads")
            .expect("stored")
    }

    /// A new office change to the stored document.
    fn office_note(store: &Store, id: WorkOrderId) -> Vec<u8> {
        let note = Action::EditNotes {
            text: "after compaction".into(),
        };
        stored_doc(store, id)
            .act(&note, &admin(), now())
            .expect("note")
            .1
            .bytes
    }

    #[test]
    fn the_search_for_piled_up_documents_reads_only_their_index() {
        let (store, _) = store_as(Role::Technician);
        let plan: Vec<String> = store
            .read(|c| {
                let mut stmt = c.prepare(&format!("EXPLAIN QUERY PLAN {PILED_UP}"))?;
                let rows = stmt.query_map([], |r| r.get::<_, String>(3))?;
                Ok(rows.collect::<rusqlite::Result<_>>()?)
            })
            .expect("plan");
        assert!(
            plan.iter().any(|step| step.contains("doc_chunks_piled_up")),
            "{plan:?}"
        );
        assert!(
            !plan
                .iter()
                .any(|step| step.contains("autoindex_doc_chunks")),
            "{plan:?}"
        );
    }

    #[test]
    fn compaction_passes_over_an_unloadable_copy_and_asks_for_it_whole() {
        let (store, _) = store_as(Role::Technician);
        let many = COMPACT_AFTER_CHUNKS + 4;
        let good = piled_up(&store, many, false);
        let broken = piled_up(&store, many, true);
        let compacted = store
            .write(|tx| compact_piled_up(tx, 8, now()))
            .expect("the others are compacted");
        assert_eq!(compacted, 1);
        let count = |id| store.read(|c| chunk_count(c, id)).expect("count");
        assert_eq!(count(good), 1);
        assert_eq!(count(broken), many, "left as it is");
        assert_eq!(resync_list(&store), vec![broken]);
        // Waiting for its full copy, it is not tried again.
        let again = store
            .write(|tx| compact_piled_up(tx, 8, now()))
            .expect("compact");
        assert_eq!(again, 0);
    }

    #[test]
    fn an_unloadable_copy_with_local_edits_is_not_asked_for_yet() {
        let (store, _) = store_as(Role::Technician);
        let broken = piled_up(&store, COMPACT_AFTER_CHUNKS + 4, true);
        store
            .write(|tx| {
                outbox::push_outbox(
                    tx,
                    broken,
                    &fieldsync_proto::ChangeHash([7; 32]),
                    b"change",
                    &LocalEdit::Act(Action::Accept),
                    None,
                    now(),
                )
            })
            .expect("queue");
        let compacted = store
            .write(|tx| compact_piled_up(tx, 8, now()))
            .expect("no failure");
        assert_eq!(compacted, 0);
        assert!(resync_list(&store).is_empty(), "its edits go up first");
    }
}
