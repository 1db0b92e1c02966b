//! autoscaling: HorizontalPodAutoscalers (`pkg/apis/autoscaling/validation/validation.go`:
//! `ValidateHorizontalPodAutoscaler`, `…Update`, `…StatusUpdate`), checked in the internal
//! form, which is autoscaling/v2's: an autoscaling/v1 object is converted first
//! (`crate::autoscaling::v1_to_v2`), so its errors name the v2 fields, as upstream's do. With
//! v1.33's default gates: HPAScaleToZero off (minReplicas at least 1 unless the stored object
//! already has 0), HPAContainerMetrics on, HPAConfigurableTolerance off.

use serde_json::Value;

use super::meta::{self, NameRule};
use super::{Errors, Shown, child, index};

/// `MaxPeriodSeconds`.
const MAX_PERIOD_SECONDS: i64 = 1800;
/// `MaxStabilizationWindowSeconds`.
const MAX_STABILIZATION_WINDOW_SECONDS: i64 = 3600;

/// `ValidateHorizontalPodAutoscaler`.
pub(crate) fn validate(errs: &mut Errors, kind: &str, object: &Value) {
    if kind != "HorizontalPodAutoscaler" {
        return;
    }
    let object = internal(object);
    meta::object_meta(errs, &object, true, NameRule::Subdomain);
    spec(errs, &object["spec"], 1);
}

/// `ValidateHorizontalPodAutoscalerUpdate` (the metadata rules run before, for every kind).
pub(crate) fn validate_update(errs: &mut Errors, kind: &str, object: &Value, old: &Value) {
    if kind != "HorizontalPodAutoscaler" {
        return;
    }
    let (object, old) = (internal(object), internal(old));
    let lower = if old["spec"]["minReplicas"].as_i64() == Some(0) { 0 } else { 1 };
    spec(errs, &object["spec"], lower);
}

/// `ValidateHorizontalPodAutoscalerStatusUpdate` (after the metadata rules).
pub(crate) fn status(errs: &mut Errors, object: &Value) {
    let object = internal(object);
    let status = &object["status"];
    errs.nonnegative("status.currentReplicas", status.get("currentReplicas"));
    errs.nonnegative("status.desiredReplicas", status.get("desiredReplicas"));
}

fn internal(object: &Value) -> Value {
    if object["apiVersion"] == "autoscaling/v1" {
        crate::autoscaling::v1_to_v2(object)
    } else {
        object.clone()
    }
}

/// `validateHorizontalPodAutoscalerSpec`.
fn spec(errs: &mut Errors, spec: &Value, min_replicas_lower_bound: i64) {
    let min = spec["minReplicas"].as_i64();
    let max = spec["maxReplicas"].as_i64().unwrap_or(0);
    if let Some(min) = min
        && min < min_replicas_lower_bound
    {
        let detail = format!("must be greater than or equal to {min_replicas_lower_bound}");
        errs.invalid("spec.minReplicas", min, &detail);
    }
    if max < 1 {
        errs.invalid("spec.maxReplicas", max, "must be greater than 0");
    }
    if let Some(min) = min
        && max < min
    {
        errs.invalid("spec.maxReplicas", max, "must be greater than or equal to `minReplicas`");
    }
    cross_version_reference(errs, &spec["scaleTargetRef"], "spec.scaleTargetRef");
    metrics(errs, &spec["metrics"], "spec.metrics", min);
    if let Some(behavior) = spec.get("behavior").filter(|b| b.is_object()) {
        scaling_rules(errs, &behavior["scaleUp"], "spec.behavior.scaleUp");
        scaling_rules(errs, &behavior["scaleDown"], "spec.behavior.scaleDown");
    }
}

/// `ValidateCrossVersionObjectReference`.
fn cross_version_reference(errs: &mut Errors, reference: &Value, path: &str) {
    for key in ["kind", "name"] {
        let value = reference[key].as_str().unwrap_or_default();
        let field = child(path, key);
        if value.is_empty() {
            errs.required(&field, "");
        } else {
            for msg in meta::check_name(NameRule::PathSegment, value, false) {
                errs.invalid(&field, value, &msg);
            }
        }
    }
}

