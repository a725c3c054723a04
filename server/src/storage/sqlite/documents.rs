//! Work order documents in SQLite: snapshots and summaries, the change log, the global
//! sequence, what each device was sent, and the queries of lists and pulls.

use std::collections::HashMap;

use fieldsync_proto::{
    DeviceId, Priority, SlaFacts, Timestamp, UserId, WorkOrderId, WorkOrderSummary,
};
use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, OptionalExtension, Row, Transaction};

use super::convert::{count_from_db, parse, parse_opt, seq_from_db, seq_to_db};
use super::db_err;
use crate::storage::{
    open_job_holder, CandidateQuery, ChangesAfter, CommitOutcome, Delivery, DeliveryRecord,
    DocumentCommit, ListedWorkOrder, PullCandidate, Scope, Seq, StorageError, StoredDocument,
    SummaryPage, WorkOrderQuery,
};

const SUMMARY_COLUMNS: &str = "id, number, status, priority, customer_name, tier, region, \
     category, assignee, created_at, response_due, resolution_due, schedule_start, conflicts";
/// The SLA facts kept next to the summary.
const SLA_COLUMNS: &str =
    "response_minutes, resolution_minutes, responded_at, resolved_at, sla_paused_at";

fn read_sla(row: &Row<'_>, at: usize) -> rusqlite::Result<SlaFacts> {
    Ok(SlaFacts {
        response_minutes: row.get(at)?,
        resolution_minutes: row.get(at + 1)?,
        responded_at: row.get::<_, Option<i64>>(at + 2)?.map(Timestamp),
        resolved_at: row.get::<_, Option<i64>>(at + 3)?.map(Timestamp),
        paused_at: row.get::<_, Option<i64>>(at + 4)?.map(Timestamp),
    })
}

/// The raw columns of `SUMMARY_COLUMNS`.
struct SummaryRow {
    id: String,
    number: String,
    status: String,
    priority: i64,
    customer_name: String,
    tier: String,
    region: String,
    category: String,
    assignee: Option<String>,
    created_at: i64,
    response_due: i64,
    resolution_due: i64,
    schedule_start: Option<i64>,
    conflicts: i64,
}

impl SummaryRow {
    fn read(row: &Row<'_>, at: usize) -> rusqlite::Result<Self> {
        Ok(Self {
            id: row.get(at)?,
            number: row.get(at + 1)?,
            status: row.get(at + 2)?,
            priority: row.get(at + 3)?,
            customer_name: row.get(at + 4)?,
            tier: row.get(at + 5)?,
            region: row.get(at + 6)?,
            category: row.get(at + 7)?,
            assignee: row.get(at + 8)?,
            created_at: row.get(at + 9)?,
            response_due: row.get(at + 10)?,
            resolution_due: row.get(at + 11)?,
            schedule_start: row.get(at + 12)?,
            conflicts: row.get(at + 13)?,
        })
    }

    fn into_summary(self) -> Result<WorkOrderSummary, StorageError> {
        let priority = u8::try_from(self.priority)
            .ok()
            .and_then(Priority::from_rank)
            .ok_or_else(|| {
                StorageError::Corrupt(format!("column documents.priority: {}", self.priority))
            })?;
        Ok(WorkOrderSummary {
            id: parse("documents.id", &self.id)?,
            number: self.number,
            status: parse("documents.status", &self.status)?,
            priority,
            customer_name: self.customer_name,
            tier: parse("documents.tier", &self.tier)?,
            region: self.region,
            category: parse("documents.category", &self.category)?,
            assignee: parse_opt::<UserId>("documents.assignee", self.assignee)?,
            created_at: Timestamp(self.created_at),
            response_due: Timestamp(self.response_due),
            resolution_due: Timestamp(self.resolution_due),
            schedule_start: self.schedule_start.map(Timestamp),
            conflicts: u32::try_from(self.conflicts).unwrap_or(u32::MAX),
        })
    }
}

pub fn load(tx: &Transaction<'_>, id: WorkOrderId) -> Result<Option<StoredDocument>, StorageError> {
    load_unless(tx, id, None)
}

