//! Work orders that left this device's scope (reassigned) while it still had unsent changes
//! to them: they stay until those changes are settled, then go.

use rusqlite::{params, Connection};

use fieldsync_proto::{Timestamp, WorkOrderId};

use crate::error::Result;

pub(crate) fn mark(conn: &Connection, doc: WorkOrderId, now: Timestamp) -> Result<()> {
    conn.prepare_cached("INSERT OR IGNORE INTO leaving (doc, since) VALUES (?1, ?2)")?
        .execute(params![doc.to_string(), now.millis()])?;
    Ok(())
}

pub(crate) fn is_leaving(conn: &Connection, doc: WorkOrderId) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM leaving WHERE doc = ?1)")?
        .query_row([doc.to_string()], |r| r.get(0))?)
}

pub(crate) fn clear(conn: &Connection, doc: WorkOrderId) -> Result<()> {
    conn.prepare_cached("DELETE FROM leaving WHERE doc = ?1")?
        .execute([doc.to_string()])?;
    Ok(())
}

pub(crate) fn clear_all(conn: &Connection) -> Result<()> {
    conn.execute("DELETE FROM leaving", [])?;
    Ok(())
}
