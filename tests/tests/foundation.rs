//! End-to-end scenarios of the foundation: technicians work offline, the office edits at the
//! same time, everyone syncs through a real server, and every replica ends up the same with
//! nothing lost or doubled.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use fieldsync_proto::{
    Action, ConflictKind, HoldReason, Impact, Measurement, NewPartUsage, NewRepairRecord, Priority,
    ProblemCategory, ScheduleWindow, Status, Timestamp, Urgency, WorkOrderId, WorkOrderView,
};
use fieldsync_tests::fault_proxy::{Fault, FaultProxy};
use fieldsync_tests::{intake, Device, TestServer, PASSWORD};

fn part(number: &str, quantity: i64) -> Action {
    Action::RecordPartUsage(NewPartUsage {
        part_number: number.into(),
        quantity,
        source_location: "VAN-07".into(),
        serial: None,
        refurbished: false,
    })
}

/// The document's content, leaving out SLA clock states that depend on when they were read.
fn content(view: &WorkOrderView) -> serde_json::Value {
    let mut value = serde_json::to_value(view).expect("serializes");
    if let Some(sla) = value.get_mut("sla").and_then(|s| s.as_object_mut()) {
        sla.remove("response");
        sla.remove("resolution");
    }
    value
}

/// The server's view of a work order, through the dispatcher JSON API.
async fn server_view(url: &str, id: WorkOrderId) -> WorkOrderView {
    let http = reqwest::Client::new();
    let login: serde_json::Value = http
        .post(format!("{url}/v1/login"))
        .json(&serde_json::json!({"username": "dispatch", "password": PASSWORD, "device_name": "checker"}))
        .send()
        .await
        .expect("login request")
        .json()
        .await
        .expect("login body");
    let token = login["token"].as_str().expect("token");
    http.get(format!("{url}/v1/work-orders/{id}"))
        .bearer_auth(token)
        .send()
        .await
        .expect("get request")
        .error_for_status()
        .expect("get ok")
        .json()
        .await
        .expect("view body")
}

async fn sync_all(devices: &[&Device]) {
    // Twice round: the first pass uploads, the second brings everyone the others' uploads.
    for _ in 0..2 {
        for d in devices {
            d.client.sync().await.expect("sync");
        }
    }
}

