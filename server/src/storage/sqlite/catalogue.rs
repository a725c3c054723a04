//! The parts catalogue in SQLite.

use rusqlite::{params, Transaction};

use super::db_err;
use crate::storage::{Part, StorageError};

pub fn upsert(tx: &Transaction<'_>, parts: &[Part]) -> Result<(), StorageError> {
    let mut stmt = tx
        .prepare_cached(
            "INSERT INTO parts (part_number, name, category, unit_price_cents, safety_stock)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (part_number) DO UPDATE SET
                 name = excluded.name, category = excluded.category,
                 unit_price_cents = excluded.unit_price_cents,
                 safety_stock = excluded.safety_stock",
        )
        .map_err(db_err)?;
    for p in parts {
        stmt.execute(params![
            p.part_number,
            p.name,
            p.category,
            p.unit_price_cents,
            p.safety_stock
        ])
        .map_err(db_err)?;
    }
    Ok(())
}

pub fn all(tx: &Transaction<'_>) -> Result<Vec<Part>, StorageError> {
    let mut stmt = tx
        .prepare_cached(
            "SELECT part_number, name, category, unit_price_cents, safety_stock
             FROM parts ORDER BY part_number",
        )
        .map_err(db_err)?;
    let rows = stmt
        .query_map([], |r| {
            Ok(Part {
                part_number: r.get(0)?,
                name: r.get(1)?,
                category: r.get(2)?,
                unit_price_cents: r.get(3)?,
                safety_stock: r.get(4)?,
            })
        })
        .map_err(db_err)?;
    rows.map(|r| r.map_err(db_err)).collect()
}
