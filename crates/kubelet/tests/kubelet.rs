//! The kubelet with the simulated runtime against an in-process cluster: registration and
//! lease, the pod status sequence, graceful deletion, the simulation knobs, volumes, adoption
//! after a restart, and many nodes in one process.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use berth_kubelet::{KubeletConfig, Runtime, SimulatedRuntime};
use berth_testkit::cluster::{Cluster, eventually};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{
    Node, PersistentVolume, PersistentVolumeClaim, Pod, ServiceAccount,
};
use kube::api::{Api, DeleteParams, PostParams};
use serde_json::{Value, json};

fn config(cluster: &Cluster, node: &str) -> KubeletConfig {
    let mut config = KubeletConfig::new(
        node,
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        "10.244.0.0/24",
        cluster.data_dir().join("storage"),
    );
    config.relist_period = Duration::from_millis(100);
    config.heartbeat_interval = Duration::from_millis(200);
    config.backoff_base = Duration::from_millis(300);
    config.backoff_max = Duration::from_secs(2);
    config
}

fn start(
    cluster: &Cluster,
    config: KubeletConfig,
) -> (berth_kubelet::Kubelet, Arc<SimulatedRuntime>) {
    let runtime = Arc::new(config.simulated_runtime().unwrap());
    let kubelet = berth_kubelet::spawn(cluster.client(), config, runtime.clone());
    (kubelet, runtime)
}

async fn create_pod(cluster: &Cluster, pod: Value) -> Pod {
    // Admission wants the pod's ServiceAccount; no service-account controller runs here.
    let accounts: Api<ServiceAccount> = Api::namespaced(cluster.client(), "default");
    let account = serde_json::from_value(json!({"metadata": {"name": "default"}})).unwrap();
    match accounts.create(&PostParams::default(), &account).await {
        Ok(_) => {}
        Err(kube::Error::Api(status)) if status.code == 409 => {}
        Err(error) => panic!("creating the default service account: {error}"),
    }
    let api: Api<Pod> = Api::namespaced(cluster.client(), "default");
    api.create(&PostParams::default(), &serde_json::from_value(pod).unwrap()).await.unwrap()
}

fn pod_json(name: &str, node: &str, annotations: Value, image: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "annotations": annotations},
        "spec": {"nodeName": node, "containers": [{"name": "app", "image": image}]},
    })
}

async fn pod_value(cluster: &Cluster, name: &str) -> Option<Value> {
    let api: Api<Pod> = Api::namespaced(cluster.client(), "default");
    api.get_opt(name).await.unwrap().map(|pod| serde_json::to_value(pod).unwrap())
}

fn condition<'a>(pod: &'a Value, type_: &str) -> Option<&'a Value> {
    pod["status"]["conditions"].as_array()?.iter().find(|c| c["type"] == type_)
}

fn is_true(pod: &Value, type_: &str) -> bool {
    condition(pod, type_).is_some_and(|c| c["status"] == "True")
}

async fn wait_for(
    cluster: &Cluster,
    name: &str,
    what: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    eventually(what, || async {
        let pod = pod_value(cluster, name).await?;
        check(&pod).then_some(pod)
    })
    .await
}

