//! The parsed schema ([`Node`], one `JSONSchemaProps` as the validator and the structural schema
//! read it) and the two tree walks that change an object: pruning
//! (`pkg/apiserver/schema/pruning/algorithm.go`, `objectmeta/coerce.go`) and defaulting
//! (`pkg/apiserver/schema/defaulting/algorithm.go`, `prunenulls.go`).

use std::collections::BTreeMap;

use serde_json::Value;

/// The formats CRD schemas support (`apiserver/validation/formats.go`, normalized without
/// `-`); any other format is stripped (`StripUnsupportedFormatsPostProcess`) and never checked.
const SUPPORTED_FORMATS: &[&str] = &[
    "bsonobjectid",
    "uri",
    "email",
    "hostname",
    "ipv4",
    "ipv6",
    "cidr",
    "mac",
    "uuid",
    "uuid3",
    "uuid4",
    "uuid5",
    "isbn",
    "isbn10",
    "isbn13",
    "creditcard",
    "ssn",
    "hexcolor",
    "rgbcolor",
    "byte",
    "password",
    "date",
    "duration",
    "datetime",
];

/// `apiVersion`, `kind` and `metadata`: kept by pruning where a resource is embedded.
const META_FIELDS: &[&str] = &["apiVersion", "kind", "metadata"];

/// One schema node: what kube-openapi's `spec.Schema` (after `ConvertJSONSchemaProps`) and the
/// structural schema hold of a `JSONSchemaProps`.
#[derive(Debug, Clone, Default)]
pub(super) struct Node {
    /// `type` as a list: `[type]`, `["integer","string"]` for `x-kubernetes-int-or-string`, or
    /// empty.
    pub(super) types: Vec<String>,
    /// `format`, empty when absent or not one of the supported formats.
    pub(super) format: String,
    pub(super) nullable: bool,
    pub(super) properties: BTreeMap<String, Node>,
    pub(super) additional_properties: Option<Additional>,
    pub(super) items: Option<Box<Node>>,
    pub(super) required: Vec<String>,
    pub(super) enum_values: Vec<Value>,
    /// `default`, never `null` (a null default is no default, as `Default.Object == nil`).
    pub(super) default: Option<Value>,
    pub(super) maximum: Option<f64>,
    pub(super) exclusive_maximum: bool,
    pub(super) minimum: Option<f64>,
    pub(super) exclusive_minimum: bool,
    pub(super) multiple_of: Option<f64>,
    pub(super) max_length: Option<i64>,
    pub(super) min_length: Option<i64>,
    pub(super) pattern: String,
    pub(super) max_items: Option<i64>,
    pub(super) min_items: Option<i64>,
    pub(super) unique_items: bool,
    pub(super) max_properties: Option<i64>,
    pub(super) min_properties: Option<i64>,
    pub(super) all_of: Vec<Node>,
    pub(super) one_of: Vec<Node>,
    pub(super) any_of: Vec<Node>,
    pub(super) not: Option<Box<Node>>,
    pub(super) preserve_unknown_fields: bool,
    pub(super) embedded_resource: bool,
    pub(super) list_type: Option<String>,
    pub(super) list_map_keys: Vec<String>,
    /// `x-kubernetes-validations`, compiled.
    pub(super) rules: Vec<super::cel::Rule>,
}

/// Whether [`Node::parse_with`] compiles the CEL rules it reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rules {
    Compile,
    Skip,
}

/// `additionalProperties`: a schema, or `true`/`false`.
#[derive(Debug, Clone)]
pub(super) struct Additional {
    pub(super) allows: bool,
    pub(super) schema: Option<Box<Node>>,
}

impl Node {
    /// Reads one `JSONSchemaProps`; whatever is of the wrong JSON type is read as absent.
    pub(super) fn parse(v: &Value) -> Node {
        Node::parse_with(v, Rules::Compile)
    }

    /// Reads one `JSONSchemaProps` for its shape only: its CEL rules (and those below it) are
    /// left out, not compiled (what checking one node's rules needs of the schema).
    pub(super) fn parse_shape(v: &Value) -> Node {
        Node::parse_with(v, Rules::Skip)
    }

