//! CustomResourceDefinitions and their custom resources through real kubectl against `berth
//! server --runtime simulated`, with the `CronTab` of Kubernetes' "Extend the Kubernetes API
//! with CustomResourceDefinitions" task: the CRD applied and established, its resource in
//! discovery (`api-resources`, the short name), instances created, listed with the CRD's
//! printer columns, read back, refused by the schema (a bound, a pattern, an unknown field),
//! patched (merge, JSON, the strategic merge kubectl falls back from), applied server-side,
//! scaled and given a status through their subresources, and removed with their CRD.

use berth_testkit::kubectl::{BerthProcess, Kubectl};

const CRD: &str = r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: crontabs.stable.example.com
spec:
  group: stable.example.com
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              properties:
                cronSpec:
                  type: string
                  pattern: '^(\d+|\*)(/\d+)?(\s+(\d+|\*)(/\d+)?){4}$'
                image:
                  type: string
                replicas:
                  type: integer
                  minimum: 1
                  maximum: 10
                  default: 1
                timezone:
                  type: string
                  x-kubernetes-validations:
                  - rule: self == oldSelf
                    message: Value is immutable
                ports:
                  type: array
                  x-kubernetes-list-type: map
                  x-kubernetes-list-map-keys: [name]
                  items:
                    type: object
                    required: [name]
                    properties:
                      name: {type: string}
                      port: {type: integer}
            status:
              type: object
              properties:
                replicas:
                  type: integer
                labelSelector:
                  type: string
      subresources:
        status: {}
        scale:
          specReplicasPath: .spec.replicas
          statusReplicasPath: .status.replicas
          labelSelectorPath: .status.labelSelector
      additionalPrinterColumns:
      - name: Spec
        type: string
        description: The cron spec defining the interval a CronJob is run
        jsonPath: .spec.cronSpec
      - name: Replicas
        type: integer
        description: The number of jobs launched by the CronJob
        jsonPath: .spec.replicas
      - name: Age
        type: date
        jsonPath: .metadata.creationTimestamp
  scope: Namespaced
  names:
    plural: crontabs
    singular: crontab
    kind: CronTab
    shortNames:
    - ct
"#;

const CRONTAB: &str = r#"apiVersion: "stable.example.com/v1"
kind: CronTab
metadata:
  name: my-new-cron-object
spec:
  cronSpec: "* * * * */5"
  image: my-awesome-cron-image
"#;

const TOO_MANY: &str = r#"apiVersion: "stable.example.com/v1"
kind: CronTab
metadata:
  name: too-many
spec:
  cronSpec: "* * * * */5"
  replicas: 20
"#;

const BAD_SPEC: &str = r#"apiVersion: "stable.example.com/v1"
kind: CronTab
metadata:
  name: bad-spec
spec:
  cronSpec: "every minute"
"#;

const UNKNOWN: &str = r#"apiVersion: "stable.example.com/v1"
kind: CronTab
metadata:
  name: unknown
spec:
  cronSpec: "* * * * */5"
  colour: blue
"#;

const APPLIED: &str = r#"apiVersion: "stable.example.com/v1"
kind: CronTab
metadata:
  name: applied
spec:
  cronSpec: "*/5 * * * *"
  image: server-side
  ports: [{name: http, port: 80}]
"#;

/// Another manager's port on the same object: the list merges by its key, as its schema says.
const SIDECAR: &str = r#"apiVersion: "stable.example.com/v1"
kind: CronTab
metadata:
  name: applied
spec:
  ports: [{name: metrics, port: 9090}]
"#;

/// Two versions, the older deprecated: objects are stored in v1 and served in either.
const GADGETS: &str = r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gadgets.example.berth.dev}
spec:
  group: example.berth.dev
  scope: Namespaced
  names: {plural: gadgets, singular: gadget, kind: Gadget}
  versions:
  - name: v1beta1
    served: true
    storage: false
    deprecated: true
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
  - name: v1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
"#;

const OLD_GADGET: &str = r#"apiVersion: example.berth.dev/v1beta1
kind: Gadget
metadata: {name: old}
spec: {colour: green}
"#;

/// `kubectl wait` for CRD `name` to be established; what it printed.
async fn established(kubectl: &Kubectl, name: &str) -> String {
    let crd = format!("crd/{name}");
    kubectl.ok(&["wait", "--for", "condition=established", "--timeout=60s", &crd]).await
}

