//! The garbage collector (kube-controller-manager's `garbage-collector-controller`, v1.33).
//!
//! It discovers every resource the API serves with `delete`, `list` and `watch` (events
//! excepted, as Kubernetes' default ignored resources), watches them all, and keeps the
//! ownership [`graph::Graph`]. Each change marks the objects whose decision it may alter; a
//! worker takes them in batches and applies the pure decisions of [`graph`]:
//! - background: an object none of whose owners exists any more (each looked up live by name
//!   and compared by uid) is deleted with a uid precondition, with the propagation its own
//!   finalizers ask for;
//! - orphan: an owner being deleted with the `orphan` finalizer has its reference removed from
//!   every dependent, then the finalizer removed;
//! - foreground: an owner being deleted with `foregroundDeletion` has its dependents deleted
//!   (in the foreground where they have dependents of their own), and loses the finalizer once
//!   no dependent with `blockOwnerDeletion: true` remains.
//!
//! Processing waits until every watch has listed once, so an owner's dependents are known
//! before it is released. Discovery is repeated every 30 s, as Kubernetes does; when the set of
//! resources changes the collector starts over with the new set.

mod graph;

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, Patch, PatchParams, PostParams, Preconditions,
    PropagationPolicy,
};
use kube::discovery::{Discovery, Scope, verbs};
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::{Context, EventType, Recorder};
use graph::{
    DependentAction, FOREGROUND, Graph, Identity, Node, ORPHAN, OwnerAction, OwnerState, Policy,
};

/// How often discovery is repeated to notice new or removed resources.
const DISCOVERY_INTERVAL: Duration = Duration::from_secs(30);
/// How long processing waits for every watch's first list before going ahead anyway.
const SYNC_TIMEOUT: Duration = Duration::from_secs(30);
/// Items processed concurrently.
const WORKERS: usize = 16;
/// Absent owners remembered, as Kubernetes' absentOwnerCache (an LRU of 500).
const ABSENT_CACHE: usize = 4096;

/// Runs the garbage collector until the task is aborted.
pub(crate) async fn run(cx: Context) {
    let mut failures = 0u32;
    loop {
        match run_once(&cx).await {
            Ok(()) => failures = 0,
            Err(error) => {
                failures = failures.saturating_add(1);
                tracing::warn!(%error, "garbage collector restarts");
                tokio::time::sleep(backoff(failures)).await;
            }
        }
    }
}

/// An error that restarts the collector.
#[derive(Debug, thiserror::Error)]
enum Error {
    #[error("discovery failed")]
    Discovery(#[source] kube::Error),
}

fn backoff(failures: u32) -> Duration {
    let millis = 100u64.saturating_mul(1 << failures.min(10));
    Duration::from_millis(millis.min(60_000))
}

// === discovery ===

/// A resource the API serves.
#[derive(Debug, Clone)]
struct Served {
    resource: ApiResource,
    namespaced: bool,
}

/// What discovery found: the resources to watch and every served kind by (group, version,
/// kind), for resolving owner references.
#[derive(Debug, Clone, Default)]
struct Resources {
    watched: Vec<Served>,
    by_kind: HashMap<(String, String, String), Served>,
}

impl Resources {
    fn resolve(&self, api_version: &str, kind: &str) -> Option<&Served> {
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        self.by_kind.get(&(group.to_owned(), version.to_owned(), kind.to_owned()))
    }

