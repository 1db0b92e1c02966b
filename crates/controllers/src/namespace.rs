//! The namespace controller (kube-controller-manager's `namespace-controller`, v1.33,
//! pkg/controller/namespace/deletion/namespaced_resources_deleter.go).
//!
//! A namespace being deleted (deletionTimestamp set, `kubernetes` in `spec.finalizers`) is
//! emptied: every namespaced resource discovery reports with `delete` is deleted with
//! `deletecollection` where served (else item by item, background propagation), what remains
//! is counted, the deletion conditions are written to the namespace status as Kubernetes
//! writes them, and once nothing remains the namespace is finalized through
//! `PUT /api/v1/namespaces/{name}/finalize` without the `kubernetes` finalizer; the apiserver
//! then removes it. While content remains (pods in their grace period, objects held by
//! finalizers) the namespace is looked at again with a growing delay, at most the one
//! Kubernetes waits (`estimate / 2 + 1` seconds).

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, NamespaceCondition, NamespaceStatus, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, ListParams, PostParams, PropagationPolicy,
};
use kube::discovery::{Discovery, Scope, verbs};
use kube::runtime::{WatchStreamExt, watcher};
use tokio::time::Instant;

use crate::Context;

/// The finalizer the namespace controller owns.
const KUBERNETES: &str = "kubernetes";
/// Kubernetes' estimate, in seconds, for objects held by finalizers.
const FINALIZER_ESTIMATE_SECONDS: i64 = 15;

/// Runs the namespace controller until the task is aborted.
pub(crate) async fn run(cx: Context) {
    let api: Api<Namespace> = Api::all(cx.client.clone());
    let mut events = watcher(api, watcher::Config::default()).default_backoff().boxed();
    // Namespaces to look at, with when and how many times they were looked at already.
    let mut due: HashMap<String, (Instant, u32)> = HashMap::new();
    loop {
        let next = due.values().map(|(at, _)| *at).min();
        let wake = next.unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            event = events.next() => match event {
                Some(Ok(watcher::Event::Apply(ns) | watcher::Event::InitApply(ns))) => {
                    if ns.metadata.deletion_timestamp.is_some()
                        && let Some(name) = ns.metadata.name
                    {
                        let attempts = due.get(&name).map_or(0, |(_, n)| *n);
                        due.insert(name, (Instant::now(), attempts));
                    }
                }
                Some(Ok(watcher::Event::Delete(ns))) => {
                    if let Some(name) = ns.metadata.name {
                        due.remove(&name);
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(error)) => tracing::debug!(%error, "namespace watch"),
                None => return,
            },
            () = tokio::time::sleep_until(wake) => {
                let now = Instant::now();
                let ready: Vec<String> =
                    due.iter().filter(|(_, (at, _))| *at <= now).map(|(n, _)| n.clone()).collect();
                for name in ready {
                    let attempts = due.get(&name).map_or(0, |(_, n)| *n);
                    match sync(&cx.client, &name).await {
                        Ok(Sync::Done) => {
                            due.remove(&name);
                        }
                        Ok(Sync::Remaining { estimate_seconds }) => {
                            tracing::debug!(namespace = %name, estimate_seconds, "content remains");
                            let delay = requeue_delay(attempts, estimate_seconds);
                            due.insert(name, (Instant::now() + delay, attempts.saturating_add(1)));
                        }
                        Err(error) => {
                            tracing::warn!(namespace = %name, %error, "namespace deletion failed; retrying");
                            let delay = requeue_delay(attempts, 0);
                            due.insert(name, (Instant::now() + delay, attempts.saturating_add(1)));
                        }
                    }
                }
            }
        }
    }
}

/// When to look at a namespace with content remaining again: 100 ms doubling per attempt,
/// never later than Kubernetes would (`estimate / 2 + 1` seconds; a minute for errors).
fn requeue_delay(attempts: u32, estimate_seconds: i64) -> Duration {
    let backoff = Duration::from_millis(100u64.saturating_mul(1 << attempts.min(12)));
    let cap = if estimate_seconds > 0 {
        Duration::from_secs(u64::try_from(estimate_seconds / 2 + 1).unwrap_or(1))
    } else {
        Duration::from_secs(60)
    };
    backoff.min(cap)
}

/// What one pass over a namespace concluded.
#[derive(Debug, PartialEq, Eq)]
enum Sync {
    /// Finalized, or nothing to do.
    Done,
    /// Content remains that is expected to go within the estimate.
    Remaining { estimate_seconds: i64 },
}

