//! Table-driven tests of the StatefulSet plan: ordering, scaling, failed pods, partitions,
//! OnDelete, the stuck-rollout repair, claims and status arithmetic.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, PodTemplateSpec};
use k8s_openapi::jiff::Timestamp;
use serde_json::json;

use super::{Action, Observed, Plan, Revision, plan};
use crate::cached_pod::CachedPod;

const NOW: &str = "2026-01-01T00:01:00Z";

fn set(extra: serde_json::Value) -> StatefulSet {
    let mut base = json!({
        "metadata": {"name": "web", "namespace": "default", "uid": "set-uid", "generation": 2},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "nginx"}},
            "serviceName": "nginx",
            "podManagementPolicy": "OrderedReady",
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
            "template": {"metadata": {"labels": {"app": "nginx"}},
                         "spec": {"containers": [{"name": "nginx", "image": "nginx"}]}},
            "volumeClaimTemplates": [{"metadata": {"name": "www"},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]
        },
        "status": {"replicas": 0, "currentRevision": "web-a"}
    });
    merge(&mut base, extra);
    serde_json::from_value(base).unwrap()
}

fn merge(base: &mut serde_json::Value, extra: serde_json::Value) {
    match (base, extra) {
        (serde_json::Value::Object(base), serde_json::Value::Object(extra)) => {
            for (k, v) in extra {
                merge(base.entry(k).or_insert(serde_json::Value::Null), v);
            }
        }
        (base, extra) => *base = extra,
    }
}

/// A pod `web-<ordinal>` at revision `web-<rev>` in a state: "pending", "running" (not Ready),
/// "ready" (Ready since a minute), "ready5s" (Ready for 5 s), "failed", "terminating".
fn pod(ordinal: i32, rev: &str, state: &str) -> CachedPod {
    let ready =
        |since: &str| json!([{"type": "Ready", "status": "True", "lastTransitionTime": since}]);
    let (phase, conditions, deleting) = match state {
        "pending" => ("Pending", json!([]), false),
        "running" => ("Running", json!([{"type": "Ready", "status": "False"}]), false),
        "ready" => ("Running", ready("2026-01-01T00:00:00Z"), false),
        "ready5s" => ("Running", ready("2026-01-01T00:00:55Z"), false),
        "failed" => ("Failed", json!([]), false),
        "terminating" => ("Running", ready("2026-01-01T00:00:00Z"), true),
        other => panic!("unknown state {other}"),
    };
    let mut metadata = json!({
        "name": format!("web-{ordinal}"), "namespace": "default", "uid": format!("uid-{ordinal}"),
        "labels": {"app": "nginx", "controller-revision-hash": format!("web-{rev}"),
                   "statefulset.kubernetes.io/pod-name": format!("web-{ordinal}"),
                   "apps.kubernetes.io/pod-index": ordinal.to_string()},
        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web",
                             "uid": "set-uid", "controller": true, "blockOwnerDeletion": true}]
    });
    if deleting {
        metadata["deletionTimestamp"] = json!("2026-01-01T00:00:59Z");
    }
    serde_json::from_value(json!({
        "metadata": metadata,
        "spec": {"containers": [{"name": "nginx", "image": "nginx"}]},
        "status": {"phase": phase, "conditions": conditions}
    }))
    .unwrap()
}

fn claim(name: &str, extra: serde_json::Value) -> PersistentVolumeClaim {
    let mut base =
        json!({"metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}")}});
    merge(&mut base, extra);
    serde_json::from_value(base).unwrap()
}

fn revision(name: &str, image: &str) -> Revision {
    let template: PodTemplateSpec = serde_json::from_value(json!({
        "metadata": {"labels": {"app": "nginx"}},
        "spec": {"containers": [{"name": "nginx", "image": image}]}
    }))
    .unwrap();
    Revision { name: format!("web-{name}"), template }
}

struct Case {
    name: &'static str,
    set: serde_json::Value,
    pods: Vec<CachedPod>,
    claims: Vec<PersistentVolumeClaim>,
    /// The update revision ("a" or "b"; the current one is "a").
    update: &'static str,
    actions: &'static [&'static str],
}

fn observed(case: &Case) -> Observed {
    let claims: BTreeMap<String, Arc<PersistentVolumeClaim>> = case
        .claims
        .iter()
        .map(|c| (c.metadata.name.clone().unwrap(), Arc::new(c.clone())))
        .collect();
    Observed {
        set: set(case.set.clone()),
        pods: case.pods.iter().cloned().map(Arc::new).collect(),
        claims,
        current: revision("a", "nginx:a"),
        update: if case.update == "a" {
            revision("a", "nginx:a")
        } else {
            revision("b", "nginx:b")
        },
        collision_count: 0,
        now: NOW.parse::<Timestamp>().unwrap(),
        max_unavailable: false,
    }
}

