//! The Endpoints controller (pkg/controller/endpoint/endpoints_controller.go, v1.33): for
//! every Service with a selector, an Endpoints object of the same name listing the selected
//! pods' addresses (ready in `addresses`, others in `notReadyAddresses`) per resolved port.
//! Also the pod/service rules the EndpointSlice controller shares
//! (pkg/controller/util/endpointslice: `ShouldPodBeInEndpoints`, `ShouldSetHostname`;
//! pkg/api/v1/pod `FindPort`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use k8s_openapi::api::core::v1::{
    EndpointAddress, EndpointPort, EndpointSubset, Endpoints, ObjectReference, Service, ServicePort,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::Timestamp;
use tokio::sync::Notify;

use crate::Context;
use crate::cache;
use crate::cached_pod::CachedPod;
use crate::informer::Store;
use crate::volume::{name_of, namespace_of};

/// `LabelManagedBy` / `ControllerName` (endpoints_controller.go).
pub(crate) const LABEL_MANAGED_BY: &str = "endpoints.kubernetes.io/managed-by";
pub(crate) const CONTROLLER_NAME: &str = "endpoint-controller";
/// `v1.IsHeadlessService`.
pub(crate) const LABEL_HEADLESS: &str = "service.kubernetes.io/headless";
/// `v1.EndpointsLastChangeTriggerTime`.
pub(crate) const ANN_TRIGGER_TIME: &str = "endpoints.kubernetes.io/last-change-trigger-time";
/// `v1.EndpointsOverCapacity`.
const ANN_OVER_CAPACITY: &str = "endpoints.kubernetes.io/over-capacity";
/// `maxCapacity`: addresses kept in one Endpoints object.
const MAX_CAPACITY: usize = 1000;

/// One write to an Endpoints object.
pub(crate) type EndpointsChange = cache::Change<Endpoints>;

/// The writes that make every selector Service's Endpoints match its pods.
pub(crate) fn plan(
    services: &[Arc<Service>],
    pods: &[Arc<CachedPod>],
    existing: &[Arc<Endpoints>],
) -> Vec<EndpointsChange> {
    let by_key: HashMap<(&str, &str), &Endpoints> = existing
        .iter()
        .map(|e| ((namespace_of(&e.metadata), name_of(&e.metadata)), &**e))
        .collect();
    let pods_by_namespace = by_namespace(pods);
    let mut changes = Vec::new();
    let mut wanted = BTreeSet::new();
    for service in services.iter() {
        let key = (namespace_of(&service.metadata), name_of(&service.metadata));
        wanted.insert(key);
        let Some(selector) = selector_of(service) else { continue };
        let selected: Vec<&CachedPod> = pods_by_namespace
            .get(key.0)
            .into_iter()
            .flatten()
            .copied()
            .filter(|pod| matches_selector(selector, pod))
            .collect();
        let current = by_key.get(&key).copied();
        if let Some(change) = plan_service(service, &selected, current) {
            changes.push(change);
        }
    }
    // Endpoints this controller made for a Service that is gone.
    for endpoints in existing.iter() {
        let key = (namespace_of(&endpoints.metadata), name_of(&endpoints.metadata));
        let ours = endpoints.metadata.labels.as_ref().and_then(|l| l.get(LABEL_MANAGED_BY))
            == Some(&CONTROLLER_NAME.to_owned());
        if ours && !wanted.contains(&key) && endpoints.metadata.deletion_timestamp.is_none() {
            changes.push(EndpointsChange::Delete {
                namespace: key.0.to_owned(),
                name: key.1.to_owned(),
                uid: endpoints.metadata.uid.clone().unwrap_or_default(),
            });
        }
    }
    changes
}

