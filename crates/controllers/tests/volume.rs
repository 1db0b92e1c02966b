//! In-process cluster tests of the volume controller: the default class, local-path
//! provisioning and binding, pre-created volumes, reclaim and protection.

use std::collections::BTreeMap;

use berth_controllers::{Config, Controller};
use berth_testkit::cluster::{Cluster, eventually};
use k8s_openapi::api::core::v1::{
    Event, Node, NodeCondition, NodeStatus, PersistentVolume, PersistentVolumeClaim, Pod,
};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use serde_json::json;

async fn start() -> (Cluster, berth_controllers::Controllers) {
    let cluster = Cluster::start().await;
    let controllers = cluster.spawn_controllers(Config {
        controllers: vec![Controller::Volume, Controller::ServiceAccount],
        ..Config::default()
    });
    (cluster, controllers)
}

async fn node(client: &kube::Client, name: &str, dir: &str) {
    let api: Api<Node> = Api::all(client.clone());
    let node: Node = serde_json::from_value(json!({
        "metadata": {
            "name": name,
            "labels": { "kubernetes.io/hostname": name },
            "annotations": { "berth.dev/storage-dir": dir },
        },
    }))
    .unwrap();
    let mut created = api.create(&PostParams::default(), &node).await.unwrap();
    created.status = Some(NodeStatus {
        conditions: Some(vec![NodeCondition {
            type_: "Ready".to_owned(),
            status: "True".to_owned(),
            ..NodeCondition::default()
        }]),
        ..NodeStatus::default()
    });
    api.replace_status(name, &PostParams::default(), &created).await.unwrap();
}

fn claim(name: &str, class: Option<&str>, size: &str) -> PersistentVolumeClaim {
    let mut spec = json!({
        "accessModes": ["ReadWriteOnce"],
        "resources": { "requests": { "storage": size } },
    });
    if let Some(class) = class {
        spec["storageClassName"] = json!(class);
    }
    serde_json::from_value(json!({ "metadata": { "name": name }, "spec": spec })).unwrap()
}

fn phase_of_claim(claim: &PersistentVolumeClaim) -> Option<&str> {
    claim.status.as_ref()?.phase.as_deref()
}

fn phase_of_volume(volume: &PersistentVolume) -> Option<&str> {
    volume.status.as_ref()?.phase.as_deref()
}

async fn bound_claim(api: &Api<PersistentVolumeClaim>, name: &str) -> PersistentVolumeClaim {
    eventually(&format!("claim {name} Bound"), || async {
        let claim = api.get(name).await.ok()?;
        (phase_of_claim(&claim) == Some("Bound")).then_some(claim)
    })
    .await
}

