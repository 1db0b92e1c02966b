//! The bootstrap ClusterRoles and ClusterRoleBindings of Kubernetes' own components, as
//! kube-apiserver v1.33 creates them with its default feature gates: the roles of the
//! kubelet, kube-proxy, kube-scheduler, kube-controller-manager, kube-dns and the other
//! add-ons of `policy.go`'s `ClusterRoles()`, and the `system:controller:*` role of each
//! kube-controller-manager controller of `controller_policy.go`'s `ControllerRoles()`, each
//! bound to its controller's ServiceAccount in `kube-system`.
//!
//! Feature-gated roles and rules are here when v1.33 enables their gate by default:
//! `service-cidrs-controller` and kube-proxy's `servicecidrs` (`MultiCIDRServiceAllocator`,
//! GA), `selinux-warning-controller` (`SELinuxChangePolicy`, beta) and the kubelet API's
//! `nodes/pods`, `nodes/healthz` and `nodes/configz` (`KubeletFineGrainedAuthz`, beta); not
//! those of `DynamicResourceAllocation`, `VolumeAttributesClass` and `ClusterTrustBundle`
//! (beta, off by default) nor of the alpha gates.

use super::{Binding, READ, READ_WRITE, Role, Subject, owned, rule};
use crate::rbac::PolicyRule;

/// The ServiceAccount of a controller is its role's name without this prefix.
const CONTROLLER: &str = "system:controller:";
/// Workloads served in `apps` and, before v1.16, in `extensions`.
const APPS_EXTENSIONS: &[&str] = &["apps", "extensions"];
const CERTIFICATES: &[&str] = &["certificates.k8s.io"];
const READ_UPDATE: &[&str] = &["get", "list", "patch", "update", "watch"];
const MANAGE: &[&str] = &["create", "delete", "get", "list", "patch", "update", "watch"];

/// The component roles, then the controller roles, in `policy.go`'s and
/// `controller_policy.go`'s order.
pub(super) fn roles() -> Vec<Role> {
    let mut roles = component_roles();
    roles.extend(controller_roles());
    roles
}

/// The ClusterRoleBindings of [`roles`]: the components' (`policy.go`'s
/// `ClusterRoleBindings()`), and each controller's to its ServiceAccount.
pub(super) fn bindings() -> Vec<Binding> {
    let binding = |name, subjects| Binding { name, subjects };
    let mut bindings = vec![
        binding("system:node-proxier", vec![Subject::User("system:kube-proxy")]),
        binding(
            "system:kube-controller-manager",
            vec![Subject::User("system:kube-controller-manager")],
        ),
        binding("system:kube-dns", vec![Subject::ServiceAccount("kube-dns")]),
        binding("system:kube-scheduler", vec![Subject::User("system:kube-scheduler")]),
        binding("system:volume-scheduler", vec![Subject::User("system:kube-scheduler")]),
        // Bound to the group `system:nodes` until v1.7: the Node authorizer authorizes
        // kubelets now, and the binding stays, without subjects.
        binding("system:node", Vec::new()),
    ];
    bindings.extend(controller_roles().into_iter().map(|role| {
        let account = role.name.strip_prefix(CONTROLLER).unwrap_or(role.name);
        binding(role.name, vec![Subject::ServiceAccount(account)])
    }));
    bindings
}

/// `eventsRule()`: what every recorder of events needs, in both event API groups.
fn events() -> PolicyRule {
    rule(&["create", "patch", "update"], &["", "events.k8s.io"], &["events"])
}

/// A rule limited to the objects of these names.
fn named(verbs: &[&str], groups: &[&str], resources: &[&str], names: &[&str]) -> PolicyRule {
    PolicyRule { resource_names: owned(names), ..rule(verbs, groups, resources) }
}

fn role(name: &'static str, rules: Vec<PolicyRule>) -> Role {
    Role { name, labels: &[], aggregates: None, rules }
}

fn approver(name: &'static str, signer: &str) -> Role {
    role(name, vec![named(&["approve"], CERTIFICATES, &["signers"], &[signer])])
}