/// `syncService` for one Service: the Endpoints it should have, unless it has them already.
pub(crate) fn plan_service(
    service: &Service,
    pods: &[&CachedPod],
    current: Option<&Endpoints>,
) -> Option<EndpointsChange> {
    let (mut subsets, total) = subsets_for(service, pods);
    let truncated = total > MAX_CAPACITY;
    if truncated {
        subsets = truncate(subsets, MAX_CAPACITY);
    }
    let mut labels = service.metadata.labels.clone().unwrap_or_default();
    if is_headless(service) {
        labels.insert(LABEL_HEADLESS.to_owned(), String::new());
    }
    labels.insert(LABEL_MANAGED_BY.to_owned(), CONTROLLER_NAME.to_owned());
    if let Some(current) = current {
        let current_subsets = current.subsets.clone().unwrap_or_default();
        let over = current.metadata.annotations.as_ref().and_then(|a| a.get(ANN_OVER_CAPACITY));
        if current_subsets == subsets
            && current.metadata.labels.clone().unwrap_or_default() == labels
            && over.is_some() == truncated
        {
            return None;
        }
    }
    let mut metadata = current.map(|c| c.metadata.clone()).unwrap_or_else(|| ObjectMeta {
        name: service.metadata.name.clone(),
        namespace: service.metadata.namespace.clone(),
        ..ObjectMeta::default()
    });
    metadata.labels = Some(labels);
    let annotations = metadata.annotations.get_or_insert_default();
    match trigger_time(service, pods) {
        Some(time) => annotations.insert(ANN_TRIGGER_TIME.to_owned(), time.to_string()),
        None => annotations.remove(ANN_TRIGGER_TIME),
    };
    if truncated {
        annotations.insert(ANN_OVER_CAPACITY.to_owned(), "truncated".to_owned());
    } else {
        annotations.remove(ANN_OVER_CAPACITY);
    }
    if annotations.is_empty() {
        metadata.annotations = None;
    }
    let endpoints =
        Endpoints { metadata, subsets: if subsets.is_empty() { None } else { Some(subsets) } };
    Some(match current {
        Some(_) => EndpointsChange::Update(endpoints),
        None => EndpointsChange::Create(endpoints),
    })
}

/// The repacked subsets for a Service's selected pods, and how many addresses they hold.
pub(crate) fn subsets_for(service: &Service, pods: &[&CachedPod]) -> (Vec<EndpointSubset>, usize) {
    let spec = service.spec.clone().unwrap_or_default();
    let publish = spec.publish_not_ready_addresses.unwrap_or(false);
    let ports = spec.ports.clone().unwrap_or_default();
    // address (by IP and pod uid) → (address, ready, ports)
    let mut addresses: BTreeMap<(String, String), (EndpointAddress, bool, Vec<EndpointPort>)> =
        BTreeMap::new();
    for pod in pods {
        if !should_be_in_endpoints(pod, publish) {
            continue;
        }
        let Some(ip) = pod_ip(pod) else { continue };
        let address = EndpointAddress {
            ip: ip.to_owned(),
            hostname: should_set_hostname(pod, service).then(|| hostname_of(pod).to_owned()),
            node_name: pod.spec.as_ref().and_then(|s| s.node_name.clone()),
            target_ref: Some(pod_reference(pod)),
        };
        let ready = publish || pod.is_ready();
        let mut resolved = Vec::new();
        if ports.is_empty() {
            if !is_headless(service) {
                continue;
            }
        } else {
            for port in &ports {
                let Some(number) = find_port(pod, port) else { continue };
                resolved.push(EndpointPort {
                    name: port.name.clone().filter(|n| !n.is_empty()),
                    port: number,
                    protocol: Some(port.protocol.clone().unwrap_or_else(|| "TCP".to_owned())),
                    app_protocol: port.app_protocol.clone(),
                });
            }
            if resolved.is_empty() {
                continue;
            }
        }
        let key = (ip.to_owned(), pod.metadata.uid.clone().unwrap_or_default());
        addresses.insert(key, (address, ready, resolved));
    }
    let total = addresses.len();
    // RepackSubsets: addresses with the same ports share a subset.
    let mut by_ports: BTreeMap<String, EndpointSubset> = BTreeMap::new();
    for (_, (address, ready, mut ports)) in addresses {
        ports.sort_by(|a, b| (&a.name, a.port, &a.protocol).cmp(&(&b.name, b.port, &b.protocol)));
        let key = serde_json::to_string(&ports).unwrap_or_default();
        let subset = by_ports.entry(key).or_insert_with(|| EndpointSubset {
            addresses: None,
            not_ready_addresses: None,
            ports: if ports.is_empty() { None } else { Some(ports.clone()) },
        });
        let list = if ready { &mut subset.addresses } else { &mut subset.not_ready_addresses };
        list.get_or_insert_default().push(address);
    }
    (by_ports.into_values().collect(), total)
}

