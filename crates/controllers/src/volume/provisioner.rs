//! The local-path provisioner's pure half: which node a claim's volume goes to, and the
//! `pvc-<claim uid>` PersistentVolume it gets (the local-path contract in the common brief;
//! sig-storage-lib-external-provisioner `controller.go` for the flow and event messages).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use k8s_openapi::api::core::v1::{
    HostPathVolumeSource, Node, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm,
    PersistentVolume, PersistentVolumeClaim, PersistentVolumeSpec, VolumeNodeAffinity,
};
use k8s_openapi::api::storage::v1::StorageClass;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::{
    ANN_PROVISIONED_BY, ANN_SELECTED_NODE, ANN_STORAGE_DIR, FINALIZER_PV_PROTECTION, PROVISIONER,
    name_of,
};

/// The label local-path volumes are pinned with.
pub(crate) const HOSTNAME_LABEL: &str = "kubernetes.io/hostname";

/// Where a claim's volume goes, or why it cannot be provisioned (yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Placement {
    /// On this node, whose storage dir is the second field.
    Node(String, String),
    /// Not yet: WaitForFirstConsumer and no node selected.
    Wait,
    /// Never as things are: the message of a `ProvisioningFailed` event.
    Fail(String),
}

/// Picks the node for a claim of `class`. Immediate: a Ready node with a storage dir, fewest
/// local-path volumes first, then by name (`counts` = volumes per node). WaitForFirstConsumer:
/// the node the scheduler selected.
pub(crate) fn place(
    claim: &PersistentVolumeClaim,
    class: &StorageClass,
    nodes: &[Arc<Node>],
    counts: &HashMap<String, usize>,
) -> Placement {
    let class_name = name_of(&class.metadata);
    if super::class::waits_for_first_consumer(class) {
        let selected = claim.metadata.annotations.as_ref().and_then(|a| a.get(ANN_SELECTED_NODE));
        let Some(selected) = selected else { return Placement::Wait };
        let node = nodes.iter().find(|n| n.metadata.name.as_deref() == Some(selected.as_str()));
        return match node.and_then(|n| storage_dir(n)) {
            Some(dir) => Placement::Node(selected.clone(), dir),
            None => Placement::Fail(format!(
                "failed to provision volume with StorageClass \"{class_name}\": node \"{selected}\" has no local-path storage"
            )),
        };
    }
    let best = nodes
        .iter()
        .filter(|n| is_ready(n) && n.metadata.deletion_timestamp.is_none())
        .filter_map(|n| Some((name_of(&n.metadata).to_owned(), storage_dir(n)?)))
        .min_by(|(a, _), (b, _)| {
            let count = |n: &str| counts.get(n).copied().unwrap_or(0);
            count(a).cmp(&count(b)).then_with(|| a.cmp(b))
        });
    match best {
        Some((node, dir)) => Placement::Node(node, dir),
        None => Placement::Fail(format!(
            "failed to provision volume with StorageClass \"{class_name}\": no ready node with local-path storage"
        )),
    }
}

/// The node's storage dir annotation.
fn storage_dir(node: &Node) -> Option<String> {
    node.metadata.annotations.as_ref()?.get(ANN_STORAGE_DIR).filter(|d| !d.is_empty()).cloned()
}

/// Ready=True.
pub(crate) fn is_ready(node: &Node) -> bool {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// The node a local-path volume lives on (its node affinity's hostname value).
pub(crate) fn node_of(volume: &PersistentVolume) -> Option<&str> {
    let terms =
        &volume.spec.as_ref()?.node_affinity.as_ref()?.required.as_ref()?.node_selector_terms;
    terms
        .iter()
        .flat_map(|t| t.match_expressions.iter().flatten())
        .find(|e| e.key == HOSTNAME_LABEL && e.operator == "In")
        .and_then(|e| e.values.as_ref()?.first())
        .map(String::as_str)
}

/// Whether berth's provisioner made this volume.
pub(crate) fn is_ours(volume: &PersistentVolume) -> bool {
    volume.metadata.annotations.as_ref().and_then(|a| a.get(ANN_PROVISIONED_BY)).map(String::as_str)
        == Some(PROVISIONER)
}

/// The PV for `claim` on `node` (storage dir `dir`), exactly as the local-path contract says.
pub(crate) fn volume_for(
    claim: &PersistentVolumeClaim,
    class: &StorageClass,
    node: &str,
    dir: &str,
) -> PersistentVolume {
    let uid = claim.metadata.uid.clone().unwrap_or_default();
    let name = format!("pvc-{uid}");
    let spec = claim.spec.clone().unwrap_or_default();
    let request = spec
        .resources
        .as_ref()
        .and_then(|r| r.requests.as_ref())
        .and_then(|r| r.get("storage"))
        .cloned()
        .unwrap_or_else(|| Quantity("0".to_owned()));
    PersistentVolume {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            annotations: Some(BTreeMap::from([(
                ANN_PROVISIONED_BY.to_owned(),
                PROVISIONER.to_owned(),
            )])),
            finalizers: Some(vec![FINALIZER_PV_PROTECTION.to_owned(), PROVISIONER.to_owned()]),
            ..ObjectMeta::default()
        },
        spec: Some(PersistentVolumeSpec {
            access_modes: spec.access_modes.clone(),
            capacity: Some(BTreeMap::from([("storage".to_owned(), request)])),
            claim_ref: Some(crate::meta::reference_to(claim)),
            host_path: Some(HostPathVolumeSource {
                path: format!("{}/{name}", dir.trim_end_matches('/')),
                type_: Some("DirectoryOrCreate".to_owned()),
            }),
            node_affinity: Some(VolumeNodeAffinity {
                required: Some(NodeSelector {
                    node_selector_terms: vec![NodeSelectorTerm {
                        match_expressions: Some(vec![NodeSelectorRequirement {
                            key: HOSTNAME_LABEL.to_owned(),
                            operator: "In".to_owned(),
                            values: Some(vec![node.to_owned()]),
                        }]),
                        match_fields: None,
                    }],
                }),
            }),
            persistent_volume_reclaim_policy: Some(
                class.reclaim_policy.clone().unwrap_or_else(|| "Delete".to_owned()),
            ),
            storage_class_name: class.metadata.name.clone(),
            volume_mode: Some(spec.volume_mode.unwrap_or_else(|| "Filesystem".to_owned())),
            mount_options: class.mount_options.clone(),
            ..PersistentVolumeSpec::default()
        }),
        status: None,
    }
}
