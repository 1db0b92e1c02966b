//! ResourceQuota usage as Kubernetes v1.33 evaluates it, pure: what an object charges
//! ([`usage`]), which quotas it counts against ([`matches`]), the quota admission's decision
//! for one write ([`check`]) and the quota controller's recalculation of a quota from the
//! objects of its namespace ([`calculate_status`]).
//!
//! Sources: pkg/quota/v1/evaluator/core (`pods.go`, `services.go`,
//! `persistent_volume_claims.go`, `registry.go`), staging/src/k8s.io/apiserver/pkg/quota/v1
//! (`resources.go`, `generic/evaluator.go`), the admission plugin's `CheckRequest`
//! (staging/src/k8s.io/apiserver/pkg/admission/plugin/resourcequota/controller.go) and the
//! controller's `syncResourceQuota`/`CalculateUsage` (pkg/controller/resourcequota). Feature
//! gates as v1.33 defaults them: `VolumeAttributesClass` off, `InPlacePodVerticalScaling` on
//! (no `resize` writes are served, so it changes nothing here).
//!
//! Suggested reading order: [`Evaluator`], [`usage`], [`matches`], [`check`],
//! [`calculate_status`].

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use crate::quantity::{Format, Quantity};

/// Resource name → quantity (`corev1.ResourceList`), in name order.
pub type ResourceList = BTreeMap<String, Quantity>;

/// The `status unknown`, `exceeded` and constraint refusals of [`check`]: the text after
/// `pods "web" is forbidden: `.
pub type Refusal = String;

/// The prefix of object count quota names (`count/pods`, `count/deployments.apps`).
pub const OBJECT_COUNT_PREFIX: &str = "count/";
/// How a storage class's share of a claim quota is named:
/// `<class>.storageclass.storage.k8s.io/requests.storage`.
const STORAGE_CLASS_SUFFIX: &str = ".storageclass.storage.k8s.io/";
const ANNOTATION_STORAGE_CLASS: &str = "volume.beta.kubernetes.io/storage-class";

/// `podResources`: what pods are charged for (huge pages and `requests.<extended>` aside).
const POD_RESOURCES: [&str; 11] = [
    "count/pods",
    "cpu",
    "memory",
    "ephemeral-storage",
    "requests.cpu",
    "requests.memory",
    "requests.ephemeral-storage",
    "limits.cpu",
    "limits.memory",
    "limits.ephemeral-storage",
    "pods",
];
/// `validationSet`: what every container must state when a quota tracks it.
const CONTAINER_REQUIRED: [&str; 6] =
    ["cpu", "memory", "requests.cpu", "requests.memory", "limits.cpu", "limits.memory"];
const SERVICE_RESOURCES: [&str; 4] =
    ["count/services", "services", "services.nodeports", "services.loadbalancers"];
const CLAIM_RESOURCES: [&str; 2] = ["persistentvolumeclaims", "requests.storage"];

/// The write being admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Create,
    Update,
}

/// Who evaluates a resource's usage (`quota.Evaluator`): the three core evaluators with their
/// own rules, or an object count evaluator (`generic.NewObjectCountEvaluator`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Evaluator {
    Pod,
    Service,
    PersistentVolumeClaim,
    /// Charges one of each name: `count/<resource>[.<group>]` and the legacy alias
    /// (`configmaps`, `secrets`, `replicationcontrollers`, `resourcequotas`).
    ObjectCount(Vec<String>),
}

impl Evaluator {
    /// The evaluator of `group`/`plural`; `None` for what quota ignores (`events`).
    pub fn of(group: &str, plural: &str) -> Option<Evaluator> {
        match (group, plural) {
            ("" | "events.k8s.io", "events") => None,
            ("", "pods") => Some(Evaluator::Pod),
            ("", "services") => Some(Evaluator::Service),
            ("", "persistentvolumeclaims") => Some(Evaluator::PersistentVolumeClaim),
            _ => {
                let mut names = vec![object_count_name(group, plural)];
                if group.is_empty()
                    && matches!(
                        plural,
                        "configmaps" | "secrets" | "replicationcontrollers" | "resourcequotas"
                    )
                {
                    names.push(plural.to_owned());
                }
                Some(Evaluator::ObjectCount(names))
            }
        }
    }

