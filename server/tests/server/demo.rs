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
}
