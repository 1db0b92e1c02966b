//! The EndpointSlice controller (pkg/controller/endpointslice and staging/src/k8s.io/
//! endpointslice `reconciler.go`, `utils.go`, v1.33): for every Service with a selector,
//! IPv4 EndpointSlices named `<service>-<random>` holding one endpoint per selected pod with
//! an IP (terminating ones included, with their conditions), at most 100 per slice. Endpoints
//! stay in the slice they are in; new ones fill slices with room before a slice is created;
//! a Service with no endpoints keeps one empty placeholder slice.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use tokio::sync::Notify;

use crate::Context;
use crate::cache;
use crate::cached_pod::CachedPod;
use crate::endpoints::{
    ANN_TRIGGER_TIME, LABEL_HEADLESS, by_namespace, find_port, hostname_of, is_headless,
    matches_selector, pod_ip, pod_reference, selector_of, should_be_in_endpoints,
    should_set_hostname, trigger_time,
};
use crate::informer::Store;
use crate::volume::{name_of, namespace_of};

/// `discovery.LabelServiceName`.
pub(crate) const LABEL_SERVICE_NAME: &str = "kubernetes.io/service-name";
/// `discovery.LabelManagedBy` and the controller's name.
pub(crate) const LABEL_MANAGED_BY: &str = "endpointslice.kubernetes.io/managed-by";
pub(crate) const CONTROLLER_NAME: &str = "endpointslice-controller.k8s.io";
/// `maxEndpointsPerSlice` default.
pub(crate) const MAX_ENDPOINTS_PER_SLICE: usize = 100;

/// One write to an EndpointSlice.
pub(crate) type SliceChange = cache::Change<EndpointSlice>;

/// The writes that make every selector Service's slices match its pods.
pub(crate) fn plan(
    services: &[Arc<Service>],
    pods: &[Arc<CachedPod>],
    slices: &[Arc<EndpointSlice>],
) -> Vec<SliceChange> {
    let pods_by_namespace = by_namespace(pods);
    let mut owned: HashMap<(&str, &str), Vec<&EndpointSlice>> = HashMap::new();
    for slice in slices.iter() {
        let labels = slice.metadata.labels.as_ref();
        if labels.and_then(|l| l.get(LABEL_MANAGED_BY)).map(String::as_str) != Some(CONTROLLER_NAME)
        {
            continue;
        }
        let Some(service) = labels.and_then(|l| l.get(LABEL_SERVICE_NAME)) else { continue };
        owned.entry((namespace_of(&slice.metadata), service.as_str())).or_default().push(slice);
    }
    let mut changes = Vec::new();
    let mut served = HashSet::new();
    for service in services.iter() {
        let key = (namespace_of(&service.metadata), name_of(&service.metadata));
        // Slices of an existing Service are only ever reconciled, never orphan-deleted: one
        // without a selector, or of type ExternalName (issue 105986), gets nothing from this
        // controller and keeps what it has, as upstream does.
        served.insert(key);
        let external =
            service.spec.as_ref().and_then(|s| s.type_.as_deref()) == Some("ExternalName");
        if external {
            continue;
        }
        let Some(selector) = selector_of(service) else { continue };
        let selected: Vec<&CachedPod> = pods_by_namespace
            .get(key.0)
            .into_iter()
            .flatten()
            .copied()
            .filter(|pod| matches_selector(selector, pod))
            .collect();
        let mut mine = owned.get(&key).cloned().unwrap_or_default();
        // Slices left by an earlier Service of the same name go (the GC would remove them too).
        mine.retain(|slice| {
            let current = owner_uid(slice) == service.metadata.uid.as_deref();
            if !current {
                changes.push(delete(slice));
            }
            current
        });
        changes.extend(plan_service(service, &selected, mine));
    }
    for (key, slices) in owned {
        if !served.contains(&key) {
            changes.extend(slices.into_iter().map(delete));
        }
    }
    changes
}

