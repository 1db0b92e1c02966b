//! `POST /apis/authentication.k8s.io/v1/tokenreviews`: whether a bearer token authenticates,
//! and as whom, as kube-apiserver's `tokenreview` REST answers
//! (`pkg/registry/authentication/tokenreview/storage.go`).
//!
//! The review runs the chain every request's bearer token goes through
//! (`auth::Authenticator::authenticate_token`) for the review's `spec.audiences`, or the API
//! server's own when it names none. A token that does not authenticate is still a 201: no
//! `status.authenticated`, an empty `status.user` and kube-apiserver's error text in
//! `status.error`. An empty `spec.token` is the 400 `token is required for TokenReview in
//! authentication`. The answer is the request's object as decoded (unknown fields dropped, or
//! refused under `fieldValidation=Strict`), with the managedFields its create records and
//! `creationTimestamp: null` as Go serializes a zero time, and the status filled in; nothing
//! is stored. One difference: a status the client sends is replaced whole, where
//! kube-apiserver would keep its `user` on a failed review.

use axum::body::Body;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value, json};

use crate::auth::{self, Authenticator};
use crate::resources::{self, Context, json_response};
use crate::status::Status;
use crate::{apply, objects};

/// kube-apiserver's refusal of a review without a token.
const TOKEN_REQUIRED: &str = "token is required for TokenReview in authentication";

/// `ObjectMeta`'s fields in the order Go serializes them.
const OBJECT_META: [&str; 15] = [
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "managedFields",
];

/// Reviews the token the body's `spec.token` holds: 201 with the TokenReview and its status.
pub(crate) async fn create(
    cx: &Context,
    authenticator: &Authenticator,
    body: Body,
) -> Result<Response, Status> {
    let resource = cx.resource();
    // Decoding, as the create handler does it before the REST sees the object.
    let (mut review, warnings) = resources::read_review(cx, body).await?;
    let spec = Spec::read(&review)?;
    if spec.token.is_empty() {
        return Err(Status::bad_request(TOKEN_REQUIRED));
    }
    // A cluster-scoped object's namespace is cleared (`EnsureObjectNamespaceMatchesRequestNamespace`).
    objects::metadata_mut(&mut review)?.remove("namespace");
    // The field manager records the create before the REST fills the status in.
    let supplied = apply::take_supplied(&mut review);
    apply::record(resource, &cx.headers, &cx.query, None, None, supplied, &mut review);

    let audiences: &[String] =
        if spec.audiences.is_empty() { auth::api_audiences() } else { &spec.audiences };
    let status = match authenticator.authenticate_token(&spec.token, audiences).await {
        Ok(authenticated) => {
            let mut status = Map::new();
            status.insert("authenticated".into(), json!(true));
            status.insert("user".into(), authenticated.user.info());
            if !authenticated.audiences.is_empty() {
                status.insert("audiences".into(), json!(authenticated.audiences));
            }
            Value::Object(status)
        }
        Err(refused) => {
            if refused.is_internal() {
                tracing::warn!(error = ?refused, "a reviewed token could not be checked");
            }
            json!({"user": {}, "error": refused.to_string()})
        }
    };
    let answer = json!({
        "kind": resource.kind,
        "apiVersion": resource.api_version(),
        "metadata": go_ordered_metadata(review.get_mut("metadata").map(Value::take)),
        "spec": spec.to_json(),
        "status": status,
    });
    Ok(objects::with_warnings(json_response(StatusCode::CREATED, &answer), &warnings))
}

/// `TokenReviewSpec`.
#[derive(Debug, PartialEq, Eq)]
struct Spec {
    token: String,
    audiences: Vec<String>,
}

impl Spec {
    /// `spec` as Go's JSON decoder reads it into the typed object: `null` is the zero value,
    /// a value of the wrong type is its 400.
    fn read(review: &Value) -> Result<Spec, Status> {
        let spec = match review.get("spec") {
            None | Some(Value::Null) => {
                return Ok(Spec { token: String::new(), audiences: Vec::new() });
            }
            Some(Value::Object(spec)) => spec,
            Some(other) => {
                return Err(cannot_unmarshal(other, "TokenReview.spec", "v1.TokenReviewSpec"));
            }
        };
        let token = match spec.get("token") {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(token)) => token.clone(),
            Some(other) => {
                return Err(cannot_unmarshal(other, "TokenReviewSpec.spec.token", "string"));
            }
        };
        let audiences = match spec.get("audiences") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| match item {
                    Value::Null => Ok(String::new()),
                    Value::String(audience) => Ok(audience.clone()),
                    other => {
                        Err(cannot_unmarshal(other, "TokenReviewSpec.spec.audiences", "string"))
                    }
                })
                .collect::<Result<_, _>>()?,
            Some(other) => {
                return Err(cannot_unmarshal(other, "TokenReviewSpec.spec.audiences", "[]string"));
            }
        };
        Ok(Spec { token, audiences })
    }

    /// As Go serializes it: `token`, then `audiences`, each left out when empty.
    fn to_json(&self) -> Value {
        let mut spec = Map::new();
        if !self.token.is_empty() {
            spec.insert("token".into(), json!(self.token));
        }
        if !self.audiences.is_empty() {
            spec.insert("audiences".into(), json!(self.audiences));
        }
        Value::Object(spec)
    }
}

