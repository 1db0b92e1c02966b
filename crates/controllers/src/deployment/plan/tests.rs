//! Tests of the deployment plan: new sets and their names, rolling and Recreate steps,
//! revisions, history cleanup, proportional scaling, status and conditions.

use k8s_openapi::api::apps::v1::ReplicaSetStatus;
use serde_json::{Value, json};

use super::*;

fn now() -> Timestamp {
    "2026-01-01T00:10:00Z".parse().unwrap()
}

fn template(image: &str) -> Value {
    json!({
        "metadata": { "labels": { "app": "web" } },
        "spec": { "containers": [{ "name": "nginx", "image": image }] },
    })
}

/// A deployment `web` (generation 1) with `spec` merged over 3 replicas of `nginx:2`, a
/// 25%/25% rolling update, 10 old sets kept and a 600 s deadline.
fn deployment(spec: Value, status: Option<Value>) -> Deployment {
    let mut base = json!({
        "replicas": 3,
        "selector": { "matchLabels": { "app": "web" } },
        "template": template("nginx:2"),
        "strategy": { "type": "RollingUpdate",
                      "rollingUpdate": { "maxSurge": "25%", "maxUnavailable": "25%" } },
        "revisionHistoryLimit": 10,
        "progressDeadlineSeconds": 600,
    });
    for (key, value) in spec.as_object().unwrap() {
        base[key] = value.clone();
    }
    serde_json::from_value(json!({
        "metadata": { "name": "web", "namespace": "default", "uid": "uid-web", "generation": 1,
                      "resourceVersion": "10" },
        "spec": base,
        "status": status.unwrap_or(json!({})),
    }))
    .unwrap()
}

/// A set of `web` running `image`: (replicas, status replicas, available), its revision.
fn set(
    name: &str,
    image: &str,
    revision: i64,
    replicas: i32,
    actual: i32,
    available: i32,
) -> ReplicaSet {
    let d = deployment(json!({ "template": template(image) }), None);
    let hash = template_hash(&d.spec.as_ref().unwrap().template, None);
    let mut labelled = template(image);
    labelled["metadata"]["labels"][HASH_LABEL] = json!(hash);
    serde_json::from_value(json!({
        "metadata": {
            "name": name, "namespace": "default", "uid": format!("uid-{name}"),
            "resourceVersion": "5", "generation": 1,
            "creationTimestamp": format!("2026-01-01T00:00:0{revision}Z"),
            "labels": labelled["metadata"]["labels"],
            "annotations": { REVISION: revision.to_string(), DESIRED_REPLICAS: "3",
                             MAX_REPLICAS: "4" },
            "ownerReferences": [{ "apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
                                  "uid": "uid-web", "controller": true }],
        },
        "spec": { "replicas": replicas, "selector": { "matchLabels": labelled["metadata"]["labels"] },
                  "template": labelled },
        "status": { "replicas": actual, "readyReplicas": available, "availableReplicas": available,
                    "observedGeneration": 1 },
    }))
    .unwrap()
}

/// `rs` as last scaled for a deployment of `desired` replicas and `max` with the surge.
fn sized(mut rs: ReplicaSet, desired: i32, max: i32) -> ReplicaSet {
    let annotations = rs.metadata.annotations.as_mut().unwrap();
    annotations.insert(DESIRED_REPLICAS.to_owned(), desired.to_string());
    annotations.insert(MAX_REPLICAS.to_owned(), max.to_string());
    rs
}

fn plan_of(d: &Deployment, sets: &[ReplicaSet], pods: &[CachedPod]) -> Plan {
    let observed = Observed {
        deployment: d,
        replica_sets: sets.iter().collect(),
        pods: pods.iter().collect(),
        now: now(),
    };
    plan(&observed).unwrap()
}

