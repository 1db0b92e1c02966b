//! Cluster policies through real kubectl against `berth server --runtime simulated`.
//! - PriorityClasses: the system classes every cluster has, `create priorityclass` (a protobuf
//!   body) and its server-side errors, the table `get pc` prints, and the priority admission
//!   gives the pods of a StatefulSet whose template names a class.
//! - NetworkPolicies: stored and served (nothing enforces them, as in a cluster whose network
//!   plugin does not): `apply`, the defaults, `get netpol`, `describe`, a refused manifest.

use std::path::Path;

use berth_testkit::kubectl::{BerthProcess, Kubectl};

const SET: &str = "apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web}
spec:
  replicas: 2
  serviceName: web
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      priorityClassName: high
      containers: [{name: nginx, image: 'registry.k8s.io/nginx-slim:0.21'}]
";

/// `berth server --runtime simulated` with its data under `dir`, and kubectl for it.
async fn simulated(dir: &Path) -> (BerthProcess, Option<Kubectl>) {
    let binary = env!("CARGO_BIN_EXE_berth").as_ref();
    let berth = BerthProcess::start(binary, &dir.join("data"), &["--runtime", "simulated"]).await;
    let kubectl = Kubectl::new(&berth.kubeconfig());
    (berth, kubectl)
}

/// The table without its AGE column (the fourth), one line per row, as kubectl aligns it.
fn without_age(table: &str) -> Vec<Vec<String>> {
    table
        .lines()
        .map(|line| {
            let mut cells: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
            cells.remove(3);
            cells
        })
        .collect()
}

#[tokio::test]
async fn priority_classes_set_the_priority_of_pods() {
    let dir = tempfile::tempdir().unwrap();
    let (_berth, kubectl) = simulated(dir.path()).await;
    let Some(kubectl) = kubectl else { return };

    // kube-apiserver's columns: NAME VALUE GLOBAL-DEFAULT AGE PREEMPTIONPOLICY.
    let table = kubectl.ok(&["get", "pc"]).await;
    assert!(
        table.starts_with(
            "NAME                      VALUE        GLOBAL-DEFAULT   AGE   PREEMPTIONPOLICY\n"
        ),
        "{table}"
    );
    assert_eq!(
        without_age(&table)[1..],
        [
            ["system-cluster-critical", "2000000000", "false", "PreemptLowerPriority"],
            ["system-node-critical", "2000001000", "false", "PreemptLowerPriority"],
        ],
        "{table}"
    );

    // kubectl 1.33 sends the class as protobuf.
    let created = kubectl
        .ok(&[
            "create",
            "priorityclass",
            "high",
            "--value=1000",
            "--description=latency-sensitive",
            "--preemption-policy=Never",
        ])
        .await;
    assert_eq!(created, "priorityclass.scheduling.k8s.io/high created\n");
    let shown = kubectl
        .ok(&["get", "pc", "high", "-o", "jsonpath={.value} {.preemptionPolicy} {.description}"])
        .await;
    assert_eq!(shown, "1000 Never latency-sensitive");
    let (ok, _, stderr) =
        kubectl.run(&["create", "priorityclass", "system-mine", "--value=1"]).await;
    assert!(!ok);
    assert_eq!(
        stderr,
        "error: failed to create priorityclass: PriorityClass.scheduling.k8s.io \"system-mine\" is invalid: metadata.name: Forbidden: priority class names with 'system-' prefix are reserved for system use only. error: system-mine is not a known system priority class\n"
    );
    let (ok, _, stderr) =
        kubectl.run(&["create", "priorityclass", "huge", "--value=1000000001"]).await;
    assert!(!ok);
    assert_eq!(
        stderr,
        "error: failed to create priorityclass: PriorityClass.scheduling.k8s.io \"huge\" is invalid: value: Forbidden: maximum allowed value of a user defined priority is 1000000000\n"
    );
    kubectl.ok(&["create", "priorityclass", "usual", "--value=10", "--global-default"]).await;
    let (ok, _, stderr) =
        kubectl.run(&["create", "priorityclass", "other", "--value=5", "--global-default"]).await;
    assert!(!ok);
    assert_eq!(
        stderr,
        "error: failed to create priorityclass: priorityclasses.scheduling.k8s.io \"other\" is forbidden: PriorityClass usual is already marked as default. Only one default can exist\n"
    );
    let (ok, _, stderr) = kubectl.run(&["patch", "pc", "high", "-p", r#"{"value": 1}"#]).await;
    assert!(!ok);
    assert_eq!(
        stderr,
        "The PriorityClass \"high\" is invalid: value: Forbidden: may not be changed in an update.\n"
    );

    // The StatefulSet controller's pods get the class's priority at create.
    kubectl.apply(SET).await;
    kubectl.ok(&["rollout", "status", "statefulset/web", "--timeout=60s"]).await;
    let priorities = kubectl
        .ok(&[
            "get",
            "pods",
            "-l",
            "app=web",
            "-o",
            "jsonpath={range .items[*]}{.metadata.name}={.spec.priority}/{.spec.preemptionPolicy} {end}",
        ])
        .await;
    assert_eq!(priorities, "web-0=1000/Never web-1=1000/Never ");
    // A pod that names no class gets the default one.
    kubectl.ok(&["run", "lone", "--image=registry.k8s.io/nginx-slim:0.21"]).await;
    let lone = kubectl
        .ok(&["get", "pod", "lone", "-o", "jsonpath={.spec.priorityClassName}={.spec.priority}"])
        .await;
    assert_eq!(lone, "usual=10");
}

const POLICY: &str = "apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: web}}}]
    ports: [{port: 5432}]
  egress:
  - to: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}}]
";

#[tokio::test]
async fn network_policies_are_stored_and_printed() {
    let dir = tempfile::tempdir().unwrap();
    let (_berth, kubectl) = simulated(dir.path()).await;
    let Some(kubectl) = kubectl else { return };

    kubectl.apply(POLICY).await;
    let defaulted = kubectl
        .ok(&[
            "get",
            "netpol",
            "db",
            "-o",
            "jsonpath={.spec.policyTypes} {.spec.ingress[0].ports[0].protocol}",
        ])
        .await;
    assert_eq!(defaulted, r#"["Ingress","Egress"] TCP"#);
    let everything = "apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all}
spec: {}
";
    kubectl.apply(everything).await;
    // kube-apiserver's columns: NAME POD-SELECTOR AGE; an empty selector is <none>.
    let table = kubectl.ok(&["get", "networkpolicies"]).await;
    let rows: Vec<Vec<&str>> =
        table.lines().map(|line| line.split_whitespace().take(2).collect()).collect();
    assert_eq!(
        rows,
        [vec!["NAME", "POD-SELECTOR"], vec!["db", "app=db"], vec!["deny-all", "<none>"]],
        "{table}"
    );
    let described = kubectl.ok(&["describe", "netpol", "db"]).await;
    assert!(described.contains("PodSelector:     app=db"), "{described}");
    assert!(described.contains("Policy Types: Ingress, Egress"), "{described}");

    let broken = "apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: broken}
spec:
  podSelector: {}
  ingress: [{from: [{}], ports: [{port: 70000}]}]
";
    let (ok, _, stderr) = kubectl.run_with_stdin(&["apply", "-f", "-"], broken).await;
    assert!(!ok);
    assert_eq!(
        stderr,
        "The NetworkPolicy \"broken\" is invalid: \n* spec.ingress[0].ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive\n* spec.ingress[0].from[0]: Required value: must specify a peer\n"
    );
}