fn owner_uid(slice: &EndpointSlice) -> Option<&str> {
    slice
        .metadata
        .owner_references
        .iter()
        .flatten()
        .find(|o| o.controller == Some(true) && o.kind == "Service")
        .map(|o| o.uid.as_str())
}

fn delete(slice: &EndpointSlice) -> SliceChange {
    SliceChange::Delete {
        namespace: namespace_of(&slice.metadata).to_owned(),
        name: name_of(&slice.metadata).to_owned(),
        uid: slice.metadata.uid.clone().unwrap_or_default(),
    }
}

/// The endpoint and ports a pod contributes (`podToEndpoint`, `getEndpointPorts`).
pub(crate) fn endpoint_for(
    service: &Service,
    pod: &CachedPod,
) -> Option<(Endpoint, Vec<EndpointPort>)> {
    if !should_be_in_endpoints(pod, true) {
        return None;
    }
    let ip = pod_ip(pod)?;
    let publish =
        service.spec.as_ref().and_then(|s| s.publish_not_ready_addresses).unwrap_or(false);
    let serving = publish || pod.is_ready();
    let terminating = pod.metadata.deletion_timestamp.is_some();
    let ready = publish || (serving && !terminating);
    let node_name = pod.spec.as_ref().and_then(|s| s.node_name.clone()).filter(|n| !n.is_empty());
    let endpoint = Endpoint {
        addresses: vec![ip.to_owned()],
        conditions: Some(EndpointConditions {
            ready: Some(ready),
            serving: Some(serving),
            terminating: Some(terminating),
        }),
        hostname: should_set_hostname(pod, service).then(|| hostname_of(pod).to_owned()),
        node_name,
        target_ref: Some(pod_reference(pod)),
        ..Endpoint::default()
    };
    let ports = service
        .spec
        .as_ref()
        .and_then(|s| s.ports.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|port| {
            Some(EndpointPort {
                name: Some(port.name.clone().unwrap_or_default()),
                port: Some(find_port(pod, port)?),
                protocol: Some(port.protocol.clone().unwrap_or_else(|| "TCP".to_owned())),
                app_protocol: port.app_protocol.clone(),
            })
        })
        .collect();
    Some((endpoint, ports))
}

fn endpoint_key(endpoint: &Endpoint) -> String {
    endpoint
        .target_ref
        .as_ref()
        .and_then(|r| r.uid.clone())
        .unwrap_or_else(|| endpoint.addresses.join(","))
}

fn ports_key(ports: &Option<Vec<EndpointPort>>) -> String {
    serde_json::to_string(ports.as_deref().unwrap_or_default()).unwrap_or_default()
}

/// Endpoints sharing a port set: the ports, and (key, endpoint) pairs in pod order.
type Group = (Option<Vec<EndpointPort>>, Vec<(String, Endpoint)>);

/// One slice as the plan builds it: the existing one it came from (if any), its ports and
/// endpoints.
struct Draft<'a> {
    existing: Option<&'a EndpointSlice>,
    ports: Option<Vec<EndpointPort>>,
    endpoints: Vec<Endpoint>,
}

