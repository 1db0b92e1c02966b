//! Duplicate fields in request bodies, found while decoding them (no second pass): what
//! kube-apiserver's strict decoding reports as `duplicate field "spec.paused"` (JSON, via
//! `sigs.k8s.io/json`) or `line 12: key "paused" already set in map` (YAML, via `yaml.v2`).
//! The decoded value keeps the last of duplicated keys, as the non-strict decoders do.

use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde_json::map::Entry;
use serde_json::{Map, Number, Value};

/// One step of a path into a decoded value.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

/// A key seen twice in one object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Duplicate {
    /// From the duplicated key up to the root (built while unwinding).
    reversed: Vec<Step>,
    /// How many distinct keys its object had when the duplicate came: it sits after those.
    at: usize,
    /// The 1-based line of the duplicate (YAML only).
    line: usize,
}

impl Duplicate {
    fn steps(&self) -> impl Iterator<Item = &Step> {
        self.reversed.iter().rev()
    }

    /// The path as Kubernetes' strict JSON decoding prints it: `spec.template.spec.containers[0].imagePullPolicy`.
    pub(crate) fn path(&self) -> String {
        let mut out = String::new();
        for step in self.steps() {
            match step {
                Step::Key(key) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(key);
                }
                Step::Index(i) => out.push_str(&format!("[{i}]")),
            }
        }
        out
    }

    fn key(&self) -> &str {
        match self.reversed.first() {
            Some(Step::Key(key)) => key,
            _ => "",
        }
    }

    /// yaml.v2's line: `line 12: key "paused" already set in map`.
    pub(crate) fn yaml_line(&self) -> String {
        format!("line {}: key {:?} already set in map", self.line, self.key())
    }
}

/// How a map key is read: JSON keys are strings; YAML keys also bring their line.
trait Keys {
    fn next<'de, A: MapAccess<'de>>(access: &mut A) -> Result<Option<(String, usize)>, A::Error>;
}

enum JsonKeys {}

impl Keys for JsonKeys {
    fn next<'de, A: MapAccess<'de>>(access: &mut A) -> Result<Option<(String, usize)>, A::Error> {
        Ok(access.next_key::<String>()?.map(|key| (key, 0)))
    }
}

enum YamlKeys {}

impl Keys for YamlKeys {
    fn next<'de, A: MapAccess<'de>>(access: &mut A) -> Result<Option<(String, usize)>, A::Error> {
        let key = access.next_key::<serde_saphyr::Spanned<YamlKey>>()?;
        Ok(key.map(|key| {
            let line = usize::try_from(key.referenced.line()).unwrap_or(0);
            (key.value.0, line)
        }))
    }
}

/// A YAML mapping key as text, whatever scalar it is (`1: x` has the key "1").
struct YamlKey(String);

impl<'de> Deserialize<'de> for YamlKey {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Ok(YamlKey(match value {
            Value::String(s) => s,
            Value::Null => "null".to_owned(),
            other => other.to_string(),
        }))
    }
}

/// A decoded value and the duplicates found in it, in document order.
struct Parsed<K> {
    value: Value,
    duplicates: Vec<Duplicate>,
    keys: PhantomData<K>,
}

impl<K> Parsed<K> {
    fn new(value: Value) -> Self {
        Parsed { value, duplicates: Vec::new(), keys: PhantomData }
    }
}

impl<'de, K: Keys> Deserialize<'de> for Parsed<K> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ParsedVisitor::<K>(PhantomData))
    }
}

struct ParsedVisitor<K>(PhantomData<K>);

