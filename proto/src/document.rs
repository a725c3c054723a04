//! One work order as an Automerge document: load and save, typed reads, actions turned into
//! Automerge changes, and remote changes merged in. Pure: no I/O, no clock of its own.

use std::collections::BTreeMap;

use automerge::{ActorId, AutoCommit, Change, ChangeHash, LoadOptions, ReadDoc, TextEncoding};

use crate::actions::{
    apply_action, create_work_order, Action, ActionError, Actor, NewWorkOrder, Violations,
};
use crate::fields::reconcile_changed;
use crate::ids::{DeviceId, WorkOrderId};
use crate::snapshot::Snapshot;
use crate::time::Timestamp;
use crate::validation::validate;
use crate::work_order::WorkOrder;

#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    #[error("the stored document could not be read: {0}")]
    Corrupt(String),
    #[error("the document does not match the work order schema: {0}")]
    Schema(String),
    #[error("change {index} could not be decoded: {reason}")]
    BadChange { index: usize, reason: String },
    #[error("{missing} change(s) this document depends on are missing; upload the earlier changes first")]
    MissingDependencies { missing: usize },
    #[error("the document holds work order {found}, not {expected}")]
    WrongDocument {
        expected: WorkOrderId,
        found: WorkOrderId,
    },
    #[error("the document breaks the work order rules: {0}")]
    Invalid(Violations),
    /// The document holds more than, or other than, a work order (see `check_shape`).
    #[error("the document is not shaped like a work order: {0}")]
    Shape(String),
    /// The action was allowed but left the work order as it was, so there is no change to record.
    #[error("nothing to change: the work order already looks like that")]
    Unchanged,
    #[error(transparent)]
    Action(#[from] ActionError),
}

/// How text positions are counted. `autosurgeon::Text` splices at UTF-8 byte offsets, so
/// Automerge must count the same way: counted in code points (Automerge's default), an edit
/// of notes holding "ü" or "ß" landed in the wrong place or was refused as out of bounds.
const TEXT_ENCODING: TextEncoding = TextEncoding::Utf8CodeUnit;

/// One change merged by `WorkOrderDocument::apply_change`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MergedChange {
    /// Whether the document did not hold it before (`false`: a retry).
    pub new: bool,
    /// When the device made it, by its own clock (Automerge keeps whole seconds); `None` when
    /// the change carries no time.
    pub made_at: Option<Timestamp>,
}

/// When the device made a change, by its own clock, from the whole seconds Automerge keeps;
/// `None` when the change carries no time.
fn made_at(change: &Change) -> Option<Timestamp> {
    let seconds = change.timestamp();
    (seconds > 0).then(|| Timestamp(seconds.saturating_mul(1000)))
}

/// When the device made the change encoded in `bytes`; `None` for bytes that are no change or
/// a change without a time.
pub fn change_made_at(bytes: &[u8]) -> Option<Timestamp> {
    made_at(&Change::from_bytes(bytes.to_vec()).ok()?)
}

/// Decodes the bytes of change `index` of a batch.
fn decode_change(index: usize, bytes: &[u8]) -> Result<Change, DocumentError> {
    Change::from_bytes(bytes.to_vec()).map_err(|e| DocumentError::BadChange {
        index,
        reason: e.to_string(),
    })
}

/// Automerge actor of a device: its id's bytes, so every change names the device that made it.
pub fn actor_for(device: DeviceId) -> ActorId {
    ActorId::from(device.as_uuid().as_bytes().as_slice())
}

/// A change made locally: its hash and the bytes to keep in the outbox and send.
#[derive(Clone, PartialEq, Eq)]
pub struct LocalChange {
    pub hash: ChangeHash,
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for LocalChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LocalChange({}, {} bytes)", self.hash, self.bytes.len())
    }
}

pub struct WorkOrderDocument {
    doc: AutoCommit,
    /// Set by `set_actor`: later actions keep that actor instead of the acting device's.
    pinned_actor: bool,
}

impl std::fmt::Debug for WorkOrderDocument {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkOrderDocument").finish_non_exhaustive()
    }
}

impl WorkOrderDocument {
    /// Creates the document for a new work order, as one change made by `actor`.
    pub fn create(
        id: WorkOrderId,
        new: NewWorkOrder,
        actor: &Actor,
        now: Timestamp,
    ) -> Result<(Self, WorkOrder, LocalChange), DocumentError> {
        let wo = create_work_order(id, new, actor, now)?;
        let mut doc =
            AutoCommit::new_with_encoding(TEXT_ENCODING).with_actor(actor_for(actor.device));
        autosurgeon::reconcile(&mut doc, &wo).map_err(|e| DocumentError::Schema(e.to_string()))?;
        let mut this = Self {
            doc,
            pinned_actor: false,
        };
        let change = this.commit(now)?;
        Ok((this, wo, change))
    }

    /// Creates the document for a new work order with an explicit Automerge actor (the
    /// server's own, for work orders created through its API); later actions keep that actor.
    pub fn create_with_actor(
        id: WorkOrderId,
        new: NewWorkOrder,
        actor: &Actor,
        automerge_actor: ActorId,
        now: Timestamp,
    ) -> Result<(Self, WorkOrder, LocalChange), DocumentError> {
        let wo = create_work_order(id, new, actor, now)?;
        let mut doc = AutoCommit::new_with_encoding(TEXT_ENCODING).with_actor(automerge_actor);
        autosurgeon::reconcile(&mut doc, &wo).map_err(|e| DocumentError::Schema(e.to_string()))?;
        let mut this = Self {
            doc,
            pinned_actor: true,
        };
        let change = this.commit(now)?;
        Ok((this, wo, change))
    }

