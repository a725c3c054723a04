//! Checks that an Automerge document holds exactly a work order and nothing else: no keys the
//! schema does not know, no values of a kind that reading quietly converts. Reading a document
//! into the typed `WorkOrder` ignores what it does not know, so without this check a device
//! could push junk (deeply nested maps under a made-up key, say) that every replica would then
//! store and sync forever. The document is read from a `Snapshot` copy and compared with the
//! tree of values the work order writes into an empty document (`canonical`), both in memory.

use std::collections::BTreeMap;

use automerge::hydrate::Value as Tree;
use automerge::{ObjId, ObjType, Value, ROOT};

use crate::canonical;
use crate::snapshot::{Object, Snapshot};
use crate::work_order::WorkOrder;

/// Compares the whole of `found` with what writing `wo` into an empty document writes.
/// Returns the path of the first difference.
pub(crate) fn check(found: &Snapshot<'_>, wo: &WorkOrder) -> Result<(), String> {
    // A hydrated text remembers the document it came from; write a fresh one.
    let mut fresh = wo.clone();
    fresh.notes = autosurgeon::Text::with_value(wo.notes.as_str());
    let expected = canonical::root(&fresh).map_err(cannot_write)?;
    same_map(found, &ROOT, &expected, "")
}

/// `check` for the top-level fields a change touched alone: each key must be a work order field
/// holding exactly what `wo` holds there. `fields` maps each key to where its reading started:
/// for an append-only list read from position `n` on, only the entries from `n` are compared
/// (the ones before were compared when they were read). `found` must hold these fields
/// (`Snapshot::take_fields`).
pub(crate) fn check_fields(
    found: &Snapshot<'_>,
    wo: &WorkOrder,
    fields: &BTreeMap<String, usize>,
) -> Result<(), String> {
    // Each key with what it should hold and, for a list compared from an entry on, its length.
    let mut expected = Vec::with_capacity(fields.len());
    for (key, &from) in fields {
        let written = match wo.entry_list(key).filter(|_| from > 0) {
            Some(list) => Some((
                list.canonical_from(from).map_err(cannot_write)?,
                Some(list.entries()),
            )),
            None => wo
                .canonical_field(key)
                .map_err(cannot_write)?
                .map(|value| (value, None)),
        };
        let Some((value, entries)) = written else {
            return Err(format!(".{key} is not part of a work order"));
        };
        expected.push((key, from, value, entries));
    }
    for (key, from, value, entries) in expected {
        let f = found.root_entry(key);
        let path = format!(".{key}");
        match entries {
            Some(length) => same_entries_from(found, f, value.as_ref(), from, length, &path)?,
            None => same_value(found, f, value.as_ref(), &path)?,
        }
    }
    Ok(())
}

fn cannot_write(e: autosurgeon::ReconcileError) -> String {
    format!("the work order cannot be written back ({e})")
}

/// A value found in one object: what it is and, for an object, its id.
type Item<'a> = (&'a Value<'static>, &'a ObjId);

/// Compares the entries of the list `found` holds from position `from` on with the entries
/// `expected` lists; the found list must have `length` entries in all.
fn same_entries_from(
    found: &Snapshot<'_>,
    f: Option<Item<'_>>,
    expected: Option<&Tree>,
    from: usize,
    length: usize,
    path: &str,
) -> Result<(), String> {
    let wrong_kind = || format!("{path} does not hold the kind of value a work order has there");
    let (Some((Value::Object(ObjType::List), list)), Some(Tree::List(e_items))) = (f, expected)
    else {
        return Err(wrong_kind());
    };
    let Some(Object::List {
        first,
        length: fl,
        items,
    }) = found.object(list)
    else {
        return Err(wrong_kind());
    };
    if fl != length {
        return Err(format!("{path} has {fl} entries where {length} were read"));
    }
    let Some(f_items) = from.checked_sub(first).and_then(|skip| items.get(skip..)) else {
        return Err(format!("{path} was not read from entry {from} on"));
    };
    for (i, ((value, id), e)) in f_items.iter().zip(e_items.iter()).enumerate() {
        let at = format!("{path}[{}]", from + i);
        same_value(found, Some((value, id)), Some(&e.value), &at)?;
    }
    Ok(())
}

