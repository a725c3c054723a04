//! Work order documents in PostgreSQL: snapshots and summaries, the change log, the global
//! sequence, what each device was sent, and the queries of lists and pulls.

use deadpool_postgres::GenericClient;
use std::collections::HashMap;

use fieldsync_proto::{
    DeviceId, Priority, SlaFacts, Status, Timestamp, UserId, WorkOrderId, WorkOrderSummary,
};
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use super::convert::{count_from_db, db_err, parse, seq_from_db, seq_to_db};
use crate::storage::{
    open_job_holder, CandidateQuery, ChangesAfter, CommitNotice, CommitOutcome, Delivery,
    DeliveryRecord, DocumentCommit, ListedWorkOrder, PullCandidate, Scope, Seq, StorageError,
    StoredDocument, SummaryPage, WorkOrderQuery,
};

/// Notices kept in `commit_notices` for a listener catching up after a reconnect. More than a
/// subscriber can hold (`COMMIT_FEED_CAPACITY`) is of no use: it would lag and sync anyway.
pub const NOTICE_LOG_KEEP: i64 = 16 * crate::storage::COMMIT_FEED_CAPACITY as i64;
/// The log is trimmed by the commit whose number is a multiple of this.
const NOTICE_LOG_TRIM_EVERY: i64 = 1024;

const SUMMARY_COLUMNS: &str = "id, number, status, priority, customer_name, tier, region, \
     category, assignee, created_at, response_due, resolution_due, schedule_start, conflicts";

/// The SLA facts kept next to the summary.
const SLA_COLUMNS: &str =
    "response_minutes, resolution_minutes, responded_at, resolved_at, sla_paused_at";

fn sla_from_row(row: &Row, at: usize) -> Result<SlaFacts, StorageError> {
    let time = |i: usize| {
        row.try_get::<_, Option<i64>>(i)
            .map(|t| t.map(Timestamp))
            .map_err(db_err)
    };
    Ok(SlaFacts {
        response_minutes: row.try_get(at).map_err(db_err)?,
        resolution_minutes: row.try_get(at + 1).map_err(db_err)?,
        responded_at: time(at + 2)?,
        resolved_at: time(at + 3)?,
        paused_at: time(at + 4)?,
    })
}

/// Reads the columns of `SUMMARY_COLUMNS`, which start at column 0.
fn summary_from_row(row: &Row) -> Result<WorkOrderSummary, StorageError> {
    let get_text = |i: usize| row.try_get::<_, String>(i).map_err(db_err);
    let priority: i32 = row.try_get(3).map_err(db_err)?;
    let priority = u8::try_from(priority)
        .ok()
        .and_then(Priority::from_rank)
        .ok_or_else(|| StorageError::Corrupt(format!("column documents.priority: {priority}")))?;
    let conflicts: i32 = row.try_get(13).map_err(db_err)?;
    Ok(WorkOrderSummary {
        id: WorkOrderId(row.try_get(0).map_err(db_err)?),
        number: get_text(1)?,
        status: parse("documents.status", &get_text(2)?)?,
        priority,
        customer_name: get_text(4)?,
        tier: parse("documents.tier", &get_text(5)?)?,
        region: get_text(6)?,
        category: parse("documents.category", &get_text(7)?)?,
        assignee: row
            .try_get::<_, Option<uuid::Uuid>>(8)
            .map_err(db_err)?
            .map(UserId),
        created_at: Timestamp(row.try_get(9).map_err(db_err)?),
        response_due: Timestamp(row.try_get(10).map_err(db_err)?),
        resolution_due: Timestamp(row.try_get(11).map_err(db_err)?),
        schedule_start: row
            .try_get::<_, Option<i64>>(12)
            .map_err(db_err)?
            .map(Timestamp),
        conflicts: u32::try_from(conflicts).unwrap_or(0),
    })
}

pub async fn load(
    c: &impl GenericClient,
    id: WorkOrderId,
) -> Result<Option<StoredDocument>, StorageError> {
    load_unless(c, id, None).await
}

