//! PodDisruptionBudgets through real kubectl against `berth server --runtime simulated`:
//! `create pdb` (a protobuf body), the table `get pdb` prints, the status the disruption
//! controller keeps (and the field manager its User-Agent makes), and `drain`, whose evictions
//! the budget stops.

use berth_testkit::kubectl::{BerthProcess, Kubectl};

const SET: &str = "apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web}
spec:
  replicas: 3
  serviceName: web
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: nginx, image: 'registry.k8s.io/nginx-slim:0.21'}]}
";

/// Polls `kubectl get` with `args` until its output is `want` (trimmed); panics after 30 s.
async fn wait_for(kubectl: &Kubectl, args: &[&str], want: &str) {
    let last = kubectl.poll(args, |(ok, stdout, _)| *ok && stdout.trim() == want).await;
    assert!(last.0 && last.1.trim() == want, "kubectl {args:?} printed {last:?}, not {want:?}");
}

#[tokio::test]
async fn drain_stops_at_the_disruption_budget() {
    let dir = tempfile::tempdir().unwrap();
    let berth = BerthProcess::start(
        env!("CARGO_BIN_EXE_berth").as_ref(),
        &dir.path().join("data"),
        &["--runtime", "simulated"],
    )
    .await;
    let Some(kubectl) = Kubectl::new(&berth.kubeconfig()) else { return };
    kubectl.apply(SET).await;
    kubectl.ok(&["rollout", "status", "statefulset/web", "--timeout=60s"]).await;

    // kubectl 1.33 sends the budget as protobuf; kubectl checks the flags itself.
    let created =
        kubectl.ok(&["create", "pdb", "web", "--selector=app=web", "--min-available=2"]).await;
    assert_eq!(created, "poddisruptionbudget.policy/web created\n");
    let (ok, _, stderr) = kubectl
        .run(&[
            "create",
            "pdb",
            "both",
            "--selector=app=web",
            "--min-available=1",
            "--max-unavailable=1",
        ])
        .await;
    assert!(!ok);
    assert_eq!(stderr, "error: min-available and max-unavailable cannot be both specified\n");
    // The server's own validation, through a manifest.
    let (ok, _, stderr) = kubectl
        .run_with_stdin(
            &["create", "-f", "-"],
            "apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: bad}
spec: {maxUnavailable: 150%, selector: {matchLabels: {app: web}}}
",
        )
        .await;
    assert!(!ok);
    assert_eq!(
        stderr,
        "The PodDisruptionBudget \"bad\" is invalid: spec.maxUnavailable: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:\"150%\"}: must not be greater than 100%\n"
    );

    // The disruption controller counts three Ready pods against two needed.
    let status = "jsonpath={.status.currentHealthy}/{.status.desiredHealthy}/{.status.expectedPods}/{.status.disruptionsAllowed}";
    wait_for(&kubectl, &["get", "pdb", "web", "-o", status], "3/2/3/1").await;
    let table = kubectl.ok(&["get", "pdb"]).await;
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines[0], "NAME   MIN AVAILABLE   MAX UNAVAILABLE   ALLOWED DISRUPTIONS   AGE");
    assert!(
        lines[1].starts_with("web    2               N/A               1                     "),
        "{table}"
    );
    assert_eq!(lines.len(), 2, "{table}");
    // Updates without a fieldManager are attributed by User-Agent, as in a cluster: the
    // controllers are kube-controller-manager, the simulated nodes kubelet.
    let managers =
        "jsonpath={range .metadata.managedFields[*]}{.manager}:{.operation}:{.subresource} {end}";
    let budget = kubectl.ok(&["get", "pdb", "web", "--show-managed-fields", "-o", managers]).await;
    assert_eq!(budget, "kube-controller-manager:Update:status kubectl-create:Update: ", "{budget}");
    let pod = kubectl.ok(&["get", "pod", "web-0", "--show-managed-fields", "-o", managers]).await;
    assert_eq!(pod, "kube-controller-manager:Update: kubelet:Update:status ", "{pod}");

    // Draining the only node: one pod may go; its replacement cannot be scheduled on the
    // cordoned node, so the budget stops the other two until the timeout.
    let node = kubectl.ok(&["get", "pod", "web-0", "-o", "jsonpath={.spec.nodeName}"]).await;
    let (ok, stdout, stderr) =
        kubectl.run(&["drain", &node, "--ignore-daemonsets", "--timeout=12s"]).await;
    assert!(!ok, "drain finished despite the budget:\n{stdout}\n{stderr}");
    assert_eq!(stdout.matches(" evicted\n").count(), 1, "{stdout}\n{stderr}");
    assert!(
        stderr.contains("(will retry after 5s): Cannot evict pod as it would violate the pod's disruption budget."),
        "{stderr}"
    );
    wait_for(&kubectl, &["get", "pdb", "web", "-o", status], "2/2/3/0").await;
    // The evicted pod was marked before it went; its replacement waits for a node.
    let phases = kubectl
        .ok(&[
            "get",
            "pods",
            "-l",
            "app=web",
            "-o",
            "jsonpath={range .items[*]}{.status.phase} {end}",
        ])
        .await;
    assert_eq!(phases.matches("Running").count(), 2, "{phases}");
    assert_eq!(phases.matches("Pending").count(), 1, "{phases}");

    // Back in service, the replacement runs and the budget allows a disruption again.
    kubectl.ok(&["uncordon", &node]).await;
    wait_for(&kubectl, &["get", "pdb", "web", "-o", status], "3/2/3/1").await;
    berth.stop().await;
}