#[tokio::test]
async fn a_claim_gets_a_local_path_volume_on_a_ready_node_and_is_bound() {
    let (cluster, controllers) = start().await;
    let client = cluster.client();
    node(&client, "node-a", "/var/lib/berth/storage").await;

    let classes: Api<StorageClass> = Api::all(client.clone());
    let class =
        eventually("the default class", || async { classes.get_opt("local-path").await.ok()? })
            .await;
    assert_eq!(class.provisioner, "berth.dev/local-path");
    assert_eq!(class.reclaim_policy.as_deref(), Some("Delete"));
    assert_eq!(class.volume_binding_mode.as_deref(), Some("Immediate"));
    assert_eq!(
        class.metadata.annotations.unwrap()["storageclass.kubernetes.io/is-default-class"],
        "true"
    );

    // No class named: the default one is assigned (admission or, retroactively, the binder).
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), "default");
    let created =
        claims.create(&PostParams::default(), &claim("www-web-0", None, "1Gi")).await.unwrap();
    let uid = created.metadata.uid.unwrap();
    let bound = bound_claim(&claims, "www-web-0").await;
    let volume_name = format!("pvc-{uid}");
    let spec = bound.spec.as_ref().unwrap();
    assert_eq!(spec.volume_name.as_deref(), Some(volume_name.as_str()));
    assert_eq!(spec.storage_class_name.as_deref(), Some("local-path"));
    let annotations = bound.metadata.annotations.clone().unwrap();
    assert_eq!(annotations["pv.kubernetes.io/bind-completed"], "yes");
    assert_eq!(annotations["pv.kubernetes.io/bound-by-controller"], "yes");
    assert_eq!(annotations["volume.kubernetes.io/storage-provisioner"], "berth.dev/local-path");
    assert_eq!(
        annotations["volume.beta.kubernetes.io/storage-provisioner"],
        "berth.dev/local-path"
    );
    let status = bound.status.unwrap();
    assert_eq!(status.capacity.unwrap()["storage"].0, "1Gi");
    assert_eq!(status.access_modes.unwrap(), vec!["ReadWriteOnce".to_owned()]);

    let volumes: Api<PersistentVolume> = Api::all(client.clone());
    let volume = eventually("volume Bound", || async {
        let volume = volumes.get(&volume_name).await.ok()?;
        (phase_of_volume(&volume) == Some("Bound")).then_some(volume)
    })
    .await;
    let spec = volume.spec.clone().unwrap();
    let host_path = spec.host_path.unwrap();
    assert_eq!(host_path.path, format!("/var/lib/berth/storage/{volume_name}"));
    assert_eq!(host_path.type_.as_deref(), Some("DirectoryOrCreate"));
    let affinity = serde_json::to_value(spec.node_affinity.unwrap()).unwrap();
    assert_eq!(
        affinity,
        json!({ "required": { "nodeSelectorTerms": [{ "matchExpressions": [
            { "key": "kubernetes.io/hostname", "operator": "In", "values": ["node-a"] }
        ] }] } })
    );
    assert_eq!(spec.capacity.unwrap()["storage"].0, "1Gi");
    assert_eq!(spec.persistent_volume_reclaim_policy.as_deref(), Some("Delete"));
    assert_eq!(spec.storage_class_name.as_deref(), Some("local-path"));
    let claim_ref = spec.claim_ref.unwrap();
    assert_eq!(claim_ref.name.as_deref(), Some("www-web-0"));
    assert_eq!(claim_ref.uid.as_deref(), Some(uid.as_str()));
    assert_eq!(
        volume.metadata.annotations.unwrap()["pv.kubernetes.io/provisioned-by"],
        "berth.dev/local-path"
    );
    let finalizers = volume.metadata.finalizers.unwrap();
    assert!(finalizers.contains(&"kubernetes.io/pv-protection".to_owned()), "{finalizers:?}");
    assert!(finalizers.contains(&"berth.dev/local-path".to_owned()), "{finalizers:?}");

    // Converged: no more writes to either.
    let settled = (
        volumes.get(&volume_name).await.unwrap().metadata.resource_version,
        claims.get("www-web-0").await.unwrap().metadata.resource_version,
    );
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(
        (
            volumes.get(&volume_name).await.unwrap().metadata.resource_version,
            claims.get("www-web-0").await.unwrap().metadata.resource_version
        ),
        settled
    );

    let events: Api<Event> = Api::namespaced(client.clone(), "default");
    let reasons = eventually("provisioning events", || async {
        let list = events.list(&ListParams::default()).await.ok()?;
        let reasons: Vec<(String, String)> = list
            .items
            .into_iter()
            .filter(|e| e.involved_object.name.as_deref() == Some("www-web-0"))
            .map(|e| (e.reason.unwrap_or_default(), e.message.unwrap_or_default()))
            .collect();
        (reasons.len() >= 3).then_some(reasons)
    })
    .await;
    assert!(reasons.contains(&(
        "ExternalProvisioning".to_owned(),
        "waiting for a volume to be created, either by external provisioner \"berth.dev/local-path\" or manually created by system administrator".to_owned()
    )), "{reasons:?}");
    assert!(
        reasons.contains(&(
            "Provisioning".to_owned(),
            "External provisioner is provisioning volume for claim \"default/www-web-0\""
                .to_owned()
        )),
        "{reasons:?}"
    );
    assert!(
        reasons.contains(&(
            "ProvisioningSucceeded".to_owned(),
            format!("Successfully provisioned volume {volume_name}")
        )),
        "{reasons:?}"
    );

    // Reclaim Delete: the claim goes, the volume is Released and deleted; only the node's
    // finalizer (the kubelet removes the directory) holds it then.
    claims.delete("www-web-0", &DeleteParams::default()).await.unwrap();
    eventually("the volume marked for deletion, pv-protection gone", || async {
        let volume = volumes.get(&volume_name).await.ok()?;
        let finalizers = volume.metadata.finalizers.clone().unwrap_or_default();
        (volume.metadata.deletion_timestamp.is_some()
            && finalizers == vec!["berth.dev/local-path".to_owned()]
            && phase_of_volume(&volume) == Some("Released"))
        .then_some(())
    })
    .await;
    controllers.shutdown().await;
    cluster.shutdown().await;
}

