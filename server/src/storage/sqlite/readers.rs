//! The reader threads: a fixed set of threads, each with its own connection, taking read jobs
//! from one queue. A sync makes several small reads; handing each to the runtime's blocking
//! pool made every one of them take that pool's lock twice, and under load the threads queued
//! on it with cores idle. A connection is opened by its thread on the first job it takes.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::Arc;

use rusqlite::{Connection, TransactionBehavior};

use super::{in_transaction, open_connection};
use crate::storage::StorageError;

/// A read to run with a thread's connection.
type Job = Box<dyn FnOnce(&mut Option<Connection>) + Send>;

/// The queue of read jobs; dropping it ends the threads once the queued jobs are done.
pub struct Readers {
    jobs: crossbeam_channel::Sender<Job>,
    path: Arc<PathBuf>,
}

impl Readers {
    /// Starts `threads` reader threads on the database at `path`.
    pub fn start(path: PathBuf, threads: usize) -> Result<Readers, StorageError> {
        let (jobs, queue) = crossbeam_channel::unbounded::<Job>();
        for n in 0..threads {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("sqlite-reader-{n}"))
                .spawn(move || {
                    let mut conn = None;
                    while let Ok(job) = queue.recv() {
                        // A read that panicked rolled back its transaction; its caller hears of
                        // it through the dropped answer, and the connection goes on serving.
                        if catch_unwind(AssertUnwindSafe(|| job(&mut conn))).is_err() {
                            tracing::error!("a database read panicked");
                        }
                    }
                })
                .map_err(|e| StorageError::TaskFailed(format!("cannot start a reader: {e}")))?;
        }
        Ok(Readers {
            jobs,
            path: Arc::new(path),
        })
    }

    /// Runs `f` in a read transaction on one of the threads' connections.
    pub async fn read<T, F>(&self, f: F) -> Result<T, StorageError>
    where
        T: Send + 'static,
        F: FnOnce(&rusqlite::Transaction<'_>) -> Result<T, StorageError> + Send + 'static,
    {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let path = self.path.clone();
        let job: Job = Box::new(move |conn: &mut Option<Connection>| {
            let result = (|| {
                let conn = match conn {
                    Some(open) => open,
                    None => conn.insert(open_connection(&path)?),
                };
                in_transaction(conn, TransactionBehavior::Deferred, f)
            })();
            // The caller may have gone away; the read changed nothing.
            let _ = answer.send(result);
        });
        self.jobs
            .send(job)
            .map_err(|_| StorageError::TaskFailed("the reader threads stopped".into()))?;
        answered
            .await
            .map_err(|_| StorageError::TaskFailed("a database read failed".into()))?
    }
}