/// The document, with its snapshot left empty if it is at version `known`.
pub async fn load_unless(
    c: &impl GenericClient,
    id: WorkOrderId,
    known: Option<Seq>,
) -> Result<Option<StoredDocument>, StorageError> {
    let known = known.map_or(-1, seq_to_db);
    let stmt = c
        .prepare_cached(&format!(
            "SELECT {SUMMARY_COLUMNS},
                 CASE WHEN updated_seq = $2 THEN ''::BYTEA ELSE snapshot END, updated_seq
             FROM documents WHERE id = $1"
        ))
        .await
        .map_err(db_err)?;
    let Some(row) = c.query_opt(&stmt, &[&id.0, &known]).await.map_err(db_err)? else {
        return Ok(None);
    };
    Ok(Some(StoredDocument {
        id,
        snapshot: row.try_get(14).map_err(db_err)?,
        version: seq_from_db(row.try_get(15).map_err(db_err)?)?,
        summary: summary_from_row(&row)?,
    }))
}

pub async fn load_many(
    c: &impl GenericClient,
    ids: &[WorkOrderId],
) -> Result<Vec<StoredDocument>, StorageError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let stmt = c
        .prepare_cached(&format!(
            "SELECT {SUMMARY_COLUMNS}, snapshot, updated_seq FROM documents WHERE id = ANY($1)"
        ))
        .await
        .map_err(db_err)?;
    let keys: Vec<uuid::Uuid> = ids.iter().map(|id| id.0).collect();
    let rows = c.query(&stmt, &[&keys]).await.map_err(db_err)?;
    rows.iter()
        .map(|row| {
            let summary = summary_from_row(row)?;
            Ok(StoredDocument {
                id: summary.id,
                snapshot: row.try_get(14).map_err(db_err)?,
                version: seq_from_db(row.try_get(15).map_err(db_err)?)?,
                summary,
            })
        })
        .collect()
}

pub async fn max_seq(c: &impl GenericClient) -> Result<Seq, StorageError> {
    let stmt = c
        .prepare_cached("SELECT value FROM sequence WHERE id = 1")
        .await
        .map_err(db_err)?;
    let row = c.query_one(&stmt, &[]).await.map_err(db_err)?;
    seq_from_db(row.try_get(0).map_err(db_err)?)
}

/// The text a commit notice travels as through NOTIFY: `seq doc assignee previous`, with `-`
/// for nobody.
pub fn encode_notice(n: &CommitNotice) -> String {
    let user = |u: Option<UserId>| u.map_or_else(|| "-".to_owned(), |u| u.to_string());
    format!(
        "{} {} {} {}",
        n.seq.0,
        n.doc,
        user(n.assignee),
        user(n.previous_assignee)
    )
}

pub fn decode_notice(text: &str) -> Option<CommitNotice> {
    let mut parts = text.split(' ');
    let user = |p: Option<&str>| -> Option<Option<UserId>> {
        match p? {
            "-" => Some(None),
            id => id.parse().ok().map(Some),
        }
    };
    let notice = CommitNotice {
        seq: Seq(parts.next()?.parse().ok()?),
        doc: parts.next()?.parse().ok()?,
        assignee: user(parts.next())?,
        previous_assignee: user(parts.next())?,
    };
    parts.next().is_none().then_some(notice)
}

