//! The `scale` subresource: an `autoscaling/v1` `Scale` view of a workload's replicas, which
//! `kubectl scale` reads and patches, and server-side apply of a Scale.

use axum::http::StatusCode;
use axum::response::Response;
use berth_api::kinds::ResourceType;
use serde_json::{Value, json};

use crate::resources::{Context, json_response, write_back};
use crate::status::Status;

/// Server-side apply of a `Scale`: its `spec.replicas` is applied to the workload itself by
/// the request's manager for the `scale` subresource, so the workload's managedFields record
/// who owns its replicas and conflicts are found against them (kube-apiserver's ScaleHandler
/// maps the Scale's fields to the parent's the same way).
pub(crate) async fn apply(cx: &Context, bytes: &[u8]) -> Result<Response, Status> {
    let (config, _) = crate::apply::parse(bytes)?;
    let version = config.get("apiVersion").and_then(Value::as_str).unwrap_or_default();
    if version != "autoscaling/v1" {
        return Err(Status::bad_request(format!(
            "Incorrect version specified in apply patch. Specified patch version: {version}, expected: autoscaling/v1"
        )));
    }
    let resource = cx.resource();
    let mut spec = serde_json::Map::new();
    if let Some(replicas) = config.pointer("/spec/replicas") {
        if !replicas.is_null() && replicas.as_i64().is_none_or(|r| r < 0) {
            return Err(Status::bad_request(format!(
                "spec.replicas must be a non-negative integer, got {replicas}"
            )));
        }
        spec.insert("replicas".into(), replicas.clone());
    }
    let mut parent = json!({
        "apiVersion": resource.api_version(),
        "kind": resource.kind,
        "metadata": {"name": cx.name()},
    });
    match (paths(resource), spec.remove("replicas")) {
        (Some(paths), Some(replicas)) => set_at(&mut parent, &paths.spec_replicas, replicas),
        (Some(_), None) => {}
        (None, replicas) => {
            if let Some(replicas) = replicas {
                spec.insert("replicas".into(), replicas);
            }
            parent["spec"] = Value::Object(spec);
        }
    }
    let written = write_back(cx, None, None, |current| {
        crate::apply::apply_config(
            resource,
            &cx.headers,
            &cx.query,
            Some("scale"),
            Some(current),
            &parent,
        )
    })
    .await?;
    Ok(json_response(StatusCode::OK, &view(resource, &written.object)))
}

/// A custom resource's scale paths (`subresources.scale` of its CRD version), as JSON
/// pointers; `None` for the built-in workloads.
struct Pointers {
    spec_replicas: String,
    status_replicas: String,
    label_selector: Option<String>,
}

fn paths(resource: &ResourceType) -> Option<Pointers> {
    let custom = crate::crds::info(resource)?;
    let scale = custom.scale.as_ref()?;
    let pointer = |path: &str| path.replace('.', "/");
    Some(Pointers {
        spec_replicas: pointer(&scale.spec_replicas),
        status_replicas: pointer(&scale.status_replicas),
        label_selector: scale.label_selector.as_deref().map(pointer),
    })
}

/// Sets the field at JSON pointer `at`, creating the objects on the way.
fn set_at(object: &mut Value, at: &str, value: Value) {
    let mut here = object;
    let parts: Vec<&str> = at.trim_start_matches('/').split('/').collect();
    for (i, part) in parts.iter().enumerate() {
        if !here.is_object() {
            *here = json!({});
        }
        let Some(map) = here.as_object_mut() else { return };
        if i + 1 == parts.len() {
            map.insert((*part).to_owned(), value);
            return;
        }
        here = map.entry(*part).or_insert_with(|| json!({}));
    }
}

