//! Runs a Fieldsync server on a PostgreSQL database and a free loopback port, prints its URL,
//! then serves until killed: the scale-out tests kill it in the middle of a push.

use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use fieldsync_server::{RunningServer, ServerOptions, StartOptions};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let Some(database_url) = std::env::args().nth(1) else {
        anyhow::bail!("usage: serve_until_killed POSTGRES_URL");
    };
    let server = RunningServer::start_with(
        ServerOptions {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir: std::env::temp_dir().join("fieldsync-unused"),
            demo: false,
        },
        StartOptions {
            database_url: Some(database_url),
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
