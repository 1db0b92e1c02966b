//! HorizontalPodAutoscalers in their two served versions: autoscaling/v2 (the stored form) and
//! autoscaling/v1, converted field by field as kube-apiserver v1.33 converts them through its
//! internal form (`pkg/apis/autoscaling/v1/conversion.go`, `pkg/apis/autoscaling/annotations.go`),
//! and the defaults of each version (`pkg/apis/autoscaling/v{1,2}/defaults.go`).
//!
//! v1 only has a cpu utilization target; what it cannot express rides in annotations: the other
//! metrics (`autoscaling.alpha.kubernetes.io/metrics`, v1's own metric types as JSON), the
//! current metrics (`…/current-metrics`), the conditions (`…/conditions`) and the behavior
//! (`…/behavior`, the internal type marshalled with Go's field names, as upstream does). Going
//! back to v2 reads and removes them. Pure JSON in, JSON out.

use serde_json::{Map, Value, json};

/// `autoscaling.MetricSpecsAnnotation`.
pub const METRICS_ANNOTATION: &str = "autoscaling.alpha.kubernetes.io/metrics";
/// `autoscaling.MetricStatusesAnnotation`.
pub const CURRENT_METRICS_ANNOTATION: &str = "autoscaling.alpha.kubernetes.io/current-metrics";
/// `autoscaling.HorizontalPodAutoscalerConditionsAnnotation`.
pub const CONDITIONS_ANNOTATION: &str = "autoscaling.alpha.kubernetes.io/conditions";
/// `autoscaling.BehaviorSpecsAnnotation`.
pub const BEHAVIOR_ANNOTATION: &str = "autoscaling.alpha.kubernetes.io/behavior";
/// `autoscaling.DefaultCPUUtilization`.
pub const DEFAULT_CPU_UTILIZATION: i64 = 80;

const ROUND_TRIP: [&str; 4] =
    [METRICS_ANNOTATION, BEHAVIOR_ANNOTATION, CURRENT_METRICS_ANNOTATION, CONDITIONS_ANNOTATION];

// === defaults ===

/// `SetDefaults_HorizontalPodAutoscaler` of the object's version: autoscaling/v1 only
/// defaults `minReplicas` (its cpu default is applied by the conversion, which sees the
/// annotations); autoscaling/v2 also the 80% cpu metric when there is none, and a `behavior`
/// given is completed with the default rules (`GenerateHPAScaleUpRules`/`…ScaleDownRules`).
pub fn set_defaults(object: &mut Value) {
    let v1 = object["apiVersion"] == "autoscaling/v1";
    let Some(spec) = object.get_mut("spec").and_then(Value::as_object_mut) else { return };
    if spec.get("minReplicas").is_none_or(Value::is_null) {
        spec.insert("minReplicas".into(), json!(1));
    }
    if v1 {
        return;
    }
    if spec.get("metrics").and_then(Value::as_array).is_none_or(Vec::is_empty) {
        spec.insert("metrics".into(), json!([cpu_utilization_metric(DEFAULT_CPU_UTILIZATION)]));
    }
    if let Some(Value::Object(behavior)) = spec.get_mut("behavior") {
        let up = scaling_rules(behavior.get("scaleUp"), ScaleDirection::Up);
        let down = scaling_rules(behavior.get("scaleDown"), ScaleDirection::Down);
        behavior.insert("scaleUp".into(), up);
        behavior.insert("scaleDown".into(), down);
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ScaleDirection {
    Up,
    Down,
}

/// `copyHPAScalingRules(from, default)`: the default rules with what `from` sets. Scale-down
/// has no default stabilization window (the controller's flag decides it).
fn scaling_rules(from: Option<&Value>, direction: ScaleDirection) -> Value {
    let mut rules = match direction {
        ScaleDirection::Up => json!({
            "stabilizationWindowSeconds": 0,
            "selectPolicy": "Max",
            "policies": [
                {"type": "Pods", "value": 4, "periodSeconds": 15},
                {"type": "Percent", "value": 100, "periodSeconds": 15},
            ],
        }),
        ScaleDirection::Down => json!({
            "selectPolicy": "Max",
            "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}],
        }),
    };
    if let Some(Value::Object(from)) = from {
        let rules = rules.as_object_mut().expect("an object literal");
        for key in ["selectPolicy", "stabilizationWindowSeconds", "policies", "tolerance"] {
            if let Some(value) = from.get(key).filter(|v| !v.is_null()) {
                rules.insert(key.into(), value.clone());
            }
        }
        // Fields are written in the Go type's order.
        let order = ["stabilizationWindowSeconds", "selectPolicy", "policies", "tolerance"];
        let mut ordered = Map::new();
        for key in order {
            if let Some(value) = rules.remove(key) {
                ordered.insert(key.into(), value);
            }
        }
        return Value::Object(ordered);
    }
    rules
}

fn cpu_utilization_metric(percent: i64) -> Value {
    json!({
        "type": "Resource",
        "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": percent}},
    })
}

