//! RBAC through the real kubectl: a service account's token is refused (kube-apiserver's 403
//! text) until `kubectl create role` / `create rolebinding` grant it, and only in that
//! namespace; `kubectl auth can-i` (yes/no, `--list`, `--as`), impersonation and its refusal,
//! the RBAC kinds' tables, the bootstrap policy and its reconciliation on restart, validation
//! (`cannot change roleRef`) and escalation prevention.

mod common;

use std::path::PathBuf;

use common::{Kubectl, OnStore, python, raw, start, token_kubeconfig};

/// A running API server, kubectl, the admin kubeconfig and a kubeconfig for the service
/// account `default/robot`; `None` when kubectl is missing.
struct Served {
    kubectl: Kubectl,
    _dir: tempfile::TempDir,
    data_dir: PathBuf,
    server: berth_apiserver::ApiServer,
    admin: PathBuf,
    robot: PathBuf,
}

async fn served() -> Option<Served> {
    let kubectl = Kubectl::new()?;
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let server = start(&data_dir).await;
    let admin = server.kubeconfig_path().to_owned();
    kubectl.ok(&admin, &["create", "serviceaccount", "robot"]).await;
    let token = kubectl.ok(&admin, &["create", "token", "robot"]).await;
    let robot = token_kubeconfig(dir.path(), "robot.yaml", server.local_addr(), &token);
    Some(Served { kubectl, _dir: dir, data_dir, server, admin, robot })
}

const ROBOT: &str = "system:serviceaccount:default:robot";

fn cannot_list_pods(namespace: &str) -> String {
    format!(
        "Error from server (Forbidden): pods is forbidden: User \"{ROBOT}\" cannot list resource \
         \"pods\" in API group \"\" in the namespace \"{namespace}\"\n"
    )
}