/// The writes in short: `create NAME N`, `scale NAME FROM->TO`, `patch NAME`,
/// `delete NAME`, `revision N`, `status`.
fn summary(plan: &Plan) -> Vec<String> {
    plan.writes
        .iter()
        .map(|write| match write {
            Write::Create(rs) => {
                let replicas = rs.spec.as_ref().unwrap().replicas.unwrap();
                format!("create {} {replicas}", name_of(&rs.metadata))
            }
            Write::Patch { name, scaled: Some((from, to)), .. } => {
                format!("scale {name} {from}->{to}")
            }
            Write::Patch { name, .. } => format!("patch {name}"),
            Write::Delete { name, .. } => format!("delete {name}"),
            Write::Revision(revision) => format!("revision {revision}"),
            Write::Status(_) => "status".to_owned(),
        })
        .collect()
}

fn status_of(plan: &Plan) -> DeploymentStatus {
    plan.writes
        .iter()
        .find_map(|w| match w {
            Write::Status(status) => Some((**status).clone()),
            _ => None,
        })
        .expect("a status write")
}

fn created(plan: &Plan) -> ReplicaSet {
    plan.writes
        .iter()
        .find_map(|w| match w {
            Write::Create(rs) => Some((**rs).clone()),
            _ => None,
        })
        .expect("a create")
}

fn condition(status: &DeploymentStatus, type_: &str) -> (String, String, String) {
    let c = condition_of(status, type_).expect(type_);
    (c.status.clone(), c.reason.clone().unwrap_or_default(), c.message.clone().unwrap_or_default())
}

/// The deployment with `status` as a previous plan wrote it and the revision annotation.
fn with_status(mut d: Deployment, plan: &Plan) -> Deployment {
    d.status = Some(status_of(plan));
    if let Some(revision) = plan.writes.iter().find_map(|w| match w {
        Write::Revision(r) => Some(r.clone()),
        _ => None,
    }) {
        d.metadata.annotations.get_or_insert_default().insert(REVISION.to_owned(), revision);
    }
    d
}

#[test]
fn the_new_set_is_named_by_the_template_hash_and_carries_it() {
    let d = deployment(json!({}), None);
    let plan = plan_of(&d, &[], &[]);
    let hash = template_hash(&d.spec.as_ref().unwrap().template, None);
    assert_eq!(
        summary(&plan),
        [format!("create web-{hash} 3"), "revision 1".into(), "status".into()]
    );
    let rs = created(&plan);
    let labels = rs.metadata.labels.clone().unwrap();
    assert_eq!(labels.get(HASH_LABEL), Some(&hash));
    assert_eq!(labels.get("app").map(String::as_str), Some("web"));
    let spec = rs.spec.as_ref().unwrap();
    assert_eq!(spec.selector.match_labels.as_ref().unwrap().get(HASH_LABEL), Some(&hash));
    let template_labels = spec.template.as_ref().unwrap().metadata.as_ref().unwrap().labels.clone();
    assert_eq!(template_labels.unwrap().get(HASH_LABEL), Some(&hash));
    let annotations = rs.metadata.annotations.clone().unwrap();
    assert_eq!(annotations.get(REVISION).map(String::as_str), Some("1"));
    assert_eq!(annotations.get(DESIRED_REPLICAS).map(String::as_str), Some("3"));
    // 25% of 3 rounded up is a surge of 1.
    assert_eq!(annotations.get(MAX_REPLICAS).map(String::as_str), Some("4"));
    let owner = &rs.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.uid.as_str(), owner.controller),
        ("Deployment", "uid-web", Some(true))
    );

    let status = status_of(&plan);
    assert_eq!(status.observed_generation, Some(1));
    let message = format!("Created new replica set \"web-{hash}\"");
    assert_eq!(condition(&status, PROGRESSING), ("True".into(), NEW_REPLICA_SET.into(), message));
    assert_eq!(condition(&status, AVAILABLE).1, MINIMUM_UNAVAILABLE);

    // The hash is stable, safe-encoded, and a collision count changes it.
    let again = template_hash(&d.spec.as_ref().unwrap().template, None);
    assert_eq!(hash, again);
    assert!(hash.bytes().all(|b| b"bcdfghjklmnpqrstvwxz2456789".contains(&b)), "{hash}");
    assert_ne!(hash, template_hash(&d.spec.as_ref().unwrap().template, Some(0)));
    assert_ne!(
        template_hash(&d.spec.as_ref().unwrap().template, Some(1)),
        template_hash(&d.spec.as_ref().unwrap().template, Some(0))
    );
}

