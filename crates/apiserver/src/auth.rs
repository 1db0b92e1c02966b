//! Authentication: a client certificate verified against our CA, or the admin bearer token.
//!
//! The TLS layer (`server.rs`) verifies client certificates during the handshake and puts the
//! connection's [`Peer`] into every request's extensions; [`authenticate`] turns that, or an
//! `Authorization: Bearer` header, into the request's [`User`]. Health and version endpoints
//! are open to unauthenticated clients, as Kubernetes opens them to `system:unauthenticated`;
//! a wrong token is refused everywhere, as kube-apiserver refuses it.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::status::Status;
use crate::x509;

/// The group every authenticated user is in.
const AUTHENTICATED: &str = "system:authenticated";

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
                Some(User { name: subject.common_name, groups })
            }
            _ => None,
        };
        Peer { user }
    }
}

/// An authenticated user, as a request extension for handlers (and authorization, later).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct User {
    pub(crate) name: String,
    pub(crate) groups: Vec<String>,
}

/// The credentials the server accepts besides client certificates.
#[derive(Debug)]
pub(crate) struct Authenticator {
    admin_token: String,
}

impl Authenticator {
    pub(crate) fn new(admin_token: String) -> Authenticator {
        Authenticator { admin_token }
    }

    fn user_for_token(&self, token: &str) -> Option<User> {
        constant_time_eq(token.as_bytes(), self.admin_token.as_bytes()).then(|| User {
            name: "admin".into(),
            groups: vec!["system:masters".into(), AUTHENTICATED.into()],
        })
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
        Some(token) => match authenticator.user_for_token(token) {
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
        let authenticator = Authenticator::new("abc123".into());
        assert!(authenticator.user_for_token("abc123").is_some());
        for wrong in ["abc124", "abc12", "abc1234", ""] {
            assert!(authenticator.user_for_token(wrong).is_none(), "{wrong}");
        }
    }
}
