//! Authentication: a client certificate verified against our CA, the admin bearer token, or a
//! service-account token this server issued (`tokens.rs`).
//!
//! The TLS layer (`server.rs`) verifies client certificates during the handshake and puts the
//! connection's [`Peer`] into every request's extensions; [`authenticate`] turns that, or an
//! `Authorization: Bearer` header, into the request's [`User`]. Health and version endpoints
//! are open to unauthenticated clients, as Kubernetes opens them to `system:unauthenticated`;
//! a wrong token is refused everywhere, as kube-apiserver refuses it.
//!
//! There is no authorization layer: every authenticated user may do everything, as with
//! kube-apiserver's `--authorization-mode=AlwaysAllow`. A service-account token is therefore
//! as powerful as the admin credentials.

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
use crate::tokens::{self, SigningKey};
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

/// An authenticated user (`user.Info`), as a request extension for handlers (and
/// authorization, later).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct User {
    pub(crate) name: String,
    /// Set for service accounts: the account's uid.
    pub(crate) uid: Option<String>,
    pub(crate) groups: Vec<String>,
    /// What the authenticator adds (a token's pod, node and credential id), sorted by key.
    pub(crate) extra: Vec<(String, Vec<String>)>,
}

/// The credentials the server accepts besides client certificates.
#[derive(Debug)]
pub(crate) struct Authenticator {
    admin_token: String,
    /// Where service accounts and bound objects are looked up.
    store: Arc<dyn Store>,
    /// Verifies service-account tokens.
    signing_key: Arc<SigningKey>,
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

    /// The user a bearer token stands for: the admin, or a service account.
    async fn user_for_token(&self, token: &str) -> Option<User> {
        if let Some(admin) = self.admin(token) {
            return Some(admin);
        }
        let now = deletion::now();
        match tokens::authenticate(&*self.store, &self.signing_key, token, now).await {
            Ok(user) => Some(user),
            // The client learns nothing either way; a failing store is worth a warning.
            Err(reason @ tokens::Rejected::Store { .. }) => {
                tracing::warn!(error = ?reason, "a service account token could not be checked");
                None
            }
            Err(reason) => {
                tracing::debug!(%reason, "a bearer token was refused");
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
    let mut info = json!({"username": user.name, "groups": user.groups});
    if let Some(uid) = &user.uid {
        info["uid"] = json!(uid);
    }
    if !user.extra.is_empty() {
        let extra: serde_json::Map<String, Value> =
            user.extra.iter().map(|(key, values)| (key.clone(), json!(values))).collect();
        info["extra"] = Value::Object(extra);
    }
    let answer = json!({
        "kind": "SelfSubjectReview",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"creationTimestamp": deletion::format_time(deletion::now())},
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
}
