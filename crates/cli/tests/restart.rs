//! A real `berth server --runtime simulated` killed (SIGKILL, or SIGTERM) in the middle of a
//! StatefulSet rollout, rolling update or scale-down and started again on the same data dir: the controllers pick up where
//! the store says they were, with no duplicate pods, no orphaned claims or volumes and no
//! duplicate ControllerRevisions (issue 4).
//!
//! Pods become Ready [`READY_AFTER_SECONDS`] after their container starts (a readiness probe's
//! `initialDelaySeconds`, which the simulated runtime honours), so an OrderedReady rollout of
//! [`REPLICAS`] pods takes long enough to be interrupted at a known point. A whole-process
//! restart loses the simulated containers (docs/simulated-runtime.md), so every pod's
//! containers start again after it; the pods themselves, their claims and volumes live in the
//! store and must be kept.
//!
//! [`problems`] is the verdict: everything listed, counted and compared, so it fails on a stray
//! or duplicated object rather than merely waiting for Ready; `the_verdict_sees_strays_and_duplicates`
//! shows that it does.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use berth_testkit::cluster::client;
use berth_testkit::kubectl::BerthProcess;
use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet};
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, Pod};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;

const REPLICAS: usize = 5;
const READY_AFTER_SECONDS: i32 = 2;
const NAMESPACE: &str = "default";
/// How long a rollout may take to finish after the restart. It bounds a hang; the tests
/// normally finish well inside it.
const CONVERGE_WITHIN: Duration = Duration::from_secs(45);

fn berth() -> &'static Path {
    env!("CARGO_BIN_EXE_berth").as_ref()
}

async fn start(data_dir: &Path) -> (BerthProcess, kube::Client) {
    let process = BerthProcess::start(
        berth(),
        data_dir,
        &["--runtime", "simulated", "--node-name", "node-a"],
    )
    .await;
    // The port changes at every start; the kubeconfig is rewritten with it.
    let client = client(&process.kubeconfig()).await;
    (process, client)
}

fn web(image: &str) -> StatefulSet {
    serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": "web"},
        "spec": {
            "replicas": REPLICAS,
            "serviceName": "web",
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{
                    "name": "nginx", "image": image,
                    "readinessProbe": {"exec": {"command": ["true"]},
                                       "initialDelaySeconds": READY_AFTER_SECONDS},
                }]},
            },
            "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "1Gi"}},
            }}],
        },
    }))
    .expect("a StatefulSet")
}

/// Everything the verdict looks at, listed from the API.
#[derive(Debug, Clone)]
struct Observed {
    set: StatefulSet,
    pods: Vec<Pod>,
    claims: Vec<PersistentVolumeClaim>,
    volumes: Vec<PersistentVolume>,
    revisions: Vec<ControllerRevision>,
}

async fn observe(client: &kube::Client) -> Observed {
    let all = ListParams::default();
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), NAMESPACE);
    let pods: Api<Pod> = Api::namespaced(client.clone(), NAMESPACE);
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), NAMESPACE);
    let volumes: Api<PersistentVolume> = Api::all(client.clone());
    let revisions: Api<ControllerRevision> = Api::namespaced(client.clone(), NAMESPACE);
    Observed {
        set: sets.get("web").await.expect("get the StatefulSet"),
        pods: pods.list(&all).await.expect("list pods").items,
        claims: claims.list(&all).await.expect("list claims").items,
        volumes: volumes.list(&all).await.expect("list volumes").items,
        revisions: revisions.list(&all).await.expect("list revisions").items,
    }
}

fn name_of(meta: &kube::api::ObjectMeta) -> &str {
    meta.name.as_deref().unwrap_or_default()
}

fn uid_of(meta: &kube::api::ObjectMeta) -> &str {
    meta.uid.as_deref().unwrap_or_default()
}

fn is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

fn revision_label(pod: &Pod) -> &str {
    pod.metadata
        .labels
        .as_ref()
        .and_then(|l| l.get("controller-revision-hash"))
        .map_or("", String::as_str)
}