/// Checks the version, takes the next sequence number and writes the update in the caller's
/// transaction, which must be rolled back unless the outcome is `Committed`. With `announce`
/// (the NOTIFY channel), the commit is also logged and announced; the announcement goes out
/// only if the transaction commits.
///
/// Taking the number bumps the one row of `sequence`, whose lock the transaction then holds
/// until it ends: every later commit waits there, so numbers are handed out in commit order
/// (see the module comment of `postgres`). Everything before the bump runs concurrently with
/// other commits; after it, the statements are pipelined (sent together, answered in one
/// round trip), so that the lock is held for as few round trips as possible.
pub async fn commit(
    c: &impl GenericClient,
    commit: &DocumentCommit,
    announce: Option<&str>,
) -> Result<CommitOutcome, StorageError> {
    let doc = commit.doc.0;
    let creating = commit.expected.is_none();
    // An update locks the row it checked, so that no concurrent commit to the same document
    // slips in between the check and the write. A creation has no row to lock: it looks again
    // once it holds the sequence lock, when any competing creation has committed.
    let check = if creating {
        "SELECT updated_seq, assignee, status FROM documents WHERE id = $1"
    } else {
        "SELECT updated_seq, assignee, status FROM documents WHERE id = $1 FOR UPDATE"
    };
    let row = c
        .query_opt(&c.prepare_cached(check).await.map_err(db_err)?, &[&doc])
        .await
        .map_err(db_err)?;
    let (current, previous_assignee, previous_status) = match row {
        Some(row) => (
            Some(seq_from_db(row.try_get(0).map_err(db_err)?)?),
            row.try_get::<_, Option<uuid::Uuid>>(1)
                .map_err(db_err)?
                .map(UserId),
            Some(parse::<Status>(
                "documents.status",
                &row.try_get::<_, String>(2).map_err(db_err)?,
            )?),
        ),
        None => (None, None, None),
    };
    let previous_holder =
        previous_assignee.filter(|_| previous_status.is_some_and(|s| s.is_open()));
    if current != commit.expected {
        return Ok(CommitOutcome::VersionConflict);
    }

    // Statements are prepared (or found in the connection's cache) before taking the lock.
    let bump = c
        .prepare_cached("UPDATE sequence SET value = value + 1 WHERE id = 1 RETURNING value")
        .await
        .map_err(db_err)?;
    let exists = c
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM documents WHERE id = $1)")
        .await
        .map_err(db_err)?;
    let write_doc = c
        .prepare_cached(if creating {
            "INSERT INTO documents (id, snapshot, updated_seq, number, status, priority,
                 customer_name, tier, region, category, assignee, created_at, response_due,
                 resolution_due, schedule_start, conflicts, response_minutes,
                 resolution_minutes, responded_at, resolved_at, sla_paused_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
                 $17, $18, $19, $20, $21)"
        } else {
            "UPDATE documents SET
                 snapshot = $2, updated_seq = $3, number = $4, status = $5, priority = $6,
                 customer_name = $7, tier = $8, region = $9, category = $10, assignee = $11,
                 created_at = $12, response_due = $13, resolution_due = $14,
                 schedule_start = $15, conflicts = $16, response_minutes = $17,
                 resolution_minutes = $18, responded_at = $19, resolved_at = $20,
                 sla_paused_at = $21
             WHERE id = $1"
        })
        .await
        .map_err(db_err)?;
    let write_changes = c
        .prepare_cached(
            "INSERT INTO changes (doc, hash, seq, position, origin_device, received_at, bytes)
             SELECT $1, c.hash, $2, (c.position - 1)::INTEGER, $3, $4, c.bytes
             FROM UNNEST($5::BYTEA[], $6::BYTEA[]) WITH ORDINALITY AS c (hash, bytes, position)",
        )
        .await
        .map_err(db_err)?;
    let write_known_by = c
        .prepare_cached(
            "INSERT INTO device_docs (device, doc, sent_seq, removed) VALUES ($1, $2, 0, FALSE)
             ON CONFLICT (device, doc) DO NOTHING",
        )
        .await
        .map_err(db_err)?;
    let write_log = c
        .prepare_cached(
            "INSERT INTO commit_notices (seq, doc, assignee, previous_assignee)
             VALUES ($1, $2, $3, $4)",
        )
        .await
        .map_err(db_err)?;
    let notify = c
        .prepare_cached("SELECT pg_notify($1, $2)")
        .await
        .map_err(db_err)?;
    let write_receipts = c
        .prepare_cached(
            "INSERT INTO entry_receipts (doc, entry, received_at)
             SELECT $1, e, $2 FROM UNNEST($3::UUID[]) AS e
             ON CONFLICT (doc, entry) DO NOTHING",
        )
        .await
        .map_err(db_err)?;
    let holder = open_job_holder(&commit.summary);
    let load_moves = holder != previous_holder;
    let load_down = c
        .prepare_cached("UPDATE technician_load SET open_jobs = open_jobs - 1 WHERE user_id = $1")
        .await
        .map_err(db_err)?;
    let load_up = c
        .prepare_cached(
            "INSERT INTO technician_load (user_id, open_jobs) VALUES ($1, 1)
             ON CONFLICT (user_id) DO UPDATE SET open_jobs = technician_load.open_jobs + 1",
        )
        .await
        .map_err(db_err)?;

    // From here to the end of the transaction, commits go one at a time.
    let (bumped, existing) = tokio::try_join!(c.query_one(&bump, &[]), async {
        if creating {
            c.query_one(&exists, &[&doc]).await.map(Some)
        } else {
            Ok(None)
        }
    })
    .map_err(db_err)?;
    if let Some(existing) = existing {
        if existing.try_get::<_, bool>(0).map_err(db_err)? {
            // Created by a concurrent commit since the check.
            return Ok(CommitOutcome::VersionConflict);
        }
    }
    let seq_db: i64 = bumped.try_get(0).map_err(db_err)?;
    let seq = seq_from_db(seq_db)?;

    let s = &commit.summary;
    let priority = i32::from(s.priority.rank());
    let conflicts = i32::try_from(s.conflicts).unwrap_or(i32::MAX);
    let assignee = s.assignee.map(|a| a.0);
    let schedule_start = s.schedule_start.map(|t| t.millis());
    let sla = &commit.sla;
    let responded_at = sla.responded_at.map(|t| t.millis());
    let resolved_at = sla.resolved_at.map(|t| t.millis());
    let paused_at = sla.paused_at.map(|t| t.millis());
    let doc_values: [&(dyn ToSql + Sync); 21] = [
        &doc,
        &commit.snapshot,
        &seq_db,
        &s.number,
        &s.status.as_str(),
        &priority,
        &s.customer_name,
        &s.tier.as_str(),
        &s.region,
        &s.category.as_str(),
        &assignee,
        &s.created_at.millis(),
        &s.response_due.millis(),
        &s.resolution_due.millis(),
        &schedule_start,
        &conflicts,
        &sla.response_minutes,
        &sla.resolution_minutes,
        &responded_at,
        &resolved_at,
        &paused_at,
    ];
    let entry_ids: Vec<uuid::Uuid> = commit.entries.iter().map(|e| e.0).collect();
    let previous_holder_id = previous_holder.map(|u| u.0);
    let holder_id = holder.map(|u| u.0);
    let origin = commit.origin.map(|d| d.0);
    let received_at = commit.received_at.millis();
    let hashes: Vec<&[u8]> = commit.changes.iter().map(|c| c.hash.0.as_slice()).collect();
    let bytes: Vec<&[u8]> = commit.changes.iter().map(|c| c.bytes.as_slice()).collect();
    let change_values: [&(dyn ToSql + Sync); 6] =
        [&doc, &seq_db, &origin, &received_at, &hashes, &bytes];
    let previous = previous_assignee.map(|a| a.0);
    let notice = announce.map(|channel| {
        let text = encode_notice(&CommitNotice {
            doc: commit.doc,
            seq,
            assignee: s.assignee,
            previous_assignee,
        });
        (channel, text)
    });
    let (written, ..) = tokio::try_join!(
        async { c.execute(&write_doc, &doc_values).await.map_err(db_err) },
        super::audit::record_assignment(c, commit.doc, previous_assignee, s.assignee, seq_db),
        super::audit::append(c, &commit.audit),
        async {
            c.execute(&write_changes, &change_values)
                .await
                .map_err(db_err)
        },
        async {
            match commit.known_by {
                // Sent "at sequence 0": the device has it whatever its cursor is.
                Some(device) => c.execute(&write_known_by, &[&device.0, &doc]).await,
                None => Ok(0),
            }
            .map_err(db_err)
        },
        async {
            match &notice {
                Some(_) => {
                    c.execute(&write_log, &[&seq_db, &doc, &assignee, &previous])
                        .await
                }
                None => Ok(0),
            }
            .map_err(db_err)
        },
        async {
            match &notice {
                Some((channel, text)) => c.execute(&notify, &[channel, text]).await,
                None => Ok(0),
            }
            .map_err(db_err)
        },
        async {
            match (load_moves, &previous_holder_id) {
                (true, Some(user)) => c.execute(&load_down, &[user]).await,
                _ => Ok(0),
            }
            .map_err(db_err)
        },
        async {
            match (load_moves, &holder_id) {
                (true, Some(user)) => c.execute(&load_up, &[user]).await,
                _ => Ok(0),
            }
            .map_err(db_err)
        },
        async {
            if entry_ids.is_empty() {
                return Ok(0);
            }
            c.execute(&write_receipts, &[&doc, &received_at, &entry_ids])
                .await
                .map_err(db_err)
        },
        super::operations::record_movements(c, &commit.usages, commit.received_at),
    )?;
    if written != 1 {
        return Err(StorageError::Database(format!(
            "work order {} was not written although its version matched",
            s.number
        )));
    }
    if notice.is_some() && seq_db % NOTICE_LOG_TRIM_EVERY == 0 {
        trim_notice_log(c, seq_db).await?;
    }
    Ok(CommitOutcome::Committed(seq))
}

