//! The API server over real HTTPS: real `kubectl` (the dispatcher on PATH), raw requests with
//! and without credentials, restarts on the same data dir and a damaged PKI.

mod common;

use common::{Kubectl, raw, start, start_at, token};

const UNAUTHORIZED: &str = r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_reads_version_readiness_and_metrics() {
    let Some(kubectl) = Kubectl::new() else { return };
    let data = tempfile::tempdir().unwrap();
    let server = start(data.path()).await;
    let kubeconfig = server.kubeconfig_path().to_owned();
    assert_eq!(kubeconfig, data.path().join("kubeconfig.yaml"));

    let version = kubectl.ok(&kubeconfig, &["version", "-o", "json"]).await;
    let version: serde_json::Value = serde_json::from_str(&version).unwrap();
    assert_eq!(version["serverVersion"]["major"], "1", "{version}");
    assert_eq!(version["serverVersion"]["minor"], "33", "{version}");
    let git_version = version["serverVersion"]["gitVersion"].as_str().unwrap();
    assert!(git_version.starts_with("v1.33.0+berth."), "{git_version}");
    // The dispatcher picked kubectl 1.33 for a 1.33 server.
    let client = version["clientVersion"]["minor"].as_str().unwrap();
    assert_eq!(client, "33", "{version}");

    assert_eq!(kubectl.ok(&kubeconfig, &["get", "--raw", "/readyz"]).await.trim(), "ok");
    assert_eq!(kubectl.ok(&kubeconfig, &["get", "--raw", "/livez"]).await.trim(), "ok");
    let metrics = kubectl.ok(&kubeconfig, &["get", "--raw", "/metrics"]).await;
    assert!(
        metrics.contains(
            r#"apiserver_request_total{verb="GET",dry_run="",group="",version="",resource="",subresource="/readyz",scope="",component="apiserver",code="200"}"#
        ),
        "{metrics}"
    );
    assert!(metrics.contains("apiserver_request_duration_seconds_bucket{"), "{metrics}");

    // An unknown path is a 404 Status, which kubectl prints as Kubernetes' NotFound.
    let (success, _, stderr) = kubectl.run(&kubeconfig, &["get", "--raw", "/nope"]).await;
    assert!(!success);
    assert!(stderr.contains("the server could not find the requested resource"), "{stderr}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_need_a_certificate_or_the_token() {
    let data = tempfile::tempdir().unwrap();
    let server = start(data.path()).await;
    let addr = server.local_addr();
    let token = token(data.path());
    let bearer = format!("Bearer {token}");
    let wrong = format!("Bearer {}", "0".repeat(token.len()));

    assert_eq!(raw(data.path(), addr, "GET /metrics", &[]).await, (401, UNAUTHORIZED.into()));
    assert_eq!(raw(data.path(), addr, "GET /api", &[]).await, (401, UNAUTHORIZED.into()));
    let wrong_token = [("Authorization", wrong.as_str())];
    assert_eq!(
        raw(data.path(), addr, "GET /metrics", &wrong_token).await,
        (401, UNAUTHORIZED.into())
    );
    // A wrong token is refused even where no credentials are needed, as in Kubernetes.
    assert_eq!(
        raw(data.path(), addr, "GET /readyz", &wrong_token).await,
        (401, UNAUTHORIZED.into())
    );

    let (code, body) = raw(data.path(), addr, "GET /metrics", &[("Authorization", &bearer)]).await;
    assert_eq!(code, 200, "{body}");
    assert!(
        body.contains(r#"subresource="/metrics",scope="",component="apiserver",code="401"} 2"#),
        "{body}"
    );
    assert_eq!(raw(data.path(), addr, "GET /readyz", &[]).await, (200, "ok".into()));
    let (code, body) = raw(data.path(), addr, "GET /version", &[]).await;
    assert_eq!(code, 200, "{body}");
    assert!(body.contains(r#""minor":"33""#), "{body}");

    // Oversize bodies are refused by what they declare, before they are read.
    let oversize = (3 * 1024 * 1024 + 1).to_string();
    let headers = [("Authorization", bearer.as_str()), ("Content-Length", oversize.as_str())];
    let (code, body) = raw(data.path(), addr, "POST /api/v1/namespaces", &headers).await;
    assert_eq!(code, 413, "{body}");
    assert!(body.contains(r#""reason":"RequestEntityTooLarge""#), "{body}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_keeps_the_ca_so_old_kubeconfigs_keep_working() {
    let Some(kubectl) = Kubectl::new() else { return };
    let data = tempfile::tempdir().unwrap();
    let server = start(data.path()).await;
    let addr = server.local_addr();
    let first = std::fs::read(server.kubeconfig_path()).unwrap();
    let token = token(data.path());
    server.shutdown().await;

    // A missing serving certificate is reissued by the same CA.
    std::fs::remove_file(data.path().join("pki/server.crt")).unwrap();
    let server = start_at(data.path(), addr).await.unwrap();
    assert_eq!(std::fs::read(server.kubeconfig_path()).unwrap(), first);
    assert_eq!(crate::token(data.path()), token);
    let old = data.path().join("old-kubeconfig.yaml");
    std::fs::write(&old, &first).unwrap();
    // /metrics needs credentials: the old client certificate is still accepted.
    let metrics = kubectl.ok(&old, &["get", "--raw", "/metrics"]).await;
    assert!(metrics.contains("apiserver_request_total"), "{metrics}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_ca_key_stops_the_start_and_names_the_file() {
    let data = tempfile::tempdir().unwrap();
    start(data.path()).await.shutdown().await;
    let ca_key = data.path().join("pki/ca.key");
    std::fs::write(&ca_key, "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")
        .unwrap();
    let error = start_at(data.path(), "127.0.0.1:0".parse().unwrap()).await.unwrap_err();
    assert!(error.is_bad_data(), "{error:?}");
    assert!(error.to_string().contains(&ca_key.display().to_string()), "{error}");
    // Nothing was regenerated.
    assert!(std::fs::read_to_string(&ca_key).unwrap().contains("not a key"));
}

/// Random, truncated and hostile bodies in every accepted format: each gets a 4xx Status,
/// nothing crashes, and what is stored survives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_bodies_get_client_errors_and_never_crash_the_server() {
    use rand::{Rng, SeedableRng};
    let data = tempfile::tempdir().unwrap();
    let server = start(data.path()).await;
    let addr = server.local_addr();
    let bearer = format!("Bearer {}", token(data.path()));
    let auth = ("Authorization", bearer.as_str());
    let valid =
        br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"keep"},"data":{"k":"v"}}"#;
    let create = "POST /api/v1/namespaces/default/configmaps";
    let json = ("Content-Type", "application/json");
    let (code, body) = common::raw_with_body(data.path(), addr, create, &[auth, json], valid).await;
    assert_eq!(code, 201, "{body}");

    let seed: u64 = rand::rng().random();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let content_types = [
        "application/json",
        "application/vnd.kubernetes.protobuf",
        "application/merge-patch+json",
        "application/json-patch+json",
        "application/strategic-merge-patch+json",
        "application/yaml",
        "text/plain",
    ];
    let mut bodies: Vec<Vec<u8>> = vec![
        "[".repeat(5000).into_bytes(),
        b"{\"metadata\":{\"name\":\"x\"".to_vec(),
        b"k8s\0".to_vec(),
        b"k8s\0\x0a\xff\xff\xff\xff\x0f".to_vec(),
        b"null".to_vec(),
        b"{\"metadata\":{\"name\":{\"nested\":1}}}".to_vec(),
        b"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"x\"}}".to_vec(),
    ];
    for _ in 0..60 {
        let len = rng.random_range(0..300);
        bodies.push((0..len).map(|_| rng.random()).collect());
        let cut = rng.random_range(0..valid.len());
        bodies.push(valid[..cut].to_vec());
    }
    for (i, body) in bodies.iter().enumerate() {
        let content_type = content_types[i % content_types.len()];
        let headers = [auth, ("Content-Type", content_type)];
        let (code, answer) = common::raw_with_body(data.path(), addr, create, &headers, body).await;
        assert!(
            (400..500).contains(&code),
            "seed {seed}: POST {content_type} {body:?} → {code} {answer}"
        );
        let patch = "PATCH /api/v1/namespaces/default/configmaps/keep";
        let (code, answer) = common::raw_with_body(data.path(), addr, patch, &headers, body).await;
        assert!(
            (200..500).contains(&code) && code != 201,
            "seed {seed}: PATCH {content_type} {body:?} → {code} {answer}"
        );
    }
    assert_eq!(raw(data.path(), addr, "GET /readyz", &[]).await, (200, "ok".into()));
    let (code, body) =
        raw(data.path(), addr, "GET /api/v1/namespaces/default/configmaps/keep", &[auth]).await;
    assert_eq!(code, 200, "{body}");
    assert!(body.contains(r#""name":"keep""#), "{body}");
    server.shutdown().await;
}

/// Randomly mutated CustomResourceDefinitions and custom resources: every answer is a 2xx or a
/// 4xx Status, whatever CRDs get established on the way, and the server keeps serving what it
/// had.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutated_definitions_and_custom_resources_never_crash_the_server() {
    use rand::{Rng, SeedableRng};
    use serde_json::{Value, json};

    fn random(rng: &mut rand::rngs::StdRng, depth: usize) -> Value {
        const WORDS: &[&str] = &[
            "type",
            "object",
            "array",
            "string",
            "integer",
            "properties",
            "items",
            "required",
            "default",
            "x-kubernetes-preserve-unknown-fields",
            "x-kubernetes-validations",
            "x-kubernetes-list-type",
            "map",
            "rule",
            "self.size() > 1",
            "self == oldSelf",
            "spec",
            "status",
            "v1",
            "Namespaced",
            "Cluster",
            "scale",
            ".spec.replicas",
            "",
        ];
        match rng.random_range(0..if depth > 2 { 5 } else { 7 }) {
            0 => Value::Null,
            1 => json!(rng.random::<bool>()),
            2 => json!(rng.random::<i64>() >> rng.random_range(0..64)),
            3 | 4 => json!(WORDS[rng.random_range(0..WORDS.len())]),
            5 => {
                Value::Array((0..rng.random_range(0..3)).map(|_| random(rng, depth + 1)).collect())
            }
            _ => Value::Object(
                (0..rng.random_range(0..3))
                    .map(|_| {
                        (WORDS[rng.random_range(0..WORDS.len())].to_owned(), random(rng, depth + 1))
                    })
                    .collect(),
            ),
        }
    }
    fn mutate(rng: &mut rand::rngs::StdRng, value: &mut Value) {
        let stop = rng.random_range(0..4) == 0;
        match value {
            Value::Object(map) if !map.is_empty() && !stop => {
                let at = rng.random_range(0..map.len());
                if let Some((_, member)) = map.iter_mut().nth(at) {
                    mutate(rng, member);
                }
            }
            Value::Array(items) if !items.is_empty() && !stop => {
                let at = rng.random_range(0..items.len());
                mutate(rng, &mut items[at]);
            }
            _ => *value = random(rng, 0),
        }
    }

    let data = tempfile::tempdir().unwrap();
    let server = start(data.path()).await;
    let (dir, addr) = (data.path(), server.local_addr());
    let bearer = format!("Bearer {}", token(dir));
    let headers = [("Authorization", bearer.as_str()), ("Content-Type", "application/json")];
    let crd = json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.fuzz.berth.dev"},
        "spec": {
            "group": "fuzz.berth.dev",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "kind": "Widget"},
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                    "spec": {"type": "object", "properties": {
                        "size": {"type": "integer", "minimum": 1, "default": 1},
                        "tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
                        "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                    }, "x-kubernetes-validations": [{"rule": "self.size <= 10"}]},
                }}},
            }],
        },
    });
    let crds = "POST /apis/apiextensions.k8s.io/v1/customresourcedefinitions";
    let (code, body) =
        common::raw_with_body(dir, addr, crds, &headers, crd.to_string().as_bytes()).await;
    assert_eq!(code, 201, "{body}");
    let widget = json!({
        "apiVersion": "fuzz.berth.dev/v1", "kind": "Widget",
        "metadata": {"name": "keep"},
        "spec": {"size": 2, "tags": ["a"], "free": {"x": [1]}},
    });
    let widgets = "POST /apis/fuzz.berth.dev/v1/namespaces/default/widgets";
    let mut created = (0, String::new());
    for _ in 0..100 {
        created =
            common::raw_with_body(dir, addr, widgets, &headers, widget.to_string().as_bytes())
                .await;
        if created.0 == 201 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(created.0, 201, "{}", created.1);

    let seed: u64 = rand::rng().random();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    for i in 0..150 {
        let mut definition = crd.clone();
        definition["metadata"]["name"] = json!(format!("widgets{i}.fuzz{i}.berth.dev"));
        definition["spec"]["group"] = json!(format!("fuzz{i}.berth.dev"));
        definition["spec"]["names"]["plural"] = json!(format!("widgets{i}"));
        mutate(&mut rng, &mut definition);
        let body = definition.to_string();
        let (code, answer) =
            common::raw_with_body(dir, addr, crds, &headers, body.as_bytes()).await;
        assert!((200..500).contains(&code), "seed {seed}: CRD {body} → {code} {answer}");

        let mut object = widget.clone();
        object["metadata"]["name"] = json!(format!("w{i}"));
        mutate(&mut rng, &mut object);
        let body = object.to_string();
        let (code, answer) =
            common::raw_with_body(dir, addr, widgets, &headers, body.as_bytes()).await;
        assert!((200..500).contains(&code), "seed {seed}: POST {body} → {code} {answer}");
        let patch = "PATCH /apis/fuzz.berth.dev/v1/namespaces/default/widgets/keep";
        let merge = [headers[0], ("Content-Type", "application/merge-patch+json")];
        let (code, answer) = common::raw_with_body(dir, addr, patch, &merge, body.as_bytes()).await;
        assert!((200..500).contains(&code), "seed {seed}: PATCH {body} → {code} {answer}");
    }
    assert_eq!(raw(dir, addr, "GET /readyz", &[]).await, (200, "ok".into()));
    let get = "GET /apis/fuzz.berth.dev/v1/namespaces/default/widgets/keep";
    let (code, body) = raw(dir, addr, get, &[headers[0]]).await;
    assert_eq!(code, 200, "{body}");
    let (code, body) = raw(dir, addr, "GET /apis", &[headers[0]]).await;
    assert_eq!(code, 200, "{body}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_tables_select_page_and_print_rows_as_get_does() {
    use serde_json::{Value, json};
    const TABLE: &str = "application/json;as=Table;v=v1;g=meta.k8s.io";
    let data = tempfile::tempdir().unwrap();
    let server = start(data.path()).await;
    let (dir, addr) = (data.path(), server.local_addr());
    let bearer = format!("Bearer {}", token(dir));
    let json_headers = [("Authorization", bearer.as_str()), ("Content-Type", "application/json")];
    let table_headers = [("Authorization", bearer.as_str()), ("Accept", TABLE)];
    let create = |path: &'static str, body: Value| async move {
        let line = format!("POST {path}");
        let body = body.to_string();
        let (code, answer) =
            common::raw_with_body(dir, addr, &line, &json_headers, body.as_bytes()).await;
        assert_eq!(code, 201, "{answer}");
    };
    create(
        "/api/v1/namespaces/default/serviceaccounts",
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}}),
    )
    .await;
    for (name, app) in [("a", "web"), ("b", "web"), ("c", "db")] {
        let pod = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": {"app": app}},
            "spec": {"nodeName": "node-1", "containers": [
                {"name": "main", "image": "nginx", "env": [{"name": "A", "value": "1"}]},
                {"name": "side", "image": "busybox"}]}});
        create("/api/v1/namespaces/default/pods", pod).await;
    }
    let table = |query: String| async move {
        let line = format!("GET /api/v1/namespaces/default/pods{query}");
        let (code, body) = raw(dir, addr, &line, &table_headers).await;
        assert_eq!(code, 200, "{line}: {body}");
        let table: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(table["kind"], "Table", "{body}");
        table
    };
    let names = |table: &Value| -> Vec<String> {
        let rows = table["rows"].as_array().unwrap();
        rows.iter().map(|row| row["cells"][0].as_str().unwrap().to_owned()).collect()
    };

    // Each row of the list is the row a GET of that pod prints (the tree path), for every
    // includeObject.
    for include in ["", "?includeObject=Metadata", "?includeObject=None", "?includeObject=Object"] {
        let list = table(include.to_owned()).await;
        assert_eq!(names(&list), ["a", "b", "c"]);
        for (i, name) in ["a", "b", "c"].into_iter().enumerate() {
            let get = table(format!("/{name}{include}")).await;
            // But AGE, which may have ticked between the two.
            let (mut listed, mut got) = (list["rows"][i].clone(), get["rows"][0].clone());
            listed["cells"][4] = Value::Null;
            got["cells"][4] = Value::Null;
            assert_eq!(listed, got, "{name}{include}");
        }
        let row = &list["rows"][0];
        assert_eq!(row["cells"][1], "0/2", "{row}");
        match include {
            "?includeObject=None" => assert_eq!(row["object"], Value::Null),
            "?includeObject=Object" => {
                assert_eq!(row["object"]["kind"], "Pod");
                assert_eq!(row["object"]["spec"]["containers"][0]["env"][0]["value"], "1");
            }
            _ => {
                assert_eq!(row["object"]["kind"], "PartialObjectMetadata");
                assert!(row["object"]["metadata"]["managedFields"].is_array(), "{row}");
                assert!(row["object"]["metadata"]["resourceVersion"].is_string(), "{row}");
            }
        }
    }

    // Selectors, and pages that continue.
    assert_eq!(names(&table("?labelSelector=app%3Dweb".into()).await), ["a", "b"]);
    assert_eq!(names(&table("?labelSelector=app%21%3Dweb".into()).await), ["c"]);
    assert_eq!(names(&table("?fieldSelector=metadata.name%3Db".into()).await), ["b"]);
    assert_eq!(names(&table("?fieldSelector=spec.containers.1.name%3Dside".into()).await).len(), 3);
    let first = table("?limit=2".into()).await;
    assert_eq!(names(&first), ["a", "b"]);
    let token = first["metadata"]["continue"].as_str().expect("a continue token").to_owned();
    let rest = table(format!("?limit=2&continue={token}")).await;
    assert_eq!(names(&rest), ["c"]);
    assert_eq!(rest["metadata"].get("continue"), None, "{rest}");
    server.shutdown().await;
}
