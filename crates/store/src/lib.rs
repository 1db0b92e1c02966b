//! berth's object store: an etcd-shaped, revisioned key-value store.
//!
//! The store knows keys and bytes, not Kubernetes. Every successful write bumps one global
//! [`Revision`] (the apiserver hands it out as `resourceVersion`), writes are guarded by the key's
//! mod revision (compare-and-swap), ranges can be read at an older revision and paged, and a
//! [`Watch`] delivers every change after a revision exactly once, in revision order — or
//! [`Error::Compacted`] once that history is gone, so the caller re-lists.
//!
//! Three backends implement [`Store`]: [`SqliteStore`] (the default, one file in the data dir),
//! [`EtcdStore`] (an etcd v3 cluster) and [`MemoryStore`] (tests). One conformance suite in
//! `tests/` runs against all three.
//!
//! Suggested reading order: this file, `watch.rs` (the shared fan-out), `memory.rs` (the
//! reference semantics in a hundred lines), then `sqlite.rs` and `etcd.rs`.

mod compactor;
mod etcd;
mod memory;
mod sqlite;
mod watch;

use std::{fmt, path::PathBuf};

use async_trait::async_trait;
use bytes::Bytes;

pub use compactor::{CompactionPolicy, spawn_compactor};
pub use etcd::{EtcdConfig, EtcdStore};
pub use memory::MemoryStore;
pub use sqlite::SqliteStore;
pub use watch::Watch;

/// The largest value a key may hold. etcd refuses requests over 1.5 MiB (`--max-request-bytes`
/// 1,572,864 including the key and framing); every backend enforces the same limit so that a
/// manifest accepted on SQLite is also accepted on etcd.
pub const MAX_VALUE_BYTES: usize = 1_572_864 - 16 * 1024;

/// A point in the store's history. Every successful write makes a new one, one greater than the
/// last; a failed compare-and-swap makes none. `Revision(0)` means "before anything".
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Revision(pub i64);

impl Revision {
    pub const ZERO: Revision = Revision(0);

    pub fn next(self) -> Revision {
        Revision(self.0 + 1)
    }
}

impl fmt::Debug for Revision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "r{}", self.0)
    }
}

impl fmt::Display for Revision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// One key's value as of some revision.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyValue {
    pub key: String,
    pub value: Bytes,
    /// The revision at which the key was last created (it resets after a delete).
    pub create_revision: Revision,
    /// The revision of the last write to the key: the compare-and-swap guard.
    pub mod_revision: Revision,
}

impl fmt::Debug for KeyValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyValue")
            .field("key", &self.key)
            .field("value_len", &self.value.len())
            .field("create_revision", &self.create_revision)
            .field("mod_revision", &self.mod_revision)
            .finish()
    }
}

/// One change, as a watch delivers it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// The key was created (`prev` is `None`) or updated.
    Put { kv: KeyValue, prev: Option<KeyValue> },
    /// The key was deleted at `revision`; `prev` is what it held.
    Delete { revision: Revision, prev: KeyValue },
}

impl Event {
    pub fn revision(&self) -> Revision {
        match self {
            Event::Put { kv, .. } => kv.mod_revision,
            Event::Delete { revision, .. } => *revision,
        }
    }

    pub fn key(&self) -> &str {
        match self {
            Event::Put { kv, .. } => &kv.key,
            Event::Delete { prev, .. } => &prev.key,
        }
    }
}

/// A range read: every key starting with `prefix`, in key order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RangeRequest {
    pub prefix: String,
    /// Continue after this key (the last key of the previous page).
    pub start_after: Option<String>,
    /// At most this many keys; `None` reads them all (backends page internally).
    pub limit: Option<usize>,
    /// Read the keys as they were at this revision; `None` reads the current state.
    pub revision: Option<Revision>,
}

