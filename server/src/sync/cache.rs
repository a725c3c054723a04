//! Hot documents: a bounded cache of loaded work order documents, so that a push to a work order
//! pushed to a moment ago merges into the document in memory instead of loading and reading its
//! stored bytes again.
//!
//! An entry holds one version of one document, exactly as committed at that version. A push
//! takes the entry out (so no two pushes ever share a document), plans on it, and puts the
//! result back under the version its commit got. Every commit anywhere else (an office edit,
//! another server instance on the same PostgreSQL) gives the stored document another version,
//! so a stale entry never matches: the caller asks storage for the current version first (a
//! cheap read that skips the snapshot when it already has that version) and uses an entry only
//! when the versions are equal.
//!
//! Memory is bounded by a number of entries; the least recently used go first.

use std::sync::Mutex;

use fieldsync_proto::{WorkOrder, WorkOrderDocument, WorkOrderId};
use hashlink::LruCache;

use crate::storage::Seq;

/// Entries kept by default: each is one work order document in memory (tens of kilobytes for a
/// realistic one), so this stays within a few tens of megabytes.
pub const DEFAULT_HOT_DOCUMENTS: usize = 1024;

/// One document as committed at `version`, with the work order it holds and its stored bytes
/// (which the next commit may append its changes to).
pub struct HotDocument {
    pub version: Seq,
    pub doc: WorkOrderDocument,
    pub work_order: WorkOrder,
    pub stored: Vec<u8>,
}

impl std::fmt::Debug for HotDocument {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HotDocument")
            .field("id", &self.work_order.id)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

/// The cache shared by every request of a server.
pub struct DocumentCache {
    entries: Mutex<LruCache<WorkOrderId, HotDocument>>,
    capacity: usize,
}

impl std::fmt::Debug for DocumentCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DocumentCache")
            .field("len", &self.len())
            .finish()
    }
}

impl Default for DocumentCache {
    fn default() -> Self {
        Self::new(DEFAULT_HOT_DOCUMENTS)
    }
}

impl DocumentCache {
    /// A cache of at most `capacity` documents; 0 keeps none.
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: Mutex::new(LruCache::new(capacity.max(1))),
            capacity,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LruCache<WorkOrderId, HotDocument>> {
        // The map stays consistent whatever panicked while it was held.
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The version held of `id`, if any.
    pub fn version(&self, id: WorkOrderId) -> Option<Seq> {
        self.lock().peek(&id).map(|e| e.version)
    }

    /// Takes the entry of `id` out if it is at `version`; an entry at any other version is
    /// stale and dropped.
    pub fn take(&self, id: WorkOrderId, version: Seq) -> Option<HotDocument> {
        let entry = self.lock().remove(&id)?;
        (entry.version == version).then_some(entry)
    }

    /// Keeps `entry`, replacing any other of the same document; the least recently used entry
    /// makes room.
    pub fn put(&self, entry: HotDocument) {
        if self.capacity == 0 {
            return;
        }
        let id = entry.work_order.id;
        let mut entries = self.lock();
        if entries.peek(&id).is_some_and(|e| e.version > entry.version) {
            return;
        }
        entries.insert(id, entry);
    }

    /// Forgets `id` (its stored version changed in a way the cache did not see).
    pub fn forget(&self, id: WorkOrderId) {
        self.lock().remove(&id);
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fieldsync_proto::{Actor, DeviceId, Role, Timestamp, UserId};

    fn entry(version: u64) -> HotDocument {
        let office = Actor {
            user: UserId::new(),
            role: Role::Dispatcher,
            device: DeviceId::new(),
        };
        let new = crate::sync::push::tests::intake(None);
        let (mut doc, work_order, _) =
            WorkOrderDocument::create(WorkOrderId::new(), new, &office, Timestamp(1_000))
                .expect("create");
        HotDocument {
            version: Seq(version),
            stored: doc.save(),
            doc,
            work_order,
        }
    }

    #[test]
    fn an_entry_is_taken_only_at_its_version_and_only_once() {
        let cache = DocumentCache::new(4);
        let hot = entry(5);
        let id = hot.work_order.id;
        cache.put(hot);
        assert_eq!(cache.version(id), Some(Seq(5)));
        assert!(cache.take(id, Seq(6)).is_none(), "stale for version 6");
        assert!(cache.is_empty(), "a stale entry is dropped");

        cache.put(entry_with_id(id, 7));
        let taken = cache.take(id, Seq(7)).expect("current");
        assert_eq!(taken.version, Seq(7));
        assert!(cache.take(id, Seq(7)).is_none(), "taken out");
    }

    fn entry_with_id(id: WorkOrderId, version: u64) -> HotDocument {
        let mut e = entry(version);
        e.work_order.id = id;
        e
    }

    #[test]
    fn an_older_version_never_replaces_a_newer_one() {
        let cache = DocumentCache::new(4);
        let newer = entry(9);
        let id = newer.work_order.id;
        cache.put(newer);
        cache.put(entry_with_id(id, 8));
        assert_eq!(cache.version(id), Some(Seq(9)));
        cache.forget(id);
        assert_eq!(cache.version(id), None);
    }

    #[test]
    fn the_least_recently_used_entry_makes_room() {
        let cache = DocumentCache::new(2);
        let (a, b, c) = (entry(1), entry(2), entry(3));
        let (ida, idb, idc) = (a.work_order.id, b.work_order.id, c.work_order.id);
        cache.put(a);
        cache.put(b);
        cache.put(c);
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.version(ida), None, "evicted");
        assert_eq!(cache.version(idb), Some(Seq(2)));
        assert_eq!(cache.version(idc), Some(Seq(3)));
    }
}
