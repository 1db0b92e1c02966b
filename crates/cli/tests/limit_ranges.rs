//! LimitRanges and the LimitRanger admission plugin through real kubectl against `berth server
//! --runtime simulated`: `create -f`, the table `get limits` prints, `describe limitrange`, the
//! requests and limits a pod without any gets (and the annotation that says so), the pods and
//! claims over a limit refused, a refused LimitRange, and the defaults a ReplicaSet's pods get
//! through the same create path.

use berth_testkit::kubectl::{BerthProcess, Kubectl};

const LIMITS: &str = "apiVersion: v1
kind: LimitRange
metadata: {name: limits}
spec:
  limits:
  - type: Container
    min: {cpu: 100m}
    max: {cpu: '1', memory: 1Gi}
    default: {cpu: 500m, memory: 512Mi}
    defaultRequest: {cpu: 200m, memory: 256Mi}
  - type: Pod
    max: {cpu: '2'}
  - type: PersistentVolumeClaim
    max: {storage: 10Gi}
";

const NGINX: &str = "apiVersion: v1
kind: Pod
metadata: {name: nginx}
spec:
  containers: [{name: nginx, image: 'registry.k8s.io/nginx-slim:0.21'}]
";

const BIG: &str = "apiVersion: v1
kind: Pod
metadata: {name: big}
spec:
  containers:
  - name: big
    image: 'registry.k8s.io/nginx-slim:0.21'
    resources: {requests: {cpu: 50m}, limits: {memory: 2Gi}}
";

const CLAIM: &str = "apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 20Gi}}
";

const BROKEN: &str = "apiVersion: v1
kind: LimitRange
metadata: {name: broken}
spec:
  limits:
  - type: Pod
    max: {cpu: '2'}
    default: {cpu: '1'}
";

const SET: &str = "apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: 'registry.k8s.io/nginx-slim:0.21'}]}
";

const ANNOTATION: &str = "jsonpath={.metadata.annotations.kubernetes\\.io/limit-ranger}";

#[tokio::test]
async fn limit_ranges_default_and_bound_what_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let berth = BerthProcess::start(
        env!("CARGO_BIN_EXE_berth").as_ref(),
        &dir.path().join("data"),
        &["--runtime", "simulated"],
    )
    .await;
    let Some(kubectl) = Kubectl::new(&berth.kubeconfig()) else { return };

    let created = kubectl.run_with_stdin(&["create", "-f", "-"], LIMITS).await;
    assert_eq!(created, (true, "limitrange/limits created\n".to_owned(), String::new()));

    // The generic table (`NAME CREATED AT`, RFC 3339), under the short name `limits`.
    let at = ["get", "limitrange", "limits", "-o", "jsonpath={.metadata.creationTimestamp}"];
    let at = kubectl.ok(&at).await;
    assert_eq!(
        kubectl.ok(&["get", "limits"]).await,
        format!("NAME     CREATED AT\nlimits   {at}\n")
    );

    // `SetDefaults_LimitRangeItem` filled nothing more here (the Container item states its
    // defaults); kubectl describes the object as it reads it, a Container item's resources in
    // Go's map order, which varies.
    let described = kubectl.ok(&["describe", "limitrange", "limits"]).await;
    let head = "Name:                  limits
Namespace:             default
Type                   Resource  Min   Max   Default Request  Default Limit  Max Limit/Request Ratio
----                   --------  ---   ---   ---------------  -------------  -----------------------
";
    let cpu = "Container              cpu       100m  1     200m             500m           -\n";
    let memory = "Container              memory    -     1Gi   256Mi            512Mi          -\n";
    let rest = "Pod                    cpu       -     2     -                -              -
PersistentVolumeClaim  storage   -     10Gi  -                -              -
";
    let orders = [format!("{head}{cpu}{memory}{rest}"), format!("{head}{memory}{cpu}{rest}")];
    assert!(orders.contains(&described), "{described}");

    // A pod without requests or limits gets the defaults, and the annotation says so; its QoS
    // class follows from them.
    let created = kubectl.run_with_stdin(&["create", "-f", "-"], NGINX).await;
    assert_eq!(created, (true, "pod/nginx created\n".to_owned(), String::new()));
    assert_eq!(
        kubectl.ok(&["get", "pod", "nginx", "-o", ANNOTATION]).await,
        "LimitRanger plugin set: cpu, memory request for container nginx; cpu, memory limit for container nginx"
    );
    let resources = ["get", "pod", "nginx", "-o", "jsonpath={.spec.containers[0].resources}"];
    assert_eq!(
        kubectl.ok(&resources).await,
        r#"{"limits":{"cpu":"500m","memory":"512Mi"},"requests":{"cpu":"200m","memory":"256Mi"}}"#
    );
    let qos = kubectl.ok(&["get", "pod", "nginx", "-o", "jsonpath={.status.qosClass}"]).await;
    assert_eq!(qos, "Burstable");

    // A pod over the Container item's bounds (once defaulted) is refused, naming each one.
    let (ok, _, stderr) = kubectl.run_with_stdin(&["create", "-f", "-"], BIG).await;
    assert!(!ok);
    assert_eq!(
        stderr,
        "Error from server (Forbidden): error when creating \"STDIN\": pods \"big\" is forbidden: [minimum cpu usage per Container is 100m, but request is 50m, maximum memory usage per Container is 1Gi, but limit is 2Gi]\n"
    );
    // So is a claim over the PersistentVolumeClaim item's max.
    let (ok, _, stderr) = kubectl.run_with_stdin(&["create", "-f", "-"], CLAIM).await;
    assert!(!ok);
    assert_eq!(
        stderr,
        "Error from server (Forbidden): error when creating \"STDIN\": persistentvolumeclaims \"data\" is forbidden: maximum storage usage per PersistentVolumeClaim is 10Gi, but request is 20Gi\n"
    );

    // A LimitRange that breaks `ValidateLimitRange`.
    let (ok, _, stderr) = kubectl.run_with_stdin(&["create", "-f", "-"], BROKEN).await;
    assert!(!ok);
    assert_eq!(
        stderr,
        "The LimitRange \"broken\" is invalid: spec.limits[0].default: Forbidden: may not be specified when `type` is 'Pod'\n"
    );

    // A controller's pods take the same create path: a ReplicaSet's pod gets the defaults.
    kubectl.apply(SET).await;
    let pods = [
        "get",
        "pods",
        "-l",
        "app=web",
        "-o",
        "jsonpath={.items[*].metadata.annotations.kubernetes\\.io/limit-ranger}",
    ];
    let want = "LimitRanger plugin set: cpu, memory request for container web; cpu, memory limit for container web";
    let (ok, last, stderr) = kubectl.poll(&pods, |(ok, stdout, _)| *ok && !stdout.is_empty()).await;
    assert!(ok, "{stderr}");
    assert_eq!(last, want);
}
