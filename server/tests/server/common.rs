//! Test harness: a server on a temporary database, JSON and frame helpers, and `Device`, a
//! minimal client that keeps documents and a cursor the way a real device does.

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::{to_bytes, Body};
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use fieldsync_proto::api::{LoginResponse, NewUser, TechnicianProfile};
use fieldsync_proto::wire::{
    self, ChangeBytes, Cursor, PullLimits, PushDoc, SyncRequest, SyncResponse, UpdatePayload,
};
use fieldsync_proto::{
    Action, Actor, Asset, Contact, Customer, CustomerTier, DeviceId, Impact, IntakeChannel,
    NewWorkOrder, ProblemCategory, Role, Site, Timestamp, Urgency, UserId, WorkOrderDocument,
    WorkOrderId,
};
use fieldsync_server::{app, AppState, BlobLimits, FsBlobStore, SqliteStorage};
use serde_json::Value;
use tower::ServiceExt;

pub const PASSWORD: &str = "pass-word-1";

pub struct Harness {
    pub app: Router,
    pub state: AppState,
    pub _dir: tempfile::TempDir,
}

impl Harness {
    pub async fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let storage = SqliteStorage::open(dir.path().join("fieldsync.db"))
            .await
            .expect("open database");
        let state = AppState::new(Arc::new(storage));
        Harness {
            app: app(state.clone()),
            state,
            _dir: dir,
        }
    }

    /// With an attachment blob store in the temporary directory and these limits.
    pub async fn with_blobs(limits: BlobLimits) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let storage = SqliteStorage::open(dir.path().join("fieldsync.db"))
            .await
            .expect("open database");
        let blobs = FsBlobStore::open(dir.path().join("blobs")).expect("blob store");
        let state = AppState::with_blobs(
            Arc::new(storage),
            Default::default(),
            Arc::new(blobs),
            limits,
        );
        Harness {
            app: app(state.clone()),
            state,
            _dir: dir,
        }
    }

    pub async fn call(&self, req: Request<Body>) -> (StatusCode, Vec<u8>, Option<String>) {
        let response = self.app.clone().oneshot(req).await.expect("infallible");
        let status = response.status();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        (status, body.to_vec(), content_type)
    }

    /// Sends JSON (or nothing) and reads JSON back (or the text as a JSON string).
    pub async fn json(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let req = match body {
            Some(body) => req
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string())),
            None => req.body(Body::empty()),
        }
        .expect("request");
        let (status, bytes, _) = self.call(req).await;
        let value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        (status, value)
    }

    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.json(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.json(Method::POST, path, Some(token), Some(body)).await
    }

    pub async fn sync_bytes(
        &self,
        token: &str,
        body: Vec<u8>,
    ) -> (StatusCode, Vec<u8>, Option<String>) {
        let req = Request::builder()
            .method(Method::POST)
            .uri(wire::SYNC_PATH)
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::CONTENT_TYPE, wire::CONTENT_TYPE)
            .body(Body::from(body))
            .expect("request");
        self.call(req).await
    }

    pub async fn sync(&self, token: &str, req: &SyncRequest) -> (StatusCode, SyncResponse) {
        let (status, body, content_type) = self.sync_bytes(token, wire::encode(req)).await;
        assert_eq!(
            content_type.as_deref(),
            Some(wire::CONTENT_TYPE),
            "status {status}: {}",
            String::from_utf8_lossy(&body)
        );
        (status, wire::decode(&body).expect("a response frame"))
    }

    pub async fn add_user(&self, username: &str, role: Role) -> UserId {
        self.add_user_in(username, role, "north").await
    }

    pub async fn add_user_in(&self, username: &str, role: Role, region: &str) -> UserId {
        self.state
            .create_user(NewUser {
                username: username.into(),
                password: PASSWORD.into(),
                display_name: format!("{username} Example"),
                role,
                profile: TechnicianProfile {
                    skills: vec!["hardware".into()],
                    region: region.into(),
                    latitude: 53.5,
                    longitude: 10.0,
                    senior: false,
                },
            })
            .await
            .expect("create user")
    }

    pub async fn login(&self, username: &str) -> LoginResponse {
        let (status, body) = self
            .json(
                Method::POST,
                "/v1/login",
                None,
                Some(serde_json::json!({
                    "username": username,
                    "password": PASSWORD,
                    "device_name": format!("{username}'s tablet"),
                })),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        serde_json::from_value(body).expect("login response")
    }

    /// A user with a signed-in device.
    pub async fn device(&self, username: &str, role: Role) -> Device {
        self.add_user(username, role).await;
        let login = self.login(username).await;
        Device::new(login)
    }

    /// Creates a work order through the dispatcher API; returns its id.
    pub async fn create_work_order(&self, token: &str, assignee: Option<UserId>) -> WorkOrderId {
        let (status, body) = self
            .post(
                "/v1/work-orders",
                token,
                serde_json::to_value(intake(assignee)).expect("json"),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        serde_json::from_value(body["id"].clone()).expect("id")
    }

    /// Number of change rows stored for a document, counted through the storage trait.
    pub async fn stored_changes(&self, doc: WorkOrderId) -> usize {
        self.state
            .storage()
            .changes_after(doc, fieldsync_server::storage::Seq(0), DeviceId::new())
            .await
            .expect("changes")
            .map_or(0, |after| after.changes.len())
    }
}

pub fn intake(assignee: Option<UserId>) -> NewWorkOrder {
    NewWorkOrder {
        channel: IntakeChannel::Phone,
        customer: Customer {
            id: Default::default(),
            name: "Harbor Bakery".into(),
            tier: CustomerTier::Standard,
            site: Site {
                address: "1 Quay St".into(),
                region: "north".into(),
                latitude: 53.5,
                longitude: 10.0,
            },
            contact: Contact::default(),
        },
        asset: Asset {
            model: "Oven X200".into(),
            serial: "X200-1".into(),
        },
        category: ProblemCategory::Hardware,
        urgency: Urgency::Normal,
        impact: Impact::OneUnit,
        description: "Oven does not heat".into(),
        schedule: None,
        assignee,
    }
}

/// Asserts an `ErrorBody` answer with this status and code whose message names every word.
pub fn assert_error(
    status: StatusCode,
    body: &Value,
    want: StatusCode,
    code: &str,
    words: &[&str],
) {
    assert_eq!(status, want, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    for word in words {
        assert!(
            message.contains(word),
            "message {message:?} should contain {word:?}"
        );
    }
}

/// A device as the server sees one: a token, its documents and its cursor.
pub struct Device {
    pub token: String,
    pub id: DeviceId,
    pub user: UserId,
    pub role: Role,
    pub cursor: Cursor,
    pub docs: HashMap<WorkOrderId, WorkOrderDocument>,
    pub limits: PullLimits,
}

impl Device {
    pub fn new(login: LoginResponse) -> Self {
        Device {
            token: login.token,
            id: login.device_id,
            user: login.user.id,
            role: login.user.role,
            cursor: Cursor(0),
            docs: HashMap::new(),
            limits: PullLimits::default(),
        }
    }

    pub fn actor(&self) -> Actor {
        Actor {
            user: self.user,
            role: self.role,
            device: self.id,
        }
    }

    pub fn request(&self, push: Vec<PushDoc>) -> SyncRequest {
        SyncRequest {
            cursor: self.cursor,
            push,
            resync: Vec::new(),
            limits: self.limits,
        }
    }

    /// Applies a response the way a client does, then takes its cursor.
    pub fn apply(&mut self, response: &SyncResponse) {
        for update in &response.updates {
            match &update.payload {
                UpdatePayload::Snapshot(bytes) => match self.docs.get_mut(&update.doc) {
                    Some(doc) => doc.merge_bytes(bytes).expect("merge snapshot"),
                    None => {
                        let doc = WorkOrderDocument::load(bytes).expect("load snapshot");
                        self.docs.insert(update.doc, doc);
                    }
                },
                UpdatePayload::Changes(changes) => {
                    let doc = self
                        .docs
                        .get_mut(&update.doc)
                        .expect("changes only for documents the device has");
                    doc.apply_changes(changes).expect("changes apply");
                }
                UpdatePayload::Removed => {
                    self.docs.remove(&update.doc);
                }
            }
        }
        self.cursor = response.cursor;
    }

    pub async fn sync(&mut self, h: &Harness, push: Vec<PushDoc>) -> (StatusCode, SyncResponse) {
        let (status, response) = h.sync(&self.token, &self.request(push)).await;
        self.apply(&response);
        (status, response)
    }

    /// Pulls until nothing more waits; returns how many round trips it took.
    pub async fn pull_all(&mut self, h: &Harness) -> usize {
        let mut trips = 0;
        loop {
            let (status, response) = self.sync(h, Vec::new()).await;
            assert_eq!(status, StatusCode::OK);
            trips += 1;
            if !response.more {
                return trips;
            }
            assert!(trips < 1000, "paging does not end");
        }
    }

    /// Acts on the local copy; returns the push for it.
    pub fn act(&mut self, doc: WorkOrderId, action: Action) -> PushDoc {
        let actor = self.actor();
        let local = self
            .docs
            .get_mut(&doc)
            .expect("the device has the document");
        let (_, change) = local
            .act(&action, &actor, Timestamp::now())
            .expect("local action");
        PushDoc {
            doc,
            changes: vec![ChangeBytes(change.bytes)],
        }
    }
}
