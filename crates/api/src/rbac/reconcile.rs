//! Bootstrap reconciliation: what kube-apiserver's `rbac/bootstrap-roles` post-start hook does
//! to a bootstrap role or binding that already exists, so a data dir written by an older
//! version gains what the current default policy adds, and keeps what its users added.
//!
//! Ported from Kubernetes v1.33 `component-helpers/auth/rbac/reconciliation`
//! (`computeReconciledRole`, `computeReconciledRoleBinding`, union mode: nothing is removed).
//! An object annotated `rbac.authorization.kubernetes.io/autoupdate: "false"` is left alone.

use serde_json::{Map, Value};

use super::{PolicyRule, uncovered};

/// The annotation that opts an object out of reconciliation when it is `"false"`.
pub const AUTO_UPDATE: &str = "rbac.authorization.kubernetes.io/autoupdate";

/// What reconciliation does to an existing object.
#[derive(Debug, Clone, PartialEq)]
pub enum Reconciled {
    /// It already has everything the bootstrap object has.
    Unchanged,
    /// Write this (the existing object with what was missing added).
    Update(Value),
    /// A binding to another role: delete it and create the bootstrap one.
    Recreate,
    /// It lacks something but opted out (`autoupdate: "false"`).
    Protected,
}

/// A (Cluster)Role: the bootstrap `expected` annotations and labels merged under the existing
/// ones (which win), the expected rules no existing rule covers appended (broken down, as
/// `Covers` reports them), and the aggregation rule's missing selectors appended (or the rule
/// removed when the bootstrap role is not aggregated).
pub fn role(existing: &Value, expected: &Value) -> Reconciled {
    let mut result = existing.clone();
    let mut changed = merge_metadata(&mut result, expected);

    let rules = |object: &Value| PolicyRule::all_of(object);
    let missing = uncovered(&rules(existing), &rules(expected));
    if !missing.is_empty() {
        let list = rules_list(&mut result);
        list.extend(missing.iter().map(PolicyRule::to_json));
        changed = true;
    }

    let selectors = |object: &Value| -> Option<Vec<Value>> {
        let rule = object.get("aggregationRule").filter(|rule| !rule.is_null())?;
        Some(rule["clusterRoleSelectors"].as_array().cloned().unwrap_or_default())
    };
    match (selectors(existing), selectors(expected)) {
        (Some(_), None) => {
            remove(&mut result, "aggregationRule");
            changed = true;
        }
        (have, Some(want)) => {
            let have = have.unwrap_or_default();
            let missing: Vec<Value> = want
                .into_iter()
                .filter(|selector| !have.iter().any(|h| same_selector(h, selector)))
                .collect();
            if !missing.is_empty() {
                let mut list = have;
                list.extend(missing);
                if let Some(object) = result.as_object_mut() {
                    let rule = serde_json::json!({ "clusterRoleSelectors": list });
                    object.insert("aggregationRule".into(), rule);
                }
                changed = true;
            }
        }
        (None, None) => {}
    }
    outcome(existing, result, changed)
}

/// A (Cluster)RoleBinding: recreated when it refers to another role; else the annotations
/// and labels merged as for a role and the missing subjects appended.
pub fn binding(existing: &Value, expected: &Value) -> Reconciled {
    let same_role = ["apiGroup", "kind", "name"]
        .iter()
        .all(|field| text(&existing["roleRef"][*field]) == text(&expected["roleRef"][*field]));
    if !same_role {
        return if protected(existing) { Reconciled::Protected } else { Reconciled::Recreate };
    }
    let mut result = existing.clone();
    let mut changed = merge_metadata(&mut result, expected);
    let have = existing["subjects"].as_array().cloned().unwrap_or_default();
    let missing: Vec<Value> = expected["subjects"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|subject| !have.iter().any(|h| same_subject(h, subject)))
        .cloned()
        .collect();
    if !missing.is_empty() {
        let mut list = have;
        list.extend(missing);
        if let Some(object) = result.as_object_mut() {
            object.insert("subjects".into(), Value::Array(list));
        }
        changed = true;
    }
    outcome(existing, result, changed)
}

fn outcome(existing: &Value, result: Value, changed: bool) -> Reconciled {
    match (changed, protected(existing)) {
        (false, _) => Reconciled::Unchanged,
        (true, true) => Reconciled::Protected,
        (true, false) => Reconciled::Update(result),
    }
}

fn protected(object: &Value) -> bool {
    object["metadata"]["annotations"][AUTO_UPDATE] == "false"
}

/// Adds the expected annotations and labels the existing object lacks (`merge`: the existing
/// values win). Whether anything was added.
fn merge_metadata(result: &mut Value, expected: &Value) -> bool {
    let mut changed = false;
    for field in ["annotations", "labels"] {
        let Some(wanted) = expected["metadata"][field].as_object().filter(|m| !m.is_empty()) else {
            continue;
        };
        let Some(metadata) = result.get_mut("metadata").and_then(Value::as_object_mut) else {
            continue;
        };
        let map = metadata.entry(field).or_insert_with(|| Value::Object(Map::new()));
        if !map.is_object() {
            *map = Value::Object(Map::new());
        }
        let Some(map) = map.as_object_mut() else { continue };
        for (key, value) in wanted {
            if !map.contains_key(key) {
                map.insert(key.clone(), value.clone());
                changed = true;
            }
        }
    }
    changed
}

/// The object's `rules`, made a list if it was absent.
fn rules_list(object: &mut Value) -> &mut Vec<Value> {
    if !object["rules"].is_array() {
        object["rules"] = Value::Array(Vec::new());
    }
    match &mut object["rules"] {
        Value::Array(list) => list,
        _ => unreachable!("made a list above"),
    }
}

