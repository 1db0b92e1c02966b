//! Shared informers (kube-controller-manager's `SharedInformerFactory`): one watch and one cache
//! per kind for every controller of the process, each object pruned once ([`Cached::prune`])
//! and shared (`Arc`), each controller subscribing to the changes it cares about. Before this,
//! every controller kept its own watch-fed copy of every pod; the copies were most of berth's
//! memory per pod.
//!
//! An [`Informer`] is read like a kube-rs reflector store ([`Store::get`], [`Store::state`],
//! [`Store::wait_until_ready`]): during a relist readers keep seeing the previous list, which
//! is swapped in whole when the relist is done. Subscribers see the watch's own events
//! ([`watcher::Event`], objects as `Arc`), each after the store applied it, so a handler that
//! reads the store sees at least what the event says. A subscriber that comes late first gets
//! the store's content replayed as a list (`Init`, `InitApply`…, `InitDone`).

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex, RwLock, Weak};

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{
    Endpoints, Node, PersistentVolume, PersistentVolumeClaim, Service,
};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::storage::v1::StorageClass;
use kube::Resource;
use kube::api::Api;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::{WatchStreamExt, watcher};
use serde::de::DeserializeOwned;
use tokio::sync::{Notify, mpsc, watch};
use tokio::task::JoinHandle;

/// A kind the informers cache, and what of it the controllers read.
pub(crate) trait Cached:
    Resource<DynamicType = ()> + Clone + Debug + DeserializeOwned + Send + Sync + 'static
{
    /// Drops, before the object is stored, what no controller reads: managedFields at least.
    fn prune(&mut self) {
        self.meta_mut().managed_fields = None;
    }
}

impl Cached for Node {}
impl Cached for PersistentVolumeClaim {}
impl Cached for PersistentVolume {}
impl Cached for StorageClass {}
impl Cached for Service {}
impl Cached for Endpoints {}
impl Cached for EndpointSlice {}
impl Cached for StatefulSet {}
impl Cached for ControllerRevision {}
impl Cached for Lease {}

/// The informers of one process: one per kind, started by the first controller that asks for
/// it. Its watches end with [`Informers::shutdown`].
pub(crate) struct Informers {
    client: kube::Client,
    kinds: Mutex<HashMap<TypeId, Box<dyn Any + Send + Sync>>>,
    watches: Mutex<Vec<JoinHandle<()>>>,
}

impl Debug for Informers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Informers").finish_non_exhaustive()
    }
}

impl Informers {
    pub(crate) fn new(client: kube::Client) -> Informers {
        Informers { client, kinds: Mutex::default(), watches: Mutex::default() }
    }

    /// The informer of `K` over every namespace, its watch started on first use.
    pub(crate) fn get<K: Cached>(&self) -> Informer<K> {
        let mut kinds = self.kinds.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(informer) =
            kinds.get(&TypeId::of::<K>()).and_then(|any| any.downcast_ref::<Informer<K>>())
        {
            return informer.clone();
        }
        let informer = Informer { shared: Arc::new(Shared::new()) };
        let watch = tokio::spawn(drive(Api::<K>::all(self.client.clone()), informer.clone()));
        self.watches.lock().unwrap_or_else(|e| e.into_inner()).push(watch);
        kinds.insert(TypeId::of::<K>(), Box::new(informer.clone()));
        informer
    }

    /// Stops every watch (the caches stay as they were).
    pub(crate) fn shutdown(&self) {
        for watch in self.watches.lock().unwrap_or_else(|e| e.into_inner()).drain(..) {
            watch.abort();
        }
    }
}

/// Feeds the informer from its watch, forever.
async fn drive<K: Cached>(api: Api<K>, informer: Informer<K>) {
    let mut events = watcher(api, watcher::Config::default()).default_backoff().boxed();
    while let Some(event) = events.next().await {
        match event {
            Ok(event) => informer.apply(event),
            Err(error) => tracing::debug!(%error, kind = %K::kind(&()), "watch failed; retrying"),
        }
    }
}

/// The cache of one kind and its subscribers; cheap to clone.
pub(crate) struct Informer<K: Cached> {
    shared: Arc<Shared<K>>,
}

/// How an informer is read: the same handle.
pub(crate) type Store<K> = Informer<K>;

/// What a subscriber receives.
pub(crate) type Event<K> = watcher::Event<Arc<K>>;

impl<K: Cached> Clone for Informer<K> {
    fn clone(&self) -> Informer<K> {
        Informer { shared: self.shared.clone() }
    }
}

impl<K: Cached> Debug for Informer<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Informer").field("kind", &K::kind(&())).finish_non_exhaustive()
    }
}

