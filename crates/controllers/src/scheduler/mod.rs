//! The scheduler (kube-scheduler v1.33's default profile, `schedulerName: default-scheduler`):
//! binds pending pods to nodes through `pods/{name}/binding`.
//!
//! One task owns the scheduler's view: mirrors of nodes, pods, claims, volumes and storage
//! classes fed by the shared caches ([`crate::informer`]; the mirrors share their objects),
//! the usage of every node (the non-terminal pods on it, plus the pods *assumed* there whose
//! binding is under way, as the scheduler cache does), and the queue of pending pods. Each decision is the pure [`plan::schedule`]; binds run
//! concurrently in their own tasks, so the loop goes on deciding while the API answers.
//! A pod that fits nowhere gets `PodScheduled=False` (reason `Unschedulable`) and a
//! `FailedScheduling` event, and waits until the cluster changes (a node, a claim, a volume,
//! a class, or a pod leaving a node), then retries after a backoff of 1 s doubling to 10 s,
//! or after five minutes at most (pkg/scheduler/internal/queue defaults).

pub(crate) mod plan;
mod resources;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{
    Binding, Node, ObjectReference, PersistentVolume, PersistentVolumeClaim, Pod,
};
use k8s_openapi::api::storage::v1::StorageClass;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::wait::await_condition;
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::cached_pod::CachedPod;
use crate::informer::Event;
use crate::{Context, EventType, Recorder};
use plan::{Candidate, Contribution, Outcome, Prepared, Usage, Volumes};

pub(crate) use plan::tolerates;

const INITIAL_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// podMaxInUnschedulablePodsDuration.
const MAX_UNSCHEDULABLE: Duration = Duration::from_secs(300);
/// How long a pod may wait for its Immediate claims to be bound before it is tried (and its
/// FailedScheduling reported) like any other pod.
const CLAIM_WAIT: Duration = Duration::from_secs(5);
/// How long a bind waits for its WaitForFirstConsumer claims to be bound (bindTimeoutSeconds).
const VOLUME_BIND_TIMEOUT: Duration = Duration::from_secs(600);
/// Binds in flight at once.
const CONCURRENT_BINDS: usize = 64;

/// What the shared caches report to the scheduling loop.
#[derive(Debug)]
enum Input {
    Node(Event<Node>),
    Pod(Event<CachedPod>),
    Claim(Event<PersistentVolumeClaim>),
    Volume(Event<PersistentVolume>),
    Class(Event<StorageClass>),
}

/// A change to a mirrored object.
#[derive(Debug)]
enum Change<K> {
    Upsert(K),
    Delete(K),
}

/// The objects of one kind as the watch last said, keyed `namespace/name` or `name`; the
/// objects are the shared cache's.
#[derive(Debug)]
struct Mirror<K> {
    objects: HashMap<String, Arc<K>>,
    relist: Option<HashMap<String, Arc<K>>>,
    synced: bool,
}

impl<K: Resource> Mirror<K> {
    fn new() -> Mirror<K> {
        Mirror { objects: HashMap::new(), relist: None, synced: false }
    }

    fn key(object: &K) -> String {
        match object.meta().namespace.as_deref() {
            Some(namespace) => {
                format!("{namespace}/{}", object.meta().name.as_deref().unwrap_or_default())
            }
            None => object.meta().name.clone().unwrap_or_default(),
        }
    }

