//! The merge threads: one per core, taking the pushed documents to merge from one queue, oldest
//! first, whichever request pushed them.
//!
//! A merge is CPU work of a millisecond or so per document. Handed to the runtime's blocking
//! pool behind a semaphore, each one waited about 0.9 ms for a thread to be scheduled and
//! another 0.9 ms for the request's task to take the result and free its turn; meanwhile the
//! scheduler left woken threads queued behind a busy core with the other core idle. In
//! `catch_up`'s push of 200 documents, two merges ran at once only part of the time and the
//! server used 81 % of the two cores. A thread here goes from one merge to the next without
//! sleeping while the queue holds work: the same push keeps both cores 97 % busy, and
//! `catch_up` took 151–154 ms instead of 168–172 ms (three alternating runs of each). One
//! queue for the whole server also keeps concurrent requests from running more merges at once
//! than there are cores.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use crate::job_queue::JobQueue;

/// A merge to run on one of the threads.
type Job = Box<dyn FnOnce() + Send>;

/// Why a merge produced no result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergeFailed {
    /// The merge panicked (the document library failed on its input).
    Panicked,
    /// The threads are gone: the server is shutting down.
    Stopped,
}

/// The merge threads' queue; dropping it ends the threads once the queued merges are done.
pub struct MergeThreads {
    queue: Arc<JobQueue<Job>>,
    /// Threads that started; with none (the system refused them all) merges go to the
    /// runtime's blocking pool instead.
    threads: usize,
}

impl Default for MergeThreads {
    /// One thread per core this process may use.
    fn default() -> Self {
        MergeThreads::start(std::thread::available_parallelism().map_or(2, usize::from))
    }
}

impl Drop for MergeThreads {
    fn drop(&mut self) {
        self.queue.close();
    }
}

impl MergeThreads {
    /// Starts `threads` merge threads.
    pub fn start(threads: usize) -> MergeThreads {
        let queue: Arc<JobQueue<Job>> = Arc::new(JobQueue::default());
        let mut started = 0;
        for n in 0..threads {
            match queue.serve(format!("merge-{n}"), |job: Job| job()) {
                Ok(()) => started += 1,
                Err(e) => tracing::error!(error = %e, "cannot start a merge thread"),
            }
        }
        MergeThreads {
            queue,
            threads: started,
        }
    }

    /// Runs `merge` on a merge thread once the merges queued before it have started.
    pub async fn run<T, F>(&self, merge: F) -> Result<T, MergeFailed>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        if self.threads == 0 {
            return tokio::task::spawn_blocking(merge).await.map_err(|e| {
                if e.is_panic() {
                    MergeFailed::Panicked
                } else {
                    MergeFailed::Stopped
                }
            });
        }
        let (answer, answered) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let result = catch_unwind(AssertUnwindSafe(merge)).map_err(|_| MergeFailed::Panicked);
            // The request may have gone away; its merge changed nothing stored.
            let _ = answer.send(result);
        });
        self.queue.push(job).map_err(|_| MergeFailed::Stopped)?;
        answered.await.map_err(|_| MergeFailed::Stopped)?
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    #[tokio::test]
    async fn merges_run_on_the_threads_and_a_panic_fails_only_its_own() {
        let merges = MergeThreads::start(2);
        let results = futures_util::future::join_all((0..20).map(|n| {
            merges.run(move || {
                let name = std::thread::current().name().map(str::to_owned);
                (n * 2, name)
            })
        }))
        .await;
        for (n, result) in results.into_iter().enumerate() {
            let (doubled, thread) = result.expect("merged");
            assert_eq!(doubled, n * 2);
            assert!(
                thread.as_deref().is_some_and(|t| t.starts_with("merge-")),
                "{thread:?}"
            );
        }

        let panicked = merges
            .run(|| -> u32 { panic!("a merge that fails badly") })
            .await;
        assert_eq!(panicked, Err(MergeFailed::Panicked));
        assert_eq!(merges.run(|| 7).await, Ok(7), "the thread goes on serving");
    }

    #[tokio::test]
    async fn the_threads_end_with_the_queue() {
        let merges = MergeThreads::start(2);
        assert_eq!(merges.run(|| 1).await, Ok(1));
        let queue = Arc::downgrade(&merges.queue);
        drop(merges);
        let deadline = Instant::now() + Duration::from_secs(10);
        while queue.upgrade().is_some() {
            assert!(Instant::now() < deadline, "the merge threads did not end");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    #[tokio::test]
    async fn without_threads_merges_still_run() {
        let merges = MergeThreads::start(0);
        assert_eq!(merges.run(|| 3).await, Ok(3));
        assert_eq!(
            merges.run(|| -> u8 { panic!("fails badly") }).await,
            Err(MergeFailed::Panicked)
        );
    }
}