/// The Scale of `object` (a StatefulSet, Deployment or ReplicaSet, or a custom resource
/// with a scale subresource: its replicas and selector where its CRD says).
pub(crate) fn view(resource: &ResourceType, object: &Value) -> Value {
    let metadata = &object["metadata"];
    let mut scale_meta = serde_json::Map::new();
    for field in ["name", "namespace", "uid", "resourceVersion", "creationTimestamp"] {
        if let Some(value) = metadata.get(field) {
            scale_meta.insert(field.into(), value.clone());
        }
    }
    let (spec_replicas, status_replicas, selector) = match paths(resource) {
        Some(paths) => {
            let selector = paths.label_selector.and_then(|at| object.pointer(&at).cloned());
            (paths.spec_replicas, paths.status_replicas, selector.unwrap_or_else(|| json!("")))
        }
        None => (
            "/spec/replicas".to_owned(),
            "/status/replicas".to_owned(),
            json!(selector_string(object.pointer("/spec/selector"))),
        ),
    };
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": scale_meta,
        "spec": { "replicas": object.pointer(&spec_replicas).cloned().unwrap_or(json!(0)) },
        "status": {
            "replicas": object.pointer(&status_replicas).cloned().unwrap_or(json!(0)),
            "selector": selector,
        },
    })
}

/// `object` with the replicas a Scale asks for.
pub(crate) fn with_replicas(
    resource: &ResourceType,
    object: &Value,
    scale: &Value,
) -> Result<Value, Status> {
    let replicas = match scale.pointer("/spec/replicas") {
        None | Some(Value::Null) => 0,
        Some(value) => value.as_i64().filter(|r| *r >= 0).ok_or_else(|| {
            Status::bad_request(format!(
                "spec.replicas must be a non-negative integer, got {value}"
            ))
        })?,
    };
    let mut updated = object.clone();
    let at = paths(resource).map_or_else(|| "/spec/replicas".to_owned(), |p| p.spec_replicas);
    set_at(&mut updated, &at, json!(replicas));
    Ok(updated)
}

/// A label selector in its string form (`app=nginx,tier in (a,b)`), as Scale reports it.
fn selector_string(selector: Option<&Value>) -> String {
    let Some(selector) = selector else { return String::new() };
    let mut parts = Vec::new();
    if let Some(labels) = selector.get("matchLabels").and_then(Value::as_object) {
        for (key, value) in labels {
            parts.push(format!("{key}={}", value.as_str().unwrap_or_default()));
        }
    }
    if let Some(expressions) = selector.get("matchExpressions").and_then(Value::as_array) {
        for expression in expressions {
            let key = expression["key"].as_str().unwrap_or_default();
            let values: Vec<&str> = expression["values"]
                .as_array()
                .map(|v| v.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            parts.push(match expression["operator"].as_str().unwrap_or_default() {
                "In" => format!("{key} in ({})", values.join(",")),
                "NotIn" => format!("{key} notin ({})", values.join(",")),
                "Exists" => key.to_owned(),
                "DoesNotExist" => format!("!{key}"),
                _ => continue,
            });
        }
    }
    parts.sort();
    parts.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sets() -> &'static ResourceType {
        berth_api::kinds::find("apps", "v1", "statefulsets").unwrap()
    }

    #[test]
    fn scale_reflects_replicas_and_selector() {
        let sts = json!({"metadata": {"name": "web", "namespace": "s", "uid": "u", "resourceVersion": "7"},
                         "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "nginx"},
                                  "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}]}},
                         "status": {"replicas": 2}});
        let scale = view(sets(), &sts);
        assert_eq!(scale["spec"]["replicas"], 3);
        assert_eq!(scale["status"], json!({"replicas": 2, "selector": "app=nginx,tier in (a,b)"}));
        assert_eq!(scale["metadata"]["resourceVersion"], "7");
        let scaled = with_replicas(sets(), &sts, &json!({"spec": {"replicas": 5}})).unwrap();
        assert_eq!(scaled["spec"]["replicas"], 5);
        assert!(with_replicas(sets(), &sts, &json!({"spec": {"replicas": -1}})).is_err());
    }
}
