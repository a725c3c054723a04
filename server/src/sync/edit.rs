//! Office edits made through the JSON API: real Automerge changes made under the server's own
//! actor and committed like pushed changes (with no origin device), so every device pulls them.

use automerge::ActorId;
use fieldsync_proto::{
    Action, ActionError, Actor, DocumentError, NewWorkOrder, Timestamp, WorkOrder,
    WorkOrderDocument, WorkOrderId, WorkOrderSummary,
};

use super::push::audit_accepted;
use super::MAX_COMMIT_ATTEMPTS;
use crate::error::Error;
use crate::storage::{CommitOutcome, DocumentCommit, NewChange, SharedStorage};

pub fn from_document_error(e: DocumentError) -> Error {
    match e {
        DocumentError::Action(e) => match e {
            ActionError::WrongStatus { .. } => Error::Conflict(e.to_string()),
            ActionError::FieldWorkOnly { .. }
            | ActionError::OfficeOnly { .. }
            | ActionError::NotAssignee { .. } => Error::Forbidden(e.to_string()),
            ActionError::Invalid { ref violations, .. } => match violations.0.first() {
                Some(first) => Error::field(first.field.clone(), e.to_string()),
                None => Error::InvalidInput(e.to_string()),
            },
        },
        other => Error::Internal(other.to_string()),
    }
}

/// Creates a work order from an intake; returns it as stored.
pub async fn create(
    storage: &SharedStorage,
    server_actor: &ActorId,
    actor: &Actor,
    new: NewWorkOrder,
    now: Timestamp,
) -> Result<WorkOrder, Error> {
    let id = WorkOrderId::new();
    let (server_actor, actor) = (server_actor.clone(), *actor);
    let (commit, wo) = tokio::task::spawn_blocking(move || {
        let (mut doc, wo, change) =
            WorkOrderDocument::create_with_actor(id, new, &actor, server_actor, now)
                .map_err(from_document_error)?;
        let mut audit = Vec::new();
        audit_accepted(
            &mut audit,
            &actor,
            None,
            &wo,
            "create (office API)".into(),
            Some(now),
            now,
        );
        let commit = DocumentCommit {
            doc: id,
            expected: None,
            snapshot: doc.save(),
            summary: WorkOrderSummary::new(&wo, now),
            sla: fieldsync_proto::SlaFacts::new(&wo.derive(now).sla, now),
            changes: vec![NewChange {
                hash: change.hash,
                bytes: change.bytes,
            }],
            origin: None,
            received_at: now,
            known_by: None,
            audit,
        };
        Ok::<_, Error>((commit, wo))
    })
    .await
    .map_err(Error::internal)??;
    match storage.commit(commit).await? {
        CommitOutcome::Committed(_) => Ok(wo),
        CommitOutcome::VersionConflict => Err(Error::Internal(format!(
            "a fresh work order id {id} was already taken"
        ))),
    }
}

/// Performs one action on a stored work order; returns it as stored afterwards.
pub async fn act(
    storage: &SharedStorage,
    server_actor: &ActorId,
    actor: &Actor,
    id: WorkOrderId,
    action: Action,
    now: Timestamp,
) -> Result<WorkOrder, Error> {
    for attempt in 1..=MAX_COMMIT_ATTEMPTS {
        let stored = storage
            .load_document(id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("there is no work order with id {id}")))?;
        let version = stored.version;
        let (server_actor, actor, action) = (server_actor.clone(), *actor, action.clone());
        let (commit, wo) = tokio::task::spawn_blocking(move || {
            let mut doc = WorkOrderDocument::load(&stored.snapshot).map_err(|e| {
                Error::Internal(format!(
                    "stored work order {} is unreadable: {e}",
                    stored.summary.number
                ))
            })?;
            doc.set_actor(server_actor);
            let before = doc.read().map_err(from_document_error)?;
            let (wo, change) = doc.act(&action, &actor, now).map_err(from_document_error)?;
            let mut audit = Vec::new();
            let detail = format!(
                "{} (office API): {}",
                action.name(),
                fieldsync_proto::rules::describe_edit(Some(&before), &wo)
            );
            audit_accepted(
                &mut audit,
                &actor,
                Some(&before),
                &wo,
                detail,
                Some(now),
                now,
            );
            let commit = DocumentCommit {
                doc: id,
                expected: Some(version),
                snapshot: doc.save(),
                summary: WorkOrderSummary::new(&wo, now),
                sla: fieldsync_proto::SlaFacts::new(&wo.derive(now).sla, now),
                changes: vec![NewChange {
                    hash: change.hash,
                    bytes: change.bytes,
                }],
                origin: None,
                received_at: now,
                known_by: None,
                audit,
            };
            Ok::<_, Error>((commit, wo))
        })
        .await
        .map_err(Error::internal)??;
        match storage.commit(commit).await? {
            CommitOutcome::Committed(_) => return Ok(wo),
            CommitOutcome::VersionConflict => {
                tracing::debug!(%id, attempt, "work order changed during an office edit; redoing it")
            }
        }
    }
    Err(Error::Internal(format!(
        "work order {id} kept changing during an office edit ({MAX_COMMIT_ATTEMPTS} attempts)"
    )))
}
