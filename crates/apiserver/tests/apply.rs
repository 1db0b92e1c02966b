//! Server-side apply and managedFields: raw `application/apply-patch+yaml` requests (create,
//! re-apply, conflicts, force, pruning, PatchOptions checks), and real kubectl applying the
//! seed tutorial's Service and StatefulSet with `--server-side`.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use berth_apiserver::ApiServerConfig;
use berth_store::{MemoryStore, Store};

use common::{Kubectl, start};
use serde_json::{Value, json};

/// One authenticated request; the body parsed as JSON.
async fn request(
    dir: &Path,
    addr: SocketAddr,
    line: &str,
    content_type: &str,
    user_agent: &str,
    body: &[u8],
) -> (u16, Value) {
    let bearer = format!("Bearer {}", common::token(dir));
    let headers = [
        ("Authorization", bearer.as_str()),
        ("Content-Type", content_type),
        ("User-Agent", user_agent),
    ];
    let (code, answer) = common::raw_with_body(dir, addr, line, &headers, body).await;
    (code, serde_json::from_str(&answer).unwrap_or(Value::Null))
}

fn managers(object: &Value) -> Vec<(String, String)> {
    let entries = object.pointer("/metadata/managedFields").and_then(Value::as_array);
    entries
        .map(|list| {
            list.iter()
                .map(|e| {
                    let name = e["manager"].as_str().unwrap_or_default().to_owned();
                    (name, e["operation"].as_str().unwrap_or_default().to_owned())
                })
                .collect()
        })
        .unwrap_or_default()
}

fn fields_of(object: &Value, manager: &str) -> Value {
    let entries = object.pointer("/metadata/managedFields").and_then(Value::as_array);
    let entry = entries.and_then(|l| l.iter().find(|e| e["manager"] == manager));
    entry.map(|e| e["fieldsV1"].clone()).unwrap_or(Value::Null)
}

