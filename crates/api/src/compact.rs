//! Compacting decoded objects a client keeps in memory. serde fills a `Vec` by pushing, and
//! JSON gives no length up front, so a list of one struct smaller than 1 KiB gets room for
//! four: a pod's single container status (752 bytes) then takes 3 KB, its five conditions
//! eight slots. Caches hold every pod, so [`pod`] shrinks a pod's lists to their length before
//! the kubelet or the controllers' informer keep it.

use k8s_openapi::api::core::v1::{Container, ContainerStatus, Pod};

/// Shrinks every list `pod` carries (metadata, spec, containers, status) to its length.
pub fn pod(pod: &mut Pod) {
    let metadata = &mut pod.metadata;
    shrink(&mut metadata.owner_references);
    shrink(&mut metadata.finalizers);
    shrink(&mut metadata.managed_fields);
    if let Some(spec) = pod.spec.as_mut() {
        spec.containers.shrink_to_fit();
        spec.containers.iter_mut().for_each(container);
        spec.init_containers.iter_mut().flatten().for_each(container);
        shrink(&mut spec.init_containers);
        shrink(&mut spec.ephemeral_containers);
        shrink(&mut spec.tolerations);
        shrink(&mut spec.volumes);
        shrink(&mut spec.image_pull_secrets);
        shrink(&mut spec.readiness_gates);
        shrink(&mut spec.host_aliases);
        shrink(&mut spec.topology_spread_constraints);
        shrink(&mut spec.resource_claims);
        shrink(&mut spec.scheduling_gates);
    }
    if let Some(status) = pod.status.as_mut() {
        shrink(&mut status.conditions);
        for statuses in [
            &mut status.container_statuses,
            &mut status.init_container_statuses,
            &mut status.ephemeral_container_statuses,
        ] {
            statuses.iter_mut().flatten().for_each(container_status);
            shrink(statuses);
        }
        shrink(&mut status.pod_ips);
        shrink(&mut status.host_ips);
        shrink(&mut status.resource_claim_statuses);
    }
}

fn container(container: &mut Container) {
    shrink(&mut container.args);
    shrink(&mut container.command);
    shrink(&mut container.env);
    shrink(&mut container.env_from);
    shrink(&mut container.ports);
    shrink(&mut container.resize_policy);
    shrink(&mut container.volume_devices);
    shrink(&mut container.volume_mounts);
}

fn container_status(status: &mut ContainerStatus) {
    shrink(&mut status.volume_mounts);
    shrink(&mut status.allocated_resources_status);
}

fn shrink<T>(list: &mut Option<Vec<T>>) {
    if let Some(list) = list {
        list.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_decoded_pod_keeps_no_spare_room_and_the_same_content() {
        // Decoded from text, as clients do: a `Value`'s arrays would tell serde their length.
        let text = json!({
            "metadata": { "name": "web-0", "ownerReferences": [
                { "apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web", "uid": "u" }
            ] },
            "spec": {
                "containers": [{ "name": "app", "ports": [{ "containerPort": 80 }],
                                 "env": [{ "name": "A", "value": "1" }] }],
                "tolerations": [{ "key": "a" }, { "key": "b" }],
            },
            "status": {
                "conditions": [
                    { "type": "Ready", "status": "True" },
                    { "type": "PodScheduled", "status": "True" },
                ],
                "containerStatuses": [{ "name": "app", "image": "nginx", "imageID": "",
                                        "ready": true, "restartCount": 0 }],
                "podIPs": [{ "ip": "10.0.0.1" }],
            },
        })
        .to_string();
        let decoded: Pod = serde_json::from_str(&text).expect("a pod");
        let status = decoded.status.as_ref().expect("status");
        assert!(
            status.container_statuses.as_ref().is_some_and(|s| s.capacity() > s.len()),
            "serde leaves spare room (else this test shows nothing)"
        );
        let mut compacted = decoded.clone();
        pod(&mut compacted);
        assert_eq!(compacted, decoded);
        fn spare<T>(list: &Option<Vec<T>>) -> usize {
            list.as_ref().map_or(0, |list| list.capacity() - list.len())
        }
        let (status, spec) = (compacted.status.expect("status"), compacted.spec.expect("spec"));
        assert_eq!(spare(&status.container_statuses), 0, "containerStatuses");
        assert_eq!(spare(&status.conditions), 0, "conditions");
        assert_eq!(spare(&status.pod_ips), 0, "podIPs");
        assert_eq!(spare(&spec.tolerations), 0, "tolerations");
        assert_eq!(spare(&spec.containers[0].ports), 0, "ports");
        assert_eq!(spare(&spec.containers[0].env), 0, "env");
        assert_eq!(spare(&compacted.metadata.owner_references), 0, "ownerReferences");
    }
}
