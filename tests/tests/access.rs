//! End-to-end scenarios of access control: technicians see and change only their own work
//! orders and cannot even tell that others exist; forbidden offline edits are refused, kept
//! and their neighbours still arrive; reassignment waits for the old device's work; tokens
//! and devices can be refused and revoked; logins are rate limited; everything is in the audit
//! trail, which survives a restart; and the whole thing runs over TLS with a certificate
//! authority made in the test.

use fieldsync_client::{AuditKind, Client, Error, LoginOptions};
use fieldsync_proto::wire::{
    self, ChangeBytes, Cursor, PullLimits, PushDoc, PushOutcome, SyncRequest, SyncResponse,
    UpdatePayload,
};
use fieldsync_proto::{
    human_number, Action, CustomerTier, Impact, NewPartUsage, NewRepairRecord, ProblemCategory,
    Status, Urgency, WorkOrderId, WorkOrderView,
};
use fieldsync_server::{StartOptions, TlsFiles};
use fieldsync_tests::{intake, Device, TestServer, PASSWORD};
use serde_json::{json, Value};

fn part(number: &str) -> Action {
    Action::RecordPartUsage(NewPartUsage {
        part_number: number.into(),
        quantity: 1,
        source_location: "VAN-07".into(),
        serial: None,
        refurbished: false,
    })
}

/// Creates a work order for `assignee` from the office device and uploads it.
async fn office_creates(office: &Device, assignee: fieldsync_proto::UserId) -> WorkOrderId {
    let view = office
        .client
        .create_work_order(intake(Some(assignee)))
        .expect("create");
    office.client.sync().await.expect("office uploads");
    view.id
}

/// One raw sync round trip with a bearer token: the HTTP status and the decoded answer.
async fn raw_sync(url: &str, token: &str, request: &SyncRequest) -> (u16, SyncResponse) {
    let resp = reqwest::Client::new()
        .post(format!("{url}{}", wire::SYNC_PATH))
        .bearer_auth(token)
        .header("content-type", wire::CONTENT_TYPE)
        .body(wire::encode(request))
        .send()
        .await
        .expect("sync request");
    let status = resp.status().as_u16();
    let body = resp.bytes().await.expect("body");
    (
        status,
        wire::decode(&body).expect("a sync answer, not an error body"),
    )
}

fn request(push: Vec<PushDoc>, resync: Vec<WorkOrderId>) -> SyncRequest {
    SyncRequest {
        cursor: Cursor(0),
        push,
        resync,
        limits: PullLimits::default(),
    }
}

