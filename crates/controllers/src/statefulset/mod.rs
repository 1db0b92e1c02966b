//! The StatefulSet controller (kube-controller-manager's `statefulset-controller`): stable pod
//! identities in ordinal order, one claim per pod and template, rolling updates through
//! ControllerRevisions, the claim retention policy, and the set's status.
//!
//! Shape: the shared caches of sets, pods, claims and revisions ([`crate::informer`]) feed a
//! work queue of set keys; workers sync one set at a time each: decide the revisions
//! ([`revision`]), observe, [`plan::plan`] purely, then apply the plan through the API
//! ([`execute`]), recording events as Kubernetes does. Like client-go controllers, a sync waits until the caches show the
//! writes of the previous one (expectations), so nothing is done twice.

mod identity;
mod plan;
pub(crate) mod revision;

pub(crate) use revision::{go_json, safe_encode};

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet};
use k8s_openapi::api::core::v1::{ObjectReference, PersistentVolumeClaim, Pod};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;

use crate::cached_pod::CachedPod;
use crate::informer::{self, Cached, Store};
use crate::meta::{api_message, status_code};
use crate::{Context, EventType, Recorder};
use plan::{Action, DeleteReason, Observed, Plan};

/// `source.component` of the events.
const COMPONENT: &str = "statefulset-controller";
/// Sets synced at once.
const WORKERS: usize = 8;
/// Parallel pod management creates at most this many pods at once (`MaxBatchSize`).
const MAX_BATCH: usize = 500;
/// How long a sync waits for the caches to show its predecessor's writes.
const EXPECTATIONS_TIMEOUT: Duration = Duration::from_secs(5);

/// What can go wrong in one sync; the set is synced again later.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    #[error("{action} {kind} {namespace}/{name}")]
    Api {
        action: &'static str,
        kind: &'static str,
        namespace: String,
        name: String,
        #[source]
        source: Box<kube::Error>,
    },
    #[error("claim {claim} of pod {namespace}/{pod} is being deleted")]
    ClaimTerminating { namespace: String, pod: String, claim: String },
    #[error("controller revision {namespace}/{name} has no pod template")]
    BadRevision { namespace: String, name: String },
}

/// A StatefulSet's namespace and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Key {
    namespace: String,
    name: String,
}

/// Runs the controller until the task is aborted.
pub(crate) async fn run(context: Context) {
    let client = context.client.clone();
    let informers = &context.informers;
    let (sets, pods, claims, revisions) = (
        informers.get::<StatefulSet>(),
        informers.get::<CachedPod>(),
        informers.get::<PersistentVolumeClaim>(),
        informers.get::<ControllerRevision>(),
    );
    let (set_events, pod_events, claim_events, revision_events) =
        (sets.subscribe(), pods.subscribe(), claims.subscribe(), revisions.subscribe());
    let (timer_tx, timer_rx) = mpsc::unbounded_channel();
    let shared = Arc::new(Shared {
        client: client.clone(),
        recorder: Recorder::new(client.clone(), COMPONENT, None),
        sets,
        pods,
        claims,
        revisions,
        queue: Queue::default(),
        expectations: Mutex::default(),
        timer: timer_tx,
        max_unavailable: context.config.max_unavailable_statefulset,
    });

    let watch_sets = handle(set_events, shared.clone(), |shared, set: &StatefulSet| {
        shared.queue.add(key_of(&set.metadata));
    });
    let watch_pods = handle(pod_events, shared.clone(), |shared, pod: &CachedPod| {
        match controller_key(&pod.metadata) {
            Some(key) => shared.queue.add(key),
            None => shared.enqueue_possible_adopter(&pod.metadata),
        }
    });
    let watch_claims = handle(claim_events, shared.clone(), |shared, claim| {
        shared.enqueue_claim_owners(claim);
    });
    let watch_revisions =
        handle(revision_events, shared.clone(), |shared, revision: &ControllerRevision| {
            match controller_key(&revision.metadata) {
                Some(key) => shared.queue.add(key),
                None => shared.enqueue_possible_adopter(&revision.metadata),
            }
        });

    let workers = {
        let shared = shared.clone();
        async move {
            // Work starts once every cache has listed.
            shared.sets.wait_until_ready().await;
            shared.pods.wait_until_ready().await;
            shared.claims.wait_until_ready().await;
            shared.revisions.wait_until_ready().await;
            shared.enqueue_all();
            let workers = (0..WORKERS).map(|_| worker(shared.clone()));
            futures::future::join_all(workers).await;
        }
    };
    let timer = timer(shared.clone(), timer_rx);
    tokio::join!(watch_sets, watch_pods, watch_claims, watch_revisions, workers, timer);
}

