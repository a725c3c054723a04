//! Service operations in SQLite: the stock ledger and safety levels, follow-ups, entry receipt
//! times, review resolutions, and documents by creation time for reports.

use std::collections::HashMap;

use fieldsync_proto::{EntryId, FollowUp, StockMovement, Timestamp, UserId, WorkOrderId};
use rusqlite::{params, Row, Transaction};

use super::convert::{parse, parse_opt};
use super::db_err;
use crate::storage::movement::{kind_columns, kind_from_columns};
use crate::storage::{ReviewResolution, SafetyLevel, StorageError, StoredDocument};

/// Inserts movements not yet in the ledger; returns how many were new.
pub fn record_movements(
    tx: &Transaction<'_>,
    movements: &[StockMovement],
    recorded_at: Timestamp,
) -> Result<u64, StorageError> {
    let mut stmt = tx
        .prepare_cached(
            "INSERT OR IGNORE INTO stock_movements (id, kind, part_number, location, to_location,
                 work_order, quantity, at, by_user, recorded_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )
        .map_err(db_err)?;
    let mut added = 0u64;
    for m in movements {
        let (kind, to, work_order) = kind_columns(&m.kind);
        added += stmt
            .execute(params![
                m.id.to_string(),
                kind,
                m.part_number,
                m.location,
                to,
                work_order.map(|w| w.to_string()),
                m.quantity,
                m.at.millis(),
                m.by.to_string(),
                recorded_at.millis(),
            ])
            .map_err(db_err)? as u64;
    }
    Ok(added)
}

fn movement_from_row(r: &Row<'_>) -> rusqlite::Result<[Option<String>; 6]> {
    Ok([
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
    ])
}

pub fn movements(
    tx: &Transaction<'_>,
    limit: Option<u32>,
) -> Result<Vec<StockMovement>, StorageError> {
    let limit = limit.map_or(-1, i64::from);
    let mut stmt = tx
        .prepare_cached(
            "SELECT id, kind, part_number, location, to_location, work_order, by_user,
                 quantity, at
             FROM stock_movements ORDER BY recorded_at DESC, at DESC, id LIMIT ?1",
        )
        .map_err(db_err)?;
    let rows = stmt
        .query_map([limit], |r| {
            Ok((
                movement_from_row(r)?,
                r.get::<_, String>(6)?,
                r.get::<_, i64>(7)?,
                r.get::<_, i64>(8)?,
            ))
        })
        .map_err(db_err)?;
    rows.map(|row| {
        let ([id, kind, part, location, to, work_order], by, quantity, at) = row.map_err(db_err)?;
        let location = location.unwrap_or_default();
        Ok(StockMovement {
            id: parse("stock_movements.id", &id.unwrap_or_default())?,
            kind: kind_from_columns(
                &kind.unwrap_or_default(),
                &location,
                to,
                parse_opt::<WorkOrderId>("stock_movements.work_order", work_order)?,
            )?,
            part_number: part.unwrap_or_default(),
            location,
            quantity,
            at: Timestamp(at),
            by: parse("stock_movements.by_user", &by)?,
        })
    })
    .collect()
}

pub fn set_safety(tx: &Transaction<'_>, level: &SafetyLevel) -> Result<(), StorageError> {
    tx.prepare_cached(
        "INSERT INTO stock_safety (location, part_number, level) VALUES (?1, ?2, ?3)
         ON CONFLICT (location, part_number) DO UPDATE SET level = excluded.level",
    )
    .map_err(db_err)?
    .execute(params![level.location, level.part_number, level.level])
    .map_err(db_err)?;
    Ok(())
}

pub fn safety_levels(tx: &Transaction<'_>) -> Result<Vec<SafetyLevel>, StorageError> {
    let mut stmt = tx
        .prepare_cached(
            "SELECT location, part_number, level FROM stock_safety
             ORDER BY location, part_number",
        )
        .map_err(db_err)?;
    let rows = stmt
        .query_map([], |r| {
            Ok(SafetyLevel {
                location: r.get(0)?,
                part_number: r.get(1)?,
                level: r.get(2)?,
            })
        })
        .map_err(db_err)?;
    rows.map(|r| r.map_err(db_err)).collect()
}

pub fn record_follow_up(tx: &Transaction<'_>, f: &FollowUp) -> Result<(), StorageError> {
    tx.prepare_cached(
        "INSERT INTO follow_ups (work_order, due_at, satisfaction, nps, comment, recorded_by,
             recorded_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (work_order) DO UPDATE SET
             due_at = excluded.due_at, satisfaction = excluded.satisfaction,
             nps = excluded.nps, comment = excluded.comment,
             recorded_by = excluded.recorded_by, recorded_at = excluded.recorded_at",
    )
    .map_err(db_err)?
    .execute(params![
        f.work_order.to_string(),
        f.due_at.millis(),
        f.satisfaction,
        f.nps,
        f.comment,
        f.recorded_by.to_string(),
        f.recorded_at.millis(),
    ])
    .map_err(db_err)?;
    Ok(())
}

