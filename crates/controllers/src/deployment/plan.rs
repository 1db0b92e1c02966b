//! One sync of one Deployment as a pure function: kube-controller-manager's
//! `syncDeployment` (pkg/controller/deployment/deployment_controller.go) with `sync.go`,
//! `rolling.go`, `recreate.go`, `progress.go` and `util/deployment_util.go`, from the
//! Deployment, the ReplicaSets it controls and their pods, to the writes upstream would make,
//! in its order.
//!
//! Upstream writes as it goes (the new set's annotations, the deployment's revision, each
//! scale, the status) and carries the objects it wrote into its next steps; here every step
//! works on copies that the plan updates as the write would, and the status upstream writes
//! several times in a sync (the paused condition, the new set's condition, the rollout status)
//! is written once at the end, when it differs from the observed one. The status counts
//! replicas from the sets as planned (upstream counts some from the sets as they were before
//! its own scaling in the same sync; its next sync corrects them).
//!
//! The pod template hash is upstream's `controller.ComputeHash` in spirit: FNV-1a 32 over the
//! template and, when the status has one, the collision count (as 8 little-endian bytes), the
//! decimal sum safe-encoded (`rand.SafeEncodeString`). Upstream hashes Go's struct dump of the
//! template, which cannot be reproduced here: the template is hashed as the JSON Go's
//! `encoding/json` writes for a generic map (keys sorted, no whitespace; the StatefulSet
//! controller's `go_json`), so names differ from a real cluster's for the same template.
//!
//! The new set is the oldest controlled set whose template equals the deployment's ignoring
//! the `pod-template-hash` label (`FindNewReplicaSet`, empty and absent fields equal as
//! apimachinery's semantic equality has them); a set the shared cache holds without its
//! template (a cache that prunes it) is recognised by its hash label instead, against the
//! hashes of the template under every collision count up to the current one.
//!
//! Left out: the `deprecated.deployment.rollback.to` rollback of `extensions/v1beta1` (berth
//! serves `apps/v1` only; `kubectl rollout undo` patches the template itself), the
//! `terminatingReplicas` count of the alpha `DeploymentReplicaSetTerminatingReplicas` gate,
//! and the `SelectingAll` warning (validation refuses an empty selector).

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentCondition, DeploymentStatus, ReplicaSet, ReplicaSetSpec,
};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    LabelSelector, ObjectMeta, OwnerReference, Time,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use crate::cached_pod::CachedPod;
use crate::meta::{controller_of, name_of, non_zero, scaled_value};
use crate::statefulset::{go_json, safe_encode};

/// `RevisionAnnotation`: a set's place in the rollout sequence (and the deployment's latest).
pub(crate) const REVISION: &str = "deployment.kubernetes.io/revision";
/// `RevisionHistoryAnnotation`: the revisions a set served before it was rolled back to.
pub(crate) const REVISION_HISTORY: &str = "deployment.kubernetes.io/revision-history";
/// `DesiredReplicasAnnotation`: the deployment's replicas when the set was last scaled.
pub(crate) const DESIRED_REPLICAS: &str = "deployment.kubernetes.io/desired-replicas";
/// `MaxReplicasAnnotation`: the deployment's replicas plus its surge then.
pub(crate) const MAX_REPLICAS: &str = "deployment.kubernetes.io/max-replicas";
/// `DefaultDeploymentUniqueLabelKey`.
pub(crate) const HASH_LABEL: &str = "pod-template-hash";
/// `maxRevHistoryLengthInChars`.
const MAX_REVISION_HISTORY_CHARS: usize = 2000;

/// The annotations a deployment does not pass on to its sets (`annotationsToSkip`).
const NOT_COPIED: &[&str] = &[
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION,
    REVISION_HISTORY,
    DESIRED_REPLICAS,
    MAX_REPLICAS,
    "deprecated.deployment.rollback.to",
];

/// Condition types and reasons (`util/deployment_util.go`).
pub(crate) const PROGRESSING: &str = "Progressing";
pub(crate) const AVAILABLE: &str = "Available";
pub(crate) const REPLICA_FAILURE: &str = "ReplicaFailure";
pub(crate) const REPLICA_SET_UPDATED: &str = "ReplicaSetUpdated";
pub(crate) const FAILED_RS_CREATE: &str = "ReplicaSetCreateError";
pub(crate) const NEW_REPLICA_SET: &str = "NewReplicaSetCreated";
pub(crate) const FOUND_NEW_RS: &str = "FoundNewReplicaSet";
pub(crate) const NEW_RS_AVAILABLE: &str = "NewReplicaSetAvailable";
pub(crate) const TIMED_OUT: &str = "ProgressDeadlineExceeded";
pub(crate) const PAUSED: &str = "DeploymentPaused";
pub(crate) const RESUMED: &str = "DeploymentResumed";
pub(crate) const MINIMUM_AVAILABLE: &str = "MinimumReplicasAvailable";
pub(crate) const MINIMUM_UNAVAILABLE: &str = "MinimumReplicasUnavailable";

/// What one sync reads.
#[derive(Debug)]
pub(crate) struct Observed<'a> {
    pub(crate) deployment: &'a Deployment,
    /// The sets the deployment controls (adoption and release are done before planning).
    pub(crate) replica_sets: Vec<&'a ReplicaSet>,
    /// The pods those sets control (only Recreate reads them).
    pub(crate) pods: Vec<&'a CachedPod>,
    pub(crate) now: Timestamp,
}

