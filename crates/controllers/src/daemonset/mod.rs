//! The DaemonSet controller (kube-controller-manager's `daemonset-controller`, v1.33:
//! pkg/controller/daemon/daemon_controller.go, update.go and util/daemonset_util.go, with
//! controller_ref_manager.go's `ClaimPods` and `ClaimControllerRevisions`): one daemon pod on
//! every node that should run one, rolled to new templates, and the set's status.
//!
//! `history.rs` is `constructHistory` and `cleanupHistory` (ControllerRevisions: the current
//! one found or created, duplicates removed, old ones beyond `revisionHistoryLimit` that no pod
//! runs deleted); `plan.rs` the rest of `syncDaemonSet` as pure functions: which nodes should
//! run a pod (`NodeShouldRunDaemonPod`: the template's nodeName, nodeSelector and required node
//! affinity as the scheduler reads them, the node's NoSchedule and NoExecute taints against the
//! template's tolerations plus the daemon ones), the claims, `manage` (a pod created for each
//! node that should run one and has none; pods deleted on nodes that should not run them, when
//! failed (with a per-node backoff) or succeeded, beyond one per node (the oldest stays), and
//! unbound pods for nodes that are gone), the rolling update and the status.
//!
//! Daemon pods are made from the template with `generateName: <set>-`, the controller
//! reference, the `controller-revision-hash` (and, when the set has the annotation,
//! `pod-template-generation`) labels, the daemon tolerations and a required node affinity on
//! `metadata.name`; the scheduler binds them. RollingUpdate deletes old pods (those without the
//! current revision's hash) while at most `maxUnavailable` (default 1, of the nodes that should
//! run a pod, rounded up) nodes lack an available pod, and `manage` replaces them; with
//! `maxSurge` it creates the new pod beside the old one first. OnDelete replaces nothing.
//!
//! The loop ([`run`], a [`WorkLoop`]) syncs every set on any change of sets, pods, nodes or
//! revisions and every [`cache::RESYNC`], a set when one of its pods becomes available or a
//! failed pod's backoff ends, and a set whose sync failed after its backoff. Like
//! upstream's expectations, a pass waits until the shared caches show its writes, so the next
//! plan cannot create the same pods again; and it rolls only when `manage` had nothing to do
//! (upstream's `SatisfiedExpectations` after `manage`). The status is written by `PUT
//! …/status` only when it changed. Events are upstream's: `SuccessfulCreate`, `FailedCreate`,
//! `SuccessfulDelete`, `FailedDelete`, `FailedDaemonPod`, `SucceededDaemonPod` and
//! `SelectingAll`.
//!
//! Left out versus upstream:
//! - Per-object event handlers and per-key expectations: any change of the caches queues every
//!   set (as in the ReplicaSet controller), and a pass waits until the caches show all its
//!   writes.
//! - Revision names: the hash is FNV-1a over the template's canonical JSON, not over Go's
//!   struct dump (see the Deployment controller), so `<set>-<hash>` differs from a cluster's.
//! - `dedupCurHistories` relabels only the pods of the duplicate revisions, not every pod
//!   whose hash differs from the kept one (which would mark old pods updated).
//! - The failed-pod backoff has no jitter, and `SelectingAll` is given once per generation of
//!   a set rather than at every sync.
//! - Setting `deprecated.daemonset.template.generation` is the API server's (its strategy
//!   bumps the template generation); the controller reads it when it is there.
//! - Metrics.

mod history;
mod plan;

use std::collections::{BTreeMap, HashMap, HashSet};

use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet, DaemonSetStatus};
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use serde_json::json;
use tokio::time::Instant;
use tracing::Instrument;

use crate::cache;
use crate::cache::workloop::{Expect, WorkLoop};
use crate::cached_pod::CachedPod;
use crate::informer::{Cached, Store};
use crate::meta::{
    api_message, name_of, namespace_of, new_controller_ref, reference_to, status_code,
};
use crate::replicaset::{namespace_terminating, slow_start_batches};
use crate::{Context, EventType, Recorder};
use history::{Current, RevisionRef};
use plan::{BURST_REPLICAS, FailedPodBackoff, Notice, Now, Observed, PodRef};

