//! Rules of the smaller groups: storage.k8s.io StorageClass (`pkg/apis/storage/validation`),
//! coordination.k8s.io Lease, discovery.k8s.io EndpointSlice, events.k8s.io Event, policy
//! PodDisruptionBudget (`pkg/apis/policy/validation`) and scheduling.k8s.io PriorityClass
//! (`pkg/apis/scheduling/validation`).

use std::collections::HashSet;

use serde_json::Value;

use super::meta::{self, NameRule};
use super::{Errors, Shown, child, get, index, list, map_of, str_of, str_or_empty};

/// `maxProvisionerParameterSize`, `maxProvisionerParameterLen`.
const MAX_PARAMETERS_SIZE: usize = 256 * 1024;
const MAX_PARAMETERS: usize = 512;

pub(crate) fn validate(errs: &mut Errors, group: &str, kind: &str, object: &Value) {
    match (group, kind) {
        ("storage.k8s.io", "StorageClass") => {
            meta::object_meta(errs, object, false, NameRule::Subdomain);
            storage_class(errs, object);
        }
        ("coordination.k8s.io", "Lease") => {
            meta::object_meta(errs, object, true, NameRule::Subdomain);
            lease(errs, object);
        }
        ("discovery.k8s.io", "EndpointSlice") => {
            meta::object_meta(errs, object, true, NameRule::Subdomain);
            endpoint_slice(errs, object);
        }
        ("events.k8s.io", "Event") => {
            meta::object_meta(errs, object, true, NameRule::Subdomain);
            event(errs, object);
        }
        ("policy", "PodDisruptionBudget") => {
            meta::object_meta(errs, object, true, NameRule::Subdomain);
            pod_disruption_budget_spec(errs, get(object, "spec").unwrap_or(&Value::Null));
        }
        ("scheduling.k8s.io", "PriorityClass") => {
            meta::object_meta(errs, object, false, NameRule::Subdomain);
            priority_class(errs, object);
        }
        (_, kind) => meta::object_meta(errs, object, true, meta::name_rule(kind)),
    }
}

/// The PriorityClasses every cluster has (`pkg/apis/scheduling/v1/helpers.go`): name, value.
pub const SYSTEM_PRIORITY_CLASSES: [(&str, i64, &str); 2] = [
    (
        "system-node-critical",
        SYSTEM_CRITICAL_PRIORITY + 1000,
        "Used for system critical pods that must not be moved from their current node.",
    ),
    (
        "system-cluster-critical",
        SYSTEM_CRITICAL_PRIORITY,
        "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary.",
    ),
];
/// `scheduling.SystemCriticalPriority`.
const SYSTEM_CRITICAL_PRIORITY: i64 = 2 * HIGHEST_USER_DEFINABLE_PRIORITY;
/// `scheduling.HighestUserDefinablePriority`.
const HIGHEST_USER_DEFINABLE_PRIORITY: i64 = 1_000_000_000;

/// `ValidatePriorityClass`: names with the `system-` prefix are the system classes' alone (with
/// their values, not the default), other values at most 1,000,000,000.
fn priority_class(errs: &mut Errors, class: &Value) {
    let name = str_or_empty(get(class, "metadata").unwrap_or(&Value::Null), "name");
    let value = get(class, "value").and_then(Value::as_i64).unwrap_or(0);
    let global_default = get(class, "globalDefault").and_then(Value::as_bool).unwrap_or(false);
    if name.starts_with("system-") {
        let known = SYSTEM_PRIORITY_CLASSES.iter().find(|(known, ..)| *known == name);
        let error = match known {
            None => Some(format!("{name} is not a known system priority class")),
            Some((_, known, _)) if *known != value => {
                Some(format!("value of {name} PriorityClass must be {known}"))
            }
            Some(_) if global_default => {
                Some(format!("globalDefault of {name} PriorityClass must be false"))
            }
            Some(_) => None,
        };
        if let Some(error) = error {
            errs.forbidden(
                "metadata.name",
                &format!(
                    "priority class names with 'system-' prefix are reserved for system use only. error: {error}"
                ),
            );
        }
    } else if value > HIGHEST_USER_DEFINABLE_PRIORITY {
        errs.forbidden(
            "value",
            &format!(
                "maximum allowed value of a user defined priority is {HIGHEST_USER_DEFINABLE_PRIORITY}"
            ),
        );
    }
    if let Some(policy) = get(class, "preemptionPolicy") {
        super::core::preemption_policy(errs, policy, "preemptionPolicy");
    }
}