/// One write, in the order the plan lists them.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Write {
    /// Creates the new set; a name taken by another set is a hash collision.
    Create(Box<ReplicaSet>),
    /// A merge patch of a set, its `resourceVersion` the precondition (the one observed, or the
    /// one the pass's previous write of it returned): annotations, replicas, minReadySeconds.
    Patch {
        name: String,
        resource_version: Option<String>,
        patch: Value,
        /// `(from, to)` when the patch scales the set (a `ScalingReplicaSet` event).
        scaled: Option<(i32, i32)>,
    },
    /// Deletes an old set (history cleanup), uid as precondition.
    Delete { name: String, uid: String },
    /// The deployment's revision annotation (`PUT …/status`, as upstream's `UpdateStatus`).
    Revision(String),
    /// The deployment's status (`PUT …/status`).
    Status(Box<DeploymentStatus>),
}

/// Everything one sync of a deployment does.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Plan {
    pub(crate) writes: Vec<Write>,
    /// When to sync again to check the progress deadline (`requeueStuckDeployment`).
    pub(crate) requeue_after: Option<Duration>,
}

/// Why a deployment cannot be synced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum PlanError {
    /// `intstr.GetScaledValueFromIntOrPercent` (validation refuses these).
    #[error("invalid value for IntOrString: {0}")]
    IntOrPercent(String),
}

/// `syncDeployment` after adoption: the writes of one sync.
pub(crate) fn plan(observed: &Observed<'_>) -> Result<Plan, PlanError> {
    let mut sync = Sync::new(observed)?;
    let d = observed.deployment;
    if d.metadata.deletion_timestamp.is_some() {
        sync.sync_revision(false);
        sync.sync_deployment_status();
    } else {
        sync.check_paused_conditions();
        if paused(d) {
            sync.sync_scale();
        } else {
            sync.sync_revision(false);
            if sync.is_scaling_event() {
                sync.sync_scale();
            } else if is_recreate(d) {
                sync.rollout_recreate(&observed.pods);
            } else {
                sync.rollout_rolling();
            }
        }
    }
    Ok(sync.finish())
}

/// `controller.ComputeHash` over canonical JSON (see the module docs).
pub(crate) fn template_hash(template: &PodTemplateSpec, collision_count: Option<i32>) -> String {
    let text = go_json(&serde_json::to_value(template).unwrap_or(Value::Null));
    let mut bytes = text.into_bytes();
    if let Some(count) = collision_count {
        let mut suffix = [0u8; 8];
        suffix[..4].copy_from_slice(&(count as u32).to_le_bytes());
        bytes.extend_from_slice(&suffix);
    }
    safe_encode(&fnv32a(&bytes).to_string())
}

/// `EqualIgnoreHash`: the templates equal but for the hash label, empty and absent alike.
pub(crate) fn equal_ignore_hash(a: &PodTemplateSpec, b: &PodTemplateSpec) -> bool {
    let normal = |t: &PodTemplateSpec| {
        let mut t = t.clone();
        if let Some(labels) = t.metadata.as_mut().and_then(|m| m.labels.as_mut()) {
            labels.remove(HASH_LABEL);
        }
        semantic(serde_json::to_value(&t).unwrap_or(Value::Null))
    };
    normal(a) == normal(b)
}

/// The controller reference a deployment gives its sets (`metav1.NewControllerRef`).
pub(crate) fn controller_ref(d: &Deployment) -> OwnerReference {
    crate::meta::new_controller_ref(d)
}

/// The status after the new set could not be created (`getNewReplicaSet`'s error path):
/// `Progressing` False with `ReplicaSetCreateError`, when the deployment has a deadline.
pub(crate) fn failed_create_status(
    d: &Deployment,
    message: String,
    now: Timestamp,
) -> Option<DeploymentStatus> {
    progress_deadline(d)?;
    let now = Timestamp::from_second(now.as_second()).unwrap_or(now);
    let mut status = d.status.clone().unwrap_or_default();
    let condition = DeploymentCondition {
        type_: PROGRESSING.to_owned(),
        status: "False".to_owned(),
        reason: Some(FAILED_RS_CREATE.to_owned()),
        message: Some(message),
        last_update_time: Some(Time(now)),
        last_transition_time: Some(Time(now)),
    };
    set_condition(&mut status, condition);
    Some(status)
}

// === helpers of deployment_util.go ===

fn fnv32a(bytes: &[u8]) -> u32 {
    bytes
        .iter()
        .fold(0x811c_9dc5u32, |hash, byte| (hash ^ u32::from(*byte)).wrapping_mul(0x0100_0193))
}

/// A value with nulls, empty objects and empty arrays dropped (and object keys sorted), so
/// that equality is apimachinery's semantic one (nil and empty alike).
fn semantic(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut sorted: BTreeMap<String, Value> = BTreeMap::new();
            for (key, value) in map {
                let value = semantic(value);
                if !is_empty(&value) {
                    sorted.insert(key, value);
                }
            }
            Value::Object(sorted.into_iter().collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(semantic).collect()),
        other => other,
    }
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Object(map) => map.is_empty(),
        Value::Array(items) => items.is_empty(),
        _ => false,
    }
}

