//! Group commit: document commits that arrive while the writer is busy are stored together in
//! one transaction, so that one sync to disk makes all of them durable. Each commit runs in a
//! savepoint of its own (a version conflict or a failed statement undoes only that one), and
//! every commit is answered only after the transaction holding it has committed.
//!
//! There is no timer: a commit queues itself and then takes the writer; whoever holds the
//! writer stores everything queued so far, so batches grow exactly while the disk is the
//! bottleneck and a lone commit goes out at once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use fieldsync_proto::UserId;
use rusqlite::{Connection, Transaction, TransactionBehavior};
use tokio::sync::{broadcast, oneshot};

use super::{db_err, documents};
use crate::storage::{CommitNotice, CommitOutcome, DocumentCommit, StorageError};

/// Most commits stored in one transaction, so that a batch never holds the writer for long.
pub const MAX_BATCH: usize = 256;

/// What a commit came to: its outcome and who was assigned before.
pub type Committed = (CommitOutcome, Option<UserId>);

/// A commit waiting for the writer.
pub struct Queued {
    commit: DocumentCommit,
    taken: Arc<AtomicBool>,
    reply: oneshot::Sender<Result<Committed, StorageError>>,
}

/// A queued commit, seen from the one waiting for it.
pub struct Ticket {
    taken: Arc<AtomicBool>,
    pub answer: oneshot::Receiver<Result<Committed, StorageError>>,
}

/// Commits waiting for the writer, oldest first.
#[derive(Default)]
pub struct CommitQueue {
    pending: Mutex<Vec<Queued>>,
}

impl CommitQueue {
    pub fn push(&self, commit: DocumentCommit) -> Ticket {
        let (reply, answer) = oneshot::channel();
        let taken = Arc::new(AtomicBool::new(false));
        self.lock().push(Queued {
            commit,
            taken: taken.clone(),
            reply,
        });
        Ticket { taken, answer }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Queued>> {
        self.pending
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn take(&self) -> Vec<Queued> {
        let mut pending = self.lock();
        let n = pending.len().min(MAX_BATCH);
        let batch: Vec<Queued> = pending.drain(..n).collect();
        for q in &batch {
            q.taken.store(true, Ordering::Release);
        }
        batch
    }

    /// With the writer held: stores queued batches until `ticket`'s commit was among them.
    pub fn store_until_taken(
        &self,
        ticket: &Ticket,
        conn: &mut Connection,
        feed: &broadcast::Sender<CommitNotice>,
    ) {
        while !ticket.taken.load(Ordering::Acquire) {
            let batch = self.take();
            if batch.is_empty() {
                return;
            }
            store_batch(conn, batch, feed);
        }
    }
}

/// A copy of a storage error, for answering every commit of a failed batch.
fn copy(e: &StorageError) -> StorageError {
    match e {
        StorageError::UsernameTaken(s) => StorageError::UsernameTaken(s.clone()),
        StorageError::Database(s) => StorageError::Database(s.clone()),
        StorageError::Full(s) => StorageError::Full(s.clone()),
        StorageError::Corrupt(s) => StorageError::Corrupt(s.clone()),
        StorageError::SchemaTooNew { found, known } => StorageError::SchemaTooNew {
            found: *found,
            known: *known,
        },
        StorageError::TaskFailed(s) => StorageError::TaskFailed(s.clone()),
    }
}

/// Runs one statement of the savepoint around each commit, compiled once per connection.
fn savepoint(tx: &Transaction<'_>, sql: &str) -> Result<(), StorageError> {
    tx.prepare_cached(sql)
        .and_then(|mut stmt| stmt.execute([]))
        .map(|_| ())
        .map_err(db_err)
}

/// Runs one commit in a savepoint of `tx`, keeping it only if it committed.
fn commit_one(tx: &Transaction<'_>, commit: &DocumentCommit) -> Result<Committed, StorageError> {
    savepoint(tx, "SAVEPOINT document_commit")?;
    let result = documents::commit_noting(tx, commit);
    let keep = matches!(result, Ok((CommitOutcome::Committed(_), _)));
    // After some failures (a full disk) SQLite has rolled back the whole transaction: there
    // is no savepoint left to end, and the caller sees that the transaction is gone.
    if !tx.is_autocommit() {
        if !keep {
            savepoint(tx, "ROLLBACK TO document_commit")?;
        }
        savepoint(tx, "RELEASE document_commit")?;
    }
    result
}

/// Stores `batch` in one transaction and answers every commit of it.
fn store_batch(conn: &mut Connection, batch: Vec<Queued>, feed: &broadcast::Sender<CommitNotice>) {
    let results = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Err(e) => Err(db_err(e)),
        Ok(tx) => {
            let mut results = Vec::with_capacity(batch.len());
            let mut failed = None;
            for q in &batch {
                let result = commit_one(&tx, &q.commit);
                if tx.is_autocommit() {
                    // The transaction is gone, and the commits before this one with it.
                    failed = Some(match result {
                        Err(e) => e,
                        Ok(_) => StorageError::Database("the transaction ended early".into()),
                    });
                    break;
                }
                results.push(result);
            }
            match failed {
                Some(e) => Err(e),
                None => tx.commit().map(|()| results).map_err(db_err),
            }
        }
    };
    let results = match results {
        Ok(results) => results,
        Err(e) => {
            for q in batch {
                let _ = q.reply.send(Err(copy(&e)));
            }
            return;
        }
    };
    for (q, result) in batch.into_iter().zip(results) {
        if let Ok((CommitOutcome::Committed(seq), previous_assignee)) = result {
            // Nobody listening is fine: the notice only saves a device from waiting.
            let _ = feed.send(CommitNotice {
                doc: q.commit.doc,
                seq,
                assignee: q.commit.summary.assignee,
                previous_assignee,
            });
        }
        // The caller may have gone away; the commit stands all the same.
        let _ = q.reply.send(result);
    }
}

#[cfg(test)]
mod tests {
    use fieldsync_proto::{ChangeHash, Timestamp, WorkOrderId};

