//! Push: merging the changes a device uploads into the stored document, acknowledged only
//! after the commit is durable.
//!
//! Changes are checked one by one, in the order the device made them: each is merged, and the
//! work order it leaves must be valid and differ from the one before only in fields the pusher
//! owns (`fieldsync_proto::rules`). The changes before the first refused one are stored; that one
//! and the rest are refused, and the device re-applies its later edits on the server's version.
//!
//! A technician may push only to work orders that are or were assigned to them. Any other id,
//! whether it exists or not, gets the very same answer, so pushing reveals nothing.

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::Arc;

use futures_util::{StreamExt, TryStreamExt};

use fieldsync_proto::api::AuditKind;
use fieldsync_proto::wire::{ChangeBytes, ErrorCode, PushDoc, PushOutcome, PushResult, Rejection};
use fieldsync_proto::{
    human_number, rules, Actor, BlobHash, DocumentError, EntryId, Timestamp, WorkOrder,
    WorkOrderDocument, WorkOrderId,
};

use super::cache::{DocumentCache, HotDocument};
use super::merger::{MergeFailed, MergeThreads};
use super::MAX_COMMIT_ATTEMPTS;
use crate::blobs::SharedBlobStore;
use crate::error::Error;
use crate::storage::{
    entry_ids, CommitOutcome, DocumentCommit, NewAuditEntry, NewChange, Seq, SharedStorage,
    StoredDocument,
};

/// What to do with one pushed document, decided without touching storage.
#[derive(Debug)]
pub enum PushPlan {
    /// Every change was already stored: an acknowledged retry.
    AlreadyStored,
    /// Nothing is stored; the refusal is recorded in the audit trail.
    Reject {
        rejection: Rejection,
        audit: Vec<NewAuditEntry>,
    },
    /// A change was refused, and rebuilding the accepted state needs the stored bytes, which
    /// the in-memory base was planned without: plan again on `Base::Stored`.
    NeedsStoredBytes,
    /// Store the commit (the accepted changes); then answer `rejection` if one was refused.
    Commit {
        commit: Box<DocumentCommit>,
        new_changes: u32,
        rejection: Option<Rejection>,
        /// Blobs the stored work order references, for the blob reference index.
        attachments: Vec<BlobHash>,
    },
}

/// The state a push is merged into.
pub enum Base<'a> {
    /// Nothing is stored: the push creates the document.
    New,
    /// The stored document, to load from its bytes.
    Stored(&'a StoredDocument),
    /// The stored document already in memory at `stored.version` (whose `snapshot` may then be
    /// left empty).
    Hot(&'a StoredDocument, Box<HotDocument>),
}

impl<'a> Base<'a> {
    fn stored(&self) -> Option<&'a StoredDocument> {
        match self {
            Base::New => None,
            Base::Stored(s) | Base::Hot(s, _) => Some(*s),
        }
    }
}

/// A plan, and the document as it will be once the plan's commit (if any) is stored: worth
/// keeping in memory for the next push.
pub struct Planned {
    pub plan: PushPlan,
    pub result: Option<Kept>,
}

/// A document as stored once a plan is carried out.
pub struct Kept {
    pub doc: WorkOrderDocument,
    /// The work order it holds.
    pub work_order: WorkOrder,
    /// Its stored bytes.
    pub stored: Vec<u8>,
}

/// Changes appended to a stored save before a commit saves the whole document again: each one
/// appended spares a push encoding and compressing the whole document; each one stored costs a
/// load of those bytes one more change to apply. The limit differs from one document to the
/// next within this range, so that documents edited in step (a fleet syncing on the same
/// schedule, say) do not all come due for a whole save in the same moment: 500 of them at once
/// stalled every sync for about 300 ms.
pub const APPENDED_CHANGES: std::ops::RangeInclusive<usize> = 4..=11;

/// How many changes document `id` keeps appended past its save, within `APPENDED_CHANGES`.
pub fn appended_limit(id: &WorkOrderId) -> usize {
    let span = APPENDED_CHANGES.end() - APPENDED_CHANGES.start() + 1;
    // The last byte of an id is random, whatever its version.
    APPENDED_CHANGES.start() + usize::from(id.0.as_bytes()[15]) % span
}

/// The stored bytes `stored` with `new` appended, while that keeps them within `limit` changes
/// past their save; `None` when the document should be saved whole instead.
fn appended(stored: &[u8], new: &[NewChange], limit: usize) -> Option<Vec<u8>> {
    let chunks = fieldsync_proto::count_chunks(stored)?;
    if chunks == 0 || chunks - 1 + new.len() > limit {
        return None;
    }
    let mut bytes =
        Vec::with_capacity(stored.len() + new.iter().map(|c| c.bytes.len()).sum::<usize>());
    bytes.extend_from_slice(stored);
    for change in new {
        bytes.extend_from_slice(&change.bytes);
    }
    Some(bytes)
}

/// Whether the pusher may write to the document at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Granted,
    /// A technician's push to a work order that is not and never was theirs, or that does not
    /// exist: both are answered alike.
    NotTheirs,
}

