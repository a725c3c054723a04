//! The work order index: one row per stored document with the columns lists need, so that "my
//! open jobs by priority" and number lookups never load a document.

use rusqlite::types::{Value, ValueRef};
use rusqlite::{params, params_from_iter, Connection, OptionalExtension, Row};

use fieldsync_proto::{Priority, Timestamp, UserId, WorkOrderId, WorkOrderSummary};

use crate::error::{Error, Result};
use crate::query::{ListOrder, ListQuery};

/// Shortest prefix accepted as a work order reference, so a stray character finds nothing.
const MIN_PREFIX: usize = 3;

pub(crate) fn upsert_summary(conn: &Connection, s: &WorkOrderSummary) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO work_orders (id, number, status, open, priority, customer_name, tier, region,
             category, assignee, created_at, response_due, resolution_due, schedule_start, conflicts)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
         ON CONFLICT (id) DO UPDATE SET
             number = excluded.number, status = excluded.status, open = excluded.open,
             priority = excluded.priority, customer_name = excluded.customer_name,
             tier = excluded.tier, region = excluded.region, category = excluded.category,
             assignee = excluded.assignee, created_at = excluded.created_at,
             response_due = excluded.response_due, resolution_due = excluded.resolution_due,
             schedule_start = excluded.schedule_start, conflicts = excluded.conflicts",
    )?
    .execute(params![
        s.id.to_string(),
        s.number,
        s.status.as_str(),
        s.status.is_open(),
        s.priority.rank(),
        s.customer_name,
        s.tier.as_str(),
        s.region,
        s.category.as_str(),
        s.assignee.map(|a| a.to_string()),
        s.created_at.millis(),
        s.response_due.millis(),
        s.resolution_due.millis(),
        s.schedule_start.map(Timestamp::millis),
        s.conflicts,
    ])?;
    Ok(())
}

const COLUMNS: &str = "id, number, status, priority, customer_name, tier, region, category, \
                       assignee, created_at, response_due, resolution_due, schedule_start, conflicts";

/// A value read from the index that this version cannot understand.
fn corrupt(column: &str, value: &str, e: impl std::fmt::Display) -> Error {
    Error::Corrupt {
        what: format!("the work order index holds {column} '{value}' ({e})"),
    }
}

/// A text column, borrowed from the row (most are parsed, so copying them would be waste).
fn text<'r>(r: &'r Row<'_>, index: usize, column: &str) -> Result<&'r str> {
    r.get_ref(index)?
        .as_str()
        .map_err(|e| corrupt(column, "not text", e))
}

/// Parses a text column into `T`, naming the column and value if it cannot be read.
fn parsed<T>(r: &Row<'_>, index: usize, column: &str) -> Result<T>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    let value = text(r, index, column)?;
    value.parse().map_err(|e| corrupt(column, value, e))
}

/// One index row, in the order of `COLUMNS`.
fn summary_from_row(r: &Row<'_>) -> Result<WorkOrderSummary> {
    let priority: i64 = r.get(3)?;
    let priority = u8::try_from(priority)
        .ok()
        .and_then(Priority::from_rank)
        .ok_or_else(|| corrupt("priority", &priority.to_string(), "not 1 to 4"))?;
    let assignee = match r.get_ref(8)? {
        ValueRef::Null => None,
        _ => Some(parsed::<UserId>(r, 8, "assignee")?),
    };
    Ok(WorkOrderSummary {
        id: parsed::<WorkOrderId>(r, 0, "id")?,
        number: text(r, 1, "number")?.to_owned(),
        status: parsed(r, 2, "status")?,
        priority,
        customer_name: text(r, 4, "customer_name")?.to_owned(),
        tier: parsed(r, 5, "tier")?,
        region: text(r, 6, "region")?.to_owned(),
        category: parsed(r, 7, "category")?,
        assignee,
        created_at: Timestamp(r.get(9)?),
        response_due: Timestamp(r.get(10)?),
        resolution_due: Timestamp(r.get(11)?),
        schedule_start: r.get::<_, Option<i64>>(12)?.map(Timestamp),
        conflicts: u32::try_from(r.get::<_, i64>(13)?).unwrap_or(0),
    })
}