/// `method path` with a token and an optional JSON body: status, JSON body.
async fn call(
    url: &str,
    token: Option<&str>,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = reqwest::Client::new().request(method, format!("{url}{path}"));
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    if let Some(body) = body {
        req = req.json(&body);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// The audit entries matching `query`, read as the dispatcher.
async fn audit(server: &TestServer, query: &str) -> Vec<Value> {
    let token = server.token("dispatch").await;
    let (status, body) = server.get(&token, &format!("/v1/audit?{query}")).await;
    assert_eq!(status, 200, "{body}");
    body["items"].as_array().cloned().unwrap_or_default()
}

fn has_entry(entries: &[Value], kind: &str, detail_part: &str) -> bool {
    entries
        .iter()
        .any(|e| e["kind"] == kind && e["detail"].as_str().unwrap_or("").contains(detail_part))
}

/// The document's content, leaving out SLA clock states that depend on when they were read.
fn content(view: &WorkOrderView) -> Value {
    let mut value = serde_json::to_value(view).expect("serializes");
    if let Some(sla) = value.get_mut("sla").and_then(|s| s.as_object_mut()) {
        sla.remove("response");
        sla.remove("resolution");
    }
    value
}

async fn server_view(server: &TestServer, id: WorkOrderId) -> WorkOrderView {
    let token = server.token("dispatch").await;
    let (status, body) = server.get(&token, &format!("/v1/work-orders/{id}")).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_value(body).expect("a work order view")
}

#[tokio::test]
async fn a_technician_cannot_pull_push_to_or_detect_another_technicians_work_order() {
    let server = TestServer::start().await;
    let office = server.device("dispatch").await;
    let mine = office_creates(&office, server.tech_a).await;
    let mut theirs = Vec::new();
    for _ in 0..3 {
        theirs.push(office_creates(&office, server.tech_b).await);
    }
    let other = theirs[0];
    let guessed = WorkOrderId::new();

    // Pull: only their own work order arrives, and nothing counts the others.
    let tech = server.device("tech-a").await;
    tech.client.sync().await.expect("sync");
    let listed: Vec<WorkOrderId> = tech
        .client
        .list(&Default::default())
        .expect("list")
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(listed, vec![mine]);
    assert!(matches!(
        tech.client.find(&human_number(&other)),
        Err(Error::NotFound { .. })
    ));
    let token = server.token("tech-a").await;
    let mut paged = request(Vec::new(), Vec::new());
    paged.limits.max_docs = 1;
    let (status, first) = raw_sync(&server.url(), &token, &paged).await;
    assert_eq!(status, 200);
    assert_eq!(first.updates.len(), 1);
    assert!(!first.more, "the others' work orders are not waiting");
    assert_eq!(first.remaining_docs, 0);

    // Push: to someone else's work order, and to an id that exists nowhere, the same answer.
    let some_change = {
        let tech_b = server.device("tech-b").await;
        tech_b.client.sync().await.expect("sync");
        tech_b.client.accept(other).expect("accept");
        let view = tech_b.client.get(other).expect("view");
        assert_eq!(view.status, Status::Accepted);
        // The bytes of a real change, as a device that guessed right might send them.
        let store = rusqlite::Connection::open(tech_b.store_path().join(fieldsync_client::DB_FILE))
            .expect("open tech-b's store");
        store
            .query_row("SELECT change FROM outbox LIMIT 1", [], |r| {
                r.get::<_, Vec<u8>>(0)
            })
            .expect("an outbox change")
    };
    let answer = |id: WorkOrderId| {
        let server = &server;
        let token = &token;
        let change = some_change.clone();
        async move {
            let push = PushDoc {
                doc: id,
                changes: vec![ChangeBytes(change)],
            };
            let (status, resp) =
                raw_sync(&server.url(), token, &request(vec![push], vec![id])).await;
            let PushOutcome::Rejected(r) = &resp.results[0].outcome else {
                panic!("a push to {id} must be refused: {:?}", resp.results);
            };
            let about_id: Vec<_> = resp.updates.iter().filter(|u| u.doc == id).collect();
            let removed = matches!(about_id.as_slice(), [u] if u.payload == UpdatePayload::Removed);
            (
                status,
                r.code,
                r.message.replace(&human_number(&id), "WO-NUMBER"),
                r.accepted,
                removed,
            )
        }
    };
    let about_theirs = answer(other).await;
    let about_nothing = answer(guessed).await;
    assert_eq!(about_theirs, about_nothing, "no difference to learn from");
    assert_eq!(about_theirs.0, 422);
    assert_eq!(about_theirs.1, wire::ErrorCode::Forbidden);
    assert!(about_theirs.4, "asked for whole, both are only 'removed'");
    let stored = server_view(&server, other).await;
    assert_eq!(
        stored.status,
        Status::Assigned,
        "nothing of the push was stored"
    );

    // Later office edits to their work order do not reach this device either.
    let office_token = server.token("dispatch").await;
    let (status, _) = call(
        &server.url(),
        Some(&office_token),
        reqwest::Method::POST,
        &format!("/v1/work-orders/{other}/actions"),
        Some(json!({"action": "reschedule", "window": {"start": 1_900_000_000_000i64, "end": 1_900_000_360_000i64}})),
    )
    .await;
    assert_eq!(status, 200);
    let (_, after) = raw_sync(&server.url(), &token, &request(Vec::new(), Vec::new())).await;
    assert_eq!(
        after.updates.iter().map(|u| u.doc).collect::<Vec<_>>(),
        vec![mine]
    );

    // The JSON API: the same 404 for their work order and for a made-up id.
    let json_answer = |id: WorkOrderId| {
        let (server, token) = (&server, &token);
        async move {
            let (get_status, get) = server.get(token, &format!("/v1/work-orders/{id}")).await;
            let (act_status, act) = call(
                &server.url(),
                Some(token),
                reqwest::Method::POST,
                &format!("/v1/work-orders/{id}/actions"),
                Some(json!({"action": "accept"})),
            )
            .await;
            let scrub = |v: Value| v.to_string().replace(&id.to_string(), "ID");
            (get_status, scrub(get), act_status, scrub(act))
        }
    };
    let theirs_json = json_answer(other).await;
    assert_eq!(theirs_json, json_answer(guessed).await);
    assert_eq!((theirs_json.0, theirs_json.2), (404, 404));
    let (_, list) = server
        .get(
            &token,
            &format!("/v1/work-orders?assignee={}", server.tech_b),
        )
        .await;
    assert_eq!(list["total"], 0);
    let (status, body) = server.get(&token, "/v1/audit").await;
    assert_eq!(
        status, 403,
        "technicians cannot read the audit trail: {body}"
    );
    assert_eq!(body["error"]["code"], "forbidden");

    // The refusals are in the audit trail.
    let entries = audit(&server, &format!("doc={other}")).await;
    assert!(
        has_entry(&entries, "change_rejected", "forbidden"),
        "{entries:?}"
    );
}

/// Marks the device's session as another role, as a tampered app would.
fn tamper_role(device: &Device, role: &str) {
    let db = rusqlite::Connection::open(device.store_path().join(fieldsync_client::DB_FILE))
        .expect("open the store");
    db.busy_timeout(std::time::Duration::from_secs(10))
        .expect("busy timeout");
    let text: String = db
        .query_row("SELECT value FROM meta WHERE key = 'session'", [], |r| {
            r.get(0)
        })
        .expect("session");
    let mut session: Value = serde_json::from_str(&text).expect("json");
    session["session"]["role"] = json!(role);
    db.execute(
        "UPDATE meta SET value = ?1 WHERE key = 'session'",
        [session.to_string()],
    )
    .expect("write");
}

#[tokio::test]
async fn a_forbidden_offline_edit_is_refused_kept_and_the_allowed_ones_still_arrive() {
    let server = TestServer::start().await;
    let office = server.device("dispatch").await;
    let id = office_creates(&office, server.tech_a).await;
    let tech = server.device("tech-a").await;
    tech.client.sync().await.expect("sync");

    // Offline: accept, then (through a tampered app) raise the priority, then keep working.
    tech.client.accept(id).expect("accept");
    tamper_role(&tech, "dispatcher");
    tech.client
        .act(
            id,
            Action::Classify {
                category: ProblemCategory::Hardware,
                urgency: Urgency::Emergency,
                impact: Impact::ManyCustomers,
                tier: Some(CustomerTier::Vip),
            },
        )
        .expect("the tampered app lets it through locally");
    tamper_role(&tech, "technician");
    tech.client.start_travel(id).expect("travel");
    tech.client.act(id, part("THERMO-K")).expect("part");
    tech.client
        .act(
            id,
            Action::EditNotes {
                text: "Side door code 4711".into(),
            },
        )
        .expect("notes");
    assert_eq!(tech.client.pending_changes().expect("pending"), 5);

    let report = tech.client.sync().await.expect("sync");
    assert_eq!(report.rejected_docs, 1, "{report:?}");
    assert_eq!(tech.client.pending_changes().expect("pending"), 0);
    let rejected = tech.client.rejected_changes().expect("rejected");
    assert_eq!(rejected.len(), 1, "only the forbidden edit: {rejected:?}");
    assert_eq!(rejected[0].code, wire::ErrorCode::FieldNotWritable);
    assert!(matches!(
        rejected[0].action(),
        Some(Action::Classify { .. })
    ));
    assert!(
        rejected[0].message.contains("urgency"),
        "{}",
        rejected[0].message
    );
    assert_eq!(rejected[0].doc, id);

    // The server kept the priority; everything allowed arrived, and both copies agree.
    let on_server = server_view(&server, id).await;
    assert_eq!(on_server.urgency, Urgency::Normal);
    assert_eq!(on_server.customer.tier, CustomerTier::Standard);
    assert_eq!(on_server.status, Status::Traveling);
    assert_eq!(on_server.parts_used, 1);
    assert_eq!(on_server.notes, "Side door code 4711");
    let on_device = tech.client.get(id).expect("view");
    assert_eq!(content(&on_device), content(&on_server));

    let entries = audit(&server, &format!("doc={id}")).await;
    assert!(
        has_entry(&entries, "change_rejected", "field_not_writable"),
        "{entries:?}"
    );
    assert!(
        has_entry(&entries, "change_rejected", "urgency"),
        "{entries:?}"
    );
    assert!(
        has_entry(&entries, "change_accepted", "status_events +accepted"),
        "{entries:?}"
    );
    assert!(
        has_entry(&entries, "change_accepted", "part_usages +1"),
        "{entries:?}"
    );
    let device = tech
        .client
        .session()
        .expect("session")
        .expect("signed in")
        .device_id;
    let from_tech: Vec<&Value> = entries
        .iter()
        .filter(|e| e["device"] == json!(device))
        .collect();
    assert_eq!(
        from_tech.len(),
        5,
        "four accepted, one refused: {entries:?}"
    );
    assert!(
        from_tech
            .iter()
            .all(|e| e["device_time"].is_i64() && e["at"].is_i64()),
        "device time and server time are both recorded: {from_tech:?}"
    );
}

#[tokio::test]
async fn reassignment_waits_for_the_old_devices_unsynced_edits() {
    let server = TestServer::start().await;
    let office = server.device("dispatch").await;
    let id = office_creates(&office, server.tech_a).await;
    let ann = server.device("tech-a").await;
    let bob = server.device("tech-b").await;
    ann.client.sync().await.expect("sync");
    ann.client.accept(id).expect("accept");
    ann.client.sync().await.expect("upload the acceptance");

    // Offline, Ann records what she found while the office hands the job to Bob.
    ann.client.act(id, part("HEAT-ELEM-2K")).expect("part");
    ann.client
        .act(
            id,
            Action::AddRepairRecord(NewRepairRecord {
                diagnosis: "Element open circuit".into(),
                action_taken: "Ordered a new element".into(),
                measurements: vec![],
            }),
        )
        .expect("repair");
    ann.client
        .act(
            id,
            Action::EditNotes {
                text: "Left the old element on the counter".into(),
            },
        )
        .expect("notes");
    let token = server.token("dispatch").await;
    let (status, body) = call(
        &server.url(),
        Some(&token),
        reqwest::Method::POST,
        &format!("/v1/work-orders/{id}/assign"),
        Some(json!({ "technician": server.tech_b })),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        ann.client.pending_changes().expect("pending") > 0,
        "Ann still has unsent work"
    );

    // Ann's next sync uploads her work, then the job leaves her device.
    ann.client.sync().await.expect("sync");
    assert_eq!(ann.client.pending_changes().expect("pending"), 0);
    assert!(ann.client.rejected_changes().expect("rejected").is_empty());
    assert!(matches!(ann.client.get(id), Err(Error::NotFound { .. })));
    assert!(ann
        .client
        .list(&Default::default())
        .expect("list")
        .is_empty());

    // Bob receives everything, Ann's work included.
    bob.client.sync().await.expect("sync");
    let view = bob.client.get(id).expect("Bob has it");
    assert_eq!(view.assignee, Some(server.tech_b));
    assert!(view.notes.contains("old element"), "{}", view.notes);
    assert_eq!(view.repair_records.len(), 1);
    assert!(view.parts_used >= 1);
    assert_eq!(content(&view), content(&server_view(&server, id).await));

    let entries = audit(&server, &format!("doc={}", human_number(&id))).await;
    assert!(
        has_entry(&entries, "assigned", "reassigned from"),
        "{entries:?}"
    );
    assert!(
        has_entry(&entries, "change_accepted", "notes"),
        "{entries:?}"
    );
}

#[tokio::test]
async fn bad_tokens_are_refused_and_a_revoked_device_wipes_itself() {
    let server = TestServer::start().await;
    let url = server.url();
    // Malformed and unknown tokens.
    for (header, words) in [
        (None, "sign in first"),
        (Some("Bearer"), "sign in first"),
        (Some("Token abc"), "sign in first"),
        (Some("Bearer not-a-real-token"), "not valid"),
    ] {
        let mut req = reqwest::Client::new().get(format!("{url}/v1/work-orders"));
        if let Some(h) = header {
            req = req.header("authorization", h);
        }
        let resp = req.send().await.expect("request");
        assert_eq!(resp.status().as_u16(), 401, "{header:?}");
        let body: Value = resp.json().await.expect("json");
        assert_eq!(body["error"]["code"], "unauthorized");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap_or("")
                .contains(words),
            "{header:?}: {body}"
        );
    }

    // An expired token.
    let storage = server.server.state().storage();
    let device = storage
        .register_device(
            server.tech_a,
            None,
            "old tablet",
            fieldsync_proto::Timestamp(1_000),
        )
        .await
        .expect("device");
    let expired = "e".repeat(64);
    storage
        .create_session(fieldsync_server::storage::NewSession {
            token: fieldsync_server::auth::token::hash(&expired),
            user: server.tech_a,
            device,
            created_at: fieldsync_proto::Timestamp(1_000),
            expires_at: fieldsync_proto::Timestamp(2_000),
        })
        .await
        .expect("session");
    let (status, body) = server.get(&expired, "/v1/work-orders").await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "unauthorized");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("expired"),
        "{body}"
    );

    // A revoked device: refused with its own code, and the library wipes the device.
    let office = server.device("dispatch").await;
    let id = office_creates(&office, server.tech_a).await;
    let tablet = server.device("tech-a").await;
    let phone = server.device("tech-a").await;
    tablet.client.sync().await.expect("sync");
    phone.client.sync().await.expect("sync");
    tablet.client.accept(id).expect("unsynced work");
    let tablet_id = tablet
        .client
        .session()
        .expect("session")
        .expect("signed in")
        .device_id;
    let admin = server.device("admin").await;
    let devices = admin
        .client
        .admin_devices(Some("tech-a"))
        .await
        .expect("device list");
    assert!(devices
        .iter()
        .any(|d| d.id == tablet_id && d.revoked_at.is_none()));
    let revoked = admin
        .client
        .admin_revoke_device(tablet_id)
        .await
        .expect("revoke");
    assert!(revoked.revoked_at.is_some());
    // Only admins manage devices.
    let err = office
        .client
        .admin_devices(None)
        .await
        .expect_err("dispatcher");
    assert!(
        matches!(
            err,
            Error::Server {
                code: wire::ErrorCode::Forbidden,
                ..
            }
        ),
        "{err:?}"
    );

    let err = tablet.client.sync().await.expect_err("revoked");
    assert!(matches!(err, Error::DeviceRevoked { .. }), "{err:?}");
    assert!(err.to_string().contains("revoked"), "{err}");
    assert_eq!(tablet.client.session().expect("session"), None);
    assert_eq!(tablet.client.pending_changes().expect("pending"), 0);
    assert!(tablet
        .client
        .list(&Default::default())
        .expect("list")
        .is_empty());
    assert!(matches!(tablet.client.get(id), Err(Error::NotFound { .. })));
    // Asking for the revoked id at login gets a new device, never the revoked one back.
    let (status, body) = call(
        &url,
        None,
        reqwest::Method::POST,
        "/v1/login",
        Some(
            json!({"username": "tech-a", "password": PASSWORD, "device_name": "tablet",
                    "device_id": tablet_id}),
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_ne!(body["device_id"], json!(tablet_id));
    phone
        .client
        .sync()
        .await
        .expect("the other device is unaffected");

    let entries = audit(&server, "user=tech-a").await;
    assert!(
        has_entry(&entries, "device_revoked", "revoked by admin"),
        "{entries:?}"
    );
    assert!(
        has_entry(&entries, "device_registered", "tablet"),
        "{entries:?}"
    );
    assert!(
        has_entry(&entries, "login_succeeded", "technician"),
        "{entries:?}"
    );
}

#[tokio::test]
async fn a_revoked_token_gets_the_device_revoked_code() {
    let server = TestServer::start().await;
    let token = server.token("tech-b").await;
    let admin = server.device("admin").await;
    let devices = admin
        .client
        .admin_devices(Some("tech-b"))
        .await
        .expect("devices");
    assert_eq!(devices.len(), 1);
    admin
        .client
        .admin_revoke_device(devices[0].id)
        .await
        .expect("revoke");
    let (status, body) = server.get(&token, "/v1/work-orders").await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "device_revoked", "{body}");

    // A password reset ends sessions too, with the ordinary code, and the new password works.
    let token = server.token("tech-a").await;
    admin
        .client
        .admin_reset_password("tech-a", "a brand new password")
        .await
        .expect("reset");
    let (status, body) = server.get(&token, "/v1/work-orders").await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "unauthorized", "{body}");
    let (status, _) = call(
        &server.url(),
        None,
        reqwest::Method::POST,
        "/v1/login",
        Some(json!({"username": "tech-a", "password": "a brand new password", "device_name": "t"})),
    )
    .await;
    assert_eq!(status, 200);
    let entries = audit(&server, "user=tech-a").await;
    assert!(
        has_entry(&entries, "password_reset", "by admin"),
        "{entries:?}"
    );
}

