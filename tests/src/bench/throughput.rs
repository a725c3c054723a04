//! Many devices against one server, speaking the sync protocol directly (a simulated device
//! keeps its documents in memory instead of a store, so that hundreds fit in the harness):
//! sustained small-edit syncs, and the server's memory while devices sync a big database.

use std::sync::Arc;
use std::time::{Duration, Instant};

use fieldsync_proto::wire::{
    self, ChangeBytes, Cursor, PullLimits, PushDoc, PushOutcome, SyncRequest, SyncResponse,
    UpdatePayload,
};
use fieldsync_proto::{
    Action, Actor, DeviceId, NewPartUsage, Role, Status, Timestamp, UserId, WorkOrderDocument,
    WorkOrderId,
};
use tokio::sync::Mutex;

use super::measure::{ms, percentile};
use super::server::{staff, Seed};
use super::{Figure, Outcome, Sizes, Unit};

/// The pull limits of the real client (`client-core`'s sync request).
const PULL_LIMITS: PullLimits = PullLimits {
    max_docs: 200,
    max_bytes: 4 * 1024 * 1024,
};

/// A device speaking the wire protocol.
pub struct SimDevice {
    http: reqwest::Client,
    url: String,
    token: String,
    actor: Actor,
    cursor: Cursor,
    /// Kept only when the device edits (a device of the memory scenario just counts).
    keep: bool,
    docs: Vec<(WorkOrderId, WorkOrderDocument)>,
    /// Index in `docs` of the job this device edits.
    job: Option<usize>,
    /// Edits made ahead (`prepare_edits`), sent before any new one is made.
    prepared: std::collections::VecDeque<(WorkOrderId, ChangeBytes)>,
    pub received: usize,
}

impl SimDevice {
    pub fn new(
        http: reqwest::Client,
        url: String,
        token: String,
        user: UserId,
        device: DeviceId,
        keep: bool,
    ) -> SimDevice {
        SimDevice {
            http,
            url,
            token,
            actor: Actor {
                user,
                role: Role::Technician,
                device,
            },
            cursor: Cursor(0),
            keep,
            docs: Vec::new(),
            job: None,
            prepared: std::collections::VecDeque::new(),
            received: 0,
        }
    }

    async fn round(&mut self, push: Vec<PushDoc>) -> anyhow::Result<SyncResponse> {
        let request = SyncRequest {
            cursor: self.cursor,
            push,
            resync: Vec::new(),
            limits: PULL_LIMITS,
        };
        let resp = self
            .http
            .post(format!("{}{}", self.url, wire::SYNC_PATH))
            .bearer_auth(&self.token)
            .header(reqwest::header::CONTENT_TYPE, wire::CONTENT_TYPE)
            .body(wire::encode(&request))
            .send()
            .await?;
        let status = resp.status();
        let body = resp.bytes().await?;
        anyhow::ensure!(
            status.is_success(),
            "sync answered {status}: {}",
            String::from_utf8_lossy(&body[..body.len().min(300)])
        );
        let answer: SyncResponse = wire::decode(&body)?;
        for update in &answer.updates {
            self.received += 1;
            if !self.keep {
                continue;
            }
            match &update.payload {
                UpdatePayload::Snapshot(bytes) => {
                    let doc = WorkOrderDocument::load(bytes)?;
                    self.job = None;
                    self.docs.retain(|(id, _)| *id != update.doc);
                    self.docs.push((update.doc, doc));
                }
                UpdatePayload::Changes(changes) => {
                    if let Some((_, doc)) = self.docs.iter_mut().find(|(id, _)| *id == update.doc) {
                        doc.apply_changes(changes)?;
                    }
                }
                UpdatePayload::Removed => {
                    self.job = None;
                    self.docs.retain(|(id, _)| *id != update.doc);
                }
            }
        }
        self.cursor = answer.cursor;
        Ok(answer)
    }

    /// Pulls until caught up.
    pub async fn pull_all(&mut self) -> anyhow::Result<()> {
        for _ in 0..10_000 {
            if !self.round(Vec::new()).await?.more {
                return Ok(());
            }
        }
        anyhow::bail!("the pull did not end")
    }

