//! Object metadata rules shared by every resource: type fields, names, uids, timestamps,
//! defaults on create, and what an update may not change.

use berth_api::json::equal;
use berth_api::kinds::ResourceType;
use berth_store::Revision;
use rand::Rng;
use serde_json::{Map, Value, json};

use crate::status::{Cause, Status};
use crate::strict::Duplicates;

/// Fills `kind`/`apiVersion` when missing; refuses an object of another type.
pub(crate) fn check_type(resource: &ResourceType, object: &mut Value) -> Result<(), Status> {
    let api_version = resource.api_version();
    let map = object
        .as_object_mut()
        .ok_or_else(|| Status::bad_request("the object is not a JSON object"))?;
    match map.get("apiVersion").and_then(Value::as_str) {
        Some(v) if !v.is_empty() && v != api_version => {
            return Err(Status::bad_request(format!(
                "the API version in the data ({v}) does not match the expected API version ({api_version})"
            )));
        }
        _ => {
            map.insert("apiVersion".into(), json!(api_version));
        }
    }
    match map.get("kind").and_then(Value::as_str) {
        Some(k) if !k.is_empty() && k != resource.kind => {
            return Err(Status::bad_request(format!(
                "the kind in the data ({k}) does not match the expected kind ({})",
                resource.kind
            )));
        }
        _ => {
            map.insert("kind".into(), json!(resource.kind));
        }
    }
    Ok(())
}

/// `metadata`, created if missing.
pub(crate) fn metadata_mut(object: &mut Value) -> Result<&mut Map<String, Value>, Status> {
    let map = object
        .as_object_mut()
        .ok_or_else(|| Status::bad_request("the object is not a JSON object"))?;
    let metadata = map.entry("metadata").or_insert_with(|| json!({}));
    metadata.as_object_mut().ok_or_else(|| Status::bad_request("metadata must be an object"))
}

pub(crate) fn set_resource_version(object: &mut Value, revision: Revision) {
    if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.insert("resourceVersion".into(), json!(revision.to_string()));
    }
}

/// A random (version 4) UUID.
pub(crate) fn new_uid() -> String {
    let mut bytes: [u8; 16] = rand::rng().random();
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

/// Now, as Kubernetes writes timestamps: RFC 3339, UTC, whole seconds.
pub(crate) fn now_rfc3339() -> String {
    berth_api::metatime::format_seconds(crate::deletion::now())
}

/// The name rules of `resource` (`berth_api::validation`): DNS-1123 labels for namespaces and
/// StatefulSets, DNS-1035 labels for services, DNS-1123 subdomains for everything else — with
/// kube-apiserver's messages. With the `generateName` a created object's name came from,
/// `ValidateObjectMeta` reports a bad `metadata.generateName` first, then the name.
pub(crate) fn validate_names(
    resource: &ResourceType,
    generate_name: Option<&str>,
    name: &str,
) -> Result<(), Status> {
    let invalid = |field: &str, value: &str, problem: String| Cause {
        reason: "FieldValueInvalid",
        message: format!("Invalid value: {value:?}: {problem}"),
        field: field.into(),
    };
    let mut causes = Vec::new();
    if let Some(base) = generate_name.filter(|base| !base.is_empty()) {
        let problems = berth_api::validation::generate_name_problems(resource.kind, base);
        causes.extend(problems.into_iter().map(|p| invalid("metadata.generateName", base, p)));
    }
    let problems = berth_api::validation::name_problems(resource.kind, name);
    causes.extend(problems.into_iter().map(|p| invalid("metadata.name", name, p)));
    if causes.is_empty() {
        return Ok(());
    }
    Err(Status::invalid(resource, name, causes))
}

/// Where an object being checked for unknown fields came from: a request body (create, update)
/// or a patch applied to the stored object. Kubernetes words the two errors differently.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Decoded {
    Body,
    Patch,
}

/// `fieldValidation`: drops the fields the kind's schema does not have, as kube-apiserver's
/// typed decoding does. `Strict` refuses them (400, `strict decoding error: unknown field
/// "spec.foo"`); `Warn` (the default) returns them as warnings; `Ignore` drops them silently.
pub(crate) fn unknown_fields(
    resource: &ResourceType,
    object: &mut Value,
    directive: Option<&str>,
    decoded: Decoded,
) -> Result<Vec<String>, Status> {
    strict_fields(resource, object, directive, decoded, &Duplicates::None)
}

