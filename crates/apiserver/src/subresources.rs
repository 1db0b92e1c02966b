//! Subresources with handlers of their own: `pods/binding` (and the `bindings` resource),
//! `namespaces/finalize`, and the streaming `pods/log|exec|attach|portforward`, which answer a
//! clear `Status` until the kubelet serves them (`pods/eviction` is `crate::eviction`).
//!
//! Binding follows `pkg/registry/core/pod/storage/storage.go` (`BindingREST`), finalize
//! `pkg/registry/core/namespace/storage`.

use axum::body::Body;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use crate::deletion;
use crate::resources::{
    Context, decode, encode, json_response, read_object, stored_kv, write_back,
};
use crate::status::{Cause, Details, Status};

type Result<T, E = Status> = std::result::Result<T, E>;

/// The streaming subresources of pods.
pub(crate) const STREAMING: [&str; 4] = ["attach", "exec", "log", "portforward"];

/// `POST …/pods/{name}/binding`, or `POST …/bindings` (`pod` is then `None` and the body names
/// the pod).
pub(crate) async fn bind(cx: &Context, pod: Option<&str>, body: Body) -> Result<Response> {
    let binding = read_object(cx, body).await?;
    let name = binding.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
    if let Some(pod) = pod
        && pod != name
    {
        return Err(Status::bad_request("name in URL does not match name in Binding object"));
    }
    let target_kind = binding.pointer("/target/kind").and_then(Value::as_str).unwrap_or_default();
    let node = binding.pointer("/target/name").and_then(Value::as_str).unwrap_or_default();
    let mut causes = Vec::new();
    if !(target_kind.is_empty() || target_kind == "Node") {
        causes.push(Cause {
            reason: "FieldValueNotSupported",
            message: format!(
                "Unsupported value: {target_kind:?}: supported values: \"Node\", \"<empty>\""
            ),
            field: "target.kind".into(),
        });
    }
    if node.is_empty() {
        causes.push(Cause {
            reason: "FieldValueRequired",
            message: "Required value".into(),
            field: "target.name".into(),
        });
    }
    let bindings = cx.resource_named("", "bindings")?;
    if !causes.is_empty() {
        return Err(Status::invalid(bindings, name, causes));
    }
    if name.is_empty() {
        return Err(Status::bad_request("name is required for a Binding"));
    }
    let uid = binding.pointer("/metadata/uid").and_then(Value::as_str).filter(|u| !u.is_empty());
    let annotations = binding.pointer("/metadata/annotations").and_then(Value::as_object).cloned();
    let pods = cx.for_object(cx.resource_named("", "pods")?, name);
    let conflict = |why: String| {
        Status::new(
            StatusCode::CONFLICT,
            "Conflict",
            format!("Operation cannot be fulfilled on pods/binding {name:?}: {why}"),
        )
        .with_details(Details {
            name: Some(name.to_owned()),
            kind: Some("pods/binding".into()),
            ..Details::default()
        })
    };
    let dry_run = cx.query.dry_run();
    update_stored(&pods, name, dry_run, |pod| {
        if let Some(uid) = uid {
            let actual = pod.pointer("/metadata/uid").and_then(Value::as_str).unwrap_or_default();
            if uid != actual {
                return Err(conflict(format!(
                    "Precondition failed: UID in precondition: {uid}, UID in object meta: {actual}"
                )));
            }
        }
        if deletion::is_marked(pod) {
            return Err(conflict(format!(
                "pod {name} is being deleted, cannot be assigned to a host"
            )));
        }
        let assigned = pod.pointer("/spec/nodeName").and_then(Value::as_str).unwrap_or_default();
        if !assigned.is_empty() {
            return Err(conflict(format!("pod {name} is already assigned to node {assigned:?}")));
        }
        if pod
            .pointer("/spec/schedulingGates")
            .and_then(Value::as_array)
            .is_some_and(|g| !g.is_empty())
        {
            return Err(conflict(format!("pod {name} has non-empty .spec.schedulingGates")));
        }
        pod["spec"]["nodeName"] = json!(node);
        if let Some(annotations) = &annotations {
            for (key, value) in annotations {
                pod["metadata"]["annotations"][key] = value.clone();
            }
        }
        set_scheduled(pod);
        Ok(())
    })
    .await?;
    Ok(created_status())
}