#[test]
fn fnv32a_and_safe_encoding_are_gos() {
    // hash/fnv's New32a over "a" and the empty input.
    assert_eq!(fnv32a(b""), 0x811c_9dc5);
    assert_eq!(fnv32a(b"a"), 0xe40c_292c);
    assert_eq!(safe_encode("0123456789"), "456789bcdf");
}

#[test]
fn the_new_set_is_found_by_template_ignoring_the_hash_or_by_its_hash_label() {
    let d = deployment(json!({}), None);
    let new = set("web-new", "nginx:2", 2, 3, 3, 3);
    let old = set("web-old", "nginx:1", 1, 0, 0, 0);
    assert_eq!(find_new(&d, &[old.clone(), new.clone()]), Some(1));
    // Empty and absent fields are alike.
    let mut annotated = new.clone();
    let template = annotated.spec.as_mut().unwrap().template.as_mut().unwrap();
    template.metadata.as_mut().unwrap().annotations = Some(BTreeMap::new());
    assert_eq!(find_new(&d, &[annotated]), Some(0));
    // A set without its template (a pruning cache) is found by its hash label.
    let mut bare = new.clone();
    bare.spec.as_mut().unwrap().template = None;
    assert_eq!(find_new(&d, &[old.clone(), bare]), Some(1));
    let mut bare_old = old;
    bare_old.spec.as_mut().unwrap().template = None;
    assert_eq!(find_new(&d, &[bare_old]), None);
}

#[test]
fn a_rolling_update_surges_then_scales_old_sets_down_as_availability_allows() {
    let spec = json!({ "replicas": 4,
        "strategy": { "type": "RollingUpdate", "rollingUpdate": { "maxSurge": 1, "maxUnavailable": 1 } } });
    let d = deployment(spec.clone(), None);
    let old = sized(set("web-old", "nginx:1", 1, 4, 4, 4), 4, 5);
    let plan = plan_of(&d, std::slice::from_ref(&old), &[]);
    let new_name = name_of(&created(&plan).metadata).to_owned();
    // One over (surge), and one old pod down (one may be unavailable).
    assert_eq!(
        summary(&plan),
        [
            format!("create {new_name} 1"),
            "scale web-old 4->3".into(),
            "revision 2".into(),
            "status".into()
        ]
    );

    // The new pod is not yet available: the new set grows to the surge limit again.
    let d = with_status(d, &plan);
    let mut new = created(&plan);
    new.metadata.uid = Some("uid-new".into());
    new.metadata.resource_version = Some("7".into());
    new.metadata.creation_timestamp = Some(Time(now()));
    new.status = Some(ReplicaSetStatus { replicas: 1, ..ReplicaSetStatus::default() });
    let old = sized(set("web-old", "nginx:1", 1, 3, 3, 3), 4, 5);
    let plan = plan_of(&d, &[old.clone(), new.clone()], &[]);
    assert_eq!(summary(&plan), [format!("scale {new_name} 1->2"), "status".into()]);
    let status = status_of(&plan);
    assert_eq!(
        (status.replicas, status.updated_replicas, status.available_replicas),
        (Some(4), Some(1), Some(3))
    );
    assert_eq!(condition(&status, PROGRESSING).1, REPLICA_SET_UPDATED);

    // At the limit with nothing new available: no step (3 available is the minimum).
    let d = with_status(d, &plan);
    new.spec.as_mut().unwrap().replicas = Some(2);
    new.status = Some(ReplicaSetStatus { replicas: 2, ..ReplicaSetStatus::default() });
    let plan = plan_of(&d, &[old.clone(), new.clone()], &[]);
    assert!(!summary(&plan).iter().any(|w| w.starts_with("scale")), "{:?}", summary(&plan));

    // Two new pods available: two old ones may go.
    new.status = Some(ReplicaSetStatus {
        replicas: 2,
        available_replicas: Some(2),
        ready_replicas: Some(2),
        ..ReplicaSetStatus::default()
    });
    let plan = plan_of(&d, &[old.clone(), new.clone()], &[]);
    assert_eq!(summary(&plan)[0], "scale web-old 3->1");
}