    /// The watched set, comparable across discoveries.
    fn signature(&self) -> BTreeSet<String> {
        self.watched
            .iter()
            .map(|s| format!("{}/{}", s.resource.api_version, s.resource.plural))
            .collect()
    }
}

async fn discover(client: &kube::Client) -> Result<Resources, Error> {
    let discovery = Discovery::new(client.clone()).run().await.map_err(Error::Discovery)?;
    let mut resources = Resources::default();
    for group in discovery.groups() {
        for version in group.versions() {
            for (resource, capabilities) in group.versioned_resources(version) {
                let namespaced = capabilities.scope == Scope::Namespaced;
                let key = (resource.group.clone(), resource.version.clone(), resource.kind.clone());
                resources.by_kind.insert(key, Served { resource, namespaced });
            }
        }
        for (resource, capabilities) in group.recommended_resources() {
            let collectable = [verbs::DELETE, verbs::LIST, verbs::WATCH]
                .iter()
                .all(|verb| capabilities.supports_operation(verb));
            // Kubernetes' DefaultIgnoredResources: events are never owners worth tracking.
            let ignored = resource.plural == "events"
                && (resource.group.is_empty() || resource.group == "events.k8s.io");
            if collectable && !ignored {
                let namespaced = capabilities.scope == Scope::Namespaced;
                resources.watched.push(Served { resource, namespaced });
            }
        }
    }
    Ok(resources)
}

// === the watches ===

/// What the watches report to the collector.
#[derive(Debug)]
enum Change {
    Observed(Node),
    Deleted(String),
    /// A (re)list of watched resource `resource` finished with exactly these uids.
    Listed {
        resource: usize,
        uids: HashSet<String>,
    },
}

fn node_of(index: usize, served: &Served, object: &DynamicObject) -> Option<Node> {
    let metadata = &object.metadata;
    let uid = metadata.uid.clone()?;
    Some(Node {
        identity: Identity {
            api_version: served.resource.api_version.clone(),
            kind: served.resource.kind.clone(),
            namespace: if served.namespaced { metadata.namespace.clone() } else { None },
            name: metadata.name.clone().unwrap_or_default(),
            uid,
        },
        owners: metadata.owner_references.clone().unwrap_or_default(),
        being_deleted: metadata.deletion_timestamp.is_some(),
        finalizers: metadata.finalizers.clone().unwrap_or_default(),
        resource: index,
    })
}

async fn watch(
    client: kube::Client,
    index: usize,
    served: Served,
    changes: mpsc::UnboundedSender<Change>,
) {
    let api: Api<DynamicObject> = Api::all_with(client, &served.resource);
    let mut stream = watcher(api, watcher::Config::default()).default_backoff().boxed();
    let mut listing: HashSet<String> = HashSet::new();
    while let Some(event) = stream.next().await {
        let change = match event {
            Ok(watcher::Event::Init) => {
                listing.clear();
                continue;
            }
            Ok(watcher::Event::InitApply(object)) => {
                let Some(node) = node_of(index, &served, &object) else { continue };
                listing.insert(node.identity.uid.clone());
                Change::Observed(node)
            }
            Ok(watcher::Event::InitDone) => {
                Change::Listed { resource: index, uids: std::mem::take(&mut listing) }
            }
            Ok(watcher::Event::Apply(object)) => {
                let Some(node) = node_of(index, &served, &object) else { continue };
                Change::Observed(node)
            }
            Ok(watcher::Event::Delete(object)) => {
                let Some(uid) = object.metadata.uid else { continue };
                Change::Deleted(uid)
            }
            Err(error) => {
                tracing::debug!(%error, resource = %served.resource.plural, "garbage collector watch");
                continue;
            }
        };
        if changes.send(change).is_err() {
            return;
        }
    }
}

// === the collector ===

/// Items to look at (deduplicated, in arrival order) and items to retry later.
#[derive(Debug, Default)]
struct Queue {
    ready: VecDeque<String>,
    queued: HashSet<String>,
    retries: HashMap<String, (u32, Instant)>,
}

impl Queue {
    fn add(&mut self, uid: String) {
        if self.queued.insert(uid.clone()) {
            self.ready.push_back(uid);
        }
    }

    fn retry_later(&mut self, uid: String) {
        let entry = self.retries.entry(uid).or_insert((0, Instant::now()));
        entry.0 = entry.0.saturating_add(1);
        entry.1 = Instant::now() + retry_delay(entry.0);
    }

    fn forget_retries(&mut self, uid: &str) {
        self.retries.remove(uid);
    }