pub fn follow_ups(tx: &Transaction<'_>) -> Result<Vec<FollowUp>, StorageError> {
    let mut stmt = tx
        .prepare_cached(
            "SELECT work_order, due_at, satisfaction, nps, comment, recorded_by, recorded_at
             FROM follow_ups ORDER BY recorded_at, work_order",
        )
        .map_err(db_err)?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, Option<u8>>(2)?,
                r.get::<_, Option<u8>>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, i64>(6)?,
            ))
        })
        .map_err(db_err)?;
    rows.map(|row| {
        let (wo, due, satisfaction, nps, comment, by, at) = row.map_err(db_err)?;
        Ok(FollowUp {
            work_order: parse("follow_ups.work_order", &wo)?,
            due_at: Timestamp(due),
            satisfaction,
            nps,
            comment,
            recorded_by: parse("follow_ups.recorded_by", &by)?,
            recorded_at: Timestamp(at),
        })
    })
    .collect()
}

pub fn awaiting_follow_up(
    tx: &Transaction<'_>,
    resolved_by: Timestamp,
    limit: u32,
) -> Result<Vec<WorkOrderId>, StorageError> {
    let mut stmt = tx
        .prepare_cached(
            "SELECT d.id FROM documents d
             WHERE d.status IN ('completed', 'closed') AND d.resolved_at <= ?1
               AND NOT EXISTS (SELECT 1 FROM follow_ups f WHERE f.work_order = d.id)
             ORDER BY d.resolved_at, d.id LIMIT ?2",
        )
        .map_err(db_err)?;
    let rows = stmt
        .query_map(params![resolved_by.millis(), limit], |r| {
            r.get::<_, String>(0)
        })
        .map_err(db_err)?;
    rows.map(|r| parse("documents.id", &r.map_err(db_err)?))
        .collect()
}

pub fn documents_created(
    tx: &Transaction<'_>,
    from: Timestamp,
    to: Timestamp,
    limit: u32,
) -> Result<Vec<StoredDocument>, StorageError> {
    let ids: Vec<String> = {
        let mut stmt = tx
            .prepare_cached(
                "SELECT id FROM documents WHERE created_at >= ?1 AND created_at < ?2
                 ORDER BY created_at, id LIMIT ?3",
            )
            .map_err(db_err)?;
        let rows = stmt
            .query_map(params![from.millis(), to.millis(), limit], |r| r.get(0))
            .map_err(db_err)?;
        rows.collect::<Result<_, _>>().map_err(db_err)?
    };
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(doc) = super::documents::load(tx, parse("documents.id", &id)?)? {
            out.push(doc);
        }
    }
    Ok(out)
}

/// Remembers when entries were first received; later commits holding them change nothing.
pub fn record_receipts(
    tx: &Transaction<'_>,
    doc: WorkOrderId,
    entries: &[EntryId],
    received_at: Timestamp,
) -> Result<(), StorageError> {
    let mut stmt = tx
        .prepare_cached(
            "INSERT OR IGNORE INTO entry_receipts (doc, entry, received_at) VALUES (?1, ?2, ?3)",
        )
        .map_err(db_err)?;
    let doc = doc.to_string();
    for entry in entries {
        stmt.execute(params![doc, entry.to_string(), received_at.millis()])
            .map_err(db_err)?;
    }
    Ok(())
}

pub fn entry_receipts(
    tx: &Transaction<'_>,
    doc: WorkOrderId,
) -> Result<HashMap<EntryId, Timestamp>, StorageError> {
    let mut stmt = tx
        .prepare_cached("SELECT entry, received_at FROM entry_receipts WHERE doc = ?1")
        .map_err(db_err)?;
    let rows = stmt
        .query_map([doc.to_string()], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
        })
        .map_err(db_err)?;
    rows.map(|row| {
        let (entry, at) = row.map_err(db_err)?;
        Ok((parse("entry_receipts.entry", &entry)?, Timestamp(at)))
    })
    .collect()
}

pub fn resolve_review(
    tx: &Transaction<'_>,
    doc: WorkOrderId,
    r: &ReviewResolution,
) -> Result<bool, StorageError> {
    let added = tx
        .prepare_cached(
            "INSERT OR IGNORE INTO review_resolutions (doc, review_id, resolved_by, resolved_at,
                 note)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .map_err(db_err)?
        .execute(params![
            doc.to_string(),
            r.review_id,
            r.resolved_by.to_string(),
            r.resolved_at.millis(),
            r.note,
        ])
        .map_err(db_err)?;
    Ok(added == 1)
}

pub fn review_resolutions(
    tx: &Transaction<'_>,
    doc: WorkOrderId,
) -> Result<Vec<ReviewResolution>, StorageError> {
    let mut stmt = tx
        .prepare_cached(
            "SELECT review_id, resolved_by, resolved_at, note FROM review_resolutions
             WHERE doc = ?1 ORDER BY resolved_at, review_id",
        )
        .map_err(db_err)?;
    let rows = stmt
        .query_map([doc.to_string()], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, String>(3)?,
            ))
        })
        .map_err(db_err)?;
    rows.map(|row| {
        let (review_id, by, at, note) = row.map_err(db_err)?;
        Ok(ReviewResolution {
            review_id,
            resolved_by: parse::<UserId>("review_resolutions.resolved_by", &by)?,
            resolved_at: Timestamp(at),
            note,
        })
    })
    .collect()
}
