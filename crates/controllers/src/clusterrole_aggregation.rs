//! The ClusterRole aggregation controller (kube-controller-manager's `clusterrole-aggregation`,
//! v1.33: pkg/controller/clusterroleaggregation/clusterroleaggregation_controller.go).
//!
//! A ClusterRole with an `aggregationRule` gets as its rules the rules of every other
//! ClusterRole one of its `clusterRoleSelectors` matches: selector by selector, the matches in
//! name order, each rule once (semantic equality: a missing list and an empty one are the
//! same). No match means no rules. The rules are written only when they differ, by server-side
//! apply with the field manager `clusterrole-aggregation-controller` and `force`, falling back
//! to an update when the server does not know apply (415), as the Go controller does. Like it,
//! any change to any ClusterRole re-plans every aggregated one: the set is small and the
//! dependency graph (aggregated roles feeding others, as `view` → `edit` → `admin`) is not
//! known in advance.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use berth_api::rbac::PolicyRule;
use k8s_openapi::api::rbac::v1::{ClusterRole, PolicyRule as ApiPolicyRule};
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::Context;
use crate::informer::Cached;
use crate::meta::{error_chain, name_of, selects, status_code};

/// The field manager of the controller's applies (Kubernetes' own).
pub(crate) const FIELD_MANAGER: &str = "clusterrole-aggregation-controller";

impl Cached for ClusterRole {}

/// The rules one aggregated ClusterRole should have and does not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Change {
    pub(crate) name: String,
    pub(crate) rules: Vec<PolicyRule>,
}

/// Why a write failed.
#[derive(Debug, thiserror::Error)]
enum Error {
    #[error("cannot write the rules of clusterrole {name:?}")]
    Write {
        name: String,
        #[source]
        source: kube::Error,
    },
}

/// The changes the aggregated ClusterRoles need, in name order: pure, from every ClusterRole
/// observed. A role whose selectors cannot be evaluated (an unknown operator) is left alone,
/// as the Go controller's sync fails on it.
pub(crate) fn plan(roles: &[Arc<ClusterRole>]) -> Vec<Change> {
    let mut sorted: Vec<&ClusterRole> = roles.iter().map(AsRef::as_ref).collect();
    sorted.sort_by(|a, b| name_of(&a.metadata).cmp(name_of(&b.metadata)));
    let mut changes = Vec::new();
    for target in &sorted {
        let Some(aggregation) = target.aggregation_rule.as_ref() else { continue };
        let selectors = aggregation.cluster_role_selectors.as_deref().unwrap_or_default();
        if selectors.iter().any(|s| !selector_is_valid(s)) {
            continue;
        }
        let name = name_of(&target.metadata);
        let mut rules: Vec<PolicyRule> = Vec::new();
        for selector in selectors {
            for source in &sorted {
                if name_of(&source.metadata) == name
                    || !selects(Some(selector), source.metadata.labels.as_ref())
                {
                    continue;
                }
                for rule in source.rules.iter().flatten().map(from_api) {
                    if !rules.contains(&rule) {
                        rules.push(rule);
                    }
                }
            }
        }
        let current: Vec<PolicyRule> = target.rules.iter().flatten().map(from_api).collect();
        if rules != current {
            changes.push(Change { name: name.to_owned(), rules });
        }
    }
    changes
}

/// `metav1.LabelSelectorAsSelector` refuses operators it does not know.
fn selector_is_valid(
    selector: &k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector,
) -> bool {
    selector
        .match_expressions
        .iter()
        .flatten()
        .all(|e| matches!(e.operator.as_str(), "In" | "NotIn" | "Exists" | "DoesNotExist"))
}

/// A rule as `berth_api::rbac` reads it from its JSON form (a missing list is an empty one).
fn from_api(rule: &ApiPolicyRule) -> PolicyRule {
    PolicyRule::from_json(&serde_json::to_value(rule).unwrap_or_default())
}

/// A rule in its typed form, through the JSON `berth_api::rbac` writes (empty lists left out).
fn to_api(rule: &PolicyRule) -> ApiPolicyRule {
    serde_json::from_value(rule.to_json()).unwrap_or_default()
}

/// The apply configuration the Go controller sends: the name and the rules, nothing else (no
/// rules at all when there are none, as `omitempty` leaves them out, so the apply removes the
/// rules the controller set before).
fn apply_configuration(change: &Change) -> Value {
    let mut object = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": change.name},
    });
    if !change.rules.is_empty() {
        object["rules"] = change.rules.iter().map(PolicyRule::to_json).collect();
    }
    object
}

