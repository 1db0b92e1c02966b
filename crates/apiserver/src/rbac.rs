//! The RBAC authorizer (kube-apiserver's `--authorization-mode=RBAC` behind its privileged
//! `system:masters` group), the RBAC kinds' escalation checks, and the bootstrap policy.
//!
//! [`Authorizer`] keeps every Role, ClusterRole, RoleBinding and ClusterRoleBinding in memory
//! (`berth_api::rbac::Policy`), listed at start and kept current by one store watch on
//! `/registry/rbac.authorization.k8s.io/`, so a request costs no store read. Users in
//! `system:masters` (the admin, berth's in-process clients) are allowed without looking at
//! any rule. The cache (a `follower::Follower`) trails the store by a watch delivery: a denial
//! first waits (briefly) until the cache has seen the store's current revision and evaluates
//! again, so a client that has just created a binding is not refused for having been quick.
//!
//! Escalation prevention ([`check_write`], `pkg/registry/rbac/*/policybased`): creating or
//! updating a Role or ClusterRole needs every permission it grants (or `escalate` on it), and
//! a binding needs the permissions of the role it binds (or `bind` on that role).
//! [`bootstrap`] creates the default ClusterRoles and ClusterRoleBindings when missing and
//! reconciles the existing ones, like kube-apiserver's `rbac/bootstrap-roles` post-start hook.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, RwLock};

use berth_api::kinds::ResourceType;
use berth_api::rbac::reconcile::Reconciled;
use berth_api::rbac::{
    self, Attributes, Binding, Decision, Identity, Kind, Policy, PolicyRule, Target,
};
use berth_store::{KeyValue, RangeRequest, Store};
use bytes::Bytes;
use serde_json::Value;
use tokio::sync::watch;

use crate::auth::User;
use crate::follower::{Follower, View};
use crate::resources;
use crate::resources::Context;
use crate::status::{Details, Status};

/// The group whose users are always allowed (`user.SystemPrivilegedGroup`).
pub(crate) const MASTERS: &str = "system:masters";
/// Where the RBAC kinds are stored.
const PREFIX: &str = "/registry/rbac.authorization.k8s.io/";

/// Whether `user` is in `system:masters`.
pub(crate) fn is_master(user: &User) -> bool {
    user.groups.iter().any(|g| g == MASTERS)
}

fn identity(user: &User) -> Identity<'_> {
    Identity { name: &user.name, groups: &user.groups }
}

/// The RBAC authorizer and its cache of the RBAC objects.
#[derive(Debug)]
pub(crate) struct Authorizer {
    rbac: Arc<Follower<Rbac>>,
}

/// Every Role, ClusterRole, RoleBinding and ClusterRoleBinding, as a [`Policy`].
#[derive(Debug, Default)]
struct Rbac {
    policy: RwLock<Policy>,
}

impl View for Rbac {
    fn reset(&self, kvs: &[KeyValue]) {
        let mut policy = Policy::default();
        for kv in kvs {
            apply_put(&mut policy, &kv.key, &kv.value);
        }
        *self.write() = policy;
    }

    fn put(&self, kv: &KeyValue) {
        apply_put(&mut self.write(), &kv.key, &kv.value);
    }

    fn delete(&self, key: &str) {
        if let Some((kind, namespace, name)) = parse_key(key) {
            self.write().remove(kind, namespace, name);
        }
    }
}