pub(crate) fn validate_update(
    errs: &mut Errors,
    group: &str,
    kind: &str,
    object: &Value,
    old: &Value,
) {
    match (group, kind) {
        ("storage.k8s.io", "StorageClass") => {
            storage_class(errs, object);
            if !super::same(object.get("parameters"), old.get("parameters")) {
                errs.forbidden("parameters", "updates to parameters are forbidden.");
            }
            if str_of(object, "provisioner") != str_of(old, "provisioner") {
                errs.forbidden("provisioner", "updates to provisioner are forbidden.");
            }
            if str_of(object, "reclaimPolicy") != str_of(old, "reclaimPolicy") {
                errs.forbidden("reclaimPolicy", "updates to reclaimPolicy are forbidden.");
            }
            errs.immutable(
                "volumeBindingMode",
                object.get("volumeBindingMode"),
                old.get("volumeBindingMode"),
            );
        }
        ("coordination.k8s.io", "Lease") => lease(errs, object),
        ("discovery.k8s.io", "EndpointSlice") => {
            endpoint_slice(errs, object);
            errs.immutable("addressType", object.get("addressType"), old.get("addressType"));
        }
        // The spec is mutable since v1.15.
        ("policy", "PodDisruptionBudget") => {
            pod_disruption_budget_spec(errs, get(object, "spec").unwrap_or(&Value::Null));
        }
        // `ValidatePriorityClassUpdate`: value and preemptionPolicy are immutable.
        ("scheduling.k8s.io", "PriorityClass") => {
            if object.get("value") != old.get("value") {
                errs.forbidden("value", "may not be changed in an update.");
            }
            errs.immutable(
                "preemptionPolicy",
                object.get("preemptionPolicy"),
                old.get("preemptionPolicy"),
            );
        }
        _ => {}
    }
}

/// `ValidatePodDisruptionBudgetSpec`.
fn pod_disruption_budget_spec(errs: &mut Errors, spec: &Value) {
    let min_available = get(spec, "minAvailable").filter(|v| !v.is_null());
    let max_unavailable = get(spec, "maxUnavailable").filter(|v| !v.is_null());
    if min_available.is_some() && max_unavailable.is_some() {
        // Go prints the spec struct with `%#v`: its pointers are addresses.
        errs.invalid(
            "spec",
            Shown::Raw("policy.PodDisruptionBudgetSpec{MinAvailable:(*intstr.IntOrString)(…), MaxUnavailable:(*intstr.IntOrString)(…), …}".to_owned()),
            "minAvailable and maxUnavailable cannot be both set",
        );
    }
    for (field, value) in
        [("spec.minAvailable", min_available), ("spec.maxUnavailable", max_unavailable)]
    {
        super::apps::positive_int_or_percent(errs, field, value);
        super::apps::not_more_than_100_percent(errs, field, value);
    }
    if let Some(selector) = get(spec, "selector").filter(|v| !v.is_null()) {
        meta::label_selector(errs, selector, "spec.selector");
    }
    if let Some(policy) = get(spec, "unhealthyPodEvictionPolicy").filter(|v| !v.is_null()) {
        let policy = policy.as_str().unwrap_or_default();
        if !UNHEALTHY_POD_EVICTION_POLICIES.contains(&policy) {
            errs.not_supported(
                "spec.unhealthyPodEvictionPolicy",
                policy,
                UNHEALTHY_POD_EVICTION_POLICIES,
            );
        }
    }
}

/// `supportedUnhealthyPodEvictionPolicies`, sorted.
const UNHEALTHY_POD_EVICTION_POLICIES: &[&str] = &["AlwaysAllow", "IfHealthyBudget"];

fn storage_class(errs: &mut Errors, object: &Value) {
    let provisioner = str_or_empty(object, "provisioner");
    if provisioner.is_empty() {
        errs.required("provisioner", "");
    } else {
        for msg in meta::qualified_name(&provisioner.to_lowercase()) {
            errs.invalid("provisioner", provisioner.to_lowercase().as_str(), &msg);
        }
    }
    if let Some(parameters) = map_of(object, "parameters") {
        if parameters.len() > MAX_PARAMETERS {
            errs.too_long("parameters", MAX_PARAMETERS);
        } else {
            let mut total = 0;
            for (k, v) in parameters {
                if k.is_empty() {
                    errs.invalid("parameters", "", "field can not be empty.");
                }
                total += k.len() + v.as_str().map_or(0, str::len);
            }
            if total > MAX_PARAMETERS_SIZE {
                errs.too_long("parameters", MAX_PARAMETERS_SIZE);
            }
        }
    }
    if let Some(policy) = str_of(object, "reclaimPolicy").filter(|p| !p.is_empty())
        && !["Delete", "Retain"].contains(&policy)
    {
        errs.not_supported("reclaimPolicy", policy, &["Delete", "Retain"]);
    }
    match str_of(object, "volumeBindingMode") {
        None => errs.required("volumeBindingMode", ""),
        Some("Immediate" | "WaitForFirstConsumer") => {}
        Some(other) => {
            errs.not_supported("volumeBindingMode", other, &["Immediate", "WaitForFirstConsumer"])
        }
    }
}