/// `fieldValidation` of a body: its unknown fields as [`unknown_fields`] treats them, and the
/// keys it repeats (`duplicate field "spec.paused"`, or yaml.v2's `line 8: key "paused"
/// already set in map` for YAML), reported the same way.
pub(crate) fn strict_fields(
    resource: &ResourceType,
    object: &mut Value,
    directive: Option<&str>,
    decoded: Decoded,
    duplicates: &Duplicates,
) -> Result<Vec<String>, Status> {
    let directive = field_validation(directive)?;
    // Positions of duplicates are taken in the object as decoded (rare: only when there are).
    let decoded_object = match duplicates {
        Duplicates::Json(list) if !list.is_empty() && directive != "Ignore" => Some(object.clone()),
        _ => None,
    };
    let mut typed = berth_api::validation::fields::decode_typed(
        resource.group,
        resource.version,
        resource.kind,
        object,
    );
    if let Some(custom) = crate::crds::info(resource) {
        // apiextensions-apiserver prunes what the version's schema does not specify, and
        // decodes `metadata` as ObjectMeta; what both drop are the unknown fields
        // fieldValidation reports.
        typed = berth_api::validation::fields::decode_object_meta(object);
        let mut unknown = custom.schema.prune(object);
        unknown.append(&mut typed.unknown);
        typed.unknown = unknown;
    }
    if let Some(error) = typed.malformed_time {
        // The typed decoding fails whatever the directive.
        return Err(Status::bad_request(match decoded {
            Decoded::Body => cannot_handle(resource, &error),
            Decoded::Patch => error,
        }));
    }
    let unknown = typed.unknown;
    if directive == "Ignore" || (unknown.is_empty() && duplicates.is_empty()) {
        return Ok(Vec::new());
    }
    let unknown_messages = || unknown.iter().map(|f| format!("unknown field {f:?}"));
    let (warnings, errors): (Vec<String>, Vec<String>) = match duplicates {
        Duplicates::Json(list) if !list.is_empty() => {
            let value = decoded_object.as_ref().unwrap_or(object);
            let messages = crate::strict::json_errors(value, list, &unknown);
            (messages.clone(), messages)
        }
        Duplicates::Yaml(list) if !list.is_empty() => {
            let mut warnings: Vec<String> = list.iter().map(|d| d.yaml_line()).collect();
            warnings.extend(unknown_messages());
            let mut errors = vec![crate::strict::yaml_error(list)];
            errors.extend(unknown_messages());
            (warnings, errors)
        }
        _ => {
            let messages: Vec<String> = unknown_messages().collect();
            (messages.clone(), messages)
        }
    };
    if directive == "Warn" {
        return Ok(warnings);
    }
    let error = format!("strict decoding error: {}", errors.join(", "));
    Err(Status::bad_request(match decoded {
        Decoded::Body => cannot_handle(resource, &error),
        Decoded::Patch => error,
    }))
}

/// The error of a body kube-apiserver's typed decoding fails on: `Pod in version "v1" cannot be
/// handled as a Pod: …`.
fn cannot_handle(resource: &ResourceType, error: &str) -> String {
    format!(
        "{kind} in version {version:?} cannot be handled as a {kind}: {error}",
        kind = resource.kind,
        version = resource.version
    )
}

/// A body kube-apiserver could not decode because a quantity is malformed: 400, `Pod in
/// version "v1" cannot be handled as a Pod: quantities must match the regular expression …`.
pub(crate) fn check_quantities(resource: &ResourceType, object: &Value) -> Result<(), Status> {
    match berth_api::validation::quantities::malformed_quantity(
        resource.group,
        resource.kind,
        object,
    ) {
        None => Ok(()),
        Some(error) => Err(Status::bad_request(cannot_handle(resource, error))),
    }
}

/// The `fieldValidation` directive: `Strict`, `Warn` (the default) or `Ignore`.
pub(crate) fn field_validation(directive: Option<&str>) -> Result<&'static str, Status> {
    match directive.unwrap_or("Warn") {
        "" | "Warn" => Ok("Warn"),
        "Strict" => Ok("Strict"),
        "Ignore" => Ok("Ignore"),
        other => Err(Status::bad_request(format!(
            "fieldValidation parameter unsupported value: {other:?}"
        ))),
    }
}

/// A patch's strict decoding problems: `decode_errors` from the patch itself (duplicates, or a
/// JSON patch's unknown operation fields) and the unknown fields of the patched object (dropped
/// here), sorted as kube-apiserver finds them in the re-encoded object. `Warn` returns them;
/// `Strict` refuses the patch as kube-apiserver does, a 422 naming `patch` with `shown` (the
/// patched object, or the strategic merge patch as Go prints it), asked for only then.
pub(crate) fn patch_fields(
    resource: &ResourceType,
    patched: &mut Value,
    directive: Option<&str>,
    decode_errors: &[String],
    shown: impl Fn(&Value) -> String,
) -> Result<Vec<String>, Status> {
    let directive = field_validation(directive)?;
    // A patched object that does not decode fails whatever the directive.
    let malformed = berth_api::validation::quantities::malformed_quantity(
        resource.group,
        resource.kind,
        patched,
    );
    if let Some(error) = malformed {
        return Err(invalid_patch(&shown(patched), error));
    }
    let typed = berth_api::validation::fields::decode_typed(
        resource.group,
        resource.version,
        resource.kind,
        patched,
    );
    if let Some(error) = typed.malformed_time {
        return Err(invalid_patch(&shown(patched), &error));
    }
    let mut unknown = typed.unknown;
    if directive == "Ignore" {
        return Ok(Vec::new());
    }
    unknown.sort();
    let mut messages = decode_errors.to_vec();
    messages.extend(unknown.iter().map(|f| format!("unknown field {f:?}")));
    if directive == "Strict" && !messages.is_empty() {
        let detail = format!("strict decoding error: {}", messages.join(", "));
        return Err(invalid_patch(&shown(patched), &detail));
    }
    Ok(messages)
}

/// kube-apiserver's `NewInvalid(GroupKind{}, "", [Invalid(patch, shown, detail)])`.
fn invalid_patch(shown: &str, detail: &str) -> Status {
    let cause_message =
        format!("Invalid value: {}: {detail}", berth_api::validation::go_quote(shown));
    let message = format!(" \"\" is invalid: patch: {cause_message}");
    Status::new(axum::http::StatusCode::UNPROCESSABLE_ENTITY, "Invalid", message).with_details(
        crate::status::Details {
            causes: vec![Cause {
                reason: "FieldValueInvalid",
                message: cause_message,
                field: "patch".into(),
            }],
            ..crate::status::Details::default()
        },
    )
}

