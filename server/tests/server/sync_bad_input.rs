//! Bad input to the sync endpoint: each is refused with a code and a message naming the work
//! order and rule, stores nothing, leaves other documents of the same push alone, and the
//! server keeps answering.

use automerge::{transaction::Transactable, AutoCommit, ReadDoc, ROOT};
use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use fieldsync_proto::wire::{
    self, ChangeBytes, ErrorCode, PullLimits, PushDoc, PushOutcome, SyncRequest,
};
use fieldsync_proto::{
    actor_for, human_number, Action, NewPartUsage, Role, WorkOrderDocument, WorkOrderId,
};
use serde_json::Value;

use crate::common::{assert_error, Device, Harness};

struct Setup {
    h: Harness,
    office: Device,
    tech: Device,
    /// Assigned to `tech`, who has it.
    wo: WorkOrderId,
    /// Also assigned to `tech`, for "the other document in the same push".
    other: WorkOrderId,
}

async fn setup() -> Setup {
    let h = Harness::new().await;
    let office = h.device("dispatch", Role::Dispatcher).await;
    let mut tech = h.device("tech", Role::Technician).await;
    let wo = h.create_work_order(&office.token, Some(tech.user)).await;
    let other = h.create_work_order(&office.token, Some(tech.user)).await;
    tech.pull_all(&h).await;
    assert_eq!(tech.docs.len(), 2);
    Setup {
        h,
        office,
        tech,
        wo,
        other,
    }
}

fn json(body: &[u8]) -> Value {
    serde_json::from_slice(body).expect("a JSON error body")
}

impl Setup {
    /// What is stored of the work order, to compare before and after.
    async fn stored(&self, id: WorkOrderId) -> Option<(u64, usize)> {
        let doc = self
            .h
            .state
            .storage()
            .load_document(id)
            .await
            .expect("load")?;
        Some((doc.version.0, self.h.stored_changes(id).await))
    }

    async fn still_answers(&mut self) {
        let (status, _) = self.tech.sync(&self.h, Vec::new()).await;
        assert_eq!(status, StatusCode::OK, "the server keeps answering");
    }

    /// Sends a frame that must be refused as a whole.
    async fn refused_frame(&mut self, body: Vec<u8>, want: StatusCode, code: &str, words: &[&str]) {
        let before = self.stored(self.wo).await;
        let (status, body, _) = self.h.sync_bytes(&self.tech.token, body).await;
        assert_error(status, &json(&body), want, code, words);
        assert_eq!(self.stored(self.wo).await, before, "nothing stored");
        self.still_answers().await;
    }

    /// A valid push of the other document, to send alongside a bad one.
    fn good_push(&mut self) -> PushDoc {
        let text = format!("note {}", WorkOrderId::new());
        self.tech.act(self.other, Action::EditNotes { text })
    }

    /// Pushes `bad` and a good document together; checks the bad one was rejected with
    /// `code` and a message with the work order number and `words`, and the good one stored.
    async fn rejected(&mut self, bad: PushDoc, code: ErrorCode, words: &[&str]) {
        let bad_doc = bad.doc;
        let before = self.stored(bad_doc).await;
        let other_before = self.h.stored_changes(self.other).await;
        let good = self.good_push();
        let (status, response) = self
            .h
            .sync(&self.tech.token, &self.tech.request(vec![bad, good]))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(response.results.len(), 2);
        match &response.results[0].outcome {
            PushOutcome::Rejected(r) => {
                assert_eq!(r.code, code, "{}", r.message);
                assert_eq!(r.accepted, 0);
                let number = human_number(&bad_doc);
                assert!(
                    r.message.contains(&number),
                    "{} should name {number}",
                    r.message
                );
                for word in words {
                    assert!(
                        r.message.contains(word),
                        "{} should contain {word:?}",
                        r.message
                    );
                }
            }
            other => panic!("expected a rejection, got {other:?}"),
        }
        assert_eq!(
            response.results[1].outcome,
            PushOutcome::Accepted { new_changes: 1 },
            "the other document of the push is stored"
        );
        assert_eq!(self.h.stored_changes(self.other).await, other_before + 1);
        assert_eq!(
            self.stored(bad_doc).await,
            before,
            "nothing of the bad document stored"
        );
        self.still_answers().await;
    }

    /// A change made with raw Automerge on the device's copy of `wo`.
    fn raw_change(&mut self, edit: impl FnOnce(&mut AutoCommit)) -> PushDoc {
        self.raw_change_of(self.wo, edit)
    }