/// The plan as lines: `create claim www-web-0`, `create pod web-0@web-a`, `delete web-2 (Update)`…
fn summary(plan: &Plan) -> Vec<String> {
    plan.phases
        .iter()
        .flatten()
        .flatten()
        .map(|action| match action {
            Action::CreateClaim { claim, .. } => {
                format!("create claim {}", claim.metadata.name.as_deref().unwrap())
            }
            Action::CreatePod(pod) => format!(
                "create pod {}@{}",
                pod.metadata.name.as_deref().unwrap(),
                pod.metadata.labels.as_ref().unwrap()["controller-revision-hash"]
            ),
            Action::ClaimTerminating { claim, .. } => format!("claim {claim} terminating"),
            Action::DeletePod { name, reason, .. } => format!("delete {name} ({reason:?})"),
            Action::LabelPod { name, .. } => format!("label {name}"),
            Action::SetClaimOwners { claim, owner_references, .. } => format!(
                "owners {claim} [{}]",
                owner_references
                    .iter()
                    .map(|r| format!("{}/{}", r.kind, r.name))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            Action::ConflictingController { claim } => format!("conflict {claim}"),
        })
        .collect()
}

fn www(ordinal: i32) -> PersistentVolumeClaim {
    claim(&format!("www-web-{ordinal}"), json!({}))
}

#[test]
fn plans() {
    let cases = vec![
        Case {
            name: "OrderedReady starts with web-0, claims first",
            set: json!({}),
            pods: vec![],
            claims: vec![],
            update: "a",
            actions: &["create claim www-web-0", "create pod web-0@web-a"],
        },
        Case {
            name: "OrderedReady waits for web-0 to be Ready",
            set: json!({}),
            pods: vec![pod(0, "a", "running")],
            claims: vec![www(0)],
            update: "a",
            actions: &[],
        },
        Case {
            name: "OrderedReady creates web-1 once web-0 is Ready, reusing an existing claim",
            set: json!({}),
            pods: vec![pod(0, "a", "ready")],
            claims: vec![www(0), www(1)],
            update: "a",
            actions: &["create pod web-1@web-a"],
        },
        Case {
            name: "minReadySeconds: a pod Ready for 5 s of 10 blocks",
            set: json!({"spec": {"minReadySeconds": 10}}),
            pods: vec![pod(0, "a", "ready5s")],
            claims: vec![www(0)],
            update: "a",
            actions: &[],
        },
        Case {
            name: "Parallel creates every pod at once",
            set: json!({"spec": {"podManagementPolicy": "Parallel"}}),
            pods: vec![],
            claims: vec![],
            update: "a",
            actions: &[
                "create claim www-web-0",
                "create pod web-0@web-a",
                "create claim www-web-1",
                "create pod web-1@web-a",
                "create claim www-web-2",
                "create pod web-2@web-a",
            ],
        },
        Case {
            name: "ordinals.start shifts the names",
            set: json!({"spec": {"replicas": 1, "ordinals": {"start": 5}, "volumeClaimTemplates": []}}),
            pods: vec![],
            claims: vec![],
            update: "a",
            actions: &["create pod web-5@web-a"],
        },
        Case {
            name: "a failed pod is deleted (and recreated on a later sync)",
            set: json!({}),
            pods: vec![pod(0, "a", "failed")],
            claims: vec![www(0)],
            update: "a",
            actions: &["delete web-0 (Failed)"],
        },
        Case {
            name: "a terminating pod blocks OrderedReady",
            set: json!({}),
            pods: vec![pod(0, "a", "ready"), pod(1, "a", "terminating")],
            claims: vec![www(0), www(1)],
            update: "a",
            actions: &[],
        },
        Case {
            name: "scale down deletes the highest ordinal only",
            set: json!({"spec": {"replicas": 1}}),
            pods: vec![pod(0, "a", "ready"), pod(1, "a", "ready"), pod(2, "a", "ready")],
            claims: vec![www(0), www(1), www(2)],
            update: "a",
            actions: &["delete web-2 (ScaleDown)"],
        },
        Case {
            name: "scale down deletes an unhealthy condemned pod when it is the first unhealthy one",
            set: json!({"spec": {"replicas": 1}}),
            pods: vec![pod(0, "a", "ready"), pod(1, "a", "ready"), pod(2, "a", "running")],
            claims: vec![www(0), www(1), www(2)],
            update: "a",
            actions: &["delete web-2 (ScaleDown)"],
        },
        Case {
            name: "scale down blocks on an unhealthy pod below the first unhealthy one",
            set: json!({"spec": {"replicas": 1}}),
            pods: vec![pod(0, "a", "ready"), pod(1, "a", "running"), pod(2, "a", "running")],
            claims: vec![www(0), www(1), www(2)],
            update: "a",
            actions: &[],
        },
        Case {
            name: "a succeeded pod is replaced like a failed one",
            set: json!({"spec": {"replicas": 1}}),
            pods: vec![{
                let mut p = pod(0, "a", "failed");
                p.status.as_mut().unwrap().phase = Some("Succeeded".into());
                p
            }],
            claims: vec![www(0)],
            update: "a",
            actions: &["delete web-0 (Succeeded)"],
        },
        Case {
            name: "scale down waits for the terminating pod",
            set: json!({"spec": {"replicas": 1}}),
            pods: vec![pod(0, "a", "ready"), pod(1, "a", "ready"), pod(2, "a", "terminating")],
            claims: vec![www(0), www(1), www(2)],
            update: "a",
            actions: &[],
        },
        Case {
            name: "Parallel scale down deletes every condemned pod",
            set: json!({"spec": {"replicas": 1, "podManagementPolicy": "Parallel"}}),
            pods: vec![pod(0, "a", "ready"), pod(1, "a", "running"), pod(2, "a", "ready")],
            claims: vec![www(0), www(1), www(2)],
            update: "a",
            actions: &["delete web-2 (ScaleDown)", "delete web-1 (ScaleDown)"],
        },
        Case {
            name: "rolling update replaces the highest pod first",
            set: json!({}),
            pods: vec![pod(0, "a", "ready"), pod(1, "a", "ready"), pod(2, "a", "ready")],
            claims: vec![www(0), www(1), www(2)],
            update: "b",
            actions: &["delete web-2 (Update)"],
        },
        Case {
            name: "rolling update waits for the updated pod to be Ready",
            set: json!({"spec": {"podManagementPolicy": "Parallel"}}),
            pods: vec![pod(0, "a", "ready"), pod(1, "a", "ready"), pod(2, "b", "running")],
            claims: vec![www(0), www(1), www(2)],
            update: "b",
            actions: &[],
        },
        Case {
            name: "rolling update continues below an updated Ready pod",
            set: json!({}),
            pods: vec![pod(0, "a", "ready"), pod(1, "a", "ready"), pod(2, "b", "ready")],
            claims: vec![www(0), www(1), www(2)],
            update: "b",
            actions: &["delete web-1 (Update)"],
        },
        Case {
            name: "partition keeps lower ordinals at the current revision",
            set: json!({"spec": {"updateStrategy": {"rollingUpdate": {"partition": 2}}}}),
            pods: vec![pod(0, "a", "ready"), pod(1, "a", "ready"), pod(2, "b", "ready")],
            claims: vec![www(0), www(1), www(2)],
            update: "b",
            actions: &[],
        },
        Case {
            name: "a missing pod below the partition comes back at the current revision",
            set: json!({"spec": {"updateStrategy": {"rollingUpdate": {"partition": 2}}}}),
            pods: vec![pod(1, "a", "ready"), pod(2, "b", "ready")],
            claims: vec![www(0), www(1), www(2)],
            update: "b",
            actions: &["create pod web-0@web-a"],
        },
        Case {
            name: "OnDelete never deletes for an update, new pods get the update revision",
            set: json!({"spec": {"updateStrategy": {"type": "OnDelete", "rollingUpdate": null}}}),
            pods: vec![pod(0, "a", "ready"), pod(1, "a", "ready")],
            claims: vec![www(0), www(1), www(2)],
            update: "b",
            actions: &["create pod web-2@web-b"],
        },
        Case {
            name: "k8s 67250: a stuck pod of an abandoned revision is replaced",
            set: json!({}),
            pods: vec![pod(0, "a", "ready"), pod(1, "a", "ready"), pod(2, "b", "running")],
            claims: vec![www(0), www(1), www(2)],
            update: "a",
            actions: &["delete web-2 (Stuck)"],
        },
        Case {
            name: "k8s 67250 repair leaves OnDelete sets alone",
            set: json!({"spec": {"updateStrategy": {"type": "OnDelete", "rollingUpdate": null}}}),
            pods: vec![pod(0, "a", "ready"), pod(1, "a", "ready"), pod(2, "b", "running")],
            claims: vec![www(0), www(1), www(2)],
            update: "a",
            actions: &[],
        },
        Case {
            name: "a pod is not created while its claim is being deleted",
            set: json!({}),
            pods: vec![],
            claims: vec![claim(
                "www-web-0",
                json!({"metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z"}}),
            )],
            update: "a",
            actions: &["claim www-web-0 terminating"],
        },
        Case {
            name: "a pending pod gets its missing claim back",
            set: json!({}),
            pods: vec![pod(0, "a", "pending")],
            claims: vec![],
            update: "a",
            actions: &["create claim www-web-0"],
        },
        Case {
            name: "whenDeleted=Delete: claims get the set as owner",
            set: json!({"spec": {"replicas": 1,
                "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Delete", "whenScaled": "Retain"}}}),
            pods: vec![pod(0, "a", "ready")],
            claims: vec![www(0)],
            update: "a",
            actions: &["owners www-web-0 [StatefulSet/web]"],
        },
        Case {
            name: "whenScaled=Delete: a condemned pod's claim gets the pod as owner before it goes",
            set: json!({"spec": {"replicas": 1,
                "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Delete"}}}),
            pods: vec![pod(0, "a", "ready"), pod(1, "a", "ready")],
            claims: vec![www(0), www(1)],
            update: "a",
            actions: &["owners www-web-1 [Pod/web-1]", "delete web-1 (ScaleDown)"],
        },
        Case {
            name: "whenScaled=Delete: a claim still owned by a previous pod defers the pod",
            set: json!({"spec": {"replicas": 1,
                "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Delete"}}}),
            pods: vec![],
            claims: vec![claim(
                "www-web-0",
                json!({"metadata": {"ownerReferences": [
                {"apiVersion": "v1", "kind": "Pod", "name": "web-0", "uid": "old", "controller": true}]}}),
            )],
            update: "a",
            actions: &[],
        },
        Case {
            name: "a lost identity label is put back",
            set: json!({"spec": {"replicas": 1}}),
            pods: vec![{
                let mut p = pod(0, "a", "ready");
                p.metadata.labels.as_mut().unwrap().remove("statefulset.kubernetes.io/pod-name");
                p
            }],
            claims: vec![www(0)],
            update: "a",
            actions: &["label web-0"],
        },
        Case {
            name: "a deleted set only reports status",
            set: json!({"metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z"}}),
            pods: vec![],
            claims: vec![],
            update: "a",
            actions: &[],
        },
    ];
    for case in &cases {
        let got = summary(&plan(&observed(case)));
        assert_eq!(got, case.actions, "{}", case.name);
    }
}