#[tokio::test]
async fn logins_are_rate_limited_per_account() {
    let server = TestServer::start().await;
    let login = |username: &'static str, password: &'static str| {
        let url = server.url();
        async move {
            let resp = reqwest::Client::new()
                .post(format!("{url}/v1/login"))
                .json(&json!({"username": username, "password": password, "device_name": "t"}))
                .send()
                .await
                .expect("request");
            let status = resp.status().as_u16();
            let retry = resp
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            let body: Value = resp.json().await.unwrap_or(Value::Null);
            (status, retry, body)
        }
    };
    for _ in 0..5 {
        let (status, _, _) = login("tech-a", "guess").await;
        assert_eq!(status, 401);
    }
    let (status, retry, body) = login("tech-a", PASSWORD).await;
    assert_eq!(status, 429, "even the right password waits: {body}");
    assert_eq!(body["error"]["code"], "rate_limited");
    assert!(retry.is_some_and(|s| s >= 1), "{retry:?}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("this account"),
        "{body}"
    );
    let (status, _, _) = login("tech-b", PASSWORD).await;
    assert_eq!(status, 200, "other accounts are not affected");

    let entries = audit(&server, "user=tech-a").await;
    let failures = entries
        .iter()
        .filter(|e| e["kind"] == "login_failed")
        .count();
    assert_eq!(failures, 5, "{entries:?}");
    assert!(entries
        .iter()
        .all(|e| e["kind"] != "login_failed" || e["address"] == "127.0.0.1"));
}

