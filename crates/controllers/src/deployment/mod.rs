//! The Deployment controller (kube-controller-manager's `deployment-controller`, v1.33:
//! pkg/controller/deployment/): each Deployment's ReplicaSets — the new one of its current
//! template created, scaled up and the old ones down by its strategy, old ones beyond
//! `revisionHistoryLimit` deleted — and its status with the `Progressing` and `Available`
//! conditions `kubectl rollout status` reads. The ReplicaSet controller makes the pods.
//!
//! Shape: one loop over the shared caches of Deployments, ReplicaSets and pods
//! ([`crate::informer`]). A pass syncs every Deployment: it claims the ReplicaSets of its
//! namespace as upstream's `ControllerRefManager` does (adopting orphans its selector
//! matches, releasing owned ones it no longer matches, by merge patches carrying the
//! resourceVersion), plans the sync purely ([`plan::plan`]) and applies the plan in order,
//! stopping at the first failure: ReplicaSets are created, patched (replicas and
//! annotations; never replaced whole, so a cache that holds sets without their template
//! cannot clear it) or deleted, the deployment's revision annotation is written through
//! `PUT …/status` (as upstream's `UpdateStatus`) and so is its status, only when it changed. A pass then waits until the caches
//! show what it wrote (`cache::caught_up`), so the next pass never plans without its own
//! writes, and sleeps until any of the three caches changes, a progress deadline is due
//! (tokio time), a failed deployment's backoff ends, or [`cache::RESYNC`].
//!
//! Differences from upstream:
//! - The deployment's `deployment.kubernetes.io/revision` annotation is its own status write;
//!   upstream often sends it in the same `UpdateStatus` as the status it computes.
//! - One loop re-plans every deployment on any change instead of a work queue of keys: a pass
//!   with nothing to do writes nothing, but costs a plan per deployment.
//! - Events: `ScalingReplicaSet` and `ReplicaSetCreateError` as upstream; the rest (the
//!   `SelectingAll` warning, rollback events) are not recorded.
//! - The pod-template-hash differs from a real cluster's (see [`plan`]).

pub(crate) mod plan;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::ObjectReference;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use kube::runtime::reflector::ObjectRef;
use serde_json::json;
use tokio::sync::Notify;
use tokio::time::Instant;
use tracing::Instrument;

use crate::cache;
use crate::cached_pod::CachedPod;
use crate::informer::{Cached, Store};
use crate::meta::{
    api_message, controller_of, error_chain, name_of, namespace_of, selects, status_code,
};
use crate::{Context, EventType, Recorder};
use plan::{Observed, Write};

/// `source.component` of the events.
const COMPONENT: &str = "deployment-controller";

impl Cached for Deployment {
    /// Everything but managedFields: the controller reads the whole template.
    fn prune(&mut self) {
        self.metadata.managed_fields = None;
    }
}

/// Why one sync of a deployment failed; it is synced again after a backoff.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    #[error("cannot {action} {kind} {namespace}/{name}")]
    Api {
        action: &'static str,
        kind: &'static str,
        namespace: String,
        name: String,
        #[source]
        source: Box<kube::Error>,
    },
    #[error("deployment {namespace}/{name} cannot be planned")]
    Plan {
        namespace: String,
        name: String,
        #[source]
        source: plan::PlanError,
    },
    #[error("original deployment {namespace}/{name} is gone or being deleted")]
    Gone { namespace: String, name: String },
}

/// A write the caches must show before the next pass: kind, namespace, name, and the revision
/// written (`None`: deleted).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Written {
    ReplicaSet(String, String, Option<u64>),
    Deployment(String, String, u64),
}

