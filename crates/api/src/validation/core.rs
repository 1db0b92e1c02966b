//! core/v1 rules (`pkg/apis/core/validation/validation.go`): pods and pod specs (containers,
//! ports, resources, probes, volumes and mounts), services, persistent volumes and claims,
//! config maps, secrets, namespaces, nodes, endpoints, events, service accounts and limit
//! ranges, with what each update may change.

use std::collections::{BTreeSet, HashSet};
use std::net::IpAddr;

use serde_json::{Value, json};

use super::meta::{self, NameRule};
use super::{
    Errors, Shown, child, get, go_quote, index, key, list, map_of, parse_quantity, quantity_text,
    same, str_of, str_or_empty,
};
use crate::defaults::VOLUME_SOURCES;
use crate::quantity::{Format::DecimalSi, MAX_MILLI_VALUE, Quantity};

/// `MaxSecretSize`, also the limit of a config map.
const MAX_SECRET_SIZE: usize = 1024 * 1024;
const PROTOCOLS: &[&str] = &["SCTP", "TCP", "UDP"];
const PV_SOURCES: &[&str] = &[
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "hostPath",
    "glusterfs",
    "nfs",
    "rbd",
    "quobyte",
    "iscsi",
    "cephfs",
    "cinder",
    "fc",
    "flocker",
    "flexVolume",
    "azureFile",
    "vsphereVolume",
    "azureDisk",
    "photonPersistentDisk",
    "portworxVolume",
    "scaleIO",
    "local",
    "storageos",
    "csi",
];
const HOST_PATH_TYPES: &[&str] = &[
    "",
    "DirectoryOrCreate",
    "Directory",
    "FileOrCreate",
    "File",
    "Socket",
    "CharDevice",
    "BlockDevice",
];
const ACCESS_MODES: &[&str] =
    &["ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"];

pub(crate) fn validate(errs: &mut Errors, kind: &str, object: &Value) {
    let namespaced = !matches!(kind, "Namespace" | "Node" | "PersistentVolume");
    meta::object_meta(errs, object, namespaced, meta::name_rule(kind));
    match kind {
        "Pod" => pod(errs, object),
        "Service" => service(errs, object),
        "PersistentVolumeClaim" => {
            claim_spec(errs, get(object, "spec").unwrap_or(&Value::Null), "spec")
        }
        "PersistentVolume" => persistent_volume(errs, object),
        "ConfigMap" => config_map(errs, object),
        "Secret" => secret(errs, object),
        "Namespace" => namespace(errs, object),
        "Node" => node(errs, object),
        "Endpoints" => endpoints(errs, object),
        "Event" => event(errs, object),
        "LimitRange" => limit_range(errs, object),
        "PodTemplate" => pod_template(errs, object),
        _ => {}
    }
}

pub(crate) fn validate_update(errs: &mut Errors, kind: &str, object: &Value, old: &Value) {
    match kind {
        "Pod" => pod_update(errs, object, old),
        "Service" => {
            service(errs, object);
            service_update(errs, object, old);
        }
        "PersistentVolumeClaim" => {
            claim_spec(errs, get(object, "spec").unwrap_or(&Value::Null), "spec");
            claim_update(errs, object, old);
        }
        "PersistentVolume" => {
            persistent_volume(errs, object);
            persistent_volume_update(errs, object, old);
        }
        "ConfigMap" => {
            config_map(errs, object);
            immutable_data(errs, object, old, &["data", "binaryData"]);
        }
        "Secret" => {
            secret(errs, object);
            errs.immutable("type", object.get("type"), old.get("type"));
            immutable_data(errs, object, old, &["data"]);
        }
        "Namespace" => namespace(errs, object),
        "Node" => {
            node(errs, object);
            node_update(errs, object, old);
        }
        "Endpoints" => endpoints(errs, object),
        "Event" => event(errs, object),
        "LimitRange" => limit_range(errs, object),
        // `ValidatePodTemplateUpdate`: the metadata update (run by the caller) and the template.
        "PodTemplate" => pod_template(errs, object),
        _ => {}
    }
}

// === pods ===

/// `ValidatePodTemplate`'s `ValidatePodTemplateSpec` of `template` (the metadata is checked
/// with every kind's): its labels and annotations, its pod spec, and no ephemeral containers.
fn pod_template(errs: &mut Errors, object: &Value) {
    let template = get(object, "template").unwrap_or(&Value::Null);
    let template_meta = get(template, "metadata").unwrap_or(&Value::Null);
    meta::labels(errs, get(template_meta, "labels"), "template.labels");
    meta::annotations(errs, get(template_meta, "annotations"), "template.annotations");
    let pod = get(template, "spec").unwrap_or(&Value::Null);
    pod_spec(errs, pod, "template.spec");
    if !list(pod, "ephemeralContainers").is_empty() {
        errs.forbidden(
            "template.spec.ephemeralContainers",
            "ephemeral containers not allowed in pod template",
        );
    }
}

fn pod(errs: &mut Errors, object: &Value) {
    let spec = get(object, "spec").unwrap_or(&Value::Null);
    pod_spec(errs, spec, "spec");
}

/// `ValidatePodSpec`.
pub(crate) fn pod_spec(errs: &mut Errors, spec: &Value, path: &str) {
    let volumes = volumes(errs, list(spec, "volumes"), &child(path, "volumes"));
    let mut names = HashSet::new();
    let containers = list(spec, "containers");
    if containers.is_empty() {
        errs.required(&child(path, "containers"), "");
    }
    for (field, items) in
        [("initContainers", list(spec, "initContainers")), ("containers", containers)]
    {
        for (i, container) in items.iter().enumerate() {
            let at = index(&child(path, field), i);
            self::container(errs, container, &at, &volumes, &mut names);
            if field == "initContainers" {
                for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
                    if get(container, probe).is_some()
                        && str_of(container, "restartPolicy") != Some("Always")
                    {
                        errs.forbidden(
                            &child(&at, probe),
                            "may not be set for init containers without restartPolicy=Always",
                        );
                    }
                }
            }
        }
    }
    match str_or_empty(spec, "restartPolicy") {
        "" => errs.required(&child(path, "restartPolicy"), ""),
        "Always" | "OnFailure" | "Never" => {}
        other => errs.not_supported(
            &child(path, "restartPolicy"),
            other,
            &["Always", "OnFailure", "Never"],
        ),
    }
    match str_or_empty(spec, "dnsPolicy") {
        "" => errs.required(&child(path, "dnsPolicy"), ""),
        "ClusterFirstWithHostNet" | "ClusterFirst" | "Default" => {}
        "None" => {
            if get(spec, "dnsConfig").is_none() {
                errs.required(
                    &child(path, "dnsConfig"),
                    "must provide `dnsConfig` when `dnsPolicy` is None",
                );
            }
        }
        other => errs.not_supported(
            &child(path, "dnsPolicy"),
            other,
            &["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"],
        ),
    }
    meta::labels(errs, get(spec, "nodeSelector"), &child(path, "nodeSelector"));
    meta::check_field(errs, spec, "serviceAccountName", path, NameRule::Subdomain);
    meta::check_field(errs, spec, "nodeName", path, NameRule::Subdomain);
    meta::check_field(errs, spec, "hostname", path, NameRule::Label);
    meta::check_field(errs, spec, "subdomain", path, NameRule::Label);
    meta::check_field(errs, spec, "schedulerName", path, NameRule::Subdomain);
    meta::check_field(errs, spec, "priorityClassName", path, NameRule::Subdomain);
    if let Some(policy) = get(spec, "preemptionPolicy") {
        preemption_policy(errs, policy, &child(path, "preemptionPolicy"));
    }
    if let Some(deadline) = get(spec, "activeDeadlineSeconds") {
        let value = deadline.as_i64().unwrap_or(0);
        if !(1..=i64::from(i32::MAX)).contains(&value) {
            errs.invalid(
                &child(path, "activeDeadlineSeconds"),
                value,
                "must be between 1 and 2147483647, inclusive",
            );
        }
    }
    tolerations(errs, list(spec, "tolerations"), &child(path, "tolerations"));
}

/// `ValidatePreemptionPolicy` (a pod's, or a PriorityClass's).
pub(crate) fn preemption_policy(errs: &mut Errors, policy: &Value, path: &str) {
    match policy.as_str().unwrap_or_default() {
        "PreemptLowerPriority" | "Never" => {}
        "" => errs.required(path, ""),
        other => errs.not_supported(path, other, &["PreemptLowerPriority", "Never"]),
    }
}

