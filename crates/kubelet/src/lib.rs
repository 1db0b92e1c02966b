//! The node agent: registers its Node and keeps its Lease, runs one worker per pod bound to it
//! (a state machine driving the pod through the [`Runtime`] and writing its status), prepares
//! volumes as real directories and cleans up local-path volumes of its node.
//!
//! Suggested reading order: [`KubeletConfig`] and [`spawn`] here; `node` (registration,
//! status, lease); `pods` (the watch that feeds one worker per pod); `worker` (the pod's
//! lifecycle against the runtime); `status` (the pure core: plan and pod status); `volumes`;
//! `events`; [`runtime`] (the CRI-shaped seam) and [`simulated`] (the kwok-style runtime).

mod events;
mod node;
mod pods;
pub mod runtime;
pub mod simulated;
mod status;
mod volumes;
mod worker;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

pub use berth_api::net::{CidrError, Ipv4Cidr, node_pod_cidr};
pub use runtime::Runtime;
pub use simulated::{SimulatedConfig, SimulatedRuntime};

/// Annotation on the Node: the absolute directory local-path volumes of this node live in.
pub use berth_api::local_path::STORAGE_DIR as STORAGE_DIR_ANNOTATION;

/// What a node has to offer (`status.capacity`; allocatable is the same, nothing is reserved).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeCapacity {
    /// CPU cores (`"8"`, `"500m"`).
    pub cpu: String,
    /// Memory (`"16Gi"`).
    pub memory: String,
    /// How many pods the node takes (`"110"`, the kubelet's default `maxPods`).
    pub pods: String,
    /// Local ephemeral storage (`"100Gi"`).
    pub ephemeral_storage: String,
}

/// Everything one kubelet needs to know. Built by the binary from flags; no defaults here
/// beyond [`KubeletConfig::new`]'s Kubernetes ones.
#[derive(Debug, Clone)]
pub struct KubeletConfig {
    /// The Node's name (`--node-name`), also its `kubernetes.io/hostname` label.
    pub node_name: String,
    /// The node's address (InternalIP, the pods' hostIP).
    pub node_ip: IpAddr,
    /// The node's pod CIDR (`spec.podCIDR`), which pod IPs come from.
    pub pod_cidr: String,
    /// Absolute directory of this node's local-path volumes (`<data dir>/storage`).
    pub storage_dir: PathBuf,
    /// Simulated runtime: how long a sandbox takes to start. While it does, the pod shows
    /// `ContainerCreating`; with no delay the pod's first status is already `Running` (one status
    /// write fewer per pod, as a kubelet whose status manager coalesces writes would see).
    pub start_delay: Duration,
    /// How long after a container started it becomes Ready.
    pub ready_delay: Duration,
    /// Simulated runtime: how long a container takes to stop once asked.
    pub stop_delay: Duration,
    /// What the node offers.
    pub capacity: NodeCapacity,
    /// Extra labels of the Node (the kubelet's `--node-labels`).
    pub labels: BTreeMap<String, String>,
    /// How often each pod worker relists its containers (kubelet's PLEG relist: 1 s).
    pub relist_period: Duration,
    /// First crash-loop and image-pull back-off (10 s); it doubles up to `backoff_max`.
    pub backoff_base: Duration,
    /// Longest back-off (300 s).
    pub backoff_max: Duration,
    /// How often the Lease is renewed (10 s; its duration is 40 s).
    pub heartbeat_interval: Duration,
    /// How often the node status is posted when nothing changed (kubelet's
    /// `nodeStatusReportFrequency`: 5 min).
    pub node_status_interval: Duration,
    /// Events per second the kubelet may write (`--event-qps`: 50); more are dropped.
    pub event_qps: u32,
    /// Events the kubelet may write at once (`--event-burst`: 100).
    pub event_burst: u32,
}

