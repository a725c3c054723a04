//! The server side of the benchmarks: seeds a database directly through the server's storage
//! layer (users, sessions, thousands of work orders in big transactions, far faster than HTTP
//! calls), then runs the real `fieldsync-server` binary on it as a separate process.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::Context;
use fieldsync_proto::api::TechnicianProfile;
use fieldsync_proto::{DeviceId, Role, Timestamp, UserId};
use fieldsync_server::storage::{NewSession, Storage, User, UserRecord};
use fieldsync_server::{SqliteStorage, DATABASE_FILE};
use tempfile::TempDir;

use super::data::{Cast, Copier, Template};
use super::measure::{memory_of, Memory};
use crate::PASSWORD;

/// Work orders imported per transaction while seeding.
const IMPORT_BATCH: usize = 1000;
/// Distinct work orders made per technician; the rest are copies of them.
const VARIANTS: usize = 3;

/// `f(0..n)` spread over `threads` threads, in order.
fn parallel<T: Send>(
    n: usize,
    threads: usize,
    f: impl Fn(usize) -> anyhow::Result<T> + Sync,
) -> anyhow::Result<Vec<T>> {
    let per = n.div_ceil(threads.max(1)).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .step_by(per)
            .map(|from| {
                let f = &f;
                s.spawn(move || {
                    (from..(from + per).min(n))
                        .map(f)
                        .collect::<anyhow::Result<Vec<T>>>()
                })
            })
            .collect();
        let mut all = Vec::with_capacity(n);
        for h in handles {
            all.extend(
                h.join()
                    .map_err(|_| anyhow::anyhow!("a seeding thread panicked"))??,
            );
        }
        Ok(all)
    })
}

/// A database being filled before the server starts on it.
pub struct Seed {
    pub dir: TempDir,
    storage: SqliteStorage,
    password_hash: String,
    now: Timestamp,
}

impl Seed {
    pub async fn new() -> anyhow::Result<Seed> {
        let dir = TempDir::new()?;
        let storage = SqliteStorage::open(dir.path().join(DATABASE_FILE)).await?;
        let password_hash = fieldsync_server::auth::password::hash(PASSWORD)?;
        Ok(Seed {
            dir,
            storage,
            password_hash,
            now: Timestamp::now(),
        })
    }

    /// Creates a user who signs in with `crate::PASSWORD`.
    pub async fn user(&self, username: &str, role: Role, index: usize) -> anyhow::Result<UserId> {
        let id = UserId::new();
        let regions = ["north", "south", "east", "west"];
        let skills = [["hardware", "installation"], ["software", "consultation"]];
        self.storage
            .create_user(UserRecord {
                user: User {
                    id,
                    username: username.to_owned(),
                    display_name: username.replace('-', " "),
                    role,
                    profile: TechnicianProfile {
                        skills: skills[index % 2].iter().map(|s| (*s).to_owned()).collect(),
                        region: regions[index % 4].into(),
                        latitude: 53.4 + (index % 50) as f64 * 0.01,
                        longitude: 9.8 + (index % 37) as f64 * 0.01,
                        senior: index.is_multiple_of(3),
                    },
                },
                password_hash: self.password_hash.clone(),
                created_at: self.now,
            })
            .await?;
        Ok(id)
    }

    /// A device and bearer token for `user`, as a login would make them.
    pub async fn session(&self, user: UserId, name: &str) -> anyhow::Result<(DeviceId, String)> {
        let device = self
            .storage
            .register_device(user, None, name, self.now)
            .await?;
        let (token, hash) = fieldsync_server::auth::token::generate();
        self.storage
            .create_session(NewSession {
                token: hash,
                user,
                device,
                created_at: self.now,
                expires_at: self.now.plus_minutes(24 * 60),
            })
            .await?;
        Ok((device, token))
    }

    /// Imports `count` realistic work orders; work order `i` is assigned to
    /// `technicians[i % len]` and was dispatched by `dispatcher`. Each technician's work orders
    /// are copies of three made with the document actions (a third of them completed), each
    /// copy with an id and number of its own. Made on every core.
    pub async fn work_orders(
        &self,
        count: usize,
        dispatcher: UserId,
        technicians: &[UserId],
    ) -> anyhow::Result<()> {
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        let now = self.now;
        let techs = technicians.len().max(1);
        // Work order i copies variant (i / techs) % variants of its technician's templates.
        let variants = VARIANTS.min(count.div_ceil(techs)).max(1);
        let casts: Vec<Cast> = technicians
            .iter()
            .map(|t| Cast::new(dispatcher, *t))
            .collect();
        let templates: Arc<Vec<Template>> = Arc::new(
            tokio::task::spawn_blocking(move || {
                parallel(techs * variants, threads, |t| {
                    // Variant v of technician k; `data::work_order` completes every third
                    // intake index, here variant 2, so variants 0 and 1 are in progress.
                    let (k, v) = (t / variants, t % variants);
                    Template::new(k * VARIANTS + v + 1, &casts[k], now)
                })
            })
            .await??,
        );
        let template_of = move |i: usize| (i % techs) * variants + (i / techs) % variants;
        let mut start = 0;
        while start < count {
            let end = (start + IMPORT_BATCH).min(count);
            let templates = templates.clone();
            let batch = tokio::task::spawn_blocking(move || {
                let per = (end - start).div_ceil(threads);
                std::thread::scope(|s| {
                    let handles: Vec<_> = (0..threads)
                        .map(|t| {
                            let from = start + t * per;
                            let to = (from + per).min(end);
                            let templates = &templates;
                            s.spawn(move || {
                                let mut copier = Copier::default();
                                (from..to)
                                    .map(|i| {
                                        let index = template_of(i) % templates.len();
                                        copier.copy(index, &templates[index], now)
                                    })
                                    .collect::<anyhow::Result<Vec<_>>>()
                            })
                        })
                        .collect();
                    let mut all = Vec::with_capacity(end - start);
                    for h in handles {
                        let part = h
                            .join()
                            .map_err(|_| anyhow::anyhow!("a seeding thread panicked"))??;
                        all.extend(part);
                    }
                    Ok::<_, anyhow::Error>(all)
                })
            })
            .await??;
            self.storage.import(batch).await?;
            start = end;
        }
        Ok(())
    }

