//! Several server instances on one PostgreSQL database (see
//! `fieldsync_server::storage::postgres::testing` for how the test server is found): starting
//! together, sharing sessions, and the binary's `--database` option.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};

use fieldsync_server::storage::postgres::testing::ScratchSchema;
use fieldsync_server::storage::WorkOrderQuery;
use fieldsync_server::{demo, RunningServer, ServerOptions, StartOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn options(demo: bool) -> ServerOptions {
    ServerOptions {
        listen: "127.0.0.1:0".parse().expect("address"),
        // Must not be used: the database is PostgreSQL.
        data_dir: "/nonexistent/fieldsync-data".into(),
        demo,
    }
}

fn on_postgres(database_url: &str, admin_password: Option<&str>) -> StartOptions {
    StartOptions {
        database_url: Some(database_url.to_owned()),
        admin_password: admin_password.map(str::to_owned),
        ..StartOptions::default()
    }
}

/// A bare HTTP/1.1 request, so these tests need no HTTP client; returns status and body.
async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<serde_json::Value>,
) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{auth}\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.expect("write");
    stream.write_all(body.as_bytes()).await.expect("write");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.expect("read");
    let status = answer
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

#[tokio::test]
async fn instances_starting_together_create_one_admin_and_share_sessions() {
    let Some(schema) = ScratchSchema::create("instances_share_sessions").await else {
        return;
    };
    let url = schema.url();
    let (one, two) = tokio::join!(
        RunningServer::start_with(options(false), on_postgres(&url, Some("first-pw"))),
        RunningServer::start_with(options(false), on_postgres(&url, Some("first-pw"))),
    );
    let (one, two) = (one.expect("first starts"), two.expect("second starts"));
    assert_eq!(
        one.state().storage().user_count().await.expect("count"),
        1,
        "one admin, whoever created it"
    );
    for server in [&one, &two] {
        let (status, body) = request(server.addr(), "GET", "/healthz", None, None).await;
        assert_eq!((status, body.as_str()), (200, "ok"));
    }

    // Signed in through one instance, the token works on the other: sessions are rows.
    let (status, body) = request(
        one.addr(),
        "POST",
        "/v1/login",
        None,
        Some(serde_json::json!({"username": "admin", "password": "first-pw", "device_name": "console"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let login: serde_json::Value = serde_json::from_str(&body).expect("json");
    let token = login["token"].as_str().expect("token");
    let (status, body) = request(two.addr(), "GET", "/v1/work-orders", Some(token), None).await;
    assert_eq!(status, 200, "{body}");

    one.shutdown().await;
    two.shutdown().await;
}

#[tokio::test]
async fn instances_starting_together_with_demo_seed_it_once() {
    let Some(schema) = ScratchSchema::create("instances_seed_once").await else {
        return;
    };
    let url = schema.url();
    let (one, two) = tokio::join!(
        RunningServer::start_with(options(true), on_postgres(&url, None)),
        RunningServer::start_with(options(true), on_postgres(&url, None)),
    );
    let (one, two) = (one.expect("first starts"), two.expect("second starts"));
    let storage = two.state().storage();
    assert_eq!(storage.user_count().await.expect("count"), 28);
    let page = storage
        .list_work_orders(WorkOrderQuery {
            limit: 1,
            ..Default::default()
        })
        .await
        .expect("list");
    assert_eq!(page.total, 300, "the demo work orders, once");
    let (status, body) = request(
        one.addr(),
        "POST",
        "/v1/login",
        None,
        Some(serde_json::json!({"username": "tech01", "password": demo::DEMO_PASSWORD, "device_name": "tablet"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    one.shutdown().await;
    two.shutdown().await;
}

/// A child process killed when dropped, so that a failing test leaves no server behind.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn the_binary_serves_from_postgres() {
    let Some(schema) = ScratchSchema::create("binary_on_postgres").await else {
        return;
    };
    let mut child = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_fieldsync-server"))
            .args(["--listen", "127.0.0.1:0", "--database", &schema.url()])
            .env("FIELDSYNC_ADMIN_PASSWORD", "first-pw")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn the server"),
    );
    let stdout = child.0.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("read");
    let url = line
        .trim()
        .strip_prefix("Fieldsync server listening on http://")
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("unexpected first line: {line}"));
    let addr: SocketAddr = url.parse().expect("address");
    let (status, _) = request(addr, "GET", "/healthz", None, None).await;
    let (login, body) = request(
        addr,
        "POST",
        "/v1/login",
        None,
        Some(serde_json::json!({"username": "admin", "password": "first-pw", "device_name": "console"})),
    )
    .await;
    drop(child);
    assert_eq!(status, 200);
    assert_eq!(login, 200, "{body}");
}

#[test]
fn the_binary_refuses_a_database_that_is_not_postgres() {
    for args in [
        vec!["--database", "mysql://localhost/fieldsync"],
        vec!["--database", "postgres://x/y", "--data", "somewhere"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_fieldsync-server"))
            .args(&args)
            .env_remove("FIELDSYNC_DATABASE")
            .output()
            .expect("run");
        assert!(!out.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("--database"), "{args:?}: {stderr}");
    }
}
