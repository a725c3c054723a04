//! The `fieldsync-server` binary: parses options, sets up logging, runs the server until
//! ctrl-c or SIGTERM, then shuts down gracefully.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use fieldsync_server::{BlobLimits, RunningServer, ServerOptions, StartOptions, TlsFiles};
use tracing_subscriber::EnvFilter;

/// jemalloc instead of the system allocator: a push merges many small documents at once on
/// every core, and glibc's allocator spent about a seventh of that time taking and freeing
/// memory (single catch_up runs: 200–330 ms with glibc against 170–257 ms with jemalloc,
/// measured alternately on one machine).
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Fieldsync server: sync endpoint for devices, dispatcher API, embedded database.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Directory for the embedded SQLite database and attachments (created if missing).
    #[arg(long = "data", default_value = "./fieldsync-data")]
    data: PathBuf,
    /// A PostgreSQL database instead of SQLite, e.g. postgres://fieldsync:secret@db:5432/fieldsync;
    /// several instances may share it behind a load balancer.
    #[arg(
        long,
        env = "FIELDSYNC_DATABASE",
        hide_env_values = true,
        conflicts_with = "data",
        value_parser = postgres_url
    )]
    database: Option<String>,
    /// Fill an empty database with demo accounts and work orders.
    #[arg(long)]
    demo: bool,
    /// On an empty database, create the 'admin' account with this password.
    #[arg(long, env = "FIELDSYNC_ADMIN_PASSWORD", hide_env_values = true)]
    admin_password: Option<String>,
    /// Serve HTTPS with this certificate chain (PEM); needs --tls-key.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// Private key (PEM) of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Directory for attachment blobs (default: blobs/ in the data directory). Instances that
    /// share a PostgreSQL database must share this directory too.
    #[arg(long, value_name = "DIR")]
    blob_dir: Option<PathBuf>,
    /// Largest attachment a device may upload, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = fieldsync_server::blobs::DEFAULT_MAX_FILE_BYTES)]
    max_attachment_bytes: u64,
    /// Most attachment bytes one device may store on the server, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = fieldsync_server::blobs::DEFAULT_DEVICE_QUOTA_BYTES)]
    device_quota_bytes: u64,
}

fn postgres_url(value: &str) -> Result<String, String> {
    if fieldsync_server::storage::postgres::is_postgres_url(value) {
        Ok(value.to_owned())
    } else {
        Err(
            "expected a PostgreSQL URL such as postgres://user:password@host:5432/fieldsync \
             (the embedded SQLite database is chosen with --data DIR instead)"
                .to_owned(),
        )
    }
}

async fn stop_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for ctrl-c");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
}

/// The log filter: `RUST_LOG` when it is set and valid, otherwise `info`. Automerge marks its
/// parsing steps as INFO spans, one per column of every change and document it reads; unless
/// `RUST_LOG` names automerge they are turned off, since building them costs a few percent of
/// the CPU of every push and they tell an operator nothing.
fn log_filter(rust_log: Option<&str>) -> EnvFilter {
    let directives = rust_log.unwrap_or("info");
    let filter = EnvFilter::try_new(directives).unwrap_or_else(|_| EnvFilter::new("info"));
    if directives.contains("automerge") {
        return filter;
    }
    filter.add_directive("automerge=warn".parse().expect("a valid directive"))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(log_filter(
            std::env::var(EnvFilter::DEFAULT_ENV).ok().as_deref(),
        ))
        .init();
    let tls = match (args.tls_cert, args.tls_key) {
        (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
        _ => None,
    };
    let server = RunningServer::start_with(
        ServerOptions {
            listen: args.listen,
            data_dir: args.data,
            demo: args.demo,
        },
        StartOptions {
            admin_password: args.admin_password,
            tls,
            login_limits: None,
            database_url: args.database,
            blob_dir: args.blob_dir,
            blob_limits: Some(BlobLimits {
                max_file_bytes: args.max_attachment_bytes,
                device_quota_bytes: args.device_quota_bytes,
            }),
        },
    )
    .await?;
    if args.demo {
        println!("{}", fieldsync_server::demo::login_hint(&server.url()));
    }
    println!(
        "Fieldsync server listening on {} (ctrl-c to stop)",
        server.url()
    );
    stop_signal().await;
    tracing::info!("shutting down");
    server.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use tracing_subscriber::layer::SubscriberExt;

    use super::*;

    /// Whether an INFO span of `target` is recorded under the filter made from `rust_log`.
    fn info_span_recorded(rust_log: Option<&str>, target: &str) -> bool {
        let subscriber = tracing_subscriber::registry().with(log_filter(rust_log));
        tracing::subscriber::with_default(subscriber, || match target {
            "automerge::storage::columns" => {
                !tracing::info_span!(target: "automerge::storage::columns", "add_column")
                    .is_disabled()
            }
            _ => !tracing::info_span!(target: "fieldsync_server::routes", "request").is_disabled(),
        })
    }

    #[test]
    fn automerge_spans_are_off_unless_asked_for() {
        for rust_log in [None, Some("info"), Some("debug"), Some("not a filter ===")] {
            assert!(
                !info_span_recorded(rust_log, "automerge::storage::columns"),
                "{rust_log:?}"
            );
            assert!(
                info_span_recorded(rust_log, "fieldsync_server::routes"),
                "{rust_log:?}"
            );
        }
        assert!(info_span_recorded(
            Some("info,automerge=info"),
            "automerge::storage::columns"
        ));
    }
}
