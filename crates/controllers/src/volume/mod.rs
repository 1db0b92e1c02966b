//! Volumes: the default StorageClass, berth's local-path provisioner, the PV controller
//! (binder, phases, reclaim) and the pvc-/pv-protection finalizers — one loop that observes
//! claims, volumes, classes, nodes and pods through watch caches, plans purely
//! ([`binder::plan`], [`protection::plan`]) and applies the plan through the API with
//! compare-and-swap writes.
//!
//! Suggested reading order: `binder.rs` (the plan), `provisioner.rs` (placement and the PV
//! it creates), `protection.rs`, then [`run`] and [`Executor`] here.

pub(crate) mod binder;
pub(crate) mod class;
pub(crate) mod protection;
pub(crate) mod provisioner;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Node, ObjectReference, PersistentVolume, PersistentVolumeClaim};
use k8s_openapi::api::storage::v1::StorageClass;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, ListParams, PostParams, Preconditions};
use kube::runtime::reflector::ObjectRef;
use tokio::sync::Notify;

use crate::cache;
use crate::cached_pod::CachedPod;
use crate::informer::Store;
pub(crate) use crate::meta::{error_chain, name_of, namespace_of, reference_to};
use crate::{Context, EventType, Recorder};

pub(crate) use berth_api::local_path::{
    PROVISIONED_BY as ANN_PROVISIONED_BY, PROVISIONER, STORAGE_DIR as ANN_STORAGE_DIR,
};

pub(crate) const ANN_BIND_COMPLETED: &str = "pv.kubernetes.io/bind-completed";
pub(crate) const ANN_BOUND_BY_CONTROLLER: &str = "pv.kubernetes.io/bound-by-controller";
pub(crate) const ANN_STORAGE_PROVISIONER: &str = "volume.kubernetes.io/storage-provisioner";
pub(crate) const ANN_BETA_STORAGE_PROVISIONER: &str =
    "volume.beta.kubernetes.io/storage-provisioner";
pub(crate) const ANN_SELECTED_NODE: &str = "volume.kubernetes.io/selected-node";
pub(crate) const FINALIZER_PV_PROTECTION: &str = "kubernetes.io/pv-protection";
pub(crate) const FINALIZER_PVC_PROTECTION: &str = "kubernetes.io/pvc-protection";

/// What went wrong talking to the API.
#[derive(Debug, thiserror::Error)]
pub(crate) enum VolumeError {
    #[error("cannot {what}")]
    Api {
        what: String,
        #[source]
        source: kube::Error,
    },
}

impl VolumeError {
    pub(crate) fn api(what: &str) -> impl FnOnce(kube::Error) -> VolumeError + '_ {
        move |source| VolumeError::Api { what: what.to_owned(), source }
    }
}

/// What the plan sees: every object of each kind, as the caches have them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Observed<'a> {
    pub(crate) claims: &'a [Arc<PersistentVolumeClaim>],
    pub(crate) volumes: &'a [Arc<PersistentVolume>],
    pub(crate) classes: &'a [Arc<StorageClass>],
    pub(crate) nodes: &'a [Arc<Node>],
    pub(crate) pods: &'a [Arc<CachedPod>],
}

/// Who reports an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Source {
    /// kube-controller-manager's `persistentvolume-controller`.
    Binder,
    /// The local-path provisioner.
    Provisioner,
}

/// One write the plan wants. Updates carry the whole object as observed and changed; the
/// executor writes them with its resourceVersion (compare-and-swap).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Change {
    UpdateClaim(PersistentVolumeClaim),
    UpdateClaimStatus(PersistentVolumeClaim),
    UpdateVolume(PersistentVolume),
    UpdateVolumeStatus(PersistentVolume),
    /// Create the volume for a claim, with the provisioner's events around it.
    Provision {
        claim: ObjectReference,
        claim_key: String,
        volume: PersistentVolume,
    },
    /// Delete a released volume whose reclaim policy is Delete.
    DeleteVolume {
        name: String,
        uid: String,
    },
    /// Drop `kubernetes.io/pvc-protection` — after a live check that no pod uses the claim.
    RemoveClaimProtection(PersistentVolumeClaim),
    Event {
        object: ObjectReference,
        source: Source,
        event_type: EventType,
        reason: String,
        message: String,
    },
}

