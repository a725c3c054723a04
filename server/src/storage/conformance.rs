//! The behaviour every storage backend must have, as one suite each backend's tests run.
//!
//! The functions share one store and only assume what they wrote themselves, so they can run
//! one after another on the same database (ids and usernames are fresh every time).

use std::collections::HashMap;

use fieldsync_proto::api::{AuditKind, TechnicianProfile};
use fieldsync_proto::wire::{Cursor, PullLimits, UpdatePayload};
use fieldsync_proto::{
    ChangeHash, CustomerTier, DeviceId, EntryId, FollowUp, MovementKind, Priority, ProblemCategory,
    Role, SlaFacts, Status, StockMovement, Timestamp, UserId, WorkOrderId, WorkOrderSummary,
};

use super::{
    AuditQuery, CandidateQuery, CommitNotice, CommitOutcome, Delivery, DeliveryRecord,
    DocumentCommit, HeldLimit, ListedWorkOrder, NewAuditEntry, NewChange, NewSession, Part,
    ReviewResolution, SafetyLevel, Scope, Seq, SharedStorage, StorageError, TokenHash, User,
    UserRecord, WorkOrderQuery,
};
use crate::sync::budget::{PageReservation, PullBudget};
use crate::sync::pull::{pull, PullRequest};

/// Runs every check in this module.
pub async fn run_all(store: SharedStorage) {
    users(store.clone()).await;
    devices_and_sessions(store.clone()).await;
    commit_and_version_conflicts(store.clone()).await;
    change_log(store.clone()).await;
    changes_with_their_summary(store.clone()).await;
    pull_scopes_and_paging(store.clone()).await;
    pull_reads_only_the_technicians_own_changes(store.clone()).await;
    candidates_with_their_changes(store.clone()).await;
    deliveries(store.clone()).await;
    work_order_lists(store.clone()).await;
    technician_load(store.clone()).await;
    stock_ledger(store.clone()).await;
    follow_ups_receipts_and_reviews(store.clone()).await;
    import_is_all_or_nothing(store.clone()).await;
    commit_notices(store.clone()).await;
    device_admin(store.clone()).await;
    assignment_grants(store.clone()).await;
    audit_trail(store.clone()).await;
    parts_catalogue(store).await;
}

/// Every committed update is announced once, with the assignee before and after; refused
/// commits are not announced.
pub async fn commit_notices(store: SharedStorage) {
    let mut feed = store.subscribe();
    let id = WorkOrderId::new();
    let (a, b) = (UserId::new(), UserId::new());
    let first = commit_ok(&store, new_doc(id, Some(a), vec![change(1)])).await;
    let refused = store
        .commit(new_doc(id, None, vec![change(2)]))
        .await
        .expect("commit");
    assert_eq!(refused, CommitOutcome::VersionConflict);
    let mut reassign = new_doc(id, Some(b), vec![change(3)]);
    reassign.expected = Some(first);
    let second = commit_ok(&store, reassign).await;

    let mut mine = Vec::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while mine.len() < 2 && std::time::Instant::now() < deadline {
        match tokio::time::timeout(std::time::Duration::from_secs(5), feed.recv()).await {
            Ok(Ok(notice)) if notice.doc == id => mine.push(notice),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => panic!("feed failed: {e}"),
            Err(_) => break,
        }
    }
    assert_eq!(
        mine,
        vec![
            CommitNotice {
                doc: id,
                seq: first,
                assignee: Some(a),
                previous_assignee: None
            },
            CommitNotice {
                doc: id,
                seq: second,
                assignee: Some(b),
                previous_assignee: Some(a)
            },
        ]
    );
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", &UserId::new().to_string()[24..])
}

fn user(role: Role) -> UserRecord {
    UserRecord {
        user: User {
            id: UserId::new(),
            username: unique(role.as_str()),
            display_name: "Someone".into(),
            role,
            profile: TechnicianProfile {
                skills: vec!["hardware".into(), "software".into()],
                region: "north".into(),
                latitude: 53.55,
                longitude: 9.99,
                senior: true,
            },
        },
        password_hash: "$argon2id$v=19$stand-in".into(),
        created_at: Timestamp(1_700_000_000_000),
    }
}

/// A plausible summary of a work order, for commits made up by tests.
pub fn summary(id: WorkOrderId, assignee: Option<UserId>) -> WorkOrderSummary {
    WorkOrderSummary {
        id,
        number: fieldsync_proto::human_number(&id),
        status: if assignee.is_some() {
            Status::Assigned
        } else {
            Status::New
        },
        priority: Priority::P3,
        customer_name: "Harbor Bakery".into(),
        tier: CustomerTier::Standard,
        region: "north".into(),
        category: ProblemCategory::Hardware,
        assignee,
        created_at: Timestamp(1_700_000_000_000),
        response_due: Timestamp(1_700_000_100_000),
        resolution_due: Timestamp(1_700_000_900_000),
        schedule_start: None,
        conflicts: 0,
    }
}

/// A made-up change; its bytes are `tag` three times.
pub fn change(tag: u8) -> NewChange {
    let mut hash = [tag; 32];
    // Distinct across calls, so that documents never share change hashes by accident.
    hash[..16].copy_from_slice(UserId::new().as_uuid().as_bytes());
    NewChange {
        hash: ChangeHash(hash),
        bytes: vec![tag; 3],
    }
}

