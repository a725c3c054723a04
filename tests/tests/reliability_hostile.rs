//! Hostile input: every file of the corpus in `tests/corpus` (malformed sync frames, undecodable
//! or rule-breaking document changes, broken REST bodies) is sent to a real server and must be
//! refused with a clear 4xx, leave every stored document, user and sequence number as it was,
//! and never take the server down. Replays of old sync messages change nothing either.

use std::path::{Path, PathBuf};

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ObjType, ReadDoc, ROOT};
use fieldsync_proto::api::LoginResponse;
use fieldsync_proto::wire::{
    self, ChangeBytes, Cursor, ErrorBody, PullLimits, PushDoc, PushOutcome, SyncRequest,
    SyncResponse,
};
use fieldsync_proto::{
    Action, Actor, Role, Timestamp, WorkOrderDocument, WorkOrderId, WorkOrderView,
};
use fieldsync_server::storage::Seq;
use fieldsync_tests::{intake, TestServer, PASSWORD};

fn corpus_dir(area: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(area)
}

/// Every file under `dir` (recursively), sorted, so that fuzz crashers dropped into a
/// sub-directory are picked up too.
fn corpus_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.file_name().is_some_and(|n| n != "README.md") {
                out.push(path);
            }
        }
    }
    out.sort();
    assert!(!out.is_empty(), "the corpus {} is empty", dir.display());
    out
}

/// What must not change when input is refused.
#[derive(Debug, PartialEq)]
struct Fingerprint {
    max_seq: Seq,
    users: u64,
    documents: Vec<(WorkOrderId, Vec<u8>)>,
    work_orders: u64,
}

async fn fingerprint(server: &TestServer, ids: &[WorkOrderId]) -> Fingerprint {
    let storage = server.server.state().storage();
    let mut documents = Vec::new();
    for &id in ids {
        let doc = storage.load_document(id).await.expect("load");
        documents.push((id, doc.map(|d| d.snapshot).unwrap_or_default()));
    }
    let page = storage
        .list_work_orders(fieldsync_server::storage::WorkOrderQuery {
            limit: 500,
            ..Default::default()
        })
        .await
        .expect("list");
    Fingerprint {
        max_seq: storage.max_seq().await.expect("max seq"),
        users: storage.user_count().await.expect("users"),
        documents,
        work_orders: page.total,
    }
}

/// Checks a refusal: a 4xx with a JSON error body naming the problem, or a sync answer in
/// which every pushed document was refused with a reason.
async fn assert_refused(what: &str, resp: reqwest::Response) {
    let status = resp.status().as_u16();
    let frame = resp
        .headers()
        .get("content-type")
        .is_some_and(|v| v.as_bytes() == wire::CONTENT_TYPE.as_bytes());
    let body = resp.bytes().await.expect("body");
    assert!(
        (400..500).contains(&status),
        "{what}: answered {status}, not a 4xx: {}",
        String::from_utf8_lossy(&body)
    );
    if frame {
        let answer: SyncResponse = wire::decode(&body).expect("a sync answer decodes");
        assert!(!answer.results.is_empty(), "{what}: no push results");
        for r in &answer.results {
            match &r.outcome {
                PushOutcome::Rejected(rej) => {
                    assert!(!rej.message.is_empty(), "{what}: empty reason");
                    assert_eq!(rej.accepted, 0, "{what}: part of it was stored");
                }
                other => panic!("{what}: a push was not refused: {other:?}"),
            }
        }
    } else {
        let err: ErrorBody = serde_json::from_slice(&body).unwrap_or_else(|e| {
            panic!(
                "{what}: {status} without an error body ({e}): {}",
                String::from_utf8_lossy(&body)
            )
        });
        assert!(
            err.error.message.len() > 10,
            "{what}: unclear message {:?}",
            err.error.message
        );
    }
}

async fn post_frame(url: &str, token: &str, body: Vec<u8>) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{url}{}", wire::SYNC_PATH))
        .bearer_auth(token)
        .header("content-type", wire::CONTENT_TYPE)
        .body(body)
        .send()
        .await
        .expect("the server answers (it did not crash)")
}

async fn post_json(url: &str, path: &str, token: Option<&str>, body: Vec<u8>) -> reqwest::Response {
    let mut req = reqwest::Client::new()
        .post(format!("{url}{path}"))
        .header("content-type", "application/json")
        .body(body);
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    req.send()
        .await
        .expect("the server answers (it did not crash)")
}

