//! Several server instances on one PostgreSQL database, as behind a load balancer: devices on
//! different instances converge, commits made through one instance reach the live feed of the
//! other within a second, and when an instance is killed in the middle of a push its devices
//! switch to another one and lose nothing.
//!
//! These need a PostgreSQL server (`FIELDSYNC_TEST_POSTGRES`); without one they say they were
//! skipped and pass.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fieldsync_proto::{
    Action, NewPartUsage, NewRepairRecord, Role, ScheduleWindow, Status, Timestamp, UserId,
    WorkOrderId, WorkOrderView,
};
use fieldsync_server::storage::postgres::testing::ScratchSchema;
use fieldsync_server::storage::CommitNotice;
use fieldsync_server::{NewUser, RunningServer, ServerOptions, StartOptions, TechnicianProfile};
use fieldsync_tests::{intake, Device, PASSWORD};
use tokio::sync::broadcast;

/// An instance on the PostgreSQL database at `database_url`.
async fn start_instance(database_url: &str) -> RunningServer {
    RunningServer::start_with(
        ServerOptions {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir: std::env::temp_dir().join("fieldsync-unused"),
            demo: false,
        },
        StartOptions {
            database_url: Some(database_url.to_owned()),
            ..StartOptions::default()
        },
    )
    .await
    .expect("instance starts")
}

/// Two instances on one fresh schema, with a dispatcher and two technicians.
struct Cluster {
    one: RunningServer,
    two: RunningServer,
    tech_a: UserId,
    tech_b: UserId,
    // Last, so that it is dropped after the servers.
    schema: ScratchSchema,
}

impl Cluster {
    async fn start(test: &str) -> Option<Cluster> {
        let schema = ScratchSchema::create(test).await?;
        let one = start_instance(&schema.url()).await;
        let two = start_instance(&schema.url()).await;
        create_user(&one, "dispatch", Role::Dispatcher).await;
        let tech_a = create_user(&two, "tech-a", Role::Technician).await;
        let tech_b = create_user(&one, "tech-b", Role::Technician).await;
        Some(Cluster {
            one,
            two,
            tech_a,
            tech_b,
            schema,
        })
    }
}

async fn create_user(server: &RunningServer, username: &str, role: Role) -> UserId {
    server
        .state()
        .create_user(NewUser {
            username: username.into(),
            password: PASSWORD.into(),
            display_name: username.replace('-', " "),
            role,
            profile: TechnicianProfile {
                skills: vec!["hardware".into()],
                region: "north".into(),
                latitude: 53.55,
                longitude: 9.99,
                senior: false,
            },
        })
        .await
        .expect("user created")
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

async fn dispatcher_token(url: &str) -> String {
    let login: serde_json::Value = reqwest::Client::new()
        .post(format!("{url}/v1/login"))
        .json(&serde_json::json!({"username": "dispatch", "password": PASSWORD, "device_name": "console"}))
        .send()
        .await
        .expect("login request")
        .error_for_status()
        .expect("login ok")
        .json()
        .await
        .expect("login body");
    login["token"].as_str().expect("token").to_owned()
}

/// The server's view of a work order, through the dispatcher JSON API of one instance.
async fn server_view(url: &str, token: &str, id: WorkOrderId) -> WorkOrderView {
    reqwest::Client::new()
        .get(format!("{url}/v1/work-orders/{id}"))
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

/// The first notice about `doc` within `wait`.
async fn notice_for(
    feed: &mut broadcast::Receiver<CommitNotice>,
    doc: WorkOrderId,
    wait: Duration,
) -> Option<CommitNotice> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, feed.recv()).await {
            Ok(Ok(notice)) if notice.doc == doc => return Some(notice),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => panic!("feed failed: {e}"),
            Err(_) => return None,
        }
    }
}

fn part(number: &str) -> Action {
    Action::RecordPartUsage(NewPartUsage {
        part_number: number.into(),
        quantity: 1,
        source_location: "VAN-07".into(),
        serial: None,
        refurbished: false,
    })
}

