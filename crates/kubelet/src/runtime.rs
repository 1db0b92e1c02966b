//! The `Runtime` seam: what the kubelet asks of a container runtime, shaped like CRI's
//! `RuntimeService` and `ImageService` (pod sandboxes, containers, image pulls), so that the
//! containerd CRI client and the simulated runtime are interchangeable behind it.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::net::IpAddr;
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;

/// A container runtime, as the kubelet sees it. Every method is one CRI call (or close to it);
/// ids are the runtime's own. Implementations must be safe to call concurrently from many pod
/// workers.
#[async_trait::async_trait]
pub trait Runtime: Send + Sync + Debug {
    /// The runtime's name, the scheme of `containerID`s (`containerd`, `simulated`).
    fn name(&self) -> &str;

    /// The runtime's version, for `status.nodeInfo.containerRuntimeVersion` (`simulated://0.1.0`).
    fn version(&self) -> String;

    /// CRI `RunPodSandbox`: creates the pod's sandbox and its network.
    async fn run_pod_sandbox(&self, config: &SandboxConfig) -> Result<SandboxStatus, RuntimeError>;

    /// CRI `StopPodSandbox`: stops every container of the sandbox and tears its network down.
    async fn stop_pod_sandbox(&self, sandbox_id: &str) -> Result<(), RuntimeError>;

    /// CRI `RemovePodSandbox`: removes the sandbox and its containers; releases its IP.
    async fn remove_pod_sandbox(&self, sandbox_id: &str) -> Result<(), RuntimeError>;

    /// CRI `ListPodSandbox`: every sandbox the runtime knows, so a restarted kubelet can adopt.
    async fn list_pod_sandboxes(&self) -> Result<Vec<SandboxStatus>, RuntimeError>;

    /// CRI `PullImage`: returns the image reference (`imageID`).
    async fn pull_image(
        &self,
        image: &str,
        sandbox: &SandboxConfig,
    ) -> Result<String, RuntimeError>;

    /// CRI `CreateContainer`: returns the container id.
    async fn create_container(
        &self,
        sandbox_id: &str,
        config: &ContainerConfig,
        sandbox: &SandboxConfig,
    ) -> Result<String, RuntimeError>;

    /// CRI `StartContainer`.
    async fn start_container(&self, container_id: &str) -> Result<(), RuntimeError>;

    /// CRI `StopContainer`: asks the container to stop, and kills it after `timeout`.
    async fn stop_container(
        &self,
        container_id: &str,
        timeout: Duration,
    ) -> Result<(), RuntimeError>;

    /// CRI `RemoveContainer`.
    async fn remove_container(&self, container_id: &str) -> Result<(), RuntimeError>;

    /// CRI `ListContainers` filtered by sandbox: every attempt of every container, with status.
    async fn list_containers(&self, sandbox_id: &str)
    -> Result<Vec<ContainerStatus>, RuntimeError>;

    /// The outcome of the container's readiness check (CRI `ExecSync` of an exec probe, or the
    /// kubelet's own HTTP/TCP probe, in a CRI runtime). Called only for running containers.
    async fn probe_readiness(&self, container_id: &str) -> Result<bool, RuntimeError>;
}

/// What a sandbox is made from (CRI `PodSandboxConfig`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxConfig {
    /// The pod's name.
    pub name: String,
    /// The pod's namespace.
    pub namespace: String,
    /// The pod's uid.
    pub uid: String,
    /// How many sandboxes this pod had before.
    pub attempt: u32,
    /// The pod's hostname.
    pub hostname: String,
    /// The pod's labels.
    pub labels: BTreeMap<String, String>,
    /// The pod's annotations (the simulated runtime reads its knobs here).
    pub annotations: BTreeMap<String, String>,
}

/// The state of a sandbox (CRI `PodSandboxStatus`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxStatus {
    /// The runtime's id of the sandbox.
    pub id: String,
    /// The pod it belongs to.
    pub pod_uid: String,
    /// The pod's namespace.
    pub namespace: String,
    /// The pod's name.
    pub name: String,
    /// The sandbox's attempt.
    pub attempt: u32,
    /// Whether the sandbox is ready (has its network).
    pub ready: bool,
    /// The pod IP.
    pub ip: Option<IpAddr>,
    /// When it was created.
    pub created_at: Timestamp,
}

/// What a container is made from (CRI `ContainerConfig`, the parts the kubelet fills).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerConfig {
    /// The container's name in the pod spec.
    pub name: String,
    /// The image, as the pod spec names it.
    pub image: String,
    /// The image reference `pull_image` returned.
    pub image_ref: String,
    /// 0 for the first container of this name in the sandbox, then 1, 2, … (the restart count).
    pub attempt: u32,
    /// Whether this is an init container.
    pub init: bool,
}

/// The state of a container (CRI `ContainerState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerState {
    /// Created, not started.
    Created,
    /// Running.
    Running,
    /// Exited (see the exit code).
    Exited,
}

/// The status of one container attempt (CRI `ContainerStatus`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerStatus {
    /// The runtime's id of the container.
    pub id: String,
    /// The container's name in the pod spec.
    pub name: String,
    /// Which attempt this is (see [`ContainerConfig::attempt`]).
    pub attempt: u32,
    /// The image, as the pod spec named it.
    pub image: String,
    /// The image reference.
    pub image_ref: String,
    /// Whether it is an init container.
    pub init: bool,
    /// Its state.
    pub state: ContainerState,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it started, if it did.
    pub started_at: Option<Timestamp>,
    /// When it finished, if it did.
    pub finished_at: Option<Timestamp>,
    /// Its exit code, once exited.
    pub exit_code: i32,
    /// A brief CamelCase reason for the state (`Completed`, `Error`, `OOMKilled`).
    pub reason: String,
    /// A human-readable message for the state.
    pub message: String,
}

/// What a runtime call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The sandbox or container does not exist.
    #[error("{kind} {id} not found")]
    NotFound {
        /// `sandbox` or `container`.
        kind: &'static str,
        /// The id asked for.
        id: String,
    },
    /// The image could not be pulled.
    #[error("failed to pull image {image:?}: {message}")]
    ImagePull {
        /// The image.
        image: String,
        /// Why.
        message: String,
    },
    /// No pod IP is left in the node's pod CIDR.
    #[error("no free pod IP in {cidr}")]
    IpExhausted {
        /// The node's pod CIDR.
        cidr: String,
    },
    /// Any other failure of a runtime call.
    #[error("{operation} failed: {message}")]
    Failed {
        /// The CRI call.
        operation: &'static str,
        /// What the runtime said.
        message: String,
    },
}