    /// Applies a watch event; returns what changed.
    fn apply(&mut self, event: Event<K>) -> Vec<Change<Arc<K>>> {
        match event {
            watcher::Event::Init => {
                self.relist = Some(HashMap::new());
                Vec::new()
            }
            watcher::Event::InitApply(object) => {
                self.relist.get_or_insert_with(HashMap::new).insert(Self::key(&object), object);
                Vec::new()
            }
            watcher::Event::InitDone => {
                let fresh = self.relist.take().unwrap_or_default();
                let old = std::mem::take(&mut self.objects);
                let mut changes: Vec<Change<Arc<K>>> = old
                    .into_iter()
                    .filter(|(key, _)| !fresh.contains_key(key))
                    .map(|(_, object)| Change::Delete(object))
                    .collect();
                changes.extend(fresh.values().cloned().map(Change::Upsert));
                self.objects = fresh;
                self.synced = true;
                changes
            }
            watcher::Event::Apply(object) => {
                self.objects.insert(Self::key(&object), object.clone());
                vec![Change::Upsert(object)]
            }
            watcher::Event::Delete(object) => {
                self.objects.remove(&Self::key(&object));
                vec![Change::Delete(object)]
            }
        }
    }
}

/// Where a pending pod is in the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Queued {
    /// To be tried in the next round.
    Active,
    /// To be tried at this instant.
    Backoff(Instant),
    /// Tried and failed: waits for the cluster to change (or [`MAX_UNSCHEDULABLE`]).
    Unschedulable,
    /// Assumed on a node; its bind is under way.
    Binding,
    /// Has `spec.schedulingGates`: waits until they are all removed (SchedulingGates plugin).
    Gated,
    /// Its Immediate claims are not bound yet: retried as soon as a claim or volume changes,
    /// without backoff, for up to [`CLAIM_WAIT`]; then tried (and reported) as usual.
    /// Kubernetes tries such a pod at once and puts it into backoff (a second or more per
    /// pod of a StatefulSet with claims); waiting for the binder instead is berth's choice.
    Claims,
}

#[derive(Debug)]
struct Pending {
    pod: Arc<CachedPod>,
    queued: Queued,
    attempts: u32,
    last_attempt: Instant,
    since: Instant,
    /// Whether `PodScheduled=False` reason `SchedulingGated` was asked for.
    gate_reported: bool,
}

/// The outcome of a bind task.
#[derive(Debug)]
struct BindResult {
    uid: String,
    result: Result<(), String>,
}

/// The scheduler's view of the cluster.
#[derive(Debug)]
struct State {
    nodes: Mirror<Node>,
    pods: Mirror<CachedPod>,
    claims: Mirror<PersistentVolumeClaim>,
    volumes: Mirror<PersistentVolume>,
    classes: Mirror<StorageClass>,
    /// Pods counted on a node (bound and not terminal, or assumed), by uid.
    placed: HashMap<String, (String, Contribution)>,
    usage: HashMap<String, Usage>,
    pending: HashMap<String, Pending>,
    /// Pods whose bind succeeded but whose watch has not shown the node yet.
    bound: HashSet<String>,
}

impl State {
    fn new() -> State {
        State {
            nodes: Mirror::new(),
            pods: Mirror::new(),
            claims: Mirror::new(),
            volumes: Mirror::new(),
            classes: Mirror::new(),
            placed: HashMap::new(),
            usage: HashMap::new(),
            pending: HashMap::new(),
            bound: HashSet::new(),
        }
    }

    fn synced(&self) -> bool {
        self.nodes.synced
            && self.pods.synced
            && self.claims.synced
            && self.volumes.synced
            && self.classes.synced
    }

    /// Applies one watch event; returns whether the cluster changed in a way that may make
    /// an unschedulable pod schedulable.
    fn apply(&mut self, input: Input) -> bool {
        match input {
            Input::Node(event) => {
                // Heartbeats change a node every few seconds; only what the filters read
                // may make a pod fit (the queue's node update hints).
                let before: HashMap<String, serde_json::Value> = self
                    .nodes
                    .objects
                    .iter()
                    .map(|(name, node)| (name.clone(), node_fingerprint(node)))
                    .collect();
                self.nodes.apply(event).iter().any(|change| match change {
                    Change::Upsert(node) => {
                        let name = node.metadata.name.clone().unwrap_or_default();
                        before.get(&name) != Some(&node_fingerprint(node))
                    }
                    Change::Delete(_) => false,
                })
            }
            Input::Claim(event) => !self.claims.apply(event).is_empty(),
            Input::Volume(event) => !self.volumes.apply(event).is_empty(),
            Input::Class(event) => !self.classes.apply(event).is_empty(),
            Input::Pod(event) => {
                let mut freed = false;
                for change in self.pods.apply(event) {
                    freed |= match change {
                        Change::Upsert(pod) => self.upsert_pod(pod),
                        Change::Delete(pod) => self.delete_pod(&pod),
                    };
                }
                freed
            }
        }
    }

