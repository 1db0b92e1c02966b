//! Table-driven tests of rule matching, subjects, resolution, escalation and the bootstrap
//! policy.

use serde_json::json;

use super::*;

fn rule(verbs: &[&str], groups: &[&str], resources: &[&str], names: &[&str]) -> PolicyRule {
    let owned = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect();
    PolicyRule {
        verbs: owned(verbs),
        api_groups: owned(groups),
        resources: owned(resources),
        resource_names: owned(names),
        non_resource_urls: Vec::new(),
    }
}

fn urls(verbs: &[&str], paths: &[&str]) -> PolicyRule {
    let owned = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect();
    PolicyRule { verbs: owned(verbs), non_resource_urls: owned(paths), ..PolicyRule::default() }
}

/// A request on `resource`'s `sub`resource of `group`, named `name`, in `namespace` (empty:
/// the cluster scope).
fn attributes(
    verb: &str,
    group: &str,
    resource: &str,
    sub: &str,
    name: &str,
    namespace: &str,
) -> Attributes {
    Attributes {
        verb: verb.into(),
        target: Target::Resource {
            api_group: group.into(),
            resource: resource.into(),
            subresource: sub.into(),
            name: name.into(),
            namespace: namespace.into(),
        },
    }
}

fn resource(verb: &str, group: &str, resource: &str, sub: &str, name: &str) -> Attributes {
    attributes(verb, group, resource, sub, name, "default")
}

fn path(verb: &str, path: &str) -> Attributes {
    Attributes { verb: verb.into(), target: Target::NonResource { path: path.into() } }
}

#[test]
fn rules_match_like_rbac_go() {
    let pods = rule(&["get", "list"], &[""], &["pods"], &[]);
    let cases = [
        (pods.clone(), resource("list", "", "pods", "", ""), true),
        (pods.clone(), resource("get", "", "pods", "", "web-0"), true),
        (pods.clone(), resource("watch", "", "pods", "", ""), false),
        (pods.clone(), resource("list", "apps", "pods", "", ""), false),
        (pods.clone(), resource("get", "", "pods", "status", "web-0"), false),
        (pods.clone(), path("get", "/api"), false),
        (
            rule(&["*"], &["*"], &["*"], &[]),
            resource("delete", "apps", "statefulsets", "scale", "x"),
            true,
        ),
        (
            rule(&["get"], &[""], &["pods/status"], &[]),
            resource("get", "", "pods", "status", "a"),
            true,
        ),
        (rule(&["get"], &[""], &["pods/status"], &[]), resource("get", "", "pods", "", "a"), false),
        (
            rule(&["update"], &["apps"], &["*/scale"], &[]),
            resource("update", "apps", "statefulsets", "scale", "w"),
            true,
        ),
        (
            rule(&["update"], &["apps"], &["*/scale"], &[]),
            resource("update", "apps", "statefulsets", "status", "w"),
            false,
        ),
        (
            rule(&["update"], &["apps"], &["*/scale"], &[]),
            resource("update", "apps", "statefulsets", "", "w"),
            false,
        ),
        (
            rule(&["get"], &[""], &["configmaps"], &["a"]),
            resource("get", "", "configmaps", "", "a"),
            true,
        ),
        (
            rule(&["get"], &[""], &["configmaps"], &["a"]),
            resource("get", "", "configmaps", "", "b"),
            false,
        ),
        // A list has no name, so a rule with resourceNames never allows it.
        (
            rule(&["list"], &[""], &["configmaps"], &["a"]),
            resource("list", "", "configmaps", "", ""),
            false,
        ),
        (urls(&["get"], &["/api", "/apis/*"]), path("get", "/api"), true),
        (urls(&["get"], &["/api", "/apis/*"]), path("get", "/api/v1"), false),
        (urls(&["get"], &["/api", "/apis/*"]), path("get", "/apis/apps/v1"), true),
        (urls(&["get"], &["/api", "/apis/*"]), path("post", "/apis/apps/v1"), false),
        (urls(&["*"], &["*"]), path("delete", "/anything"), true),
        (urls(&["get"], &["/healthz"]), resource("get", "", "healthz", "", ""), false),
    ];
    for (rule, attributes, expected) in cases {
        assert_eq!(rule_allows(&attributes, &rule), expected, "{rule:?} {attributes:?}");
    }
}

#[test]
fn subjects_apply_like_rule_go() {
    let groups = vec!["system:serviceaccounts".to_owned(), "system:authenticated".to_owned()];
    let sa = Identity { name: "system:serviceaccount:ns1:builder", groups: &groups };
    let subject = |kind: &str, name: &str, ns: &str| Subject {
        kind: kind.into(),
        api_group: String::new(),
        name: name.into(),
        namespace: ns.into(),
    };
    let cases = [
        (subject("ServiceAccount", "builder", "ns1"), "", true),
        (subject("ServiceAccount", "builder", ""), "ns1", true),
        (subject("ServiceAccount", "builder", ""), "ns2", false),
        (subject("ServiceAccount", "builder", ""), "", false),
        (subject("ServiceAccount", "build", "ns1"), "", false),
        (subject("ServiceAccount", "builder", "ns"), "", false),
        (subject("User", "system:serviceaccount:ns1:builder", ""), "", true),
        (subject("Group", "system:authenticated", ""), "", true),
        (subject("Group", "system:masters", ""), "", false),
        (subject("Robot", "builder", "ns1"), "", false),
    ];
    for (subject, namespace, expected) in cases {
        assert_eq!(applies_to(sa, &subject, namespace), expected, "{subject:?} in {namespace:?}");
    }
}

