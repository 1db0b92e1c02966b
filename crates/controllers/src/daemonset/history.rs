//! A DaemonSet's ControllerRevisions as pure decisions (update.go's `constructHistory`,
//! `controlledHistories`, `dedupCurHistories`, `snapshot`, `Match` and `cleanupHistory`).
//!
//! A revision records the template as the patch `{"spec":{"template":{…,"$patch":"replace"}}}`
//! in Go's JSON encoding (the StatefulSet controller's [`revision::patch`] and
//! [`revision::go_json`]: upstream's `getPatch` writes the same bytes). It is named
//! `<set>-<hash>` and labeled `controller-revision-hash: <hash>`, the hash being
//! `controller.ComputeHash` of the template and the collision count — the Deployment
//! controller's [`template_hash`], canonical JSON in place of Go's struct dump, so names
//! differ from a cluster's for the same template (see deployment/plan.rs).

use std::collections::HashSet;

use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::runtime::RawExtension;

use super::plan::REVISION_HASH_LABEL;
use crate::cached_pod::CachedPod;
use crate::deployment::plan::template_hash;
use crate::meta::{controller_of, name_of, namespace_of, new_controller_ref, selects};
use crate::statefulset::revision;

/// A revision a plan names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RevisionRef {
    pub(crate) name: String,
    pub(crate) uid: String,
}

impl RevisionRef {
    fn of(revision: &ControllerRevision) -> RevisionRef {
        RevisionRef {
            name: name_of(&revision.metadata).to_owned(),
            uid: revision.metadata.uid.clone().unwrap_or_default(),
        }
    }
}

/// The revision that records the set's template now.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Current {
    /// An existing revision (the newest of those that match, `dedupCurHistories`).
    Existing {
        name: String,
        hash: String,
        /// Its `.revision` is raised to this, above every old revision's.
        bump_to: Option<i64>,
        /// Other revisions with the same template: deleted, their pods relabeled first.
        duplicates: Vec<(RevisionRef, String)>,
    },
    /// None matches: this one is created (`snapshot`).
    Create(Box<ControllerRevision>),
}

/// What `constructHistory` writes, and the old revisions `cleanupHistory` looks at.
#[derive(Debug)]
pub(crate) struct History<'a> {
    /// Orphan revisions the selector matches: a controller reference patched in.
    pub(crate) adopt: Vec<RevisionRef>,
    /// Revisions the set controls that its selector no longer matches.
    pub(crate) release: Vec<RevisionRef>,
    /// Revisions without the hash label: labeled with their name (as upstream does).
    pub(crate) label: Vec<String>,
    pub(crate) current: Current,
    /// The claimed revisions that do not record the template.
    pub(crate) old: Vec<&'a ControllerRevision>,
}

/// `constructHistory` for `ds` (not being deleted) among `revisions` (any namespace).
pub(crate) fn plan<'a>(ds: &DaemonSet, revisions: &[&'a ControllerRevision]) -> History<'a> {
    let namespace = namespace_of(&ds.metadata);
    let uid = ds.metadata.uid.as_deref().unwrap_or_default();
    let selector = ds.spec.as_ref().map(|s| &s.selector);
    let selected = |r: &ControllerRevision| {
        selector.is_some_and(|s| selects(Some(s), r.metadata.labels.as_ref()))
    };
    let mut history = History {
        adopt: Vec::new(),
        release: Vec::new(),
        label: Vec::new(),
        current: Current::Create(Box::default()),
        old: Vec::new(),
    };
    // `ClaimControllerRevisions`.
    let mut claimed: Vec<&ControllerRevision> = Vec::new();
    for revision in revisions.iter().copied().filter(|r| namespace_of(&r.metadata) == namespace) {
        match controller_of(&revision.metadata) {
            Some(owner) if owner.uid == uid => {
                if selected(revision) {
                    claimed.push(revision);
                } else {
                    history.release.push(RevisionRef::of(revision));
                }
            }
            Some(_) => {}
            None => {
                if selected(revision) && revision.metadata.deletion_timestamp.is_none() {
                    history.adopt.push(RevisionRef::of(revision));
                    claimed.push(revision);
                }
            }
        }
    }
    let data = revision::go_json(&patch(ds));
    let mut current: Vec<&ControllerRevision> = Vec::new();
    for revision in claimed {
        if hash_label(revision).is_none() {
            history.label.push(name_of(&revision.metadata).to_owned());
        }
        if revision.data.as_ref().map(|d| revision::go_json(&d.0)).as_deref() == Some(&*data) {
            current.push(revision);
        } else {
            history.old.push(revision);
        }
    }
    let next = history.old.iter().map(|r| r.revision).max().unwrap_or(0) + 1;
    history.current = match current
        .iter()
        .copied()
        .reduce(|keep, r| if r.revision >= keep.revision { r } else { keep })
    {
        None => Current::Create(Box::new(snapshot(ds, next))),
        Some(keep) => Current::Existing {
            name: name_of(&keep.metadata).to_owned(),
            hash: hash_of(keep),
            bump_to: (keep.revision < next).then_some(next),
            duplicates: current
                .iter()
                .filter(|r| r.metadata.name != keep.metadata.name)
                .map(|r| (RevisionRef::of(r), hash_of(r)))
                .collect(),
        },
    };
    history
}

