//! The outbox of local changes not yet acknowledged by the server, and the list of changes it
//! refused. Rows leave the outbox only on an acknowledgement or a refusal, never on a guess.

use rusqlite::{params, Connection, OptionalExtension, Row};

use fieldsync_proto::wire::ErrorCode;
use fieldsync_proto::{ChangeHash, Timestamp, WorkOrderId};

use crate::edit::{LocalEdit, RejectedChange};
use crate::error::{Error, Result};

/// One unacknowledged change, as sent to the server.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct OutboxRow {
    pub id: i64,
    pub doc: WorkOrderId,
    pub change: Vec<u8>,
}

impl std::fmt::Debug for OutboxRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "OutboxRow({}, {}, {} bytes)",
            self.id,
            self.doc,
            self.change.len()
        )
    }
}

/// Queues a local change. `notes_before` is, for a notes edit, the text it started from.
pub(crate) fn push_outbox(
    conn: &Connection,
    doc: WorkOrderId,
    hash: &ChangeHash,
    change: &[u8],
    edit: &LocalEdit,
    notes_before: Option<&str>,
    now: Timestamp,
) -> Result<()> {
    let edit = serde_json::to_string(edit).map_err(|e| Error::Corrupt {
        what: format!("the edit cannot be encoded ({e})"),
    })?;
    conn.prepare_cached(
        "INSERT INTO outbox (doc, hash, change, edit, created_at, notes_before)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        doc.to_string(),
        hash.to_string(),
        change,
        edit,
        now.millis(),
        notes_before
    ])?;
    Ok(())
}

pub(crate) fn outbox_count(conn: &Connection) -> Result<usize> {
    let n: i64 = conn.query_row("SELECT COUNT(*) FROM outbox", [], |r| r.get(0))?;
    Ok(usize::try_from(n).unwrap_or(0))
}

/// Changes ready to send: not held for re-applying.
pub(crate) fn unsent_count(conn: &Connection) -> Result<usize> {
    let n: i64 = conn.query_row("SELECT COUNT(*) FROM outbox WHERE held = 0", [], |r| {
        r.get(0)
    })?;
    Ok(usize::try_from(n).unwrap_or(0))
}

pub(crate) fn doc_has_outbox(conn: &Connection, doc: WorkOrderId) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM outbox WHERE doc = ?1)")?
        .query_row([doc.to_string()], |r| r.get(0))?)
}

/// Whether the document has changes ready to send (not held for re-applying).
pub(crate) fn doc_has_unsent(conn: &Connection, doc: WorkOrderId) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM outbox WHERE doc = ?1 AND held = 0)")?
        .query_row([doc.to_string()], |r| r.get(0))?)
}

/// An edit held after a refusal, waiting to be made again on the server's version.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct HeldEdit {
    pub id: i64,
    pub edit: LocalEdit,
    /// When the person made it, by this device's clock.
    pub at: Timestamp,
    /// For a notes edit, the text it started from (unknown for edits queued by older versions).
    pub notes_before: Option<String>,
}

/// Holds every outbox row of `doc`: they build on a refused change, so they cannot be sent
/// as they are.
pub(crate) fn hold_all(conn: &Connection, doc: WorkOrderId) -> Result<usize> {
    Ok(conn
        .prepare_cached("UPDATE outbox SET held = 1 WHERE doc = ?1")?
        .execute([doc.to_string()])?)
}

/// The held edits of `doc`, oldest first.
pub(crate) fn held_edits(conn: &Connection, doc: WorkOrderId) -> Result<Vec<HeldEdit>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, edit, created_at, notes_before FROM outbox
         WHERE doc = ?1 AND held = 1 ORDER BY id",
    )?;
    let rows = stmt.query_map([doc.to_string()], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, i64>(2)?,
            r.get::<_, Option<String>>(3)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, edit, at, notes_before) = row?;
        let edit: LocalEdit = serde_json::from_str(&edit).map_err(|e| Error::Corrupt {
            what: format!("a held edit of work order {doc} cannot be read ({e})"),
        })?;
        out.push(HeldEdit {
            id,
            edit,
            at: Timestamp(at),
            notes_before,
        });
    }
    Ok(out)
}

/// Replaces a held row's change with the one made again on the server's version; it is sent
/// with the next push, in its original place in the queue. `notes_before` is, for a notes
/// edit, the server's text the new change started from.
pub(crate) fn release(
    conn: &Connection,
    id: i64,
    hash: &ChangeHash,
    change: &[u8],
    notes_before: Option<&str>,
) -> Result<()> {
    conn.prepare_cached(
        "UPDATE outbox SET held = 0, hash = ?2, change = ?3, notes_before = ?4 WHERE id = ?1",
    )?
    .execute(params![id, hash.to_string(), change, notes_before])?;
    Ok(())
}