fn policy() -> Policy {
    let mut policy = Policy::default();
    policy.put(
        Kind::Role,
        "dev",
        "pod-reader",
        &json!({"rules": [{"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"]}]}),
    );
    policy.put(
        Kind::RoleBinding,
        "dev",
        "read-pods",
        &json!({"roleRef": {"apiGroup": GROUP, "kind": "Role", "name": "pod-reader"},
                "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": "dev"}]}),
    );
    policy.put(
        Kind::RoleBinding,
        "dev",
        "dangling",
        &json!({"roleRef": {"apiGroup": GROUP, "kind": "ClusterRole", "name": "gone"},
                "subjects": [{"kind": "Group", "name": "system:serviceaccounts"}]}),
    );
    for role in bootstrap::cluster_roles() {
        let name = role["metadata"]["name"].as_str().unwrap().to_owned();
        policy.put(Kind::ClusterRole, "", &name, &role);
    }
    for binding in bootstrap::cluster_role_bindings() {
        let name = binding["metadata"]["name"].as_str().unwrap().to_owned();
        policy.put(Kind::ClusterRoleBinding, "", &name, &binding);
    }
    policy
}

#[test]
fn the_policy_allows_through_bindings_and_explains_why() {
    let policy = policy();
    let groups: Vec<String> =
        ["system:serviceaccounts", "system:serviceaccounts:dev", "system:authenticated"]
            .map(str::to_owned)
            .to_vec();
    let sa = Identity { name: "system:serviceaccount:dev:default", groups: &groups };
    let in_ns = |verb: &str, ns: &str| attributes(verb, "", "pods", "", "", ns);
    let allowed = policy.authorize(sa, &in_ns("list", "dev"));
    assert_eq!(
        allowed,
        Decision {
            allowed: true,
            reason: r#"RBAC: allowed by RoleBinding "read-pods/dev" of Role "pod-reader" to ServiceAccount "default/dev""#.into()
        }
    );
    let denied = policy.authorize(sa, &in_ns("delete", "dev"));
    assert_eq!(
        denied,
        Decision {
            allowed: false,
            reason: r#"RBAC: clusterrole.rbac.authorization.k8s.io "gone" not found"#.into()
        }
    );
    assert_eq!(policy.authorize(sa, &in_ns("list", "other")).reason, "");
    assert!(!policy.authorize(sa, &in_ns("list", "")).allowed);
    let discovery = policy.authorize(sa, &path("get", "/apis/apps/v1"));
    assert_eq!(
        discovery.reason,
        r#"RBAC: allowed by ClusterRoleBinding "system:discovery" of ClusterRole "system:discovery" to Group "system:authenticated""#
    );
    assert!(!policy.authorize(sa, &path("get", "/metrics")).allowed);
    let masters = vec!["system:masters".to_owned()];
    let admin = Identity { name: "admin", groups: &masters };
    assert!(policy.authorize(admin, &resource("deletecollection", "x", "y", "", "")).allowed);

    // Deleting the binding takes the permission away.
    let mut policy = policy;
    policy.remove(Kind::RoleBinding, "dev", "read-pods");
    assert!(!policy.authorize(sa, &in_ns("list", "dev")).allowed);
}

#[test]
fn escalation_lists_what_is_missing_compacted() {
    let policy = policy();
    let groups = vec!["system:serviceaccounts".to_owned(), "system:authenticated".to_owned()];
    let sa = Identity { name: "system:serviceaccount:dev:default", groups: &groups };
    let held = [rule(&["get"], &[""], &["pods"], &[])];
    assert_eq!(policy.confirm_no_escalation(sa, "dev", &held), Ok(()));
    let wanted = [
        rule(&["get", "list", "delete"], &[""], &["pods", "secrets"], &[]),
        urls(&["get"], &["/metrics"]),
    ];
    let error = policy.confirm_no_escalation(sa, "dev", &wanted).unwrap_err();
    assert_eq!(
        error,
        "user \"system:serviceaccount:dev:default\" (groups=[\"system:serviceaccounts\" \"system:authenticated\"]) is attempting to grant RBAC permissions not currently held:\n\
         {APIGroups:[\"\"], Resources:[\"pods\"], Verbs:[\"delete\"]}\n\
         {APIGroups:[\"\"], Resources:[\"secrets\"], Verbs:[\"get\" \"list\" \"delete\"]}\n\
         {NonResourceURLs:[\"/metrics\"], Verbs:[\"get\"]}; resolution errors: [clusterrole.rbac.authorization.k8s.io \"gone\" not found]"
    );
}