/// `ValidateVolumes`; returns the names of the valid volumes.
fn volumes(errs: &mut Errors, volumes: &[Value], path: &str) -> HashSet<String> {
    let mut names = HashSet::new();
    for (i, volume) in volumes.iter().enumerate() {
        let at = index(path, i);
        let name = str_or_empty(volume, "name");
        let mut ok = true;
        if name.is_empty() {
            errs.required(&child(&at, "name"), "");
            ok = false;
        } else {
            for msg in meta::dns1123_label(name) {
                errs.invalid(&child(&at, "name"), name, &msg);
                ok = false;
            }
        }
        if names.contains(name) {
            errs.duplicate(&child(&at, "name"), name);
            ok = false;
        }
        let sources: Vec<&str> =
            VOLUME_SOURCES.iter().copied().filter(|s| get(volume, s).is_some()).collect();
        match sources.as_slice() {
            [] => {
                errs.required(&at, "must specify a volume type");
                ok = false;
            }
            [source] => volume_source(errs, volume, source, &at),
            [_, extra @ ..] => {
                for source in extra {
                    errs.forbidden(&child(&at, source), "may not specify more than 1 volume type");
                }
                ok = false;
            }
        }
        if ok {
            names.insert(name.to_owned());
        }
    }
    names
}

fn volume_source(errs: &mut Errors, volume: &Value, source: &str, at: &str) {
    let body = get(volume, source).unwrap_or(&Value::Null);
    let path = child(at, source);
    match source {
        "hostPath" => host_path(errs, body, &path),
        "persistentVolumeClaim" if str_or_empty(body, "claimName").is_empty() => {
            errs.required(&child(&path, "claimName"), "");
        }
        "configMap" | "secret" | "downwardAPI" | "projected" => {
            if source == "configMap" && str_or_empty(body, "name").is_empty() {
                errs.required(&child(&path, "name"), "");
            }
            if source == "secret" && str_or_empty(body, "secretName").is_empty() {
                errs.required(&child(&path, "secretName"), "");
            }
            if let Some(mode) = get(body, "defaultMode") {
                file_mode(errs, mode, &child(&path, "defaultMode"));
            }
            for (i, item) in list(body, "items").iter().enumerate() {
                let item_path = index(&child(&path, "items"), i);
                if source != "downwardAPI" && str_or_empty(item, "key").is_empty() {
                    errs.required(&child(&item_path, "key"), "");
                }
                let item_path_field = str_or_empty(item, "path");
                if source != "projected" {
                    local_path(errs, item_path_field, &child(&item_path, "path"));
                }
                if let Some(mode) = get(item, "mode") {
                    file_mode(errs, mode, &child(&item_path, "mode"));
                }
            }
        }
        "emptyDir" => {
            if let Some(limit) = get(body, "sizeLimit").and_then(quantity_text)
                && parse_quantity(&limit).is_some_and(|q| q < 0)
            {
                errs.forbidden(
                    &child(&path, "sizeLimit"),
                    "SizeLimit field must be a valid resource quantity",
                );
            }
        }
        "nfs" => {
            if str_or_empty(body, "server").is_empty() {
                errs.required(&child(&path, "server"), "");
            }
            let p = str_or_empty(body, "path");
            if p.is_empty() {
                errs.required(&child(&path, "path"), "");
            } else if !p.starts_with('/') {
                errs.invalid(&child(&path, "path"), p, "must be an absolute path");
            }
        }
        "csi" if str_or_empty(body, "driver").is_empty() => {
            errs.required(&child(&path, "driver"), "");
        }
        "ephemeral" => match get(body, "volumeClaimTemplate") {
            None => errs.required(&child(&path, "volumeClaimTemplate"), ""),
            Some(template) => claim_spec(
                errs,
                get(template, "spec").unwrap_or(&Value::Null),
                &child(&child(&path, "volumeClaimTemplate"), "spec"),
            ),
        },
        _ => {}
    }
}

fn host_path(errs: &mut Errors, body: &Value, path: &str) {
    let p = str_or_empty(body, "path");
    if p.is_empty() {
        errs.required(&child(path, "path"), "");
    } else if p.split('/').any(|part| part == "..") {
        errs.invalid(&child(path, "path"), p, "must not contain '..'");
    }
    if let Some(kind) = str_of(body, "type")
        && !HOST_PATH_TYPES.contains(&kind)
    {
        errs.not_supported(&child(path, "type"), kind, HOST_PATH_TYPES);
    }
}

fn file_mode(errs: &mut Errors, mode: &Value, path: &str) {
    let value = mode.as_i64().unwrap_or(-1);
    if !(0..=0o777).contains(&value) {
        errs.invalid(path, value, "must be a number between 0 and 0777 (octal), both inclusive");
    }
}

/// `validateLocalDescendingPath`.
fn local_path(errs: &mut Errors, p: &str, path: &str) {
    if p.is_empty() {
        errs.required(path, "");
        return;
    }
    if p.starts_with('/') {
        errs.invalid(path, p, "must be a relative path");
    }
    if p.split('/').any(|part| part == "..") {
        errs.invalid(path, p, "must not contain '..'");
    }
}

fn container(
    errs: &mut Errors,
    container: &Value,
    at: &str,
    volumes: &HashSet<String>,
    names: &mut HashSet<String>,
) {
    let name = str_or_empty(container, "name");
    if name.is_empty() {
        errs.required(&child(at, "name"), "");
    } else {
        for msg in meta::dns1123_label(name) {
            errs.invalid(&child(at, "name"), name, &msg);
        }
        if !names.insert(name.to_owned()) {
            errs.duplicate(&child(at, "name"), name);
        }
    }
    let image = str_or_empty(container, "image");
    if image.is_empty() {
        errs.required(&child(at, "image"), "");
    } else if image.trim() != image {
        errs.invalid(&child(at, "image"), image, "must not have leading or trailing whitespace");
    }
    match str_or_empty(container, "imagePullPolicy") {
        "" => errs.required(&child(at, "imagePullPolicy"), ""),
        "Always" | "IfNotPresent" | "Never" => {}
        other => errs.not_supported(
            &child(at, "imagePullPolicy"),
            other,
            &["Always", "IfNotPresent", "Never"],
        ),
    }
    match str_or_empty(container, "terminationMessagePolicy") {
        "" => errs.required(&child(at, "terminationMessagePolicy"), ""),
        "File" | "FallbackToLogsOnError" => {}
        other => errs.not_supported(
            &child(at, "terminationMessagePolicy"),
            other,
            &["File", "FallbackToLogsOnError"],
        ),
    }
    container_ports(errs, list(container, "ports"), &child(at, "ports"));
    env(errs, list(container, "env"), &child(at, "env"));
    mounts(errs, list(container, "volumeMounts"), &child(at, "volumeMounts"), volumes);
    resources(errs, get(container, "resources").unwrap_or(&Value::Null), &child(at, "resources"));
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(body) = get(container, probe) {
            self::probe(errs, body, &child(at, probe), probe != "readinessProbe");
        }
    }
}

fn container_ports(errs: &mut Errors, ports: &[Value], path: &str) {
    let mut names = HashSet::new();
    for (i, port) in ports.iter().enumerate() {
        let at = index(path, i);
        let name = str_or_empty(port, "name");
        if !name.is_empty() {
            for msg in port_name(name) {
                errs.invalid(&child(&at, "name"), name, &msg);
            }
            if !names.insert(name.to_owned()) {
                errs.duplicate(&child(&at, "name"), name);
            }
        }
        match port.get("containerPort").and_then(Value::as_i64) {
            None | Some(0) => errs.required(&child(&at, "containerPort"), ""),
            Some(n) => port_number(errs, n, &child(&at, "containerPort")),
        }
        if let Some(n) = port.get("hostPort").and_then(Value::as_i64)
            && n != 0
        {
            port_number(errs, n, &child(&at, "hostPort"));
        }
        protocol(errs, port, &at);
    }
}

fn protocol(errs: &mut Errors, port: &Value, at: &str) {
    match str_or_empty(port, "protocol") {
        "" => errs.required(&child(at, "protocol"), ""),
        p if PROTOCOLS.contains(&p) => {}
        other => errs.not_supported(&child(at, "protocol"), other, PROTOCOLS),
    }
}

