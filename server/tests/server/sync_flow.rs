//! The sync round trip: idempotent pushes, paged pulls, technician scope, office edits reaching
//! devices, reassignment, concurrent edits, and re-sending what a device did not acknowledge.

use axum::http::StatusCode;
use fieldsync_proto::wire::{ChangeBytes, Cursor, PullLimits, PushDoc, PushOutcome, UpdatePayload};
use fieldsync_proto::{
    Action, Actor, Role, Status, Timestamp, Urgency, WorkOrderDocument, WorkOrderId,
};
use serde_json::json;

use crate::common::{intake, Device, Harness};

fn kinds(response: &fieldsync_proto::wire::SyncResponse) -> Vec<(WorkOrderId, &'static str)> {
    response
        .updates
        .iter()
        .map(|u| {
            let kind = match u.payload {
                UpdatePayload::Snapshot(_) => "snapshot",
                UpdatePayload::Changes(_) => "changes",
                UpdatePayload::Removed => "removed",
            };
            (u.doc, kind)
        })
        .collect()
}

fn status_of(device: &Device, id: WorkOrderId) -> Status {
    device.docs[&id].read().expect("read").status()
}

#[tokio::test]
async fn a_retried_push_is_stored_once() {
    let h = Harness::new().await;
    let office = h.device("dispatch", Role::Dispatcher).await;
    let mut tech = h.device("tech", Role::Technician).await;
    let wo = h.create_work_order(&office.token, Some(tech.user)).await;
    tech.pull_all(&h).await;

    let push = tech.act(wo, Action::Accept);
    let before = h.stored_changes(wo).await;
    let (status, first) = h.sync(&tech.token, &tech.request(vec![push.clone()])).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        first.results[0].outcome,
        PushOutcome::Accepted { new_changes: 1 }
    );
    assert!(
        first.updates.is_empty(),
        "a device is not sent back its own changes: {:?}",
        first.updates
    );
    // The answer was lost; the device sends the same again.
    let (status, second) = h.sync(&tech.token, &tech.request(vec![push])).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        second.results[0].outcome,
        PushOutcome::Accepted { new_changes: 0 }
    );
    assert_eq!(h.stored_changes(wo).await, before + 1, "stored once");
}

#[tokio::test]
async fn pulls_are_paged_by_count_and_size() {
    let h = Harness::new().await;
    let office = h.device("dispatch", Role::Dispatcher).await;
    let mut ids = Vec::new();
    for _ in 0..7 {
        ids.push(h.create_work_order(&office.token, None).await);
    }
    h.add_user("dispatch2", Role::Dispatcher).await;
    let mut reader = Device::new(h.login("dispatch2").await);
    reader.limits = PullLimits {
        max_docs: 3,
        max_bytes: 4 * 1024 * 1024,
    };
    let mut pages = Vec::new();
    loop {
        let (status, response) = reader.sync(&h, Vec::new()).await;
        assert_eq!(status, StatusCode::OK);
        pages.push((
            response.updates.len(),
            response.more,
            response.remaining_docs,
            response.cursor,
        ));
        if !response.more {
            break;
        }
    }
    assert_eq!(
        pages.iter().map(|p| (p.0, p.1, p.2)).collect::<Vec<_>>(),
        vec![(3, true, 4), (3, true, 1), (1, false, 0)]
    );
    assert!(
        pages.windows(2).all(|w| w[0].3 < w[1].3),
        "the cursor moves forward: {pages:?}"
    );
    let mut got: Vec<_> = reader.docs.keys().copied().collect();
    got.sort();
    ids.sort();
    assert_eq!(got, ids, "every document arrives exactly once");

    // Nothing new: an empty page, and the cursor stays.
    let cursor = reader.cursor;
    let (_, response) = reader.sync(&h, Vec::new()).await;
    assert!(response.updates.is_empty());
    assert_eq!(response.cursor, cursor);

    // A byte limit smaller than one document still moves one document per page.
    h.add_user("dispatch3", Role::Dispatcher).await;
    let mut tiny = Device::new(h.login("dispatch3").await);
    tiny.limits = PullLimits {
        max_docs: 100,
        max_bytes: 10,
    };
    assert_eq!(tiny.pull_all(&h).await, 7);
    assert_eq!(tiny.docs.len(), 7);
}

