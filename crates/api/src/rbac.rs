//! RBAC as kube-apiserver evaluates it: policy rules, who a binding applies to, whether a rule
//! allows a request, and whether one set of rules covers another (escalation prevention).
//!
//! Ported from Kubernetes v1.33: `pkg/apis/rbac/v1/evaluation_helpers.go` (verb, group,
//! resource, name and non-resource URL matching, `CompactString`),
//! `plugin/pkg/auth/authorizer/rbac/rbac.go` (`RuleAllows`, the authorizing visitor and its
//! reasons), `pkg/registry/rbac/validation/rule.go` (`VisitRulesFor`, `appliesTo`,
//! `ConfirmNoEscalation`'s message) and `component-helpers/auth/rbac/validation`
//! (`Covers`). [`Policy`] is the in-memory view of every Role, ClusterRole, RoleBinding and
//! ClusterRoleBinding that the API server keeps current from a watch; everything here is
//! pure, the bootstrap policy (`bootstrap`) is data, and `reconcile` brings an existing
//! bootstrap object up to it.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use serde_json::{Map, Value, json};

use crate::validation::go_quote;

pub mod bootstrap;
pub mod reconcile;

/// The API group of the RBAC kinds.
pub const GROUP: &str = "rbac.authorization.k8s.io";
/// `*`: every verb, group, resource or non-resource URL.
const ALL: &str = "*";

/// `rbacv1.PolicyRule`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyRule {
    pub verbs: Vec<String>,
    pub api_groups: Vec<String>,
    pub resources: Vec<String>,
    pub resource_names: Vec<String>,
    pub non_resource_urls: Vec<String>,
}

impl PolicyRule {
    /// Every verb on every resource of every group and on every non-resource URL: what
    /// `cluster-admin` grants and `system:masters` may do.
    pub fn everything() -> Vec<PolicyRule> {
        let star = || vec!["*".to_owned()];
        vec![
            PolicyRule {
                verbs: star(),
                api_groups: star(),
                resources: star(),
                ..PolicyRule::default()
            },
            PolicyRule { verbs: star(), non_resource_urls: star(), ..PolicyRule::default() },
        ]
    }

    /// A rule from its JSON; what is not a list of strings reads as empty.
    pub fn from_json(rule: &Value) -> PolicyRule {
        PolicyRule {
            verbs: strings(&rule["verbs"]),
            api_groups: strings(&rule["apiGroups"]),
            resources: strings(&rule["resources"]),
            resource_names: strings(&rule["resourceNames"]),
            non_resource_urls: strings(&rule["nonResourceURLs"]),
        }
    }

    /// The rules of a Role or ClusterRole object.
    pub fn all_of(role: &Value) -> Vec<PolicyRule> {
        role["rules"]
            .as_array()
            .map(|rules| rules.iter().map(Self::from_json).collect())
            .unwrap_or_default()
    }

    /// The JSON form, fields in Go's order, empty lists left out (`omitempty`), `verbs` always.
    pub fn to_json(&self) -> Value {
        let mut rule = Map::new();
        rule.insert("verbs".into(), json!(self.verbs));
        for (field, values) in [
            ("apiGroups", &self.api_groups),
            ("resources", &self.resources),
            ("resourceNames", &self.resource_names),
            ("nonResourceURLs", &self.non_resource_urls),
        ] {
            if !values.is_empty() {
                rule.insert(field.into(), json!(values));
            }
        }
        Value::Object(rule)
    }

    /// `rbacv1helpers.CompactString`: `{APIGroups:[""], Resources:["pods"], Verbs:["list"]}`,
    /// what escalation errors list.
    pub fn compact_string(&self) -> String {
        let mut parts = Vec::new();
        for (label, values) in [
            ("APIGroups", &self.api_groups),
            ("Resources", &self.resources),
            ("NonResourceURLs", &self.non_resource_urls),
            ("ResourceNames", &self.resource_names),
            ("Verbs", &self.verbs),
        ] {
            if !values.is_empty() {
                parts.push(format!("{label}:{}", go_quote_list(values)));
            }
        }
        format!("{{{}}}", parts.join(", "))
    }
}

/// Go's `%q` of a `[]string`: `["a" "b"]`.
pub fn go_quote_list(values: &[String]) -> String {
    let quoted: Vec<String> = values.iter().map(|v| go_quote(v)).collect();
    format!("[{}]", quoted.join(" "))
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|items| items.iter().filter_map(Value::as_str).map(str::to_owned).collect())
        .unwrap_or_default()
}