/// `WarningsOnCreate` of the registry strategies that have one: an Ingress that names its class
/// by the deprecated annotation.
pub(crate) fn create_warnings(resource: &ResourceType, object: &Value) -> Vec<String> {
    const INGRESS_CLASS: &str = "kubernetes.io/ingress.class";
    match (resource.group, resource.kind) {
        ("networking.k8s.io", "Ingress")
            if object
                .pointer("/metadata/annotations")
                .and_then(|a| a.get(INGRESS_CLASS))
                .is_some() =>
        {
            vec![format!(
                "annotation {INGRESS_CLASS:?} is deprecated, please use 'spec.ingressClassName' instead"
            )]
        }
        _ => Vec::new(),
    }
}

/// Adds one `Warning: 299 - "…"` header per warning, as kube-apiserver does; kubectl prints
/// them as `Warning: …`.
pub(crate) fn with_warnings(
    mut response: axum::response::Response,
    warnings: &[String],
) -> axum::response::Response {
    for warning in warnings {
        let text = format!("299 - {}", serde_json::Value::String(warning.clone()));
        if let Ok(value) = axum::http::HeaderValue::from_str(&text) {
            response.headers_mut().append("warning", value);
        }
    }
    response
}

/// Validation of a write (`berth_api::validation`): a 422 `Invalid` Status naming every cause.
pub(crate) fn validate(
    resource: &ResourceType,
    object: &Value,
    write: berth_api::validation::Write<'_>,
) -> Result<(), Status> {
    let errors = match crate::crds::info(resource) {
        Some(custom) => {
            let old = match write {
                berth_api::validation::Write::Create => None,
                berth_api::validation::Write::Update(old)
                | berth_api::validation::Write::Status(old) => Some(old),
            };
            let mut errors =
                berth_api::validation::custom_resource_meta(object, resource.namespaced(), old);
            errors.extend(match old {
                None => custom.schema.validate(object),
                // Ratcheting: what was already invalid and did not change stays allowed.
                Some(old) => custom.schema.validate_update(object, old),
            });
            // `ToAggregate` drops repeated messages.
            let mut seen = std::collections::HashSet::new();
            errors.retain(|e| seen.insert(e.to_string()));
            errors
        }
        None => berth_api::validation::validate(resource.group, resource.kind, object, write),
    };
    if errors.is_empty() {
        return Ok(());
    }
    let name = object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
    let causes = errors
        .into_iter()
        .map(|e| Cause { reason: e.reason, message: e.message, field: e.field })
        .collect();
    Err(Status::invalid(resource, name, causes))
}

/// Everything an update goes through after the change is made and the immutable metadata is
/// restored (unknown fields are dropped before, by [`unknown_fields`]): values a client may
/// leave out (a service's allocated cluster IPs), then validation against the stored object.
/// Subresources other than `status` have their own rules.
pub(crate) fn check_update(
    resource: &ResourceType,
    current: &Value,
    updated: &mut Value,
    subresource: Option<&str>,
) -> Result<(), Status> {
    use berth_api::validation::Write;
    if (resource.group, resource.kind) == ("", "Service") {
        keep_cluster_ips(current, updated);
    }
    match subresource {
        None => validate(resource, updated, Write::Update(current)),
        Some("status") => validate(resource, updated, Write::Status(current)),
        Some(_) => Ok(()),
    }
}

/// An update that leaves out `clusterIP`/`clusterIPs` keeps the allocated ones (as
/// kube-apiserver's service REST does), unless the type changes to or from ExternalName.
fn keep_cluster_ips(current: &Value, updated: &mut Value) {
    let external =
        |o: &Value| o.pointer("/spec/type").and_then(Value::as_str) == Some("ExternalName");
    if external(current) || external(updated) {
        return;
    }
    let Some(spec) = updated.get_mut("spec").and_then(Value::as_object_mut) else { return };
    for field in ["clusterIP", "clusterIPs"] {
        let unset = spec.get(field).is_none_or(|v| v.is_null() || v == "" || v == &json!([]));
        if unset && let Some(old) = current.pointer(&format!("/spec/{field}")) {
            spec.insert(field.into(), old.clone());
        }
    }
}