    /// `Handles`: whether a write can change usage. Pods are charged when created (their
    /// resources are immutable), object counts likewise; a Service's type and a claim's request
    /// can change on update. Subresource writes never count (the plugin ignores them).
    pub fn handles(&self, operation: Operation) -> bool {
        match self {
            Evaluator::Pod | Evaluator::ObjectCount(_) => operation == Operation::Create,
            Evaluator::Service | Evaluator::PersistentVolumeClaim => true,
        }
    }

    /// `MatchingResources`: the names of `input` this evaluator charges.
    pub fn matching_resources<'a>(&self, input: impl IntoIterator<Item = &'a str>) -> Vec<String> {
        input
            .into_iter()
            .filter(|name| match self {
                Evaluator::Pod => {
                    POD_RESOURCES.contains(name)
                        || name.starts_with("hugepages-")
                        || name.starts_with("requests.hugepages-")
                        || name.strip_prefix("requests.").is_some_and(extended_resource)
                }
                Evaluator::Service => SERVICE_RESOURCES.contains(name),
                Evaluator::PersistentVolumeClaim => {
                    *name == "count/persistentvolumeclaims"
                        || CLAIM_RESOURCES.contains(name)
                        || CLAIM_RESOURCES
                            .iter()
                            .any(|r| name.ends_with(&format!("{STORAGE_CLASS_SUFFIX}{r}")))
                }
                Evaluator::ObjectCount(names) => names.iter().any(|n| n == name),
            })
            .map(str::to_owned)
            .collect()
    }
}

/// `ObjectCountQuotaResourceNameFor`: `count/<resource>` for the core group, else
/// `count/<resource>.<group>`.
pub fn object_count_name(group: &str, plural: &str) -> String {
    if group.is_empty() {
        format!("{OBJECT_COUNT_PREFIX}{plural}")
    } else {
        format!("{OBJECT_COUNT_PREFIX}{plural}.{group}")
    }
}

/// The resource an object count name counts: `count/deployments.apps` → (`apps`,
/// `deployments`); `None` for other names.
pub fn counted_resource(name: &str) -> Option<(&str, &str)> {
    let counted = name.strip_prefix(OBJECT_COUNT_PREFIX)?;
    Some(match counted.split_once('.') {
        Some((plural, group)) => (group, plural),
        None => ("", counted),
    })
}

/// `helper.IsExtendedResourceName`: a prefixed name outside `kubernetes.io/`, which stays a
/// qualified name with `requests.` in front.
fn extended_resource(name: &str) -> bool {
    name.contains('/')
        && !name.contains("kubernetes.io/")
        && !name.starts_with("requests.")
        && qualified(&format!("requests.{name}"))
}

/// `IsQualifiedName`, enough for resource names: an optional DNS subdomain prefix and a name
/// of at most 63 alphanumerics, `-`, `_`, `.`, starting and ending alphanumeric.
fn qualified(name: &str) -> bool {
    let (prefix, name) = match name.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, name),
    };
    let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    let name_ok = !name.is_empty()
        && name.len() <= 63
        && alnum(name.chars().next())
        && alnum(name.chars().last())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    let prefix_ok = prefix.is_none_or(|p| {
        !p.is_empty()
            && p.len() <= 253
            && p.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && label
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                    && !label.starts_with('-')
                    && !label.ends_with('-')
            })
    });
    name_ok && prefix_ok
}

// === usage ===

/// `Usage`: what `object` charges, `now` in Unix seconds (a pod past its deletion grace period
/// charges its count only).
pub fn usage(evaluator: &Evaluator, object: &Value, now: i64) -> ResourceList {
    match evaluator {
        Evaluator::Pod => pod_usage(object, now),
        Evaluator::Service => service_usage(object),
        Evaluator::PersistentVolumeClaim => claim_usage(object),
        Evaluator::ObjectCount(names) => names.iter().map(|n| (n.clone(), one())).collect(),
    }
}

fn one() -> Quantity {
    Quantity { nanos: 1_000_000_000, format: Format::DecimalSi }
}

fn zero() -> Quantity {
    Quantity { nanos: 0, format: Format::DecimalSi }
}

