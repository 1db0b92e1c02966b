//! The resource quota controller (kube-controller-manager's `resourcequota`, v1.33:
//! pkg/controller/resourcequota): every ResourceQuota's `status.hard` is its `spec.hard` and
//! its `status.used` what the objects of its namespace charge, recalculated by
//! `berth_api::quota::calculate_status` (`syncResourceQuota`) from the objects listed through
//! the API, and written by `PUT …/status` (resourceVersion precondition) only when it changed.
//!
//! A namespace is recalculated when one of its quotas is new or its limits changed (filled at
//! once, so the admission plugin can charge it; a charge alone wakes nothing, as upstream's
//! `updateQuota` filters it) and when a pod, Service or claim in it changes or
//! goes (the replenishment controller's job: `used` goes down after a delete), and every
//! namespace with quotas every five minutes (`--resource-quota-sync-period`'s default), which
//! also catches what the other kinds (`count/…`, ConfigMaps, Secrets) did in between. The loop
//! looks at what is, never at which event woke it. Its namespaces wait in a work queue
//! ([`Queue`]); one whose sync failed is retried after the queue's backoff (5 ms doubling to
//! 1000 s, as upstream's rate limiter), or at once when something in it changes.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use berth_api::quota::{self, list_of};
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, ResourceQuota, Service};
use kube::api::{Api, DynamicObject, ListParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::runtime::watcher;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::Context;
use crate::cache::workloop::Queue;
use crate::cached_pod::CachedPod;
use crate::informer::{Cached, Event};
use crate::meta::error_chain;

/// `--resource-quota-sync-period`'s default: every quota is recalculated this often.
pub(crate) const FULL_RESYNC: Duration = Duration::from_secs(300);

impl Cached for ResourceQuota {}

/// Why a namespace's sync failed.
#[derive(Debug, thiserror::Error)]
enum Error {
    #[error("cannot list {plural} in namespace {namespace:?}")]
    List {
        namespace: String,
        plural: String,
        #[source]
        source: kube::Error,
    },
    #[error("cannot write the status of resourcequota {namespace}/{name}")]
    Write {
        namespace: String,
        name: String,
        #[source]
        source: kube::Error,
    },
}

/// Runs the controller until the task is aborted.
pub(crate) async fn run(cx: Context) {
    let quotas = cx.informers.get::<ResourceQuota>();
    let (dirty_tx, mut dirty_rx) = mpsc::unbounded_channel::<String>();
    forward(quotas.subscribe(), dirty_tx.clone(), needs_sync);
    forward(cx.informers.get::<CachedPod>().subscribe(), dirty_tx.clone(), |_| true);
    forward(cx.informers.get::<Service>().subscribe(), dirty_tx.clone(), |_| true);
    forward(cx.informers.get::<PersistentVolumeClaim>().subscribe(), dirty_tx, |_| true);
    quotas.wait_until_ready().await;
    let mut queue: Queue<String> = Queue::new();
    let mut next_resync = Instant::now();
    loop {
        let by_namespace = in_namespaces(&quotas.state());
        // A namespace without quotas has nothing to sync, nor to retry.
        queue.retain(|namespace| by_namespace.contains_key(namespace));
        if Instant::now() >= next_resync {
            by_namespace.keys().for_each(|namespace| queue.add(namespace.clone()));
            next_resync = Instant::now() + FULL_RESYNC;
        }
        while let Some(namespace) = queue.get() {
            match sync(&cx, &namespace, &by_namespace[&namespace]).await {
                Ok(()) => queue.forget(&namespace),
                Err(error) => {
                    let error = error_chain(&error);
                    tracing::warn!(%error, namespace, "resource quota sync failed");
                    queue.add_rate_limited(namespace.clone());
                }
            }
            queue.done(&namespace);
        }
        let wake_at = queue.next_due().map_or(next_resync, |at| at.min(next_resync));
        tokio::select! {
            namespace = dirty_rx.recv() => match namespace {
                Some(namespace) => {
                    queue.add(namespace);
                    while let Ok(more) = dirty_rx.try_recv() {
                        queue.add(more);
                    }
                }
                None => return,
            },
            () = tokio::time::sleep_until(wake_at) => {}
        }
    }
}

/// Whether a changed quota needs a sync now (`updateQuota`'s filter): its status does not
/// show its spec's limits yet. A charge by the admission plugin changes only `used`, and a sync
/// it woke could list the namespace before the object charged is stored, and take the charge
/// back.
fn needs_sync(quota: &ResourceQuota) -> bool {
    let status_hard = quota.status.as_ref().and_then(|s| s.hard.as_ref());
    let spec_hard = quota.spec.as_ref().and_then(|s| s.hard.as_ref());
    let used = quota.status.as_ref().and_then(|s| s.used.as_ref());
    used.is_none() || status_hard.is_none() || status_hard != spec_hard
}

/// Sends the namespace of every object `events` names that `wanted` (deletions and relists
/// always).
fn forward<K: Cached>(
    mut events: mpsc::UnboundedReceiver<Event<K>>,
    dirty: mpsc::UnboundedSender<String>,
    wanted: fn(&K) -> bool,
) {
    tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            let object = match &event {
                watcher::Event::Apply(o) if wanted(o) => o,
                watcher::Event::Delete(o) | watcher::Event::InitApply(o) => o,
                watcher::Event::Apply(_) | watcher::Event::Init | watcher::Event::InitDone => {
                    continue;
                }
            };
            if let Some(namespace) = object.meta().namespace.clone()
                && dirty.send(namespace).is_err()
            {
                return;
            }
        }
    });
}