/// What kube-apiserver's registry strategies set on a create (`PrepareForCreate`). It runs
/// after the field manager recorded the create, so no manager owns what it adds: a namespace
/// is `Active` and has the `kubernetes` finalizer (appended to any it was given); a pod's status
/// is replaced by `Pending` with its QoS class (and `PodScheduled=False SchedulingGated` while
/// it has scheduling gates); every other kind with a status subresource but Node starts with
/// an empty status, whatever the body carried (a manifest exported from another cluster).
pub(crate) fn prepare_for_create(resource: &ResourceType, object: &mut Value) {
    if crate::crds::is_custom(resource) {
        // `customResourceStrategy.PrepareForCreate`: with a status subresource the status is
        // not the creator's to set; every custom resource starts at generation 1.
        if resource.subresource("status").is_some()
            && let Some(map) = object.as_object_mut()
        {
            map.remove("status");
        }
        if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
            metadata.insert("generation".into(), json!(1));
        }
        return;
    }
    match (resource.group, resource.kind) {
        ("apiextensions.k8s.io", "CustomResourceDefinition") => {
            berth_api::crd::prepare_for_create(object);
        }
        ("", "Namespace") => {
            if !object["spec"].is_object() {
                object["spec"] = json!({});
            }
            let finalizers = &mut object["spec"]["finalizers"];
            if !finalizers.is_array() {
                *finalizers = json!([]);
            }
            if let Some(list) = finalizers.as_array_mut()
                && !list.iter().any(|f| f == "kubernetes")
            {
                list.push(json!("kubernetes"));
            }
            object["status"] = json!({ "phase": "Active" });
        }
        ("", "Pod") => {
            // What a client sends as status is replaced, as the pod strategy replaces it.
            let mut status = json!({ "phase": "Pending" });
            if object["spec"]["schedulingGates"].as_array().is_some_and(|gates| !gates.is_empty()) {
                status["conditions"] = json!([{
                    "type": "PodScheduled",
                    "status": "False",
                    "lastProbeTime": null,
                    "lastTransitionTime": null,
                    "reason": "SchedulingGated",
                    "message": "Scheduling is blocked due to non-empty scheduling gates",
                }]);
            }
            status["qosClass"] = json!(berth_api::quantity::pod_qos_class(object));
            object["status"] = status;
        }
        // A PriorityClass has no spec, but its strategy starts it at generation 1.
        ("scheduling.k8s.io", "PriorityClass") => {
            if let Some(metadata) = object["metadata"].as_object_mut() {
                metadata.insert("generation".into(), json!(1));
            }
        }
        // The rest reset the status to its zero value, as it serializes: what is not
        // `omitempty` is there (and a claim's phase is defaulted when it is read back).
        ("", "Service") | ("networking.k8s.io", "Ingress") => {
            object["status"] = json!({ "loadBalancer": {} });
        }
        ("", "PersistentVolumeClaim") => object["status"] = json!({ "phase": "Pending" }),
        ("", "PersistentVolume") => {
            object["status"] =
                json!({ "phase": "Pending", "lastPhaseTransitionTime": now_rfc3339() });
        }
        ("apps", "StatefulSet") => {
            object["status"] = json!({ "replicas": 0, "availableReplicas": 0 });
        }
        ("apps", "Deployment") | ("batch", "CronJob") => object["status"] = json!({}),
        // `resourcequotaStrategy.PrepareForCreate`: the status is the controller's to fill.
        ("", "ResourceQuota") => object["status"] = json!({}),
        ("batch", "Job") => {
            generate_job_selector(object);
            object["status"] = json!({});
        }
        ("apps", "ReplicaSet") => object["status"] = json!({ "replicas": 0 }),
        // `csiDriverStrategy.PrepareForCreate`: `MutableCSINodeAllocatableCount` is off (alpha)
        // in v1.33, so its field is dropped.
        ("storage.k8s.io", "CSIDriver") => {
            if let Some(spec) = object["spec"].as_object_mut() {
                spec.remove("nodeAllocatableUpdatePeriodSeconds");
            }
        }
        // `volumeAttachmentStrategy.PrepareForCreate`: the attacher reports the status; its
        // `attached` is not `omitempty`.
        ("storage.k8s.io", "VolumeAttachment") => object["status"] = json!({ "attached": false }),
        ("apps", "DaemonSet") => {
            let given = template_generation(object).filter(|generation| *generation >= 1);
            set_template_generation(object, given.unwrap_or(1));
            object["status"] = json!({
                "currentNumberScheduled": 0,
                "numberMisscheduled": 0,
                "desiredNumberScheduled": 0,
                "numberReady": 0,
            });
        }
        // v2's empty status has only `desiredReplicas`; v1's has both counts.
        ("autoscaling", "HorizontalPodAutoscaler") => {
            object["status"] = match resource.version {
                "v1" => json!({ "currentReplicas": 0, "desiredReplicas": 0 }),
                _ => json!({ "desiredReplicas": 0 }),
            };
        }
        // An empty status, whose counts (not `omitempty`) serialize as 0.
        ("policy", "PodDisruptionBudget") => {
            object["status"] = json!({
                "disruptionsAllowed": 0,
                "currentHealthy": 0,
                "desiredHealthy": 0,
                "expectedPods": 0,
            });
        }
        _ => {}
    }
}

/// Rules kube-apiserver applies on every write: field defaults (`api::defaults`); a namespace
/// carries its name as the
/// `kubernetes.io/metadata.name` label; a secret's `stringData` moves into `data` (base64).
pub(crate) fn normalize(resource: &ResourceType, object: &mut Value) {
    if let Some(custom) = crate::crds::info(resource) {
        // The schema's `default`s, as apiextensions-apiserver applies them on every decode.
        custom.schema.default(object);
        return;
    }
    berth_api::defaults::apply(resource.group, resource.kind, object);
    match (resource.group, resource.kind) {
        ("", "Namespace") => {
            if let Some(name) = object.pointer("/metadata/name").cloned() {
                object["metadata"]["labels"]["kubernetes.io/metadata.name"] = name;
            }
        }
        ("", "Secret") => {
            use base64::Engine;
            if let Some(Value::Object(plain)) =
                object.as_object_mut().and_then(|o| o.remove("stringData"))
            {
                for (key, value) in plain {
                    let text = value.as_str().unwrap_or_default();
                    let encoded = base64::engine::general_purpose::STANDARD.encode(text);
                    object["data"][key] = json!(encoded);
                }
            }
        }
        _ => {}
    }
}

