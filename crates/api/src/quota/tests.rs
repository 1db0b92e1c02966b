//! Tests of quota usage, scopes, the admission decision and the controller's recalculation.

use serde_json::{Value, json};

use super::*;

const NOW: i64 = 1_800_000_000;

fn quota(name: &str, hard: Value, used: Value) -> Value {
    json!({"metadata": {"name": name, "namespace": "ns"},
           "spec": {"hard": hard.clone()}, "status": {"hard": hard, "used": used}})
}

fn pod(name: &str, containers: Value) -> Value {
    json!({"metadata": {"name": name, "namespace": "ns"}, "spec": {"containers": containers}})
}

fn texts(list: &ResourceList) -> Vec<(String, String)> {
    list.iter().map(|(n, q)| (n.clone(), q.to_string())).collect()
}

#[test]
fn a_pod_charges_its_count_and_compute_resources() {
    let web = pod(
        "web",
        json!([{"name": "a", "resources": {"requests": {"cpu": "250m", "memory": "64Mi"},
                                            "limits": {"cpu": "500m"}}},
               {"name": "b", "resources": {"requests": {"cpu": "250m", "example.com/gpu": "1"}}}]),
    );
    let used = usage(&Evaluator::Pod, &web, NOW);
    assert_eq!(
        texts(&used),
        [
            ("count/pods", "1"),
            ("cpu", "500m"),
            ("limits.cpu", "500m"),
            ("memory", "64Mi"),
            ("pods", "1"),
            ("requests.cpu", "500m"),
            ("requests.example.com/gpu", "1"),
            ("requests.memory", "64Mi"),
        ]
        .map(|(n, q)| (n.to_owned(), q.to_owned()))
    );
    // Init containers count at their peak; a finished pod only as an object.
    let mut init = web.clone();
    init["spec"]["initContainers"] =
        json!([{"name": "i", "resources": {"requests": {"cpu": "2"}}}]);
    assert_eq!(usage(&Evaluator::Pod, &init, NOW)["requests.cpu"].to_string(), "2");
    let mut done = web;
    done["status"] = json!({"phase": "Succeeded"});
    assert_eq!(texts(&usage(&Evaluator::Pod, &done, NOW)), [("count/pods".into(), "1".into())]);
}

#[test]
fn services_and_claims_charge_what_their_evaluators_say() {
    let lb = json!({"spec": {"type": "LoadBalancer", "ports": [{"port": 80}, {"port": 443}]}});
    let used = usage(&Evaluator::Service, &lb, NOW);
    assert_eq!(used["services.nodeports"].to_string(), "2");
    assert_eq!(used["services.loadbalancers"].to_string(), "1");
    let claim = json!({"spec": {"storageClassName": "fast",
                                "resources": {"requests": {"storage": "1500m"}}}});
    let used = usage(&Evaluator::PersistentVolumeClaim, &claim, NOW);
    assert_eq!(
        texts(&used),
        [
            ("count/persistentvolumeclaims", "1"),
            ("fast.storageclass.storage.k8s.io/persistentvolumeclaims", "1"),
            ("fast.storageclass.storage.k8s.io/requests.storage", "2"),
            ("persistentvolumeclaims", "1"),
            ("requests.storage", "2"),
        ]
        .map(|(n, q)| (n.to_owned(), q.to_owned()))
    );
    let secrets = Evaluator::of("", "secrets").unwrap();
    assert_eq!(secrets, Evaluator::ObjectCount(vec!["count/secrets".into(), "secrets".into()]));
    assert_eq!(
        Evaluator::of("apps", "deployments").unwrap(),
        Evaluator::ObjectCount(vec!["count/deployments.apps".into()])
    );
    assert_eq!(Evaluator::of("", "events"), None);
    assert_eq!(counted_resource("count/deployments.apps"), Some(("apps", "deployments")));
}

#[test]
fn admission_charges_every_matching_quota_or_refuses() {
    let q = quota(
        "q",
        json!({"pods": "2", "requests.cpu": "1"}),
        json!({"pods": "1", "requests.cpu": "500m"}),
    );
    let ok = pod("ok", json!([{"name": "c", "resources": {"requests": {"cpu": "500m"}}}]));
    let changes = check(&[&q], &Evaluator::Pod, Operation::Create, &ok, None, NOW).unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!(
        texts(&changes[0].1),
        [("pods".into(), "2".into()), ("requests.cpu".into(), "1".into())]
    );

    let big = pod("big", json!([{"name": "c", "resources": {"requests": {"cpu": "600m"}}}]));
    assert_eq!(
        check(&[&q], &Evaluator::Pod, Operation::Create, &big, None, NOW).unwrap_err(),
        "exceeded quota: q, requested: requests.cpu=600m, used: requests.cpu=500m, limited: requests.cpu=1"
    );
    let bare = pod("bare", json!([{"name": "c"}, {"name": "d"}]));
    assert_eq!(
        check(&[&q], &Evaluator::Pod, Operation::Create, &bare, None, NOW).unwrap_err(),
        "failed quota: q: must specify requests.cpu for: c,d"
    );
    let full = quota("full", json!({"pods": "2"}), json!({"pods": "2"}));
    assert_eq!(
        check(&[&full], &Evaluator::Pod, Operation::Create, &bare, None, NOW).unwrap_err(),
        "exceeded quota: full, requested: pods=1, used: pods=2, limited: pods=2"
    );
    // A quota the controller has not filled in yet.
    let fresh = json!({"metadata": {"name": "fresh"}, "status": {"hard": {"pods": "1"}}});
    assert_eq!(
        check(&[&fresh], &Evaluator::Pod, Operation::Create, &bare, None, NOW).unwrap_err(),
        "status unknown for quota: fresh, resources: pods"
    );
    // Pods are charged on create only; a quota tracking nothing of the kind is left alone.
    assert_eq!(check(&[&full], &Evaluator::Pod, Operation::Update, &bare, None, NOW), Ok(vec![]));
    let secrets = Evaluator::of("", "secrets").unwrap();
    assert_eq!(check(&[&full], &secrets, Operation::Create, &json!({}), None, NOW), Ok(vec![]));
}

