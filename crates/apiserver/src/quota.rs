//! The `ResourceQuota` admission plugin (v1.33: plugin/pkg/admission/resourcequota and
//! staging/src/k8s.io/apiserver/pkg/admission/plugin/resourcequota), the last validating
//! plugin: a namespaced create (or an update that can change usage: a Service's type, a
//! claim's request) is evaluated with `berth_api::quota`'s evaluators against every quota of
//! its namespace that matches it, refused with `exceeded quota: …` or `failed quota: …` (403),
//! or charged: the quotas' `status.used` are raised in the store before the object is written,
//! as upstream writes them through its loopback client (`UpdateStatus`).
//!
//! The quotas are read from a view kept current by a store watch (admission's `Listers`, an informer's
//! stand-in), with the revision each was read at. Each charge is a compare-and-swap of the
//! quota at that revision, so of two creates racing for the last unit one is refused: a quota
//! whose write conflicts is read again from the store and the write evaluated again against it
//! (only the quotas that conflicted, as `checkQuotas` retries, three times). A dry run is
//! evaluated and refused alike, but charges nothing. Subresource writes are not evaluated.

use std::sync::Arc;

use axum::http::StatusCode;
use berth_api::kinds::ResourceType;
use berth_api::quota::{self, Evaluator, Operation};
use berth_store::Revision;
use serde_json::Value;

use crate::resources::{Context, Manager, decode, prefix, write_back};
use crate::status::Status;

type Result<T> = std::result::Result<T, Status>;

/// How many times the quotas whose charge conflicted are read again (`checkQuotas`'
/// `remainingRetries`).
const RETRIES: usize = 3;

/// One quota as the plugin evaluates it: where it is stored, at which revision.
#[derive(Debug, Clone)]
struct Held {
    key: String,
    revision: Revision,
    quota: Arc<Value>,
}

/// Evaluates a create of `object` (named `name`) in `namespace` and charges the quotas it
/// counts against.
pub(crate) async fn admit_create(
    cx: &Context,
    resource: &ResourceType,
    namespace: Option<&str>,
    name: &str,
    object: &Value,
) -> Result<()> {
    let Some(namespace) = namespace.filter(|ns| !ns.is_empty()) else { return Ok(()) };
    admit(cx, resource, namespace, name, Operation::Create, object, None).await
}

/// Evaluates an update of `current` to `updated` (not of a subresource) and charges what it
/// adds.
pub(crate) async fn admit_update(
    cx: &Context,
    resource: &ResourceType,
    subresource: Option<&str>,
    current: &Value,
    updated: &Value,
) -> Result<()> {
    let namespace = updated.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("");
    if subresource.is_some() || namespace.is_empty() {
        return Ok(());
    }
    let name = updated.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("");
    admit(cx, resource, namespace, name, Operation::Update, updated, Some(current)).await
}

async fn admit(
    cx: &Context,
    resource: &ResourceType,
    namespace: &str,
    name: &str,
    operation: Operation,
    object: &Value,
    old: Option<&Value>,
) -> Result<()> {
    let Some(evaluator) = Evaluator::of(resource.group, resource.plural) else { return Ok(()) };
    if !evaluator.handles(operation) {
        return Ok(());
    }
    let quotas_resource = cx.resource_named("", "resourcequotas")?;
    let under = prefix(quotas_resource, Some(namespace));
    let viewed = cx.listers.quotas.view().under_at(&under).into_iter();
    let mut held: Vec<Held> =
        viewed.map(|(key, revision, quota)| Held { key, revision, quota }).collect();
    if held.is_empty() {
        return Ok(());
    }
    let dry_run = cx.query.dry_run();
    let mut last_conflict = None;
    for attempt in 0..=RETRIES {
        if attempt > 0 {
            held = read_again(cx, quotas_resource, &held).await?;
            if held.is_empty() {
                return Ok(());
            }
        }
        let quotas: Vec<&Value> = held.iter().map(|h| h.quota.as_ref()).collect();
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let changes = quota::check(&quotas, &evaluator, operation, object, old, now)
            .map_err(|why| crate::admission::forbidden(resource, name, why))?;
        if dry_run || changes.is_empty() {
            return Ok(());
        }
        let mut conflicted = Vec::new();
        for (index, used) in changes {
            let quota = &held[index];
            // Boxed: the quota's status write is itself a write, whose admission comes here.
            let charged = Box::pin(charge(cx, quotas_resource, quota, quota::to_json(&used)));
            match charged.await {
                Ok(()) => {}
                Err(status) if status.code() == StatusCode::CONFLICT => {
                    conflicted.push(quota.clone());
                    last_conflict = Some(status);
                }
                Err(status) => return Err(status),
            }
        }
        if conflicted.is_empty() {
            return Ok(());
        }
        held = conflicted;
    }
    Err(last_conflict.unwrap_or_else(Status::internal))
}

/// Writes `used` into the quota's status if it is still at the revision it was evaluated at.
async fn charge(
    cx: &Context,
    quotas_resource: &'static ResourceType,
    held: &Held,
    used: Value,
) -> Result<()> {
    let name = held.quota.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("");
    let mut quotas = cx.for_object(quotas_resource, name);
    // Through kube-apiserver's loopback client, as the plugin's `UpdateQuotaStatus`.
    quotas.manager = Manager::Loopback;
    write_back(&quotas, Some("status"), Some(held.revision), |current| {
        let mut updated = current.clone();
        if !updated["status"].is_object() {
            updated["status"] = Value::Object(serde_json::Map::new());
        }
        updated["status"]["used"] = used.clone();
        Ok(updated)
    })
    .await
    .map(|_| ())
}

/// The current versions, from the store, of the quotas in `held` that still exist.
async fn read_again(
    cx: &Context,
    quotas_resource: &ResourceType,
    held: &[Held],
) -> Result<Vec<Held>> {
    let mut fresh = Vec::with_capacity(held.len());
    for quota in held {
        let kv = cx.store.get(&quota.key).await;
        let kv = kv.map_err(|e| Status::from_store(e, quotas_resource, ""))?;
        let Some(kv) = kv else { continue };
        fresh.push(Held {
            key: quota.key.clone(),
            revision: kv.mod_revision,
            quota: Arc::new(decode(&kv)?),
        });
    }
    Ok(fresh)
}
