//! The Node: registration (create, or adopt and update the existing one), its status
//! (capacity, allocatable, conditions, addresses, nodeInfo), posted when it changes and every
//! `node_status_interval`, and the heartbeat Lease `kube-node-lease/<node>` renewed every
//! `heartbeat_interval` (pkg/kubelet/kubelet_node_status.go, pkg/kubelet/nodelease).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::{
    Node, NodeAddress, NodeCondition, NodeDaemonEndpoints, NodeSpec, NodeStatus, NodeSystemInfo,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, OwnerReference};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams, PostParams};

use crate::status::time;
use crate::{Context, STORAGE_DIR_ANNOTATION};

/// Namespace of the node leases.
const LEASE_NAMESPACE: &str = "kube-node-lease";
/// The Lease's duration (kubelet's `nodeLeaseDurationSeconds`).
const LEASE_DURATION_SECONDS: i32 = 40;
/// The version the Node reports (`kubectl get nodes` VERSION).
pub(crate) const KUBELET_VERSION: &str = "v1.33.0";

/// Errors of the node loops; logged and retried.
#[derive(Debug, thiserror::Error)]
pub(crate) enum NodeError {
    #[error("{action} node {node}")]
    Node {
        action: &'static str,
        node: String,
        #[source]
        source: kube::Error,
    },
    #[error("{action} lease {LEASE_NAMESPACE}/{node}")]
    Lease {
        action: &'static str,
        node: String,
        #[source]
        source: kube::Error,
    },
}

