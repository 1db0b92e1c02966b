//! The horizontal pod autoscaler (kube-controller-manager's `horizontal-pod-autoscaler`,
//! v1.33: pkg/controller/podautoscaler/horizontal.go `reconcileAutoscaler`,
//! `computeReplicasForMetrics`, `setCondition`, `setStatus`, `updateStatusIfNeeded`).
//!
//! Every sync period (`--horizontal-pod-autoscaler-sync-period`, 15 s: upstream requeues each
//! HPA with that fixed delay, a new one included) each HorizontalPodAutoscaler's target is read
//! through its `/scale` subresource, found by `scaleTargetRef`'s kind and apiVersion in the
//! served kinds (a kind berth does not serve, or a target without `/scale`, is
//! `FailedGetScale`). [`plan`] is `reconcileAutoscaler` as a pure function of the HPA, that
//! scale (or why it could not be read) and the time:
//! - a target at 0 replicas with `minReplicas` not 0 is left alone (`ScalingActive=False
//!   ScalingDisabled`);
//! - above `maxReplicas` it is scaled to max, below `minReplicas` to min (`SuccessfulRescale`,
//!   `AbleToScale=True SucceededRescale`);
//! - otherwise the metrics decide. berth serves no metrics API (`metrics.k8s.io`, nor custom
//!   or external metrics), so every metric fails exactly as it does in a v1.33 cluster without
//!   metrics-server: a Resource metric with `FailedGetResourceMetric` and upstream's message
//!   ending in `the server could not find the requested resource (get pods.metrics.k8s.io)`,
//!   the others with theirs; then `ScalingActive=False` from the first failing metric, the event
//!   `FailedComputeMetricsReplicas`, `currentMetrics` of empty statuses (what `kubectl get hpa`
//!   prints as `<unknown>`), and nothing is scaled. No metric value is ever invented, so
//!   `ScalingLimited` (set only when a metric recommendation is normalized) never appears,
//!   as upstream without metrics.
//!
//! The status is written (`PUT …/status`, with the HPA's resourceVersion) only when it changed;
//! a condition's `lastTransitionTime` moves only when its status does.
//!
//! Left out versus upstream: the recommendation history and scale-down stabilization, behavior
//! policies and tolerance (they only act on metric recommendations); overlapping-selector
//! detection (`AmbiguousSelector`); metrics of its own.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::autoscaling::v1::{Scale, ScaleSpec};
use k8s_openapi::api::autoscaling::v2::{
    HorizontalPodAutoscaler, HorizontalPodAutoscalerCondition, HorizontalPodAutoscalerStatus,
    MetricSpec, MetricStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, PostParams};
use tokio::sync::Notify;
use tracing::Instrument;

use crate::informer::Cached;
use crate::meta::{api_message, error_chain, name_of, namespace_of, reference_to};
use crate::{Context, EventType, Recorder, cache};

/// `--horizontal-pod-autoscaler-sync-period`'s default.
pub(crate) const DEFAULT_SYNC_PERIOD: Duration = Duration::from_secs(15);

/// The event source of the HPA controller's events.
const COMPONENT: &str = "horizontal-pod-autoscaler";

/// What the metrics API answers in a cluster that does not serve it: client-go's
/// `NewGenericServerResponse` text for a 404 on `pods.metrics.k8s.io`.
const NO_RESOURCE_METRICS: &str =
    "the server could not find the requested resource (get pods.metrics.k8s.io)";

impl Cached for HorizontalPodAutoscaler {}

/// Why syncing one HPA failed; it is tried again at the next sync.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    #[error("cannot {action} for {key}")]
    Api {
        action: &'static str,
        key: String,
        #[source]
        source: Box<kube::Error>,
    },
}

/// One event to record on the HPA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Event {
    pub(crate) type_: EventType,
    pub(crate) reason: &'static str,
    pub(crate) message: String,
}

/// What to do for one HPA.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Plan {
    /// The replicas to write to the target's scale, and the reason for the event.
    pub(crate) rescale: Option<(i32, String)>,
    /// The status to write when the rescale (if any) succeeded.
    pub(crate) status: HorizontalPodAutoscalerStatus,
    /// Events recorded before the rescale.
    pub(crate) events: Vec<Event>,
}

