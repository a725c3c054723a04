//! A stand-in server on a loopback port for tests of the HTTP side: login, paged sync that
//! acknowledges every push, and the technician list. It records what it received.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};

use fieldsync_proto::api::{LoginRequest, LoginResponse, TechnicianInfo, UserInfo};
use fieldsync_proto::wire::{
    self, ErrorBody, ErrorCode, PushOutcome, PushResult, SyncRequest, SyncResponse,
};
use fieldsync_proto::{Role, Timestamp, UserId};

use crate::testing::response;

#[derive(Default)]
pub(crate) struct FakeState {
    pub users: Vec<(UserInfo, String)>,
    /// Pages to answer with, in order; once empty, an empty complete page.
    pub pages: VecDeque<SyncResponse>,
    pub requests: Vec<SyncRequest>,
    pub logins: Vec<LoginRequest>,
    pub technicians: Vec<TechnicianInfo>,
    /// Answer every sync with "this device was revoked".
    pub revoked: bool,
}

pub(crate) struct FakeServer {
    pub url: String,
    pub state: Arc<Mutex<FakeState>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeServer {
    pub async fn start() -> FakeServer {
        let state = Arc::new(Mutex::new(FakeState::default()));
        let app = Router::new()
            .route("/v1/login", post(login))
            .route("/v1/sync", post(sync))
            .route("/v1/technicians", get(technicians))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeServer {
            url: format!("http://{addr}"),
            state,
            task,
        }
    }

    /// Adds a user who can log in with `password`.
    pub fn user(&self, username: &str, role: Role, password: &str) -> UserId {
        let id = UserId::new();
        self.lock().users.push((
            UserInfo {
                id,
                username: username.into(),
                display_name: username.to_uppercase(),
                role,
            },
            password.into(),
        ));
        id
    }

    pub fn lock(&self) -> std::sync::MutexGuard<'_, FakeState> {
        self.state.lock().expect("fake server state")
    }
}

type Shared = State<Arc<Mutex<FakeState>>>;

fn error(status: StatusCode, code: ErrorCode, message: &str) -> Response {
    (status, Json(ErrorBody::new(code, message))).into_response()
}

fn authorized(headers: &HeaderMap) -> bool {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("Bearer tok-"))
}

async fn login(State(state): Shared, Json(req): Json<LoginRequest>) -> Response {
    let mut state = state.lock().expect("state");
    state.logins.push(req.clone());
    let user = state
        .users
        .iter()
        .find(|(u, pw)| u.username == req.username && *pw == req.password)
        .map(|(u, _)| u.clone());
    match user {
        None => error(
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthorized,
            "wrong username or password",
        ),
        Some(user) => Json(LoginResponse {
            token: format!("tok-{}", user.username),
            expires_at: Timestamp::now().plus_minutes(60),
            device_id: req.device_id.unwrap_or_default(),
            user,
        })
        .into_response(),
    }
}

async fn sync(State(state): Shared, headers: HeaderMap, body: Bytes) -> Response {
    if !authorized(&headers) {
        return error(
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthorized,
            "the session has expired",
        );
    }
    let request: SyncRequest = match wire::decode(&body) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.code(), &e.to_string()),
    };
    let mut state = state.lock().expect("state");
    if state.revoked {
        return error(
            StatusCode::UNAUTHORIZED,
            ErrorCode::DeviceRevoked,
            "this device was revoked by an administrator",
        );
    }
    let mut page = state
        .pages
        .pop_front()
        .unwrap_or_else(|| response(request.cursor.0, Vec::new()));
    page.results = request
        .push
        .iter()
        .map(|p| PushResult {
            doc: p.doc,
            outcome: PushOutcome::Accepted {
                new_changes: u32::try_from(p.changes.len()).unwrap_or(u32::MAX),
            },
        })
        .collect();
    state.requests.push(request);
    (
        StatusCode::OK,
        [("content-type", wire::CONTENT_TYPE)],
        wire::encode(&page),
    )
        .into_response()
}

async fn technicians(State(state): Shared, headers: HeaderMap) -> Response {
    if !authorized(&headers) {
        return error(
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthorized,
            "no token",
        );
    }
    let list = state.lock().expect("state").technicians.clone();
    Json(list).into_response()
}