/// Runs `args` until it prints `want` (kubectl's view of discovery and of the controllers
/// trails a write by a moment), or fails with the last output.
async fn eventually(kubectl: &Kubectl, args: &[&str], want: &str) {
    let last = kubectl.poll(args, |(ok, stdout, _)| *ok && stdout == want).await;
    assert!(last.0 && last.1 == want, "kubectl {args:?} printed {last:?}, not {want:?}");
}

#[tokio::test]
async fn custom_resources_are_served_as_their_definition_says() {
    let dir = tempfile::tempdir().unwrap();
    let berth = BerthProcess::start(
        env!("CARGO_BIN_EXE_berth").as_ref(),
        &dir.path().join("data"),
        &["--runtime", "simulated"],
    )
    .await;
    let Some(kubectl) = Kubectl::new(&berth.kubeconfig()) else { return };

    // The definition: created, named and established by the API server's own controllers.
    let created = kubectl.run_with_stdin(&["apply", "-f", "-"], CRD).await;
    assert_eq!(
        created,
        (
            true,
            "customresourcedefinition.apiextensions.k8s.io/crontabs.stable.example.com created\n"
                .to_owned(),
            String::new()
        )
    );
    assert_eq!(
        established(&kubectl, "crontabs.stable.example.com").await,
        "customresourcedefinition.apiextensions.k8s.io/crontabs.stable.example.com condition met\n"
    );
    let conditions = [
        "get",
        "crd",
        "crontabs.stable.example.com",
        "-o",
        r#"jsonpath={range .status.conditions[*]}{.type}={.status} {.reason}: {.message}{"\n"}{end}"#,
    ];
    assert_eq!(
        kubectl.ok(&conditions).await,
        "NamesAccepted=True NoConflicts: no conflicts found\nEstablished=True InitialNamesAccepted: the initial names have been accepted\n"
    );
    let names =
        ["get", "crd", "crontabs.stable.example.com", "-o", "jsonpath={.status.acceptedNames}"];
    assert_eq!(
        kubectl.ok(&names).await,
        r#"{"kind":"CronTab","listKind":"CronTabList","plural":"crontabs","shortNames":["ct"],"singular":"crontab"}"#
    );
    let stored =
        ["get", "crd", "crontabs.stable.example.com", "-o", "jsonpath={.status.storedVersions}"];
    assert_eq!(kubectl.ok(&stored).await, r#"["v1"]"#);
    let at = [
        "get",
        "crd",
        "crontabs.stable.example.com",
        "-o",
        "jsonpath={.metadata.creationTimestamp}",
    ];
    let at = kubectl.ok(&at).await;
    assert_eq!(
        kubectl.ok(&["get", "crds"]).await,
        format!("NAME                          CREATED AT\ncrontabs.stable.example.com   {at}\n")
    );

    // Discovery lists the resource under its names.
    eventually(
        &kubectl,
        &["api-resources", "--api-group=stable.example.com"],
        "NAME       SHORTNAMES   APIVERSION              NAMESPACED   KIND\ncrontabs   ct           stable.example.com/v1   true         CronTab\n",
    )
    .await;

    // An instance: created, defaulted by the schema, printed with the CRD's columns.
    let created = kubectl.run_with_stdin(&["apply", "-f", "-"], CRONTAB).await;
    assert_eq!(
        created,
        (true, "crontab.stable.example.com/my-new-cron-object created\n".to_owned(), String::new())
    );
    let table = kubectl.ok(&["get", "crontab"]).await;
    let rows: Vec<Vec<&str>> = table
        .lines()
        .map(|l| l.split("   ").map(str::trim).filter(|c| !c.is_empty()).collect())
        .collect();
    assert_eq!(rows[0], ["NAME", "SPEC", "REPLICAS", "AGE"], "{table}");
    assert_eq!(&rows[1][..3], ["my-new-cron-object", "* * * * */5", "1"], "{table}");
    assert!(rows[1][3].ends_with('s'), "{table}");
    let spec = ["get", "ct", "my-new-cron-object", "-o", "jsonpath={.spec}"];
    assert_eq!(
        kubectl.ok(&spec).await,
        r#"{"cronSpec":"* * * * */5","image":"my-awesome-cron-image","replicas":1}"#
    );
    let meta = [
        "get",
        "ct",
        "my-new-cron-object",
        "-o",
        "jsonpath={.apiVersion} {.kind} {.metadata.generation} {.metadata.namespace}",
    ];
    assert_eq!(kubectl.ok(&meta).await, "stable.example.com/v1 CronTab 1 default");
    // Applying the same manifest again changes nothing.
    let again = kubectl.run_with_stdin(&["apply", "-f", "-"], CRONTAB).await;
    assert_eq!(
        again,
        (
            true,
            "crontab.stable.example.com/my-new-cron-object unchanged\n".to_owned(),
            String::new()
        )
    );

    // The schema refuses what it does not allow, as kube-apiserver words it.
    let (ok, _, stderr) = kubectl.run_with_stdin(&["apply", "-f", "-"], TOO_MANY).await;
    assert!(!ok);
    assert_eq!(
        stderr,
        "The CronTab \"too-many\" is invalid: spec.replicas: Invalid value: 20: spec.replicas in body should be less than or equal to 10\n"
    );
    let (ok, _, stderr) = kubectl.run_with_stdin(&["apply", "-f", "-"], BAD_SPEC).await;
    assert!(!ok);
    assert_eq!(
        stderr,
        "The CronTab \"bad-spec\" is invalid: spec.cronSpec: Invalid value: \"every minute\": spec.cronSpec in body should match '^(\\d+|\\*)(/\\d+)?(\\s+(\\d+|\\*)(/\\d+)?){4}$'\n"
    );
    let (ok, _, stderr) = kubectl.run_with_stdin(&["apply", "-f", "-"], UNKNOWN).await;
    assert!(!ok);
    assert_eq!(
        stderr,
        "Error from server (BadRequest): error when creating \"STDIN\": CronTab in version \"v1\" cannot be handled as a CronTab: strict decoding error: unknown field \"spec.colour\"\n"
    );
    // Its metadata is decoded as ObjectMeta: an unknown field there is refused too.
    let odd =
        "apiVersion: stable.example.com/v1\nkind: CronTab\nmetadata: {name: odd, colour: blue}\n";
    let (ok, _, stderr) = kubectl.run_with_stdin(&["apply", "-f", "-"], odd).await;
    assert!(!ok);
    assert_eq!(
        stderr,
        "Error from server (BadRequest): error when creating \"STDIN\": CronTab in version \"v1\" cannot be handled as a CronTab: strict decoding error: unknown field \"metadata.colour\"\n"
    );
    // Without validation the unknown field is pruned instead.
    let pruned = kubectl.run_with_stdin(&["apply", "--validate=false", "-f", "-"], UNKNOWN).await;
    assert_eq!(
        pruned,
        (true, "crontab.stable.example.com/unknown created\n".to_owned(), String::new())
    );
    let spec = ["get", "ct", "unknown", "-o", "jsonpath={.spec}"];
    assert_eq!(kubectl.ok(&spec).await, r#"{"cronSpec":"* * * * */5","replicas":1}"#);
    // The stored objects metric counts custom resources as kube-apiserver labels them.
    let metrics = kubectl.ok(&["get", "--raw", "/metrics"]).await;
    assert!(
        metrics
            .contains("\napiserver_storage_objects{resource=\"crontabs.stable.example.com\"} 2\n"),
        "{metrics}"
    );

    // Patches: merge and JSON; a strategic merge patch is refused, as for every custom
    // resource, and kubectl says so.
    let patched = kubectl
        .ok(&[
            "patch",
            "ct",
            "my-new-cron-object",
            "--type=merge",
            "-p",
            r#"{"spec":{"image":"nightly"}}"#,
        ])
        .await;
    assert_eq!(patched, "crontab.stable.example.com/my-new-cron-object patched\n");
    let patched = kubectl
        .ok(&[
            "patch",
            "ct",
            "my-new-cron-object",
            "--type=json",
            "-p",
            r#"[{"op":"replace","path":"/spec/cronSpec","value":"*/10 * * * *"}]"#,
        ])
        .await;
    assert_eq!(patched, "crontab.stable.example.com/my-new-cron-object patched\n");
    let (ok, _, stderr) = kubectl
        .run(&["patch", "ct", "my-new-cron-object", "-p", r#"{"spec":{"image":"x"}}"#])
        .await;
    assert!(!ok);
    assert_eq!(
        stderr,
        "error: application/strategic-merge-patch+json is not supported by stable.example.com/v1, Kind=CronTab: the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml\n"
    );
    let after = [
        "get",
        "ct",
        "my-new-cron-object",
        "-o",
        "jsonpath={.spec.cronSpec} {.spec.image} {.metadata.generation}",
    ];
    assert_eq!(kubectl.ok(&after).await, "*/10 * * * * nightly 3");

    // The scale subresource reads and writes the paths the CRD names.
    let scaled = kubectl.ok(&["scale", "ct", "my-new-cron-object", "--replicas=3"]).await;
    assert_eq!(scaled, "crontab.stable.example.com/my-new-cron-object scaled\n");
    let replicas = ["get", "ct", "my-new-cron-object", "-o", "jsonpath={.spec.replicas}"];
    assert_eq!(kubectl.ok(&replicas).await, "3");
    let scale = [
        "get",
        "--raw",
        "/apis/stable.example.com/v1/namespaces/default/crontabs/my-new-cron-object/scale",
    ];
    let scale: serde_json::Value = serde_json::from_str(&kubectl.ok(&scale).await).unwrap();
    assert_eq!(scale["kind"], "Scale");
    assert_eq!(scale["spec"]["replicas"], 3);
    assert_eq!(scale["status"]["replicas"], 0);

    // The status subresource: a status written there stays; one written through the main
    // resource is ignored, and neither is a new generation.
    let status = kubectl
        .ok(&[
            "patch",
            "ct",
            "my-new-cron-object",
            "--subresource=status",
            "--type=merge",
            "-p",
            r#"{"status":{"replicas":3,"labelSelector":"app=cron"}}"#,
        ])
        .await;
    assert_eq!(status, "crontab.stable.example.com/my-new-cron-object patched\n");
    let ignored = kubectl
        .ok(&[
            "patch",
            "ct",
            "my-new-cron-object",
            "--type=merge",
            "-p",
            r#"{"status":{"replicas":7}}"#,
        ])
        .await;
    assert_eq!(ignored, "crontab.stable.example.com/my-new-cron-object patched (no change)\n");
    let status =
        ["get", "ct", "my-new-cron-object", "-o", "jsonpath={.status} {.metadata.generation}"];
    assert_eq!(kubectl.ok(&status).await, r#"{"labelSelector":"app=cron","replicas":3} 4"#);
    let scale = [
        "get",
        "--raw",
        "/apis/stable.example.com/v1/namespaces/default/crontabs/my-new-cron-object/scale",
    ];
    let scale: serde_json::Value = serde_json::from_str(&kubectl.ok(&scale).await).unwrap();
    assert_eq!(scale["status"], serde_json::json!({"replicas": 3, "selector": "app=cron"}));

    // Server-side apply, and a field selector on the name.
    let applied = kubectl.run_with_stdin(&["apply", "--server-side", "-f", "-"], APPLIED).await;
    assert_eq!(
        applied,
        (true, "crontab.stable.example.com/applied serverside-applied\n".to_owned(), String::new())
    );
    let managers = ["get", "ct", "applied", "-o", "jsonpath={.metadata.managedFields[*].manager}"];
    assert_eq!(kubectl.ok(&managers).await, "kubectl");
    let sidecar = ["apply", "--server-side", "--field-manager=sidecar", "-f", "-"];
    let applied = kubectl.run_with_stdin(&sidecar, SIDECAR).await;
    assert_eq!(
        applied,
        (true, "crontab.stable.example.com/applied serverside-applied\n".to_owned(), String::new())
    );
    let ports = ["get", "ct", "applied", "-o", "jsonpath={.spec.ports[*].name}"];
    assert_eq!(kubectl.ok(&ports).await, "http metrics");
    // A CEL rule: the time zone may be set once, then never changed.
    let set = ["patch", "ct", "applied", "--type=merge", "-p", r#"{"spec":{"timezone":"UTC"}}"#];
    assert_eq!(kubectl.ok(&set).await, "crontab.stable.example.com/applied patched\n");
    let change = ["patch", "ct", "applied", "--type=merge", "-p", r#"{"spec":{"timezone":"CET"}}"#];
    let (ok, _, stderr) = kubectl.run(&change).await;
    assert!(!ok);
    assert_eq!(
        stderr,
        "The CronTab \"applied\" is invalid: spec.timezone: Invalid value: \"string\": Value is immutable\n"
    );
    // Taking another manager's item is a conflict naming it.
    let taken = SIDECAR.replace("9090", "8080").replace("metrics", "http");
    let (ok, _, stderr) = kubectl.run_with_stdin(&sidecar, &taken).await;
    assert!(!ok);
    assert!(
        stderr.contains(r#"conflict with "kubectl": .spec.ports[name="http"].port"#),
        "{stderr}"
    );
    let named = ["get", "ct", "--field-selector", "metadata.name=applied", "-o", "name"];
    assert_eq!(kubectl.ok(&named).await, "crontab.stable.example.com/applied\n");
    let (ok, _, stderr) = kubectl.run(&["get", "ct", "--field-selector", "spec.image=x"]).await;
    assert!(!ok);
    // kubectl wraps the server's message in its own words.
    assert_eq!(
        stderr,
        "Error from server (BadRequest): Unable to find \"stable.example.com/v1, Resource=crontabs\" that match label selector \"\", field selector \"spec.image=x\": field label not supported: spec.image\n"
    );

    // A deprecated version is served with upstream's warning, and the same object is
    // served in every version (conversion `None`: only `apiVersion` differs).
    kubectl.run_with_stdin(&["apply", "-f", "-"], GADGETS).await;
    established(&kubectl, "gadgets.example.berth.dev").await;
    let created = kubectl.run_with_stdin(&["create", "-f", "-"], OLD_GADGET).await;
    assert_eq!(
        created,
        (
            true,
            "gadget.example.berth.dev/old created\n".to_owned(),
            "Warning: example.berth.dev/v1beta1 Gadget is deprecated; use example.berth.dev/v1 Gadget\n"
                .to_owned()
        )
    );
    let preferred = ["get", "gadget", "old", "-o", "jsonpath={.apiVersion} {.spec.colour}"];
    assert_eq!(kubectl.ok(&preferred).await, "example.berth.dev/v1 green");
    let old = kubectl
        .ok(&["get", "--raw", "/apis/example.berth.dev/v1beta1/namespaces/default/gadgets/old"])
        .await;
    let old: serde_json::Value = serde_json::from_str(&old).unwrap();
    assert_eq!(old["apiVersion"], "example.berth.dev/v1beta1");
    assert_eq!(old["spec"]["colour"], "green");
    // A watch of the deprecated version is warned too.
    let watch =
        "/apis/example.berth.dev/v1beta1/namespaces/default/gadgets?watch=1&timeoutSeconds=1";
    let (ok, stdout, stderr) = kubectl.run(&["get", "--raw", watch]).await;
    assert!(ok, "{stderr}");
    assert!(
        stdout.starts_with(r#"{"type":"ADDED","object":{"apiVersion":"example.berth.dev/v1beta1""#),
        "{stdout}"
    );
    assert_eq!(
        stderr,
        "Warning: example.berth.dev/v1beta1 Gadget is deprecated; use example.berth.dev/v1 Gadget\n"
    );

    // Deleting the definition deletes its instances, then the definition itself.
    let deleted = kubectl.ok(&["delete", "crd", "crontabs.stable.example.com"]).await;
    assert_eq!(
        deleted,
        "customresourcedefinition.apiextensions.k8s.io \"crontabs.stable.example.com\" deleted\n"
    );
    let (ok, _, stderr) = kubectl.run(&["get", "crd", "crontabs.stable.example.com"]).await;
    assert!(!ok);
    assert_eq!(
        stderr,
        "Error from server (NotFound): customresourcedefinitions.apiextensions.k8s.io \"crontabs.stable.example.com\" not found\n"
    );
    let raw = ["get", "--raw", "/apis/stable.example.com/v1/namespaces/default/crontabs"];
    let (ok, _, stderr) = kubectl.run(&raw).await;
    assert!(!ok);
    assert_eq!(
        stderr,
        "Error from server (NotFound): the server could not find the requested resource\n"
    );

    // Defined again, the resource starts empty: the old instances went with the old CRD.
    kubectl.run_with_stdin(&["apply", "-f", "-"], CRD).await;
    established(&kubectl, "crontabs.stable.example.com").await;
    let last = kubectl.poll(&["get", "ct", "-A"], |(ok, _, _)| *ok).await;
    assert_eq!(last, (true, String::new(), "No resources found\n".to_owned()));

    // A restart serves what the stored CRDs define, at once.
    kubectl.run_with_stdin(&["apply", "-f", "-"], CRONTAB).await;
    berth.stop().await;
    let berth = BerthProcess::start(
        env!("CARGO_BIN_EXE_berth").as_ref(),
        &dir.path().join("data"),
        &["--runtime", "simulated"],
    )
    .await;
    let kubectl = Kubectl::new(&berth.kubeconfig()).expect("kubectl, as before");
    let spec = ["get", "ct", "my-new-cron-object", "-o", "jsonpath={.spec.cronSpec}"];
    assert_eq!(kubectl.ok(&spec).await, "* * * * */5");
    berth.stop().await;
}
