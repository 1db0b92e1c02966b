//! Table-driven tests of the pod worker's pure core: the plan and the pod status for each
//! point of a pod's life.

use std::net::Ipv4Addr;

use serde_json::{Value, json};

use super::*;

fn settings() -> Settings {
    Settings {
        runtime_name: "simulated".into(),
        host_ip: IpAddr::V4(Ipv4Addr::new(192, 168, 0, 10)),
        ready_delay: Duration::from_secs(2),
        backoff_base: Duration::from_secs(10),
        backoff_max: Duration::from_secs(300),
    }
}

fn at(second: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + second).unwrap()
}

fn pod(spec: Value) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": "web-0", "namespace": "default", "uid": "u1"},
        "spec": spec,
    }))
    .unwrap()
}

fn one_container() -> Pod {
    pod(json!({"containers": [{"name": "app", "image": "nginx"}]}))
}

fn sandbox() -> SandboxStatus {
    SandboxStatus {
        id: "s1".into(),
        pod_uid: "u1".into(),
        namespace: "default".into(),
        name: "web-0".into(),
        attempt: 0,
        ready: true,
        ip: Some(IpAddr::V4(Ipv4Addr::new(10, 244, 0, 2))),
        created_at: at(0),
    }
}

fn container(
    name: &str,
    attempt: u32,
    state: ContainerState,
    exit_code: i32,
    init: bool,
) -> ContainerStatus {
    ContainerStatus {
        id: format!("{name}-{attempt}"),
        name: name.into(),
        attempt,
        image: "nginx".into(),
        image_ref: "docker.io/library/nginx:latest".into(),
        init,
        state,
        created_at: at(1),
        started_at: Some(at(1)),
        finished_at: (state == ContainerState::Exited).then(|| at(5)),
        exit_code,
        reason: match (state, exit_code) {
            (ContainerState::Exited, 0) => "Completed".into(),
            (ContainerState::Exited, _) => "Error".into(),
            _ => String::new(),
        },
        message: String::new(),
    }
}

fn running(name: &str) -> ContainerStatus {
    container(name, 0, ContainerState::Running, 0, false)
}

fn observed(containers: Vec<ContainerStatus>) -> Observed {
    let readiness = containers.iter().map(|c| (c.id.clone(), true)).collect();
    Observed { sandbox: Some(sandbox()), containers, readiness, ..Observed::default() }
}

fn start(name: &str, init: bool, attempt: u32) -> Action {
    Action::Start { name: name.into(), init, attempt }
}

#[test]
fn the_plan_starts_sandbox_init_containers_in_order_then_containers() {
    let with_init = pod(json!({
        "initContainers": [{"name": "i1", "image": "busybox"}, {"name": "i2", "image": "busybox"}],
        "containers": [{"name": "a", "image": "nginx"}, {"name": "b", "image": "nginx"}],
    }));
    let done = |name: &str| container(name, 0, ContainerState::Exited, 0, true);
    let failed = |name: &str, attempt| container(name, attempt, ContainerState::Exited, 1, true);
    let cases: Vec<(&str, Observed, Vec<Action>)> = vec![
        ("nothing yet", Observed::default(), vec![Action::CreateSandbox]),
        ("sandbox", observed(vec![]), vec![start("i1", true, 0)]),
        (
            "first init running",
            observed(vec![container("i1", 0, ContainerState::Running, 0, true)]),
            vec![],
        ),
        ("first init done", observed(vec![done("i1")]), vec![start("i2", true, 0)]),
        (
            "inits done",
            observed(vec![done("i1"), done("i2")]),
            vec![start("a", false, 0), start("b", false, 0)],
        ),
        (
            "one running",
            observed(vec![done("i1"), done("i2"), running("a")]),
            vec![start("b", false, 0)],
        ),
        (
            "first init failed once: immediate retry",
            observed(vec![failed("i1", 0)]),
            vec![start("i1", true, 1)],
        ),
        ("first init failed twice: back-off", observed(vec![failed("i1", 1)]), vec![]),
    ];
    for (what, observed, want) in cases {
        let plan = plan(with_init.spec.as_ref().unwrap(), &observed, &settings(), at(6));
        assert_eq!(plan.actions, want, "{what}");
    }
}

