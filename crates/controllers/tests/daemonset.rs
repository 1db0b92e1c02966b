//! In-process cluster tests of the DaemonSet controller with the scheduler, on nodes
//! registered by hand as a kubelet would register them, and a stand-in kubelet that makes
//! bound pods Running and Ready (unless told to hold them) and finishes graceful deletions:
//! one pod per node, bound there by the scheduler, with the daemon labels, tolerations,
//! affinity and owner; the status; deleted and failed pods replaced; node selectors and
//! taints; a rolling update one node at a time with its ControllerRevisions; OnDelete; a set
//! selecting every pod refused (by validation); and real kubectl's `apply`, `get ds`, `rollout status`,
//! `rollout history` and `rollout undo`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use berth_controllers::{Config, Controller, Controllers};
use berth_testkit::cluster::{Cluster, eventually};
use berth_testkit::kubectl::Kubectl;
use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet, DaemonSetStatus};
use k8s_openapi::api::core::v1::{Event, Node, Pod};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, Preconditions};
use serde_json::{Value, json};

const HASH: &str = "controller-revision-hash";

async fn start() -> (Cluster, Controllers) {
    let cluster = Cluster::start().await;
    let controllers = cluster.spawn_controllers(Config {
        controllers: vec![Controller::DaemonSet, Controller::Scheduler, Controller::ServiceAccount],
        ..Config::default()
    });
    (cluster, controllers)
}

/// Registers a Ready node as a kubelet would: the object, then its status.
async fn add_node(client: &kube::Client, name: &str, labels: Value, spec: Value) {
    let nodes: Api<Node> = Api::all(client.clone());
    let mut all_labels = json!({ "kubernetes.io/hostname": name, "kubernetes.io/os": "linux" });
    if let (Value::Object(all), Value::Object(extra)) = (&mut all_labels, labels) {
        all.extend(extra);
    }
    let node: Node = serde_json::from_value(json!({
        "metadata": { "name": name, "labels": all_labels },
        "spec": spec,
    }))
    .unwrap();
    nodes.create(&PostParams::default(), &node).await.unwrap();
    let resources = json!({ "cpu": "4", "memory": "8Gi", "pods": "110" });
    let status = json!({ "status": {
        "capacity": resources, "allocatable": resources,
        "conditions": [{ "type": "Ready", "status": "True", "reason": "KubeletReady",
                         "lastHeartbeatTime": "2026-01-01T00:00:00Z",
                         "lastTransitionTime": "2026-01-01T00:00:00Z" }],
    }});
    nodes.patch_status(name, &PatchParams::default(), &Patch::Merge(&status)).await.unwrap();
}

