//! Deletion as kube-apiserver decides it: `DeleteOptions`, graceful deletion of pods, the
//! garbage collector's `orphan`/`foregroundDeletion` finalizers, and when an update that removes
//! finalizers deletes the object.
//!
//! Pure functions over JSON objects; `resources.rs` reads and writes the store around them.
//! The rules follow `staging/src/k8s.io/apiserver/pkg/registry/rest/delete.go` (`BeforeDelete`),
//! `staging/src/k8s.io/apiserver/pkg/registry/generic/registry/store.go` (`Delete`,
//! `deletionFinalizersForGarbageCollection`, `markAsDeleting`, `shouldDeleteDuringUpdate`),
//! `pkg/registry/core/pod/strategy.go` (`CheckGracefulDelete`) and
//! `pkg/registry/core/namespace/storage/storage.go` (the namespace's two-step delete).

use axum::http::StatusCode;
use berth_api::kinds::ResourceType;
use berth_api::metatime::{format_seconds, unix_seconds};
use serde_json::{Value, json};

use crate::request::Query;
use crate::status::{Cause, Details, Status};

/// `metadata.finalizers` value the garbage collector honours: orphan the dependents.
pub(crate) const ORPHAN: &str = "orphan";
/// `metadata.finalizers` value the garbage collector honours: delete dependents first.
pub(crate) const FOREGROUND: &str = "foregroundDeletion";
/// A pod without `terminationGracePeriodSeconds` gets this grace (the API default).
const DEFAULT_POD_GRACE: i64 = 30;

/// `propagationPolicy` of `DeleteOptions`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Propagation {
    Orphan,
    Background,
    Foreground,
}

/// The `DeleteOptions` of one request, from its body or else its query string.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct DeleteOptions {
    pub(crate) grace_period_seconds: Option<i64>,
    pub(crate) propagation: Option<Propagation>,
    pub(crate) orphan_dependents: Option<bool>,
    /// `preconditions` as sent (`uid`, `resourceVersion`).
    pub(crate) preconditions: Option<Value>,
    pub(crate) dry_run: bool,
}

impl DeleteOptions {
    /// Decodes the body (JSON, or `{}` when empty) or, for a request without a body, the query
    /// parameters — kube-apiserver reads one or the other (`handlers/delete.go`).
    pub(crate) fn parse(body: &[u8], query: &Query) -> Result<DeleteOptions, Status> {
        let mut options = if body.iter().all(u8::is_ascii_whitespace) {
            let grace = match query.get("gracePeriodSeconds") {
                Some(g) => Some(g.parse::<i64>().map_err(|_| {
                    Status::bad_request(format!("invalid gracePeriodSeconds {g:?}"))
                })?),
                None => None,
            };
            let orphan = match query.get("orphanDependents") {
                Some("true") => Some(true),
                Some("false") => Some(false),
                Some(other) => {
                    return Err(Status::bad_request(format!("invalid orphanDependents {other:?}")));
                }
                None => None,
            };
            let mut options = DeleteOptions {
                grace_period_seconds: grace,
                orphan_dependents: orphan,
                ..DeleteOptions::default()
            };
            if let Some(policy) = query.get("propagationPolicy") {
                options.propagation = Some(propagation(policy)?);
            }
            options
        } else {
            let value: Value = serde_json::from_slice(body)
                .map_err(|e| Status::bad_request(format!("error decoding DeleteOptions: {e}")))?;
            from_value(&value)?
        };
        if query.dry_run() {
            options.dry_run = true;
        }
        Ok(options)
    }
}