/// `current` with the status and the metadata `body` carries (or no status), as a status
/// update stores it: the status strategies of kube-apiserver put back the spec and every other
/// field from the stored object, not its metadata (whose immutable parts `keep_immutable`
/// restores), except what a kind's strategy also resets ([`reset_for_status`]). What `body`
/// carries equal to `current` (most status writers send the object they read) is kept instead
/// of copied from `current`.
fn with_status_of(resource: &ResourceType, current: &Value, mut body: Value) -> Value {
    let taken =
        body.as_object_mut().map(|map| (map.shift_remove("status"), map.shift_remove("metadata")));
    let (status, metadata) = taken.unwrap_or((None, None));
    let (Some(live), Value::Object(mut mine)) = (current.as_object(), body) else {
        let mut out = current.clone();
        match (status, out.as_object_mut()) {
            (Some(status), Some(map)) => {
                map.insert("status".into(), status);
            }
            (None, Some(map)) => {
                map.shift_remove("status");
            }
            _ => {}
        }
        return out;
    };
    let (mut status, mut metadata) = (status, metadata.filter(Value::is_object));
    let mut out = Map::with_capacity(live.len() + 1);
    for (key, value) in live {
        match key.as_str() {
            "status" => {
                if let Some(status) = status.take() {
                    out.insert(key.clone(), status);
                }
            }
            "metadata" => {
                out.insert(key.clone(), metadata.take().unwrap_or_else(|| value.clone()));
            }
            _ => {
                let kept = mine.shift_remove(key).filter(|body| equal(body, value));
                out.insert(key.clone(), kept.unwrap_or_else(|| value.clone()));
            }
        }
    }
    if let Some(status) = status {
        out.insert("status".into(), status);
    }
    let mut updated = Value::Object(out);
    reset_for_status(resource, current, &mut updated);
    updated
}

/// What a kind's status strategy does besides putting back the spec: a Deployment's labels
/// (`deploymentStatusStrategy`) and a pod's owner references, and its QoS class when the status
/// leaves it out (`podStatusStrategy`), come from the stored object; a PersistentVolume's
/// `lastPhaseTransitionTime` follows its phase (`persistentvolumeStatusStrategy`).
fn reset_for_status(resource: &ResourceType, current: &Value, updated: &mut Value) {
    match (resource.group, resource.kind) {
        ("apps", "Deployment") => keep_stored_metadata(current, updated, "labels"),
        ("", "Pod") => {
            keep_stored_metadata(current, updated, "ownerReferences");
            if updated.pointer("/status/qosClass").and_then(Value::as_str).is_none_or(str::is_empty)
                && let Some(class) = current.pointer("/status/qosClass")
                && let Some(status) = updated.get_mut("status").and_then(Value::as_object_mut)
            {
                status.insert("qosClass".into(), class.clone());
            }
        }
        ("", "PersistentVolume") => phase_transition_time(current, updated),
        _ => {}
    }
}

/// Puts the stored object's `metadata.{field}` (or its absence) into `updated`.
fn keep_stored_metadata(current: &Value, updated: &mut Value, field: &str) {
    if let Some(metadata) = updated.get_mut("metadata").and_then(Value::as_object_mut) {
        match current.get("metadata").and_then(|meta| meta.get(field)) {
            Some(value) => metadata.insert(field.to_owned(), value.clone()),
            None => metadata.remove(field),
        };
    }
}

/// `PersistentVolumeLastPhaseTransitionTime` (GA since v1.31): a status write that keeps the
/// phase keeps the stored transition time unless it sets one; one that changes the phase gets
/// the current time unless it sets a time of its own.
fn phase_transition_time(current: &Value, updated: &mut Value) {
    const FIELD: &str = "lastPhaseTransitionTime";
    fn phase(o: &Value) -> &str {
        o.pointer("/status/phase").and_then(Value::as_str).unwrap_or("")
    }
    fn time(o: &Value) -> Option<Value> {
        o.get("status").and_then(|s| s.get(FIELD)).filter(|t| !t.is_null()).cloned()
    }
    let (stored, sent) = (time(current), time(updated));
    let time = if phase(current) == phase(updated) {
        match (sent, stored) {
            (None, Some(stored)) => stored,
            _ => return,
        }
    } else if sent.is_none() || sent == stored {
        json!(now_rfc3339())
    } else {
        return;
    };
    if !updated.get("status").is_some_and(Value::is_object) {
        updated["status"] = json!({});
    }
    updated["status"][FIELD] = time;
}