/// Why `observed` is not a finished rollout of `replicas` pods, every reason found (empty: it
/// is one). `revisions` is how many ControllerRevisions the set's history should hold.
fn problems(observed: &Observed, replicas: usize, revisions: usize) -> Vec<String> {
    let mut problems = Vec::new();
    let set_uid = uid_of(&observed.set.metadata);
    let status = observed.set.status.clone().unwrap_or_default();
    let update_revision = status.update_revision.clone().unwrap_or_default();
    let want_pods: BTreeSet<String> = (0..replicas).map(|i| format!("web-{i}")).collect();
    let want_claims: BTreeSet<String> = (0..replicas).map(|i| format!("data-web-{i}")).collect();

    // Pods: exactly web-0 … web-(n-1), each live, Ready, owned by the set, on the update
    // revision and mounting its own claim.
    let mut pod_names = BTreeMap::new();
    for pod in &observed.pods {
        *pod_names.entry(name_of(&pod.metadata).to_owned()).or_insert(0) += 1;
    }
    for (name, count) in &pod_names {
        if !want_pods.contains(name) {
            problems.push(format!("pod {name} is outside the set's ordinals"));
        } else if *count > 1 {
            problems.push(format!("pod {name} is listed {count} times"));
        }
    }
    for name in &want_pods {
        let Some(pod) = observed.pods.iter().find(|p| name_of(&p.metadata) == name) else {
            problems.push(format!("pod {name} is missing"));
            continue;
        };
        if pod.metadata.deletion_timestamp.is_some() {
            problems.push(format!("pod {name} is terminating"));
        }
        if !is_ready(pod) {
            problems.push(format!("pod {name} is not Ready"));
        }
        if revision_label(pod) != update_revision {
            problems.push(format!(
                "pod {name} runs revision {:?}, not the update revision {update_revision:?}",
                revision_label(pod)
            ));
        }
        let owners = pod.metadata.owner_references.as_deref().unwrap_or_default();
        if !owners.iter().any(|o| o.controller == Some(true) && o.uid == set_uid) {
            problems.push(format!("pod {name} is not controlled by the set"));
        }
        let claim = format!("data-{name}");
        let mounts_claim = pod.spec.as_ref().and_then(|s| s.volumes.as_ref()).is_some_and(|v| {
            v.iter()
                .any(|v| v.persistent_volume_claim.as_ref().is_some_and(|c| c.claim_name == claim))
        });
        if !mounts_claim {
            problems.push(format!("pod {name} does not use claim {claim}"));
        }
    }

    // Claims: exactly one per ordinal, each Bound to a volume of its own whose claimRef
    // names it by uid; no volume without a live claim.
    let mut claim_names = BTreeMap::new();
    for claim in &observed.claims {
        *claim_names.entry(name_of(&claim.metadata).to_owned()).or_insert(0) += 1;
    }
    for (name, count) in &claim_names {
        if !want_claims.contains(name) {
            problems.push(format!("claim {name} is outside the set's ordinals"));
        } else if *count > 1 {
            problems.push(format!("claim {name} is listed {count} times"));
        }
    }
    let mut bound_volumes = BTreeMap::new();
    for name in &want_claims {
        let Some(claim) = observed.claims.iter().find(|c| name_of(&c.metadata) == name) else {
            problems.push(format!("claim {name} is missing"));
            continue;
        };
        let phase = claim.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or("");
        if phase != "Bound" {
            problems.push(format!("claim {name} is {phase:?}, not Bound"));
        }
        let volume_name = claim.spec.as_ref().and_then(|s| s.volume_name.clone());
        let Some(volume_name) = volume_name.filter(|v| !v.is_empty()) else {
            problems.push(format!("claim {name} names no volume"));
            continue;
        };
        if let Some(other) = bound_volumes.insert(volume_name.clone(), name.clone()) {
            problems.push(format!("claims {other} and {name} share volume {volume_name}"));
        }
        let Some(volume) = observed.volumes.iter().find(|v| name_of(&v.metadata) == volume_name)
        else {
            problems.push(format!("claim {name}'s volume {volume_name} does not exist"));
            continue;
        };
        let claim_ref = volume.spec.as_ref().and_then(|s| s.claim_ref.as_ref());
        let (ref_name, ref_uid) = claim_ref.map_or(("", ""), |r| {
            (r.name.as_deref().unwrap_or(""), r.uid.as_deref().unwrap_or(""))
        });
        if (ref_name, ref_uid) != (name.as_str(), uid_of(&claim.metadata)) {
            problems.push(format!(
                "volume {volume_name} is claimed by {ref_name:?} ({ref_uid}), not by {name}"
            ));
        }
        let volume_phase = volume.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or("");
        if volume_phase != "Bound" {
            problems.push(format!("volume {volume_name} is {volume_phase:?}, not Bound"));
        }
    }
    for volume in &observed.volumes {
        let name = name_of(&volume.metadata);
        if !bound_volumes.contains_key(name) {
            problems.push(format!("volume {name} belongs to no claim of the set"));
        }
    }

    // History: one ControllerRevision per distinct template (its hash label), each revision
    // number once, the update revision among them.
    let hashes: BTreeSet<&str> = observed
        .revisions
        .iter()
        .filter_map(|r| r.metadata.labels.as_ref()?.get("controller.kubernetes.io/hash"))
        .map(String::as_str)
        .collect();
    let numbers: BTreeSet<i64> = observed.revisions.iter().map(|r| r.revision).collect();
    if observed.revisions.len() != revisions
        || hashes.len() != revisions
        || numbers.len() != revisions
    {
        problems.push(format!(
            "{} ControllerRevisions ({} hashes, {} revision numbers), want {revisions}",
            observed.revisions.len(),
            hashes.len(),
            numbers.len()
        ));
    }
    if !observed.revisions.iter().any(|r| name_of(&r.metadata) == update_revision) {
        problems.push(format!("no ControllerRevision {update_revision:?}"));
    }

    // Status: the rollout is complete.
    let count = |n: Option<i32>| n.unwrap_or(0) as usize;
    if count(Some(status.replicas)) != replicas
        || count(status.ready_replicas) != replicas
        || count(status.current_replicas) != replicas
        || count(status.updated_replicas) != replicas
    {
        problems.push(format!(
            "status counts replicas {} ready {:?} current {:?} updated {:?}, want {replicas}",
            status.replicas,
            status.ready_replicas,
            status.current_replicas,
            status.updated_replicas
        ));
    }
    if status.current_revision.as_deref() != Some(update_revision.as_str())
        || update_revision.is_empty()
    {
        problems.push(format!(
            "currentRevision {:?} is not updateRevision {update_revision:?}",
            status.current_revision
        ));
    }
    if status.observed_generation != observed.set.metadata.generation {
        problems.push("status.observedGeneration lags the set's generation".into());
    }
    problems
}