#[test]
fn status_arithmetic() {
    // (name, pods, update revision, minReadySeconds,
    //  [replicas, ready, available, current, updated], currentReplicas reported after the plan)
    type Row = (&'static str, Vec<CachedPod>, &'static str, i32, [i32; 5], i32);
    let rows: Vec<Row> = vec![
        ("empty", vec![], "a", 0, [0, 0, 0, 0, 0], 0),
        (
            "all ready, no update",
            vec![pod(0, "a", "ready"), pod(1, "a", "ready"), pod(2, "a", "ready")],
            "a",
            0,
            [3, 3, 3, 3, 3],
            3,
        ),
        (
            "terminating pods count as replicas and ready, not current",
            vec![pod(0, "a", "ready"), pod(1, "a", "terminating")],
            "a",
            0,
            [2, 2, 2, 1, 1],
            1,
        ),
        (
            "minReadySeconds holds availability back",
            vec![pod(0, "a", "ready"), pod(1, "a", "ready5s")],
            "a",
            10,
            [2, 2, 1, 2, 2],
            2,
        ),
        (
            "mid rollout; the update deletes web-1 and counts it out",
            vec![pod(0, "a", "ready"), pod(1, "a", "ready"), pod(2, "b", "ready")],
            "b",
            0,
            [3, 3, 3, 2, 1],
            1,
        ),
        (
            "pending and failed pods are replicas",
            vec![pod(0, "a", "pending")],
            "a",
            0,
            [1, 0, 0, 1, 1],
            1,
        ),
    ];
    for (name, pods, update, min_ready, [replicas, ready, available, current, updated], reported) in
        rows
    {
        let case = Case {
            name: "status",
            set: json!({"spec": {"minReadySeconds": min_ready}}),
            pods,
            claims: vec![www(0), www(1), www(2)],
            update,
            actions: &[],
        };
        let status = plan(&observed(&case)).status;
        assert_eq!(status.replicas, replicas, "{name}: replicas");
        assert_eq!(status.ready_replicas, Some(ready), "{name}: ready");
        assert_eq!(status.available_replicas, Some(available), "{name}: available");
        assert_eq!(status.updated_replicas, Some(updated), "{name}: updated");
        assert_eq!(status.current_replicas, Some(reported), "{name}: current reported");
        assert!(current >= reported, "{name}: counted current {current}");
        assert_eq!(status.observed_generation, Some(2), "{name}");
        assert_eq!(
            status.update_revision.as_deref(),
            Some(format!("web-{update}").as_str()),
            "{name}"
        );
    }
}