    fn place(&mut self, uid: &str, node: &str, contribution: Contribution) {
        self.unplace(uid);
        self.usage.entry(node.to_owned()).or_default().add(&contribution);
        self.placed.insert(uid.to_owned(), (node.to_owned(), contribution));
    }

    /// Forgets a pod's place; returns whether it had one.
    fn unplace(&mut self, uid: &str) -> bool {
        let Some((node, contribution)) = self.placed.remove(uid) else { return false };
        if let Some(usage) = self.usage.get_mut(&node) {
            usage.remove(&contribution);
            if usage.pods() <= 0 {
                self.usage.remove(&node);
            }
        }
        true
    }

    /// Returns whether resources were freed.
    fn upsert_pod(&mut self, pod: Arc<CachedPod>) -> bool {
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let spec = pod.spec.as_ref();
        let node = spec.and_then(|s| s.node_name.clone()).filter(|n| !n.is_empty());
        let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
        let terminal = matches!(phase, Some("Succeeded" | "Failed"));
        if let Some(node) = node {
            self.pending.remove(&uid);
            self.bound.remove(&uid);
            if terminal {
                return self.unplace(&uid);
            }
            let moved = self.placed.get(&uid).is_none_or(|(placed, _)| *placed != node);
            if moved {
                self.place(&uid, &node, Contribution::of(&pod));
            }
            return false;
        }
        if self.bound.contains(&uid) {
            return false;
        }
        let ours = spec
            .is_some_and(|s| s.scheduler_name.as_deref().is_none_or(|n| n == plan::SCHEDULER_NAME))
            && pod.metadata.deletion_timestamp.is_none()
            && !terminal;
        let gated = spec.and_then(|s| s.scheduling_gates.as_ref()).is_some_and(|g| !g.is_empty());
        if !ours {
            if let Some(pending) = self.pending.remove(&uid)
                && pending.queued == Queued::Binding
            {
                self.unplace(&uid);
            }
            return false;
        }
        match self.pending.get_mut(&uid) {
            Some(pending) => {
                pending.pod = pod;
                if gated && pending.queued != Queued::Binding {
                    pending.queued = Queued::Gated;
                } else if !gated && pending.queued == Queued::Gated {
                    pending.queued = Queued::Active;
                }
            }
            None => {
                let now = Instant::now();
                let queued = if gated { Queued::Gated } else { Queued::Active };
                let pending = Pending {
                    pod,
                    queued,
                    attempts: 0,
                    last_attempt: now,
                    since: now,
                    gate_reported: false,
                };
                self.pending.insert(uid, pending);
            }
        }
        false
    }

    fn delete_pod(&mut self, pod: &CachedPod) -> bool {
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        self.pending.remove(&uid);
        self.bound.remove(&uid);
        self.unplace(&uid)
    }

    /// The cluster changed: unschedulable pods go back to the queue, after their backoff.
    fn wake(&mut self) {
        for pending in self.pending.values_mut() {
            if pending.queued == Queued::Claims {
                pending.queued = Queued::Active;
            } else if pending.queued == Queued::Unschedulable {
                pending.queued = Queued::Backoff(pending.last_attempt + backoff(pending.attempts));
            }
        }
    }