#[test]
fn coverage_follows_the_component_helpers_rules() {
    let cases = [
        (
            rule(&["*"], &["*"], &["*"], &[]),
            rule(&["get"], &["apps"], &["deployments/scale"], &["x"]),
            true,
        ),
        (rule(&["get"], &[""], &["pods"], &[]), rule(&["get"], &[""], &["pods"], &["a"]), true),
        (rule(&["get"], &[""], &["pods"], &["a"]), rule(&["get"], &[""], &["pods"], &[]), false),
        (
            rule(&["get"], &[""], &["pods"], &["a", "b"]),
            rule(&["get"], &[""], &["pods"], &["b"]),
            true,
        ),
        (
            rule(&["get"], &["apps"], &["*/scale"], &[]),
            rule(&["get"], &["apps"], &["deployments/scale"], &[]),
            true,
        ),
        (
            rule(&["get"], &["apps"], &["*/scale"], &[]),
            rule(&["get"], &["apps"], &["deployments"], &[]),
            false,
        ),
        (urls(&["get"], &["/apis/*"]), urls(&["get"], &["/apis/apps"]), true),
        (urls(&["get"], &["/apis"]), urls(&["get"], &["/apis/apps"]), false),
    ];
    for (owner, servant, covered) in cases {
        assert_eq!(
            uncovered(std::slice::from_ref(&owner), std::slice::from_ref(&servant)).is_empty(),
            covered,
            "{owner:?} covers {servant:?}"
        );
    }
}

#[test]
fn compact_strings_are_gos() {
    let r = rule(&["get", "list"], &[""], &["pods"], &["a"]);
    assert_eq!(
        r.compact_string(),
        r#"{APIGroups:[""], Resources:["pods"], ResourceNames:["a"], Verbs:["get" "list"]}"#
    );
}

#[test]
fn bootstrap_aggregated_roles_are_stored_without_rules() {
    let roles = bootstrap::cluster_roles();
    let find = |name: &str| roles.iter().find(|r| r["metadata"]["name"] == name).unwrap();
    // As kube-apiserver creates them (testdata/cluster-roles.yaml: `rules: null`): the
    // aggregation controller fills them, view → edit → admin through their labels.
    let selects = |label: &str| json!({"clusterRoleSelectors": [{"matchLabels": {format!("rbac.authorization.k8s.io/aggregate-to-{label}"): "true"}}]});
    for (name, aggregates, label) in
        [("admin", "admin", None), ("edit", "edit", Some("admin")), ("view", "view", Some("edit"))]
    {
        let role = find(name);
        assert_eq!(role.get("rules"), None, "{name}");
        assert_eq!(role["aggregationRule"], selects(aggregates), "{name}");
        if let Some(label) = label {
            let key = format!("rbac.authorization.k8s.io/aggregate-to-{label}");
            assert_eq!(role["metadata"]["labels"][&key], "true", "{name}");
        }
    }
    for source in ["admin", "edit", "view"] {
        let role = find(&format!("system:aggregate-to-{source}"));
        let key = format!("rbac.authorization.k8s.io/aggregate-to-{source}");
        assert_eq!(role["metadata"]["labels"][&key], "true");
        assert!(!PolicyRule::all_of(role).is_empty());
    }
    for role in &roles {
        assert_eq!(role["metadata"]["labels"]["kubernetes.io/bootstrapping"], "rbac-defaults");
        assert_eq!(
            role["metadata"]["annotations"]["rbac.authorization.kubernetes.io/autoupdate"],
            "true"
        );
    }
    let names: Vec<&str> = roles.iter().filter_map(|r| r["metadata"]["name"].as_str()).collect();
    assert!(names.is_sorted(), "{names:?}");
    for binding in bootstrap::cluster_role_bindings() {
        assert!(names.contains(&binding["roleRef"]["name"].as_str().unwrap()));
    }
}

#[test]
fn bootstrap_namespace_roles_grant_their_controllers_and_no_one_else() {
    let mut policy = Policy::default();
    let roles = bootstrap::namespaced_roles();
    for role in &roles {
        let (namespace, name) = (
            role["metadata"]["namespace"].as_str().unwrap(),
            role["metadata"]["name"].as_str().unwrap(),
        );
        policy.put(Kind::Role, namespace, name, role);
    }
    let bindings = bootstrap::namespaced_role_bindings();
    for binding in &bindings {
        let namespace = binding["metadata"]["namespace"].as_str().unwrap();
        let role = binding["roleRef"]["name"].as_str().unwrap();
        assert!(
            roles
                .iter()
                .any(|r| r["metadata"]["namespace"] == namespace && r["metadata"]["name"] == role),
            "{binding}"
        );
        policy.put(
            Kind::RoleBinding,
            namespace,
            binding["metadata"]["name"].as_str().unwrap(),
            binding,
        );
    }
    let mut keys: Vec<(&str, &str)> = roles
        .iter()
        .map(|r| {
            (r["metadata"]["namespace"].as_str().unwrap(), r["metadata"]["name"].as_str().unwrap())
        })
        .collect();
    assert!(keys.is_sorted(), "{keys:?}");
    keys.dedup();
    assert_eq!(keys.len(), 7);
    let accounts =
        ["system:serviceaccounts".to_owned(), "system:serviceaccounts:kube-system".to_owned()];
    let cleaner =
        Identity { name: "system:serviceaccount:kube-system:token-cleaner", groups: &accounts };
    assert!(
        policy.authorize(cleaner, &request("delete", "", "secrets", "t", "kube-system")).allowed
    );
    assert!(!policy.authorize(cleaner, &request("delete", "", "secrets", "t", "default")).allowed);
    assert!(
        !policy.authorize(cleaner, &request("create", "", "secrets", "", "kube-system")).allowed
    );
    let signer =
        Identity { name: "system:serviceaccount:kube-system:bootstrap-signer", groups: &accounts };
    assert!(
        policy
            .authorize(signer, &request("update", "", "configmaps", "cluster-info", "kube-public"))
            .allowed
    );
    assert!(
        !policy
            .authorize(signer, &request("update", "", "configmaps", "other", "kube-public"))
            .allowed
    );
    let no_groups: [String; 0] = [];
    let scheduler = Identity { name: "system:kube-scheduler", groups: &no_groups };
    let lease = |verb: &str| {
        request(verb, "coordination.k8s.io", "leases", "kube-scheduler", "kube-system")
    };
    assert!(policy.authorize(scheduler, &lease("update")).allowed);
    assert!(!policy.authorize(scheduler, &lease("delete")).allowed);
    let reader =
        request("get", "", "configmaps", "extension-apiserver-authentication", "kube-system");
    assert!(policy.authorize(scheduler, &reader).allowed);
    let stranger = Identity { name: "someone", groups: &no_groups };
    assert!(!policy.authorize(stranger, &reader).allowed);
}

