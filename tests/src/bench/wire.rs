//! `edit_wire_bytes`: every byte that crosses the network, both ways, HTTP headers included,
//! for one status change made on a device and synced. A counting TCP proxy sits between the
//! device and the server.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use fieldsync_proto::{Action, HoldReason, Status};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::server::{staff, Seed};
use super::{Figure, Outcome, Sizes, Unit};
use crate::Device;

/// Bytes forwarded so far: device → server and server → device.
#[derive(Default)]
struct Counts {
    up: AtomicU64,
    down: AtomicU64,
}

async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    counter: Arc<Counts>,
    up: bool,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let c = if up { &counter.up } else { &counter.down };
        c.fetch_add(n as u64, Ordering::Relaxed);
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}

/// Starts a counting proxy to `upstream`; returns its address.
async fn counting_proxy(upstream: SocketAddr, counts: Arc<Counts>) -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((device, _)) = listener.accept().await {
            let Ok(server) = TcpStream::connect(upstream).await else {
                continue;
            };
            let (dr, dw) = device.into_split();
            let (sr, sw) = server.into_split();
            tokio::spawn(pipe(dr, sw, counts.clone(), true));
            tokio::spawn(pipe(sr, dw, counts.clone(), false));
        }
    });
    Ok(addr)
}

pub async fn edit_wire_bytes(_sizes: &Sizes) -> anyhow::Result<Outcome> {
    let seed = Seed::new().await?;
    let people = staff(&seed, 1).await?;
    seed.work_orders(3, people.dispatcher, &people.technicians)
        .await?;
    let server = seed.start().await?;
    let counts = Arc::new(Counts::default());
    let proxy = counting_proxy(server.addr, counts.clone()).await?;
    let device = Device::try_login(&format!("http://{proxy}"), "tech-0").await?;
    device.client.sync().await?;
    let job = device
        .client
        .my_open_jobs()?
        .into_iter()
        .find(|s| s.status == Status::InProgress)
        .ok_or_else(|| anyhow::anyhow!("no job in progress"))?
        .id;
    // A first round trip opens the connection, so that only the edit's own bytes are counted.
    device.client.sync().await?;
    device.client.act(
        job,
        Action::Hold {
            reason: HoldReason::ALL[0],
            note: None,
        },
    )?;
    let up0 = counts.up.load(Ordering::Relaxed);
    let down0 = counts.down.load(Ordering::Relaxed);
    let report = device.client.sync().await?;
    anyhow::ensure!(
        report.accepted_docs == 1,
        "the status change was not accepted"
    );
    let up = counts.up.load(Ordering::Relaxed) - up0;
    let down = counts.down.load(Ordering::Relaxed) - down0;
    Ok(Outcome::Figures(vec![Figure::new(
        "edit_wire_bytes",
        (up + down) as f64,
        Unit::Bytes,
        1000.0,
        format!(
            "status change synced in {} round trip(s): {up} up, {down} down, HTTP headers included",
            report.rounds
        ),
    )]))
}