/// Hands every object a cache's events name to `changed`; a (re)list done enqueues every set
/// (what the list no longer has was deleted unseen).
async fn handle<K: Cached>(
    mut events: mpsc::UnboundedReceiver<informer::Event<K>>,
    shared: Arc<Shared>,
    changed: impl Fn(&Shared, &K),
) {
    while let Some(event) = events.recv().await {
        match event {
            watcher::Event::Apply(object)
            | watcher::Event::InitApply(object)
            | watcher::Event::Delete(object) => changed(&shared, &object),
            watcher::Event::InitDone => shared.enqueue_all(),
            watcher::Event::Init => {}
        }
    }
}

/// Keys that come back later: requeues after errors and after minReadySeconds.
async fn timer(shared: Arc<Shared>, mut rx: mpsc::UnboundedReceiver<(Instant, Key)>) {
    let mut due: BTreeMap<Instant, Vec<Key>> = BTreeMap::new();
    loop {
        let next = due.keys().next().copied();
        tokio::select! {
            received = rx.recv() => match received {
                Some((at, key)) => due.entry(at).or_default().push(key),
                None => return,
            },
            () = async {
                match next {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            } => {
                let now = Instant::now();
                let later = due.split_off(&(now + Duration::from_nanos(1)));
                for key in std::mem::replace(&mut due, later).into_values().flatten() {
                    shared.queue.add(key);
                }
            }
        }
    }
}

async fn worker(shared: Arc<Shared>) {
    let mut failures: HashMap<Key, u32> = HashMap::new();
    loop {
        let key = shared.queue.next().await;
        let span =
            tracing::debug_span!("sync statefulset", namespace = %key.namespace, name = %key.name);
        let result = tracing::Instrument::instrument(sync(&shared, &key), span).await;
        match result {
            Ok(requeue) => {
                failures.remove(&key);
                if let Some(after) = requeue {
                    shared.add_after(key.clone(), after);
                }
            }
            Err(error) => {
                let failed = failures.entry(key.clone()).or_insert(0);
                *failed = failed.saturating_add(1);
                // client-go's per-item exponential backoff: 5 ms doubling, capped here at 10 s.
                let backoff = Duration::from_millis(5u64.saturating_mul(1 << (*failed).min(11)));
                tracing::warn!(namespace = %key.namespace, name = %key.name, error = %crate::meta::error_chain(&error), "sync failed");
                shared.add_after(key.clone(), backoff.min(Duration::from_secs(10)));
            }
        }
        shared.queue.done(&key);
    }
}

fn key_of(metadata: &kube::api::ObjectMeta) -> Key {
    Key {
        namespace: metadata.namespace.clone().unwrap_or_default(),
        name: metadata.name.clone().unwrap_or_default(),
    }
}

/// The set that controls an object, from its controller reference.
fn controller_key(metadata: &kube::api::ObjectMeta) -> Option<Key> {
    let owner = metadata.owner_references.iter().flatten().find(|r| {
        r.controller == Some(true) && r.kind == "StatefulSet" && r.api_version == "apps/v1"
    })?;
    Some(Key {
        namespace: metadata.namespace.clone().unwrap_or_default(),
        name: owner.name.clone(),
    })
}

fn is_owned_by(metadata: &kube::api::ObjectMeta, uid: &str) -> bool {
    metadata.owner_references.iter().flatten().any(|r| r.controller == Some(true) && r.uid == uid)
}

// === the queue ===

/// A work queue of set keys: a key is queued once, and a key being synced is not handed to a
/// second worker; adding it meanwhile queues it again when the sync is done.
#[derive(Debug, Default)]
struct Queue {
    state: Mutex<QueueState>,
    notify: Notify,
}

#[derive(Debug, Default)]
struct QueueState {
    order: VecDeque<Key>,
    queued: HashSet<Key>,
    active: HashSet<Key>,
    again: HashSet<Key>,
}

impl Queue {
    fn add(&self, key: Key) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.active.contains(&key) {
            state.again.insert(key);
        } else if state.queued.insert(key.clone()) {
            state.order.push_back(key);
            self.notify.notify_one();
        }
    }

    async fn next(&self) -> Key {
        loop {
            {
                let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(key) = state.order.pop_front() {
                    state.queued.remove(&key);
                    state.active.insert(key.clone());
                    if !state.order.is_empty() {
                        self.notify.notify_one();
                    }
                    return key;
                }
            }
            self.notify.notified().await;
        }
    }

    fn done(&self, key: &Key) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.active.remove(key);
        if state.again.remove(key) && state.queued.insert(key.clone()) {
            state.order.push_back(key.clone());
            self.notify.notify_one();
        }
    }
}