    pub fn storage(&self) -> &SqliteStorage {
        &self.storage
    }

    /// Closes the database and starts the server binary on it.
    pub async fn start(self) -> anyhow::Result<ServerProcess> {
        let Seed { dir, storage, .. } = self;
        drop(storage);
        ServerProcess::start(dir).await
    }
}

/// The `fieldsync-server` binary of the same build profile as this harness, built first if
/// needed (so that the figures are always of the current code).
pub fn server_binary() -> anyhow::Result<PathBuf> {
    static BINARY: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BINARY
        .get_or_init(|| locate_or_build().map_err(|e| format!("{e:#}")))
        .clone()
        .map_err(|e| anyhow::anyhow!(e))
}

fn locate_or_build() -> anyhow::Result<PathBuf> {
    if let Ok(path) = std::env::var("FIELDSYNC_SERVER_BIN") {
        return Ok(PathBuf::from(path));
    }
    let exe = std::env::current_exe()?;
    let dir = exe
        .parent()
        .context("the harness binary has no directory")?
        .to_path_buf();
    let release = dir.file_name().is_some_and(|n| n == "release");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = Command::new(cargo);
    // With the harness's package too, so that dependencies are built with the same features.
    build.args([
        "build",
        "--quiet",
        "-p",
        "fieldsync-tests",
        "-p",
        "fieldsync-server",
        "--bin",
        "fieldsync-server",
    ]);
    if release {
        build.arg("--release");
    }
    // Into the target directory this harness was built in, wherever the caller's points.
    if let Some(target) = dir.parent() {
        build.arg("--target-dir").arg(target);
    }
    eprintln!(
        "building fieldsync-server ({})",
        if release { "release" } else { "debug" }
    );
    let status = build
        .status()
        .context("cannot run cargo to build fieldsync-server")?;
    anyhow::ensure!(status.success(), "building fieldsync-server failed");
    let binary = dir.join("fieldsync-server");
    anyhow::ensure!(binary.exists(), "{} was not built", binary.display());
    Ok(binary)
}

/// A running `fieldsync-server` process on a loopback port; killed when dropped.
pub struct ServerProcess {
    child: Child,
    pub addr: SocketAddr,
    _dir: TempDir,
}

fn free_port() -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?)
}

impl ServerProcess {
    /// Starts the server on the database in `dir` and waits until `/healthz` answers.
    pub async fn start(dir: TempDir) -> anyhow::Result<ServerProcess> {
        let binary = server_binary()?;
        let addr = free_port()?;
        let log = std::fs::File::create(dir.path().join("server.log"))?;
        let child = Command::new(&binary)
            .arg("--listen")
            .arg(addr.to_string())
            .arg("--data")
            .arg(dir.path())
            .env(
                "RUST_LOG",
                std::env::var("BENCH_SERVER_LOG").unwrap_or_else(|_| "info".into()),
            )
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        let mut server = ServerProcess {
            child,
            addr,
            _dir: dir,
        };
        server.wait_healthy().await?;
        Ok(server)
    }

    async fn wait_healthy(&mut self) -> anyhow::Result<()> {
        let http = reqwest::Client::new();
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait()? {
                anyhow::bail!(
                    "fieldsync-server exited ({status}); its log:\n{}",
                    self.log_tail()
                );
            }
            let ok = http
                .get(format!("{}/healthz", self.url()))
                .timeout(Duration::from_secs(2))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ok {
                return Ok(());
            }
            anyhow::ensure!(
                started.elapsed() < Duration::from_secs(60),
                "fieldsync-server did not answer /healthz within 60 s"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn memory(&self) -> anyhow::Result<Memory> {
        memory_of(self.pid())
    }

    pub fn data_dir(&self) -> &Path {
        self._dir.path()
    }

    /// The last lines the server logged, for error messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self._dir.path().join("server.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A seeded server with one dispatcher and `technicians` technicians.
pub struct Staff {
    pub dispatcher: UserId,
    pub technicians: Vec<UserId>,
}

/// Creates `dispatch` and `tech-0` … `tech-{n-1}`.
pub async fn staff(seed: &Seed, technicians: usize) -> anyhow::Result<Staff> {
    let dispatcher = seed.user("dispatch", Role::Dispatcher, 0).await?;
    let mut techs = Vec::with_capacity(technicians);
    for i in 0..technicians {
        techs.push(seed.user(&format!("tech-{i}"), Role::Technician, i).await?);
    }
    Ok(Staff {
        dispatcher,
        technicians: techs,
    })
}
