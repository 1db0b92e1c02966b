//! Defaulting, validation, immutable fields and `fieldValidation` through raw requests and the
//! real `kubectl`: broken manifests print what kubectl prints against Kubernetes v1.33.

mod common;

use std::path::Path;

use common::{Kubectl, raw_with_body, start, token};
use serde_json::{Value, json};

fn write(dir: &Path, name: &str, yaml: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, yaml).unwrap();
    path.to_str().unwrap().to_owned()
}

/// The seed tutorial's StatefulSet, with `{labels}` for the template labels and `{extra}`
/// appended to the spec.
fn statefulset(labels: &str, extra: &str) -> String {
    format!(
        "apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: web
spec:
  selector:
    matchLabels:
      app: nginx
  serviceName: nginx
  replicas: 2
  template:
    metadata:
      labels:
        {labels}
    spec:
      containers:
      - name: nginx
        image: registry.k8s.io/nginx-slim:0.24
        ports:
        - containerPort: 80
          name: web
        volumeMounts:
        - name: www
          mountPath: /usr/share/nginx/html
  volumeClaimTemplates:
  - metadata:
      name: www
    spec:
      accessModes: [ReadWriteOnce]
      resources:
        requests:
          storage: 1Gi
{extra}"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_prints_kubernetes_validation_errors() {
    let Some(kubectl) = Kubectl::new() else { return };
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let config = server.kubeconfig_path().to_owned();

    // The selector does not match the template's labels.
    let mismatched = write(dir.path(), "mismatch.yaml", &statefulset("app: other", ""));
    let (ok, _, stderr) = kubectl.run(&config, &["apply", "-f", &mismatched]).await;
    assert!(!ok);
    assert_eq!(
        stderr.trim(),
        r#"The StatefulSet "web" is invalid: spec.template.metadata.labels: Invalid value: map[string]string{"app":"other"}: `selector` does not match template `labels`"#
    );

    // Several causes: kubectl lists each.
    let several = write(
        dir.path(),
        "several.yaml",
        &statefulset("app: nginx", "  podManagementPolicy: Random\n  minReadySeconds: -1\n"),
    );
    let (ok, _, stderr) = kubectl.run(&config, &["create", "-f", &several]).await;
    assert!(!ok);
    assert_eq!(
        stderr.trim(),
        "The StatefulSet \"web\" is invalid: \n* spec.podManagementPolicy: Invalid value: \"Random\": must be 'OrderedReady' or 'Parallel'\n* spec.minReadySeconds: Invalid value: -1: must be greater than or equal to 0"
    );

    // Unknown fields: kubectl's default is Strict; --validate=warn stores without them.
    let unknown =
        write(dir.path(), "unknown.yaml", &statefulset("app: nginx", "  surprise: true\n"));
    let (ok, _, stderr) = kubectl.run(&config, &["create", "-f", &unknown]).await;
    assert!(!ok);
    assert_eq!(
        stderr.trim(),
        format!(
            r#"Error from server (BadRequest): error when creating "{unknown}": StatefulSet in version "v1" cannot be handled as a StatefulSet: strict decoding error: unknown field "spec.surprise""#
        )
    );
    let (ok, stdout, stderr) =
        kubectl.run(&config, &["create", "-f", &unknown, "--validate=warn", "--save-config"]).await;
    assert!(ok, "{stderr}");
    assert_eq!(stderr.trim(), r#"Warning: unknown field "spec.surprise""#);
    assert_eq!(stdout.trim(), "statefulset.apps/web created");
    let stored = kubectl.ok(&config, &["get", "sts", "web", "-o", "json"]).await;
    let stored: Value = serde_json::from_str(&stored).unwrap();
    assert!(stored["spec"].get("surprise").is_none());
    // Defaults as Kubernetes stores them.
    let container = &stored["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["imagePullPolicy"], "IfNotPresent");
    assert_eq!(container["terminationMessagePath"], "/dev/termination-log");
    assert_eq!(container["resources"], json!({}));
    assert_eq!(stored["spec"]["updateStrategy"]["rollingUpdate"]["partition"], 0);

    // Fields a StatefulSet update may not change.
    let renamed = write(
        dir.path(),
        "renamed.yaml",
        &statefulset("app: nginx", "").replace("serviceName: nginx", "serviceName: other"),
    );
    let (ok, _, stderr) = kubectl.run(&config, &["apply", "-f", &renamed]).await;
    assert!(!ok);
    assert_eq!(
        stderr.trim(),
        "The StatefulSet \"web\" is invalid: spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"
    );
    let (ok, _, stderr) =
        kubectl.run(&config, &["patch", "sts", "web", "-p", r#"{"spec":{"replicas":-3}}"#]).await;
    assert!(!ok);
    assert_eq!(
        stderr.trim(),
        r#"The StatefulSet "web" is invalid: spec.replicas: Invalid value: -3: must be greater than or equal to 0"#
    );
    kubectl.ok(&config, &["scale", "sts", "web", "--replicas=4"]).await;

    // kubectl patch sends no fieldValidation: unknown fields are dropped with a warning (Warn).
    // replace is Strict.
    let (ok, stdout, stderr) =
        kubectl.run(&config, &["patch", "sts", "web", "-p", r#"{"spec":{"bogus":1}}"#]).await;
    assert!(ok, "{stderr}");
    assert_eq!(stderr.trim(), r#"Warning: unknown field "spec.bogus""#);
    assert_eq!(stdout.trim(), "statefulset.apps/web patched (no change)");
    let stored = kubectl.ok(&config, &["get", "sts", "web", "-o", "json"]).await;
    let stored: Value = serde_json::from_str(&stored).unwrap();
    assert!(stored["spec"].get("bogus").is_none());
    assert_eq!(stored["spec"]["replicas"], 4);
    let (ok, _, stderr) = kubectl.run(&config, &["replace", "-f", &unknown]).await;
    assert!(!ok);
    assert_eq!(
        stderr.trim(),
        format!(
            r#"Error from server (BadRequest): error when replacing "{unknown}": StatefulSet in version "v1" cannot be handled as a StatefulSet: strict decoding error: unknown field "spec.surprise""#
        )
    );

    // Immutable config maps.
    kubectl.ok(&config, &["create", "configmap", "frozen", "--from-literal=k=v"]).await;
    kubectl.ok(&config, &["patch", "cm", "frozen", "-p", r#"{"immutable":true}"#]).await;
    let (ok, _, stderr) =
        kubectl.run(&config, &["patch", "cm", "frozen", "-p", r#"{"data":{"k":"changed"}}"#]).await;
    assert!(!ok);
    assert_eq!(
        stderr.trim(),
        r#"The ConfigMap "frozen" is invalid: data: Forbidden: field is immutable when `immutable` is set"#
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_writes_get_a_422_with_causes_and_subresources_keep_their_half() {
    let data = tempfile::tempdir().unwrap();
    let server = start(data.path()).await;
    let addr = server.local_addr();
    let bearer = format!("Bearer {}", token(data.path()));
    let headers = [("Authorization", bearer.as_str()), ("Content-Type", "application/json")];
    let send = |line: String, body: Value| {
        let data = data.path().to_owned();
        async move {
            let body = serde_json::to_vec(&body).unwrap();
            let (code, answer) = raw_with_body(&data, addr, &line, &headers, &body).await;
            let answer: Value = serde_json::from_str(&answer).unwrap_or(Value::Null);
            (code, answer)
        }
    };

    // Pods need their ServiceAccount (admission runs before validation, as in Kubernetes).
    let account =
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}});
    let (code, body) =
        send("POST /api/v1/namespaces/default/serviceaccounts".into(), account).await;
    assert_eq!(code, 201, "{body}");
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
        "spec": {"containers": [], "restartPolicy": "Sometimes"}});
    let (code, status) = send("POST /api/v1/namespaces/default/pods".into(), pod).await;
    assert_eq!(code, 422, "{status}");
    assert_eq!(status["reason"], "Invalid");
    assert_eq!(
        status["message"],
        r#"Pod "p" is invalid: [spec.containers: Required value, spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"]"#
    );
    assert_eq!(
        status["details"],
        json!({"name": "p", "kind": "Pod", "causes": [
            {"reason": "FieldValueRequired", "message": "Required value", "field": "spec.containers"},
            {"reason": "FieldValueNotSupported",
             "message": r#"Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never""#,
             "field": "spec.restartPolicy"}]})
    );

    // A valid StatefulSet is stored defaulted.
    let sts = json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "web"},
        "spec": {"serviceName": "nginx", "selector": {"matchLabels": {"app": "nginx"}},
            "template": {"metadata": {"labels": {"app": "nginx"}},
                "spec": {"containers": [{"name": "nginx", "image": "nginx"}]}}}});
    let (code, created) =
        send("POST /apis/apps/v1/namespaces/default/statefulsets".into(), sts).await;
    assert_eq!(code, 201, "{created}");
    assert_eq!(created["spec"]["replicas"], 1);
    assert_eq!(created["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"], "Always");

    // The status subresource ignores spec changes; the main resource ignores status.
    let mut changed = created.clone();
    changed["spec"]["replicas"] = json!(7);
    changed["status"] = json!({"replicas": 2, "readyReplicas": 1});
    let status_line = "PUT /apis/apps/v1/namespaces/default/statefulsets/web/status".to_owned();
    let (code, written) = send(status_line.clone(), changed.clone()).await;
    assert_eq!(code, 200, "{written}");
    assert_eq!(written["spec"]["replicas"], 1);
    assert_eq!(written["status"]["replicas"], 2);
    let mut again = written.clone();
    again["status"] = json!({"replicas": 9});
    again["spec"]["replicas"] = json!(3);
    let main_line = "PUT /apis/apps/v1/namespaces/default/statefulsets/web".to_owned();
    let (code, written) = send(main_line, again).await;
    assert_eq!(code, 200, "{written}");
    assert_eq!(written["spec"]["replicas"], 3);
    assert_eq!(written["status"]["replicas"], 2);

    // A patch asked to be Strict refuses unknown fields, as kube-apiserver does: a 422 naming
    // `patch`, the fields in the order of the re-encoded (key-sorted) patched object.
    let merge =
        [("Authorization", bearer.as_str()), ("Content-Type", "application/merge-patch+json")];
    let (code, answer) = raw_with_body(
        data.path(),
        addr,
        "PATCH /apis/apps/v1/namespaces/default/statefulsets/web?fieldValidation=Strict",
        &merge,
        br#"{"spec":{"bogus":1,"template":{"spec":{"containers":[{"name":"nginx","image":"nginx","typo":1}]}}}}"#,
    )
    .await;
    assert_eq!(code, 422, "{answer}");
    let answer: Value = serde_json::from_str(&answer).unwrap();
    let message = answer["message"].as_str().unwrap();
    assert!(message.starts_with(r#" "" is invalid: patch: Invalid value: "{\"apiVersion\":"#));
    // The value shown is the patched object, unknown fields and all.
    assert!(message.contains(r#"\"bogus\":1"#), "{message}");
    assert!(
        message.ends_with(
            r#"": strict decoding error: unknown field "spec.bogus", unknown field "spec.template.spec.containers[0].typo""#
        ),
        "{message}"
    );

    // Status rules apply to status writes.
    let mut bad_status = written.clone();
    bad_status["status"] = json!({"replicas": 1, "readyReplicas": 2});
    let (code, status) = send(status_line, bad_status).await;
    assert_eq!(code, 422, "{status}");
    assert_eq!(
        status["message"],
        r#"StatefulSet.apps "web" is invalid: status.readyReplicas: Invalid value: 2: cannot be greater than status.replicas"#
    );
    server.shutdown().await;
}

/// The `Warning` texts of a response's header lines (`warning: 299 - "…"`).
fn warnings(headers: &[String]) -> Vec<String> {
    headers
        .iter()
        .filter_map(|line| line.split_once(':'))
        .filter(|(name, _)| name.eq_ignore_ascii_case("warning"))
        .filter_map(|(_, value)| value.trim().strip_prefix("299 - "))
        .map(|quoted| serde_json::from_str::<String>(quoted).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_fields_follow_field_validation_like_kubernetes() {
    let data = tempfile::tempdir().unwrap();
    let server = start(data.path()).await;
    let addr = server.local_addr();
    let bearer = format!("Bearer {}", token(data.path()));
    let send = |line: String, content_type: &'static str, body: String| {
        let data = data.path().to_owned();
        let bearer = bearer.clone();
        async move {
            let headers = [("Authorization", bearer.as_str()), ("Content-Type", content_type)];
            let (code, headers, answer) =
                common::raw_exchange(&data, addr, &line, &headers, body.as_bytes()).await;
            let answer: Value = serde_json::from_str(&answer).unwrap_or(Value::Null);
            (code, warnings(&headers), answer)
        }
    };
    // Kubernetes' own field validation body (test/integration/apiserver), for a StatefulSet.
    let body = |name: &str| {
        format!(
            r#"{{"apiVersion": "apps/v1", "kind": "StatefulSet",
  "metadata": {{"name": "{name}", "name": "{name}", "unknownMeta": "x", "labels": {{"app": "nginx"}}}},
  "spec": {{"unknown1": "val1", "unknownDupe": "valDupe", "unknownDupe": "valDupe2",
    "replicas": 1, "replicas": 2, "serviceName": "nginx",
    "selector": {{"matchLabels": {{"app": "nginx"}}}},
    "template": {{"metadata": {{"labels": {{"app": "nginx"}}}},
      "spec": {{"containers": [{{"name": "nginx", "image": "nginx:latest",
        "unknownNested": "val1", "imagePullPolicy": "Always", "imagePullPolicy": "Never"}}]}}}}}}}}"#
        )
    };
    let expected = [
        r#"duplicate field "metadata.name""#,
        r#"unknown field "metadata.unknownMeta""#,
        r#"unknown field "spec.unknown1""#,
        r#"unknown field "spec.unknownDupe""#,
        r#"duplicate field "spec.replicas""#,
        r#"unknown field "spec.template.spec.containers[0].unknownNested""#,
        r#"duplicate field "spec.template.spec.containers[0].imagePullPolicy""#,
    ];
    let sts = "/apis/apps/v1/namespaces/default/statefulsets";

    // Strict: 400 with every problem, in document order.
    let (code, _, status) =
        send(format!("POST {sts}?fieldValidation=Strict"), "application/json", body("web")).await;
    assert_eq!(code, 400, "{status}");
    assert_eq!(status["reason"], "BadRequest");
    assert_eq!(
        status["message"],
        format!(
            r#"StatefulSet in version "v1" cannot be handled as a StatefulSet: strict decoding error: {}"#,
            expected.join(", ")
        )
    );
    // Warn (the default): one warning each, and the last of duplicates wins.
    let (code, warned, created) =
        send(format!("POST {sts}"), "application/json", body("web")).await;
    assert_eq!(code, 201, "{created}");
    assert_eq!(warned, expected);
    assert_eq!(created["spec"]["replicas"], 2);
    assert_eq!(created["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"], "Never");
    // Ignore: silent.
    let (code, warned, _) =
        send(format!("POST {sts}?fieldValidation=Ignore"), "application/json", body("other")).await;
    assert_eq!(code, 201);
    assert!(warned.is_empty(), "{warned:?}");
    // Updates read bodies the same way.
    let (code, warned, _) = send(format!("PUT {sts}/web"), "application/json", body("web")).await;
    assert_eq!(code, 200);
    assert_eq!(warned, expected);

    // YAML bodies: yaml.v2's lines first, then the unknown fields.
    let yaml = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: yam\n  name: yam\ndata:\n  a: '1'\n  a: '2'\nbogus: 1\n";
    let cms = "/api/v1/namespaces/default/configmaps";
    let (code, _, status) =
        send(format!("POST {cms}?fieldValidation=Strict"), "application/yaml", yaml.into()).await;
    assert_eq!(code, 400, "{status}");
    assert_eq!(
        status["message"],
        "ConfigMap in version \"v1\" cannot be handled as a ConfigMap: strict decoding error: yaml: unmarshal errors:\n  line 5: key \"name\" already set in map\n  line 8: key \"a\" already set in map, unknown field \"bogus\""
    );
    let (code, warned, created) =
        send(format!("POST {cms}"), "application/yaml", yaml.into()).await;
    assert_eq!(code, 201, "{created}");
    assert_eq!(
        warned,
        [
            r#"line 5: key "name" already set in map"#,
            r#"line 8: key "a" already set in map"#,
            r#"unknown field "bogus""#
        ]
    );
    assert_eq!(created["data"]["a"], "2");

    // Merge and strategic merge patches: the patch's duplicates, then the unknown fields
    // sorted; Strict is kube-apiserver's 422 naming `patch`.
    let patch = r#"{"spec": {"replicas": 3, "replicas": 4, "zeta": 1, "alpha": 2}}"#;
    let (code, warned, patched) =
        send(format!("PATCH {sts}/web"), "application/merge-patch+json", patch.into()).await;
    assert_eq!(code, 200, "{patched}");
    assert_eq!(patched["spec"]["replicas"], 4);
    assert_eq!(
        warned,
        [
            r#"duplicate field "spec.replicas""#,
            r#"unknown field "spec.alpha""#,
            r#"unknown field "spec.zeta""#
        ]
    );
    let (code, _, status) = send(
        format!("PATCH {sts}/web?fieldValidation=Strict"),
        "application/strategic-merge-patch+json",
        patch.into(),
    )
    .await;
    assert_eq!(code, 422, "{status}");
    let detail = r#"strict decoding error: duplicate field "spec.replicas", unknown field "spec.alpha", unknown field "spec.zeta""#;
    assert_eq!(
        status["message"],
        format!(
            r#" "" is invalid: patch: Invalid value: "map[spec:map[alpha:2 replicas:4 zeta:1]]": {detail}"#
        )
    );
    assert_eq!(status["details"]["causes"][0]["field"], "patch");
    // JSON patches: the operations are decoded strictly too.
    let ops = r#"[{"op": "add", "path": "/spec/foo", "value": 1, "extra": true},
        {"op": "replace", "path": "/spec/replicas", "path": "/spec/replicas", "value": 5}]"#;
    let (code, warned, patched) =
        send(format!("PATCH {sts}/web"), "application/json-patch+json", ops.into()).await;
    assert_eq!(code, 200, "{patched}");
    assert_eq!(patched["spec"]["replicas"], 5);
    assert_eq!(
        warned,
        [
            r#"json patch unknown field "[0].extra""#,
            r#"json patch duplicate field "[1].path""#,
            r#"unknown field "spec.foo""#
        ]
    );

    // Server-side apply reads its body as YAML: duplicates are reported by line, after the
    // apply itself.
    let config = "{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {\"name\": \"applied\"},\n\"data\": {\"k\": \"a\",\n\"k\": \"b\"}}";
    let apply = format!("PATCH {cms}/applied?fieldManager=me");
    let (code, _, status) = send(
        format!("{apply}&fieldValidation=Strict"),
        "application/apply-patch+yaml",
        config.into(),
    )
    .await;
    assert_eq!(code, 400, "{status}");
    assert_eq!(
        status["message"],
        "error strict decoding YAML: error converting YAML to JSON: yaml: unmarshal errors:\n  line 3: key \"k\" already set in map"
    );
    let (code, warned, applied) = send(apply, "application/apply-patch+yaml", config.into()).await;
    assert_eq!(code, 201, "{applied}");
    assert_eq!(warned, [r#"line 3: key "k" already set in map"#]);
    assert_eq!(applied["data"]["k"], "b");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_quantities_fail_decoding_and_generate_names_are_checked() {
    let data = tempfile::tempdir().unwrap();
    let server = start(data.path()).await;
    let addr = server.local_addr();
    let bearer = format!("Bearer {}", token(data.path()));
    let send = |line: String, content_type: &'static str, body: Value| {
        let data = data.path().to_owned();
        let bearer = bearer.clone();
        async move {
            let headers = [("Authorization", bearer.as_str()), ("Content-Type", content_type)];
            let body = serde_json::to_vec(&body).unwrap();
            let (code, answer) = raw_with_body(&data, addr, &line, &headers, &body).await;
            (code, serde_json::from_str::<Value>(&answer).unwrap_or(Value::Null))
        }
    };
    let regex = "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
    let sts = |cpu: &str| {
        json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "web"},
            "spec": {"serviceName": "nginx", "selector": {"matchLabels": {"app": "nginx"}},
                "template": {"metadata": {"labels": {"app": "nginx"}},
                    "spec": {"containers": [{"name": "nginx", "image": "nginx",
                        "resources": {"requests": {"cpu": cpu}}}]}}}})
    };
    let path = "/apis/apps/v1/namespaces/default/statefulsets";
    let json = "application/json";
    let (code, status) = send(format!("POST {path}"), json, sts("1x")).await;
    assert_eq!(code, 400, "{status}");
    assert_eq!(status["reason"], "BadRequest");
    assert_eq!(
        status["message"],
        format!(
            "StatefulSet in version \"v1\" cannot be handled as a StatefulSet: quantities must match the regular expression {regex}"
        )
    );
    let (code, created) = send(format!("POST {path}"), json, sts("1")).await;
    assert_eq!(code, 201, "{created}");
    let (code, status) = send(format!("PUT {path}/web"), json, sts("2GG")).await;
    assert_eq!(code, 400, "{status}");
    assert_eq!(
        status["message"],
        "StatefulSet in version \"v1\" cannot be handled as a StatefulSet: unable to parse quantity's suffix"
    );
    // A patch that makes one: kube-apiserver's 422 naming `patch`.
    let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": "nginx",
        "resources": {"requests": {"cpu": "1x"}}}]}}}});
    let smp = "application/strategic-merge-patch+json";
    let (code, status) = send(format!("PATCH {path}/web"), smp, patch).await;
    assert_eq!(code, 422, "{status}");
    assert_eq!(status["details"]["causes"][0]["field"], "patch");
    let message = status["message"].as_str().unwrap();
    assert!(message.starts_with(r#" "" is invalid: patch: Invalid value: "map[spec:map["#));
    assert!(
        message.ends_with(&format!("\": quantities must match the regular expression {regex}"))
    );

    // generateName: its own problems at metadata.generateName, then the generated name's.
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": "Bad_"}});
    let (code, status) = send("POST /api/v1/namespaces/default/configmaps".into(), json, cm).await;
    assert_eq!(code, 422, "{status}");
    let fields: Vec<&str> = status["details"]["causes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["metadata.generateName", "metadata.name"]);
    assert!(status["message"].as_str().unwrap().starts_with(r#"ConfigMap "Bad_"#), "{status}");
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": "ok-"}});
    let (code, created) = send("POST /api/v1/namespaces/default/configmaps".into(), json, cm).await;
    assert_eq!(code, 201, "{created}");
    server.shutdown().await;
}
