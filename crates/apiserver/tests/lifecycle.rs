//! Object lifecycles over real HTTPS and the real kubectl: graceful pod deletion with the
//! kubelet's final delete, finalizers, propagation, deletecollection, namespace termination,
//! binding, eviction, admission, a pod's status at create, Service IP and node port allocation,
//! YAML bodies and watch-lists — each checked against what kube-apiserver v1.33 answers.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use berth_apiserver::ApiServer;
use common::{Kubectl, raw_with_body, start, token};
use serde_json::{Value, json};

/// Raw requests with the admin token.
struct Api {
    dir: PathBuf,
    addr: SocketAddr,
    bearer: String,
}

impl Api {
    fn new(dir: &Path, server: &ApiServer) -> Api {
        Api {
            dir: dir.to_owned(),
            addr: server.local_addr(),
            bearer: format!("Bearer {}", token(dir)),
        }
    }

    /// Sends a request; returns the code and the body as JSON (`Value::Null` when not JSON).
    async fn send(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: &[u8],
    ) -> (u16, Value) {
        let (code, text) = self.text(method, path, content_type, body).await;
        (code, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn text(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: &[u8],
    ) -> (u16, String) {
        let line = format!("{method} {path}");
        let headers = [("Authorization", self.bearer.as_str()), ("Content-Type", content_type)];
        raw_with_body(&self.dir, self.addr, &line, &headers, body).await
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.send("GET", path, "application/json", b"").await
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.send("POST", path, "application/json", body.to_string().as_bytes()).await
    }

    async fn delete(&self, path: &str, body: Value) -> (u16, Value) {
        self.send("DELETE", path, "application/json", body.to_string().as_bytes()).await
    }

    async fn merge(&self, path: &str, body: Value) -> (u16, Value) {
        self.send("PATCH", path, "application/merge-patch+json", body.to_string().as_bytes()).await
    }

    /// A watch that the server ends after one second: its events.
    async fn watch(&self, path: &str) -> (u16, Vec<Value>) {
        let (code, text) = self.text("GET", path, "application/json", b"").await;
        let events = dechunk(&text)
            .lines()
            .filter(|line| line.starts_with('{'))
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        (code, events)
    }

    async fn service_account(&self, namespace: &str) {
        let account = json!({ "apiVersion": "v1", "kind": "ServiceAccount", "metadata": { "name": "default" } });
        let (code, body) =
            self.post(&format!("/api/v1/namespaces/{namespace}/serviceaccounts"), account).await;
        assert_eq!(code, 201, "{body}");
    }

    async fn pod(&self, namespace: &str, name: &str, node: Option<&str>) -> Value {
        let mut pod = json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": { "name": name },
            "spec": { "containers": [{ "name": "c", "image": "nginx:1.27" }] },
        });
        if let Some(node) = node {
            pod["spec"]["nodeName"] = json!(node);
        }
        let (code, body) = self.post(&format!("/api/v1/namespaces/{namespace}/pods"), pod).await;
        assert_eq!(code, 201, "{body}");
        body
    }
}

/// The payload of a chunked HTTP/1.1 body (or the body itself when it is not chunked).
fn dechunk(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    loop {
        let Some((size, after)) = rest.split_once("\r\n") else { return text.to_owned() };
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else { return text.to_owned() };
        if size == 0 {
            return out;
        }
        out.push_str(&after[..size]);
        rest = after[size..].trim_start_matches("\r\n");
    }
}