/// `reconcileAutoscaler` up to its writes. `scale` is the target's scale, or the error text of
/// finding or reading it.
pub(crate) fn plan(
    hpa: &HorizontalPodAutoscaler,
    scale: Result<&Scale, String>,
    now: Timestamp,
) -> Plan {
    let spec = hpa.spec.clone().unwrap_or_default();
    let mut status = hpa.status.clone().unwrap_or_default();
    let mut events = Vec::new();
    let scale = match scale {
        Ok(scale) => scale,
        Err(error) => {
            events.push(warning("FailedGetScale", error.clone()));
            let message =
                format!("the HPA controller was unable to get the target's current scale: {error}");
            set_condition(&mut status, "AbleToScale", "False", "FailedGetScale", message, now);
            return Plan { rescale: None, status, events };
        }
    };
    set_condition(
        &mut status,
        "AbleToScale",
        "True",
        "SucceededGetScale",
        "the HPA controller was able to get the target's current scale".to_owned(),
        now,
    );
    let current = scale.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0);
    let min = spec.min_replicas.unwrap_or(1);
    let max = spec.max_replicas;
    let (desired, reason) = if current == 0 && min != 0 {
        set_condition(
            &mut status,
            "ScalingActive",
            "False",
            "ScalingDisabled",
            "scaling is disabled since the replica count of the target is zero".to_owned(),
            now,
        );
        set_status(&mut status, current, current, None, None);
        return Plan { rescale: None, status, events };
    } else if current > max {
        (max, "Current number of replicas above Spec.MaxReplicas")
    } else if current < min {
        (min, "Current number of replicas below Spec.MinReplicas")
    } else {
        // `computeReplicasForMetrics`: without a metrics API every metric is invalid.
        let metrics = spec.metrics.clone().unwrap_or_default();
        let selector = scale.status.as_ref().and_then(|s| s.selector.clone()).unwrap_or_default();
        if selector.is_empty() {
            events.push(warning("SelectorRequired", "selector is required".to_owned()));
            set_condition(
                &mut status,
                "ScalingActive",
                "False",
                "InvalidSelector",
                "the HPA target's scale is missing a selector".to_owned(),
                now,
            );
            let desired = status.desired_replicas;
            set_status(&mut status, current, desired, None, None);
            return Plan { rescale: None, status, events };
        }
        let statuses = vec![MetricStatus::default(); metrics.len()];
        let mut first: Option<(&'static str, String, String)> = None;
        for metric in &metrics {
            // `getUnableComputeReplicaCountCondition` records the metric's own error.
            let failure = metric_failure(metric);
            events.push(warning(failure.0, failure.1.clone()));
            first.get_or_insert(failure);
        }
        if let Some((reason, condition_error, error)) = first {
            let message =
                format!("the HPA was unable to compute the replica count: {condition_error}");
            set_condition(&mut status, "ScalingActive", "False", reason, message, now);
            let desired = status.desired_replicas;
            set_status(&mut status, current, desired, Some(statuses), None);
            let count = metrics.len();
            events.push(warning(
                "FailedComputeMetricsReplicas",
                format!(
                    "invalid metrics ({count} invalid out of {count}), first error is: {error}"
                ),
            ));
            return Plan { rescale: None, status, events };
        }
        // No metrics at all: nothing recommends a change.
        set_status(&mut status, current, current, Some(statuses), None);
        return Plan { rescale: None, status, events };
    };
    let message = format!("the HPA controller was able to update the target scale to {desired}");
    set_condition(&mut status, "AbleToScale", "True", "SucceededRescale", message, now);
    set_status(&mut status, current, desired, None, Some(now));
    Plan { rescale: Some((desired, reason.to_owned())), status, events }
}

/// What a failed scale update does to the plan's status (`FailedRescale`,
/// `AbleToScale=False FailedUpdateScale`), and its event.
pub(crate) fn rescale_failed(
    hpa: &HorizontalPodAutoscaler,
    plan: &Plan,
    error: &str,
    now: Timestamp,
) -> (HorizontalPodAutoscalerStatus, Event) {
    let (desired, reason) = plan.rescale.clone().unwrap_or_default();
    let mut status = plan.status.clone();
    let message = format!("the HPA controller was unable to update the target scale: {error}");
    set_condition(&mut status, "AbleToScale", "False", "FailedUpdateScale", message, now);
    // `setCurrentReplicasAndMetricsInStatus`: the desired count stays what it was.
    let before = hpa.status.as_ref().map(|s| (s.desired_replicas, s.last_scale_time.clone()));
    let (old_desired, old_time) = before.unwrap_or_default();
    status.desired_replicas = old_desired;
    status.last_scale_time = old_time;
    let event =
        warning("FailedRescale", format!("New size: {desired}; reason: {reason}; error: {error}"));
    (status, event)
}

