//! The documents opened most recently, each kept with the exact chunks it was built from. A
//! document opened again whose stored chunks are byte for byte the same is copied from memory
//! (a few microseconds) instead of being rebuilt by Automerge (a fifth of a millisecond for a
//! typical work order): a technician working on a job opens it again and again. Chunks stored
//! any differently miss, so a copy can never be stale, whichever store or transaction the
//! bytes came from.

use std::collections::VecDeque;
use std::sync::Mutex;

use fieldsync_proto::{WorkOrderDocument, WorkOrderId};

/// Documents kept at most (a typical one takes tens of kilobytes in memory).
const CAPACITY: usize = 32;

/// A document stored in more bytes than this is not kept: memory stays small whatever a few
/// long-lived jobs grow to.
const MAX_STORED_BYTES: usize = 256 * 1024;

struct Entry {
    id: WorkOrderId,
    chunks: Vec<Vec<u8>>,
    doc: WorkOrderDocument,
}

/// Recently opened documents, most recently used last.
pub(crate) struct DocCache {
    recent: Mutex<VecDeque<Entry>>,
}

/// The documents this process opened last, whichever store they came from.
pub(crate) static OPENED: DocCache = DocCache::new();

impl DocCache {
    pub const fn new() -> DocCache {
        DocCache {
            recent: Mutex::new(VecDeque::new()),
        }
    }

    fn recent(&self) -> std::sync::MutexGuard<'_, VecDeque<Entry>> {
        // Entries are whole or absent, whatever panicked while the lock was held.
        self.recent
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A copy of the document built from exactly `chunks`, if one is kept.
    pub fn get(&self, id: WorkOrderId, chunks: &[Vec<u8>]) -> Option<WorkOrderDocument> {
        let mut recent = self.recent();
        let at = recent
            .iter()
            .position(|e| e.id == id && e.chunks == chunks)?;
        let entry = recent.remove(at)?;
        let copy = entry.doc.fresh_copy();
        recent.push_back(entry);
        Some(copy)
    }

    /// Keeps a copy of `doc`, which holds exactly what `chunks` hold, in place of any other
    /// version of the same document.
    pub fn put(&self, id: WorkOrderId, chunks: Vec<Vec<u8>>, doc: &WorkOrderDocument) {
        let mut recent = self.recent();
        recent.retain(|e| e.id != id);
        if chunks.iter().map(Vec::len).sum::<usize>() > MAX_STORED_BYTES {
            return;
        }
        let doc = doc.fresh_copy();
        if recent.len() >= CAPACITY {
            recent.pop_front();
        }
        recent.push_back(Entry { id, chunks, doc });
    }
}

#[cfg(test)]
mod tests {
    use fieldsync_proto::{Action, Actor, DeviceId, Role, Timestamp, UserId};

    use super::*;
    use crate::testing::server_doc;

    #[test]
    fn a_copy_is_served_only_for_the_same_bytes() {
        let user = UserId::new();
        let (id, mut doc) = server_doc(user);
        let cache = DocCache::new();
        let snapshot = doc.save();
        cache.put(id, vec![snapshot.clone()], &doc);
        let copy = cache
            .get(id, std::slice::from_ref(&snapshot))
            .expect("kept");
        assert_eq!(copy.read().expect("read"), doc.read().expect("read"));

        // Another version of the same document, or the same bytes under another id, miss.
        let tech = Actor {
            user,
            role: Role::Technician,
            device: DeviceId::new(),
        };
        let (_, change) = doc
            .act(&Action::Accept, &tech, Timestamp::now())
            .expect("accept");
        assert!(cache
            .get(id, &[snapshot.clone(), change.bytes.clone()])
            .is_none());
        assert!(cache
            .get(WorkOrderId::new(), std::slice::from_ref(&snapshot))
            .is_none());

        // Keeping the new version replaces the old one.
        cache.put(id, vec![snapshot.clone(), change.bytes.clone()], &doc);
        assert!(cache.get(id, std::slice::from_ref(&snapshot)).is_none());
        let accepted = cache.get(id, &[snapshot, change.bytes]).expect("kept");
        assert_eq!(accepted.read().expect("read"), doc.read().expect("read"));
    }

    #[test]
    fn copies_are_independent_and_bounded() {
        let user = UserId::new();
        let (id, mut doc) = server_doc(user);
        let cache = DocCache::new();
        let snapshot = doc.save();
        cache.put(id, vec![snapshot.clone()], &doc);
        let mut a = cache
            .get(id, std::slice::from_ref(&snapshot))
            .expect("kept");
        let mut b = cache
            .get(id, std::slice::from_ref(&snapshot))
            .expect("kept");
        assert_ne!(a.heads(), Vec::new());
        let tech = Actor {
            user,
            role: Role::Technician,
            device: DeviceId::new(),
        };
        a.act(&Action::Accept, &tech, Timestamp::now())
            .expect("accept");
        assert_ne!(
            a.heads(),
            b.heads(),
            "a change to one copy is not in another"
        );

        for _ in 0..CAPACITY + 5 {
            let (other, mut d) = server_doc(UserId::new());
            cache.put(other, vec![d.save()], &d);
        }
        assert!(cache.recent().len() <= CAPACITY);
    }

    #[test]
    fn a_document_stored_in_many_bytes_is_not_kept() {
        let (id, mut doc) = server_doc(UserId::new());
        let cache = DocCache::new();
        let snapshot = doc.save();
        cache.put(id, vec![snapshot.clone()], &doc);
        let big = vec![snapshot.clone(), vec![0u8; MAX_STORED_BYTES]];
        cache.put(id, big.clone(), &doc);
        assert!(cache.get(id, &big).is_none());
        assert!(
            cache.get(id, std::slice::from_ref(&snapshot)).is_none(),
            "the older version went too"
        );
    }
}
