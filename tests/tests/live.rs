//! Always-on sync end to end: devices with background agents and live connections to a real
//! server. Edits travel between connected devices without anyone calling `sync`; a server
//! restart and an outage are ridden out with nothing lost.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fieldsync_client::{AgentOptions, ChangeSource, Client, ClientEvent, Subscription, SyncAgent};
use fieldsync_proto::{
    Action, NewPartUsage, Role, ScheduleWindow, Status, Timestamp, UserId, WorkOrderId,
    WorkOrderView,
};
use fieldsync_server::{NewUser, RunningServer, ServerOptions, TechnicianProfile};
use fieldsync_tests::{intake, PASSWORD};
use tempfile::TempDir;

/// A server that can be stopped and started again on the same data and port.
struct Server {
    running: Option<RunningServer>,
    addr: SocketAddr,
    data: TempDir,
    tech: UserId,
}

impl Server {
    async fn start() -> Server {
        let data = TempDir::new().expect("temp dir");
        let running = RunningServer::start(ServerOptions {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir: data.path().to_path_buf(),
            demo: false,
        })
        .await
        .expect("server starts");
        for (name, role) in [("dispatch", Role::Dispatcher), ("tech", Role::Technician)] {
            running
                .state()
                .create_user(NewUser {
                    username: name.into(),
                    password: PASSWORD.into(),
                    display_name: name.into(),
                    role,
                    profile: TechnicianProfile::default(),
                })
                .await
                .expect("user");
        }
        let tech = running
            .state()
            .storage()
            .user_by_username("tech")
            .await
            .expect("lookup")
            .expect("tech exists")
            .0
            .id;
        Server {
            addr: running.addr(),
            running: Some(running),
            data,
            tech,
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    async fn stop(&mut self) {
        if let Some(running) = self.running.take() {
            running.shutdown().await;
        }
    }

    /// Starts again on the same data directory and port.
    async fn restart(&mut self) {
        self.stop().await;
        let started = Instant::now();
        loop {
            let attempt = RunningServer::start(ServerOptions {
                listen: self.addr,
                data_dir: self.data.path().to_path_buf(),
                demo: false,
            })
            .await;
            match attempt {
                Ok(running) => {
                    self.running = Some(running);
                    return;
                }
                // The port may take a moment to be free again.
                Err(e) if started.elapsed() < Duration::from_secs(10) => {
                    eprintln!("restart: {e:#}; retrying");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("the server does not restart: {e:#}"),
            }
        }
    }
}

/// A device with a background agent.
struct Device {
    client: Arc<Client>,
    agent: Option<SyncAgent>,
    _dir: TempDir,
}

/// Fast retries, so that tests of outages finish quickly.
fn test_options(debounce_ms: u64) -> AgentOptions {
    AgentOptions {
        debounce: Duration::from_millis(debounce_ms),
        max_debounce: Duration::from_millis(debounce_ms * 5),
        periodic: Duration::from_secs(60),
        retry_min: Duration::from_millis(50),
        retry_max: Duration::from_millis(500),
        live: true,
    }
}

impl Device {
    async fn start(url: &str, username: &str, options: AgentOptions) -> Device {
        let dir = TempDir::new().expect("temp dir");
        let client = Arc::new(Client::open(dir.path()).expect("store"));
        client
            .login(url, username, PASSWORD, "test device")
            .await
            .expect("login");
        let agent = SyncAgent::start(client.clone(), options).expect("agent");
        Device {
            client,
            agent: Some(agent),
            _dir: dir,
        }
    }

    fn pending(&self) -> usize {
        self.client.pending_changes().expect("pending")
    }
}

/// A visit window `minutes` from a fixed base: the dispatcher's edit in these tests.
fn visit(minutes: i64) -> Action {
    let start = Timestamp(1_900_000_000_000).plus_minutes(minutes);
    Action::Reschedule {
        window: Some(ScheduleWindow {
            start,
            end: start.plus_minutes(60),
        }),
    }
}

fn visit_start(v: &WorkOrderView) -> Option<i64> {
    v.schedule
        .map(|w| (w.start.millis() - Timestamp(1_900_000_000_000).millis()) / 60_000)
}

/// Polls `check` until it holds; fails after `limit`.
async fn eventually(what: &str, limit: Duration, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits for a server change notification about `doc` whose view satisfies `check`; returns
/// when it arrived.
async fn server_change(
    events: &mut Subscription,
    client: &Client,
    doc: WorkOrderId,
    check: impl Fn(&WorkOrderView) -> bool,
) -> Instant {
    let wait = async {
        loop {
            match events.next().await {
                Some(ClientEvent::Changed {
                    docs,
                    source: ChangeSource::Server,
                }) if docs.contains(&doc) => {
                    if client.get(doc).is_ok_and(|v| check(&v)) {
                        return Instant::now();
                    }
                }
                Some(_) => {}
                None => panic!("the client went away"),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), wait)
        .await
        .expect("the change arrives within 10 s")
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn report(what: &str, mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    let p50 = percentile(&samples, 0.5);
    let p99 = percentile(&samples, 0.99);
    println!(
        "{what}: n={} p50={:.1} ms p99={:.1} ms max={:.1} ms",
        samples.len(),
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3,
        samples.last().copied().unwrap_or_default().as_secs_f64() * 1e3
    );
    *samples.last().unwrap_or(&Duration::ZERO)
}

async fn dispatcher_token(url: &str) -> String {
    let login: serde_json::Value = reqwest::Client::new()
        .post(format!("{url}/v1/login"))
        .json(&serde_json::json!({"username": "dispatch", "password": PASSWORD, "device_name": "console"}))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("login body");
    login["token"].as_str().expect("token").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_reach_a_connected_device_within_a_bound() {
    let server = Server::start().await;
    // The debounce is the one an app would use; it is part of the measured latency.
    let office = Device::start(&server.url(), "dispatch", AgentOptions::default()).await;
    let tech = Device::start(&server.url(), "tech", AgentOptions::default()).await;
    eventually("both live", Duration::from_secs(10), || {
        office.client.sync_status().live && tech.client.sync_status().live
    })
    .await;
    let mut tech_events = tech.client.subscribe();
    let mut office_events = office.client.subscribe();

    let id = office
        .client
        .create_work_order(intake(Some(server.tech)))
        .expect("create")
        .id;
    server_change(&mut tech_events, &tech.client, id, |_| true).await;

    // Office edits reach the technician, and technician edits reach the office.
    let mut office_to_tech = Vec::new();
    let mut tech_to_office = Vec::new();
    for round in 0..15 {
        let minutes = 60 + round;
        let sent = Instant::now();
        office.client.act(id, visit(minutes)).expect("office edit");
        let seen = server_change(&mut tech_events, &tech.client, id, |v| {
            visit_start(v) == Some(minutes)
        })
        .await;
        office_to_tech.push(seen - sent);

        let part = format!("FUSE-{round}");
        let sent = Instant::now();
        tech.client
            .act(
                id,
                Action::RecordPartUsage(NewPartUsage {
                    part_number: part.clone(),
                    quantity: 1,
                    source_location: "VAN-07".into(),
                    serial: None,
                    refurbished: false,
                }),
            )
            .expect("tech edit");
        let seen = server_change(&mut office_events, &office.client, id, |v| {
            v.part_usages.iter().any(|p| p.part_number == part)
        })
        .await;
        tech_to_office.push(seen - sent);
    }

    // A dispatcher's assignment through the JSON API (the console) reaches the technician.
    let token = dispatcher_token(&server.url()).await;
    let http = reqwest::Client::new();
    let mut assignments = Vec::new();
    for _ in 0..10 {
        let sent = Instant::now();
        let created: WorkOrderView = http
            .post(format!("{}/v1/work-orders", server.url()))
            .bearer_auth(&token)
            .json(&intake(Some(server.tech)))
            .send()
            .await
            .expect("create")
            .error_for_status()
            .expect("created")
            .json()
            .await
            .expect("view");
        let seen = server_change(&mut tech_events, &tech.client, created.id, |v| {
            v.status == Status::Assigned
        })
        .await;
        assignments.push(seen - sent);
    }

    let worst = [
        report("office edit -> technician device", office_to_tech),
        report("technician edit -> office device", tech_to_office),
        report("API assignment -> technician device", assignments),
    ];
    // Loose: the figures above are the measurement; this only catches a broken live path
    // (without it, changes would wait for the 5-minute periodic sync).
    for w in worst {
        assert!(w < Duration::from_secs(5), "an edit took {w:?}");
    }
    assert_eq!(office.pending(), 0);
    assert_eq!(tech.pending(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connected_devices_reconnect_and_converge_after_a_server_restart() {
    let mut server = Server::start().await;
    let office = Device::start(&server.url(), "dispatch", test_options(50)).await;
    let tech = Device::start(&server.url(), "tech", test_options(50)).await;
    let id = office
        .client
        .create_work_order(intake(Some(server.tech)))
        .expect("create")
        .id;
    eventually(
        "the job reaches the technician",
        Duration::from_secs(10),
        || tech.client.get(id).is_ok(),
    )
    .await;

    server.stop().await;
    eventually(
        "both see the connection drop",
        Duration::from_secs(10),
        || !office.client.sync_status().live && !tech.client.sync_status().live,
    )
    .await;
    // Work goes on on both sides while the server is down.
    for action in [
        Action::Accept,
        Action::StartTravel,
        Action::Arrive,
        Action::StartWork,
    ] {
        tech.client.act(id, action).expect("field step");
    }
    office
        .client
        .act(id, visit(30))
        .expect("office reschedules");
    tech.client
        .act(
            id,
            Action::EditNotes {
                text: "Gate code 4711".into(),
            },
        )
        .expect("tech note");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(tech.pending() >= 5, "nothing could be uploaded");

    server.restart().await;
    eventually(
        "everything uploaded and live again",
        Duration::from_secs(20),
        || {
            office.pending() == 0
                && tech.pending() == 0
                && office.client.sync_status().live
                && tech.client.sync_status().live
        },
    )
    .await;
    eventually("both devices converge", Duration::from_secs(10), || {
        let (Ok(a), Ok(b)) = (office.client.get(id), tech.client.get(id)) else {
            return false;
        };
        a.status == Status::InProgress
            && b.status == Status::InProgress
            && a.notes == "Gate code 4711"
            && b.notes == "Gate code 4711"
            && visit_start(&a) == Some(30)
            && visit_start(&b) == Some(30)
            && a.status_events.len() == b.status_events.len()
    })
    .await;

    // And the live path works again after the restart.
    let mut events = tech.client.subscribe();
    office
        .client
        .act(id, visit(90))
        .expect("office reschedules");
    server_change(&mut events, &tech.client, id, |v| {
        visit_start(v) == Some(90)
    })
    .await;
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_actions_upload_by_themselves_when_the_network_returns() {
    const PARTS: usize = 60;
    let mut server = Server::start().await;
    let office = Device::start(&server.url(), "dispatch", test_options(50)).await;
    let id = office
        .client
        .create_work_order(intake(Some(server.tech)))
        .expect("create")
        .id;
    let tech = Device::start(&server.url(), "tech", test_options(50)).await;
    eventually("the job arrives", Duration::from_secs(10), || {
        tech.client.get(id).is_ok()
    })
    .await;
    // The office device is not part of this test; stop its agent so that only the
    // technician's traffic reaches the server.
    drop(office);

    server.stop().await;
    for action in [
        Action::Accept,
        Action::StartTravel,
        Action::Arrive,
        Action::StartWork,
    ] {
        tech.client.act(id, action).expect("field step");
    }
    for n in 0..PARTS {
        tech.client
            .act(
                id,
                Action::RecordPartUsage(NewPartUsage {
                    part_number: format!("PART-{n:03}"),
                    quantity: 1,
                    source_location: "VAN-07".into(),
                    serial: None,
                    refurbished: false,
                }),
            )
            .expect("part");
    }
    // The agent keeps trying and keeps failing, without losing anything.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(tech.pending(), PARTS + 4);
    let status = tech.client.sync_status();
    assert!(
        matches!(status.state, fieldsync_client::SyncState::Offline { .. }),
        "{status:?}"
    );
    assert_eq!(status.pending_changes, (PARTS + 4) as u64);

    // Network back: nobody calls sync.
    server.restart().await;
    eventually("the outbox empties", Duration::from_secs(20), || {
        tech.pending() == 0
    })
    .await;

    let token = dispatcher_token(&server.url()).await;
    let on_server: WorkOrderView = reqwest::Client::new()
        .get(format!("{}/v1/work-orders/{id}", server.url()))
        .bearer_auth(token)
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("view");
    assert_eq!(on_server.status, Status::InProgress);
    assert_eq!(on_server.part_usages.len(), PARTS, "every part, once");
    assert_eq!(on_server.parts_used, PARTS as i64);
    let agent = tech.agent.as_ref().expect("agent");
    assert_eq!(agent.status().pending_changes, 0);
}