/// Why a pass failed.
#[derive(Debug, thiserror::Error)]
enum Error {
    #[error("namespace {namespace}: {verb}")]
    Api {
        namespace: String,
        verb: &'static str,
        #[source]
        source: kube::Error,
    },
    #[error("namespace {namespace}: discovery failed")]
    Discovery {
        namespace: String,
        #[source]
        source: kube::Error,
    },
    #[error("namespace {namespace}: {message}")]
    Content { namespace: String, message: String },
}

fn is_not_found(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 404)
}

/// `deletecollection` is not served (yet) by this resource.
fn is_unsupported(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 405 || status.code == 404)
}

/// A namespaced resource to empty.
#[derive(Debug)]
struct Deletable {
    resource: ApiResource,
    delete_collection: bool,
}

/// What remained of one resource after deleting.
#[derive(Debug, Default)]
struct Remaining {
    estimate_seconds: i64,
    count: usize,
    finalizers: BTreeMap<String, usize>,
}

/// One pass of `namespacedResourcesDeleter.Delete`.
async fn sync(client: &kube::Client, name: &str) -> Result<Sync, Error> {
    let api: Api<Namespace> = Api::all(client.clone());
    let api_error = |verb, source| Error::Api { namespace: name.to_owned(), verb, source };
    let Some(mut namespace) = api.get_opt(name).await.map_err(|e| api_error("get", e))? else {
        return Ok(Sync::Done);
    };
    let Some(deleted_at) = namespace.metadata.deletion_timestamp.clone() else {
        return Ok(Sync::Done);
    };
    if !has_kubernetes_finalizer(&namespace) {
        return Ok(Sync::Done);
    }
    let now = Timestamp::now();
    let mut failures: Vec<NamespaceCondition> = Vec::new();
    let deletables = match discover(client).await {
        Ok(deletables) => deletables,
        Err(source) => {
            failures.push(failure(
                "NamespaceDeletionDiscoveryFailure",
                "DiscoveryFailed",
                source.to_string(),
                now,
            ));
            update_conditions(&api, &mut namespace, failures, now).await;
            return Err(Error::Discovery { namespace: name.to_owned(), source });
        }
    };
    let mut errors: Vec<String> = Vec::new();
    let mut estimate_seconds = 0;
    let mut remaining_by_resource: BTreeMap<String, usize> = BTreeMap::new();
    let mut remaining_by_finalizer: BTreeMap<String, usize> = BTreeMap::new();
    for deletable in &deletables {
        let (remaining, error) = empty_resource(client, name, deletable, deleted_at.0, now).await;
        if let Some(error) = error {
            errors.push(error);
        }
        estimate_seconds = estimate_seconds.max(remaining.estimate_seconds);
        if remaining.count > 0 {
            let group = &deletable.resource.group;
            remaining_by_resource
                .insert(format!("{}.{group}", deletable.resource.plural), remaining.count);
            for (finalizer, count) in remaining.finalizers {
                *remaining_by_finalizer.entry(finalizer).or_default() += count;
            }
        }
    }
    failures.extend(content_conditions(&remaining_by_resource, &remaining_by_finalizer, now));
    if !errors.is_empty() {
        failures.push(delete_content_failure(&errors, now));
    }
    update_conditions(&api, &mut namespace, failures, now).await;
    if !errors.is_empty() {
        return Err(Error::Content { namespace: name.to_owned(), message: errors.join(", ") });
    }
    if estimate_seconds > 0 {
        return Ok(Sync::Remaining { estimate_seconds });
    }
    finalize(&api, namespace).await.map_err(|e| api_error("finalize", e))?;
    tracing::info!(namespace = name, "namespace emptied and finalized");
    Ok(Sync::Done)
}

fn has_kubernetes_finalizer(namespace: &Namespace) -> bool {
    namespace
        .spec
        .as_ref()
        .and_then(|s| s.finalizers.as_ref())
        .is_some_and(|f| f.iter().any(|f| f == KUBERNETES))
}

/// The namespaced resources (preferred versions) that can be deleted.
async fn discover(client: &kube::Client) -> Result<Vec<Deletable>, kube::Error> {
    let discovery = Discovery::new(client.clone()).run().await?;
    let mut deletables = Vec::new();
    for group in discovery.groups() {
        for (resource, capabilities) in group.recommended_resources() {
            if capabilities.scope == Scope::Namespaced
                && capabilities.supports_operation(verbs::DELETE)
            {
                let delete_collection = capabilities.supports_operation(verbs::DELETE_COLLECTION);
                deletables.push(Deletable { resource, delete_collection });
            }
        }
    }
    Ok(deletables)
}

fn background() -> DeleteParams {
    DeleteParams {
        propagation_policy: Some(PropagationPolicy::Background),
        ..DeleteParams::default()
    }
}