/// The quotas by namespace, each as JSON.
fn in_namespaces(quotas: &[Arc<ResourceQuota>]) -> BTreeMap<String, Vec<Value>> {
    let mut by_namespace: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for quota in quotas {
        let Some(namespace) = quota.metadata.namespace.clone() else { continue };
        let Ok(value) = serde_json::to_value(quota.as_ref()) else { continue };
        by_namespace.entry(namespace).or_default().push(value);
    }
    by_namespace
}

/// Recalculates the quotas of `namespace`: lists what they track, then writes each status
/// that changed.
async fn sync(cx: &Context, namespace: &str, quotas: &[Value]) -> Result<(), Error> {
    let mut tracked = BTreeSet::new();
    for quota in quotas {
        tracked.extend(quota::tracked_resources(&list_of(&quota["spec"]["hard"])));
    }
    let mut objects: BTreeMap<(String, String), Vec<Value>> = BTreeMap::new();
    for (group, plural) in tracked {
        // A resource not served (a `count/` of something unknown) counts nothing.
        let Some(resource) = api_resource(&group, &plural) else { continue };
        let api = Api::<DynamicObject>::namespaced_with(cx.client.clone(), namespace, &resource);
        let listed = api.list(&ListParams::default()).await.map_err(|source| Error::List {
            namespace: namespace.to_owned(),
            plural: plural.clone(),
            source,
        })?;
        let items = listed.items.iter().filter_map(|o| serde_json::to_value(o).ok()).collect();
        objects.insert((group, plural), items);
    }
    let now = time_now();
    let api = Api::<ResourceQuota>::namespaced(cx.client.clone(), namespace);
    for quota in quotas {
        let lookup = |group: &str, plural: &str| {
            objects.get(&(group.to_owned(), plural.to_owned())).map(Vec::as_slice)
        };
        let Some(status) = quota::calculate_status(quota, lookup, now) else { continue };
        let mut updated = quota.clone();
        updated["status"] = status;
        let name = quota["metadata"]["name"].as_str().unwrap_or("").to_owned();
        let Ok(body) = serde_json::from_value::<ResourceQuota>(updated) else { continue };
        match api.replace_status(&name, &PostParams::default(), &body).await {
            Ok(_) => {}
            // A newer version is on its way through the informer; it will be synced.
            Err(kube::Error::Api(e)) if e.code == 409 || e.code == 404 => {}
            Err(source) => {
                return Err(Error::Write { namespace: namespace.to_owned(), name, source });
            }
        }
    }
    Ok(())
}

/// The served resource `group`/`plural` in its preferred version.
fn api_resource(group: &str, plural: &str) -> Option<ApiResource> {
    let served = berth_api::kinds::all()
        .iter()
        .filter(|r| r.group == group && r.plural == plural && r.verbs.contains(&"list"));
    let preferred = berth_api::kinds::group(group).map(|g| g.versions).unwrap_or_default();
    let resource = served.min_by_key(|r| preferred.iter().position(|v| *v == r.version))?;
    let gvk = GroupVersionKind::gvk(resource.group, resource.version, resource.kind);
    Some(ApiResource::from_gvk_with_plural(&gvk, resource.plural))
}

/// Now in Unix seconds (pods past their deletion grace period stop counting).
fn time_now() -> i64 {
    k8s_openapi::jiff::Timestamp::now().as_second()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn served_resources_are_found_in_their_preferred_version() {
        let pods = api_resource("", "pods").unwrap();
        assert_eq!((pods.api_version.as_str(), pods.kind.as_str()), ("v1", "Pod"));
        let deployments = api_resource("apps", "deployments").unwrap();
        assert_eq!(deployments.api_version, "apps/v1");
        assert!(api_resource("example.com", "widgets").is_none());
    }

    #[test]
    fn quotas_are_grouped_by_namespace() {
        let quota = |ns: &str, name: &str| {
            let mut q = ResourceQuota::default();
            q.metadata.namespace = Some(ns.to_owned());
            q.metadata.name = Some(name.to_owned());
            Arc::new(q)
        };
        let grouped = in_namespaces(&[quota("a", "q1"), quota("b", "q2"), quota("a", "q3")]);
        let names: Vec<(&str, usize)> =
            grouped.iter().map(|(ns, quotas)| (ns.as_str(), quotas.len())).collect();
        assert_eq!(names, [("a", 2), ("b", 1)]);
    }
}