/// Keeps at most `max` addresses, ready ones first (`truncateEndpoints` keeps each subset's
/// share; this keeps the order simple and the total exact).
fn truncate(subsets: Vec<EndpointSubset>, max: usize) -> Vec<EndpointSubset> {
    let mut left = max;
    let mut subsets = subsets;
    for subset in &mut subsets {
        if let Some(list) = subset.addresses.as_mut() {
            list.truncate(left);
            left -= list.len();
        }
    }
    for subset in &mut subsets {
        if let Some(list) = subset.not_ready_addresses.as_mut() {
            list.truncate(left);
            left -= list.len();
        }
    }
    for subset in &mut subsets {
        if subset.addresses.as_ref().is_some_and(Vec::is_empty) {
            subset.addresses = None;
        }
        if subset.not_ready_addresses.as_ref().is_some_and(Vec::is_empty) {
            subset.not_ready_addresses = None;
        }
    }
    subsets.retain(|s| s.addresses.is_some() || s.not_ready_addresses.is_some());
    subsets
}

// === shared rules (endpoints and endpointslices) ===

/// The Service's selector, when it has a non-empty one (Services without one are managed by
/// their users).
pub(crate) fn selector_of(service: &Service) -> Option<&BTreeMap<String, String>> {
    service.spec.as_ref()?.selector.as_ref().filter(|s| !s.is_empty())
}

pub(crate) fn matches_selector(selector: &BTreeMap<String, String>, pod: &CachedPod) -> bool {
    let labels = pod.metadata.labels.as_ref();
    selector.iter().all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
}

pub(crate) fn by_namespace(pods: &[Arc<CachedPod>]) -> HashMap<&str, Vec<&CachedPod>> {
    let mut map: HashMap<&str, Vec<&CachedPod>> = HashMap::new();
    for pod in pods {
        map.entry(namespace_of(&pod.metadata)).or_default().push(pod);
    }
    for list in map.values_mut() {
        list.sort_by_key(|p| name_of(&p.metadata));
    }
    map
}

/// `clusterIP: None`.
pub(crate) fn is_headless(service: &Service) -> bool {
    service.spec.as_ref().and_then(|s| s.cluster_ip.as_deref()) == Some("None")
}

/// `ShouldPodBeInEndpoints`: has an IP, is not terminating (unless `include_terminating`),
/// and is not finished for good by its restart policy.
pub(crate) fn should_be_in_endpoints(pod: &CachedPod, include_terminating: bool) -> bool {
    if pod_ip(pod).is_none() {
        return false;
    }
    if !include_terminating && pod.metadata.deletion_timestamp.is_some() {
        return false;
    }
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or("");
    match pod.spec.as_ref().and_then(|s| s.restart_policy.as_deref()) {
        Some("Never") => phase != "Failed" && phase != "Succeeded",
        Some("OnFailure") => phase != "Succeeded",
        _ => true,
    }
}

/// `ShouldSetHostname`: the pod's hostname is published under the Service its subdomain
/// names, in its namespace.
pub(crate) fn should_set_hostname(pod: &CachedPod, service: &Service) -> bool {
    let spec = pod.spec.as_ref();
    let hostname = spec.and_then(|s| s.hostname.as_deref()).unwrap_or("");
    let subdomain = spec.and_then(|s| s.subdomain.as_deref()).unwrap_or("");
    !hostname.is_empty()
        && subdomain == name_of(&service.metadata)
        && pod.metadata.namespace == service.metadata.namespace
}

pub(crate) fn hostname_of(pod: &CachedPod) -> &str {
    pod.spec.as_ref().and_then(|s| s.hostname.as_deref()).unwrap_or("")
}

/// The pod's (first) IPv4 address.
pub(crate) fn pod_ip(pod: &CachedPod) -> Option<&str> {
    let status = pod.status.as_ref()?;
    let candidates = status
        .pod_ip
        .iter()
        .map(String::as_str)
        .chain(status.pod_ips.iter().flatten().map(|ip| ip.ip.as_str()));
    candidates.into_iter().find(|ip| ip.parse::<std::net::Ipv4Addr>().is_ok())
}

pub(crate) fn pod_reference(pod: &CachedPod) -> ObjectReference {
    ObjectReference {
        kind: Some("Pod".to_owned()),
        namespace: pod.metadata.namespace.clone(),
        name: pod.metadata.name.clone(),
        uid: pod.metadata.uid.clone(),
        ..ObjectReference::default()
    }
}

