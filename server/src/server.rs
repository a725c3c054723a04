//! Starting and stopping the server: open and migrate the database (SQLite in the data
//! directory, or PostgreSQL), create the first accounts or the demo data, bind, serve in a
//! task, and shut down gracefully.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use axum::serve::ListenerExt;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::auth::limit::LoginLimits;
use crate::blobs::{BlobLimits, FsBlobStore};
use crate::error::Error;
use crate::state::AppState;
use crate::storage::{PostgresStorage, SharedStorage, SqliteStorage, StorageError};
use crate::tls::TlsFiles;

/// Name of the SQLite database inside the data directory.
pub const DATABASE_FILE: &str = "fieldsync.db";
/// Name of the attachment directory inside the data directory.
pub const BLOB_DIR: &str = "blobs";

#[derive(Clone, Debug)]
pub struct ServerOptions {
    /// Address to listen on; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Directory holding the SQLite database; created if missing. Unused when
    /// `StartOptions::database_url` names a PostgreSQL database.
    pub data_dir: PathBuf,
    /// Fill an empty database with demo users and work orders.
    pub demo: bool,
}

/// Further choices when starting a server, each with a sensible default.
#[derive(Clone, Debug, Default)]
pub struct StartOptions {
    /// On an empty database, create the `admin` account with this password (with `demo`, it
    /// replaces the demo password for `admin`).
    pub admin_password: Option<String>,
    /// Serve HTTPS with this certificate and key instead of plain HTTP.
    pub tls: Option<TlsFiles>,
    /// Login rate limits; `None` for the defaults.
    pub login_limits: Option<LoginLimits>,
    /// A PostgreSQL database (`postgres://user:password@host:port/database`) instead of the
    /// SQLite one in the data directory, so that several instances can serve the same data.
    pub database_url: Option<String>,
    /// Where attachment blobs are kept; `None` for `blobs/` in the data directory. Instances
    /// sharing a PostgreSQL database must share this directory too.
    pub blob_dir: Option<PathBuf>,
    /// Attachment size and per-device quota; `None` for the defaults.
    pub blob_limits: Option<BlobLimits>,
}