/// `DeleteOptions` from a JSON value (a request body, or an Eviction's `deleteOptions`).
pub(crate) fn from_value(value: &Value) -> Result<DeleteOptions, Status> {
    if !value.is_object() && !value.is_null() {
        return Err(Status::bad_request("DeleteOptions must be a JSON object"));
    }
    let grace = match value.get("gracePeriodSeconds") {
        None | Some(Value::Null) => None,
        Some(g) => Some(
            g.as_i64()
                .ok_or_else(|| Status::bad_request("gracePeriodSeconds must be an integer"))?,
        ),
    };
    let orphan = match value.get("orphanDependents") {
        None | Some(Value::Null) => None,
        Some(o) => Some(
            o.as_bool().ok_or_else(|| Status::bad_request("orphanDependents must be a boolean"))?,
        ),
    };
    let policy = match value.get("propagationPolicy").and_then(Value::as_str) {
        Some(policy) => Some(propagation(policy)?),
        None => None,
    };
    let dry_run = value
        .get("dryRun")
        .and_then(Value::as_array)
        .is_some_and(|d| d.iter().any(|v| v.as_str() == Some("All")));
    let options = DeleteOptions {
        grace_period_seconds: grace,
        propagation: policy,
        orphan_dependents: orphan,
        preconditions: value.get("preconditions").filter(|p| !p.is_null()).cloned(),
        dry_run,
    };
    if options.orphan_dependents.is_some() && options.propagation.is_some() {
        return Err(invalid_options(
            "propagationPolicy",
            format!(
                "Invalid value: {:?}: orphanDependents and deletionPropagation cannot be both set",
                value.get("propagationPolicy").and_then(Value::as_str).unwrap_or_default()
            ),
        ));
    }
    Ok(options)
}

fn propagation(policy: &str) -> Result<Propagation, Status> {
    match policy {
        "Orphan" => Ok(Propagation::Orphan),
        "Background" => Ok(Propagation::Background),
        "Foreground" => Ok(Propagation::Foreground),
        other => Err(invalid_options(
            "propagationPolicy",
            format!(
                "Unsupported value: {other:?}: supported values: \"Foreground\", \"Background\", \"Orphan\", \"nil\""
            ),
        )),
    }
}

/// `DeleteOptions.meta.k8s.io "" is invalid: …` (422), as `ValidateDeleteOptions` answers.
fn invalid_options(field: &str, message: String) -> Status {
    let reason = if message.starts_with("Unsupported") {
        "FieldValueNotSupported"
    } else {
        "FieldValueInvalid"
    };
    Status::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "Invalid",
        format!("DeleteOptions.meta.k8s.io \"\" is invalid: {field}: {message}"),
    )
    .with_details(Details {
        name: Some(String::new()),
        group: Some("meta.k8s.io".into()),
        kind: Some("DeleteOptions".into()),
        causes: vec![Cause { reason, message, field: field.into() }],
        ..Details::default()
    })
}

/// What a DELETE does to the object it found.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Outcome {
    /// Remove the object from the store now.
    Remove,
    /// Keep the object, written as this (marked for deletion, grace shortened, finalizers
    /// changed). Equal to the current object when nothing changes.
    Keep(Value),
}

/// Decides a DELETE of `object` with `options` at `now` (Unix seconds).
pub(crate) fn plan(
    resource: &ResourceType,
    object: &Value,
    options: &DeleteOptions,
    now: i64,
) -> Outcome {
    let mut object = object.clone();
    let marked = is_marked(&object);
    if (resource.group, resource.kind) == ("apiextensions.k8s.io", "CustomResourceDefinition")
        && !marked
    {
        // The CRD storage's `Delete`: the first DELETE marks it, adds the cleanup finalizer and
        // says so in a condition; the finalizer controller (`crds.rs`) removes the instances.
        set_meta(&mut object, "deletionTimestamp", json!(format_seconds(now)));
        berth_api::crd::mark_for_deletion(&mut object, &format_seconds(now));
        return Outcome::Keep(object);
    }
    if resource.group.is_empty() && resource.kind == "Namespace" {
        if !marked {
            // The first DELETE only starts termination; the namespace controller empties it.
            set_meta(&mut object, "deletionTimestamp", json!(format_seconds(now)));
            object["status"]["phase"] = json!("Terminating");
            update_gc_finalizers(resource, &mut object, options);
            return Outcome::Keep(object);
        }
        if !string_list(&object, "/spec/finalizers").is_empty() {
            return Outcome::Keep(object);
        }
    }
    let grace = options.grace_period_seconds.map(|g| if g < 0 { 1 } else { g });
    // Whether the delete is graceful, and whether a grace period remains afterwards
    // (`BeforeDelete` with pods' `CheckGracefulDelete`).
    let mut graceful = false;
    let mut lasting = false;
    if graceful_kind(resource) {
        if marked {
            let existing = object
                .pointer("/metadata/deletionGracePeriodSeconds")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            if existing > 0 {
                match grace {
                    // Only a shorter grace period may be given once deletion started.
                    Some(shorter) if shorter < existing => {
                        let started = object
                            .pointer("/metadata/deletionTimestamp")
                            .and_then(Value::as_str)
                            .and_then(unix_seconds)
                            .unwrap_or(now + existing);
                        let at = started - existing + shorter;
                        set_meta(&mut object, "deletionTimestamp", json!(format_seconds(at)));
                        set_meta(&mut object, "deletionGracePeriodSeconds", json!(shorter));
                        graceful = true;
                        lasting = shorter > 0;
                    }
                    // Graceful deletion is pending: nothing changes, not even finalizers.
                    _ => return Outcome::Keep(object),
                }
            }
        } else {
            let period = pod_grace(&object, grace);
            set_meta(&mut object, "deletionTimestamp", json!(format_seconds(now + period)));
            set_meta(&mut object, "deletionGracePeriodSeconds", json!(period));
            bump_generation(&mut object);
            graceful = true;
            lasting = period > 0;
        }
    }
    update_gc_finalizers(resource, &mut object, options);
    let pending_finalizers = !string_list(&object, "/metadata/finalizers").is_empty();
    if graceful {
        if pending_finalizers || lasting {
            return Outcome::Keep(object);
        }
        return Outcome::Remove;
    }
    if pending_finalizers {
        mark_as_deleting(&mut object, now);
        return Outcome::Keep(object);
    }
    Outcome::Remove
}