// === the component and controller roles ===

/// Every bootstrap object, as kube-apiserver creates them, in one policy.
fn bootstrap_policy() -> Policy {
    let mut policy = Policy::default();
    let name = |object: &Value| object["metadata"]["name"].as_str().unwrap().to_owned();
    let namespace = |object: &Value| object["metadata"]["namespace"].as_str().unwrap().to_owned();
    for role in bootstrap::cluster_roles() {
        policy.put(Kind::ClusterRole, "", &name(&role), &role);
    }
    for binding in bootstrap::cluster_role_bindings() {
        policy.put(Kind::ClusterRoleBinding, "", &name(&binding), &binding);
    }
    for role in bootstrap::namespaced_roles() {
        policy.put(Kind::Role, &namespace(&role), &name(&role), &role);
    }
    for binding in bootstrap::namespaced_role_bindings() {
        policy.put(Kind::RoleBinding, &namespace(&binding), &name(&binding), &binding);
    }
    policy
}

/// A request on `resource` (`resource/subresource` splits) of `group`, named `name`, in
/// `namespace` (empty: the cluster scope).
fn request(verb: &str, group: &str, resource: &str, name: &str, namespace: &str) -> Attributes {
    let (resource, subresource) = resource.split_once('/').unwrap_or((resource, ""));
    attributes(verb, group, resource, subresource, name, namespace)
}

/// Checks each `(verb, group, resource, name, namespace, allowed)` for `user` in `groups`.
fn check_grants(
    policy: &Policy,
    user: &str,
    groups: &[&str],
    cases: &[(&str, &str, &str, &str, &str, bool)],
) {
    let groups: Vec<String> = groups.iter().map(|g| (*g).to_owned()).collect();
    let identity = Identity { name: user, groups: &groups };
    for &(verb, group, resource, name, namespace, allowed) in cases {
        let decision = policy.authorize(identity, &request(verb, group, resource, name, namespace));
        assert_eq!(
            decision.allowed, allowed,
            "{user} {verb} {group}/{resource} {name:?} in {namespace:?}: {}",
            decision.reason
        );
    }
}

const CONTROLLERS: [&str; 3] =
    ["system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"];

#[test]
fn bootstrap_controller_accounts_may_do_what_their_controllers_do() {
    let policy = bootstrap_policy();
    check_grants(
        &policy,
        "system:serviceaccount:kube-system:statefulset-controller",
        &CONTROLLERS,
        &[
            ("create", "", "pods", "", "default", true),
            ("delete", "", "pods", "web-0", "default", true),
            ("create", "", "persistentvolumeclaims", "", "default", true),
            ("update", "apps", "statefulsets/status", "web", "default", true),
            ("create", "apps", "controllerrevisions", "", "default", true),
            ("update", "apps", "statefulsets", "web", "default", false),
            ("delete", "", "secrets", "s", "default", false),
            ("get", "", "secrets", "s", "default", false),
            ("create", "apps", "deployments", "", "default", false),
        ],
    );
    // The binding is to the account in kube-system, not to any account of that name.
    check_grants(
        &policy,
        "system:serviceaccount:default:statefulset-controller",
        &["system:serviceaccounts", "system:serviceaccounts:default", "system:authenticated"],
        &[("create", "", "pods", "", "default", false)],
    );
    check_grants(
        &policy,
        "system:serviceaccount:kube-system:generic-garbage-collector",
        &CONTROLLERS,
        &[
            ("delete", "apps", "replicasets", "r", "default", true),
            ("patch", "example.com", "widgets", "w", "default", true),
            ("create", "", "pods", "", "default", false),
        ],
    );
    check_grants(
        &policy,
        "system:serviceaccount:kube-system:namespace-controller",
        &CONTROLLERS,
        &[
            ("deletecollection", "apps", "deployments", "", "gone", true),
            ("update", "", "namespaces/finalize", "gone", "", true),
            ("create", "", "namespaces", "", "", false),
        ],
    );
    check_grants(
        &policy,
        "system:serviceaccount:kube-system:legacy-service-account-token-cleaner",
        &CONTROLLERS,
        &[
            (
                "get",
                "",
                "configmaps",
                "kube-apiserver-legacy-service-account-token-tracking",
                "kube-system",
                true,
            ),
            ("get", "", "configmaps", "other", "kube-system", false),
            ("delete", "", "secrets", "t", "default", true),
        ],
    );
    check_grants(
        &policy,
        "system:serviceaccount:kube-system:service-cidrs-controller",
        &CONTROLLERS,
        &[
            ("update", "networking.k8s.io", "servicecidrs/status", "kubernetes", "", true),
            ("watch", "networking.k8s.io", "ipaddresses", "", "", true),
            ("delete", "networking.k8s.io", "ipaddresses", "10.0.0.1", "", false),
        ],
    );
    check_grants(
        &policy,
        "system:serviceaccount:kube-system:horizontal-pod-autoscaler",
        &CONTROLLERS,
        &[
            ("update", "apps", "deployments/scale", "web", "default", true),
            ("update", "apps", "deployments", "web", "default", false),
            ("list", "metrics.k8s.io", "pods", "", "default", true),
        ],
    );
}

