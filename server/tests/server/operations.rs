//! Service operations through the API: the work order detail with its timeline and reviews,
//! stale edits, parts stock, follow-ups and KPIs, each with its invalid input.

use axum::http::{Method, StatusCode};
use fieldsync_proto::wire::ChangeBytes;
use fieldsync_proto::wire::PushDoc;
use fieldsync_proto::{
    Action, Actor, NewPartUsage, Role, Timestamp, WorkOrderDocument, WorkOrderId,
};
use fieldsync_server::storage::{DocumentCommit, NewChange};
use serde_json::{json, Value};

use crate::common::{assert_error, intake, Device, Harness};

fn assert_field(status: StatusCode, body: &Value, field: &str) {
    assert_error(
        status,
        body,
        StatusCode::BAD_REQUEST,
        "invalid_input",
        &[field],
    );
    assert_eq!(body["error"]["field"], field, "{body}");
}

async fn put(h: &Harness, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
    h.json(Method::PUT, path, Some(token), Some(body)).await
}

fn stock_row<'a>(report: &'a Value, location: &str, part: &str) -> &'a Value {
    report["levels"]
        .as_array()
        .expect("levels")
        .iter()
        .find(|r| r["location"] == location && r["part_number"] == part)
        .unwrap_or_else(|| panic!("no row for {part} at {location}: {report}"))
}

