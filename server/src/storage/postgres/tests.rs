//! The PostgreSQL backend against a real server (see `testing` for how one is found): the
//! conformance suite, commit order under concurrency, notices across instances, migrations.

use std::sync::Arc;
use std::time::{Duration, Instant};

use fieldsync_proto::{ChangeHash, CustomerTier, Priority, ProblemCategory, Status};
use fieldsync_proto::{Timestamp, UserId, WorkOrderId, WorkOrderSummary};

use super::testing::ScratchSchema;
use super::*;
use crate::storage::conformance;
use crate::storage::NewChange;

fn summary(id: WorkOrderId) -> WorkOrderSummary {
    WorkOrderSummary {
        id,
        number: fieldsync_proto::human_number(&id),
        status: Status::New,
        priority: Priority::P3,
        customer_name: "Harbor Bakery".into(),
        tier: CustomerTier::Standard,
        region: "north".into(),
        category: ProblemCategory::Hardware,
        assignee: None,
        created_at: Timestamp(1_700_000_000_000),
        response_due: Timestamp(1_700_000_100_000),
        resolution_due: Timestamp(1_700_000_900_000),
        schedule_start: None,
        conflicts: 0,
    }
}

/// A new document with one change.
fn create(id: WorkOrderId) -> DocumentCommit {
    let mut hash = [1u8; 32];
    hash[..16].copy_from_slice(UserId::new().as_uuid().as_bytes());
    DocumentCommit {
        doc: id,
        expected: None,
        snapshot: b"snapshot".to_vec(),
        summary: summary(id),
        sla: fieldsync_proto::SlaFacts::default(),
        usages: Vec::new(),
        entries: Vec::new(),
        changes: vec![NewChange {
            hash: ChangeHash(hash),
            bytes: vec![1, 2, 3],
        }],
        origin: None,
        received_at: Timestamp(1_700_000_000_000),
        known_by: None,
        audit: Vec::new(),
    }
}

async fn commit_ok(store: &PostgresStorage, c: DocumentCommit) -> Seq {
    match store.commit(c).await.expect("commit") {
        CommitOutcome::Committed(seq) => seq,
        CommitOutcome::VersionConflict => panic!("unexpected version conflict"),
    }
}

/// The next notice about one of `docs`, within `wait`.
async fn next_notice(
    feed: &mut broadcast::Receiver<CommitNotice>,
    wait: Duration,
) -> Option<CommitNotice> {
    match tokio::time::timeout(wait, feed.recv()).await {
        Ok(Ok(notice)) => Some(notice),
        Ok(Err(e)) => panic!("feed failed: {e}"),
        Err(_) => None,
    }
}

#[tokio::test]
async fn postgres_passes_the_conformance_suite() {
    let Some(schema) = ScratchSchema::create("conformance").await else {
        return;
    };
    let store = schema.open().await;
    conformance::run_all(Arc::new(store)).await;
}

#[tokio::test]
async fn postgres_concurrent_commits_never_skip_a_change() {
    let Some(schema) = ScratchSchema::create("concurrent_commits").await else {
        return;
    };
    // Two instances: two pools, two listeners, one database.
    let first = schema.open().await;
    let second = schema.open().await;
    conformance::concurrent_commits_never_skip(Arc::new(first), Arc::new(second)).await;
}

#[tokio::test]
async fn postgres_instances_never_merge_onto_a_stale_cached_document() {
    use crate::sync::scenarios::{self, Instance};
    let Some(schema) = ScratchSchema::create("stale_cache").await else {
        return;
    };
    let first = schema.open().await;
    let second = schema.open().await;
    scenarios::instances_never_merge_onto_a_stale_cached_document(
        Instance::new(Arc::new(first)),
        Instance::new(Arc::new(second)),
    )
    .await;
}

#[tokio::test]
async fn postgres_notices_cross_instances_within_a_second() {
    let Some(schema) = ScratchSchema::create("notices_cross").await else {
        return;
    };
    let one = schema.open().await;
    let two = schema.open().await;
    let mut on_one = one.subscribe();
    let mut on_two = two.subscribe();

    let id = WorkOrderId::new();
    let started = Instant::now();
    let seq = commit_ok(&two, create(id)).await;
    let heard = next_notice(&mut on_one, Duration::from_secs(1))
        .await
        .expect("instance one hears of a commit made through instance two within a second");
    let latency = started.elapsed();
    assert_eq!(heard.doc, id);
    assert_eq!(heard.seq, seq);
    let own = next_notice(&mut on_two, Duration::from_secs(1))
        .await
        .expect("the committing instance hears of it too");
    assert_eq!(own, heard);
    eprintln!("commit through one instance heard on the other after {latency:?}");

    // A refused commit is not announced anywhere.
    assert_eq!(
        two.commit(create(id)).await.expect("commit"),
        CommitOutcome::VersionConflict
    );
    assert_eq!(
        next_notice(&mut on_one, Duration::from_millis(300)).await,
        None
    );
}