/// Forgets logged notices older than the last `NOTICE_LOG_KEEP` up to `newest`.
pub async fn trim_notice_log(c: &impl GenericClient, newest: i64) -> Result<(), StorageError> {
    let stmt = c
        .prepare_cached("DELETE FROM commit_notices WHERE seq <= $1")
        .await
        .map_err(db_err)?;
    c.execute(&stmt, &[&(newest - NOTICE_LOG_KEEP)])
        .await
        .map_err(db_err)?;
    Ok(())
}

/// Logged notices after `after`, oldest first, at most `limit`.
pub async fn notices_after(
    c: &impl GenericClient,
    after: Seq,
    limit: i64,
) -> Result<Vec<CommitNotice>, StorageError> {
    let stmt = c
        .prepare_cached(
            "SELECT seq, doc, assignee, previous_assignee FROM commit_notices
             WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .await
        .map_err(db_err)?;
    let rows = c
        .query(&stmt, &[&seq_to_db(after), &limit])
        .await
        .map_err(db_err)?;
    rows.iter()
        .map(|r| {
            Ok(CommitNotice {
                seq: seq_from_db(r.try_get(0).map_err(db_err)?)?,
                doc: WorkOrderId(r.try_get(1).map_err(db_err)?),
                assignee: r
                    .try_get::<_, Option<uuid::Uuid>>(2)
                    .map_err(db_err)?
                    .map(UserId),
                previous_assignee: r
                    .try_get::<_, Option<uuid::Uuid>>(3)
                    .map_err(db_err)?
                    .map(UserId),
            })
        })
        .collect()
}

pub async fn list(c: &impl GenericClient, q: &WorkOrderQuery) -> Result<SummaryPage, StorageError> {
    let statuses: Vec<&str> = q.statuses.iter().map(|s| s.as_str()).collect();
    let assignee = q.assignee.map(|a| a.0);
    let mut filters = Vec::new();
    let mut args: Vec<&(dyn ToSql + Sync)> = Vec::new();
    if !statuses.is_empty() {
        args.push(&statuses);
        filters.push(format!("status = ANY(${})", args.len()));
    }
    let priorities: Vec<i32> = q.priorities.iter().map(|p| i32::from(p.rank())).collect();
    if !priorities.is_empty() {
        args.push(&priorities);
        filters.push(format!("priority = ANY(${})", args.len()));
    }
    let tiers: Vec<&str> = q.tiers.iter().map(|t| t.as_str()).collect();
    if !tiers.is_empty() {
        args.push(&tiers);
        filters.push(format!("tier = ANY(${})", args.len()));
    }
    if let Some(region) = &q.region {
        args.push(region);
        filters.push(format!("lower(region) = lower(${})", args.len()));
    }
    if let Some(assignee) = &assignee {
        args.push(assignee);
        filters.push(format!("assignee = ${}", args.len()));
    }
    if q.open_only {
        filters.push("status NOT IN ('completed', 'closed', 'cancelled')".to_owned());
    }
    let filter = if filters.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", filters.join(" AND "))
    };
    let total: i64 = c
        .query_one(
            &c.prepare_cached(&format!("SELECT COUNT(*) FROM documents {filter}"))
                .await
                .map_err(db_err)?,
            &args,
        )
        .await
        .map_err(db_err)?
        .try_get(0)
        .map_err(db_err)?;
    let limit = i64::from(q.limit);
    let offset = i64::try_from(q.offset).unwrap_or(i64::MAX);
    let mut page_args = args;
    page_args.push(&limit);
    page_args.push(&offset);
    let (limit_at, offset_at) = (page_args.len() - 1, page_args.len());
    let stmt = c
        .prepare_cached(&format!(
            "SELECT {SUMMARY_COLUMNS}, {SLA_COLUMNS} FROM documents {filter}
             ORDER BY priority, resolution_due, id LIMIT ${limit_at} OFFSET ${offset_at}"
        ))
        .await
        .map_err(db_err)?;
    let rows = c.query(&stmt, &page_args).await.map_err(db_err)?;
    Ok(SummaryPage {
        items: rows
            .iter()
            .map(|row| {
                Ok(ListedWorkOrder {
                    summary: summary_from_row(row)?,
                    sla: sla_from_row(row, 14)?,
                })
            })
            .collect::<Result<_, StorageError>>()?,
        total: count_from_db(total),
    })
}