/// Why a metric cannot be computed without a metrics API: (reason, the error the condition
/// shows, the error the event of the whole computation shows).
fn metric_failure(metric: &MetricSpec) -> (&'static str, String, String) {
    let unavailable = |api: &str, kind: &str| {
        format!("the server could not find the requested resource (get {kind}.{api})")
    };
    match metric.type_.as_str() {
        "Resource" | "ContainerResource" => {
            let (name, reason) = match (&metric.resource, &metric.container_resource) {
                (Some(r), _) if metric.type_ == "Resource" => {
                    (r.name.clone(), "FailedGetResourceMetric")
                }
                (_, Some(c)) => (c.name.clone(), "FailedGetContainerResourceMetric"),
                _ => (String::new(), "FailedGetResourceMetric"),
            };
            let utilization = metric
                .resource
                .as_ref()
                .map(|r| &r.target)
                .or(metric.container_resource.as_ref().map(|c| &c.target))
                .is_some_and(|t| t.average_utilization.is_some());
            let fetch = format!(
                "unable to get metrics for resource {name}: unable to fetch metrics from resource metrics API: {NO_RESOURCE_METRICS}"
            );
            let inner = if utilization {
                format!("failed to get {name} utilization: {fetch}")
            } else {
                format!("failed to get {name} usage: {fetch}")
            };
            let outer = if metric.type_ == "Resource" {
                format!("failed to get {name} resource metric value: {inner}")
            } else {
                format!("failed to get {name} container metric value: {inner}")
            };
            (reason, inner, outer)
        }
        "Pods" => {
            let name = metric.pods.as_ref().map(|p| p.metric.name.clone()).unwrap_or_default();
            let inner = format!(
                "unable to get metric {name}: unable to fetch metrics from custom metrics API: {}",
                unavailable("custom.metrics.k8s.io", "pods")
            );
            let outer = format!("failed to get pods metric value: {inner}");
            ("FailedGetPodsMetric", inner, outer)
        }
        "Object" => {
            let name = metric.object.as_ref().map(|o| o.metric.name.clone()).unwrap_or_default();
            let inner = format!(
                "unable to get metric {name}: unable to fetch metrics from custom metrics API: {}",
                unavailable("custom.metrics.k8s.io", "*")
            );
            let outer = format!("failed to get object metric value: {inner}");
            ("FailedGetObjectMetric", inner, outer)
        }
        "External" => {
            let name = metric.external.as_ref().map(|e| e.metric.name.clone()).unwrap_or_default();
            let inner = format!(
                "unable to get external metric {name}: unable to fetch metrics from external metrics API: {}",
                unavailable("external.metrics.k8s.io", name.as_str())
            );
            let outer = format!("failed to get external metric value: {inner}");
            ("FailedGetExternalMetric", inner, outer)
        }
        other => {
            let error = format!("unknown metric source type {other:?}");
            ("InvalidMetricSourceType", error.clone(), error)
        }
    }
}

fn warning(reason: &'static str, message: String) -> Event {
    Event { type_: EventType::Warning, reason, message }
}

/// `setConditionInList`: the condition is added or changed in place; its transition time
/// moves only when its status changes.
fn set_condition(
    status: &mut HorizontalPodAutoscalerStatus,
    type_: &str,
    value: &str,
    reason: &str,
    message: String,
    now: Timestamp,
) {
    let conditions = status.conditions.get_or_insert_with(Vec::new);
    let index = match conditions.iter().position(|c| c.type_ == type_) {
        Some(i) => i,
        None => {
            conditions.push(HorizontalPodAutoscalerCondition {
                type_: type_.to_owned(),
                ..Default::default()
            });
            conditions.len() - 1
        }
    };
    let condition = &mut conditions[index];
    if condition.status != value {
        condition.last_transition_time = Some(Time(now));
    }
    condition.status = value.to_owned();
    condition.reason = Some(reason.to_owned());
    condition.message = Some(message);
}

/// `setStatus`: the counts and metrics, the conditions and last scale time kept (moved to
/// now on a rescale).
fn set_status(
    status: &mut HorizontalPodAutoscalerStatus,
    current: i32,
    desired: i32,
    metrics: Option<Vec<MetricStatus>>,
    rescaled_at: Option<Timestamp>,
) {
    status.current_replicas = Some(current);
    status.desired_replicas = desired;
    status.current_metrics = metrics.filter(|m| !m.is_empty());
    if let Some(now) = rescaled_at {
        status.last_scale_time = Some(Time(now));
    }
}