/// Waits for [`problems`] to come out empty, and to stay empty a moment later (a late
/// duplicate would show then); panics with the last problems otherwise.
async fn converges(client: &kube::Client, replicas: usize, revisions: usize) -> Observed {
    let deadline = tokio::time::Instant::now() + CONVERGE_WITHIN;
    let mut last = Vec::new();
    while tokio::time::Instant::now() < deadline {
        let observed = observe(client).await;
        last = problems(&observed, replicas, revisions);
        if last.is_empty() {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let settled = observe(client).await;
            let after = problems(&settled, replicas, revisions);
            assert!(after.is_empty(), "the rollout finished, then broke: {after:#?}");
            return settled;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the rollout did not finish in {CONVERGE_WITHIN:?}: {last:#?}");
}

/// Polls until `ready` says the rollout reached the point to interrupt it at.
async fn wait_for(client: &kube::Client, what: &str, ready: impl Fn(&Observed) -> bool) {
    let deadline = tokio::time::Instant::now() + CONVERGE_WITHIN;
    loop {
        if ready(&observe(client).await) {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The volume directories on disk (`DIR/storage/pvc-…`).
fn storage_dirs(data_dir: &Path) -> BTreeSet<String> {
    let entries = std::fs::read_dir(data_dir.join("storage")).expect("the storage directory");
    entries
        .map(|e| e.expect("a directory entry").file_name().to_string_lossy().into_owned())
        .collect()
}

fn volume_names(observed: &Observed) -> BTreeSet<String> {
    observed.volumes.iter().map(|v| name_of(&v.metadata).to_owned()).collect()
}

fn pod<'a>(observed: &'a Observed, name: &str) -> Option<&'a Pod> {
    observed.pods.iter().find(|p| name_of(&p.metadata) == name)
}

fn uids<'a>(metas: impl Iterator<Item = &'a kube::api::ObjectMeta>) -> BTreeMap<String, String> {
    metas.map(|m| (name_of(m).to_owned(), uid_of(m).to_owned())).collect()
}

#[derive(Debug, Clone, Copy)]
enum Stop {
    Kill,
    Terminate,
}

/// Creates the set, interrupts berth once web-2 exists but is not Ready yet (web-0 and web-1
/// are), starts it again and checks the rollout finishes with the same objects.
async fn ordered_rollout_survives(stop: Stop) {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let (process, client) = start(&data_dir).await;
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), NAMESPACE);
    sets.create(&PostParams::default(), &web("nginx:1")).await.expect("create the set");
    wait_for(&client, "web-2 created, web-0 and web-1 Ready", |o| {
        pod(o, "web-2").is_some_and(|p| !is_ready(p))
            && ["web-0", "web-1"].iter().all(|n| pod(o, n).is_some_and(is_ready))
    })
    .await;
    match stop {
        Stop::Kill => process.kill().await,
        Stop::Terminate => process.stop().await,
    }

    // What the killed process left in the store.
    let (process, client) = start(&data_dir).await;
    let before = observe(&client).await;
    assert!(
        problems(&before, REPLICAS, 1).iter().any(|p| p.contains("web-4")),
        "the rollout was not interrupted: {before:#?}"
    );
    let pods_before = uids(before.pods.iter().map(|p| &p.metadata));
    let claims_before = uids(before.claims.iter().map(|c| &c.metadata));
    assert!(pods_before.contains_key("web-2"), "{pods_before:?}");

    let after = converges(&client, REPLICAS, 1).await;
    // Nothing that existed was replaced: not the pods (Ready or not), not their claims.
    let pods_after = uids(after.pods.iter().map(|p| &p.metadata));
    let claims_after = uids(after.claims.iter().map(|c| &c.metadata));
    for (name, uid) in &pods_before {
        assert_eq!(pods_after.get(name), Some(uid), "pod {name} was replaced");
    }
    for (name, uid) in &claims_before {
        assert_eq!(claims_after.get(name), Some(uid), "claim {name} was replaced");
    }
    // One directory on disk per volume, none left over.
    assert_eq!(storage_dirs(&data_dir), volume_names(&after));
    process.stop().await;
}

#[tokio::test]
async fn an_ordered_rollout_finishes_after_a_sigkill() {
    ordered_rollout_survives(Stop::Kill).await;
}

#[tokio::test]
async fn an_ordered_rollout_finishes_after_a_sigterm() {
    ordered_rollout_survives(Stop::Terminate).await;
}

#[tokio::test]
async fn a_rolling_update_finishes_after_a_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let (process, client) = start(&data_dir).await;
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), NAMESPACE);
    sets.create(&PostParams::default(), &web("nginx:1")).await.expect("create the set");
    let first = converges(&client, REPLICAS, 1).await;
    let first_revision = first.set.status.and_then(|s| s.update_revision).unwrap();
    let claims_before = uids(first.claims.iter().map(|c| &c.metadata));
    let volumes_before = uids(first.volumes.iter().map(|v| &v.metadata));

    let patch = json!({"spec": {"template": {"spec": {"containers": [
        {"name": "nginx", "image": "nginx:2"}]}}}});
    sets.patch("web", &PatchParams::default(), &Patch::Strategic(patch))
        .await
        .expect("change the template");
    // Interrupt once web-4 runs the new template and web-3 is on its way to it (being deleted,
    // gone, or recreated and not Ready yet).
    wait_for(&client, "web-4 updated and web-3 being replaced", |o| {
        let updated = |p: &Pod| revision_label(p) != first_revision;
        let web4 = pod(o, "web-4").is_some_and(|p| updated(p) && is_ready(p));
        let web3 = pod(o, "web-3").is_none_or(|p| {
            p.metadata.deletion_timestamp.is_some() || (updated(p) && !is_ready(p))
        });
        web4 && web3
    })
    .await;
    process.kill().await;

    let (process, client) = start(&data_dir).await;
    let before = observe(&client).await;
    let old = before.pods.iter().filter(|p| revision_label(p) == first_revision).count();
    assert!(old >= 3, "the rolling update was not interrupted: {old} pods on the old revision");

    let after = converges(&client, REPLICAS, 2).await;
    let status = after.set.status.clone().unwrap();
    assert_ne!(status.update_revision.as_deref(), Some(first_revision.as_str()));
    // The claims and volumes outlive the pods: the update replaced pods only.
    assert_eq!(uids(after.claims.iter().map(|c| &c.metadata)), claims_before);
    assert_eq!(uids(after.volumes.iter().map(|v| &v.metadata)), volumes_before);
    assert_eq!(storage_dirs(&data_dir), volume_names(&after));
    process.stop().await;
}