/// The one answer for every work order a technician may not write, existing or not. It names
/// the number derived from the id they sent, and nothing else.
fn not_theirs(id: &WorkOrderId) -> Rejection {
    Rejection {
        code: ErrorCode::Forbidden,
        message: format!(
            "work order {}: it is not one of your work orders; nothing of it was stored",
            human_number(id)
        ),
        accepted: 0,
    }
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Builds the audit entries of one push, all naming the pusher and the document.
struct AuditLog<'a> {
    actor: &'a Actor,
    id: WorkOrderId,
    now: Timestamp,
    entries: Vec<NewAuditEntry>,
}

impl AuditLog<'_> {
    fn add(&mut self, kind: AuditKind, device_time: Option<Timestamp>, detail: String) {
        self.entries.push(NewAuditEntry {
            user: Some(self.actor.user),
            device: Some(self.actor.device),
            doc: Some(self.id),
            number: Some(human_number(&self.id)),
            device_time,
            ..NewAuditEntry::new(kind, self.now, detail)
        });
    }
}

/// Audit entries of an accepted edit from `before` to `after`: the change, and an assignment
/// if the assignee changed.
pub fn audit_accepted(
    log: &mut Vec<NewAuditEntry>,
    actor: &Actor,
    before: Option<&WorkOrder>,
    after: &WorkOrder,
    detail: String,
    device_time: Option<Timestamp>,
    now: Timestamp,
) {
    let mut audit = AuditLog {
        actor,
        id: after.id,
        now,
        entries: std::mem::take(log),
    };
    audit.add(AuditKind::ChangeAccepted, device_time, detail);
    let previous = before.and_then(|b| b.assignee);
    if after.assignee != previous {
        let name =
            |a: Option<fieldsync_proto::UserId>| a.map_or("nobody".to_owned(), |u| u.to_string());
        let what = if previous.is_some() {
            "reassigned"
        } else {
            "assigned"
        };
        audit.add(
            AuditKind::Assigned,
            device_time,
            format!("{what} from {} to {}", name(previous), name(after.assignee)),
        );
    }
    *log = audit.entries;
}

fn unreadable(stored: &StoredDocument, e: DocumentError) -> Error {
    Error::Internal(format!(
        "stored work order {} is unreadable: {e}",
        stored.summary.number
    ))
}

/// Merges `changes` one by one into the stored state of `id` (or a new document), checking
/// each, and plans what to store and answer.
pub fn plan_push(
    stored: Option<&StoredDocument>,
    access: Access,
    id: WorkOrderId,
    changes: &[ChangeBytes],
    actor: &Actor,
    now: Timestamp,
) -> Result<PushPlan, Error> {
    let base = match stored {
        Some(s) => Base::Stored(s),
        None => Base::New,
    };
    plan(base, access, id, changes, actor, now).map(|p| p.plan)
}

