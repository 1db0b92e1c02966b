//! Unknown fields: what kube-apiserver's strict decoding reports (`unknown field "spec.foo"`)
//! and its typed decoding drops; and the time fields its decoding parses and re-encodes
//! (`metav1.Time` in whole UTC seconds, `MicroTime` in microseconds, see [`crate::metatime`]).
//! Which fields exist comes from the v1.33 OpenAPI definitions, reduced by
//! `scripts/gen-field-schema.py` to `fields.json` (committed, embedded here).

use std::sync::OnceLock;

// The schema is looked up for every field of every write: a fast hash, not SipHash.
use foldhash::{HashMap, HashMapExt};
use serde::Deserialize;
use serde_json::Value;

use crate::metatime::{self, Precision, Reencoded};

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
    /// `0` a value of no known shape, `1` a Time, `2` a MicroTime, `3` a map of Times.
    Leaf(u8),
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

/// What decoding an object as kube-apiserver's typed decoding does found in it.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Decoded {
    /// The paths of the fields its schema does not have (`spec.template.spec.containers[0].foo`),
    /// in document order; they are removed.
    pub unknown: Vec<String>,
    /// The first time field that does not decode: Go's error (`parsing time "…" as "…": …`).
    pub malformed_time: Option<String>,
}

/// Decodes `object`, a `group`/`version`/`kind` object, as kube-apiserver's typed decoding
/// would: removes every field its schema does not have, and writes each time field as its
/// `MarshalJSON` would (UTC, whole seconds for a Time). Kinds without a schema are left alone.
pub fn decode_typed(group: &str, version: &str, kind: &str, object: &mut Value) -> Decoded {
    let mut decoded = Decoded::default();
    if let Some(definition) = schema().kinds.get(&format!("{group}/{version}/{kind}")) {
        walk(definition, object, At::Root, &mut decoded);
    }
    decoded
}

/// Decodes the `metadata` of `object` as the typed decoding of `metav1.ObjectMeta` would
/// (unknown fields removed and reported as `metadata.…`, times re-encoded): what a custom
/// resource's metadata goes through (`schemaobjectmeta.GetObjectMeta`), its schema being
/// pruned apart.
pub fn decode_object_meta(object: &mut Value) -> Decoded {
    match object.get_mut("metadata") {
        Some(metadata) => decode_object_meta_at(metadata, "metadata"),
        None => Decoded::default(),
    }
}

/// [`decode_object_meta`] of a `metadata` value found at `path` (an embedded resource's,
/// `spec.template.metadata`): the unknown fields are reported under `path`.
pub fn decode_object_meta_at(metadata: &mut Value, path: &str) -> Decoded {
    let mut decoded = Decoded::default();
    walk("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", metadata, At::Root, &mut decoded);
    for unknown in &mut decoded.unknown {
        *unknown = format!("{path}.{unknown}");
    }
    decoded
}

