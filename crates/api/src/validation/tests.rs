//! Table-driven tests of the validation rules: valid objects pass; each rule gives Kubernetes'
//! field path, reason and message.

use serde_json::{Value, json};

use super::{FieldError, Write, validate};
use crate::defaults;

/// Defaults `object` as the API server does, then validates it.
fn check(group: &str, kind: &str, mut object: Value, write: Write<'_>) -> Vec<String> {
    defaults::apply(group, kind, &mut object);
    validate(group, kind, &object, write).iter().map(FieldError::to_string).collect()
}

fn create(group: &str, kind: &str, object: Value) -> Vec<String> {
    check(group, kind, object, Write::Create)
}

fn sts() -> Value {
    json!({"metadata": {"name": "web", "namespace": "default"},
        "spec": {"serviceName": "nginx", "replicas": 3,
            "selector": {"matchLabels": {"app": "nginx"}},
            "template": {"metadata": {"labels": {"app": "nginx"}},
                "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27",
                    "ports": [{"containerPort": 80, "name": "web"}],
                    "volumeMounts": [{"name": "www", "mountPath": "/usr/share/nginx/html"}]}]}},
            "volumeClaimTemplates": [{"metadata": {"name": "www"},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]}})
}

fn pod() -> Value {
    json!({"metadata": {"name": "p", "namespace": "default"},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]}})
}

/// `patch` merged (JSON merge patch) into `base`.
fn with(mut base: Value, patch: Value) -> Value {
    fn merge(target: &mut Value, patch: Value) {
        match (target, patch) {
            (Value::Object(t), Value::Object(p)) => {
                for (k, v) in p {
                    if v.is_null() {
                        t.remove(&k);
                    } else {
                        merge(t.entry(k).or_insert(Value::Null), v);
                    }
                }
            }
            (t, p) => *t = p,
        }
    }
    merge(&mut base, patch);
    base
}

#[test]
fn valid_objects_pass() {
    let cases = [
        ("", "Pod", pod()),
        ("apps", "StatefulSet", sts()),
        (
            "",
            "Service",
            json!({"metadata": {"name": "nginx", "namespace": "default"},
            "spec": {"clusterIP": "None", "selector": {"app": "nginx"}, "ports": [{"port": 80, "name": "web"}]}}),
        ),
        (
            "",
            "ConfigMap",
            json!({"metadata": {"name": "c", "namespace": "d"}, "data": {"a.b": "1", "C_D": "2"}}),
        ),
        ("", "Secret", json!({"metadata": {"name": "s", "namespace": "d"}, "data": {"k": "dg=="}})),
        (
            "",
            "Namespace",
            json!({"metadata": {"name": "team-a"}, "spec": {"finalizers": ["kubernetes"]}}),
        ),
        (
            "",
            "PersistentVolumeClaim",
            json!({"metadata": {"name": "www-web-0", "namespace": "d"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}},
                     "storageClassName": "local-path"}}),
        ),
        (
            "",
            "PersistentVolume",
            json!({"metadata": {"name": "pvc-1"}, "spec": {
            "accessModes": ["ReadWriteOnce"], "capacity": {"storage": "1Gi"},
            "hostPath": {"path": "/data/pvc-1", "type": "DirectoryOrCreate"},
            "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                {"key": "kubernetes.io/hostname", "operator": "In", "values": ["n1"]}]}]}}}}),
        ),
        (
            "storage.k8s.io",
            "StorageClass",
            json!({"metadata": {"name": "local-path"},
            "provisioner": "berth.dev/local-path"}),
        ),
        (
            "policy",
            "PodDisruptionBudget",
            json!({"metadata": {"name": "web", "namespace": "d"},
            "spec": {"minAvailable": "50%", "selector": {"matchLabels": {"app": "web"}},
            "unhealthyPodEvictionPolicy": "AlwaysAllow"}}),
        ),
        (
            "coordination.k8s.io",
            "Lease",
            json!({"metadata": {"name": "n1", "namespace": "kube-node-lease"},
            "spec": {"holderIdentity": "n1", "leaseDurationSeconds": 40}}),
        ),
        (
            "discovery.k8s.io",
            "EndpointSlice",
            json!({"metadata": {"name": "nginx-abc", "namespace": "d"},
            "addressType": "IPv4", "endpoints": [{"addresses": ["10.0.0.1"]}], "ports": [{"port": 80}]}),
        ),
        (
            "",
            "Endpoints",
            json!({"metadata": {"name": "nginx", "namespace": "d"},
            "subsets": [{"addresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80}]}]}),
        ),
        (
            "",
            "Event",
            json!({"metadata": {"name": "web-0.1", "namespace": "d"},
            "involvedObject": {"kind": "Pod", "namespace": "d", "name": "web-0"}, "reason": "Created"}),
        ),
        (
            "apps",
            "ControllerRevision",
            json!({"metadata": {"name": "web-5d8f", "namespace": "d"},
            "data": {"spec": {}}, "revision": 1}),
        ),
        ("", "Node", json!({"metadata": {"name": "n1"}, "spec": {"podCIDRs": ["10.244.0.0/24"]}})),
        ("", "ServiceAccount", json!({"metadata": {"name": "default", "namespace": "d"}})),
    ];
    for (group, kind, object) in cases {
        assert_eq!(create(group, kind, object), Vec::<String>::new(), "{kind}");
    }
}

#[test]
fn statefulset_rules() {
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"spec": {"template": {"metadata": {"labels": {"app": "other"}}}}}),
            r#"spec.template.metadata.labels: Invalid value: map[string]string{"app":"other"}: `selector` does not match template `labels`"#,
        ),
        (json!({"spec": {"selector": null}}), "spec.selector: Required value"),
        (
            json!({"spec": {"selector": {"matchLabels": null}}}),
            "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for statefulset",
        ),
        (
            json!({"spec": {"replicas": -1}}),
            "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
        ),
        (
            json!({"spec": {"minReadySeconds": -5}}),
            "spec.minReadySeconds: Invalid value: -5: must be greater than or equal to 0",
        ),
        (
            json!({"spec": {"ordinals": {"start": -1}}}),
            "spec.ordinals.start: Invalid value: -1: must be greater than or equal to 0",
        ),
        (
            json!({"spec": {"podManagementPolicy": "Random"}}),
            r#"spec.podManagementPolicy: Invalid value: "Random": must be 'OrderedReady' or 'Parallel'"#,
        ),
        (
            json!({"spec": {"updateStrategy": {"type": "OnDelete", "rollingUpdate": {"partition": 1}}}}),
            "spec.updateStrategy.rollingUpdate: Invalid value: apps.RollingUpdateStatefulSetStrategy{Partition:1, MaxUnavailable:(*intstr.IntOrString)(nil)}: only allowed for updateStrategy 'RollingUpdate'",
        ),
        (
            json!({"spec": {"updateStrategy": {"rollingUpdate": {"partition": -2}}}}),
            "spec.updateStrategy.rollingUpdate.partition: Invalid value: -2: must be greater than or equal to 0",
        ),
        (
            json!({"spec": {"persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Keep"}}}),
            r#"spec.persistentVolumeClaimRetentionPolicy.whenDeleted: Unsupported value: "Keep": supported values: "Retain", "Delete""#,
        ),
        (
            json!({"spec": {"template": {"spec": {"restartPolicy": "Never"}}}}),
            r#"spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always""#,
        ),
        (
            json!({"spec": {"template": {"spec": {"activeDeadlineSeconds": 5}}}}),
            "spec.template.spec.activeDeadlineSeconds: Forbidden: activeDeadlineSeconds in StatefulSet is not Supported",
        ),
        (
            json!({"metadata": {"name": "web.v1"}}),
            r#"metadata.name: Invalid value: "web.v1": must not contain dots"#,
        ),
        (
            json!({"spec": {"selector": {"matchExpressions": [{"key": "app", "operator": "In"}]}}}),
            "spec.selector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'",
        ),
        (
            json!({"spec": {"selector": {"matchExpressions": [{"key": "app", "operator": "In"}]}}}),
            r#"spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"nginx"}, MatchExpressions:[]v1.LabelSelectorRequirement{v1.LabelSelectorRequirement{Key:"app", Operator:"In", Values:[]string(nil)}}}"#,
        ),
    ];
    for (patch, expected) in cases {
        let errors = create("apps", "StatefulSet", with(sts(), patch.clone()));
        assert!(errors.contains(&expected.to_owned()), "{patch}: {errors:#?}");
    }
}

#[test]
fn statefulset_updates_change_only_some_fields() {
    let mut old = sts();
    defaults::apply("apps", "StatefulSet", &mut old);
    let update =
        |patch: Value| check("apps", "StatefulSet", with(old.clone(), patch), Write::Update(&old));
    assert!(
        update(json!({"spec": {"replicas": 5, "minReadySeconds": 3, "revisionHistoryLimit": 2,
        "template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:1.28"}]}}}}))
        .is_empty()
    );
    let forbidden = "spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden";
    for patch in [
        json!({"spec": {"serviceName": "other"}}),
        json!({"spec": {"podManagementPolicy": "Parallel"}}),
        json!({"spec": {"volumeClaimTemplates": []}}),
        json!({"spec": {"selector": {"matchLabels": {"app": "nginx", "x": "y"}},
            "template": {"metadata": {"labels": {"app": "nginx", "x": "y"}}}}}),
    ] {
        assert_eq!(update(patch.clone()), vec![forbidden.to_owned()], "{patch}");
    }
    let status = with(old.clone(), json!({"status": {"replicas": 1, "readyReplicas": 2}}));
    assert_eq!(
        check("apps", "StatefulSet", status, Write::Status(&old)),
        vec!["status.readyReplicas: Invalid value: 2: cannot be greater than status.replicas"]
    );
}

/// A Deployment as kubectl sends it; `check` fills in its defaults.
fn deploy() -> Value {
    json!({"metadata": {"name": "web", "namespace": "default"},
        "spec": {"selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27"}]}}}})
}

/// A pod template with the values pod defaults fill in, for kinds whose tests must not rely on
/// defaults.
fn defaulted_template() -> Value {
    json!({"metadata": {"labels": {"app": "web"}},
        "spec": {"restartPolicy": "Always", "dnsPolicy": "ClusterFirst",
            "terminationGracePeriodSeconds": 30, "schedulerName": "default-scheduler",
            "containers": [{"name": "nginx", "image": "nginx:1.27", "imagePullPolicy": "IfNotPresent",
                "terminationMessagePolicy": "File",
                "terminationMessagePath": "/dev/termination-log"}]}})
}

fn replica_set() -> Value {
    json!({"metadata": {"name": "web-5d4f", "namespace": "default"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
            "template": defaulted_template()}})
}