/// `rbacv1.Subject`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subject {
    pub kind: String,
    pub api_group: String,
    pub name: String,
    pub namespace: String,
}

/// `rbacv1.RoleRef`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoleRef {
    pub api_group: String,
    pub kind: String,
    pub name: String,
}

/// A RoleBinding or ClusterRoleBinding, as the authorizer reads it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Binding {
    pub name: String,
    /// Empty for a ClusterRoleBinding.
    pub namespace: String,
    pub role_ref: RoleRef,
    pub subjects: Vec<Subject>,
}

impl Binding {
    /// A binding from its JSON object.
    pub fn from_json(binding: &Value) -> Binding {
        let text = |value: &Value| value.as_str().unwrap_or_default().to_owned();
        let role_ref = &binding["roleRef"];
        let subjects = binding["subjects"]
            .as_array()
            .map(|subjects| {
                subjects
                    .iter()
                    .map(|s| Subject {
                        kind: text(&s["kind"]),
                        api_group: text(&s["apiGroup"]),
                        name: text(&s["name"]),
                        namespace: text(&s["namespace"]),
                    })
                    .collect()
            })
            .unwrap_or_default();
        Binding {
            name: text(&binding["metadata"]["name"]),
            namespace: text(&binding["metadata"]["namespace"]),
            role_ref: RoleRef {
                api_group: text(&role_ref["apiGroup"]),
                kind: text(&role_ref["kind"]),
                name: text(&role_ref["name"]),
            },
            subjects,
        }
    }
}

/// Who asks: `user.Info`'s name and groups.
#[derive(Debug, Clone, Copy)]
pub struct Identity<'a> {
    pub name: &'a str,
    pub groups: &'a [String],
}

/// What a request does, as the authorizer sees it (`authorizer.Attributes`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attributes {
    /// `get`, `list`, …, or for non-resource requests the lowercase HTTP method.
    pub verb: String,
    pub target: Target,
}

/// A resource request or a non-resource path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Resource {
        api_group: String,
        resource: String,
        subresource: String,
        name: String,
        /// Empty at the cluster scope (and for lists across namespaces).
        namespace: String,
    },
    NonResource {
        path: String,
    },
}

impl Attributes {
    /// The namespace whose RoleBindings apply.
    pub fn namespace(&self) -> &str {
        match &self.target {
            Target::Resource { namespace, .. } => namespace,
            Target::NonResource { .. } => "",
        }
    }
}

/// `RuleAllows`.
pub fn rule_allows(attributes: &Attributes, rule: &PolicyRule) -> bool {
    if !verb_matches(rule, &attributes.verb) {
        return false;
    }
    match &attributes.target {
        Target::Resource { api_group, resource, subresource, name, .. } => {
            let combined = if subresource.is_empty() {
                resource.clone()
            } else {
                format!("{resource}/{subresource}")
            };
            api_group_matches(rule, api_group)
                && resource_matches(rule, &combined, subresource)
                && resource_name_matches(rule, name)
        }
        Target::NonResource { path } => non_resource_url_matches(rule, path),
    }
}

fn verb_matches(rule: &PolicyRule, verb: &str) -> bool {
    rule.verbs.iter().any(|v| v == ALL || v == verb)
}

fn api_group_matches(rule: &PolicyRule, group: &str) -> bool {
    rule.api_groups.iter().any(|g| g == ALL || g == group)
}

fn resource_matches(rule: &PolicyRule, combined: &str, subresource: &str) -> bool {
    rule.resources.iter().any(|r| {
        r == ALL
            || r == combined
            // `*/scale` matches the scale subresource of every resource.
            || (!subresource.is_empty()
                && r.len() == subresource.len() + 2
                && r.starts_with("*/")
                && r.ends_with(subresource))
    })
}

fn resource_name_matches(rule: &PolicyRule, name: &str) -> bool {
    rule.resource_names.is_empty() || rule.resource_names.iter().any(|n| n == name)
}

fn non_resource_url_matches(rule: &PolicyRule, path: &str) -> bool {
    rule.non_resource_urls.iter().any(|url| {
        url == ALL
            || url == path
            || (url.ends_with('*') && path.starts_with(url.trim_end_matches('*')))
    })
}

