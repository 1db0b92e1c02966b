//! A StatefulSet pod's stable identity and storage, as pkg/controller/statefulset/
//! stateful_set_utils.go builds them: names and ordinals, the pod made from a template
//! (`newStatefulSetPod`, `newVersionedStatefulSetPod`), its claims (`getPersistentVolumeClaims`)
//! and the owner references the claim retention policy asks for
//! (`updateClaimOwnerRefForSetAndPod`, `hasUnexpectedController`).

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{
    PersistentVolumeClaim, PersistentVolumeClaimVolumeSource, Pod, PodTemplateSpec, Volume,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

use crate::cached_pod::CachedPod;

/// Label with the pod's name (`apps.StatefulSetPodNameLabel`).
pub(crate) const POD_NAME_LABEL: &str = "statefulset.kubernetes.io/pod-name";
/// Label with the pod's ordinal (`apps.PodIndexLabel`, on by default since v1.28, GA in v1.32).
pub(crate) const POD_INDEX_LABEL: &str = "apps.kubernetes.io/pod-index";
/// Label with the name of the revision the pod was made from.
pub(crate) const REVISION_LABEL: &str = "controller-revision-hash";

/// `getParentNameAndOrdinal`: `(.*)-([0-9]+)$`, or `None` when the name has no ordinal.
pub(crate) fn parent_and_ordinal(pod_name: &str) -> Option<(&str, i32)> {
    let (parent, digits) = pod_name.rsplit_once('-')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((parent, digits.parse().ok()?))
}

/// The ordinal of a member pod of `set_name`.
pub(crate) fn ordinal_of(set_name: &str, pod: &CachedPod) -> Option<i32> {
    let (parent, ordinal) = parent_and_ordinal(pod.metadata.name.as_deref()?)?;
    (parent == set_name).then_some(ordinal)
}

pub(crate) fn pod_name(set_name: &str, ordinal: i32) -> String {
    format!("{set_name}-{ordinal}")
}

pub(crate) fn claim_name(template: &str, set_name: &str, ordinal: i32) -> String {
    format!("{template}-{set_name}-{ordinal}")
}

/// `spec.ordinals.start`, 0 when unset.
pub(crate) fn start_ordinal(set: &StatefulSet) -> i32 {
    set.spec.as_ref().and_then(|s| s.ordinals.as_ref()).and_then(|o| o.start).unwrap_or(0)
}

/// `spec.replicas`, 1 when unset.
pub(crate) fn replicas(set: &StatefulSet) -> i32 {
    set.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1).max(0)
}

pub(crate) fn set_name(set: &StatefulSet) -> &str {
    set.metadata.name.as_deref().unwrap_or_default()
}

/// The revision a pod was made from (its `controller-revision-hash` label).
pub(crate) fn pod_revision(pod: &CachedPod) -> &str {
    pod.metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(REVISION_LABEL))
        .map(String::as_str)
        .unwrap_or_default()
}

/// `metav1.NewControllerRef(set, StatefulSet)`.
pub(crate) fn set_owner_ref(set: &StatefulSet) -> OwnerReference {
    crate::meta::new_controller_ref(set)
}

