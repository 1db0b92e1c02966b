//! Object metadata rules (apimachinery `api/validation/objectmeta.go`,
//! `apis/meta/v1/validation`, `util/validation/validation.go`): names and their formats,
//! namespaces, labels, annotations, finalizers, owner references and label selectors.

use serde_json::Value;

use super::{Errors, Shown, child, get, index, list, map_of, str_of, str_or_empty};

const DNS1123_LABEL: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const DNS1123_SUBDOMAIN: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const DNS1035_LABEL: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";
const QUALIFIED_NAME: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const LABEL_VALUE: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
/// `TotalAnnotationSizeLimitB`.
const ANNOTATIONS_LIMIT: usize = 256 * 1024;

/// How a kind's names are checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NameRule {
    Subdomain,
    Label,
    Label1035,
    /// `path.IsValidPathSegmentName`: not `.` or `..`, no `/` or `%` (RBAC names).
    PathSegment,
    /// `ValidateIPAddressName`: an IP address in canonical form.
    IpAddress,
}

/// The name rule of `kind` (its `ValidateXName`).
pub(crate) fn name_rule(kind: &str) -> NameRule {
    match kind {
        "Namespace" | "StatefulSet" => NameRule::Label,
        "Service" => NameRule::Label1035,
        "Role" | "ClusterRole" | "RoleBinding" | "ClusterRoleBinding" => NameRule::PathSegment,
        "IPAddress" => NameRule::IpAddress,
        _ => NameRule::Subdomain,
    }
}

/// What is wrong with `name` as the name of a `kind` object (kube-apiserver's messages).
pub fn name_problems(kind: &str, name: &str) -> Vec<String> {
    check_name(name_rule(kind), name, false)
}

/// What is wrong with `generate_name` as the `metadata.generateName` of a `kind` object: the
/// name rules, with a trailing dash allowed (a suffix follows it).
pub fn generate_name_problems(kind: &str, generate_name: &str) -> Vec<String> {
    check_name(name_rule(kind), generate_name, true)
}

/// `ValidateNameFunc`: with `prefix` (a generateName) a trailing dash is allowed, masked as
/// `maskTrailingDash` does — which also drops the character before the dash (`web-` is
/// checked as `wea`).
pub(crate) fn check_name(rule: NameRule, name: &str, prefix: bool) -> Vec<String> {
    let masked;
    let name = if prefix && name.len() > 1 && name.ends_with('-') {
        let kept = String::from_utf8_lossy(&name.as_bytes()[..name.len() - 2]);
        masked = format!("{kept}a");
        masked.as_str()
    } else {
        name
    };
    match rule {
        NameRule::Subdomain => dns1123_subdomain(name),
        NameRule::Label => dns1123_label(name),
        NameRule::Label1035 => dns1035_label(name),
        NameRule::PathSegment => path_segment(name),
        NameRule::IpAddress => super::networking::ip_problems(name),
    }
}

/// `path.IsValidPathSegmentName`.
pub(crate) fn path_segment(name: &str) -> Vec<String> {
    if let Some(bad) = [".", ".."].into_iter().find(|bad| name == *bad) {
        return vec![format!("may not be '{bad}'")];
    }
    ["/", "%"]
        .into_iter()
        .filter(|bad| name.contains(bad))
        .map(|bad| format!("may not contain '{bad}'"))
        .collect()
}

fn is_label(s: &str, first_alpha: bool) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && (if first_alpha { b[0].is_ascii_lowercase() } else { b[0] != b'-' })
        && b[b.len() - 1] != b'-'
}

fn is_subdomain(s: &str) -> bool {
    s.split('.').all(|part| is_label(part, false))
}

/// `IsDNS1123Label`.
pub(crate) fn dns1123_label(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > 63 {
        errs.push(max_len(63));
    }
    if !is_label(s, false) {
        if is_subdomain(s) {
            errs.push("must not contain dots".to_owned());
        } else {
            errs.push(DNS1123_LABEL.to_owned());
        }
    }
    errs
}

/// `IsDNS1123Subdomain`.
pub(crate) fn dns1123_subdomain(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > 253 {
        errs.push(max_len(253));
    }
    if !is_subdomain(s) {
        errs.push(DNS1123_SUBDOMAIN.to_owned());
    }
    errs
}

/// `IsDNS1035Label`.
pub(crate) fn dns1035_label(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > 63 {
        errs.push(max_len(63));
    }
    if !is_label(s, true) {
        errs.push(DNS1035_LABEL.to_owned());
    }
    errs
}

