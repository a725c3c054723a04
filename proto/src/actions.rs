//! The things people do to a work order, as pure edits of the typed document. Each action checks
//! who is acting and where the job is in its life, and says plainly why it cannot be done.

use serde::{Deserialize, Serialize};

use crate::attachment::{Attachment, NewAttachment};
use crate::classification::{
    CustomerTier, HoldReason, Impact, IntakeChannel, ProblemCategory, Role, Urgency,
};
use crate::ids::{DeviceId, EntryId, UserId, WorkOrderId};
use crate::status::Status;
use crate::time::Timestamp;
use crate::validation::{validate, Violation};
use crate::work_order::{
    human_number, Asset, Completion, Customer, Measurement, PartUsage, RepairRecord,
    ScheduleWindow, StatusEvent, WorkOrder, SCHEMA_VERSION,
};

/// Who is acting, from which device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub user: UserId,
    pub role: Role,
    pub device: DeviceId,
}

/// What the office enters at intake.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewWorkOrder {
    pub channel: IntakeChannel,
    pub customer: Customer,
    pub asset: Asset,
    pub category: ProblemCategory,
    pub urgency: Urgency,
    pub impact: Impact,
    pub description: String,
    #[serde(default)]
    pub schedule: Option<ScheduleWindow>,
    #[serde(default)]
    pub assignee: Option<UserId>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewPartUsage {
    pub part_number: String,
    pub quantity: i64,
    pub source_location: String,
    #[serde(default)]
    pub serial: Option<String>,
    #[serde(default)]
    pub refurbished: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewRepairRecord {
    pub diagnosis: String,
    pub action_taken: String,
    #[serde(default)]
    pub measurements: Vec<Measurement>,
}

/// Every edit a person can make to an existing work order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Action {
    // Technician, in the field.
    Accept,
    StartTravel,
    Arrive,
    StartWork,
    Hold {
        reason: HoldReason,
        #[serde(default)]
        note: Option<String>,
    },
    Resume,
    RecordPartUsage(NewPartUsage),
    AddRepairRecord(NewRepairRecord),
    /// A photo, signature or document whose bytes are uploaded separately (technician or office).
    Attach(NewAttachment),
    EditNotes {
        text: String,
    },
    Complete {
        resolution: String,
        #[serde(default)]
        signed_by: Option<String>,
        #[serde(default = "yes")]
        first_time_fix: bool,
    },
    // Office.
    Classify {
        category: ProblemCategory,
        urgency: Urgency,
        impact: Impact,
        #[serde(default)]
        tier: Option<CustomerTier>,
    },
    Assign {
        technician: UserId,
    },
    Reschedule {
        window: Option<ScheduleWindow>,
    },
    Cancel {
        reason: String,
    },
    Close,
}

fn yes() -> bool {
    true
}

impl Action {
    /// Short name used in logs, audit entries and error messages.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Accept => "accept",
            Action::StartTravel => "start_travel",
            Action::Arrive => "arrive",
            Action::StartWork => "start_work",
            Action::Hold { .. } => "hold",
            Action::Resume => "resume",
            Action::RecordPartUsage(_) => "record_part_usage",
            Action::AddRepairRecord(_) => "add_repair_record",
            Action::Attach(_) => "attach",
            Action::EditNotes { .. } => "edit_notes",
            Action::Complete { .. } => "complete",
            Action::Classify { .. } => "classify",
            Action::Assign { .. } => "assign",
            Action::Reschedule { .. } => "reschedule",
            Action::Cancel { .. } => "cancel",
            Action::Close => "close",
        }
    }

    /// Whether this is field work (done by the assigned technician) rather than office work.
    /// Attaching is done by both and counts as neither here: `apply_action` checks it itself.
    pub fn is_field_action(&self) -> bool {
        !matches!(
            self,
            Action::Attach(_)
                | Action::Classify { .. }
                | Action::Assign { .. }
                | Action::Reschedule { .. }
                | Action::Cancel { .. }
                | Action::Close
        )
    }
}

