//! The authorization middleware: impersonation, then every authenticated request is
//! authorized by `rbac::Authorizer` or refused with kube-apiserver's 403.
//!
//! Impersonation is kube-apiserver's `WithImpersonation` filter: `Impersonate-User` (a
//! `system:serviceaccount:NS:NAME` name impersonates the service account),
//! `Impersonate-Group`, `Impersonate-Uid` and `Impersonate-Extra-*` each need the
//! `impersonate` verb on `users`, `serviceaccounts`, `groups`, `authentication.k8s.io`
//! `uids` or `userextras/<key>`; the request then continues as the impersonated user (with
//! `system:authenticated` added unless a group says otherwise) and without those headers.
//! Then the request's attributes (`request_info.rs`) are authorized; a refusal is
//! `forbiddenMessage`'s 403 (`pods is forbidden: User "…" cannot list resource "pods" in API
//! group "" in the namespace "default"`). Requests without a user (the open health and
//! version paths) pass as they did before authentication.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use berth_api::rbac::{Attributes, Target};
use berth_api::validation::go_quote;

use crate::auth::{AUTHENTICATED, User};
use crate::rbac::{self, Authorizer, Requester};
use crate::request_info;
use crate::status::Status;

const IMPERSONATE_USER: &str = "impersonate-user";
const IMPERSONATE_GROUP: &str = "impersonate-group";
const IMPERSONATE_UID: &str = "impersonate-uid";
const IMPERSONATE_EXTRA: &str = "impersonate-extra-";
const UNAUTHENTICATED: &str = "system:unauthenticated";
const ANONYMOUS: &str = "system:anonymous";

/// The middleware.
pub(crate) async fn authorize(
    State(authorizer): State<Arc<Authorizer>>,
    mut request: Request,
    next: Next,
) -> Response {
    let Some(user) = request.extensions().get::<User>() else {
        return next.run(request).await;
    };
    // The admin and the in-process clients pay for nothing but these checks.
    if rbac::is_master(user) && !impersonating(request.headers()) {
        return next.run(request).await;
    }
    let mut user = user.clone();
    match impersonate(&authorizer, &user, request.headers()).await {
        Ok(None) => {}
        Ok(Some(impersonated)) => {
            tracing::debug!(user = %user.name, as_user = %impersonated.name, "impersonating");
            strip_impersonation(request.headers_mut());
            request.extensions_mut().insert(impersonated.clone());
            user = impersonated;
        }
        Err(status) => return status.into_response(),
    }
    if !rbac::is_master(&user) {
        let attributes = request_info::attributes(
            request.method().as_str(),
            request.uri().path(),
            request.uri().query(),
        );
        let decision = authorizer.authorize(&user, &attributes).await;
        if !decision.allowed {
            tracing::debug!(user = %user.name, ?attributes, reason = %decision.reason, "forbidden");
            return forbidden(&user, &attributes, &decision.reason).into_response();
        }
        request.extensions_mut().insert(Requester { user, authorizer });
    }
    next.run(request).await
}

/// `responsewriters.Forbidden`: the attributes' message, `: reason` when there is one.
pub(crate) fn forbidden(user: &User, attributes: &Attributes, reason: &str) -> Status {
    let mut message = forbidden_message(&user.name, attributes);
    if !reason.is_empty() {
        message = format!("{message}: {reason}");
    }
    // Avoid errors that look like HTML, as kube-apiserver's sanitizer does.
    let message = message.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    match &attributes.target {
        Target::Resource { api_group, resource, name, .. } => {
            rbac::forbidden(api_group, resource, name, &message)
        }
        Target::NonResource { .. } => rbac::forbidden("", "", "", &message),
    }
}

/// `forbiddenMessage`.
fn forbidden_message(user: &str, attributes: &Attributes) -> String {
    let (user, verb) = (go_quote(user), &attributes.verb);
    match &attributes.target {
        Target::NonResource { path } => {
            format!("User {user} cannot {verb} path {}", go_quote(path))
        }
        Target::Resource { api_group, resource, subresource, namespace, .. } => {
            let resource = if subresource.is_empty() {
                resource.clone()
            } else {
                format!("{resource}/{subresource}")
            };
            let scope = if namespace.is_empty() {
                "at the cluster scope".to_owned()
            } else {
                format!("in the namespace {}", go_quote(namespace))
            };
            format!(
                "User {user} cannot {verb} resource {} in API group {} {scope}",
                go_quote(&resource),
                go_quote(api_group)
            )
        }
    }
}