/// The document, with its snapshot left empty if it is at version `known`.
pub fn load_unless(
    tx: &Transaction<'_>,
    id: WorkOrderId,
    known: Option<Seq>,
) -> Result<Option<StoredDocument>, StorageError> {
    let known = known.map_or(-1, seq_to_db);
    let row = tx
        .prepare_cached(&format!(
            "SELECT {SUMMARY_COLUMNS},
                 CASE WHEN updated_seq = ?2 THEN X'' ELSE snapshot END, updated_seq
             FROM documents WHERE id = ?1"
        ))
        .map_err(db_err)?
        .query_row(params![id.to_string(), known], |r| {
            Ok((
                SummaryRow::read(r, 0)?,
                r.get::<_, Vec<u8>>(14)?,
                r.get::<_, i64>(15)?,
            ))
        })
        .optional()
        .map_err(db_err)?;
    let Some((summary, snapshot, seq)) = row else {
        return Ok(None);
    };
    Ok(Some(StoredDocument {
        id,
        snapshot,
        version: seq_from_db(seq)?,
        summary: summary.into_summary()?,
    }))
}

pub fn max_seq(tx: &Transaction<'_>) -> Result<Seq, StorageError> {
    let value: i64 = tx
        .prepare_cached("SELECT value FROM sequence WHERE id = 1")
        .map_err(db_err)?
        .query_row([], |r| r.get(0))
        .map_err(db_err)?;
    seq_from_db(value)
}

/// Checks the version, takes the next sequence number and writes the update. The caller
/// rolls back unless the outcome is `Committed`.
pub fn commit(tx: &Transaction<'_>, c: &DocumentCommit) -> Result<CommitOutcome, StorageError> {
    commit_noting(tx, c).map(|(outcome, _)| outcome)
}

