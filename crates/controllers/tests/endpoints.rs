//! In-process cluster tests of the Endpoints and EndpointSlice controllers: a headless
//! Service over two pods whose status the test sets by hand.

use berth_controllers::{Config, Controller};
use berth_testkit::cluster::{Cluster, eventually};
use k8s_openapi::api::core::v1::{Endpoints, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use serde_json::json;

async fn pod(pods: &Api<Pod>, name: &str, ip: &str, ready: bool) {
    let pod: Pod = serde_json::from_value(json!({
        "metadata": { "name": name, "labels": { "app": "nginx" } },
        "spec": {
            "hostname": name,
            "subdomain": "nginx",
            "nodeName": "node-a",
            "containers": [{
                "name": "nginx",
                "image": "nginx",
                "ports": [{ "name": "web", "containerPort": 8080 }],
            }],
        },
    }))
    .unwrap();
    let mut pod = pods.create(&PostParams::default(), &pod).await.unwrap();
    set_status(&mut pod, ip, ready);
    pods.replace_status(name, &PostParams::default(), &pod).await.unwrap();
}

fn set_status(pod: &mut Pod, ip: &str, ready: bool) {
    pod.status = Some(
        serde_json::from_value(json!({
            "phase": "Running",
            "podIP": ip,
            "podIPs": [{ "ip": ip }],
            "conditions": [{
                "type": "Ready",
                "status": if ready { "True" } else { "False" },
                "lastTransitionTime": "2026-01-01T00:00:00Z",
            }],
        }))
        .unwrap(),
    );
}

#[tokio::test]
async fn a_headless_service_gets_endpoints_and_slices_that_follow_readiness() {
    let cluster = Cluster::start().await;
    let client = cluster.client();
    let controllers = cluster.spawn_controllers(Config {
        controllers: vec![
            Controller::Endpoints,
            Controller::EndpointSlice,
            Controller::ServiceAccount,
        ],
        ..Config::default()
    });
    let services: Api<Service> = Api::namespaced(client.clone(), "default");
    let service: Service = serde_json::from_value(json!({
        "metadata": { "name": "nginx", "labels": { "app": "nginx" } },
        "spec": {
            "clusterIP": "None",
            "selector": { "app": "nginx" },
            "ports": [{ "name": "web", "port": 80, "targetPort": "web" }],
        },
    }))
    .unwrap();
    let service = services.create(&PostParams::default(), &service).await.unwrap();
    // A Service without a selector is left alone.
    let manual: Service = serde_json::from_value(json!({
        "metadata": { "name": "manual" },
        "spec": { "ports": [{ "port": 80 }] },
    }))
    .unwrap();
    services.create(&PostParams::default(), &manual).await.unwrap();

    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    pod(&pods, "web-0", "10.244.0.10", true).await;
    pod(&pods, "web-1", "10.244.0.11", false).await;

    let endpoints: Api<Endpoints> = Api::namespaced(client.clone(), "default");
    let found = eventually("Endpoints with one ready, one not", || async {
        let e = endpoints.get("nginx").await.ok()?;
        let subset = e.subsets.clone()?.into_iter().next()?;
        (subset.addresses.as_ref()?.len() == 1 && subset.not_ready_addresses.as_ref()?.len() == 1)
            .then_some(e)
    })
    .await;
    let value = serde_json::to_value(&found).unwrap();
    assert_eq!(value["metadata"]["labels"]["service.kubernetes.io/headless"], "");
    assert_eq!(
        value["metadata"]["labels"]["endpoints.kubernetes.io/managed-by"],
        "endpoint-controller"
    );
    assert_eq!(value["metadata"]["labels"]["app"], "nginx");
    let trigger =
        value["metadata"]["annotations"]["endpoints.kubernetes.io/last-change-trigger-time"]
            .as_str()
            .unwrap();
    assert!(trigger.parse::<k8s_openapi::jiff::Timestamp>().is_ok(), "{trigger}");
    let subset = &value["subsets"][0];
    assert_eq!(subset["addresses"][0]["ip"], "10.244.0.10");
    assert_eq!(subset["addresses"][0]["hostname"], "web-0");
    assert_eq!(subset["addresses"][0]["nodeName"], "node-a");
    assert_eq!(subset["addresses"][0]["targetRef"]["kind"], "Pod");
    assert_eq!(subset["addresses"][0]["targetRef"]["name"], "web-0");
    assert_eq!(subset["notReadyAddresses"][0]["ip"], "10.244.0.11");
    assert_eq!(subset["ports"], json!([{ "name": "web", "port": 8080, "protocol": "TCP" }]));

    let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), "default");
    let selector = ListParams::default().labels("kubernetes.io/service-name=nginx");
    let slice = eventually("one slice with two endpoints", || async {
        let list = slices.list(&selector).await.ok()?;
        let slice = list.items.into_iter().next()?;
        (slice.endpoints.len() == 2).then_some(slice)
    })
    .await;
    let value = serde_json::to_value(&slice).unwrap();
    assert!(value["metadata"]["name"].as_str().unwrap().starts_with("nginx-"));
    assert_eq!(value["addressType"], "IPv4");
    assert_eq!(
        value["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"],
        "endpointslice-controller.k8s.io"
    );
    assert_eq!(value["metadata"]["labels"]["service.kubernetes.io/headless"], "");
    let owner = &value["metadata"]["ownerReferences"][0];
    assert_eq!(owner["kind"], "Service");
    assert_eq!(owner["uid"], json!(service.metadata.uid));
    assert_eq!(owner["controller"], true);
    assert_eq!(value["ports"], json!([{ "name": "web", "port": 8080, "protocol": "TCP" }]));
    let web0 = value["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["targetRef"]["name"] == "web-0")
        .unwrap();
    assert_eq!(web0["addresses"], json!(["10.244.0.10"]));
    assert_eq!(web0["hostname"], "web-0");
    assert_eq!(web0["nodeName"], "node-a");
    assert_eq!(web0["conditions"], json!({ "ready": true, "serving": true, "terminating": false }));
    let web1 = value["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["targetRef"]["name"] == "web-1")
        .unwrap();
    assert_eq!(
        web1["conditions"],
        json!({ "ready": false, "serving": false, "terminating": false })
    );

    // web-1 becomes Ready: both views follow.
    let mut web1 = pods.get("web-1").await.unwrap();
    set_status(&mut web1, "10.244.0.11", true);
    pods.replace_status("web-1", &PostParams::default(), &web1).await.unwrap();
    eventually("both addresses ready in Endpoints", || async {
        let e = endpoints.get("nginx").await.ok()?;
        let subset = e.subsets?.into_iter().next()?;
        (subset.addresses?.len() == 2 && subset.not_ready_addresses.is_none()).then_some(())
    })
    .await;
    eventually("both endpoints ready in the slice", || async {
        let list = slices.list(&selector).await.ok()?;
        (list.items.len() == 1
            && list.items[0]
                .endpoints
                .iter()
                .all(|e| e.conditions.as_ref().and_then(|c| c.ready) == Some(true)))
        .then_some(())
    })
    .await;

    // Converged means no more writes (the controllers do not fight the API's defaulting).
    let settled_endpoints = endpoints.get("nginx").await.unwrap().metadata.resource_version;
    let settled_slices: Vec<_> = slices
        .list(&selector)
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|s| s.metadata.resource_version)
        .collect();
    // Nothing for the selector-less Service.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(endpoints.get("nginx").await.unwrap().metadata.resource_version, settled_endpoints);
    let slices_now: Vec<_> = slices
        .list(&selector)
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|s| s.metadata.resource_version)
        .collect();
    assert_eq!(slices_now, settled_slices);
    assert!(endpoints.get_opt("manual").await.unwrap().is_none());
    let manual_slices = slices
        .list(&ListParams::default().labels("kubernetes.io/service-name=manual"))
        .await
        .unwrap();
    assert!(manual_slices.items.is_empty());

    // A deleted pod leaves Endpoints at once; in a slice it is gone or shown terminating
    // (graceful deletion keeps a scheduled pod until its kubelet lets go).
    pods.delete("web-0", &DeleteParams::default()).await.unwrap();
    eventually("web-0 out of Endpoints", || async {
        let e = endpoints.get("nginx").await.ok()?;
        let subset = e.subsets?.into_iter().next()?;
        let ips: Vec<String> = subset.addresses?.into_iter().map(|a| a.ip).collect();
        (ips == vec!["10.244.0.11".to_owned()]).then_some(())
    })
    .await;
    eventually("web-0 gone or terminating in the slice", || async {
        let list = slices.list(&selector).await.ok()?;
        let web0 = list
            .items
            .iter()
            .flat_map(|s| &s.endpoints)
            .find(|e| e.target_ref.as_ref().and_then(|r| r.name.as_deref()) == Some("web-0"));
        match web0 {
            None => Some(()),
            Some(e) => {
                let c = e.conditions.clone()?;
                (c.terminating == Some(true) && c.ready == Some(false)).then_some(())
            }
        }
    })
    .await;

    // The Service goes: its Endpoints and slices go with it.
    services.delete("nginx", &DeleteParams::default()).await.unwrap();
    eventually("Endpoints and slices removed", || async {
        let gone = endpoints.get_opt("nginx").await.ok()?.is_none();
        let none = slices.list(&selector).await.ok()?.items.is_empty();
        (gone && none).then_some(())
    })
    .await;
    controllers.shutdown().await;
    cluster.shutdown().await;
}
