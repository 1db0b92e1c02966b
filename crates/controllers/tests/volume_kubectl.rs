//! Real kubectl against an in-process cluster running the volume controller: the seed
//! tutorial's `kubectl get pvc` (three claims Bound to three provisioned volumes) and the
//! `get pv` / `get sc` columns. Skipped when kubectl is missing, unless BERTH_REAL is set.

use std::path::{Path, PathBuf};
use std::time::Duration;

use berth_controllers::{Config, Controller};
use berth_testkit::cluster::{Cluster, eventually};
use k8s_openapi::api::core::v1::{Node, PersistentVolumeClaim};
use kube::api::{Api, PostParams};
use serde_json::json;

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

async fn run(kubectl: &Path, home: &Path, kubeconfig: &Path, args: &[&str]) -> String {
    let output = tokio::process::Command::new(kubectl)
        .args(args)
        .env("HOME", home)
        .env("KUBECONFIG", kubeconfig)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(60), output)
        .await
        .expect("kubectl finishes within 60 s")
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "kubectl {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// The whitespace-separated words of each line.
fn words(table: &str) -> Vec<Vec<String>> {
    table.lines().map(|line| line.split_whitespace().map(str::to_owned).collect()).collect()
}

#[tokio::test]
async fn kubectl_get_pvc_pv_and_sc_show_kubernetes_columns() {
    let Some(kubectl) = kubectl() else { return };
    let cluster = Cluster::start().await;
    let client = cluster.client();
    let controllers = cluster
        .spawn_controllers(Config { controllers: vec![Controller::Volume], ..Config::default() });
    let nodes: Api<Node> = Api::all(client.clone());
    let node: Node = serde_json::from_value(json!({
        "metadata": { "name": "node-a", "annotations": { "berth.dev/storage-dir": "/srv/storage" } },
    }))
    .unwrap();
    let mut node = nodes.create(&PostParams::default(), &node).await.unwrap();
    node.status = Some(
        serde_json::from_value(json!({ "conditions": [{ "type": "Ready", "status": "True" }] }))
            .unwrap(),
    );
    nodes.replace_status("node-a", &PostParams::default(), &node).await.unwrap();

    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), "default");
    for ordinal in 0..3 {
        let claim: PersistentVolumeClaim = serde_json::from_value(json!({
            "metadata": { "name": format!("www-web-{ordinal}"), "labels": { "app": "nginx" } },
            "spec": { "accessModes": ["ReadWriteOnce"], "resources": { "requests": { "storage": "1Gi" } } },
        }))
        .unwrap();
        claims.create(&PostParams::default(), &claim).await.unwrap();
    }
    let bound = eventually("three claims Bound", || async {
        let list = claims.list(&Default::default()).await.ok()?;
        let bound: Vec<(String, String)> = list
            .items
            .iter()
            .filter(|c| c.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Bound"))
            .map(|c| {
                (c.metadata.name.clone().unwrap(), c.spec.clone().unwrap().volume_name.unwrap())
            })
            .collect();
        (bound.len() == 3).then_some(bound)
    })
    .await;

    let home = cluster.data_dir().join("kubectl-home");
    let kubeconfig = cluster.kubeconfig();
    let pvc = words(&run(&kubectl, &home, &kubeconfig, &["get", "pvc", "-l", "app=nginx"]).await);
    assert_eq!(
        pvc[0],
        [
            "NAME",
            "STATUS",
            "VOLUME",
            "CAPACITY",
            "ACCESS",
            "MODES",
            "STORAGECLASS",
            "VOLUMEATTRIBUTESCLASS",
            "AGE"
        ]
    );
    assert_eq!(pvc.len(), 4, "{pvc:?}");
    for (row, (name, volume)) in pvc[1..].iter().zip(&bound) {
        assert_eq!(
            row[..7],
            [name.as_str(), "Bound", volume, "1Gi", "RWO", "local-path", "<unset>"]
        );
    }

    let pv = words(&run(&kubectl, &home, &kubeconfig, &["get", "pv"]).await);
    assert_eq!(
        pv[0],
        [
            "NAME",
            "CAPACITY",
            "ACCESS",
            "MODES",
            "RECLAIM",
            "POLICY",
            "STATUS",
            "CLAIM",
            "STORAGECLASS",
            "VOLUMEATTRIBUTESCLASS",
            "REASON",
            "AGE"
        ]
    );
    let row = pv.iter().find(|row| row[0] == bound[0].1).expect("the volume of www-web-0");
    assert_eq!(
        row[1..8],
        ["1Gi", "RWO", "Delete", "Bound", "default/www-web-0", "local-path", "<unset>"]
    );

    let sc = words(&run(&kubectl, &home, &kubeconfig, &["get", "sc"]).await);
    assert_eq!(
        sc[0],
        [
            "NAME",
            "PROVISIONER",
            "RECLAIMPOLICY",
            "VOLUMEBINDINGMODE",
            "ALLOWVOLUMEEXPANSION",
            "AGE"
        ]
    );
    assert_eq!(
        sc[1][..6],
        ["local-path", "(default)", "berth.dev/local-path", "Delete", "Immediate", "false"]
    );
    controllers.shutdown().await;
    cluster.shutdown().await;
}