    /// Moves due retries to the ready queue; returns when the next one is due.
    fn promote_due(&mut self) -> Option<Instant> {
        let now = Instant::now();
        let due: Vec<String> = self
            .retries
            .iter()
            .filter(|(_, (_, at))| *at <= now)
            .map(|(uid, _)| uid.clone())
            .collect();
        for uid in due {
            self.add(uid);
        }
        self.retries
            .iter()
            .filter(|(uid, _)| !self.queued.contains(*uid))
            .map(|(_, (_, at))| *at)
            .min()
    }

    fn take(&mut self, max: usize) -> Vec<String> {
        let n = max.min(self.ready.len());
        let batch: Vec<String> = self.ready.drain(..n).collect();
        for uid in &batch {
            self.queued.remove(uid);
        }
        batch
    }
}

/// Kubernetes' workqueue rate limiter starts at 5 ms and doubles; capped here at a minute
/// so a dependent of a kind that appears later is not forgotten for long.
fn retry_delay(attempts: u32) -> Duration {
    let millis = 5u64.saturating_mul(1 << attempts.min(14));
    Duration::from_millis(millis.min(60_000))
}

/// The collector's handles on the API.
#[derive(Clone)]
struct Collector {
    client: kube::Client,
    resources: Arc<Resources>,
    recorder: Recorder,
    /// Owners found absent (by identity with uid), so their many dependents need not ask again.
    absent: Arc<Mutex<HashSet<Identity>>>,
    /// (dependent, owner) pairs already reported with `OwnerRefInvalidNamespace`.
    reported: Arc<Mutex<HashSet<(String, String)>>>,
}

impl std::fmt::Debug for Collector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Collector")
            .field("resources", &self.resources.watched.len())
            .finish_non_exhaustive()
    }
}

/// One unit of work, taken from the graph so it can run without it.
#[derive(Debug)]
enum Job {
    Dependent {
        item: Node,
        /// What the graph says of each reference (`None`: ask the API).
        states: Vec<Option<OwnerState>>,
        invalid_namespace: Vec<OwnerReference>,
        has_dependents: bool,
        a_dependent_is_deleting_dependents: bool,
    },
    Owner {
        owner: Identity,
        action: OwnerAction,
    },
}

/// What a job asks of the queue afterwards.
#[derive(Debug, Default)]
struct Outcome {
    retry: bool,
    enqueue: Vec<String>,
}

/// The job for `uid`, if there is anything to decide.
fn job_for(graph: &Graph, uid: &str) -> Option<Job> {
    let node = graph.get(uid)?;
    if node.orphaning() || node.deleting_dependents() {
        let action = graph::plan_owner(graph, node);
        if action == OwnerAction::Nothing {
            return None;
        }
        return Some(Job::Owner { owner: node.identity.clone(), action });
    }
    if node.being_deleted || node.owners.is_empty() {
        return None;
    }
    let states: Vec<Option<OwnerState>> =
        node.owners.iter().map(|r| graph.owner_state(node, r)).collect();
    if states.iter().all(|s| *s == Some(OwnerState::Solid)) {
        return None;
    }
    Some(Job::Dependent {
        item: node.clone(),
        states,
        invalid_namespace: graph.invalid_namespace_owners(node).into_iter().cloned().collect(),
        has_dependents: graph.has_dependents(uid),
        a_dependent_is_deleting_dependents: graph.dependents_of(uid).any(Node::deleting_dependents),
    })
}

