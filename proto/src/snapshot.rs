//! A read-only copy of a document's current values, taken in one pass. Reading a whole work
//! order looks every field up by key; Automerge answers each lookup with a search through the
//! document's columns, while this copy answers from memory. It serves exactly the values
//! Automerge would (the winning value of each key, in the same order) and asks the document
//! itself for anything it does not hold. A copy of a few top-level fields (and of a list only
//! from some position on) serves checking what a change touched.

use std::collections::HashMap;
use std::ops::RangeBounds;

use automerge::{AutoCommit, AutomergeError, ObjId, ObjType, Prop, Value, ValueRef};

/// The current values of one object.
enum Values {
    /// Each key with its winning value and the id of that value.
    Map(Vec<(String, Value<'static>, ObjId)>),
    /// Some keys of a map, as `Map`; the document answers for the others.
    SomeKeys(Vec<(String, Value<'static>, ObjId)>),
    /// The elements from position `first` on, each with its id, of a list of `length`.
    List {
        first: usize,
        length: usize,
        items: Vec<(Value<'static>, ObjId)>,
    },
    Text(String),
}

/// One object as the copy holds it, for comparing it with what it should hold.
pub(crate) enum Object<'s> {
    Map(&'s [(String, Value<'static>, ObjId)]),
    /// The elements from position `first` on of a list of `length`.
    List {
        first: usize,
        length: usize,
        items: &'s [(Value<'static>, ObjId)],
    },
    Text(&'s str),
}

/// A document's current values, object by object.
pub(crate) struct Snapshot<'d> {
    doc: &'d AutoCommit,
    objects: HashMap<ObjId, (ObjType, Values)>,
}

impl<'d> Snapshot<'d> {
    /// Copies every object reachable from the root of `doc`.
    pub fn take(doc: &'d AutoCommit) -> Self {
        let mut snapshot = Snapshot {
            doc,
            objects: HashMap::new(),
        };
        snapshot.copy(vec![(automerge::ROOT, ObjType::Map, 0)]);
        snapshot
    }

    /// Copies the top-level `fields` and every object under them: under `(key, n)`, a list
    /// only from position `n` on (with what is under those elements).
    pub fn take_fields<'k>(
        doc: &'d AutoCommit,
        fields: impl IntoIterator<Item = (&'k str, usize)>,
    ) -> Self {
        use automerge::ReadDoc as _;
        let mut snapshot = Snapshot {
            doc,
            objects: HashMap::new(),
        };
        let mut root = Vec::new();
        let mut pending = Vec::new();
        for (key, first) in fields {
            let Some(item) = doc
                .map_range(automerge::ROOT, key.to_owned()..=key.to_owned())
                .next()
            else {
                continue;
            };
            let id = item.id();
            if let ValueRef::Object(kind) = item.value {
                pending.push((id.clone(), kind, first));
            }
            root.push((item.key.into_owned(), Value::from(item.value), id));
        }
        snapshot
            .objects
            .insert(automerge::ROOT, (ObjType::Map, Values::SomeKeys(root)));
        snapshot.copy(pending);
        snapshot
    }

    /// Copies the `pending` objects (a list from the given position on) and all under them.
    fn copy(&mut self, mut pending: Vec<(ObjId, ObjType, usize)>) {
        use automerge::ReadDoc as _;
        let doc = self.doc;
        while let Some((obj, kind, first)) = pending.pop() {
            let mut child = |value: &ValueRef<'_>, id: &ObjId| {
                if let ValueRef::Object(kind) = value {
                    pending.push((id.clone(), *kind, 0));
                }
            };
            let values = match kind {
                ObjType::Map | ObjType::Table => Values::Map(
                    doc.map_range(&obj, ..)
                        .map(|item| {
                            let id = item.id();
                            child(&item.value, &id);
                            (item.key.into_owned(), Value::from(item.value), id)
                        })
                        .collect(),
                ),
                ObjType::List => {
                    let items: Vec<(Value<'static>, ObjId)> = doc
                        .list_range(&obj, first..)
                        .map(|item| {
                            let id = item.id();
                            child(&item.value, &id);
                            (Value::from(item.value), id)
                        })
                        .collect();
                    let length = if first == 0 {
                        items.len()
                    } else {
                        doc.length(&obj)
                    };
                    Values::List {
                        first,
                        length,
                        items,
                    }
                }
                ObjType::Text => match doc.text(&obj) {
                    Ok(text) => Values::Text(text),
                    // Left to the document, which reports the error where it is read.
                    Err(_) => continue,
                },
            };
            self.objects.insert(obj, (kind, values));
        }
    }