#[test]
fn bootstrap_component_users_may_do_what_their_components_do() {
    let policy = bootstrap_policy();
    let authenticated = ["system:authenticated"];
    check_grants(
        &policy,
        "system:kube-scheduler",
        &authenticated,
        &[
            ("create", "", "pods/binding", "web-0", "default", true),
            ("create", "", "bindings", "", "default", true),
            ("get", "", "nodes", "n1", "", true),
            ("list", "", "nodes", "", "", true),
            ("watch", "", "nodes", "", "", true),
            // Preemption deletes pods.
            ("delete", "", "pods", "victim", "default", true),
            ("patch", "", "pods/status", "web-0", "default", true),
            ("update", "", "persistentvolumes", "pv", "", true),
            ("create", "", "pods", "", "default", false),
            ("delete", "", "nodes", "n1", "", false),
            ("update", "coordination.k8s.io", "leases", "kube-scheduler", "default", true),
            ("update", "coordination.k8s.io", "leases", "other", "default", false),
            ("get", "", "secrets", "s", "default", false),
        ],
    );
    let controller_manager = "system:kube-controller-manager";
    check_grants(
        &policy,
        controller_manager,
        &authenticated,
        &[
            // Any lease of kube-system through the leader-locking Role, else only its own.
            ("get", "coordination.k8s.io", "leases", "other", "kube-system", true),
            ("update", "coordination.k8s.io", "leases", "other", "kube-system", true),
            ("get", "coordination.k8s.io", "leases", "other", "default", false),
            ("update", "coordination.k8s.io", "leases", "kube-controller-manager", "default", true),
            ("create", "coordination.k8s.io", "leases", "", "default", true),
            ("delete", "coordination.k8s.io", "leases", "other", "kube-system", false),
            ("list", "", "secrets", "", "", true),
            ("create", "", "serviceaccounts/token", "default", "default", true),
            ("delete", "", "pods", "p", "default", false),
        ],
    );
    let groups: Vec<String> = authenticated.map(str::to_owned).to_vec();
    let lease = request("get", "coordination.k8s.io", "leases", "other", "kube-system");
    assert_eq!(
        policy.authorize(Identity { name: controller_manager, groups: &groups }, &lease).reason,
        r#"RBAC: allowed by RoleBinding "system::leader-locking-kube-controller-manager/kube-system" of Role "system::leader-locking-kube-controller-manager" to User "system:kube-controller-manager""#
    );
    check_grants(
        &policy,
        "system:kube-proxy",
        &authenticated,
        &[
            ("watch", "discovery.k8s.io", "endpointslices", "", "", true),
            ("list", "networking.k8s.io", "servicecidrs", "", "", true),
            ("get", "", "nodes", "n1", "", true),
            ("update", "", "nodes", "n1", "", false),
        ],
    );
    check_grants(
        &policy,
        "system:serviceaccount:kube-system:kube-dns",
        &CONTROLLERS,
        &[
            ("watch", "", "services", "", "", true),
            ("get", "", "secrets", "s", "kube-system", false),
        ],
    );
    // The system:node binding binds no one (the Node authorizer authorizes kubelets), so a
    // node's credentials get nothing from it.
    check_grants(
        &policy,
        "system:node:n1",
        &["system:nodes", "system:authenticated"],
        &[
            ("get", "", "pods", "p", "default", false),
            ("create", "", "nodes", "", "", false),
            ("get", "", "secrets", "s", "default", false),
        ],
    );
    // Roles no one is bound to by default.
    check_grants(
        &policy,
        "someone",
        &authenticated,
        &[("patch", "", "nodes/status", "n1", "", false)],
    );
}

