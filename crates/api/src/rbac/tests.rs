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

fn resource(verb: &str, group: &str, resource: &str, sub: &str, name: &str) -> Attributes {
    Attributes {
        verb: verb.into(),
        target: Target::Resource {
            api_group: group.into(),
            resource: resource.into(),
            subresource: sub.into(),
            name: name.into(),
            namespace: "default".into(),
        },
    }
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
    let in_ns = |verb: &str, ns: &str| Attributes {
        verb: verb.into(),
        target: Target::Resource {
            api_group: String::new(),
            resource: "pods".into(),
            subresource: String::new(),
            name: String::new(),
            namespace: ns.into(),
        },
    };
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
    let on = |verb: &str, group: &str, resource: &str, name: &str, namespace: &str| Attributes {
        verb: verb.into(),
        target: Target::Resource {
            api_group: group.into(),
            resource: resource.into(),
            subresource: String::new(),
            name: name.into(),
            namespace: namespace.into(),
        },
    };
    let accounts =
        ["system:serviceaccounts".to_owned(), "system:serviceaccounts:kube-system".to_owned()];
    let cleaner =
        Identity { name: "system:serviceaccount:kube-system:token-cleaner", groups: &accounts };
    assert!(policy.authorize(cleaner, &on("delete", "", "secrets", "t", "kube-system")).allowed);
    assert!(!policy.authorize(cleaner, &on("delete", "", "secrets", "t", "default")).allowed);
    assert!(!policy.authorize(cleaner, &on("create", "", "secrets", "", "kube-system")).allowed);
    let signer =
        Identity { name: "system:serviceaccount:kube-system:bootstrap-signer", groups: &accounts };
    assert!(
        policy
            .authorize(signer, &on("update", "", "configmaps", "cluster-info", "kube-public"))
            .allowed
    );
    assert!(
        !policy.authorize(signer, &on("update", "", "configmaps", "other", "kube-public")).allowed
    );
    let no_groups: [String; 0] = [];
    let scheduler = Identity { name: "system:kube-scheduler", groups: &no_groups };
    let lease =
        |verb: &str| on(verb, "coordination.k8s.io", "leases", "kube-scheduler", "kube-system");
    assert!(policy.authorize(scheduler, &lease("update")).allowed);
    assert!(!policy.authorize(scheduler, &lease("delete")).allowed);
    let reader = on("get", "", "configmaps", "extension-apiserver-authentication", "kube-system");
    assert!(policy.authorize(scheduler, &reader).allowed);
    let stranger = Identity { name: "someone", groups: &no_groups };
    assert!(!policy.authorize(stranger, &reader).allowed);
}