pub(crate) fn port_number(errs: &mut Errors, n: i64, path: &str) {
    if !(1..=65535).contains(&n) {
        errs.invalid(path, n, "must be between 1 and 65535, inclusive");
    }
}

/// `IsValidPortName`.
pub(crate) fn port_name(name: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if name.len() > 15 {
        errs.push(meta::max_len(15));
    }
    if !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
        errs.push("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)".into());
    }
    if !name.bytes().any(|b| b.is_ascii_lowercase()) {
        errs.push("must contain at least one letter (a-z)".into());
    }
    if name.contains("--") {
        errs.push("must not contain consecutive hyphens".into());
    }
    if name.starts_with('-') || name.ends_with('-') {
        errs.push("must not begin or end with a hyphen".into());
    }
    errs
}

fn env(errs: &mut Errors, vars: &[Value], path: &str) {
    for (i, var) in vars.iter().enumerate() {
        let at = index(path, i);
        let name = str_or_empty(var, "name");
        if name.is_empty() {
            errs.required(&child(&at, "name"), "");
        } else if !name.bytes().all(|b| (b' '..=b'~').contains(&b) && b != b'=') {
            errs.invalid(
                &child(&at, "name"),
                name,
                "a valid environment variable name must consist only of printable ASCII characters other than '='",
            );
        }
        if let Some(from) = get(var, "valueFrom") {
            if str_of(var, "value").is_some_and(|v| !v.is_empty()) {
                errs.invalid(
                    &child(&at, "valueFrom"),
                    Shown::Raw(String::new()),
                    "may not be specified when `value` is not empty",
                );
            }
            let sources =
                ["fieldRef", "resourceFieldRef", "configMapKeyRef", "secretKeyRef", "fileKeyRef"]
                    .iter()
                    .filter(|s| get(from, s).is_some())
                    .count();
            if sources == 0 {
                errs.invalid(
                    &child(&at, "valueFrom"),
                    Shown::Raw(String::new()),
                    "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
                );
            } else if sources > 1 {
                errs.invalid(
                    &child(&at, "valueFrom"),
                    Shown::Raw(String::new()),
                    "may not have more than one field specified at a time",
                );
            }
        }
    }
}

fn mounts(errs: &mut Errors, mounts: &[Value], path: &str, volumes: &HashSet<String>) {
    let mut paths = HashSet::new();
    for (i, mount) in mounts.iter().enumerate() {
        let at = index(path, i);
        let name = str_or_empty(mount, "name");
        if name.is_empty() {
            errs.required(&child(&at, "name"), "");
        } else if !volumes.contains(name) {
            errs.not_found(&child(&at, "name"), name);
        }
        let mount_path = str_or_empty(mount, "mountPath");
        if mount_path.is_empty() {
            errs.required(&child(&at, "mountPath"), "");
        } else if !paths.insert(mount_path.to_owned()) {
            errs.invalid(&child(&at, "mountPath"), mount_path, "must be unique");
        }
        if let Some(sub) = str_of(mount, "subPath").filter(|s| !s.is_empty()) {
            if sub.starts_with('/') {
                errs.invalid(&child(&at, "subPath"), sub, "must be a relative path");
            }
            if sub.split('/').any(|part| part == "..") {
                errs.invalid(&child(&at, "subPath"), sub, "must not contain '..'");
            }
        }
    }
}

/// `ValidateContainerResourceRequirements`.
pub(crate) fn resources(errs: &mut Errors, resources: &Value, path: &str) {
    let limits = map_of(resources, "limits");
    let requests = map_of(resources, "requests");
    for (field, map) in [("limits", limits), ("requests", requests)] {
        for (name, value) in map.into_iter().flatten() {
            let at = key(&child(path, field), name);
            resource_name(errs, name, &at);
            let Some(text) = quantity_text(value) else { continue };
            if parse_quantity(&text).is_some_and(|q| q < 0) {
                errs.invalid(&at, text.clone(), "must be greater than or equal to 0");
            }
        }
    }
    for (name, request) in requests.into_iter().flatten() {
        let Some(limit) = limits.and_then(|l| l.get(name)) else { continue };
        let (Some(request), Some(limit)) = (quantity_text(request), quantity_text(limit)) else {
            continue;
        };
        if let (Some(r), Some(l)) = (parse_quantity(&request), parse_quantity(&limit))
            && r > l
        {
            errs.invalid(
                &key(&child(path, "requests"), name),
                request.as_str(),
                &format!("must be less than or equal to {name} limit of {limit}"),
            );
        }
    }
}

/// `validateContainerResourceName`: a qualified name; no domain means a standard resource.
fn resource_name(errs: &mut Errors, name: &str, path: &str) {
    for msg in meta::qualified_name(name) {
        errs.invalid(path, name, &msg);
    }
    let standard = ["cpu", "memory", "ephemeral-storage", "storage"];
    if !name.contains('/') && !standard.contains(&name) && !name.starts_with("hugepages-") {
        errs.invalid(path, name, "must be a standard resource for containers");
    }
}

fn probe(errs: &mut Errors, probe: &Value, path: &str, success_must_be_one: bool) {
    let handlers = ["exec", "httpGet", "tcpSocket", "grpc"];
    let set: Vec<&str> = handlers.iter().copied().filter(|h| get(probe, h).is_some()).collect();
    match set.as_slice() {
        [] => errs.required(path, "must specify a handler type"),
        [_] => {}
        [_, extra @ ..] => {
            for handler in extra {
                errs.forbidden(&child(path, handler), "may not specify more than 1 handler type");
            }
        }
    }
    for field in [
        "initialDelaySeconds",
        "timeoutSeconds",
        "periodSeconds",
        "successThreshold",
        "failureThreshold",
    ] {
        errs.nonnegative(&child(path, field), probe.get(field));
    }
    if success_must_be_one
        && let Some(n) = probe.get("successThreshold").and_then(Value::as_i64)
        && n != 1
    {
        errs.invalid(&child(path, "successThreshold"), n, "must be 1");
    }
    if let Some(http) = get(probe, "httpGet") {
        port_or_name(errs, http.get("port"), &child(&child(path, "httpGet"), "port"));
    }
    if let Some(tcp) = get(probe, "tcpSocket") {
        port_or_name(errs, tcp.get("port"), &child(&child(path, "tcpSocket"), "port"));
    }
}

/// `ValidatePortNumOrName`.
fn port_or_name(errs: &mut Errors, port: Option<&Value>, path: &str) {
    match port {
        Some(Value::Number(n)) => port_number(errs, n.as_i64().unwrap_or(0), path),
        Some(Value::String(s)) if !s.is_empty() => {
            for msg in port_name(s) {
                errs.invalid(path, s.as_str(), &msg);
            }
        }
        _ => errs.required(path, ""),
    }
}

pub(crate) fn tolerations(errs: &mut Errors, tolerations: &[Value], path: &str) {
    for (i, toleration) in tolerations.iter().enumerate() {
        let at = index(path, i);
        let k = str_or_empty(toleration, "key");
        if !k.is_empty() {
            for msg in meta::qualified_name(k) {
                errs.invalid(&child(&at, "key"), k, &msg);
            }
        }
        let operator = str_or_empty(toleration, "operator");
        if k.is_empty() && operator != "Exists" {
            errs.invalid(
                &child(&at, "operator"),
                operator,
                "operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
            );
        }
        let effect = str_or_empty(toleration, "effect");
        if get(toleration, "tolerationSeconds").is_some() && effect != "NoExecute" {
            errs.invalid(
                &child(&at, "effect"),
                effect,
                "effect must be 'NoExecute' when `tolerationSeconds` is set",
            );
        }
        match operator {
            "" | "Equal" => {
                for msg in meta::label_value(str_or_empty(toleration, "value")) {
                    errs.invalid(&child(&at, "operator"), str_or_empty(toleration, "value"), &msg);
                }
            }
            "Exists" => {
                if !str_or_empty(toleration, "value").is_empty() {
                    errs.invalid(
                        &child(&at, "operator"),
                        str_or_empty(toleration, "value"),
                        "value must be empty when `operator` is 'Exists'",
                    );
                }
            }
            other => errs.not_supported(&child(&at, "operator"), other, &["Equal", "Exists"]),
        }
        if !effect.is_empty() && !["NoSchedule", "PreferNoSchedule", "NoExecute"].contains(&effect)
        {
            errs.not_supported(
                &child(&at, "effect"),
                effect,
                &["NoSchedule", "PreferNoSchedule", "NoExecute"],
            );
        }
    }
}