/// Keeps what an update cannot change (identity, creation, deletion, generation), splits main
/// resource and `status` subresource updates, and bumps `generation` when the spec changed.
pub(crate) fn keep_immutable(
    resource: &ResourceType,
    current: &Value,
    updated: &mut Value,
    subresource: Option<&str>,
) -> Result<(), Status> {
    // A uid in the body is a precondition: an update meant for an object that was deleted and
    // re-created under the same name must not land on the new one (kube-apiserver's
    // `rest.BeforeUpdate` / storage precondition).
    let uid = |o: &Value| o.pointer("/metadata/uid").and_then(Value::as_str).map(str::to_owned);
    if let (Some(wanted), Some(actual)) = (uid(updated).filter(|u| !u.is_empty()), uid(current))
        && wanted != actual
    {
        let name = current.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
        return Err(Status::conflict(
            resource,
            name,
            &format!(
                "Precondition failed: UID in precondition: {wanted}, UID in object meta: {actual}"
            ),
        ));
    }
    let has_status = resource.subresource("status").is_some();
    if subresource == Some("status") {
        // Only the status changes.
        *updated = with_status_of(resource, current, std::mem::take(updated));
    } else if has_status {
        match current.get("status") {
            // Most bodies carry the status they read: it stays, uncopied.
            Some(status) if updated.get("status").is_some_and(|mine| equal(mine, status)) => {}
            Some(status) => updated["status"] = status.clone(),
            None => {
                if let Some(map) = updated.as_object_mut() {
                    map.remove("status");
                }
            }
        }
    }
    let current_meta = current.get("metadata");
    let metadata = metadata_mut(updated)?;
    for field in [
        "name",
        "namespace",
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
    ] {
        match current_meta.and_then(|meta| meta.get(field)) {
            Some(value) => metadata.insert(field.into(), value.clone()),
            None => metadata.remove(field),
        };
    }
    metadata.remove("resourceVersion");
    let changed = if crate::crds::is_custom(resource) {
        // `customResourceStrategy.PrepareForUpdate`: any change but metadata (and the status,
        // when it has its own subresource) is a new generation.
        let content = |o: &Value| -> Map<String, Value> {
            let mut map = o.as_object().cloned().unwrap_or_default();
            map.remove("metadata");
            if has_status {
                map.remove("status");
            }
            map
        };
        subresource.is_none() && content(current) != content(updated)
    } else {
        current.get("spec") != updated.get("spec")
    };
    if changed
        && let Some(generation) = current.pointer("/metadata/generation").and_then(Value::as_i64)
    {
        metadata_mut(updated)?.insert("generation".into(), json!(generation + 1));
    }
    if (resource.group, resource.kind) == ("apiextensions.k8s.io", "CustomResourceDefinition") {
        match subresource {
            None => berth_api::crd::prepare_for_update(updated, current),
            Some("status") => berth_api::crd::prepare_for_status_update(updated, current),
            Some(_) => {}
        }
    }
    if (resource.group, resource.kind) == ("apps", "DaemonSet") {
        // `daemonSetStrategy.PrepareForUpdate`: no write sets the template generation; a new
        // template (main resource only) bumps it.
        let stored = template_generation(current).unwrap_or(0);
        let changed = subresource.is_none()
            && current.pointer("/spec/template") != updated.pointer("/spec/template");
        set_template_generation(updated, if changed { stored + 1 } else { stored });
    }
    Ok(())
}

/// `jobStrategy`'s `generateSelector` (unless `spec.manualSelector`): the pod template gets
/// the job's name and uid as labels (`batch.kubernetes.io/job-name`,
/// `batch.kubernetes.io/controller-uid` and their legacy unprefixed forms; a label the user set
/// is kept, for validation to judge), the selector the uid. A job without labels then has its
/// template's, as `SetDefaults_Job` gives them when the stored job is read.
fn generate_job_selector(job: &mut Value) {
    if job.pointer("/spec/manualSelector") == Some(&json!(true)) {
        return;
    }
    let meta = |field: &str| job.pointer(&format!("/metadata/{field}")).cloned();
    let (Some(name), Some(uid)) = (meta("name"), meta("uid")) else { return };
    let Some(spec) = job.get_mut("spec").and_then(Value::as_object_mut) else { return };
    let template = spec.entry("template").or_insert_with(|| json!({}));
    if !template.get("metadata").is_some_and(Value::is_object) {
        template["metadata"] = json!({});
    }
    if !template["metadata"].get("labels").is_some_and(Value::is_object) {
        template["metadata"]["labels"] = json!({});
    }
    if let Some(labels) = template["metadata"]["labels"].as_object_mut() {
        use berth_api::validation::{
            CONTROLLER_UID_LABEL, JOB_NAME_LABEL, LEGACY_CONTROLLER_UID_LABEL,
            LEGACY_JOB_NAME_LABEL,
        };
        for (key, value) in [
            (CONTROLLER_UID_LABEL, &uid),
            (JOB_NAME_LABEL, &name),
            (LEGACY_CONTROLLER_UID_LABEL, &uid),
            (LEGACY_JOB_NAME_LABEL, &name),
        ] {
            labels.entry(key).or_insert_with(|| value.clone());
        }
        labels.sort_keys();
    }
    let selector = spec.entry("selector").or_insert_with(|| json!({}));
    if !selector.is_object() {
        *selector = json!({});
    }
    if !selector.get("matchLabels").is_some_and(Value::is_object) {
        selector["matchLabels"] = json!({});
    }
    if let Some(match_labels) = selector["matchLabels"].as_object_mut() {
        match_labels.entry(berth_api::validation::CONTROLLER_UID_LABEL).or_insert(uid);
    }
    let template_labels = job.pointer("/spec/template/metadata/labels").cloned();
    if let Some(metadata) = job.get_mut("metadata").and_then(Value::as_object_mut)
        && metadata.get("labels").and_then(Value::as_object).is_none_or(Map::is_empty)
        && let Some(labels) = template_labels
    {
        metadata.insert("labels".into(), labels);
    }
}

/// A DaemonSet's `spec.templateGeneration`, which apps/v1 carries as the
/// `deprecated.daemonset.template.generation` annotation.
const TEMPLATE_GENERATION: &str = "deprecated.daemonset.template.generation";

fn template_generation(daemon_set: &Value) -> Option<i64> {
    let annotations = daemon_set.get("metadata")?.get("annotations")?;
    annotations.get(TEMPLATE_GENERATION)?.as_str()?.parse().ok()
}

fn set_template_generation(daemon_set: &mut Value, generation: i64) {
    if let Some(metadata) = daemon_set.get_mut("metadata").and_then(Value::as_object_mut) {
        let annotations = metadata.entry("annotations").or_insert_with(|| json!({}));
        if !annotations.is_object() {
            *annotations = json!({});
        }
        annotations[TEMPLATE_GENERATION] = json!(generation.to_string());
    }
}

