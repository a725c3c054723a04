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
//! Memory is bounded by a number of entries and by the total of their stored bytes (which an
//! entry takes a small multiple of in memory), so that a few very large documents cannot hold
//! as much memory as a thousand ordinary ones; the least recently used go first.

use std::sync::Mutex;

use fieldsync_proto::{WorkOrder, WorkOrderDocument, WorkOrderId};
use hashlink::LruCache;

use crate::storage::Seq;

/// Entries kept by default: each is one work order document in memory (tens of kilobytes for a
/// realistic one), so this stays within a few tens of megabytes.
pub const DEFAULT_HOT_DOCUMENTS: usize = 1024;

/// Stored bytes of all entries together, by default. A realistic document stores 2–5 KB (its
/// save and the changes appended since), so only unusually large ones bring the number kept
/// below `DEFAULT_HOT_DOCUMENTS`.
pub const DEFAULT_HOT_STORED_BYTES: usize = 8 << 20;

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
    entries: Mutex<Entries>,
    max_entries: usize,
    max_stored_bytes: usize,
}

/// The entries, least recently used first, and the total of their stored bytes; entries go in
/// and out only through these methods, which keep the total.
struct Entries {
    lru: LruCache<WorkOrderId, HotDocument>,
    stored_bytes: usize,
}

impl Entries {
    fn insert(&mut self, entry: HotDocument) {
        self.stored_bytes += entry.stored.len();
        if let Some(replaced) = self.lru.insert(entry.work_order.id, entry) {
            self.stored_bytes -= replaced.stored.len();
        }
    }

    fn remove(&mut self, id: &WorkOrderId) -> Option<HotDocument> {
        let entry = self.lru.remove(id)?;
        self.stored_bytes -= entry.stored.len();
        Some(entry)
    }

    /// Drops the least recently used entry; `false` when there is none.
    fn evict_oldest(&mut self) -> bool {
        let Some((_, oldest)) = self.lru.remove_lru() else {
            return false;
        };
        self.stored_bytes -= oldest.stored.len();
        true
    }
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
        Self::new(DEFAULT_HOT_DOCUMENTS, DEFAULT_HOT_STORED_BYTES)
    }
}

impl DocumentCache {
    /// A cache of at most `max_entries` documents storing at most `max_stored_bytes` together;
    /// 0 entries keeps none, and a document storing more than `max_stored_bytes` alone is not
    /// kept.
    pub fn new(max_entries: usize, max_stored_bytes: usize) -> Self {
        Self {
            entries: Mutex::new(Entries {
                lru: LruCache::new_unbounded(),
                stored_bytes: 0,
            }),
            max_entries,
            max_stored_bytes,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        // The map stays consistent whatever panicked while it was held.
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The version held of `id`, if any.
    pub fn version(&self, id: WorkOrderId) -> Option<Seq> {
        self.lock().lru.peek(&id).map(|e| e.version)
    }

    /// Takes the entry of `id` out if it is at `version`; an entry at any other version is
    /// stale and dropped.
    pub fn take(&self, id: WorkOrderId, version: Seq) -> Option<HotDocument> {
        let entry = self.lock().remove(&id)?;
        (entry.version == version).then_some(entry)
    }

    /// Keeps `entry`, replacing any other of the same document; the least recently used
    /// entries make room.
    pub fn put(&self, entry: HotDocument) {
        let id = entry.work_order.id;
        let mut entries = self.lock();
        if entries
            .lru
            .peek(&id)
            .is_some_and(|e| e.version > entry.version)
        {
            return;
        }
        // Whatever is kept of this document after this is `entry`, or nothing.
        entries.remove(&id);
        if self.max_entries == 0 || entry.stored.len() > self.max_stored_bytes {
            return;
        }
        while entries.lru.len() >= self.max_entries
            || entries.stored_bytes + entry.stored.len() > self.max_stored_bytes
        {
            if !entries.evict_oldest() {
                break;
            }
        }
        entries.insert(entry);
    }

    /// Forgets `id` (its stored version changed in a way the cache did not see).
    pub fn forget(&self, id: WorkOrderId) {
        self.lock().remove(&id);
    }

    pub fn len(&self) -> usize {
        self.lock().lru.len()
    }

    /// Stored bytes of all entries together.
    pub fn stored_bytes(&self) -> usize {
        self.lock().stored_bytes
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
        let cache = DocumentCache::new(4, DEFAULT_HOT_STORED_BYTES);
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
        let cache = DocumentCache::new(4, DEFAULT_HOT_STORED_BYTES);
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
        let cache = DocumentCache::new(2, DEFAULT_HOT_STORED_BYTES);
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

    #[test]
    fn large_documents_make_room_by_their_stored_bytes() {
        let (a, b, c) = (entry(1), entry(2), entry(3));
        let size = a.stored.len();
        assert!(b.stored.len() == size && c.stored.len() == size);
        // Room for two such documents' bytes, though for ten documents by number.
        let cache = DocumentCache::new(10, 2 * size + size / 2);
        let (ida, idb, idc) = (a.work_order.id, b.work_order.id, c.work_order.id);
        cache.put(a);
        cache.put(b);
        assert_eq!(cache.stored_bytes(), 2 * size);
        cache.put(c);
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.stored_bytes(), 2 * size);
        assert_eq!(cache.version(ida), None, "evicted");
        assert_eq!(cache.version(idb), Some(Seq(2)));
        assert_eq!(cache.version(idc), Some(Seq(3)));

        assert!(cache.take(idb, Seq(2)).is_some());
        assert_eq!(cache.stored_bytes(), size, "taken out with its bytes");
        cache.forget(idc);
        assert_eq!(cache.stored_bytes(), 0);
    }

    #[test]
    fn a_document_larger_than_the_whole_budget_is_not_kept() {
        let small = entry(1);
        let size = small.stored.len();
        let cache = DocumentCache::new(10, size);
        let id = small.work_order.id;
        cache.put(small);
        assert_eq!(cache.version(id), Some(Seq(1)));

        // A newer version of the same document that outgrew the budget: the older one is stale
        // and goes too.
        let mut grown = entry_with_id(id, 2);
        grown.stored.resize(size + 1, 0);
        cache.put(grown);
        assert_eq!(cache.version(id), None);
        assert!(cache.is_empty());
        assert_eq!(cache.stored_bytes(), 0);
    }

    #[test]
    fn a_cache_of_no_entries_keeps_nothing() {
        let cache = DocumentCache::new(0, DEFAULT_HOT_STORED_BYTES);
        cache.put(entry(1));
        assert!(cache.is_empty());
    }
}
