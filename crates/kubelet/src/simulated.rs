//! The simulated runtime (kwok-style): sandboxes and containers are records, not processes.
//! Pod IPs come from the node's pod CIDR and are released on removal; containers start after a
//! configurable delay and behave as the pod's `sim.berth.dev/*` annotations say (see
//! docs/simulated-runtime.md). A product feature for scale testing, not a test double.

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use k8s_openapi::jiff::{SignedDuration, Timestamp};

use crate::runtime::{
    ContainerConfig, ContainerState, ContainerStatus, Runtime, RuntimeError, SandboxConfig,
    SandboxStatus,
};
use berth_api::net::{CidrError, Ipv4Cidr};

/// `"false"`: the pod's containers run but their readiness check never succeeds.
pub const ANNOTATION_READY: &str = "sim.berth.dev/ready";
/// `"<n>"`: the pod's (non-init) containers exit with this code after `run-for`.
pub const ANNOTATION_EXIT_CODE: &str = "sim.berth.dev/exit-code";
/// `"<duration>"` (Go syntax: `500ms`, `3s`, `1m30s`): how long the containers run before they
/// exit on their own (with `exit-code`, default 0).
pub const ANNOTATION_RUN_FOR: &str = "sim.berth.dev/run-for";
/// `"<duration>"`: how long the containers take to stop once asked (default: the runtime's
/// stop delay); longer than the grace period means they are killed (exit code 137).
pub const ANNOTATION_STOP_AFTER: &str = "sim.berth.dev/stop-after";
/// Images with this tag fail to pull.
pub const MISSING_IMAGE_TAG: &str = "doesnotexist";

/// How a simulated runtime behaves.
#[derive(Debug, Clone)]
pub struct SimulatedConfig {
    /// The node's pod CIDR, which pod IPs are allocated from.
    pub pod_cidr: String,
    /// How long creating a sandbox takes (the pod shows ContainerCreating meanwhile).
    pub start_delay: Duration,
    /// How long a container takes to stop once asked, unless the pod says otherwise.
    pub stop_delay: Duration,
}

/// The simulated runtime. Cheap: a few hundred bytes per pod.
#[derive(Debug)]
pub struct SimulatedRuntime {
    config: SimulatedConfig,
    cidr: Ipv4Cidr,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    next_id: u64,
    /// Offsets into the pod CIDR in use.
    ips: BTreeSet<u64>,
    /// Where the next IP search starts, so released IPs are not reused at once.
    next_ip: u64,
    sandboxes: HashMap<String, Sandbox>,
    containers: HashMap<String, Container>,
}

#[derive(Debug)]
struct Sandbox {
    status: SandboxStatus,
    ip_offset: u64,
    knobs: Knobs,
}

#[derive(Debug, Clone, Default)]
struct Knobs {
    never_ready: bool,
    exit_code: Option<i32>,
    run_for: Option<Duration>,
    stop_after: Option<Duration>,
}

#[derive(Debug)]
struct Container {
    sandbox_id: String,
    status: ContainerStatus,
    knobs: Knobs,
}

