//! The node lifecycle controller against a real API server, with Nodes and Leases written by
//! hand as a kubelet would write them, and a short grace period.

use std::time::Duration;

use berth_controllers::{Config, Controller, Controllers};
use berth_testkit::cluster::{Cluster, eventually};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Namespace, Node, Pod, ServiceAccount, Taint};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

async fn start(grace: Duration) -> (Cluster, Controllers) {
    let cluster = Cluster::start().await;
    let client = cluster.client();
    create_ignoring_conflict(
        &Api::<Namespace>::all(client.clone()),
        json!({ "metadata": { "name": "kube-node-lease" } }),
    )
    .await;
    create_ignoring_conflict(
        &Api::<ServiceAccount>::namespaced(client.clone(), "default"),
        json!({ "metadata": { "name": "default" } }),
    )
    .await;
    let config = Config {
        controllers: vec![Controller::NodeLifecycle],
        node_monitor_grace_period: grace,
        node_monitor_period: Duration::from_millis(100),
        ..Config::default()
    };
    let controllers = cluster.spawn_controllers(config);
    (cluster, controllers)
}

async fn create_ignoring_conflict<K>(api: &Api<K>, object: Value)
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    let object: K = serde_json::from_value(object).unwrap();
    match api.create(&PostParams::default(), &object).await {
        Ok(_) => {}
        Err(kube::Error::Api(status)) if status.code == 409 => {}
        Err(error) => panic!("cannot create: {error}"),
    }
}

/// What a kubelet posts: the Ready condition with a fresh heartbeat.
async fn post_status(client: &kube::Client, name: &str, ready: &str) {
    let nodes: Api<Node> = Api::all(client.clone());
    let now = Timestamp::now().to_string();
    let status = json!({ "status": {
        "allocatable": { "cpu": "4", "memory": "8Gi", "pods": "110" },
        "conditions": [
            { "type": "Ready", "status": ready, "reason": "KubeletReady",
              "message": "kubelet is posting ready status",
              "lastHeartbeatTime": now, "lastTransitionTime": now },
            { "type": "MemoryPressure", "status": "False", "reason": "KubeletHasSufficientMemory",
              "lastHeartbeatTime": now, "lastTransitionTime": now },
        ],
    }});
    nodes.patch_status(name, &PatchParams::default(), &Patch::Merge(&status)).await.unwrap();
}

async fn register(client: &kube::Client, name: &str, ready: &str) {
    let nodes: Api<Node> = Api::all(client.clone());
    let node: Node = serde_json::from_value(json!({
        "metadata": { "name": name, "labels": { "kubernetes.io/hostname": name } },
    }))
    .unwrap();
    nodes.create(&PostParams::default(), &node).await.unwrap();
    post_status(client, name, ready).await;
    let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-node-lease");
    let lease: Lease = serde_json::from_value(json!({
        "metadata": { "name": name },
        "spec": { "holderIdentity": name, "leaseDurationSeconds": 40,
                  "renewTime": MicroTime(Timestamp::now()) },
    }))
    .unwrap();
    leases.create(&PostParams::default(), &lease).await.unwrap();
}

