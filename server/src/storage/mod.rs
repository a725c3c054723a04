//! What the server keeps, behind one trait so that backends are interchangeable: users,
//! devices and sessions; work order documents with their change log and summaries; what each
//! device has received; the parts catalogue.
//!
//! Backends do storage and transactions only. Deciding what a push may change or what a pull
//! sends lives in `sync`, so every backend behaves the same; `conformance` checks that.

pub mod conformance;
mod movement;
pub mod postgres;
pub mod sqlite;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use async_trait::async_trait;
use fieldsync_proto::api::{AuditEntry, AuditKind, DeviceInfo, TechnicianProfile};
use fieldsync_proto::{
    ChangeHash, CustomerTier, DeviceId, EntryId, FollowUp, Priority, Role, SlaFacts, Status,
    StockMovement, Timestamp, UserId, WorkOrderId, WorkOrderSummary,
};

pub use postgres::PostgresStorage;
pub use sqlite::SqliteStorage;

/// A storage backend shared by every request.
pub type SharedStorage = Arc<dyn Storage>;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("username '{0}' is already taken")]
    UsernameTaken(String),
    #[error("database error: {0}")]
    Database(String),
    /// The disk (or the database's size limit) is full: nothing of the write was stored.
    #[error("the database storage is full: {0}")]
    Full(String),
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
    #[error("the database was written by a newer server (schema version {found}; this server knows up to {known}); upgrade the server")]
    SchemaTooNew { found: u32, known: u32 },
    #[error("a storage task stopped unexpectedly: {0}")]
    TaskFailed(String),
}

/// Position in the global change sequence. Every committed document update gets the next one,
/// in commit order, so "everything after N" is a precise question.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Seq(pub u64);

/// Someone who can sign in.
#[derive(Clone, Debug, PartialEq)]
pub struct User {
    pub id: UserId,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub profile: TechnicianProfile,
}

/// A user as stored, with the password already hashed.
#[derive(Clone, PartialEq)]
pub struct UserRecord {
    pub user: User,
    pub password_hash: String,
    pub created_at: Timestamp,
}

impl std::fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRecord")
            .field("user", &self.user)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

/// SHA-256 of a bearer token: the only form in which tokens are stored.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash(pub [u8; 32]);

impl std::fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenHash(..)")
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct NewSession {
    pub token: TokenHash,
    pub user: UserId,
    pub device: DeviceId,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// What a bearer token stands for.
#[derive(Clone, Debug, PartialEq)]
pub struct Session {
    pub user: User,
    pub device: DeviceId,
    pub expires_at: Timestamp,
    /// The token or its device was revoked.
    pub revoked: bool,
    pub device_last_seen: Timestamp,
}

/// A work order as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredDocument {
    pub id: WorkOrderId,
    /// `WorkOrderDocument::save()` of the current state.
    pub snapshot: Vec<u8>,
    /// Sequence number of the last commit; the version for optimistic concurrency.
    pub version: Seq,
    pub summary: WorkOrderSummary,
}

/// What a device that holds a document is sent of it: the changes it has not seen, and the
/// stored index row of the state they lead to, read together so that the two always agree.
#[derive(Clone, Debug, PartialEq)]
pub struct ChangesAfter {
    /// In commit order, and in the given order within a commit.
    pub changes: Vec<Vec<u8>>,
    pub summary: WorkOrderSummary,
}

/// One change to store with a commit.
#[derive(Clone, PartialEq, Eq)]
pub struct NewChange {
    pub hash: ChangeHash,
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for NewChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NewChange({}, {} bytes)", self.hash, self.bytes.len())
    }
}

