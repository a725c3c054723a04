//! Fixtures shared by this crate's unit tests.

use crate::actions::{Actor, NewWorkOrder};
use crate::classification::{CustomerTier, Impact, IntakeChannel, ProblemCategory, Role, Urgency};
use crate::ids::{DeviceId, UserId};
use crate::work_order::{Asset, Contact, Customer, Site};

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