#[test]
fn unhealthy_old_replicas_are_cleaned_up_first() {
    let spec = json!({ "replicas": 4,
        "strategy": { "type": "RollingUpdate", "rollingUpdate": { "maxSurge": 1, "maxUnavailable": 1 } } });
    let d = deployment(spec, None);
    // Three of the old set's four replicas are unavailable: two can go (5 − 3 available at
    // least) though only two pods are available, which would block an ordinary scale-down.
    let old = sized(set("web-old", "nginx:1", 1, 4, 4, 1), 4, 5);
    let mut new = sized(set("web-new", "nginx:2", 2, 1, 1, 1), 4, 5);
    new.metadata.creation_timestamp = Some(Time(now()));
    let plan = plan_of(&d, &[old, new], &[]);
    assert_eq!(summary(&plan)[0], "scale web-old 4->2");
}

#[test]
fn recreate_scales_old_sets_down_and_waits_for_their_pods() {
    let spec = json!({ "strategy": { "type": "Recreate" } });
    let d = deployment(spec, None);
    let old = set("web-old", "nginx:1", 1, 3, 3, 3);
    let plan = plan_of(&d, std::slice::from_ref(&old), &[]);
    assert_eq!(summary(&plan), ["scale web-old 3->0", "status"]);

    let old = set("web-old", "nginx:1", 1, 0, 0, 0);
    let pod: CachedPod = serde_json::from_value(json!({
        "metadata": { "name": "web-old-a", "namespace": "default",
                      "ownerReferences": [{ "apiVersion": "apps/v1", "kind": "ReplicaSet",
                                            "name": "web-old", "uid": "uid-web-old", "controller": true }] },
        "status": { "phase": "Running" },
    }))
    .unwrap();
    let plan = plan_of(&d, std::slice::from_ref(&old), std::slice::from_ref(&pod));
    assert!(!summary(&plan).iter().any(|w| w.starts_with("create")), "{:?}", summary(&plan));

    // A finished pod does not hold the rollout; the new set starts at full size.
    let mut done = pod.clone();
    done.status.as_mut().unwrap().phase = Some("Succeeded".into());
    let plan = plan_of(&d, std::slice::from_ref(&old), &[done]);
    let rs = created(&plan);
    assert_eq!(summary(&plan)[0], format!("create {} 3", name_of(&rs.metadata)));
    // Recreate has no surge.
    assert_eq!(
        rs.metadata.annotations.as_ref().unwrap().get(MAX_REPLICAS).map(String::as_str),
        Some("3")
    );
}

#[test]
fn revisions_follow_the_highest_old_one_and_a_reused_set_keeps_its_history() {
    let d = deployment(json!({}), None);
    let sets = [set("web-a", "nginx:0", 1, 0, 0, 0), set("web-b", "nginx:1", 3, 3, 3, 3)];
    let plan = plan_of(&d, &sets, &[]);
    let rs = created(&plan);
    assert_eq!(
        rs.metadata.annotations.as_ref().unwrap().get(REVISION).map(String::as_str),
        Some("4")
    );
    assert!(summary(&plan).contains(&"revision 4".to_owned()));

    // Rolled back to the template of revision 2: that set becomes revision 4.
    let sets = [set("web-new", "nginx:2", 2, 0, 0, 0), set("web-b", "nginx:1", 3, 3, 3, 3)];
    let plan = plan_of(&d, &sets, &[]);
    let Write::Patch { name, patch, scaled: None, .. } = &plan.writes[0] else {
        panic!("{:?}", plan.writes)
    };
    assert_eq!(name, "web-new");
    assert_eq!(patch["metadata"]["annotations"][REVISION], "4");
    assert_eq!(patch["metadata"]["annotations"][REVISION_HISTORY], "2");
    assert!(summary(&plan).contains(&"revision 4".to_owned()), "{:?}", summary(&plan));
}

