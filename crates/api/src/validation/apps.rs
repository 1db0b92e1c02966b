//! apps/v1 rules (`pkg/apis/apps/validation/validation.go`): StatefulSets (spec, what an update
//! may change, status) and ControllerRevisions (data is immutable).

use serde_json::Value;

use super::meta::{self, NameRule};
use super::{Errors, Shown, child, get, map_of, str_or_empty};

pub(crate) fn validate(errs: &mut Errors, kind: &str, object: &Value) {
    match kind {
        "StatefulSet" => {
            meta::object_meta(errs, object, true, NameRule::Label);
            stateful_set_spec(errs, get(object, "spec").unwrap_or(&Value::Null));
        }
        "ControllerRevision" => {
            meta::object_meta(errs, object, true, NameRule::Subdomain);
            controller_revision(errs, object);
        }
        other => meta::object_meta(errs, object, true, meta::name_rule(other)),
    }
}

pub(crate) fn validate_update(errs: &mut Errors, kind: &str, object: &Value, old: &Value) {
    match kind {
        "StatefulSet" => {
            let spec = get(object, "spec").unwrap_or(&Value::Null);
            stateful_set_spec(errs, spec);
            stateful_set_update(errs, spec, get(old, "spec").unwrap_or(&Value::Null));
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

/// `runtime.RawExtension` as `%#v` shows it, shortened to its JSON.
fn raw_extension(data: Option<&Value>) -> String {
    let json = data.map(Value::to_string).unwrap_or_default();
    format!(
        "runtime.RawExtension{{Raw:[]uint8({}), Object:runtime.Object(nil)}}",
        super::go_quote(&json)
    )
}

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
            if rolling.is_some() {
                errs.invalid(
                    "spec.updateStrategy.rollingUpdate",
                    Shown::Raw(show_rolling(rolling)),
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
                super::go_quote(other),
                show_rolling(rolling)
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
    let selector = get(spec, "selector");
    match selector {
        None => errs.required("spec.selector", ""),
        Some(selector) => {
            meta::label_selector(errs, selector, "spec.selector");
            let empty = map_of(selector, "matchLabels").is_none_or(|m| m.is_empty())
                && super::list(selector, "matchExpressions").is_empty();
            if empty {
                errs.invalid(
                    "spec.selector",
                    meta::show_selector(selector),
                    "empty selector is invalid for statefulset",
                );
            }
        }
    }
    let template = get(spec, "template").unwrap_or(&Value::Null);
    let template_meta = get(template, "metadata").unwrap_or(&Value::Null);
    let no_labels = serde_json::Map::new();
    let labels = map_of(template_meta, "labels").unwrap_or(&no_labels);
    if let Some(selector) = selector
        && valid_selector(selector)
        && !selector_empty(selector)
        && !meta::selector_matches(selector, labels)
    {
        errs.invalid(
            "spec.template.metadata.labels",
            Shown::json(template_meta.get("labels")),
            "`selector` does not match template `labels`",
        );
    }
    meta::labels(errs, get(template_meta, "labels"), "spec.template.labels");
    meta::annotations(errs, get(template_meta, "annotations"), "spec.template.annotations");
    let pod = get(template, "spec").unwrap_or(&Value::Null);
    let restart = str_or_empty(pod, "restartPolicy");
    if restart != "Always" {
        errs.not_supported("spec.template.spec.restartPolicy", restart, &["Always"]);
    }
    if get(pod, "activeDeadlineSeconds").is_some() {
        errs.forbidden(
            "spec.template.spec.activeDeadlineSeconds",
            "activeDeadlineSeconds in StatefulSet is not Supported",
        );
    }
}

fn selector_empty(selector: &Value) -> bool {
    map_of(selector, "matchLabels").is_none_or(|m| m.is_empty())
        && super::list(selector, "matchExpressions").is_empty()
}

/// Whether `LabelSelectorAsSelector` accepts the selector.
fn valid_selector(selector: &Value) -> bool {
    let mut probe = Errors::default();
    meta::label_selector(&mut probe, selector, "");
    probe.0.is_empty()
}

fn show_rolling(rolling: Option<&Value>) -> String {
    match rolling {
        None => "(*apps.RollingUpdateStatefulSetStrategy)(nil)".to_owned(),
        Some(r) => format!(
            "&apps.RollingUpdateStatefulSetStrategy{{Partition:{}, MaxUnavailable:(*intstr.IntOrString)(nil)}}",
            r.get("partition").and_then(Value::as_i64).unwrap_or(0)
        ),
    }
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

/// `ValidateStatefulSetStatusUpdate`.
pub(crate) fn stateful_set_status(errs: &mut Errors, object: &Value, old: &Value) {
    let status = get(object, "status").unwrap_or(&Value::Null);
    let n = |field: &str| status.get(field).and_then(Value::as_i64).unwrap_or(0);
    for field in [
        "replicas",
        "readyReplicas",
        "currentReplicas",
        "updatedReplicas",
        "availableReplicas",
        "observedGeneration",
        "collisionCount",
    ] {
        errs.nonnegative(&child("status", field), status.get(field));
    }
    for field in ["readyReplicas", "currentReplicas", "updatedReplicas", "availableReplicas"] {
        if n(field) > n("replicas") {
            errs.invalid(
                &child("status", field),
                n(field),
                "cannot be greater than status.replicas",
            );
        }
    }
    if n("availableReplicas") > n("readyReplicas") {
        errs.invalid(
            "status.availableReplicas",
            n("availableReplicas"),
            "cannot be greater than status.readyReplicas",
        );
    }
    let old_collisions = old.pointer("/status/collisionCount").and_then(Value::as_i64);
    if let Some(old_collisions) = old_collisions
        && n("collisionCount") < old_collisions
    {
        errs.invalid("status.collisionCount", n("collisionCount"), "cannot be decremented");
    }
}

/// `ValidateControllerRevision`.
fn controller_revision(errs: &mut Errors, object: &Value) {
    if object.get("data").is_none_or(Value::is_null) {
        errs.required("data", "data is mandatory");
    }
    errs.nonnegative("revision", object.get("revision"));
}