/// A document update: the new state, its summary, and the changes that were new.
#[derive(Clone, Debug, PartialEq)]
pub struct DocumentCommit {
    pub doc: WorkOrderId,
    /// The version the update was computed from; `None` for a new document. The commit is
    /// refused if the stored document is not at this version any more.
    pub expected: Option<Seq>,
    pub snapshot: Vec<u8>,
    pub summary: WorkOrderSummary,
    /// The SLA facts the board shows, kept next to the summary.
    pub sla: SlaFacts,
    /// In an order that respects their dependencies.
    pub changes: Vec<NewChange>,
    /// Device that sent the changes; `None` when the server made them.
    pub origin: Option<DeviceId>,
    pub received_at: Timestamp,
    /// A device that already holds everything in this commit (the one that created the
    /// document), so that it is not sent the document back.
    pub known_by: Option<DeviceId>,
    /// Audit entries describing this update, written in the same transaction, so that an
    /// acknowledged change is never missing from the audit trail.
    pub audit: Vec<NewAuditEntry>,
    /// Part usages as stock movements, stored once each (by id) in the ledger: the work
    /// order's new ones at least (see `DocumentCommit::derived_since`), all of them at most.
    pub usages: Vec<StockMovement>,
    /// Ids of entries (status events, part usages, repair records) the document holds, the new
    /// ones at least, all of them at most: the first commit holding each one records
    /// `received_at` as when the server got it.
    pub entries: Vec<EntryId>,
}

impl DocumentCommit {
    /// The derived parts of a commit of `wo`: its summary, SLA facts, and all its usages and
    /// entry ids.
    pub fn derived(
        wo: &fieldsync_proto::WorkOrder,
        now: Timestamp,
    ) -> (WorkOrderSummary, SlaFacts, Vec<StockMovement>, Vec<EntryId>) {
        Self::derived_since(wo, &HashSet::new(), now)
    }

    /// Like `derived`, but leaving out the usages and entry ids in `recorded`: the entries of
    /// the stored version the commit is computed from (`entry_ids` of it). That version's
    /// commit recorded them already, and the ledger and the receipts keep the first record of
    /// each entry, so the tables end up exactly as with the whole lists; a device appending one
    /// entry to a long job then writes one row, not one per entry of the job.
    pub fn derived_since(
        wo: &fieldsync_proto::WorkOrder,
        recorded: &HashSet<EntryId>,
        now: Timestamp,
    ) -> (WorkOrderSummary, SlaFacts, Vec<StockMovement>, Vec<EntryId>) {
        let mut usages = fieldsync_proto::usages_from_work_order(wo);
        usages.retain(|u| !recorded.contains(&u.id));
        let entries = entry_ids(wo).filter(|e| !recorded.contains(e)).collect();
        (
            WorkOrderSummary::new(wo, now),
            SlaFacts::new(&wo.derive(now).sla, now),
            usages,
            entries,
        )
    }

    /// A new document the server itself stores (demo data, imports, seeding): no expected
    /// version, no sending device, nothing to audit.
    pub fn new_import(
        wo: &fieldsync_proto::WorkOrder,
        snapshot: Vec<u8>,
        changes: Vec<NewChange>,
        now: Timestamp,
    ) -> Self {
        let (summary, sla, usages, entries) = Self::derived(wo, now);
        DocumentCommit {
            doc: wo.id,
            expected: None,
            snapshot,
            summary,
            sla,
            usages,
            entries,
            changes,
            origin: None,
            received_at: now,
            known_by: None,
            audit: Vec::new(),
        }
    }
}

/// Ids of the entries a work order holds whose receipt a commit records: its status events,
/// part usages and repair records (a part usage's movement in the ledger has the same id).
pub fn entry_ids(wo: &fieldsync_proto::WorkOrder) -> impl Iterator<Item = EntryId> + '_ {
    wo.status_events
        .iter()
        .map(|e| e.id)
        .chain(wo.part_usages.iter().map(|u| u.id))
        .chain(wo.repair_records.iter().map(|r| r.id))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommitOutcome {
    Committed(Seq),
    /// The document changed since it was read (or exists though `expected` was `None`).
    VersionConflict,
}

/// Which work orders a user's devices receive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    All,
    AssignedTo(UserId),
}

