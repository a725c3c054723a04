//! Clock faults: a technician's tablet whose clock is hours ahead or behind, or jumps backwards
//! in the middle of a job. Merges and derived status still come out right and the same
//! everywhere (they follow the order of events, not device times), and SLA figures use
//! sanitized times and say so (`sla.times_adjusted`).

use fieldsync_proto::{
    Action, ClockState, Impact, ProblemCategory, Status, Timestamp, Urgency, WorkOrderId,
    WorkOrderView,
};
use fieldsync_tests::inspect::{device_document, server_document};
use fieldsync_tests::{intake, Device, TestServer};

const HOUR: i64 = 60 * 60 * 1000;

fn emergency(server: &TestServer) -> fieldsync_proto::NewWorkOrder {
    let mut new = intake(Some(server.tech_a));
    new.urgency = Urgency::Emergency;
    new.impact = Impact::OneUnit;
    new.category = ProblemCategory::Hardware;
    new
}

fn field_steps() -> Vec<Action> {
    vec![
        Action::Accept,
        Action::StartTravel,
        Action::Arrive,
        Action::StartWork,
        Action::Complete {
            resolution: "Replaced the igniter".into(),
            signed_by: Some("Ines Roth".into()),
            first_time_fix: true,
        },
    ]
}

async fn sync_all(devices: &[&Device]) {
    for _ in 0..2 {
        for d in devices {
            d.client.sync().await.expect("sync");
        }
    }
}

/// The server's view through the dispatcher API.
async fn api_view(server: &TestServer, id: WorkOrderId) -> WorkOrderView {
    let token = server.token("dispatch").await;
    let (status, body) = server.get(&token, &format!("/v1/work-orders/{id}")).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_value(body).expect("view")
}

/// Every replica holds the same document (same heads) as the server.
async fn same_everywhere(server: &TestServer, devices: &[&Device], id: WorkOrderId) {
    let heads = server_document(&server.server, id)
        .await
        .expect("stored")
        .heads();
    for d in devices {
        let mut doc = device_document(&d.store_path(), id).expect("held");
        assert_eq!(doc.heads(), heads, "a replica differs from the server");
    }
}

fn assert_sane_sla(who: &str, view: &WorkOrderView, now: Timestamp) {
    let sla = &view.sla;
    assert!(sla.times_adjusted, "{who}: the wrong clock is not flagged");
    let responded = sla.responded_at.expect("responded");
    let resolved = sla.resolved_at.expect("resolved");
    assert!(
        responded >= view.created_at,
        "{who}: response before creation"
    );
    assert!(responded <= now, "{who}: response in the future");
    assert!(resolved >= responded, "{who}: resolved before responding");
    assert!(resolved <= now, "{who}: resolved in the future");
    // The job was done within minutes of its creation: both promises were kept.
    assert_eq!(sla.response, ClockState::Met, "{who}: {sla:?}");
    assert_eq!(sla.resolution, ClockState::Met, "{who}: {sla:?}");
}

#[tokio::test]
async fn a_tablet_clock_hours_ahead_keeps_status_and_sla_honest() {
    let server = TestServer::start().await;
    let office = server.device("dispatch").await;
    let tech = server.device("tech-a").await;
    let id = office
        .client
        .create_work_order(emergency(&server))
        .expect("create")
        .id;
    sync_all(&[&office, &tech]).await;

    tech.client.set_clock_skew(6 * HOUR);
    for step in field_steps() {
        tech.client.act(id, step).expect("field step");
    }
    sync_all(&[&tech, &office]).await;
    same_everywhere(&server, &[&office, &tech], id).await;

    let now = Timestamp::now();
    for (who, view) in [
        ("office", office.client.get(id).expect("view")),
        ("server", api_view(&server, id).await),
    ] {
        assert_eq!(view.status, Status::Completed, "{who}");
        assert!(view.conflicts.is_empty(), "{who}: {:?}", view.conflicts);
        assert_sane_sla(who, &view, now.plus_millis(60_000));
    }
    // The device times themselves are kept as the tablet recorded them.
    let view = office.client.get(id).expect("view");
    let accepted = view
        .status_events
        .iter()
        .find(|e| e.status == Status::Accepted)
        .expect("accepted");
    assert!(accepted.at > now.plus_millis(5 * HOUR), "device time kept");
}

#[tokio::test]
async fn a_tablet_clock_jumping_backwards_mid_job_keeps_the_order_of_events() {
    let server = TestServer::start().await;
    let office = server.device("dispatch").await;
    let tech = server.device("tech-a").await;
    let id = office
        .client
        .create_work_order(emergency(&server))
        .expect("create")
        .id;
    sync_all(&[&office, &tech]).await;

    let steps = field_steps();
    tech.client.act(id, steps[0].clone()).expect("accept");
    tech.client.act(id, steps[1].clone()).expect("travel");
    // The tablet's clock is reset three hours back (a flat battery, a bad time server).
    tech.client.set_clock_skew(-3 * HOUR);
    tech.client.act(id, steps[2].clone()).expect("arrive");
    tech.client.act(id, steps[3].clone()).expect("start");
    tech.client.set_clock_skew(-HOUR);
    tech.client.act(id, steps[4].clone()).expect("complete");
    sync_all(&[&tech, &office]).await;
    same_everywhere(&server, &[&office, &tech], id).await;

    let now = Timestamp::now();
    for (who, view) in [
        ("office", office.client.get(id).expect("view")),
        ("server", api_view(&server, id).await),
    ] {
        assert_eq!(view.status, Status::Completed, "{who}");
        assert!(view.conflicts.is_empty(), "{who}: {:?}", view.conflicts);
        let order: Vec<Status> = view.status_events.iter().map(|e| e.status).collect();
        assert_eq!(
            order,
            [
                Status::Assigned,
                Status::Accepted,
                Status::Traveling,
                Status::OnSite,
                Status::InProgress,
                Status::Completed
            ],
            "{who}"
        );
        assert_sane_sla(who, &view, now.plus_millis(60_000));
    }
}

#[tokio::test]
async fn office_and_field_with_wrong_clocks_resolve_a_conflict_the_same_everywhere() {
    let server = TestServer::start().await;
    let office = server.device("dispatch").await;
    let tech = server.device("tech-a").await;
    let id = office
        .client
        .create_work_order(emergency(&server))
        .expect("create")
        .id;
    sync_all(&[&office, &tech]).await;

    // The tablet runs eight hours behind and does the whole job offline; the office, with a
    // clock two hours ahead, cancels it meanwhile.
    tech.client.set_clock_skew(-8 * HOUR);
    for step in field_steps() {
        tech.client.act(id, step).expect("field step");
    }
    office.client.set_clock_skew(2 * HOUR);
    office
        .client
        .act(
            id,
            Action::Cancel {
                reason: "customer called to cancel".into(),
            },
        )
        .expect("cancel");
    office.client.set_clock_skew(0);
    sync_all(&[&office, &tech]).await;
    same_everywhere(&server, &[&office, &tech], id).await;

    let server_view = api_view(&server, id).await;
    let office_view = office.client.get(id).expect("view");
    let tech_view = tech.client.get(id).expect("view");
    for (who, view) in [("office", &office_view), ("tablet", &tech_view)] {
        assert_eq!(view.status, server_view.status, "{who}");
        assert_eq!(view.conflicts, server_view.conflicts, "{who}");
    }
    assert_eq!(
        server_view.status,
        Status::Completed,
        "the work done on site stands"
    );
    assert_eq!(
        server_view.conflicts.len(),
        1,
        "{:?}",
        server_view.conflicts
    );
    assert!(server_view.sla.times_adjusted);
}
