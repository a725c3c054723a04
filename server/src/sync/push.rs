//! Push: merging the changes a device uploads into the stored document, one document at a
//! time, all or nothing per document, acknowledged only after the commit is durable.

use std::sync::Arc;

use fieldsync_proto::wire::{ChangeBytes, ErrorCode, PushDoc, PushOutcome, PushResult, Rejection};
use fieldsync_proto::{
    human_number, Actor, DocumentError, Timestamp, WorkOrderDocument, WorkOrderId, WorkOrderSummary,
};

use super::MAX_COMMIT_ATTEMPTS;
use crate::error::Error;
use crate::storage::{CommitOutcome, DocumentCommit, NewChange, SharedStorage, StoredDocument};

/// What to do with one pushed document, decided without touching storage.
#[derive(Debug)]
pub enum PushPlan {
    /// Every change was already stored: an acknowledged retry.
    AlreadyStored,
    Reject(Rejection),
    Commit {
        commit: Box<DocumentCommit>,
        new_changes: u32,
    },
}

fn reject(id: &WorkOrderId, code: ErrorCode, reason: impl std::fmt::Display) -> PushPlan {
    PushPlan::Reject(Rejection {
        code,
        message: format!(
            "work order {}: {reason}; nothing of this document was stored",
            human_number(id)
        ),
        accepted: 0,
    })
}

/// Who may change what, for now: the office anything; a technician only work orders that
/// were assigned to them before the change, and no new ones.
fn permission(actor: &Actor, before: Option<&WorkOrderSummary>) -> Result<(), &'static str> {
    if actor.role.is_office() {
        return Ok(());
    }
    match before {
        None => Err("technicians cannot create work orders; the office creates them"),
        Some(summary) if summary.assignee == Some(actor.user) => Ok(()),
        Some(_) => Err("it is not assigned to you, so you cannot change it"),
    }
}

/// Merges `changes` into the stored state of `id` (or a new document) and checks the result.
pub fn plan_push(
    stored: Option<&StoredDocument>,
    id: WorkOrderId,
    changes: &[ChangeBytes],
    actor: &Actor,
    now: Timestamp,
) -> Result<PushPlan, Error> {
    let mut doc = match stored {
        Some(s) => WorkOrderDocument::load(&s.snapshot).map_err(|e| {
            Error::Internal(format!(
                "stored work order {} is unreadable: {e}",
                s.summary.number
            ))
        })?,
        None => WorkOrderDocument::load_chunks(std::iter::empty()).map_err(Error::internal)?,
    };
    let heads = doc.heads();
    let new = match doc.apply_changes(changes) {
        Ok(new) => new,
        Err(e @ DocumentError::MissingDependencies { .. }) => {
            return Ok(reject(&id, ErrorCode::MissingDependencies, e))
        }
        Err(e) => return Ok(reject(&id, ErrorCode::ChangeUndecodable, e)),
    };
    if new.is_empty() {
        return Ok(PushPlan::AlreadyStored);
    }
    let wo = match doc.read_valid(id) {
        Ok(wo) => wo,
        Err(e) => return Ok(reject(&id, ErrorCode::InvalidDocument, e)),
    };
    if let Err(why) = permission(actor, stored.map(|s| &s.summary)) {
        return Ok(reject(&id, ErrorCode::Forbidden, why));
    }
    let changes: Vec<NewChange> = doc
        .changes_since(&heads)
        .into_iter()
        .map(|(hash, bytes)| NewChange { hash, bytes })
        .collect();
    let new_changes = u32::try_from(changes.len()).unwrap_or(u32::MAX);
    Ok(PushPlan::Commit {
        commit: Box::new(DocumentCommit {
            doc: id,
            expected: stored.map(|s| s.version),
            snapshot: doc.save(),
            summary: WorkOrderSummary::new(&wo, now),
            changes,
            origin: Some(actor.device),
            received_at: now,
            known_by: stored.is_none().then_some(actor.device),
            audit: Vec::new(),
        }),
        new_changes,
    })
}

/// Pushes every document in turn. A rejected document does not stop the others; a storage
/// failure stops the request (what was committed before stays, and a retry is idempotent).
pub async fn push_all(
    storage: &SharedStorage,
    actor: &Actor,
    docs: Vec<PushDoc>,
    now: Timestamp,
) -> Result<Vec<PushResult>, Error> {
    let mut results = Vec::with_capacity(docs.len());
    for push in docs {
        let doc = push.doc;
        let outcome = push_one(storage, actor, push, now).await?;
        match &outcome {
            PushOutcome::Accepted { new_changes } => {
                tracing::debug!(%doc, new_changes, "push accepted")
            }
            PushOutcome::Rejected(r) => {
                tracing::info!(%doc, code = %r.code, message = %r.message, "push rejected")
            }
        }
        results.push(PushResult { doc, outcome });
    }
    Ok(results)
}

