//! Field ownership: which role may change which part of a work order, checked on the typed
//! document before and after a change. The server runs it on every pushed change, so a device
//! whose app was tampered with still cannot change what its user does not own.
//!
//! The office owns intake, classification, assignment, schedule and cancellation; the field owns
//! its status steps, parts, repair records, notes and completion; nobody changes what was fixed
//! at creation. Appended entries are never edited or removed, and every new entry must name the
//! user, role and device that pushed it, so nobody can forge someone else's work.

use std::collections::HashMap;

use crate::actions::Actor;
use crate::classification::Role;
use crate::ids::{DeviceId, EntryId, UserId};
use crate::validation::Violation;
use crate::work_order::WorkOrder;

/// Who may change a top-level field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owner {
    /// Set when the work order is created, never changed afterwards.
    Fixed,
    /// Dispatchers (and admins).
    Office,
    /// Technicians (and admins).
    Field,
    /// Each appended entry by whoever appended it (a status event also by the role its
    /// status belongs to).
    Entries,
}

impl Owner {
    fn may_write(self, role: Role) -> bool {
        match self {
            Owner::Fixed => false,
            Owner::Office => role.is_office(),
            Owner::Field => matches!(role, Role::Technician | Role::Admin),
            Owner::Entries => true,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Owner::Fixed => "it is fixed when the work order is created",
            Owner::Office => "it belongs to the office (dispatchers)",
            Owner::Field => "it belongs to the technician in the field",
            Owner::Entries => "each entry belongs to whoever appended it",
        }
    }
}

/// Every top-level field of `WorkOrder` and who owns it.
pub const FIELD_OWNERS: &[(&str, Owner)] = &[
    ("schema", Owner::Fixed),
    ("id", Owner::Fixed),
    ("number", Owner::Fixed),
    ("channel", Owner::Fixed),
    ("created_at", Owner::Fixed),
    ("created_by", Owner::Fixed),
    ("customer", Owner::Office),
    ("asset", Owner::Office),
    ("category", Owner::Office),
    ("urgency", Owner::Office),
    ("impact", Owner::Office),
    ("assignee", Owner::Office),
    ("schedule", Owner::Office),
    ("description", Owner::Office),
    ("notes", Owner::Field),
    ("status_events", Owner::Entries),
    ("part_usages", Owner::Field),
    ("repair_records", Owner::Field),
    ("completion", Owner::Field),
    ("attachments", Owner::Entries),
];

/// The owner of a top-level field.
pub fn owner_of(field: &str) -> Option<Owner> {
    FIELD_OWNERS
        .iter()
        .find(|(name, _)| *name == field)
        .map(|(_, owner)| *owner)
}

/// Whether `field` differs between the two versions.
fn differs(field: &str, a: &WorkOrder, b: &WorkOrder) -> bool {
    match field {
        "schema" => a.schema != b.schema,
        "id" => a.id != b.id,
        "number" => a.number != b.number,
        "channel" => a.channel != b.channel,
        "created_at" => a.created_at != b.created_at,
        "created_by" => a.created_by != b.created_by,
        "customer" => a.customer != b.customer,
        "asset" => a.asset != b.asset,
        "category" => a.category != b.category,
        "urgency" => a.urgency != b.urgency,
        "impact" => a.impact != b.impact,
        "assignee" => a.assignee != b.assignee,
        "schedule" => a.schedule != b.schedule,
        "description" => a.description != b.description,
        "notes" => a.notes.as_str() != b.notes.as_str(),
        "status_events" => a.status_events != b.status_events,
        "part_usages" => a.part_usages != b.part_usages,
        "repair_records" => a.repair_records != b.repair_records,
        "completion" => a.completion != b.completion,
        "attachments" => a.attachments != b.attachments,
        _ => false,
    }
}

/// The top-level fields a change touched (every non-empty one for a creation).
pub fn touched_fields(before: Option<&WorkOrder>, after: &WorkOrder) -> Vec<&'static str> {
    match before {
        Some(before) => FIELD_OWNERS
            .iter()
            .map(|(name, _)| *name)
            .filter(|name| differs(name, before, after))
            .collect(),
        None => vec!["created"],
    }
}

