//! Office edits made through the JSON API: real Automerge changes made under the server's own
//! actor and committed like pushed changes (with no origin device), so every device pulls them.

use automerge::ActorId;
use fieldsync_proto::{
    Action, ActionError, Actor, DocumentError, NewWorkOrder, Timestamp, WorkOrder,
    WorkOrderDocument, WorkOrderId,
};

use super::push::audit_accepted;
use super::MAX_COMMIT_ATTEMPTS;
use crate::error::Error;
use crate::storage::{CommitOutcome, DocumentCommit, NewChange, Seq, SharedStorage};

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

/// Creates a work order from an intake; returns it as stored, with its version.
pub async fn create(
    storage: &SharedStorage,
    server_actor: &ActorId,
    actor: &Actor,
    new: NewWorkOrder,
    now: Timestamp,
) -> Result<(WorkOrder, Seq), Error> {
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
        let (summary, sla, usages, entries) = DocumentCommit::derived(&wo, now);
        let commit = DocumentCommit {
            doc: id,
            expected: None,
            snapshot: doc.save(),
            summary,
            sla,
            usages,
            entries,
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
        CommitOutcome::Committed(seq) => Ok((wo, seq)),
        CommitOutcome::VersionConflict => Err(Error::Internal(format!(
            "a fresh work order id {id} was already taken"
        ))),
    }
}

/// Whether an action sets a plain field that a concurrent edit of the same field would lose
/// (so it must not be applied to a version its author did not see). Actions that append
/// entries merge with whatever happened meanwhile, and the status fold sorts out the order.
fn overwrites_plain_fields(action: &Action) -> bool {
    matches!(
        action,
        Action::Assign { .. } | Action::Reschedule { .. } | Action::Classify { .. }
    )
}

/// Refuses an overwriting action decided on `expected` when the work order is at `current`,
/// unless it would change nothing.
fn check_stale(
    action: &Action,
    expected: Option<Seq>,
    current: Seq,
    number: &str,
    wo: &WorkOrder,
) -> Result<(), Error> {
    let Some(expected) = expected.filter(|e| *e != current) else {
        return Ok(());
    };
    if !overwrites_plain_fields(action) {
        return Ok(());
    }
    if let Action::Assign { technician } = action {
        if wo.assignee == Some(*technician) {
            return Ok(());
        }
    }
    let assignee = match wo.assignee {
        Some(user) => format!("assigned to user {user}"),
        None => "unassigned".to_owned(),
    };
    Err(Error::Stale {
        message: format!(
            "work order {number} changed since version {} you decided on (it is at version {} now: {}, {assignee}); reload it and {} again",
            expected.0,
            current.0,
            wo.status(),
            action.name()
        ),
        current_version: current.0,
    })
}

/// Performs one action on a stored work order; returns it as stored afterwards, with its
/// version. With `expected`, an action that overwrites plain fields is refused if the work
/// order changed since that version; other actions merge with the changes made meanwhile.
pub async fn act(
    storage: &SharedStorage,
    server_actor: &ActorId,
    actor: &Actor,
    id: WorkOrderId,
    action: Action,
    expected: Option<Seq>,
    now: Timestamp,
) -> Result<(WorkOrder, Seq), Error> {
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
            check_stale(&action, expected, version, &stored.summary.number, &before)?;
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
            let (summary, sla, usages, entries) = DocumentCommit::derived(&wo, now);
            let commit = DocumentCommit {
                doc: id,
                expected: Some(version),
                snapshot: doc.save(),
                summary,
                sla,
                usages,
                entries,
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
            CommitOutcome::Committed(seq) => return Ok((wo, seq)),
            CommitOutcome::VersionConflict => {
                tracing::debug!(%id, attempt, "work order changed during an office edit; redoing it")
            }
        }
    }
    Err(Error::Internal(format!(
        "work order {id} kept changing during an office edit ({MAX_COMMIT_ATTEMPTS} attempts)"
    )))
}
