//! Object metadata rules shared by every resource: type fields, names, uids, timestamps,
//! defaults on create, and what an update may not change.

use berth_api::kinds::ResourceType;
use berth_store::Revision;
use rand::Rng;
use serde_json::{Map, Value, json};

use crate::status::{Cause, Status};

/// Fills `kind`/`apiVersion` when missing; refuses an object of another type.
pub(crate) fn check_type(resource: &ResourceType, object: &mut Value) -> Result<(), Status> {
    let api_version = resource.api_version();
    let map = object
        .as_object_mut()
        .ok_or_else(|| Status::bad_request("the object is not a JSON object"))?;
    match map.get("apiVersion").and_then(Value::as_str) {
        Some(v) if !v.is_empty() && v != api_version => {
            return Err(Status::bad_request(format!(
                "the API version in the data ({v}) does not match the expected API version ({api_version})"
            )));
        }
        _ => {
            map.insert("apiVersion".into(), json!(api_version));
        }
    }
    match map.get("kind").and_then(Value::as_str) {
        Some(k) if !k.is_empty() && k != resource.kind => {
            return Err(Status::bad_request(format!(
                "the kind in the data ({k}) does not match the expected kind ({})",
                resource.kind
            )));
        }
        _ => {
            map.insert("kind".into(), json!(resource.kind));
        }
    }
    Ok(())
}

/// `metadata`, created if missing.
pub(crate) fn metadata_mut(object: &mut Value) -> Result<&mut Map<String, Value>, Status> {
    let map = object
        .as_object_mut()
        .ok_or_else(|| Status::bad_request("the object is not a JSON object"))?;
    let metadata = map.entry("metadata").or_insert_with(|| json!({}));
    metadata.as_object_mut().ok_or_else(|| Status::bad_request("metadata must be an object"))
}

pub(crate) fn set_resource_version(object: &mut Value, revision: Revision) {
    if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.insert("resourceVersion".into(), json!(revision.to_string()));
    }
}

/// A random (version 4) UUID.
pub(crate) fn new_uid() -> String {
    let mut bytes: [u8; 16] = rand::rng().random();
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

/// Now, as Kubernetes writes timestamps: RFC 3339, UTC, whole seconds.
pub(crate) fn now_rfc3339() -> String {
    let now = time::OffsetDateTime::now_utc();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    )
}

const SUBDOMAIN: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_1123: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const LABEL_1035: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";

/// The name rules of `resource`: DNS-1123 labels for namespaces, DNS-1035 labels for services,
/// DNS-1123 subdomains for everything else — with kube-apiserver's messages.
pub(crate) fn validate_name(resource: &ResourceType, name: &str) -> Result<(), Status> {
    let problems = name_problems(resource.kind, name);
    if problems.is_empty() {
        return Ok(());
    }
    let causes = problems
        .into_iter()
        .map(|problem| Cause {
            reason: "FieldValueInvalid",
            message: format!("Invalid value: {name:?}: {problem}"),
            field: "metadata.name".into(),
        })
        .collect();
    Err(Status::invalid(resource, name, causes))
}

fn name_problems(kind: &str, name: &str) -> Vec<String> {
    let label = |s: &str, first_alpha: bool| {
        let bytes = s.as_bytes();
        !bytes.is_empty()
            && bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
            && (if first_alpha { bytes[0].is_ascii_lowercase() } else { bytes[0] != b'-' })
            && bytes[bytes.len() - 1] != b'-'
    };
    let mut problems = Vec::new();
    match kind {
        "Namespace" | "Service" => {
            if name.len() > 63 {
                problems.push("must be no more than 63 characters".to_owned());
            }
            let first_alpha = kind == "Service";
            if !label(name, first_alpha) {
                problems.push(if first_alpha { LABEL_1035 } else { LABEL_1123 }.to_owned());
            }
        }
        _ => {
            if name.len() > 253 {
                problems.push("must be no more than 253 characters".to_owned());
            }
            if !name.split('.').all(|part| label(part, false)) {
                problems.push(SUBDOMAIN.to_owned());
            }
        }
    }
    problems
}