    /// Loads a document from a full save, or from concatenated saves and changes.
    pub fn load(bytes: &[u8]) -> Result<Self, DocumentError> {
        let doc =
            AutoCommit::load_with_options(bytes, LoadOptions::new().text_encoding(TEXT_ENCODING))
                .map_err(|e| DocumentError::Corrupt(e.to_string()))?;
        Ok(Self {
            doc,
            pinned_actor: false,
        })
    }

    /// Loads a document from stored chunks (a snapshot followed by incremental saves).
    /// Automerge 0.12 panics on some well-formed but inconsistent chunks; those are refused as
    /// corrupt like any other bad bytes.
    pub fn load_chunks<'a>(
        chunks: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<Self, DocumentError> {
        let mut chunks = chunks.into_iter();
        let first = chunks.next();
        // The rest merged in one go: Automerge applies them as one batch, several times
        // faster than one merge per chunk once a document has gathered many pieces.
        let rest: Vec<u8> = chunks.flatten().copied().collect();
        let loaded = std::panic::catch_unwind(|| {
            let mut doc = AutoCommit::new_with_encoding(TEXT_ENCODING);
            for bytes in first
                .into_iter()
                .chain((!rest.is_empty()).then_some(&rest[..]))
            {
                doc.load_incremental(bytes)
                    .map_err(|e| DocumentError::Corrupt(e.to_string()))?;
            }
            Ok::<_, DocumentError>(doc)
        })
        .map_err(|_| DocumentError::Corrupt("the stored changes are inconsistent".into()))?;
        Ok(Self {
            doc: loaded?,
            pinned_actor: false,
        })
    }

    /// An independent copy, as a new load of the same bytes would be: until an actor is set,
    /// its changes carry a new random one.
    pub fn fresh_copy(&self) -> Self {
        let mut doc = self.doc.clone();
        doc.set_actor(automerge::ActorId::random());
        Self {
            doc,
            pinned_actor: false,
        }
    }

    /// How many changes that changes held here build on are missing. A copy assembled from
    /// stored chunks that skipped a change loads without error, but the changes built on the
    /// missing one wait unapplied: such a copy is incomplete, and should be fetched again.
    pub fn missing_dependencies(&mut self) -> usize {
        self.doc.get_missing_deps(&[]).len()
    }

    /// Makes later local changes carry this device's actor id.
    pub fn set_device(&mut self, device: DeviceId) {
        self.pinned_actor = false;
        self.doc.set_actor(actor_for(device));
    }

    /// Uses an arbitrary actor id (the server's own, for office edits made through its API).
    /// Later actions keep it, whoever acts, so the server never reuses a device's actor and
    /// cannot produce a change that collides with one the device made offline.
    pub fn set_actor(&mut self, actor: ActorId) {
        self.pinned_actor = true;
        self.doc.set_actor(actor);
    }

    /// The typed work order.
    pub fn read(&self) -> Result<WorkOrder, DocumentError> {
        autosurgeon::hydrate(&Snapshot::take(&self.doc))
            .map_err(|e| DocumentError::Schema(e.to_string()))
    }

    /// Reads the work order and checks it is the expected one and keeps every rule.
    pub fn read_valid(&self, expected: WorkOrderId) -> Result<WorkOrder, DocumentError> {
        let wo = self.read()?;
        if wo.id != expected {
            return Err(DocumentError::WrongDocument {
                expected,
                found: wo.id,
            });
        }
        validate(&wo).map_err(|v| DocumentError::Invalid(Violations(v)))?;
        Ok(wo)
    }

    /// Checks that the document holds exactly `wo` (what `read` made of it): no keys a work
    /// order does not have, no values that reading converted. For documents from outside.
    pub fn check_shape(&self, wo: &WorkOrder) -> Result<(), DocumentError> {
        crate::shape::check(&Snapshot::take(&self.doc), wo).map_err(DocumentError::Shape)
    }

    /// Starts recording what later merges change, for `read_changed`.
    pub fn track_changes(&mut self) {
        self.doc.update_diff_cursor();
    }

    /// What `read_valid` and `check_shape` together make of the document, for a document whose
    /// work order was `previous` at the last `track_changes` or `read_changed`: only the fields
    /// merged changes touched since then are read and checked again, the rest are carried over.
    pub fn read_changed(
        &mut self,
        previous: &WorkOrder,
        expected: WorkOrderId,
    ) -> Result<WorkOrder, DocumentError> {
        let patches = self.doc.diff_incremental();
        let keys = match crate::fields::touched(&patches) {
            crate::fields::Touched::Keys(keys) => keys,
            crate::fields::Touched::Everything => {
                let wo = self.read_valid(expected)?;
                self.check_shape(&wo)?;
                return Ok(wo);
            }
        };
        let starts: BTreeMap<String, usize> = keys
            .iter()
            .map(|(key, change)| (key.clone(), previous.reread_start(key, *change)))
            .collect();
        let fields = |starts: &BTreeMap<String, usize>| {
            Snapshot::take_fields(&self.doc, starts.iter().map(|(k, n)| (k.as_str(), *n)))
        };
        let mut found = fields(&starts);
        let mut wo = previous.clone();
        let mut read_from = BTreeMap::new();
        for (key, change) in keys {
            let from = wo
                .reread_change(&found, &key, change)
                .map_err(|e| DocumentError::Schema(e.to_string()))?;
            let Some(from) = from else {
                return Err(DocumentError::Shape(format!(
                    ".{key} is not part of a work order"
                )));
            };
            read_from.insert(key, from);
        }
        if wo.id != expected {
            return Err(DocumentError::WrongDocument {
                expected,
                found: wo.id,
            });
        }
        validate(&wo).map_err(|v| DocumentError::Invalid(Violations(v)))?;
        // A list read whole after all (it held fewer entries than before) is copied whole.
        if read_from != starts {
            found = fields(&read_from);
        }
        crate::shape::check_fields(&found, &wo, &read_from).map_err(DocumentError::Shape)?;
        Ok(wo)
    }