fn count(n: usize) -> Quantity {
    Quantity { nanos: i128::try_from(n).unwrap_or(0) * 1_000_000_000, format: Format::DecimalSi }
}

/// A resource list field, malformed quantities left out (they were refused at decoding).
fn resource_list(value: &Value) -> ResourceList {
    value
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(name, quantity)| Some((name.clone(), Quantity::of(quantity)?)))
        .collect()
}

/// `PodUsageFunc`: `count/pods` always; while the pod counts (`QuotaV1Pod`) also `pods` and
/// its compute resources from `PodRequests`/`PodLimits`.
fn pod_usage(pod: &Value, now: i64) -> ResourceList {
    let mut result = ResourceList::from([("count/pods".to_owned(), one())]);
    if !pod_counts(pod, now) {
        return result;
    }
    let spec = &pod["spec"];
    let requests = pod_resources(spec, "requests", true);
    let limits = pod_resources(spec, "limits", true);
    add_into(&mut result, &compute_usage(&requests, &limits));
    result
}

/// `QuotaV1Pod`: not terminal, and not stuck past its deletion grace period.
pub fn pod_counts(pod: &Value, now: i64) -> bool {
    let metadata = &pod["metadata"];
    if let Some(deleted) =
        metadata["deletionTimestamp"].as_str().and_then(crate::metatime::unix_seconds)
        && let Some(grace) = metadata["deletionGracePeriodSeconds"].as_i64()
        && now > deleted.saturating_add(grace)
    {
        return false;
    }
    !matches!(pod["status"]["phase"].as_str(), Some("Failed" | "Succeeded"))
}

/// `resourcehelper.PodRequests`/`PodLimits` (`which` is `requests` or `limits`): the
/// containers' sum, at least each init container's (plus the sidecars started before it),
/// sidecars counted with the containers; with `overhead`, the pod's overhead added (to limits
/// only where limited). LimitRanger sums without it.
pub fn pod_resources(spec: &Value, which: &str, overhead: bool) -> ResourceList {
    let of = |container: &Value| resource_list(&container["resources"][which]);
    let mut total = ResourceList::new();
    for container in spec["containers"].as_array().into_iter().flatten() {
        add_into(&mut total, &of(container));
    }
    let mut sidecars = ResourceList::new();
    let mut init = ResourceList::new();
    for container in spec["initContainers"].as_array().into_iter().flatten() {
        let own = of(container);
        let needs = if container["restartPolicy"] == "Always" {
            add_into(&mut total, &own);
            add_into(&mut sidecars, &own);
            sidecars.clone()
        } else {
            let mut needs = own;
            add_into(&mut needs, &sidecars);
            needs
        };
        max_into(&mut init, &needs);
    }
    max_into(&mut total, &init);
    if !overhead {
        return total;
    }
    for (name, quantity) in resource_list(&spec["overhead"]) {
        if which == "requests" || total.contains_key(&name) {
            add_into(&mut total, &ResourceList::from([(name, quantity)]));
        }
    }
    total
}

/// `podComputeUsageHelper`: `pods` 1, and each request and limit under its quota names.
fn compute_usage(requests: &ResourceList, limits: &ResourceList) -> ResourceList {
    let mut result = ResourceList::from([("pods".to_owned(), one())]);
    for name in ["cpu", "memory", "ephemeral-storage"] {
        if let Some(request) = requests.get(name) {
            result.insert(name.to_owned(), *request);
            result.insert(format!("requests.{name}"), *request);
        }
        if let Some(limit) = limits.get(name) {
            result.insert(format!("limits.{name}"), *limit);
        }
    }
    for (name, request) in requests {
        if name.starts_with("hugepages-") {
            result.insert(name.clone(), *request);
            result.insert(format!("requests.{name}"), *request);
        }
        if extended_resource(name) {
            result.insert(format!("requests.{name}"), *request);
        }
    }
    result
}

