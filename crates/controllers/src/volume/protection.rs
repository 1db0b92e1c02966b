//! pvc-protection and pv-protection (pkg/controller/volume/pvcprotection and pvprotection):
//! a claim marked for deletion loses `kubernetes.io/pvc-protection` once no scheduled,
//! non-terminal pod uses it; a volume marked for deletion loses `kubernetes.io/pv-protection`
//! once it is not Bound.

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};

use super::{Change, FINALIZER_PV_PROTECTION, FINALIZER_PVC_PROTECTION, Observed, name_of};
use crate::cached_pod::CachedPod;

/// The finalizer removals due now.
pub(crate) fn plan(observed: &Observed<'_>) -> Vec<Change> {
    let mut changes = Vec::new();
    for claim in observed.claims.iter() {
        if claim.metadata.deletion_timestamp.is_some()
            && has_finalizer(&claim.metadata.finalizers, FINALIZER_PVC_PROTECTION)
            && !observed.pods.iter().any(|pod| uses(pod, claim))
        {
            changes.push(Change::RemoveClaimProtection((**claim).clone()));
        }
    }
    for volume in observed.volumes.iter() {
        if volume.metadata.deletion_timestamp.is_some()
            && has_finalizer(&volume.metadata.finalizers, FINALIZER_PV_PROTECTION)
            && !is_bound(volume)
        {
            let mut updated = (**volume).clone();
            remove_finalizer(&mut updated.metadata.finalizers, FINALIZER_PV_PROTECTION);
            changes.push(Change::UpdateVolume(updated));
        }
    }
    changes
}

fn is_bound(volume: &PersistentVolume) -> bool {
    volume.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Bound")
}

pub(crate) fn has_finalizer(finalizers: &Option<Vec<String>>, finalizer: &str) -> bool {
    finalizers.as_ref().is_some_and(|f| f.iter().any(|f| f == finalizer))
}

pub(crate) fn remove_finalizer(finalizers: &mut Option<Vec<String>>, finalizer: &str) {
    if let Some(list) = finalizers.as_mut() {
        list.retain(|f| f != finalizer);
    }
}

/// `podUsesPVC`: a pod that is scheduled (the kubelet refuses to start a pod whose claim is
/// being deleted, so unscheduled pods do not hold it), not terminal, and names the claim
/// directly or through a generic ephemeral volume (`<pod>-<volume>`).
pub(crate) fn uses(pod: &CachedPod, claim: &PersistentVolumeClaim) -> bool {
    if pod.metadata.namespace != claim.metadata.namespace {
        return false;
    }
    let Some(spec) = pod.spec.as_ref() else { return false };
    if spec.node_name.as_deref().unwrap_or("").is_empty() {
        return false;
    }
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    if matches!(phase, Some("Succeeded" | "Failed")) {
        return false;
    }
    let claim_name = name_of(&claim.metadata);
    let pod_name = name_of(&pod.metadata);
    spec.volumes.iter().flatten().any(|volume| {
        volume.persistent_volume_claim.as_ref().is_some_and(|c| c.claim_name == claim_name)
            || (volume.ephemeral && format!("{pod_name}-{}", volume.name) == claim_name)
    })
}
