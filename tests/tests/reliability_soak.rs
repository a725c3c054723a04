//! Soak: a server process under a bounded load of devices that come and go: tablets open their
//! store, sync, record work, hold a live connection for a while and leave; during the warm-up
//! new tablets also sign in. The server's resident memory and open file descriptors (from
//! /proc) are sampled from the end of the warm-up to the end, and must not grow beyond a stated
//! bound.
//!
//! Length: `FIELDSYNC_SOAK_SECS` (default 40 seconds of load after a warm-up of a quarter of it).

use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fieldsync_client::{AgentOptions, Client, SyncAgent};
use fieldsync_proto::{Action, NewPartUsage, Role};
use fieldsync_tests::{intake, TestServer, PASSWORD};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

/// Most the server's resident memory may grow between the warm-up and the end.
const RSS_GROWTH_LIMIT_KB: u64 = 24 * 1024;
/// Most it may grow in the second half of the measured time, once pools have settled.
const RSS_LATE_GROWTH_LIMIT_KB: u64 = 8 * 1024;
/// Most the server's open file descriptors may grow between the warm-up and the end.
const FD_GROWTH_LIMIT: usize = 12;
/// Tablets working at the same time.
const CONCURRENT: usize = 4;

fn soak_secs() -> u64 {
    std::env::var("FIELDSYNC_SOAK_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40)
}

fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("proc fd")
        .count()
}

fn part(n: u64) -> Action {
    Action::RecordPartUsage(NewPartUsage {
        part_number: format!("SOAK-{}", n % 7),
        quantity: 1,
        source_location: "VAN-07".into(),
        serial: None,
        refurbished: false,
    })
}

/// One visit of a tablet: open, sync, work, maybe stay connected live for a moment, leave.
async fn visit(store: &Path, n: u64) {
    let client = Arc::new(Client::open(store).expect("store opens"));
    client.sync().await.expect("sync on arrival");
    let mine = client.my_open_jobs().expect("jobs");
    if let Some(job) = mine.get(n as usize % mine.len().max(1)) {
        client.act(job.id, part(n)).expect("work recorded");
    }
    if n.is_multiple_of(3) {
        let agent = SyncAgent::start(client.clone(), AgentOptions::default()).expect("agent");
        tokio::time::sleep(Duration::from_millis(300)).await;
        agent.stop();
    }
    client.sync().await.expect("sync before leaving");
    assert_eq!(client.pending_changes().expect("pending"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_coming_and_going_do_not_grow_server_memory_or_descriptors() {
    let data = tempfile::TempDir::new().expect("data dir");
    // Accounts, tablets and jobs are set up by an in-process server, which then stops.
    let setup = TestServer::start_at(data.path().to_path_buf()).await;
    let mut usernames = vec!["tech-a".to_owned(), "tech-b".to_owned()];
    for n in 0..6 {
        let name = format!("soak-{n}");
        setup.add_user(&name, Role::Technician).await;
        usernames.push(name);
    }
    let office = setup.device("dispatch").await;
    for tech in [setup.tech_a, setup.tech_b] {
        for _ in 0..10 {
            office
                .client
                .create_work_order(intake(Some(tech)))
                .expect("create");
        }
    }
    office.client.sync().await.expect("upload");
    let mut tablets = Vec::new();
    for username in [
        "tech-a", "tech-b", "tech-a", "tech-b", "dispatch", "dispatch",
    ] {
        let fieldsync_tests::Device { client, dir } = setup.device(username).await;
        drop(client);
        tablets.push(dir);
    }
    setup.stop().await;

    let mut server = Command::new(env!("CARGO_BIN_EXE_serve_until_killed"))
        .arg(data.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("server starts");
    let pid = server.id().expect("pid");
    let url = BufReader::new(server.stdout.take().expect("stdout"))
        .lines()
        .next_line()
        .await
        .expect("read")
        .expect("url");
    for t in &tablets {
        Client::open(t.path())
            .expect("open")
            .set_server_url(&url)
            .expect("url");
    }

    let total = Duration::from_secs(soak_secs());
    let warm_up = total / 4;
    let start = Instant::now();
    let mut baseline = None;
    let mut visits = 0u64;
    let mut new_devices = 0u64;
    // The first new tablet signs in during the warm-up, so that password hashing's memory is
    // in the baseline.
    let mut last_login = Instant::now() - Duration::from_secs(60);
    let mut samples: Vec<(u64, u64, usize)> = Vec::new();
    let mut next_sample = warm_up;
    while start.elapsed() < warm_up + total {
        if start.elapsed() >= next_sample {
            let sample = (start.elapsed().as_secs(), rss_kb(pid), open_fds(pid));
            samples.push(sample);
            next_sample += total / 8;
            if baseline.is_none() {
                baseline = Some((sample.1, sample.2, visits));
            }
        }
        let mut round = Vec::new();
        for k in 0..CONCURRENT {
            let tablet = &tablets[(visits as usize + k) % tablets.len()];
            let n = visits + k as u64;
            let store = tablet.path().to_path_buf();
            round.push(tokio::spawn(async move { visit(&store, n).await }));
        }
        for task in round {
            task.await.expect("visit");
        }
        visits += CONCURRENT as u64;
        // During the warm-up, now and then a tablet nobody has seen signs in, syncs once and is
        // thrown away. Not later: each sign-in's Argon2 check takes 19 MiB, and glibc's
        // dynamic mmap threshold keeps such blocks in its heaps, so resident memory rises by
        // about that much per sign-in for a while (see README, "Known limits").
        if start.elapsed() < warm_up && last_login.elapsed() > Duration::from_secs(3) {
            last_login = Instant::now();
            let username = &usernames[new_devices as usize % usernames.len()];
            let dir = tempfile::TempDir::new().expect("dir");
            let client = Client::open(dir.path()).expect("open");
            client
                .login(&url, username, PASSWORD, "soak tablet")
                .await
                .expect("a new tablet signs in");
            client.sync().await.expect("first sync");
            new_devices += 1;
        }
    }
    // Let the last connections close.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (rss_start, fds_start, visits_start) = baseline.expect("warm-up measured");
    let (rss_end, fds_end) = (rss_kb(pid), open_fds(pid));
    samples.push((start.elapsed().as_secs(), rss_end, fds_end));
    let series: Vec<String> = samples
        .iter()
        .map(|(t, rss, fds)| format!("{t}s: {rss} kB, {fds} fds"))
        .collect();
    eprintln!("soak samples: {}", series.join("; "));
    // Growth in the second half of the measured time, when caches and allocator pools have
    // settled: a leak keeps growing there, a plateau does not.
    let mid = samples[samples.len() / 2].1;
    eprintln!(
        "soak: {}s load after {}s warm-up, {} visits ({} measured), {} new tablets; server RSS {} kB -> {} kB (second half from {} kB), fds {} -> {}",
        total.as_secs(),
        warm_up.as_secs(),
        visits,
        visits - visits_start,
        new_devices,
        rss_start,
        rss_end,
        mid,
        fds_start,
        fds_end
    );
    server.start_kill().expect("stop");
    server.wait().await.expect("reaped");
    assert!(
        fds_end <= fds_start + FD_GROWTH_LIMIT,
        "open descriptors grew from {fds_start} to {fds_end}"
    );
    assert!(
        rss_end <= rss_start + RSS_GROWTH_LIMIT_KB,
        "resident memory grew from {rss_start} kB to {rss_end} kB"
    );
    assert!(
        rss_end <= mid + RSS_LATE_GROWTH_LIMIT_KB,
        "resident memory kept growing: {mid} kB half-way, {rss_end} kB at the end"
    );
}