async fn run_once(cx: &Context) -> Result<(), Error> {
    let client = cx.client.clone();
    let resources = Arc::new(discover(&client).await?);
    let signature = resources.signature();
    let (sender, mut changes) = mpsc::unbounded_channel();
    let mut watches = JoinSet::new();
    for (index, served) in resources.watched.iter().enumerate() {
        watches.spawn(watch(client.clone(), index, served.clone(), sender.clone()));
    }
    drop(sender);
    let collector = Collector {
        client: client.clone(),
        resources: resources.clone(),
        recorder: Recorder::new(client.clone(), "garbage-collector-controller", None),
        absent: Arc::default(),
        reported: Arc::default(),
    };
    let mut graph = Graph::default();
    let mut queue = Queue::default();
    let mut unsynced: HashSet<usize> = (0..resources.watched.len()).collect();
    let started = Instant::now();
    let mut next_discovery = Instant::now() + DISCOVERY_INTERVAL;
    tracing::info!(resources = resources.watched.len(), "garbage collector started");
    loop {
        // Take every change that is already waiting before deciding anything.
        loop {
            match changes.try_recv() {
                Ok(change) => apply_change(&mut graph, &mut queue, &mut unsynced, change),
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => return Ok(()),
            }
        }
        let synced = unsynced.is_empty() || started.elapsed() >= SYNC_TIMEOUT;
        let next_retry = queue.promote_due();
        if synced && !queue.ready.is_empty() {
            let mut jobs: Vec<(String, Job)> = Vec::new();
            for uid in queue.take(WORKERS * 4) {
                match job_for(&graph, &uid) {
                    Some(job) => jobs.push((uid, job)),
                    // Nothing left to decide: a pending retry is moot.
                    None => queue.forget_retries(&uid),
                }
            }
            let outcomes: Vec<(String, Outcome)> = futures::stream::iter(jobs)
                .map(|(uid, job)| {
                    let collector = collector.clone();
                    async move { (uid, collector.execute(job).await) }
                })
                .buffer_unordered(WORKERS)
                .collect()
                .await;
            for (uid, outcome) in outcomes {
                if outcome.retry {
                    queue.retry_later(uid);
                } else {
                    queue.forget_retries(&uid);
                }
                for uid in outcome.enqueue {
                    queue.add(uid);
                }
            }
            continue;
        }
        if Instant::now() >= next_discovery {
            next_discovery = Instant::now() + DISCOVERY_INTERVAL;
            match discover(&client).await {
                Ok(found) if found.signature() != signature => {
                    tracing::info!("served resources changed; garbage collector starts over");
                    return Ok(());
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "garbage collector rediscovery"),
            }
        }
        let mut wake = next_discovery;
        if let Some(at) = next_retry {
            wake = wake.min(at);
        }
        if !synced {
            wake = wake.min(started + SYNC_TIMEOUT);
        }
        tokio::select! {
            change = changes.recv() => match change {
                Some(change) => apply_change(&mut graph, &mut queue, &mut unsynced, change),
                None => return Ok(()),
            },
            () = tokio::time::sleep_until(wake) => {}
        }
    }
}

fn apply_change(
    graph: &mut Graph,
    queue: &mut Queue,
    unsynced: &mut HashSet<usize>,
    change: Change,
) {
    let affected = match change {
        Change::Observed(node) => graph.observe(node),
        Change::Deleted(uid) => {
            queue.forget_retries(&uid);
            graph.forget(&uid)
        }
        Change::Listed { resource, uids } => {
            unsynced.remove(&resource);
            let gone: Vec<String> = graph
                .uids_of_resource(resource)
                .into_iter()
                .filter(|uid| !uids.contains(uid))
                .collect();
            gone.iter().flat_map(|uid| graph.forget(uid)).collect()
        }
    };
    for uid in affected {
        queue.add(uid);
    }
}

// === applying decisions ===

/// Why one job failed (logged; the item is retried).
#[derive(Debug, thiserror::Error)]
enum JobError {
    #[error("{kind} {name}: the kind is not served")]
    UnknownKind { kind: String, name: String },
    #[error("{verb} {kind} {name}")]
    Api {
        verb: &'static str,
        kind: String,
        name: String,
        #[source]
        source: Box<kube::Error>,
    },
}

fn is_not_found(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 404)
}

