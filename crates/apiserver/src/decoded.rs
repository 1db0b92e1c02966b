//! The objects the API server wrote last, kept decoded: an update reads the object it changes,
//! and decoding stored JSON is the costliest step of most updates, while the object it reads
//! is usually one just written (a pod is created, bound, then its status written several
//! times). kube-apiserver's `GuaranteedUpdate` likewise starts from the watch cache's decoded
//! object when it is current.
//!
//! An entry is the object at one key *and mod revision*, which never changes, so an entry is
//! never stale: a newer revision simply does not match it. The cache is small and bounded (by
//! entries and by the stored size of what it holds); a miss decodes as before.
//!
//! A create's entry is its stored bytes, decoded when first asked for: most objects created
//! are never written again (events), the create never built the whole tree (its
//! managedFields went into the bytes as text), and a tree evicted cold is slow to free.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

use berth_store::Revision;
use bytes::Bytes;
use serde_json::Value;

/// At most this many objects…
const MAX_ENTRIES: usize = 128;
/// …whose stored forms add up to at most this many bytes (decoded, an object takes a few
/// times its stored size).
const MAX_STORED_BYTES: usize = 1 << 20;

/// Recently written objects by key, each at the revision it was written at.
#[derive(Debug, Default)]
pub(crate) struct Decoded {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    entries: HashMap<String, Entry>,
    /// Keys in the order they were first held, oldest first (a key written again keeps its
    /// place: it is evicted by age, not by use).
    order: VecDeque<String>,
    stored_bytes: usize,
}

#[derive(Debug)]
struct Entry {
    revision: Revision,
    stored_len: usize,
    object: Held,
}

/// An object as the cache holds it.
#[derive(Debug)]
enum Held {
    Tree(Arc<Value>),
    /// Stored bytes not decoded yet (a create's).
    Stored(Bytes),
}

impl Decoded {
    /// The object at `key` as of `revision`, if it is held. It is shared: an update reads it
    /// in place, and a patch copies it (several times cheaper than decoding).
    pub(crate) fn get(&self, key: &str, revision: Revision) -> Option<Arc<Value>> {
        self.held(key, Some(revision)).map(|(_, object)| object)
    }

    /// The newest object held at `key` and its revision, which may be behind the store's.
    pub(crate) fn latest(&self, key: &str) -> Option<(Revision, Arc<Value>)> {
        self.held(key, None)
    }

    /// The object held at `key`, if it is at `wanted` (or at any revision).
    fn held(&self, key: &str, wanted: Option<Revision>) -> Option<(Revision, Arc<Value>)> {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = inner.entries.get(key).filter(|e| wanted.is_none_or(|w| w == e.revision))?;
        let revision = entry.revision;
        let bytes = match &entry.object {
            Held::Tree(object) => return Some((revision, object.clone())),
            Held::Stored(bytes) => bytes.clone(),
        };
        // Decoded outside the lock, then held decoded for the next reader.
        drop(inner);
        let object = Arc::new(crate::resources::decode_stored(key, &bytes, revision).ok()?);
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(entry) = inner.entries.get_mut(key)
            && entry.revision == revision
            && matches!(entry.object, Held::Stored(_))
        {
            entry.object = Held::Tree(object.clone());
        }
        Some((revision, object))
    }

    /// Forgets the object at `key`: it was deleted, and a write to an object created there
    /// later would only start from it to fail its compare-and-swap.
    pub(crate) fn forget(&self, key: &str) {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(entry) = inner.entries.remove(key) else { return };
        inner.stored_bytes -= entry.stored_len;
        inner.order.retain(|held| held != key);
        drop(inner);
        drop(entry);
    }

    /// Holds `object`, which is what decoding the `stored_len` bytes written at `key` as of
    /// `revision` gives; evicts the oldest entries beyond the bounds.
    pub(crate) fn put(&self, key: &str, revision: Revision, stored_len: usize, object: Value) {
        self.hold(key, revision, stored_len, Held::Tree(Arc::new(object)));
    }

    /// Holds the object stored as `bytes` at `key` as of `revision`, to be decoded when it is
    /// first asked for.
    pub(crate) fn put_stored(&self, key: &str, revision: Revision, bytes: Bytes) {
        self.hold(key, revision, bytes.len(), Held::Stored(bytes));
    }

    fn hold(&self, key: &str, revision: Revision, stored_len: usize, object: Held) {
        // One object may take at most an eighth of the bound, so a few big ones cannot
        // crowd out everything else.
        if stored_len > MAX_STORED_BYTES / 8 {
            return;
        }
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = Entry { revision, stored_len, object };
        let old = match inner.entries.get_mut(key) {
            Some(held) => Some(std::mem::replace(held, entry)),
            None => {
                inner.entries.insert(key.to_owned(), entry);
                inner.order.push_back(key.to_owned());
                None
            }
        };
        inner.stored_bytes += stored_len;
        if let Some(old) = &old {
            inner.stored_bytes -= old.stored_len;
        }
        // Usually none (`make_room` went first) or one, the oldest; more only when a big
        // object came in.
        let evicted = inner.evict(0);
        // The replaced and evicted trees are dropped here, after the lock is released: a tree
        // that has not been touched for a while is slow to free, and other writers wait on
        // the lock.
        drop(inner);
        drop(old);
        drop(evicted);
    }

    /// Evicts the oldest entries until one more object of `stored_len` bytes fits, so that
    /// its [`put`](Decoded::put) evicts nothing. A write calls it while the store commits:
    /// dropping the evicted trees, cold by then, is a good part of what holding an object
    /// costs, and this way the request does not wait for it.
    pub(crate) fn make_room(&self, stored_len: usize) {
        if stored_len > MAX_STORED_BYTES / 8 {
            return;
        }
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let evicted = inner.evict(stored_len);
        drop(inner);
        drop(evicted);
    }
}

