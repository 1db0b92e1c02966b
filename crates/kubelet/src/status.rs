//! The pod worker's pure core: from the pod and what the runtime reports, what to do next
//! ([`plan`], kubelet's `computePodActions`) and the status to write ([`pod_status`], kubelet's
//! `generateAPIPodStatus` and `getPhase` in pkg/kubelet/kubelet_pods.go, and the condition
//! generators of pkg/kubelet/status/generate.go). No IO: every input, the clock included, is an
//! argument, so the tests drive it with tables.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use k8s_openapi::api::core::v1::{
    Container, ContainerState as K8sState, ContainerStateRunning, ContainerStateTerminated,
    ContainerStateWaiting, ContainerStatus as K8sContainerStatus, HostIP, Pod, PodCondition, PodIP,
    PodSpec, PodStatus,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};

use crate::runtime::{ContainerState, ContainerStatus, SandboxStatus};

/// The knobs of the pod lifecycle the pure core needs.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// The runtime's name, the scheme of container ids.
    pub(crate) runtime_name: String,
    /// The node's IP.
    pub(crate) host_ip: IpAddr,
    /// How long after it started a container becomes ready.
    pub(crate) ready_delay: Duration,
    /// The first crash-loop and image-pull back-off (kubelet: 10 s).
    pub(crate) backoff_base: Duration,
    /// The longest back-off (kubelet: 300 s).
    pub(crate) backoff_max: Duration,
}

/// A failed image pull of one container, remembered for the back-off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PullFailure {
    /// The image.
    pub(crate) image: String,
    /// The runtime's error.
    pub(crate) message: String,
    /// How many pulls failed in a row.
    pub(crate) count: u32,
    /// No new pull before this.
    pub(crate) until: Timestamp,
    /// Whether it failed in the current sync (ErrImagePull) or before (ImagePullBackOff).
    pub(crate) fresh: bool,
}

/// What the worker observed of the pod's runtime state.
#[derive(Debug, Clone, Default)]
pub(crate) struct Observed {
    /// The pod's sandbox, if it has one.
    pub(crate) sandbox: Option<SandboxStatus>,
    /// Every attempt of every container in the sandbox.
    pub(crate) containers: Vec<ContainerStatus>,
    /// Readiness check results, by container id, for running containers past their delay.
    pub(crate) readiness: BTreeMap<String, bool>,
    /// Failed image pulls, by container name.
    pub(crate) pull_failures: BTreeMap<String, PullFailure>,
    /// Why the pod's volumes are not ready, if they are not.
    pub(crate) volume_error: Option<String>,
}

/// One step of the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Action {
    /// Prepare the volumes and create the sandbox.
    CreateSandbox,
    /// Pull, create and start attempt `attempt` of the named container.
    Start { name: String, init: bool, attempt: u32 },
    /// Stop the running container `id` because its spec changed (the image: the one mutable
    /// field), then start attempt `attempt` (kubelet's `computePodActions`, "definition
    /// changed, will be restarted").
    Replace { id: String, name: String, attempt: u32 },
}

/// What to do now, and when to look again at the latest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Plan {
    pub(crate) actions: Vec<Action>,
    pub(crate) wake: Option<Timestamp>,
}

/// The most recent attempt of a container.
fn latest<'a>(observed: &'a Observed, name: &str, init: bool) -> Option<&'a ContainerStatus> {
    observed
        .containers
        .iter()
        .filter(|c| c.name == name && c.init == init)
        .max_by_key(|c| c.attempt)
}

fn previous<'a>(observed: &'a Observed, latest: &ContainerStatus) -> Option<&'a ContainerStatus> {
    let attempt = latest.attempt.checked_sub(1)?;
    observed
        .containers
        .iter()
        .find(|c| c.name == latest.name && c.init == latest.init && c.attempt == attempt)
}

fn restart_policy(spec: &PodSpec) -> &str {
    spec.restart_policy.as_deref().unwrap_or("Always")
}

/// Whether an exited container is started again (kubelet's `ShouldContainerBeRestarted`).
fn restarts(policy: &str, exit_code: i32) -> bool {
    match policy {
        "Never" => false,
        "OnFailure" => exit_code != 0,
        _ => true,
    }
}

