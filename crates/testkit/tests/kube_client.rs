//! kube-rs against berth's API server: the client library our own components are built on.

use berth_testkit::cluster::{Cluster, eventually};
use futures::{StreamExt as _, TryStreamExt as _};
use k8s_openapi::api::authentication::v1::SelfSubjectReview;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::{WatchStreamExt as _, watcher};

#[tokio::test]
async fn list_create_patch_watch_delete() {
    let cluster = Cluster::start().await;
    list_create_patch_watch_delete_with(cluster.client()).await;
    cluster.shutdown().await;
}

/// The same through `LocalService`, the in-process API berth's own components use, which
/// authenticates them as kube-apiserver's loopback client.
#[tokio::test]
async fn the_in_process_client_is_the_loopback_user_and_does_what_https_does() {
    let cluster = Cluster::start().await;
    let client = cluster.local_client();
    let reviews: Api<SelfSubjectReview> = Api::all(client.clone());
    let review = reviews.create(&PostParams::default(), &SelfSubjectReview::default()).await;
    let user = review.unwrap().status.and_then(|s| s.user_info).unwrap_or_default();
    assert_eq!(user.username.as_deref(), Some("system:apiserver"));
    assert!(user.groups.unwrap_or_default().contains(&"system:masters".to_owned()));
    list_create_patch_watch_delete_with(client).await;
    cluster.shutdown().await;
}

async fn list_create_patch_watch_delete_with(client: kube::Client) {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let names: Vec<String> = namespaces
        .list(&ListParams::default())
        .await
        .unwrap()
        .into_iter()
        .filter_map(|ns| ns.metadata.name)
        .collect();
    assert!(names.contains(&"default".to_owned()), "{names:?}");
    assert!(names.contains(&"kube-system".to_owned()), "{names:?}");

    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let mut watch =
        watcher(configmaps.clone(), watcher::Config::default()).applied_objects().boxed();

    let mut cm = ConfigMap::default();
    cm.metadata.name = Some("one".into());
    cm.data = Some([("a".to_owned(), "1".to_owned())].into());
    let created = configmaps.create(&PostParams::default(), &cm).await.unwrap();
    assert!(created.metadata.uid.is_some());

    let seen = watch.try_next().await.unwrap().unwrap();
    assert_eq!(seen.metadata.name.as_deref(), Some("one"));

    let patch = serde_json::json!({"data": {"b": "2"}});
    let patched =
        configmaps.patch("one", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    assert_eq!(patched.data.as_ref().unwrap().get("b").map(String::as_str), Some("2"));
    let seen = watch.try_next().await.unwrap().unwrap();
    assert_eq!(seen.data.as_ref().unwrap().len(), 2);

    configmaps.delete("one", &DeleteParams::default()).await.unwrap();
    eventually("the config map to be gone", || async {
        configmaps.get_opt("one").await.unwrap().is_none().then_some(())
    })
    .await;
}

/// A watch from a compacted resourceVersion gets a 410 `Expired` error event, and kube-rs'
/// watcher answers it by re-listing (a new `Init`) instead of failing.
#[tokio::test]
async fn watch_restarts_after_410() {
    let cluster = Cluster::start().await;
    let configmaps: Api<ConfigMap> = Api::namespaced(cluster.client(), "default");
    let mut cm = ConfigMap::default();
    cm.metadata.name = Some("first".into());
    let first = configmaps.create(&PostParams::default(), &cm).await.unwrap();
    let old_rv = first.metadata.resource_version.clone().unwrap();

    // The watcher lists, then (when next polled) watches from the list's version.
    let mut events = watcher(configmaps.clone(), watcher::Config::default()).boxed();
    assert!(matches!(events.try_next().await.unwrap(), Some(watcher::Event::Init)));
    assert!(matches!(events.try_next().await.unwrap(), Some(watcher::Event::InitApply(_))));
    assert!(matches!(events.try_next().await.unwrap(), Some(watcher::Event::InitDone)));

    // Move history past what the watcher has seen, in another namespace so it sees nothing new.
    let elsewhere: Api<ConfigMap> = Api::namespaced(cluster.client(), "kube-public");
    for i in 0..3 {
        cm.metadata.name = Some(format!("other-{i}"));
        elsewhere.create(&PostParams::default(), &cm).await.unwrap();
    }
    let store = cluster.store();
    store.compact(store.current_revision().await.unwrap()).await.unwrap();

    // The raw protocol: watching from the compacted version is an ERROR event with 410.
    let mut raw = configmaps
        .watch(&kube::api::WatchParams::default().timeout(5), &old_rv)
        .await
        .unwrap()
        .boxed();
    match raw.try_next().await.unwrap() {
        Some(kube::api::WatchEvent::Error(status)) => {
            assert_eq!(status.code, 410, "{status:?}");
            assert_eq!(status.reason, "Expired", "{status:?}");
        }
        other => panic!("expected a 410 error event, got {other:?}"),
    }

    // The watcher's watch hits the same 410 and it re-lists: Init, the object, InitDone.
    let restarted = tokio::time::timeout(std::time::Duration::from_secs(20), async {
        loop {
            match events.try_next().await {
                Ok(Some(watcher::Event::Init)) => break,
                Ok(Some(_)) | Err(_) => continue,
                Ok(None) => panic!("the watcher ended"),
            }
        }
        let mut names = Vec::new();
        loop {
            match events.try_next().await.unwrap() {
                Some(watcher::Event::InitApply(cm)) => names.push(cm.metadata.name.unwrap()),
                Some(watcher::Event::InitDone) => break names,
                other => panic!("unexpected event during the re-list: {other:?}"),
            }
        }
    })
    .await
    .expect("the watcher re-listed after the 410");
    assert_eq!(restarted, ["first"]);
    cluster.shutdown().await;
}

/// Status updates through the status subresource, as controllers write them: the spec is
/// untouched by a status write and the generation does not move.
#[tokio::test]
async fn status_subresource_update() {
    use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetStatus};
    let cluster = Cluster::start().await;
    let sets: Api<StatefulSet> = Api::namespaced(cluster.client(), "default");
    let set: StatefulSet = serde_json::from_value(serde_json::json!({
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 2, "serviceName": "nginx",
            "selector": {"matchLabels": {"app": "nginx"}},
            "template": {
                "metadata": {"labels": {"app": "nginx"}},
                "spec": {"containers": [{"name": "nginx", "image": "nginx"}]}
            }
        }
    }))
    .unwrap();
    let created = sets.create(&PostParams::default(), &set).await.unwrap();
    assert_eq!(created.metadata.generation, Some(1));

    let mut with_status = created.clone();
    with_status.status = Some(StatefulSetStatus {
        replicas: 2,
        ready_replicas: Some(1),
        observed_generation: Some(1),
        ..StatefulSetStatus::default()
    });
    with_status.spec.as_mut().unwrap().replicas = Some(7);
    let written = sets.replace_status("web", &PostParams::default(), &with_status).await.unwrap();
    assert_eq!(written.status.as_ref().unwrap().ready_replicas, Some(1));
    assert_eq!(written.spec.as_ref().unwrap().replicas, Some(2), "status writes keep the spec");
    assert_eq!(written.metadata.generation, Some(1));

    let patch = serde_json::json!({"status": {"readyReplicas": 2}});
    let patched =
        sets.patch_status("web", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    assert_eq!(patched.status.unwrap().ready_replicas, Some(2));
    cluster.shutdown().await;
}