pub async fn open_jobs_by_technician(
    c: &impl GenericClient,
) -> Result<HashMap<UserId, u32>, StorageError> {
    let stmt = c
        .prepare_cached("SELECT user_id, open_jobs FROM technician_load WHERE open_jobs > 0")
        .await
        .map_err(db_err)?;
    let rows = c.query(&stmt, &[]).await.map_err(db_err)?;
    rows.iter()
        .map(|r| {
            let count: i64 = r.try_get(1).map_err(db_err)?;
            Ok((
                UserId(r.try_get(0).map_err(db_err)?),
                u32::try_from(count).unwrap_or(u32::MAX),
            ))
        })
        .collect()
}

/// Candidates of an office device: every document updated after the cursor (`$2`), with what
/// device `$1` was sent of it.
const CANDIDATES_ALL: &str = "SELECT d.id, d.updated_seq, dd.sent_seq, dd.removed, TRUE
     FROM documents d
     LEFT JOIN device_docs dd ON dd.device = $1 AND dd.doc = d.id
     WHERE d.updated_seq > $2
     ORDER BY d.updated_seq LIMIT $3";

const COUNT_ALL: &str = "SELECT COUNT(*) FROM documents WHERE updated_seq > $1";

/// Candidates of a technician's (`$3`) device: the documents updated after the cursor that are
/// theirs, and those that left their hands and that device `$1` was sent, by the assignments
/// that ended (to tell it to drop them). Its work grows with the technician's own jobs, never
/// with the fleet's traffic nor with how much the device was sent before. It relies on a
/// technician's device being sent only documents assigned to them (only the office creates work
/// orders): every document it holds has an assignment row for them.
const CANDIDATES_ASSIGNED: &str = "SELECT d.id, d.updated_seq, dd.sent_seq, dd.removed, TRUE
     FROM documents d
     LEFT JOIN device_docs dd ON dd.device = $1 AND dd.doc = d.id
     WHERE d.assignee = $3 AND d.updated_seq > $2
     UNION ALL
     SELECT d.id, d.updated_seq, dd.sent_seq, dd.removed, FALSE
     FROM assignments a
     JOIN device_docs dd ON dd.device = $1 AND dd.doc = a.doc
     JOIN documents d ON d.id = a.doc
     WHERE a.user_id = $3 AND a.left_seq IS NOT NULL AND d.updated_seq > $2
         AND d.assignee IS DISTINCT FROM $3
     ORDER BY 2 LIMIT $4";