/// A DaemonSet with `SetDefaults_DaemonSet`'s values written out.
fn daemon_set() -> Value {
    json!({"metadata": {"name": "agent", "namespace": "kube-system"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "revisionHistoryLimit": 10,
            "updateStrategy": {"type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}},
            "template": defaulted_template()}})
}

/// Each `(patch, error)`: `kind`'s `base` with the patch merged in is refused with that error.
fn refused(kind: &str, base: &Value, cases: Vec<(Value, &str)>) {
    for (patch, expected) in cases {
        let errors = create("apps", kind, with(base.clone(), patch.clone()));
        assert!(errors.contains(&expected.to_owned()), "{kind} {patch}: {errors:#?}");
    }
}

#[test]
fn deployment_rules() {
    for patch in [
        json!({}),
        json!({"metadata": {"name": "web.v1"}}),
        json!({"spec": {"strategy": {"type": "Recreate"}}}),
        json!({"spec": {"strategy": {"rollingUpdate": {"maxUnavailable": 0, "maxSurge": "200%"}}}}),
        json!({"spec": {"replicas": 0, "minReadySeconds": 5, "progressDeadlineSeconds": 6,
            "revisionHistoryLimit": 0}}),
        json!({"spec": {"selector": {"matchExpressions": [
            {"key": "app", "operator": "In", "values": ["web", "api"]}], "matchLabels": null}}}),
    ] {
        assert_eq!(
            create("apps", "Deployment", with(deploy(), patch.clone())),
            Vec::<String>::new(),
            "{patch}"
        );
    }
    // The one kubectl users meet first, in kube-apiserver's order.
    let bad = with(
        deploy(),
        json!({"spec": {"replicas": -2, "template": {"metadata": {"labels": {"app": "b"}},
            "spec": {"restartPolicy": "Never", "containers": [{"name": "Bad_Name"}]}}}}),
    );
    assert_eq!(
        create("apps", "Deployment", bad),
        vec![
            "spec.replicas: Invalid value: -2: must be greater than or equal to 0",
            r#"spec.template.metadata.labels: Invalid value: map[string]string{"app":"b"}: `selector` does not match template `labels`"#,
            r#"spec.template.spec.containers[0].name: Invalid value: "Bad_Name": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"#,
            "spec.template.spec.containers[0].image: Required value",
            r#"spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always""#,
        ]
    );
    // No selector selects nothing; a selector that does not parse leaves the template unchecked.
    assert_eq!(
        create("apps", "Deployment", with(deploy(), json!({"spec": {"selector": null}}))),
        vec![
            "spec.selector: Required value",
            r#"spec.template.metadata.labels: Invalid value: map[string]string{"app":"web"}: `selector` does not match template `labels`"#,
        ]
    );
    assert_eq!(
        create(
            "apps",
            "Deployment",
            with(
                deploy(),
                json!({"spec": {"selector": {"matchExpressions": [{"key": "app", "operator": "In"}]},
                "template": {"spec": {"restartPolicy": "Never"}}}})
            )
        ),
        vec![
            "spec.selector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'",
            r#"spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"web"}, MatchExpressions:[]v1.LabelSelectorRequirement{v1.LabelSelectorRequirement{Key:"app", Operator:"In", Values:[]string(nil)}}}: invalid label selector"#,
        ]
    );
    refused(
        "Deployment",
        &deploy(),
        vec![
            (
                json!({"metadata": {"name": "Web"}}),
                r#"metadata.name: Invalid value: "Web": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"#,
            ),
            (
                json!({"spec": {"selector": {"matchLabels": null}}}),
                "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment",
            ),
            (
                json!({"spec": {"template": {"metadata": {"labels": null}}}}),
                "spec.template.metadata.labels: Invalid value: map[string]string(nil): `selector` does not match template `labels`",
            ),
            (
                json!({"spec": {"template": {"metadata": {"labels": {"app": "web", "a b": "c"}}}}}),
                r#"spec.template.labels: Invalid value: "a b": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"#,
            ),
            (
                json!({"spec": {"template": {"spec": {"activeDeadlineSeconds": 5}}}}),
                "spec.template.spec.activeDeadlineSeconds: Forbidden: activeDeadlineSeconds in ReplicaSet is not Supported",
            ),
            (
                json!({"spec": {"template": {"spec": {"ephemeralContainers": [{"name": "debug", "image": "busybox"}]}}}}),
                "spec.template.spec.ephemeralContainers: Forbidden: ephemeral containers not allowed in pod template",
            ),
            (
                json!({"spec": {"minReadySeconds": -1}}),
                "spec.minReadySeconds: Invalid value: -1: must be greater than or equal to 0",
            ),
            (
                json!({"spec": {"revisionHistoryLimit": -1}}),
                "spec.revisionHistoryLimit: Invalid value: -1: must be greater than or equal to 0",
            ),
            (
                json!({"spec": {"progressDeadlineSeconds": -1}}),
                "spec.progressDeadlineSeconds: Invalid value: -1: must be greater than or equal to 0",
            ),
            (
                json!({"spec": {"minReadySeconds": 600}}),
                "spec.progressDeadlineSeconds: Invalid value: 600: must be greater than minReadySeconds",
            ),
            (
                json!({"spec": {"strategy": {"type": "BlueGreen"}}}),
                r#"spec.strategy: Unsupported value: apps.DeploymentStrategy{Type:"BlueGreen", RollingUpdate:(*apps.RollingUpdateDeployment)(nil)}: supported values: "Recreate", "RollingUpdate""#,
            ),
            (
                json!({"spec": {"strategy": {"type": "Recreate", "rollingUpdate": {"maxSurge": 1}}}}),
                "spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'",
            ),
            (
                json!({"spec": {"strategy": {"rollingUpdate": {"maxUnavailable": 0, "maxSurge": "0%"}}}}),
                r#"spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:0, IntVal:0, StrVal:""}: may not be 0 when `maxSurge` is 0"#,
            ),
            (
                json!({"spec": {"strategy": {"rollingUpdate": {"maxUnavailable": "150%"}}}}),
                r#"spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:"150%"}: must not be greater than 100%"#,
            ),
            (
                json!({"spec": {"strategy": {"rollingUpdate": {"maxSurge": -1}}}}),
                "spec.strategy.rollingUpdate.maxSurge: Invalid value: -1: must be greater than or equal to 0",
            ),
            (
                json!({"spec": {"strategy": {"rollingUpdate": {"maxUnavailable": "half"}}}}),
                r#"spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:"half"}: a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')"#,
            ),
        ],
    );
}

#[test]
fn deployment_updates_keep_the_selector() {
    let mut old = deploy();
    defaults::apply("apps", "Deployment", &mut old);
    let update =
        |patch: Value| check("apps", "Deployment", with(old.clone(), patch), Write::Update(&old));
    assert!(
        update(
            json!({"spec": {"replicas": 5, "strategy": {"type": "Recreate", "rollingUpdate": null},
            "template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:1.28"}]}}}})
        )
        .is_empty()
    );
    // `Semantic.DeepEqual`: an empty list is no change.
    assert!(update(json!({"spec": {"selector": {"matchExpressions": []}}})).is_empty());
    assert_eq!(
        update(json!({"spec": {"selector": {"matchLabels": {"app": "web", "tier": "fe"}},
            "template": {"metadata": {"labels": {"app": "web", "tier": "fe"}}}}})),
        vec![
            r#"spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"web", "tier":"fe"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"#
        ]
    );
    // The spec is checked as on create.
    assert_eq!(
        update(json!({"spec": {"replicas": -1}})),
        vec!["spec.replicas: Invalid value: -1: must be greater than or equal to 0"]
    );
    let status = |status: Value| {
        let new = with(old.clone(), json!({ "status": status }));
        check("apps", "Deployment", new, Write::Status(&old))
    };
    assert!(
        status(json!({"observedGeneration": 1, "replicas": 3, "updatedReplicas": 3,
            "readyReplicas": 2, "availableReplicas": 2, "unavailableReplicas": 1}))
        .is_empty()
    );
    assert_eq!(
        status(json!({"replicas": 1, "readyReplicas": 2, "availableReplicas": 3,
            "observedGeneration": -1})),
        vec![
            "status.observedGeneration: Invalid value: -1: must be greater than or equal to 0",
            "status.readyReplicas: Invalid value: 2: cannot be greater than status.replicas",
            "status.availableReplicas: Invalid value: 3: cannot be greater than status.replicas",
            "status.availableReplicas: Invalid value: 3: cannot be greater than readyReplicas",
        ]
    );
    let collided = with(old.clone(), json!({"status": {"collisionCount": 2}}));
    let fewer = with(collided.clone(), json!({"status": {"collisionCount": 1}}));
    assert_eq!(
        check("apps", "Deployment", fewer, Write::Status(&collided)),
        vec!["status.collisionCount: Invalid value: 1: cannot be decremented"]
    );
    let unset = with(collided.clone(), json!({"status": {"collisionCount": null}}));
    assert_eq!(
        check("apps", "Deployment", unset, Write::Status(&collided)),
        vec!["status.collisionCount: Invalid value: 0: cannot be decremented"]
    );
}

#[test]
fn replica_set_rules() {
    assert_eq!(create("apps", "ReplicaSet", replica_set()), Vec::<String>::new());
    refused(
        "ReplicaSet",
        &replica_set(),
        vec![
            (
                json!({"spec": {"replicas": -1}}),
                "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
            ),
            (
                json!({"spec": {"minReadySeconds": -1}}),
                "spec.minReadySeconds: Invalid value: -1: must be greater than or equal to 0",
            ),
            (json!({"spec": {"selector": null}}), "spec.selector: Required value"),
            (
                // Upstream's message names deployments here too.
                json!({"spec": {"selector": {"matchLabels": {"app": null}}}}),
                "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment",
            ),
            (
                json!({"spec": {"selector": {"matchLabels": {"app": "api"}}}}),
                r#"spec.template.metadata.labels: Invalid value: map[string]string{"app":"web"}: `selector` does not match template `labels`"#,
            ),
            (
                json!({"spec": {"template": {"spec": {"restartPolicy": "OnFailure"}}}}),
                r#"spec.template.spec.restartPolicy: Unsupported value: "OnFailure": supported values: "Always""#,
            ),
            (
                json!({"spec": {"template": {"spec": {"activeDeadlineSeconds": 0}}}}),
                "spec.template.spec.activeDeadlineSeconds: Invalid value: 0: must be between 1 and 2147483647, inclusive",
            ),
            (
                json!({"spec": {"template": {"spec": {"activeDeadlineSeconds": 0}}}}),
                "spec.template.spec.activeDeadlineSeconds: Forbidden: activeDeadlineSeconds in ReplicaSet is not Supported",
            ),
            (
                json!({"spec": {"template": {"spec": {"dnsPolicy": "Google"}}}}),
                r#"spec.template.spec.dnsPolicy: Unsupported value: "Google": supported values: "ClusterFirstWithHostNet", "ClusterFirst", "Default", "None""#,
            ),
        ],
    );
    let old = replica_set();
    let update =
        |patch: Value| check("apps", "ReplicaSet", with(old.clone(), patch), Write::Update(&old));
    assert!(update(json!({"spec": {"replicas": 3}})).is_empty());
    assert_eq!(
        update(json!({"spec": {"selector": {"matchLabels": null, "matchExpressions": [
            {"key": "app", "operator": "Exists"}]}}})),
        vec![
            r#"spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement{v1.LabelSelectorRequirement{Key:"app", Operator:"Exists", Values:[]string(nil)}}}: field is immutable"#
        ]
    );
    let status = |status: Value| {
        let new = with(old.clone(), json!({ "status": status }));
        check("apps", "ReplicaSet", new, Write::Status(&old))
    };
    assert!(
        status(json!({"replicas": 2, "fullyLabeledReplicas": 2, "readyReplicas": 1,
            "availableReplicas": 1, "observedGeneration": 1}))
        .is_empty()
    );
    assert_eq!(
        status(json!({"replicas": 1, "fullyLabeledReplicas": 2, "readyReplicas": -1,
            "availableReplicas": 0})),
        vec![
            "status.readyReplicas: Invalid value: -1: must be greater than or equal to 0",
            "status.fullyLabeledReplicas: Invalid value: 2: cannot be greater than status.replicas",
            "status.availableReplicas: Invalid value: 0: cannot be greater than readyReplicas",
        ]
    );
}

