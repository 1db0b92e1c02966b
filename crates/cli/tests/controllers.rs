//! `berth server --controllers`: the selection kube-controller-manager's flag makes.

use std::time::Duration;

use berth_testkit::kubectl::{BerthProcess, Kubectl};

#[tokio::test]
async fn only_the_selected_controllers_run() {
    let dir = tempfile::tempdir().unwrap();
    let berth = BerthProcess::start(
        env!("CARGO_BIN_EXE_berth").as_ref(),
        &dir.path().join("data"),
        &["--controllers", "serviceaccount"],
    )
    .await;
    let Some(kubectl) = Kubectl::new(&berth.kubeconfig()) else { return };
    kubectl.ok(&["create", "namespace", "picked"]).await;
    // The serviceaccount controller runs: the namespace gets its `default` account.
    let mut found = false;
    for _ in 0..150 {
        if kubectl.run(&["get", "serviceaccount", "default", "-n", "picked"]).await.0 {
            found = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(found, "no default ServiceAccount in 15 s");
    // The volume controller does not: no default StorageClass was made, though it makes one
    // as soon as it starts.
    let (ok, stdout, stderr) = kubectl.run(&["get", "storageclass"]).await;
    assert!(ok, "{stderr}");
    assert_eq!((stdout.as_str(), stderr.as_str()), ("", "No resources found\n"));
    berth.stop().await;
}

/// `--feature-gates MaxUnavailableStatefulSet=true`: the API server keeps a StatefulSet's
/// `maxUnavailable` (without the gate it is dropped, as in Kubernetes v1.33) and a rolling
/// update that honours it completes. (How many pods a step replaces is the plan's unit test.)
#[tokio::test]
async fn max_unavailable_is_kept_and_rolled_out_only_with_its_feature_gate() {
    const SET: &str = "apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web}
spec:
  replicas: 4
  podManagementPolicy: Parallel
  serviceName: web
  selector: {matchLabels: {app: web}}
  updateStrategy: {type: RollingUpdate, rollingUpdate: {maxUnavailable: 2}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: nginx, image: 'nginx:1'}]}
";
    let max_unavailable = "jsonpath={.spec.updateStrategy.rollingUpdate.maxUnavailable}";
    for gate in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let mut args = vec!["--runtime", "simulated"];
        if gate {
            args.extend(["--feature-gates", "MaxUnavailableStatefulSet=true"]);
        }
        let berth = BerthProcess::start(
            env!("CARGO_BIN_EXE_berth").as_ref(),
            &dir.path().join("data"),
            &args,
        )
        .await;
        let Some(kubectl) = Kubectl::new(&berth.kubeconfig()) else { return };
        // The `default` ServiceAccount comes from a controller: wait for it.
        for _ in 0..150 {
            if kubectl.run(&["get", "serviceaccount", "default"]).await.0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        kubectl.apply(SET).await;
        let stored = kubectl.ok(&["get", "sts", "web", "-o", max_unavailable]).await;
        assert_eq!(stored, if gate { "2" } else { "" }, "gate {gate}");
        if gate {
            kubectl.ok(&["rollout", "status", "sts/web", "--timeout=60s"]).await;
            kubectl.ok(&["set", "image", "sts/web", "nginx=nginx:2"]).await;
            let out = kubectl.ok(&["rollout", "status", "sts/web", "--timeout=60s"]).await;
            assert!(out.contains("partitioned roll out complete"), "{out}");
            let images = "jsonpath={.items[*].spec.containers[0].image}";
            let images = kubectl.ok(&["get", "pods", "-o", images]).await;
            assert_eq!(images, "nginx:2 nginx:2 nginx:2 nginx:2");
        }
        berth.stop().await;
    }
}
