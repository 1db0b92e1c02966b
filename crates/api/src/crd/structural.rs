//! Structural schema checks of a CRD's OpenAPI v3 schema, on its JSON: what
//! `apiextensions-apiserver/pkg/apiserver/schema` `ValidateStructural` reports
//! (`validateStructuralInvariants`, `validateStructuralCompleteness`), and the pruning half of
//! `pkg/apiserver/schema/defaulting` `ValidateDefaults` (a `default` must not carry fields the
//! schema prunes).
//!
//! Upstream first converts the schema into a `Structural` (`NewStructural`): the
//! "generic" part (type, properties, items, additionalProperties, title, description, default,
//! nullable), the `x-kubernetes-*` extensions, and the value validations (`allOf`, `anyOf`,
//! `oneOf`, `not`, formats, bounds). Here the JSON is read in place with the same split.

use serde_json::Value;

use crate::validation::{Errors, Shown};

/// Where a schema sits, for the `type` rule's message (`level` upstream).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Level {
    Root,
    Item,
    Field,
}

/// `ValidateStructural`: the invariants and the completeness of `schema`, sorted by their
/// `Error()` text as upstream sorts them.
pub(crate) fn validate_structural(schema: &Value, path: &str) -> Errors {
    let mut errs = Errors::default();
    invariants(&mut errs, schema, Level::Root, path);
    completeness_value(&mut errs, schema, Some(schema), path, path);
    errs.0.sort_by_key(|e| e.to_string());
    errs
}

/// `validateStructuralInvariants`.
fn invariants(errs: &mut Errors, s: &Value, lvl: Level, path: &str) {
    if !s.is_object() {
        return;
    }
    let ty = text(s, "type");
    if ty == "array" && items_schema(s).is_none() {
        errs.required(&format!("{path}.items"), "must be specified");
    }
    if let Some(items) = items_schema(s) {
        invariants(errs, items, Level::Item, &format!("{path}.items"));
    }
    for (k, v) in properties(s) {
        invariants(errs, v, Level::Field, &format!("{path}.properties[{k}]"));
    }
    // `validateGeneric`.
    if let Some(additional) = s.get("additionalProperties").filter(|v| !v.is_null()) {
        if lvl == Level::Root {
            errs.forbidden(&format!("{path}.additionalProperties"), "must not be used at the root");
        }
        if additional.is_object() {
            invariants(errs, additional, Level::Field, &format!("{path}.additionalProperties"));
        }
    }
    // `validateExtensions`.
    let int_or_string = flag(s, "x-kubernetes-int-or-string");
    let preserve = flag(s, "x-kubernetes-preserve-unknown-fields");
    let embedded = flag(s, "x-kubernetes-embedded-resource");
    if int_or_string && preserve {
        errs.invalid(
            &format!("{path}.x-kubernetes-preserve-unknown-fields"),
            Shown::Bool(true),
            "must be false if x-kubernetes-int-or-string is true",
        );
    }
    if int_or_string && embedded {
        errs.invalid(
            &format!("{path}.x-kubernetes-embedded-resource"),
            Shown::Bool(true),
            "must be false if x-kubernetes-int-or-string is true",
        );
    }
    let skip_any_of = is_int_or_string_any_of(s.get("anyOf"));
    let skip_first_all_of_any_of = s
        .get("allOf")
        .and_then(Value::as_array)
        .and_then(|all| all.first())
        .is_some_and(|first| is_int_or_string_any_of(first.get("anyOf")));
    value_validation(errs, s, skip_any_of, skip_first_all_of_any_of, lvl, path);

    let check_metadata = lvl == Level::Root || embedded;
    if embedded && ty != "object" {
        if ty.is_empty() {
            errs.required(
                &format!("{path}.type"),
                "must be object if x-kubernetes-embedded-resource is true",
            );
        } else {
            errs.invalid(
                &format!("{path}.type"),
                ty,
                "must be object if x-kubernetes-embedded-resource is true",
            );
        }
    } else if ty.is_empty() && !int_or_string && !preserve {
        let detail = match lvl {
            Level::Root => "must not be empty at the root",
            Level::Item => "must not be empty for specified array items",
            Level::Field => "must not be empty for specified object fields",
        };
        errs.required(&format!("{path}.type"), detail);
    }
    if embedded && s.get("additionalProperties").is_some_and(|v| !v.is_null()) {
        errs.forbidden(
            &format!("{path}.additionalProperties"),
            "must not be used if x-kubernetes-embedded-resource is set",
        );
    }
    if lvl == Level::Root && !ty.is_empty() && ty != "object" {
        errs.invalid(&format!("{path}.type"), ty, "must be object at the root");
    }
    let props = s.get("properties").and_then(Value::as_object);
    if check_metadata && let Some(props) = props {
        for (field, want) in [("kind", "string"), ("apiVersion", "string"), ("metadata", "object")]
        {
            if let Some(schema) = props.get(field) {
                let got = text(schema, "type");
                if got != want {
                    errs.invalid(
                        &format!("{path}.properties[{field}].type"),
                        got,
                        &format!("must be {want}"),
                    );
                }
            }
        }
    }
    if lvl == Level::Root
        && let Some(metadata) = props.and_then(|p| p.get("metadata"))
        && !metadata_only_names(metadata)
    {
        errs.forbidden(
            &format!("{path}.properties[metadata]"),
            "must not specify anything other than name and generateName, but metadata is implicitly specified",
        );
    }
    if embedded && !preserve && properties(s).next().is_none() {
        errs.required(
            &format!("{path}.properties"),
            "must not be empty if x-kubernetes-embedded-resource is true without x-kubernetes-preserve-unknown-fields",
        );
    }
}