    fn values(&self, obj: &ObjId) -> Option<&Values> {
        self.objects.get(obj).map(|(_, values)| values)
    }

    /// The value under `key` in the root, with its id, if the copy holds that key.
    pub fn root_entry(&self, key: &str) -> Option<(&Value<'static>, &ObjId)> {
        match self.values(&automerge::ROOT)? {
            Values::Map(entries) | Values::SomeKeys(entries) => find(entries, key),
            _ => None,
        }
    }

    /// The object `obj` as copied; `None` if it was not, or only in part (some keys of a map),
    /// or is a text Automerge cannot read.
    pub fn object(&self, obj: &ObjId) -> Option<Object<'_>> {
        Some(match self.values(obj)? {
            Values::Map(entries) => Object::Map(entries),
            Values::SomeKeys(_) => return None,
            Values::List {
                first,
                length,
                items,
            } => Object::List {
                first: *first,
                length: *length,
                items,
            },
            Values::Text(text) => Object::Text(text),
        })
    }
}

/// The value of `key` among a map's copied entries, with its id.
fn find<'e>(
    entries: &'e [(String, Value<'static>, ObjId)],
    key: &str,
) -> Option<(&'e Value<'static>, &'e ObjId)> {
    entries
        .iter()
        .find(|(k, _, _)| k == key)
        .map(|(_, value, id)| (value, id))
}

fn borrowed<'a>(value: &'a Value<'static>, id: &ObjId) -> (Value<'a>, ObjId) {
    let value = match value {
        Value::Object(kind) => Value::Object(*kind),
        Value::Scalar(scalar) => Value::Scalar(std::borrow::Cow::Borrowed(scalar.as_ref())),
    };
    (value, id.clone())
}

impl autosurgeon::ReadDoc for Snapshot<'_> {
    type Parents<'a>
        = automerge::Parents<'a>
    where
        Self: 'a;

    fn get_heads(&self) -> Vec<automerge::ChangeHash> {
        autosurgeon::ReadDoc::get_heads(self.doc)
    }

    fn get<P: Into<Prop>>(
        &self,
        obj: &ObjId,
        prop: P,
    ) -> Result<Option<(Value<'_>, ObjId)>, AutomergeError> {
        let prop = prop.into();
        match (self.values(obj), &prop) {
            (Some(Values::Map(entries)), Prop::Map(key)) => {
                Ok(find(entries, key).map(|(value, id)| borrowed(value, id)))
            }
            (Some(Values::SomeKeys(entries)), Prop::Map(key)) if find(entries, key).is_some() => {
                Ok(find(entries, key).map(|(value, id)| borrowed(value, id)))
            }
            (Some(Values::List { first, items, .. }), Prop::Seq(index))
                if (*first..first + items.len()).contains(index) =>
            {
                let (value, id) = &items[index - first];
                Ok(Some(borrowed(value, id)))
            }
            _ => autosurgeon::ReadDoc::get(self.doc, obj, prop),
        }
    }

    fn object_type<O: AsRef<ObjId>>(&self, obj: O) -> Option<ObjType> {
        match self.objects.get(obj.as_ref()) {
            Some((kind, _)) => Some(*kind),
            None => autosurgeon::ReadDoc::object_type(self.doc, obj),
        }
    }

    fn map_range<'a, O, R>(&'a self, obj: O, range: R) -> automerge::iter::MapRange<'a>
    where
        R: RangeBounds<String> + 'a,
        O: AsRef<ObjId>,
        R: RangeBounds<String>,
    {
        autosurgeon::ReadDoc::map_range(self.doc, obj, range)
    }

    fn list_range<O: AsRef<ObjId>, R: RangeBounds<usize>>(
        &self,
        obj: O,
        range: R,
    ) -> automerge::iter::ListRange<'_> {
        autosurgeon::ReadDoc::list_range(self.doc, obj, range)
    }

    fn length<O: AsRef<ObjId>>(&self, obj: O) -> usize {
        match self.values(obj.as_ref()) {
            Some(Values::Map(entries)) => entries.len(),
            Some(Values::List { length, .. }) => *length,
            Some(Values::Text(_) | Values::SomeKeys(_)) | None => {
                autosurgeon::ReadDoc::length(self.doc, obj)
            }
        }
    }

    fn text<O: AsRef<ObjId>>(&self, obj: O) -> Result<String, AutomergeError> {
        match self.values(obj.as_ref()) {
            Some(Values::Text(text)) => Ok(text.clone()),
            _ => autosurgeon::ReadDoc::text(self.doc, obj),
        }
    }

    fn parents<O: AsRef<ObjId>>(&self, obj: O) -> Result<Self::Parents<'_>, AutomergeError> {
        autosurgeon::ReadDoc::parents(self.doc, obj)
    }

    fn is_empty(&self) -> bool {
        match self.values(&automerge::ROOT) {
            Some(Values::Map(entries)) => entries.is_empty(),
            _ => autosurgeon::ReadDoc::is_empty(self.doc),
        }
    }
}