/// The Deployment controller: never returns.
pub(crate) async fn run(cx: Context) {
    let wake = Arc::new(Notify::new());
    let deployments = cache::cache::<Deployment>(&cx.informers, &wake);
    let replica_sets = cache::cache::<ReplicaSet>(&cx.informers, &wake);
    let pods = cache::cache::<CachedPod>(&cx.informers, &wake);
    deployments.wait_until_ready().await;
    replica_sets.wait_until_ready().await;
    pods.wait_until_ready().await;
    // Woken by the kinds this loop writes: has the cache caught up with our writes.
    let changed = Arc::new(Notify::new());
    deployments.wake(&changed);
    replica_sets.wake(&changed);
    let executor = Executor {
        client: cx.client.clone(),
        recorder: Recorder::new(cx.client.clone(), COMPONENT, None),
    };
    let mut backoff = cache::Backoff::new(Duration::from_secs(10));
    loop {
        let mut next = Instant::now() + cache::RESYNC;
        let mut all = deployments.state();
        all.sort_by_key(|d| key_of(d));
        backoff.retain(|key: &(String, String)| all.iter().any(|d| key_of(d) == *key));
        // Nothing else is read when there is no deployment.
        let sets = if all.is_empty() { Vec::new() } else { replica_sets.state() };
        let mut sets_by_namespace: HashMap<&str, Vec<&ReplicaSet>> = HashMap::new();
        for rs in &sets {
            sets_by_namespace.entry(namespace_of(&rs.metadata)).or_default().push(rs);
        }
        // Pods matter to Recreate only: most passes do not index them.
        let recreating = all.iter().any(|d| {
            let strategy = d.spec.as_ref().and_then(|s| s.strategy.as_ref());
            strategy.and_then(|s| s.type_.as_deref()) == Some("Recreate")
        });
        let all_pods = if recreating { pods.state() } else { Vec::new() };
        let mut pods_by_owner: HashMap<&str, Vec<&CachedPod>> = HashMap::new();
        for pod in &all_pods {
            if let Some(owner) = controller_of(&pod.metadata) {
                pods_by_owner.entry(owner.uid.as_str()).or_default().push(pod);
            }
        }
        let mut written = Vec::new();
        for deployment in &all {
            let key = key_of(deployment);
            if let Some(due) = backoff.waiting(&key) {
                next = next.min(due);
                continue;
            }
            let in_namespace =
                sets_by_namespace.get(key.0.as_str()).map(Vec::as_slice).unwrap_or_default();
            let span =
                tracing::debug_span!("deployment", object.ref = %format!("{}/{}", key.0, key.1));
            let result = executor
                .sync(deployment, in_namespace, &pods_by_owner, &mut written)
                .instrument(span)
                .await;
            match result {
                Ok(requeue_after) => {
                    backoff.succeeded(&key);
                    if let Some(after) = requeue_after {
                        next = next.min(Instant::now() + after);
                    }
                }
                Err(error) if matches!(&error, Error::Api { source, .. } if status_code(source) == Some(409)) =>
                {
                    // A write raced another (the ReplicaSet controller's status, a user's
                    // edit): the newer object reaches the cache and wakes the loop; a retry
                    // soon covers a wake-up that came before.
                    tracing::debug!(error = %error_chain(&error), "deployment sync conflicted");
                    backoff.succeeded(&key);
                    next = next.min(Instant::now() + cache::RETRY);
                }
                Err(error) => {
                    tracing::warn!(error = %error_chain(&error), "deployment sync failed");
                    next = next.min(backoff.failed(key));
                }
            }
        }
        cache::caught_up(&changed, || written.iter().all(|w| seen(&deployments, &replica_sets, w)))
            .await;
        let _ = tokio::time::timeout_at(next, wake.notified()).await;
    }
}

fn key_of(d: &Deployment) -> (String, String) {
    (namespace_of(&d.metadata).to_owned(), name_of(&d.metadata).to_owned())
}

/// Whether the caches show a write.
fn seen(deployments: &Store<Deployment>, sets: &Store<ReplicaSet>, written: &Written) -> bool {
    match written {
        Written::ReplicaSet(namespace, name, rv) => {
            let cached = sets.get(&ObjectRef::new(name).within(namespace));
            match rv {
                Some(rv) => cached.is_some_and(|rs| cache::revision_of(&rs.metadata) >= *rv),
                None => cached.is_none(),
            }
        }
        Written::Deployment(namespace, name, rv) => deployments
            .get(&ObjectRef::new(name).within(namespace))
            .is_none_or(|d| cache::revision_of(&d.metadata) >= *rv),
    }
}

fn controller_uid(meta: &kube::api::ObjectMeta) -> Option<&str> {
    controller_of(meta).map(|r| r.uid.as_str())
}

/// Applies the syncs through the API.
struct Executor {
    client: kube::Client,
    recorder: Recorder,
}

/// The state of one deployment's sync as its writes go.
struct Pass<'a> {
    namespace: String,
    name: String,
    /// The deployment as last written (or observed).
    current: Deployment,
    /// The resourceVersion each set got from this pass's writes.
    latest: HashMap<String, String>,
    written: &'a mut Vec<Written>,
}