// === v2 → v1 ===

/// An autoscaling/v2 HorizontalPodAutoscaler as autoscaling/v1 shows it.
pub fn v2_to_v1(object: &Value) -> Value {
    let Some(fields) = object.as_object() else { return object.clone() };
    let spec = &object["spec"];
    let status = &object["status"];
    let mut out = Map::new();
    out.insert("kind".into(), json!("HorizontalPodAutoscaler"));
    out.insert("apiVersion".into(), json!("autoscaling/v1"));
    let mut metadata = fields.get("metadata").cloned().unwrap_or_else(|| json!({}));
    let mut annotations = drop_round_trip(&mut metadata);

    let metrics = array(&spec["metrics"]);
    let other: Vec<Value> =
        metrics.iter().filter(|m| !is_cpu_utilization(m)).map(metric_spec_to_v1).collect();
    if !other.is_empty() {
        annotations.insert(METRICS_ANNOTATION.into(), json!(go_json(&Value::Array(other))));
    }
    let current = array(&status["currentMetrics"]);
    if !current.is_empty() {
        let statuses: Vec<Value> = current.iter().map(metric_status_to_v1).collect();
        annotations
            .insert(CURRENT_METRICS_ANNOTATION.into(), json!(go_json(&Value::Array(statuses))));
    }
    let conditions = array(&status["conditions"]);
    if !conditions.is_empty() {
        let conditions: Vec<Value> = conditions.iter().map(condition).collect();
        annotations.insert(CONDITIONS_ANNOTATION.into(), json!(go_json(&Value::Array(conditions))));
    }
    if let Some(behavior) = spec.get("behavior").filter(|b| b.is_object()) {
        annotations
            .insert(BEHAVIOR_ANNOTATION.into(), json!(go_json(&behavior_to_internal(behavior))));
    }
    set_annotations(&mut metadata, annotations);
    out.insert("metadata".into(), metadata);

    let mut v1_spec = Map::new();
    v1_spec.insert("scaleTargetRef".into(), reference(&spec["scaleTargetRef"]));
    copy(spec, &mut v1_spec, "minReplicas");
    v1_spec.insert("maxReplicas".into(), json!(int(&spec["maxReplicas"])));
    // The first cpu Resource metric decides, with or without a utilization target.
    if let Some(cpu) =
        metrics.iter().find(|m| m["type"] == "Resource" && m["resource"]["name"] == "cpu")
        && let Some(percent) = cpu["resource"]["target"]["averageUtilization"].as_i64()
    {
        v1_spec.insert("targetCPUUtilizationPercentage".into(), json!(percent));
    }
    out.insert("spec".into(), Value::Object(v1_spec));

    let mut v1_status = Map::new();
    copy(status, &mut v1_status, "observedGeneration");
    copy(status, &mut v1_status, "lastScaleTime");
    v1_status.insert("currentReplicas".into(), json!(int(&status["currentReplicas"])));
    v1_status.insert("desiredReplicas".into(), json!(int(&status["desiredReplicas"])));
    // Every cpu Resource status is looked at; the last one with a utilization wins.
    for metric in
        current.iter().filter(|m| m["type"] == "Resource" && m["resource"]["name"] == "cpu")
    {
        if let Some(percent) = metric["resource"]["current"]["averageUtilization"].as_i64() {
            v1_status.insert("currentCPUUtilizationPercentage".into(), json!(percent));
        }
    }
    out.insert("status".into(), Value::Object(v1_status));
    Value::Object(out)
}