/// The volume controller: never returns.
pub(crate) async fn run(context: Context) {
    let wake = Arc::new(Notify::new());
    let informers = &context.informers;
    let caches = Caches {
        claims: cache::cache(informers, &wake),
        volumes: cache::cache(informers, &wake),
        classes: cache::cache(informers, &wake),
        nodes: cache::cache(informers, &wake),
        pods: cache::cache(informers, &wake),
    };
    // As an addon manager applies it (kind's and k3s' default classes are manifests), with
    // the loopback identity: no controller's role creates StorageClasses.
    let addons = context.client_as(crate::Identity::Loopback);
    while let Err(error) = class::ensure_default_class(&addons).await {
        tracing::warn!(error = %error_chain(&error), "cannot ensure the default StorageClass; retrying");
        tokio::time::sleep(cache::RETRY * 5).await;
    }
    reconcile(context.client.clone(), caches, wake).await;
}

#[derive(Debug)]
struct Caches {
    claims: Store<PersistentVolumeClaim>,
    volumes: Store<PersistentVolume>,
    classes: Store<StorageClass>,
    nodes: Store<Node>,
    pods: Store<CachedPod>,
}

async fn reconcile(client: kube::Client, caches: Caches, wake: Arc<Notify>) {
    caches.claims.wait_until_ready().await;
    caches.volumes.wait_until_ready().await;
    caches.classes.wait_until_ready().await;
    caches.nodes.wait_until_ready().await;
    caches.pods.wait_until_ready().await;
    let mut executor = Executor::new(client);
    // Woken by the caches a pass's writes show up in (see `cache::caught_up`).
    let changed = Arc::new(Notify::new());
    caches.claims.wake(&changed);
    caches.volumes.wake(&changed);
    loop {
        let claims = caches.claims.state();
        let volumes = caches.volumes.state();
        let classes = caches.classes.state();
        let nodes = caches.nodes.state();
        let pods = caches.pods.state();
        let observed = Observed {
            claims: &claims,
            volumes: &volumes,
            classes: &classes,
            nodes: &nodes,
            pods: &pods,
        };
        let mut groups = binder::plan(&observed, Timestamp::now());
        // Each finalizer removal is a group of its own.
        groups.extend(protection::plan(&observed).into_iter().map(|change| vec![change]));
        let clean = executor.apply(groups).await;
        executor.wait_for_caches(&caches, &changed).await;
        if clean {
            cache::woken(&wake).await;
        } else {
            tokio::time::sleep(cache::RETRY).await;
        }
    }
}

/// How many groups of changes are applied at once.
const PARALLEL_WRITES: usize = 16;

/// Applies a plan through the API: groups in parallel, each group's changes in order.
struct Executor {
    client: kube::Client,
    binder: Recorder,
    provisioner: Recorder,
    /// Events already recorded (an unchanged situation is not reported every pass).
    said: HashSet<(String, String, String)>,
    /// The resourceVersion each object was written at in this pass (`pv/<name>`,
    /// `pvc/<ns>/<name>`), which the caches must reach before the next plan.
    written: HashMap<String, String>,
    /// Objects created in this pass, which the caches must show before the next one.
    created: HashSet<String>,
}

impl std::fmt::Debug for Executor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Executor").field("written", &self.written).finish_non_exhaustive()
    }
}

/// What applying one group did.
#[derive(Debug, Default)]
struct Outcome {
    /// The metadata each object got from its last write in this group (its resourceVersion
    /// included): a status write that follows an update sends it, as upstream's binder sends
    /// the object the update returned (a status write keeps the metadata it carries).
    written: HashMap<String, ObjectMeta>,
    created: HashSet<String>,
    clean: bool,
}

impl Outcome {
    fn remember(&mut self, key: String, meta: &ObjectMeta) {
        let mut meta = meta.clone();
        meta.managed_fields = None;
        self.written.insert(key, meta);
    }

    /// Makes `meta`, about to be written (`status`: to the status subresource), current with
    /// what this group already wrote of `key`.
    fn refresh(&self, key: &str, meta: &mut ObjectMeta, status: bool) {
        match self.written.get(key) {
            Some(written) if status => *meta = written.clone(),
            Some(written) => meta.resource_version.clone_from(&written.resource_version),
            None => {}
        }
    }
}

