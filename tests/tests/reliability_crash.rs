//! Crash tests: a device process killed with SIGKILL at random moments during actions and
//! syncs keeps every action that returned, exactly once; a server process killed during pushes
//! keeps every change it acknowledged, and the interrupted push completes on the retry, on
//! SQLite and on PostgreSQL.
//!
//! Iterations: `FIELDSYNC_CRASH_ITERATIONS` (default 60 device kills, a quarter as many server
//! kills per backend). The random kill times come from `FIELDSYNC_CRASH_SEED` (printed on every
//! run). The PostgreSQL run needs `FIELDSYNC_TEST_POSTGRES` and runs in a schema of its own;
//! without it, it says it was skipped, unless `FIELDSYNC_REQUIRE_POSTGRES=1` makes that a
//! failure.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use fieldsync_client::Client;
use fieldsync_proto::{Action, NewPartUsage, WorkOrder, WorkOrderDocument, WorkOrderId};
use fieldsync_server::storage::postgres::testing::ScratchSchema;
use fieldsync_server::{SqliteStorage, StartOptions, Storage};
use fieldsync_tests::inspect::{device_document, server_document};
use fieldsync_tests::{intake, Device, TestServer};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

fn iterations() -> usize {
    std::env::var("FIELDSYNC_CRASH_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60)
}

/// A small deterministic generator for kill times, seeded from the environment or the clock.
struct Rng(u64);

impl Rng {
    fn from_env(test: &str) -> Rng {
        let seed = std::env::var("FIELDSYNC_CRASH_SEED")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(1)
            });
        eprintln!("{test}: FIELDSYNC_CRASH_SEED={seed}");
        Rng(seed | 1)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

/// How often each tag occurs among the part usages and repair records as stored.
fn tag_counts(wo: &WorkOrder) -> std::collections::BTreeMap<String, usize> {
    let mut counts = std::collections::BTreeMap::new();
    for p in &wo.part_usages {
        *counts.entry(p.part_number.clone()).or_insert(0) += 1;
    }
    for r in &wo.repair_records {
        *counts.entry(r.diagnosis.clone()).or_insert(0) += 1;
    }
    counts
}

fn assert_each_once(who: &str, wo: &WorkOrder, must_have: &BTreeSet<String>) {
    let counts = tag_counts(wo);
    let doubled: Vec<_> = counts.iter().filter(|(_, &n)| n > 1).collect();
    assert!(doubled.is_empty(), "{who}: doubled entries {doubled:?}");
    let missing: Vec<_> = must_have
        .iter()
        .filter(|t| !counts.contains_key(*t))
        .collect();
    assert!(missing.is_empty(), "{who}: lost {missing:?}");
}

fn read_doc(mut doc: WorkOrderDocument) -> WorkOrder {
    let _ = doc.heads();
    doc.read().expect("document reads")
}

/// Runs the crash worker on `store` and kills it after `after`; returns the tags it reported
/// and how many of its syncs finished.
async fn run_and_kill(
    store: &Path,
    number: &str,
    prefix: &str,
    after: Duration,
) -> (Vec<String>, usize) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_crash_worker"))
        .arg(store)
        .arg(number)
        .arg(prefix)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("worker starts");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut done = Vec::new();
    let mut syncs = 0;
    let ready = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("worker ready in time")
        .expect("read");
    assert_eq!(ready.as_deref(), Some("ready"));
    let _ = tokio::time::timeout(after, async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(tag) = line.strip_prefix("done ") {
                done.push(tag.to_owned());
            } else if line.starts_with("sync") {
                syncs += 1;
            }
        }
    })
    .await;
    child.start_kill().expect("SIGKILL");
    child.wait().await.expect("reaped");
    // Lines written before the kill are still in the pipe.
    while let Ok(Some(line)) = lines.next_line().await {
        if let Some(tag) = line.strip_prefix("done ") {
            done.push(tag.to_owned());
        } else if line.starts_with("sync") {
            syncs += 1;
        }
    }
    (done, syncs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_killed_at_random_moments_keeps_every_returned_action_once() {
    let mut rng = Rng::from_env("device kills");
    let server = TestServer::start().await;
    let office = server.device("dispatch").await;
    let created = office
        .client
        .create_work_order(intake(Some(server.tech_a)))
        .expect("create");
    office.client.sync().await.expect("upload");
    let Device { client, dir } = server.device("tech-a").await;
    client.sync().await.expect("download");
    drop(client);
    let store = dir.path().to_path_buf();

    let mut returned = BTreeSet::new();
    let mut syncs_started = 0;
    let runs = iterations();
    for i in 0..runs {
        // Anywhere in the first actions and syncs, sometimes later.
        let after = Duration::from_millis(if rng.below(4) == 0 {
            rng.below(1500)
        } else {
            rng.below(250)
        });
        let (done, syncs) = run_and_kill(&store, &created.number, &format!("k{i}"), after).await;
        returned.extend(done);
        syncs_started += syncs;
        // After the "restart": everything that returned is there once, nothing twice.
        let doc = device_document(&store, created.id).expect("the device still holds the job");
        assert_each_once(&format!("device after kill {i}"), &read_doc(doc), &returned);
        let reopened = Client::open(&store).expect("the store reopens after a kill");
        reopened.get(created.id).expect("the job reads");
    }
    assert!(
        returned.len() >= runs,
        "only {} actions returned in {runs} runs: the kills came too early to test anything",
        returned.len()
    );

    let client = Client::open(&store).expect("reopen");
    client.sync().await.expect("final sync");
    assert_eq!(client.pending_changes().expect("pending"), 0);
    let stored = server_document(&server.server, created.id)
        .await
        .expect("on the server");
    assert_each_once("server", &read_doc(stored), &returned);
    office.client.sync().await.expect("office sync");
    let view = office.client.get(created.id).expect("view");
    assert!(view.part_usages.len() + view.repair_records.len() >= returned.len());
    eprintln!(
        "device kills: {runs} kills, {} actions returned, {syncs_started} syncs finished before a kill, all present once",
        returned.len()
    );
}

/// A server in its own process on `database` (a SQLite data directory or a PostgreSQL URL);
/// returns it and its URL.
async fn spawn_server(database: &str) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_serve_until_killed"))
        .arg(database)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("server starts");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let url = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
        .await
        .expect("server up in time")
        .expect("read")
        .expect("a URL line");
    (child, url)
}

