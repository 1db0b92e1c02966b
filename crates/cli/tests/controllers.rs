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
