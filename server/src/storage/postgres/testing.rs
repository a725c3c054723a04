//! Throw-away PostgreSQL schemas for tests against a real server: each test gets a schema of
//! its own (a random name), so runs never collide, and the schema is dropped afterwards.
//!
//! The server's URL comes from `FIELDSYNC_TEST_POSTGRES`. Without it a test says it was
//! skipped and passes, unless `FIELDSYNC_REQUIRE_POSTGRES=1` asks for the PostgreSQL tests to
//! run (CI does), in which case a missing URL fails the test.

use std::io::Write;

use tokio_postgres::NoTls;

use super::PostgresStorage;

/// URL of the PostgreSQL server the tests use, e.g. `postgres://postgres@127.0.0.1:5432/test`.
pub const URL_VAR: &str = "FIELDSYNC_TEST_POSTGRES";
/// Set to `1` to fail, rather than skip, PostgreSQL tests that have no server.
pub const REQUIRE_VAR: &str = "FIELDSYNC_REQUIRE_POSTGRES";

/// An empty schema on the test server, dropped (with everything in it) when this is dropped.
/// Drop it after every storage that uses it.
#[derive(Debug)]
pub struct ScratchSchema {
    base_url: String,
    name: String,
}

/// The test server's URL, or `None` after saying that `test` was skipped.
///
/// # Panics
/// When `FIELDSYNC_REQUIRE_POSTGRES` is set and `FIELDSYNC_TEST_POSTGRES` is not.
pub fn server_url(test: &str) -> Option<String> {
    match std::env::var(URL_VAR) {
        Ok(url) if !url.trim().is_empty() => Some(url.trim().to_owned()),
        _ => {
            let required = std::env::var(REQUIRE_VAR).is_ok_and(|v| v.trim() == "1");
            assert!(
                !required,
                "{test}: {REQUIRE_VAR}=1 but {URL_VAR} is not set; point it at a PostgreSQL \
                 server, e.g. postgres://postgres@127.0.0.1:5432/test"
            );
            // Straight to stderr, past the test harness's capture, so that a plain
            // `cargo test` shows what did not run.
            let _ = writeln!(
                std::io::stderr(),
                "skipped: set {URL_VAR} (e.g. postgres://postgres@127.0.0.1:5432/test) to run \
                 {test} against PostgreSQL"
            );
            None
        }
    }
}

impl ScratchSchema {
    /// Creates a schema named after `test`, or returns `None` when no test server is
    /// configured (see `server_url`).
    ///
    /// # Panics
    /// When the server is configured but cannot be reached: a broken setup is not a skip.
    pub async fn create(test: &str) -> Option<ScratchSchema> {
        let base_url = server_url(test)?;
        let label: String = test
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .take(32)
            .collect();
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        let name = format!("fs_test_{label}_{}", &suffix[..12]);
        let client = connect(&base_url).await;
        client
            .batch_execute(&format!("CREATE SCHEMA \"{name}\""))
            .await
            .unwrap_or_else(|e| panic!("cannot create schema {name}: {e:?}"));
        Some(ScratchSchema { base_url, name })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// A database URL whose connections work in this schema. They are named after it too,
    /// so that the clean-up can end those a failed test left open.
    pub fn url(&self) -> String {
        let separator = if self.base_url.contains('?') {
            '&'
        } else {
            '?'
        };
        format!(
            "{}{separator}options=-c%20search_path%3D{name}&application_name={name}",
            self.base_url,
            name = self.name
        )
    }

    /// A storage on this schema (several may share it, like server instances do).
    pub async fn open(&self) -> PostgresStorage {
        PostgresStorage::open(&self.url())
            .await
            .unwrap_or_else(|e| panic!("cannot open storage on schema {}: {e}", self.name))
    }

    /// A plain connection to the test server, in this schema, for inspecting or sabotaging.
    pub async fn connect(&self) -> tokio_postgres::Client {
        connect(&self.url()).await
    }
}

async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to the test PostgreSQL ({URL_VAR}): {e:?}"));
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

impl Drop for ScratchSchema {
    fn drop(&mut self) {
        let (url, name) = (self.base_url.clone(), self.name.clone());
        let listener = super::feed::application_name(&super::feed::channel_name(&name));
        // Drop may run inside a runtime that is shutting down, so the clean-up gets a thread
        // and a runtime of its own.
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(async move {
                let (client, connection) = tokio_postgres::connect(&url, NoTls)
                    .await
                    .map_err(|e| e.to_string())?;
                tokio::spawn(async move {
                    let _ = connection.await;
                });
                // Connections of the test still open (their runtime may be gone, or blocked
                // on this very drop) could hold locks that DROP SCHEMA waits for.
                client
                    .execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                         WHERE application_name IN ($1, $2) AND pid <> pg_backend_pid()",
                        &[&name, &listener],
                    )
                    .await
                    .map_err(|e| super::convert::explain(&e))?;
                client
                    .batch_execute(&format!(
                        "SET lock_timeout = '20s'; DROP SCHEMA IF EXISTS \"{name}\" CASCADE"
                    ))
                    .await
                    .map_err(|e| super::convert::explain(&e))
            })
        });
        match cleanup.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("could not drop test schema {}: {e}", self.name),
            Err(_) => eprintln!("dropping test schema {} panicked", self.name),
        }
    }
}