#[test]
fn bootstrap_cluster_policy_has_v1_33s_objects() {
    let roles = bootstrap::cluster_roles();
    let bindings = bootstrap::cluster_role_bindings();
    let names = |objects: &[Value]| -> Vec<String> {
        objects.iter().map(|o| o["metadata"]["name"].as_str().unwrap().to_owned()).collect()
    };
    let (role_names, binding_names) = (names(&roles), names(&bindings));
    // testdata/cluster-roles.yaml (31) and controller-roles.yaml (35) with default gates;
    // cluster-role-bindings.yaml (12) and controller-role-bindings.yaml (35).
    assert_eq!(roles.len(), 66, "{role_names:?}");
    assert_eq!(bindings.len(), 47, "{binding_names:?}");
    for list in [&role_names, &binding_names] {
        let mut unique = list.clone();
        unique.dedup();
        assert_eq!(&unique, list, "sorted and unique");
        assert!(list.is_sorted());
    }
    let controllers: Vec<&str> =
        role_names.iter().filter_map(|name| name.strip_prefix("system:controller:")).collect();
    assert_eq!(
        controllers,
        [
            "attachdetach-controller",
            "certificate-controller",
            "clusterrole-aggregation-controller",
            "cronjob-controller",
            "daemon-set-controller",
            "deployment-controller",
            "disruption-controller",
            "endpoint-controller",
            "endpointslice-controller",
            "endpointslicemirroring-controller",
            "ephemeral-volume-controller",
            "expand-controller",
            "generic-garbage-collector",
            "horizontal-pod-autoscaler",
            "job-controller",
            "legacy-service-account-token-cleaner",
            "namespace-controller",
            "node-controller",
            "persistent-volume-binder",
            "pod-garbage-collector",
            "pv-protection-controller",
            "pvc-protection-controller",
            "replicaset-controller",
            "replication-controller",
            "resourcequota-controller",
            "root-ca-cert-publisher",
            "route-controller",
            "selinux-warning-controller",
            "service-account-controller",
            "service-cidrs-controller",
            "service-controller",
            "statefulset-controller",
            "ttl-after-finished-controller",
            "ttl-controller",
            "validatingadmissionpolicy-status-controller",
        ]
    );
    let others: Vec<&str> = role_names
        .iter()
        .map(String::as_str)
        .filter(|name| !name.starts_with("system:controller:"))
        .collect();
    assert_eq!(
        others,
        [
            "admin",
            "cluster-admin",
            "edit",
            "system:aggregate-to-admin",
            "system:aggregate-to-edit",
            "system:aggregate-to-view",
            "system:auth-delegator",
            "system:basic-user",
            "system:certificates.k8s.io:certificatesigningrequests:nodeclient",
            "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
            "system:certificates.k8s.io:kube-apiserver-client-approver",
            "system:certificates.k8s.io:kube-apiserver-client-kubelet-approver",
            "system:certificates.k8s.io:kubelet-serving-approver",
            "system:certificates.k8s.io:legacy-unknown-approver",
            "system:discovery",
            "system:heapster",
            "system:kube-aggregator",
            "system:kube-controller-manager",
            "system:kube-dns",
            "system:kube-scheduler",
            "system:kubelet-api-admin",
            "system:monitoring",
            "system:node",
            "system:node-bootstrapper",
            "system:node-problem-detector",
            "system:node-proxier",
            "system:persistent-volume-provisioner",
            "system:public-info-viewer",
            "system:service-account-issuer-discovery",
            "system:volume-scheduler",
            "view",
        ]
    );
    // Each binding to the role of its name; a controller's to its kube-system account.
    for binding in &bindings {
        let name = binding["metadata"]["name"].as_str().unwrap();
        assert_eq!(binding["roleRef"]["name"], name);
        assert_eq!(binding["roleRef"]["kind"], "ClusterRole");
        assert!(role_names.iter().any(|role| role == name), "{name}");
        assert_eq!(
            binding["metadata"]["labels"],
            json!({"kubernetes.io/bootstrapping": "rbac-defaults"})
        );
        assert_eq!(
            binding["metadata"]["annotations"],
            json!({"rbac.authorization.kubernetes.io/autoupdate": "true"})
        );
        if let Some(account) = name.strip_prefix("system:controller:") {
            assert_eq!(
                binding["subjects"],
                json!([{"kind": "ServiceAccount", "name": account, "namespace": "kube-system"}])
            );
        }
    }
    let binding = |name: &str| bindings.iter().find(|b| b["metadata"]["name"] == name).unwrap();
    assert_eq!(binding("system:node").get("subjects"), None);
    let user = |name: &str| json!([{"kind": "User", "apiGroup": GROUP, "name": name}]);
    assert_eq!(binding("system:kube-scheduler")["subjects"], user("system:kube-scheduler"));
    assert_eq!(binding("system:volume-scheduler")["subjects"], user("system:kube-scheduler"));
    assert_eq!(binding("system:node-proxier")["subjects"], user("system:kube-proxy"));
    assert_eq!(
        binding("system:kube-controller-manager")["subjects"],
        user("system:kube-controller-manager")
    );
    assert_eq!(
        binding("system:kube-dns")["subjects"],
        json!([{"kind": "ServiceAccount", "name": "kube-dns", "namespace": "kube-system"}])
    );
    let unbound: Vec<&str> = role_names
        .iter()
        .map(String::as_str)
        .filter(|role| !binding_names.iter().any(|b| b == role))
        .collect();
    assert_eq!(
        unbound,
        [
            "admin",
            "edit",
            "system:aggregate-to-admin",
            "system:aggregate-to-edit",
            "system:aggregate-to-view",
            "system:auth-delegator",
            "system:certificates.k8s.io:certificatesigningrequests:nodeclient",
            "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
            "system:certificates.k8s.io:kube-apiserver-client-approver",
            "system:certificates.k8s.io:kube-apiserver-client-kubelet-approver",
            "system:certificates.k8s.io:kubelet-serving-approver",
            "system:certificates.k8s.io:legacy-unknown-approver",
            "system:heapster",
            "system:kube-aggregator",
            "system:kubelet-api-admin",
            "system:node-bootstrapper",
            "system:node-problem-detector",
            "system:persistent-volume-provisioner",
            "view",
        ]
    );
    // RuleOrDie's form: every list of every rule sorted, without duplicates.
    for role in roles.iter().chain(&bootstrap::namespaced_roles()) {
        for rule in role["rules"].as_array().into_iter().flatten() {
            for field in ["verbs", "apiGroups", "resources", "resourceNames", "nonResourceURLs"] {
                let values = strings(&rule[field]);
                let mut sorted = values.clone();
                sorted.sort();
                sorted.dedup();
                assert_eq!(values, sorted, "{field} of {rule} in {}", role["metadata"]["name"]);
            }
        }
    }
}