/// `ValidatePodUpdate`: only images, `activeDeadlineSeconds`, added tolerations and a grace
/// period of a pod that had a negative one may change.
fn pod_update(errs: &mut Errors, object: &Value, old: &Value) {
    let new_spec = get(object, "spec").unwrap_or(&Value::Null);
    let old_spec = get(old, "spec").unwrap_or(&Value::Null);
    pod_spec(errs, new_spec, "spec");
    if let Some(old_deadline) = old_spec.get("activeDeadlineSeconds").and_then(Value::as_i64) {
        match new_spec.get("activeDeadlineSeconds").and_then(Value::as_i64) {
            None => errs.invalid(
                "spec.activeDeadlineSeconds",
                Shown::Null,
                "must not update from a positive integer to nil value",
            ),
            Some(new) if new > old_deadline => errs.invalid(
                "spec.activeDeadlineSeconds",
                new,
                "must be less than or equal to previous value",
            ),
            Some(_) => {}
        }
    }
    if crate::json::equal(new_spec, old_spec) {
        // Nothing below can object to an unchanged spec (most updates: labels, annotations,
        // finalizers), and the comparison is far cheaper than the copies it makes.
        return;
    }
    let old_gates = list(old_spec, "schedulingGates");
    let mut munged = new_spec.clone();
    for field in ["containers", "initContainers"] {
        let old_list = list(old_spec, field);
        if let Some(Value::Array(items)) = munged.get_mut(field)
            && items.len() == old_list.len()
        {
            for (item, old_item) in items.iter_mut().zip(old_list) {
                if let (Some(item), Some(image)) = (item.as_object_mut(), old_item.get("image")) {
                    item.insert("image".into(), image.clone());
                }
            }
        }
    }
    if let Some(map) = munged.as_object_mut() {
        match old_spec.get("activeDeadlineSeconds") {
            Some(v) => map.insert("activeDeadlineSeconds".into(), v.clone()),
            None => map.remove("activeDeadlineSeconds"),
        };
        let old_tolerations = list(old_spec, "tolerations");
        let new_tolerations = list(new_spec, "tolerations");
        if old_tolerations.iter().all(|t| new_tolerations.contains(t)) {
            match old_spec.get("tolerations") {
                Some(v) => map.insert("tolerations".into(), v.clone()),
                None => map.remove("tolerations"),
            };
        }
        // Scheduling gates may only be removed (ValidatePodUpdate / validatePodSchedulingGates).
        let new_gates = list(new_spec, "schedulingGates");
        let gate_name =
            |g: &Value| g.get("name").and_then(Value::as_str).unwrap_or_default().to_owned();
        if let Some(added) =
            new_gates.iter().find(|g| !old_gates.iter().any(|o| gate_name(o) == gate_name(g)))
        {
            errs.forbidden(
                "spec.schedulingGates",
                &format!(
                    "only deletion is allowed, but found new scheduling gate '{}'",
                    gate_name(added)
                ),
            );
        }
        match old_spec.get("schedulingGates") {
            Some(v) => map.insert("schedulingGates".into(), v.clone()),
            None => map.remove("schedulingGates"),
        };
        let old_grace = old_spec.get("terminationGracePeriodSeconds").and_then(Value::as_i64);
        let new_grace = new_spec.get("terminationGracePeriodSeconds").and_then(Value::as_i64);
        if old_grace.is_some_and(|g| g < 0) && new_grace == Some(1) {
            map.insert("terminationGracePeriodSeconds".into(), json!(old_grace));
        }
        // The scheduler binds through the binding subresource; a plain update may set it
        // only when it was unset (as the bind path does).
        if old_spec.get("nodeName").is_none_or(Value::is_null) {
            map.remove("nodeName");
        }
    }
    if !old_gates.is_empty() {
        gated_pod_update(errs, &mut munged, old_spec);
    }
    let mut old_cmp = old_spec.clone();
    if old_spec.get("nodeName").is_none_or(Value::is_null)
        && let Some(map) = old_cmp.as_object_mut()
    {
        map.remove("nodeName");
    }
    if munged != old_cmp {
        errs.forbidden(
            "spec",
            "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
        );
    }
}

/// A pod that still has scheduling gates may gain `nodeSelector` entries and node affinity
/// requirements (`ValidatePodUpdate` for gated pods): checks those changes and takes them out
/// of `munged`, the spec compared with the old one.
fn gated_pod_update(errs: &mut Errors, munged: &mut Value, old_spec: &Value) {
    let present = |v: Option<&Value>| v.filter(|v| !v.is_null()).cloned();
    let Some(map) = munged.as_object_mut() else { return };
    let old_selector = present(old_spec.get("nodeSelector"));
    let new_selector = present(map.get("nodeSelector"));
    let as_map = |v: &Option<Value>| v.as_ref().and_then(Value::as_object).cloned();
    if as_map(&old_selector).unwrap_or_default() != as_map(&new_selector).unwrap_or_default() {
        let new_map = as_map(&new_selector).unwrap_or_default();
        let removed_or_changed = as_map(&old_selector)
            .unwrap_or_default()
            .iter()
            .any(|(k, v)| new_map.get(k) != Some(v));
        if removed_or_changed {
            errs.invalid(
                "spec.nodeSelector",
                Shown::json(Some(&Value::Object(new_map))),
                "only additions to spec.nodeSelector are allowed (no mutations or deletions)",
            );
        }
        match old_selector {
            Some(v) => map.insert("nodeSelector".into(), v),
            None => map.remove("nodeSelector"),
        };
    }
    let old_node = present(old_spec.pointer("/affinity/nodeAffinity"));
    let new_node = present(map.get("affinity").and_then(|a| a.get("nodeAffinity")));
    if old_node == new_node {
        return;
    }
    node_affinity_mutation(errs, new_node.as_ref(), old_node.as_ref());
    let new_affinity = present(map.get("affinity"));
    match (new_affinity, &old_node) {
        (None, None) => {}
        (None, Some(old_node)) => {
            map.insert("affinity".into(), json!({ "nodeAffinity": old_node }));
        }
        (Some(affinity), _)
            if present(old_spec.get("affinity")).is_none()
                && present(affinity.get("podAntiAffinity")).is_none()
                && present(affinity.get("podAffinity")).is_none() =>
        {
            map.remove("affinity");
        }
        (Some(_), old_node) => {
            if let Some(affinity) = map.get_mut("affinity").and_then(Value::as_object_mut) {
                match old_node {
                    Some(old_node) => affinity.insert("nodeAffinity".into(), old_node.clone()),
                    None => affinity.remove("nodeAffinity"),
                };
            }
        }
    }
}

/// `validateNodeAffinityMutation`: the required node selector terms of a gated pod may only
/// gain requirements; preferred terms may change freely.
fn node_affinity_mutation(errs: &mut Errors, new: Option<&Value>, old: Option<&Value>) {
    let required = "requiredDuringSchedulingIgnoredDuringExecution";
    let Some(old_required) = old.and_then(|o| get(o, required)) else { return };
    let old_terms = list(old_required, "nodeSelectorTerms");
    if old_terms.is_empty() {
        return;
    }
    let empty = Value::Null;
    let new_required = new.and_then(|n| get(n, required)).unwrap_or(&empty);
    let new_terms = list(new_required, "nodeSelectorTerms");
    let path = format!("spec.affinity.nodeAffinity.{required}.nodeSelectorTerms");
    if new_terms.len() != old_terms.len() {
        errs.invalid(
            &path,
            Shown::json(new_required.get("nodeSelectorTerms")),
            "no additions/deletions to non-empty NodeSelectorTerms list are allowed",
        );
        return;
    }
    for (i, (old_term, new_term)) in old_terms.iter().zip(new_terms).enumerate() {
        let only_additions = {
            let (old_exprs, old_fields) =
                (list(old_term, "matchExpressions"), list(old_term, "matchFields"));
            let (new_exprs, new_fields) =
                (list(new_term, "matchExpressions"), list(new_term, "matchFields"));
            let extends = |old: &[Value], new: &[Value]| {
                old.is_empty() || (new.len() >= old.len() && new[..old.len()] == *old)
            };
            // An empty term matches every node; it may not gain requirements.
            let was_empty = old_exprs.is_empty() && old_fields.is_empty();
            let gains = !new_exprs.is_empty() || !new_fields.is_empty();
            !(was_empty && gains)
                && extends(old_exprs, new_exprs)
                && extends(old_fields, new_fields)
        };
        if !only_additions {
            errs.invalid(
                &index(&path, i),
                Shown::json(Some(new_term)),
                "only additions are allowed (no mutations or deletions)",
            );
        }
    }
}