impl Scope {
    pub fn for_user(user: &User) -> Self {
        if user.role.is_office() {
            Scope::All
        } else {
            Scope::AssignedTo(user.id)
        }
    }

    pub fn contains(&self, summary: &WorkOrderSummary) -> bool {
        match self {
            Scope::All => true,
            Scope::AssignedTo(user) => summary.assignee == Some(*user),
        }
    }
}

/// Documents updated after `after` that are in scope or were sent to `device` before.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CandidateQuery {
    pub device: DeviceId,
    pub scope: Scope,
    pub after: Seq,
    pub limit: u32,
}

/// What was last sent of a document to a device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Delivery {
    pub sent_seq: Seq,
    pub removed: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PullCandidate {
    pub doc: WorkOrderId,
    pub updated_seq: Seq,
    pub in_scope: bool,
    pub delivery: Option<Delivery>,
}

impl PullCandidate {
    /// Whether a device whose cursor is `cursor` holds the document: it was sent to the device,
    /// not as a removal, and the device acknowledged that by moving its cursor past it. Such a
    /// device is sent only the changes it has not seen.
    pub fn held_at(&self, cursor: Seq) -> bool {
        self.delivery
            .is_some_and(|d| !d.removed && d.sent_seq <= cursor)
    }
}

/// The in-scope candidates that a device at `cursor` holds, whose changes a pull reads with
/// the candidates.
pub fn held_candidates(
    candidates: &[PullCandidate],
    cursor: Seq,
) -> impl Iterator<Item = &PullCandidate> {
    candidates
        .iter()
        .filter(move |c| c.in_scope && c.held_at(cursor))
}

/// How much of the held candidates' changes is read with the candidates: those of at most
/// `docs` documents, and no further document's once they add up to `bytes` (what the page has
/// room for, so that reading ahead never holds much more than the page will).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeldLimit {
    pub docs: usize,
    pub bytes: usize,
}

impl HeldLimit {
    /// Whether another document's changes may be read.
    pub fn has_room(&self) -> bool {
        self.docs > 0 && self.bytes > 0
    }

    /// Counts one document's changes against the limit.
    pub fn count(&mut self, after: &Option<ChangesAfter>) {
        let bytes: usize = after.iter().flat_map(|a| &a.changes).map(Vec::len).sum();
        self.docs = self.docs.saturating_sub(1);
        self.bytes = self.bytes.saturating_sub(bytes);
    }
}

/// Candidates read together with what a pull needs next of them.
#[derive(Clone, Debug, PartialEq)]
pub struct CandidateBatch {
    /// `max_seq`, read before the candidates.
    pub high_water: Seq,
    /// As `pull_candidates` lists them.
    pub candidates: Vec<PullCandidate>,
    /// `changes_after(doc, cursor, device)` of the first in-scope candidates the device holds
    /// (`PullCandidate::held_at`), within the `HeldLimit` asked for; a document missing here
    /// was not read yet.
    pub changes: HashMap<WorkOrderId, Option<ChangesAfter>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeliveryRecord {
    pub doc: WorkOrderId,
    pub delivery: Delivery,
}

/// Filters of the work order list; every filter given must match.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WorkOrderQuery {
    /// Empty: any status.
    pub statuses: Vec<Status>,
    /// Empty: any priority.
    pub priorities: Vec<Priority>,
    /// Empty: any customer tier.
    pub tiers: Vec<CustomerTier>,
    /// The site's region, compared without regard to case.
    pub region: Option<String>,
    pub assignee: Option<UserId>,
    pub open_only: bool,
    pub limit: u32,
    pub offset: u64,
}

/// One work order of a list: its summary and SLA facts, as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct ListedWorkOrder {
    pub summary: WorkOrderSummary,
    pub sla: SlaFacts,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SummaryPage {
    pub items: Vec<ListedWorkOrder>,
    pub total: u64,
}

