//! How each field of the served kinds merges under server-side apply: structs and maps field
//! by field (unless atomic), lists atomically, as sets, or as maps keyed by some fields.
//!
//! The facts come from Kubernetes' v1.33 OpenAPI definitions, reduced by
//! `scripts/gen-apply-meta.py` to `schema.json` (committed, embedded here). Values outside the
//! schema are "deduced" as structured-merge-diff does: objects merge field by field, lists are
//! atomic, everything else is a leaf.

use std::sync::OnceLock;

// Looked up for every field of every write: a fast hash, not SipHash.
use foldhash::{HashMap, HashMapExt};

use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Deserialize)]
struct Meta {
    /// `group/version/Kind` → definition name.
    kinds: HashMap<String, String>,
    /// Definitions with properties.
    types: HashMap<String, TypeDef>,
}

/// A definition with properties (a struct).
#[derive(Debug, Deserialize)]
pub(crate) struct TypeDef {
    #[serde(rename = "f")]
    fields: HashMap<String, FieldDef>,
    #[serde(rename = "a", default)]
    atomic: u8,
}

#[derive(Debug, Deserialize)]
struct FieldDef {
    #[serde(rename = "t")]
    target: Option<String>,
    #[serde(rename = "l")]
    list: Option<String>,
    #[serde(rename = "k", default)]
    keys: Vec<String>,
    #[serde(rename = "m", default)]
    map: u8,
    #[serde(rename = "a", default)]
    atomic: u8,
}

fn meta() -> &'static Meta {
    static META: OnceLock<Meta> = OnceLock::new();
    META.get_or_init(|| {
        // Generated and committed with this crate; its shape is tested below.
        serde_json::from_str(include_str!("schema.json"))
            .unwrap_or_else(|_| Meta { kinds: HashMap::new(), types: HashMap::new() })
    })
}

