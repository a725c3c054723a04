//! The PostgreSQL backend, for several server instances sharing one database.
//!
//! Every instance opens its own pool of connections; nothing an instance needs lives in
//! another's memory (sessions, devices, deliveries are all rows), so a load balancer may send
//! any request to any instance.
//!
//! ## Sequence numbers follow commit order
//!
//! Devices pull "everything after my cursor", and a pull moves the cursor up to the highest
//! committed sequence number. If a transaction could take number 7 and commit after another
//! took 8 and committed, a pull in between would move a cursor past 7 for good and that device
//! would never receive change 7. So numbers must become visible in the order they were handed
//! out.
//!
//! They do, because the number is taken inside the commit's transaction by bumping the single
//! row of `sequence`: that row's lock is held until the transaction ends, so whoever takes the
//! next number waits until this transaction has committed (or rolled back, which gives the
//! number back), and PostgreSQL makes a commit visible before it releases the transaction's
//! locks. Hence when number N is visible, every number below N is visible or was never used.
//! This is the transaction-level lock the design asks for; an advisory lock
//! (`pg_advisory_xact_lock`) around the bump would be a second lock with exactly the same span,
//! and the row lock also covers anyone who writes the table by hand. Work that does not need
//! the number (loading and checking the document's version) happens before the bump, so the
//! serialized part of a commit is only its writes and the commit itself.
//!
//! The alternative, a visibility horizon (numbers from a PostgreSQL sequence, pulls stopping
//! below the oldest number still in flight), lets commits proceed in parallel but needs a
//! table of in-flight numbers that a crashed instance can leave behind; commits of one document
//! update are short, so serializing them is the simpler correct choice.
//!
//! `tests::concurrent_commits_never_skip_a_change` proves it: many tasks commit through two
//! pools while a reader pulls with the real pull logic; the reader ends with every change once.
//!
//! ## Live notices
//!
//! See `feed`: NOTIFY inside the commit, one LISTENing connection per instance.

mod audit;
mod catalogue;
mod convert;
mod documents;
mod feed;
pub mod migrations;
mod operations;
pub mod testing;
mod users;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use fieldsync_proto::api::{AuditEntry, DeviceInfo};
use fieldsync_proto::{
    DeviceId, EntryId, FollowUp, Role, StockMovement, Timestamp, UserId, WorkOrderId,
};
use tokio::sync::broadcast;
use tokio_postgres::config::Host;
use tokio_postgres::{IsolationLevel, NoTls};

use self::convert::{db_err, explain};
use super::{
    AuditQuery, CandidateQuery, ChangesAfter, CommitNotice, CommitOutcome, Delivery,
    DeliveryRecord, DocumentCommit, NewAuditEntry, NewSession, Part, PullCandidate,
    ReviewResolution, SafetyLevel, Seq, Session, Storage, StorageError, StoredDocument,
    SummaryPage, TokenHash, User, UserRecord, WorkOrderQuery, COMMIT_FEED_CAPACITY,
};

/// Connections each instance keeps at most (plus one that listens). PostgreSQL allows 100 by
/// default: room for a handful of instances.
pub const POOL_SIZE: usize = 16;
/// How long a request waits for a free connection, or for a new one to open, before it fails.
const POOL_WAIT: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone)]
pub struct PostgresStorage {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    /// Where the database is, without the password, for logs.
    description: String,
    channel: String,
    feed: broadcast::Sender<CommitNotice>,
    listener: tokio::task::AbortHandle,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

impl std::fmt::Debug for PostgresStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStorage")
            .field("database", &self.inner.description)
            .finish_non_exhaustive()
    }
}

pub(crate) fn pool_err(e: deadpool_postgres::PoolError) -> StorageError {
    StorageError::Database(format!("no PostgreSQL connection: {}", explain(&e)))
}