#[tokio::test]
async fn postgres_listener_reconnects_and_catches_up() {
    let Some(schema) = ScratchSchema::create("listener_reconnects").await else {
        return;
    };
    let one = schema.open().await;
    let two = schema.open().await;
    let mut feed = one.subscribe();

    // Cut every listening connection of this schema (both instances'), then commit through
    // the second instance while nobody listens.
    let admin = schema.connect().await;
    let app = feed::application_name(&one.inner.channel);
    let cut = admin
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
            &[&app],
        )
        .await
        .expect("terminate");
    assert_eq!(cut.len(), 2, "one listening connection per instance");
    let mut expected = Vec::new();
    for _ in 0..5 {
        let id = WorkOrderId::new();
        expected.push((id, commit_ok(&two, create(id)).await));
    }

    let mut heard = Vec::new();
    while heard.len() < expected.len() {
        let notice = next_notice(&mut feed, Duration::from_secs(10))
            .await
            .expect("the notices missed while reconnecting arrive");
        heard.push((notice.doc, notice.seq));
    }
    assert_eq!(heard, expected, "each once, in commit order");

    // And live notices flow again afterwards.
    let id = WorkOrderId::new();
    let seq = commit_ok(&two, create(id)).await;
    let notice = next_notice(&mut feed, Duration::from_secs(5))
        .await
        .expect("live again");
    assert_eq!((notice.doc, notice.seq), (id, seq));
}

#[tokio::test]
async fn postgres_notice_log_keeps_only_recent_notices() {
    let Some(schema) = ScratchSchema::create("notice_log_trim").await else {
        return;
    };
    let store = schema.open().await;
    let admin = schema.connect().await;
    let newest = documents::NOTICE_LOG_KEEP + 10;
    admin
        .execute(
            "INSERT INTO commit_notices (seq, doc)
             SELECT n, gen_random_uuid() FROM generate_series(1::BIGINT, $1) AS n",
            &[&newest],
        )
        .await
        .expect("fill the log");
    documents::trim_notice_log(&store.client().await.expect("client"), newest)
        .await
        .expect("trim");
    let (count, oldest): (i64, i64) = {
        let row = admin
            .query_one("SELECT COUNT(*), MIN(seq) FROM commit_notices", &[])
            .await
            .expect("count");
        (row.get(0), row.get(1))
    };
    assert_eq!(count, documents::NOTICE_LOG_KEEP);
    assert_eq!(oldest, 11);
}

#[tokio::test]
async fn postgres_pool_replaces_connections_the_server_closed() {
    let Some(schema) = ScratchSchema::create("pool_recovers").await else {
        return;
    };
    let store = schema.open().await;
    let id = WorkOrderId::new();
    commit_ok(&store, create(id)).await;
    // As after a database restart or an administrator's clean-up: every connection of the
    // pool (named after the schema in tests) is closed by the server.
    let admin = schema.connect().await;
    let ended = admin
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE application_name = $1 AND pid <> pg_backend_pid()",
            &[&schema.name()],
        )
        .await
        .expect("terminate");
    assert!(!ended.is_empty());
    tokio::time::sleep(Duration::from_millis(200)).await;
    store.ping().await.expect("a fresh connection answers");
    assert!(store.load_document(id).await.expect("load").is_some());
}

#[tokio::test]
async fn postgres_instances_starting_together_migrate_once() {
    let Some(schema) = ScratchSchema::create("migrate_together").await else {
        return;
    };
    let url = schema.url();
    let opened = futures_join_all((0..4).map(|_| {
        let url = url.clone();
        tokio::spawn(async move { PostgresStorage::open(&url).await })
    }))
    .await;
    for store in &opened {
        store.as_ref().expect("every instance starts");
    }
    let admin = schema.connect().await;
    let versions: Vec<i32> = admin
        .query("SELECT version FROM schema_version ORDER BY version", &[])
        .await
        .expect("versions")
        .iter()
        .map(|r| r.get(0))
        .collect();
    let expected: Vec<i32> = (1..=migrations::LATEST as i32).collect();
    assert_eq!(versions, expected);
    let counter: i64 = admin
        .query_one("SELECT value FROM sequence", &[])
        .await
        .expect("sequence")
        .get(0);
    assert_eq!(counter, 0, "the sequence row is created once");

    // A database written by a newer server is refused with a message saying what to do.
    admin
        .execute(
            "INSERT INTO schema_version (version) VALUES ($1)",
            &[&(migrations::LATEST as i32 + 1)],
        )
        .await
        .expect("insert");
    let err = PostgresStorage::open(&url).await.expect_err("too new");
    assert!(err.to_string().contains("upgrade the server"), "{err}");
    drop(opened);
}