#[test]
fn exited_containers_restart_by_policy_after_the_back_off() {
    // (policy, exit code, attempt that exited, now, restarted?, wake)
    let cases = [
        ("Always", 0, 0, 5, true, None),
        ("Always", 1, 0, 5, true, None),
        ("Always", 1, 1, 6, false, Some(15)),
        ("Always", 1, 1, 15, true, None),
        ("Always", 1, 2, 15, false, Some(25)),
        ("Always", 1, 9, 100, false, Some(305)),
        ("OnFailure", 0, 0, 5, false, None),
        ("OnFailure", 2, 0, 5, true, None),
        ("Never", 1, 0, 5, false, None),
    ];
    for (policy, code, attempt, now, restarted, wake) in cases {
        let pod = pod(
            json!({"restartPolicy": policy, "containers": [{"name": "app", "image": "nginx"}]}),
        );
        let observed =
            observed(vec![container("app", attempt, ContainerState::Exited, code, false)]);
        let plan = plan(pod.spec.as_ref().unwrap(), &observed, &settings(), at(now));
        let want = if restarted { vec![start("app", false, attempt + 1)] } else { vec![] };
        assert_eq!(plan.actions, want, "{policy} {code} #{attempt} at {now}");
        assert_eq!(plan.wake, wake.map(at), "{policy} {code} #{attempt} at {now}");
    }
}

#[test]
fn a_changed_image_replaces_the_running_container() {
    let pod = pod(json!({"containers": [{"name": "app", "image": "nginx:1.28"}]}));
    let plan =
        plan(pod.spec.as_ref().unwrap(), &observed(vec![running("app")]), &settings(), at(9));
    let replace = Action::Replace { id: "app-0".into(), name: "app".into(), attempt: 1 };
    assert_eq!(plan.actions, vec![replace]);
}

#[test]
fn image_pull_failures_wait_out_their_back_off() {
    let pod = one_container();
    let mut observed = observed(vec![]);
    observed.pull_failures.insert(
        "app".into(),
        PullFailure {
            image: "nginx".into(),
            message: "not found".into(),
            count: 1,
            until: at(20),
            fresh: false,
        },
    );
    let spec = pod.spec.as_ref().unwrap();
    let waiting = plan(spec, &observed, &settings(), at(10));
    assert_eq!((waiting.actions, waiting.wake), (vec![], Some(at(20))));
    assert_eq!(plan(spec, &observed, &settings(), at(20)).actions, vec![start("app", false, 0)]);
}

#[test]
fn a_running_container_wakes_the_worker_when_it_becomes_ready() {
    let pod = pod(json!({"containers": [
        {"name": "app", "image": "nginx", "readinessProbe": {"initialDelaySeconds": 7}},
    ]}));
    let plan =
        plan(pod.spec.as_ref().unwrap(), &observed(vec![running("app")]), &settings(), at(2));
    assert_eq!((plan.actions, plan.wake), (vec![], Some(at(8))));
}

/// The status as JSON without times (checked separately), compactly.
fn status_json(pod: &Pod, observed: &Observed, now: i64, terminating: bool) -> Value {
    let status = pod_status(pod, observed, &settings(), Moment { now: at(now), terminating });
    serde_json::to_value(status).unwrap()
}

fn conditions(status: &Value) -> Vec<String> {
    status["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let reason = c["reason"].as_str().map(|r| format!(" {r}")).unwrap_or_default();
            format!("{}={}{reason}", c["type"].as_str().unwrap(), c["status"].as_str().unwrap())
        })
        .collect()
}

fn state(status: &Value, index: usize) -> String {
    let state = &status["containerStatuses"][index]["state"];
    let (kind, detail) = state.as_object().unwrap().iter().next().unwrap();
    match detail.get("reason") {
        Some(reason) => format!("{kind} {}", reason.as_str().unwrap()),
        None => kind.clone(),
    }
}

/// (what, observed, now, terminating, phase, container state, ready, conditions)
type Row<'a> = (&'a str, Observed, i64, bool, &'a str, &'a str, bool, Vec<&'a str>);

