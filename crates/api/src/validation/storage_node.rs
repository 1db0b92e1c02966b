//! Rules of the CSI kinds of storage.k8s.io (CSIDriver, CSINode, VolumeAttachment and
//! CSIStorageCapacity, `pkg/apis/storage/validation`) and of node.k8s.io RuntimeClass
//! (`pkg/apis/node/validation`), each as its registry strategy runs them on create, update and
//! (VolumeAttachment) status writes, with v1.33's default feature gates.

use std::collections::HashSet;

use serde_json::Value;

use super::meta::{self, NameRule};
use super::{Errors, Shown, child, get, go_quote, index, list, str_of, str_or_empty};

/// `maxAttachedVolumeMetadataSize`.
const MAX_ATTACHED_VOLUME_METADATA_SIZE: usize = 256 * 1024;
/// `maxVolumeErrorMessageSize`.
const MAX_VOLUME_ERROR_MESSAGE_SIZE: usize = 1024;
/// `csiNodeIDLongerMaxLength`: the strategy allows long node IDs (`AllowLongNodeID`).
const CSI_NODE_ID_MAX_LENGTH: usize = 192;

/// The strategies' `Validate` of the kinds of this module. Other storage.k8s.io kinds are not
/// this module's.
pub(crate) fn validate(errs: &mut Errors, kind: &str, object: &Value) {
    match kind {
        "RuntimeClass" => runtime_class(errs, object),
        "CSIDriver" => csi_driver(errs, object),
        "CSINode" => csi_node(errs, object),
        "VolumeAttachment" => volume_attachment_v1(errs, object),
        "CSIStorageCapacity" => csi_storage_capacity(errs, object),
        _ => {}
    }
}

/// The strategies' `ValidateUpdate` (the metadata update rules run apart, in the caller).
pub(crate) fn validate_update(errs: &mut Errors, kind: &str, object: &Value, old: &Value) {
    match kind {
        "RuntimeClass" => {
            // `runtimeClassStrategy.ValidateUpdate`: `ValidateRuntimeClass`, then
            // `ValidateRuntimeClassUpdate`.
            runtime_class(errs, object);
            errs.immutable("handler", get(object, "handler"), get(old, "handler"));
        }
        "CSIDriver" => {
            csi_driver(errs, object);
            csi_driver_update(errs, object, old);
        }
        "CSINode" => {
            csi_node(errs, object);
            csi_node_update(errs, object, old);
        }
        "VolumeAttachment" => volume_attachment_update(errs, object, old),
        "CSIStorageCapacity" => {
            csi_storage_capacity(errs, object);
            csi_storage_capacity_update(errs, object, old);
        }
        _ => {}
    }
}

/// The status strategies' `ValidateUpdate`: only VolumeAttachment has a status subresource, and
/// its status strategy validates as the main one does.
pub(crate) fn validate_status(errs: &mut Errors, kind: &str, object: &Value, old: &Value) {
    if kind == "VolumeAttachment" {
        volume_attachment_update(errs, object, old);
    }
}

// === node.k8s.io ===

/// `ValidateRuntimeClass`: a DNS-label handler, the overhead as container limits and the
/// scheduling's node selector and tolerations.
fn runtime_class(errs: &mut Errors, class: &Value) {
    meta::object_meta(errs, class, false, NameRule::Subdomain);
    let handler = str_or_empty(class, "handler");
    for msg in meta::dns1123_label(handler) {
        errs.invalid("handler", handler, &msg);
    }
    if let Some(overhead) = get(class, "overhead") {
        // `validateOverhead`: `ValidateContainerResourceRequirements` of `{limits: podFixed}`,
        // so the errors name `overhead.limits[…]`.
        let limits = get(overhead, "podFixed").cloned().unwrap_or(Value::Null);
        let requirements = serde_json::json!({ "limits": limits });
        super::core::resources(errs, &requirements, "overhead");
    }
    if let Some(scheduling) = get(class, "scheduling") {
        scheduling_rules(errs, scheduling, "scheduling");
    }
}

/// `validateScheduling` and its `validateTolerations`: valid tolerations, none repeated with the
/// same key, operator, value and effect.
fn scheduling_rules(errs: &mut Errors, scheduling: &Value, path: &str) {
    if let Some(selector) = get(scheduling, "nodeSelector") {
        meta::labels(errs, Some(selector), &child(path, "nodeSelector"));
    }
    let path = child(path, "tolerations");
    let tolerations = list(scheduling, "tolerations");
    super::core::tolerations(errs, tolerations, &path);
    let mut seen = HashSet::new();
    for (i, toleration) in tolerations.iter().enumerate() {
        let key: [&str; 4] =
            ["key", "operator", "value", "effect"].map(|field| str_or_empty(toleration, field));
        if !seen.insert(key) {
            errs.duplicate(&index(&path, i), Shown::Raw(show_toleration(toleration)));
        }
    }
}