/// `serviceEvaluator.Usage`: one service; its ports as node ports when it is a NodePort, or a
/// LoadBalancer that allocates them; one load balancer.
fn service_usage(service: &Value) -> ResourceList {
    let spec = &service["spec"];
    let ports = spec["ports"].as_array().map_or(0, Vec::len);
    let mut result = ResourceList::from([
        ("count/services".to_owned(), one()),
        ("services".to_owned(), one()),
        ("services.loadbalancers".to_owned(), zero()),
        ("services.nodeports".to_owned(), zero()),
    ]);
    match spec["type"].as_str() {
        Some("NodePort") => {
            result.insert("services.nodeports".to_owned(), count(ports));
        }
        Some("LoadBalancer") => {
            if spec["allocateLoadBalancerNodePorts"].as_bool() != Some(false) {
                result.insert("services.nodeports".to_owned(), count(ports));
            }
            result.insert("services.loadbalancers".to_owned(), one());
        }
        _ => {}
    }
    result
}

/// `pvcEvaluator.Usage`: one claim, its storage request (in whole bytes, at least what was
/// allocated), both also under its storage class's names.
fn claim_usage(claim: &Value) -> ResourceList {
    let mut result = ResourceList::from([
        ("persistentvolumeclaims".to_owned(), one()),
        ("count/persistentvolumeclaims".to_owned(), one()),
    ]);
    let class = claim["metadata"]["annotations"][ANNOTATION_STORAGE_CLASS]
        .as_str()
        .or_else(|| claim["spec"]["storageClassName"].as_str())
        .unwrap_or("");
    if !class.is_empty() {
        result.insert(format!("{class}{STORAGE_CLASS_SUFFIX}persistentvolumeclaims"), one());
    }
    let round_up = |q: Quantity| Quantity {
        nanos: q.nanos.div_euclid(1_000_000_000) * 1_000_000_000
            + if q.nanos.rem_euclid(1_000_000_000) == 0 { 0 } else { 1_000_000_000 },
        format: q.format,
    };
    let requested = Quantity::of(&claim["spec"]["resources"]["requests"]["storage"]).map(round_up);
    let allocated = Quantity::of(&claim["status"]["allocatedResources"]["storage"]);
    let storage = match (requested, allocated) {
        (Some(r), Some(a)) if a.nanos > r.nanos => Some(round_up(a)),
        (r, _) => r,
    };
    if let Some(storage) = storage {
        result.insert("requests.storage".to_owned(), storage);
        if !class.is_empty() {
            result.insert(format!("{class}{STORAGE_CLASS_SUFFIX}requests.storage"), storage);
        }
    }
    result
}

// === scopes ===

/// One scope requirement of a quota (`ScopedResourceSelectorRequirement`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeRequirement {
    pub scope: String,
    pub operator: String,
    pub values: Vec<String>,
}

/// `getScopeSelectorsFromQuota`: `spec.scopes` (as `Exists`), then the scope selector's.
pub fn scope_requirements(quota: &Value) -> Vec<ScopeRequirement> {
    let spec = &quota["spec"];
    let strings = |v: &Value| -> Vec<String> {
        v.as_array().into_iter().flatten().filter_map(Value::as_str).map(str::to_owned).collect()
    };
    let scopes = strings(&spec["scopes"]).into_iter().map(|scope| ScopeRequirement {
        scope,
        operator: "Exists".to_owned(),
        values: Vec::new(),
    });
    let selected =
        spec["scopeSelector"]["matchExpressions"].as_array().into_iter().flatten().map(|e| {
            ScopeRequirement {
                scope: e["scopeName"].as_str().unwrap_or("").to_owned(),
                operator: e["operator"].as_str().unwrap_or("").to_owned(),
                values: strings(&e["values"]),
            }
        });
    scopes.chain(selected).collect()
}

