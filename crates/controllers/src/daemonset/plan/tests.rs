//! Unit tests of the DaemonSet plan: placement, the daemon pod, `manage`, the rolling update
//! with and without surge, the status, and the revisions (`history.rs`).

use std::sync::Arc;

use k8s_openapi::api::apps::v1::ControllerRevision;
use serde_json::{Value, json};

use super::*;
use crate::daemonset::history::{self, Current};
use crate::informer::Cached;

const HASH: &str = "new";

fn wall() -> Timestamp {
    "2026-01-01T00:10:00Z".parse().unwrap()
}

fn now() -> Now {
    Now { wall: wall(), instant: Instant::now() }
}

fn merge(base: &mut Value, patch: Value) {
    match (base, patch) {
        (Value::Object(base), Value::Object(patch)) => {
            for (key, value) in patch {
                merge(base.entry(key).or_insert(Value::Null), value);
            }
        }
        (base, patch) => *base = patch,
    }
}

fn daemon_set(value: Value) -> DaemonSet {
    let mut base = json!({
        "metadata": { "name": "agent", "namespace": "ns", "uid": "ds-uid", "generation": 1 },
        "spec": {
            "selector": { "matchLabels": { "app": "agent" } },
            "template": {
                "metadata": { "labels": { "app": "agent" } },
                "spec": { "containers": [{ "name": "c", "image": "agent:1" }] },
            },
        },
    });
    merge(&mut base, value);
    serde_json::from_value(base).unwrap()
}

fn node(name: &str, value: Value) -> Node {
    let mut base =
        json!({ "metadata": { "name": name, "labels": { "kubernetes.io/hostname": name } } });
    merge(&mut base, value);
    serde_json::from_value(base).unwrap()
}

fn nodes(names: &[&str]) -> Vec<Node> {
    names.iter().map(|n| node(n, json!({}))).collect()
}

/// A ready daemon pod of the current revision on `node`, as the informer keeps it.
fn pod(name: &str, node: &str, value: Value) -> Arc<CachedPod> {
    let mut base = json!({
        "metadata": {
            "name": name, "namespace": "ns", "uid": format!("uid-{name}"),
            "labels": { "app": "agent", REVISION_HASH_LABEL: HASH },
            "creationTimestamp": "2026-01-01T00:00:00Z",
            "ownerReferences": [{ "apiVersion": "apps/v1", "kind": "DaemonSet", "name": "agent",
                                  "uid": "ds-uid", "controller": true }],
        },
        "spec": { "nodeName": node, "containers": [{ "name": "c" }] },
        "status": { "phase": "Running", "conditions": [
            { "type": "Ready", "status": "True", "lastTransitionTime": "2026-01-01T00:01:00Z" }] },
    });
    merge(&mut base, value);
    let mut pod: CachedPod = serde_json::from_value(base).unwrap();
    pod.prune();
    Arc::new(pod)
}

fn old(name: &str, node: &str) -> Arc<CachedPod> {
    pod(name, node, json!({ "metadata": { "labels": { REVISION_HASH_LABEL: "old" } } }))
}

fn not_ready() -> Value {
    json!({ "status": { "conditions": [{ "type": "Ready", "status": "False" }] } })
}

fn observed<'a>(nodes: &'a [Node], pods: &'a [Arc<CachedPod>]) -> Observed<'a> {
    Observed::new(nodes.iter(), pods.iter().map(|p| &**p))
}

fn sync(ds: &DaemonSet, nodes: &[Node], pods: &[Arc<CachedPod>]) -> Writes {
    let observed = observed(nodes, pods);
    plan(ds, &observed, HASH, now(), &FailedPodBackoff::default()).writes
}

fn deleted(writes: &Writes) -> Vec<&str> {
    writes.delete.iter().map(|d| d.pod.name.as_str()).collect()
}