impl<'de, K: Keys> Visitor<'de> for ParsedVisitor<K> {
    type Value = Parsed<K>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any valid JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Parsed::new(Value::Bool(v)))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Parsed::new(Value::Number(v.into())))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Parsed::new(Value::Number(v.into())))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Parsed::new(Number::from_f64(v).map_or(Value::Null, Value::Number)))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Parsed::new(Value::String(v.to_owned())))
    }

    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Parsed::new(Value::String(v)))
    }

    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(Parsed::new(Value::Null))
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Parsed::new(Value::Null))
    }

    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        Parsed::deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        let mut duplicates = Vec::new();
        while let Some(item) = seq.next_element::<Parsed<K>>()? {
            let index = items.len();
            for mut duplicate in item.duplicates {
                duplicate.reversed.push(Step::Index(index));
                duplicates.push(duplicate);
            }
            items.push(item.value);
        }
        Ok(Parsed { value: Value::Array(items), duplicates, keys: PhantomData })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
        let mut map = Map::new();
        let mut duplicates = Vec::new();
        while let Some((key, line)) = K::next(&mut access)? {
            let child = access.next_value::<Parsed<K>>()?;
            // The duplicate is reported where its key is, before what its value holds.
            let mark = duplicates.len();
            for mut duplicate in child.duplicates {
                duplicate.reversed.push(Step::Key(key.clone()));
                duplicates.push(duplicate);
            }
            let at = map.len();
            match map.entry(key) {
                Entry::Vacant(entry) => {
                    entry.insert(child.value);
                }
                Entry::Occupied(mut entry) => {
                    let reversed = vec![Step::Key(entry.key().clone())];
                    duplicates.insert(mark, Duplicate { reversed, at, line });
                    entry.insert(child.value);
                }
            }
        }
        Ok(Parsed { value: Value::Object(map), duplicates, keys: PhantomData })
    }
}

/// Decodes a JSON document, noting duplicated keys.
pub(crate) fn json(bytes: &[u8]) -> serde_json::Result<(Value, Vec<Duplicate>)> {
    let parsed: Parsed<JsonKeys> = serde_json::from_slice(bytes)?;
    Ok((parsed.value, parsed.duplicates))
}

/// Decodes a YAML document, noting duplicated keys (with their lines).
pub(crate) fn yaml(text: &str) -> Result<(Value, Vec<Duplicate>), serde_saphyr::Error> {
    let mut options = serde_saphyr::Options::default();
    options.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::PassThrough;
    let parsed: Parsed<YamlKeys> = serde_saphyr::from_str_with_options(text, options)?;
    Ok((parsed.value, parsed.duplicates))
}

/// yaml.v2's error for duplicated keys: `yaml: unmarshal errors:` and one indented line each.
pub(crate) fn yaml_error(duplicates: &[Duplicate]) -> String {
    let mut out = "yaml: unmarshal errors:".to_owned();
    for duplicate in duplicates {
        out.push_str("\n  ");
        out.push_str(&duplicate.yaml_line());
    }
    out
}

/// Duplicated keys of a request body, as strict decoding reports them.
#[derive(Clone, Debug, Default)]
pub(crate) enum Duplicates {
    #[default]
    None,
    /// A JSON body: `duplicate field "…"`, interleaved with unknown fields in document order.
    Json(Vec<Duplicate>),
    /// A YAML body: one yaml.v2 error before the unknown fields.
    Yaml(Vec<Duplicate>),
}

impl Duplicates {
    pub(crate) fn is_empty(&self) -> bool {
        match self {
            Duplicates::None => true,
            Duplicates::Json(list) | Duplicates::Yaml(list) => list.is_empty(),
        }
    }
}

/// Where a path sits in `value`, for ordering: each step's index in its object or array,
/// (index, 1); a duplicate's own step is (keys before it, 0), so it comes after them and
/// before the next new key.
fn position(value: &Value, steps: &[Step], tail: Option<usize>) -> Vec<(usize, u8)> {
    let mut out = Vec::with_capacity(steps.len() + 1);
    let mut here = Some(value);
    for step in steps {
        let next = match (step, here) {
            (Step::Key(key), Some(Value::Object(map))) => {
                out.push((map.keys().position(|k| k == key).unwrap_or(usize::MAX), 1));
                map.get(key)
            }
            (Step::Index(i), Some(Value::Array(items))) => {
                out.push((*i, 1));
                items.get(*i)
            }
            _ => {
                out.push((usize::MAX, 1));
                None
            }
        };
        here = next;
    }
    if let Some(at) = tail {
        out.push((at, 0));
    }
    out
}