/// `ClusterRoles()` but the user-facing and discovery roles of the parent module.
fn component_roles() -> Vec<Role> {
    vec![
        role(
            "system:heapster",
            vec![
                rule(READ, &[""], &["events", "namespaces", "nodes", "pods"]),
                rule(READ, &["extensions"], &["deployments"]),
            ],
        ),
        role("system:node", node_rules()),
        // Not bound: where node-problem-detector runs varies.
        role(
            "system:node-problem-detector",
            vec![
                rule(&["get"], &[""], &["nodes"]),
                rule(&["patch"], &[""], &["nodes/status"]),
                events(),
            ],
        ),
        role(
            "system:node-bootstrapper",
            vec![rule(
                &["create", "get", "list", "watch"],
                CERTIFICATES,
                &["certificatesigningrequests"],
            )],
        ),
        role("system:kube-aggregator", vec![rule(READ, &[""], &["endpoints", "services"])]),
        role(
            "system:kube-controller-manager",
            vec![
                events(),
                rule(&["create"], &["coordination.k8s.io"], &["leases"]),
                named(
                    &["get", "update"],
                    &["coordination.k8s.io"],
                    &["leases"],
                    &["kube-controller-manager"],
                ),
                rule(&["create"], &[""], &["secrets", "serviceaccounts"]),
                rule(&["delete"], &[""], &["secrets"]),
                rule(&["get"], &[""], &["configmaps", "namespaces", "secrets", "serviceaccounts"]),
                rule(&["update"], &[""], &["secrets", "serviceaccounts"]),
                rule(&["create"], &["authentication.k8s.io"], &["tokenreviews"]),
                rule(&["create"], &["authorization.k8s.io"], &["subjectaccessreviews"]),
                rule(&["list", "watch"], &["*"], &["*"]),
                rule(&["create"], &[""], &["serviceaccounts/token"]),
            ],
        ),
        role("system:kube-dns", vec![rule(&["list", "watch"], &[""], &["endpoints", "services"])]),
        role(
            "system:persistent-volume-provisioner",
            vec![
                rule(&["create", "delete", "get", "list", "watch"], &[""], &["persistentvolumes"]),
                rule(&["get", "list", "update", "watch"], &[""], &["persistentvolumeclaims"]),
                rule(READ, &["storage.k8s.io"], &["storageclasses"]),
                rule(&["watch"], &[""], &["events"]),
                events(),
            ],
        ),
        role(
            "system:certificates.k8s.io:certificatesigningrequests:nodeclient",
            vec![rule(&["create"], CERTIFICATES, &["certificatesigningrequests/nodeclient"])],
        ),
        role(
            "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
            vec![rule(&["create"], CERTIFICATES, &["certificatesigningrequests/selfnodeclient"])],
        ),
        role(
            "system:volume-scheduler",
            vec![
                rule(READ_UPDATE, &[""], &["persistentvolumes"]),
                rule(READ, &["storage.k8s.io"], &["storageclasses"]),
                rule(READ_UPDATE, &[""], &["persistentvolumeclaims"]),
            ],
        ),
        approver(
            "system:certificates.k8s.io:legacy-unknown-approver",
            "kubernetes.io/legacy-unknown",
        ),
        approver(
            "system:certificates.k8s.io:kubelet-serving-approver",
            "kubernetes.io/kubelet-serving",
        ),
        approver(
            "system:certificates.k8s.io:kube-apiserver-client-approver",
            "kubernetes.io/kube-apiserver-client",
        ),
        approver(
            "system:certificates.k8s.io:kube-apiserver-client-kubelet-approver",
            "kubernetes.io/kube-apiserver-client-kubelet",
        ),
        role(
            "system:kubelet-api-admin",
            vec![
                rule(READ, &[""], &["nodes"]),
                rule(&["proxy"], &[""], &["nodes"]),
                rule(&["*"], &[""], &["nodes/log", "nodes/metrics", "nodes/proxy", "nodes/stats"]),
                // KubeletFineGrainedAuthz.
                rule(&["*"], &[""], &["nodes/configz", "nodes/healthz", "nodes/pods"]),
            ],
        ),
        role(
            "system:node-proxier",
            vec![
                rule(&["list", "watch"], &[""], &["endpoints", "services"]),
                rule(READ, &[""], &["nodes"]),
                events(),
                // MultiCIDRServiceAllocator.
                rule(&["list", "watch"], &["networking.k8s.io"], &["servicecidrs"]),
                rule(&["list", "watch"], &["discovery.k8s.io"], &["endpointslices"]),
            ],
        ),
        role("system:kube-scheduler", scheduler_rules()),
    ]
}

