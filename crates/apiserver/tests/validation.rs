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

    // A patch asked to be Strict refuses unknown fields (in document order: the patch's new
    // keys come after the stored ones).
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
    assert_eq!(code, 400, "{answer}");
    let answer: Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(
        answer["message"],
        r#"strict decoding error: unknown field "spec.template.spec.containers[0].typo", unknown field "spec.bogus""#
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