/// Commits and also returns who was assigned before, for the commit notice.
pub fn commit_noting(
    tx: &Transaction<'_>,
    c: &DocumentCommit,
) -> Result<(CommitOutcome, Option<UserId>), StorageError> {
    let doc = c.doc.to_string();
    let row: Option<(i64, Option<String>, String)> = tx
        .prepare_cached("SELECT updated_seq, assignee, status FROM documents WHERE id = ?1")
        .map_err(db_err)?
        .query_row([&doc], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()
        .map_err(db_err)?;
    let (current, previous_assignee, previous_status) = match row {
        Some((seq, assignee, status)) => (Some(seq), assignee, Some(status)),
        None => (None, None, None),
    };
    let previous_assignee = previous_assignee
        .map(|a| a.parse::<UserId>())
        .transpose()
        .map_err(|e| StorageError::Database(e.to_string()))?;
    let previous_status = previous_status
        .map(|s| parse::<fieldsync_proto::Status>("documents.status", &s))
        .transpose()?;
    let previous_holder =
        previous_assignee.filter(|_| previous_status.is_some_and(|s| s.is_open()));
    let current = current.map(seq_from_db).transpose()?;
    if current != c.expected {
        return Ok((CommitOutcome::VersionConflict, previous_assignee));
    }
    let seq: i64 = tx
        .prepare_cached("UPDATE sequence SET value = value + 1 WHERE id = 1 RETURNING value")
        .map_err(db_err)?
        .query_row([], |r| r.get(0))
        .map_err(db_err)?;
    let s = &c.summary;
    tx.prepare_cached(
        "INSERT INTO documents (id, snapshot, updated_seq, number, status, priority,
             customer_name, tier, region, category, assignee, created_at, response_due,
             resolution_due, schedule_start, conflicts, response_minutes, resolution_minutes,
             responded_at, resolved_at, sla_paused_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,
             ?18, ?19, ?20, ?21)
         ON CONFLICT (id) DO UPDATE SET
             snapshot = excluded.snapshot, updated_seq = excluded.updated_seq,
             number = excluded.number, status = excluded.status, priority = excluded.priority,
             customer_name = excluded.customer_name, tier = excluded.tier,
             region = excluded.region, category = excluded.category,
             assignee = excluded.assignee, created_at = excluded.created_at,
             response_due = excluded.response_due, resolution_due = excluded.resolution_due,
             schedule_start = excluded.schedule_start, conflicts = excluded.conflicts,
             response_minutes = excluded.response_minutes,
             resolution_minutes = excluded.resolution_minutes,
             responded_at = excluded.responded_at, resolved_at = excluded.resolved_at,
             sla_paused_at = excluded.sla_paused_at",
    )
    .map_err(db_err)?
    .execute(params![
        doc,
        c.snapshot,
        seq,
        s.number,
        s.status.as_str(),
        s.priority.rank(),
        s.customer_name,
        s.tier.as_str(),
        s.region,
        s.category.as_str(),
        s.assignee.map(|a| a.to_string()),
        s.created_at.millis(),
        s.response_due.millis(),
        s.resolution_due.millis(),
        s.schedule_start.map(|t| t.millis()),
        s.conflicts,
        c.sla.response_minutes,
        c.sla.resolution_minutes,
        c.sla.responded_at.map(|t| t.millis()),
        c.sla.resolved_at.map(|t| t.millis()),
        c.sla.paused_at.map(|t| t.millis()),
    ])
    .map_err(db_err)?;
    let holder = open_job_holder(s);
    if holder != previous_holder {
        if let Some(user) = previous_holder {
            tx.prepare_cached(
                "UPDATE technician_load SET open_jobs = open_jobs - 1 WHERE user_id = ?1",
            )
            .map_err(db_err)?
            .execute([user.to_string()])
            .map_err(db_err)?;
        }
        if let Some(user) = holder {
            tx.prepare_cached(
                "INSERT INTO technician_load (user_id, open_jobs) VALUES (?1, 1)
                 ON CONFLICT (user_id) DO UPDATE SET open_jobs = open_jobs + 1",
            )
            .map_err(db_err)?
            .execute([user.to_string()])
            .map_err(db_err)?;
        }
    }
    let origin = c.origin.map(|d| d.to_string());
    let mut insert = tx
        .prepare_cached(
            "INSERT INTO changes (doc, hash, seq, origin_device, received_at, bytes)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .map_err(db_err)?;
    for change in &c.changes {
        insert
            .execute(params![
                doc,
                change.hash.0.as_slice(),
                seq,
                origin,
                c.received_at.millis(),
                change.bytes,
            ])
            .map_err(db_err)?;
    }
    super::audit::record_assignment(tx, c.doc, previous_assignee, s.assignee, seq)?;
    super::audit::append(tx, &c.audit)?;
    super::operations::record_movements(tx, &c.usages, c.received_at)?;
    super::operations::record_receipts(tx, c.doc, &c.entries, c.received_at)?;
    if let Some(device) = c.known_by {
        // Sent "at sequence 0": the device has it whatever its cursor is.
        tx.prepare_cached(
            "INSERT OR IGNORE INTO device_docs (device, doc, sent_seq, removed) VALUES (?1, ?2, 0, 0)",
        )
        .map_err(db_err)?
        .execute(params![device.to_string(), doc])
        .map_err(db_err)?;
    }
    Ok((
        CommitOutcome::Committed(seq_from_db(seq)?),
        previous_assignee,
    ))
}

pub fn list(tx: &Transaction<'_>, q: &WorkOrderQuery) -> Result<SummaryPage, StorageError> {
    let mut filters = Vec::new();
    let mut args: Vec<Value> = Vec::new();
    if !q.statuses.is_empty() {
        let marks = vec!["?"; q.statuses.len()].join(", ");
        filters.push(format!("status IN ({marks})"));
        args.extend(
            q.statuses
                .iter()
                .map(|s| Value::Text(s.as_str().to_owned())),
        );
    }
    if !q.priorities.is_empty() {
        let marks = vec!["?"; q.priorities.len()].join(", ");
        filters.push(format!("priority IN ({marks})"));
        args.extend(
            q.priorities
                .iter()
                .map(|p| Value::Integer(i64::from(p.rank()))),
        );
    }
    if !q.tiers.is_empty() {
        let marks = vec!["?"; q.tiers.len()].join(", ");
        filters.push(format!("tier IN ({marks})"));
        args.extend(q.tiers.iter().map(|t| Value::Text(t.as_str().to_owned())));
    }
    if let Some(region) = &q.region {
        filters.push("region = ? COLLATE NOCASE".to_owned());
        args.push(Value::Text(region.clone()));
    }
    if let Some(assignee) = q.assignee {
        filters.push("assignee = ?".to_owned());
        args.push(Value::Text(assignee.to_string()));
    }
    if q.open_only {
        filters.push("status NOT IN ('completed', 'closed', 'cancelled')".to_owned());
    }
    let filter = if filters.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", filters.join(" AND "))
    };
    let total: i64 = tx
        .prepare_cached(&format!("SELECT COUNT(*) FROM documents {filter}"))
        .map_err(db_err)?
        .query_row(params_from_iter(args.iter()), |r| r.get(0))
        .map_err(db_err)?;
    let mut page_args = args;
    page_args.push(Value::Integer(i64::from(q.limit)));
    page_args.push(Value::Integer(i64::try_from(q.offset).unwrap_or(i64::MAX)));
    let mut stmt = tx
        .prepare_cached(&format!(
            "SELECT {SUMMARY_COLUMNS}, {SLA_COLUMNS} FROM documents {filter}
             ORDER BY priority, resolution_due, id LIMIT ? OFFSET ?"
        ))
        .map_err(db_err)?;
    let rows = stmt
        .query_map(params_from_iter(page_args.iter()), |r| {
            Ok((SummaryRow::read(r, 0)?, read_sla(r, 14)?))
        })
        .map_err(db_err)?;
    let items = rows
        .map(|row| {
            let (summary, sla) = row.map_err(db_err)?;
            Ok(ListedWorkOrder {
                summary: summary.into_summary()?,
                sla,
            })
        })
        .collect::<Result<_, StorageError>>()?;
    Ok(SummaryPage {
        items,
        total: count_from_db(total),
    })
}

