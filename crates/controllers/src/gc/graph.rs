//! The garbage collector's dependency graph and its pure decisions.
//!
//! The graph holds every observed object by uid (identity, ownerReferences, deletion state)
//! and the reverse index owner uid → dependent uids; an owner that is referenced but not
//! observed is simply absent from `nodes` (Kubernetes' "virtual node"). The decisions follow
//! kube-controller-manager v1.33, pkg/controller/garbagecollector/garbagecollector.go:
//! [`plan_dependent`] is `attemptToDeleteItem` after `classifyReferences`, [`plan_owner`] is
//! `processDeletingDependentsItem` and the orphan worker.

use std::collections::{BTreeSet, HashMap};
use std::fmt;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

/// The finalizer `propagationPolicy: Orphan` puts on an owner.
pub(crate) const ORPHAN: &str = "orphan";
/// The finalizer `propagationPolicy: Foreground` puts on an owner.
pub(crate) const FOREGROUND: &str = "foregroundDeletion";

/// What names an object: its coordinates and uid.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Identity {
    pub(crate) api_version: String,
    pub(crate) kind: String,
    /// `None` for cluster-scoped objects.
    pub(crate) namespace: Option<String>,
    pub(crate) name: String,
    pub(crate) uid: String,
}

impl fmt::Display for Identity {
    /// As the garbage collector's `objectReference.String()` prints it (event messages).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[{}/{}, namespace: {}, name: {}, uid: {}]",
            self.api_version,
            self.kind,
            self.namespace.as_deref().unwrap_or_default(),
            self.name,
            self.uid
        )
    }
}

/// The group of an `apiVersion` (`""` for core `v1`).
pub(crate) fn group_of(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(group, _)| group)
}

/// One observed object, as far as garbage collection cares.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub(crate) identity: Identity,
    pub(crate) owners: Vec<OwnerReference>,
    /// `metadata.deletionTimestamp` is set.
    pub(crate) being_deleted: bool,
    pub(crate) finalizers: Vec<String>,
    /// Which watched resource it came from (to drop objects a relist no longer shows).
    pub(crate) resource: usize,
}

impl Node {
    /// Being deleted in the foreground: waits for its blocking dependents.
    pub(crate) fn deleting_dependents(&self) -> bool {
        self.being_deleted && self.finalizers.iter().any(|f| f == FOREGROUND)
    }

    /// Being deleted with the orphan policy: its dependents are to be released.
    pub(crate) fn orphaning(&self) -> bool {
        self.being_deleted && self.finalizers.iter().any(|f| f == ORPHAN)
    }
}

/// Every observed object and who depends on whom.
#[derive(Debug, Default)]
pub(crate) struct Graph {
    nodes: HashMap<String, Node>,
    /// Owner uid → the uids of the objects that reference it, observed or not.
    dependents: HashMap<String, BTreeSet<String>>,
}

impl Graph {
    pub(crate) fn get(&self, uid: &str) -> Option<&Node> {
        self.nodes.get(uid)
    }