#[tokio::test]
async fn stock_is_folded_from_the_ledger_and_flags_shortages() {
    let h = Harness::new().await;
    let office = h.device("disp", Role::Dispatcher).await;
    let mut tech = h.device("tech", Role::Technician).await;
    let t = &office.token;

    let receipt_id = fieldsync_proto::EntryId::new();
    let receipt = json!({"id": receipt_id, "kind": "receipt", "part_number": "FUSE-10",
        "location": "WH", "quantity": 10});
    let (status, body) = h.post("/v1/stock/movements", t, receipt.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, _) = h.post("/v1/stock/movements", t, receipt).await;
    assert_eq!(status, StatusCode::OK, "a retried request counts once");
    let (status, body) = h
        .post(
            "/v1/stock/movements",
            t,
            json!({"kind": "transfer", "part_number": "FUSE-10", "location": "WH",
                "to": "VAN-1", "quantity": 3}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, _) = h
        .post(
            "/v1/stock/movements",
            t,
            json!({"kind": "adjustment", "part_number": "FUSE-10", "location": "WH",
                "quantity": -1}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = put(
        &h,
        "/v1/stock/safety",
        t,
        json!({"part": "FUSE-10", "location": "VAN-1", "level": 2}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Two usages on a job take the van below zero: flagged, not clamped.
    let job = h.create_work_order(t, Some(tech.user)).await;
    tech.pull_all(&h).await;
    let mut push = Vec::new();
    for action in [
        Action::Accept,
        Action::StartTravel,
        Action::Arrive,
        Action::StartWork,
    ] {
        push.push(tech.act(job, action));
    }
    push.push(tech.act(
        job,
        Action::RecordPartUsage(NewPartUsage {
            part_number: "FUSE-10".into(),
            quantity: 4,
            source_location: "VAN-1".into(),
            serial: None,
            refurbished: false,
        }),
    ));
    let changes: Vec<ChangeBytes> = push.into_iter().flat_map(|p| p.changes).collect();
    let (status, _) = tech.sync(&h, vec![PushDoc { doc: job, changes }]).await;
    assert_eq!(status, StatusCode::OK);

    let (status, report) = h.get("/v1/stock", t).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let wh = stock_row(&report, "WH", "FUSE-10");
    assert_eq!(
        (wh["on_hand"].clone(), wh["state"].clone()),
        (json!(6), json!("ok"))
    );
    let van = stock_row(&report, "VAN-1", "FUSE-10");
    assert_eq!(van["on_hand"], -1, "{report}");
    assert_eq!(van["safety"], 2);
    assert_eq!(van["state"], "negative");
    put(
        &h,
        "/v1/stock/safety",
        t,
        json!({"part": "FUSE-10", "location": "WH", "level": 7}),
    )
    .await;
    let (_, report) = h.get("/v1/stock", t).await;
    assert_eq!(stock_row(&report, "WH", "FUSE-10")["state"], "below_safety");

    let (status, ledger) = h.get("/v1/stock/movements?limit=10", t).await;
    assert_eq!(status, StatusCode::OK);
    let items = ledger["items"].as_array().expect("items");
    assert_eq!(items.len(), 4, "{ledger}");
    assert!(
        items
            .iter()
            .any(|m| m["kind"]["usage"]["work_order"] == json!(job)),
        "the job's usage is in the ledger: {ledger}"
    );

    for (body, field) in [
        (
            json!({"kind": "receipt", "part_number": "FUSE-10", "location": "WH", "quantity": 0}),
            "quantity",
        ),
        (
            json!({"kind": "receipt", "part_number": " ", "location": "WH", "quantity": 1}),
            "part_number",
        ),
        (
            json!({"kind": "transfer", "part_number": "FUSE-10", "location": "WH", "quantity": 1}),
            "to",
        ),
        (
            json!({"kind": "transfer", "part_number": "FUSE-10", "location": "WH", "to": "WH", "quantity": 1}),
            "to",
        ),
        (
            json!({"kind": "receipt", "part_number": "FUSE-10", "location": "WH", "to": "VAN-1", "quantity": 1}),
            "to",
        ),
        (
            json!({"kind": "usage", "part_number": "FUSE-10", "location": "WH", "quantity": 1}),
            "kind",
        ),
        (
            json!({"kind": "receipt", "part_number": "FUSE-10", "location": "WH", "quantity": "many"}),
            "quantity",
        ),
    ] {
        let (status, answer) = h.post("/v1/stock/movements", t, body.clone()).await;
        assert_field(status, &answer, field);
    }
    for (body, field) in [
        (
            json!({"part": "FUSE-10", "location": "WH", "level": -1}),
            "level",
        ),
        (json!({"part": "", "location": "WH", "level": 1}), "part"),
        (json!({"part": "FUSE-10", "location": "WH"}), "level"),
    ] {
        let (status, answer) = put(&h, "/v1/stock/safety", t, body).await;
        assert_field(status, &answer, field);
    }
    let (status, answer) = h.get("/v1/stock/movements?limit=0", t).await;
    assert_field(status, &answer, "limit");
    let (_, after) = h.get("/v1/stock/movements?limit=100", t).await;
    assert_eq!(
        after["items"].as_array().map(Vec::len),
        Some(4),
        "refused input stored nothing"
    );
    let (status, answer) = h.get("/v1/stock", &tech.token).await;
    assert_error(
        status,
        &answer,
        StatusCode::FORBIDDEN,
        "forbidden",
        &["stock"],
    );
}

#[tokio::test]
async fn detail_has_a_timeline_with_server_times_and_refused_edits_to_review() {
    let h = Harness::new().await;
    let office = h.device("disp", Role::Dispatcher).await;
    let mut tech = h.device("tech", Role::Technician).await;
    let job = h.create_work_order(&office.token, Some(tech.user)).await;
    tech.pull_all(&h).await;
    let accept = tech.act(job, Action::Accept);
    tech.sync(&h, vec![accept]).await;
    let junk = PushDoc {
        doc: job,
        changes: vec![ChangeBytes(b"not an automerge change".to_vec())],
    };
    tech.sync(&h, vec![junk]).await;

    let (status, detail) = h
        .get(&format!("/v1/work-orders/{job}"), &office.token)
        .await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    assert!(
        detail["version"].as_u64().is_some_and(|v| v > 0),
        "{detail}"
    );
    let timeline = detail["timeline"].as_array().expect("timeline");
    let statuses: Vec<&str> = timeline
        .iter()
        .filter_map(|e| e["status"].as_str())
        .collect();
    assert_eq!(statuses, ["assigned", "accepted"], "{detail}");
    for entry in timeline {
        assert!(entry["device_time"].as_i64().is_some(), "{entry}");
        assert!(entry["server_time"].as_i64().is_some(), "{entry}");
        assert_eq!(entry["set_aside"], false);
    }
    let rejected = detail["rejected_edits"].as_array().expect("rejected");
    assert_eq!(rejected.len(), 1, "{detail}");
    assert_eq!(rejected[0]["user"], json!(tech.user), "{rejected:?}");
    assert!(
        rejected[0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("change_undecodable")),
        "{rejected:?}"
    );
    assert_eq!(rejected[0]["resolved"], false);
    let review = rejected[0]["id"].as_str().expect("id").to_owned();

    let path = format!("/v1/work-orders/{job}/reviews/{review}/resolve");
    let (status, answer) = h.post(&path, &tech.token, json!({})).await;
    assert_error(
        status,
        &answer,
        StatusCode::FORBIDDEN,
        "forbidden",
        &["reviewing"],
    );
    let (status, after) = h
        .post(
            &path,
            &office.token,
            json!({"note": "asked the technician to update the app"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{after}");
    assert_eq!(after["rejected_edits"][0]["resolved"], true);
    assert_eq!(
        after["rejected_edits"][0]["resolved_by"],
        json!(office.user)
    );
    let (status, again) = h.post(&path, &office.token, json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        again["rejected_edits"][0]["resolved_at"], after["rejected_edits"][0]["resolved_at"],
        "the first review stands"
    );
    let (status, answer) = h
        .post(
            &format!("/v1/work-orders/{job}/reviews/rejected-999999/resolve"),
            &office.token,
            json!({}),
        )
        .await;
    assert_error(
        status,
        &answer,
        StatusCode::NOT_FOUND,
        "not_found",
        &["rejected-999999"],
    );
    let (status, answer) = h.post(&path, &office.token, json!({"note": 5})).await;
    assert_field(status, &answer, "note");
    let unknown = WorkOrderId::new();
    let (status, _) = h
        .post(
            &format!("/v1/work-orders/{unknown}/reviews/{review}/resolve"),
            &office.token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn stale_assignments_are_refused_and_appended_actions_merge() {
    let h = Harness::new().await;
    let office = h.device("disp", Role::Dispatcher).await;
    let ann = h.device("ann", Role::Technician).await;
    let bob = h.device("bob", Role::Technician).await;
    let job = h.create_work_order(&office.token, None).await;
    let (_, seen) = h
        .get(&format!("/v1/work-orders/{job}"), &office.token)
        .await;
    let seen_version = seen["version"].as_u64().expect("version");

    // Someone else assigns Ann first.
    let (status, first) = h
        .post(
            &format!("/v1/work-orders/{job}/assign"),
            &office.token,
            json!({"technician": ann.user}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let now_version = first["version"].as_u64().expect("version");
    assert!(now_version > seen_version);

    // Assigning Bob on the old version would overwrite that: refused, with the current version.
    let (status, answer) = h
        .post(
            &format!("/v1/work-orders/{job}/assign"),
            &office.token,
            json!({"technician": bob.user, "expected_version": seen_version}),
        )
        .await;
    assert_error(
        status,
        &answer,
        StatusCode::CONFLICT,
        "conflict",
        &["changed since version", "reload"],
    );
    assert_eq!(answer["error"]["field"], "expected_version");
    assert_eq!(answer["error"]["current_version"], now_version);
    let (_, detail) = h
        .get(&format!("/v1/work-orders/{job}"), &office.token)
        .await;
    assert_eq!(
        detail["assignee"],
        json!(ann.user),
        "nothing was lost or overwritten"
    );
    assert_eq!(detail["version"], now_version);

    // The same assignment on the old version changes nothing, so it is no conflict.
    let (status, same) = h
        .post(
            &format!("/v1/work-orders/{job}/assign"),
            &office.token,
            json!({"technician": ann.user, "expected_version": seen_version}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{same}");
    let now_version = same["version"].as_u64().expect("version");
    // On the current version, the reassignment goes through.
    let (status, moved) = h
        .post(
            &format!("/v1/work-orders/{job}/assign?expected_version={now_version}"),
            &office.token,
            json!({"technician": bob.user}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    assert_eq!(moved["assignee"], json!(bob.user));

    // A cancellation appends an event: it merges with what happened meanwhile.
    let (status, cancelled) = h
        .post(
            &format!("/v1/work-orders/{job}/actions?expected_version={seen_version}"),
            &office.token,
            json!({"action": "cancel", "reason": "customer withdrew"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{cancelled}");
    assert_eq!(cancelled["status"], "cancelled");
    let (status, answer) = h
        .post(
            &format!("/v1/work-orders/{job}/actions?expected_version=soon"),
            &office.token,
            json!({"action": "close"}),
        )
        .await;
    assert_field(status, &answer, "expected_version");
}

/// A completed job made with the real actions at chosen times and stored directly.
async fn import_completed(
    h: &Harness,
    office: &Device,
    tech: &Device,
    created: Timestamp,
) -> WorkOrderId {
    let actor = |d: &Device| Actor {
        user: d.user,
        role: d.role,
        device: d.id,
    };
    let id = WorkOrderId::new();
    let (mut doc, _, first) =
        WorkOrderDocument::create(id, intake(Some(tech.user)), &actor(office), created)
            .expect("create");
    let mut changes = vec![first];
    for (minutes, action) in [
        (10, Action::Accept),
        (20, Action::StartTravel),
        (50, Action::Arrive),
        (55, Action::StartWork),
        (
            120,
            Action::Complete {
                resolution: "Replaced the heating element".into(),
                signed_by: None,
                first_time_fix: true,
            },
        ),
    ] {
        let (_, change) = doc
            .act(&action, &actor(tech), created.plus_minutes(minutes))
            .expect("act");
        changes.push(change);
    }
    let wo = doc.read().expect("read");
    let now = Timestamp::now();
    let changes = changes
        .into_iter()
        .map(|c| NewChange {
            hash: c.hash,
            bytes: c.bytes,
        })
        .collect();
    h.state
        .storage()
        .import(vec![DocumentCommit::new_import(
            &wo,
            doc.save(),
            changes,
            now,
        )])
        .await
        .expect("import");
    id
}

#[tokio::test]
async fn follow_ups_come_due_48_hours_after_completion_and_feed_the_kpis() {
    let h = Harness::new().await;
    let office = h.device("disp", Role::Dispatcher).await;
    let tech = h.device("tech", Role::Technician).await;
    let now = Timestamp::now();
    let old = import_completed(&h, &office, &tech, now.plus_minutes(-4 * 24 * 60)).await;
    let recent = import_completed(&h, &office, &tech, now.plus_minutes(-24 * 60)).await;
    let open = h.create_work_order(&office.token, Some(tech.user)).await;

    let (status, due) = h.get("/v1/follow-ups", &office.token).await;
    assert_eq!(status, StatusCode::OK, "{due}");
    let items = due["items"].as_array().expect("items");
    assert_eq!(
        items.len(),
        1,
        "only the job completed over 48 hours ago: {due}"
    );
    assert_eq!(items[0]["work_order"], json!(old));
    assert_eq!(items[0]["technician"], json!(tech.user));

    let path = |id: WorkOrderId| format!("/v1/work-orders/{id}/follow-up");
    for (body, field) in [
        (json!({"satisfaction": 6, "nps": 9}), "satisfaction"),
        (json!({"satisfaction": 4, "nps": 11}), "nps"),
        (json!({"satisfaction": 300}), "satisfaction"),
        (json!({"comment": "  "}), "comment"),
    ] {
        let (status, answer) = h.post(&path(old), &office.token, body).await;
        assert_field(status, &answer, field);
    }
    let (status, answer) = h
        .post(&path(open), &office.token, json!({"satisfaction": 5}))
        .await;
    assert_error(
        status,
        &answer,
        StatusCode::CONFLICT,
        "conflict",
        &["completed"],
    );
    let (status, answer) = h
        .post(&path(old), &tech.token, json!({"satisfaction": 5}))
        .await;
    assert_error(
        status,
        &answer,
        StatusCode::FORBIDDEN,
        "forbidden",
        &["follow-ups"],
    );
    let (status, answer) = h
        .post(
            &path(WorkOrderId::new()),
            &office.token,
            json!({"satisfaction": 5}),
        )
        .await;
    assert_error(
        status,
        &answer,
        StatusCode::NOT_FOUND,
        "not_found",
        &["no work order"],
    );

    let (status, recorded) = h
        .post(
            &path(old),
            &office.token,
            json!({"satisfaction": 4, "nps": 10, "comment": "quick"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{recorded}");
    assert_eq!(recorded["satisfaction"], 4);
    let (_, due) = h.get("/v1/follow-ups", &office.token).await;
    assert_eq!(due["items"].as_array().map(Vec::len), Some(0), "{due}");
    let (_, detail) = h
        .get(&format!("/v1/work-orders/{old}"), &office.token)
        .await;
    assert_eq!(detail["follow_up"]["nps"], 10, "{detail}");
    assert!(detail["follow_up_due"].as_i64().is_some());
    let (_, detail) = h
        .get(&format!("/v1/work-orders/{recent}"), &office.token)
        .await;
    assert!(detail["follow_up"].is_null());

    let (status, report) = h.get("/v1/kpis?period=day", &office.token).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["overall"]["work_orders"], 3, "{report}");
    assert_eq!(report["overall"]["completed"], 2);
    assert_eq!(report["overall"]["first_time_fix"]["hits"], 2);
    assert_eq!(report["overall"]["satisfaction"]["responses"], 1);
    assert_eq!(report["overall"]["nps"]["promoters"], 1);
    assert_eq!(
        report["by_period"].as_array().map(Vec::len),
        Some(3),
        "{report}"
    );
    let techs = report["by_technician"].as_array().expect("technicians");
    assert_eq!(techs.len(), 1);
    assert_eq!(techs[0]["technician"], json!(tech.user));
    let from = now.plus_minutes(-2 * 24 * 60).to_rfc3339();
    let (status, narrow) = h
        .get(
            &format!("/v1/kpis?from={from}&period=month&utc_offset_minutes=60"),
            &office.token,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{narrow}");
    assert_eq!(narrow["overall"]["work_orders"], 2, "{narrow}");
    for (query, field) in [
        ("period=year", "period"),
        ("from=yesterday", "from"),
        ("from=2030-01-02T00:00:00Z&to=2030-01-01T00:00:00Z", "from"),
        ("utc_offset_minutes=5000", "utc_offset_minutes"),
    ] {
        let (status, answer) = h.get(&format!("/v1/kpis?{query}"), &office.token).await;
        assert_field(status, &answer, field);
    }
    let (status, _) = h.get("/v1/kpis", &tech.token).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