/// Why an action was refused. Messages name the job and the rule, for the person who tried.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ActionError {
    #[error("{action} is field work for the assigned technician; a {role} cannot do it")]
    FieldWorkOnly { action: &'static str, role: Role },
    #[error("{action} is office work; a {role} cannot do it")]
    OfficeOnly { action: &'static str, role: Role },
    #[error("work order {number} is assigned to someone else; only its assigned technician can {action} it")]
    NotAssignee {
        number: String,
        action: &'static str,
    },
    #[error(
        "cannot {action} work order {number}: it is {status}, and {action} needs it to be {needed}"
    )]
    WrongStatus {
        number: String,
        action: &'static str,
        status: Status,
        needed: &'static str,
    },
    #[error("cannot {action} work order {number}: {violations}")]
    Invalid {
        number: String,
        action: &'static str,
        violations: Violations,
    },
}

/// A list of rule violations, printed one after another.
#[derive(Clone, Debug, PartialEq)]
pub struct Violations(pub Vec<Violation>);

impl std::fmt::Display for Violations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, v) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{v}")?;
        }
        Ok(())
    }
}

/// Builds a new work order document value from an intake.
pub fn create_work_order(
    id: WorkOrderId,
    new: NewWorkOrder,
    actor: &Actor,
    now: Timestamp,
) -> Result<WorkOrder, ActionError> {
    let number = human_number(&id);
    if !actor.role.is_office() {
        return Err(ActionError::OfficeOnly {
            action: "create",
            role: actor.role,
        });
    }
    let mut wo = WorkOrder {
        schema: SCHEMA_VERSION,
        id,
        number,
        channel: new.channel,
        created_at: now,
        created_by: actor.user,
        customer: new.customer,
        asset: new.asset,
        category: new.category,
        urgency: new.urgency,
        impact: new.impact,
        assignee: None,
        schedule: new.schedule,
        description: new.description,
        notes: Default::default(),
        status_events: Vec::new(),
        part_usages: Vec::new(),
        repair_records: Vec::new(),
        completion: None,
        attachments: Vec::new(),
    };
    if let Some(technician) = new.assignee {
        apply_action(&mut wo, &Action::Assign { technician }, actor, now)?;
    }
    check(&wo, "create")?;
    Ok(wo)
}

fn check(wo: &WorkOrder, action: &'static str) -> Result<(), ActionError> {
    validate(wo).map_err(|violations| ActionError::Invalid {
        number: wo.number.clone(),
        action,
        violations: Violations(violations),
    })
}

