//! The embedded SQLite backend: one file, WAL mode, every write a durable transaction.
//!
//! All database work runs on the blocking thread pool through `read` and `write`. Writes go
//! through one connection, so they are serialized and the sequence counter follows commit
//! order; reads use a bounded pool of their own connections and see a consistent snapshot.

mod audit;
mod catalogue;
mod convert;
mod documents;
mod group_commit;
pub mod migrations;
mod operations;
mod readers;
mod users;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use fieldsync_proto::api::{AuditEntry, DeviceInfo};
use fieldsync_proto::{
    DeviceId, EntryId, FollowUp, Role, StockMovement, Timestamp, UserId, WorkOrderId,
};
use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};

use super::{
    held_candidates, AuditQuery, CandidateBatch, CandidateQuery, ChangesAfter, CommitNotice,
    CommitOutcome, Delivery, DeliveryRecord, DocumentCommit, HeldLimit, NewAuditEntry, NewSession,
    Part, PullCandidate, ReviewResolution, SafetyLevel, Seq, Session, Storage, StorageError,
    StoredDocument, SummaryPage, TokenHash, User, UserRecord, WorkOrderQuery, COMMIT_FEED_CAPACITY,
};

/// Reader threads, each with a connection of its own. A read waits in their queue (without
/// holding a thread) for one to be free rather than open another: a burst of requests would
/// otherwise open a connection and occupy a thread each, and every one of them grows the
/// process's memory.
const READERS: usize = 16;
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone)]
pub struct SqliteStorage {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    writer: Mutex<Connection>,
    /// Whose turn it is at the writer. Writes queue for it here, without holding a blocking
    /// thread each while another write runs.
    writer_turn: Arc<tokio::sync::Semaphore>,
    readers: readers::Readers,
    feed: tokio::sync::broadcast::Sender<CommitNotice>,
    commits: group_commit::CommitQueue,
}

impl std::fmt::Debug for SqliteStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStorage")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

pub(crate) fn db_err(e: rusqlite::Error) -> StorageError {
    if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull) {
        return StorageError::Full(e.to_string());
    }
    StorageError::Database(e.to_string())
}

/// The writer's page cache, in KiB as SQLite counts a negative `cache_size` (32 MiB).
const WRITER_CACHE_KIB: i64 = -32 * 1024;

fn open_connection(path: &Path) -> Result<Connection, StorageError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI,
    )
    .map_err(|e| StorageError::Database(format!("cannot open {}: {e}", path.display())))?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(db_err)?;
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
        .map_err(db_err)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StorageError::Database(format!(
            "{} cannot use write-ahead logging (journal mode stays {mode})",
            path.display()
        )));
    }
    // FULL: an acknowledged commit survives a power cut, not only a process crash.
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(db_err)?;
    conn.pragma_update(None, "foreign_keys", "ON")
        .map_err(db_err)?;
    // The few rows a query sorts or collects on the side stay in memory. In a file they cost a
    // write to disk each time (thousands a second under sync load).
    conn.pragma_update(None, "temp_store", "MEMORY")
        .map_err(db_err)?;
    // A cached statement keeps its plan whatever values are bound. Without this SQLite compiles
    // a statement again whenever a bound value its planner looked at changes (a page size in a
    // LIMIT, say): under load, nearly every pull's candidate scan was compiled anew.
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )
    .map_err(db_err)?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