pub(crate) fn max_len(n: usize) -> String {
    format!("must be no more than {n} characters")
}

fn is_qualified_part(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// `IsQualifiedName`: `[prefix/]name`.
pub(crate) fn qualified_name(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let parts: Vec<&str> = value.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                errs.push("prefix part must be non-empty".to_owned());
            } else {
                for msg in dns1123_subdomain(prefix) {
                    errs.push(format!("prefix part {msg}"));
                }
            }
            *name
        }
        _ => {
            errs.push(format!(
                "a qualified name {QUALIFIED_NAME} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
            ));
            return errs;
        }
    };
    if name.is_empty() {
        errs.push("name part must be non-empty".to_owned());
    } else if name.len() > 63 {
        errs.push(format!("name part {}", max_len(63)));
    }
    // The pattern needs a character: an empty name fails it too, as in Go.
    if !is_qualified_part(name) {
        errs.push(format!("name part {QUALIFIED_NAME}"));
    }
    errs
}

/// `IsValidLabelValue`.
pub(crate) fn label_value(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > 63 {
        errs.push(max_len(63));
    }
    if !value.is_empty() && !is_qualified_part(value) {
        errs.push(LABEL_VALUE.to_owned());
    }
    errs
}

/// `ValidateLabels`: a `map[string]string` of label keys and values at `path`.
pub(crate) fn labels(errs: &mut Errors, labels: Option<&Value>, path: &str) {
    let Some(map) = labels.and_then(Value::as_object) else { return };
    for (k, v) in map {
        for msg in qualified_name(k) {
            errs.invalid(path, k.clone(), &msg);
        }
        let v = v.as_str().unwrap_or("");
        for msg in label_value(v) {
            errs.invalid(path, v, &msg);
        }
    }
}

/// `ValidateAnnotations`.
pub(crate) fn annotations(errs: &mut Errors, annotations: Option<&Value>, path: &str) {
    let Some(map) = annotations.and_then(Value::as_object) else { return };
    let mut total = 0;
    for (k, v) in map {
        for msg in qualified_name(&k.to_lowercase()) {
            errs.invalid(path, k.clone(), &msg);
        }
        total += k.len() + v.as_str().map_or(0, str::len);
    }
    if total > ANNOTATIONS_LIMIT {
        errs.too_long(path, ANNOTATIONS_LIMIT);
    }
}

/// `ValidateObjectMeta` plus core's finalizer rule, for a new object of `kind`.
pub(crate) fn object_meta(errs: &mut Errors, object: &Value, namespaced: bool, rule: NameRule) {
    let empty = Value::Null;
    let meta = object.get("metadata").unwrap_or(&empty);
    let generate = str_or_empty(meta, "generateName");
    if !generate.is_empty() {
        for msg in check_name(rule, generate, true) {
            errs.invalid("metadata.generateName", generate, &msg);
        }
    }
    let name = str_or_empty(meta, "name");
    if name.is_empty() {
        errs.required("metadata.name", "name or generateName is required");
    } else {
        for msg in check_name(rule, name, false) {
            errs.invalid("metadata.name", name, &msg);
        }
    }
    let namespace = str_or_empty(meta, "namespace");
    if namespaced {
        if namespace.is_empty() {
            errs.required("metadata.namespace", "");
        } else {
            for msg in dns1123_label(namespace) {
                errs.invalid("metadata.namespace", namespace, &msg);
            }
        }
    } else if !namespace.is_empty() {
        errs.forbidden("metadata.namespace", "not allowed on this type");
    }
    meta_common(errs, meta);
}

/// What every write of metadata checks: generation, labels, annotations, owners, finalizers.
fn meta_common(errs: &mut Errors, meta: &Value) {
    errs.nonnegative("metadata.generation", meta.get("generation"));
    labels(errs, get(meta, "labels"), "metadata.labels");
    annotations(errs, get(meta, "annotations"), "metadata.annotations");
    for (i, owner) in list(meta, "ownerReferences").iter().enumerate() {
        let path = index("metadata.ownerReferences", i);
        for (field, what) in [("apiVersion", "version"), ("kind", "kind"), ("name", "name")] {
            if str_or_empty(owner, field).is_empty() {
                errs.invalid(
                    &child(&path, field),
                    str_or_empty(owner, field),
                    &format!("{what} must not be empty"),
                );
            }
        }
        if str_or_empty(owner, "uid").is_empty() {
            errs.invalid(&child(&path, "uid"), "", "uid must not be empty");
        }
    }
    finalizers(errs, list(meta, "finalizers"), "metadata.finalizers");
}