/// What a change did, in a few words for the audit trail: `status_events +accepted`,
/// `part_usages +1`, `notes`, or `created`.
pub fn describe_edit(before: Option<&WorkOrder>, after: &WorkOrder) -> String {
    let Some(before) = before else {
        return "created".into();
    };
    let mut parts = Vec::new();
    for field in touched_fields(Some(before), after) {
        let text = match field {
            "status_events" => {
                let old = ids(before.status_events.iter().map(|e| e.id));
                let added: Vec<&str> = after
                    .status_events
                    .iter()
                    .filter(|e| !old.contains_key(&e.id))
                    .map(|e| e.status.as_str())
                    .collect();
                if added.is_empty() {
                    field.to_owned()
                } else {
                    format!("{field} +{}", added.join(" +"))
                }
            }
            "part_usages" | "repair_records" | "attachments" => {
                let (old, new) = match field {
                    "part_usages" => (before.part_usages.len(), after.part_usages.len()),
                    "repair_records" => (before.repair_records.len(), after.repair_records.len()),
                    _ => (before.attachments.len(), after.attachments.len()),
                };
                if new > old {
                    format!("{field} +{}", new - old)
                } else {
                    field.to_owned()
                }
            }
            other => other.to_owned(),
        };
        parts.push(text);
    }
    if parts.is_empty() {
        "no visible change".into()
    } else {
        parts.join(", ")
    }
}

fn ids(ids: impl Iterator<Item = EntryId>) -> HashMap<EntryId, ()> {
    ids.map(|id| (id, ())).collect()
}

struct Rules<'a> {
    actor: &'a Actor,
    violations: Vec<Violation>,
}

impl Rules<'_> {
    fn fail(&mut self, field: impl Into<String>, rule: impl Into<String>) {
        self.violations.push(Violation {
            field: field.into(),
            rule: rule.into(),
        });
    }

    /// An entry must name the pusher's own user and device.
    fn own_entry(&mut self, field: String, by: UserId, device: DeviceId) {
        if by != self.actor.user || device != self.actor.device {
            self.fail(
                field,
                "names another user or device than the one that made the change; entries cannot be recorded for someone else",
            );
        }
    }

    /// Checks an append-only list: existing entries unchanged, new ones by `owner` and the
    /// pusher's own (checked by `check_new`).
    fn append_only<T: PartialEq>(
        &mut self,
        field: &str,
        before: &[T],
        after: &[T],
        id_of: impl Fn(&T) -> EntryId,
        mut check_new: impl FnMut(&mut Self, String, &T),
    ) {
        let old: HashMap<EntryId, &T> = before.iter().map(|e| (id_of(e), e)).collect();
        let now: HashMap<EntryId, &T> = after.iter().map(|e| (id_of(e), e)).collect();
        for (id, entry) in &old {
            match now.get(id) {
                None => self.fail(
                    format!("{field}[{id}]"),
                    "was removed; recorded entries are never removed",
                ),
                Some(current) if *current != *entry => self.fail(
                    format!("{field}[{id}]"),
                    "was edited; recorded entries are never changed",
                ),
                Some(_) => {}
            }
        }
        for entry in after {
            let id = id_of(entry);
            if !old.contains_key(&id) {
                check_new(self, format!("{field}[{id}]"), entry);
            }
        }
    }
}