/// `validateMetrics`.
fn metrics(errs: &mut Errors, metrics: &Value, path: &str, min_replicas: Option<i64>) {
    let list = metrics.as_array().map(Vec::as_slice).unwrap_or_default();
    for (i, metric) in list.iter().enumerate() {
        metric_spec(errs, metric, &index(path, i));
    }
    let object_or_external = list.iter().any(|m| m["type"] == "Object" || m["type"] == "External");
    if min_replicas == Some(0) && !object_or_external {
        errs.forbidden(
            path,
            "must specify at least one Object or External metric to support scaling to zero replicas",
        );
    }
}

const METRIC_SOURCE_TYPES: [&str; 5] =
    ["ContainerResource", "External", "Object", "Pods", "Resource"];

/// `validateMetricSpec`.
fn metric_spec(errs: &mut Errors, metric: &Value, path: &str) {
    let type_ = metric["type"].as_str().unwrap_or_default();
    if type_.is_empty() {
        errs.required(&child(path, "type"), "must specify a metric source type");
    }
    if !METRIC_SOURCE_TYPES.contains(&type_) {
        errs.not_supported(&child(path, "type"), type_, &METRIC_SOURCE_TYPES);
    }
    let mut present: Vec<&str> = Vec::new();
    for key in ["object", "external", "pods", "resource", "containerResource"] {
        let Some(source) = metric.get(key).filter(|v| v.is_object()) else { continue };
        present.push(key);
        if present.len() == 1 {
            let at = child(path, key);
            match key {
                "object" => object_source(errs, source, &at),
                "external" => external_source(errs, source, &at),
                "pods" => pods_source(errs, source, &at),
                "resource" => resource_source(errs, source, &at, false),
                _ => resource_source(errs, source, &at, true),
            }
        }
    }
    let expected = match type_ {
        "Object" => "object",
        "Pods" => "pods",
        "Resource" => "resource",
        "External" => "external",
        "ContainerResource" => "containerResource",
        _ => {
            errs.not_supported(&child(path, "type"), type_, &METRIC_SOURCE_TYPES);
            ""
        }
    };
    if !expected.is_empty() && !present.contains(&expected) {
        errs.required(
            &child(path, expected),
            "must populate information for the given metric source",
        );
    }
    if present.len() != 1 {
        // Go ranges over a set: the order is unspecified; berth uses the field order.
        for key in present.iter().filter(|k| **k != expected) {
            errs.forbidden(&child(path, key), "must populate the given metric source only");
        }
    }
}

/// `validateObjectSource`.
fn object_source(errs: &mut Errors, source: &Value, path: &str) {
    cross_version_reference(errs, &source["describedObject"], &child(path, "describedObject"));
    metric_identifier(errs, &source["metric"], &child(path, "metric"));
    let target = &source["target"];
    metric_target(errs, target, &child(path, "target"));
    if target["value"].is_null() && target["averageValue"].is_null() {
        errs.required(
            &child(&child(path, "target"), "averageValue"),
            "must set either a target value or averageValue",
        );
    }
}

/// `validateExternalSource`.
fn external_source(errs: &mut Errors, source: &Value, path: &str) {
    metric_identifier(errs, &source["metric"], &child(path, "metric"));
    let target = &source["target"];
    let target_path = child(path, "target");
    metric_target(errs, target, &target_path);
    if target["value"].is_null() && target["averageValue"].is_null() {
        errs.required(
            &child(&target_path, "averageValue"),
            "must set either a target value for metric or a per-pod target",
        );
    }
    if !target["value"].is_null() && !target["averageValue"].is_null() {
        errs.forbidden(
            &child(&target_path, "value"),
            "may not set both a target value for metric and a per-pod target",
        );
    }
}

/// `validatePodsSource`.
fn pods_source(errs: &mut Errors, source: &Value, path: &str) {
    metric_identifier(errs, &source["metric"], &child(path, "metric"));
    let target = &source["target"];
    metric_target(errs, target, &child(path, "target"));
    if target["averageValue"].is_null() {
        errs.required(
            &child(&child(path, "target"), "averageValue"),
            "must specify a positive target averageValue",
        );
    }
}