#[tokio::test]
async fn technicians_receive_only_their_work_orders() {
    let h = Harness::new().await;
    let office = h.device("dispatch", Role::Dispatcher).await;
    let mut ann = h.device("ann", Role::Technician).await;
    let mut bob = h.device("bob", Role::Technician).await;
    let for_ann = h.create_work_order(&office.token, Some(ann.user)).await;
    let for_bob = h.create_work_order(&office.token, Some(bob.user)).await;
    let _unassigned = h.create_work_order(&office.token, None).await;

    ann.pull_all(&h).await;
    bob.pull_all(&h).await;
    assert_eq!(ann.docs.keys().copied().collect::<Vec<_>>(), vec![for_ann]);
    assert_eq!(bob.docs.keys().copied().collect::<Vec<_>>(), vec![for_bob]);

    // The JSON API agrees: others' work orders do not exist for a technician.
    let (status, _) = h
        .get(&format!("/v1/work-orders/{for_bob}"), &ann.token)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = h
        .get(&format!("/v1/work-orders/{for_ann}"), &ann.token)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, list) = h.get("/v1/work-orders", &ann.token).await;
    assert_eq!(list["total"], 1);
}

#[tokio::test]
async fn office_edits_reach_devices_and_concurrent_work_merges() {
    let h = Harness::new().await;
    let mut office = h.device("dispatch", Role::Dispatcher).await;
    let mut tech = h.device("tech", Role::Technician).await;
    let wo = h.create_work_order(&office.token, Some(tech.user)).await;
    tech.pull_all(&h).await;
    office.pull_all(&h).await;

    // Offline, the technician accepts; meanwhile the office reclassifies through the API.
    let accept = tech.act(wo, Action::Accept);
    let (status, body) = h
        .post(
            &format!("/v1/work-orders/{wo}/actions"),
            &office.token,
            json!({"action": "classify", "category": "hardware", "urgency": "emergency",
                   "impact": "one_site"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["urgency"], "emergency");
    assert_eq!(body["priority"], "P1");

    let (status, response) = tech.sync(&h, vec![accept]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        response.results[0].outcome,
        PushOutcome::Accepted { new_changes: 1 }
    );
    assert_eq!(
        kinds(&response),
        vec![(wo, "changes")],
        "the office edit, in the same trip"
    );
    let local = tech.docs[&wo].read().expect("read");
    assert_eq!(local.urgency, Urgency::Emergency);
    assert_eq!(local.status(), Status::Accepted);

    // The server holds the same merged state, and so does the office's own device, which
    // gets the API edit although the same user made it.
    let (_, view) = h.get(&format!("/v1/work-orders/{wo}"), &office.token).await;
    assert_eq!(view["status"], "accepted");
    assert_eq!(view["urgency"], "emergency");
    office.pull_all(&h).await;
    assert_eq!(office.docs[&wo].read().expect("read"), local);
}

#[tokio::test]
async fn reassignment_moves_the_work_order_between_devices() {
    let h = Harness::new().await;
    let office = h.device("dispatch", Role::Dispatcher).await;
    let mut ann = h.device("ann", Role::Technician).await;
    let mut bob = h.device("bob", Role::Technician).await;
    let wo = h.create_work_order(&office.token, Some(ann.user)).await;
    ann.pull_all(&h).await;
    bob.pull_all(&h).await;
    assert!(ann.docs.contains_key(&wo) && bob.docs.is_empty());

    let path = format!("/v1/work-orders/{wo}/assign");
    let assign =
        |to: fieldsync_proto::UserId| h.post(&path, &office.token, json!({ "technician": to }));
    let (status, body) = assign(bob.user).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (_, response) = ann.sync(&h, Vec::new()).await;
    assert_eq!(kinds(&response), vec![(wo, "removed")]);
    assert!(ann.docs.is_empty());
    let (_, response) = bob.sync(&h, Vec::new()).await;
    assert_eq!(kinds(&response), vec![(wo, "snapshot")]);
    assert_eq!(status_of(&bob, wo), Status::Assigned);

    // Told once: the next pull has nothing for ann.
    let (_, response) = ann.sync(&h, Vec::new()).await;
    assert!(response.updates.is_empty());

    // Back to ann: she gets the whole document again, with the history she missed.
    let (status, _) = assign(ann.user).await;
    assert_eq!(status, StatusCode::OK);
    let (_, response) = ann.sync(&h, Vec::new()).await;
    assert_eq!(kinds(&response), vec![(wo, "snapshot")]);
    let (_, response) = bob.sync(&h, Vec::new()).await;
    assert_eq!(kinds(&response), vec![(wo, "removed")]);
    let events = ann.docs[&wo].read().expect("read").status_events.len();
    assert_eq!(events, 3, "assigned to ann, to bob, to ann");
}

#[tokio::test]
async fn unacknowledged_snapshots_are_sent_again() {
    let h = Harness::new().await;
    let office = h.device("dispatch", Role::Dispatcher).await;
    let mut tech = h.device("tech", Role::Technician).await;
    let wo = h.create_work_order(&office.token, Some(tech.user)).await;

    // The device receives the page but crashes before storing it.
    let (_, lost) = h.sync(&tech.token, &tech.request(Vec::new())).await;
    assert_eq!(kinds(&lost), vec![(wo, "snapshot")]);
    // Meanwhile the office changes the work order.
    let (status, _) = h
        .post(
            &format!("/v1/work-orders/{wo}/actions"),
            &office.token,
            json!({"action": "reschedule", "window": {"start": 1_900_000_000_000i64, "end": 1_900_000_360_000i64}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    // With its old cursor it gets the whole document again, not changes it could not apply.
    let (_, response) = tech.sync(&h, Vec::new()).await;
    assert_eq!(kinds(&response), vec![(wo, "snapshot")]);
    assert!(tech.docs[&wo].read().expect("read").schedule.is_some());

    // Once acknowledged, only changes follow.
    let (status, _) = h
        .post(
            &format!("/v1/work-orders/{wo}/actions"),
            &office.token,
            json!({"action": "reschedule", "window": null}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, response) = tech.sync(&h, Vec::new()).await;
    assert_eq!(kinds(&response), vec![(wo, "changes")]);
    assert!(tech.docs[&wo].read().expect("read").schedule.is_none());
}

#[tokio::test]
async fn resync_sends_the_whole_document_again() {
    let h = Harness::new().await;
    let office = h.device("dispatch", Role::Dispatcher).await;
    let mut tech = h.device("tech", Role::Technician).await;
    let wo = h.create_work_order(&office.token, Some(tech.user)).await;
    let hidden = h.create_work_order(&office.token, None).await;
    tech.pull_all(&h).await;
    tech.docs.clear();

    let mut request = tech.request(Vec::new());
    request.resync = vec![wo, hidden, WorkOrderId::new()];
    let (status, response) = h.sync(&tech.token, &request).await;
    assert_eq!(status, StatusCode::OK);
    let got = kinds(&response);
    assert_eq!(got[0], (wo, "snapshot"));
    assert_eq!(
        got[1],
        (hidden, "removed"),
        "out of scope: only told to drop it"
    );
    assert_eq!(got[2].1, "removed", "unknown: told to drop it");
    assert_eq!(got.len(), 3);
}

#[tokio::test]
async fn office_devices_create_work_orders_by_pushing() {
    let h = Harness::new().await;
    let mut console = h.device("dispatch", Role::Dispatcher).await;
    let mut tech = h.device("tech", Role::Technician).await;
    let id = WorkOrderId::new();
    let actor: Actor = console.actor();
    let (mut doc, _, change) =
        WorkOrderDocument::create(id, intake(Some(tech.user)), &actor, Timestamp::now())
            .expect("create");
    let _ = doc.save();
    console.docs.insert(id, doc);
    let push = PushDoc {
        doc: id,
        changes: vec![ChangeBytes(change.bytes)],
    };
    let (status, response) = console.sync(&h, vec![push]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        response.results[0].outcome,
        PushOutcome::Accepted { new_changes: 1 }
    );
    assert!(
        response.updates.is_empty(),
        "the creator is not sent its own document"
    );
    let (_, response) = console.sync(&h, Vec::new()).await;
    assert!(response.updates.is_empty());

    tech.pull_all(&h).await;
    assert_eq!(status_of(&tech, id), Status::Assigned);
    let (_, list) = h
        .get("/v1/work-orders?status=assigned", &console.token)
        .await;
    assert_eq!(list["total"], 1);
    assert_eq!(list["items"][0]["id"], json!(id));
}

#[tokio::test]
async fn cursors_beyond_the_log_skip_nothing_new() {
    let h = Harness::new().await;
    let office = h.device("dispatch", Role::Dispatcher).await;
    let mut tech = h.device("tech", Role::Technician).await;
    tech.pull_all(&h).await;
    let empty_cursor = tech.cursor;
    let wo = h.create_work_order(&office.token, Some(tech.user)).await;
    let (_, response) = tech.sync(&h, Vec::new()).await;
    assert_eq!(kinds(&response), vec![(wo, "snapshot")]);
    assert!(tech.cursor > empty_cursor);
    assert!(tech.cursor >= Cursor(1));
}

#[tokio::test]
async fn snapshots_and_changes_carry_the_stored_index_row() {
    let h = Harness::new().await;
    let office = h.device("dispatch", Role::Dispatcher).await;
    let mut tech = h.device("tech", Role::Technician).await;
    let wo = h.create_work_order(&office.token, Some(tech.user)).await;

    let (status, first) = tech.sync(&h, Vec::new()).await;
    assert_eq!(status, StatusCode::OK);
    let update = first.updates.iter().find(|u| u.doc == wo).expect("sent");
    let UpdatePayload::Snapshot(bytes) = &update.payload else {
        panic!("a new document comes whole: {:?}", update.payload);
    };
    let summary = update
        .summary
        .as_ref()
        .expect("a snapshot comes with its index row");
    let read = WorkOrderDocument::load(bytes)
        .and_then(|d| d.read())
        .expect("readable");
    let derived = fieldsync_proto::WorkOrderSummary::new(&read, summary.created_at);
    assert_eq!(summary.id, wo);
    assert_eq!(summary.number, derived.number);
    assert_eq!(summary.status, derived.status);
    assert_eq!(summary.priority, derived.priority);
    assert_eq!(summary.assignee, Some(tech.user));
    assert_eq!(summary.resolution_due, derived.resolution_due);

    // A later office edit reaches the device as changes, with the index row they lead to.
    let (status, body) = h
        .post(
            &format!("/v1/work-orders/{wo}/actions"),
            &office.token,
            json!({"action": "classify", "category": "hardware", "urgency": "emergency",
                   "impact": "one_site"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, second) = tech.sync(&h, Vec::new()).await;
    let update = second.updates.iter().find(|u| u.doc == wo).expect("sent");
    let UpdatePayload::Changes(changes) = &update.payload else {
        panic!("a document the device has comes as changes: {update:?}");
    };
    let mut doc = WorkOrderDocument::load(bytes).expect("readable");
    doc.apply_changes(changes).expect("the changes apply");
    let derived =
        fieldsync_proto::WorkOrderSummary::new(&doc.read().expect("readable"), summary.created_at);
    let after = update
        .summary
        .as_ref()
        .expect("changes come with the index row they lead to");
    assert_eq!(after.id, wo);
    assert_eq!(after.priority, derived.priority);
    assert_ne!(after.priority, summary.priority, "the row of the new state");
    assert_eq!(after.resolution_due, derived.resolution_due);
}
