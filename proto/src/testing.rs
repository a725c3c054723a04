//! Fixtures shared by this crate's unit tests.

use crate::actions::{Action, Actor, NewPartUsage, NewRepairRecord, NewWorkOrder};
use crate::classification::{CustomerTier, Impact, IntakeChannel, ProblemCategory, Role, Urgency};
use crate::document::WorkOrderDocument;
use crate::ids::{DeviceId, UserId, WorkOrderId};
use crate::time::Timestamp;
use crate::work_order::{Asset, Contact, Customer, Measurement, Site};

/// When the worked job was created.
pub(crate) const NOW: Timestamp = Timestamp(1_700_000_000_000);

/// A person on a device of their own.
pub(crate) fn someone(role: Role) -> Actor {
    Actor {
        user: UserId::new(),
        role,
        device: DeviceId::new(),
    }
}

/// A plain intake: a bakery's oven that does not heat, assigned to `assignee`.
pub(crate) fn intake(assignee: UserId) -> NewWorkOrder {
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

/// A job with a history, and the technician and dispatcher: status steps, parts, a repair
/// record with measurements, notes.
pub(crate) fn worked_job() -> (WorkOrderDocument, Actor, Actor) {
    let (tech, office) = (someone(Role::Technician), someone(Role::Dispatcher));
    let (mut doc, _, _) =
        WorkOrderDocument::create(WorkOrderId::new(), intake(tech.user), &office, NOW)
            .expect("create");
    let steps = [
        Action::Accept,
        Action::StartTravel,
        Action::Arrive,
        Action::StartWork,
        Action::RecordPartUsage(NewPartUsage {
            part_number: "FUSE-10A".into(),
            quantity: 2,
            source_location: "VAN-07".into(),
            serial: Some("SN-1".into()),
            refurbished: false,
        }),
        Action::AddRepairRecord(NewRepairRecord {
            diagnosis: "Thermostat stuck".into(),
            action_taken: "Replaced thermostat".into(),
            measurements: vec![Measurement {
                name: "temperature".into(),
                value: 182.5,
                unit: "C".into(),
            }],
        }),
        Action::EditNotes {
            text: "Gate code 4712; Hund im Hof, freundlich".into(),
        },
    ];
    for (i, step) in steps.iter().enumerate() {
        doc.act(step, &tech, NOW.plus_minutes(i as i64 + 1))
            .expect("act");
    }
    (doc, tech, office)
}