/// `validateResourceSource`, and `validateContainerResourceSource` when `container`.
fn resource_source(errs: &mut Errors, source: &Value, path: &str, container: bool) {
    let name = source["name"].as_str().unwrap_or_default();
    if name.is_empty() {
        errs.required(&child(path, "name"), "must specify a resource name");
    }
    if container {
        let container = source["container"].as_str().unwrap_or_default();
        if container.is_empty() {
            errs.required(&child(path, "container"), "must specify a container");
        } else {
            for msg in meta::check_name(NameRule::Label, container, false) {
                errs.invalid(&child(path, "container"), container, &msg);
            }
        }
    }
    let target = &source["target"];
    let target_path = child(path, "target");
    metric_target(errs, target, &target_path);
    if target["averageUtilization"].is_null() && target["averageValue"].is_null() {
        errs.required(
            &child(&target_path, "averageUtilization"),
            "must set either a target raw value or a target utilization",
        );
    }
    if !target["averageUtilization"].is_null() && !target["averageValue"].is_null() {
        errs.forbidden(
            &child(&target_path, "averageValue"),
            "may not set both a target raw value and a target utilization",
        );
    }
}

/// `validateMetricTarget`.
fn metric_target(errs: &mut Errors, target: &Value, path: &str) {
    let type_ = target["type"].as_str().unwrap_or_default();
    if type_.is_empty() {
        errs.required(&child(path, "type"), "must specify a metric target type");
    }
    if !["Utilization", "Value", "AverageValue"].contains(&type_) {
        errs.invalid(
            &child(path, "type"),
            type_,
            "must be either Utilization, Value, or AverageValue",
        );
    }
    for key in ["value", "averageValue"] {
        if let Some(text) = target[key].as_str()
            && crate::quantity::nanos(text).is_some_and(|n| n <= 0)
        {
            errs.invalid(&child(path, key), Shown::Raw(quantity_shown(text)), "must be positive");
        }
    }
    if let Some(utilization) = target["averageUtilization"].as_i64()
        && utilization < 1
    {
        errs.invalid(&child(path, "averageUtilization"), utilization, "must be greater than 0");
    }
}

/// A `resource.Quantity` in an error: a value of a type without a value-receiver `String`,
/// which `ErrorBody` prints with `%#v`; berth shows its text, as the bulk of that says.
fn quantity_shown(text: &str) -> String {
    format!("\"{text}\"")
}

/// `validateMetricIdentifier`.
fn metric_identifier(errs: &mut Errors, identifier: &Value, path: &str) {
    let name = identifier["name"].as_str().unwrap_or_default();
    let field = child(path, "name");
    if name.is_empty() {
        errs.required(&field, "must specify a metric name");
    } else {
        for msg in meta::check_name(NameRule::PathSegment, name, false) {
            errs.invalid(&field, name, &msg);
        }
    }
}