/// `source.component` of the events.
const COMPONENT: &str = "daemonset-controller";

/// The controller reads the whole set, its pod template included: only managedFields go.
impl Cached for DaemonSet {}

/// Why one set's sync failed; it is synced again after a backoff.
#[derive(Debug, thiserror::Error)]
enum Error {
    #[error("cannot {action} pod {namespace}/{name}")]
    Pod {
        action: &'static str,
        namespace: String,
        name: String,
        #[source]
        source: Box<kube::Error>,
    },
    #[error("cannot {action} controllerrevision {namespace}/{name}")]
    Revision {
        action: &'static str,
        namespace: String,
        name: String,
        #[source]
        source: Box<kube::Error>,
    },
    #[error("cannot {action} daemonset {key}")]
    Set {
        action: &'static str,
        key: String,
        #[source]
        source: Box<kube::Error>,
    },
    #[error("daemonset {key} has just been deleted or replaced: its orphans are not adopted")]
    Gone { key: String },
    #[error(
        "controllerrevision {name} holds another template: collision count of daemonset {key} raised"
    )]
    Collision { key: String, name: String },
    #[error("daemonset {key} has a stale collision count; retrying once the cache has the new one")]
    StaleCollisionCount { key: String },
    #[error("cannot roll daemonset {key}: {message}")]
    Rollout { key: String, message: String },
}

/// The caches whose writes a pass expects to see.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Pod,
    Set,
    Revision,
}

/// The shared caches the controller reads.
struct Caches {
    sets: Store<DaemonSet>,
    pods: Store<CachedPod>,
    nodes: Store<Node>,
    revisions: Store<ControllerRevision>,
}

/// The DaemonSet controller: never returns.
pub(crate) async fn run(cx: Context) {
    let mut work = WorkLoop::new(COMPONENT);
    let caches = Caches {
        sets: work.cache::<DaemonSet>(&cx.informers),
        pods: work.cache::<CachedPod>(&cx.informers),
        nodes: work.cache::<Node>(&cx.informers),
        revisions: work.cache::<ControllerRevision>(&cx.informers),
    };
    caches.sets.wait_until_ready().await;
    caches.pods.wait_until_ready().await;
    caches.nodes.wait_until_ready().await;
    caches.revisions.wait_until_ready().await;
    let client = cx.client.clone();
    let recorder = Recorder::new(client.clone(), COMPONENT, None);
    let mut failed_pods = FailedPodBackoff::default();
    // The sets (uid and generation) already warned about selecting every pod.
    let mut warned: HashSet<String> = HashSet::new();
    loop {
        let all = caches.sets.state();
        let pass = work.pass(all.iter().map(|s| key_of(s)));
        failed_pods.gc(Instant::now());
        warned.retain(|warning| all.iter().any(|s| selecting_all_key(s) == *warning));
        if pass.keys.is_empty() {
            work.wait().await;
            continue;
        }
        let by_key: HashMap<String, &DaemonSet> = all.iter().map(|s| (key_of(s), &**s)).collect();
        let (pods, nodes, revisions) =
            (caches.pods.state(), caches.nodes.state(), caches.revisions.state());
        let observed = Observed::new(nodes.iter().map(|n| &**n), pods.iter().map(|p| &**p));
        let mut revisions_by_namespace: HashMap<&str, Vec<&ControllerRevision>> = HashMap::new();
        for revision in &revisions {
            let namespace = namespace_of(&revision.metadata);
            revisions_by_namespace.entry(namespace).or_default().push(revision);
        }
        let mut expected: Vec<Expect<Kind>> = Vec::new();
        for key in pass.keys {
            let ds = by_key[&key];
            let span = tracing::debug_span!("sync daemonset", object.ref = %key);
            let mut sync = Sync {
                client: &client,
                recorder: &recorder,
                ds,
                key: key.clone(),
                namespace: namespace_of(&ds.metadata).to_owned(),
                expected: &mut expected,
                checked_not_deleted: false,
            };
            let revisions = revisions_by_namespace
                .get(namespace_of(&ds.metadata))
                .map(Vec::as_slice)
                .unwrap_or_default();
            let result = sync
                .run(&observed, revisions, &mut failed_pods, &mut warned)
                .instrument(span)
                .await;
            work.done(key, result);
        }
        drop(observed);
        // The next pass must see what was written, or it would create the same pods again.
        work.caught_up(|| {
            expected.iter().all(|e| match e.kind {
                Kind::Pod => e.shown_by(&caches.pods),
                Kind::Set => e.shown_by(&caches.sets),
                Kind::Revision => e.shown_by(&caches.revisions),
            })
        })
        .await;
        work.wait().await;
    }
}