pub fn open_jobs_by_technician(tx: &Transaction<'_>) -> Result<HashMap<UserId, u32>, StorageError> {
    let mut stmt = tx
        .prepare_cached("SELECT user_id, open_jobs FROM technician_load WHERE open_jobs > 0")
        .map_err(db_err)?;
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
        .map_err(db_err)?;
    rows.map(|row| {
        let (user, count) = row.map_err(db_err)?;
        Ok((
            parse("technician_load.user_id", &user)?,
            u32::try_from(count).unwrap_or(u32::MAX),
        ))
    })
    .collect()
}

/// Candidates of an office device: every document updated after the cursor (`?2`), with what
/// `?1` was sent of it. The index on (updated_seq, assignee, id) answers it without the rows.
const CANDIDATES_ALL: &str = "SELECT d.id, d.updated_seq, dd.sent_seq, dd.removed, 1
     FROM documents d
     LEFT JOIN device_docs dd ON dd.device = ?1 AND dd.doc = d.id
     WHERE d.updated_seq > ?2
     ORDER BY d.updated_seq LIMIT ?3";

const COUNT_ALL: &str = "SELECT COUNT(*) FROM documents WHERE updated_seq > ?1";

/// Candidates of a technician's (`?3`) device: the documents updated after the cursor that are
/// theirs, by the index on (assignee, updated_seq), and those that left their hands and that
/// device `?1` was sent, by the assignments that ended (to tell it to drop them). Neither part
/// reads a document changed by anyone else, so a pull's work grows with the technician's own
/// jobs, never with the fleet's traffic nor with how much the device was sent before. It relies
/// on a technician's device being sent only documents assigned to them (only the office creates
/// work orders): every document it holds has an assignment row for them.
const CANDIDATES_ASSIGNED: &str = "SELECT d.id, d.updated_seq, dd.sent_seq, dd.removed, 1
     FROM documents d
     LEFT JOIN device_docs dd ON dd.device = ?1 AND dd.doc = d.id
     WHERE d.assignee = ?3 AND d.updated_seq > ?2
     UNION ALL
     SELECT d.id, d.updated_seq, dd.sent_seq, dd.removed, 0
     FROM assignments a
     JOIN device_docs dd ON dd.device = ?1 AND dd.doc = a.doc
     JOIN documents d ON d.id = a.doc
     WHERE a.user_id = ?3 AND a.left_seq IS NOT NULL AND d.updated_seq > ?2
         AND d.assignee IS NOT ?3
     ORDER BY 2 LIMIT ?4";

