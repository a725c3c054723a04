//! Runs a Fieldsync server on a PostgreSQL database (a `postgres://` URL) or on the SQLite
//! database in a data directory, on a free loopback port; prints its URL, then serves until
//! killed: the scale-out and crash tests kill it in the middle of a push.

use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use fieldsync_server::{RunningServer, ServerOptions, StartOptions};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let Some(database) = std::env::args().nth(1) else {
        anyhow::bail!("usage: serve_until_killed POSTGRES_URL|DATA_DIR");
    };
    let (data_dir, database_url) = if database.starts_with("postgres") {
        (
            std::env::temp_dir().join("fieldsync-unused"),
            Some(database),
        )
    } else {
        (database.into(), None)
    };
    let server = RunningServer::start_with(
        ServerOptions {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir,
            demo: false,
        },
        StartOptions {
            database_url,
            ..StartOptions::default()
        },
    )
    .await?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", server.url())?;
    out.flush()?;
    drop(out);
    // Bounded: the test kills us long before this ends.
    tokio::time::sleep(Duration::from_secs(300)).await;
    server.shutdown().await;
    Ok(())
}
