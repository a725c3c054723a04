//! The audit trail and the assignment grants in SQLite. The audit table only ever receives
//! inserts; triggers in the schema refuse updates and deletes.

use fieldsync_proto::api::AuditEntry;
use fieldsync_proto::{Timestamp, UserId, WorkOrderId};
use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, Transaction};

use super::convert::{parse, parse_opt};
use super::db_err;
use crate::storage::{AuditQuery, NewAuditEntry, StorageError};

pub fn append(tx: &Transaction<'_>, entries: &[NewAuditEntry]) -> Result<(), StorageError> {
    let mut stmt = tx
        .prepare_cached(
            "INSERT INTO audit (at, kind, user_id, username, device_id, doc, number, device_time,
                                detail, address)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )
        .map_err(db_err)?;
    for e in entries {
        stmt.execute(params![
            e.at.millis(),
            e.kind.as_str(),
            e.user.map(|u| u.to_string()),
            e.username,
            e.device.map(|d| d.to_string()),
            e.doc.map(|d| d.to_string()),
            e.number,
            e.device_time.map(Timestamp::millis),
            e.detail,
            e.address,
        ])
        .map_err(db_err)?;
    }
    Ok(())
}

/// The raw columns of one audit row.
type AuditRow = (
    i64,
    i64,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
    String,
    Option<String>,
);

fn entry(row: AuditRow) -> Result<AuditEntry, StorageError> {
    let (id, at, kind, user, username, device, doc, number, device_time, detail, address) = row;
    Ok(AuditEntry {
        id: u64::try_from(id)
            .map_err(|_| StorageError::Corrupt(format!("column audit.id: {id}")))?,
        at: Timestamp(at),
        kind: parse("audit.kind", &kind)?,
        user: parse_opt("audit.user_id", user)?,
        username,
        device: parse_opt("audit.device_id", device)?,
        doc: parse_opt("audit.doc", doc)?,
        number,
        device_time: device_time.map(Timestamp),
        detail,
        address,
    })
}

pub fn query(tx: &Transaction<'_>, q: &AuditQuery) -> Result<Vec<AuditEntry>, StorageError> {
    let mut filters = Vec::new();
    let mut args: Vec<Value> = Vec::new();
    if let Some(doc) = q.doc {
        filters.push("doc = ?");
        args.push(Value::Text(doc.to_string()));
    }
    if let Some(number) = &q.number {
        filters.push("number = ?");
        args.push(Value::Text(number.clone()));
    }
    if let Some(user) = q.user {
        filters.push("user_id = ?");
        args.push(Value::Text(user.to_string()));
    }
    if let Some(from) = q.from {
        filters.push("at >= ?");
        args.push(Value::Integer(from.millis()));
    }
    if let Some(to) = q.to {
        filters.push("at <= ?");
        args.push(Value::Integer(to.millis()));
    }
    if let Some(before) = q.before_id {
        filters.push("id < ?");
        args.push(Value::Integer(i64::try_from(before).unwrap_or(i64::MAX)));
    }
    let filter = if filters.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", filters.join(" AND "))
    };
    args.push(Value::Integer(i64::from(q.limit)));
    let mut stmt = tx
        .prepare_cached(&format!(
            "SELECT id, at, kind, user_id, username, device_id, doc, number, device_time, detail,
                    address
             FROM audit {filter} ORDER BY id DESC LIMIT ?"
        ))
        .map_err(db_err)?;
    let rows = stmt
        .query_map(params_from_iter(args.iter()), |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
                r.get(8)?,
                r.get(9)?,
                r.get(10)?,
            ))
        })
        .map_err(db_err)?;
    rows.map(|row| row.map_err(db_err).and_then(entry))
        .collect()
}

/// Records who holds `doc` as of commit `seq`: `now` is (again) assigned it, remembered from the
/// first time on, and `before`'s assignment ended here if `now` is someone else.
pub fn record_assignment(
    tx: &Transaction<'_>,
    doc: WorkOrderId,
    before: Option<UserId>,
    now: Option<UserId>,
    seq: i64,
) -> Result<(), StorageError> {
    let doc = doc.to_string();
    if let Some(user) = before.filter(|b| Some(*b) != now) {
        tx.prepare_cached("UPDATE assignments SET left_seq = ?3 WHERE doc = ?1 AND user_id = ?2")
            .map_err(db_err)?
            .execute(params![doc, user.to_string(), seq])
            .map_err(db_err)?;
    }
    if let Some(user) = now {
        tx.prepare_cached(
            "INSERT INTO assignments (doc, user_id, since_seq) VALUES (?1, ?2, ?3)
             ON CONFLICT (doc, user_id) DO UPDATE SET left_seq = NULL
             WHERE assignments.left_seq IS NOT NULL",
        )
        .map_err(db_err)?
        .execute(params![doc, user.to_string(), seq])
        .map_err(db_err)?;
    }
    Ok(())
}

pub fn was_assigned(
    tx: &Transaction<'_>,
    doc: WorkOrderId,
    user: UserId,
) -> Result<bool, StorageError> {
    tx.prepare_cached("SELECT EXISTS (SELECT 1 FROM assignments WHERE doc = ?1 AND user_id = ?2)")
        .map_err(db_err)?
        .query_row(params![doc.to_string(), user.to_string()], |r| r.get(0))
        .map_err(db_err)
}
