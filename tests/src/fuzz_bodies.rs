//! What each fuzz target in `fuzz/` does with its input, shared with the corpus regression
//! test so that every crasher the fuzzers ever found runs in CI. Each function takes arbitrary
//! bytes and must return without panicking; wrong input is refused, never trusted.

use std::sync::{Arc, OnceLock};

use axum::body::{to_bytes, Body};
use axum::http::{header, Method, Request, StatusCode};
use fieldsync_proto::api::{LoginRequest, LoginResponse, NewUser, TechnicianProfile};
use fieldsync_proto::wire::{self, ChangeBytes, ErrorBody, SyncRequest, SyncResponse};
use fieldsync_proto::{
    Action, Actor, DeviceId, NewWorkOrder, Role, Timestamp, UserId, WorkOrderDocument, WorkOrderId,
    WorkOrderSummary,
};
use fieldsync_server::storage::{Seq, StoredDocument};
use fieldsync_server::sync::push::{plan_push, Access};
use fieldsync_server::{app, AppState, BlobLimits, FsBlobStore, SqliteStorage};
use tower::ServiceExt;

/// Protocol frames: decoding never panics, and what decodes encodes back to the same value.
pub fn wire_decode(data: &[u8]) {
    if let Ok(request) = wire::decode::<SyncRequest>(data) {
        let again: SyncRequest =
            wire::decode(&wire::encode(&request)).expect("a decoded request encodes back");
        assert_eq!(again, request);
    }
    if let Ok(response) = wire::decode::<SyncResponse>(data) {
        let again: SyncResponse =
            wire::decode(&wire::encode(&response)).expect("a decoded response encodes back");
        assert_eq!(again, response);
    }
}

struct Fixture {
    id: WorkOrderId,
    stored: StoredDocument,
    technician: Actor,
    office: Actor,
    /// A valid next change by the technician (accepting the job).
    accept: Vec<u8>,
    now: Timestamp,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let now = Timestamp(1_760_000_000_000);
        let technician = Actor {
            user: UserId::new(),
            role: Role::Technician,
            device: DeviceId::new(),
        };
        let office = Actor {
            user: UserId::new(),
            role: Role::Dispatcher,
            device: DeviceId::new(),
        };
        let id = WorkOrderId::new();
        let (mut doc, wo, _) =
            WorkOrderDocument::create(id, crate::intake(Some(technician.user)), &office, now)
                .expect("fixture work order");
        let snapshot = doc.save();
        let (_, accept) = doc
            .act(&Action::Accept, &technician, now.plus_minutes(5))
            .expect("fixture change");
        Fixture {
            id,
            stored: StoredDocument {
                id,
                snapshot,
                version: Seq(1),
                summary: WorkOrderSummary::new(&wo, now),
            },
            technician,
            office,
            accept: accept.bytes,
            now,
        }
    })
}

/// Splits `data` into chunks, each prefixed by a one-byte length.
fn chunks(data: &[u8]) -> Vec<ChangeBytes> {
    let mut out = Vec::new();
    let mut rest = data;
    while let Some((&len, tail)) = rest.split_first() {
        let len = usize::from(len).min(tail.len());
        out.push(ChangeBytes(tail[..len].to_vec()));
        rest = &tail[len..];
        if out.len() == 16 {
            break;
        }
    }
    out
}

/// The server's check of pushed changes: arbitrary bytes, a valid change with flipped bytes,
/// or a valid change followed by garbage, pushed by a technician or the office, to a stored
/// work order or a new one. Planning never panics.
pub fn push_validation(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let f = fixture();
    let changes = match mode % 3 {
        0 => chunks(rest),
        1 => {
            let mut change = f.accept.clone();
            for pair in rest.chunks_exact(3) {
                let at = usize::from(u16::from_le_bytes([pair[0], pair[1]])) % change.len();
                change[at] ^= pair[2];
            }
            vec![ChangeBytes(change)]
        }
        _ => vec![ChangeBytes(f.accept.clone()), ChangeBytes(rest.to_vec())],
    };
    let actor = if mode & 0x80 != 0 {
        &f.office
    } else {
        &f.technician
    };
    let stored = (mode & 0x40 == 0).then_some(&f.stored);
    let _ = plan_push(stored, Access::Granted, f.id, &changes, actor, f.now);
}