#[test]
fn nodes_run_the_pod_by_selector_affinity_and_taints() {
    let ds = daemon_set(json!({ "spec": { "template": { "spec": {
        "nodeSelector": { "role": "edge" },
        "tolerations": [{ "key": "dedicated", "operator": "Exists", "effect": "NoSchedule" }],
    } } } }));
    let edge = |extra: Value| {
        let mut n = node("n", json!({ "metadata": { "labels": { "role": "edge" } } }));
        let extra: Node = serde_json::from_value(
            json!({ "metadata": {}, "spec": extra.get("spec").cloned().unwrap_or(json!({})) }),
        )
        .unwrap();
        n.spec = extra.spec;
        n
    };
    let run = Placement { should_run: true, should_continue_running: true };
    assert_eq!(node_should_run(&ds, &edge(json!({}))), run);
    // Another label: neither.
    let neither = Placement { should_run: false, should_continue_running: false };
    assert_eq!(node_should_run(&ds, &node("m", json!({}))), neither);
    // A tolerated taint, and the condition taints every daemon pod tolerates.
    let taints = |taints: Value| edge(json!({ "spec": { "taints": taints } }));
    let tolerated = taints(json!([
        { "key": "dedicated", "value": "x", "effect": "NoSchedule" },
        { "key": "node.kubernetes.io/not-ready", "effect": "NoExecute" },
        { "key": "node.kubernetes.io/unreachable", "effect": "NoExecute" },
        { "key": "node.kubernetes.io/disk-pressure", "effect": "NoSchedule" },
        { "key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule" },
    ]));
    assert_eq!(node_should_run(&ds, &tolerated), run);
    // An untolerated NoSchedule taint: no new pod, but one there stays.
    let no_schedule = taints(json!([{ "key": "gpu", "effect": "NoSchedule" }]));
    let stays = Placement { should_run: false, should_continue_running: true };
    assert_eq!(node_should_run(&ds, &no_schedule), stays);
    // An untolerated NoExecute taint: neither. network-unavailable only with hostNetwork.
    let no_execute = taints(json!([{ "key": "gpu", "effect": "NoExecute" }]));
    assert_eq!(node_should_run(&ds, &no_execute), neither);
    let network = taints(
        json!([{ "key": "node.kubernetes.io/network-unavailable", "effect": "NoSchedule" }]),
    );
    assert_eq!(node_should_run(&ds, &network), stays);
    let mut host = ds.clone();
    host.spec.as_mut().unwrap().template.spec.as_mut().unwrap().host_network = Some(true);
    assert_eq!(node_should_run(&host, &network), run);
    // Required node affinity, and a template nodeName.
    let affinity = daemon_set(json!({ "spec": { "template": { "spec": { "affinity": {
        "nodeAffinity": { "requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{ "matchFields": [
                { "key": "metadata.name", "operator": "In", "values": ["a"] }] }] } } } } } } }));
    assert_eq!(node_should_run(&affinity, &node("a", json!({}))), run);
    assert_eq!(node_should_run(&affinity, &node("b", json!({}))), neither);
    let named = daemon_set(json!({ "spec": { "template": { "spec": { "nodeName": "a" } } } }));
    assert_eq!(node_should_run(&named, &node("b", json!({}))), neither);
}

