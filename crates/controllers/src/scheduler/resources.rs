//! Resource quantities and what a pod requests, as kube-scheduler counts them: `cpu` in
//! millicores, everything else in whole units (bytes), rounded up like `Quantity.Value()`.
//!
//! Quantities are read by `berth_api::quantity`. Source: k8s.io/component-helpers/resource/
//! helpers.go `PodRequests` (init containers, sidecars, overhead).

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use crate::cached_pod::{CachedContainer, CachedPodSpec};

/// `cpu` requested when a container sets none, for scoring only (schedutil.DefaultMilliCPURequest).
pub(crate) const DEFAULT_MILLI_CPU: i64 = 100;
/// `memory` requested when a container sets none, for scoring only (200 MiB).
pub(crate) const DEFAULT_MEMORY: i64 = 200 * 1024 * 1024;

/// A quantity in the unit the scheduler compares it in: millicores for `cpu`, whole units
/// (rounded up) for everything else. Unparsable quantities count as zero (the apiserver
/// validates them).
pub(crate) fn amount(resource: &str, quantity: &Quantity) -> i64 {
    use berth_api::quantity::{milli, whole};
    let value = if resource == "cpu" { milli(&quantity.0) } else { whole(&quantity.0) };
    i64::try_from(value.unwrap_or(0)).unwrap_or(i64::MAX)
}

/// Amounts by resource name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Resources(pub(crate) BTreeMap<String, i64>);

impl Resources {
    pub(crate) fn from_map(map: Option<&BTreeMap<String, Quantity>>) -> Resources {
        Resources(
            map.into_iter()
                .flatten()
                .map(|(name, quantity)| (name.clone(), amount(name, quantity)))
                .collect(),
        )
    }

    pub(crate) fn get(&self, resource: &str) -> i64 {
        self.0.get(resource).copied().unwrap_or(0)
    }

    pub(crate) fn add(&mut self, other: &Resources) {
        for (name, value) in &other.0 {
            *self.0.entry(name.clone()).or_insert(0) += value;
        }
    }

    pub(crate) fn sub(&mut self, other: &Resources) {
        for (name, value) in &other.0 {
            *self.0.entry(name.clone()).or_insert(0) -= value;
        }
    }

    fn max(&mut self, other: &Resources) {
        for (name, value) in &other.0 {
            let entry = self.0.entry(name.clone()).or_insert(0);
            *entry = (*entry).max(*value);
        }
    }
}

/// A container's requests; a resource with a limit but no request requests its limit (the
/// apiserver's defaulting does the same).
fn container_requests(container: &CachedContainer) -> Resources {
    let resources = container.resources.as_ref();
    let mut requests = Resources::from_map(resources.and_then(|r| r.requests.as_ref()));
    for (name, value) in Resources::from_map(resources.and_then(|r| r.limits.as_ref())).0 {
        requests.0.entry(name).or_insert(value);
    }
    requests
}

/// What a pod requests: its containers (and sidecars) together, or its largest init step
/// if that is more, plus the pod overhead.
pub(crate) fn pod_requests(spec: &CachedPodSpec) -> Resources {
    let mut requests = Resources::default();
    for container in &spec.containers {
        requests.add(&container_requests(container));
    }
    let mut sidecars = Resources::default();
    let mut init_max = Resources::default();
    for container in spec.init_containers.iter().flatten() {
        let mut step = container_requests(container);
        if container.restart_policy.as_deref() == Some("Always") {
            requests.add(&step);
            sidecars.add(&step);
            step = sidecars.clone();
        } else {
            step.add(&sidecars);
        }
        init_max.max(&step);
    }
    requests.max(&init_max);
    requests.add(&Resources::from_map(spec.overhead.as_ref()));
    requests.0.retain(|_, value| *value != 0);
    requests
}

/// The pod's cpu and memory requests with kube-scheduler's non-zero defaults per container,
/// used for scoring (schedutil.GetNonzeroRequests).
pub(crate) fn nonzero_requests(spec: &CachedPodSpec) -> (i64, i64) {
    let mut cpu = 0;
    let mut memory = 0;
    for container in &spec.containers {
        let requests = container_requests(container);
        cpu += Some(requests.get("cpu")).filter(|v| *v > 0).unwrap_or(DEFAULT_MILLI_CPU);
        memory += Some(requests.get("memory")).filter(|v| *v > 0).unwrap_or(DEFAULT_MEMORY);
    }
    let total = pod_requests(spec);
    (cpu.max(total.get("cpu")), memory.max(total.get("memory")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container(requests: &[(&str, &str)], limits: &[(&str, &str)]) -> CachedContainer {
        let map = |pairs: &[(&str, &str)]| {
            Some(
                pairs
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), Quantity((*v).to_owned())))
                    .collect::<BTreeMap<_, _>>(),
            )
        };
        CachedContainer {
            resources: Some(k8s_openapi::api::core::v1::ResourceRequirements {
                requests: map(requests),
                limits: map(limits),
                ..Default::default()
            }),
            ..CachedContainer::default()
        }
    }

    #[test]
    fn pod_requests_take_init_max_sidecars_and_overhead() {
        let mut sidecar = container(&[("cpu", "100m")], &[]);
        sidecar.restart_policy = Some("Always".to_owned());
        let spec = CachedPodSpec {
            containers: vec![
                container(&[("cpu", "200m"), ("memory", "1Mi")], &[]),
                container(&[], &[("cpu", "300m")]),
            ],
            init_containers: Some(vec![
                container(&[("cpu", "1")], &[]),
                sidecar,
                container(&[("cpu", "950m")], &[]),
            ]),
            overhead: Some([("cpu".to_owned(), Quantity("10m".to_owned()))].into()),
            ..CachedPodSpec::default()
        };
        let requests = pod_requests(&spec);
        // containers 500m + sidecar 100m = 600m; init max(1000m, 950m + 100m) = 1050m.
        assert_eq!(requests.get("cpu"), 1060);
        assert_eq!(requests.get("memory"), 1024 * 1024);
        assert_eq!(
            nonzero_requests(&CachedPodSpec {
                containers: vec![CachedContainer::default()],
                ..CachedPodSpec::default()
            }),
            (100, DEFAULT_MEMORY)
        );
    }
}