impl Executor {
    fn new(client: kube::Client) -> Executor {
        Executor {
            binder: Recorder::new(client.clone(), "persistentvolume-controller", None),
            provisioner: Recorder::new(client.clone(), PROVISIONER, None),
            client,
            said: HashSet::new(),
            written: HashMap::new(),
            created: HashSet::new(),
        }
    }

    /// Applies every group; false when a change failed (the loop retries soon).
    async fn apply(&mut self, groups: Vec<Vec<Change>>) -> bool {
        self.written.clear();
        self.created.clear();
        let groups: Vec<Vec<Change>> = groups
            .into_iter()
            .map(|group| group.into_iter().filter(|change| self.fresh(change)).collect::<Vec<_>>())
            .filter(|group| !group.is_empty())
            .collect();
        let this = &*self;
        let outcomes: Vec<Outcome> = futures::stream::iter(groups)
            .map(|group| this.apply_group(group))
            .buffer_unordered(PARALLEL_WRITES)
            .collect()
            .await;
        let mut clean = true;
        for outcome in outcomes {
            clean &= outcome.clean;
            self.written.extend(
                outcome
                    .written
                    .into_iter()
                    .filter_map(|(key, meta)| Some((key, meta.resource_version?))),
            );
            self.created.extend(outcome.created);
        }
        clean
    }

    /// False for an event already recorded.
    fn fresh(&mut self, change: &Change) -> bool {
        let Change::Event { object, reason, message, .. } = change else { return true };
        let key = (object.uid.clone().unwrap_or_default(), reason.clone(), message.clone());
        if self.said.len() > 10_000 {
            self.said.clear();
        }
        self.said.insert(key)
    }

    /// Applies a group in order, stopping at the first failure (a claim is never pointed at
    /// a volume whose claimRef write failed).
    async fn apply_group(&self, group: Vec<Change>) -> Outcome {
        let mut outcome = Outcome { clean: true, ..Outcome::default() };
        for change in group {
            if let Err(error) = self.apply_one(change, &mut outcome).await {
                match &error {
                    VolumeError::Api { source: kube::Error::Api(status), .. }
                        if status.code == 409 =>
                    {
                        tracing::debug!(error = %error_chain(&error), "stale cache; retrying")
                    }
                    _ => {
                        tracing::warn!(error = %error_chain(&error), "volume controller write failed")
                    }
                }
                outcome.clean = false;
                break;
            }
        }
        outcome
    }

    async fn apply_one(&self, change: Change, outcome: &mut Outcome) -> Result<(), VolumeError> {
        let pp = PostParams::default();
        match change {
            Change::UpdateClaim(claim) => self.replace_claim(claim, false, outcome).await,
            Change::UpdateClaimStatus(claim) => self.replace_claim(claim, true, outcome).await,
            Change::UpdateVolume(volume) => self.replace_volume(volume, false, outcome).await,
            Change::UpdateVolumeStatus(volume) => self.replace_volume(volume, true, outcome).await,
            Change::RemoveClaimProtection(mut claim) => {
                let namespace = namespace_of(&claim.metadata).to_owned();
                let pods: Api<CachedPod> = Api::namespaced(self.client.clone(), &namespace);
                // The cache may not have a pod created a moment ago: ask the API server
                // before letting the claim go (pvcprotection's `askAPIServer`).
                let live = pods
                    .list(&ListParams::default())
                    .await
                    .map_err(VolumeError::api("list pods"))?;
                if live.items.iter().any(|pod| protection::uses(pod, &claim)) {
                    return Ok(());
                }
                protection::remove_finalizer(
                    &mut claim.metadata.finalizers,
                    FINALIZER_PVC_PROTECTION,
                );
                self.replace_claim(claim, false, outcome).await
            }
            Change::DeleteVolume { name, uid } => {
                let api: Api<PersistentVolume> = Api::all(self.client.clone());
                let params = DeleteParams::default()
                    .preconditions(Preconditions { uid: Some(uid), resource_version: None });
                match api.delete(&name, &params).await {
                    Ok(_) => Ok(()),
                    Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
                    Err(error) => Err(VolumeError::api("delete persistentvolume")(error)),
                }
            }
            Change::Provision { claim, claim_key, volume } => {
                let api: Api<PersistentVolume> = Api::all(self.client.clone());
                let name = name_of(&volume.metadata).to_owned();
                let class = volume
                    .spec
                    .as_ref()
                    .and_then(|s| s.storage_class_name.clone())
                    .unwrap_or_default();
                self.provisioner.record(
                    &claim,
                    EventType::Normal,
                    "Provisioning",
                    format!(
                        "External provisioner is provisioning volume for claim \"{claim_key}\""
                    ),
                );
                match api.create(&pp, &volume).await {
                    Ok(created) => {
                        outcome.remember(format!("pv/{name}"), &created.metadata);
                        outcome.created.insert(format!("pv/{name}"));
                        self.provisioner.record(
                            &claim,
                            EventType::Normal,
                            "ProvisioningSucceeded",
                            format!("Successfully provisioned volume {name}"),
                        );
                        Ok(())
                    }
                    Err(kube::Error::Api(status)) if status.code == 409 => Ok(()),
                    Err(error) => {
                        self.provisioner.record(
                            &claim,
                            EventType::Warning,
                            "ProvisioningFailed",
                            format!(
                                "failed to provision volume with StorageClass \"{class}\": {error}"
                            ),
                        );
                        Err(VolumeError::api("create persistentvolume")(error))
                    }
                }
            }
            Change::Event { object, source, event_type, reason, message } => {
                let recorder = match source {
                    Source::Binder => &self.binder,
                    Source::Provisioner => &self.provisioner,
                };
                recorder.record(&object, event_type, &reason, message);
                Ok(())
            }
        }
    }

