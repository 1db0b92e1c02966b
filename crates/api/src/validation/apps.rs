//! apps/v1 rules (`pkg/apis/apps/validation/validation.go`, and the selector immutability the
//! registry strategies in `pkg/registry/apps/*/strategy.go` add for apps/v1): Deployments,
//! ReplicaSets, DaemonSets and StatefulSets (spec, what an update may change, status) and
//! ControllerRevisions (data is immutable).
//!
//! The four workloads share their selector and pod template rules
//! (`pod_template_for_workload`); upstream has one template function per family and they
//! differ in what they check, which `Workload` records.

use serde_json::Value;

use super::meta::{self, NameRule};
use super::{Errors, Shown, child, get, go_quote, list, map_of, str_or_empty};

pub(crate) fn validate(errs: &mut Errors, kind: &str, object: &Value) {
    let spec = get(object, "spec").unwrap_or(&Value::Null);
    match kind {
        "Deployment" => {
            meta::object_meta(errs, object, true, NameRule::Subdomain);
            deployment_spec(errs, spec);
        }
        "ReplicaSet" => {
            meta::object_meta(errs, object, true, NameRule::Subdomain);
            replica_set_spec(errs, spec);
        }
        "DaemonSet" => {
            meta::object_meta(errs, object, true, NameRule::Subdomain);
            daemon_set_spec(errs, spec);
        }
        "StatefulSet" => {
            meta::object_meta(errs, object, true, NameRule::Label);
            stateful_set_spec(errs, spec);
        }
        "ControllerRevision" => {
            meta::object_meta(errs, object, true, NameRule::Subdomain);
            controller_revision(errs, object);
        }
        other => meta::object_meta(errs, object, true, meta::name_rule(other)),
    }
}

pub(crate) fn validate_update(errs: &mut Errors, kind: &str, object: &Value, old: &Value) {
    let spec = get(object, "spec").unwrap_or(&Value::Null);
    let old_spec = get(old, "spec").unwrap_or(&Value::Null);
    match kind {
        // `ValidateDeploymentUpdate`, `ValidateReplicaSetUpdate`, `ValidateDaemonSetUpdate`: the
        // spec as on create (a DaemonSet's `templateGeneration` is the server's: its strategy
        // keeps it in step with the template), then the selector stays.
        "Deployment" => {
            deployment_spec(errs, spec);
            immutable_selector(errs, spec, old_spec);
        }
        "ReplicaSet" => {
            replica_set_spec(errs, spec);
            immutable_selector(errs, spec, old_spec);
        }
        "DaemonSet" => {
            daemon_set_spec(errs, spec);
            immutable_selector(errs, spec, old_spec);
        }
        "StatefulSet" => {
            stateful_set_spec(errs, spec);
            stateful_set_update(errs, spec, old_spec);
        }
        "ControllerRevision" => {
            controller_revision(errs, object);
            if !super::same(object.get("data"), old.get("data")) {
                errs.invalid(
                    "data",
                    Shown::Raw(raw_extension(object.get("data"))),
                    "field is immutable",
                );
            }
        }
        _ => {}
    }
}