/// Kinds with a graceful delete strategy: pods only, among those served.
fn graceful_kind(resource: &ResourceType) -> bool {
    resource.group.is_empty() && resource.kind == "Pod"
}

/// `podStrategy.CheckGracefulDelete`: the grace a DELETE gives a pod.
fn pod_grace(pod: &Value, requested: Option<i64>) -> i64 {
    let mut period = requested.unwrap_or_else(|| {
        pod.pointer("/spec/terminationGracePeriodSeconds")
            .and_then(Value::as_i64)
            .unwrap_or(DEFAULT_POD_GRACE)
    });
    let unbound = pod.pointer("/spec/nodeName").and_then(Value::as_str).is_none_or(str::is_empty);
    let phase = pod.pointer("/status/phase").and_then(Value::as_str).unwrap_or_default();
    if unbound || phase == "Succeeded" || phase == "Failed" {
        period = 0;
    }
    period.max(0)
}

/// `markAsDeleting`: a deletion timestamp (now, unless an earlier one is set) and no grace.
fn mark_as_deleting(object: &mut Value, now: i64) {
    let existing = object
        .pointer("/metadata/deletionTimestamp")
        .and_then(Value::as_str)
        .and_then(unix_seconds);
    if existing.is_none() {
        bump_generation(object);
    }
    if existing.is_none_or(|at| at > now) {
        set_meta(object, "deletionTimestamp", json!(format_seconds(now)));
    }
    set_meta(object, "deletionGracePeriodSeconds", json!(0));
}

fn bump_generation(object: &mut Value) {
    if let Some(generation) =
        object.pointer("/metadata/generation").and_then(Value::as_i64).filter(|g| *g > 0)
    {
        set_meta(object, "generation", json!(generation + 1));
    }
}

/// `deletionFinalizersForGarbageCollection`: the `orphan`/`foregroundDeletion` finalizers the
/// options (or, without options, the object's own finalizers and the kind's default) ask for.
fn update_gc_finalizers(resource: &ResourceType, object: &mut Value, options: &DeleteOptions) {
    let finalizers = string_list(object, "/metadata/finalizers");
    let has = |f: &str| finalizers.iter().any(|x| x == f);
    let orphan = match (options.orphan_dependents, options.propagation) {
        (Some(orphan), _) => orphan,
        (None, Some(policy)) => policy == Propagation::Orphan,
        (None, None) if has(ORPHAN) => true,
        (None, None) if has(FOREGROUND) => false,
        (None, None) => orphans_by_default(resource),
    };
    let foreground = match (options.orphan_dependents, options.propagation) {
        (Some(_), _) => false,
        (None, Some(policy)) => policy == Propagation::Foreground,
        (None, None) => !has(ORPHAN) && has(FOREGROUND),
    };
    let mut updated: Vec<String> =
        finalizers.iter().filter(|f| *f != ORPHAN && *f != FOREGROUND).cloned().collect();
    if orphan {
        updated.push(ORPHAN.into());
    }
    if foreground {
        updated.push(FOREGROUND.into());
    }
    let same = updated.len() == finalizers.len() && updated.iter().all(|f| has(f));
    if !same {
        set_meta(object, "finalizers", json!(updated));
    }
}

