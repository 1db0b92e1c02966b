//! Kinds a v1.33 cluster serves beyond the workloads, through real kubectl against `berth
//! server --runtime simulated`: core/v1 PodTemplates, node.k8s.io/v1 RuntimeClasses and the CSI
//! kinds of storage.k8s.io/v1 (CSIDrivers, CSINodes, VolumeAttachments, CSIStorageCapacities).
//! Each is created with `create -f`, listed in the table Kubernetes prints (the defaults and the
//! status reset showing in it), and one invalid object of each is refused with kubectl's line.

use berth_testkit::kubectl::{BerthProcess, Kubectl};

const OBJECTS: &str = "apiVersion: v1
kind: PodTemplate
metadata: {name: web}
template:
  metadata: {labels: {app: web, tier: front}}
  spec: {containers: [{name: nginx, image: 'registry.k8s.io/nginx-slim:0.21'}, {name: log, image: busybox}]}
---
apiVersion: node.k8s.io/v1
kind: RuntimeClass
metadata: {name: gvisor}
handler: runsc
overhead: {podFixed: {cpu: 250m}}
---
apiVersion: storage.k8s.io/v1
kind: CSIDriver
metadata: {name: hostpath.csi.k8s.io}
spec: {podInfoOnMount: true, tokenRequests: [{audience: vault}]}
---
apiVersion: storage.k8s.io/v1
kind: CSINode
metadata: {name: node-1}
spec:
  drivers: [{name: hostpath.csi.k8s.io, nodeID: node-1, topologyKeys: [topology.hostpath.csi/node]}]
---
apiVersion: storage.k8s.io/v1
kind: VolumeAttachment
metadata: {name: csi-0123}
spec: {attacher: hostpath.csi.k8s.io, nodeName: node-1, source: {persistentVolumeName: pv-1}}
status: {attached: true}
---
apiVersion: storage.k8s.io/v1
kind: CSIStorageCapacity
metadata: {name: csisc-1}
storageClassName: standard
capacity: 1024Mi
";

/// One invalid object per kind and the line kubectl prints for it.
const REFUSED: [(&str, &str); 6] = [
    (
        "apiVersion: v1
kind: PodTemplate
metadata: {name: bad}
template: {spec: {containers: []}}
",
        "The PodTemplate \"bad\" is invalid: template.spec.containers: Required value\n",
    ),
    (
        "apiVersion: node.k8s.io/v1
kind: RuntimeClass
metadata: {name: bad}
handler: Run.C
",
        "The RuntimeClass \"bad\" is invalid: handler: Invalid value: \"Run.C\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')\n",
    ),
    (
        "apiVersion: storage.k8s.io/v1
kind: CSIDriver
metadata: {name: bad.csi.io}
spec: {fsGroupPolicy: Always}
",
        "The CSIDriver \"bad.csi.io\" is invalid: spec.fsGroupPolicy: Unsupported value: \"Always\": supported values: \"File\", \"None\", \"ReadWriteOnceWithFSType\"\n",
    ),
    (
        "apiVersion: storage.k8s.io/v1
kind: CSINode
metadata: {name: bad}
spec: {drivers: [{name: hostpath.csi.k8s.io, nodeID: ''}]}
",
        "The CSINode \"bad\" is invalid: spec.drivers[0].nodeID: Required value\n",
    ),
    (
        "apiVersion: storage.k8s.io/v1
kind: VolumeAttachment
metadata: {name: bad}
spec: {attacher: hostpath.csi.k8s.io, nodeName: node-1, source: {}}
",
        "The VolumeAttachment \"bad\" is invalid: spec.source: Required value: must specify exactly one of inlineVolumeSpec and persistentVolumeName\n",
    ),
    (
        "apiVersion: storage.k8s.io/v1
kind: CSIStorageCapacity
metadata: {name: bad}
storageClassName: Fast
",
        "The CSIStorageCapacity \"bad\" is invalid: storageClassName: Invalid value: \"Fast\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')\n",
    ),
];