/// The crash-loop back-off after attempt `attempt` exited: the first restart is immediate,
/// then base, 2×base, … up to max (kubelet's per-container `flowcontrol.Backoff`).
pub(crate) fn restart_delay(settings: &Settings, attempt: u32) -> Duration {
    if attempt == 0 {
        return Duration::ZERO;
    }
    let factor = 1u32.checked_shl(attempt - 1).unwrap_or(u32::MAX);
    settings.backoff_base.saturating_mul(factor).min(settings.backoff_max)
}

/// The image-pull back-off after `failures` failed pulls.
pub(crate) fn pull_delay(settings: &Settings, failures: u32) -> Duration {
    restart_delay(settings, failures.max(1))
}

pub(crate) fn add(at: Timestamp, delay: Duration) -> Timestamp {
    SignedDuration::try_from(delay)
        .ok()
        .and_then(|d| at.checked_add(d).ok())
        .unwrap_or(Timestamp::MAX)
}

/// When a running container counts as ready: `ready_delay` after it started, or the readiness
/// probe's `initialDelaySeconds` if that is longer.
fn ready_at(settings: &Settings, spec: &Container, started: Timestamp) -> Timestamp {
    let initial = spec
        .readiness_probe
        .as_ref()
        .and_then(|p| p.initial_delay_seconds)
        .map_or(Duration::ZERO, |s| Duration::from_secs(s.max(0) as u64));
    add(started, settings.ready_delay.max(initial))
}

fn earliest(wake: &mut Option<Timestamp>, at: Timestamp) {
    *wake = Some(wake.map_or(at, |w| w.min(at)));
}

/// What to start next: the sandbox, then init containers one at a time in order, then every
/// container; exited containers again as the restart policy says, after their back-off.
pub(crate) fn plan(
    spec: &PodSpec,
    observed: &Observed,
    settings: &Settings,
    now: Timestamp,
) -> Plan {
    let mut wake = None;
    let mut actions = Vec::new();
    if observed.volume_error.is_some() {
        return Plan { actions, wake };
    }
    let Some(sandbox) = &observed.sandbox else {
        return Plan { actions: vec![Action::CreateSandbox], wake };
    };
    if !sandbox.ready {
        return Plan { actions, wake };
    }
    let policy = restart_policy(spec);
    let mut replace = Vec::new();
    let mut start = |container: &Container, init: bool, wake: &mut Option<Timestamp>| -> bool {
        if let Some(failure) = observed.pull_failures.get(&container.name)
            && failure.until > now
        {
            earliest(wake, failure.until);
            return false;
        }
        let attempt = latest(observed, &container.name, init).map_or(0, |c| c.attempt + 1);
        actions.push(Action::Start { name: container.name.clone(), init, attempt });
        true
    };
    for container in spec.init_containers.iter().flatten() {
        match latest(observed, &container.name, true) {
            None => {
                start(container, true, &mut wake);
                return Plan { actions, wake };
            }
            Some(c) if c.state != ContainerState::Exited => return Plan { actions, wake },
            Some(c) if c.exit_code == 0 => continue,
            Some(c) => {
                // A failed init container is retried unless the pod never restarts.
                if policy != "Never" {
                    let at = add(c.finished_at.unwrap_or(now), restart_delay(settings, c.attempt));
                    if at <= now {
                        start(container, true, &mut wake);
                    } else {
                        earliest(&mut wake, at);
                    }
                }
                return Plan { actions, wake };
            }
        }
    }
    for container in &spec.containers {
        match latest(observed, &container.name, false) {
            None => {
                start(container, false, &mut wake);
            }
            Some(c) if c.state == ContainerState::Exited => {
                if restarts(policy, c.exit_code) {
                    let at = add(c.finished_at.unwrap_or(now), restart_delay(settings, c.attempt));
                    if at <= now {
                        start(container, false, &mut wake);
                    } else {
                        earliest(&mut wake, at);
                    }
                }
            }
            Some(c) if container.image.as_deref().is_some_and(|image| image != c.image) => {
                replace.push(Action::Replace {
                    id: c.id.clone(),
                    name: c.name.clone(),
                    attempt: c.attempt + 1,
                });
            }
            Some(c) => {
                if let Some(started) = c.started_at {
                    let at = ready_at(settings, container, started);
                    if at > now {
                        earliest(&mut wake, at);
                    }
                }
            }
        }
    }
    actions.extend(replace);
    Plan { actions, wake }
}

