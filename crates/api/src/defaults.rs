//! Defaulting: the values kube-apiserver v1.33 fills in when a field is left out
//! (`pkg/apis/*/v1/defaults.go`), applied to JSON objects on every write.
//!
//! Covered so far: Service, StatefulSet (with its pod template and claim templates) and Pod.
//! Defaults never overwrite a value the client set.

use serde_json::{Map, Value, json};

/// Applies the defaults of `group`/`kind` to `object`.
pub fn apply(group: &str, kind: &str, object: &mut Value) {
    match (group, kind) {
        ("", "Service") => service(object),
        ("", "Pod") => {
            if let Some(spec) = object.get_mut("spec") {
                pod_spec(spec);
            }
        }
        ("apps", "StatefulSet") => stateful_set(object),
        _ => {}
    }
}

/// Sets `map[key]` to `value` unless it is already set (and not null).
fn default(map: &mut Map<String, Value>, key: &str, value: Value) {
    if map.get(key).is_none_or(Value::is_null) {
        map.insert(key.to_owned(), value);
    }
}

fn object_at<'a>(value: &'a mut Value, key: &str) -> Option<&'a mut Map<String, Value>> {
    let map = value.as_object_mut()?;
    map.entry(key).or_insert_with(|| json!({})).as_object_mut()
}

fn service(object: &mut Value) {
    let Some(spec) = object_at(object, "spec") else { return };
    default(spec, "type", json!("ClusterIP"));
    default(spec, "sessionAffinity", json!("None"));
    let service_type = spec.get("type").and_then(Value::as_str).unwrap_or_default().to_owned();
    if service_type != "ExternalName" {
        default(spec, "internalTrafficPolicy", json!("Cluster"));
    }
    if let Some(cluster_ip) = spec.get("clusterIP").and_then(Value::as_str).map(str::to_owned)
        && !cluster_ip.is_empty()
    {
        default(spec, "clusterIPs", json!([cluster_ip]));
    }
    if service_type != "ExternalName" {
        default(spec, "ipFamilies", json!(["IPv4"]));
        default(spec, "ipFamilyPolicy", json!("SingleStack"));
    }
    if let Some(Value::Array(ports)) = spec.get_mut("ports") {
        for port in ports.iter_mut().filter_map(Value::as_object_mut) {
            default(port, "protocol", json!("TCP"));
            if let Some(number) = port.get("port").cloned() {
                default(port, "targetPort", number);
            }
        }
    }
    if let Some(object) = object.as_object_mut() {
        default(object, "status", json!({ "loadBalancer": {} }));
    }
}

fn stateful_set(object: &mut Value) {
    let Some(spec) = object_at(object, "spec") else { return };
    default(spec, "replicas", json!(1));
    default(spec, "podManagementPolicy", json!("OrderedReady"));
    default(spec, "revisionHistoryLimit", json!(10));
    default(spec, "updateStrategy", json!({ "type": "RollingUpdate" }));
    if let Some(strategy) = spec.get_mut("updateStrategy").and_then(Value::as_object_mut)
        && strategy.get("type").and_then(Value::as_str) == Some("RollingUpdate")
    {
        default(strategy, "rollingUpdate", json!({ "partition": 0 }));
        if let Some(rolling) = strategy.get_mut("rollingUpdate").and_then(Value::as_object_mut) {
            default(rolling, "partition", json!(0));
        }
    }
    default(
        spec,
        "persistentVolumeClaimRetentionPolicy",
        json!({ "whenDeleted": "Retain", "whenScaled": "Retain" }),
    );
    if let Some(pod) = spec.get_mut("template").and_then(|t| t.get_mut("spec")) {
        pod_spec(pod);
    }
    if let Some(Value::Array(claims)) = spec.get_mut("volumeClaimTemplates") {
        for claim in claims.iter_mut() {
            if let Some(claim_spec) = object_at(claim, "spec") {
                default(claim_spec, "volumeMode", json!("Filesystem"));
            }
            if let Some(claim) = claim.as_object_mut() {
                default(claim, "apiVersion", json!("v1"));
                default(claim, "kind", json!("PersistentVolumeClaim"));
                default(claim, "status", json!({ "phase": "Pending" }));
            }
        }
    }
}