/// `deleteAllContentForGroupVersionResource`: estimate, delete, count what remains. The error
/// (if any) is the message Kubernetes puts in the content-failure condition.
async fn empty_resource(
    client: &kube::Client,
    namespace: &str,
    deletable: &Deletable,
    deleted_at: Timestamp,
    now: Timestamp,
) -> (Remaining, Option<String>) {
    let resource = &deletable.resource;
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, resource);
    let mut remaining = Remaining::default();
    if resource.group.is_empty() && resource.plural == "pods" {
        let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
        if let Ok(list) = pods.list(&ListParams::default()).await {
            remaining.estimate_seconds = pod_estimate(&list.items, deleted_at, now);
        }
    }
    let mut collection_done = false;
    if deletable.delete_collection {
        match api.delete_collection(&background(), &ListParams::default()).await {
            Ok(_) => collection_done = true,
            Err(error) if is_unsupported(&error) => {}
            Err(error) => return (remaining, Some(error.to_string())),
        }
    }
    if !collection_done {
        match api.list(&ListParams::default()).await {
            Ok(list) => {
                for item in list.items {
                    let Some(name) = item.metadata.name else { continue };
                    match api.delete(&name, &background()).await {
                        Ok(_) => {}
                        Err(error) if is_not_found(&error) => {}
                        Err(error) => return (remaining, Some(error.to_string())),
                    }
                }
            }
            Err(error) => return (remaining, Some(error.to_string())),
        }
    }
    let list = match api.list(&ListParams::default()).await {
        Ok(list) => list,
        Err(error) => return (remaining, Some(error.to_string())),
    };
    remaining.count = list.items.len();
    for item in &list.items {
        for finalizer in item.metadata.finalizers.iter().flatten() {
            *remaining.finalizers.entry(finalizer.clone()).or_default() += 1;
        }
    }
    if remaining.count == 0 || remaining.estimate_seconds > 0 {
        return (remaining, None);
    }
    if !remaining.finalizers.is_empty() {
        remaining.estimate_seconds = FINALIZER_ESTIMATE_SECONDS;
        return (remaining, None);
    }
    let gvr = format!("{}/{}, Resource={}", resource.group, resource.version, resource.plural);
    let message = format!("unexpected items still remain in namespace: {namespace} for gvr: {gvr}");
    (remaining, Some(message))
}

/// `estimateGracefulTerminationForPods`: the longest grace period of the pods not yet
/// terminal, or 0 once that long has passed since the namespace was deleted.
fn pod_estimate(pods: &[Pod], deleted_at: Timestamp, now: Timestamp) -> i64 {
    let estimate = pods
        .iter()
        .filter(|pod| {
            let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
            !matches!(phase, Some("Succeeded" | "Failed"))
        })
        .filter_map(|pod| pod.spec.as_ref()?.termination_grace_period_seconds)
        .max()
        .unwrap_or(0);
    let elapsed = now.as_second() - deleted_at.as_second();
    if elapsed >= estimate { 0 } else { estimate }
}

/// The condition types the deleter maintains, with their "all is well" reason and message.
const CONDITIONS: &[(&str, &str, &str)] = &[
    (
        "NamespaceDeletionDiscoveryFailure",
        "ResourcesDiscovered",
        "All resources successfully discovered",
    ),
    (
        "NamespaceDeletionGroupVersionParsingFailure",
        "ParsedGroupVersions",
        "All legacy kube types successfully parsed",
    ),
    (
        "NamespaceDeletionContentFailure",
        "ContentDeleted",
        "All content successfully deleted, may be waiting on finalization",
    ),
    ("NamespaceContentRemaining", "ContentRemoved", "All content successfully removed"),
    (
        "NamespaceFinalizersRemaining",
        "ContentHasNoFinalizers",
        "All content-preserving finalizers finished",
    ),
];

fn failure(type_: &str, reason: &str, message: String, now: Timestamp) -> NamespaceCondition {
    NamespaceCondition {
        type_: type_.to_owned(),
        status: "True".to_owned(),
        reason: Some(reason.to_owned()),
        message: Some(message),
        last_transition_time: Some(Time(now)),
    }
}

