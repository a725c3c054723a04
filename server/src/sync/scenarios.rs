//! Push scenarios run against every storage backend: two server instances, each with its own
//! cache of hot documents, pushing to the same work orders through one database.

use std::sync::Arc;

use fieldsync_proto::wire::{ChangeBytes, PushDoc, PushOutcome};
use fieldsync_proto::{
    Action, Actor, Asset, Contact, Customer, CustomerTier, DeviceId, Impact, IntakeChannel,
    NewWorkOrder, ProblemCategory, Role, ScheduleWindow, Site, Status, Timestamp, Urgency, UserId,
    WorkOrder, WorkOrderDocument, WorkOrderId,
};

use super::cache::DocumentCache;
use super::merger::MergeThreads;
use super::push::push_all;
use crate::storage::SharedStorage;

/// One server instance: its storage handle, its own cache and merge threads.
pub struct Instance {
    pub storage: SharedStorage,
    pub cache: Arc<DocumentCache>,
    pub merges: MergeThreads,
}

impl Instance {
    pub fn new(storage: SharedStorage) -> Self {
        Self {
            storage,
            cache: Arc::default(),
            merges: MergeThreads::start(1),
        }
    }

    async fn push(&self, actor: &Actor, id: WorkOrderId, changes: Vec<Vec<u8>>) -> PushOutcome {
        let docs = vec![PushDoc {
            doc: id,
            changes: changes.into_iter().map(ChangeBytes).collect(),
        }];
        let now = Timestamp::now();
        let mut results = push_all(
            &self.storage,
            &self.cache,
            &self.merges,
            None,
            actor,
            docs,
            now,
        )
        .await
        .expect("push");
        results.remove(0).outcome
    }

    async fn stored(&self, id: WorkOrderId) -> WorkOrder {
        let stored = self
            .storage
            .load_document(id)
            .await
            .expect("load")
            .expect("stored");
        WorkOrderDocument::load(&stored.snapshot)
            .expect("loads")
            .read()
            .expect("reads")
    }
}

fn person(role: Role) -> Actor {
    Actor {
        user: UserId::new(),
        role,
        device: DeviceId::new(),
    }
}

fn intake(assignee: UserId) -> NewWorkOrder {
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
        asset: Asset::default(),
        category: ProblemCategory::Hardware,
        urgency: Urgency::Normal,
        impact: Impact::OneUnit,
        description: "Oven does not heat".into(),
        schedule: None,
        assignee: Some(assignee),
    }
}

fn accepted(outcome: &PushOutcome) -> bool {
    matches!(outcome, PushOutcome::Accepted { new_changes } if *new_changes > 0)
}

/// Instance A caches a work order; instance B commits to it; A's next push must merge onto
/// B's version, not onto the one it holds in memory. Then a push A refuses part of, while the
/// document is hot in its cache, stores exactly the accepted prefix.
pub async fn instances_never_merge_onto_a_stale_cached_document(a: Instance, b: Instance) {
    let office = person(Role::Dispatcher);
    let tech = person(Role::Technician);
    let now = Timestamp::now();
    let id = WorkOrderId::new();
    let (mut office_doc, _, created) =
        WorkOrderDocument::create(id, intake(tech.user), &office, now).expect("create");
    let mut tech_doc = WorkOrderDocument::load(&office_doc.save()).expect("copy");
    assert!(accepted(&a.push(&office, id, vec![created.bytes]).await));
    let first = a
        .storage
        .load_document(id)
        .await
        .expect("load")
        .expect("stored");
    assert_eq!(a.cache.version(id), Some(first.version), "A keeps it hot");

    // B takes the technician's acceptance: A's cached copy is now one version behind.
    let (_, accept) = tech_doc.act(&Action::Accept, &tech, now).expect("accept");
    assert!(accepted(&b.push(&tech, id, vec![accept.bytes]).await));
    assert_eq!(
        a.cache.version(id),
        Some(first.version),
        "A has not seen it"
    );

    // The office reschedules on what it saw; A must merge it onto B's version.
    let start = now.plus_minutes(60);
    let window = ScheduleWindow {
        start,
        end: start.plus_minutes(60),
    };
    let (_, reschedule) = office_doc
        .act(
            &Action::Reschedule {
                window: Some(window),
            },
            &office,
            now,
        )
        .expect("reschedule");
    assert!(accepted(&a.push(&office, id, vec![reschedule.bytes]).await));
    for instance in [&a, &b] {
        let wo = instance.stored(id).await;
        assert_eq!(wo.status(), Status::Accepted, "B's acceptance kept");
        assert_eq!(
            wo.schedule.map(|w| w.start),
            Some(start),
            "A's reschedule kept"
        );
    }
    let current = a
        .storage
        .load_document(id)
        .await
        .expect("load")
        .expect("stored");
    assert_eq!(a.cache.version(id), Some(current.version));

    // Hot in A: the technician's next push holds a forbidden change in the middle.
    tech_doc
        .merge_bytes(&current.snapshot)
        .expect("the device syncs");
    let (_, travel) = tech_doc
        .act(&Action::StartTravel, &tech, now)
        .expect("travel");
    let pretend = Actor {
        role: Role::Dispatcher,
        ..tech
    };
    let classify = Action::Classify {
        category: ProblemCategory::Hardware,
        urgency: Urgency::Emergency,
        impact: Impact::OneUnit,
        tier: None,
    };
    let (_, raise) = tech_doc.act(&classify, &pretend, now).expect("classify");
    let (_, notes) = tech_doc
        .act(
            &Action::EditNotes {
                text: "gate 4".into(),
            },
            &tech,
            now,
        )
        .expect("notes");
    let outcome = a
        .push(&tech, id, vec![travel.bytes, raise.bytes, notes.bytes])
        .await;
    match outcome {
        PushOutcome::Rejected(r) => assert_eq!(r.accepted, 1, "{}", r.message),
        other => panic!("expected a partial refusal, got {other:?}"),
    }
    let wo = b.stored(id).await;
    assert_eq!(
        wo.status(),
        Status::Traveling,
        "the accepted prefix is stored"
    );
    assert_eq!(wo.urgency, Urgency::Normal, "the refused change is not");
    assert_eq!(wo.notes.as_str(), "", "nor anything after it");
    assert_eq!(wo.schedule.map(|w| w.start), Some(start));

    // A retry of what is stored changes nothing, from either instance.
    let retry = vec![reschedule_bytes(&mut office_doc)];
    for instance in [&a, &b] {
        let outcome = instance.push(&office, id, retry.clone()).await;
        assert!(
            matches!(outcome, PushOutcome::Accepted { new_changes: 0 }),
            "{outcome:?}"
        );
    }
}

/// The bytes of the office's last change, as its device would send them again.
fn reschedule_bytes(doc: &mut WorkOrderDocument) -> Vec<u8> {
    let heads = doc.heads();
    let mut all = doc.changes_since(&[]);
    let last = all
        .iter()
        .position(|(hash, _)| heads.contains(hash))
        .expect("the head is a change");
    all.swap_remove(last).1
}
