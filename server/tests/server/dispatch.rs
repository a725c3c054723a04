//! The dispatcher's planning API: intake preview, the board's filters and SLA states, and
//! dispatch suggestions, each with its invalid input.

use axum::http::StatusCode;
use fieldsync_proto::api::{NewUser, TechnicianProfile};
use fieldsync_proto::{CustomerTier, Impact, Role, Urgency, UserId};
use serde_json::{json, Value};

use crate::common::{assert_error, intake, Harness, PASSWORD};

async fn technician(
    h: &Harness,
    name: &str,
    skills: &[&str],
    km_north: f64,
    senior: bool,
) -> UserId {
    h.state
        .create_user(NewUser {
            username: name.into(),
            password: PASSWORD.into(),
            display_name: format!("{name} Example"),
            role: Role::Technician,
            profile: TechnicianProfile {
                skills: skills.iter().map(|s| (*s).to_owned()).collect(),
                region: "north".into(),
                // One degree of latitude is about 111.2 km.
                latitude: 53.5 + km_north / 111.195,
                longitude: 10.0,
                senior,
            },
        })
        .await
        .expect("create technician")
}

fn assert_field(status: StatusCode, body: &Value, field: &str) {
    assert_error(
        status,
        body,
        StatusCode::BAD_REQUEST,
        "invalid_input",
        &[field],
    );
    assert_eq!(body["error"]["field"], field, "{body}");
}

