//! Table-driven tests of the pure scheduling decision: filters, scores and kube-scheduler's
//! messages.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::*;

fn node(name: &str, extra: Value) -> Node {
    let mut node = json!({
        "metadata": { "name": name, "labels": { "kubernetes.io/hostname": name } },
        "spec": {},
        "status": {
            "allocatable": { "cpu": "4", "memory": "8Gi", "pods": "110", "ephemeral-storage": "100Gi" },
            "conditions": [{ "type": "Ready", "status": "True" }],
        },
    });
    merge(&mut node, extra);
    serde_json::from_value(node).expect("a node")
}

fn pod(spec: Value) -> CachedPod {
    let mut pod = json!({
        "metadata": { "name": "p", "namespace": "default", "uid": "u-p" },
        "spec": { "containers": [{ "name": "c", "image": "i" }] },
    });
    merge(&mut pod, json!({ "spec": spec }));
    serde_json::from_value(pod).expect("a pod")
}

fn merge(target: &mut Value, patch: Value) {
    match (target, patch) {
        (Value::Object(target), Value::Object(patch)) => {
            for (key, value) in patch {
                merge(target.entry(key).or_insert(Value::Null), value);
            }
        }
        (target, patch) => *target = patch,
    }
}

fn cpu_pod(cpu: &str) -> Value {
    json!({ "containers": [{ "name": "c", "image": "i", "resources": { "requests": { "cpu": cpu } } }] })
}

struct World {
    nodes: Vec<Node>,
    usage: HashMap<String, Usage>,
    claims: HashMap<String, PersistentVolumeClaim>,
    volumes: HashMap<String, PersistentVolume>,
    classes: HashMap<String, StorageClass>,
}

impl World {
    fn new(nodes: Vec<Node>) -> World {
        World {
            nodes,
            usage: HashMap::new(),
            claims: HashMap::new(),
            volumes: HashMap::new(),
            classes: HashMap::new(),
        }
    }

    fn with_pod_on(mut self, node: &str, spec: Value) -> World {
        self.usage.entry(node.to_owned()).or_default().add(&Contribution::of(&pod(spec)));
        self
    }

    fn schedule(&self, pod: &CachedPod) -> Outcome {
        let empty = Usage::default();
        let prepared: Vec<Prepared> = self.nodes.iter().map(Prepared::of).collect();
        let candidates: Vec<Candidate<'_>> = self
            .nodes
            .iter()
            .zip(&prepared)
            .map(|(node, prepared)| Candidate {
                node,
                prepared,
                usage: self.usage.get(node_name(node)).unwrap_or(&empty),
            })
            .collect();
        let (claims, volumes, classes) =
            (shared(&self.claims), shared(&self.volumes), shared(&self.classes));
        let volumes = Volumes { claims: &claims, volumes: &volumes, classes: &classes };
        schedule(pod, &Contribution::of(pod), &candidates, volumes)
    }
}

/// The objects as the scheduler's mirrors hold them.
fn shared<K: Clone>(objects: &HashMap<String, K>) -> HashMap<String, std::sync::Arc<K>> {
    objects.iter().map(|(key, object)| (key.clone(), std::sync::Arc::new(object.clone()))).collect()
}

fn unschedulable(message: &str) -> Outcome {
    Outcome::Unschedulable { message: message.to_owned() }
}

fn fits(node: &str) -> Outcome {
    Outcome::Fits { node: node.to_owned(), delayed: Vec::new() }
}

