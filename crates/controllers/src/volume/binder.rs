//! The PersistentVolume controller's pure half (kube-controller-manager's
//! pkg/controller/volume/persistentvolume/pv_controller.go: `syncClaim`, `syncUnboundClaim`,
//! `syncBoundClaim`, `syncVolume`, `findBestMatchForClaim`): binds claims to volumes, keeps
//! both phases, releases and reclaims volumes whose claim is gone, and hands claims of
//! berth's class to the provisioner.

use std::collections::{HashMap, HashSet};

use k8s_openapi::api::core::v1::{
    ObjectReference, PersistentVolume, PersistentVolumeClaim, PersistentVolumeClaimStatus,
    PersistentVolumeStatus,
};
use k8s_openapi::api::storage::v1::StorageClass;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use super::provisioner::{self, Placement};
use super::{
    ANN_BETA_STORAGE_PROVISIONER, ANN_BIND_COMPLETED, ANN_BOUND_BY_CONTROLLER, ANN_SELECTED_NODE,
    ANN_STORAGE_PROVISIONER, Change, Observed, PROVISIONER, Source, class, name_of, namespace_of,
    reference_to,
};
use crate::EventType;
use crate::meta::selects;

/// Everything the binder wants done, given what it observes at `now`, in groups: the changes
/// of one claim's (or one volume's) sync, to be applied in order — a volume's claimRef before
/// the claim's volumeName, as `bind` does — while groups may go in parallel.
pub(crate) fn plan(observed: &Observed<'_>, now: Timestamp) -> Vec<Vec<Change>> {
    let mut plan = Plan {
        observed,
        now,
        changes: Vec::new(),
        groups: Vec::new(),
        volumes: observed.volumes.iter().map(|v| (name_of(&v.metadata), &**v)).collect(),
        taken: observed
            .volumes
            .iter()
            .filter(|v| claim_ref(v).is_some())
            .map(|v| name_of(&v.metadata).to_owned())
            .collect(),
        touched: HashSet::new(),
        per_node: HashMap::new(),
        free: Vec::new(),
        prebound: HashMap::new(),
        claims: observed
            .claims
            .iter()
            .map(|c| ((namespace_of(&c.metadata), name_of(&c.metadata)), &**c))
            .collect(),
    };
    let mut sorted: Vec<&PersistentVolume> = observed.volumes.iter().map(|v| &**v).collect();
    sorted.sort_by_key(|v| name_of(&v.metadata));
    for volume in sorted {
        match claim_ref(volume) {
            None => plan.free.push(volume),
            Some(reference) => plan
                .prebound
                .entry((
                    reference.namespace.as_deref().unwrap_or_default(),
                    reference.name.as_deref().unwrap_or_default(),
                ))
                .or_default()
                .push(volume),
        }
    }
    for volume in observed.volumes.iter().filter(|v| provisioner::is_ours(v)) {
        if let Some(node) = provisioner::node_of(volume) {
            *plan.per_node.entry(node.to_owned()).or_default() += 1;
        }
    }
    let mut claims: Vec<&PersistentVolumeClaim> = observed.claims.iter().map(|c| &**c).collect();
    // Oldest first, as the work queue would roughly have them; then by key for determinism.
    claims.sort_by(|a, b| {
        let created =
            |c: &PersistentVolumeClaim| c.metadata.creation_timestamp.as_ref().map(|t| t.0);
        created(a)
            .cmp(&created(b))
            .then_with(|| namespace_of(&a.metadata).cmp(namespace_of(&b.metadata)))
            .then_with(|| name_of(&a.metadata).cmp(name_of(&b.metadata)))
    });
    for claim in claims {
        plan.sync_claim(claim);
        plan.close_group();
    }
    for volume in observed.volumes.iter() {
        if !plan.touched.contains(name_of(&volume.metadata)) {
            plan.sync_volume(volume);
            plan.close_group();
        }
    }
    plan.groups
}

struct Plan<'a> {
    observed: &'a Observed<'a>,
    now: Timestamp,
    /// The group being planned.
    changes: Vec<Change>,
    groups: Vec<Vec<Change>>,
    volumes: HashMap<&'a str, &'a PersistentVolume>,
    /// Volumes with a claimRef, including those this plan binds.
    taken: HashSet<String>,
    /// Volumes this plan already wrote (the volume pass leaves them alone).
    touched: HashSet<String>,
    /// local-path volumes per node, including those this plan provisions.
    per_node: HashMap<String, usize>,
    /// Volumes without a claimRef, by name.
    free: Vec<&'a PersistentVolume>,
    /// Volumes with a claimRef, by the claim (namespace, name) it names, by name.
    prebound: HashMap<(&'a str, &'a str), Vec<&'a PersistentVolume>>,
    claims: HashMap<(&'a str, &'a str), &'a PersistentVolumeClaim>,
}

impl<'a> Plan<'a> {
    fn close_group(&mut self) {
        if !self.changes.is_empty() {
            self.groups.push(std::mem::take(&mut self.changes));
        }
    }

