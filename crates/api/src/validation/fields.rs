//! Unknown fields: what kube-apiserver's strict decoding reports (`unknown field "spec.foo"`)
//! and its typed decoding drops. Which fields exist comes from the v1.33 OpenAPI definitions,
//! reduced by `scripts/gen-field-schema.py` to `fields.json` (committed, embedded here).

use std::sync::OnceLock;

// The schema is looked up for every field of every write: a fast hash, not SipHash.
use foldhash::{HashMap, HashMapExt};
use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Deserialize)]
struct Schema {
    /// `group/version/Kind` → definition name.
    kinds: HashMap<String, String>,
    /// definition → field → `0` (a value of no known shape) or `[definition, shape]`.
    types: HashMap<String, HashMap<String, Field>>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Field {
    Leaf(#[allow(dead_code, reason = "the generator writes 0 for leaves")] u8),
    /// `[definition, "o" | "l" | "m"]`: one object, a list of them, a map of them.
    Nested(String, String),
}

fn schema() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        // The file is generated and committed with this crate; its shape is tested below.
        serde_json::from_str(include_str!("fields.json"))
            .unwrap_or_else(|_| Schema { kinds: HashMap::new(), types: HashMap::new() })
    })
}

/// Removes from `object`, a `group`/`version`/`kind` object, every field its schema does not
/// have, and returns their paths (`spec.template.spec.containers[0].foo`) in document order.
/// Kinds without a schema are left alone.
pub fn prune_unknown(group: &str, version: &str, kind: &str, object: &mut Value) -> Vec<String> {
    let mut unknown = Vec::new();
    if let Some(definition) = schema().kinds.get(&format!("{group}/{version}/{kind}")) {
        walk(definition, object, At::Root, &mut unknown);
    }
    unknown
}

/// The definition `group/version/kind` objects have in the field schema.
pub(crate) fn definition_of(group: &str, version: &str, kind: &str) -> Option<&'static str> {
    schema().kinds.get(&format!("{group}/{version}/{kind}")).map(String::as_str)
}

/// Whether the schema lists `definition`'s fields (other definitions take any value).
pub(crate) fn has_properties(definition: &str) -> bool {
    schema().types.contains_key(definition)
}

/// The field `name` of `definition`: `None` when undeclared, `Some(None)` for a value of no
/// known shape, else its definition and shape (`"o"` one, `"l"` a list, `"m"` a map of them).
pub(crate) fn field_of(
    definition: &str,
    name: &str,
) -> Option<Option<(&'static str, &'static str)>> {
    match schema().types.get(definition)?.get(name)? {
        Field::Leaf(_) => Some(None),
        Field::Nested(target, shape) => Some(Some((target.as_str(), shape.as_str()))),
    }
}

/// Where [`walk`] is, built into a path string only for an unknown field (most fields are
/// known, and this runs for every field of every write).
#[derive(Clone, Copy)]
enum At<'a> {
    Root,
    Field(&'a At<'a>, &'a str),
    Index(&'a At<'a>, usize),
    Key(&'a At<'a>, &'a str),
}

impl At<'_> {
    fn path(&self) -> String {
        match self {
            At::Root => String::new(),
            At::Field(parent, name) => super::child(&parent.path(), name),
            At::Index(parent, i) => super::index(&parent.path(), *i),
            At::Key(parent, k) => super::key(&parent.path(), k),
        }
    }
}

fn walk(definition: &str, value: &mut Value, at: At<'_>, unknown: &mut Vec<String>) {
    let Some(fields) = schema().types.get(definition) else { return };
    let Value::Object(map) = value else { return };
    let mut drop = Vec::new();
    for (name, child) in map.iter_mut() {
        let here = At::Field(&at, name);
        match fields.get(name.as_str()) {
            None => {
                unknown.push(here.path());
                drop.push(name.clone());
            }
            Some(Field::Leaf(_)) => {}
            Some(Field::Nested(target, shape)) => match (shape.as_str(), child) {
                ("l", Value::Array(items)) => {
                    for (i, item) in items.iter_mut().enumerate() {
                        walk(target, item, At::Index(&here, i), unknown);
                    }
                }
                ("m", Value::Object(items)) => {
                    for (k, item) in items.iter_mut() {
                        walk(target, item, At::Key(&here, k), unknown);
                    }
                }
                (_, child) => walk(target, child, here, unknown),
            },
        }
    }
    for name in drop {
        map.remove(&name);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn every_served_kind_has_a_schema() {
        for kind in [
            "/v1/Pod",
            "/v1/Service",
            "/v1/ConfigMap",
            "/v1/Secret",
            "/v1/Namespace",
            "/v1/Node",
            "/v1/PersistentVolume",
            "/v1/PersistentVolumeClaim",
            "/v1/Endpoints",
            "/v1/Event",
            "/v1/ServiceAccount",
            "apps/v1/StatefulSet",
            "apps/v1/ControllerRevision",
            "storage.k8s.io/v1/StorageClass",
            "coordination.k8s.io/v1/Lease",
            "discovery.k8s.io/v1/EndpointSlice",
            "events.k8s.io/v1/Event",
        ] {
            assert!(schema().kinds.contains_key(kind), "{kind}");
        }
    }

    #[test]
    fn unknown_fields_are_found_at_any_depth_and_dropped() {
        let mut sts = json!({
            "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "web", "labels": {"any": "x"}},
            "spec": {"foo": 1, "selector": {"matchLabels": {"app": "x"}},
                "template": {"metadata": {"annotations": {"a": "b"}},
                    "spec": {"containers": [{"name": "c", "image": "i", "bogus": true,
                        "resources": {"limits": {"cpu": "1"}}}]}}},
            "status": {"replicas": 0},
        });
        let unknown = prune_unknown("apps", "v1", "StatefulSet", &mut sts);
        assert_eq!(unknown, vec!["spec.foo", "spec.template.spec.containers[0].bogus"]);
        assert!(sts["spec"].get("foo").is_none());
        assert!(sts["spec"]["template"]["spec"]["containers"][0].get("bogus").is_none());
        assert_eq!(
            sts["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"],
            "1"
        );
    }

    #[test]
    fn opaque_values_are_not_checked() {
        let mut revision = json!({"metadata": {"name": "r"}, "revision": 1,
            "data": {"spec": {"template": {"anything": 1}}}});
        assert!(prune_unknown("apps", "v1", "ControllerRevision", &mut revision).is_empty());
        let mut unknown_kind = json!({"whatever": 1});
        assert!(prune_unknown("example.com", "v1", "Thing", &mut unknown_kind).is_empty());
    }
}