#[test]
fn the_pod_of_a_node_is_pinned_to_it_and_tolerates_node_problems() {
    let ds = daemon_set(json!({
        "metadata": { "annotations": { TEMPLATE_GENERATION_ANNOTATION: "3" } },
        "spec": { "template": { "spec": {
            "tolerations": [{ "key": "node.kubernetes.io/not-ready", "operator": "Exists",
                              "effect": "NoExecute", "tolerationSeconds": 300 }],
            "affinity": { "nodeAffinity": { "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{ "matchExpressions": [
                    { "key": "zone", "operator": "In", "values": ["z1"] }] }] } } },
        } } },
    }));
    let pod = serde_json::to_value(pod_for_node(&ds, "abc", "n1")).unwrap();
    assert_eq!(pod["metadata"]["generateName"], "agent-");
    assert_eq!(pod["metadata"]["namespace"], "ns");
    assert_eq!(
        pod["metadata"]["labels"],
        json!({ "app": "agent", "controller-revision-hash": "abc", "pod-template-generation": "3" })
    );
    assert_eq!(
        pod["metadata"]["ownerReferences"],
        json!([{ "apiVersion": "apps/v1", "kind": "DaemonSet", "name": "agent", "uid": "ds-uid",
                 "controller": true, "blockOwnerDeletion": true }])
    );
    assert!(pod["spec"].get("nodeName").is_none(), "the scheduler binds it");
    assert_eq!(
        pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"],
        json!({ "nodeSelectorTerms": [{ "matchFields": [
            { "key": "metadata.name", "operator": "In", "values": ["n1"] }] }] })
    );
    let exists =
        |key: &str, effect: &str| json!({ "key": key, "operator": "Exists", "effect": effect });
    // The template's not-ready toleration is replaced by one without tolerationSeconds.
    assert_eq!(
        pod["spec"]["tolerations"],
        json!([
            exists("node.kubernetes.io/not-ready", "NoExecute"),
            exists("node.kubernetes.io/unreachable", "NoExecute"),
            exists("node.kubernetes.io/disk-pressure", "NoSchedule"),
            exists("node.kubernetes.io/memory-pressure", "NoSchedule"),
            exists("node.kubernetes.io/pid-pressure", "NoSchedule"),
            exists("node.kubernetes.io/unschedulable", "NoSchedule"),
        ])
    );
}

#[test]
fn manage_creates_where_missing_and_deletes_where_unwanted_or_extra() {
    let ds = daemon_set(json!({ "spec": { "template": { "spec": {
        "nodeSelector": { "kubernetes.io/hostname": "a" } } } } }));
    let mut all = nodes(&["a", "b", "c"]);
    all[1].metadata.labels = Some([("kubernetes.io/hostname".to_owned(), "a".to_owned())].into());
    let pods = vec![
        pod("on-c", "c", json!({})),
        pod("first", "b", json!({})),
        pod("second", "b", json!({ "metadata": { "creationTimestamp": "2026-01-01T00:05:00Z" } })),
        pod(
            "unbound-for-gone",
            "",
            json!({ "spec": { "nodeName": null, "affinity": { "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": { "nodeSelectorTerms": [
                    { "matchFields": [{ "key": "metadata.name", "operator": "In",
                                        "values": ["gone"] }] }] } } } } }),
        ),
    ];
    let writes = sync(&ds, &all, &pods);
    assert_eq!(writes.create, ["a"]);
    // c does not match; b keeps its oldest; the unbound pod's node does not exist.
    assert_eq!(deleted(&writes), ["second", "on-c", "unbound-for-gone"]);
}

#[test]
fn finished_pods_are_deleted_and_failed_ones_back_off() {
    let ds = daemon_set(json!({}));
    let all = nodes(&["a", "b"]);
    let pods = vec![
        pod("failed", "a", json!({ "status": { "phase": "Failed" } })),
        pod("done", "b", json!({ "status": { "phase": "Succeeded" } })),
    ];
    let observed = observed(&all, &pods);
    let mut backoff = FailedPodBackoff::default();
    let writes = plan(&ds, &observed, HASH, now(), &backoff).writes;
    assert_eq!(deleted(&writes), ["failed", "done"]);
    assert!(writes.create.is_empty(), "created once the finished pods are gone");
    let Some(Notice::Failed { message, backoff_key }) = &writes.delete[0].notice else {
        panic!("{:?}", writes.delete[0])
    };
    assert_eq!(message, "Found failed daemon pod ns/failed on node a, will try to kill it");
    assert_eq!(backoff_key, "ds-uid/0/a");
    assert!(matches!(writes.delete[1].notice, Some(Notice::Succeeded { .. })));

    // After a failure the node waits 1 s, then 2 s.
    let start = now();
    backoff.next(backoff_key.clone(), start.instant);
    let writes = plan(&ds, &observed, HASH, start, &backoff).writes;
    assert_eq!(deleted(&writes), ["done"]);
    assert_eq!(writes.retry_in, Some(Duration::from_secs(1)));
    let later = Now { instant: start.instant + Duration::from_secs(1), ..start };
    assert_eq!(deleted(&plan(&ds, &observed, HASH, later, &backoff).writes), ["failed", "done"]);
    backoff.next(backoff_key.clone(), later.instant);
    assert_eq!(backoff.remaining(backoff_key, later.instant), Some(Duration::from_secs(2)));
}