// === expectations ===

/// A write of the last sync the caches must show before the next sync of the set runs.
#[derive(Debug, Clone)]
enum Expectation {
    PodCreated { name: String, uid: String },
    PodDeleted { name: String, uid: String },
    ClaimCreated { name: String },
    Revision { name: String, revision: i64 },
    SetNewerThan { resource_version: String },
}

#[derive(Debug)]
struct Pending {
    expectations: Vec<Expectation>,
    deadline: Instant,
}

struct Shared {
    client: kube::Client,
    recorder: Recorder,
    sets: Store<StatefulSet>,
    pods: Store<CachedPod>,
    claims: Store<PersistentVolumeClaim>,
    revisions: Store<ControllerRevision>,
    queue: Queue,
    expectations: Mutex<HashMap<Key, Pending>>,
    timer: mpsc::UnboundedSender<(Instant, Key)>,
    /// The `MaxUnavailableStatefulSet` feature gate.
    max_unavailable: bool,
}

impl Shared {
    fn enqueue_all(&self) {
        for set in self.sets.state() {
            self.queue.add(key_of(&set.metadata));
        }
    }

    /// An orphan pod or revision may be adopted by a set of its namespace whose selector
    /// matches it.
    fn enqueue_possible_adopter(&self, metadata: &kube::api::ObjectMeta) {
        if metadata.deletion_timestamp.is_some() {
            return;
        }
        let labels = metadata.labels.clone().unwrap_or_default();
        for set in self.sets.state() {
            if set.metadata.namespace != metadata.namespace {
                continue;
            }
            let Some(spec) = set.spec.as_ref() else { continue };
            if identity::selector_matches(&spec.selector, &labels) {
                self.queue.add(key_of(&set.metadata));
            }
        }
    }

    /// A claim concerns the sets whose templates would name it (`<template>-<set>-<ordinal>`).
    fn enqueue_claim_owners(&self, claim: &PersistentVolumeClaim) {
        if let Some(key) = controller_key(&claim.metadata) {
            self.queue.add(key);
            return;
        }
        let namespace = claim.metadata.namespace.as_deref().unwrap_or_default();
        let name = claim.metadata.name.as_deref().unwrap_or_default();
        let Some((prefix, _)) = identity::parent_and_ordinal(name) else { return };
        for set in self.sets.state() {
            if set.metadata.namespace.as_deref() != Some(namespace) {
                continue;
            }
            let set_name = identity::set_name(&set);
            let templates = set.spec.as_ref().and_then(|s| s.volume_claim_templates.as_ref());
            let concerned = templates.into_iter().flatten().any(|t| {
                let template = t.metadata.name.as_deref().unwrap_or_default();
                prefix == format!("{template}-{set_name}")
            });
            if concerned {
                self.queue.add(key_of(&set.metadata));
            }
        }
    }

    fn add_after(&self, key: Key, after: Duration) {
        // The timer only stops with the controller, when nothing needs requeueing any more.
        let _ = self.timer.send((Instant::now() + after, key));
    }

    fn expect(&self, key: &Key, expectation: Expectation) {
        let mut all = self.expectations.lock().unwrap_or_else(|e| e.into_inner());
        let pending = all
            .entry(key.clone())
            .or_insert_with(|| Pending { expectations: Vec::new(), deadline: Instant::now() });
        pending.expectations.push(expectation);
        pending.deadline = Instant::now() + EXPECTATIONS_TIMEOUT;
    }

