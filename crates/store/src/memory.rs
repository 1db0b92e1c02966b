//! In-memory backend: the reference semantics of [`Store`], for tests and the simulated cluster.
//!
//! Keeps every version of every key since the compacted revision, plus the log of changes that
//! watchers catch up from. All of it sits behind one lock; the write path publishes to the watch
//! feed while holding it, so the feed sees changes in revision order.

use std::{
    collections::{BTreeMap, VecDeque},
    sync::{Arc, Mutex, MutexGuard},
};

use async_trait::async_trait;
use bytes::Bytes;

use crate::{
    Deleted, Error, Event, KeyValue, RangePage, RangeRequest, Result, Revision, Store, check_size,
    watch::{History, Hub, Watch},
};

/// A store that lives and dies with the process.
#[derive(Debug, Clone)]
pub struct MemoryStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    state: Mutex<State>,
    hub: Arc<Hub>,
}

#[derive(Debug, Default)]
struct State {
    revision: Revision,
    compacted: Revision,
    /// Every version since `compacted` (and the one live at it), oldest first.
    keys: BTreeMap<String, Vec<Version>>,
    /// One event per revision after `compacted`, oldest first.
    log: VecDeque<Event>,
}

#[derive(Debug, Clone)]
struct Version {
    revision: Revision,
    /// `None` marks a delete.
    kv: Option<KeyValue>,
}

impl MemoryStore {
    pub fn new() -> MemoryStore {
        MemoryStore {
            inner: Arc::new(Inner {
                state: Mutex::new(State::default()),
                hub: Arc::new(Hub::new(Revision::ZERO)),
            }),
        }
    }
}

impl Default for MemoryStore {
    fn default() -> MemoryStore {
        MemoryStore::new()
    }
}

impl Inner {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl State {
    fn live(&self, key: &str) -> Option<&KeyValue> {
        self.keys.get(key)?.last()?.kv.as_ref()
    }

    fn check_revision(&self, requested: Revision) -> Result<()> {
        if requested < self.compacted {
            return Err(Error::Compacted { requested, compacted: self.compacted });
        }
        if requested > self.revision {
            return Err(Error::FutureRevision { requested, current: self.revision });
        }
        Ok(())
    }