/// The verdict is not a formality: a finished rollout passes it, and each kind of leftover or
/// duplicate the restart could cause fails it.
#[test]
fn the_verdict_sees_strays_and_duplicates() {
    let done = finished_rollout(3);
    assert_eq!(problems(&done, 3, 1), Vec::<String>::new());

    let mut stray_claim = done.clone();
    let mut claim = stray_claim.claims[0].clone();
    claim.metadata.name = Some("data-web-3".into());
    claim.metadata.uid = Some("claim-stray".into());
    stray_claim.claims.push(claim);
    assert!(problems(&stray_claim, 3, 1).iter().any(|p| p.contains("data-web-3 is outside")));

    let mut stray_pod = done.clone();
    let mut extra = stray_pod.pods[2].clone();
    extra.metadata.name = Some("web-3".into());
    stray_pod.pods.push(extra);
    assert!(problems(&stray_pod, 3, 1).iter().any(|p| p.contains("web-3 is outside")));

    let mut duplicate_revision = done.clone();
    let mut revision = duplicate_revision.revisions[0].clone();
    revision.metadata.name = Some("web-other".into());
    revision.revision = 2;
    duplicate_revision.revisions.push(revision);
    assert!(problems(&duplicate_revision, 3, 1).iter().any(|p| p.contains("ControllerRevisions")));

    let mut orphan_volume = done.clone();
    let mut volume = orphan_volume.volumes[0].clone();
    volume.metadata.name = Some("pvc-orphan".into());
    orphan_volume.volumes.push(volume);
    assert!(problems(&orphan_volume, 3, 1).iter().any(|p| p.contains("pvc-orphan")));

    let mut rebound = done.clone();
    rebound.claims[1].spec.as_mut().unwrap().volume_name = Some("pvc-0".into());
    assert!(problems(&rebound, 3, 1).iter().any(|p| p.contains("share volume pvc-0")));

    let mut old_pod = done.clone();
    old_pod.pods[0]
        .metadata
        .labels
        .as_mut()
        .unwrap()
        .insert("controller-revision-hash".into(), "web-old".into());
    assert!(problems(&old_pod, 3, 1).iter().any(|p| p.contains("not the update revision")));

    let mut behind = done;
    behind.set.status.as_mut().unwrap().current_revision = Some("web-old".into());
    assert!(problems(&behind, 3, 1).iter().any(|p| p.contains("currentRevision")));
}