    /// Moves pods whose backoff is over to the active queue; returns the next instant one
    /// will be.
    fn promote(&mut self, now: Instant) -> Option<Instant> {
        let mut next: Option<Instant> = None;
        for pending in self.pending.values_mut() {
            let due = match pending.queued {
                Queued::Backoff(at) => at,
                Queued::Unschedulable => pending.last_attempt + MAX_UNSCHEDULABLE,
                Queued::Claims => pending.since + CLAIM_WAIT,
                Queued::Active | Queued::Binding | Queued::Gated => continue,
            };
            if due <= now {
                pending.queued = Queued::Active;
            } else {
                next = Some(next.map_or(due, |n| n.min(due)));
            }
        }
        next
    }

    /// Decides for every active pod, highest priority first, then oldest in the queue
    /// (PrioritySort).
    fn decide(&mut self) -> Vec<(Arc<CachedPod>, Outcome)> {
        let mut decisions = Vec::new();
        for pending in self.pending.values_mut() {
            if pending.queued == Queued::Gated && !pending.gate_reported {
                pending.gate_reported = true;
                decisions.push((pending.pod.clone(), Outcome::Gated));
            }
        }
        let mut active: Vec<(i32, Instant, String)> = self
            .pending
            .iter()
            .filter(|(_, p)| p.queued == Queued::Active)
            .map(|(uid, p)| {
                let priority = p.pod.spec.as_ref().and_then(|s| s.priority).unwrap_or(0);
                (-priority, p.since, uid.clone())
            })
            .collect();
        if active.is_empty() {
            return decisions;
        }
        active.sort();
        let mut nodes: Vec<&Arc<Node>> = self.nodes.objects.values().collect();
        nodes.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
        let nodes: Vec<(Arc<Node>, Prepared)> =
            nodes.into_iter().map(|n| (n.clone(), Prepared::of(n))).collect();
        let empty = Usage::default();
        let now = Instant::now();
        for (_, _, uid) in active {
            let Some(pending) = self.pending.get_mut(&uid) else { continue };
            let volumes = Volumes {
                claims: &self.claims.objects,
                volumes: &self.volumes.objects,
                classes: &self.classes.objects,
            };
            if now < pending.since + CLAIM_WAIT && plan::waits_for_claims(&pending.pod, volumes) {
                pending.queued = Queued::Claims;
                continue;
            }
            let pod = pending.pod.clone();
            let contribution = Contribution::of(&pod);
            let outcome = {
                let candidates: Vec<Candidate<'_>> = nodes
                    .iter()
                    .map(|(node, prepared)| Candidate {
                        node,
                        prepared,
                        usage: node
                            .metadata
                            .name
                            .as_ref()
                            .and_then(|n| self.usage.get(n))
                            .unwrap_or(&empty),
                    })
                    .collect();
                let volumes = Volumes {
                    claims: &self.claims.objects,
                    volumes: &self.volumes.objects,
                    classes: &self.classes.objects,
                };
                plan::schedule(&pod, &contribution, &candidates, volumes)
            };
            let Some(pending) = self.pending.get_mut(&uid) else { continue };
            pending.last_attempt = now;
            match &outcome {
                Outcome::Fits { node, .. } => {
                    pending.queued = Queued::Binding;
                    let node = node.clone();
                    self.place(&uid, &node, contribution);
                }
                Outcome::Unschedulable { .. } => {
                    pending.attempts += 1;
                    pending.queued = Queued::Unschedulable;
                }
                Outcome::Gated => {}
            }
            decisions.push((pod, outcome));
        }
        decisions
    }

    fn finish_bind(&mut self, result: BindResult) {
        match result.result {
            Ok(()) => {
                if self.pending.remove(&result.uid).is_some() {
                    self.bound.insert(result.uid);
                }
            }
            Err(error) => {
                let Some(pending) = self.pending.get_mut(&result.uid) else { return };
                if pending.queued != Queued::Binding {
                    return;
                }
                tracing::info!(pod = %pending.pod.name_any(), %error, "bind failed; retrying");
                pending.attempts += 1;
                pending.queued = Queued::Backoff(Instant::now() + backoff(pending.attempts));
                self.unplace(&result.uid);
            }
        }
    }
}