#[tokio::test]
async fn a_user_class_named_local_path_is_not_overwritten() {
    let cluster = Cluster::start().await;
    let client = cluster.client();
    let classes: Api<StorageClass> = Api::all(client.clone());
    let mine: StorageClass = serde_json::from_value(json!({
        "metadata": { "name": "local-path" },
        "provisioner": "example.com/mine",
        "reclaimPolicy": "Retain",
    }))
    .unwrap();
    classes.create(&PostParams::default(), &mine).await.unwrap();
    let controllers = cluster.spawn_controllers(Config {
        controllers: vec![Controller::Volume, Controller::ServiceAccount],
        ..Config::default()
    });
    // A claim of that class shows the controller is running: it gets the provisioner annotation.
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), "default");
    claims.create(&PostParams::default(), &claim("c", Some("local-path"), "1Gi")).await.unwrap();
    eventually("the claim handed to example.com/mine", || async {
        let claim = claims.get("c").await.ok()?;
        let annotations = claim.metadata.annotations?;
        (annotations.get("volume.kubernetes.io/storage-provisioner")? == "example.com/mine")
            .then_some(())
    })
    .await;
    let class = classes.get("local-path").await.unwrap();
    assert_eq!(class.provisioner, "example.com/mine");
    assert_eq!(class.reclaim_policy.as_deref(), Some("Retain"));
    controllers.shutdown().await;
    cluster.shutdown().await;
}

fn volume(name: &str, size: &str, labels: BTreeMap<&str, &str>, policy: &str) -> PersistentVolume {
    serde_json::from_value(json!({
        "metadata": { "name": name, "labels": labels },
        "spec": {
            "capacity": { "storage": size },
            "accessModes": ["ReadWriteOnce", "ReadWriteMany"],
            "persistentVolumeReclaimPolicy": policy,
            "storageClassName": "manual",
            "hostPath": { "path": format!("/tmp/{name}") },
        },
    }))
    .unwrap()
}

#[tokio::test]
async fn pre_created_volumes_bind_by_class_size_and_selector_and_retain_keeps_them() {
    let (cluster, controllers) = start().await;
    let client = cluster.client();
    let volumes: Api<PersistentVolume> = Api::all(client.clone());
    let pp = PostParams::default();
    volumes.create(&pp, &volume("big", "10Gi", BTreeMap::new(), "Retain")).await.unwrap();
    volumes.create(&pp, &volume("small", "2Gi", BTreeMap::new(), "Retain")).await.unwrap();
    volumes
        .create(&pp, &volume("fast", "5Gi", BTreeMap::from([("tier", "fast")]), "Retain"))
        .await
        .unwrap();
    for name in ["big", "small", "fast"] {
        eventually("volumes Available", || async {
            let volume = volumes.get(name).await.ok()?;
            (phase_of_volume(&volume) == Some("Available")).then_some(())
        })
        .await;
    }
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), "default");
    // The smallest volume that fits.
    claims.create(&pp, &claim("one", Some("manual"), "1Gi")).await.unwrap();
    let one = bound_claim(&claims, "one").await;
    assert_eq!(one.spec.unwrap().volume_name.as_deref(), Some("small"));
    // A selector narrows the choice.
    let mut selective = claim("two", Some("manual"), "1Gi");
    selective.spec.as_mut().unwrap().selector =
        Some(serde_json::from_value(json!({ "matchLabels": { "tier": "fast" } })).unwrap());
    claims.create(&pp, &selective).await.unwrap();
    let two = bound_claim(&claims, "two").await;
    assert_eq!(two.spec.unwrap().volume_name.as_deref(), Some("fast"));
    // Too big for anything left: Pending.
    claims.create(&pp, &claim("three", Some("manual"), "20Gi")).await.unwrap();
    eventually("claim three Pending", || async {
        let claim = claims.get("three").await.ok()?;
        (phase_of_claim(&claim) == Some("Pending")).then_some(())
    })
    .await;

    let small = eventually("volume small Bound", || async {
        let volume = volumes.get("small").await.ok()?;
        (phase_of_volume(&volume) == Some("Bound")).then_some(volume)
    })
    .await;
    assert_eq!(small.metadata.annotations.unwrap()["pv.kubernetes.io/bound-by-controller"], "yes");
    assert_eq!(small.spec.unwrap().claim_ref.unwrap().name.as_deref(), Some("one"));

    // Retain: the claim goes, the volume stays Released with its claimRef.
    claims.delete("one", &DeleteParams::default()).await.unwrap();
    let released = eventually("volume small Released", || async {
        let volume = volumes.get("small").await.ok()?;
        (phase_of_volume(&volume) == Some("Released")).then_some(volume)
    })
    .await;
    assert!(released.metadata.deletion_timestamp.is_none());
    assert_eq!(released.spec.unwrap().claim_ref.unwrap().name.as_deref(), Some("one"));
    // A new claim does not get a Released volume.
    claims.create(&pp, &claim("four", Some("manual"), "1Gi")).await.unwrap();
    let four = bound_claim(&claims, "four").await;
    assert_eq!(four.spec.unwrap().volume_name.as_deref(), Some("big"));
    controllers.shutdown().await;
    cluster.shutdown().await;
}