pub(crate) fn list(conn: &Connection, q: &ListQuery) -> Result<Vec<WorkOrderSummary>> {
    let mut sql = format!("SELECT {COLUMNS} FROM work_orders WHERE 1 = 1");
    let mut args: Vec<Value> = Vec::new();
    if let Some(statuses) = &q.statuses {
        if statuses.is_empty() {
            return Ok(Vec::new());
        }
        let marks = vec!["?"; statuses.len()].join(", ");
        sql.push_str(&format!(" AND status IN ({marks})"));
        args.extend(statuses.iter().map(|s| Value::Text(s.as_str().into())));
    }
    if q.open_only {
        sql.push_str(" AND open = 1");
    }
    if let Some(assignee) = q.assignee {
        sql.push_str(" AND assignee = ?");
        args.push(Value::Text(assignee.to_string()));
    }
    sql.push_str(match q.order {
        ListOrder::Priority => " ORDER BY priority, resolution_due, number",
        ListOrder::Due => " ORDER BY resolution_due, priority, number",
        ListOrder::Newest => " ORDER BY created_at DESC, number",
    });
    if let Some(limit) = q.limit {
        sql.push_str(" LIMIT ?");
        args.push(Value::Integer(i64::try_from(limit).unwrap_or(i64::MAX)));
    }
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(params_from_iter(args))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(summary_from_row(row)?);
    }
    Ok(out)
}

pub(crate) fn number_of(conn: &Connection, id: WorkOrderId) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT number FROM work_orders WHERE id = ?1")?
        .query_row([id.to_string()], |r| r.get(0))
        .optional()?)
}

