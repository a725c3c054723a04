//! Numbered schema migrations of the PostgreSQL backend, applied in order exactly once, by
//! one instance at a time when several start together.

use deadpool_postgres::GenericClient;

use super::convert::db_err;
use crate::storage::StorageError;

/// Every migration, by version. Append only: a released migration never changes. The same
/// versions as the SQLite backend's, so that one number says what a database holds.
const MIGRATIONS: &[(u32, &str)] = &[
    (
        1,
        include_str!("../../../migrations/postgres/0001_initial.sql"),
    ),
    (
        2,
        include_str!("../../../migrations/postgres/0002_access.sql"),
    ),
    (
        3,
        include_str!("../../../migrations/postgres/0003_dispatch.sql"),
    ),
    (
        4,
        include_str!("../../../migrations/postgres/0004_operations.sql"),
    ),
    (
        5,
        include_str!("../../../migrations/postgres/0005_snapshot_last.sql"),
    ),
    (
        6,
        include_str!("../../../migrations/postgres/0006_departures.sql"),
    ),
];

/// Version a fully migrated database has.
pub const LATEST: u32 = MIGRATIONS[MIGRATIONS.len() - 1].0;

/// Brings the schema (the first one of the connection's search path) up to date; returns
/// the version it is at now.
pub async fn migrate(client: &mut deadpool_postgres::Client) -> Result<u32, StorageError> {
    let schema = current_schema(&*client).await?;
    let tx = client.transaction().await.map_err(db_err)?;
    match apply(&tx, &schema).await {
        Ok(version) => {
            tx.commit().await.map_err(db_err)?;
            Ok(version)
        }
        Err(e) => {
            // Explicitly, so that the lock on the schema goes at once, not whenever the
            // connection next gets polled.
            let _ = tx.rollback().await;
            Err(e)
        }
    }
}

async fn apply(tx: &deadpool_postgres::Transaction<'_>, schema: &str) -> Result<u32, StorageError> {
    // DDL is transactional here, so a failed migration leaves nothing behind; the lock makes
    // instances starting together take turns, per schema.
    let key = format!("fieldsync migrations {schema}");
    tx.execute("SELECT pg_advisory_xact_lock(hashtext($1))", &[&key])
        .await
        .map_err(db_err)?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        .await
        .map_err(db_err)?;
    let current: Option<i32> = tx
        .query_one("SELECT MAX(version) FROM schema_version", &[])
        .await
        .map_err(db_err)?
        .try_get(0)
        .map_err(db_err)?;
    let current = current.and_then(|v| u32::try_from(v).ok()).unwrap_or(0);
    if current > LATEST {
        return Err(StorageError::SchemaTooNew {
            found: current,
            known: LATEST,
        });
    }
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
        tx.batch_execute(sql).await.map_err(|e| {
            StorageError::Database(format!(
                "migration {version} failed: {}",
                super::convert::explain(&e)
            ))
        })?;
        let version = i32::try_from(*version).unwrap_or(i32::MAX);
        tx.execute(
            "INSERT INTO schema_version (version) VALUES ($1)",
            &[&version],
        )
        .await
        .map_err(db_err)?;
    }
    Ok(LATEST)
}

/// The schema the connection works in (where the migrations put the tables).
pub async fn current_schema(client: &impl GenericClient) -> Result<String, StorageError> {
    let schema: Option<String> = client
        .query_one("SELECT current_schema()", &[])
        .await
        .map_err(db_err)?
        .try_get(0)
        .map_err(db_err)?;
    schema.ok_or_else(|| {
        StorageError::Database(
            "the connection's search_path names no existing schema; create it or fix the \
             database URL's options"
                .into(),
        )
    })
}