fn repair(diagnosis: &str) -> Action {
    Action::AddRepairRecord(NewRepairRecord {
        diagnosis: diagnosis.into(),
        action_taken: "Replaced heating element".into(),
        measurements: Vec::new(),
    })
}

#[tokio::test]
async fn devices_on_different_instances_converge_after_offline_edits() {
    let Some(cluster) = Cluster::start("scale_out_converge").await else {
        return;
    };
    let office = Device::login(&cluster.one.url(), "dispatch").await;
    let tech = Device::login(&cluster.two.url(), "tech-a").await;

    let id = office
        .client
        .create_work_order(intake(Some(cluster.tech_a)))
        .expect("create")
        .id;
    office
        .client
        .sync()
        .await
        .expect("office uploads through one");
    tech.client
        .sync()
        .await
        .expect("tech downloads through two");
    assert_eq!(
        tech.client.get(id).expect("tech has it").status,
        Status::Assigned
    );
    tech.client.act(id, Action::Accept).expect("accept");
    tech.client.sync().await.expect("tech uploads through two");

    // No signal on site; the office reschedules the follow-up at the same time.
    for action in [
        Action::StartTravel,
        Action::Arrive,
        Action::StartWork,
        part("HEAT-2KW"),
        part("FUSE-10A"),
        repair("Heating element open circuit"),
    ] {
        tech.client.act(id, action).expect("field step");
    }
    let window = ScheduleWindow {
        start: Timestamp(1_900_000_000_000),
        end: Timestamp(1_900_000_000_000 + 2 * 3_600_000),
    };
    office
        .client
        .act(
            id,
            Action::Reschedule {
                window: Some(window),
            },
        )
        .expect("reschedule");

    // Signal again: each through its own instance, twice round.
    for _ in 0..2 {
        tech.client.sync().await.expect("tech syncs through two");
        office
            .client
            .sync()
            .await
            .expect("office syncs through one");
    }
    assert_eq!(tech.client.pending_changes().expect("pending"), 0);
    assert_eq!(office.client.pending_changes().expect("pending"), 0);

    let token = dispatcher_token(&cluster.two.url()).await;
    let views = [
        ("tech", tech.client.get(id).expect("tech view")),
        ("office", office.client.get(id).expect("office view")),
        (
            "instance one",
            server_view(&cluster.one.url(), &token, id).await,
        ),
        (
            "instance two",
            server_view(&cluster.two.url(), &token, id).await,
        ),
    ];
    for (who, view) in &views {
        assert_eq!(view.status, Status::InProgress, "{who}");
        assert_eq!(view.part_usages.len(), 2, "{who}: {:?}", view.part_usages);
        assert_eq!(view.repair_records.len(), 1, "{who}");
        assert_eq!(view.schedule, Some(window), "{who}: the office's edit");
        assert_eq!(content(view), content(&views[0].1), "{who} differs");
    }
    cluster.one.shutdown().await;
    cluster.two.shutdown().await;
    drop(cluster.schema);
}