fn names(list: &Value) -> Vec<String> {
    let mut names: Vec<String> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["metadata"]["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_delete_pod_waits_for_the_kubelets_final_delete() {
    let Some(kubectl) = Kubectl::new() else { return };
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let api = Api::new(dir.path(), &server);
    let config = server.kubeconfig_path().to_owned();
    api.service_account("default").await;
    let pod = api.pod("default", "web-0", Some("node-1")).await;
    let uid = pod["metadata"]["uid"].as_str().unwrap().to_owned();
    assert_eq!(pod["spec"]["serviceAccountName"], "default");

    let kubelet = async {
        // The DELETE marks the bound pod and keeps it for its grace period (default 30 s).
        let marked = loop {
            let (code, pod) = api.get("/api/v1/namespaces/default/pods/web-0").await;
            assert_eq!(code, 200, "{pod}");
            if pod["metadata"]["deletionTimestamp"].is_string() {
                break pod;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        };
        assert_eq!(marked["metadata"]["deletionGracePeriodSeconds"], 30, "{marked}");
        // A second DELETE may shorten the grace, never lengthen it.
        let path = "/api/v1/namespaces/default/pods/web-0";
        let (code, longer) = api.delete(path, json!({ "gracePeriodSeconds": 60 })).await;
        assert_eq!(code, 200, "{longer}");
        assert_eq!(longer["metadata"]["deletionGracePeriodSeconds"], 30);
        let (code, shorter) = api.delete(path, json!({ "gracePeriodSeconds": 10 })).await;
        assert_eq!(code, 200, "{shorter}");
        assert_eq!(shorter["metadata"]["deletionGracePeriodSeconds"], 10);
        // A wrong uid precondition is refused.
        let wrong = json!({ "gracePeriodSeconds": 0, "preconditions": { "uid": "nope" } });
        let (code, body) = api.delete(path, wrong).await;
        assert_eq!(code, 409, "{body}");
        // The kubelet stopped the containers: grace 0 with the pod's uid removes it.
        let last = json!({ "gracePeriodSeconds": 0, "preconditions": { "uid": uid } });
        let (code, body) = api.delete(path, last).await;
        assert_eq!(code, 200, "{body}");
        assert_eq!(api.get(path).await.0, 404);
    };
    let (deleted, ()) = tokio::join!(kubectl.run(&config, &["delete", "pod", "web-0"]), kubelet);
    let (ok, stdout, stderr) = deleted;
    assert!(ok, "{stdout}\n{stderr}");
    assert_eq!(stdout, "pod \"web-0\" deleted\n");

    // Unbound pods go at once.
    api.pod("default", "pending", None).await;
    let (code, gone) = api.delete("/api/v1/namespaces/default/pods/pending", json!({})).await;
    assert_eq!(code, 200, "{gone}");
    assert_eq!(gone["kind"], "Pod");
    assert_eq!(api.get("/api/v1/namespaces/default/pods/pending").await.0, 404);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finalizers_hold_objects_and_propagation_policies_add_them() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let api = Api::new(dir.path(), &server);
    let configmaps = "/api/v1/namespaces/default/configmaps";
    let cm = |name: &str, finalizers: Value| json!({ "apiVersion": "v1", "kind": "ConfigMap", "metadata": { "name": name, "finalizers": finalizers } });
    let (code, _) = api.post(configmaps, cm("held", json!(["example.com/hold"]))).await;
    assert_eq!(code, 201);
    let held = format!("{configmaps}/held");
    let (code, marked) = api.delete(&held, json!({})).await;
    assert_eq!(code, 200, "{marked}");
    assert!(marked["metadata"]["deletionTimestamp"].is_string(), "{marked}");
    assert_eq!(marked["metadata"]["deletionGracePeriodSeconds"], 0);
    let marked_rv = marked["metadata"]["resourceVersion"].as_str().unwrap().to_owned();

    // No new finalizer on an object being deleted.
    let (code, status) = api
        .merge(
            &held,
            json!({ "metadata": { "finalizers": ["example.com/hold", "example.com/more"] } }),
        )
        .await;
    assert_eq!(code, 422, "{status}");
    assert_eq!(
        status["message"],
        "ConfigMap \"held\" is invalid: metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{\"example.com/more\"}"
    );
    // Removing the last finalizer deletes it; the watch shows the deletion.
    let (code, body) = api.merge(&held, json!({ "metadata": { "finalizers": null } })).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(api.get(&held).await.0, 404);
    let (code, events) = api
        .watch(&format!("{configmaps}?watch=1&resourceVersion={marked_rv}&timeoutSeconds=1"))
        .await;
    assert_eq!(code, 200);
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["DELETED"], "{events:?}");

    // Orphan and Foreground leave the object to the garbage collector, with its finalizer.
    for (name, policy, finalizer) in
        [("orphaned", "Orphan", "orphan"), ("foreground", "Foreground", "foregroundDeletion")]
    {
        assert_eq!(api.post(configmaps, cm(name, json!([]))).await.0, 201);
        let (code, kept) = api
            .delete(&format!("{configmaps}/{name}"), json!({ "propagationPolicy": policy }))
            .await;
        assert_eq!(code, 200, "{kept}");
        assert_eq!(kept["metadata"]["finalizers"], json!([finalizer]), "{kept}");
        assert!(kept["metadata"]["deletionTimestamp"].is_string());
    }
    // The same from query parameters.
    assert_eq!(api.post(configmaps, cm("legacy", json!([]))).await.0, 201);
    let (code, kept) =
        api.send("DELETE", &format!("{configmaps}/legacy?orphanDependents=true"), "", b"").await;
    assert_eq!(code, 200, "{kept}");
    assert_eq!(kept["metadata"]["finalizers"], json!(["orphan"]));
    // `orphanDependents: false` on an object that stays (a finalizer holds it): 202, as
    // kube-apiserver's delete handler answers; when it goes at once, 200.
    assert_eq!(api.post(configmaps, cm("cascade", json!(["example.com/hold"]))).await.0, 201);
    let (code, kept) =
        api.delete(&format!("{configmaps}/cascade"), json!({ "orphanDependents": false })).await;
    assert_eq!(code, 202, "{kept}");
    assert!(kept["metadata"]["deletionTimestamp"].is_string(), "{kept}");
    let (code, kept) =
        api.send("DELETE", &format!("{configmaps}/cascade?orphanDependents=false"), "", b"").await;
    assert_eq!(code, 202, "{kept}");
    assert_eq!(api.post(configmaps, cm("gone", json!([]))).await.0, 201);
    let (code, status) =
        api.delete(&format!("{configmaps}/gone"), json!({ "orphanDependents": false })).await;
    assert_eq!((code, &status["kind"]), (200, &json!("Status")), "{status}");
    // Background (the default) deletes at once and answers a success Status.
    assert_eq!(api.post(configmaps, cm("plain", json!([]))).await.0, 201);
    let (code, status) = api
        .delete(&format!("{configmaps}/plain"), json!({ "propagationPolicy": "Background" }))
        .await;
    assert_eq!(code, 200, "{status}");
    assert_eq!(status["kind"], "Status");
    assert_eq!(status["status"], "Success");
    assert_eq!(status["details"]["name"], "plain");
    assert_eq!(status["details"]["kind"], "configmaps");
    let (code, status) = api
        .delete(&format!("{configmaps}/legacy"), json!({ "propagationPolicy": "Sideways" }))
        .await;
    assert_eq!(code, 422, "{status}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletecollection_deletes_what_the_selectors_pick() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let api = Api::new(dir.path(), &server);
    let configmaps = "/api/v1/namespaces/default/configmaps";
    for (name, app) in [("a1", "a"), ("a2", "a"), ("b1", "b")] {
        let cm = json!({ "metadata": { "name": name, "labels": { "app": app } } });
        assert_eq!(api.post(configmaps, cm).await.0, 201);
    }
    let (code, deleted) =
        api.send("DELETE", &format!("{configmaps}?labelSelector=app%3Da"), "", b"").await;
    assert_eq!(code, 200, "{deleted}");
    assert_eq!(deleted["kind"], "ConfigMapList");
    assert_eq!(names(&deleted), ["a1", "a2"]);
    assert_eq!(names(&api.get(configmaps).await.1), ["b1"]);

    // Cluster-scoped, with a field selector.
    let classes = "/apis/storage.k8s.io/v1/storageclasses";
    for name in ["fast", "slow"] {
        let class = json!({ "metadata": { "name": name }, "provisioner": "example.com/p" });
        assert_eq!(api.post(classes, class).await.0, 201);
    }
    let (code, deleted) =
        api.send("DELETE", &format!("{classes}?fieldSelector=metadata.name%3Dslow"), "", b"").await;
    assert_eq!(code, 200, "{deleted}");
    assert_eq!(names(&deleted), ["slow"]);
    assert_eq!(names(&api.get(classes).await.1), ["fast"]);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_delete_namespace_with_content_ends_after_finalize() {
    let Some(kubectl) = Kubectl::new() else { return };
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let api = Api::new(dir.path(), &server);
    let config = server.kubeconfig_path().to_owned();
    kubectl.ok(&config, &["create", "namespace", "doomed"]).await;
    let cm = json!({ "metadata": { "name": "content" } });
    assert_eq!(api.post("/api/v1/namespaces/doomed/configmaps", cm.clone()).await.0, 201);

    let controller = async {
        let namespace = loop {
            let (code, ns) = api.get("/api/v1/namespaces/doomed").await;
            assert_eq!(code, 200, "{ns}");
            if ns["status"]["phase"] == "Terminating" {
                break ns;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        };
        assert!(namespace["metadata"]["deletionTimestamp"].is_string());
        assert_eq!(namespace["spec"]["finalizers"], json!(["kubernetes"]));
        // Nothing new in a terminating namespace.
        let (code, status) = api
            .post("/api/v1/namespaces/doomed/configmaps", json!({ "metadata": { "name": "late" } }))
            .await;
        assert_eq!(code, 403, "{status}");
        assert_eq!(
            status["message"],
            "configmaps \"late\" is forbidden: unable to create new content in namespace doomed because it is being terminated"
        );
        assert_eq!(status["details"]["causes"][0]["reason"], "NamespaceTerminating");
        // The namespace controller empties it, then finalizes.
        let (code, _) = api.delete("/api/v1/namespaces/doomed/configmaps/content", json!({})).await;
        assert_eq!(code, 200);
        let mut finalize = namespace.clone();
        finalize["spec"]["finalizers"] = json!([]);
        let (code, body) = api
            .send(
                "PUT",
                "/api/v1/namespaces/doomed/finalize",
                "application/json",
                finalize.to_string().as_bytes(),
            )
            .await;
        assert_eq!(code, 200, "{body}");
        assert_eq!(api.get("/api/v1/namespaces/doomed").await.0, 404);
    };
    let (deleted, ()) =
        tokio::join!(kubectl.run(&config, &["delete", "namespace", "doomed"]), controller);
    let (ok, stdout, stderr) = deleted;
    assert!(ok, "{stdout}\n{stderr}");
    assert_eq!(stdout, "namespace \"doomed\" deleted\n");

    // The namespaces every cluster has stay.
    let (ok, _, stderr) = kubectl.run(&config, &["delete", "namespace", "default"]).await;
    assert!(!ok);
    assert_eq!(
        stderr.trim(),
        "Error from server (Forbidden): namespaces \"default\" is forbidden: this namespace may not be deleted"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binding_assigns_once_and_eviction_deletes_gracefully() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let api = Api::new(dir.path(), &server);
    api.service_account("default").await;
    api.pod("default", "p1", None).await;
    let binding = |pod: &str, node: &str| json!({ "apiVersion": "v1", "kind": "Binding", "metadata": { "name": pod }, "target": { "kind": "Node", "name": node } });
    let (code, status) =
        api.post("/api/v1/namespaces/default/pods/p1/binding", binding("p1", "node-1")).await;
    assert_eq!((code, &status["status"]), (201, &json!("Success")), "{status}");
    let (_, pod) = api.get("/api/v1/namespaces/default/pods/p1").await;
    assert_eq!(pod["spec"]["nodeName"], "node-1");
    let conditions = pod["status"]["conditions"].as_array().unwrap();
    assert!(
        conditions.iter().any(|c| c["type"] == "PodScheduled" && c["status"] == "True"),
        "{pod}"
    );
    let (code, status) =
        api.post("/api/v1/namespaces/default/pods/p1/binding", binding("p1", "node-2")).await;
    assert_eq!(code, 409, "{status}");
    assert_eq!(
        status["message"],
        "Operation cannot be fulfilled on pods/binding \"p1\": pod p1 is already assigned to node \"node-1\""
    );
    // The namespaced bindings resource does the same.
    api.pod("default", "p2", None).await;
    let (code, status) =
        api.post("/api/v1/namespaces/default/bindings", binding("p2", "node-1")).await;
    assert_eq!(code, 201, "{status}");
    assert_eq!(api.get("/api/v1/namespaces/default/pods/p2").await.1["spec"]["nodeName"], "node-1");

    // Eviction: a graceful delete of the bound pod.
    let eviction = |pod: &str, options: Value| json!({ "apiVersion": "policy/v1", "kind": "Eviction", "metadata": { "name": pod, "namespace": "default" }, "deleteOptions": options });
    let (code, status) =
        api.post("/api/v1/namespaces/default/pods/p1/eviction", eviction("p1", json!({}))).await;
    assert_eq!(code, 201, "{status}");
    let (_, pod) = api.get("/api/v1/namespaces/default/pods/p1").await;
    assert_eq!(pod["metadata"]["deletionGracePeriodSeconds"], 30, "{pod}");
    let (code, _) = api
        .post(
            "/api/v1/namespaces/default/pods/p2/eviction",
            eviction("p2", json!({ "gracePeriodSeconds": 0 })),
        )
        .await;
    assert_eq!(code, 201);
    assert_eq!(api.get("/api/v1/namespaces/default/pods/p2").await.0, 404);
    let (code, _) = api
        .post("/api/v1/namespaces/default/pods/gone/eviction", eviction("gone", json!({})))
        .await;
    assert_eq!(code, 404);
    // Streams wait for the kubelet, with a Status that says so.
    let (code, status) = api.get("/api/v1/namespaces/default/pods/p1/log").await;
    assert_eq!(code, 503, "{status}");
    assert_eq!(status["kind"], "Status");
    server.shutdown().await;
}

/// `pods/eviction` against a PodDisruptionBudget, as `eviction.go` decides: a budget the
/// controller has not observed and a spent budget refuse with 429, a dry run takes nothing, an
/// eviction takes one disruption and notes the pod, an unready pod goes without taking one,
/// and two budgets over one pod are a 500. (The status is written here by hand; the disruption
/// controller's own is tested with it in crates/cli/tests/disruption.rs.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eviction_honors_the_disruption_budget() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let api = Api::new(dir.path(), &server);
    api.service_account("default").await;
    let pods = "/api/v1/namespaces/default/pods";
    let ready = |ready: &str| json!({"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": ready}]}});
    for name in ["p1", "p2", "p3"] {
        api.pod("default", name, Some("node-1")).await;
        let (code, body) = api
            .merge(&format!("{pods}/{name}"), json!({"metadata": {"labels": {"app": "web"}}}))
            .await;
        assert_eq!(code, 200, "{body}");
        let (code, body) = api.merge(&format!("{pods}/{name}/status"), ready("True")).await;
        assert_eq!(code, 200, "{body}");
    }
    let budgets = "/apis/policy/v1/namespaces/default/poddisruptionbudgets";
    let budget = json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "web"},
        "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "web"}}}});
    let (code, created) = api.post(budgets, budget).await;
    assert_eq!(code, 201, "{created}");
    assert_eq!(
        created["status"],
        json!({"disruptionsAllowed": 0, "currentHealthy": 0, "desiredHealthy": 0, "expectedPods": 0})
    );
    let eviction = |pod: &str| json!({"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": pod}});
    let evict = |pod: &'static str, query: &'static str| {
        let api = &api;
        async move { api.post(&format!("{pods}/{pod}/eviction{query}"), eviction(pod)).await }
    };

    let (code, status) = evict("p1", "").await;
    assert_eq!((code, &status["reason"]), (429, &json!("TooManyRequests")), "{status}");
    assert_eq!(
        status["message"],
        "Cannot evict pod as it would violate the pod's disruption budget."
    );
    assert_eq!(
        status["details"],
        json!({"causes": [{"reason": "DisruptionBudget", "message": "The disruption budget web is still being processed by the server."}], "retryAfterSeconds": 10})
    );

    let observed = json!({"status": {"observedGeneration": 1, "disruptionsAllowed": 1, "currentHealthy": 3, "desiredHealthy": 2, "expectedPods": 3}});
    let (code, body) = api.merge(&format!("{budgets}/web/status"), observed).await;
    assert_eq!(code, 200, "{body}");
    let (code, status) = evict("p1", "?dryRun=All").await;
    assert_eq!(code, 201, "{status}");
    let (_, web) = api.get(&format!("{budgets}/web")).await;
    assert_eq!(web["status"]["disruptionsAllowed"], 1, "{web}");
    let (_, p1) = api.get(&format!("{pods}/p1")).await;
    assert!(p1["metadata"]["deletionTimestamp"].is_null(), "{p1}");

    let (_, before) = api.get(&format!("{pods}/p1")).await;
    let (code, status) = evict("p1", "").await;
    assert_eq!(code, 201, "{status}");
    let (_, web) = api.get(&format!("{budgets}/web")).await;
    assert_eq!(web["status"]["disruptionsAllowed"], 0, "{web}");
    assert!(web["status"]["disruptedPods"]["p1"].is_string(), "{web}");
    // The budget's status is written through kube-apiserver's loopback client, the pod's
    // condition through its registry (no field manager), as upstream's eviction does.
    let writers: Vec<(&Value, &Value, &Value)> = web["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| (&entry["manager"], &entry["operation"], &entry["subresource"]))
        .collect();
    let loopback = (&json!("kube-apiserver"), &json!("Update"), &json!("status"));
    assert!(writers.contains(&loopback), "{web}");
    let condition = &web["status"]["conditions"][0];
    assert_eq!(
        (&condition["type"], &condition["status"], &condition["reason"]),
        (&json!("DisruptionAllowed"), &json!("False"), &json!("InsufficientPods")),
        "{web}"
    );
    let (_, p1) = api.get(&format!("{pods}/p1")).await;
    assert!(p1["metadata"]["deletionTimestamp"].is_string(), "{p1}");
    assert_eq!(p1["metadata"]["managedFields"], before["metadata"]["managedFields"]);
    let target = p1["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "DisruptionTarget")
        .cloned();
    assert_eq!(
        target.map(|c| (c["status"].clone(), c["reason"].clone(), c["message"].clone())),
        Some((json!("True"), json!("EvictionByEvictionAPI"), json!("Eviction API: evicting"))),
        "{p1}"
    );

    let (code, status) = evict("p2", "").await;
    assert_eq!(code, 429, "{status}");
    assert_eq!(
        status["details"]["causes"][0]["message"],
        "The disruption budget web needs 2 healthy pods and has 3 currently"
    );
    assert!(status["details"].get("retryAfterSeconds").is_none(), "{status}");
    // An unready pod whose budget is met goes without taking a disruption.
    let (code, body) = api.merge(&format!("{pods}/p2/status"), ready("False")).await;
    assert_eq!(code, 200, "{body}");
    let (code, status) = evict("p2", "").await;
    assert_eq!(code, 201, "{status}");
    let (_, web) = api.get(&format!("{budgets}/web")).await;
    assert_eq!(web["status"]["disruptionsAllowed"], 0, "{web}");
    assert!(web["status"]["disruptedPods"].get("p2").is_none(), "{web}");

    let other = json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "all"},
        "spec": {"maxUnavailable": 0, "selector": {}}});
    assert_eq!(api.post(budgets, other).await.0, 201);
    let (code, status) = evict("p3", "").await;
    assert_eq!(code, 500, "{status}");
    assert_eq!(
        status["message"],
        "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support."
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_writes_keep_metadata_changes_but_what_the_strategy_resets() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let api = Api::new(dir.path(), &server);
    api.service_account("default").await;
    api.pod("default", "p", None).await;
    // As kube-apiserver's pod status strategy: the label and annotation stay, the spec and
    // the owner references are the stored ones.
    let patch = json!({"metadata": {"labels": {"seen": "yes"}, "annotations": {"note": "n"},
            "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": "n", "uid": "u"}]},
        "spec": {"activeDeadlineSeconds": 5},
        "status": {"phase": "Running"}});
    let (code, pod) = api.merge("/api/v1/namespaces/default/pods/p/status", patch).await;
    assert_eq!(code, 200, "{pod}");
    assert_eq!(pod["metadata"]["labels"], json!({"seen": "yes"}));
    assert_eq!(pod["metadata"]["annotations"], json!({"note": "n"}));
    assert!(pod["metadata"].get("ownerReferences").is_none(), "{pod}");
    assert!(pod["spec"].get("activeDeadlineSeconds").is_none(), "{pod}");
    assert_eq!(pod["status"]["phase"], "Running");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_get_their_priority_class_value() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let api = Api::new(dir.path(), &server);
    api.service_account("default").await;
    let classes = "/apis/scheduling.k8s.io/v1/priorityclasses";
    let pods = "/api/v1/namespaces/default/pods";
    // The system classes are there from the start, as kube-apiserver's bootstrap hook makes them.
    let (code, critical) = api.get(&format!("{classes}/system-node-critical")).await;
    assert_eq!(code, 200, "{critical}");
    assert_eq!(
        (&critical["value"], &critical["preemptionPolicy"], &critical["metadata"]["generation"]),
        (&json!(2_000_001_000), &json!("PreemptLowerPriority"), &json!(1))
    );

    // Without a default class: 0 and PreemptLowerPriority.
    let spec = |pod: &Value| {
        let spec = &pod["spec"];
        (
            spec["priorityClassName"].clone(),
            spec["priority"].clone(),
            spec["preemptionPolicy"].clone(),
        )
    };
    let plain = api.pod("default", "plain", None).await;
    assert_eq!(spec(&plain), (Value::Null, json!(0), json!("PreemptLowerPriority")));

    let class = |name: &str, value: i64, extra: Value| {
        let mut class = json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
            "metadata": {"name": name}, "value": value});
        class.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        class
    };
    let (code, body) =
        api.post(classes, class("batch", 1000, json!({"preemptionPolicy": "Never"}))).await;
    assert_eq!(code, 201, "{body}");
    let pod = |name: &str, spec: Value| {
        let mut pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}});
        pod["spec"].as_object_mut().unwrap().extend(spec.as_object().unwrap().clone());
        pod
    };
    let (code, batch) = api.post(pods, pod("batch", json!({"priorityClassName": "batch"}))).await;
    assert_eq!(code, 201, "{batch}");
    assert_eq!(spec(&batch), (json!("batch"), json!(1000), json!("Never")));

    let (code, status) = api.post(pods, pod("lost", json!({"priorityClassName": "nope"}))).await;
    assert_eq!((code, &status["reason"]), (403, &json!("Forbidden")), "{status}");
    assert_eq!(
        status["message"],
        r#"pods "lost" is forbidden: no PriorityClass with name nope was found"#
    );
    let (code, status) =
        api.post(pods, pod("stated", json!({"priorityClassName": "batch", "priority": 5}))).await;
    assert_eq!(code, 403, "{status}");
    assert_eq!(
        status["message"],
        r#"pods "stated" is forbidden: the integer value of priority (5) must not be provided in pod spec; priority admission controller computed 1000 from the given PriorityClass name"#
    );

    // One default class; pods that name none get it.
    let (code, body) = api.post(classes, class("usual", 7, json!({"globalDefault": true}))).await;
    assert_eq!(code, 201, "{body}");
    let (code, status) = api.post(classes, class("other", 9, json!({"globalDefault": true}))).await;
    assert_eq!(code, 403, "{status}");
    assert_eq!(
        status["message"],
        r#"priorityclasses.scheduling.k8s.io "other" is forbidden: PriorityClass usual is already marked as default. Only one default can exist"#
    );
    let (code, status) =
        api.merge(&format!("{classes}/batch"), json!({"globalDefault": true})).await;
    assert_eq!(code, 403, "{status}");
    let usual = api.pod("default", "usual", None).await;
    assert_eq!(spec(&usual), (json!("usual"), json!(7), json!("PreemptLowerPriority")));

    // An update that leaves the priority out keeps it (the spec could not change it anyway).
    let mut replaced = batch.clone();
    let spec_map = replaced["spec"].as_object_mut().unwrap();
    spec_map.remove("priority");
    spec_map.remove("preemptionPolicy");
    replaced["metadata"]["labels"] = json!({"tier": "batch"});
    let body = replaced.to_string();
    let (code, updated) =
        api.send("PUT", &format!("{pods}/batch"), "application/json", body.as_bytes()).await;
    assert_eq!(code, 200, "{updated}");
    assert_eq!(spec(&updated), (json!("batch"), json!(1000), json!("Never")));
    let (code, status) = api.merge(&format!("{classes}/batch"), json!({"value": 1001})).await;
    assert_eq!(code, 422, "{status}");
    assert_eq!(
        status["message"],
        r#"PriorityClass.scheduling.k8s.io "batch" is invalid: value: Forbidden: may not be changed in an update."#
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admission_defaults_pods_claims_and_volumes() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let api = Api::new(dir.path(), &server);
    let pod = json!({ "metadata": { "name": "p" }, "spec": { "containers": [{ "name": "c", "image": "busybox" }] } });
    let (code, status) = api.post("/api/v1/namespaces/default/pods", pod.clone()).await;
    assert_eq!(code, 403, "{status}");
    assert_eq!(
        status["message"],
        "pods \"p\" is forbidden: error looking up service account default/default: serviceaccount \"default\" not found"
    );
    let account =
        json!({ "metadata": { "name": "default" }, "imagePullSecrets": [{ "name": "registry" }] });
    assert_eq!(api.post("/api/v1/namespaces/default/serviceaccounts", account).await.0, 201);
    let (code, created) = api.post("/api/v1/namespaces/default/pods", pod).await;
    assert_eq!(code, 201, "{created}");
    assert_eq!(created["spec"]["serviceAccountName"], "default");
    assert_eq!(created["spec"]["serviceAccount"], "default");
    assert_eq!(created["spec"]["imagePullSecrets"], json!([{ "name": "registry" }]));
    let tolerations = created["spec"]["tolerations"].as_array().unwrap();
    assert_eq!(tolerations.len(), 2, "{created}");
    assert!(
        tolerations.iter().all(|t| t["tolerationSeconds"] == 300 && t["effect"] == "NoExecute")
    );

    let class = json!({
        "metadata": { "name": "local-path", "annotations": { "storageclass.kubernetes.io/is-default-class": "true" } },
        "provisioner": "berth.dev/local-path",
    });
    assert_eq!(api.post("/apis/storage.k8s.io/v1/storageclasses", class).await.0, 201);
    let claim = json!({ "metadata": { "name": "data" }, "spec": {
        "accessModes": ["ReadWriteOnce"], "resources": { "requests": { "storage": "1Gi" } } } });
    let (code, claim) = api.post("/api/v1/namespaces/default/persistentvolumeclaims", claim).await;
    assert_eq!(code, 201, "{claim}");
    assert_eq!(claim["spec"]["storageClassName"], "local-path");
    assert_eq!(claim["metadata"]["finalizers"], json!(["kubernetes.io/pvc-protection"]));
    let volume = json!({ "metadata": { "name": "pv1" }, "spec": {
        "capacity": { "storage": "1Gi" }, "accessModes": ["ReadWriteOnce"], "hostPath": { "path": "/tmp/pv1" } } });
    let (code, volume) = api.post("/api/v1/persistentvolumes", volume).await;
    assert_eq!(code, 201, "{volume}");
    assert_eq!(volume["metadata"]["finalizers"], json!(["kubernetes.io/pv-protection"]));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_created_pods_status_is_pending_with_its_qos_class() {
    let Some(kubectl) = Kubectl::new() else { return };
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let api = Api::new(dir.path(), &server);
    let account = json!({ "metadata": { "name": "default" } });
    assert_eq!(api.post("/api/v1/namespaces/default/serviceaccounts", account).await.0, 201);
    let pod = |name: &str, resources: Value, extra: Value| {
        let mut pod = json!({ "metadata": { "name": name }, "spec": {
            "containers": [{ "name": "c", "image": "busybox", "resources": resources }] } });
        if let (Some(pod), Some(extra)) = (pod.as_object_mut(), extra.as_object()) {
            for (key, value) in extra {
                pod.insert(key.clone(), value.clone());
            }
        }
        pod
    };
    // Limits alone: the requests default to them, so the pod is Guaranteed; the status the
    // client sent is replaced, as the pod strategy's PrepareForCreate replaces it.
    let limited = pod(
        "limited",
        json!({ "limits": { "cpu": "1", "memory": "1Gi" } }),
        json!({ "status": { "phase": "Running", "podIP": "10.0.0.9" } }),
    );
    let (code, created) = api.post("/api/v1/namespaces/default/pods", limited).await;
    assert_eq!(code, 201, "{created}");
    assert_eq!(created["status"], json!({ "phase": "Pending", "qosClass": "Guaranteed" }));
    let burstable = pod("burstable", json!({ "requests": { "memory": "64Mi" } }), json!({}));
    let (_, created) = api.post("/api/v1/namespaces/default/pods", burstable).await;
    assert_eq!(created["status"]["qosClass"], "Burstable", "{created}");
    let gated = pod(
        "gated",
        json!({}),
        json!({ "spec": { "schedulingGates": [{ "name": "example.com/wait" }],
                          "containers": [{ "name": "c", "image": "busybox" }] } }),
    );
    let (code, created) = api.post("/api/v1/namespaces/default/pods", gated).await;
    assert_eq!(code, 201, "{created}");
    assert_eq!(
        created["status"],
        json!({ "phase": "Pending", "qosClass": "BestEffort", "conditions": [{
            "type": "PodScheduled", "status": "False", "lastProbeTime": null,
            "lastTransitionTime": null, "reason": "SchedulingGated",
            "message": "Scheduling is blocked due to non-empty scheduling gates" }] })
    );
    // Stored so, and no manager owns the status.
    let (_, stored) = api.send("GET", "/api/v1/namespaces/default/pods/limited", "", b"").await;
    assert_eq!(stored["status"]["qosClass"], "Guaranteed");
    let managed = stored["metadata"]["managedFields"].to_string();
    assert!(!managed.contains("f:status"), "{managed}");
    let printed = kubectl.ok(server.kubeconfig_path(), &["get", "pod", "gated"]).await;
    assert!(printed.contains("SchedulingGated"), "{printed}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_get_distinct_cluster_ips_and_node_ports() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let api = Api::new(dir.path(), &server);
    // The kubernetes Service points at this server.
    let (code, kubernetes) = api.get("/api/v1/namespaces/default/services/kubernetes").await;
    assert_eq!(code, 200, "{kubernetes}");
    assert_eq!(kubernetes["spec"]["clusterIP"], "10.96.0.1");
    assert_eq!(kubernetes["spec"]["ports"][0]["port"], 443);
    assert_eq!(kubernetes["spec"]["ports"][0]["targetPort"], server.local_addr().port());
    let (code, endpoints) = api.get("/api/v1/namespaces/default/endpoints/kubernetes").await;
    assert_eq!(code, 200, "{endpoints}");
    assert_eq!(endpoints["subsets"][0]["addresses"][0]["ip"], "127.0.0.1");
    assert_eq!(endpoints["subsets"][0]["ports"][0]["port"], server.local_addr().port());
    let (code, slice) =
        api.get("/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/kubernetes").await;
    assert_eq!(code, 200, "{slice}");
    assert_eq!(slice["endpoints"][0]["addresses"][0], "127.0.0.1");

    let service = |name: &str| json!({ "metadata": { "name": name }, "spec": { "selector": { "app": name }, "ports": [{ "port": 80 }] } });
    let creates = (0..16).map(|n| {
        let api = &api;
        let service = service(&format!("s{n}"));
        async move { api.post("/api/v1/namespaces/default/services", service).await }
    });
    let mut ips = Vec::new();
    for (code, created) in futures::future::join_all(creates).await {
        assert_eq!(code, 201, "{created}");
        assert_eq!(created["spec"]["clusterIPs"], json!([created["spec"]["clusterIP"]]));
        assert_eq!(created["spec"]["ipFamilies"], json!(["IPv4"]));
        assert_eq!(created["spec"]["ipFamilyPolicy"], "SingleStack");
        let ip: std::net::Ipv4Addr =
            created["spec"]["clusterIP"].as_str().unwrap().parse().unwrap();
        assert_eq!(ip.octets()[0], 10);
        assert!((96..112).contains(&ip.octets()[1]), "{ip}");
        ips.push(ip);
    }
    ips.sort();
    ips.dedup();
    assert_eq!(ips.len(), 16);

    // A requested IP is honoured if free, refused if taken, and free again after a delete.
    let mut fixed = service("fixed");
    fixed["spec"]["clusterIP"] = json!("10.96.0.10");
    let (code, created) = api.post("/api/v1/namespaces/default/services", fixed.clone()).await;
    assert_eq!((code, &created["spec"]["clusterIP"]), (201, &json!("10.96.0.10")), "{created}");
    fixed["metadata"]["name"] = json!("again");
    let (code, status) = api.post("/api/v1/namespaces/default/services", fixed.clone()).await;
    assert_eq!(code, 422, "{status}");
    assert_eq!(
        status["message"],
        "Service \"again\" is invalid: spec.clusterIPs: Invalid value: []string{\"10.96.0.10\"}: failed to allocate IP 10.96.0.10: provided IP is already allocated"
    );
    let (code, deleted) = api.delete("/api/v1/namespaces/default/services/fixed", json!({})).await;
    assert_eq!((code, &deleted["kind"]), (200, &json!("Service")), "{deleted}");
    assert_eq!(api.post("/api/v1/namespaces/default/services", fixed).await.0, 201);

    // Headless Services get none; NodePort Services get a node port.
    let mut headless = service("headless");
    headless["spec"]["clusterIP"] = json!("None");
    let (code, created) = api.post("/api/v1/namespaces/default/services", headless).await;
    assert_eq!((code, &created["spec"]["clusterIPs"]), (201, &json!(["None"])), "{created}");
    let mut node_port = service("exposed");
    node_port["spec"]["type"] = json!("NodePort");
    let (code, created) = api.post("/api/v1/namespaces/default/services", node_port).await;
    assert_eq!(code, 201, "{created}");
    let port = created["spec"]["ports"][0]["nodePort"].as_i64().unwrap();
    assert!((30000..=32767).contains(&port), "{created}");
    // An update that leaves them out keeps both.
    let (code, patched) = api
        .send(
            "PATCH",
            "/api/v1/namespaces/default/services/exposed",
            "application/json-patch+json",
            br#"[{"op":"remove","path":"/spec/ports/0/nodePort"},{"op":"remove","path":"/spec/clusterIP"},{"op":"remove","path":"/spec/clusterIPs"}]"#,
        )
        .await;
    assert_eq!(code, 200, "{patched}");
    assert_eq!(patched["spec"]["ports"][0]["nodePort"], port);
    assert_eq!(patched["spec"]["clusterIP"], created["spec"]["clusterIP"]);
    // Back to ClusterIP: the node port is given up, and another Service may ask for it.
    let (code, patched) = api
        .merge(
            "/api/v1/namespaces/default/services/exposed",
            json!({ "spec": { "type": "ClusterIP" } }),
        )
        .await;
    assert_eq!(code, 200, "{patched}");
    assert!(patched["spec"]["ports"][0].get("nodePort").is_none(), "{patched}");
    let mut taker = service("taker");
    taker["spec"]["type"] = json!("NodePort");
    taker["spec"]["ports"][0]["nodePort"] = json!(port);
    let (code, created) = api.post("/api/v1/namespaces/default/services", taker).await;
    assert_eq!((code, &created["spec"]["ports"][0]["nodePort"]), (201, &json!(port)), "{created}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn yaml_bodies_and_watch_lists() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let api = Api::new(dir.path(), &server);
    let yaml = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-yaml\n  labels: {app: web}\ndata:\n  k: v\n";
    let (code, created) =
        api.send("POST", "/api/v1/namespaces/default/configmaps", "application/yaml", yaml).await;
    assert_eq!(code, 201, "{created}");
    assert_eq!(created["data"]["k"], "v");
    assert_eq!(created["metadata"]["labels"]["app"], "web");
    let (code, status) = api
        .send(
            "POST",
            "/api/v1/namespaces/default/configmaps",
            "application/yaml",
            b"metadata: [unclosed\n  name: x",
        )
        .await;
    assert_eq!(code, 400, "{status}");
    assert_eq!(status["reason"], "BadRequest");
    assert!(
        status["message"].as_str().unwrap().starts_with("error converting YAML to JSON"),
        "{status}"
    );

    // A watch-list: the current objects, then a bookmark that marks the end of them.
    let path = "/api/v1/namespaces/default/configmaps?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=1";
    let (code, events) = api.watch(path).await;
    assert_eq!(code, 200);
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["ADDED", "BOOKMARK"], "{events:?}");
    assert_eq!(events[0]["object"]["metadata"]["name"], "from-yaml");
    let bookmark = &events[1]["object"];
    assert_eq!(bookmark["metadata"]["annotations"]["k8s.io/initial-events-end"], "true");
    assert_eq!(bookmark["kind"], "ConfigMap");

    // resourceVersionMatch as ValidateListOptions has it.
    let (code, status) = api
        .get("/api/v1/namespaces/default/configmaps?watch=1&sendInitialEvents=true&allowWatchBookmarks=true")
        .await;
    assert_eq!(code, 422, "{status}");
    assert_eq!(
        status["message"],
        "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"
    );
    let (code, status) =
        api.get("/api/v1/configmaps?resourceVersion=0&resourceVersionMatch=Exact").await;
    assert_eq!(code, 422, "{status}");
    let (code, status) = api.get("/api/v1/configmaps?resourceVersionMatch=NotOlderThan").await;
    assert_eq!(code, 422, "{status}");
    let rv = created["metadata"]["resourceVersion"].as_str().unwrap();
    let (code, list) = api
        .get(&format!("/api/v1/configmaps?resourceVersion={rv}&resourceVersionMatch=NotOlderThan"))
        .await;
    assert_eq!(code, 200, "{list}");
    let (code, status) = api
        .get("/api/v1/configmaps?resourceVersion=999999&resourceVersionMatch=NotOlderThan")
        .await;
    assert_eq!(code, 504, "{status}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn core_and_events_k8s_io_events_are_one_storage() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let api = Api::new(dir.path(), &server);
    let core = json!({
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": { "name": "web-0.1" },
        "involvedObject": { "kind": "Pod", "namespace": "default", "name": "web-0" },
        "reason": "Scheduled",
        "message": "Successfully assigned default/web-0 to node-1",
        "source": { "component": "default-scheduler" },
        "count": 1,
        "type": "Normal",
    });
    assert_eq!(api.post("/api/v1/namespaces/default/events", core).await.0, 201);
    let (code, list) = api.get("/apis/events.k8s.io/v1/namespaces/default/events").await;
    assert_eq!(code, 200, "{list}");
    let event = &list["items"][0];
    assert_eq!(event["apiVersion"], "events.k8s.io/v1");
    assert_eq!(event["regarding"]["name"], "web-0");
    assert_eq!(event["note"], "Successfully assigned default/web-0 to node-1");
    assert_eq!(event["deprecatedSource"]["component"], "default-scheduler");
    assert_eq!(event["deprecatedCount"], 1);

    let v1 = json!({
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": { "name": "web-0.2" },
        "eventTime": "2024-01-01T00:00:00.000000Z",
        "regarding": { "kind": "Pod", "namespace": "default", "name": "web-0" },
        "reason": "Pulled",
        "note": "image pulled",
        "type": "Normal",
        "action": "Pull",
        "reportingController": "berth.dev/kubelet",
        "reportingInstance": "node-1",
    });
    let (code, created) = api.post("/apis/events.k8s.io/v1/namespaces/default/events", v1).await;
    assert_eq!(code, 201, "{created}");
    assert_eq!(created["note"], "image pulled");
    let (code, event) = api.get("/api/v1/namespaces/default/events/web-0.2").await;
    assert_eq!(code, 200, "{event}");
    assert_eq!(event["apiVersion"], "v1");
    assert_eq!(event["involvedObject"]["name"], "web-0");
    assert_eq!(event["message"], "image pulled");
    assert_eq!(event["reportingComponent"], "berth.dev/kubelet");
    let (_, list) = api.get("/api/v1/namespaces/default/events").await;
    assert_eq!(names(&list), ["web-0.1", "web-0.2"]);

    // events.k8s.io/v1 field selectors: `regarding.*`, `reportingController`, and `source`
    // (the source component, else the reporting controller); other fields are refused.
    let v1_events = "/apis/events.k8s.io/v1/namespaces/default/events";
    for (selector, expected) in [
        ("regarding.kind=Pod,regarding.name=web-0", vec!["web-0.1", "web-0.2"]),
        ("regarding.namespace=default,reason=Pulled", vec!["web-0.2"]),
        ("reportingController=berth.dev/kubelet", vec!["web-0.2"]),
        ("source=default-scheduler", vec!["web-0.1"]),
        ("source=berth.dev/kubelet", vec!["web-0.2"]),
        ("regarding.name!=web-0", vec![]),
    ] {
        let (code, list) = api.get(&format!("{v1_events}?fieldSelector={selector}")).await;
        assert_eq!(code, 200, "{selector}: {list}");
        assert_eq!(names(&list), expected, "{selector}");
    }
    let core_events = "/api/v1/namespaces/default/events";
    let (code, list) =
        api.get(&format!("{core_events}?fieldSelector=source=berth.dev/kubelet")).await;
    assert_eq!(code, 200, "{list}");
    assert_eq!(names(&list), ["web-0.2"]);
    let (code, status) =
        api.get(&format!("{v1_events}?fieldSelector=deprecatedSource.component=x")).await;
    assert_eq!(code, 400, "{status}");
    assert_eq!(status["message"], "field label not supported: deprecatedSource.component");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_drain_evicts_through_the_eviction_subresource() {
    let Some(kubectl) = Kubectl::new() else { return };
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let api = Api::new(dir.path(), &server);
    let config = server.kubeconfig_path().to_owned();
    let node = json!({ "apiVersion": "v1", "kind": "Node", "metadata": { "name": "node-1" } });
    assert_eq!(api.post("/api/v1/nodes", node).await.0, 201);
    api.service_account("default").await;
    api.pod("default", "bare", Some("node-1")).await;
    let stdout = kubectl
        .ok(&config, &["drain", "node-1", "--force", "--grace-period=0", "--timeout=30s"])
        .await;
    assert!(stdout.contains("evicting pod default/bare"), "{stdout}");
    assert!(stdout.contains("node/node-1 drained"), "{stdout}");
    assert_eq!(api.get("/api/v1/namespaces/default/pods/bare").await.0, 404);
    let (_, node) = api.get("/api/v1/nodes/node-1").await;
    assert_eq!(node["spec"]["unschedulable"], true);
    server.shutdown().await;
}

/// An update starts from the object the server wrote last (as kube-apiserver's
/// `GuaranteedUpdate` starts from its cache) but answers for the stored one: when another
/// writer changed the object behind the API, a patch that is a no-op against the written
/// object is a change against the stored one and is written, and a PUT carrying the written
/// object's resourceVersion is a conflict.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updates_answer_for_the_stored_object_when_it_changed_behind_the_api() {
    let mut servers = common::OnStore::new();
    let server = servers.start().await;
    let (dir, store) = (&servers.dir, &servers.store);
    let api = Api::new(dir.path(), &server);
    let path = "/api/v1/namespaces/default/configmaps/cm";
    let key = "/registry/core/configmaps/default/cm";
    let rv = |object: &Value| object["metadata"]["resourceVersion"].as_str().unwrap().to_owned();
    let behind = |value: &'static str| {
        let store = store.clone();
        async move {
            let kv = store.get(key).await.unwrap().unwrap();
            let mut object: Value = serde_json::from_slice(&kv.value).unwrap();
            object["data"]["a"] = json!(value);
            let bytes = serde_json::to_vec(&object).unwrap();
            store.update(key, bytes.into(), kv.mod_revision).await.unwrap().mod_revision.0
        }
    };

    let configmap = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}, "data": {"a": "1"}});
    let (code, created) = api.post("/api/v1/namespaces/default/configmaps", configmap).await;
    assert_eq!(code, 201, "{created}");
    let changed_behind = behind("2").await;
    let (code, patched) = api.merge(path, json!({"data": {"a": "1"}})).await;
    assert_eq!(code, 200, "{patched}");
    assert_eq!(patched["data"]["a"], "1");
    let patched_at: i64 = rv(&patched).parse().unwrap();
    assert!(patched_at > changed_behind, "{patched_at} after {changed_behind}");
    let stored = store.get(key).await.unwrap().unwrap();
    assert_eq!(stored.mod_revision.0, patched_at);
    assert_eq!(serde_json::from_slice::<Value>(&stored.value).unwrap()["data"]["a"], "1");

    // A no-op against what is stored answers with it as it is.
    let (code, same) = api.merge(path, json!({"data": {"a": "1"}})).await;
    assert_eq!((code, rv(&same)), (200, rv(&patched)), "{same}");

    let changed_behind = behind("3").await;
    let mut put = patched.clone();
    put["data"]["a"] = json!("4");
    let body = put.to_string();
    let (code, status) = api.send("PUT", path, "application/json", body.as_bytes()).await;
    assert_eq!(code, 409, "{status}");
    assert_eq!(status["reason"], "Conflict");
    let (_, current) = api.get(path).await;
    assert_eq!(current["data"]["a"], "3");
    assert_eq!(rv(&current), changed_behind.to_string());
    put["metadata"]["resourceVersion"] = json!(rv(&current));
    let (code, updated) =
        api.send("PUT", path, "application/json", put.to_string().as_bytes()).await;
    assert_eq!((code, &updated["data"]["a"]), (200, &json!("4")), "{updated}");
    assert_ne!(rv(&created), rv(&updated));
    server.shutdown().await;
}