/// Whether the root `metadata` schema restricts nothing but `name` and `generateName`: once
/// those properties, the type and the default are set aside, nothing may remain.
fn metadata_only_names(metadata: &Value) -> bool {
    let Some(map) = metadata.as_object() else { return true };
    map.iter().filter(|(_, v)| !v.is_null()).all(|(k, v)| match k.as_str() {
        "type" | "default" => true,
        "properties" => {
            let Some(props) = v.as_object() else { return false };
            let name = props.contains_key("name");
            let generate = props.contains_key("generateName");
            (name && generate && props.len() == 2) || ((name || generate) && props.len() == 1)
        }
        _ => false,
    })
}

/// `isIntOrStringAnyOfPattern`: `anyOf: [{type: integer}, {type: string}]` exactly.
fn is_int_or_string_any_of(any_of: Option<&Value>) -> bool {
    let Some([a, b]) = any_of.and_then(Value::as_array).map(Vec::as_slice) else { return false };
    let only_type = |v: &Value, t: &str| {
        v.as_object()
            .is_some_and(|m| m.len() == 1 && m.get("type").and_then(Value::as_str) == Some(t))
    };
    only_type(a, "integer") && only_type(b, "string")
}

/// `validateValueValidation`: the junctors of one schema (the regular expression of `pattern`
/// is not compiled here: this crate has no RE2).
fn value_validation(
    errs: &mut Errors,
    v: &Value,
    skip_any_of: bool,
    skip_first_all_of_any_of: bool,
    lvl: Level,
    path: &str,
) {
    if !skip_any_of {
        for (i, sub) in array(v, "anyOf").iter().enumerate() {
            nested(errs, sub, false, lvl, &format!("{path}.anyOf[{i}]"));
        }
    }
    for (i, sub) in array(v, "allOf").iter().enumerate() {
        nested(errs, sub, skip_first_all_of_any_of && i == 0, lvl, &format!("{path}.allOf[{i}]"));
    }
    for (i, sub) in array(v, "oneOf").iter().enumerate() {
        nested(errs, sub, false, lvl, &format!("{path}.oneOf[{i}]"));
    }
    if let Some(not) = v.get("not").filter(|n| n.is_object()) {
        nested(errs, not, false, lvl, &format!("{path}.not"));
    }
}