struct Shared<K: Cached> {
    state: RwLock<State<K>>,
    /// Whether the first list is done.
    ready: watch::Sender<bool>,
}

struct State<K: Cached> {
    objects: HashMap<ObjectRef<K>, Arc<K>>,
    /// A list under way (the watch's `Init` … `InitDone`).
    listing: Option<HashMap<ObjectRef<K>, Arc<K>>>,
    synced: bool,
    subscribers: Vec<Subscriber<K>>,
}

enum Subscriber<K> {
    /// Gets every event.
    Events(mpsc::UnboundedSender<Event<K>>),
    /// Is woken by every event.
    Wake(Weak<Notify>),
}

impl<K> Subscriber<K> {
    /// Hands the subscriber `event`; false once it is gone.
    fn deliver(&self, event: &Event<K>) -> bool {
        match self {
            Subscriber::Events(sender) => sender.send(event.clone()).is_ok(),
            Subscriber::Wake(notify) => match notify.upgrade() {
                Some(notify) => {
                    notify.notify_one();
                    true
                }
                None => false,
            },
        }
    }
}

impl<K: Cached> Shared<K> {
    fn new() -> Shared<K> {
        Shared {
            state: RwLock::new(State {
                objects: HashMap::new(),
                listing: None,
                synced: false,
                subscribers: Vec::new(),
            }),
            ready: watch::Sender::new(false),
        }
    }
}