impl Executor {
    /// One deployment's sync: claim its sets, plan, apply. Returns when to sync it again.
    async fn sync(
        &self,
        deployment: &Arc<Deployment>,
        in_namespace: &[&ReplicaSet],
        pods_by_owner: &HashMap<&str, Vec<&CachedPod>>,
        written: &mut Vec<Written>,
    ) -> Result<Option<Duration>, Error> {
        let (namespace, name) = key_of(deployment);
        let mut pass = Pass {
            namespace: namespace.clone(),
            name: name.clone(),
            current: (**deployment).clone(),
            latest: HashMap::new(),
            written,
        };
        let owned = self.claim(deployment, in_namespace, &mut pass).await?;
        let mut pods = Vec::new();
        for rs in &owned {
            if let Some(uid) = rs.metadata.uid.as_deref()
                && let Some(found) = pods_by_owner.get(uid)
            {
                pods.extend(found.iter().copied());
            }
        }
        let observed = Observed {
            deployment,
            replica_sets: owned,
            pods,
            now: k8s_openapi::jiff::Timestamp::now(),
        };
        let plan = plan::plan(&observed).map_err(|source| Error::Plan {
            namespace: namespace.clone(),
            name: name.clone(),
            source,
        })?;
        tracing::trace!(?plan, "plan");
        for write in plan.writes {
            if !self.apply(write, &mut pass).await? {
                break;
            }
        }
        Ok(plan.requeue_after)
    }

