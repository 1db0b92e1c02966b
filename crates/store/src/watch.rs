//! Watch fan-out shared by every backend: one feed of committed changes, many watchers.
//!
//! A backend publishes each committed change once, in revision order, into a [`Hub`] (SQLite and
//! memory from their commit path, etcd from one etcd watch). Every [`Watch`] reads that one feed
//! and filters it by prefix, so N watchers cost one read of each change, not N. A watcher that
//! starts in the past, or falls more than the feed's capacity behind, catches up from the
//! backend's [`History`] and then rejoins the feed; it never skips a revision silently. When the
//! history it needs is compacted it gets [`Error::Compacted`] and must re-list.
//!
//! Invariant: a watcher has considered every revision up to `position`; events it holds in
//! `pending` have revisions at or below `position`; live events at or below `position` are
//! duplicates of history it already read and are skipped.

use std::{
    collections::VecDeque,
    fmt,
    sync::{Arc, Mutex},
};

use async_trait::async_trait;
use tokio::sync::broadcast;

use crate::{Error, Event, Result, Revision};

/// How many changes the feed buffers before a slow watcher has to catch up from history.
const FEED_CAPACITY: usize = 1024;

/// How many events one history read returns at most.
const HISTORY_PAGE: usize = 1000;

/// Where a watcher reads changes it missed on the feed.
#[async_trait]
pub(crate) trait History: Send + Sync + fmt::Debug {
    /// Events under `prefix` with `after < revision <= upto`, in revision order, at most `limit`.
    /// Fails with [`Error::Compacted`] when part of that range is gone.
    async fn history(
        &self,
        prefix: &str,
        after: Revision,
        upto: Revision,
        limit: usize,
    ) -> Result<Vec<Event>>;
}

#[derive(Debug)]
pub(crate) enum Message {
    Event(Event),
    /// The feed itself lost changes up to `compacted` (an etcd watch could not be resumed):
    /// every watcher that had not considered them all must re-list.
    Reset {
        compacted: Revision,
    },
}

/// The feed of committed changes.
#[derive(Debug)]
pub(crate) struct Hub {
    /// The revision of the last published change. Updated and sent under one lock, so a
    /// subscriber that reads it knows which changes the feed will still give it.
    published: Mutex<Revision>,
    sender: broadcast::Sender<Arc<Message>>,
}

impl Hub {
    pub(crate) fn new(revision: Revision) -> Hub {
        let (sender, _) = broadcast::channel(FEED_CAPACITY);
        Hub { published: Mutex::new(revision), sender }
    }

    /// Publishes committed changes; callers publish in revision order from one place.
    pub(crate) fn publish(&self, events: impl IntoIterator<Item = Event>) {
        let mut published = lock(&self.published);
        for event in events {
            debug_assert!(event.revision() > *published, "events published out of order");
            *published = event.revision();
            // No receivers is fine: nobody watches yet.
            let _ = self.sender.send(Arc::new(Message::Event(event)));
        }
    }

    /// Tells every watcher that the feed has a gap before `compacted`.
    pub(crate) fn reset(&self, compacted: Revision) {
        let mut published = lock(&self.published);
        *published = (*published).max(compacted);
        let _ = self.sender.send(Arc::new(Message::Reset { compacted }));
    }

    pub(crate) fn published(&self) -> Revision {
        *lock(&self.published)
    }

    fn subscribe(&self) -> (broadcast::Receiver<Arc<Message>>, Revision) {
        let published = lock(&self.published);
        (self.sender.subscribe(), *published)
    }

    /// A watch on `prefix` from just after `after`. The caller has checked compaction.
    pub(crate) fn watch(
        self: &Arc<Hub>,
        history: Arc<dyn History>,
        prefix: &str,
        after: Revision,
    ) -> Watch {
        let (receiver, published) = self.subscribe();
        Watch {
            prefix: prefix.to_owned(),
            position: after,
            catch_up_to: published,
            pending: VecDeque::new(),
            receiver,
            hub: Arc::clone(self),
            history,
        }
    }
}

