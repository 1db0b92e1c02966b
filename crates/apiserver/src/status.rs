//! The one place where failures become Kubernetes `Status` bodies and HTTP codes.
//!
//! Every handler and middleware answers an error with a [`Status`]; nothing else builds
//! error responses. Messages are the ones kube-apiserver uses, so kubectl prints what it
//! prints against Kubernetes. Internal details never reach the client: log them before
//! building a `Status`, not inside it.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use berth_api::kinds::ResourceType;
use serde::Serialize;

/// A `metav1.Status` with `status: Failure`, and the HTTP code it is sent with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Status {
    code: StatusCode,
    reason: &'static str,
    message: String,
    details: Option<Box<Details>>,
}

/// `metav1.StatusDetails`: which object the failure is about.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub(crate) struct Details {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) group: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) kind: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) causes: Vec<Cause>,
    /// How long the client should wait before it tries again; also the `Retry-After` header.
    #[serde(rename = "retryAfterSeconds", skip_serializing_if = "is_zero")]
    pub(crate) retry_after_seconds: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// `metav1.StatusCause`: one field's problem in a 422.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct Cause {
    pub(crate) reason: &'static str,
    pub(crate) message: String,
    /// Left out when empty (`omitempty`), as for a cause that names no field.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) field: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Body<'a> {
    kind: &'static str,
    api_version: &'static str,
    metadata: Empty,
    status: &'static str,
    message: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    reason: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<&'a Details>,
    code: u16,
}

#[derive(Serialize)]
struct Empty {}

impl Status {
    /// A failure with a reason (`metav1.StatusReason`) and a message for the user.
    pub(crate) fn new(code: StatusCode, reason: &'static str, message: impl Into<String>) -> Self {
        Status { code, reason, message: message.into(), details: None }
    }

    pub(crate) fn with_details(mut self, details: Details) -> Self {
        self.details = Some(Box::new(details));
        self
    }

    /// No valid credentials (401).
    pub(crate) fn unauthorized() -> Self {
        Status::new(StatusCode::UNAUTHORIZED, "Unauthorized", "Unauthorized")
    }

    /// A path no route serves (404), as kube-apiserver answers it.
    pub(crate) fn path_not_found() -> Self {
        Status::new(
            StatusCode::NOT_FOUND,
            "NotFound",
            "the server could not find the requested resource",
        )
        .with_details(Details::default())
    }