/// Whether `object` is in `requirement`'s scope (`podMatchesScopeFunc`); other evaluators match
/// no scope (`MatchesNoScopeFunc`).
pub fn matches_scope(
    evaluator: &Evaluator,
    requirement: &ScopeRequirement,
    object: &Value,
) -> bool {
    if *evaluator != Evaluator::Pod {
        return false;
    }
    let spec = &object["spec"];
    let terminating = spec["activeDeadlineSeconds"].as_i64().is_some_and(|s| s >= 0);
    let best_effort = crate::quantity::pod_qos_class(object) == "BestEffort";
    match requirement.scope.as_str() {
        "Terminating" => terminating,
        "NotTerminating" => !terminating,
        "BestEffort" => best_effort,
        "NotBestEffort" => !best_effort,
        "PriorityClass" => {
            let class = spec["priorityClassName"].as_str().unwrap_or("");
            // The selector is evaluated against the labels {PriorityClass: <name>}, which
            // always have the key.
            match requirement.operator.as_str() {
                "Exists" if requirement.values.is_empty() => !class.is_empty(),
                "Exists" => true,
                "In" => requirement.values.iter().any(|v| v == class),
                "NotIn" => !requirement.values.iter().any(|v| v == class),
                _ => false,
            }
        }
        "CrossNamespacePodAffinity" => cross_namespace_affinity(spec),
        _ => false,
    }
}

/// `usesCrossNamespacePodAffinity`: a pod (anti-)affinity term naming namespaces or a
/// namespace selector.
fn cross_namespace_affinity(spec: &Value) -> bool {
    let crosses = |term: &Value| {
        term["namespaces"].as_array().is_some_and(|n| !n.is_empty())
            || term.get("namespaceSelector").is_some_and(|s| !s.is_null())
    };
    ["podAffinity", "podAntiAffinity"].iter().any(|kind| {
        let affinity = &spec["affinity"][kind];
        let required = affinity["requiredDuringSchedulingIgnoredDuringExecution"].as_array();
        let preferred = affinity["preferredDuringSchedulingIgnoredDuringExecution"].as_array();
        required.into_iter().flatten().any(crosses)
            || preferred.into_iter().flatten().any(|w| crosses(&w["podAffinityTerm"]))
    })
}

/// `generic.Matches`: the quota limits (in `status.hard`) something the evaluator charges, and
/// `object` is in every one of its scopes.
pub fn matches(evaluator: &Evaluator, quota: &Value, object: &Value) -> bool {
    let hard = resource_list(&quota["status"]["hard"]);
    !evaluator.matching_resources(hard.keys().map(String::as_str)).is_empty()
        && scope_requirements(quota).iter().all(|r| matches_scope(evaluator, r, object))
}

/// `podEvaluator.Constraints`: when a quota tracks cpu or memory, every container must state
/// it. The error names each missing resource with the containers that lack it.
fn constraints(evaluator: &Evaluator, required: &[String], pod: &Value) -> Result<(), String> {
    if *evaluator != Evaluator::Pod {
        return Ok(());
    }
    let required: BTreeSet<&str> = required
        .iter()
        .map(String::as_str)
        .filter(|name| CONTAINER_REQUIRED.contains(name))
        .collect();
    let mut missing: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    let spec = &pod["spec"];
    let containers = ["containers", "initContainers"]
        .into_iter()
        .flat_map(|list| spec[list].as_array().into_iter().flatten());
    for container in containers {
        let resources = &container["resources"];
        let usage = compute_usage(
            &resource_list(&resources["requests"]),
            &resource_list(&resources["limits"]),
        );
        let name = container["name"].as_str().unwrap_or("");
        for resource in required.iter().filter(|r| !usage.contains_key(**r)) {
            missing.entry(resource).or_default().insert(name);
        }
    }
    let errors: Vec<String> = missing
        .iter()
        .map(|(resource, names)| {
            let names: Vec<&str> = names.iter().copied().collect();
            format!("must specify {resource} for: {}", names.join(","))
        })
        .collect();
    // `utilerrors.NewAggregate`: one error as it is, several in brackets.
    match errors.len() {
        0 => Ok(()),
        1 => Err(errors.concat()),
        _ => Err(format!("[{}]", errors.join(", "))),
    }
}

// === resource lists ===

/// `quota.Add`: the sum, key by key (a sum in the left quantity's format).
pub fn add(a: &ResourceList, b: &ResourceList) -> ResourceList {
    let mut result = a.clone();
    add_into(&mut result, b);
    result
}

fn add_into(a: &mut ResourceList, b: &ResourceList) {
    for (name, quantity) in b {
        a.entry(name.clone()).and_modify(|q| *q = *q + *quantity).or_insert(*quantity);
    }
}