/// What of a node the filters read: labels, taints, unschedulable, allocatable, Ready.
fn node_fingerprint(node: &Node) -> serde_json::Value {
    let status = node.status.as_ref();
    let ready = status
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
        .map(|c| c.status.clone());
    serde_json::json!({
        "labels": node.metadata.labels,
        "spec": node.spec,
        "allocatable": status.and_then(|s| s.allocatable.as_ref()),
        "ready": ready,
    })
}

/// The queue's backoff after `attempts` failed attempts: 1 s doubling up to 10 s.
fn backoff(attempts: u32) -> Duration {
    let exponent = attempts.saturating_sub(1).min(8);
    (INITIAL_BACKOFF * 2u32.pow(exponent)).min(MAX_BACKOFF)
}

/// Runs the scheduler until the task is aborted.
pub(crate) async fn run(context: Context) {
    let client = context.client.clone();
    let recorder = Recorder::new(client.clone(), plan::SCHEDULER_NAME, None);
    let (sender, mut inputs) = mpsc::channel::<Input>(4096);
    let informers = &context.informers;
    let mut watches = JoinSet::new();
    watches.spawn(forward(informers.get::<Node>().subscribe(), sender.clone(), Input::Node));
    watches.spawn(forward(informers.get::<CachedPod>().subscribe(), sender.clone(), Input::Pod));
    watches.spawn(forward(
        informers.get::<PersistentVolumeClaim>().subscribe(),
        sender.clone(),
        Input::Claim,
    ));
    watches.spawn(forward(
        informers.get::<PersistentVolume>().subscribe(),
        sender.clone(),
        Input::Volume,
    ));
    watches.spawn(forward(informers.get::<StorageClass>().subscribe(), sender, Input::Class));
    let binds = Arc::new(Semaphore::new(CONCURRENT_BINDS));
    let mut tasks: JoinSet<Option<BindResult>> = JoinSet::new();
    let mut state = State::new();
    let mut next_due: Option<Instant> = None;
    loop {
        let sleep = async {
            match next_due {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            input = inputs.recv() => {
                let Some(input) = input else { return };
                let mut changed = state.apply(input);
                while let Ok(input) = inputs.try_recv() {
                    changed |= state.apply(input);
                }
                if changed {
                    state.wake();
                }
            }
            Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                if let Ok(Some(result)) = done {
                    state.finish_bind(result);
                }
            }
            () = sleep => {}
        }
        if !state.synced() {
            continue;
        }
        state.promote(Instant::now());
        for (pod, outcome) in state.decide() {
            match outcome {
                Outcome::Fits { node, delayed } => {
                    let client = client.clone();
                    let recorder = recorder.clone();
                    let binds = binds.clone();
                    tasks.spawn(async move {
                        let permit = binds.acquire_owned().await.ok()?;
                        let uid = pod.metadata.uid.clone().unwrap_or_default();
                        let result = bind(&client, &pod, &node, &delayed).await;
                        drop(permit);
                        if result.is_ok() {
                            let namespace = pod.namespace().unwrap_or_default();
                            let message = format!(
                                "Successfully assigned {namespace}/{} to {node}",
                                pod.name_any()
                            );
                            recorder.record(
                                &crate::meta::reference_to(&*pod),
                                EventType::Normal,
                                "Scheduled",
                                message,
                            );
                        }
                        Some(BindResult { uid, result })
                    });
                }
                Outcome::Gated => {
                    let client = client.clone();
                    tasks.spawn(async move {
                        let message = "Scheduling is blocked due to non-empty scheduling gates";
                        set_unscheduled(&client, &pod, "SchedulingGated", message).await;
                        None
                    });
                }
                Outcome::Unschedulable { message } => {
                    tracing::debug!(pod = %pod.name_any(), %message, "unschedulable");
                    let client = client.clone();
                    let recorder = recorder.clone();
                    tasks.spawn(async move {
                        report_unschedulable(&client, &recorder, &pod, &message).await;
                        None
                    });
                }
            }
        }
        next_due = state.promote(Instant::now());
    }
}

