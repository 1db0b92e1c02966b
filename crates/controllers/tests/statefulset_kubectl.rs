//! Real kubectl against the StatefulSet controller: `rollout status|history|undo|restart` and
//! `scale`, with a stand-in kubelet that makes every new pod Ready.

use std::path::{Path, PathBuf};
use std::time::Duration;

use berth_controllers::{Config, Controller};
use berth_testkit::cluster::{Cluster, eventually, ready_kubelet};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;

/// `kubectl` on PATH, or `None` (skip) when it is missing and `BERTH_REAL` is unset.
#[allow(clippy::print_stderr, reason = "a skipped test must be visible in the test output")]
fn kubectl() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path).map(|dir| dir.join("kubectl")).find(|file| file.is_file())
    });
    match found {
        Some(kubectl) => Some(kubectl),
        None if std::env::var_os("BERTH_REAL").is_none() => {
            eprintln!("skipping: kubectl is not on PATH (set BERTH_REAL=1 to make this fail)");
            None
        }
        None => panic!("BERTH_REAL=1 and kubectl is not on PATH"),
    }
}

/// Runs kubectl with a private HOME under `dir`; insists it succeeds and returns stdout.
async fn run(binary: &Path, dir: &Path, kubeconfig: &Path, args: &[&str]) -> String {
    let home = dir.join("kubectl-home");
    std::fs::create_dir_all(&home).unwrap();
    let output = tokio::process::Command::new(binary)
        .args(args)
        .env("HOME", &home)
        .env("KUBECONFIG", kubeconfig)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(90), output)
        .await
        .expect("kubectl finished")
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "kubectl {args:?} failed:\n{stdout}\n{stderr}");
    stdout
}

const MANIFEST: &str = "apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: web
spec:
  serviceName: nginx
  replicas: 2
  selector:
    matchLabels:
      app: nginx
  template:
    metadata:
      labels:
        app: nginx
    spec:
      containers:
      - name: nginx
        image: registry.k8s.io/nginx-slim:0.24
  volumeClaimTemplates:
  - metadata:
      name: www
    spec:
      accessModes: [ReadWriteOnce]
      resources:
        requests:
          storage: 1Gi
";

async fn image_of(sets: &Api<StatefulSet>) -> String {
    let set = sets.get("web").await.unwrap();
    set.spec.unwrap().template.spec.unwrap().containers[0].image.clone().unwrap()
}

#[tokio::test]
async fn kubectl_rollout_and_scale() {
    let Some(binary) = kubectl() else { return };
    let cluster = Cluster::start().await;
    let controllers = cluster.spawn_controllers(Config {
        controllers: vec![Controller::StatefulSet, Controller::ServiceAccount],
        ..Config::default()
    });
    let pods: Api<Pod> = Api::namespaced(cluster.client(), "default");
    let sets: Api<StatefulSet> = Api::namespaced(cluster.client(), "default");
    let kubelet = tokio::spawn(ready_kubelet(pods.clone()));
    let dir = cluster.data_dir().to_owned();
    let kubeconfig = cluster.kubeconfig();
    let kubectl = |args: &'static [&'static str]| {
        let (binary, dir, kubeconfig) = (binary.clone(), dir.clone(), kubeconfig.clone());
        async move { run(&binary, &dir, &kubeconfig, args).await }
    };
    std::fs::write(dir.join("web.yaml"), MANIFEST).unwrap();
    let manifest = dir.join("web.yaml");
    run(&binary, &dir, &kubeconfig, &["apply", "-f", manifest.to_str().unwrap()]).await;

    let out = kubectl(&["rollout", "status", "statefulset/web", "--timeout=60s"]).await;
    assert!(
        out.contains("partitioned roll out complete: 2 new pods have been updated..."),
        "{out}"
    );

    kubectl(&["set", "image", "statefulset/web", "nginx=registry.k8s.io/nginx-slim:0.27"]).await;
    let out = kubectl(&["rollout", "status", "statefulset/web", "--timeout=60s"]).await;
    assert!(
        out.contains("partitioned roll out complete: 2 new pods have been updated..."),
        "{out}"
    );
    let out = kubectl(&["rollout", "history", "statefulset/web"]).await;
    let revisions: Vec<&str> =
        out.lines().skip(2).filter_map(|l| l.split_whitespace().next()).collect();
    assert_eq!(revisions, ["1", "2"], "{out}");

    let out = kubectl(&["rollout", "undo", "statefulset/web"]).await;
    assert!(out.contains("statefulset.apps/web rolled back"), "{out}");
    assert_eq!(image_of(&sets).await, "registry.k8s.io/nginx-slim:0.24");
    kubectl(&["rollout", "status", "statefulset/web", "--timeout=60s"]).await;
    let out = kubectl(&["rollout", "history", "statefulset/web"]).await;
    let revisions: Vec<&str> =
        out.lines().skip(2).filter_map(|l| l.split_whitespace().next()).collect();
    assert_eq!(revisions, ["2", "3"], "{out}");

    let before = kubectl(&["get", "pod", "web-1", "-o", "jsonpath={.metadata.uid}"]).await;
    let out = kubectl(&["rollout", "restart", "statefulset/web"]).await;
    assert!(out.contains("statefulset.apps/web restarted"), "{out}");
    kubectl(&["rollout", "status", "statefulset/web", "--timeout=60s"]).await;
    let set = sets.get("web").await.unwrap();
    let annotations = set.spec.unwrap().template.metadata.unwrap().annotations.unwrap_or_default();
    assert!(annotations.contains_key("kubectl.kubernetes.io/restartedAt"), "{annotations:?}");
    eventually("web-1 restarted", || async {
        let pod = pods.get_opt("web-1").await.unwrap()?;
        (pod.metadata.uid.as_deref() != Some(before.as_str())).then_some(())
    })
    .await;

    let out = kubectl(&["scale", "statefulset", "web", "--replicas=3"]).await;
    assert!(out.contains("statefulset.apps/web scaled"), "{out}");
    let out = kubectl(&["rollout", "status", "statefulset/web", "--timeout=60s"]).await;
    assert!(
        out.contains("partitioned roll out complete: 3 new pods have been updated..."),
        "{out}"
    );
    let out = kubectl(&["get", "statefulset", "web"]).await;
    assert!(
        out.lines().nth(1).is_some_and(|l| l.split_whitespace().nth(1) == Some("3/3")),
        "{out}"
    );

    kubelet.abort();
    controllers.shutdown().await;
    cluster.shutdown().await;
}
