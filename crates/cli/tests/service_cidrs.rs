//! ServiceCIDRs and IPAddresses (networking.k8s.io/v1) through real kubectl against
//! `berth server --runtime simulated`: the default `kubernetes` ServiceCIDR, the IPAddress
//! every cluster IP is recorded by (created with its Service, deleted with it), an IPAddress
//! a user creates reserving its IP, a second ServiceCIDR extending the range (the servicecidrs
//! controller's finalizer and condition, its deletion waiting for the IPs in it), and refused
//! manifests.

use std::path::Path;

use berth_testkit::kubectl::{BerthProcess, Kubectl};

/// `berth server --runtime simulated` with its data under `dir`, and kubectl for it.
async fn simulated(dir: &Path) -> (BerthProcess, Option<Kubectl>) {
    let binary = env!("CARGO_BIN_EXE_berth").as_ref();
    let berth = BerthProcess::start(binary, &dir.join("data"), &["--runtime", "simulated"]).await;
    let kubectl = Kubectl::new(&berth.kubeconfig());
    (berth, kubectl)
}

/// Runs `kubectl args` until it prints `want` (stdout, then stderr); what it printed last.
async fn eventually(kubectl: &Kubectl, args: &[&str], want: &str) -> String {
    let last = kubectl.poll(args, |(_, stdout, stderr)| format!("{stdout}{stderr}") == want).await;
    format!("{}{}", last.1, last.2)
}

/// The cells of each line of a table, as kubectl aligns them.
fn cells(table: &str) -> Vec<Vec<String>> {
    table.lines().map(|line| line.split_whitespace().map(str::to_owned).collect()).collect()
}

