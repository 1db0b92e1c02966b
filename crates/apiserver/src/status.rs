//! The one place where failures become Kubernetes `Status` bodies and HTTP codes.
//!
//! Every handler and middleware answers an error with a [`Status`]; nothing else builds
//! error responses. Messages are the ones kube-apiserver uses, so kubectl prints what it
//! prints against Kubernetes. Internal details never reach the client: log them before
//! building a `Status`, not inside it.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// A `metav1.Status` with `status: Failure`, and the HTTP code it is sent with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Status {
    code: StatusCode,
    reason: &'static str,
    message: String,
    details: Option<Details>,
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
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Body<'a> {
    kind: &'static str,
    api_version: &'static str,
    metadata: Empty,
    status: &'static str,
    message: &'a str,
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
        self.details = Some(details);
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

    /// The JSON body, exactly as kube-apiserver lays it out.
    pub(crate) fn to_json(&self) -> Vec<u8> {
        let body = Body {
            kind: "Status",
            api_version: "v1",
            metadata: Empty {},
            status: "Failure",
            message: &self.message,
            reason: self.reason,
            details: self.details.as_ref(),
            code: self.code.as_u16(),
        };
        // A struct of strings and integers always serializes.
        serde_json::to_vec(&body).unwrap_or_default()
    }
}

impl IntoResponse for Status {
    fn into_response(self) -> Response {
        (self.code, [(header::CONTENT_TYPE, "application/json")], self.to_json()).into_response()
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
