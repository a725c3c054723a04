//! Test fixtures: stores signed in as a given role, realistic intakes, and documents as the
//! server would hold them, so that store and sync logic are tested without a network.

pub(crate) mod fake_server;

use fieldsync_proto::wire::{ChangeBytes, Cursor, DocUpdate, SyncResponse, UpdatePayload};
use fieldsync_proto::{
    Actor, Asset, ChangeHash, Contact, Customer, CustomerId, CustomerTier, DeviceId, Impact,
    IntakeChannel, NewWorkOrder, ProblemCategory, Role, Site, Timestamp, Urgency, UserId,
    WorkOrderDocument, WorkOrderId, WorkOrderSummary,
};

use crate::session::{Owner, Session, StoredSession};
use crate::store::{meta, Store};

pub(crate) fn now() -> Timestamp {
    Timestamp::now()
}

pub(crate) fn session(role: Role) -> Session {
    Session {
        server_url: "http://127.0.0.1:1".into(),
        user_id: UserId::new(),
        username: format!("{role}-user"),
        display_name: format!("A {role}"),
        role,
        device_id: DeviceId::new(),
        expires_at: None,
    }
}

/// Writes `session` into the store as if its user had logged in.
pub(crate) fn sign_in(store: &Store, session: &Session) {
    store
        .write(|tx| {
            meta::set_owner(
                tx,
                &Owner {
                    user_id: session.user_id,
                    username: session.username.clone(),
                },
            )?;
            meta::set_device_id(tx, session.device_id)?;
            meta::set_session(
                tx,
                &StoredSession {
                    session: session.clone(),
                    token: "test-token".into(),
                    ca_cert_pem: None,
                },
            )
        })
        .expect("sign in");
}

/// An in-memory store signed in as a new user with `role`.
pub(crate) fn store_as(role: Role) -> (Store, Session) {
    let store = Store::open_in_memory().expect("store");
    let session = session(role);
    sign_in(&store, &session);
    (store, session)
}

pub(crate) fn intake(name: &str, urgency: Urgency, assignee: Option<UserId>) -> NewWorkOrder {
    NewWorkOrder {
        channel: IntakeChannel::Phone,
        customer: Customer {
            id: CustomerId::new(),
            name: name.into(),
            tier: CustomerTier::Standard,
            site: Site {
                address: "Am Sandtorkai 1, Hamburg".into(),
                region: "north".into(),
                latitude: 53.54,
                longitude: 9.99,
            },
            contact: Contact::default(),
        },
        asset: Asset {
            model: "Deck oven DX-200".into(),
            serial: "DX200-00917".into(),
        },
        category: ProblemCategory::Hardware,
        urgency,
        impact: Impact::OneUnit,
        description: "Lower deck does not reach temperature".into(),
        schedule: None,
        assignee,
    }
}

pub(crate) fn office_actor() -> Actor {
    Actor {
        user: UserId::new(),
        role: Role::Dispatcher,
        device: DeviceId::new(),
    }
}

/// A work order as the server holds it, created in the office and assigned to `tech`.
pub(crate) fn server_doc(tech: UserId) -> (WorkOrderId, WorkOrderDocument) {
    let id = WorkOrderId::new();
    let (doc, _, _) = WorkOrderDocument::create(
        id,
        intake("Harbor Bakery", Urgency::Normal, Some(tech)),
        &office_actor(),
        now(),
    )
    .expect("create");
    (id, doc)
}

/// An update as the server sends it: snapshots come with their index row.
pub(crate) fn update(doc: WorkOrderId, payload: UpdatePayload) -> DocUpdate {
    let summary = match &payload {
        UpdatePayload::Snapshot(bytes) => {
            let wo = WorkOrderDocument::load(bytes)
                .and_then(|d| d.read())
                .expect("a readable snapshot");
            Some(WorkOrderSummary::new(&wo, now()))
        }
        _ => None,
    };
    DocUpdate {
        doc,
        payload,
        summary,
    }
}

/// The changes of the server copy made after `heads`, as the server sends them to a device that
/// holds the document: with the index row of the state they lead to.
pub(crate) fn changes_since(
    server: &mut WorkOrderDocument,
    doc: WorkOrderId,
    heads: &[ChangeHash],
) -> DocUpdate {
    let changes = server
        .changes_since(heads)
        .into_iter()
        .map(|(_, bytes)| ChangeBytes(bytes))
        .collect();
    let wo = server.read().expect("a readable server copy");
    DocUpdate {
        doc,
        payload: UpdatePayload::Changes(changes),
        summary: Some(WorkOrderSummary::new(&wo, now())),
    }
}

/// A response with no push results carrying `updates`, complete (`more = false`).
pub(crate) fn response(cursor: u64, updates: Vec<(WorkOrderId, UpdatePayload)>) -> SyncResponse {
    SyncResponse {
        results: Vec::new(),
        updates: updates
            .into_iter()
            .map(|(doc, payload)| update(doc, payload))
            .collect(),
        cursor: Cursor(cursor),
        more: false,
        remaining_docs: 0,
        server_time: now(),
    }
}