#[test]
fn failed_scheduling_messages() {
    let tainted = json!({ "spec": { "taints": [{ "key": "dedicated", "value": "gpu", "effect": "NoSchedule" }] } });
    let not_ready = json!({ "status": { "conditions": [{ "type": "Ready", "status": "False" }] } });
    let cases: Vec<(&str, World, Value, &str)> = vec![
        (
            "untolerated taint",
            World::new(vec![node("a", tainted.clone())]),
            json!({}),
            "0/1 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.",
        ),
        (
            "not ready and busy nodes",
            World::new(vec![node("a", not_ready.clone()), node("b", json!({})), node("c", json!({}))])
                .with_pod_on("b", cpu_pod("3500m"))
                .with_pod_on("c", cpu_pod("3500m")),
            cpu_pod("1"),
            "0/3 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }, 2 Insufficient cpu. preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod.",
        ),
        (
            "unknown ready is unreachable",
            World::new(vec![node("a", json!({ "status": { "conditions": [{ "type": "Ready", "status": "Unknown" }] } }))]),
            json!({}),
            "0/1 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/unreachable: }. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.",
        ),
        (
            "more than the node has at all",
            World::new(vec![node("a", json!({}))]),
            json!({ "containers": [{ "name": "c", "image": "i", "resources": { "requests": { "cpu": "5", "memory": "16Gi" } } }] }),
            "0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient memory. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.",
        ),
        (
            "too many pods",
            World::new(vec![node("a", json!({ "status": { "allocatable": { "pods": "1" } } }))])
                .with_pod_on("a", json!({})),
            json!({}),
            "0/1 nodes are available: 1 Too many pods. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.",
        ),
        (
            "selector and unschedulable",
            World::new(vec![node("a", json!({ "spec": { "unschedulable": true } })), node("b", json!({})), node("c", json!({}))]),
            json!({ "nodeSelector": { "disk": "ssd" } }),
            "0/3 nodes are available: 1 node(s) were unschedulable, 2 node(s) didn't match Pod's node affinity/selector. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.",
        ),
        (
            "host port taken",
            World::new(vec![node("a", json!({}))]).with_pod_on(
                "a",
                json!({ "containers": [{ "name": "c", "image": "i", "ports": [{ "containerPort": 80, "hostPort": 8080 }] }] }),
            ),
            json!({ "containers": [{ "name": "c", "image": "i", "ports": [{ "containerPort": 80, "hostPort": 8080, "hostIP": "127.0.0.1" }] }] }),
            "0/1 nodes are available: 1 node(s) didn't have free ports for the requested pod ports. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.",
        ),
        (
            "missing claim",
            World::new(vec![node("a", json!({})), node("b", json!({}))]),
            json!({ "volumes": [{ "name": "v", "persistentVolumeClaim": { "claimName": "www-web-0" } }] }),
            "0/2 nodes are available: persistentvolumeclaim \"www-web-0\" not found. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.",
        ),
        (
            "preemption never",
            World::new(vec![node("a", tainted)]),
            json!({ "preemptionPolicy": "Never" }),
            "0/1 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}. preemption: not eligible due to preemptionPolicy=Never.",
        ),
        ("no nodes", World::new(vec![]), json!({}), "no nodes available to schedule pods"),
    ];
    for (name, world, spec, message) in cases {
        assert_eq!(world.schedule(&pod(spec)), unschedulable(message), "{name}");
    }
}