    fn parse_with(v: &Value, rules: Rules) -> Node {
        let parse = |v: &Value| Node::parse_with(v, rules);
        let Some(m) = v.as_object() else {
            return Node::default();
        };
        let str_of = |k: &str| m.get(k).and_then(Value::as_str);
        let bool_of = |k: &str| m.get(k).and_then(Value::as_bool).unwrap_or(false);
        let f64_of = |k: &str| m.get(k).and_then(Value::as_f64);
        let i64_of = |k: &str| m.get(k).and_then(Value::as_i64);
        let nodes = |k: &str| -> Vec<Node> {
            m.get(k)
                .and_then(Value::as_array)
                .map(|a| a.iter().map(parse).collect())
                .unwrap_or_default()
        };
        let strings = |k: &str| -> Vec<String> {
            m.get(k)
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
                .unwrap_or_default()
        };
        let mut types = match str_of("type") {
            Some(t) if !t.is_empty() => vec![t.to_owned()],
            _ => Vec::new(),
        };
        if bool_of("x-kubernetes-int-or-string") {
            types = vec!["integer".to_owned(), "string".to_owned()];
        }
        let format = str_of("format").unwrap_or("");
        let format = if SUPPORTED_FORMATS.contains(&format.replace('-', "").as_str()) {
            format.to_owned()
        } else {
            String::new()
        };
        let additional_properties = match m.get("additionalProperties") {
            Some(Value::Bool(allows)) => Some(Additional { allows: *allows, schema: None }),
            Some(schema @ Value::Object(_)) => {
                Some(Additional { allows: true, schema: Some(Box::new(parse(schema))) })
            }
            _ => None,
        };
        let mut node = Node {
            types,
            format,
            nullable: bool_of("nullable"),
            properties: m
                .get("properties")
                .and_then(Value::as_object)
                .map(|p| p.iter().map(|(k, v)| (k.clone(), parse(v))).collect())
                .unwrap_or_default(),
            additional_properties,
            items: m.get("items").filter(|i| i.is_object()).map(|i| Box::new(parse(i))),
            required: strings("required"),
            enum_values: m.get("enum").and_then(Value::as_array).cloned().unwrap_or_default(),
            default: m.get("default").filter(|d| !d.is_null()).cloned(),
            maximum: f64_of("maximum"),
            exclusive_maximum: bool_of("exclusiveMaximum"),
            minimum: f64_of("minimum"),
            exclusive_minimum: bool_of("exclusiveMinimum"),
            multiple_of: f64_of("multipleOf"),
            max_length: i64_of("maxLength"),
            min_length: i64_of("minLength"),
            pattern: str_of("pattern").unwrap_or("").to_owned(),
            max_items: i64_of("maxItems"),
            min_items: i64_of("minItems"),
            unique_items: bool_of("uniqueItems"),
            max_properties: i64_of("maxProperties"),
            min_properties: i64_of("minProperties"),
            all_of: nodes("allOf"),
            one_of: nodes("oneOf"),
            any_of: nodes("anyOf"),
            not: m.get("not").filter(|n| n.is_object()).map(|n| Box::new(parse(n))),
            preserve_unknown_fields: bool_of("x-kubernetes-preserve-unknown-fields"),
            embedded_resource: bool_of("x-kubernetes-embedded-resource"),
            list_type: str_of("x-kubernetes-list-type").map(str::to_owned),
            list_map_keys: strings("x-kubernetes-list-map-keys"),
            rules: Vec::new(),
        };
        if rules == Rules::Compile {
            node.rules = super::cel::Rule::all_of(m.get("x-kubernetes-validations"), &node);
        }
        node
    }

    /// Whether this node or one below it (properties, `additionalProperties`, items) has CEL
    /// rules: whether upstream builds a CEL validator for the schema (`hasXValidations`).
    /// Whether this node or one below it (properties, `additionalProperties`, items) has a
    /// `default`: whether defaulting can change an object.
    pub(super) fn any_defaults(&self) -> bool {
        self.default.is_some()
            || self.properties.values().any(Node::any_defaults)
            || self.additional().flatten().is_some_and(Node::any_defaults)
            || self.items.as_deref().is_some_and(Node::any_defaults)
    }

    pub(super) fn any_cel_rules(&self) -> bool {
        !self.rules.is_empty()
            || self.properties.values().any(Node::any_cel_rules)
            || self.additional().flatten().is_some_and(Node::any_cel_rules)
            || self.items.as_deref().is_some_and(Node::any_cel_rules)
    }

