//! The default ClusterRoles and ClusterRoleBindings kube-apiserver creates at start
//! (`plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go` and `controller_policy.go`,
//! v1.33, default feature gates), and the Roles and RoleBindings it creates in `kube-system`
//! and `kube-public` (`namespace_policy.go`), as data.
//!
//! The namespaced ones were read from `testdata/namespace-roles.yaml` and
//! `namespace-role-bindings.yaml`. Here are the roles berth's users meet: the user-facing
//! `cluster-admin`, `admin`, `edit` and `view` with the `system:aggregate-to-*` roles they
//! aggregate, and the roles every client needs (`system:discovery`, `system:basic-user`,
//! `system:public-info-viewer`), plus `system:monitoring`, `system:auth-delegator` and
//! `system:service-account-issuer-discovery`. The roles of Kubernetes' own components
//! (`system:node`, `system:kube-scheduler`, `system:kube-controller-manager`, the
//! `system:controller:*` role of each kube-controller-manager controller, …) and their
//! bindings are in [`components`].
//! As kube-apiserver stores them, `admin`, `edit` and `view` have an `aggregationRule` and no
//! rules: the ClusterRole aggregation controller (`berth-controllers`'
//! `clusterrole-aggregation`) fills them with the rules of the roles their selectors match,
//! so a ClusterRole a user labels `aggregate-to-view` joins `view`.
//!
//! Every list of a rule is sorted and without duplicates, as `rbacv1helpers.NewRule(…)
//! .RuleOrDie()` builds it and the testdata shows it; the rules of a role keep the order
//! `policy.go` writes them in.

use serde_json::{Value, json};

use super::PolicyRule;
use super::reconcile::AUTO_UPDATE;

mod components;

const READ: &[&str] = &["get", "list", "watch"];
const WRITE: &[&str] = &["create", "delete", "deletecollection", "patch", "update"];
const READ_WRITE: &[&str] =
    &["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];
const AGGREGATE_TO_ADMIN: &str = "rbac.authorization.k8s.io/aggregate-to-admin";
const AGGREGATE_TO_EDIT: &str = "rbac.authorization.k8s.io/aggregate-to-edit";
const AGGREGATE_TO_VIEW: &str = "rbac.authorization.k8s.io/aggregate-to-view";

fn owned(values: &[&str]) -> Vec<String> {
    values.iter().map(|v| (*v).to_owned()).collect()
}

fn rule(verbs: &[&str], groups: &[&str], resources: &[&str]) -> PolicyRule {
    PolicyRule {
        verbs: owned(verbs),
        api_groups: owned(groups),
        resources: owned(resources),
        ..PolicyRule::default()
    }
}

fn urls(verbs: &[&str], paths: &[&str]) -> PolicyRule {
    PolicyRule { verbs: owned(verbs), non_resource_urls: owned(paths), ..PolicyRule::default() }
}

/// One bootstrap ClusterRole: name, extra labels, the label its aggregation rule selects.
struct Role {
    name: &'static str,
    labels: &'static [&'static str],
    aggregates: Option<&'static str>,
    rules: Vec<PolicyRule>,
}

