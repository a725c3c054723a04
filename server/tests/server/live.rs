//! `GET /v1/live` over a real socket: authentication (header or query), the first `ready`
//! notice, notices only for commits in the device's scope, and a clean close on shutdown.

use std::time::Duration;

use axum::http::StatusCode;
use fieldsync_proto::live::LiveNotice;
use fieldsync_proto::Role;
use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use crate::common::Harness;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Serves the harness's router on a loopback port; returns its `ws://` base.
async fn serve(h: &Harness) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = h.app.clone();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("ws://{addr}/v1/live")
}

async fn connect_with_header(url: &str, token: &str) -> Result<Socket, WsError> {
    let mut request = url.into_client_request()?;
    request.headers_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("header"),
    );
    tokio_tungstenite::connect_async(request)
        .await
        .map(|(s, _)| s)
}

/// The next notice, skipping pings; fails the test after a few seconds.
async fn next_notice(socket: &mut Socket) -> LiveNotice {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(5), socket.next())
            .await
            .expect("a notice within 5 s")
            .expect("connection open")
            .expect("frame");
        match message {
            Message::Text(text) => return serde_json::from_str(&text).expect("a notice"),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected {other:?}"),
        }
    }
}

/// No notice arrives within a short while.
async fn assert_quiet(socket: &mut Socket) {
    let next = tokio::time::timeout(Duration::from_millis(300), socket.next()).await;
    assert!(next.is_err(), "unexpected message {next:?}");
}

#[tokio::test]
async fn a_handshake_without_a_token_is_refused_with_a_reason() {
    let h = Harness::new().await;
    let url = serve(&h).await;
    let err = tokio_tungstenite::connect_async(url.as_str())
        .await
        .expect_err("no token");
    match err {
        WsError::Http(response) => {
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
            let body = String::from_utf8_lossy(response.body().as_deref().unwrap_or_default())
                .into_owned();
            assert!(body.contains("Bearer"), "{body}");
        }
        other => panic!("unexpected {other:?}"),
    }
    let err = tokio_tungstenite::connect_async(format!("{url}?token=not-a-token"))
        .await
        .expect_err("bad token");
    assert!(
        matches!(&err, WsError::Http(r) if r.status() == StatusCode::UNAUTHORIZED),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_plain_get_is_told_to_use_a_websocket() {
    let h = Harness::new().await;
    let office = h.device("disp", Role::Dispatcher).await;
    let (status, body) = h.get("/v1/live", &office.token).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("WebSocket"), "{body}");
}

#[tokio::test]
async fn devices_hear_of_commits_in_their_scope_only() {
    let h = Harness::new().await;
    let office = h.device("disp", Role::Dispatcher).await;
    let ana = h.device("ana", Role::Technician).await;
    let ben = h.device("ben", Role::Technician).await;
    let ana_id = ana.user;
    let ben_id = ben.user;
    let url = serve(&h).await;

    let mut office_ws = connect_with_header(&url, &office.token)
        .await
        .expect("office connects");
    // The query form, as a browser would connect.
    let (mut ana_ws, _) = tokio_tungstenite::connect_async(format!("{url}?token={}", ana.token))
        .await
        .expect("ana connects with ?token=");
    let mut ben_ws = connect_with_header(&url, &ben.token)
        .await
        .expect("ben connects");
    for ws in [&mut office_ws, &mut ana_ws, &mut ben_ws] {
        assert_eq!(next_notice(ws).await, LiveNotice::Ready { seq: 0 });
    }

    let first = h.create_work_order(&office.token, Some(ana_id)).await;
    let seq = match next_notice(&mut ana_ws).await {
        LiveNotice::Changed { seq } => seq,
        other => panic!("unexpected {other:?}"),
    };
    assert!(seq >= 1);
    assert_eq!(
        next_notice(&mut office_ws).await,
        LiveNotice::Changed { seq }
    );
    assert_quiet(&mut ben_ws).await;

    // Reassigned to ben: ana hears of it too, since the job leaves her device.
    let (status, body) = h
        .post(
            &format!("/v1/work-orders/{first}/assign"),
            &office.token,
            serde_json::json!({ "technician": ben_id }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let after = LiveNotice::Changed { seq: seq + 1 };
    assert_eq!(next_notice(&mut ben_ws).await, after);
    assert_eq!(next_notice(&mut ana_ws).await, after);

    // A reconnecting device learns the latest commit at once.
    drop(ana_ws);
    let mut again = connect_with_header(&url, &ana.token)
        .await
        .expect("reconnects");
    assert_eq!(
        next_notice(&mut again).await,
        LiveNotice::Ready { seq: seq + 1 }
    );
}

#[tokio::test]
async fn shutdown_closes_live_connections_with_a_restart_code() {
    let h = Harness::new().await;
    let office = h.device("disp", Role::Dispatcher).await;
    let url = serve(&h).await;
    let mut ws = connect_with_header(&url, &office.token)
        .await
        .expect("connects");
    next_notice(&mut ws).await;
    h.state.begin_shutdown();
    let message = tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .expect("closed within 5 s")
        .expect("a frame")
        .expect("readable");
    match message {
        Message::Close(Some(frame)) => assert_eq!(frame.code, CloseCode::Restart),
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn a_message_bigger_than_the_read_buffer_is_read_and_an_oversized_one_closes() {
    use futures_util::SinkExt;
    let h = Harness::new().await;
    let ana = h.device("ana", Role::Technician).await;
    let url = serve(&h).await;
    let mut ws = connect_with_header(&url, &ana.token)
        .await
        .expect("connects");
    assert_eq!(next_notice(&mut ws).await, LiveNotice::Ready { seq: 0 });

    // Several reads' worth (the server reads 1 KiB at a time), within the 4 KiB limit.
    ws.send(Message::Text("x".repeat(3000).into()))
        .await
        .expect("send");
    let office = h.device("disp", Role::Dispatcher).await;
    h.create_work_order(&office.token, Some(ana.user)).await;
    assert!(matches!(
        next_notice(&mut ws).await,
        LiveNotice::Changed { .. }
    ));

    ws.send(Message::Binary(vec![0u8; 64 * 1024].into()))
        .await
        .expect("send");
    let closed = async {
        loop {
            match ws.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(_)) => {}
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(5), closed)
        .await
        .expect("the server closes a connection that sends more than it accepts");
}