/// A server serving in a background task.
pub struct RunningServer {
    addr: SocketAddr,
    tls: bool,
    state: AppState,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl std::fmt::Debug for RunningServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl RunningServer {
    /// Opens and migrates the database, seeds the demo if asked, binds and starts serving.
    pub async fn start(opts: ServerOptions) -> anyhow::Result<RunningServer> {
        Self::start_with_admin_password(opts, None).await
    }

    /// Like `start`; on an empty database also creates the `admin` account with this password
    /// (with `demo`, it replaces the demo password for `admin`).
    pub async fn start_with_admin_password(
        opts: ServerOptions,
        admin_password: Option<String>,
    ) -> anyhow::Result<RunningServer> {
        Self::start_with(
            opts,
            StartOptions {
                admin_password,
                ..StartOptions::default()
            },
        )
        .await
    }

    /// Like `start`, with the further choices of `extra`.
    pub async fn start_with(
        opts: ServerOptions,
        extra: StartOptions,
    ) -> anyhow::Result<RunningServer> {
        // Read the certificate first: a mistake there should stop the start before anything.
        let tls = extra
            .tls
            .as_ref()
            .map(crate::tls::server_config)
            .transpose()?;
        let (storage, database) = open_storage(&opts, extra.database_url.as_deref()).await?;
        let blob_dir = extra
            .blob_dir
            .clone()
            .unwrap_or_else(|| opts.data_dir.join(BLOB_DIR));
        let blobs = FsBlobStore::open(&blob_dir).with_context(|| {
            format!(
                "cannot open the attachment directory {}",
                blob_dir.display()
            )
        })?;
        let state = AppState::with_blobs(
            storage,
            extra.login_limits.unwrap_or_default(),
            Arc::new(blobs),
            extra.blob_limits.unwrap_or_default(),
        );
        bootstrap(&state, opts.demo, extra.admin_password).await?;

        let listener = tokio::net::TcpListener::bind(opts.listen)
            .await
            .with_context(|| format!("cannot listen on {}", opts.listen))?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let app = crate::routes::app(state.clone());
        let is_tls = tls.is_some();
        // A dropped sender stops the server too.
        let stop_signal = async {
            let _ = stopped.await;
        };
        let task = match tls {
            Some(config) => tokio::spawn(crate::tls::serve(listener, config, app, stop_signal)),
            None => tokio::spawn(async move {
                // Answers and live notices leave at once rather than waiting on the
                // device's delayed acknowledgement (Nagle's algorithm).
                let listener = listener.tap_io(|tcp| {
                    if let Err(e) = tcp.set_nodelay(true) {
                        tracing::debug!(error = %e, "cannot turn off Nagle's algorithm");
                    }
                });
                axum::serve(
                    listener,
                    app.into_make_service_with_connect_info::<SocketAddr>(),
                )
                .with_graceful_shutdown(stop_signal)
                .await
            }),
        };
        tracing::info!(%addr, tls = is_tls, %database, "fieldsync server listening");
        Ok(RunningServer {
            addr,
            tls: is_tls,
            state,
            stop: Some(stop),
            task,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Base URL, e.g. `http://127.0.0.1:8080` (`https://` with TLS).
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Stops accepting connections and waits for requests in flight to finish.
    pub async fn shutdown(mut self) {
        self.state.begin_shutdown();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match (&mut self.task).await {
            Ok(Ok(())) => tracing::info!("server stopped"),
            Ok(Err(e)) => tracing::error!(error = %e, "server stopped with an error"),
            Err(e) => tracing::error!(error = %e, "server task failed"),
        }
    }
}

/// Opens the configured database; returns it and where it is (without any password).
async fn open_storage(
    opts: &ServerOptions,
    database_url: Option<&str>,
) -> anyhow::Result<(SharedStorage, String)> {
    if let Some(url) = database_url {
        let storage = PostgresStorage::open(url)
            .await
            .context("cannot open the PostgreSQL database")?;
        let description = storage.description().to_owned();
        return Ok((Arc::new(storage), description));
    }
    std::fs::create_dir_all(&opts.data_dir).with_context(|| {
        format!(
            "cannot create the data directory {}",
            opts.data_dir.display()
        )
    })?;
    let db = opts.data_dir.join(DATABASE_FILE);
    let storage = SqliteStorage::open(&db)
        .await
        .with_context(|| format!("cannot open the database {}", db.display()))?;
    Ok((Arc::new(storage), db.display().to_string()))
}

/// Whether an account could not be created because another instance, starting at the same
/// time on the same database, created it first.
fn created_elsewhere(e: &Error) -> bool {
    matches!(e, Error::Storage(StorageError::UsernameTaken(_)))
}

/// First accounts: the demo data, or an `admin` account, but only into an empty database.
/// Several instances starting together on one empty database all try; the first wins and the
/// others carry on with what it created.
async fn bootstrap(
    state: &AppState,
    demo: bool,
    admin_password: Option<String>,
) -> anyhow::Result<()> {
    let storage = state.storage();
    let empty = storage.user_count().await? == 0 && storage.max_seq().await?.0 == 0;
    if !empty {
        if demo {
            tracing::info!(
                "the database already has data; demo data is only added to an empty one"
            );
        }
        if admin_password.is_some() {
            tracing::info!("accounts exist already; the admin password option is ignored");
        }
        return Ok(());
    }
    if demo {
        let password = admin_password
            .as_deref()
            .unwrap_or(crate::demo::DEMO_PASSWORD);
        let report = match crate::demo::seed(state, password).await {
            Ok(report) => report,
            Err(e) if created_elsewhere(&e) => {
                tracing::info!("another instance is adding the demo data");
                return Ok(());
            }
            Err(e) => return Err(anyhow::Error::new(e).context("seeding demo data failed")),
        };
        tracing::info!(
            users = report.users,
            work_orders = report.work_orders,
            parts = report.parts,
            "demo data added"
        );
    } else if let Some(password) = admin_password {
        let created = state
            .create_user(fieldsync_proto::api::NewUser {
                username: "admin".into(),
                password,
                display_name: "Administrator".into(),
                role: fieldsync_proto::Role::Admin,
                profile: Default::default(),
            })
            .await;
        match created {
            Ok(_) => tracing::info!("created the 'admin' account"),
            Err(e) if created_elsewhere(&e) => {
                tracing::info!("another instance created the 'admin' account")
            }
            Err(e) => {
                return Err(anyhow::Error::new(e).context("creating the admin account failed"))
            }
        }
    } else {
        tracing::warn!(
            "the database has no accounts: start with --admin-password to create 'admin', or --demo"
        );
    }
    Ok(())
}