/// Applies one action to the typed document, after checking role, assignment and status.
pub fn apply_action(
    wo: &mut WorkOrder,
    action: &Action,
    actor: &Actor,
    now: Timestamp,
) -> Result<(), ActionError> {
    let name = action.name();
    if let Action::Attach(_) = action {
        // Both sides attach: the technician to their own job, the office to any.
        if actor.role == Role::Technician && wo.assignee != Some(actor.user) {
            return Err(ActionError::NotAssignee {
                number: wo.number.clone(),
                action: name,
            });
        }
    } else if action.is_field_action() {
        if !matches!(actor.role, Role::Technician | Role::Admin) {
            return Err(ActionError::FieldWorkOnly {
                action: name,
                role: actor.role,
            });
        }
        if actor.role == Role::Technician && wo.assignee != Some(actor.user) {
            return Err(ActionError::NotAssignee {
                number: wo.number.clone(),
                action: name,
            });
        }
    } else if !actor.role.is_office() {
        return Err(ActionError::OfficeOnly {
            action: name,
            role: actor.role,
        });
    }

    let status = wo.status();
    let number = wo.number.clone();
    let wrong = |needed: &'static str| ActionError::WrongStatus {
        number: number.clone(),
        action: name,
        status,
        needed,
    };
    let event = |status: Status, reason: Option<String>, hold: Option<HoldReason>| StatusEvent {
        id: EntryId::new(),
        status,
        by: actor.user,
        role: actor.role,
        device: actor.device,
        at: now,
        reason,
        hold,
    };
    let push_status = |wo: &mut WorkOrder, to: Status, needed: &'static str| {
        if !status.can_move_to(to) {
            return Err(wrong(needed));
        }
        wo.status_events.push(event(to, None, None));
        Ok(())
    };

    match action {
        Action::Accept => push_status(wo, Status::Accepted, "assigned")?,
        Action::StartTravel => push_status(wo, Status::Traveling, "accepted")?,
        Action::Arrive => push_status(wo, Status::OnSite, "traveling")?,
        Action::StartWork => push_status(wo, Status::InProgress, "on site")?,
        Action::Resume => push_status(wo, Status::InProgress, "on hold")?,
        Action::Hold { reason, note } => {
            if status != Status::InProgress {
                return Err(wrong("in progress"));
            }
            wo.status_events
                .push(event(Status::OnHold, note.clone(), Some(*reason)));
        }
        Action::RecordPartUsage(p) => {
            if !status.is_open() {
                return Err(wrong("open"));
            }
            wo.part_usages.push(PartUsage {
                id: EntryId::new(),
                part_number: p.part_number.trim().to_owned(),
                quantity: p.quantity,
                source_location: p.source_location.trim().to_owned(),
                serial: p.serial.clone().filter(|s| !s.trim().is_empty()),
                refurbished: p.refurbished,
                by: actor.user,
                device: actor.device,
                at: now,
            });
        }
        Action::AddRepairRecord(r) => {
            if !status.is_open() {
                return Err(wrong("open"));
            }
            wo.repair_records.push(RepairRecord {
                id: EntryId::new(),
                diagnosis: r.diagnosis.clone(),
                action_taken: r.action_taken.clone(),
                measurements: r.measurements.clone(),
                by: actor.user,
                device: actor.device,
                at: now,
            });
        }
        Action::Attach(a) => wo.attachments.push(Attachment {
            id: EntryId::new(),
            sha256: a.sha256.clone(),
            kind: a.kind,
            content_type: a.content_type.trim().to_owned(),
            size: a.size,
            file_name: a.file_name.trim().to_owned(),
            added_by: actor.user,
            device: actor.device,
            added_at: now,
        }),
        Action::EditNotes { text } => set_notes(&mut wo.notes, text),
        Action::Complete {
            resolution,
            signed_by,
            first_time_fix,
        } => {
            if !status.can_move_to(Status::Completed) {
                return Err(wrong("in progress"));
            }
            wo.completion = Some(Completion {
                resolution: resolution.clone(),
                signed_by: signed_by.clone().filter(|s| !s.trim().is_empty()),
                first_time_fix: *first_time_fix,
                by: actor.user,
                device: actor.device,
                at: now,
            });
            wo.status_events.push(event(Status::Completed, None, None));
        }
        Action::Classify {
            category,
            urgency,
            impact,
            tier,
        } => {
            if !status.is_open() {
                return Err(wrong("open"));
            }
            wo.category = *category;
            wo.urgency = *urgency;
            wo.impact = *impact;
            if let Some(tier) = tier {
                wo.customer.tier = *tier;
            }
        }
        Action::Assign { technician } => {
            if !status.can_move_to(Status::Assigned) {
                return Err(wrong("new, assigned, accepted, traveling or on hold"));
            }
            wo.assignee = Some(*technician);
            wo.status_events.push(event(Status::Assigned, None, None));
        }
        Action::Reschedule { window } => {
            if !status.is_open() {
                return Err(wrong("open"));
            }
            wo.schedule = *window;
        }
        Action::Cancel { reason } => {
            if !status.can_move_to(Status::Cancelled) {
                return Err(wrong("not yet started on site"));
            }
            wo.status_events
                .push(event(Status::Cancelled, Some(reason.clone()), None));
        }
        Action::Close => push_status(wo, Status::Closed, "completed")?,
    }
    check(wo, name)
}

