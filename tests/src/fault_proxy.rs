//! A loopback TCP proxy that injects network faults between devices and the server: lost
//! responses, requests or responses cut mid-body, delays, resets, and requests delivered twice
//! (at once, or replayed later after newer requests, which reorders them across connections).
//!
//! Faults apply per HTTP request, not per connection, so that a device reusing a kept-alive
//! connection still meets them: a request starts when the device sends bytes after the
//! server's last answer (HTTP/1.1 devices wait for an answer before the next request). Each
//! planned fault applies to the next request, whichever device sends it; unplanned requests
//! pass untouched.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Longest a connection (or a replay) may stay open, so that no test leaves work behind.
const IDLE_LIMIT: Duration = Duration::from_secs(60);

/// What happens to one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Forward both ways untouched.
    Pass,
    /// Forward the request; when the server starts answering, close the connection on the
    /// device instead: the server did the work, the device never hears about it.
    DropResponse,
    /// Forward only the first `n` bytes of the request, then close both sides.
    CutRequest(usize),
    /// Forward the request and only the first `n` bytes of the answer, then close both sides.
    CutResponse(usize),
    /// Hold the request back for a while before forwarding it.
    Delay(Duration),
    /// Close the device's connection at once, forwarding nothing.
    Reset,
    /// Forward the request and its answer, then send the same request again on a new
    /// connection after `after` (the second answer is thrown away): a duplicated message, or
    /// with a delay an old message arriving after newer ones.
    Duplicate { after: Duration },
    /// Forward the request with the bits of its byte at this offset flipped (if it is that
    /// long): data damaged on the way.
    CorruptRequest(usize),
}

/// Shared between the proxy's tasks: the plan and what it did.
#[derive(Default)]
struct Shared {
    plan: Mutex<VecDeque<Fault>>,
    requests: AtomicUsize,
    replays: AtomicUsize,
}

impl Shared {
    fn next_fault(&self) -> Fault {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.plan
            .lock()
            .map(|mut p| p.pop_front())
            .ok()
            .flatten()
            .unwrap_or(Fault::Pass)
    }
}

pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: JoinHandle<()>,
}

impl FaultProxy {
    /// Starts a proxy on a loopback port in front of `upstream`.
    pub async fn start(upstream: SocketAddr) -> std::io::Result<FaultProxy> {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let addr = listener.local_addr()?;
        let shared: Arc<Shared> = Arc::default();
        let accept_shared = shared.clone();
        let accept = tokio::spawn(async move {
            while let Ok((device, _)) = listener.accept().await {
                tokio::spawn(handle(device, upstream, accept_shared.clone()));
            }
        });
        Ok(FaultProxy {
            addr,
            shared,
            accept,
        })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The next requests get these faults, in order.
    pub fn plan(&self, faults: impl IntoIterator<Item = Fault>) {
        if let Ok(mut plan) = self.shared.plan.lock() {
            plan.extend(faults);
        }
    }

    /// Faults planned but not yet used.
    pub fn remaining(&self) -> usize {
        self.shared.plan.lock().map(|p| p.len()).unwrap_or(0)
    }

    /// Forgets faults planned but not yet used.
    pub fn clear_plan(&self) {
        if let Ok(mut plan) = self.shared.plan.lock() {
            plan.clear();
        }
    }

    /// Requests seen so far.
    pub fn requests(&self) -> usize {
        self.shared.requests.load(Ordering::Relaxed)
    }

    /// Duplicated requests sent to the server so far.
    pub fn replays(&self) -> usize {
        self.shared.replays.load(Ordering::Relaxed)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// The request in flight on one connection.
#[derive(Default)]
struct InFlight {
    /// A request has started and its answer has not.
    open: bool,
    fault: Option<Fault>,
    /// The request's bytes, kept for a duplicate.
    bytes: Vec<u8>,
}

async fn handle(mut device: TcpStream, upstream: SocketAddr, shared: Arc<Shared>) {
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        return;
    };
    let (mut dr, mut dw) = device.split();
    let (mut sr, mut sw) = server.split();
    let flight = Mutex::new(InFlight::default());
    let upload = async {
        let mut buf = vec![0u8; 16 * 1024];
        let mut sent = 0usize;
        loop {
            let n = match dr.read(&mut buf).await {
                Ok(0) | Err(_) => return false,
                Ok(n) => n,
            };
            let fault = {
                let Ok(mut f) = flight.lock() else {
                    return false;
                };
                if !f.open {
                    *f = InFlight {
                        open: true,
                        fault: Some(shared.next_fault()),
                        bytes: Vec::new(),
                    };
                    sent = 0;
                }
                f.fault.unwrap_or(Fault::Pass)
            };
            let n = match fault {
                Fault::Reset => return true,
                Fault::Delay(d) if sent == 0 => {
                    tokio::time::sleep(d).await;
                    n
                }
                Fault::CutRequest(max) => n.min(max.saturating_sub(sent)),
                Fault::CorruptRequest(at) => {
                    if (sent..sent + n).contains(&at) {
                        buf[at - sent] ^= 0xff;
                    }
                    n
                }
                Fault::Duplicate { .. } => {
                    if let Ok(mut f) = flight.lock() {
                        f.bytes.extend_from_slice(&buf[..n]);
                    }
                    n
                }
                _ => n,
            };
            if n == 0 || sw.write_all(&buf[..n]).await.is_err() {
                return false;
            }
            sent += n;
            if matches!(fault, Fault::CutRequest(max) if sent >= max) {
                return false;
            }
        }
    };
    let download = async {
        let mut buf = vec![0u8; 16 * 1024];
        let mut received = 0usize;
        loop {
            let n = match sr.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            let fault = {
                let Ok(mut f) = flight.lock() else { return };
                if f.open {
                    // The answer starts: the request is over.
                    f.open = false;
                    received = 0;
                    if let Some(Fault::Duplicate { after }) = f.fault {
                        let bytes = std::mem::take(&mut f.bytes);
                        shared.replays.fetch_add(1, Ordering::Relaxed);
                        tokio::spawn(replay(upstream, bytes, after));
                    }
                }
                f.fault.unwrap_or(Fault::Pass)
            };
            let n = match fault {
                Fault::DropResponse => return,
                Fault::CutResponse(max) => n.min(max.saturating_sub(received)),
                _ => n,
            };
            if n == 0 || dw.write_all(&buf[..n]).await.is_err() {
                return;
            }
            received += n;
            if matches!(fault, Fault::CutResponse(max) if received >= max) {
                return;
            }
        }
    };
    // Whichever side stops first ends the connection; an idle one is closed after a while.
    let reset = tokio::select! {
        reset = upload => reset,
        _ = download => false,
        _ = tokio::time::sleep(IDLE_LIMIT) => false,
    };
    if reset {
        let _ = device.set_zero_linger();
    }
}

/// Sends `request` to the server on a connection of its own after `after`, and waits for the
/// answer to start (it is thrown away).
async fn replay(upstream: SocketAddr, request: Vec<u8>, after: Duration) {
    tokio::time::sleep(after).await;
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        return;
    };
    if server.write_all(&request).await.is_err() {
        return;
    }
    // The server answers once it has handled the request; the first bytes are enough.
    let mut sink = vec![0u8; 16 * 1024];
    let _ = tokio::time::timeout(IDLE_LIMIT, server.read(&mut sink)).await;
}
