//! The horizontal pod autoscaler through real kubectl: `kubectl autoscale statefulset` scales a
//! one-replica StatefulSet up to its minimum, `kubectl get hpa` prints the targets as a cluster
//! without metrics-server does (`cpu: <unknown>/80%`), the autoscaling/v1 view carries the
//! round-trip annotations, the conditions say why nothing else happens, a StatefulSet scaled
//! above the maximum comes back to it, and one scaled to zero disables autoscaling.

use std::time::Duration;

use berth_controllers::{Config, Controller};
use berth_testkit::cluster::{Cluster, eventually};
use berth_testkit::kubectl::Kubectl;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use kube::api::Api;

const STATEFUL_SET: &str = "
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: web
spec:
  replicas: 1
  serviceName: web
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: nginx
        image: nginx:1
";

const NO_METRICS: &str = "the HPA was unable to compute the replica count: failed to get cpu utilization: unable to get metrics for resource cpu: unable to fetch metrics from resource metrics API: the server could not find the requested resource (get pods.metrics.k8s.io)";

/// The HPA's conditions as (type, status, reason, message).
async fn conditions(hpas: &Api<HorizontalPodAutoscaler>) -> Vec<(String, String, String, String)> {
    let Ok(hpa) = hpas.get("web").await else { return Vec::new() };
    hpa.status
        .and_then(|s| s.conditions)
        .unwrap_or_default()
        .into_iter()
        .map(|c| (c.type_, c.status, c.reason.unwrap_or_default(), c.message.unwrap_or_default()))
        .collect()
}

async fn replicas(sets: &Api<StatefulSet>) -> Option<i32> {
    sets.get("web").await.ok()?.spec?.replicas
}

/// kubectl's table without its AGE column (the last one).
fn without_age(table: &str) -> String {
    table
        .lines()
        .map(|line| line.trim_end().rsplit_once(' ').map_or(line, |(rest, _)| rest).trim_end())
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn kubectl_autoscale_keeps_a_stateful_set_within_bounds() {
    let cluster = Cluster::start().await;
    let Some(kubectl) = Kubectl::new(&cluster.kubeconfig()) else { return };
    let controllers = cluster.spawn_controllers(Config {
        controllers: vec![Controller::HorizontalPodAutoscaler],
        horizontal_pod_autoscaler_sync_period: Duration::from_millis(500),
        ..Config::default()
    });
    let sets: Api<StatefulSet> = Api::namespaced(cluster.client(), "default");
    let hpas: Api<HorizontalPodAutoscaler> = Api::namespaced(cluster.client(), "default");

    kubectl.apply(STATEFUL_SET).await;
    let out = kubectl
        .ok(&["autoscale", "statefulset", "web", "--min=2", "--max=5", "--cpu-percent=80"])
        .await;
    assert_eq!(out.trim(), "horizontalpodautoscaler.autoscaling/web autoscaled");

    eventually("scaled to the minimum", || async {
        (replicas(&sets).await == Some(2)).then_some(())
    })
    .await;
    let expected = vec![
        (
            "AbleToScale".to_owned(),
            "True".to_owned(),
            "SucceededGetScale".to_owned(),
            "the HPA controller was able to get the target's current scale".to_owned(),
        ),
        (
            "ScalingActive".to_owned(),
            "False".to_owned(),
            "FailedGetResourceMetric".to_owned(),
            NO_METRICS.to_owned(),
        ),
    ];
    eventually("metrics reported unavailable", || async {
        (conditions(&hpas).await == expected).then_some(())
    })
    .await;

    let table = kubectl.ok(&["get", "hpa"]).await;
    assert_eq!(
        without_age(&table),
        without_age(
            "NAME   REFERENCE         TARGETS              MINPODS   MAXPODS   REPLICAS   AGE
web    StatefulSet/web   cpu: <unknown>/80%   2         5         2          1s"
        ),
        "{table}"
    );

    // kubectl 1.33's shortcut expander drops the version of a short name (`hpa.v1.autoscaling`
    // reads the preferred v2, on a cluster too), so the v1 view is asked for by its full name.
    let v1 =
        kubectl.ok(&["get", "horizontalpodautoscalers.v1.autoscaling", "web", "-o", "yaml"]).await;
    for line in [
        "apiVersion: autoscaling/v1",
        "  targetCPUUtilizationPercentage: 80",
        "  maxReplicas: 5",
        "  minReplicas: 2",
        "  currentReplicas: 2",
        "    autoscaling.alpha.kubernetes.io/conditions:",
        "    autoscaling.alpha.kubernetes.io/current-metrics: '[{\"type\":\"\"}]'",
    ] {
        assert!(v1.lines().any(|l| l.starts_with(line)), "{line:?} in\n{v1}");
    }
    assert!(!v1.contains("metrics:\n"), "v1 has no metrics list:\n{v1}");
    let v2 = kubectl.ok(&["get", "hpa", "web", "-o", "yaml"]).await;
    assert!(v2.contains("apiVersion: autoscaling/v2"), "{v2}");
    assert!(!v2.contains("autoscaling.alpha.kubernetes.io"), "{v2}");

    kubectl.ok(&["scale", "statefulset", "web", "--replicas=9"]).await;
    eventually("back to the maximum", || async {
        (replicas(&sets).await == Some(5)).then_some(())
    })
    .await;
    let events = kubectl
        .ok(&["get", "events", "--field-selector", "involvedObject.kind=HorizontalPodAutoscaler"])
        .await;
    assert!(
        events.contains("New size: 2; reason: Current number of replicas below Spec.MinReplicas"),
        "{events}"
    );

    kubectl.ok(&["scale", "statefulset", "web", "--replicas=0"]).await;
    eventually("scaling disabled", || async {
        conditions(&hpas)
            .await
            .iter()
            .any(|c| c.0 == "ScalingActive" && c.2 == "ScalingDisabled")
            .then_some(())
    })
    .await;
    assert_eq!(replicas(&sets).await, Some(0));
    controllers.shutdown().await;
}