fn pod_owner_ref(pod_name: &str, pod_uid: &str) -> OwnerReference {
    OwnerReference {
        api_version: "v1".into(),
        kind: "Pod".into(),
        name: pod_name.into(),
        uid: pod_uid.into(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// The pod for `ordinal` made from `template` (the current or the update revision's) and
/// labelled with `revision` (`newVersionedStatefulSetPod` after it chose the template).
pub(crate) fn new_pod(
    set: &StatefulSet,
    template: &PodTemplateSpec,
    ordinal: i32,
    revision: &str,
) -> Pod {
    let set_name = set_name(set);
    let name = pod_name(set_name, ordinal);
    let template_meta = template.metadata.clone().unwrap_or_default();
    let mut labels = template_meta.labels.unwrap_or_default();
    labels.insert(POD_NAME_LABEL.into(), name.clone());
    labels.insert(POD_INDEX_LABEL.into(), ordinal.to_string());
    labels.insert(REVISION_LABEL.into(), revision.into());
    let mut spec = template.spec.clone().unwrap_or_default();
    spec.hostname = Some(name.clone());
    spec.subdomain =
        set.spec.as_ref().and_then(|s| s.service_name.clone()).filter(|s| !s.is_empty());
    // updateStorage: one volume per claim template, replacing a template volume of that name.
    let claims = claims(set, ordinal);
    let mut volumes: Vec<Volume> = claims
        .iter()
        .map(|(template, claim)| Volume {
            name: template.clone(),
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: claim.metadata.name.clone().unwrap_or_default(),
                read_only: None,
            }),
            ..Volume::default()
        })
        .collect();
    for volume in spec.volumes.take().unwrap_or_default() {
        if !claims.iter().any(|(template, _)| *template == volume.name) {
            volumes.push(volume);
        }
    }
    spec.volumes = (!volumes.is_empty()).then_some(volumes);
    Pod {
        metadata: ObjectMeta {
            name: Some(name),
            generate_name: Some(format!("{set_name}-")),
            namespace: set.metadata.namespace.clone(),
            labels: Some(labels),
            annotations: template_meta.annotations,
            finalizers: template_meta.finalizers,
            owner_references: Some(vec![set_owner_ref(set)]),
            ..ObjectMeta::default()
        },
        spec: Some(spec),
        status: None,
    }
}

/// The claims of the pod at `ordinal`, paired with their template's name, in template order:
/// a copy of each template named `<template>-<set>-<ordinal>`, labels merged with the set's
/// `matchLabels` (which win).
pub(crate) fn claims(set: &StatefulSet, ordinal: i32) -> Vec<(String, PersistentVolumeClaim)> {
    let Some(spec) = set.spec.as_ref() else { return Vec::new() };
    let match_labels = spec.selector.match_labels.clone().unwrap_or_default();
    spec.volume_claim_templates
        .iter()
        .flatten()
        .map(|template| {
            let template_name = template.metadata.name.clone().unwrap_or_default();
            let mut claim = template.clone();
            claim.status = None;
            claim.metadata.name = Some(claim_name(&template_name, set_name(set), ordinal));
            claim.metadata.namespace = set.metadata.namespace.clone();
            let mut labels = claim.metadata.labels.take().unwrap_or_default();
            labels.extend(match_labels.clone());
            claim.metadata.labels = Some(labels);
            claim.metadata.uid = None;
            claim.metadata.resource_version = None;
            claim.metadata.creation_timestamp = None;
            (template_name, claim)
        })
        .collect()
}

/// `identityMatches`: name, namespace and the pod-name and pod-index labels.
pub(crate) fn identity_matches(set: &StatefulSet, pod: &CachedPod) -> bool {
    let Some(ordinal) = ordinal_of(set_name(set), pod) else { return false };
    let name = pod_name(set_name(set), ordinal);
    let labels = pod.metadata.labels.clone().unwrap_or_default();
    pod.metadata.name.as_deref() == Some(name.as_str())
        && pod.metadata.namespace == set.metadata.namespace
        && labels.get(POD_NAME_LABEL) == Some(&name)
        && labels.get(POD_INDEX_LABEL) == Some(&ordinal.to_string())
}

/// The labels [`identity_matches`] wants on `pod` (`updateIdentity`).
pub(crate) fn identity_labels(
    set: &StatefulSet,
    pod: &CachedPod,
) -> Option<BTreeMap<String, String>> {
    let ordinal = ordinal_of(set_name(set), pod)?;
    Some(BTreeMap::from([
        (POD_NAME_LABEL.to_owned(), pod_name(set_name(set), ordinal)),
        (POD_INDEX_LABEL.to_owned(), ordinal.to_string()),
    ]))
}

/// The claim retention policy: `(whenDeleted, whenScaled)` is Delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Retention {
    pub(crate) delete_when_deleted: bool,
    pub(crate) delete_when_scaled: bool,
}

pub(crate) fn retention(set: &StatefulSet) -> Retention {
    let policy =
        set.spec.as_ref().and_then(|s| s.persistent_volume_claim_retention_policy.as_ref());
    let is_delete = |v: Option<&String>| v.map(String::as_str) == Some("Delete");
    Retention {
        delete_when_deleted: is_delete(policy.and_then(|p| p.when_deleted.as_ref())),
        delete_when_scaled: is_delete(policy.and_then(|p| p.when_scaled.as_ref())),
    }
}