#[test]
fn claims_adopt_matching_orphans_and_release_relabeled_pods() {
    let ds = daemon_set(json!({}));
    let all = nodes(&["a", "b", "c"]);
    let pods = vec![
        pod("owned", "a", json!({})),
        pod("orphan", "b", json!({ "metadata": { "ownerReferences": null } })),
        pod("relabeled", "c", json!({ "metadata": { "labels": { "app": "other" } } })),
        pod(
            "going-orphan",
            "c",
            json!({ "metadata": { "ownerReferences": null,
                    "deletionTimestamp": "2026-01-01T00:09:00Z" } }),
        ),
    ];
    let observed = observed(&all, &pods);
    let claims = claim(&ds, &observed);
    assert_eq!(claims.adopt, [PodRef { name: "orphan".into(), uid: "uid-orphan".into() }]);
    assert_eq!(claims.release, [PodRef { name: "relabeled".into(), uid: "uid-relabeled".into() }]);
    let claimed: Vec<&str> = claims.claimed.iter().map(|p| name_of(&p.metadata)).collect();
    assert_eq!(claimed, ["owned", "orphan"]);
    assert_eq!(
        plan(&ds, &observed, HASH, now(), &FailedPodBackoff::default()).writes.create,
        ["c"]
    );
}

#[test]
fn a_rolling_update_replaces_max_unavailable_old_pods_at_a_time() {
    let all = nodes(&["a", "b", "c", "d"]);
    let pods = vec![old("a-old", "a"), old("b-old", "b"), old("c-old", "c"), old("d-old", "d")];
    let ds = daemon_set(json!({}));
    assert_eq!(deleted(&sync(&ds, &all, &pods)), ["a-old"], "maxUnavailable defaults to 1");
    let half = daemon_set(json!({ "spec": { "updateStrategy": { "type": "RollingUpdate",
        "rollingUpdate": { "maxUnavailable": "30%" } } } }));
    assert_eq!(deleted(&sync(&half, &all, &pods)), ["a-old", "b-old"], "30% of 4, rounded up");

    // A new pod not ready yet uses the budget; an unavailable old pod goes regardless.
    let pods = vec![
        pod("a-new", "a", not_ready()),
        old("b-old", "b"),
        pod(
            "c-old",
            "c",
            json!({ "metadata": { "labels": { REVISION_HASH_LABEL: "old" } },
                                  "status": { "conditions": [{ "type": "Ready", "status": "False" }] } }),
        ),
        old("d-old", "d"),
    ];
    assert_eq!(deleted(&sync(&ds, &all, &pods)), ["c-old"]);
    // Once the new pod is available, the next old one goes.
    let pods = vec![
        pod("a-new", "a", json!({})),
        old("b-old", "b"),
        pod("c-new", "c", json!({})),
        old("d-old", "d"),
    ];
    assert_eq!(deleted(&sync(&ds, &all, &pods)), ["b-old"]);
    // A node without its pod is unavailable: nothing more goes until it has one.
    let pods = vec![pod("a-new", "a", json!({})), old("c-old", "c"), old("d-old", "d")];
    let writes = sync(&ds, &all, &pods);
    assert_eq!(writes.create, ["b"]);
    assert!(writes.delete.is_empty(), "manage first");

    // OnDelete replaces nothing.
    let on_delete = daemon_set(json!({ "spec": { "updateStrategy": { "type": "OnDelete" } } }));
    let pods = vec![old("a-old", "a"), old("b-old", "b"), old("c-old", "c"), old("d-old", "d")];
    assert_eq!(sync(&on_delete, &all, &pods), Writes::default());
}

