//! Work order documents as rows of Automerge chunks: appended one change at a time, read back
//! with incremental loading, and compacted into a single snapshot once they pile up.

use rusqlite::{params, Connection};

use fieldsync_proto::{WorkOrderDocument, WorkOrderId};

use crate::error::{Error, Result};

/// More chunks than this and the document is rewritten as one snapshot, when sync work touches
/// it or at the end of a sync.
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
    let chunks = load_chunks(conn, doc)?;
    if chunks.is_empty() {
        return Ok(None);
    }
    WorkOrderDocument::load_chunks(chunks.iter().map(Vec::as_slice))
        .map(Some)
        .map_err(|e| Error::Corrupt {
            what: format!("work order {doc} cannot be loaded ({e})"),
        })
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

/// Compacts up to `max_docs` documents whose chunks piled up (local actions do not compact
/// them); returns how many it compacted.
pub(crate) fn compact_piled_up(conn: &Connection, max_docs: usize) -> Result<usize> {
    let piled: Vec<String> = conn
        .prepare_cached(
            "SELECT doc FROM doc_chunks GROUP BY doc HAVING COUNT(*) > ?1 ORDER BY doc LIMIT ?2",
        )?
        .query_map(
            params![
                i64::try_from(COMPACT_AFTER_CHUNKS).unwrap_or(i64::MAX),
                i64::try_from(max_docs).unwrap_or(i64::MAX)
            ],
            |r| r.get(0),
        )?
        .collect::<rusqlite::Result<_>>()?;
    let mut compacted = 0;
    for text in piled {
        let id: WorkOrderId = text.parse().map_err(|e| Error::Corrupt {
            what: format!("the document store holds the id '{text}' ({e})"),
        })?;
        if let Some(mut doc) = load_document(conn, id)? {
            replace_chunks(conn, id, &doc.save())?;
            compacted += 1;
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
