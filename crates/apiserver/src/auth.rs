//! Authentication: a client certificate verified against our CA, the admin bearer token, or a
//! service-account token this server issued (`tokens.rs`).
//!
//! The TLS layer (`server.rs`) verifies client certificates during the handshake and puts the
//! connection's [`Peer`] into every request's extensions; [`authenticate`] turns that, or an
//! `Authorization: Bearer` header, into the request's [`User`]. Health and version endpoints
//! are open to unauthenticated clients, as Kubernetes opens them to `system:unauthenticated`;
//! a wrong token is refused everywhere, as kube-apiserver refuses it. Bearer tokens go through
//! [`Authenticator::authenticate_token`], kube-apiserver's token chain, which TokenReviews
//! (`token_review.rs`) run too, for their own audiences.
//!
//! What a user may do is decided after this, by the authorization layer (`authz.rs`, RBAC in
//! `rbac.rs`): the admin and the in-process clients are in `system:masters` and may do
//! everything; a service account may do what its RoleBindings and ClusterRoleBindings grant.

use std::fmt;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use berth_store::Store;
use serde_json::{Value, json};

use crate::resources::{Context, json_response, read_object};
use crate::status::Status;
use crate::tokens::{self, Authenticated, SigningKey};
use crate::{deletion, x509};

/// The group every authenticated user is in.
pub(crate) const AUTHENTICATED: &str = "system:authenticated";

/// What the TLS handshake established about the connection a request came on.
#[derive(Clone, Debug, Default)]
pub(crate) struct Peer {
    /// The identity in the client certificate, when the client sent one (rustls has verified
    /// it against our CA before the connection got here).
    pub(crate) user: Option<User>,
}

impl Peer {
    /// The peer of a connection whose client presented `certificate` (verified, DER).
    pub(crate) fn from_certificate(certificate: &[u8]) -> Peer {
        let subject = x509::subject(certificate);
        let user = match subject {
            // Kubernetes' x509 authenticator: CN is the user, each O a group.
            Some(subject) if !subject.common_name.is_empty() => {
                let mut groups = subject.organizations;
                groups.push(AUTHENTICATED.into());
                Some(User { name: subject.common_name, uid: None, groups, extra: Vec::new() })
            }
            _ => None,
        };
        Peer { user }
    }
}

/// An authenticated user (`user.Info`), as a request extension for authorization and
/// handlers (after impersonation, the impersonated user).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct User {
    pub(crate) name: String,
    /// Set for service accounts: the account's uid.
    pub(crate) uid: Option<String>,
    pub(crate) groups: Vec<String>,
    /// What the authenticator adds (a token's pod, node and credential id), sorted by key.
    pub(crate) extra: Vec<(String, Vec<String>)>,
}

impl User {
    /// `authentication.k8s.io/v1` `UserInfo`, its fields in Kubernetes' order, empty ones left
    /// out (`omitempty`).
    pub(crate) fn info(&self) -> Value {
        let mut info = serde_json::Map::new();
        info.insert("username".into(), json!(self.name));
        if let Some(uid) = self.uid.as_ref().filter(|uid| !uid.is_empty()) {
            info.insert("uid".into(), json!(uid));
        }
        if !self.groups.is_empty() {
            info.insert("groups".into(), json!(self.groups));
        }
        if !self.extra.is_empty() {
            let extra: serde_json::Map<String, Value> =
                self.extra.iter().map(|(key, values)| (key.clone(), json!(values))).collect();
            info.insert("extra".into(), Value::Object(extra));
        }
        Value::Object(info)
    }
}

/// The credentials the server accepts besides client certificates: kube-apiserver's bearer
/// token chain, the admin token standing where a static token file's would.
pub(crate) struct Authenticator {
    admin_token: String,
    /// Where service accounts and bound objects are looked up.
    store: Arc<dyn Store>,
    /// Verifies service-account tokens.
    signing_key: Arc<SigningKey>,
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the admin token.
        f.debug_struct("Authenticator")
            .field("signing_key", &self.signing_key)
            .finish_non_exhaustive()
    }
}

