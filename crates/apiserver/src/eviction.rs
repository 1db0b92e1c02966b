//! `POST …/pods/{name}/eviction`: a delete that honors the pod's PodDisruptionBudget, as
//! `pkg/registry/core/pod/storage/eviction.go` does.
//!
//! - A pod that is Pending, Succeeded, Failed or already terminating is deleted without a look
//!   at budgets.
//! - Otherwise the budgets of its namespace whose selector matches it decide: more than one
//!   is a 500; one whose status the disruption controller has not caught up with, or that
//!   allows no disruption, is a 429 `TooManyRequests` with a `DisruptionBudget` cause (so
//!   `kubectl drain` retries); one that allows a disruption is decremented (and the pod noted in
//!   its `disruptedPods`) with a compare-and-swap on its status before the pod goes.
//! - An unready pod is deleted without decrementing when the budget is met anyway or its
//!   `unhealthyPodEvictionPolicy` is `AlwaysAllow`, with the pod's resourceVersion as a
//!   precondition so that it cannot have become ready in between.
//! - The pod gets the `DisruptionTarget` condition (`EvictionByEvictionAPI`) before its delete,
//!   as with the `PodDisruptionConditions` feature (GA in v1.31).

use std::time::Duration;

use axum::body::Body;
use axum::http::StatusCode;
use axum::response::Response;
use berth_api::kinds::ResourceType;
use berth_store::RangeRequest;
use serde_json::{Value, json};

use crate::deletion::{self, DeleteOptions};
use crate::objects::now_rfc3339;
use crate::resources::{
    Context, Manager, decode, delete_object, prefix, read_object, stored_kv, write_back,
};
use crate::status::{Cause, Details, Status};
use crate::subresources::created_status;

type Result<T, E = Status> = std::result::Result<T, E>;

/// `MaxDisruptedPodSize`: evictions the disruption controller has not confirmed yet, at most.
const MAX_DISRUPTED_PODS: usize = 2000;
/// `EvictionsRetry`: conflicts are retried this many times in all, …
const RETRIES: usize = 20;
/// … this long apart (upstream adds 10% jitter).
const RETRY_INTERVAL: Duration = Duration::from_millis(500);
/// `policyv1.DisruptionBudgetCause`.
const DISRUPTION_BUDGET_CAUSE: &str = "DisruptionBudget";

/// The eviction of the pod `cx` names; `body` is a policy/v1 (or v1beta1) Eviction.
pub(crate) async fn evict(cx: &Context, body: Body) -> Result<Response> {
    let eviction = read_object(cx, body).await?;
    let kind = eviction.get("kind").and_then(Value::as_str).unwrap_or("Eviction");
    let version = eviction.get("apiVersion").and_then(Value::as_str).unwrap_or("policy/v1");
    if kind != "Eviction" || !matches!(version, "policy/v1" | "policy/v1beta1") {
        return Err(Status::bad_request(format!(
            "the body of an eviction must be a policy/v1 Eviction, not {version} {kind}"
        )));
    }
    let name = eviction.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
    if name != cx.name() {
        return Err(Status::bad_request("name in URL does not match name in Eviction object"));
    }
    let mut options = deletion::from_value(eviction.get("deleteOptions").unwrap_or(&Value::Null))?;
    options.dry_run |= cx.query.dry_run();
    let mut pods = cx.for_object(cx.resource(), name);
    // The condition is written through the pods' registry, below the handlers that record
    // field managers, as upstream's `addConditionAndDeletePod` does.
    pods.manager = Manager::Unrecorded;

    // A pod in a state that needs no budget goes at once (conflicts retried, unless the client
    // named a resourceVersion).
    let mut attempt = 0;
    let (pod, revision) = loop {
        attempt += 1;
        let (pod, revision) = read(&pods, name).await?;
        if !can_ignore_budgets(&pod) {
            break (pod, revision);
        }
        let mut delete = options.clone();
        if should_enforce_resource_version(&pod) && resource_version_unset(&options) {
            set_resource_version(&mut delete, &revision);
        }
        match add_condition_and_delete(&pods, name, delete).await {
            Err(status)
                if status.code() == StatusCode::CONFLICT
                    && resource_version_unset(&options)
                    && attempt < RETRIES =>
            {
                tokio::time::sleep(RETRY_INTERVAL).await;
            }
            Err(status) => return Err(status),
            Ok(()) => return Ok(created_status()),
        }
    };

    let mut budgets = matching_budgets(cx, &pod).await?;
    if budgets.len() > 1 {
        return Err(Status::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "",
            "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.",
        ));
    }
    let mut unready_within_budget = None;
    if let Some((budget_name, budget)) = budgets.pop() {
        let status = budget.get("status").unwrap_or(&Value::Null);
        let count = |field: &str| status.get(field).and_then(Value::as_i64).unwrap_or(0);
        if !is_ready(&pod) {
            let policy = budget.pointer("/spec/unhealthyPodEvictionPolicy").and_then(Value::as_str);
            let (current, desired) = (count("currentHealthy"), count("desiredHealthy"));
            // Deleting an unready pod does not disrupt an application whose budget is met.
            if policy == Some("AlwaysAllow") || (current >= desired && desired > 0) {
                unready_within_budget = Some(budget_name.clone());
            }
        }
        if unready_within_budget.is_none() {
            decrement(cx, name, &budget_name, budget, options.dry_run).await?;
        }
    }

    let mut delete = options.clone();
    if unready_within_budget.is_some() {
        set_resource_version(&mut delete, &revision);
    }
    match add_condition_and_delete(&pods, name, delete).await {
        Err(status)
            if status.code() == StatusCode::CONFLICT && resource_version_unset(&options) =>
        {
            match unready_within_budget {
                // The pod changed since it was found unready: the client is to try again.
                Some(budget) => Err(still_processing(&budget)),
                None => Err(status),
            }
        }
        Err(status) => Err(status),
        Ok(()) => Ok(created_status()),
    }
}