/// `postgres://user@host:port/database`, never with the password.
pub fn describe(config: &tokio_postgres::Config) -> String {
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, host)| {
            let name = match host {
                Host::Tcp(name) => name.clone(),
                #[cfg(unix)]
                Host::Unix(path) => path.display().to_string(),
            };
            match config.get_ports().get(i).or(config.get_ports().first()) {
                Some(port) => format!("{name}:{port}"),
                None => name,
            }
        })
        .collect();
    let user = config
        .get_user()
        .map(|u| format!("{u}@"))
        .unwrap_or_default();
    format!(
        "postgres://{user}{}/{}",
        hosts.join(","),
        config.get_dbname().unwrap_or("")
    )
}

/// Whether `database` is a PostgreSQL URL (rather than, say, a file name).
pub fn is_postgres_url(database: &str) -> bool {
    database.starts_with("postgres://") || database.starts_with("postgresql://")
}

impl PostgresStorage {
    /// Connects to the database at `url` (`postgres://user:password@host:port/database`),
    /// brings its schema up to date and starts listening for commits of every instance.
    pub async fn open(url: &str) -> Result<Self, StorageError> {
        if !is_postgres_url(url) {
            return Err(StorageError::Database(
                "the database URL must start with postgres:// or postgresql://".into(),
            ));
        }
        // The driver's message never repeats the URL, so no password reaches a log from here.
        let config: tokio_postgres::Config = url.parse().map_err(|e| {
            StorageError::Database(format!(
                "the database URL is not a valid PostgreSQL URL: {}",
                explain(&e)
            ))
        })?;
        Self::open_config(config).await
    }

    pub async fn open_config(mut config: tokio_postgres::Config) -> Result<Self, StorageError> {
        if config.get_application_name().is_none() {
            config.application_name("fieldsync-server");
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        let description = describe(&config);
        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(POOL_WAIT))
            .create_timeout(Some(CONNECT_TIMEOUT))
            .recycle_timeout(Some(CONNECT_TIMEOUT))
            .build()
            .map_err(|e| StorageError::Database(format!("cannot set up the pool: {e}")))?;
        let mut client = pool.get().await.map_err(|e| {
            StorageError::Database(format!(
                "cannot connect to PostgreSQL at {description}: {}",
                explain(&e)
            ))
        })?;
        migrations::migrate(&mut client).await?;
        let schema = migrations::current_schema(&client).await?;
        drop(client);
        let channel = feed::channel_name(&schema);
        let feed = broadcast::Sender::new(COMMIT_FEED_CAPACITY);
        let listener = feed::start(config, channel.clone(), pool.clone(), feed.clone()).await?;
        Ok(Self {
            inner: Arc::new(Inner {
                pool,
                description,
                channel,
                feed,
                listener,
            }),
        })
    }

    /// Where the database is, without the password.
    pub fn description(&self) -> &str {
        &self.inner.description
    }

    async fn client(&self) -> Result<deadpool_postgres::Client, StorageError> {
        self.inner.pool.get().await.map_err(pool_err)
    }
}

#[async_trait]
impl Storage for PostgresStorage {
    async fn ping(&self) -> Result<(), StorageError> {
        documents::max_seq(&self.client().await?).await.map(|_| ())
    }

    fn subscribe(&self) -> broadcast::Receiver<CommitNotice> {
        self.inner.feed.subscribe()
    }

    async fn create_user(&self, user: UserRecord) -> Result<(), StorageError> {
        users::insert(&self.client().await?, &user).await
    }

    async fn user_by_username(
        &self,
        username: &str,
    ) -> Result<Option<(User, String)>, StorageError> {
        users::by_username(&self.client().await?, username).await
    }

    async fn user(&self, id: UserId) -> Result<Option<User>, StorageError> {
        users::by_id(&self.client().await?, id).await
    }

    async fn users_with_role(&self, role: Role) -> Result<Vec<User>, StorageError> {
        users::with_role(&self.client().await?, role).await
    }

    async fn user_count(&self) -> Result<u64, StorageError> {
        users::count(&self.client().await?).await
    }

