//! `RunningServer`: a real listener on port 0, the first accounts, restarts on the same data
//! directory, and a graceful stop.

use std::net::SocketAddr;

use fieldsync_proto::Role;
use fieldsync_server::{NewUser, RunningServer, ServerOptions, DATABASE_FILE};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A bare HTTP/1.1 GET, so these tests need no HTTP client.
async fn get(addr: SocketAddr, path: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.expect("read");
    answer
}

fn options(dir: &tempfile::TempDir, demo: bool) -> ServerOptions {
    ServerOptions {
        listen: "127.0.0.1:0".parse().expect("address"),
        data_dir: dir.path().join("data"),
        demo,
    }
}

#[tokio::test]
async fn serves_restarts_and_stops() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = RunningServer::start(options(&dir, false))
        .await
        .expect("start");
    assert_ne!(server.addr().port(), 0);
    assert_eq!(server.url(), format!("http://{}", server.addr()));
    assert!(dir.path().join("data").join(DATABASE_FILE).exists());
    let answer = get(server.addr(), "/healthz").await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("ok"), "{answer}");

    let id = server
        .state()
        .create_user(NewUser {
            username: "ann".into(),
            password: "secret-1".into(),
            display_name: "Ann".into(),
            role: Role::Technician,
            profile: Default::default(),
        })
        .await
        .expect("create user");
    let addr = server.addr();
    server.shutdown().await;
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "nothing listens after shutdown"
    );

    // Same directory, demo asked for: the data is kept and no demo is added to it.
    let server = RunningServer::start(options(&dir, true))
        .await
        .expect("restart");
    let storage = server.state().storage();
    assert_eq!(
        storage.user(id).await.expect("user").map(|u| u.username),
        Some("ann".into())
    );
    assert_eq!(storage.user_count().await.expect("count"), 1);
    assert_eq!(storage.max_seq().await.expect("seq").0, 0);
    server.shutdown().await;
}

#[tokio::test]
async fn an_admin_password_creates_the_admin_on_an_empty_database() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server =
        RunningServer::start_with_admin_password(options(&dir, false), Some("first-pw".into()))
            .await
            .expect("start");
    let (admin, _) = server
        .state()
        .storage()
        .user_by_username("admin")
        .await
        .expect("lookup")
        .expect("created");
    assert_eq!(admin.role, Role::Admin);
    server.shutdown().await;
}

#[tokio::test]
async fn an_unusable_data_directory_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"not a directory").expect("write");
    let err = RunningServer::start(ServerOptions {
        listen: "127.0.0.1:0".parse().expect("address"),
        data_dir: file.clone(),
        demo: false,
    })
    .await
    .expect_err("a file is not a data directory");
    assert!(format!("{err:#}").contains("a-file"), "{err:#}");
}