fn replicas_of(d: &Deployment) -> i32 {
    d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

fn rs_replicas(rs: &ReplicaSet) -> i32 {
    rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

fn paused(d: &Deployment) -> bool {
    d.spec.as_ref().and_then(|s| s.paused).unwrap_or(false)
}

fn is_recreate(d: &Deployment) -> bool {
    let strategy = d.spec.as_ref().and_then(|s| s.strategy.as_ref());
    strategy.and_then(|s| s.type_.as_deref()) == Some("Recreate")
}

fn is_rolling(d: &Deployment) -> bool {
    !is_recreate(d)
}

/// `HasProgressDeadline`.
fn progress_deadline(d: &Deployment) -> Option<i32> {
    d.spec.as_ref().and_then(|s| s.progress_deadline_seconds).filter(|s| *s != i32::MAX)
}

/// `HasRevisionHistoryLimit`.
fn history_limit(d: &Deployment) -> Option<i32> {
    d.spec.as_ref().and_then(|s| s.revision_history_limit).filter(|l| *l != i32::MAX)
}

/// `ResolveFenceposts`: (surge, unavailable); both zero is one unavailable.
fn fenceposts(d: &Deployment) -> Result<(i32, i32), PlanError> {
    let rolling =
        d.spec.as_ref().and_then(|s| s.strategy.as_ref()).and_then(|s| s.rolling_update.as_ref());
    let zero = IntOrString::Int(0);
    let desired = replicas_of(d);
    let scaled = |value: Option<&IntOrString>, round_up| {
        let value = scaled_value(value.unwrap_or(&zero), desired, round_up);
        value
            .map(|v| v.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32)
            .map_err(PlanError::IntOrPercent)
    };
    let surge = scaled(rolling.and_then(|r| r.max_surge.as_ref()), true)?;
    let unavailable = scaled(rolling.and_then(|r| r.max_unavailable.as_ref()), false)?;
    Ok(if surge == 0 && unavailable == 0 { (0, 1) } else { (surge, unavailable) })
}

/// `MaxSurge`.
fn max_surge(d: &Deployment) -> Result<i32, PlanError> {
    if !is_rolling(d) {
        return Ok(0);
    }
    Ok(fenceposts(d)?.0)
}

/// `MaxUnavailable`.
fn max_unavailable(d: &Deployment) -> Result<i32, PlanError> {
    let desired = replicas_of(d);
    if !is_rolling(d) || desired == 0 {
        return Ok(0);
    }
    Ok(fenceposts(d)?.1.min(desired))
}

fn annotation<'a>(meta: &'a ObjectMeta, key: &str) -> Option<&'a str> {
    meta.annotations.as_ref().and_then(|a| a.get(key)).map(String::as_str)
}

/// `Revision`: 0 when absent or not a number (upstream skips those).
fn revision_of(meta: &ObjectMeta) -> i64 {
    annotation(meta, REVISION).and_then(|r| r.parse().ok()).unwrap_or(0)
}

fn int_annotation(rs: &ReplicaSet, key: &str) -> Option<i32> {
    annotation(&rs.metadata, key).and_then(|v| v.parse().ok())
}

/// `ReplicaSetsByCreationTimestamp`.
fn by_creation(a: &ReplicaSet, b: &ReplicaSet) -> Ordering {
    let created = |rs: &ReplicaSet| rs.metadata.creation_timestamp.as_ref().map(|t| t.0);
    created(a).cmp(&created(b)).then_with(|| name_of(&a.metadata).cmp(name_of(&b.metadata)))
}

/// `ReplicaSetsByRevision`.
fn by_revision(a: &ReplicaSet, b: &ReplicaSet) -> Ordering {
    let (ra, rb) = (revision_of(&a.metadata), revision_of(&b.metadata));
    if ra == rb { by_creation(a, b) } else { ra.cmp(&rb) }
}

fn status_counts(rs: &ReplicaSet) -> (i32, i32, i32) {
    let status = rs.status.as_ref();
    (
        status.map_or(0, |s| s.replicas),
        status.and_then(|s| s.ready_replicas).unwrap_or(0),
        status.and_then(|s| s.available_replicas).unwrap_or(0),
    )
}

fn condition_of<'a>(status: &'a DeploymentStatus, type_: &str) -> Option<&'a DeploymentCondition> {
    status.conditions.iter().flatten().find(|c| c.type_ == type_)
}

/// `SetDeploymentCondition`: nothing changes when status and reason are the same; the
/// transition time stays when the status does.
fn set_condition(status: &mut DeploymentStatus, mut condition: DeploymentCondition) {
    let current = condition_of(status, &condition.type_);
    if let Some(current) = current {
        if current.status == condition.status && current.reason == condition.reason {
            return;
        }
        if current.status == condition.status {
            condition.last_transition_time = current.last_transition_time.clone();
        }
    }
    remove_condition(status, &condition.type_);
    status.conditions.get_or_insert_default().push(condition);
}

fn remove_condition(status: &mut DeploymentStatus, type_: &str) {
    if let Some(conditions) = status.conditions.as_mut() {
        conditions.retain(|c| c.type_ != type_);
    }
}

// === one sync ===

const EMPTY_STATUS: DeploymentStatus = DeploymentStatus {
    available_replicas: None,
    collision_count: None,
    conditions: None,
    observed_generation: None,
    ready_replicas: None,
    replicas: None,
    terminating_replicas: None,
    unavailable_replicas: None,
    updated_replicas: None,
};

/// The working state of one sync: the deployment as upstream's copy of it changes, and the
/// sets as the planned writes change them.
struct Sync<'a> {
    d: Deployment,
    original: &'a Deployment,
    sets: Vec<ReplicaSet>,
    /// The new set's index in `sets`.
    new: Option<usize>,
    surge: i32,
    unavailable: i32,
    now: Timestamp,
    writes: Vec<Write>,
    requeue_after: Option<Duration>,
}