/// `SetDefaults_PodSpec` and the per-container defaults.
fn pod_spec(spec: &mut Value) {
    let Some(spec) = spec.as_object_mut() else { return };
    default(spec, "restartPolicy", json!("Always"));
    default(spec, "terminationGracePeriodSeconds", json!(30));
    default(spec, "dnsPolicy", json!("ClusterFirst"));
    default(spec, "securityContext", json!({}));
    default(spec, "schedulerName", json!("default-scheduler"));
    for list in ["initContainers", "containers"] {
        if let Some(Value::Array(containers)) = spec.get_mut(list) {
            for container in containers.iter_mut().filter_map(Value::as_object_mut) {
                container_defaults(container);
            }
        }
    }
}

fn container_defaults(container: &mut Map<String, Value>) {
    default(container, "terminationMessagePath", json!("/dev/termination-log"));
    default(container, "terminationMessagePolicy", json!("File"));
    let image = container.get("image").and_then(Value::as_str).unwrap_or_default();
    default(container, "imagePullPolicy", json!(image_pull_policy(image)));
    if let Some(Value::Array(ports)) = container.get_mut("ports") {
        for port in ports.iter_mut().filter_map(Value::as_object_mut) {
            default(port, "protocol", json!("TCP"));
        }
    }
}

/// `Always` for `:latest` or untagged images (unless pinned by digest), else `IfNotPresent`.
fn image_pull_policy(image: &str) -> &'static str {
    if image.contains('@') {
        return "IfNotPresent";
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.rsplit_once(':') {
        Some((_, "latest")) | None => "Always",
        Some(_) => "IfNotPresent",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headless_service_defaults_as_kubernetes_shows_them() {
        let mut svc = json!({"spec": {"clusterIP": "None", "ports": [{"name": "nginx", "port": 80}],
                                      "selector": {"app": "nginx"}}});
        apply("", "Service", &mut svc);
        assert_eq!(
            svc["spec"],
            json!({"clusterIP": "None", "ports": [{"name": "nginx", "port": 80, "protocol": "TCP", "targetPort": 80}],
                   "selector": {"app": "nginx"}, "type": "ClusterIP", "sessionAffinity": "None",
                   "internalTrafficPolicy": "Cluster", "clusterIPs": ["None"], "ipFamilies": ["IPv4"],
                   "ipFamilyPolicy": "SingleStack"})
        );
        assert_eq!(svc["status"], json!({"loadBalancer": {}}));
    }

    #[test]
    fn statefulset_defaults_match_kubernetes() {
        let mut sts = json!({"spec": {"replicas": 3, "serviceName": "h",
            "template": {"spec": {"containers": [{"name": "c", "image": "nginx", "ports": [{"containerPort": 80}]}]}},
            "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"]}}]}});
        apply("apps", "StatefulSet", &mut sts);
        let spec = &sts["spec"];
        assert_eq!(spec["replicas"], 3, "a set value stays");
        assert_eq!(spec["podManagementPolicy"], "OrderedReady");
        assert_eq!(spec["revisionHistoryLimit"], 10);
        assert_eq!(
            spec["updateStrategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})
        );
        assert_eq!(
            spec["persistentVolumeClaimRetentionPolicy"],
            json!({"whenDeleted": "Retain", "whenScaled": "Retain"})
        );
        let pod = &spec["template"]["spec"];
        assert_eq!(pod["restartPolicy"], "Always");
        assert_eq!(pod["dnsPolicy"], "ClusterFirst");
        assert_eq!(pod["terminationGracePeriodSeconds"], 30);
        assert_eq!(pod["containers"][0]["imagePullPolicy"], "Always");
        assert_eq!(pod["containers"][0]["ports"][0]["protocol"], "TCP");
        let claim = &spec["volumeClaimTemplates"][0];
        assert_eq!(claim["spec"]["volumeMode"], "Filesystem");
        assert_eq!(claim["status"]["phase"], "Pending");
    }

    #[test]
    fn pull_policy_follows_the_tag() {
        for (image, policy) in [
            ("nginx", "Always"),
            ("nginx:latest", "Always"),
            ("nginx:1.27", "IfNotPresent"),
            ("registry:5000/nginx", "Always"),
            ("registry:5000/nginx:1", "IfNotPresent"),
            ("nginx@sha256:abc", "IfNotPresent"),
        ] {
            assert_eq!(image_pull_policy(image), policy, "{image}");
        }
    }
}