    fn raw_change_of(&mut self, id: WorkOrderId, edit: impl FnOnce(&mut AutoCommit)) -> PushDoc {
        let saved = self.tech.docs.get_mut(&id).expect("has it").save();
        let mut doc = AutoCommit::load(&saved)
            .expect("load")
            .with_actor(actor_for(self.tech.id));
        edit(&mut doc);
        let hash = doc.commit().expect("a change");
        let bytes = doc
            .get_change_by_hash(&hash)
            .expect("the change")
            .raw_bytes()
            .to_vec();
        PushDoc {
            doc: id,
            changes: vec![ChangeBytes(bytes)],
        }
    }
}

fn request() -> SyncRequest {
    SyncRequest {
        cursor: Default::default(),
        push: Vec::new(),
        resync: Vec::new(),
        limits: PullLimits::default(),
    }
}

#[tokio::test]
async fn truncated_frames_are_malformed() {
    let mut s = setup().await;
    let push = s.tech.act(s.wo, Action::Accept);
    let frame = wire::encode(&s.tech.request(vec![push]));
    s.refused_frame(
        frame[..3].to_vec(),
        StatusCode::BAD_REQUEST,
        "malformed_frame",
        &["3 bytes", "header"],
    )
    .await;
    s.refused_frame(
        frame[..frame.len() - 5].to_vec(),
        StatusCode::BAD_REQUEST,
        "malformed_frame",
        &["could not be decoded"],
    )
    .await;
    s.refused_frame(
        Vec::new(),
        StatusCode::BAD_REQUEST,
        "malformed_frame",
        &["0 bytes"],
    )
    .await;
}

#[tokio::test]
async fn garbage_is_malformed() {
    let mut s = setup().await;
    s.refused_frame(
        b"GET / HTTP/1.1 and other garbage".to_vec(),
        StatusCode::BAD_REQUEST,
        "malformed_frame",
        &["frame marker"],
    )
    .await;
    let mut frame = wire::encode(&request());
    frame.extend_from_slice(b"trailing");
    s.refused_frame(
        frame,
        StatusCode::BAD_REQUEST,
        "malformed_frame",
        &["8 unexpected bytes"],
    )
    .await;
}

#[tokio::test]
async fn unknown_protocol_versions_are_named() {
    let mut s = setup().await;
    let mut frame = wire::encode(&request());
    frame[4] = 9;
    s.refused_frame(
        frame,
        StatusCode::BAD_REQUEST,
        "unsupported_version",
        &["protocol version 9", "version 1"],
    )
    .await;
}

#[tokio::test]
async fn oversized_bodies_are_too_large() {
    let mut s = setup().await;
    let big = vec![0u8; wire::MAX_FRAME_BYTES + 1];
    // Announced in advance, and streamed without a length: both are stopped.
    for announce in [true, false] {
        let mut req = Request::builder()
            .method(Method::POST)
            .uri(wire::SYNC_PATH)
            .header(header::AUTHORIZATION, format!("Bearer {}", s.tech.token));
        if announce {
            req = req.header(header::CONTENT_LENGTH, big.len());
        }
        let (status, body, _) =
            s.h.call(req.body(Body::from(big.clone())).expect("req"))
                .await;
        assert_error(
            status,
            &json(&body),
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            &[&wire::MAX_FRAME_BYTES.to_string()],
        );
    }
    s.still_answers().await;
}

#[tokio::test]
async fn undecodable_changes_are_rejected() {
    let mut s = setup().await;
    let bad = PushDoc {
        doc: s.wo,
        changes: vec![ChangeBytes(
            b"\x85\x6f\x4a\x83 definitely not a change".to_vec(),
        )],
    };
    s.rejected(
        bad,
        ErrorCode::ChangeUndecodable,
        &["change 0 could not be decoded"],
    )
    .await;
}

#[tokio::test]
async fn changes_with_missing_dependencies_are_rejected() {
    let mut s = setup().await;
    let _accept = s.tech.act(s.wo, Action::Accept);
    let travel = s.tech.act(s.wo, Action::StartTravel);
    s.rejected(
        travel,
        ErrorCode::MissingDependencies,
        &["missing", "upload the earlier changes"],
    )
    .await;
}