/// Whether the pod's containers will never run again (kubelet: the pod is terminal).
pub(crate) fn is_terminal_phase(phase: Option<&str>) -> bool {
    matches!(phase, Some("Succeeded" | "Failed"))
}

/// The container id as the API shows it: `<runtime>://<id>`.
fn container_id(settings: &Settings, id: &str) -> String {
    format!("{}://{id}", settings.runtime_name)
}

/// A wall-clock time as the API stores it: whole seconds.
pub(crate) fn time(at: Timestamp) -> Time {
    Time(Timestamp::from_second(at.as_second()).unwrap_or(at))
}

fn non_empty(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_owned())
}

fn terminated(settings: &Settings, c: &ContainerStatus) -> K8sState {
    K8sState {
        terminated: Some(ContainerStateTerminated {
            container_id: Some(container_id(settings, &c.id)),
            exit_code: c.exit_code,
            finished_at: c.finished_at.map(time),
            message: non_empty(&c.message),
            reason: non_empty(&c.reason),
            signal: None,
            started_at: c.started_at.map(time),
        }),
        ..K8sState::default()
    }
}

fn waiting(reason: &str, message: Option<String>) -> K8sState {
    K8sState {
        waiting: Some(ContainerStateWaiting { reason: Some(reason.to_owned()), message }),
        ..K8sState::default()
    }
}

/// Everything the status generator needs besides the observation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Moment {
    /// Now, by the wall clock.
    pub(crate) now: Timestamp,
    /// Whether the pod is being terminated (deleted): exited containers stay terminated.
    pub(crate) terminating: bool,
}

/// The status of one container of the spec.
fn container_status(
    pod: &Pod,
    spec: &Container,
    init: bool,
    initialized: bool,
    observed: &Observed,
    settings: &Settings,
    moment: Moment,
) -> K8sContainerStatus {
    let policy = pod.spec.as_ref().map_or("Always", restart_policy);
    let latest = latest(observed, &spec.name, init);
    let pull_waiting = observed.pull_failures.get(&spec.name).map(|failure| {
        if failure.fresh {
            waiting("ErrImagePull", Some(failure.message.clone()))
        } else {
            waiting("ImagePullBackOff", Some(format!("Back-off pulling image {:?}", failure.image)))
        }
    });
    let mut status = K8sContainerStatus {
        name: spec.name.clone(),
        image: spec.image.clone().unwrap_or_default(),
        image_id: String::new(),
        ready: false,
        restart_count: 0,
        started: Some(false),
        ..K8sContainerStatus::default()
    };
    let Some(c) = latest else {
        let reason = if init || !initialized { "PodInitializing" } else { "ContainerCreating" };
        status.state = Some(pull_waiting.unwrap_or_else(|| waiting(reason, None)));
        if !init && !initialized {
            status.state = Some(waiting("PodInitializing", None));
        }
        return status;
    };
    status.restart_count = c.attempt as i32;
    status.image_id = c.image_ref.clone();
    status.container_id = Some(container_id(settings, &c.id));
    let last = previous(observed, c).filter(|p| p.state == ContainerState::Exited);
    status.last_state = last.map(|p| terminated(settings, p));
    match c.state {
        ContainerState::Created => {
            status.state = Some(waiting("ContainerCreating", None));
        }
        ContainerState::Running => {
            status.state = Some(K8sState {
                running: Some(ContainerStateRunning { started_at: c.started_at.map(time) }),
                ..K8sState::default()
            });
            status.started = Some(true);
            let probed = observed.readiness.get(&c.id).copied().unwrap_or(false);
            let due = c.started_at.is_some_and(|s| ready_at(settings, spec, s) <= moment.now);
            status.ready = probed && due && !init;
        }
        ContainerState::Exited => {
            let again = !moment.terminating
                && if init {
                    c.exit_code != 0 && policy != "Never"
                } else {
                    restarts(policy, c.exit_code)
                };
            if again {
                // Waiting to be restarted: the exit becomes the last state.
                status.last_state = Some(terminated(settings, c));
                let delay = restart_delay(settings, c.attempt);
                let at = add(c.finished_at.unwrap_or(moment.now), delay);
                status.state = Some(match pull_waiting {
                    Some(state) => state,
                    None if at > moment.now => waiting(
                        "CrashLoopBackOff",
                        Some(format!(
                            "back-off {} restarting failed container={} pod={}_{}({})",
                            go_duration(delay),
                            spec.name,
                            pod.metadata.name.as_deref().unwrap_or_default(),
                            pod.metadata.namespace.as_deref().unwrap_or_default(),
                            pod.metadata.uid.as_deref().unwrap_or_default(),
                        )),
                    ),
                    None => waiting("ContainerCreating", None),
                });
            } else {
                status.state = Some(terminated(settings, c));
                status.ready = init && c.exit_code == 0;
            }
            status.started = Some(false);
        }
    }
    status
}