fn same_map(
    found: &Snapshot<'_>,
    obj: &ObjId,
    expected: &automerge::hydrate::Map,
    path: &str,
) -> Result<(), String> {
    let Some(Object::Map(entries)) = found.object(obj) else {
        return Err(format!(
            "{path} does not hold the kind of value a work order has there"
        ));
    };
    if let Some((extra, _, _)) = entries.iter().find(|(k, _, _)| !expected.contains_key(k)) {
        return Err(format!("{path}.{extra} is not part of a work order"));
    }
    // In key order, so that the first difference reported does not depend on hashing.
    let mut keys: Vec<&String> = expected.keys().collect();
    keys.sort();
    for key in keys {
        let f = entries
            .iter()
            .find(|(k, _, _)| k == key)
            .map(|(_, value, id)| (value, id));
        let e = expected.get(key);
        same_value(found, f, e, &format!("{path}.{key}"))?;
    }
    Ok(())
}

fn same_value(
    found: &Snapshot<'_>,
    f: Option<Item<'_>>,
    e: Option<&Tree>,
    path: &str,
) -> Result<(), String> {
    let wrong_kind = || format!("{path} does not hold the kind of value a work order has there");
    match (f, e) {
        (None, None) => Ok(()),
        (None, Some(_)) => Err(format!("{path} is missing")),
        (Some((Value::Scalar(fs), _)), Some(Tree::Scalar(es))) if fs.as_ref() == es => Ok(()),
        (Some((Value::Object(ObjType::Map), id)), Some(Tree::Map(map))) => {
            same_map(found, id, map, path)
        }
        (Some((Value::Object(ObjType::List), id)), Some(Tree::List(list))) => {
            let Some(Object::List {
                first: 0,
                length,
                items,
            }) = found.object(id)
            else {
                return Err(wrong_kind());
            };
            if length != list.len() {
                return Err(format!(
                    "{path} has {length} entries where {} were read",
                    list.len()
                ));
            }
            for (i, ((value, id), e)) in items.iter().zip(list.iter()).enumerate() {
                same_value(
                    found,
                    Some((value, id)),
                    Some(&e.value),
                    &format!("{path}[{i}]"),
                )?;
            }
            Ok(())
        }
        (Some((Value::Object(ObjType::Text), id)), Some(Tree::Text(text))) => {
            match found.object(id) {
                Some(Object::Text(f)) if f == text.to_string() => Ok(()),
                _ => Err(format!("{path} is not the text that was read")),
            }
        }
        _ => Err(wrong_kind()),
    }
}

#[cfg(test)]
mod tests {
    use automerge::transaction::Transactable;
    use automerge::ReadDoc as _;

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
        assert_eq!(check(&Snapshot::take(doc.automerge()), &wo), Ok(()));
    }

    #[test]
    fn junk_keys_and_converted_values_are_found() {
        let (doc, _) = doc();
        let wo = doc.read().expect("read");
        let mut junk = doc.automerge().clone();
        let obj = junk.put_object(ROOT, "junk", ObjType::Map).expect("put");
        junk.put(&obj, "deeper", 1).expect("put");
        let err = check(&Snapshot::take(&junk), &wo).expect_err("junk");
        assert!(err.contains(".junk"), "{err}");

        let mut nested = doc.automerge().clone();
        let customer = nested
            .get(ROOT, "customer")
            .expect("get")
            .expect("customer")
            .1;
        nested.put(&customer, "loyalty", "gold").expect("put");
        let err = check(&Snapshot::take(&nested), &wo).expect_err("nested junk");
        assert!(err.contains(".customer.loyalty"), "{err}");

        let mut float = doc.automerge().clone();
        float.put(ROOT, "schema", 1.0).expect("put");
        let err =
            check(&Snapshot::take(&float), &wo).expect_err("a float where an integer belongs");
        assert!(err.contains(".schema"), "{err}");
    }
}