/// One thing a request asks to impersonate, as `buildImpersonationRequests` lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Impersonation {
    ServiceAccount { namespace: String, name: String },
    User(String),
    Group(String),
    Extra { key: String, value: String },
    Uid(String),
}

/// The impersonation the headers ask for, in kube-apiserver's order; an error when groups,
/// extras or a uid come without a user.
fn requests(headers: &HeaderMap) -> Result<Vec<Impersonation>, Status> {
    let text = |value: &axum::http::HeaderValue| value.to_str().unwrap_or_default().to_owned();
    let mut requests = Vec::new();
    let user = headers.get(IMPERSONATE_USER).map(text).filter(|u| !u.is_empty());
    if let Some(user) = &user {
        let account = user
            .strip_prefix("system:serviceaccount:")
            .and_then(|rest| rest.split_once(':'))
            .filter(|(ns, name)| !ns.is_empty() && !name.is_empty() && !name.contains(':'));
        requests.push(match account {
            Some((namespace, name)) => {
                Impersonation::ServiceAccount { namespace: namespace.into(), name: name.into() }
            }
            None => Impersonation::User(user.clone()),
        });
    }
    let mut others = false;
    for group in headers.get_all(IMPERSONATE_GROUP) {
        others = true;
        requests.push(Impersonation::Group(text(group)));
    }
    for (name, value) in headers {
        if let Some(key) = name.as_str().strip_prefix(IMPERSONATE_EXTRA) {
            others = true;
            requests.push(Impersonation::Extra { key: unescape(key), value: text(value) });
        }
    }
    if let Some(uid) = headers.get(IMPERSONATE_UID).map(text).filter(|u| !u.is_empty()) {
        others = true;
        requests.push(Impersonation::Uid(uid));
    }
    if others && user.is_none() {
        return Err(Status::new(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            "requested impersonation of groups, extras or a uid without impersonating a user",
        ));
    }
    Ok(requests)
}

