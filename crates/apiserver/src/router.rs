//! The router: every route the server answers and the middleware stack around them.
//!
//! Unauthenticated clients reach only `/version` and the health endpoints (`auth.rs` decides);
//! everything else needs credentials, and permission (`authz.rs`). Paths no route serves get a
//! 404 `Status`, methods a route does not serve a 405 `Status`.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRef, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use berth_store::Store;
use serde::Serialize;

use crate::auth::{self, Authenticator};
use crate::authz;
use crate::metrics::{self, Metrics};
use crate::status::Status;
use crate::{body, discovery, oidc, openapi, resources};

/// How long readiness waits for the store.
const READY_TIMEOUT: Duration = Duration::from_secs(5);

/// What handlers share. Handlers take the part they need (`State<Arc<dyn Store>>`, …).
#[derive(Clone, Debug)]
pub(crate) struct AppState {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) metrics: Arc<Metrics>,
    /// Changes when the server stops: open watches end then instead of holding shutdown up.
    pub(crate) stopping: tokio::sync::watch::Receiver<()>,
    /// Where Service cluster IPs come from.
    pub(crate) service_cidr: crate::allocator::ServiceCidr,
    /// The `MaxUnavailableStatefulSet` feature gate.
    pub(crate) max_unavailable_statefulset: bool,
    /// Signs the tokens `serviceaccounts/token` issues.
    pub(crate) signing_key: Arc<crate::tokens::SigningKey>,
    /// Authenticates bearer tokens: every request's, and the ones TokenReviews ask about.
    pub(crate) authenticator: Arc<Authenticator>,
    /// The OIDC discovery documents of the service-account issuer (`oidc.rs`).
    pub(crate) openid: Arc<crate::oidc::Documents>,
    /// The objects written last, decoded (`decoded.rs`).
    pub(crate) decoded: Arc<crate::decoded::Decoded>,
    /// Authorizes every authenticated request (`rbac.rs`).
    pub(crate) authorizer: Arc<crate::rbac::Authorizer>,
    /// The namespaces and ServiceAccounts admission reads (`admission.rs`).
    pub(crate) listers: Arc<crate::admission::Listers>,
    /// The CRDs and the custom resources they serve (`crds.rs`).
    pub(crate) crds: Arc<crate::crds::Crds>,
}

impl FromRef<AppState> for Arc<dyn Store> {
    fn from_ref(state: &AppState) -> Self {
        state.store.clone()
    }
}

impl FromRef<AppState> for Arc<crate::crds::Crds> {
    fn from_ref(state: &AppState) -> Self {
        state.crds.clone()
    }
}

impl FromRef<AppState> for Arc<Metrics> {
    fn from_ref(state: &AppState) -> Self {
        state.metrics.clone()
    }
}

/// The whole application, ready to serve requests that carry an `auth::Peer` extension.
pub(crate) fn router(state: AppState) -> Router {
    let metrics = state.metrics.clone();
    let authenticator = state.authenticator.clone();
    let authorizer = state.authorizer.clone();
    Router::new()
        .route("/version", get(version))
        .route("/healthz", get(ready))
        .route("/readyz", get(ready))
        .route("/livez", get(live))
        .route("/metrics", get(metrics::serve))
        .merge(discovery::routes())
        .merge(openapi::routes())
        .merge(oidc::routes())
        .fallback(resources::serve)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        .layer(DefaultBodyLimit::disable())
        .layer(axum::middleware::from_fn(body::limit))
        .layer(axum::middleware::from_fn_with_state(authorizer, authz::authorize))
        .layer(axum::middleware::from_fn_with_state(authenticator, auth::authenticate))
        .layer(axum::middleware::from_fn_with_state(metrics, metrics::observe))
}

/// `version.Info` as kube-apiserver v1.33 serves it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct VersionInfo {
    major: &'static str,
    minor: &'static str,
    emulation_major: &'static str,
    emulation_minor: &'static str,
    min_compatibility_major: &'static str,
    min_compatibility_minor: &'static str,
    git_version: &'static str,
    git_commit: &'static str,
    git_tree_state: &'static str,
    build_date: &'static str,
    go_version: &'static str,
    compiler: &'static str,
    platform: String,
}

/// The Kubernetes version served, with berth's own version as semver build metadata (as k3s
/// does: `v1.33.1+k3s1`), so clients comparing versions see plain v1.33.0.
const GIT_VERSION: &str = concat!("v1.33.0+berth.", env!("CARGO_PKG_VERSION"));

fn version_info() -> VersionInfo {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    VersionInfo {
        major: "1",
        // The kubectl dispatcher on PATH runs `kubectl.1.<minor>`.
        minor: "33",
        emulation_major: "1",
        emulation_minor: "33",
        min_compatibility_major: "1",
        min_compatibility_minor: "32",
        git_version: GIT_VERSION,
        // Set at build time by release builds; there is no build script to ask git.
        git_commit: option_env!("BERTH_GIT_COMMIT").unwrap_or("unknown"),
        git_tree_state: "clean",
        build_date: option_env!("BERTH_BUILD_DATE").unwrap_or("1970-01-01T00:00:00Z"),
        go_version: "n/a",
        compiler: "rustc",
        platform: format!("{}/{arch}", std::env::consts::OS),
    }
}

