//! The JSON API: sign-in, bearer checks, validation errors that name the field, roles, and the
//! work order endpoints.

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use fieldsync_proto::{Role, WorkOrderView};
use serde_json::json;

use crate::common::{assert_error, intake, Harness, PASSWORD};

#[tokio::test]
async fn health_answers_ok() {
    let h = Harness::new().await;
    let (status, body) = h.json(Method::GET, "/healthz", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, "ok");
}

#[tokio::test]
async fn login_refuses_wrong_credentials() {
    let h = Harness::new().await;
    h.add_user("ann", Role::Technician).await;
    let login = |username: &str, password: &str| {
        h.json(
            Method::POST,
            "/v1/login",
            None,
            Some(json!({"username": username, "password": password, "device_name": "tablet"})),
        )
    };
    let (status, body) = login("ann", "wrong").await;
    assert_error(
        status,
        &body,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        &["wrong username or password"],
    );
    let (status, body) = login("nobody", PASSWORD).await;
    assert_error(
        status,
        &body,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        &["wrong username or password"],
    );
    let (status, body) = login("ANN", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "usernames ignore case: {body}");
    assert_eq!(body["user"]["username"], "ann");
    assert_eq!(body["user"]["role"], "technician");
    assert_eq!(body["token"].as_str().map(str::len), Some(64));

    let (status, body) = h
        .json(
            Method::POST,
            "/v1/login",
            None,
            Some(json!({"username": "ann", "device_name": "x"})),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "invalid_input",
        &["password"],
    );
    let (status, body) = h
        .json(
            Method::POST,
            "/v1/login",
            None,
            Some(json!({"username": "ann", "password": PASSWORD, "device_name": " "})),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "invalid_input",
        &["device_name"],
    );
}