/// A duration as Go prints it (`10s`, `5m0s`, `300ms`).
fn go_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if secs == 0 {
        return format!("{}ms", d.as_millis());
    }
    if secs < 60 {
        return format!("{secs}s");
    }
    if secs < 3600 {
        return format!("{}m{}s", secs / 60, secs % 60);
    }
    format!("{}h{}m{}s", secs / 3600, secs / 60 % 60, secs % 60)
}

/// The phase from the container statuses (kubelet's `getPhase`).
fn phase(
    spec: &PodSpec,
    init: &[K8sContainerStatus],
    containers: &[K8sContainerStatus],
    terminal: bool,
) -> &'static str {
    let policy = restart_policy(spec);
    let mut pending_init = false;
    for status in init {
        match status.state.as_ref().and_then(|s| s.terminated.as_ref()) {
            Some(t) if t.exit_code == 0 => {}
            Some(_) if policy == "Never" => return "Failed",
            _ => pending_init = true,
        }
    }
    let (mut running, mut waiting, mut stopped, mut succeeded, mut unknown) = (0, 0, 0, 0, 0);
    for status in containers {
        let state = status.state.clone().unwrap_or_default();
        if state.running.is_some() {
            running += 1;
        } else if let Some(t) = &state.terminated {
            stopped += 1;
            if t.exit_code == 0 {
                succeeded += 1;
            }
        } else if state.waiting.is_some() {
            if status.last_state.as_ref().is_some_and(|l| l.terminated.is_some()) {
                stopped += 1;
            } else {
                waiting += 1;
            }
        } else {
            unknown += 1;
        }
    }
    if pending_init && !terminal {
        return "Pending";
    }
    if terminal && running == 0 && waiting == 0 && unknown == 0 && !containers.is_empty() {
        return if stopped == succeeded { "Succeeded" } else { "Failed" };
    }
    if terminal && pending_init {
        return "Failed";
    }
    match () {
        _ if waiting > 0 => "Pending",
        _ if running > 0 && unknown == 0 => "Running",
        _ if running == 0 && stopped > 0 && unknown == 0 => {
            if policy == "Always" {
                "Running"
            } else if stopped == succeeded {
                "Succeeded"
            } else if policy == "Never" {
                "Failed"
            } else {
                "Running"
            }
        }
        _ => "Pending",
    }
}

/// The QoS class of a pod that has none yet (the API server sets it at create):
/// `ComputePodQOS` over its containers and init containers (`berth_api::quantity`).
pub(crate) fn qos_class(spec: &PodSpec) -> &'static str {
    fn pairs(map: Option<&BTreeMap<String, Quantity>>) -> impl Iterator<Item = (&str, &str)> {
        map.into_iter().flatten().map(|(name, quantity)| (name.as_str(), quantity.0.as_str()))
    }
    berth_api::quantity::qos_class(
        spec.containers.iter().chain(spec.init_containers.iter().flatten()).map(|container| {
            let resources = container.resources.as_ref();
            (
                pairs(resources.and_then(|r| r.requests.as_ref())),
                pairs(resources.and_then(|r| r.limits.as_ref())),
            )
        }),
    )
}

fn condition(type_: &str, ok: bool, reason: Option<&str>, message: Option<String>) -> PodCondition {
    PodCondition {
        type_: type_.to_owned(),
        status: if ok { "True" } else { "False" }.to_owned(),
        reason: reason.map(str::to_owned),
        message,
        ..PodCondition::default()
    }
}