/// Writes the time `value` as kube-apiserver re-encodes it, or notes why it does not decode.
fn reencode_time(value: &mut Value, precision: Precision, decoded: &mut Decoded) {
    let result = match &*value {
        Value::Null => return,
        Value::String(text) => match metatime::normalize(text, precision) {
            Ok(Reencoded::Unchanged) => return,
            Ok(Reencoded::Text(normal)) => Ok(Value::String(normal)),
            Ok(Reencoded::Null) => Ok(Value::Null),
            Err(error) => Err(error),
        },
        other => Err(metatime::not_a_string(other)),
    };
    match result {
        Ok(normal) => *value = normal,
        Err(error) => {
            decoded.malformed_time.get_or_insert(error);
        }
    }
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

fn walk(definition: &str, value: &mut Value, at: At<'_>, decoded: &mut Decoded) {
    let Some(fields) = schema().types.get(definition) else { return };
    let Value::Object(map) = value else { return };
    let mut drop = Vec::new();
    for (name, child) in map.iter_mut() {
        let here = At::Field(&at, name);
        match fields.get(name.as_str()) {
            None => {
                decoded.unknown.push(here.path());
                drop.push(name.clone());
            }
            Some(Field::Leaf(1)) => reencode_time(child, Precision::Seconds, decoded),
            Some(Field::Leaf(2)) => reencode_time(child, Precision::Micros, decoded),
            Some(Field::Leaf(3)) => {
                if let Value::Object(times) = child {
                    for time in times.values_mut() {
                        reencode_time(time, Precision::Seconds, decoded);
                    }
                }
            }
            Some(Field::Leaf(_)) => {}
            Some(Field::Nested(target, shape)) => match (shape.as_str(), child) {
                ("l", Value::Array(items)) => {
                    for (i, item) in items.iter_mut().enumerate() {
                        walk(target, item, At::Index(&here, i), decoded);
                    }
                }
                ("m", Value::Object(items)) => {
                    for (k, item) in items.iter_mut() {
                        walk(target, item, At::Key(&here, k), decoded);
                    }
                }
                (_, child) => walk(target, child, here, decoded),
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
        let unknown = decode_typed("apps", "v1", "StatefulSet", &mut sts).unknown;
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
        assert_eq!(
            decode_typed("apps", "v1", "ControllerRevision", &mut revision),
            Decoded::default()
        );
        let mut unknown_kind = json!({"whatever": 1});
        assert_eq!(
            decode_typed("example.com", "v1", "Thing", &mut unknown_kind),
            Decoded::default()
        );
    }

    #[test]
    fn times_are_reencoded_and_bad_ones_reported_first_in_document_order() {
        let mut job = json!({
            "metadata": {"name": "j", "creationTimestamp": "2026-12-07T23:00:00.5+01:00",
                "managedFields": [{"manager": "m", "time": "2026-12-07T22:00:00.999Z"}]},
            "status": {"startTime": "2026-12-07T22:00:00+00:00", "completionTime": null},
        });
        let decoded = decode_typed("batch", "v1", "Job", &mut job);
        assert_eq!(decoded, Decoded::default());
        assert_eq!(job["metadata"]["creationTimestamp"], "2026-12-07T22:00:00Z");
        assert_eq!(job["metadata"]["managedFields"][0]["time"], "2026-12-07T22:00:00Z");
        assert_eq!(job["status"]["startTime"], "2026-12-07T22:00:00Z");
        assert_eq!(job["status"]["completionTime"], Value::Null);

        let mut lease = json!({"spec": {"acquireTime": "2026-12-07T22:00:00.123456Z",
            "renewTime": "2026-12-07T23:00:00.000001+01:00"}});
        assert_eq!(
            decode_typed("coordination.k8s.io", "v1", "Lease", &mut lease),
            Decoded::default()
        );
        assert_eq!(lease["spec"]["acquireTime"], "2026-12-07T22:00:00.123456Z");
        assert_eq!(lease["spec"]["renewTime"], "2026-12-07T22:00:00.000001Z");

        let mut budget = json!({"status": {"disruptedPods": {"a": "2026-12-07T23:00:00+01:00"}}});
        assert_eq!(
            decode_typed("policy", "v1", "PodDisruptionBudget", &mut budget),
            Decoded::default()
        );
        assert_eq!(budget["status"]["disruptedPods"]["a"], "2026-12-07T22:00:00Z");

        let mut bad = json!({"status": {"startTime": 5, "completionTime": "yesterday"}});
        let decoded = decode_typed("batch", "v1", "Job", &mut bad);
        assert_eq!(
            decoded.malformed_time.as_deref(),
            Some("json: cannot unmarshal number into Go value of type string")
        );
        // A MicroTime has exactly six fraction digits.
        let mut bad = json!({"spec": {"renewTime": "2026-12-07T22:00:00.123456789Z"}});
        let decoded = decode_typed("coordination.k8s.io", "v1", "Lease", &mut bad);
        assert_eq!(
            decoded.malformed_time.as_deref(),
            Some(
                r#"parsing time "2026-12-07T22:00:00.123456789Z" as "2006-01-02T15:04:05.000000Z07:00": cannot parse "789Z" as "Z07:00""#
            )
        );
        let mut bad = json!({"status": {"completionTime": "yesterday"}});
        let decoded = decode_typed("batch", "v1", "Job", &mut bad);
        assert_eq!(
            decoded.malformed_time.as_deref(),
            Some(
                r#"parsing time "yesterday" as "2006-01-02T15:04:05Z07:00": cannot parse "yesterday" as "2006""#
            )
        );
    }
}