/// The kind's `DefaultGarbageCollectionPolicy` is `OrphanDependents`: only legacy kinds
/// (`v1` ReplicationControllers, `extensions/v1beta1` and `apps/v1beta1|2` workloads), none of
/// which berth serves.
fn orphans_by_default(resource: &ResourceType) -> bool {
    matches!(
        (resource.group, resource.version, resource.kind),
        ("", "v1", "ReplicationController") | ("extensions", "v1beta1", _) | ("apps", "v1beta1", _)
    )
}

/// Kinds whose DELETE answers with the deleted object rather than a success `Status`
/// (`ReturnDeletedObject` in their registries).
pub(crate) fn returns_deleted_object(resource: &ResourceType) -> bool {
    resource.group.is_empty() && matches!(resource.kind, "Pod" | "Service" | "Namespace")
}

/// The success `Status` a DELETE that removed `object` answers with.
pub(crate) fn success_status(resource: &ResourceType, object: &Value) -> Value {
    let mut details = json!({
        "name": object.pointer("/metadata/name").cloned().unwrap_or(Value::Null),
        "kind": resource.plural,
    });
    if !resource.group.is_empty() {
        details["group"] = json!(resource.group);
    }
    if let Some(uid) = object.pointer("/metadata/uid") {
        details["uid"] = uid.clone();
    }
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": details,
    })
}

// === updates of marked objects ===

/// Whether an update turning `current` into `updated` deletes the object instead: it was marked,
/// out of its grace period, and the update removes its last finalizer (`shouldDeleteDuringUpdate`;
/// a namespace also needs empty `spec.finalizers`, and is removed once both lists are empty).
pub(crate) fn deletes_on_update(resource: &ResourceType, current: &Value, updated: &Value) -> bool {
    if !is_marked(current) || !string_list(updated, "/metadata/finalizers").is_empty() {
        return false;
    }
    if resource.group.is_empty() && resource.kind == "Namespace" {
        return string_list(updated, "/spec/finalizers").is_empty();
    }
    if string_list(current, "/metadata/finalizers").is_empty() {
        return false;
    }
    current
        .pointer("/metadata/deletionGracePeriodSeconds")
        .and_then(Value::as_i64)
        .is_none_or(|grace| grace <= 0)
}

// === helpers ===

pub(crate) fn is_marked(object: &Value) -> bool {
    object.pointer("/metadata/deletionTimestamp").is_some_and(|t| !t.is_null())
}

fn string_list(object: &Value, pointer: &str) -> Vec<String> {
    object
        .pointer(pointer)
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(Value::as_str).map(str::to_owned).collect())
        .unwrap_or_default()
}

fn set_meta(object: &mut Value, field: &str, value: Value) {
    if !object.get("metadata").is_some_and(Value::is_object) {
        object["metadata"] = json!({});
    }
    object["metadata"][field] = value;
}