/// The steps of an unknown field's path as `berth_api::validation::fields` prints it
/// (`spec.containers[0].foo`, map keys as `[key]`).
fn steps_of(path: &str, value: &Value) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut here = Some(value);
    let mut rest = path;
    while !rest.is_empty() {
        let (step, after) = if let Some(inner) = rest.strip_prefix('[') {
            let end = inner.find(']').unwrap_or(inner.len());
            let text = &inner[..end];
            let step = match (here, text.parse::<usize>()) {
                (Some(Value::Array(_)), Ok(i)) => Step::Index(i),
                _ => Step::Key(text.to_owned()),
            };
            (step, inner.get(end + 1..).unwrap_or_default())
        } else {
            let rest = rest.strip_prefix('.').unwrap_or(rest);
            let end = rest.find(['.', '[']).unwrap_or(rest.len());
            (Step::Key(rest[..end].to_owned()), &rest[end..])
        };
        here = match (&step, here) {
            (Step::Key(key), Some(Value::Object(map))) => map.get(key),
            (Step::Index(i), Some(Value::Array(items))) => items.get(*i),
            _ => None,
        };
        steps.push(step);
        rest = after;
    }
    steps
}

/// The strict decoding errors of a JSON body: its duplicates and its `unknown` fields (paths
/// found in `value` before they were dropped), in document order, as kube-apiserver lists them.
/// A duplicated field that is also unknown is reported once, as unknown.
pub(crate) fn json_errors(
    value: &Value,
    duplicates: &[Duplicate],
    unknown: &[String],
) -> Vec<String> {
    let mut keyed: Vec<(Vec<(usize, u8)>, String)> = Vec::new();
    for path in unknown {
        let steps = steps_of(path, value);
        keyed.push((position(value, &steps, None), format!("unknown field {path:?}")));
    }
    for duplicate in duplicates {
        let path = duplicate.path();
        let under_unknown = unknown.iter().any(|u| {
            path == *u || path.strip_prefix(u.as_str()).is_some_and(|r| r.starts_with(['.', '[']))
        });
        if under_unknown {
            continue;
        }
        let steps: Vec<Step> = duplicate.steps().cloned().collect();
        let parent = &steps[..steps.len().saturating_sub(1)];
        keyed.push((
            position(value, parent, Some(duplicate.at)),
            format!("duplicate field {path:?}"),
        ));
    }
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    keyed.into_iter().map(|(_, message)| message).collect()
}

/// The strict decoding errors of a patch body itself. Merge and strategic merge patches:
/// `duplicate field "spec.paused"`. JSON patches are decoded as a list of operations:
/// `json patch unknown field "[0].foo"`, `json patch duplicate field "[1].path"`.
pub(crate) fn patch_errors(
    json_patch: bool,
    patch: &Value,
    duplicates: &[Duplicate],
) -> Vec<String> {
    if !json_patch {
        return duplicates.iter().map(|d| format!("duplicate field {:?}", d.path())).collect();
    }
    let mut unknown = Vec::new();
    for (i, op) in patch.as_array().map(Vec::as_slice).unwrap_or_default().iter().enumerate() {
        let Some(op) = op.as_object() else { continue };
        for key in op.keys() {
            if !matches!(key.as_str(), "op" | "path" | "from" | "value") {
                unknown.push(format!("[{i}].{key}"));
            }
        }
    }
    if unknown.is_empty() && duplicates.is_empty() {
        return Vec::new();
    }
    json_errors(patch, duplicates, &unknown)
        .into_iter()
        .map(|e| format!("json patch {e}"))
        .collect()
}