/// Defaults kube-apiserver applies at creation that clients rely on.
pub(crate) fn default_on_create(resource: &ResourceType, object: &mut Value) {
    if resource.kind == "Namespace" {
        if object.pointer("/spec/finalizers").is_none() {
            object["spec"] = json!({ "finalizers": ["kubernetes"] });
        }
        object["status"] = json!({ "phase": "Active" });
    }
    if (resource.group, resource.kind) == ("", "Pod")
        && object.get("status").is_none_or(Value::is_null)
    {
        object["status"] = json!({ "phase": "Pending" });
    }
    normalize(resource, object);
}

/// Rules kube-apiserver applies on every write: field defaults (`api::defaults`); a namespace
/// carries its name as the
/// `kubernetes.io/metadata.name` label; a secret's `stringData` moves into `data` (base64)
/// and its type defaults to `Opaque`.
pub(crate) fn normalize(resource: &ResourceType, object: &mut Value) {
    berth_api::defaults::apply(resource.group, resource.kind, object);
    match (resource.group, resource.kind) {
        ("", "Namespace") => {
            if let Some(name) = object.pointer("/metadata/name").cloned() {
                object["metadata"]["labels"]["kubernetes.io/metadata.name"] = name;
            }
        }
        ("", "Secret") => {
            use base64::Engine;
            if let Some(Value::Object(plain)) =
                object.as_object_mut().and_then(|o| o.remove("stringData"))
            {
                for (key, value) in plain {
                    let text = value.as_str().unwrap_or_default();
                    let encoded = base64::engine::general_purpose::STANDARD.encode(text);
                    object["data"][key] = json!(encoded);
                }
            }
            if object.get("type").and_then(Value::as_str).is_none_or(str::is_empty) {
                object["type"] = json!("Opaque");
            }
        }
        _ => {}
    }
}

/// Keeps what an update cannot change (identity, creation, deletion, generation), splits main
/// resource and `status` subresource updates, and bumps `generation` when the spec changed.
pub(crate) fn keep_immutable(
    resource: &ResourceType,
    current: &Value,
    updated: &mut Value,
    subresource: Option<&str>,
) -> Result<(), Status> {
    let has_status = resource.subresource("status").is_some();
    if subresource == Some("status") {
        // Only the status changes.
        let status = updated.get("status").cloned();
        *updated = current.clone();
        match status {
            Some(status) => updated["status"] = status,
            None => {
                if let Some(map) = updated.as_object_mut() {
                    map.remove("status");
                }
            }
        }
    } else if has_status {
        match current.get("status") {
            Some(status) => updated["status"] = status.clone(),
            None => {
                if let Some(map) = updated.as_object_mut() {
                    map.remove("status");
                }
            }
        }
    }
    let current_meta = current.get("metadata").cloned().unwrap_or_else(|| json!({}));
    let metadata = metadata_mut(updated)?;
    for field in [
        "name",
        "namespace",
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
    ] {
        match current_meta.get(field) {
            Some(value) => metadata.insert(field.into(), value.clone()),
            None => metadata.remove(field),
        };
    }
    metadata.remove("resourceVersion");
    if current.get("spec") != updated.get("spec")
        && let Some(generation) = current.pointer("/metadata/generation").and_then(Value::as_i64)
    {
        metadata_mut(updated)?.insert("generation".into(), json!(generation + 1));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_kind_rules() {
        assert!(name_problems("Pod", "web-0").is_empty());
        assert!(name_problems("Pod", "a.b-c.d").is_empty());
        assert_eq!(name_problems("Pod", "Web"), vec![SUBDOMAIN.to_owned()]);
        assert_eq!(name_problems("Namespace", "a.b"), vec![LABEL_1123.to_owned()]);
        assert!(name_problems("Namespace", "123-abc").is_empty());
        assert_eq!(name_problems("Service", "1abc"), vec![LABEL_1035.to_owned()]);
        assert_eq!(name_problems("Pod", "-x").len(), 1);
        assert_eq!(name_problems("Namespace", &"a".repeat(64)).len(), 1);
    }

    #[test]
    fn uids_are_version_4() {
        let uid = new_uid();
        assert_eq!(uid.len(), 36);
        assert_eq!(&uid[14..15], "4");
        assert_ne!(uid, new_uid());
    }

    #[test]
    fn timestamps_are_whole_seconds_utc() {
        let now = now_rfc3339();
        assert_eq!(now.len(), 20, "{now}");
        assert!(now.ends_with('Z'));
    }
}