#[test]
fn claims_must_exist_and_be_bound_or_wait_for_their_consumer() {
    let mut world = World::new(vec![node("a", json!({})), node("b", json!({}))]);
    let claim = |name: &str, class: &str, volume: Option<&str>| -> PersistentVolumeClaim {
        serde_json::from_value(json!({
            "metadata": { "name": name, "namespace": "default", "uid": format!("uid-{name}") },
            "spec": { "storageClassName": class, "volumeName": volume, "accessModes": ["ReadWriteOnce"],
                      "resources": { "requests": { "storage": "1Gi" } } },
        }))
        .expect("a claim")
    };
    let class = |name: &str, mode: &str| -> StorageClass {
        serde_json::from_value(json!({
            "metadata": { "name": name }, "provisioner": "berth.dev/local-path", "volumeBindingMode": mode,
        }))
        .expect("a class")
    };
    world.classes.insert("now".into(), class("now", "Immediate"));
    world.classes.insert("later".into(), class("later", "WaitForFirstConsumer"));
    world.claims.insert("default/pending".into(), claim("pending", "now", None));
    world.claims.insert("default/wffc".into(), claim("wffc", "later", None));
    world.claims.insert("default/bound".into(), claim("bound", "now", Some("pv-b")));
    world.volumes.insert(
        "pv-b".into(),
        serde_json::from_value(json!({
            "metadata": { "name": "pv-b" },
            "spec": {
                "claimRef": { "name": "bound", "namespace": "default", "uid": "uid-bound" },
                "nodeAffinity": { "required": { "nodeSelectorTerms": [{ "matchExpressions": [
                    { "key": "kubernetes.io/hostname", "operator": "In", "values": ["b"] }] }] } },
            },
        }))
        .expect("a volume"),
    );
    let uses = |claim: &str| json!({ "volumes": [{ "name": "v", "persistentVolumeClaim": { "claimName": claim } }] });
    assert_eq!(
        world.schedule(&pod(uses("pending"))),
        unschedulable(
            "0/2 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling."
        )
    );
    assert_eq!(world.schedule(&pod(uses("bound"))), fits("b"), "the volume's node");
    assert_eq!(
        world.schedule(&pod(uses("wffc"))),
        Outcome::Fits { node: "a".into(), delayed: vec!["wffc".into()] }
    );
    world.nodes.retain(|n| node_name(n) == "a");
    assert_eq!(
        world.schedule(&pod(uses("bound"))),
        unschedulable(
            "0/1 nodes are available: 1 node(s) had volume node affinity conflict. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling."
        )
    );
    let mut deleting = claim("bound", "now", Some("pv-b"));
    deleting.metadata.deletion_timestamp =
        Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            k8s_openapi::jiff::Timestamp::UNIX_EPOCH,
        ));
    world.claims.insert("default/bound".into(), deleting);
    assert_eq!(
        world.schedule(&pod(uses("bound"))),
        unschedulable(
            "0/1 nodes are available: persistentvolumeclaim \"bound\" is being deleted. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling."
        )
    );
}

#[test]
fn tolerations() {
    let taint = |key: &str, value: &str, effect: &str| Taint {
        key: key.into(),
        value: Some(value.into()),
        effect: effect.into(),
        time_added: None,
    };
    let toleration = |key: &str, operator: &str, value: &str, effect: &str| Toleration {
        key: Some(key.into()).filter(|k: &String| !k.is_empty()),
        operator: Some(operator.into()).filter(|o: &String| !o.is_empty()),
        value: Some(value.into()).filter(|v: &String| !v.is_empty()),
        effect: Some(effect.into()).filter(|e: &String| !e.is_empty()),
        toleration_seconds: None,
    };
    let cases = [
        (toleration("k", "Equal", "v", "NoSchedule"), taint("k", "v", "NoSchedule"), true),
        (toleration("k", "", "v", "NoSchedule"), taint("k", "v", "NoSchedule"), true),
        (toleration("k", "Equal", "w", "NoSchedule"), taint("k", "v", "NoSchedule"), false),
        (toleration("k", "Exists", "", "NoSchedule"), taint("k", "v", "NoSchedule"), true),
        (toleration("k", "Exists", "", ""), taint("k", "v", "NoExecute"), true),
        (toleration("k", "Exists", "", "NoExecute"), taint("k", "v", "NoSchedule"), false),
        (toleration("", "Exists", "", ""), taint("any", "thing", "NoSchedule"), true),
        (toleration("other", "Exists", "", ""), taint("k", "v", "NoSchedule"), false),
        (toleration("k", "Bogus", "v", ""), taint("k", "v", "NoSchedule"), false),
    ];
    for (i, (toleration, taint, want)) in cases.iter().enumerate() {
        assert_eq!(tolerates(toleration, taint), *want, "case {i}");
    }
}