/// The status to write: the current one with everything the kubelet owns recomputed.
pub(crate) fn pod_status(
    pod: &Pod,
    observed: &Observed,
    settings: &Settings,
    moment: Moment,
) -> PodStatus {
    let empty = PodSpec::default();
    let spec = pod.spec.as_ref().unwrap_or(&empty);
    let current = pod.status.clone().unwrap_or_default();
    let mut status = current.clone();

    let init_specs: &[Container] = spec.init_containers.as_deref().unwrap_or_default();
    let mut initialized = true;
    let mut init_statuses = Vec::new();
    for container in init_specs {
        let s = container_status(pod, container, true, initialized, observed, settings, moment);
        let done =
            s.state.as_ref().and_then(|s| s.terminated.as_ref()).is_some_and(|t| t.exit_code == 0);
        init_statuses.push(s);
        initialized &= done;
    }
    let statuses: Vec<_> = spec
        .containers
        .iter()
        .map(|c| container_status(pod, c, false, initialized, observed, settings, moment))
        .collect();

    let phase = if is_terminal_phase(current.phase.as_deref()) && !moment.terminating {
        current.phase.clone().unwrap_or_default()
    } else {
        phase(spec, &init_statuses, &statuses, moment.terminating).to_owned()
    };
    let completed = is_terminal_phase(Some(&phase));

    // Conditions, in the order the kubelet lists them.
    let sandbox_ready = observed.sandbox.as_ref().is_some_and(|s| s.ready) && !completed;
    let incomplete: Vec<&str> =
        init_statuses.iter().filter(|s| !s.ready).map(|s| s.name.as_str()).collect();
    let initialized_condition = if incomplete.is_empty() {
        condition("Initialized", true, None, None)
    } else if completed {
        condition("Initialized", false, Some("PodCompleted"), None)
    } else {
        let message = format!("containers with incomplete status: [{}]", incomplete.join(" "));
        condition("Initialized", false, Some("ContainersNotInitialized"), Some(message))
    };
    let unready: Vec<&str> =
        statuses.iter().filter(|s| !s.ready).map(|s| s.name.as_str()).collect();
    let containers_ready = if completed {
        condition("ContainersReady", false, Some("PodCompleted"), None)
    } else if unready.is_empty() {
        condition("ContainersReady", true, None, None)
    } else {
        let message = format!("containers with unready status: [{}]", unready.join(" "));
        condition("ContainersReady", false, Some("ContainersNotReady"), Some(message))
    };
    let mut ready = containers_ready.clone();
    ready.type_ = "Ready".to_owned();
    if ready.status == "True" {
        for gate in spec.readiness_gates.iter().flatten() {
            let met = current
                .conditions
                .iter()
                .flatten()
                .any(|c| c.type_ == gate.condition_type && c.status == "True");
            if !met {
                let message = format!(
                    "corresponding condition of pod readiness gate {:?} does not exist.",
                    gate.condition_type
                );
                ready = condition("Ready", false, Some("ReadinessGatesNotReady"), Some(message));
                break;
            }
        }
    }
    let scheduled = current
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "PodScheduled")
        .cloned()
        .unwrap_or_else(|| condition("PodScheduled", true, None, None));
    let mut conditions = vec![
        condition("PodReadyToStartContainers", sandbox_ready, None, None),
        initialized_condition,
        ready,
        containers_ready,
    ];
    for condition in &mut conditions {
        let old = current.conditions.iter().flatten().find(|c| c.type_ == condition.type_);
        condition.last_transition_time = match old {
            Some(old) if old.status == condition.status => old.last_transition_time.clone(),
            _ => Some(time(moment.now)),
        };
    }
    conditions.push(scheduled);
    let owned =
        ["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"];
    conditions.extend(
        current.conditions.iter().flatten().filter(|c| !owned.contains(&c.type_.as_str())).cloned(),
    );

    status.phase = Some(phase);
    status.conditions = Some(conditions);
    status.host_ip = Some(settings.host_ip.to_string());
    status.host_ips = Some(vec![HostIP { ip: settings.host_ip.to_string() }]);
    if let Some(ip) = observed.sandbox.as_ref().and_then(|s| s.ip) {
        status.pod_ip = Some(ip.to_string());
        status.pod_ips = Some(vec![PodIP { ip: ip.to_string() }]);
    }
    status.start_time = current.start_time.clone().or_else(|| Some(time(moment.now)));
    // `GetPodQOS`: the class the pod has, which never changes once set.
    status.qos_class = current
        .qos_class
        .clone()
        .filter(|class| !class.is_empty())
        .or_else(|| Some(qos_class(spec).to_owned()));
    status.init_container_statuses = (!init_specs.is_empty()).then_some(init_statuses);
    status.container_statuses = Some(statuses);
    status
}

#[cfg(test)]
mod tests;