/// The reconciler for one Service and the slices it owns.
pub(crate) fn plan_service(
    service: &Service,
    pods: &[&CachedPod],
    mut slices: Vec<&EndpointSlice>,
) -> Vec<SliceChange> {
    slices.sort_by_key(|s| name_of(&s.metadata));
    // Desired endpoints, grouped by their ports (one slice holds one port set), in pod order.
    let mut groups: BTreeMap<String, Group> = BTreeMap::new();
    for pod in pods {
        let Some((endpoint, ports)) = endpoint_for(service, pod) else { continue };
        let ports = if ports.is_empty() { None } else { Some(ports) };
        let key = ports_key(&ports);
        groups
            .entry(key)
            .or_insert_with(|| (ports, Vec::new()))
            .1
            .push((endpoint_key(&endpoint), endpoint));
    }
    let total: usize = groups.values().map(|(_, e)| e.len()).sum();
    // Endpoints stay where they are.
    let mut drafts: Vec<Draft<'_>> = slices
        .iter()
        .map(|slice| {
            let key = ports_key(&slice.ports);
            let mut kept = Vec::new();
            if let Some((_, wanted)) = groups.get_mut(&key) {
                for endpoint in &slice.endpoints {
                    let id = endpoint_key(endpoint);
                    if let Some(at) = wanted.iter().position(|(k, _)| *k == id) {
                        kept.push(wanted.remove(at).1);
                    }
                }
            }
            Draft { existing: Some(slice), ports: slice.ports.clone(), endpoints: kept }
        })
        .collect();
    // New endpoints fill slices of their port set with room, then emptied slices, then new
    // slices.
    for (key, (ports, wanted)) in groups {
        let mut wanted = wanted.into_iter().map(|(_, e)| e).peekable();
        for draft in drafts.iter_mut() {
            if wanted.peek().is_none() {
                break;
            }
            let same = ports_key(&draft.ports) == key;
            if !same && !draft.endpoints.is_empty() {
                continue;
            }
            if !same {
                draft.ports = ports.clone();
            }
            while draft.endpoints.len() < MAX_ENDPOINTS_PER_SLICE {
                let Some(endpoint) = wanted.next() else { break };
                draft.endpoints.push(endpoint);
            }
        }
        let rest: Vec<Endpoint> = wanted.collect();
        for chunk in rest.chunks(MAX_ENDPOINTS_PER_SLICE) {
            drafts.push(Draft { existing: None, ports: ports.clone(), endpoints: chunk.to_vec() });
        }
    }
    // A Service without endpoints keeps one empty placeholder slice.
    if total == 0 {
        match drafts.iter_mut().find(|d| d.existing.is_some()) {
            Some(first) => {
                first.ports = None;
                first.endpoints.clear();
            }
            None => drafts.push(Draft { existing: None, ports: None, endpoints: Vec::new() }),
        }
    }
    let labels = labels_for(service);
    let trigger = trigger_time(service, pods).map(|t| t.to_string());
    let mut placeholder_kept = false;
    let mut changes = Vec::new();
    for draft in drafts {
        if draft.endpoints.is_empty() {
            if total > 0 || placeholder_kept {
                if let Some(existing) = draft.existing {
                    changes.push(delete(existing));
                }
                continue;
            }
            placeholder_kept = true;
        }
        match draft.existing {
            Some(existing) => {
                if existing.endpoints == draft.endpoints
                    && existing.ports == draft.ports
                    && existing.metadata.labels.as_ref() == Some(&labels)
                    && existing.address_type == "IPv4"
                {
                    continue;
                }
                let mut updated = existing.clone();
                updated.endpoints = draft.endpoints;
                updated.ports = draft.ports;
                updated.metadata.labels = Some(labels.clone());
                set_trigger(&mut updated.metadata, trigger.as_deref());
                changes.push(SliceChange::Update(updated));
            }
            None => {
                let mut metadata = ObjectMeta {
                    generate_name: Some(format!("{}-", name_of(&service.metadata))),
                    namespace: service.metadata.namespace.clone(),
                    labels: Some(labels.clone()),
                    owner_references: Some(vec![crate::meta::new_controller_ref(service)]),
                    ..ObjectMeta::default()
                };
                set_trigger(&mut metadata, trigger.as_deref());
                changes.push(SliceChange::Create(EndpointSlice {
                    address_type: "IPv4".to_owned(),
                    endpoints: draft.endpoints,
                    metadata,
                    ports: draft.ports,
                }));
            }
        }
    }
    changes
}