/// Roles compared whole with `testdata/controller-roles.yaml` (these roles read the same in
/// v1.33 and in the stored version of the file; it lists no role v1.33 gates off here).
#[test]
fn bootstrap_controller_roles_read_as_the_testdata() {
    let roles = bootstrap::cluster_roles();
    let events = json!({"apiGroups": ["", "events.k8s.io"], "resources": ["events"], "verbs": ["create", "patch", "update"]});
    let read = json!(["get", "list", "watch"]);
    let expected = [
        (
            "attachdetach-controller",
            json!([
                {"apiGroups": [""], "resources": ["persistentvolumeclaims", "persistentvolumes"], "verbs": ["list", "watch"]},
                {"apiGroups": [""], "resources": ["nodes"], "verbs": read},
                {"apiGroups": [""], "resources": ["nodes/status"], "verbs": ["patch", "update"]},
                {"apiGroups": [""], "resources": ["pods"], "verbs": ["list", "watch"]},
                events,
                {"apiGroups": ["storage.k8s.io"], "resources": ["volumeattachments"], "verbs": ["create", "delete", "get", "list", "watch"]},
                {"apiGroups": ["storage.k8s.io"], "resources": ["csidrivers"], "verbs": read},
                {"apiGroups": ["storage.k8s.io"], "resources": ["csinodes"], "verbs": read},
            ]),
        ),
        (
            "certificate-controller",
            json!([
                {"apiGroups": ["certificates.k8s.io"], "resources": ["certificatesigningrequests"], "verbs": ["delete", "get", "list", "watch"]},
                {"apiGroups": ["certificates.k8s.io"], "resources": ["certificatesigningrequests/approval", "certificatesigningrequests/status"], "verbs": ["update"]},
                {"apiGroups": ["certificates.k8s.io"], "resourceNames": ["kubernetes.io/kube-apiserver-client-kubelet"], "resources": ["signers"], "verbs": ["approve"]},
                {"apiGroups": ["certificates.k8s.io"], "resourceNames": ["kubernetes.io/kube-apiserver-client", "kubernetes.io/kube-apiserver-client-kubelet", "kubernetes.io/kubelet-serving", "kubernetes.io/legacy-unknown"], "resources": ["signers"], "verbs": ["sign"]},
                {"apiGroups": ["authorization.k8s.io"], "resources": ["subjectaccessreviews"], "verbs": ["create"]},
                events,
            ]),
        ),
        (
            "clusterrole-aggregation-controller",
            json!([
                {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"], "verbs": ["escalate", "get", "list", "patch", "update", "watch"]},
            ]),
        ),
        (
            "disruption-controller",
            json!([
                {"apiGroups": ["apps", "extensions"], "resources": ["deployments"], "verbs": read},
                {"apiGroups": ["apps", "extensions"], "resources": ["replicasets"], "verbs": read},
                {"apiGroups": [""], "resources": ["replicationcontrollers"], "verbs": read},
                {"apiGroups": ["policy"], "resources": ["poddisruptionbudgets"], "verbs": read},
                {"apiGroups": ["apps"], "resources": ["statefulsets"], "verbs": read},
                {"apiGroups": ["policy"], "resources": ["poddisruptionbudgets/status"], "verbs": ["update"]},
                {"apiGroups": [""], "resources": ["pods/status"], "verbs": ["patch", "update"]},
                {"apiGroups": ["*"], "resources": ["*/scale"], "verbs": ["get"]},
                events,
            ]),
        ),
        (
            "horizontal-pod-autoscaler",
            json!([
                {"apiGroups": ["autoscaling"], "resources": ["horizontalpodautoscalers"], "verbs": read},
                {"apiGroups": ["autoscaling"], "resources": ["horizontalpodautoscalers/status"], "verbs": ["update"]},
                {"apiGroups": ["*"], "resources": ["*/scale"], "verbs": ["get", "update"]},
                {"apiGroups": [""], "resources": ["pods"], "verbs": ["list", "watch"]},
                {"apiGroups": ["metrics.k8s.io"], "resources": ["pods"], "verbs": ["list", "watch"]},
                {"apiGroups": ["custom.metrics.k8s.io"], "resources": ["*"], "verbs": read},
                {"apiGroups": ["external.metrics.k8s.io"], "resources": ["*"], "verbs": read},
                events,
            ]),
        ),
        (
            "legacy-service-account-token-cleaner",
            json!([
                {"apiGroups": [""], "resourceNames": ["kube-apiserver-legacy-service-account-token-tracking"], "resources": ["configmaps"], "verbs": ["get"]},
                {"apiGroups": [""], "resources": ["secrets"], "verbs": ["delete", "patch"]},
            ]),
        ),
        (
            "namespace-controller",
            json!([
                {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["delete", "get", "list", "watch"]},
                {"apiGroups": [""], "resources": ["namespaces/finalize", "namespaces/status"], "verbs": ["update"]},
                {"apiGroups": ["*"], "resources": ["*"], "verbs": ["delete", "deletecollection", "get", "list", "watch"]},
            ]),
        ),
        (
            "selinux-warning-controller",
            json!([
                events,
                {"apiGroups": [""], "resources": ["persistentvolumes"], "verbs": read},
                {"apiGroups": [""], "resources": ["persistentvolumeclaims"], "verbs": read},
                {"apiGroups": [""], "resources": ["pods"], "verbs": read},
                {"apiGroups": ["storage.k8s.io"], "resources": ["csidrivers"], "verbs": read},
            ]),
        ),
        (
            "service-cidrs-controller",
            json!([
                {"apiGroups": ["networking.k8s.io"], "resources": ["servicecidrs"], "verbs": ["get", "list", "patch", "update", "watch"]},
                {"apiGroups": ["networking.k8s.io"], "resources": ["servicecidrs/finalizers"], "verbs": ["patch", "update"]},
                {"apiGroups": ["networking.k8s.io"], "resources": ["servicecidrs/status"], "verbs": ["patch", "update"]},
                {"apiGroups": ["networking.k8s.io"], "resources": ["ipaddresses"], "verbs": read},
                events,
            ]),
        ),
        (
            "statefulset-controller",
            json!([
                {"apiGroups": [""], "resources": ["pods"], "verbs": ["list", "watch"]},
                {"apiGroups": ["apps"], "resources": ["statefulsets"], "verbs": read},
                {"apiGroups": ["apps"], "resources": ["statefulsets/status"], "verbs": ["update"]},
                {"apiGroups": ["apps"], "resources": ["statefulsets/finalizers"], "verbs": ["update"]},
                {"apiGroups": [""], "resources": ["pods"], "verbs": ["create", "delete", "get", "patch", "update"]},
                {"apiGroups": ["apps"], "resources": ["controllerrevisions"], "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]},
                {"apiGroups": [""], "resources": ["persistentvolumeclaims"], "verbs": ["create", "get", "list", "watch"]},
                {"apiGroups": [""], "resources": ["persistentvolumeclaims"], "verbs": ["delete", "update"]},
                {"apiGroups": [""], "resources": ["pods/finalizers"], "verbs": ["update"]},
                events,
            ]),
        ),
    ];
    for (controller, rules) in expected {
        let name = format!("system:controller:{controller}");
        let role = roles.iter().find(|r| r["metadata"]["name"] == name.as_str()).unwrap();
        assert_eq!(
            role,
            &json!({
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRole",
                "metadata": {
                    "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"},
                    "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"},
                    "name": name,
                },
                "rules": rules,
            }),
            "{name}"
        );
    }
}