impl Collector {
    async fn execute(&self, job: Job) -> Outcome {
        let result = match job {
            Job::Dependent {
                item,
                states,
                invalid_namespace,
                has_dependents,
                a_dependent_is_deleting_dependents,
            } => {
                for reference in &invalid_namespace {
                    self.report_invalid_namespace(&item, reference).await;
                }
                self.attempt_to_delete(
                    &item,
                    states,
                    has_dependents,
                    a_dependent_is_deleting_dependents,
                )
                .await
            }
            Job::Owner { owner, action } => self.process_owner(&owner, action).await,
        };
        match result {
            Ok(outcome) => outcome,
            Err(error) => {
                tracing::debug!(%error, "garbage collector will retry");
                Outcome { retry: true, enqueue: Vec::new() }
            }
        }
    }

    fn api(&self, identity: &Identity) -> Result<Api<DynamicObject>, JobError> {
        let served =
            self.resources.resolve(&identity.api_version, &identity.kind).ok_or_else(|| {
                JobError::UnknownKind { kind: identity.kind.clone(), name: identity.name.clone() }
            })?;
        Ok(match (&identity.namespace, served.namespaced) {
            (Some(namespace), true) => {
                Api::namespaced_with(self.client.clone(), namespace, &served.resource)
            }
            _ => Api::all_with(self.client.clone(), &served.resource),
        })
    }

    fn api_error(verb: &'static str, identity: &Identity, source: kube::Error) -> JobError {
        JobError::Api {
            verb,
            kind: identity.kind.clone(),
            name: identity.name.clone(),
            source: Box::new(source),
        }
    }

    /// The object as it is now, if it still exists with the same uid.
    async fn latest(&self, identity: &Identity) -> Result<Option<DynamicObject>, JobError> {
        let object = self
            .api(identity)?
            .get_opt(&identity.name)
            .await
            .map_err(|e| Self::api_error("get", identity, e))?;
        Ok(object.filter(|o| o.metadata.uid.as_deref() == Some(identity.uid.as_str())))
    }

    /// `isDangling`: looks the owner up by name where the item would find it, compares uids.
    async fn owner_state(
        &self,
        item: &Node,
        reference: &OwnerReference,
    ) -> Result<OwnerState, JobError> {
        let Some(served) = self.resources.resolve(&reference.api_version, &reference.kind) else {
            return Ok(OwnerState::UnknownKind);
        };
        if served.namespaced && item.identity.namespace.is_none() {
            return Ok(OwnerState::NamespacedOwnerOfClusterScoped);
        }
        let owner = Identity {
            api_version: reference.api_version.clone(),
            kind: reference.kind.clone(),
            namespace: if served.namespaced { item.identity.namespace.clone() } else { None },
            name: reference.name.clone(),
            uid: reference.uid.clone(),
        };
        if self.absent.lock().unwrap_or_else(|e| e.into_inner()).contains(&owner) {
            return Ok(OwnerState::Dangling);
        }
        let Some(found) = self.latest(&owner).await? else {
            let mut absent = self.absent.lock().unwrap_or_else(|e| e.into_inner());
            if absent.len() >= ABSENT_CACHE {
                absent.clear();
            }
            absent.insert(owner);
            return Ok(OwnerState::Dangling);
        };
        let deleting = found.metadata.deletion_timestamp.is_some()
            && found.metadata.finalizers.iter().flatten().any(|f| f == FOREGROUND);
        Ok(if deleting { OwnerState::WaitingForDependents } else { OwnerState::Solid })
    }