async fn patch_node(client: &kube::Client, name: &str, patch: Value) {
    let nodes: Api<Node> = Api::all(client.clone());
    nodes.patch(name, &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
}

/// A stand-in kubelet for every node: bound pending pods become Running and Ready while
/// `ready` holds; pods being deleted are deleted at once (their containers stopped).
async fn kubelet(pods: Api<Pod>, ready: Arc<AtomicBool>) {
    loop {
        if let Ok(list) = pods.list(&ListParams::default()).await {
            for pod in list.items {
                let name = pod.metadata.name.clone().unwrap_or_default();
                if pod.metadata.deletion_timestamp.is_some() {
                    let params =
                        DeleteParams::default().grace_period(0).preconditions(Preconditions {
                            uid: pod.metadata.uid.clone(),
                            resource_version: None,
                        });
                    let _ = pods.delete(&name, &params).await;
                    continue;
                }
                let bound = pod.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_some();
                let phase = pod.status.as_ref().and_then(|s| s.phase.clone()).unwrap_or_default();
                if bound && phase == "Pending" && ready.load(Ordering::SeqCst) {
                    let now = k8s_openapi::jiff::Timestamp::now().to_string();
                    let status = json!({"status": {"phase": "Running", "conditions": [
                        {"type": "Ready", "status": "True", "lastTransitionTime": now}]}});
                    let _ = pods
                        .patch_status(&name, &PatchParams::default(), &Patch::Merge(&status))
                        .await;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
}

fn daemon_set(spec: Value) -> DaemonSet {
    let mut template_spec = json!({ "containers": [{ "name": "agent", "image": "agent:1" }] });
    if let (Value::Object(base), Value::Object(extra)) = (&mut template_spec, spec) {
        base.extend(extra);
    }
    serde_json::from_value(json!({
        "metadata": { "name": "agent" },
        "spec": {
            "selector": { "matchLabels": { "app": "agent" } },
            "template": { "metadata": { "labels": { "app": "agent" } }, "spec": template_spec },
        },
    }))
    .unwrap()
}

fn name(pod: &Pod) -> String {
    pod.metadata.name.clone().unwrap_or_default()
}

fn node_of(pod: &Pod) -> String {
    pod.spec.as_ref().and_then(|s| s.node_name.clone()).unwrap_or_default()
}

fn hash_of(pod: &Pod) -> String {
    pod.metadata.labels.as_ref().and_then(|l| l.get(HASH)).cloned().unwrap_or_default()
}

fn is_ready(pod: &Pod) -> bool {
    let conditions = pod.status.as_ref().and_then(|s| s.conditions.as_ref());
    conditions.into_iter().flatten().any(|c| c.type_ == "Ready" && c.status == "True")
}

/// The set's pods (by controller reference) that are not being deleted.
async fn pods_of(pods: &Api<Pod>, uid: &str) -> Vec<Pod> {
    let list = pods.list(&ListParams::default()).await.unwrap();
    list.items
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .filter(|p| {
            p.metadata.owner_references.iter().flatten().any(|r| {
                r.uid == uid
                    && r.kind == "DaemonSet"
                    && r.controller == Some(true)
                    && r.block_owner_deletion == Some(true)
            })
        })
        .collect()
}

/// The status counts `kubectl rollout status` and `get ds` read: desired, current, ready,
/// updated, available, unavailable, misscheduled.
fn counts(status: &DaemonSetStatus) -> [i32; 7] {
    [
        status.desired_number_scheduled,
        status.current_number_scheduled,
        status.number_ready,
        status.updated_number_scheduled.unwrap_or(0),
        status.number_available.unwrap_or(0),
        status.number_unavailable.unwrap_or(0),
        status.number_misscheduled,
    ]
}

/// Waits until every node of `nodes` runs one ready pod of the set bound to it, of the
/// revision `hash` (any, if empty), and the status of the current generation says so.
async fn settled(
    sets: &Api<DaemonSet>,
    pods: &Api<Pod>,
    uid: &str,
    nodes: &[&str],
    hash: &str,
) -> BTreeMap<String, Pod> {
    let n = nodes.len() as i32;
    let what = format!("one ready pod on each of {nodes:?}, status {n} of each");
    eventually(&what, || async {
        let set = sets.get("agent").await.ok()?;
        let status = set.status?;
        let observed = status.observed_generation == set.metadata.generation;
        let found = pods_of(pods, uid).await;
        let by_node: BTreeMap<String, Pod> =
            found.iter().map(|p| (node_of(p), p.clone())).collect();
        let placed = by_node.keys().map(String::as_str).collect::<Vec<_>>() == nodes;
        let fine = found.iter().all(|p| is_ready(p) && (hash.is_empty() || hash_of(p) == hash));
        (observed
            && counts(&status) == [n, n, n, n, n, 0, 0]
            && found.len() == nodes.len()
            && placed
            && fine)
            .then_some(by_node)
    })
    .await
}

async fn revisions_of(client: &kube::Client, uid: &str) -> Vec<ControllerRevision> {
    let revisions: Api<ControllerRevision> = Api::namespaced(client.clone(), "default");
    let mut owned: Vec<ControllerRevision> = revisions
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|r| {
            r.metadata
                .owner_references
                .iter()
                .flatten()
                .any(|o| o.uid == uid && o.controller == Some(true))
        })
        .collect();
    owned.sort_by_key(|r| r.revision);
    owned
}

async fn events_of(client: &kube::Client, uid: &str, reason: &str) -> Vec<Event> {
    let events: Api<Event> = Api::namespaced(client.clone(), "default");
    let list = events.list(&ListParams::default()).await.unwrap();
    list.items
        .into_iter()
        .filter(|e| {
            e.reason.as_deref() == Some(reason)
                && e.involved_object.uid.as_deref() == Some(uid)
                && e.source.as_ref().and_then(|s| s.component.as_deref())
                    == Some("daemonset-controller")
        })
        .collect()
}

#[tokio::test]
async fn a_daemon_set_runs_one_pod_on_every_node() {
    let (cluster, controllers) = start().await;
    let client = cluster.client();
    for node in ["a", "b", "c"] {
        add_node(&client, node, json!({}), json!({})).await;
    }
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let sets: Api<DaemonSet> = Api::namespaced(client.clone(), "default");
    let kubelet = tokio::spawn(kubelet(pods.clone(), Arc::new(AtomicBool::new(true))));

    let set = sets.create(&PostParams::default(), &daemon_set(json!({}))).await.unwrap();
    let uid = set.metadata.uid.clone().unwrap();
    let placed = settled(&sets, &pods, &uid, &["a", "b", "c"], "").await;

    // One revision, whose hash every pod carries.
    let revisions = revisions_of(&client, &uid).await;
    assert_eq!(revisions.len(), 1, "{revisions:?}");
    let revision = &revisions[0];
    assert_eq!(revision.revision, 1);
    let hash = revision.metadata.labels.as_ref().unwrap()[HASH].clone();
    assert_eq!(revision.metadata.name.as_deref(), Some(&*format!("agent-{hash}")));
    let data = &revision.data.as_ref().unwrap().0;
    assert_eq!(data["spec"]["template"]["$patch"], "replace");
    assert_eq!(data["spec"]["template"]["spec"]["containers"][0]["image"], "agent:1");

    for (node, pod) in &placed {
        assert!(name(pod).starts_with("agent-"), "generateName agent-: {}", name(pod));
        let labels = pod.metadata.labels.clone().unwrap();
        assert_eq!(labels["app"], "agent");
        assert_eq!(labels[HASH], hash);
        let spec = pod.spec.as_ref().unwrap();
        // Bound by the scheduler to the node its affinity names.
        let terms = serde_json::to_value(
            &spec
                .affinity
                .as_ref()
                .unwrap()
                .node_affinity
                .as_ref()
                .unwrap()
                .required_during_scheduling_ignored_during_execution,
        )
        .unwrap();
        assert_eq!(
            terms,
            json!({ "nodeSelectorTerms": [{ "matchFields": [
                { "key": "metadata.name", "operator": "In", "values": [node] }] }] })
        );
        let tolerations: BTreeSet<String> = spec
            .tolerations
            .iter()
            .flatten()
            .map(|t| {
                format!(
                    "{}:{}:{}:{:?}",
                    t.key.as_deref().unwrap_or_default(),
                    t.operator.as_deref().unwrap_or_default(),
                    t.effect.as_deref().unwrap_or_default(),
                    t.toleration_seconds
                )
            })
            .collect();
        let expected: BTreeSet<String> = [
            "node.kubernetes.io/not-ready:Exists:NoExecute:None",
            "node.kubernetes.io/unreachable:Exists:NoExecute:None",
            "node.kubernetes.io/disk-pressure:Exists:NoSchedule:None",
            "node.kubernetes.io/memory-pressure:Exists:NoSchedule:None",
            "node.kubernetes.io/pid-pressure:Exists:NoSchedule:None",
            "node.kubernetes.io/unschedulable:Exists:NoSchedule:None",
        ]
        .into_iter()
        .map(str::to_owned)
        .collect();
        assert_eq!(tolerations, expected);
    }

    // A deleted pod is re-created on its node.
    let victim = name(&placed["b"]);
    pods.delete(&victim, &DeleteParams::default()).await.unwrap();
    eventually("the deleted pod re-created on b", || async {
        let placed = settled(&sets, &pods, &uid, &["a", "b", "c"], &hash).await;
        (name(&placed["b"]) != victim).then_some(())
    })
    .await;

    // A failed pod is deleted (a FailedDaemonPod warning) and replaced.
    let failed = name(&pods_of(&pods, &uid).await.into_iter().find(|p| node_of(p) == "c").unwrap());
    let status = json!({ "status": { "phase": "Failed" } });
    pods.patch_status(&failed, &PatchParams::default(), &Patch::Merge(&status)).await.unwrap();
    eventually("the failed pod replaced on c", || async {
        let placed = settled(&sets, &pods, &uid, &["a", "b", "c"], &hash).await;
        (name(&placed["c"]) != failed).then_some(())
    })
    .await;
    let warnings = eventually("a FailedDaemonPod event", || async {
        Some(events_of(&client, &uid, "FailedDaemonPod").await).filter(|w| !w.is_empty())
    })
    .await;
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(
        warnings[0].message.as_deref(),
        Some(&*format!("Found failed daemon pod default/{failed} on node c, will try to kill it"))
    );
    assert_eq!(warnings[0].type_.as_deref(), Some("Warning"));

    // A new node gets a pod too.
    add_node(&client, "d", json!({}), json!({})).await;
    settled(&sets, &pods, &uid, &["a", "b", "c", "d"], &hash).await;

    eventually("SuccessfulCreate events", || async {
        (events_of(&client, &uid, "SuccessfulCreate").await.len() == 6).then_some(())
    })
    .await;
    // The status says what the pods are: no rollout and one revision still.
    assert_eq!(revisions_of(&client, &uid).await.len(), 1);

    kubelet.abort();
    controllers.shutdown().await;
    cluster.shutdown().await;
}

#[tokio::test]
async fn node_selectors_and_taints_decide_where_pods_run() {
    let (cluster, controllers) = start().await;
    let client = cluster.client();
    add_node(&client, "edge-1", json!({ "role": "edge" }), json!({})).await;
    let gpu = json!({ "taints": [{ "key": "gpu", "value": "true", "effect": "NoSchedule" }] });
    add_node(&client, "edge-gpu", json!({ "role": "edge" }), gpu).await;
    add_node(&client, "core", json!({}), json!({})).await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let sets: Api<DaemonSet> = Api::namespaced(client.clone(), "default");
    let kubelet = tokio::spawn(kubelet(pods.clone(), Arc::new(AtomicBool::new(true))));

    let set = daemon_set(json!({ "nodeSelector": { "role": "edge" } }));
    let uid = sets.create(&PostParams::default(), &set).await.unwrap().metadata.uid.unwrap();
    // Not on core (the selector), not on edge-gpu (its taint).
    settled(&sets, &pods, &uid, &["edge-1"], "").await;

    // core joins the edge: it gets a pod; it leaves: the pod is deleted.
    patch_node(&client, "core", json!({ "metadata": { "labels": { "role": "edge" } } })).await;
    settled(&sets, &pods, &uid, &["core", "edge-1"], "").await;
    patch_node(&client, "core", json!({ "metadata": { "labels": { "role": null } } })).await;
    settled(&sets, &pods, &uid, &["edge-1"], "").await;

    // A NoSchedule taint the pod does not tolerate keeps the running pod (misscheduled); a
    // NoExecute one has it deleted.
    let taint =
        |effect: &str| json!({ "spec": { "taints": [{ "key": "drain", "effect": effect }] } });
    patch_node(&client, "edge-1", taint("NoSchedule")).await;
    eventually("the pod kept but misscheduled", || async {
        let status = sets.get("agent").await.ok()?.status?;
        let found = pods_of(&pods, &uid).await;
        (counts(&status) == [0, 0, 0, 0, 0, 0, 1] && found.len() == 1).then_some(())
    })
    .await;
    patch_node(&client, "edge-1", taint("NoExecute")).await;
    eventually("the pod deleted", || async {
        let status = sets.get("agent").await.ok()?.status?;
        let found = pods_of(&pods, &uid).await;
        (counts(&status) == [0, 0, 0, 0, 0, 0, 0] && found.is_empty()).then_some(())
    })
    .await;
    eventually("SuccessfulDelete events", || async {
        (events_of(&client, &uid, "SuccessfulDelete").await.len() == 2).then_some(())
    })
    .await;

    kubelet.abort();
    controllers.shutdown().await;
    cluster.shutdown().await;
}

async fn set_image(sets: &Api<DaemonSet>, image: &str) {
    let patch = json!({ "spec": { "template": { "spec": { "containers": [
        { "name": "agent", "image": image }] } } } });
    sets.patch("agent", &PatchParams::default(), &Patch::Strategic(&patch)).await.unwrap();
}

#[tokio::test]
async fn a_template_change_rolls_one_node_at_a_time() {
    let (cluster, controllers) = start().await;
    let client = cluster.client();
    for node in ["a", "b", "c"] {
        add_node(&client, node, json!({}), json!({})).await;
    }
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let sets: Api<DaemonSet> = Api::namespaced(client.clone(), "default");
    let ready = Arc::new(AtomicBool::new(true));
    let kubelet = tokio::spawn(kubelet(pods.clone(), ready.clone()));

    let set = sets.create(&PostParams::default(), &daemon_set(json!({}))).await.unwrap();
    let uid = set.metadata.uid.clone().unwrap();
    let before = settled(&sets, &pods, &uid, &["a", "b", "c"], "").await;
    let old_hash = hash_of(&before["a"]);

    // New pods stay unready: with maxUnavailable 1 (the default) one node is replaced, and
    // the others wait.
    ready.store(false, Ordering::SeqCst);
    set_image(&sets, "agent:2").await;
    let new_hash = eventually("a second revision", || async {
        let revisions = revisions_of(&client, &uid).await;
        let numbers: Vec<i64> = revisions.iter().map(|r| r.revision).collect();
        (numbers == [1, 2]).then(|| revisions[1].metadata.labels.as_ref().unwrap()[HASH].clone())
    })
    .await;
    assert_ne!(new_hash, old_hash);
    let (new, old) = eventually("one node replaced, the new pod not ready", || async {
        let set = sets.get("agent").await.ok()?;
        let status = set.status?;
        let observed = status.observed_generation == set.metadata.generation;
        let found = pods_of(&pods, &uid).await;
        let (new, old): (Vec<Pod>, Vec<Pod>) =
            found.into_iter().partition(|p| hash_of(p) == new_hash);
        let bound = new.iter().all(|p| !node_of(p).is_empty());
        (observed && counts(&status)[..4] == [3, 3, 2, 1] && new.len() == 1 && bound)
            .then_some((new, old))
    })
    .await;
    assert_eq!(old.len(), 2, "only one old pod replaced: {old:?}");
    assert!(old.iter().all(|p| hash_of(p) == old_hash && is_ready(p)));
    assert!(!is_ready(&new[0]));
    let replaced = node_of(&new[0]);
    assert_eq!(new[0].spec.as_ref().unwrap().containers[0].image.as_deref(), Some("agent:2"));

    // Ready again: the rollout completes, every node on the new revision.
    ready.store(true, Ordering::SeqCst);
    let after = settled(&sets, &pods, &uid, &["a", "b", "c"], &new_hash).await;
    assert_eq!(name(&after[&replaced]), name(&new[0]), "the first new pod stayed");
    assert!(
        after.values().all(|p| {
            p.spec.as_ref().unwrap().containers[0].image.as_deref() == Some("agent:2")
        })
    );
    eventually("SuccessfulDelete events for the old pods", || async {
        (events_of(&client, &uid, "SuccessfulDelete").await.len() == 3).then_some(())
    })
    .await;

    // Back to the first template: its revision is renumbered, no third one is made.
    set_image(&sets, "agent:1").await;
    let back = settled(&sets, &pods, &uid, &["a", "b", "c"], &old_hash).await;
    assert_eq!(back.len(), 3);
    let revisions = revisions_of(&client, &uid).await;
    let numbers: Vec<(i64, String)> = revisions
        .iter()
        .map(|r| (r.revision, r.metadata.labels.as_ref().unwrap()[HASH].clone()))
        .collect();
    assert_eq!(numbers, [(2, new_hash), (3, old_hash)]);

    kubelet.abort();
    controllers.shutdown().await;
    cluster.shutdown().await;
}

#[tokio::test]
async fn on_delete_replaces_only_deleted_pods() {
    let (cluster, controllers) = start().await;
    let client = cluster.client();
    for node in ["a", "b"] {
        add_node(&client, node, json!({}), json!({})).await;
    }
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let sets: Api<DaemonSet> = Api::namespaced(client.clone(), "default");
    let kubelet = tokio::spawn(kubelet(pods.clone(), Arc::new(AtomicBool::new(true))));

    let mut set = daemon_set(json!({}));
    set.spec.as_mut().unwrap().update_strategy =
        Some(serde_json::from_value(json!({ "type": "OnDelete" })).unwrap());
    let uid = sets.create(&PostParams::default(), &set).await.unwrap().metadata.uid.unwrap();
    let before = settled(&sets, &pods, &uid, &["a", "b"], "").await;

    set_image(&sets, "agent:2").await;
    eventually("the new generation observed, nothing updated", || async {
        let set = sets.get("agent").await.ok()?;
        let status = set.status?;
        let observed = status.observed_generation == set.metadata.generation;
        let revisions = revisions_of(&client, &uid).await.len();
        (observed && counts(&status) == [2, 2, 2, 0, 2, 0, 0] && revisions == 2).then_some(())
    })
    .await;
    let found = pods_of(&pods, &uid).await;
    let names: BTreeSet<String> = found.iter().map(name).collect();
    assert_eq!(names, before.values().map(name).collect(), "no pod replaced");

    // A deleted pod comes back from the new template.
    pods.delete(&name(&before["a"]), &DeleteParams::default()).await.unwrap();
    eventually("a's pod on the new template", || async {
        let set = sets.get("agent").await.ok()?;
        let status = set.status?;
        let found = pods_of(&pods, &uid).await;
        let on_a = found.iter().find(|p| node_of(p) == "a" && is_ready(p))?;
        let image = on_a.spec.as_ref()?.containers[0].image.clone()?;
        (image == "agent:2" && counts(&status) == [2, 2, 2, 1, 2, 0, 0]).then_some(())
    })
    .await;
    let b = pods_of(&pods, &uid).await.into_iter().find(|p| node_of(p) == "b").unwrap();
    assert_eq!(name(&b), name(&before["b"]));

    kubelet.abort();
    controllers.shutdown().await;
    cluster.shutdown().await;
}

#[tokio::test]
async fn a_set_selecting_every_pod_is_refused() {
    let (cluster, controllers) = start().await;
    let client = cluster.client();
    let sets: Api<DaemonSet> = Api::namespaced(client.clone(), "default");
    let mut set = daemon_set(json!({}));
    set.spec.as_mut().unwrap().selector = Default::default();
    // `ValidateDaemonSetSpec`: the controller's `SelectingAll` warning is for sets stored
    // before the rule.
    match sets.create(&PostParams::default(), &set).await {
        Err(kube::Error::Api(status)) => {
            assert_eq!(status.code, 422);
            assert!(
                status.message.contains("spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for daemonset"),
                "{}",
                status.message
            );
        }
        other => panic!("an empty selector was not refused: {other:?}"),
    }
    controllers.shutdown().await;
    cluster.shutdown().await;
}

const MANIFEST: &str = "apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: agent
spec:
  selector:
    matchLabels:
      app: agent
  template:
    metadata:
      labels:
        app: agent
    spec:
      containers:
      - name: agent
        image: registry.k8s.io/pause:3.10
";

#[tokio::test]
async fn kubectl_apply_get_and_rollout_status() {
    let (cluster, controllers) = start().await;
    let Some(kubectl) = Kubectl::new(&cluster.kubeconfig()) else { return };
    let client = cluster.client();
    for node in ["a", "b"] {
        add_node(&client, node, json!({}), json!({})).await;
    }
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let kubelet = tokio::spawn(kubelet(pods.clone(), Arc::new(AtomicBool::new(true))));

    let out = kubectl.apply(MANIFEST).await;
    assert!(out.contains("daemonset.apps/agent created"), "{out}");
    let out = kubectl.ok(&["rollout", "status", "daemonset/agent", "--timeout=30s"]).await;
    assert!(out.contains("daemon set \"agent\" successfully rolled out"), "{out}");
    let out = kubectl.ok(&["get", "ds", "agent"]).await;
    let columns: Vec<&str> = out.lines().nth(1).unwrap_or_default().split_whitespace().collect();
    // NAME DESIRED CURRENT READY UP-TO-DATE AVAILABLE NODE SELECTOR AGE
    assert_eq!(columns[..6], ["agent", "2", "2", "2", "2", "2"], "{out}");

    // A new image rolls out; `rollout undo` applies the first revision's patch back.
    let image = "agent=registry.k8s.io/pause:3.9";
    kubectl.ok(&["set", "image", "daemonset/agent", image]).await;
    let out = kubectl.ok(&["rollout", "status", "daemonset/agent", "--timeout=30s"]).await;
    assert!(out.contains("successfully rolled out"), "{out}");
    let out = kubectl.ok(&["rollout", "history", "daemonset/agent"]).await;
    let revisions: Vec<&str> = out
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|w| w.parse::<u32>().is_ok())
        .collect();
    assert_eq!(revisions, ["1", "2"], "{out}");
    let out = kubectl.ok(&["rollout", "undo", "daemonset/agent"]).await;
    assert!(out.contains("daemonset.apps/agent rolled back"), "{out}");
    let out = kubectl.ok(&["rollout", "status", "daemonset/agent", "--timeout=30s"]).await;
    assert!(out.contains("successfully rolled out"), "{out}");
    let images = "jsonpath={range .items[*]}{.spec.containers[0].image}{\"\\n\"}{end}";
    let kubectl = &kubectl;
    eventually("both pods on the first image again", || async move {
        // Old pods still terminating may be listed for a moment.
        let out = kubectl.ok(&["get", "pods", "-l", "app=agent", "-o", images]).await;
        (out.lines().collect::<Vec<_>>() == ["registry.k8s.io/pause:3.10"; 2]).then_some(())
    })
    .await;

    kubelet.abort();
    controllers.shutdown().await;
    cluster.shutdown().await;
}