    fn sync_claim(&mut self, claim: &'a PersistentVolumeClaim) {
        let bound_before = annotation(&claim.metadata, ANN_BIND_COMPLETED).is_some();
        let volume_name = claim.spec.as_ref().and_then(|s| s.volume_name.as_deref()).unwrap_or("");
        if !bound_before {
            if claim.metadata.deletion_timestamp.is_some() {
                return;
            }
            if volume_name.is_empty() {
                self.sync_unbound_claim(claim);
            } else {
                self.sync_prebound_claim(claim, volume_name);
            }
            return;
        }
        // syncBoundClaim.
        let volume = self.volumes.get(volume_name).copied();
        match volume {
            _ if volume_name.is_empty() => self.lose(
                claim,
                "Bound claim has lost reference to PersistentVolume. Data on the volume is lost!",
            ),
            None => self.lose(
                claim,
                "Bound claim has lost reference to PersistentVolume. Data on the volume is lost!",
            ),
            Some(volume) => match claim_ref(volume) {
                None => self.bind(claim, volume),
                Some(reference) if refers_to(reference, claim) => self.bind(claim, volume),
                Some(_) => self.lose(
                    claim,
                    "Two claims are bound to the same volume, this one is bound incorrectly",
                ),
            },
        }
    }

    fn sync_unbound_claim(&mut self, claim: &'a PersistentVolumeClaim) {
        let class_name = claim_class(claim);
        let Some(class_name) = class_name else {
            // Retroactive default class assignment (GA in 1.28): a claim created with no
            // class gets the default one once there is one.
            if let Some(default) = class::default_of(self.observed.classes) {
                let mut updated = claim.clone();
                updated.spec.get_or_insert_default().storage_class_name =
                    default.metadata.name.clone();
                self.changes.push(Change::UpdateClaim(updated));
            }
            return;
        };
        let class =
            self.observed.classes.iter().find(|c| name_of(&c.metadata) == class_name).map(|c| &**c);
        let delayed = class.is_some_and(class::waits_for_first_consumer);
        let selected = annotation(&claim.metadata, ANN_SELECTED_NODE);
        if let Some(volume) = self.find_volume(claim, class_name, delayed, selected) {
            self.bind(claim, volume);
            return;
        }
        self.claim_phase(claim, "Pending");
        match class {
            _ if class_name.is_empty() => self.event(
                claim,
                Source::Binder,
                EventType::Normal,
                "FailedBinding",
                "no persistent volumes available for this claim and no storage class is set"
                    .to_owned(),
            ),
            None => self.event(
                claim,
                Source::Binder,
                EventType::Warning,
                "ProvisioningFailed",
                format!("storageclass.storage.k8s.io \"{class_name}\" not found"),
            ),
            Some(_) if delayed && selected.is_none() => self.event(
                claim,
                Source::Binder,
                EventType::Normal,
                "WaitForFirstConsumer",
                "waiting for first consumer to be created before binding".to_owned(),
            ),
            Some(class) if class.provisioner == "kubernetes.io/no-provisioner" => self.event(
                claim,
                Source::Binder,
                EventType::Normal,
                "FailedBinding",
                "no persistent volumes available for this claim and no storage class is set"
                    .to_owned(),
            ),
            Some(class) => self.provision(claim, class),
        }
    }

    /// Dynamic provisioning: the PV controller's annotations and `ExternalProvisioning` event,
    /// then, for berth's class, the provisioner's own work.
    fn provision(&mut self, claim: &'a PersistentVolumeClaim, class: &'a StorageClass) {
        let provisioner = class.provisioner.as_str();
        if annotation(&claim.metadata, ANN_STORAGE_PROVISIONER) != Some(provisioner)
            || annotation(&claim.metadata, ANN_BETA_STORAGE_PROVISIONER) != Some(provisioner)
        {
            let mut updated = claim.clone();
            let annotations = updated.metadata.annotations.get_or_insert_default();
            annotations.insert(ANN_STORAGE_PROVISIONER.to_owned(), provisioner.to_owned());
            annotations.insert(ANN_BETA_STORAGE_PROVISIONER.to_owned(), provisioner.to_owned());
            self.changes.push(Change::UpdateClaim(updated));
            self.event(
                claim,
                Source::Binder,
                EventType::Normal,
                "ExternalProvisioning",
                format!(
                    "waiting for a volume to be created, either by external provisioner \"{provisioner}\" or manually created by system administrator"
                ),
            );
        }
        if provisioner != PROVISIONER {
            return;
        }
        let uid = claim.metadata.uid.as_deref().unwrap_or_default();
        if uid.is_empty() || self.volumes.contains_key(format!("pvc-{uid}").as_str()) {
            return;
        }
        match provisioner::place(claim, class, self.observed.nodes, &self.per_node) {
            Placement::Node(node, dir) => {
                *self.per_node.entry(node.clone()).or_default() += 1;
                let volume = provisioner::volume_for(claim, class, &node, &dir);
                self.changes.push(Change::Provision {
                    claim: reference_to(claim),
                    claim_key: format!(
                        "{}/{}",
                        namespace_of(&claim.metadata),
                        name_of(&claim.metadata)
                    ),
                    volume,
                });
            }
            Placement::Wait => {}
            Placement::Fail(message) => self.event(
                claim,
                Source::Provisioner,
                EventType::Warning,
                "ProvisioningFailed",
                message,
            ),
        }
    }