/// The object `name` of `cx` and its resourceVersion.
async fn read(cx: &Context, name: &str) -> Result<(Value, String)> {
    let kv = stored_kv(cx, name).await?;
    Ok((decode(&kv)?, kv.mod_revision.to_string()))
}

/// `canIgnorePDB`: the pod is terminal, not started, or already terminating.
fn can_ignore_budgets(pod: &Value) -> bool {
    matches!(phase(pod), "Succeeded" | "Failed" | "Pending") || is_terminating(pod)
}

/// `shouldEnforceResourceVersion`: a pod that could still become ready is deleted only as read.
fn should_enforce_resource_version(pod: &Value) -> bool {
    !matches!(phase(pod), "Succeeded" | "Failed") && !is_terminating(pod)
}

fn phase(pod: &Value) -> &str {
    pod.pointer("/status/phase").and_then(Value::as_str).unwrap_or_default()
}

fn is_terminating(pod: &Value) -> bool {
    pod.pointer("/metadata/deletionTimestamp").is_some_and(|t| !t.is_null())
}

/// `podutil.IsPodReady`.
fn is_ready(pod: &Value) -> bool {
    let conditions = pod.pointer("/status/conditions").and_then(Value::as_array);
    conditions.into_iter().flatten().any(|c| c["type"] == "Ready" && c["status"] == "True")
}

fn resource_version_unset(options: &DeleteOptions) -> bool {
    options.preconditions.as_ref().and_then(|p| p.get("resourceVersion")).is_none_or(Value::is_null)
}

fn set_resource_version(options: &mut DeleteOptions, revision: &str) {
    let mut preconditions = options.preconditions.take().unwrap_or_else(|| json!({}));
    if !preconditions.is_object() {
        preconditions = json!({});
    }
    preconditions["resourceVersion"] = json!(revision);
    options.preconditions = Some(preconditions);
}

/// The budgets of the pod's namespace whose selector matches its labels, with their names. A
/// budget without a selector matches nothing; an empty one matches every pod.
async fn matching_budgets(cx: &Context, pod: &Value) -> Result<Vec<(String, Value)>> {
    let budgets = cx.resource_named("policy", "poddisruptionbudgets")?;
    let namespace = cx.path.namespace.as_deref();
    let page = cx.store.range(&RangeRequest::prefix(prefix(budgets, namespace))).await;
    let page = page.map_err(|e| Status::from_store(e, budgets, ""))?;
    let no_labels = serde_json::Map::new();
    let labels = pod.pointer("/metadata/labels").and_then(Value::as_object).unwrap_or(&no_labels);
    let mut matching = Vec::new();
    for kv in &page.kvs {
        let budget = decode(kv)?;
        let Some(selector) = budget.pointer("/spec/selector").filter(|s| s.is_object()) else {
            continue;
        };
        if berth_api::selector::label_selector_matches(selector, labels) {
            let name = budget.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
            matching.push((name.to_owned(), budget));
        }
    }
    Ok(matching)
}

