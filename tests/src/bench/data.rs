//! Realistic work orders for the benchmarks, made with the same document actions people use:
//! about 20 intake fields, 5 status events, 3 part usages, 2 repair records with measurements
//! and a paragraph of notes each. Deterministic for a given index.

use std::collections::HashMap;

use automerge::transaction::CommitOptions;
use automerge::{ActorId, AutoCommit};
use fieldsync_proto::{
    human_number, Action, Actor, Asset, Contact, Customer, CustomerId, CustomerTier, DeviceId,
    Impact, IntakeChannel, Measurement, NewPartUsage, NewRepairRecord, NewWorkOrder,
    ProblemCategory, Role, ScheduleWindow, Site, Timestamp, Urgency, UserId, WorkOrder,
    WorkOrderDocument, WorkOrderId,
};
use fieldsync_server::storage::{DocumentCommit, NewChange};

const CUSTOMERS: [&str; 8] = [
    "Harbor Bakery",
    "Elbe Logistics",
    "Alster Dental Practice",
    "St. Georg Hotel",
    "Speicherstadt Roastery",
    "Altona Fitness Club",
    "Wandsbek Care Home",
    "Ottensen Print Shop",
];
const MODELS: [&str; 4] = [
    "Deck oven DX-200",
    "Chiller CR-40",
    "Espresso machine EM-3",
    "Heat pump HP-12",
];
const PARTS: [&str; 6] = [
    "FUSE-10A",
    "THERMO-K2",
    "GASKET-60",
    "RELAY-24V",
    "FAN-120",
    "SENSOR-PT100",
];
const NOTES: &str = "Customer reported the fault first appeared on Monday morning after a power \
cut in the street. The unit restarts but loses temperature within twenty minutes; the panel \
shows E42 intermittently. Access through the rear service door, key with the shift manager. \
Parking in the yard is allowed before 10:00. Please call Ines 30 minutes before arrival and \
bring spare gaskets, the last visit ran out. Old fan bearing is noisy and should be checked \
at the next maintenance.";

/// Who made a work order's history.
#[derive(Clone, Copy, Debug)]
pub struct Cast {
    pub office: Actor,
    pub technician: Actor,
}

impl Cast {
    pub fn new(dispatcher: UserId, technician: UserId) -> Cast {
        Cast {
            office: Actor {
                user: dispatcher,
                role: Role::Dispatcher,
                device: DeviceId::new(),
            },
            technician: Actor {
                user: technician,
                role: Role::Technician,
                device: DeviceId::new(),
            },
        }
    }
}

/// The intake of work order `i`, assigned to `assignee`.
pub fn intake(i: usize, assignee: Option<UserId>, now: Timestamp) -> NewWorkOrder {
    let name = CUSTOMERS[i % CUSTOMERS.len()];
    let tier = match i % 7 {
        0 => CustomerTier::Vip,
        1 | 2 => CustomerTier::Basic,
        _ => CustomerTier::Standard,
    };
    let start = now.plus_minutes(30 + (i % 600) as i64);
    NewWorkOrder {
        channel: IntakeChannel::ALL[i % IntakeChannel::ALL.len()],
        customer: Customer {
            id: CustomerId::new(),
            name: format!("{name} #{}", i % 997),
            tier,
            site: Site {
                address: format!("Am Sandtorkai {}, 20457 Hamburg", 1 + i % 180),
                region: ["north", "south", "east", "west"][i % 4].into(),
                latitude: 53.5 + (i % 100) as f64 * 0.002,
                longitude: 9.9 + (i % 77) as f64 * 0.003,
            },
            contact: Contact {
                name: "Ines Roth".into(),
                phone: format!("+49 40 {:07}", 1_234_567 + i % 1000),
                email: format!("service{}@customer.example", i % 997),
            },
        },
        asset: Asset {
            model: MODELS[i % MODELS.len()].into(),
            serial: format!("SN-{:08}", i),
        },
        category: [ProblemCategory::Hardware, ProblemCategory::Installation][i % 2],
        urgency: [Urgency::Normal, Urgency::Emergency, Urgency::Minor][i % 3],
        impact: [Impact::OneUnit, Impact::OneSite, Impact::ManyCustomers][i % 3],
        description: "Lower deck does not reach temperature; error E42 on the panel.".into(),
        schedule: Some(ScheduleWindow {
            start,
            end: start.plus_minutes(120),
        }),
        assignee,
    }
}

fn part(i: usize, k: usize) -> Action {
    Action::RecordPartUsage(NewPartUsage {
        part_number: PARTS[(i + k) % PARTS.len()].into(),
        quantity: 1 + (k as i64 % 2),
        source_location: "VAN-07".into(),
        serial: Some(format!("P{:08}", i * 3 + k)),
        refurbished: k == 2,
    })
}