/// `validateScalingRules`.
fn scaling_rules(errs: &mut Errors, rules: &Value, path: &str) {
    if !rules.is_object() {
        return;
    }
    if let Some(window) = rules["stabilizationWindowSeconds"].as_i64() {
        let field = child(path, "stabilizationWindowSeconds");
        if window < 0 {
            errs.invalid(&field, window, "must be greater than or equal to zero");
        }
        if window > MAX_STABILIZATION_WINDOW_SECONDS {
            let detail =
                format!("must be less than or equal to {MAX_STABILIZATION_WINDOW_SECONDS}");
            errs.invalid(&field, window, &detail);
        }
    }
    if let Some(select) = rules["selectPolicy"].as_str()
        && !["Disabled", "Max", "Min"].contains(&select)
    {
        errs.not_supported(&child(path, "selectPolicy"), select, &["Disabled", "Max", "Min"]);
    }
    let policies_path = child(path, "policies");
    let policies = rules["policies"].as_array().map(Vec::as_slice).unwrap_or_default();
    if policies.is_empty() {
        errs.required(&policies_path, "must specify at least one Policy");
    }
    for (i, policy) in policies.iter().enumerate() {
        let at = index(&policies_path, i);
        let type_ = policy["type"].as_str().unwrap_or_default();
        if type_ != "Pods" && type_ != "Percent" {
            errs.not_supported(&child(&at, "type"), type_, &["Percent", "Pods"]);
        }
        let value = policy["value"].as_i64().unwrap_or(0);
        if value <= 0 {
            errs.invalid(&child(&at, "value"), value, "must be greater than zero");
        }
        let period = policy["periodSeconds"].as_i64().unwrap_or(0);
        if period <= 0 {
            errs.invalid(&child(&at, "periodSeconds"), period, "must be greater than zero");
        }
        if period > MAX_PERIOD_SECONDS {
            let detail = format!("must be less than or equal to {MAX_PERIOD_SECONDS}");
            errs.invalid(&child(&at, "periodSeconds"), period, &detail);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::validation::{Write, validate};

    fn errors(object: &Value, write: Write<'_>) -> Vec<String> {
        validate("autoscaling", "HorizontalPodAutoscaler", object, write)
            .into_iter()
            .map(|e| e.to_string())
            .collect()
    }

    fn hpa(spec: Value) -> Value {
        json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "web", "namespace": "default"}, "spec": spec})
    }

    #[test]
    fn spec_rules() {
        let bad = hpa(json!({
            "scaleTargetRef": {"kind": "", "name": "a/b"},
            "minReplicas": 0, "maxReplicas": 0,
            "metrics": [
                {"type": "Resource", "resource": {"name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": 0}}},
                {"type": "Foo"},
            ],
            "behavior": {"scaleUp": {"stabilizationWindowSeconds": 4000, "selectPolicy": "Most",
                "policies": [{"type": "Nodes", "value": 0, "periodSeconds": 2000}]},
                "scaleDown": {"policies": []}},
        }));
        assert_eq!(
            errors(&bad, Write::Create),
            [
                "spec.minReplicas: Invalid value: 0: must be greater than or equal to 1",
                "spec.maxReplicas: Invalid value: 0: must be greater than 0",
                "spec.scaleTargetRef.kind: Required value",
                "spec.scaleTargetRef.name: Invalid value: \"a/b\": may not contain '/'",
                "spec.metrics[0].resource.target.averageUtilization: Invalid value: 0: must be greater than 0",
                "spec.metrics[1].type: Unsupported value: \"Foo\": supported values: \"ContainerResource\", \"External\", \"Object\", \"Pods\", \"Resource\"",
                "spec.metrics: Forbidden: must specify at least one Object or External metric to support scaling to zero replicas",
                "spec.behavior.scaleUp.stabilizationWindowSeconds: Invalid value: 4000: must be less than or equal to 3600",
                "spec.behavior.scaleUp.selectPolicy: Unsupported value: \"Most\": supported values: \"Disabled\", \"Max\", \"Min\"",
                "spec.behavior.scaleUp.policies[0].type: Unsupported value: \"Nodes\": supported values: \"Percent\", \"Pods\"",
                "spec.behavior.scaleUp.policies[0].value: Invalid value: 0: must be greater than zero",
                "spec.behavior.scaleUp.policies[0].periodSeconds: Invalid value: 2000: must be less than or equal to 1800",
                "spec.behavior.scaleDown.policies: Required value: must specify at least one Policy",
            ]
        );
    }

    #[test]
    fn v1_objects_are_checked_in_the_v2_form() {
        let v1 = json!({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"},
                "minReplicas": 3, "maxReplicas": 2, "targetCPUUtilizationPercentage": 0}});
        assert_eq!(
            errors(&v1, Write::Create),
            [
                "spec.maxReplicas: Invalid value: 2: must be greater than or equal to `minReplicas`",
                "spec.metrics[0].resource.target.averageUtilization: Invalid value: 0: must be greater than 0",
            ]
        );
    }

    #[test]
    fn updates_keep_a_stored_zero_minimum_and_statuses_are_nonnegative() {
        let spec = json!({"scaleTargetRef": {"kind": "Deployment", "name": "web"},
            "minReplicas": 0, "maxReplicas": 2,
            "metrics": [{"type": "External", "external": {"metric": {"name": "q"},
                "target": {"type": "Value", "value": "1"}}}]});
        let mut old = hpa(spec.clone());
        old["metadata"]["resourceVersion"] = json!("1");
        let new = old.clone();
        assert_eq!(errors(&new, Write::Update(&old)), Vec::<String>::new());
        let mut status = old.clone();
        status["status"] = json!({"currentReplicas": -1, "desiredReplicas": 0});
        assert_eq!(
            errors(&status, Write::Status(&old)),
            ["status.currentReplicas: Invalid value: -1: must be greater than or equal to 0"]
        );
    }
}