    /// Records one change and returns the event, to publish while the lock is still held.
    fn commit(&mut self, key: &str, kv: Option<KeyValue>, prev: Option<KeyValue>) -> Event {
        self.revision = self.revision.next();
        let event = match (kv.clone(), prev) {
            (Some(kv), prev) => Event::Put { kv, prev },
            (None, Some(prev)) => Event::Delete { revision: self.revision, prev },
            (None, None) => unreachable!("a delete always has a previous value"),
        };
        self.keys.entry(key.to_owned()).or_default().push(Version { revision: self.revision, kv });
        self.log.push_back(event.clone());
        event
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn current_revision(&self) -> Result<Revision> {
        Ok(self.inner.state().revision)
    }

    async fn compacted_revision(&self) -> Result<Revision> {
        Ok(self.inner.state().compacted)
    }

    async fn get(&self, key: &str) -> Result<Option<KeyValue>> {
        Ok(self.inner.state().live(key).cloned())
    }

    async fn range(&self, request: &RangeRequest) -> Result<RangePage> {
        let state = self.inner.state();
        let revision = request.revision.unwrap_or(state.revision);
        state.check_revision(revision)?;
        let start = match request.start_after.as_deref() {
            Some(after) if after > request.prefix.as_str() => after,
            _ => request.prefix.as_str(),
        };
        let mut kvs = Vec::new();
        let mut more = false;
        let after = |key: &String| request.start_after.as_ref().is_none_or(|s| key > s);
        for (key, versions) in state.keys.range(start.to_owned()..) {
            if !key.starts_with(&request.prefix) {
                break;
            }
            if !after(key) {
                continue;
            }
            let at = versions.iter().rev().find(|v| v.revision <= revision);
            let Some(kv) = at.and_then(|v| v.kv.as_ref()) else { continue };
            if request.limit.is_some_and(|limit| kvs.len() == limit) {
                more = true;
                break;
            }
            kvs.push(kv.clone());
        }
        Ok(RangePage { kvs, more, revision })
    }

    async fn create(&self, key: &str, value: Bytes) -> Result<KeyValue> {
        check_size(key, &value)?;
        let mut state = self.inner.state();
        if let Some(current) = state.live(key) {
            return Err(Error::AlreadyExists {
                key: key.to_owned(),
                current: Box::new(current.clone()),
            });
        }
        let revision = state.revision.next();
        let kv = KeyValue {
            key: key.to_owned(),
            value,
            create_revision: revision,
            mod_revision: revision,
        };
        let event = state.commit(key, Some(kv.clone()), None);
        self.inner.hub.publish([event]);
        Ok(kv)
    }

    async fn update(&self, key: &str, value: Bytes, expected: Revision) -> Result<KeyValue> {
        check_size(key, &value)?;
        let mut state = self.inner.state();
        let Some(current) = state.live(key).cloned() else {
            return Err(Error::NotFound { key: key.to_owned() });
        };
        if current.mod_revision != expected {
            return Err(Error::Conflict {
                key: key.to_owned(),
                expected,
                current: Box::new(current),
            });
        }
        let kv = KeyValue {
            key: key.to_owned(),
            value,
            create_revision: current.create_revision,
            mod_revision: state.revision.next(),
        };
        let event = state.commit(key, Some(kv.clone()), Some(current));
        self.inner.hub.publish([event]);
        Ok(kv)
    }

    async fn delete(&self, key: &str, expected: Option<Revision>) -> Result<Deleted> {
        let mut state = self.inner.state();
        let Some(current) = state.live(key).cloned() else {
            return Err(Error::NotFound { key: key.to_owned() });
        };
        if let Some(expected) = expected.filter(|e| *e != current.mod_revision) {
            return Err(Error::Conflict {
                key: key.to_owned(),
                expected,
                current: Box::new(current),
            });
        }
        let event = state.commit(key, None, Some(current.clone()));
        self.inner.hub.publish([event]);
        Ok(Deleted { revision: state.revision, prev: current })
    }

    async fn watch(&self, prefix: &str, after: Revision) -> Result<Watch> {
        // Hold the lock while subscribing, so no change slips between the check and the feed.
        let state = self.inner.state();
        if after < state.compacted {
            return Err(Error::Compacted { requested: after, compacted: state.compacted });
        }
        Ok(self.inner.hub.watch(self.inner.clone(), prefix, after))
    }

    async fn compact(&self, revision: Revision) -> Result<()> {
        let mut state = self.inner.state();
        if revision <= state.compacted {
            return Ok(());
        }
        if revision > state.revision {
            return Err(Error::FutureRevision { requested: revision, current: state.revision });
        }
        state.compacted = revision;
        while state.log.front().is_some_and(|e| e.revision() <= revision) {
            state.log.pop_front();
        }
        // Keep, per key, the last version at or before the compacted revision (unless it is a
        // delete) and everything after it.
        state.keys.retain(|_, versions| {
            let keep_from = versions.iter().rposition(|v| v.revision <= revision).unwrap_or(0);
            versions.drain(..keep_from);
            if versions.first().is_some_and(|v| v.revision <= revision && v.kv.is_none()) {
                versions.remove(0);
            }
            !versions.is_empty()
        });
        Ok(())
    }
}

#[async_trait]
impl History for Inner {
    async fn history(
        &self,
        prefix: &str,
        after: Revision,
        upto: Revision,
        limit: usize,
    ) -> Result<Vec<Event>> {
        let state = self.state();
        if after < state.compacted {
            return Err(Error::Compacted { requested: after, compacted: state.compacted });
        }
        Ok(state
            .log
            .iter()
            .skip_while(|e| e.revision() <= after)
            .take_while(|e| e.revision() <= upto)
            .filter(|e| e.key().starts_with(prefix))
            .take(limit)
            .cloned()
            .collect())
    }
}