    /// A claim that names its volume (`spec.volumeName`) but is not bound yet.
    fn sync_prebound_claim(&mut self, claim: &'a PersistentVolumeClaim, volume_name: &str) {
        let Some(volume) = self.volumes.get(volume_name).copied() else {
            self.claim_phase(claim, "Pending");
            return;
        };
        match claim_ref(volume) {
            None => self.bind(claim, volume),
            Some(reference) if refers_to(reference, claim) => self.bind(claim, volume),
            Some(_) => {
                self.claim_phase(claim, "Pending");
                self.event(
                    claim,
                    Source::Binder,
                    EventType::Warning,
                    "FailedBinding",
                    format!("volume \"{volume_name}\" already bound to a different claim."),
                );
            }
        }
    }

    /// The best volume for an unbound claim: one pre-bound to it, else the smallest Available
    /// one that fits (`findMatchingVolume`).
    fn find_volume(
        &self,
        claim: &PersistentVolumeClaim,
        class_name: &str,
        delayed: bool,
        selected: Option<&str>,
    ) -> Option<&'a PersistentVolume> {
        let spec = claim.spec.clone().unwrap_or_default();
        let request = spec
            .resources
            .as_ref()
            .and_then(|r| r.requests.as_ref())
            .and_then(|r| r.get("storage"))
            .and_then(|q| parse_quantity(&q.0))
            .unwrap_or(0);
        let mode = spec.volume_mode.as_deref().unwrap_or("Filesystem");
        let wanted_modes = spec.access_modes.clone().unwrap_or_default();
        let mut best: Option<(&'a PersistentVolume, u128)> = None;
        let key = (namespace_of(&claim.metadata), name_of(&claim.metadata));
        let prebound = self.prebound.get(&key).into_iter().flatten();
        for &volume in prebound.chain(self.free.iter()) {
            let Some(vspec) = volume.spec.as_ref() else { continue };
            let prebound = claim_ref(volume).is_some_and(|r| refers_to(r, claim));
            if !prebound && self.taken.contains(name_of(&volume.metadata)) {
                continue;
            }
            if volume.metadata.deletion_timestamp.is_some() {
                continue;
            }
            let capacity = vspec
                .capacity
                .as_ref()
                .and_then(|c| c.get("storage"))
                .and_then(|q| parse_quantity(&q.0))
                .unwrap_or(0);
            let fits = vspec.volume_mode.as_deref().unwrap_or("Filesystem") == mode
                && volume_class(volume) == class_name
                && capacity >= request
                && wanted_modes
                    .iter()
                    .all(|m| vspec.access_modes.as_ref().is_some_and(|have| have.contains(m)));
            if prebound {
                // A volume pre-bound to this claim is taken if it fits at all.
                if fits {
                    return Some(volume);
                }
                continue;
            }
            if !fits || !selects(spec.selector.as_ref(), volume.metadata.labels.as_ref()) {
                continue;
            }
            if delayed {
                let Some(node) = selected else { continue };
                if provisioner::node_of(volume).is_some_and(|n| n != node) {
                    continue;
                }
            }
            if best.is_none_or(|(_, size)| capacity < size) {
                best = Some((volume, capacity));
            }
        }
        best.map(|(volume, _)| volume)
    }

    /// Makes both sides say the binding, as `bind` does: volume claimRef (and its
    /// bound-by-controller mark when we set it) and phase, claim volumeName, annotations and
    /// status.
    fn bind(&mut self, claim: &PersistentVolumeClaim, volume: &'a PersistentVolume) {
        let volume_name = name_of(&volume.metadata).to_owned();
        self.taken.insert(volume_name.clone());
        self.touched.insert(volume_name.clone());
        let reference = claim_ref(volume);
        if reference.is_none_or(|r| r.uid.as_deref().unwrap_or("").is_empty()) {
            let mut updated = volume.clone();
            let spec = updated.spec.get_or_insert_default();
            spec.claim_ref = Some(reference_to(claim));
            if reference.is_none() {
                updated
                    .metadata
                    .annotations
                    .get_or_insert_default()
                    .insert(ANN_BOUND_BY_CONTROLLER.to_owned(), "yes".to_owned());
            }
            self.changes.push(Change::UpdateVolume(updated));
        }
        self.volume_phase(volume, "Bound", None);

        let named = claim.spec.as_ref().and_then(|s| s.volume_name.as_deref()).unwrap_or("");
        if named != volume_name || annotation(&claim.metadata, ANN_BIND_COMPLETED) != Some("yes") {
            let mut updated = claim.clone();
            updated.spec.get_or_insert_default().volume_name = Some(volume_name.clone());
            let annotations = updated.metadata.annotations.get_or_insert_default();
            annotations.insert(ANN_BIND_COMPLETED.to_owned(), "yes".to_owned());
            if named.is_empty() {
                annotations.insert(ANN_BOUND_BY_CONTROLLER.to_owned(), "yes".to_owned());
            }
            self.changes.push(Change::UpdateClaim(updated));
        }
        let vspec = volume.spec.clone().unwrap_or_default();
        let status = claim.status.clone().unwrap_or_default();
        if status.phase.as_deref() != Some("Bound")
            || status.capacity != vspec.capacity
            || status.access_modes != vspec.access_modes
        {
            let mut updated = claim.clone();
            updated.status = Some(PersistentVolumeClaimStatus {
                phase: Some("Bound".to_owned()),
                capacity: vspec.capacity.clone(),
                access_modes: vspec.access_modes.clone(),
                ..status
            });
            self.changes.push(Change::UpdateClaimStatus(updated));
        }
    }