/// What apimachinery's `ValidateObjectMeta`/`ValidateObjectMetaUpdate` report where core's
/// add `validateKubeFinalizerName`: the apiextensions server validates CRDs and custom
/// resources with the former, so a finalizer without a `/` (`customresourcecleanup…`) is fine
/// there. Drops that rule's errors, which the shared metadata checks report.
pub(crate) fn generic_finalizer_rules(errs: &mut Errors) {
    errs.0.retain(|e| {
        !(e.field.starts_with("metadata.finalizers[")
            && e.message
                .ends_with(": name is neither a standard finalizer name nor is it fully qualified"))
    });
}

/// `ValidateFinalizers` and core's `validateKubeFinalizerName`.
pub(crate) fn finalizers(errs: &mut Errors, finalizers: &[Value], path: &str) {
    let mut has_orphan = false;
    let mut has_foreground = false;
    for (i, finalizer) in finalizers.iter().enumerate() {
        let name = finalizer.as_str().unwrap_or("");
        let at = index(path, i);
        for msg in qualified_name(name) {
            errs.invalid(&at, name, &msg);
        }
        if !name.contains('/') && !matches!(name, "kubernetes" | "orphan" | "foregroundDeletion") {
            errs.invalid(
                &at,
                name,
                "name is neither a standard finalizer name nor is it fully qualified",
            );
        }
        has_orphan |= name == "orphan";
        has_foreground |= name == "foregroundDeletion";
    }
    if has_orphan && has_foreground {
        let shown: Vec<String> =
            finalizers.iter().map(|f| super::go_quote(f.as_str().unwrap_or(""))).collect();
        errs.invalid(
            path,
            Shown::Raw(format!("[]string{{{}}}", shown.join(", "))),
            "finalizer orphan and foregroundDeletion cannot be both set",
        );
    }
}

/// `ValidateObjectMetaUpdate`: identity stays, the rest is checked again.
pub(crate) fn object_meta_update(errs: &mut Errors, object: &Value, old: &Value) {
    let empty = Value::Null;
    let meta = object.get("metadata").unwrap_or(&empty);
    let old_meta = old.get("metadata").unwrap_or(&empty);
    for field in ["name", "namespace", "uid", "creationTimestamp"] {
        errs.immutable(&child("metadata", field), meta.get(field), old_meta.get(field));
    }
    if get(old_meta, "deletionTimestamp").is_some() {
        let was = list(old_meta, "finalizers");
        let mut added: Vec<&str> = list(meta, "finalizers")
            .iter()
            .filter(|f| !was.contains(f))
            .filter_map(Value::as_str)
            .collect();
        added.sort_unstable();
        added.dedup();
        if !added.is_empty() {
            let shown: Vec<String> = added.iter().map(|f| super::go_quote(f)).collect();
            errs.forbidden(
                "metadata.finalizers",
                &format!(
                    "no new finalizers can be added if the object is being deleted, found new finalizers []string{{{}}}",
                    shown.join(", ")
                ),
            );
        }
    }
    meta_common(errs, meta);
}