/// Feeds one shared cache's events into the loop, forever.
async fn forward<K>(
    mut events: mpsc::UnboundedReceiver<Event<K>>,
    sender: mpsc::Sender<Input>,
    wrap: fn(Event<K>) -> Input,
) {
    while let Some(event) = events.recv().await {
        if sender.send(wrap(event)).await.is_err() {
            return;
        }
    }
}

/// Annotates the pod's WaitForFirstConsumer claims with the node, waits until they are
/// bound, then binds the pod (the Binding subresource sets `spec.nodeName` and
/// `PodScheduled=True`).
async fn bind(
    client: &kube::Client,
    pod: &CachedPod,
    node: &str,
    delayed: &[String],
) -> Result<(), String> {
    let namespace = pod.metadata.namespace.clone().unwrap_or_else(|| "default".to_owned());
    let name = pod.name_any();
    if !delayed.is_empty() {
        let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), &namespace);
        for claim in delayed {
            let patch = serde_json::json!({
                "metadata": { "annotations": { plan::SELECTED_NODE: node } }
            });
            claims
                .patch(claim, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .map_err(|e| format!("cannot select node {node} for claim {claim}: {e}"))?;
        }
        // Watched, not polled: the pod binds as soon as the binder says Bound.
        let deadline = Instant::now() + VOLUME_BIND_TIMEOUT;
        let settled = |claim: Option<&PersistentVolumeClaim>| {
            claim
                .is_none_or(|c| c.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Bound"))
        };
        for claim in delayed {
            let bound = await_condition(claims.clone(), claim, settled);
            match tokio::time::timeout_at(deadline, bound).await {
                Ok(Ok(Some(_))) => {}
                Ok(Ok(None)) => {
                    return Err(format!("claim {claim} was deleted before it was bound"));
                }
                Ok(Err(error)) => return Err(format!("watching claim {claim}: {error}")),
                Err(_) => return Err(format!("claim {claim} was not bound in time")),
            }
        }
    }
    let binding = Binding {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            namespace: Some(namespace.clone()),
            uid: pod.metadata.uid.clone(),
            ..ObjectMeta::default()
        },
        target: ObjectReference {
            api_version: Some("v1".to_owned()),
            kind: Some("Node".to_owned()),
            name: Some(node.to_owned()),
            ..ObjectReference::default()
        },
    };
    let pods: Api<Pod> = Api::namespaced(client.clone(), &namespace);
    pods.create_subresource::<_, serde_json::Value>(
        "binding",
        &name,
        &PostParams::default(),
        &binding,
    )
    .await
    .map_err(|e| e.to_string())?;
    Ok(())
}

/// Sets `PodScheduled=False` (reason `Unschedulable`) and records a `FailedScheduling` event.
async fn report_unschedulable(
    client: &kube::Client,
    recorder: &Recorder,
    pod: &CachedPod,
    message: &str,
) {
    set_unscheduled(client, pod, "Unschedulable", message).await;
    recorder.record(
        &crate::meta::reference_to(pod),
        EventType::Warning,
        "FailedScheduling",
        message,
    );
}

