//! Strategic merge patch (`application/strategic-merge-patch+json`), as kubectl's client-side
//! `apply`, `patch` and `edit` send it: a JSON merge patch in which lists with a patch merge
//! key (containers by `name`, ports by `containerPort`, …) merge element by element, lists
//! with the `merge` strategy and no key merge as sets, and `$patch`, `$retainKeys`,
//! `$deleteFromPrimitiveList/…` and `$setElementOrder/…` directives apply.
//!
//! Which field has which strategy comes from Kubernetes' v1.33 OpenAPI definitions, reduced
//! by `scripts/gen-patch-meta.py` to `patch-meta.json` (committed, embedded here).

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::Deserialize;
use serde_json::{Map, Value};

#[derive(Debug, Deserialize)]
struct Meta {
    /// `group/version/Kind` → definition name.
    kinds: HashMap<String, String>,
    /// definition → field → how it patches.
    types: HashMap<String, HashMap<String, Field>>,
}

#[derive(Debug, Deserialize, Default)]
struct Field {
    #[serde(rename = "ref")]
    target: Option<String>,
    #[serde(default)]
    list: bool,
    #[serde(default)]
    map: bool,
    strategy: Option<String>,
    key: Option<String>,
}

fn meta() -> &'static Meta {
    static META: OnceLock<Meta> = OnceLock::new();
    META.get_or_init(|| {
        // The file is generated and committed with this crate; its shape is tested below.
        serde_json::from_str(include_str!("patch-meta.json"))
            .unwrap_or_else(|_| Meta { kinds: HashMap::new(), types: HashMap::new() })
    })
}

/// Applies `patch` to `original`, an object of `group`/`version`/`kind`. Kinds without
/// definitions patch as JSON merge patches with directives honoured, as kube-apiserver does for
/// unknown types. The error is a message for a 422.
pub fn apply(
    group: &str,
    version: &str,
    kind: &str,
    original: &Value,
    patch: &Value,
) -> Result<Value, String> {
    let Value::Object(patch) = patch else {
        return Err("a strategic merge patch must be a JSON object".into());
    };
    let definition = meta().kinds.get(&format!("{group}/{version}/{kind}")).map(String::as_str);
    let mut result = original.clone();
    merge_map(&mut result, patch, definition)?;
    Ok(result)
}

fn fields_of(definition: Option<&str>) -> Option<&'static HashMap<String, Field>> {
    meta().types.get(definition?)
}

fn merge_map(
    target: &mut Value,
    patch: &Map<String, Value>,
    definition: Option<&str>,
) -> Result<(), String> {
    match patch.get("$patch").and_then(Value::as_str) {
        Some("replace") => {
            let mut replacement = patch.clone();
            replacement.remove("$patch");
            *target = Value::Object(replacement);
            return Ok(());
        }
        Some("delete") => {
            *target = Value::Object(Map::new());
            return Ok(());
        }
        Some("merge") | None => {}
        Some(other) => return Err(format!("unknown patch type {other:?} in map")),
    }
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let fields = fields_of(definition);
    let Value::Object(map) = target else { return Ok(()) };
    for (key, value) in patch {
        if key == "$patch" || key == "$retainKeys" || key.starts_with("$setElementOrder/") {
            continue;
        }
        if let Some(field) = key.strip_prefix("$deleteFromPrimitiveList/") {
            let doomed = value.as_array().cloned().unwrap_or_default();
            if let Some(Value::Array(items)) = map.get_mut(field) {
                items.retain(|item| !doomed.contains(item));
            }
            continue;
        }
        if value.is_null() {
            map.remove(key);
            continue;
        }
        let field = fields.and_then(|f| f.get(key));
        let element_type = field.and_then(|f| f.target.as_deref());
        match value {
            Value::Object(inner) if field.is_some_and(|f| f.map) => {
                // A map whose values are typed objects: merge each value with its type.
                let slot = map.entry(key.clone()).or_insert_with(|| Value::Object(Map::new()));
                if !slot.is_object() {
                    *slot = Value::Object(Map::new());
                }
                if let Value::Object(existing) = slot {
                    for (name, item) in inner {
                        match item {
                            Value::Null => {
                                existing.remove(name);
                            }
                            Value::Object(item) => {
                                let entry = existing.entry(name.clone()).or_insert(Value::Null);
                                merge_map(entry, item, element_type)?;
                            }
                            other => {
                                existing.insert(name.clone(), other.clone());
                            }
                        }
                    }
                }
            }
            Value::Object(inner) => {
                let slot = map.entry(key.clone()).or_insert(Value::Null);
                merge_map(slot, inner, element_type)?;
            }
            Value::Array(items) => {
                let strategy = field.and_then(|f| f.strategy.as_deref()).unwrap_or_default();
                let merge =
                    field.is_some_and(|f| f.list) && strategy.split(',').any(|s| s == "merge");
                let slot = map.entry(key.clone()).or_insert(Value::Array(Vec::new()));
                if merge {
                    merge_list(slot, items, field.and_then(|f| f.key.as_deref()), element_type)?;
                } else {
                    *slot = Value::Array(strip_directives(items));
                }
            }
            other => {
                map.insert(key.clone(), other.clone());
            }
        }
    }
    if let Some(Value::Array(retain)) = patch.get("$retainKeys") {
        let keep: Vec<&str> = retain.iter().filter_map(Value::as_str).collect();
        map.retain(|key, _| keep.contains(&key.as_str()));
    }
    Ok(())
}

