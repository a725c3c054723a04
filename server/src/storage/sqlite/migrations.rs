//! Numbered schema migrations of the SQLite backend, applied in order exactly once.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use super::db_err;
use crate::storage::StorageError;

/// Every migration, by version. Append only: a released migration never changes.
const MIGRATIONS: &[(u32, &str)] = &[
    (
        1,
        include_str!("../../../migrations/sqlite/0001_initial.sql"),
    ),
    (
        2,
        include_str!("../../../migrations/sqlite/0002_access.sql"),
    ),
    (
        3,
        include_str!("../../../migrations/sqlite/0003_dispatch.sql"),
    ),
    (
        4,
        include_str!("../../../migrations/sqlite/0004_operations.sql"),
    ),
    (
        5,
        include_str!("../../../migrations/sqlite/0005_snapshot_last.sql"),
    ),
    (
        6,
        include_str!("../../../migrations/sqlite/0006_departures.sql"),
    ),
];

/// Version a fully migrated database has.
pub const LATEST: u32 = MIGRATIONS[MIGRATIONS.len() - 1].0;

/// Brings the schema up to date; returns the version it is at now.
///
/// Foreign keys are off while migrations run, so that a migration can rebuild a table others
/// refer to (SQLite's way to reorder or retype columns); before the commit every reference is
/// checked, and a migration that leaves a dangling one is rolled back.
pub fn migrate(conn: &mut Connection) -> Result<u32, StorageError> {
    conn.pragma_update(None, "foreign_keys", "OFF")
        .map_err(db_err)?;
    let migrated = migrate_in_transaction(conn);
    conn.pragma_update(None, "foreign_keys", "ON")
        .map_err(db_err)?;
    migrated
}