/// The 400 of a body Go's JSON decoder cannot read into the TokenReview type.
fn cannot_unmarshal(value: &Value, field: &str, go_type: &str) -> Status {
    let json_type = match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    Status::bad_request(format!(
        "TokenReview in version \"v1\" cannot be handled as a TokenReview: json: cannot \
         unmarshal {json_type} into Go struct field {field} of type {go_type}"
    ))
}

/// `metadata` with its fields in `ObjectMeta`'s order and `creationTimestamp` null when unset,
/// as Go writes a zero `metav1.Time`.
pub(crate) fn go_ordered_metadata(metadata: Option<Value>) -> Value {
    let mut given = match metadata {
        Some(Value::Object(metadata)) => metadata,
        _ => Map::new(),
    };
    let mut ordered = Map::new();
    for field in OBJECT_META {
        match given.remove(field) {
            Some(value) => {
                ordered.insert(field.into(), value);
            }
            None if field == "creationTimestamp" => {
                ordered.insert(field.into(), Value::Null);
            }
            None => {}
        }
    }
    // Typed decoding has dropped anything else; keep whatever remains rather than lose it.
    ordered.extend(given);
    Value::Object(ordered)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(status: Status) -> String {
        let body: Value = serde_json::from_slice(&status.to_json()).unwrap();
        body["message"].as_str().unwrap().to_owned()
    }

    #[test]
    fn the_spec_reads_like_a_typed_decode() {
        let read = |review: Value| Spec::read(&review);
        assert_eq!(
            read(json!({"spec": {"token": "t", "audiences": ["a", null]}})).unwrap(),
            Spec { token: "t".into(), audiences: vec!["a".into(), String::new()] }
        );
        assert_eq!(read(json!({})).unwrap(), Spec { token: String::new(), audiences: vec![] });
        assert_eq!(
            read(json!({"spec": {"token": null, "audiences": null}})).unwrap(),
            Spec { token: String::new(), audiences: vec![] }
        );
        let cases = [
            (
                json!({"spec": "x"}),
                "cannot unmarshal string into Go struct field TokenReview.spec of type v1.TokenReviewSpec",
            ),
            (
                json!({"spec": {"token": 5}}),
                "cannot unmarshal number into Go struct field TokenReviewSpec.spec.token of type string",
            ),
            (
                json!({"spec": {"token": "t", "audiences": "a"}}),
                "cannot unmarshal string into Go struct field TokenReviewSpec.spec.audiences of type []string",
            ),
            (
                json!({"spec": {"token": "t", "audiences": [true]}}),
                "cannot unmarshal bool into Go struct field TokenReviewSpec.spec.audiences of type string",
            ),
        ];
        for (review, expected) in cases {
            let status = read(review.clone()).unwrap_err();
            assert_eq!(status.code(), StatusCode::BAD_REQUEST, "{review}");
            assert_eq!(
                message(status),
                format!(
                    "TokenReview in version \"v1\" cannot be handled as a TokenReview: json: {expected}"
                )
            );
        }
    }

    #[test]
    fn the_spec_and_metadata_are_written_in_go_order() {
        let spec = Spec { token: "t".into(), audiences: vec!["a".into()] };
        assert_eq!(spec.to_json().to_string(), r#"{"token":"t","audiences":["a"]}"#);
        let empty = Spec { token: "t".into(), audiences: vec![] };
        assert_eq!(empty.to_json().to_string(), r#"{"token":"t"}"#);
        assert_eq!(go_ordered_metadata(None).to_string(), r#"{"creationTimestamp":null}"#);
        let given = json!({"managedFields": [], "labels": {"a": "b"}, "name": "n"});
        assert_eq!(
            go_ordered_metadata(Some(given)).to_string(),
            r#"{"name":"n","creationTimestamp":null,"labels":{"a":"b"},"managedFields":[]}"#
        );
    }
}