/// A commit creating `id` with `changes`.
pub fn new_doc(
    id: WorkOrderId,
    assignee: Option<UserId>,
    changes: Vec<NewChange>,
) -> DocumentCommit {
    DocumentCommit {
        doc: id,
        expected: None,
        snapshot: b"snapshot-1".to_vec(),
        summary: summary(id, assignee),
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

/// `doc` as sent whole to a device at `seq`.
pub fn sent(doc: WorkOrderId, seq: Seq) -> DeliveryRecord {
    DeliveryRecord {
        doc,
        delivery: Delivery {
            sent_seq: seq,
            removed: false,
        },
    }
}

/// Commits `c`, which must not conflict.
pub async fn commit_ok(store: &SharedStorage, c: DocumentCommit) -> Seq {
    match store.commit(c).await.expect("commit") {
        CommitOutcome::Committed(seq) => seq,
        CommitOutcome::VersionConflict => panic!("unexpected version conflict"),
    }
}

pub async fn users(store: SharedStorage) {
    store.ping().await.expect("ping");
    let before = store.user_count().await.expect("count");
    let tech = user(Role::Technician);
    store.create_user(tech.clone()).await.expect("create");
    assert_eq!(store.user_count().await.expect("count"), before + 1);

    let mut twin = user(Role::Dispatcher);
    twin.user.username = tech.user.username.to_uppercase();
    match store.create_user(twin).await {
        Err(StorageError::UsernameTaken(name)) => {
            assert_eq!(name, tech.user.username.to_uppercase())
        }
        other => panic!("a username differing only in case must be refused, got {other:?}"),
    }

    let (found, hash) = store
        .user_by_username(&tech.user.username.to_uppercase())
        .await
        .expect("lookup")
        .expect("found regardless of case");
    assert_eq!(found, tech.user);
    assert_eq!(hash, tech.password_hash);
    assert_eq!(
        store.user(tech.user.id).await.expect("by id"),
        Some(tech.user.clone())
    );
    assert_eq!(store.user(UserId::new()).await.expect("by id"), None);
    assert!(store
        .user_by_username("nobody-at-all")
        .await
        .expect("lookup")
        .is_none());

    let techs = store.users_with_role(Role::Technician).await.expect("role");
    assert!(techs.iter().any(|u| u.id == tech.user.id));
    assert!(techs.iter().all(|u| u.role == Role::Technician));
    assert!(
        techs.windows(2).all(|w| w[0].username <= w[1].username),
        "ordered by username"
    );
}

pub async fn devices_and_sessions(store: SharedStorage) {
    let a = user(Role::Technician);
    let b = user(Role::Technician);
    store.create_user(a.clone()).await.expect("a");
    store.create_user(b.clone()).await.expect("b");
    let now = Timestamp(1_700_000_000_000);

    let first = store
        .register_device(a.user.id, None, "tablet", now)
        .await
        .expect("register");
    let again = store
        .register_device(
            a.user.id,
            Some(first),
            "tablet, renamed",
            now.plus_minutes(1),
        )
        .await
        .expect("re-register");
    assert_eq!(first, again, "a known device of the same user is re-used");
    let chosen = DeviceId::new();
    let registered = store
        .register_device(a.user.id, Some(chosen), "laptop", now)
        .await
        .expect("register chosen id");
    assert_eq!(registered, chosen, "an unknown id is registered as asked");
    let other = store
        .register_device(b.user.id, Some(first), "stolen id", now)
        .await
        .expect("register");
    assert_ne!(other, first, "someone else's device id is never shared");

    let mut bytes = [7u8; 32];
    bytes[..16].copy_from_slice(UserId::new().as_uuid().as_bytes());
    let token = TokenHash(bytes);
    store
        .create_session(NewSession {
            token,
            user: a.user.id,
            device: first,
            created_at: now,
            expires_at: now.plus_minutes(60),
        })
        .await
        .expect("session");
    let session = store.session(token).await.expect("lookup").expect("found");
    assert_eq!(session.user, a.user);
    assert_eq!(session.device, first);
    assert_eq!(session.expires_at, now.plus_minutes(60));
    assert!(!session.revoked);
    assert!(store
        .session(TokenHash([0; 32]))
        .await
        .expect("lookup")
        .is_none());

    store
        .touch_device(first, now.plus_minutes(30))
        .await
        .expect("touch");
    let session = store.session(token).await.expect("lookup").expect("found");
    assert_eq!(session.device_last_seen, now.plus_minutes(30));
    store.touch_device(first, now).await.expect("touch");
    let session = store.session(token).await.expect("lookup").expect("found");
    assert_eq!(
        session.device_last_seen,
        now.plus_minutes(30),
        "never goes back"
    );
}

pub async fn commit_and_version_conflicts(store: SharedStorage) {
    let id = WorkOrderId::new();
    assert!(store.load_document(id).await.expect("load").is_none());
    let start = store.max_seq().await.expect("max");

    let first = commit_ok(&store, new_doc(id, None, vec![change(1)])).await;
    assert!(first > start);
    assert_eq!(store.max_seq().await.expect("max"), first);
    let stored = store
        .load_document(id)
        .await
        .expect("load")
        .expect("stored");
    assert_eq!(stored.version, first);
    assert_eq!(stored.snapshot, b"snapshot-1");
    assert_eq!(stored.summary, summary(id, None));

    // Creating it again, or updating from a stale version, is refused and stores nothing.
    let again = store
        .commit(new_doc(id, None, vec![change(2)]))
        .await
        .expect("commit");
    assert_eq!(again, CommitOutcome::VersionConflict);
    let mut stale = new_doc(id, None, vec![change(3)]);
    stale.expected = Some(Seq(first.0.saturating_sub(1)));
    assert_eq!(
        store.commit(stale).await.expect("commit"),
        CommitOutcome::VersionConflict
    );
    assert_eq!(
        store.max_seq().await.expect("max"),
        first,
        "no sequence number used"
    );
    let log = store
        .changes_after(id, Seq(0), DeviceId::new())
        .await
        .expect("changes")
        .expect("some");
    assert_eq!(
        log.changes,
        vec![vec![1; 3]],
        "refused commits leave no change rows"
    );

    let tech = UserId::new();
    let mut update = new_doc(id, Some(tech), vec![change(4)]);
    update.expected = Some(first);
    update.snapshot = b"snapshot-2".to_vec();
    let second = commit_ok(&store, update).await;
    assert!(second > first);
    let stored = store
        .load_document(id)
        .await
        .expect("load")
        .expect("stored");
    assert_eq!(stored.version, second);
    assert_eq!(stored.snapshot, b"snapshot-2");
    assert_eq!(stored.summary.assignee, Some(tech));
}

pub async fn change_log(store: SharedStorage) {
    let id = WorkOrderId::new();
    let phone = DeviceId::new();
    let tablet = DeviceId::new();
    let mut create = new_doc(id, None, vec![change(1), change(2)]);
    create.origin = Some(phone);
    create.known_by = Some(phone);
    let s1 = commit_ok(&store, create).await;
    assert_eq!(
        store.delivery(phone, id).await.expect("delivery"),
        Some(Delivery {
            sent_seq: Seq(0),
            removed: false
        }),
        "the creating device already has the document"
    );
    let mut edit = new_doc(id, None, vec![change(3)]);
    edit.expected = Some(s1);
    edit.origin = Some(tablet);
    let s2 = commit_ok(&store, edit).await;
    let mut server = new_doc(id, None, vec![change(4)]);
    server.expected = Some(s2);
    commit_ok(&store, server).await;

    let store = &store;
    let changes = |after, except| async move {
        store
            .changes_after(id, after, except)
            .await
            .expect("changes after")
            .map(|a| a.changes)
    };
    assert_eq!(
        changes(Seq(0), DeviceId::new()).await,
        Some(vec![vec![1; 3], vec![2; 3], vec![3; 3], vec![4; 3]]),
        "in commit order, and in the given order within a commit"
    );
    assert_eq!(
        changes(Seq(0), phone).await,
        Some(vec![vec![3; 3], vec![4; 3]]),
        "a device is not sent its own changes"
    );
    assert_eq!(
        changes(s1, DeviceId::new()).await,
        Some(vec![vec![3; 3], vec![4; 3]])
    );
    assert_eq!(
        changes(s2, tablet).await,
        Some(vec![vec![4; 3]]),
        "changes the server made go to every device"
    );
}

/// Changes come with the stored summary of the document they lead to, read with them; a
/// document with nothing to send (or none at all) answers nothing.
pub async fn changes_with_their_summary(store: SharedStorage) {
    let id = WorkOrderId::new();
    let tablet = DeviceId::new();
    let mut create = new_doc(id, None, vec![change(1)]);
    create.origin = Some(tablet);
    let s1 = commit_ok(&store, create).await;
    let tech = UserId::new();
    let mut assign = new_doc(id, Some(tech), vec![change(2), change(3)]);
    assign.expected = Some(s1);
    let s2 = commit_ok(&store, assign).await;

    let after = store
        .changes_after(id, s1, tablet)
        .await
        .expect("changes after")
        .expect("the assignment is new to the tablet");
    assert_eq!(after.changes, vec![vec![2; 3], vec![3; 3]]);
    assert_eq!(after.summary, summary(id, Some(tech)), "the latest summary");

    let none = store.changes_after(id, s2, DeviceId::new()).await;
    assert_eq!(
        none.expect("changes after"),
        None,
        "nothing committed after the latest version"
    );
    let own = WorkOrderId::new();
    let mut create = new_doc(own, None, vec![change(4)]);
    create.origin = Some(tablet);
    commit_ok(&store, create).await;
    let none = store.changes_after(own, Seq(0), tablet).await;
    assert_eq!(
        none.expect("changes after"),
        None,
        "the tablet's own change is all there is"
    );
    let unknown = store
        .changes_after(WorkOrderId::new(), Seq(0), tablet)
        .await
        .expect("changes after");
    assert_eq!(unknown, None, "an unknown document");
}

pub async fn pull_scopes_and_paging(store: SharedStorage) {
    let tech = UserId::new();
    let device = DeviceId::new();
    let start = store.max_seq().await.expect("max");
    let mine_a = WorkOrderId::new();
    let theirs = WorkOrderId::new();
    let mine_b = WorkOrderId::new();
    let sa = commit_ok(&store, new_doc(mine_a, Some(tech), vec![change(1)])).await;
    let st = commit_ok(
        &store,
        new_doc(theirs, Some(UserId::new()), vec![change(2)]),
    )
    .await;
    let sb = commit_ok(&store, new_doc(mine_b, Some(tech), vec![change(3)])).await;

    let query = |scope, after, limit| CandidateQuery {
        device,
        scope,
        after,
        limit,
    };
    let mine = store
        .pull_candidates(query(Scope::AssignedTo(tech), start, 10))
        .await
        .expect("candidates");
    assert_eq!(
        mine.iter()
            .map(|c| (c.doc, c.updated_seq, c.in_scope))
            .collect::<Vec<_>>(),
        vec![(mine_a, sa, true), (mine_b, sb, true)],
        "a technician's scope holds only their work orders, in sequence order"
    );
    assert!(mine.iter().all(|c| c.delivery.is_none()));
    assert_eq!(
        store
            .count_candidates(query(Scope::AssignedTo(tech), start, 1))
            .await
            .expect("count"),
        2
    );

    let all = store
        .pull_candidates(query(Scope::All, start, 2))
        .await
        .expect("candidates");
    assert_eq!(
        all.iter().map(|c| c.doc).collect::<Vec<_>>(),
        vec![mine_a, theirs],
        "limited, oldest first"
    );
    let rest = store
        .pull_candidates(query(Scope::All, all[1].updated_seq, 10))
        .await
        .expect("candidates");
    assert_eq!(rest.first().map(|c| c.doc), Some(mine_b));
    assert!(rest.iter().all(|c| c.updated_seq > st));
    assert_eq!(
        store
            .count_candidates(query(Scope::All, sa, 100))
            .await
            .expect("count"),
        store.max_seq().await.expect("max").0 - sa.0,
        "every later commit here updated one document"
    );

    // Reassigned away: still a candidate for the device it was sent to, now out of scope.
    store
        .record_deliveries(
            device,
            vec![DeliveryRecord {
                doc: mine_a,
                delivery: Delivery {
                    sent_seq: sa,
                    removed: false,
                },
            }],
        )
        .await
        .expect("record");
    let mut away = new_doc(mine_a, Some(UserId::new()), vec![change(4)]);
    away.expected = Some(sa);
    let moved = commit_ok(&store, away).await;
    let after_move = store
        .pull_candidates(query(Scope::AssignedTo(tech), sb, 10))
        .await
        .expect("candidates");
    assert_eq!(after_move.len(), 1);
    assert_eq!(after_move[0].doc, mine_a);
    assert_eq!(after_move[0].updated_seq, moved);
    assert!(!after_move[0].in_scope);
    assert_eq!(
        after_move[0].delivery,
        Some(Delivery {
            sent_seq: sa,
            removed: false
        })
    );
    let other_device = store
        .pull_candidates(CandidateQuery {
            device: DeviceId::new(),
            ..query(Scope::AssignedTo(tech), sb, 10)
        })
        .await
        .expect("candidates");
    assert!(
        other_device.is_empty(),
        "never sent there, not in scope: not a candidate"
    );
}

/// A technician's candidates are their own documents and the documents this very device was
/// sent that left them (reassigned or unassigned), each once, in sequence order; never anyone
/// else's work, however much of it there is.
/// Candidates read with the changes of the documents the device holds are exactly what the
/// separate reads give: the newest sequence number, the candidates, and for the first held
/// ones in scope their changes from others (or nothing, where all is the device's own).
pub async fn candidates_with_their_changes(store: SharedStorage) {
    let tech = UserId::new();
    let tablet = DeviceId::new();
    let edit = |doc, from, tag, origin| {
        let mut c = new_doc(doc, Some(tech), vec![change(tag)]);
        c.expected = Some(from);
        c.origin = origin;
        c
    };
    let (office_edited, own_edit, unsent) =
        (WorkOrderId::new(), WorkOrderId::new(), WorkOrderId::new());
    let a1 = commit_ok(&store, new_doc(office_edited, Some(tech), vec![change(1)])).await;
    let b1 = commit_ok(&store, new_doc(own_edit, Some(tech), vec![change(2)])).await;
    store
        .record_deliveries(tablet, vec![sent(office_edited, a1), sent(own_edit, b1)])
        .await
        .expect("record");
    let cursor = store.max_seq().await.expect("max");
    commit_ok(&store, edit(office_edited, a1, 3, None)).await;
    commit_ok(&store, edit(own_edit, b1, 4, Some(tablet))).await;
    commit_ok(&store, new_doc(unsent, Some(tech), vec![change(5)])).await;

    let query = CandidateQuery {
        device: tablet,
        scope: Scope::AssignedTo(tech),
        after: cursor,
        limit: 10,
    };
    let read_with = |docs, bytes| {
        let store = store.clone();
        async move {
            let batch = store
                .pull_candidates_with_changes(query, cursor, HeldLimit { docs, bytes })
                .await
                .expect("batch");
            let mut read: Vec<WorkOrderId> = batch.changes.keys().copied().collect();
            read.sort_by_key(|doc| *doc != office_edited);
            (batch, read)
        }
    };
    let (batch, _) = read_with(10, usize::MAX).await;
    assert_eq!(batch.high_water, store.max_seq().await.expect("max"));
    assert_eq!(
        batch.candidates,
        store.pull_candidates(query).await.expect("candidates")
    );
    assert_eq!(batch.changes.len(), 2, "the two documents the tablet holds");
    let office = batch.changes[&office_edited]
        .as_ref()
        .expect("the office's edit");
    assert_eq!(office.changes, vec![vec![3; 3]]);
    assert_eq!(office.summary, summary(office_edited, Some(tech)));
    assert_eq!(batch.changes[&own_edit], None, "only the tablet's own edit");
    assert!(
        !batch.changes.contains_key(&unsent),
        "sent whole, not as changes"
    );

    let all = vec![office_edited, own_edit];
    assert_eq!(
        read_with(1, usize::MAX).await.1,
        vec![office_edited],
        "only as many documents as asked for, in candidate order"
    );
    // The office's change is 3 bytes: reading stops once the changes read reach the bytes
    // asked for, keeping the document that crossed the line.
    assert_eq!(read_with(10, 1).await.1, vec![office_edited]);
    assert_eq!(read_with(10, 3).await.1, vec![office_edited]);
    assert_eq!(read_with(10, 4).await.1, all);
    assert!(read_with(0, usize::MAX).await.0.changes.is_empty());
}

pub async fn pull_reads_only_the_technicians_own_changes(store: SharedStorage) {
    let tech = UserId::new();
    let device = DeviceId::new();
    let other = UserId::new();
    let reassign = |doc, from, to| {
        let mut c = new_doc(doc, to, vec![change(9)]);
        c.expected = Some(from);
        c
    };

    // Sent to this device, then reassigned away, then unassigned; and one sent and still theirs.
    let (away, dropped, kept) = (WorkOrderId::new(), WorkOrderId::new(), WorkOrderId::new());
    let away_1 = commit_ok(&store, new_doc(away, Some(tech), vec![change(1)])).await;
    let dropped_1 = commit_ok(&store, new_doc(dropped, Some(tech), vec![change(2)])).await;
    let kept_1 = commit_ok(&store, new_doc(kept, Some(tech), vec![change(3)])).await;
    store
        .record_deliveries(
            device,
            vec![
                sent(away, away_1),
                sent(dropped, dropped_1),
                sent(kept, kept_1),
            ],
        )
        .await
        .expect("record");
    // Sent to another device of someone else, then reassigned to them: not this device's.
    let elsewhere = WorkOrderId::new();
    let elsewhere_1 = commit_ok(&store, new_doc(elsewhere, Some(tech), vec![change(4)])).await;
    store
        .record_deliveries(DeviceId::new(), vec![sent(elsewhere, elsewhere_1)])
        .await
        .expect("record");
    let cursor = store.max_seq().await.expect("max");

    // Everyone else's work, before and between this technician's.
    let mut others = Vec::new();
    for n in 0..20u8 {
        let doc = WorkOrderId::new();
        commit_ok(&store, new_doc(doc, Some(UserId::new()), vec![change(n)])).await;
        others.push(doc);
    }
    let away_2 = commit_ok(&store, reassign(away, away_1, Some(other))).await;
    let mine = WorkOrderId::new();
    let mine_1 = commit_ok(&store, new_doc(mine, Some(tech), vec![change(5)])).await;
    let unassigned = WorkOrderId::new();
    commit_ok(&store, new_doc(unassigned, None, vec![change(6)])).await;
    let dropped_2 = commit_ok(&store, reassign(dropped, dropped_1, None)).await;
    commit_ok(&store, reassign(elsewhere, elsewhere_1, Some(other))).await;
    let kept_2 = commit_ok(&store, reassign(kept, kept_1, Some(tech))).await;

    let query = |after, limit| CandidateQuery {
        device,
        scope: Scope::AssignedTo(tech),
        after,
        limit,
    };
    let candidates = store
        .pull_candidates(query(cursor, 100))
        .await
        .expect("candidates");
    let delivered = |seq| {
        Some(Delivery {
            sent_seq: seq,
            removed: false,
        })
    };
    assert_eq!(
        candidates
            .iter()
            .map(|c| (c.doc, c.updated_seq, c.in_scope, c.delivery))
            .collect::<Vec<_>>(),
        vec![
            (away, away_2, false, delivered(away_1)),
            (mine, mine_1, true, None),
            (dropped, dropped_2, false, delivered(dropped_1)),
            (kept, kept_2, true, delivered(kept_1)),
        ],
        "their own documents and the ones this device was sent, each once, in sequence order"
    );
    assert_eq!(
        store
            .count_candidates(query(cursor, 1))
            .await
            .expect("count"),
        4
    );
    // Paging through them gives the same, in the same order.
    let first = store
        .pull_candidates(query(cursor, 2))
        .await
        .expect("first page");
    let rest = store
        .pull_candidates(query(first[1].updated_seq, 2))
        .await
        .expect("second page");
    assert_eq!(
        first.iter().chain(&rest).map(|c| c.doc).collect::<Vec<_>>(),
        vec![away, mine, dropped, kept]
    );
    assert_eq!(
        store
            .count_candidates(query(first[1].updated_seq, 1))
            .await
            .expect("count"),
        2
    );
    assert!(
        store
            .pull_candidates(query(kept_2, 10))
            .await
            .expect("none left")
            .is_empty(),
        "nothing after the last of theirs"
    );

    // The pull itself: snapshots of their own documents, removals of the ones that left them.
    let budget = PullBudget::default();
    let page = pull(
        &store,
        PullRequest {
            device,
            scope: Scope::AssignedTo(tech),
            cursor: Cursor(cursor.0),
            resync: Vec::new(),
            limits: PullLimits {
                max_docs: 100,
                max_bytes: 1 << 20,
            },
        },
        &mut PageReservation::new(&budget),
    )
    .await
    .expect("pull");
    let got: Vec<(WorkOrderId, &str)> = page
        .updates
        .iter()
        .map(|u| {
            let kind = match &u.payload {
                UpdatePayload::Snapshot(_) => "snapshot",
                UpdatePayload::Changes(_) => "changes",
                UpdatePayload::Removed => "removed",
            };
            (u.doc, kind)
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (away, "removed"),
            (mine, "snapshot"),
            (dropped, "removed"),
            (kept, "changes"),
        ]
    );
    assert!(!page.more);
    assert!(page
        .updates
        .iter()
        .all(|u| !others.contains(&u.doc) && u.doc != unassigned && u.doc != elsewhere));

    // Taken from them and given back: theirs again, listed once.
    let back = WorkOrderId::new();
    let back_1 = commit_ok(&store, new_doc(back, Some(tech), vec![change(7)])).await;
    store
        .record_deliveries(device, vec![sent(back, back_1)])
        .await
        .expect("record");
    let cursor = store.max_seq().await.expect("max");
    let back_2 = commit_ok(&store, reassign(back, back_1, Some(other))).await;
    let back_3 = commit_ok(&store, reassign(back, back_2, Some(tech))).await;
    let candidates = store
        .pull_candidates(query(cursor, 10))
        .await
        .expect("candidates");
    assert_eq!(
        candidates
            .iter()
            .map(|c| (c.doc, c.updated_seq, c.in_scope, c.delivery))
            .collect::<Vec<_>>(),
        vec![(back, back_3, true, delivered(back_1))]
    );
    assert_eq!(
        store
            .count_candidates(query(cursor, 1))
            .await
            .expect("count"),
        1
    );
}

pub async fn deliveries(store: SharedStorage) {
    let device = DeviceId::new();
    let doc = WorkOrderId::new();
    assert_eq!(store.delivery(device, doc).await.expect("none"), None);
    store
        .record_deliveries(device, Vec::new())
        .await
        .expect("empty is fine");
    for (seq, removed) in [(5, false), (9, true), (12, false)] {
        store
            .record_deliveries(
                device,
                vec![DeliveryRecord {
                    doc,
                    delivery: Delivery {
                        sent_seq: Seq(seq),
                        removed,
                    },
                }],
            )
            .await
            .expect("record");
        assert_eq!(
            store.delivery(device, doc).await.expect("delivery"),
            Some(Delivery {
                sent_seq: Seq(seq),
                removed
            }),
            "the latest record replaces the earlier one"
        );
    }
    assert_eq!(
        store.delivery(DeviceId::new(), doc).await.expect("other"),
        None
    );
}

pub async fn work_order_lists(store: SharedStorage) {
    let tech = UserId::new();
    let mut expected = Vec::new();
    for (n, (priority, due, status)) in [
        (Priority::P3, 500, Status::Assigned),
        (Priority::P1, 900, Status::InProgress),
        (Priority::P1, 100, Status::Assigned),
        (Priority::P2, 50, Status::Completed),
    ]
    .into_iter()
    .enumerate()
    {
        let id = WorkOrderId::new();
        let mut c = new_doc(id, Some(tech), vec![change(1)]);
        c.summary.priority = priority;
        c.summary.resolution_due = Timestamp(due);
        c.summary.status = status;
        c.summary.schedule_start = Some(Timestamp(due * 2));
        c.summary.conflicts = 1;
        c.sla = SlaFacts {
            response_minutes: 30 + n as i64,
            resolution_minutes: 240,
            responded_at: Some(Timestamp(due + 1)),
            resolved_at: (status == Status::Completed).then_some(Timestamp(due + 2)),
            paused_at: (n == 1).then_some(Timestamp(due + 3)),
        };
        if n == 0 {
            c.summary.tier = CustomerTier::Vip;
            c.summary.region = "South Bay".into();
        }
        expected.push(ListedWorkOrder {
            summary: c.summary.clone(),
            sla: c.sla,
        });
        commit_ok(&store, c).await;
    }
    let query = WorkOrderQuery {
        assignee: Some(tech),
        limit: 10,
        ..Default::default()
    };
    let page = store.list_work_orders(query.clone()).await.expect("list");
    assert_eq!(page.total, 4);
    assert_eq!(
        page.items,
        vec![
            expected[2].clone(),
            expected[1].clone(),
            expected[3].clone(),
            expected[0].clone()
        ],
        "by priority, then resolution due; summaries and SLA facts come back as stored"
    );
    let open = store
        .list_work_orders(WorkOrderQuery {
            open_only: true,
            ..query.clone()
        })
        .await
        .expect("open");
    assert_eq!(open.total, 3);
    let assigned = store
        .list_work_orders(WorkOrderQuery {
            statuses: vec![Status::Assigned, Status::Completed],
            ..query.clone()
        })
        .await
        .expect("status");
    assert_eq!(assigned.total, 3);
    let by_priority = store
        .list_work_orders(WorkOrderQuery {
            priorities: vec![Priority::P1, Priority::P3],
            ..query.clone()
        })
        .await
        .expect("priority");
    assert_eq!(by_priority.total, 3);
    let vip = store
        .list_work_orders(WorkOrderQuery {
            tiers: vec![CustomerTier::Vip],
            ..query.clone()
        })
        .await
        .expect("tier");
    assert_eq!(vip.items, vec![expected[0].clone()]);
    let region = store
        .list_work_orders(WorkOrderQuery {
            region: Some("south bay".into()),
            ..query.clone()
        })
        .await
        .expect("region");
    assert_eq!(
        region.items,
        vec![expected[0].clone()],
        "regions ignore case"
    );
    let none = store
        .list_work_orders(WorkOrderQuery {
            region: Some("south bay".into()),
            tiers: vec![CustomerTier::Basic],
            ..query.clone()
        })
        .await
        .expect("both");
    assert_eq!(none.total, 0, "every filter must match");
    let paged = store
        .list_work_orders(WorkOrderQuery {
            limit: 2,
            offset: 1,
            ..query
        })
        .await
        .expect("page");
    assert_eq!(paged.total, 4, "the total ignores paging");
    assert_eq!(
        paged.items.iter().map(|s| s.summary.id).collect::<Vec<_>>(),
        vec![expected[1].summary.id, expected[3].summary.id]
    );
}

/// The open-job count per technician follows every commit: assignment, completion, reopening,
/// reassignment, imports; refused commits change nothing.
pub async fn technician_load(store: SharedStorage) {
    let (a, b) = (UserId::new(), UserId::new());
    let count = |load: &HashMap<UserId, u32>, user: UserId| load.get(&user).copied();
    let load = store.open_jobs_by_technician().await.expect("load");
    assert_eq!((count(&load, a), count(&load, b)), (None, None));

    let first = WorkOrderId::new();
    let v1 = commit_ok(&store, new_doc(first, Some(a), vec![change(1)])).await;
    let second = WorkOrderId::new();
    commit_ok(&store, new_doc(second, Some(a), vec![change(1)])).await;
    let unassigned = WorkOrderId::new();
    commit_ok(&store, new_doc(unassigned, None, vec![change(1)])).await;
    let load = store.open_jobs_by_technician().await.expect("load");
    assert_eq!(count(&load, a), Some(2));

    // A stale commit that would move the job is refused and moves nothing.
    let mut stale = new_doc(first, Some(b), vec![change(2)]);
    stale.expected = Some(Seq(v1.0.saturating_sub(1)));
    assert_eq!(
        store.commit(stale).await.expect("commit"),
        CommitOutcome::VersionConflict
    );
    // Reassigned: a loses it, b gains it.
    let mut moved = new_doc(first, Some(b), vec![change(3)]);
    moved.expected = Some(v1);
    let v2 = commit_ok(&store, moved).await;
    let load = store.open_jobs_by_technician().await.expect("load");
    assert_eq!((count(&load, a), count(&load, b)), (Some(1), Some(1)));

    // Completed: no longer open; reopened: open again; an unrelated edit changes nothing.
    let mut done = new_doc(first, Some(b), vec![change(4)]);
    done.expected = Some(v2);
    done.summary.status = Status::Completed;
    let v3 = commit_ok(&store, done).await;
    let load = store.open_jobs_by_technician().await.expect("load");
    assert_eq!(
        count(&load, b),
        None,
        "technicians without open jobs are left out"
    );
    let mut reopened = new_doc(first, Some(b), vec![change(5)]);
    reopened.expected = Some(v3);
    reopened.summary.status = Status::InProgress;
    let v4 = commit_ok(&store, reopened).await;
    let mut edit = new_doc(first, Some(b), vec![change(6)]);
    edit.expected = Some(v4);
    edit.summary.status = Status::OnHold;
    commit_ok(&store, edit).await;
    let imported = WorkOrderId::new();
    store
        .import(vec![new_doc(imported, Some(b), vec![change(7)])])
        .await
        .expect("import");
    let load = store.open_jobs_by_technician().await.expect("load");
    assert_eq!((count(&load, a), count(&load, b)), (Some(1), Some(2)));
}

/// The stock ledger counts each movement id once, whether recorded directly or as a usage of a
/// committed work order; safety levels are replaced per part and location.
pub async fn stock_ledger(store: SharedStorage) {
    let part = unique("PART");
    let (van, warehouse) = (unique("VAN"), unique("WH"));
    let by = UserId::new();
    let mv = |kind: MovementKind, location: &str, quantity: i64, at: i64| StockMovement {
        id: EntryId::new(),
        kind,
        part_number: part.clone(),
        location: location.to_owned(),
        quantity,
        at: Timestamp(at),
        by,
    };
    let receipt = mv(MovementKind::Receipt, &warehouse, 10, 1);
    let transfer = mv(
        MovementKind::Transfer {
            from: warehouse.clone(),
            to: van.clone(),
        },
        &warehouse,
        4,
        2,
    );
    let adjustment = mv(MovementKind::Adjustment, &warehouse, -1, 3);
    let added = store
        .record_movements(
            vec![receipt.clone(), transfer.clone(), adjustment.clone()],
            Timestamp(10),
        )
        .await
        .expect("record");
    assert_eq!(added, 3);
    let again = store
        .record_movements(vec![receipt.clone()], Timestamp(11))
        .await
        .expect("again");
    assert_eq!(again, 0, "a movement id counts once");

    // A committed work order's usages land in the ledger once, however often it is saved.
    let doc = WorkOrderId::new();
    let usage = mv(MovementKind::Usage { work_order: doc }, &van, 5, 4);
    let mut c = new_doc(doc, None, vec![change(1)]);
    c.usages = vec![usage.clone()];
    let v1 = commit_ok(&store, c).await;
    let mut c = new_doc(doc, None, vec![change(2)]);
    c.expected = Some(v1);
    c.usages = vec![usage.clone()];
    commit_ok(&store, c).await;

    let ledger: Vec<StockMovement> = store
        .stock_movements(None)
        .await
        .expect("ledger")
        .into_iter()
        .filter(|m| m.part_number == part)
        .collect();
    assert_eq!(ledger.len(), 4, "{ledger:#?}");
    for m in [&receipt, &transfer, &adjustment, &usage] {
        assert!(ledger.contains(m), "{m:?} comes back as recorded");
    }
    let stock = fieldsync_proto::derive_stock(&ledger);
    assert_eq!(stock.get(&(warehouse.clone(), part.clone())), Some(&5));
    assert_eq!(
        stock.get(&(van.clone(), part.clone())),
        Some(&-1),
        "negative stock stays negative"
    );
    let newest = store.stock_movements(Some(1)).await.expect("newest");
    assert_eq!(newest.len(), 1);

    for level in [3, 7] {
        store
            .set_safety_level(SafetyLevel {
                location: van.clone(),
                part_number: part.clone(),
                level,
            })
            .await
            .expect("safety");
    }
    let levels: Vec<SafetyLevel> = store
        .safety_levels()
        .await
        .expect("levels")
        .into_iter()
        .filter(|l| l.part_number == part)
        .collect();
    assert_eq!(
        levels,
        vec![SafetyLevel {
            location: van,
            part_number: part,
            level: 7
        }]
    );
}

/// Follow-ups replace per work order; completed jobs without one wait, oldest first; entry
/// receipts keep the first time; reviews resolve once; reports read documents by creation.
pub async fn follow_ups_receipts_and_reviews(store: SharedStorage) {
    let (older, newer, open) = (WorkOrderId::new(), WorkOrderId::new(), WorkOrderId::new());
    let base = 1_900_000_000_000i64;
    for (id, resolved, status) in [
        (older, base, Status::Completed),
        (newer, base + 1000, Status::Closed),
        (open, base, Status::InProgress),
    ] {
        let mut c = new_doc(id, None, vec![change(1)]);
        c.summary.status = status;
        c.summary.created_at = Timestamp(base - 5000);
        c.sla.resolved_at = Some(Timestamp(resolved));
        commit_ok(&store, c).await;
    }
    let ours = |ids: Vec<WorkOrderId>| -> Vec<WorkOrderId> {
        ids.into_iter()
            .filter(|i| [older, newer, open].contains(i))
            .collect()
    };
    let waiting = store
        .awaiting_follow_up(Timestamp(base + 1000), 10_000)
        .await
        .expect("awaiting");
    assert_eq!(ours(waiting), vec![older, newer]);
    let waiting = store
        .awaiting_follow_up(Timestamp(base + 999), 10_000)
        .await
        .expect("awaiting");
    assert_eq!(ours(waiting), vec![older]);

    let by = UserId::new();
    let mut f = FollowUp {
        work_order: older,
        due_at: Timestamp(base + 48 * 3_600_000),
        satisfaction: Some(4),
        nps: None,
        comment: "fine".into(),
        recorded_by: by,
        recorded_at: Timestamp(base + 1),
    };
    store.record_follow_up(f.clone()).await.expect("record");
    f.nps = Some(9);
    f.recorded_at = Timestamp(base + 2);
    store.record_follow_up(f.clone()).await.expect("again");
    let stored: Vec<FollowUp> = store
        .follow_ups()
        .await
        .expect("follow-ups")
        .into_iter()
        .filter(|x| x.work_order == older)
        .collect();
    assert_eq!(stored, vec![f], "recording again replaces");
    let waiting = store
        .awaiting_follow_up(Timestamp(base + 1000), 10_000)
        .await
        .expect("awaiting");
    assert_eq!(ours(waiting), vec![newer]);

    let created = store
        .documents_created(Timestamp(base - 5000), Timestamp(base - 4999), 10_000)
        .await
        .expect("created");
    let mut got: Vec<WorkOrderId> = created
        .iter()
        .map(|d| d.id)
        .filter(|i| [older, newer, open].contains(i))
        .collect();
    got.sort();
    let mut want = vec![older, newer, open];
    want.sort();
    assert_eq!(got, want);

    // Entry receipts: the first commit holding an entry records when it arrived.
    let doc = WorkOrderId::new();
    let (e1, e2) = (EntryId::new(), EntryId::new());
    let mut c = new_doc(doc, None, vec![change(1)]);
    c.entries = vec![e1];
    c.received_at = Timestamp(100);
    let v1 = commit_ok(&store, c).await;
    let mut c = new_doc(doc, None, vec![change(2)]);
    c.expected = Some(v1);
    c.entries = vec![e1, e2];
    c.received_at = Timestamp(200);
    commit_ok(&store, c).await;
    let receipts = store.entry_receipts(doc).await.expect("receipts");
    assert_eq!(
        receipts,
        HashMap::from([(e1, Timestamp(100)), (e2, Timestamp(200))])
    );

    let resolution = ReviewResolution {
        review_id: "rejected-7".into(),
        resolved_by: by,
        resolved_at: Timestamp(5),
        note: "talked to the technician".into(),
    };
    assert!(store
        .resolve_review(doc, resolution.clone())
        .await
        .expect("resolve"));
    let later = ReviewResolution {
        resolved_at: Timestamp(6),
        note: "again".into(),
        ..resolution.clone()
    };
    assert!(!store.resolve_review(doc, later).await.expect("again"));
    assert_eq!(
        store.review_resolutions(doc).await.expect("list"),
        vec![resolution],
        "the first review stands"
    );
    assert!(store
        .review_resolutions(WorkOrderId::new())
        .await
        .expect("none")
        .is_empty());
}

pub async fn import_is_all_or_nothing(store: SharedStorage) {
    let existing = WorkOrderId::new();
    commit_ok(&store, new_doc(existing, None, vec![change(1)])).await;
    let fresh = WorkOrderId::new();
    let before = store.max_seq().await.expect("max");
    let result = store
        .import(vec![
            new_doc(fresh, None, vec![change(2)]),
            new_doc(existing, None, vec![change(3)]),
        ])
        .await;
    assert!(result.is_err(), "importing over an existing document fails");
    assert!(
        store.load_document(fresh).await.expect("load").is_none(),
        "and stores nothing"
    );
    assert_eq!(store.max_seq().await.expect("max"), before);

    let docs: Vec<_> = (0..3).map(|_| WorkOrderId::new()).collect();
    store
        .import(
            docs.iter()
                .map(|id| new_doc(*id, None, vec![change(4)]))
                .collect(),
        )
        .await
        .expect("import");
    let mut seqs = Vec::new();
    for id in &docs {
        seqs.push(
            store
                .load_document(*id)
                .await
                .expect("load")
                .expect("stored")
                .version,
        );
    }
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "one sequence number each: {seqs:?}"
    );
}

pub async fn parts_catalogue(store: SharedStorage) {
    let number = unique("PART");
    let mut part = Part {
        part_number: number.clone(),
        name: "Heating element 2kW".into(),
        category: "heating".into(),
        unit_price_cents: 4_500,
        safety_stock: 4,
    };
    store
        .upsert_parts(vec![part.clone()])
        .await
        .expect("insert");
    part.unit_price_cents = 4_900;
    store
        .upsert_parts(vec![part.clone()])
        .await
        .expect("update");
    let parts = store.parts().await.expect("list");
    let found: Vec<_> = parts.iter().filter(|p| p.part_number == number).collect();
    assert_eq!(found, vec![&part]);
}

/// Devices are listed per user, revoked once (the first time stays), and a revoked device's
/// sessions are refused; a password reset ends every session of the user.
pub async fn device_admin(store: SharedStorage) {
    let a = user(Role::Technician);
    let b = user(Role::Technician);
    store.create_user(a.clone()).await.expect("a");
    store.create_user(b.clone()).await.expect("b");
    let now = Timestamp(1_700_000_000_000);
    let tablet = store
        .register_device(a.user.id, None, "tablet", now)
        .await
        .expect("register");
    let phone = store
        .register_device(a.user.id, None, "phone", now.plus_minutes(1))
        .await
        .expect("register");
    let other = store
        .register_device(b.user.id, None, "laptop", now)
        .await
        .expect("register");

    let mine = store.devices(Some(a.user.id)).await.expect("devices");
    assert_eq!(
        mine.iter().map(|d| d.id).collect::<Vec<_>>(),
        vec![tablet, phone],
        "one user's devices, oldest first"
    );
    assert_eq!(mine[0].username, a.user.username);
    assert_eq!(mine[0].name, "tablet");
    assert_eq!(mine[0].revoked_at, None);
    let all = store.devices(None).await.expect("all devices");
    assert!(all.iter().any(|d| d.id == other));
    assert!(all.iter().any(|d| d.id == tablet));

    let session = |device: DeviceId, tag: u8| {
        let mut bytes = [tag; 32];
        bytes[..16].copy_from_slice(device.as_uuid().as_bytes());
        NewSession {
            token: TokenHash(bytes),
            user: a.user.id,
            device,
            created_at: now,
            expires_at: now.plus_minutes(60),
        }
    };
    let on_tablet = session(tablet, 1);
    let on_phone = session(phone, 2);
    store
        .create_session(on_tablet.clone())
        .await
        .expect("session");
    store
        .create_session(on_phone.clone())
        .await
        .expect("session");

    let revoked = store
        .revoke_device(tablet, now.plus_minutes(5))
        .await
        .expect("revoke")
        .expect("known device");
    assert_eq!(revoked.revoked_at, Some(now.plus_minutes(5)));
    let again = store
        .revoke_device(tablet, now.plus_minutes(9))
        .await
        .expect("revoke again")
        .expect("known device");
    assert_eq!(
        again.revoked_at,
        Some(now.plus_minutes(5)),
        "first time kept"
    );
    assert!(store
        .revoke_device(DeviceId::new(), now)
        .await
        .expect("revoke unknown")
        .is_none());
    let found = store.session(on_tablet.token).await.expect("lookup");
    assert!(
        found.expect("still found").revoked,
        "the revoked device's token"
    );
    let found = store.session(on_phone.token).await.expect("lookup");
    assert!(!found.expect("found").revoked, "other devices unaffected");
    assert_eq!(
        store
            .device(tablet)
            .await
            .expect("device")
            .map(|d| d.revoked_at),
        Some(Some(now.plus_minutes(5)))
    );

    assert!(store
        .set_password(a.user.id, "$argon2id$new".into(), now.plus_minutes(10))
        .await
        .expect("reset"));
    let (_, hash) = store
        .user_by_username(&a.user.username)
        .await
        .expect("lookup")
        .expect("found");
    assert_eq!(hash, "$argon2id$new");
    let found = store.session(on_phone.token).await.expect("lookup");
    assert!(found.expect("found").revoked, "sessions end with a reset");
    assert!(!store
        .set_password(UserId::new(), "x".into(), now)
        .await
        .expect("reset unknown"));
}

/// Every assignee of a committed version keeps a grant, also after reassignment.
pub async fn assignment_grants(store: SharedStorage) {
    let id = WorkOrderId::new();
    let (a, b) = (UserId::new(), UserId::new());
    assert!(!store.was_assigned(id, a).await.expect("grant"));
    let first = commit_ok(&store, new_doc(id, Some(a), vec![change(41)])).await;
    let mut reassign = new_doc(id, Some(b), vec![change(42)]);
    reassign.expected = Some(first);
    commit_ok(&store, reassign).await;
    assert!(store.was_assigned(id, a).await.expect("grant"), "previous");
    assert!(store.was_assigned(id, b).await.expect("grant"), "current");
    assert!(!store.was_assigned(id, UserId::new()).await.expect("grant"));
    assert!(!store
        .was_assigned(WorkOrderId::new(), a)
        .await
        .expect("grant"));
}

/// Entries come back newest first, filtered; those of a refused commit are not written.
pub async fn audit_trail(store: SharedStorage) {
    let id = WorkOrderId::new();
    let who = UserId::new();
    let base = Timestamp(1_800_000_000_000);
    let entry = |kind: AuditKind, minutes: i64, detail: &str| NewAuditEntry {
        user: Some(who),
        username: Some("auditee".into()),
        device: Some(DeviceId::new()),
        doc: Some(id),
        number: Some("WO-TEST-0001".into()),
        device_time: Some(base.plus_minutes(minutes - 1)),
        address: Some("127.0.0.1".into()),
        ..NewAuditEntry::new(kind, base.plus_minutes(minutes), detail)
    };
    store
        .append_audit(vec![NewAuditEntry {
            doc: None,
            number: None,
            ..entry(AuditKind::LoginSucceeded, 0, "signed in")
        }])
        .await
        .expect("append");
    let mut create = new_doc(id, Some(who), vec![change(51)]);
    create.audit = vec![entry(AuditKind::ChangeAccepted, 1, "created")];
    let first = commit_ok(&store, create).await;
    let mut refused = new_doc(id, None, vec![change(52)]);
    refused.audit = vec![entry(AuditKind::ChangeAccepted, 2, "never stored")];
    assert_eq!(
        store.commit(refused).await.expect("commit"),
        CommitOutcome::VersionConflict
    );
    let mut second = new_doc(id, Some(who), vec![change(53)]);
    second.expected = Some(first);
    second.audit = vec![entry(AuditKind::ChangeRejected, 3, "urgency: not writable")];
    commit_ok(&store, second).await;

    let all = store
        .audit(AuditQuery {
            user: Some(who),
            limit: 10,
            ..Default::default()
        })
        .await
        .expect("audit");
    let details: Vec<&str> = all.iter().map(|e| e.detail.as_str()).collect();
    assert_eq!(
        details,
        vec!["urgency: not writable", "created", "signed in"]
    );
    assert!(all.windows(2).all(|w| w[0].id > w[1].id), "newest first");
    assert_eq!(all[1].kind, AuditKind::ChangeAccepted);
    assert_eq!(all[1].device_time, Some(base));
    assert_eq!(all[1].number.as_deref(), Some("WO-TEST-0001"));
    assert_eq!(all[2].address.as_deref(), Some("127.0.0.1"));

    let by_doc = store
        .audit(AuditQuery {
            doc: Some(id),
            limit: 10,
            ..Default::default()
        })
        .await
        .expect("audit");
    assert_eq!(by_doc.len(), 2);
    let by_number = store
        .audit(AuditQuery {
            number: Some("WO-TEST-0001".into()),
            from: Some(base.plus_minutes(2)),
            limit: 10,
            ..Default::default()
        })
        .await
        .expect("audit");
    assert_eq!(by_number.len(), 1);
    let window = store
        .audit(AuditQuery {
            user: Some(who),
            from: Some(base),
            to: Some(base.plus_minutes(1)),
            limit: 10,
            ..Default::default()
        })
        .await
        .expect("audit");
    assert_eq!(window.len(), 2);
    let page = store
        .audit(AuditQuery {
            user: Some(who),
            limit: 1,
            before_id: Some(all[0].id),
            ..Default::default()
        })
        .await
        .expect("audit");
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].id, all[1].id);
}