#[tokio::test]
async fn a_commit_through_one_instance_reaches_the_other_instances_feed_within_a_second() {
    let Some(cluster) = Cluster::start("scale_out_live").await else {
        return;
    };
    // What a live connection (a device's WebSocket, the console) on instance one listens to.
    let mut feed = cluster.one.state().storage().subscribe();
    let office = Device::login(&cluster.two.url(), "dispatch").await;
    let tech = Device::login(&cluster.one.url(), "tech-a").await;
    tech.client.sync().await.expect("nothing yet");

    // A dispatcher creates and assigns a job through instance two.
    let id = office
        .client
        .create_work_order(intake(Some(cluster.tech_a)))
        .expect("create")
        .id;
    let started = Instant::now();
    office
        .client
        .sync()
        .await
        .expect("office uploads through two");
    let notice = notice_for(&mut feed, id, Duration::from_secs(1))
        .await
        .expect("instance one hears of it within a second");
    eprintln!(
        "sync through instance two to notice on instance one: {:?}",
        started.elapsed()
    );
    assert_eq!(notice.assignee, Some(cluster.tech_a));
    assert_eq!(notice.previous_assignee, None);
    // Told by the notice, the device on instance one pulls it from there.
    tech.client.sync().await.expect("tech pulls through one");
    assert_eq!(
        tech.client.get(id).expect("has it").status,
        Status::Assigned
    );

    // The dispatcher reassigns it through instance two's JSON API: instance one hears who
    // lost the job, so that the old device can be told at once.
    let token = dispatcher_token(&cluster.two.url()).await;
    let started = Instant::now();
    reqwest::Client::new()
        .post(format!("{}/v1/work-orders/{id}/assign", cluster.two.url()))
        .bearer_auth(&token)
        .json(&serde_json::json!({"technician": cluster.tech_b}))
        .send()
        .await
        .expect("assign request")
        .error_for_status()
        .expect("assign ok");
    let notice = notice_for(&mut feed, id, Duration::from_secs(1))
        .await
        .expect("instance one hears of the reassignment within a second");
    eprintln!(
        "JSON API edit on instance two to notice on instance one: {:?}",
        started.elapsed()
    );
    assert_eq!(notice.assignee, Some(cluster.tech_b));
    assert_eq!(notice.previous_assignee, Some(cluster.tech_a));
    tech.client.sync().await.expect("tech pulls through one");
    assert!(
        tech.client.get(id).is_err(),
        "the job left the old technician's device"
    );
    cluster.one.shutdown().await;
    cluster.two.shutdown().await;
    drop(cluster.schema);
}

/// A server process killed when dropped, so that a failing test leaves none behind.
struct ServerProcess(Child);

