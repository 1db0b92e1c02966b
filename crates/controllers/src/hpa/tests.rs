//! The HPA controller's plan: bounds, disabled scaling, unavailable metrics, scale errors and
//! condition transition times.

use k8s_openapi::api::autoscaling::v1::{Scale, ScaleSpec, ScaleStatus};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::jiff::Timestamp;
use serde_json::json;

use super::*;

const CPU_FAILURE: &str = "failed to get cpu utilization: unable to get metrics for resource cpu: unable to fetch metrics from resource metrics API: the server could not find the requested resource (get pods.metrics.k8s.io)";

fn hpa(min: i32, max: i32) -> HorizontalPodAutoscaler {
    serde_json::from_value(json!({
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "scaleTargetRef": {"kind": "StatefulSet", "name": "web", "apiVersion": "apps/v1"},
            "minReplicas": min, "maxReplicas": max,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 80}}}],
        },
        "status": {"desiredReplicas": 0},
    }))
    .unwrap()
}

fn scale(replicas: i32) -> Scale {
    Scale {
        spec: Some(ScaleSpec { replicas: Some(replicas) }),
        status: Some(ScaleStatus { replicas, selector: Some("app=web".into()) }),
        ..Default::default()
    }
}

fn now() -> Timestamp {
    "2025-01-01T00:00:00Z".parse().unwrap()
}

fn conditions(status: &HorizontalPodAutoscalerStatus) -> Vec<(String, String, String)> {
    status
        .conditions
        .iter()
        .flatten()
        .map(|c| (c.type_.clone(), c.status.clone(), c.reason.clone().unwrap_or_default()))
        .collect()
}

fn owned(list: &[(&str, &str, &str)]) -> Vec<(String, String, String)> {
    list.iter().map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string())).collect()
}

#[test]
fn below_min_scales_to_min() {
    let plan = plan(&hpa(2, 5), Ok(&scale(1)), now());
    assert_eq!(plan.rescale, Some((2, "Current number of replicas below Spec.MinReplicas".into())));
    assert_eq!(plan.status.current_replicas, Some(1));
    assert_eq!(plan.status.desired_replicas, 2);
    assert_eq!(plan.status.last_scale_time, Some(Time(now())));
    assert_eq!(conditions(&plan.status), owned(&[("AbleToScale", "True", "SucceededRescale")]));
    let able = &plan.status.conditions.as_ref().unwrap()[0];
    assert_eq!(
        able.message.as_deref(),
        Some("the HPA controller was able to update the target scale to 2")
    );
    assert!(plan.events.is_empty());
}

#[test]
fn above_max_scales_to_max() {
    let plan = plan(&hpa(2, 5), Ok(&scale(9)), now());
    assert_eq!(plan.rescale, Some((5, "Current number of replicas above Spec.MaxReplicas".into())));
}

#[test]
fn within_bounds_metrics_are_unavailable() {
    let plan = plan(&hpa(2, 5), Ok(&scale(3)), now());
    assert_eq!(plan.rescale, None);
    assert_eq!(
        conditions(&plan.status),
        owned(&[
            ("AbleToScale", "True", "SucceededGetScale"),
            ("ScalingActive", "False", "FailedGetResourceMetric"),
        ])
    );
    let active = &plan.status.conditions.as_ref().unwrap()[1];
    assert_eq!(
        active.message.as_deref().unwrap(),
        format!("the HPA was unable to compute the replica count: {CPU_FAILURE}")
    );
    // One empty status per metric, the desired count kept.
    assert_eq!(plan.status.current_metrics, Some(vec![MetricStatus::default()]));
    assert_eq!((plan.status.current_replicas, plan.status.desired_replicas), (Some(3), 0));
    assert_eq!(
        plan.events,
        vec![
            warning("FailedGetResourceMetric", CPU_FAILURE.to_owned()),
            warning(
                "FailedComputeMetricsReplicas",
                format!(
                    "invalid metrics (1 invalid out of 1), first error is: failed to get cpu resource metric value: {CPU_FAILURE}"
                ),
            ),
        ]
    );
}

#[test]
fn zero_replicas_disable_scaling() {
    let plan = plan(&hpa(2, 5), Ok(&scale(0)), now());
    assert_eq!(plan.rescale, None);
    assert_eq!(
        conditions(&plan.status),
        owned(&[
            ("AbleToScale", "True", "SucceededGetScale"),
            ("ScalingActive", "False", "ScalingDisabled"),
        ])
    );
    assert_eq!((plan.status.current_replicas, plan.status.desired_replicas), (Some(0), 0));
}

#[test]
fn a_missing_target_is_failed_get_scale() {
    let error = r#"statefulsets.apps "web" not found"#.to_owned();
    let plan = plan(&hpa(2, 5), Err(error.clone()), now());
    assert_eq!(plan.rescale, None);
    assert_eq!(conditions(&plan.status), owned(&[("AbleToScale", "False", "FailedGetScale")]));
    assert_eq!(plan.events, vec![warning("FailedGetScale", error)]);
}

#[test]
fn transition_times_move_only_with_the_status() {
    let first = plan(&hpa(2, 5), Ok(&scale(3)), now());
    let mut observed = hpa(2, 5);
    observed.status = Some(first.status.clone());
    let later: Timestamp = "2025-01-01T00:05:00Z".parse().unwrap();
    let second = plan(&observed, Ok(&scale(3)), later);
    assert_eq!(second.status, first.status);
    let third = plan(&observed, Ok(&scale(1)), later);
    let times: Vec<_> = third
        .status
        .conditions
        .iter()
        .flatten()
        .map(|c| (c.type_.as_str(), c.last_transition_time.clone()))
        .collect();
    // AbleToScale stayed True; ScalingActive is untouched by a rescale.
    assert_eq!(
        times,
        vec![("AbleToScale", Some(Time(now()))), ("ScalingActive", Some(Time(now())))]
    );
}

#[test]
fn a_failed_rescale_keeps_the_desired_count() {
    let observed = hpa(2, 5);
    let planned = plan(&observed, Ok(&scale(1)), now());
    let (status, event) = rescale_failed(&observed, &planned, "conflict", now());
    assert_eq!(status.desired_replicas, 0);
    assert_eq!(status.last_scale_time, None);
    assert_eq!(conditions(&status), owned(&[("AbleToScale", "False", "FailedUpdateScale")]));
    assert_eq!(
        event.message,
        "New size: 2; reason: Current number of replicas below Spec.MinReplicas; error: conflict"
    );
}
