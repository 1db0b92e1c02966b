//! `authorization.k8s.io/v1` reviews (create only, nothing stored), as kube-apiserver's
//! `pkg/registry/authorization/*` answer them: what `kubectl auth can-i` asks.
//!
//! - `selfsubjectaccessreviews`: may the requester (after impersonation) do what
//!   `spec.resourceAttributes` or `spec.nonResourceAttributes` say; `status.allowed` and the
//!   authorizer's reason.
//! - `subjectaccessreviews` and namespaced `localsubjectaccessreviews`: the same for
//!   `spec.user` / `spec.groups`.
//! - `selfsubjectrulesreviews`: every rule the requester has in `spec.namespace`
//!   (`kubectl auth can-i --list`).
//!
//! The answer is the request's object as decoded with `status` filled in, its metadata in
//! Go's order with `creationTimestamp: null`, as for TokenReviews (`token_review.rs`).

use axum::body::Body;
use axum::http::StatusCode;
use axum::response::Response;
use berth_api::kinds::ResourceType;
use berth_api::rbac::{Attributes, Target};
use serde_json::{Map, Value, json};

use crate::auth::User;
use crate::rbac::Authorizer;
use crate::resources::{self, Context, json_response};
use crate::status::{Cause, Status};
use crate::{apply, objects};

/// Whether `resource` is one of the reviews served here.
pub(crate) fn serves(resource: &ResourceType) -> bool {
    resource.group == "authorization.k8s.io"
}

/// `POST` of a review: 201 with its status.
pub(crate) async fn create(
    cx: &Context,
    authorizer: &Authorizer,
    requester: Option<&User>,
    body: Body,
) -> Result<Response, Status> {
    let resource = cx.resource();
    let (mut review, warnings) = resources::read_review(cx, body).await?;
    let Some(requester) = requester else {
        return Err(Status::bad_request("no user present on request"));
    };
    let spec = review.get("spec").cloned().unwrap_or_else(|| json!({}));
    let status = match resource.kind {
        "SelfSubjectRulesReview" => rules_review(authorizer, requester, &spec)?,
        "SelfSubjectAccessReview" => {
            let attributes = attributes_of(resource, &spec)?;
            decide(authorizer, requester, &attributes).await
        }
        _ => {
            let attributes = attributes_of(resource, &spec)?;
            let user = subject_of(resource, &spec)?;
            if resource.kind == "LocalSubjectAccessReview" {
                let namespace = cx.path.namespace.as_deref().unwrap_or_default();
                let asked = spec.pointer("/resourceAttributes/namespace").and_then(Value::as_str);
                if asked != Some(namespace) {
                    return Err(Status::bad_request(format!(
                        "spec.resourceAttributes.namespace must match namespace: {namespace}"
                    )));
                }
            }
            decide(authorizer, &user, &attributes).await
        }
    };
    let metadata = objects::metadata_mut(&mut review)?;
    if !resource.namespaced() {
        metadata.remove("namespace");
    }
    let supplied = apply::take_supplied(&mut review);
    apply::record(resource, &cx.headers, &cx.query, None, None, supplied, &mut review);
    let answer = json!({
        "kind": resource.kind,
        "apiVersion": resource.api_version(),
        "metadata": crate::token_review::go_ordered_metadata(review.get_mut("metadata").map(Value::take)),
        "spec": spec,
        "status": status,
    });
    Ok(objects::with_warnings(json_response(StatusCode::CREATED, &answer), &warnings))
}

/// `SubjectAccessReviewStatus`: `allowed`, and the reason when there is one.
async fn decide(authorizer: &Authorizer, user: &User, attributes: &Attributes) -> Value {
    let decision = authorizer.authorize(user, attributes).await;
    let mut status = Map::new();
    status.insert("allowed".into(), json!(decision.allowed));
    if !decision.reason.is_empty() {
        status.insert("reason".into(), json!(decision.reason));
    }
    Value::Object(status)
}

/// The 422 of an invalid review (`ValidateSubjectAccessReviewSpec` and friends).
fn invalid(resource: &ResourceType, field: &str, reason: &'static str, message: String) -> Status {
    Status::invalid(resource, "", vec![Cause { reason, message, field: field.into() }])
}