const COUNT_ASSIGNED: &str = "SELECT
     (SELECT COUNT(*) FROM documents WHERE assignee = $3 AND updated_seq > $2)
     + (SELECT COUNT(*)
        FROM assignments a
        JOIN device_docs dd ON dd.device = $1 AND dd.doc = a.doc
        JOIN documents d ON d.id = a.doc
        WHERE a.user_id = $3 AND a.left_seq IS NOT NULL AND d.updated_seq > $2
            AND d.assignee IS DISTINCT FROM $3)";

pub async fn candidates(
    c: &impl GenericClient,
    q: &CandidateQuery,
) -> Result<Vec<PullCandidate>, StorageError> {
    let after = seq_to_db(q.after);
    let limit = i64::from(q.limit);
    let rows = match q.scope {
        Scope::All => {
            let stmt = c.prepare_cached(CANDIDATES_ALL).await.map_err(db_err)?;
            c.query(&stmt, &[&q.device.0, &after, &limit]).await
        }
        Scope::AssignedTo(user) => {
            let stmt = c
                .prepare_cached(CANDIDATES_ASSIGNED)
                .await
                .map_err(db_err)?;
            c.query(&stmt, &[&q.device.0, &after, &user.0, &limit])
                .await
        }
    }
    .map_err(db_err)?;
    rows.iter()
        .map(|r| {
            let sent: Option<i64> = r.try_get(2).map_err(db_err)?;
            let removed: Option<bool> = r.try_get(3).map_err(db_err)?;
            let delivery = match sent {
                Some(sent) => Some(Delivery {
                    sent_seq: seq_from_db(sent)?,
                    removed: removed.unwrap_or(false),
                }),
                None => None,
            };
            Ok(PullCandidate {
                doc: WorkOrderId(r.try_get(0).map_err(db_err)?),
                updated_seq: seq_from_db(r.try_get(1).map_err(db_err)?)?,
                in_scope: r.try_get(4).map_err(db_err)?,
                delivery,
            })
        })
        .collect()
}

