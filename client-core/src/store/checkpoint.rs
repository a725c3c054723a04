//! Moves the write-ahead log into the database file in the background, so that a person's
//! action never waits for it. Left to itself, SQLite checkpoints inside whichever commit
//! crosses its threshold, and that tap pays for copying pages and syncing the whole database
//! file.

use std::path::Path;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::time::{Duration, Instant};

use rusqlite::Connection;

/// Writes that follow one another within this time are checkpointed together.
const GATHER: Duration = Duration::from_secs(1);

/// Log pages (4 KiB each) at which a commit still checkpoints by itself, should the
/// background thread not keep up (a long read holding the log, say).
pub(crate) const BACKSTOP_PAGES: i64 = 10_000;

/// The handle of the background checkpoint thread; dropping it stops the thread.
pub(crate) struct Checkpointer {
    nudge: SyncSender<()>,
}

impl Checkpointer {
    /// Starts checkpointing the store at `path` on a thread with a connection of its own.
    pub fn start(path: &Path) -> rusqlite::Result<Checkpointer> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(10))?;
        let (nudge, nudged) = mpsc::sync_channel(1);
        let started = std::thread::Builder::new()
            .name("fieldsync-checkpoint".into())
            .spawn(move || run(conn, nudged));
        if let Err(e) = started {
            // Without the thread, SQLite's own checkpoints still keep the log bounded.
            tracing::warn!(error = %e, "could not start the background checkpoint thread");
        }
        Ok(Checkpointer { nudge })
    }

    /// Says that a transaction was committed.
    pub fn written(&self) {
        // A nudge already waiting covers this write too.
        let _ = self.nudge.try_send(());
    }
}

fn run(conn: Connection, nudged: Receiver<()>) {
    while nudged.recv().is_ok() {
        let until = Instant::now() + GATHER;
        loop {
            match nudged.recv_timeout(until.saturating_duration_since(Instant::now())) {
                Ok(()) => continue,
                Err(RecvTimeoutError::Timeout) => break,
                // The store was closed; closing this connection checkpoints what is left.
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
        // PASSIVE copies what it can without waiting for readers or blocking writers.
        let done = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
            Ok((row.get::<_, i64>(1)?, row.get::<_, i64>(2)?))
        });
        match done {
            Ok((log, copied)) => tracing::trace!(log, copied, "checkpointed"),
            Err(e) => tracing::debug!(error = %e, "background checkpoint failed; retried later"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commits_reach_the_database_file_without_a_commit_checkpointing() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("store.db");
        let conn = Connection::open(&path).expect("open");
        conn.pragma_update(None, "journal_mode", "WAL")
            .expect("wal");
        // Commits never checkpoint here: only the background thread can.
        conn.pragma_update(None, "wal_autocheckpoint", 0)
            .expect("off");
        conn.execute_batch("CREATE TABLE t (x BLOB)")
            .expect("table");
        let file_size = || std::fs::metadata(&path).expect("size").len();
        let before = file_size();
        let checkpointer = Checkpointer::start(&path).expect("start");
        for _ in 0..20 {
            conn.execute("INSERT INTO t VALUES (zeroblob(10000))", [])
                .expect("insert");
            checkpointer.written();
        }
        assert!(file_size() < 100_000, "nothing was copied yet");
        // The thread checkpoints about a second after the last write.
        let deadline = Instant::now() + Duration::from_secs(20);
        while file_size() < 200_000 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        assert!(
            file_size() >= 200_000,
            "the database file holds {} bytes, {before} before",
            file_size()
        );
        drop(checkpointer);
        let rows: i64 = conn
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .expect("count");
        assert_eq!(rows, 20);
    }
}