/// Runs `f` in one transaction of `conn`, committed if it returns `Ok` (rolled back on drop
/// otherwise).
fn in_transaction<T>(
    conn: &mut Connection,
    behavior: TransactionBehavior,
    f: impl FnOnce(&Transaction<'_>) -> Result<T, StorageError>,
) -> Result<T, StorageError> {
    let tx = conn.transaction_with_behavior(behavior).map_err(db_err)?;
    let value = f(&tx)?;
    tx.commit().map_err(db_err)?;
    Ok(value)
}

impl SqliteStorage {
    /// Opens (creating if needed) the database file and brings its schema up to date.
    pub async fn open(path: impl Into<PathBuf>) -> Result<Self, StorageError> {
        let path = path.into();
        tokio::task::spawn_blocking(move || Self::open_blocking(path))
            .await
            .map_err(|e| StorageError::TaskFailed(e.to_string()))?
    }

    fn open_blocking(path: PathBuf) -> Result<Self, StorageError> {
        let mut writer = open_connection(&path)?;
        // A group commit of many documents touches thousands of pages; with SQLite's default
        // cache (2 MiB) it wrote dirty pages out to the log before the commit, and again when
        // they changed once more.
        writer
            .pragma_update(None, "cache_size", WRITER_CACHE_KIB)
            .map_err(db_err)?;
        migrations::migrate(&mut writer)?;
        let readers = readers::Readers::start(path.clone(), READERS)?;
        Ok(Self {
            inner: Arc::new(Inner {
                path,
                writer: Mutex::new(writer),
                writer_turn: Arc::new(tokio::sync::Semaphore::new(1)),
                readers,
                feed: tokio::sync::broadcast::Sender::new(COMMIT_FEED_CAPACITY),
                commits: group_commit::CommitQueue::default(),
            }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `f` in a read transaction on one of the reader connections.
    async fn read<T, F>(&self, f: F) -> Result<T, StorageError>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T, StorageError> + Send + 'static,
    {
        self.inner.readers.read(f).await
    }

    /// Waits for this handle's turn at the writer connection.
    async fn writer_turn(&self) -> Result<tokio::sync::OwnedSemaphorePermit, StorageError> {
        self.inner
            .writer_turn
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| StorageError::TaskFailed("the writer was closed".into()))
    }

    /// Runs `f` in one write transaction; it is committed only if `f` returns `Ok`.
    async fn write<T, F>(&self, f: F) -> Result<T, StorageError>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T, StorageError> + Send + 'static,
    {
        let turn = self.writer_turn().await?;
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let _turn = turn;
            // A panic while holding the lock leaves no open transaction behind (it is rolled
            // back on drop), so the connection is still good to use.
            let mut conn = inner
                .writer
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            in_transaction(&mut conn, TransactionBehavior::Immediate, f)
        })
        .await
        .map_err(|e| StorageError::TaskFailed(e.to_string()))?
    }
}

#[async_trait]
impl Storage for SqliteStorage {
    async fn ping(&self) -> Result<(), StorageError> {
        self.read(|tx| {
            tx.query_row("SELECT value FROM sequence WHERE id = 1", [], |r| {
                r.get::<_, i64>(0)
            })
            .map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn create_user(&self, user: UserRecord) -> Result<(), StorageError> {
        self.write(move |tx| users::insert(tx, &user)).await
    }

    async fn user_by_username(
        &self,
        username: &str,
    ) -> Result<Option<(User, String)>, StorageError> {
        let username = username.to_owned();
        self.read(move |tx| users::by_username(tx, &username)).await
    }

    async fn user(&self, id: UserId) -> Result<Option<User>, StorageError> {
        self.read(move |tx| users::by_id(tx, id)).await
    }

    async fn users_with_role(&self, role: Role) -> Result<Vec<User>, StorageError> {
        self.read(move |tx| users::with_role(tx, role)).await
    }

    async fn user_count(&self) -> Result<u64, StorageError> {
        self.read(users::count).await
    }

    async fn register_device(
        &self,
        user: UserId,
        requested: Option<DeviceId>,
        name: &str,
        now: Timestamp,
    ) -> Result<DeviceId, StorageError> {
        let name = name.to_owned();
        self.write(move |tx| users::register_device(tx, user, requested, &name, now))
            .await
    }

    async fn create_session(&self, session: NewSession) -> Result<(), StorageError> {
        self.write(move |tx| users::insert_session(tx, &session))
            .await
    }

    async fn session(&self, token: TokenHash) -> Result<Option<Session>, StorageError> {
        self.read(move |tx| users::session(tx, token)).await
    }

    async fn touch_device(&self, device: DeviceId, now: Timestamp) -> Result<(), StorageError> {
        self.write(move |tx| users::touch_device(tx, device, now))
            .await
    }

    async fn device(&self, device: DeviceId) -> Result<Option<DeviceInfo>, StorageError> {
        self.read(move |tx| users::device(tx, device)).await
    }

    async fn devices(&self, user: Option<UserId>) -> Result<Vec<DeviceInfo>, StorageError> {
        self.read(move |tx| users::devices(tx, user)).await
    }

    async fn revoke_device(
        &self,
        device: DeviceId,
        now: Timestamp,
    ) -> Result<Option<DeviceInfo>, StorageError> {
        self.write(move |tx| users::revoke_device(tx, device, now))
            .await
    }

    async fn set_password(
        &self,
        user: UserId,
        password_hash: String,
        now: Timestamp,
    ) -> Result<bool, StorageError> {
        self.write(move |tx| users::set_password(tx, user, &password_hash, now))
            .await
    }

    async fn append_audit(&self, entries: Vec<NewAuditEntry>) -> Result<(), StorageError> {
        if entries.is_empty() {
            return Ok(());
        }
        self.write(move |tx| audit::append(tx, &entries)).await
    }

    async fn audit(&self, query: AuditQuery) -> Result<Vec<AuditEntry>, StorageError> {
        self.read(move |tx| audit::query(tx, &query)).await
    }

    async fn was_assigned(&self, doc: WorkOrderId, user: UserId) -> Result<bool, StorageError> {
        self.read(move |tx| audit::was_assigned(tx, doc, user))
            .await
    }

    async fn load_document(&self, id: WorkOrderId) -> Result<Option<StoredDocument>, StorageError> {
        self.read(move |tx| documents::load(tx, id)).await
    }

    async fn load_document_unless(
        &self,
        id: WorkOrderId,
        known: Seq,
    ) -> Result<Option<StoredDocument>, StorageError> {
        self.read(move |tx| documents::load_unless(tx, id, Some(known)))
            .await
    }

    async fn load_documents(
        &self,
        ids: Vec<WorkOrderId>,
    ) -> Result<Vec<StoredDocument>, StorageError> {
        self.read(move |tx| {
            let mut found = Vec::with_capacity(ids.len());
            for id in ids {
                found.extend(documents::load(tx, id)?);
            }
            Ok(found)
        })
        .await
    }

    fn subscribe(&self) -> tokio::sync::broadcast::Receiver<CommitNotice> {
        self.inner.feed.subscribe()
    }

    async fn commit(&self, commit: DocumentCommit) -> Result<CommitOutcome, StorageError> {
        let mut ticket = self.inner.commits.push(commit);
        // Whoever has the writer meanwhile may store this commit with theirs.
        let turn = tokio::select! {
            answer = &mut ticket.answer => {
                let (outcome, _) = answer
                    .map_err(|_| StorageError::TaskFailed("a group commit stopped".into()))??;
                return Ok(outcome);
            }
            turn = self.writer_turn() => turn?,
        };
        let inner = self.inner.clone();
        let ticket = tokio::task::spawn_blocking(move || {
            let _turn = turn;
            let mut conn = inner
                .writer
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            inner
                .commits
                .store_until_taken(&ticket, &mut conn, &inner.feed);
            ticket
        })
        .await
        .map_err(|e| StorageError::TaskFailed(e.to_string()))?;
        let (outcome, _) = ticket
            .answer
            .await
            .map_err(|_| StorageError::TaskFailed("a group commit stopped".into()))??;
        Ok(outcome)
    }

    async fn import(&self, commits: Vec<DocumentCommit>) -> Result<(), StorageError> {
        self.write(move |tx| {
            for commit in &commits {
                if documents::commit(tx, commit)? == CommitOutcome::VersionConflict {
                    return Err(StorageError::Database(format!(
                        "work order {} already exists",
                        commit.summary.number
                    )));
                }
            }
            Ok(())
        })
        .await
    }

    async fn list_work_orders(&self, query: WorkOrderQuery) -> Result<SummaryPage, StorageError> {
        self.read(move |tx| documents::list(tx, &query)).await
    }

    async fn open_jobs_by_technician(&self) -> Result<HashMap<UserId, u32>, StorageError> {
        self.read(documents::open_jobs_by_technician).await
    }

    async fn record_movements(
        &self,
        movements: Vec<StockMovement>,
        recorded_at: Timestamp,
    ) -> Result<u64, StorageError> {
        self.write(move |tx| operations::record_movements(tx, &movements, recorded_at))
            .await
    }

    async fn stock_movements(
        &self,
        limit: Option<u32>,
    ) -> Result<Vec<StockMovement>, StorageError> {
        self.read(move |tx| operations::movements(tx, limit)).await
    }

    async fn set_safety_level(&self, level: SafetyLevel) -> Result<(), StorageError> {
        self.write(move |tx| operations::set_safety(tx, &level))
            .await
    }

    async fn safety_levels(&self) -> Result<Vec<SafetyLevel>, StorageError> {
        self.read(operations::safety_levels).await
    }

    async fn record_follow_up(&self, follow_up: FollowUp) -> Result<(), StorageError> {
        self.write(move |tx| operations::record_follow_up(tx, &follow_up))
            .await
    }

    async fn follow_ups(&self) -> Result<Vec<FollowUp>, StorageError> {
        self.read(operations::follow_ups).await
    }

    async fn awaiting_follow_up(
        &self,
        resolved_by: Timestamp,
        limit: u32,
    ) -> Result<Vec<WorkOrderId>, StorageError> {
        self.read(move |tx| operations::awaiting_follow_up(tx, resolved_by, limit))
            .await
    }

    async fn documents_created(
        &self,
        from: Timestamp,
        to: Timestamp,
        limit: u32,
    ) -> Result<Vec<StoredDocument>, StorageError> {
        self.read(move |tx| operations::documents_created(tx, from, to, limit))
            .await
    }

    async fn entry_receipts(
        &self,
        doc: WorkOrderId,
    ) -> Result<HashMap<EntryId, Timestamp>, StorageError> {
        self.read(move |tx| operations::entry_receipts(tx, doc))
            .await
    }

    async fn resolve_review(
        &self,
        doc: WorkOrderId,
        resolution: ReviewResolution,
    ) -> Result<bool, StorageError> {
        self.write(move |tx| operations::resolve_review(tx, doc, &resolution))
            .await
    }

    async fn review_resolutions(
        &self,
        doc: WorkOrderId,
    ) -> Result<Vec<ReviewResolution>, StorageError> {
        self.read(move |tx| operations::review_resolutions(tx, doc))
            .await
    }

    async fn max_seq(&self) -> Result<Seq, StorageError> {
        self.read(documents::max_seq).await
    }

    async fn pull_candidates(
        &self,
        query: CandidateQuery,
    ) -> Result<Vec<PullCandidate>, StorageError> {
        self.read(move |tx| documents::candidates(tx, &query)).await
    }

    async fn pull_candidates_with_changes(
        &self,
        query: CandidateQuery,
        cursor: Seq,
        mut held: HeldLimit,
    ) -> Result<CandidateBatch, StorageError> {
        self.read(move |tx| {
            let high_water = documents::max_seq(tx)?;
            let candidates = documents::candidates(tx, &query)?;
            let mut changes = HashMap::new();
            for candidate in held_candidates(&candidates, cursor) {
                if !held.has_room() {
                    break;
                }
                let after = documents::changes_after(tx, candidate.doc, cursor, query.device)?;
                held.count(&after);
                changes.insert(candidate.doc, after);
            }
            Ok(CandidateBatch {
                high_water,
                candidates,
                changes,
            })
        })
        .await
    }

    async fn count_candidates(&self, query: CandidateQuery) -> Result<u64, StorageError> {
        self.read(move |tx| documents::count_candidates(tx, &query))
            .await
    }

    async fn changes_after(
        &self,
        doc: WorkOrderId,
        after: Seq,
        except: DeviceId,
    ) -> Result<Option<ChangesAfter>, StorageError> {
        self.read(move |tx| documents::changes_after(tx, doc, after, except))
            .await
    }

    async fn record_deliveries(
        &self,
        device: DeviceId,
        deliveries: Vec<DeliveryRecord>,
    ) -> Result<(), StorageError> {
        if deliveries.is_empty() {
            return Ok(());
        }
        self.write(move |tx| documents::record_deliveries(tx, device, &deliveries))
            .await
    }

    async fn delivery(
        &self,
        device: DeviceId,
        doc: WorkOrderId,
    ) -> Result<Option<Delivery>, StorageError> {
        self.read(move |tx| documents::delivery(tx, device, doc))
            .await
    }

    async fn upsert_parts(&self, parts: Vec<Part>) -> Result<(), StorageError> {
        self.write(move |tx| catalogue::upsert(tx, &parts)).await
    }

    async fn parts(&self) -> Result<Vec<Part>, StorageError> {
        self.read(catalogue::all).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn passes_the_conformance_suite() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStorage::open(dir.path().join("fieldsync.db"))
            .await
            .expect("open");
        crate::storage::conformance::run_all(Arc::new(store)).await;
    }

    #[tokio::test]
    async fn the_writer_keeps_a_group_commit_and_its_savepoint_journals_in_memory() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStorage::open(dir.path().join("fieldsync.db"))
            .await
            .expect("open");
        let writer = store.inner.writer.lock().expect("writer");
        let pragma = |name: &str| -> i64 {
            writer
                .pragma_query_value(None, name, |r| r.get(0))
                .expect(name)
        };
        assert_eq!(pragma("temp_store"), 2, "savepoint journals in memory");
        assert_eq!(pragma("cache_size"), WRITER_CACHE_KIB);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_burst_of_reads_never_uses_more_than_the_pooled_connections() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStorage::open(dir.path().join("fieldsync.db"))
            .await
            .expect("open");
        let active = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let reads = (0..4 * READERS).map(|_| {
            let (store, active, most) = (store.clone(), active.clone(), most.clone());
            tokio::spawn(async move {
                store
                    .read(move |tx| {
                        let now = active.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(5));
                        let seq = documents::max_seq(tx);
                        active.fetch_sub(1, Ordering::SeqCst);
                        seq
                    })
                    .await
            })
        });
        for read in futures_util::future::join_all(reads).await {
            read.expect("task").expect("read");
        }
        let most = most.load(Ordering::SeqCst);
        assert!(most <= READERS, "{most} reads ran at once");
    }

    #[tokio::test]
    async fn concurrent_commits_through_two_handles_never_skip() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("fieldsync.db");
        let first = SqliteStorage::open(&path).await.expect("open");
        let second = SqliteStorage::open(&path).await.expect("open again");
        crate::storage::conformance::concurrent_commits_never_skip(
            Arc::new(first),
            Arc::new(second),
        )
        .await;
    }

    #[tokio::test]
    async fn instances_never_merge_onto_a_stale_cached_document() {
        use crate::sync::scenarios::{self, Instance};
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("fieldsync.db");
        let first = SqliteStorage::open(&path).await.expect("open");
        let second = SqliteStorage::open(&path).await.expect("open again");
        scenarios::instances_never_merge_onto_a_stale_cached_document(
            Instance::new(Arc::new(first)),
            Instance::new(Arc::new(second)),
        )
        .await;
    }

    #[tokio::test]
    async fn reopening_keeps_data_and_schema() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("fieldsync.db");
        {
            let store = SqliteStorage::open(&path).await.expect("open");
            store
                .upsert_parts(vec![Part {
                    part_number: "P-1".into(),
                    name: "Pump".into(),
                    category: "hydraulics".into(),
                    unit_price_cents: 100,
                    safety_stock: 2,
                }])
                .await
                .expect("parts");
        }
        let store = SqliteStorage::open(&path).await.expect("reopen");
        assert_eq!(store.parts().await.expect("parts").len(), 1);
    }
}