pub async fn count_candidates(
    c: &impl GenericClient,
    q: &CandidateQuery,
) -> Result<u64, StorageError> {
    let after = seq_to_db(q.after);
    let row = match q.scope {
        Scope::All => {
            let stmt = c.prepare_cached(COUNT_ALL).await.map_err(db_err)?;
            c.query_one(&stmt, &[&after]).await
        }
        Scope::AssignedTo(user) => {
            let stmt = c.prepare_cached(COUNT_ASSIGNED).await.map_err(db_err)?;
            c.query_one(&stmt, &[&q.device.0, &after, &user.0]).await
        }
    }
    .map_err(db_err)?;
    Ok(count_from_db(row.try_get(0).map_err(db_err)?))
}

pub async fn changes_after(
    c: &impl GenericClient,
    doc: WorkOrderId,
    after: Seq,
    except: DeviceId,
) -> Result<Option<ChangesAfter>, StorageError> {
    // The summary rides along on every row: one statement reads both from the same snapshot.
    let stmt = c
        .prepare_cached(&format!(
            "SELECT d.*, c.bytes
             FROM (SELECT {SUMMARY_COLUMNS} FROM documents WHERE id = $1) AS d
             JOIN changes AS c ON c.doc = d.id
             WHERE c.seq > $2 AND c.origin_device IS DISTINCT FROM $3
             ORDER BY c.seq, c.position"
        ))
        .await
        .map_err(db_err)?;
    let rows = c
        .query(&stmt, &[&doc.0, &seq_to_db(after), &except.0])
        .await
        .map_err(db_err)?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    Ok(Some(ChangesAfter {
        summary: summary_from_row(first)?,
        changes: rows
            .iter()
            .map(|r| r.try_get(14).map_err(db_err))
            .collect::<Result<_, _>>()?,
    }))
}

pub async fn record_deliveries(
    c: &impl GenericClient,
    device: DeviceId,
    deliveries: &[DeliveryRecord],
) -> Result<(), StorageError> {
    let stmt = c
        .prepare_cached(
            "INSERT INTO device_docs (device, doc, sent_seq, removed) VALUES ($1, $2, $3, $4)
             ON CONFLICT (device, doc) DO UPDATE SET
                 sent_seq = excluded.sent_seq, removed = excluded.removed",
        )
        .await
        .map_err(db_err)?;
    for d in deliveries {
        c.execute(
            &stmt,
            &[
                &device.0,
                &d.doc.0,
                &seq_to_db(d.delivery.sent_seq),
                &d.delivery.removed,
            ],
        )
        .await
        .map_err(db_err)?;
    }
    Ok(())
}

pub async fn delivery(
    c: &impl GenericClient,
    device: DeviceId,
    doc: WorkOrderId,
) -> Result<Option<Delivery>, StorageError> {
    let stmt = c
        .prepare_cached("SELECT sent_seq, removed FROM device_docs WHERE device = $1 AND doc = $2")
        .await
        .map_err(db_err)?;
    c.query_opt(&stmt, &[&device.0, &doc.0])
        .await
        .map_err(db_err)?
        .map(|row| {
            Ok(Delivery {
                sent_seq: seq_from_db(row.try_get(0).map_err(db_err)?)?,
                removed: row.try_get(1).map_err(db_err)?,
            })
        })
        .transpose()
}