/// `ValidateLeaseSpec`.
fn lease(errs: &mut Errors, object: &Value) {
    let spec = get(object, "spec").unwrap_or(&Value::Null);
    if let Some(n) = spec.get("leaseDurationSeconds").and_then(Value::as_i64)
        && n <= 0
    {
        errs.invalid("spec.leaseDurationSeconds", n, "must be greater than 0");
    }
    if let Some(n) = spec.get("leaseTransitions").and_then(Value::as_i64)
        && n < 0
    {
        errs.invalid("spec.leaseTransitions", n, "must be greater than or equal to 0");
    }
    if str_of(spec, "preferredHolder").is_some_and(|h| !h.is_empty())
        && str_of(spec, "strategy").is_none_or(str::is_empty)
    {
        errs.forbidden("spec.preferredHolder", "may only be specified if `strategy` is defined");
    }
}

/// `ValidateEndpointSlice`.
fn endpoint_slice(errs: &mut Errors, object: &Value) {
    let address_type = str_or_empty(object, "addressType");
    match address_type {
        "" => errs.required("addressType", ""),
        "IPv4" | "IPv6" | "FQDN" => {}
        other => errs.not_supported("addressType", other, &["FQDN", "IPv4", "IPv6"]),
    }
    let endpoints = list(object, "endpoints");
    if endpoints.len() > 1000 {
        errs.too_many("endpoints", endpoints.len(), 1000);
    }
    for (i, endpoint) in endpoints.iter().enumerate() {
        let at = index("endpoints", i);
        let addresses = list(endpoint, "addresses");
        let address_path = child(&at, "addresses");
        if addresses.is_empty() {
            errs.required(&address_path, "must contain at least 1 address");
        } else if addresses.len() > 100 {
            errs.too_many(&address_path, addresses.len(), 100);
        }
        for (j, address) in addresses.iter().enumerate() {
            let address = address.as_str().unwrap_or("");
            let path = index(&address_path, j);
            match address_type {
                "IPv4" if address.parse::<std::net::Ipv4Addr>().is_err() => {
                    errs.invalid(&path, address, "must be a valid IPv4 address");
                }
                "IPv6" if address.parse::<std::net::Ipv6Addr>().is_err() => {
                    errs.invalid(&path, address, "must be a valid IPv6 address");
                }
                "FQDN" => {
                    for msg in meta::dns1123_subdomain(address) {
                        errs.invalid(&path, address, &msg);
                    }
                }
                _ => {}
            }
        }
        meta::check_field(errs, endpoint, "nodeName", &at, NameRule::Subdomain);
        meta::check_field(errs, endpoint, "hostname", &at, NameRule::Label);
    }
    let mut names = HashSet::new();
    for (i, port) in list(object, "ports").iter().enumerate() {
        let at = index("ports", i);
        let name = str_or_empty(port, "name");
        if !name.is_empty() {
            for msg in meta::dns1123_label(name) {
                errs.invalid(&child(&at, "name"), name, &msg);
            }
        }
        if !names.insert(name.to_owned()) {
            errs.duplicate(&child(&at, "name"), name);
        }
        match str_of(port, "protocol") {
            None => errs.required(&child(&at, "protocol"), ""),
            Some("TCP" | "UDP" | "SCTP") => {}
            Some(other) => {
                errs.not_supported(&child(&at, "protocol"), other, &["SCTP", "TCP", "UDP"])
            }
        }
        if let Some(number) = port.get("port").and_then(Value::as_i64) {
            super::core::port_number(errs, number, &child(&at, "port"));
        }
    }
}

/// `ValidateEventCreate` for events.k8s.io/v1.
fn event(errs: &mut Errors, object: &Value) {
    let namespace = object.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("");
    let regarding = object.pointer("/regarding/namespace").and_then(Value::as_str).unwrap_or("");
    if regarding.is_empty() && namespace != "default" && namespace != "kube-system" {
        errs.invalid("involvedObject.namespace", regarding, "does not match event.namespace");
    }
    let controller = str_or_empty(object, "reportingController");
    if controller.is_empty() {
        errs.required("reportingController", "");
    } else {
        for msg in meta::qualified_name(controller) {
            errs.invalid("reportingController", controller, &msg);
        }
    }
    super::core::event_strings(
        errs,
        object,
        &[("reportingInstance", 128), ("action", 128), ("reason", 128)],
    );
    if get(object, "eventTime").is_none() {
        errs.required("eventTime", "");
    }
    let event_type = str_or_empty(object, "type");
    if event_type != "Normal" && event_type != "Warning" {
        errs.invalid("type", "", &format!("has invalid value: {event_type}"));
    }
    if str_or_empty(object, "note").len() > 1024 {
        errs.invalid("note", "", "can have at most 1024 characters");
    }
    if let Some(series) = object.get("series").and_then(Value::as_object)
        && series.get("count").and_then(Value::as_i64).unwrap_or(0) < 2
    {
        errs.invalid("series.count", "", "should be at least 2");
    }
}

/// `ValidatePodDisruptionBudgetStatusUpdate` (policy/v1): the counts are not negative.
pub(crate) fn pod_disruption_budget_status(errs: &mut Errors, object: &Value) {
    let status = get(object, "status").unwrap_or(&Value::Null);
    for field in ["disruptionsAllowed", "currentHealthy", "desiredHealthy", "expectedPods"] {
        errs.nonnegative(&child("status", field), get(status, field));
    }
}