#[test]
fn a_surging_update_starts_new_pods_beside_old_ones() {
    let all = nodes(&["a", "b", "c"]);
    let ds = daemon_set(json!({ "spec": { "updateStrategy": { "type": "RollingUpdate",
        "rollingUpdate": { "maxUnavailable": 0, "maxSurge": 1 } } } }));
    let pods = vec![old("a-old", "a"), old("b-old", "b"), old("c-old", "c")];
    let writes = sync(&ds, &all, &pods);
    assert_eq!(writes.create, ["a"]);
    assert!(writes.delete.is_empty());
    // The new pod not yet available: the surge is used up.
    let pods = vec![
        old("a-old", "a"),
        pod("a-new", "a", not_ready()),
        old("b-old", "b"),
        old("c-old", "c"),
    ];
    assert_eq!(sync(&ds, &all, &pods), Writes::default());
    // Available: manage deletes the old one.
    let pods = vec![
        old("a-old", "a"),
        pod(
            "a-new",
            "a",
            json!({ "metadata": {
        "creationTimestamp": "2026-01-01T00:05:00Z" } }),
        ),
        old("b-old", "b"),
        old("c-old", "c"),
    ];
    assert_eq!(deleted(&sync(&ds, &all, &pods)), ["a-old"]);
}

#[test]
fn status_counts_nodes_and_their_oldest_pods() {
    let ds = daemon_set(json!({
        "metadata": { "generation": 2 },
        "spec": { "minReadySeconds": 60, "template": { "spec": {
            "nodeSelector": { "run": "yes" } } } },
    }));
    let labeled = |name: &str| node(name, json!({ "metadata": { "labels": { "run": "yes" } } }));
    let all = vec![labeled("a"), labeled("b"), labeled("c"), labeled("d"), node("e", json!({}))];
    let pods = vec![
        pod("a", "a", json!({})),
        old("b", "b"),
        pod(
            "c",
            "c",
            json!({ "status": { "conditions": [{ "type": "Ready", "status": "True",
            "lastTransitionTime": "2026-01-01T00:09:30Z" }] } }),
        ),
        pod("e", "e", json!({})),
    ];
    let observed = observed(&all, &pods);
    let claimed: Vec<&CachedPod> = pods.iter().map(|p| &**p).collect();
    let planned = status(&ds, &observed, &claimed, HASH, wall());
    let new = planned.status.clone().expect("a new status");
    assert_eq!(
        (
            new.desired_number_scheduled,
            new.current_number_scheduled,
            new.number_misscheduled,
            new.number_ready,
            new.updated_number_scheduled,
            new.number_available,
            new.number_unavailable,
            new.observed_generation,
        ),
        (4, 3, 1, 3, Some(2), Some(2), Some(2), Some(2))
    );
    assert_eq!(planned.recheck, Some("2026-01-01T00:10:30Z".parse().unwrap()));
    let mut written = ds.clone();
    written.status = Some(new);
    assert_eq!(status(&written, &observed, &claimed, HASH, wall()).status, None, "unchanged");
}

fn revision(name: &str, number: i64, ds: &DaemonSet, value: Value) -> ControllerRevision {
    let mut base = serde_json::to_value(history::snapshot(ds, number)).unwrap();
    merge(
        &mut base,
        json!({ "metadata": { "name": name, "uid": format!("uid-{name}"),
        "labels": { REVISION_HASH_LABEL: name } } }),
    );
    merge(&mut base, value);
    serde_json::from_value(base).unwrap()
}