#[test]
fn deployment_annotations_are_copied_to_the_new_set_but_not_the_skipped_ones() {
    let mut d = deployment(json!({}), None);
    d.metadata.annotations = Some(BTreeMap::from([
        ("team".to_owned(), "a".to_owned()),
        ("kubectl.kubernetes.io/last-applied-configuration".to_owned(), "{}".to_owned()),
        (REVISION.to_owned(), "9".to_owned()),
    ]));
    let annotations = created(&plan_of(&d, &[], &[])).metadata.annotations.unwrap();
    assert_eq!(annotations.get("team").map(String::as_str), Some("a"));
    assert!(!annotations.contains_key("kubectl.kubernetes.io/last-applied-configuration"));
    assert_eq!(annotations.get(REVISION).map(String::as_str), Some("1"));
}

#[test]
fn a_complete_rollout_deletes_idle_sets_beyond_the_history_limit() {
    let status = json!({ "observedGeneration": 1, "replicas": 3, "updatedReplicas": 3,
                         "readyReplicas": 3, "availableReplicas": 3 });
    let d = deployment(json!({ "revisionHistoryLimit": 1 }), Some(status));
    // Its controller has not seen its last change yet.
    let mut busy = set("web-busy", "nginx:0", 2, 0, 0, 0);
    busy.metadata.generation = Some(2);
    let sets = [
        set("web-a", "nginx:a", 1, 0, 0, 0),
        busy,
        set("web-c", "nginx:c", 3, 0, 0, 0),
        set("web-new", "nginx:2", 4, 3, 3, 3),
    ];
    let plan = plan_of(&d, &sets, &[]);
    let writes = summary(&plan);
    // Three old sets, one kept: the two of the lowest revisions, but the busy one stays.
    assert_eq!(writes[0], "delete web-a");
    assert!(!writes.iter().any(|w| w == "delete web-busy" || w == "delete web-c"), "{writes:?}");
    let status = status_of(&plan);
    assert_eq!(
        condition(&status, PROGRESSING),
        (
            "True".into(),
            NEW_RS_AVAILABLE.into(),
            "ReplicaSet \"web-new\" has successfully progressed.".into()
        )
    );
    assert_eq!(
        condition(&status, AVAILABLE),
        ("True".into(), MINIMUM_AVAILABLE.into(), "Deployment has minimum availability.".into())
    );
    assert_eq!(status.replicas, Some(3));
}

#[test]
fn an_up_to_date_status_is_not_written_again() {
    let d = deployment(json!({}), None);
    let sets = [set("web-new", "nginx:2", 1, 3, 3, 3)];
    let first = plan_of(&d, &sets, &[]);
    assert_eq!(summary(&first), ["revision 1", "status"]);
    let status = status_of(&first);
    assert_eq!(
        (
            status.replicas,
            status.updated_replicas,
            status.ready_replicas,
            status.available_replicas,
            status.unavailable_replicas
        ),
        (Some(3), Some(3), Some(3), Some(3), None)
    );
    // FoundNewReplicaSet, then complete within the same sync.
    assert_eq!(condition(&status, PROGRESSING).1, NEW_RS_AVAILABLE);
    let d = with_status(d, &first);
    assert_eq!(plan_of(&d, &sets, &[]), Plan::default());
}

#[test]
fn no_progress_past_the_deadline_times_out_and_before_it_requeues() {
    let stale = "2026-01-01T00:00:00Z";
    let status = json!({ "observedGeneration": 1, "replicas": 1, "updatedReplicas": 1,
        "unavailableReplicas": 3,
        "conditions": [
            { "type": "Available", "status": "False", "reason": MINIMUM_UNAVAILABLE,
              "message": "Deployment does not have minimum availability.",
              "lastUpdateTime": stale, "lastTransitionTime": stale },
            { "type": "Progressing", "status": "True", "reason": REPLICA_SET_UPDATED,
              "message": "ReplicaSet \"web-new\" is progressing.",
              "lastUpdateTime": stale, "lastTransitionTime": stale }] });
    let mut new = set("web-new", "nginx:2", 1, 3, 1, 0);
    new.status.as_mut().unwrap().ready_replicas = None;
    // 600 s after the last progress, exactly: not yet (the deadline must have passed).
    let d = deployment(json!({}), Some(status.clone()));
    let plan = plan_of(&d, std::slice::from_ref(&new), &[]);
    assert_eq!(summary(&plan), ["revision 1"]);
    assert_eq!(plan.requeue_after, Some(Duration::from_secs(1)));
    // A deadline of 500 s has passed.
    let d = deployment(json!({ "progressDeadlineSeconds": 500 }), Some(status));
    let plan = plan_of(&d, std::slice::from_ref(&new), &[]);
    let status = status_of(&plan);
    let (value, reason, message) = condition(&status, PROGRESSING);
    assert_eq!((value.as_str(), reason.as_str()), ("False", TIMED_OUT));
    assert_eq!(message, "ReplicaSet \"web-new\" has timed out progressing.");
    assert_eq!(condition_of(&status, PROGRESSING).unwrap().last_transition_time, Some(Time(now())));
}