impl RangeRequest {
    pub fn prefix(prefix: impl Into<String>) -> RangeRequest {
        RangeRequest { prefix: prefix.into(), start_after: None, limit: None, revision: None }
    }
}

/// One page of a range read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RangePage {
    pub kvs: Vec<KeyValue>,
    /// More keys follow the last one in `kvs`.
    pub more: bool,
    /// The revision the page was read at; pass it back to read the next page consistently.
    pub revision: Revision,
}

/// What a successful delete reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deleted {
    pub revision: Revision,
    pub prev: KeyValue,
}

/// The store's one error type, shared by every backend.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("key {key:?} already exists")]
    AlreadyExists { key: String, current: Box<KeyValue> },
    #[error("key {key:?} not found")]
    NotFound { key: String },
    /// The compare-and-swap guard failed: the key is at another mod revision.
    #[error("key {key:?} was modified: expected mod revision {expected}, found {}", current.mod_revision)]
    Conflict { key: String, expected: Revision, current: Box<KeyValue> },
    /// History before `compacted` is gone; the caller must re-read the current state.
    #[error("revision {requested} has been compacted; the oldest available is {compacted}")]
    Compacted { requested: Revision, compacted: Revision },
    #[error("revision {requested} is newer than the current revision {current}")]
    FutureRevision { requested: Revision, current: Revision },
    #[error("value for key {key:?} is {size} bytes, over the limit of {limit}")]
    TooLarge { key: String, size: usize, limit: usize },
    #[error("store file {} is in use by another berth process", path.display())]
    Locked { path: PathBuf },
    #[error("store file {} is not usable: {reason}", path.display())]
    BadFile { path: PathBuf, reason: String },
    /// The backend failed; `context` names it (the file or the endpoints).
    #[error("{context}")]
    Backend {
        context: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("the store is closed")]
    Closed,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The store. Implemented by [`SqliteStore`], [`EtcdStore`] and [`MemoryStore`]; used as
/// `Arc<dyn Store>`.
#[async_trait]
pub trait Store: Send + Sync + fmt::Debug {
    /// The newest revision.
    async fn current_revision(&self) -> Result<Revision>;

    /// Reads below this revision fail with [`Error::Compacted`].
    async fn compacted_revision(&self) -> Result<Revision>;

    async fn get(&self, key: &str) -> Result<Option<KeyValue>>;

    async fn range(&self, request: &RangeRequest) -> Result<RangePage>;

    /// Creates `key`; fails with [`Error::AlreadyExists`] if it exists.
    async fn create(&self, key: &str, value: Bytes) -> Result<KeyValue>;

    /// Replaces `key`'s value if its mod revision is still `expected`.
    async fn update(&self, key: &str, value: Bytes, expected: Revision) -> Result<KeyValue>;

    /// Deletes `key`, if `expected` is given only while its mod revision is still that.
    async fn delete(&self, key: &str, expected: Option<Revision>) -> Result<Deleted>;

    /// Every change to a key under `prefix` with a revision greater than `after`.
    async fn watch(&self, prefix: &str, after: Revision) -> Result<Watch>;

    /// Forgets history before `revision`. Compacting to an already compacted revision is a no-op.
    async fn compact(&self, revision: Revision) -> Result<()>;
}

/// The smallest key greater than every key starting with `prefix`, as etcd computes it; `None`
/// when no such key exists (the prefix is empty or all 0xff).
pub(crate) fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

pub(crate) fn check_size(key: &str, value: &Bytes) -> Result<()> {
    let size = key.len() + value.len();
    if size > MAX_VALUE_BYTES {
        return Err(Error::TooLarge { key: key.to_owned(), size, limit: MAX_VALUE_BYTES });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_increments_the_last_byte_that_can_be() {
        assert_eq!(prefix_end(b"/a/"), Some(b"/a0".to_vec()));
        assert_eq!(prefix_end(b"a\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_end(b"\xff\xff"), None);
        assert_eq!(prefix_end(b""), None);
    }
}