    /// Performs an action and records it as one change; on refusal the document is unchanged.
    pub fn act(
        &mut self,
        action: &Action,
        actor: &Actor,
        now: Timestamp,
    ) -> Result<(WorkOrder, LocalChange), DocumentError> {
        let before = self.read()?;
        let mut wo = before.clone();
        apply_action(&mut wo, action, actor, now)?;
        if !self.pinned_actor {
            self.doc.set_actor(actor_for(actor.device));
        }
        if let Err(e) = reconcile_changed(&mut self.doc, &before, &wo) {
            self.doc.rollback();
            return Err(DocumentError::Schema(e.to_string()));
        }
        let change = self.commit(now)?;
        Ok((wo, change))
    }

    fn commit(&mut self, now: Timestamp) -> Result<LocalChange, DocumentError> {
        let options =
            automerge::transaction::CommitOptions::default().with_time(now.millis() / 1000);
        let hash = self
            .doc
            .commit_with(options)
            .ok_or(DocumentError::Unchanged)?;
        let bytes = self
            .doc
            .get_change_by_hash(&hash)
            .map(|c| c.raw_bytes().to_vec())
            .ok_or_else(|| DocumentError::Corrupt("a change just made cannot be found".into()))?;
        Ok(LocalChange { hash, bytes })
    }

    /// Merges encoded changes (each the bytes of one change). Returns the hashes that were new.
    /// After an error, load the document again: it may hold part of the batch.
    pub fn apply_changes(
        &mut self,
        changes: &[impl AsRef<[u8]>],
    ) -> Result<Vec<ChangeHash>, DocumentError> {
        let mut decoded = Vec::with_capacity(changes.len());
        for (index, bytes) in changes.iter().enumerate() {
            decoded.push(decode_change(index, bytes.as_ref())?);
        }
        self.merge_decoded(decoded)
    }

    /// Merges the bytes of one change, and tells whether it was new and when it was made. After
    /// an error, load the document again, as after `apply_changes`.
    pub fn apply_change(&mut self, bytes: &[u8]) -> Result<MergedChange, DocumentError> {
        let change = decode_change(0, bytes)?;
        let made_at = made_at(&change);
        let new = !self.merge_decoded(vec![change])?.is_empty();
        Ok(MergedChange { new, made_at })
    }