/// A `core.Toleration` as Go's `%#v` shows it (a set `tolerationSeconds` is a pointer, shown
/// by its value here where Go shows an address).
fn show_toleration(toleration: &Value) -> String {
    let seconds = match get(toleration, "tolerationSeconds").and_then(Value::as_i64) {
        None => "(*int64)(nil)".to_owned(),
        Some(seconds) => format!("(*int64)({seconds})"),
    };
    format!(
        "core.Toleration{{Key:{}, Operator:{}, Value:{}, Effect:{}, TolerationSeconds:{seconds}}}",
        go_quote(str_or_empty(toleration, "key")),
        go_quote(str_or_empty(toleration, "operator")),
        go_quote(str_or_empty(toleration, "value")),
        go_quote(str_or_empty(toleration, "effect")),
    )
}

// === CSIDriver ===

/// `ValidateCSIDriver` and `validateCSIDriverSpec`. The booleans are defaulted, so they are
/// missing only when a client sent `null` past the defaults; note upstream's
/// `spec.attachedRequired` path.
fn csi_driver(errs: &mut Errors, driver: &Value) {
    meta::object_meta(errs, driver, false, NameRule::Subdomain);
    let spec = get(driver, "spec").unwrap_or(&Value::Null);
    for (field, path) in [
        ("attachRequired", "spec.attachedRequired"),
        ("podInfoOnMount", "spec.podInfoOnMount"),
        ("storageCapacity", "spec.storageCapacity"),
    ] {
        if get(spec, field).is_none() {
            errs.required(path, "");
        }
    }
    if let Some(policy) = str_of(spec, "fsGroupPolicy") {
        const POLICIES: &[&str] = &["File", "None", "ReadWriteOnceWithFSType"];
        if !POLICIES.contains(&policy) {
            errs.not_supported("spec.fsGroupPolicy", policy, POLICIES);
        }
    }
    token_requests(errs, list(spec, "tokenRequests"), "spec.tokenRequests");
    for mode in list(spec, "volumeLifecycleModes") {
        let mode = mode.as_str().unwrap_or_default();
        if !matches!(mode, "Persistent" | "Ephemeral") {
            errs.not_supported("spec.volumeLifecycleModes", mode, &["Persistent", "Ephemeral"]);
        }
    }
    // `validateSELinuxMount`, with `SELinuxMountReadWriteOncePod` on (beta, default in v1.33).
    if get(spec, "seLinuxMount").is_none() {
        errs.required("spec.seLinuxMount", "");
    }
}

/// `validateTokenRequests`: distinct audiences, each token between 10 minutes and 2^32 s.
fn token_requests(errs: &mut Errors, requests: &[Value], path: &str) {
    let mut audiences = HashSet::new();
    for (i, request) in requests.iter().enumerate() {
        let at = index(path, i);
        let audience = str_or_empty(request, "audience");
        if !audiences.insert(audience) {
            errs.duplicate(&child(&at, "audience"), audience);
            continue;
        }
        let Some(seconds) = get(request, "expirationSeconds").and_then(Value::as_i64) else {
            continue;
        };
        if seconds < 600 {
            errs.invalid(
                &child(&at, "expirationSeconds"),
                seconds,
                "may not specify a duration less than 10 minutes",
            );
        }
        if seconds > 1 << 32 {
            errs.invalid(
                &child(&at, "expirationSeconds"),
                seconds,
                "may not specify a duration larger than 2^32 seconds",
            );
        }
    }
}

/// `ValidateCSIDriverUpdate`: `attachRequired` (at upstream's `spec.attachedRequired`) and the
/// lifecycle modes are immutable.
fn csi_driver_update(errs: &mut Errors, driver: &Value, old: &Value) {
    let spec = get(driver, "spec").unwrap_or(&Value::Null);
    let old_spec = get(old, "spec").unwrap_or(&Value::Null);
    errs.immutable(
        "spec.attachedRequired",
        get(spec, "attachRequired"),
        get(old_spec, "attachRequired"),
    );
    let modes = |spec: &Value| -> Vec<String> {
        list(spec, "volumeLifecycleModes")
            .iter()
            .map(|m| m.as_str().unwrap_or_default().to_owned())
            .collect()
    };
    if modes(spec) != modes(old_spec) {
        let shown = match get(spec, "volumeLifecycleModes") {
            None => "[]storage.VolumeLifecycleMode(nil)".to_owned(),
            Some(_) => {
                let items: Vec<String> = modes(spec).iter().map(|m| go_quote(m)).collect();
                format!("[]storage.VolumeLifecycleMode{{{}}}", items.join(", "))
            }
        };
        errs.invalid("spec.volumeLifecycleModes", Shown::Raw(shown), "field is immutable");
    }
}

