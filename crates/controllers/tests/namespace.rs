//! The namespace controller on an in-process cluster: a deleted namespace is emptied, reports
//! what holds it up in its conditions, and goes once nothing remains.
//!
//! The end of each test (the namespace gone) needs the apiserver's `namespaces/{n}/finalize`
//! subresource (the namespace contract).

use berth_controllers::{Config, Controller, Controllers};
use berth_testkit::cluster::{Cluster, eventually};
use k8s_openapi::api::core::v1::{
    ConfigMap, Container, Namespace, NamespaceCondition, Pod, PodSpec, Secret, ServiceAccount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};

async fn start(controllers: Vec<Controller>) -> (Cluster, Controllers) {
    let cluster = Cluster::start().await;
    let config = Config { controllers, ..Config::default() };
    let controllers = cluster.spawn_controllers(config);
    (cluster, controllers)
}

fn meta(name: &str, finalizers: &[&str]) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        finalizers: Some(finalizers.iter().map(|f| (*f).to_owned()).collect()),
        ..ObjectMeta::default()
    }
}

async fn create_namespace(client: &kube::Client, name: &str) -> Api<Namespace> {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let namespace = Namespace { metadata: meta(name, &[]), ..Namespace::default() };
    namespaces.create(&PostParams::default(), &namespace).await.expect("create namespace");
    namespaces
}

fn condition(namespace: &Namespace, type_: &str) -> Option<NamespaceCondition> {
    namespace.status.as_ref()?.conditions.as_ref()?.iter().find(|c| c.type_ == type_).cloned()
}

#[tokio::test]
async fn a_deleted_namespace_is_emptied_and_removed() {
    // Pods need the namespace's default ServiceAccount (admission), as in Kubernetes.
    let (cluster, controllers) =
        start(vec![Controller::Namespace, Controller::ServiceAccount]).await;
    let client = cluster.client();
    let namespaces = create_namespace(&client, "doomed").await;
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), "doomed");
    for name in ["a", "b", "c"] {
        let cm = ConfigMap { metadata: meta(name, &[]), ..ConfigMap::default() };
        config_maps.create(&PostParams::default(), &cm).await.expect("create configmap");
    }
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "doomed");
    let secret = Secret { metadata: meta("s", &[]), ..Secret::default() };
    secrets.create(&PostParams::default(), &secret).await.expect("create secret");
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), "doomed");
    eventually("the default ServiceAccount", || async {
        accounts.get_opt("default").await.expect("get account")
    })
    .await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "doomed");
    let pod = Pod {
        metadata: meta("p", &[]),
        spec: Some(PodSpec {
            containers: vec![Container {
                name: "c".into(),
                image: Some("busybox".into()),
                ..Container::default()
            }],
            ..PodSpec::default()
        }),
        ..Pod::default()
    };
    pods.create(&PostParams::default(), &pod).await.expect("create pod");
    // Other namespaces are not touched.
    let bystanders: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let kept = ConfigMap { metadata: meta("kept", &[]), ..ConfigMap::default() };
    bystanders.create(&PostParams::default(), &kept).await.expect("create bystander");

    namespaces.delete("doomed", &DeleteParams::default()).await.expect("delete namespace");
    eventually("the namespace's content to be deleted", || async {
        let cms = config_maps.list(&Default::default()).await.ok()?;
        let secrets = secrets.list(&Default::default()).await.ok()?;
        let pods = pods.list(&Default::default()).await.ok()?;
        let accounts = accounts.list(&Default::default()).await.ok()?;
        let empty = cms.items.is_empty()
            && secrets.items.is_empty()
            && pods.items.is_empty()
            && accounts.items.is_empty();
        empty.then_some(())
    })
    .await;
    eventually("the namespace to be removed", || async {
        namespaces.get_opt("doomed").await.expect("get").is_none().then_some(())
    })
    .await;
    assert!(bystanders.get_opt("kept").await.expect("get").is_some());
    controllers.shutdown().await;
    cluster.shutdown().await;
}

#[tokio::test]
async fn content_held_by_a_finalizer_holds_the_namespace_and_is_reported() {
    let (cluster, controllers) = start(vec![Controller::Namespace]).await;
    let client = cluster.client();
    let namespaces = create_namespace(&client, "held").await;
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), "held");
    let held = ConfigMap { metadata: meta("held", &["example.com/hold"]), ..ConfigMap::default() };
    config_maps.create(&PostParams::default(), &held).await.expect("create held");
    let free = ConfigMap { metadata: meta("free", &[]), ..ConfigMap::default() };
    config_maps.create(&PostParams::default(), &free).await.expect("create free");

    namespaces.delete("held", &DeleteParams::default()).await.expect("delete namespace");
    let namespace = eventually("the conditions to report the finalizer", || async {
        let namespace = namespaces.get_opt("held").await.expect("get")?;
        let finalizers = condition(&namespace, "NamespaceFinalizersRemaining")?;
        (finalizers.status == "True").then_some(namespace)
    })
    .await;
    assert_eq!(namespace.status.as_ref().and_then(|s| s.phase.as_deref()), Some("Terminating"));
    let finalizers = condition(&namespace, "NamespaceFinalizersRemaining").expect("condition");
    assert_eq!(finalizers.reason.as_deref(), Some("SomeFinalizersRemain"));
    assert_eq!(
        finalizers.message.as_deref(),
        Some(
            "Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances"
        )
    );
    let remaining = condition(&namespace, "NamespaceContentRemaining").expect("condition");
    assert_eq!(remaining.status, "True");
    assert_eq!(remaining.reason.as_deref(), Some("SomeResourcesRemain"));
    assert_eq!(
        remaining.message.as_deref(),
        Some("Some resources are remaining: configmaps. has 1 resource instances")
    );
    let discovery = condition(&namespace, "NamespaceDeletionDiscoveryFailure").expect("condition");
    assert_eq!(
        (discovery.status.as_str(), discovery.reason.as_deref()),
        ("False", Some("ResourcesDiscovered"))
    );
    assert!(config_maps.get_opt("free").await.expect("get").is_none());
    let marked = config_maps.get_opt("held").await.expect("get").expect("held stays");
    assert!(marked.metadata.deletion_timestamp.is_some());

    let release = serde_json::json!({"metadata": {"finalizers": null}});
    config_maps
        .patch("held", &PatchParams::default(), &Patch::Merge(&release))
        .await
        .expect("release");
    eventually("the namespace to be removed", || async {
        namespaces.get_opt("held").await.expect("get").is_none().then_some(())
    })
    .await;
    controllers.shutdown().await;
    cluster.shutdown().await;
}
