//! Admission: the built-in kube-apiserver admission plugins berth applies on create.
//!
//! - `NamespaceLifecycle` (`plugin/pkg/admission/namespace/lifecycle`): no new content in a
//!   namespace that is missing or terminating; the immortal namespaces cannot be deleted.
//! - `LimitRanger` (`plugin/pkg/admission/limitranger`): a pod being created gets the default
//!   requests and limits of its namespace's LimitRanges in the containers that lack them (and
//!   the `kubernetes.io/limit-ranger` annotation saying so); after validation, pods and claims
//!   being created, and claims being updated, must keep within their min, max and max
//!   limit/request ratio ([`validate_create`], [`validate_update`]).
//! - `ServiceAccount` (`plugin/pkg/admission/serviceaccount`): pods run as `default` unless they
//!   name an account, the account must exist, and its `imagePullSecrets` are copied into a pod
//!   that has none.
//! - `DefaultTolerationSeconds`: pods tolerate `not-ready`/`unreachable` NoExecute taints for
//!   300 s unless they say otherwise.
//! - `DefaultStorageClass`: a claim without `storageClassName` gets the default class.
//! - `DefaultIngressClass`: an Ingress that names no class gets the default IngressClass.
//! - `StorageObjectInUseProtection`: claims and volumes get their protection finalizers.
//! - `Priority` (`plugin/pkg/admission/priority`): a pod gets the priority and preemption
//!   policy of the PriorityClass it names, or of the default class (0 and
//!   `PreemptLowerPriority` without one), and keeps them on update; only one PriorityClass may
//!   be the global default.
//!
//! Each plugin is a pure function over the object plus, where it needs one, an object read.
//! The namespaces, ServiceAccounts, PriorityClasses and LimitRanges they read are kept in
//! memory ([`Listers`]), as kube-apiserver's plugins keep them in informers, and read from the
//! store only when the view lacks them (or, for a namespace deleted through this server lately,
//! when it shows it active; for LimitRanges, when it shows none in the namespace, a lookup
//! trusted for 30 s).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use berth_api::kinds::{self, ResourceType};
use berth_api::quantity::{MAX_MILLI_VALUE, Quantity};
use berth_store::{KeyValue, RangeRequest, Revision, Store};
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::follower::{Follower, View};
use crate::resources::{decode, key, prefix};
use crate::status::{Cause, Details, Status, qualified};

/// Namespaces kube-apiserver refuses to delete.
const IMMORTAL_NAMESPACES: [&str; 3] = ["default", "kube-system", "kube-public"];
/// `DefaultTolerationSeconds`' default for both taints.
const DEFAULT_TOLERATION_SECONDS: i64 = 300;
/// How often, and how far apart, the `default` ServiceAccount is looked up before a pod is
/// refused (`MaxRetry`, `RetryInterval` of the ServiceAccount plugin).
const DEFAULT_ACCOUNT_LOOKUPS: usize = 10;
const DEFAULT_ACCOUNT_RETRY: std::time::Duration = std::time::Duration::from_millis(500);
/// How long a namespace deleted through this server is looked up in the store even when the
/// view shows it active (`forceLiveLookupTTL`).
const FORCE_LIVE_LOOKUP: Duration = Duration::from_secs(30);
/// How long `LimitRanger` trusts a store lookup of a namespace's LimitRanges when its view
/// showed none (`liveTTL`), and how many namespaces' lookups it keeps (`liveLookupCache`).
const LIMIT_RANGE_LOOKUP: Duration = Duration::from_secs(30);
const LIMIT_RANGE_LOOKUPS: usize = 10_000;
/// The annotation that names what `LimitRanger` set on a pod.
const LIMIT_RANGER_ANNOTATION: &str = "kubernetes.io/limit-ranger";
const PVC_PROTECTION: &str = "kubernetes.io/pvc-protection";
const PV_PROTECTION: &str = "kubernetes.io/pv-protection";

/// Where the objects of a served resource are stored (all namespaces).
fn stored_under(group: &str, plural: &str) -> String {
    kinds::find(group, "v1", plural).map(|resource| prefix(resource, None)).unwrap_or_default()
}

/// The namespaces, ServiceAccounts, PriorityClasses and LimitRanges, decoded and kept
/// current from the store: the informers behind `NamespaceLifecycle`, `ServiceAccount`,
/// `Priority` and `LimitRanger`.
#[derive(Debug)]
pub(crate) struct Listers {
    namespaces: Arc<Follower<Objects>>,
    service_accounts: Arc<Follower<Objects>>,
    priority_classes: Arc<Follower<Objects>>,
    limit_ranges: Arc<Follower<Objects>>,
    /// The ResourceQuotas the `ResourceQuota` plugin (`quota.rs`) evaluates writes against.
    pub(crate) quotas: Arc<Follower<Objects>>,
    /// Namespaces deleted through this server, and when (`forceLiveLookupCache`).
    deleted: Mutex<HashMap<String, Instant>>,
    /// The LimitRanges read from the store for a namespace the view showed none in, and when
    /// (`LimitRanger`'s `liveLookupCache`).
    limit_range_lookups: Mutex<HashMap<String, Lookup>>,
}

/// A store lookup of one namespace's LimitRanges, and when it was made.
type Lookup = (Instant, Vec<Arc<Value>>);

impl Listers {
    /// Empty views: until [`Listers::follow`] fills them, every lookup reads the store.
    pub(crate) fn new(store: &Arc<dyn Store>) -> Arc<Listers> {
        Arc::new(Listers {
            namespaces: follower(store, "", "namespaces"),
            service_accounts: follower(store, "", "serviceaccounts"),
            priority_classes: follower(store, "scheduling.k8s.io", "priorityclasses"),
            limit_ranges: follower(store, "", "limitranges"),
            quotas: follower(store, "", "resourcequotas"),
            deleted: Mutex::default(),
            limit_range_lookups: Mutex::default(),
        })
    }

    /// Lists namespaces, ServiceAccounts, PriorityClasses and LimitRanges and follows their
    /// changes until `stopping` fires.
    pub(crate) async fn follow(
        &self,
        stopping: tokio::sync::watch::Receiver<()>,
    ) -> Result<(), berth_store::Error> {
        self.namespaces.follow(stopping.clone()).await?;
        self.service_accounts.follow(stopping.clone()).await?;
        self.priority_classes.follow(stopping.clone()).await?;
        self.quotas.follow(stopping.clone()).await?;
        self.limit_ranges.follow(stopping).await
    }

    /// Notes that `namespace` is being deleted: for a while its view is not trusted to show
    /// it terminating, as `NamespaceLifecycle` notes a namespace DELETE it admits.
    pub(crate) fn deleting(&self, namespace: &str) {
        let mut deleted = self.deleted.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        deleted.retain(|_, at| now.duration_since(*at) < FORCE_LIVE_LOOKUP);
        deleted.insert(namespace.to_owned(), now);
    }

    fn deleted_lately(&self, namespace: &str) -> bool {
        let deleted = self.deleted.lock().unwrap_or_else(PoisonError::into_inner);
        deleted.get(namespace).is_some_and(|at| at.elapsed() < FORCE_LIVE_LOOKUP)
    }
}

fn follower(store: &Arc<dyn Store>, group: &str, plural: &str) -> Arc<Follower<Objects>> {
    Follower::new(store.clone(), stored_under(group, plural), Objects::default())
}