    /// The structural schema of an `additionalProperties` value: `Some(None)` for
    /// `additionalProperties: true` (present, but no schema), `None` when absent.
    fn additional(&self) -> Option<Option<&Node>> {
        self.additional_properties.as_ref().map(|a| a.schema.as_deref())
    }
}

// === pruning ===

/// `PruneWithOptions(obj, s, isResourceRoot=true, track unknown field paths)`, then the
/// embedded resources' `metadata` pruned to `ObjectMeta`'s fields.
pub(super) fn prune(root: Option<&Node>, object: &mut Value) -> Vec<String> {
    let Some(root) = root else {
        return Vec::new();
    };
    let mut pruned = Vec::new();
    let mut path = String::new();
    // The resource root is treated as an embedded resource: TypeMeta and ObjectMeta are kept.
    prune_node(object, Some(root), true, &mut path, &mut pruned);
    pruned.sort();
    let mut unknown_meta = Vec::new();
    coerce_embedded(object, root, true, "", &mut unknown_meta);
    unknown_meta.sort();
    pruned.extend(unknown_meta);
    pruned
}

/// `RecordUnknownField`: the parent path, a dot, the key.
fn record(path: &str, key: &str, out: &mut Vec<String>) {
    if path.is_empty() {
        out.push(key.to_owned());
    } else {
        out.push(format!("{path}.{key}"));
    }
}

/// `AppendKey`.
fn push_key(path: &mut String, key: &str) {
    if !path.is_empty() {
        path.push('.');
    }
    path.push_str(key);
}

/// `prune`: `embedded_root` marks the resource root, which counts as an embedded resource.
fn prune_node(
    x: &mut Value,
    s: Option<&Node>,
    embedded_root: bool,
    path: &mut String,
    out: &mut Vec<String>,
) {
    if let Some(s) = s
        && s.preserve_unknown_fields
    {
        skip_prune(x, s, embedded_root, path, out);
        return;
    }
    let base = path.len();
    match x {
        Value::Object(map) => {
            let Some(s) = s else {
                for k in map.keys() {
                    record(path, k, out);
                }
                map.clear();
                return;
            };
            let embedded = embedded_root || s.embedded_resource;
            let keys: Vec<String> = map.keys().cloned().collect();
            for k in keys {
                if embedded && META_FIELDS.contains(&k.as_str()) {
                    continue;
                }
                let child = if let Some(prop) = s.properties.get(&k) {
                    Some(Some(prop))
                } else {
                    s.additional()
                };
                match child {
                    Some(child) => {
                        if let Some(v) = map.get_mut(&k) {
                            push_key(path, &k);
                            prune_node(v, child, false, path, out);
                            path.truncate(base);
                        }
                    }
                    None => {
                        if !META_FIELDS.contains(&k.as_str()) || !path.is_empty() {
                            record(path, &k, out);
                        }
                        map.remove(&k);
                    }
                }
            }
        }
        Value::Array(items) => {
            let items_schema = s.and_then(|s| s.items.as_deref());
            for (i, v) in items.iter_mut().enumerate() {
                path.push_str(&format!("[{i}]"));
                prune_node(v, items_schema, false, path, out);
                path.truncate(base);
            }
        }
        _ => {}
    }
}