#[tokio::test]
async fn cluster_ips_are_recorded_as_ip_addresses() {
    let dir = tempfile::tempdir().unwrap();
    let (_berth, kubectl) = simulated(dir.path()).await;
    let Some(kubectl) = kubectl else { return };

    // The default ServiceCIDR, Ready as the default-servicecidr controller sets it.
    let table = kubectl.ok(&["get", "servicecidr"]).await;
    let rows = cells(&table);
    assert_eq!(rows[0], ["NAME", "CIDRS", "AGE"], "{table}");
    assert_eq!(rows[1][..2], ["kubernetes", "10.96.0.0/12"], "{table}");
    assert_eq!(rows.len(), 2, "{table}");
    let ready = kubectl
        .ok(&[
            "get",
            "servicecidr",
            "kubernetes",
            "-o",
            "jsonpath={.status.conditions[0].type}={.status.conditions[0].status}",
        ])
        .await;
    assert_eq!(ready, "Ready=True");

    // The kubernetes Service's IP, printed as printIPAddress prints it.
    let table = kubectl.ok(&["get", "ipaddress", "10.96.0.1"]).await;
    assert_eq!(
        table, "NAME        PARENTREF\n10.96.0.1   services/default/kubernetes\n",
        "{table}"
    );
    assert_eq!(
        kubectl.ok(&["get", "ip", "10.96.0.1", "-o", "jsonpath={.metadata.labels}"]).await,
        r#"{"ipaddress.kubernetes.io/ip-family":"IPv4","ipaddress.kubernetes.io/managed-by":"ipallocator.k8s.io"}"#
    );

    // A Service's IP is an IPAddress naming it, gone with it.
    kubectl.ok(&["create", "service", "clusterip", "web", "--tcp=80:8080"]).await;
    let ip = kubectl.ok(&["get", "service", "web", "-o", "jsonpath={.spec.clusterIP}"]).await;
    let parent = kubectl.ok(&["get", "ipaddress", &ip, "-o", "jsonpath={.spec.parentRef}"]).await;
    assert_eq!(parent, r#"{"group":"","name":"web","namespace":"default","resource":"services"}"#);
    let managers = kubectl
        .ok(&[
            "get",
            "ipaddress",
            &ip,
            "--show-managed-fields",
            "-o",
            "jsonpath={.metadata.managedFields[*].manager}",
        ])
        .await;
    assert_eq!(managers, "kube-apiserver");
    kubectl.ok(&["delete", "service", "web"]).await;
    let (found, _, stderr) = kubectl.run(&["get", "ipaddress", &ip]).await;
    assert!(!found);
    assert_eq!(
        stderr,
        format!("Error from server (NotFound): ipaddresses.networking.k8s.io \"{ip}\" not found\n")
    );

    // An IPAddress a user creates reserves its IP.
    let reserved = "apiVersion: networking.k8s.io/v1
kind: IPAddress
metadata: {name: 10.96.0.50}
spec:
  parentRef: {group: gateway.networking.k8s.io, resource: gateways, namespace: default, name: gw}
";
    kubectl.apply(reserved).await;
    let table = kubectl.ok(&["get", "ipaddress", "10.96.0.50"]).await;
    assert_eq!(
        table,
        "NAME         PARENTREF\n10.96.0.50   gateways.gateway.networking.k8s.io/default/gw\n"
    );
    let (ok, _, stderr) = kubectl
        .run(&["create", "service", "clusterip", "taken", "--tcp=80:80", "--clusterip=10.96.0.50"])
        .await;
    assert!(!ok);
    assert_eq!(
        stderr,
        "error: failed to create ClusterIP service: Service \"taken\" is invalid: spec.clusterIPs: Invalid value: []string{\"10.96.0.50\"}: failed to allocate IP 10.96.0.50: provided IP is already allocated\n"
    );
    let (ok, _, stderr) = kubectl
        .run(&["create", "service", "clusterip", "far", "--tcp=80:80", "--clusterip=10.200.0.5"])
        .await;
    assert!(!ok);
    assert_eq!(
        stderr,
        "error: failed to create ClusterIP service: Service \"far\" is invalid: spec.clusterIPs: Invalid value: []string{\"10.200.0.5\"}: failed to allocate IP 10.200.0.5: the provided network does not match the current range\n"
    );

    // A second ServiceCIDR extends the range.
    let extra = "apiVersion: networking.k8s.io/v1
kind: ServiceCIDR
metadata: {name: extra}
spec: {cidrs: [10.200.0.0/24]}
";
    kubectl.apply(extra).await;
    kubectl
        .ok(&["create", "service", "clusterip", "far", "--tcp=80:80", "--clusterip=10.200.0.5"])
        .await;
    let table = kubectl.ok(&["get", "ipaddress", "10.200.0.5"]).await;
    assert_eq!(table, "NAME         PARENTREF\n10.200.0.5   services/default/far\n");
    let table = kubectl.ok(&["get", "servicecidrs"]).await;
    let rows: Vec<Vec<String>> = cells(&table).into_iter().map(|row| row[..2].to_vec()).collect();
    assert_eq!(
        rows,
        [["NAME", "CIDRS"], ["extra", "10.200.0.0/24"], ["kubernetes", "10.96.0.0/12"]],
        "{table}"
    );

    // The servicecidrs controller: the finalizer and Ready on every ServiceCIDR (the default's
    // message replaced by its forced apply, as upstream).
    let state = "jsonpath={.metadata.finalizers} {.status.conditions[0].status} {.status.conditions[0].reason} {.status.conditions[0].message}";
    for name in ["extra", "kubernetes"] {
        let shown = eventually(
            &kubectl,
            &["get", "servicecidr", name, "-o", state],
            r#"["networking.k8s.io/service-cidr-finalizer"] True  Kubernetes Service CIDR is ready"#,
        )
        .await;
        assert_eq!(
            shown,
            r#"["networking.k8s.io/service-cidr-finalizer"] True  Kubernetes Service CIDR is ready"#
        );
    }
    // Deleted while a Service's IP is in it: it stays, Terminating, and gives no more IPs.
    kubectl.ok(&["delete", "servicecidr", "extra", "--wait=false"]).await;
    let terminating = r#"["networking.k8s.io/service-cidr-finalizer"] False Terminating There are still IPAddresses referencing the ServiceCIDR, please remove them or create a new ServiceCIDR"#;
    let shown =
        eventually(&kubectl, &["get", "servicecidr", "extra", "-o", state], terminating).await;
    assert_eq!(shown, terminating);
    let (ok, _, stderr) = kubectl
        .run(&["create", "service", "clusterip", "near", "--tcp=80:80", "--clusterip=10.200.0.6"])
        .await;
    assert!(!ok);
    assert!(stderr.ends_with("failed to allocate IP 10.200.0.6: the provided network does not match the current range\n"), "{stderr}");
    // Once no IP would be orphaned, it goes (after the 10 s grace period).
    kubectl.ok(&["delete", "service", "far"]).await;
    tokio::time::sleep(std::time::Duration::from_secs(8)).await;
    let gone = "Error from server (NotFound): servicecidrs.networking.k8s.io \"extra\" not found\n";
    let shown = eventually(&kubectl, &["get", "servicecidr", "extra", "-o", "name"], gone).await;
    assert_eq!(shown, gone);
}

#[tokio::test]
async fn invalid_objects_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_berth, kubectl) = simulated(dir.path()).await;
    let Some(kubectl) = kubectl else { return };

    let refused = |manifest: &'static str| {
        let kubectl = &kubectl;
        async move {
            let (ok, _, stderr) = kubectl.run_with_stdin(&["apply", "-f", "-"], manifest).await;
            assert!(!ok, "{manifest}");
            stderr
        }
    };
    assert_eq!(
        refused(
            "apiVersion: networking.k8s.io/v1
kind: IPAddress
metadata: {name: 10.96.0.050}
spec: {parentRef: {resource: services, name: web}}
"
        )
        .await,
        "The IPAddress \"10.96.0.050\" is invalid: metadata.name: Invalid value: \"10.96.0.050\": must not have leading 0s\n"
    );
    assert_eq!(
        refused(
            "apiVersion: networking.k8s.io/v1
kind: IPAddress
metadata: {name: 'fd00:0::1'}
spec: {parentRef: {resource: services, name: web}}
"
        )
        .await,
        "The IPAddress \"fd00:0::1\" is invalid: metadata.name: Invalid value: \"fd00:0::1\": must be in canonical form (\"fd00::1\")\n"
    );
    assert_eq!(
        refused(
            "apiVersion: networking.k8s.io/v1
kind: IPAddress
metadata: {name: 10.96.0.60}
spec: {}
"
        )
        .await,
        "The IPAddress \"10.96.0.60\" is invalid: spec.parentRef: Required value\n"
    );
    assert_eq!(
        refused(
            "apiVersion: networking.k8s.io/v1
kind: ServiceCIDR
metadata: {name: two}
spec: {cidrs: [10.1.0.0/16, 10.2.0.0/16]}
"
        )
        .await,
        "The ServiceCIDR \"two\" is invalid: spec.cidrs: Invalid value: []string{\"10.1.0.0/16\", \"10.2.0.0/16\"}: may specify no more than one IP for each IP family, i.e 192.168.0.0/24 and 2001:db8::/64\n"
    );
    let (ok, _, stderr) = kubectl
        .run(&[
            "patch",
            "servicecidr",
            "kubernetes",
            "--type=merge",
            "-p",
            r#"{"spec":{"cidrs":["10.97.0.0/16"]}}"#,
        ])
        .await;
    assert!(!ok);
    assert_eq!(
        stderr,
        "The ServiceCIDR \"kubernetes\" is invalid: spec.cidrs[0]: Invalid value: \"10.97.0.0/16\": field is immutable\n"
    );
    // The parent of an IPAddress is set once.
    let (ok, _, stderr) = kubectl
        .run(&[
            "patch",
            "ipaddress",
            "10.96.0.1",
            "--type=merge",
            "-p",
            r#"{"spec":{"parentRef":{"name":"other"}}}"#,
        ])
        .await;
    assert!(!ok);
    assert_eq!(
        stderr,
        "The IPAddress \"10.96.0.1\" is invalid: spec.parentRef: Invalid value: networking.ParentReference{Group:\"\", Resource:\"services\", Namespace:\"default\", Name:\"other\"}: field is immutable\n"
    );
}