/// Decoded objects by store key, each with the revision it was stored at (the quota plugin's
/// charge is a compare-and-swap at it).
#[derive(Debug, Default)]
pub(crate) struct Objects {
    objects: RwLock<HashMap<String, (Revision, Arc<Value>)>>,
}

impl Objects {
    fn get(&self, key: &str) -> Option<Arc<Value>> {
        let objects = self.objects.read().unwrap_or_else(PoisonError::into_inner);
        objects.get(key).map(|(_, object)| object.clone())
    }

    /// The object `keep` accepts with the lowest `key`, read under the lock (no copy of the
    /// view: a pod create asks for the default PriorityClass).
    fn lowest<K: Ord>(
        &self,
        keep: impl Fn(&Value) -> bool,
        key: impl Fn(&Value) -> K,
    ) -> Option<Arc<Value>> {
        let objects = self.objects.read().unwrap_or_else(PoisonError::into_inner);
        let objects = objects.values().map(|(_, object)| object);
        objects.filter(|object| keep(object)).min_by_key(|object| key(object)).cloned()
    }

    /// The objects whose keys start with `prefix` (a namespace's), in key order.
    fn under(&self, prefix: &str) -> Vec<Arc<Value>> {
        let held = self.under_at(prefix).into_iter();
        held.map(|(_, _, object)| object).collect()
    }

    /// [`Objects::under`], each with its key and the revision it was read at.
    pub(crate) fn under_at(&self, prefix: &str) -> Vec<(String, Revision, Arc<Value>)> {
        let objects = self.objects.read().unwrap_or_else(PoisonError::into_inner);
        let found: BTreeMap<&String, &(Revision, Arc<Value>)> =
            objects.iter().filter(|(key, _)| key.starts_with(prefix)).collect();
        let found = found.into_iter();
        found.map(|(key, (revision, object))| (key.clone(), *revision, object.clone())).collect()
    }

    fn decoded(kv: &KeyValue) -> Option<(Revision, Arc<Value>)> {
        // `decode` logs what does not decode; the store keeps the truth for live lookups.
        decode(kv).ok().map(|object| (kv.mod_revision, Arc::new(object)))
    }
}

impl View for Objects {
    fn reset(&self, kvs: &[KeyValue]) {
        let objects =
            kvs.iter().filter_map(|kv| Some((kv.key.clone(), Objects::decoded(kv)?))).collect();
        *self.objects.write().unwrap_or_else(PoisonError::into_inner) = objects;
    }

    fn put(&self, kv: &KeyValue) {
        let object = Objects::decoded(kv);
        let mut objects = self.objects.write().unwrap_or_else(PoisonError::into_inner);
        match object {
            Some(object) => objects.insert(kv.key.clone(), object),
            None => objects.remove(&kv.key),
        };
    }

    fn delete(&self, key: &str) {
        self.objects.write().unwrap_or_else(PoisonError::into_inner).remove(key);
    }
}

/// Runs the mutating and validating plugins for a create of `object` (named `name`) in
/// `namespace`.
pub(crate) async fn on_create(
    store: &dyn Store,
    listers: &Listers,
    resource: &ResourceType,
    namespace: Option<&str>,
    name: &str,
    object: &mut Value,
) -> Result<(), Status> {
    if let Some(ns) = namespace {
        namespace_lifecycle(store, listers, resource, ns, name).await?;
    }
    match (resource.group, resource.kind) {
        ("", "Pod") => {
            if let Some(ns) = namespace {
                // kube-apiserver's order: LimitRanger, ServiceAccount, Priority,
                // DefaultTolerationSeconds.
                limit_ranger_defaults(store, listers, ns, object).await?;
                service_account(store, listers, resource, ns, name, object).await?;
            }
            default_tolerations(object);
            pod_priority(store, listers, resource, name, object).await?;
        }
        ("scheduling.k8s.io", "PriorityClass") => {
            one_default(listers, resource, name, object).await?;
        }
        ("", "PersistentVolumeClaim") => {
            default_storage_class(store, object).await?;
            add_finalizer(object, PVC_PROTECTION);
        }
        ("", "PersistentVolume") => add_finalizer(object, PV_PROTECTION),
        ("networking.k8s.io", "Ingress") => default_ingress_class(store, object).await?,
        _ => {}
    }
    Ok(())
}

/// Runs the plugins that act on an update of `current` to `updated` (not on subresources).
pub(crate) async fn on_update(
    listers: &Listers,
    resource: &ResourceType,
    subresource: Option<&str>,
    current: &Value,
    updated: &mut Value,
) -> Result<(), Status> {
    if subresource.is_some() {
        return Ok(());
    }
    match (resource.group, resource.kind) {
        // `Priority`: what it set at create stays when an update leaves it out.
        ("", "Pod") => {
            for field in ["priority", "preemptionPolicy"] {
                let old = current.get("spec").and_then(|spec| spec.get(field));
                if let Some(old) = old.filter(|old| !old.is_null())
                    && let Some(spec) = updated.get_mut("spec").and_then(Value::as_object_mut)
                    && spec.get(field).is_none_or(Value::is_null)
                {
                    spec.insert(field.into(), old.clone());
                }
            }
            Ok(())
        }
        ("scheduling.k8s.io", "PriorityClass") => {
            let name = updated.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("");
            one_default(listers, resource, name, updated).await
        }
        _ => Ok(()),
    }
}

/// The validating plugins that run after the object's own validation, for a create of
/// `object` (named `name`) in `namespace`: `LimitRanger`'s checks of pods and claims.
pub(crate) async fn validate_create(
    store: &dyn Store,
    listers: &Listers,
    resource: &ResourceType,
    namespace: Option<&str>,
    name: &str,
    object: &Value,
) -> Result<(), Status> {
    match (resource.group, resource.kind, namespace) {
        ("", "Pod" | "PersistentVolumeClaim", Some(ns)) => {
            limit_ranger_check(store, listers, resource, ns, name, object).await
        }
        _ => Ok(()),
    }
}

/// The validating plugins that run after the object's own validation, for an update of
/// `current` to `updated`: `LimitRanger` checks a claim (not its status) unless it is being
/// deleted; it leaves pod updates alone (their containers cannot change).
pub(crate) async fn validate_update(
    store: &dyn Store,
    listers: &Listers,
    resource: &ResourceType,
    subresource: Option<&str>,
    current: &Value,
    updated: &Value,
) -> Result<(), Status> {
    let claim = (resource.group, resource.kind) == ("", "PersistentVolumeClaim");
    let deleting = current.pointer("/metadata/deletionTimestamp").is_some_and(|t| !t.is_null());
    if !claim || subresource.is_some() || deleting {
        return Ok(());
    }
    let text = |pointer: &str| updated.pointer(pointer).and_then(Value::as_str).unwrap_or("");
    let (namespace, name) = (text("/metadata/namespace"), text("/metadata/name"));
    limit_ranger_check(store, listers, resource, namespace, name, updated).await
}

// === LimitRanger ===