#[test]
fn node_affinity_operators() {
    let labels: BTreeMap<String, String> =
        [("zone", "a"), ("gen", "5")].into_iter().map(|(k, v)| (k.into(), v.into())).collect();
    let requirement = |key: &str, operator: &str, values: &[&str]| NodeSelectorRequirement {
        key: key.into(),
        operator: operator.into(),
        values: Some(values.iter().map(|v| (*v).to_owned()).collect()),
    };
    let cases = [
        (requirement("zone", "In", &["a", "b"]), true),
        (requirement("zone", "In", &["b"]), false),
        (requirement("missing", "In", &["a"]), false),
        (requirement("zone", "NotIn", &["b"]), true),
        (requirement("zone", "NotIn", &["a"]), false),
        (requirement("missing", "NotIn", &["a"]), true),
        (requirement("zone", "Exists", &[]), true),
        (requirement("missing", "Exists", &[]), false),
        (requirement("missing", "DoesNotExist", &[]), true),
        (requirement("zone", "DoesNotExist", &[]), false),
        (requirement("gen", "Gt", &["4"]), true),
        (requirement("gen", "Gt", &["5"]), false),
        (requirement("gen", "Lt", &["6"]), true),
        (requirement("zone", "Lt", &["6"]), false),
        (requirement("gen", "Gt", &["x"]), false),
    ];
    for (requirement, want) in cases {
        assert_eq!(requirement_matches(&requirement, &labels), want, "{requirement:?}");
    }
    let a = node("a", json!({ "metadata": { "labels": { "zone": "a" } } }));
    let by_name = |operator: &str| {
        vec![NodeSelectorTerm {
            match_fields: Some(vec![requirement("metadata.name", operator, &["a"])]),
            match_expressions: None,
        }]
    };
    assert!(matches_terms(&by_name("In"), &a));
    assert!(!matches_terms(&by_name("NotIn"), &a));
    assert!(!matches_terms(&[NodeSelectorTerm::default()], &a), "an empty term matches nothing");
    let affinity = |zone: &str| {
        json!({ "affinity": { "nodeAffinity": { "requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [
                { "matchExpressions": [{ "key": "zone", "operator": "In", "values": [zone] }] },
                { "matchFields": [{ "key": "metadata.name", "operator": "In", "values": ["c"] }] },
            ] } } } })
    };
    let world = World::new(vec![
        a,
        node("b", json!({ "metadata": { "labels": { "zone": "b" } } })),
        node("c", json!({})),
    ]);
    assert_eq!(world.schedule(&pod(affinity("b"))), fits("b"));
    assert_eq!(world.schedule(&pod(affinity("z"))), fits("c"), "terms are ORed");
}

#[test]
fn scores_prefer_free_nodes_and_spread_owners() {
    let world =
        World::new(vec![node("a", json!({})), node("b", json!({}))]).with_pod_on("a", cpu_pod("2"));
    assert_eq!(world.schedule(&pod(cpu_pod("1"))), fits("b"), "least allocated");
    let owned = |cpu: &str| {
        let mut spec = cpu_pod(cpu);
        merge(&mut spec, json!({}));
        spec
    };
    let mut member = pod(owned("100m"));
    member.metadata.owner_references =
        Some(vec![k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
            api_version: "apps/v1".into(),
            kind: "StatefulSet".into(),
            name: "web".into(),
            uid: "sts".into(),
            controller: Some(true),
            block_owner_deletion: None,
        }]);
    let mut world = World::new(vec![node("a", json!({})), node("b", json!({}))])
        .with_pod_on("b", cpu_pod("500m"));
    world.usage.entry("a".into()).or_default().add(&Contribution::of(&member));
    assert_eq!(world.schedule(&member), fits("b"), "spread beats a little more room");
    assert_eq!(
        World::new(vec![node("b", json!({})), node("a", json!({}))]).schedule(&pod(json!({}))),
        fits("a"),
        "ties go to the first name"
    );
}
