//! `catch_up`: a technician's device comes back with offline edits on some work orders while
//! the office edited others; one sync uploads the first and brings down the second. One such
//! sync is a single sample, so the scenario runs several times, each on a new server and new
//! devices, and reports the median.

use std::time::{Duration, Instant};

use fieldsync_proto::{Action, NewPartUsage, ScheduleWindow, Status, Timestamp, WorkOrderId};

use super::measure::{ms, percentile};
use super::server::{staff, Seed};
use super::{Figure, Outcome, Sizes, Unit};
use crate::Device;

/// Times the scenario is run in full size; once in a quick run.
const RUNS: usize = 5;

pub async fn catch_up(sizes: &Sizes) -> anyhow::Result<Outcome> {
    let runs = if sizes.quick { 1 } else { RUNS };
    let mut took = Vec::with_capacity(runs);
    let mut rounds = Vec::with_capacity(runs);
    for _ in 0..runs {
        let run = one_sync(sizes).await?;
        took.push(run.took);
        rounds.push(run.rounds);
    }
    let each: Vec<String> = took.iter().map(|t| format!("{:.0}", ms(*t))).collect();
    let median = percentile(&mut took, 0.5);
    let rounds = match rounds.iter().min() {
        Some(fewest) if rounds.iter().all(|r| r == fewest) => format!("{fewest} round(s) each"),
        _ => format!("rounds {rounds:?}"),
    };
    Ok(Outcome::Figures(vec![Figure::new(
        "catch_up",
        ms(median),
        Unit::Ms,
        150.0,
        format!(
            "median of {runs} ({} ms); {} device edits over {} jobs up, as many office edits over {} others down; {rounds}",
            each.join(", "),
            sizes.catch_up_edits,
            sizes.catch_up_docs,
            sizes.catch_up_docs,
        ),
    )]))
}

/// One measured sync and how many round trips it took.
struct Run {
    took: Duration,
    rounds: usize,
}

/// Sets up a server and two devices, makes the edits on both sides, and times the device's sync.
async fn one_sync(sizes: &Sizes) -> anyhow::Result<Run> {
    let docs = sizes.catch_up_docs;
    let edits = sizes.catch_up_edits;
    let seed = Seed::new().await?;
    let people = staff(&seed, 1).await?;
    // A third of the seeded work orders are completed; 3 × docs leaves 2 × docs in progress.
    seed.work_orders(3 * docs, people.dispatcher, &people.technicians)
        .await?;
    let server = seed.start().await?;
    let tech = Device::try_login(&server.url(), "tech-0").await?;
    let office = Device::try_login(&server.url(), "dispatch").await?;
    tech.client.sync().await?;
    office.client.sync().await?;
    let in_progress: Vec<WorkOrderId> = tech
        .client
        .my_open_jobs()?
        .into_iter()
        .filter(|s| s.status == Status::InProgress)
        .map(|s| s.id)
        .collect();
    anyhow::ensure!(
        in_progress.len() >= 2 * docs,
        "only {} jobs in progress",
        in_progress.len()
    );
    let (mine, theirs) = in_progress.split_at(docs);
    let theirs = &theirs[..docs];

    // Offline on the device.
    for i in 0..edits {
        tech.client.act(
            mine[i % docs],
            Action::RecordPartUsage(NewPartUsage {
                part_number: format!("FUSE-{i}"),
                quantity: 1,
                source_location: "VAN-07".into(),
                serial: None,
                refurbished: false,
            }),
        )?;
    }
    // Meanwhile in the office, uploaded before the device comes back.
    let base = Timestamp::now().plus_minutes(24 * 60);
    for i in 0..edits {
        let start = base.plus_minutes(i as i64);
        office.client.act(
            theirs[i % docs],
            Action::Reschedule {
                window: Some(ScheduleWindow {
                    start,
                    end: start.plus_minutes(90),
                }),
            },
        )?;
    }
    office.client.sync().await?;
    anyhow::ensure!(
        office.client.pending_changes()? == 0,
        "office edits not uploaded"
    );

    let started = Instant::now();
    let report = tech.client.sync().await?;
    let took = started.elapsed();

    anyhow::ensure!(
        tech.client.pending_changes()? == 0,
        "device edits not uploaded"
    );
    anyhow::ensure!(report.rejected_docs == 0, "the server refused device edits");
    let last = theirs[(edits - 1) % docs];
    let view = tech.client.get(last)?;
    let expected = base.plus_minutes(edits as i64 - 1);
    anyhow::ensure!(
        view.schedule.map(|w| w.start) == Some(expected),
        "the office's last reschedule did not arrive"
    );
    Ok(Run {
        took,
        rounds: report.rounds,
    })
}