/// Now, in Unix seconds.
pub(crate) fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(plural: &str) -> &'static ResourceType {
        let group = if plural == "statefulsets" { "apps" } else { "" };
        berth_api::kinds::find(group, "v1", plural).unwrap()
    }

    const NOW: i64 = 1_700_000_000;

    fn options(grace: Option<i64>, propagation: Option<Propagation>) -> DeleteOptions {
        DeleteOptions { grace_period_seconds: grace, propagation, ..DeleteOptions::default() }
    }

    fn pod(node: Option<&str>, phase: &str, finalizers: &[&str]) -> Value {
        let mut pod = json!({
            "metadata": { "name": "web-0", "namespace": "ns", "uid": "u" },
            "spec": { "containers": [], "terminationGracePeriodSeconds": 20 },
            "status": { "phase": phase },
        });
        if let Some(node) = node {
            pod["spec"]["nodeName"] = json!(node);
        }
        if !finalizers.is_empty() {
            pod["metadata"]["finalizers"] = json!(finalizers);
        }
        pod
    }

    fn kept(outcome: Outcome) -> Value {
        match outcome {
            Outcome::Keep(object) => object,
            Outcome::Remove => panic!("expected the object to be kept"),
        }
    }

    #[test]
    fn pods_are_deleted_gracefully_when_bound_and_running() {
        // (pod, grace requested, expected grace; None = removed at once)
        let cases = [
            (pod(Some("n1"), "Running", &[]), None, Some(20)),
            (pod(Some("n1"), "Running", &[]), Some(5), Some(5)),
            (pod(Some("n1"), "Running", &[]), Some(-3), Some(1)),
            (pod(Some("n1"), "Running", &[]), Some(0), None),
            (pod(None, "Pending", &[]), None, None),
            (pod(Some("n1"), "Succeeded", &[]), None, None),
            (pod(Some("n1"), "Failed", &[]), Some(30), None),
        ];
        for (pod, grace, expected) in cases {
            let outcome = plan(kind("pods"), &pod, &options(grace, None), NOW);
            match expected {
                None => assert_eq!(outcome, Outcome::Remove, "{pod} {grace:?}"),
                Some(expected) => {
                    let kept = kept(outcome);
                    assert_eq!(kept["metadata"]["deletionGracePeriodSeconds"], expected);
                    assert_eq!(
                        kept["metadata"]["deletionTimestamp"],
                        json!(format_seconds(NOW + expected))
                    );
                }
            }
        }
    }

    #[test]
    fn a_second_delete_may_shorten_the_grace_but_not_lengthen_it() {
        let marked =
            kept(plan(kind("pods"), &pod(Some("n1"), "Running", &[]), &options(None, None), NOW));
        // Longer or unspecified: unchanged.
        assert_eq!(kept(plan(kind("pods"), &marked, &options(Some(60), None), NOW + 1)), marked);
        assert_eq!(kept(plan(kind("pods"), &marked, &options(None, None), NOW + 1)), marked);
        // Shorter: the deadline moves back by the difference.
        let shorter = kept(plan(kind("pods"), &marked, &options(Some(5), None), NOW + 1));
        assert_eq!(shorter["metadata"]["deletionGracePeriodSeconds"], 5);
        assert_eq!(shorter["metadata"]["deletionTimestamp"], json!(format_seconds(NOW + 5)));
        // The kubelet's grace 0 removes it.
        assert_eq!(plan(kind("pods"), &marked, &options(Some(0), None), NOW + 2), Outcome::Remove);
        // Unless a finalizer holds it.
        let mut held = marked.clone();
        held["metadata"]["finalizers"] = json!(["x/y"]);
        let held = kept(plan(kind("pods"), &held, &options(Some(0), None), NOW + 2));
        assert_eq!(held["metadata"]["deletionGracePeriodSeconds"], 0);
    }

    #[test]
    fn finalizers_and_propagation() {
        let cm = json!({ "metadata": { "name": "c", "generation": 0 } });
        assert_eq!(plan(kind("configmaps"), &cm, &options(None, None), NOW), Outcome::Remove);
        let background = options(None, Some(Propagation::Background));
        assert_eq!(plan(kind("configmaps"), &cm, &background, NOW), Outcome::Remove);

        let orphan =
            kept(plan(kind("configmaps"), &cm, &options(None, Some(Propagation::Orphan)), NOW));
        assert_eq!(orphan["metadata"]["finalizers"], json!(["orphan"]));
        assert_eq!(orphan["metadata"]["deletionTimestamp"], json!(format_seconds(NOW)));
        assert_eq!(orphan["metadata"]["deletionGracePeriodSeconds"], 0);
        let legacy = DeleteOptions { orphan_dependents: Some(true), ..DeleteOptions::default() };
        assert_eq!(
            kept(plan(kind("configmaps"), &cm, &legacy, NOW))["metadata"]["finalizers"],
            json!(["orphan"])
        );

        let sts = json!({ "metadata": { "name": "web", "generation": 3 }, "spec": {} });
        let foreground = kept(plan(
            kind("statefulsets"),
            &sts,
            &options(None, Some(Propagation::Foreground)),
            NOW,
        ));
        assert_eq!(foreground["metadata"]["finalizers"], json!(["foregroundDeletion"]));
        assert_eq!(foreground["metadata"]["generation"], 4);

        // A finalizer of someone else's keeps the object, marked once.
        let held = json!({ "metadata": { "name": "c", "finalizers": ["example.com/x"] } });
        let marked = kept(plan(kind("configmaps"), &held, &options(None, None), NOW));
        assert_eq!(marked["metadata"]["deletionTimestamp"], json!(format_seconds(NOW)));
        let again = kept(plan(kind("configmaps"), &marked, &options(None, None), NOW + 10));
        assert_eq!(again, marked);
        // Background on an orphaning object drops the orphan finalizer and removes it.
        assert_eq!(plan(kind("configmaps"), &orphan, &background, NOW + 1), Outcome::Remove);
    }

    #[test]
    fn namespaces_terminate_first() {
        let ns = json!({
            "metadata": { "name": "x" },
            "spec": { "finalizers": ["kubernetes"] },
            "status": { "phase": "Active" },
        });
        let terminating = kept(plan(kind("namespaces"), &ns, &options(None, None), NOW));
        assert_eq!(terminating["status"]["phase"], "Terminating");
        assert_eq!(terminating["metadata"]["deletionTimestamp"], json!(format_seconds(NOW)));
        assert_eq!(
            kept(plan(kind("namespaces"), &terminating, &options(None, None), NOW)),
            terminating
        );
        let mut finalized = terminating.clone();
        finalized["spec"]["finalizers"] = json!([]);
        assert_eq!(
            plan(kind("namespaces"), &finalized, &options(None, None), NOW),
            Outcome::Remove
        );
        assert!(deletes_on_update(kind("namespaces"), &terminating, &finalized));
    }

    #[test]
    fn updates_of_marked_objects() {
        let marked = json!({ "metadata": {
            "name": "c", "finalizers": ["a/b"], "deletionTimestamp": "2024-01-01T00:00:00Z",
            "deletionGracePeriodSeconds": 0,
        } });
        let mut removed = marked.clone();
        removed["metadata"]["finalizers"] = json!([]);
        assert!(deletes_on_update(kind("configmaps"), &marked, &removed));
        assert!(!deletes_on_update(kind("configmaps"), &marked, &marked));
        // A pod in its grace period is not deleted by losing its finalizers.
        let mut graceful = marked.clone();
        graceful["metadata"]["deletionGracePeriodSeconds"] = json!(30);
        assert!(!deletes_on_update(kind("pods"), &graceful, &removed));
    }

    #[test]
    fn options_come_from_the_body_or_the_query() {
        let query = Query::parse(Some("gracePeriodSeconds=7&propagationPolicy=Orphan"));
        let from_query = DeleteOptions::parse(b"", &query).unwrap();
        assert_eq!(from_query.grace_period_seconds, Some(7));
        assert_eq!(from_query.propagation, Some(Propagation::Orphan));
        let body =
            br#"{"kind":"DeleteOptions","apiVersion":"v1","propagationPolicy":"Background"}"#;
        let from_body = DeleteOptions::parse(body, &query).unwrap();
        assert_eq!(from_body.grace_period_seconds, None);
        assert_eq!(from_body.propagation, Some(Propagation::Background));
        let both = br#"{"orphanDependents":true,"propagationPolicy":"Orphan"}"#;
        let error = DeleteOptions::parse(both, &Query::default()).unwrap_err();
        assert!(String::from_utf8(error.to_json()).unwrap().contains("cannot be both set"));
        let bad = DeleteOptions::parse(br#"{"propagationPolicy":"Sideways"}"#, &Query::default());
        assert!(
            String::from_utf8(bad.unwrap_err().to_json()).unwrap().contains("Unsupported value")
        );
    }

    #[test]
    fn timestamps_round_trip() {
        assert_eq!(unix_seconds(&format_seconds(NOW)), Some(NOW));
        assert_eq!(unix_seconds("2023-11-14T22:13:20.123456Z"), Some(NOW));
        assert_eq!(unix_seconds("2023-11-14T23:13:20+01:00"), Some(NOW));
        assert_eq!(unix_seconds("nonsense"), None);
    }
}
