//! A work order one top-level field at a time: which fields a merge touched, reading only those
//! again, writing one field alone, and writing only the fields an action changed. Checking a
//! pushed change or making an action then costs what it touched, not the whole document
//! (reading or reconciling a whole document with a long history is the most expensive step).
//! Entries added to the end of a list are read and checked alone: a part usage recorded on a job
//! with a long history costs one entry, not the list.

use std::collections::BTreeMap;

use automerge::hydrate::Value as Tree;
use automerge::{AutoCommit, ObjType, Patch, PatchAction, Prop, Value, ROOT};
use autosurgeon::{hydrate_prop, Hydrate, HydrateError, ReadDoc, Reconcile, ReconcileError};

use crate::canonical;
use crate::snapshot::Snapshot;
use crate::work_order::WorkOrder;

/// What a merge changed at the top of the document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Touched {
    /// These top-level keys (work order fields, or keys a work order does not have), and how.
    Keys(BTreeMap<String, KeyChange>),
    /// Something the patches do not place under one key: read everything again.
    Everything,
}

/// How a merge changed the value under one top-level key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeyChange {
    /// Replaced, or changed anywhere inside.
    Rewritten,
    /// Only list positions from this one on were inserted, written or removed: the entries
    /// before it are where and what they were.
    ListFrom(usize),
}

impl KeyChange {
    fn and(self, other: KeyChange) -> KeyChange {
        match (self, other) {
            (KeyChange::ListFrom(a), KeyChange::ListFrom(b)) => KeyChange::ListFrom(a.min(b)),
            _ => KeyChange::Rewritten,
        }
    }
}

/// The top-level keys whose visible value `patches` changed, and how. Patches apply in order;
/// as long as each one is at a list position at or after some `n`, the first `n` entries of
/// that list stay untouched.
pub(crate) fn touched(patches: &[Patch]) -> Touched {
    let mut keys: BTreeMap<String, KeyChange> = BTreeMap::new();
    for patch in patches {
        let (key, change) = match patch.path.as_slice() {
            [] => match &patch.action {
                PatchAction::PutMap { key, .. } | PatchAction::DeleteMap { key } => {
                    (key, KeyChange::Rewritten)
                }
                PatchAction::Increment {
                    prop: Prop::Map(key),
                    ..
                }
                | PatchAction::Conflict {
                    prop: Prop::Map(key),
                } => (key, KeyChange::Rewritten),
                _ => return Touched::Everything,
            },
            [(_, Prop::Map(key))] => match &patch.action {
                PatchAction::Insert { index, .. }
                | PatchAction::PutSeq { index, .. }
                | PatchAction::DeleteSeq { index, .. } => (key, KeyChange::ListFrom(*index)),
                _ => (key, KeyChange::Rewritten),
            },
            [(_, Prop::Map(key)), (_, Prop::Seq(index)), ..] => (key, KeyChange::ListFrom(*index)),
            [(_, Prop::Map(key)), ..] => (key, KeyChange::Rewritten),
            [(_, Prop::Seq(_)), ..] => return Touched::Everything,
        };
        match keys.get_mut(key) {
            Some(seen) => *seen = seen.and(change),
            None => {
                keys.insert(key.clone(), change);
            }
        }
    }
    Touched::Keys(keys)
}

/// A list field of a work order whose entries are only ever added at the end (the history:
/// status events, part usages, repair records, attachments).
pub(crate) trait EntryList {
    fn entries(&self) -> usize;

    /// Reads the entries of the document's list under `key` past the ones held. `Ok(false)`
    /// if the document holds no such list, or fewer entries than held.
    fn read_appended(&mut self, doc: &Snapshot<'_>, key: &str) -> Result<bool, HydrateError>;

    /// What writing the entries from position `from` on as a list writes (`canonical`).
    fn canonical_from(&self, from: usize) -> Result<Option<Tree>, ReconcileError>;
}

impl<T: Hydrate + Reconcile> EntryList for Vec<T> {
    fn entries(&self) -> usize {
        self.len()
    }

    fn read_appended(&mut self, doc: &Snapshot<'_>, key: &str) -> Result<bool, HydrateError> {
        let list = match doc.get(&ROOT, key)? {
            Some((Value::Object(ObjType::List), list)) => list,
            _ => return Ok(false),
        };
        let length = doc.length(&list);
        if length < self.len() {
            return Ok(false);
        }
        for index in self.len()..length {
            self.push(hydrate_prop(doc, &list, index)?);
        }
        Ok(true)
    }

    fn canonical_from(&self, from: usize) -> Result<Option<Tree>, ReconcileError> {
        canonical::value(self.get(from..).unwrap_or_default())
    }
}

/// Reads one field of the root map; `attachments` may be missing (documents written before
/// attachments existed), as in the full reading.
fn read<T: autosurgeon::Hydrate>(doc: &Snapshot<'_>, key: &str) -> Result<T, HydrateError> {
    hydrate_prop(doc, &ROOT, key)
}

impl WorkOrder {
    /// The append-only list field named `key`, if it is one.
    pub(crate) fn entry_list(&self, key: &str) -> Option<&dyn EntryList> {
        Some(match key {
            "status_events" => &self.status_events,
            "part_usages" => &self.part_usages,
            "repair_records" => &self.repair_records,
            "attachments" => &self.attachments,
            _ => return None,
        })
    }