#[test]
fn a_paused_deployment_scales_but_does_not_roll_out() {
    let d = deployment(json!({ "paused": true, "replicas": 5 }), None);
    let old = set("web-old", "nginx:1", 1, 3, 3, 3);
    let plan = plan_of(&d, std::slice::from_ref(&old), &[]);
    assert_eq!(summary(&plan), ["scale web-old 3->5", "status"]);
    let status = status_of(&plan);
    assert_eq!(
        condition(&status, PROGRESSING),
        ("Unknown".into(), PAUSED.into(), "Deployment is paused".into())
    );
    let Write::Patch { patch, .. } = &plan.writes[0] else { panic!() };
    assert_eq!(patch["metadata"]["annotations"][DESIRED_REPLICAS], "5");
    assert_eq!(patch["metadata"]["annotations"][MAX_REPLICAS], "7");
}

#[test]
fn scaling_mid_rollout_is_proportional() {
    // 10 replicas with a surge of 3 were split 8 old / 5 new; now 20 (23 with the surge).
    let spec = json!({ "replicas": 20,
        "strategy": { "type": "RollingUpdate", "rollingUpdate": { "maxSurge": 3, "maxUnavailable": 2 } } });
    let d = deployment(spec, Some(json!({ "replicas": 13 })));
    let old = sized(set("web-old", "nginx:1", 1, 8, 8, 8), 10, 13);
    let new = sized(set("web-new", "nginx:2", 2, 5, 5, 0), 10, 13);
    let plan = plan_of(&d, &[old, new], &[]);
    // 8·23/13 = 14.2 → 14 and 5·23/13 = 8.8 → 9: all 10 added.
    assert_eq!(summary(&plan)[..2], ["scale web-old 8->14", "scale web-new 5->9"]);
}

#[test]
fn fenceposts_round_surge_up_and_unavailability_down() {
    let d = deployment(
        json!({ "replicas": 10,
        "strategy": { "type": "RollingUpdate", "rollingUpdate": { "maxSurge": "15%", "maxUnavailable": "15%" } } }),
        None,
    );
    assert_eq!(fenceposts(&d), Ok((2, 1)));
    let d = deployment(
        json!({ "replicas": 1,
        "strategy": { "type": "RollingUpdate", "rollingUpdate": { "maxSurge": "0%", "maxUnavailable": "10%" } } }),
        None,
    );
    assert_eq!(fenceposts(&d), Ok((0, 1)), "both zero is one unavailable");
    let d = deployment(json!({ "strategy": { "type": "Recreate" } }), None);
    assert_eq!((max_surge(&d), max_unavailable(&d)), (Ok(0), Ok(0)));
}

#[test]
fn a_refused_create_marks_the_rollout_failed_when_there_is_a_deadline() {
    let d = deployment(json!({}), None);
    let status =
        failed_create_status(&d, "Failed to create new replica set \"web-x\": quota".into(), now())
            .expect("a status");
    assert_eq!(
        condition(&status, PROGRESSING),
        (
            "False".into(),
            FAILED_RS_CREATE.into(),
            "Failed to create new replica set \"web-x\": quota".into()
        )
    );
    let d = deployment(json!({ "progressDeadlineSeconds": i32::MAX }), None);
    assert_eq!(failed_create_status(&d, String::new(), now()), None);
}