#[test]
fn revisions_record_the_template_and_old_ones_are_cleaned_up() {
    let ds = daemon_set(json!({ "spec": { "revisionHistoryLimit": 1 } }));
    // None yet: the first is created, named after the template's hash.
    let planned = history::plan(&ds, &[]);
    let Current::Create(first) = &planned.current else { panic!("{:?}", planned.current) };
    let hash = first.metadata.labels.as_ref().unwrap()[REVISION_HASH_LABEL].clone();
    assert_eq!(first.metadata.name.as_deref(), Some(&*format!("agent-{hash}")));
    assert_eq!(first.revision, 1);
    assert_eq!(first.metadata.labels.as_ref().unwrap()["app"], "agent");
    assert_eq!(first.metadata.owner_references.as_ref().unwrap()[0].uid, "ds-uid");
    assert_eq!(
        first.data.as_ref().unwrap().0["spec"]["template"]["$patch"],
        "replace",
        "the patch upstream records"
    );
    assert!(history::matches(&ds, first));
    // A collision count changes the hash.
    let mut collided = ds.clone();
    collided.status = Some(DaemonSetStatus { collision_count: Some(1), ..Default::default() });
    assert_ne!(history::snapshot(&collided, 1).metadata.name, first.metadata.name);

    // A new template: a new revision numbered above the old ones.
    let mut v2 = ds.clone();
    v2.spec.as_mut().unwrap().template.spec.as_mut().unwrap().containers[0].image =
        Some("agent:2".into());
    let r1 = revision("r1", 1, &ds, json!({}));
    let planned = history::plan(&v2, &[&r1]);
    let Current::Create(second) = &planned.current else { panic!("{:?}", planned.current) };
    assert_eq!(second.revision, 2);
    assert_eq!(planned.old.len(), 1);

    // Back to the first template (a rollback): its revision is renumbered, the duplicate
    // deleted.
    let r2 = revision("r2", 2, &v2, json!({}));
    let r1_again = revision("r1b", 0, &ds, json!({}));
    let planned = history::plan(&ds, &[&r1, &r2, &r1_again]);
    let Current::Existing { name, hash, bump_to, duplicates } = &planned.current else {
        panic!("{:?}", planned.current)
    };
    assert_eq!((name.as_str(), hash.as_str(), *bump_to), ("r1", "r1", Some(3)));
    assert_eq!(duplicates.len(), 1);
    assert_eq!(duplicates[0].0.name, "r1b");

    // Cleanup: beyond the limit, the oldest unused revisions go.
    let r3 = revision("r3", 3, &v2, json!({ "data": { "spec": { "template": { "x": 1 } } } }));
    let pods = [pod("p", "a", json!({ "metadata": { "labels": { REVISION_HASH_LABEL: "r2" } } }))];
    let claimed: Vec<&CachedPod> = pods.iter().map(|p| &**p).collect();
    let doomed = history::to_clean_up(&ds, &[&r3, &r2], &claimed);
    assert_eq!(doomed.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), ["r3"], "r2 is in use");
    assert!(history::to_clean_up(&ds, &[&r2], &claimed).is_empty());

    // Orphans that match are adopted; other sets' revisions are left alone.
    let orphan = revision("orphan", 5, &ds, json!({ "metadata": { "ownerReferences": null } }));
    let theirs = revision(
        "theirs",
        6,
        &ds,
        json!({ "metadata": { "ownerReferences": [{
        "apiVersion": "apps/v1", "kind": "DaemonSet", "name": "x", "uid": "x-uid",
        "controller": true }] } }),
    );
    let planned = history::plan(&ds, &[&orphan, &theirs]);
    assert_eq!(planned.adopt.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), ["orphan"]);
    assert!(matches!(planned.current, Current::Existing { ref name, .. } if name == "orphan"));
}