fn repair(k: usize) -> Action {
    Action::AddRepairRecord(NewRepairRecord {
        diagnosis: if k == 0 {
            "Heating element resistance out of range; thermostat contacts burnt.".into()
        } else {
            "After replacement the deck reaches 250 °C in 18 minutes; no error codes.".into()
        },
        action_taken: if k == 0 {
            "Replaced thermostat and cleaned the contacts of the main relay.".into()
        } else {
            "Calibrated the sensor and ran a full heating cycle with the customer.".into()
        },
        measurements: vec![
            Measurement {
                name: "temperature".into(),
                value: 231.5 + k as f64,
                unit: "°C".into(),
            },
            Measurement {
                name: "current".into(),
                value: 12.4,
                unit: "A".into(),
            },
            Measurement {
                name: "voltage".into(),
                value: 229.0,
                unit: "V".into(),
            },
        ],
    })
}

/// Work order `i` with its whole history, as one document. About a third are completed, the
/// rest in progress.
pub fn work_order(
    i: usize,
    cast: &Cast,
    now: Timestamp,
) -> anyhow::Result<(WorkOrderId, WorkOrderDocument, Vec<NewChange>)> {
    let created = now.plus_minutes(-600 - (i % 1000) as i64);
    let id = WorkOrderId::new();
    let new = intake(i, Some(cast.technician.user), created);
    let (mut doc, _, first) = WorkOrderDocument::create(id, new, &cast.office, created)
        .map_err(|e| anyhow::anyhow!("creating work order {i}: {e}"))?;
    let mut changes = vec![NewChange {
        hash: first.hash,
        bytes: first.bytes,
    }];
    let mut at = created;
    let mut actions = vec![
        Action::Accept,
        Action::StartTravel,
        Action::Arrive,
        Action::StartWork,
    ];
    actions.extend((0..3).map(|k| part(i, k)));
    actions.extend((0..2).map(repair));
    actions.push(Action::EditNotes { text: NOTES.into() });
    if i.is_multiple_of(3) {
        actions.push(Action::Complete {
            resolution: "Thermostat replaced, heating cycle verified with the customer.".into(),
            signed_by: Some("Ines Roth".into()),
            first_time_fix: true,
        });
    }
    for action in &actions {
        at = at.plus_minutes(7);
        let (_, change) = doc
            .act(action, &cast.technician, at)
            .map_err(|e| anyhow::anyhow!("work order {i}: {} failed: {e}", action.name()))?;
        changes.push(NewChange {
            hash: change.hash,
            bytes: change.bytes,
        });
    }
    Ok((id, doc, changes))
}

/// A finished work order whose copies become many seeded ones.
pub struct Template {
    saved: Vec<u8>,
    wo: WorkOrder,
    changes: Vec<NewChange>,
}

impl Template {
    /// Work order `i` with its whole history (see `work_order`).
    pub fn new(i: usize, cast: &Cast, now: Timestamp) -> anyhow::Result<Template> {
        let (id, mut doc, changes) = work_order(i, cast, now)?;
        let wo = doc
            .read_valid(id)
            .map_err(|e| anyhow::anyhow!("work order {i} is invalid: {e}"))?;
        Ok(Template {
            saved: doc.save(),
            wo,
            changes,
        })
    }
}

/// Loaded templates, one per seeding thread (an Automerge document is not shared).
#[derive(Default)]
pub struct Copier {
    loaded: HashMap<usize, AutoCommit>,
}

impl Copier {
    /// A copy of template `index` as a work order of its own: the template's history plus one
    /// change giving it a new id and number (made by the office, as an import would be).
    pub fn copy(
        &mut self,
        index: usize,
        template: &Template,
        now: Timestamp,
    ) -> anyhow::Result<DocumentCommit> {
        let base = match self.loaded.entry(index) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(AutoCommit::load(&template.saved)?)
            }
        };
        let mut doc = base.clone();
        doc.set_actor(ActorId::random());
        let id = WorkOrderId::new();
        let number = human_number(&id);
        autosurgeon::reconcile_prop(&mut doc, automerge::ROOT, "id", id)?;
        autosurgeon::reconcile_prop(&mut doc, automerge::ROOT, "number", number.as_str())?;
        let hash = doc
            .commit_with(CommitOptions::default().with_time(now.millis() / 1000))
            .ok_or_else(|| anyhow::anyhow!("renumbering a copy changed nothing"))?;
        let bytes = doc
            .get_change_by_hash(&hash)
            .map(|c| c.raw_bytes().to_vec())
            .ok_or_else(|| anyhow::anyhow!("the renumbering change is missing"))?;
        let mut changes = template.changes.clone();
        changes.push(NewChange { hash, bytes });
        let mut wo = template.wo.clone();
        wo.id = id;
        wo.number = number;
        Ok(DocumentCommit::new_import(&wo, doc.save(), changes, now))
    }
}