async fn renew(client: &kube::Client, name: &str) {
    let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-node-lease");
    let patch = json!({ "spec": { "renewTime": MicroTime(Timestamp::now()) } });
    leases.patch(name, &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
}

async fn taints(client: &kube::Client, name: &str) -> Vec<String> {
    let node = Api::<Node>::all(client.clone()).get(name).await.unwrap();
    let taints: Vec<Taint> = node.spec.and_then(|s| s.taints).unwrap_or_default();
    let mut keys: Vec<String> = taints.iter().map(|t| format!("{}:{}", t.key, t.effect)).collect();
    keys.sort();
    keys
}

async fn ready(client: &kube::Client, name: &str) -> (String, String, String) {
    let node = Api::<Node>::all(client.clone()).get(name).await.unwrap();
    let condition = node
        .status
        .and_then(|s| s.conditions)
        .unwrap_or_default()
        .into_iter()
        .find(|c| c.type_ == "Ready")
        .unwrap();
    (condition.status, condition.reason.unwrap_or_default(), condition.message.unwrap_or_default())
}

async fn pod_on(client: &kube::Client, name: &str, node: &str, tolerations: Value) {
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let pod: Pod = serde_json::from_value(json!({
        "metadata": { "name": name },
        "spec": { "nodeName": node, "tolerations": tolerations,
                  "containers": [{ "name": "c", "image": "nginx" }] },
    }))
    .unwrap();
    pods.create(&PostParams::default(), &pod).await.unwrap();
    let now = Timestamp::now().to_string();
    let status = json!({ "status": { "phase": "Running", "conditions": [
        { "type": "Ready", "status": "True", "lastTransitionTime": now }] } });
    pods.patch_status(name, &PatchParams::default(), &Patch::Merge(&status)).await.unwrap();
}

#[tokio::test]
async fn a_silent_kubelet_makes_its_node_unknown_and_unreachable_until_it_comes_back() {
    let (cluster, controllers) = start(Duration::from_secs(1)).await;
    let client = cluster.client();
    register(&client, "n", "True").await;
    let unreachable = json!([{ "key": "node.kubernetes.io/unreachable", "operator": "Exists",
                               "effect": "NoExecute" }]);
    let brief = json!([{ "key": "node.kubernetes.io/unreachable", "operator": "Exists",
                         "effect": "NoExecute", "tolerationSeconds": 1 }]);
    pod_on(&client, "stays", "n", unreachable).await;
    pod_on(&client, "leaves", "n", brief).await;

    // A kubelet that renews its lease keeps the node as it is.
    for _ in 0..8 {
        renew(&client, "n").await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(ready(&client, "n").await.0, "True");
    assert_eq!(taints(&client, "n").await, Vec::<String>::new());

    // Silence: Unknown, unreachable taints, pods not Ready, the intolerant one evicted.
    let (_, reason, message) = eventually("the node Unknown", || async {
        let ready = ready(&client, "n").await;
        (ready.0 == "Unknown").then_some(ready)
    })
    .await;
    assert_eq!(reason, "NodeStatusUnknown");
    assert_eq!(message, "Kubelet stopped posting node status.");
    eventually("the unreachable taints", || async {
        let taints = taints(&client, "n").await;
        (taints
            == [
                "node.kubernetes.io/unreachable:NoExecute",
                "node.kubernetes.io/unreachable:NoSchedule",
            ])
        .then_some(())
    })
    .await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    eventually("the tolerant pod not Ready", || async {
        let pod = pods.get("stays").await.ok()?;
        let ready = pod.status?.conditions?.into_iter().find(|c| c.type_ == "Ready")?;
        (ready.status == "False").then_some(())
    })
    .await;
    eventually("the pod tolerating 1 s evicted", || async {
        match pods.get_opt("leaves").await.ok()? {
            None => Some(()),
            Some(pod) => pod.metadata.deletion_timestamp.map(|_| ()),
        }
    })
    .await;
    let stays = pods.get("stays").await.unwrap();
    assert!(stays.metadata.deletion_timestamp.is_none(), "tolerating forever keeps it");

    // The kubelet is back: it posts Ready and renews; the taints go.
    renew(&client, "n").await;
    post_status(&client, "n", "True").await;
    eventually("the taints removed", || async {
        taints(&client, "n").await.is_empty().then_some(())
    })
    .await;
    controllers.shutdown().await;
    cluster.shutdown().await;
}

#[tokio::test]
async fn a_node_reporting_not_ready_gets_the_not_ready_taints() {
    let (cluster, controllers) = start(Duration::from_secs(60)).await;
    let client = cluster.client();
    register(&client, "n", "False").await;
    eventually("the not-ready taints", || async {
        let taints = taints(&client, "n").await;
        (taints
            == [
                "node.kubernetes.io/not-ready:NoExecute",
                "node.kubernetes.io/not-ready:NoSchedule",
            ])
        .then_some(())
    })
    .await;
    let nodes: Api<Node> = Api::all(client.clone());
    let node = nodes.get("n").await.unwrap();
    let no_execute =
        node.spec.unwrap().taints.unwrap().into_iter().find(|t| t.effect == "NoExecute").unwrap();
    assert!(no_execute.time_added.is_some(), "NoExecute taints carry timeAdded");
    assert_eq!(ready(&client, "n").await.0, "False", "a fresh kubelet's word stands");
    // Cordoning adds the unschedulable taint; recovery removes the not-ready ones.
    let cordon = json!({ "spec": { "unschedulable": true } });
    nodes.patch("n", &PatchParams::default(), &Patch::Merge(&cordon)).await.unwrap();
    post_status(&client, "n", "True").await;
    eventually("only the unschedulable taint", || async {
        (taints(&client, "n").await == ["node.kubernetes.io/unschedulable:NoSchedule"])
            .then_some(())
    })
    .await;
    controllers.shutdown().await;
    cluster.shutdown().await;
}