fn remove(object: &mut Value, field: &str) {
    if let Some(map) = object.as_object_mut() {
        map.remove(field);
    }
}

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or_default()
}

/// `equality.Semantic.DeepEqual` of two label selectors: empty and absent lists and maps are
/// the same.
fn same_selector(a: &Value, b: &Value) -> bool {
    let labels = |s: &Value| s["matchLabels"].as_object().cloned().unwrap_or_default();
    let expressions = |s: &Value| s["matchExpressions"].as_array().cloned().unwrap_or_default();
    labels(a) == labels(b) && expressions(a) == expressions(b)
}

/// Subjects are the same when kind, apiGroup, name and namespace are.
fn same_subject(a: &Value, b: &Value) -> bool {
    ["kind", "apiGroup", "name", "namespace"].iter().all(|f| text(&a[*f]) == text(&b[*f]))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn cluster_role(annotations: Value, rules: Value) -> Value {
        json!({"kind": "ClusterRole", "metadata": {"name": "r", "annotations": annotations,
               "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"}}, "rules": rules})
    }

    #[test]
    fn roles_gain_missing_rules_labels_and_selectors_and_keep_their_own() {
        let expected = cluster_role(
            json!({AUTO_UPDATE: "true"}),
            json!([{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]),
        );
        // Up to date, with a rule of its own: nothing to do.
        let extended = cluster_role(
            json!({AUTO_UPDATE: "true", "note": "mine"}),
            json!([{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]},
                   {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}]),
        );
        assert_eq!(role(&extended, &expected), Reconciled::Unchanged);

        // Missing a verb: it is appended broken down, its own rules stay.
        let older = cluster_role(
            json!({}),
            json!([{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]),
        );
        let Reconciled::Update(updated) = role(&older, &expected) else { panic!("an update") };
        assert_eq!(
            updated["rules"],
            json!([{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]},
                   {"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}])
        );
        assert_eq!(updated["metadata"]["annotations"], json!({AUTO_UPDATE: "true"}));

        // An existing label or annotation value wins over the bootstrap one.
        let relabelled = cluster_role(json!({AUTO_UPDATE: "true"}), expected["rules"].clone());
        let mut relabelled = relabelled;
        relabelled["metadata"]["labels"]["kubernetes.io/bootstrapping"] = json!("mine");
        assert_eq!(role(&relabelled, &expected), Reconciled::Unchanged);

        // Opted out.
        let frozen = cluster_role(json!({AUTO_UPDATE: "false"}), json!([]));
        assert_eq!(role(&frozen, &expected), Reconciled::Protected);
    }

    #[test]
    fn aggregation_rules_gain_selectors_or_go() {
        let selector = |label: &str| json!({"matchLabels": {label: "true"}});
        let aggregated = json!({"metadata": {"name": "view"},
            "aggregationRule": {"clusterRoleSelectors": [selector("aggregate-to-view")]}});
        // A role stored before it was aggregated gets the rule; its rules stay until the
        // aggregation controller replaces them.
        let legacy = json!({"metadata": {"name": "view"},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]});
        let Reconciled::Update(updated) = role(&legacy, &aggregated) else { panic!("update") };
        assert_eq!(updated["aggregationRule"], aggregated["aggregationRule"]);
        assert_eq!(updated["rules"], legacy["rules"]);
        // A selector of its own is kept; an equal one with empty lists is the same.
        let own = json!({"metadata": {"name": "view"}, "aggregationRule": {"clusterRoleSelectors": [
            selector("mine"),
            {"matchLabels": {"aggregate-to-view": "true"}, "matchExpressions": []}]}});
        assert_eq!(role(&own, &aggregated), Reconciled::Unchanged);
        let partial = json!({"metadata": {"name": "view"},
            "aggregationRule": {"clusterRoleSelectors": [selector("mine")]}});
        let Reconciled::Update(updated) = role(&partial, &aggregated) else { panic!("update") };
        assert_eq!(
            updated["aggregationRule"]["clusterRoleSelectors"],
            json!([selector("mine"), selector("aggregate-to-view")])
        );
        // A role the bootstrap policy does not aggregate loses its aggregation rule.
        let plain = json!({"metadata": {"name": "r"}});
        let Reconciled::Update(updated) = role(&aggregated, &plain) else { panic!("update") };
        assert!(updated.get("aggregationRule").is_none(), "{updated}");
    }

    #[test]
    fn bindings_gain_subjects_and_are_recreated_for_another_role() {
        let group = |name: &str| json!({"kind": "Group", "apiGroup": GROUP_NAME, "name": name});
        let binding_of = |role: &str, subjects: Value| {
            json!({"metadata": {"name": "b"}, "subjects": subjects,
                   "roleRef": {"apiGroup": GROUP_NAME, "kind": "ClusterRole", "name": role}})
        };
        let expected = binding_of("r", json!([group("system:authenticated")]));
        let extended = binding_of("r", json!([group("system:authenticated"), group("mine")]));
        assert_eq!(binding(&extended, &expected), Reconciled::Unchanged);
        let emptied = binding_of("r", json!([group("mine")]));
        let Reconciled::Update(updated) = binding(&emptied, &expected) else { panic!("update") };
        assert_eq!(updated["subjects"], json!([group("mine"), group("system:authenticated")]));
        let repointed = binding_of("other", json!([group("system:authenticated")]));
        assert_eq!(binding(&repointed, &expected), Reconciled::Recreate);
        let mut frozen = repointed.clone();
        frozen["metadata"]["annotations"] = json!({AUTO_UPDATE: "false"});
        assert_eq!(binding(&frozen, &expected), Reconciled::Protected);
    }

    const GROUP_NAME: &str = super::super::GROUP;
}