// === services ===

fn service(errs: &mut Errors, object: &Value) {
    let spec = get(object, "spec").unwrap_or(&Value::Null);
    let service_type = str_or_empty(spec, "type");
    let cluster_ip = str_or_empty(spec, "clusterIP");
    let headless = cluster_ip == "None";
    let ports = list(spec, "ports");
    if ports.is_empty() && !headless && service_type != "ExternalName" {
        errs.required("spec.ports", "");
    }
    match service_type {
        "ClusterIP" | "NodePort" | "LoadBalancer" => {}
        "ExternalName" => {
            let name = str_or_empty(spec, "externalName");
            if name.is_empty() {
                errs.required("spec.externalName", "");
            } else {
                for msg in meta::dns1123_subdomain(name.trim_end_matches('.')) {
                    errs.invalid("spec.externalName", name, &msg);
                }
            }
            if !cluster_ip.is_empty() {
                errs.forbidden("spec.clusterIPs", "may not be set for ExternalName services");
            }
        }
        "" => errs.required("spec.type", ""),
        other => errs.not_supported(
            "spec.type",
            other,
            &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"],
        ),
    }
    let mut names = HashSet::new();
    let mut keys = HashSet::new();
    for (i, port) in ports.iter().enumerate() {
        let at = index("spec.ports", i);
        let name = str_or_empty(port, "name");
        if ports.len() > 1 && name.is_empty() {
            errs.required(&child(&at, "name"), "");
        } else if !name.is_empty() {
            for msg in meta::dns1123_label(name) {
                errs.invalid(&child(&at, "name"), name, &msg);
            }
            if !names.insert(name.to_owned()) {
                errs.duplicate(&child(&at, "name"), name);
            }
        }
        let number = port.get("port").and_then(Value::as_i64).unwrap_or(0);
        port_number(errs, number, &child(&at, "port"));
        protocol(errs, port, &at);
        match port.get("targetPort") {
            None | Some(Value::Null) => {}
            target => port_or_name(errs, target, &child(&at, "targetPort")),
        }
        if let Some(node_port) = port.get("nodePort").and_then(Value::as_i64)
            && node_port != 0
        {
            if service_type == "ClusterIP" || service_type == "ExternalName" {
                errs.forbidden(
                    &child(&at, "nodePort"),
                    &format!("may not be used when `type` is '{service_type}'"),
                );
            } else {
                port_number(errs, node_port, &child(&at, "nodePort"));
            }
        }
        let protocol = str_or_empty(port, "protocol").to_owned();
        if !keys.insert((number, protocol.clone())) {
            errs.duplicate(
                &at,
                Shown::Raw(format!(
                    "core.ServicePort{{Name:\"\", Protocol:{}, AppProtocol:(*string)(nil), Port:{number}, TargetPort:intstr.IntOrString{{Type:0, IntVal:0, StrVal:\"\"}}, NodePort:0}}",
                    go_quote(&protocol)
                )),
            );
        }
    }
    if headless && (service_type == "NodePort" || service_type == "LoadBalancer") {
        errs.invalid(
            "spec.clusterIPs[0]",
            "None",
            &format!("may not be set to 'None' for {service_type} services"),
        );
    }
    if !cluster_ip.is_empty() && !headless && cluster_ip.parse::<std::net::IpAddr>().is_err() {
        errs.invalid("spec.clusterIPs[0]", cluster_ip, IP_MESSAGE);
    }
    if let Some(first) = list(spec, "clusterIPs").first().and_then(Value::as_str)
        && !cluster_ip.is_empty()
        && first != cluster_ip
    {
        errs.invalid(
            "spec.clusterIPs",
            Shown::json(spec.get("clusterIPs")),
            "first value must match `clusterIP`",
        );
    }
    match str_or_empty(spec, "sessionAffinity") {
        "" => errs.required("spec.sessionAffinity", ""),
        "None" | "ClientIP" => {}
        other => errs.not_supported("spec.sessionAffinity", other, &["ClientIP", "None"]),
    }
    if let Some(policy) = str_of(spec, "internalTrafficPolicy")
        && !["Cluster", "Local"].contains(&policy)
    {
        errs.not_supported("spec.internalTrafficPolicy", policy, &["Cluster", "Local"]);
    }
    if let Some(policy) = str_of(spec, "externalTrafficPolicy").filter(|p| !p.is_empty()) {
        if service_type == "ClusterIP" || service_type == "ExternalName" {
            errs.invalid(
                "spec.externalTrafficPolicy",
                policy,
                "may only be set for externally-accessible services",
            );
        } else if !["Cluster", "Local"].contains(&policy) {
            errs.not_supported("spec.externalTrafficPolicy", policy, &["Cluster", "Local"]);
        }
    }
    meta::labels(errs, get(spec, "selector"), "spec.selector");
}

/// `ValidateServiceUpdate`: the primary cluster IP stays once set.
fn service_update(errs: &mut Errors, object: &Value, old: &Value) {
    let new_ips = list(object.get("spec").unwrap_or(&Value::Null), "clusterIPs");
    let old_ips = list(old.get("spec").unwrap_or(&Value::Null), "clusterIPs");
    let old_type = old.pointer("/spec/type").and_then(Value::as_str);
    let new_type = object.pointer("/spec/type").and_then(Value::as_str);
    if old_type == Some("ExternalName") || new_type == Some("ExternalName") {
        return;
    }
    if let (Some(new), Some(old)) = (new_ips.first(), old_ips.first())
        && new != old
    {
        errs.invalid("spec.clusterIPs[0]", Shown::json(Some(new)), "may not change once set");
    }
}

// === volumes and claims ===

/// `ValidatePersistentVolumeClaimSpec`.
pub(crate) fn claim_spec(errs: &mut Errors, spec: &Value, path: &str) {
    access_modes(errs, list(spec, "accessModes"), &child(path, "accessModes"));
    if let Some(selector) = get(spec, "selector") {
        meta::label_selector(errs, selector, &child(path, "selector"));
    }
    let storage_path = key(&child(path, "resources"), "storage");
    match spec.pointer("/resources/requests/storage").and_then(quantity_text) {
        None => errs.required(&storage_path, ""),
        Some(text) => {
            if parse_quantity(&text).is_none_or(|q| q <= 0) {
                errs.invalid(&storage_path, text.clone(), "must be greater than zero");
            }
        }
    }
    if let Some(class) = str_of(spec, "storageClassName").filter(|c| !c.is_empty()) {
        for msg in meta::dns1123_subdomain(class) {
            errs.invalid(&child(path, "storageClassName"), class, &msg);
        }
    }
    volume_mode(errs, spec, path);
}

fn volume_mode(errs: &mut Errors, spec: &Value, path: &str) {
    if let Some(mode) = str_of(spec, "volumeMode")
        && !["Block", "Filesystem"].contains(&mode)
    {
        errs.not_supported(&child(path, "volumeMode"), mode, &["Block", "Filesystem"]);
    }
}

fn access_modes(errs: &mut Errors, modes: &[Value], path: &str) {
    if modes.is_empty() {
        errs.required(path, "at least 1 access mode is required");
    }
    let mut once_pod = false;
    for mode in modes {
        let mode = mode.as_str().unwrap_or("");
        if !ACCESS_MODES.contains(&mode) {
            errs.not_supported(path, mode, ACCESS_MODES);
        }
        once_pod |= mode == "ReadWriteOncePod";
    }
    if once_pod && modes.len() > 1 {
        errs.forbidden(path, "may not use ReadWriteOncePod with other access modes");
    }
}