#[tokio::test]
async fn the_audit_trail_survives_a_restart_and_filters_by_time() {
    let mut server = TestServer::start().await;
    let office = server.device("dispatch").await;
    let id = office_creates(&office, server.tech_a).await;
    let before = audit(&server, &format!("doc={id}")).await;
    assert!(
        has_entry(&before, "change_accepted", "created"),
        "{before:?}"
    );
    assert!(
        has_entry(&before, "assigned", "assigned from nobody"),
        "{before:?}"
    );

    server.restart().await;
    let after = audit(&server, &format!("doc={id}")).await;
    assert_eq!(after, before, "the same entries after a restart");
    let created = audit(&server, "").await;
    assert!(
        has_entry(&created, "user_created", "technician account"),
        "{created:?}"
    );

    let far_future = audit(&server, "from=2099-01-01T00:00:00Z").await;
    assert!(far_future.is_empty());
    let token = server.token("dispatch").await;
    let (status, body) = server.get(&token, "/v1/audit?from=yesterday").await;
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("from"),
        "{body}"
    );
    let (status, body) = server.get(&token, "/v1/audit?limit=1").await;
    assert_eq!(status, 200);
    assert_eq!(body["items"].as_array().map(Vec::len), Some(1));
    office
        .client
        .set_server_url(&server.url())
        .expect("the server moved");
    let kinds: Vec<AuditKind> = office
        .client
        .audit(&fieldsync_client::AuditFilter {
            doc: Some(human_number(&id)),
            ..Default::default()
        })
        .await
        .expect("audit through the library")
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert!(kinds.contains(&AuditKind::ChangeAccepted), "{kinds:?}");
}