/// A write through the `status` subresource: `Validate*StatusUpdate` (the metadata is checked
/// by the caller).
pub(crate) fn validate_status(errs: &mut Errors, kind: &str, object: &Value, old: &Value) {
    let status = get(object, "status").unwrap_or(&Value::Null);
    match kind {
        "Deployment" => {
            // `ValidateDeploymentStatus`.
            nonnegative_counts(
                errs,
                status,
                &[
                    "observedGeneration",
                    "replicas",
                    "updatedReplicas",
                    "readyReplicas",
                    "availableReplicas",
                    "unavailableReplicas",
                    "collisionCount",
                ],
            );
            at_most_replicas(
                errs,
                status,
                &["updatedReplicas", "readyReplicas", "availableReplicas"],
            );
            available_at_most_ready(errs, status, "cannot be greater than readyReplicas");
            collisions_not_decremented(errs, status, old);
        }
        "ReplicaSet" => {
            // `ValidateReplicaSetStatus`.
            nonnegative_counts(
                errs,
                status,
                &[
                    "replicas",
                    "fullyLabeledReplicas",
                    "readyReplicas",
                    "availableReplicas",
                    "observedGeneration",
                ],
            );
            at_most_replicas(
                errs,
                status,
                &["fullyLabeledReplicas", "readyReplicas", "availableReplicas"],
            );
            available_at_most_ready(errs, status, "cannot be greater than readyReplicas");
        }
        "DaemonSet" => {
            // `validateDaemonSetStatus`.
            nonnegative_counts(
                errs,
                status,
                &[
                    "currentNumberScheduled",
                    "numberMisscheduled",
                    "desiredNumberScheduled",
                    "numberReady",
                    "observedGeneration",
                    "updatedNumberScheduled",
                    "numberAvailable",
                    "numberUnavailable",
                    "collisionCount",
                ],
            );
            collisions_not_decremented(errs, status, old);
        }
        "StatefulSet" => {
            // `ValidateStatefulSetStatus`.
            nonnegative_counts(
                errs,
                status,
                &[
                    "replicas",
                    "readyReplicas",
                    "currentReplicas",
                    "updatedReplicas",
                    "availableReplicas",
                    "observedGeneration",
                    "collisionCount",
                ],
            );
            at_most_replicas(
                errs,
                status,
                &["readyReplicas", "currentReplicas", "updatedReplicas", "availableReplicas"],
            );
            available_at_most_ready(errs, status, "cannot be greater than status.readyReplicas");
            collisions_not_decremented(errs, status, old);
        }
        _ => {}
    }
}

// === deployments and replica sets ===

/// `ValidateDeploymentSpec` (`spec.rollbackTo` is not in apps/v1).
fn deployment_spec(errs: &mut Errors, spec: &Value) {
    errs.nonnegative("spec.replicas", spec.get("replicas"));
    required_selector(errs, spec, "deployment");
    pod_template_for_workload(errs, spec, Workload::ReplicaSet);
    deployment_strategy(errs, get(spec, "strategy").unwrap_or(&Value::Null));
    errs.nonnegative("spec.minReadySeconds", spec.get("minReadySeconds"));
    errs.nonnegative("spec.revisionHistoryLimit", spec.get("revisionHistoryLimit"));
    if let Some(deadline) = get(spec, "progressDeadlineSeconds").and_then(Value::as_i64) {
        errs.nonnegative("spec.progressDeadlineSeconds", spec.get("progressDeadlineSeconds"));
        let min_ready = spec.get("minReadySeconds").and_then(Value::as_i64).unwrap_or(0);
        if deadline <= min_ready {
            errs.invalid(
                "spec.progressDeadlineSeconds",
                deadline,
                "must be greater than minReadySeconds",
            );
        }
    }
}

/// `ValidateDeploymentStrategy`.
fn deployment_strategy(errs: &mut Errors, strategy: &Value) {
    let rolling = get(strategy, "rollingUpdate");
    match str_or_empty(strategy, "type") {
        "Recreate" => {
            if rolling.is_some() {
                errs.forbidden(
                    "spec.strategy.rollingUpdate",
                    "may not be specified when strategy `type` is 'Recreate'",
                );
            }
        }
        "RollingUpdate" => match rolling {
            // Defaults always set it.
            None => errs.required(
                "spec.strategy.rollingUpdate",
                "this should be defaulted and never be nil",
            ),
            Some(rolling) => rolling_update_deployment(errs, rolling),
        },
        other => errs.not_supported(
            "spec.strategy",
            Shown::Raw(format!(
                "apps.DeploymentStrategy{{Type:{}, RollingUpdate:{}}}",
                go_quote(other),
                nested_pointer("apps.RollingUpdateDeployment", rolling)
            )),
            &["Recreate", "RollingUpdate"],
        ),
    }
}

/// `ValidateRollingUpdateDeployment`: at least one of the two is not zero, and at most 100% of
/// the pods may be unavailable (a surge may be larger).
fn rolling_update_deployment(errs: &mut Errors, rolling: &Value) {
    let path = "spec.strategy.rollingUpdate";
    let unavailable = get(rolling, "maxUnavailable");
    let surge = get(rolling, "maxSurge");
    positive_int_or_percent(errs, &child(path, "maxUnavailable"), unavailable);
    positive_int_or_percent(errs, &child(path, "maxSurge"), surge);
    if int_or_percent_value(unavailable) == 0 && int_or_percent_value(surge) == 0 {
        errs.invalid(
            &child(path, "maxUnavailable"),
            show_int_or_string(unavailable),
            "may not be 0 when `maxSurge` is 0",
        );
    }
    not_more_than_100_percent(errs, &child(path, "maxUnavailable"), unavailable);
}