/// `plan_push` on any base, also returning the resulting document.
pub fn plan(
    base: Base<'_>,
    access: Access,
    id: WorkOrderId,
    changes: &[ChangeBytes],
    actor: &Actor,
    now: Timestamp,
) -> Result<Planned, Error> {
    let stored = base.stored();
    let mut audit = AuditLog {
        actor,
        id,
        now,
        entries: Vec::new(),
    };
    if access == Access::NotTheirs {
        let rejection = not_theirs(&id);
        audit.add(
            AuditKind::ChangeRejected,
            None,
            format!("{}: not the pusher's work order", rejection.code),
        );
        return Ok(Planned {
            plan: PushPlan::Reject {
                rejection,
                audit: audit.entries,
            },
            result: None,
        });
    }
    // The stored bytes loaded afresh; `None` when the plan was made without them.
    let load = || match stored {
        Some(s) if s.snapshot.is_empty() => Ok(None),
        Some(s) => WorkOrderDocument::load(&s.snapshot)
            .map(Some)
            .map_err(|e| unreadable(s, e)),
        None => WorkOrderDocument::load_chunks(std::iter::empty())
            .map(Some)
            .map_err(Error::internal),
    };
    // The bytes stored at the base version: what a commit appends its changes to.
    let (mut doc, mut before, base_bytes) = match base {
        Base::Hot(_, hot) => {
            let HotDocument {
                doc,
                work_order,
                stored,
                ..
            } = *hot;
            (doc, Some(work_order), Cow::Owned(stored))
        }
        Base::Stored(s) => {
            let doc = WorkOrderDocument::load(&s.snapshot).map_err(|e| unreadable(s, e))?;
            let wo = doc.read().map_err(|e| unreadable(s, e))?;
            (doc, Some(wo), Cow::Borrowed(&s.snapshot[..]))
        }
        Base::New => (
            load()?.ok_or_else(|| Error::internal("no empty document"))?,
            None,
            Cow::Borrowed(&[][..]),
        ),
    };
    // The stored version's commit recorded its entries: this one records only the new ones.
    let recorded: HashSet<EntryId> = before
        .as_ref()
        .map(|wo| entry_ids(wo).collect())
        .unwrap_or_default();
    let heads = doc.heads();
    doc.track_changes();

    let mut refused: Option<(usize, ErrorCode, String)> = None;
    for (index, change) in changes.iter().enumerate() {
        let merged = match doc.apply_change(&change.0) {
            Ok(merged) => merged,
            Err(e @ DocumentError::MissingDependencies { .. }) => {
                refused = Some((index, ErrorCode::MissingDependencies, e.to_string()));
                break;
            }
            Err(e) => {
                refused = Some((index, ErrorCode::ChangeUndecodable, e.to_string()));
                break;
            }
        };
        if !merged.new {
            continue; // Stored before: a retry.
        }
        // Only the fields this change touched are read and checked again.
        let checked = match before.as_ref() {
            Some(previous) => doc.read_changed(previous, id),
            None => doc.read_valid(id).and_then(|wo| {
                doc.check_shape(&wo)?;
                doc.track_changes();
                Ok(wo)
            }),
        };
        let after = match checked {
            Ok(wo) => wo,
            Err(e) => {
                refused = Some((index, ErrorCode::InvalidDocument, e.to_string()));
                break;
            }
        };
        if let Err(violations) = rules::check_edit(before.as_ref(), &after, actor) {
            let list: Vec<String> = violations.iter().map(ToString::to_string).collect();
            refused = Some((
                index,
                ErrorCode::FieldNotWritable,
                format!(
                    "a {} may not make this change: {}",
                    actor.role,
                    list.join("; ")
                ),
            ));
            break;
        }
        let detail = rules::describe_edit(before.as_ref(), &after);
        audit_accepted(
            &mut audit.entries,
            actor,
            before.as_ref(),
            &after,
            detail,
            merged.made_at,
            now,
        );
        before = Some(after);
    }

    let rejection = match refused {
        None => None,
        Some((index, code, reason)) => {
            let when = fieldsync_proto::change_made_at(&changes[index].0);
            audit.add(AuditKind::ChangeRejected, when, format!("{code}: {reason}"));
            // A refused change may have been half taken in (queued for missing
            // dependencies): rebuild the accepted state from the stored one.
            let Some(pristine) = load()? else {
                return Ok(Planned {
                    plan: PushPlan::NeedsStoredBytes,
                    result: None,
                });
            };
            doc = pristine;
            doc.apply_changes(&changes[..index])
                .map_err(|e| Error::Internal(format!("accepted changes no longer merge: {e}")))?;
            let stored_part = if index == 0 {
                "nothing of this document was stored".to_owned()
            } else {
                format!("the {index} change(s) before it were stored, it and the rest were not")
            };
            Some(Rejection {
                code,
                message: format!(
                    "work order {}: change {} of {} was refused: {reason}; {stored_part}",
                    human_number(&id),
                    index + 1,
                    changes.len()
                ),
                accepted: count(index),
            })
        }
    };

    let new_changes: Vec<NewChange> = match doc.try_changes_since(&heads) {
        Ok(changes) => changes
            .into_iter()
            .map(|(hash, bytes)| NewChange { hash, bytes })
            .collect(),
        // The merge took the changes in but left a document whose changes cannot be listed:
        // nothing of it is stored.
        Err(e) => {
            let rejection = Rejection {
                code: ErrorCode::ChangeUndecodable,
                message: format!(
                    "work order {}: the changes could not be merged: {e}; nothing of this document was stored",
                    human_number(&id)
                ),
                accepted: 0,
            };
            audit.add(
                AuditKind::ChangeRejected,
                None,
                format!("{}: {e}", rejection.code),
            );
            return Ok(Planned {
                plan: PushPlan::Reject {
                    rejection,
                    audit: audit.entries,
                },
                result: None,
            });
        }
    };
    let Some(wo) = before.as_ref().filter(|_| !new_changes.is_empty()) else {
        let plan = match rejection {
            Some(rejection) => PushPlan::Reject {
                rejection,
                audit: audit.entries,
            },
            None => PushPlan::AlreadyStored,
        };
        return Ok(Planned {
            plan,
            result: before.map(|work_order| Kept {
                doc,
                work_order,
                stored: base_bytes.into_owned(),
            }),
        });
    };
    let attachments = wo.attachments.iter().map(|a| a.sha256.clone()).collect();
    let (summary, sla, usages, entries) = DocumentCommit::derived_since(wo, &recorded, now);
    let snapshot =
        appended(&base_bytes, &new_changes, appended_limit(&id)).unwrap_or_else(|| doc.save());
    let commit = Box::new(DocumentCommit {
        doc: id,
        expected: stored.map(|s| s.version),
        snapshot: snapshot.clone(),
        summary,
        sla,
        usages,
        entries,
        changes: new_changes,
        origin: Some(actor.device),
        received_at: now,
        known_by: stored.is_none().then_some(actor.device),
        audit: audit.entries,
    });
    Ok(Planned {
        plan: PushPlan::Commit {
            attachments,
            new_changes: count(commit.changes.len()),
            commit,
            rejection,
        },
        result: before.map(|work_order| Kept {
            doc,
            work_order,
            stored: snapshot,
        }),
    })
}

/// Documents of one push in flight at the same time: while some wait for their commit, others
/// are merged, and the waiting commits share one durable write (SQLite's group commit). A
/// commit waits 10–15 ms in a push of hundreds of documents: enough documents must be in
/// flight that the merges do not run out of work meanwhile.
const PUSH_IN_FLIGHT: usize = 64;