/// `system:kube-scheduler` as `kubectl describe clusterrole` shows it on a v1.32.3
/// kube-apiserver (no rule was added for v1.33's default gates): every
/// (resource, resource names) row with its verbs.
#[test]
fn bootstrap_scheduler_role_describes_as_kubectl_shows_it() {
    let roles = bootstrap::cluster_roles();
    let role = roles.iter().find(|r| r["metadata"]["name"] == "system:kube-scheduler").unwrap();
    let mut rows: BTreeMap<(String, Vec<String>), Vec<String>> = BTreeMap::new();
    for rule in PolicyRule::all_of(role) {
        for group in &rule.api_groups {
            for resource in &rule.resources {
                let resource =
                    if group.is_empty() { resource.clone() } else { format!("{resource}.{group}") };
                let verbs = rows.entry((resource, rule.resource_names.clone())).or_default();
                verbs.extend(rule.verbs.iter().cloned());
                verbs.sort();
                verbs.dedup();
            }
        }
    }
    let described = "
        leasecandidates.coordination.k8s.io        []                 [create delete deletecollection get list patch update watch]
        events                                     []                 [create patch update]
        events.events.k8s.io                       []                 [create patch update]
        bindings                                   []                 [create]
        pods/binding                               []                 [create]
        tokenreviews.authentication.k8s.io         []                 [create]
        subjectaccessreviews.authorization.k8s.io  []                 [create]
        leases.coordination.k8s.io                 []                 [create]
        pods                                       []                 [delete get list watch]
        leases.coordination.k8s.io                 [kube-scheduler]   [get list update watch]
        namespaces                                 []                 [get list watch]
        nodes                                      []                 [get list watch]
        persistentvolumeclaims                     []                 [get list watch]
        persistentvolumes                          []                 [get list watch]
        replicationcontrollers                     []                 [get list watch]
        services                                   []                 [get list watch]
        replicasets.apps                           []                 [get list watch]
        statefulsets.apps                          []                 [get list watch]
        replicasets.extensions                     []                 [get list watch]
        poddisruptionbudgets.policy                []                 [get list watch]
        csidrivers.storage.k8s.io                  []                 [get list watch]
        csinodes.storage.k8s.io                    []                 [get list watch]
        csistoragecapacities.storage.k8s.io        []                 [get list watch]
        volumeattachments.storage.k8s.io           []                 [get list watch]
        pods/status                                []                 [patch update]";
    let words = |list: &str| -> Vec<String> {
        list.trim_matches(['[', ']']).split_whitespace().map(str::to_owned).collect()
    };
    let expected: BTreeMap<(String, Vec<String>), Vec<String>> = described
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let (resource, rest) = line.trim().split_once(' ').unwrap();
            let (names, verbs) = rest.trim().split_once(']').unwrap();
            ((resource.to_owned(), words(names)), words(verbs.trim()))
        })
        .collect();
    assert_eq!(rows, expected);
}