/// `ValidateReplicaSetSpec` (whose empty-selector message names deployments, as upstream's
/// does).
fn replica_set_spec(errs: &mut Errors, spec: &Value) {
    errs.nonnegative("spec.replicas", spec.get("replicas"));
    errs.nonnegative("spec.minReadySeconds", spec.get("minReadySeconds"));
    required_selector(errs, spec, "deployment");
    pod_template_for_workload(errs, spec, Workload::ReplicaSet);
}

// === daemon sets ===

/// `ValidateDaemonSetSpec`. The selector is not required: without one, nothing matches the
/// template's labels.
fn daemon_set_spec(errs: &mut Errors, spec: &Value) {
    if let Some(selector) = get(spec, "selector") {
        meta::label_selector(errs, selector, "spec.selector");
        // Upstream checks this after the template's labels; an empty selector matches them.
        if selector_empty(selector) {
            errs.invalid(
                "spec.selector",
                meta::show_selector(selector),
                "empty selector is invalid for daemonset",
            );
        }
    }
    pod_template_for_workload(errs, spec, Workload::DaemonSet);
    errs.nonnegative("spec.minReadySeconds", spec.get("minReadySeconds"));
    daemon_set_update_strategy(errs, get(spec, "updateStrategy").unwrap_or(&Value::Null));
    errs.nonnegative("spec.revisionHistoryLimit", spec.get("revisionHistoryLimit"));
}

/// `ValidateDaemonSetUpdateStrategy`.
fn daemon_set_update_strategy(errs: &mut Errors, strategy: &Value) {
    let rolling = get(strategy, "rollingUpdate");
    match str_or_empty(strategy, "type") {
        "OnDelete" => {}
        "RollingUpdate" => match rolling {
            None => errs.required("spec.updateStrategy.rollingUpdate", ""),
            Some(rolling) => rolling_update_daemon_set(errs, rolling),
        },
        other => errs.not_supported(
            "spec.updateStrategy",
            Shown::Raw(format!(
                "apps.DaemonSetUpdateStrategy{{Type:{}, RollingUpdate:{}}}",
                go_quote(other),
                nested_pointer("apps.RollingUpdateDaemonSet", rolling)
            )),
            &["RollingUpdate", "OnDelete"],
        ),
    }
}

/// `ValidateRollingUpdateDaemonSet`: exactly one of the two is not zero, neither above 100%.
fn rolling_update_daemon_set(errs: &mut Errors, rolling: &Value) {
    let path = "spec.updateStrategy.rollingUpdate";
    let unavailable = get(rolling, "maxUnavailable");
    let surge = get(rolling, "maxSurge");
    positive_int_or_percent(errs, &child(path, "maxUnavailable"), unavailable);
    positive_int_or_percent(errs, &child(path, "maxSurge"), surge);
    not_more_than_100_percent(errs, &child(path, "maxUnavailable"), unavailable);
    not_more_than_100_percent(errs, &child(path, "maxSurge"), surge);
    match (int_or_percent_value(unavailable) != 0, int_or_percent_value(surge) != 0) {
        (true, true) => errs.invalid(
            &child(path, "maxSurge"),
            show_int_or_string(surge),
            "may not be set when maxUnavailable is non-zero",
        ),
        (false, false) => {
            errs.required(&child(path, "maxUnavailable"), "cannot be 0 when maxSurge is 0")
        }
        _ => {}
    }
}

// === stateful sets ===