/// `apivalidation.ValidateCSIDriverName` (core's, used for drivers named in other objects):
/// required, at most 63 bytes, a DNS subdomain once lower-cased.
fn csi_driver_name(errs: &mut Errors, name: &str, path: &str) {
    if name.is_empty() {
        errs.required(path, "");
    }
    if name.len() > 63 {
        errs.too_long(path, 63);
    }
    for msg in meta::dns1123_subdomain(&name.to_lowercase()) {
        errs.invalid(path, name, &msg);
    }
}

// === CSINode ===

/// `ValidateCSINode` and `validateCSINodeDriver`: node names, valid and unique driver names,
/// node IDs of at most 192 bytes, a non-negative allocatable count, valid unique topology keys.
fn csi_node(errs: &mut Errors, node: &Value) {
    meta::object_meta(errs, node, false, NameRule::Subdomain);
    let spec = get(node, "spec").unwrap_or(&Value::Null);
    let path = "spec.drivers";
    let mut names = HashSet::new();
    for (i, driver) in list(spec, "drivers").iter().enumerate() {
        let at = index(path, i);
        let name = str_or_empty(driver, "name");
        csi_driver_name(errs, name, &child(&at, "name"));
        let node_id = str_or_empty(driver, "nodeID");
        if node_id.is_empty() {
            errs.required(&child(&at, "nodeID"), "");
        }
        if node_id.len() > CSI_NODE_ID_MAX_LENGTH {
            errs.invalid(
                &child(&at, "nodeID"),
                node_id,
                &format!("must be {CSI_NODE_ID_MAX_LENGTH} characters or less"),
            );
        }
        if let Some(allocatable) = get(driver, "allocatable") {
            errs.nonnegative(&child(&child(&at, "allocatable"), "count"), allocatable.get("count"));
        }
        if !names.insert(name) {
            errs.duplicate(&child(&at, "name"), name);
        }
        let mut keys = HashSet::new();
        for key in list(driver, "topologyKeys") {
            let key = key.as_str().unwrap_or_default();
            if key.is_empty() {
                errs.required(&at, "");
            }
            if !keys.insert(key) {
                errs.duplicate(&at, key);
            }
            for msg in meta::qualified_name(key) {
                errs.invalid(&at, key, &msg);
            }
        }
    }
}

/// `ValidateCSINodeUpdate`: a driver present before and after may not change
/// (`MutableCSINodeAllocatableCount` is off in v1.33, so neither may its allocatable count).
fn csi_node_update(errs: &mut Errors, node: &Value, old: &Value) {
    let drivers = |o: &Value| list(get(o, "spec").unwrap_or(&Value::Null), "drivers").to_vec();
    let (new, old) = (drivers(node), drivers(old));
    for old_driver in &old {
        for new_driver in &new {
            if str_of(old_driver, "name") == str_of(new_driver, "name")
                && !same_driver(old_driver, new_driver)
            {
                errs.invalid(
                    "spec.drivers",
                    Shown::Raw(show_driver(new_driver)),
                    "field is immutable",
                );
            }
        }
    }
}

/// `apiequality.Semantic.DeepEqual` of two `CSINodeDriver`s: an empty list equals a missing one.
fn same_driver(a: &Value, b: &Value) -> bool {
    let keys = |d: &Value| list(d, "topologyKeys").to_vec();
    str_or_empty(a, "nodeID") == str_or_empty(b, "nodeID")
        && keys(a) == keys(b)
        && super::same(get(a, "allocatable"), get(b, "allocatable"))
}