/// `ValidatePersistentVolumeClaimUpdate`: bound claims may grow; `volumeName` is set once.
fn claim_update(errs: &mut Errors, object: &Value, old: &Value) {
    let mut new_spec = get(object, "spec").cloned().unwrap_or(Value::Null);
    let mut old_spec = get(old, "spec").cloned().unwrap_or(Value::Null);
    if str_or_empty(&old_spec, "volumeName").is_empty()
        && let Some(map) = old_spec.as_object_mut()
    {
        match new_spec.get("volumeName") {
            Some(v) => map.insert("volumeName".into(), v.clone()),
            None => map.remove("volumeName"),
        };
    }
    let new_size = new_spec.pointer("/resources/requests/storage").and_then(quantity_text);
    let old_size = old_spec.pointer("/resources/requests/storage").and_then(quantity_text);
    let bound = object.pointer("/status/phase").and_then(Value::as_str) == Some("Bound");
    if bound && let Some(requests) = new_spec.pointer_mut("/resources/requests") {
        requests["storage"] =
            old_spec.pointer("/resources/requests/storage").cloned().unwrap_or(Value::Null);
    }
    for spec in [&mut new_spec, &mut old_spec] {
        if let Some(map) = spec.as_object_mut() {
            map.remove("volumeAttributesClassName");
        }
    }
    if new_spec != old_spec {
        errs.forbidden(
            "spec",
            "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims",
        );
    }
    if let (Some(new), Some(old)) = (new_size, old_size)
        && let (Some(n), Some(o)) = (parse_quantity(&new), parse_quantity(&old))
        && n < o
    {
        errs.forbidden(
            "spec.resources.requests.storage",
            "field can not be less than previous value",
        );
    }
}

fn persistent_volume(errs: &mut Errors, object: &Value) {
    let spec = get(object, "spec").unwrap_or(&Value::Null);
    access_modes(errs, list(spec, "accessModes"), "spec.accessModes");
    match map_of(spec, "capacity") {
        None => errs.required("spec.capacity", ""),
        Some(capacity) if capacity.is_empty() => errs.required("spec.capacity", ""),
        Some(capacity) => {
            if !capacity.contains_key("storage") || capacity.len() > 1 {
                let items: Vec<String> = capacity
                    .iter()
                    .map(|(k, v)| {
                        format!("{}:{}", go_quote(k), quantity_text(v).unwrap_or_default())
                    })
                    .collect();
                errs.not_supported(
                    "spec.capacity",
                    Shown::Raw(format!("core.ResourceList{{{}}}", items.join(", "))),
                    &["storage"],
                );
            }
            if let Some(text) = capacity.get("storage").and_then(quantity_text)
                && parse_quantity(&text).is_none_or(|q| q <= 0)
            {
                errs.invalid("spec.capacity[storage]", text.clone(), "must be greater than zero");
            }
        }
    }
    if let Some(policy) = str_of(spec, "persistentVolumeReclaimPolicy")
        && !["Delete", "Recycle", "Retain"].contains(&policy)
    {
        errs.not_supported(
            "spec.persistentVolumeReclaimPolicy",
            policy,
            &["Delete", "Recycle", "Retain"],
        );
    }
    let sources: Vec<&str> =
        PV_SOURCES.iter().copied().filter(|s| get(spec, s).is_some()).collect();
    match sources.as_slice() {
        [] => errs.required("spec", "must specify a volume type"),
        [source] => {
            let body = get(spec, source).unwrap_or(&Value::Null);
            match *source {
                "hostPath" => host_path(errs, body, "spec.hostPath"),
                "local" => {
                    if str_or_empty(body, "path").is_empty() {
                        errs.required("spec.local.path", "");
                    }
                    if get(spec, "nodeAffinity").is_none() {
                        errs.required("spec.nodeAffinity", "Local volume requires node affinity");
                    }
                }
                "csi" => {
                    if str_or_empty(body, "driver").is_empty() {
                        errs.required("spec.csi.driver", "");
                    }
                    if str_or_empty(body, "volumeHandle").is_empty() {
                        errs.required("spec.csi.volumeHandle", "");
                    }
                }
                _ => {}
            }
        }
        [_, extra @ ..] => {
            for source in extra {
                errs.forbidden(&child("spec", source), "may not specify more than 1 volume type");
            }
        }
    }
    if let Some(class) = str_of(spec, "storageClassName").filter(|c| !c.is_empty()) {
        for msg in meta::dns1123_subdomain(class) {
            errs.invalid("spec.storageClassName", class, &msg);
        }
    }
    volume_mode(errs, spec, "spec");
    if let Some(affinity) = get(spec, "nodeAffinity")
        && let Some(required) = get(affinity, "required")
        && list(required, "nodeSelectorTerms").is_empty()
    {
        errs.required(
            "spec.nodeAffinity.required.nodeSelectorTerms",
            "must have at least one node selector term",
        );
    }
}

/// `ValidatePersistentVolumeUpdate`: the volume source and mode stay.
fn persistent_volume_update(errs: &mut Errors, object: &Value, old: &Value) {
    let spec = get(object, "spec").unwrap_or(&Value::Null);
    let old_spec = get(old, "spec").unwrap_or(&Value::Null);
    if PV_SOURCES.iter().any(|s| !same(spec.get(s), old_spec.get(s))) {
        errs.forbidden(
            "spec.persistentvolumesource",
            "spec.persistentvolumesource is immutable after creation",
        );
    }
    errs.immutable("spec.volumeMode", spec.get("volumeMode"), old_spec.get("volumeMode"));
    if get(old_spec, "nodeAffinity").is_some()
        && !same(spec.get("nodeAffinity"), old_spec.get("nodeAffinity"))
    {
        errs.invalid(
            "spec.nodeAffinity",
            Shown::Raw("&core.VolumeNodeAffinity{...}".into()),
            "field is immutable",
        );
    }
}

// === config maps, secrets ===

/// `IsConfigMapKey`.
fn config_key(k: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if k.len() > 253 {
        errs.push(meta::max_len(253));
    }
    if k.is_empty()
        || !k.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        errs.push("a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')".into());
    }
    if k == "." {
        errs.push("must not be '.'".into());
    } else if k == ".." {
        errs.push("must not be '..'".into());
    } else if k.starts_with("..") {
        errs.push("must not start with '..'".into());
    }
    errs
}

fn config_map(errs: &mut Errors, object: &Value) {
    let data = map_of(object, "data");
    let binary = map_of(object, "binaryData");
    let mut total = 0;
    for (k, v) in data.into_iter().flatten() {
        for msg in config_key(k) {
            errs.invalid(&key("data", k), k.clone(), &msg);
        }
        total += v.as_str().map_or(0, str::len);
    }
    for (k, v) in binary.into_iter().flatten() {
        for msg in config_key(k) {
            errs.invalid(&key("binaryData", k), k.clone(), &msg);
        }
        if data.is_some_and(|d| d.contains_key(k)) {
            errs.invalid(&key("binaryData", k), k.clone(), "duplicate of key present in data");
        }
        total += v.as_str().map_or(0, |s| s.len() * 3 / 4);
    }
    if total > MAX_SECRET_SIZE {
        errs.too_long("", MAX_SECRET_SIZE);
    }
}

fn secret(errs: &mut Errors, object: &Value) {
    let data = map_of(object, "data");
    let mut total = 0;
    for (k, v) in data.into_iter().flatten() {
        for msg in config_key(k) {
            errs.invalid(&key("data", k), k.clone(), &msg);
        }
        total += v.as_str().map_or(0, |s| s.len() * 3 / 4);
    }
    if total > MAX_SECRET_SIZE {
        errs.too_long("data", MAX_SECRET_SIZE);
    }
    let has = |k: &str| {
        data.is_some_and(|d| d.get(k).and_then(Value::as_str).is_some_and(|v| !v.is_empty()))
    };
    match str_or_empty(object, "type") {
        "kubernetes.io/service-account-token" => {
            let annotation = "kubernetes.io/service-account.name";
            if object
                .pointer("/metadata/annotations")
                .and_then(|a| a.get(annotation))
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            {
                errs.required(&key("metadata.annotations", annotation), "");
            }
        }
        "kubernetes.io/dockercfg" if !has(".dockercfg") => {
            errs.required(&key("data", ".dockercfg"), "");
        }
        "kubernetes.io/dockerconfigjson" if !has(".dockerconfigjson") => {
            errs.required(&key("data", ".dockerconfigjson"), "");
        }
        "kubernetes.io/basic-auth" if !has("username") && !has("password") => {
            errs.required(&key("data", "username"), "");
            errs.required(&key("data", "password"), "");
        }
        "kubernetes.io/ssh-auth" if !has("ssh-privatekey") => {
            errs.required(&key("data", "ssh-privatekey"), "");
        }
        "kubernetes.io/tls" => {
            for k in ["tls.key", "tls.crt"] {
                if !data.is_some_and(|d| d.contains_key(k)) {
                    errs.required(&key("data", k), "");
                }
            }
        }
        _ => {}
    }
}