impl<'a> Sync<'a> {
    fn new(observed: &Observed<'a>) -> Result<Sync<'a>, PlanError> {
        let d = observed.deployment;
        let mut sets: Vec<ReplicaSet> =
            observed.replica_sets.iter().map(|rs| (*rs).clone()).collect();
        sets.sort_by(by_creation);
        let new = find_new(d, &sets);
        let mut working = d.clone();
        working.status.get_or_insert_default();
        Ok(Sync {
            d: working,
            original: d,
            sets,
            new,
            surge: max_surge(d)?,
            unavailable: max_unavailable(d)?,
            // Times are written to the second: keep planned and stored conditions comparable.
            now: Timestamp::from_second(observed.now.as_second()).unwrap_or(observed.now),
            writes: Vec::new(),
            requeue_after: None,
        })
    }

    fn replicas(&self) -> i32 {
        replicas_of(&self.d)
    }

    fn status(&self) -> &DeploymentStatus {
        // `new` makes it `Some`.
        self.d.status.as_ref().unwrap_or(&EMPTY_STATUS)
    }

    fn status_mut(&mut self) -> &mut DeploymentStatus {
        self.d.status.get_or_insert_default()
    }

    fn condition(
        &self,
        type_: &str,
        status: &str,
        reason: &str,
        message: String,
    ) -> DeploymentCondition {
        DeploymentCondition {
            type_: type_.to_owned(),
            status: status.to_owned(),
            reason: Some(reason.to_owned()),
            message: Some(message),
            last_update_time: Some(Time(self.now)),
            last_transition_time: Some(Time(self.now)),
        }
    }

    fn old_indices(&self) -> Vec<usize> {
        (0..self.sets.len()).filter(|i| Some(*i) != self.new).collect()
    }

    fn new_name(&self) -> Option<String> {
        self.new.map(|i| name_of(&self.sets[i].metadata).to_owned())
    }

    /// The deployment's replicas and replicas plus surge, as the sets' annotations carry them.
    fn replica_annotations(&self) -> (String, String) {
        let replicas = self.replicas();
        (replicas.to_string(), replicas.saturating_add(self.surge).to_string())
    }

    fn finish(self) -> Plan {
        let mut writes = self.writes;
        let revision = annotation(&self.d.metadata, REVISION);
        if revision != annotation(&self.original.metadata, REVISION)
            && let Some(revision) = revision
        {
            writes.push(Write::Revision(revision.to_owned()));
        }
        let status = self.d.status.clone().unwrap_or_default();
        if status != self.original.status.clone().unwrap_or_default() {
            writes.push(Write::Status(Box::new(status)));
        }
        Plan { writes, requeue_after: self.requeue_after }
    }

    /// `checkPausedConditions`.
    fn check_paused_conditions(&mut self) {
        if progress_deadline(&self.d).is_none() {
            return;
        }
        let current = condition_of(self.status(), PROGRESSING);
        if current.is_some_and(|c| c.reason.as_deref() == Some(TIMED_OUT)) {
            return;
        }
        let paused_exists = current.is_some_and(|c| c.reason.as_deref() == Some(PAUSED));
        if paused(&self.d) && !paused_exists {
            let condition =
                self.condition(PROGRESSING, "Unknown", PAUSED, "Deployment is paused".into());
            set_condition(self.status_mut(), condition);
        } else if !paused(&self.d) && paused_exists {
            let condition =
                self.condition(PROGRESSING, "Unknown", RESUMED, "Deployment is resumed".into());
            set_condition(self.status_mut(), condition);
        }
    }

    /// `getAllReplicaSetsAndSyncRevision` → `getNewReplicaSet`. Upstream calls it up to
    /// three times in a sync; it is idempotent once its writes are planned.
    fn sync_revision(&mut self, create: bool) {
        let max_old = self
            .old_indices()
            .iter()
            .map(|i| revision_of(&self.sets[*i].metadata))
            .max()
            .unwrap_or(0);
        let new_revision = max_old.saturating_add(1);
        if let Some(index) = self.new {
            let mut copy = self.sets[index].clone();
            let annotations_updated = self.set_new_annotations(&mut copy, new_revision, true);
            let min_ready = self.d.spec.as_ref().and_then(|s| s.min_ready_seconds);
            let rs_min_ready = copy.spec.as_ref().and_then(|s| s.min_ready_seconds);
            if annotations_updated || min_ready.unwrap_or(0) != rs_min_ready.unwrap_or(0) {
                copy.spec.get_or_insert_default().min_ready_seconds = min_ready;
                let patch = json!({
                    "metadata": { "annotations": copy.metadata.annotations },
                    "spec": { "minReadySeconds": min_ready.unwrap_or(0) },
                });
                self.writes.push(Write::Patch {
                    name: name_of(&copy.metadata).to_owned(),
                    resource_version: copy.metadata.resource_version.clone(),
                    patch,
                    scaled: None,
                });
                self.sets[index] = copy;
                // Upstream returns the updated set here: the deployment's revision and the
                // condition wait for the next sync.
                return;
            }
            let revision = annotation(&copy.metadata, REVISION).unwrap_or_default().to_owned();
            self.set_revision(&revision);
            if progress_deadline(&self.d).is_some()
                && condition_of(self.status(), PROGRESSING).is_none()
            {
                let message = format!("Found new replica set {:?}", name_of(&copy.metadata));
                let condition = self.condition(PROGRESSING, "True", FOUND_NEW_RS, message);
                set_condition(self.status_mut(), condition);
            }
            return;
        }
        if !create {
            return;
        }
        let d = &self.d;
        let spec = d.spec.clone().unwrap_or_default();
        let collision_count = self.status().collision_count;
        let hash = template_hash(&spec.template, collision_count);
        let mut template = spec.template.clone();
        template
            .metadata
            .get_or_insert_default()
            .labels
            .get_or_insert_default()
            .insert(HASH_LABEL.to_owned(), hash.clone());
        let mut selector: LabelSelector = spec.selector.clone();
        selector.match_labels.get_or_insert_default().insert(HASH_LABEL.to_owned(), hash.clone());
        let name = format!("{}-{hash}", name_of(&d.metadata));
        let mut rs = ReplicaSet {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: d.metadata.namespace.clone(),
                owner_references: Some(vec![controller_ref(d)]),
                labels: template.metadata.as_ref().and_then(|m| m.labels.clone()),
                ..ObjectMeta::default()
            },
            spec: Some(ReplicaSetSpec {
                replicas: Some(0),
                min_ready_seconds: spec.min_ready_seconds,
                selector,
                template: Some(template),
            }),
            status: None,
        };
        self.sets.push(rs.clone());
        let index = self.sets.len() - 1;
        let count = self.new_rs_new_replicas(index);
        rs.spec.get_or_insert_default().replicas = Some(count);
        self.set_new_annotations(&mut rs, new_revision, false);
        self.sets[index] = rs.clone();
        self.new = Some(index);
        self.writes.push(Write::Create(Box::new(rs)));
        self.set_revision(&new_revision.to_string());
        if progress_deadline(&self.d).is_some() {
            let message = format!("Created new replica set {name:?}");
            let condition = self.condition(PROGRESSING, "True", NEW_REPLICA_SET, message);
            set_condition(self.status_mut(), condition);
        }
    }