/// The technician whose open jobs a work order counts toward: its assignee while it is open.
pub fn open_job_holder(summary: &WorkOrderSummary) -> Option<UserId> {
    summary.assignee.filter(|_| summary.status.is_open())
}

/// An entry of the parts catalogue.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Part {
    pub part_number: String,
    pub name: String,
    pub category: String,
    pub unit_price_cents: i64,
    pub safety_stock: i64,
}

/// Announced after every committed document update, so that live connections (devices, the
/// console) learn of it at once. Backends announce only after the commit is durable; a backend
/// shared by several server instances announces commits made through any of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommitNotice {
    pub doc: WorkOrderId,
    pub seq: Seq,
    pub assignee: Option<UserId>,
    /// The assignee before this commit, so that a device losing the job hears of it too.
    pub previous_assignee: Option<UserId>,
}

/// An audit entry to append; the backend numbers it.
#[derive(Clone, Debug, PartialEq)]
pub struct NewAuditEntry {
    pub at: Timestamp,
    pub kind: AuditKind,
    pub user: Option<UserId>,
    pub username: Option<String>,
    pub device: Option<DeviceId>,
    pub doc: Option<WorkOrderId>,
    pub number: Option<String>,
    pub device_time: Option<Timestamp>,
    pub detail: String,
    pub address: Option<String>,
}

impl NewAuditEntry {
    /// An entry of `kind` recorded now, with everything else to fill in.
    pub fn new(kind: AuditKind, at: Timestamp, detail: impl Into<String>) -> Self {
        Self {
            at,
            kind,
            user: None,
            username: None,
            device: None,
            doc: None,
            number: None,
            device_time: None,
            detail: detail.into(),
            address: None,
        }
    }
}

/// Filters of the audit trail; every filter given must match.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditQuery {
    pub doc: Option<WorkOrderId>,
    /// A work order number (`WO-…`), for entries that recorded it.
    pub number: Option<String>,
    pub user: Option<UserId>,
    /// Recorded at or after.
    pub from: Option<Timestamp>,
    /// Recorded at or before.
    pub to: Option<Timestamp>,
    /// Only entries with an id below this one (for paging back in time).
    pub before_id: Option<u64>,
    pub limit: u32,
}

/// A safety-stock level for one part at one location.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SafetyLevel {
    pub location: String,
    pub part_number: String,
    pub level: i64,
}

/// A review item (conflict or rejected edit) a dispatcher marked as reviewed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReviewResolution {
    pub review_id: String,
    pub resolved_by: UserId,
    pub resolved_at: Timestamp,
    pub note: String,
}

/// How many notices a slow listener may fall behind before it is told it lagged (and then
/// simply syncs): bounded, so no listener can hold memory.
pub const COMMIT_FEED_CAPACITY: usize = 1024;