/// The audiences of the API server itself: what a request's bearer token must be for, and
/// what a TokenReview without `spec.audiences` checks (`--api-audiences`, defaulting to the
/// issuer).
pub(crate) fn api_audiences() -> &'static [String] {
    // Built once: every request with a bearer token checks it.
    static API_AUDIENCES: std::sync::LazyLock<[String; 1]> =
        std::sync::LazyLock::new(|| [tokens::ISSUER.to_owned()]);
    &*API_AUDIENCES
}

/// kube-apiserver's message for a bearer token no authenticator recognises.
const INVALID_BEARER_TOKEN: &str = "invalid bearer token";

/// A bearer token every authenticator refused. `Display` is the error kube-apiserver's
/// authenticator chain reports for it (what a TokenReview puts in `status.error`): the chain
/// starts with the loopback token's authenticator, which refuses any other token as
/// `invalid bearer token`, and aggregates that with the main chain's error, so a
/// service-account token that fails reads `[invalid bearer token, service account token has
/// expired]`, and a token nobody recognises just `invalid bearer token`.
#[derive(Debug)]
pub(crate) struct Refused {
    /// Why the service-account authenticator refused it; `None` when the token is not one.
    service_account: Option<tokens::Rejected>,
}

impl Refused {
    /// Whether the token could not be checked (the store failed), rather than being wrong.
    pub(crate) fn is_internal(&self) -> bool {
        matches!(self.service_account, Some(tokens::Rejected::Store { .. }))
    }
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `utilerrors.NewAggregate`: duplicates once, brackets around two or more.
        match &self.service_account {
            None => f.write_str(INVALID_BEARER_TOKEN),
            Some(rejected) => write!(f, "[{INVALID_BEARER_TOKEN}, {rejected}]"),
        }
    }
}

impl Authenticator {
    pub(crate) fn new(
        admin_token: String,
        store: Arc<dyn Store>,
        signing_key: Arc<SigningKey>,
    ) -> Authenticator {
        Authenticator { admin_token, store, signing_key }
    }

    fn admin(&self, token: &str) -> Option<User> {
        constant_time_eq(token.as_bytes(), self.admin_token.as_bytes()).then(|| User {
            name: "admin".into(),
            uid: None,
            groups: vec!["system:masters".into(), AUTHENTICATED.into()],
            extra: Vec::new(),
        })
    }

    /// Who `token` is, for at least one of `audiences` (kube-apiserver's `tokenunion` of the
    /// token file and the service-account authenticator): the admin, whose token is
    /// audience-agnostic and so valid only for the API server's own audiences
    /// (`WrapAudienceAgnosticToken`), or a service account whose token names one of them.
    pub(crate) async fn authenticate_token(
        &self,
        token: &str,
        audiences: &[String],
    ) -> Result<Authenticated, Refused> {
        if let Some(admin) = self.admin(token) {
            let agnostic = tokens::intersect(api_audiences(), audiences);
            if !agnostic.is_empty() {
                return Ok(Authenticated { user: admin, audiences: agnostic });
            }
        }
        let now = deletion::now();
        match tokens::authenticate(&*self.store, &self.signing_key, token, audiences, now).await {
            Ok(authenticated) => Ok(authenticated),
            Err(tokens::Rejected::NotOurs) => Err(Refused { service_account: None }),
            Err(rejected) => Err(Refused { service_account: Some(rejected) }),
        }
    }

    /// The user a request's bearer token stands for: the admin, or a service account.
    async fn user_for_token(&self, token: &str) -> Option<User> {
        match self.authenticate_token(token, api_audiences()).await {
            Ok(authenticated) => Some(authenticated.user),
            // The client learns nothing either way; a failing store is worth a warning.
            Err(refused) if refused.is_internal() => {
                tracing::warn!(error = ?refused, "a bearer token could not be checked");
                None
            }
            Err(refused) => {
                tracing::debug!(reason = %refused, "a bearer token was refused");
                None
            }
        }
    }
}

/// Paths any client may read without credentials.
fn is_public(path: &str) -> bool {
    ["/healthz", "/livez", "/readyz", "/version"].iter().any(|public| {
        path.strip_prefix(public).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    })
}