const COUNT_ASSIGNED: &str = "SELECT
     (SELECT COUNT(*) FROM documents WHERE assignee = ?3 AND updated_seq > ?2)
     + (SELECT COUNT(*)
        FROM assignments a
        JOIN device_docs dd ON dd.device = ?1 AND dd.doc = a.doc
        JOIN documents d ON d.id = a.doc
        WHERE a.user_id = ?3 AND a.left_seq IS NOT NULL AND d.updated_seq > ?2
            AND d.assignee IS NOT ?3)";

/// The query of `candidates` (or `count_candidates`) for the scope, and its arguments. The
/// texts are constants, so each connection prepares them once and reuses them on every pull.
fn candidate_query(q: &CandidateQuery, count: bool) -> (&'static str, Vec<Value>) {
    let device = Value::Text(q.device.to_string());
    let after = Value::Integer(seq_to_db(q.after));
    let limit = Value::Integer(i64::from(q.limit));
    match (q.scope, count) {
        (Scope::All, false) => (CANDIDATES_ALL, vec![device, after, limit]),
        (Scope::All, true) => (COUNT_ALL, vec![after]),
        (Scope::AssignedTo(user), false) => (
            CANDIDATES_ASSIGNED,
            vec![device, after, Value::Text(user.to_string()), limit],
        ),
        (Scope::AssignedTo(user), true) => (
            COUNT_ASSIGNED,
            vec![device, after, Value::Text(user.to_string())],
        ),
    }
}

pub fn candidates(
    tx: &Transaction<'_>,
    q: &CandidateQuery,
) -> Result<Vec<PullCandidate>, StorageError> {
    let (sql, args) = candidate_query(q, false);
    let mut stmt = tx.prepare_cached(sql).map_err(db_err)?;
    let rows = stmt
        .query_map(params_from_iter(args.iter()), |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, Option<i64>>(2)?,
                r.get::<_, Option<bool>>(3)?,
                r.get::<_, bool>(4)?,
            ))
        })
        .map_err(db_err)?;
    rows.map(|row| {
        let (doc, updated, sent, removed, in_scope) = row.map_err(db_err)?;
        let delivery = match sent {
            Some(sent) => Some(Delivery {
                sent_seq: seq_from_db(sent)?,
                removed: removed.unwrap_or(false),
            }),
            None => None,
        };
        Ok(PullCandidate {
            doc: parse("documents.id", &doc)?,
            updated_seq: seq_from_db(updated)?,
            in_scope,
            delivery,
        })
    })
    .collect()
}

pub fn count_candidates(tx: &Transaction<'_>, q: &CandidateQuery) -> Result<u64, StorageError> {
    let (sql, args) = candidate_query(q, true);
    let count: i64 = tx
        .prepare_cached(sql)
        .map_err(db_err)?
        .query_row(params_from_iter(args.iter()), |r| r.get(0))
        .map_err(db_err)?;
    Ok(count_from_db(count))
}