/// Who a bootstrap ClusterRoleBinding binds.
enum Subject {
    Group(&'static str),
    User(&'static str),
    /// A ServiceAccount of `kube-system`.
    ServiceAccount(&'static str),
}

/// One bootstrap ClusterRoleBinding: its name, which is also its ClusterRole's, and whom it
/// binds (no one, for `system:node`).
struct Binding {
    name: &'static str,
    subjects: Vec<Subject>,
}

fn roles() -> Vec<Role> {
    let aggregate_to_view = vec![
        rule(
            READ,
            &[""],
            &[
                "configmaps",
                "endpoints",
                "persistentvolumeclaims",
                "persistentvolumeclaims/status",
                "pods",
                "replicationcontrollers",
                "replicationcontrollers/scale",
                "serviceaccounts",
                "services",
                "services/status",
            ],
        ),
        rule(
            READ,
            &[""],
            &[
                "bindings",
                "events",
                "limitranges",
                "namespaces/status",
                "pods/log",
                "pods/status",
                "replicationcontrollers/status",
                "resourcequotas",
                "resourcequotas/status",
            ],
        ),
        rule(READ, &[""], &["namespaces"]),
        rule(READ, &["discovery.k8s.io"], &["endpointslices"]),
        rule(
            READ,
            &["apps"],
            &[
                "controllerrevisions",
                "daemonsets",
                "daemonsets/status",
                "deployments",
                "deployments/scale",
                "deployments/status",
                "replicasets",
                "replicasets/scale",
                "replicasets/status",
                "statefulsets",
                "statefulsets/scale",
                "statefulsets/status",
            ],
        ),
        rule(
            READ,
            &["autoscaling"],
            &["horizontalpodautoscalers", "horizontalpodautoscalers/status"],
        ),
        rule(READ, &["batch"], &["cronjobs", "cronjobs/status", "jobs", "jobs/status"]),
        rule(
            READ,
            &["extensions"],
            &[
                "daemonsets",
                "daemonsets/status",
                "deployments",
                "deployments/scale",
                "deployments/status",
                "ingresses",
                "ingresses/status",
                "networkpolicies",
                "replicasets",
                "replicasets/scale",
                "replicasets/status",
                "replicationcontrollers/scale",
            ],
        ),
        rule(READ, &["policy"], &["poddisruptionbudgets", "poddisruptionbudgets/status"]),
        rule(READ, &["networking.k8s.io"], &["ingresses", "ingresses/status", "networkpolicies"]),
    ];
    let pods_and_friends = ["pods", "pods/attach", "pods/exec", "pods/portforward", "pods/proxy"];
    let aggregate_to_edit = vec![
        rule(
            READ,
            &[""],
            &[
                "pods/attach",
                "pods/exec",
                "pods/portforward",
                "pods/proxy",
                "secrets",
                "services/proxy",
            ],
        ),
        rule(&["impersonate"], &[""], &["serviceaccounts"]),
        rule(WRITE, &[""], &pods_and_friends),
        rule(&["create"], &[""], &["pods/eviction"]),
        rule(
            WRITE,
            &[""],
            &[
                "configmaps",
                "events",
                "persistentvolumeclaims",
                "replicationcontrollers",
                "replicationcontrollers/scale",
                "secrets",
                "serviceaccounts",
                "services",
                "services/proxy",
            ],
        ),
        rule(&["create"], &[""], &["serviceaccounts/token"]),
        rule(
            WRITE,
            &["apps"],
            &[
                "daemonsets",
                "deployments",
                "deployments/rollback",
                "deployments/scale",
                "replicasets",
                "replicasets/scale",
                "statefulsets",
                "statefulsets/scale",
            ],
        ),
        rule(WRITE, &["autoscaling"], &["horizontalpodautoscalers"]),
        rule(WRITE, &["batch"], &["cronjobs", "jobs"]),
        rule(
            WRITE,
            &["extensions"],
            &[
                "daemonsets",
                "deployments",
                "deployments/rollback",
                "deployments/scale",
                "ingresses",
                "networkpolicies",
                "replicasets",
                "replicasets/scale",
                "replicationcontrollers/scale",
            ],
        ),
        rule(WRITE, &["policy"], &["poddisruptionbudgets"]),
        rule(WRITE, &["networking.k8s.io"], &["ingresses", "networkpolicies"]),
        rule(READ_WRITE, &["coordination.k8s.io"], &["leases"]),
    ];
    let aggregate_to_admin = vec![
        rule(&["create"], &["authorization.k8s.io"], &["localsubjectaccessreviews"]),
        rule(READ_WRITE, &["rbac.authorization.k8s.io"], &["rolebindings", "roles"]),
    ];
    vec![
        Role {
            name: "admin",
            labels: &[],
            aggregates: Some(AGGREGATE_TO_ADMIN),
            rules: Vec::new(),
        },
        Role {
            name: "cluster-admin",
            labels: &[],
            aggregates: None,
            rules: PolicyRule::everything(),
        },
        Role {
            name: "edit",
            labels: &[AGGREGATE_TO_ADMIN],
            aggregates: Some(AGGREGATE_TO_EDIT),
            rules: Vec::new(),
        },
        Role {
            name: "system:aggregate-to-admin",
            labels: &[AGGREGATE_TO_ADMIN],
            aggregates: None,
            rules: aggregate_to_admin,
        },
        Role {
            name: "system:aggregate-to-edit",
            labels: &[AGGREGATE_TO_EDIT],
            aggregates: None,
            rules: aggregate_to_edit,
        },
        Role {
            name: "system:aggregate-to-view",
            labels: &[AGGREGATE_TO_VIEW],
            aggregates: None,
            rules: aggregate_to_view,
        },
        Role {
            name: "system:auth-delegator",
            labels: &[],
            aggregates: None,
            rules: vec![
                rule(&["create"], &["authentication.k8s.io"], &["tokenreviews"]),
                rule(&["create"], &["authorization.k8s.io"], &["subjectaccessreviews"]),
            ],
        },
        Role {
            name: "system:basic-user",
            labels: &[],
            aggregates: None,
            rules: vec![
                rule(
                    &["create"],
                    &["authorization.k8s.io"],
                    &["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
                ),
                rule(&["create"], &["authentication.k8s.io"], &["selfsubjectreviews"]),
            ],
        },
        Role {
            name: "system:discovery",
            labels: &[],
            aggregates: None,
            rules: vec![urls(
                &["get"],
                &[
                    "/api",
                    "/api/*",
                    "/apis",
                    "/apis/*",
                    "/healthz",
                    "/livez",
                    "/openapi",
                    "/openapi/*",
                    "/readyz",
                    "/version",
                    "/version/",
                ],
            )],
        },
        Role {
            name: "system:monitoring",
            labels: &[],
            aggregates: None,
            rules: vec![urls(
                &["get"],
                &[
                    "/healthz",
                    "/healthz/*",
                    "/livez",
                    "/livez/*",
                    "/metrics",
                    "/metrics/slis",
                    "/readyz",
                    "/readyz/*",
                ],
            )],
        },
        Role {
            name: "system:public-info-viewer",
            labels: &[],
            aggregates: None,
            rules: vec![urls(
                &["get"],
                &["/healthz", "/livez", "/readyz", "/version", "/version/"],
            )],
        },
        Role {
            name: "system:service-account-issuer-discovery",
            labels: &[],
            aggregates: None,
            // The slash-ended paths are those of the published OpenAPI documents.
            rules: vec![urls(
                &["get"],
                &[
                    "/.well-known/openid-configuration",
                    "/.well-known/openid-configuration/",
                    "/openid/v1/jwks",
                    "/openid/v1/jwks/",
                ],
            )],
        },
        Role {
            name: "view",
            labels: &[AGGREGATE_TO_EDIT],
            aggregates: Some(AGGREGATE_TO_VIEW),
            rules: Vec::new(),
        },
    ]
}

/// The bootstrap Roles (`namespace_policy.go`), by namespace and then name: leader election
/// for the controller manager and the scheduler, the authentication ConfigMap reader, and the
/// bootstrap-signer, cloud-provider and token-cleaner controllers' roles.
pub fn namespaced_roles() -> Vec<Value> {
    const LEADER_ELECTION: &[&str] = &["create", "get", "list", "update", "watch"];
    let named = |verbs: &[&str], resource: &str, name: &str| PolicyRule {
        resource_names: owned(&[name]),
        ..rule(verbs, &[""], &[resource])
    };
    let events = rule(&["create", "patch", "update"], &["", "events.k8s.io"], &["events"]);
    let leader_locking = vec![
        rule(LEADER_ELECTION, &["coordination.k8s.io"], &["leases"]),
        rule(LEADER_ELECTION, &["coordination.k8s.io"], &["leasecandidates"]),
    ];
    let roles: [(&str, &str, Vec<PolicyRule>); 7] = [
        (
            "kube-public",
            "system:controller:bootstrap-signer",
            vec![
                rule(READ, &[""], &["configmaps"]),
                named(&["update"], "configmaps", "cluster-info"),
                events.clone(),
            ],
        ),
        (
            "kube-system",
            "extension-apiserver-authentication-reader",
            vec![named(READ, "configmaps", "extension-apiserver-authentication")],
        ),
        ("kube-system", "system::leader-locking-kube-controller-manager", leader_locking.clone()),
        ("kube-system", "system::leader-locking-kube-scheduler", leader_locking),
        (
            "kube-system",
            "system:controller:bootstrap-signer",
            vec![rule(READ, &[""], &["secrets"])],
        ),
        (
            "kube-system",
            "system:controller:cloud-provider",
            vec![rule(&["create", "get", "list", "watch"], &[""], &["configmaps"])],
        ),
        (
            "kube-system",
            "system:controller:token-cleaner",
            vec![rule(&["delete", "get", "list", "watch"], &[""], &["secrets"]), events],
        ),
    ];
    roles
        .into_iter()
        .map(|(namespace, name, rules)| {
            json!({
                "kind": "Role",
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "metadata": namespaced_metadata(namespace, name),
                "rules": rules.iter().map(PolicyRule::to_json).collect::<Vec<_>>(),
            })
        })
        .collect()
}

/// The bootstrap RoleBindings (`namespace_policy.go`), by namespace and then name, each to the
/// Role of its namespace that [`namespaced_roles`] names.
pub fn namespaced_role_bindings() -> Vec<Value> {
    let user =
        |name: &str| json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": name});
    let account =
        |name: &str| json!({"kind": "ServiceAccount", "name": name, "namespace": "kube-system"});
    let bindings: [(&str, &str, &str, Vec<Value>); 7] = [
        (
            "kube-public",
            "system:controller:bootstrap-signer",
            "system:controller:bootstrap-signer",
            vec![account("bootstrap-signer")],
        ),
        (
            "kube-system",
            "system::extension-apiserver-authentication-reader",
            "extension-apiserver-authentication-reader",
            vec![user("system:kube-controller-manager"), user("system:kube-scheduler")],
        ),
        (
            "kube-system",
            "system::leader-locking-kube-controller-manager",
            "system::leader-locking-kube-controller-manager",
            vec![
                user("system:kube-controller-manager"),
                account("kube-controller-manager"),
                account("leader-election-controller"),
            ],
        ),
        (
            "kube-system",
            "system::leader-locking-kube-scheduler",
            "system::leader-locking-kube-scheduler",
            vec![user("system:kube-scheduler"), account("kube-scheduler")],
        ),
        (
            "kube-system",
            "system:controller:bootstrap-signer",
            "system:controller:bootstrap-signer",
            vec![account("bootstrap-signer")],
        ),
        (
            "kube-system",
            "system:controller:cloud-provider",
            "system:controller:cloud-provider",
            vec![account("cloud-provider")],
        ),
        (
            "kube-system",
            "system:controller:token-cleaner",
            "system:controller:token-cleaner",
            vec![account("token-cleaner")],
        ),
    ];
    bindings
        .into_iter()
        .map(|(namespace, name, role, subjects)| {
            json!({
                "kind": "RoleBinding",
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "metadata": namespaced_metadata(namespace, name),
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role},
                "subjects": subjects,
            })
        })
        .collect()
}

/// `rbac.authorization.kubernetes.io/autoupdate: "true"` and
/// `kubernetes.io/bootstrapping: rbac-defaults`, plus `extra_labels` set to `"true"`.
fn metadata(name: &str, extra_labels: &[&str]) -> Value {
    let mut labels = serde_json::Map::new();
    labels.insert("kubernetes.io/bootstrapping".into(), json!("rbac-defaults"));
    for label in extra_labels {
        labels.insert((*label).into(), json!("true"));
    }
    json!({
        "name": name,
        "labels": labels,
        "annotations": {AUTO_UPDATE: "true"},
    })
}

/// [`metadata`] of an object in `namespace`, with no extra labels.
fn namespaced_metadata(namespace: &str, name: &str) -> Value {
    let mut metadata = metadata(name, &[]);
    metadata["namespace"] = json!(namespace);
    metadata
}

/// The bootstrap ClusterRoles, sorted by name; aggregated roles without rules (the aggregation
/// controller's to fill), as kube-apiserver creates them.
pub fn cluster_roles() -> Vec<Value> {
    let mut all = roles();
    all.extend(components::roles());
    all.sort_by_key(|role| role.name);
    all.into_iter()
        .map(|role| {
            let mut object = json!({
                "kind": "ClusterRole",
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "metadata": metadata(role.name, role.labels),
            });
            if !role.rules.is_empty() {
                object["rules"] = role.rules.iter().map(PolicyRule::to_json).collect();
            }
            if let Some(selector) = role.aggregates {
                object["aggregationRule"] =
                    json!({"clusterRoleSelectors": [{"matchLabels": {selector: "true"}}]});
            }
            object
        })
        .collect()
}

/// The bootstrap ClusterRoleBindings, sorted by name: each to the ClusterRole of its name.
pub fn cluster_role_bindings() -> Vec<Value> {
    let groups = |name: &'static str, groups: &[&'static str]| Binding {
        name,
        subjects: groups.iter().map(|group| Subject::Group(group)).collect(),
    };
    let mut all = vec![
        groups("cluster-admin", &["system:masters"]),
        groups("system:basic-user", &["system:authenticated"]),
        groups("system:discovery", &["system:authenticated"]),
        groups("system:monitoring", &["system:monitoring"]),
        groups("system:public-info-viewer", &["system:authenticated", "system:unauthenticated"]),
        groups("system:service-account-issuer-discovery", &["system:serviceaccounts"]),
    ];
    all.extend(components::bindings());
    all.sort_by_key(|binding| binding.name);
    all.iter()
        .map(|binding| {
            let mut object = json!({
                "kind": "ClusterRoleBinding",
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "metadata": metadata(binding.name, &[]),
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": binding.name},
            });
            // Go's `omitempty`: a binding without subjects (`system:node`) has no list.
            if !binding.subjects.is_empty() {
                object["subjects"] = binding.subjects.iter().map(Subject::to_json).collect();
            }
            object
        })
        .collect()
}

// === impl Subject ===

impl Subject {
    /// The `rbacv1.Subject` kube-apiserver stores: users and groups with the RBAC API group,
    /// service accounts with their namespace and no group.
    fn to_json(&self) -> Value {
        match self {
            Subject::Group(name) => {
                json!({"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": name})
            }
            Subject::User(name) => {
                json!({"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": name})
            }
            Subject::ServiceAccount(name) => {
                json!({"kind": "ServiceAccount", "name": name, "namespace": "kube-system"})
            }
        }
    }
}