/// `FindPort`: a numeric targetPort as is (none = the Service port); a named one is looked up
/// among the pod's container ports of the same protocol.
pub(crate) fn find_port(pod: &CachedPod, port: &ServicePort) -> Option<i32> {
    match &port.target_port {
        None => Some(port.port),
        Some(IntOrString::Int(number)) => Some(*number),
        Some(IntOrString::String(name)) => {
            let protocol = port.protocol.as_deref().unwrap_or("TCP");
            pod.spec.as_ref()?.containers.iter().flat_map(|c| c.ports.iter().flatten()).find_map(
                |p| {
                    (p.name.as_deref() == Some(name.as_str())
                        && p.protocol.as_deref().unwrap_or("TCP") == protocol)
                        .then_some(p.container_port)
                },
            )
        }
    }
}

/// The time of the newest change that shaped these endpoints: the Service's creation or a
/// pod's Ready transition (the triggers endpoints_controller's tracker records).
pub(crate) fn trigger_time(service: &Service, pods: &[&CachedPod]) -> Option<Timestamp> {
    let service_time = service.metadata.creation_timestamp.as_ref().map(|t| t.0);
    let pod_times = pods.iter().filter_map(|pod| {
        let conditions = pod.status.as_ref()?.conditions.as_ref()?;
        conditions.iter().find(|c| c.type_ == "Ready")?.last_transition_time.as_ref().map(|t| t.0)
    });
    service_time.into_iter().chain(pod_times).max()
}

// === the loop ===

/// The Endpoints controller: never returns.
pub(crate) async fn run(context: Context) {
    let wake = Arc::new(Notify::new());
    let informers = &context.informers;
    let services = cache::cache(informers, &wake);
    let pods = cache::cache(informers, &wake);
    let endpoints = cache::cache(informers, &wake);
    reconcile(context.client.clone(), services, pods, endpoints, wake).await;
}