/// Pushes every document, several at a time, merged on `merges`' threads; the results keep
/// the order of `docs`. A rejected document does not stop the others; a storage failure stops
/// the request (what was committed stays, and a retry is idempotent).
/// A document listed twice is pushed in order, one at a time, since its later changes may
/// depend on its earlier ones.
pub async fn push_all(
    storage: &SharedStorage,
    cache: &Arc<DocumentCache>,
    merges: &MergeThreads,
    blobs: Option<&SharedBlobStore>,
    actor: &Actor,
    docs: Vec<PushDoc>,
    now: Timestamp,
) -> Result<Vec<PushResult>, Error> {
    let mut seen = std::collections::HashSet::with_capacity(docs.len());
    let distinct = docs.iter().all(|push| seen.insert(push.doc));
    let in_flight = if distinct { PUSH_IN_FLIGHT } else { 1 };
    let pushes = docs
        .into_iter()
        .enumerate()
        .map(|(index, push)| async move {
            let doc = push.doc;
            let outcome = push_one(storage, cache, merges, blobs, actor, push, now).await?;
            match &outcome {
                PushOutcome::Accepted { new_changes } => {
                    tracing::debug!(%doc, new_changes, "push accepted")
                }
                PushOutcome::Rejected(r) => {
                    tracing::info!(%doc, code = %r.code, message = %r.message, "push rejected")
                }
            }
            Ok::<_, Error>((index, PushResult { doc, outcome }))
        });
    // Unordered, so that one document waiting long for its commit does not hold a place that
    // documents finished after it would keep taking up.
    let mut results: Vec<(usize, PushResult)> = futures_util::stream::iter(pushes)
        .buffer_unordered(in_flight)
        .try_collect()
        .await?;
    results.sort_unstable_by_key(|(index, _)| *index);
    Ok(results.into_iter().map(|(_, result)| result).collect())
}

/// Adds a committed work order's attachments to the blob reference index. A failure is only
/// logged: the commit stands, and downloads of a technician's own jobs look into the documents.
pub async fn record_references(
    blobs: Option<&SharedBlobStore>,
    doc: WorkOrderId,
    hashes: &[BlobHash],
) {
    let Some(blobs) = blobs.filter(|_| !hashes.is_empty()) else {
        return;
    };
    if let Err(e) = blobs.add_references(doc, hashes).await {
        tracing::error!(%doc, error = %e, "could not index the attachments of a work order");
    }
}

/// Whether `actor` may push to the stored document at all.
async fn access(
    storage: &SharedStorage,
    actor: &Actor,
    id: WorkOrderId,
    stored: Option<&StoredDocument>,
) -> Result<Access, Error> {
    if actor.role.is_office() {
        return Ok(Access::Granted);
    }
    let granted = match stored {
        None => false,
        Some(s) if s.summary.assignee == Some(actor.user) => true,
        // A previous assignee still uploads the work done while the job was theirs.
        Some(_) => storage.was_assigned(id, actor.user).await?,
    };
    Ok(if granted {
        Access::Granted
    } else {
        Access::NotTheirs
    })
}

/// The stored state of `id` and, when the cache holds that very version, the document in
/// memory (the stored bytes are then not read at all).
async fn load_base(
    storage: &SharedStorage,
    cache: &DocumentCache,
    id: WorkOrderId,
    use_cache: bool,
) -> Result<(Option<StoredDocument>, Option<HotDocument>), Error> {
    let known = cache.version(id).filter(|_| use_cache);
    let Some(known) = known else {
        return Ok((storage.load_document(id).await?, None));
    };
    let stored = storage.load_document_unless(id, known).await?;
    match stored {
        Some(s) if s.snapshot.is_empty() => match cache.take(id, s.version) {
            Some(hot) => Ok((Some(s), Some(hot))),
            // Taken by a concurrent push meanwhile: read the bytes after all.
            None => Ok((storage.load_document(id).await?, None)),
        },
        other => {
            cache.forget(id);
            Ok((other, None))
        }
    }
}

/// Pushes merged on the request's own thread: at most this many changes, of at most this many
/// bytes in all, on a document held in memory whose stored bytes are at most this long. Such a
/// merge takes about a tenth of a millisecond, less than handing it to a blocking thread and
/// back costs under load.
const IN_PLACE_CHANGES: usize = 2;
const IN_PLACE_BYTES: usize = 8 * 1024;
const IN_PLACE_DOCUMENT_BYTES: usize = 64 * 1024;

/// Whether `changes`, pushed to `hot`, are merged without leaving the request's thread.
fn merges_in_place(hot: Option<&HotDocument>, changes: &[ChangeBytes]) -> bool {
    hot.is_some_and(|h| h.stored.len() <= IN_PLACE_DOCUMENT_BYTES)
        && changes.len() <= IN_PLACE_CHANGES
        && changes.iter().map(|c| c.0.len()).sum::<usize>() <= IN_PLACE_BYTES
}