    use super::*;
    use crate::storage::sqlite::SqliteStorage;
    use crate::storage::{NewChange, Seq, Storage};

    fn change(tag: u8) -> NewChange {
        let mut hash = [tag; 32];
        hash[..16].copy_from_slice(WorkOrderId::new().0.as_bytes());
        NewChange {
            hash: ChangeHash(hash),
            bytes: vec![tag; 3],
        }
    }

    fn create(id: WorkOrderId, changes: Vec<NewChange>, snapshot: Vec<u8>) -> DocumentCommit {
        DocumentCommit {
            doc: id,
            expected: None,
            snapshot,
            summary: crate::storage::conformance::summary(id, None),
            sla: fieldsync_proto::SlaFacts::default(),
            usages: Vec::new(),
            entries: Vec::new(),
            changes,
            origin: None,
            received_at: Timestamp(1_700_000_000_000),
            known_by: None,
            audit: Vec::new(),
        }
    }

    async fn storage() -> (tempfile::TempDir, SqliteStorage) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStorage::open(dir.path().join("fieldsync.db"))
            .await
            .expect("open");
        (dir, store)
    }

    /// Stores everything queued in one batch, as the holder of the writer would.
    fn store_queued(store: &SqliteStorage, last: &Ticket) {
        let mut conn = store.inner.writer.lock().expect("writer");
        store
            .inner
            .commits
            .store_until_taken(last, &mut conn, &store.inner.feed);
    }

