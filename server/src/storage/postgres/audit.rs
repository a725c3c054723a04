//! The audit trail and the assignment grants in PostgreSQL. The audit table only ever
//! receives inserts; triggers in the schema refuse updates, deletes and truncation.

use deadpool_postgres::GenericClient;
use fieldsync_proto::api::AuditEntry;
use fieldsync_proto::{DeviceId, Timestamp, UserId, WorkOrderId};
use tokio_postgres::types::ToSql;

use super::convert::{db_err, parse};
use crate::storage::{AuditQuery, NewAuditEntry, StorageError};

/// Appends the entries in order, in one statement.
pub async fn append(c: &impl GenericClient, entries: &[NewAuditEntry]) -> Result<(), StorageError> {
    if entries.is_empty() {
        return Ok(());
    }
    let stmt = c
        .prepare_cached(
            "INSERT INTO audit (at, kind, user_id, username, device_id, doc, number, device_time,
                                detail, address)
             SELECT * FROM UNNEST($1::BIGINT[], $2::TEXT[], $3::UUID[], $4::TEXT[], $5::UUID[],
                                  $6::UUID[], $7::TEXT[], $8::BIGINT[], $9::TEXT[], $10::TEXT[])",
        )
        .await
        .map_err(db_err)?;
    let at: Vec<i64> = entries.iter().map(|e| e.at.millis()).collect();
    let kind: Vec<&str> = entries.iter().map(|e| e.kind.as_str()).collect();
    let user: Vec<Option<uuid::Uuid>> = entries.iter().map(|e| e.user.map(|u| u.0)).collect();
    let username: Vec<Option<&str>> = entries.iter().map(|e| e.username.as_deref()).collect();
    let device: Vec<Option<uuid::Uuid>> = entries.iter().map(|e| e.device.map(|d| d.0)).collect();
    let doc: Vec<Option<uuid::Uuid>> = entries.iter().map(|e| e.doc.map(|d| d.0)).collect();
    let number: Vec<Option<&str>> = entries.iter().map(|e| e.number.as_deref()).collect();
    let device_time: Vec<Option<i64>> = entries
        .iter()
        .map(|e| e.device_time.map(Timestamp::millis))
        .collect();
    let detail: Vec<&str> = entries.iter().map(|e| e.detail.as_str()).collect();
    let address: Vec<Option<&str>> = entries.iter().map(|e| e.address.as_deref()).collect();
    c.execute(
        &stmt,
        &[
            &at,
            &kind,
            &user,
            &username,
            &device,
            &doc,
            &number,
            &device_time,
            &detail,
            &address,
        ],
    )
    .await
    .map_err(db_err)?;
    Ok(())
}

pub async fn query(
    c: &impl GenericClient,
    q: &AuditQuery,
) -> Result<Vec<AuditEntry>, StorageError> {
    let doc = q.doc.map(|d| d.0);
    let user = q.user.map(|u| u.0);
    let from = q.from.map(Timestamp::millis);
    let to = q.to.map(Timestamp::millis);
    let before = q.before_id.map(|b| i64::try_from(b).unwrap_or(i64::MAX));
    let limit = i64::from(q.limit);
    let mut filters: Vec<String> = Vec::new();
    let mut args: Vec<&(dyn ToSql + Sync)> = Vec::new();
    let given: [(&str, Option<&(dyn ToSql + Sync)>); 6] = [
        ("doc =", doc.as_ref().map(|v| v as _)),
        ("number =", q.number.as_ref().map(|v| v as _)),
        ("user_id =", user.as_ref().map(|v| v as _)),
        ("at >=", from.as_ref().map(|v| v as _)),
        ("at <=", to.as_ref().map(|v| v as _)),
        ("id <", before.as_ref().map(|v| v as _)),
    ];
    for (condition, value) in given {
        if let Some(value) = value {
            args.push(value);
            filters.push(format!("{condition} ${}", args.len()));
        }
    }
    let filter = if filters.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", filters.join(" AND "))
    };
    args.push(&limit);
    let stmt = c
        .prepare_cached(&format!(
            "SELECT id, at, kind, user_id, username, device_id, doc, number, device_time, detail,
                    address
             FROM audit {filter} ORDER BY id DESC LIMIT ${}",
            args.len()
        ))
        .await
        .map_err(db_err)?;
    let rows = c.query(&stmt, &args).await.map_err(db_err)?;
    rows.iter()
        .map(|r| {
            let id: i64 = r.try_get(0).map_err(db_err)?;
            let kind: String = r.try_get(2).map_err(db_err)?;
            Ok(AuditEntry {
                id: u64::try_from(id)
                    .map_err(|_| StorageError::Corrupt(format!("column audit.id: {id}")))?,
                at: Timestamp(r.try_get(1).map_err(db_err)?),
                kind: parse("audit.kind", &kind)?,
                user: r
                    .try_get::<_, Option<uuid::Uuid>>(3)
                    .map_err(db_err)?
                    .map(UserId),
                username: r.try_get(4).map_err(db_err)?,
                device: r
                    .try_get::<_, Option<uuid::Uuid>>(5)
                    .map_err(db_err)?
                    .map(DeviceId),
                doc: r
                    .try_get::<_, Option<uuid::Uuid>>(6)
                    .map_err(db_err)?
                    .map(WorkOrderId),
                number: r.try_get(7).map_err(db_err)?,
                device_time: r
                    .try_get::<_, Option<i64>>(8)
                    .map_err(db_err)?
                    .map(Timestamp),
                detail: r.try_get(9).map_err(db_err)?,
                address: r.try_get(10).map_err(db_err)?,
            })
        })
        .collect()
}

/// Records who holds `doc` as of commit `seq`: `now` is (again) assigned it, remembered from the
/// first time on, and `before`'s assignment ended here if `now` is someone else.
pub async fn record_assignment(
    c: &impl GenericClient,
    doc: WorkOrderId,
    before: Option<UserId>,
    now: Option<UserId>,
    seq: i64,
) -> Result<(), StorageError> {
    if let Some(user) = before.filter(|b| Some(*b) != now) {
        let stmt = c
            .prepare_cached("UPDATE assignments SET left_seq = $3 WHERE doc = $1 AND user_id = $2")
            .await
            .map_err(db_err)?;
        c.execute(&stmt, &[&doc.0, &user.0, &seq])
            .await
            .map_err(db_err)?;
    }
    if let Some(user) = now {
        let stmt = c
            .prepare_cached(
                "INSERT INTO assignments (doc, user_id, since_seq) VALUES ($1, $2, $3)
                 ON CONFLICT (doc, user_id) DO UPDATE SET left_seq = NULL
                 WHERE assignments.left_seq IS NOT NULL",
            )
            .await
            .map_err(db_err)?;
        c.execute(&stmt, &[&doc.0, &user.0, &seq])
            .await
            .map_err(db_err)?;
    }
    Ok(())
}

pub async fn was_assigned(
    c: &impl GenericClient,
    doc: WorkOrderId,
    user: UserId,
) -> Result<bool, StorageError> {
    let stmt = c
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM assignments WHERE doc = $1 AND user_id = $2)")
        .await
        .map_err(db_err)?;
    c.query_one(&stmt, &[&doc.0, &user.0])
        .await
        .map_err(db_err)?
        .try_get(0)
        .map_err(db_err)
}
