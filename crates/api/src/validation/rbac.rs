//! rbac.authorization.k8s.io: Role, ClusterRole, RoleBinding and ClusterRoleBinding
//! (`pkg/apis/rbac/validation/validation.go`). Names only need to be valid path segments, so
//! `system:discovery` is a valid name.

use serde_json::Value;

use super::meta::{self, NameRule};
use super::{Errors, Shown, child, get, go_quote, index, list, str_or_empty};

/// The group roles and bindings must refer to.
const GROUP: &str = "rbac.authorization.k8s.io";

pub(crate) fn validate(errs: &mut Errors, kind: &str, object: &Value) {
    let namespaced = matches!(kind, "Role" | "RoleBinding");
    meta::object_meta(errs, object, namespaced, NameRule::PathSegment);
    body(errs, kind, object);
}

/// What an update checks besides metadata: the whole object again, and that `roleRef` stayed.
pub(crate) fn validate_update(errs: &mut Errors, kind: &str, object: &Value, old: &Value) {
    body(errs, kind, object);
    if matches!(kind, "RoleBinding" | "ClusterRoleBinding") && role_ref(object) != role_ref(old) {
        errs.invalid("roleRef", Shown::Raw(role_ref_go(object)), "cannot change roleRef");
    }
}

fn body(errs: &mut Errors, kind: &str, object: &Value) {
    match kind {
        "Role" | "ClusterRole" => {
            for (i, rule) in list(object, "rules").iter().enumerate() {
                policy_rule(errs, rule, kind == "Role", &index("rules", i));
            }
            if kind == "ClusterRole"
                && let Some(aggregation) = get(object, "aggregationRule")
            {
                let selectors = list(aggregation, "clusterRoleSelectors");
                if selectors.is_empty() {
                    errs.required(
                        "aggregationRule.clusterRoleSelectors",
                        "at least one clusterRoleSelector required if aggregationRule is non-nil",
                    );
                }
                for (i, selector) in selectors.iter().enumerate() {
                    meta::label_selector(
                        errs,
                        selector,
                        &index("aggregationRule.clusterRoleSelectors", i),
                    );
                }
            }
        }
        "RoleBinding" | "ClusterRoleBinding" => binding(errs, kind == "RoleBinding", object),
        _ => {}
    }
}

fn role_ref(object: &Value) -> (&str, &str, &str) {
    let r = object.get("roleRef").unwrap_or(&Value::Null);
    (str_or_empty(r, "apiGroup"), str_or_empty(r, "kind"), str_or_empty(r, "name"))
}

/// Go's `%#v` of the internal `rbac.RoleRef`, as `field.Invalid` shows a struct.
fn role_ref_go(object: &Value) -> String {
    let (group, kind, name) = role_ref(object);
    format!(
        "rbac.RoleRef{{APIGroup:{}, Kind:{}, Name:{}}}",
        go_quote(group),
        go_quote(kind),
        go_quote(name)
    )
}

/// Go's `%#v` of a `[]string`.
fn strings_go(values: &[Value]) -> String {
    let quoted: Vec<String> =
        values.iter().map(|v| go_quote(v.as_str().unwrap_or_default())).collect();
    format!("[]string{{{}}}", quoted.join(", "))
}

/// `validatePolicyRule`.
fn policy_rule(errs: &mut Errors, rule: &Value, namespaced: bool, path: &str) {
    if list(rule, "verbs").is_empty() {
        errs.required(&child(path, "verbs"), "verbs must contain at least one value");
    }
    let urls = list(rule, "nonResourceURLs");
    let (groups, resources, names) =
        (list(rule, "apiGroups"), list(rule, "resources"), list(rule, "resourceNames"));
    if !urls.is_empty() {
        let field = child(path, "nonResourceURLs");
        if namespaced {
            errs.invalid(
                &field,
                Shown::Raw(strings_go(urls)),
                "namespaced rules cannot apply to non-resource URLs",
            );
        }
        if !groups.is_empty() || !resources.is_empty() || !names.is_empty() {
            errs.invalid(
                &field,
                Shown::Raw(strings_go(urls)),
                "rules cannot apply to both regular resources and non-resource URLs",
            );
        }
        return;
    }
    if groups.is_empty() {
        errs.required(
            &child(path, "apiGroups"),
            "resource rules must supply at least one api group",
        );
    }
    if resources.is_empty() {
        errs.required(
            &child(path, "resources"),
            "resource rules must supply at least one resource",
        );
    }
    if !names.is_empty() && resources.len() > 1 {
        errs.required(
            &child(path, "resourceNames"),
            "resource names cannot apply to multiple resources",
        );
    }
}

/// `ValidateRoleBinding` / `ValidateClusterRoleBinding` past the metadata.
fn binding(errs: &mut Errors, namespaced: bool, object: &Value) {
    let (group, kind, name) = role_ref(object);
    if group != GROUP {
        errs.not_supported("roleRef.apiGroup", group, &[GROUP]);
    }
    let kinds: &[&str] = if namespaced { &["Role", "ClusterRole"] } else { &["ClusterRole"] };
    if !kinds.contains(&kind) {
        errs.not_supported("roleRef.kind", kind, kinds);
    }
    if name.is_empty() {
        errs.required("roleRef.name", "");
    } else {
        for msg in meta::check_name(NameRule::PathSegment, name, false) {
            errs.invalid("roleRef.name", name, &msg);
        }
    }
    for (i, subject) in list(object, "subjects").iter().enumerate() {
        binding_subject(errs, subject, namespaced, &index("subjects", i));
    }
}

/// `validateRoleBindingSubject`.
fn binding_subject(errs: &mut Errors, subject: &Value, namespaced: bool, path: &str) {
    let name = str_or_empty(subject, "name");
    let api_group = str_or_empty(subject, "apiGroup");
    if name.is_empty() {
        errs.required(&child(path, "name"), "");
    }
    match str_or_empty(subject, "kind") {
        "ServiceAccount" => {
            if !name.is_empty() {
                for msg in meta::dns1123_subdomain(name) {
                    errs.invalid(&child(path, "name"), name, &msg);
                }
            }
            if !api_group.is_empty() {
                errs.not_supported(&child(path, "apiGroup"), api_group, &[""]);
            }
            if !namespaced && str_or_empty(subject, "namespace").is_empty() {
                errs.required(&child(path, "namespace"), "");
            }
        }
        kind @ ("User" | "Group") => {
            if name.is_empty() {
                let what = if kind == "User" { "user" } else { "group" };
                errs.invalid(&child(path, "name"), name, &format!("{what} name cannot be empty"));
            }
            if api_group != GROUP {
                errs.not_supported(&child(path, "apiGroup"), api_group, &[GROUP]);
            }
        }
        other => {
            errs.not_supported(&child(path, "kind"), other, &["ServiceAccount", "User", "Group"])
        }
    }
}
