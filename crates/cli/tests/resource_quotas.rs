//! ResourceQuotas through real kubectl against `berth server --runtime simulated`: `kubectl
//! create quota` (a protobuf body), the table `get quota` prints, `describe quota`, the quota
//! admission plugin charging `status.used` in the create's own request and refusing a pod over
//! the quota or without the requests it tracks, the quota controller taking usage back after a
//! delete, and a StatefulSet's pods beyond the quota not created (`FailedCreate`).

use berth_testkit::kubectl::{BerthProcess, Kubectl};

fn pod(name: &str, cpu: Option<&str>) -> String {
    let resources = cpu.map(|cpu| format!(", resources: {{requests: {{cpu: {cpu}}}}}"));
    format!(
        "apiVersion: v1
kind: Pod
metadata: {{name: {name}}}
spec:
  containers: [{{name: {name}, image: 'registry.k8s.io/nginx-slim:0.21'{}}}]
",
        resources.unwrap_or_default()
    )
}

const SET: &str = "apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web}
spec:
  replicas: 3
  podManagementPolicy: Parallel
  serviceName: web
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: 'registry.k8s.io/nginx-slim:0.21'
        resources: {requests: {cpu: 100m}}
";

const USED: &str = "jsonpath={.status.used.pods} {.status.used.requests\\.cpu}";

/// Polls `kubectl args` until it prints `want`; what it printed last.
async fn until(kubectl: &Kubectl, args: &[&str], want: &str) -> String {
    kubectl.poll(args, |(ok, stdout, _)| *ok && stdout == want).await.1
}

#[tokio::test]
async fn quotas_are_charged_enforced_and_replenished() {
    let dir = tempfile::tempdir().unwrap();
    let berth = BerthProcess::start(
        env!("CARGO_BIN_EXE_berth").as_ref(),
        &dir.path().join("data"),
        &["--runtime", "simulated"],
    )
    .await;
    let Some(kubectl) = Kubectl::new(&berth.kubeconfig()) else { return };

    // `kubectl create quota` sends protobuf; the controller fills the status at once.
    let created = kubectl.run(&["create", "quota", "q", "--hard=pods=2,requests.cpu=1"]).await;
    assert_eq!(created, (true, "resourcequota/q created\n".to_owned(), String::new()));
    assert_eq!(until(&kubectl, &["get", "quota", "q", "-o", USED], "0 0").await, "0 0");

    // `printResourceQuota`: every tracked resource as used/hard, limits in their own column.
    let table = kubectl.ok(&["get", "quota"]).await;
    let age = table.lines().nth(1).and_then(|row| row.split_whitespace().last()).unwrap();
    assert!(age.len() <= 3, "{table}");
    let lines: Vec<&str> = table.lines().map(str::trim_end).collect();
    assert_eq!(
        lines,
        [
            "NAME   REQUEST                        LIMIT   AGE".to_owned(),
            format!("q      pods: 0/2, requests.cpu: 0/1           {age}"),
        ]
    );
    assert_eq!(
        kubectl.ok(&["describe", "quota", "q"]).await,
        "Name:         q
Namespace:    default
Resource      Used  Hard
--------      ----  ----
pods          0     2
requests.cpu  0     1
"
    );

    // A pod that does not request the cpu the quota tracks is refused.
    let (ok, _, stderr) = kubectl.run_with_stdin(&["create", "-f", "-"], &pod("bare", None)).await;
    assert!(!ok);
    assert_eq!(
        stderr,
        "Error from server (Forbidden): error when creating \"STDIN\": pods \"bare\" is forbidden: failed quota: q: must specify requests.cpu for: bare\n"
    );

    // Two pods fit, and each create charges the quota in its own request.
    for name in ["a", "b"] {
        let created =
            kubectl.run_with_stdin(&["create", "-f", "-"], &pod(name, Some("200m"))).await;
        assert_eq!(created, (true, format!("pod/{name} created\n"), String::new()));
    }
    assert_eq!(kubectl.ok(&["get", "quota", "q", "-o", USED]).await, "2 400m");
    // The third is over the quota.
    let (ok, _, stderr) =
        kubectl.run_with_stdin(&["create", "-f", "-"], &pod("c", Some("200m"))).await;
    assert!(!ok);
    assert_eq!(
        stderr,
        "Error from server (Forbidden): error when creating \"STDIN\": pods \"c\" is forbidden: exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2\n"
    );
    // A dry run is refused alike and charges nothing.
    let (ok, _, stderr) = kubectl
        .run_with_stdin(&["create", "--dry-run=server", "-f", "-"], &pod("c", Some("200m")))
        .await;
    assert!(!ok, "{stderr}");

    // The controller gives back what a deleted pod used.
    kubectl.ok(&["delete", "pod", "a", "--grace-period=0", "--force"]).await;
    assert_eq!(until(&kubectl, &["get", "quota", "q", "-o", USED], "1 200m").await, "1 200m");
    assert_eq!(
        kubectl.ok(&["describe", "quota", "q"]).await,
        "Name:         q
Namespace:    default
Resource      Used  Hard
--------      ----  ----
pods          1     2
requests.cpu  200m  1
"
    );

    // A StatefulSet gets one pod of its three; the others fail to be created.
    kubectl.apply(SET).await;
    let events = [
        "get",
        "events",
        "--field-selector",
        "reason=FailedCreate,involvedObject.name=web",
        "-o",
        "jsonpath={.items[0].message}",
    ];
    let polled = kubectl.poll(&events, |(ok, stdout, _)| *ok && !stdout.is_empty()).await;
    let message = polled.1;
    let refused = regex_like_pod(&message);
    assert_eq!(
        message,
        format!(
            "create Pod {refused} in StatefulSet web failed error: pods \"{refused}\" is forbidden: exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2"
        )
    );
    let pods = ["get", "pods", "-l", "app=web", "-o", "jsonpath={.items[*].metadata.name}"];
    assert_eq!(kubectl.ok(&pods).await, "web-0");
    assert_eq!(kubectl.ok(&["get", "quota", "q", "-o", USED]).await, "2 300m");
}

/// The pod a StatefulSet `FailedCreate` message names (`create Pod web-1 in …`).
fn regex_like_pod(message: &str) -> String {
    message.strip_prefix("create Pod ").and_then(|m| m.split(' ').next()).unwrap_or("").to_owned()
}
