//! Checks that an Automerge document holds exactly a work order and nothing else: no keys the
//! schema does not know, no values of a kind that reading quietly converts. Reading a document
//! into the typed `WorkOrder` ignores what it does not know, so without this check a device
//! could push junk (deeply nested maps under a made-up key, say) that every replica would then
//! store and sync forever.

use std::collections::BTreeMap;

use automerge::{AutoCommit, ObjId, ObjType, ReadDoc, ValueRef, ROOT};

use crate::work_order::WorkOrder;

/// Compares `found` with the canonical document of `wo` (what reconciling it into an empty
/// document writes). Returns the path of the first difference.
pub(crate) fn check(found: &AutoCommit, wo: &WorkOrder) -> Result<(), String> {
    // A hydrated text remembers the document it came from; write a fresh one.
    let mut fresh = wo.clone();
    fresh.notes = autosurgeon::Text::with_value(wo.notes.as_str());
    let mut canonical = AutoCommit::new();
    autosurgeon::reconcile(&mut canonical, &fresh)
        .map_err(|e| format!("the work order cannot be written back ({e})"))?;
    same(found, &ROOT, &canonical, &ROOT, ObjType::Map, "")
}

/// `check` for the top-level fields a change touched alone: each key must be a work order field
/// holding exactly what `wo` holds there. `fields` maps each key to where its reading started:
/// for an append-only list read from position `n` on, only the entries from `n` are compared
/// (the ones before were compared when they were read).
pub(crate) fn check_fields(
    found: &AutoCommit,
    wo: &WorkOrder,
    fields: &BTreeMap<String, usize>,
) -> Result<(), String> {
    let mut canonical = AutoCommit::new();
    let cannot_write = |e| format!("the work order cannot be written back ({e})");
    for (key, &from) in fields {
        let known = match wo.entry_list(key).filter(|_| from > 0) {
            Some(list) => list
                .write_from(&mut canonical, key, from)
                .map(|()| true)
                .map_err(cannot_write)?,
            None => wo.write_field(&mut canonical, key).map_err(cannot_write)?,
        };
        if !known {
            return Err(format!(".{key} is not part of a work order"));
        }
    }
    for (key, &from) in fields {
        let (f, e) = (root_value(found, key), root_value(&canonical, key));
        let path = format!(".{key}");
        match wo.entry_list(key).filter(|_| from > 0) {
            Some(list) => same_entries_from(found, f, &canonical, e, from, list.entries(), &path)?,
            None => same_value(found, f, &canonical, e, &path)?,
        }
    }
    Ok(())
}

/// Compares the entries of the list `found` holds from position `from` on with the list of
/// entries `expected` holds; the found list must have `length` entries in all.
fn same_entries_from(
    found: &AutoCommit,
    f: Option<Item<'_>>,
    expected: &AutoCommit,
    e: Option<Item<'_>>,
    from: usize,
    length: usize,
    path: &str,
) -> Result<(), String> {
    let (Some((ValueRef::Object(ObjType::List), f_list)), Some((_, e_list))) = (f, e) else {
        return Err(format!(
            "{path} does not hold the kind of value a work order has there"
        ));
    };
    let fl = found.length(&f_list);
    if fl != length {
        return Err(format!("{path} has {fl} entries where {length} were read"));
    }
    let (found_items, expected_items) = (
        list_items(found, &f_list, from),
        list_items(expected, &e_list, 0),
    );
    for (i, (f, e)) in found_items.into_iter().zip(expected_items).enumerate() {
        same_value(
            found,
            Some(f),
            expected,
            Some(e),
            &format!("{path}[{}]", from + i),
        )?;
    }
    Ok(())
}

/// A value found in one object: what it is and, for an object, its id.
type Item<'a> = (ValueRef<'a>, ObjId);

/// The value under `key` in the root of `doc`.
fn root_value<'a>(doc: &'a AutoCommit, key: &str) -> Option<Item<'a>> {
    doc.map_range(ROOT, key.to_owned()..=key.to_owned())
        .next()
        .map(|i| {
            let id = i.id();
            (i.value, id)
        })
}

/// The entries of `list` from position `from` on.
fn list_items<'a>(doc: &'a AutoCommit, list: &ObjId, from: usize) -> Vec<Item<'a>> {
    doc.list_range(list, from..)
        .map(|i| {
            let id = i.id();
            (i.value, id)
        })
        .collect()
}