#[tokio::test]
async fn registers_the_node_and_renews_its_lease() {
    let cluster = Cluster::start().await;
    let (kubelet, _runtime) = start(&cluster, config(&cluster, "node-1"));
    let nodes: Api<Node> = Api::all(cluster.client());
    let node = eventually("the node with its status", || async {
        nodes
            .get_opt("node-1")
            .await
            .unwrap()
            .filter(|n| n.status.as_ref().is_some_and(|s| s.capacity.is_some()))
    })
    .await;
    let node = serde_json::to_value(node).unwrap();
    assert_eq!(node["metadata"]["labels"]["kubernetes.io/hostname"], "node-1");
    assert_eq!(node["metadata"]["labels"]["kubernetes.io/os"], "linux");
    assert!(node["metadata"]["labels"]["kubernetes.io/arch"].is_string());
    let storage = cluster.data_dir().join("storage");
    assert_eq!(
        node["metadata"]["annotations"]["berth.dev/storage-dir"],
        storage.display().to_string()
    );
    assert_eq!(node["spec"]["podCIDR"], "10.244.0.0/24");
    assert_eq!(node["spec"]["podCIDRs"], json!(["10.244.0.0/24"]));
    for resource in ["cpu", "memory", "pods", "ephemeral-storage"] {
        assert!(node["status"]["capacity"][resource].is_string(), "capacity {resource}");
        assert_eq!(node["status"]["allocatable"][resource], node["status"]["capacity"][resource]);
    }
    let types: Vec<_> = node["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            format!(
                "{}={} {}",
                c["type"].as_str().unwrap(),
                c["status"].as_str().unwrap(),
                c["reason"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        types,
        [
            "MemoryPressure=False KubeletHasSufficientMemory",
            "DiskPressure=False KubeletHasNoDiskPressure",
            "PIDPressure=False KubeletHasSufficientPID",
            "Ready=True KubeletReady",
        ]
    );
    assert_eq!(
        node["status"]["addresses"],
        json!([
            {"type": "InternalIP", "address": "127.0.0.1"}, {"type": "Hostname", "address": "node-1"},
        ])
    );
    assert_eq!(node["status"]["nodeInfo"]["kubeletVersion"], "v1.33.0");
    assert_eq!(node["status"]["nodeInfo"]["containerRuntimeVersion"], "simulated://0.1.0");

    let leases: Api<Lease> = Api::namespaced(cluster.client(), "kube-node-lease");
    let lease = eventually("the lease", || async { leases.get_opt("node-1").await.unwrap() }).await;
    let spec = lease.spec.clone().unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some("node-1"));
    assert_eq!(spec.lease_duration_seconds, Some(40));
    let owner = &lease.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!((owner.kind.as_str(), owner.name.as_str()), ("Node", "node-1"));
    let first = spec.renew_time.unwrap();
    eventually("a renewal", || async {
        let renewed = leases.get("node-1").await.unwrap().spec.unwrap().renew_time.unwrap();
        (renewed > first).then_some(())
    })
    .await;

    // A restarted kubelet adopts its node (same uid).
    let uid = node["metadata"]["uid"].clone();
    kubelet.shutdown().await;
    let (kubelet, _runtime) = start(&cluster, config(&cluster, "node-1"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let again = serde_json::to_value(nodes.get("node-1").await.unwrap()).unwrap();
    assert_eq!(again["metadata"]["uid"], uid);
    kubelet.shutdown().await;
    cluster.shutdown().await;
}

#[tokio::test]
async fn a_bound_pod_goes_through_the_status_sequence() {
    let cluster = Cluster::start().await;
    let mut config = config(&cluster, "node-1");
    config.start_delay = Duration::from_millis(400);
    config.ready_delay = Duration::from_millis(600);
    let (kubelet, _runtime) = start(&cluster, config);
    create_pod(&cluster, pod_json("web-0", "node-1", json!({}), "nginx:1.27")).await;

    let creating = wait_for(&cluster, "web-0", "ContainerCreating", |pod| {
        pod["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "ContainerCreating"
    })
    .await;
    assert_eq!(creating["status"]["phase"], "Pending");
    assert!(!is_true(&creating, "PodReadyToStartContainers"));
    assert!(is_true(&creating, "Initialized"));
    assert_eq!(condition(&creating, "Ready").unwrap()["reason"], "ContainersNotReady");
    assert_eq!(
        condition(&creating, "Ready").unwrap()["message"],
        "containers with unready status: [app]"
    );
    assert!(is_true(&creating, "PodScheduled"));

    let running =
        wait_for(&cluster, "web-0", "Running", |pod| pod["status"]["phase"] == "Running").await;
    let container = &running["status"]["containerStatuses"][0];
    assert!(container["state"]["running"]["startedAt"].is_string());
    assert_eq!(container["ready"], false, "not ready before the ready delay");
    assert_eq!(container["restartCount"], 0);
    assert_eq!(container["image"], "nginx:1.27");
    assert_eq!(container["imageID"], "docker.io/library/nginx:1.27");
    assert!(container["containerID"].as_str().unwrap().starts_with("simulated://"));
    assert!(is_true(&running, "PodReadyToStartContainers"));
    assert!(running["status"]["podIP"].as_str().unwrap().starts_with("10.244.0."));
    assert_eq!(running["status"]["podIPs"][0]["ip"], running["status"]["podIP"]);
    assert_eq!(running["status"]["hostIP"], "127.0.0.1");
    assert_eq!(running["status"]["hostIPs"], json!([{"ip": "127.0.0.1"}]));
    assert_eq!(running["status"]["qosClass"], "BestEffort");
    assert!(running["status"]["startTime"].is_string());

    let ready = wait_for(&cluster, "web-0", "Ready", |pod| is_true(pod, "Ready")).await;
    assert!(is_true(&ready, "ContainersReady"));
    assert_eq!(ready["status"]["containerStatuses"][0]["ready"], true);
    let order: Vec<_> = ready["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["type"].clone())
        .collect();
    assert_eq!(
        order,
        ["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"]
    );

    // The kubelet's events, as `kubectl describe pod` shows them.
    let events: Api<k8s_openapi::api::core::v1::Event> =
        Api::namespaced(cluster.client(), "default");
    let reasons = eventually("the container events", || async {
        let list = events.list(&Default::default()).await.unwrap();
        let reasons: Vec<String> = list
            .items
            .iter()
            .filter(|e| e.involved_object.name.as_deref() == Some("web-0"))
            .filter(|e| e.source.as_ref().and_then(|s| s.host.as_deref()) == Some("node-1"))
            .filter(|e| e.involved_object.field_path.as_deref() == Some("spec.containers{app}"))
            .filter_map(|e| Some(format!("{} {}", e.reason.clone()?, e.message.clone()?)))
            .collect();
        (reasons.len() >= 3).then_some(reasons)
    })
    .await;
    for want in [
        "Pulled Container image \"nginx:1.27\" already present on machine",
        "Created Created container: app",
        "Started Started container app",
    ] {
        assert!(reasons.iter().any(|r| r == want), "{want} in {reasons:?}");
    }

    // Nothing changes any more, so nothing is written.
    let version = ready["metadata"]["resourceVersion"].clone();
    tokio::time::sleep(Duration::from_millis(800)).await;
    let later = pod_value(&cluster, "web-0").await.unwrap();
    assert_eq!(
        later["metadata"]["resourceVersion"], version,
        "the status is written only when it changes"
    );
    kubelet.shutdown().await;
    cluster.shutdown().await;
}

/// Needs graceful pod deletion in the apiserver (the pod-deletion contract).
#[tokio::test]
async fn deletion_stops_the_pod_within_its_grace_period() {
    let cluster = Cluster::start().await;
    let (kubelet, runtime) = start(&cluster, config(&cluster, "node-1"));
    // One container stops quickly when asked; the other ignores SIGTERM and is killed at the end
    // of the grace period.
    create_pod(
        &cluster,
        pod_json("quick", "node-1", json!({"sim.berth.dev/stop-after": "300ms"}), "nginx"),
    )
    .await;
    create_pod(
        &cluster,
        pod_json("stubborn", "node-1", json!({"sim.berth.dev/stop-after": "1h"}), "nginx"),
    )
    .await;
    for name in ["quick", "stubborn"] {
        wait_for(&cluster, name, "Running", |pod| pod["status"]["phase"] == "Running").await;
    }
    let api: Api<Pod> = Api::namespaced(cluster.client(), "default");
    let grace = DeleteParams { grace_period_seconds: Some(2), ..DeleteParams::default() };
    let begin = tokio::time::Instant::now();
    api.delete("quick", &grace).await.unwrap();
    api.delete("stubborn", &grace).await.unwrap();
    let marked = pod_value(&cluster, "stubborn").await.expect("a bound pod is deleted gracefully");
    assert!(marked["metadata"]["deletionTimestamp"].is_string());
    assert_eq!(marked["metadata"]["deletionGracePeriodSeconds"], 2);

    eventually("quick gone", || async {
        pod_value(&cluster, "quick").await.is_none().then_some(())
    })
    .await;
    let quick = begin.elapsed();
    assert!(
        quick >= Duration::from_millis(300) && quick < Duration::from_secs(2),
        "quick stopped in {quick:?}"
    );
    eventually("stubborn gone", || async {
        pod_value(&cluster, "stubborn").await.is_none().then_some(())
    })
    .await;
    let stubborn = begin.elapsed();
    assert!(
        stubborn >= Duration::from_millis(1500),
        "stubborn was killed after {stubborn:?}, before its grace"
    );
    eventually("sandboxes removed", || async {
        runtime.list_pod_sandboxes().await.unwrap().is_empty().then_some(())
    })
    .await;
    kubelet.shutdown().await;
    cluster.shutdown().await;
}

#[tokio::test]
async fn a_new_image_restarts_the_container() {
    let cluster = Cluster::start().await;
    let (kubelet, _runtime) = start(&cluster, config(&cluster, "node-1"));
    create_pod(&cluster, pod_json("web-0", "node-1", json!({}), "nginx:1.27")).await;
    let before = wait_for(&cluster, "web-0", "Ready", |pod| is_true(pod, "Ready")).await;
    let api: Api<Pod> = Api::namespaced(cluster.client(), "default");
    let patch = json!({"spec": {"containers": [{"name": "app", "image": "nginx:1.28"}]}});
    api.patch("web-0", &kube::api::PatchParams::default(), &kube::api::Patch::Strategic(&patch))
        .await
        .unwrap();
    let after = wait_for(&cluster, "web-0", "the new image running", |pod| {
        let container = &pod["status"]["containerStatuses"][0];
        container["imageID"] == "docker.io/library/nginx:1.28" && container["ready"] == true
    })
    .await;
    let (old, new) =
        (&before["status"]["containerStatuses"][0], &after["status"]["containerStatuses"][0]);
    assert_eq!(new["restartCount"], 1);
    assert_eq!(new["image"], "nginx:1.28");
    assert_ne!(new["containerID"], old["containerID"]);
    assert_eq!(new["lastState"]["terminated"]["containerID"], old["containerID"]);
    assert_eq!(after["status"]["podIP"], before["status"]["podIP"], "the sandbox stays");
    kubelet.shutdown().await;
    cluster.shutdown().await;
}

#[tokio::test]
async fn a_never_ready_pod_runs_but_stays_unready() {
    let cluster = Cluster::start().await;
    let (kubelet, _runtime) = start(&cluster, config(&cluster, "node-1"));
    create_pod(
        &cluster,
        pod_json("stuck", "node-1", json!({"sim.berth.dev/ready": "false"}), "nginx"),
    )
    .await;
    create_pod(&cluster, pod_json("fine", "node-1", json!({}), "nginx")).await;
    wait_for(&cluster, "fine", "fine Ready", |pod| is_true(pod, "Ready")).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stuck = pod_value(&cluster, "stuck").await.unwrap();
    assert_eq!(stuck["status"]["phase"], "Running");
    assert!(stuck["status"]["containerStatuses"][0]["state"]["running"].is_object());
    assert_eq!(stuck["status"]["containerStatuses"][0]["ready"], false);
    assert!(!is_true(&stuck, "Ready"));
    assert_eq!(condition(&stuck, "ContainersReady").unwrap()["reason"], "ContainersNotReady");
    kubelet.shutdown().await;
    cluster.shutdown().await;
}

#[tokio::test]
async fn exiting_containers_are_restarted_with_back_off() {
    let cluster = Cluster::start().await;
    let (kubelet, _runtime) = start(&cluster, config(&cluster, "node-1"));
    let knobs = json!({"sim.berth.dev/exit-code": "3", "sim.berth.dev/run-for": "100ms"});
    create_pod(&cluster, pod_json("crash", "node-1", knobs.clone(), "nginx")).await;
    let backoff = wait_for(&cluster, "crash", "CrashLoopBackOff", |pod| {
        pod["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    })
    .await;
    let container = &backoff["status"]["containerStatuses"][0];
    assert_eq!(container["lastState"]["terminated"]["exitCode"], 3);
    assert_eq!(container["lastState"]["terminated"]["reason"], "Error");
    assert!(container["restartCount"].as_i64().unwrap() >= 1);
    assert_eq!(backoff["status"]["phase"], "Running");
    wait_for(&cluster, "crash", "three restarts", |pod| {
        pod["status"]["containerStatuses"][0]["restartCount"].as_i64().unwrap_or(0) >= 3
    })
    .await;

    // restartPolicy Never: the pod fails and stays failed.
    let mut never = pod_json("once", "node-1", knobs, "nginx");
    never["spec"]["restartPolicy"] = "Never".into();
    create_pod(&cluster, never).await;
    let failed =
        wait_for(&cluster, "once", "Failed", |pod| pod["status"]["phase"] == "Failed").await;
    assert_eq!(failed["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"], 3);
    assert_eq!(failed["status"]["containerStatuses"][0]["restartCount"], 0);
    kubelet.shutdown().await;
    cluster.shutdown().await;
}

#[tokio::test]
async fn missing_images_fail_to_pull_then_back_off() {
    let cluster = Cluster::start().await;
    let mut config = config(&cluster, "node-1");
    config.backoff_base = Duration::from_secs(5);
    config.backoff_max = Duration::from_secs(10);
    // ErrImagePull shows until the next sync: a relist slow enough for polling to see it.
    config.relist_period = Duration::from_secs(2);
    let (kubelet, _runtime) = start(&cluster, config);
    create_pod(&cluster, pod_json("pull", "node-1", json!({}), "nginx:doesnotexist")).await;
    let reason =
        |pod: &Value| pod["status"]["containerStatuses"][0]["state"]["waiting"]["reason"].clone();
    let failed =
        wait_for(&cluster, "pull", "ErrImagePull", |pod| reason(pod) == "ErrImagePull").await;
    assert!(
        failed["status"]["containerStatuses"][0]["state"]["waiting"]["message"]
            .as_str()
            .unwrap()
            .contains("docker.io/library/nginx:doesnotexist")
    );
    assert_eq!(failed["status"]["phase"], "Pending");
    let backoff =
        wait_for(&cluster, "pull", "ImagePullBackOff", |pod| reason(pod) == "ImagePullBackOff")
            .await;
    assert_eq!(
        backoff["status"]["containerStatuses"][0]["state"]["waiting"]["message"],
        "Back-off pulling image \"nginx:doesnotexist\""
    );
    kubelet.shutdown().await;
    cluster.shutdown().await;
}

/// A pull secret that does not exist is a warning event on the pod, not a failure (kubelet's
/// `getPullSecretsForPod`); a secret that exists is not reported.
#[tokio::test]
async fn missing_pull_secrets_are_a_warning_and_the_pod_still_runs() {
    let cluster = Cluster::start().await;
    let (kubelet, _runtime) = start(&cluster, config(&cluster, "node-1"));
    let secrets: Api<k8s_openapi::api::core::v1::Secret> =
        Api::namespaced(cluster.client(), "default");
    let present = json!({"metadata": {"name": "present"}, "type": "kubernetes.io/dockerconfigjson",
                         "data": {".dockerconfigjson": "e30="}});
    secrets
        .create(&PostParams::default(), &serde_json::from_value(present).unwrap())
        .await
        .unwrap();
    let mut pod = pod_json("private", "node-1", json!({}), "registry.example/app:1");
    pod["spec"]["imagePullSecrets"] =
        json!([{"name": "present"}, {"name": "absent"}, {"name": ""}, {"name": "gone"}]);
    create_pod(&cluster, pod).await;
    wait_for(&cluster, "private", "Running", |pod| pod["status"]["phase"] == "Running").await;
    let events: Api<k8s_openapi::api::core::v1::Event> =
        Api::namespaced(cluster.client(), "default");
    let warnings = eventually("the pull secret warning", || async {
        let list = events.list(&Default::default()).await.unwrap();
        let found: Vec<_> = list
            .items
            .into_iter()
            .filter(|e| e.involved_object.name.as_deref() == Some("private"))
            .filter(|e| e.reason.as_deref() == Some("FailedToRetrieveImagePullSecret"))
            .collect();
        (!found.is_empty()).then_some(found)
    })
    .await;
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    let warning = &warnings[0];
    assert_eq!(warning.type_.as_deref(), Some("Warning"));
    assert_eq!(warning.involved_object.field_path, None, "the event is about the pod");
    assert_eq!(
        warning.message.as_deref(),
        Some(
            "Unable to retrieve some image pull secrets (absent, gone); attempting to pull the image may not succeed."
        )
    );
    kubelet.shutdown().await;
    cluster.shutdown().await;
}

/// Creating the directory works on any apiserver; the PV's disappearance needs "an update that
/// removes the last finalizer of a marked object deletes it" (the finalizers contract).
#[tokio::test]
async fn local_path_volumes_are_created_and_cleaned_up() {
    let cluster = Cluster::start().await;
    let (kubelet, _runtime) = start(&cluster, config(&cluster, "node-1"));
    let storage = cluster.data_dir().join("storage");
    let dir = storage.join("pvc-1234");
    let pvs: Api<PersistentVolume> = Api::all(cluster.client());
    let pv = json!({
        "apiVersion": "v1", "kind": "PersistentVolume",
        "metadata": {
            "name": "pvc-1234",
            "annotations": {"pv.kubernetes.io/provisioned-by": "berth.dev/local-path"},
            "finalizers": ["kubernetes.io/pv-protection", "berth.dev/local-path"],
        },
        "spec": {
            "capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Delete", "storageClassName": "local-path",
            "hostPath": {"path": dir.display().to_string(), "type": "DirectoryOrCreate"},
            "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                {"key": "kubernetes.io/hostname", "operator": "In", "values": ["node-1"]}]}]}},
        },
    });
    pvs.create(&PostParams::default(), &serde_json::from_value(pv).unwrap()).await.unwrap();
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(cluster.client(), "default");
    let claim = json!({
        "apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data-web-0"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}},
                 "storageClassName": "local-path", "volumeName": "pvc-1234"},
    });
    claims.create(&PostParams::default(), &serde_json::from_value(claim).unwrap()).await.unwrap();
    let mut pod = pod_json("web-0", "node-1", json!({}), "nginx");
    pod["spec"]["volumes"] = json!([
        {"name": "data", "persistentVolumeClaim": {"claimName": "data-web-0"}},
        {"name": "host", "hostPath": {"path": storage.join("host-dir").display().to_string(), "type": "DirectoryOrCreate"}},
    ]);
    create_pod(&cluster, pod).await;
    wait_for(&cluster, "web-0", "Running", |pod| pod["status"]["phase"] == "Running").await;
    assert!(dir.is_dir(), "the volume's directory exists before the containers start");
    assert!(storage.join("host-dir").is_dir());
    std::fs::write(dir.join("data.txt"), "x").unwrap();

    // A PV outside the storage dir is never touched.
    let outside = cluster.data_dir().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    let mut foreign: Value = json!({
        "apiVersion": "v1", "kind": "PersistentVolume",
        "metadata": {"name": "pvc-outside", "annotations": {"pv.kubernetes.io/provisioned-by": "berth.dev/local-path"},
                     "finalizers": ["berth.dev/local-path"]},
        "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
                 "hostPath": {"path": outside.display().to_string()}},
    });
    pvs.create(&PostParams::default(), &serde_json::from_value(foreign.take()).unwrap())
        .await
        .unwrap();
    pvs.delete("pvc-outside", &DeleteParams::default()).await.unwrap();

    // The kubelet removes the directory and its finalizer; pv-protection is not its business.
    pvs.delete("pvc-1234", &DeleteParams::default()).await.unwrap();
    eventually("the directory removed", || async { (!dir.exists()).then_some(()) }).await;
    let finalizers = eventually("our finalizer removed", || async {
        let pv = pvs.get_opt("pvc-1234").await.unwrap()?;
        let finalizers = pv.metadata.finalizers.unwrap_or_default();
        (!finalizers.iter().any(|f| f == "berth.dev/local-path")).then_some(finalizers)
    })
    .await;
    assert_eq!(finalizers, ["kubernetes.io/pv-protection"]);
    let mut pv = pvs.get("pvc-1234").await.unwrap();
    pv.metadata.finalizers = Some(vec![]);
    pvs.replace("pvc-1234", &PostParams::default(), &pv).await.unwrap();
    eventually("the PV gone", || async {
        pvs.get_opt("pvc-1234").await.unwrap().is_none().then_some(())
    })
    .await;

    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(outside.is_dir(), "nothing outside the storage dir is deleted");
    let foreign = pvs.get("pvc-outside").await.unwrap();
    let finalizers = foreign.metadata.finalizers.unwrap_or_default();
    assert!(finalizers.iter().any(|f| f == "berth.dev/local-path"), "{finalizers:?}");
    kubelet.shutdown().await;
    cluster.shutdown().await;
}

#[tokio::test]
async fn a_restarted_kubelet_adopts_running_pods() {
    let cluster = Cluster::start().await;
    let (kubelet, runtime) = start(&cluster, config(&cluster, "node-1"));
    create_pod(&cluster, pod_json("web-0", "node-1", json!({}), "nginx")).await;
    let ready = wait_for(&cluster, "web-0", "Ready", |pod| is_true(pod, "Ready")).await;
    kubelet.shutdown().await;

    let kubelet =
        berth_kubelet::spawn(cluster.client(), config(&cluster, "node-1"), runtime.clone());
    // Give the new kubelet time to list, adopt and relist a few times.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let after = pod_value(&cluster, "web-0").await.unwrap();
    let (before, now) =
        (&ready["status"]["containerStatuses"][0], &after["status"]["containerStatuses"][0]);
    assert_eq!(now["containerID"], before["containerID"], "the same container");
    assert_eq!(now["state"]["running"]["startedAt"], before["state"]["running"]["startedAt"]);
    assert_eq!(now["restartCount"], 0);
    assert_eq!(after["status"]["podIP"], ready["status"]["podIP"]);
    assert!(is_true(&after, "Ready"));
    assert_eq!(runtime.list_pod_sandboxes().await.unwrap().len(), 1);

    // A pod deleted while no kubelet ran is cleaned up from the runtime by the next one.
    kubelet.shutdown().await;
    let api: Api<Pod> = Api::namespaced(cluster.client(), "default");
    let force = DeleteParams { grace_period_seconds: Some(0), ..DeleteParams::default() };
    api.delete("web-0", &force).await.unwrap();
    let kubelet =
        berth_kubelet::spawn(cluster.client(), config(&cluster, "node-1"), runtime.clone());
    eventually("the orphaned sandbox removed", || async {
        runtime.list_pod_sandboxes().await.unwrap().is_empty().then_some(())
    })
    .await;
    kubelet.shutdown().await;
    cluster.shutdown().await;
}

#[tokio::test]
async fn ten_simulated_nodes_run_in_one_process() {
    let cluster = Cluster::start().await;
    let template = config(&cluster, "sim");
    let kubelets =
        berth_kubelet::spawn_simulated_nodes(&cluster.client(), &template, "10.244.0.0/16", 10)
            .unwrap();
    let nodes: Api<Node> = Api::all(cluster.client());
    eventually("10 ready nodes", || async {
        let list = nodes.list(&Default::default()).await.unwrap();
        let ready = list
            .items
            .iter()
            .filter(|n| {
                n.status
                    .iter()
                    .flat_map(|s| s.conditions.iter().flatten())
                    .any(|c| c.type_ == "Ready" && c.status == "True")
            })
            .count();
        (ready == 10).then_some(())
    })
    .await;
    for i in 0..10 {
        create_pod(&cluster, pod_json(&format!("p-{i}"), &format!("sim-{i}"), json!({}), "nginx"))
            .await;
    }
    for i in 0..10 {
        let node = serde_json::to_value(nodes.get(&format!("sim-{i}")).await.unwrap()).unwrap();
        assert_eq!(node["spec"]["podCIDR"], format!("10.244.{i}.0/24"));
        let pod = wait_for(&cluster, &format!("p-{i}"), "Ready", |pod| is_true(pod, "Ready")).await;
        assert!(
            pod["status"]["podIP"].as_str().unwrap().starts_with(&format!("10.244.{i}.")),
            "{pod}"
        );
    }
    for kubelet in kubelets {
        kubelet.shutdown().await;
    }
    cluster.shutdown().await;
}