    /// Whether the caches show every write the set's last sync made (or waited long enough).
    fn expectations_met(&self, key: &Key) -> bool {
        let mut all = self.expectations.lock().unwrap_or_else(|e| e.into_inner());
        let Some(pending) = all.get_mut(key) else { return true };
        pending.expectations.retain(|e| !self.seen(&key.namespace, &key.name, e));
        if pending.expectations.is_empty() || Instant::now() >= pending.deadline {
            all.remove(key);
            return true;
        }
        let wait = pending.deadline - Instant::now();
        drop(all);
        self.add_after(key.clone(), wait);
        false
    }

    fn seen(&self, namespace: &str, set: &str, expectation: &Expectation) -> bool {
        match expectation {
            Expectation::PodCreated { name, uid } => {
                let pod = self.pods.get(&ObjectRef::new(name).within(namespace));
                // Another uid means the pod was replaced since: seen all the same.
                pod.is_some_and(|p| p.metadata.uid.is_some() || uid.is_empty())
            }
            Expectation::PodDeleted { name, uid } => {
                let pod = self.pods.get(&ObjectRef::new(name).within(namespace));
                pod.is_none_or(|p| {
                    p.metadata.uid.as_deref() != Some(uid.as_str())
                        || p.metadata.deletion_timestamp.is_some()
                })
            }
            Expectation::ClaimCreated { name } => {
                self.claims.get(&ObjectRef::new(name).within(namespace)).is_some()
            }
            Expectation::Revision { name, revision } => self
                .revisions
                .get(&ObjectRef::new(name).within(namespace))
                .is_some_and(|r| r.revision >= *revision),
            Expectation::SetNewerThan { resource_version } => {
                self.sets.get(&ObjectRef::new(set).within(namespace)).is_none_or(|s| {
                    s.metadata.resource_version.as_deref() != Some(resource_version.as_str())
                })
            }
        }
    }
}

// === one sync ===

/// Syncs one set; returns when to sync it again regardless of events.
async fn sync(shared: &Shared, key: &Key) -> Result<Option<Duration>, Error> {
    let Some(set) = shared.sets.get(&ObjectRef::new(&key.name).within(&key.namespace)) else {
        shared.expectations.lock().unwrap_or_else(|e| e.into_inner()).remove(key);
        return Ok(None);
    };
    if !shared.expectations_met(key) {
        return Ok(None);
    }
    let set: StatefulSet = (*set).clone();
    let uid = set.metadata.uid.clone().unwrap_or_default();
    let namespace = key.namespace.as_str();

    let mut pods: Vec<Arc<CachedPod>> = shared
        .pods
        .state()
        .into_iter()
        .filter(|p| {
            p.metadata.namespace.as_deref() == Some(namespace) && is_owned_by(&p.metadata, &uid)
        })
        .collect();
    let mut revisions: Vec<ControllerRevision> = shared
        .revisions
        .state()
        .into_iter()
        .filter(|r| {
            r.metadata.namespace.as_deref() == Some(namespace) && is_owned_by(&r.metadata, &uid)
        })
        .map(|r| (*r).clone())
        .collect();
    if set.metadata.deletion_timestamp.is_none() {
        let member = |p: &CachedPod| identity::ordinal_of(&key.name, p).is_some();
        pods.extend(adopt(shared, &set, &shared.pods, member).await?.into_iter().map(Arc::new));
        revisions
            .extend(adopt(shared, &set, &shared.revisions, |_: &ControllerRevision| true).await?);
    }
    revision::sort(&mut revisions);
    let claims: BTreeMap<String, Arc<PersistentVolumeClaim>> = shared
        .claims
        .state()
        .into_iter()
        .filter(|c| c.metadata.namespace.as_deref() == Some(namespace))
        .map(|c| (c.metadata.name.clone().unwrap_or_default(), c))
        .collect();

    let (update, collision_count) = update_revision(shared, key, &set, &revisions).await?;
    let current_name = set.status.as_ref().and_then(|s| s.current_revision.clone());
    let current = revisions
        .iter()
        .find(|r| r.metadata.name.is_some() && r.metadata.name == current_name)
        .cloned()
        .unwrap_or_else(|| update.clone());
    let as_plan_revision = |r: &ControllerRevision| {
        let name = r.metadata.name.clone().unwrap_or_default();
        match revision::template(r) {
            Some(template) => Ok(plan::Revision { name, template }),
            None => Err(Error::BadRevision { namespace: key.namespace.clone(), name }),
        }
    };
    let observed = Observed {
        current: as_plan_revision(&current)?,
        update: as_plan_revision(&update)?,
        set: set.clone(),
        pods,
        claims,
        collision_count,
        now: k8s_openapi::jiff::Timestamp::now(),
        max_unavailable: shared.max_unavailable,
    };
    let plan = plan::plan(&observed);
    tracing::trace!(?plan, "plan");
    let Plan { parallel, phases, mut status, requeue_after } = plan;

    let executor = Executor { shared, key, set: &set };
    let mut result = Ok(());
    for phase in phases {
        result = executor.phase(phase, parallel).await;
        if result.is_err() {
            break;
        }
    }

    plan::complete_rolling_update(&set, &mut status);
    if plan::status_changed(&set, &status) {
        executor.write_status(status.clone()).await?;
    }
    result?;

    let current_name = status.current_revision.clone().unwrap_or_default();
    let update_name = status.update_revision.clone().unwrap_or_default();
    let mut revisions = revisions;
    if !revisions.iter().any(|r| r.metadata.name == update.metadata.name) {
        revisions.push(update.clone());
    }
    for name in revision::to_truncate(&set, &observed.pods, &revisions, &current_name, &update_name)
    {
        let api: Api<ControllerRevision> = Api::namespaced(shared.client.clone(), namespace);
        match api.delete(&name, &DeleteParams::default()).await {
            Ok(_) => {}
            Err(error) if status_code(&error) == Some(404) => {}
            Err(source) => {
                return Err(Error::Api {
                    action: "delete",
                    kind: "controllerrevision",
                    namespace: namespace.into(),
                    name,
                    source: Box::new(source),
                });
            }
        }
    }
    Ok(requeue_after)
}