/// The LimitRanges of `namespace`, in name order: from the view, or, when it shows none, from
/// the store (a lookup trusted for [`LIMIT_RANGE_LOOKUP`]), as `GetLimitRanges` falls back on
/// a live list.
async fn limit_ranges(
    store: &dyn Store,
    listers: &Listers,
    namespace: &str,
) -> Result<Vec<Arc<Value>>, Status> {
    let ranges = kinds::find("", "v1", "limitranges").ok_or_else(Status::internal)?;
    let under = prefix(ranges, Some(namespace));
    let viewed = listers.limit_ranges.view().under(&under);
    if !viewed.is_empty() {
        return Ok(viewed);
    }
    {
        let lookups = listers.limit_range_lookups.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((at, found)) = lookups.get(namespace)
            && at.elapsed() < LIMIT_RANGE_LOOKUP
        {
            return Ok(found.clone());
        }
    }
    let page = store.range(&RangeRequest::prefix(under)).await;
    let page = page.map_err(|e| Status::from_store(e, ranges, ""))?;
    let found = page.kvs.iter().filter_map(Objects::decoded);
    let found: Vec<Arc<Value>> = found.map(|(_, object)| object).collect();
    let mut lookups = listers.limit_range_lookups.lock().unwrap_or_else(PoisonError::into_inner);
    if lookups.len() >= LIMIT_RANGE_LOOKUPS {
        lookups.retain(|_, (at, _)| at.elapsed() < LIMIT_RANGE_LOOKUP);
        if lookups.len() >= LIMIT_RANGE_LOOKUPS {
            lookups.clear();
        }
    }
    lookups.insert(namespace.to_owned(), (Instant::now(), found.clone()));
    Ok(found)
}

/// `LimitRanger`'s mutation of a pod being created: `PodMutateLimitFunc` with each LimitRange
/// of its namespace in turn.
async fn limit_ranger_defaults(
    store: &dyn Store,
    listers: &Listers,
    namespace: &str,
    pod: &mut Value,
) -> Result<(), Status> {
    for range in limit_ranges(store, listers, namespace).await? {
        let (requests, limits) = default_requirements(&range);
        merge_pod_requirements(pod, &requests, &limits);
    }
    Ok(())
}

/// `LimitRanger`'s validation of a pod or claim: the first LimitRange of its namespace that
/// it does not keep within refuses it, naming everything it exceeds.
async fn limit_ranger_check(
    store: &dyn Store,
    listers: &Listers,
    resource: &ResourceType,
    namespace: &str,
    name: &str,
    object: &Value,
) -> Result<(), Status> {
    for range in limit_ranges(store, listers, namespace).await? {
        let problems = match resource.kind {
            "Pod" => pod_limit_problems(&range, object),
            _ => claim_limit_problems(&range, object),
        };
        if let Some(why) = aggregate(&problems) {
            return Err(forbidden(resource, name, why));
        }
    }
    Ok(())
}

/// A resource list (`requests`, `limits`, a LimitRange item's `max`, …): each resource's
/// quantity, by name. A malformed quantity was refused when its object was decoded.
type Resources = BTreeMap<String, Value>;

fn resources_of(list: Option<&Value>) -> Resources {
    let entries = list.and_then(Value::as_object).into_iter().flatten();
    entries.map(|(name, quantity)| (name.clone(), quantity.clone())).collect()
}

fn quantity(value: &Value) -> Quantity {
    Quantity::of(value)
        .unwrap_or(Quantity { nanos: 0, format: berth_api::quantity::Format::DecimalSi })
}

/// `defaultContainerResourceRequirements`: the default requests and limits of a LimitRange's
/// `Container` items (a later item's win).
fn default_requirements(range: &Value) -> (Resources, Resources) {
    let (mut requests, mut limits) = (Resources::new(), Resources::new());
    for item in range.pointer("/spec/limits").and_then(Value::as_array).into_iter().flatten() {
        if item["type"] == "Container" {
            requests.extend(resources_of(item.get("defaultRequest")));
            limits.extend(resources_of(item.get("default")));
        }
    }
    (requests, limits)
}

/// `mergePodResourceRequirements`: every container, then every init container, gets the
/// default limits and requests it lacks, resource by resource; the pod's
/// `kubernetes.io/limit-ranger` annotation says what was set (`cpu, memory request for
/// container nginx; cpu limit for container nginx`), replacing what an earlier LimitRange set.
fn merge_pod_requirements(pod: &mut Value, requests: &Resources, limits: &Resources) {
    let mut notes = Vec::new();
    for (list, what) in [("containers", "container"), ("initContainers", "init container")] {
        let containers = pod.pointer_mut(&format!("/spec/{list}")).and_then(Value::as_array_mut);
        for container in containers.into_iter().flatten() {
            let name = container["name"].as_str().unwrap_or_default().to_owned();
            let Some(container) = container.as_object_mut() else { continue };
            let resources = container.entry("resources").or_insert_with(|| json!({}));
            if !resources.is_object() {
                *resources = json!({});
            }
            let set_limits = merge_missing(resources, "limits", limits);
            let set_requests = merge_missing(resources, "requests", requests);
            if !set_requests.is_empty() {
                notes.push(format!("{} request for {what} {name}", set_requests.join(", ")));
            }
            if !set_limits.is_empty() {
                notes.push(format!("{} limit for {what} {name}", set_limits.join(", ")));
            }
        }
    }
    if notes.is_empty() {
        return;
    }
    let Some(metadata) = pod.get_mut("metadata").and_then(Value::as_object_mut) else { return };
    let annotations = metadata.entry("annotations").or_insert_with(|| json!({}));
    if !annotations.is_object() {
        *annotations = json!({});
    }
    let note = format!("LimitRanger plugin set: {}", notes.join("; "));
    annotations[LIMIT_RANGER_ANNOTATION] = json!(note);
}

/// Adds to `resources[field]` each default it lacks; the names added, sorted.
fn merge_missing(resources: &mut Value, field: &str, defaults: &Resources) -> Vec<String> {
    let missing: Vec<&String> =
        defaults.keys().filter(|name| resources[field].get(name.as_str()).is_none()).collect();
    if missing.is_empty() {
        return Vec::new();
    }
    if !resources[field].is_object() {
        resources[field] = json!({});
    }
    for name in &missing {
        resources[field][name.as_str()] = defaults[name.as_str()].clone();
    }
    missing.into_iter().cloned().collect()
}

/// `PodValidateLimitFunc`: each container and init container against the `Container` items'
/// min, max and max limit/request ratio, then the pod's requests and limits (`podRequests`,
/// `podLimits`) against the `Pod` items'.
fn pod_limit_problems(range: &Value, pod: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let spec = &pod["spec"];
    for item in range.pointer("/spec/limits").and_then(Value::as_array).into_iter().flatten() {
        let type_ = item["type"].as_str().unwrap_or_default();
        let mut check = |requests: &Quantities, limits: &Quantities| {
            for (name, enforced) in resources_of(item.get("min")) {
                let enforced = quantity(&enforced);
                problems.extend(min_constraint(type_, &name, enforced, requests, limits));
            }
            for (name, enforced) in resources_of(item.get("max")) {
                let enforced = quantity(&enforced);
                problems.extend(max_constraint(type_, &name, enforced, requests, limits));
            }
            for (name, enforced) in resources_of(item.get("maxLimitRequestRatio")) {
                let enforced = quantity(&enforced);
                problems.extend(ratio_constraint(type_, &name, enforced, requests, limits));
            }
        };
        match type_ {
            "Container" => {
                for list in ["containers", "initContainers"] {
                    for container in spec[list].as_array().into_iter().flatten() {
                        let resources = &container["resources"];
                        check(
                            &quantities(resources.get("requests")),
                            &quantities(resources.get("limits")),
                        );
                    }
                }
            }
            "Pod" => {
                let total = |which| berth_api::quota::pod_resources(spec, which, false);
                check(&total("requests"), &total("limits"));
            }
            _ => {}
        }
    }
    problems
}