/// `maxResourceList`: the larger of each.
fn max_into(a: &mut ResourceList, b: &ResourceList) {
    for (name, quantity) in b {
        match a.get(name) {
            Some(current) if current.nanos >= quantity.nanos => {}
            _ => {
                a.insert(name.clone(), *quantity);
            }
        }
    }
}

/// `quota.Mask`: only the names listed.
fn mask<'a>(list: &ResourceList, names: impl IntoIterator<Item = &'a String>) -> ResourceList {
    let names: BTreeSet<&String> = names.into_iter().collect();
    list.iter().filter(|(n, _)| names.contains(n)).map(|(n, q)| (n.clone(), *q)).collect()
}

/// `quota.Equals`: the same names with equal values.
pub fn equals(a: &ResourceList, b: &ResourceList) -> bool {
    a.len() == b.len() && a.iter().all(|(n, q)| b.get(n).is_some_and(|o| o.nanos == q.nanos))
}

/// `SubtractWithNonNegativeResult`.
fn subtract_non_negative(a: &ResourceList, b: &ResourceList) -> ResourceList {
    let mut result = ResourceList::new();
    for (name, quantity) in a {
        let nanos = quantity.nanos - b.get(name).map_or(0, |q| q.nanos);
        let value = if nanos > 0 { Quantity { nanos, format: quantity.format } } else { zero() };
        result.insert(name.clone(), value);
    }
    for name in b.keys() {
        result.entry(name.clone()).or_insert_with(zero);
    }
    result
}

/// `prettyPrint`: `name=quantity`, by name, joined with commas.
pub fn pretty_print(list: &ResourceList) -> String {
    let parts: Vec<String> = list.iter().map(|(name, q)| format!("{name}={q}")).collect();
    parts.join(",")
}

/// A resource list as JSON: each quantity in its canonical text.
pub fn to_json(list: &ResourceList) -> Value {
    Value::Object(list.iter().map(|(n, q)| (n.clone(), json!(q.to_string()))).collect())
}

// === admission ===

/// The quota admission's `CheckRequest` for a write of `object` (`old`: the stored object, on
/// update) of a resource `evaluator` evaluates, against `quotas` (the namespace's, decoded):
/// the new `status.used` of each quota the write charges, by index, or the refusal.
pub fn check(
    quotas: &[&Value],
    evaluator: &Evaluator,
    operation: Operation,
    object: &Value,
    old: Option<&Value>,
    now: i64,
) -> Result<Vec<(usize, ResourceList)>, Refusal> {
    if !evaluator.handles(operation) {
        return Ok(Vec::new());
    }
    let mut interesting = Vec::new();
    for (i, quota) in quotas.iter().enumerate() {
        if !matches(evaluator, quota, object) {
            continue;
        }
        let name = quota["metadata"]["name"].as_str().unwrap_or("");
        let hard = resource_list(&quota["status"]["hard"]);
        let restricted = evaluator.matching_resources(hard.keys().map(String::as_str));
        constraints(evaluator, &restricted, object)
            .map_err(|why| format!("failed quota: {name}: {why}"))?;
        let used = resource_list(&quota["status"]["used"]);
        if restricted.iter().any(|r| !used.contains_key(r)) {
            // `prettyPrintResourceNames`: sorted (as `hard`'s keys are), comma-separated.
            let names = restricted.join(",");
            return Err(format!("status unknown for quota: {name}, resources: {names}"));
        }
        interesting.push(i);
    }
    let mut delta = usage(evaluator, object, now);
    let negative: Vec<&str> =
        delta.iter().filter(|(_, q)| q.nanos < 0).map(|(n, _)| n.as_str()).collect();
    if !negative.is_empty() {
        return Err(format!("quota usage is negative for resource(s): {}", negative.join(",")));
    }
    if operation == Operation::Update
        && let Some(old) = old
    {
        delta = subtract_non_negative(&delta, &usage(evaluator, old, now));
    }
    if delta.values().all(|q| q.nanos == 0) {
        return Ok(Vec::new());
    }
    let mut changes = Vec::new();
    for i in interesting {
        let quota = quotas[i];
        let hard = resource_list(&quota["status"]["hard"]);
        let used = resource_list(&quota["status"]["used"]);
        let requested = mask(&delta, hard.keys());
        let new_used = add(&used, &requested);
        let exceeded: Vec<String> = requested
            .keys()
            .filter(|n| {
                let (Some(new), Some(limit)) = (new_used.get(*n), hard.get(*n)) else {
                    return false;
                };
                new.nanos > limit.nanos
            })
            .cloned()
            .collect();
        if !exceeded.is_empty() {
            let name = quota["metadata"]["name"].as_str().unwrap_or("");
            return Err(format!(
                "exceeded quota: {name}, requested: {}, used: {}, limited: {}",
                pretty_print(&mask(&requested, &exceeded)),
                pretty_print(&mask(&used, &exceeded)),
                pretty_print(&mask(&hard, &exceeded)),
            ));
        }
        if !equals(&new_used, &used) {
            changes.push((i, new_used));
        }
    }
    Ok(changes)
}