/// Adopts the orphans of the set's namespace that its selector matches (and `belongs` accepts)
/// by adding a controller reference to the set (`ControllerRefManager.ClaimPods`,
/// `AdoptOrphanRevisions`); returns them adopted.
async fn adopt<K>(
    shared: &Shared,
    set: &StatefulSet,
    cache: &Store<K>,
    belongs: impl Fn(&K) -> bool,
) -> Result<Vec<K>, Error>
where
    K: Cached + kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
{
    let namespace = set.metadata.namespace.clone().unwrap_or_default();
    let Some(spec) = set.spec.as_ref() else { return Ok(Vec::new()) };
    let orphans: Vec<Arc<K>> = cache
        .state()
        .into_iter()
        .filter(|o| {
            let meta = o.meta();
            meta.namespace.as_deref() == Some(namespace.as_str())
                && meta.deletion_timestamp.is_none()
                && !meta.owner_references.iter().flatten().any(|r| r.controller == Some(true))
                && identity::selector_matches(
                    &spec.selector,
                    &meta.labels.clone().unwrap_or_default(),
                )
                && belongs(o)
        })
        .collect();
    let api: Api<K> = Api::namespaced(shared.client.clone(), &namespace);
    let mut adopted = Vec::new();
    for orphan in orphans {
        let meta = orphan.meta();
        let name = meta.name.clone().unwrap_or_default();
        let mut references = meta.owner_references.clone().unwrap_or_default();
        references.push(identity::set_owner_ref(set));
        let patch = serde_json::json!({ "metadata": { "ownerReferences": references } });
        tracing::info!(kind = %K::kind(&()), %name, "adopting orphan");
        match api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch)).await {
            Ok(object) => adopted.push(object),
            Err(error) if status_code(&error) == Some(404) => {}
            Err(source) => {
                return Err(Error::Api {
                    action: "adopt",
                    kind: "object",
                    namespace,
                    name,
                    source: Box::new(source),
                });
            }
        }
    }
    Ok(adopted)
}