const APPLY: &str = "application/apply-patch+yaml";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_creates_merges_prunes_and_reports_conflicts() {
    let data = tempfile::tempdir().unwrap();
    let server = start(data.path()).await;
    let (dir, addr) = (data.path(), server.local_addr());
    let cm = "/api/v1/namespaces/default/configmaps/demo";
    let patch = |query: &str| format!("PATCH {cm}{query}");

    // PatchOptions: apply needs a field manager; force is for apply only.
    let yaml = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: demo\ndata:\n  a: \"1\"\n  b: \"2\"\n";
    let (code, status) = request(dir, addr, &patch(""), APPLY, "curl/8", yaml).await;
    assert_eq!(code, 422, "{status}");
    assert_eq!(
        status["message"],
        "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch"
    );
    let (code, status) = request(dir, addr, &patch("?fieldManager=ci"), APPLY, "x", b"a: [").await;
    assert_eq!(code, 400, "{status}");
    assert!(status["message"].as_str().unwrap().starts_with("error decoding YAML"), "{status}");

    // Apply to a missing object creates it (YAML body) and records an Apply entry.
    let (code, created) = request(dir, addr, &patch("?fieldManager=ci"), APPLY, "x", yaml).await;
    assert_eq!(code, 201, "{created}");
    assert_eq!(created["data"], json!({"a": "1", "b": "2"}));
    assert_eq!(managers(&created), [("ci".to_owned(), "Apply".to_owned())]);
    assert_eq!(fields_of(&created, "ci"), json!({"f:data": {"f:a": {}, "f:b": {}}}));
    let entry = &created["metadata"]["managedFields"][0];
    assert_eq!(entry["apiVersion"], "v1");
    assert_eq!(entry["fieldsType"], "FieldsV1");
    assert!(entry["time"].as_str().unwrap().ends_with('Z'));

    // Re-applying the same configuration writes nothing.
    let (code, again) = request(dir, addr, &patch("?fieldManager=ci"), APPLY, "x", yaml).await;
    assert_eq!(code, 200, "{again}");
    assert_eq!(again["metadata"]["resourceVersion"], created["metadata"]["resourceVersion"]);

    // A merge patch by another manager (from its User-Agent) takes the field it changed.
    let edit = br#"{"data":{"a":"edited"}}"#;
    let ua = "kubectl-edit/v1.33.0 (linux/amd64) kubernetes/abc";
    let (code, edited) =
        request(dir, addr, &patch(""), "application/merge-patch+json", ua, edit).await;
    assert_eq!(code, 200, "{edited}");
    assert_eq!(fields_of(&edited, "kubectl-edit"), json!({"f:data": {"f:a": {}}}));
    assert_eq!(fields_of(&edited, "ci"), json!({"f:data": {"f:b": {}}}));
    let (code, status) =
        request(dir, addr, &patch("?force=true"), "application/merge-patch+json", ua, edit).await;
    assert_eq!(code, 422, "{status}");

    // Applying the old value conflicts, with Kubernetes' Status.
    let (code, status) = request(dir, addr, &patch("?fieldManager=ci"), APPLY, "x", yaml).await;
    assert_eq!(code, 409, "{status}");
    assert_eq!(status["reason"], "Conflict");
    assert_eq!(
        status["message"],
        "Apply failed with 1 conflict: conflict with \"kubectl-edit\" using v1: .data.a"
    );
    assert_eq!(
        status["details"]["causes"],
        json!([{"reason": "FieldManagerConflict", "message": "conflict with \"kubectl-edit\" using v1", "field": ".data.a"}])
    );

    // Forced, the applier takes the field back; the editor owns nothing and disappears.
    let forced = patch("?fieldManager=ci&force=true");
    let (code, object) = request(dir, addr, &forced, APPLY, "x", yaml).await;
    assert_eq!(code, 200, "{object}");
    assert_eq!(object["data"]["a"], "1");
    assert_eq!(managers(&object), [("ci".to_owned(), "Apply".to_owned())]);

    // Omitting a field the applier alone owned removes it; server dry-run stores nothing.
    let smaller =
        br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"demo"},"data":{"a":"1"}}"#;
    let dry = patch("?fieldManager=ci&dryRun=All");
    let (code, preview) = request(dir, addr, &dry, APPLY, "x", smaller).await;
    assert_eq!((code, &preview["data"]), (200, &json!({"a": "1"})), "{preview}");
    let get = format!("GET {cm}");
    let (_, stored) = request(dir, addr, &get, "application/json", "x", b"").await;
    assert_eq!(stored["data"], json!({"a": "1", "b": "2"}));
    // The preview is at the live resourceVersion, as kube-apiserver's dry-run storage answers.
    let live = &stored["metadata"]["resourceVersion"];
    assert_eq!(&preview["metadata"]["resourceVersion"], live, "{preview}");
    let (code, pruned) = request(dir, addr, &patch("?fieldManager=ci"), APPLY, "x", smaller).await;
    assert_eq!((code, &pruned["data"]), (200, &json!({"a": "1"})), "{pruned}");

    // Creates record an Update entry for the User-Agent's manager.
    let post = "POST /api/v1/namespaces/default/configmaps";
    let body = br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"made","labels":{"x":"y"}},"data":{"k":"v"}}"#;
    let (code, made) =
        request(dir, addr, post, "application/json", "kubectl-create/v1.33", body).await;
    assert_eq!(code, 201, "{made}");
    assert_eq!(managers(&made), [("kubectl-create".to_owned(), "Update".to_owned())]);
    assert_eq!(
        fields_of(&made, "kubectl-create"),
        json!({"f:data": {".": {}, "f:k": {}}, "f:metadata": {"f:labels": {".": {}, "f:x": {}}}})
    );

    // `managedFields: [{}]` strips them.
    let strip = br#"{"metadata":{"managedFields":[{}]}}"#;
    let made_path = "PATCH /api/v1/namespaces/default/configmaps/made";
    let (code, stripped) =
        request(dir, addr, made_path, "application/merge-patch+json", "x/1", strip).await;
    assert_eq!(code, 200, "{stripped}");
    assert!(stripped["metadata"].get("managedFields").is_none(), "{stripped}");
    server.shutdown().await;
}