/// `PersistentVolumeClaimValidateLimitFunc`: a claim's storage request against the
/// `PersistentVolumeClaim` items' min and max (its limits are not looked at).
fn claim_limit_problems(range: &Value, claim: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let requests = quantities(claim.pointer("/spec/resources/requests"));
    for item in range.pointer("/spec/limits").and_then(Value::as_array).into_iter().flatten() {
        if item["type"] != "PersistentVolumeClaim" {
            continue;
        }
        let type_ = "PersistentVolumeClaim";
        for (name, enforced) in resources_of(item.get("min")) {
            let enforced = quantity(&enforced);
            problems.extend(min_constraint(type_, &name, enforced, &requests, &Quantities::new()));
        }
        for (name, enforced) in resources_of(item.get("max")) {
            let enforced = quantity(&enforced);
            let request = requests.get(&name).copied();
            let (observed, _, limit) = enforced_values(request, None, enforced);
            problems.extend(match request {
                None => Some(format!(
                    "maximum {name} usage per {type_} is {enforced}.  No request is specified"
                )),
                Some(request) if observed > limit => Some(format!(
                    "maximum {name} usage per {type_} is {enforced}, but request is {request}"
                )),
                Some(_) => None,
            });
        }
    }
    problems
}

/// Parsed quantities by resource name.
type Quantities = BTreeMap<String, Quantity>;

fn quantities(list: Option<&Value>) -> Quantities {
    resources_of(list).into_iter().map(|(name, value)| (name, quantity(&value))).collect()
}

/// `requestLimitEnforcedValues`: thousandths when all three fit, else whole units (an absent
/// quantity is zero).
fn enforced_values(
    request: Option<Quantity>,
    limit: Option<Quantity>,
    enforced: Quantity,
) -> (i128, i128, i128) {
    let (request, limit) = (request.map_or(0, |q| q.nanos), limit.map_or(0, |q| q.nanos));
    let whole = |nanos: i128| Quantity { nanos, ..enforced }.value();
    let milli = |nanos: i128| Quantity { nanos, ..enforced }.milli_value();
    let values = [request, limit, enforced.nanos];
    if values.iter().all(|nanos| whole(*nanos) <= MAX_MILLI_VALUE) {
        (milli(request), milli(limit), milli(enforced.nanos))
    } else {
        (whole(request), whole(limit), whole(enforced.nanos))
    }
}

/// `minConstraint`.
fn min_constraint(
    type_: &str,
    name: &str,
    enforced: Quantity,
    requests: &Quantities,
    limits: &Quantities,
) -> Option<String> {
    let (request, limit) = (requests.get(name).copied(), limits.get(name).copied());
    let (observed_request, observed_limit, min) = enforced_values(request, limit, enforced);
    let Some(request) = request else {
        return Some(format!(
            "minimum {name} usage per {type_} is {enforced}.  No request is specified"
        ));
    };
    if observed_request < min {
        return Some(format!(
            "minimum {name} usage per {type_} is {enforced}, but request is {request}"
        ));
    }
    match limit {
        Some(limit) if observed_limit < min => {
            Some(format!("minimum {name} usage per {type_} is {enforced}, but limit is {limit}"))
        }
        _ => None,
    }
}

/// `maxConstraint`.
fn max_constraint(
    type_: &str,
    name: &str,
    enforced: Quantity,
    requests: &Quantities,
    limits: &Quantities,
) -> Option<String> {
    let (request, limit) = (requests.get(name).copied(), limits.get(name).copied());
    let (observed_request, observed_limit, max) = enforced_values(request, limit, enforced);
    let Some(limit) = limit else {
        return Some(format!(
            "maximum {name} usage per {type_} is {enforced}.  No limit is specified"
        ));
    };
    if observed_limit > max {
        return Some(format!(
            "maximum {name} usage per {type_} is {enforced}, but limit is {limit}"
        ));
    }
    match request {
        Some(request) if observed_request > max => Some(format!(
            "maximum {name} usage per {type_} is {enforced}, but request is {request}"
        )),
        _ => None,
    }
}

/// `limitRequestRatioConstraint`.
fn ratio_constraint(
    type_: &str,
    name: &str,
    enforced: Quantity,
    requests: &Quantities,
    limits: &Quantities,
) -> Option<String> {
    let (request, limit) = (requests.get(name).copied(), limits.get(name).copied());
    let (observed_request, observed_limit, _) = enforced_values(request, limit, enforced);
    let prefix = format!("{name} max limit to request ratio per {type_} is {enforced}");
    if request.is_none() || observed_request == 0 {
        return Some(format!("{prefix}, but no request is specified or request is 0"));
    }
    if limit.is_none() || observed_limit == 0 {
        return Some(format!("{prefix}, but no limit is specified or limit is 0"));
    }
    let observed = observed_limit as f64 / observed_request as f64;
    let (compared, max) = if enforced.value() <= MAX_MILLI_VALUE {
        (observed * 1000.0, enforced.milli_value() as f64)
    } else {
        (observed, enforced.value() as f64)
    };
    (compared > max).then(|| format!("{prefix}, but provided ratio is {observed:.6}"))
}

/// `utilerrors.NewAggregate(errs).Error()`: one message as it is; several, each once, in
/// brackets.
fn aggregate(problems: &[String]) -> Option<String> {
    let mut seen = std::collections::HashSet::new();
    let unique: Vec<&str> =
        problems.iter().map(String::as_str).filter(|problem| seen.insert(*problem)).collect();
    match unique.as_slice() {
        [] => None,
        [one] => Some((*one).to_owned()),
        many => Some(format!("[{}]", many.join(", "))),
    }
}

/// The PriorityClass with `globalDefault` set (the lowest value if several are), from the
/// view: `getDefaultPriorityClass`.
fn default_priority_class(listers: &Listers) -> Option<Arc<Value>> {
    listers.priority_classes.view().lowest(
        |class| class["globalDefault"] == true,
        |class| class.get("value").and_then(Value::as_i64).unwrap_or(0),
    )
}

/// `Priority`'s validation of a PriorityClass: only one may be the global default (as the
/// store has them: the view catches up first, so a default just made counts).
async fn one_default(
    listers: &Listers,
    resource: &ResourceType,
    name: &str,
    class: &Value,
) -> Result<(), Status> {
    if class["globalDefault"] != true {
        return Ok(());
    }
    listers.priority_classes.catch_up().await;
    match default_priority_class(listers) {
        Some(default) if default["metadata"]["name"] != name => {
            let default = default["metadata"]["name"].as_str().unwrap_or_default().to_owned();
            Err(forbidden(
                resource,
                name,
                format!(
                    "PriorityClass {default} is already marked as default. Only one default can exist"
                ),
            ))
        }
        _ => Ok(()),
    }
}

