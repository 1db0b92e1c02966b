//! ResourceQuota validation, as pkg/apis/core/validation (v1.33) has it:
//! `ValidateResourceQuota` (create), `ValidateResourceQuotaUpdate` (scopes are immutable) and
//! `ValidateResourceQuotaStatusUpdate`: resource names a quota can track, non-negative
//! quantities (whole numbers for object counts), scopes and scope selectors. Values are shown
//! as Go's `%#v` shows the internal types (`[]core.ResourceQuotaScope{"BestEffort"}`).

use serde_json::Value;

use super::{Errors, Shown, child, get, go_quote, key, map_of, meta};
use crate::quantity::Quantity;

/// `standardQuotaResources` of `IsStandardQuotaResourceName` (huge pages aside).
const STANDARD_QUOTA_RESOURCES: [&str; 19] = [
    "cpu",
    "memory",
    "ephemeral-storage",
    "requests.cpu",
    "requests.memory",
    "requests.storage",
    "requests.ephemeral-storage",
    "limits.cpu",
    "limits.memory",
    "limits.ephemeral-storage",
    "pods",
    "resourcequotas",
    "services",
    "replicationcontrollers",
    "secrets",
    "persistentvolumeclaims",
    "configmaps",
    "services.nodeports",
    "services.loadbalancers",
];
/// `integerResources` of `IsIntegerResourceName`.
const INTEGER_RESOURCES: [&str; 9] = [
    "pods",
    "resourcequotas",
    "services",
    "replicationcontrollers",
    "secrets",
    "configmaps",
    "persistentvolumeclaims",
    "services.nodeports",
    "services.loadbalancers",
];
/// `standardResourceQuotaScopes` (`VolumeAttributesClass` is off in v1.33).
const STANDARD_SCOPES: [&str; 6] = [
    "Terminating",
    "NotTerminating",
    "BestEffort",
    "NotBestEffort",
    "PriorityClass",
    "CrossNamespacePodAffinity",
];
/// `podComputeQuotaResources` and `pods`: what the pod scopes may limit.
const POD_SCOPED_RESOURCES: [&str; 7] =
    ["pods", "cpu", "memory", "limits.cpu", "limits.memory", "requests.cpu", "requests.memory"];

/// `ValidateResourceQuota`.
pub(crate) fn validate(errs: &mut Errors, object: &Value) {
    meta::object_meta(errs, object, true, meta::name_rule("ResourceQuota"));
    spec(errs, object);
    resource_lists(errs, object, "status", &["hard", "used"]);
}

/// `ValidateResourceQuotaUpdate` (after the metadata's update rules): the spec, and the same
/// set of scopes.
pub(crate) fn validate_update(errs: &mut Errors, object: &Value, old: &Value) {
    spec(errs, object);
    let set = |o: &Value| -> std::collections::BTreeSet<String> {
        scopes(o).iter().filter_map(Value::as_str).map(str::to_owned).collect()
    };
    if set(object) != set(old) {
        errs.invalid("spec.scopes", scopes_shown(object), "field is immutable");
    }
}

/// `ValidateResourceQuotaStatusUpdate` (after the metadata's update rules).
pub(crate) fn status(errs: &mut Errors, object: &Value) {
    resource_lists(errs, object, "status", &["hard", "used"]);
}