    /// Makes `count` part usages ahead, each on top of the one before, for `edit_and_sync` to
    /// send: a tablet makes its edits on its own processor, so a run of many simulated devices
    /// on one machine should not spend that machine's cores on them while it measures the server.
    pub fn prepare_edits(&mut self, count: usize) -> anyhow::Result<()> {
        for n in 0..count {
            let edit = self.edit(n)?;
            self.prepared.push_back(edit);
        }
        Ok(())
    }

    /// Records part usage `n` on a job in progress.
    fn edit(&mut self, n: usize) -> anyhow::Result<(WorkOrderId, ChangeBytes)> {
        let actor = self.actor;
        if self.job.is_none() {
            self.job = self
                .docs
                .iter()
                .position(|(_, d)| d.read().is_ok_and(|w| w.status() == Status::InProgress));
        }
        let (id, doc) = self
            .job
            .and_then(|j| self.docs.get_mut(j))
            .ok_or_else(|| anyhow::anyhow!("the device has no job in progress"))?;
        let id = *id;
        let (_, change) = doc
            .act(
                &Action::RecordPartUsage(NewPartUsage {
                    part_number: format!("FUSE-{n}"),
                    quantity: 1,
                    source_location: "VAN-07".into(),
                    serial: None,
                    refurbished: false,
                }),
                &actor,
                Timestamp::now(),
            )
            .map_err(|e| anyhow::anyhow!("edit failed: {e}"))?;
        Ok((id, ChangeBytes(change.bytes)))
    }

    /// Syncs the next prepared edit, or records part usage `n` now and syncs it: one round trip.
    pub async fn edit_and_sync(&mut self, n: usize) -> anyhow::Result<()> {
        let (id, change) = match self.prepared.pop_front() {
            Some(edit) => edit,
            None => self.edit(n)?,
        };
        let answer = self
            .round(vec![PushDoc {
                doc: id,
                changes: vec![change],
            }])
            .await?;
        match answer.results.first().map(|r| &r.outcome) {
            Some(PushOutcome::Accepted { .. }) => Ok(()),
            other => anyhow::bail!("the push was not accepted: {other:?}"),
        }
    }
}

/// The rate `sync_throughput` must sustain with 500 devices.
const TARGET_RATE: f64 = 2000.0;

/// How much more than the target the devices offer: a server can only show that it sustains a
/// rate by being offered more (offered exactly, the ramp at the start and the last answers at
/// the end keep any server just under it).
const OFFERED_OVER_TARGET: f64 = 1.05;