/// Finds, bumps or creates the update revision (`getStatefulSetRevisions`); returns it and the
/// collision count to report.
async fn update_revision(
    shared: &Shared,
    key: &Key,
    set: &StatefulSet,
    revisions: &[ControllerRevision],
) -> Result<(ControllerRevision, i32), Error> {
    let mut collision_count = set.status.as_ref().and_then(|s| s.collision_count).unwrap_or(0);
    let api: Api<ControllerRevision> = Api::namespaced(shared.client.clone(), &key.namespace);
    let api_error = |action, name: &str, source| Error::Api {
        action,
        kind: "controllerrevision",
        namespace: key.namespace.clone(),
        name: name.into(),
        source: Box::new(source),
    };
    match revision::decide(set, revisions) {
        revision::UpdateRevision::Newest(index) => Ok((revisions[index].clone(), collision_count)),
        revision::UpdateRevision::Bump { index, revision: number } => {
            let name = revisions[index].metadata.name.clone().unwrap_or_default();
            let patch = serde_json::json!({ "revision": number });
            let bumped = api
                .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .map_err(|source| api_error("update", &name, source))?;
            shared.expect(key, Expectation::Revision { name, revision: number });
            Ok((bumped, collision_count))
        }
        revision::UpdateRevision::Create(candidate) => {
            let mut candidate = *candidate;
            let raw = revision::go_json(
                &candidate.data.as_ref().map(|d| d.0.clone()).unwrap_or_default(),
            );
            loop {
                let name =
                    revision::revision_name(&key.name, &revision::hash(&raw, collision_count));
                candidate.metadata.name = Some(name.clone());
                match api.create(&PostParams::default(), &candidate).await {
                    Ok(created) => {
                        shared.expect(
                            key,
                            Expectation::Revision { name, revision: created.revision },
                        );
                        return Ok((created, collision_count));
                    }
                    Err(error) if status_code(&error) == Some(409) => {
                        let existing = api
                            .get(&name)
                            .await
                            .map_err(|source| api_error("get", &name, source))?;
                        if revision::equal(&existing, &candidate) {
                            return Ok((existing, collision_count));
                        }
                        collision_count = collision_count.saturating_add(1);
                    }
                    Err(source) => return Err(api_error("create", &name, source)),
                }
            }
        }
    }
}

/// Applies a plan's actions through the API and records their events.
struct Executor<'a> {
    shared: &'a Shared,
    key: &'a Key,
    set: &'a StatefulSet,
}

