//! The parts catalogue in PostgreSQL.

use deadpool_postgres::GenericClient;

use super::convert::db_err;
use crate::storage::{Part, StorageError};

pub async fn upsert(c: &impl GenericClient, parts: &[Part]) -> Result<(), StorageError> {
    let stmt = c
        .prepare_cached(
            "INSERT INTO parts (part_number, name, category, unit_price_cents, safety_stock)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (part_number) DO UPDATE SET
                 name = excluded.name, category = excluded.category,
                 unit_price_cents = excluded.unit_price_cents,
                 safety_stock = excluded.safety_stock",
        )
        .await
        .map_err(db_err)?;
    for p in parts {
        c.execute(
            &stmt,
            &[
                &p.part_number,
                &p.name,
                &p.category,
                &p.unit_price_cents,
                &p.safety_stock,
            ],
        )
        .await
        .map_err(db_err)?;
    }
    Ok(())
}

pub async fn all(c: &impl GenericClient) -> Result<Vec<Part>, StorageError> {
    let stmt = c
        .prepare_cached(
            "SELECT part_number, name, category, unit_price_cents, safety_stock
             FROM parts ORDER BY part_number COLLATE \"C\"",
        )
        .await
        .map_err(db_err)?;
    let rows = c.query(&stmt, &[]).await.map_err(db_err)?;
    rows.iter()
        .map(|r| {
            Ok(Part {
                part_number: r.try_get(0).map_err(db_err)?,
                name: r.try_get(1).map_err(db_err)?,
                category: r.try_get(2).map_err(db_err)?,
                unit_price_cents: r.try_get(3).map_err(db_err)?,
                safety_stock: r.try_get(4).map_err(db_err)?,
            })
        })
        .collect()
}