/// `Priority` for a pod being created: the priority (and preemption policy) of the class it
/// names, which must exist, or of the default class; a priority the pod states must be that
/// one.
async fn pod_priority(
    store: &dyn Store,
    listers: &Listers,
    resource: &ResourceType,
    name: &str,
    pod: &mut Value,
) -> Result<(), Status> {
    let named =
        pod.pointer("/spec/priorityClassName").and_then(Value::as_str).unwrap_or("").to_owned();
    let named = named.as_str();
    let class = if named.is_empty() {
        default_priority_class(listers)
    } else {
        let classes = kinds::find("scheduling.k8s.io", "v1", "priorityclasses")
            .ok_or_else(Status::internal)?;
        let key = key(classes, None, named);
        match listers.priority_classes.view().get(&key) {
            Some(class) => Some(class),
            None => {
                let kv =
                    store.get(&key).await.map_err(|e| Status::from_store(e, classes, named))?;
                match kv {
                    Some(kv) => Some(Arc::new(decode(&kv)?)),
                    None => {
                        return Err(forbidden(
                            resource,
                            name,
                            format!("no PriorityClass with name {named} was found"),
                        ));
                    }
                }
            }
        }
    };
    let (class_name, priority, policy) = match &class {
        Some(class) => (
            class["metadata"]["name"].as_str().unwrap_or_default(),
            class.get("value").and_then(Value::as_i64).unwrap_or(0),
            class.get("preemptionPolicy").and_then(Value::as_str),
        ),
        None => ("", 0, Some("PreemptLowerPriority")),
    };
    let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) else { return Ok(()) };
    if let Some(stated) = spec.get("priority").and_then(Value::as_i64)
        && stated != priority
    {
        return Err(forbidden(
            resource,
            name,
            format!(
                "the integer value of priority ({stated}) must not be provided in pod spec; priority admission controller computed {priority} from the given PriorityClass name"
            ),
        ));
    }
    if named.is_empty() && !class_name.is_empty() {
        spec.insert("priorityClassName".into(), json!(class_name));
    }
    spec.insert("priority".into(), json!(priority));
    if let Some(policy) = policy {
        if let Some(stated) = spec.get("preemptionPolicy").and_then(Value::as_str)
            && stated != policy
        {
            return Err(forbidden(
                resource,
                name,
                format!(
                    "the string value of PreemptionPolicy ({stated}) must not be provided in pod spec; priority admission controller computed {policy} from the given PriorityClass name"
                ),
            ));
        }
        spec.insert("preemptionPolicy".into(), json!(policy));
    }
    Ok(())
}

/// `NamespaceLifecycle` on delete: the namespaces every cluster needs stay.
/// A namespace it lets go is noted in `listers` ([`Listers::deleting`]).
pub(crate) fn check_delete(
    listers: &Listers,
    resource: &ResourceType,
    name: &str,
) -> Result<(), Status> {
    if resource.group.is_empty() && resource.kind == "Namespace" {
        if IMMORTAL_NAMESPACES.contains(&name) {
            return Err(forbidden(resource, name, "this namespace may not be deleted".into()));
        }
        listers.deleting(name);
    }
    Ok(())
}

/// New content needs a namespace that exists and is not being deleted.
///
/// The namespace comes from the view; from the store when the view lacks it, or shows it
/// active while it was deleted through this server lately (kube-apiserver's plugin reads its
/// informer the same way).
async fn namespace_lifecycle(
    store: &dyn Store,
    listers: &Listers,
    resource: &ResourceType,
    namespace: &str,
    name: &str,
) -> Result<(), Status> {
    fn terminating(object: &Value) -> bool {
        object.pointer("/metadata/deletionTimestamp").is_some_and(|t| !t.is_null())
            || object.pointer("/status/phase").and_then(Value::as_str) == Some("Terminating")
    }
    let namespaces = kinds::find("", "v1", "namespaces").ok_or_else(Status::internal)?;
    let key = key(namespaces, None, namespace);
    let viewed = listers.namespaces.view().get(&key);
    let trusted = viewed.filter(|object| terminating(object) || !listers.deleted_lately(namespace));
    let object = match trusted {
        Some(object) => object,
        None => {
            let kv = store.get(&key).await;
            let kv = kv.map_err(|e| Status::from_store(e, namespaces, namespace))?;
            let Some(kv) = kv else { return Err(Status::namespace_not_found(namespace)) };
            Arc::new(decode(&kv)?)
        }
    };
    if terminating(&object) {
        let why = format!(
            "unable to create new content in namespace {namespace} because it is being terminated"
        );
        let mut status = forbidden(resource, name, why.clone());
        status = status.with_details(Details {
            name: Some(name.to_owned()),
            group: (!resource.group.is_empty()).then(|| resource.group.to_owned()),
            kind: Some(resource.plural.to_owned()),
            causes: vec![Cause {
                reason: "NamespaceTerminating",
                message: why,
                field: "metadata.namespace".into(),
            }],
            ..Details::default()
        });
        return Err(status);
    }
    Ok(())
}

/// `pods "web-0" is forbidden: <why>` (403), as `admission.NewForbidden` words it.
pub(crate) fn forbidden(resource: &ResourceType, name: &str, why: String) -> Status {
    let message = if name.is_empty() {
        format!("{} is forbidden: {why}", qualified(resource))
    } else {
        format!("{} {name:?} is forbidden: {why}", qualified(resource))
    };
    Status::forbidden(message).with_details(Details {
        name: Some(name.to_owned()),
        group: (!resource.group.is_empty()).then(|| resource.group.to_owned()),
        kind: Some(resource.plural.to_owned()),
        ..Details::default()
    })
}

/// The `ServiceAccount` plugin for a pod being created.
///
/// The account comes from the view, or from the store when the view lacks it.
async fn service_account(
    store: &dyn Store,
    listers: &Listers,
    resource: &ResourceType,
    namespace: &str,
    name: &str,
    pod: &mut Value,
) -> Result<(), Status> {
    // Mirror pods (static pods a kubelet reports) are exempt, as in Kubernetes.
    if pod.pointer("/metadata/annotations/kubernetes.io~1config.mirror").is_some() {
        return Ok(());
    }
    let account = service_account_name(pod);
    let accounts = kinds::find("", "v1", "serviceaccounts").ok_or_else(Status::internal)?;
    let key = key(accounts, Some(namespace), &account);
    if let Some(account) = listers.service_accounts.view().get(&key) {
        copy_image_pull_secrets(&account, pod);
        return Ok(());
    }
    // The `default` account is created by a controller right after its namespace: wait for
    // it a little, as the plugin does (10 lookups, 500 ms apart).
    let attempts = if account == "default" { DEFAULT_ACCOUNT_LOOKUPS } else { 1 };
    let mut found = None;
    for attempt in 0..attempts {
        if attempt > 0 {
            tokio::time::sleep(DEFAULT_ACCOUNT_RETRY).await;
        }
        let kv = store.get(&key).await;
        found = kv.map_err(|e| Status::from_store(e, accounts, &account))?;
        if found.is_some() {
            break;
        }
    }
    let Some(kv) = found else {
        return Err(forbidden(
            resource,
            name,
            format!(
                "error looking up service account {namespace}/{account}: serviceaccount {account:?} not found"
            ),
        ));
    };
    let account_object = decode(&kv)?;
    copy_image_pull_secrets(&account_object, pod);
    Ok(())
}

/// Fills `spec.serviceAccountName` (and its deprecated alias `serviceAccount`, which v1 always
/// mirrors) and returns it.
fn service_account_name(pod: &mut Value) -> String {
    let named = |field: &str| {
        pod.pointer(&format!("/spec/{field}"))
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
    };
    let account = named("serviceAccountName")
        .or_else(|| named("serviceAccount"))
        .unwrap_or_else(|| "default".to_owned());
    if let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) {
        spec.insert("serviceAccountName".into(), json!(account));
        spec.insert("serviceAccount".into(), json!(account));
    }
    account
}