/// `immutable: true` freezes the data and itself.
fn immutable_data(errs: &mut Errors, object: &Value, old: &Value, fields: &[&str]) {
    if old.get("immutable").and_then(Value::as_bool) != Some(true) {
        return;
    }
    if object.get("immutable").and_then(Value::as_bool) != Some(true) {
        errs.forbidden("immutable", "field is immutable when `immutable` is set");
    }
    for field in fields {
        if !same(object.get(field), old.get(field)) {
            errs.forbidden(field, "field is immutable when `immutable` is set");
        }
    }
}

// === namespaces, nodes ===

fn namespace(errs: &mut Errors, object: &Value) {
    for (i, finalizer) in
        list(object.get("spec").unwrap_or(&Value::Null), "finalizers").iter().enumerate()
    {
        let name = finalizer.as_str().unwrap_or("");
        let at = index("spec.finalizers", i);
        for msg in meta::qualified_name(name) {
            errs.invalid(&at, name, &msg);
        }
        if !name.contains('/') && name != "kubernetes" {
            errs.invalid(
                &at,
                name,
                "name is neither a standard finalizer name nor is it fully qualified",
            );
        }
    }
}

fn node(errs: &mut Errors, object: &Value) {
    let spec = get(object, "spec").unwrap_or(&Value::Null);
    for (i, taint) in list(spec, "taints").iter().enumerate() {
        let at = index("spec.taints", i);
        let k = str_or_empty(taint, "key");
        for msg in meta::qualified_name(k) {
            errs.invalid(&child(&at, "key"), k, &msg);
        }
        let effect = str_or_empty(taint, "effect");
        if effect.is_empty() {
            errs.required(&child(&at, "effect"), "");
        } else if !["NoSchedule", "PreferNoSchedule", "NoExecute"].contains(&effect) {
            errs.not_supported(
                &child(&at, "effect"),
                effect,
                &["NoSchedule", "PreferNoSchedule", "NoExecute"],
            );
        }
    }
    for (i, cidr) in list(spec, "podCIDRs").iter().enumerate() {
        let cidr = cidr.as_str().unwrap_or("");
        if parse_cidr(cidr).is_none() {
            errs.invalid(&index("spec.podCIDRs", i), cidr, CIDR_MESSAGE);
        }
    }
}

/// `IsValidIPForLegacyField`'s detail.
pub(crate) const IP_MESSAGE: &str = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)";
/// `IsValidCIDR`'s detail.
pub(crate) const CIDR_MESSAGE: &str =
    "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)";

/// An IPv4 or IPv6 CIDR: its network address (host bits cleared) and prefix length.
pub(crate) fn parse_cidr(text: &str) -> Option<(IpAddr, u8)> {
    let (ip, bits) = text.split_once('/')?;
    let ip: IpAddr = ip.parse().ok()?;
    let bits: u8 = bits.parse().ok()?;
    let width = if ip.is_ipv4() { 32 } else { 128 };
    if bits > width {
        return None;
    }
    Some((network(ip, bits), bits))
}

/// `ip` with all but its first `bits` bits cleared.
pub(crate) fn network(ip: IpAddr, bits: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let keep = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            IpAddr::V4((u32::from(v4) & keep).into())
        }
        IpAddr::V6(v6) => {
            let keep = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            IpAddr::V6((u128::from(v6) & keep).into())
        }
    }
}

/// `ValidateNodeUpdate`: pod CIDRs and provider ID are set once.
fn node_update(errs: &mut Errors, object: &Value, old: &Value) {
    let spec = get(object, "spec").unwrap_or(&Value::Null);
    let old_spec = get(old, "spec").unwrap_or(&Value::Null);
    if !list(old_spec, "podCIDRs").is_empty()
        && !same(spec.get("podCIDRs"), old_spec.get("podCIDRs"))
    {
        errs.forbidden(
            "spec.podCIDRs",
            "node updates may not change podCIDR except from \"\" to valid",
        );
    }
    if !str_or_empty(old_spec, "providerID").is_empty()
        && str_of(spec, "providerID") != str_of(old_spec, "providerID")
    {
        errs.forbidden(
            "spec.providerID",
            "node updates may not change providerID except from \"\" to valid",
        );
    }
}

// === endpoints, events ===

fn endpoints(errs: &mut Errors, object: &Value) {
    for (i, subset) in list(object, "subsets").iter().enumerate() {
        let at = index("subsets", i);
        for field in ["addresses", "notReadyAddresses"] {
            for (j, address) in list(subset, field).iter().enumerate() {
                let ip = str_or_empty(address, "ip");
                let ip_path = child(&index(&child(&at, field), j), "ip");
                if ip.parse::<std::net::IpAddr>().is_err() {
                    errs.invalid(&ip_path, ip, IP_MESSAGE);
                }
                meta::check_field(
                    errs,
                    address,
                    "hostname",
                    &index(&child(&at, field), j),
                    NameRule::Label,
                );
                meta::check_field(
                    errs,
                    address,
                    "nodeName",
                    &index(&child(&at, field), j),
                    NameRule::Subdomain,
                );
            }
        }
        let ports = list(subset, "ports");
        let mut names = BTreeSet::new();
        for (j, port) in ports.iter().enumerate() {
            let port_path = index(&child(&at, "ports"), j);
            let name = str_or_empty(port, "name");
            if ports.len() > 1 && name.is_empty() {
                errs.required(&child(&port_path, "name"), "");
            } else if !name.is_empty() {
                for msg in meta::dns1123_label(name) {
                    errs.invalid(&child(&port_path, "name"), name, &msg);
                }
                if !names.insert(name.to_owned()) {
                    errs.duplicate(&child(&port_path, "name"), name);
                }
            }
            port_number(
                errs,
                port.get("port").and_then(Value::as_i64).unwrap_or(0),
                &child(&port_path, "port"),
            );
            protocol(errs, port, &port_path);
        }
    }
}

/// `legacyValidateEvent` for core/v1 events.
fn event(errs: &mut Errors, object: &Value) {
    let namespace = object.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("");
    let involved =
        object.pointer("/involvedObject/namespace").and_then(Value::as_str).unwrap_or("");
    let new_style = get(object, "eventTime").is_some();
    if !new_style {
        let matches = if involved.is_empty() {
            namespace.is_empty() || namespace == "default"
        } else {
            namespace == involved
        };
        if !matches {
            errs.invalid("involvedObject.namespace", involved, "does not match event.namespace");
        }
    } else {
        if involved.is_empty() && namespace != "default" && namespace != "kube-system" {
            errs.invalid("involvedObject.namespace", involved, "does not match event.namespace");
        }
        let controller = str_or_empty(object, "reportingComponent");
        if controller.is_empty() {
            errs.required("source", "");
        } else {
            for msg in meta::qualified_name(controller) {
                errs.invalid("source", controller, &msg);
            }
        }
        event_strings(
            errs,
            object,
            &[("reportingInstance", 128), ("action", 128), ("reason", 128)],
        );
        if str_or_empty(object, "message").len() > 1024 {
            errs.invalid("message", "", "can have at most 1024 characters");
        }
    }
    if !namespace.is_empty() {
        for msg in meta::dns1123_subdomain(namespace) {
            errs.invalid("namespace", namespace, &msg);
        }
    }
}

/// Required strings of a new-style event, each with a length limit.
pub(crate) fn event_strings(errs: &mut Errors, object: &Value, fields: &[(&str, usize)]) {
    for (field, limit) in fields {
        let value = str_or_empty(object, field);
        if value.is_empty() {
            errs.required(field, "");
        }
        if value.len() > *limit {
            errs.invalid(field, "", &format!("can have at most {limit} characters"));
        }
    }
}

// === limit ranges ===

/// The limit types of `IsStandardLimitRangeType`.
const LIMIT_TYPES: [&str; 3] = ["Pod", "Container", "PersistentVolumeClaim"];