/// A data dir from before IPAddress objects kept each cluster IP as a private key holding its
/// Service's uid: at start, the keys whose Service still exists become IPAddresses and every
/// old key goes.
#[tokio::test]
async fn old_ip_records_are_migrated_at_start() {
    use berth_store::{RangeRequest, SqliteStore, Store};

    const OLD: &str = "/registry/berth.dev/serviceips/";
    const IPS: &str = "/registry/networking.k8s.io/ipaddresses/";
    let dir = tempfile::tempdir().unwrap();
    let (berth, kubectl) = simulated(dir.path()).await;
    let Some(kubectl) = kubectl else { return };
    kubectl
        .ok(&["create", "service", "clusterip", "web", "--tcp=80:80", "--clusterip=10.96.0.77"])
        .await;
    let uid = kubectl.ok(&["get", "service", "web", "-o", "jsonpath={.metadata.uid}"]).await;
    berth.stop().await;

    // Rewrite the records as the old server kept them.
    let path = dir.path().join("data").join("store.db");
    {
        let store = SqliteStore::open(&path).unwrap();
        store.delete(&format!("{IPS}10.96.0.77"), None).await.unwrap();
        store.create(&format!("{OLD}10.96.0.77"), uid.clone().into()).await.unwrap();
        store.create(&format!("{OLD}10.96.0.78"), "uid-of-a-deleted-service".into()).await.unwrap();
    }

    let (berth, kubectl) = simulated(dir.path()).await;
    let kubectl = kubectl.unwrap();
    assert_eq!(
        kubectl.ok(&["get", "ipaddress", "10.96.0.77"]).await,
        "NAME         PARENTREF\n10.96.0.77   services/default/web\n"
    );
    let (found, _, _) = kubectl.run(&["get", "ipaddress", "10.96.0.78"]).await;
    assert!(!found);
    // The migrated record holds the IP for its Service, and goes with it.
    let (ok, _, stderr) = kubectl
        .run(&["create", "service", "clusterip", "other", "--tcp=80:80", "--clusterip=10.96.0.77"])
        .await;
    assert!(!ok);
    assert!(stderr.ends_with("provided IP is already allocated\n"), "{stderr}");
    kubectl.ok(&["delete", "service", "web"]).await;
    let (found, _, _) = kubectl.run(&["get", "ipaddress", "10.96.0.77"]).await;
    assert!(!found);
    berth.stop().await;

    let store = SqliteStore::open(&path).unwrap();
    let old = store.range(&RangeRequest::prefix(OLD)).await.unwrap();
    assert!(old.kvs.is_empty(), "{:?}", old.kvs);
}