/// The rows of a kubectl table, split on runs of spaces.
fn rows(table: &str) -> Vec<Vec<String>> {
    table
        .lines()
        .map(|line| {
            line.split("   ").map(str::trim).filter(|c| !c.is_empty()).map(str::to_owned).collect()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_account_may_do_what_its_bindings_grant_and_nothing_else() {
    let Some(Served { kubectl, _dir, data_dir, server, admin, robot }) = served().await else {
        return;
    };
    kubectl.ok(&admin, &["create", "namespace", "other"]).await;

    // Authenticated but not authorized.
    let (ok, _, stderr) = kubectl.run(&robot, &["get", "pods"]).await;
    assert!(!ok);
    assert_eq!(stderr, cannot_list_pods("default"));
    assert_eq!(
        kubectl.run(&robot, &["auth", "can-i", "list", "pods"]).await,
        (false, "no\n".into(), String::new())
    );
    // Discovery and the self reviews are everyone's (system:discovery, system:basic-user).
    assert!(kubectl.ok(&robot, &["auth", "whoami"]).await.contains(ROBOT));
    let addr = server.local_addr();
    let token = std::fs::read_to_string(&robot).unwrap();
    let token = token.lines().find_map(|l| l.trim().strip_prefix("token: ")).unwrap().to_owned();
    let bearer = format!("Bearer {token}");
    let (code, body) =
        raw(&data_dir, addr, "GET /metrics", &[("Authorization", bearer.as_str())]).await;
    assert_eq!(code, 403);
    assert_eq!(
        body,
        format!(
            r#"{{"kind":"Status","apiVersion":"v1","metadata":{{}},"status":"Failure","message":"forbidden: User \"{ROBOT}\" cannot get path \"/metrics\"","reason":"Forbidden","details":{{}},"code":403}}"#
        )
    );
    assert_eq!(
        raw(&data_dir, addr, "GET /apis", &[("Authorization", bearer.as_str())]).await.0,
        200
    );

    // A Role and a RoleBinding, as kubectl makes them.
    assert_eq!(
        kubectl
            .ok(
                &admin,
                &["create", "role", "pod-reader", "--verb=get,list,watch", "--resource=pods"]
            )
            .await,
        "role.rbac.authorization.k8s.io/pod-reader created\n"
    );
    assert_eq!(
        kubectl
            .ok(
                &admin,
                &[
                    "create",
                    "rolebinding",
                    "robot-reads",
                    "--role=pod-reader",
                    "--serviceaccount=default:robot"
                ]
            )
            .await,
        "rolebinding.rbac.authorization.k8s.io/robot-reads created\n"
    );
    assert_eq!(
        kubectl.run(&robot, &["get", "pods"]).await,
        (true, String::new(), "No resources found in default namespace.\n".into())
    );
    let (ok, _, stderr) = kubectl.run(&robot, &["get", "pods", "-n", "other"]).await;
    assert!(!ok);
    assert_eq!(stderr, cannot_list_pods("other"));
    let (ok, _, stderr) = kubectl.run(&robot, &["delete", "pod", "x"]).await;
    assert!(!ok);
    assert_eq!(
        stderr,
        format!(
            "Error from server (Forbidden): pods \"x\" is forbidden: User \"{ROBOT}\" cannot delete \
             resource \"pods\" in API group \"\" in the namespace \"default\"\n"
        )
    );

    // kubectl auth can-i, as the account and for it.
    assert_eq!(
        kubectl.run(&robot, &["auth", "can-i", "list", "pods"]).await,
        (true, "yes\n".into(), String::new())
    );
    assert_eq!(kubectl.run(&robot, &["auth", "can-i", "delete", "pods"]).await.1, "no\n");
    assert_eq!(
        kubectl.run(&robot, &["auth", "can-i", "list", "pods", "-n", "other"]).await.1,
        "no\n"
    );
    assert_eq!(kubectl.ok(&admin, &["auth", "can-i", "create", "pods"]).await, "yes\n");
    assert_eq!(kubectl.ok(&admin, &["auth", "can-i", "*", "*"]).await, "yes\n");
    let as_robot = format!("--as={ROBOT}");
    assert_eq!(kubectl.ok(&admin, &["auth", "can-i", "list", "pods", &as_robot]).await, "yes\n");
    assert_eq!(
        kubectl.run(&admin, &["auth", "can-i", "list", "pods", &as_robot, "-n", "other"]).await.1,
        "no\n"
    );
    let list = kubectl.ok(&robot, &["auth", "can-i", "--list"]).await;
    let table = rows(&list);
    assert_eq!(table[0], ["Resources", "Non-Resource URLs", "Resource Names", "Verbs"], "{list}");
    assert!(
        table.contains(&vec!["pods".into(), "[]".into(), "[]".into(), "[get list watch]".into()]),
        "{list}"
    );
    assert!(
        table.contains(&vec![
            "selfsubjectaccessreviews.authorization.k8s.io".into(),
            "[]".into(),
            "[]".into(),
            "[create]".into()
        ]),
        "{list}"
    );
    assert!(list.contains("[/api/*]"), "{list}");

    // Impersonation: the admin may; the account may not.
    let (ok, _, stderr) = kubectl.run(&admin, &["get", "pods", "-n", "other", &as_robot]).await;
    assert!(!ok);
    assert_eq!(stderr, cannot_list_pods("other"));
    let whoami = kubectl.ok(&admin, &["auth", "whoami", &as_robot]).await;
    assert!(whoami.contains("system:serviceaccounts:default"), "{whoami}");
    let (ok, _, stderr) =
        kubectl.run(&robot, &["get", "pods", "--as=system:serviceaccount:default:default"]).await;
    assert!(!ok);
    assert_eq!(
        stderr,
        format!(
            "Error from server (Forbidden): serviceaccounts \"default\" is forbidden: User \"{ROBOT}\" \
             cannot impersonate resource \"serviceaccounts\" in API group \"\" in the namespace \"default\"\n"
        )
    );
    let (ok, _, stderr) =
        kubectl.run(&robot, &["get", "pods", "--as=jane", "--as-group=devs"]).await;
    assert!(!ok);
    assert!(stderr.contains(r#"users "jane" is forbidden: User "system:serviceaccount:default:robot" cannot impersonate resource "users" in API group "" at the cluster scope"#), "{stderr}");

    // Tables.
    let wide = kubectl.ok(&admin, &["get", "rolebinding", "-o", "wide"]).await;
    let table = rows(&wide);
    assert_eq!(table[0], ["NAME", "ROLE", "AGE", "USERS", "GROUPS", "SERVICEACCOUNTS"], "{wide}");
    assert_eq!(table[1][..2], ["robot-reads", "Role/pod-reader"], "{wide}");
    assert_eq!(table[1][3..], ["default/robot"], "{wide}");
    let roles = kubectl.ok(&admin, &["get", "clusterroles"]).await;
    let table = rows(&roles);
    assert_eq!(table[0], ["NAME", "CREATED AT"], "{roles}");
    let names: Vec<&str> = table[1..].iter().map(|row| row[0].as_str()).collect();
    for name in [
        "admin",
        "cluster-admin",
        "edit",
        "system:basic-user",
        "system:discovery",
        "system:public-info-viewer",
        "view",
    ] {
        assert!(names.contains(&name), "{name}: {roles}");
    }
    let bindings = kubectl
        .ok(
            &admin,
            &[
                "get",
                "clusterrolebinding",
                "cluster-admin",
                "system:public-info-viewer",
                "-o",
                "wide",
            ],
        )
        .await;
    let table = rows(&bindings);
    assert_eq!(table[1][..2], ["cluster-admin", "ClusterRole/cluster-admin"], "{bindings}");
    assert_eq!(table[1][3..], ["system:masters"], "{bindings}");
    assert_eq!(table[2][3..], ["system:authenticated, system:unauthenticated"], "{bindings}");
    let labels = kubectl
        .ok(
            &admin,
            &[
                "get",
                "clusterrole",
                "view",
                "-o",
                "jsonpath={.metadata.labels.kubernetes\\.io/bootstrapping} {.metadata.annotations}",
            ],
        )
        .await;
    assert_eq!(labels, r#"rbac-defaults {"rbac.authorization.kubernetes.io/autoupdate":"true"}"#);

    // Validation: the role a binding names never changes.
    let (ok, _, stderr) = kubectl
        .run(
            &admin,
            &[
                "patch",
                "rolebinding",
                "robot-reads",
                "--type=merge",
                "-p",
                r#"{"roleRef":{"name":"other"}}"#,
            ],
        )
        .await;
    assert!(!ok);
    assert_eq!(
        stderr,
        "The RoleBinding \"robot-reads\" is invalid: roleRef: Invalid value: \
         rbac.RoleRef{APIGroup:\"rbac.authorization.k8s.io\", Kind:\"Role\", Name:\"other\"}: cannot change roleRef\n"
    );

    // Revoked with the binding.
    kubectl.ok(&admin, &["delete", "rolebinding", "robot-reads"]).await;
    let mut refused = false;
    for _ in 0..50 {
        if !kubectl.run(&robot, &["get", "pods"]).await.0 {
            refused = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(refused, "the binding's deletion did not revoke it");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_and_bindings_cannot_grant_more_than_their_writer_holds() {
    let Some(Served { kubectl, _dir, server, admin, robot, .. }) = served().await else {
        return;
    };
    // The account may write roles and bindings in its namespace, and read pods.
    kubectl
        .ok(
            &admin,
            &[
                "create",
                "role",
                "rbac-writer",
                "--verb=create,get,update,patch",
                "--resource=roles,rolebindings",
            ],
        )
        .await;
    kubectl
        .ok(&admin, &["create", "role", "pod-reader", "--verb=get,list", "--resource=pods"])
        .await;
    for role in ["rbac-writer", "pod-reader"] {
        let binding = format!("robot-{role}");
        let role = format!("--role={role}");
        kubectl
            .ok(
                &admin,
                &["create", "rolebinding", &binding, &role, "--serviceaccount=default:robot"],
            )
            .await;
    }

    // What it holds it may hand on; more it may not.
    assert_eq!(
        kubectl.ok(&robot, &["create", "role", "small", "--verb=get", "--resource=pods"]).await,
        "role.rbac.authorization.k8s.io/small created\n"
    );
    let (ok, _, stderr) = kubectl
        .run(&robot, &["create", "role", "big", "--verb=get,delete", "--resource=pods,secrets"])
        .await;
    assert!(!ok);
    assert_eq!(
        stderr,
        format!(
            "Error from server (Forbidden): roles.rbac.authorization.k8s.io \"big\" is forbidden: user \
             \"{ROBOT}\" (groups=[\"system:serviceaccounts\" \"system:serviceaccounts:default\" \
             \"system:authenticated\"]) is attempting to grant RBAC permissions not currently held:\n\
             {{APIGroups:[\"\"], Resources:[\"pods\"], Verbs:[\"delete\"]}}\n\
             {{APIGroups:[\"\"], Resources:[\"secrets\"], Verbs:[\"get\" \"delete\"]}}\n"
        )
    );
    // Binding a role it holds is fine; binding `admin` is not.
    kubectl
        .ok(
            &robot,
            &[
                "create",
                "rolebinding",
                "small-to-default",
                "--role=small",
                "--serviceaccount=default:default",
            ],
        )
        .await;
    let (ok, _, stderr) = kubectl
        .run(
            &robot,
            &[
                "create",
                "rolebinding",
                "grab",
                "--clusterrole=system:aggregate-to-admin",
                "--serviceaccount=default:robot",
            ],
        )
        .await;
    assert!(!ok);
    assert!(
        stderr.starts_with(&format!(
            "error: failed to create rolebinding: rolebindings.rbac.authorization.k8s.io \"grab\" is \
             forbidden: user \"{ROBOT}\" (groups="
        )),
        "{stderr}"
    );
    // Nor may it widen a role it may update.
    let (ok, _, stderr) = kubectl
        .run(
            &robot,
            &[
                "patch",
                "role",
                "small",
                "--type=json",
                "-p",
                r#"[{"op":"add","path":"/rules/0/verbs/-","value":"delete"}]"#,
            ],
        )
        .await;
    assert!(!ok);
    assert!(
        stderr.contains("is attempting to grant RBAC permissions not currently held"),
        "{stderr}"
    );
    // A binding to a role that does not exist names the role.
    let (ok, _, stderr) = kubectl
        .run(
            &robot,
            &["create", "rolebinding", "dangling", "--role=nope", "--serviceaccount=default:robot"],
        )
        .await;
    assert!(!ok);
    assert_eq!(
        stderr,
        "error: failed to create rolebinding: roles.rbac.authorization.k8s.io \"nope\" not found\n"
    );

    // `bind` and `escalate` lift the checks.
    kubectl
        .ok(
            &admin,
            &[
                "create",
                "clusterrole",
                "binder",
                "--verb=bind,escalate",
                "--resource=clusterroles,roles",
            ],
        )
        .await;
    kubectl
        .ok(
            &admin,
            &[
                "create",
                "rolebinding",
                "robot-binder",
                "--clusterrole=binder",
                "--serviceaccount=default:robot",
            ],
        )
        .await;
    kubectl
        .ok(
            &robot,
            &[
                "create",
                "rolebinding",
                "grab",
                "--clusterrole=system:aggregate-to-admin",
                "--serviceaccount=default:robot",
            ],
        )
        .await;
    kubectl
        .ok(&robot, &["create", "role", "big", "--verb=get,delete", "--resource=pods,secrets"])
        .await;
    server.shutdown().await;
}

/// What the Python client sees as the service account: a 403 `ApiException` with
/// kube-apiserver's Status, then the list once a binding allows it.
const PYTHON_CLIENT: &str = r#"
import json, kubernetes
from kubernetes.client.rest import ApiException
kubernetes.config.load_kube_config()
core = kubernetes.client.CoreV1Api()
try:
    core.list_namespaced_pod("other")
    print("allowed")
except ApiException as e:
    body = json.loads(e.body)
    print(e.status, body["reason"], body["message"])
print(len(core.list_namespaced_pod("default").items))
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_client_is_refused_and_allowed_as_a_service_account() {
    let Some(python) = python() else { return };
    let Some(Served { kubectl, _dir, server, admin, robot, .. }) = served().await else {
        return;
    };
    kubectl
        .ok(
            &admin,
            &[
                "create",
                "rolebinding",
                "robot-views",
                "--clusterrole=system:aggregate-to-view",
                "--serviceaccount=default:robot",
            ],
        )
        .await;
    let output = tokio::process::Command::new(python)
        .args(["-c", PYTHON_CLIENT])
        .env("KUBECONFIG", &robot)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(std::time::Duration::from_secs(120), output)
        .await
        .expect("the Python client finishes")
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(
        stdout,
        format!(
            "403 Forbidden pods is forbidden: User \"{ROBOT}\" cannot list resource \"pods\" in API group \"\" in the namespace \"other\"\n0\n"
        )
    );
    server.shutdown().await;
}

/// A chart's RBAC objects, in the two versions a `kubectl apply` upgrade sees.
fn manifest(verbs: &str, subjects: &str) -> String {
    format!(
        "apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {{name: app, namespace: default}}
rules:
- apiGroups: [\"\"]
  resources: [configmaps]
  verbs: [{verbs}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: app, namespace: default}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: app}}
subjects: [{subjects}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {{name: app-reader}}
rules:
- nonResourceURLs: [\"/healthz\"]
  verbs: [{verbs}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {{name: app-reader}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: app-reader}}
subjects: [{subjects}]
"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rbac_manifests_apply_and_upgrade_like_any_other() {
    let Some(Served { kubectl, _dir, server, admin, .. }) = served().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rbac.yaml");
    let file_arg = file.to_str().unwrap();
    let robot = "{kind: ServiceAccount, name: robot, namespace: default}";
    std::fs::write(&file, manifest("get", robot)).unwrap();
    assert_eq!(
        kubectl.ok(&admin, &["apply", "-f", file_arg]).await,
        "role.rbac.authorization.k8s.io/app created\n\
         rolebinding.rbac.authorization.k8s.io/app created\n\
         clusterrole.rbac.authorization.k8s.io/app-reader created\n\
         clusterrolebinding.rbac.authorization.k8s.io/app-reader created\n"
    );
    // The rules and subjects lists are atomic: an upgrade replaces them.
    let both = format!("{robot}, {{kind: User, name: jane}}");
    std::fs::write(&file, manifest("get, list", &both)).unwrap();
    assert_eq!(
        kubectl.ok(&admin, &["apply", "-f", file_arg]).await,
        "role.rbac.authorization.k8s.io/app configured\n\
         rolebinding.rbac.authorization.k8s.io/app configured\n\
         clusterrole.rbac.authorization.k8s.io/app-reader configured\n\
         clusterrolebinding.rbac.authorization.k8s.io/app-reader configured\n"
    );
    let rules = kubectl.ok(&admin, &["get", "role", "app", "-o", "jsonpath={.rules}"]).await;
    assert_eq!(rules, r#"[{"apiGroups":[""],"resources":["configmaps"],"verbs":["get","list"]}]"#);
    // Defaulted: a User subject's apiGroup.
    let subjects =
        kubectl.ok(&admin, &["get", "rolebinding", "app", "-o", "jsonpath={.subjects}"]).await;
    assert_eq!(
        subjects,
        r#"[{"kind":"ServiceAccount","name":"robot","namespace":"default"},{"apiGroup":"rbac.authorization.k8s.io","kind":"User","name":"jane"}]"#
    );
    assert_eq!(
        kubectl.ok(&admin, &["auth", "can-i", "list", "configmaps", "--as=jane"]).await,
        "yes\n"
    );
    // Server-side apply owns the fields too.
    std::fs::write(&file, manifest("get", robot)).unwrap();
    let applied =
        kubectl.ok(&admin, &["apply", "--server-side", "--force-conflicts", "-f", file_arg]).await;
    assert!(applied.contains("role.rbac.authorization.k8s.io/app serverside-applied"), "{applied}");
    let rules =
        kubectl.ok(&admin, &["get", "clusterrole", "app-reader", "-o", "jsonpath={.rules}"]).await;
    assert_eq!(rules, r#"[{"nonResourceURLs":["/healthz"],"verbs":["get"]}]"#);
    // A namespaced rule cannot name non-resource URLs.
    let bad = "apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: bad}
rules:
- nonResourceURLs: [\"/x\"]
  verbs: []
";
    std::fs::write(&file, bad).unwrap();
    let (ok, _, stderr) = kubectl.run(&admin, &["create", "-f", file_arg]).await;
    assert!(!ok);
    assert_eq!(
        stderr,
        "The Role \"bad\" is invalid: \n\
         * rules[0].verbs: Required value: verbs must contain at least one value\n\
         * rules[0].nonResourceURLs: Invalid value: []string{\"/x\"}: namespaced rules cannot apply to non-resource URLs\n"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subject_access_reviews_answer_for_another_user() {
    let Some(Served { kubectl, _dir, data_dir, server, admin, .. }) = served().await else {
        return;
    };
    kubectl
        .ok(
            &admin,
            &[
                "create",
                "rolebinding",
                "robot-views",
                "--clusterrole=system:aggregate-to-view",
                "--serviceaccount=default:robot",
            ],
        )
        .await;
    let addr = server.local_addr();
    let bearer = format!("Bearer {}", common::token(&data_dir));
    let headers = [("Authorization", bearer.as_str()), ("Content-Type", "application/json")];
    let review = |path: &'static str, spec: serde_json::Value| {
        let (data_dir, headers) = (data_dir.clone(), headers);
        async move {
            let kind = if path.contains("local") {
                "LocalSubjectAccessReview"
            } else {
                "SubjectAccessReview"
            };
            let body = serde_json::json!({"apiVersion": "authorization.k8s.io/v1", "kind": kind, "spec": spec});
            let line = format!("POST {path}");
            let (code, body) = common::raw_with_body(
                &data_dir,
                addr,
                &line,
                &headers,
                body.to_string().as_bytes(),
            )
            .await;
            (code, serde_json::from_str::<serde_json::Value>(&body).unwrap())
        }
    };
    let sar = "/apis/authorization.k8s.io/v1/subjectaccessreviews";
    let list_pods =
        |ns: &str| serde_json::json!({"namespace": ns, "verb": "list", "resource": "pods"});
    let groups =
        ["system:serviceaccounts", "system:serviceaccounts:default", "system:authenticated"];
    let (code, answer) =
        review(sar, serde_json::json!({"user": ROBOT, "groups": groups, "resourceAttributes": list_pods("default")})).await;
    assert_eq!(code, 201, "{answer}");
    assert_eq!(
        answer["status"],
        serde_json::json!({"allowed": true, "reason": "RBAC: allowed by RoleBinding \"robot-views/default\" of ClusterRole \"system:aggregate-to-view\" to ServiceAccount \"robot/default\""})
    );
    assert_eq!(answer["spec"]["user"], ROBOT);
    let (_, answer) =
        review(sar, serde_json::json!({"user": ROBOT, "resourceAttributes": list_pods("other")}))
            .await;
    assert_eq!(answer["status"], serde_json::json!({"allowed": false}));
    let (_, answer) = review(
        sar,
        serde_json::json!({"user": ROBOT, "groups": ["system:authenticated"], "nonResourceAttributes": {"path": "/apis", "verb": "get"}}),
    )
    .await;
    assert_eq!(answer["status"]["allowed"], true);
    let (code, answer) =
        review(sar, serde_json::json!({"resourceAttributes": list_pods("default")})).await;
    assert_eq!(code, 422);
    assert_eq!(
        answer["message"],
        "SubjectAccessReview.authorization.k8s.io \"\" is invalid: spec.user: Invalid value: \"\": at least one of user or group must be specified"
    );
    let (code, answer) = review(sar, serde_json::json!({"user": ROBOT})).await;
    assert_eq!(code, 422);
    assert_eq!(
        answer["message"],
        "SubjectAccessReview.authorization.k8s.io \"\" is invalid: spec.resourceAttributes: Required value: exactly one of nonResourceAttributes or resourceAttributes must be specified"
    );
    let local = "/apis/authorization.k8s.io/v1/namespaces/default/localsubjectaccessreviews";
    let (code, answer) = review(
        local,
        serde_json::json!({"user": ROBOT, "resourceAttributes": list_pods("default")}),
    )
    .await;
    assert_eq!((code, &answer["status"]["allowed"]), (201, &serde_json::json!(true)), "{answer}");
    let (code, answer) =
        review(local, serde_json::json!({"user": ROBOT, "resourceAttributes": list_pods("other")}))
            .await;
    assert_eq!(code, 400, "{answer}");
    // Only create is served.
    let (code, _) = common::raw(&data_dir, addr, &format!("GET {sar}"), &headers[..1]).await;
    assert_eq!(code, 405);
    server.shutdown().await;
}

/// A restart reconciles the bootstrap policy as kube-apiserver's `rbac/bootstrap-roles` hook
/// does: what a user removed from a default role or binding comes back, what they added stays,
/// a default binding pointed at another role is recreated, and an object annotated
/// `autoupdate: "false"` is left as it is. A second restart writes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarts_reconcile_the_bootstrap_policy() {
    use serde_json::{Value, json};

    let Some(kubectl) = Kubectl::new() else { return };
    let mut servers = OnStore::new();
    let server = servers.start().await;
    let config = server.kubeconfig_path().to_owned();
    let get = |kind: &'static str, name: &'static str| {
        let (kubectl, config) = (&kubectl, &config);
        async move {
            let text = kubectl
                .ok(config, &["get", kind, name, "-o", "json", "--show-managed-fields"])
                .await;
            serde_json::from_str::<Value>(&text).unwrap()
        }
    };
    let json_patch = |kind: &'static str, name: &'static str, patch: Value| {
        let (kubectl, config) = (&kubectl, &config);
        async move {
            let patch = patch.to_string();
            kubectl.ok(config, &["patch", kind, name, "--type=json", "-p", &patch]).await;
        }
    };
    let rule = |url: &str| json!({"nonResourceURLs": [url], "verbs": ["get"]});
    let user =
        |name: &str| json!({"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": name});
    let group = |name: &str| json!({"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": name});

    let discovery = get("clusterrole", "system:discovery").await;
    assert!(discovery["rules"][0]["nonResourceURLs"].as_array().unwrap().len() > 2);
    let rules = json!([rule("/api"), rule("/mine")]);
    json_patch(
        "clusterrole",
        "system:discovery",
        json!([{"op": "replace", "path": "/rules", "value": rules}]),
    )
    .await;
    json_patch("clusterrole", "view", json!([{"op": "remove", "path": "/aggregationRule"}])).await;
    let subjects = json!([user("alice")]);
    json_patch(
        "clusterrolebinding",
        "system:basic-user",
        json!([{"op": "replace", "path": "/subjects", "value": subjects}]),
    )
    .await;
    let annotate = [
        "annotate",
        "clusterrolebinding",
        "system:monitoring",
        "rbac.authorization.kubernetes.io/autoupdate=false",
        "--overwrite",
    ];
    kubectl.ok(&config, &annotate).await;
    json_patch(
        "clusterrolebinding",
        "system:monitoring",
        json!([{"op": "remove", "path": "/subjects"}]),
    )
    .await;
    kubectl.ok(&config, &["delete", "clusterrolebinding", "system:public-info-viewer"]).await;
    let repoint = [
        "create",
        "clusterrolebinding",
        "system:public-info-viewer",
        "--clusterrole=view",
        "--group=system:authenticated",
    ];
    kubectl.ok(&config, &repoint).await;
    server.shutdown().await;

    let server = servers.start().await;
    let discovery = get("clusterrole", "system:discovery").await;
    let rules = discovery["rules"].as_array().unwrap();
    assert_eq!(rules[..2], [rule("/api"), rule("/mine")], "what was there stays first");
    assert!(rules.contains(&rule("/version")) && rules.contains(&rule("/apis/*")), "{discovery}");
    assert_eq!(
        rules.iter().filter(|r| **r == rule("/api")).count(),
        1,
        "covered rules are not added"
    );
    let view = get("clusterrole", "view").await;
    assert_eq!(
        view["aggregationRule"],
        json!({"clusterRoleSelectors": [{"matchLabels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}}]})
    );
    let basic = get("clusterrolebinding", "system:basic-user").await;
    assert_eq!(basic["subjects"], json!([user("alice"), group("system:authenticated")]));
    let monitoring = get("clusterrolebinding", "system:monitoring").await;
    assert!(monitoring.get("subjects").is_none(), "protected: {monitoring}");
    let public = get("clusterrolebinding", "system:public-info-viewer").await;
    assert_eq!(public["roleRef"]["name"], "system:public-info-viewer");
    assert_eq!(
        public["subjects"],
        json!([group("system:authenticated"), group("system:unauthenticated")])
    );
    // The reconciling write is the API server's: the subjects (an atomic list) are its now.
    let owners_of_subjects: Vec<&str> = basic["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|entry| entry["fieldsV1"].get("f:subjects").is_some())
        .filter_map(|entry| entry["manager"].as_str())
        .collect();
    assert_eq!(owners_of_subjects, ["kube-apiserver"], "{basic}");
    server.shutdown().await;

    let server = servers.start().await;
    for (kind, name, before) in [
        ("clusterrole", "system:discovery", &discovery),
        ("clusterrole", "view", &view),
        ("clusterrolebinding", "system:basic-user", &basic),
        ("clusterrolebinding", "system:public-info-viewer", &public),
    ] {
        let again = get(kind, name).await;
        assert_eq!(
            again["metadata"]["resourceVersion"], before["metadata"]["resourceVersion"],
            "{name}"
        );
    }
    server.shutdown().await;
}

/// The Roles and RoleBindings kube-apiserver bootstraps in `kube-system` and `kube-public`:
/// listed, granting what they grant to their controllers (and nothing to others), and brought
/// back to the default policy by a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_namespaced_bootstrap_roles_grant_and_are_reconciled() {
    use serde_json::{Value, json};

    let Some(kubectl) = Kubectl::new() else { return };
    let mut servers = OnStore::new();
    let server = servers.start().await;
    let config = server.kubeconfig_path().to_owned();

    let roles = kubectl.ok(&config, &["get", "roles", "-n", "kube-system", "-o", "name"]).await;
    let expected = [
        "extension-apiserver-authentication-reader",
        "system::leader-locking-kube-controller-manager",
        "system::leader-locking-kube-scheduler",
        "system:controller:bootstrap-signer",
        "system:controller:cloud-provider",
        "system:controller:token-cleaner",
    ]
    .map(|name| format!("role.rbac.authorization.k8s.io/{name}\n"))
    .concat();
    assert_eq!(roles, expected);
    let public =
        kubectl.ok(&config, &["get", "rolebindings", "-n", "kube-public", "-o", "name"]).await;
    assert_eq!(
        public,
        "rolebinding.rbac.authorization.k8s.io/system:controller:bootstrap-signer\n"
    );
    let cleaner = "--as=system:serviceaccount:kube-system:token-cleaner";
    let can_i = |namespace: &'static str| {
        let (kubectl, config) = (&kubectl, &config);
        async move {
            let args = ["auth", "can-i", "delete", "secrets", "-n", namespace, cleaner];
            kubectl.run(config, &args).await.1
        }
    };
    assert_eq!(can_i("kube-system").await, "yes\n");
    assert_eq!(can_i("default").await, "no\n");

    let only_events = json!([{"op": "replace", "path": "/rules", "value": [
        {"apiGroups": ["", "events.k8s.io"], "resources": ["events"], "verbs": ["create", "patch", "update"]}
    ]}]);
    let patch = only_events.to_string();
    let role = ["-n", "kube-system", "role", "system:controller:token-cleaner"];
    kubectl.ok(&config, &[&["patch"], &role[..], &["--type=json", "-p", &patch]].concat()).await;
    assert_eq!(can_i("kube-system").await, "no\n");
    server.shutdown().await;

    let server = servers.start().await;
    let text = kubectl.ok(&config, &[&["get"], &role[..], &["-o", "json"]].concat()).await;
    let reconciled: Value = serde_json::from_str(&text).unwrap();
    // What was missing comes back broken down, a rule per verb, as `computeReconciledRole`
    // appends it.
    let secrets =
        |verb: &str| json!({"apiGroups": [""], "resources": ["secrets"], "verbs": [verb]});
    let rules = reconciled["rules"].as_array().unwrap();
    assert_eq!(rules[1..], ["delete", "get", "list", "watch"].map(secrets), "{reconciled}");
    assert_eq!(can_i("kube-system").await, "yes\n");
    server.shutdown().await;
}
