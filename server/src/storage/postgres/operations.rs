//! Service operations in PostgreSQL: the stock ledger and safety levels, follow-ups, entry
//! receipt times, review resolutions, and documents by creation time for reports.

use std::collections::HashMap;

use deadpool_postgres::GenericClient;
use fieldsync_proto::{EntryId, FollowUp, StockMovement, Timestamp, UserId, WorkOrderId};

use super::convert::db_err;
use crate::storage::movement::{kind_columns, kind_from_columns};
use crate::storage::{ReviewResolution, SafetyLevel, StorageError, StoredDocument};

/// Inserts movements not yet in the ledger; returns how many were new.
pub async fn record_movements(
    c: &impl GenericClient,
    movements: &[StockMovement],
    recorded_at: Timestamp,
) -> Result<u64, StorageError> {
    if movements.is_empty() {
        return Ok(0);
    }
    let stmt = c
        .prepare_cached(
            "INSERT INTO stock_movements (id, kind, part_number, location, to_location,
                 work_order, quantity, at, by_user, recorded_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
             ON CONFLICT (id) DO NOTHING",
        )
        .await
        .map_err(db_err)?;
    let mut added = 0;
    for m in movements {
        let (kind, to, work_order) = kind_columns(&m.kind);
        added += c
            .execute(
                &stmt,
                &[
                    &m.id.0,
                    &kind,
                    &m.part_number,
                    &m.location,
                    &to,
                    &work_order.map(|w| w.0),
                    &m.quantity,
                    &m.at.millis(),
                    &m.by.0,
                    &recorded_at.millis(),
                ],
            )
            .await
            .map_err(db_err)?;
    }
    Ok(added)
}

pub async fn movements(
    c: &impl GenericClient,
    limit: Option<u32>,
) -> Result<Vec<StockMovement>, StorageError> {
    let limit: Option<i64> = limit.map(i64::from);
    let stmt = c
        .prepare_cached(
            "SELECT id, kind, part_number, location, to_location, work_order, quantity, at,
                 by_user
             FROM stock_movements ORDER BY recorded_at DESC, at DESC, id LIMIT $1",
        )
        .await
        .map_err(db_err)?;
    let rows = c.query(&stmt, &[&limit]).await.map_err(db_err)?;
    rows.iter()
        .map(|r| {
            let location: String = r.try_get(3).map_err(db_err)?;
            let kind: String = r.try_get(1).map_err(db_err)?;
            Ok(StockMovement {
                id: EntryId(r.try_get(0).map_err(db_err)?),
                kind: kind_from_columns(
                    &kind,
                    &location,
                    r.try_get(4).map_err(db_err)?,
                    r.try_get::<_, Option<uuid::Uuid>>(5)
                        .map_err(db_err)?
                        .map(WorkOrderId),
                )?,
                part_number: r.try_get(2).map_err(db_err)?,
                location,
                quantity: r.try_get(6).map_err(db_err)?,
                at: Timestamp(r.try_get(7).map_err(db_err)?),
                by: UserId(r.try_get(8).map_err(db_err)?),
            })
        })
        .collect()
}

pub async fn set_safety(c: &impl GenericClient, level: &SafetyLevel) -> Result<(), StorageError> {
    let stmt = c
        .prepare_cached(
            "INSERT INTO stock_safety (location, part_number, level) VALUES ($1, $2, $3)
             ON CONFLICT (location, part_number) DO UPDATE SET level = excluded.level",
        )
        .await
        .map_err(db_err)?;
    c.execute(&stmt, &[&level.location, &level.part_number, &level.level])
        .await
        .map_err(db_err)?;
    Ok(())
}

pub async fn safety_levels(c: &impl GenericClient) -> Result<Vec<SafetyLevel>, StorageError> {
    let stmt = c
        .prepare_cached(
            "SELECT location, part_number, level FROM stock_safety
             ORDER BY location COLLATE \"C\", part_number COLLATE \"C\"",
        )
        .await
        .map_err(db_err)?;
    let rows = c.query(&stmt, &[]).await.map_err(db_err)?;
    rows.iter()
        .map(|r| {
            Ok(SafetyLevel {
                location: r.try_get(0).map_err(db_err)?,
                part_number: r.try_get(1).map_err(db_err)?,
                level: r.try_get(2).map_err(db_err)?,
            })
        })
        .collect()
}

pub async fn record_follow_up(c: &impl GenericClient, f: &FollowUp) -> Result<(), StorageError> {
    let stmt = c
        .prepare_cached(
            "INSERT INTO follow_ups (work_order, due_at, satisfaction, nps, comment, recorded_by,
                 recorded_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (work_order) DO UPDATE SET
                 due_at = excluded.due_at, satisfaction = excluded.satisfaction,
                 nps = excluded.nps, comment = excluded.comment,
                 recorded_by = excluded.recorded_by, recorded_at = excluded.recorded_at",
        )
        .await
        .map_err(db_err)?;
    let satisfaction = f.satisfaction.map(i16::from);
    let nps = f.nps.map(i16::from);
    c.execute(
        &stmt,
        &[
            &f.work_order.0,
            &f.due_at.millis(),
            &satisfaction,
            &nps,
            &f.comment,
            &f.recorded_by.0,
            &f.recorded_at.millis(),
        ],
    )
    .await
    .map_err(db_err)?;
    Ok(())
}