fn is_cpu_utilization(metric: &Value) -> bool {
    metric["type"] == "Resource"
        && metric["resource"]["name"] == "cpu"
        && !metric["resource"]["target"]["averageUtilization"].is_null()
}

/// `Convert_autoscaling_MetricSpec_To_v1_MetricSpec`.
fn metric_spec_to_v1(metric: &Value) -> Value {
    let mut out = Map::new();
    out.insert("type".into(), metric["type"].clone());
    if let Some(object) = metric.get("object").filter(|v| v.is_object()) {
        let target = &object["target"];
        let mut o = Map::new();
        o.insert("target".into(), reference(&object["describedObject"]));
        o.insert("metricName".into(), json!(text(&object["metric"]["name"])));
        o.insert("targetValue".into(), quantity_or_zero(&target["value"]));
        copy(&object["metric"], &mut o, "selector");
        copy(target, &mut o, "averageValue");
        out.insert("object".into(), Value::Object(o));
    }
    if let Some(pods) = metric.get("pods").filter(|v| v.is_object()) {
        let mut o = Map::new();
        o.insert("metricName".into(), json!(text(&pods["metric"]["name"])));
        o.insert("targetAverageValue".into(), quantity_or_zero(&pods["target"]["averageValue"]));
        copy(&pods["metric"], &mut o, "selector");
        out.insert("pods".into(), Value::Object(o));
    }
    for key in ["resource", "containerResource"] {
        if let Some(source) = metric.get(key).filter(|v| v.is_object()) {
            let mut o = Map::new();
            o.insert("name".into(), json!(text(&source["name"])));
            if let Some(v) = source["target"].get("averageUtilization").filter(|v| !v.is_null()) {
                o.insert("targetAverageUtilization".into(), v.clone());
            }
            if let Some(v) = source["target"].get("averageValue").filter(|v| !v.is_null()) {
                o.insert("targetAverageValue".into(), v.clone());
            }
            if key == "containerResource" {
                o.insert("container".into(), json!(text(&source["container"])));
            }
            out.insert(key.into(), Value::Object(o));
        }
    }
    if let Some(external) = metric.get("external").filter(|v| v.is_object()) {
        let mut o = Map::new();
        o.insert("metricName".into(), json!(text(&external["metric"]["name"])));
        if let Some(selector) = external["metric"].get("selector").filter(|v| !v.is_null()) {
            o.insert("metricSelector".into(), selector.clone());
        }
        if let Some(v) = external["target"].get("value").filter(|v| !v.is_null()) {
            o.insert("targetValue".into(), v.clone());
        }
        if let Some(v) = external["target"].get("averageValue").filter(|v| !v.is_null()) {
            o.insert("targetAverageValue".into(), v.clone());
        }
        out.insert("external".into(), Value::Object(o));
    }
    Value::Object(out)
}