#[test]
fn min_ready_seconds_requeues_when_the_pod_becomes_available() {
    let case = Case {
        name: "requeue",
        set: json!({"spec": {"minReadySeconds": 10}}),
        pods: vec![pod(0, "a", "ready5s")],
        claims: vec![www(0)],
        update: "a",
        actions: &[],
    };
    let after = plan(&observed(&case)).requeue_after.expect("a requeue");
    assert!(after.as_secs_f64() > 4.9 && after.as_secs_f64() < 5.5, "{after:?}");
}

#[test]
fn rolling_update_completes_when_every_pod_is_updated_and_ready() {
    let case = Case {
        name: "complete",
        set: json!({}),
        pods: vec![pod(0, "b", "ready"), pod(1, "b", "ready"), pod(2, "b", "ready")],
        claims: vec![www(0), www(1), www(2)],
        update: "b",
        actions: &[],
    };
    let observed = observed(&case);
    let mut status = plan(&observed).status;
    assert_eq!(status.current_revision.as_deref(), Some("web-a"));
    super::complete_rolling_update(&observed.set, &mut status);
    assert_eq!(status.current_revision.as_deref(), Some("web-b"));
    assert_eq!(status.current_replicas, Some(3));
    assert!(super::status_changed(&observed.set, &status));
}