/// Registers the node, then keeps its lease and status fresh. Never returns.
pub(crate) async fn run(context: Arc<Context>) {
    let node_name = context.config.node_name.clone();
    let mut node = loop {
        match register(&context).await {
            Ok(node) => break node,
            Err(error) => {
                tracing::warn!(node = %node_name, error = %error, source = ?std::error::Error::source(&error), "registering the node; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    };
    tracing::info!(node = %node_name, "node registered");
    let mut heartbeat = tokio::time::interval(context.config.heartbeat_interval);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_status_post = tokio::time::Instant::now();
    loop {
        heartbeat.tick().await;
        if let Err(error) = renew_lease(&context, &node).await {
            tracing::warn!(node = %node_name, error = %error, source = ?std::error::Error::source(&error), "renewing the lease");
        }
        if last_status_post.elapsed() >= context.config.node_status_interval {
            match post_status(&context, &node).await {
                Ok(updated) => {
                    node = updated;
                    last_status_post = tokio::time::Instant::now();
                }
                Err(error) => {
                    tracing::warn!(node = %node_name, error = %error, "posting the node status")
                }
            }
        }
    }
}

fn node_error(action: &'static str, context: &Context) -> impl FnOnce(kube::Error) -> NodeError {
    let node = context.config.node_name.clone();
    move |source| NodeError::Node { action, node, source }
}

/// The labels the kubelet sets on its Node (pkg/kubelet/kubelet_node_status.go `initialNode`).
fn labels(context: &Context) -> BTreeMap<String, String> {
    let config = &context.config;
    let arch = go_arch();
    let mut labels = BTreeMap::from([
        ("beta.kubernetes.io/arch".to_owned(), arch.to_owned()),
        ("beta.kubernetes.io/os".to_owned(), "linux".to_owned()),
        ("kubernetes.io/arch".to_owned(), arch.to_owned()),
        ("kubernetes.io/hostname".to_owned(), config.node_name.clone()),
        ("kubernetes.io/os".to_owned(), "linux".to_owned()),
    ]);
    labels.extend(config.labels.clone());
    labels
}

/// The architecture as Go names it.
fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

fn annotations(context: &Context) -> BTreeMap<String, String> {
    BTreeMap::from([
        (STORAGE_DIR_ANNOTATION.to_owned(), context.config.storage_dir.display().to_string()),
        ("volumes.kubernetes.io/controller-managed-attach-detach".to_owned(), "true".to_owned()),
    ])
}

/// Creates the Node, or adopts the existing one (labels, annotations and pod CIDR brought up to
/// date), then posts its status.
async fn register(context: &Context) -> Result<Node, NodeError> {
    let config = &context.config;
    let api: Api<Node> = Api::all(context.client.clone());
    let node = Node {
        metadata: ObjectMeta {
            name: Some(config.node_name.clone()),
            labels: Some(labels(context)),
            annotations: Some(annotations(context)),
            ..ObjectMeta::default()
        },
        spec: Some(NodeSpec {
            pod_cidr: Some(config.pod_cidr.clone()),
            pod_cidrs: Some(vec![config.pod_cidr.clone()]),
            ..NodeSpec::default()
        }),
        status: None,
    };
    let existing = match api.create(&PostParams::default(), &node).await {
        Ok(created) => created,
        Err(kube::Error::Api(status)) if status.code == 409 => {
            let existing =
                api.get(&config.node_name).await.map_err(node_error("reading", context))?;
            let mut patch = serde_json::json!({
                "metadata": {"labels": labels(context), "annotations": annotations(context)},
            });
            // The pod CIDR is set once (kube-controller-manager's rule); an adopted node keeps it.
            if existing.spec.as_ref().and_then(|s| s.pod_cidr.as_ref()).is_none() {
                patch["spec"] =
                    serde_json::json!({"podCIDR": config.pod_cidr, "podCIDRs": [config.pod_cidr]});
            }
            api.patch(&config.node_name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .map_err(node_error("updating", context))?
        }
        Err(error) => return Err(node_error("creating", context)(error)),
    };
    post_status(context, &existing).await
}

fn quantity(text: &str) -> Quantity {
    Quantity(text.to_owned())
}

/// The node's status now, keeping the transition times of unchanged conditions of `current`.
pub(crate) fn node_status(
    context: &Context,
    current: Option<&NodeStatus>,
    now: Timestamp,
) -> NodeStatus {
    let config = &context.config;
    let capacity = BTreeMap::from([
        ("cpu".to_owned(), quantity(&config.capacity.cpu)),
        ("ephemeral-storage".to_owned(), quantity(&config.capacity.ephemeral_storage)),
        ("hugepages-1Gi".to_owned(), quantity("0")),
        ("hugepages-2Mi".to_owned(), quantity("0")),
        ("memory".to_owned(), quantity(&config.capacity.memory)),
        ("pods".to_owned(), quantity(&config.capacity.pods)),
    ]);
    let condition = |type_: &str, status: &str, reason: &str, message: &str| {
        let old = current
            .and_then(|c| c.conditions.as_ref())
            .and_then(|cs| cs.iter().find(|c| c.type_ == type_));
        let transition = match old {
            Some(old) if old.status == status => old.last_transition_time.clone(),
            _ => Some(time(now)),
        };
        NodeCondition {
            type_: type_.to_owned(),
            status: status.to_owned(),
            reason: Some(reason.to_owned()),
            message: Some(message.to_owned()),
            last_heartbeat_time: Some(time(now)),
            last_transition_time: transition,
        }
    };
    let boot_id = format!("{:032x}", boot_id_seed(&config.node_name));
    NodeStatus {
        addresses: Some(vec![
            NodeAddress { type_: "InternalIP".to_owned(), address: config.node_ip.to_string() },
            NodeAddress { type_: "Hostname".to_owned(), address: config.node_name.clone() },
        ]),
        allocatable: Some(capacity.clone()),
        capacity: Some(capacity),
        conditions: Some(vec![
            condition(
                "MemoryPressure",
                "False",
                "KubeletHasSufficientMemory",
                "kubelet has sufficient memory available",
            ),
            condition(
                "DiskPressure",
                "False",
                "KubeletHasNoDiskPressure",
                "kubelet has no disk pressure",
            ),
            condition(
                "PIDPressure",
                "False",
                "KubeletHasSufficientPID",
                "kubelet has sufficient PID available",
            ),
            condition("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
        ]),
        daemon_endpoints: Some(NodeDaemonEndpoints { kubelet_endpoint: None }),
        node_info: Some(NodeSystemInfo {
            architecture: go_arch().to_owned(),
            boot_id: boot_id.clone(),
            container_runtime_version: context.runtime.version(),
            kernel_version: String::new(),
            kube_proxy_version: String::new(),
            kubelet_version: KUBELET_VERSION.to_owned(),
            machine_id: boot_id.clone(),
            operating_system: "linux".to_owned(),
            os_image: format!("berth {}", env!("CARGO_PKG_VERSION")),
            system_uuid: boot_id,
            swap: None,
        }),
        ..current.cloned().unwrap_or_default()
    }
}

/// A stable per-node id for nodeInfo's machine and boot ids.
fn boot_id_seed(node_name: &str) -> u128 {
    // FNV-1a: stable across runs, unlike the std hasher.
    let mut hash: u128 = 0x6c62272e07bb014262b821756295c58d;
    for byte in node_name.bytes() {
        hash ^= u128::from(byte);
        hash = hash.wrapping_mul(0x0000000001000000000000000000013B);
    }
    hash
}

async fn post_status(context: &Context, node: &Node) -> Result<Node, NodeError> {
    let status = node_status(context, node.status.as_ref(), Timestamp::now());
    let api: Api<Node> = Api::all(context.client.clone());
    let patch = serde_json::json!({ "status": status });
    api.patch_status(&context.config.node_name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(node_error("posting the status of", context))
}

/// Renews the node's Lease, creating it (owned by the Node) if it is missing.
async fn renew_lease(context: &Context, node: &Node) -> Result<(), NodeError> {
    let name = &context.config.node_name;
    let api: Api<Lease> = Api::namespaced(context.client.clone(), LEASE_NAMESPACE);
    let lease_error = |action: &'static str| {
        move |source| NodeError::Lease { action, node: name.clone(), source }
    };
    let spec = LeaseSpec {
        holder_identity: Some(name.clone()),
        lease_duration_seconds: Some(LEASE_DURATION_SECONDS),
        renew_time: Some(MicroTime(Timestamp::now())),
        ..LeaseSpec::default()
    };
    match api.get_opt(name).await.map_err(lease_error("reading"))? {
        Some(mut lease) => {
            lease.spec = Some(spec);
            api.replace(name, &PostParams::default(), &lease)
                .await
                .map_err(lease_error("renewing"))?;
        }
        None => {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(name.clone()),
                    namespace: Some(LEASE_NAMESPACE.to_owned()),
                    owner_references: node.metadata.uid.clone().map(|uid| {
                        vec![OwnerReference {
                            api_version: "v1".to_owned(),
                            kind: "Node".to_owned(),
                            name: name.clone(),
                            uid,
                            ..OwnerReference::default()
                        }]
                    }),
                    ..ObjectMeta::default()
                },
                spec: Some(spec),
            };
            api.create(&PostParams::default(), &lease).await.map_err(lease_error("creating"))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boot_ids_are_stable_and_distinct() {
        assert_eq!(boot_id_seed("node-1"), boot_id_seed("node-1"));
        assert_ne!(boot_id_seed("node-1"), boot_id_seed("node-2"));
    }
}