/// Awaits spawned tasks in order.
async fn futures_join_all<T>(tasks: impl Iterator<Item = tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut out = Vec::new();
    for task in tasks.collect::<Vec<_>>() {
        out.push(task.await.expect("task"));
    }
    out
}

#[tokio::test]
async fn postgres_reopening_keeps_data() {
    let Some(schema) = ScratchSchema::create("reopen").await else {
        return;
    };
    let id = WorkOrderId::new();
    let seq = {
        let store = schema.open().await;
        commit_ok(&store, create(id)).await
    };
    let store = schema.open().await;
    assert_eq!(store.max_seq().await.expect("max"), seq);
    let doc = store.load_document(id).await.expect("load").expect("kept");
    assert_eq!(doc.version, seq);
}

#[test]
fn both_backends_are_at_the_same_schema_version() {
    // A migration added to one backend needs its twin in the other.
    assert_eq!(
        migrations::LATEST,
        crate::storage::sqlite::migrations::LATEST
    );
}

#[tokio::test]
async fn an_unreachable_server_is_named_without_the_password() {
    // Nothing listens on port 1 of the loopback address: refused at once.
    let err = PostgresStorage::open("postgres://fieldsync:s3cret-pw@127.0.0.1:1/fieldsync")
        .await
        .expect_err("nothing there");
    let text = err.to_string();
    assert!(
        text.contains("postgres://fieldsync@127.0.0.1:1/fieldsync"),
        "{text}"
    );
    assert!(!text.contains("s3cret-pw"), "{text}");

    let err = PostgresStorage::open("mysql://localhost/db")
        .await
        .expect_err("not postgres");
    assert!(err.to_string().contains("postgres://"), "{err}");
}

#[test]
fn notices_survive_their_text_form() {
    let notice = CommitNotice {
        doc: WorkOrderId::new(),
        seq: Seq(42),
        assignee: Some(UserId::new()),
        previous_assignee: None,
    };
    let text = documents::encode_notice(&notice);
    assert_eq!(documents::decode_notice(&text), Some(notice));
    for bad in [
        "",
        "42",
        "x y - -",
        "42 not-a-uuid - -",
        &format!("{text} extra"),
    ] {
        assert_eq!(documents::decode_notice(bad), None, "{bad:?}");
    }
}

#[test]
fn channel_names_fit_and_differ_per_schema() {
    let a = feed::channel_name("public");
    let b = feed::channel_name("fs_test_conformance_0123456789ab");
    assert_ne!(a, b);
    assert!(a.len() <= 63 && b.len() <= 63);
    assert!(feed::application_name(&b).len() <= 63);
}

#[tokio::test]
async fn postgres_audit_trail_refuses_updates_and_deletes() {
    let Some(schema) = ScratchSchema::create("audit_append_only").await else {
        return;
    };
    let _store = schema.open().await;
    let admin = schema.connect().await;
    admin
        .execute(
            "INSERT INTO audit (at, kind, detail) VALUES (1, 'login_failed', 'x')",
            &[],
        )
        .await
        .expect("insert");
    for sql in [
        "UPDATE audit SET detail = 'y'",
        "DELETE FROM audit",
        "TRUNCATE audit",
    ] {
        let err = admin.execute(sql, &[]).await.expect_err(sql);
        let text = convert::explain(&err);
        assert!(text.contains("append-only"), "{sql}: {text}");
    }
}

#[tokio::test]
async fn postgres_upgrading_grants_current_assignees() {
    let Some(schema) = ScratchSchema::create("upgrade_grants").await else {
        return;
    };
    let admin = schema.connect().await;
    admin
        .batch_execute(&format!(
            "CREATE TABLE schema_version (version INTEGER NOT NULL);
             INSERT INTO schema_version (version) VALUES (1);
             {}
             INSERT INTO documents VALUES ('00000000-0000-7000-8000-000000000001', '\\x00', 3,
                 'WO-1', 'assigned', 3, 'c', 'vip', 'north', 'hardware',
                 '00000000-0000-7000-8000-0000000000aa', 0, 0, 0, NULL, 0);",
            include_str!("../../../migrations/postgres/0001_initial.sql")
        ))
        .await
        .expect("a version-1 database");
    let store = schema.open().await;
    let doc: WorkOrderId = "00000000-0000-7000-8000-000000000001".parse().expect("id");
    let user: UserId = "00000000-0000-7000-8000-0000000000aa".parse().expect("id");
    assert!(store.was_assigned(doc, user).await.expect("grant"));
    let since: i64 = admin
        .query_one(
            "SELECT since_seq FROM assignments WHERE doc = $1",
            &[&doc.0],
        )
        .await
        .expect("grant row")
        .get(0);
    assert_eq!(since, 3);
}