pub fn changes_after(
    tx: &Transaction<'_>,
    doc: WorkOrderId,
    after: Seq,
    except: DeviceId,
) -> Result<Option<ChangesAfter>, StorageError> {
    // The summary rides along on every row: one statement reads both from the same state.
    let mut stmt = tx
        .prepare_cached(&format!(
            "SELECT d.*, c.bytes
             FROM (SELECT {SUMMARY_COLUMNS} FROM documents WHERE id = ?1) AS d
             JOIN changes AS c ON c.doc = d.id
             WHERE c.seq > ?2 AND (c.origin_device IS NULL OR c.origin_device <> ?3)
             ORDER BY c.seq, c.rowid"
        ))
        .map_err(db_err)?;
    let mut rows = stmt
        .query(params![
            doc.to_string(),
            seq_to_db(after),
            except.to_string()
        ])
        .map_err(db_err)?;
    let mut summary = None;
    let mut changes = Vec::new();
    while let Some(row) = rows.next().map_err(db_err)? {
        if summary.is_none() {
            summary = Some(SummaryRow::read(row, 0).map_err(db_err)?);
        }
        changes.push(row.get::<_, Vec<u8>>(14).map_err(db_err)?);
    }
    summary
        .map(|s| {
            Ok(ChangesAfter {
                changes,
                summary: s.into_summary()?,
            })
        })
        .transpose()
}

pub fn record_deliveries(
    tx: &Transaction<'_>,
    device: DeviceId,
    deliveries: &[DeliveryRecord],
) -> Result<(), StorageError> {
    let mut stmt = tx
        .prepare_cached(
            "INSERT INTO device_docs (device, doc, sent_seq, removed) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (device, doc) DO UPDATE SET
                 sent_seq = excluded.sent_seq, removed = excluded.removed",
        )
        .map_err(db_err)?;
    let device = device.to_string();
    for d in deliveries {
        stmt.execute(params![
            device,
            d.doc.to_string(),
            seq_to_db(d.delivery.sent_seq),
            d.delivery.removed,
        ])
        .map_err(db_err)?;
    }
    Ok(())
}