impl Rbac {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Policy> {
        // A panic while holding the lock leaves a whole policy (every update is one call).
        self.policy.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Policy> {
        self.policy.write().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Authorizer {
    /// An authorizer with an empty cache; [`Authorizer::follow`] fills it and keeps it current.
    pub(crate) fn new(store: Arc<dyn Store>) -> Arc<Authorizer> {
        Arc::new(Authorizer { rbac: Follower::new(store, PREFIX.to_owned(), Rbac::default()) })
    }

    /// Lists the RBAC objects and starts the task that follows their changes until `stopping`
    /// fires or the store closes.
    pub(crate) async fn follow(
        &self,
        stopping: watch::Receiver<()>,
    ) -> Result<(), berth_store::Error> {
        self.rbac.follow(stopping).await
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Policy> {
        self.rbac.view().read()
    }

    /// Whether `user` may do what `attributes` say, and why: `system:masters` always (with no
    /// reason, as kube-apiserver's privileged-group authorizer), others by RBAC.
    pub(crate) async fn authorize(&self, user: &User, attributes: &Attributes) -> Decision {
        if is_master(user) {
            return Decision { allowed: true, reason: String::new() };
        }
        let decision = self.read().authorize(identity(user), attributes);
        if decision.allowed {
            return decision;
        }
        self.catch_up().await;
        self.read().authorize(identity(user), attributes)
    }

    /// `RulesFor` of the union authorizer: everything for masters, then the RBAC rules, and
    /// the errors met resolving them.
    pub(crate) fn rules_for(&self, user: &User, namespace: &str) -> (Vec<PolicyRule>, Vec<String>) {
        let (mut rules, errors) = self.read().rules_for(identity(user), namespace);
        if is_master(user) {
            rules.splice(0..0, PolicyRule::everything());
        }
        (rules, errors)
    }

    /// Waits until the cache has seen the store's current revision (or a second passed).
    async fn catch_up(&self) {
        self.rbac.catch_up().await;
    }
}

/// `roles/NS/NAME`, `clusterroles/NAME`, … under [`PREFIX`].
fn parse_key(key: &str) -> Option<(Kind, &str, &str)> {
    let rest = key.strip_prefix(PREFIX)?;
    let (plural, rest) = rest.split_once('/')?;
    let kind = Kind::from_plural(plural)?;
    match kind {
        Kind::Role | Kind::RoleBinding => {
            let (namespace, name) = rest.split_once('/')?;
            Some((kind, namespace, name))
        }
        Kind::ClusterRole | Kind::ClusterRoleBinding => Some((kind, "", rest)),
    }
}

fn apply_put(policy: &mut Policy, key: &str, value: &Bytes) {
    let Some((kind, namespace, name)) = parse_key(key) else { return };
    match serde_json::from_slice::<Value>(value) {
        Ok(object) => policy.put(kind, namespace, name, &object),
        Err(error) => tracing::warn!(%error, key, "an RBAC object does not decode; ignored"),
    }
}

// === escalation checks ===

/// Who writes, for the RBAC kinds' escalation checks: set on requests of users outside
/// `system:masters` (whose writes are not checked, as `EscalationAllowed` says).
#[derive(Clone, Debug)]
pub(crate) struct Requester {
    pub(crate) user: User,
    pub(crate) authorizer: Arc<Authorizer>,
}

/// Refuses a create (`old` is `None`) or update of a Role, ClusterRole, RoleBinding or
/// ClusterRoleBinding that would grant the requester permissions they do not hold:
/// kube-apiserver's 403 `clusterroles.rbac.authorization.k8s.io "x" is forbidden: user "…"
/// (groups=[…]) is attempting to grant RBAC permissions not currently held: …`. A binding to
/// a role that does not exist is a 404 for the role. Other kinds pass.
pub(crate) async fn check_write(
    cx: &Context,
    object: &Value,
    old: Option<&Value>,
) -> Result<(), Status> {
    let Some(requester) = &cx.requester else { return Ok(()) };
    let resource = cx.resource();
    if resource.group != rbac::GROUP || cx.path.subresource.is_some() {
        return Ok(());
    }
    let Some(kind) = Kind::from_plural(resource.plural) else { return Ok(()) };
    if old.is_some_and(|old| only_gc_fields_changed(object, old)) {
        return Ok(());
    }
    let (user, authorizer) = (&requester.user, &requester.authorizer);
    let namespace = cx.path.namespace.as_deref().unwrap_or_default();
    let name = object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
    let forbidden = |message: String| forbidden(rbac::GROUP, resource.plural, name, &message);
    let resource_attributes = |verb: &str, group: &str, plural: &str, name: &str| Attributes {
        verb: verb.to_owned(),
        target: Target::Resource {
            api_group: group.to_owned(),
            resource: plural.to_owned(),
            subresource: String::new(),
            name: name.to_owned(),
            namespace: namespace.to_owned(),
        },
    };
    match kind {
        Kind::Role | Kind::ClusterRole => {
            // `RoleEscalationAuthorized`: the name is the request's (none on a create).
            let escalate = resource_attributes("escalate", rbac::GROUP, resource.plural, cx.name());
            if authorizer.authorize(user, &escalate).await.allowed {
                return Ok(());
            }
            confirm(authorizer, user, namespace, &PolicyRule::all_of(object))
                .await
                .map_err(forbidden)?;
            if kind == Kind::ClusterRole && !object["aggregationRule"].is_null() {
                let everything = PolicyRule::everything();
                confirm(authorizer, user, namespace, &everything).await.map_err(|_| {
                    forbidden(
                        "must have cluster-admin privileges to use the aggregationRule".into(),
                    )
                })?;
            }
            Ok(())
        }
        Kind::RoleBinding | Kind::ClusterRoleBinding => {
            let role_ref = Binding::from_json(object).role_ref;
            let role_plural = match role_ref.kind.as_str() {
                "Role" => "roles",
                "ClusterRole" => "clusterroles",
                // Validation refuses it.
                _ => return Ok(()),
            };
            let bind =
                resource_attributes("bind", &role_ref.api_group, role_plural, &role_ref.name);
            if authorizer.authorize(user, &bind).await.allowed {
                return Ok(());
            }
            let rules = {
                let policy = authorizer.read();
                policy.role_ref_rules(&role_ref, namespace).map(<[PolicyRule]>::to_vec)
            };
            let rules = match rules {
                Ok(rules) => rules,
                Err(_) => {
                    authorizer.catch_up().await;
                    let policy = authorizer.read();
                    match policy.role_ref_rules(&role_ref, namespace) {
                        Ok(rules) => rules.to_vec(),
                        Err(_) => return Err(role_not_found(role_plural, &role_ref.name)),
                    }
                }
            };
            confirm(authorizer, user, namespace, &rules).await.map_err(forbidden)
        }
    }
}

/// `ConfirmNoEscalation`, evaluated again after catching up when it refuses.
async fn confirm(
    authorizer: &Authorizer,
    user: &User,
    namespace: &str,
    rules: &[PolicyRule],
) -> Result<(), String> {
    if authorizer.read().confirm_no_escalation(identity(user), namespace, rules).is_ok() {
        return Ok(());
    }
    authorizer.catch_up().await;
    authorizer.read().confirm_no_escalation(identity(user), namespace, rules)
}

/// `IsOnlyMutatingGCFields`: the update changes nothing but owner references and finalizers.
fn only_gc_fields_changed(object: &Value, old: &Value) -> bool {
    let strip = |value: &Value| {
        let mut value = value.clone();
        if let Some(metadata) = value.get_mut("metadata").and_then(Value::as_object_mut) {
            for field in ["ownerReferences", "finalizers", "managedFields", "resourceVersion"] {
                metadata.remove(field);
            }
        }
        value
    };
    strip(object) == strip(old)
}

/// `apierrors.NewForbidden`: `{resource}.{group} "{name}" is forbidden: {message}` (no name:
/// `{resource}.{group} is forbidden: …`; no resource: `forbidden: …`), with its details.
pub(crate) fn forbidden(group: &str, resource: &str, name: &str, message: &str) -> Status {
    let qualified =
        if group.is_empty() { resource.to_owned() } else { format!("{resource}.{group}") };
    let text = match (resource.is_empty(), name.is_empty()) {
        (true, _) => format!("forbidden: {message}"),
        (false, true) => format!("{qualified} is forbidden: {message}"),
        (false, false) => {
            format!("{qualified} {} is forbidden: {message}", berth_api::validation::go_quote(name))
        }
    };
    let some = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    Status::forbidden(text).with_details(Details {
        name: some(name),
        group: some(group),
        kind: some(resource),
        ..Details::default()
    })
}

/// The 404 of a binding's missing role, as the role's storage reports it.
fn role_not_found(plural: &str, name: &str) -> Status {
    match berth_api::kinds::find(rbac::GROUP, "v1", plural) {
        Some(resource) => Status::not_found(resource, name),
        None => Status::internal(),
    }
}

// === bootstrap ===

/// Creates the default ClusterRoles and ClusterRoleBindings that are missing and reconciles
/// the ones that exist, and likewise the Roles and RoleBindings of `kube-system` and
/// `kube-public`, as kube-apiserver's `rbac/bootstrap-roles` hook does
/// (`berth_api::rbac::reconcile`): what the default policy has and they lack is added, what
/// their users added stays, a binding to another role is recreated, and objects annotated
/// `rbac.authorization.kubernetes.io/autoupdate: "false"` are left alone. A data dir written
/// by an older berth so gets the current policy; a restart that finds everything in place
/// writes nothing.
pub(crate) async fn bootstrap(store: &dyn Store) -> Result<(), berth_store::Error> {
    use rbac::bootstrap as policy;
    let objects = [
        ("clusterroles", policy::cluster_roles()),
        ("clusterrolebindings", policy::cluster_role_bindings()),
        ("roles", policy::namespaced_roles()),
        ("rolebindings", policy::namespaced_role_bindings()),
    ];
    let objects = objects.into_iter().flat_map(|(plural, all)| {
        all.into_iter().filter_map(move |expected| {
            let resource = berth_api::kinds::find(rbac::GROUP, "v1", plural)?;
            let namespace = expected["metadata"]["namespace"].as_str().map(str::to_owned);
            Some((resource, namespace, expected))
        })
    });
    let objects: Vec<_> = objects.collect();
    // What exists, one range read per kind and namespace (a restart finds it all), rather
    // than a read per object.
    let prefixes: BTreeSet<String> = objects
        .iter()
        .map(|(resource, namespace, _)| resources::prefix(resource, namespace.as_deref()))
        .collect();
    let mut existing = HashMap::new();
    for prefix in prefixes {
        let page = store.range(&RangeRequest::prefix(prefix)).await?;
        existing.extend(page.kvs.into_iter().map(|kv| (kv.key.clone(), kv)));
    }
    // Each object on its own, all at once: on SQLite their writes share group commits.
    let each = objects.into_iter().map(|(resource, namespace, expected)| {
        let name = expected["metadata"]["name"].as_str().unwrap_or_default().to_owned();
        let key = resources::key(resource, namespace.as_deref(), &name);
        let live = existing.remove(&key);
        reconcile_one(store, resource, key, name, live, expected)
    });
    futures::future::try_join_all(each).await?;
    Ok(())
}

/// [`bootstrap`] for one object of `resource` at `key`, `existing` as stored there.
async fn reconcile_one(
    store: &dyn Store,
    resource: &'static ResourceType,
    key: String,
    name: String,
    existing: Option<KeyValue>,
    mut expected: Value,
) -> Result<(), berth_store::Error> {
    let plural = resource.plural;
    let Some(existing) = existing else {
        return resources::create_own(store, resource, &key, expected).await;
    };
    // An object that does not decode is left for its owner to fix, as a failed
    // reconciliation is only logged by kube-apiserver.
    let Ok(live) = serde_json::from_slice::<Value>(&existing.value) else {
        tracing::warn!(%name, plural, "a stored bootstrap RBAC object does not decode");
        return Ok(());
    };
    crate::objects::normalize(resource, &mut expected);
    let reconciled = if plural.ends_with("roles") {
        rbac::reconcile::role(&live, &expected)
    } else {
        rbac::reconcile::binding(&live, &expected)
    };
    match reconciled {
        Reconciled::Unchanged => {}
        Reconciled::Protected => {
            tracing::warn!(%name, plural, "skipped a reconcile-protected bootstrap object");
        }
        Reconciled::Update(mut updated) => {
            crate::apply::record_own(resource, Some(&live), &mut updated);
            let bytes = Bytes::from(serde_json::to_vec(&updated).unwrap_or_default());
            store.update(&key, bytes, existing.mod_revision).await?;
            tracing::info!(%name, plural, "reconciled a bootstrap RBAC object");
        }
        Reconciled::Recreate => {
            store.delete(&key, Some(existing.mod_revision)).await?;
            resources::create_own(store, resource, &key, expected).await?;
            tracing::info!(%name, plural, "recreated a bootstrap RBAC binding");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn keys_name_the_kind_namespace_and_name() {
        let cases = [
            (
                "/registry/rbac.authorization.k8s.io/roles/dev/reader",
                Some((Kind::Role, "dev", "reader")),
            ),
            (
                "/registry/rbac.authorization.k8s.io/clusterroles/system:discovery",
                Some((Kind::ClusterRole, "", "system:discovery")),
            ),
            (
                "/registry/rbac.authorization.k8s.io/rolebindings/dev/b",
                Some((Kind::RoleBinding, "dev", "b")),
            ),
            (
                "/registry/rbac.authorization.k8s.io/clusterrolebindings/cluster-admin",
                Some((Kind::ClusterRoleBinding, "", "cluster-admin")),
            ),
            ("/registry/rbac.authorization.k8s.io/roles/dev", None),
            ("/registry/core/pods/dev/p", None),
        ];
        for (key, expected) in cases {
            assert_eq!(parse_key(key), expected, "{key}");
        }
    }

    #[test]
    fn forbidden_reads_like_new_forbidden() {
        let body = |s: Status| String::from_utf8(s.to_json()).unwrap();
        let named = forbidden("rbac.authorization.k8s.io", "roles", "r", "nope");
        assert!(body(named).contains(r#""message":"roles.rbac.authorization.k8s.io \"r\" is forbidden: nope","reason":"Forbidden","details":{"name":"r","group":"rbac.authorization.k8s.io","kind":"roles"},"code":403"#));
        let unnamed = forbidden("", "pods", "", "x");
        assert!(body(unnamed).contains(
            r#""message":"pods is forbidden: x","reason":"Forbidden","details":{"kind":"pods"}"#
        ));
        let path = forbidden("", "", "", "x");
        assert!(
            body(path).contains(r#""message":"forbidden: x","reason":"Forbidden","details":{}"#)
        );
    }

    #[test]
    fn gc_fields_alone_are_not_an_escalation() {
        let old = serde_json::json!({"metadata": {"name": "r"}, "rules": []});
        let owned = serde_json::json!({"metadata": {"name": "r", "finalizers": ["x"], "ownerReferences": []}, "rules": []});
        assert!(only_gc_fields_changed(&owned, &old));
        let more = serde_json::json!({"metadata": {"name": "r"}, "rules": [{"verbs": ["*"]}]});
        assert!(!only_gc_fields_changed(&more, &old));
    }

    #[tokio::test]
    async fn the_cache_follows_the_store() {
        let store: Arc<dyn Store> = Arc::new(berth_store::MemoryStore::new());
        bootstrap(&*store).await.unwrap();
        let authorizer = Authorizer::new(store.clone());
        let (_stop, stopping) = watch::channel(());
        authorizer.follow(stopping).await.unwrap();
        let user = User {
            name: "system:serviceaccount:dev:default".into(),
            uid: None,
            groups: vec!["system:serviceaccounts".into(), "system:authenticated".into()],
            extra: Vec::new(),
        };
        let list_pods = Attributes {
            verb: "list".into(),
            target: Target::Resource {
                api_group: String::new(),
                resource: "pods".into(),
                subresource: String::new(),
                name: String::new(),
                namespace: "dev".into(),
            },
        };
        assert!(!authorizer.authorize(&user, &list_pods).await.allowed);
        let binding = serde_json::json!({
            "metadata": {"name": "v", "namespace": "dev"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:aggregate-to-view"},
            "subjects": [{"kind": "ServiceAccount", "name": "default"}],
        });
        let key = "/registry/rbac.authorization.k8s.io/rolebindings/dev/v";
        store.create(key, Bytes::from(binding.to_string())).await.unwrap();
        // Read-your-writes: a denial waits for the watch to deliver the binding.
        let decision = authorizer.authorize(&user, &list_pods).await;
        assert_eq!(
            decision.reason,
            r#"RBAC: allowed by RoleBinding "v/dev" of ClusterRole "system:aggregate-to-view" to ServiceAccount "default/dev""#
        );
        // A revocation reaches the cache with the watch (an allow does not wait for it).
        store.delete(key, None).await.unwrap();
        let revoked = async {
            while authorizer.authorize(&user, &list_pods).await.allowed {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(5), revoked).await.unwrap();
        let admin =
            User { name: "admin".into(), uid: None, groups: vec![MASTERS.into()], extra: vec![] };
        assert!(authorizer.authorize(&admin, &list_pods).await.allowed);
    }
}