    fn entry_list_mut(&mut self, key: &str) -> Option<&mut dyn EntryList> {
        Some(match key {
            "status_events" => &mut self.status_events,
            "part_usages" => &mut self.part_usages,
            "repair_records" => &mut self.repair_records,
            "attachments" => &mut self.attachments,
            _ => return None,
        })
    }

    /// Reads again what `change` changed under `key`: only the entries past the held ones
    /// when the field is an append-only list and nothing before them changed, else the whole
    /// field. Returns where the reading started (`Some(0)` for a whole field), `None` if a work
    /// order has no such field.
    pub(crate) fn reread_change(
        &mut self,
        doc: &Snapshot<'_>,
        key: &str,
        change: KeyChange,
    ) -> Result<Option<usize>, HydrateError> {
        let start = self.reread_start(key, change);
        if let Some(list) = self.entry_list_mut(key).filter(|_| start > 0) {
            if list.read_appended(doc, key)? {
                return Ok(Some(start));
            }
        }
        Ok(self.reread_field(doc, key)?.then_some(0))
    }

    /// Where `reread_change` starts reading `key` again: past the held entries of an
    /// append-only list if nothing before them changed, else at the start.
    pub(crate) fn reread_start(&self, key: &str, change: KeyChange) -> usize {
        match (change, self.entry_list(key)) {
            (KeyChange::ListFrom(from), Some(list)) if from >= list.entries() => list.entries(),
            _ => 0,
        }
    }