/// Which version of a set a `SelectingAll` warning is about: it is given once per generation
/// (upstream gives it at every sync of the set; this loop syncs every set on any change).
fn selecting_all_key(ds: &DaemonSet) -> String {
    let uid = ds.metadata.uid.as_deref().unwrap_or_default();
    format!("{uid}/{}", ds.metadata.generation.unwrap_or(0))
}

fn key_of(ds: &DaemonSet) -> String {
    format!("{}/{}", namespace_of(&ds.metadata), name_of(&ds.metadata))
}

/// One set's sync and what it needs to write.
struct Sync<'s> {
    client: &'s kube::Client,
    recorder: &'s Recorder,
    ds: &'s DaemonSet,
    key: String,
    namespace: String,
    expected: &'s mut Vec<Expect<Kind>>,
    /// `RecheckDeletionTimestamp` done this sync.
    checked_not_deleted: bool,
}

impl Sync<'_> {
    /// `syncDaemonSet`. Returns when the set must be synced again (a pod becoming available,
    /// a failed pod's backoff ending).
    async fn run(
        &mut self,
        observed: &Observed<'_>,
        revisions: &[&ControllerRevision],
        failed_pods: &mut FailedPodBackoff,
        warned: &mut HashSet<String>,
    ) -> Result<Option<Instant>, Error> {
        let ds = self.ds;
        let selector = ds.spec.as_ref().map(|s| &s.selector);
        if selector.is_none_or(|s| {
            s.match_labels.as_ref().is_none_or(BTreeMap::is_empty)
                && s.match_expressions.as_ref().is_none_or(Vec::is_empty)
        }) {
            if warned.insert(selecting_all_key(ds)) {
                self.recorder.record(
                    &reference_to(ds),
                    EventType::Warning,
                    "SelectingAll",
                    "This daemon set is selecting all pods. A non-empty selector is required."
                        .to_owned(),
                );
            }
            return Ok(None);
        }
        // Its revisions may be going (garbage collection) or orphaned: neither the pods nor
        // the status of a set being deleted can be worked out reliably.
        if ds.metadata.deletion_timestamp.is_some() {
            return Ok(None);
        }

        let history = history::plan(ds, revisions);
        let hash = self.construct_history(&history, observed).await?;

        let now = Now { wall: Timestamp::now(), instant: Instant::now() };
        let plan = plan::plan(ds, observed, &hash, now, failed_pods);
        if !self.claim_pods(&plan.claims).await? {
            // An orphan went away while being adopted: plan again from the caches.
            return Ok(None);
        }
        let mut failure = self.sync_nodes(&plan.writes, &hash, failed_pods).await.err();
        if failure.is_none()
            && let Some(message) = plan.error.clone()
        {
            failure = Some(Error::Rollout { key: self.key.clone(), message });
        }
        if failure.is_none() {
            let doomed = history::to_clean_up(ds, &history.old, &plan.claims.claimed);
            failure = self.delete_revisions(&doomed).await.err();
        }
        if let Some(status) = plan.status.status.clone()
            && let Err(error) = self.write_status(status).await
        {
            // The first failure is the one returned, as upstream does.
            failure.get_or_insert(error);
        }
        if let Some(error) = failure {
            return Err(error);
        }
        let available_at = plan.status.recheck.map(crate::cache::workloop::just_after);
        let backoff_ends = plan.writes.retry_in.map(|wait| Instant::now() + wait);
        Ok(available_at.into_iter().chain(backoff_ends).min())
    }

    fn pods(&self) -> Api<Pod> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    fn revisions(&self) -> Api<ControllerRevision> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    fn sets(&self) -> Api<DaemonSet> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    /// `RecheckDeletionTimestamp`: an uncached read before the first adoption of a sync.
    async fn check_not_deleted(&mut self) -> Result<(), Error> {
        if self.checked_not_deleted {
            return Ok(());
        }
        let fresh = self.sets().get(name_of(&self.ds.metadata)).await.map_err(|source| {
            Error::Set { action: "read", key: self.key.clone(), source: Box::new(source) }
        })?;
        if fresh.metadata.uid != self.ds.metadata.uid || fresh.metadata.deletion_timestamp.is_some()
        {
            return Err(Error::Gone { key: self.key.clone() });
        }
        self.checked_not_deleted = true;
        Ok(())
    }

    /// `constructHistory`: the claims, labels and current revision written; returns the
    /// current revision's hash.
    async fn construct_history(
        &mut self,
        history: &history::History<'_>,
        observed: &Observed<'_>,
    ) -> Result<String, Error> {
        let revisions = self.revisions();
        let pp = PatchParams::default();
        if !history.adopt.is_empty() {
            self.check_not_deleted().await?;
        }
        let reference = new_controller_ref(self.ds);
        for revision in &history.adopt {
            // `ownerRefControllerPatch`: the uid makes it a precondition.
            let patch = json!({
                "metadata": { "ownerReferences": [reference], "uid": revision.uid }
            });
            tracing::info!(revision = %revision.name, "adopting controllerrevision");
            let result = revisions.patch(&revision.name, &pp, &Patch::Strategic(&patch)).await;
            self.revision_written(revision, "adopt", result, &[404])?;
        }
        let uid = self.ds.metadata.uid.clone().unwrap_or_default();
        for revision in &history.release {
            // `deleteOwnerRefStrategicMergePatch`.
            let patch = json!({
                "metadata": { "ownerReferences": [{ "$patch": "delete", "uid": uid }],
                              "uid": revision.uid }
            });
            tracing::info!(revision = %revision.name, "releasing controllerrevision");
            let result = revisions.patch(&revision.name, &pp, &Patch::Strategic(&patch)).await;
            self.revision_written(revision, "release", result, &[404, 422])?;
        }
        for name in &history.label {
            let patch = json!({ "metadata": { "labels": { plan::REVISION_HASH_LABEL: name } } });
            let result = revisions.patch(name, &pp, &Patch::Merge(&patch)).await;
            let revision = RevisionRef { name: name.clone(), uid: String::new() };
            self.revision_written(&revision, "label", result, &[404])?;
        }
        match &history.current {
            Current::Create(revision) => self.snapshot(revision).await,
            Current::Existing { name, hash, bump_to, duplicates } => {
                if !duplicates.is_empty() {
                    self.dedup(hash, duplicates, observed).await?;
                }
                if let Some(number) = bump_to {
                    let patch = json!({ "revision": number });
                    let result = revisions.patch(name, &pp, &Patch::Merge(&patch)).await;
                    let revision = RevisionRef { name: name.clone(), uid: String::new() };
                    self.revision_written(&revision, "update", result, &[])?;
                }
                Ok(hash.clone())
            }
        }
    }

    /// Records a revision write as expected; `ignore` lists the error codes that mean there
    /// is nothing left to do.
    fn revision_written(
        &mut self,
        revision: &RevisionRef,
        action: &'static str,
        result: Result<ControllerRevision, kube::Error>,
        ignore: &[u16],
    ) -> Result<(), Error> {
        let error = match result {
            Ok(written) => {
                self.expected.push(Expect::present(
                    Kind::Revision,
                    self.namespace.clone(),
                    revision.name.clone(),
                    cache::revision_of(&written.metadata),
                ));
                return Ok(());
            }
            Err(error) => error,
        };
        if status_code(&error).is_some_and(|c| ignore.contains(&c)) {
            return Ok(());
        }
        Err(Error::Revision {
            action,
            namespace: self.namespace.clone(),
            name: revision.name.clone(),
            source: Box::new(error),
        })
    }

    /// `snapshot`: creates the current revision; on a name taken by another template, raises
    /// the collision count (the next sync hashes differently).
    async fn snapshot(&mut self, revision: &ControllerRevision) -> Result<String, Error> {
        let revisions = self.revisions();
        let name = name_of(&revision.metadata).to_owned();
        let error = |action, source: kube::Error| Error::Revision {
            action,
            namespace: self.namespace.clone(),
            name: name.clone(),
            source: Box::new(source),
        };
        match revisions.create(&PostParams::default(), revision).await {
            Ok(written) => {
                self.expected.push(Expect::present(
                    Kind::Revision,
                    self.namespace.clone(),
                    name.clone(),
                    cache::revision_of(&written.metadata),
                ));
                return Ok(history::hash_of(&written));
            }
            Err(e) if status_code(&e) == Some(409) => {}
            Err(source) => return Err(error("create", source)),
        }
        let existing = revisions.get(&name).await.map_err(|source| error("read", source))?;
        if history::matches(self.ds, &existing) {
            return Ok(history::hash_of(&existing));
        }
        let sets = self.sets();
        let key = self.key.clone();
        let mut fresh = sets.get(name_of(&self.ds.metadata)).await.map_err(|source| {
            Error::Set { action: "read", key: key.clone(), source: Box::new(source) }
        })?;
        let count = |ds: &DaemonSet| ds.status.as_ref().and_then(|s| s.collision_count);
        if count(&fresh) != count(self.ds) {
            return Err(Error::StaleCollisionCount { key });
        }
        let status = fresh.status.get_or_insert_with(DaemonSetStatus::default);
        status.collision_count = Some(status.collision_count.unwrap_or(0) + 1);
        tracing::info!(collision_count = ?status.collision_count, "hash collision");
        let written = sets
            .replace_status(name_of(&self.ds.metadata), &PostParams::default(), &fresh)
            .await
            .map_err(|source| Error::Set {
                action: "update the status of",
                key: key.clone(),
                source: Box::new(source),
            })?;
        self.expected.push(Expect::at(
            Kind::Set,
            self.namespace.clone(),
            name_of(&self.ds.metadata).to_owned(),
            cache::revision_of(&written.metadata),
        ));
        Err(Error::Collision { key, name })
    }

    /// `dedupCurHistories`: the duplicates' pods relabeled with the kept hash, then the
    /// duplicates deleted.
    async fn dedup(
        &mut self,
        hash: &str,
        duplicates: &[(RevisionRef, String)],
        observed: &Observed<'_>,
    ) -> Result<(), Error> {
        let doomed: HashSet<&str> = duplicates.iter().map(|(_, h)| h.as_str()).collect();
        let claims = plan::claim(self.ds, observed);
        let pods = self.pods();
        for pod in claims.claimed {
            let label = pod.metadata.labels.as_ref().and_then(|l| l.get(plan::REVISION_HASH_LABEL));
            if !label.is_some_and(|l| doomed.contains(l.as_str())) {
                continue;
            }
            let name = name_of(&pod.metadata).to_owned();
            let patch = json!({ "metadata": { "labels": { plan::REVISION_HASH_LABEL: hash } } });
            match pods.patch(&name, &PatchParams::default(), &Patch::Merge(&patch)).await {
                Ok(written) => self.expected.push(Expect::at(
                    Kind::Pod,
                    self.namespace.clone(),
                    name,
                    cache::revision_of(&written.metadata),
                )),
                Err(e) if status_code(&e) == Some(404) => {}
                Err(source) => {
                    return Err(Error::Pod {
                        action: "relabel",
                        namespace: self.namespace.clone(),
                        name,
                        source: Box::new(source),
                    });
                }
            }
        }
        let revisions: Vec<RevisionRef> = duplicates.iter().map(|(r, _)| r.clone()).collect();
        self.delete_revisions(&revisions).await
    }

    async fn delete_revisions(&mut self, doomed: &[RevisionRef]) -> Result<(), Error> {
        let revisions = self.revisions();
        for revision in doomed {
            let params = DeleteParams::default().preconditions(Preconditions {
                uid: Some(revision.uid.clone()),
                resource_version: None,
            });
            tracing::debug!(revision = %revision.name, "deleting controllerrevision");
            match revisions.delete(&revision.name, &params).await {
                Ok(_) => self.expected.push(Expect::deleted(
                    Kind::Revision,
                    self.namespace.clone(),
                    revision.name.clone(),
                    revision.uid.clone(),
                )),
                Err(e) if matches!(status_code(&e), Some(404 | 409)) => {}
                Err(source) => {
                    return Err(Error::Revision {
                        action: "delete",
                        namespace: self.namespace.clone(),
                        name: revision.name.clone(),
                        source: Box::new(source),
                    });
                }
            }
        }
        Ok(())
    }

    /// `ClaimPods`' writes. Returns false when an orphan vanished while being adopted.
    async fn claim_pods(&mut self, claims: &plan::Claims<'_>) -> Result<bool, Error> {
        let pods = self.pods();
        let pp = PatchParams::default();
        let mut vanished = false;
        if !claims.adopt.is_empty() {
            self.check_not_deleted().await?;
        }
        let reference = new_controller_ref(self.ds);
        for pod in &claims.adopt {
            let patch = json!({ "metadata": { "ownerReferences": [reference], "uid": pod.uid } });
            tracing::info!(pod = %pod.name, "adopting pod");
            match pods.patch(&pod.name, &pp, &Patch::Strategic(&patch)).await {
                Ok(written) => self.pod_patched(pod, &written),
                Err(error) if status_code(&error) == Some(404) => vanished = true,
                Err(source) => return Err(self.pod_error("adopt", pod, source)),
            }
        }
        let uid = self.ds.metadata.uid.clone().unwrap_or_default();
        for pod in &claims.release {
            let patch = json!({
                "metadata": { "ownerReferences": [{ "$patch": "delete", "uid": uid }], "uid": pod.uid }
            });
            tracing::info!(pod = %pod.name, "releasing pod");
            match pods.patch(&pod.name, &pp, &Patch::Strategic(&patch)).await {
                Ok(written) => self.pod_patched(pod, &written),
                // Gone, or no longer ours: nothing to release.
                Err(error) if matches!(status_code(&error), Some(404 | 422)) => {}
                Err(source) => return Err(self.pod_error("release", pod, source)),
            }
        }
        Ok(!vanished)
    }

    fn pod_patched(&mut self, pod: &PodRef, written: &Pod) {
        self.expected.push(Expect::at(
            Kind::Pod,
            self.namespace.clone(),
            pod.name.clone(),
            cache::revision_of(&written.metadata),
        ));
    }

    fn pod_error(&self, action: &'static str, pod: &PodRef, source: kube::Error) -> Error {
        Error::Pod {
            action,
            namespace: self.namespace.clone(),
            name: pod.name.clone(),
            source: Box::new(source),
        }
    }

    /// `syncNodes`: creates in slow-start batches (stopping at a batch with a failure), then
    /// deletes, at most [`BURST_REPLICAS`] of each. Returns the first failure.
    async fn sync_nodes(
        &mut self,
        writes: &plan::Writes,
        hash: &str,
        failed_pods: &mut FailedPodBackoff,
    ) -> Result<(), Error> {
        let object = reference_to(self.ds);
        let pods = self.pods();
        let mut failure: Option<Error> = None;
        let creates = &writes.create[..writes.create.len().min(BURST_REPLICAS)];
        if !creates.is_empty() {
            tracing::debug!(nodes = ?creates, "creating daemon pods");
        }
        let pp = PostParams::default();
        let mut pending = creates.iter();
        for size in slow_start_batches(creates.len()) {
            let batch: Vec<&String> = pending.by_ref().take(size).collect();
            let results = futures::future::join_all(batch.iter().map(|node| {
                let pod = plan::pod_for_node(self.ds, hash, node);
                let pods = pods.clone();
                let pp = &pp;
                async move { pods.create(pp, &pod).await }
            }))
            .await;
            let mut failed = false;
            for (node, result) in batch.into_iter().zip(results) {
                match result {
                    Ok(pod) => {
                        let name = name_of(&pod.metadata).to_owned();
                        self.recorder.record(
                            &object,
                            EventType::Normal,
                            "SuccessfulCreate",
                            format!("Created pod: {name}"),
                        );
                        self.expected.push(Expect::created(
                            Kind::Pod,
                            self.namespace.clone(),
                            name,
                        ));
                    }
                    // The namespace is going away: no create can succeed, nor is needed.
                    Err(error) if namespace_terminating(&error) => {}
                    Err(source) => {
                        failed = true;
                        let message = format!("Error creating: {}", api_message(&source));
                        self.recorder.record(&object, EventType::Warning, "FailedCreate", message);
                        tracing::debug!(node = %node, "daemon pod create failed");
                        failure.get_or_insert(Error::Pod {
                            action: "create",
                            namespace: self.namespace.clone(),
                            name: format!("{}- (for node {node})", name_of(&self.ds.metadata)),
                            source: Box::new(source),
                        });
                    }
                }
            }
            if failed {
                break;
            }
        }

        let deletes = &writes.delete[..writes.delete.len().min(BURST_REPLICAS)];
        for delete in deletes {
            match &delete.notice {
                Some(Notice::Failed { message, backoff_key }) => {
                    failed_pods.next(backoff_key.clone(), Instant::now());
                    self.recorder.record(
                        &object,
                        EventType::Warning,
                        "FailedDaemonPod",
                        message.clone(),
                    );
                }
                Some(Notice::Succeeded { message }) => {
                    self.recorder.record(
                        &object,
                        EventType::Normal,
                        "SucceededDaemonPod",
                        message.clone(),
                    );
                }
                None => {}
            }
        }
        let results = futures::future::join_all(deletes.iter().map(|delete| {
            let params = DeleteParams::default().preconditions(Preconditions {
                uid: Some(delete.pod.uid.clone()),
                resource_version: None,
            });
            let pods = pods.clone();
            async move { pods.delete(&delete.pod.name, &params).await }
        }))
        .await;
        for (delete, result) in deletes.iter().zip(results) {
            let pod = &delete.pod;
            match result {
                Ok(_) => {
                    self.recorder.record(
                        &object,
                        EventType::Normal,
                        "SuccessfulDelete",
                        format!("Deleted pod: {}", pod.name),
                    );
                    self.expected.push(Expect::deleted(
                        Kind::Pod,
                        self.namespace.clone(),
                        pod.name.clone(),
                        pod.uid.clone(),
                    ));
                }
                // Gone already, or replaced by another pod of the same name.
                Err(error) if matches!(status_code(&error), Some(404 | 409)) => {}
                Err(source) => {
                    let message = format!("Error deleting: {}", api_message(&source));
                    self.recorder.record(&object, EventType::Warning, "FailedDelete", message);
                    failure.get_or_insert(self.pod_error("delete", pod, source));
                }
            }
        }
        match failure {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    /// `storeDaemonSetStatus`: PUT `…/status`, once more on a fresh copy after a conflict.
    async fn write_status(&mut self, status: DaemonSetStatus) -> Result<(), Error> {
        let name = name_of(&self.ds.metadata).to_owned();
        let api = self.sets();
        let mut current = self.ds.clone();
        for attempt in 0..2 {
            current.status = Some(DaemonSetStatus {
                // A collision count raised meanwhile stays.
                collision_count: current.status.as_ref().and_then(|s| s.collision_count),
                conditions: current.status.as_ref().and_then(|s| s.conditions.clone()),
                ..status.clone()
            });
            match api.replace_status(&name, &PostParams::default(), &current).await {
                Ok(written) => {
                    self.expected.push(Expect::at(
                        Kind::Set,
                        self.namespace.clone(),
                        name,
                        cache::revision_of(&written.metadata),
                    ));
                    return Ok(());
                }
                Err(error) if status_code(&error) == Some(404) => return Ok(()),
                Err(error) if status_code(&error) == Some(409) && attempt == 0 => {
                    current = match api.get(&name).await {
                        Ok(fresh) => fresh,
                        Err(error) if status_code(&error) == Some(404) => return Ok(()),
                        Err(source) => {
                            return Err(Error::Set {
                                action: "read",
                                key: self.key.clone(),
                                source: Box::new(source),
                            });
                        }
                    };
                }
                Err(source) => {
                    return Err(Error::Set {
                        action: "update the status of",
                        key: self.key.clone(),
                        source: Box::new(source),
                    });
                }
            }
        }
        Ok(())
    }
}