async fn reconcile(
    client: kube::Client,
    services: Store<Service>,
    pods: Store<CachedPod>,
    endpoints: Store<Endpoints>,
    wake: Arc<Notify>,
) {
    services.wait_until_ready().await;
    pods.wait_until_ready().await;
    endpoints.wait_until_ready().await;
    cache::write_loop(client, &endpoints, &wake, "endpoints", || {
        plan(&services.state(), &pods.state(), &endpoints.state())
    })
    .await;
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::Service;

    use crate::cached_pod::CachedPod;
    use serde_json::{Value, json};

    use super::{EndpointsChange, plan_service, subsets_for};

    fn service(extra: Value) -> Service {
        let mut value = json!({
            "metadata": { "name": "nginx", "namespace": "default" },
            "spec": { "clusterIP": "None", "selector": { "app": "nginx" },
                      "ports": [{ "name": "web", "port": 80, "targetPort": "web" },
                                { "name": "metrics", "port": 9000, "targetPort": 9100 }] },
        });
        if let (Value::Object(spec), Value::Object(extra)) = (&mut value["spec"], extra) {
            spec.extend(extra);
        }
        serde_json::from_value(value).unwrap()
    }

    /// A pod: name, IP, ready, terminating, the container port named `web`.
    fn pod(name: &str, ip: &str, ready: bool, terminating: bool, web: Option<i32>) -> CachedPod {
        let ports: Vec<Value> =
            web.into_iter().map(|p| json!({ "name": "web", "containerPort": p })).collect();
        let mut value = json!({
            "metadata": { "name": name, "namespace": "default", "uid": format!("uid-{name}") },
            "spec": { "hostname": name, "subdomain": "nginx", "nodeName": "node-a",
                      "containers": [{ "name": "c", "ports": ports }] },
            "status": { "phase": "Running", "podIP": ip,
                        "conditions": [{ "type": "Ready", "status": if ready { "True" } else { "False" } }] },
        });
        if terminating {
            value["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
        }
        serde_json::from_value(value).unwrap()
    }

    /// A subset as (ready IPs, not-ready IPs, ports as name:port).
    type Shape = (Vec<String>, Vec<String>, Vec<String>);

    fn shape(service: &Service, pods: &[CachedPod]) -> Vec<Shape> {
        let pods: Vec<&CachedPod> = pods.iter().collect();
        let ips = |list: &Option<Vec<k8s_openapi::api::core::v1::EndpointAddress>>| {
            list.iter().flatten().map(|a| a.ip.clone()).collect::<Vec<_>>()
        };
        subsets_for(service, &pods)
            .0
            .iter()
            .map(|s| {
                let ports = s
                    .ports
                    .iter()
                    .flatten()
                    .map(|p| format!("{}:{}", p.name.clone().unwrap_or_default(), p.port))
                    .collect();
                (ips(&s.addresses), ips(&s.not_ready_addresses), ports)
            })
            .collect()
    }

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn subsets_follow_readiness_ports_and_termination() {
        let cases: Vec<(&str, Service, Vec<CachedPod>, Vec<Shape>)> = vec![
            (
                "ready and not ready pods share a subset; named ports resolve per pod",
                service(json!({})),
                vec![
                    pod("a", "10.0.0.1", true, false, Some(8080)),
                    pod("b", "10.0.0.2", false, false, Some(8080)),
                ],
                vec![(
                    strings(&["10.0.0.1"]),
                    strings(&["10.0.0.2"]),
                    strings(&["metrics:9100", "web:8080"]),
                )],
            ),
            (
                "a pod whose named port differs gets a subset of its own",
                service(json!({})),
                vec![
                    pod("a", "10.0.0.1", true, false, Some(8080)),
                    pod("b", "10.0.0.2", true, false, Some(8081)),
                ],
                vec![
                    (strings(&["10.0.0.1"]), vec![], strings(&["metrics:9100", "web:8080"])),
                    (strings(&["10.0.0.2"]), vec![], strings(&["metrics:9100", "web:8081"])),
                ],
            ),
            (
                "a pod without the named port only has the numeric one",
                service(json!({})),
                vec![pod("a", "10.0.0.1", true, false, None)],
                vec![(strings(&["10.0.0.1"]), vec![], strings(&["metrics:9100"]))],
            ),
            (
                "terminating pods are left out",
                service(json!({})),
                vec![
                    pod("a", "10.0.0.1", true, true, Some(8080)),
                    pod("b", "", true, false, Some(8080)),
                ],
                vec![],
            ),
            (
                "publishNotReadyAddresses: every pod with an IP is ready, terminating ones too",
                service(json!({ "publishNotReadyAddresses": true })),
                vec![
                    pod("a", "10.0.0.1", false, true, Some(8080)),
                    pod("b", "10.0.0.2", false, false, Some(8080)),
                ],
                vec![(
                    strings(&["10.0.0.1", "10.0.0.2"]),
                    vec![],
                    strings(&["metrics:9100", "web:8080"]),
                )],
            ),
            (
                "a headless Service without ports lists addresses only",
                service(json!({ "ports": [] })),
                vec![pod("a", "10.0.0.1", true, false, None)],
                vec![(strings(&["10.0.0.1"]), vec![], vec![])],
            ),
            (
                "a ClusterIP Service without ports lists nothing",
                service(json!({ "ports": [], "clusterIP": "10.96.0.5" })),
                vec![pod("a", "10.0.0.1", true, false, None)],
                vec![],
            ),
        ];
        for (name, service, pods, expected) in cases {
            assert_eq!(shape(&service, &pods), expected, "{name}");
        }
    }

    #[test]
    fn hostnames_only_under_the_subdomain_service() {
        let mut other = service(json!({}));
        other.metadata.name = Some("other".to_owned());
        let pods = [pod("a", "10.0.0.1", true, false, Some(8080))];
        let pods: Vec<&CachedPod> = pods.iter().collect();
        let hostname = |service: &Service| {
            subsets_for(service, &pods).0[0].addresses.as_ref().unwrap()[0].hostname.clone()
        };
        assert_eq!(hostname(&service(json!({}))), Some("a".to_owned()));
        assert_eq!(hostname(&other), None);
    }

    #[test]
    fn an_up_to_date_endpoints_object_is_left_alone() {
        let service = service(json!({}));
        let pods = [pod("a", "10.0.0.1", true, false, Some(8080))];
        let pods: Vec<&CachedPod> = pods.iter().collect();
        let Some(EndpointsChange::Create(created)) = plan_service(&service, &pods, None) else {
            panic!("a new Service gets its Endpoints created");
        };
        assert_eq!(plan_service(&service, &pods, Some(&created)), None);
        let none: Vec<&CachedPod> = Vec::new();
        let Some(EndpointsChange::Update(emptied)) = plan_service(&service, &none, Some(&created))
        else {
            panic!("losing its pods updates the Endpoints");
        };
        assert_eq!(emptied.subsets, None);
    }
}