/// `NodeRules()`: what a kubelet may do (the Node authorizer and the NodeRestriction admission
/// plugin narrow it to its own node).
fn node_rules() -> Vec<PolicyRule> {
    vec![
        rule(&["create"], &["authentication.k8s.io"], &["tokenreviews"]),
        rule(
            &["create"],
            &["authorization.k8s.io"],
            &["localsubjectaccessreviews", "subjectaccessreviews"],
        ),
        rule(READ, &[""], &["services"]),
        rule(&["create", "get", "list", "watch"], &[""], &["nodes"]),
        rule(&["patch", "update"], &[""], &["nodes/status"]),
        rule(&["patch", "update"], &[""], &["nodes"]),
        rule(&["create", "patch", "update"], &[""], &["events"]),
        rule(READ, &[""], &["pods"]),
        rule(&["create", "delete"], &[""], &["pods"]),
        rule(&["patch", "update"], &[""], &["pods/status"]),
        rule(&["create"], &[""], &["pods/eviction"]),
        rule(READ, &[""], &["configmaps", "secrets"]),
        rule(&["get"], &[""], &["persistentvolumeclaims", "persistentvolumes"]),
        rule(&["get"], &[""], &["endpoints"]),
        rule(&["create", "get", "list", "watch"], CERTIFICATES, &["certificatesigningrequests"]),
        rule(
            &["create", "delete", "get", "patch", "update"],
            &["coordination.k8s.io"],
            &["leases"],
        ),
        rule(&["get"], &["storage.k8s.io"], &["volumeattachments"]),
        rule(&["create"], &[""], &["serviceaccounts/token"]),
        rule(&["get", "patch", "update"], &[""], &["persistentvolumeclaims/status"]),
        rule(READ, &["storage.k8s.io"], &["csidrivers"]),
        rule(&["create", "delete", "get", "patch", "update"], &["storage.k8s.io"], &["csinodes"]),
        rule(READ, &["node.k8s.io"], &["runtimeclasses"]),
    ]
}

/// kube-scheduler's role (its `kube-system` leader-election Role is namespaced).
fn scheduler_rules() -> Vec<PolicyRule> {
    vec![
        events(),
        rule(&["create"], &["coordination.k8s.io"], &["leases"]),
        named(
            &["get", "list", "update", "watch"],
            &["coordination.k8s.io"],
            &["leases"],
            &["kube-scheduler"],
        ),
        rule(READ_WRITE, &["coordination.k8s.io"], &["leasecandidates"]),
        rule(READ, &[""], &["nodes"]),
        rule(&["delete", "get", "list", "watch"], &[""], &["pods"]),
        rule(&["create"], &[""], &["bindings", "pods/binding"]),
        rule(&["patch", "update"], &[""], &["pods/status"]),
        rule(READ, &[""], &["replicationcontrollers", "services"]),
        rule(READ, APPS_EXTENSIONS, &["replicasets"]),
        rule(READ, &["apps"], &["statefulsets"]),
        rule(READ, &["policy"], &["poddisruptionbudgets"]),
        rule(READ, &[""], &["persistentvolumeclaims", "persistentvolumes"]),
        rule(&["create"], &["authentication.k8s.io"], &["tokenreviews"]),
        rule(&["create"], &["authorization.k8s.io"], &["subjectaccessreviews"]),
        rule(READ, &["storage.k8s.io"], &["csinodes"]),
        rule(READ, &["storage.k8s.io"], &["volumeattachments"]),
        rule(READ, &[""], &["namespaces"]),
        rule(READ, &["storage.k8s.io"], &["csidrivers"]),
        rule(READ, &["storage.k8s.io"], &["csistoragecapacities"]),
    ]
}