/// Go's `%+v` of a decoded JSON value (what kube-apiserver prints of a strategic merge patch):
/// `map[spec:map[replicas:2]]`, keys sorted.
pub(crate) fn go_format(value: &Value) -> String {
    match value {
        Value::Null => "<nil>".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(go_format).collect();
            format!("[{}]", parts.join(" "))
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let parts: Vec<String> =
                keys.iter().map(|k| format!("{k}:{}", go_format(&map[k.as_str()]))).collect();
            format!("map[{}]", parts.join(" "))
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn json_duplicates_are_found_at_any_depth_and_the_last_value_wins() {
        let body = br#"{"metadata": {"name": "a", "name": "b"},
            "spec": {"paused": true, "replicas": 1, "paused": false,
                "template": {"spec": {"containers": [{"name": "c", "image": "i", "image": "j"}]}}}}"#;
        let (value, duplicates) = json(body).unwrap();
        assert_eq!(value["metadata"]["name"], "b");
        assert_eq!(value["spec"]["paused"], false);
        let spec: Vec<&String> = value["spec"].as_object().unwrap().keys().collect();
        assert_eq!(spec, ["paused", "replicas", "template"]);
        let paths: Vec<String> = duplicates.iter().map(Duplicate::path).collect();
        assert_eq!(
            paths,
            ["metadata.name", "spec.paused", "spec.template.spec.containers[0].image"]
        );
        let (plain, none) = json(br#"{"a": [1, 2.5, "x", null, {"b": true}]}"#).unwrap();
        assert_eq!(plain, json!({"a": [1, 2.5, "x", null, {"b": true}]}));
        assert!(none.is_empty());
        assert!(json(b"{\"a\": }").is_err());
    }

    #[test]
    fn unknown_and_duplicate_fields_interleave_in_document_order() {
        // Kubernetes' own field validation test body (test/integration/apiserver).
        let body = br#"{"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "x", "name": "y", "unknownMeta": "z", "labels": {"app": "nginx"}},
            "spec": {"unknown1": "val1", "unknownDupe": "valDupe", "unknownDupe": "valDupe2",
                "paused": true, "paused": false,
                "template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:latest",
                    "unknownNested": "val1", "imagePullPolicy": "Always", "imagePullPolicy": "Never"}]}}}}"#;
        let (value, duplicates) = json(body).unwrap();
        let unknown = [
            "metadata.unknownMeta".to_owned(),
            "spec.unknown1".to_owned(),
            "spec.unknownDupe".to_owned(),
            "spec.template.spec.containers[0].unknownNested".to_owned(),
        ];
        assert_eq!(
            json_errors(&value, &duplicates, &unknown),
            [
                r#"duplicate field "metadata.name""#,
                r#"unknown field "metadata.unknownMeta""#,
                r#"unknown field "spec.unknown1""#,
                r#"unknown field "spec.unknownDupe""#,
                r#"duplicate field "spec.paused""#,
                r#"unknown field "spec.template.spec.containers[0].unknownNested""#,
                r#"duplicate field "spec.template.spec.containers[0].imagePullPolicy""#,
            ]
        );
    }

    #[test]
    fn yaml_duplicates_carry_their_lines() {
        let text = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: a\n  name: b\nspec:\n  paused: true\n  paused: false\n  template:\n    spec:\n      containers:\n      - name: c\n        image: i\n        image: j\n";
        let (value, duplicates) = yaml(text).unwrap();
        assert_eq!(value["metadata"]["name"], "b");
        assert_eq!(value["spec"]["template"]["spec"]["containers"][0]["image"], "j");
        assert_eq!(
            yaml_error(&duplicates),
            "yaml: unmarshal errors:\n  line 5: key \"name\" already set in map\n  line 8: key \"paused\" already set in map\n  line 14: key \"image\" already set in map"
        );
        // JSON is YAML too: apply bodies are read as YAML.
        let (_, duplicates) = yaml("{\n\"a\": 1,\n\"a\": 2\n}").unwrap();
        assert_eq!(
            yaml_error(&duplicates),
            "yaml: unmarshal errors:\n  line 3: key \"a\" already set in map"
        );
    }

    #[test]
    fn go_format_prints_maps_like_go() {
        let patch =
            json!({"spec": {"replicas": 2, "paused": false, "names": ["a", "b"], "x": null}});
        assert_eq!(go_format(&patch), "map[spec:map[names:[a b] paused:false replicas:2 x:<nil>]]");
    }
}
