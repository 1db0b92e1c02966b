//! Validation: what kube-apiserver v1.33 refuses with a 422, ported rule by rule from
//! `pkg/apis/*/validation/validation.go` and apimachinery's `util/validation`.
//!
//! [`validate`] takes an object (already defaulted) and, on update, the stored object, and
//! returns every problem as a [`FieldError`]: Kubernetes' field path, cause reason and message
//! body (`Invalid value: "x": …`), so the API server can build the exact `Status` kubectl prints.
//! [`fields`] finds (and drops) fields the v1.33 schema does not know, for `fieldValidation`.
//!
//! Suggested reading order: [`validate`], then `meta` (names, labels, selectors), `core` (pods,
//! services, volumes, …), `apps`, `rbac`, `networking`, `storage_node` (CSI kinds,
//! RuntimeClass), `other`.

mod apps;
mod autoscaling;
mod batch;
mod core;
pub mod fields;
pub(crate) mod meta;
mod networking;
mod other;
pub mod quantities;
mod quota;
mod rbac;
mod storage_node;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{Map, Value};

pub use batch::{
    CONTROLLER_UID_LABEL, JOB_NAME_LABEL, LEGACY_CONTROLLER_UID_LABEL, LEGACY_JOB_NAME_LABEL,
};
pub use meta::{generate_name_problems, name_problems};
pub use other::SYSTEM_PRIORITY_CLASSES;

/// One problem with one field, as `field.Error` reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// `metav1.CauseType`: `FieldValueInvalid`, `FieldValueRequired`, …
    pub reason: &'static str,
    /// The field path, e.g. `spec.template.spec.containers[0].name`.
    pub field: String,
    /// `field.Error.ErrorBody()`: `Invalid value: "x": must be …`.
    pub message: String,
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Which write is being validated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Write<'a> {
    Create,
    /// An update of the main resource; the stored object.
    Update(&'a Value),
    /// An update through the `status` subresource; the stored object.
    Status(&'a Value),
}

/// Every problem of `object`, a `group`/`kind` object about to be written, as kube-apiserver's
/// strategy `Validate`/`ValidateUpdate`/status `ValidateUpdate` finds them. Empty: valid.
pub fn validate(group: &str, kind: &str, object: &Value, write: Write<'_>) -> Vec<FieldError> {
    let mut errs = Errors::default();
    match write {
        Write::Create => errs.create(group, kind, object),
        Write::Update(old) => errs.update(group, kind, object, old),
        Write::Status(old) => errs.status(group, kind, object, old),
    }
    // `ToAggregate` drops repeated messages.
    let mut seen = std::collections::HashSet::new();
    errs.0.retain(|e| seen.insert(e.to_string()));
    errs.0
}

/// The metadata rules of a custom resource (`customResourceValidator.Validate` and
/// `ValidateUpdate`: `ValidateObjectMetaAccessor` with DNS-subdomain names, and on update
/// `ValidateObjectMetaAccessorUpdate` against `old`). Its schema is checked apart
/// (`crate::custom::Schema::validate`).
pub fn custom_resource_meta(
    object: &Value,
    namespaced: bool,
    old: Option<&Value>,
) -> Vec<FieldError> {
    let mut errs = Errors::default();
    meta::object_meta(&mut errs, object, namespaced, meta::NameRule::Subdomain);
    if let Some(old) = old {
        meta::object_meta_update(&mut errs, object, old);
    }
    meta::generic_finalizer_rules(&mut errs);
    let mut seen = std::collections::HashSet::new();
    errs.0.retain(|e| seen.insert(e.to_string()));
    errs.0
}

// === errors and values ===

/// The value an error shows, rendered as Go's `%v`/`%q`/`%#v` would for the Go type.
#[derive(Clone, Debug)]
pub(crate) enum Shown {
    Str(String),
    Int(i64),
    Bool(bool),
    /// A `map[string]string`.
    Map(BTreeMap<String, String>),
    /// Already rendered (structs, lists).
    Raw(String),
    Null,
}

impl Shown {
    fn render(&self) -> String {
        match self {
            Shown::Str(s) => go_quote(s),
            Shown::Int(i) => i.to_string(),
            Shown::Bool(b) => b.to_string(),
            Shown::Map(map) => {
                let items: Vec<String> =
                    map.iter().map(|(k, v)| format!("{}:{}", go_quote(k), go_quote(v))).collect();
                format!("map[string]string{{{}}}", items.join(", "))
            }
            Shown::Raw(s) => s.clone(),
            Shown::Null => "null".to_owned(),
        }
    }

    /// A JSON value shown as Go would show the decoded field.
    pub(crate) fn json(value: Option<&Value>) -> Shown {
        match value {
            None | Some(Value::Null) => Shown::Null,
            Some(Value::String(s)) => Shown::Str(s.clone()),
            Some(Value::Bool(b)) => Shown::Bool(*b),
            Some(Value::Number(n)) => match n.as_i64() {
                Some(i) => Shown::Int(i),
                None => Shown::Raw(n.to_string()),
            },
            Some(Value::Object(map)) if map.values().all(Value::is_string) => Shown::Map(
                map.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_owned())).collect(),
            ),
            Some(other) => Shown::Raw(other.to_string()),
        }
    }
}