/// Commits racing through two handles on one database (two server instances, or two
/// connections) while a device pulls over and over, through either: the device ends with
/// every new document exactly once. A backend whose sequence numbers could become visible out
/// of order fails this by missing documents: a pull would move the cursor past a number whose
/// commit was still in flight.
pub async fn concurrent_commits_never_skip(first: SharedStorage, second: SharedStorage) {
    const WRITERS: usize = 8;
    const COMMITS_EACH: usize = 40;
    let stores = [first, second];
    let start = stores[0].max_seq().await.expect("max");
    let began = std::time::Instant::now();
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let store = stores[w % 2].clone();
            tokio::spawn(async move {
                let mut ids = Vec::with_capacity(COMMITS_EACH);
                for _ in 0..COMMITS_EACH {
                    let id = WorkOrderId::new();
                    let mut c = new_doc(id, None, vec![change(1)]);
                    c.snapshot = id.as_uuid().as_bytes().to_vec();
                    commit_ok(&store, c).await;
                    ids.push(id);
                }
                ids
            })
        })
        .collect();

    let device = DeviceId::new();
    let mut cursor = Cursor(start.0);
    let mut received: HashMap<WorkOrderId, usize> = HashMap::new();
    let budget = PullBudget::default();
    let mut pulls = 0usize;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        // Whether anyone was still writing before this round: the round after the last
        // writer finished must see everything.
        let writing = writers.iter().any(|w| !w.is_finished());
        loop {
            let store = &stores[pulls % 2];
            pulls += 1;
            let page = pull(
                store,
                PullRequest {
                    device,
                    scope: Scope::All,
                    cursor,
                    resync: Vec::new(),
                    limits: PullLimits {
                        max_docs: 25,
                        max_bytes: 1 << 20,
                    },
                },
                &mut PageReservation::new(&budget),
            )
            .await
            .expect("pull");
            for update in page.updates {
                match update.payload {
                    UpdatePayload::Snapshot(bytes) => {
                        assert_eq!(bytes, update.doc.as_uuid().as_bytes().to_vec());
                        *received.entry(update.doc).or_default() += 1;
                    }
                    other => panic!("only new documents here, got {other:?}"),
                }
            }
            assert!(page.cursor >= cursor, "the cursor never goes back");
            cursor = page.cursor;
            if !page.more {
                break;
            }
        }
        if !writing {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "writers did not finish in time"
        );
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }

    let mut committed = Vec::new();
    for writer in writers {
        committed.extend(writer.await.expect("writer"));
    }
    assert_eq!(committed.len(), WRITERS * COMMITS_EACH);
    eprintln!(
        "{} commits by {WRITERS} tasks through two handles, with {pulls} pulls alongside, in {:?}",
        committed.len(),
        began.elapsed()
    );
    let missing: Vec<_> = committed
        .iter()
        .filter(|id| !received.contains_key(id))
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} documents were skipped by the puller ({pulls} pulls): {missing:?}",
        missing.len(),
        committed.len()
    );
    let twice: Vec<_> = received.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "received more than once: {twice:?}");
    assert!(pulls > 2, "the reader pulled while commits were going on");
}
