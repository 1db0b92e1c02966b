//! Small helpers every controller uses on objects and API errors: names, object references,
//! label selectors, error chains and status codes.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::Resource;

pub(crate) fn name_of(meta: &ObjectMeta) -> &str {
    meta.name.as_deref().unwrap_or_default()
}

pub(crate) fn namespace_of(meta: &ObjectMeta) -> &str {
    meta.namespace.as_deref().unwrap_or_default()
}

/// An ObjectReference to a typed object (events' involvedObject).
pub(crate) fn reference_to<K: Resource<DynamicType = ()>>(object: &K) -> ObjectReference {
    let meta = object.meta();
    ObjectReference {
        api_version: Some(K::api_version(&()).into_owned()),
        kind: Some(K::kind(&()).into_owned()),
        namespace: meta.namespace.clone(),
        name: meta.name.clone(),
        uid: meta.uid.clone(),
        resource_version: meta.resource_version.clone(),
        ..ObjectReference::default()
    }
}

/// Whether a label selector selects these labels (`matchLabels` and `matchExpressions`, as
/// `metav1.LabelSelectorAsSelector`); no selector selects everything.
pub(crate) fn selects(
    selector: Option<&LabelSelector>,
    labels: Option<&BTreeMap<String, String>>,
) -> bool {
    let Some(selector) = selector else { return true };
    let empty = BTreeMap::new();
    let labels = labels.unwrap_or(&empty);
    let by_labels =
        selector.match_labels.iter().flatten().all(|(key, value)| labels.get(key) == Some(value));
    let by_expressions = selector.match_expressions.iter().flatten().all(|e| {
        let values = e.values.as_deref().unwrap_or_default();
        match e.operator.as_str() {
            "In" => labels.get(&e.key).is_some_and(|v| values.contains(v)),
            "NotIn" => labels.get(&e.key).is_none_or(|v| !values.contains(v)),
            "Exists" => labels.contains_key(&e.key),
            "DoesNotExist" => !labels.contains_key(&e.key),
            _ => false,
        }
    });
    by_labels && by_expressions
}

/// An error with its sources, for logs.
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The HTTP status code of an API error (`None` for transport and decoding errors).
pub(crate) fn status_code(error: &kube::Error) -> Option<u16> {
    match error {
        kube::Error::Api(status) => Some(status.code),
        _ => None,
    }
}

/// The message of an API error (the Status's), or the error itself for others: what a
/// condition or an event says about a failed write.
pub(crate) fn api_message(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) => status.message.clone(),
        other => other.to_string(),
    }
}

/// `metav1.NewControllerRef`: `owner` as the controller of what it makes (blocking the
/// owner's foreground deletion).
pub(crate) fn new_controller_ref<K: kube::Resource<DynamicType = ()>>(owner: &K) -> OwnerReference {
    let meta = owner.meta();
    OwnerReference {
        api_version: K::api_version(&()).into_owned(),
        kind: K::kind(&()).into_owned(),
        name: meta.name.clone().unwrap_or_default(),
        uid: meta.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// `metav1.GetControllerOf`.
pub(crate) fn controller_of(meta: &ObjectMeta) -> Option<&OwnerReference> {
    meta.owner_references.iter().flatten().find(|r| r.controller == Some(true))
}

/// Go's `omitempty` on a number.
pub(crate) fn non_zero<T: Default + PartialEq>(value: T) -> Option<T> {
    (value != T::default()).then_some(value)
}

/// `intstr.GetScaledValueFromIntOrPercent`: an integer as it is, a percentage of `total`
/// rounded up or down; the error is Go's message.
pub(crate) fn scaled_value(value: &IntOrString, total: i32, round_up: bool) -> Result<i64, String> {
    match value {
        IntOrString::Int(value) => Ok(i64::from(*value)),
        IntOrString::String(text) => {
            let Some(number) = text.strip_suffix('%') else {
                return Err("invalid type: string is not a percentage".to_owned());
            };
            let percent: i64 = number.parse().map_err(|_| {
                format!("invalid value {text:?}: strconv.Atoi: parsing {number:?}: invalid syntax")
            })?;
            // As Go computes it, in floating point (exact for these magnitudes).
            let exact = percent as f64 * f64::from(total) / 100.0;
            Ok(if round_up { exact.ceil() } else { exact.floor() } as i64)
        }
    }
}