/// The merge type of a value.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Ty {
    /// A struct, merged field by field.
    Struct(&'static TypeDef),
    /// A map with arbitrary keys, merged key by key; values of the definition (or deduced).
    Map(Option<&'static str>),
    /// A list of distinct scalars, merged as a set.
    Set,
    /// A list of objects identified by some of their fields.
    Keyed(&'static [String], Option<&'static str>),
    /// Replaced as a whole: scalars, atomic lists and maps.
    Atomic,
    /// Not in the schema.
    Deduced,
}

/// The type of a whole object of `group/version/kind`: a served kind's, else a custom
/// resource's as [`register_custom`] last recorded it, else deduced.
pub(crate) fn root(group: &str, version: &str, kind: &str) -> Ty {
    let gvk = format!("{group}/{version}/{kind}");
    if let Some(name) = meta().kinds.get(&gvk) {
        return of_definition(Some(name));
    }
    let custom =
        CUSTOM.read().ok().and_then(|custom| custom.roots.get(&gvk).map(|(_, root)| *root));
    custom.map_or(Ty::Deduced, |root| of_definition(Some(root)))
}

fn of_definition(name: Option<&str>) -> Ty {
    match name {
        None => Ty::Deduced,
        Some(name) => match meta().types.get(name).or_else(|| custom_type(name)) {
            Some(def) if def.atomic == 1 => Ty::Atomic,
            Some(def) => Ty::Struct(def),
            // Time, Quantity, IntOrString, RawExtension: leaves.
            None => Ty::Atomic,
        },
    }
}

// === custom resources ===

/// The merge types of custom resources, from their CRD versions' structural schemas, as
/// apiextensions-apiserver gives structured-merge-diff a CRD's schema: objects with properties
/// are structs (atomic with `x-kubernetes-map-type: atomic`), objects with
/// `additionalProperties` are maps, lists are atomic unless `x-kubernetes-list-type` says
/// `set` or `map` (keyed by `x-kubernetes-list-map-keys`), and what the schema leaves open
/// (`x-kubernetes-preserve-unknown-fields`, no schema) is deduced. Process-wide, by
/// group/version/kind: definitions are leaked, once per distinct schema of a kind.
#[derive(Default)]
struct Custom {
    /// `group/version/Kind` → (the schema's text, its root definition's name).
    roots: std::collections::HashMap<String, (String, &'static str)>,
    /// Definition names (`custom:<gvk>#<path>`) → definitions.
    types: std::collections::HashMap<&'static str, &'static TypeDef>,
}

static CUSTOM: std::sync::LazyLock<std::sync::RwLock<Custom>> =
    std::sync::LazyLock::new(std::sync::RwLock::default);

fn custom_type(name: &str) -> Option<&'static TypeDef> {
    CUSTOM.read().ok()?.types.get(name).copied()
}

/// Records how the objects of custom resource `group/version/kind` merge, from its CRD
/// version's `openAPIV3Schema` (`None`: everything deduced). Registering the same schema again
/// changes nothing.
pub fn register_custom(group: &str, version: &str, kind: &str, schema: Option<&Value>) {
    let gvk = format!("{group}/{version}/{kind}");
    let text = schema.map(Value::to_string).unwrap_or_default();
    let Ok(mut custom) = CUSTOM.write() else { return };
    if custom.roots.get(&gvk).is_some_and(|(known, _)| *known == text) {
        return;
    }
    let mut types = Vec::new();
    let root = match schema {
        Some(schema) if has_properties(schema) => {
            Some(custom_struct(&format!("custom:{gvk}#"), schema, &mut types))
        }
        _ => None,
    };
    for (name, def) in types {
        custom.types.insert(name, def);
    }
    match root {
        Some(root) => {
            custom.roots.insert(gvk, (text, root));
        }
        None => {
            custom.roots.remove(&gvk);
        }
    }
}

fn has_properties(schema: &Value) -> bool {
    schema.get("properties").and_then(Value::as_object).is_some_and(|p| !p.is_empty())
}

/// Leaks the struct definition of `schema` (an object with properties) as `name`, and the
/// definitions it leads to, into `types`; the leaked name.
fn custom_struct(
    name: &str,
    schema: &Value,
    types: &mut Vec<(&'static str, &'static TypeDef)>,
) -> &'static str {
    let mut fields = HashMap::new();
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        for (field, property) in properties {
            let path = format!("{name}/{field}");
            fields.insert(field.clone(), custom_field(&path, property, types));
        }
    }
    let atomic =
        u8::from(schema.get("x-kubernetes-map-type").and_then(Value::as_str) == Some("atomic"));
    let name: &'static str = Box::leak(name.to_owned().into_boxed_str());
    types.push((name, Box::leak(Box::new(TypeDef { fields, atomic }))));
    name
}

/// The field of a property `schema`, its definitions leaked under `path`.
fn custom_field(
    path: &str,
    schema: &Value,
    types: &mut Vec<(&'static str, &'static TypeDef)>,
) -> FieldDef {
    let text = |key: &str| schema.get(key).and_then(Value::as_str);
    let mut field = FieldDef { target: None, list: None, keys: Vec::new(), map: 0, atomic: 0 };
    let target = |element: &Value, types: &mut Vec<_>| {
        has_properties(element).then(|| custom_struct(path, element, types).to_owned())
    };
    if text("type") == Some("array") {
        let items = schema.get("items").unwrap_or(&Value::Null);
        match text("x-kubernetes-list-type") {
            Some("set") => field.list = Some("set".into()),
            Some("map") => {
                field.list = Some("map".into());
                field.keys = schema
                    .get("x-kubernetes-list-map-keys")
                    .and_then(Value::as_array)
                    .map(|keys| keys.iter().filter_map(Value::as_str).map(str::to_owned).collect())
                    .unwrap_or_default();
                field.target = target(items, types);
            }
            // Lists of a structural schema are atomic unless said otherwise.
            _ => field.atomic = 1,
        }
    } else if has_properties(schema) {
        field.target = target(schema, types);
    } else if let Some(element) = schema.get("additionalProperties").filter(|e| e.is_object()) {
        if text("x-kubernetes-map-type") == Some("atomic") {
            field.atomic = 1;
        } else {
            field.map = 1;
            field.target = target(element, types);
        }
    } else if text("x-kubernetes-map-type") == Some("atomic") {
        field.atomic = 1;
    }
    field
}