/// Resolves what a person typed: a number (`WO-7KQ2-M9XD`, any case, dashes optional), a full
/// id, or a unique prefix of either.
pub(crate) fn find_by_text(conn: &Connection, input: &str) -> Result<WorkOrderId> {
    let text = input.trim();
    if text.is_empty() {
        return Err(Error::InvalidInput(
            "give a work order number (WO-XXXX-XXXX), id, or the start of one".into(),
        ));
    }
    let not_found = || Error::NotFound {
        what: format!("work order '{text}'"),
    };
    if let Ok(id) = text.parse::<WorkOrderId>() {
        return match number_of(conn, id)? {
            Some(_) => Ok(id),
            None => Err(not_found()),
        };
    }
    let compact: String = text.chars().filter(|c| *c != '-').collect();
    if compact.is_empty() || !compact.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(not_found());
    }
    let upper = compact.to_ascii_uppercase();
    let key = upper.strip_prefix("WO").unwrap_or(&upper);
    // Exact number first: a full number is never ambiguous even if it prefixes nothing else.
    let exact: Option<String> = conn
        .prepare_cached("SELECT id FROM work_orders WHERE replace(number, '-', '') = ?1")?
        .query_row([format!("WO{key}")], |r| r.get(0))
        .optional()?;
    if let Some(id) = exact {
        return id.parse().map_err(|e| corrupt("id", &id, e));
    }
    if compact.len() < MIN_PREFIX {
        return Err(not_found());
    }
    let mut stmt = conn.prepare_cached(
        "SELECT id, number FROM work_orders
         WHERE replace(number, '-', '') LIKE ?1 OR replace(id, '-', '') LIKE ?2
         ORDER BY number LIMIT 6",
    )?;
    let matches: Vec<(String, String)> = stmt
        .query_map(
            [
                format!("WO{key}%"),
                format!("{}%", compact.to_ascii_lowercase()),
            ],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?
        .collect::<Result<_, _>>()?;
    match matches.as_slice() {
        [] => Err(not_found()),
        [(id, _)] => id.parse().map_err(|e| corrupt("id", id, e)),
        many => Err(Error::Ambiguous {
            input: text.to_owned(),
            candidates: many.iter().map(|(_, n)| n.clone()).collect(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use fieldsync_proto::{CustomerTier, ProblemCategory, Status};

    use super::*;
    use crate::store::Store;

    fn summary(number: &str, priority: Priority, due: i64, status: Status) -> WorkOrderSummary {
        WorkOrderSummary {
            id: WorkOrderId::new(),
            number: number.into(),
            status,
            priority,
            customer_name: format!("Customer of {number}"),
            tier: CustomerTier::Standard,
            region: "north".into(),
            category: ProblemCategory::Hardware,
            assignee: None,
            created_at: Timestamp(due - 1_000_000),
            response_due: Timestamp(due - 500_000),
            resolution_due: Timestamp(due),
            schedule_start: None,
            conflicts: 0,
        }
    }

    fn store_with(rows: &[WorkOrderSummary]) -> Store {
        let store = Store::open_in_memory().expect("store");
        store
            .write(|tx| {
                for row in rows {
                    upsert_summary(tx, row)?;
                }
                Ok(())
            })
            .expect("rows");
        store
    }

    fn numbers(list: &[WorkOrderSummary]) -> Vec<&str> {
        list.iter().map(|s| s.number.as_str()).collect()
    }

    #[test]
    fn my_open_jobs_come_by_priority_then_due_time() {
        let me = UserId::new();
        let mut rows = vec![
            summary("WO-AAAA-0003", Priority::P3, 1_000, Status::Accepted),
            summary("WO-AAAA-0001", Priority::P1, 9_000, Status::Assigned),
            summary("WO-AAAA-0002", Priority::P1, 5_000, Status::InProgress),
            summary("WO-AAAA-0004", Priority::P1, 1_000, Status::Completed),
            summary("WO-AAAA-0005", Priority::P1, 1_000, Status::Assigned),
        ];
        for row in &mut rows[..4] {
            row.assignee = Some(me);
        }
        rows[4].assignee = Some(UserId::new());
        let store = store_with(&rows);
        let mine = store
            .read(|c| {
                list(
                    c,
                    &ListQuery {
                        open_only: true,
                        assignee: Some(me),
                        ..ListQuery::default()
                    },
                )
            })
            .expect("list");
        assert_eq!(
            numbers(&mine),
            ["WO-AAAA-0002", "WO-AAAA-0001", "WO-AAAA-0003"]
        );
        assert_eq!(mine[0], rows[2], "the row reads back as written");
    }

    #[test]
    fn filters_orders_and_limits() {
        let rows = vec![
            summary("WO-AAAA-0001", Priority::P2, 3_000, Status::New),
            summary("WO-AAAA-0002", Priority::P4, 1_000, Status::Cancelled),
            summary("WO-AAAA-0003", Priority::P1, 2_000, Status::New),
        ];
        let store = store_with(&rows);
        let query = |q: ListQuery| store.read(|c| list(c, &q)).expect("list");
        let by_due = query(ListQuery {
            order: ListOrder::Due,
            ..Default::default()
        });
        assert_eq!(
            numbers(&by_due),
            ["WO-AAAA-0002", "WO-AAAA-0003", "WO-AAAA-0001"]
        );
        let newest = query(ListQuery {
            order: ListOrder::Newest,
            limit: Some(1),
            ..Default::default()
        });
        assert_eq!(numbers(&newest), ["WO-AAAA-0001"]);
        let cancelled = query(ListQuery {
            statuses: Some(vec![Status::Cancelled]),
            ..Default::default()
        });
        assert_eq!(numbers(&cancelled), ["WO-AAAA-0002"]);
        let none = query(ListQuery {
            statuses: Some(Vec::new()),
            ..Default::default()
        });
        assert!(none.is_empty());
    }

    #[test]
    fn finds_by_number_id_or_unique_prefix() {
        let rows = vec![
            summary("WO-7KQ2-M9XD", Priority::P2, 1, Status::New),
            summary("WO-7KQ3-AAAA", Priority::P2, 1, Status::New),
            summary("WO-BC23-4567", Priority::P2, 1, Status::New),
        ];
        let store = store_with(&rows);
        let find = |text: &str| store.read(|c| find_by_text(c, text));
        assert_eq!(find("WO-7KQ2-M9XD").expect("number"), rows[0].id);
        assert_eq!(find("wo-7kq2-m9xd").expect("any case"), rows[0].id);
        assert_eq!(find("7KQ2M9XD").expect("no dashes"), rows[0].id);
        assert_eq!(find("7kq2").expect("prefix"), rows[0].id);
        assert_eq!(find("BC2").expect("prefix"), rows[2].id);
        assert_eq!(find(&rows[1].id.to_string()).expect("id"), rows[1].id);
        // UUIDv7 ids made together share their leading time bits; the random tail tells them apart.
        let id_prefix: String = rows[2].id.to_string().chars().take(30).collect();
        assert_eq!(find(&id_prefix).expect("id prefix"), rows[2].id);

        match find("7KQ").expect_err("two match") {
            Error::Ambiguous { candidates, .. } => {
                assert_eq!(candidates, ["WO-7KQ2-M9XD", "WO-7KQ3-AAAA"])
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(matches!(find("ZZZZ"), Err(Error::NotFound { .. })));
        assert!(
            matches!(find("7K"), Err(Error::NotFound { .. })),
            "too short"
        );
        assert!(matches!(find("7K%"), Err(Error::NotFound { .. })));
        assert!(matches!(
            find(&WorkOrderId::new().to_string()),
            Err(Error::NotFound { .. })
        ));
        assert!(matches!(find("  "), Err(Error::InvalidInput(_))));
    }
}