/// `validateNestedValueValidation`: inside a junctor only value validations may appear.
fn nested(errs: &mut Errors, v: &Value, skip_any_of: bool, lvl: Level, path: &str) {
    if !v.is_object() {
        return;
    }
    value_validation(errs, v, skip_any_of, false, lvl, path);
    if let Some(items) = items_schema(v) {
        nested(errs, items, false, lvl, &format!("{path}.items"));
    }
    for (k, sub) in properties(v) {
        nested(errs, sub, false, Level::Field, &format!("{path}.properties[{k}]"));
    }
    if !text(v, "type").is_empty() {
        errs.forbidden(&format!("{path}.type"), "must be empty to be structural");
    }
    if v.get("additionalProperties").is_some_and(|a| !a.is_null()) {
        errs.forbidden(
            &format!("{path}.additionalProperties"),
            "must be undefined to be structural",
        );
    }
    if v.get("default").is_some_and(|d| !d.is_null()) {
        errs.forbidden(&format!("{path}.default"), "must be undefined to be structural");
    }
    for field in ["title", "description"] {
        if !text(v, field).is_empty() {
            errs.forbidden(&format!("{path}.{field}"), "must be empty to be structural");
        }
    }
    if flag(v, "nullable") {
        errs.forbidden(&format!("{path}.nullable"), "must be false to be structural");
    }
    for field in [
        "x-kubernetes-preserve-unknown-fields",
        "x-kubernetes-embedded-resource",
        "x-kubernetes-int-or-string",
    ] {
        if flag(v, field) {
            errs.forbidden(&format!("{path}.{field}"), "must be false to be structural");
        }
    }
    if !array(v, "x-kubernetes-list-map-keys").is_empty() {
        errs.forbidden(
            &format!("{path}.x-kubernetes-list-map-keys"),
            "must be empty to be structural",
        );
    }
    if v.get("x-kubernetes-list-type").is_some_and(|t| !t.is_null()) {
        errs.forbidden(
            &format!("{path}.x-kubernetes-list-type"),
            "must be undefined to be structural",
        );
    }
    if v.get("properties").and_then(Value::as_object).is_some_and(|p| p.contains_key("metadata")) {
        errs.forbidden(
            &format!("{path}.properties[metadata]"),
            "must not be specified in a nested context",
        );
    }
}

/// `validateValueValidationCompleteness`: what the junctors of `v` specify (properties, items)
/// must be specified in the structural part `s` too.
fn completeness_value(errs: &mut Errors, v: &Value, s: Option<&Value>, s_path: &str, v_path: &str) {
    if !v.is_object() {
        return;
    }
    let Some(s) = s else {
        errs.required(s_path, &format!("because it is defined in {v_path}"));
        return;
    };
    if let Some(not) = v.get("not").filter(|n| n.is_object()) {
        completeness_nested(errs, not, Some(s), s_path, &format!("{v_path}.not"));
    }
    for junctor in ["allOf", "anyOf", "oneOf"] {
        for (i, sub) in array(v, junctor).iter().enumerate() {
            completeness_nested(errs, sub, Some(s), s_path, &format!("{v_path}.{junctor}[{i}]"));
        }
    }
}

/// `validateNestedValueValidationCompleteness`.
fn completeness_nested(
    errs: &mut Errors,
    v: &Value,
    s: Option<&Value>,
    s_path: &str,
    v_path: &str,
) {
    if !v.is_object() {
        return;
    }
    let Some(s) = s else {
        errs.required(s_path, &format!("because it is defined in {v_path}"));
        return;
    };
    completeness_value(errs, v, Some(s), s_path, v_path);
    if let Some(items) = items_schema(v) {
        completeness_nested(
            errs,
            items,
            items_schema(s),
            &format!("{s_path}.items"),
            &format!("{v_path}.items"),
        );
    }
    for (k, sub) in properties(v) {
        let v_key = format!("{v_path}.properties[{k}]");
        match s.get("properties").and_then(|p| p.get(k)) {
            Some(field) => completeness_nested(
                errs,
                sub,
                Some(field),
                &format!("{s_path}.properties[{k}]"),
                &v_key,
            ),
            None => match s.get("additionalProperties").filter(|a| a.is_object()) {
                Some(additional) => completeness_nested(
                    errs,
                    sub,
                    Some(additional),
                    &format!("{s_path}.additionalProperties"),
                    &v_key,
                ),
                None => errs.required(
                    &format!("{s_path}.properties[{k}]"),
                    &format!("because it is defined in {v_key}"),
                ),
            },
        }
    }
}

// === defaults ===

/// The pruning half of `ValidateDefaults`: every `default` in the structural part of `schema`
/// must survive pruning unchanged (`must not have unknown fields`). Checking the default
/// against the schema's value validations needs the custom resource validator and is left to
/// it; defaults under the root `metadata` are refused earlier (`must not be set …`).
pub(crate) fn validate_defaults(schema: &Value, path: &str) -> Errors {
    let mut errs = Errors::default();
    defaults(&mut errs, schema, path, true);
    errs
}