/// `checkAndDecrement`, retried on conflicts from a fresh read of the budget.
async fn decrement(
    cx: &Context,
    pod: &str,
    name: &str,
    mut budget: Value,
    dry_run: bool,
) -> Result<()> {
    let resource = cx.resource_named("policy", "poddisruptionbudgets")?;
    // Through kube-apiserver's loopback client, as upstream's `podDisruptionBudgetClient`.
    let mut budgets = cx.for_object(resource, name);
    budgets.manager = Manager::Loopback;
    for attempt in 1..=RETRIES {
        if attempt > 1 {
            tokio::time::sleep(RETRY_INTERVAL).await;
            budget = read(&budgets, name).await?.0;
        }
        let Some(status) = decremented(&budget, pod, name, &now_rfc3339())? else {
            return Ok(());
        };
        if dry_run {
            return Ok(());
        }
        let revision = budget.pointer("/metadata/resourceVersion").and_then(Value::as_str);
        let expected = revision.and_then(|rv| rv.parse::<i64>().ok()).map(berth_store::Revision);
        let written = write_back(&budgets, Some("status"), expected, |current| {
            let mut updated = current.clone();
            updated["status"] = status.clone();
            Ok(updated)
        })
        .await;
        match written {
            Ok(_) => return Ok(()),
            Err(status) if status.code() == StatusCode::CONFLICT => {}
            Err(status) => return Err(status),
        }
    }
    Err(Status::new(
        StatusCode::GATEWAY_TIMEOUT,
        "Timeout",
        format!("couldn't update PodDisruptionBudget {name:?} due to conflicts"),
    )
    .with_details(Details { retry_after_seconds: 10, ..Details::default() }))
}

/// The budget's status with one disruption taken for `pod` at `now`, or why it cannot be
/// taken. `None` never happens today; it is there so a budget that needs no write could say so.
fn decremented(budget: &Value, pod: &str, name: &str, now: &str) -> Result<Option<Value>> {
    let status = budget.get("status").cloned().unwrap_or_else(|| json!({}));
    let count = |field: &str| status.get(field).and_then(Value::as_i64).unwrap_or(0);
    let generation = budget.pointer("/metadata/generation").and_then(Value::as_i64).unwrap_or(0);
    if count("observedGeneration") < generation {
        return Err(still_processing(name));
    }
    let allowed = count("disruptionsAllowed");
    if allowed < 0 {
        return Err(budget_forbidden(name, "pdb disruptions allowed is negative"));
    }
    let disrupted = status.get("disruptedPods").and_then(Value::as_object).map_or(0, |m| m.len());
    if disrupted > MAX_DISRUPTED_PODS {
        return Err(budget_forbidden(
            name,
            "DisruptedPods map too big - too many evictions not confirmed by PDB controller",
        ));
    }
    if allowed == 0 {
        let (desired, current) = (count("desiredHealthy"), count("currentHealthy"));
        return Err(too_many_requests(
            0,
            format!(
                "The disruption budget {name} needs {desired} healthy pods and has {current} currently"
            ),
        ));
    }
    let mut status = status;
    status["disruptionsAllowed"] = json!(allowed - 1);
    if allowed - 1 == 0 {
        allowed_condition(&mut status, now);
    }
    if !status.get("disruptedPods").is_some_and(Value::is_object) {
        status["disruptedPods"] = json!({});
    }
    status["disruptedPods"][pod] = json!(now);
    Ok(Some(status))
}

/// `UpdateDisruptionAllowedCondition`: the `DisruptionAllowed` condition as the count says,
/// its transition time moved only when its status changes (`apimeta.SetStatusCondition`).
fn allowed_condition(status: &mut Value, now: &str) {
    let allowed = status.get("disruptionsAllowed").and_then(Value::as_i64).unwrap_or(0) > 0;
    let (state, reason) =
        if allowed { ("True", "SufficientPods") } else { ("False", "InsufficientPods") };
    let observed = status.get("observedGeneration").cloned().unwrap_or(json!(0));
    if !status.get("conditions").is_some_and(Value::is_array) {
        status["conditions"] = json!([]);
    }
    let Some(conditions) = status["conditions"].as_array_mut() else { return };
    let condition = json!({
        "type": "DisruptionAllowed",
        "status": state,
        "observedGeneration": observed,
        "lastTransitionTime": now,
        "reason": reason,
        "message": "",
    });
    match conditions.iter_mut().find(|c| c["type"] == "DisruptionAllowed") {
        Some(existing) => {
            let unchanged = existing["status"] == state;
            let since = existing["lastTransitionTime"].clone();
            *existing = condition;
            if unchanged && !since.is_null() {
                existing["lastTransitionTime"] = since;
            }
        }
        None => conditions.push(condition),
    }
}