#[cfg(test)]
mod tests {
    use automerge::transaction::Transactable;
    use automerge::{ActorId, ReadDoc as _, ROOT};

    use super::*;
    use crate::testing::{worked_job, NOW};
    use crate::{Action, NewPartUsage, WorkOrder};

    /// Every answer the snapshot gives is the document's own, object by object.
    fn answers_like_the_document(doc: &AutoCommit) {
        let snapshot = Snapshot::take(doc);
        assert!(!snapshot.objects.is_empty());
        for (obj, (kind, values)) in &snapshot.objects {
            assert_eq!(Some(*kind), autosurgeon::ReadDoc::object_type(doc, obj));
            assert_eq!(
                autosurgeon::ReadDoc::length(&snapshot, obj),
                autosurgeon::ReadDoc::length(doc, obj)
            );
            match values {
                Values::Map(entries) | Values::SomeKeys(entries) => {
                    let mut keys: Vec<String> = entries.iter().map(|e| e.0.clone()).collect();
                    keys.push("not-a-key".into());
                    for key in keys {
                        assert_eq!(
                            autosurgeon::ReadDoc::get(&snapshot, obj, key.as_str())
                                .expect("snapshot"),
                            doc.get(obj, key.as_str()).expect("document"),
                            "key {key}"
                        );
                    }
                }
                Values::List { length, .. } => {
                    for index in 0..=*length {
                        assert_eq!(
                            autosurgeon::ReadDoc::get(&snapshot, obj, index).expect("snapshot"),
                            doc.get(obj, index).expect("document"),
                            "index {index}"
                        );
                    }
                }
                Values::Text(text) => {
                    assert_eq!(text, &doc.text(obj).expect("text"));
                    assert_eq!(
                        autosurgeon::ReadDoc::text(&snapshot, obj).expect("text"),
                        doc.text(obj).expect("text")
                    );
                }
            }
        }
        let through_snapshot: Result<WorkOrder, _> = autosurgeon::hydrate(&snapshot);
        let direct: Result<WorkOrder, _> = autosurgeon::hydrate(doc);
        assert_eq!(
            through_snapshot.map_err(|e| e.to_string()),
            direct.map_err(|e| e.to_string())
        );
    }

