//! Numbered schema migrations, applied in order inside one transaction each and recorded in
//! SQLite's `user_version`, so that opening a store of any older version brings it up to date.

use rusqlite::{Connection, TransactionBehavior};

use crate::error::{Result, StoreError};

/// Migration `n` (1-based) is `MIGRATIONS[n - 1]`. Never edit a released one: add a new one.
const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/0001_initial.sql"),
    include_str!("../../migrations/0002_access.sql"),
    include_str!("../../migrations/0003_attachments.sql"),
    include_str!("../../migrations/0004_notes_base.sql"),
    include_str!("../../migrations/0005_my_open_jobs_covering.sql"),
    include_str!("../../migrations/0006_piled_up_chunks.sql"),
];

/// Schema version this code writes.
pub(crate) const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

pub(crate) fn migrate(conn: &mut Connection) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let current: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if current > SCHEMA_VERSION {
        return Err(StoreError::TooNew {
            found: current,
            known: SCHEMA_VERSION,
        }
        .into());
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(current.max(0) as usize) {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", index as i64 + 1)?;
    }
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema_of(conn: &Connection) -> Vec<(String, String)> {
        let mut stmt = conn
            .prepare("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name")
            .expect("prepare");
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows")
    }

    #[test]
    fn migrating_twice_is_a_no_op() {
        let mut conn = Connection::open_in_memory().expect("db");
        migrate(&mut conn).expect("first");
        let once = schema_of(&conn);
        assert!(once.iter().any(|(name, _)| name == "outbox"), "{once:?}");
        migrate(&mut conn).expect("second");
        assert_eq!(schema_of(&conn), once);
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .expect("version");
        assert_eq!(version, SCHEMA_VERSION);
    }

    #[test]
    fn a_store_from_a_newer_version_is_refused() {
        let mut conn = Connection::open_in_memory().expect("db");
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .expect("set");
        let err = migrate(&mut conn).expect_err("too new");
        assert!(err.to_string().contains("newer version"), "{err}");
    }
}