/// `appliesToUser`: whether `subject` names the user (a service account subject without a
/// namespace means the binding's).
pub fn applies_to(user: Identity<'_>, subject: &Subject, namespace: &str) -> bool {
    match subject.kind.as_str() {
        "User" => user.name == subject.name,
        "Group" => user.groups.contains(&subject.name),
        "ServiceAccount" => {
            let sa_namespace =
                if subject.namespace.is_empty() { namespace } else { subject.namespace.as_str() };
            !sa_namespace.is_empty()
                && user
                    .name
                    .strip_prefix("system:serviceaccount:")
                    .and_then(|rest| rest.strip_prefix(sa_namespace))
                    .and_then(|rest| rest.strip_prefix(':'))
                    == Some(subject.name.as_str())
        }
        _ => false,
    }
}

/// Where a rule came from, for the "allowed by" reason.
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    pub binding: &'a Binding,
    pub subject: &'a Subject,
}

impl std::fmt::Display for Source<'_> {
    /// `clusterRoleBindingDescriber` / `roleBindingDescriber`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let b = self.binding;
        let namespace = b.namespace.as_str();
        let subject = match self.subject.kind.as_str() {
            "ServiceAccount" => {
                let ns = if self.subject.namespace.is_empty() {
                    namespace
                } else {
                    &self.subject.namespace
                };
                format!("ServiceAccount {}", go_quote(&format!("{}/{ns}", self.subject.name)))
            }
            kind => format!("{kind} {}", go_quote(&self.subject.name)),
        };
        let (what, name) = if namespace.is_empty() {
            ("ClusterRoleBinding", b.name.clone())
        } else {
            ("RoleBinding", format!("{}/{namespace}", b.name))
        };
        write!(
            f,
            "{what} {} of {} {} to {subject}",
            go_quote(&name),
            b.role_ref.kind,
            go_quote(&b.role_ref.name)
        )
    }
}

/// What the authorizer decided and why (`authorizer.Decision` and its reason).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    /// `RBAC: allowed by …` when allowed; when not, `RBAC: …` naming the roles that could not
    /// be resolved, or empty.
    pub reason: String,
}

/// Every Role, ClusterRole, RoleBinding and ClusterRoleBinding, by name.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    cluster_roles: HashMap<String, Vec<PolicyRule>>,
    roles: HashMap<(String, String), Vec<PolicyRule>>,
    cluster_role_bindings: BTreeMap<String, Binding>,
    role_bindings: HashMap<String, BTreeMap<String, Binding>>,
}

/// Which of the four kinds an object is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Role,
    ClusterRole,
    RoleBinding,
    ClusterRoleBinding,
}

impl Kind {
    /// The kind served as `plural` in the RBAC group.
    pub fn from_plural(plural: &str) -> Option<Kind> {
        match plural {
            "roles" => Some(Kind::Role),
            "clusterroles" => Some(Kind::ClusterRole),
            "rolebindings" => Some(Kind::RoleBinding),
            "clusterrolebindings" => Some(Kind::ClusterRoleBinding),
            _ => None,
        }
    }
}

impl Policy {
    /// Records `object` (created or updated) of `kind` in `namespace` (empty for cluster kinds).
    pub fn put(&mut self, kind: Kind, namespace: &str, name: &str, object: &Value) {
        match kind {
            Kind::Role => {
                self.roles.insert((namespace.into(), name.into()), PolicyRule::all_of(object));
            }
            Kind::ClusterRole => {
                self.cluster_roles.insert(name.into(), PolicyRule::all_of(object));
            }
            Kind::RoleBinding => {
                let mut binding = Binding::from_json(object);
                (binding.name, binding.namespace) = (name.into(), namespace.into());
                self.role_bindings
                    .entry(namespace.into())
                    .or_default()
                    .insert(name.into(), binding);
            }
            Kind::ClusterRoleBinding => {
                let mut binding = Binding::from_json(object);
                (binding.name, binding.namespace) = (name.into(), String::new());
                self.cluster_role_bindings.insert(name.into(), binding);
            }
        }
    }

    /// Forgets a deleted object.
    pub fn remove(&mut self, kind: Kind, namespace: &str, name: &str) {
        match kind {
            Kind::Role => {
                self.roles.remove(&(namespace.to_owned(), name.to_owned()));
            }
            Kind::ClusterRole => {
                self.cluster_roles.remove(name);
            }
            Kind::RoleBinding => {
                if let Some(bindings) = self.role_bindings.get_mut(namespace) {
                    bindings.remove(name);
                    if bindings.is_empty() {
                        self.role_bindings.remove(namespace);
                    }
                }
            }
            Kind::ClusterRoleBinding => {
                self.cluster_role_bindings.remove(name);
            }
        }
    }