#[tokio::test]
async fn intake_preview_computes_priority_and_targets_and_stores_nothing() {
    let h = Harness::new().await;
    let office = h.device("disp", Role::Dispatcher).await;
    let mut new = intake(None);
    new.customer.tier = CustomerTier::Vip;
    new.urgency = Urgency::Emergency;
    new.impact = Impact::OneUnit;
    let (status, preview) = h
        .post(
            "/v1/intake/preview",
            &office.token,
            serde_json::to_value(&new).expect("json"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    assert_eq!(preview["priority"], "P1");
    assert_eq!(preview["response_target_minutes"], 30);
    assert_eq!(preview["resolution_target_minutes"], 240);
    let response_due = preview["response_due"].as_i64().expect("millis");
    let resolution_due = preview["resolution_due"].as_i64().expect("millis");
    assert_eq!(resolution_due - response_due, 210 * 60_000);
    let reasons: Vec<&str> = preview["reasons"]
        .as_array()
        .expect("reasons")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        reasons.contains(&"VIP customer: raised one level from P2 to P1"),
        "{reasons:?}"
    );
    let (_, list) = h.get("/v1/work-orders", &office.token).await;
    assert_eq!(list["total"], 0, "a preview saves nothing");

    // Bad input names the field, as creating would.
    let mut body = serde_json::to_value(&new).expect("json");
    body["customer"]["name"] = json!("  ");
    let (status, answer) = h.post("/v1/intake/preview", &office.token, body).await;
    assert_field(status, &answer, "customer.name");
    let mut body = serde_json::to_value(&new).expect("json");
    body["urgency"] = json!("whenever");
    let (status, answer) = h.post("/v1/intake/preview", &office.token, body).await;
    assert_field(status, &answer, "urgency");
    let mut body = serde_json::to_value(&new).expect("json");
    body["customer"]["site"]["latitude"] = json!("north");
    let (status, answer) = h.post("/v1/intake/preview", &office.token, body).await;
    assert_field(status, &answer, "customer.site.latitude");
    let mut body = serde_json::to_value(&new).expect("json");
    body["assignee"] = json!(office.user);
    let (status, answer) = h.post("/v1/intake/preview", &office.token, body).await;
    assert_field(status, &answer, "assignee");

    let tech = h.device("tech", Role::Technician).await;
    let (status, answer) = h
        .post(
            "/v1/intake/preview",
            &tech.token,
            serde_json::to_value(&new).expect("json"),
        )
        .await;
    assert_error(
        status,
        &answer,
        StatusCode::FORBIDDEN,
        "forbidden",
        &["previewing"],
    );
}

#[tokio::test]
async fn creating_names_the_invalid_field() {
    let h = Harness::new().await;
    let office = h.device("disp", Role::Dispatcher).await;
    let mut body = serde_json::to_value(intake(None)).expect("json");
    body["description"] = json!("");
    let (status, answer) = h.post("/v1/work-orders", &office.token, body).await;
    assert_field(status, &answer, "description");
    let (status, answer) = h.get("/v1/work-orders/not-an-id", &office.token).await;
    assert_field(status, &answer, "id");
}

#[tokio::test]
async fn board_filters_and_sla_states() {
    let h = Harness::new().await;
    let office = h.device("disp", Role::Dispatcher).await;
    let ann = technician(&h, "ann", &["hardware"], 0.0, false).await;
    let mut vip = intake(Some(ann));
    vip.customer.tier = CustomerTier::Vip;
    vip.customer.site.region = "South".into();
    vip.urgency = Urgency::Emergency;
    let (status, created) = h
        .post(
            "/v1/work-orders",
            &office.token,
            serde_json::to_value(&vip).expect("json"),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let vip_id = created["id"].clone();
    h.create_work_order(&office.token, None).await;
    h.create_work_order(&office.token, None).await;

    let (status, all) = h.get("/v1/work-orders", &office.token).await;
    assert_eq!(status, StatusCode::OK, "{all}");
    assert_eq!(all["total"], 3);
    for row in all["items"].as_array().expect("items") {
        assert_eq!(row["sla"]["state"], "ok", "{row}");
        let remaining = row["sla"]["remaining_seconds"].as_i64().expect("seconds");
        let response_minutes = if row["tier"] == "vip" { 30 } else { 480 };
        assert!(
            remaining > 0 && remaining <= response_minutes * 60,
            "the response clock is the nearest: {row}"
        );
        assert_eq!(row["sla"]["response_due"], row["response_due"]);
    }
    let ids = |page: &Value| -> Vec<Value> {
        page["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|r| r["id"].clone())
            .collect()
    };
    for query in [
        "tier=vip".to_owned(),
        "region=south".to_owned(),
        "priority=P1,P2".to_owned(),
        format!("technician={ann}"),
        format!("technician={ann}&status=assigned&tier=vip,standard&region=SOUTH"),
    ] {
        let (status, page) = h
            .get(&format!("/v1/work-orders?{query}"), &office.token)
            .await;
        assert_eq!(status, StatusCode::OK, "{query}: {page}");
        assert_eq!(ids(&page), vec![vip_id.clone()], "{query}");
        assert_eq!(page["total"], 1, "{query}");
    }
    let (_, standard) = h
        .get("/v1/work-orders?tier=standard&priority=p3", &office.token)
        .await;
    assert_eq!(standard["total"], 2, "{standard}");
    let (_, nobody) = h.get("/v1/work-orders?tier=basic", &office.token).await;
    assert_eq!(nobody["total"], 0);

    for (query, field) in [
        ("priority=P0", "priority"),
        ("tier=gold", "tier"),
        ("technician=ann", "technician"),
        ("limit=0", "limit"),
    ] {
        let (status, answer) = h
            .get(&format!("/v1/work-orders?{query}"), &office.token)
            .await;
        assert_field(status, &answer, field);
    }
}

#[tokio::test]
async fn suggestions_rank_by_skill_distance_load_and_seniority() {
    let h = Harness::new().await;
    let office = h.device("disp", Role::Dispatcher).await;
    let near = technician(&h, "near", &["hardware"], 1.0, false).await;
    let far = technician(&h, "far", &["hardware"], 40.0, false).await;
    let senior = technician(&h, "senior", &["hardware"], 20.0, true).await;
    let nearest = technician(&h, "nearest", &["software"], 0.0, true).await;
    // `near` already has two open jobs; a completed one would not count.
    h.create_work_order(&office.token, Some(near)).await;
    h.create_work_order(&office.token, Some(near)).await;

    let job = h.create_work_order(&office.token, None).await;
    let (status, answer) = h
        .get(&format!("/v1/work-orders/{job}/suggestions"), &office.token)
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let list = answer["suggestions"].as_array().expect("suggestions");
    let names: Vec<&str> = list.iter().filter_map(|s| s["name"].as_str()).collect();
    // P3 standard job: 6 points per open job, 0.25 per km; no seniority bonus.
    assert_eq!(
        names,
        [
            "senior Example",
            "far Example",
            "near Example",
            "nearest Example"
        ],
        "{answer}"
    );
    let by_name = |name: &str| {
        list.iter()
            .find(|s| s["name"] == format!("{name} Example"))
            .expect("listed")
    };
    assert_eq!(by_name("near")["open_jobs"], 2);
    assert_eq!(by_name("near")["technician_id"], json!(near));
    assert_eq!(by_name("far")["open_jobs"], 0);
    assert_eq!(by_name("far")["technician_id"], json!(far));
    assert_eq!(by_name("senior")["technician_id"], json!(senior));
    assert_eq!(by_name("senior")["rank"], 1);
    assert_eq!(by_name("senior")["senior"], true);
    assert_eq!(by_name("nearest")["skill_match"], false);
    assert_eq!(by_name("nearest")["technician_id"], json!(nearest));
    let distance = by_name("far")["distance_km"].as_f64().expect("km");
    assert!((distance - 40.0).abs() < 0.2, "{distance}");
    let reasons = by_name("near")["reasons"].as_array().expect("reasons");
    assert!(reasons.contains(&json!("2 open jobs")), "{reasons:?}");
    assert!(
        reasons.contains(&json!("has the hardware skill")),
        "{reasons:?}"
    );

    // The load follows assignment: giving this job to `far` counts against them next time.
    let (status, _) = h
        .post(
            &format!("/v1/work-orders/{job}/assign"),
            &office.token,
            json!({"technician": far}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, answer) = h
        .get(
            &format!("/v1/work-orders/{job}/suggestions?limit=3"),
            &office.token,
        )
        .await;
    let list = answer["suggestions"].as_array().expect("suggestions");
    assert_eq!(list.len(), 3, "{answer}");
    let far_row = list.iter().find(|s| s["technician_id"] == json!(far));
    assert_eq!(
        far_row.map(|s| s["open_jobs"].clone()),
        Some(json!(1)),
        "{answer}"
    );

    // Bad input and unknown ids.
    let (status, answer) = h
        .get(
            &format!("/v1/work-orders/{job}/suggestions?limit=500"),
            &office.token,
        )
        .await;
    assert_field(status, &answer, "limit");
    let (status, answer) = h
        .get("/v1/work-orders/nope/suggestions", &office.token)
        .await;
    assert_field(status, &answer, "id");
    let unknown = fieldsync_proto::WorkOrderId::new();
    let (status, answer) = h
        .get(
            &format!("/v1/work-orders/{unknown}/suggestions"),
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
    // A technician gets no suggestions, and learns nothing of other jobs.
    let tech = h.login("far").await;
    let (status, answer) = h
        .get(&format!("/v1/work-orders/{job}/suggestions"), &tech.token)
        .await;
    assert_error(
        status,
        &answer,
        StatusCode::FORBIDDEN,
        "forbidden",
        &["suggestions"],
    );
    let other = h.create_work_order(&office.token, None).await;
    let (status, _) = h
        .get(&format!("/v1/work-orders/{other}/suggestions"), &tech.token)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
