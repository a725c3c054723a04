//! The OpenAPI document at `/api/openapi.json`: valid OpenAPI 3 JSON, naming exactly the routes
//! the router serves, with schemas that real answers (on demo data) and real errors fit.

use std::collections::BTreeSet;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use axum::Router;
use fieldsync_server::{demo, openapi_document, OPENAPI_PATH};
use serde_json::{json, Value};

use crate::common::{intake, Harness};
use crate::schema_check::Checker;

/// Methods an API route may have; HEAD and OPTIONS are left to axum.
const METHODS: [Method; 5] = [
    Method::GET,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
];

/// Routes served on purpose without being in the document: the console's static files.
const UNDOCUMENTED: [&str; 2] = ["/", "/console/{*file}"];

async fn served_document(h: &Harness) -> Value {
    let req = Request::get(OPENAPI_PATH)
        .body(Body::empty())
        .expect("request");
    let (status, body, content_type) = h.call(req).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type.as_deref(), Some("application/json"));
    serde_json::from_slice(&body).expect("the document is JSON")
}

/// (method, path) of every operation in the document.
fn documented(doc: &Value) -> BTreeSet<(Method, String)> {
    let paths = doc["paths"].as_object().expect("paths");
    let mut found = BTreeSet::new();
    for (path, item) in paths {
        for method in METHODS {
            if item.get(method.as_str().to_ascii_lowercase()).is_some() {
                found.insert((method, path.clone()));
            }
        }
    }
    found
}

/// The paths the router itself holds, read from its debug form (axum has no route listing).
/// Should that form change, this finds no paths and the tests below fail rather than pass.
fn router_paths(app: &Router) -> BTreeSet<String> {
    let text = format!("{app:?}");
    let start = text
        .find("path_router")
        .expect("the router shows its path router");
    let end = text.find("fallback_router").unwrap_or(text.len());
    text[start..end]
        .split('"')
        .skip(1)
        .step_by(2)
        .filter(|s| s.starts_with('/'))
        .map(str::to_owned)
        .collect()
}