/// `getPatch`: the set's template as the revision data records it.
pub(crate) fn patch(ds: &DaemonSet) -> serde_json::Value {
    revision::patch(&ds.spec.as_ref().map(|s| s.template.clone()).unwrap_or_default())
}

/// `Match`: whether `revision` records the set's template.
pub(crate) fn matches(ds: &DaemonSet, revision: &ControllerRevision) -> bool {
    let data = revision::go_json(&patch(ds));
    revision.data.as_ref().map(|d| revision::go_json(&d.0)).as_deref() == Some(&*data)
}

fn hash_label(revision: &ControllerRevision) -> Option<&str> {
    revision.metadata.labels.as_ref()?.get(REVISION_HASH_LABEL).map(String::as_str)
}

/// A revision's hash: its label, or its name once it gets the label.
pub(crate) fn hash_of(revision: &ControllerRevision) -> String {
    hash_label(revision).unwrap_or_else(|| name_of(&revision.metadata)).to_owned()
}

/// `snapshot`: the revision recording the set's template, numbered `number`.
pub(crate) fn snapshot(ds: &DaemonSet, number: i64) -> ControllerRevision {
    let template = ds.spec.as_ref().map(|s| s.template.clone()).unwrap_or_default();
    let collision_count = ds.status.as_ref().and_then(|s| s.collision_count);
    let hash = template_hash(&template, collision_count);
    let mut labels = template.metadata.as_ref().and_then(|m| m.labels.clone()).unwrap_or_default();
    labels.insert(REVISION_HASH_LABEL.to_owned(), hash.clone());
    ControllerRevision {
        metadata: ObjectMeta {
            name: Some(format!("{}-{hash}", name_of(&ds.metadata))),
            namespace: ds.metadata.namespace.clone(),
            labels: Some(labels),
            annotations: ds.metadata.annotations.clone(),
            owner_references: Some(vec![new_controller_ref(ds)]),
            ..ObjectMeta::default()
        },
        data: Some(RawExtension(patch(ds))),
        revision: number,
    }
}

/// `cleanupHistory`: the oldest `old` revisions beyond `revisionHistoryLimit` (default 10)
/// that no claimed pod (finished ones included) runs.
pub(crate) fn to_clean_up(
    ds: &DaemonSet,
    old: &[&ControllerRevision],
    pods: &[&CachedPod],
) -> Vec<RevisionRef> {
    let limit = ds.spec.as_ref().and_then(|s| s.revision_history_limit).unwrap_or(10);
    let mut to_kill = old.len() as i64 - i64::from(limit);
    if to_kill <= 0 {
        return Vec::new();
    }
    let live: HashSet<&str> = pods
        .iter()
        .filter(|p| super::plan::target_node(p).is_some())
        .filter_map(|p| p.metadata.labels.as_ref()?.get(REVISION_HASH_LABEL).map(String::as_str))
        .filter(|h| !h.is_empty())
        .collect();
    let mut sorted = old.to_vec();
    sorted.sort_by_key(|r| r.revision);
    let mut doomed = Vec::new();
    for revision in sorted {
        if to_kill <= 0 {
            break;
        }
        if hash_label(revision).is_some_and(|h| live.contains(h)) {
            continue;
        }
        doomed.push(RevisionRef::of(revision));
        to_kill -= 1;
    }
    doomed
}