/// `addConditionAndDeletePod`: the pod gets `DisruptionTarget` (from its latest version, under
/// the delete's preconditions), then the delete (its resourceVersion precondition moved to
/// what the condition's write made).
async fn add_condition_and_delete(
    pods: &Context,
    name: &str,
    mut options: DeleteOptions,
) -> Result<()> {
    if !options.dry_run {
        let preconditions = options.preconditions.clone();
        let written = write_back(pods, Some("status"), None, |current| {
            check_preconditions(pods.resource(), name, preconditions.as_ref(), current)?;
            let mut updated = current.clone();
            disruption_target(&mut updated, &now_rfc3339());
            Ok(updated)
        })
        .await?;
        if !resource_version_unset(&options)
            && let Some(revision) =
                written.object.pointer("/metadata/resourceVersion").and_then(Value::as_str)
        {
            let revision = revision.to_owned();
            set_resource_version(&mut options, &revision);
        }
    }
    delete_object(pods, name, &options).await.map(drop)
}

/// The preconditions of the delete, checked against the latest pod before its condition is
/// written (the messages are upstream's `getLatestPod`'s).
fn check_preconditions(
    resource: &ResourceType,
    name: &str,
    preconditions: Option<&Value>,
    pod: &Value,
) -> Result<()> {
    let Some(preconditions) = preconditions else { return Ok(()) };
    let field = |path: &str| pod.pointer(path).and_then(Value::as_str).unwrap_or_default();
    if let Some(uid) = preconditions.get("uid").and_then(Value::as_str).filter(|u| !u.is_empty())
        && uid != field("/metadata/uid")
    {
        let why = format!(
            "the UID in the precondition ({uid}) does not match the UID in record ({}). The object might have been deleted and then recreated",
            field("/metadata/uid")
        );
        return Err(Status::conflict(resource, name, &why));
    }
    if let Some(rv) =
        preconditions.get("resourceVersion").and_then(Value::as_str).filter(|r| !r.is_empty())
        && rv != field("/metadata/resourceVersion")
    {
        let why = format!(
            "the ResourceVersion in the precondition ({rv}) does not match the ResourceVersion in record ({}). The object might have been modified",
            field("/metadata/resourceVersion")
        );
        return Err(Status::conflict(resource, name, &why));
    }
    Ok(())
}

/// `UpdatePodCondition` with `DisruptionTarget` true: the transition time moves only when the
/// condition's status does.
fn disruption_target(pod: &mut Value, now: &str) {
    if !pod.get("status").is_some_and(Value::is_object) {
        pod["status"] = json!({});
    }
    if !pod["status"].get("conditions").is_some_and(Value::is_array) {
        pod["status"]["conditions"] = json!([]);
    }
    let Some(conditions) = pod["status"]["conditions"].as_array_mut() else { return };
    let mut condition = json!({
        "type": "DisruptionTarget",
        "status": "True",
        "lastProbeTime": null,
        "lastTransitionTime": now,
        "reason": "EvictionByEvictionAPI",
        "message": "Eviction API: evicting",
    });
    match conditions.iter_mut().find(|c| c["type"] == "DisruptionTarget") {
        Some(existing) => {
            if existing["status"] == "True" && !existing["lastTransitionTime"].is_null() {
                condition["lastTransitionTime"] = existing["lastTransitionTime"].clone();
            }
            *existing = condition;
        }
        None => conditions.push(condition),
    }
}

/// `createTooManyRequestsError`: the budget's status is behind its spec, or the pod changed.
fn still_processing(budget: &str) -> Status {
    too_many_requests(
        10,
        format!("The disruption budget {budget} is still being processed by the server."),
    )
}

/// `NewTooManyRequests` with a `DisruptionBudget` cause.
fn too_many_requests(retry_after_seconds: u32, cause: String) -> Status {
    Status::new(
        StatusCode::TOO_MANY_REQUESTS,
        "TooManyRequests",
        "Cannot evict pod as it would violate the pod's disruption budget.",
    )
    .with_details(Details {
        causes: vec![Cause {
            reason: DISRUPTION_BUDGET_CAUSE,
            message: cause,
            field: String::new(),
        }],
        retry_after_seconds,
        ..Details::default()
    })
}