/// REST JSON bodies: parsed as every body type the API takes; what parses is then used as the
/// server would (a work order created, an action applied), which refuses bad values cleanly.
pub fn rest_json(data: &[u8]) {
    let f = fixture();
    if let Ok(new) = serde_json::from_slice::<NewWorkOrder>(data) {
        let _ = WorkOrderDocument::create(WorkOrderId::new(), new, &f.office, f.now);
    }
    if let Ok(action) = serde_json::from_slice::<Action>(data) {
        for actor in [&f.office, &f.technician] {
            let mut doc = WorkOrderDocument::load(&f.stored.snapshot).expect("fixture loads");
            if let Ok((wo, _)) = doc.act(&action, actor, f.now) {
                fieldsync_proto::validate(&wo)
                    .expect("an accepted action leaves a valid work order");
            }
        }
    }
    let _ = serde_json::from_slice::<LoginRequest>(data);
    let _ = serde_json::from_slice::<NewUser>(data);
}

/// The whole HTTP API (`fieldsync_server::app`) on a SQLite store in a temporary directory,
/// built once per process, with signed-in users of every role and one work order.
struct Api {
    runtime: tokio::runtime::Runtime,
    app: axum::Router,
    /// Bearer tokens: dispatcher, technician (the work order's assignee), admin.
    tokens: [String; 3],
    work_order: WorkOrderId,
    technician: UserId,
    _dir: tempfile::TempDir,
}

/// Paths the fuzzer picks from: `{wo}` is the work order, `{tech}` its technician, `{x}` a
/// path segment taken from the input.
const PATHS: &[&str] = &[
    "/v1/login",
    "/v1/work-orders",
    "/v1/work-orders/{wo}",
    "/v1/work-orders/{wo}/actions",
    "/v1/work-orders/{wo}/assign",
    "/v1/work-orders/{wo}/suggestions",
    "/v1/work-orders/{wo}/follow-up",
    "/v1/work-orders/{wo}/reviews/{x}/resolve",
    "/v1/work-orders/{x}",
    "/v1/work-orders/{x}/actions",
    "/v1/work-orders?{x}",
    "/v1/intake/preview",
    "/v1/technicians",
    "/v1/parts",
    "/v1/stock",
    "/v1/stock?{x}",
    "/v1/stock/movements",
    "/v1/stock/movements?{x}",
    "/v1/stock/safety",
    "/v1/follow-ups",
    "/v1/kpis",
    "/v1/kpis?{x}",
    "/v1/audit",
    "/v1/audit?{x}",
    "/v1/admin/users",
    "/v1/admin/devices",
    "/v1/admin/devices/{x}/revoke",
    "/v1/admin/users/{x}/password",
    "/v1/blobs/{x}",
    "/v1/blobs/{x}/upload",
    "/v1/{x}",
    "/{x}",
];

const METHODS: &[Method] = &[
    Method::POST,
    Method::GET,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
];

fn api() -> &'static Api {
    static API: OnceLock<Api> = OnceLock::new();
    API.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let dir = tempfile::TempDir::new().expect("temp dir");
        let (app, tokens, work_order, technician) = runtime.block_on(async {
            let storage = SqliteStorage::open(dir.path().join(fieldsync_server::DATABASE_FILE))
                .await
                .expect("database");
            let blobs = FsBlobStore::open(dir.path().join("blobs")).expect("blob store");
            let state = AppState::with_blobs(
                Arc::new(storage),
                Default::default(),
                Arc::new(blobs),
                BlobLimits::default(),
            );
            let app = app(state.clone());
            let mut tokens = Vec::new();
            let mut technician = None;
            for (name, role) in [
                ("dispatch", Role::Dispatcher),
                ("tech", Role::Technician),
                ("admin", Role::Admin),
            ] {
                let id = state
                    .create_user(NewUser {
                        username: name.into(),
                        password: crate::PASSWORD.into(),
                        display_name: name.into(),
                        role,
                        profile: TechnicianProfile {
                            skills: vec!["hardware".into()],
                            region: "north".into(),
                            latitude: 53.5,
                            longitude: 10.0,
                            senior: false,
                        },
                    })
                    .await
                    .expect("user");
                if role == Role::Technician {
                    technician = Some(id);
                }
                let login = LoginRequest {
                    username: name.into(),
                    password: crate::PASSWORD.into(),
                    device_name: format!("{name} fuzzing"),
                    device_id: None,
                };
                let (status, body) = call(
                    &app,
                    Method::POST,
                    fieldsync_proto::api::LOGIN_PATH,
                    None,
                    serde_json::to_vec(&login).expect("json"),
                )
                .await;
                assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
                let login: LoginResponse = serde_json::from_slice(&body).expect("login answer");
                tokens.push(login.token);
            }
            let technician = technician.expect("technician");
            let (status, body) = call(
                &app,
                Method::POST,
                "/v1/work-orders",
                Some(&tokens[0]),
                serde_json::to_vec(&crate::intake(Some(technician))).expect("json"),
            )
            .await;
            assert_eq!(
                status,
                StatusCode::CREATED,
                "{}",
                String::from_utf8_lossy(&body)
            );
            let created: serde_json::Value = serde_json::from_slice(&body).expect("created");
            let work_order: WorkOrderId =
                serde_json::from_value(created["id"].clone()).expect("work order id");
            let tokens: [String; 3] = tokens.try_into().expect("three tokens");
            (app, tokens, work_order, technician)
        });
        Api {
            runtime,
            app,
            tokens,
            work_order,
            technician,
            _dir: dir,
        }
    })
}