/// `ValidateStatefulSetSpec`.
fn stateful_set_spec(errs: &mut Errors, spec: &Value) {
    match str_or_empty(spec, "podManagementPolicy") {
        "" => errs.required("spec.podManagementPolicy", ""),
        "OrderedReady" | "Parallel" => {}
        other => {
            errs.invalid("spec.podManagementPolicy", other, "must be 'OrderedReady' or 'Parallel'")
        }
    }
    let strategy = get(spec, "updateStrategy").unwrap_or(&Value::Null);
    let rolling = get(strategy, "rollingUpdate");
    match str_or_empty(strategy, "type") {
        "" => errs.required("spec.updateStrategy", ""),
        "OnDelete" => {
            if let Some(rolling) = rolling {
                // The pointer is shown dereferenced.
                errs.invalid(
                    "spec.updateStrategy.rollingUpdate",
                    Shown::Raw(format!(
                        "apps.RollingUpdateStatefulSetStrategy{{Partition:{}, MaxUnavailable:{}}}",
                        rolling.get("partition").and_then(Value::as_i64).unwrap_or(0),
                        nested_pointer("intstr.IntOrString", get(rolling, "maxUnavailable"))
                    )),
                    "only allowed for updateStrategy 'RollingUpdate'",
                );
            }
        }
        "RollingUpdate" => {
            if let Some(rolling) = rolling {
                errs.nonnegative(
                    "spec.updateStrategy.rollingUpdate.partition",
                    rolling.get("partition"),
                );
            }
        }
        other => errs.invalid(
            "spec.updateStrategy",
            Shown::Raw(format!(
                "apps.StatefulSetUpdateStrategy{{Type:{}, RollingUpdate:{}}}",
                go_quote(other),
                nested_pointer("apps.RollingUpdateStatefulSetStrategy", rolling)
            )),
            "must be 'RollingUpdate' or 'OnDelete'",
        ),
    }
    if let Some(policy) = get(spec, "persistentVolumeClaimRetentionPolicy") {
        for field in ["whenDeleted", "whenScaled"] {
            let value = str_or_empty(policy, field);
            if !matches!(value, "Retain" | "Delete") {
                errs.not_supported(
                    &child("spec.persistentVolumeClaimRetentionPolicy", field),
                    value,
                    &["Retain", "Delete"],
                );
            }
        }
    }
    errs.nonnegative("spec.replicas", spec.get("replicas"));
    errs.nonnegative("spec.minReadySeconds", spec.get("minReadySeconds"));
    if let Some(ordinals) = get(spec, "ordinals") {
        errs.nonnegative("spec.ordinals.start", ordinals.get("start"));
    }
    required_selector(errs, spec, "statefulset");
    pod_template_for_workload(errs, spec, Workload::StatefulSet);
}

/// `ValidateStatefulSetUpdate`: only these fields of the spec may change (`revisionHistoryLimit`
/// since v1.33, kubernetes/kubernetes#130263).
fn stateful_set_update(errs: &mut Errors, spec: &Value, old: &Value) {
    const MUTABLE: [&str; 7] = [
        "replicas",
        "revisionHistoryLimit",
        "template",
        "updateStrategy",
        "minReadySeconds",
        "ordinals",
        "persistentVolumeClaimRetentionPolicy",
    ];
    let strip = |spec: &Value| {
        let mut spec = spec.clone();
        if let Some(map) = spec.as_object_mut() {
            for field in MUTABLE {
                map.remove(field);
            }
            map.retain(|_, v| !v.is_null());
        }
        spec
    };
    if strip(spec) != strip(old) {
        errs.forbidden(
            "spec",
            "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
        );
    }
}

// === shared by the workloads ===

/// Whose pod template `pod_template_for_workload` checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(clippy::enum_variant_names, reason = "the variants are the kinds upstream names")]
enum Workload {
    /// `ValidatePodTemplateSpecForStatefulSet`: the template's metadata, not its pod spec.
    StatefulSet,
    /// `ValidatePodTemplateSpecForReplicaSet`, for Deployments too: the whole template, and
    /// nothing of it when the selector does not parse.
    ReplicaSet,
    /// `ValidateDaemonSetSpec`'s template rules: the whole template, whatever the selector.
    DaemonSet,
}

impl Workload {
    /// How `activeDeadlineSeconds`' message names the workload.
    fn name(self) -> &'static str {
        match self {
            Workload::StatefulSet => "StatefulSet",
            Workload::ReplicaSet => "ReplicaSet",
            Workload::DaemonSet => "DaemonSet",
        }
    }
}

/// A `spec.selector` a workload requires: present, valid, and not empty (`workload` as the
/// message names it).
fn required_selector(errs: &mut Errors, spec: &Value, workload: &str) {
    match get(spec, "selector") {
        None => errs.required("spec.selector", ""),
        Some(selector) => {
            meta::label_selector(errs, selector, "spec.selector");
            if selector_empty(selector) {
                errs.invalid(
                    "spec.selector",
                    meta::show_selector(selector),
                    &format!("empty selector is invalid for {workload}"),
                );
            }
        }
    }
}

