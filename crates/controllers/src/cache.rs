//! The shared caches ([`crate::informer`]) with a wake-up: the observe half of the volume,
//! endpoints and endpointslice loops. Each loop plans from the caches and writes through the
//! API with the cached resourceVersion, so a stale cache costs a 409 and a retry, never a
//! wrong write. [`write_loop`] is the whole loop for controllers that own one kind of object.

use std::collections::HashMap;
use std::fmt::Debug;
use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

use kube::Resource;
use kube::api::{Api, DeleteParams, PostParams, Preconditions};
use kube::runtime::reflector::ObjectRef;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::informer::{Cached, Informers, Store};

pub(crate) mod workloop;

/// How often a loop reconciles even when nothing changed (time-dependent decisions, and a
/// safety net).
pub(crate) const RESYNC: Duration = Duration::from_secs(30);

/// How long a loop waits before it retries after a failed write.
pub(crate) const RETRY: Duration = Duration::from_millis(200);

/// The shared cache of every object of one kind (see [`crate::informer`]); each of its changes
/// wakes `wake`.
pub(crate) fn cache<K: Cached>(informers: &Informers, wake: &Arc<Notify>) -> Store<K> {
    let store = informers.get::<K>();
    store.wake(wake);
    store
}

/// The per-object backoff of a loop that syncs every object of its kind in one pass: after
/// `n` failed syncs in a row an object waits [`RETRY`] × 2^min(n, 7), at most `cap`, before
/// the next; a sync that succeeds forgets it.
#[derive(Debug)]
pub(crate) struct Backoff<K> {
    cap: Duration,
    failing: HashMap<K, (u32, Instant)>,
}

impl<K: Eq + Hash> Backoff<K> {
    pub(crate) fn new(cap: Duration) -> Backoff<K> {
        Backoff { cap, failing: HashMap::new() }
    }

    /// Forgets the objects that are gone.
    pub(crate) fn retain(&mut self, exists: impl Fn(&K) -> bool) {
        self.failing.retain(|key, _| exists(key));
    }

    /// When `key` may be synced again, if that is still ahead.
    pub(crate) fn waiting(&self, key: &K) -> Option<Instant> {
        self.failing.get(key).map(|(_, due)| *due).filter(|due| *due > Instant::now())
    }

    pub(crate) fn succeeded(&mut self, key: &K) {
        self.failing.remove(key);
    }

    /// Counts a failed sync of `key`; returns when to try it again.
    pub(crate) fn failed(&mut self, key: K) -> Instant {
        let entry = self.failing.entry(key).or_insert((0, Instant::now()));
        entry.0 = entry.0.saturating_add(1);
        entry.1 = Instant::now() + (RETRY * (1 << entry.0.min(7))).min(self.cap);
        entry.1
    }
}

/// Waits for a wake-up, or for [`RESYNC`].
pub(crate) async fn woken(wake: &Notify) {
    let _ = tokio::time::timeout(RESYNC, wake.notified()).await;
}

/// The numeric form of a resourceVersion (berth's are store revisions), for "has the cache
/// caught up with my write" checks only.
pub(crate) fn revision_of(
    meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
) -> u64 {
    meta.resource_version.as_deref().and_then(|rv| rv.parse().ok()).unwrap_or(0)
}

/// Whether `store` shows the object `namespace/name` a pass created.
pub(crate) fn shows_created<K: Cached>(store: &Store<K>, namespace: &str, name: &str) -> bool {
    store.get(&ObjectRef::new(name).within(namespace)).is_some()
}

/// Whether `store` shows the deletion of the object `namespace/name` with `uid` a pass
/// deleted: gone, replaced or being deleted.
pub(crate) fn shows_deleted<K: Cached>(
    store: &Store<K>,
    namespace: &str,
    name: &str,
    uid: &str,
) -> bool {
    store.get(&ObjectRef::new(name).within(namespace)).is_none_or(|object| {
        let meta = object.meta();
        meta.uid.as_deref() != Some(uid) || meta.deletion_timestamp.is_some()
    })
}

/// Whether `store` shows a write of `namespace/name` at `revision` (or a later one), or no
/// longer has the object.
pub(crate) fn shows_at<K: Cached>(
    store: &Store<K>,
    namespace: &str,
    name: &str,
    revision: u64,
) -> bool {
    store
        .get(&ObjectRef::new(name).within(namespace))
        .is_none_or(|object| revision_of(object.meta()) >= revision)
}

