//! The benchmark harness behind `cargo run --release -p fieldsync-tests --bin bench`: runs each
//! scenario against a real `fieldsync-server` process and real client stores, prints a table and
//! then one JSON line per figure.

pub mod catch_up;
pub mod client_store;
pub mod data;
pub mod dispatch;
pub mod live;
pub mod measure;
pub mod report;
pub mod server;
pub mod throughput;
pub mod wire;

use std::time::Instant;

pub use report::{Figure, Unit};

/// Sizes of one run: full, or shrunk for CI.
#[derive(Clone, Copy, Debug)]
pub struct Sizes {
    pub quick: bool,
    /// Work orders on a device for the initial sync, local action, query and memory scenarios.
    pub store_docs: usize,
    /// Work orders each side edits in `catch_up` (1,000 edits over 200 in full size).
    pub catch_up_docs: usize,
    pub catch_up_edits: usize,
    /// Samples of timed single operations.
    pub samples: usize,
    pub live_rounds: usize,
    pub throughput_devices: usize,
    pub throughput_seconds: f64,
    pub idle_connections: usize,
    pub server_docs: usize,
    pub server_devices: usize,
    pub technicians: usize,
    pub open_jobs: usize,
}

impl Sizes {
    pub fn full() -> Sizes {
        Sizes {
            quick: false,
            store_docs: 10_000,
            catch_up_docs: 200,
            catch_up_edits: 1_000,
            samples: 500,
            live_rounds: 200,
            throughput_devices: 500,
            throughput_seconds: 10.0,
            idle_connections: 10_000,
            server_docs: 100_000,
            server_devices: 200,
            technicians: 500,
            open_jobs: 10_000,
        }
    }

    pub fn quick() -> Sizes {
        Sizes {
            quick: true,
            store_docs: 1_000,
            catch_up_docs: 40,
            catch_up_edits: 200,
            samples: 100,
            live_rounds: 30,
            throughput_devices: 100,
            throughput_seconds: 3.0,
            idle_connections: 1_000,
            server_docs: 5_000,
            server_devices: 40,
            technicians: 100,
            open_jobs: 1_000,
        }
    }
}

/// Names of every scenario, in the order they run.
pub const SCENARIOS: &[&str] = &[
    "edit_wire_bytes",
    "initial_sync_10k",
    "local_action_p99",
    "query_open_jobs",
    "client_rss_10k",
    "catch_up",
    "live_latency",
    "sync_throughput",
    "idle_connections_rss",
    "server_rss_100k",
    "dispatch_suggestions_p99",
];

/// What one scenario produced: its figures, or why it was skipped.
pub enum Outcome {
    Figures(Vec<Figure>),
    Skipped(String),
}

/// Whether `--only NAME` selects `scenario` (a figure name such as `live_latency_p50` selects
/// the scenario that measures it).
pub fn selected(scenario: &str, only: Option<&str>) -> bool {
    match only {
        None => true,
        Some(name) => name == scenario || name.starts_with(&format!("{scenario}_")),
    }
}

/// Runs one scenario by name.
pub async fn run_scenario(
    name: &str,
    sizes: &Sizes,
    fixtures: &mut client_store::Fixtures,
) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let outcome = match name {
        "edit_wire_bytes" => wire::edit_wire_bytes(sizes).await?,
        "initial_sync_10k" => client_store::initial_sync(sizes, fixtures).await?,
        "local_action_p99" => client_store::local_action(sizes, fixtures).await?,
        "query_open_jobs" => client_store::query_open_jobs(sizes, fixtures).await?,
        "client_rss_10k" => client_store::client_rss(sizes, fixtures).await?,
        "catch_up" => catch_up::catch_up(sizes).await?,
        "live_latency" => live::live_latency(sizes).await?,
        "sync_throughput" => throughput::sync_throughput(sizes).await?,
        "idle_connections_rss" => live::idle_connections(sizes).await?,
        "server_rss_100k" => throughput::server_rss(sizes).await?,
        "dispatch_suggestions_p99" => dispatch::suggestions(sizes).await?,
        other => anyhow::bail!("unknown scenario '{other}'"),
    };
    eprintln!("  ({name} took {:.1} s)", started.elapsed().as_secs_f64());
    Ok(outcome)
}