    async fn register_device(
        &self,
        user: UserId,
        requested: Option<DeviceId>,
        name: &str,
        now: Timestamp,
    ) -> Result<DeviceId, StorageError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_err)?;
        let device = users::register_device(&tx, user, requested, name, now).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(device)
    }

    async fn create_session(&self, session: NewSession) -> Result<(), StorageError> {
        users::insert_session(&self.client().await?, &session).await
    }

    async fn session(&self, token: TokenHash) -> Result<Option<Session>, StorageError> {
        users::session(&self.client().await?, token).await
    }

    async fn touch_device(&self, device: DeviceId, now: Timestamp) -> Result<(), StorageError> {
        users::touch_device(&self.client().await?, device, now).await
    }

    async fn device(&self, device: DeviceId) -> Result<Option<DeviceInfo>, StorageError> {
        users::device(&self.client().await?, device).await
    }

    async fn devices(&self, user: Option<UserId>) -> Result<Vec<DeviceInfo>, StorageError> {
        users::devices(&self.client().await?, user).await
    }

    async fn revoke_device(
        &self,
        device: DeviceId,
        now: Timestamp,
    ) -> Result<Option<DeviceInfo>, StorageError> {
        users::revoke_device(&self.client().await?, device, now).await
    }

    async fn set_password(
        &self,
        user: UserId,
        password_hash: String,
        now: Timestamp,
    ) -> Result<bool, StorageError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_err)?;
        let found = users::set_password(&tx, user, &password_hash, now).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(found)
    }

    async fn append_audit(&self, entries: Vec<NewAuditEntry>) -> Result<(), StorageError> {
        audit::append(&self.client().await?, &entries).await
    }

    async fn audit(&self, query: AuditQuery) -> Result<Vec<AuditEntry>, StorageError> {
        audit::query(&self.client().await?, &query).await
    }

    async fn was_assigned(&self, doc: WorkOrderId, user: UserId) -> Result<bool, StorageError> {
        audit::was_assigned(&self.client().await?, doc, user).await
    }

    async fn load_document(&self, id: WorkOrderId) -> Result<Option<StoredDocument>, StorageError> {
        documents::load(&self.client().await?, id).await
    }

    async fn load_document_unless(
        &self,
        id: WorkOrderId,
        known: Seq,
    ) -> Result<Option<StoredDocument>, StorageError> {
        documents::load_unless(&self.client().await?, id, Some(known)).await
    }

    async fn load_documents(
        &self,
        ids: Vec<WorkOrderId>,
    ) -> Result<Vec<StoredDocument>, StorageError> {
        documents::load_many(&self.client().await?, &ids).await
    }

    async fn commit(&self, commit: DocumentCommit) -> Result<CommitOutcome, StorageError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_err)?;
        let outcome = documents::commit(&tx, &commit, Some(&self.inner.channel)).await?;
        match outcome {
            // The notice reaches every instance's feed, this one's too, through LISTEN.
            CommitOutcome::Committed(_) => tx.commit().await.map_err(db_err)?,
            CommitOutcome::VersionConflict => tx.rollback().await.map_err(db_err)?,
        }
        Ok(outcome)
    }

    async fn import(&self, commits: Vec<DocumentCommit>) -> Result<(), StorageError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_err)?;
        for commit in &commits {
            // Seeding is not announced, as with SQLite: nobody can be connected yet.
            if documents::commit(&tx, commit, None).await? == CommitOutcome::VersionConflict {
                return Err(StorageError::Database(format!(
                    "work order {} already exists",
                    commit.summary.number
                )));
            }
        }
        tx.commit().await.map_err(db_err)
    }

    async fn list_work_orders(&self, query: WorkOrderQuery) -> Result<SummaryPage, StorageError> {
        // The total and the page from one snapshot, as SQLite gives them.
        let mut client = self.client().await?;
        let tx = client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await
            .map_err(db_err)?;
        let page = documents::list(&tx, &query).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(page)
    }

    async fn open_jobs_by_technician(&self) -> Result<HashMap<UserId, u32>, StorageError> {
        documents::open_jobs_by_technician(&self.client().await?).await
    }

    async fn max_seq(&self) -> Result<Seq, StorageError> {
        documents::max_seq(&self.client().await?).await
    }

    async fn pull_candidates(
        &self,
        query: CandidateQuery,
    ) -> Result<Vec<PullCandidate>, StorageError> {
        documents::candidates(&self.client().await?, &query).await
    }

    async fn count_candidates(&self, query: CandidateQuery) -> Result<u64, StorageError> {
        documents::count_candidates(&self.client().await?, &query).await
    }

    async fn changes_after(
        &self,
        doc: WorkOrderId,
        after: Seq,
        except: DeviceId,
    ) -> Result<Option<ChangesAfter>, StorageError> {
        documents::changes_after(&self.client().await?, doc, after, except).await
    }

    async fn record_deliveries(
        &self,
        device: DeviceId,
        mut deliveries: Vec<DeliveryRecord>,
    ) -> Result<(), StorageError> {
        if deliveries.is_empty() {
            return Ok(());
        }
        // Rows locked in one order by everyone, so that two pulls of one device (through two
        // instances) cannot deadlock.
        deliveries.sort_by_key(|d| d.doc);
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_err)?;
        documents::record_deliveries(&tx, device, &deliveries).await?;
        tx.commit().await.map_err(db_err)
    }

    async fn delivery(
        &self,
        device: DeviceId,
        doc: WorkOrderId,
    ) -> Result<Option<Delivery>, StorageError> {
        documents::delivery(&self.client().await?, device, doc).await
    }

    async fn upsert_parts(&self, parts: Vec<Part>) -> Result<(), StorageError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_err)?;
        catalogue::upsert(&tx, &parts).await?;
        tx.commit().await.map_err(db_err)
    }

    async fn parts(&self) -> Result<Vec<Part>, StorageError> {
        catalogue::all(&self.client().await?).await
    }

    async fn record_movements(
        &self,
        movements: Vec<StockMovement>,
        recorded_at: Timestamp,
    ) -> Result<u64, StorageError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_err)?;
        let added = operations::record_movements(&tx, &movements, recorded_at).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(added)
    }

    async fn stock_movements(
        &self,
        limit: Option<u32>,
    ) -> Result<Vec<StockMovement>, StorageError> {
        operations::movements(&self.client().await?, limit).await
    }

    async fn set_safety_level(&self, level: SafetyLevel) -> Result<(), StorageError> {
        operations::set_safety(&self.client().await?, &level).await
    }

    async fn safety_levels(&self) -> Result<Vec<SafetyLevel>, StorageError> {
        operations::safety_levels(&self.client().await?).await
    }

    async fn record_follow_up(&self, follow_up: FollowUp) -> Result<(), StorageError> {
        operations::record_follow_up(&self.client().await?, &follow_up).await
    }

    async fn follow_ups(&self) -> Result<Vec<FollowUp>, StorageError> {
        operations::follow_ups(&self.client().await?).await
    }

    async fn awaiting_follow_up(
        &self,
        resolved_by: Timestamp,
        limit: u32,
    ) -> Result<Vec<WorkOrderId>, StorageError> {
        operations::awaiting_follow_up(&self.client().await?, resolved_by, limit).await
    }

    async fn documents_created(
        &self,
        from: Timestamp,
        to: Timestamp,
        limit: u32,
    ) -> Result<Vec<StoredDocument>, StorageError> {
        operations::documents_created(&self.client().await?, from, to, limit).await
    }

    async fn entry_receipts(
        &self,
        doc: WorkOrderId,
    ) -> Result<HashMap<EntryId, Timestamp>, StorageError> {
        operations::entry_receipts(&self.client().await?, doc).await
    }

    async fn resolve_review(
        &self,
        doc: WorkOrderId,
        resolution: ReviewResolution,
    ) -> Result<bool, StorageError> {
        operations::resolve_review(&self.client().await?, doc, &resolution).await
    }

    async fn review_resolutions(
        &self,
        doc: WorkOrderId,
    ) -> Result<Vec<ReviewResolution>, StorageError> {
        operations::review_resolutions(&self.client().await?, doc).await
    }
}
