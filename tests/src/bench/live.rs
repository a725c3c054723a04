//! Live scenarios: how fast an edit on one connected device shows on another, and what the
//! server's memory is while it holds many idle live connections.

use std::sync::Arc;
use std::time::{Duration, Instant};

use fieldsync_client::{AgentOptions, ChangeSource, Client, ClientEvent, Subscription, SyncAgent};
use fieldsync_proto::live::LIVE_PATH;
use fieldsync_proto::{
    Action, NewPartUsage, ScheduleWindow, Status, Timestamp, WorkOrderId, WorkOrderView,
};
use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use super::measure::{ms, percentile};
use super::server::{staff, Seed};
use super::{Figure, Outcome, Sizes, Unit};

/// A device with its background agent uploading at once (no debounce) and listening live.
struct LiveDevice {
    client: Arc<Client>,
    _agent: SyncAgent,
    _dir: tempfile::TempDir,
}

async fn live_device(url: &str, username: &str) -> anyhow::Result<LiveDevice> {
    let dir = tempfile::TempDir::new()?;
    let client = Arc::new(Client::open(dir.path())?);
    client
        .login(url, username, crate::PASSWORD, "bench tablet")
        .await?;
    client.sync().await?;
    let agent = SyncAgent::start(
        client.clone(),
        AgentOptions {
            debounce: Duration::ZERO,
            max_debounce: Duration::ZERO,
            ..AgentOptions::default()
        },
    )?;
    Ok(LiveDevice {
        client,
        _agent: agent,
        _dir: dir,
    })
}