/// The answer to a push the document library panicked on, recorded in the audit trail.
async fn crashed(
    storage: &SharedStorage,
    actor: &Actor,
    id: WorkOrderId,
    now: Timestamp,
) -> Result<PushOutcome, Error> {
    tracing::error!(%id, "merging pushed changes panicked");
    let rejection = Rejection {
        code: ErrorCode::ChangeUndecodable,
        message: format!(
            "work order {}: the server could not process these changes; nothing of this document was stored",
            human_number(&id)
        ),
        accepted: 0,
    };
    let mut audit = AuditLog {
        actor,
        id,
        now,
        entries: Vec::new(),
    };
    audit.add(
        AuditKind::ChangeRejected,
        None,
        format!("{}: the changes crashed the merge", rejection.code),
    );
    storage.append_audit(audit.entries).await?;
    Ok(PushOutcome::Rejected(rejection))
}

async fn push_one(
    storage: &SharedStorage,
    cache: &Arc<DocumentCache>,
    merges: &MergeThreads,
    blobs: Option<&SharedBlobStore>,
    actor: &Actor,
    push: PushDoc,
    now: Timestamp,
) -> Result<PushOutcome, Error> {
    let id = push.doc;
    let changes = Arc::new(push.changes);
    let mut use_cache = true;
    let mut attempt = 0;
    while attempt < MAX_COMMIT_ATTEMPTS {
        let (stored, hot) = load_base(storage, cache, id, use_cache).await?;
        let access = access(storage, actor, id, stored.as_ref()).await?;
        let (changes, actor) = (changes.clone(), *actor);
        let in_place = merges_in_place(hot.as_ref(), &changes);
        let merge = move || {
            let base = match (&stored, hot) {
                (None, _) => Base::New,
                (Some(s), Some(hot)) => Base::Hot(s, Box::new(hot)),
                (Some(s), None) => Base::Stored(s),
            };
            let planned = plan(base, access, id, &changes, &actor, now);
            (planned, stored.map(|s| s.version))
        };
        let merged = if in_place {
            // A change or two on a document in memory: handing that to another thread would
            // cost more than the merge itself.
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(merge))
                .map_err(|_| MergeFailed::Panicked)
        } else {
            // Merging and validating is CPU work proportional to the document: keep it off the
            // async workers, and no more of it at once than there are cores.
            merges.run(merge).await
        };
        let (planned, version) = match merged {
            Ok((planned, version)) => (planned?, version),
            // Input that makes the document library fail this badly is refused like any
            // other bad change, so that the device stops retrying it.
            Err(MergeFailed::Panicked) => return crashed(storage, &actor, id, now).await,
            Err(MergeFailed::Stopped) => {
                return Err(Error::internal("the server is shutting down; push again"))
            }
        };
        let keep = |version: Seq, result: Option<Kept>| {
            if let Some(kept) = result {
                cache.put(HotDocument {
                    version,
                    doc: kept.doc,
                    work_order: kept.work_order,
                    stored: kept.stored,
                });
            }
        };
        match planned.plan {
            PushPlan::NeedsStoredBytes => {
                use_cache = false;
                continue;
            }
            PushPlan::AlreadyStored => {
                if let Some(version) = version {
                    keep(version, planned.result);
                }
                return Ok(PushOutcome::Accepted { new_changes: 0 });
            }
            PushPlan::Reject { rejection, audit } => {
                if let Some(version) = version {
                    keep(version, planned.result);
                }
                storage.append_audit(audit).await?;
                return Ok(PushOutcome::Rejected(rejection));
            }
            PushPlan::Commit {
                commit,
                new_changes,
                rejection,
                attachments,
            } => match storage.commit(*commit).await? {
                CommitOutcome::Committed(seq) => {
                    keep(seq, planned.result);
                    record_references(blobs, id, &attachments).await;
                    return Ok(match rejection {
                        Some(rejection) => PushOutcome::Rejected(rejection),
                        None => PushOutcome::Accepted { new_changes },
                    });
                }
                CommitOutcome::VersionConflict => {
                    tracing::debug!(%id, attempt, "work order changed while merging; merging again")
                }
            },
        }
        attempt += 1;
    }
    Err(Error::Internal(format!(
        "work order {} kept changing while a push was merged ({MAX_COMMIT_ATTEMPTS} attempts)",
        human_number(&id)
    )))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use fieldsync_proto::{
        Action, Asset, Contact, Customer, CustomerTier, DeviceId, Impact, IntakeChannel,
        NewWorkOrder, ProblemCategory, Role, Site, Urgency, UserId, WorkOrderSummary,
    };

    fn actor(role: Role) -> Actor {
        Actor {
            user: UserId::new(),
            role,
            device: DeviceId::new(),
        }
    }

    /// An office intake as the push tests (and the document cache's) use it.
    pub(crate) fn intake(assignee: Option<UserId>) -> NewWorkOrder {
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
        match plan_push(None, Access::Granted, id, &creation, &office, now).expect("plan") {
            PushPlan::Commit {
                commit,
                new_changes,
                ..
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
        // A technician may not create it: they are told exactly what they would be told about
        // someone else's work order.
        match plan_push(None, Access::NotTheirs, id, &creation, &tech, now).expect("plan") {
            PushPlan::Reject { rejection, audit } => {
                assert_eq!(rejection, not_theirs(&id));
                assert_eq!(audit[0].kind, AuditKind::ChangeRejected);
            }
            other => panic!("expected a rejection, got {other:?}"),
        }

        let current = stored(&mut doc, 7, now);
        // Retrying what is stored changes nothing.
        assert!(matches!(
            plan_push(Some(&current), Access::Granted, id, &creation, &office, now).expect("plan"),
            PushPlan::AlreadyStored
        ));
        // The assignee's change is merged on top of version 7; a stranger's is refused.
        let (_, accept) = doc.act(&Action::Accept, &tech, now).expect("accept");
        let push = vec![ChangeBytes(accept.bytes)];
        match plan_push(Some(&current), Access::Granted, id, &push, &tech, now).expect("plan") {
            PushPlan::Commit {
                commit, rejection, ..
            } => {
                assert_eq!(commit.expected, Some(crate::storage::Seq(7)));
                assert_eq!(commit.known_by, None);
                assert_eq!(commit.summary.status, fieldsync_proto::Status::Accepted);
                assert_eq!(rejection, None);
                assert_eq!(commit.audit.len(), 1);
                assert_eq!(commit.audit[0].detail, "status_events +accepted");
                assert_eq!(commit.audit[0].device, Some(tech.device));
            }
            other => panic!("expected a commit, got {other:?}"),
        }
        let _ = stranger;
    }

    /// A work order the office made for a technician, as the server holds it: when, the
    /// technician, its id and the document.
    fn assigned_job() -> (Timestamp, Actor, WorkOrderId, WorkOrderDocument) {
        let now = Timestamp(1_700_000_000_000);
        let office = actor(Role::Dispatcher);
        let tech = actor(Role::Technician);
        let id = WorkOrderId::new();
        let (server, _, _) =
            WorkOrderDocument::create(id, intake(Some(tech.user)), &office, now).expect("create");
        (now, tech, id, server)
    }

    #[test]
    fn the_valid_prefix_is_stored_and_the_first_forbidden_change_refused() {
        let (now, tech, id, mut server) = assigned_job();
        let current = stored(&mut server, 3, now);
        let mut device = WorkOrderDocument::load(&server.save()).expect("copy");
        let (_, accept) = device.act(&Action::Accept, &tech, now).expect("accept");
        // The technician's app, tampered with, raises the urgency as if it were the office.
        let pretend = Actor {
            role: Role::Dispatcher,
            ..tech
        };
        let classify = Action::Classify {
            category: fieldsync_proto::ProblemCategory::Hardware,
            urgency: Urgency::Emergency,
            impact: Impact::OneUnit,
            tier: None,
        };
        let (_, raise) = device.act(&classify, &pretend, now).expect("classify");
        let (_, notes) = device
            .act(
                &Action::EditNotes {
                    text: "gate 4".into(),
                },
                &tech,
                now,
            )
            .expect("notes");
        let push: Vec<ChangeBytes> = [accept, raise, notes]
            .into_iter()
            .map(|c| ChangeBytes(c.bytes))
            .collect();
        match plan_push(Some(&current), Access::Granted, id, &push, &tech, now).expect("plan") {
            PushPlan::Commit {
                commit,
                new_changes,
                rejection,
                ..
            } => {
                assert_eq!(new_changes, 1, "only the acceptance");
                assert_eq!(commit.summary.status, fieldsync_proto::Status::Accepted);
                let stored_doc = WorkOrderDocument::load(&commit.snapshot).expect("load");
                let wo = stored_doc.read().expect("read");
                assert_eq!(wo.urgency, Urgency::Minor, "the urgency is not raised");
                assert_eq!(wo.notes.as_str(), "", "nothing after the refusal");
                let r = rejection.expect("refused");
                assert_eq!(r.code, ErrorCode::FieldNotWritable);
                assert_eq!(r.accepted, 1);
                assert!(r.message.contains("urgency"), "{}", r.message);
                assert!(r.message.contains("change 2 of 3"), "{}", r.message);
                let kinds: Vec<_> = commit.audit.iter().map(|a| a.kind).collect();
                assert_eq!(
                    kinds,
                    vec![AuditKind::ChangeAccepted, AuditKind::ChangeRejected]
                );
            }
            other => panic!("expected a partial commit, got {other:?}"),
        }
        // Refused first: nothing is stored.
        match plan_push(Some(&current), Access::Granted, id, &push[1..], &tech, now).expect("plan")
        {
            PushPlan::Reject { rejection, .. } => {
                assert_eq!(rejection.accepted, 0);
                assert!(rejection
                    .message
                    .contains("nothing of this document was stored"));
            }
            other => panic!("expected a rejection, got {other:?}"),
        }
    }

    fn part(number: &str) -> Action {
        Action::RecordPartUsage(fieldsync_proto::NewPartUsage {
            part_number: number.into(),
            quantity: 1,
            source_location: "VAN-7".into(),
            serial: None,
            refurbished: false,
        })
    }

    fn repair() -> Action {
        Action::AddRepairRecord(fieldsync_proto::NewRepairRecord {
            diagnosis: "element burnt out".into(),
            action_taken: "replaced it".into(),
            measurements: Vec::new(),
        })
    }

    /// The technician's changes for `actions`, made on a copy of `server`.
    fn device_changes(
        server: &mut WorkOrderDocument,
        tech: &Actor,
        actions: &[Action],
        now: Timestamp,
    ) -> Vec<ChangeBytes> {
        let mut device = WorkOrderDocument::load(&server.save()).expect("copy");
        actions
            .iter()
            .map(|a| ChangeBytes(device.act(a, tech, now).expect("act").1.bytes))
            .collect()
    }

    fn committed(plan: PushPlan) -> DocumentCommit {
        match plan {
            PushPlan::Commit { commit, .. } => *commit,
            other => panic!("expected a commit, got {other:?}"),
        }
    }

    #[test]
    fn only_a_few_small_changes_to_a_document_in_memory_are_merged_in_place() {
        let (now, tech, _, mut server) = assigned_job();
        let current = stored(&mut server, 1, now);
        let work_order = server.read().expect("read");
        let hot = |stored_len: usize| HotDocument {
            version: current.version,
            doc: WorkOrderDocument::load(&current.snapshot).expect("load"),
            work_order: work_order.clone(),
            stored: vec![0; stored_len],
        };
        let one = device_changes(&mut server, &tech, &[part("HEAT-1")], now);
        let three = device_changes(
            &mut server,
            &tech,
            &[part("HEAT-1"), part("HEAT-2"), part("HEAT-3")],
            now,
        );
        let small = hot(current.snapshot.len());
        assert!(merges_in_place(Some(&small), &one));
        assert!(!merges_in_place(None, &one), "the document is read first");
        assert!(!merges_in_place(Some(&small), &three), "too many changes");
        let big_change = vec![ChangeBytes(vec![0; IN_PLACE_BYTES + 1])];
        assert!(
            !merges_in_place(Some(&small), &big_change),
            "too many bytes"
        );
        let big_document = hot(IN_PLACE_DOCUMENT_BYTES + 1);
        assert!(
            !merges_in_place(Some(&big_document), &one),
            "too big a document"
        );
    }

    #[test]
    fn documents_come_due_for_a_whole_save_after_different_numbers_of_changes() {
        let limits: std::collections::BTreeSet<usize> = (0..200)
            .map(|_| appended_limit(&WorkOrderId::new()))
            .collect();
        assert!(
            limits.iter().all(|l| APPENDED_CHANGES.contains(l)),
            "{limits:?}"
        );
        assert!(
            limits.len() >= 6,
            "200 documents edited in step would save together: {limits:?}"
        );
        let id = WorkOrderId::new();
        assert_eq!(
            appended_limit(&id),
            appended_limit(&id),
            "fixed per document"
        );
    }

    #[test]
    fn a_commit_appends_its_changes_to_the_stored_bytes_until_a_whole_save_is_due() {
        let (now, tech, id, mut server) = assigned_job();
        for step in [
            Action::Accept,
            Action::StartTravel,
            Action::Arrive,
            Action::StartWork,
        ] {
            server.act(&step, &tech, now).expect("step");
        }
        let mut current = stored(&mut server, 1, now);
        let mut past_save = 0;
        for round in 0..5u64 {
            let parts: Vec<Action> = (0..3).map(|k| part(&format!("P-{round}-{k}"))).collect();
            let push = device_changes(&mut server, &tech, &parts, now);
            let commit = committed(
                plan_push(Some(&current), Access::Granted, id, &push, &tech, now).expect("plan"),
            );
            let chunks = fieldsync_proto::count_chunks(&commit.snapshot).expect("whole chunks");
            if past_save + push.len() <= appended_limit(&id) {
                past_save += push.len();
                assert_eq!(chunks, 1 + past_save, "round {round}");
                assert!(commit.snapshot.starts_with(&current.snapshot));
            } else {
                past_save = 0;
                assert_eq!(chunks, 1, "round {round}: saved whole");
            }
            // Either way the stored bytes are the document with the pushed work.
            server
                .apply_changes(&push)
                .expect("the server has the work");
            let loaded = WorkOrderDocument::load(&commit.snapshot)
                .and_then(|d| d.read())
                .expect("read");
            assert_eq!(loaded, server.read().expect("read"));
            current = StoredDocument {
                id,
                snapshot: commit.snapshot,
                version: crate::storage::Seq(round + 2),
                summary: commit.summary,
            };
        }
        assert!(
            past_save > 0,
            "appending started again after the whole save"
        );
    }

    #[test]
    fn a_commit_carries_only_the_entries_new_since_the_stored_version() {
        let now = Timestamp(1_700_000_000_000);
        let office = actor(Role::Dispatcher);
        let tech = actor(Role::Technician);
        let id = WorkOrderId::new();
        let (mut server, created_wo, created) =
            WorkOrderDocument::create(id, intake(Some(tech.user)), &office, now).expect("create");

        // A new document carries all it holds.
        let creation = vec![ChangeBytes(created.bytes)];
        let first =
            committed(plan_push(None, Access::Granted, id, &creation, &office, now).expect("plan"));
        let all: Vec<_> = entry_ids(&created_wo).collect();
        assert!(!all.is_empty());
        assert_eq!(first.entries, all);

        // On top of a stored version: only what the pushed changes added.
        let current = stored(&mut server, 5, now);
        let push = device_changes(
            &mut server,
            &tech,
            &[
                Action::Accept,
                Action::StartTravel,
                Action::Arrive,
                Action::StartWork,
                part("HEAT-1"),
            ],
            now,
        );
        let work = committed(
            plan_push(Some(&current), Access::Granted, id, &push, &tech, now).expect("plan"),
        );
        let wo = WorkOrderDocument::load(&work.snapshot)
            .and_then(|d| d.read())
            .expect("read");
        let added: Vec<_> = wo.status_events[created_wo.status_events.len()..]
            .iter()
            .map(|e| e.id)
            .chain(wo.part_usages.iter().map(|u| u.id))
            .collect();
        assert_eq!(added.len(), 5, "four status events and a part usage");
        assert_eq!(work.entries, added);
        assert_eq!(
            work.usages.iter().map(|u| u.id).collect::<Vec<_>>(),
            vec![wo.part_usages[0].id]
        );

        // One entry appended to that: the commit carries that one entry and nothing else.
        server
            .apply_changes(&push)
            .expect("the server has the work");
        let current = stored(&mut server, 6, now);
        let push = device_changes(&mut server, &tech, &[repair()], now);
        let one = committed(
            plan_push(Some(&current), Access::Granted, id, &push, &tech, now).expect("plan"),
        );
        let wo = WorkOrderDocument::load(&one.snapshot)
            .and_then(|d| d.read())
            .expect("read");
        assert_eq!(one.entries, vec![wo.repair_records[0].id]);
        assert!(one.usages.is_empty(), "the part usage was recorded before");
    }

    /// The ledger and the receipts after a job's pushes, each stored with whole lists or with
    /// only what is new, must be the very same rows.
    #[tokio::test]
    async fn commits_of_new_entries_only_store_the_same_rows_as_whole_lists() {
        use crate::storage::{SqliteStorage, Storage};

        let office = actor(Role::Dispatcher);
        let tech = actor(Role::Technician);
        let id = WorkOrderId::new();
        let start = Timestamp(1_700_000_000_000);
        let (mut device, _, created) =
            WorkOrderDocument::create(id, intake(Some(tech.user)), &office, start).expect("create");
        let mut pushes = vec![(office, vec![ChangeBytes(created.bytes)])];
        for actions in [
            vec![Action::Accept],
            vec![Action::StartTravel, Action::Arrive, Action::StartWork],
            vec![part("HEAT-1")],
            vec![part("HEAT-2"), repair(), part("SEAL-3")],
            vec![Action::Hold {
                reason: fieldsync_proto::HoldReason::WaitingForParts,
                note: None,
            }],
            vec![Action::Resume, repair()],
        ] {
            let changes = actions
                .iter()
                .map(|a| ChangeBytes(device.act(a, &tech, start).expect("act").1.bytes))
                .collect();
            pushes.push((tech, changes));
        }
        // A retry of a push already stored changes nothing.
        pushes.push(pushes[3].clone());

        let dir = tempfile::tempdir().expect("tempdir");
        let mut stores = Vec::new();
        let mut carried = Vec::new();
        for (n, whole_lists) in [true, false].into_iter().enumerate() {
            let store = SqliteStorage::open(dir.path().join(format!("{n}.db")))
                .await
                .expect("open");
            let mut entries_carried = 0;
            for (i, (pusher, changes)) in pushes.iter().enumerate() {
                let now = Timestamp(start.0 + 60_000 * i as i64);
                let current = store.load_document(id).await.expect("load");
                let access = Access::Granted;
                let plan =
                    plan_push(current.as_ref(), access, id, changes, pusher, now).expect("plan");
                let mut commit = match plan {
                    PushPlan::AlreadyStored => continue,
                    plan => committed(plan),
                };
                if whole_lists {
                    let wo = WorkOrderDocument::load(&commit.snapshot)
                        .and_then(|d| d.read())
                        .expect("read");
                    let (_, _, usages, entries) = DocumentCommit::derived(&wo, now);
                    (commit.usages, commit.entries) = (usages, entries);
                }
                entries_carried += commit.entries.len();
                assert!(matches!(
                    store.commit(commit).await.expect("commit"),
                    CommitOutcome::Committed(_)
                ));
            }
            let mut ledger = store.stock_movements(None).await.expect("ledger");
            ledger.sort_by_key(|m| m.id);
            let receipts = store.entry_receipts(id).await.expect("receipts");
            stores.push((ledger, receipts));
            carried.push(entries_carried);
        }
        let (whole, new_only) = (&stores[0], &stores[1]);
        assert_eq!(whole.0.len(), 3, "three part usages");
        assert_eq!(new_only, whole);
        let times: std::collections::HashSet<_> = whole.1.values().collect();
        assert!(times.len() > 3, "entries were received at different times");
        assert!(
            carried[1] < carried[0],
            "only new entries: {} carried, whole lists: {}",
            carried[1],
            carried[0]
        );
    }
}