/// `Convert_autoscaling_MetricStatus_To_v1_MetricStatus`.
fn metric_status_to_v1(metric: &Value) -> Value {
    let mut out = Map::new();
    out.insert("type".into(), metric["type"].clone());
    if let Some(object) = metric.get("object").filter(|v| v.is_object()) {
        let mut o = Map::new();
        o.insert("target".into(), reference(&object["describedObject"]));
        o.insert("metricName".into(), json!(text(&object["metric"]["name"])));
        o.insert("currentValue".into(), quantity_or_zero(&object["current"]["value"]));
        copy(&object["metric"], &mut o, "selector");
        copy(&object["current"], &mut o, "averageValue");
        out.insert("object".into(), Value::Object(o));
    }
    if let Some(pods) = metric.get("pods").filter(|v| v.is_object()) {
        let mut o = Map::new();
        o.insert("metricName".into(), json!(text(&pods["metric"]["name"])));
        o.insert("currentAverageValue".into(), quantity_or_zero(&pods["current"]["averageValue"]));
        copy(&pods["metric"], &mut o, "selector");
        out.insert("pods".into(), Value::Object(o));
    }
    for key in ["resource", "containerResource"] {
        if let Some(source) = metric.get(key).filter(|v| v.is_object()) {
            let mut o = Map::new();
            o.insert("name".into(), json!(text(&source["name"])));
            if let Some(v) = source["current"].get("averageUtilization").filter(|v| !v.is_null()) {
                o.insert("currentAverageUtilization".into(), v.clone());
            }
            o.insert(
                "currentAverageValue".into(),
                quantity_or_zero(&source["current"]["averageValue"]),
            );
            if key == "containerResource" {
                o.insert("container".into(), json!(text(&source["container"])));
            }
            out.insert(key.into(), Value::Object(o));
        }
    }
    if let Some(external) = metric.get("external").filter(|v| v.is_object()) {
        let mut o = Map::new();
        o.insert("metricName".into(), json!(text(&external["metric"]["name"])));
        if let Some(selector) = external["metric"].get("selector").filter(|v| !v.is_null()) {
            o.insert("metricSelector".into(), selector.clone());
        }
        o.insert("currentValue".into(), quantity_or_zero(&external["current"]["value"]));
        if let Some(v) = external["current"].get("averageValue").filter(|v| !v.is_null()) {
            o.insert("currentAverageValue".into(), v.clone());
        }
        out.insert("external".into(), Value::Object(o));
    }
    Value::Object(out)
}

/// A condition as the v1 type marshals it (the same fields in both versions; a missing
/// `lastTransitionTime` is Go's zero `metav1.Time`, `null`).
fn condition(c: &Value) -> Value {
    let mut out = Map::new();
    out.insert("type".into(), json!(text(&c["type"])));
    out.insert("status".into(), json!(text(&c["status"])));
    out.insert(
        "lastTransitionTime".into(),
        c.get("lastTransitionTime").cloned().unwrap_or(Value::Null),
    );
    for key in ["reason", "message"] {
        if let Some(v) = c.get(key).and_then(Value::as_str).filter(|s| !s.is_empty()) {
            out.insert(key.into(), json!(v));
        }
    }
    Value::Object(out)
}

/// The internal `HorizontalPodAutoscalerBehavior` as `json.Marshal` writes it: no JSON tags,
/// so Go's field names, and every field (nil pointers as `null`).
fn behavior_to_internal(behavior: &Value) -> Value {
    let rules = |rules: &Value| -> Value {
        if !rules.is_object() {
            return Value::Null;
        }
        let policies = match rules.get("policies").and_then(Value::as_array) {
            Some(list) => Value::Array(
                list.iter()
                    .map(|p| {
                        json!({"Type": text(&p["type"]), "Value": int(&p["value"]),
                            "PeriodSeconds": int(&p["periodSeconds"])})
                    })
                    .collect(),
            ),
            None => Value::Null,
        };
        json!({
            "StabilizationWindowSeconds": rules.get("stabilizationWindowSeconds").cloned().unwrap_or(Value::Null),
            "SelectPolicy": rules.get("selectPolicy").cloned().unwrap_or(Value::Null),
            "Policies": policies,
            "Tolerance": rules.get("tolerance").cloned().unwrap_or(Value::Null),
        })
    };
    json!({"ScaleUp": rules(&behavior["scaleUp"]), "ScaleDown": rules(&behavior["scaleDown"])})
}

// === v1 → v2 ===