    fn lose(&mut self, claim: &PersistentVolumeClaim, message: &str) {
        if claim.status.as_ref().and_then(|s| s.phase.as_deref()) != Some("Lost") {
            self.claim_phase(claim, "Lost");
            self.event(claim, Source::Binder, EventType::Warning, "ClaimLost", message.to_owned());
        }
    }

    fn sync_volume(&mut self, volume: &'a PersistentVolume) {
        let Some(reference) = claim_ref(volume) else {
            self.volume_phase(volume, "Available", None);
            return;
        };
        if reference.uid.as_deref().unwrap_or("").is_empty() {
            // Pre-bound to a claim by name; the claim's sync binds it.
            self.volume_phase(volume, "Available", None);
            return;
        }
        let claim = self.claims.get(&(
            reference.namespace.as_deref().unwrap_or_default(),
            reference.name.as_deref().unwrap_or_default(),
        ));
        match claim {
            Some(claim) if claim.metadata.uid == reference.uid => {
                let named = claim.spec.as_ref().and_then(|s| s.volume_name.as_deref());
                if named == Some(name_of(&volume.metadata)) {
                    self.volume_phase(volume, "Bound", None);
                } else if named.is_some_and(|n| !n.is_empty())
                    && annotation(&volume.metadata, ANN_BOUND_BY_CONTROLLER).is_some()
                {
                    // The claim went to another volume; undo our half of this binding.
                    let mut updated = volume.clone();
                    if let Some(spec) = updated.spec.as_mut() {
                        spec.claim_ref = None;
                    }
                    if let Some(annotations) = updated.metadata.annotations.as_mut() {
                        annotations.remove(ANN_BOUND_BY_CONTROLLER);
                    }
                    self.changes.push(Change::UpdateVolume(updated));
                    self.volume_phase(volume, "Available", None);
                }
            }
            _ => self.release(volume),
        }
    }

    /// The claim is gone: Released, then the reclaim policy.
    fn release(&mut self, volume: &'a PersistentVolume) {
        let phase = volume.status.as_ref().and_then(|s| s.phase.as_deref());
        if phase == Some("Failed") {
            return;
        }
        self.volume_phase(volume, "Released", None);
        let policy = volume
            .spec
            .as_ref()
            .and_then(|s| s.persistent_volume_reclaim_policy.as_deref())
            .unwrap_or("Retain");
        match policy {
            "Delete" if provisioner::is_ours(volume) && volume.metadata.deletion_timestamp.is_none() => {
                self.changes.push(Change::DeleteVolume {
                    name: name_of(&volume.metadata).to_owned(),
                    uid: volume.metadata.uid.clone().unwrap_or_default(),
                });
            }
            // Being deleted already: the node removes the directory and the finalizer.
            "Delete" if provisioner::is_ours(volume) => {}
            "Delete" => self.fail(
                volume,
                "VolumeFailedDelete",
                format!(
                    "error getting deleter volume plugin for volume \"{}\": no deletable volume plugin matched",
                    name_of(&volume.metadata)
                ),
            ),
            "Recycle" => self.fail(
                volume,
                "VolumeFailedRecycle",
                "No recycler plugin found for the volume!".to_owned(),
            ),
            _ => {}
        }
    }

    fn fail(&mut self, volume: &'a PersistentVolume, reason: &str, message: String) {
        // The phase change replaces Released's, so drop the one just planned.
        let name = name_of(&volume.metadata);
        self.changes.retain(
            |c| !matches!(c, Change::UpdateVolumeStatus(v) if name_of(&v.metadata) == name),
        );
        self.volume_phase(volume, "Failed", Some(message.clone()));
        self.changes.push(Change::Event {
            object: reference_to(volume),
            source: Source::Binder,
            event_type: EventType::Warning,
            reason: reason.to_owned(),
            message,
        });
    }

    fn volume_phase(&mut self, volume: &PersistentVolume, phase: &str, message: Option<String>) {
        let status = volume.status.clone().unwrap_or_default();
        if status.phase.as_deref() == Some(phase) && status.message == message {
            return;
        }
        let mut updated = volume.clone();
        updated.status = Some(PersistentVolumeStatus {
            phase: Some(phase.to_owned()),
            message,
            reason: None,
            last_phase_transition_time: Some(Time(self.now)),
        });
        self.changes.push(Change::UpdateVolumeStatus(updated));
    }