async fn login(url: &str, username: &str) -> LoginResponse {
    reqwest::Client::new()
        .post(format!("{url}/v1/login"))
        .json(&serde_json::json!({
            "username": username, "password": PASSWORD, "device_name": "hostile script"
        }))
        .send()
        .await
        .expect("login")
        .error_for_status()
        .expect("login accepted")
        .json()
        .await
        .expect("login answer")
}

/// A work order created by the dispatcher through the API, assigned to tech-a.
async fn create_work_order(server: &TestServer, token: &str) -> WorkOrderId {
    let resp = reqwest::Client::new()
        .post(format!("{}/v1/work-orders", server.url()))
        .bearer_auth(token)
        .json(&intake(Some(server.tech_a)))
        .send()
        .await
        .expect("create");
    assert_eq!(resp.status().as_u16(), 201);
    resp.json::<WorkOrderView>().await.expect("view").id
}

fn push_frame(doc: WorkOrderId, changes: Vec<Vec<u8>>) -> Vec<u8> {
    wire::encode(&SyncRequest {
        cursor: Cursor(0),
        push: vec![PushDoc {
            doc,
            changes: changes.into_iter().map(ChangeBytes).collect(),
        }],
        resync: vec![],
        limits: PullLimits::default(),
    })
}

async fn server_doc(server: &TestServer, id: WorkOrderId) -> WorkOrderDocument {
    let stored = server
        .server
        .state()
        .storage()
        .load_document(id)
        .await
        .expect("load")
        .expect("exists");
    WorkOrderDocument::load(&stored.snapshot).expect("loads")
}

#[tokio::test]
async fn the_hostile_corpus_is_refused_without_changing_anything() {
    let server = TestServer::start().await;
    let url = server.url();
    let office = server.token("dispatch").await;
    let admin = server.token("admin").await;
    let tech = login(&url, "tech-a").await;
    let existing = create_work_order(&server, &office).await;
    let ids = vec![existing];
    let before = fingerprint(&server, &ids).await;
    let mut checked = 0;

    for file in corpus_files(&corpus_dir("sync")) {
        let body = std::fs::read(&file).expect("read");
        let what = file.display().to_string();
        assert_refused(&what, post_frame(&url, &tech.token, body).await).await;
        checked += 1;
    }

    for file in corpus_files(&corpus_dir("changes")) {
        let bytes = std::fs::read(&file).expect("read");
        for doc in [existing, WorkOrderId::new()] {
            let what = format!("{} pushed to {doc}", file.display());
            let frame = push_frame(doc, vec![bytes.clone()]);
            assert_refused(&what, post_frame(&url, &tech.token, frame).await).await;
            checked += 1;
        }
    }

    let base = server_doc(&server, existing).await;
    let mut rule_breaking = Vec::new();
    let mut edit = |name: &'static str, f: &dyn Fn(&mut AutoCommit)| {
        let mut doc = base.automerge().clone();
        let heads = doc.get_heads();
        doc.set_actor(fieldsync_proto::actor_for(tech.device_id));
        f(&mut doc);
        doc.commit();
        let changes: Vec<Vec<u8>> = doc
            .get_changes(&heads)
            .iter()
            .map(|c| c.raw_bytes().to_vec())
            .collect();
        assert!(!changes.is_empty(), "{name}: no change made");
        rule_breaking.push((name, changes));
    };
    edit("status events replaced by a string", &|d| {
        d.put(ROOT, "status_events", "hacked").expect("put");
    });
    edit("schema version as text", &|d| {
        d.put(ROOT, "schema", "one").expect("put");
    });
    edit("id of another work order", &|d| {
        d.put(ROOT, "id", WorkOrderId::new().to_string())
            .expect("put");
    });
    edit("junk key with deep nesting", &|d| {
        let mut obj = d.put_object(ROOT, "junk", ObjType::Map).expect("map");
        for _ in 0..200 {
            obj = d.put_object(&obj, "deeper", ObjType::Map).expect("map");
        }
    });
    edit("notes of 2 MB", &|d| {
        let notes = d.get(ROOT, "notes").expect("get").expect("notes").1;
        d.splice_text(&notes, 0, 0, &"n".repeat(2 * 1024 * 1024))
            .expect("splice");
    });
    edit("assignee changed by a technician", &|d| {
        d.put(ROOT, "assignee", fieldsync_proto::UserId::new().to_string())
            .expect("put");
    });
    edit("customer tier raised by a technician", &|d| {
        let customer = d.get(ROOT, "customer").expect("get").expect("customer").1;
        d.put(&customer, "tier", "vip").expect("put");
    });
    for (name, changes) in rule_breaking {
        let frame = push_frame(existing, changes);
        assert_refused(name, post_frame(&url, &tech.token, frame).await).await;
        checked += 1;
    }

    let action_path = format!("/v1/work-orders/{existing}/actions");
    let areas: [(&str, &str, Option<&str>); 4] = [
        ("rest/login", "/v1/login", None),
        ("rest/create", "/v1/work-orders", Some(&office)),
        ("rest/action", &action_path, Some(&office)),
        ("rest/admin-user", "/v1/admin/users", Some(&admin)),
    ];
    for (area, path, token) in areas {
        for file in corpus_files(&corpus_dir(area)) {
            let body = std::fs::read(&file).expect("read");
            let what = file.display().to_string();
            assert_refused(&what, post_json(&url, path, token, body).await).await;
            checked += 1;
        }
        // A body over the 1 MB limit.
        let huge = format!("{{\"description\": \"{}\"}}", "x".repeat(1_100_000));
        let resp = post_json(&url, path, token, huge.into_bytes()).await;
        assert_eq!(resp.status().as_u16(), 413, "{area}: oversized body");
        assert_refused(&format!("{area}: oversized body"), resp).await;
    }

    assert_eq!(
        fingerprint(&server, &ids).await,
        before,
        "refused input changed stored data"
    );
    let health = reqwest::get(format!("{url}/healthz"))
        .await
        .expect("health");
    assert!(health.status().is_success(), "the server still serves");
    assert!(checked > 80, "only {checked} hostile inputs were checked");
}