/// An autoscaling/v1 HorizontalPodAutoscaler in the autoscaling/v2 (stored) form. Annotations
/// that do not parse are ignored, as upstream ignores them, and removed with the others.
pub fn v1_to_v2(object: &Value) -> Value {
    let Some(fields) = object.as_object() else { return object.clone() };
    let spec = &object["spec"];
    let status = &object["status"];
    let mut metadata = fields.get("metadata").cloned().unwrap_or_else(|| json!({}));
    let annotations = metadata["annotations"].as_object().cloned().unwrap_or_default();
    let annotation = |key: &str| -> Option<Value> {
        annotations.get(key).and_then(Value::as_str).and_then(|s| serde_json::from_str(s).ok())
    };

    let mut v2_spec = Map::new();
    v2_spec.insert("scaleTargetRef".into(), reference(&spec["scaleTargetRef"]));
    copy(spec, &mut v2_spec, "minReplicas");
    v2_spec.insert("maxReplicas".into(), json!(int(&spec["maxReplicas"])));
    let mut metrics: Vec<Value> = Vec::new();
    if let Some(Value::Array(other)) = annotation(METRICS_ANNOTATION) {
        metrics.extend(other.iter().map(metric_spec_to_v2));
    }
    if let Some(percent) = spec["targetCPUUtilizationPercentage"].as_i64() {
        metrics.push(cpu_utilization_metric(percent));
    }
    if metrics.is_empty() {
        // autoscaling/v1's implicit default, made explicit here where the annotations are seen.
        metrics.push(cpu_utilization_metric(DEFAULT_CPU_UTILIZATION));
    }
    v2_spec.insert("metrics".into(), Value::Array(metrics));
    if let Some(behavior) = annotation(BEHAVIOR_ANNOTATION).and_then(|b| behavior_from_internal(&b))
    {
        v2_spec.insert("behavior".into(), behavior);
    }

    let mut v2_status = Map::new();
    copy(status, &mut v2_status, "observedGeneration");
    copy(status, &mut v2_status, "lastScaleTime");
    if int(&status["currentReplicas"]) != 0 {
        v2_status.insert("currentReplicas".into(), json!(int(&status["currentReplicas"])));
    }
    v2_status.insert("desiredReplicas".into(), json!(int(&status["desiredReplicas"])));
    let current = match annotation(CURRENT_METRICS_ANNOTATION) {
        Some(Value::Array(list)) => list.iter().map(metric_status_to_v2).collect(),
        _ => match status["currentCPUUtilizationPercentage"].as_i64() {
            Some(percent) => vec![json!({
                "type": "Resource",
                "resource": {"name": "cpu", "current": {"averageUtilization": percent}},
            })],
            None => Vec::new(),
        },
    };
    if !current.is_empty() {
        v2_status.insert("currentMetrics".into(), Value::Array(current));
    }
    if let Some(Value::Array(conditions)) = annotation(CONDITIONS_ANNOTATION)
        && !conditions.is_empty()
    {
        let conditions = conditions.iter().map(condition).collect();
        v2_status.insert("conditions".into(), Value::Array(conditions));
    }

    let kept = drop_round_trip(&mut metadata);
    set_annotations(&mut metadata, kept);
    let mut out = Map::new();
    out.insert("kind".into(), json!("HorizontalPodAutoscaler"));
    out.insert("apiVersion".into(), json!("autoscaling/v2"));
    out.insert("metadata".into(), metadata);
    out.insert("spec".into(), Value::Object(v2_spec));
    out.insert("status".into(), Value::Object(v2_status));
    Value::Object(out)
}