impl ServerProcess {
    fn start(database_url: &str) -> (ServerProcess, String) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_serve_until_killed"))
            .arg(database_url)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn server process");
        let stdout = child.stdout.take().expect("stdout");
        let process = ServerProcess(child);
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).expect("read");
        assert!(line.starts_with("http://"), "unexpected: {line}");
        (process, line.trim().to_owned())
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_killed_mid_push_loses_nothing_and_its_devices_fail_over() {
    const JOBS: usize = 30;
    let Some(cluster) = Cluster::start("scale_out_failover").await else {
        return;
    };
    // Instance three is a process of its own, to be killed with SIGKILL.
    let (mut doomed, doomed_url) = ServerProcess::start(&cluster.schema.url());
    let office = Device::login(&cluster.two.url(), "dispatch").await;
    let tech = Device::login(&doomed_url, "tech-a").await;

    let mut jobs = Vec::new();
    for _ in 0..JOBS {
        jobs.push(
            office
                .client
                .create_work_order(intake(Some(cluster.tech_a)))
                .expect("create")
                .id,
        );
    }
    office.client.sync().await.expect("office uploads");
    tech.client
        .sync()
        .await
        .expect("tech downloads through the doomed instance");

    // A day's work offline, on every job.
    for (n, id) in jobs.iter().enumerate() {
        for action in [
            Action::Accept,
            Action::StartTravel,
            Action::Arrive,
            Action::StartWork,
            part(&format!("PART-{n:03}")),
            repair(&format!("Finding {n}")),
        ] {
            tech.client.act(*id, action).expect("field step");
        }
    }
    let pending = tech.client.pending_changes().expect("pending");
    assert!(pending >= JOBS * 6, "{pending}");

    // Push through the doomed instance and kill it as soon as its first commit lands.
    let storage = cluster.two.state().storage().clone();
    let before = storage.max_seq().await.expect("max");
    let kill_at_first_commit = async {
        let deadline = Instant::now() + Duration::from_secs(30);
        while storage.max_seq().await.expect("max") == before {
            assert!(
                Instant::now() < deadline,
                "the push never committed anything"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        doomed.0.kill().expect("SIGKILL");
        doomed.0.wait().expect("reaped");
        storage.max_seq().await.expect("max").0 - before.0
    };
    let (pushed, committed_at_kill) = tokio::join!(tech.client.sync(), kill_at_first_commit);
    // Transactions the dead process had open are rolled back when its connections drop.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let committed = storage.max_seq().await.expect("max").0 - before.0;
    eprintln!(
        "killed mid-push: {committed_at_kill} of {JOBS} work orders committed when the process \
         died, {committed} after; the device saw {:?}",
        pushed.as_ref().map(|_| "success")
    );
    assert!(
        pushed.is_err(),
        "the device never heard back from the killed instance"
    );
    assert!(
        (committed as usize) < JOBS,
        "the instance died before it had committed the whole push ({committed} of {JOBS})"
    );
    assert!(
        tech.client.pending_changes().expect("pending") > 0,
        "unacknowledged changes stay in the outbox"
    );

    // The device fails over to a live instance with the same session, and finishes the job.
    tech.client
        .set_server_url(&cluster.one.url())
        .expect("switch instance");
    tech.client.sync().await.expect("sync through instance one");
    assert_eq!(tech.client.pending_changes().expect("pending"), 0);
    office.client.sync().await.expect("office catches up");

    let token = dispatcher_token(&cluster.two.url()).await;
    for (n, id) in jobs.iter().enumerate() {
        let server = server_view(&cluster.two.url(), &token, *id).await;
        let office_view = office.client.get(*id).expect("office view");
        let tech_view = tech.client.get(*id).expect("tech view");
        for (who, view) in [
            ("server", &server),
            ("office", &office_view),
            ("tech", &tech_view),
        ] {
            assert_eq!(view.status, Status::InProgress, "{who}, job {n}");
            assert_eq!(view.part_usages.len(), 1, "{who}, job {n}: nothing doubled");
            assert_eq!(
                view.part_usages[0].part_number,
                format!("PART-{n:03}"),
                "{who}, job {n}"
            );
            assert_eq!(view.repair_records.len(), 1, "{who}, job {n}");
            assert_eq!(
                view.status_events.len(),
                server.status_events.len(),
                "{who}, job {n}"
            );
        }
        assert_eq!(content(&tech_view), content(&server), "job {n}");
    }
    drop(doomed);
    cluster.one.shutdown().await;
    cluster.two.shutdown().await;
    drop(cluster.schema);
}

/// The whole path a technician relies on: their tablet is connected (live channel and
/// background sync) to instance one; a dispatcher assigns them a new job through instance
/// two's JSON API; the job shows up on the tablet by itself.
#[tokio::test]
async fn a_device_on_one_instance_sees_an_edit_made_through_the_other_by_itself() {
    use std::sync::Arc;

    use fieldsync_client::{AgentOptions, Client, SyncAgent};

    let Some(cluster) = Cluster::start("scale_out_device_live").await else {
        return;
    };
    let dir = tempfile::TempDir::new().expect("temp dir");
    let client = Arc::new(Client::open(dir.path()).expect("store"));
    client
        .login(&cluster.one.url(), "tech-a", PASSWORD, "tablet")
        .await
        .expect("login through one");
    let _agent = SyncAgent::start(client.clone(), AgentOptions::default()).expect("agent");
    // Let the agent connect its live channel and do its first sync.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !client.sync_status().live && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(client.sync_status().live, "live channel to instance one");

    let token = dispatcher_token(&cluster.two.url()).await;
    let started = Instant::now();
    let created: WorkOrderView = reqwest::Client::new()
        .post(format!("{}/v1/work-orders", cluster.two.url()))
        .bearer_auth(&token)
        .json(&intake(Some(cluster.tech_a)))
        .send()
        .await
        .expect("create request")
        .error_for_status()
        .expect("create ok")
        .json()
        .await
        .expect("created body");
    let deadline = started + Duration::from_secs(10);
    let mut seen = None;
    while Instant::now() < deadline {
        if client.get(created.id).is_ok() {
            seen = Some(started.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let elapsed = seen.expect("the job reached the tablet on instance one without a sync call");
    eprintln!(
        "dispatcher edit on instance two visible on a device of instance one after {elapsed:?}"
    );
    assert_eq!(
        client.get(created.id).expect("view").status,
        Status::Assigned
    );
}