/// `ValidateLimitRange` (create and update alike): each item's type (standard or qualified,
/// once), its resource names, no defaults for `Pod` items, a storage bound for
/// `PersistentVolumeClaim` items, then per resource min ≤ default request ≤ default ≤ max, a
/// max limit/request ratio of at least 1 and at most max/min, and equal default and default
/// request for what cannot be overcommitted. Go walks the resource maps in random order; here
/// each map is taken as written and the resources of the comparisons by name.
fn limit_range(errs: &mut Errors, object: &Value) {
    let spec = get(object, "spec").unwrap_or(&Value::Null);
    let mut types = HashSet::new();
    for (i, item) in list(spec, "limits").iter().enumerate() {
        let at = index("spec.limits", i);
        let type_ = str_or_empty(item, "type");
        limit_type(errs, type_, &child(&at, "type"));
        if !types.insert(type_) {
            errs.duplicate(&child(&at, "type"), type_);
        }
        let names = |errs: &mut Errors, field: &str| {
            for resource in map_of(item, field).into_iter().flatten().map(|(k, _)| k) {
                limit_resource_name(errs, type_, resource, &key(&child(&at, field), resource));
            }
        };
        names(errs, "max");
        names(errs, "min");
        let pod = type_ == "Pod";
        if pod {
            for field in ["default", "defaultRequest"] {
                if map_of(item, field).is_some_and(|m| !m.is_empty()) {
                    errs.forbidden(&child(&at, field), "may not be specified when `type` is 'Pod'");
                }
            }
        } else {
            names(errs, "default");
            names(errs, "defaultRequest");
        }
        if type_ == "PersistentVolumeClaim" {
            let bounds =
                |field: &str| map_of(item, field).is_some_and(|m| m.contains_key("storage"));
            if !bounds("min") && !bounds("max") {
                errs.required(
                    &child(&at, "limits"),
                    "either minimum or maximum storage value is required, but neither was provided",
                );
            }
        }
        names(errs, "maxLimitRequestRatio");
        // A `Pod` item's defaults are refused above and take no part in the comparisons.
        let fields = ["min", "max", "default", "defaultRequest", "maxLimitRequestRatio"];
        let compared = |field: &str| !pod || !matches!(field, "default" | "defaultRequest");
        let resources: BTreeSet<&str> = fields
            .into_iter()
            .filter(|field| compared(field))
            .flat_map(|field| map_of(item, field).into_iter().flatten().map(|(k, _)| k.as_str()))
            .collect();
        for resource in resources {
            let bound = |field: &str| {
                let found = compared(field).then(|| item.get(field)?.get(resource)).flatten()?;
                // A malformed quantity was refused when the object was decoded.
                Some(Quantity::of(found).unwrap_or(Quantity { nanos: 0, format: DecimalSi }))
            };
            let path = |field: &str| key(&child(&at, field), resource);
            let (min, max) = (bound("min"), bound("max"));
            let (default, request) = (bound("default"), bound("defaultRequest"));
            let ratio = bound("maxLimitRequestRatio");
            if let (Some(min), Some(max)) = (min, max)
                && min.nanos > max.nanos
            {
                let msg = format!("min value {min} is greater than max value {max}");
                errs.invalid(&path("min"), stringer(min), &msg);
            }
            if let (Some(request), Some(min)) = (request, min)
                && min.nanos > request.nanos
            {
                let msg =
                    format!("min value {min} is greater than default request value {request}");
                errs.invalid(&path("defaultRequest"), stringer(request), &msg);
            }
            if let (Some(request), Some(max)) = (request, max)
                && request.nanos > max.nanos
            {
                let msg =
                    format!("default request value {request} is greater than max value {max}");
                errs.invalid(&path("defaultRequest"), stringer(request), &msg);
            }
            if let (Some(request), Some(default)) = (request, default)
                && request.nanos > default.nanos
            {
                let msg = format!(
                    "default request value {request} is greater than default limit value {default}"
                );
                errs.invalid(&path("defaultRequest"), stringer(request), &msg);
            }
            if let (Some(default), Some(min)) = (default, min)
                && min.nanos > default.nanos
            {
                let msg = format!("min value {min} is greater than default value {default}");
                errs.invalid(&path("default"), stringer(min), &msg);
            }
            if let (Some(default), Some(max)) = (default, max)
                && default.nanos > max.nanos
            {
                let msg = format!("default value {default} is greater than max value {max}");
                errs.invalid(&path("default"), stringer(max), &msg);
            }
            if let Some(ratio) = ratio
                && ratio.nanos < 1_000_000_000
            {
                let msg = format!("ratio {ratio} is less than 1");
                errs.invalid(&path("maxLimitRequestRatio"), stringer(ratio), &msg);
            }
            if let (Some(ratio), Some(min), Some(max)) = (ratio, min, max) {
                // `maxRatio.Value() < MaxMilliValue && …`: thousandths when they all fit.
                let precise = [ratio, min, max].iter().all(|q| q.value() < MAX_MILLI_VALUE);
                let (ratio_value, min_value, max_value) = if precise {
                    (ratio.milli_value() as f64 / 1000.0, min.milli_value(), max.milli_value())
                } else {
                    (ratio.value() as f64, min.value(), max.value())
                };
                let limit = max_value as f64 / min_value as f64;
                if ratio_value > limit {
                    let msg = format!("ratio {ratio} is greater than max/min = {limit:.6}");
                    errs.invalid(&path("maxLimitRequestRatio"), stringer(ratio), &msg);
                }
            }
            if !overcommit_allowed(resource)
                && let (Some(default), Some(request)) = (default, request)
                && default.nanos != request.nanos
            {
                let msg = format!(
                    "default value {default} must equal to defaultRequest value {request} in {resource}"
                );
                errs.invalid(&path("defaultRequest"), stringer(request), &msg);
            }
        }
    }
}

/// A quantity as an error shows it: `Quantity.String()`, unquoted (a `fmt.Stringer`).
fn stringer(quantity: Quantity) -> Shown {
    Shown::Raw(quantity.to_string())
}

/// `validateLimitRangeTypeName`: a qualified name, and a standard type unless it has a prefix.
fn limit_type(errs: &mut Errors, type_: &str, path: &str) {
    let problems = meta::qualified_name(type_);
    for msg in &problems {
        errs.invalid(path, type_, msg);
    }
    if problems.is_empty() && !type_.contains('/') && !LIMIT_TYPES.contains(&type_) {
        errs.invalid(path, type_, "must be a standard limit type or fully qualified");
    }
}

/// `validateLimitRangeResourceName`: what a container may ask for in `Pod` and `Container`
/// items (`validateContainerResourceName`), any standard or qualified resource in others
/// (`validateResourceName`).
fn limit_resource_name(errs: &mut Errors, type_: &str, name: &str, path: &str) {
    standard_resource_name(errs, name, path);
    if !matches!(type_, "Pod" | "Container") {
        return;
    }
    if !name.contains('/') {
        let container = ["cpu", "memory", "ephemeral-storage"].contains(&name);
        if !container && !name.starts_with("hugepages-") {
            errs.invalid(path, name, "must be a standard resource for containers");
        }
    } else if !native_resource(name) && !extended_resource(name) {
        errs.invalid(path, name, "doesn't follow extended resource name standard");
    }
}

/// `validateResourceName`: a qualified name; without a prefix, a standard resource.
fn standard_resource_name(errs: &mut Errors, name: &str, path: &str) {
    let problems = meta::qualified_name(name);
    for msg in &problems {
        errs.invalid(path, name, msg);
    }
    if problems.is_empty() && !name.contains('/') && !super::quota::standard_resource(name) {
        errs.invalid(path, name, "must be a standard resource type or fully qualified");
    }
}

/// `IsNativeResource`: no prefix, or a `kubernetes.io/` one.
fn native_resource(name: &str) -> bool {
    !name.contains('/') || name.contains("kubernetes.io/")
}

/// `IsExtendedResourceName`: a prefixed, non-native name that stays qualified as a quota's
/// `requests.` name.
fn extended_resource(name: &str) -> bool {
    !native_resource(name)
        && !name.starts_with("requests.")
        && meta::qualified_name(&format!("requests.{name}")).is_empty()
}

/// `IsOvercommitAllowed`: native resources but huge pages.
fn overcommit_allowed(name: &str) -> bool {
    native_resource(name) && !name.starts_with("hugepages-")
}
