//! The pod worker: one task per pod, the only one that acts on it (kubelet's `podWorkers`). It
//! is fed the latest version of its pod through a watch channel (`None` once the pod is gone
//! from the API), and each step observes the runtime, plans with `status::plan`, applies the
//! plan, and writes the pod status (through `pods/status`, only when it changed). A deletion
//! stops the containers within the grace period, writes the final status and deletes the pod
//! with `gracePeriodSeconds: 0` and a uid precondition.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Pod, PodStatus, Secret};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, Patch, PatchParams, Preconditions};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::Context;
use crate::events::{EventType, container_path};
use crate::runtime::{ContainerConfig, ContainerState, RuntimeError, SandboxConfig, SandboxStatus};
use crate::status::{self, Action, Moment, Observed, PullFailure, Settings};
use crate::volumes;

/// What a step of the worker can fail with; the step is retried a second later.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WorkerError {
    #[error("runtime")]
    Runtime(#[from] RuntimeError),
    #[error("{action} pod {pod}")]
    Api {
        action: &'static str,
        pod: String,
        #[source]
        source: kube::Error,
    },
    /// Cannot happen (the worker decodes what it encoded), but is not worth a panic.
    #[error("decoding the worker's copy of its pod")]
    Decode { source: serde_json::Error },
}

/// Where the pod is in its life, as this worker drives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Starting and keeping its containers as the spec and restart policy say.
    Syncing,
    /// Stopped and deleted from the API; waiting for the watch to confirm it is gone.
    Terminated,
}