#[test]
fn the_status_follows_the_pod_through_its_life() {
    let pod = one_container();
    let pending_ready = ["PodReadyToStartContainers=False", "Initialized=True"];
    let not_ready = [
        "Ready=False ContainersNotReady",
        "ContainersReady=False ContainersNotReady",
        "PodScheduled=True",
    ];
    let mut exited = observed(vec![container("app", 0, ContainerState::Exited, 0, false)]);
    exited.sandbox.as_mut().unwrap().ready = false;
    // (what, observed, now, terminating, phase, container state, ready, conditions)
    let cases: Vec<Row<'_>> = vec![
        (
            "admitted",
            Observed::default(),
            0,
            false,
            "Pending",
            "waiting ContainerCreating",
            false,
            [&pending_ready[..], &not_ready[..]].concat(),
        ),
        (
            "running, not yet ready",
            observed(vec![running("app")]),
            2,
            false,
            "Running",
            "running",
            false,
            [
                "PodReadyToStartContainers=True",
                "Initialized=True",
                not_ready[0],
                not_ready[1],
                "PodScheduled=True",
            ]
            .to_vec(),
        ),
        (
            "ready after the delay",
            observed(vec![running("app")]),
            3,
            false,
            "Running",
            "running",
            true,
            vec![
                "PodReadyToStartContainers=True",
                "Initialized=True",
                "Ready=True",
                "ContainersReady=True",
                "PodScheduled=True",
            ],
        ),
        (
            "stopped by a deletion",
            exited,
            9,
            true,
            "Succeeded",
            "terminated Completed",
            false,
            vec![
                "PodReadyToStartContainers=False",
                "Initialized=True",
                "Ready=False PodCompleted",
                "ContainersReady=False PodCompleted",
                "PodScheduled=True",
            ],
        ),
    ];
    for (what, observed, now, terminating, phase, container_state, ready, want) in cases {
        let status = status_json(&pod, &observed, now, terminating);
        assert_eq!(status["phase"], phase, "{what}");
        assert_eq!(state(&status, 0), container_state, "{what}");
        assert_eq!(status["containerStatuses"][0]["ready"], ready, "{what}");
        assert_eq!(conditions(&status), want, "{what}");
        assert_eq!(status["hostIP"], "192.168.0.10", "{what}");
        assert_eq!(status["qosClass"], "BestEffort", "{what}");
    }
}

#[test]
fn ips_ids_and_times_are_reported_as_the_kubelet_does() {
    let pod = one_container();
    let status = status_json(&pod, &observed(vec![running("app")]), 3, false);
    assert_eq!(status["podIP"], "10.244.0.2");
    assert_eq!(status["podIPs"], json!([{"ip": "10.244.0.2"}]));
    assert_eq!(status["hostIPs"], json!([{"ip": "192.168.0.10"}]));
    let container = &status["containerStatuses"][0];
    assert_eq!(container["containerID"], "simulated://app-0");
    assert_eq!(container["imageID"], "docker.io/library/nginx:latest");
    assert_eq!(container["started"], true);
    assert_eq!(container["state"]["running"]["startedAt"], "2027-01-15T08:00:01Z");
    assert_eq!(status["startTime"], "2027-01-15T08:00:03Z");
}

#[test]
fn unchanged_conditions_keep_their_transition_time() {
    let mut pod = one_container();
    let first = pod_status(
        &pod,
        &observed(vec![running("app")]),
        &settings(),
        Moment { now: at(3), terminating: false },
    );
    pod.status = Some(first.clone());
    let again = pod_status(
        &pod,
        &observed(vec![running("app")]),
        &settings(),
        Moment { now: at(50), terminating: false },
    );
    assert_eq!(first, again, "a status recomputed later with nothing changed is equal (no write)");
}

#[test]
fn crashes_show_back_off_restart_count_and_last_state() {
    let pod = one_container();
    let crashed = observed(vec![
        container("app", 0, ContainerState::Exited, 3, false),
        container("app", 1, ContainerState::Exited, 3, false),
    ]);
    let status = status_json(&pod, &crashed, 6, false);
    let app = &status["containerStatuses"][0];
    assert_eq!(state(&status, 0), "waiting CrashLoopBackOff");
    assert_eq!(
        app["state"]["waiting"]["message"],
        "back-off 10s restarting failed container=app pod=web-0_default(u1)"
    );
    assert_eq!(app["restartCount"], 1);
    assert_eq!(app["lastState"]["terminated"]["exitCode"], 3);
    assert_eq!(app["lastState"]["terminated"]["reason"], "Error");
    assert_eq!(status["phase"], "Running");

    let restarted = observed(vec![
        container("app", 1, ContainerState::Exited, 3, false),
        container("app", 2, ContainerState::Running, 0, false),
    ]);
    let status = status_json(&pod, &restarted, 20, false);
    assert_eq!(status["containerStatuses"][0]["restartCount"], 2);
    assert_eq!(status["containerStatuses"][0]["lastState"]["terminated"]["exitCode"], 3);
}