/// A `storage.CSINodeDriver` as Go's `%#v` shows it (a set allocatable is a pointer, shown by
/// its count here where Go shows an address).
fn show_driver(driver: &Value) -> String {
    let keys = match driver.get("topologyKeys").and_then(Value::as_array) {
        None => "[]string(nil)".to_owned(),
        Some(keys) => {
            let keys: Vec<String> =
                keys.iter().map(|k| go_quote(k.as_str().unwrap_or_default())).collect();
            format!("[]string{{{}}}", keys.join(", "))
        }
    };
    let allocatable = match get(driver, "allocatable") {
        None => "(*storage.VolumeNodeResources)(nil)".to_owned(),
        Some(a) => format!("(*storage.VolumeNodeResources)({})", a),
    };
    format!(
        "storage.CSINodeDriver{{Name:{}, NodeID:{}, TopologyKeys:{keys}, Allocatable:{allocatable}}}",
        go_quote(str_or_empty(driver, "name")),
        go_quote(str_or_empty(driver, "nodeID")),
    )
}

// === VolumeAttachment ===

/// `volumeAttachmentStrategy.Validate`: `ValidateVolumeAttachment`, then the v1 checks
/// `ValidateVolumeAttachmentV1` adds (the attacher a CSI driver name, the PV name a subdomain).
fn volume_attachment_v1(errs: &mut Errors, attachment: &Value) {
    volume_attachment(errs, attachment);
    let spec = get(attachment, "spec").unwrap_or(&Value::Null);
    csi_driver_name(errs, str_or_empty(spec, "attacher"), "spec.attacher");
    if let Some(pv) = get(spec, "source").and_then(|s| str_of(s, "persistentVolumeName")) {
        for msg in meta::dns1123_subdomain(pv) {
            errs.invalid("spec.source.persistentVolumeName", pv, &msg);
        }
    }
}

/// `ValidateVolumeAttachment`: an attacher, exactly one source, a node name, and a status whose
/// metadata and error messages are bounded.
fn volume_attachment(errs: &mut Errors, attachment: &Value) {
    meta::object_meta(errs, attachment, false, NameRule::Subdomain);
    let spec = get(attachment, "spec").unwrap_or(&Value::Null);
    if str_or_empty(spec, "attacher").is_empty() {
        errs.required("spec.attacher", "");
    }
    let source = get(spec, "source").unwrap_or(&Value::Null);
    const EXACTLY_ONE: &str =
        "must specify exactly one of inlineVolumeSpec and persistentVolumeName";
    match (get(source, "inlineVolumeSpec"), str_of(source, "persistentVolumeName")) {
        (None, None) => errs.required("spec.source", EXACTLY_ONE),
        (Some(_), Some(_)) => errs.forbidden("spec.source", EXACTLY_ONE),
        (None, Some("")) => errs.required(
            "spec.source.persistentVolumeName",
            "must specify non empty persistentVolumeName",
        ),
        _ => {}
    }
    let node = str_or_empty(spec, "nodeName");
    for msg in meta::dns1123_subdomain(node) {
        errs.invalid("spec.nodeName", node, &msg);
    }
    let status = get(attachment, "status").unwrap_or(&Value::Null);
    let size: usize = super::string_map(status, "attachmentMetadata")
        .iter()
        .map(|(k, v)| k.len() + v.len())
        .sum();
    if size > MAX_ATTACHED_VOLUME_METADATA_SIZE {
        errs.too_long("status.attachmentMetadata", MAX_ATTACHED_VOLUME_METADATA_SIZE);
    }
    for field in ["attachError", "detachError"] {
        let Some(error) = get(status, field) else { continue };
        let at = child("status", field);
        if str_or_empty(error, "message").len() > MAX_VOLUME_ERROR_MESSAGE_SIZE {
            // Upstream reports the metadata limit here.
            errs.too_long(&child(&at, "message"), MAX_ATTACHED_VOLUME_METADATA_SIZE);
        }
        if let Some(code) = get(error, "errorCode").and_then(Value::as_i64)
            && code < 0
        {
            errs.invalid(
                &child(&at, "errorCode"),
                code,
                "must be between 0 and 2147483647, inclusive",
            );
        }
    }
}

/// `volumeAttachmentStrategy.ValidateUpdate`: `ValidateVolumeAttachment` and
/// `ValidateVolumeAttachmentUpdate`, whose spec is read-only.
fn volume_attachment_update(errs: &mut Errors, attachment: &Value, old: &Value) {
    volume_attachment(errs, attachment);
    let spec = get(attachment, "spec");
    if !super::same(spec, get(old, "spec")) {
        let spec = spec.unwrap_or(&Value::Null);
        errs.invalid("spec", Shown::Raw(show_attachment_spec(spec)), "field is immutable");
    }
}