    /// `SetDeploymentRevision`.
    fn set_revision(&mut self, revision: &str) {
        let annotations = self.d.metadata.annotations.get_or_insert_default();
        if annotations.get(REVISION).map(String::as_str) != Some(revision) {
            annotations.insert(REVISION.to_owned(), revision.to_owned());
        }
    }

    /// `SetNewReplicaSetAnnotations`: whether the set's annotations changed.
    fn set_new_annotations(&self, rs: &mut ReplicaSet, new_revision: i64, exists: bool) -> bool {
        let mut changed = false;
        let annotations = rs.metadata.annotations.get_or_insert_default();
        for (key, value) in self.d.metadata.annotations.iter().flatten() {
            if NOT_COPIED.contains(&key.as_str()) || annotations.get(key) == Some(value) {
                continue;
            }
            annotations.insert(key.clone(), value.clone());
            changed = true;
        }
        let old = annotations.get(REVISION).cloned();
        let old_number: i64 = match old.as_deref() {
            None | Some("") => 0,
            Some(text) => match text.parse() {
                Ok(number) => number,
                Err(_) => return false,
            },
        };
        if old_number < new_revision {
            annotations.insert(REVISION.to_owned(), new_revision.to_string());
            changed = true;
            if let Some(old) = old {
                let history = annotations.get(REVISION_HISTORY).cloned().unwrap_or_default();
                if history.is_empty() {
                    annotations.insert(REVISION_HISTORY.to_owned(), old);
                } else {
                    let mut revisions: Vec<&str> = history.split(',').collect();
                    let mut total = history.len() + old.len() + 1;
                    let mut start = 0;
                    while total > MAX_REVISION_HISTORY_CHARS && start < revisions.len() {
                        total -= revisions[start].len() + 1;
                        start += 1;
                    }
                    if total <= MAX_REVISION_HISTORY_CHARS {
                        revisions = revisions.split_off(start);
                        revisions.push(&old);
                        let joined = revisions.join(",");
                        annotations.insert(REVISION_HISTORY.to_owned(), joined);
                    }
                }
            }
        }
        if !exists {
            let (desired, max) = self.replica_annotations();
            for (key, value) in [(DESIRED_REPLICAS, desired), (MAX_REPLICAS, max)] {
                if annotations.get(key) != Some(&value) {
                    annotations.insert(key.to_owned(), value);
                    changed = true;
                }
            }
        }
        changed
    }

    /// `NewRSNewReplicas` for the set at `index`.
    fn new_rs_new_replicas(&self, index: usize) -> i32 {
        let desired = self.replicas();
        if is_recreate(&self.d) {
            return desired;
        }
        let current: i32 = self.sets.iter().map(rs_replicas).fold(0, i32::saturating_add);
        let new_replicas = rs_replicas(&self.sets[index]);
        let max_total = desired.saturating_add(self.surge);
        if current >= max_total {
            return new_replicas;
        }
        let up = (max_total - current).min(desired - new_replicas);
        new_replicas + up
    }

    /// `scaleReplicaSetAndRecordEvent` (and `scaleReplicaSet`): whether it scaled.
    fn scale(&mut self, index: usize, to: i32) -> bool {
        let from = rs_replicas(&self.sets[index]);
        if from == to {
            return false;
        }
        self.scale_set(index, to)
    }

    /// `scaleReplicaSet`: the size and the replica annotations, when either changes.
    fn scale_set(&mut self, index: usize, to: i32) -> bool {
        let (desired, max) = self.replica_annotations();
        let rs = &mut self.sets[index];
        let from = rs_replicas(rs);
        let size_changes = from != to;
        let annotations = rs.metadata.annotations.get_or_insert_default();
        let annotations_change = annotations.get(DESIRED_REPLICAS) != Some(&desired)
            || annotations.get(MAX_REPLICAS) != Some(&max);
        if !size_changes && !annotations_change {
            return false;
        }
        annotations.insert(DESIRED_REPLICAS.to_owned(), desired.clone());
        annotations.insert(MAX_REPLICAS.to_owned(), max.clone());
        rs.spec.get_or_insert_default().replicas = Some(to);
        let patch = json!({
            "metadata": { "annotations": { DESIRED_REPLICAS: desired, MAX_REPLICAS: max } },
            "spec": { "replicas": to },
        });
        self.writes.push(Write::Patch {
            name: name_of(&rs.metadata).to_owned(),
            resource_version: rs.metadata.resource_version.clone(),
            patch,
            scaled: size_changes.then_some((from, to)),
        });
        size_changes
    }

    /// `isScalingEvent`: an active set was sized for other deployment replicas.
    fn is_scaling_event(&self) -> bool {
        let replicas = self.replicas();
        self.sets
            .iter()
            .filter(|rs| rs_replicas(rs) > 0)
            .filter_map(|rs| int_annotation(rs, DESIRED_REPLICAS))
            .any(|desired| desired != replicas)
    }

    /// `sync`: scaling (and, paused, history cleanup) without a rollout.
    fn sync_scale(&mut self) {
        self.sync_revision(false);
        self.proportional_scale();
        if paused(&self.d) {
            self.cleanup();
        }
        self.sync_deployment_status();
    }