/// With the MaxUnavailableStatefulSet gate, a RollingUpdate replaces up to `maxUnavailable`
/// pods at once (a percentage rounds down, at least 1), counting pods already unavailable
/// anywhere in the set; without the gate the field is ignored and it replaces one.
#[test]
fn max_unavailable_replaces_several_pods_only_with_the_gate() {
    let ready = |n: i32| (0..n).map(|i| pod(i, "a", "ready")).collect::<Vec<_>>();
    let replicas = |n: i32, max: serde_json::Value| {
        json!({"spec": {"replicas": n,
                        "updateStrategy": {"rollingUpdate": {"partition": 0, "maxUnavailable": max}}}})
    };
    // Updated but not Ready yet (Parallel: an OrderedReady set would wait for it first).
    let mut one_unready = ready(5);
    one_unready[0] = pod(0, "b", "running");
    let mut parallel = replicas(5, json!(3));
    parallel["spec"]["podManagementPolicy"] = json!("Parallel");
    // (name, set, pods, gate, actions)
    type Row = (&'static str, serde_json::Value, Vec<CachedPod>, bool, &'static [&'static str]);
    let rows: Vec<Row> = vec![
        (
            "gate off: one at a time",
            replicas(5, json!(3)),
            ready(5),
            false,
            &["delete web-4 (Update)"],
        ),
        (
            "three at once from the top",
            replicas(5, json!(3)),
            ready(5),
            true,
            &["delete web-4 (Update)", "delete web-3 (Update)", "delete web-2 (Update)"],
        ),
        (
            "an unavailable pod counts against the budget",
            parallel,
            one_unready,
            true,
            &["delete web-4 (Update)", "delete web-3 (Update)"],
        ),
        (
            "40% of 5 is 2",
            replicas(5, json!("40%")),
            ready(5),
            true,
            &["delete web-4 (Update)", "delete web-3 (Update)"],
        ),
        (
            "10% of 5 rounds down to 0, so 1",
            replicas(5, json!("10%")),
            ready(5),
            true,
            &["delete web-4 (Update)"],
        ),
    ];
    for (name, set, pods, gate, actions) in rows {
        let case = Case { name, set, pods, claims: vec![], update: "b", actions };
        let mut observed = observed(&case);
        observed.max_unavailable = gate;
        let deletes: Vec<String> =
            summary(&plan(&observed)).into_iter().filter(|a| a.starts_with("delete")).collect();
        assert_eq!(deletes, case.actions, "{}", case.name);
    }
}