/// The seed tutorial's manifests (testdata/seed/).
const SERVICE: &str = include_str!("../../../testdata/seed/statefulset-headless.yaml");

fn statefulset(replicas: u32, image: &str) -> String {
    include_str!("../../../testdata/seed/statefulset-nginx.yaml")
        .replace("replicas: 3", &format!("replicas: {replicas}"))
        .replace("image: r.deso.tech/library/nginx", &format!("image: {image}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_apply_server_side_on_the_tutorial_manifests() {
    let Some(kubectl) = Kubectl::new() else { return };
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let config = server.kubeconfig_path().to_owned();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let svc = write("svc.yaml", SERVICE);
    let sts = write("sts.yaml", &statefulset(3, "nginx:1.27"));
    let get = |kind: &'static str, name: &'static str| {
        let (kubectl, config) = (&kubectl, config.clone());
        async move {
            let args = ["get", kind, name, "-o", "json", "--show-managed-fields"];
            serde_json::from_str::<Value>(&kubectl.ok(&config, &args).await).unwrap()
        }
    };

    let out = kubectl.ok(&config, &["apply", "--server-side", "-f", &svc]).await;
    assert_eq!(out, "service/headless-svc serverside-applied\n");
    let out = kubectl.ok(&config, &["apply", "--server-side", "-f", &sts]).await;
    assert_eq!(out, "statefulset.apps/statefulset-nginx serverside-applied\n");

    let object = get("statefulset", "statefulset-nginx").await;
    assert_eq!(managers(&object), [("kubectl".to_owned(), "Apply".to_owned())]);
    let containers =
        &fields_of(&object, "kubectl")["f:spec"]["f:template"]["f:spec"]["f:containers"];
    assert!(containers.get("k:{\"name\":\"container-0\"}").is_some(), "{containers}");
    let service = get("service", "headless-svc").await;
    let ports = &fields_of(&service, "kubectl")["f:spec"]["f:ports"];
    assert!(ports.get("k:{\"port\":80,\"protocol\":\"TCP\"}").is_some(), "{ports}");
    // kubectl hides managedFields unless asked.
    let plain = kubectl.ok(&config, &["get", "sts", "statefulset-nginx", "-o", "yaml"]).await;
    assert!(!plain.contains("managedFields"), "{plain}");

    // Re-applying unchanged manifests writes nothing.
    kubectl.ok(&config, &["apply", "--server-side", "-f", &sts]).await;
    let again = get("statefulset", "statefulset-nginx").await;
    assert_eq!(again["metadata"]["resourceVersion"], object["metadata"]["resourceVersion"]);
    assert_eq!(again["metadata"]["generation"], 1);

    // A server dry run shows the change and stores nothing.
    let changed = write("sts2.yaml", &statefulset(3, "nginx:1.28"));
    let out =
        kubectl.ok(&config, &["apply", "--server-side", "--dry-run=server", "-f", &changed]).await;
    assert_eq!(out, "statefulset.apps/statefulset-nginx serverside-applied (server dry run)\n");
    let image = "/spec/template/spec/containers/0/image";
    assert_eq!(
        get("statefulset", "statefulset-nginx").await.pointer(image),
        Some(&json!("nginx:1.27"))
    );
    kubectl.ok(&config, &["apply", "--server-side", "-f", &changed]).await;
    assert_eq!(
        get("statefulset", "statefulset-nginx").await.pointer(image),
        Some(&json!("nginx:1.28"))
    );

    // Another manager's field: a conflict kubectl explains, then --force-conflicts.
    let patch = r#"{"spec":{"replicas":5}}"#;
    kubectl.ok(&config, &["patch", "sts", "statefulset-nginx", "--type=merge", "-p", patch]).await;
    let scaled = write("sts3.yaml", &statefulset(2, "nginx:1.28"));
    let (ok, _, stderr) = kubectl.run(&config, &["apply", "--server-side", "-f", &scaled]).await;
    assert!(!ok);
    assert!(
        stderr.contains(
            "Apply failed with 1 conflict: conflict with \"kubectl-patch\" using apps/v1: .spec.replicas"
        ),
        "{stderr}"
    );
    let force = ["apply", "--server-side", "--force-conflicts", "-f", &scaled];
    kubectl.ok(&config, &force).await;
    let object = get("statefulset", "statefulset-nginx").await;
    assert_eq!(object["spec"]["replicas"], 2);
    assert!(!managers(&object).iter().any(|(m, _)| m == "kubectl-patch"), "{object}");

    // From client-side to server-side apply, as Kubernetes' docs show it: the first
    // server-side apply that changes a client-side-applied field conflicts. (Without claim
    // templates: that atomic list is defaulted by the server, so a re-applied template differs
    // and conflicts too, as in Kubernetes.)
    let other = |replicas| {
        let full = statefulset(replicas, "nginx:1.27").replace("statefulset-nginx", "csa");
        full[..full.find("  volumeClaimTemplates:").unwrap()].to_owned()
    };
    let csa_sts = write("csa.yaml", &other(3));
    let out = kubectl.ok(&config, &["apply", "-f", &csa_sts]).await;
    assert_eq!(out, "statefulset.apps/csa created\n");
    let csa_ssa = write("csa2.yaml", &other(5));
    let (ok, _, stderr) = kubectl.run(&config, &["apply", "--server-side", "-f", &csa_ssa]).await;
    assert!(!ok);
    assert!(
        stderr.contains(
            "Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using apps/v1: .spec.replicas"
        ),
        "{stderr}"
    );
    let force = ["apply", "--server-side", "--force-conflicts", "-f", &csa_ssa];
    assert_eq!(kubectl.ok(&config, &force).await, "statefulset.apps/csa serverside-applied\n");
    let migrated = get("statefulset", "csa").await;
    assert_eq!(migrated["spec"]["replicas"], 5);
    // kubectl then moves the client-side entry into its own Apply entry and keeps the
    // last-applied annotation up to date under a manager of its own.
    // Both are Apply entries, so Kubernetes orders them by time (older first), then by name:
    // which comes first depends on whether the two writes fell in the same second.
    let times: Vec<&str> = migrated["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["time"].as_str().unwrap())
        .collect();
    let mut expected = [("kubectl", "Apply"), ("kubectl-last-applied", "Apply")];
    if times.len() == 2 && times[0] != times[1] {
        let kubectl_time = migrated["metadata"]["managedFields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["manager"] == "kubectl")
            .map(|e| e["time"].as_str().unwrap())
            .unwrap();
        if kubectl_time > times[0].min(times[1]) {
            expected.reverse();
        }
    }
    let expected: Vec<(String, String)> =
        expected.iter().map(|(m, o)| ((*m).to_owned(), (*o).to_owned())).collect();
    assert_eq!(managers(&migrated), expected, "{migrated}");
    let out = kubectl.ok(&config, &["apply", "--server-side", "-f", &csa_ssa]).await;
    assert_eq!(out, "statefulset.apps/csa serverside-applied\n");

    // Client-side apply still works beside it, and records its own Update entry.
    let cm = write(
        "cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: csa\ndata:\n  k: v\n",
    );
    assert_eq!(kubectl.ok(&config, &["apply", "-f", &cm]).await, "configmap/csa created\n");
    let csa = get("configmap", "csa").await;
    assert_eq!(managers(&csa), [("kubectl-client-side-apply".to_owned(), "Update".to_owned())]);
    let cm2 = write(
        "cm2.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: csa\ndata:\n  k: w\n",
    );
    assert_eq!(kubectl.ok(&config, &["apply", "-f", &cm2]).await, "configmap/csa configured\n");
    assert_eq!(kubectl.ok(&config, &["apply", "-f", &cm2]).await, "configmap/csa unchanged\n");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subresource_writes_have_their_own_entries_and_bad_bodies_are_client_errors() {
    use rand::{Rng, SeedableRng};
    let data = tempfile::tempdir().unwrap();
    let server = start(data.path()).await;
    let (dir, addr) = (data.path(), server.local_addr());
    let sts = "/apis/apps/v1/namespaces/default/statefulsets/web";
    let config = statefulset(3, "nginx:1.27").replace("statefulset-nginx", "web");
    let apply = format!("PATCH {sts}?fieldManager=ci");
    let (code, created) = request(dir, addr, &apply, APPLY, "x", config.as_bytes()).await;
    assert_eq!(code, 201, "{created}");

    // A status write by a controller: an Update entry for the status subresource (a valid
    // status: available replicas are ready ones).
    let mut object = created.clone();
    object["status"] = json!({"replicas": 2, "readyReplicas": 1, "availableReplicas": 1});
    let put = format!("PUT {sts}/status");
    let body = serde_json::to_vec(&object).unwrap();
    let (code, updated) = request(dir, addr, &put, "application/json", "ctrl/1.0", &body).await;
    assert_eq!(code, 200, "{updated}");
    let entry = updated["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["manager"] == "ctrl")
        .cloned()
        .unwrap();
    assert_eq!(entry["subresource"], "status");
    assert_eq!(entry["operation"], "Update");
    let status = &entry["fieldsV1"]["f:status"];
    assert!(status.get("f:replicas").is_some() && status.get("f:availableReplicas").is_some());
    assert!(entry["fieldsV1"].get("f:spec").is_none(), "{entry}");

    // Scaling takes the replicas from the applier, who then conflicts with the scaler.
    let scale = format!("PATCH {sts}/scale");
    let merge = "application/merge-patch+json";
    let (code, answer) =
        request(dir, addr, &scale, merge, "scaler/1", br#"{"spec":{"replicas":4}}"#).await;
    assert_eq!(code, 200, "{answer}");
    let (code, status) = request(dir, addr, &apply, APPLY, "x", config.as_bytes()).await;
    assert_eq!(code, 409, "{status}");
    assert_eq!(
        status["message"],
        "Apply failed with 1 conflict: conflict with \"scaler\" with subresource \"scale\" using apps/v1: .spec.replicas"
    );

    // Random and truncated apply bodies are client errors, never a crash or a 5xx.
    let seed: u64 = rand::rng().random();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let valid = config.as_bytes();
    for i in 0..80 {
        let body: Vec<u8> = match i % 4 {
            0 => (0..rng.random_range(0..200)).map(|_| rng.random()).collect(),
            1 => valid[..rng.random_range(0..valid.len())].to_vec(),
            2 => {
                let mut mutated = valid.to_vec();
                for _ in 0..3 {
                    let at = rng.random_range(0..mutated.len());
                    const NOISE: &[u8] = b"{}[]:-\n \"'&*!";
                    mutated[at] = NOISE[rng.random_range(0..NOISE.len())];
                }
                mutated
            }
            _ => {
                format!("spec:\n  ports:\n  - name: x\nmetadata: {}\n", "{".repeat(i)).into_bytes()
            }
        };
        let target = if i % 2 == 0 { apply.clone() } else { format!("{apply}x&force=true") };
        let (code, answer) = request(dir, addr, &target, APPLY, "x", &body).await;
        assert!(
            (200..500).contains(&code),
            "seed {seed}: {body:?} → {code} {answer}",
            body = String::from_utf8_lossy(&body)
        );
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undeclared_fields_are_refused_whatever_the_field_validation() {
    let data = tempfile::tempdir().unwrap();
    let server = start(data.path()).await;
    let (dir, addr) = (data.path(), server.local_addr());
    let config = statefulset(3, "nginx:1.27")
        .replace("statefulset-nginx", "web")
        .replace("  replicas: 3\n", "  replicas: 3\n  foo: 1\n");
    let sts = "/apis/apps/v1/namespaces/default/statefulsets/web";
    for validation in ["Strict", "Warn", "Ignore"] {
        let apply = format!("PATCH {sts}?fieldManager=ci&fieldValidation={validation}");
        let (code, status) = request(dir, addr, &apply, APPLY, "x", config.as_bytes()).await;
        assert_eq!(code, 400, "{status}");
        assert_eq!(
            status["message"],
            "failed to create typed patch object (/web; apps/v1, Kind=StatefulSet): .spec.foo: field not declared in schema"
        );
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_to_scale_owns_the_replicas_of_the_parent() {
    let data = tempfile::tempdir().unwrap();
    let server = start(data.path()).await;
    let (dir, addr) = (data.path(), server.local_addr());
    let sts = "/apis/apps/v1/namespaces/default/statefulsets/web";
    let config = statefulset(3, "nginx:1.27").replace("statefulset-nginx", "web");
    let apply = format!("PATCH {sts}?fieldManager=ci");
    let (code, created) = request(dir, addr, &apply, APPLY, "x", config.as_bytes()).await;
    assert_eq!(code, 201, "{created}");

    let scale = br#"{"apiVersion": "autoscaling/v1", "kind": "Scale", "metadata": {"name": "web"}, "spec": {"replicas": 5}}"#;
    let to_scale = format!("PATCH {sts}/scale?fieldManager=hpa");
    let (code, status) = request(dir, addr, &to_scale, APPLY, "x", scale).await;
    assert_eq!(code, 409, "{status}");
    assert_eq!(
        status["message"],
        "Apply failed with 1 conflict: conflict with \"ci\": .spec.replicas"
    );
    let (code, answer) =
        request(dir, addr, &format!("{to_scale}&force=true"), APPLY, "x", scale).await;
    assert_eq!(code, 200, "{answer}");
    assert_eq!(answer["kind"], "Scale");
    assert_eq!(answer["spec"]["replicas"], 5);

    let (code, parent) = request(dir, addr, &format!("GET {sts}"), "", "x", b"").await;
    assert_eq!(code, 200);
    assert_eq!(parent["spec"]["replicas"], 5);
    let entries = parent["metadata"]["managedFields"].as_array().unwrap();
    let hpa = entries.iter().find(|e| e["manager"] == "hpa").unwrap();
    assert_eq!(
        (&hpa["operation"], &hpa["subresource"], &hpa["apiVersion"]),
        (&json!("Apply"), &json!("scale"), &json!("apps/v1"))
    );
    assert_eq!(hpa["fieldsV1"], json!({"f:spec": {"f:replicas": {}}}));
    // A Scale is autoscaling/v1.
    let wrong = br#"{"apiVersion": "apps/v1", "kind": "Scale", "spec": {"replicas": 1}}"#;
    let (code, status) = request(dir, addr, &to_scale, APPLY, "x", wrong).await;
    assert_eq!(code, 400, "{status}");
    assert_eq!(
        status["message"],
        "Incorrect version specified in apply patch. Specified patch version: apps/v1, expected: autoscaling/v1"
    );
    // The forced apply took the replicas from the first applier.
    let ci = entries.iter().find(|e| e["manager"] == "ci").unwrap();
    assert!(ci["fieldsV1"]["f:spec"].get("f:replicas").is_none(), "{ci}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_entries_are_capped_at_ten_with_ancient_changes() {
    let data = tempfile::tempdir().unwrap();
    let server = start(data.path()).await;
    let (dir, addr) = (data.path(), server.local_addr());
    let cm = "/api/v1/namespaces/default/configmaps";
    let body = br#"{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "busy"}}"#;
    let (code, _) =
        request(dir, addr, &format!("POST {cm}"), "application/json", "c/1", body).await;
    assert_eq!(code, 201);
    // Twelve more managers each write a key of their own.
    let mut last = Value::Null;
    for i in 0..12 {
        let patch = format!(r#"{{"data": {{"k{i}": "v"}}}}"#);
        let line = format!("PATCH {cm}/busy?fieldManager=writer-{i:02}");
        let (code, answer) =
            request(dir, addr, &line, "application/merge-patch+json", "x", patch.as_bytes()).await;
        assert_eq!(code, 200, "{answer}");
        last = answer;
    }
    let entries = last["metadata"]["managedFields"].as_array().unwrap();
    assert_eq!(entries.len(), 10, "{entries:?}");
    let ancient = entries.iter().find(|e| e["manager"] == "ancient-changes").unwrap();
    assert_eq!(ancient["operation"], "Update");
    assert_eq!(ancient["apiVersion"], "v1");
    // The oldest writers' fields are the bucket's now; the newest keep their own.
    assert!(ancient["fieldsV1"]["f:data"].get("f:k0").is_some(), "{ancient}");
    assert!(entries.iter().any(|e| e["manager"] == "writer-11"));
    assert!(!entries.iter().any(|e| e["manager"] == "writer-00"));
    server.shutdown().await;
}

/// A create's manager owns what it sent, defaulted, as kube-apiserver records it: structs of
/// the kind's zero value do not own themselves (no `.` under `f:spec`), and what admission adds
/// afterwards (the pod's service account and tolerations, the claim's finalizer) is no one's.
#[tokio::test]
async fn kubectl_creates_own_what_they_sent_not_what_admission_added() {
    let Some(kubectl) = Kubectl::new() else { return };
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let config = server.kubeconfig_path().to_owned();
    kubectl.ok(&config, &["create", "serviceaccount", "default"]).await;
    kubectl.ok(&config, &["run", "nginx", "--image=nginx"]).await;
    let args = ["get", "pod", "nginx", "-o", "json", "--show-managed-fields"];
    let pod: Value = serde_json::from_str(&kubectl.ok(&config, &args).await).unwrap();
    assert_eq!(pod["spec"]["serviceAccountName"], "default", "admission ran");
    assert_eq!(managers(&pod), [("kubectl-run".to_owned(), "Update".to_owned())]);
    let fields = fields_of(&pod, "kubectl-run");
    assert_eq!(fields["f:metadata"], json!({"f:labels": {".": {}, "f:run": {}}}));
    let spec = fields["f:spec"].as_object().unwrap();
    let mut keys: Vec<&str> = spec.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "f:containers",
            "f:dnsPolicy",
            "f:enableServiceLinks",
            "f:restartPolicy",
            "f:schedulerName",
            "f:securityContext",
            "f:terminationGracePeriodSeconds"
        ],
        "{fields}"
    );
    let container = &spec["f:containers"]["k:{\"name\":\"nginx\"}"];
    assert_eq!(container["."], json!({}), "{fields}");
    assert!(spec["f:containers"].get(".").is_none(), "{fields}");

    let claim = dir.path().join("claim.yaml");
    std::fs::write(
        &claim,
        "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: data\nspec:\n  \
         accessModes: [ReadWriteOnce]\n  resources:\n    requests:\n      storage: 1Gi\n",
    )
    .unwrap();
    kubectl.ok(&config, &["create", "-f", claim.to_str().unwrap()]).await;
    let args = ["get", "pvc", "data", "-o", "json", "--show-managed-fields"];
    let claim: Value = serde_json::from_str(&kubectl.ok(&config, &args).await).unwrap();
    assert_eq!(claim["metadata"]["finalizers"], json!(["kubernetes.io/pvc-protection"]));
    let fields = fields_of(&claim, "kubectl-create");
    assert!(fields.get("f:metadata").is_none(), "{fields}");
    assert_eq!(
        fields["f:spec"],
        json!({
            "f:accessModes": {},
            "f:resources": {"f:requests": {".": {}, "f:storage": {}}},
            "f:volumeMode": {}
        })
    );
}

/// What the API server writes itself is recorded as kube-apiserver's loopback client's writes
/// are: an `Update` by `kube-apiserver`. What the namespace strategy adds after the field
/// manager ran (the `kubernetes` finalizer, the phase) is no one's, for `kubectl create
/// namespace` as for the bootstrap namespaces; a finalizer of the client's own keeps
/// `kubernetes` beside it.
#[tokio::test]
async fn bootstrap_objects_are_the_api_servers_and_namespace_finalizers_no_ones() {
    let Some(kubectl) = Kubectl::new() else { return };
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let listen: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let server = berth_apiserver::start(ApiServerConfig::new(listen, dir.path()), store.clone());
    let server = server.await.unwrap();
    let listen = server.local_addr();
    let config = server.kubeconfig_path().to_owned();
    let get = |args: &'static [&'static str]| {
        let (kubectl, config) = (&kubectl, &config);
        async move {
            let mut args = args.to_vec();
            args.extend(["-o", "json", "--show-managed-fields"]);
            serde_json::from_str::<Value>(&kubectl.ok(config, &args).await).unwrap()
        }
    };
    let labels_only =
        json!({"f:metadata": {"f:labels": {".": {}, "f:kubernetes.io/metadata.name": {}}}});

    let default = get(&["get", "namespace", "default"]).await;
    assert_eq!(managers(&default), [("kube-apiserver".to_owned(), "Update".to_owned())]);
    assert_eq!(fields_of(&default, "kube-apiserver"), labels_only);
    assert_eq!(default["spec"]["finalizers"], json!(["kubernetes"]));

    kubectl.ok(&config, &["create", "namespace", "team"]).await;
    let team = get(&["get", "namespace", "team"]).await;
    assert_eq!(fields_of(&team, "kubectl-create"), labels_only);
    assert_eq!(team["spec"]["finalizers"], json!(["kubernetes"]));
    assert_eq!(team["status"], json!({"phase": "Active"}));

    let own = dir.path().join("ns.yaml");
    std::fs::write(
        &own,
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: held\nspec:\n  finalizers: [example.com/hold]\n",
    )
    .unwrap();
    kubectl.ok(&config, &["create", "-f", own.to_str().unwrap()]).await;
    let held = get(&["get", "namespace", "held"]).await;
    assert_eq!(held["spec"]["finalizers"], json!(["example.com/hold", "kubernetes"]));
    assert_eq!(fields_of(&held, "kubectl-create")["f:spec"], json!({"f:finalizers": {}}));

    let service = get(&["get", "service", "kubernetes"]).await;
    assert_eq!(managers(&service), [("kube-apiserver".to_owned(), "Update".to_owned())]);
    let fields = fields_of(&service, "kube-apiserver");
    assert_eq!(fields["f:metadata"]["f:labels"]["f:component"], json!({}), "{fields}");
    assert_eq!(fields["f:spec"]["f:clusterIP"], json!({}), "{fields}");
    let role = get(&["get", "clusterrole", "cluster-admin"]).await;
    assert_eq!(managers(&role), [("kube-apiserver".to_owned(), "Update".to_owned())]);
    assert_eq!(fields_of(&role, "kube-apiserver")["f:rules"], json!({}));
    server.shutdown().await;

    // A restart on the same store and address rewrites none of them: their managedFields,
    // times included, stay.
    let server = berth_apiserver::start(ApiServerConfig::new(listen, dir.path()), store);
    let server = server.await.unwrap();
    let again = get(&["get", "service", "kubernetes"]).await;
    assert_eq!(again["metadata"]["managedFields"], service["metadata"]["managedFields"]);
    assert_eq!(again["metadata"]["resourceVersion"], service["metadata"]["resourceVersion"]);
    server.shutdown().await;
}