    /// Reads the field named `key` again from `doc`, leaving the others as they are. `Ok(false)`
    /// if a work order has no such field.
    pub(crate) fn reread_field(
        &mut self,
        doc: &Snapshot<'_>,
        key: &str,
    ) -> Result<bool, HydrateError> {
        // Naming every field here makes a new field a compile error until it is handled below.
        let WorkOrder {
            schema,
            id,
            number,
            channel,
            created_at,
            created_by,
            customer,
            asset,
            category,
            urgency,
            impact,
            assignee,
            schedule,
            description,
            notes,
            status_events,
            part_usages,
            repair_records,
            completion,
            attachments,
        } = self;
        match key {
            "schema" => *schema = read(doc, key)?,
            "id" => *id = read(doc, key)?,
            "number" => *number = read(doc, key)?,
            "channel" => *channel = read(doc, key)?,
            "created_at" => *created_at = read(doc, key)?,
            "created_by" => *created_by = read(doc, key)?,
            "customer" => *customer = read(doc, key)?,
            "asset" => *asset = read(doc, key)?,
            "category" => *category = read(doc, key)?,
            "urgency" => *urgency = read(doc, key)?,
            "impact" => *impact = read(doc, key)?,
            "assignee" => *assignee = read(doc, key)?,
            "schedule" => *schedule = read(doc, key)?,
            "description" => *description = read(doc, key)?,
            "notes" => *notes = read(doc, key)?,
            "status_events" => *status_events = read(doc, key)?,
            "part_usages" => *part_usages = read(doc, key)?,
            "repair_records" => *repair_records = read(doc, key)?,
            "completion" => *completion = read(doc, key)?,
            "attachments" => {
                let present = doc.get(&ROOT, key)?.is_some();
                *attachments = if present { read(doc, key)? } else { Vec::new() };
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// What reconciling the whole work order writes under `key` (`canonical`): `None` if a
    /// work order has no such field, `Some(None)` if it writes nothing there.
    pub(crate) fn canonical_field(
        &self,
        key: &str,
    ) -> Result<Option<Option<Tree>>, ReconcileError> {
        let WorkOrder {
            schema,
            id,
            number,
            channel,
            created_at,
            created_by,
            customer,
            asset,
            category,
            urgency,
            impact,
            assignee,
            schedule,
            description,
            notes,
            status_events,
            part_usages,
            repair_records,
            completion,
            attachments,
        } = self;
        let written = match key {
            "schema" => canonical::value(schema)?,
            "id" => canonical::value(id)?,
            "number" => canonical::value(number)?,
            "channel" => canonical::value(channel)?,
            "created_at" => canonical::value(created_at)?,
            "created_by" => canonical::value(created_by)?,
            "customer" => canonical::value(customer)?,
            "asset" => canonical::value(asset)?,
            "category" => canonical::value(category)?,
            "urgency" => canonical::value(urgency)?,
            "impact" => canonical::value(impact)?,
            "assignee" => canonical::value(assignee)?,
            "schedule" => canonical::value(schedule)?,
            "description" => canonical::value(description)?,
            // A text read from a document remembers it; a fresh one writes the plain value.
            "notes" => canonical::value(autosurgeon::Text::with_value(notes.as_str()))?,
            "status_events" => canonical::value(status_events)?,
            "part_usages" => canonical::value(part_usages)?,
            "repair_records" => canonical::value(repair_records)?,
            "completion" => canonical::value(completion)?,
            "attachments" => canonical::value(attachments)?,
            _ => return Ok(None),
        };
        Ok(Some(written))
    }
}

/// Writes into the document what an action changed between `before` (read from the document)
/// and `after`: the same operations a reconcile of the whole work order makes, without
/// comparing every untouched field and list entry against the document (most of an action's
/// time at realistic sizes). Entries appended to a list are inserted after its last element.
pub(crate) fn reconcile_changed(
    doc: &mut AutoCommit,
    before: &WorkOrder,
    after: &WorkOrder,
) -> Result<(), autosurgeon::ReconcileError> {
    // Destructured so that a new field cannot be forgotten here.
    let WorkOrder {
        schema,
        id,
        number,
        channel,
        created_at,
        created_by,
        customer,
        asset,
        category,
        urgency,
        impact,
        assignee,
        schedule,
        description,
        notes,
        status_events,
        part_usages,
        repair_records,
        completion,
        attachments,
    } = after;
    put_changed(doc, "schema", &before.schema, schema)?;
    put_changed(doc, "id", &before.id, id)?;
    put_changed(doc, "number", &before.number, number)?;
    put_changed(doc, "channel", &before.channel, channel)?;
    put_changed(doc, "created_at", &before.created_at, created_at)?;
    put_changed(doc, "created_by", &before.created_by, created_by)?;
    put_changed(doc, "customer", &before.customer, customer)?;
    put_changed(doc, "asset", &before.asset, asset)?;
    put_changed(doc, "category", &before.category, category)?;
    put_changed(doc, "urgency", &before.urgency, urgency)?;
    put_changed(doc, "impact", &before.impact, impact)?;
    put_changed(doc, "assignee", &before.assignee, assignee)?;
    put_changed(doc, "schedule", &before.schedule, schedule)?;
    put_changed(doc, "description", &before.description, description)?;
    put_changed(doc, "notes", &before.notes, notes)?;
    append_changed(doc, "status_events", &before.status_events, status_events)?;
    append_changed(doc, "part_usages", &before.part_usages, part_usages)?;
    append_changed(
        doc,
        "repair_records",
        &before.repair_records,
        repair_records,
    )?;
    put_changed(doc, "completion", &before.completion, completion)?;
    append_changed(doc, "attachments", &before.attachments, attachments)?;
    Ok(())
}

/// Reconciles one field of the root if it changed, or if the document lacks it (a whole
/// reconcile writes missing fields too).
fn put_changed<T: autosurgeon::Reconcile + PartialEq>(
    doc: &mut AutoCommit,
    key: &str,
    before: &T,
    after: &T,
) -> Result<(), autosurgeon::ReconcileError> {
    if before != after || doc.get(&automerge::ROOT, key)?.is_none() {
        autosurgeon::reconcile_prop(doc, automerge::ROOT, key, after)?;
    }
    Ok(())
}

/// Inserts `entry` at `index` of `list` as one batch of operations: the tree of values the
/// entry writes (`canonical`) goes in whole, where reconciling it field by field made Automerge
/// take each field as an operation of its own (most of the CPU of recording a part usage). The
/// operations are the same either way.
fn insert_entry<T: autosurgeon::Reconcile>(
    doc: &mut AutoCommit,
    list: &automerge::ObjId,
    index: usize,
    entry: &T,
) -> Result<(), autosurgeon::ReconcileError> {
    use automerge::transaction::Transactable as _;
    match canonical::value(entry)? {
        Some(tree @ (Tree::Map(_) | Tree::List(_))) => {
            doc.batch_create_object(list, index, &tree, true)?;
            Ok(())
        }
        _ => autosurgeon::reconcile_insert(doc, list.clone(), index, entry),
    }
}

/// `put_changed` for a list: when `after` is `before` with entries appended and the document's
/// list holds exactly `before`, only the new entries are inserted.
fn append_changed<T: autosurgeon::Reconcile + PartialEq>(
    doc: &mut AutoCommit,
    key: &str,
    before: &[T],
    after: &[T],
) -> Result<(), autosurgeon::ReconcileError> {
    let appended = after.len() > before.len() && after[..before.len()] == *before;
    let list = match doc.get(&automerge::ROOT, key)? {
        Some((automerge::Value::Object(automerge::ObjType::List), list)) => Some(list),
        _ => None,
    };
    match list {
        Some(list) if appended && doc.length(&list) == before.len() => {
            for (index, entry) in after.iter().enumerate().skip(before.len()) {
                insert_entry(doc, &list, index, entry)?;
            }
            Ok(())
        }
        _ => put_changed(doc, key, &before, &after),
    }
}