/// Waits until a server change to `doc` makes `check` hold on `client`; when it did.
async fn seen(
    events: &mut Subscription,
    client: &Client,
    doc: WorkOrderId,
    check: impl Fn(&WorkOrderView) -> bool,
) -> anyhow::Result<Instant> {
    let wait = async {
        loop {
            match events.next().await {
                Some(ClientEvent::Changed {
                    docs,
                    source: ChangeSource::Server,
                }) if docs.contains(&doc) => {
                    if client.get(doc).is_ok_and(|v| check(&v)) {
                        return Ok(Instant::now());
                    }
                }
                Some(ClientEvent::Missed { .. }) => {
                    if client.get(doc).is_ok_and(|v| check(&v)) {
                        return Ok(Instant::now());
                    }
                }
                Some(_) => {}
                None => anyhow::bail!("the client went away"),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), wait)
        .await
        .map_err(|_| anyhow::anyhow!("an edit did not arrive within 10 s"))?
}

/// `live_latency_p50` / `_p99`: technician edits reaching the office's device and office edits
/// reaching the technician's, through the server, each measured from the call that made the
/// edit to the other device's store showing it.
pub async fn live_latency(sizes: &Sizes) -> anyhow::Result<Outcome> {
    let seed = Seed::new().await?;
    let people = staff(&seed, 1).await?;
    seed.work_orders(30, people.dispatcher, &people.technicians)
        .await?;
    let server = seed.start().await?;
    let tech = live_device(&server.url(), "tech-0").await?;
    let office = live_device(&server.url(), "dispatch").await?;
    let live_by = Instant::now() + Duration::from_secs(10);
    while !(tech.client.sync_status().live && office.client.sync_status().live) {
        anyhow::ensure!(Instant::now() < live_by, "the devices did not go live");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let job = tech
        .client
        .my_open_jobs()?
        .into_iter()
        .find(|s| s.status == Status::InProgress)
        .ok_or_else(|| anyhow::anyhow!("no job in progress"))?
        .id;
    let mut tech_events = tech.client.subscribe();
    let mut office_events = office.client.subscribe();
    let base = Timestamp::now().plus_minutes(24 * 60);
    let mut samples = Vec::with_capacity(2 * sizes.live_rounds);
    for round in 0..sizes.live_rounds {
        let part = format!("FUSE-{round}");
        let sent = Instant::now();
        tech.client.act(
            job,
            Action::RecordPartUsage(NewPartUsage {
                part_number: part.clone(),
                quantity: 1,
                source_location: "VAN-07".into(),
                serial: None,
                refurbished: false,
            }),
        )?;
        let at = seen(&mut office_events, &office.client, job, |v| {
            v.part_usages.iter().any(|p| p.part_number == part)
        })
        .await?;
        samples.push(at - sent);

        let start = base.plus_minutes(round as i64);
        let sent = Instant::now();
        office.client.act(
            job,
            Action::Reschedule {
                window: Some(ScheduleWindow {
                    start,
                    end: start.plus_minutes(60),
                }),
            },
        )?;
        let at = seen(&mut tech_events, &tech.client, job, |v| {
            v.schedule.map(|w| w.start) == Some(start)
        })
        .await?;
        samples.push(at - sent);
        // Let both agents settle, as between taps of a person.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let n = samples.len();
    let p50 = percentile(&mut samples, 0.5);
    let p99 = percentile(&mut samples, 0.99);
    let note = format!("{n} edits, both directions, agents without debounce");
    Ok(Outcome::Figures(vec![
        Figure::new("live_latency_p50", ms(p50), Unit::Ms, 10.0, note.clone()),
        Figure::new("live_latency_p99", ms(p99), Unit::Ms, 50.0, note),
    ]))
}

/// Raises this process's open-file limit to its hard limit (children inherit it).
pub fn raise_file_limit() -> anyhow::Result<u64> {
    let (_, hard) = rlimit::Resource::NOFILE.get()?;
    rlimit::Resource::NOFILE.set(hard, hard)?;
    Ok(hard)
}

/// `idle_connections_rss`: the server's memory while it holds many open live connections.
pub async fn idle_connections(sizes: &Sizes) -> anyhow::Result<Outcome> {
    let limit = raise_file_limit()?;
    let wanted = sizes.idle_connections;
    anyhow::ensure!(
        (wanted as u64) + 200 < limit,
        "the open-file limit ({limit}) is too low for {wanted} connections"
    );
    let seed = Seed::new().await?;
    let people = staff(&seed, 100).await?;
    seed.work_orders(200, people.dispatcher, &people.technicians)
        .await?;
    // One session per technician, each shared by many connections (as many tablets would).
    let mut tokens = Vec::new();
    for (i, tech) in people.technicians.iter().enumerate() {
        tokens.push(seed.session(*tech, &format!("tablet {i}")).await?.1);
    }
    let server = seed.start().await?;
    let before = server.memory()?;
    let url = format!("ws://{}{LIVE_PATH}", server.addr);

    let started = Instant::now();
    let mut connections = Vec::with_capacity(wanted);
    let mut pending = futures_util::stream::iter((0..wanted).map(|i| {
        let url = url.clone();
        let token = tokens[i % tokens.len()].clone();
        async move {
            let mut request = url.into_client_request()?;
            request.headers_mut().insert(
                "Authorization",
                HeaderValue::from_str(&format!("Bearer {token}"))?,
            );
            let (mut socket, _) = tokio_tungstenite::connect_async(request).await?;
            // The first notice says the connection is set up on the server.
            let first = tokio::time::timeout(Duration::from_secs(30), socket.next())
                .await
                .map_err(|_| anyhow::anyhow!("no ready notice within 30 s"))?;
            anyhow::ensure!(matches!(first, Some(Ok(_))), "the live connection closed");
            Ok::<_, anyhow::Error>(socket)
        }
    }))
    .buffer_unordered(200);
    while let Some(socket) = pending.next().await {
        connections.push(socket?);
    }
    let connect_time = started.elapsed();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let held = server.memory()?;
    anyhow::ensure!(
        connections.len() == wanted,
        "only {} connections opened",
        connections.len()
    );
    drop(connections);
    Ok(Outcome::Figures(vec![Figure::new(
        "idle_connections_rss",
        held.rss_mb,
        Unit::Megabytes,
        500.0,
        format!(
            "{wanted} live connections (opened in {:.1} s); {:.0} MB before",
            connect_time.as_secs_f64(),
            before.rss_mb
        ),
    )]))
}