/// One pod's worker.
pub(crate) struct Worker {
    context: Arc<Context>,
    settings: Settings,
    uid: String,
    pods: watch::Receiver<Option<KeptPod>>,
    state: State,
    sandbox: Option<SandboxStatus>,
    pull_failures: BTreeMap<String, PullFailure>,
    /// The pull secrets last reported missing (reported again only when the set changes).
    missing_pull_secrets: Vec<String>,
    volume_error: Option<String>,
    /// The newest version of the pod known: from the watch, or from our own status write.
    latest: Option<KeptPod>,
    /// What the last step ran on: a change that only echoes our own status write does not
    /// sync again before the step's wake time (kubelet's RECONCILE, not UPDATE).
    synced: Option<Synced>,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("uid", &self.uid)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

/// The resourceVersion as a number, to tell which of two copies is newer.
fn revision(pod: &Pod) -> u64 {
    pod.metadata.resource_version.as_deref().and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// A worker's copy of its pod while it waits: the pod without managedFields as compact JSON,
/// with what every wake-up reads of it (which copy is newer, whether the change needs a step)
/// at hand. A step decodes it. Kept as a `Pod`, a pod on the node took about four times the
/// memory: a `Pod` is 2 KB inline, and each container, volume and condition in it is a struct
/// with room for every field Kubernetes has, however few are set (docs/benchmarks.md, control
/// plane (d)).
#[derive(Clone, Debug)]
pub(crate) struct KeptPod {
    /// The resourceVersion as a number, to tell which of two copies is newer.
    revision: u64,
    synced: Synced,
    /// `namespace/name`, for logs.
    name: Arc<str>,
    json: Arc<[u8]>,
}

impl KeptPod {
    pub(crate) fn new(mut pod: Pod) -> Result<KeptPod, serde_json::Error> {
        pod.metadata.managed_fields = None;
        let revision = revision(&pod);
        let synced = Synced::of(&pod);
        let meta = &pod.metadata;
        let name = format!(
            "{}/{}",
            meta.namespace.as_deref().unwrap_or_default(),
            meta.name.as_deref().unwrap_or_default()
        )
        .into();
        let json = serde_json::to_vec(&pod)?.into();
        Ok(KeptPod { revision, synced, name, json })
    }

    /// The pod again (what [`KeptPod::new`] encoded decodes).
    fn pod(&self) -> Result<Pod, WorkerError> {
        serde_json::from_slice(&self.json).map_err(|source| WorkerError::Decode { source })
    }
}

/// What of the version of the pod a step ran on the next change is compared with: a digest of
/// the spec, labels and annotations, the deletion, the phase. (Not the pod itself: a worker
/// would hold two versions of its pod, the newest and the one it last ran on.)
#[derive(Debug, Clone, PartialEq, Eq)]
struct Synced {
    digest: u64,
    deletion: Option<Timestamp>,
    phase: Option<String>,
}

impl Synced {
    fn of(pod: &Pod) -> Synced {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        // Serializing these types cannot fail (string keys, no non-finite floats); an error
        // would hash as empty, i.e. at worst one needless sync.
        let shown = (&pod.spec, &pod.metadata.labels, &pod.metadata.annotations);
        serde_json::to_vec(&shown).unwrap_or_default().hash(&mut hasher);
        Synced {
            digest: hasher.finish(),
            deletion: pod.metadata.deletion_timestamp.as_ref().map(|t| t.0),
            phase: pod.status.as_ref().and_then(|s| s.phase.clone()),
        }
    }
}

/// Whether `new` asks for more than the step that ran on `old` did: a changed spec, labels,
/// annotations, deletion, or a phase that just became terminal (the sandbox goes down). A
/// status-only change (our own write coming back through the watch) does not, so what that
/// write showed — ErrImagePull, say — stays until the next step.
fn needs_sync(old: &Synced, new: &Synced) -> bool {
    old.digest != new.digest
        || old.deletion != new.deletion
        || (old.phase != new.phase && status::is_terminal_phase(new.phase.as_deref()))
}

/// A tokio instant for a wall-clock time.
fn instant_at(at: Timestamp) -> Instant {
    let delta = at.duration_since(Timestamp::now());
    Instant::now() + Duration::try_from(delta).unwrap_or(Duration::ZERO)
}

impl Worker {
    pub(crate) fn new(
        context: Arc<Context>,
        uid: String,
        pods: watch::Receiver<Option<KeptPod>>,
    ) -> Worker {
        let settings = context.settings();
        Worker {
            context,
            settings,
            uid,
            pods,
            state: State::Syncing,
            sandbox: None,
            pull_failures: BTreeMap::new(),
            missing_pull_secrets: Vec::new(),
            volume_error: None,
            latest: None,
            synced: None,
        }
    }

    /// Drives the pod until it is gone from the API; returns its uid.
    ///
    /// The adoption, each step and the removal are boxed: a task's future is as large as the
    /// largest state it can wait in, and a step's (runtime and API calls in flight) is several
    /// kilobytes. Unboxed, every idle worker — one per pod on the node — would hold that much
    /// while it sleeps until its next wake-up.
    pub(crate) async fn run(mut self) -> String {
        if let Err(error) = Box::pin(self.adopt()).await {
            tracing::warn!(pod.uid = %self.uid, error = %error, "listing sandboxes to adopt");
        }
        let mut wake = Instant::now();
        loop {
            let woken_by_change = tokio::select! {
                changed = self.pods.changed() => if changed.is_err() {
                    // The kubelet is shutting down: leave the pod running for the next one.
                    return self.uid;
                } else {
                    true
                },
                _ = tokio::time::sleep_until(wake) => false,
            };
            let kept = self.pods.borrow_and_update().clone();
            let Some(kept) = kept else {
                Box::pin(self.remove()).await;
                return self.uid;
            };
            let kept = self.newest(kept);
            let early = woken_by_change && Instant::now() < wake;
            if early && self.synced.as_ref().is_some_and(|old| !needs_sync(old, &kept.synced)) {
                continue;
            }
            self.synced = Some(kept.synced.clone());
            wake = match Box::pin(self.step(&kept)).await {
                Ok(wake) => wake,
                Err(error) => {
                    tracing::warn!(pod = %kept.name, pod.uid = %self.uid, error = %error, source = ?std::error::Error::source(&error), "pod sync failed; retrying");
                    Instant::now() + Duration::from_secs(1)
                }
            };
        }
    }

    /// The newer of `pod` and the copy our last status write returned.
    fn newest(&mut self, pod: KeptPod) -> KeptPod {
        match &self.latest {
            Some(latest) if latest.revision > pod.revision => latest.clone(),
            _ => {
                self.latest = Some(pod.clone());
                pod
            }
        }
    }

    /// The copy our own status write returned during this step, decoded, if it is newer than
    /// `pod` (the version the step runs on); otherwise `pod` is the newest and nothing is
    /// decoded again.
    fn newer_than(&self, pod: &Pod) -> Result<Option<Pod>, WorkerError> {
        match &self.latest {
            Some(latest) if latest.revision > revision(pod) => latest.pod().map(Some),
            _ => Ok(None),
        }
    }

    /// Takes over the pod's sandbox if the runtime still runs it (a restarted kubelet).
    async fn adopt(&mut self) -> Result<(), RuntimeError> {
        let sandboxes = self.context.runtime.list_pod_sandboxes().await?;
        self.sandbox = sandboxes
            .into_iter()
            .filter(|s| s.pod_uid == self.uid)
            .max_by_key(|s| (s.ready, s.attempt, s.created_at));
        if let Some(sandbox) = &self.sandbox {
            tracing::info!(pod.uid = %self.uid, sandbox = %sandbox.id, "adopted running sandbox");
        }
        Ok(())
    }

    /// One step: the time of the next one.
    async fn step(&mut self, kept: &KeptPod) -> Result<Instant, WorkerError> {
        let pod = &kept.pod()?;
        let idle = Instant::now() + Duration::from_secs(3600);
        match self.state {
            State::Terminated => Ok(idle),
            State::Syncing if pod.metadata.deletion_timestamp.is_some() => {
                self.terminate(pod).await?;
                self.state = State::Terminated;
                Ok(idle)
            }
            State::Syncing => {
                let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
                if status::is_terminal_phase(phase) {
                    // A finished pod never runs again; its sandbox goes down (kubelet's
                    // syncTerminatedPod), its record stays until the pod is deleted.
                    if let Some(sandbox) = self.sandbox.as_mut().filter(|s| s.ready) {
                        self.context.runtime.stop_pod_sandbox(&sandbox.id).await?;
                        sandbox.ready = false;
                    }
                    return Ok(idle);
                }
                self.sync(pod).await
            }
        }
    }

    async fn observe(&self) -> Result<Observed, WorkerError> {
        let runtime = &self.context.runtime;
        let mut observed = Observed {
            sandbox: self.sandbox.clone(),
            pull_failures: self.pull_failures.clone(),
            volume_error: self.volume_error.clone(),
            ..Observed::default()
        };
        if let Some(sandbox) = &self.sandbox {
            observed.containers = runtime.list_containers(&sandbox.id).await?;
            for container in &observed.containers {
                if container.state == ContainerState::Running && !container.init {
                    let ready = runtime.probe_readiness(&container.id).await?;
                    observed.readiness.insert(container.id.clone(), ready);
                }
            }
        }
        Ok(observed)
    }

    async fn sync(&mut self, pod: &Pod) -> Result<Instant, WorkerError> {
        for failure in self.pull_failures.values_mut() {
            failure.fresh = false;
        }
        if self.sandbox.is_none() {
            self.volume_error = match volumes::prepare(&self.context.client, pod).await {
                Ok(()) => None,
                Err(error) => {
                    tracing::debug!(pod.uid = %self.uid, error = %error, "volumes not ready");
                    Some(error.to_string())
                }
            };
        }
        let mut observed = self.observe().await?;
        // The pod shows what is about to happen (ContainerCreating) before it happens, when
        // that takes a while.
        if !self.context.config.start_delay.is_zero() || self.sandbox.is_some() {
            self.write_status(pod, &observed, false).await?;
        }
        let spec = pod.spec.clone().unwrap_or_default();
        let mut wake = None;
        let mut secrets_checked = false;
        for _ in 0..4 {
            let plan = status::plan(&spec, &observed, &self.settings, Timestamp::now());
            wake = plan.wake;
            if plan.actions.is_empty() {
                break;
            }
            // Once per sync that starts a container, as kubelet's SyncPod reads them.
            let starts = plan
                .actions
                .iter()
                .any(|a| matches!(a, Action::Start { .. } | Action::Replace { .. }));
            if starts && !secrets_checked {
                self.check_pull_secrets(pod).await;
                secrets_checked = true;
            }
            for action in plan.actions {
                self.apply(pod, action).await?;
            }
            observed = self.observe().await?;
        }
        let newer = self.newer_than(pod)?;
        self.write_status(newer.as_ref().unwrap_or(pod), &observed, false).await?;
        let relist = Instant::now() + self.context.config.relist_period;
        Ok(wake.map_or(relist, |at| instant_at(at).min(relist)))
    }

    fn sandbox_config(&self, pod: &Pod) -> SandboxConfig {
        let meta = &pod.metadata;
        let name = meta.name.clone().unwrap_or_default();
        SandboxConfig {
            hostname: pod
                .spec
                .as_ref()
                .and_then(|s| s.hostname.clone())
                .unwrap_or_else(|| name.clone()),
            name,
            namespace: meta.namespace.clone().unwrap_or_default(),
            uid: self.uid.clone(),
            attempt: self.sandbox.as_ref().map_or(0, |s| s.attempt + 1),
            labels: meta.labels.clone().unwrap_or_default(),
            annotations: meta.annotations.clone().unwrap_or_default(),
        }
    }

    async fn apply(&mut self, pod: &Pod, action: Action) -> Result<(), WorkerError> {
        let runtime = self.context.runtime.clone();
        let config = self.sandbox_config(pod);
        match action {
            Action::CreateSandbox => {
                let sandbox = runtime.run_pod_sandbox(&config).await?;
                tracing::debug!(pod.uid = %self.uid, sandbox = %sandbox.id, ip = ?sandbox.ip, "sandbox created");
                self.sandbox = Some(sandbox);
            }
            Action::Replace { id, name, attempt } => {
                let path = Some(container_path(&name, false));
                let message = format!("Container {name} definition changed, will be restarted");
                self.context.events.record(pod, path, EventType::Normal, "Killing", message);
                let grace = pod
                    .spec
                    .as_ref()
                    .and_then(|s| s.termination_grace_period_seconds)
                    .unwrap_or(30);
                runtime.stop_container(&id, Duration::from_secs(grace.max(0) as u64)).await?;
                Box::pin(self.apply(pod, Action::Start { name, init: false, attempt })).await?;
            }
            Action::Start { name, init, attempt } => {
                let Some(sandbox) = self.sandbox.clone() else { return Ok(()) };
                let spec = pod.spec.as_ref();
                let container = if init {
                    spec.and_then(|s| s.init_containers.as_ref())
                        .and_then(|cs| cs.iter().find(|c| c.name == name))
                } else {
                    spec.and_then(|s| s.containers.iter().find(|c| c.name == name))
                };
                let Some(container) = container else { return Ok(()) };
                let image = container.image.clone().unwrap_or_default();
                let image_ref = match runtime.pull_image(&image, &config).await {
                    Ok(image_ref) => image_ref,
                    Err(RuntimeError::ImagePull { message, .. }) => {
                        let events = &self.context.events;
                        let path = Some(container_path(&name, init));
                        let failed = format!("Failed to pull image {image:?}: {message}");
                        events.record(pod, path.clone(), EventType::Warning, "Failed", failed);
                        events.record(
                            pod,
                            path,
                            EventType::Warning,
                            "Failed",
                            "Error: ErrImagePull".to_owned(),
                        );
                        let count = self.pull_failures.get(&name).map_or(0, |f| f.count) + 1;
                        let until = status::add(
                            Timestamp::now(),
                            status::pull_delay(&self.settings, count),
                        );
                        let failure = PullFailure { image, message, count, until, fresh: true };
                        self.pull_failures.insert(name, failure);
                        return Ok(());
                    }
                    Err(error) => return Err(error.into()),
                };
                self.pull_failures.remove(&name);
                let events = &self.context.events;
                let path = Some(container_path(&name, init));
                let pulled = format!("Container image {image:?} already present on machine");
                events.record(pod, path.clone(), EventType::Normal, "Pulled", pulled);
                let container_config =
                    ContainerConfig { name: name.clone(), image, image_ref, attempt, init };
                let id = runtime.create_container(&sandbox.id, &container_config, &config).await?;
                events.record(
                    pod,
                    path.clone(),
                    EventType::Normal,
                    "Created",
                    format!("Created container: {name}"),
                );
                runtime.start_container(&id).await?;
                events.record(
                    pod,
                    path,
                    EventType::Normal,
                    "Started",
                    format!("Started container {name}"),
                );
                tracing::debug!(pod.uid = %self.uid, container = %name, attempt, "container started");
                // Keep the previous attempt (its exit is the lastState), remove older ones.
                for old in runtime.list_containers(&sandbox.id).await? {
                    if old.name == name && old.init == init && old.attempt + 1 < attempt {
                        runtime.remove_container(&old.id).await?;
                    }
                }
            }
        }
        Ok(())
    }

    fn pod_api(&self, pod: &Pod) -> Api<Pod> {
        Api::namespaced(
            self.context.client.clone(),
            pod.metadata.namespace.as_deref().unwrap_or_default(),
        )
    }

    /// Writes the status the observation implies, if it differs from the pod's.
    /// kubelet's `getPullSecretsForPod`: a pull secret the pod names that cannot be read is a
    /// `FailedToRetrieveImagePullSecret` warning on the pod, not a failure — the pull goes on.
    /// Kubernetes records it at every sync and lets its event correlator count repeats; this
    /// worker records it when the set of missing secrets changes.
    async fn check_pull_secrets(&mut self, pod: &Pod) {
        let names = pod.spec.iter().flat_map(|spec| spec.image_pull_secrets.iter().flatten());
        // Validation lets empty names through (kubernetes#99454); the kubelet skips them.
        let names: Vec<&str> = names.map(|r| r.name.as_str()).filter(|n| !n.is_empty()).collect();
        let namespace = pod.metadata.namespace.as_deref().unwrap_or("default");
        let secrets: Api<Secret> = Api::namespaced(self.context.client.clone(), namespace);
        let mut missing = Vec::new();
        for name in names {
            if !matches!(secrets.get_opt(name).await, Ok(Some(_))) {
                missing.push(name.to_owned());
            }
        }
        if missing.is_empty() || missing == self.missing_pull_secrets {
            self.missing_pull_secrets = missing;
            return;
        }
        let message = format!(
            "Unable to retrieve some image pull secrets ({}); attempting to pull the image may not succeed.",
            missing.join(", ")
        );
        let reason = "FailedToRetrieveImagePullSecret";
        self.context.events.record(pod, None, EventType::Warning, reason, message);
        self.missing_pull_secrets = missing;
    }

    async fn write_status(
        &mut self,
        pod: &Pod,
        observed: &Observed,
        terminating: bool,
    ) -> Result<(), WorkerError> {
        let moment = Moment { now: Timestamp::now(), terminating };
        let status: PodStatus = status::pod_status(pod, observed, &self.settings, moment);
        if pod.status.as_ref() == Some(&status) {
            return Ok(());
        }
        let name = pod.metadata.name.clone().unwrap_or_default();
        // The test of the uid makes the write a precondition on this pod, never on a namesake
        // that replaced it (kubernetes#82387); the status is replaced whole.
        let patch = serde_json::json!([
            {"op": "test", "path": "/metadata/uid", "value": self.uid},
            {"op": "add", "path": "/status", "value": status},
        ]);
        let patch =
            Patch::<()>::Json(serde_json::from_value(patch).map_err(|e| WorkerError::Api {
                action: "encoding the status of",
                pod: name.clone(),
                source: kube::Error::SerdeError(e),
            })?);
        match self.pod_api(pod).patch_status(&name, &PatchParams::default(), &patch).await {
            Ok(updated) => {
                self.latest =
                    Some(KeptPod::new(updated).map_err(|source| WorkerError::Decode { source })?);
                Ok(())
            }
            // Gone, or replaced by a namesake: the watch will say so.
            Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 422 => {
                tracing::warn!(pod = %name, pod.uid = %self.uid, message = %s.message, "pod status refused (the pod was replaced by a namesake, or the status is invalid)");
                Ok(())
            }
            Err(source) => {
                Err(WorkerError::Api { action: "writing the status of", pod: name, source })
            }
        }
    }

    /// Stops the pod within what is left of its grace period, writes its final status and
    /// deletes it (the graceful deletion contract).
    async fn terminate(&mut self, pod: &Pod) -> Result<(), WorkerError> {
        let meta = &pod.metadata;
        let grace =
            Duration::from_secs(meta.deletion_grace_period_seconds.unwrap_or(30).max(0) as u64);
        // What is left of it: a restarted kubelet does not start the grace period over. The
        // deletionTimestamp has whole seconds (truncated), so the deadline is up to 1 s later.
        let left = meta
            .deletion_timestamp
            .as_ref()
            .map(|t| t.0.duration_since(Timestamp::now()))
            .and_then(|d| Duration::try_from(d).ok())
            .map_or(Duration::ZERO, |d| d + Duration::from_secs(1))
            .min(grace);
        let name = meta.name.clone().unwrap_or_default();
        tracing::info!(pod = %name, pod.uid = %self.uid, grace = ?left, "stopping pod");
        if let Some(sandbox) = &self.sandbox {
            for container in self.context.runtime.list_containers(&sandbox.id).await? {
                if container.state != ContainerState::Exited {
                    let path = Some(container_path(&container.name, container.init));
                    let message = format!("Stopping container {}", container.name);
                    self.context.events.record(pod, path, EventType::Normal, "Killing", message);
                }
            }
        }
        self.stop(left).await?;
        let observed = self.observe().await?;
        let newer = self.newer_than(pod)?;
        self.write_status(newer.as_ref().unwrap_or(pod), &observed, true).await?;
        let params = DeleteParams {
            grace_period_seconds: Some(0),
            preconditions: Some(Preconditions {
                uid: Some(self.uid.clone()),
                resource_version: None,
            }),
            ..DeleteParams::default()
        };
        match self.pod_api(pod).delete(&name, &params).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => {}
            Err(source) => return Err(WorkerError::Api { action: "deleting", pod: name, source }),
        }
        if let Some(sandbox) = self.sandbox.take() {
            self.context.runtime.remove_pod_sandbox(&sandbox.id).await?;
        }
        Ok(())
    }

    /// Stops every running container (concurrently, each within `timeout`) and the sandbox.
    async fn stop(&mut self, timeout: Duration) -> Result<(), WorkerError> {
        let Some(sandbox) = self.sandbox.clone() else { return Ok(()) };
        let runtime = self.context.runtime.clone();
        let containers = runtime.list_containers(&sandbox.id).await?;
        let stops = containers
            .iter()
            .filter(|c| c.state != ContainerState::Exited)
            .map(|c| runtime.stop_container(&c.id, timeout));
        for result in futures::future::join_all(stops).await {
            result?;
        }
        runtime.stop_pod_sandbox(&sandbox.id).await?;
        if let Some(sandbox) = &mut self.sandbox {
            sandbox.ready = false;
        }
        Ok(())
    }

    /// The pod is gone from the API (deleted at once, or by someone else): kill and remove.
    async fn remove(&mut self) {
        if let Err(error) = self.stop(Duration::ZERO).await {
            tracing::warn!(pod.uid = %self.uid, error = %error, "stopping a deleted pod");
        }
        if let Some(sandbox) = self.sandbox.take()
            && let Err(error) = self.context.runtime.remove_pod_sandbox(&sandbox.id).await
        {
            tracing::warn!(pod.uid = %self.uid, error = %error, "removing a deleted pod's sandbox");
        }
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use serde_json::json;

    use super::*;

    fn pod() -> Pod {
        serde_json::from_value(json!({
            "metadata": { "name": "p", "uid": "u", "resourceVersion": "1", "labels": { "a": "1" } },
            "spec": { "containers": [{ "name": "c", "image": "nginx" }] },
            "status": { "phase": "Running", "conditions": [{ "type": "Ready", "status": "False" }] },
        }))
        .expect("a pod")
    }

    fn changed(change: impl FnOnce(&mut Pod)) -> Synced {
        let mut pod = pod();
        change(&mut pod);
        Synced::of(&pod)
    }

    fn status(pod: &mut Pod) -> &mut PodStatus {
        pod.status.get_or_insert_default()
    }

    #[tokio::test]
    async fn a_waiting_worker_is_small() {
        // A client that is never used: building one does not connect.
        let config = kube::Config::new("https://127.0.0.1:1".parse().expect("a URL"));
        let client = kube::Client::try_from(config).expect("a client");
        let config = crate::KubeletConfig::new(
            "n",
            std::net::IpAddr::from([127, 0, 0, 1]),
            "10.244.0.0/24",
            std::path::PathBuf::from("/nonexistent"),
        );
        let runtime = Arc::new(config.simulated_runtime().expect("a runtime"));
        let events = crate::events::Events::new(client.clone(), "n".to_owned(), 1, 1);
        let context = Arc::new(Context { client, config, runtime, events });
        let (_pods, receiver) = watch::channel(None);
        let run = Worker::new(context, "u".to_owned(), receiver).run();
        // One task per pod waits in this future: its steps are boxed, so it holds the worker
        // and a timer, not a step's API and runtime calls (6 KB when they were inline).
        let size = std::mem::size_of_val(&run);
        assert!(size < 2048, "a waiting pod worker takes {size} bytes");
    }

    #[test]
    fn a_kept_pod_decodes_to_the_pod_without_managed_fields() {
        let mut original = pod();
        original.metadata.resource_version = Some("42".to_owned());
        original.metadata.managed_fields = Some(vec![Default::default()]);
        let kept = KeptPod::new(original.clone()).expect("encodes");
        original.metadata.managed_fields = None;
        assert_eq!(kept.pod().expect("decodes"), original);
        assert_eq!(kept.revision, 42);
        assert_eq!(kept.synced, Synced::of(&original));
        assert_eq!(&*kept.name, "/p", "no namespace in the fixture");
    }

    #[test]
    fn only_what_the_step_acts_on_needs_a_sync() {
        let synced = Synced::of(&pod());
        let echo = changed(|p| {
            p.metadata.resource_version = Some("2".to_owned());
            status(p).conditions.get_or_insert_default()[0].status = "True".to_owned();
        });
        assert!(!needs_sync(&synced, &echo), "a status echo");
        let image = changed(|p| {
            p.spec.get_or_insert_default().containers[0].image = Some("redis".to_owned());
        });
        assert!(needs_sync(&synced, &image), "a changed spec");
        let labels = changed(|p| {
            p.metadata.labels.get_or_insert_default().insert("a".to_owned(), "2".to_owned());
        });
        assert!(needs_sync(&synced, &labels), "changed labels");
        let annotated = changed(|p| {
            p.metadata.annotations.get_or_insert_default().insert("x".to_owned(), "y".to_owned());
        });
        assert!(needs_sync(&synced, &annotated), "new annotations");
        let deleted = changed(|p| p.metadata.deletion_timestamp = Some(Time(Timestamp::now())));
        assert!(needs_sync(&synced, &deleted), "a deletion");
        let failed = changed(|p| status(p).phase = Some("Failed".to_owned()));
        assert!(needs_sync(&synced, &failed), "a terminal phase");
        let pending = changed(|p| status(p).phase = Some("Pending".to_owned()));
        assert!(!needs_sync(&synced, &pending), "a phase that is not terminal");
    }
}