impl<K: Cached> Informer<K> {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, State<K>> {
        self.shared.state.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State<K>> {
        self.shared.state.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Applies one watch event to the cache, then hands it to every subscriber.
    pub(crate) fn apply(&self, event: watcher::Event<K>) {
        let shared = |mut object: K| {
            object.prune();
            Arc::new(object)
        };
        let event: Event<K> = match event {
            watcher::Event::Init => watcher::Event::Init,
            watcher::Event::InitApply(object) => watcher::Event::InitApply(shared(object)),
            watcher::Event::InitDone => watcher::Event::InitDone,
            watcher::Event::Apply(object) => watcher::Event::Apply(shared(object)),
            watcher::Event::Delete(object) => watcher::Event::Delete(shared(object)),
        };
        let mut state = self.write();
        match &event {
            watcher::Event::Init => state.listing = Some(HashMap::new()),
            watcher::Event::InitApply(object) => {
                let key = ObjectRef::from_obj(&**object);
                state.listing.get_or_insert_with(HashMap::new).insert(key, object.clone());
            }
            watcher::Event::InitDone => {
                if let Some(listed) = state.listing.take() {
                    state.objects = listed;
                }
                state.synced = true;
                self.shared.ready.send_replace(true);
            }
            watcher::Event::Apply(object) => {
                state.objects.insert(ObjectRef::from_obj(&**object), object.clone());
            }
            watcher::Event::Delete(object) => {
                state.objects.remove(&ObjectRef::from_obj(&**object));
            }
        }
        state.subscribers.retain(|subscriber| subscriber.deliver(&event));
    }

    /// Every event from now on, after a replay of what the cache holds (as a list).
    pub(crate) fn subscribe(&self) -> mpsc::UnboundedReceiver<Event<K>> {
        let (sender, receiver) = mpsc::unbounded_channel();
        let mut state = self.write();
        let replay: Vec<Event<K>> = match (&state.listing, state.synced) {
            (Some(listing), _) => std::iter::once(watcher::Event::Init)
                .chain(listing.values().cloned().map(watcher::Event::InitApply))
                .collect(),
            (None, true) => std::iter::once(watcher::Event::Init)
                .chain(state.objects.values().cloned().map(watcher::Event::InitApply))
                .chain(std::iter::once(watcher::Event::InitDone))
                .collect(),
            (None, false) => Vec::new(),
        };
        for event in replay {
            // The receiver is still in hand: this cannot fail.
            let _ = sender.send(event);
        }
        state.subscribers.push(Subscriber::Events(sender));
        receiver
    }

    /// Wakes `notify` (one waiter) on every event from now on, until `notify` is dropped.
    pub(crate) fn wake(&self, notify: &Arc<Notify>) {
        self.write().subscribers.push(Subscriber::Wake(Arc::downgrade(notify)));
    }

    /// The cached object `key` names.
    pub(crate) fn get(&self, key: &ObjectRef<K>) -> Option<Arc<K>> {
        self.read().objects.get(key).cloned()
    }

    /// Every cached object.
    pub(crate) fn state(&self) -> Vec<Arc<K>> {
        self.read().objects.values().cloned().collect()
    }

    /// Waits until the first list is in the cache.
    pub(crate) async fn wait_until_ready(&self) {
        let mut ready = self.shared.ready.subscribe();
        // The sender lives in `self`: waiting cannot fail.
        let _ = ready.wait_for(|ready| *ready).await;
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::cached_pod::CachedPod;

    /// A pod as the watch delivers it (pruning is `cached_pod`'s to test).
    fn pod(name: &str, rv: &str) -> CachedPod {
        serde_json::from_value(json!({
            "metadata": { "name": name, "namespace": "ns", "resourceVersion": rv,
                          "managedFields": [{ "manager": "kubectl" }] },
            "spec": { "nodeName": "n1", "containers": [{ "name": "app", "image": "nginx" }] },
        }))
        .expect("a pod")
    }

    fn informer() -> Informer<CachedPod> {
        Informer { shared: Arc::new(Shared::new()) }
    }

    fn names(objects: &[Arc<CachedPod>]) -> Vec<String> {
        let mut names: Vec<String> =
            objects.iter().map(|p| p.metadata.name.clone().unwrap_or_default()).collect();
        names.sort();
        names
    }

    fn describe(event: &Event<CachedPod>) -> String {
        let name = |p: &Arc<CachedPod>| p.metadata.name.clone().unwrap_or_default();
        match event {
            watcher::Event::Init => "init".to_owned(),
            watcher::Event::InitApply(p) => format!("list {}", name(p)),
            watcher::Event::InitDone => "done".to_owned(),
            watcher::Event::Apply(p) => format!("apply {}", name(p)),
            watcher::Event::Delete(p) => format!("delete {}", name(p)),
        }
    }

    fn drain(receiver: &mut mpsc::UnboundedReceiver<Event<CachedPod>>) -> Vec<String> {
        let mut seen = Vec::new();
        while let Ok(event) = receiver.try_recv() {
            seen.push(describe(&event));
        }
        seen
    }

    #[tokio::test]
    async fn the_store_swaps_in_a_relist_whole_and_subscribers_see_every_event() {
        let informer = informer();
        let mut early = informer.subscribe();
        informer.apply(watcher::Event::Init);
        informer.apply(watcher::Event::InitApply(pod("a", "1")));
        assert!(informer.state().is_empty(), "a list shows only once it is done");
        informer.apply(watcher::Event::InitApply(pod("b", "2")));
        informer.apply(watcher::Event::InitDone);
        informer.wait_until_ready().await;
        assert_eq!(names(&informer.state()), ["a", "b"]);
        let stored = informer.get(&ObjectRef::new("a").within("ns")).expect("a");
        assert!(stored.metadata.managed_fields.is_none(), "stored pruned");

        informer.apply(watcher::Event::Apply(pod("c", "3")));
        informer.apply(watcher::Event::Delete(pod("a", "1")));
        assert_eq!(names(&informer.state()), ["b", "c"]);
        assert_eq!(drain(&mut early), ["init", "list a", "list b", "done", "apply c", "delete a"]);

        // A relist: readers see the old list until it is done.
        informer.apply(watcher::Event::Init);
        informer.apply(watcher::Event::InitApply(pod("d", "4")));
        assert_eq!(names(&informer.state()), ["b", "c"]);
        let mut late = informer.subscribe();
        assert_eq!(drain(&mut late), ["init", "list d"], "a late subscriber joins the relist");
        informer.apply(watcher::Event::InitDone);
        assert_eq!(names(&informer.state()), ["d"]);
        assert_eq!(drain(&mut late), ["done"]);
        assert_eq!(drain(&mut early), ["init", "list d", "done"]);

        let mut later = informer.subscribe();
        assert_eq!(drain(&mut later), ["init", "list d", "done"], "a replay of the cache");
    }

    #[tokio::test]
    async fn the_event_shares_the_stored_object_and_wakes_subscribers() {
        let informer = informer();
        let notify = Arc::new(Notify::new());
        informer.wake(&notify);
        let mut events = informer.subscribe();
        informer.apply(watcher::Event::Apply(pod("a", "1")));
        tokio::time::timeout(std::time::Duration::from_secs(1), notify.notified())
            .await
            .expect("woken");
        let Ok(watcher::Event::Apply(sent)) = events.try_recv() else { panic!("no event") };
        let stored = informer.get(&ObjectRef::new("a").within("ns")).expect("stored");
        assert!(Arc::ptr_eq(&sent, &stored), "one copy");
        drop(events);
        drop(notify);
        informer.apply(watcher::Event::Apply(pod("b", "2")));
        assert!(informer.read().subscribers.is_empty(), "gone subscribers are dropped");
    }
}