#[test]
fn daemon_set_rules() {
    for patch in [
        json!({}),
        json!({"spec": {"updateStrategy": {"type": "OnDelete", "rollingUpdate": null}}}),
        json!({"spec": {"updateStrategy": {"rollingUpdate": {"maxUnavailable": 0, "maxSurge": "10%"}}}}),
    ] {
        assert_eq!(
            create("apps", "DaemonSet", with(daemon_set(), patch.clone())),
            Vec::<String>::new(),
            "{patch}"
        );
    }
    // A DaemonSet's selector is not required: without one, nothing matches the template.
    assert_eq!(
        create("apps", "DaemonSet", with(daemon_set(), json!({"spec": {"selector": null}}))),
        vec![
            r#"spec.template.metadata.labels: Invalid value: map[string]string{"app":"web"}: `selector` does not match template `labels`"#
        ]
    );
    // A selector that does not parse still leaves the template checked.
    let unparsed = with(
        daemon_set(),
        json!({"spec": {"selector": {"matchExpressions": [{"key": "app", "operator": "Near"}]},
            "template": {"spec": {"restartPolicy": "Never"}}}}),
    );
    assert_eq!(
        create("apps", "DaemonSet", unparsed),
        vec![
            r#"spec.selector.matchExpressions[0].operator: Invalid value: "Near": not a valid selector operator"#,
            r#"spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always""#,
        ]
    );
    refused(
        "DaemonSet",
        &daemon_set(),
        vec![
            (
                json!({"metadata": {"name": "Agent"}}),
                r#"metadata.name: Invalid value: "Agent": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"#,
            ),
            (
                json!({"spec": {"selector": {"matchLabels": null}}}),
                "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for daemonset",
            ),
            (
                json!({"spec": {"template": {"spec": {"activeDeadlineSeconds": 5}}}}),
                "spec.template.spec.activeDeadlineSeconds: Forbidden: activeDeadlineSeconds in DaemonSet is not Supported",
            ),
            (
                json!({"spec": {"template": {"spec": {"containers": [{"name": "agent", "image": " x"}]}}}}),
                r#"spec.template.spec.containers[0].image: Invalid value: " x": must not have leading or trailing whitespace"#,
            ),
            (
                json!({"spec": {"minReadySeconds": -1}}),
                "spec.minReadySeconds: Invalid value: -1: must be greater than or equal to 0",
            ),
            (
                json!({"spec": {"revisionHistoryLimit": -1}}),
                "spec.revisionHistoryLimit: Invalid value: -1: must be greater than or equal to 0",
            ),
            (
                json!({"spec": {"updateStrategy": {"type": "Surge", "rollingUpdate": null}}}),
                r#"spec.updateStrategy: Unsupported value: apps.DaemonSetUpdateStrategy{Type:"Surge", RollingUpdate:(*apps.RollingUpdateDaemonSet)(nil)}: supported values: "RollingUpdate", "OnDelete""#,
            ),
            (
                json!({"spec": {"updateStrategy": {"rollingUpdate": {"maxSurge": 1}}}}),
                r#"spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: intstr.IntOrString{Type:0, IntVal:1, StrVal:""}: may not be set when maxUnavailable is non-zero"#,
            ),
            (
                json!({"spec": {"updateStrategy": {"rollingUpdate": {"maxUnavailable": "0%"}}}}),
                "spec.updateStrategy.rollingUpdate.maxUnavailable: Required value: cannot be 0 when maxSurge is 0",
            ),
            (
                json!({"spec": {"updateStrategy": {"rollingUpdate": {"maxUnavailable": 0, "maxSurge": "120%"}}}}),
                r#"spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:"120%"}: must not be greater than 100%"#,
            ),
            (
                json!({"spec": {"updateStrategy": {"rollingUpdate": {"maxUnavailable": -1}}}}),
                "spec.updateStrategy.rollingUpdate.maxUnavailable: Invalid value: -1: must be greater than or equal to 0",
            ),
        ],
    );
    let old = daemon_set();
    let update =
        |patch: Value| check("apps", "DaemonSet", with(old.clone(), patch), Write::Update(&old));
    assert!(
        update(json!({"spec": {"minReadySeconds": 5,
            "updateStrategy": {"rollingUpdate": {"maxUnavailable": "10%"}}}}))
        .is_empty()
    );
    assert_eq!(
        update(json!({"spec": {"selector": {"matchLabels": {"app": "agent"}},
            "template": {"metadata": {"labels": {"app": "agent"}}}}})),
        vec![
            r#"spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"agent"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"#
        ]
    );
    let status = |status: Value| {
        let new = with(old.clone(), json!({ "status": status }));
        check("apps", "DaemonSet", new, Write::Status(&old))
    };
    assert!(
        status(json!({"currentNumberScheduled": 2, "numberMisscheduled": 0,
            "desiredNumberScheduled": 2, "numberReady": 1, "observedGeneration": 1,
            "updatedNumberScheduled": 2, "numberAvailable": 1, "numberUnavailable": 1}))
        .is_empty()
    );
    assert_eq!(
        status(json!({"desiredNumberScheduled": 1, "numberReady": -1, "numberUnavailable": -2})),
        vec![
            "status.numberReady: Invalid value: -1: must be greater than or equal to 0",
            "status.numberUnavailable: Invalid value: -2: must be greater than or equal to 0",
        ]
    );
    let collided = with(old.clone(), json!({"status": {"collisionCount": 3}}));
    let fewer = with(collided.clone(), json!({"status": {"collisionCount": 0}}));
    assert_eq!(
        check("apps", "DaemonSet", fewer, Write::Status(&collided)),
        vec!["status.collisionCount: Invalid value: 0: cannot be decremented"]
    );
}

#[test]
fn pod_rules() {
    let cases: Vec<(Value, &str)> = vec![
        (json!({"spec": {"containers": []}}), "spec.containers: Required value"),
        (
            json!({"spec": {"containers": [{"name": "c"}]}}),
            "spec.containers[0].image: Required value",
        ),
        (
            json!({"spec": {"containers": [{"name": "C_1", "image": "x"}]}}),
            r#"spec.containers[0].name: Invalid value: "C_1": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"#,
        ),
        (
            json!({"spec": {"containers": [{"name": "c", "image": "x"}, {"name": "c", "image": "y"}]}}),
            r#"spec.containers[1].name: Duplicate value: "c""#,
        ),
        (
            json!({"spec": {"containers": [{"name": "c", "image": "x", "ports": [{"containerPort": 70000}]}]}}),
            "spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
        ),
        (
            json!({"spec": {"containers": [{"name": "c", "image": "x", "ports": [{"containerPort": 80, "protocol": "HTTP"}]}]}}),
            r#"spec.containers[0].ports[0].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP""#,
        ),
        (
            json!({"spec": {"containers": [{"name": "c", "image": "x", "resources": {"requests": {"cpu": "2"}, "limits": {"cpu": "500m"}}}]}}),
            "spec.containers[0].resources.requests[cpu]: Invalid value: \"2\": must be less than or equal to cpu limit of 500m",
        ),
        (
            json!({"spec": {"containers": [{"name": "c", "image": "x", "volumeMounts": [{"name": "data", "mountPath": "/d"}]}]}}),
            r#"spec.containers[0].volumeMounts[0].name: Not found: "data""#,
        ),
        (
            json!({"spec": {"volumes": [{"name": "v", "emptyDir": {}}, {"name": "v", "emptyDir": {}}]}}),
            r#"spec.volumes[1].name: Duplicate value: "v""#,
        ),
        (
            json!({"spec": {"volumes": [{"name": "v", "emptyDir": {}, "hostPath": {"path": "/x"}}]}}),
            "spec.volumes[0].emptyDir: Forbidden: may not specify more than 1 volume type",
        ),
        (
            json!({"spec": {"restartPolicy": "Sometimes"}}),
            r#"spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never""#,
        ),
        (
            json!({"spec": {"dnsPolicy": "Google"}}),
            r#"spec.dnsPolicy: Unsupported value: "Google": supported values: "ClusterFirstWithHostNet", "ClusterFirst", "Default", "None""#,
        ),
        (
            json!({"spec": {"hostname": "a.b"}}),
            r#"spec.hostname: Invalid value: "a.b": must not contain dots"#,
        ),
        (
            json!({"metadata": {"labels": {"app": "a b"}}}),
            r#"metadata.labels: Invalid value: "a b": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"#,
        ),
        (
            json!({"metadata": {"annotations": {"a/b/c": "x"}}}),
            r#"metadata.annotations: Invalid value: "a/b/c": a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"#,
        ),
        (
            json!({"metadata": {"finalizers": ["custom"]}}),
            r#"metadata.finalizers[0]: Invalid value: "custom": name is neither a standard finalizer name nor is it fully qualified"#,
        ),
        (
            json!({"spec": {"containers": [{"name": "c", "image": "x", "livenessProbe": {"periodSeconds": 5}}]}}),
            "spec.containers[0].livenessProbe: Required value: must specify a handler type",
        ),
    ];
    for (patch, expected) in cases {
        let errors = create("", "Pod", with(pod(), patch.clone()));
        assert!(errors.contains(&expected.to_owned()), "{patch}: {errors:#?}");
    }
}

#[test]
fn pod_updates_change_only_images_and_deadlines() {
    let mut old = with(pod(), json!({"spec": {"activeDeadlineSeconds": 100}}));
    defaults::apply("", "Pod", &mut old);
    let update = |patch: Value| check("", "Pod", with(old.clone(), patch), Write::Update(&old));
    let mut new_image = old.clone();
    new_image["spec"]["containers"][0]["image"] = json!("busybox:1.36");
    let errors = check("", "Pod", new_image, Write::Update(&old));
    assert!(errors.is_empty(), "{errors:?}");
    assert!(update(json!({"spec": {"activeDeadlineSeconds": 50}})).is_empty());
    assert!(update(json!({"metadata": {"labels": {"a": "b"}}})).is_empty());
    assert_eq!(
        update(json!({"spec": {"activeDeadlineSeconds": 200}})),
        vec![
            "spec.activeDeadlineSeconds: Invalid value: 200: must be less than or equal to previous value"
        ]
    );
    let changed = update(json!({"spec": {"restartPolicy": "Never"}}));
    assert_eq!(changed.len(), 1, "{changed:?}");
    assert!(changed[0].starts_with(
        "spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`"
    ));
}

#[test]
fn no_new_finalizers_once_marked_for_deletion() {
    let marked = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
        "name": "c", "namespace": "default", "finalizers": ["a/b"],
        "deletionTimestamp": "2024-01-01T00:00:00Z", "deletionGracePeriodSeconds": 0}});
    let update =
        |patch: Value| check("", "ConfigMap", with(marked.clone(), patch), Write::Update(&marked));
    assert_eq!(
        update(json!({"metadata": {"finalizers": ["a/b", "c/d"]}})),
        vec![
            "metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{\"c/d\"}"
        ]
    );
    assert!(update(json!({"metadata": {"finalizers": []}})).is_empty());
}

#[test]
fn scheduling_gates_may_only_be_removed() {
    let mut old = with(pod(), json!({"spec": {"schedulingGates": [{"name": "a"}, {"name": "b"}]}}));
    defaults::apply("", "Pod", &mut old);
    let update = |patch: Value| check("", "Pod", with(old.clone(), patch), Write::Update(&old));
    assert!(update(json!({"spec": {"schedulingGates": [{"name": "a"}]}})).is_empty());
    assert!(update(json!({"spec": {"schedulingGates": []}})).is_empty());
    assert_eq!(
        update(json!({"spec": {"schedulingGates": [{"name": "a"}, {"name": "c"}]}})),
        vec![
            "spec.schedulingGates: Forbidden: only deletion is allowed, but found new scheduling gate 'c'"
        ]
    );
}