/// Runs the controller until the task is aborted.
pub(crate) async fn run(cx: Context) {
    let wake = Arc::new(Notify::new());
    let roles = crate::cache::cache::<ClusterRole>(&cx.informers, &wake);
    roles.wait_until_ready().await;
    let api = Api::<ClusterRole>::all(cx.client.clone());
    let mut retries: HashMap<String, (u32, Instant)> = HashMap::new();
    loop {
        let now = Instant::now();
        let state = roles.state();
        let changes = plan(&state);
        retries.retain(|name, _| changes.iter().any(|c| &c.name == name));
        for change in changes {
            // A role in back-off waits for its turn; any change wakes the loop anyway.
            if retries.get(&change.name).is_some_and(|(_, at)| *at > now) {
                continue;
            }
            let current = state.iter().find(|r| name_of(&r.metadata) == change.name);
            match write(&api, &change, current.map(AsRef::as_ref)).await {
                Ok(()) => {
                    retries.remove(&change.name);
                }
                Err(error) => {
                    tracing::warn!(error = %error_chain(&error), "clusterrole aggregation");
                    let entry = retries.entry(change.name).or_insert((0, now));
                    entry.0 = entry.0.saturating_add(1);
                    entry.1 = Instant::now() + Duration::from_millis(50u64 << entry.0.min(10));
                }
            }
        }
        let next_retry = retries.values().map(|(_, at)| *at).min();
        match next_retry {
            Some(at) => {
                let _ = tokio::time::timeout_at(at, wake.notified()).await;
            }
            None => crate::cache::woken(&wake).await,
        }
    }
}