impl KubeletConfig {
    /// A configuration with the Kubernetes defaults and a simulated-runtime zero start delay.
    pub fn new(
        node_name: &str,
        node_ip: IpAddr,
        pod_cidr: &str,
        storage_dir: PathBuf,
    ) -> KubeletConfig {
        KubeletConfig {
            node_name: node_name.to_owned(),
            node_ip,
            pod_cidr: pod_cidr.to_owned(),
            storage_dir,
            start_delay: Duration::ZERO,
            ready_delay: Duration::ZERO,
            stop_delay: Duration::from_millis(100),
            capacity: NodeCapacity {
                cpu: "8".to_owned(),
                memory: "16Gi".to_owned(),
                pods: "110".to_owned(),
                ephemeral_storage: "100Gi".to_owned(),
            },
            labels: BTreeMap::new(),
            relist_period: Duration::from_secs(1),
            backoff_base: Duration::from_secs(10),
            backoff_max: Duration::from_secs(300),
            heartbeat_interval: Duration::from_secs(10),
            node_status_interval: Duration::from_secs(300),
            event_qps: 50,
            event_burst: 100,
        }
    }

    /// The configuration of simulated node `index` of many: named `<name>-<index>`, with the
    /// `index`th /24 of `cluster_cidr` and its own storage directory under this one's.
    pub fn for_node(&self, cluster_cidr: &str, index: usize) -> Result<KubeletConfig, CidrError> {
        let mut config = self.clone();
        config.node_name = format!("{}-{index}", self.node_name);
        config.pod_cidr = node_pod_cidr(cluster_cidr, index)?;
        config.storage_dir = self.storage_dir.join(&config.node_name);
        Ok(config)
    }

    /// The simulated runtime this configuration describes.
    pub fn simulated_runtime(&self) -> Result<SimulatedRuntime, CidrError> {
        SimulatedRuntime::new(SimulatedConfig {
            pod_cidr: self.pod_cidr.clone(),
            start_delay: self.start_delay,
            stop_delay: self.stop_delay,
        })
    }
}

/// What a kubelet's loops share.
pub(crate) struct Context {
    pub(crate) client: kube::Client,
    pub(crate) config: KubeletConfig,
    pub(crate) runtime: Arc<dyn Runtime>,
    pub(crate) events: events::Events,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("config", &self.config)
            .field("runtime", &self.runtime)
            .finish_non_exhaustive()
    }
}

impl Context {
    pub(crate) fn settings(&self) -> status::Settings {
        status::Settings {
            runtime_name: self.runtime.name().to_owned(),
            host_ip: self.config.node_ip,
            ready_delay: self.config.ready_delay,
            backoff_base: self.config.backoff_base,
            backoff_max: self.config.backoff_max,
        }
    }
}

/// A running kubelet. Dropping it does not stop it; [`Kubelet::shutdown`] does, leaving its
/// pods running in the runtime for the next kubelet to adopt.
#[derive(Debug)]
pub struct Kubelet {
    node_name: String,
    tasks: Vec<JoinHandle<()>>,
}

impl Kubelet {
    /// The Node's name.
    pub fn node_name(&self) -> &str {
        &self.node_name
    }

    /// Stops the node loops and every pod worker, and waits until they are gone.
    pub async fn shutdown(self) {
        for task in &self.tasks {
            task.abort();
        }
        for task in self.tasks {
            if let Err(error) = task.await
                && error.is_panic()
            {
                tracing::error!(node = %self.node_name, "kubelet task panicked");
            }
        }
    }
}

/// Starts a kubelet on the current tokio runtime: node registration and heartbeat, the pod
/// workers and the local-path volume cleanup.
pub fn spawn(client: kube::Client, config: KubeletConfig, runtime: Arc<dyn Runtime>) -> Kubelet {
    let node_name = config.node_name.clone();
    let events = events::Events::new(
        client.clone(),
        node_name.clone(),
        config.event_qps,
        config.event_burst,
    );
    let context = Arc::new(Context { client, config, runtime, events });
    let tasks = vec![
        tokio::spawn(node::run(context.clone())),
        tokio::spawn(pods::run(context.clone())),
        tokio::spawn(volumes::run_cleanup(context)),
    ];
    Kubelet { node_name, tasks }
}

/// Starts `count` simulated nodes in this process (for scale tests): node `i` is
/// `template.for_node(cluster_cidr, i)` with its own [`SimulatedRuntime`].
pub fn spawn_simulated_nodes(
    client: &kube::Client,
    template: &KubeletConfig,
    cluster_cidr: &str,
    count: usize,
) -> Result<Vec<Kubelet>, CidrError> {
    let mut kubelets = Vec::with_capacity(count);
    for index in 0..count {
        let config = template.for_node(cluster_cidr, index)?;
        let runtime = Arc::new(config.simulated_runtime()?);
        kubelets.push(spawn(client.clone(), config, runtime));
    }
    Ok(kubelets)
}