/// `ValidateResourceQuotaSpec`: the hard limits, the scopes and the scope selector.
fn spec(errs: &mut Errors, object: &Value) {
    resource_lists(errs, object, "spec", &["hard"]);
    let spec = get(object, "spec").unwrap_or(&Value::Null);
    let hard: Vec<&str> = {
        let mut names: Vec<&str> =
            map_of(spec, "hard").into_iter().flatten().map(|(k, _)| k.as_str()).collect();
        names.sort_unstable();
        names
    };
    let scopes: Vec<&str> = scopes(object).iter().filter_map(Value::as_str).collect();
    if !scopes.is_empty() {
        let shown = scopes_shown(object);
        for scope in &scopes {
            if !STANDARD_SCOPES.contains(scope) {
                errs.invalid("spec.scopes", shown.clone(), "unsupported scope");
            }
            if hard.iter().any(|k| standard_quota_resource(k) && !scope_allows(scope, k)) {
                errs.invalid("spec.scopes", shown.clone(), "unsupported scope applied to resource");
            }
        }
        if conflicting(&scopes) {
            errs.invalid("spec.scopes", shown, "conflicting scopes");
        }
    }
    let Some(selector) = get(spec, "scopeSelector") else { return };
    let path = "spec.scopeSelector.matchExpressions";
    let expressions = selector.get("matchExpressions").and_then(Value::as_array);
    let mut selected = Vec::new();
    for requirement in expressions.into_iter().flatten() {
        let scope = requirement["scopeName"].as_str().unwrap_or("");
        let operator = requirement["operator"].as_str().unwrap_or("");
        let values = requirement["values"].as_array().map(Vec::as_slice).unwrap_or_default();
        if !STANDARD_SCOPES.contains(&scope) {
            errs.invalid(&child(path, "scopeName"), scope, "unsupported scope");
        }
        if hard.iter().any(|k| standard_quota_resource(k) && !scope_allows(scope, k)) {
            let shown = Shown::Raw(selector_shown(selector));
            errs.invalid(path, shown, "unsupported scope applied to resource");
        }
        if matches!(
            scope,
            "BestEffort"
                | "NotBestEffort"
                | "Terminating"
                | "NotTerminating"
                | "CrossNamespacePodAffinity"
        ) && operator != "Exists"
        {
            errs.invalid(
                &child(path, "operator"),
                operator,
                "must be 'Exist' when scope is any of ResourceQuotaScopeTerminating, ResourceQuotaScopeNotTerminating, ResourceQuotaScopeBestEffort, ResourceQuotaScopeNotBestEffort or ResourceQuotaScopeCrossNamespacePodAffinity",
            );
        }
        match operator {
            "In" | "NotIn" if values.is_empty() => errs.required(
                &child(path, "values"),
                "must be at least one value when `operator` is 'In' or 'NotIn' for scope selector",
            ),
            "In" | "NotIn" => {}
            "Exists" | "DoesNotExist" if !values.is_empty() => errs.invalid(
                &child(path, "values"),
                Shown::Raw(strings_shown(Some(values))),
                "must be no value when `operator` is 'Exist' or 'DoesNotExist' for scope selector",
            ),
            "Exists" | "DoesNotExist" => {}
            _ => errs.invalid(&child(path, "operator"), operator, "not a valid selector operator"),
        }
        selected.push(scope);
    }
    if conflicting(&selected) {
        errs.invalid(path, scopes_shown(object), "conflicting scopes");
    }
}

fn scopes(object: &Value) -> &[Value] {
    object["spec"]["scopes"].as_array().map(Vec::as_slice).unwrap_or_default()
}

/// BestEffort with NotBestEffort, or Terminating with NotTerminating.
fn conflicting(scopes: &[&str]) -> bool {
    [("BestEffort", "NotBestEffort"), ("Terminating", "NotTerminating")]
        .iter()
        .any(|(a, b)| scopes.contains(a) && scopes.contains(b))
}

/// `IsResourceQuotaScopeValidForResource`.
fn scope_allows(scope: &str, resource: &str) -> bool {
    match scope {
        "Terminating"
        | "NotTerminating"
        | "NotBestEffort"
        | "PriorityClass"
        | "CrossNamespacePodAffinity" => POD_SCOPED_RESOURCES.contains(&resource),
        "BestEffort" => resource == "pods",
        _ => true,
    }
}

/// `IsStandardQuotaResourceName`.
fn standard_quota_resource(name: &str) -> bool {
    STANDARD_QUOTA_RESOURCES.contains(&name) || hugepages(name)
}

/// `IsStandardResourceName`: upstream's `standardResources` are the quota's and `storage`.
pub(super) fn standard_resource(name: &str) -> bool {
    standard_quota_resource(name) || name == "storage"
}