/// A `storage.VolumeAttachmentSpec` as Go's `%#v` shows it (pointers shown by their value
/// here where Go shows an address).
fn show_attachment_spec(spec: &Value) -> String {
    let source = get(spec, "source").unwrap_or(&Value::Null);
    let pv = match str_of(source, "persistentVolumeName") {
        None => "(*string)(nil)".to_owned(),
        Some(pv) => format!("(*string)({})", go_quote(pv)),
    };
    let inline = match get(source, "inlineVolumeSpec") {
        None => "(*core.PersistentVolumeSpec)(nil)".to_owned(),
        Some(inline) => format!("(*core.PersistentVolumeSpec)({inline})"),
    };
    format!(
        "storage.VolumeAttachmentSpec{{Attacher:{}, Source:storage.VolumeAttachmentSource{{PersistentVolumeName:{pv}, InlineVolumeSpec:{inline}}}, NodeName:{}}}",
        go_quote(str_or_empty(spec, "attacher")),
        go_quote(str_or_empty(spec, "nodeName")),
    )
}

// === CSIStorageCapacity ===

/// `ValidateCSIStorageCapacity`: a valid node topology selector, a class name that is a
/// subdomain, a non-negative capacity.
fn csi_storage_capacity(errs: &mut Errors, capacity: &Value) {
    meta::object_meta(errs, capacity, true, NameRule::Subdomain);
    if let Some(topology) = get(capacity, "nodeTopology") {
        meta::label_selector(errs, topology, "nodeTopology");
    }
    let class = str_or_empty(capacity, "storageClassName");
    for msg in meta::dns1123_subdomain(class) {
        errs.invalid("storageClassName", class, &msg);
    }
    if let Some(text) = get(capacity, "capacity").and_then(super::quantity_text)
        && super::parse_quantity(&text).is_some_and(|q| q < 0)
    {
        errs.invalid("capacity", text, "must be greater than or equal to 0");
    }
}