/// Server-side apply with force; an update of the cached role when the server answers 415.
async fn write(
    api: &Api<ClusterRole>,
    change: &Change,
    current: Option<&ClusterRole>,
) -> Result<(), Error> {
    let wrap = |source| Error::Write { name: change.name.clone(), source };
    let params = PatchParams::apply(FIELD_MANAGER).force();
    match api.patch(&change.name, &params, &Patch::Apply(apply_configuration(change))).await {
        Ok(_) => Ok(()),
        Err(error) if status_code(&error) == Some(415) => {
            let Some(current) = current else { return Err(wrap(error)) };
            let mut updated = current.clone();
            updated.rules = Some(change.rules.iter().map(to_api).collect());
            if change.rules.is_empty() {
                updated.rules = None;
            }
            api.replace(&change.name, &PostParams::default(), &updated)
                .await
                .map(|_| ())
                .map_err(wrap)
        }
        Err(error) => Err(wrap(error)),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::api::rbac::v1::AggregationRule;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
        LabelSelector, LabelSelectorRequirement, ObjectMeta,
    };

    use super::*;

    fn rule(verbs: &[&str], resources: &[&str]) -> PolicyRule {
        let owned = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect();
        PolicyRule {
            verbs: owned(verbs),
            api_groups: vec![String::new()],
            resources: owned(resources),
            ..PolicyRule::default()
        }
    }

    fn role(name: &str, labels: &[&str], rules: Vec<PolicyRule>) -> ClusterRole {
        ClusterRole {
            metadata: ObjectMeta {
                name: Some(name.to_owned()),
                labels: Some(labels.iter().map(|l| ((*l).to_owned(), "true".to_owned())).collect()),
                ..ObjectMeta::default()
            },
            rules: (!rules.is_empty()).then(|| rules.iter().map(to_api).collect()),
            ..ClusterRole::default()
        }
    }

    fn matching(label: &str) -> LabelSelector {
        LabelSelector {
            match_labels: Some(BTreeMap::from([(label.to_owned(), "true".to_owned())])),
            ..LabelSelector::default()
        }
    }

    fn aggregated(mut role: ClusterRole, selectors: Vec<LabelSelector>) -> ClusterRole {
        role.aggregation_rule = Some(AggregationRule { cluster_role_selectors: Some(selectors) });
        role
    }

    fn change(name: &str, rules: Vec<PolicyRule>) -> Change {
        Change { name: name.to_owned(), rules }
    }

    #[test]
    fn plan_aggregates_like_the_go_controller() {
        let get_pods = rule(&["get"], &["pods"]);
        let list_pods = rule(&["list"], &["pods"]);
        let get_secrets = rule(&["get"], &["secrets"]);
        let cases: Vec<(&str, Vec<ClusterRole>, Vec<Change>)> = vec![
            (
                "matches in name order, whatever the observed order",
                vec![
                    role("zeta", &["agg"], vec![list_pods.clone()]),
                    aggregated(role("target", &[], vec![]), vec![matching("agg")]),
                    role("alpha", &["agg"], vec![get_pods.clone()]),
                    role("other", &["not-agg"], vec![get_secrets.clone()]),
                ],
                vec![change("target", vec![get_pods.clone(), list_pods.clone()])],
            ),
            (
                "a rule two roles share is added once",
                vec![
                    aggregated(role("target", &[], vec![]), vec![matching("agg")]),
                    role("a", &["agg"], vec![get_pods.clone(), list_pods.clone()]),
                    role("b", &["agg"], vec![list_pods.clone(), get_pods.clone()]),
                ],
                vec![change("target", vec![get_pods.clone(), list_pods.clone()])],
            ),
            (
                "the aggregated role itself is excluded though its labels match",
                vec![
                    aggregated(
                        role("target", &["agg"], vec![get_secrets.clone()]),
                        vec![matching("agg")],
                    ),
                    role("a", &["agg"], vec![get_pods.clone()]),
                ],
                vec![change("target", vec![get_pods.clone()])],
            ),
            (
                "selector by selector: the second selector's matches come after the first's",
                vec![
                    aggregated(
                        role("target", &[], vec![]),
                        vec![matching("second"), matching("first")],
                    ),
                    role("a", &["first"], vec![get_pods.clone()]),
                    role("b", &["second"], vec![list_pods.clone()]),
                ],
                vec![change("target", vec![list_pods.clone(), get_pods.clone()])],
            ),
            (
                "rules already aggregated: nothing to write",
                vec![
                    aggregated(role("target", &[], vec![get_pods.clone()]), vec![matching("agg")]),
                    role("a", &["agg"], vec![get_pods.clone()]),
                ],
                vec![],
            ),
            (
                "no match and no rules: nothing to write (nil and empty are the same)",
                vec![aggregated(role("target", &[], vec![]), vec![matching("agg")])],
                vec![],
            ),
            (
                "no match any more: the rules go",
                vec![aggregated(
                    role("target", &[], vec![get_pods.clone()]),
                    vec![matching("agg")],
                )],
                vec![change("target", vec![])],
            ),
            (
                "rules in another order differ",
                vec![
                    aggregated(
                        role("target", &[], vec![list_pods.clone(), get_pods.clone()]),
                        vec![matching("agg")],
                    ),
                    role("a", &["agg"], vec![get_pods.clone(), list_pods.clone()]),
                ],
                vec![change("target", vec![get_pods.clone(), list_pods.clone()])],
            ),
            (
                "chains: an aggregated role's current rules feed the next",
                vec![
                    aggregated(
                        role("edit", &["to-admin"], vec![get_pods.clone()]),
                        vec![matching("to-edit")],
                    ),
                    aggregated(role("admin", &[], vec![]), vec![matching("to-admin")]),
                    role("x", &["to-edit"], vec![get_pods.clone()]),
                ],
                vec![change("admin", vec![get_pods.clone()])],
            ),
            (
                "roles without an aggregation rule are never changed",
                vec![role("a", &["agg"], vec![get_pods.clone()])],
                vec![],
            ),
            (
                "an empty selector selects every other role",
                vec![
                    aggregated(role("target", &[], vec![]), vec![LabelSelector::default()]),
                    role("a", &[], vec![get_pods.clone()]),
                ],
                vec![change("target", vec![get_pods.clone()])],
            ),
            (
                "a selector with an unknown operator leaves the role alone",
                vec![
                    aggregated(
                        role("target", &[], vec![]),
                        vec![LabelSelector {
                            match_expressions: Some(vec![LabelSelectorRequirement {
                                key: "agg".into(),
                                operator: "Near".into(),
                                values: None,
                            }]),
                            ..LabelSelector::default()
                        }],
                    ),
                    role("a", &["agg"], vec![get_pods.clone()]),
                ],
                vec![],
            ),
        ];
        for (name, roles, expected) in cases {
            let roles: Vec<Arc<ClusterRole>> = roles.into_iter().map(Arc::new).collect();
            assert_eq!(plan(&roles), expected, "{name}");
        }
    }

    #[test]
    fn apply_configuration_names_the_role_and_its_rules_only() {
        let with = apply_configuration(&change("view", vec![rule(&["get"], &["pods"])]));
        assert_eq!(
            with,
            json!({
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRole",
                "metadata": {"name": "view"},
                "rules": [{"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}],
            })
        );
        let without = apply_configuration(&change("view", vec![]));
        assert_eq!(without.get("rules"), None);
    }
}