fn copy_image_pull_secrets(account: &Value, pod: &mut Value) {
    let has_own = pod
        .pointer("/spec/imagePullSecrets")
        .and_then(Value::as_array)
        .is_some_and(|s| !s.is_empty());
    if has_own {
        return;
    }
    let secrets: Vec<Value> = account
        .get("imagePullSecrets")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|s| s.get("name").and_then(Value::as_str))
                .map(|name| json!({ "name": name }))
                .collect()
        })
        .unwrap_or_default();
    if !secrets.is_empty()
        && let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut)
    {
        spec.insert("imagePullSecrets".into(), Value::Array(secrets));
    }
}

/// `DefaultTolerationSeconds`: tolerate `not-ready` and `unreachable` for 300 s unless a
/// toleration already covers them.
fn default_tolerations(pod: &mut Value) {
    let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) else { return };
    let tolerations = spec.entry("tolerations").or_insert_with(|| json!([]));
    let Some(list) = tolerations.as_array_mut() else { return };
    for taint in ["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"] {
        let covered = list.iter().any(|t| {
            let key = t.get("key").and_then(Value::as_str).unwrap_or_default();
            let effect = t.get("effect").and_then(Value::as_str).unwrap_or_default();
            (key == taint || key.is_empty()) && (effect == "NoExecute" || effect.is_empty())
        });
        if !covered {
            list.push(json!({
                "key": taint,
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": DEFAULT_TOLERATION_SECONDS,
            }));
        }
    }
}

/// `DefaultStorageClass`: a claim that names no class (neither `spec.storageClassName` nor the
/// beta annotation) gets the default one — the newest if several are marked, as since v1.28.
async fn default_storage_class(store: &dyn Store, claim: &mut Value) -> Result<(), Status> {
    let named = claim.pointer("/spec/storageClassName").is_some_and(|c| !c.is_null())
        || claim
            .pointer("/metadata/annotations/volume.beta.kubernetes.io~1storage-class")
            .is_some();
    if named {
        return Ok(());
    }
    let default = newest_default(store, "storage.k8s.io", "storageclasses", |class| {
        annotated(class, "storageclass.kubernetes.io/is-default-class")
            || annotated(class, "storageclass.beta.kubernetes.io/is-default-class")
    });
    if let Some(class) = default.await?
        && let Some(spec) = claim.get_mut("spec").and_then(Value::as_object_mut)
    {
        spec.insert("storageClassName".into(), class);
    }
    Ok(())
}

/// `DefaultIngressClass` (`plugin/pkg/admission/network/defaultingressclass`): an Ingress
/// created without `spec.ingressClassName` or the `kubernetes.io/ingress.class` annotation gets
/// the default IngressClass (annotated `ingressclass.kubernetes.io/is-default-class: "true"`;
/// the newest if several are).
async fn default_ingress_class(store: &dyn Store, ingress: &mut Value) -> Result<(), Status> {
    let named = ingress.pointer("/spec/ingressClassName").is_some_and(|c| !c.is_null())
        || ingress.pointer("/metadata/annotations/kubernetes.io~1ingress.class").is_some();
    if named {
        return Ok(());
    }
    let default = newest_default(store, "networking.k8s.io", "ingressclasses", |class| {
        annotated(class, "ingressclass.kubernetes.io/is-default-class")
    });
    if let Some(class) = default.await? {
        if !ingress.get("spec").is_some_and(Value::is_object) {
            ingress["spec"] = json!({});
        }
        ingress["spec"]["ingressClassName"] = class;
    }
    Ok(())
}

/// The name of the newest class (of a cluster-scoped resource) that `is_default` accepts, on a
/// tie the first by name, read from the store: both defaulting plugins' `getDefaultClass`.
async fn newest_default(
    store: &dyn Store,
    group: &str,
    plural: &str,
    is_default: impl Fn(&Value) -> bool,
) -> Result<Option<Value>, Status> {
    let Some(classes) = kinds::find(group, "v1", plural) else {
        return Ok(None);
    };
    let page = store.range(&RangeRequest::prefix(prefix(classes, None))).await;
    let page = page.map_err(|e| Status::from_store(e, classes, ""))?;
    let mut defaults = Vec::new();
    for kv in &page.kvs {
        let class = decode(kv)?;
        if is_default(&class) {
            defaults.push(class);
        }
    }
    let text = |c: &Value, pointer: &str| {
        c.pointer(pointer).and_then(Value::as_str).unwrap_or("").to_owned()
    };
    let newest = defaults.iter().max_by(|a, b| {
        let created = |c: &Value| text(c, "/metadata/creationTimestamp");
        let name = |c: &Value| text(c, "/metadata/name");
        // Newest first; on a tie the first name wins.
        created(a).cmp(&created(b)).then_with(|| name(b).cmp(&name(a)))
    });
    Ok(newest.and_then(|c| c.pointer("/metadata/name")).cloned())
}

/// Whether `object` has the annotation `key` set to `"true"`.
fn annotated(object: &Value, key: &str) -> bool {
    object
        .get("metadata")
        .and_then(|m| m.get("annotations"))
        .and_then(|a| a.get(key))
        .and_then(Value::as_str)
        == Some("true")
}

fn add_finalizer(object: &mut Value, finalizer: &str) {
    let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) else { return };
    let finalizers = metadata.entry("finalizers").or_insert_with(|| json!([]));
    if let Some(list) = finalizers.as_array_mut()
        && !list.iter().any(|f| f.as_str() == Some(finalizer))
    {
        list.push(json!(finalizer));
    }
}

#[cfg(test)]
mod tests {
    use berth_store::MemoryStore;
    use bytes::Bytes;

    use super::*;

    /// Stores `object` at `key`; what the store answered.
    async fn put(store: &Arc<dyn Store>, key: &str, object: Value) -> KeyValue {
        let bytes = Bytes::from(object.to_string());
        match store.get(key).await.unwrap() {
            Some(kv) => store.update(key, bytes, kv.mod_revision).await.unwrap(),
            None => store.create(key, bytes).await.unwrap(),
        }
    }

    /// A store, listers on it that follow nothing (their views are what a test puts there),
    /// and the pods resource.
    fn unfollowed() -> (Arc<dyn Store>, Arc<Listers>, &'static ResourceType) {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let listers = Listers::new(&store);
        (store, listers, kinds::find("", "v1", "pods").unwrap())
    }

    #[tokio::test]
    async fn namespaces_come_from_the_view_then_the_store() {
        let (store, listers, pods) = unfollowed();
        let key = format!("{}dev", stored_under("", "namespaces"));
        let active = put(&store, &key, json!({"metadata": {"name": "dev"}})).await;
        listers.namespaces.view().reset(&[active]);
        let terminating = json!({"metadata": {"name": "dev"}, "status": {"phase": "Terminating"}});
        put(&store, &key, terminating).await;
        // The view is behind the store, as an informer can be: it answers.
        assert!(namespace_lifecycle(&*store, &listers, pods, "dev", "p").await.is_ok());
        // A namespace deleted through this server is read from the store while the view
        // shows it active.
        listers.deleting("dev");
        let refused = namespace_lifecycle(&*store, &listers, pods, "dev", "p").await.unwrap_err();
        assert_eq!(refused.code(), axum::http::StatusCode::FORBIDDEN);
        // One the view lacks is read from the store.
        assert!(namespace_lifecycle(&*store, &listers, pods, "other", "p").await.is_err());
        put(
            &store,
            &format!("{}other", stored_under("", "namespaces")),
            json!({"metadata": {"name": "other"}}),
        )
        .await;
        assert!(namespace_lifecycle(&*store, &listers, pods, "other", "p").await.is_ok());
    }