    /// The observed objects that reference `uid` as an owner.
    pub(crate) fn dependents_of<'a>(&'a self, uid: &str) -> impl Iterator<Item = &'a Node> + 'a {
        self.dependents.get(uid).into_iter().flatten().filter_map(|d| self.nodes.get(d))
    }

    pub(crate) fn has_dependents(&self, uid: &str) -> bool {
        self.dependents_of(uid).next().is_some()
    }

    /// The uids observed from watched resource `resource`.
    pub(crate) fn uids_of_resource(&self, resource: usize) -> Vec<String> {
        self.nodes
            .values()
            .filter(|n| n.resource == resource)
            .map(|n| n.identity.uid.clone())
            .collect()
    }

    /// Records `node` as it is now; returns the uids whose decisions may have changed: the
    /// node itself, its dependents when its own deletion state changed (or it is new), and
    /// its owners (old and new) that are being deleted, since they wait on or release it.
    pub(crate) fn observe(&mut self, node: Node) -> Vec<String> {
        let uid = node.identity.uid.clone();
        let old = self.nodes.remove(&uid);
        let mut affected = vec![uid.clone()];
        let state_changed = old.as_ref().is_none_or(|old| {
            old.being_deleted != node.being_deleted
                || old.finalizers != node.finalizers
                || old.identity != node.identity
        });
        if state_changed {
            affected.extend(self.dependents.get(&uid).into_iter().flatten().cloned());
        }
        let old_owners = old.map(|old| old.owners).unwrap_or_default();
        for owner in &old_owners {
            self.unlink(&owner.uid, &uid);
        }
        for owner in old_owners.iter().chain(&node.owners) {
            if self.nodes.get(&owner.uid).is_some_and(|o| o.being_deleted) {
                affected.push(owner.uid.clone());
            }
        }
        for owner in &node.owners {
            self.dependents.entry(owner.uid.clone()).or_default().insert(uid.clone());
        }
        self.nodes.insert(uid, node);
        dedup(affected)
    }

    /// Forgets a deleted object; returns its dependents (their owner is gone) and its owners
    /// (one may have been waiting for it).
    pub(crate) fn forget(&mut self, uid: &str) -> Vec<String> {
        let Some(node) = self.nodes.remove(uid) else { return Vec::new() };
        let mut affected: Vec<String> =
            self.dependents.get(uid).into_iter().flatten().cloned().collect();
        for owner in &node.owners {
            self.unlink(&owner.uid, uid);
            if self.nodes.contains_key(&owner.uid) {
                affected.push(owner.uid.clone());
            }
        }
        dedup(affected)
    }

    fn unlink(&mut self, owner: &str, dependent: &str) {
        if let Some(set) = self.dependents.get_mut(owner) {
            set.remove(dependent);
            if set.is_empty() {
                self.dependents.remove(owner);
            }
        }
    }

    /// What the graph alone says of `item`'s reference to an owner, or `None` when only the
    /// API can tell (the owner was not observed, or was observed with other coordinates or in
    /// another namespace: Kubernetes looks those up live too).
    pub(crate) fn owner_state(
        &self,
        item: &Node,
        reference: &OwnerReference,
    ) -> Option<OwnerState> {
        let owner = self.nodes.get(&reference.uid)?;
        let same_coordinates = owner.identity.kind == reference.kind
            && group_of(&owner.identity.api_version) == group_of(&reference.api_version)
            && owner.identity.name == reference.name;
        let namespace_ok = match &owner.identity.namespace {
            None => true,
            Some(namespace) => item.identity.namespace.as_ref() == Some(namespace),
        };
        if !same_coordinates || !namespace_ok {
            return None;
        }
        Some(if owner.deleting_dependents() {
            OwnerState::WaitingForDependents
        } else {
            OwnerState::Solid
        })
    }

    /// References of a namespaced `item` to an observed owner that lives in another namespace:
    /// Kubernetes reports each with an `OwnerRefInvalidNamespace` warning.
    pub(crate) fn invalid_namespace_owners<'a>(&self, item: &'a Node) -> Vec<&'a OwnerReference> {
        let Some(namespace) = &item.identity.namespace else { return Vec::new() };
        item.owners
            .iter()
            .filter(|reference| {
                self.nodes.get(&reference.uid).is_some_and(|owner| {
                    owner.identity.namespace.as_ref().is_some_and(|ns| ns != namespace)
                })
            })
            .collect()
    }
}

fn dedup(mut uids: Vec<String>) -> Vec<String> {
    let mut seen = BTreeSet::new();
    uids.retain(|uid| seen.insert(uid.clone()));
    uids
}

/// What is known of one owner reference of an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OwnerState {
    /// The owner exists with the referenced uid and is not waiting for its dependents.
    Solid,
    /// The owner exists and is being deleted in the foreground.
    WaitingForDependents,
    /// No such owner: not found by name in the item's namespace (or the cluster), or found
    /// with another uid.
    Dangling,
    /// The reference names a kind the API does not serve: retried, as Kubernetes does (it may
    /// be a custom type not discovered yet).
    UnknownKind,
    /// A cluster-scoped item names a namespaced owner: this never resolves, so the item is
    /// left alone (Kubernetes' `namespacedOwnerOfClusterScopedObjectErr`).
    NamespacedOwnerOfClusterScoped,
}

/// How a dependent is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Policy {
    Background,
    Foreground,
    Orphan,
}