/// `ProcessContentTotals`: what remains, by resource and by finalizer.
fn content_conditions(
    by_resource: &BTreeMap<String, usize>,
    by_finalizer: &BTreeMap<String, usize>,
    now: Timestamp,
) -> Vec<NamespaceCondition> {
    let mut conditions = Vec::new();
    let resources: Vec<String> = by_resource
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(gr, n)| format!("{gr} has {n} resource instances"))
        .collect();
    if !resources.is_empty() {
        let message = format!("Some resources are remaining: {}", sorted(resources).join(", "));
        conditions.push(failure("NamespaceContentRemaining", "SomeResourcesRemain", message, now));
    }
    let finalizers: Vec<String> = by_finalizer
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(f, n)| format!("{f} in {n} resource instances"))
        .collect();
    if !finalizers.is_empty() {
        let message = format!(
            "Some content in the namespace has finalizers remaining: {}",
            sorted(finalizers).join(", ")
        );
        conditions.push(failure(
            "NamespaceFinalizersRemaining",
            "SomeFinalizersRemain",
            message,
            now,
        ));
    }
    conditions
}

fn delete_content_failure(errors: &[String], now: Timestamp) -> NamespaceCondition {
    let errors = sorted(errors.to_vec());
    let message = format!(
        "Failed to delete all resource types, {} remaining: {}",
        errors.len(),
        errors.join(", ")
    );
    failure("NamespaceDeletionContentFailure", "ContentDeletionFailed", message, now)
}

fn sorted(mut items: Vec<String>) -> Vec<String> {
    items.sort();
    items
}

/// `updateConditions`: every maintained type gets the failure reported for it or its "all is
/// well" variant (status False); a condition whose status, reason or message changes gets a
/// new transition time. Returns whether anything changed.
fn merge_conditions(
    status: &mut NamespaceStatus,
    failures: &[NamespaceCondition],
    now: Timestamp,
) -> bool {
    let mut changed = false;
    let conditions = status.conditions.get_or_insert_with(Vec::new);
    for (type_, reason, message) in CONDITIONS {
        let wanted = failures.iter().find(|c| c.type_ == *type_).cloned().unwrap_or_else(|| {
            NamespaceCondition {
                type_: (*type_).to_owned(),
                status: "False".to_owned(),
                reason: Some((*reason).to_owned()),
                message: Some((*message).to_owned()),
                last_transition_time: Some(Time(now)),
            }
        });
        match conditions.iter_mut().find(|c| c.type_ == *type_) {
            None => {
                conditions.push(wanted);
                changed = true;
            }
            Some(existing) => {
                if existing.status != wanted.status
                    || existing.reason != wanted.reason
                    || existing.message != wanted.message
                {
                    *existing = wanted;
                    changed = true;
                }
            }
        }
    }
    changed
}

/// Writes the deletion conditions when they changed; a failed write is only logged, as in
/// Kubernetes (the next pass writes them again).
async fn update_conditions(
    api: &Api<Namespace>,
    namespace: &mut Namespace,
    failures: Vec<NamespaceCondition>,
    now: Timestamp,
) {
    let status = namespace.status.get_or_insert_with(NamespaceStatus::default);
    if !merge_conditions(status, &failures, now) {
        return;
    }
    let name = namespace.metadata.name.clone().unwrap_or_default();
    match api.replace_status(&name, &PostParams::default(), namespace).await {
        Ok(written) => *namespace = written,
        Err(error) => {
            tracing::debug!(namespace = %name, %error, "cannot write deletion conditions")
        }
    }
}

/// The namespace with `kubernetes` removed from `spec.finalizers`.
fn without_kubernetes_finalizer(mut namespace: Namespace) -> Namespace {
    if let Some(finalizers) = namespace.spec.as_mut().and_then(|s| s.finalizers.as_mut()) {
        finalizers.retain(|f| f != KUBERNETES);
    }
    namespace
}