/// `ResourceAttributesFrom` / `NonResourceAttributesFrom`: exactly one must be given.
fn attributes_of(resource: &ResourceType, spec: &Value) -> Result<Attributes, Status> {
    let text = |value: &Value, field: &str| value[field].as_str().unwrap_or_default().to_owned();
    let given = |field: &str| spec.get(field).filter(|v| !v.is_null());
    match (given("resourceAttributes"), given("nonResourceAttributes")) {
        (Some(_), Some(non_resource)) => Err(invalid(
            resource,
            "spec.nonResourceAttributes",
            "FieldValueInvalid",
            format!(
                "Invalid value: \"{}\": cannot be specified in combination with resourceAttributes",
                non_resource_go(non_resource)
            ),
        )),
        (None, None) => Err(invalid(
            resource,
            "spec.resourceAttributes",
            "FieldValueRequired",
            "Required value: exactly one of nonResourceAttributes or resourceAttributes must be specified".into(),
        )),
        (Some(attributes), None) => Ok(Attributes {
            verb: text(attributes, "verb"),
            target: Target::Resource {
                api_group: text(attributes, "group"),
                resource: text(attributes, "resource"),
                subresource: text(attributes, "subresource"),
                name: text(attributes, "name"),
                namespace: text(attributes, "namespace"),
            },
        }),
        (None, Some(attributes)) => Ok(Attributes {
            verb: text(attributes, "verb"),
            target: Target::NonResource { path: text(attributes, "path") },
        }),
    }
}

/// How `field.Invalid` shows the non-resource attributes it refuses (`%#v` of a pointer).
fn non_resource_go(attributes: &Value) -> String {
    format!(
        "&authorization.NonResourceAttributes{{Path:{}, Verb:{}}}",
        berth_api::validation::go_quote(attributes["path"].as_str().unwrap_or_default()),
        berth_api::validation::go_quote(attributes["verb"].as_str().unwrap_or_default())
    )
}

/// The user a SubjectAccessReview asks about; one of user or groups is required.
fn subject_of(resource: &ResourceType, spec: &Value) -> Result<User, Status> {
    let name = spec["user"].as_str().unwrap_or_default().to_owned();
    let groups: Vec<String> = spec["groups"]
        .as_array()
        .map(|g| g.iter().filter_map(Value::as_str).map(str::to_owned).collect())
        .unwrap_or_default();
    if name.is_empty() && groups.is_empty() {
        return Err(invalid(
            resource,
            "spec.user",
            "FieldValueInvalid",
            "Invalid value: \"\": at least one of user or group must be specified".into(),
        ));
    }
    let uid = spec["uid"].as_str().filter(|u| !u.is_empty()).map(str::to_owned);
    Ok(User { name, uid, groups, extra: Vec::new() })
}

/// `SubjectRulesReviewStatus` for the requester in `spec.namespace`.
fn rules_review(authorizer: &Authorizer, user: &User, spec: &Value) -> Result<Value, Status> {
    let namespace = spec["namespace"].as_str().unwrap_or_default();
    if namespace.is_empty() {
        return Err(Status::bad_request("no namespace on request"));
    }
    let (rules, errors) = authorizer.rules_for(user, namespace);
    let mut resource_rules = Vec::new();
    let mut non_resource_rules = Vec::new();
    for rule in &rules {
        if !rule.resources.is_empty() {
            let mut r = Map::new();
            r.insert("verbs".into(), json!(rule.verbs));
            for (field, values) in [
                ("apiGroups", &rule.api_groups),
                ("resources", &rule.resources),
                ("resourceNames", &rule.resource_names),
            ] {
                if !values.is_empty() {
                    r.insert(field.into(), json!(values));
                }
            }
            resource_rules.push(Value::Object(r));
        }
        if !rule.non_resource_urls.is_empty() {
            non_resource_rules
                .push(json!({"verbs": rule.verbs, "nonResourceURLs": rule.non_resource_urls}));
        }
    }
    let mut status = Map::new();
    status.insert("resourceRules".into(), Value::Array(resource_rules));
    status.insert("nonResourceRules".into(), Value::Array(non_resource_rules));
    status.insert("incomplete".into(), json!(false));
    if !errors.is_empty() {
        let error =
            if errors.len() == 1 { errors[0].clone() } else { format!("[{}]", errors.join(", ")) };
        status.insert("evaluationError".into(), json!(error));
    }
    Ok(Value::Object(status))
}