    fn merge_decoded(&mut self, decoded: Vec<Change>) -> Result<Vec<ChangeHash>, DocumentError> {
        let new: Vec<ChangeHash> = decoded
            .iter()
            .map(|c| c.hash())
            .filter(|h| self.doc.get_change_by_hash(h).is_none())
            .collect();
        // Automerge 0.12 panics on some well-formed but inconsistent changes (one naming an
        // actor the document does not know, say): refuse those like any bad change.
        let doc = &mut self.doc;
        let merged = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
            doc.apply_changes(decoded)
        }));
        match merged {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                return Err(DocumentError::BadChange {
                    index: 0,
                    reason: e.to_string(),
                })
            }
            Err(_) => {
                return Err(DocumentError::BadChange {
                    index: 0,
                    reason: "the changes refer to data this document does not have".into(),
                })
            }
        }
        let missing = self.doc.get_missing_deps(&[]);
        if !missing.is_empty() {
            return Err(DocumentError::MissingDependencies {
                missing: missing.len(),
            });
        }
        Ok(new)
    }

    /// Merges a full save or incremental save of the same document.
    pub fn merge_bytes(&mut self, bytes: &[u8]) -> Result<(), DocumentError> {
        self.doc
            .load_incremental(bytes)
            .map_err(|e| DocumentError::Corrupt(e.to_string()))?;
        Ok(())
    }

    pub fn has_change(&mut self, hash: &ChangeHash) -> bool {
        self.doc.get_change_by_hash(hash).is_some()
    }

    pub fn heads(&mut self) -> Vec<ChangeHash> {
        self.doc.get_heads()
    }

    /// Encoded changes made after `heads` (all changes when `heads` is empty).
    pub fn changes_since(&mut self, heads: &[ChangeHash]) -> Vec<(ChangeHash, Vec<u8>)> {
        self.doc
            .get_changes(heads)
            .into_iter()
            .map(|c| (c.hash(), c.raw_bytes().to_vec()))
            .collect()
    }

    /// `changes_since` for a document that took in changes from outside: Automerge 0.12 panics
    /// listing the changes of some documents that merged inconsistent input without an error
    /// (a missing dependency found only then); that is refused like any bad change.
    pub fn try_changes_since(
        &mut self,
        heads: &[ChangeHash],
    ) -> Result<Vec<(ChangeHash, Vec<u8>)>, DocumentError> {
        let doc = &mut self.doc;
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
            doc.get_changes(heads)
                .into_iter()
                .map(|c| (c.hash(), c.raw_bytes().to_vec()))
                .collect()
        }))
        .map_err(|_| DocumentError::BadChange {
            index: 0,
            reason: "the changes refer to data this document does not have".into(),
        })
    }

    /// The whole document, compacted.
    pub fn save(&mut self) -> Vec<u8> {
        self.doc.save()
    }

    /// Changes since the previous `save`/`save_incremental`, for appending to storage.
    pub fn save_incremental(&mut self) -> Vec<u8> {
        self.doc.save_incremental()
    }

    /// Number of changes in the document's history.
    pub fn change_count(&mut self) -> usize {
        self.doc.get_changes(&[]).len()
    }

    /// The Automerge document, for readers that need more than the typed view.
    pub fn automerge(&self) -> &AutoCommit {
        &self.doc
    }

    /// Whether the document is still empty (nothing loaded yet).
    pub fn is_empty(&self) -> bool {
        self.doc.length(automerge::ROOT) == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::NewPartUsage;
    use crate::classification::*;
    use crate::ids::UserId;
    use crate::status::Status;
    use crate::testing::{intake, someone};

    /// When the tests act.
    const NOW: Timestamp = Timestamp(1_700_000_000_000);

    /// A job an office person created and assigned to a technician: the technician, the office
    /// person, the job's id, its document and the work order it holds.
    fn assigned_job() -> (Actor, Actor, WorkOrderId, WorkOrderDocument, WorkOrder) {
        let (tech, office, id) = (
            someone(Role::Technician),
            someone(Role::Dispatcher),
            WorkOrderId::new(),
        );
        let (doc, wo, _) =
            WorkOrderDocument::create(id, intake(tech.user), &office, NOW).expect("create");
        (tech, office, id, doc, wo)
    }

    #[test]
    fn notes_with_umlauts_edit_and_merge_in_the_right_place() {
        let office = someone(Role::Dispatcher);
        let tech = someone(Role::Technician);
        let phone = Actor {
            device: DeviceId::new(),
            ..tech
        };
        let now = Timestamp(1_700_000_000_000);
        let (mut a, _, _) =
            WorkOrderDocument::create(WorkOrderId::new(), intake(tech.user), &office, now)
                .expect("create");
        let notes = |text: &str| Action::EditNotes { text: text.into() };
        // Refused as "index 4 is out of bounds" before: ü and ß are two bytes each.
        a.act(&notes("Grüße: Öfen prüfen"), &tech, now)
            .expect("umlauts");
        let mut b = WorkOrderDocument::load(&a.save()).expect("load");
        a.act(&notes("Grüße: beide Öfen prüfen"), &tech, now)
            .expect("insert in the middle");
        b.act(&notes("Grüße: Öfen prüfen, Dichtung tauschen"), &phone, now)
            .expect("append");
        a.merge_bytes(&b.save()).expect("merge");
        assert_eq!(
            a.read().expect("read").notes.as_str(),
            "Grüße: beide Öfen prüfen, Dichtung tauschen"
        );
    }

    #[test]
    fn a_long_note_is_written_in_one_splice() {
        let office = someone(Role::Dispatcher);
        let tech = someone(Role::Technician);
        let now = Timestamp(1_700_000_000_000);
        let (mut doc, _, _) =
            WorkOrderDocument::create(WorkOrderId::new(), intake(tech.user), &office, now)
                .expect("create");
        let text = "Kessel entkalkt. ".repeat(3_000);
        doc.act(&Action::EditNotes { text: text.clone() }, &tech, now)
            .expect("a 51 KB note");
        // Character by character this was millions of operations' work (minutes); one
        // splice is one operation per character, in one change.
        assert_eq!(doc.read().expect("read").notes.as_str(), text);
        assert!(doc.change_count() <= 2);
    }

    #[test]
    fn a_merged_change_tells_whether_it_was_new_and_when_the_device_made_it() {
        let (tech, _, _, mut doc, _) = assigned_job();
        let saved = doc.save();
        let made = Timestamp(NOW.0 + 90_000);
        let (_, change) = doc.act(&Action::Accept, &tech, made).expect("accept");
        let mut server = WorkOrderDocument::load(&saved).expect("load");
        let first = server.apply_change(&change.bytes).expect("merge");
        assert_eq!(
            first,
            MergedChange {
                new: true,
                made_at: Some(made),
            }
        );
        assert_eq!(server.read().expect("read").status(), Status::Accepted);
        let again = server.apply_change(&change.bytes).expect("retry");
        assert!(!again.new, "a change merged before is not new");
        assert!(matches!(
            server.apply_change(&change.bytes[..change.bytes.len() - 1]),
            Err(DocumentError::BadChange { .. })
        ));
    }

    #[test]
    fn a_change_with_any_one_byte_flipped_is_refused_or_merged_never_a_panic() {
        let tech = someone(Role::Technician);
        let office = someone(Role::Dispatcher);
        let now = Timestamp(1_700_000_000_000);
        let (mut doc, _, _) =
            WorkOrderDocument::create(WorkOrderId::new(), intake(tech.user), &office, now)
                .expect("create");
        let saved = doc.save();
        let (_, change) = doc.act(&Action::Accept, &tech, now).expect("accept");
        // Flipping one bit of the actor index once made Automerge panic (found by fuzzing).
        for at in 0..change.bytes.len() {
            for bit in [0x01u8, 0x80] {
                let mut bytes = change.bytes.clone();
                bytes[at] ^= bit;
                let mut target = WorkOrderDocument::load(&saved).expect("load");
                let _ = target.apply_changes(&[bytes]);
            }
        }
    }

    #[test]
    fn concurrent_appends_and_field_edits_merge() {
        let (tech, office, _, mut a, _) = assigned_job();
        let now = NOW;
        let mut b = WorkOrderDocument::load(&a.save()).expect("load");

        a.act(&Action::Accept, &tech, now).expect("accept");
        let part = Action::RecordPartUsage(NewPartUsage {
            part_number: "P-1".into(),
            quantity: 1,
            source_location: "VAN-1".into(),
            serial: None,
            refurbished: false,
        });
        a.act(&part, &tech, now).expect("part");
        b.act(
            &Action::Classify {
                category: ProblemCategory::Hardware,
                urgency: Urgency::Emergency,
                impact: Impact::OneUnit,
                tier: None,
            },
            &office,
            now,
        )
        .expect("classify");

        let from_a: Vec<Vec<u8>> = a.changes_since(&[]).into_iter().map(|(_, c)| c).collect();
        let from_b: Vec<Vec<u8>> = b.changes_since(&[]).into_iter().map(|(_, c)| c).collect();
        a.apply_changes(&from_b).expect("merge into a");
        b.apply_changes(&from_a).expect("merge into b");
        let (wa, wb) = (a.read().expect("a"), b.read().expect("b"));
        assert_eq!(wa, wb);
        assert_eq!(wa.status(), Status::Accepted);
        assert_eq!(wa.urgency, Urgency::Emergency);
        assert_eq!(wa.part_usages.len(), 1);
        // Applying the same changes again changes nothing.
        assert!(a.apply_changes(&from_b).expect("again").is_empty());
        assert_eq!(a.read().expect("a"), wa);
    }

    /// Merges every change of `source` since `heads` into `target` one at a time, reading each
    /// result both ways; returns the last reading.
    fn merge_reading_changed_fields(
        target: &mut WorkOrderDocument,
        previous: &mut WorkOrder,
        source: &mut WorkOrderDocument,
        heads: &[ChangeHash],
    ) -> Result<(), DocumentError> {
        for (_, change) in source.changes_since(heads) {
            target.apply_changes(&[change])?;
            let changed = target.read_changed(previous, previous.id)?;
            let whole = target.read_valid(previous.id)?;
            target.check_shape(&whole)?;
            assert_eq!(changed, whole, "reading only the touched fields differs");
            *previous = changed;
        }
        Ok(())
    }

    #[test]
    fn reading_only_the_touched_fields_matches_reading_everything() {
        let (tech, office, _, mut source, _) = assigned_job();
        let now = NOW;
        let mut target = WorkOrderDocument::load(&source.save()).expect("load");
        let mut previous = target.read().expect("read");
        target.track_changes();
        let heads = source.heads();
        let steps = [
            (Action::Accept, &tech),
            (Action::StartTravel, &tech),
            (Action::Arrive, &tech),
            (Action::StartWork, &tech),
            (
                Action::RecordPartUsage(NewPartUsage {
                    part_number: "P-1".into(),
                    quantity: 2,
                    source_location: "VAN-1".into(),
                    serial: Some("SN-9".into()),
                    refurbished: false,
                }),
                &tech,
            ),
            (
                Action::AddRepairRecord(crate::actions::NewRepairRecord {
                    diagnosis: "Thermostat failed".into(),
                    action_taken: "Replaced it".into(),
                    measurements: Vec::new(),
                }),
                &tech,
            ),
            (
                Action::EditNotes {
                    text: "Gate code 4711; Hund im Hof".into(),
                },
                &tech,
            ),
            (
                Action::EditNotes {
                    text: "Gate code 4712; Hund im Hof, freundlich".into(),
                },
                &tech,
            ),
            (
                Action::Classify {
                    category: ProblemCategory::Hardware,
                    urgency: Urgency::Emergency,
                    impact: Impact::OneUnit,
                    tier: Some(CustomerTier::Basic),
                },
                &office,
            ),
            (
                Action::Reschedule {
                    window: Some(crate::work_order::ScheduleWindow {
                        start: now.plus_minutes(60),
                        end: now.plus_minutes(120),
                    }),
                },
                &office,
            ),
            (
                Action::Complete {
                    resolution: "Heats again".into(),
                    signed_by: Some("Ines".into()),
                    first_time_fix: true,
                },
                &tech,
            ),
        ];
        for (action, actor) in &steps {
            source.act(action, actor, now).expect("act");
        }
        merge_reading_changed_fields(&mut target, &mut previous, &mut source, &heads)
            .expect("every change reads the same both ways");
        assert_eq!(previous.status(), Status::Completed);
        assert_eq!(
            previous.notes.as_str(),
            "Gate code 4712; Hund im Hof, freundlich"
        );
    }

    #[test]
    fn a_change_outside_the_schema_is_found_when_reading_only_what_it_touched() {
        use automerge::transaction::Transactable;
        use automerge::ROOT;
        let (_, _, id, source, wo) = assigned_job();
        let junk_change = |edit: &dyn Fn(&mut AutoCommit)| {
            let mut raw = source.automerge().clone();
            let heads = raw.get_heads();
            edit(&mut raw);
            raw.commit();
            let changes: Vec<Vec<u8>> = raw
                .get_changes(&heads)
                .into_iter()
                .map(|c| c.raw_bytes().to_vec())
                .collect();
            let mut target =
                WorkOrderDocument::load(&source.automerge().clone().save()).expect("load");
            target.track_changes();
            target.apply_changes(&changes).expect("merge");
            target.read_changed(&wo, id)
        };
        let junk = junk_change(&|d| {
            let obj = d
                .put_object(ROOT, "junk", automerge::ObjType::Map)
                .expect("put");
            d.put(&obj, "deeper", 1).expect("put");
        });
        assert!(
            matches!(&junk, Err(DocumentError::Shape(m)) if m.contains(".junk")),
            "{junk:?}"
        );
        let nested = junk_change(&|d| {
            let customer = d.get(ROOT, "customer").expect("get").expect("customer").1;
            d.put(&customer, "loyalty", "gold").expect("put");
        });
        assert!(
            matches!(&nested, Err(DocumentError::Shape(m)) if m.contains(".customer.loyalty")),
            "{nested:?}"
        );
        let deleted = junk_change(&|d| d.delete(ROOT, "description").expect("delete"));
        assert!(
            matches!(deleted, Err(DocumentError::Schema(_))),
            "{deleted:?}"
        );
        let other = junk_change(&|d| {
            d.put(ROOT, "id", WorkOrderId::new().to_string())
                .expect("put")
        });
        assert!(
            other.is_err(),
            "an id changed under the work order was taken"
        );
        let invalid = junk_change(&|d| d.put(ROOT, "description", "").expect("put"));
        assert!(
            matches!(invalid, Err(DocumentError::Invalid(_))),
            "{invalid:?}"
        );
    }

    /// The changes `edit` makes on a copy of `source`'s document, as bytes.
    fn raw_changes(source: &WorkOrderDocument, edit: &dyn Fn(&mut AutoCommit)) -> Vec<Vec<u8>> {
        let mut raw = source.automerge().clone();
        let heads = raw.get_heads();
        edit(&mut raw);
        raw.commit();
        raw.get_changes(&heads)
            .into_iter()
            .map(|c| c.raw_bytes().to_vec())
            .collect()
    }

    fn part(number: &str) -> Action {
        Action::RecordPartUsage(NewPartUsage {
            part_number: number.into(),
            quantity: 1,
            source_location: "VAN-1".into(),
            serial: None,
            refurbished: false,
        })
    }

    #[test]
    fn entries_added_at_the_end_are_read_alone_and_any_other_list_edit_reads_the_list() {
        use automerge::transaction::Transactable;
        use automerge::ROOT;
        let (tech, _, id, mut source, _) = assigned_job();
        for action in [Action::Accept, Action::StartTravel, Action::Arrive] {
            source.act(&action, &tech, NOW).expect("act");
        }
        source.act(&Action::StartWork, &tech, NOW).expect("start");
        for n in ["P-1", "P-2", "P-3"] {
            source.act(&part(n), &tech, NOW).expect("part");
        }
        let held = source.read().expect("read");
        let saved = source.save();
        // A fresh copy that has read the work order, merging `changes`.
        let merge = |changes: &[Vec<u8>]| {
            let mut target = WorkOrderDocument::load(&saved).expect("load");
            target.track_changes();
            target.apply_changes(changes).expect("merge");
            target
        };
        let part_usages =
            |doc: &mut WorkOrderDocument| match crate::fields::touched(&doc.doc.diff_incremental())
            {
                crate::fields::Touched::Keys(keys) => keys.get("part_usages").copied(),
                crate::fields::Touched::Everything => None,
            };
        let reads_as_whole = |mut doc: WorkOrderDocument| {
            let changed = doc.read_changed(&held, id)?;
            let whole = doc.read_valid(id)?;
            doc.check_shape(&whole)?;
            assert_eq!(changed, whole, "reading only what changed differs");
            Ok::<_, DocumentError>(changed)
        };

        // One more part usage from the technician: only position 3 on is new.
        let mut more = source.automerge().clone();
        let heads = more.get_heads();
        let mut copy = WorkOrderDocument::load(&more.save()).expect("copy");
        copy.act(&part("P-4"), &tech, NOW).expect("part");
        let appended: Vec<Vec<u8>> = copy
            .changes_since(&heads)
            .into_iter()
            .map(|(_, c)| c)
            .collect();
        assert_eq!(
            part_usages(&mut merge(&appended)),
            Some(crate::fields::KeyChange::ListFrom(3))
        );
        let read = reads_as_whole(merge(&appended)).expect("an appended entry");
        assert_eq!(read.part_usages.len(), 4);
        assert_eq!(read.part_usages[3].part_number, "P-4");

        // Two devices appending at the same time: both come after the held entries.
        let mut phone = WorkOrderDocument::load(&more.save()).expect("phone");
        let other = Actor {
            device: DeviceId::new(),
            ..tech
        };
        phone.act(&part("P-5"), &other, NOW).expect("part");
        let mut both = appended.clone();
        both.extend(phone.changes_since(&heads).into_iter().map(|(_, c)| c));
        let read = reads_as_whole(merge(&both)).expect("concurrent appends");
        assert_eq!(read.part_usages.len(), 5);

        // An edit of an entry read before: the list is read again whole.
        let edited = raw_changes(&source, &|d| {
            let list = d.get(ROOT, "part_usages").expect("get").expect("list").1;
            let first = d.get(&list, 0).expect("get").expect("entry").1;
            d.put(&first, "quantity", 7_i64).expect("put");
        });
        assert_eq!(
            part_usages(&mut merge(&edited)),
            Some(crate::fields::KeyChange::ListFrom(0))
        );
        let read = reads_as_whole(merge(&edited)).expect("an edited entry");
        assert_eq!(read.part_usages[0].quantity, 7);

        // An entry slipped in before the others: the list is read again whole.
        let mut first = held.part_usages[0].clone();
        first.id = crate::ids::EntryId::new();
        first.part_number = "P-0".into();
        let inserted = raw_changes(&source, &|d| {
            let list = d.get(ROOT, "part_usages").expect("get").expect("list").1;
            autosurgeon::reconcile_insert(d, list, 0, &first).expect("insert");
        });
        assert_eq!(
            part_usages(&mut merge(&inserted)),
            Some(crate::fields::KeyChange::ListFrom(0))
        );
        let read = reads_as_whole(merge(&inserted)).expect("an entry put first");
        assert_eq!(read.part_usages.len(), 4);
        assert_eq!(read.part_usages[0].part_number, "P-0");

        // Junk inside the new entry is found by checking the new entry alone.
        let junk = raw_changes(&copy, &|d| {
            let list = d.get(ROOT, "part_usages").expect("get").expect("list").1;
            let last = d.get(&list, 3).expect("get").expect("entry").1;
            d.put(&last, "junk", 1).expect("put");
        });
        let mut with_junk = appended.clone();
        with_junk.extend(junk);
        let mut target = merge(&with_junk);
        let err = target.read_changed(&held, id).expect_err("junk");
        assert!(
            matches!(&err, DocumentError::Shape(m) if m.contains(".part_usages[3].junk")),
            "{err:?}"
        );
    }

    #[test]
    fn a_snapshot_followed_by_many_changes_loads_as_the_whole_document() {
        let (tech, _, _, mut doc, _) = assigned_job();
        let now = NOW;
        let mut chunks = vec![doc.save()];
        for action in [
            Action::Accept,
            Action::StartTravel,
            Action::Arrive,
            Action::StartWork,
        ] {
            chunks.push(doc.act(&action, &tech, now).expect("act").1.bytes);
        }
        for i in 0..40 {
            let part = Action::RecordPartUsage(NewPartUsage {
                part_number: format!("P-{i}"),
                quantity: 1,
                source_location: "VAN-1".into(),
                serial: None,
                refurbished: false,
            });
            chunks.push(doc.act(&part, &tech, now).expect("part").1.bytes);
        }
        let mut loaded =
            WorkOrderDocument::load_chunks(chunks.iter().map(Vec::as_slice)).expect("load");
        assert_eq!(loaded.read().expect("read"), doc.read().expect("read"));
        assert_eq!(loaded.heads(), doc.heads());
        // Only the snapshot: the document as it was then.
        let first = WorkOrderDocument::load_chunks([chunks[0].as_slice()]).expect("snapshot");
        assert_eq!(first.read().expect("read").part_usages.len(), 0);
    }

    #[test]
    fn chunks_that_skip_a_change_load_but_report_what_is_missing() {
        let (tech, _, _, mut doc, _) = assigned_job();
        let snapshot = doc.save();
        let accept = doc
            .act(&Action::Accept, &tech, NOW)
            .expect("accept")
            .1
            .bytes;
        let travel = doc
            .act(&Action::StartTravel, &tech, NOW)
            .expect("travel")
            .1
            .bytes;

        let mut whole =
            WorkOrderDocument::load_chunks([snapshot.as_slice(), &accept, &travel]).expect("load");
        assert_eq!(whole.missing_dependencies(), 0);
        // The same change held twice is merged once.
        let mut twice =
            WorkOrderDocument::load_chunks([snapshot.as_slice(), &accept, &accept, &travel])
                .expect("load");
        assert_eq!(twice.missing_dependencies(), 0);
        assert_eq!(twice.read().expect("read"), doc.read().expect("read"));

        let mut gap = WorkOrderDocument::load_chunks([snapshot.as_slice(), &travel])
            .expect("a gap is not a load error");
        assert_eq!(gap.missing_dependencies(), 1);
        assert_eq!(
            gap.read().expect("read").status(),
            Status::Assigned,
            "the change after the gap waits unapplied"
        );
    }

    #[test]
    fn pinned_actor_is_kept_for_actions() {
        let office = someone(Role::Dispatcher);
        let now = Timestamp(1_700_000_000_000);
        let server = ActorId::random();
        let actor_of = |change: LocalChange| {
            Change::from_bytes(change.bytes)
                .expect("decodes")
                .actor_id()
                .clone()
        };
        let (mut doc, _, created) = WorkOrderDocument::create_with_actor(
            WorkOrderId::new(),
            intake(UserId::new()),
            &office,
            server.clone(),
            now,
        )
        .expect("create");
        let reschedule = |hours: i64| Action::Reschedule {
            window: Some(crate::work_order::ScheduleWindow {
                start: now.plus_minutes(hours * 60),
                end: now.plus_minutes(hours * 60 + 60),
            }),
        };
        let (_, edit) = doc.act(&reschedule(1), &office, now).expect("edit");
        assert_eq!(actor_of(created), server);
        assert_eq!(actor_of(edit), server);

        // A loaded copy acts as the acting device until an actor is pinned.
        let mut copy = WorkOrderDocument::load(&doc.save()).expect("load");
        let (_, edit) = copy.act(&reschedule(2), &office, now).expect("edit");
        assert_eq!(actor_of(edit), actor_for(office.device));
        copy.set_actor(server.clone());
        let (_, edit) = copy.act(&reschedule(3), &office, now).expect("edit");
        assert_eq!(actor_of(edit), server);
    }

    #[test]
    fn an_action_that_changes_nothing_says_so() {
        let office = someone(Role::Dispatcher);
        let now = Timestamp(1_700_000_000_000);
        let (mut doc, _, _) =
            WorkOrderDocument::create(WorkOrderId::new(), intake(UserId::new()), &office, now)
                .expect("create");
        let before = doc.change_count();
        let err = doc
            .act(&Action::Reschedule { window: None }, &office, now)
            .expect_err("already unscheduled");
        assert!(matches!(err, DocumentError::Unchanged), "{err}");
        assert_eq!(doc.change_count(), before);
    }

    /// What a change does, op by op, without where the ops of objects it creates are numbered
    /// (a whole reconcile writes a new entry's fields in another order).
    fn operations(change: &LocalChange) -> Vec<String> {
        let decoded = Change::from_bytes(change.bytes.clone())
            .expect("decodes")
            .decode();
        let mut ops: Vec<String> = decoded
            .operations
            .iter()
            .map(|op| format!("{:?} {:?} {} {:?}", op.key, op.action, op.insert, op.pred))
            .collect();
        ops.sort();
        ops
    }

    /// `act` writes only what changed; it must make the same operations a reconcile of the
    /// whole work order makes, for every kind of action.
    #[test]
    fn an_action_makes_the_same_change_as_reconciling_the_whole_work_order() {
        use crate::actions::NewRepairRecord;
        use crate::work_order::{Measurement, ScheduleWindow};

        let tech = someone(Role::Technician);
        let office = someone(Role::Dispatcher);
        let now = Timestamp(1_700_000_000_000);
        let (mut doc, _, _) =
            WorkOrderDocument::create(WorkOrderId::new(), intake(tech.user), &office, now)
                .expect("create");
        let part = |number: &str| {
            Action::RecordPartUsage(NewPartUsage {
                part_number: number.into(),
                quantity: 2,
                source_location: "VAN-1".into(),
                serial: Some("S-1".into()),
                refurbished: true,
            })
        };
        let steps = [
            (Action::Accept, tech),
            (Action::StartTravel, tech),
            (Action::Arrive, tech),
            (Action::StartWork, tech),
            (part("P-1"), tech),
            (part("P-2"), tech),
            (
                Action::AddRepairRecord(NewRepairRecord {
                    diagnosis: "Worn seal".into(),
                    action_taken: "Replaced seal".into(),
                    measurements: vec![Measurement {
                        name: "pressure".into(),
                        value: 2.5,
                        unit: "bar".into(),
                    }],
                }),
                tech,
            ),
            (
                Action::EditNotes {
                    text: "Grüße: gate code 1234".into(),
                },
                tech,
            ),
            (
                Action::EditNotes {
                    text: "Grüße: gate code 4321, dog".into(),
                },
                tech,
            ),
            (
                Action::Hold {
                    reason: HoldReason::WaitingForParts,
                    note: Some("seal on order".into()),
                },
                tech,
            ),
            (Action::Resume, tech),
            (
                Action::Classify {
                    category: ProblemCategory::Hardware,
                    urgency: Urgency::Emergency,
                    impact: Impact::OneUnit,
                    tier: Some(CustomerTier::Vip),
                },
                office,
            ),
            (
                Action::Reschedule {
                    window: Some(ScheduleWindow {
                        start: now.plus_minutes(60),
                        end: now.plus_minutes(120),
                    }),
                },
                office,
            ),
            (
                Action::Complete {
                    resolution: "Fixed".into(),
                    signed_by: Some("A. Baker".into()),
                    first_time_fix: true,
                },
                tech,
            ),
            (Action::Close, office),
        ];
        for (action, actor) in &steps {
            let saved = doc.save();
            let mut whole = WorkOrderDocument::load(&saved).expect("load");
            let mut targeted = WorkOrderDocument::load(&saved).expect("load");
            let before = whole.read().expect("read");
            let mut after = before.clone();
            apply_action(&mut after, action, actor, now)
                .unwrap_or_else(|e| panic!("{}: {e}", action.name()));
            for copy in [&mut whole, &mut targeted] {
                copy.doc.set_actor(actor_for(actor.device));
            }
            autosurgeon::reconcile(&mut whole.doc, &after).expect("whole");
            reconcile_changed(&mut targeted.doc, &before, &after).expect("targeted");
            let (expected, made) = (whole.commit(now), targeted.commit(now));
            let (expected, made) = (expected.expect("whole"), made.expect("targeted"));
            assert_eq!(
                operations(&made),
                operations(&expected),
                "{}",
                action.name()
            );
            assert_eq!(targeted.read().expect("read"), after, "{}", action.name());
            doc = targeted;
        }
        assert_eq!(doc.read().expect("read").part_usages.len(), 2);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(WorkOrderDocument::load(b"not a document").is_err());
        let mut doc = WorkOrderDocument::load_chunks(std::iter::empty()).expect("empty");
        let err = doc
            .apply_changes(&[b"\x85o\x4a\x83garbage".to_vec()])
            .expect_err("must be refused");
        assert!(matches!(err, DocumentError::BadChange { .. }), "{err}");
    }
}