    async fn attempt_to_delete(
        &self,
        item: &Node,
        graph_states: Vec<Option<OwnerState>>,
        has_dependents: bool,
        a_dependent_is_deleting_dependents: bool,
    ) -> Result<Outcome, JobError> {
        let Some(latest) = self.latest(&item.identity).await? else {
            return Ok(Outcome::default());
        };
        if latest.metadata.deletion_timestamp.is_some() {
            return Ok(Outcome::default());
        }
        let references = latest.metadata.owner_references.clone().unwrap_or_default();
        let mut states = Vec::with_capacity(references.len());
        for reference in &references {
            // A reference the graph already knows to be solid need not be asked again.
            let known = item
                .owners
                .iter()
                .zip(&graph_states)
                .find(|(r, _)| r.uid == reference.uid)
                .and_then(|(_, state)| *state)
                .filter(|state| *state == OwnerState::Solid);
            let state = match known {
                Some(state) => state,
                None => self.owner_state(item, reference).await?,
            };
            states.push(state);
        }
        let classified: Vec<(&OwnerReference, OwnerState)> =
            references.iter().zip(states).collect();
        let finalizers = latest.metadata.finalizers.clone().unwrap_or_default();
        let action = graph::plan_dependent(
            &classified,
            &finalizers,
            has_dependents,
            a_dependent_is_deleting_dependents,
        );
        tracing::debug!(item = %item.identity, ?action, "garbage collector decision");
        match action {
            DependentAction::Keep => Ok(Outcome::default()),
            DependentAction::Retry => {
                let unknown = classified
                    .iter()
                    .find(|(_, state)| *state == OwnerState::UnknownKind)
                    .map(|(r, _)| format!("{}/{}", r.api_version, r.kind));
                tracing::debug!(item = %item.identity, ?unknown, "owner of an unknown kind");
                Ok(Outcome { retry: true, enqueue: Vec::new() })
            }
            DependentAction::RemoveOwnerReferences(uids) => {
                self.remove_owner_references(&item.identity, &uids).await?;
                Ok(Outcome::default())
            }
            DependentAction::Delete { policy, unblock_owners } => {
                if unblock_owners {
                    self.unblock_owner_references(&item.identity, &references).await?;
                }
                self.delete(&item.identity, policy).await?;
                Ok(Outcome::default())
            }
        }
    }

    async fn process_owner(
        &self,
        owner: &Identity,
        action: OwnerAction,
    ) -> Result<Outcome, JobError> {
        match action {
            OwnerAction::Nothing => Ok(Outcome::default()),
            OwnerAction::WaitFor(uids) => Ok(Outcome { retry: false, enqueue: uids }),
            OwnerAction::RemoveForegroundFinalizer => {
                tracing::debug!(owner = %owner, "no blocking dependents remain");
                self.remove_finalizer(owner, FOREGROUND).await?;
                Ok(Outcome::default())
            }
            OwnerAction::Orphan(dependents) => {
                for dependent in &dependents {
                    self.remove_owner_references(dependent, std::slice::from_ref(&owner.uid))
                        .await?;
                }
                self.remove_finalizer(owner, ORPHAN).await?;
                Ok(Outcome::default())
            }
        }
    }

    /// Removes the references to `owners` (by uid) with a strategic merge patch that also
    /// carries the item's uid, so a recreated object of the same name is not touched.
    async fn remove_owner_references(
        &self,
        item: &Identity,
        owners: &[String],
    ) -> Result<(), JobError> {
        let deletions: Vec<Value> =
            owners.iter().map(|uid| json!({"$patch": "delete", "uid": uid})).collect();
        let patch = json!({"metadata": {"ownerReferences": deletions, "uid": item.uid}});
        self.patch(item, &patch).await
    }

    /// Sets `blockOwnerDeletion: false` on every reference of the item that blocks.
    async fn unblock_owner_references(
        &self,
        item: &Identity,
        references: &[OwnerReference],
    ) -> Result<(), JobError> {
        let unblocked: Vec<Value> = references
            .iter()
            .filter(|r| r.block_owner_deletion == Some(true))
            .map(|r| json!({"uid": r.uid, "blockOwnerDeletion": false}))
            .collect();
        if unblocked.is_empty() {
            return Ok(());
        }
        let patch = json!({"metadata": {"ownerReferences": unblocked, "uid": item.uid}});
        self.patch(item, &patch).await
    }

    async fn patch(&self, item: &Identity, patch: &Value) -> Result<(), JobError> {
        let api = self.api(item)?;
        match api.patch(&item.name, &PatchParams::default(), &Patch::Strategic(patch)).await {
            Ok(_) => Ok(()),
            Err(error) if is_not_found(&error) => Ok(()),
            Err(error) => Err(Self::api_error("patch", item, error)),
        }
    }