fn set_trigger(metadata: &mut ObjectMeta, trigger: Option<&str>) {
    let annotations = metadata.annotations.get_or_insert_default();
    match trigger {
        Some(time) => annotations.insert(ANN_TRIGGER_TIME.to_owned(), time.to_owned()),
        None => annotations.remove(ANN_TRIGGER_TIME),
    };
    if annotations.is_empty() {
        metadata.annotations = None;
    }
}

/// `setEndpointSliceLabels`: the Service's labels (minus the reserved ones) plus service-name,
/// managed-by and, for headless Services, the headless label.
fn labels_for(service: &Service) -> BTreeMap<String, String> {
    let mut labels = service.metadata.labels.clone().unwrap_or_default();
    labels.remove(LABEL_SERVICE_NAME);
    labels.remove(LABEL_MANAGED_BY);
    labels.remove(LABEL_HEADLESS);
    labels.insert(LABEL_SERVICE_NAME.to_owned(), name_of(&service.metadata).to_owned());
    labels.insert(LABEL_MANAGED_BY.to_owned(), CONTROLLER_NAME.to_owned());
    if is_headless(service) {
        labels.insert(LABEL_HEADLESS.to_owned(), String::new());
    }
    labels
}

// === the loop ===

/// The EndpointSlice controller: never returns.
pub(crate) async fn run(context: Context) {
    let wake = Arc::new(Notify::new());
    let informers = &context.informers;
    let services = cache::cache(informers, &wake);
    let pods = cache::cache(informers, &wake);
    let slices = cache::cache(informers, &wake);
    reconcile(context.client.clone(), services, pods, slices, wake).await;
}