/// Percent-decodes an `Impersonate-Extra-` key (`unescapeExtraKey`).
fn unescape(key: &str) -> String {
    let bytes = key.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match hex {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The user the request impersonates, each part authorized for `user`; `None` without
/// impersonation headers.
async fn impersonate(
    authorizer: &Authorizer,
    user: &User,
    headers: &HeaderMap,
) -> Result<Option<User>, Status> {
    let requests = requests(headers)?;
    if requests.is_empty() {
        return Ok(None);
    }
    let groups_specified = headers.contains_key(IMPERSONATE_GROUP);
    let mut impersonated =
        User { name: String::new(), uid: None, groups: Vec::new(), extra: Vec::new() };
    for request in requests {
        let (group, resource, subresource, namespace, name) = match &request {
            Impersonation::ServiceAccount { namespace, name } => {
                impersonated.name = format!("system:serviceaccount:{namespace}:{name}");
                if !groups_specified {
                    impersonated.groups = vec![
                        "system:serviceaccounts".into(),
                        format!("system:serviceaccounts:{namespace}"),
                    ];
                }
                ("", "serviceaccounts", "", namespace.as_str(), name.as_str())
            }
            Impersonation::User(name) => {
                impersonated.name = name.clone();
                ("", "users", "", "", name.as_str())
            }
            Impersonation::Group(group) => {
                impersonated.groups.push(group.clone());
                ("", "groups", "", "", group.as_str())
            }
            Impersonation::Extra { key, value } => {
                match impersonated.extra.iter_mut().find(|(k, _)| k == key) {
                    Some((_, values)) => values.push(value.clone()),
                    None => impersonated.extra.push((key.clone(), vec![value.clone()])),
                }
                ("authentication.k8s.io", "userextras", key.as_str(), "", value.as_str())
            }
            Impersonation::Uid(uid) => {
                impersonated.uid = Some(uid.clone());
                ("authentication.k8s.io", "uids", "", "", uid.as_str())
            }
        };
        let attributes = Attributes {
            verb: "impersonate".into(),
            target: Target::Resource {
                api_group: group.into(),
                resource: resource.into(),
                subresource: subresource.into(),
                name: name.into(),
                namespace: namespace.into(),
            },
        };
        let decision = authorizer.authorize(user, &attributes).await;
        if !decision.allowed {
            return Err(forbidden(user, &attributes, &decision.reason));
        }
    }
    let (marker, excluded): (&str, &[&str]) = if impersonated.name == ANONYMOUS {
        (UNAUTHENTICATED, &[UNAUTHENTICATED])
    } else {
        (AUTHENTICATED, &[AUTHENTICATED, UNAUTHENTICATED])
    };
    if !impersonated.groups.iter().any(|g| excluded.contains(&g.as_str())) {
        impersonated.groups.push(marker.into());
    }
    impersonated.extra.sort();
    Ok(Some(impersonated))
}

/// Whether the request carries impersonation headers.
fn impersonating(headers: &HeaderMap) -> bool {
    headers.keys().any(|name| {
        let name = name.as_str();
        name.starts_with("impersonate-")
    })
}

/// Removes the impersonation headers, as the filter does before the request goes on.
fn strip_impersonation(headers: &mut HeaderMap) {
    let names: Vec<_> = headers
        .keys()
        .filter(|name| {
            let name = name.as_str();
            name == IMPERSONATE_USER
                || name == IMPERSONATE_GROUP
                || name == IMPERSONATE_UID
                || name.starts_with(IMPERSONATE_EXTRA)
        })
        .cloned()
        .collect();
    for name in names {
        headers.remove(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str) -> User {
        User { name: name.into(), uid: None, groups: vec![], extra: vec![] }
    }

    #[test]
    fn messages_are_forbidden_message() {
        let sa = user("system:serviceaccount:default:default");
        let attributes = request_info::attributes("GET", "/api/v1/namespaces/default/pods", None);
        let status = forbidden(&sa, &attributes, "");
        let body = String::from_utf8(status.to_json()).unwrap();
        assert!(
            body.contains(r#""message":"pods is forbidden: User \"system:serviceaccount:default:default\" cannot list resource \"pods\" in API group \"\" in the namespace \"default\"""#),
            "{body}"
        );
        let cases = [
            (
                "PATCH",
                "/apis/apps/v1/namespaces/x/statefulsets/web/scale",
                "",
                r#"statefulsets.apps "web" is forbidden: User "u" cannot patch resource "statefulsets/scale" in API group "apps" in the namespace "x""#,
            ),
            (
                "GET",
                "/api/v1/nodes",
                "",
                r#"nodes is forbidden: User "u" cannot list resource "nodes" in API group "" at the cluster scope"#,
            ),
            ("GET", "/metrics", "", r#"forbidden: User "u" cannot get path "/metrics""#),
            (
                "DELETE",
                "/api/v1/namespaces/x/pods",
                "RBAC: role.rbac.authorization.k8s.io \"r\" not found",
                r#"pods is forbidden: User "u" cannot deletecollection resource "pods" in API group "" in the namespace "x": RBAC: role.rbac.authorization.k8s.io "r" not found"#,
            ),
            ("GET", "/<script>", "", r#"forbidden: User "u" cannot get path "/&lt;script&gt;""#),
        ];
        for (method, path, reason, expected) in cases {
            let attributes = request_info::attributes(method, path, None);
            let body =
                String::from_utf8(forbidden(&user("u"), &attributes, reason).to_json()).unwrap();
            let message: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert_eq!(message["message"], expected, "{method} {path}");
        }
    }

    #[test]
    fn impersonation_requests_are_listed_in_order() {
        let mut headers = HeaderMap::new();
        headers.insert(IMPERSONATE_USER, "system:serviceaccount:ns:robot".parse().unwrap());
        headers.append(IMPERSONATE_GROUP, "a".parse().unwrap());
        headers.append(IMPERSONATE_GROUP, "b".parse().unwrap());
        headers.insert("impersonate-extra-scopes%2Fx", "s".parse().unwrap());
        assert_eq!(
            requests(&headers).unwrap(),
            [
                Impersonation::ServiceAccount { namespace: "ns".into(), name: "robot".into() },
                Impersonation::Group("a".into()),
                Impersonation::Group("b".into()),
                Impersonation::Extra { key: "scopes/x".into(), value: "s".into() },
            ]
        );
        let mut headers = HeaderMap::new();
        headers.insert(IMPERSONATE_USER, "jane".parse().unwrap());
        assert_eq!(requests(&headers).unwrap(), [Impersonation::User("jane".into())]);
        let mut headers = HeaderMap::new();
        headers.insert(IMPERSONATE_GROUP, "a".parse().unwrap());
        assert!(requests(&headers).is_err());
        assert!(requests(&HeaderMap::new()).unwrap().is_empty());
    }
}