/// Moves the given outbox rows to the rejected list; returns how many moved.
pub(crate) fn reject_rows(
    conn: &Connection,
    ids: &[i64],
    number: &str,
    code: ErrorCode,
    message: &str,
    at: Timestamp,
) -> Result<usize> {
    let mut copy = conn.prepare_cached(
        "INSERT INTO rejected_changes (doc, number, hash, edit, code, message, at)
         SELECT doc, ?2, hash, edit, ?3, ?4, ?5 FROM outbox WHERE id = ?1",
    )?;
    let mut delete = conn.prepare_cached("DELETE FROM outbox WHERE id = ?1")?;
    let mut moved = 0;
    for id in ids {
        copy.execute(params![id, number, code.as_str(), message, at.millis()])?;
        moved += delete.execute([id])?;
    }
    Ok(moved)
}

/// Moves the held rows of `doc` to the rejected list; returns how many moved.
pub(crate) fn reject_held(
    conn: &Connection,
    doc: WorkOrderId,
    number: &str,
    code: ErrorCode,
    message: &str,
    at: Timestamp,
) -> Result<usize> {
    let ids: Vec<i64> = held_edits(conn, doc)?.into_iter().map(|h| h.id).collect();
    reject_rows(conn, &ids, number, code, message, at)
}

/// The edit recorded with an outbox row.
pub(crate) fn edit_of(conn: &Connection, id: i64) -> Result<Option<LocalEdit>> {
    let text: Option<String> = conn
        .prepare_cached("SELECT edit FROM outbox WHERE id = ?1")?
        .query_row([id], |r| r.get(0))
        .optional()?;
    text.map(|t| {
        serde_json::from_str(&t).map_err(|e| Error::Corrupt {
            what: format!("an outbox edit cannot be read ({e})"),
        })
    })
    .transpose()
}

/// Forgets every unsent and refused change, for a device that was revoked.
pub(crate) fn clear_all(conn: &Connection) -> Result<()> {
    conn.execute_batch("DELETE FROM outbox; DELETE FROM rejected_changes;")?;
    Ok(())
}

fn parse_doc(text: &str) -> Result<WorkOrderId> {
    text.parse().map_err(|e| Error::Corrupt {
        what: format!("the outbox names document '{text}' ({e})"),
    })
}

/// Unacknowledged changes ready to send (not held), oldest first, until `take` says stop.
pub(crate) fn scan_outbox(
    conn: &Connection,
    mut take: impl FnMut(&OutboxRow) -> bool,
) -> Result<Vec<OutboxRow>> {
    let mut stmt =
        conn.prepare_cached("SELECT id, doc, change FROM outbox WHERE held = 0 ORDER BY id")?;
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let doc: String = row.get(1)?;
        let item = OutboxRow {
            id: row.get(0)?,
            doc: parse_doc(&doc)?,
            change: row.get(2)?,
        };
        if !take(&item) {
            break;
        }
        out.push(item);
    }
    Ok(out)
}

/// The bytes of a document's unacknowledged changes, oldest first.
pub(crate) fn outbox_changes_for(conn: &Connection, doc: WorkOrderId) -> Result<Vec<Vec<u8>>> {
    let mut stmt =
        conn.prepare_cached("SELECT change FROM outbox WHERE doc = ?1 AND held = 0 ORDER BY id")?;
    let rows = stmt.query_map([doc.to_string()], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(crate) fn delete_outbox_ids(conn: &Connection, ids: &[i64]) -> Result<usize> {
    let mut stmt = conn.prepare_cached("DELETE FROM outbox WHERE id = ?1")?;
    let mut deleted = 0;
    for id in ids {
        deleted += stmt.execute([id])?;
    }
    Ok(deleted)
}

fn rejected_from_row(
    r: &Row<'_>,
) -> rusqlite::Result<(String, String, String, String, String, String, i64)> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
    ))
}

pub(crate) fn rejected_list(conn: &Connection) -> Result<Vec<RejectedChange>> {
    let mut stmt = conn.prepare_cached(
        "SELECT doc, number, hash, edit, code, message, at FROM rejected_changes ORDER BY id",
    )?;
    let rows = stmt.query_map([], rejected_from_row)?;
    let mut out = Vec::new();
    for row in rows {
        let (doc, number, hash, edit, code, message, at) = row?;
        let edit: LocalEdit = serde_json::from_str(&edit).map_err(|e| Error::Corrupt {
            what: format!("a rejected change of {number} cannot be read ({e})"),
        })?;
        // Codes are written by this code from `ErrorCode::as_str`, so they always parse back.
        let code: ErrorCode = serde_json::from_value(serde_json::Value::String(code.clone()))
            .map_err(|_| Error::Corrupt {
                what: format!("a rejected change of {number} has the unknown code '{code}'"),
            })?;
        out.push(RejectedChange {
            doc: parse_doc(&doc)?,
            number,
            hash,
            edit,
            code,
            message,
            at: Timestamp(at),
        });
    }
    Ok(out)
}

/// Empties the rejected list; returns how many entries it held.
pub(crate) fn clear_rejected(conn: &Connection) -> Result<usize> {
    Ok(conn.execute("DELETE FROM rejected_changes", [])?)
}
