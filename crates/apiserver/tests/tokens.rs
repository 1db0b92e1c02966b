//! Service-account tokens through the real kubectl: `kubectl create token` (TokenRequest) with
//! its defaults, `--duration`, `--audience` and bound objects and kube-apiserver's errors; the
//! token as a bearer credential (`kubectl auth whoami`, reads), and the 401s for a tampered,
//! expired, foreign-audience or revoked (account or bound pod deleted) token. TokenReviews
//! (raw and through `kubectl create -f`) with kube-apiserver's answers and errors, and the
//! issuer's OIDC discovery documents, whose key set verifies a token's signature.

mod common;

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{Kubectl, raw, start, token_kubeconfig};
use rustls::pki_types::PrivatePkcs8KeyDer;
use rustls::pki_types::pem::PemObject as _;
use serde_json::{Value, json};

const ISSUER: &str = "https://kubernetes.default.svc.cluster.local";
const UNAUTHORIZED: &str = r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}"#;

/// A running API server with kubectl and the admin kubeconfig; `None` when kubectl is missing
/// (`Kubectl::new` decides whether that is a skip or a failure).
struct Served {
    kubectl: Kubectl,
    /// Holds the data dir: dropped, it is removed.
    dir: tempfile::TempDir,
    data_dir: PathBuf,
    server: berth_apiserver::ApiServer,
    addr: std::net::SocketAddr,
    admin: PathBuf,
}

async fn served() -> Option<Served> {
    let kubectl = Kubectl::new()?;
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let server = start(&data_dir).await;
    let addr = server.local_addr();
    let admin = server.kubeconfig_path().to_owned();
    Some(Served { kubectl, dir, data_dir, server, addr, admin })
}

/// The claims of a JWT, unverified.
fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT has three parts");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url")).expect("JSON")
}