/// A concrete path for a templated one: each `{param}` becomes a fresh UUID.
fn concrete(path: &str) -> String {
    path.split('/')
        .map(|part| {
            if part.starts_with('{') {
                uuid::Uuid::now_v7().to_string()
            } else {
                part.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Whether the router itself turns the request away (405, or its fallback's 404) rather than
/// a handler answering it, whatever that answer is.
async fn router_refuses(h: &Harness, method: &Method, path: &str) -> bool {
    let req = Request::builder()
        .method(method.clone())
        .uri(path)
        .body(Body::empty())
        .expect("request");
    let (status, body, _) = h.call(req).await;
    let message = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
        .unwrap_or_default();
    status == StatusCode::METHOD_NOT_ALLOWED
        || (status == StatusCode::NOT_FOUND
            && message.starts_with(&format!("there is no {method} ")))
}

/// Every `$ref` in `value`.
fn collect_references(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                match (key.as_str(), v) {
                    ("$ref", Value::String(r)) => found.push(r.clone()),
                    _ => collect_references(v, found),
                }
            }
        }
        Value::Array(list) => list.iter().for_each(|v| collect_references(v, found)),
        _ => {}
    }
}

#[tokio::test]
async fn the_document_is_openapi_3_json_and_what_the_code_generates() {
    let h = Harness::new().await;
    let doc = served_document(&h).await;
    let version = doc["openapi"].as_str().expect("openapi version");
    assert!(version.starts_with("3."), "{version}");
    assert!(doc["info"]["title"].as_str().is_some_and(|t| !t.is_empty()));
    assert_eq!(
        doc,
        serde_json::to_value(openapi_document()).expect("json"),
        "the served document is the generated one"
    );
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["bearer_token"]["type"], "http");
    assert_eq!(schemes["bearer_token"]["scheme"], "bearer");

    let checker = Checker::new(&doc);
    let mut references = Vec::new();
    collect_references(&doc, &mut references);
    assert!(references.len() > 100, "{}", references.len());
    for reference in &references {
        checker.resolve(reference);
    }
    let error_ref = "#/components/schemas/ErrorBody";
    let error_schema = checker.resolve(error_ref);
    let detail = checker.resolve(
        error_schema["properties"]["error"]["$ref"]
            .as_str()
            .expect("error is a reference"),
    );
    for name in ["code", "message"] {
        assert!(
            detail["required"]
                .as_array()
                .is_some_and(|r| r.contains(&json!(name))),
            "{detail}"
        );
    }
    assert!(detail["properties"].get("field").is_some(), "{detail}");

    let operations = documented(&doc);
    assert!(operations.len() >= 30, "{operations:?}");
    let mut operation_ids = BTreeSet::new();
    for (method, path) in &operations {
        let op = &doc["paths"][path][method.as_str().to_ascii_lowercase()];
        let what = format!("{method} {path}");
        let id = op["operationId"].as_str().expect("operationId");
        assert!(
            operation_ids.insert(id),
            "{what}: operationId {id} is used twice"
        );
        assert!(
            op["tags"].as_array().is_some_and(|t| !t.is_empty()),
            "{what} has no tag"
        );
        let summary = op["summary"].as_str().unwrap_or_default();
        assert!(
            !summary.is_empty() && !summary.contains('\n'),
            "{what} needs a one-line summary: {summary:?}"
        );
        if let Some(security) = op["security"].as_array() {
            for requirement in security {
                for name in requirement.as_object().expect("requirement").keys() {
                    assert!(schemes.get(name).is_some(), "{what}: unknown scheme {name}");
                }
            }
        }
        for parameter in op["parameters"].as_array().into_iter().flatten() {
            if parameter["in"] == "path" {
                let name = parameter["name"].as_str().expect("name");
                assert!(path.contains(&format!("{{{name}}}")), "{what}: {name}");
            }
        }
        for (param, _) in path.match_indices('{') {
            let name = path[param + 1..].split('}').next().expect("closed");
            assert!(
                op["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|p| p["in"] == "path" && p["name"] == name),
                "{what}: path parameter {name} is not described"
            );
        }
        let responses = op["responses"].as_object().expect("responses");
        assert!(
            responses.keys().any(|s| s.starts_with('2') || s == "101"),
            "{what} has no success answer"
        );
        for status in ["500", "503"] {
            assert!(responses.contains_key(status), "{what} lacks {status}");
        }
        if op.get("security").is_some() {
            assert!(responses.contains_key("401"), "{what} lacks 401");
        }
        for (status, response) in responses {
            if status.as_str() < "400" {
                continue;
            }
            // Errors are the JSON error body; a sync round that refused some change still
            // answers a protocol frame (422), which says so per change.
            let content = response["content"].as_object().expect("error content");
            match content.get("application/json") {
                Some(json) => assert_eq!(json["schema"]["$ref"], error_ref, "{what} {status}"),
                None => assert!(
                    path == "/v1/sync" && status == "422",
                    "{what} {status} does not answer the error body: {content:?}"
                ),
            }
        }
    }
}

#[tokio::test]
async fn the_router_serves_exactly_the_documented_routes() {
    let h = Harness::new().await;
    let doc = served_document(&h).await;
    let operations = documented(&doc);
    let doc_paths: BTreeSet<String> = operations.iter().map(|(_, p)| p.clone()).collect();
    let served_paths = router_paths(&h.app);
    let undocumented: BTreeSet<String> = served_paths.difference(&doc_paths).cloned().collect();
    assert_eq!(
        undocumented,
        UNDOCUMENTED.iter().map(|p| p.to_string()).collect(),
        "paths the router serves that the document does not name (or the reverse below)"
    );
    let missing: Vec<_> = doc_paths.difference(&served_paths).collect();
    assert!(missing.is_empty(), "documented but not routed: {missing:?}");

    // Which methods each path answers, asked of the router itself.
    let mut wrong = Vec::new();
    for path in &doc_paths {
        let url = concrete(path);
        for method in &METHODS {
            let served = !router_refuses(&h, method, &url).await;
            let listed = operations.contains(&(method.clone(), path.clone()));
            if served != listed {
                wrong.push(format!(
                    "{method} {path}: served {served}, documented {listed}"
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
    // The probe can tell: an unknown path and a wrong method are turned away.
    assert!(router_refuses(&h, &Method::GET, "/v1/no-such-thing").await);
    assert!(router_refuses(&h, &Method::DELETE, "/v1/stock").await);
    assert!(!router_refuses(&h, &Method::GET, "/v1/stock").await);
}

/// Signs in as the demo admin (who may call every office endpoint).
async fn admin_token(h: &Harness) -> String {
    let (status, body) = h
        .json(
            Method::POST,
            "/v1/login",
            None,
            Some(json!({
                "username": "admin", "password": demo::DEMO_PASSWORD, "device_name": "openapi test"
            })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["token"].as_str().expect("token").to_owned()
}

/// The JSON schema the document gives for `status` of `method path`.
fn answer_schema<'a>(doc: &'a Value, method: &Method, path: &str, status: &str) -> &'a Value {
    let schema = &doc["paths"][path][method.as_str().to_ascii_lowercase()]["responses"][status]
        ["content"]["application/json"]["schema"];
    assert!(
        !schema.is_null(),
        "{method} {path} {status} has no JSON schema"
    );
    schema
}

#[tokio::test]
async fn real_answers_on_demo_data_fit_their_schemas() {
    let h = Harness::new().await;
    demo::seed(&h.state, demo::DEMO_PASSWORD)
        .await
        .expect("seed");
    let token = admin_token(&h).await;
    let doc = served_document(&h).await;
    let checker = Checker::new(&doc);

    // One work order in each status, so that optional parts (completion, follow-up) show up.
    let (status, page) = h.get("/v1/work-orders?limit=500", &token).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let mut seen = BTreeSet::new();
    let ids: Vec<String> = page["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|row| seen.insert(row["status"].as_str().unwrap_or_default().to_owned()))
        .map(|row| row["id"].as_str().expect("id").to_owned())
        .collect();
    assert!(ids.len() >= 8, "{seen:?}");

    let detail_schema = answer_schema(&doc, &Method::GET, "/v1/work-orders/{id}", "200");
    for id in &ids {
        let (status, body) = h.get(&format!("/v1/work-orders/{id}"), &token).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let errors = checker.errors(detail_schema, &body);
        assert!(errors.is_empty(), "work order {id}: {errors:#?}");
    }

    // The checker does catch a body that lacks what the schema requires.
    let (_, mut body) = h.get(&format!("/v1/work-orders/{}", ids[0]), &token).await;
    body.as_object_mut().expect("object").remove("timeline");
    body["priority"] = json!("P9");
    let errors = checker.errors(detail_schema, &body);
    assert!(errors.iter().any(|e| e.contains("timeline")), "{errors:?}");
    assert!(errors.iter().any(|e| e.contains("P9")), "{errors:?}");

    // Every other JSON answer of a GET, with the work order ids filled in.
    let mut checked = 0;
    for (method, path) in documented(&doc) {
        let op = &doc["paths"][&path][method.as_str().to_ascii_lowercase()];
        let schema = &op["responses"]["200"]["content"]["application/json"]["schema"];
        if method != Method::GET || schema.is_null() || path == OPENAPI_PATH {
            continue;
        }
        let url = path.replace("{id}", &ids[0]);
        let (status, body) = h.get(&url, &token).await;
        assert_eq!(status, StatusCode::OK, "GET {url}: {body}");
        let errors = checker.errors(schema, &body);
        assert!(errors.is_empty(), "GET {url}: {errors:#?}");
        checked += 1;
    }
    assert!(checked >= 11, "only {checked} answers were checked");

    // Bodies the server accepts fit the request schemas, and its answers the answer schemas.
    let new = serde_json::to_value(intake(None)).expect("json");
    let errors = checker.errors(request_schema(&doc, "/v1/work-orders"), &new);
    assert!(errors.is_empty(), "{errors:#?}");
    let (status, body) = h.post("/v1/work-orders", &token, new).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let errors = checker.errors(
        answer_schema(&doc, &Method::POST, "/v1/work-orders", "201"),
        &body,
    );
    assert!(errors.is_empty(), "{errors:#?}");

    let action = json!({"action": "cancel", "reason": "the customer fixed it"});
    let errors = checker.errors(
        request_schema(&doc, "/v1/work-orders/{id}/actions"),
        &action,
    );
    assert!(errors.is_empty(), "{errors:#?}");
    let created = body["id"].as_str().expect("id");
    let (status, body) = h
        .post(
            &format!("/v1/work-orders/{created}/actions"),
            &token,
            action,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let schema = answer_schema(&doc, &Method::POST, "/v1/work-orders/{id}/actions", "200");
    assert!(checker.errors(schema, &body).is_empty(), "{body}");
    let unknown = json!({"action": "teleport"});
    let errors = checker.errors(
        request_schema(&doc, "/v1/work-orders/{id}/actions"),
        &unknown,
    );
    assert!(!errors.is_empty(), "an unknown action fits the schema");
}

/// The JSON request body schema of `POST path`.
fn request_schema<'a>(doc: &'a Value, path: &str) -> &'a Value {
    let schema =
        &doc["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"];
    assert!(!schema.is_null(), "POST {path} has no JSON request schema");
    schema
}

#[tokio::test]
async fn real_errors_fit_the_error_schema() {
    let h = Harness::new().await;
    demo::seed(&h.state, demo::DEMO_PASSWORD)
        .await
        .expect("seed");
    let token = admin_token(&h).await;
    let doc = served_document(&h).await;
    let checker = Checker::new(&doc);

    let mut bad = serde_json::to_value(intake(None)).expect("json");
    bad["urgency"] = json!("whenever");
    let (status, body) = h.post("/v1/work-orders", &token, bad).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["field"], "urgency", "{body}");
    let schema = answer_schema(&doc, &Method::POST, "/v1/work-orders", "400");
    let errors = checker.errors(schema, &body);
    assert!(errors.is_empty(), "{errors:#?}");

    let (status, body) = h.get("/v1/work-orders?limit=0", &token).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["field"], "limit", "{body}");
    let schema = answer_schema(&doc, &Method::GET, "/v1/work-orders", "400");
    assert!(checker.errors(schema, &body).is_empty(), "{body}");

    let path = format!("/v1/work-orders/{}", uuid::Uuid::now_v7());
    let (status, body) = h.get(&path, &token).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let schema = answer_schema(&doc, &Method::GET, "/v1/work-orders/{id}", "404");
    assert!(checker.errors(schema, &body).is_empty(), "{body}");

    let (status, body) = h.get("/v1/stock", "not-a-token").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let schema = answer_schema(&doc, &Method::GET, "/v1/stock", "401");
    assert!(checker.errors(schema, &body).is_empty(), "{body}");

    // An error body without its code does not fit.
    let errors = checker.errors(schema, &json!({"error": {"message": "x"}}));
    assert!(errors.iter().any(|e| e.contains("code")), "{errors:?}");
}