/// What a claim's owner references should become.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ClaimOwners {
    /// They are as the policy wants.
    Keep,
    /// Replace them with these.
    Set(Vec<OwnerReference>),
    /// Another controller owns the claim (or a stale reference to a set or pod of the same
    /// name): the policy is ignored for it and a `ConflictingController` warning recorded.
    Conflict,
}

fn refers_to(reference: &OwnerReference, kind: &str, group_version: &str, name: &str) -> bool {
    reference.kind == kind && reference.api_version == group_version && reference.name == name
}

/// `updateClaimOwnerRefForSetAndPod`: the set's and the pod's references the retention policy
/// wants on `claim` of the pod `pod_name` (uid `pod_uid`, empty while not created), in or out
/// of the set's ordinal range.
pub(crate) fn claim_owners(
    claim: &PersistentVolumeClaim,
    set: &StatefulSet,
    pod_name: &str,
    pod_uid: &str,
    in_range: bool,
) -> ClaimOwners {
    let current = claim.metadata.owner_references.clone().unwrap_or_default();
    let set_uid = set.metadata.uid.as_deref().unwrap_or_default();
    // hasUnexpectedController
    for reference in &current {
        if reference.controller != Some(true) {
            continue;
        }
        let is_set = refers_to(reference, "StatefulSet", "apps/v1", set_name(set));
        let is_pod = refers_to(reference, "Pod", "v1", pod_name);
        if (is_set && reference.uid != set_uid)
            || (is_pod && reference.uid != pod_uid)
            || (!is_set && !is_pod)
        {
            return ClaimOwners::Conflict;
        }
    }
    let policy = retention(set);
    let want_set = policy.delete_when_deleted && (in_range || !policy.delete_when_scaled);
    let want_pod = policy.delete_when_scaled && !in_range && !pod_uid.is_empty();
    let mut wanted: Vec<OwnerReference> = current
        .iter()
        .filter(|r| {
            !refers_to(r, "StatefulSet", "apps/v1", set_name(set))
                && !refers_to(r, "Pod", "v1", pod_name)
        })
        .cloned()
        .collect();
    if want_set {
        wanted.push(set_owner_ref(set));
    }
    if want_pod {
        wanted.push(pod_owner_ref(pod_name, pod_uid));
    }
    let same = wanted.len() == current.len() && wanted.iter().all(|w| current.contains(w));
    if same { ClaimOwners::Keep } else { ClaimOwners::Set(wanted) }
}

/// `hasStaleOwnerRef` as `PodClaimIsStale` uses it for a pod about to be created: the claim
/// still belongs to an earlier pod of the same name, which the garbage collector is about to
/// delete it for.
pub(crate) fn claim_is_stale(claim: &PersistentVolumeClaim, pod_name: &str) -> bool {
    claim.metadata.owner_references.iter().flatten().any(|r| r.kind == "Pod" && r.name == pod_name)
}