/// `IsQuotaHugePageResourceName`.
fn hugepages(name: &str) -> bool {
    name.starts_with("hugepages-") || name.starts_with("requests.hugepages-")
}

/// Each named resource list of `object[section]`: `ValidateResourceQuotaResourceName` and
/// `ValidateResourceQuantityValue` for every entry.
fn resource_lists(errs: &mut Errors, object: &Value, section: &str, fields: &[&str]) {
    let Some(at) = get(object, section) else { return };
    for field in fields {
        let path = child(section, field);
        for (name, quantity) in map_of(at, field).into_iter().flatten() {
            let path = key(&path, name);
            resource_name(errs, name, &path);
            quantity_value(errs, name, quantity, &path);
        }
    }
}

/// `ValidateResourceQuotaResourceName`: a qualified name, standard unless it has a prefix, and
/// then one a quota can track.
fn resource_name(errs: &mut Errors, name: &str, path: &str) {
    let problems = meta::qualified_name(name);
    for msg in &problems {
        errs.invalid(path, name, msg);
    }
    if !problems.is_empty() || name.contains('/') {
        return;
    }
    if !standard_resource(name) {
        errs.invalid(path, name, "must be a standard resource type or fully qualified");
    } else if !standard_quota_resource(name) {
        errs.invalid(path, name, "must be a standard resource for quota");
    }
}

/// `ValidateResourceQuantityValue`: not negative; whole for what counts objects.
fn quantity_value(errs: &mut Errors, name: &str, value: &Value, path: &str) {
    // A malformed quantity was refused when the object was decoded.
    let Some(text) = crate::quantity::text(value) else { return };
    let Some(quantity) = Quantity::parse(&text) else { return };
    if quantity.nanos < 0 {
        errs.invalid(path, quantity.to_string(), "must be greater than or equal to 0");
    }
    let integer = INTEGER_RESOURCES.contains(&name) || extended_resource(name);
    if integer && quantity.milli_value() % 1000 != 0 {
        errs.invalid(path, Shown::Raw(quantity_shown(&text, quantity)), "must be an integer");
    }
}

/// `IsExtendedResourceName`.
fn extended_resource(name: &str) -> bool {
    name.contains('/')
        && !name.contains("kubernetes.io/")
        && !name.starts_with("requests.")
        && meta::qualified_name(&format!("requests.{name}")).is_empty()
}

// === values as Go shows them ===

/// `spec.scopes` as `%#v` shows a `[]core.ResourceQuotaScope`.
fn scopes_shown(object: &Value) -> Shown {
    let scopes = object["spec"].get("scopes").and_then(Value::as_array);
    Shown::Raw(match scopes {
        None => "[]core.ResourceQuotaScope(nil)".to_owned(),
        Some(list) => {
            let items: Vec<String> =
                list.iter().map(|s| go_quote(s.as_str().unwrap_or(""))).collect();
            format!("[]core.ResourceQuotaScope{{{}}}", items.join(", "))
        }
    })
}

/// A `[]string` as `%#v` shows it.
fn strings_shown(values: Option<&[Value]>) -> String {
    match values {
        None => "[]string(nil)".to_owned(),
        Some(list) => {
            let items: Vec<String> =
                list.iter().map(|s| go_quote(s.as_str().unwrap_or(""))).collect();
            format!("[]string{{{}}}", items.join(", "))
        }
    }
}

/// A scope selector as `%#v` shows a `core.ScopeSelector`.
fn selector_shown(selector: &Value) -> String {
    let expressions = selector.get("matchExpressions").and_then(Value::as_array);
    let list = match expressions {
        None => "[]core.ScopedResourceSelectorRequirement(nil)".to_owned(),
        Some(list) => {
            let items: Vec<String> = list
                .iter()
                .map(|r| {
                    format!(
                        "core.ScopedResourceSelectorRequirement{{ScopeName:{}, Operator:{}, Values:{}}}",
                        go_quote(r["scopeName"].as_str().unwrap_or("")),
                        go_quote(r["operator"].as_str().unwrap_or("")),
                        strings_shown(r["values"].as_array().map(Vec::as_slice)),
                    )
                })
                .collect();
            format!("[]core.ScopedResourceSelectorRequirement{{{}}}", items.join(", "))
        }
    };
    format!("core.ScopeSelector{{MatchExpressions:{list}}}")
}