    #[tokio::test]
    async fn one_batch_keeps_each_commit_apart() {
        let (dir, store) = storage().await;
        let mut feed = store.subscribe();
        let (a, b, d) = (WorkOrderId::new(), WorkOrderId::new(), WorkOrderId::new());
        let twice = change(2);
        let queue = &store.inner.commits;
        let first = queue.push(create(a, vec![change(1)], b"a".to_vec()));
        // The same change twice breaks the change log's key: this commit fails alone.
        let broken = queue.push(create(b, vec![twice.clone(), twice], b"b".to_vec()));
        // A creation of a document that exists by then: a conflict, alone.
        let conflict = queue.push(create(a, vec![change(3)], b"a again".to_vec()));
        let last = queue.push(create(d, vec![change(4)], b"d".to_vec()));
        store_queued(&store, &last);

        let seq = |t: Ticket| async move { t.answer.await.expect("answered") };
        let first = seq(first).await.expect("first").0;
        assert!(broken.answer.await.expect("answered").is_err());
        assert_eq!(
            seq(conflict).await.expect("conflict").0,
            CommitOutcome::VersionConflict
        );
        let last = seq(last).await.expect("last").0;
        assert_eq!(first, CommitOutcome::Committed(Seq(1)));
        assert_eq!(
            last,
            CommitOutcome::Committed(Seq(2)),
            "the failed commit's number is not used up"
        );

        // Durable and visible to another connection once answered.
        let other = SqliteStorage::open(dir.path().join("fieldsync.db"))
            .await
            .expect("open again");
        let stored = other.load_document(a).await.expect("load").expect("a");
        assert_eq!(stored.snapshot, b"a");
        assert!(other.load_document(b).await.expect("load").is_none());
        assert!(other.load_document(d).await.expect("load").is_some());
        let notices: Vec<_> = [feed.try_recv(), feed.try_recv()]
            .into_iter()
            .map(|n| n.expect("notice").doc)
            .collect();
        assert_eq!(notices, vec![a, d], "notices only of what committed");
        assert!(feed.try_recv().is_err());
    }

    #[tokio::test]
    async fn a_full_disk_answers_every_commit_as_stored() {
        let (dir, store) = storage().await;
        {
            let conn = store.inner.writer.lock().expect("writer");
            let pages: i64 = conn
                .query_row("PRAGMA page_count", [], |r| r.get(0))
                .expect("pages");
            conn.pragma_update(None, "max_page_count", pages + 4)
                .expect("limit");
        }
        let queue = &store.inner.commits;
        let ids = [WorkOrderId::new(), WorkOrderId::new(), WorkOrderId::new()];
        let tickets = [
            queue.push(create(ids[0], vec![change(1)], vec![1; 10])),
            queue.push(create(ids[1], vec![change(2)], vec![2; 1_000_000])),
            queue.push(create(ids[2], vec![change(3)], vec![3; 10])),
        ];
        store_queued(&store, &tickets[2]);
        let other = SqliteStorage::open(dir.path().join("fieldsync.db"))
            .await
            .expect("open again");
        let mut full = false;
        for (id, ticket) in ids.into_iter().zip(tickets) {
            let answer = ticket.answer.await.expect("answered");
            full |= matches!(answer, Err(StorageError::Full(_)));
            let stored = other.load_document(id).await.expect("load").is_some();
            assert_eq!(
                stored,
                matches!(answer, Ok((CommitOutcome::Committed(_), _))),
                "the answer for {id} says what is stored: {answer:?}"
            );
        }
        assert!(full, "the big commit did not fit");
    }

    #[tokio::test]
    async fn concurrent_commits_share_transactions_and_all_land() {
        let (_dir, store) = storage().await;
        let store = Arc::new(store);
        let tasks: Vec<_> = (0..64)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move {
                    let id = WorkOrderId::new();
                    let outcome = store
                        .commit(create(id, vec![change(i)], vec![i; 100]))
                        .await
                        .expect("commit");
                    (id, outcome)
                })
            })
            .collect();
        let mut seqs = Vec::new();
        for task in tasks {
            let (id, outcome) = task.await.expect("task");
            let CommitOutcome::Committed(seq) = outcome else {
                panic!("{outcome:?}");
            };
            let stored = store.load_document(id).await.expect("load").expect("doc");
            assert_eq!(stored.version, seq);
            seqs.push(seq.0);
        }
        seqs.sort_unstable();
        assert_eq!(seqs, (1..=64).collect::<Vec<_>>());
    }
}