fn migrate_in_transaction(conn: &mut Connection) -> Result<u32, StorageError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db_err)?;
    tx.execute_batch("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        .map_err(db_err)?;
    let current: u32 = tx
        .query_row("SELECT MAX(version) FROM schema_version", [], |r| {
            r.get::<_, Option<u32>>(0)
        })
        .optional()
        .map_err(db_err)?
        .flatten()
        .unwrap_or(0);
    if current > LATEST {
        return Err(StorageError::SchemaTooNew {
            found: current,
            known: LATEST,
        });
    }
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
        tx.execute_batch(sql)
            .map_err(|e| StorageError::Database(format!("migration {version} failed: {e}")))?;
        tx.execute(
            "INSERT INTO schema_version (version) VALUES (?1)",
            [version],
        )
        .map_err(db_err)?;
    }
    let dangling: Option<String> = tx
        .query_row("PRAGMA foreign_key_check", [], |r| r.get(0))
        .optional()
        .map_err(db_err)?;
    if let Some(table) = dangling {
        return Err(StorageError::Database(format!(
            "migration left rows of {table} referring to nothing; nothing was changed"
        )));
    }
    tx.commit().map_err(db_err)?;
    Ok(LATEST)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema(conn: &Connection) -> Vec<(String, String)> {
        let mut stmt = conn
            .prepare("SELECT name, IFNULL(sql, '') FROM sqlite_master ORDER BY name")
            .expect("prepare");
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows")
    }

    #[test]
    fn migrating_twice_is_a_no_op() {
        let mut conn = Connection::open_in_memory().expect("open");
        assert_eq!(migrate(&mut conn).expect("first"), LATEST);
        let before = schema(&conn);
        conn.execute(
            "INSERT INTO parts VALUES ('P-1', 'Pump', 'hydraulics', 100, 2)",
            [],
        )
        .expect("insert");
        assert_eq!(migrate(&mut conn).expect("second"), LATEST);
        assert_eq!(schema(&conn), before);
        let rows: u32 = conn
            .query_row("SELECT COUNT(*) FROM schema_version", [], |r| r.get(0))
            .expect("count");
        assert_eq!(rows as usize, MIGRATIONS.len());
        let seq: i64 = conn
            .query_row("SELECT value FROM sequence", [], |r| r.get(0))
            .expect("sequence");
        assert_eq!(seq, 0, "the sequence row is created once");
        let parts: u32 = conn
            .query_row("SELECT COUNT(*) FROM parts", [], |r| r.get(0))
            .expect("parts");
        assert_eq!(parts, 1, "data survives");
    }

    /// An in-memory database as a server that knew migrations up to `version` left it.
    fn migrated_to(version: u32) -> Connection {
        let mut conn = Connection::open_in_memory().expect("open");
        let tx = conn.transaction().expect("tx");
        tx.execute_batch("CREATE TABLE schema_version (version INTEGER NOT NULL);")
            .expect("version");
        for (v, sql) in MIGRATIONS.iter().filter(|(v, _)| *v <= version) {
            tx.execute_batch(sql).expect("older migration");
            tx.execute("INSERT INTO schema_version (version) VALUES (?1)", [v])
                .expect("record");
        }
        tx.commit().expect("commit");
        conn
    }

    #[test]
    fn documents_keep_their_rows_and_references_when_the_snapshot_moves_last() {
        let mut conn = migrated_to(4);
        let tx = conn.transaction().expect("tx");
        tx.execute_batch(
            "INSERT INTO documents (id, snapshot, updated_seq, number, status, priority,
                 customer_name, tier, region, category, assignee, created_at, response_due,
                 resolution_due, schedule_start, conflicts, response_minutes, resolved_at)
             VALUES ('d1', x'0102', 3, 'WO-1', 'assigned', 3, 'c', 'vip', 'north', 'hardware',
                 'u1', 0, 10, 20, NULL, 0, 60, 99);
             INSERT INTO changes (doc, hash, seq, origin_device, received_at, bytes)
             VALUES ('d1', x'aa', 3, NULL, 0, x'03');",
        )
        .expect("a document and its change");
        tx.commit().expect("commit");

        assert_eq!(migrate(&mut conn).expect("upgrade"), LATEST);
        let row: (Vec<u8>, i64, String, i64, Option<i64>) = conn
            .query_row(
                "SELECT snapshot, updated_seq, assignee, response_minutes, resolved_at
                 FROM documents WHERE id = 'd1'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .expect("the document survives");
        assert_eq!(row, (vec![1, 2], 3, "u1".into(), 60, Some(99)));
        let last: String = conn
            .query_row(
                "SELECT name FROM pragma_table_info('documents') ORDER BY cid DESC LIMIT 1",
                [],
                |r| r.get(0),
            )
            .expect("columns");
        assert_eq!(last, "snapshot");
        let fk: bool = conn
            .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
            .expect("pragma");
        assert!(fk, "foreign keys are on again after migrating");
        let err = conn
            .execute(
                "INSERT INTO changes (doc, hash, seq, received_at, bytes)
                 VALUES ('nowhere', x'bb', 4, 0, x'04')",
                [],
            )
            .expect_err("a change of no document");
        assert!(err.to_string().contains("FOREIGN KEY"), "{err}");
    }

    #[test]
    fn the_audit_trail_refuses_updates_and_deletes() {
        let mut conn = Connection::open_in_memory().expect("open");
        migrate(&mut conn).expect("migrate");
        conn.execute(
            "INSERT INTO audit (at, kind, detail) VALUES (1, 'login_failed', 'x')",
            [],
        )
        .expect("insert");
        for sql in ["UPDATE audit SET detail = 'y'", "DELETE FROM audit"] {
            let err = conn.execute(sql, []).expect_err(sql);
            assert!(err.to_string().contains("append-only"), "{err}");
        }
    }

    #[test]
    fn upgrading_grants_current_assignees() {
        let mut conn = Connection::open_in_memory().expect("open");
        let tx = conn.transaction().expect("tx");
        tx.execute_batch(
            "CREATE TABLE schema_version (version INTEGER NOT NULL);
             INSERT INTO schema_version (version) VALUES (1);",
        )
        .expect("version");
        tx.execute_batch(MIGRATIONS[0].1).expect("v1");
        tx.execute_batch(
            "INSERT INTO documents VALUES ('d1', x'00', 3, 'WO-1', 'assigned', 3, 'c', 'vip',
                 'north', 'hardware', 'u1', 0, 0, 0, NULL, 0);",
        )
        .expect("document");
        tx.commit().expect("commit");
        migrate(&mut conn).expect("upgrade");
        let grant: (String, i64) = conn
            .query_row(
                "SELECT user_id, since_seq FROM assignments WHERE doc = 'd1'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .expect("grant");
        assert_eq!(grant, ("u1".to_owned(), 3));
    }

    #[test]
    fn upgrading_ends_the_assignments_of_those_who_no_longer_hold_the_job() {
        let mut conn = migrated_to(5);
        let tx = conn.transaction().expect("tx");
        tx.execute_batch(
            "INSERT INTO documents (id, updated_seq, number, status, priority, customer_name,
                 tier, region, category, assignee, created_at, response_due, resolution_due,
                 conflicts, snapshot)
             VALUES ('d1', 7, 'WO-1', 'assigned', 3, 'c', 'vip', 'north', 'hardware', 'u2',
                 0, 0, 0, 0, x'00');
             INSERT INTO assignments (doc, user_id, since_seq) VALUES ('d1', 'u1', 3), ('d1', 'u2', 7);",
        )
        .expect("documents");
        tx.commit().expect("commit");
        migrate(&mut conn).expect("upgrade");
        let ended: Vec<(String, Option<i64>)> = conn
            .prepare("SELECT user_id, left_seq FROM assignments WHERE doc = 'd1' ORDER BY user_id")
            .expect("prepare")
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows");
        assert_eq!(
            ended,
            vec![("u1".to_owned(), Some(7)), ("u2".to_owned(), None)],
            "the earlier assignee's assignment ended, the current one's lasts"
        );
    }

    #[test]
    fn a_newer_database_is_refused() {
        let mut conn = Connection::open_in_memory().expect("open");
        migrate(&mut conn).expect("migrate");
        conn.execute(
            "INSERT INTO schema_version (version) VALUES (?1)",
            [LATEST + 1],
        )
        .expect("insert");
        let err = migrate(&mut conn).expect_err("too new");
        assert!(err.to_string().contains("upgrade the server"), "{err}");
    }
}