impl Executor<'_> {
    fn object_ref(&self) -> ObjectReference {
        crate::meta::reference_to(self.set)
    }

    async fn event(&self, event_type: EventType, reason: &str, message: String) {
        self.shared.recorder.record(&self.object_ref(), event_type, reason, message);
    }

    /// Runs a phase: step by step, or in slow-start batches (1, 2, 4, … up to 500) when
    /// parallel (`slowStartBatch`); stops at the first failed step or batch.
    async fn phase(&self, steps: Vec<plan::Step>, parallel: bool) -> Result<(), Error> {
        if !parallel {
            for step in steps {
                self.step(step).await?;
            }
            return Ok(());
        }
        let mut steps = steps.into_iter();
        let mut batch = 1;
        loop {
            let chunk: Vec<plan::Step> = steps.by_ref().take(batch).collect();
            if chunk.is_empty() {
                return Ok(());
            }
            let results = futures::future::join_all(chunk.into_iter().map(|s| self.step(s))).await;
            if let Some(error) = results.into_iter().find_map(Result::err) {
                return Err(error);
            }
            batch = (batch * 2).min(MAX_BATCH);
        }
    }

    async fn step(&self, step: plan::Step) -> Result<(), Error> {
        for action in step {
            self.action(action).await?;
        }
        Ok(())
    }

    async fn action(&self, action: Action) -> Result<(), Error> {
        let namespace = self.key.namespace.as_str();
        let set_name = self.key.name.as_str();
        let api_error = |action, kind, name: &str, source| Error::Api {
            action,
            kind,
            namespace: namespace.into(),
            name: name.into(),
            source: Box::new(source),
        };
        match action {
            Action::CreateClaim { claim, pod } => {
                let api: Api<PersistentVolumeClaim> =
                    Api::namespaced(self.shared.client.clone(), namespace);
                let name = claim.metadata.name.clone().unwrap_or_default();
                match api.create(&PostParams::default(), &claim).await {
                    Ok(_) => {
                        self.shared
                            .expect(self.key, Expectation::ClaimCreated { name: name.clone() });
                        let message = format!(
                            "create Claim {name} Pod {pod} in StatefulSet {set_name} success"
                        );
                        self.event(EventType::Normal, "SuccessfulCreate", message).await;
                        Ok(())
                    }
                    Err(error) if status_code(&error) == Some(409) => Ok(()),
                    Err(source) => {
                        let message = format!(
                            "create Claim {name} for Pod {pod} in StatefulSet {set_name} failed error: failed to create PVC {name}: {}",
                            api_message(&source)
                        );
                        self.event(EventType::Warning, "FailedCreate", message).await;
                        Err(api_error("create", "persistentvolumeclaim", &name, source))
                    }
                }
            }
            Action::CreatePod(pod) => {
                let api: Api<Pod> = Api::namespaced(self.shared.client.clone(), namespace);
                let name = pod.metadata.name.clone().unwrap_or_default();
                match api.create(&PostParams::default(), &pod).await {
                    Ok(created) => {
                        let uid = created.metadata.uid.clone().unwrap_or_default();
                        self.shared
                            .expect(self.key, Expectation::PodCreated { name: name.clone(), uid });
                        let message =
                            format!("create Pod {name} in StatefulSet {set_name} successful");
                        self.event(EventType::Normal, "SuccessfulCreate", message).await;
                        Ok(())
                    }
                    Err(source) => {
                        if status_code(&source) != Some(409) {
                            let message = format!(
                                "create Pod {name} in StatefulSet {set_name} failed error: {}",
                                api_message(&source)
                            );
                            self.event(EventType::Warning, "FailedCreate", message).await;
                        }
                        Err(api_error("create", "pod", &name, source))
                    }
                }
            }
            Action::ClaimTerminating { pod, claim } => {
                let message = format!(
                    "create Pod {pod} in StatefulSet {set_name} failed error: pvc {claim} is being deleted"
                );
                self.event(EventType::Warning, "FailedCreate", message).await;
                Err(Error::ClaimTerminating { namespace: namespace.into(), pod, claim })
            }
            Action::DeletePod { name, uid, reason } => {
                let api: Api<Pod> = Api::namespaced(self.shared.client.clone(), namespace);
                let params = DeleteParams {
                    preconditions: Some(Preconditions {
                        uid: Some(uid.clone()),
                        resource_version: None,
                    }),
                    ..DeleteParams::default()
                };
                tracing::info!(pod = %name, ?reason, "deleting pod");
                // Kubernetes announces the replacement of a finished pod before deleting it.
                match reason {
                    DeleteReason::Failed => {
                        let message = format!(
                            "StatefulSet {namespace}/{set_name} is recreating failed Pod {name}"
                        );
                        self.event(EventType::Warning, "RecreatingFailedPod", message).await;
                    }
                    DeleteReason::Succeeded => {
                        let message = format!(
                            "StatefulSet {namespace}/{set_name} is recreating terminated Pod {name}"
                        );
                        self.event(EventType::Normal, "RecreatingTerminatedPod", message).await;
                    }
                    DeleteReason::ScaleDown | DeleteReason::Update | DeleteReason::Stuck => {}
                }
                match api.delete(&name, &params).await {
                    Ok(_) => {
                        self.shared
                            .expect(self.key, Expectation::PodDeleted { name: name.clone(), uid });
                        let message =
                            format!("delete Pod {name} in StatefulSet {set_name} successful");
                        self.event(EventType::Normal, "SuccessfulDelete", message).await;
                        Ok(())
                    }
                    Err(error) if status_code(&error) == Some(404) => Ok(()),
                    Err(source) => {
                        let message = format!(
                            "delete Pod {name} in StatefulSet {set_name} failed error: {}",
                            api_message(&source)
                        );
                        self.event(EventType::Warning, "FailedDelete", message).await;
                        if reason == DeleteReason::Update && status_code(&source) == Some(409) {
                            // The pod was replaced meanwhile; the next sync sees the new one.
                            return Ok(());
                        }
                        Err(api_error("delete", "pod", &name, source))
                    }
                }
            }
            Action::LabelPod { name, uid: _, labels } => {
                let api: Api<Pod> = Api::namespaced(self.shared.client.clone(), namespace);
                let patch = serde_json::json!({ "metadata": { "labels": labels } });
                match api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch)).await {
                    Ok(_) => {
                        let message =
                            format!("update Pod {name} in StatefulSet {set_name} successful");
                        self.event(EventType::Normal, "SuccessfulUpdate", message).await;
                        Ok(())
                    }
                    Err(source) => {
                        let message = format!(
                            "update Pod {name} in StatefulSet {set_name} failed error: {}",
                            api_message(&source)
                        );
                        self.event(EventType::Warning, "FailedUpdate", message).await;
                        Err(api_error("update", "pod", &name, source))
                    }
                }
            }
            Action::SetClaimOwners { claim, uid, owner_references } => {
                self.set_claim_owners(namespace, &claim, &uid, owner_references).await
            }
            Action::ConflictingController { claim } => {
                let message = format!(
                    "PersistentVolumeClaim {claim} has a conflicting OwnerReference that acts as a manging controller, the retention policy is ignored for this claim"
                );
                self.event(EventType::Warning, "ConflictingController", message).await;
                Ok(())
            }
        }
    }

    /// Writes the status through the status subresource (`UpdateStatefulSetStatus`, retrying
    /// on conflict with a fresh copy of the set).
    async fn write_status(
        &self,
        status: k8s_openapi::api::apps::v1::StatefulSetStatus,
    ) -> Result<(), Error> {
        let api: Api<StatefulSet> =
            Api::namespaced(self.shared.client.clone(), &self.key.namespace);
        let mut set = self.set.clone();
        let api_error = |action, source| Error::Api {
            action,
            kind: "statefulset",
            namespace: self.key.namespace.clone(),
            name: self.key.name.clone(),
            source: Box::new(source),
        };
        for attempt in 0.. {
            let previous = set.metadata.resource_version.clone().unwrap_or_default();
            set.status = Some(status.clone());
            match api.replace_status(&self.key.name, &PostParams::default(), &set).await {
                Ok(_) => {
                    self.shared
                        .expect(self.key, Expectation::SetNewerThan { resource_version: previous });
                    return Ok(());
                }
                Err(error) if status_code(&error) == Some(409) && attempt < 3 => {
                    set =
                        api.get(&self.key.name).await.map_err(|source| api_error("get", source))?;
                }
                Err(error) if status_code(&error) == Some(404) => return Ok(()),
                Err(source) => return Err(api_error("update status of", source)),
            }
        }
        Ok(())
    }

    /// Gives claim `name` (the one whose uid is `uid`) `owner_references`, by an update of the
    /// cached claim, then of a fresh copy on conflict (`UpdatePodClaimForRetentionPolicy`'s
    /// `UpdateClaim` with `RetryOnConflict`). An update, not a patch: the
    /// `system:controller:statefulset-controller` role grants claims `update` and no `patch`.
    async fn set_claim_owners(
        &self,
        namespace: &str,
        name: &str,
        uid: &str,
        owner_references: Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference>,
    ) -> Result<(), Error> {
        let api: Api<PersistentVolumeClaim> =
            Api::namespaced(self.shared.client.clone(), namespace);
        let api_error = |action, source| Error::Api {
            action,
            kind: "persistentvolumeclaim",
            namespace: namespace.into(),
            name: name.into(),
            source: Box::new(source),
        };
        let cached = self.shared.claims.get(&ObjectRef::new(name).within(namespace));
        let mut claim = match cached {
            Some(claim) => PersistentVolumeClaim::clone(&claim),
            None => match api.get_opt(name).await.map_err(|source| api_error("get", source))? {
                Some(claim) => claim,
                None => return Ok(()),
            },
        };
        for attempt in 0.. {
            // Gone and made again under the same name: not the claim this was planned for.
            if claim.metadata.uid.as_deref() != Some(uid) {
                return Ok(());
            }
            claim.metadata.owner_references = Some(owner_references.clone());
            match api.replace(name, &PostParams::default(), &claim).await {
                Ok(_) => return Ok(()),
                Err(error) if status_code(&error) == Some(409) && attempt < 3 => {
                    claim = match api.get_opt(name).await {
                        Ok(Some(claim)) => claim,
                        Ok(None) => return Ok(()),
                        Err(source) => return Err(api_error("get", source)),
                    };
                }
                Err(error) if status_code(&error) == Some(404) => return Ok(()),
                Err(source) => return Err(api_error("update", source)),
            }
        }
        Ok(())
    }
}