/// Replaces the notes with `new` as one splice of the part that changed: the common beginning
/// and end are kept, so concurrent edits elsewhere in the text still merge. (`Text::update`
/// diffs grapheme by grapheme and made one Automerge splice per character: minutes of work
/// for a note of a few KB.)
fn set_notes(notes: &mut autosurgeon::Text, new: &str) {
    let old = notes.as_str();
    let prefix: usize = old
        .chars()
        .zip(new.chars())
        .take_while(|(a, b)| a == b)
        .map(|(a, _)| a.len_utf8())
        .sum();
    let suffix: usize = old[prefix..]
        .chars()
        .rev()
        .zip(new[prefix..].chars().rev())
        .take_while(|(a, b)| a == b)
        .map(|(a, _)| a.len_utf8())
        .sum();
    let delete = old.len() - prefix - suffix;
    let insert = new[prefix..new.len() - suffix].to_owned();
    if delete > 0 || !insert.is_empty() {
        notes.splice(prefix, delete as isize, insert);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn intake() -> NewWorkOrder {
        let mut new = NewWorkOrder {
            asset: Asset {
                model: "Oven X200".into(),
                serial: "X200-1".into(),
            },
            assignee: None,
            ..crate::testing::intake(UserId::new())
        };
        new.customer.tier = CustomerTier::Vip;
        new
    }

    fn actors() -> (Actor, Actor) {
        let dispatcher = Actor {
            user: UserId::new(),
            role: Role::Dispatcher,
            device: DeviceId::new(),
        };
        let tech = Actor {
            user: UserId::new(),
            role: Role::Technician,
            device: DeviceId::new(),
        };
        (dispatcher, tech)
    }

    #[test]
    fn technician_flow() {
        let (d, t) = actors();
        let now = Timestamp(1_700_000_000_000);
        let mut wo = create_work_order(WorkOrderId::new(), intake(), &d, now).expect("create");
        apply_action(&mut wo, &Action::Assign { technician: t.user }, &d, now).expect("assign");
        for a in [
            Action::Accept,
            Action::StartTravel,
            Action::Arrive,
            Action::StartWork,
        ] {
            apply_action(&mut wo, &a, &t, now).expect("step");
        }
        let usage = Action::RecordPartUsage(NewPartUsage {
            part_number: "HEAT-1".into(),
            quantity: 2,
            source_location: "VAN-7".into(),
            serial: None,
            refurbished: false,
        });
        apply_action(&mut wo, &usage, &t, now).expect("part");
        let done = Action::Complete {
            resolution: "replaced element".into(),
            signed_by: Some("Ann".into()),
            first_time_fix: true,
        };
        apply_action(&mut wo, &done, &t, now).expect("complete");
        assert_eq!(wo.status(), Status::Completed);
        assert_eq!(wo.derive(now).parts_used, 2);
    }

    #[test]
    fn refusals_say_why() {
        let (d, t) = actors();
        let now = Timestamp(1_700_000_000_000);
        let mut wo = create_work_order(WorkOrderId::new(), intake(), &d, now).expect("create");
        let err = apply_action(&mut wo, &Action::Accept, &t, now).expect_err("must be refused");
        assert!(matches!(err, ActionError::NotAssignee { .. }), "{err}");
        apply_action(&mut wo, &Action::Assign { technician: t.user }, &d, now).expect("assign");
        let err = apply_action(&mut wo, &Action::Arrive, &t, now).expect_err("must be refused");
        assert!(err.to_string().contains("it is assigned"), "{err}");
        let err = apply_action(&mut wo, &Action::Close, &t, now).expect_err("must be refused");
        assert!(matches!(err, ActionError::OfficeOnly { .. }), "{err}");
        let err = apply_action(&mut wo, &Action::Accept, &d, now).expect_err("must be refused");
        assert!(matches!(err, ActionError::FieldWorkOnly { .. }), "{err}");
        apply_action(&mut wo, &Action::Accept, &t, now).expect("accept");
        let bad = Action::RecordPartUsage(NewPartUsage {
            part_number: "HEAT-1".into(),
            quantity: 0,
            source_location: "VAN-7".into(),
            serial: None,
            refurbished: false,
        });
        let before = wo.clone();
        let mut attempt = wo.clone();
        let err = apply_action(&mut attempt, &bad, &t, now).expect_err("must be refused");
        assert!(err.to_string().contains("quantity"), "{err}");
        assert_eq!(before, wo);
    }
}