    fn claim_phase(&mut self, claim: &PersistentVolumeClaim, phase: &str) {
        let status = claim.status.clone().unwrap_or_default();
        if status.phase.as_deref() == Some(phase) {
            return;
        }
        let mut updated = claim.clone();
        updated.status =
            Some(PersistentVolumeClaimStatus { phase: Some(phase.to_owned()), ..status });
        self.changes.push(Change::UpdateClaimStatus(updated));
    }

    fn event(
        &mut self,
        claim: &PersistentVolumeClaim,
        source: Source,
        event_type: EventType,
        reason: &str,
        message: String,
    ) {
        self.changes.push(Change::Event {
            object: reference_to(claim),
            source,
            event_type,
            reason: reason.to_owned(),
            message,
        });
    }
}

/// The deprecated class annotation, still preferred over the field when present
/// (`storagehelpers.GetPersistentVolumeClaimClass` / `GetPersistentVolumeClass`).
const ANN_BETA_STORAGE_CLASS: &str = "volume.beta.kubernetes.io/storage-class";

fn claim_class(claim: &PersistentVolumeClaim) -> Option<&str> {
    annotation(&claim.metadata, ANN_BETA_STORAGE_CLASS)
        .or_else(|| claim.spec.as_ref()?.storage_class_name.as_deref())
}

fn volume_class(volume: &PersistentVolume) -> &str {
    annotation(&volume.metadata, ANN_BETA_STORAGE_CLASS)
        .or_else(|| volume.spec.as_ref()?.storage_class_name.as_deref())
        .unwrap_or("")
}

fn claim_ref(volume: &PersistentVolume) -> Option<&ObjectReference> {
    volume.spec.as_ref()?.claim_ref.as_ref()
}

/// Whether a claimRef names this claim (a ref without uid names any claim of that name).
fn refers_to(reference: &ObjectReference, claim: &PersistentVolumeClaim) -> bool {
    reference.name == claim.metadata.name
        && reference.namespace == claim.metadata.namespace
        && reference
            .uid
            .as_deref()
            .is_none_or(|uid| uid.is_empty() || claim.metadata.uid.as_deref() == Some(uid))
}

fn annotation<'m>(
    meta: &'m k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    key: &str,
) -> Option<&'m str> {
    meta.annotations.as_ref()?.get(key).map(String::as_str)
}