#[test]
fn gated_pods_may_gain_node_selectors_and_affinity_requirements() {
    let term = |exprs: Value| json!({"matchExpressions": exprs});
    let a = json!({"key": "a", "operator": "In", "values": ["x"]});
    let b = json!({"key": "b", "operator": "Exists"});
    let required = |terms: Value| json!({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": terms}}});
    let gated = |extra: Value| {
        let mut pod = with(pod(), json!({"spec": {"schedulingGates": [{"name": "g"}]}}));
        pod = with(pod, json!({"spec": extra}));
        defaults::apply("", "Pod", &mut pod);
        pod
    };
    let errors = |old: Value, new: Value| check("", "Pod", new, Write::Update(&old));
    // Additions are fine: new selector keys, affinity where there was none, requirements
    // added to existing terms.
    assert!(errors(gated(json!({})), gated(json!({"nodeSelector": {"c": "d"}}))).is_empty());
    let selected = gated(json!({"nodeSelector": {"a": "b"}}));
    assert!(
        errors(selected.clone(), gated(json!({"nodeSelector": {"a": "b", "c": "d"}}))).is_empty()
    );
    assert!(
        errors(gated(json!({})), gated(json!({"affinity": required(json!([term(json!([a]))]))})))
            .is_empty()
    );
    let with_a = gated(json!({"affinity": required(json!([term(json!([a]))]))}));
    assert!(
        errors(with_a.clone(), gated(json!({"affinity": required(json!([term(json!([a, b]))]))})))
            .is_empty()
    );
    // Mutations and removals are not.
    assert_eq!(
        errors(selected, gated(json!({"nodeSelector": {"a": "z"}}))),
        vec![
            r#"spec.nodeSelector: Invalid value: map[string]string{"a":"z"}: only additions to spec.nodeSelector are allowed (no mutations or deletions)"#
        ]
    );
    let changed =
        errors(with_a.clone(), gated(json!({"affinity": required(json!([term(json!([b]))]))})));
    assert_eq!(changed.len(), 1, "{changed:?}");
    assert!(changed[0].starts_with("spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0]: Invalid value: "));
    assert!(changed[0].ends_with(": only additions are allowed (no mutations or deletions)"));
    let more = errors(
        with_a,
        gated(json!({"affinity": required(json!([term(json!([a])), term(json!([b]))]))})),
    );
    assert_eq!(more.len(), 1, "{more:?}");
    assert!(
        more[0].ends_with("no additions/deletions to non-empty NodeSelectorTerms list are allowed")
    );
    // Without gates the selector stays immutable.
    let mut plain = with(pod(), json!({"spec": {"nodeSelector": {"a": "b"}}}));
    defaults::apply("", "Pod", &mut plain);
    let added = with(plain.clone(), json!({"spec": {"nodeSelector": {"a": "b", "c": "d"}}}));
    let refused = errors(plain, added);
    assert_eq!(refused.len(), 1);
    assert!(refused[0].starts_with("spec: Forbidden: pod updates may not change fields"));
}

#[test]
fn service_rules() {
    let svc = json!({"metadata": {"name": "web", "namespace": "d"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}});
    let cases: Vec<(Value, &str)> = vec![
        (json!({"spec": {"ports": []}}), "spec.ports: Required value"),
        (
            json!({"spec": {"ports": [{"port": 80, "name": "a"}, {"port": 81}]}}),
            "spec.ports[1].name: Required value",
        ),
        (
            json!({"spec": {"ports": [{"port": 0}]}}),
            "spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
        ),
        (
            json!({"spec": {"type": "Magic"}}),
            r#"spec.type: Unsupported value: "Magic": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort""#,
        ),
        (
            json!({"spec": {"sessionAffinity": "Cookie"}}),
            r#"spec.sessionAffinity: Unsupported value: "Cookie": supported values: "ClientIP", "None""#,
        ),
        (
            json!({"spec": {"ports": [{"port": 80, "nodePort": 30080}]}}),
            "spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'",
        ),
        (
            json!({"spec": {"type": "NodePort", "clusterIP": "None"}}),
            r#"spec.clusterIPs[0]: Invalid value: "None": may not be set to 'None' for NodePort services"#,
        ),
        (
            json!({"metadata": {"name": "1web"}}),
            r#"metadata.name: Invalid value: "1web": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"#,
        ),
    ];
    for (patch, expected) in cases {
        let errors = create("", "Service", with(svc.clone(), patch.clone()));
        assert!(errors.contains(&expected.to_owned()), "{patch}: {errors:#?}");
    }
    let mut old = with(svc.clone(), json!({"spec": {"clusterIP": "10.96.0.10"}}));
    defaults::apply("", "Service", &mut old);
    let changed = with(
        old.clone(),
        json!({"spec": {"clusterIP": "10.96.0.11", "clusterIPs": ["10.96.0.11"]}}),
    );
    assert_eq!(
        check("", "Service", changed, Write::Update(&old)),
        vec![r#"spec.clusterIPs[0]: Invalid value: "10.96.0.11": may not change once set"#]
    );
}

#[test]
fn volume_and_claim_rules() {
    let claim = json!({"metadata": {"name": "c", "namespace": "d"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}});
    assert_eq!(
        create(
            "",
            "PersistentVolumeClaim",
            with(claim.clone(), json!({"spec": {"accessModes": []}}))
        ),
        vec!["spec.accessModes: Required value: at least 1 access mode is required"]
    );
    assert_eq!(
        create(
            "",
            "PersistentVolumeClaim",
            with(claim.clone(), json!({"spec": {"accessModes": ["ReadWriteSometimes"]}}))
        ),
        vec![
            r#"spec.accessModes: Unsupported value: "ReadWriteSometimes": supported values: "ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod""#
        ]
    );
    assert_eq!(
        create(
            "",
            "PersistentVolumeClaim",
            with(claim.clone(), json!({"spec": {"resources": null}}))
        ),
        vec!["spec.resources[storage]: Required value"]
    );
    let mut old = claim.clone();
    defaults::apply("", "PersistentVolumeClaim", &mut old);
    let update = |patch: Value| {
        check("", "PersistentVolumeClaim", with(old.clone(), patch), Write::Update(&old))
    };
    assert!(
        update(json!({"spec": {"volumeName": "pvc-1"}})).is_empty(),
        "binding sets volumeName once"
    );
    assert_eq!(
        update(json!({"spec": {"storageClassName": "fast"}})),
        vec![
            "spec: Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims"
        ]
    );
    let bound = with(old.clone(), json!({"status": {"phase": "Bound"}}));
    let grown =
        with(bound.clone(), json!({"spec": {"resources": {"requests": {"storage": "2Gi"}}}}));
    assert!(check("", "PersistentVolumeClaim", grown, Write::Update(&bound)).is_empty());
    let shrunk =
        with(bound.clone(), json!({"spec": {"resources": {"requests": {"storage": "1Mi"}}}}));
    assert_eq!(
        check("", "PersistentVolumeClaim", shrunk, Write::Update(&bound)),
        vec![
            "spec.resources.requests.storage: Forbidden: field can not be less than previous value"
        ]
    );
    let pv = json!({"metadata": {"name": "pv"}, "spec": {"accessModes": ["ReadWriteOnce"],
        "capacity": {"storage": "1Gi"}, "hostPath": {"path": "/x"}}});
    assert_eq!(
        create("", "PersistentVolume", with(pv.clone(), json!({"spec": {"hostPath": null}}))),
        vec!["spec: Required value: must specify a volume type"]
    );
    let mut old_pv = pv.clone();
    defaults::apply("", "PersistentVolume", &mut old_pv);
    let moved = with(old_pv.clone(), json!({"spec": {"hostPath": {"path": "/y"}}}));
    assert_eq!(
        check("", "PersistentVolume", moved, Write::Update(&old_pv)),
        vec![
            "spec.persistentvolumesource: Forbidden: spec.persistentvolumesource is immutable after creation"
        ]
    );
}

#[test]
fn storage_class_rules() {
    let class = json!({"metadata": {"name": "fast"}, "provisioner": "berth.dev/local-path"});
    assert_eq!(
        create(
            "storage.k8s.io",
            "StorageClass",
            with(class.clone(), json!({"reclaimPolicy": "Recycle"}))
        ),
        vec![
            r#"reclaimPolicy: Unsupported value: "Recycle": supported values: "Delete", "Retain""#
        ]
    );
    assert_eq!(
        create("storage.k8s.io", "StorageClass", with(class.clone(), json!({"provisioner": null}))),
        vec!["provisioner: Required value"]
    );
    let mut old = class.clone();
    defaults::apply("storage.k8s.io", "StorageClass", &mut old);
    let changed = with(
        old.clone(),
        json!({"parameters": {"a": "b"}, "provisioner": "x.io/y",
        "reclaimPolicy": "Retain", "volumeBindingMode": "WaitForFirstConsumer"}),
    );
    assert_eq!(
        check("storage.k8s.io", "StorageClass", changed, Write::Update(&old)),
        vec![
            "parameters: Forbidden: updates to parameters are forbidden.",
            "provisioner: Forbidden: updates to provisioner are forbidden.",
            "reclaimPolicy: Forbidden: updates to reclaimPolicy are forbidden.",
            r#"volumeBindingMode: Invalid value: "WaitForFirstConsumer": field is immutable"#,
        ]
    );
}

#[test]
fn ingress_rules() {
    let group = "networking.k8s.io";
    let ingress = |metadata: Value, spec: Value| json!({"metadata": metadata, "spec": spec});
    let named = json!({"name": "web", "namespace": "d"});
    let backend = json!({"service": {"name": "web", "port": {"number": 80}}});
    let good = ingress(
        named.clone(),
        json!({
            "ingressClassName": "nginx",
            "rules": [{"host": "*.example.com", "http": {"paths": [
                {"path": "/", "pathType": "Prefix", "backend": backend},
                {"pathType": "ImplementationSpecific", "backend": {"service": {"name": "api", "port": {"name": "http"}}}},
                {"path": "/x", "pathType": "Exact", "backend": {"resource": {"apiGroup": "k8s.example.com", "kind": "StorageBucket", "name": "static"}}}]}}],
            "tls": [{"hosts": ["*.example.com", "example.com"], "secretName": "tls"}],
        }),
    );
    assert_eq!(create(group, "Ingress", good.clone()), Vec::<String>::new());
    assert_eq!(
        create(group, "Ingress", ingress(named.clone(), json!({}))),
        vec![
            "spec: Invalid value: []networking.IngressRule(nil): either `defaultBackend` or `rules` must be specified"
        ]
    );
    let bad = ingress(
        json!({"name": "web", "namespace": "d", "annotations": {"kubernetes.io/ingress.class": "a"}}),
        json!({
            "ingressClassName": "B",
            "defaultBackend": {"service": {"name": "Web", "port": {"name": "http", "number": 80}}},
            "rules": [
                {"host": "10.0.0.1"},
                {"host": "*.*.example.com", "http": {"paths": []}},
                {"http": {"paths": [
                    {"path": "a//b/..", "pathType": "Prefix", "backend": backend},
                    {"path": "/", "backend": backend},
                    {"path": "/", "pathType": "Regex", "backend": {}},
                    {"path": "/", "pathType": "Exact", "backend": {"service": {"name": "web", "port": {}},
                        "resource": {"kind": "K", "name": "n"}}},
                    {"path": "/", "pathType": "Exact", "backend": {"service": {"port": {"number": 70000}}}},
                    {"path": "/", "pathType": "Exact", "backend": {"resource": {"name": "a/b"}}}]}}],
            "tls": [{"hosts": ["Example.com"], "secretName": "Bad_Name"}],
        }),
    );
    assert_eq!(
        create(group, "Ingress", bad),
        vec![
            r#"spec.defaultBackend.service.name: Invalid value: "Web": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"#,
            r#"spec.defaultBackend: Invalid value: "": cannot set both port name & port number"#,
            r#"spec.rules[0].host: Invalid value: "10.0.0.1": must be a DNS name, not an IP address"#,
            r#"spec.rules[1].host: Invalid value: "*.*.example.com": a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character (e.g. '*.example.com', regex used for validation is '\*\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"#,
            "spec.rules[1].http.paths: Required value",
            r#"spec.rules[2].http.paths[0].path: Invalid value: "a//b/..": must be an absolute path"#,
            r#"spec.rules[2].http.paths[0].path: Invalid value: "a//b/..": must not contain '//'"#,
            r#"spec.rules[2].http.paths[0].path: Invalid value: "a//b/..": cannot end with '/..'"#,
            "spec.rules[2].http.paths[1].pathType: Required value: pathType must be specified",
            r#"spec.rules[2].http.paths[2].pathType: Unsupported value: "Regex": supported values: "Exact", "ImplementationSpecific", "Prefix""#,
            r#"spec.rules[2].http.paths[2].backend: Invalid value: "": resource or service backend is required"#,
            r#"spec.rules[2].http.paths[3].backend: Invalid value: "": cannot set both resource and service backends"#,
            "spec.rules[2].http.paths[4].backend.service.name: Required value",
            "spec.rules[2].http.paths[4].backend.service.port.number: Invalid value: 70000: must be between 1 and 65535, inclusive",
            "spec.rules[2].http.paths[5].backend.resource.kind: Required value: kind is required",
            r#"spec.rules[2].http.paths[5].backend.resource.name: Invalid value: "a/b": may not contain '/'"#,
            r#"spec.tls[0].hosts[0]: Invalid value: "Example.com": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"#,
            r#"spec.tls[0].secretName: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"#,
            r#"spec.ingressClassName: Invalid value: "B": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"#,
            r#"annotations.kubernetes.io/ingress.class: Invalid value: "a": must match `ingressClassName` when both are specified"#,
        ]
    );
    // What the stored object already holds stays allowed on update.
    let legacy = with(good.clone(), json!({"spec": {"tls": [{"secretName": "Old_Secret"}]}}));
    let edited = with(legacy.clone(), json!({"spec": {"ingressClassName": "other"}}));
    assert!(check(group, "Ingress", edited.clone(), Write::Update(&legacy)).is_empty());
    assert_eq!(check(group, "Ingress", edited, Write::Update(&good)).len(), 1);
    // The status: IPs and DNS names.
    let status = with(
        good.clone(),
        json!({"status": {"loadBalancer": {"ingress": [
        {"ip": "10.0.0.300"}, {"hostname": "10.0.0.1"}, {"ip": "10.0.0.1", "hostname": "lb.example.com"}]}}}),
    );
    assert_eq!(
        check(group, "Ingress", status, Write::Status(&good)),
        vec![
            r#"status.loadBalancer.ingress[0].ip: Invalid value: "10.0.0.300": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"#,
            r#"status.loadBalancer.ingress[1].hostname: Invalid value: "10.0.0.1": must be a DNS name, not an IP address"#,
        ]
    );
}

#[test]
fn ingress_class_rules() {
    let group = "networking.k8s.io";
    let class = |spec: Value| json!({"metadata": {"name": "nginx"}, "spec": spec});
    let good = class(json!({"controller": "k8s.io/ingress-nginx",
        "parameters": {"apiGroup": "k8s.example.com", "kind": "IngressParameters", "name": "p"}}));
    assert!(create(group, "IngressClass", good.clone()).is_empty());
    let bad = |spec: Value| create(group, "IngressClass", class(spec));
    assert_eq!(bad(json!({})), vec!["spec.controller: Required value"]);
    assert_eq!(
        bad(json!({"controller": "nginx"})),
        vec![
            r#"spec.controller: Invalid value: "nginx": must be a domain-prefixed path (such as "acme.io/foo")"#
        ]
    );
    assert_eq!(
        bad(
            json!({"controller": "k8s.io/a b", "parameters": {"kind": "ConfigMap", "name": "c", "scope": "Namespace"}})
        ),
        vec![
            r#"spec.controller: Invalid value: "a b": Invalid path (regex used for validation is '[A-Za-z0-9/\-._~%!$&'()*+,;=:]+')"#,
            "spec.parameters.namespace: Required value: `parameters.scope` is set to 'Namespace'",
        ]
    );
    assert_eq!(
        bad(
            json!({"controller": "k8s.io/x", "parameters": {"kind": "ConfigMap", "name": "c", "namespace": "n"}})
        ),
        vec!["spec.parameters.namespace: Forbidden: `parameters.scope` is set to 'Cluster'"]
    );
    assert_eq!(
        bad(
            json!({"controller": "k8s.io/x", "parameters": {"kind": "ConfigMap", "name": "c", "scope": "Global"}})
        ),
        vec![
            r#"spec.parameters.scope: Unsupported value: "Global": supported values: "Cluster", "Namespace""#
        ]
    );
    let mut old = good.clone();
    defaults::apply(group, "IngressClass", &mut old);
    let changed = with(old.clone(), json!({"spec": {"controller": "example.com/other"}}));
    assert_eq!(
        check(group, "IngressClass", changed, Write::Update(&old)),
        vec![r#"spec.controller: Invalid value: "example.com/other": field is immutable"#]
    );
}

#[test]
fn job_rules() {
    let group = "batch";
    let labels = json!({"batch.kubernetes.io/controller-uid": "u1", "batch.kubernetes.io/job-name": "pi",
        "controller-uid": "u1", "job-name": "pi"});
    let job = |spec: Value| {
        let mut spec = spec;
        if spec.get("selector").is_none() {
            spec["selector"] = json!({"matchLabels": {"batch.kubernetes.io/controller-uid": "u1"}});
        }
        if spec.get("template").is_none() {
            spec["template"] = json!({"metadata": {"labels": labels},
                "spec": {"restartPolicy": "Never", "containers": [{"name": "pi", "image": "perl"}]}});
        }
        json!({"metadata": {"name": "pi", "namespace": "d", "uid": "u1"}, "spec": spec})
    };
    assert_eq!(create(group, "Job", job(json!({}))), Vec::<String>::new());
    let indexed = job(json!({"completionMode": "Indexed", "completions": 3, "parallelism": 3,
        "backoffLimitPerIndex": 1, "maxFailedIndexes": 1,
        "successPolicy": {"rules": [{"succeededIndexes": "0-1", "succeededCount": 1}]}}));
    assert_eq!(create(group, "Job", indexed), Vec::<String>::new());

    let always =
        with(job(json!({})), json!({"spec": {"template": {"spec": {"restartPolicy": "Always"}}}}));
    assert_eq!(
        create(group, "Job", always),
        vec![
            r#"spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never""#
        ]
    );
    let bad = job(json!({"parallelism": -1, "completionMode": "Indexed", "backoffLimit": -2,
        "podReplacementPolicy": "Sometimes",
        "podFailurePolicy": {"rules": [
            {"action": "FailJob", "onExitCodes": {"operator": "In", "values": [0, 3, 2, 3]}},
            {"action": "Explode", "onExitCodes": {"operator": "In", "values": [1], "containerName": "other"},
             "onPodConditions": [{"type": "DisruptionTarget"}]}]}}));
    assert_eq!(
        create(group, "Job", bad),
        vec![
            "spec.parallelism: Invalid value: -1: must be greater than or equal to 0",
            "spec.backoffLimit: Invalid value: -2: must be greater than or equal to 0",
            "spec.completions: Required value: when completion mode is Indexed",
            "spec.podFailurePolicy.rules[0].onExitCodes.values[0]: Invalid value: 0: must not be 0 for the In operator",
            "spec.podFailurePolicy.rules[0].onExitCodes.values[3]: Duplicate value: 3",
            "spec.podFailurePolicy.rules[0].onExitCodes.values: Invalid value: []int32{0, 3, 2, 3}: must be ordered",
            r#"spec.podFailurePolicy.rules[1].action: Unsupported value: "Explode": supported values: "Count", "FailIndex", "FailJob", "Ignore""#,
            r#"spec.podFailurePolicy.rules[1].onExitCodes.containerName: Invalid value: "other": must be one of the container or initContainer names in the pod template"#,
            "spec.podFailurePolicy.rules[1]: Invalid value: specifying both OnExitCodes and OnPodConditions is not supported",
            r#"spec.podReplacementPolicy: Unsupported value: "Sometimes": supported values: "Failed""#,
        ]
    );
    // A selector or template labels that are not the generated ones.
    let forged = job(json!({"selector": {"matchLabels": {"app": "pi"}},
        "template": {"metadata": {"labels": {"app": "pi", "job-name": "other"}},
            "spec": {"restartPolicy": "OnFailure", "containers": [{"name": "pi", "image": "perl"}]}}}));
    assert_eq!(
        create(group, "Job", forged),
        vec![
            r#"spec.template.metadata.labels[controller-uid]: Required value: u1"#,
            r#"spec.template.metadata.labels[job-name]: Invalid value: map[string]string{"app":"pi", "job-name":"other"}: must be 'pi'"#,
            r#"spec.template.metadata.labels[batch.kubernetes.io/controller-uid]: Required value: u1"#,
            r#"spec.template.metadata.labels[batch.kubernetes.io/job-name]: Required value: pi"#,
            r#"spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"pi"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: `selector` not auto-generated"#,
        ]
    );
    let manual = with(
        job(json!({"manualSelector": true, "selector": {"matchLabels": {"app": "pi"}}})),
        json!({"spec": {"template": {"metadata": {"labels": {"app": "pi"}}}}}),
    );
    assert_eq!(create(group, "Job", manual), Vec::<String>::new(), "a manual selector");

    // Updates: the template and the selector are immutable, but for a suspended job that never
    // started; Indexed completions change with parallelism.
    let mut old = job(json!({}));
    defaults::apply(group, "Job", &mut old);
    let image = json!({"spec": {"template": {"spec": {"containers": [{"name": "pi", "image": "perl:2"}]}}}});
    assert_eq!(
        check(group, "Job", with(old.clone(), image.clone()), Write::Update(&old)),
        vec!["spec.template: Invalid value: core.PodTemplateSpec{…}: field is immutable"]
    );
    let mut suspended = with(old.clone(), json!({"spec": {"suspend": true}}));
    let placed = with(
        suspended.clone(),
        json!({"spec": {"template": {"spec": {"nodeSelector": {"zone": "a"}}}}}),
    );
    assert!(check(group, "Job", placed.clone(), Write::Update(&suspended)).is_empty());
    suspended["status"] = json!({"startTime": "2026-12-07T00:00:00Z"});
    assert_eq!(check(group, "Job", placed, Write::Update(&suspended)).len(), 1, "it started");
    let mut elastic = job(json!({"completionMode": "Indexed", "completions": 3, "parallelism": 3}));
    defaults::apply(group, "Job", &mut elastic);
    let scaled = with(elastic.clone(), json!({"spec": {"completions": 5, "parallelism": 5}}));
    assert!(check(group, "Job", scaled, Write::Update(&elastic)).is_empty());
    let lopsided = with(elastic.clone(), json!({"spec": {"completions": 5}}));
    assert_eq!(
        check(group, "Job", lopsided, Write::Update(&elastic)),
        vec![
            "spec.completions: Invalid value: 5: can only be modified in tandem with spec.parallelism"
        ]
    );
    // The status counts.
    let counted = with(
        old.clone(),
        json!({"status": {"active": 1, "ready": 2, "succeeded": -1,
        "uncountedTerminatedPods": {"succeeded": ["a"], "failed": ["a", ""]}}}),
    );
    assert_eq!(
        check(group, "Job", counted, Write::Status(&old)),
        vec![
            "status.succeeded: Invalid value: -1: must be greater than or equal to 0",
            r#"status.uncountedTerminatedPods.failed[0]: Duplicate value: "a""#,
            r#"status.uncountedTerminatedPods.failed[1]: Invalid value: "": must not be empty"#,
            "status.ready: Invalid value: 2: cannot set more ready pods than active",
            "status.succeeded: Invalid value: -1: cannot decrease the succeeded counter",
        ]
    );
}

/// `ValidateJobStatusUpdate` with v1.33's status strategy options: most rules apply only when
/// a field they read changes.
#[test]
fn job_status_rules() {
    let group = "batch";
    let job = |spec: Value, status: Value| {
        let labels = json!({"batch.kubernetes.io/controller-uid": "u1",
            "batch.kubernetes.io/job-name": "pi", "controller-uid": "u1", "job-name": "pi"});
        let mut spec = spec;
        spec["selector"] = json!({"matchLabels": {"batch.kubernetes.io/controller-uid": "u1"}});
        spec["template"] = json!({"metadata": {"labels": labels},
            "spec": {"restartPolicy": "Never", "containers": [{"name": "pi", "image": "perl"}]}});
        let mut job = json!({"metadata": {"name": "pi", "namespace": "d", "uid": "u1"},
            "spec": spec, "status": status});
        defaults::apply(group, "Job", &mut job);
        job
    };
    let update = |old: &Value, status: Value| {
        let mut new = old.clone();
        new["status"] = status;
        check(group, "Job", new, Write::Status(old))
    };
    let (t0, t1, t2) = ("2026-01-01T00:00:00Z", "2026-01-01T00:05:00Z", "2026-01-01T00:09:30.25Z");
    let running = job(
        json!({}),
        json!({"startTime": t0, "active": 1, "ready": 0, "terminating": 0,
        "uncountedTerminatedPods": {}}),
    );

    // Success as the controller writes it: SuccessCriteriaMet first, then Complete with the
    // completion time.
    let met = json!({"startTime": t0, "active": 0, "ready": 0, "terminating": 0, "succeeded": 1,
        "uncountedTerminatedPods": {}, "conditions": [{"type": "SuccessCriteriaMet", "status": "True"}]});
    assert!(update(&running, met.clone()).is_empty());
    let succeeding = job(json!({}), met.clone());
    let mut complete = met.clone();
    complete["completionTime"] = json!(t1);
    complete["conditions"] = json!([{"type": "SuccessCriteriaMet", "status": "True"},
        {"type": "Complete", "status": "True"}]);
    assert!(update(&succeeding, complete.clone()).is_empty());
    // Failure: FailureTarget first, then Failed.
    let target = json!({"startTime": t0, "active": 0, "ready": 0, "terminating": 0, "failed": 1,
        "uncountedTerminatedPods": {}, "conditions": [{"type": "FailureTarget", "status": "True"}]});
    assert!(update(&running, target.clone()).is_empty());
    let failing = job(json!({}), target.clone());
    let mut failed = target.clone();
    failed["conditions"] = json!([{"type": "FailureTarget", "status": "True"},
        {"type": "Failed", "status": "True"}]);
    assert!(update(&failing, failed).is_empty());

    // Every rule of `validateJobStatus`, in upstream's order.
    let everything = json!({"startTime": t0, "completionTime": "2025-12-31T23:00:00Z",
        "active": 1, "ready": 2, "terminating": 2, "succeeded": 1,
        "uncountedTerminatedPods": {"succeeded": ["a"]},
        "completedIndexes": "1", "failedIndexes": "0",
        "conditions": [{"type": "Complete", "status": "True"}, {"type": "Failed", "status": "True"},
            {"type": "FailureTarget", "status": "True"}]});
    assert_eq!(
        update(&running, everything),
        vec![
            "status.conditions: Invalid value: cannot set Complete=True and Failed=true conditions",
            "status.conditions: Invalid value: cannot set Complete=True and FailureTarget=true conditions",
            "status.completionTime: Invalid value: 2025-12-31 23:00:00 +0000 UTC: completionTime cannot be set before startTime",
            "status.conditions: Invalid value: cannot set Complete=True condition without the SuccessCriteriaMet=true condition",
            "status.active: Invalid value: 1: active>0 is invalid for finished job",
            r#"status.uncountedTerminatedPods: Invalid value: batch.UncountedTerminatedPods{Succeeded:[]types.UID{"a"}, Failed:[]types.UID(nil)}: uncountedTerminatedPods needs to be empty for finished job"#,
            r#"status.completedIndexes: Invalid value: "1": error parsing completedIndexes: too large index: "1""#,
            r#"status.completedIndexes: Invalid value: "1": cannot set non-empty completedIndexes when non-indexed completion mode"#,
            r#"status.failedIndexes: Invalid value: "0": cannot set non-null failedIndexes when backoffLimitPerIndex is null"#,
            "status.terminating: Invalid value: 2: terminating>0 is invalid for finished job",
            "status.ready: Invalid value: 2: cannot set more ready pods than active",
        ]
    );
    // Finished without the times, or Failed without FailureTarget.
    let bare = json!({"conditions": [{"type": "SuccessCriteriaMet", "status": "True"},
        {"type": "Complete", "status": "True"}]});
    let created = job(json!({}), json!(null));
    assert_eq!(
        update(&created, bare.clone()),
        vec![
            "status.completionTime: Required value: completionTime is required for Complete jobs",
            "status.startTime: Required value: startTime is required for finished job",
        ]
    );
    let empty_suspended = job(json!({"suspend": true, "completions": 0}), json!(null));
    assert_eq!(
        update(&empty_suspended, bare),
        vec!["status.completionTime: Required value: completionTime is required for Complete jobs"],
        "a suspended Job with no completions finishes without starting"
    );
    let lone_failed =
        json!({"startTime": t0, "conditions": [{"type": "Failed", "status": "True"}]});
    assert_eq!(
        update(&running, lone_failed),
        vec![
            "status.conditions: Invalid value: cannot set Failed=True condition without the FailureTarget=true condition"
        ]
    );
    let not_complete = json!({"startTime": t0, "active": 1, "completionTime": t1});
    assert_eq!(
        update(&running, not_complete),
        vec![
            "status.completionTime: Invalid value: 2026-01-01 00:05:00 +0000 UTC: cannot set completionTime when there is no Complete=True condition"
        ]
    );

    // `ValidateJobStatusUpdate`'s own rules: terminal conditions stay, counters do not
    // decrease, the completion time does not change, nor a started unsuspended Job's start time.
    let finished = job(
        json!({}),
        json!({"startTime": t0, "completionTime": t1, "succeeded": 1,
        "failed": 2, "conditions": [{"type": "SuccessCriteriaMet", "status": "True"},
            {"type": "Complete", "status": "True"}]}),
    );
    let undone = json!({"startTime": t1, "completionTime": t2, "failed": 1});
    assert_eq!(
        update(&finished, undone),
        vec![
            "status.completionTime: Invalid value: 2026-01-01 00:09:30.25 +0000 UTC: cannot set completionTime when there is no Complete=True condition",
            "status.conditions: Invalid value: cannot disable the terminal Complete=True condition",
            "status.failed: Invalid value: 1: cannot decrease the failed counter",
            "status.succeeded: Invalid value: 0: cannot decrease the succeeded counter",
            "status.completionTime: Invalid value: 2026-01-01 00:09:30.25 +0000 UTC: completionTime cannot be mutated",
            "status.startTime: Required value: startTime cannot be removed for unsuspended job",
            "status.conditions: Invalid value: cannot disable the SuccessCriteriaMet=True condition",
        ]
    );
    let mut no_target = target.clone();
    no_target["conditions"] = json!([]);
    assert_eq!(
        update(&failing, no_target),
        vec![
            "status.conditions: Invalid value: cannot disable the terminal FailureTarget=True condition"
        ]
    );
    let mut same_instant = complete.clone();
    same_instant["completionTime"] = json!("2026-01-01T01:05:00+01:00");
    assert!(update(&job(json!({}), complete.clone()), same_instant).is_empty(), "one instant");
    // Resuming (Suspended True → False) gives the Job a new start time; a suspended Job may
    // drop it; other changes of a set start time are refused.
    let suspended = job(
        json!({}),
        json!({"startTime": t0,
        "conditions": [{"type": "Suspended", "status": "True"}]}),
    );
    let resumed =
        json!({"startTime": t1, "conditions": [{"type": "Suspended", "status": "False"}]});
    assert!(update(&suspended, resumed).is_empty());
    let restarted =
        json!({"startTime": t1, "conditions": [{"type": "Suspended", "status": "True"}]});
    assert_eq!(
        update(&suspended, restarted),
        vec!["status.startTime: Required value: startTime cannot be removed for unsuspended job"]
    );
    let still_suspended = job(json!({"suspend": true}), json!({"startTime": t0}));
    assert!(update(&still_suspended, json!({})).is_empty());

    // Rules that look at fields only when those change: a stored violation does not block
    // unrelated updates.
    let overfull = job(json!({}), json!({"startTime": t0, "active": 1, "ready": 2}));
    assert!(
        update(&overfull, json!({"startTime": t0, "active": 1, "ready": 2, "failed": 1}))
            .is_empty()
    );

    // Indexed Jobs: the index lists parse as `validateIndexesFormat` parses them.
    let indexed = job(
        json!({"completionMode": "Indexed", "completions": 5, "parallelism": 5,
            "backoffLimitPerIndex": 1}),
        json!({"startTime": t0, "active": 5, "succeeded": 3}),
    );
    let indexes = |completed: &str, failed: Value| {
        update(
            &indexed,
            json!({"startTime": t0, "active": 1, "succeeded": 3,
            "completedIndexes": completed, "failedIndexes": failed}),
        )
    };
    assert!(indexes("0,2-3", json!("1")).is_empty());
    assert!(indexes("+0,2-4", json!(null)).is_empty(), "Atoi takes a sign");
    assert!(indexes("", json!("")).is_empty());
    let parse_error = |completed: &str, detail: &str| {
        format!(
            "status.completedIndexes: Invalid value: {}: error parsing completedIndexes: {detail}",
            super::go_quote(completed)
        )
    };
    for (completed, detail) in [
        ("3-1", "non-increasing order, previous: 3, current: 1"),
        ("2-2", "non-increasing order, previous: 2, current: 2"),
        ("0,0", "non-increasing order, previous: 0, current: 0"),
        ("1-3,2", "non-increasing order, previous: 3, current: 2"),
        (
            "1-2-3",
            r#"the fragment "1-2-3" violates the requirement that an index interval can have at most two parts separated by '-'"#,
        ),
        ("x", r#"cannot convert string to integer for index: "x""#),
        ("1,", r#"cannot convert string to integer for index: """#),
        ("-1", r#"cannot convert string to integer for index: """#),
        ("0-5", r#"too large index: "5""#),
    ] {
        assert_eq!(indexes(completed, json!(null)), vec![parse_error(completed, detail)]);
    }
    assert_eq!(
        indexes("0-2", json!("2,4")),
        vec![
            r#"status.failedIndexes: Invalid value: "2,4": failedIndexes and completedIndexes overlap at index: 2"#
        ]
    );
    assert_eq!(
        indexes("x,3", json!("0,3,9")),
        vec![
            r#"status.completedIndexes: Invalid value: "x,3": error parsing completedIndexes: cannot convert string to integer for index: "x""#,
            r#"status.failedIndexes: Invalid value: "0,3,9": error parsing failedIndexes: too large index: "9""#,
            r#"status.failedIndexes: Invalid value: "0,3,9": failedIndexes and completedIndexes overlap at index: 3"#,
        ],
        "intervals that do not parse are skipped in the overlap check"
    );
    // A stored invalid list is not reported again; as many completions as parallelism lets
    // the succeeded counter go down (the Job was scaled down).
    let shrunk = job(
        json!({"completionMode": "Indexed", "completions": 2, "parallelism": 2}),
        json!({"startTime": t0, "active": 2, "succeeded": 3, "completedIndexes": "0-4"}),
    );
    assert!(
        update(
            &shrunk,
            json!({"startTime": t0, "active": 1, "succeeded": 2,
        "completedIndexes": "0-4"})
        )
        .is_empty()
    );
    assert_eq!(
        update(
            &shrunk,
            json!({"startTime": t0, "active": 1, "succeeded": 2,
            "completedIndexes": "0-3"})
        ),
        vec![
            r#"status.completedIndexes: Invalid value: "0-3": error parsing completedIndexes: too large index: "3""#
        ]
    );

    // The success policy and SuccessCriteriaMet.
    let with_policy = job(
        json!({"completionMode": "Indexed", "completions": 3, "parallelism": 3,
            "successPolicy": {"rules": [{"succeededCount": 1}]}}),
        json!({"startTime": t0, "active": 3}),
    );
    let conditions =
        |list: Value| json!({"startTime": t0, "completionTime": t1, "conditions": list});
    assert_eq!(
        update(&with_policy, conditions(json!([{"type": "Complete", "status": "True"}]))),
        vec![
            "status.conditions: Invalid value: cannot set Complete=True condition without the SuccessCriteriaMet=true condition",
            "status.conditions: Invalid value: cannot set Complete=True for Job with SuccessPolicy unless SuccessCriteriaMet=True",
        ]
    );
    let mut both = conditions(json!([{"type": "SuccessCriteriaMet", "status": "True"},
        {"type": "FailureTarget", "status": "True"}, {"type": "Failed", "status": "True"}]));
    both.as_object_mut().unwrap().remove("completionTime");
    assert_eq!(
        update(&with_policy, both),
        vec![
            "status.conditions: Invalid value: cannot set SuccessCriteriaMet=True and Failed=true conditions",
            "status.conditions: Invalid value: cannot set SuccessCriteriaMet=True and FailureTarget=true conditions",
        ]
    );
    let completed_before =
        job(json!({}), conditions(json!([{"type": "Complete", "status": "True"}])));
    assert_eq!(
        update(
            &completed_before,
            conditions(json!([{"type": "Complete", "status": "True"},
                {"type": "SuccessCriteriaMet", "status": "True"}]))
        ),
        vec![
            "status.conditions: Invalid value: cannot set SuccessCriteriaMet=True for Job already has Complete=true conditions"
        ]
    );
    // A success policy's indexes parse the same way.
    let bad_policy = with(
        job(json!({"completionMode": "Indexed", "completions": 3, "parallelism": 3}), json!(null)),
        json!({"spec": {"successPolicy": {"rules": [{"succeededIndexes": "1-1"}]}}}),
    );
    assert_eq!(
        create(group, "Job", bad_policy),
        vec![
            r#"spec.successPolicy.rules[0].succeededIndexes: Invalid value: "1-1": error parsing succeededIndexes: non-increasing order, previous: 1, current: 1"#
        ]
    );
}

#[test]
fn cron_job_rules() {
    let group = "batch";
    let cron = |spec: Value| {
        let mut spec = spec;
        if spec.get("jobTemplate").is_none() {
            spec["jobTemplate"] = json!({"spec": {"template": {"spec": {"restartPolicy": "OnFailure",
                "containers": [{"name": "hello", "image": "busybox"}]}}}});
        }
        json!({"metadata": {"name": "hello", "namespace": "d"}, "spec": spec})
    };
    assert_eq!(
        create(group, "CronJob", cron(json!({"schedule": "*/5 * * * *"}))),
        Vec::<String>::new()
    );
    let zoned = cron(json!({"schedule": "0 2 * * *", "timeZone": "Europe/Berlin"}));
    assert_eq!(create(group, "CronJob", zoned.clone()), Vec::<String>::new());
    let bad = cron(json!({"schedule": "61 * * * *", "timeZone": "Mars/Olympus",
        "concurrencyPolicy": "Sometimes", "startingDeadlineSeconds": -1, "failedJobsHistoryLimit": -1,
        "jobTemplate": {"spec": {"selector": {"matchLabels": {"a": "b"}}, "manualSelector": true,
            "template": {"spec": {"containers": [{"name": "hello", "image": "busybox"}]}}}}}));
    assert_eq!(
        create(group, "CronJob", bad),
        vec![
            r#"spec.schedule: Invalid value: "61 * * * *": end of range (61) above maximum (59): 61"#,
            "spec.startingDeadlineSeconds: Invalid value: -1: must be greater than or equal to 0",
            r#"spec.timeZone: Invalid value: "Mars/Olympus": unknown time zone Mars/Olympus"#,
            r#"spec.concurrencyPolicy: Unsupported value: "Sometimes": supported values: "Allow", "Forbid", "Replace""#,
            r#"spec.jobTemplate.spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never""#,
            r#"spec.jobTemplate.spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"a":"b"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: `selector` will be auto-generated"#,
            r#"spec.jobTemplate.spec.manualSelector: Unsupported value: true: supported values: "nil", "false""#,
            "spec.failedJobsHistoryLimit: Invalid value: -1: must be greater than or equal to 0",
        ]
    );
    let tz = cron(json!({"schedule": "TZ=UTC 0 * * * *"}));
    assert_eq!(
        create(group, "CronJob", tz.clone()),
        vec![
            r#"spec.schedule: Invalid value: "TZ=UTC 0 * * * *": cannot use TZ or CRON_TZ in schedule, use timeZone field instead"#
        ]
    );
    assert!(check(group, "CronJob", tz.clone(), Write::Update(&tz)).is_empty(), "kept from before");
    let local = cron(json!({"schedule": "@daily", "timeZone": "Local"}));
    assert_eq!(
        create(group, "CronJob", local),
        vec![
            r#"spec.timeZone: Invalid value: "Local": timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones"#
        ]
    );
    let mut long = cron(json!({"schedule": "@hourly"}));
    long["metadata"]["name"] = json!("a".repeat(53));
    assert_eq!(
        create(group, "CronJob", long),
        vec![format!(
            r#"metadata.name: Invalid value: "{}": must be no more than 52 characters"#,
            "a".repeat(53)
        )]
    );
}

#[test]
fn network_policy_rules() {
    let group = "networking.k8s.io";
    let policy = |spec: Value| json!({"metadata": {"name": "db", "namespace": "d"}, "spec": spec});
    let good = policy(json!({
        "podSelector": {"matchLabels": {"app": "db"}},
        "ingress": [{"from": [{"podSelector": {}}, {"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}}],
            "ports": [{"port": 5432}, {"port": "metrics"}, {"port": 8000, "endPort": 8080}]}],
        "egress": [{"to": [{"namespaceSelector": {"matchLabels": {"team": "a"}}}]}],
    }));
    assert!(create(group, "NetworkPolicy", good.clone()).is_empty());
    let bad = policy(json!({
        "podSelector": {"matchExpressions": [{"key": "app", "operator": "In"}]},
        "ingress": [{"from": [{}, {"podSelector": {}, "ipBlock": {"cidr": "10.0.0.0/8"}},
                {"ipBlock": {"cidr": "10.0.0.0/33"}}, {"ipBlock": {"cidr": "10.0.0.0/16", "except": ["10.0.0.0/8"]}}],
            "ports": [{"port": 70000, "protocol": "ICMP"}, {"port": "http", "endPort": 90}, {"endPort": 90}]}],
        "policyTypes": ["Ingress", "Sideways"],
    }));
    assert_eq!(
        create(group, "NetworkPolicy", bad),
        vec![
            "spec.podSelector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'",
            r#"spec.ingress[0].ports[0].protocol: Unsupported value: "ICMP": supported values: "TCP", "UDP", "SCTP""#,
            "spec.ingress[0].ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive",
            "spec.ingress[0].ports[1].endPort: Invalid value: 90: may not be specified when `port` is non-numeric",
            "spec.ingress[0].ports[2].endPort: Invalid value: 90: may not be specified when `port` is not specified",
            "spec.ingress[0].from[0]: Required value: must specify a peer",
            "spec.ingress[0].from[1]: Forbidden: may not specify both ipBlock and another peer",
            r#"spec.ingress[0].from[2].ipBlock.cidr: Invalid value: "10.0.0.0/33": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"#,
            r#"spec.ingress[0].from[3].ipBlock.except[0]: Invalid value: "10.0.0.0/8": must be a strict subset of `cidr`"#,
            r#"spec.policyTypes[1]: Unsupported value: "Sideways": supported values: "Ingress", "Egress""#,
        ]
    );
    // The rules may change on update, under the same checks.
    let mut old = good.clone();
    defaults::apply(group, "NetworkPolicy", &mut old);
    let changed =
        with(old.clone(), json!({"spec": {"podSelector": {"matchLabels": {"app": "web"}}}}));
    assert!(check(group, "NetworkPolicy", changed, Write::Update(&old)).is_empty());
}

#[test]
fn priority_class_rules() {
    let pc = |name: &str, value: i64| json!({"metadata": {"name": name}, "value": value});
    let group = "scheduling.k8s.io";
    assert!(create(group, "PriorityClass", pc("high", 1_000_000_000)).is_empty());
    // The system classes only with their own values, and not as the default.
    assert!(create(group, "PriorityClass", pc("system-node-critical", 2_000_001_000)).is_empty());
    let reserved = "metadata.name: Forbidden: priority class names with 'system-' prefix are reserved for system use only. error: ";
    assert_eq!(
        create(group, "PriorityClass", pc("system-node-critical", 5)),
        vec![format!("{reserved}value of system-node-critical PriorityClass must be 2000001000")]
    );
    assert_eq!(
        create(group, "PriorityClass", pc("system-x", 5)),
        vec![format!("{reserved}system-x is not a known system priority class")]
    );
    let default =
        with(pc("system-cluster-critical", 2_000_000_000), json!({"globalDefault": true}));
    assert_eq!(
        create(group, "PriorityClass", default),
        vec![format!(
            "{reserved}globalDefault of system-cluster-critical PriorityClass must be false"
        )]
    );
    assert_eq!(
        create(group, "PriorityClass", pc("huge", 1_000_000_001)),
        vec!["value: Forbidden: maximum allowed value of a user defined priority is 1000000000"]
    );
    assert_eq!(
        create(group, "PriorityClass", with(pc("p", 1), json!({"preemptionPolicy": "Sometimes"}))),
        vec![
            r#"preemptionPolicy: Unsupported value: "Sometimes": supported values: "PreemptLowerPriority", "Never""#
        ]
    );
    // Value and preemption policy are immutable; the description is not.
    let mut old = pc("p", 1);
    defaults::apply(group, "PriorityClass", &mut old);
    let described = with(old.clone(), json!({"description": "d"}));
    assert!(check(group, "PriorityClass", described, Write::Update(&old)).is_empty());
    let changed = with(old.clone(), json!({"value": 2, "preemptionPolicy": "Never"}));
    assert_eq!(
        check(group, "PriorityClass", changed, Write::Update(&old)),
        vec![
            "value: Forbidden: may not be changed in an update.",
            r#"preemptionPolicy: Invalid value: "Never": field is immutable"#,
        ]
    );
    // A pod's class name and preemption policy.
    let pod = json!({"metadata": {"name": "p", "namespace": "d"},
        "spec": {"containers": [{"name": "c", "image": "i"}],
            "priorityClassName": "Bad_Name", "preemptionPolicy": "Sometimes"}});
    let errors = create("", "Pod", pod);
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with(r#"spec.priorityClassName: Invalid value: "Bad_Name": "#)),
        "{errors:?}"
    );
    assert!(
        errors.contains(&r#"spec.preemptionPolicy: Unsupported value: "Sometimes": supported values: "PreemptLowerPriority", "Never""#.to_owned()),
        "{errors:?}"
    );
}

#[test]
fn pod_disruption_budget_rules() {
    let pdb = json!({"metadata": {"name": "web", "namespace": "d"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}}});
    assert_eq!(
        create(
            "policy",
            "PodDisruptionBudget",
            with(pdb.clone(), json!({"spec": {"minAvailable": 1, "maxUnavailable": "10%"}}))
        ),
        vec![
            "spec: Invalid value: policy.PodDisruptionBudgetSpec{MinAvailable:(*intstr.IntOrString)(…), MaxUnavailable:(*intstr.IntOrString)(…), …}: minAvailable and maxUnavailable cannot be both set"
        ]
    );
    assert_eq!(
        create(
            "policy",
            "PodDisruptionBudget",
            with(pdb.clone(), json!({"spec": {"minAvailable": -1}}))
        ),
        vec!["spec.minAvailable: Invalid value: -1: must be greater than or equal to 0"]
    );
    assert_eq!(
        create(
            "policy",
            "PodDisruptionBudget",
            with(pdb.clone(), json!({"spec": {"maxUnavailable": "150%"}}))
        ),
        vec![
            r#"spec.maxUnavailable: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:"150%"}: must not be greater than 100%"#
        ]
    );
    assert_eq!(
        create(
            "policy",
            "PodDisruptionBudget",
            with(
                pdb.clone(),
                json!({"spec": {"maxUnavailable": "half", "unhealthyPodEvictionPolicy": "Never"}})
            )
        ),
        vec![
            r#"spec.maxUnavailable: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:"half"}: a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')"#,
            r#"spec.unhealthyPodEvictionPolicy: Unsupported value: "Never": supported values: "AlwaysAllow", "IfHealthyBudget""#,
        ]
    );
    // The spec is mutable; the status counts may not be negative.
    let changed = with(pdb.clone(), json!({"spec": {"minAvailable": 2}}));
    assert!(check("policy", "PodDisruptionBudget", changed, Write::Update(&pdb)).is_empty());
    let status =
        with(pdb.clone(), json!({"status": {"disruptionsAllowed": -1, "expectedPods": 3}}));
    assert_eq!(
        check("policy", "PodDisruptionBudget", status, Write::Status(&pdb)),
        vec!["status.disruptionsAllowed: Invalid value: -1: must be greater than or equal to 0"]
    );
}

#[test]
fn config_map_and_secret_rules() {
    let cm = json!({"metadata": {"name": "c", "namespace": "d"}, "data": {"bad key": "1"}});
    assert_eq!(
        create("", "ConfigMap", cm),
        vec![
            r#"data[bad key]: Invalid value: "bad key": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"#
        ]
    );
    let frozen =
        json!({"metadata": {"name": "c", "namespace": "d"}, "data": {"a": "1"}, "immutable": true});
    let changed = with(frozen.clone(), json!({"data": {"a": "2"}}));
    assert_eq!(
        check("", "ConfigMap", changed, Write::Update(&frozen)),
        vec!["data: Forbidden: field is immutable when `immutable` is set"]
    );
    let secret = json!({"metadata": {"name": "s", "namespace": "d"}, "type": "Opaque", "data": {}});
    let retyped = with(
        secret.clone(),
        json!({"type": "kubernetes.io/tls", "data": {"tls.key": "", "tls.crt": ""}}),
    );
    assert_eq!(
        check("", "Secret", retyped, Write::Update(&secret)),
        vec![r#"type: Invalid value: "kubernetes.io/tls": field is immutable"#]
    );
    let tls = json!({"metadata": {"name": "s", "namespace": "d"}, "type": "kubernetes.io/tls", "data": {}});
    assert_eq!(
        create("", "Secret", tls),
        vec!["data[tls.key]: Required value", "data[tls.crt]: Required value"]
    );
}

#[test]
fn smaller_kinds_rules() {
    assert_eq!(
        create(
            "coordination.k8s.io",
            "Lease",
            json!({"metadata": {"name": "l", "namespace": "d"},
            "spec": {"leaseDurationSeconds": 0}})
        ),
        vec!["spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0"]
    );
    assert_eq!(
        create(
            "discovery.k8s.io",
            "EndpointSlice",
            json!({"metadata": {"name": "e", "namespace": "d"},
            "addressType": "IPv4", "endpoints": [{"addresses": ["not-an-ip"]}]})
        ),
        vec![
            r#"endpoints[0].addresses[0]: Invalid value: "not-an-ip": must be a valid IPv4 address"#
        ]
    );
    assert_eq!(
        create(
            "",
            "Event",
            json!({"metadata": {"name": "e", "namespace": "d"},
            "involvedObject": {"namespace": "other"}})
        ),
        vec![r#"involvedObject.namespace: Invalid value: "other": does not match event.namespace"#]
    );
    assert_eq!(
        create(
            "apps",
            "ControllerRevision",
            json!({"metadata": {"name": "r", "namespace": "d"}, "revision": -1})
        ),
        vec![
            "data: Required value: data is mandatory",
            "revision: Invalid value: -1: must be greater than or equal to 0"
        ]
    );
    let revision =
        json!({"metadata": {"name": "r", "namespace": "d"}, "revision": 1, "data": {"a": 1}});
    let changed = with(revision.clone(), json!({"data": {"a": 2}}));
    let errors = check("apps", "ControllerRevision", changed, Write::Update(&revision));
    assert_eq!(errors.len(), 1);
    assert!(errors[0].starts_with("data: Invalid value: runtime.RawExtension{"), "{errors:?}");
    assert!(errors[0].ends_with(": field is immutable"));
    assert_eq!(
        create("", "Namespace", json!({"metadata": {"name": "Team"}})),
        vec![
            r#"metadata.name: Invalid value: "Team": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"#
        ]
    );
    assert_eq!(
        create("", "ConfigMap", json!({"metadata": {"namespace": "d"}})),
        vec!["metadata.name: Required value: name or generateName is required"]
    );
}

#[test]
fn causes_carry_reasons() {
    let mut object = with(sts(), json!({"spec": {"replicas": -1, "selector": null}}));
    defaults::apply("apps", "StatefulSet", &mut object);
    let errors = validate("apps", "StatefulSet", &object, Write::Create);
    let reasons: Vec<(&str, &str)> = errors.iter().map(|e| (e.field.as_str(), e.reason)).collect();
    // Without a selector nothing matches the template's labels (`LabelSelectorAsSelector(nil)`).
    assert_eq!(
        reasons,
        vec![
            ("spec.replicas", "FieldValueInvalid"),
            ("spec.selector", "FieldValueRequired"),
            ("spec.template.metadata.labels", "FieldValueInvalid")
        ]
    );
    assert_eq!(errors[0].message, "Invalid value: -1: must be greater than or equal to 0");
}

#[test]
fn generate_names_mask_their_trailing_dash_as_kubernetes_does() {
    use crate::validation::generate_name_problems;
    // maskTrailingDash drops the character before the dash too: 63 x's and a dash pass as a
    // DNS-1123 label prefix (checked as 62 x's and an `a`).
    assert!(generate_name_problems("Namespace", &format!("{}-", "x".repeat(63))).is_empty());
    assert!(!generate_name_problems("Namespace", &format!("{}-", "x".repeat(64))).is_empty());
    assert!(generate_name_problems("ConfigMap", "web-").is_empty());
    assert!(!generate_name_problems("ConfigMap", "Web-").is_empty());
    assert!(!generate_name_problems("ConfigMap", "é-").is_empty());
}

#[test]
fn limit_range_rules() {
    let range = |limits: Value| json!({"metadata": {"name": "limits", "namespace": "d"}, "spec": {"limits": limits}});
    let good = range(json!([
        {"type": "Container", "max": {"cpu": "1", "memory": "1Gi"}, "min": {"cpu": "100m"},
         "default": {"cpu": "500m"}, "defaultRequest": {"cpu": "200m"},
         "maxLimitRequestRatio": {"cpu": "5"}},
        {"type": "Pod", "max": {"cpu": "2", "nvidia.com/gpu": "1"}},
        {"type": "PersistentVolumeClaim", "min": {"storage": "1Gi"}},
        {"type": "example.com/thing", "max": {"example.com/widgets": "3"}},
    ]));
    assert_eq!(create("", "LimitRange", good.clone()), Vec::<String>::new());
    let qualified = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
    let bad = range(json!([
        {"type": "Container", "max": {"cpu": "200m"}, "min": {"cpu": "0.5"}, "default": {"cpu": "1"},
         "defaultRequest": {"cpu": "100m"}, "maxLimitRequestRatio": {"cpu": "500m"}},
        {"type": "Container"},
        {"type": "Pod", "max": {"nvidia.com/gpu": "1", "storage": "1Gi"}, "default": {"cpu": "1"}},
        {"type": "PersistentVolumeClaim", "min": {"cpu": "1"}},
        {"type": "Foo"},
        {"type": "example.com/thing", "max": {"foo": "1", "hugepages-2Mi": "1Mi"},
         "default": {"hugepages-2Mi": "2Mi"}, "defaultRequest": {"hugepages-2Mi": "1024Ki"}},
        {"type": ""},
        {"type": "Pod", "min": {"memory": "1Gi"}, "max": {"memory": "4Gi"},
         "maxLimitRequestRatio": {"memory": "4500m"}},
    ]));
    assert_eq!(
        create("", "LimitRange", bad),
        vec![
            "spec.limits[0].min[cpu]: Invalid value: 500m: min value 500m is greater than max value 200m".to_owned(),
            "spec.limits[0].defaultRequest[cpu]: Invalid value: 100m: min value 500m is greater than default request value 100m".to_owned(),
            "spec.limits[0].default[cpu]: Invalid value: 200m: default value 1 is greater than max value 200m".to_owned(),
            "spec.limits[0].maxLimitRequestRatio[cpu]: Invalid value: 500m: ratio 500m is less than 1".to_owned(),
            "spec.limits[0].maxLimitRequestRatio[cpu]: Invalid value: 500m: ratio 500m is greater than max/min = 0.400000".to_owned(),
            r#"spec.limits[1].type: Duplicate value: "Container""#.to_owned(),
            r#"spec.limits[2].max[storage]: Invalid value: "storage": must be a standard resource for containers"#.to_owned(),
            "spec.limits[2].default: Forbidden: may not be specified when `type` is 'Pod'".to_owned(),
            "spec.limits[3].limits: Required value: either minimum or maximum storage value is required, but neither was provided".to_owned(),
            r#"spec.limits[4].type: Invalid value: "Foo": must be a standard limit type or fully qualified"#.to_owned(),
            r#"spec.limits[5].max[foo]: Invalid value: "foo": must be a standard resource type or fully qualified"#.to_owned(),
            "spec.limits[5].default[hugepages-2Mi]: Invalid value: 1Mi: default value 2Mi is greater than max value 1Mi".to_owned(),
            "spec.limits[5].defaultRequest[hugepages-2Mi]: Invalid value: 1Mi: default value 2Mi must equal to defaultRequest value 1Mi in hugepages-2Mi".to_owned(),
            r#"spec.limits[6].type: Invalid value: "": name part must be non-empty"#.to_owned(),
            format!(r#"spec.limits[6].type: Invalid value: "": name part {qualified}"#),
            r#"spec.limits[7].type: Duplicate value: "Pod""#.to_owned(),
            "spec.limits[7].maxLimitRequestRatio[memory]: Invalid value: 4500m: ratio 4500m is greater than max/min = 4.000000".to_owned(),
        ]
    );
    // The defaults a Container item gets are checked like the ones it states.
    let defaulted = range(json!([{"type": "Container", "max": {"memory": "1Gi"},
        "min": {"memory": "2Gi"}}]));
    assert_eq!(
        create("", "LimitRange", defaulted),
        vec![
            "spec.limits[0].min[memory]: Invalid value: 2Gi: min value 2Gi is greater than max value 1Gi",
            "spec.limits[0].defaultRequest[memory]: Invalid value: 1Gi: min value 2Gi is greater than default request value 1Gi",
            "spec.limits[0].default[memory]: Invalid value: 2Gi: min value 2Gi is greater than default value 1Gi",
        ]
    );
    // An update is checked as a create.
    let mut old = good.clone();
    defaults::apply("", "LimitRange", &mut old);
    let shrunk = with(
        old.clone(),
        json!({"spec": {"limits": [{"type": "Container", "max": {"cpu": "50m"}, "min": {"cpu": "100m"}}]}}),
    );
    assert_eq!(
        check("", "LimitRange", shrunk, Write::Update(&old)),
        vec![
            "spec.limits[0].min[cpu]: Invalid value: 100m: min value 100m is greater than max value 50m",
            "spec.limits[0].defaultRequest[cpu]: Invalid value: 50m: min value 100m is greater than default request value 50m",
            "spec.limits[0].default[cpu]: Invalid value: 100m: min value 100m is greater than default value 50m",
        ]
    );
}

#[test]
fn ip_address_rules() {
    let group = "networking.k8s.io";
    let ip = |name: &str, parent: Value| json!({"metadata": {"name": name}, "spec": {"parentRef": parent}});
    let service =
        json!({"group": "", "resource": "services", "namespace": "default", "name": "web"});
    assert!(create(group, "IPAddress", ip("10.96.0.10", service.clone())).is_empty());
    assert!(create(group, "IPAddress", ip("2001:db8::1", service.clone())).is_empty());
    let name = |name: &str| create(group, "IPAddress", ip(name, service.clone()));
    assert_eq!(
        name("10.096.0.10"),
        [r#"metadata.name: Invalid value: "10.096.0.10": must not have leading 0s"#]
    );
    assert_eq!(
        name("2001:db8:0:0::1"),
        [
            r#"metadata.name: Invalid value: "2001:db8:0:0::1": must be in canonical form ("2001:db8::1")"#
        ]
    );
    assert_eq!(
        name("::ffff:10.96.0.1"),
        [
            r#"metadata.name: Invalid value: "::ffff:10.96.0.1": must not be an IPv4-mapped IPv6 address"#
        ]
    );
    assert_eq!(
        name("web"),
        [
            r#"metadata.name: Invalid value: "web": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"#
        ]
    );
    assert_eq!(
        create(group, "IPAddress", json!({"metadata": {"name": "10.0.0.1"}, "spec": {}})),
        ["spec.parentRef: Required value"]
    );
    assert_eq!(
        create(
            group,
            "IPAddress",
            ip("10.0.0.1", json!({"group": "Bad_Group", "namespace": "a/b", "name": ".."}))
        ),
        [
            r#"spec.parentRef.group: Invalid value: "Bad_Group": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"#,
            "spec.parentRef.resource: Required value",
            r#"spec.parentRef.name: Invalid value: "..": may not be '..'"#,
            r#"spec.parentRef.namespace: Invalid value: "a/b": may not contain '/'"#,
        ]
    );
    // The parent is set once.
    let old = ip("10.0.0.1", service.clone());
    let moved = ip(
        "10.0.0.1",
        json!({"group": "", "resource": "services", "namespace": "default", "name": "db"}),
    );
    assert_eq!(
        check(group, "IPAddress", moved, Write::Update(&old)),
        [
            r#"spec.parentRef: Invalid value: networking.ParentReference{Group:"", Resource:"services", Namespace:"default", Name:"db"}: field is immutable"#
        ]
    );
}

#[test]
fn service_cidr_rules() {
    let group = "networking.k8s.io";
    let cidr = |cidrs: Value| json!({"metadata": {"name": "extra"}, "spec": {"cidrs": cidrs}});
    assert!(create(group, "ServiceCIDR", cidr(json!(["10.100.0.0/16"]))).is_empty());
    assert!(create(group, "ServiceCIDR", cidr(json!(["10.100.0.0/16", "fd00::/108"]))).is_empty());
    assert_eq!(
        create(group, "ServiceCIDR", cidr(json!([]))),
        ["spec.cidrs: Required value: at least one CIDR required"]
    );
    assert_eq!(
        create(group, "ServiceCIDR", cidr(json!(["10.1.0.0/16", "10.2.0.0/16", "fd00::/64"]))),
        [
            r#"spec.cidrs: Invalid value: networking.ServiceCIDRSpec{CIDRs:[]string{"10.1.0.0/16", "10.2.0.0/16", "fd00::/64"}}: may only hold up to 2 values"#
        ]
    );
    assert_eq!(
        create(group, "ServiceCIDR", cidr(json!(["10.1.0.0/16", "10.2.0.0/16"]))),
        [
            r#"spec.cidrs: Invalid value: []string{"10.1.0.0/16", "10.2.0.0/16"}: may specify no more than one IP for each IP family, i.e 192.168.0.0/24 and 2001:db8::/64"#
        ]
    );
    let one = |text: &str| create(group, "ServiceCIDR", cidr(json!([text])));
    assert_eq!(
        one("10.1.2.3/16"),
        [
            r#"spec.cidrs[0]: Invalid value: "10.1.2.3/16": must not have bits set beyond the prefix length"#
        ]
    );
    assert_eq!(
        one("010.1.0.0/16"),
        [
            r#"spec.cidrs[0]: Invalid value: "010.1.0.0/16": must not have leading 0s in IP or prefix length"#
        ]
    );
    assert_eq!(
        one("10.1.0.0/016"),
        [
            r#"spec.cidrs[0]: Invalid value: "10.1.0.0/016": must not have leading 0s in IP or prefix length"#
        ]
    );
    assert_eq!(
        one("fd00:0::/64"),
        [r#"spec.cidrs[0]: Invalid value: "fd00:0::/64": must be in canonical form ("fd00::/64")"#]
    );
    assert_eq!(
        one("10.1.0.0/33"),
        [
            r#"spec.cidrs[0]: Invalid value: "10.1.0.0/33": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"#
        ]
    );
    // Immutable, but a single-stack range may become dual-stack.
    let old = cidr(json!(["10.100.0.0/16"]));
    let update = |cidrs: Value| check(group, "ServiceCIDR", cidr(cidrs), Write::Update(&old));
    assert!(update(json!(["10.100.0.0/16", "fd00::/108"])).is_empty());
    assert_eq!(
        update(json!(["10.101.0.0/16"])),
        [r#"spec.cidrs[0]: Invalid value: "10.101.0.0/16": field is immutable"#]
    );
    assert_eq!(
        update(json!(["10.100.0.0/16", "10.2.0.0/16"])),
        [
            r#"spec.cidrs: Invalid value: []string{"10.100.0.0/16", "10.2.0.0/16"}: may specify no more than one IP for each IP family, i.e 192.168.0.0/24 and 2001:db8::/64"#
        ]
    );
    assert_eq!(update(json!([])), [r#"spec.cidrs: Invalid value: []string{}: field is immutable"#]);
    assert_eq!(
        update(Value::Null),
        [r#"spec.cidrs: Invalid value: []string(nil): field is immutable"#]
    );
}