impl From<&str> for Shown {
    fn from(s: &str) -> Shown {
        Shown::Str(s.to_owned())
    }
}

impl From<String> for Shown {
    fn from(s: String) -> Shown {
        Shown::Str(s)
    }
}

impl From<i64> for Shown {
    fn from(i: i64) -> Shown {
        Shown::Int(i)
    }
}

/// Go's `strconv.Quote` (and `%q` of a string).
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A growing `field.ErrorList`.
#[derive(Debug, Default)]
pub(crate) struct Errors(pub(crate) Vec<FieldError>);

impl Errors {
    fn push(&mut self, reason: &'static str, field: &str, message: String) {
        self.0.push(FieldError { reason, field: field.to_owned(), message });
    }

    /// `field.Invalid`.
    pub(crate) fn invalid(&mut self, field: &str, value: impl Into<Shown>, detail: &str) {
        let mut message = format!("Invalid value: {}", value.into().render());
        if !detail.is_empty() {
            message.push_str(": ");
            message.push_str(detail);
        }
        self.push("FieldValueInvalid", field, message);
    }

    /// `field.Invalid` with `field.OmitValueType{}`: `ErrorBody` shows no value at all.
    pub(crate) fn invalid_omitted(&mut self, field: &str, detail: &str) {
        self.push("FieldValueInvalid", field, format!("Invalid value: {detail}"));
    }

    /// `field.Required`.
    pub(crate) fn required(&mut self, field: &str, detail: &str) {
        let message = if detail.is_empty() {
            "Required value".to_owned()
        } else {
            format!("Required value: {detail}")
        };
        self.push("FieldValueRequired", field, message);
    }

    /// `field.NotSupported`.
    pub(crate) fn not_supported(&mut self, field: &str, value: impl Into<Shown>, valid: &[&str]) {
        let quoted: Vec<String> = valid.iter().map(|v| go_quote(v)).collect();
        let mut message = format!("Unsupported value: {}", value.into().render());
        if !quoted.is_empty() {
            message.push_str(": supported values: ");
            message.push_str(&quoted.join(", "));
        }
        self.push("FieldValueNotSupported", field, message);
    }

    /// `field.Duplicate`.
    pub(crate) fn duplicate(&mut self, field: &str, value: impl Into<Shown>) {
        let message = format!("Duplicate value: {}", value.into().render());
        self.push("FieldValueDuplicate", field, message);
    }

    /// `field.NotFound`.
    pub(crate) fn not_found(&mut self, field: &str, value: impl Into<Shown>) {
        let message = format!("Not found: {}", value.into().render());
        self.push("FieldValueNotFound", field, message);
    }

    /// `field.Forbidden`.
    pub(crate) fn forbidden(&mut self, field: &str, detail: &str) {
        self.push("FieldValueForbidden", field, format!("Forbidden: {detail}"));
    }

    /// `field.TooLong`.
    pub(crate) fn too_long(&mut self, field: &str, max: usize) {
        let message = format!("Too long: may not be more than {max} bytes");
        self.push("FieldValueTooLong", field, message);
    }

    /// `field.TooMany`.
    pub(crate) fn too_many(&mut self, field: &str, actual: usize, max: usize) {
        let message = format!("Too many: {actual}: must have at most {max} items");
        self.push("FieldValueTooMany", field, message);
    }

    /// `ValidateNonnegativeField`.
    pub(crate) fn nonnegative(&mut self, field: &str, value: Option<&Value>) {
        if let Some(n) = value.and_then(Value::as_i64)
            && n < 0
        {
            self.invalid(field, n, "must be greater than or equal to 0");
        }
    }

    /// `ValidateImmutableField`.
    pub(crate) fn immutable(&mut self, field: &str, new: Option<&Value>, old: Option<&Value>) {
        if !same(new, old) {
            self.invalid(field, Shown::json(new), "field is immutable");
        }
    }

