//! In-memory views of one store prefix, listed at start and kept current by one store watch
//! (relisted when the watch loses history): what kube-apiserver keeps in informers for its
//! authorizer and admission plugins, so that a request reads memory instead of the store.
//!
//! A view trails the store by a watch delivery. [`Follower::catch_up`] waits (briefly) until
//! it has seen the store's current revision, for the callers that must not act on a view
//! older than a write a client has just seen answered.

use std::sync::Arc;
use std::time::Duration;

use berth_store::{Event, KeyValue, RangeRequest, Revision, Store};
use tokio::sync::{Notify, watch};

/// How long a catch-up waits for the view to reach the store's revision.
const CATCH_UP: Duration = Duration::from_secs(1);
/// How long one wait for the watching task's progress report lasts.
const POKE_WAIT: Duration = Duration::from_millis(50);

/// What a [`Follower`] keeps current: objects by store key.
pub(crate) trait View: Send + Sync + 'static {
    /// Replaces everything with `kvs`, every object under the prefix at one revision.
    fn reset(&self, kvs: &[KeyValue]);
    /// The object at `kv.key` was created or changed.
    fn put(&self, kv: &KeyValue);
    /// The object at `key` was deleted.
    fn delete(&self, key: &str);
}

/// A [`View`] of the objects under `prefix`, and the task that keeps it current.
#[derive(Debug)]
pub(crate) struct Follower<V> {
    prefix: String,
    view: V,
    /// The store revision up to which the view has applied every change.
    synced: watch::Sender<Revision>,
    /// Asks the watching task to report its progress.
    poke: Notify,
    store: Arc<dyn Store>,
}

impl<V: View> Follower<V> {
    /// An empty view; [`Follower::follow`] fills it and keeps it current.
    pub(crate) fn new(store: Arc<dyn Store>, prefix: String, view: V) -> Arc<Follower<V>> {
        Arc::new(Follower {
            prefix,
            view,
            synced: watch::Sender::new(Revision(0)),
            poke: Notify::new(),
            store,
        })
    }

    pub(crate) fn view(&self) -> &V {
        &self.view
    }

    /// Lists the prefix and starts the task that follows its changes until `stopping` fires
    /// or the store closes.
    pub(crate) async fn follow(
        self: &Arc<Self>,
        stopping: watch::Receiver<()>,
    ) -> Result<(), berth_store::Error> {
        let revision = self.relist().await?;
        tokio::spawn(follow(self.clone(), revision, stopping));
        Ok(())
    }

    /// Replaces the view with the store's objects; the revision they were read at.
    async fn relist(&self) -> Result<Revision, berth_store::Error> {
        let mut kvs = Vec::new();
        let mut request = RangeRequest::prefix(&self.prefix);
        let revision = loop {
            let mut page = self.store.range(&request).await?;
            let last = page.kvs.last().map(|kv| kv.key.clone());
            kvs.append(&mut page.kvs);
            match last {
                Some(last) if page.more => {
                    request.start_after = Some(last);
                    request.revision = Some(page.revision);
                }
                _ => break page.revision,
            }
        };
        self.view.reset(&kvs);
        self.synced.send_replace(revision);
        Ok(revision)
    }

    /// Waits until the view has seen the store's current revision, or [`CATCH_UP`] passed.
    pub(crate) async fn catch_up(&self) {
        let Ok(target) = self.store.current_revision().await else { return };
        let mut synced = self.synced.subscribe();
        let deadline = tokio::time::Instant::now() + CATCH_UP;
        while *synced.borrow_and_update() < target && tokio::time::Instant::now() < deadline {
            self.poke.notify_one();
            let _ = tokio::time::timeout(POKE_WAIT, synced.changed()).await;
        }
    }

    fn apply(&self, event: &Event) {
        match event {
            Event::Put { kv, .. } => self.view.put(kv),
            Event::Delete { prev, .. } => self.view.delete(&prev.key),
        }
    }
}

/// Follows the prefix from `revision` on; relists when the watch loses history.
async fn follow<V: View>(
    follower: Arc<Follower<V>>,
    mut revision: Revision,
    mut stopping: watch::Receiver<()>,
) {
    let prefix = follower.prefix.as_str();
    loop {
        let mut watch = match follower.store.watch(prefix, revision).await {
            Ok(watch) => watch,
            Err(berth_store::Error::Closed) => return,
            Err(error) => {
                tracing::warn!(%error, prefix, "cannot watch; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                revision = follower.relist().await.unwrap_or(revision);
                continue;
            }
        };
        let failure = loop {
            let next = tokio::select! {
                _ = stopping.changed() => return,
                next = watch.next() => Some(next),
                () = follower.poke.notified() => None,
            };
            let result = match next {
                Some(next) => next.map(|event| follower.apply(&event)),
                // Asked for progress: take what is queued without waiting for more.
                None => loop {
                    match tokio::time::timeout(Duration::ZERO, watch.next()).await {
                        Ok(Ok(event)) => follower.apply(&event),
                        Ok(Err(error)) => break Err(error),
                        Err(_) => break Ok(()),
                    }
                },
            };
            if let Err(error) = result {
                break error;
            }
            if let Some(synced) = watch.synced_revision() {
                follower.synced.send_if_modified(|current| {
                    let newer = synced > *current;
                    if newer {
                        *current = synced;
                    }
                    newer
                });
            }
        };
        match failure {
            berth_store::Error::Closed => return,
            error => tracing::debug!(%error, prefix, "the watch ended; relisting"),
        }
        loop {
            match follower.relist().await {
                Ok(listed) => {
                    revision = listed;
                    break;
                }
                Err(berth_store::Error::Closed) => return,
                Err(error) => {
                    tracing::warn!(%error, prefix, "cannot list; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }
}