/// `spec.template` of a workload: its labels match `spec.selector` (as
/// `LabelSelectorAsSelector` reads it: no selector selects nothing, an empty one everything),
/// its metadata and (but for StatefulSets) its pod spec are valid, and its pods restart
/// `Always` with no deadline.
fn pod_template_for_workload(errs: &mut Errors, spec: &Value, workload: Workload) {
    let selector = get(spec, "selector");
    let template = get(spec, "template").unwrap_or(&Value::Null);
    let template_meta = get(template, "metadata").unwrap_or(&Value::Null);
    let pod = get(template, "spec").unwrap_or(&Value::Null);
    let parses = selector.is_none_or(meta::valid_selector);
    if parses {
        meta::template_labels_match(errs, selector, template_meta);
    } else {
        let selector = selector.map_or(Shown::Null, meta::show_selector);
        match workload {
            Workload::StatefulSet => errs.invalid("spec.selector", selector, ""),
            Workload::ReplicaSet => {
                errs.invalid("spec.selector", selector, "invalid label selector");
                return;
            }
            Workload::DaemonSet => {}
        }
    }
    if parses || workload == Workload::DaemonSet {
        // `ValidatePodTemplateSpec` (a StatefulSet's pod spec is left out upstream: its
        // volumes may come from claim templates).
        meta::labels(errs, get(template_meta, "labels"), "spec.template.labels");
        meta::annotations(errs, get(template_meta, "annotations"), "spec.template.annotations");
        if workload != Workload::StatefulSet {
            super::core::pod_spec(errs, pod, "spec.template.spec");
            if !list(pod, "ephemeralContainers").is_empty() {
                errs.forbidden(
                    "spec.template.spec.ephemeralContainers",
                    "ephemeral containers not allowed in pod template",
                );
            }
        }
    }
    let restart = str_or_empty(pod, "restartPolicy");
    if restart != "Always" {
        errs.not_supported("spec.template.spec.restartPolicy", restart, &["Always"]);
    }
    if get(pod, "activeDeadlineSeconds").is_some() {
        errs.forbidden(
            "spec.template.spec.activeDeadlineSeconds",
            &format!("activeDeadlineSeconds in {} is not Supported", workload.name()),
        );
    }
}

fn selector_empty(selector: &Value) -> bool {
    map_of(selector, "matchLabels").is_none_or(|m| m.is_empty())
        && list(selector, "matchExpressions").is_empty()
}

/// The strategies' `ValidateImmutableField` of `spec.selector` for apps/v1, which compares with
/// `Semantic.DeepEqual`: a missing list, map or string equals an empty one.
fn immutable_selector(errs: &mut Errors, spec: &Value, old: &Value) {
    let new = get(spec, "selector");
    let unchanged = match (new, get(old, "selector")) {
        (None, None) => true,
        (Some(new), Some(old)) => without_empties(new) == without_empties(old),
        _ => false,
    };
    if !unchanged {
        errs.invalid(
            "spec.selector",
            new.map_or(Shown::Null, meta::show_selector),
            "field is immutable",
        );
    }
}

/// `value` without its null, empty-string, empty-list and empty-map members.
fn without_empties(value: &Value) -> Value {
    let empty = |v: &Value| match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Object(map) => map.is_empty(),
        _ => false,
    };
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(_, v)| !empty(v))
                .map(|(k, v)| (k.clone(), without_empties(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_empties).collect()),
        other => other.clone(),
    }
}

/// A pointer field inside a struct `%#v` shows: `(*T)(nil)`, or an address (elided).
fn nested_pointer(go_type: &str, value: Option<&Value>) -> String {
    match value {
        None => format!("(*{go_type})(nil)"),
        Some(_) => format!("(*{go_type})(…)"),
    }
}

/// `runtime.RawExtension` as `%#v` shows it, shortened to its JSON.
fn raw_extension(data: Option<&Value>) -> String {
    let json = data.map(Value::to_string).unwrap_or_default();
    format!("runtime.RawExtension{{Raw:[]uint8({}), Object:runtime.Object(nil)}}", go_quote(&json))
}

