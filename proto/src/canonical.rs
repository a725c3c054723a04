//! What a typed value looks like once written into an empty document, as a tree of values,
//! without building the document: the expected side of the shape check. Reconciling into an
//! empty document, autosurgeon first turns the whole value into such a tree and hands it to
//! the document in one piece; `Capture` is a document that keeps that tree instead of storing
//! it, so the tree is exactly what a real document would have been given.

use std::ops::RangeBounds;

use automerge::hydrate::{Map, Value as Tree};
use automerge::{AutomergeError, ObjId, ObjType, Prop, Value};
use autosurgeon::reconcile::{MapReconciler, NoKey};
use autosurgeon::{Reconcile, ReconcileError, Reconciler};

/// The root map of an empty document `value` is written into.
pub(crate) fn root<T: Reconcile>(value: T) -> Result<Map, ReconcileError> {
    let mut capture = Capture { root: None };
    autosurgeon::reconcile(&mut capture, value)?;
    Ok(capture.root.unwrap_or_default())
}

/// What writing `value` under a key of an empty document puts there; `None` for nothing.
pub(crate) fn value<T: Reconcile>(value: T) -> Result<Option<Tree>, ReconcileError> {
    let mut root = root(Alone(value))?;
    Ok(root.remove(ALONE).map(|entry| entry.value))
}

/// The key `Alone` writes its value under.
const ALONE: &str = "value";

/// A value as the only entry of a map.
struct Alone<T>(T);

impl<T: Reconcile> Reconcile for Alone<T> {
    type Key<'a> = NoKey;

    fn reconcile<R: Reconciler>(&self, mut reconciler: R) -> Result<(), R::Error> {
        let mut map = reconciler.map()?;
        map.put(ALONE, &self.0)
    }
}

/// An empty document that keeps the tree autosurgeon initialises it with. Anything else asked
/// of it fails: autosurgeon writing a value some other way would fail the check loudly rather
/// than compare against nothing.
struct Capture {
    root: Option<Map>,
}

fn not_captured() -> AutomergeError {
    AutomergeError::Fail
}

impl autosurgeon::ReadDoc for Capture {
    type Parents<'a> = automerge::Parents<'a>;

    fn get_heads(&self) -> Vec<automerge::ChangeHash> {
        Vec::new()
    }

    fn get<P: Into<Prop>>(
        &self,
        _obj: &ObjId,
        _prop: P,
    ) -> Result<Option<(Value<'_>, ObjId)>, AutomergeError> {
        Ok(None)
    }

    fn object_type<O: AsRef<ObjId>>(&self, obj: O) -> Option<ObjType> {
        (obj.as_ref() == &automerge::ROOT).then_some(ObjType::Map)
    }

    fn map_range<'a, O, R>(&'a self, _obj: O, _range: R) -> automerge::iter::MapRange<'a>
    where
        R: RangeBounds<String> + 'a,
        O: AsRef<ObjId>,
        R: RangeBounds<String>,
    {
        automerge::iter::MapRange::default()
    }

    fn list_range<O: AsRef<ObjId>, R: RangeBounds<usize>>(
        &self,
        _obj: O,
        _range: R,
    ) -> automerge::iter::ListRange<'_> {
        automerge::iter::ListRange::default()
    }

    fn length<O: AsRef<ObjId>>(&self, _obj: O) -> usize {
        0
    }

    fn text<O: AsRef<ObjId>>(&self, _obj: O) -> Result<String, AutomergeError> {
        Err(not_captured())
    }

    fn parents<O: AsRef<ObjId>>(&self, _obj: O) -> Result<Self::Parents<'_>, AutomergeError> {
        Err(not_captured())
    }

    fn is_empty(&self) -> bool {
        self.root.is_none()
    }
}

impl autosurgeon::Doc for Capture {
    fn put<O: AsRef<ObjId>, P: Into<Prop>, V: Into<automerge::ScalarValue>>(
        &mut self,
        _obj: O,
        _prop: P,
        _value: V,
    ) -> Result<(), AutomergeError> {
        Err(not_captured())
    }

    fn put_object<O: AsRef<ObjId>, P: Into<Prop>>(
        &mut self,
        _obj: O,
        _prop: P,
        _value: ObjType,
    ) -> Result<ObjId, AutomergeError> {
        Err(not_captured())
    }

    fn insert<O: AsRef<ObjId>, V: Into<automerge::ScalarValue>>(
        &mut self,
        _obj: O,
        _index: usize,
        _value: V,
    ) -> Result<(), AutomergeError> {
        Err(not_captured())
    }

    fn insert_object<O: AsRef<ObjId>>(
        &mut self,
        _obj: O,
        _index: usize,
        _value: ObjType,
    ) -> Result<ObjId, AutomergeError> {
        Err(not_captured())
    }

    fn increment<O: AsRef<ObjId>, P: Into<Prop>>(
        &mut self,
        _obj: O,
        _prop: P,
        _value: i64,
    ) -> Result<(), AutomergeError> {
        Err(not_captured())
    }

    fn delete<O: AsRef<ObjId>, P: Into<Prop>>(
        &mut self,
        _obj: O,
        _prop: P,
    ) -> Result<(), AutomergeError> {
        Err(not_captured())
    }

    fn splice_text<O: AsRef<ObjId>>(
        &mut self,
        _obj: O,
        _pos: usize,
        _del: isize,
        _text: &str,
    ) -> Result<(), AutomergeError> {
        Err(not_captured())
    }

    fn update_text<O: AsRef<ObjId>>(&mut self, _obj: O, _text: &str) -> Result<(), AutomergeError> {
        Err(not_captured())
    }

    fn batch_create<O: AsRef<ObjId>, P: Into<Prop>>(
        &mut self,
        _obj: O,
        _prop: P,
        _value: Tree,
        _insert: bool,
    ) -> Result<(), AutomergeError> {
        Err(not_captured())
    }

    fn init_root_from_hydrate(&mut self, value: &Map) -> Result<(), AutomergeError> {
        self.root = Some(value.clone());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use automerge::{AutoCommit, ReadDoc as _, ROOT};

    use super::*;
    use crate::testing::worked_job;
    use crate::WorkOrder;

    /// A worked job's work order, with a notes text of its own (as `check` writes it).
    fn job() -> WorkOrder {
        let mut wo = worked_job().0.read().expect("read");
        wo.notes = autosurgeon::Text::with_value(wo.notes.as_str());
        wo
    }

    #[test]
    fn the_tree_is_what_a_document_holds_after_the_same_write() {
        let wo = job();
        let mut written = AutoCommit::new();
        autosurgeon::reconcile(&mut written, &wo).expect("reconcile");
        let Tree::Map(held) = written.hydrate(ROOT, None).expect("hydrate") else {
            panic!("the root is a map");
        };
        assert_eq!(root(&wo).expect("tree"), held);
        // One field alone is what it is within the whole.
        let parts = value(&wo.part_usages).expect("tree").expect("written");
        assert_eq!(Some(&parts), held.get("part_usages"));
        let notes = value(&wo.notes).expect("tree").expect("written");
        assert_eq!(Some(&notes), held.get("notes"));
        assert!(matches!(notes, Tree::Text(_)));
        assert_eq!(
            value(wo.assignee).expect("tree"),
            held.get("assignee").cloned()
        );
    }
}