// === the controller ===

/// The resources whose objects the usage of a quota with `hard` is calculated from: the
/// core evaluators' and what `count/` names, as (group, plural).
pub fn tracked_resources(hard: &ResourceList) -> Vec<(String, String)> {
    let names: Vec<&str> = hard.keys().map(String::as_str).collect();
    let mut resources = BTreeSet::new();
    for (group, plural) in [
        ("", "pods"),
        ("", "services"),
        ("", "persistentvolumeclaims"),
        ("", "configmaps"),
        ("", "secrets"),
        ("", "replicationcontrollers"),
        ("", "resourcequotas"),
    ] {
        if let Some(evaluator) = Evaluator::of(group, plural)
            && !evaluator.matching_resources(names.iter().copied()).is_empty()
        {
            resources.insert((group.to_owned(), plural.to_owned()));
        }
    }
    for name in &names {
        if let Some((group, plural)) = counted_resource(name)
            && Evaluator::of(group, plural).is_some()
        {
            resources.insert((group.to_owned(), plural.to_owned()));
        }
    }
    resources.into_iter().collect()
}

/// `syncResourceQuota` as a pure function: the status a quota should have, its hard limits
/// from its spec and its usage (`CalculateUsage`) from `objects`, which gives the namespace's
/// objects of a (group, plural) from [`tracked_resources`] (`None`: they could not be listed;
/// the quota keeps what it had observed of them). `None` when the status is already that.
pub fn calculate_status<'a>(
    quota: &Value,
    objects: impl Fn(&str, &str) -> Option<&'a [Value]>,
    now: i64,
) -> Option<Value> {
    let hard = resource_list(&quota["spec"]["hard"]);
    let old_hard = quota["status"].get("hard").filter(|h| h.is_object());
    let old_used = quota["status"].get("used").filter(|u| u.is_object());
    let dirty = old_hard.is_none()
        || old_used.is_none()
        || !equals(&hard, &resource_list(old_hard.unwrap_or(&Value::Null)));
    let previous = resource_list(old_used.unwrap_or(&Value::Null));
    let mut used = previous.clone();
    let requirements = scope_requirements(quota);
    for (group, plural) in tracked_resources(&hard) {
        let Some(evaluator) = Evaluator::of(&group, &plural) else { continue };
        let names = evaluator.matching_resources(hard.keys().map(String::as_str));
        let Some(items) = objects(&group, &plural) else { continue };
        let mut sum: ResourceList = names.iter().map(|n| (n.clone(), zero())).collect();
        for item in items {
            if requirements.iter().all(|r| matches_scope(&evaluator, r, item)) {
                add_into(&mut sum, &usage(&evaluator, item, now));
            }
        }
        used.extend(mask(&sum, &names));
    }
    let used = mask(&used, hard.keys());
    if !dirty && equals(&used, &previous) {
        return None;
    }
    Some(json!({"hard": to_json(&hard), "used": to_json(&used)}))
}

/// The `status.hard` and `status.used` of a quota as resource lists (for printing and
/// describing).
pub fn status_lists(quota: &Value) -> (ResourceList, ResourceList) {
    (resource_list(&quota["status"]["hard"]), resource_list(&quota["status"]["used"]))
}

/// A map of quantities, for callers that hold JSON.
pub fn list_of(value: &Value) -> ResourceList {
    resource_list(value)
}

#[cfg(test)]
mod tests;
