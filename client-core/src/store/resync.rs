//! Documents to fetch whole from the server on the next sync: after the server refused this
//! device's changes to them, or when changes it sent could not be applied here.

use rusqlite::{params, Connection};

use fieldsync_proto::{Timestamp, WorkOrderId};

use crate::error::{Error, Result};
use crate::store::{docs, outbox};

pub(crate) fn mark_resync(
    conn: &Connection,
    doc: WorkOrderId,
    reason: &str,
    now: Timestamp,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO resync (doc, reason, since) VALUES (?1, ?2, ?3)
         ON CONFLICT (doc) DO UPDATE SET reason = excluded.reason",
    )?
    .execute(params![doc.to_string(), reason, now.millis()])?;
    Ok(())
}

/// Whether the document waits for a full copy.
pub(crate) fn is_marked(conn: &Connection, doc: WorkOrderId) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM resync WHERE doc = ?1)")?
        .query_row([doc.to_string()], |r| r.get(0))?)
}

/// Asks for a full copy of a document whose local copy cannot be loaded (damaged storage, a
/// copy filed unread that turns out bad or incomplete). Not while local edits of it wait in the
/// outbox: those go up first, and the next attempt to open it asks then. Returns whether it
/// was marked.
pub(crate) fn fetch_again_unreadable(
    conn: &Connection,
    doc: WorkOrderId,
    reason: &str,
    now: Timestamp,
) -> Result<bool> {
    if outbox::doc_has_outbox(conn, doc)? || !docs::is_stored(conn, doc)? {
        return Ok(false);
    }
    mark_resync(conn, doc, reason, now)?;
    Ok(true)
}

pub(crate) fn clear_resync(conn: &Connection, doc: WorkOrderId) -> Result<()> {
    conn.prepare_cached("DELETE FROM resync WHERE doc = ?1")?
        .execute([doc.to_string()])?;
    Ok(())
}

/// Documents waiting for a full copy, longest waiting first, at most `limit`.
pub(crate) fn resync_docs(conn: &Connection, limit: usize) -> Result<Vec<WorkOrderId>> {
    let mut stmt = conn.prepare_cached("SELECT doc FROM resync ORDER BY since, doc LIMIT ?1")?;
    let rows = stmt.query_map([i64::try_from(limit).unwrap_or(i64::MAX)], |r| {
        r.get::<_, String>(0)
    })?;
    let mut out = Vec::new();
    for row in rows {
        let text = row?;
        out.push(text.parse().map_err(|e| Error::Corrupt {
            what: format!("the resync list names document '{text}' ({e})"),
        })?);
    }
    Ok(out)
}

pub(crate) fn clear_all_resync(conn: &Connection) -> Result<()> {
    conn.execute("DELETE FROM resync", [])?;
    Ok(())
}