#[tokio::test]
async fn replayed_sync_messages_change_nothing() {
    let server = TestServer::start().await;
    let url = server.url();
    let office = server.token("dispatch").await;
    let tech = login(&url, "tech-a").await;
    let id = create_work_order(&server, &office).await;
    let actor = Actor {
        user: server.tech_a,
        role: Role::Technician,
        device: tech.device_id,
    };

    // A legitimate push, as the technician's tablet would make it.
    let mut doc = server_doc(&server, id).await;
    let (_, accept) = doc
        .act(&Action::Accept, &actor, Timestamp::now())
        .expect("accept");
    let first = push_frame(id, vec![accept.bytes.clone()]);
    let resp = post_frame(&url, &tech.token, first.clone()).await;
    assert_eq!(resp.status().as_u16(), 200);
    let answer: SyncResponse = wire::decode(&resp.bytes().await.expect("body")).expect("frame");
    assert_eq!(
        answer.results[0].outcome,
        PushOutcome::Accepted { new_changes: 1 }
    );
    let after_first = fingerprint(&server, &[id]).await;

    // The same message again, at once and after a newer change: stored once, nothing moves.
    let replay = post_frame(&url, &tech.token, first.clone()).await;
    assert_eq!(replay.status().as_u16(), 200);
    let answer: SyncResponse = wire::decode(&replay.bytes().await.expect("body")).expect("frame");
    assert_eq!(
        answer.results[0].outcome,
        PushOutcome::Accepted { new_changes: 0 }
    );
    assert_eq!(fingerprint(&server, &[id]).await, after_first);

    let (_, travel) = doc
        .act(&Action::StartTravel, &actor, Timestamp::now())
        .expect("travel");
    let resp = post_frame(&url, &tech.token, push_frame(id, vec![travel.bytes])).await;
    assert_eq!(resp.status().as_u16(), 200);
    let after_second = fingerprint(&server, &[id]).await;
    for _ in 0..3 {
        let replay = post_frame(&url, &tech.token, first.clone()).await;
        assert_eq!(replay.status().as_u16(), 200);
    }
    assert_eq!(fingerprint(&server, &[id]).await, after_second);

    // A replay under a token that was since revoked is refused.
    let admin = server.token("admin").await;
    let revoke = reqwest::Client::new()
        .post(format!("{url}/v1/admin/devices/{}/revoke", tech.device_id))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("revoke");
    assert!(revoke.status().is_success(), "{}", revoke.status());
    assert_refused(
        "replay after revocation",
        post_frame(&url, &tech.token, first).await,
    )
    .await;
    assert_eq!(fingerprint(&server, &[id]).await, after_second);

    let stored = server_doc(&server, id).await.read().expect("reads");
    assert_eq!(
        stored.status_events.len(),
        3,
        "assigned, accepted, traveling"
    );
}