    #[tokio::test]
    async fn service_accounts_come_from_the_view_then_the_store() {
        let (store, listers, pods) = unfollowed();
        let key = format!("{}dev/builder", stored_under("", "serviceaccounts"));
        let viewed =
            json!({"metadata": {"name": "builder"}, "imagePullSecrets": [{"name": "viewed"}]});
        let kv = put(&store, &key, viewed).await;
        listers.service_accounts.view().reset(&[kv]);
        let stored =
            json!({"metadata": {"name": "builder"}, "imagePullSecrets": [{"name": "stored"}]});
        put(&store, &key, stored).await;
        let pod = || json!({"spec": {"serviceAccountName": "builder"}});
        let mut first = pod();
        service_account(&*store, &listers, pods, "dev", "p", &mut first).await.unwrap();
        assert_eq!(first["spec"]["imagePullSecrets"], json!([{"name": "viewed"}]));
        listers.service_accounts.view().delete(&key);
        let mut second = pod();
        service_account(&*store, &listers, pods, "dev", "p", &mut second).await.unwrap();
        assert_eq!(second["spec"]["imagePullSecrets"], json!([{"name": "stored"}]));
        let mut missing = json!({"spec": {"serviceAccountName": "nobody"}});
        let refused = service_account(&*store, &listers, pods, "dev", "p", &mut missing).await;
        assert_eq!(refused.unwrap_err().code(), axum::http::StatusCode::FORBIDDEN);
    }