pub fn delivery(
    tx: &Transaction<'_>,
    device: DeviceId,
    doc: WorkOrderId,
) -> Result<Option<Delivery>, StorageError> {
    let row: Option<(i64, bool)> = tx
        .prepare_cached("SELECT sent_seq, removed FROM device_docs WHERE device = ?1 AND doc = ?2")
        .map_err(db_err)?
        .query_row(params![device.to_string(), doc.to_string()], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()
        .map_err(db_err)?;
    row.map(|(sent, removed)| {
        Ok(Delivery {
            sent_seq: seq_from_db(sent)?,
            removed,
        })
    })
    .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::{Connection, StatementStatus};

    fn database() -> Connection {
        let mut conn = Connection::open_in_memory().expect("open");
        super::super::migrations::migrate(&mut conn).expect("migrate");
        conn
    }

    /// Commits a made-up version of `doc` assigned to `assignee`.
    fn put(
        tx: &Transaction<'_>,
        doc: WorkOrderId,
        assignee: Option<UserId>,
        expected: Option<Seq>,
    ) -> Seq {
        let c = DocumentCommit {
            doc,
            expected,
            snapshot: b"snapshot".to_vec(),
            summary: crate::storage::conformance::summary(doc, assignee),
            sla: SlaFacts::default(),
            changes: Vec::new(),
            origin: None,
            received_at: Timestamp(1_700_000_000_000),
            known_by: None,
            audit: Vec::new(),
            usages: Vec::new(),
            entries: Vec::new(),
        };
        match commit(tx, &c).expect("commit") {
            CommitOutcome::Committed(seq) => seq,
            CommitOutcome::VersionConflict => panic!("version conflict"),
        }
    }

    /// A technician with one document of their own and one this device was sent that was
    /// reassigned away since.
    fn technician(tx: &Transaction<'_>) -> CandidateQuery {
        let (tech, device) = (UserId::new(), DeviceId::new());
        put(tx, WorkOrderId::new(), Some(tech), None);
        let away = WorkOrderId::new();
        let sent = put(tx, away, Some(tech), None);
        let delivery = Delivery {
            sent_seq: sent,
            removed: false,
        };
        record_deliveries(
            tx,
            device,
            &[DeliveryRecord {
                doc: away,
                delivery,
            }],
        )
        .expect("sent");
        put(tx, away, Some(UserId::new()), Some(sent));
        CandidateQuery {
            device,
            scope: Scope::AssignedTo(tech),
            after: Seq(0),
            limit: 256,
        }
    }

    /// The virtual machine steps and the full-scan steps of the cached statement's runs since
    /// the last call.
    fn effort(tx: &Transaction<'_>, sql: &str) -> (i32, i32) {
        let stmt = tx.prepare_cached(sql).expect("cached");
        (
            stmt.reset_status(StatementStatus::VmStep),
            stmt.reset_status(StatementStatus::FullscanStep),
        )
    }

    /// A technician's page of candidates and their count, with the work each statement did.
    fn page_work(
        tx: &Transaction<'_>,
        q: &CandidateQuery,
    ) -> (Vec<PullCandidate>, u64, (i32, i32), (i32, i32)) {
        let found = candidates(tx, q).expect("candidates");
        let counted = count_candidates(tx, q).expect("count");
        (
            found,
            counted,
            effort(tx, CANDIDATES_ASSIGNED),
            effort(tx, COUNT_ASSIGNED),
        )
    }

    fn query_plan(tx: &Transaction<'_>, q: &CandidateQuery, count: bool) -> Vec<String> {
        let (sql, args) = candidate_query(q, count);
        let mut stmt = tx
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .expect("explain");
        stmt.query_map(params_from_iter(args.iter()), |r| r.get::<_, String>(3))
            .expect("plan")
            .collect::<Result<_, _>>()
            .expect("rows")
    }

    #[test]
    fn a_technicians_pull_costs_the_same_however_much_the_device_was_sent_before() {
        let mut conn = database();
        let tx = conn.transaction().expect("tx");
        let q = technician(&tx);
        let mut after = put(&tx, WorkOrderId::new(), Some(UserId::new()), None);
        let next_page = |after: Seq| CandidateQuery { after, ..q };
        let alone = page_work(&tx, &next_page(after));
        // The device is sent 300 of the technician's documents, as on a first sync; the next
        // page starts after them.
        let Scope::AssignedTo(tech) = q.scope else {
            unreachable!()
        };
        for _ in 0..300 {
            let doc = WorkOrderId::new();
            after = put(&tx, doc, Some(tech), None);
            let delivery = Delivery {
                sent_seq: after,
                removed: false,
            };
            record_deliveries(&tx, q.device, &[DeliveryRecord { doc, delivery }]).expect("sent");
        }
        let _ = page_work(&tx, &next_page(after));
        let after_many = page_work(&tx, &next_page(after));
        assert_eq!(
            after_many, alone,
            "the documents the device was sent before the cursor changed the work of a page"
        );
    }

    #[test]
    fn a_pull_runs_the_candidate_scan_it_compiled_once() {
        let dir = tempfile::tempdir().expect("dir");
        let mut conn = super::super::open_connection(&dir.path().join("server.db")).expect("open");
        super::super::migrations::migrate(&mut conn).expect("migrate");
        let tx = conn.transaction().expect("tx");
        let q = technician(&tx);
        // Every pull binds another cursor and page size; none may compile the statement again.
        for after in 0..5 {
            let page = CandidateQuery {
                after: Seq(after),
                limit: 100 + u32::try_from(after).expect("small"),
                ..q
            };
            candidates(&tx, &page).expect("candidates");
        }
        let stmt = tx.prepare_cached(CANDIDATES_ASSIGNED).expect("cached");
        assert_eq!(stmt.get_status(StatementStatus::Run), 5);
        assert_eq!(stmt.get_status(StatementStatus::RePrepare), 0);
    }

    #[test]
    fn a_technicians_candidates_come_from_their_own_jobs_and_their_ended_assignments() {
        let mut conn = database();
        let tx = conn.transaction().expect("tx");
        let q = technician(&tx);
        for count in [false, true] {
            let plan = query_plan(&tx, &q, count);
            let text = plan.join("\n");
            assert!(
                plan.iter().any(|line| line.contains(
                    "USING COVERING INDEX documents_by_assignee (assignee=? AND updated_seq>?)"
                )),
                "their own documents changed after the cursor, by the assignee index alone:\n{text}"
            );
            assert!(
                plan.iter()
                    .any(|line| line.contains("USING INDEX assignments_ended (user_id=?)")),
                "the documents that left their hands, by the ended assignments:\n{text}"
            );
            assert!(
                plan.iter()
                    .any(|line| line.contains("SEARCH dd USING PRIMARY KEY (device=? AND doc=?)")),
                "what this device was sent, by its key:\n{text}"
            );
            assert!(
                !plan.iter().any(
                    |line| (line.contains("SCAN") && line != "SCAN CONSTANT ROW")
                        || line.contains("documents_for_pull")
                ),
                "nothing reads documents changed by others or all the device was sent:\n{text}"
            );
        }
    }

    #[test]
    fn a_technicians_pull_costs_the_same_however_busy_everyone_else_is() {
        let mut conn = database();
        let tx = conn.transaction().expect("tx");
        let q = technician(&tx);
        let _ = page_work(&tx, &q);
        let quiet = page_work(&tx, &q);
        assert_eq!(quiet.0.len(), 2, "their job and the one taken from them");
        // 300 other technicians' jobs change after the cursor.
        for _ in 0..300 {
            put(&tx, WorkOrderId::new(), Some(UserId::new()), None);
        }
        let busy = page_work(&tx, &q);
        assert_eq!(
            busy, quiet,
            "the changes of other technicians' documents changed the work of a page"
        );
    }

    #[test]
    fn an_assignment_ends_when_the_job_goes_to_someone_else_and_resumes_when_it_comes_back() {
        let mut conn = database();
        let tx = conn.transaction().expect("tx");
        let (tech, other, doc) = (UserId::new(), UserId::new(), WorkOrderId::new());
        let ended = |tx: &Transaction<'_>, user: UserId| -> Option<i64> {
            tx.query_row(
                "SELECT left_seq FROM assignments WHERE doc = ?1 AND user_id = ?2",
                params![doc.to_string(), user.to_string()],
                |r| r.get(0),
            )
            .expect("assignment")
        };
        let first = put(&tx, doc, Some(tech), None);
        assert_eq!(ended(&tx, tech), None, "assigned");
        let second = put(&tx, doc, Some(tech), Some(first));
        assert_eq!(ended(&tx, tech), None, "an edit keeps the assignment");
        let moved = put(&tx, doc, Some(other), Some(second));
        assert_eq!(
            ended(&tx, tech),
            Some(seq_to_db(moved)),
            "ended by the reassignment"
        );
        assert_eq!(ended(&tx, other), None);
        let unassigned = put(&tx, doc, None, Some(moved));
        assert_eq!(ended(&tx, other), Some(seq_to_db(unassigned)));
        put(&tx, doc, Some(tech), Some(unassigned));
        assert_eq!(ended(&tx, tech), None, "assigned again");
        assert_eq!(ended(&tx, other), Some(seq_to_db(unassigned)));
        assert!(
            super::super::audit::was_assigned(&tx, doc, other).expect("grant"),
            "an ended assignment still lets them upload the work done while it was theirs"
        );
    }

    #[test]
    fn every_pull_reuses_the_prepared_candidate_queries() {
        let mut conn = database();
        let tx = conn.transaction().expect("tx");
        let q = technician(&tx);
        let office = CandidateQuery {
            scope: Scope::All,
            ..q
        };
        for (after, limit) in [(0, 256), (1, 10), (2, 1)] {
            for q in [q, office] {
                let q = CandidateQuery {
                    after: Seq(after),
                    limit,
                    ..q
                };
                candidates(&tx, &q).expect("candidates");
                count_candidates(&tx, &q).expect("count");
            }
        }
        for sql in [
            CANDIDATES_ASSIGNED,
            COUNT_ASSIGNED,
            CANDIDATES_ALL,
            COUNT_ALL,
        ] {
            let runs = tx
                .prepare_cached(sql)
                .expect("cached")
                .get_status(StatementStatus::Run);
            assert_eq!(
                runs, 3,
                "each pull ran the one statement prepared for it: {sql}"
            );
        }
    }
}