#[tokio::test]
async fn wait_for_first_consumer_provisions_on_the_selected_node() {
    let (cluster, controllers) = start().await;
    let client = cluster.client();
    node(&client, "node-a", "/a/storage").await;
    node(&client, "node-b", "/b/storage").await;
    let classes: Api<StorageClass> = Api::all(client.clone());
    let class: StorageClass = serde_json::from_value(json!({
        "metadata": { "name": "late" },
        "provisioner": "berth.dev/local-path",
        "volumeBindingMode": "WaitForFirstConsumer",
    }))
    .unwrap();
    classes.create(&PostParams::default(), &class).await.unwrap();
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), "default");
    claims.create(&PostParams::default(), &claim("data", Some("late"), "3Gi")).await.unwrap();
    let events: Api<Event> = Api::namespaced(client.clone(), "default");
    eventually("WaitForFirstConsumer event", || async {
        let list = events.list(&ListParams::default()).await.ok()?;
        list.items
            .iter()
            .any(|e| {
                e.reason.as_deref() == Some("WaitForFirstConsumer")
                    && e.message.as_deref()
                        == Some("waiting for first consumer to be created before binding")
            })
            .then_some(())
    })
    .await;
    let pending = claims.get("data").await.unwrap();
    assert_eq!(phase_of_claim(&pending), Some("Pending"));
    assert!(pending.spec.unwrap().volume_name.is_none());

    let mut selected = claims.get("data").await.unwrap();
    selected
        .metadata
        .annotations
        .get_or_insert_default()
        .insert("volume.kubernetes.io/selected-node".to_owned(), "node-b".to_owned());
    claims.replace("data", &PostParams::default(), &selected).await.unwrap();
    let bound = bound_claim(&claims, "data").await;
    let volumes: Api<PersistentVolume> = Api::all(client.clone());
    let volume = volumes.get(bound.spec.unwrap().volume_name.as_deref().unwrap()).await.unwrap();
    assert!(volume.spec.unwrap().host_path.unwrap().path.starts_with("/b/storage/pvc-"));
    controllers.shutdown().await;
    cluster.shutdown().await;
}