/// `Convert_v1_MetricSpec_To_autoscaling_MetricSpec`.
fn metric_spec_to_v2(metric: &Value) -> Value {
    let mut out = Map::new();
    out.insert("type".into(), metric["type"].clone());
    if let Some(object) = metric.get("object").filter(|v| v.is_object()) {
        let average = object.get("averageValue").filter(|v| !v.is_null());
        let mut target = Map::new();
        target
            .insert("type".into(), json!(if average.is_none() { "Value" } else { "AverageValue" }));
        target.insert("value".into(), quantity_or_zero(&object["targetValue"]));
        if let Some(average) = average {
            target.insert("averageValue".into(), average.clone());
        }
        out.insert(
            "object".into(),
            json!({
                "describedObject": reference(&object["target"]),
                "target": target,
                "metric": identifier(&object["metricName"], &object["selector"]),
            }),
        );
    }
    if let Some(pods) = metric.get("pods").filter(|v| v.is_object()) {
        out.insert(
            "pods".into(),
            json!({
                "metric": identifier(&pods["metricName"], &pods["selector"]),
                "target": {"type": "AverageValue",
                    "averageValue": quantity_or_zero(&pods["targetAverageValue"])},
            }),
        );
    }
    for key in ["resource", "containerResource"] {
        if let Some(source) = metric.get(key).filter(|v| v.is_object()) {
            let utilization = source.get("targetAverageUtilization").filter(|v| !v.is_null());
            let mut target = Map::new();
            let type_ = if utilization.is_none() { "AverageValue" } else { "Utilization" };
            target.insert("type".into(), json!(type_));
            if let Some(v) = source.get("targetAverageValue").filter(|v| !v.is_null()) {
                target.insert("averageValue".into(), v.clone());
            }
            if let Some(v) = utilization {
                target.insert("averageUtilization".into(), v.clone());
            }
            let mut o = Map::new();
            o.insert("name".into(), json!(text(&source["name"])));
            o.insert("target".into(), Value::Object(target));
            if key == "containerResource" {
                o.insert("container".into(), json!(text(&source["container"])));
            }
            out.insert(key.into(), Value::Object(o));
        }
    }
    if let Some(external) = metric.get("external").filter(|v| v.is_object()) {
        let value = external.get("targetValue").filter(|v| !v.is_null());
        let mut target = Map::new();
        target.insert("type".into(), json!(if value.is_none() { "AverageValue" } else { "Value" }));
        if let Some(v) = value {
            target.insert("value".into(), v.clone());
        }
        if let Some(v) = external.get("targetAverageValue").filter(|v| !v.is_null()) {
            target.insert("averageValue".into(), v.clone());
        }
        out.insert(
            "external".into(),
            json!({
                "metric": identifier(&external["metricName"], &external["metricSelector"]),
                "target": target,
            }),
        );
    }
    Value::Object(out)
}

/// `Convert_v1_MetricStatus_To_autoscaling_MetricStatus`.
fn metric_status_to_v2(metric: &Value) -> Value {
    let mut out = Map::new();
    out.insert("type".into(), metric["type"].clone());
    if let Some(object) = metric.get("object").filter(|v| v.is_object()) {
        let mut current = Map::new();
        current.insert("value".into(), quantity_or_zero(&object["currentValue"]));
        copy(object, &mut current, "averageValue");
        out.insert(
            "object".into(),
            json!({
                "metric": identifier(&object["metricName"], &object["selector"]),
                "current": current,
                "describedObject": reference(&object["target"]),
            }),
        );
    }
    if let Some(pods) = metric.get("pods").filter(|v| v.is_object()) {
        out.insert(
            "pods".into(),
            json!({
                "metric": identifier(&pods["metricName"], &pods["selector"]),
                "current": {"averageValue": quantity_or_zero(&pods["currentAverageValue"])},
            }),
        );
    }
    for key in ["resource", "containerResource"] {
        if let Some(source) = metric.get(key).filter(|v| v.is_object()) {
            let mut current = Map::new();
            current.insert("averageValue".into(), quantity_or_zero(&source["currentAverageValue"]));
            if let Some(v) = source.get("currentAverageUtilization").filter(|v| !v.is_null()) {
                current.insert("averageUtilization".into(), v.clone());
            }
            let mut o = Map::new();
            o.insert("name".into(), json!(text(&source["name"])));
            o.insert("current".into(), Value::Object(current));
            if key == "containerResource" {
                o.insert("container".into(), json!(text(&source["container"])));
            }
            out.insert(key.into(), Value::Object(o));
        }
    }
    if let Some(external) = metric.get("external").filter(|v| v.is_object()) {
        let mut current = Map::new();
        current.insert("value".into(), quantity_or_zero(&external["currentValue"]));
        if let Some(v) = external.get("currentAverageValue").filter(|v| !v.is_null()) {
            current.insert("averageValue".into(), v.clone());
        }
        out.insert(
            "external".into(),
            json!({
                "metric": identifier(&external["metricName"], &external["metricSelector"]),
                "current": current,
            }),
        );
    }
    Value::Object(out)
}