fn defaults(errs: &mut Errors, s: &Value, path: &str, root: bool) {
    if !s.is_object() {
        return;
    }
    if let Some(default) = s.get("default").filter(|d| !d.is_null()) {
        let mut pruned = default.clone();
        prune(&mut pruned, s, flag(s, "x-kubernetes-embedded-resource"));
        if &pruned != default {
            errs.invalid(
                &format!("{path}.default"),
                Shown::Raw(go_value(default)),
                "must not have unknown fields",
            );
        }
    }
    if let Some(items) = items_schema(s) {
        defaults(errs, items, &format!("{path}.items"), false);
    }
    for (k, sub) in properties(s) {
        if root && k == "metadata" {
            continue;
        }
        defaults(errs, sub, &format!("{path}.properties[{k}]"), false);
    }
    if let Some(additional) = s.get("additionalProperties").filter(|a| a.is_object()) {
        defaults(errs, additional, &format!("{path}.additionalProperties"), false);
    }
}

/// `pruning.Prune` of one value by its structural schema: object fields the schema does not
/// specify are dropped unless it preserves unknown fields; `apiVersion`, `kind` and `metadata`
/// of an embedded resource stay.
pub(crate) fn prune(value: &mut Value, s: &Value, embedded_root: bool) {
    match value {
        Value::Object(map) => {
            let preserve = flag(s, "x-kubernetes-preserve-unknown-fields");
            let props = s.get("properties").and_then(Value::as_object);
            let additional = s.get("additionalProperties").filter(|a| a.is_object());
            let additional_allows = s.get("additionalProperties").and_then(Value::as_bool);
            map.retain(|k, _| {
                (embedded_root && matches!(k.as_str(), "apiVersion" | "kind" | "metadata"))
                    || preserve
                    || props.is_some_and(|p| p.contains_key(k))
                    || additional.is_some()
                    || additional_allows == Some(true)
            });
            for (k, v) in map.iter_mut() {
                if let Some(sub) = props.and_then(|p| p.get(k)) {
                    prune(v, sub, flag(sub, "x-kubernetes-embedded-resource"));
                } else if let Some(sub) = additional {
                    prune(v, sub, flag(sub, "x-kubernetes-embedded-resource"));
                }
            }
        }
        Value::Array(items) => {
            if let Some(sub) = items_schema(s) {
                let embedded = flag(sub, "x-kubernetes-embedded-resource");
                for item in items {
                    prune(item, sub, embedded);
                }
            }
        }
        _ => {}
    }
}

// === Go rendering ===

/// A JSON value as Go's `%#v` prints the `interface{}` it decodes to (`field.Invalid` of a
/// `JSON` value): `map[string]interface {}{"a":1}`, `[]interface {}{"x"}`, `"s"`, `true`.
pub(crate) fn go_value(value: &Value) -> String {
    match value {
        Value::Null => "interface {}(nil)".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => crate::validation::go_quote(s),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(go_value).collect();
            format!("[]interface {{}}{{{}}}", items.join(", "))
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let entries: Vec<String> = entries
                .iter()
                .map(|(k, v)| format!("{}:{}", crate::validation::go_quote(k), go_value(v)))
                .collect();
            format!("map[string]interface {{}}{{{}}}", entries.join(", "))
        }
    }
}

// === JSON access ===

/// The single schema of `items` (an array of schemas is refused elsewhere).
pub(crate) fn items_schema(s: &Value) -> Option<&Value> {
    s.get("items").filter(|i| i.is_object())
}

pub(crate) fn properties(s: &Value) -> impl Iterator<Item = (&String, &Value)> {
    s.get("properties").and_then(Value::as_object).into_iter().flatten()
}

pub(crate) fn text<'a>(s: &'a Value, field: &str) -> &'a str {
    s.get(field).and_then(Value::as_str).unwrap_or("")
}

pub(crate) fn flag(s: &Value, field: &str) -> bool {
    s.get(field).and_then(Value::as_bool).unwrap_or(false)
}

pub(crate) fn array<'a>(s: &'a Value, field: &str) -> &'a [Value] {
    s.get(field).and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[])
}
