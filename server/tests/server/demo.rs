//! The demo data: accounts that can sign in, and work orders in every state.

use std::collections::HashSet;
use std::time::Instant;

use fieldsync_proto::{Role, Status};
use fieldsync_server::demo;
use fieldsync_server::storage::WorkOrderQuery;

use crate::common::Harness;

#[tokio::test]
async fn demo_data_covers_every_state_and_signs_in() {
    let h = Harness::new().await;
    let started = Instant::now();
    let report = demo::seed(&h.state, demo::DEMO_PASSWORD)
        .await
        .expect("seed");
    let took = started.elapsed();
    assert_eq!(report.work_orders, 300);
    assert_eq!(report.users, 28);
    assert_eq!(report.parts, 30);
    assert!(took.as_secs() < 30, "seeding took {took:?}");

    let storage = h.state.storage();
    let page = storage
        .list_work_orders(WorkOrderQuery {
            limit: 500,
            ..Default::default()
        })
        .await
        .expect("list");
    assert_eq!(page.total, 300);
    let statuses: HashSet<Status> = page.items.iter().map(|s| s.summary.status).collect();
    for status in Status::ALL {
        assert!(statuses.contains(status), "no demo work order is {status}");
    }
    assert!(page.items.iter().any(|s| s.summary.assignee.is_none()));
    assert_eq!(
        storage
            .users_with_role(Role::Technician)
            .await
            .expect("techs")
            .len(),
        25
    );
    assert_eq!(storage.parts().await.expect("parts").len(), 30);

    for username in ["tech01", "dispatch1", "admin"] {
        let (status, body) = h
            .json(
                axum::http::Method::POST,
                "/v1/login",
                None,
                Some(serde_json::json!({
                    "username": username, "password": demo::DEMO_PASSWORD, "device_name": "test"
                })),
            )
            .await;
        assert_eq!(status, axum::http::StatusCode::OK, "{username}: {body}");
    }
    assert!(demo::login_hint("http://127.0.0.1:8080").contains("--user tech01 --password demo"));

    // The console's stock, follow-up and dashboard pages have something to show.
    let (_, body) = h
        .json(
            axum::http::Method::POST,
            "/v1/login",
            None,
            Some(serde_json::json!({
                "username": "dispatch1", "password": demo::DEMO_PASSWORD, "device_name": "console"
            })),
        )
        .await;
    let login: fieldsync_proto::api::LoginResponse = serde_json::from_value(body).expect("login");
    let (_, stock) = h.get("/v1/stock", &login.token).await;
    let states: HashSet<&str> = stock["levels"]
        .as_array()
        .expect("levels")
        .iter()
        .filter_map(|r| r["state"].as_str())
        .collect();
    for state in ["ok", "below_safety", "negative"] {
        assert!(states.contains(state), "no demo stock is {state}");
    }
    let (_, ledger) = h.get("/v1/stock/movements?limit=1000", &login.token).await;
    let kinds: HashSet<String> = ledger["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|m| match &m["kind"] {
            serde_json::Value::String(word) => word.clone(),
            other => other
                .as_object()
                .and_then(|o| o.keys().next().cloned())
                .unwrap_or_default(),
        })
        .collect();
    for kind in ["receipt", "transfer", "adjustment", "usage"] {
        assert!(
            kinds.contains(kind),
            "no demo movement is a {kind}: {kinds:?}"
        );
    }
    let follow_ups = storage.follow_ups().await.expect("follow-ups");
    assert!(follow_ups.len() >= 10, "{} follow-ups", follow_ups.len());
    let (_, due) = h.get("/v1/follow-ups", &login.token).await;
    assert!(!due["items"].as_array().expect("due").is_empty(), "{due}");
    let (_, kpis) = h.get("/v1/kpis?period=day", &login.token).await;
    assert!(
        kpis["overall"]["satisfaction"]["responses"].as_u64() >= Some(10),
        "{kpis}"
    );
    assert!(kpis["overall"]["completed"].as_u64() >= Some(10), "{kpis}");
}
