//! The seed tutorial (shared/reference/seed-tutorial.md) against a real `berth server
//! --runtime simulated` with the real kubectl: every step that needs no running container
//! (exec and DNS come with the kubelet and DNS issues), printing what Kubernetes prints.

use std::time::Duration;

use berth_testkit::kubectl::{BerthProcess, Kubectl};

/// The tutorial's manifests, verbatim (testdata/seed/).
const HEADLESS: &str = include_str!("../../../testdata/seed/statefulset-headless.yaml");
const STATEFULSET: &str = include_str!("../../../testdata/seed/statefulset-nginx.yaml");

/// The tutorial's StatefulSet with its storage class replaced by berth's default (the tutorial
/// says to use your cluster's class).
fn local_path(manifest: &str) -> String {
    manifest.replace("storageClassName: nfs-storageclass", "storageClassName: local-path")
}

fn columns(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

/// The rows of a table whose first column starts with `prefix`.
fn rows<'a>(table: &'a str, prefix: &str) -> Vec<Vec<&'a str>> {
    table.lines().filter(|l| l.starts_with(prefix)).map(columns).collect()
}

#[tokio::test]
async fn seed_tutorial_on_simulated_nodes() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let berth = BerthProcess::start(
        env!("CARGO_BIN_EXE_berth").as_ref(),
        &data_dir,
        &["--runtime", "simulated", "--node-name", "node-a"],
    )
    .await;
    let Some(kubectl) = Kubectl::new(&berth.kubeconfig()) else { return };

    assert_eq!(
        kubectl.ok(&["create", "namespace", "statefulset01"]).await,
        "namespace/statefulset01 created\n"
    );
    let modified =
        kubectl.ok(&["config", "set-context", "--current", "--namespace", "statefulset01"]).await;
    assert!(modified.starts_with("Context \"") && modified.ends_with("\" modified.\n"));

    assert_eq!(kubectl.apply(HEADLESS).await, "service/headless-svc created\n");
    let svc = kubectl.ok(&["get", "svc"]).await;
    assert_eq!(
        columns(svc.lines().next().unwrap()),
        ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    );
    let row = &rows(&svc, "headless-svc")[0];
    assert_eq!(row[..5], ["headless-svc", "ClusterIP", "None", "<none>", "80/TCP"]);

    let sc = kubectl.ok(&["get", "sc"]).await;
    assert_eq!(
        columns(sc.lines().next().unwrap()),
        [
            "NAME",
            "PROVISIONER",
            "RECLAIMPOLICY",
            "VOLUMEBINDINGMODE",
            "ALLOWVOLUMEEXPANSION",
            "AGE"
        ]
    );
    let row = &rows(&sc, "local-path")[0];
    assert_eq!(
        row[..6],
        ["local-path", "(default)", "berth.dev/local-path", "Delete", "Immediate", "false"]
    );

    let (ok, stdout, stderr) = kubectl.run(&["get", "pv,pvc"]).await;
    assert!(ok && stdout.is_empty(), "{stdout}{stderr}");
    assert!(stderr.starts_with("No resources found"), "{stderr}");

    // `kubectl apply -f statefulset-nginx.yaml && kubectl get pod -w`: ordered start-up.
    assert_eq!(
        kubectl.apply(&local_path(STATEFULSET)).await,
        "statefulset.apps/statefulset-nginx created\n"
    );
    let mut watch = kubectl.spawn(&["get", "pod", "-w"]);
    let header = watch.next_line(Duration::from_secs(30)).await.unwrap();
    assert_eq!(columns(&header), ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]);
    let mut seen: Vec<Vec<String>> = Vec::new();
    while seen.iter().filter(|row| row[1] == "1/1" && row[2] == "Running").count() < 3 {
        let line = watch.next_line(Duration::from_secs(30)).await.expect("watch goes on");
        seen.push(columns(&line).into_iter().map(str::to_owned).collect());
    }
    let first = |name: &str| seen.iter().position(|row| row[0] == name).unwrap();
    let ready = |name: &str| {
        seen.iter().position(|row| row[0] == name && row[1] == "1/1" && row[2] == "Running")
    };
    // OrderedReady: pod N+1 shows up only after pod N is Running and Ready.
    assert!(ready("statefulset-nginx-0").unwrap() < first("statefulset-nginx-1"), "{seen:?}");
    assert!(ready("statefulset-nginx-1").unwrap() < first("statefulset-nginx-2"), "{seen:?}");
    for row in &seen {
        assert!(
            ["Pending", "ContainerCreating", "Running"].contains(&row[2].as_str()),
            "unexpected status in {row:?}"
        );
    }
    drop(watch);

    let sts = kubectl.ok(&["get", "statefulset"]).await;
    assert_eq!(columns(sts.lines().next().unwrap()), ["NAME", "READY", "AGE"]);
    assert_eq!(rows(&sts, "statefulset-nginx")[0][..2], ["statefulset-nginx", "3/3"]);

    // Delete pod 1: the same name comes back, as a new pod.
    let uid = |pod: &'static str| {
        let kubectl = &kubectl;
        async move { kubectl.ok(&["get", "pod", pod, "-o", "jsonpath={.metadata.uid}"]).await }
    };
    let old_uid = uid("statefulset-nginx-1").await;
    assert_eq!(
        kubectl.ok(&["delete", "pod", "statefulset-nginx-1"]).await,
        "pod \"statefulset-nginx-1\" deleted\n"
    );
    berth_testkit::cluster::eventually("statefulset-nginx-1 to be back and Running", || async {
        let pods = kubectl.ok(&["get", "pod"]).await;
        let running = rows(&pods, "statefulset-nginx-")
            .iter()
            .filter(|row| row[1] == "1/1" && row[2] == "Running")
            .count();
        (running == 3).then_some(())
    })
    .await;
    assert_ne!(uid("statefulset-nginx-1").await, old_uid);

    // One claim per pod, each Bound to its own provisioned volume.
    let pvc = kubectl.ok(&["get", "pvc"]).await;
    assert_eq!(
        columns(pvc.lines().next().unwrap()),
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
    let claims = rows(&pvc, "data-statefulset-nginx-");
    assert_eq!(claims.len(), 3, "{pvc}");
    let mut volumes = Vec::new();
    for (ordinal, row) in claims.iter().enumerate() {
        assert_eq!(row[0], format!("data-statefulset-nginx-{ordinal}"));
        assert_eq!(row[1], "Bound");
        assert!(row[2].starts_with("pvc-"), "{row:?}");
        assert_eq!(row[3..6], ["1Gi", "RWX", "local-path"]);
        volumes.push(row[2]);
    }
    let pv = kubectl.ok(&["get", "pv"]).await;
    for (ordinal, volume) in volumes.iter().enumerate() {
        let row = &rows(&pv, volume)[0];
        assert_eq!(
            row[1..7],
            [
                "1Gi",
                "RWX",
                "Delete",
                "Bound",
                &format!("statefulset01/data-statefulset-nginx-{ordinal}"),
                "local-path"
            ]
        );
    }

    // -o wide: pod IPs from the node's pod CIDR, on the simulated node.
    let wide = kubectl.ok(&["get", "pod", "-o", "wide"]).await;
    for row in rows(&wide, "statefulset-nginx-") {
        assert!(row[5].starts_with("10.244."), "{row:?}");
        assert_eq!(row[6], "node-a", "{row:?}");
    }

    // describe: the objects, and the events the controllers and kubelet recorded.
    let field = |text: &str, name: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
            .map(|value| value.trim().to_owned())
            .unwrap_or_else(|| panic!("no {name:?} in:\n{text}"))
    };
    let described = kubectl.ok(&["describe", "statefulset", "statefulset-nginx"]).await;
    assert_eq!(field(&described, "Name"), "statefulset-nginx");
    assert_eq!(field(&described, "Namespace"), "statefulset01");
    assert_eq!(field(&described, "Replicas"), "3 desired | 3 total");
    assert!(field(&described, "Pods Status").starts_with("3 Running"), "{described}");
    assert!(
        described
            .contains("create Pod statefulset-nginx-0 in StatefulSet statefulset-nginx successful"),
        "{described}"
    );
    assert!(
        described.contains(
            "create Claim data-statefulset-nginx-0 Pod statefulset-nginx-0 in StatefulSet statefulset-nginx success"
        ),
        "{described}"
    );
    let described = kubectl.ok(&["describe", "pod", "statefulset-nginx-0"]).await;
    assert_eq!(field(&described, "Status"), "Running");
    assert!(field(&described, "Node").starts_with("node-a/"), "{described}");
    assert!(
        described.contains("Successfully assigned statefulset01/statefulset-nginx-0 to node-a")
    );
    let described = kubectl.ok(&["describe", "pvc", "data-statefulset-nginx-0"]).await;
    assert_eq!(field(&described, "Status"), "Bound");
    assert_eq!(field(&described, "StorageClass"), "local-path");

    // Deleting the set removes its pods (background cascade); the claims stay (Retain).
    assert_eq!(
        kubectl.ok(&["delete", "statefulset", "statefulset-nginx"]).await,
        "statefulset.apps \"statefulset-nginx\" deleted\n"
    );
    berth_testkit::cluster::eventually("the pods to be gone", || async {
        let (_, stdout, _) = kubectl.run(&["get", "pod"]).await;
        (!stdout.contains("statefulset-nginx-")).then_some(())
    })
    .await;
    assert_eq!(rows(&kubectl.ok(&["get", "pvc"]).await, "data-statefulset-nginx-").len(), 3);
    berth.stop().await;
}