/// An update carrying the uid of an object that was deleted and re-created under the same name
/// is refused (409), so a stale writer cannot overwrite the new object.
#[tokio::test]
async fn an_update_with_a_stale_uid_conflicts() {
    let cluster = Cluster::start().await;
    let configmaps: Api<ConfigMap> = Api::namespaced(cluster.client(), "default");
    let mut cm = ConfigMap::default();
    cm.metadata.name = Some("same-name".into());
    let old = configmaps.create(&PostParams::default(), &cm).await.unwrap();
    configmaps.delete("same-name", &DeleteParams::default()).await.unwrap();
    let new = configmaps.create(&PostParams::default(), &cm).await.unwrap();
    assert_ne!(old.metadata.uid, new.metadata.uid);

    let mut stale = old.clone();
    stale.metadata.resource_version = None;
    stale.data = Some([("written".to_owned(), "by a stale writer".to_owned())].into());
    match configmaps.replace("same-name", &PostParams::default(), &stale).await {
        Err(kube::Error::Api(status)) => {
            assert_eq!(status.code, 409, "{status:?}");
            assert!(
                status.message.contains("Precondition failed: UID in precondition"),
                "{status:?}"
            );
        }
        other => panic!("expected a 409, got {other:?}"),
    }
    assert_eq!(configmaps.get("same-name").await.unwrap().data, None);
    cluster.shutdown().await;
}