#[tokio::test]
async fn offline_technician_and_dispatcher_edits_merge() {
    let server = TestServer::start().await;
    let office = server.device("dispatch").await;
    let tech = server.device("tech-a").await;

    let created = office
        .client
        .create_work_order(intake(Some(server.tech_a)))
        .expect("create");
    let id = created.id;
    assert_eq!(created.status, Status::Assigned);
    assert_eq!(created.priority, Priority::P3);
    office.client.sync().await.expect("office uploads");
    tech.client.sync().await.expect("tech downloads");
    assert_eq!(tech.client.my_open_jobs().expect("jobs")[0].id, id);

    // The technician loses signal and keeps working.
    for action in [
        Action::Accept,
        Action::StartTravel,
        Action::Arrive,
        Action::StartWork,
    ] {
        tech.client.act(id, action).expect("field step");
    }
    tech.client
        .act(id, part("HEAT-ELEM-2K", 1))
        .expect("part 1");
    tech.client.act(id, part("THERMO-K", 2)).expect("part 2");
    tech.client
        .act(
            id,
            Action::AddRepairRecord(NewRepairRecord {
                diagnosis: "Heating element open circuit".into(),
                action_taken: "Replaced element and thermocouple".into(),
                measurements: vec![
                    Measurement {
                        name: "resistance".into(),
                        value: 26.4,
                        unit: "ohm".into(),
                    },
                    Measurement {
                        name: "temperature".into(),
                        value: 251.0,
                        unit: "°C".into(),
                    },
                ],
            }),
        )
        .expect("repair record");
    tech.client
        .act(
            id,
            Action::EditNotes {
                text: "Customer asks for a call before the next visit.".into(),
            },
        )
        .expect("notes");
    assert!(tech.client.pending_changes().expect("pending") >= 8);

    // Meanwhile the office raises the urgency and moves the schedule.
    let start = Timestamp::now().plus_minutes(60);
    office
        .client
        .act(
            id,
            Action::Classify {
                category: ProblemCategory::Hardware,
                urgency: Urgency::Emergency,
                impact: Impact::OneUnit,
                tier: None,
            },
        )
        .expect("classify");
    office
        .client
        .act(
            id,
            Action::Reschedule {
                window: Some(ScheduleWindow {
                    start,
                    end: start.plus_minutes(120),
                }),
            },
        )
        .expect("reschedule");

    sync_all(&[&tech, &office]).await;
    assert_eq!(tech.client.pending_changes().expect("pending"), 0);
    assert_eq!(office.client.pending_changes().expect("pending"), 0);

    let on_tablet = tech.client.get(id).expect("tech view");
    let in_office = office.client.get(id).expect("office view");
    let on_server = server_view(&server.url(), id).await;
    assert_eq!(content(&on_tablet), content(&in_office));
    assert_eq!(content(&on_tablet), content(&on_server));

    assert_eq!(on_tablet.status, Status::InProgress);
    assert_eq!(on_tablet.urgency, Urgency::Emergency);
    assert_eq!(on_tablet.priority, Priority::P2, "emergency × one unit");
    assert_eq!(on_tablet.sla.targets.resolution_minutes, 240);
    assert_eq!(on_tablet.schedule.map(|s| s.start), Some(start));
    assert_eq!(on_tablet.part_usages.len(), 2);
    assert_eq!(on_tablet.parts_used, 3);
    assert_eq!(on_tablet.repair_records.len(), 1);
    assert_eq!(on_tablet.repair_records[0].measurements.len(), 2);
    assert!(on_tablet.notes.contains("call before the next visit"));
    assert!(on_tablet.conflicts.is_empty());
}

#[tokio::test]
async fn concurrent_part_usages_are_all_kept_and_never_doubled() {
    let server = TestServer::start().await;
    let office = server.device("dispatch").await;
    let id = office
        .client
        .create_work_order(intake(Some(server.tech_a)))
        .expect("create")
        .id;
    office.client.sync().await.expect("upload");

    // The same technician on a tablet and a phone, both offline.
    let tablet = server.device("tech-a").await;
    let phone = server.device("tech-a").await;
    tablet.client.sync().await.expect("tablet downloads");
    phone.client.sync().await.expect("phone downloads");
    for action in [
        Action::Accept,
        Action::StartTravel,
        Action::Arrive,
        Action::StartWork,
    ] {
        tablet.client.act(id, action).expect("step");
    }
    tablet
        .client
        .act(id, part("FILTER-A", 1))
        .expect("tablet part");
    tablet
        .client
        .act(id, part("GASKET-9", 4))
        .expect("tablet part");
    phone
        .client
        .act(id, part("FUSE-10A", 2))
        .expect("phone part");
    phone
        .client
        .act(id, part("FILTER-A", 1))
        .expect("phone part");

    // The tablet's first upload is stored, but the answer is lost on the way back.
    let proxy = FaultProxy::start(server.server.addr())
        .await
        .expect("proxy");
    proxy.plan([Fault::DropResponse]);
    let lost = tablet_sync_via(&tablet, &proxy.url()).await;
    assert!(
        lost.is_err(),
        "the answer was dropped, so the device must not believe it synced"
    );
    assert!(
        tablet.client.pending_changes().expect("pending") > 0,
        "outbox kept"
    );

    // Retry (now through a clean link) and let everyone catch up.
    let retry = tablet_sync_via(&tablet, &proxy.url()).await;
    retry.expect("retry succeeds");
    sync_all(&[&phone, &tablet, &office]).await;

    for (who, view) in [
        ("tablet", tablet.client.get(id).expect("view")),
        ("phone", phone.client.get(id).expect("view")),
        ("office", office.client.get(id).expect("view")),
        ("server", server_view(&server.url(), id).await),
    ] {
        assert_eq!(view.part_usages.len(), 4, "{who}: {:?}", view.part_usages);
        assert_eq!(view.parts_used, 8, "{who}");
        let mut ids: Vec<_> = view.part_usages.iter().map(|u| u.id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 4, "{who}: entry ids are unique");
    }
}