// === the loop ===

pub(crate) async fn run(cx: Context) {
    let wake = Arc::new(Notify::new());
    let hpas = cache::cache::<HorizontalPodAutoscaler>(&cx.informers, &wake);
    hpas.wait_until_ready().await;
    let recorder = Recorder::new(cx.client.clone(), COMPONENT, None);
    let mut ticker = tokio::time::interval(cx.config.horizontal_pod_autoscaler_sync_period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        for hpa in hpas.state() {
            let key = format!("{}/{}", namespace_of(&hpa.metadata), name_of(&hpa.metadata));
            let span = tracing::debug_span!("hpa", object.ref = %key);
            if let Err(error) = reconcile(&cx.client, &recorder, &hpa).instrument(span).await {
                tracing::warn!(hpa = %key, error = %error_chain(&error), "sync failed");
            }
        }
    }
}

/// One HPA: read the target's scale, plan, rescale, write the status when it changed.
async fn reconcile(
    client: &kube::Client,
    recorder: &Recorder,
    hpa: &HorizontalPodAutoscaler,
) -> Result<(), Error> {
    let namespace = namespace_of(&hpa.metadata);
    let name = name_of(&hpa.metadata);
    let key = format!("{namespace}/{name}");
    let target = hpa.spec.as_ref().map(|s| s.scale_target_ref.clone()).unwrap_or_default();
    let scales = scales_api(client, namespace, &target.kind, target.api_version.as_deref());
    let scale = match &scales {
        Ok(api) => api.get_scale(&target.name).await.map_err(|e| api_message(&e)),
        Err(error) => Err(error.clone()),
    };
    let plan = plan(hpa, scale.as_ref().map_err(Clone::clone), Timestamp::now());
    let reference = reference_to(hpa);
    for event in &plan.events {
        recorder.record(&reference, event.type_, event.reason, event.message.clone());
    }
    let mut status = plan.status.clone();
    if let (Some((desired, reason)), Ok(api), Ok(scale)) = (&plan.rescale, &scales, &scale) {
        let mut updated = scale.clone();
        updated.spec = Some(ScaleSpec { replicas: Some(*desired) });
        match api.replace_scale(&target.name, &PostParams::default(), &updated).await {
            Ok(_) => recorder.record(
                &reference,
                EventType::Normal,
                "SuccessfulRescale",
                format!("New size: {desired}; reason: {reason}"),
            ),
            Err(error) => {
                let (failed, event) =
                    rescale_failed(hpa, &plan, &api_message(&error), Timestamp::now());
                recorder.record(&reference, event.type_, event.reason, event.message);
                status = failed;
            }
        }
    }
    if hpa.status.as_ref() == Some(&status) {
        return Ok(());
    }
    let mut updated = hpa.clone();
    updated.status = Some(status);
    let api: Api<HorizontalPodAutoscaler> = Api::namespaced(client.clone(), namespace);
    if let Err(source) = api.replace_status(name, &PostParams::default(), &updated).await {
        recorder.record(&reference, EventType::Warning, "FailedUpdateStatus", api_message(&source));
        return Err(Error::Api { action: "update status", key, source: Box::new(source) });
    }
    Ok(())
}

/// The API of the target's kind, for its `/scale`: the kind must be served in the
/// reference's group version and have a scale subresource. Else the RESTMapper's error text.
fn scales_api(
    client: &kube::Client,
    namespace: &str,
    kind: &str,
    api_version: Option<&str>,
) -> Result<Api<DynamicObject>, String> {
    let api_version = api_version.unwrap_or_default();
    let (group, version) = match api_version.split_once('/') {
        Some((group, version)) => (group, version),
        None => ("", api_version),
    };
    let served = berth_api::kinds::find_kind(group, version, kind)
        .or_else(|| {
            // A reference without a version maps to the group's preferred one, as the
            // RESTMapper does.
            let group = berth_api::kinds::group(group)?;
            berth_api::kinds::find_kind(group.name, group.preferred_version(), kind)
        })
        .ok_or_else(|| format!("no matches for kind {kind:?} in group {group:?}"))?;
    if served.subresource("scale").is_none() {
        return Err(format!(
            "the server could not find the requested resource ({}/scale)",
            served.plural
        ));
    }
    let gvk = GroupVersionKind::gvk(served.group, served.version, served.kind);
    let resource = ApiResource::from_gvk_with_plural(&gvk, served.plural);
    Ok(Api::namespaced_with(client.clone(), namespace, &resource))
}

#[cfg(test)]
mod tests;