/// Signs `claims` with the server's own service-account key, as the server would.
fn sign(data_dir: &Path, claims: &Value) -> String {
    let pem = std::fs::read(data_dir.join("pki/sa.key")).unwrap();
    let der = PrivatePkcs8KeyDer::from_pem_slice(&pem).unwrap();
    let rng = ring::rand::SystemRandom::new();
    let key = ring::signature::EcdsaKeyPair::from_pkcs8(
        &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        der.secret_pkcs8_der(),
        &rng,
    )
    .unwrap();
    let encode = |value: &Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap());
    let input = format!("{}.{}", encode(&json!({"alg": "ES256"})), encode(claims));
    let signature = key.sign(&rng, input.as_bytes()).unwrap();
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_create_token_issues_tokens_that_authenticate_until_revoked() {
    let Some(Served { kubectl, dir, data_dir, server, addr, admin }) = served().await else {
        return;
    };

    // The API server alone runs no serviceaccount controller: make the account.
    assert_eq!(
        kubectl.ok(&admin, &["create", "serviceaccount", "default"]).await,
        "serviceaccount/default created\n"
    );
    let account_uid =
        kubectl.ok(&admin, &["get", "sa", "default", "-o", "jsonpath={.metadata.uid}"]).await;

    // Defaults: an hour, the API server's audience, claims shaped like Kubernetes'.
    let token = kubectl.ok(&admin, &["create", "token", "default"]).await;
    // kubectl prints the token alone, without a newline.
    assert!(!token.is_empty() && !token.contains(char::is_whitespace), "{token:?}");
    let issued = claims(&token);
    assert_eq!(issued["iss"], ISSUER);
    assert_eq!(issued["sub"], "system:serviceaccount:default:default");
    assert_eq!(issued["aud"], json!([ISSUER]));
    let lifetime = |c: &Value| c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap();
    assert_eq!(lifetime(&issued), 3600);
    assert_eq!(issued["nbf"], issued["iat"]);
    assert_eq!(
        issued["kubernetes.io"],
        json!({"namespace": "default", "serviceaccount": {"name": "default", "uid": account_uid}})
    );
    assert_eq!(issued["jti"].as_str().unwrap().len(), 36);

    let ten_minutes =
        kubectl.ok(&admin, &["create", "token", "default", "--duration", "10m"]).await;
    assert_eq!(lifetime(&claims(ten_minutes.trim())), 600);

    // kube-apiserver's refusals, as kubectl prints them.
    let (ok, stdout, stderr) =
        kubectl.run(&admin, &["create", "token", "default", "--duration", "5m"]).await;
    assert!(!ok && stdout.is_empty(), "{stdout}");
    assert_eq!(
        stderr,
        "error: failed to create token: TokenRequest.authentication.k8s.io \"\" is invalid: \
         spec.expirationSeconds: Invalid value: 300: may not specify a duration less than 10 minutes\n"
    );
    let (ok, _, stderr) = kubectl.run(&admin, &["create", "token", "nope"]).await;
    assert!(!ok);
    assert_eq!(stderr, "error: failed to create token: serviceaccounts \"nope\" not found\n");

    // The token is a credential: whoami for anyone, reads once RBAC grants them.
    kubectl
        .ok(
            &admin,
            &[
                "create",
                "rolebinding",
                "robot-views",
                "--clusterrole=system:aggregate-to-view",
                "--serviceaccount=default:default",
            ],
        )
        .await;
    let robot = token_kubeconfig(dir.path(), "robot.yaml", addr, &token);
    let whoami = kubectl.ok(&robot, &["auth", "whoami"]).await;
    let rows: Vec<Vec<&str>> = whoami.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows[0], ["ATTRIBUTE", "VALUE"], "{whoami}");
    assert_eq!(rows[1], ["Username", "system:serviceaccount:default:default"], "{whoami}");
    assert_eq!(rows[2], ["UID", account_uid.as_str()], "{whoami}");
    assert_eq!(
        rows[3],
        [
            "Groups",
            "[system:serviceaccounts",
            "system:serviceaccounts:default",
            "system:authenticated]"
        ],
        "{whoami}"
    );
    assert_eq!(rows[4][..2], ["Extra:", "authentication.kubernetes.io/credential-id"], "{whoami}");
    let sa = kubectl.ok(&robot, &["get", "sa", "default", "-o", "name"]).await;
    assert_eq!(sa, "serviceaccount/default\n");
    let admin_whoami = kubectl.ok(&admin, &["auth", "whoami"]).await;
    assert!(admin_whoami.contains("admin") && admin_whoami.contains("system:masters"));

    // Refused: a tampered token, another audience, an expired one.
    let bearer = |token: &str| format!("Bearer {token}");
    let status = |token: String| {
        let data_dir = data_dir.clone();
        async move {
            let header = bearer(&token);
            raw(
                &data_dir,
                addr,
                "GET /api/v1/namespaces/default/serviceaccounts",
                &[("Authorization", header.as_str())],
            )
            .await
        }
    };
    assert_eq!(status(token.clone()).await.0, 200);
    let mut tampered = claims(&token);
    tampered["sub"] = json!("system:serviceaccount:kube-system:default");
    let parts: Vec<&str> = token.split('.').collect();
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&tampered).unwrap()),
        parts[2]
    );
    assert_eq!(status(forged).await, (401, UNAUTHORIZED.to_owned()));
    let forged_kubeconfig = token_kubeconfig(dir.path(), "forged.yaml", addr, &format!("{token}x"));
    let (ok, _, stderr) = kubectl.run(&forged_kubeconfig, &["get", "sa"]).await;
    assert!(!ok);
    assert!(
        stderr.contains("error: You must be logged in to the server (Unauthorized)"),
        "{stderr}"
    );

    let vault = kubectl.ok(&admin, &["create", "token", "default", "--audience", "vault"]).await;
    assert_eq!(claims(vault.trim())["aud"], json!(["vault"]));
    assert_eq!(status(vault.trim().to_owned()).await.0, 401);

    // Tokens signed here with the server's key: valid ones work, so the expired one fails
    // for its expiry alone.
    let now = issued["iat"].as_i64().unwrap();
    let mut fresh = issued.clone();
    fresh["jti"] = json!("test");
    assert_eq!(status(sign(&data_dir, &fresh)).await.0, 200);
    let mut expired = fresh.clone();
    expired["iat"] = json!(now - 7200);
    expired["nbf"] = json!(now - 7200);
    expired["exp"] = json!(now - 3600);
    assert_eq!(status(sign(&data_dir, &expired)).await, (401, UNAUTHORIZED.to_owned()));

    // A token bound to a pod carries it, and dies with it.
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "nginx"}]}});
    let (ok, _, stderr) = {
        let manifest = dir.path().join("pod.json");
        std::fs::write(&manifest, pod.to_string()).unwrap();
        kubectl.run(&admin, &["create", "-f", manifest.to_str().unwrap()]).await
    };
    assert!(ok, "{stderr}");
    let pod_uid = kubectl.ok(&admin, &["get", "pod", "p", "-o", "jsonpath={.metadata.uid}"]).await;
    let bound = kubectl
        .ok(
            &admin,
            &[
                "create",
                "token",
                "default",
                "--bound-object-kind",
                "Pod",
                "--bound-object-name",
                "p",
            ],
        )
        .await;
    let bound = bound.trim().to_owned();
    assert_eq!(claims(&bound)["kubernetes.io"]["pod"], json!({"name": "p", "uid": pod_uid}));
    let bound_kubeconfig = token_kubeconfig(dir.path(), "bound.yaml", addr, &bound);
    let whoami = kubectl.ok(&bound_kubeconfig, &["auth", "whoami"]).await;
    assert!(whoami.contains("authentication.kubernetes.io/pod-name"), "{whoami}");
    assert!(whoami.contains(&format!("[{pod_uid}]")), "{whoami}");
    let (ok, _, stderr) = kubectl
        .run(
            &admin,
            &[
                "create",
                "token",
                "default",
                "--bound-object-kind",
                "Pod",
                "--bound-object-name",
                "nope",
            ],
        )
        .await;
    assert!(!ok);
    assert_eq!(stderr, "error: failed to create token: pods \"nope\" not found\n");
    kubectl.ok(&admin, &["create", "serviceaccount", "other"]).await;
    let (ok, _, stderr) = kubectl
        .run(
            &admin,
            &["create", "token", "other", "--bound-object-kind", "Pod", "--bound-object-name", "p"],
        )
        .await;
    assert!(!ok);
    assert_eq!(
        stderr,
        "error: failed to create token: cannot bind token for serviceaccount \"other\" to pod \
         running with different serviceaccount name.\n"
    );
    // An unscheduled pod is deleted at once; its token goes with it.
    kubectl.ok(&admin, &["delete", "pod", "p"]).await;
    assert_eq!(status(bound).await.0, 401);

    // Deleting the account revokes its tokens, and a new account of the same name does not
    // bring them back (another uid).
    assert_eq!(status(token.clone()).await.0, 200);
    kubectl.ok(&admin, &["delete", "sa", "default"]).await;
    assert_eq!(status(token.clone()).await, (401, UNAUTHORIZED.to_owned()));
    kubectl.ok(&admin, &["create", "serviceaccount", "default"]).await;
    assert_eq!(status(token).await.0, 401);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_outlive_a_restart_because_the_signing_key_does() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    // A store that outlives the server, as berth's SQLite file does.
    let store: std::sync::Arc<dyn berth_store::Store> =
        std::sync::Arc::new(berth_store::MemoryStore::new());
    let config =
        || berth_apiserver::ApiServerConfig::new("127.0.0.1:0".parse().unwrap(), data_dir.clone());
    let server = berth_apiserver::start(config(), store.clone()).await.unwrap();
    let admin = format!("Bearer {}", common::token(&data_dir));
    let json_headers = [("Authorization", admin.as_str()), ("Content-Type", "application/json")];
    let account = json!({"apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": {"name": "robot"}});
    let (code, body) = common::raw_with_body(
        &data_dir,
        server.local_addr(),
        "POST /api/v1/namespaces/default/serviceaccounts",
        &json_headers,
        account.to_string().as_bytes(),
    )
    .await;
    assert_eq!(code, 201, "{body}");
    // The account may read namespaces (RBAC grants it `view`'s rules: without the aggregation
    // controller `view` has none, as in Kubernetes, so the binding names the role they come from).
    let binding = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": "robot-views"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:aggregate-to-view"},
        "subjects": [{"kind": "ServiceAccount", "name": "robot", "namespace": "default"}]});
    let (code, body) = common::raw_with_body(
        &data_dir,
        server.local_addr(),
        "POST /apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
        &json_headers,
        binding.to_string().as_bytes(),
    )
    .await;
    assert_eq!(code, 201, "{body}");
    let request = json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
        "spec": {"expirationSeconds": 600}});
    let (code, body) = common::raw_with_body(
        &data_dir,
        server.local_addr(),
        "POST /api/v1/namespaces/default/serviceaccounts/robot/token",
        &json_headers,
        request.to_string().as_bytes(),
    )
    .await;
    assert_eq!(code, 201, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["kind"], "TokenRequest");
    assert_eq!(answer["metadata"]["name"], "robot");
    assert_eq!(answer["spec"], json!({"audiences": [ISSUER], "expirationSeconds": 600}));
    let token = answer["status"]["token"].as_str().unwrap().to_owned();
    let expires = answer["status"]["expirationTimestamp"].as_str().unwrap();
    assert!(expires.ends_with('Z'), "{expires}");
    let key = std::fs::read(data_dir.join("pki/sa.key")).unwrap();
    server.shutdown().await;

    let server = berth_apiserver::start(config(), store).await.unwrap();
    assert_eq!(std::fs::read(data_dir.join("pki/sa.key")).unwrap(), key);
    let bearer = format!("Bearer {token}");
    let (code, body) = raw(
        &data_dir,
        server.local_addr(),
        "GET /api/v1/namespaces",
        &[("Authorization", bearer.as_str())],
    )
    .await;
    assert_eq!(code, 200, "{body}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_bind_to_secrets_and_nodes_and_refuse_what_kubernetes_refuses() {
    let Some(Served { kubectl, dir, data_dir, server, addr, admin }) = served().await else {
        return;
    };
    kubectl.ok(&admin, &["create", "serviceaccount", "robot"]).await;
    kubectl.ok(&admin, &["create", "secret", "generic", "s", "--from-literal=k=v"]).await;
    let node = dir.path().join("node.json");
    std::fs::write(&node, r#"{"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}}"#)
        .unwrap();
    kubectl.ok(&admin, &["create", "-f", node.to_str().unwrap()]).await;
    let uid = |kind: &'static str, name: &'static str| {
        let (kubectl, admin) = (&kubectl, &admin);
        async move { kubectl.ok(admin, &["get", kind, name, "-o", "jsonpath={.metadata.uid}"]).await }
    };
    let (secret_uid, node_uid) = (uid("secret", "s").await, uid("node", "n1").await);
    let bound = |kind: &'static str, name: &'static str| {
        let (kubectl, admin) = (&kubectl, &admin);
        async move {
            let args = ["create", "token", "robot", "--bound-object-kind", kind];
            let args = [&args[..], &["--bound-object-name", name]].concat();
            kubectl.ok(admin, &args).await
        }
    };
    let to_secret = bound("Secret", "s").await;
    assert_eq!(
        claims(&to_secret)["kubernetes.io"]["secret"],
        json!({"name": "s", "uid": secret_uid})
    );
    let to_node = bound("Node", "n1").await;
    assert_eq!(claims(&to_node)["kubernetes.io"]["node"], json!({"name": "n1", "uid": node_uid}));
    let whoami = kubectl
        .ok(&token_kubeconfig(dir.path(), "node.yaml", addr, &to_node), &["auth", "whoami"])
        .await;
    assert!(whoami.contains("authentication.kubernetes.io/node-name"), "{whoami}");
    assert!(whoami.contains("[n1]"), "{whoami}");

    let status = |token: &str| {
        let (data_dir, header) = (data_dir.clone(), format!("Bearer {token}"));
        async move { raw(&data_dir, addr, "GET /api", &[("Authorization", header.as_str())]).await.0 }
    };
    assert_eq!(status(&to_secret).await, 200);
    assert_eq!(status(&to_node).await, 200);
    kubectl.ok(&admin, &["delete", "secret", "s"]).await;
    kubectl.ok(&admin, &["delete", "node", "n1"]).await;
    assert_eq!(status(&to_secret).await, 401);
    assert_eq!(status(&to_node).await, 401);

    // A uid that is not the object's: a conflict, as kube-apiserver words it.
    kubectl.ok(&admin, &["create", "secret", "generic", "s2"]).await;
    let args = ["create", "token", "robot", "--bound-object-kind", "Secret"];
    let args = [&args[..], &["--bound-object-name", "s2", "--bound-object-uid", "wrong"]].concat();
    let (ok, _, stderr) = kubectl.run(&admin, &args).await;
    assert!(!ok);
    assert_eq!(
        stderr,
        "error: failed to create token: Operation cannot be fulfilled on Secret \"s2\": the UID in \
         the bound object reference (wrong) does not match the UID in record. The object might \
         have been deleted and then recreated\n"
    );

    // What kubectl does not let one ask, over HTTP.
    let token = format!("Bearer {}", common::token(&data_dir));
    let post = |body: Value| {
        let (data_dir, token) = (data_dir.clone(), token.clone());
        async move {
            let headers = [("Authorization", token.as_str()), ("Content-Type", "application/json")];
            let path = "POST /api/v1/namespaces/default/serviceaccounts/robot/token";
            common::raw_with_body(&data_dir, addr, path, &headers, body.to_string().as_bytes())
                .await
        }
    };
    let (code, body) = post(json!({"spec": {"boundObjectRef":
        {"kind": "ConfigMap", "apiVersion": "v1", "name": "x"}}}))
    .await;
    assert_eq!(code, 400, "{body}");
    assert!(
        body.contains(r#""message":"cannot bind token to object of type /v1, Kind=ConfigMap""#),
        "{body}"
    );
    let (code, body) = post(json!({"metadata": {"name": "other"}, "spec": {}})).await;
    assert_eq!(code, 422, "{body}");
    assert!(
        body.contains(r#""message":"TokenRequest.authentication.k8s.io \"robot\" is invalid: metadata.name: Invalid value: \"other\": must match the service account name if specified""#),
        "{body}"
    );
    let (code, body) = post(json!({"spec": {"expirationSeconds": 4294967297_i64}})).await;
    assert_eq!(code, 422, "{body}");
    assert!(body.contains("may not specify a duration larger than 2^32 seconds"), "{body}");
    let (code, _) = post(json!({"spec": {"expirationSeconds": 4294967296_i64}})).await;
    assert_eq!(code, 201);
    // GET on the create-only review is not served.
    let (code, body) = raw(
        &data_dir,
        addr,
        "GET /apis/authentication.k8s.io/v1/selfsubjectreviews",
        &[("Authorization", token.as_str())],
    )
    .await;
    assert_eq!(code, 405, "{body}");
    server.shutdown().await;
}

/// A TokenReview of `token` (for `audiences`, unless empty) by the admin: the status code and
/// the answer, parsed.
async fn review(
    data_dir: &Path,
    addr: std::net::SocketAddr,
    token: &str,
    audiences: &[&str],
) -> (u16, Value) {
    let mut spec = json!({"token": token});
    if !audiences.is_empty() {
        spec["audiences"] = json!(audiences);
    }
    let body =
        json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": spec});
    let (code, text) = post_review(data_dir, addr, &body.to_string()).await;
    (code, serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}")))
}

/// POSTs `body` to `tokenreviews` as the admin; the status code and the body's text.
async fn post_review(data_dir: &Path, addr: std::net::SocketAddr, body: &str) -> (u16, String) {
    let admin = format!("Bearer {}", common::token(data_dir));
    let headers = [("Authorization", admin.as_str()), ("Content-Type", "application/json")];
    let path = "POST /apis/authentication.k8s.io/v1/tokenreviews?fieldManager=reviewer";
    common::raw_with_body(data_dir, addr, path, &headers, body.as_bytes()).await
}

/// What a refused review answers: an empty user and kube-apiserver's error, nothing else.
fn refused(error: &str) -> Value {
    json!({"user": {}, "error": error})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_reviews_answer_as_kube_apiserver_does() {
    let Some(Served { kubectl, dir, data_dir, server, addr, admin }) = served().await else {
        return;
    };
    kubectl.ok(&admin, &["create", "serviceaccount", "robot"]).await;
    let uid = kubectl.ok(&admin, &["get", "sa", "robot", "-o", "jsonpath={.metadata.uid}"]).await;
    let token = kubectl.ok(&admin, &["create", "token", "robot"]).await;
    let jti = claims(&token)["jti"].as_str().unwrap().to_owned();

    // A valid token: the account, its groups and uid, the credential id, the audience.
    let (code, answer) = review(&data_dir, addr, &token, &[]).await;
    assert_eq!(code, 201, "{answer}");
    assert_eq!(answer["kind"], "TokenReview");
    assert_eq!(answer["apiVersion"], "authentication.k8s.io/v1");
    assert_eq!(answer["spec"], json!({"token": token}));
    assert_eq!(
        answer["status"],
        json!({
            "authenticated": true,
            "user": {
                "username": "system:serviceaccount:default:robot",
                "uid": uid,
                "groups": ["system:serviceaccounts", "system:serviceaccounts:default", "system:authenticated"],
                "extra": {"authentication.kubernetes.io/credential-id": [format!("JTI={jti}")]},
            },
            "audiences": [ISSUER],
        })
    );
    // Nothing is stored: a zero creation time, and the create's managedFields.
    let metadata = &answer["metadata"];
    assert_eq!(metadata["creationTimestamp"], Value::Null);
    assert!(metadata.get("uid").is_none() && metadata.get("resourceVersion").is_none());
    let managed = &metadata["managedFields"][0];
    assert_eq!(
        (&managed["manager"], &managed["operation"], &managed["apiVersion"]),
        (&json!("reviewer"), &json!("Update"), &json!("authentication.k8s.io/v1"))
    );
    // (kube-apiserver's has no `.` under `f:spec`; berth's creates all mark their structs.)
    let owned: Vec<&String> = managed["fieldsV1"]["f:spec"].as_object().unwrap().keys().collect();
    assert!(owned.contains(&&"f:token".to_owned()) && owned.len() <= 2, "{managed}");

    // The admin token reviews as the admin, for the API server's audience only.
    let admin_token = common::token(&data_dir);
    let (code, answer) = review(&data_dir, addr, &admin_token, &[]).await;
    assert_eq!(code, 201);
    assert_eq!(
        answer["status"],
        json!({"authenticated": true,
            "user": {"username": "admin", "groups": ["system:masters", "system:authenticated"]},
            "audiences": [ISSUER]})
    );
    let (_, answer) = review(&data_dir, addr, &admin_token, &["vault"]).await;
    assert_eq!(answer["status"], refused("invalid bearer token"));

    // Refusals are 201s with kube-apiserver's error, never 401s. A forged payload:
    let mut tampered = claims(&token);
    tampered["sub"] = json!("system:serviceaccount:kube-system:default");
    let parts: Vec<&str> = token.split('.').collect();
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&tampered).unwrap()),
        parts[2]
    );
    let (code, answer) = review(&data_dir, addr, &forged, &[]).await;
    assert_eq!(code, 201, "{answer}");
    assert_eq!(
        answer["status"],
        refused("[invalid bearer token, go-jose/go-jose: error in cryptographic primitive]")
    );
    // The raw answer of a refusal, as Go writes it (`authenticated` false is left out).
    let body = json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
        "spec": {"token": "not-a-jwt"}});
    let (code, text) = post_review(&data_dir, addr, &body.to_string()).await;
    assert_eq!(code, 201);
    assert!(
        text.ends_with(
            r#""spec":{"token":"not-a-jwt"},"status":{"user":{},"error":"invalid bearer token"}}"#
        ),
        "{text}"
    );
    assert!(text.starts_with(r#"{"kind":"TokenReview","apiVersion":"authentication.k8s.io/v1","metadata":{"creationTimestamp":null,"managedFields":["#), "{text}");
    // Signed with another key (its `kid` is not ours).
    let mut header: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    header["kid"] = json!("another-key");
    let other_kid = format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap()),
        parts[1],
        parts[2]
    );
    let (_, answer) = review(&data_dir, addr, &other_kid, &[]).await;
    assert_eq!(
        answer["status"],
        refused("[invalid bearer token, invalid signature, no keys found]")
    );
    // Expired (signed here with the server's key).
    let mut expired = claims(&token);
    let now = expired["iat"].as_i64().unwrap();
    expired["iat"] = json!(now - 7200);
    expired["nbf"] = json!(now - 7200);
    expired["exp"] = json!(now - 3600);
    let (_, answer) = review(&data_dir, addr, &sign(&data_dir, &expired), &[]).await;
    assert_eq!(
        answer["status"],
        refused("[invalid bearer token, service account token has expired]")
    );

    // Audiences: the token must be for one of the review's, else the API server's.
    let vault = kubectl
        .ok(&admin, &["create", "token", "robot", "--audience", "vault", "--audience", "nomad"])
        .await;
    let (_, answer) = review(&data_dir, addr, &vault, &[]).await;
    assert_eq!(
        answer["status"],
        refused(&format!(
            r#"[invalid bearer token, token audiences ["vault" "nomad"] is invalid for the target audiences ["{ISSUER}"]]"#
        ))
    );
    let (_, answer) = review(&data_dir, addr, &vault, &["other"]).await;
    assert_eq!(
        answer["status"]["error"],
        r#"[invalid bearer token, token audiences ["vault" "nomad"] is invalid for the target audiences ["other"]]"#
    );
    // The intersection, in the review's order.
    let (_, answer) = review(&data_dir, addr, &vault, &["nomad", "other", "vault"]).await;
    assert_eq!(answer["status"]["authenticated"], true, "{answer}");
    assert_eq!(answer["status"]["audiences"], json!(["nomad", "vault"]));
    assert_eq!(answer["spec"]["audiences"], json!(["nomad", "other", "vault"]));
    let fields = &answer["metadata"]["managedFields"][0]["fieldsV1"]["f:spec"];
    assert_eq!((&fields["f:audiences"], &fields["f:token"]), (&json!({}), &json!({})));
    let (_, answer) = review(&data_dir, addr, &token, &["vault", ISSUER]).await;
    assert_eq!(answer["status"]["audiences"], json!([ISSUER]));

    // A token bound to a pod names it; it dies with the pod.
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
        "spec": {"serviceAccountName": "robot", "containers": [{"name": "c", "image": "nginx"}]}});
    let manifest = dir.path().join("pod.json");
    std::fs::write(&manifest, pod.to_string()).unwrap();
    kubectl.ok(&admin, &["create", "-f", manifest.to_str().unwrap()]).await;
    let pod_uid = kubectl.ok(&admin, &["get", "pod", "p", "-o", "jsonpath={.metadata.uid}"]).await;
    let args = ["create", "token", "robot", "--bound-object-kind", "Pod"];
    let bound = kubectl.ok(&admin, &[&args[..], &["--bound-object-name", "p"]].concat()).await;
    let (_, answer) = review(&data_dir, addr, &bound, &[]).await;
    let bound_jti = claims(&bound)["jti"].as_str().unwrap().to_owned();
    assert_eq!(
        answer["status"]["user"]["extra"],
        json!({
            "authentication.kubernetes.io/credential-id": [format!("JTI={bound_jti}")],
            "authentication.kubernetes.io/pod-name": ["p"],
            "authentication.kubernetes.io/pod-uid": [pod_uid],
        })
    );
    kubectl.ok(&admin, &["delete", "pod", "p"]).await;
    let (_, answer) = review(&data_dir, addr, &bound, &[]).await;
    assert_eq!(
        answer["status"],
        refused("[invalid bearer token, service account token has been invalidated]")
    );

    // The account gone, then back with another uid.
    kubectl.ok(&admin, &["delete", "sa", "robot"]).await;
    let (_, answer) = review(&data_dir, addr, &token, &[]).await;
    assert_eq!(
        answer["status"],
        refused(r#"[invalid bearer token, serviceaccounts "robot" not found]"#)
    );
    kubectl.ok(&admin, &["create", "serviceaccount", "robot"]).await;
    let new_uid =
        kubectl.ok(&admin, &["get", "sa", "robot", "-o", "jsonpath={.metadata.uid}"]).await;
    let (_, answer) = review(&data_dir, addr, &token, &[]).await;
    assert_eq!(
        answer["status"]["error"],
        format!(
            "[invalid bearer token, service account UID ({new_uid}) does not match claim ({uid})]"
        )
    );

    // Requests kube-apiserver refuses.
    let bad_request = |text: &str, message: &str| {
        let status: Value = serde_json::from_str(text).unwrap();
        assert_eq!(
            (&status["reason"], &status["code"]),
            (&json!("BadRequest"), &json!(400)),
            "{text}"
        );
        assert_eq!(status["message"], message, "{text}");
    };
    for body in [
        json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": ""}}),
        json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview"}),
    ] {
        let (code, text) = post_review(&data_dir, addr, &body.to_string()).await;
        assert_eq!(code, 400, "{text}");
        bad_request(&text, "token is required for TokenReview in authentication");
    }
    let (code, text) = post_review(&data_dir, addr, r#"{"spec": {"token": 7}}"#).await;
    assert_eq!(code, 400);
    bad_request(
        &text,
        "TokenReview in version \"v1\" cannot be handled as a TokenReview: json: cannot unmarshal \
         number into Go struct field TokenReviewSpec.spec.token of type string",
    );
    let admin_header = format!("Bearer {admin_token}");
    let (code, _) = raw(
        &data_dir,
        addr,
        "GET /apis/authentication.k8s.io/v1/tokenreviews",
        &[("Authorization", admin_header.as_str())],
    )
    .await;
    assert_eq!(code, 405);
    // The review itself needs credentials, like every request.
    let (code, text) = common::raw_with_body(
        &data_dir,
        addr,
        "POST /apis/authentication.k8s.io/v1/tokenreviews",
        &[("Content-Type", "application/json")],
        json!({"spec": {"token": token}}).to_string().as_bytes(),
    )
    .await;
    assert_eq!((code, text), (401, UNAUTHORIZED.to_owned()));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_creates_token_reviews() {
    let Some(Served { kubectl, dir, server, admin, .. }) = served().await else { return };
    kubectl.ok(&admin, &["create", "serviceaccount", "robot"]).await;
    let uid = kubectl.ok(&admin, &["get", "sa", "robot", "-o", "jsonpath={.metadata.uid}"]).await;
    let token = kubectl.ok(&admin, &["create", "token", "robot"]).await;
    let manifest = |name: &str, spec: &str| {
        let path = dir.path().join(name);
        let text =
            format!("apiVersion: authentication.k8s.io/v1\nkind: TokenReview\nspec:\n{spec}");
        std::fs::write(&path, text).unwrap();
        path
    };
    let reviewed = manifest("tokenreview.yaml", &format!("  token: {token}\n"));
    let yaml =
        kubectl.ok(&admin, &["create", "-f", reviewed.to_str().unwrap(), "-o", "yaml"]).await;
    let answer: Value = serde_saphyr::from_str(&yaml).unwrap();
    assert_eq!(answer["kind"], "TokenReview", "{yaml}");
    assert_eq!(answer["status"]["authenticated"], true, "{yaml}");
    assert_eq!(answer["status"]["user"]["username"], "system:serviceaccount:default:robot");
    assert_eq!(answer["status"]["user"]["uid"], uid);
    assert_eq!(answer["status"]["audiences"], json!([ISSUER]));
    // kubectl prints the zero creation time and hides managedFields.
    assert!(yaml.contains("\n  creationTimestamp: null\n"), "{yaml}");
    assert!(!yaml.contains("managedFields"), "{yaml}");

    // kubectl asks for strict field validation; the errors are kube-apiserver's.
    let empty = manifest("empty.yaml", "  token: \"\"\n");
    let (ok, _, stderr) = kubectl.run(&admin, &["create", "-f", empty.to_str().unwrap()]).await;
    assert!(!ok);
    assert_eq!(
        stderr,
        format!(
            "Error from server (BadRequest): error when creating \"{}\": token is required for \
             TokenReview in authentication\n",
            empty.display()
        )
    );
    let unknown = manifest("unknown.yaml", &format!("  token: {token}\n  foo: 1\n"));
    let (ok, _, stderr) = kubectl.run(&admin, &["create", "-f", unknown.to_str().unwrap()]).await;
    assert!(!ok);
    assert!(
        stderr.contains(
            r#"TokenReview in version "v1" cannot be handled as a TokenReview: strict decoding error: unknown field "spec.foo""#
        ),
        "{stderr}"
    );
    let vault = manifest("vault.yaml", &format!("  token: {token}\n  audiences: [vault]\n"));
    let yaml = kubectl.ok(&admin, &["create", "-f", vault.to_str().unwrap(), "-o", "yaml"]).await;
    let answer: Value = serde_saphyr::from_str(&yaml).unwrap();
    assert_eq!(
        answer["status"],
        refused(&format!(
            r#"[invalid bearer token, token audiences ["{ISSUER}"] is invalid for the target audiences ["vault"]]"#
        )),
        "{yaml}"
    );
    // Discovery lists the resource as kube-apiserver does: create only, cluster-scoped.
    let resources = kubectl
        .ok(&admin, &["api-resources", "--api-group=authentication.k8s.io", "-o", "wide"])
        .await;
    let row = resources
        .lines()
        .find(|l| l.starts_with("tokenreviews"))
        .unwrap_or_else(|| panic!("{resources}"));
    let columns: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        columns[..4],
        ["tokenreviews", "authentication.k8s.io/v1", "false", "TokenReview"],
        "{row}"
    );
    assert_eq!(columns[4].trim_matches(|c| c == '[' || c == ']'), "create", "{row}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_issuer_discovery_documents_verify_kubectl_tokens() {
    let Some(Served { kubectl, dir: _dir, data_dir, server, addr, admin }) = served().await else {
        return;
    };
    let bearer = format!("Bearer {}", common::token(&data_dir));
    let get = |path: &'static str, authorization: Option<String>| {
        let data_dir = data_dir.clone();
        async move {
            let headers: Vec<(&str, &str)> =
                authorization.iter().map(|value| ("Authorization", value.as_str())).collect();
            let (code, headers, body) =
                common::raw_exchange(&data_dir, addr, &format!("GET {path}"), &headers, &[]).await;
            let header = |name: &str| {
                headers
                    .iter()
                    .find_map(|line| {
                        let (key, value) = line.split_once(':')?;
                        key.eq_ignore_ascii_case(name).then(|| value.trim().to_owned())
                    })
                    .unwrap_or_default()
            };
            (code, header("content-type"), header("cache-control"), body)
        }
    };

    let (code, content_type, cache, body) =
        get("/.well-known/openid-configuration", Some(bearer.clone())).await;
    assert_eq!(
        (code, content_type.as_str(), cache.as_str()),
        (200, "application/json", "public, max-age=3600")
    );
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({
            "issuer": ISSUER,
            "jwks_uri": format!("https://{addr}/openid/v1/jwks"),
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["ES256"],
        })
    );
    let (code, content_type, cache, body) = get("/openid/v1/jwks", Some(bearer.clone())).await;
    assert_eq!(
        (code, content_type.as_str(), cache.as_str()),
        (200, "application/jwk-set+json", "public, max-age=3600")
    );
    let keys: Value = serde_json::from_str(&body).unwrap();
    let jwks = keys["keys"].as_array().unwrap();
    assert_eq!(jwks.len(), 1, "{keys}");
    let jwk = &jwks[0];
    assert_eq!(
        (&jwk["kty"], &jwk["crv"], &jwk["alg"], &jwk["use"]),
        (&json!("EC"), &json!("P-256"), &json!("ES256"), &json!("sig"))
    );
    // As kubectl fetches them too.
    let raw_keys = kubectl.ok(&admin, &["get", "--raw", "/openid/v1/jwks"]).await;
    assert_eq!(serde_json::from_str::<Value>(&raw_keys).unwrap(), keys);
    // Like every path but health and version, they need credentials.
    assert_eq!(get("/openid/v1/jwks", None).await.0, 401);
    assert_eq!(get("/.well-known/openid-configuration", None).await.0, 401);

    // A relying party verifies a token with the key set alone: the kid picks the key, and the
    // point (x, y) checks the ES256 signature.
    kubectl.ok(&admin, &["create", "serviceaccount", "robot"]).await;
    let token = kubectl.ok(&admin, &["create", "token", "robot", "--audience", "vault"]).await;
    let (signing_input, signature) = token.rsplit_once('.').unwrap();
    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD.decode(signing_input.split('.').next().unwrap()).unwrap(),
    )
    .unwrap();
    assert_eq!((&header["alg"], &header["kid"]), (&json!("ES256"), &jwk["kid"]));
    let coordinate = |name: &str| URL_SAFE_NO_PAD.decode(jwk[name].as_str().unwrap()).unwrap();
    let (x, y) = (coordinate("x"), coordinate("y"));
    assert_eq!((x.len(), y.len()), (32, 32));
    let point = [&[4u8][..], &x, &y].concat();
    let key =
        ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_FIXED, &point);
    let signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
    key.verify(signing_input.as_bytes(), &signature).expect("the JWKS key verifies the token");
    assert_eq!(claims(&token)["iss"], ISSUER);
    // A changed payload does not verify.
    let mut tampered = claims(&token);
    tampered["sub"] = json!("system:serviceaccount:kube-system:default");
    let forged_input = format!(
        "{}.{}",
        signing_input.split('.').next().unwrap(),
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&tampered).unwrap())
    );
    assert!(key.verify(forged_input.as_bytes(), &signature).is_err());
    server.shutdown().await;
}