async fn reconcile(
    client: kube::Client,
    services: Store<Service>,
    pods: Store<CachedPod>,
    slices: Store<EndpointSlice>,
    wake: Arc<Notify>,
) {
    services.wait_until_ready().await;
    pods.wait_until_ready().await;
    slices.wait_until_ready().await;
    cache::write_loop(client, &slices, &wake, "endpointslice", || {
        plan(&services.state(), &pods.state(), &slices.state())
    })
    .await;
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::Service;

    use crate::cached_pod::CachedPod;
    use k8s_openapi::api::discovery::v1::EndpointSlice;
    use serde_json::json;

    use super::{SliceChange, plan_service};

    fn service() -> Service {
        serde_json::from_value(json!({
            "metadata": { "name": "web", "namespace": "default", "uid": "svc-uid" },
            "spec": { "selector": { "app": "web" }, "ports": [{ "name": "http", "port": 80 }] },
        }))
        .unwrap()
    }

    fn pod(index: usize) -> CachedPod {
        serde_json::from_value(json!({
            "metadata": { "name": format!("web-{index:03}"), "namespace": "default", "uid": format!("uid-{index}") },
            "spec": { "containers": [] },
            "status": { "phase": "Running", "podIP": format!("10.0.{}.{}", index / 200, index % 200 + 1),
                        "conditions": [{ "type": "Ready", "status": "True" }] },
        }))
        .unwrap()
    }

    /// Applies a plan to a list of slices the way the API would (names for created ones).
    fn apply(slices: &mut Vec<EndpointSlice>, changes: Vec<SliceChange>) {
        for change in changes {
            match change {
                SliceChange::Create(mut slice) => {
                    slice.metadata.name = Some(format!("web-{}", slices.len() + 100));
                    slices.push(slice);
                }
                SliceChange::Update(slice) => {
                    let at =
                        slices.iter().position(|s| s.metadata.name == slice.metadata.name).unwrap();
                    slices[at] = slice;
                }
                SliceChange::Delete { name, .. } => {
                    slices.retain(|s| s.metadata.name.as_deref() != Some(&name))
                }
            }
        }
    }

    fn sizes(slices: &[EndpointSlice]) -> Vec<usize> {
        let mut sizes: Vec<usize> = slices.iter().map(|s| s.endpoints.len()).collect();
        sizes.sort();
        sizes
    }

    #[test]
    fn slices_hold_at_most_a_hundred_endpoints_and_keep_them_in_place() {
        let service = service();
        let pods: Vec<CachedPod> = (0..250).map(pod).collect();
        let mut slices = Vec::new();
        let refs: Vec<&CachedPod> = pods.iter().collect();
        apply(&mut slices, plan_service(&service, &refs, vec![]));
        assert_eq!(sizes(&slices), vec![50, 100, 100]);
        let first = &slices[0];
        assert_eq!(first.address_type, "IPv4");
        assert_eq!(first.metadata.generate_name.as_deref(), Some("web-"));
        let labels = first.metadata.labels.clone().unwrap();
        assert_eq!(labels["kubernetes.io/service-name"], "web");
        assert_eq!(
            labels["endpointslice.kubernetes.io/managed-by"],
            "endpointslice-controller.k8s.io"
        );
        assert!(!labels.contains_key("service.kubernetes.io/headless"));
        assert_eq!(first.metadata.owner_references.as_ref().unwrap()[0].uid, "svc-uid");

        // Converged: nothing to do.
        let current: Vec<&EndpointSlice> = slices.iter().collect();
        assert_eq!(plan_service(&service, &refs, current), vec![]);

        // Pod 0 goes and pod 250 comes: one slice changes, the new endpoint takes the free
        // place rather than a new slice.
        let mut pods = pods;
        pods.remove(0);
        pods.push(pod(250));
        let refs: Vec<&CachedPod> = pods.iter().collect();
        let current: Vec<&EndpointSlice> = slices.iter().collect();
        let changes = plan_service(&service, &refs, current);
        assert!(changes.iter().all(|c| matches!(c, SliceChange::Update(_))), "{changes:?}");
        assert!(changes.len() <= 2, "{changes:?}");
        apply(&mut slices, changes);
        assert_eq!(sizes(&slices), vec![50, 100, 100]);

        // All pods gone: one empty placeholder slice remains.
        let current: Vec<&EndpointSlice> = slices.iter().collect();
        let changes = plan_service(&service, &[], current);
        apply(&mut slices, changes);
        assert_eq!(sizes(&slices), vec![0]);
        assert_eq!(slices[0].ports, None);
        // Pods again: the placeholder is reused.
        let refs: Vec<&CachedPod> = pods.iter().take(3).collect();
        let current: Vec<&EndpointSlice> = slices.iter().collect();
        let changes = plan_service(&service, &refs, current);
        assert!(matches!(changes.as_slice(), [SliceChange::Update(_)]), "{changes:?}");
        apply(&mut slices, changes);
        assert_eq!(sizes(&slices), vec![3]);
    }

    #[test]
    fn conditions_follow_readiness_termination_and_publish_not_ready() {
        let mut terminating = pod(1);
        terminating.metadata.deletion_timestamp =
            Some(serde_json::from_value(json!("2026-01-01T00:00:00Z")).unwrap());
        let mut unready = pod(2);
        unready.status.as_mut().unwrap().conditions.as_mut().unwrap()[0].status =
            "False".to_owned();
        let conditions = |service: &Service, pod: &CachedPod| {
            let (endpoint, _) = super::endpoint_for(service, pod).unwrap();
            let c = endpoint.conditions.unwrap();
            (c.ready.unwrap(), c.serving.unwrap(), c.terminating.unwrap())
        };
        let plain = service();
        assert_eq!(conditions(&plain, &pod(0)), (true, true, false));
        assert_eq!(conditions(&plain, &terminating), (false, true, true));
        assert_eq!(conditions(&plain, &unready), (false, false, false));
        let mut publish = service();
        publish.spec.as_mut().unwrap().publish_not_ready_addresses = Some(true);
        assert_eq!(conditions(&publish, &terminating), (true, true, true));
        assert_eq!(conditions(&publish, &unready), (true, true, false));
    }
}