    async fn replace_claim(
        &self,
        mut claim: PersistentVolumeClaim,
        status: bool,
        outcome: &mut Outcome,
    ) -> Result<(), VolumeError> {
        let namespace = namespace_of(&claim.metadata).to_owned();
        let name = name_of(&claim.metadata).to_owned();
        let key = format!("pvc/{namespace}/{name}");
        outcome.refresh(&key, &mut claim.metadata, status);
        let api: Api<PersistentVolumeClaim> = Api::namespaced(self.client.clone(), &namespace);
        let pp = PostParams::default();
        let result = if status {
            api.replace_status(&name, &pp, &claim).await
        } else {
            api.replace(&name, &pp, &claim).await
        };
        match result {
            Ok(written) => {
                outcome.remember(key, &written.metadata);
                Ok(())
            }
            Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
            Err(error) => Err(VolumeError::api("update persistentvolumeclaim")(error)),
        }
    }

    async fn replace_volume(
        &self,
        mut volume: PersistentVolume,
        status: bool,
        outcome: &mut Outcome,
    ) -> Result<(), VolumeError> {
        let name = name_of(&volume.metadata).to_owned();
        let key = format!("pv/{name}");
        outcome.refresh(&key, &mut volume.metadata, status);
        let api: Api<PersistentVolume> = Api::all(self.client.clone());
        let pp = PostParams::default();
        let result = if status {
            api.replace_status(&name, &pp, &volume).await
        } else {
            api.replace(&name, &pp, &volume).await
        };
        match result {
            Ok(written) => {
                outcome.remember(key, &written.metadata);
                Ok(())
            }
            Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
            Err(error) => Err(VolumeError::api("update persistentvolume")(error)),
        }
    }

    /// Waits (bounded) until the caches show this pass's writes, so the next plan does not
    /// redo them from stale objects.
    async fn wait_for_caches(&self, caches: &Caches, changed: &Notify) {
        if self.written.is_empty() {
            return;
        }
        cache::caught_up(changed, || {
            self.written.iter().all(|(key, rv)| {
                let want: u64 = rv.parse().unwrap_or(0);
                let seen = if let Some(name) = key.strip_prefix("pv/") {
                    caches
                        .volumes
                        .get(&ObjectRef::new(name))
                        .map(|v| cache::revision_of(&v.metadata))
                } else if let Some((namespace, name)) =
                    key.strip_prefix("pvc/").and_then(|k| k.split_once('/'))
                {
                    caches
                        .claims
                        .get(&ObjectRef::new(name).within(namespace))
                        .map(|c| cache::revision_of(&c.metadata))
                } else {
                    None
                };
                match seen {
                    Some(seen) => seen >= want,
                    // Gone from the cache counts as caught up (deleted since), unless this
                    // pass created it.
                    None => !self.created.contains(key),
                }
            })
        })
        .await;
    }
}