    /// A route that exists, asked with a method it does not serve (405).
    pub(crate) fn method_not_allowed() -> Self {
        Status::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        )
        .with_details(Details::default())
    }

    /// A request body over `limit` bytes (413).
    pub(crate) fn too_large(limit: usize) -> Self {
        Status::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLarge",
            format!("Request entity too large: limit is {limit}"),
        )
    }

    /// `pods "web-0" not found` (404).
    pub(crate) fn not_found(resource: &ResourceType, name: &str) -> Self {
        Status::new(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!("{} {name:?} not found", qualified(resource)),
        )
        .with_details(object_details(resource, name))
    }

    /// `namespaces "x" not found`, for an object created in a namespace that does not exist.
    pub(crate) fn namespace_not_found(namespace: &str) -> Self {
        Status::new(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!("namespaces {namespace:?} not found"),
        )
        .with_details(Details {
            name: Some(namespace.to_owned()),
            kind: Some("namespaces".to_owned()),
            ..Details::default()
        })
    }

    /// `pods "web-0" already exists` (409).
    pub(crate) fn already_exists(resource: &ResourceType, name: &str) -> Self {
        Status::new(
            StatusCode::CONFLICT,
            "AlreadyExists",
            format!("{} {name:?} already exists", qualified(resource)),
        )
        .with_details(object_details(resource, name))
    }

    /// An optimistic-concurrency failure (409 Conflict).
    pub(crate) fn conflict(resource: &ResourceType, name: &str, why: &str) -> Self {
        Status::new(
            StatusCode::CONFLICT,
            "Conflict",
            format!("Operation cannot be fulfilled on {} {name:?}: {why}", qualified(resource)),
        )
        .with_details(object_details(resource, name))
    }

    /// The stale-resourceVersion conflict kubectl tells users to retry.
    pub(crate) fn modified(resource: &ResourceType, name: &str) -> Self {
        Status::conflict(
            resource,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    /// A malformed request (400).
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Status::new(StatusCode::BAD_REQUEST, "BadRequest", message)
    }

    /// `StatefulSet.apps "web" is invalid: <field>: <problem>` (422) with one cause per field.
    pub(crate) fn invalid(resource: &ResourceType, name: &str, causes: Vec<Cause>) -> Self {
        let kind = match resource.group {
            "" => resource.kind.to_owned(),
            group => format!("{}.{group}", resource.kind),
        };
        let list: Vec<String> =
            causes.iter().map(|c| format!("{}: {}", c.field, c.message)).collect();
        let message = match list.as_slice() {
            [one] => format!("{kind} {name:?} is invalid: {one}"),
            many => format!("{kind} {name:?} is invalid: [{}]", many.join(", ")),
        };
        let mut details = object_details(resource, name);
        details.kind = Some(resource.kind.to_owned());
        details.causes = causes;
        Status::new(StatusCode::UNPROCESSABLE_ENTITY, "Invalid", message).with_details(details)
    }

    /// A body in a format the server does not read (415).
    pub(crate) fn unsupported_media_type(content_type: &str) -> Self {
        Status::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/json, application/merge-patch+json, application/json-patch+json, application/strategic-merge-patch+json (got {content_type})"
            ),
        )
    }

    /// History the request needs is compacted (410 Gone; `reason: Expired`).
    pub(crate) fn expired(message: impl Into<String>) -> Self {
        Status::new(StatusCode::GONE, "Expired", message)
    }

    /// The request conflicts with the object's state, e.g. a terminating namespace (403/409).
    pub(crate) fn forbidden(message: impl Into<String>) -> Self {
        Status::new(StatusCode::FORBIDDEN, "Forbidden", message)
    }

    /// Something failed on our side; the cause is logged, not sent.
    pub(crate) fn internal() -> Self {
        Status::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            "an error on the server has prevented the request from succeeding",
        )
    }

    /// Maps a store failure for `name` of `resource`. Logs what the client is not told.
    pub(crate) fn from_store(
        error: berth_store::Error,
        resource: &ResourceType,
        name: &str,
    ) -> Self {
        use berth_store::Error as E;
        match error {
            E::NotFound { .. } => Status::not_found(resource, name),
            E::AlreadyExists { .. } => Status::already_exists(resource, name),
            E::Conflict { .. } => Status::modified(resource, name),
            E::Compacted { requested, compacted } => {
                Status::expired(format!("too old resource version: {requested} ({compacted})"))
            }
            E::FutureRevision { requested, current } => Status::new(
                StatusCode::GATEWAY_TIMEOUT,
                "Timeout",
                format!("Too large resource version: {requested}, current: {current}"),
            ),
            E::TooLarge { .. } => Status::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "RequestEntityTooLarge",
                "etcdserver: request is too large",
            ),
            other => {
                tracing::error!(error = %other, resource = resource.plural, name, "store failure");
                Status::internal()
            }
        }
    }

    /// The HTTP code the answer is sent with.
    pub(crate) fn code(&self) -> StatusCode {
        self.code
    }

    /// The JSON body, exactly as kube-apiserver lays it out.
    pub(crate) fn to_json(&self) -> Vec<u8> {
        let body = Body {
            kind: "Status",
            api_version: "v1",
            metadata: Empty {},
            status: "Failure",
            message: &self.message,
            reason: self.reason,
            details: self.details.as_deref(),
            code: self.code.as_u16(),
        };
        // A struct of strings and integers always serializes.
        serde_json::to_vec(&body).unwrap_or_default()
    }
}

impl IntoResponse for Status {
    fn into_response(self) -> Response {
        let mut response =
            (self.code, [(header::CONTENT_TYPE, "application/json")], self.to_json())
                .into_response();
        // As kube-apiserver's `ErrorNegotiated`: client-go waits this long and retries.
        if let Some(details) = self.details.as_deref()
            && details.retry_after_seconds > 0
        {
            response.headers_mut().insert(header::RETRY_AFTER, details.retry_after_seconds.into());
        }
        response
    }
}

/// `pods`, or `statefulsets.apps`: how kube-apiserver names a resource in messages.
pub(crate) fn qualified(resource: &ResourceType) -> String {
    match resource.group {
        "" => resource.plural.to_owned(),
        group => format!("{}.{group}", resource.plural),
    }
}

fn object_details(resource: &ResourceType, name: &str) -> Details {
    Details {
        name: Some(name.to_owned()),
        group: (!resource.group.is_empty()).then(|| resource.group.to_owned()),
        kind: Some(resource.plural.to_owned()),
        ..Details::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unauthorized_is_the_kubernetes_body() {
        let json = String::from_utf8(Status::unauthorized().to_json()).unwrap();
        assert_eq!(
            json,
            r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}"#
        );
    }

    #[test]
    fn details_are_written_when_present() {
        let status = Status::new(StatusCode::NOT_FOUND, "NotFound", r#"pods "nope" not found"#)
            .with_details(Details {
                name: Some("nope".into()),
                kind: Some("pods".into()),
                ..Details::default()
            });
        let json = String::from_utf8(status.to_json()).unwrap();
        assert_eq!(
            json,
            r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"pods \"nope\" not found","reason":"NotFound","details":{"name":"nope","kind":"pods"},"code":404}"#
        );
        let json = String::from_utf8(Status::path_not_found().to_json()).unwrap();
        assert!(json.contains(r#""details":{},"code":404"#), "{json}");
    }
}