/// `dropStatefulSetDisabledFields`: without the MaxUnavailableStatefulSet gate a StatefulSet's
/// `spec.updateStrategy.rollingUpdate.maxUnavailable` is dropped, unless `old` (the stored
/// set, on an update) already uses it.
pub(crate) fn drop_disabled_fields(
    resource: &ResourceType,
    object: &mut Value,
    old: Option<&Value>,
    max_unavailable_statefulset: bool,
) {
    const FIELD: &str = "/spec/updateStrategy/rollingUpdate";
    if resource.group != "apps" || resource.kind != "StatefulSet" || max_unavailable_statefulset {
        return;
    }
    let in_use = |o: &Value| o.pointer(FIELD).and_then(|r| r.get("maxUnavailable")).is_some();
    if old.is_some_and(in_use) {
        return;
    }
    if let Some(rolling) = object.pointer_mut(FIELD).and_then(Value::as_object_mut) {
        rolling.remove("maxUnavailable");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_follow_the_directive() {
        let resource = berth_api::kinds::find("apps", "v1", "statefulsets").unwrap();
        let object = json!({"metadata": {"name": "web"}, "spec": {"foo": 1}});
        let warned = unknown_fields(resource, &mut object.clone(), None, Decoded::Body).unwrap();
        assert_eq!(warned, vec![r#"unknown field "spec.foo""#.to_owned()]);
        let mut ignored = object.clone();
        assert!(
            unknown_fields(resource, &mut ignored, Some("Ignore"), Decoded::Body)
                .unwrap()
                .is_empty()
        );
        assert!(ignored["spec"].get("foo").is_none());
        let strict = unknown_fields(resource, &mut object.clone(), Some("Strict"), Decoded::Body);
        let json = String::from_utf8(strict.unwrap_err().to_json()).unwrap();
        assert!(json.contains(r#"StatefulSet in version \"v1\" cannot be handled as a StatefulSet: strict decoding error: unknown field \"spec.foo\""#), "{json}");
        let strict = unknown_fields(resource, &mut object.clone(), Some("Strict"), Decoded::Patch);
        let json = String::from_utf8(strict.unwrap_err().to_json()).unwrap();
        assert!(
            json.contains(r#""message":"strict decoding error: unknown field \"spec.foo\"""#),
            "{json}"
        );
    }

    #[test]
    fn a_status_update_keeps_all_but_the_status_and_metadata_of_the_current_object() {
        let pods = berth_api::kinds::find("", "v1", "pods").unwrap();
        let current = json!({"kind": "Pod",
            "metadata": {"name": "p", "resourceVersion": "4",
                "ownerReferences": [{"kind": "StatefulSet", "name": "web", "uid": "u"}]},
            "spec": {"nodeName": "n", "containers": [{"name": "c"}]},
            "status": {"phase": "Pending", "qosClass": "BestEffort"}});
        // The body reads the object (keys in another order), changes its spec, its status, a
        // label and the owner references: the spec and the owners stay, as the pod status
        // strategy keeps them; the QoS class the status left out comes back.
        let body = json!({"status": {"phase": "Running"}, "spec": {"nodeName": "other"},
                          "metadata": {"resourceVersion": "4", "name": "p", "labels": {"a": "b"}},
                          "kind": "Pod", "extra": 1});
        let updated = with_status_of(pods, &current, body);
        let expected = json!({"kind": "Pod",
            "metadata": {"resourceVersion": "4", "name": "p", "labels": {"a": "b"},
                "ownerReferences": [{"kind": "StatefulSet", "name": "web", "uid": "u"}]},
            "spec": {"nodeName": "n", "containers": [{"name": "c"}]},
            "status": {"phase": "Running", "qosClass": "BestEffort"}});
        assert_eq!(updated, expected);
        let keys: Vec<&String> = updated.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["kind", "metadata", "spec", "status"], "current's order");
        // No status in the body: none stored; a status the current object lacks: added.
        let updated = with_status_of(pods, &current, json!({"kind": "Pod"}));
        assert_eq!(updated.get("status"), None);
        assert_eq!(updated["spec"], current["spec"]);
        assert_eq!(updated["metadata"], current["metadata"], "no metadata in the body");
        let bare = json!({"kind": "Pod", "metadata": {"name": "p"}});
        let updated = with_status_of(pods, &bare, json!({"status": {"phase": "Failed"}}));
        assert_eq!(
            updated,
            json!({"kind": "Pod", "metadata": {"name": "p"}, "status": {"phase": "Failed"}})
        );
        // A Deployment's labels stay; its annotations may change (the revision is written so).
        let deployments = berth_api::kinds::find("apps", "v1", "deployments").unwrap();
        let current = json!({"metadata": {"name": "d", "labels": {"app": "d"}}, "spec": {}});
        let body = json!({"metadata": {"name": "d", "labels": {"app": "x"},
            "annotations": {"deployment.kubernetes.io/revision": "2"}}, "status": {}});
        let updated = with_status_of(deployments, &current, body);
        assert_eq!(
            updated["metadata"],
            json!({"name": "d", "labels": {"app": "d"},
                "annotations": {"deployment.kubernetes.io/revision": "2"}})
        );
    }

    #[test]
    fn a_volume_status_write_moves_the_phase_transition_time_with_the_phase() {
        let volumes = berth_api::kinds::find("", "v1", "persistentvolumes").unwrap();
        let then = "2026-01-01T00:00:00Z";
        let stored = |phase: &str| {
            json!({"metadata": {"name": "pv"}, "spec": {},
                "status": {"phase": phase, "lastPhaseTransitionTime": then}})
        };
        let write = |current: &Value, status: Value| {
            with_status_of(volumes, current, json!({"metadata": {"name": "pv"}, "status": status}))
        };
        // The same phase, no time sent: the stored time stays.
        let same = write(&stored("Available"), json!({"phase": "Available"}));
        assert_eq!(same["status"]["lastPhaseTransitionTime"], then);
        // A new phase: now, unless the writer set a time of its own.
        let bound = write(&stored("Available"), json!({"phase": "Bound"}));
        assert_ne!(bound["status"]["lastPhaseTransitionTime"], then);
        assert_eq!(bound["status"]["lastPhaseTransitionTime"].as_str().unwrap().len(), 20);
        let resent =
            write(&stored("Available"), json!({"phase": "Bound", "lastPhaseTransitionTime": then}));
        assert_ne!(resent["status"]["lastPhaseTransitionTime"], then, "the stored time resent");
        let own = "2026-02-02T00:00:00Z";
        let chosen =
            write(&stored("Available"), json!({"phase": "Bound", "lastPhaseTransitionTime": own}));
        assert_eq!(chosen["status"]["lastPhaseTransitionTime"], own);
    }

    #[test]
    fn a_create_starts_every_status_but_a_node_s_empty() {
        let exported = json!({"metadata": {"name": "x"}, "spec": {},
            "status": {"replicas": 7, "phase": "Bound", "loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}}});
        let status = |group: &str, plural: &str| {
            let mut object = exported.clone();
            prepare_for_create(berth_api::kinds::find(group, "v1", plural).unwrap(), &mut object);
            object["status"].clone()
        };
        assert_eq!(status("", "services"), json!({"loadBalancer": {}}));
        assert_eq!(status("networking.k8s.io", "ingresses"), json!({"loadBalancer": {}}));
        assert_eq!(status("", "persistentvolumeclaims"), json!({"phase": "Pending"}));
        let volume = status("", "persistentvolumes");
        assert_eq!(volume["phase"], "Pending");
        assert!(volume["lastPhaseTransitionTime"].is_string(), "{volume}");
        assert_eq!(status("apps", "statefulsets"), json!({"replicas": 0, "availableReplicas": 0}));
        assert_eq!(status("apps", "deployments"), json!({}));
        assert_eq!(status("apps", "replicasets"), json!({"replicas": 0}));
        assert_eq!(status("apps", "daemonsets")["desiredNumberScheduled"], 0);
        assert_eq!(status("storage.k8s.io", "volumeattachments"), json!({"attached": false}));
        assert_eq!(
            status("", "nodes"),
            exported["status"],
            "the kubelet creates its node with one"
        );
    }

    #[test]
    fn a_daemon_set_s_template_generation_is_the_server_s() {
        let sets = berth_api::kinds::find("apps", "v1", "daemonsets").unwrap();
        let mut created = json!({"metadata": {"name": "ds"}, "spec": {"template": {"a": 1}}});
        prepare_for_create(sets, &mut created);
        assert_eq!(created["metadata"]["annotations"][TEMPLATE_GENERATION], "1");
        let mut given = json!({"metadata": {"name": "ds",
            "annotations": {TEMPLATE_GENERATION: "5"}}, "spec": {}});
        prepare_for_create(sets, &mut given);
        assert_eq!(given["metadata"]["annotations"][TEMPLATE_GENERATION], "5");

        let stored = json!({"metadata": {"name": "ds", "generation": 2,
            "annotations": {TEMPLATE_GENERATION: "3"}},
            "spec": {"minReadySeconds": 0, "template": {"a": 1}}});
        let update = |body: Value, subresource: Option<&str>| {
            let mut updated = body;
            keep_immutable(sets, &stored, &mut updated, subresource).unwrap();
            (updated["metadata"]["generation"].clone(), updated["metadata"]["annotations"].clone())
        };
        // A client cannot set it; a new template bumps it with the generation.
        let forged = json!({"metadata": {"name": "ds", "annotations": {TEMPLATE_GENERATION: "9"}},
            "spec": {"minReadySeconds": 0, "template": {"a": 1}}});
        assert_eq!(update(forged, None), (json!(2), json!({TEMPLATE_GENERATION: "3"})));
        let template = json!({"metadata": {"name": "ds"},
            "spec": {"minReadySeconds": 0, "template": {"a": 2}}});
        assert_eq!(update(template, None), (json!(3), json!({TEMPLATE_GENERATION: "4"})));
        let other = json!({"metadata": {"name": "ds"},
            "spec": {"minReadySeconds": 5, "template": {"a": 1}}});
        assert_eq!(update(other, None), (json!(3), json!({TEMPLATE_GENERATION: "3"})));
        let status = json!({"metadata": {"name": "ds", "annotations": {}},
            "status": {"numberReady": 1}});
        assert_eq!(update(status, Some("status")).1, json!({TEMPLATE_GENERATION: "3"}));
    }

    #[test]
    fn uids_are_version_4() {
        let uid = new_uid();
        assert_eq!(uid.len(), 36);
        assert_eq!(&uid[14..15], "4");
        assert_ne!(uid, new_uid());
    }

    #[test]
    fn timestamps_are_whole_seconds_utc() {
        let now = now_rfc3339();
        assert_eq!(now.len(), 20, "{now}");
        assert!(now.ends_with('Z'));
    }
}