#[test]
fn never_restarting_pods_end_succeeded_or_failed() {
    let cases = [(0, "Succeeded"), (1, "Failed")];
    for (code, phase) in cases {
        let pod = pod(
            json!({"restartPolicy": "Never", "containers": [{"name": "app", "image": "nginx"}]}),
        );
        let status = status_json(
            &pod,
            &observed(vec![container("app", 0, ContainerState::Exited, code, false)]),
            9,
            false,
        );
        assert_eq!(status["phase"], phase, "exit {code}");
        assert_eq!(
            state(&status, 0),
            format!("terminated {}", if code == 0 { "Completed" } else { "Error" })
        );
    }
}

#[test]
fn pull_failures_show_err_image_pull_then_image_pull_back_off() {
    let pod = pod(json!({"containers": [{"name": "app", "image": "nginx:doesnotexist"}]}));
    let mut observed = observed(vec![]);
    let failure = PullFailure {
        image: "nginx:doesnotexist".into(),
        message: "not found".into(),
        count: 1,
        until: at(20),
        fresh: true,
    };
    observed.pull_failures.insert("app".into(), failure);
    let status = status_json(&pod, &observed, 10, false);
    assert_eq!(state(&status, 0), "waiting ErrImagePull");
    assert_eq!(status["containerStatuses"][0]["state"]["waiting"]["message"], "not found");
    assert_eq!(status["phase"], "Pending");
    observed.pull_failures.get_mut("app").unwrap().fresh = false;
    let status = status_json(&pod, &observed, 11, false);
    assert_eq!(state(&status, 0), "waiting ImagePullBackOff");
    assert_eq!(
        status["containerStatuses"][0]["state"]["waiting"]["message"],
        "Back-off pulling image \"nginx:doesnotexist\""
    );
}

#[test]
fn init_containers_gate_initialization() {
    let pod = pod(json!({
        "initContainers": [{"name": "init", "image": "busybox"}],
        "containers": [{"name": "app", "image": "nginx"}],
    }));
    let status = status_json(&pod, &observed(vec![]), 1, false);
    assert_eq!(status["phase"], "Pending");
    assert_eq!(conditions(&status)[1], "Initialized=False ContainersNotInitialized");
    assert_eq!(status["conditions"][1]["message"], "containers with incomplete status: [init]");
    assert_eq!(state(&status, 0), "waiting PodInitializing");
    assert_eq!(status["initContainerStatuses"][0]["state"]["waiting"]["reason"], "PodInitializing");

    let done =
        observed(vec![container("init", 0, ContainerState::Exited, 0, true), running("app")]);
    let status = status_json(&pod, &done, 9, false);
    assert_eq!(status["phase"], "Running");
    assert_eq!(conditions(&status)[1], "Initialized=True");
    assert_eq!(status["initContainerStatuses"][0]["ready"], true);
    assert_eq!(status["initContainerStatuses"][0]["state"]["terminated"]["reason"], "Completed");
}

#[test]
fn qos_classes_follow_requests_and_limits() {
    let cases = [
        (json!({}), "BestEffort"),
        (json!({"requests": {"cpu": "100m"}}), "Burstable"),
        // The API server defaults requests to limits before a kubelet sees the pod.
        (json!({"limits": {"cpu": "1", "memory": "1Gi"}}), "Burstable"),
        (
            json!({"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1000m", "memory": "1024Mi"}}),
            "Guaranteed",
        ),
        (
            json!({"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1", "memory": "1Gi"}}),
            "Guaranteed",
        ),
        (
            json!({"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "500m"}}),
            "Burstable",
        ),
        (json!({"limits": {"cpu": "1"}}), "Burstable"),
    ];
    for (resources, want) in cases {
        let pod =
            pod(json!({"containers": [{"name": "app", "image": "nginx", "resources": resources}]}));
        assert_eq!(qos_class(pod.spec.as_ref().unwrap()), want, "{resources}");
    }
}

#[test]
fn the_qos_class_the_api_server_set_is_kept() {
    let mut pod = one_container();
    pod.status = Some(PodStatus { qos_class: Some("Guaranteed".into()), ..PodStatus::default() });
    let status = status_json(&pod, &observed(Vec::new()), 1, false);
    assert_eq!(status["qosClass"], "Guaranteed", "GetPodQOS reads the status first");
    let status = status_json(&one_container(), &observed(Vec::new()), 1, false);
    assert_eq!(status["qosClass"], "BestEffort", "and computes the class only without one");
}

#[test]
fn go_durations_print_like_go() {
    assert_eq!(go_duration(Duration::from_secs(10)), "10s");
    assert_eq!(go_duration(Duration::from_secs(300)), "5m0s");
    assert_eq!(go_duration(Duration::from_millis(200)), "200ms");
}