    #[tokio::test]
    async fn the_views_follow_the_store() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let key = format!("{}dev", stored_under("", "namespaces"));
        put(&store, &key, json!({"metadata": {"name": "dev"}})).await;
        let listers = Listers::new(&store);
        let (_stop, stopping) = tokio::sync::watch::channel(());
        listers.follow(stopping).await.unwrap();
        assert!(listers.namespaces.view().get(&key).is_some(), "listed at start");
        let account = format!("{}dev/default", stored_under("", "serviceaccounts"));
        put(&store, &account, json!({"metadata": {"name": "default"}})).await;
        store.delete(&key, None).await.unwrap();
        listers.service_accounts.catch_up().await;
        listers.namespaces.catch_up().await;
        assert!(listers.service_accounts.view().get(&account).is_some(), "a create arrives");
        assert!(listers.namespaces.view().get(&key).is_none(), "a delete arrives");
    }

    /// A LimitRange named `name` with `limits`, defaulted as the API server stores it.
    fn limit_range(name: &str, limits: Value) -> Value {
        let mut range = json!({"metadata": {"name": name, "namespace": "dev"},
            "spec": {"limits": limits}});
        berth_api::defaults::apply("", "LimitRange", &mut range);
        range
    }

    #[test]
    fn limit_ranger_fills_what_containers_lack_and_says_so() {
        let range = limit_range(
            "limits",
            json!([{"type": "Container", "default": {"memory": "512Mi", "cpu": "500m"},
                "defaultRequest": {"memory": "256Mi", "cpu": "100m"}}]),
        );
        let (requests, limits) = default_requirements(&range);
        let mut pod = json!({"metadata": {"name": "web"}, "spec": {
            "initContainers": [{"name": "setup", "resources": {"limits": {"cpu": "1"}}}],
            "containers": [{"name": "nginx", "resources": {}},
                {"name": "sidecar", "resources": {"requests": {"cpu": "50m", "memory": "64Mi"},
                    "limits": {"cpu": "200m", "memory": "128Mi"}}}]}});
        merge_pod_requirements(&mut pod, &requests, &limits);
        assert_eq!(
            pod["metadata"]["annotations"][LIMIT_RANGER_ANNOTATION],
            "LimitRanger plugin set: cpu, memory request for container nginx; cpu, memory limit for container nginx; cpu, memory request for init container setup; memory limit for init container setup"
        );
        assert_eq!(
            pod["spec"]["containers"][0]["resources"],
            json!({"limits": {"cpu": "500m", "memory": "512Mi"},
                "requests": {"cpu": "100m", "memory": "256Mi"}})
        );
        let sidecar = &pod["spec"]["containers"][1]["resources"];
        assert_eq!(sidecar["limits"], json!({"cpu": "200m", "memory": "128Mi"}));
        assert_eq!(pod["spec"]["initContainers"][0]["resources"]["limits"]["cpu"], "1");
        // A pod that lacks nothing gets no annotation.
        let mut complete = json!({"metadata": {"name": "c"}, "spec": {"containers": [
            {"name": "c", "resources": {"requests": {"cpu": "1", "memory": "1Gi"},
                "limits": {"cpu": "1", "memory": "1Gi"}}}]}});
        merge_pod_requirements(&mut complete, &requests, &limits);
        assert!(complete["metadata"].get("annotations").is_none());
        // Max alone gives a default limit and request (`SetDefaults_LimitRangeItem`).
        let max = limit_range("max", json!([{"type": "Container", "max": {"cpu": "2"}}]));
        let mut bare = json!({"metadata": {"name": "b"}, "spec": {"containers": [{"name": "b"}]}});
        let (requests, limits) = default_requirements(&max);
        merge_pod_requirements(&mut bare, &requests, &limits);
        assert_eq!(
            bare["spec"]["containers"][0]["resources"],
            json!({"limits": {"cpu": "2"}, "requests": {"cpu": "2"}})
        );
    }

    #[test]
    fn limit_ranger_refuses_what_exceeds_a_limit_range() {
        let range = limit_range(
            "limits",
            json!([
                {"type": "Container", "min": {"cpu": "100m"}, "max": {"memory": "1Gi"},
                 "maxLimitRequestRatio": {"cpu": "2"}},
                {"type": "Pod", "max": {"cpu": "2"}},
                {"type": "PersistentVolumeClaim", "min": {"storage": "1Gi"}, "max": {"storage": "10Gi"}},
            ]),
        );
        let pod = |containers: Value| json!({"spec": {"containers": containers}});
        let container = |requests: Value, limits: Value| json!({"name": "c", "resources": {"requests": requests, "limits": limits}});
        let problems = |pod: &Value| aggregate(&pod_limit_problems(&range, pod));
        let fits = pod(json!([container(
            json!({"cpu": "500m", "memory": "512Mi"}),
            json!({"cpu": "1", "memory": "1Gi"})
        )]));
        assert_eq!(problems(&fits), None);
        let over =
            pod(json!([container(json!({"cpu": "50m"}), json!({"cpu": "50m", "memory": "2Gi"}))]));
        assert_eq!(
            problems(&over).unwrap(),
            "[minimum cpu usage per Container is 100m, but request is 50m, maximum memory usage per Container is 1Gi, but limit is 2Gi]"
        );
        let unbounded = pod(json!([container(json!({"cpu": "100m"}), json!({"cpu": "1"}))]));
        assert_eq!(
            problems(&unbounded).unwrap(),
            "[maximum memory usage per Container is 1Gi.  No limit is specified, cpu max limit to request ratio per Container is 2, but provided ratio is 10.000000]"
        );
        // The pod's limits: its containers', and where an init container needs more, that;
        // a sidecar (restartable init container) adds to both.
        let mut wide = pod(json!([
            container(json!({"cpu": "1"}), json!({"cpu": "1.5", "memory": "1Gi"})),
            container(json!({"cpu": "500m"}), json!({"cpu": "500m", "memory": "1Gi"})),
        ]));
        wide["spec"]["initContainers"] = json!([
            {"name": "log", "restartPolicy": "Always",
             "resources": {"requests": {"cpu": "100m"}, "limits": {"cpu": "100m", "memory": "64Mi"}}},
        ]);
        assert_eq!(problems(&wide).unwrap(), "maximum cpu usage per Pod is 2, but limit is 2100m");
        assert_eq!(
            berth_api::quota::pod_resources(&wide["spec"], "requests", false)["cpu"].to_string(),
            "1600m"
        );
        // One problem is not bracketed; a repeated one counts once.
        assert_eq!(aggregate(&["a".to_owned(), "a".to_owned()]).unwrap(), "a");
        // Claims: the storage request, against min and max.
        let claim =
            |storage: &str| json!({"spec": {"resources": {"requests": {"storage": storage}}}});
        assert_eq!(aggregate(&claim_limit_problems(&range, &claim("5Gi"))), None);
        assert_eq!(
            aggregate(&claim_limit_problems(&range, &claim("512Mi"))).unwrap(),
            "minimum storage usage per PersistentVolumeClaim is 1Gi, but request is 512Mi"
        );
        assert_eq!(
            aggregate(&claim_limit_problems(&range, &claim("20Gi"))).unwrap(),
            "maximum storage usage per PersistentVolumeClaim is 10Gi, but request is 20Gi"
        );
        assert_eq!(
            aggregate(&claim_limit_problems(&range, &json!({"spec": {}}))).unwrap(),
            "[minimum storage usage per PersistentVolumeClaim is 1Gi.  No request is specified, maximum storage usage per PersistentVolumeClaim is 10Gi.  No request is specified]"
        );
    }

    #[tokio::test]
    async fn limit_ranges_come_from_the_view_then_a_lookup_of_the_store() {
        let (store, listers, pods) = unfollowed();
        let under = format!("{}dev/", stored_under("", "limitranges"));
        let max =
            |cpu: &str| limit_range("max", json!([{"type": "Container", "max": {"cpu": cpu}}]));
        put(&store, &format!("{under}max"), max("1")).await;
        // The view shows none: the store is read, and what it said is kept for a while.
        let mut pod = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c"}]}});
        limit_ranger_defaults(&*store, &listers, "dev", &mut pod).await.unwrap();
        assert_eq!(pod["spec"]["containers"][0]["resources"]["limits"]["cpu"], "1");
        store.delete(&format!("{under}max"), None).await.unwrap();
        assert_eq!(limit_ranges(&*store, &listers, "dev").await.unwrap().len(), 1);
        // The view, once it shows any, wins.
        let viewed = put(&store, &format!("{under}max"), max("500m")).await;
        listers.limit_ranges.view().reset(&[viewed]);
        let wide = json!({"metadata": {"name": "w", "namespace": "dev"}, "spec": {"containers": [
            {"name": "c", "resources": {"limits": {"cpu": "1"}, "requests": {"cpu": "1"}}}]}});
        let refused = validate_create(&*store, &listers, pods, Some("dev"), "w", &wide).await;
        let refused = refused.unwrap_err();
        assert_eq!(refused.code(), axum::http::StatusCode::FORBIDDEN);
        // Other namespaces' LimitRanges are not this one's.
        assert!(limit_ranges(&*store, &listers, "prod").await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn claim_updates_are_checked_unless_of_the_status_or_while_deleting() {
        let (store, listers, _) = unfollowed();
        let claims = kinds::find("", "v1", "persistentvolumeclaims").unwrap();
        let range = limit_range(
            "storage",
            json!([{"type": "PersistentVolumeClaim", "max": {"storage": "10Gi"}}]),
        );
        let key = format!("{}dev/storage", stored_under("", "limitranges"));
        listers.limit_ranges.view().reset(&[put(&store, &key, range).await]);
        let claim = |storage: &str| {
            json!({"metadata": {"name": "data", "namespace": "dev"},
                "spec": {"resources": {"requests": {"storage": storage}}}})
        };
        let (small, big) = (claim("5Gi"), claim("20Gi"));
        let store = &*store;
        let refused = validate_update(store, &listers, claims, None, &small, &big).await;
        assert_eq!(refused.unwrap_err().code(), axum::http::StatusCode::FORBIDDEN);
        let within = claim("10Gi");
        assert!(validate_update(store, &listers, claims, None, &small, &within).await.is_ok());
        let status = Some("status");
        assert!(validate_update(store, &listers, claims, status, &small, &big).await.is_ok());
        let mut deleting = small.clone();
        deleting["metadata"]["deletionTimestamp"] = json!("2026-11-25T09:00:00Z");
        assert!(validate_update(store, &listers, claims, None, &deleting, &big).await.is_ok());
        // Pods are not checked on update: their containers cannot change.
        let pods = kinds::find("", "v1", "pods").unwrap();
        assert!(validate_update(store, &listers, pods, None, &small, &big).await.is_ok());
    }

    #[test]
    fn pods_default_to_the_default_service_account() {
        let mut pod = json!({ "spec": { "containers": [] } });
        assert_eq!(service_account_name(&mut pod), "default");
        assert_eq!(pod["spec"]["serviceAccountName"], "default");
        assert_eq!(pod["spec"]["serviceAccount"], "default");
        let mut legacy = json!({ "spec": { "serviceAccount": "builder" } });
        assert_eq!(service_account_name(&mut legacy), "builder");
        assert_eq!(legacy["spec"]["serviceAccountName"], "builder");
    }

    #[test]
    fn image_pull_secrets_are_copied_only_into_pods_without_any() {
        let account = json!({ "imagePullSecrets": [{ "name": "registry" }] });
        let mut pod = json!({ "spec": {} });
        copy_image_pull_secrets(&account, &mut pod);
        assert_eq!(pod["spec"]["imagePullSecrets"], json!([{ "name": "registry" }]));
        let mut own = json!({ "spec": { "imagePullSecrets": [{ "name": "mine" }] } });
        copy_image_pull_secrets(&account, &mut own);
        assert_eq!(own["spec"]["imagePullSecrets"], json!([{ "name": "mine" }]));
    }

    #[test]
    fn tolerations_are_added_unless_covered() {
        let mut pod = json!({ "spec": {} });
        default_tolerations(&mut pod);
        assert_eq!(
            pod["spec"]["tolerations"],
            json!([
                { "key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300 },
                { "key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300 },
            ])
        );
        let mut everything = json!({ "spec": { "tolerations": [{ "operator": "Exists" }] } });
        default_tolerations(&mut everything);
        assert_eq!(everything["spec"]["tolerations"], json!([{ "operator": "Exists" }]));
        let mut own = json!({ "spec": { "tolerations": [
            { "key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 5 },
        ] } });
        default_tolerations(&mut own);
        let list = own["spec"]["tolerations"].as_array().unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[0]["tolerationSeconds"], 5);
        assert_eq!(list[1]["key"], "node.kubernetes.io/not-ready");
    }

    #[test]
    fn finalizers_are_added_once() {
        let mut claim = json!({ "metadata": { "finalizers": ["kubernetes.io/pvc-protection"] } });
        add_finalizer(&mut claim, PVC_PROTECTION);
        assert_eq!(claim["metadata"]["finalizers"], json!(["kubernetes.io/pvc-protection"]));
        let mut volume = json!({ "metadata": {} });
        add_finalizer(&mut volume, PV_PROTECTION);
        assert_eq!(volume["metadata"]["finalizers"], json!(["kubernetes.io/pv-protection"]));
    }
}