fn part(tag: &str) -> Action {
    Action::RecordPartUsage(NewPartUsage {
        part_number: tag.into(),
        quantity: 1,
        source_location: "VAN-07".into(),
        serial: None,
        refurbished: false,
    })
}

/// Where the killed servers keep their data.
enum Backend {
    Sqlite(tempfile::TempDir),
    Postgres(ScratchSchema),
}

impl Backend {
    /// The argument `serve_until_killed` takes.
    fn database(&self) -> String {
        match self {
            Backend::Sqlite(dir) => dir.path().display().to_string(),
            Backend::Postgres(schema) => schema.url(),
        }
    }

    /// An in-process server on this backend, with the harness's users.
    async fn setup_server(&self) -> TestServer {
        match self {
            Backend::Sqlite(dir) => TestServer::start_at(dir.path().to_path_buf()).await,
            Backend::Postgres(schema) => {
                TestServer::start_with(StartOptions {
                    database_url: Some(schema.url()),
                    ..StartOptions::default()
                })
                .await
            }
        }
    }

    /// The work order as stored, read straight from the database after a kill.
    async fn stored(&self, id: WorkOrderId) -> WorkOrder {
        let stored = match self {
            Backend::Sqlite(dir) => {
                SqliteStorage::open(dir.path().join(fieldsync_server::DATABASE_FILE))
                    .await
                    .expect("database opens")
                    .load_document(id)
                    .await
            }
            Backend::Postgres(schema) => schema.open().await.load_document(id).await,
        }
        .expect("reads")
        .expect("stored");
        read_doc(WorkOrderDocument::load(&stored.snapshot).expect("loads"))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_during_pushes_keeps_what_it_acknowledged() {
    let data = tempfile::TempDir::new().expect("data dir");
    server_kills("server kills (SQLite)", Backend::Sqlite(data)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_on_postgres_killed_during_pushes_keeps_what_it_acknowledged() {
    let test = "server kills (PostgreSQL)";
    let Some(schema) = ScratchSchema::create(test).await else {
        return;
    };
    server_kills(test, Backend::Postgres(schema)).await;
}

/// Kills a server process at random moments of a technician's pushes: whatever it
/// acknowledged is stored, exactly once, and a restarted server takes the interrupted pushes.
async fn server_kills(test: &str, backend: Backend) {
    let mut rng = Rng::from_env(test);
    let database = backend.database();
    // Accounts and the work order are made by an in-process server, which then stops.
    let setup = backend.setup_server().await;
    let office = setup.device("dispatch").await;
    let tech = setup.device("tech-a").await;
    let id = office
        .client
        .create_work_order(intake(Some(setup.tech_a)))
        .expect("create")
        .id;
    office.client.sync().await.expect("upload");
    tech.client.sync().await.expect("download");
    setup.stop().await;

    let mut acknowledged = BTreeSet::new();
    let mut made = BTreeSet::new();
    let runs = (iterations() / 4).max(5);
    for i in 0..runs {
        let (mut server, url) = spawn_server(&database).await;
        tech.client.set_server_url(&url).expect("url");
        let batch: Vec<String> = (0..1 + rng.below(6)).map(|n| format!("s{i}-{n}")).collect();
        for tag in &batch {
            tech.client.act(id, part(tag)).expect("part");
            made.insert(tag.clone());
        }
        let pending: BTreeSet<String> = made.difference(&acknowledged).cloned().collect();
        let kill_after = Duration::from_millis(rng.below(400));
        let sync = tech.client.sync();
        let killer = async {
            tokio::time::sleep(kill_after).await;
            server.start_kill().expect("SIGKILL");
        };
        let (result, ()) = tokio::join!(sync, killer);
        server.wait().await.expect("reaped");
        if result.is_ok() {
            acknowledged.extend(pending);
        }
        // Whatever the server acknowledged is in its database after the kill.
        let wo = backend.stored(id).await;
        assert_each_once(&format!("{test}: after kill {i}"), &wo, &acknowledged);
    }

    // A restarted server takes the interrupted pushes.
    let (mut server, url) = spawn_server(&database).await;
    tech.client.set_server_url(&url).expect("url");
    tech.client.sync().await.expect("the retry completes");
    assert_eq!(tech.client.pending_changes().expect("pending"), 0);
    server.start_kill().expect("stop");
    server.wait().await.expect("reaped");
    let wo = backend.stored(id).await;
    assert_each_once(&format!("{test}: after the retry"), &wo, &made);
    eprintln!(
        "{test}: {runs} kills, {} parts acknowledged before a kill, {} in all, all stored once",
        acknowledged.len(),
        made.len()
    );
}
