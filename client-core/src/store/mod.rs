//! The device's SQLite store: one connection, every read through `read`, every write one
//! transaction through `write`, so that a local edit is durable before the call returns and a
//! crash at any point leaves the store as it was before or after a whole operation.

pub(crate) mod blobs;
mod checkpoint;
pub(crate) mod doc_cache;
pub(crate) mod docs;
pub(crate) mod index;
pub(crate) mod leaving;
pub(crate) mod meta;
pub(crate) mod outbox;
pub(crate) mod resync;
mod schema;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, Transaction, TransactionBehavior};

use crate::error::{Error, Result, StoreError};
use checkpoint::Checkpointer;

/// File name of the store inside the directory given to `Client::open`.
pub const DB_FILE: &str = "fieldsync.db";

pub(crate) struct Store {
    conn: Mutex<Connection>,
    path: PathBuf,
    /// Checkpoints file stores off the path of writes; in-memory stores have no log.
    checkpointer: Option<Checkpointer>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

impl Store {
    /// Opens (creating if needed) the store in `dir` and brings its schema up to date.
    pub fn open(dir: &Path) -> Result<Store> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = dir.join(DB_FILE);
        let conn = Connection::open(&path).map_err(|source| StoreError::Open {
            path: path.clone(),
            source,
        })?;
        let mut store = Self::setup(conn, path)?;
        store.checkpointer = Some(Checkpointer::start(&store.path)?);
        Ok(store)
    }

    #[cfg(test)]
    pub fn open_in_memory() -> Result<Store> {
        let conn = Connection::open_in_memory()?;
        Self::setup(conn, PathBuf::from(":memory:"))
    }

    fn setup(mut conn: Connection, path: PathBuf) -> Result<Store> {
        // Several processes may share a store (an app and its background sync); wait for the
        // other's transaction instead of failing at once.
        conn.busy_timeout(Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // FULL: a committed local edit survives power loss, not only a process kill.
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // A cached statement keeps its plan whatever values are bound, instead of being
        // compiled again when a value its planner looked at changes (a LIMIT, say).
        conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
            true,
        )?;
        // Checkpoints run in the background (see `checkpoint`); a commit runs one only if
        // the log has grown far past SQLite's usual threshold.
        conn.pragma_update(None, "wal_autocheckpoint", checkpoint::BACKSTOP_PAGES)?;
        schema::migrate(&mut conn)?;
        Ok(Store {
            conn: Mutex::new(conn),
            path,
            checkpointer: None,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock dropped its transaction, which rolled back: the
        // connection is still consistent, so carry on.
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs read-only work on a consistent view of the store.
    pub fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let mut conn = self.lock();
        // A deferred transaction gives one snapshot for all the statements in `f`.
        let tx = conn.transaction()?;
        let out = f(&tx)?;
        tx.finish()?;
        Ok(out)
    }

    /// Runs `f` in one write transaction: committed if it returns `Ok`, rolled back otherwise.
    /// A full disk is reported as such, naming the store.
    pub fn write<T>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self.lock();
        let result = (|| {
            // IMMEDIATE takes the write lock up front, so a read-then-write cannot fail
            // half-way with SQLITE_BUSY because another process wrote in between.
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let out = f(&tx)?;
            tx.commit().map_err(Error::from)?;
            Ok(out)
        })();
        if let (Ok(_), Some(checkpointer)) = (&result, &self.checkpointer) {
            checkpointer.written();
        }
        result.map_err(|e| match e {
            Error::Storage(s) if s.is_disk_full() => Error::Storage(StoreError::DiskFull {
                path: self.path.clone(),
            }),
            other => other,
        })
    }
}

/// Removes everything this device holds: documents, index, outbox, refused changes, the
/// session and the device's identity. For a device the server says was revoked.
pub(crate) fn wipe(tx: &Connection) -> Result<()> {
    docs::drop_all_docs(tx)?;
    outbox::clear_all(tx)?;
    resync::clear_all_resync(tx)?;
    leaving::clear_all(tx)?;
    blobs::clear_all(tx)?;
    meta::clear_all(tx)?;
    if let Some(path) = tx.path().filter(|p| !p.is_empty()) {
        crate::attachments::remove_all_files(std::path::Path::new(path));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_write_leaves_nothing_behind() {
        let store = Store::open_in_memory().expect("store");
        let result: Result<()> = store.write(|tx| {
            meta::set_cursor(tx, fieldsync_proto::wire::Cursor(7))?;
            Err(Error::InvalidInput("stop".into()))
        });
        assert!(result.is_err());
        let cursor = store.read(meta::get_cursor).expect("read");
        assert_eq!(cursor, fieldsync_proto::wire::Cursor(0));
    }

    #[test]
    fn a_full_disk_is_named_and_loses_nothing() {
        let store = Store::open_in_memory().expect("store");
        store
            .write(|tx| meta::set_cursor(tx, fieldsync_proto::wire::Cursor(5)))
            .expect("write");
        // A size cap makes SQLite answer exactly as it does when the disk is full.
        let pages: i64 = store
            .read(|c| Ok(c.query_row("PRAGMA page_count", [], |r| r.get(0))?))
            .expect("pages");
        store
            .read(|c| {
                c.pragma_update(None, "max_page_count", pages)?;
                Ok(())
            })
            .expect("cap");
        let err = store
            .write(|tx| {
                tx.execute_batch("CREATE TABLE filler (x BLOB)")?;
                tx.execute("INSERT INTO filler VALUES (zeroblob(1000000))", [])?;
                Ok(())
            })
            .expect_err("the store is full");
        assert!(
            matches!(err, Error::Storage(StoreError::DiskFull { .. })),
            "{err:?}"
        );
        assert!(err.to_string().contains("disk is full"), "{err}");
        assert!(err.is_retryable());
        assert_eq!(
            store.read(meta::get_cursor).expect("read"),
            fieldsync_proto::wire::Cursor(5),
            "what was stored is intact"
        );
    }

    #[test]
    fn opens_a_file_store_in_wal_mode_and_reopens_it() {
        let dir = tempfile::tempdir().expect("tmp");
        let store = Store::open(&dir.path().join("nested")).expect("open");
        store
            .write(|tx| meta::set_cursor(tx, fieldsync_proto::wire::Cursor(3)))
            .expect("write");
        let mode: String = store
            .read(|c| Ok(c.query_row("PRAGMA journal_mode", [], |r| r.get(0))?))
            .expect("mode");
        assert_eq!(mode, "wal");
        drop(store);
        let again = Store::open(&dir.path().join("nested")).expect("reopen");
        let cursor = again.read(meta::get_cursor).expect("read");
        assert_eq!(cursor, fieldsync_proto::wire::Cursor(3));
    }
}