async fn version() -> Response {
    axum::Json(version_info()).into_response()
}

/// `/livez`: the process answers.
async fn live() -> Response {
    text(StatusCode::OK, "ok")
}

/// `/readyz` and `/healthz`: the store answers too.
async fn ready(State(store): State<Arc<dyn Store>>) -> Response {
    match tokio::time::timeout(READY_TIMEOUT, store.current_revision()).await {
        Ok(Ok(_)) => text(StatusCode::OK, "ok"),
        Ok(Err(error)) => {
            tracing::warn!(%error, "not ready: the store failed");
            not_ready()
        }
        Err(_) => {
            tracing::warn!(timeout = ?READY_TIMEOUT, "not ready: the store did not answer");
            not_ready()
        }
    }
}

/// kube-apiserver's answer for a failed check; the reason is logged, not sent.
fn not_ready() -> Response {
    text(
        StatusCode::INTERNAL_SERVER_ERROR,
        "[+]ping ok\n[-]store failed: reason withheld\nreadyz check failed\n",
    )
}

fn text(code: StatusCode, body: &'static str) -> Response {
    (code, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response()
}

async fn method_not_allowed() -> Status {
    Status::method_not_allowed()
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use http_body_util::BodyExt as _;
    use tower::ServiceExt as _;

    use super::*;
    use crate::auth::{Peer, User};

    fn app() -> Router {
        let store: Arc<dyn Store> = Arc::new(berth_store::MemoryStore::new());
        let key = crate::tokens::SigningKey::generate().unwrap();
        let signing_key = Arc::new(crate::tokens::SigningKey::from_pkcs8(&key).unwrap());
        let token = "secret-token-0123456789abcdef0123".to_owned();
        let authenticator = Arc::new(Authenticator::new(token, store.clone(), signing_key.clone()));
        let listen = "127.0.0.1:6443".parse().unwrap();
        let state = AppState {
            metrics: Arc::new(Metrics::default()),
            stopping: tokio::sync::watch::channel(()).1,
            service_cidr: crate::allocator::ServiceCidr::DEFAULT,
            max_unavailable_statefulset: false,
            openid: Arc::new(crate::oidc::Documents::new(&signing_key, listen)),
            signing_key,
            authorizer: crate::rbac::Authorizer::new(store.clone()),
            listers: crate::admission::Listers::new(&store),
            crds: crate::crds::Crds::new(store.clone()),
            store,
            authenticator,
            decoded: Arc::default(),
        };
        router(state)
    }

    /// Sends `request` as a client with a verified admin certificate (or none).
    async fn send(app: &Router, method: &str, path: &str, admin: bool) -> (StatusCode, String) {
        let peer = Peer {
            user: admin.then(|| User {
                name: "admin".into(),
                uid: None,
                groups: vec![crate::rbac::MASTERS.into()],
                extra: vec![],
            }),
        };
        let mut request = Request::builder().method(method).uri(path).body(Body::empty()).unwrap();
        request.extensions_mut().insert(peer);
        let response = app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8(bytes.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn version_is_1_33_with_semver_build_metadata() {
        let (status, body) = send(&app(), "GET", "/version", false).await;
        assert_eq!(status, StatusCode::OK);
        let info: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(info["major"], "1");
        assert_eq!(info["minor"], "33");
        let git_version = info["gitVersion"].as_str().unwrap();
        assert!(git_version.starts_with("v1.33.0+berth."), "{git_version}");
        assert!(info["platform"].as_str().unwrap().starts_with("linux/"));
    }

    #[tokio::test]
    async fn health_is_open_and_everything_else_is_not() {
        let app = app();
        for path in ["/livez", "/readyz", "/healthz"] {
            assert_eq!(send(&app, "GET", path, false).await, (StatusCode::OK, "ok".into()));
        }
        let (status, body) = send(&app, "GET", "/metrics", false).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(body.contains(r#""reason":"Unauthorized""#), "{body}");
    }

    #[tokio::test]
    async fn unknown_paths_and_methods_get_status_bodies() {
        let app = app();
        let (status, body) = send(&app, "GET", "/nope", true).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(body.contains(r#""reason":"NotFound""#), "{body}");
        let (status, body) = send(&app, "DELETE", "/version", true).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
        assert!(body.contains(r#""reason":"MethodNotAllowed""#), "{body}");
    }

    #[tokio::test]
    async fn metrics_count_every_request_including_refused_ones() {
        let app = app();
        send(&app, "GET", "/version", false).await;
        send(&app, "GET", "/api/v1/pods", false).await;
        let (status, body) = send(&app, "GET", "/metrics", true).await;
        assert_eq!(status, StatusCode::OK);
        let version = r#"apiserver_request_total{verb="GET",dry_run="",group="",version="",resource="",subresource="/version",scope="",component="apiserver",code="200"} 1"#;
        assert!(body.contains(version), "{body}");
        let pods = r#"apiserver_request_total{verb="LIST",dry_run="",group="",version="v1",resource="pods",subresource="",scope="cluster",component="apiserver",code="401"} 1"#;
        assert!(body.contains(pods), "{body}");
    }
}