    /// `scale`.
    fn proportional_scale(&mut self) {
        let replicas = self.replicas();
        if let Some(index) = self.active_or_latest() {
            if rs_replicas(&self.sets[index]) != replicas {
                self.scale(index, replicas);
            }
            return;
        }
        if self.is_saturated() {
            for index in self.old_indices() {
                if rs_replicas(&self.sets[index]) > 0 {
                    self.scale(index, 0);
                }
            }
            return;
        }
        if !is_rolling(&self.d) {
            return;
        }
        let mut active: Vec<usize> =
            (0..self.sets.len()).filter(|i| rs_replicas(&self.sets[*i]) > 0).collect();
        let total: i32 =
            active.iter().map(|i| rs_replicas(&self.sets[*i])).fold(0, i32::saturating_add);
        let allowed = if replicas > 0 { replicas.saturating_add(self.surge) } else { 0 };
        let to_add = allowed - total;
        let sets = &self.sets;
        // Larger first; equal sizes newer first when scaling up, older first when down.
        if to_add > 0 {
            active.sort_by(|a, b| {
                rs_replicas(&sets[*b])
                    .cmp(&rs_replicas(&sets[*a]))
                    .then_with(|| by_creation(&sets[*b], &sets[*a]))
            });
        } else if to_add < 0 {
            active.sort_by(|a, b| {
                rs_replicas(&sets[*b])
                    .cmp(&rs_replicas(&sets[*a]))
                    .then_with(|| by_creation(&sets[*a], &sets[*b]))
            });
        }
        let mut added = 0i32;
        let mut sizes: Vec<i32> = Vec::with_capacity(active.len());
        for index in &active {
            let rs = &self.sets[*index];
            if to_add != 0 {
                let proportion = self.proportion(rs, to_add, added);
                sizes.push(rs_replicas(rs).saturating_add(proportion));
                added = added.saturating_add(proportion);
            } else {
                sizes.push(rs_replicas(rs));
            }
        }
        for (position, index) in active.iter().enumerate() {
            let mut size = sizes[position];
            if position == 0 && to_add != 0 {
                size = (size + to_add - added).max(0);
            }
            self.scale_set(*index, size);
        }
    }

    /// `FindActiveOrLatest`.
    fn active_or_latest(&self) -> Option<usize> {
        if self.sets.is_empty() {
            return None;
        }
        let active: Vec<usize> =
            (0..self.sets.len()).filter(|i| rs_replicas(&self.sets[*i]) > 0).collect();
        match active.len() {
            0 => self.new.or_else(|| {
                // The newest old set.
                self.old_indices()
                    .into_iter()
                    .max_by(|a, b| by_creation(&self.sets[*a], &self.sets[*b]))
            }),
            1 => Some(active[0]),
            _ => None,
        }
    }

    /// `IsSaturated`.
    fn is_saturated(&self) -> bool {
        let Some(index) = self.new else { return false };
        let rs = &self.sets[index];
        let replicas = self.replicas();
        int_annotation(rs, DESIRED_REPLICAS) == Some(replicas)
            && rs_replicas(rs) == replicas
            && status_counts(rs).2 == replicas
    }

    /// `GetReplicaSetProportion`.
    fn proportion(&self, rs: &ReplicaSet, to_add: i32, added: i32) -> i32 {
        if rs_replicas(rs) == 0 || to_add == 0 || to_add == added {
            return 0;
        }
        let fraction = self.fraction(rs);
        let allowed = to_add - added;
        if to_add > 0 { fraction.min(allowed) } else { fraction.max(allowed) }
    }

    /// `getReplicaSetFraction`.
    fn fraction(&self, rs: &ReplicaSet) -> i32 {
        let replicas = self.replicas();
        if replicas == 0 {
            return -rs_replicas(rs);
        }
        let deployment_replicas = replicas.saturating_add(self.surge);
        let annotated =
            int_annotation(rs, MAX_REPLICAS).unwrap_or_else(|| self.status().replicas.unwrap_or(0));
        if annotated == 0 {
            return 0;
        }
        let size =
            f64::from(rs_replicas(rs)) * f64::from(deployment_replicas) / f64::from(annotated);
        (size.round() as i32).saturating_sub(rs_replicas(rs))
    }

    /// `rolloutRolling`.
    fn rollout_rolling(&mut self) {
        self.sync_revision(true);
        if self.reconcile_new() {
            return self.sync_rollout_status();
        }
        if self.reconcile_old() {
            return self.sync_rollout_status();
        }
        if self.complete_by_status() {
            self.cleanup();
        }
        self.sync_rollout_status();
    }

    /// `reconcileNewReplicaSet`.
    fn reconcile_new(&mut self) -> bool {
        let Some(index) = self.new else { return false };
        let replicas = self.replicas();
        let current = rs_replicas(&self.sets[index]);
        if current == replicas {
            return false;
        }
        if current > replicas {
            return self.scale(index, replicas);
        }
        let count = self.new_rs_new_replicas(index);
        self.scale(index, count)
    }

    /// `reconcileOldReplicaSets` with `cleanupUnhealthyReplicas` and
    /// `scaleDownOldReplicaSetsForRollingUpdate`.
    fn reconcile_old(&mut self) -> bool {
        let old: Vec<usize> =
            self.old_indices().into_iter().filter(|i| rs_replicas(&self.sets[*i]) > 0).collect();
        let old_count: i32 = old.iter().map(|i| rs_replicas(&self.sets[*i])).sum();
        if old_count == 0 {
            return false;
        }
        let all_count: i32 = self.sets.iter().map(rs_replicas).sum();
        let min_available = self.replicas() - self.unavailable;
        let new_unavailable = self.new.map_or(0, |i| {
            let rs = &self.sets[i];
            rs_replicas(rs) - status_counts(rs).2
        });
        let max_scaled_down = all_count - min_available - new_unavailable;
        if max_scaled_down <= 0 {
            return false;
        }
        // Unhealthy replicas of old sets first: removing them costs no availability.
        let mut old = old;
        old.sort_by(|a, b| by_creation(&self.sets[*a], &self.sets[*b]));
        let mut cleaned = 0;
        for index in &old {
            if cleaned >= max_scaled_down {
                break;
            }
            let rs = &self.sets[*index];
            let replicas = rs_replicas(rs);
            let available = status_counts(rs).2;
            if replicas == 0 || replicas == available {
                continue;
            }
            let down = (max_scaled_down - cleaned).min(replicas - available);
            self.scale(*index, replicas - down);
            cleaned += down;
        }
        // Then as far as availability allows.
        let available: i32 = self.sets.iter().map(|rs| status_counts(rs).2).sum();
        let mut scaled = 0;
        if available > min_available {
            let to_scale = available - min_available;
            for index in &old {
                if scaled >= to_scale {
                    break;
                }
                let replicas = rs_replicas(&self.sets[*index]);
                if replicas == 0 {
                    continue;
                }
                let down = replicas.min(to_scale - scaled);
                self.scale(*index, replicas - down);
                scaled += down;
            }
        }
        cleaned + scaled > 0
    }