// Each object is read in one pass (`map_range`, `list_range`) rather than key by key: a lookup
// in a document with a long history costs about as much as the pass itself.
fn same(
    found: &AutoCommit,
    f_obj: &ObjId,
    expected: &AutoCommit,
    e_obj: &ObjId,
    kind: ObjType,
    path: &str,
) -> Result<(), String> {
    match kind {
        ObjType::Map | ObjType::Table => {
            let found_items: Vec<(String, Item<'_>)> = found
                .map_range(f_obj, ..)
                .map(|i| {
                    let id = i.id();
                    (i.key.into_owned(), (i.value, id))
                })
                .collect();
            let expected_items: Vec<(String, Item<'_>)> = expected
                .map_range(e_obj, ..)
                .map(|i| {
                    let id = i.id();
                    (i.key.into_owned(), (i.value, id))
                })
                .collect();
            let expects = |key: &str| expected_items.iter().any(|(k, _)| k == key);
            if let Some((extra, _)) = found_items.iter().find(|(k, _)| !expects(k)) {
                return Err(format!("{path}.{extra} is not part of a work order"));
            }
            for (key, e) in expected_items {
                let at = format!("{path}.{key}");
                let f = found_items
                    .iter()
                    .find(|(k, _)| *k == key)
                    .map(|(_, f)| f.clone());
                same_value(found, f, expected, Some(e), &at)?;
            }
            Ok(())
        }
        ObjType::List => {
            let found_items = list_items(found, f_obj, 0);
            let expected_items = list_items(expected, e_obj, 0);
            let (fl, el) = (found_items.len(), expected_items.len());
            if fl != el {
                return Err(format!("{path} has {fl} entries where {el} were read"));
            }
            for (i, (f, e)) in found_items.into_iter().zip(expected_items).enumerate() {
                same_value(found, Some(f), expected, Some(e), &format!("{path}[{i}]"))?;
            }
            Ok(())
        }
        ObjType::Text => {
            let (ft, et) = (found.text(f_obj), expected.text(e_obj));
            match (ft, et) {
                (Ok(f), Ok(e)) if f == e => Ok(()),
                _ => Err(format!("{path} is not the text that was read")),
            }
        }
    }
}

fn same_value(
    found: &AutoCommit,
    f: Option<Item<'_>>,
    expected: &AutoCommit,
    e: Option<Item<'_>>,
    path: &str,
) -> Result<(), String> {
    match (f, e) {
        (None, None) => Ok(()),
        (Some((ValueRef::Object(fk), f_id)), Some((ValueRef::Object(ek), e_id))) if fk == ek => {
            same(found, &f_id, expected, &e_id, ek, path)
        }
        (Some((ValueRef::Scalar(fs), _)), Some((ValueRef::Scalar(es), _))) if fs == es => Ok(()),
        (None, Some(_)) => Err(format!("{path} is missing")),
        _ => Err(format!(
            "{path} does not hold the kind of value a work order has there"
        )),
    }
}

#[cfg(test)]
mod tests {
    use automerge::transaction::Transactable;

    use super::*;
    use crate::actions::{Actor, NewWorkOrder};
    use crate::classification::Role;
    use crate::document::WorkOrderDocument;
    use crate::ids::{DeviceId, UserId, WorkOrderId};
    use crate::time::Timestamp;

    fn doc() -> (WorkOrderDocument, WorkOrder) {
        let actor = Actor {
            user: UserId::new(),
            role: Role::Dispatcher,
            device: DeviceId::new(),
        };
        let new: NewWorkOrder = serde_json::from_value(serde_json::json!({
            "channel": "phone",
            "customer": {"id": "0190f1a0-0000-7000-8000-000000000001", "name": "Harbor Bakery",
                "tier": "standard",
                "site": {"address": "Am Sandtorkai 1", "region": "north", "latitude": 53.5, "longitude": 9.9},
                "contact": {"name": "Ines", "phone": "+49 40 1", "email": "ines@example.com"}},
            "asset": {"model": "DX-200", "serial": "S1"},
            "category": "hardware", "urgency": "normal", "impact": "one_unit",
            "description": "Oven cold"
        }))
        .expect("intake");
        let (doc, wo, _) = WorkOrderDocument::create(WorkOrderId::new(), new, &actor, Timestamp(1))
            .expect("create");
        (doc, wo)
    }

    #[test]
    fn a_document_made_by_the_library_has_the_right_shape() {
        let (mut doc, _) = doc();
        // As the server does it: the work order read back from the document.
        let actor = Actor {
            user: UserId::new(),
            role: Role::Dispatcher,
            device: DeviceId::new(),
        };
        doc.act(
            &crate::actions::Action::Cancel {
                reason: "duplicate".into(),
            },
            &actor,
            Timestamp(2),
        )
        .expect("act");
        let wo = doc.read().expect("read");
        assert_eq!(check(doc.automerge(), &wo), Ok(()));
    }

    #[test]
    fn junk_keys_and_converted_values_are_found() {
        let (doc, _) = doc();
        let wo = doc.read().expect("read");
        let mut junk = doc.automerge().clone();
        let obj = junk.put_object(ROOT, "junk", ObjType::Map).expect("put");
        junk.put(&obj, "deeper", 1).expect("put");
        let err = check(&junk, &wo).expect_err("junk");
        assert!(err.contains(".junk"), "{err}");

        let mut nested = doc.automerge().clone();
        let customer = nested
            .get(ROOT, "customer")
            .expect("get")
            .expect("customer")
            .1;
        nested.put(&customer, "loyalty", "gold").expect("put");
        let err = check(&nested, &wo).expect_err("nested junk");
        assert!(err.contains(".customer.loyalty"), "{err}");

        let mut float = doc.automerge().clone();
        float.put(ROOT, "schema", 1.0).expect("put");
        let err = check(&float, &wo).expect_err("a float where an integer belongs");
        assert!(err.contains(".schema"), "{err}");
    }
}