impl Ty {
    /// The type of the member `key` of a struct or map of this type.
    pub(crate) fn member(self, key: &str) -> Ty {
        match self {
            Ty::Struct(def) => match def.fields.get(key) {
                None => Ty::Deduced,
                Some(field) => field.ty(),
            },
            Ty::Map(element) => of_definition(element),
            _ => Ty::Deduced,
        }
    }

    /// The type of the items of a list of this type.
    pub(crate) fn item(self) -> Ty {
        match self {
            Ty::Keyed(_, element) => of_definition(element),
            Ty::Set => Ty::Atomic,
            _ => Ty::Deduced,
        }
    }

    /// Whether members of this type are named by the schema (struct fields) rather than data.
    pub(crate) fn is_struct(self) -> bool {
        matches!(self, Ty::Struct(_))
    }
}

impl FieldDef {
    fn ty(&'static self) -> Ty {
        match self.list.as_deref() {
            Some("set") => return Ty::Set,
            Some("map") => return Ty::Keyed(&self.keys, self.target.as_deref()),
            _ => {}
        }
        if self.atomic == 1 {
            Ty::Atomic
        } else if self.map == 1 {
            Ty::Map(self.target.as_deref())
        } else {
            of_definition(self.target.as_deref())
        }
    }
}

// The `'static` borrows above need the strings to live in the static metadata.
impl FieldDef {
    #[cfg(test)]
    fn keys(&self) -> &[String] {
        &self.keys
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generated_schema_knows_the_served_kinds() {
        for (group, kind) in [("", "Pod"), ("", "Service"), ("apps", "StatefulSet")] {
            assert!(root(group, "v1", kind).is_struct(), "{kind}");
        }
        let spec = meta().types.get("io.k8s.api.core.v1.PodSpec").unwrap();
        assert_eq!(spec.fields["containers"].keys(), ["name".to_owned()]);
        let ports = root("", "v1", "Service").member("spec").member("ports");
        assert!(matches!(ports, Ty::Keyed(keys, _) if keys == ["port", "protocol"]));
        let labels = root("", "v1", "Pod").member("metadata").member("labels");
        assert!(matches!(labels, Ty::Map(None)));
        let finalizers = root("", "v1", "Pod").member("metadata").member("finalizers");
        assert!(matches!(finalizers, Ty::Set));
        let created = root("", "v1", "Pod").member("metadata").member("creationTimestamp");
        assert!(matches!(created, Ty::Atomic));
        let claims =
            root("apps", "v1", "StatefulSet").member("spec").member("volumeClaimTemplates");
        assert!(matches!(claims, Ty::Deduced), "atomic lists are not listed");
    }

    #[test]
    fn custom_resources_merge_by_their_schema() {
        let schema = serde_json::json!({
            "type": "object",
            "properties": {
                "spec": {"type": "object", "properties": {
                    "ports": {
                        "type": "array",
                        "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["name"],
                        "items": {"type": "object", "properties": {"name": {"type": "string"}}},
                    },
                    "tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
                    "args": {"type": "array", "items": {"type": "string"}},
                    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                    "selector": {"type": "object", "x-kubernetes-map-type": "atomic",
                                 "properties": {"app": {"type": "string"}}},
                    "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                }},
            },
        });
        assert!(matches!(root("schema.test.berth.dev", "v1", "Thing"), Ty::Deduced));
        register_custom("schema.test.berth.dev", "v1", "Thing", Some(&schema));
        let spec = root("schema.test.berth.dev", "v1", "Thing").member("spec");
        assert!(spec.is_struct());
        assert!(matches!(spec.member("ports"), Ty::Keyed(keys, Some(_)) if keys == ["name"]));
        assert!(!spec.member("ports").item().member("name").is_struct());
        assert!(matches!(spec.member("tags"), Ty::Set));
        assert!(matches!(spec.member("args"), Ty::Atomic));
        assert!(matches!(spec.member("labels"), Ty::Map(None)));
        assert!(matches!(spec.member("selector"), Ty::Atomic));
        assert!(matches!(spec.member("free"), Ty::Deduced));
        // Registered again without a schema: deduced again.
        register_custom("schema.test.berth.dev", "v1", "Thing", None);
        assert!(matches!(root("schema.test.berth.dev", "v1", "Thing"), Ty::Deduced));
    }
}
