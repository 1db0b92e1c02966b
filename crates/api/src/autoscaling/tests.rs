//! Tests of the HorizontalPodAutoscaler conversion and defaults: round trips v2→v1→v2 and
//! v1→v2→v1 (what upstream's fuzzed round trip expects), the annotations' exact text, and each
//! version's defaults.

use serde_json::{Value, json};

use super::*;

fn v2_full() -> Value {
    json!({
        "kind": "HorizontalPodAutoscaler",
        "apiVersion": "autoscaling/v2",
        "metadata": {"name": "web", "namespace": "default", "annotations": {"team": "a"}},
        "spec": {
            "scaleTargetRef": {"kind": "StatefulSet", "name": "web", "apiVersion": "apps/v1"},
            "minReplicas": 2,
            "maxReplicas": 5,
            "metrics": [
                {"type": "Pods", "pods": {"metric": {"name": "qps"},
                    "target": {"type": "AverageValue", "averageValue": "10"}}},
                {"type": "Resource", "resource": {"name": "memory",
                    "target": {"type": "AverageValue", "averageValue": "100Mi"}}},
                {"type": "Resource", "resource": {"name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": 70}}},
            ],
            "behavior": {
                "scaleUp": {"stabilizationWindowSeconds": 0, "selectPolicy": "Max",
                    "policies": [{"type": "Pods", "value": 4, "periodSeconds": 15}]},
                "scaleDown": {"selectPolicy": "Min",
                    "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]},
            },
        },
        "status": {
            "observedGeneration": 1,
            "currentReplicas": 2,
            "desiredReplicas": 2,
            "currentMetrics": [
                {"type": "Resource", "resource": {"name": "cpu",
                    "current": {"averageValue": "50m", "averageUtilization": 40}}},
            ],
            "conditions": [
                {"type": "AbleToScale", "status": "True", "lastTransitionTime": "2025-01-01T00:00:00Z",
                    "reason": "SucceededGetScale",
                    "message": "the HPA controller was able to get the target's current scale"},
            ],
        },
    })
}

#[test]
fn v2_to_v1_to_v2_round_trips() {
    let v2 = v2_full();
    let v1 = v2_to_v1(&v2);
    assert_eq!(v1["apiVersion"], "autoscaling/v1");
    assert_eq!(v1["spec"]["targetCPUUtilizationPercentage"], 70);
    assert_eq!(v1["status"]["currentCPUUtilizationPercentage"], 40);
    assert_eq!(v1["metadata"]["annotations"]["team"], "a");
    assert_eq!(
        v1["metadata"]["annotations"][METRICS_ANNOTATION],
        r#"[{"type":"Pods","pods":{"metricName":"qps","targetAverageValue":"10"}},{"type":"Resource","resource":{"name":"memory","targetAverageValue":"100Mi"}}]"#
    );
    assert_eq!(
        v1["metadata"]["annotations"][BEHAVIOR_ANNOTATION],
        r#"{"ScaleUp":{"StabilizationWindowSeconds":0,"SelectPolicy":"Max","Policies":[{"Type":"Pods","Value":4,"PeriodSeconds":15}],"Tolerance":null},"ScaleDown":{"StabilizationWindowSeconds":null,"SelectPolicy":"Min","Policies":[{"Type":"Percent","Value":100,"PeriodSeconds":15}],"Tolerance":null}}"#
    );
    assert_eq!(
        v1["metadata"]["annotations"][CONDITIONS_ANNOTATION],
        r#"[{"type":"AbleToScale","status":"True","lastTransitionTime":"2025-01-01T00:00:00Z","reason":"SucceededGetScale","message":"the HPA controller was able to get the target's current scale"}]"#
    );
    assert_eq!(
        v1["metadata"]["annotations"][CURRENT_METRICS_ANNOTATION],
        r#"[{"type":"Resource","resource":{"name":"cpu","currentAverageUtilization":40,"currentAverageValue":"50m"}}]"#
    );
    let back = v1_to_v2(&v1);
    assert_eq!(back, v2);
    // Converting twice does not stack annotations.
    assert_eq!(v2_to_v1(&back), v1);
}

#[test]
fn v1_to_v2_to_v1_round_trips() {
    let v1 = json!({
        "kind": "HorizontalPodAutoscaler",
        "apiVersion": "autoscaling/v1",
        "metadata": {"name": "web"},
        "spec": {
            "scaleTargetRef": {"kind": "Deployment", "name": "web", "apiVersion": "apps/v1"},
            "minReplicas": 1,
            "maxReplicas": 3,
            "targetCPUUtilizationPercentage": 80,
        },
        "status": {"currentReplicas": 0, "desiredReplicas": 0},
    });
    let v2 = v1_to_v2(&v1);
    assert_eq!(
        v2["spec"]["metrics"],
        json!([{"type": "Resource", "resource": {"name": "cpu",
            "target": {"type": "Utilization", "averageUtilization": 80}}}])
    );
    assert_eq!(v2["status"], json!({"desiredReplicas": 0}));
    assert_eq!(v2_to_v1(&v2), v1);
}

#[test]
fn v1_without_a_target_gets_the_default_cpu_metric() {
    let v1 = json!({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "x", "annotations": {METRICS_ANNOTATION: "not json"}},
        "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "x"}, "maxReplicas": 2}});
    let v2 = v1_to_v2(&v1);
    assert_eq!(v2["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"], 80);
    // The unreadable annotation is ignored and dropped.
    assert!(v2["metadata"].get("annotations").is_none());
    assert!(v2["spec"].get("behavior").is_none());
}

#[test]
fn v2_defaults() {
    let mut hpa = json!({"apiVersion": "autoscaling/v2", "spec": {"maxReplicas": 3,
        "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}}}});
    set_defaults(&mut hpa);
    assert_eq!(
        hpa["spec"],
        json!({
            "maxReplicas": 3,
            "behavior": {
                "scaleDown": {"stabilizationWindowSeconds": 60, "selectPolicy": "Max",
                    "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]},
                "scaleUp": {"stabilizationWindowSeconds": 0, "selectPolicy": "Max", "policies": [
                    {"type": "Pods", "value": 4, "periodSeconds": 15},
                    {"type": "Percent", "value": 100, "periodSeconds": 15}]},
            },
            "minReplicas": 1,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 80}}}],
        })
    );
    // Without a behavior, none is made up.
    let mut hpa = json!({"apiVersion": "autoscaling/v2", "spec": {"maxReplicas": 3}});
    set_defaults(&mut hpa);
    assert!(hpa["spec"].get("behavior").is_none());
}

#[test]
fn v1_defaults_only_min_replicas() {
    let mut hpa = json!({"apiVersion": "autoscaling/v1", "spec": {"maxReplicas": 3}});
    set_defaults(&mut hpa);
    assert_eq!(hpa["spec"], json!({"maxReplicas": 3, "minReplicas": 1}));
}