#[test]
fn a_claim_update_is_charged_its_growth() {
    let q = quota("q", json!({"requests.storage": "10Gi"}), json!({"requests.storage": "8Gi"}));
    let claim = |size: &str| json!({"spec": {"resources": {"requests": {"storage": size}}}});
    let pvc = Evaluator::PersistentVolumeClaim;
    let grown = check(&[&q], &pvc, Operation::Update, &claim("10Gi"), Some(&claim("8Gi")), NOW);
    assert_eq!(texts(&grown.unwrap()[0].1), [("requests.storage".into(), "10Gi".into())]);
    let too_much = check(&[&q], &pvc, Operation::Update, &claim("11Gi"), Some(&claim("8Gi")), NOW);
    assert_eq!(
        too_much.unwrap_err(),
        "exceeded quota: q, requested: requests.storage=3Gi, used: requests.storage=8Gi, limited: requests.storage=10Gi"
    );
    // Shrinking charges nothing.
    assert_eq!(
        check(&[&q], &pvc, Operation::Update, &claim("1Gi"), Some(&claim("8Gi")), NOW),
        Ok(vec![])
    );
}

#[test]
fn scopes_select_the_pods_a_quota_counts() {
    let best_effort = pod("be", json!([{"name": "c"}]));
    let mut burstable = pod("b", json!([{"name": "c", "resources": {"requests": {"cpu": "1"}}}]));
    burstable["spec"]["activeDeadlineSeconds"] = json!(30);
    burstable["spec"]["priorityClassName"] = json!("high");
    let scoped = |scopes: Value, selector: Value| {
        let mut q = quota("q", json!({"pods": "5"}), json!({"pods": "0"}));
        q["spec"]["scopes"] = scopes;
        q["spec"]["scopeSelector"] = selector;
        q
    };
    let cases = [
        (json!(["BestEffort"]), Value::Null, [true, false]),
        (json!(["NotBestEffort", "Terminating"]), Value::Null, [false, true]),
        (json!(["NotTerminating"]), Value::Null, [true, false]),
        (
            Value::Null,
            json!({"matchExpressions": [{"scopeName": "PriorityClass",
            "operator": "In", "values": ["high"]}]}),
            [false, true],
        ),
        (
            Value::Null,
            json!({"matchExpressions": [{"scopeName": "PriorityClass",
            "operator": "NotIn", "values": ["high"]}]}),
            [true, false],
        ),
        (
            Value::Null,
            json!({"matchExpressions": [{"scopeName": "PriorityClass",
            "operator": "Exists"}]}),
            [false, true],
        ),
    ];
    for (scopes, selector, expected) in cases {
        let q = scoped(scopes.clone(), selector.clone());
        let got = [&best_effort, &burstable].map(|p| matches(&Evaluator::Pod, &q, p));
        assert_eq!(got, expected, "{scopes} {selector}");
    }
    // Scopes are about pods: a scoped quota counts no other kind.
    let q = scoped(json!(["BestEffort"]), Value::Null);
    assert!(!matches(&Evaluator::of("", "secrets").unwrap(), &q, &json!({})));
}

#[test]
fn the_controller_recalculates_used_from_the_objects() {
    let mut q = json!({"metadata": {"name": "q"},
        "spec": {"hard": {"pods": "10", "requests.cpu": "2", "count/deployments.apps": "3",
                          "secrets": "4"}}});
    let pods = vec![
        pod("a", json!([{"name": "c", "resources": {"requests": {"cpu": "100m"}}}])),
        pod("b", json!([{"name": "c", "resources": {"requests": {"cpu": "200m"}}}])),
    ];
    let deployments = vec![json!({}), json!({})];
    let objects = |group: &str, plural: &str| -> Option<&[Value]> {
        match (group, plural) {
            ("", "pods") => Some(&pods),
            ("apps", "deployments") => Some(&deployments),
            ("", "secrets") => Some(&[]),
            _ => None,
        }
    };
    let status = calculate_status(&q, objects, NOW).unwrap();
    assert_eq!(
        status,
        json!({"hard": {"count/deployments.apps": "3", "pods": "10", "requests.cpu": "2",
                        "secrets": "4"},
               "used": {"count/deployments.apps": "2", "pods": "2", "requests.cpu": "300m",
                        "secrets": "0"}})
    );
    q["status"] = status;
    assert_eq!(calculate_status(&q, objects, NOW), None, "nothing changed");
    assert_eq!(
        tracked_resources(&list_of(&q["spec"]["hard"])),
        [("", "pods"), ("", "secrets"), ("apps", "deployments")]
            .map(|(g, p)| (g.to_owned(), p.to_owned()))
    );
}