/// `ValidateCSIStorageCapacityUpdate`: the node topology and the class name are immutable.
fn csi_storage_capacity_update(errs: &mut Errors, capacity: &Value, old: &Value) {
    let topology = get(capacity, "nodeTopology");
    if !super::same(topology, get(old, "nodeTopology")) {
        let shown = topology.map_or(Shown::Null, meta::show_selector);
        errs.invalid("nodeTopology", shown, "field is immutable");
    }
    let class = str_or_empty(capacity, "storageClassName");
    if class != str_or_empty(old, "storageClassName") {
        errs.invalid("storageClassName", class, "field is immutable");
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::validation::{FieldError, Write, validate};

    /// Defaults `object` as the API server does, then validates the write.
    fn check(group: &str, kind: &str, mut object: Value, write: Write<'_>) -> Vec<String> {
        crate::defaults::apply(group, kind, &mut object);
        validate(group, kind, &object, write).iter().map(FieldError::to_string).collect()
    }

    fn create(group: &str, kind: &str, object: Value) -> Vec<String> {
        check(group, kind, object, Write::Create)
    }

    const SUBDOMAIN: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

    #[test]
    fn valid_objects_pass() {
        let cases = [
            (
                "",
                "PodTemplate",
                json!({"metadata": {"name": "t", "namespace": "default"},
                "template": {"metadata": {"labels": {"app": "x"}},
                    "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}),
            ),
            (
                "node.k8s.io",
                "RuntimeClass",
                json!({"metadata": {"name": "gvisor"},
                "handler": "runsc", "overhead": {"podFixed": {"cpu": "250m"}},
                "scheduling": {"nodeSelector": {"sandbox": "true"},
                    "tolerations": [{"key": "sandbox", "operator": "Exists"}]}}),
            ),
            (
                "storage.k8s.io",
                "CSIDriver",
                json!({"metadata": {"name": "hostpath.csi.k8s.io"},
                "spec": {"tokenRequests": [{"audience": "vault", "expirationSeconds": 600}]}}),
            ),
            (
                "storage.k8s.io",
                "CSINode",
                json!({"metadata": {"name": "node-1"},
                "spec": {"drivers": [{"name": "hostpath.csi.k8s.io", "nodeID": "node-1",
                    "topologyKeys": ["topology.hostpath.csi/node"]}]}}),
            ),
            (
                "storage.k8s.io",
                "VolumeAttachment",
                json!({"metadata": {"name": "csi-1"},
                "spec": {"attacher": "hostpath.csi.k8s.io", "nodeName": "node-1",
                    "source": {"persistentVolumeName": "pv-1"}}}),
            ),
            (
                "storage.k8s.io",
                "CSIStorageCapacity",
                json!({
                "metadata": {"name": "csisc-1", "namespace": "default"},
                "storageClassName": "standard", "capacity": "10Gi",
                "nodeTopology": {"matchLabels": {"zone": "a"}}}),
            ),
        ];
        for (group, kind, object) in cases {
            assert_eq!(create(group, kind, object), Vec::<String>::new(), "{kind}");
        }
    }

    #[test]
    fn csi_driver_defaults_match_kubernetes() {
        let mut driver = json!({"metadata": {"name": "d"}});
        crate::defaults::apply("storage.k8s.io", "CSIDriver", &mut driver);
        assert_eq!(
            driver["spec"],
            json!({"attachRequired": true, "podInfoOnMount": false, "storageCapacity": false,
                "fsGroupPolicy": "ReadWriteOnceWithFSType", "volumeLifecycleModes": ["Persistent"],
                "requiresRepublish": false, "seLinuxMount": false})
        );
        let mut set = json!({"spec": {"attachRequired": false, "volumeLifecycleModes": [],
            "fsGroupPolicy": "File"}});
        crate::defaults::apply("storage.k8s.io", "CSIDriver", &mut set);
        assert_eq!(set["spec"]["attachRequired"], false);
        assert_eq!(set["spec"]["fsGroupPolicy"], "File");
        assert_eq!(set["spec"]["volumeLifecycleModes"], json!(["Persistent"]));
    }

    #[test]
    fn pod_template_defaults_are_a_pod_spec_s() {
        let mut template = json!({"metadata": {"name": "t"},
            "template": {"spec": {"containers": [{"name": "c", "image": "busybox"}]}}});
        crate::defaults::apply("", "PodTemplate", &mut template);
        let spec = &template["template"]["spec"];
        assert_eq!(spec["restartPolicy"], "Always");
        assert_eq!(spec["dnsPolicy"], "ClusterFirst");
        assert_eq!(spec["containers"][0]["imagePullPolicy"], "Always");
        assert_eq!(template["template"]["metadata"], json!({"creationTimestamp": null}));
    }

    #[test]
    fn pod_template_rules() {
        let template = json!({"metadata": {"name": "T", "namespace": "default"},
            "template": {"metadata": {"labels": {"-x": "y"}},
                "spec": {"containers": [{"name": "c", "image": "busybox"}],
                    "ephemeralContainers": [{"name": "e", "image": "busybox"}]}}});
        let errs = create("", "PodTemplate", template);
        assert!(
            errs.contains(&format!("metadata.name: Invalid value: \"T\": {SUBDOMAIN}")),
            "{errs:?}"
        );
        assert!(
            errs.iter().any(|e| e
                .starts_with("template.labels: Invalid value: \"-x\": name part must consist of")),
            "{errs:?}"
        );
        assert!(errs.contains(&"template.spec.ephemeralContainers: Forbidden: ephemeral containers not allowed in pod template".to_owned()), "{errs:?}");
        let errs =
            create("", "PodTemplate", json!({"metadata": {"name": "t", "namespace": "default"}}));
        assert!(errs.contains(&"template.spec.containers: Required value".to_owned()), "{errs:?}");
    }

    #[test]
    fn runtime_class_rules() {
        let class = |patch: Value| {
            let mut class = json!({"metadata": {"name": "rc"}, "handler": "runc"});
            if let (Some(class), Value::Object(patch)) = (class.as_object_mut(), patch) {
                class.extend(patch);
            }
            create("node.k8s.io", "RuntimeClass", class)
        };
        assert_eq!(
            class(json!({"handler": "Run.C"})),
            [
                "handler: Invalid value: \"Run.C\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
            ]
        );
        assert_eq!(class(json!({"handler": ""})).len(), 1);
        assert_eq!(
            class(json!({"overhead": {"podFixed": {"cpu": "-1", "gpu": "1"}}})),
            [
                "overhead.limits[cpu]: Invalid value: \"-1\": must be greater than or equal to 0",
                "overhead.limits[gpu]: Invalid value: \"gpu\": must be a standard resource for containers",
            ]
        );
        assert_eq!(
            class(json!({"scheduling": {"nodeSelector": {"a": "b c"},
                "tolerations": [{"key": "k", "operator": "Equal", "value": "v", "effect": "NoSchedule"},
                                {"key": "k", "operator": "Equal", "value": "v", "effect": "NoSchedule",
                                 "tolerationSeconds": 5}]}})),
            [
                "scheduling.nodeSelector: Invalid value: \"b c\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
                "scheduling.tolerations[1].effect: Invalid value: \"NoSchedule\": effect must be 'NoExecute' when `tolerationSeconds` is set",
                "scheduling.tolerations[1]: Duplicate value: core.Toleration{Key:\"k\", Operator:\"Equal\", Value:\"v\", Effect:\"NoSchedule\", TolerationSeconds:(*int64)(5)}",
            ]
        );
        let old = json!({"metadata": {"name": "rc", "resourceVersion": "1"}, "handler": "runc"});
        let new = json!({"metadata": {"name": "rc", "resourceVersion": "1"}, "handler": "runsc"});
        assert_eq!(
            check("node.k8s.io", "RuntimeClass", new, Write::Update(&old)),
            ["handler: Invalid value: \"runsc\": field is immutable",]
        );
    }

    #[test]
    fn csi_driver_rules() {
        let driver = |spec: Value| json!({"metadata": {"name": "d.csi.io"}, "spec": spec});
        assert_eq!(
            create(
                "storage.k8s.io",
                "CSIDriver",
                driver(json!({
            "fsGroupPolicy": "Always", "volumeLifecycleModes": ["Persistent", "Inline"],
            "tokenRequests": [{"audience": "a", "expirationSeconds": 60}, {"audience": "a"},
                              {"audience": "b", "expirationSeconds": 4294967297_i64}]}))
            ),
            [
                "spec.fsGroupPolicy: Unsupported value: \"Always\": supported values: \"File\", \"None\", \"ReadWriteOnceWithFSType\"",
                "spec.tokenRequests[0].expirationSeconds: Invalid value: 60: may not specify a duration less than 10 minutes",
                "spec.tokenRequests[1].audience: Duplicate value: \"a\"",
                "spec.tokenRequests[2].expirationSeconds: Invalid value: 4294967297: may not specify a duration larger than 2^32 seconds",
                "spec.volumeLifecycleModes: Unsupported value: \"Inline\": supported values: \"Persistent\", \"Ephemeral\"",
            ]
        );
        let old = json!({"metadata": {"name": "d.csi.io", "resourceVersion": "1"}, "spec": {}});
        let new = json!({"metadata": {"name": "d.csi.io", "resourceVersion": "1"},
            "spec": {"attachRequired": false, "volumeLifecycleModes": ["Ephemeral"], "podInfoOnMount": true}});
        let mut stored = old.clone();
        crate::defaults::apply("storage.k8s.io", "CSIDriver", &mut stored);
        assert_eq!(
            check("storage.k8s.io", "CSIDriver", new, Write::Update(&stored)),
            [
                "spec.attachedRequired: Invalid value: false: field is immutable",
                "spec.volumeLifecycleModes: Invalid value: []storage.VolumeLifecycleMode{\"Ephemeral\"}: field is immutable",
            ]
        );
    }

    #[test]
    fn csi_node_rules() {
        let long = "n".repeat(193);
        let node = json!({"metadata": {"name": "node-1"}, "spec": {"drivers": [
            {"name": "", "nodeID": ""},
            {"name": "a.csi.io", "nodeID": long, "allocatable": {"count": -1}},
            {"name": "a.csi.io", "nodeID": "n", "topologyKeys": ["", "k", "k"]},
        ]}});
        assert_eq!(create("storage.k8s.io", "CSINode", node), [
            "spec.drivers[0].name: Required value".to_owned(),
            format!("spec.drivers[0].name: Invalid value: \"\": {SUBDOMAIN}"),
            "spec.drivers[0].nodeID: Required value".to_owned(),
            format!("spec.drivers[1].nodeID: Invalid value: \"{long}\": must be 192 characters or less"),
            "spec.drivers[1].allocatable.count: Invalid value: -1: must be greater than or equal to 0".to_owned(),
            "spec.drivers[2].name: Duplicate value: \"a.csi.io\"".to_owned(),
            "spec.drivers[2]: Required value".to_owned(),
            "spec.drivers[2]: Invalid value: \"\": name part must be non-empty".to_owned(),
            "spec.drivers[2]: Invalid value: \"\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')".to_owned(),
            "spec.drivers[2]: Duplicate value: \"k\"".to_owned(),
        ]);
        let old = json!({"metadata": {"name": "node-1", "resourceVersion": "1"},
            "spec": {"drivers": [{"name": "a.csi.io", "nodeID": "n1"}]}});
        let new = json!({"metadata": {"name": "node-1", "resourceVersion": "1"},
            "spec": {"drivers": [{"name": "a.csi.io", "nodeID": "n2"}, {"name": "b.csi.io", "nodeID": "n"}]}});
        assert_eq!(
            check("storage.k8s.io", "CSINode", new, Write::Update(&old)),
            [
                "spec.drivers: Invalid value: storage.CSINodeDriver{Name:\"a.csi.io\", NodeID:\"n2\", TopologyKeys:[]string(nil), Allocatable:(*storage.VolumeNodeResources)(nil)}: field is immutable",
            ]
        );
    }

    #[test]
    fn volume_attachment_rules() {
        let attachment = |spec: Value, status: Value| json!({"metadata": {"name": "va"}, "spec": spec, "status": status});
        assert_eq!(create("storage.k8s.io", "VolumeAttachment", attachment(json!({}), json!({}))), [
            "spec.attacher: Required value".to_owned(),
            "spec.source: Required value: must specify exactly one of inlineVolumeSpec and persistentVolumeName".to_owned(),
            format!("spec.nodeName: Invalid value: \"\": {SUBDOMAIN}"),
            format!("spec.attacher: Invalid value: \"\": {SUBDOMAIN}"),
        ]);
        let both = json!({"attacher": "A.csi.io", "nodeName": "n",
            "source": {"persistentVolumeName": "pv", "inlineVolumeSpec": {"csi": {"driver": "a", "volumeHandle": "h"}}}});
        let status = json!({"attachError": {"message": "x".repeat(1025), "errorCode": -1}});
        assert_eq!(
            create("storage.k8s.io", "VolumeAttachment", attachment(both, status)),
            [
                "spec.source: Forbidden: must specify exactly one of inlineVolumeSpec and persistentVolumeName",
                "status.attachError.message: Too long: may not be more than 262144 bytes",
                "status.attachError.errorCode: Invalid value: -1: must be between 0 and 2147483647, inclusive",
            ]
        );
        let empty_pv = json!({"attacher": "a.csi.io", "nodeName": "n", "source": {"persistentVolumeName": ""}});
        assert_eq!(create("storage.k8s.io", "VolumeAttachment", attachment(empty_pv, json!({}))), [
            "spec.source.persistentVolumeName: Required value: must specify non empty persistentVolumeName".to_owned(),
            format!("spec.source.persistentVolumeName: Invalid value: \"\": {SUBDOMAIN}"),
        ]);
        let spec = json!({"attacher": "a.csi.io", "nodeName": "n", "source": {"persistentVolumeName": "pv"}});
        let old = json!({"metadata": {"name": "va", "resourceVersion": "1"}, "spec": spec, "status": {"attached": false}});
        let mut moved = old.clone();
        moved["spec"]["nodeName"] = json!("m");
        assert_eq!(
            check("storage.k8s.io", "VolumeAttachment", moved, Write::Update(&old)),
            [
                "spec: Invalid value: storage.VolumeAttachmentSpec{Attacher:\"a.csi.io\", Source:storage.VolumeAttachmentSource{PersistentVolumeName:(*string)(\"pv\"), InlineVolumeSpec:(*core.PersistentVolumeSpec)(nil)}, NodeName:\"m\"}: field is immutable",
            ]
        );
        let mut attached = old.clone();
        attached["status"] =
            json!({"attached": true, "attachmentMetadata": {"k": "x".repeat(262144)}});
        assert_eq!(
            check("storage.k8s.io", "VolumeAttachment", attached, Write::Status(&old)),
            ["status.attachmentMetadata: Too long: may not be more than 262144 bytes",]
        );
    }

    #[test]
    fn csi_storage_capacity_rules() {
        let capacity = json!({"metadata": {"name": "c", "namespace": "default"},
            "storageClassName": "Fast", "capacity": "-1Gi",
            "nodeTopology": {"matchExpressions": [{"key": "zone", "operator": "In"}]}});
        assert_eq!(create("storage.k8s.io", "CSIStorageCapacity", capacity), [
            "nodeTopology.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'".to_owned(),
            format!("storageClassName: Invalid value: \"Fast\": {SUBDOMAIN}"),
            "capacity: Invalid value: \"-1Gi\": must be greater than or equal to 0".to_owned(),
        ]);
        let old = json!({"metadata": {"name": "c", "namespace": "default", "resourceVersion": "1"},
            "storageClassName": "fast", "capacity": "1Gi"});
        let new = json!({"metadata": {"name": "c", "namespace": "default", "resourceVersion": "1"},
            "storageClassName": "slow", "capacity": "2Gi", "nodeTopology": {"matchLabels": {"zone": "a"}}});
        assert_eq!(
            check("storage.k8s.io", "CSIStorageCapacity", new, Write::Update(&old)),
            [
                "nodeTopology: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"zone\":\"a\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable",
                "storageClassName: Invalid value: \"slow\": field is immutable",
            ]
        );
    }
}