async fn push_one(
    storage: &SharedStorage,
    actor: &Actor,
    push: PushDoc,
    now: Timestamp,
) -> Result<PushOutcome, Error> {
    let id = push.doc;
    let changes = Arc::new(push.changes);
    for attempt in 1..=MAX_COMMIT_ATTEMPTS {
        let stored = storage.load_document(id).await?;
        let (changes, actor) = (changes.clone(), *actor);
        // Merging and validating is CPU work proportional to the document: keep it off the
        // async workers.
        let planned = tokio::task::spawn_blocking(move || {
            plan_push(stored.as_ref(), id, &changes, &actor, now)
        })
        .await;
        let plan = match planned {
            Ok(plan) => plan?,
            // Input that makes the document library fail this badly is refused like any
            // other bad change, so that the device stops retrying it.
            Err(e) if e.is_panic() => {
                tracing::error!(%id, "merging pushed changes panicked");
                return Ok(PushOutcome::Rejected(Rejection {
                    code: ErrorCode::ChangeUndecodable,
                    message: format!(
                        "work order {}: the server could not process these changes; nothing of this document was stored",
                        human_number(&id)
                    ),
                    accepted: 0,
                }));
            }
            Err(e) => return Err(Error::internal(e)),
        };
        match plan {
            PushPlan::AlreadyStored => return Ok(PushOutcome::Accepted { new_changes: 0 }),
            PushPlan::Reject(rejection) => return Ok(PushOutcome::Rejected(rejection)),
            PushPlan::Commit {
                commit,
                new_changes,
            } => match storage.commit(*commit).await? {
                CommitOutcome::Committed(_) => return Ok(PushOutcome::Accepted { new_changes }),
                CommitOutcome::VersionConflict => {
                    tracing::debug!(%id, attempt, "work order changed while merging; merging again")
                }
            },
        }
    }
    Err(Error::Internal(format!(
        "work order {} kept changing while a push was merged ({MAX_COMMIT_ATTEMPTS} attempts)",
        human_number(&id)
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use fieldsync_proto::{
        Action, Asset, Contact, Customer, CustomerTier, DeviceId, Impact, IntakeChannel,
        NewWorkOrder, ProblemCategory, Role, Site, Urgency, UserId,
    };

    fn actor(role: Role) -> Actor {
        Actor {
            user: UserId::new(),
            role,
            device: DeviceId::new(),
        }
    }

    fn intake(assignee: Option<UserId>) -> NewWorkOrder {
        NewWorkOrder {
            channel: IntakeChannel::Phone,
            customer: Customer {
                id: Default::default(),
                name: "Harbor Bakery".into(),
                tier: CustomerTier::Basic,
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
            urgency: Urgency::Minor,
            impact: Impact::OneUnit,
            description: "Oven does not heat".into(),
            schedule: None,
            assignee,
        }
    }

    fn stored(doc: &mut WorkOrderDocument, version: u64, now: Timestamp) -> StoredDocument {
        let wo = doc.read().expect("read");
        StoredDocument {
            id: wo.id,
            snapshot: doc.save(),
            version: crate::storage::Seq(version),
            summary: WorkOrderSummary::new(&wo, now),
        }
    }

    #[test]
    fn plans_commit_retry_and_refusal_without_storage() {
        let now = Timestamp(1_700_000_000_000);
        let office = actor(Role::Dispatcher);
        let tech = actor(Role::Technician);
        let stranger = actor(Role::Technician);
        let id = WorkOrderId::new();
        let (mut doc, _, created) =
            WorkOrderDocument::create(id, intake(Some(tech.user)), &office, now).expect("create");
        let creation = vec![ChangeBytes(created.bytes.clone())];

        // The office creates it: a commit of one change, known to the creating device.
        match plan_push(None, id, &creation, &office, now).expect("plan") {
            PushPlan::Commit {
                commit,
                new_changes,
            } => {
                assert_eq!(new_changes, 1);
                assert_eq!(commit.expected, None);
                assert_eq!(commit.known_by, Some(office.device));
                assert_eq!(commit.origin, Some(office.device));
                assert_eq!(commit.changes[0].hash, created.hash);
                assert_eq!(commit.summary.assignee, Some(tech.user));
            }
            other => panic!("expected a commit, got {other:?}"),
        }
        // A technician may not create it.
        assert!(matches!(
            plan_push(None, id, &creation, &tech, now).expect("plan"),
            PushPlan::Reject(Rejection {
                code: ErrorCode::Forbidden,
                ..
            })
        ));

        let current = stored(&mut doc, 7, now);
        // Retrying what is stored changes nothing.
        assert!(matches!(
            plan_push(Some(&current), id, &creation, &office, now).expect("plan"),
            PushPlan::AlreadyStored
        ));
        // The assignee's change is merged on top of version 7; a stranger's is refused.
        let (_, accept) = doc.act(&Action::Accept, &tech, now).expect("accept");
        let push = vec![ChangeBytes(accept.bytes)];
        match plan_push(Some(&current), id, &push, &tech, now).expect("plan") {
            PushPlan::Commit { commit, .. } => {
                assert_eq!(commit.expected, Some(crate::storage::Seq(7)));
                assert_eq!(commit.known_by, None);
                assert_eq!(commit.summary.status, fieldsync_proto::Status::Accepted);
            }
            other => panic!("expected a commit, got {other:?}"),
        }
        match plan_push(Some(&current), id, &push, &stranger, now).expect("plan") {
            PushPlan::Reject(r) => {
                assert_eq!(r.code, ErrorCode::Forbidden);
                assert!(r.message.contains(&human_number(&id)), "{}", r.message);
            }
            other => panic!("expected a rejection, got {other:?}"),
        }
    }
}