/// A `resource.Quantity` as `%#v` shows it (its `String` has a pointer receiver, so
/// `field.Invalid` falls back to the struct): the int64 form `ParseQuantity` gives a decimal
/// text, with the text cached when it was canonical. Quantities kept as `inf.Dec` (binary
/// fractions, more than 18 digits) show their canonical text instead.
fn quantity_shown(text: &str, quantity: Quantity) -> String {
    let trimmed = text.trim();
    let (negative, rest) = match trimmed.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, trimmed.strip_prefix('+').unwrap_or(trimmed)),
    };
    let rest = rest.trim_start_matches('0');
    let number_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
    let (number, suffix) = rest.split_at(number_end);
    let (num, denom) = number.split_once('.').unwrap_or((number, ""));
    let num = if num.is_empty() { "0" } else { num };
    let exponent: Option<i32> = match suffix {
        "" => Some(0),
        "n" => Some(-9),
        "u" => Some(-6),
        "m" => Some(-3),
        "k" => Some(3),
        "M" => Some(6),
        "G" => Some(9),
        "T" => Some(12),
        "P" => Some(15),
        "E" => Some(18),
        other => other.strip_prefix(['e', 'E']).and_then(|e| e.parse().ok()),
    };
    let format = match suffix {
        "" | "n" | "u" | "m" | "k" | "M" | "G" | "T" | "P" | "E" => "DecimalSI",
        _ => "DecimalExponent",
    };
    let digits = num.len() + denom.len();
    let shifted = format!("{num}{denom}");
    let fast = exponent.and_then(|exponent| {
        let scale = exponent - i32::try_from(denom.len()).ok()?;
        if digits > 18 || scale < -9 {
            return None;
        }
        let value: i64 = shifted.parse().ok()?;
        let value = if negative { -value } else { value };
        let cached = scale % 3 == 0 && !shifted.ends_with("000") && !shifted.starts_with('0');
        let cached = if cached { trimmed } else { "" };
        Some(format!(
            "resource.Quantity{{i:resource.int64Amount{{value:{value}, scale:{scale}}}, d:resource.infDecAmount{{Dec:(*inf.Dec)(nil)}}, s:{}, Format:\"{format}\"}}",
            go_quote(cached)
        ))
    });
    fast.unwrap_or_else(|| quantity.to_string())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::validation::{Write, validate};

    fn errors(object: serde_json::Value, write: Write<'_>) -> Vec<String> {
        validate("", "ResourceQuota", &object, write).iter().map(ToString::to_string).collect()
    }

    fn quota(spec: serde_json::Value) -> serde_json::Value {
        json!({"metadata": {"name": "q", "namespace": "ns"}, "spec": spec})
    }

    #[test]
    fn a_valid_quota_passes() {
        let spec = json!({"hard": {"pods": "10", "requests.cpu": "1", "count/deployments.apps": "2",
            "gold.storageclass.storage.k8s.io/requests.storage": "10Gi",
            "requests.nvidia.com/gpu": "4", "hugepages-2Mi": "1Gi"}});
        assert_eq!(errors(quota(spec), Write::Create), Vec::<String>::new());
        let scoped = json!({"hard": {"pods": "1", "cpu": "1"}, "scopes": ["NotBestEffort"],
            "scopeSelector": {"matchExpressions": [{"scopeName": "PriorityClass",
                "operator": "In", "values": ["high"]}]}});
        assert_eq!(errors(quota(scoped), Write::Create), Vec::<String>::new());
    }

    #[test]
    fn names_and_quantities() {
        let spec = json!({"hard": {"foo": "1", "storage": "1Gi", "pods": "-1",
            "services": "1500m", "secrets": "0.5", "a/b/c": "1"}});
        assert_eq!(
            errors(quota(spec), Write::Create),
            [
                "spec.hard[foo]: Invalid value: \"foo\": must be a standard resource type or fully qualified",
                "spec.hard[storage]: Invalid value: \"storage\": must be a standard resource for quota",
                "spec.hard[pods]: Invalid value: \"-1\": must be greater than or equal to 0",
                "spec.hard[services]: Invalid value: resource.Quantity{i:resource.int64Amount{value:1500, scale:-3}, d:resource.infDecAmount{Dec:(*inf.Dec)(nil)}, s:\"1500m\", Format:\"DecimalSI\"}: must be an integer",
                "spec.hard[secrets]: Invalid value: resource.Quantity{i:resource.int64Amount{value:5, scale:-1}, d:resource.infDecAmount{Dec:(*inf.Dec)(nil)}, s:\"\", Format:\"DecimalSI\"}: must be an integer",
                "spec.hard[a/b/c]: Invalid value: \"a/b/c\": a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
            ]
        );
    }

    #[test]
    fn scopes_and_selectors() {
        let spec = json!({"hard": {"pods": "1", "requests.storage": "1Gi"},
            "scopes": ["BestEffort", "NotBestEffort", "Foo"]});
        let shown = r#"[]core.ResourceQuotaScope{"BestEffort", "NotBestEffort", "Foo"}"#;
        assert_eq!(
            errors(quota(spec), Write::Create),
            [
                format!(
                    "spec.scopes: Invalid value: {shown}: unsupported scope applied to resource"
                ),
                format!("spec.scopes: Invalid value: {shown}: unsupported scope"),
                format!("spec.scopes: Invalid value: {shown}: conflicting scopes"),
            ]
        );
        let spec = json!({"hard": {"pods": "1"}, "scopeSelector": {"matchExpressions": [
            {"scopeName": "BestEffort", "operator": "In", "values": ["x"]},
            {"scopeName": "PriorityClass", "operator": "NotIn"},
            {"scopeName": "PriorityClass", "operator": "Exists", "values": ["a"]},
            {"scopeName": "PriorityClass", "operator": "Has"},
        ]}});
        let path = "spec.scopeSelector.matchExpressions";
        assert_eq!(
            errors(quota(spec), Write::Create),
            [
                format!(
                    "{path}.operator: Invalid value: \"In\": must be 'Exist' when scope is any of ResourceQuotaScopeTerminating, ResourceQuotaScopeNotTerminating, ResourceQuotaScopeBestEffort, ResourceQuotaScopeNotBestEffort or ResourceQuotaScopeCrossNamespacePodAffinity"
                ),
                format!(
                    "{path}.values: Required value: must be at least one value when `operator` is 'In' or 'NotIn' for scope selector"
                ),
                format!(
                    "{path}.values: Invalid value: []string{{\"a\"}}: must be no value when `operator` is 'Exist' or 'DoesNotExist' for scope selector"
                ),
                format!("{path}.operator: Invalid value: \"Has\": not a valid selector operator"),
            ]
        );
    }

    #[test]
    fn scopes_are_immutable_and_status_is_checked() {
        let old = json!({"metadata": {"name": "q", "namespace": "ns", "resourceVersion": "1"},
            "spec": {"hard": {"pods": "1"}, "scopes": ["BestEffort"]}});
        let mut new = old.clone();
        new["spec"]["scopes"] = json!(["NotTerminating"]);
        assert_eq!(
            errors(new, Write::Update(&old)),
            [
                "spec.scopes: Invalid value: []core.ResourceQuotaScope{\"NotTerminating\"}: field is immutable"
            ]
        );
        let mut status = old.clone();
        status["status"] = json!({"hard": {"pods": "1"}, "used": {"pods": "-2"}});
        assert_eq!(
            errors(status, Write::Status(&old)),
            ["status.used[pods]: Invalid value: \"-2\": must be greater than or equal to 0"]
        );
    }
}