/// `ValidateLabelSelector` (strict: label values must be valid).
pub(crate) fn label_selector(errs: &mut Errors, selector: &Value, path: &str) {
    labels(errs, get(selector, "matchLabels"), &child(path, "matchLabels"));
    for (i, expression) in list(selector, "matchExpressions").iter().enumerate() {
        let at = index(&child(path, "matchExpressions"), i);
        let operator = str_or_empty(expression, "operator");
        let values = list(expression, "values");
        match operator {
            "In" | "NotIn" => {
                if values.is_empty() {
                    errs.required(
                        &child(&at, "values"),
                        "must be specified when `operator` is 'In' or 'NotIn'",
                    );
                }
            }
            "Exists" | "DoesNotExist" => {
                if !values.is_empty() {
                    errs.forbidden(
                        &child(&at, "values"),
                        "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                    );
                }
            }
            other => errs.invalid(&child(&at, "operator"), other, "not a valid selector operator"),
        }
        let label_key = str_or_empty(expression, "key");
        for msg in qualified_name(label_key) {
            errs.invalid(&child(&at, "key"), label_key, &msg);
        }
        for (j, value) in values.iter().enumerate() {
            let value = value.as_str().unwrap_or("");
            for msg in label_value(value) {
                errs.invalid(&index(&child(&at, "values"), j), value, &msg);
            }
        }
    }
}

/// Whether `LabelSelectorAsSelector` accepts the selector.
pub(crate) fn valid_selector(selector: &Value) -> bool {
    let mut probe = Errors::default();
    label_selector(&mut probe, selector, "");
    probe.0.is_empty()
}

/// The workloads' check that their selector (one `LabelSelectorAsSelector` accepts; none
/// matches nothing, an empty one everything) selects their pod template, with the template's
/// labels shown as Go prints the map.
pub(crate) fn template_labels_match(
    errs: &mut Errors,
    selector: Option<&Value>,
    template_meta: &Value,
) {
    let no_labels = serde_json::Map::new();
    let labels = map_of(template_meta, "labels").unwrap_or(&no_labels);
    if selector.is_some_and(|selector| selector_matches(selector, labels)) {
        return;
    }
    let shown = match get(template_meta, "labels") {
        None => Shown::Raw("map[string]string(nil)".to_owned()),
        labels => Shown::json(labels),
    };
    errs.invalid(
        "spec.template.metadata.labels",
        shown,
        "`selector` does not match template `labels`",
    );
}

/// Whether a `metav1.LabelSelector` matches `labels` (a valid selector; empty matches all).
pub(crate) fn selector_matches(selector: &Value, labels: &serde_json::Map<String, Value>) -> bool {
    let label = |k: &str| labels.get(k).and_then(Value::as_str);
    let match_labels = map_of(selector, "matchLabels").into_iter().flatten();
    for (k, v) in match_labels {
        if label(k) != v.as_str() {
            return false;
        }
    }
    list(selector, "matchExpressions").iter().all(|expression| {
        let k = str_or_empty(expression, "key");
        let values: Vec<&str> =
            list(expression, "values").iter().filter_map(Value::as_str).collect();
        match str_or_empty(expression, "operator") {
            "In" => label(k).is_some_and(|v| values.contains(&v)),
            "NotIn" => label(k).is_none_or(|v| !values.contains(&v)),
            "Exists" => label(k).is_some(),
            "DoesNotExist" => label(k).is_none(),
            _ => false,
        }
    })
}

/// A `*metav1.LabelSelector` as a field error shows it: dereferenced, then Go's `%#v`.
pub(crate) fn show_selector(selector: &Value) -> Shown {
    let quoted = |items: &[Value]| {
        let items: Vec<String> =
            items.iter().map(|v| super::go_quote(v.as_str().unwrap_or_default())).collect();
        items.join(", ")
    };
    let labels = match map_of(selector, "matchLabels") {
        None => "map[string]string(nil)".to_owned(),
        Some(_) => {
            let items: Vec<String> = super::string_map(selector, "matchLabels")
                .iter()
                .map(|(k, v)| format!("{}:{}", super::go_quote(k), super::go_quote(v)))
                .collect();
            format!("map[string]string{{{}}}", items.join(", "))
        }
    };
    let expressions = match selector.get("matchExpressions").and_then(Value::as_array) {
        None => "[]v1.LabelSelectorRequirement(nil)".to_owned(),
        Some(expressions) => {
            let items: Vec<String> = expressions
                .iter()
                .map(|e| {
                    let values = match e.get("values").and_then(Value::as_array) {
                        None => "[]string(nil)".to_owned(),
                        Some(values) => format!("[]string{{{}}}", quoted(values)),
                    };
                    format!(
                        "v1.LabelSelectorRequirement{{Key:{}, Operator:{}, Values:{values}}}",
                        super::go_quote(str_or_empty(e, "key")),
                        super::go_quote(str_or_empty(e, "operator")),
                    )
                })
                .collect();
            format!("[]v1.LabelSelectorRequirement{{{}}}", items.join(", "))
        }
    };
    Shown::Raw(format!("v1.LabelSelector{{MatchLabels:{labels}, MatchExpressions:{expressions}}}"))
}

/// A name-like field checked with one of the DNS rules.
pub(crate) fn check_field(
    errs: &mut Errors,
    value: &Value,
    field: &str,
    path: &str,
    rule: NameRule,
) {
    if let Some(s) = str_of(value, field).filter(|s| !s.is_empty()) {
        for msg in check_name(rule, s, false) {
            errs.invalid(&child(path, field), s, &msg);
        }
    }
}