    /// `rolloutRecreate`.
    fn rollout_recreate(&mut self, pods: &[&CachedPod]) {
        self.sync_revision(false);
        let mut scaled_down = false;
        for index in self.old_indices() {
            if rs_replicas(&self.sets[index]) > 0 && self.scale(index, 0) {
                scaled_down = true;
            }
        }
        if scaled_down {
            return self.sync_rollout_status();
        }
        if self.old_pods_running(pods) {
            return self.sync_rollout_status();
        }
        if self.new.is_none() {
            self.sync_revision(true);
        }
        if let Some(index) = self.new {
            let replicas = self.replicas();
            self.scale(index, replicas);
        }
        if self.complete_by_status() {
            self.cleanup();
        }
        self.sync_rollout_status();
    }

    /// `oldPodsRunning`.
    fn old_pods_running(&self, pods: &[&CachedPod]) -> bool {
        let old_actual: i32 =
            self.old_indices().iter().map(|i| status_counts(&self.sets[*i]).0).sum();
        if old_actual > 0 {
            return true;
        }
        let new_uid = self.new.and_then(|i| self.sets[i].metadata.uid.as_deref());
        pods.iter().any(|pod| {
            let of_new =
                controller_of(&pod.metadata).is_some_and(|o| Some(o.uid.as_str()) == new_uid);
            let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
            !of_new && !matches!(phase, Some("Failed" | "Succeeded"))
        })
    }

    /// `cleanupDeployment`: the oldest sets beyond `revisionHistoryLimit`, if they are idle.
    fn cleanup(&mut self) {
        let Some(limit) = history_limit(&self.d) else { return };
        let mut cleanable: Vec<usize> = self
            .old_indices()
            .into_iter()
            .filter(|i| self.sets[*i].metadata.deletion_timestamp.is_none())
            .collect();
        let excess = cleanable.len() as i64 - i64::from(limit);
        if excess <= 0 {
            return;
        }
        cleanable.sort_by(|a, b| by_revision(&self.sets[*a], &self.sets[*b]));
        for index in cleanable.into_iter().take(excess as usize) {
            let rs = &self.sets[index];
            let observed = rs.status.as_ref().and_then(|s| s.observed_generation).unwrap_or(0);
            if status_counts(rs).0 != 0
                || rs_replicas(rs) != 0
                || rs.metadata.generation.unwrap_or(0) > observed
            {
                continue;
            }
            self.writes.push(Write::Delete {
                name: name_of(&rs.metadata).to_owned(),
                uid: rs.metadata.uid.clone().unwrap_or_default(),
            });
        }
    }

    /// `DeploymentComplete` of the deployment's current status.
    fn complete_by_status(&self) -> bool {
        complete(&self.d, self.status())
    }

    /// `calculateStatus`.
    fn calculate_status(&self) -> DeploymentStatus {
        let (mut actual, mut ready, mut available, mut total) = (0i32, 0i32, 0i32, 0i32);
        for rs in &self.sets {
            let (a, r, v) = status_counts(rs);
            actual = actual.saturating_add(a);
            ready = ready.saturating_add(r);
            available = available.saturating_add(v);
            total = total.saturating_add(rs_replicas(rs));
        }
        let updated = self.new.map_or(0, |i| status_counts(&self.sets[i]).0);
        let current = self.status();
        let mut status = DeploymentStatus {
            observed_generation: non_zero(self.d.metadata.generation.unwrap_or(0)),
            replicas: non_zero(actual),
            updated_replicas: non_zero(updated),
            ready_replicas: non_zero(ready),
            available_replicas: non_zero(available),
            unavailable_replicas: non_zero((total - available).max(0)),
            collision_count: current.collision_count,
            conditions: current.conditions.clone(),
            terminating_replicas: None,
        };
        let condition = if available >= self.replicas() - self.unavailable {
            self.condition(
                AVAILABLE,
                "True",
                MINIMUM_AVAILABLE,
                "Deployment has minimum availability.".into(),
            )
        } else {
            self.condition(
                AVAILABLE,
                "False",
                MINIMUM_UNAVAILABLE,
                "Deployment does not have minimum availability.".into(),
            )
        };
        set_condition(&mut status, condition);
        status
    }

    /// `syncDeploymentStatus`.
    fn sync_deployment_status(&mut self) {
        let status = self.calculate_status();
        self.d.status = Some(status);
    }