#[tokio::test]
async fn sync_runs_over_tls_with_a_certificate_authority_made_in_the_test() {
    let dir = tempfile::tempdir().expect("tmp");
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .expect("certificate");
    let cert_pem = certified.cert.pem();
    let cert = dir.path().join("server.pem");
    let key = dir.path().join("server.key");
    std::fs::write(&cert, &cert_pem).expect("write cert");
    std::fs::write(&key, certified.key_pair.serialize_pem()).expect("write key");

    let server = TestServer::start_with(StartOptions {
        tls: Some(TlsFiles { cert, key }),
        ..Default::default()
    })
    .await;
    let url = server.url();
    assert!(url.starts_with("https://"), "{url}");

    // Without the authority the device refuses the server, and says why.
    let stranger = Client::open(dir.path().join("stranger")).expect("open");
    let err = stranger
        .login(&url, "tech-a", PASSWORD, "tablet")
        .await
        .expect_err("untrusted");
    assert!(matches!(err, Error::UntrustedServer { .. }), "{err:?}");
    assert!(err.to_string().contains("--ca-cert"), "{err}");
    // Plain HTTP to the TLS port gets nowhere.
    let plain = url.replacen("https://", "http://", 1);
    let resp = reqwest::get(format!("{plain}/healthz")).await;
    assert!(resp.map(|r| !r.status().is_success()).unwrap_or(true));

    // With it, everything works, and later syncs keep trusting it.
    let options = LoginOptions {
        ca_cert_pem: Some(cert_pem),
    };
    let office = Client::open(dir.path().join("office")).expect("open");
    office
        .login_with(&url, "dispatch", PASSWORD, "console", &options)
        .await
        .expect("login over TLS");
    let id = office
        .create_work_order(intake(Some(server.tech_a)))
        .expect("create")
        .id;
    office.sync().await.expect("upload over TLS");
    let tech = Client::open(dir.path().join("tech")).expect("open");
    tech.login_with(&url, "tech-a", PASSWORD, "tablet", &options)
        .await
        .expect("login over TLS");
    let tech = {
        drop(tech);
        Client::open(dir.path().join("tech")).expect("reopen keeps the authority")
    };
    tech.sync().await.expect("sync over TLS");
    tech.accept(id).expect("accept");
    tech.sync().await.expect("upload over TLS");
    office.sync().await.expect("sync");
    assert_eq!(office.get(id).expect("view").status, Status::Accepted);
}