/// The behavior annotation read back: Go's `json.Unmarshal` matches field names without
/// regard to case, so both the internal names and v2's are understood. An empty behavior (no
/// rules) is none.
fn behavior_from_internal(behavior: &Value) -> Option<Value> {
    let field = |object: &Value, name: &str| -> Option<Value> {
        object
            .as_object()?
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let rules = |rules: Option<Value>| -> Option<Value> {
        let rules = rules.filter(Value::is_object)?;
        let mut out = Map::new();
        for (go, v2) in [
            ("StabilizationWindowSeconds", "stabilizationWindowSeconds"),
            ("SelectPolicy", "selectPolicy"),
        ] {
            if let Some(v) = field(&rules, go).filter(|v| !v.is_null()) {
                out.insert(v2.into(), v);
            }
        }
        if let Some(Value::Array(policies)) = field(&rules, "Policies") {
            let policies = policies
                .iter()
                .map(|p| {
                    json!({
                        "type": field(p, "Type").unwrap_or_else(|| json!("")),
                        "value": field(p, "Value").unwrap_or_else(|| json!(0)),
                        "periodSeconds": field(p, "PeriodSeconds").unwrap_or_else(|| json!(0)),
                    })
                })
                .collect();
            out.insert("policies".into(), Value::Array(policies));
        }
        if let Some(v) = field(&rules, "Tolerance").filter(|v| !v.is_null()) {
            out.insert("tolerance".into(), v);
        }
        Some(Value::Object(out))
    };
    let up = rules(field(behavior, "ScaleUp"));
    let down = rules(field(behavior, "ScaleDown"));
    if up.is_none() && down.is_none() {
        return None;
    }
    let mut out = Map::new();
    if let Some(up) = up {
        out.insert("scaleUp".into(), up);
    }
    if let Some(down) = down {
        out.insert("scaleDown".into(), down);
    }
    Some(Value::Object(out))
}

// === helpers ===

/// Removes the round-trip annotations (`DropRoundTripHorizontalPodAutoscalerAnnotations`) and
/// returns the rest.
fn drop_round_trip(metadata: &mut Value) -> Map<String, Value> {
    let mut annotations = metadata["annotations"].as_object().cloned().unwrap_or_default();
    for key in ROUND_TRIP {
        annotations.shift_remove(key);
    }
    annotations
}

/// Sets the annotations, or removes the field when there are none (Go's `omitempty`).
fn set_annotations(metadata: &mut Value, annotations: Map<String, Value>) {
    let Some(metadata) = metadata.as_object_mut() else { return };
    if annotations.is_empty() {
        metadata.shift_remove("annotations");
    } else {
        metadata.insert("annotations".into(), Value::Object(annotations));
    }
}

/// A `CrossVersionObjectReference`: kind, name, apiVersion (omitted when empty).
fn reference(r: &Value) -> Value {
    let mut out = Map::new();
    out.insert("kind".into(), json!(text(&r["kind"])));
    out.insert("name".into(), json!(text(&r["name"])));
    if let Some(v) = r["apiVersion"].as_str().filter(|s| !s.is_empty()) {
        out.insert("apiVersion".into(), json!(v));
    }
    Value::Object(out)
}

/// A `MetricIdentifier`: name and, when set, selector.
fn identifier(name: &Value, selector: &Value) -> Value {
    let mut out = Map::new();
    out.insert("name".into(), json!(text(name)));
    if !selector.is_null() {
        out.insert("selector".into(), selector.clone());
    }
    Value::Object(out)
}

/// A quantity that is not a pointer in the Go type: its zero value is `"0"`.
fn quantity_or_zero(v: &Value) -> Value {
    if v.is_null() { json!("0") } else { v.clone() }
}

/// Compact JSON, as Go's `json.Marshal` writes it (fields in the order built).
fn go_json(value: &Value) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

fn copy(from: &Value, to: &mut Map<String, Value>, key: &str) {
    if let Some(v) = from.get(key).filter(|v| !v.is_null()) {
        to.insert(key.into(), v.clone());
    }
}

fn array(v: &Value) -> &[Value] {
    v.as_array().map(Vec::as_slice).unwrap_or_default()
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

fn int(v: &Value) -> i64 {
    v.as_i64().unwrap_or_default()
}

#[cfg(test)]
mod tests;