#[tokio::test]
async fn pvc_protection_holds_a_claim_while_a_running_pod_uses_it() {
    let (cluster, controllers) = start().await;
    let client = cluster.client();
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), "default");
    let mut protected = claim("held", Some("manual"), "1Gi");
    protected.metadata.finalizers = Some(vec!["kubernetes.io/pvc-protection".to_owned()]);
    claims.create(&PostParams::default(), &protected).await.unwrap();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let pod: Pod = serde_json::from_value(json!({
        "metadata": { "name": "user" },
        "spec": {
            "nodeName": "node-a",
            "containers": [{ "name": "c", "image": "busybox" }],
            "volumes": [{ "name": "v", "persistentVolumeClaim": { "claimName": "held" } }],
        },
    }))
    .unwrap();
    let mut pod = pods.create(&PostParams::default(), &pod).await.unwrap();
    pod.status = Some(serde_json::from_value(json!({ "phase": "Running" })).unwrap());
    let pod = pods.replace_status("user", &PostParams::default(), &pod).await.unwrap();

    claims.delete("held", &DeleteParams::default()).await.unwrap();
    let marked = claims.get("held").await.unwrap();
    assert!(marked.metadata.deletion_timestamp.is_some());
    // Give the controller a chance to (wrongly) let go.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let still = claims.get("held").await.unwrap();
    assert_eq!(still.metadata.finalizers, Some(vec!["kubernetes.io/pvc-protection".to_owned()]));

    let mut finished = pod;
    finished.status = Some(serde_json::from_value(json!({ "phase": "Succeeded" })).unwrap());
    pods.replace_status("user", &PostParams::default(), &finished).await.unwrap();
    // Needs the apiserver's finalizer contract: removing the last finalizer of a marked
    // object deletes it.
    eventually("the claim released by pvc-protection", || async {
        match claims.get_opt("held").await.ok()? {
            None => Some(()),
            Some(claim) => claim.metadata.finalizers.unwrap_or_default().is_empty().then_some(()),
        }
    })
    .await;
    controllers.shutdown().await;
    cluster.shutdown().await;
}

#[tokio::test]
async fn many_claims_are_spread_evenly_over_the_nodes_and_all_bound() {
    let (cluster, controllers) = start().await;
    let client = cluster.client();
    for name in ["node-a", "node-b", "node-c"] {
        node(&client, name, &format!("/{name}")).await;
    }
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), "default");
    let creates = (0..60).map(|i| {
        let claims = claims.clone();
        async move {
            claims
                .create(
                    &PostParams::default(),
                    &claim(&format!("data-{i}"), Some("local-path"), "1Gi"),
                )
                .await
                .unwrap();
        }
    });
    futures::future::join_all(creates).await;
    eventually("60 claims Bound", || async {
        let list = claims.list(&ListParams::default()).await.ok()?;
        (list.items.iter().filter(|c| phase_of_claim(c) == Some("Bound")).count() == 60)
            .then_some(())
    })
    .await;
    let volumes: Api<PersistentVolume> = Api::all(client.clone());
    let list = volumes.list(&ListParams::default()).await.unwrap();
    assert_eq!(list.items.len(), 60, "one volume per claim, no duplicates");
    let mut per_node = BTreeMap::new();
    for volume in &list.items {
        let path = volume.spec.as_ref().unwrap().host_path.as_ref().unwrap().path.clone();
        let node = path.split('/').nth(1).unwrap().to_owned();
        *per_node.entry(node).or_insert(0) += 1;
    }
    assert_eq!(
        per_node,
        BTreeMap::from([
            ("node-a".to_owned(), 20),
            ("node-b".to_owned(), 20),
            ("node-c".to_owned(), 20)
        ])
    );
    controllers.shutdown().await;
    cluster.shutdown().await;
}

#[tokio::test]
async fn a_restarted_controller_finishes_the_work_without_duplicates() {
    let (cluster, controllers) = start().await;
    let client = cluster.client();
    node(&client, "node-a", "/a").await;
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), "default");
    for i in 0..10 {
        claims
            .create(&PostParams::default(), &claim(&format!("c-{i}"), Some("local-path"), "1Gi"))
            .await
            .unwrap();
    }
    let volumes: Api<PersistentVolume> = Api::all(client.clone());
    eventually("provisioning under way", || async {
        (!volumes.list(&ListParams::default()).await.ok()?.items.is_empty()).then_some(())
    })
    .await;
    controllers.shutdown().await;
    let controllers = cluster.spawn_controllers(Config {
        controllers: vec![Controller::Volume, Controller::ServiceAccount],
        ..Config::default()
    });
    eventually("10 claims Bound", || async {
        let list = claims.list(&ListParams::default()).await.ok()?;
        (list.items.iter().filter(|c| phase_of_claim(c) == Some("Bound")).count() == 10)
            .then_some(())
    })
    .await;
    assert_eq!(volumes.list(&ListParams::default()).await.unwrap().items.len(), 10);
    controllers.shutdown().await;
    cluster.shutdown().await;
}