/// `ControllerRoles()`: a role per kube-controller-manager controller, named
/// `system:controller:` and its ServiceAccount's name.
fn controller_roles() -> Vec<Role> {
    let update = |groups: &[&str], resource: &str| rule(&["update"], groups, &[resource]);
    vec![
        role(
            "system:controller:attachdetach-controller",
            vec![
                rule(&["list", "watch"], &[""], &["persistentvolumeclaims", "persistentvolumes"]),
                rule(READ, &[""], &["nodes"]),
                rule(&["patch", "update"], &[""], &["nodes/status"]),
                rule(&["list", "watch"], &[""], &["pods"]),
                events(),
                rule(
                    &["create", "delete", "get", "list", "watch"],
                    &["storage.k8s.io"],
                    &["volumeattachments"],
                ),
                rule(READ, &["storage.k8s.io"], &["csidrivers"]),
                rule(READ, &["storage.k8s.io"], &["csinodes"]),
            ],
        ),
        role(
            "system:controller:clusterrole-aggregation-controller",
            vec![rule(
                &["escalate", "get", "list", "patch", "update", "watch"],
                &["rbac.authorization.k8s.io"],
                &["clusterroles"],
            )],
        ),
        role(
            "system:controller:cronjob-controller",
            vec![
                rule(&["get", "list", "update", "watch"], &["batch"], &["cronjobs"]),
                rule(MANAGE, &["batch"], &["jobs"]),
                update(&["batch"], "cronjobs/status"),
                update(&["batch"], "cronjobs/finalizers"),
                rule(&["delete", "list", "watch"], &[""], &["pods"]),
                events(),
            ],
        ),
        role(
            "system:controller:daemon-set-controller",
            vec![
                rule(READ, APPS_EXTENSIONS, &["daemonsets"]),
                update(APPS_EXTENSIONS, "daemonsets/status"),
                update(APPS_EXTENSIONS, "daemonsets/finalizers"),
                rule(&["list", "watch"], &[""], &["nodes"]),
                rule(&["create", "delete", "list", "patch", "watch"], &[""], &["pods"]),
                rule(&["create"], &[""], &["pods/binding"]),
                rule(MANAGE, &["apps"], &["controllerrevisions"]),
                events(),
            ],
        ),
        role(
            "system:controller:deployment-controller",
            vec![
                rule(&["get", "list", "update", "watch"], APPS_EXTENSIONS, &["deployments"]),
                update(APPS_EXTENSIONS, "deployments/status"),
                update(APPS_EXTENSIONS, "deployments/finalizers"),
                rule(MANAGE, APPS_EXTENSIONS, &["replicasets"]),
                rule(&["get", "list", "update", "watch"], &[""], &["pods"]),
                events(),
            ],
        ),
        role(
            "system:controller:disruption-controller",
            vec![
                rule(READ, APPS_EXTENSIONS, &["deployments"]),
                rule(READ, APPS_EXTENSIONS, &["replicasets"]),
                rule(READ, &[""], &["replicationcontrollers"]),
                rule(READ, &["policy"], &["poddisruptionbudgets"]),
                rule(READ, &["apps"], &["statefulsets"]),
                update(&["policy"], "poddisruptionbudgets/status"),
                rule(&["patch", "update"], &[""], &["pods/status"]),
                rule(&["get"], &["*"], &["*/scale"]),
                events(),
            ],
        ),
        role(
            "system:controller:endpoint-controller",
            vec![
                rule(READ, &[""], &["pods", "services"]),
                rule(
                    &["create", "delete", "get", "list", "update", "watch"],
                    &[""],
                    &["endpoints"],
                ),
                rule(&["create"], &[""], &["endpoints/restricted"]),
                events(),
            ],
        ),
        role(
            "system:controller:endpointslice-controller",
            vec![
                rule(READ, &[""], &["nodes", "pods", "services"]),
                update(&[""], "services/finalizers"),
                rule(
                    &["create", "delete", "get", "list", "update", "watch"],
                    &["discovery.k8s.io"],
                    &["endpointslices"],
                ),
                events(),
            ],
        ),
        role(
            "system:controller:endpointslicemirroring-controller",
            vec![
                rule(READ, &[""], &["endpoints", "services"]),
                update(&[""], "services/finalizers"),
                update(&[""], "endpoints/finalizers"),
                rule(
                    &["create", "delete", "get", "list", "update", "watch"],
                    &["discovery.k8s.io"],
                    &["endpointslices"],
                ),
                events(),
            ],
        ),
        role(
            "system:controller:expand-controller",
            vec![
                rule(READ_UPDATE, &[""], &["persistentvolumes"]),
                rule(&["patch", "update"], &[""], &["persistentvolumeclaims/status"]),
                rule(READ, &[""], &["persistentvolumeclaims"]),
                events(),
                // The in-tree Portworx volume plugin (removed in v1.36).
                rule(&["get"], &[""], &["services"]),
            ],
        ),
        role(
            "system:controller:ephemeral-volume-controller",
            vec![
                rule(READ, &[""], &["pods"]),
                update(&[""], "pods/finalizers"),
                rule(&["create", "get", "list", "watch"], &[""], &["persistentvolumeclaims"]),
                events(),
            ],
        ),
        role(
            "system:controller:generic-garbage-collector",
            vec![
                rule(&["delete", "get", "list", "patch", "update", "watch"], &["*"], &["*"]),
                events(),
            ],
        ),
        role(
            "system:controller:horizontal-pod-autoscaler",
            vec![
                rule(READ, &["autoscaling"], &["horizontalpodautoscalers"]),
                update(&["autoscaling"], "horizontalpodautoscalers/status"),
                rule(&["get", "update"], &["*"], &["*/scale"]),
                rule(&["list", "watch"], &[""], &["pods"]),
                rule(&["list", "watch"], &["metrics.k8s.io"], &["pods"]),
                rule(READ, &["custom.metrics.k8s.io"], &["*"]),
                rule(READ, &["external.metrics.k8s.io"], &["*"]),
                events(),
            ],
        ),
        role(
            "system:controller:job-controller",
            vec![
                rule(&["get", "list", "patch", "update", "watch"], &["batch"], &["jobs"]),
                update(&["batch"], "jobs/status"),
                update(&["batch"], "jobs/finalizers"),
                rule(&["create", "delete", "list", "patch", "watch"], &[""], &["pods"]),
                events(),
            ],
        ),
        role(
            "system:controller:namespace-controller",
            vec![
                rule(&["delete", "get", "list", "watch"], &[""], &["namespaces"]),
                rule(&["update"], &[""], &["namespaces/finalize", "namespaces/status"]),
                rule(&["delete", "deletecollection", "get", "list", "watch"], &["*"], &["*"]),
            ],
        ),
        role(
            "system:controller:node-controller",
            vec![
                rule(&["delete", "get", "list", "patch", "update", "watch"], &[""], &["nodes"]),
                rule(&["patch", "update"], &[""], &["nodes/status"]),
                rule(&["patch", "update"], &[""], &["pods/status"]),
                rule(&["delete", "get", "list", "watch"], &[""], &["pods"]),
                events(),
            ],
        ),
        role(
            "system:controller:persistent-volume-binder",
            vec![
                rule(
                    &["create", "delete", "get", "list", "update", "watch"],
                    &[""],
                    &["persistentvolumes"],
                ),
                update(&[""], "persistentvolumes/status"),
                rule(&["get", "list", "update", "watch"], &[""], &["persistentvolumeclaims"]),
                update(&[""], "persistentvolumeclaims/status"),
                rule(&["create", "delete", "get", "list", "watch"], &[""], &["pods"]),
                rule(READ, &["storage.k8s.io"], &["storageclasses"]),
                rule(&["list", "watch"], &[""], &["nodes"]),
                events(),
                // The recycler watches its pod's events.
                rule(&["watch"], &[""], &["events"]),
                // The in-tree Portworx volume plugin (removed in v1.36).
                rule(&["get"], &[""], &["services"]),
            ],
        ),
        role(
            "system:controller:pod-garbage-collector",
            vec![
                rule(&["delete", "list", "watch"], &[""], &["pods"]),
                rule(READ, &[""], &["nodes"]),
                rule(&["patch"], &[""], &["pods/status"]),
            ],
        ),
        role(
            "system:controller:replicaset-controller",
            vec![
                rule(&["get", "list", "update", "watch"], APPS_EXTENSIONS, &["replicasets"]),
                update(APPS_EXTENSIONS, "replicasets/status"),
                update(APPS_EXTENSIONS, "replicasets/finalizers"),
                rule(&["create", "delete", "list", "patch", "watch"], &[""], &["pods"]),
                events(),
            ],
        ),
        role(
            "system:controller:replication-controller",
            vec![
                rule(&["get", "list", "update", "watch"], &[""], &["replicationcontrollers"]),
                update(&[""], "replicationcontrollers/status"),
                update(&[""], "replicationcontrollers/finalizers"),
                rule(&["create", "delete", "list", "patch", "watch"], &[""], &["pods"]),
                events(),
            ],
        ),
        role(
            "system:controller:resourcequota-controller",
            vec![
                rule(&["list", "watch"], &["*"], &["*"]),
                update(&[""], "resourcequotas/status"),
                events(),
            ],
        ),
        role(
            "system:controller:route-controller",
            vec![
                rule(&["list", "watch"], &[""], &["nodes"]),
                rule(&["patch"], &[""], &["nodes/status"]),
                events(),
            ],
        ),
        role(
            "system:controller:service-account-controller",
            vec![rule(&["create"], &[""], &["serviceaccounts"]), events()],
        ),
        role(
            "system:controller:service-controller",
            vec![
                rule(READ, &[""], &["services"]),
                rule(&["patch", "update"], &[""], &["services/status"]),
                rule(&["list", "watch"], &[""], &["nodes"]),
                events(),
            ],
        ),
        role(
            "system:controller:service-cidrs-controller",
            vec![
                rule(READ_UPDATE, &["networking.k8s.io"], &["servicecidrs"]),
                rule(&["patch", "update"], &["networking.k8s.io"], &["servicecidrs/finalizers"]),
                rule(&["patch", "update"], &["networking.k8s.io"], &["servicecidrs/status"]),
                rule(READ, &["networking.k8s.io"], &["ipaddresses"]),
                events(),
            ],
        ),
        role(
            "system:controller:statefulset-controller",
            vec![
                rule(&["list", "watch"], &[""], &["pods"]),
                rule(READ, &["apps"], &["statefulsets"]),
                update(&["apps"], "statefulsets/status"),
                update(&["apps"], "statefulsets/finalizers"),
                rule(&["create", "delete", "get", "patch", "update"], &[""], &["pods"]),
                rule(MANAGE, &["apps"], &["controllerrevisions"]),
                rule(&["create", "get", "list", "watch"], &[""], &["persistentvolumeclaims"]),
                rule(&["delete", "update"], &[""], &["persistentvolumeclaims"]),
                update(&[""], "pods/finalizers"),
                events(),
            ],
        ),
        role(
            "system:controller:ttl-controller",
            vec![rule(&["list", "patch", "update", "watch"], &[""], &["nodes"]), events()],
        ),
        role(
            "system:controller:certificate-controller",
            vec![
                rule(
                    &["delete", "get", "list", "watch"],
                    CERTIFICATES,
                    &["certificatesigningrequests"],
                ),
                rule(
                    &["update"],
                    CERTIFICATES,
                    &["certificatesigningrequests/approval", "certificatesigningrequests/status"],
                ),
                named(
                    &["approve"],
                    CERTIFICATES,
                    &["signers"],
                    &["kubernetes.io/kube-apiserver-client-kubelet"],
                ),
                named(
                    &["sign"],
                    CERTIFICATES,
                    &["signers"],
                    &[
                        "kubernetes.io/kube-apiserver-client",
                        "kubernetes.io/kube-apiserver-client-kubelet",
                        "kubernetes.io/kubelet-serving",
                        "kubernetes.io/legacy-unknown",
                    ],
                ),
                rule(&["create"], &["authorization.k8s.io"], &["subjectaccessreviews"]),
                events(),
            ],
        ),
        role(
            "system:controller:pvc-protection-controller",
            vec![
                rule(&["get", "list", "update", "watch"], &[""], &["persistentvolumeclaims"]),
                rule(READ, &[""], &["pods"]),
                events(),
            ],
        ),
        role(
            "system:controller:pv-protection-controller",
            vec![
                rule(&["get", "list", "update", "watch"], &[""], &["persistentvolumes"]),
                events(),
            ],
        ),
        role(
            "system:controller:ttl-after-finished-controller",
            vec![rule(&["delete", "get", "list", "watch"], &["batch"], &["jobs"]), events()],
        ),
        role(
            "system:controller:root-ca-cert-publisher",
            vec![rule(&["create", "update"], &[""], &["configmaps"]), events()],
        ),
        role(
            "system:controller:validatingadmissionpolicy-status-controller",
            vec![
                rule(READ, &["admissionregistration.k8s.io"], &["validatingadmissionpolicies"]),
                rule(
                    &["get", "patch", "update"],
                    &["admissionregistration.k8s.io"],
                    &["validatingadmissionpolicies/status"],
                ),
                events(),
            ],
        ),
        role(
            "system:controller:legacy-service-account-token-cleaner",
            vec![
                named(
                    &["get"],
                    &[""],
                    &["configmaps"],
                    &["kube-apiserver-legacy-service-account-token-tracking"],
                ),
                rule(&["delete", "patch"], &[""], &["secrets"]),
            ],
        ),
        // SELinuxChangePolicy.
        role(
            "system:controller:selinux-warning-controller",
            vec![
                events(),
                rule(READ, &[""], &["persistentvolumes"]),
                rule(READ, &[""], &["persistentvolumeclaims"]),
                rule(READ, &[""], &["pods"]),
                rule(READ, &["storage.k8s.io"], &["csidrivers"]),
            ],
        ),
    ]
}
