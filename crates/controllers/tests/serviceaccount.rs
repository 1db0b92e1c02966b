//! The service account controller and root CA publisher on an in-process cluster: every active
//! namespace gets its `default` ServiceAccount and `kube-root-ca.crt` ConfigMap, restored
//! when deleted or changed, and terminating namespaces are left alone.

use berth_controllers::{Config, Controller, Controllers};
use berth_testkit::cluster::{Cluster, eventually};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, ServiceAccount};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};

const CA: &str = "-----BEGIN CERTIFICATE-----\nMIIBtest\n-----END CERTIFICATE-----\n";
const DESCRIPTION: &str = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.";

async fn start() -> (Cluster, Controllers) {
    let cluster = Cluster::start().await;
    let config = Config {
        controllers: vec![Controller::ServiceAccount],
        root_ca_pem: CA.to_owned(),
        ..Config::default()
    };
    let controllers = cluster.spawn_controllers(config);
    (cluster, controllers)
}

async fn create_namespace(client: &kube::Client, name: &str, finalizers: &[&str]) {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let namespace = Namespace {
        metadata: ObjectMeta {
            name: Some(name.into()),
            finalizers: Some(finalizers.iter().map(|f| (*f).to_owned()).collect()),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    namespaces.create(&PostParams::default(), &namespace).await.expect("create namespace");
}

async fn published(client: &kube::Client, namespace: &str) -> ConfigMap {
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), namespace);
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    eventually(&format!("the default account and CA in {namespace}"), || async {
        accounts.get_opt("default").await.expect("get account")?;
        let cm = config_maps.get_opt("kube-root-ca.crt").await.expect("get configmap")?;
        let ca = cm.data.as_ref()?.get("ca.crt")?;
        (ca == CA).then_some(cm)
    })
    .await
}

#[tokio::test]
async fn every_namespace_gets_its_account_and_root_ca() {
    let (cluster, controllers) = start().await;
    let client = cluster.client();
    // The built-in namespaces and a new one.
    for namespace in ["default", "kube-system"] {
        published(&client, namespace).await;
    }
    create_namespace(&client, "team", &[]).await;
    let cm = published(&client, "team").await;
    assert_eq!(
        cm.metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get("kubernetes.io/description"))
            .map(String::as_str),
        Some(DESCRIPTION)
    );
    assert_eq!(cm.data.as_ref().map(|d| d.len()), Some(1));
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), "team");
    let account = accounts.get("default").await.expect("get account");
    assert_eq!(account.secrets, None);
    controllers.shutdown().await;
    cluster.shutdown().await;
}

#[tokio::test]
async fn deleted_or_changed_objects_are_restored() {
    let (cluster, controllers) = start().await;
    let client = cluster.client();
    create_namespace(&client, "team", &[]).await;
    let first = published(&client, "team").await;
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), "team");
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), "team");
    let account_uid = accounts.get("default").await.expect("get").metadata.uid;

    accounts.delete("default", &DeleteParams::default()).await.expect("delete account");
    eventually("the account to be recreated", || async {
        let account = accounts.get_opt("default").await.expect("get")?;
        (account.metadata.uid != account_uid).then_some(())
    })
    .await;

    let tamper = serde_json::json!({"data": {"ca.crt": "not a CA", "extra": "x"}});
    config_maps
        .patch("kube-root-ca.crt", &PatchParams::default(), &Patch::Merge(&tamper))
        .await
        .expect("tamper");
    eventually("the CA to be restored", || async {
        let cm = config_maps.get_opt("kube-root-ca.crt").await.expect("get")?;
        let data = cm.data?;
        (data.len() == 1 && data.get("ca.crt").map(String::as_str) == Some(CA)).then_some(())
    })
    .await;

    let strip = serde_json::json!({"metadata": {"annotations": null}});
    config_maps
        .patch("kube-root-ca.crt", &PatchParams::default(), &Patch::Merge(&strip))
        .await
        .expect("strip");
    eventually("the annotation to be restored", || async {
        let cm = config_maps.get_opt("kube-root-ca.crt").await.expect("get")?;
        cm.metadata.annotations?.contains_key("kubernetes.io/description").then_some(())
    })
    .await;

    config_maps.delete("kube-root-ca.crt", &DeleteParams::default()).await.expect("delete cm");
    eventually("the ConfigMap to be recreated", || async {
        let cm = config_maps.get_opt("kube-root-ca.crt").await.expect("get")?;
        (cm.metadata.uid != first.metadata.uid).then_some(())
    })
    .await;
    controllers.shutdown().await;
    cluster.shutdown().await;
}

#[tokio::test]
async fn terminating_namespaces_are_left_alone() {
    let (cluster, controllers) = start().await;
    let client = cluster.client();
    // The namespace's own finalizer (and no namespace controller) keeps it Terminating.
    create_namespace(&client, "leaving", &[]).await;
    published(&client, "leaving").await;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces.delete("leaving", &DeleteParams::default()).await.expect("delete namespace");
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), "leaving");
    accounts.delete("default", &DeleteParams::default()).await.expect("delete account");

    // A namespace created afterwards is served, so the controller is past the deletion.
    create_namespace(&client, "arriving", &[]).await;
    published(&client, "arriving").await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(accounts.get_opt("default").await.expect("get").is_none());
    controllers.shutdown().await;
    cluster.shutdown().await;
}