#[async_trait]
pub trait Storage: Send + Sync + 'static {
    /// Answers when the database does.
    async fn ping(&self) -> Result<(), StorageError>;

    /// Notices of committed document updates from now on.
    fn subscribe(&self) -> tokio::sync::broadcast::Receiver<CommitNotice>;

    // Users, devices, sessions.
    async fn create_user(&self, user: UserRecord) -> Result<(), StorageError>;
    /// The user and their password hash; usernames match without regard to case.
    async fn user_by_username(
        &self,
        username: &str,
    ) -> Result<Option<(User, String)>, StorageError>;
    async fn user(&self, id: UserId) -> Result<Option<User>, StorageError>;
    /// Ordered by username.
    async fn users_with_role(&self, role: Role) -> Result<Vec<User>, StorageError>;
    async fn user_count(&self) -> Result<u64, StorageError>;
    /// Registers a device for `user`, re-using `requested` when it is that user's (or unknown,
    /// in which case it is registered under that id). A device of someone else gets a new id.
    async fn register_device(
        &self,
        user: UserId,
        requested: Option<DeviceId>,
        name: &str,
        now: Timestamp,
    ) -> Result<DeviceId, StorageError>;
    async fn create_session(&self, session: NewSession) -> Result<(), StorageError>;
    async fn session(&self, token: TokenHash) -> Result<Option<Session>, StorageError>;
    async fn touch_device(&self, device: DeviceId, now: Timestamp) -> Result<(), StorageError>;
    async fn device(&self, device: DeviceId) -> Result<Option<DeviceInfo>, StorageError>;
    /// Every device, or one user's, ordered by username, then registration time.
    async fn devices(&self, user: Option<UserId>) -> Result<Vec<DeviceInfo>, StorageError>;
    /// Marks the device revoked (keeping the first revocation time); every token of it is
    /// refused from then on. `None` if there is no such device.
    async fn revoke_device(
        &self,
        device: DeviceId,
        now: Timestamp,
    ) -> Result<Option<DeviceInfo>, StorageError>;
    /// Replaces the user's password hash and revokes every token they hold, so that sessions
    /// opened with the old password end. `false` if there is no such user.
    async fn set_password(
        &self,
        user: UserId,
        password_hash: String,
        now: Timestamp,
    ) -> Result<bool, StorageError>;

    // Audit trail: append-only, no way to change or remove an entry.
    async fn append_audit(&self, entries: Vec<NewAuditEntry>) -> Result<(), StorageError>;
    /// Newest first, at most `limit`.
    async fn audit(&self, query: AuditQuery) -> Result<Vec<AuditEntry>, StorageError>;

    // Documents.
    async fn load_document(&self, id: WorkOrderId) -> Result<Option<StoredDocument>, StorageError>;
    /// Like `load_document`, but leaves `snapshot` empty when the stored version is `known`:
    /// for callers that hold that version in memory already and only check it is current.
    async fn load_document_unless(
        &self,
        id: WorkOrderId,
        known: Seq,
    ) -> Result<Option<StoredDocument>, StorageError> {
        let mut stored = self.load_document(id).await?;
        if let Some(s) = stored.as_mut().filter(|s| s.version == known) {
            s.snapshot = Vec::new();
        }
        Ok(stored)
    }
    /// The stored documents among `ids`, in one read (unknown ids are left out, order is not
    /// kept): a pull page reads its snapshots together.
    async fn load_documents(
        &self,
        ids: Vec<WorkOrderId>,
    ) -> Result<Vec<StoredDocument>, StorageError>;
    /// Stores one update atomically, with the next sequence number, if the version matches,
    /// together with its audit entries; also remembers `summary.assignee` as having been
    /// assigned the document (see `was_assigned`).
    async fn commit(&self, commit: DocumentCommit) -> Result<CommitOutcome, StorageError>;
    /// Stores many new documents in one transaction (seeding); fails if any already exists.
    async fn import(&self, commits: Vec<DocumentCommit>) -> Result<(), StorageError>;
    async fn list_work_orders(&self, query: WorkOrderQuery) -> Result<SummaryPage, StorageError>;
    /// Open jobs per technician (assigned, not completed, closed or cancelled), kept up to date
    /// by every commit; technicians without open jobs are left out.
    async fn open_jobs_by_technician(&self) -> Result<HashMap<UserId, u32>, StorageError>;
    /// Whether `user` is or ever was the assignee of `doc` in a committed version.
    async fn was_assigned(&self, doc: WorkOrderId, user: UserId) -> Result<bool, StorageError>;

    // Pull.
    /// The highest sequence number committed so far.
    async fn max_seq(&self) -> Result<Seq, StorageError>;
    /// Ordered by `updated_seq`, at most `limit`.
    async fn pull_candidates(
        &self,
        query: CandidateQuery,
    ) -> Result<Vec<PullCandidate>, StorageError>;
    /// `max_seq`, then `pull_candidates`, then `changes_after` of the first in-scope
    /// candidates held by a device at `cursor`, for the device of `query`, within `held`. A
    /// backend that can reads them in one go; this default asks for each in turn.
    async fn pull_candidates_with_changes(
        &self,
        query: CandidateQuery,
        cursor: Seq,
        mut held: HeldLimit,
    ) -> Result<CandidateBatch, StorageError> {
        let high_water = self.max_seq().await?;
        let candidates = self.pull_candidates(query).await?;
        let mut changes = HashMap::new();
        for candidate in held_candidates(&candidates, cursor) {
            if !held.has_room() {
                break;
            }
            let after = self
                .changes_after(candidate.doc, cursor, query.device)
                .await?;
            held.count(&after);
            changes.insert(candidate.doc, after);
        }
        Ok(CandidateBatch {
            high_water,
            candidates,
            changes,
        })
    }
    /// How many candidates there are in all (`limit` is ignored).
    async fn count_candidates(&self, query: CandidateQuery) -> Result<u64, StorageError>;
    /// Changes of `doc` committed after `after` that did not come from `except`, in order,
    /// with the document's stored summary, in one read; `None` if there are no such changes.
    async fn changes_after(
        &self,
        doc: WorkOrderId,
        after: Seq,
        except: DeviceId,
    ) -> Result<Option<ChangesAfter>, StorageError>;
    /// Remembers what was sent to `device`, replacing earlier records of the same documents.
    async fn record_deliveries(
        &self,
        device: DeviceId,
        deliveries: Vec<DeliveryRecord>,
    ) -> Result<(), StorageError>;
    async fn delivery(
        &self,
        device: DeviceId,
        doc: WorkOrderId,
    ) -> Result<Option<Delivery>, StorageError>;

    // Stock ledger.
    /// Appends movements; one whose id is already in the ledger is skipped. Returns how many
    /// were new.
    async fn record_movements(
        &self,
        movements: Vec<StockMovement>,
        recorded_at: Timestamp,
    ) -> Result<u64, StorageError>;
    /// Newest recorded first; every movement when `limit` is `None`.
    async fn stock_movements(&self, limit: Option<u32>)
        -> Result<Vec<StockMovement>, StorageError>;
    async fn set_safety_level(&self, level: SafetyLevel) -> Result<(), StorageError>;
    /// Ordered by location, then part.
    async fn safety_levels(&self) -> Result<Vec<SafetyLevel>, StorageError>;

    // Follow-ups.
    /// Stores the follow-up of its work order, replacing an earlier one.
    async fn record_follow_up(&self, follow_up: FollowUp) -> Result<(), StorageError>;
    async fn follow_ups(&self) -> Result<Vec<FollowUp>, StorageError>;
    /// Completed or closed work orders resolved at or before `resolved_by` that have no
    /// follow-up yet, longest waiting first, at most `limit`.
    async fn awaiting_follow_up(
        &self,
        resolved_by: Timestamp,
        limit: u32,
    ) -> Result<Vec<WorkOrderId>, StorageError>;

    // Reading many documents, for reports.
    /// Documents created in `[from, to)`, at most `limit`, oldest first.
    async fn documents_created(
        &self,
        from: Timestamp,
        to: Timestamp,
        limit: u32,
    ) -> Result<Vec<StoredDocument>, StorageError>;
    /// When the server first received each entry of `doc` it has a record of.
    async fn entry_receipts(
        &self,
        doc: WorkOrderId,
    ) -> Result<HashMap<EntryId, Timestamp>, StorageError>;

    // Reviews.
    /// Marks a review item of `doc` reviewed; `false` if it already was (the first stays).
    async fn resolve_review(
        &self,
        doc: WorkOrderId,
        resolution: ReviewResolution,
    ) -> Result<bool, StorageError>;
    async fn review_resolutions(
        &self,
        doc: WorkOrderId,
    ) -> Result<Vec<ReviewResolution>, StorageError>;

    // Parts catalogue.
    async fn upsert_parts(&self, parts: Vec<Part>) -> Result<(), StorageError>;
    async fn parts(&self) -> Result<Vec<Part>, StorageError>;
}