/// What to do about an item that has owners and is not being deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DependentAction {
    /// A solid owner remains and no reference needs removing.
    Keep,
    /// A solid owner remains: drop the references (by owner uid) to owners that are gone or
    /// are waiting for their dependents.
    RemoveOwnerReferences(Vec<String>),
    /// No solid owner remains: delete the item (with a uid precondition). With
    /// `unblock_owners`, first set `blockOwnerDeletion: false` on its references, to break
    /// a cycle of foreground deletions.
    Delete { policy: Policy, unblock_owners: bool },
    /// A reference cannot be resolved now: try again later.
    Retry,
}

/// `attemptToDeleteItem` for an item with `references` (each classified), its own
/// `finalizers`, and whether it has dependents / one of them is deleting its dependents.
pub(crate) fn plan_dependent(
    references: &[(&OwnerReference, OwnerState)],
    finalizers: &[String],
    has_dependents: bool,
    a_dependent_is_deleting_dependents: bool,
) -> DependentAction {
    if references.is_empty() {
        return DependentAction::Keep;
    }
    let (mut solid, mut gone) = (0, Vec::new());
    let mut waiting = Vec::new();
    for (reference, state) in references {
        match state {
            // The first reference that cannot be classified decides, as in classifyReferences.
            OwnerState::UnknownKind => return DependentAction::Retry,
            OwnerState::NamespacedOwnerOfClusterScoped => return DependentAction::Keep,
            OwnerState::Solid => solid += 1,
            OwnerState::Dangling => gone.push(reference.uid.clone()),
            OwnerState::WaitingForDependents => waiting.push(reference.uid.clone()),
        }
    }
    if solid > 0 {
        if gone.is_empty() && waiting.is_empty() {
            return DependentAction::Keep;
        }
        gone.extend(waiting);
        return DependentAction::RemoveOwnerReferences(gone);
    }
    if !waiting.is_empty() && has_dependents {
        return DependentAction::Delete {
            policy: Policy::Foreground,
            unblock_owners: a_dependent_is_deleting_dependents,
        };
    }
    let policy = if finalizers.iter().any(|f| f == ORPHAN) {
        Policy::Orphan
    } else if finalizers.iter().any(|f| f == FOREGROUND) {
        Policy::Foreground
    } else {
        Policy::Background
    };
    DependentAction::Delete { policy, unblock_owners: false }
}

/// What to do about an owner that is being deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum OwnerAction {
    Nothing,
    /// Remove the owner's reference from each of these dependents, then the `orphan`
    /// finalizer from the owner.
    Orphan(Vec<Identity>),
    /// No dependent blocks the owner any more: remove `foregroundDeletion`.
    RemoveForegroundFinalizer,
    /// Dependents with `blockOwnerDeletion: true` remain; these (the ones not themselves
    /// deleting their dependents) are to be deleted.
    WaitFor(Vec<String>),
}

