//! Cluster policies through real kubectl against `berth server --runtime simulated`.
//! - PriorityClasses: the system classes every cluster has, `create priorityclass` (a protobuf
//!   body) and its server-side errors, the table `get pc` prints, and the priority admission
//!   gives the pods of a StatefulSet whose template names a class.
//! - NetworkPolicies: stored and served (nothing enforces them, as in a cluster whose network
//!   plugin does not): `apply`, the defaults, `get netpol`, `describe`, a refused manifest.
//! - Ingresses and IngressClasses: stored and served (nothing routes them, as in a cluster
//!   without an ingress controller): `create ingress` (a protobuf body), the default class the
//!   admission gives, `get ing` and `get ingressclass`, `describe`, the status a controller
//!   would write, and refused manifests.

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

const INGRESS_CLASS: &str = "apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata:
  name: nginx
  annotations: {ingressclass.kubernetes.io/is-default-class: 'true'}
spec:
  controller: k8s.io/ingress-nginx
  parameters: {apiGroup: k8s.example.com, kind: IngressParameters, name: external-lb}
";

#[tokio::test]
async fn ingresses_and_their_classes_are_stored_and_printed() {
    let dir = tempfile::tempdir().unwrap();
    let (_berth, kubectl) = simulated(dir.path()).await;
    let Some(kubectl) = kubectl else { return };

    // No default class yet: the Ingress names none.
    let rules = ["--rule=foo.com/=svc:80,tls=cert", "--rule=bar.com/api*=api:http"];
    kubectl.ok(&[&["create", "ingress", "web"][..], &rules].concat()).await;
    let class = ["-o", "jsonpath={.spec.ingressClassName}"];
    assert_eq!(kubectl.ok(&[&["get", "ing", "web"][..], &class].concat()).await, "");
    let created = kubectl
        .ok(&["get", "ing", "web", "-o", "jsonpath={.spec.rules[1].http.paths[0]} {.status}"])
        .await;
    assert_eq!(
        created,
        r#"{"backend":{"service":{"name":"api","port":{"name":"http"}}},"path":"/api","pathType":"Prefix"} {"loadBalancer":{}}"#
    );

    // The default class goes to the Ingresses created after it, not to those before.
    kubectl.apply(INGRESS_CLASS).await;
    let scope =
        kubectl.ok(&["get", "ingressclass", "nginx", "-o", "jsonpath={.spec.parameters.scope}"]);
    assert_eq!(scope.await, "Cluster", "SetDefaults_IngressClass");
    kubectl.ok(&["create", "ingress", "catch-all", "--default-backend=web:80"]).await;
    assert_eq!(kubectl.ok(&[&["get", "ing", "catch-all"][..], &class].concat()).await, "nginx");
    assert_eq!(kubectl.ok(&[&["get", "ing", "web"][..], &class].concat()).await, "");
    let annotated = "apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: legacy, annotations: {kubernetes.io/ingress.class: traefik}}
spec: {defaultBackend: {service: {name: web, port: {number: 80}}}}
";
    let (ok, _, stderr) = kubectl.run_with_stdin(&["apply", "-f", "-"], annotated).await;
    assert!(ok, "{stderr}");
    assert_eq!(
        stderr,
        "Warning: annotation \"kubernetes.io/ingress.class\" is deprecated, please use 'spec.ingressClassName' instead\n"
    );
    assert_eq!(kubectl.ok(&[&["get", "ing", "legacy"][..], &class].concat()).await, "");

    // What an ingress controller writes to the status shows as the ADDRESS.
    let status = r#"{"status":{"loadBalancer":{"ingress":[{"ip":"10.0.0.9"},{"hostname":"lb.example.com"}]}}}"#;
    kubectl
        .ok(&["patch", "ing", "web", "--subresource=status", "--type=merge", "-p", status])
        .await;
    // kube-apiserver's columns: NAME CLASS HOSTS ADDRESS PORTS AGE.
    let table = kubectl.ok(&["get", "ing"]).await;
    let rows: Vec<Vec<&str>> = table
        .lines()
        .map(|line| line.split("   ").map(str::trim).filter(|c| !c.is_empty()).collect())
        .collect();
    assert_eq!(
        // Without the AGE column (the last).
        rows.iter().map(|row| row[..row.len() - 1].to_vec()).collect::<Vec<_>>(),
        [
            vec!["NAME", "CLASS", "HOSTS", "ADDRESS", "PORTS"],
            vec!["catch-all", "nginx", "*", "80"],
            vec!["legacy", "<none>", "*", "80"],
            vec!["web", "<none>", "foo.com,bar.com", "10.0.0.9,lb.example.com", "80, 443"],
        ],
        "{table}"
    );
    let classes = kubectl.ok(&["get", "ingressclasses"]).await;
    assert_eq!(
        without_age(&classes),
        [
            vec!["NAME", "CONTROLLER", "PARAMETERS"],
            vec!["nginx", "k8s.io/ingress-nginx", "IngressParameters.k8s.example.com/external-lb"],
        ],
        "{classes}"
    );
    let described = kubectl.ok(&["describe", "ing", "web"]).await;
    assert!(described.contains("Address:          10.0.0.9,lb.example.com"), "{described}");
    assert!(described.contains("cert terminates foo.com"), "{described}");
    assert!(
        described.contains("/api   api:http (<error: services \"api\" not found>)"),
        "{described}"
    );

    // Server-side errors, as kubectl prints them.
    let (ok, _, stderr) =
        kubectl.run(&["create", "ingress", "bad", "--rule=10.0.0.1/=svc:80"]).await;
    assert!(!ok);
    assert_eq!(
        stderr,
        "error: failed to create ingress: Ingress.networking.k8s.io \"bad\" is invalid: spec.rules[0].host: Invalid value: \"10.0.0.1\": must be a DNS name, not an IP address\n"
    );
    let broken = "apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: broken}
spec:
  rules: [{http: {paths: [{path: relative, pathType: Exact, backend: {service: {name: web}}}]}}]
";
    let (ok, _, stderr) = kubectl.run_with_stdin(&["apply", "-f", "-"], broken).await;
    assert!(!ok);
    assert_eq!(
        stderr,
        "The Ingress \"broken\" is invalid: \n* spec.rules[0].http.paths[0].path: Invalid value: \"relative\": must be an absolute path\n* spec.rules[0].http.paths[0].backend: Required value: port name or number is required\n"
    );
    let (ok, _, stderr) = kubectl
        .run(&[
            "patch",
            "ingressclass",
            "nginx",
            "--type=merge",
            "-p",
            r#"{"spec":{"controller":"example.com/other"}}"#,
        ])
        .await;
    assert!(!ok);
    assert_eq!(
        stderr,
        "The IngressClass \"nginx\" is invalid: spec.controller: Invalid value: \"example.com/other\": field is immutable\n"
    );
}