    /// `GetRoleReferenceRules`: the rules a binding in `namespace` (empty for a
    /// ClusterRoleBinding) grants, or the lister's NotFound text.
    pub fn role_ref_rules(
        &self,
        role_ref: &RoleRef,
        namespace: &str,
    ) -> Result<&[PolicyRule], String> {
        let found = match role_ref.kind.as_str() {
            "Role" => self.roles.get(&(namespace.to_owned(), role_ref.name.clone())),
            "ClusterRole" => self.cluster_roles.get(&role_ref.name),
            kind => return Err(format!("unsupported role reference kind: {}", go_quote(kind))),
        };
        found.map(Vec::as_slice).ok_or_else(|| {
            format!(
                "{}.{GROUP} {} not found",
                role_ref.kind.to_ascii_lowercase(),
                go_quote(&role_ref.name)
            )
        })
    }

    /// `VisitRulesFor`: every rule that applies to `user` in `namespace` (ClusterRoleBindings
    /// first, then the namespace's RoleBindings), each unresolved role as an error; the visitor
    /// returns `false` to stop.
    pub fn visit_rules_for(
        &self,
        user: Identity<'_>,
        namespace: &str,
        mut visitor: impl FnMut(Result<(Source<'_>, &PolicyRule), String>) -> bool,
    ) {
        let cluster = self.cluster_role_bindings.values().map(|b| (b, ""));
        let local = (!namespace.is_empty())
            .then(|| self.role_bindings.get(namespace))
            .flatten()
            .into_iter()
            .flat_map(|bindings| bindings.values().map(move |b| (b, namespace)));
        for (binding, binding_namespace) in cluster.chain(local) {
            let Some(subject) =
                binding.subjects.iter().find(|s| applies_to(user, s, binding_namespace))
            else {
                continue;
            };
            match self.role_ref_rules(&binding.role_ref, binding_namespace) {
                Ok(rules) => {
                    for rule in rules {
                        if !visitor(Ok((Source { binding, subject }, rule))) {
                            return;
                        }
                    }
                }
                Err(error) => {
                    if !visitor(Err(error)) {
                        return;
                    }
                }
            }
        }
    }

    /// The RBAC authorizer's `Authorize`.
    pub fn authorize(&self, user: Identity<'_>, attributes: &Attributes) -> Decision {
        let mut errors = Vec::new();
        let mut allowed_by = None;
        self.visit_rules_for(user, attributes.namespace(), |visited| match visited {
            Ok((source, rule)) if rule_allows(attributes, rule) => {
                allowed_by = Some(source.to_string());
                false
            }
            Ok(_) => true,
            Err(error) => {
                errors.push(error);
                true
            }
        });
        match allowed_by {
            Some(source) => {
                Decision { allowed: true, reason: format!("RBAC: allowed by {source}") }
            }
            None if errors.is_empty() => Decision { allowed: false, reason: String::new() },
            None => Decision { allowed: false, reason: format!("RBAC: {}", aggregate(&errors)) },
        }
    }

    /// `RulesFor`: every rule that applies to `user` in `namespace`, and the errors met.
    pub fn rules_for(&self, user: Identity<'_>, namespace: &str) -> (Vec<PolicyRule>, Vec<String>) {
        let (mut rules, mut errors) = (Vec::new(), Vec::new());
        self.visit_rules_for(user, namespace, |visited| {
            match visited {
                Ok((_, rule)) => rules.push(rule.clone()),
                Err(error) => errors.push(error),
            }
            true
        });
        (rules, errors)
    }

    /// `ConfirmNoEscalation`: `Ok` when `user`'s rules in `namespace` cover `rules`, else the
    /// error kube-apiserver reports (listing what is missing, compacted and sorted).
    pub fn confirm_no_escalation(
        &self,
        user: Identity<'_>,
        namespace: &str,
        rules: &[PolicyRule],
    ) -> Result<(), String> {
        let (owned, errors) = self.rules_for(user, namespace);
        let missing = uncovered(&owned, rules);
        if missing.is_empty() {
            return Ok(());
        }
        let mut descriptions: Vec<String> =
            compact_rules(&missing).iter().map(PolicyRule::compact_string).collect();
        descriptions.sort();
        descriptions.dedup();
        let mut message = format!(
            "user {} (groups={}) is attempting to grant RBAC permissions not currently held:\n{}",
            go_quote(user.name),
            go_quote_list(user.groups),
            descriptions.join("\n")
        );
        if !errors.is_empty() {
            let _ = write!(message, "; resolution errors: [{}]", aggregate(&errors));
        }
        Err(message)
    }
}

/// `utilerrors.NewAggregate(errs).Error()`: one error as itself, more in brackets, duplicates
/// once.
fn aggregate(errors: &[String]) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for error in errors {
        if !seen.contains(&error.as_str()) {
            seen.push(error);
        }
    }
    match seen.as_slice() {
        [one] => (*one).to_owned(),
        many => format!("[{}]", many.join(", ")),
    }
}

/// `Covers`: the parts of `servant` (broken down to one verb, group, resource and name each)
/// that no rule of `owner` covers.
pub fn uncovered(owner: &[PolicyRule], servant: &[PolicyRule]) -> Vec<PolicyRule> {
    servant
        .iter()
        .flat_map(breakdown)
        .filter(|sub| !owner.iter().any(|rule| rule_covers(rule, sub)))
        .collect()
}

/// `BreakdownRule`.
fn breakdown(rule: &PolicyRule) -> Vec<PolicyRule> {
    let one = |s: &String| vec![s.clone()];
    let mut subrules = Vec::new();
    for group in &rule.api_groups {
        for resource in &rule.resources {
            for verb in &rule.verbs {
                let base = PolicyRule {
                    verbs: one(verb),
                    api_groups: one(group),
                    resources: one(resource),
                    ..PolicyRule::default()
                };
                if rule.resource_names.is_empty() {
                    subrules.push(base);
                } else {
                    for name in &rule.resource_names {
                        subrules.push(PolicyRule { resource_names: one(name), ..base.clone() });
                    }
                }
            }
        }
    }
    for url in &rule.non_resource_urls {
        for verb in &rule.verbs {
            subrules.push(PolicyRule {
                verbs: one(verb),
                non_resource_urls: one(url),
                ..PolicyRule::default()
            });
        }
    }
    subrules
}

fn has(set: &[String], element: &str) -> bool {
    set.iter().any(|s| s == element)
}

fn has_all(set: &[String], contains: &[String]) -> bool {
    contains.iter().all(|c| has(set, c))
}

/// `resourceCoversAll`: `*`, every resource exactly, or `*/sub` for a subresource.
fn resources_cover_all(set: &[String], covers: &[String]) -> bool {
    if has(set, ALL) || has_all(set, covers) {
        return true;
    }
    covers.iter().all(|path| {
        has(set, path) || path.split_once('/').is_some_and(|(_, sub)| has(set, &format!("*/{sub}")))
    })
}

fn non_resource_urls_cover_all(set: &[String], covers: &[String]) -> bool {
    covers.iter().all(|path| {
        set.iter().any(|owner| {
            owner == path || (owner.ends_with('*') && path.starts_with(owner.trim_end_matches('*')))
        })
    })
}

/// `ruleCovers`.
fn rule_covers(owner: &PolicyRule, sub: &PolicyRule) -> bool {
    let verbs = has(&owner.verbs, ALL) || has_all(&owner.verbs, &sub.verbs);
    let groups = has(&owner.api_groups, ALL) || has_all(&owner.api_groups, &sub.api_groups);
    let resources = resources_cover_all(&owner.resources, &sub.resources);
    let urls = non_resource_urls_cover_all(&owner.non_resource_urls, &sub.non_resource_urls);
    let names = if sub.resource_names.is_empty() {
        owner.resource_names.is_empty()
    } else {
        owner.resource_names.is_empty() || has_all(&owner.resource_names, &sub.resource_names)
    };
    verbs && groups && resources && names && urls
}

/// `CompactRules`: simple rules (one group, one resource, at most one name) of the same group,
/// resource and name merged into one with all their verbs; the rest first, as they are.
pub fn compact_rules(rules: &[PolicyRule]) -> Vec<PolicyRule> {
    let mut simple: Vec<PolicyRule> = Vec::new();
    let mut other = Vec::new();
    for rule in rules {
        let is_simple = rule.api_groups.len() == 1
            && rule.resources.len() == 1
            && rule.resource_names.len() <= 1
            && rule.non_resource_urls.is_empty();
        if !is_simple {
            other.push(rule.clone());
            continue;
        }
        match simple.iter_mut().find(|s| {
            (&s.api_groups, &s.resources, &s.resource_names)
                == (&rule.api_groups, &rule.resources, &rule.resource_names)
        }) {
            // Appended as they come, duplicates included, as upstream does.
            Some(existing) => existing.verbs.extend(rule.verbs.iter().cloned()),
            None => simple.push(rule.clone()),
        }
    }
    other.extend(simple);
    other
}

#[cfg(test)]
mod tests;