/// `skipPrune`: under `x-kubernetes-preserve-unknown-fields`, unknown fields stay but the
/// specified ones are still pruned inside.
fn skip_prune(
    x: &mut Value,
    s: &Node,
    embedded_root: bool,
    path: &mut String,
    out: &mut Vec<String>,
) {
    let base = path.len();
    match x {
        Value::Object(map) => {
            let embedded = embedded_root || s.embedded_resource;
            for (k, v) in map.iter_mut() {
                if embedded && META_FIELDS.contains(&k.as_str()) {
                    continue;
                }
                let child = if let Some(prop) = s.properties.get(k) {
                    Some(Some(prop))
                } else {
                    s.additional()
                };
                if let Some(child) = child {
                    push_key(path, k);
                    prune_node(v, child, false, path, out);
                    path.truncate(base);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = s.items.as_deref() {
                for (i, v) in items.iter_mut().enumerate() {
                    path.push_str(&format!("[{i}]"));
                    skip_prune(v, item_schema, false, path, out);
                    path.truncate(base);
                }
            }
        }
        _ => {}
    }
}

/// The `metadata` part of `objectmeta.CoerceWithOptions` for embedded resources: an embedded
/// object's `metadata` is decoded into `ObjectMeta` (strictly, reporting unknown fields as
/// `<path>.metadata.<field>`) and written back, so unknown fields are dropped. The root's
/// `metadata` is left to the generic object-meta handling. `pth` is a `field.Path`
/// (`additionalProperties` keys as `[key]`).
fn coerce_embedded(x: &mut Value, s: &Node, is_root: bool, pth: &str, out: &mut Vec<String>) {
    match x {
        Value::Object(map) => {
            if s.embedded_resource
                && !is_root
                && let Some(meta) = map.get_mut("metadata").filter(|meta| meta.is_object())
            {
                let prefix = join(pth, "metadata");
                prune_object_meta(meta, &prefix, out);
            }
            for (k, v) in map.iter_mut() {
                if let Some(prop) = s.properties.get(k) {
                    coerce_embedded(v, prop, false, &join(pth, k), out);
                } else if let Some(Some(ap)) = s.additional() {
                    coerce_embedded(v, ap, false, &format!("{pth}[{k}]"), out);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = s.items.as_deref() {
                for (i, v) in items.iter_mut().enumerate() {
                    coerce_embedded(v, item_schema, false, &format!("{pth}[{i}]"), out);
                }
            }
        }
        _ => {}
    }
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() { name.to_owned() } else { format!("{path}.{name}") }
}

/// Drops what `ObjectMeta` does not have (and what its owner references and managed-fields
/// entries do not have), reporting each as `UnmarshalStrict` names it (the typed decoding of
/// `validation::fields`); a zero `creationTimestamp` is dropped as `SetObjectMeta` writes none.
fn prune_object_meta(meta: &mut Value, prefix: &str, out: &mut Vec<String>) {
    out.append(&mut crate::validation::fields::decode_object_meta_at(meta, prefix).unknown);
    if let Some(meta) = meta.as_object_mut()
        && meta.get("creationTimestamp").is_some_and(Value::is_null)
    {
        meta.remove("creationTimestamp");
    }
}

// === defaulting ===

/// `isNonNullableNull`.
fn is_non_nullable_null(x: Option<&Value>, s: Option<&Node>) -> bool {
    matches!(x, None | Some(Value::Null)) && s.is_some_and(|s| !s.nullable)
}

/// `PruneNonNullableNullsWithoutDefaults`: drops `null`s the schema neither allows nor defaults.
pub(super) fn prune_non_nullable_nulls(x: &mut Value, s: Option<&Node>) {
    match x {
        Value::Object(map) => {
            let keys: Vec<String> = map.keys().cloned().collect();
            for k in keys {
                let schema = s.and_then(|s| match s.properties.get(&k) {
                    Some(prop) => Some(prop),
                    None => s.additional().flatten(),
                });
                let Some(v) = map.get_mut(&k) else { continue };
                if v.is_null() && schema.is_some_and(|s| !s.nullable && s.default.is_none()) {
                    map.remove(&k);
                } else {
                    prune_non_nullable_nulls(v, schema);
                }
            }
        }
        Value::Array(items) => {
            let schema = s.and_then(|s| s.items.as_deref());
            for v in items {
                prune_non_nullable_nulls(v, schema);
            }
        }
        _ => {}
    }
}

/// `Default`: fills in missing (or non-nullable null) properties that have a default, in every
/// object that exists, then recurses.
pub(super) fn default(x: &mut Value, s: &Node) {
    match x {
        Value::Object(map) => {
            for (k, prop) in &s.properties {
                let Some(default) = &prop.default else { continue };
                let missing = match map.get(k) {
                    None => true,
                    found => is_non_nullable_null(found, Some(prop)),
                };
                if missing {
                    map.insert(k.clone(), default.clone());
                }
            }
            for (k, v) in map.iter_mut() {
                if let Some(prop) = s.properties.get(k) {
                    default(v, prop);
                } else if let Some(Some(ap)) = s.additional() {
                    if is_non_nullable_null(Some(v), Some(ap)) {
                        *v = ap.default.clone().unwrap_or(Value::Null);
                    }
                    default(v, ap);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = s.items.as_deref() {
                for v in items {
                    if is_non_nullable_null(Some(v), Some(item_schema)) {
                        *v = item_schema.default.clone().unwrap_or(Value::Null);
                    }
                    default(v, item_schema);
                }
            }
        }
        _ => {}
    }
}