fn small(value: Option<i16>, column: &str) -> Result<Option<u8>, StorageError> {
    value
        .map(|v| {
            u8::try_from(v).map_err(|_| StorageError::Corrupt(format!("column {column}: {v}")))
        })
        .transpose()
}

pub async fn follow_ups(c: &impl GenericClient) -> Result<Vec<FollowUp>, StorageError> {
    let stmt = c
        .prepare_cached(
            "SELECT work_order, due_at, satisfaction, nps, comment, recorded_by, recorded_at
             FROM follow_ups ORDER BY recorded_at, work_order",
        )
        .await
        .map_err(db_err)?;
    let rows = c.query(&stmt, &[]).await.map_err(db_err)?;
    rows.iter()
        .map(|r| {
            Ok(FollowUp {
                work_order: WorkOrderId(r.try_get(0).map_err(db_err)?),
                due_at: Timestamp(r.try_get(1).map_err(db_err)?),
                satisfaction: small(r.try_get(2).map_err(db_err)?, "follow_ups.satisfaction")?,
                nps: small(r.try_get(3).map_err(db_err)?, "follow_ups.nps")?,
                comment: r.try_get(4).map_err(db_err)?,
                recorded_by: UserId(r.try_get(5).map_err(db_err)?),
                recorded_at: Timestamp(r.try_get(6).map_err(db_err)?),
            })
        })
        .collect()
}

pub async fn awaiting_follow_up(
    c: &impl GenericClient,
    resolved_by: Timestamp,
    limit: u32,
) -> Result<Vec<WorkOrderId>, StorageError> {
    let stmt = c
        .prepare_cached(
            "SELECT d.id FROM documents d
             WHERE d.status IN ('completed', 'closed') AND d.resolved_at <= $1
               AND NOT EXISTS (SELECT 1 FROM follow_ups f WHERE f.work_order = d.id)
             ORDER BY d.resolved_at, d.id LIMIT $2",
        )
        .await
        .map_err(db_err)?;
    let rows = c
        .query(&stmt, &[&resolved_by.millis(), &i64::from(limit)])
        .await
        .map_err(db_err)?;
    rows.iter()
        .map(|r| Ok(WorkOrderId(r.try_get(0).map_err(db_err)?)))
        .collect()
}

pub async fn documents_created(
    c: &impl GenericClient,
    from: Timestamp,
    to: Timestamp,
    limit: u32,
) -> Result<Vec<StoredDocument>, StorageError> {
    let stmt = c
        .prepare_cached(
            "SELECT id FROM documents WHERE created_at >= $1 AND created_at < $2
             ORDER BY created_at, id LIMIT $3",
        )
        .await
        .map_err(db_err)?;
    let rows = c
        .query(&stmt, &[&from.millis(), &to.millis(), &i64::from(limit)])
        .await
        .map_err(db_err)?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let id = WorkOrderId(r.try_get(0).map_err(db_err)?);
        if let Some(doc) = super::documents::load(c, id).await? {
            out.push(doc);
        }
    }
    Ok(out)
}

pub async fn entry_receipts(
    c: &impl GenericClient,
    doc: WorkOrderId,
) -> Result<HashMap<EntryId, Timestamp>, StorageError> {
    let stmt = c
        .prepare_cached("SELECT entry, received_at FROM entry_receipts WHERE doc = $1")
        .await
        .map_err(db_err)?;
    let rows = c.query(&stmt, &[&doc.0]).await.map_err(db_err)?;
    rows.iter()
        .map(|r| {
            Ok((
                EntryId(r.try_get(0).map_err(db_err)?),
                Timestamp(r.try_get(1).map_err(db_err)?),
            ))
        })
        .collect()
}

pub async fn resolve_review(
    c: &impl GenericClient,
    doc: WorkOrderId,
    r: &ReviewResolution,
) -> Result<bool, StorageError> {
    let stmt = c
        .prepare_cached(
            "INSERT INTO review_resolutions (doc, review_id, resolved_by, resolved_at, note)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (doc, review_id) DO NOTHING",
        )
        .await
        .map_err(db_err)?;
    let added = c
        .execute(
            &stmt,
            &[
                &doc.0,
                &r.review_id,
                &r.resolved_by.0,
                &r.resolved_at.millis(),
                &r.note,
            ],
        )
        .await
        .map_err(db_err)?;
    Ok(added == 1)
}

pub async fn review_resolutions(
    c: &impl GenericClient,
    doc: WorkOrderId,
) -> Result<Vec<ReviewResolution>, StorageError> {
    let stmt = c
        .prepare_cached(
            "SELECT review_id, resolved_by, resolved_at, note FROM review_resolutions
             WHERE doc = $1 ORDER BY resolved_at, review_id COLLATE \"C\"",
        )
        .await
        .map_err(db_err)?;
    let rows = c.query(&stmt, &[&doc.0]).await.map_err(db_err)?;
    rows.iter()
        .map(|r| {
            Ok(ReviewResolution {
                review_id: r.try_get(0).map_err(db_err)?,
                resolved_by: UserId(r.try_get(1).map_err(db_err)?),
                resolved_at: Timestamp(r.try_get(2).map_err(db_err)?),
                note: r.try_get(3).map_err(db_err)?,
            })
        })
        .collect()
}