    async fn delete(&self, item: &Identity, policy: Policy) -> Result<(), JobError> {
        let api = self.api(item)?;
        let params = DeleteParams {
            propagation_policy: Some(match policy {
                Policy::Background => PropagationPolicy::Background,
                Policy::Foreground => PropagationPolicy::Foreground,
                Policy::Orphan => PropagationPolicy::Orphan,
            }),
            preconditions: Some(Preconditions {
                uid: Some(item.uid.clone()),
                resource_version: None,
            }),
            ..DeleteParams::default()
        };
        tracing::info!(item = %item, ?policy, "garbage collector deletes");
        match api.delete(&item.name, &params).await {
            Ok(_) => Ok(()),
            Err(error) if is_not_found(&error) => Ok(()),
            Err(error) => Err(Self::api_error("delete", item, error)),
        }
    }

    /// Removes `finalizer` from the object with an update guarded by the resourceVersion it
    /// read, as Kubernetes' `removeFinalizer` does; a conflict is retried.
    async fn remove_finalizer(&self, owner: &Identity, finalizer: &str) -> Result<(), JobError> {
        let Some(mut latest) = self.latest(owner).await? else { return Ok(()) };
        let current = latest.metadata.finalizers.take().unwrap_or_default();
        if !current.iter().any(|f| f == finalizer) {
            return Ok(());
        }
        latest.metadata.finalizers = Some(current.into_iter().filter(|f| f != finalizer).collect());
        let api = self.api(owner)?;
        match api.replace(&owner.name, &PostParams::default(), &latest).await {
            Ok(_) => Ok(()),
            Err(error) if is_not_found(&error) => Ok(()),
            Err(error) => Err(Self::api_error("remove finalizer from", owner, error)),
        }
    }

    async fn report_invalid_namespace(&self, item: &Node, reference: &OwnerReference) {
        let key = (item.identity.uid.clone(), reference.uid.clone());
        if !self.reported.lock().unwrap_or_else(|e| e.into_inner()).insert(key) {
            return;
        }
        let namespace = item.identity.namespace.clone().unwrap_or_default();
        let invalid = Identity {
            api_version: reference.api_version.clone(),
            kind: reference.kind.clone(),
            namespace: Some(namespace.clone()),
            name: reference.name.clone(),
            uid: reference.uid.clone(),
        };
        let object = ObjectReference {
            api_version: Some(item.identity.api_version.clone()),
            kind: Some(item.identity.kind.clone()),
            namespace: item.identity.namespace.clone(),
            name: Some(item.identity.name.clone()),
            uid: Some(item.identity.uid.clone()),
            ..ObjectReference::default()
        };
        let message = format!("ownerRef {invalid} does not exist in namespace {namespace:?}");
        self.recorder.record(&object, EventType::Warning, "OwnerRefInvalidNamespace", message);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_queue_deduplicates_and_brings_retries_back_when_due() {
        let mut queue = Queue::default();
        queue.add("a".into());
        queue.add("b".into());
        queue.add("a".into());
        assert_eq!(queue.take(10), ["a", "b"]);
        assert!(queue.take(10).is_empty());

        queue.retry_later("a".into());
        let due = queue.promote_due().expect("a retry is pending");
        assert!(due > Instant::now());
        assert!(queue.take(10).is_empty());
        tokio::time::sleep_until(due).await;
        // Promoted: queued now, so nothing else is pending.
        assert_eq!(queue.promote_due(), None);
        assert_eq!(queue.take(10), ["a"]);
        queue.forget_retries("a");
        assert_eq!(queue.promote_due(), None);
        assert!(queue.take(10).is_empty());
    }

    #[test]
    fn retry_delays_grow_and_stop_at_a_minute() {
        assert_eq!(retry_delay(1), Duration::from_millis(10));
        assert_eq!(retry_delay(4), Duration::from_millis(80));
        assert_eq!(retry_delay(40), Duration::from_secs(60));
        assert_eq!(backoff(1), Duration::from_millis(200));
        assert_eq!(backoff(30), Duration::from_secs(60));
    }
}