#[tokio::test]
async fn a_negative_part_quantity_is_rejected() {
    let mut s = setup().await;
    let mut steps = Vec::new();
    for action in [
        Action::Accept,
        Action::StartTravel,
        Action::Arrive,
        Action::StartWork,
    ] {
        steps.extend(s.tech.act(s.wo, action).changes);
    }
    let usage = Action::RecordPartUsage(NewPartUsage {
        part_number: "HEAT-2000".into(),
        quantity: 2,
        source_location: "VAN-01".into(),
        serial: None,
        refurbished: false,
    });
    steps.extend(s.tech.act(s.wo, usage).changes);
    let (status, response) =
        s.h.sync(
            &s.tech.token,
            &s.tech.request(vec![PushDoc {
                doc: s.wo,
                changes: steps,
            }]),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{:?}", response.results);

    let bad = s.raw_change(|doc| {
        let (_, usages) = doc.get(ROOT, "part_usages").expect("get").expect("list");
        let (_, first) = doc.get(&usages, 0).expect("get").expect("entry");
        doc.put(&first, "quantity", -2i64).expect("put");
    });
    s.rejected(
        bad,
        ErrorCode::InvalidDocument,
        &["part_usages[0].quantity", "must be positive, got -2"],
    )
    .await;
}

#[tokio::test]
async fn an_unknown_status_is_rejected() {
    let mut s = setup().await;
    let bad = s.raw_change(|doc| {
        let (_, events) = doc.get(ROOT, "status_events").expect("get").expect("list");
        let (_, first) = doc.get(&events, 0).expect("get").expect("entry");
        doc.put(&first, "status", "exploded").expect("put");
    });
    s.rejected(bad, ErrorCode::InvalidDocument, &["exploded", "status"])
        .await;
}

#[tokio::test]
async fn a_document_claiming_another_id_is_rejected() {
    let mut s = setup().await;
    // A valid work order pushed under a different document id.
    let copy_id = WorkOrderId::new();
    let changes = s
        .tech
        .docs
        .get_mut(&s.wo)
        .expect("has it")
        .changes_since(&[])
        .into_iter()
        .map(|(_, bytes)| ChangeBytes(bytes))
        .collect();
    let bad = PushDoc {
        doc: copy_id,
        changes,
    };
    // For a technician the id is simply not theirs.
    s.rejected(
        bad.clone(),
        ErrorCode::Forbidden,
        &["not one of your work orders"],
    )
    .await;
    // The office may create work orders by pushing, but not under another one's id.
    let (status, response) =
        s.h.sync(&s.office.token, &s.office.request(vec![bad]))
            .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    match &response.results[0].outcome {
        PushOutcome::Rejected(r) => {
            assert_eq!(r.code, ErrorCode::InvalidDocument, "{}", r.message);
            assert!(r.message.contains("holds work order"), "{}", r.message);
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert!(s
        .h
        .state
        .storage()
        .load_document(copy_id)
        .await
        .expect("load")
        .is_none());
}

#[tokio::test]
async fn technicians_cannot_touch_other_work_orders_or_create_any() {
    let mut s = setup().await;
    // Someone else's work order, which the office hands to the technician's device by mistake.
    let theirs = s.h.create_work_order(&s.office.token, None).await;
    s.office.pull_all(&s.h).await;
    let snapshot = s
        .office
        .docs
        .get_mut(&theirs)
        .expect("office has it")
        .save();
    s.tech
        .docs
        .insert(theirs, WorkOrderDocument::load(&snapshot).expect("load"));
    let edit = s.raw_change_of(theirs, |doc| {
        doc.put(ROOT, "description", "mine now").expect("put");
    });
    s.rejected(edit, ErrorCode::Forbidden, &["not one of your work orders"])
        .await;

    // A brand-new work order made on the technician's device.
    let id = WorkOrderId::new();
    let (_, _, change) = WorkOrderDocument::create(
        id,
        crate::common::intake(Some(s.tech.user)),
        &fieldsync_proto::Actor {
            role: Role::Dispatcher,
            ..s.tech.actor()
        },
        fieldsync_proto::Timestamp::now(),
    )
    .expect("create");
    let create = PushDoc {
        doc: id,
        changes: vec![ChangeBytes(change.bytes)],
    };
    s.rejected(
        create,
        ErrorCode::Forbidden,
        &["not one of your work orders"],
    )
    .await;
    assert!(s
        .h
        .state
        .storage()
        .load_document(id)
        .await
        .expect("load")
        .is_none());
}

#[tokio::test]
async fn sync_needs_a_token() {
    let s = setup().await;
    let req = Request::builder()
        .method(Method::POST)
        .uri(wire::SYNC_PATH)
        .body(Body::from(wire::encode(&request())))
        .expect("request");
    let (status, body, _) = s.h.call(req).await;
    assert_error(
        status,
        &json(&body),
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        &["Bearer"],
    );
    let (status, body, _) =
        s.h.sync_bytes("not-a-token", wire::encode(&request()))
            .await;
    assert_error(
        status,
        &json(&body),
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        &["sign in again"],
    );
}