async fn call(
    app: &axum::Router,
    method: Method,
    uri: &str,
    token: Option<&str>,
    body: Vec<u8>,
) -> (StatusCode, Vec<u8>) {
    let (status, _, body) = send(app, method, uri, token, body)
        .await
        .expect("a valid request");
    (status, body)
}

/// Sends one request through the router; `None` when `uri` is not a valid URI (the HTTP
/// server would refuse it before the router sees it).
async fn send(
    app: &axum::Router,
    method: Method,
    uri: &str,
    token: Option<&str>,
    body: Vec<u8>,
) -> Option<(StatusCode, Option<String>, Vec<u8>)> {
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(token) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let req = req.body(Body::from(body)).ok()?;
    let response = app
        .clone()
        .oneshot(req)
        .await
        .expect("the router is infallible");
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("the whole body");
    Some((status, content_type, body.to_vec()))
}

/// The `rest_api` input that POSTs `body` to `template` (one of the fuzzed paths, e.g.
/// `/v1/work-orders/{wo}/actions`) as `who`: 0 a dispatcher, 1 the technician, 2 an admin,
/// 3 nobody signed in.
///
/// # Panics
/// When `template` is not one of the fuzzed paths.
pub fn rest_api_post(template: &str, who: u8, body: &[u8]) -> Vec<u8> {
    let path = PATHS
        .iter()
        .position(|p| *p == template)
        .unwrap_or_else(|| panic!("{template} is not a fuzzed path"));
    let mut input = vec![0, who, u8::try_from(path).expect("few paths")];
    input.extend_from_slice(body);
    input
}

/// The real HTTP handlers, driven in process: the input picks a method, a signed-in role (or
/// none), a path (some with a segment from the input) and the JSON body (the rest). Every
/// answer must be a success or a 4xx with the JSON error body; never a 5xx, never a panic.
pub fn rest_api(data: &[u8]) {
    let [method, who, path, rest @ ..] = data else {
        return;
    };
    let api = api();
    let method = METHODS[usize::from(*method) % METHODS.len()].clone();
    let token = api.tokens.get(usize::from(*who) % 4).map(String::as_str);
    let template = PATHS[usize::from(*path) % PATHS.len()];
    let (segment, body) = match rest.split_first() {
        Some((&len, tail)) if template.contains("{x}") => {
            let len = usize::from(len).min(tail.len());
            (
                String::from_utf8_lossy(&tail[..len]).into_owned(),
                &tail[len..],
            )
        }
        _ => (String::new(), rest),
    };
    let uri = template
        .replace("{wo}", &api.work_order.to_string())
        .replace("{tech}", &api.technician.to_string())
        .replace("{x}", &segment);
    let Some((status, content_type, answer)) =
        api.runtime
            .block_on(send(&api.app, method.clone(), &uri, token, body.to_vec()))
    else {
        return;
    };
    let shown = String::from_utf8_lossy(&answer);
    assert!(
        !status.is_server_error(),
        "{method} {uri} answered {status}: {shown}"
    );
    if status.is_client_error() {
        assert!(
            content_type
                .as_deref()
                .is_some_and(|t| t.starts_with("application/json")),
            "{method} {uri} answered {status} as {content_type:?}, not JSON: {shown}"
        );
        let error: ErrorBody = serde_json::from_slice(&answer).unwrap_or_else(|e| {
            panic!("{method} {uri} answered {status} without the error body ({e}): {shown}")
        });
        assert!(
            !error.error.message.trim().is_empty(),
            "{method} {uri} answered {status} with an empty message"
        );
    }
}