/// Syncs a device's store through another address (the fault proxy).
async fn tablet_sync_via(device: &Device, url: &str) -> Result<(), fieldsync_client::Error> {
    device.client.set_server_url(url)?;
    device.client.sync().await.map(|_| ())
}

#[tokio::test]
async fn cancel_in_office_versus_complete_on_site_is_flagged_the_same_everywhere() {
    let server = TestServer::start().await;
    let office = server.device("dispatch").await;
    let tech = server.device("tech-a").await;
    let id = office
        .client
        .create_work_order(intake(Some(server.tech_a)))
        .expect("create")
        .id;
    office.client.sync().await.expect("upload");
    tech.client.sync().await.expect("download");
    tech.client.act(id, Action::Accept).expect("accept");
    sync_all(&[&tech, &office]).await;

    // Offline on site: the technician does the whole job.
    for action in [
        Action::StartTravel,
        Action::Arrive,
        Action::StartWork,
        Action::Hold {
            reason: HoldReason::WaitingForParts,
            note: Some("fetching a fuse from the van".into()),
        },
        Action::Resume,
        Action::Complete {
            resolution: "Replaced blown fuse, oven heats again".into(),
            signed_by: Some("Ines Roth".into()),
            first_time_fix: true,
        },
    ] {
        tech.client.act(id, action).expect("field step");
    }
    // The office, not knowing, cancels the job at the customer's earlier request.
    office
        .client
        .act(
            id,
            Action::Cancel {
                reason: "Customer called to cancel".into(),
            },
        )
        .expect("cancel is allowed from what the office knows");

    sync_all(&[&office, &tech]).await;
    let views = [
        tech.client.get(id).expect("tech"),
        office.client.get(id).expect("office"),
        server_view(&server.url(), id).await,
    ];
    for view in &views {
        assert_eq!(
            view.status,
            Status::Completed,
            "the work done on site stands"
        );
        assert_eq!(view.conflicts.len(), 1, "{:?}", view.conflicts);
        assert!(matches!(
            view.conflicts[0].kind,
            ConflictKind::CancelledAfterWorkStarted | ConflictKind::WorkedAfterCancellation
        ));
        assert_eq!(content(view), content(&views[0]));
    }
    assert!(views[0].completion.is_some());
}

#[tokio::test]
async fn an_action_survives_a_killed_process_and_syncs_after_restart() {
    let server = TestServer::start().await;
    let office = server.device("dispatch").await;
    let tech = server.device("tech-a").await;
    let id = office
        .client
        .create_work_order(intake(Some(server.tech_a)))
        .expect("create")
        .id;
    office.client.sync().await.expect("upload");
    tech.client.sync().await.expect("download");
    tech.client.act(id, Action::Accept).expect("accept");
    let store = tech.store_path();
    let tech = tech.reopen();

    let mut child = Command::new(env!("CARGO_BIN_EXE_act_then_hang"))
        .arg(&store)
        .arg(id.to_string())
        .arg("PUMP-200")
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn device process");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("read");
    assert_eq!(line.trim(), "done", "the action returned");
    child.kill().expect("kill -9");
    child.wait().expect("reaped");

    let tech = tech.reopen();
    let view = tech.client.get(id).expect("view after restart");
    assert_eq!(view.part_usages.len(), 1);
    assert_eq!(view.part_usages[0].part_number, "PUMP-200");
    assert!(tech.client.pending_changes().expect("pending") >= 2);

    sync_all(&[&tech, &office]).await;
    let seen = office.client.get(id).expect("office view");
    assert_eq!(seen.part_usages.len(), 1);
    assert_eq!(seen.status, Status::Accepted);
    assert_eq!(tech.client.pending_changes().expect("pending"), 0);
}