    /// `syncRolloutStatus`: the counts, the `Progressing` condition, `ReplicaFailure`.
    fn sync_rollout_status(&mut self) {
        let mut status = self.calculate_status();
        let deadline = progress_deadline(&self.d);
        if deadline.is_none() {
            remove_condition(&mut status, PROGRESSING);
        }
        let current = condition_of(self.status(), PROGRESSING).cloned();
        let complete_rollout = status.replicas == status.updated_replicas
            && current.as_ref().is_some_and(|c| c.reason.as_deref() == Some(NEW_RS_AVAILABLE));
        let new_name = self.new_name();
        let subject = |what: &str| match &new_name {
            Some(name) => format!("ReplicaSet {name:?} {what}"),
            None => format!("Deployment {:?} {what}", name_of(&self.d.metadata)),
        };
        if let Some(deadline) = deadline
            && !complete_rollout
        {
            if complete(&self.d, &status) {
                let message = subject("has successfully progressed.");
                let condition = self.condition(PROGRESSING, "True", NEW_RS_AVAILABLE, message);
                set_condition(&mut status, condition);
            } else if progressing(self.status(), &status) {
                let message = subject("is progressing.");
                let mut condition =
                    self.condition(PROGRESSING, "True", REPLICA_SET_UPDATED, message);
                if let Some(current) = &current {
                    if current.status == "True" {
                        condition.last_transition_time = current.last_transition_time.clone();
                    }
                    remove_condition(&mut status, PROGRESSING);
                }
                set_condition(&mut status, condition);
            } else if timed_out(deadline, &status, self.now) {
                let message = subject("has timed out progressing.");
                let condition = self.condition(PROGRESSING, "False", TIMED_OUT, message);
                set_condition(&mut status, condition);
            }
        }
        match self.replica_failure() {
            Some(failure) => set_condition(&mut status, failure),
            None => remove_condition(&mut status, REPLICA_FAILURE),
        }
        if &status == self.status() {
            self.requeue_after = self.requeue_stuck(&status);
        }
        self.d.status = Some(status);
    }

    /// `getReplicaFailures`: the new set's `ReplicaFailure`, else an old set's.
    fn replica_failure(&self) -> Option<DeploymentCondition> {
        let failure_of = |rs: &ReplicaSet| {
            let conditions = rs.status.as_ref().and_then(|s| s.conditions.as_ref());
            conditions.into_iter().flatten().find(|c| c.type_ == REPLICA_FAILURE).map(|c| {
                DeploymentCondition {
                    type_: c.type_.clone(),
                    status: c.status.clone(),
                    reason: c.reason.clone(),
                    message: c.message.clone(),
                    last_update_time: c.last_transition_time.clone(),
                    last_transition_time: c.last_transition_time.clone(),
                }
            })
        };
        if let Some(failure) = self.new.and_then(|i| failure_of(&self.sets[i])) {
            return Some(failure);
        }
        self.sets.iter().find_map(failure_of)
    }

    /// `requeueStuckDeployment`: when the progress deadline of an unfinished rollout passes.
    fn requeue_stuck(&self, status: &DeploymentStatus) -> Option<Duration> {
        let deadline = progress_deadline(&self.d)?;
        let current = condition_of(self.status(), PROGRESSING)?;
        if complete(&self.d, status) || current.reason.as_deref() == Some(TIMED_OUT) {
            return None;
        }
        let from = current.last_update_time.as_ref().map_or(Timestamp::UNIX_EPOCH, |t| t.0);
        let due = from
            .checked_add(SignedDuration::from_secs(i64::from(deadline)))
            .unwrap_or(Timestamp::MAX);
        let after = Duration::try_from(due.duration_since(self.now)).unwrap_or(Duration::ZERO);
        Some(if after < Duration::from_secs(1) {
            Duration::from_secs(1)
        } else {
            after + Duration::from_secs(1)
        })
    }
}

/// `FindNewReplicaSet` over sets in creation order (see the module docs).
fn find_new(d: &Deployment, sets: &[ReplicaSet]) -> Option<usize> {
    let template = &d.spec.as_ref()?.template;
    // Hashed only when a set has no template to compare.
    let mut hashes: Option<Vec<String>> = None;
    sets.iter().position(|rs| match rs.spec.as_ref().and_then(|s| s.template.as_ref()) {
        Some(rs_template) => equal_ignore_hash(rs_template, template),
        None => {
            let hashes = hashes.get_or_insert_with(|| {
                let collision_count = d.status.as_ref().and_then(|s| s.collision_count);
                // No count, then every count up to the current one.
                let counts = collision_count.into_iter().flat_map(|count| 0..=count);
                std::iter::once(template_hash(template, None))
                    .chain(counts.map(|count| template_hash(template, Some(count))))
                    .collect()
            });
            let label = rs.metadata.labels.as_ref().and_then(|l| l.get(HASH_LABEL));
            label.is_some_and(|hash| hashes.contains(hash))
        }
    })
}

/// `DeploymentComplete`.
fn complete(d: &Deployment, status: &DeploymentStatus) -> bool {
    let replicas = replicas_of(d);
    status.updated_replicas.unwrap_or(0) == replicas
        && status.replicas.unwrap_or(0) == replicas
        && status.available_replicas.unwrap_or(0) == replicas
        && status.observed_generation.unwrap_or(0) >= d.metadata.generation.unwrap_or(0)
}

/// `DeploymentProgressing`.
fn progressing(old: &DeploymentStatus, new: &DeploymentStatus) -> bool {
    let count = |v: Option<i32>| v.unwrap_or(0);
    let old_old = count(old.replicas) - count(old.updated_replicas);
    let new_old = count(new.replicas) - count(new.updated_replicas);
    count(new.updated_replicas) > count(old.updated_replicas)
        || new_old < old_old
        || count(new.ready_replicas) > count(old.ready_replicas)
        || count(new.available_replicas) > count(old.available_replicas)
}

/// `DeploymentTimedOut`.
fn timed_out(deadline: i32, status: &DeploymentStatus, now: Timestamp) -> bool {
    let Some(condition) = condition_of(status, PROGRESSING) else { return false };
    match condition.reason.as_deref() {
        Some(NEW_RS_AVAILABLE) => return false,
        Some(TIMED_OUT) => return true,
        _ => {}
    }
    let from = condition.last_update_time.as_ref().map_or(Timestamp::UNIX_EPOCH, |t| t.0);
    from.checked_add(SignedDuration::from_secs(i64::from(deadline))).is_ok_and(|due| due < now)
}

#[cfg(test)]
mod tests;