// === int-or-percent values ===

/// `ValidatePositiveIntOrPercent`: a count that is not negative, or a `[0-9]+%` percentage. A
/// missing value is a zero.
pub(crate) fn positive_int_or_percent(errs: &mut Errors, field: &str, value: Option<&Value>) {
    match value {
        Some(Value::String(text)) => {
            if percent(text).is_none() {
                errs.invalid(field, show_int_or_string(value), PERCENT_MESSAGE);
            }
        }
        other => errs.nonnegative(field, other),
    }
}

/// `IsNotMoreThan100Percent`: a percentage is at most 100% (a count may be anything).
pub(crate) fn not_more_than_100_percent(errs: &mut Errors, field: &str, value: Option<&Value>) {
    if let Some(Value::String(text)) = value
        && percent(text).is_some_and(|p| p > 100)
    {
        errs.invalid(field, show_int_or_string(value), "must not be greater than 100%");
    }
}

/// `getIntOrPercentValue`: the number of a percentage, else `IntValue` (a string that is not a
/// percentage counts as the integer it spells, or 0).
fn int_or_percent_value(value: Option<&Value>) -> i64 {
    match value {
        Some(Value::String(text)) => match percent(text) {
            Some(p) => i64::try_from(p).unwrap_or(i64::MAX),
            None => text.parse().unwrap_or(0),
        },
        Some(other) => other.as_i64().unwrap_or(0),
        None => 0,
    }
}

/// An `intstr.IntOrString` as `%#v` shows it (a missing one is the zero integer).
fn show_int_or_string(value: Option<&Value>) -> Shown {
    Shown::Raw(match value {
        Some(Value::String(text)) => {
            format!("intstr.IntOrString{{Type:1, IntVal:0, StrVal:{}}}", go_quote(text))
        }
        other => format!(
            "intstr.IntOrString{{Type:0, IntVal:{}, StrVal:\"\"}}",
            other.and_then(Value::as_i64).unwrap_or(0)
        ),
    })
}

/// `IsValidPercent`'s message.
const PERCENT_MESSAGE: &str = "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')";

/// The number of a `[0-9]+%` percent string.
fn percent(text: &str) -> Option<u64> {
    let digits = text.strip_suffix('%')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(digits.parse().unwrap_or(u64::MAX))
}

// === status counts ===

/// `ValidateNonnegativeField` of each count (a missing count is 0).
fn nonnegative_counts(errs: &mut Errors, status: &Value, fields: &[&str]) {
    for field in fields {
        errs.nonnegative(&child("status", field), status.get(*field));
    }
}

fn count(status: &Value, field: &str) -> i64 {
    status.get(field).and_then(Value::as_i64).unwrap_or(0)
}

/// Each of `fields` is at most `status.replicas`.
fn at_most_replicas(errs: &mut Errors, status: &Value, fields: &[&str]) {
    for field in fields {
        if count(status, field) > count(status, "replicas") {
            errs.invalid(
                &child("status", field),
                count(status, field),
                "cannot be greater than status.replicas",
            );
        }
    }
}

/// `status.availableReplicas` is at most `status.readyReplicas` (`message` differs by kind).
fn available_at_most_ready(errs: &mut Errors, status: &Value, message: &str) {
    let available = count(status, "availableReplicas");
    if available > count(status, "readyReplicas") {
        errs.invalid("status.availableReplicas", available, message);
    }
}

/// `IsDecremented(status.collisionCount)`: once set, it only grows (and is not unset).
fn collisions_not_decremented(errs: &mut Errors, status: &Value, old: &Value) {
    let old_collisions = old.pointer("/status/collisionCount").and_then(Value::as_i64);
    let collisions = status.get("collisionCount").and_then(Value::as_i64);
    if let Some(old_collisions) = old_collisions
        && collisions.is_none_or(|n| n < old_collisions)
    {
        errs.invalid(
            "status.collisionCount",
            count(status, "collisionCount"),
            "cannot be decremented",
        );
    }
}

// === controller revisions ===

/// `ValidateControllerRevision`.
fn controller_revision(errs: &mut Errors, object: &Value) {
    if object.get("data").is_none_or(Value::is_null) {
        errs.required("data", "data is mandatory");
    }
    errs.nonnegative("revision", object.get("revision"));
}