impl Inner {
    /// Takes out the oldest entries until `incoming` more stored bytes, and one more entry if
    /// `incoming` is not zero, stay within the bounds.
    fn evict(&mut self, incoming: usize) -> Vec<Entry> {
        let room = usize::from(incoming > 0);
        let mut evicted = Vec::new();
        while self.entries.len() + room > MAX_ENTRIES
            || self.stored_bytes + incoming > MAX_STORED_BYTES
        {
            let Some(oldest) = self.order.pop_front() else { break };
            if let Some(entry) = self.entries.remove(&oldest) {
                self.stored_bytes -= entry.stored_len;
                evicted.push(entry);
            }
        }
        evicted
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn entries_match_their_revision_only() {
        let cache = Decoded::default();
        cache.put("/a", Revision(5), 10, json!({"v": 5}));
        assert_eq!(cache.get("/a", Revision(5)).as_deref(), Some(&json!({"v": 5})));
        assert_eq!(cache.get("/a", Revision(6)), None);
        assert_eq!(cache.get("/b", Revision(5)), None);
        cache.put("/a", Revision(7), 10, json!({"v": 7}));
        assert_eq!(cache.get("/a", Revision(5)), None, "an older revision is gone");
        assert_eq!(cache.get("/a", Revision(7)).as_deref(), Some(&json!({"v": 7})));
    }

    #[test]
    fn making_room_evicts_what_the_next_put_would() {
        let cache = Decoded::default();
        for i in 0..MAX_ENTRIES {
            cache.put(&format!("/k{i}"), Revision(1), 10, json!(i));
        }
        cache.make_room(10);
        assert_eq!(cache.get("/k0", Revision(1)), None, "the oldest went");
        assert_eq!(cache.inner.lock().unwrap().entries.len(), MAX_ENTRIES - 1);
        cache.make_room(10);
        assert_eq!(cache.inner.lock().unwrap().entries.len(), MAX_ENTRIES - 1, "room enough");
        cache.put("/new", Revision(1), 10, json!("new"));
        assert_eq!(cache.get("/k1", Revision(1)).as_deref(), Some(&json!(1)), "nothing else went");
        cache.make_room(MAX_STORED_BYTES / 8);
        let inner = cache.inner.lock().unwrap();
        assert!(inner.stored_bytes + MAX_STORED_BYTES / 8 <= MAX_STORED_BYTES);
        assert_eq!(inner.entries.len(), MAX_ENTRIES - 1, "{} entries", inner.entries.len());
    }

    #[test]
    fn stored_bytes_are_decoded_when_first_asked_for_and_then_held_decoded() {
        let cache = Decoded::default();
        let bytes = Bytes::from_static(br#"{"metadata":{"name":"a"},"spec":{}}"#);
        cache.put_stored("/a", Revision(4), bytes.clone());
        assert_eq!(cache.get("/a", Revision(3)), None, "another revision");
        assert!(matches!(cache.inner.lock().unwrap().entries["/a"].object, Held::Stored(_)));
        let (revision, object) = cache.latest("/a").unwrap();
        assert_eq!(revision, Revision(4));
        let expected = json!({"metadata": {"name": "a", "resourceVersion": "4"}, "spec": {}});
        assert_eq!(*object, expected);
        let again = cache.get("/a", Revision(4)).unwrap();
        assert!(Arc::ptr_eq(&object, &again), "decoded once, then shared");
        let inner = cache.inner.lock().unwrap();
        assert_eq!(inner.stored_bytes, bytes.len());
    }

    #[test]
    fn a_forgotten_key_is_gone_and_its_room_free() {
        let cache = Decoded::default();
        cache.put("/a", Revision(1), 10, json!("a"));
        cache.put("/b", Revision(1), 20, json!("b"));
        cache.forget("/a");
        cache.forget("/missing");
        assert_eq!(cache.latest("/a"), None);
        let inner = cache.inner.lock().unwrap();
        assert_eq!((inner.entries.len(), inner.stored_bytes), (1, 20));
        assert_eq!(inner.order, ["/b"]);
    }

    #[test]
    fn the_oldest_entries_go_first_within_both_bounds() {
        let cache = Decoded::default();
        for i in 0..MAX_ENTRIES + 10 {
            cache.put(&format!("/k{i}"), Revision(1), 10, json!(i));
        }
        assert_eq!(cache.get("/k0", Revision(1)), None);
        assert_eq!(cache.get("/k9", Revision(1)), None);
        assert_eq!(cache.get("/k10", Revision(1)).as_deref(), Some(&json!(10)));
        let inner = cache.inner.lock().unwrap();
        assert_eq!(inner.entries.len(), MAX_ENTRIES);
        assert_eq!(inner.order.len(), MAX_ENTRIES);
        assert_eq!(inner.stored_bytes, MAX_ENTRIES * 10);
        drop(inner);

        let big = MAX_STORED_BYTES / 8;
        let cache = Decoded::default();
        for i in 0..9 {
            cache.put(&format!("/big{i}"), Revision(1), big, json!(i));
        }
        assert_eq!(cache.get("/big0", Revision(1)), None, "over the byte bound, the oldest went");
        assert_eq!(cache.get("/big8", Revision(1)).as_deref(), Some(&json!(8)));
        assert!(cache.inner.lock().unwrap().stored_bytes <= MAX_STORED_BYTES);
        cache.put("/huge", Revision(1), big + 1, json!("huge"));
        assert_eq!(cache.get("/huge", Revision(1)), None, "an object too big to hold is not held");
    }
}