/// `NewForbidden(policy.Resource("poddisruptionbudget"), name, err)`.
fn budget_forbidden(name: &str, why: &str) -> Status {
    Status::forbidden(format!("poddisruptionbudget.policy {name:?} is forbidden: {why}"))
        .with_details(Details {
            name: Some(name.to_owned()),
            group: Some("policy".to_owned()),
            kind: Some("poddisruptionbudget".to_owned()),
            ..Details::default()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(status: Value) -> Value {
        json!({"metadata": {"name": "web", "generation": 2}, "spec": {"minAvailable": 2}, "status": status})
    }

    fn cause(status: &Status) -> String {
        let body: Value = serde_json::from_slice(&status.to_json()).unwrap();
        let message = body["details"]["causes"][0]["message"].as_str().unwrap_or_default();
        format!("{} {message} {}", body["code"], body["details"]["retryAfterSeconds"])
    }

    #[test]
    fn a_budget_behind_its_spec_or_without_disruptions_refuses_with_429() {
        let behind = budget(json!({"observedGeneration": 1, "disruptionsAllowed": 1}));
        let refused = decremented(&behind, "web-0", "web", "t").unwrap_err();
        assert_eq!(
            cause(&refused),
            "429 The disruption budget web is still being processed by the server. 10"
        );
        let spent = budget(json!({"observedGeneration": 2, "disruptionsAllowed": 0,
            "desiredHealthy": 2, "currentHealthy": 2}));
        let refused = decremented(&spent, "web-0", "web", "t").unwrap_err();
        assert_eq!(
            cause(&refused),
            "429 The disruption budget web needs 2 healthy pods and has 2 currently null"
        );
        let negative = budget(json!({"observedGeneration": 2, "disruptionsAllowed": -1}));
        let refused = decremented(&negative, "web-0", "web", "t").unwrap_err();
        assert_eq!(refused.code(), StatusCode::FORBIDDEN);
    }

    #[test]
    fn a_disruption_is_taken_and_noted() {
        let open = budget(json!({"observedGeneration": 2, "disruptionsAllowed": 2,
            "conditions": [{"type": "DisruptionAllowed", "status": "True", "reason": "SufficientPods",
            "lastTransitionTime": "t0", "observedGeneration": 2, "message": ""}]}));
        let status = decremented(&open, "web-0", "web", "t1").unwrap().unwrap();
        assert_eq!(status["disruptionsAllowed"], 1);
        assert_eq!(status["disruptedPods"], json!({"web-0": "t1"}));
        assert_eq!(status["conditions"][0]["lastTransitionTime"], "t0");
        let last = budget(status);
        let status = decremented(&last, "web-1", "web", "t2").unwrap().unwrap();
        assert_eq!(status["disruptionsAllowed"], 0);
        assert_eq!(status["disruptedPods"], json!({"web-0": "t1", "web-1": "t2"}));
        let condition = &status["conditions"][0];
        assert_eq!(
            (&condition["status"], &condition["reason"], &condition["lastTransitionTime"]),
            (&json!("False"), &json!("InsufficientPods"), &json!("t2"))
        );
    }

    #[test]
    fn the_disruption_target_condition_keeps_its_transition_time() {
        let mut pod = json!({"status": {"conditions": [{"type": "Ready", "status": "True"}]}});
        disruption_target(&mut pod, "t1");
        disruption_target(&mut pod, "t2");
        let conditions = pod["status"]["conditions"].as_array().unwrap();
        assert_eq!(conditions.len(), 2);
        assert_eq!(conditions[1]["reason"], "EvictionByEvictionAPI");
        assert_eq!(conditions[1]["lastTransitionTime"], "t1");
    }

    #[test]
    fn pods_that_need_no_budget() {
        let pod = |phase: &str| json!({"status": {"phase": phase}});
        assert!(can_ignore_budgets(&pod("Pending")) && can_ignore_budgets(&pod("Failed")));
        assert!(!can_ignore_budgets(&pod("Running")));
        let terminating =
            json!({"metadata": {"deletionTimestamp": "t"}, "status": {"phase": "Running"}});
        assert!(can_ignore_budgets(&terminating) && !should_enforce_resource_version(&terminating));
        assert!(should_enforce_resource_version(&pod("Pending")));
    }
}