/// The orphan worker and `processDeletingDependentsItem` for `owner`.
pub(crate) fn plan_owner(graph: &Graph, owner: &Node) -> OwnerAction {
    let uid = &owner.identity.uid;
    if owner.orphaning() {
        let dependents = graph.dependents_of(uid).map(|d| d.identity.clone()).collect();
        return OwnerAction::Orphan(dependents);
    }
    if !owner.deleting_dependents() {
        return OwnerAction::Nothing;
    }
    let blocking: Vec<&Node> = graph
        .dependents_of(uid)
        .filter(|dependent| {
            dependent.owners.iter().any(|r| &r.uid == uid && r.block_owner_deletion == Some(true))
        })
        .collect();
    if blocking.is_empty() {
        return OwnerAction::RemoveForegroundFinalizer;
    }
    OwnerAction::WaitFor(
        blocking
            .into_iter()
            .filter(|d| !d.deleting_dependents())
            .map(|d| d.identity.uid.clone())
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(uid: &str, block: Option<bool>) -> OwnerReference {
        OwnerReference {
            api_version: "apps/v1".into(),
            kind: "StatefulSet".into(),
            name: format!("owner-{uid}"),
            uid: uid.into(),
            block_owner_deletion: block,
            controller: Some(true),
        }
    }

    fn node(uid: &str, namespace: Option<&str>, owners: Vec<OwnerReference>) -> Node {
        Node {
            identity: Identity {
                api_version: "apps/v1".into(),
                kind: "StatefulSet".into(),
                namespace: namespace.map(str::to_owned),
                name: format!("owner-{uid}"),
                uid: uid.into(),
            },
            owners,
            being_deleted: false,
            finalizers: Vec::new(),
            resource: 0,
        }
    }

    fn deleting(mut node: Node, finalizer: &str) -> Node {
        node.being_deleted = true;
        node.finalizers = vec![finalizer.to_owned()];
        node
    }

    /// Name, classified references, finalizers, has dependents, a dependent deletes its
    /// dependents, expected action.
    type Case<'a> =
        (&'a str, Vec<(&'a OwnerReference, OwnerState)>, &'a [String], bool, bool, DependentAction);

    #[test]
    fn dependent_decisions_follow_attempt_to_delete_item() {
        use OwnerState::*;
        let (a, b) = (reference("a", Some(true)), reference("b", None));
        let none: &[String] = &[];
        let orphan = [ORPHAN.to_owned()];
        let foreground = [FOREGROUND.to_owned()];
        let background =
            DependentAction::Delete { policy: Policy::Background, unblock_owners: false };
        #[rustfmt::skip]
        let cases: Vec<Case<'_>> = vec![
            ("no owners", vec![], none, false, false, DependentAction::Keep),
            ("one solid owner", vec![(&a, Solid)], none, false, false, DependentAction::Keep),
            ("the only owner is gone", vec![(&a, Dangling)], none, false, false, background.clone()),
            ("every owner is gone", vec![(&a, Dangling), (&b, Dangling)], none, true, false, background.clone()),
            ("one of two owners is gone", vec![(&a, Solid), (&b, Dangling)], none, false, false,
                DependentAction::RemoveOwnerReferences(vec!["b".into()])),
            ("a solid owner and one deleting in the foreground", vec![(&a, WaitingForDependents), (&b, Solid)], none, true, false,
                DependentAction::RemoveOwnerReferences(vec!["a".into()])),
            ("owner in foreground, item without dependents", vec![(&a, WaitingForDependents)], none, false, false, background.clone()),
            ("owner in foreground, item with dependents", vec![(&a, WaitingForDependents)], none, true, false,
                DependentAction::Delete { policy: Policy::Foreground, unblock_owners: false }),
            ("foreground cycle is broken by unblocking", vec![(&a, WaitingForDependents)], none, true, true,
                DependentAction::Delete { policy: Policy::Foreground, unblock_owners: true }),
            ("gone owner, item carries orphan finalizer", vec![(&a, Dangling)], &orphan, false, false,
                DependentAction::Delete { policy: Policy::Orphan, unblock_owners: false }),
            ("gone owner, item carries foreground finalizer", vec![(&a, Dangling)], &foreground, false, false,
                DependentAction::Delete { policy: Policy::Foreground, unblock_owners: false }),
            ("unknown owner kind is retried", vec![(&a, UnknownKind), (&b, Dangling)], none, false, false, DependentAction::Retry),
            ("cluster-scoped item with namespaced owner is left", vec![(&a, NamespacedOwnerOfClusterScoped)], none, false, false,
                DependentAction::Keep),
        ];
        for (name, references, finalizers, has_dependents, cycle, expected) in cases {
            assert_eq!(
                plan_dependent(&references, finalizers, has_dependents, cycle),
                expected,
                "{name}"
            );
        }
    }

    #[test]
    fn graph_classifies_owners_by_uid_coordinates_and_namespace() {
        let mut graph = Graph::default();
        graph.observe(node("a", Some("ns"), vec![]));
        graph.observe(deleting(node("f", Some("ns"), vec![]), FOREGROUND));
        graph.observe(node("other-ns", Some("elsewhere"), vec![]));
        let mut cluster = node("c", None, vec![]);
        cluster.identity.kind = "Node".into();
        cluster.identity.api_version = "v1".into();
        cluster.identity.name = "n1".into();
        graph.observe(cluster);
        let item = node("item", Some("ns"), vec![]);
        let renamed = OwnerReference { name: "not-the-name".into(), ..reference("a", None) };
        let node_ref = OwnerReference {
            api_version: "v1".into(),
            kind: "Node".into(),
            name: "n1".into(),
            ..reference("c", None)
        };
        let cases = [
            ("observed owner", reference("a", None), Some(OwnerState::Solid)),
            ("foreground owner", reference("f", None), Some(OwnerState::WaitingForDependents)),
            ("never observed: ask the API", reference("zzz", None), None),
            ("same uid, other name: ask the API", renamed, None),
            ("owner in another namespace: ask the API", reference("other-ns", None), None),
            ("cluster-scoped owner of a namespaced item", node_ref, Some(OwnerState::Solid)),
        ];
        for (name, reference, expected) in cases {
            assert_eq!(graph.owner_state(&item, &reference), expected, "{name}");
        }
        let item =
            node("item", Some("ns"), vec![reference("other-ns", None), reference("a", None)]);
        let invalid: Vec<&str> =
            graph.invalid_namespace_owners(&item).iter().map(|r| r.uid.as_str()).collect();
        assert_eq!(invalid, ["other-ns"]);
    }

    #[test]
    fn observe_and_forget_report_who_must_be_looked_at_again() {
        let mut graph = Graph::default();
        // A dependent seen before its owner: the owner is only referenced.
        assert_eq!(graph.observe(node("d1", Some("ns"), vec![reference("o", None)])), ["d1"]);
        // The owner appears: its dependents are looked at again.
        assert_eq!(graph.observe(node("o", Some("ns"), vec![])), ["o", "d1"]);
        // An unchanged owner update does not touch the dependents.
        assert_eq!(graph.observe(node("o", Some("ns"), vec![])), ["o"]);
        // The owner starts a foreground deletion: dependents again.
        assert_eq!(graph.observe(deleting(node("o", Some("ns"), vec![]), FOREGROUND)), ["o", "d1"]);
        // A dependent of an owner being deleted changes: the owner too.
        assert_eq!(
            graph.observe(node("d1", Some("ns"), vec![reference("o", Some(true))])),
            ["d1", "o"]
        );
        // The dependent is deleted: its owner is looked at again.
        assert_eq!(graph.forget("d1"), ["o"]);
        assert!(!graph.has_dependents("o"));
        // The owner is deleted while a new dependent references it.
        graph.observe(node("d2", Some("ns"), vec![reference("o", None)]));
        assert_eq!(graph.forget("o"), ["d2"]);
        assert!(graph.get("o").is_none());
        assert_eq!(graph.forget("never-seen"), Vec::<String>::new());
    }

    #[test]
    fn owner_decisions_cover_orphan_and_foreground() {
        let mut graph = Graph::default();
        let owner = deleting(node("o", Some("ns"), vec![]), FOREGROUND);
        graph.observe(owner.clone());
        assert_eq!(plan_owner(&graph, &owner), OwnerAction::RemoveForegroundFinalizer);
        // A dependent that does not block: the owner does not wait for it.
        graph.observe(node("loose", Some("ns"), vec![reference("o", Some(false))]));
        assert_eq!(plan_owner(&graph, &owner), OwnerAction::RemoveForegroundFinalizer);
        // Blocking dependents: wait for them, deleting those not deleting their own.
        graph.observe(node("b1", Some("ns"), vec![reference("o", Some(true))]));
        graph.observe(deleting(
            node("b2", Some("ns"), vec![reference("o", Some(true))]),
            FOREGROUND,
        ));
        assert_eq!(plan_owner(&graph, &owner), OwnerAction::WaitFor(vec!["b1".into()]));
        graph.forget("b1");
        assert_eq!(plan_owner(&graph, &owner), OwnerAction::WaitFor(vec![]));
        graph.forget("b2");
        assert_eq!(plan_owner(&graph, &owner), OwnerAction::RemoveForegroundFinalizer);

        let orphaning = deleting(node("p", Some("ns"), vec![]), ORPHAN);
        graph.observe(orphaning.clone());
        let dependent = node("child", Some("ns"), vec![reference("p", Some(true))]);
        graph.observe(dependent.clone());
        assert_eq!(plan_owner(&graph, &orphaning), OwnerAction::Orphan(vec![dependent.identity]));
        let plain = node("q", Some("ns"), vec![]);
        assert_eq!(plan_owner(&graph, &plain), OwnerAction::Nothing);
        let other_finalizer = deleting(node("r", Some("ns"), vec![]), "example.com/hold");
        assert_eq!(plan_owner(&graph, &other_finalizer), OwnerAction::Nothing);
    }

    #[test]
    fn identities_print_like_kubernetes() {
        let identity = node("u1", Some("ns"), vec![]).identity;
        assert_eq!(
            identity.to_string(),
            "[apps/v1/StatefulSet, namespace: ns, name: owner-u1, uid: u1]"
        );
        assert_eq!(group_of("apps/v1"), "apps");
        assert_eq!(group_of("v1"), "");
    }
}