/// Waits (bounded) until `check` holds on the caches — used after writes whose duplicates the
/// API cannot refuse (generateName creates), so the next plan sees them. `changed` is woken by
/// the caches `check` reads (a `Notify` of its own, not the loop's wake-up: this wait must not
/// take the loop's notice of someone else's change); it is checked again at each change, and
/// every 5 ms in case a wake-up was missed. (Polling alone every 5 ms added 2–3 ms to each
/// controller pass that wrote, several per pod of a StatefulSet with claims.)
pub(crate) async fn caught_up(changed: &Notify, check: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !check() && tokio::time::Instant::now() < deadline {
        let _ = tokio::time::timeout(Duration::from_millis(5), changed.notified()).await;
    }
}

/// One write a plan asks for, on the kind of object the controller owns.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Change<K> {
    Create(K),
    /// A replace carrying the cached resourceVersion.
    Update(K),
    /// A delete with a uid precondition.
    Delete {
        namespace: String,
        name: String,
        uid: String,
    },
}

/// What a change wrote: namespace, name, and the revision written (`None`: deleted).
type Written = (String, String, Option<u64>);

/// Applies one change; `Ok(None)` when the object was already gone.
async fn apply<K>(client: &kube::Client, change: Change<K>) -> Result<Option<Written>, kube::Error>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + Debug
        + DeserializeOwned
        + Serialize,
{
    let api = |namespace: &str| Api::<K>::namespaced(client.clone(), namespace);
    let meta_of = |object: &K| {
        let meta = object.meta();
        (meta.namespace.clone().unwrap_or_default(), meta.name.clone().unwrap_or_default())
    };
    let pp = PostParams::default();
    let written = match change {
        Change::Create(object) => api(&meta_of(&object).0).create(&pp, &object).await?,
        Change::Update(object) => {
            let (namespace, name) = meta_of(&object);
            match api(&namespace).replace(&name, &pp, &object).await {
                Err(kube::Error::Api(status)) if status.code == 404 => return Ok(None),
                result => result?,
            }
        }
        Change::Delete { namespace, name, uid } => {
            let params = DeleteParams::default()
                .preconditions(Preconditions { uid: Some(uid), resource_version: None });
            return match api(&namespace).delete(&name, &params).await {
                Err(kube::Error::Api(status)) if status.code == 404 => Ok(None),
                Ok(_) => Ok(Some((namespace, name, None))),
                Err(error) => Err(error),
            };
        }
    };
    let (namespace, name) = meta_of(&written);
    Ok(Some((namespace, name, Some(revision_of(written.meta())))))
}

/// The loop of a controller that owns one kind of object: plan from the caches, apply the
/// changes, wait until `owned` shows them (a slice created with generateName cannot be refused
/// as a duplicate: the next plan must see it), then sleep until something changes (or retry
/// soon after a failed write). Never returns.
pub(crate) async fn write_loop<K>(
    client: kube::Client,
    owned: &Store<K>,
    wake: &Notify,
    what: &str,
    mut plan: impl FnMut() -> Vec<Change<K>>,
) where
    K: Cached + Resource<Scope = k8s_openapi::NamespaceResourceScope> + Serialize,
{
    let changed = Arc::new(Notify::new());
    owned.wake(&changed);
    loop {
        let mut clean = true;
        let mut written = Vec::new();
        for change in plan() {
            match apply(&client, change).await {
                Ok(done) => written.extend(done),
                Err(error) => {
                    if !matches!(&error, kube::Error::Api(status) if status.code == 409) {
                        tracing::warn!(error = %crate::volume::error_chain(&error), "{what} write failed");
                    }
                    clean = false;
                }
            }
        }
        caught_up(&changed, || {
            written.iter().all(|(namespace, name, rv)| {
                let seen = owned.get(&ObjectRef::new(name).within(namespace));
                match rv {
                    Some(rv) => seen.is_some_and(|o| revision_of(o.meta()) >= *rv),
                    None => seen.is_none(),
                }
            })
        })
        .await;
        if clean {
            woken(wake).await;
        } else {
            tokio::time::sleep(RETRY).await;
        }
    }
}