async fn finalize(api: &Api<Namespace>, namespace: Namespace) -> Result<(), kube::Error> {
    let name = namespace.metadata.name.clone().unwrap_or_default();
    let namespace = without_kubernetes_finalizer(namespace);
    match api.replace_subresource("finalize", &name, &PostParams::default(), &namespace).await {
        Ok(_) => Ok(()),
        Err(error) if is_not_found(&error) => Ok(()),
        // The namespace changed since it was read: the next pass reads it again.
        Err(error) => Err(error),
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::{NamespaceSpec, PodSpec, PodStatus};

    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(seconds).expect("valid timestamp")
    }

    fn pod(grace: Option<i64>, phase: &str) -> Pod {
        Pod {
            spec: Some(PodSpec { termination_grace_period_seconds: grace, ..PodSpec::default() }),
            status: Some(PodStatus { phase: Some(phase.to_owned()), ..PodStatus::default() }),
            ..Pod::default()
        }
    }

    #[test]
    fn pod_estimates_follow_the_grace_periods_until_they_pass() {
        let cases = [
            ("no pods", vec![], 0, 0),
            ("one running pod", vec![pod(Some(30), "Running")], 0, 30),
            (
                "the longest grace period",
                vec![pod(Some(30), "Running"), pod(Some(60), "Pending")],
                10,
                60,
            ),
            (
                "terminal pods do not count",
                vec![pod(Some(30), "Succeeded"), pod(Some(45), "Failed")],
                0,
                0,
            ),
            ("the grace period has passed", vec![pod(Some(30), "Running")], 30, 0),
            ("no grace period set", vec![pod(None, "Running")], 0, 0),
        ];
        for (name, pods, elapsed, expected) in cases {
            assert_eq!(pod_estimate(&pods, at(1_000), at(1_000 + elapsed)), expected, "{name}");
        }
    }

    #[test]
    fn conditions_are_written_as_kubernetes_writes_them() {
        let now = at(1_000);
        let mut status = NamespaceStatus::default();
        let resources = BTreeMap::from([("pods.".to_owned(), 2), ("configmaps.".to_owned(), 1)]);
        let finalizers = BTreeMap::from([("example.com/hold".to_owned(), 1)]);
        let failures = content_conditions(&resources, &finalizers, now);
        assert!(merge_conditions(&mut status, &failures, now));
        let conditions = status.conditions.clone().unwrap_or_default();
        let summary: Vec<(&str, &str, &str, &str)> = conditions
            .iter()
            .map(|c| {
                (
                    c.type_.as_str(),
                    c.status.as_str(),
                    c.reason.as_deref().unwrap_or_default(),
                    c.message.as_deref().unwrap_or_default(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                (
                    "NamespaceDeletionDiscoveryFailure",
                    "False",
                    "ResourcesDiscovered",
                    "All resources successfully discovered"
                ),
                (
                    "NamespaceDeletionGroupVersionParsingFailure",
                    "False",
                    "ParsedGroupVersions",
                    "All legacy kube types successfully parsed"
                ),
                (
                    "NamespaceDeletionContentFailure",
                    "False",
                    "ContentDeleted",
                    "All content successfully deleted, may be waiting on finalization"
                ),
                (
                    "NamespaceContentRemaining",
                    "True",
                    "SomeResourcesRemain",
                    "Some resources are remaining: configmaps. has 1 resource instances, pods. has 2 resource instances"
                ),
                (
                    "NamespaceFinalizersRemaining",
                    "True",
                    "SomeFinalizersRemain",
                    "Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances"
                ),
            ]
        );
        // The same failures again change nothing, not even the transition times.
        assert!(!merge_conditions(&mut status, &failures, at(2_000)));
        // Content gone: the two conditions flip back to their "all is well" variants.
        assert!(merge_conditions(&mut status, &[], at(3_000)));
        let remaining = status
            .conditions
            .iter()
            .flatten()
            .find(|c| c.type_ == "NamespaceContentRemaining")
            .cloned()
            .expect("condition");
        assert_eq!(remaining.status, "False");
        assert_eq!(remaining.reason.as_deref(), Some("ContentRemoved"));
        assert_eq!(remaining.last_transition_time, Some(Time(at(3_000))));
    }

    #[test]
    fn content_failures_name_every_error_sorted() {
        let condition = delete_content_failure(&["b failed".into(), "a failed".into()], at(0));
        assert_eq!(condition.reason.as_deref(), Some("ContentDeletionFailed"));
        assert_eq!(
            condition.message.as_deref(),
            Some("Failed to delete all resource types, 2 remaining: a failed, b failed")
        );
    }

    #[test]
    fn finalizing_removes_only_the_kubernetes_finalizer() {
        let namespace = Namespace {
            spec: Some(NamespaceSpec {
                finalizers: Some(vec!["example.com/x".into(), KUBERNETES.into()]),
            }),
            ..Namespace::default()
        };
        assert!(has_kubernetes_finalizer(&namespace));
        let finalized = without_kubernetes_finalizer(namespace);
        assert!(!has_kubernetes_finalizer(&finalized));
        assert_eq!(
            finalized.spec.and_then(|s| s.finalizers),
            Some(vec!["example.com/x".to_owned()])
        );
    }

    #[test]
    fn requeues_back_off_but_never_past_kubernetes_delay() {
        assert_eq!(requeue_delay(0, 30), Duration::from_millis(100));
        assert_eq!(requeue_delay(3, 30), Duration::from_millis(800));
        assert_eq!(requeue_delay(10, 30), Duration::from_secs(16));
        assert_eq!(requeue_delay(10, 15), Duration::from_secs(8));
        assert_eq!(requeue_delay(20, 0), Duration::from_secs(60));
    }
}