    /// `getReplicaSetsForDeployment` (`ClaimReplicaSets`): the sets the deployment controls,
    /// after adopting the orphans its selector matches and releasing the owned ones it does not.
    async fn claim<'a>(
        &self,
        d: &Deployment,
        in_namespace: &[&'a ReplicaSet],
        pass: &mut Pass<'_>,
    ) -> Result<Vec<&'a ReplicaSet>, Error> {
        let uid = d.metadata.uid.as_deref().unwrap_or_default();
        let selector = d.spec.as_ref().map(|s| &s.selector);
        let deleting = d.metadata.deletion_timestamp.is_some();
        let matches =
            |rs: &ReplicaSet| selector.is_some() && selects(selector, rs.metadata.labels.as_ref());
        let mut owned = Vec::new();
        let mut rechecked = false;
        for rs in in_namespace.iter().copied() {
            let rs_name = name_of(&rs.metadata).to_owned();
            match controller_uid(&rs.metadata) {
                Some(owner) if owner != uid => {}
                Some(_) if matches(rs) => owned.push(rs),
                Some(_) if deleting => {}
                Some(_) => {
                    let references: Vec<_> = rs
                        .metadata
                        .owner_references
                        .iter()
                        .flatten()
                        .filter(|r| r.uid != uid)
                        .cloned()
                        .collect();
                    let references =
                        if references.is_empty() { json!(null) } else { json!(references) };
                    tracing::info!(replicaset = %rs_name, "releasing replicaset");
                    self.patch_references(rs, references, pass).await?;
                }
                None if deleting || !matches(rs) || rs.metadata.deletion_timestamp.is_some() => {}
                None => {
                    if !rechecked {
                        self.recheck(d).await?;
                        rechecked = true;
                    }
                    let mut references = rs.metadata.owner_references.clone().unwrap_or_default();
                    references.push(plan::controller_ref(d));
                    tracing::info!(replicaset = %rs_name, "adopting replicaset");
                    if self.patch_references(rs, json!(references), pass).await? {
                        owned.push(rs);
                    }
                }
            }
        }
        Ok(owned)
    }

    /// `RecheckDeletionTimestamp`: adoption only by a deployment that is there, not deleting.
    async fn recheck(&self, d: &Deployment) -> Result<(), Error> {
        let (namespace, name) = key_of(d);
        let api: Api<Deployment> = Api::namespaced(self.client.clone(), &namespace);
        let fresh = api.get_opt(&name).await.map_err(|source| Error::Api {
            action: "get",
            kind: "deployment",
            namespace: namespace.clone(),
            name: name.clone(),
            source: Box::new(source),
        })?;
        match fresh {
            Some(fresh)
                if fresh.metadata.uid == d.metadata.uid
                    && fresh.metadata.deletion_timestamp.is_none() =>
            {
                Ok(())
            }
            _ => Err(Error::Gone { namespace, name }),
        }
    }

    /// Sets a set's owner references (adoption or release); false when it is gone.
    async fn patch_references(
        &self,
        rs: &ReplicaSet,
        references: serde_json::Value,
        pass: &mut Pass<'_>,
    ) -> Result<bool, Error> {
        let name = name_of(&rs.metadata).to_owned();
        let patch = json!({ "metadata": {
            "ownerReferences": references,
            "uid": rs.metadata.uid,
            "resourceVersion": rs.metadata.resource_version,
        }});
        let api: Api<ReplicaSet> = Api::namespaced(self.client.clone(), &pass.namespace);
        match api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch)).await {
            Ok(patched) => {
                pass.set_written(&patched);
                Ok(true)
            }
            Err(error) if status_code(&error) == Some(404) => Ok(false),
            Err(source) => Err(pass.error("patch", "replicaset", &name, source)),
        }
    }

    fn event(&self, pass: &Pass<'_>, event_type: EventType, reason: &str, message: String) {
        let reference: ObjectReference = crate::meta::reference_to(&pass.current);
        self.recorder.record(&reference, event_type, reason, message);
    }

    /// Applies one write; false when the sync must stop here (without an error).
    async fn apply(&self, write: Write, pass: &mut Pass<'_>) -> Result<bool, Error> {
        let sets: Api<ReplicaSet> = Api::namespaced(self.client.clone(), &pass.namespace);
        let deployments: Api<Deployment> = Api::namespaced(self.client.clone(), &pass.namespace);
        let pp = PostParams::default();
        match write {
            Write::Create(rs) => {
                let rs_name = name_of(&rs.metadata).to_owned();
                let replicas = rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0);
                match sets.create(&pp, &rs).await {
                    Ok(created) => {
                        tracing::info!(replicaset = %rs_name, replicas, "created new replicaset");
                        pass.set_written(&created);
                        if replicas > 0 {
                            let message =
                                format!("Scaled up replica set {rs_name} from 0 to {replicas}");
                            self.event(pass, EventType::Normal, "ScalingReplicaSet", message);
                        }
                        Ok(true)
                    }
                    Err(error) if status_code(&error) == Some(409) => {
                        self.already_exists(&rs_name, pass).await
                    }
                    Err(source) => {
                        self.failed_create(&rs_name, &source, pass).await;
                        Err(pass.error("create", "replicaset", &rs_name, source))
                    }
                }
            }
            Write::Patch { name, resource_version, mut patch, scaled } => {
                let rv = pass.latest.get(&name).cloned().or(resource_version);
                patch["metadata"]["resourceVersion"] = json!(rv);
                match sets.patch(&name, &PatchParams::default(), &Patch::Merge(&patch)).await {
                    Ok(patched) => {
                        pass.set_written(&patched);
                        if let Some((from, to)) = scaled {
                            let direction = if to > from { "up" } else { "down" };
                            let message = format!(
                                "Scaled {direction} replica set {name} from {from} to {to}"
                            );
                            self.event(pass, EventType::Normal, "ScalingReplicaSet", message);
                        }
                        Ok(true)
                    }
                    Err(source) => Err(pass.error("patch", "replicaset", &name, source)),
                }
            }
            Write::Delete { name, uid } => {
                let params = DeleteParams::default()
                    .preconditions(Preconditions { uid: Some(uid), resource_version: None });
                match sets.delete(&name, &params).await {
                    Ok(_) => {
                        tracing::info!(replicaset = %name, "deleted old replicaset");
                        pass.written.push(Written::ReplicaSet(pass.namespace.clone(), name, None));
                        Ok(true)
                    }
                    Err(error) if status_code(&error) == Some(404) => Ok(true),
                    Err(source) => Err(pass.error("delete", "replicaset", &name, source)),
                }
            }
            Write::Revision(revision) => {
                let mut updated = pass.current.clone();
                updated
                    .metadata
                    .annotations
                    .get_or_insert_default()
                    .insert(plan::REVISION.to_owned(), revision);
                // Through the status subresource, as upstream's `UpdateStatus`: its strategy
                // keeps annotation changes and bumps no generation.
                match deployments.replace_status(&pass.name, &pp, &updated).await {
                    Ok(written) => {
                        pass.set_deployment(written);
                        Ok(true)
                    }
                    Err(error) if status_code(&error) == Some(404) => Ok(false),
                    Err(source) => Err(pass.error(
                        "update status of",
                        "deployment",
                        &pass.name.clone(),
                        source,
                    )),
                }
            }
            Write::Status(status) => self.write_status(*status, pass).await,
        }
    }

    /// A create the API refused (other than in a terminating namespace): the
    /// `ReplicaSetCreateError` event and, with a progress deadline, `Progressing` False.
    async fn failed_create(&self, rs_name: &str, source: &kube::Error, pass: &mut Pass<'_>) {
        let terminating = matches!(source, kube::Error::Api(status)
            if status.details.as_ref().is_some_and(|d| d.causes.iter().any(|c| c.reason == "NamespaceTerminating"))
                || status.message.contains("because it is being terminated"));
        if terminating {
            return;
        }
        let message =
            format!("Failed to create new replica set {rs_name:?}: {}", api_message(source));
        self.event(pass, EventType::Warning, plan::FAILED_RS_CREATE, message.clone());
        let now = k8s_openapi::jiff::Timestamp::now();
        if let Some(status) = plan::failed_create_status(&pass.current, message, now)
            && let Err(error) = self.write_status(status, pass).await
        {
            tracing::debug!(error = %error_chain(&error), "status write after a failed create");
        }
    }

    /// `PUT …/status` on the deployment as last written.
    async fn write_status(
        &self,
        status: k8s_openapi::api::apps::v1::DeploymentStatus,
        pass: &mut Pass<'_>,
    ) -> Result<bool, Error> {
        let api: Api<Deployment> = Api::namespaced(self.client.clone(), &pass.namespace);
        let mut updated = pass.current.clone();
        updated.status = Some(status);
        match api.replace_status(&pass.name, &PostParams::default(), &updated).await {
            Ok(written) => {
                pass.set_deployment(written);
                Ok(true)
            }
            Err(error) if status_code(&error) == Some(404) => Ok(false),
            Err(source) => {
                Err(pass.error("update status of", "deployment", &pass.name.clone(), source))
            }
        }
    }

    /// The create found the name taken: the set is ours (a create whose answer was lost, or a
    /// cache behind), or a hash collision, which bumps `collisionCount` and ends the sync.
    async fn already_exists(&self, rs_name: &str, pass: &mut Pass<'_>) -> Result<bool, Error> {
        let api: Api<ReplicaSet> = Api::namespaced(self.client.clone(), &pass.namespace);
        let existing = api
            .get_opt(rs_name)
            .await
            .map_err(|source| pass.error("get", "replicaset", rs_name, source))?;
        let Some(existing) = existing else { return Ok(false) };
        let ours = controller_uid(&existing.metadata) == pass.current.metadata.uid.as_deref();
        let template = pass.current.spec.as_ref().map(|s| &s.template);
        let same = match (existing.spec.as_ref().and_then(|s| s.template.as_ref()), template) {
            (Some(a), Some(b)) => plan::equal_ignore_hash(a, b),
            _ => false,
        };
        if ours && same {
            pass.set_written(&existing);
            return Ok(true);
        }
        let mut status = pass.current.status.clone().unwrap_or_default();
        let count = status.collision_count.unwrap_or(0).saturating_add(1);
        status.collision_count = Some(count);
        tracing::info!(replicaset = %rs_name, collision_count = count, "hash collision; bumping collisionCount");
        self.write_status(status, pass).await?;
        Ok(false)
    }
}

impl Pass<'_> {
    fn set_written(&mut self, rs: &ReplicaSet) {
        let name = name_of(&rs.metadata).to_owned();
        if let Some(rv) = rs.metadata.resource_version.clone() {
            self.latest.insert(name.clone(), rv);
        }
        let rv = cache::revision_of(&rs.metadata);
        self.written.push(Written::ReplicaSet(self.namespace.clone(), name, Some(rv)));
    }

    fn set_deployment(&mut self, d: Deployment) {
        let rv = cache::revision_of(&d.metadata);
        self.written.push(Written::Deployment(self.namespace.clone(), self.name.clone(), rv));
        self.current = d;
    }

    fn error(
        &self,
        action: &'static str,
        kind: &'static str,
        name: &str,
        source: kube::Error,
    ) -> Error {
        Error::Api {
            action,
            kind,
            namespace: self.namespace.clone(),
            name: name.to_owned(),
            source: Box::new(source),
        }
    }
}
