//! Checks that an Automerge document holds exactly a work order and nothing else: no keys the
//! schema does not know, no values of a kind that reading quietly converts. Reading a document
//! into the typed `WorkOrder` ignores what it does not know, so without this check a device
//! could push junk (deeply nested maps under a made-up key, say) that every replica would then
//! store and sync forever.

use automerge::{AutoCommit, ObjId, ObjType, ReadDoc, Value, ROOT};

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
            let found_keys: Vec<String> = found.keys(f_obj).collect();
            let expected_keys: Vec<String> = expected.keys(e_obj).collect();
            if let Some(extra) = found_keys.iter().find(|k| !expected_keys.contains(k)) {
                return Err(format!("{path}.{extra} is not part of a work order"));
            }
            for key in &expected_keys {
                let at = format!("{path}.{key}");
                let f = found.get(f_obj, key.as_str()).ok().flatten();
                let e = expected.get(e_obj, key.as_str()).ok().flatten();
                same_value(found, f, expected, e, &at)?;
            }
            Ok(())
        }
        ObjType::List => {
            let (fl, el) = (found.length(f_obj), expected.length(e_obj));
            if fl != el {
                return Err(format!("{path} has {fl} entries where {el} were read"));
            }
            for i in 0..el {
                let at = format!("{path}[{i}]");
                let f = found.get(f_obj, i).ok().flatten();
                let e = expected.get(e_obj, i).ok().flatten();
                same_value(found, f, expected, e, &at)?;
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
    f: Option<(Value<'_>, ObjId)>,
    expected: &AutoCommit,
    e: Option<(Value<'_>, ObjId)>,
    path: &str,
) -> Result<(), String> {
    match (f, e) {
        (None, None) => Ok(()),
        (Some((Value::Object(fk), f_id)), Some((Value::Object(ek), e_id))) if fk == ek => {
            same(found, &f_id, expected, &e_id, ek, path)
        }
        (Some((Value::Scalar(fs), _)), Some((Value::Scalar(es), _))) if fs == es => Ok(()),
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