/// `PodScheduled=True`, with a transition time when it changes (`podutil.UpdatePodCondition`).
fn set_scheduled(pod: &mut Value) {
    let now = berth_api::metatime::format_seconds(deletion::now());
    if !pod.get("status").is_some_and(Value::is_object) {
        pod["status"] = json!({});
    }
    let conditions = pod["status"]
        .as_object_mut()
        .map(|status| status.entry("conditions").or_insert_with(|| json!([])));
    let Some(Value::Array(conditions)) = conditions else { return };
    match conditions.iter_mut().find(|c| c["type"] == "PodScheduled") {
        Some(condition) => {
            if condition["status"] != "True" {
                condition["lastTransitionTime"] = json!(now);
            }
            condition["status"] = json!("True");
            if let Some(map) = condition.as_object_mut() {
                map.remove("reason");
                map.remove("message");
            }
        }
        None => conditions.push(json!({
            "type": "PodScheduled",
            "status": "True",
            "lastProbeTime": null,
            "lastTransitionTime": now,
        })),
    }
}

/// `PUT namespaces/{name}/finalize`: only `spec.finalizers` changes; a terminating namespace
/// whose finalizer lists are both empty is then removed.
pub(crate) async fn finalize(cx: &Context, body: Body) -> Result<Response> {
    let object = read_object(cx, body).await?;
    let body_name = object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
    if body_name != cx.name() {
        return Err(Status::bad_request(format!(
            "the name of the object ({body_name}) does not match the name on the URL ({})",
            cx.name()
        )));
    }
    let expected = object
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .filter(|rv| !rv.is_empty())
        .map(|rv| {
            rv.parse::<i64>()
                .map(berth_store::Revision)
                .map_err(|_| Status::bad_request(format!("invalid resource version {rv:?}")))
        })
        .transpose()?;
    let finalizers = object.pointer("/spec/finalizers").cloned().unwrap_or_else(|| json!([]));
    let written = write_back(cx, Some("finalize"), expected, |current| {
        let mut updated = current.clone();
        if !updated.get("spec").is_some_and(Value::is_object) {
            updated["spec"] = json!({});
        }
        updated["spec"]["finalizers"] = finalizers.clone();
        Ok(updated)
    })
    .await?;
    Ok(written.response(StatusCode::OK))
}

/// `pods/{name}/log|exec|attach|portforward`: the pod must exist; the stream itself needs the
/// kubelet of the pod's node.
pub(crate) async fn streaming(cx: &Context) -> Result<Response> {
    let subresource = cx.path.subresource.as_deref().unwrap_or_default();
    let name = cx.name();
    let pod = decode(&stored_kv(cx, name).await?)?;
    let node = pod.pointer("/spec/nodeName").and_then(Value::as_str).unwrap_or_default();
    if node.is_empty() {
        return Err(Status::bad_request(format!("pod {name} does not have a host assigned")));
    }
    Err(Status::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "ServiceUnavailable",
        format!(
            "pods/{subresource} is not available for pod {name}: the kubelet of node {node} does not serve it yet"
        ),
    ))
}

/// The success `Status` a create-style subresource answers with (201).
pub(crate) fn created_status() -> Response {
    json_response(
        StatusCode::CREATED,
        &json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "code": 201,
        }),
    )
}

/// Changes the stored object with a compare-and-swap, retried on conflicts; `change` refuses
/// with a `Status`.
async fn update_stored(
    cx: &Context,
    name: &str,
    dry_run: bool,
    change: impl Fn(&mut Value) -> Result<()>,
) -> Result<Value> {
    let key = cx.key(name);
    loop {
        let kv = stored_kv(cx, name).await?;
        let mut object = decode(&kv)?;
        change(&mut object)?;
        if dry_run {
            return Ok(object);
        }
        match cx.store.update(&key, encode(&object)?, kv.mod_revision).await {
            Ok(written) => {
                crate::objects::set_resource_version(&mut object, written.mod_revision);
                return Ok(object);
            }
            Err(berth_store::Error::Conflict { .. }) => continue,
            Err(error) => return Err(Status::from_store(error, cx.resource(), name)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheduling_sets_the_condition_once() {
        let mut pod = json!({ "status": { "phase": "Pending" } });
        set_scheduled(&mut pod);
        let conditions = pod["status"]["conditions"].as_array().unwrap().clone();
        assert_eq!(conditions.len(), 1);
        assert_eq!(conditions[0]["type"], "PodScheduled");
        assert_eq!(conditions[0]["status"], "True");
        let mut unschedulable = json!({ "status": { "conditions": [
            { "type": "PodScheduled", "status": "False", "reason": "Unschedulable", "lastTransitionTime": "2020-01-01T00:00:00Z" },
        ] } });
        set_scheduled(&mut unschedulable);
        let condition = &unschedulable["status"]["conditions"][0];
        assert_eq!(condition["status"], "True");
        assert!(condition.get("reason").is_none());
        assert_ne!(condition["lastTransitionTime"], "2020-01-01T00:00:00Z");
    }
}
