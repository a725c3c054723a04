//! Intake preview: the priority and SLA targets a new work order would get, with the reasons in
//! plain words, so the office sees them before saving.

use serde::{Deserialize, Serialize};

use crate::actions::NewWorkOrder;
use crate::classification::{CustomerTier, Urgency};
use crate::priority::{priority, Priority};
use crate::sla::sla_targets;
use crate::time::Timestamp;

/// Answer to `POST /v1/intake/preview`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IntakePreview {
    pub priority: Priority,
    pub response_target_minutes: i64,
    pub resolution_target_minutes: i64,
    /// If the work order were created now.
    pub response_due: Timestamp,
    pub resolution_due: Timestamp,
    pub reasons: Vec<String>,
}

/// "30 minutes", "2 hours", "5 days".
fn duration_words(minutes: i64) -> String {
    let (n, unit) = if minutes % (24 * 60) == 0 {
        (minutes / (24 * 60), "day")
    } else if minutes % 60 == 0 {
        (minutes / 60, "hour")
    } else {
        (minutes, "minute")
    };
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

/// What creating `new` at `now` would compute.
pub fn intake_preview(new: &NewWorkOrder, now: Timestamp) -> IntakePreview {
    let tier = new.customer.tier;
    let base = priority(new.urgency, new.impact, CustomerTier::Standard);
    let computed = priority(new.urgency, new.impact, tier);
    let targets = sla_targets(computed, tier, new.urgency);
    let plain = sla_targets(computed, CustomerTier::Standard, Urgency::Normal);
    let mut reasons = vec![format!(
        "{} urgency with {} impact gives {base}",
        new.urgency, new.impact
    )];
    if tier == CustomerTier::Vip {
        reasons.push(if computed == base {
            format!("VIP customer: already {computed}, the highest priority")
        } else {
            format!("VIP customer: raised one level from {base} to {computed}")
        });
    }
    reasons.push(format!(
        "{computed}: first response within {}, resolution within {}",
        duration_words(plain.response_minutes),
        duration_words(plain.resolution_minutes)
    ));
    if targets.response_minutes < plain.response_minutes {
        reasons.push(format!(
            "VIP customer: first response within {}",
            duration_words(targets.response_minutes)
        ));
    }
    if targets.resolution_minutes < plain.resolution_minutes {
        reasons.push(format!(
            "emergency: resolution within {}",
            duration_words(targets.resolution_minutes)
        ));
    }
    IntakePreview {
        priority: computed,
        response_target_minutes: targets.response_minutes,
        resolution_target_minutes: targets.resolution_minutes,
        response_due: now.plus_minutes(targets.response_minutes),
        resolution_due: now.plus_minutes(targets.resolution_minutes),
        reasons,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classification::{Impact, IntakeChannel, ProblemCategory};
    use crate::ids::CustomerId;
    use crate::work_order::{Asset, Contact, Customer, Site};

    fn intake(urgency: Urgency, impact: Impact, tier: CustomerTier) -> NewWorkOrder {
        NewWorkOrder {
            channel: IntakeChannel::Phone,
            customer: Customer {
                id: CustomerId::new(),
                name: "Acme".into(),
                tier,
                site: Site {
                    address: "Main St 1".into(),
                    region: "north".into(),
                    latitude: 53.5,
                    longitude: 10.0,
                },
                contact: Contact::default(),
            },
            asset: Asset::default(),
            category: ProblemCategory::Hardware,
            urgency,
            impact,
            description: "broken".into(),
            schedule: None,
            assignee: None,
        }
    }

    #[test]
    fn preview_matches_the_rules_and_says_why() {
        let now = Timestamp(1_700_000_000_000);
        let p = intake_preview(
            &intake(Urgency::Normal, Impact::OneUnit, CustomerTier::Vip),
            now,
        );
        assert_eq!(p.priority, Priority::P2);
        assert_eq!(
            (p.response_target_minutes, p.resolution_target_minutes),
            (30, 480)
        );
        assert_eq!(p.response_due, now.plus_minutes(30));
        assert_eq!(p.resolution_due, now.plus_minutes(480));
        assert_eq!(
            p.reasons,
            vec![
                "normal urgency with one_unit impact gives P3",
                "VIP customer: raised one level from P3 to P2",
                "P2: first response within 2 hours, resolution within 8 hours",
                "VIP customer: first response within 30 minutes",
            ]
        );

        let p = intake_preview(
            &intake(Urgency::Emergency, Impact::OneUnit, CustomerTier::Standard),
            now,
        );
        assert_eq!(p.priority, Priority::P2);
        assert_eq!(p.resolution_target_minutes, 240);
        assert_eq!(
            p.reasons.last().map(String::as_str),
            Some("emergency: resolution within 4 hours")
        );

        let p = intake_preview(
            &intake(Urgency::Minor, Impact::OneUnit, CustomerTier::Basic),
            now,
        );
        assert_eq!(p.priority, Priority::P4);
        assert_eq!(
            p.reasons[1],
            "P4: first response within 1 day, resolution within 5 days"
        );
    }
}