/// What a finished rollout of `n` pods looks like, built by hand.
fn finished_rollout(n: usize) -> Observed {
    fn from<T: k8s_openapi::serde::de::DeserializeOwned>(value: serde_json::Value) -> T {
        serde_json::from_value(value).unwrap()
    }
    let set: StatefulSet = from(json!({
        "metadata": {"name": "web", "uid": "set-uid", "generation": 1},
        "spec": {"selector": {}, "template": {}, "serviceName": "web"},
        "status": {"replicas": n, "readyReplicas": n, "currentReplicas": n,
                   "updatedReplicas": n, "currentRevision": "web-1",
                   "updateRevision": "web-1", "observedGeneration": 1},
    }));
    let pods = (0..n)
        .map(|i| {
            from(json!({
                "metadata": {"name": format!("web-{i}"), "uid": format!("pod-{i}"),
                    "labels": {"controller-revision-hash": "web-1"},
                    "ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet",
                        "name": "web", "uid": "set-uid", "controller": true}]},
                "spec": {"containers": [], "volumes": [{"name": "data",
                    "persistentVolumeClaim": {"claimName": format!("data-web-{i}")}}]},
                "status": {"conditions": [{"type": "Ready", "status": "True"}]},
            }))
        })
        .collect();
    let claims = (0..n)
        .map(|i| {
            from(json!({
                "metadata": {"name": format!("data-web-{i}"), "uid": format!("claim-{i}")},
                "spec": {"volumeName": format!("pvc-{i}")},
                "status": {"phase": "Bound"},
            }))
        })
        .collect();
    let volumes = (0..n)
        .map(|i| {
            from(json!({
                "metadata": {"name": format!("pvc-{i}")},
                "spec": {"claimRef": {"name": format!("data-web-{i}"),
                                      "uid": format!("claim-{i}")}},
                "status": {"phase": "Bound"},
            }))
        })
        .collect();
    let revisions = vec![from(json!({
        "metadata": {"name": "web-1", "labels": {"controller.kubernetes.io/hash": "1"}},
        "revision": 1,
    }))];
    Observed { set, pods, claims, volumes, revisions }
}