/// Sets `PodScheduled=False` with `reason` and `message`, unless it says so already.
async fn set_unscheduled(client: &kube::Client, pod: &CachedPod, reason: &str, message: &str) {
    let namespace = pod.metadata.namespace.clone().unwrap_or_else(|| "default".to_owned());
    let current = pod
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "PodScheduled"));
    let same = current.is_some_and(|c| {
        c.status == "False"
            && c.reason.as_deref() == Some(reason)
            && c.message.as_deref() == Some(message)
    });
    if same {
        return;
    }
    let since = current
        .filter(|c| c.status == "False")
        .and_then(|c| c.last_transition_time.clone())
        .unwrap_or(Time(Timestamp::now()));
    let patch = serde_json::json!({
        "metadata": { "uid": pod.metadata.uid },
        "status": { "conditions": [{
            "type": "PodScheduled",
            "status": "False",
            "reason": reason,
            "message": message,
            "lastProbeTime": null,
            "lastTransitionTime": since,
        }]}
    });
    let pods: Api<Pod> = Api::namespaced(client.clone(), &namespace);
    if let Err(error) =
        pods.patch_status(&pod.name_any(), &PatchParams::default(), &Patch::Strategic(&patch)).await
    {
        tracing::debug!(pod = %pod.name_any(), %error, "cannot set PodScheduled=False");
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn synced() -> State {
        let mut state = State::new();
        for input in [
            Input::Node(watcher::Event::InitDone),
            Input::Pod(watcher::Event::InitDone),
            Input::Claim(watcher::Event::InitDone),
            Input::Volume(watcher::Event::InitDone),
            Input::Class(watcher::Event::InitDone),
        ] {
            state.apply(input);
        }
        assert!(state.synced());
        state
    }

    fn node(name: &str) -> Node {
        serde_json::from_value(json!({
            "metadata": { "name": name },
            "status": { "allocatable": { "cpu": "32", "memory": "64Gi", "pods": "110" },
                        "conditions": [{ "type": "Ready", "status": "True" }] },
        }))
        .expect("a node")
    }

    fn pod(name: &str, cpu: &str, node: Option<&str>) -> CachedPod {
        serde_json::from_value(json!({
            "metadata": { "name": name, "namespace": "default", "uid": format!("uid-{name}"),
                          "ownerReferences": [{ "apiVersion": "apps/v1", "kind": "StatefulSet",
                                                "name": "web", "uid": "sts", "controller": true }] },
            "spec": { "nodeName": node, "containers": [{ "name": "c", "image": "i",
                      "resources": { "requests": { "cpu": cpu } } }] },
        }))
        .expect("a pod")
    }

    fn placements(decisions: &[(Arc<CachedPod>, Outcome)]) -> BTreeMapCount {
        let mut counts = BTreeMapCount::new();
        for (_, outcome) in decisions {
            if let Outcome::Fits { node, .. } = outcome {
                *counts.entry(node.clone()).or_insert(0) += 1;
            }
        }
        counts
    }

    type BTreeMapCount = std::collections::BTreeMap<String, usize>;

    #[test]
    fn a_thousand_pods_on_ten_nodes_are_decided_at_once_and_spread() {
        let mut state = synced();
        for i in 0..10 {
            state.apply(Input::Node(watcher::Event::Apply(Arc::new(node(&format!("n{i}"))))));
        }
        for i in 0..1000 {
            state.apply(Input::Pod(watcher::Event::Apply(Arc::new(pod(
                &format!("p{i}"),
                "10m",
                None,
            )))));
        }
        let decisions = state.decide();
        let counts = placements(&decisions);
        assert_eq!(counts.values().sum::<usize>(), 1000);
        assert!(counts.values().all(|n| *n == 100), "{counts:?}");
        assert!(state.pending.values().all(|p| p.queued == Queued::Binding));
        assert!(state.decide().is_empty(), "nothing is decided twice");
    }

    #[test]
    fn assumed_pods_are_forgotten_when_their_bind_fails_and_freed_room_wakes_the_queue() {
        let mut state = synced();
        state.apply(Input::Node(watcher::Event::Apply(Arc::new(node("n")))));
        state.apply(Input::Pod(watcher::Event::Apply(Arc::new(pod("running", "30", Some("n"))))));
        state.apply(Input::Pod(watcher::Event::Apply(Arc::new(pod("a", "1", None)))));
        state.apply(Input::Pod(watcher::Event::Apply(Arc::new(pod("b", "1", None)))));
        let decisions = state.decide();
        // 2 cpu free: a (older) is assumed, then b fits too.
        assert_eq!(placements(&decisions).get("n"), Some(&2));
        state.finish_bind(BindResult { uid: "uid-b".into(), result: Err("conflict".into()) });
        assert!(matches!(state.pending["uid-b"].queued, Queued::Backoff(_)));
        state.finish_bind(BindResult { uid: "uid-a".into(), result: Ok(()) });
        assert!(!state.pending.contains_key("uid-a"));
        // The watch still shows a unbound for a moment: not queued again.
        state.apply(Input::Pod(watcher::Event::Apply(Arc::new(pod("a", "1", None)))));
        assert!(!state.pending.contains_key("uid-a"));
        state.apply(Input::Pod(watcher::Event::Apply(Arc::new(pod("a", "1", Some("n"))))));
        // b's room was given back: it fits after its backoff.
        state.promote(Instant::now() + MAX_BACKOFF);
        assert_eq!(placements(&state.decide()).get("n"), Some(&1));
        // c does not fit now (32 of 32 taken) and waits for a change.
        state.apply(Input::Pod(watcher::Event::Apply(Arc::new(pod("c", "1", None)))));
        assert!(matches!(state.decide()[0].1, Outcome::Unschedulable { .. }));
        assert_eq!(state.pending["uid-c"].queued, Queued::Unschedulable);
        let freed = state.apply(Input::Pod(watcher::Event::Delete(Arc::new(pod(
            "running",
            "30",
            Some("n"),
        )))));
        assert!(freed);
        state.wake();
        state.promote(Instant::now() + MAX_BACKOFF);
        assert_eq!(placements(&state.decide()).get("n"), Some(&1));
    }

    #[test]
    fn only_node_changes_the_filters_read_wake_the_queue() {
        let mut state = synced();
        let fresh = state.apply(Input::Node(watcher::Event::Apply(Arc::new(node("n")))));
        assert!(fresh, "a new node");
        let mut heartbeat = node("n");
        let conditions =
            heartbeat.status.as_mut().and_then(|s| s.conditions.as_mut()).expect("conditions");
        conditions[0].last_heartbeat_time =
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                k8s_openapi::jiff::Timestamp::UNIX_EPOCH,
            ));
        assert!(
            !state.apply(Input::Node(watcher::Event::Apply(Arc::new(heartbeat)))),
            "a heartbeat"
        );
        let mut tainted = node("n");
        tainted.spec =
            serde_json::from_value(json!({ "taints": [{ "key": "k", "effect": "NoSchedule" }] }))
                .ok();
        assert!(state.apply(Input::Node(watcher::Event::Apply(Arc::new(tainted)))), "a taint");
    }

    #[test]
    fn gated_pods_are_reported_once_and_scheduled_when_the_gates_go() {
        let mut state = synced();
        state.apply(Input::Node(watcher::Event::Apply(Arc::new(node("n")))));
        let mut gated = pod("g", "1", None);
        gated.spec.as_mut().expect("spec").scheduling_gates =
            serde_json::from_value(json!([{ "name": "example.com/wait" }])).ok();
        state.apply(Input::Pod(watcher::Event::Apply(Arc::new(gated.clone()))));
        let decisions = state.decide();
        assert_eq!(decisions.len(), 1);
        assert_eq!(decisions[0].1, Outcome::Gated);
        state.apply(Input::Pod(watcher::Event::Apply(Arc::new(gated))));
        assert!(state.decide().is_empty(), "reported once");
        state.apply(Input::Pod(watcher::Event::Apply(Arc::new(pod("g", "1", None)))));
        assert_eq!(placements(&state.decide()).get("n"), Some(&1));
    }

    #[test]
    fn backoff_doubles_up_to_ten_seconds() {
        let seconds: Vec<u64> = (1..=6).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(seconds, [1, 2, 4, 8, 10, 10]);
    }
}