/// `sync_throughput`: every device syncs a small edit about four times a second (2,100 syncs/s
/// offered by 500 devices); the figures are the syncs completed per second and their p99, after
/// one warm-up sync per device. The devices make their edits before the run, as tablets would
/// on processors of their own.
pub async fn sync_throughput(sizes: &Sizes) -> anyhow::Result<Outcome> {
    let devices = sizes.throughput_devices;
    let seed = Seed::new().await?;
    let people = staff(&seed, devices).await?;
    // Two jobs each: at least one of them is in progress.
    seed.work_orders(2 * devices, people.dispatcher, &people.technicians)
        .await?;
    let mut sessions = Vec::with_capacity(devices);
    for (i, tech) in people.technicians.iter().enumerate() {
        sessions.push((*tech, seed.session(*tech, &format!("tablet {i}")).await?));
    }
    let server = seed.start().await?;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(devices)
        .build()?;
    // 500 devices each syncing every 238 ms offer 2,100/s.
    let interval = Duration::from_secs_f64(500.0 / (TARGET_RATE * OFFERED_OVER_TARGET));
    let run_for = Duration::from_secs_f64(sizes.throughput_seconds);
    // Each device's edits for the warm-up and the whole run, made before they start (see
    // `prepare_edits`).
    let edits = (run_for.as_secs_f64() / interval.as_secs_f64()).ceil() as usize + 3;
    let mut preparing = Vec::with_capacity(devices);
    for (user, (device, token)) in sessions {
        let mut sim = SimDevice::new(http.clone(), server.url(), token, user, device, true);
        sim.pull_all().await?;
        preparing.push(tokio::task::spawn_blocking(move || {
            sim.prepare_edits(edits).map(|()| sim)
        }));
    }
    let mut prepared = Vec::with_capacity(devices);
    for sim in preparing {
        prepared.push(sim.await??);
    }
    // Warm-up, not measured: every device syncs once, spread over one interval. The first
    // push to each job loads it from storage; a server that has been running holds the jobs
    // being worked on in memory, and that is the server this scenario measures.
    let mut warming = Vec::with_capacity(devices);
    for (d, mut sim) in prepared.into_iter().enumerate() {
        let offset = interval.mul_f64(d as f64 / devices as f64);
        warming.push(tokio::spawn(async move {
            tokio::time::sleep(offset).await;
            sim.edit_and_sync(0).await.map(|()| sim)
        }));
    }
    let mut sims = Vec::with_capacity(devices);
    for sim in warming {
        sims.push(sim.await??);
    }

    let latencies = Arc::new(Mutex::new(Vec::new()));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(devices);
    for (d, mut sim) in sims.into_iter().enumerate() {
        let latencies = latencies.clone();
        tasks.push(tokio::spawn(async move {
            let offset = interval.mul_f64(d as f64 / devices as f64);
            let mut next = tokio::time::Instant::now() + offset;
            let mut mine = Vec::new();
            let mut n = 0;
            while started.elapsed() < run_for {
                tokio::time::sleep_until(next).await;
                next += interval;
                let t = Instant::now();
                sim.edit_and_sync(n).await?;
                mine.push(t.elapsed());
                n += 1;
            }
            latencies.lock().await.extend(mine);
            Ok::<_, anyhow::Error>(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    let elapsed = started.elapsed();
    let mut samples = std::mem::take(&mut *latencies.lock().await);
    let rate = samples.len() as f64 / elapsed.as_secs_f64();
    let p50 = percentile(&mut samples, 0.5);
    let p99 = percentile(&mut samples, 0.99);
    let offered = devices as f64 / interval.as_secs_f64();
    let note = format!(
        "{devices} devices, {offered:.0}/s offered for {:.0} s after a warm-up sync each (edits made beforehand), p50 {:.1} ms",
        elapsed.as_secs_f64(),
        ms(p50)
    );
    // In quick mode fewer devices offer less: the target scales with the offered load.
    let target = if sizes.quick {
        offered / OFFERED_OVER_TARGET
    } else {
        TARGET_RATE
    };
    Ok(Outcome::Figures(vec![
        Figure::new(
            "sync_throughput",
            rate,
            Unit::PerSecond,
            target,
            note.clone(),
        ),
        Figure::new("sync_throughput_p99", ms(p99), Unit::Ms, 100.0, note),
    ]))
}

/// `server_rss_100k`: the server's peak memory while devices make their first sync of their
/// share of a big database, then an edit each.
pub async fn server_rss(sizes: &Sizes) -> anyhow::Result<Outcome> {
    let devices = sizes.server_devices;
    let seed = Seed::new().await?;
    let people = staff(&seed, devices).await?;
    let started = Instant::now();
    seed.work_orders(sizes.server_docs, people.dispatcher, &people.technicians)
        .await?;
    eprintln!(
        "  seeded {} work orders in {:.1} s",
        sizes.server_docs,
        started.elapsed().as_secs_f64()
    );
    let mut sessions = Vec::with_capacity(devices);
    for (i, tech) in people.technicians.iter().enumerate() {
        sessions.push((*tech, seed.session(*tech, &format!("tablet {i}")).await?));
    }
    let server = seed.start().await?;
    let before = server.memory()?;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(devices)
        .build()?;
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(devices);
    for (user, (device, token)) in sessions {
        let mut sim = SimDevice::new(http.clone(), server.url(), token, user, device, false);
        tasks.push(tokio::spawn(async move {
            sim.pull_all().await?;
            Ok::<_, anyhow::Error>(sim.received)
        }));
    }
    let mut peak_seen: f64 = 0.0;
    let mut received = 0;
    for task in tasks {
        while !task.is_finished() {
            peak_seen = peak_seen.max(server.memory()?.rss_mb);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        received += task.await??;
    }
    let took = started.elapsed();
    let after = server.memory()?;
    anyhow::ensure!(
        received == sizes.server_docs,
        "the devices received {received} work orders, not {}",
        sizes.server_docs
    );
    Ok(Outcome::Figures(vec![Figure::new(
        "server_rss_100k",
        after.peak_mb.max(peak_seen),
        Unit::Megabytes,
        300.0,
        format!(
            "peak RSS; {devices} devices pulled {} work orders in {:.1} s; {:.0} MB before",
            sizes.server_docs,
            took.as_secs_f64(),
            before.rss_mb
        ),
    )]))
}