/// Checks that `actor` may make the change from `before` (`None`: the work order is new) to
/// `after`. Returns every broken rule, each naming the field.
pub fn check_edit(
    before: Option<&WorkOrder>,
    after: &WorkOrder,
    actor: &Actor,
) -> Result<(), Vec<Violation>> {
    let mut rules = Rules {
        actor,
        violations: Vec::new(),
    };
    let role = actor.role;
    let empty;
    let before = match before {
        Some(before) => before,
        None => {
            if !role.is_office() {
                rules.fail("work order", "only the office creates work orders");
                return Err(rules.violations);
            }
            if after.created_by != actor.user {
                rules.fail(
                    "created_by",
                    "must name the user who creates the work order",
                );
            }
            // A new work order is compared with an empty one of the same identity: the office
            // writes its own fields, and field work may not come with it.
            empty = WorkOrder {
                notes: Default::default(),
                status_events: Vec::new(),
                part_usages: Vec::new(),
                repair_records: Vec::new(),
                completion: None,
                attachments: Vec::new(),
                ..after.clone()
            };
            &empty
        }
    };

    for (field, owner) in FIELD_OWNERS {
        if !differs(field, before, after) {
            continue;
        }
        // Lists and the completion are checked entry by entry below.
        let entry_wise = matches!(
            *field,
            "status_events" | "part_usages" | "repair_records" | "completion" | "attachments"
        );
        match owner {
            _ if entry_wise => {}
            owner if !owner.may_write(role) => {
                rules.fail(
                    *field,
                    format!("a {role} cannot change it: {}", owner.describe()),
                );
            }
            _ => {}
        }
    }

    rules.append_only(
        "status_events",
        &before.status_events,
        &after.status_events,
        |e| e.id,
        |rules, field, e| {
            if e.role != role {
                rules.fail(
                    field.clone(),
                    format!("is recorded as made by a {}, but a {role} sent it", e.role),
                );
            }
            if !e.status.allowed_for(role) {
                rules.fail(
                    field.clone(),
                    format!("a {role} cannot set a job to {}", e.status),
                );
            }
            rules.own_entry(field, e.by, e.device);
        },
    );
    let field_work = Owner::Field.may_write(role);
    let new_field_entry = |rules: &mut Rules<'_>, field: String, by: UserId, device: DeviceId| {
        if !field_work {
            rules.fail(
                field,
                format!("a {role} cannot add it: {}", Owner::Field.describe()),
            );
        } else {
            rules.own_entry(field, by, device);
        }
    };
    rules.append_only(
        "part_usages",
        &before.part_usages,
        &after.part_usages,
        |e| e.id,
        |rules, field, e| new_field_entry(rules, field, e.by, e.device),
    );
    rules.append_only(
        "repair_records",
        &before.repair_records,
        &after.repair_records,
        |e| e.id,
        |rules, field, e| new_field_entry(rules, field, e.by, e.device),
    );

    // Technicians and the office both attach; each entry must be the pusher's own.
    rules.append_only(
        "attachments",
        &before.attachments,
        &after.attachments,
        |e| e.id,
        |rules, field, e| rules.own_entry(field, e.added_by, e.device),
    );

    if before.completion != after.completion {
        match (&before.completion, &after.completion) {
            _ if !field_work => rules.fail(
                "completion",
                format!(
                    "a {role} cannot change it: {}; the office cannot complete a job for the technician",
                    Owner::Field.describe()
                ),
            ),
            (_, None) => rules.fail("completion", "cannot be removed once recorded"),
            (Some(old), Some(_)) if old.by != actor.user => rules.fail(
                "completion",
                "was recorded by someone else and cannot be replaced",
            ),
            (_, Some(new)) => rules.own_entry("completion".into(), new.by, new.device),
        }
    }

    if rules.violations.is_empty() {
        Ok(())
    } else {
        Err(rules.violations)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::{apply_action, create_work_order, Action, NewPartUsage, NewRepairRecord};
    use crate::classification::{CustomerTier, Impact, IntakeChannel, ProblemCategory, Urgency};
    use crate::ids::WorkOrderId;
    use crate::status::Status;
    use crate::testing::intake;
    use crate::time::Timestamp;
    use crate::work_order::{Completion, ScheduleWindow};

    const NOW: Timestamp = Timestamp(1_700_000_000_000);

    fn actor(role: Role) -> Actor {
        Actor {
            user: UserId::new(),
            role,
            device: DeviceId::new(),
        }
    }

    struct People {
        office: Actor,
        tech: Actor,
        other_tech: Actor,
        admin: Actor,
    }

    fn people() -> People {
        People {
            office: actor(Role::Dispatcher),
            tech: actor(Role::Technician),
            other_tech: actor(Role::Technician),
            admin: actor(Role::Admin),
        }
    }

    /// A job assigned to `p.tech`, in progress on site.
    fn in_progress(p: &People) -> WorkOrder {
        let mut wo = create_work_order(WorkOrderId::new(), intake(p.tech.user), &p.office, NOW)
            .expect("create");
        for a in [
            Action::Accept,
            Action::StartTravel,
            Action::Arrive,
            Action::StartWork,
        ] {
            apply_action(&mut wo, &a, &p.tech, NOW).expect("step");
        }
        wo
    }

    fn part() -> Action {
        Action::RecordPartUsage(NewPartUsage {
            part_number: "P-1".into(),
            quantity: 1,
            source_location: "VAN-1".into(),
            serial: None,
            refurbished: false,
        })
    }

    fn done() -> Action {
        Action::Complete {
            resolution: "fixed".into(),
            signed_by: None,
            first_time_fix: true,
        }
    }

    /// An edit of the typed document, as a tampered device could make it.
    type Edit = fn(&mut WorkOrder, &People);
    type Who = fn(&People) -> Actor;

    /// Applies an action through the normal action rules.
    fn act(wo: &mut WorkOrder, action: Action, as_whom: &Actor) {
        apply_action(wo, &action, as_whom, NOW).expect("action");
    }

    #[test]
    fn every_field_of_the_schema_has_an_owner() {
        let names: Vec<&str> = FIELD_OWNERS.iter().map(|(n, _)| *n).collect();
        assert_eq!(names.len(), 20, "{names:?}");
        assert_eq!(owner_of("assignee"), Some(Owner::Office));
        assert_eq!(owner_of("completion"), Some(Owner::Field));
        assert_eq!(owner_of("number"), Some(Owner::Fixed));
        assert_eq!(owner_of("nonsense"), None);
    }

    #[test]
    fn the_ownership_table_holds_for_each_role() {
        // (what, edit, who pushes it, refused field or None when allowed)
        let cases: Vec<(&str, Edit, Who, Option<&str>)> = vec![
            (
                "tech adds a part",
                |wo, p| act(wo, part(), &p.tech),
                |p| p.tech,
                None,
            ),
            (
                "tech adds a repair record",
                |wo, p| {
                    act(
                        wo,
                        Action::AddRepairRecord(NewRepairRecord {
                            diagnosis: "seized".into(),
                            action_taken: "freed".into(),
                            measurements: vec![],
                        }),
                        &p.tech,
                    )
                },
                |p| p.tech,
                None,
            ),
            (
                "tech edits notes",
                |wo, p| {
                    act(
                        wo,
                        Action::EditNotes {
                            text: "gate code 4711".into(),
                        },
                        &p.tech,
                    )
                },
                |p| p.tech,
                None,
            ),
            (
                "tech completes",
                |wo, p| act(wo, done(), &p.tech),
                |p| p.tech,
                None,
            ),
            (
                "tech raises urgency",
                |wo, _| wo.urgency = Urgency::Emergency,
                |p| p.tech,
                Some("urgency"),
            ),
            (
                "tech makes the customer VIP",
                |wo, _| wo.customer.tier = CustomerTier::Vip,
                |p| p.tech,
                Some("customer"),
            ),
            (
                "tech reassigns",
                |wo, p| wo.assignee = Some(p.other_tech.user),
                |p| p.tech,
                Some("assignee"),
            ),
            (
                "tech reschedules",
                |wo, _| {
                    wo.schedule = Some(ScheduleWindow {
                        start: NOW,
                        end: NOW.plus_minutes(60),
                    })
                },
                |p| p.tech,
                Some("schedule"),
            ),
            (
                "tech rewrites the description",
                |wo, _| wo.description = "nothing wrong".into(),
                |p| p.tech,
                Some("description"),
            ),
            (
                "tech cancels",
                |wo, p| {
                    let mut e = wo.status_events[0].clone();
                    e.id = EntryId::new();
                    e.status = Status::Cancelled;
                    e.by = p.tech.user;
                    e.role = Role::Technician;
                    e.device = p.tech.device;
                    wo.status_events.push(e);
                },
                |p| p.tech,
                Some("status_events"),
            ),
            (
                "tech renumbers",
                |wo, _| wo.number = "WO-AAAA-AAAA".into(),
                |p| p.tech,
                Some("number"),
            ),
            (
                "office reclassifies",
                |wo, p| {
                    act(
                        wo,
                        Action::Classify {
                            category: ProblemCategory::Software,
                            urgency: Urgency::Emergency,
                            impact: Impact::OneSite,
                            tier: Some(CustomerTier::Vip),
                        },
                        &p.office,
                    )
                },
                |p| p.office,
                None,
            ),
            (
                "office edits notes",
                |wo, _| wo.notes.update("office note"),
                |p| p.office,
                Some("notes"),
            ),
            (
                "office forges a completion",
                |wo, p| {
                    wo.completion = Some(Completion {
                        resolution: "done".into(),
                        signed_by: None,
                        first_time_fix: true,
                        by: p.office.user,
                        device: p.office.device,
                        at: NOW,
                    })
                },
                |p| p.office,
                Some("completion"),
            ),
            (
                "office adds a part",
                |wo, p| act(wo, part(), &p.tech),
                |p| p.office,
                Some("part_usages"),
            ),
            (
                "office changes creation time",
                |wo, _| wo.created_at = NOW.plus_minutes(-60),
                |p| p.office,
                Some("created_at"),
            ),
            (
                "admin repairs a record",
                |wo, p| act(wo, part(), &p.admin),
                |p| p.admin,
                None,
            ),
            (
                "admin changes the channel",
                |wo, _| wo.channel = IntakeChannel::Web,
                |p| p.admin,
                Some("channel"),
            ),
        ];
        let p = people();
        for (what, edit, who, refused) in cases {
            let before = in_progress(&p);
            let mut after = before.clone();
            edit(&mut after, &p);
            let result = check_edit(Some(&before), &after, &who(&p));
            match refused {
                None => assert!(result.is_ok(), "{what}: {result:?}"),
                Some(field) => {
                    let violations = result.expect_err(what);
                    assert!(
                        violations.iter().any(|v| v.field.starts_with(field)),
                        "{what}: expected {field}, got {violations:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn entries_are_append_only_and_never_forged() {
        let p = people();
        let mut before = in_progress(&p);
        act(&mut before, part(), &p.tech);

        let mut edited = before.clone();
        edited.part_usages[0].quantity = 5;
        let v = check_edit(Some(&before), &edited, &p.tech).expect_err("edited");
        assert!(v[0].rule.contains("never changed"), "{v:?}");

        let mut removed = before.clone();
        removed.status_events.remove(1);
        let v = check_edit(Some(&before), &removed, &p.tech).expect_err("removed");
        assert!(v[0].rule.contains("never removed"), "{v:?}");

        // A part recorded in another technician's name.
        let mut forged = before.clone();
        act(&mut forged, part(), &p.tech);
        if let Some(usage) = forged.part_usages.last_mut() {
            usage.by = p.other_tech.user;
            usage.device = p.other_tech.device;
        }
        let v = check_edit(Some(&before), &forged, &p.tech).expect_err("forged");
        assert!(v[0].rule.contains("someone else"), "{v:?}");

        // A status event claiming to come from the office.
        let mut claimed = before.clone();
        let mut event = before.status_events[0].clone();
        event.id = EntryId::new();
        event.by = p.tech.user;
        event.device = p.tech.device;
        claimed.status_events.push(event);
        let v = check_edit(Some(&before), &claimed, &p.tech).expect_err("role claimed");
        assert!(
            v.iter().any(|v| v.rule.contains("made by a dispatcher")),
            "{v:?}"
        );

        // Someone else's completion stays theirs.
        let mut completed = before.clone();
        act(&mut completed, done(), &p.tech);
        let mut replaced = completed.clone();
        if let Some(c) = replaced.completion.as_mut() {
            c.by = p.other_tech.user;
            c.device = p.other_tech.device;
            c.resolution = "mine".into();
        }
        let v = check_edit(Some(&completed), &replaced, &p.other_tech).expect_err("replaced");
        assert!(v[0].rule.contains("someone else"), "{v:?}");
        let mut erased = completed.clone();
        erased.completion = None;
        let v = check_edit(Some(&completed), &erased, &p.tech).expect_err("erased");
        assert!(v[0].rule.contains("cannot be removed"), "{v:?}");
    }

    fn photo() -> Action {
        Action::Attach(crate::attachment::NewAttachment {
            sha256: crate::attachment::BlobHash::from_digest(&[7; 32]),
            kind: crate::attachment::AttachmentKind::Photo,
            content_type: "image/jpeg".into(),
            size: 1234,
            file_name: "IMG_0001.jpg".into(),
        })
    }

    #[test]
    fn technician_and_office_attach_but_never_in_someone_elses_name() {
        let p = people();
        let before = in_progress(&p);
        for who in [&p.tech, &p.office, &p.admin] {
            let mut after = before.clone();
            act(&mut after, photo(), who);
            assert_eq!(after.attachments.len(), 1);
            assert_eq!(after.attachments[0].added_by, who.user);
            assert!(check_edit(Some(&before), &after, who).is_ok(), "{who:?}");
            assert_eq!(describe_edit(Some(&before), &after), "attachments +1");
        }
        // Another technician's job is not theirs to attach to.
        let mut attempt = before.clone();
        let err = apply_action(&mut attempt, &photo(), &p.other_tech, NOW).expect_err("other");
        assert!(
            matches!(err, crate::actions::ActionError::NotAssignee { .. }),
            "{err}"
        );

        let mut with = before.clone();
        act(&mut with, photo(), &p.tech);
        let mut forged = with.clone();
        forged.attachments[0].added_by = p.other_tech.user;
        let v = check_edit(Some(&before), &forged, &p.tech).expect_err("forged");
        assert!(v[0].field.starts_with("attachments"), "{v:?}");
        let mut removed = with.clone();
        removed.attachments.clear();
        let v = check_edit(Some(&with), &removed, &p.office).expect_err("removed");
        assert!(v[0].rule.contains("never removed"), "{v:?}");
        let mut swapped = with.clone();
        swapped.attachments[0].sha256 = crate::attachment::BlobHash::from_digest(&[8; 32]);
        let v = check_edit(Some(&with), &swapped, &p.tech).expect_err("swapped");
        assert!(v[0].rule.contains("never changed"), "{v:?}");

        let mut bad = before.clone();
        let Action::Attach(mut new) = photo() else {
            unreachable!()
        };
        new.size = 0;
        new.content_type = "jpeg".into();
        new.file_name = "../etc/passwd".into();
        let err = apply_action(&mut bad, &Action::Attach(new), &p.tech, NOW).expect_err("bad");
        let text = err.to_string();
        for field in ["size", "content_type", "file_name"] {
            assert!(text.contains(&format!("attachments[0].{field}")), "{text}");
        }
    }

    #[test]
    fn only_the_office_creates_and_only_in_its_own_name() {
        let p = people();
        let wo = create_work_order(WorkOrderId::new(), intake(p.tech.user), &p.office, NOW)
            .expect("create");
        assert!(check_edit(None, &wo, &p.office).is_ok());
        let v = check_edit(None, &wo, &p.tech).expect_err("technician creates");
        assert!(v[0].rule.contains("only the office"), "{v:?}");
        let v = check_edit(None, &wo, &actor(Role::Dispatcher)).expect_err("other creator");
        assert!(v.iter().any(|v| v.field == "created_by"), "{v:?}");

        let mut with_work = wo.clone();
        act(&mut with_work, part(), &p.tech);
        let v = check_edit(None, &with_work, &p.office).expect_err("field work at creation");
        assert!(
            v.iter().any(|v| v.field.starts_with("part_usages")),
            "{v:?}"
        );
    }

    #[test]
    fn edits_are_described_for_the_audit_trail() {
        let p = people();
        let before = in_progress(&p);
        let mut after = before.clone();
        act(&mut after, part(), &p.tech);
        act(&mut after, done(), &p.tech);
        assert_eq!(
            describe_edit(Some(&before), &after),
            "status_events +completed, part_usages +1, completion"
        );
        assert_eq!(describe_edit(None, &after), "created");
        assert_eq!(
            touched_fields(Some(&before), &after),
            vec!["status_events", "part_usages", "completion"]
        );
    }
}