impl SimulatedRuntime {
    /// A runtime allocating pod IPs from `config.pod_cidr`.
    pub fn new(config: SimulatedConfig) -> Result<SimulatedRuntime, CidrError> {
        let cidr = Ipv4Cidr::parse(&config.pod_cidr)?;
        if cidr.size() < 4 {
            return Err(CidrError {
                cidr: config.pod_cidr.clone(),
                reason: "too small for pod IPs".to_owned(),
            });
        }
        Ok(SimulatedRuntime { config, cidr, state: Mutex::new(State::default()) })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain records behind, still consistent.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl State {
    fn id(&mut self, kind: &str) -> String {
        use std::hash::{BuildHasher, RandomState};
        self.next_id += 1;
        let random = RandomState::new().hash_one((kind, self.next_id));
        format!("{random:016x}{:048x}", self.next_id)
    }

    fn allocate_ip(&mut self, cidr: Ipv4Cidr) -> Option<u64> {
        // .0 is the network, .1 the bridge (gateway), the last the broadcast address.
        let usable = 2..cidr.size() - 1;
        let count = usable.end - usable.start;
        for step in 0..count {
            let offset = usable.start + (self.next_ip + step) % count;
            if self.ips.insert(offset) {
                self.next_ip = (offset - usable.start + 1) % count;
                return Some(offset);
            }
        }
        None
    }
}

impl Knobs {
    fn from(config: &SandboxConfig) -> Knobs {
        let get = |key: &str| config.annotations.get(key).map(|v| v.trim());
        Knobs {
            never_ready: get(ANNOTATION_READY) == Some("false"),
            exit_code: get(ANNOTATION_EXIT_CODE).and_then(|v| v.parse().ok()),
            run_for: get(ANNOTATION_RUN_FOR).and_then(parse_duration),
            stop_after: get(ANNOTATION_STOP_AFTER).and_then(parse_duration),
        }
    }
}

impl Container {
    /// Lets a running container exit on its own when its `run-for` is over.
    fn refresh(&mut self, now: Timestamp) {
        if self.status.init {
            return;
        }
        if self.status.state != ContainerState::Running {
            return;
        }
        let run_for = match (self.knobs.run_for, self.knobs.exit_code) {
            (Some(run_for), _) => run_for,
            (None, Some(_)) => Duration::ZERO,
            (None, None) => return,
        };
        let Some(started) = self.status.started_at else { return };
        let Ok(end) = started.checked_add(SignedDuration::try_from(run_for).unwrap_or_default())
        else {
            return;
        };
        if end <= now {
            let code = self.knobs.exit_code.unwrap_or(0);
            self.exit(end, code);
        }
    }

    fn exit(&mut self, at: Timestamp, code: i32) {
        self.status.state = ContainerState::Exited;
        self.status.finished_at = Some(at);
        self.status.exit_code = code;
        self.status.reason = if code == 0 { "Completed" } else { "Error" }.to_owned();
    }
}

#[async_trait::async_trait]
impl Runtime for SimulatedRuntime {
    fn name(&self) -> &str {
        "simulated"
    }

    fn version(&self) -> String {
        format!("simulated://{}", env!("CARGO_PKG_VERSION"))
    }

    async fn run_pod_sandbox(&self, config: &SandboxConfig) -> Result<SandboxStatus, RuntimeError> {
        if !self.config.start_delay.is_zero() {
            tokio::time::sleep(self.config.start_delay).await;
        }
        let mut state = self.lock();
        let offset = state
            .allocate_ip(self.cidr)
            .ok_or_else(|| RuntimeError::IpExhausted { cidr: self.config.pod_cidr.clone() })?;
        let ip = self.cidr.address(offset).map(IpAddr::V4);
        let id = state.id("sandbox");
        let status = SandboxStatus {
            id: id.clone(),
            pod_uid: config.uid.clone(),
            namespace: config.namespace.clone(),
            name: config.name.clone(),
            attempt: config.attempt,
            ready: true,
            ip,
            created_at: Timestamp::now(),
        };
        let sandbox =
            Sandbox { status: status.clone(), ip_offset: offset, knobs: Knobs::from(config) };
        state.sandboxes.insert(id, sandbox);
        Ok(status)
    }

    async fn stop_pod_sandbox(&self, sandbox_id: &str) -> Result<(), RuntimeError> {
        let mut state = self.lock();
        let now = Timestamp::now();
        for container in state.containers.values_mut().filter(|c| c.sandbox_id == sandbox_id) {
            container.refresh(now);
            if container.status.state != ContainerState::Exited {
                container.exit(now, 137);
            }
        }
        let sandbox = state
            .sandboxes
            .get_mut(sandbox_id)
            .ok_or_else(|| RuntimeError::NotFound { kind: "sandbox", id: sandbox_id.to_owned() })?;
        sandbox.status.ready = false;
        Ok(())
    }

    async fn remove_pod_sandbox(&self, sandbox_id: &str) -> Result<(), RuntimeError> {
        let mut state = self.lock();
        state.containers.retain(|_, c| c.sandbox_id != sandbox_id);
        if let Some(sandbox) = state.sandboxes.remove(sandbox_id) {
            state.ips.remove(&sandbox.ip_offset);
        }
        Ok(())
    }

    async fn list_pod_sandboxes(&self) -> Result<Vec<SandboxStatus>, RuntimeError> {
        Ok(self.lock().sandboxes.values().map(|s| s.status.clone()).collect())
    }

    async fn pull_image(
        &self,
        image: &str,
        _sandbox: &SandboxConfig,
    ) -> Result<String, RuntimeError> {
        let tag = image_tag(image);
        if tag == Some(MISSING_IMAGE_TAG) {
            return Err(RuntimeError::ImagePull {
                image: image.to_owned(),
                message: format!(
                    "rpc error: code = NotFound desc = failed to pull and unpack image \"{}\": not found",
                    qualified_image(image)
                ),
            });
        }
        Ok(qualified_image(image))
    }

    async fn create_container(
        &self,
        sandbox_id: &str,
        config: &ContainerConfig,
        _sandbox: &SandboxConfig,
    ) -> Result<String, RuntimeError> {
        let mut state = self.lock();
        let knobs =
            state.sandboxes.get(sandbox_id).map(|s| s.knobs.clone()).ok_or_else(|| {
                RuntimeError::NotFound { kind: "sandbox", id: sandbox_id.to_owned() }
            })?;
        let id = state.id("container");
        let status = ContainerStatus {
            id: id.clone(),
            name: config.name.clone(),
            attempt: config.attempt,
            image: config.image.clone(),
            image_ref: config.image_ref.clone(),
            init: config.init,
            state: ContainerState::Created,
            created_at: Timestamp::now(),
            started_at: None,
            finished_at: None,
            exit_code: 0,
            reason: String::new(),
            message: String::new(),
        };
        state
            .containers
            .insert(id.clone(), Container { sandbox_id: sandbox_id.to_owned(), status, knobs });
        Ok(id)
    }

    async fn start_container(&self, container_id: &str) -> Result<(), RuntimeError> {
        let mut state = self.lock();
        let container = state.containers.get_mut(container_id).ok_or_else(|| {
            RuntimeError::NotFound { kind: "container", id: container_id.to_owned() }
        })?;
        let now = Timestamp::now();
        container.status.started_at = Some(now);
        container.status.state = ContainerState::Running;
        if container.status.init {
            // Simulated init containers complete at once.
            container.exit(now, 0);
        } else {
            container.refresh(now);
        }
        Ok(())
    }

    async fn stop_container(
        &self,
        container_id: &str,
        timeout: Duration,
    ) -> Result<(), RuntimeError> {
        let stop_after = {
            let mut state = self.lock();
            let container = state.containers.get_mut(container_id).ok_or_else(|| {
                RuntimeError::NotFound { kind: "container", id: container_id.to_owned() }
            })?;
            container.refresh(Timestamp::now());
            match container.status.state {
                ContainerState::Exited => return Ok(()),
                ContainerState::Created => {
                    container.exit(Timestamp::now(), 0);
                    return Ok(());
                }
                ContainerState::Running => {}
            }
            container.knobs.stop_after.unwrap_or(self.config.stop_delay)
        };
        let graceful = stop_after <= timeout;
        let wait = stop_after.min(timeout);
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        let mut state = self.lock();
        if let Some(container) = state.containers.get_mut(container_id) {
            let now = Timestamp::now();
            container.refresh(now);
            if container.status.state != ContainerState::Exited {
                // SIGTERM honoured in time exits 0; SIGKILL after the grace period is 128 + 9.
                container.exit(now, if graceful { 0 } else { 137 });
            }
        }
        Ok(())
    }

    async fn remove_container(&self, container_id: &str) -> Result<(), RuntimeError> {
        self.lock().containers.remove(container_id);
        Ok(())
    }

    async fn list_containers(
        &self,
        sandbox_id: &str,
    ) -> Result<Vec<ContainerStatus>, RuntimeError> {
        let mut state = self.lock();
        let now = Timestamp::now();
        let mut list: Vec<ContainerStatus> = state
            .containers
            .values_mut()
            .filter(|c| c.sandbox_id == sandbox_id)
            .map(|c| {
                c.refresh(now);
                c.status.clone()
            })
            .collect();
        list.sort_by(|a, b| (&a.name, a.attempt).cmp(&(&b.name, b.attempt)));
        Ok(list)
    }

    async fn probe_readiness(&self, container_id: &str) -> Result<bool, RuntimeError> {
        let state = self.lock();
        let container = state.containers.get(container_id).ok_or_else(|| {
            RuntimeError::NotFound { kind: "container", id: container_id.to_owned() }
        })?;
        Ok(!container.knobs.never_ready)
    }
}

/// The tag of an image reference (`nginx:1.27` → `1.27`), if it has one; a registry port is not
/// a tag.
fn image_tag(image: &str) -> Option<&str> {
    let image = image.split('@').next().unwrap_or(image);
    let last = image.rsplit('/').next().unwrap_or(image);
    last.split_once(':').map(|(_, tag)| tag)
}

/// The image as containerd names it: `nginx` → `docker.io/library/nginx:latest`.
fn qualified_image(image: &str) -> String {
    let mut name = image.to_owned();
    let first = image.split('/').next().unwrap_or(image);
    let has_registry =
        image.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
    if !has_registry {
        name = if image.contains('/') {
            format!("docker.io/{image}")
        } else {
            format!("docker.io/library/{image}")
        };
    }
    if image_tag(&name).is_none() && !name.contains('@') {
        name.push_str(":latest");
    }
    name
}

/// Parses a Go duration (`300ms`, `1.5s`, `2m`, `1h30m`, `berth_api::duration`); `None` if it
/// does not parse or is negative.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let nanos = berth_api::duration::parse_go(text.trim()).ok()?;
    u64::try_from(nanos).ok().map(Duration::from_nanos)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn go_durations_parse() {
        let cases = [
            ("0", Some(Duration::ZERO)),
            ("300ms", Some(Duration::from_millis(300))),
            ("2s", Some(Duration::from_secs(2))),
            ("1.5s", Some(Duration::from_millis(1500))),
            ("1m30s", Some(Duration::from_secs(90))),
            ("1h", Some(Duration::from_secs(3600))),
            ("", None),
            ("5", None),
            ("s", None),
            ("3 days", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_duration(text), want, "{text:?}");
        }
    }

    #[test]
    fn image_names_are_qualified_like_containerd() {
        let cases = [
            ("nginx", "docker.io/library/nginx:latest", None),
            ("nginx:1.27", "docker.io/library/nginx:1.27", Some("1.27")),
            (
                "bitnami/nginx:doesnotexist",
                "docker.io/bitnami/nginx:doesnotexist",
                Some("doesnotexist"),
            ),
            ("localhost:5000/app", "localhost:5000/app:latest", None),
            ("registry.k8s.io/pause:3.10", "registry.k8s.io/pause:3.10", Some("3.10")),
        ];
        for (image, qualified, tag) in cases {
            assert_eq!(qualified_image(image), qualified);
            assert_eq!(image_tag(image), tag, "{image}");
        }
    }

    fn sandbox(annotations: &[(&str, &str)]) -> SandboxConfig {
        SandboxConfig {
            name: "web-0".into(),
            namespace: "default".into(),
            uid: "u1".into(),
            attempt: 0,
            hostname: "web-0".into(),
            labels: BTreeMap::new(),
            annotations: annotations.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        }
    }

    fn runtime(cidr: &str) -> SimulatedRuntime {
        SimulatedRuntime::new(SimulatedConfig {
            pod_cidr: cidr.into(),
            start_delay: Duration::ZERO,
            stop_delay: Duration::from_millis(100),
        })
        .unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn pod_ips_come_from_the_cidr_and_are_released() {
        let runtime = runtime("10.244.3.0/29");
        let mut ips = Vec::new();
        let mut ids = Vec::new();
        for _ in 0..5 {
            let s = runtime.run_pod_sandbox(&sandbox(&[])).await.unwrap();
            ips.push(s.ip.unwrap().to_string());
            ids.push(s.id);
        }
        assert_eq!(ips, ["10.244.3.2", "10.244.3.3", "10.244.3.4", "10.244.3.5", "10.244.3.6"]);
        assert!(matches!(
            runtime.run_pod_sandbox(&sandbox(&[])).await,
            Err(RuntimeError::IpExhausted { .. })
        ));
        runtime.remove_pod_sandbox(&ids[1]).await.unwrap();
        let s = runtime.run_pod_sandbox(&sandbox(&[])).await.unwrap();
        assert_eq!(s.ip.unwrap().to_string(), "10.244.3.3");
    }

    async fn started(runtime: &SimulatedRuntime, annotations: &[(&str, &str)]) -> (String, String) {
        let config = sandbox(annotations);
        let s = runtime.run_pod_sandbox(&config).await.unwrap();
        let container = ContainerConfig {
            name: "app".into(),
            image: "nginx".into(),
            image_ref: "docker.io/library/nginx:latest".into(),
            attempt: 0,
            init: false,
        };
        let id = runtime.create_container(&s.id, &container, &config).await.unwrap();
        runtime.start_container(&id).await.unwrap();
        (s.id, id)
    }

    #[tokio::test(start_paused = true)]
    async fn stopping_honours_the_timeout() {
        let cases = [
            // (stop-after annotation, timeout, exit code, reason)
            (None, Duration::from_secs(30), 0, "Completed"),
            (Some("10s"), Duration::from_secs(1), 137, "Error"),
            (Some("1s"), Duration::from_secs(5), 0, "Completed"),
        ];
        for (stop_after, timeout, code, reason) in cases {
            let runtime = runtime("10.244.0.0/24");
            let annotations: Vec<_> =
                stop_after.map(|v| (ANNOTATION_STOP_AFTER, v)).into_iter().collect();
            let (sandbox_id, id) = started(&runtime, &annotations).await;
            let begin = tokio::time::Instant::now();
            runtime.stop_container(&id, timeout).await.unwrap();
            let waited = begin.elapsed();
            let want = stop_after
                .and_then(parse_duration)
                .unwrap_or(Duration::from_millis(100))
                .min(timeout);
            assert_eq!(waited, want, "{stop_after:?}");
            let status = runtime.list_containers(&sandbox_id).await.unwrap().remove(0);
            assert_eq!(
                (status.state, status.exit_code, status.reason.as_str()),
                (ContainerState::Exited, code, reason)
            );
        }
    }

    #[tokio::test]
    async fn knobs_make_containers_exit_and_stay_unready() {
        let runtime = runtime("10.244.0.0/24");
        let (sandbox_id, id) = started(&runtime, &[(ANNOTATION_EXIT_CODE, "3")]).await;
        let status = runtime.list_containers(&sandbox_id).await.unwrap().remove(0);
        assert_eq!(
            (status.state, status.exit_code, status.reason.as_str()),
            (ContainerState::Exited, 3, "Error")
        );
        assert!(runtime.probe_readiness(&id).await.unwrap());

        let (sandbox_id, id) = started(&runtime, &[(ANNOTATION_READY, "false")]).await;
        let status = runtime.list_containers(&sandbox_id).await.unwrap().remove(0);
        assert_eq!(status.state, ContainerState::Running);
        assert!(!runtime.probe_readiness(&id).await.unwrap());

        let error = runtime.pull_image("nginx:doesnotexist", &sandbox(&[])).await.unwrap_err();
        assert!(matches!(error, RuntimeError::ImagePull { .. }), "{error}");
    }
}