/// A resource quantity in thousandths (`1Gi` → 1073741824000), or None when it is not one
/// (or negative).
pub(crate) fn parse_quantity(text: &str) -> Option<u128> {
    berth_api::quantity::milli(text).and_then(|milli| u128::try_from(milli).ok())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use k8s_openapi::api::core::v1::{Node, PersistentVolume, PersistentVolumeClaim};

    use crate::cached_pod::CachedPod;
    use k8s_openapi::api::storage::v1::StorageClass;
    use serde_json::{Value, json};

    use super::super::{Change, Observed, name_of, protection};
    use super::{parse_quantity, plan};

    #[test]
    fn quantities_compare_like_kubernetes() {
        let gi = 1u128 << 30;
        for (text, thousandths) in [
            ("1Gi", Some(gi * 1000)),
            ("1024Mi", Some(gi * 1000)),
            ("1G", Some(1_000_000_000_000)),
            ("1.5Gi", Some(gi * 1500)),
            ("500m", Some(500)),
            ("2e3", Some(2_000_000)),
            ("10", Some(10_000)),
            ("", None),
            ("Gi", None),
            ("1Xi", None),
        ] {
            assert_eq!(parse_quantity(text), thousandths, "{text}");
        }
    }

    fn object<T: serde::de::DeserializeOwned>(value: Value) -> Arc<T> {
        Arc::new(serde_json::from_value(value).expect("a valid object"))
    }

    fn claim(name: &str, class: &str, size: &str, extra: Value) -> Arc<PersistentVolumeClaim> {
        let mut value = json!({
            "metadata": { "name": name, "namespace": "default", "uid": format!("uid-{name}"),
                          "resourceVersion": "5" },
            "spec": { "accessModes": ["ReadWriteOnce"], "storageClassName": class,
                      "resources": { "requests": { "storage": size } } },
            "status": { "phase": "Pending" },
        });
        merge(&mut value, extra);
        object(value)
    }

    fn volume(name: &str, class: &str, size: &str, extra: Value) -> Arc<PersistentVolume> {
        let mut value = json!({
            "metadata": { "name": name },
            "spec": { "accessModes": ["ReadWriteOnce"], "storageClassName": class,
                      "capacity": { "storage": size }, "persistentVolumeReclaimPolicy": "Retain",
                      "hostPath": { "path": "/x" } },
            "status": { "phase": "Available" },
        });
        merge(&mut value, extra);
        object(value)
    }

    fn node(name: &str, ready: bool) -> Arc<Node> {
        object(json!({
            "metadata": { "name": name, "annotations": { "berth.dev/storage-dir": format!("/{name}") } },
            "status": { "conditions": [{ "type": "Ready", "status": if ready { "True" } else { "False" } }] },
        }))
    }

    fn class(name: &str, provisioner: &str, mode: &str) -> Arc<StorageClass> {
        object(json!({
            "metadata": { "name": name },
            "provisioner": provisioner,
            "reclaimPolicy": "Delete",
            "volumeBindingMode": mode,
        }))
    }

    fn merge(target: &mut Value, patch: Value) {
        match (target, patch) {
            (Value::Object(target), Value::Object(patch)) => {
                for (key, value) in patch {
                    merge(target.entry(key).or_insert(Value::Null), value);
                }
            }
            (target, patch) => *target = patch,
        }
    }

    /// A plan in one line per change, for table tests.
    fn summary(changes: &[Change]) -> Vec<String> {
        changes
            .iter()
            .map(|change| match change {
                Change::UpdateClaim(c) => format!(
                    "claim {} volumeName={} class={} annotations={:?}",
                    name_of(&c.metadata),
                    c.spec.as_ref().and_then(|s| s.volume_name.clone()).unwrap_or_default(),
                    c.spec.as_ref().and_then(|s| s.storage_class_name.clone()).unwrap_or_default(),
                    c.metadata.annotations.clone().unwrap_or_default().keys().collect::<Vec<_>>(),
                ),
                Change::UpdateClaimStatus(c) => format!(
                    "claim {} phase={}",
                    name_of(&c.metadata),
                    c.status.as_ref().and_then(|s| s.phase.clone()).unwrap_or_default()
                ),
                Change::UpdateVolume(v) => format!(
                    "volume {} claimRef={} finalizers={:?}",
                    name_of(&v.metadata),
                    v.spec
                        .as_ref()
                        .and_then(|s| s.claim_ref.as_ref())
                        .and_then(|r| r.uid.clone())
                        .unwrap_or_default(),
                    v.metadata.finalizers.clone().unwrap_or_default(),
                ),
                Change::UpdateVolumeStatus(v) => format!(
                    "volume {} phase={}",
                    name_of(&v.metadata),
                    v.status.as_ref().and_then(|s| s.phase.clone()).unwrap_or_default()
                ),
                Change::Provision { volume, .. } => format!(
                    "provision {} on {}",
                    name_of(&volume.metadata),
                    super::provisioner::node_of(volume).unwrap_or_default()
                ),
                Change::DeleteVolume { name, .. } => format!("delete volume {name}"),
                Change::RemoveClaimProtection(c) => {
                    format!("release claim {}", name_of(&c.metadata))
                }
                Change::Event { event_type, reason, message, .. } => {
                    format!("event {event_type:?} {reason}: {message}")
                }
            })
            .collect()
    }

    struct World {
        claims: Vec<Arc<PersistentVolumeClaim>>,
        volumes: Vec<Arc<PersistentVolume>>,
        classes: Vec<Arc<StorageClass>>,
        nodes: Vec<Arc<Node>>,
        pods: Vec<Arc<CachedPod>>,
    }

    impl World {
        fn plan(&self) -> Vec<String> {
            let observed = Observed {
                claims: &self.claims,
                volumes: &self.volumes,
                classes: &self.classes,
                nodes: &self.nodes,
                pods: &self.pods,
            };
            let mut changes: Vec<Change> =
                plan(&observed, k8s_openapi::jiff::Timestamp::UNIX_EPOCH)
                    .into_iter()
                    .flatten()
                    .collect();
            changes.extend(protection::plan(&observed));
            summary(&changes)
        }
    }

    fn world() -> World {
        World {
            claims: vec![],
            volumes: vec![],
            classes: vec![
                class("local-path", "berth.dev/local-path", "Immediate"),
                class("late", "berth.dev/local-path", "WaitForFirstConsumer"),
            ],
            nodes: vec![node("node-a", true)],
            pods: vec![],
        }
    }

    fn ours_on(name: &str, node: &str, claim: &str) -> Arc<PersistentVolume> {
        volume(
            name,
            "local-path",
            "1Gi",
            json!({
                "metadata": { "annotations": { "pv.kubernetes.io/provisioned-by": "berth.dev/local-path" } },
                "spec": {
                    "persistentVolumeReclaimPolicy": "Delete",
                    "claimRef": { "namespace": "default", "name": claim, "uid": format!("uid-{claim}") },
                    "nodeAffinity": { "required": { "nodeSelectorTerms": [{ "matchExpressions": [
                        { "key": "kubernetes.io/hostname", "operator": "In", "values": [node] }] }] } },
                },
                "status": { "phase": "Bound" },
            }),
        )
    }

    #[test]
    fn binding_and_provisioning_decisions() {
        let annotated = json!({ "metadata": { "annotations": {
            "volume.kubernetes.io/storage-provisioner": "berth.dev/local-path",
            "volume.beta.kubernetes.io/storage-provisioner": "berth.dev/local-path" } } });
        let cases: Vec<(&str, World, Vec<&str>)> = vec![
            (
                "the smallest fitting Available volume",
                World {
                    claims: vec![claim("c", "manual", "1Gi", json!({}))],
                    volumes: vec![
                        volume("big", "manual", "10Gi", json!({})),
                        volume("small", "manual", "2Gi", json!({})),
                        volume("tiny", "manual", "500Mi", json!({})),
                        volume("other-class", "fast", "1Gi", json!({})),
                    ],
                    ..world()
                },
                vec![
                    "volume small claimRef=uid-c finalizers=[]",
                    "volume small phase=Bound",
                    "claim c volumeName=small class=manual annotations=[\"pv.kubernetes.io/bind-completed\", \"pv.kubernetes.io/bound-by-controller\"]",
                    "claim c phase=Bound",
                ],
            ),
            (
                "access modes must all be offered",
                World {
                    claims: vec![claim(
                        "c",
                        "manual",
                        "1Gi",
                        json!({ "spec": { "accessModes": ["ReadWriteMany"] } }),
                    )],
                    volumes: vec![volume("rwo", "manual", "1Gi", json!({}))],
                    ..world()
                },
                vec![
                    "event Warning ProvisioningFailed: storageclass.storage.k8s.io \"manual\" not found",
                ],
            ),
            (
                "a claim of berth's class is provisioned on the ready node",
                World {
                    claims: vec![claim("c", "local-path", "1Gi", json!({}))],
                    nodes: vec![node("node-a", false), node("node-b", true)],
                    ..world()
                },
                vec![
                    "claim c volumeName= class=local-path annotations=[\"volume.beta.kubernetes.io/storage-provisioner\", \"volume.kubernetes.io/storage-provisioner\"]",
                    "event Normal ExternalProvisioning: waiting for a volume to be created, either by external provisioner \"berth.dev/local-path\" or manually created by system administrator",
                    "provision pvc-uid-c on node-b",
                ],
            ),
            (
                "fewest local-path volumes first",
                World {
                    claims: vec![claim("c", "local-path", "1Gi", annotated.clone())],
                    volumes: vec![ours_on("pvc-old", "node-a", "old")],
                    nodes: vec![node("node-a", true), node("node-b", true)],
                    ..world()
                },
                vec![
                    "provision pvc-uid-c on node-b",
                    "volume pvc-old phase=Released",
                    "delete volume pvc-old",
                ],
            ),
            (
                "no ready node",
                World {
                    claims: vec![claim("c", "local-path", "1Gi", annotated.clone())],
                    nodes: vec![node("node-a", false)],
                    ..world()
                },
                vec![
                    "event Warning ProvisioningFailed: failed to provision volume with StorageClass \"local-path\": no ready node with local-path storage",
                ],
            ),
            (
                "WaitForFirstConsumer waits for the selected node",
                World { claims: vec![claim("c", "late", "1Gi", json!({}))], ..world() },
                vec![
                    "event Normal WaitForFirstConsumer: waiting for first consumer to be created before binding",
                ],
            ),
            (
                "the provisioned volume is bound to its claim",
                World {
                    claims: vec![claim("c", "local-path", "1Gi", annotated.clone())],
                    volumes: vec![ours_on("pvc-uid-c", "node-a", "c")],
                    ..world()
                },
                vec![
                    "claim c volumeName=pvc-uid-c class=local-path annotations=[\"pv.kubernetes.io/bind-completed\", \"pv.kubernetes.io/bound-by-controller\", \"volume.beta.kubernetes.io/storage-provisioner\", \"volume.kubernetes.io/storage-provisioner\"]",
                    "claim c phase=Bound",
                ],
            ),
            (
                "Retain keeps a released volume",
                World {
                    volumes: vec![volume(
                        "kept",
                        "manual",
                        "1Gi",
                        json!({
                        "spec": { "claimRef": { "namespace": "default", "name": "gone", "uid": "uid-gone" } },
                        "status": { "phase": "Bound" } }),
                    )],
                    ..world()
                },
                vec!["volume kept phase=Released"],
            ),
            (
                "Delete on a volume berth did not provision fails",
                World {
                    volumes: vec![volume(
                        "foreign",
                        "manual",
                        "1Gi",
                        json!({
                        "spec": { "persistentVolumeReclaimPolicy": "Delete",
                                  "claimRef": { "namespace": "default", "name": "gone", "uid": "uid-gone" } },
                        "status": { "phase": "Bound" } }),
                    )],
                    ..world()
                },
                vec![
                    "volume foreign phase=Failed",
                    "event Warning VolumeFailedDelete: error getting deleter volume plugin for volume \"foreign\": no deletable volume plugin matched",
                ],
            ),
            (
                "a recreated claim of the same name does not get the released volume",
                World {
                    claims: vec![claim(
                        "gone",
                        "manual",
                        "1Gi",
                        json!({ "metadata": { "uid": "uid-new" } }),
                    )],
                    volumes: vec![volume(
                        "kept",
                        "manual",
                        "1Gi",
                        json!({
                        "spec": { "claimRef": { "namespace": "default", "name": "gone", "uid": "uid-gone" } },
                        "status": { "phase": "Released" } }),
                    )],
                    ..world()
                },
                vec![
                    "event Warning ProvisioningFailed: storageclass.storage.k8s.io \"manual\" not found",
                ],
            ),
            (
                "a bound claim whose volume vanished is Lost",
                World {
                    claims: vec![claim(
                        "c",
                        "manual",
                        "1Gi",
                        json!({
                        "metadata": { "annotations": { "pv.kubernetes.io/bind-completed": "yes" } },
                        "spec": { "volumeName": "vanished" }, "status": { "phase": "Bound" } }),
                    )],
                    ..world()
                },
                vec![
                    "claim c phase=Lost",
                    "event Warning ClaimLost: Bound claim has lost reference to PersistentVolume. Data on the volume is lost!",
                ],
            ),
            (
                "a claim naming its volume binds it even with no class match needed by name",
                World {
                    claims: vec![claim(
                        "c",
                        "manual",
                        "1Gi",
                        json!({ "spec": { "volumeName": "named" } }),
                    )],
                    volumes: vec![volume("named", "manual", "1Gi", json!({}))],
                    ..world()
                },
                vec![
                    "volume named claimRef=uid-c finalizers=[]",
                    "volume named phase=Bound",
                    "claim c volumeName=named class=manual annotations=[\"pv.kubernetes.io/bind-completed\"]",
                    "claim c phase=Bound",
                ],
            ),
            (
                "no class: the default class is assigned",
                World {
                    claims: vec![object(
                        json!({ "metadata": { "name": "c", "namespace": "default", "uid": "u" },
                                                "spec": { "resources": { "requests": { "storage": "1Gi" } } } }),
                    )],
                    classes: vec![object(
                        json!({ "metadata": { "name": "local-path", "annotations": {
                        "storageclass.kubernetes.io/is-default-class": "true" } }, "provisioner": "berth.dev/local-path" }),
                    )],
                    ..world()
                },
                vec!["claim c volumeName= class=local-path annotations=[]"],
            ),
        ];
        for (name, world, expected) in cases {
            assert_eq!(world.plan(), expected, "{name}");
        }
    }

    #[test]
    fn protection_finalizers_go_when_nothing_holds_the_object() {
        let marked = json!({ "metadata": { "deletionTimestamp": "2026-01-01T00:00:00Z",
                                           "finalizers": ["kubernetes.io/pvc-protection"] } });
        let pod = |phase: &str, node: &str| -> Arc<CachedPod> {
            object(json!({
                "metadata": { "name": "p", "namespace": "default" },
                "spec": { "nodeName": node, "containers": [],
                          "volumes": [{ "name": "v", "persistentVolumeClaim": { "claimName": "c" } }] },
                "status": { "phase": phase },
            }))
        };
        type Case<'a> = (&'a str, Vec<Arc<CachedPod>>, Vec<&'a str>);
        let cases: Vec<Case<'_>> = vec![
            ("a running pod holds it", vec![pod("Running", "node-a")], vec![]),
            ("a finished pod does not", vec![pod("Succeeded", "node-a")], vec!["release claim c"]),
            ("an unscheduled pod does not", vec![pod("Pending", "")], vec!["release claim c"]),
            ("no pod", vec![], vec!["release claim c"]),
        ];
        for (name, pods, expected) in cases {
            let world = World {
                claims: vec![claim("c", "", "1Gi", marked.clone())],
                pods,
                classes: vec![],
                ..world()
            };
            let plan: Vec<String> =
                world.plan().into_iter().filter(|c| c.starts_with("release")).collect();
            assert_eq!(plan, expected, "{name}");
        }

        let marked_volume = |phase: &str| {
            volume(
                "v",
                "manual",
                "1Gi",
                json!({
                    "metadata": { "deletionTimestamp": "2026-01-01T00:00:00Z",
                                  "finalizers": ["kubernetes.io/pv-protection", "berth.dev/local-path"] },
                    "spec": { "claimRef": { "namespace": "default", "name": "c", "uid": "uid-c" } },
                    "status": { "phase": phase },
                }),
            )
        };
        let bound = World {
            claims: vec![claim(
                "c",
                "manual",
                "1Gi",
                json!({
                "metadata": { "annotations": { "pv.kubernetes.io/bind-completed": "yes" } },
                "spec": { "volumeName": "v" }, "status": { "phase": "Bound",
                "capacity": { "storage": "1Gi" }, "accessModes": ["ReadWriteOnce"] } }),
            )],
            volumes: vec![marked_volume("Bound")],
            ..world()
        };
        assert_eq!(bound.plan(), Vec::<String>::new());
        let released = World { volumes: vec![marked_volume("Released")], ..world() };
        assert_eq!(
            released.plan(),
            vec!["volume v claimRef=uid-c finalizers=[\"berth.dev/local-path\"]"]
        );
    }
}
