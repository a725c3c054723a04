//! A loopback TCP proxy that injects network faults between devices and the server: lost
//! responses, requests cut mid-body, delays and resets. Each fault applies to a number of the
//! next connections, then traffic passes untouched again.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// What happens to one connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Forward both ways untouched.
    Pass,
    /// Forward the request; when the server starts answering, close the connection on the
    /// device instead: the server did the work, the device never hears about it.
    DropResponse,
    /// Forward only the first `n` bytes of the request, then close both sides.
    CutRequest(usize),
    /// Hold the request back for a while before forwarding it.
    Delay(Duration),
    /// Close the device's connection at once, forwarding nothing.
    Reset,
}

pub struct FaultProxy {
    addr: SocketAddr,
    plan: Arc<Mutex<VecDeque<Fault>>>,
    accept: JoinHandle<()>,
}

impl FaultProxy {
    /// Starts a proxy on a loopback port in front of `upstream`.
    pub async fn start(upstream: SocketAddr) -> std::io::Result<FaultProxy> {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let addr = listener.local_addr()?;
        let plan: Arc<Mutex<VecDeque<Fault>>> = Arc::default();
        let accept_plan = plan.clone();
        let accept = tokio::spawn(async move {
            while let Ok((device, _)) = listener.accept().await {
                let fault = accept_plan
                    .lock()
                    .map(|mut p| p.pop_front())
                    .ok()
                    .flatten()
                    .unwrap_or(Fault::Pass);
                tokio::spawn(handle(device, upstream, fault));
            }
        });
        Ok(FaultProxy { addr, plan, accept })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The next connections get these faults, in order.
    pub fn plan(&self, faults: impl IntoIterator<Item = Fault>) {
        if let Ok(mut plan) = self.plan.lock() {
            plan.extend(faults);
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

async fn handle(mut device: TcpStream, upstream: SocketAddr, fault: Fault) {
    if fault == Fault::Reset {
        let _ = device.set_zero_linger();
        return;
    }
    if let Fault::Delay(d) = fault {
        tokio::time::sleep(d).await;
    }
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        return;
    };
    let (mut dr, mut dw) = device.split();
    let (mut sr, mut sw) = server.split();
    let limit = match fault {
        Fault::CutRequest(n) => Some(n),
        _ => None,
    };
    let upload = async {
        let mut sent = 0usize;
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = match dr.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let n = match limit {
                Some(max) => n.min(max.saturating_sub(sent)),
                None => n,
            };
            if n == 0 || sw.write_all(&buf[..n]).await.is_err() {
                break;
            }
            sent += n;
            if limit.is_some_and(|max| sent >= max) {
                break;
            }
        }
    };
    let download = async {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = match sr.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if fault == Fault::DropResponse || dw.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
    };
    // Whichever side stops first ends the connection; an idle one is closed after a minute
    // so that no test leaves work behind.
    tokio::select! {
        _ = upload => {}
        _ = download => {}
        _ = tokio::time::sleep(Duration::from_secs(60)) => {}
    }
}