    fn create(&mut self, group: &str, kind: &str, object: &Value) {
        match group {
            "" if kind == "ResourceQuota" => quota::validate(self, object),
            "" => core::validate(self, kind, object),
            "apps" => apps::validate(self, kind, object),
            "autoscaling" => autoscaling::validate(self, kind, object),
            "batch" => batch::validate(self, kind, object),
            "rbac.authorization.k8s.io" => rbac::validate(self, kind, object),
            "networking.k8s.io" => networking::validate(self, kind, object),
            "node.k8s.io" => storage_node::validate(self, kind, object),
            "storage.k8s.io" if kind != "StorageClass" => {
                storage_node::validate(self, kind, object)
            }
            "apiextensions.k8s.io" if kind == "CustomResourceDefinition" => {
                crate::crd::validation::validate(self, object)
            }
            _ => other::validate(self, group, kind, object),
        }
    }

    fn update(&mut self, group: &str, kind: &str, object: &Value, old: &Value) {
        meta::object_meta_update(self, object, old);
        match group {
            "" if kind == "ResourceQuota" => quota::validate_update(self, object, old),
            "" => core::validate_update(self, kind, object, old),
            "apps" => apps::validate_update(self, kind, object, old),
            "autoscaling" => autoscaling::validate_update(self, kind, object, old),
            "batch" => batch::validate_update(self, kind, object, old),
            "rbac.authorization.k8s.io" => rbac::validate_update(self, kind, object, old),
            "networking.k8s.io" => networking::validate_update(self, kind, object, old),
            "node.k8s.io" => storage_node::validate_update(self, kind, object, old),
            "storage.k8s.io" if kind != "StorageClass" => {
                storage_node::validate_update(self, kind, object, old)
            }
            "apiextensions.k8s.io" if kind == "CustomResourceDefinition" => {
                crate::crd::validation::validate_update(self, object, old)
            }
            _ => other::validate_update(self, group, kind, object, old),
        }
    }

    fn status(&mut self, group: &str, kind: &str, object: &Value, old: &Value) {
        meta::object_meta_update(self, object, old);
        match (group, kind) {
            ("apps", _) => apps::validate_status(self, kind, object, old),
            ("", "ResourceQuota") => quota::status(self, object),
            ("policy", "PodDisruptionBudget") => other::pod_disruption_budget_status(self, object),
            ("networking.k8s.io", "Ingress") => networking::ingress_status(self, object),
            ("batch", "Job") => batch::status(self, object, old),
            ("autoscaling", "HorizontalPodAutoscaler") => autoscaling::status(self, object),
            ("storage.k8s.io", _) => storage_node::validate_status(self, kind, object, old),
            ("apiextensions.k8s.io", "CustomResourceDefinition") => {
                crate::crd::validation::validate_status(self, object)
            }
            _ => {}
        }
    }
}

/// Two optional JSON values, a missing one equal to null.
pub(crate) fn same(a: Option<&Value>, b: Option<&Value>) -> bool {
    let a = a.filter(|v| !v.is_null());
    let b = b.filter(|v| !v.is_null());
    a == b
}

// === paths and JSON access ===

pub(crate) fn child(path: &str, name: &str) -> String {
    if path.is_empty() { name.to_owned() } else { format!("{path}.{name}") }
}

pub(crate) fn index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

pub(crate) fn key(path: &str, k: &str) -> String {
    format!("{path}[{k}]")
}

pub(crate) fn get<'a>(value: &'a Value, field: &str) -> Option<&'a Value> {
    value.get(field).filter(|v| !v.is_null())
}

pub(crate) fn str_of<'a>(value: &'a Value, field: &str) -> Option<&'a str> {
    value.get(field).and_then(Value::as_str)
}

pub(crate) fn str_or_empty<'a>(value: &'a Value, field: &str) -> &'a str {
    str_of(value, field).unwrap_or("")
}

pub(crate) fn list<'a>(value: &'a Value, field: &str) -> &'a [Value] {
    value.get(field).and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[])
}

pub(crate) fn map_of<'a>(value: &'a Value, field: &str) -> Option<&'a Map<String, Value>> {
    value.get(field).and_then(Value::as_object)
}

/// A `map[string]string` field (non-string values are shown as their JSON).
pub(crate) fn string_map(value: &Value, field: &str) -> BTreeMap<String, String> {
    map_of(value, field)
        .map(|map| {
            map.iter()
                .map(|(k, v)| {
                    let v = v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string());
                    (k.clone(), v)
                })
                .collect()
        })
        .unwrap_or_default()
}

// === quantities ===

/// A `resource.Quantity` as an exact number (billionths), to compare and to check the sign.
pub(crate) use crate::quantity::nanos as parse_quantity;

/// The text of a quantity field (a string, or a bare number), owned for error messages.
pub(crate) fn quantity_text(value: &Value) -> Option<String> {
    crate::quantity::text(value).map(std::borrow::Cow::into_owned)
}

#[cfg(test)]
mod tests;