#[tokio::test]
async fn logins_register_and_reuse_devices() {
    let h = Harness::new().await;
    h.add_user("ann", Role::Technician).await;
    h.add_user("bob", Role::Technician).await;
    let first = h.login("ann").await;
    let login = |username: &str, device: Option<fieldsync_proto::DeviceId>| {
        h.json(
            Method::POST,
            "/v1/login",
            None,
            Some(
                json!({"username": username, "password": PASSWORD, "device_name": "tablet",
                        "device_id": device}),
            ),
        )
    };
    let (_, again) = login("ann", Some(first.device_id)).await;
    assert_eq!(
        again["device_id"],
        json!(first.device_id),
        "same user: same device"
    );
    assert_ne!(again["token"], json!(first.token), "a new token every time");
    let (_, other) = login("bob", Some(first.device_id)).await;
    assert_ne!(
        other["device_id"],
        json!(first.device_id),
        "another user's device is not shared"
    );
    // Both of ann's tokens work.
    let (status, _) = h.get("/v1/work-orders", &first.token).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = h
        .get(
            "/v1/work-orders",
            again["token"].as_str().unwrap_or_default(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn requests_without_a_valid_token_are_unauthorized() {
    let h = Harness::new().await;
    for path in ["/v1/work-orders", "/v1/technicians", "/v1/parts"] {
        let (status, body) = h.json(Method::GET, path, None, None).await;
        assert_error(
            status,
            &body,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            &["Authorization: Bearer"],
        );
        let (status, body) = h.get(path, "0123456789abcdef").await;
        assert_error(
            status,
            &body,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            &["sign in again"],
        );
    }
    let req = Request::builder()
        .uri("/v1/work-orders")
        .header(header::AUTHORIZATION, "Basic YWxhZGRpbjpvcGVuc2VzYW1l")
        .body(Body::empty())
        .expect("request");
    let (status, _, _) = h.call(req).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn json_errors_name_the_field() {
    let h = Harness::new().await;
    let office = h.device("dispatch", Role::Dispatcher).await;
    let mut body = serde_json::to_value(intake(None)).expect("json");
    body["urgency"] = json!("whenever");
    let (status, answer) = h.post("/v1/work-orders", &office.token, body).await;
    assert_error(
        status,
        &answer,
        StatusCode::BAD_REQUEST,
        "invalid_input",
        &["urgency", "whenever", "emergency"],
    );

    let mut body = serde_json::to_value(intake(None)).expect("json");
    body["customer"]["site"]["latitude"] = json!("north-ish");
    let (status, answer) = h.post("/v1/work-orders", &office.token, body).await;
    assert_error(
        status,
        &answer,
        StatusCode::BAD_REQUEST,
        "invalid_input",
        &["customer.site.latitude"],
    );

    let mut body = serde_json::to_value(intake(None)).expect("json");
    body["description"] = json!("   ");
    let (status, answer) = h.post("/v1/work-orders", &office.token, body).await;
    assert_error(
        status,
        &answer,
        StatusCode::BAD_REQUEST,
        "invalid_input",
        &["description", "required"],
    );

    let req = Request::builder()
        .method(Method::POST)
        .uri("/v1/work-orders")
        .header(header::AUTHORIZATION, format!("Bearer {}", office.token))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{\"channel\": \"phone\","))
        .expect("request");
    let (status, bytes, _) = h.call(req).await;
    let answer: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
    assert_error(
        status,
        &answer,
        StatusCode::BAD_REQUEST,
        "invalid_input",
        &["not valid JSON"],
    );

    let (status, answer) = h.get("/v1/work-orders/not-an-id", &office.token).await;
    assert_error(
        status,
        &answer,
        StatusCode::BAD_REQUEST,
        "invalid_input",
        &["work order id"],
    );
    let (status, answer) = h
        .get("/v1/work-orders?status=new,exploded", &office.token)
        .await;
    assert_error(
        status,
        &answer,
        StatusCode::BAD_REQUEST,
        "invalid_input",
        &["status", "exploded"],
    );
    let (status, answer) = h.get("/v1/work-orders?limit=lots", &office.token).await;
    assert_error(
        status,
        &answer,
        StatusCode::BAD_REQUEST,
        "invalid_input",
        &["limit"],
    );

    let big = "x".repeat(fieldsync_server::MAX_JSON_BYTES + 10);
    let (status, answer) = h
        .post(
            "/v1/work-orders",
            &office.token,
            json!({ "description": big }),
        )
        .await;
    assert_error(
        status,
        &answer,
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        &["bytes"],
    );
}

#[tokio::test]
async fn work_orders_are_created_listed_and_acted_on() {
    let h = Harness::new().await;
    let office = h.device("dispatch", Role::Dispatcher).await;
    let tech = h.device("tech", Role::Technician).await;
    let (status, created) = h
        .post(
            "/v1/work-orders",
            &office.token,
            serde_json::to_value(intake(None)).expect("json"),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let view: WorkOrderView = serde_json::from_value(created.clone()).expect("a view");
    assert_eq!(view.status, fieldsync_proto::Status::New);
    assert!(view.number.starts_with("WO-"));
    let id = view.id;

    let (status, read) = h.get(&format!("/v1/work-orders/{id}"), &office.token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(read["number"], created["number"]);
    let (status, answer) = h
        .get(
            &format!("/v1/work-orders/{}", fieldsync_proto::WorkOrderId::new()),
            &office.token,
        )
        .await;
    assert_error(
        status,
        &answer,
        StatusCode::NOT_FOUND,
        "not_found",
        &["no work order"],
    );

    // Assigning needs a technician.
    let (status, answer) = h
        .post(
            &format!("/v1/work-orders/{id}/assign"),
            &office.token,
            json!({"technician": office.user}),
        )
        .await;
    assert_error(
        status,
        &answer,
        StatusCode::BAD_REQUEST,
        "invalid_input",
        &["technician", "dispatcher"],
    );
    let (status, answer) = h
        .post(
            &format!("/v1/work-orders/{id}/assign"),
            &office.token,
            json!({"tech": tech.user}),
        )
        .await;
    assert_error(
        status,
        &answer,
        StatusCode::BAD_REQUEST,
        "invalid_input",
        &["technician"],
    );
    let (status, assigned) = h
        .post(
            &format!("/v1/work-orders/{id}/assign"),
            &office.token,
            json!({"technician": tech.user}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{assigned}");
    assert_eq!(assigned["status"], "assigned");
    assert_eq!(assigned["assignee"], json!(tech.user));

    // Wrong state is a conflict, field work is forbidden to the office.
    let (status, answer) = h
        .post(
            &format!("/v1/work-orders/{id}/actions"),
            &office.token,
            json!({"action": "close"}),
        )
        .await;
    assert_error(
        status,
        &answer,
        StatusCode::CONFLICT,
        "conflict",
        &[view.number.as_str(), "completed"],
    );
    let (status, answer) = h
        .post(
            &format!("/v1/work-orders/{id}/actions"),
            &office.token,
            json!({"action": "accept"}),
        )
        .await;
    assert_error(
        status,
        &answer,
        StatusCode::FORBIDDEN,
        "forbidden",
        &["accept", "dispatcher"],
    );
    let (status, answer) = h
        .post(
            &format!("/v1/work-orders/{id}/actions"),
            &office.token,
            json!({"action": "explode"}),
        )
        .await;
    assert_error(
        status,
        &answer,
        StatusCode::BAD_REQUEST,
        "invalid_input",
        &["explode"],
    );
    // Technicians use their devices, not the office API.
    let (status, answer) = h
        .post(
            &format!("/v1/work-orders/{id}/actions"),
            &tech.token,
            json!({"action": "accept"}),
        )
        .await;
    assert_error(
        status,
        &answer,
        StatusCode::FORBIDDEN,
        "forbidden",
        &["from their device"],
    );
    let (status, answer) = h
        .post(
            "/v1/work-orders",
            &tech.token,
            serde_json::to_value(intake(None)).expect("json"),
        )
        .await;
    assert_error(
        status,
        &answer,
        StatusCode::FORBIDDEN,
        "forbidden",
        &["technician"],
    );

    let (status, cancelled) = h
        .post(
            &format!("/v1/work-orders/{id}/actions"),
            &office.token,
            json!({"action": "cancel", "reason": "customer fixed it"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{cancelled}");
    assert_eq!(cancelled["status"], "cancelled");

    // Lists filter, count and order.
    let urgent = {
        let mut new = intake(Some(tech.user));
        new.urgency = fieldsync_proto::Urgency::Emergency;
        new.impact = fieldsync_proto::Impact::ManyCustomers;
        new
    };
    let (status, _) = h
        .post(
            "/v1/work-orders",
            &office.token,
            serde_json::to_value(urgent).expect("json"),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    h.create_work_order(&office.token, Some(tech.user)).await;
    let (_, all) = h.get("/v1/work-orders", &office.token).await;
    assert_eq!(all["total"], 3);
    assert_eq!(
        all["items"][0]["priority"], "P1",
        "most urgent first: {all}"
    );
    let (_, open) = h.get("/v1/work-orders?open=true", &office.token).await;
    assert_eq!(open["total"], 2);
    let (_, cancelled) = h
        .get("/v1/work-orders?status=cancelled", &office.token)
        .await;
    assert_eq!(cancelled["total"], 1);
    let (_, mine) = h
        .get(
            &format!("/v1/work-orders?assignee={}", tech.user),
            &office.token,
        )
        .await;
    assert_eq!(mine["total"], 3, "the cancelled one stays assigned");
    let (_, page) = h
        .get("/v1/work-orders?limit=1&offset=1", &office.token)
        .await;
    assert_eq!(page["total"], 3);
    assert_eq!(page["items"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn admins_create_accounts_and_the_office_sees_technicians() {
    let h = Harness::new().await;
    let admin = h.device("boss", Role::Admin).await;
    let office = h.device("dispatch", Role::Dispatcher).await;
    let tech = h.device("tech", Role::Technician).await;
    let new_user = json!({
        "username": "tech02", "password": "s3cret-pw", "display_name": "Bea Example",
        "role": "technician",
        "profile": {"skills": ["software"], "region": "south", "latitude": 48.1, "longitude": 11.5, "senior": true}
    });
    let (status, answer) = h
        .post("/v1/admin/users", &office.token, new_user.clone())
        .await;
    assert_error(
        status,
        &answer,
        StatusCode::FORBIDDEN,
        "forbidden",
        &["admins"],
    );
    let (status, created) = h
        .post("/v1/admin/users", &admin.token, new_user.clone())
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let (status, answer) = h.post("/v1/admin/users", &admin.token, new_user).await;
    assert_error(
        status,
        &answer,
        StatusCode::CONFLICT,
        "conflict",
        &["tech02", "taken"],
    );
    let (status, answer) = h
        .post(
            "/v1/admin/users",
            &admin.token,
            json!({"username": "x y", "password": "s3cret", "display_name": "X", "role": "dispatcher"}),
        )
        .await;
    assert_error(
        status,
        &answer,
        StatusCode::BAD_REQUEST,
        "invalid_input",
        &["username"],
    );

    let (status, list) = h.get("/v1/technicians", &office.token).await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<_> = list
        .as_array()
        .expect("a list")
        .iter()
        .map(|t| t["username"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(names, vec!["tech", "tech02"]);
    assert_eq!(list[1]["id"], created["id"]);
    assert_eq!(list[1]["senior"], true);
    assert_eq!(list[1]["skills"], json!(["software"]));
    let (status, answer) = h.get("/v1/technicians", &tech.token).await;
    assert_error(
        status,
        &answer,
        StatusCode::FORBIDDEN,
        "forbidden",
        &["technician"],
    );

    // The new account can sign in.
    let (status, _) = h
        .json(
            Method::POST,
            "/v1/login",
            None,
            Some(json!({"username": "tech02", "password": "s3cret-pw", "device_name": "tablet"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn unknown_routes_are_json_404s() {
    let h = Harness::new().await;
    let (status, body) = h.json(Method::GET, "/v2/nothing", None, None).await;
    assert_error(
        status,
        &body,
        StatusCode::NOT_FOUND,
        "not_found",
        &["/v2/nothing"],
    );
}