    #[test]
    fn a_copy_of_some_fields_answers_like_the_document() {
        let (mut doc, tech, _) = worked_job();
        for k in 0..3 {
            doc.act(
                &Action::RecordPartUsage(NewPartUsage {
                    part_number: format!("FUSE-{k}"),
                    quantity: 1,
                    source_location: "VAN-07".into(),
                    serial: None,
                    refurbished: false,
                }),
                &tech,
                NOW.plus_minutes(20 + k),
            )
            .expect("act");
        }
        let am = doc.automerge();
        let copy = Snapshot::take_fields(am, [("part_usages", 2), ("customer", 0)]);
        let (_, parts) = am.get(ROOT, "part_usages").expect("get").expect("parts");
        let Some(Object::List {
            first,
            length,
            items,
        }) = copy.object(&parts)
        else {
            panic!("the list was not copied");
        };
        assert_eq!((first, length, items.len()), (2, 4, 2));
        // Every position answers as the document does, copied or not.
        for index in 0..=5 {
            assert_eq!(
                autosurgeon::ReadDoc::get(&copy, &parts, index).expect("copy"),
                am.get(&parts, index).expect("document"),
                "index {index}"
            );
        }
        assert_eq!(autosurgeon::ReadDoc::length(&copy, &parts), 4);
        // Entries before the copied position are not copied; those after are, with what is
        // under them.
        let (_, before) = am.get(&parts, 1).expect("get").expect("entry");
        let (_, after) = am.get(&parts, 3).expect("get").expect("entry");
        assert!(copy.object(&before).is_none());
        assert!(matches!(copy.object(&after), Some(Object::Map(_))));
        // Other fields are asked of the document.
        for key in ["description", "status_events", "customer", "no-such-key"] {
            assert_eq!(
                autosurgeon::ReadDoc::get(&copy, &ROOT, key).expect("copy"),
                am.get(ROOT, key).expect("document"),
                "key {key}"
            );
        }
        let usages: Vec<crate::PartUsage> =
            autosurgeon::hydrate_prop(&copy, &ROOT, "part_usages").expect("read");
        assert_eq!(usages, doc.read().expect("read").part_usages);
    }

    #[test]
    fn a_worked_job_reads_the_same_through_the_snapshot() {
        let (doc, _, _) = worked_job();
        answers_like_the_document(doc.automerge());
        let direct: WorkOrder = autosurgeon::hydrate(doc.automerge()).expect("read");
        assert_eq!(doc.read().expect("read"), direct);
        assert_eq!(direct.part_usages.len(), 1);
        assert_eq!(direct.repair_records[0].measurements.len(), 1);
    }

    #[test]
    fn conflicts_and_deletions_read_the_winning_value_as_the_document_does() {
        let (doc, _, _) = worked_job();
        let mut a = doc.automerge().clone();
        let mut b = doc.automerge().clone();
        a.set_actor(ActorId::from(vec![1u8; 16]));
        b.set_actor(ActorId::from(vec![2u8; 16]));
        // The same keys written on both sides, and a list changed on both.
        a.put(ROOT, "description", "Heats unevenly").expect("put");
        b.put(ROOT, "description", "Does not heat at all")
            .expect("put");
        a.put(ROOT, "urgency", "high").expect("put");
        b.put(ROOT, "urgency", "emergency").expect("put");
        let (_, events) = a.get(ROOT, "status_events").expect("get").expect("events");
        a.delete(&events, 1).expect("delete");
        let (_, parts) = b.get(ROOT, "part_usages").expect("get").expect("parts");
        let (_, first) = b.get(&parts, 0).expect("get").expect("first");
        b.put(&first, "quantity", 5).expect("put");
        b.delete(ROOT, "attachments").expect("delete");
        a.merge(&mut b).expect("merge");
        answers_like_the_document(&a);
        let wo: WorkOrder = autosurgeon::hydrate(&Snapshot::take(&a)).expect("read");
        assert_eq!(wo.part_usages[0].quantity, 5);
    }

    #[test]
    fn values_of_the_wrong_kind_fail_the_same_way() {
        let (doc, _, _) = worked_job();
        let mut raw = doc.automerge().clone();
        raw.put(ROOT, "urgency", 7).expect("put");
        answers_like_the_document(&raw);
        assert!(autosurgeon::hydrate::<_, WorkOrder>(&Snapshot::take(&raw)).is_err());

        let mut raw = doc.automerge().clone();
        raw.put_object(ROOT, "notes", automerge::ObjType::List)
            .expect("put");
        raw.put_object(ROOT, "customer", automerge::ObjType::Text)
            .expect("put");
        answers_like_the_document(&raw);
    }
}
