//! Scenarios of one device's store of many work orders: the first sync that fills it, a durable
//! local action on it, the "my open jobs" query, and the memory of a process holding it.

use std::process::Command;
use std::time::{Duration, Instant};

use fieldsync_client::Client;
use fieldsync_proto::{Action, NewPartUsage, Status};
use serde::{Deserialize, Serialize};

use super::measure::{ms, own_memory, percentile};
use super::server::{staff, Seed, ServerProcess};
use super::{Figure, Outcome, Sizes, Unit};
use crate::Device;

/// A server holding `store_docs` work orders of one technician, and that technician's device
/// after its first sync. Built once and shared by the scenarios of this module.
pub struct StoreFixture {
    pub server: ServerProcess,
    pub device: Device,
    pub first_sync: Duration,
}

#[derive(Default)]
pub struct Fixtures {
    store: Option<StoreFixture>,
}

impl Fixtures {
    async fn store(&mut self, sizes: &Sizes) -> anyhow::Result<&mut StoreFixture> {
        if self.store.is_none() {
            self.store = Some(build_store(sizes).await?);
        }
        self.store
            .as_mut()
            .ok_or_else(|| anyhow::anyhow!("the store fixture is missing"))
    }
}

async fn build_store(sizes: &Sizes) -> anyhow::Result<StoreFixture> {
    let seed = Seed::new().await?;
    let people = staff(&seed, 1).await?;
    let started = Instant::now();
    seed.work_orders(sizes.store_docs, people.dispatcher, &people.technicians)
        .await?;
    eprintln!(
        "  seeded {} work orders in {:.1} s",
        sizes.store_docs,
        started.elapsed().as_secs_f64()
    );
    let server = seed.start().await?;
    let device = Device::try_login(&server.url(), "tech-0").await?;
    let started = Instant::now();
    let report = device.client.sync().await?;
    let first_sync = started.elapsed();
    anyhow::ensure!(
        report.pulled_docs == sizes.store_docs,
        "the first sync pulled {} work orders, not {}",
        report.pulled_docs,
        sizes.store_docs
    );
    let listed = device.client.list(&Default::default())?.len();
    anyhow::ensure!(
        listed == sizes.store_docs,
        "the store lists {listed} work orders after the first sync, not {}",
        sizes.store_docs
    );
    Ok(StoreFixture {
        server,
        device,
        first_sync,
    })
}

/// `initial_sync_10k`: a fresh device receives every work order, durable and queryable.
pub async fn initial_sync(sizes: &Sizes, fixtures: &mut Fixtures) -> anyhow::Result<Outcome> {
    let store = fixtures.store(sizes).await?;
    Ok(Outcome::Figures(vec![Figure::new(
        "initial_sync_10k",
        ms(store.first_sync),
        Unit::Ms,
        1000.0,
        format!("{} work orders, login excluded", sizes.store_docs),
    )]))
}

/// `local_action_p99`: recording a part usage, durable when the call returns.
pub async fn local_action(sizes: &Sizes, fixtures: &mut Fixtures) -> anyhow::Result<Outcome> {
    let store = fixtures.store(sizes).await?;
    let client = &store.device.client;
    let targets: Vec<_> = client
        .my_open_jobs()?
        .into_iter()
        .filter(|s| s.status == Status::InProgress)
        .map(|s| s.id)
        .collect();
    anyhow::ensure!(!targets.is_empty(), "no job in progress to act on");
    let mut samples = Vec::with_capacity(sizes.samples);
    for i in 0..sizes.samples {
        let id = targets[(i * 7919) % targets.len()];
        let action = Action::RecordPartUsage(NewPartUsage {
            part_number: format!("FUSE-{i}"),
            quantity: 1,
            source_location: "VAN-07".into(),
            serial: None,
            refurbished: false,
        });
        let started = Instant::now();
        let view = client.act(id, action)?;
        samples.push(started.elapsed());
        anyhow::ensure!(
            view.part_usages
                .iter()
                .any(|p| p.part_number == format!("FUSE-{i}")),
            "the recorded part is missing from the answer"
        );
    }
    let p50 = percentile(&mut samples, 0.5);
    let p99 = percentile(&mut samples, 0.99);
    Ok(Outcome::Figures(vec![Figure::new(
        "local_action_p99",
        ms(p99),
        Unit::Ms,
        2.0,
        format!(
            "record part usage, {} samples, p50 {:.2} ms, store of {}",
            sizes.samples,
            ms(p50),
            sizes.store_docs
        ),
    )]))
}

/// `query_open_jobs`: "my open jobs by priority" (median of repeated runs).
pub async fn query_open_jobs(sizes: &Sizes, fixtures: &mut Fixtures) -> anyhow::Result<Outcome> {
    let store = fixtures.store(sizes).await?;
    let client = &store.device.client;
    let expected = client.my_open_jobs()?.len();
    anyhow::ensure!(expected > 0, "no open jobs to list");
    let mut samples = Vec::with_capacity(sizes.samples);
    for _ in 0..sizes.samples.min(200) {
        let started = Instant::now();
        let jobs = client.my_open_jobs()?;
        samples.push(started.elapsed());
        anyhow::ensure!(jobs.len() == expected, "the open jobs changed between runs");
    }
    let p50 = percentile(&mut samples, 0.5);
    let p99 = percentile(&mut samples, 0.99);
    Ok(Outcome::Figures(vec![Figure::new(
        "query_open_jobs",
        ms(p50),
        Unit::Ms,
        10.0,
        format!(
            "median; {expected} open of {} rows returned, p99 {:.2} ms",
            sizes.store_docs,
            ms(p99)
        ),
    )]))
}

/// What the child process of `client_rss_10k` reports.
#[derive(Debug, Serialize, Deserialize)]
pub struct ChildMemory {
    pub open_jobs: usize,
    pub rss_mb: f64,
    pub peak_mb: f64,
}

/// The child side of `client_rss_10k`: opens the store, runs the query and a full view of one
/// job, prints its memory as JSON.
pub fn client_rss_child(store: &str) -> anyhow::Result<()> {
    let client = Client::open(store)?;
    let jobs = client.my_open_jobs()?;
    if let Some(first) = jobs.first() {
        client.get(first.id)?;
    }
    let all = client.list(&Default::default())?;
    anyhow::ensure!(!all.is_empty(), "the store is empty");
    let memory = own_memory()?;
    println!(
        "{}",
        serde_json::to_string(&ChildMemory {
            open_jobs: jobs.len(),
            rss_mb: memory.rss_mb,
            peak_mb: memory.peak_mb,
        })?
    );
    Ok(())
}

/// `client_rss_10k`: peak memory of a separate process that opens the store and queries it.
pub async fn client_rss(sizes: &Sizes, fixtures: &mut Fixtures) -> anyhow::Result<Outcome> {
    let store = fixtures.store(sizes).await?;
    let dir = store.device.store_path();
    let exe = std::env::current_exe()?;
    let out = tokio::task::spawn_blocking(move || {
        Command::new(exe).arg("--client-rss").arg(dir).output()
    })
    .await??;
    anyhow::ensure!(
        out.status.success(),
        "the client process failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().last().unwrap_or_default();
    let child: ChildMemory = serde_json::from_str(line)
        .map_err(|e| anyhow::anyhow!("the client process said '{line}': {e}"))?;
    Ok(Outcome::Figures(vec![Figure::new(
        "client_rss_10k",
        child.peak_mb,
        Unit::Megabytes,
        100.0,
        format!(
            "peak RSS of a process opening {} work orders and listing {} open jobs",
            sizes.store_docs, child.open_jobs
        ),
    )]))
}