/// A list with the `merge` strategy: by `key` for lists of objects, as a set otherwise.
fn merge_list(
    target: &mut Value,
    patch: &[Value],
    key: Option<&str>,
    element_type: Option<&str>,
) -> Result<(), String> {
    if patch.iter().any(|item| item.get("$patch").and_then(Value::as_str) == Some("replace")) {
        *target = Value::Array(strip_directives(patch));
        return Ok(());
    }
    if !target.is_array() {
        *target = Value::Array(Vec::new());
    }
    let Value::Array(items) = target else { return Ok(()) };
    let Some(key) = key else {
        for item in patch {
            if !items.contains(item) {
                items.push(item.clone());
            }
        }
        return Ok(());
    };
    for item in patch {
        let Value::Object(element) = item else {
            return Err(format!("a list merged by {key:?} needs objects, got {item}"));
        };
        let Some(id) = element.get(key) else {
            return Err(format!("an element of a list merged by {key:?} lacks {key:?}"));
        };
        let position = items.iter().position(|existing| existing.get(key) == Some(id));
        match (element.get("$patch").and_then(Value::as_str), position) {
            (Some("delete"), Some(index)) => {
                items.remove(index);
            }
            (Some("delete"), None) => {}
            (_, Some(index)) => merge_map(&mut items[index], element, element_type)?,
            (_, None) => {
                let mut added = Value::Object(Map::new());
                merge_map(&mut added, element, element_type)?;
                items.push(added);
            }
        }
    }
    Ok(())
}

/// A list as stored: without `$patch` elements and directive keys.
fn strip_directives(items: &[Value]) -> Vec<Value> {
    items
        .iter()
        .filter(|item| {
            item.get("$patch").is_none() || item.as_object().is_some_and(|o| o.len() > 1)
        })
        .map(|item| match item {
            Value::Object(map) => {
                let mut map = map.clone();
                map.retain(|k, _| !k.starts_with('$'));
                Value::Object(map)
            }
            other => other.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn sts(template_spec: Value) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "web"},
               "spec": {"replicas": 3, "template": {"spec": template_spec}}})
    }

    #[test]
    fn the_generated_definitions_know_the_served_kinds() {
        let meta = meta();
        for kind in ["/v1/Pod", "/v1/Service", "apps/v1/StatefulSet", "/v1/PersistentVolumeClaim"] {
            assert!(meta.kinds.contains_key(kind), "{kind}");
        }
        let containers = &meta.types["io.k8s.api.core.v1.PodSpec"]["containers"];
        assert_eq!(containers.key.as_deref(), Some("name"));
        assert_eq!(containers.strategy.as_deref(), Some("merge"));
    }

    #[test]
    fn containers_merge_by_name_and_keep_unpatched_fields() {
        let original = sts(json!({"containers": [
            {"name": "a", "image": "nginx:1", "ports": [{"containerPort": 80, "protocol": "TCP"}]},
            {"name": "b", "image": "busybox"}]}));
        let patch = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "a", "image": "nginx:2", "ports": [{"containerPort": 443}]},
            {"name": "c", "image": "redis"},
            {"name": "b", "$patch": "delete"}]}}}});
        let patched = apply("apps", "v1", "StatefulSet", &original, &patch).unwrap();
        assert_eq!(
            patched["spec"]["template"]["spec"]["containers"],
            json!([{"name": "a", "image": "nginx:2",
                    "ports": [{"containerPort": 80, "protocol": "TCP"}, {"containerPort": 443}]},
                   {"name": "c", "image": "redis"}])
        );
        assert_eq!(patched["spec"]["replicas"], 3);
    }

    #[test]
    fn lists_without_a_strategy_are_replaced_and_null_deletes() {
        let original = json!({"spec": {"accessModes": ["ReadWriteOnce"], "volumeName": "pv"}});
        let patch = json!({"spec": {"accessModes": ["ReadWriteMany"], "volumeName": null}});
        let patched = apply("", "v1", "PersistentVolumeClaim", &original, &patch).unwrap();
        assert_eq!(patched, json!({"spec": {"accessModes": ["ReadWriteMany"]}}));
    }

    #[test]
    fn finalizers_merge_as_a_set_and_directives_apply() {
        let original =
            json!({"metadata": {"finalizers": ["a", "b"], "labels": {"x": "1", "y": "2"}}});
        let patch = json!({"metadata": {"finalizers": ["b", "c"], "$deleteFromPrimitiveList/finalizers": ["a"],
                                        "$setElementOrder/finalizers": ["b", "c"],
                                        "labels": {"$patch": "replace", "z": "3"}}});
        let patched = apply("", "v1", "Pod", &original, &patch).unwrap();
        assert_eq!(patched, json!({"metadata": {"finalizers": ["b", "c"], "labels": {"z": "3"}}}));
    }

    #[test]
    fn retain_keys_drops_the_other_members() {
        let original = json!({"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}});
        let patch = json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}});
        let patched = apply("apps", "v1", "Deployment", &original, &patch).unwrap();
        assert_eq!(patched, json!({"spec": {"strategy": {"type": "Recreate"}}}));
    }

    #[test]
    fn malformed_patches_are_errors() {
        assert!(apply("", "v1", "Pod", &json!({}), &json!([1])).is_err());
        let patch = json!({"spec": {"containers": [{"image": "x"}]}});
        assert!(apply("", "v1", "Pod", &json!({}), &patch).unwrap_err().contains("lacks"));
    }
}
