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
    if let Some(assignee) = s.assignee {
        super::audit::grant(tx, c.doc, assignee, seq)?;
    }
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

/// The parts shared by the candidate queries: whether a row is in scope, the FROM/WHERE
/// clause, and their arguments.
fn candidate_filter(q: &CandidateQuery) -> (&'static str, &'static str, Vec<Value>) {
    let device = Value::Text(q.device.to_string());
    let after = Value::Integer(seq_to_db(q.after));
    match q.scope {
        Scope::All => (
            "1",
            "FROM documents d
             LEFT JOIN device_docs dd ON dd.device = ?1 AND dd.doc = d.id
             WHERE d.updated_seq > ?2",
            vec![device, after],
        ),
        Scope::AssignedTo(user) => (
            "IFNULL(d.assignee = ?3, 0)",
            "FROM documents d
             LEFT JOIN device_docs dd ON dd.device = ?1 AND dd.doc = d.id
             WHERE d.updated_seq > ?2 AND (d.assignee = ?3 OR dd.doc IS NOT NULL)",
            vec![device, after, Value::Text(user.to_string())],
        ),
    }
}

pub fn candidates(
    tx: &Transaction<'_>,
    q: &CandidateQuery,
) -> Result<Vec<PullCandidate>, StorageError> {
    let (in_scope, from_where, mut args) = candidate_filter(q);
    let limit_at = args.len() + 1;
    args.push(Value::Integer(i64::from(q.limit)));
    let mut stmt = tx
        .prepare_cached(&format!(
            "SELECT d.id, d.updated_seq, dd.sent_seq, dd.removed, {in_scope} {from_where}
             ORDER BY d.updated_seq LIMIT ?{limit_at}"
        ))
        .map_err(db_err)?;
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
    let (_, from_where, args) = candidate_filter(q);
    let count: i64 = tx
        .prepare_cached(&format!("SELECT COUNT(*) {from_where}"))
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