#[tokio::test]
async fn a_scale_down_that_deletes_claims_finishes_after_a_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let (process, client) = start(&data_dir).await;
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), NAMESPACE);
    let mut set = web("nginx:1");
    let policy = json!({"whenScaled": "Delete"});
    set.spec.as_mut().unwrap().persistent_volume_claim_retention_policy =
        Some(serde_json::from_value(policy).unwrap());
    sets.create(&PostParams::default(), &set).await.expect("create the set");
    let first = converges(&client, REPLICAS, 1).await;
    let kept_claim = uids(first.claims.iter().map(|c| &c.metadata)).remove("data-web-0");

    let patch = json!({"spec": {"replicas": 1}});
    sets.patch("web", &PatchParams::default(), &Patch::Merge(patch)).await.unwrap();
    // Interrupt once web-4 is on its way out (or gone) while web-1 is still there.
    wait_for(&client, "web-4 leaving, web-1 still there", |o| {
        pod(o, "web-4").is_none_or(|p| p.metadata.deletion_timestamp.is_some())
            && pod(o, "web-1").is_some()
    })
    .await;
    process.kill().await;

    let (process, client) = start(&data_dir).await;
    let before = observe(&client).await;
    assert!(
        before.pods.len() >= 2 && before.claims.len() >= 4,
        "the scale-down was not interrupted: {before:#?}"
    );
    let after = converges(&client, 1, 1).await;
    // The claims (and with them the volumes and their directories) of web-1 … web-4 are gone;
    // web-0's claim is the one it had.
    assert_eq!(uids(after.claims.iter().map(|c| &c.metadata)).remove("data-web-0"), kept_claim);
    assert_eq!(after.volumes.len(), 1);
    assert_eq!(storage_dirs(&data_dir), volume_names(&after));
    process.stop().await;
}