/// The middleware: sets the request's [`User`] or answers 401.
pub(crate) async fn authenticate(
    State(authenticator): State<Arc<Authenticator>>,
    mut request: Request,
    next: Next,
) -> Response {
    let bearer = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim);
    let user = match bearer {
        Some(token) => match authenticator.user_for_token(token).await {
            Some(user) => Some(user),
            // kube-apiserver refuses a bad token even where anonymous requests are allowed.
            None => return Status::unauthorized().into_response(),
        },
        None => request.extensions().get::<Peer>().and_then(|peer| peer.user.clone()),
    };
    match user {
        Some(user) => {
            tracing::Span::current().record("user", user.name.as_str());
            request.extensions_mut().insert(user);
        }
        None if is_public(request.uri().path()) => {}
        None => return Status::unauthorized().into_response(),
    }
    next.run(request).await
}

/// `POST /apis/authentication.k8s.io/v1/selfsubjectreviews` (what `kubectl auth whoami` asks):
/// 201 with the requesting user, as kube-apiserver's `selfsubjectreview` REST answers.
pub(crate) async fn self_subject_review(
    cx: &Context,
    user: Option<&User>,
    body: Body,
) -> Result<Response, Status> {
    let review = read_object(cx, body).await?;
    let kind = review.get("kind").and_then(Value::as_str).unwrap_or("SelfSubjectReview");
    if kind != "SelfSubjectReview" {
        return Err(Status::bad_request(format!(
            "the body must be a SelfSubjectReview, not a {kind}"
        )));
    }
    let Some(user) = user else {
        return Err(Status::bad_request("no user present on request"));
    };
    let info = user.info();
    let answer = json!({
        "kind": "SelfSubjectReview",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"creationTimestamp": berth_api::metatime::format_seconds(deletion::now())},
        "status": {"userInfo": info},
    });
    Ok(json_response(StatusCode::CREATED, &answer))
}

/// Compares without an early exit, so the time taken does not reveal the matching prefix.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |difference, (x, y)| difference | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_paths_are_exactly_the_health_and_version_endpoints() {
        for path in ["/healthz", "/livez", "/readyz", "/version", "/readyz/ping", "/livez/"] {
            assert!(is_public(path), "{path}");
        }
        for path in ["/", "/versions", "/healthzz", "/metrics", "/api", "/api/v1/readyz"] {
            assert!(!is_public(path), "{path}");
        }
    }

    #[test]
    fn tokens_compare_whole() {
        let key = SigningKey::from_pkcs8(&SigningKey::generate().unwrap()).unwrap();
        let store: Arc<dyn Store> = Arc::new(berth_store::MemoryStore::new());
        let authenticator = Authenticator::new("abc123".into(), store, Arc::new(key));
        assert!(authenticator.admin("abc123").is_some());
        for wrong in ["abc124", "abc12", "abc1234", ""] {
            assert!(authenticator.admin(wrong).is_none(), "{wrong}");
        }
    }

    #[tokio::test]
    async fn the_admin_token_is_audience_agnostic_and_refusals_read_like_kubernetes() {
        let key = SigningKey::from_pkcs8(&SigningKey::generate().unwrap()).unwrap();
        let store: Arc<dyn Store> = Arc::new(berth_store::MemoryStore::new());
        let authenticator = Authenticator::new("abc123".into(), store, Arc::new(key));
        let api = api_audiences().to_vec();
        let admin = authenticator.authenticate_token("abc123", &api).await.unwrap();
        assert_eq!((admin.user.name.as_str(), admin.audiences), ("admin", api.clone()));
        let both = vec!["vault".to_owned(), tokens::ISSUER.to_owned()];
        let admin = authenticator.authenticate_token("abc123", &both).await.unwrap();
        assert_eq!(admin.audiences, api);
        // Valid only for the API server's own audience; for another it is nobody's token.
        let refused = authenticator.authenticate_token("abc123", &["vault".into()]).await;
        assert_eq!(refused.unwrap_err().to_string(), "invalid bearer token");
        let refused = authenticator.authenticate_token("x.y.z", &api).await.unwrap_err();
        assert_eq!(refused.to_string(), "invalid bearer token");
        assert!(!refused.is_internal());
        let expired = Refused { service_account: Some(tokens::Rejected::Expired) };
        assert_eq!(
            expired.to_string(),
            "[invalid bearer token, service account token has expired]"
        );
    }
}