/// A table with each row's trailing `AGE` cell (`0s`, `3s`) cut: it depends on the clock, and
/// as the last column its width moves nothing else.
fn without_age(table: &str) -> String {
    let mut out = String::new();
    for (i, line) in table.lines().enumerate() {
        let trimmed = match line.rsplit_once(' ') {
            Some((head, age)) if i > 0 && age.ends_with('s') && age.len() > 1 => {
                let digits = &age[..age.len() - 1];
                if digits.chars().all(|c| c.is_ascii_digit()) { head } else { line }
            }
            _ => line,
        };
        out.push_str(trimmed.trim_end());
        out.push('\n');
    }
    out
}

#[tokio::test]
async fn pod_templates_runtime_classes_and_csi_kinds_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let berth = BerthProcess::start(
        env!("CARGO_BIN_EXE_berth").as_ref(),
        &dir.path().join("data"),
        &["--runtime", "simulated"],
    )
    .await;
    let Some(kubectl) = Kubectl::new(&berth.kubeconfig()) else { return };

    assert_eq!(
        kubectl.ok(&["api-resources", "--api-group=node.k8s.io"]).await,
        "NAME             SHORTNAMES   APIVERSION       NAMESPACED   KIND
runtimeclasses                node.k8s.io/v1   false        RuntimeClass
"
    );

    let created = kubectl.run_with_stdin(&["create", "-f", "-"], OBJECTS).await;
    assert_eq!(
        created,
        (
            true,
            "podtemplate/web created
runtimeclass.node.k8s.io/gvisor created
csidriver.storage.k8s.io/hostpath.csi.k8s.io created
csinode.storage.k8s.io/node-1 created
volumeattachment.storage.k8s.io/csi-0123 created
csistoragecapacity.storage.k8s.io/csisc-1 created
"
            .to_owned(),
            String::new()
        )
    );

    let cases = [
        (
            "podtemplates",
            "NAME   CONTAINERS   IMAGES                                    POD LABELS
web    nginx,log    registry.k8s.io/nginx-slim:0.21,busybox   app=web,tier=front
",
        ),
        (
            "runtimeclass",
            "NAME     HANDLER   AGE
gvisor   runsc
",
        ),
        // The defaults: an attach step, Persistent volumes only.
        (
            "csidrivers",
            "NAME                  ATTACHREQUIRED   PODINFOONMOUNT   STORAGECAPACITY   TOKENREQUESTS   REQUIRESREPUBLISH   MODES        AGE
hostpath.csi.k8s.io   true             true             false             vault           false               Persistent
",
        ),
        (
            "csinodes",
            "NAME     DRIVERS   AGE
node-1   1
",
        ),
        // The status a client sends is the attacher's to set: a created attachment is not
        // attached.
        (
            "volumeattachments",
            "NAME       ATTACHER              PV     NODE     ATTACHED   AGE
csi-0123   hostpath.csi.k8s.io   pv-1   node-1   false
",
        ),
        (
            "csistoragecapacities",
            "NAME      STORAGECLASSNAME   CAPACITY
csisc-1   standard           1Gi
",
        ),
    ];
    for (resource, want) in cases {
        let got = kubectl.ok(&["get", resource]).await;
        assert_eq!(without_age(&got), want, "{resource}: {got}");
    }
    let fs_group = ["get", "csidriver", "hostpath.csi.k8s.io", "-o", "jsonpath={.spec}"];
    assert_eq!(
        kubectl.ok(&fs_group).await,
        r#"{"attachRequired":true,"fsGroupPolicy":"ReadWriteOnceWithFSType","podInfoOnMount":true,"requiresRepublish":false,"seLinuxMount":false,"storageCapacity":false,"tokenRequests":[{"audience":"vault"}],"volumeLifecycleModes":["Persistent"]}"#
    );

    for (object, want) in REFUSED {
        let (ok, _, stderr) = kubectl.run_with_stdin(&["create", "-f", "-"], object).await;
        assert!(!ok, "{object}");
        assert_eq!(stderr, want);
    }
}
