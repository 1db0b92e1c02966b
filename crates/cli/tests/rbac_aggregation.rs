//! The ClusterRole aggregation controller through a real `berth server` and the real kubectl:
//! a ClusterRole labelled `aggregate-to-view` joins `view` (and leaves it when deleted), and
//! a user bound to `view` gets what it grants.

use std::time::Duration;

use berth_testkit::kubectl::{BerthProcess, Kubectl};

const WIDGET_READER: &str = "apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: widget-reader
  labels: {rbac.authorization.k8s.io/aggregate-to-view: 'true'}
rules:
- {apiGroups: [example.com], resources: [widgets], verbs: [get]}
";
const RULE: &str = r#"{"apiGroups":["example.com"],"resources":["widgets"],"verbs":["get"]}"#;

/// Waits (at most 15 s) until `view`'s rules do (or do not) contain the widgets rule.
async fn view_has_widgets(kubectl: &Kubectl, wanted: bool) -> String {
    let mut rules = String::new();
    for _ in 0..150 {
        rules = kubectl.ok(&["get", "clusterrole", "view", "-o", "jsonpath={.rules}"]).await;
        if rules.contains(RULE) == wanted {
            return rules;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("view's rules did not become {wanted} for widgets in 15 s: {rules}");
}

/// Whether `user` may get widgets.example.com, by a SubjectAccessReview through kubectl.
/// (`kubectl auth can-i get widgets.example.com` would ask about a resource named
/// `widgets.example.com` in the core group: kubectl sends the group only for resources
/// discovery lists, and berth, like a cluster without the CRD, lists no widgets.)
async fn may_get_widgets(kubectl: &Kubectl, user: &str) -> String {
    let review = format!(
        "apiVersion: authorization.k8s.io/v1
kind: SubjectAccessReview
spec:
  user: {user}
  resourceAttributes: {{group: example.com, resource: widgets, verb: get, namespace: default}}
"
    );
    let args = ["create", "-f", "-", "-o", "jsonpath={.status.allowed}"];
    let (ok, stdout, stderr) = kubectl.run_with_stdin(&args, &review).await;
    assert!(ok, "{stderr}");
    stdout
}

#[tokio::test]
async fn a_labelled_cluster_role_joins_view_and_leaves_it() {
    let dir = tempfile::tempdir().unwrap();
    let berth =
        BerthProcess::start(env!("CARGO_BIN_EXE_berth").as_ref(), &dir.path().join("data"), &[])
            .await;
    let Some(kubectl) = Kubectl::new(&berth.kubeconfig()) else { return };

    // The controller filled the bootstrap aggregated roles: view holds
    // system:aggregate-to-view's rules, edit view's and its own, admin all three.
    let rules = view_has_widgets(&kubectl, false).await;
    assert!(rules.contains(r#""resources":["namespaces"]"#), "{rules}");
    let can_i = |user: &'static str, verb: &'static str, resource: &'static str| {
        let kubectl = &kubectl;
        async move {
            let (_, stdout, _) =
                kubectl.run(&["auth", "can-i", verb, resource, &format!("--as={user}")]).await;
            stdout
        }
    };
    kubectl
        .ok(&["create", "clusterrolebinding", "jane-views", "--clusterrole=view", "--user=jane"])
        .await;
    kubectl.ok(&["create", "rolebinding", "ed-edits", "--clusterrole=edit", "--user=ed"]).await;
    kubectl.ok(&["create", "rolebinding", "ada-admins", "--clusterrole=admin", "--user=ada"]).await;
    assert_eq!(can_i("jane", "list", "pods").await, "yes\n");
    assert_eq!(may_get_widgets(&kubectl, "jane").await, "false");
    assert_eq!(can_i("ed", "create", "pods").await, "yes\n");
    assert_eq!(can_i("ed", "create", "roles").await, "no\n");
    assert_eq!(can_i("ada", "create", "roles").await, "yes\n");

    // A user's role labelled aggregate-to-view joins view, and through edit's and admin's
    // selectors those too.
    // (`kubectl create clusterrole` refuses resources discovery does not list, so the role
    // comes from a manifest, as a CRD's chart would ship it.)
    kubectl.apply(WIDGET_READER).await;
    let rules = view_has_widgets(&kubectl, true).await;
    assert!(rules.ends_with(&format!("{RULE}]")), "the last role by name comes last: {rules}");
    assert_eq!(may_get_widgets(&kubectl, "jane").await, "true");
    let mut ok = false;
    for _ in 0..150 {
        if may_get_widgets(&kubectl, "ada").await == "true" {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ok, "admin did not get the widgets rule through edit in 15 s");
    // The controller writes by server-side apply under its own field manager.
    let managers = kubectl
        .ok(&[
            "get",
            "clusterrole",
            "view",
            "--show-managed-fields",
            "-o",
            "jsonpath={.metadata.managedFields[*].manager}",
        ])
        .await;
    assert!(managers.contains("clusterrole-aggregation-controller"), "{managers}");

    // Deleting the labelled role takes its rule out again.
    kubectl.ok(&["delete", "clusterrole", "widget-reader"]).await;
    view_has_widgets(&kubectl, false).await;
    assert_eq!(may_get_widgets(&kubectl, "jane").await, "false");
    assert_eq!(can_i("jane", "list", "pods").await, "yes\n");
    berth.stop().await;
}

/// Without the controller (`--controllers=-clusterrole-aggregation`), as in a Kubernetes
/// cluster without it, `view` stays as kube-apiserver created it: no rules.
#[tokio::test]
async fn without_the_controller_view_has_no_rules() {
    let dir = tempfile::tempdir().unwrap();
    let berth = BerthProcess::start(
        env!("CARGO_BIN_EXE_berth").as_ref(),
        &dir.path().join("data"),
        &["--controllers", "*,-clusterrole-aggregation"],
    )
    .await;
    let Some(kubectl) = Kubectl::new(&berth.kubeconfig()) else { return };
    // Give a controller that should not run the time it would need.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let rules = kubectl.ok(&["get", "clusterrole", "view", "-o", "jsonpath={.rules}"]).await;
    assert_eq!(rules, "");
    let selector = kubectl
        .ok(&[
            "get",
            "clusterrole",
            "view",
            "-o",
            "jsonpath={.aggregationRule.clusterRoleSelectors}",
        ])
        .await;
    assert_eq!(
        selector,
        r#"[{"matchLabels":{"rbac.authorization.k8s.io/aggregate-to-view":"true"}}]"#
    );
    berth.stop().await;
}
