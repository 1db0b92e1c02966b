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

/// The type of a whole object of `group/version/kind`.
pub(crate) fn root(group: &str, version: &str, kind: &str) -> Ty {
    let definition = meta().kinds.get(&format!("{group}/{version}/{kind}"));
    definition.map_or(Ty::Deduced, |name| of_definition(Some(name)))
}

fn of_definition(name: Option<&str>) -> Ty {
    match name {
        None => Ty::Deduced,
        Some(name) => match meta().types.get(name) {
            Some(def) if def.atomic == 1 => Ty::Atomic,
            Some(def) => Ty::Struct(def),
            // Time, Quantity, IntOrString, RawExtension: leaves.
            None => Ty::Atomic,
        },
    }
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
}