fn lock(mutex: &Mutex<Revision>) -> std::sync::MutexGuard<'_, Revision> {
    // A panic while holding this lock cannot leave the revision half-written.
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A stream of every change under a prefix after a revision. Made by [`crate::Store::watch`].
pub struct Watch {
    prefix: String,
    /// Every revision up to here has been delivered, queued in `pending` or filtered out.
    position: Revision,
    /// History must be read up to here before the live feed takes over.
    catch_up_to: Revision,
    pending: VecDeque<Event>,
    receiver: broadcast::Receiver<Arc<Message>>,
    hub: Arc<Hub>,
    history: Arc<dyn History>,
}

impl fmt::Debug for Watch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Watch")
            .field("prefix", &self.prefix)
            .field("position", &self.position)
            .field("catch_up_to", &self.catch_up_to)
            .field("pending", &self.pending.len())
            .finish()
    }
}

impl Watch {
    /// The next change, waiting for one if needed. [`Error::Compacted`] means changes were lost
    /// to compaction and the caller must re-list; [`Error::Closed`] that the store shut down.
    pub async fn next(&mut self) -> Result<Event> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Ok(event);
            }
            if self.position < self.catch_up_to {
                self.read_history().await?;
                continue;
            }
            match self.receiver.recv().await {
                Ok(message) => match &*message {
                    Message::Event(event) => {
                        if event.revision() <= self.position {
                            continue;
                        }
                        self.position = event.revision();
                        if event.key().starts_with(&self.prefix) {
                            return Ok(event.clone());
                        }
                    }
                    // The feed's gap ends at `compacted`: a watcher that has considered every
                    // revision up to it (from history, or reading from there on) misses nothing
                    // and goes on with what the feed publishes next.
                    Message::Reset { compacted } if self.position >= *compacted => {}
                    Message::Reset { compacted } => {
                        return Err(Error::Compacted {
                            requested: self.position,
                            compacted: *compacted,
                        });
                    }
                },
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::debug!(prefix = %self.prefix, missed, "watcher fell behind the feed; catching up from history");
                    let (receiver, published) = self.hub.subscribe();
                    self.receiver = receiver;
                    self.catch_up_to = published;
                }
                Err(broadcast::error::RecvError::Closed) => return Err(Error::Closed),
            }
        }
    }

    /// A revision up to which every change has been delivered, if the watcher is idle and in
    /// sync with the feed: what a bookmark may promise.
    pub fn synced_revision(&self) -> Option<Revision> {
        if !self.pending.is_empty() || self.position < self.catch_up_to {
            return None;
        }
        // Read the published revision first: every change up to it was sent before, so an
        // empty receiver means this watcher has taken all of them.
        let published = self.hub.published();
        self.receiver.is_empty().then_some(published.max(self.position))
    }

    async fn read_history(&mut self) -> Result<()> {
        let page = self
            .history
            .history(&self.prefix, self.position, self.catch_up_to, HISTORY_PAGE)
            .await?;
        self.position = match page.last() {
            Some(last) if page.len() == HISTORY_PAGE => last.revision(),
            _ => self.catch_up_to,
        };
        self.pending.extend(page);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::KeyValue;

    /// History that has nothing: the watchers below never need it.
    #[derive(Debug)]
    struct NoHistory;

    #[async_trait]
    impl History for NoHistory {
        async fn history(&self, _: &str, _: Revision, _: Revision, _: usize) -> Result<Vec<Event>> {
            Ok(Vec::new())
        }
    }

    fn put(key: &str, revision: i64) -> Event {
        let kv = KeyValue {
            key: key.to_owned(),
            value: Bytes::from_static(b"v"),
            create_revision: Revision(revision),
            mod_revision: Revision(revision),
        };
        Event::Put { kv, prev: None }
    }

    #[tokio::test]
    async fn a_reset_stops_only_the_watchers_it_leaves_a_gap_for() {
        let hub = Arc::new(Hub::new(Revision(3)));
        let mut behind = hub.watch(Arc::new(NoHistory), "/a/", Revision(4));
        let mut caught_up = hub.watch(Arc::new(NoHistory), "/a/", Revision(5));
        hub.reset(Revision(5));
        hub.publish([put("/a/x", 6)]);
        match behind.next().await {
            Err(Error::Compacted { requested, compacted }) => {
                assert_eq!((requested, compacted), (Revision(4), Revision(5)));
            }
            other => panic!("expected Compacted, got {other:?}"),
        }
        assert_eq!(caught_up.next().await.unwrap(), put("/a/x", 6));
    }
}