/// Whether `labels` match a label selector (`matchLabels` and `matchExpressions`); an empty
/// selector matches nothing here, as adoption must never take every pod of a namespace.
pub(crate) fn selector_matches(
    selector: &k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector,
    labels: &BTreeMap<String, String>,
) -> bool {
    let empty = selector.match_labels.as_ref().is_none_or(BTreeMap::is_empty)
        && selector.match_expressions.as_ref().is_none_or(Vec::is_empty);
    !empty && crate::meta::selects(Some(selector), Some(labels))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::{
        StatefulSetPersistentVolumeClaimRetentionPolicy, StatefulSetSpec,
    };

    fn set(when_deleted: &str, when_scaled: &str) -> StatefulSet {
        StatefulSet {
            metadata: ObjectMeta {
                name: Some("web".into()),
                namespace: Some("default".into()),
                uid: Some("set-uid".into()),
                ..ObjectMeta::default()
            },
            spec: Some(StatefulSetSpec {
                persistent_volume_claim_retention_policy: Some(
                    StatefulSetPersistentVolumeClaimRetentionPolicy {
                        when_deleted: Some(when_deleted.into()),
                        when_scaled: Some(when_scaled.into()),
                    },
                ),
                ..StatefulSetSpec::default()
            }),
            status: None,
        }
    }

    #[test]
    fn selectors_match_labels_and_expressions() {
        let selector = serde_json::from_value(serde_json::json!({
            "matchLabels": {"app": "nginx"},
            "matchExpressions": [{"key": "tier", "operator": "In", "values": ["web", "api"]},
                                 {"key": "canary", "operator": "DoesNotExist"}]
        }))
        .unwrap();
        let labels = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
        };
        assert!(selector_matches(&selector, &labels(&[("app", "nginx"), ("tier", "web")])));
        assert!(!selector_matches(&selector, &labels(&[("app", "nginx"), ("tier", "db")])));
        assert!(!selector_matches(
            &selector,
            &labels(&[("app", "nginx"), ("tier", "web"), ("canary", "1")])
        ));
        assert!(!selector_matches(&Default::default(), &labels(&[("app", "nginx")])));
    }

    #[test]
    fn ordinals_parse_like_kubernetes() {
        assert_eq!(parent_and_ordinal("web-0"), Some(("web", 0)));
        assert_eq!(parent_and_ordinal("my-web-12"), Some(("my-web", 12)));
        assert_eq!(parent_and_ordinal("web"), None);
        assert_eq!(parent_and_ordinal("web-"), None);
        assert_eq!(parent_and_ordinal("web-1a"), None);
    }

    #[test]
    fn retention_matrix() {
        // (whenDeleted, whenScaled, in range, the owner wanted: "", "set" or "pod")
        let cases = [
            ("Retain", "Retain", true, ""),
            ("Retain", "Retain", false, ""),
            ("Delete", "Retain", true, "set"),
            ("Delete", "Retain", false, "set"),
            ("Retain", "Delete", true, ""),
            ("Retain", "Delete", false, "pod"),
            ("Delete", "Delete", true, "set"),
            ("Delete", "Delete", false, "pod"),
        ];
        for (when_deleted, when_scaled, in_range, wanted) in cases {
            let set = set(when_deleted, when_scaled);
            let claim = PersistentVolumeClaim::default();
            let wanted = match wanted {
                "set" => vec![set_owner_ref(&set)],
                "pod" => vec![pod_owner_ref("web-1", "pod-uid")],
                _ => vec![],
            };
            let got = claim_owners(&claim, &set, "web-1", "pod-uid", in_range);
            let expected = if wanted.is_empty() {
                ClaimOwners::Keep
            } else {
                ClaimOwners::Set(wanted.clone())
            };
            assert_eq!(got, expected, "{when_deleted}/{when_scaled} in range {in_range}");
            // Once set, nothing changes.
            let claim = PersistentVolumeClaim {
                metadata: ObjectMeta { owner_references: Some(wanted), ..ObjectMeta::default() },
                ..PersistentVolumeClaim::default()
            };
            assert_eq!(claim_owners(&claim, &set, "web-1", "pod-uid", in_range), ClaimOwners::Keep);
        }
    }

    #[test]
    fn retention_removes_references_the_policy_no_longer_wants() {
        let set = set("Retain", "Retain");
        let claim = PersistentVolumeClaim {
            metadata: ObjectMeta {
                owner_references: Some(vec![set_owner_ref(&set)]),
                ..ObjectMeta::default()
            },
            ..PersistentVolumeClaim::default()
        };
        assert_eq!(claim_owners(&claim, &set, "web-0", "u", true), ClaimOwners::Set(vec![]));
    }

    #[test]
    fn another_controller_or_a_stale_reference_is_a_conflict() {
        let set = set("Delete", "Delete");
        let foreign = OwnerReference {
            api_version: "example.com/v1".into(),
            kind: "Thing".into(),
            name: "x".into(),
            uid: "x".into(),
            controller: Some(true),
            block_owner_deletion: None,
        };
        let mut stale = set_owner_ref(&set);
        stale.uid = "old".into();
        for reference in [foreign, stale] {
            let claim = PersistentVolumeClaim {
                metadata: ObjectMeta {
                    owner_references: Some(vec![reference]),
                    ..ObjectMeta::default()
                },
                ..PersistentVolumeClaim::default()
            };
            assert_eq!(claim_owners(&claim, &set, "web-0", "u", true), ClaimOwners::Conflict);
        }
    }
}
