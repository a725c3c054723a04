//! The reader threads: a fixed set of threads, each with its own connection, taking read jobs
//! from one queue (`JobQueue`). A sync makes several small reads; handing each to the runtime's
//! blocking pool made every one of them take that pool's lock twice, and under load the threads
//! queued on it with cores idle. A connection is opened by its thread on the first job it takes.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::Arc;

use rusqlite::{Connection, TransactionBehavior};

use super::{in_transaction, open_connection};
use crate::job_queue::JobQueue;
use crate::storage::StorageError;

/// A read to run with a thread's connection.
type Job = Box<dyn FnOnce(&mut Option<Connection>) + Send>;

/// The reader threads' queue; dropping it ends the threads once the queued jobs are done.
pub struct Readers {
    queue: Arc<JobQueue<Job>>,
    path: Arc<PathBuf>,
}

impl Drop for Readers {
    fn drop(&mut self) {
        self.queue.close();
    }
}

impl Readers {
    /// Starts `threads` reader threads on the database at `path`.
    pub fn start(path: PathBuf, threads: usize) -> Result<Readers, StorageError> {
        let queue: Arc<JobQueue<Job>> = Arc::new(JobQueue::default());
        for n in 0..threads {
            let mut conn = None;
            let started = queue.serve(format!("sqlite-reader-{n}"), move |job: Job| {
                // A read that panicked rolled back its transaction; its caller hears of it
                // through the dropped answer, and the connection goes on serving.
                if catch_unwind(AssertUnwindSafe(|| job(&mut conn))).is_err() {
                    tracing::error!("a database read panicked");
                }
            });
            if let Err(e) = started {
                // The threads already started end with the queue.
                queue.close();
                return Err(StorageError::TaskFailed(format!(
                    "cannot start a reader: {e}"
                )));
            }
        }
        Ok(Readers {
            queue,
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
        self.queue
            .push(job)
            .map_err(|_| StorageError::TaskFailed("the reader threads stopped".into()))?;
        answered
            .await
            .map_err(|_| StorageError::TaskFailed("a database read failed".into()))?
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    fn one(tx: &rusqlite::Transaction<'_>) -> Result<i64, StorageError> {
        tx.query_row("SELECT 1", [], |row| row.get(0))
            .map_err(|e| StorageError::Database(e.to_string()))
    }

    #[tokio::test]
    async fn reads_more_than_there_are_threads_all_answer_and_the_threads_end_with_the_queue() {
        let dir = tempfile::tempdir().expect("tempdir");
        let readers = Readers::start(dir.path().join("readers.db"), 2).expect("start");
        let queue = Arc::downgrade(&readers.queue);

        let answers = futures_util::future::join_all((0..50).map(|_| readers.read(one))).await;
        assert_eq!(answers.len(), 50);
        assert!(answers.into_iter().all(|a| a.expect("read") == 1));

        // A read that panics leaves its thread serving the next ones.
        let panicked = readers
            .read(|_| -> Result<(), StorageError> { panic!("a read that fails badly") })
            .await;
        assert!(matches!(panicked, Err(StorageError::TaskFailed(_))));
        assert_eq!(readers.read(one).await.expect("read after a panic"), 1);

        drop(readers);
        let deadline = Instant::now() + Duration::from_secs(10);
        while queue.upgrade().is_some() {
            assert!(Instant::now() < deadline, "the reader threads did not end");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}
