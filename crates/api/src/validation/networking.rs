//! Rules of networking.k8s.io: NetworkPolicy, Ingress, IngressClass, IPAddress and ServiceCIDR
//! (`pkg/apis/networking/validation`).

use std::net::{IpAddr, Ipv4Addr};

use serde_json::Value;

use super::core::{CIDR_MESSAGE, IP_MESSAGE, network, parse_cidr};
use super::meta::{self, NameRule};
use super::{Errors, Shown, child, get, go_quote, index, list, str_of, str_or_empty};

/// The annotation that named an Ingress's class before `spec.ingressClassName`.
const INGRESS_CLASS_ANNOTATION: &str = "kubernetes.io/ingress.class";
/// `maxLenIngressClassController`.
const MAX_CONTROLLER_LENGTH: usize = 250;
const PATH_TYPES: [&str; 3] = ["Exact", "ImplementationSpecific", "Prefix"];
const INVALID_PATH_SEQUENCES: [&str; 5] = ["//", "/./", "/../", "%2f", "%2F"];
const INVALID_PATH_SUFFIXES: [&str; 2] = ["/..", "/."];
const WILDCARD_SUBDOMAIN: &str = "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character (e.g. '*.example.com', regex used for validation is '\\*\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

pub(crate) fn validate(errs: &mut Errors, kind: &str, object: &Value) {
    let spec = get(object, "spec").unwrap_or(&Value::Null);
    match kind {
        "NetworkPolicy" => {
            meta::object_meta(errs, object, true, NameRule::Subdomain);
            network_policy_spec(errs, spec);
        }
        // `ValidateIngressCreate`.
        "Ingress" => {
            meta::object_meta(errs, object, true, NameRule::Subdomain);
            ingress_spec(errs, spec, IngressOptions::default());
            let annotation = object
                .pointer("/metadata/annotations")
                .and_then(|annotations| annotations.get(INGRESS_CLASS_ANNOTATION))
                .and_then(Value::as_str);
            if let (Some(annotation), Some(class)) = (annotation, str_of(spec, "ingressClassName"))
                && annotation != class
            {
                errs.invalid(
                    &child("annotations", INGRESS_CLASS_ANNOTATION),
                    annotation,
                    "must match `ingressClassName` when both are specified",
                );
            }
        }
        "IngressClass" => {
            meta::object_meta(errs, object, false, NameRule::Subdomain);
            ingress_class_spec(errs, spec);
        }
        // `ValidateIPAddress`.
        "IPAddress" => {
            meta::object_meta(errs, object, false, NameRule::IpAddress);
            ip_address_parent(errs, spec);
        }
        // `ValidateServiceCIDR`.
        "ServiceCIDR" => {
            meta::object_meta(errs, object, false, NameRule::Subdomain);
            service_cidr_spec(errs, spec);
        }
        kind => meta::object_meta(errs, object, true, meta::name_rule(kind)),
    }
}

/// `ValidateNetworkPolicyUpdate`, `ValidateIngressUpdate` (what the stored Ingress already
/// holds stays allowed) and `ValidateIngressClassUpdate` (the controller is immutable).
pub(crate) fn validate_update(errs: &mut Errors, kind: &str, object: &Value, old: &Value) {
    let spec = get(object, "spec").unwrap_or(&Value::Null);
    let old_spec = get(old, "spec").unwrap_or(&Value::Null);
    match kind {
        "NetworkPolicy" => network_policy_spec(errs, spec),
        "Ingress" => ingress_spec(errs, spec, IngressOptions::allowed_by(old_spec)),
        "IngressClass" => {
            errs.immutable("spec.controller", get(spec, "controller"), get(old_spec, "controller"));
            ingress_class_spec(errs, spec);
        }
        // `ValidateIPAddress` and `ValidateIPAddressUpdate`: the parent is set once.
        "IPAddress" => {
            ip_address_parent(errs, spec);
            let (parent, old_parent) = (get(spec, "parentRef"), get(old_spec, "parentRef"));
            if !super::same(parent, old_parent) {
                errs.invalid("spec.parentRef", parent_shown(parent), "field is immutable");
            }
        }
        "ServiceCIDR" => service_cidr_update(errs, spec, old_spec),
        _ => {}
    }
}

/// `ValidateIngressStatusUpdate`: the load balancer's ingress points.
pub(crate) fn ingress_status(errs: &mut Errors, object: &Value) {
    let points = object.pointer("/status/loadBalancer/ingress").and_then(Value::as_array);
    for (i, point) in points.map(Vec::as_slice).unwrap_or_default().iter().enumerate() {
        let at = index("status.loadBalancer.ingress", i);
        let ip = str_or_empty(point, "ip");
        if !ip.is_empty() && ip.parse::<IpAddr>().is_err() {
            errs.invalid(&child(&at, "ip"), ip, IP_MESSAGE);
        }
        let hostname = str_or_empty(point, "hostname");
        if !hostname.is_empty() {
            for msg in meta::dns1123_subdomain(hostname) {
                errs.invalid(&child(&at, "hostname"), hostname, &msg);
            }
            if hostname.parse::<IpAddr>().is_ok() {
                errs.invalid(
                    &child(&at, "hostname"),
                    hostname,
                    "must be a DNS name, not an IP address",
                );
            }
        }
    }
}

/// `IngressValidationOptions`: on an update, what the stored object already holds.
#[derive(Clone, Copy, Debug, Default)]
struct IngressOptions {
    invalid_secret_name: bool,
    invalid_wildcard_host_rule: bool,
}

impl IngressOptions {
    /// `allowInvalidSecretName` and `allowInvalidWildcardHostRule` of the stored spec.
    fn allowed_by(old: &Value) -> IngressOptions {
        let invalid_secret_name = list(old, "tls")
            .iter()
            .any(|tls| !secret_name(str_or_empty(tls, "secretName")).is_empty());
        let invalid_wildcard_host_rule = list(old, "rules").iter().any(|rule| {
            let mut errs = Errors::default();
            ingress_rule_value(&mut errs, rule, "");
            str_or_empty(rule, "host").contains('*') && !errs.0.is_empty()
        });
        IngressOptions { invalid_secret_name, invalid_wildcard_host_rule }
    }
}

/// `ValidateIngressSpec`.
fn ingress_spec(errs: &mut Errors, spec: &Value, options: IngressOptions) {
    let rules = list(spec, "rules");
    let default_backend = get(spec, "defaultBackend");
    if rules.is_empty() && default_backend.is_none() {
        let shown = match get(spec, "rules") {
            Some(_) => "[]networking.IngressRule{}",
            None => "[]networking.IngressRule(nil)",
        };
        errs.invalid(
            "spec",
            Shown::Raw(shown.to_owned()),
            "either `defaultBackend` or `rules` must be specified",
        );
    }
    if let Some(backend) = default_backend {
        ingress_backend(errs, backend, "spec.defaultBackend");
    }
    for (i, rule) in rules.iter().enumerate() {
        let at = index("spec.rules", i);
        let host = str_or_empty(rule, "host");
        let wildcard = host.contains('*');
        if !host.is_empty() {
            if host.parse::<IpAddr>().is_ok() {
                errs.invalid(&child(&at, "host"), host, "must be a DNS name, not an IP address");
            }
            let problems =
                if wildcard { wildcard_subdomain(host) } else { meta::dns1123_subdomain(host) };
            for msg in problems {
                errs.invalid(&child(&at, "host"), host, &msg);
            }
        }
        if !wildcard || !options.invalid_wildcard_host_rule {
            ingress_rule_value(errs, rule, &at);
        }
    }
    for (i, tls) in list(spec, "tls").iter().enumerate() {
        let at = index("spec.tls", i);
        for (j, host) in list(tls, "hosts").iter().enumerate() {
            let host = host.as_str().unwrap_or("");
            let problems = if host.contains('*') {
                wildcard_subdomain(host)
            } else {
                meta::dns1123_subdomain(host)
            };
            for msg in problems {
                errs.invalid(&index(&child(&at, "hosts"), j), host, &msg);
            }
        }
        if !options.invalid_secret_name {
            let name = str_or_empty(tls, "secretName");
            for msg in secret_name(name) {
                errs.invalid(&child(&at, "secretName"), name, &msg);
            }
        }
    }
    if let Some(class) = str_of(spec, "ingressClassName") {
        for msg in meta::dns1123_subdomain(class) {
            errs.invalid("spec.ingressClassName", class, &msg);
        }
    }
}

/// `validateTLSSecretName`: empty, or a Secret's name.
fn secret_name(name: &str) -> Vec<String> {
    if name.is_empty() { Vec::new() } else { meta::dns1123_subdomain(name) }
}

/// `IsWildcardDNS1123Subdomain`: `*.` and a subdomain.
fn wildcard_subdomain(host: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if host.len() > 253 {
        problems.push(meta::max_len(253));
    }
    let rest = host.strip_prefix("*.");
    if rest.is_none_or(|rest| !meta::dns1123_subdomain(rest).is_empty()) {
        problems.push(WILDCARD_SUBDOMAIN.to_owned());
    }
    problems
}

/// `validateIngressRuleValue` and `validateHTTPIngressRuleValue`: the rule's `http` paths.
fn ingress_rule_value(errs: &mut Errors, rule: &Value, at: &str) {
    let Some(http) = get(rule, "http") else { return };
    let at = child(at, "http");
    let paths = list(http, "paths");
    if paths.is_empty() {
        errs.required(&child(&at, "paths"), "");
    }
    for (i, path) in paths.iter().enumerate() {
        http_ingress_path(errs, path, &index(&child(&at, "paths"), i));
    }
}

/// `validateHTTPIngressPath`.
fn http_ingress_path(errs: &mut Errors, path: &Value, at: &str) {
    let Some(path_type) = str_of(path, "pathType") else {
        errs.required(&child(at, "pathType"), "pathType must be specified");
        return;
    };
    let value = str_or_empty(path, "path");
    let field = child(at, "path");
    match path_type {
        "Exact" | "Prefix" => {
            if !value.starts_with('/') {
                errs.invalid(&field, value, "must be an absolute path");
            }
            for bad in INVALID_PATH_SEQUENCES.iter().filter(|bad| value.contains(*bad)) {
                errs.invalid(&field, value, &format!("must not contain '{bad}'"));
            }
            for bad in INVALID_PATH_SUFFIXES.iter().filter(|bad| value.ends_with(*bad)) {
                errs.invalid(&field, value, &format!("cannot end with '{bad}'"));
            }
        }
        "ImplementationSpecific" => {
            if !value.is_empty() && !value.starts_with('/') {
                errs.invalid(&field, value, "must be an absolute path");
            }
        }
        other => errs.not_supported(&child(at, "pathType"), other, &PATH_TYPES),
    }
    ingress_backend(errs, get(path, "backend").unwrap_or(&Value::Null), &child(at, "backend"));
}

/// `validateIngressBackend`: a Service (by name, and port name or number) or a resource.
fn ingress_backend(errs: &mut Errors, backend: &Value, at: &str) {
    let resource = get(backend, "resource");
    let service = get(backend, "service");
    match (resource, service) {
        (Some(_), Some(_)) => {
            errs.invalid(at, "", "cannot set both resource and service backends");
        }
        (Some(resource), None) => typed_reference(errs, resource, &child(at, "resource")),
        (None, Some(service)) => {
            let name = str_or_empty(service, "name");
            if name.is_empty() {
                errs.required(&child(at, "service.name"), "");
            } else {
                for msg in meta::dns1035_label(name) {
                    errs.invalid(&child(at, "service.name"), name, &msg);
                }
            }
            let port = get(service, "port").unwrap_or(&Value::Null);
            let port_name = str_or_empty(port, "name");
            let number = get(port, "number").and_then(Value::as_i64).unwrap_or(0);
            match (port_name.is_empty(), number == 0) {
                (false, false) => errs.invalid(at, "", "cannot set both port name & port number"),
                (false, true) => {
                    for msg in super::core::port_name(port_name) {
                        errs.invalid(&child(at, "service.port.name"), port_name, &msg);
                    }
                }
                (true, false) => {
                    super::core::port_number(errs, number, &child(at, "service.port.number"));
                }
                (true, true) => errs.required(at, "port name or number is required"),
            }
        }
        (None, None) => errs.invalid(at, "", "resource or service backend is required"),
    }
}

/// `validateIngressTypedLocalObjectReference`: a kind and a name that are path segments, and a
/// group that is a subdomain.
fn typed_reference(errs: &mut Errors, reference: &Value, at: &str) {
    if let Some(group) = str_of(reference, "apiGroup") {
        for msg in meta::dns1123_subdomain(group) {
            errs.invalid(&child(at, "apiGroup"), group, &msg);
        }
    }
    for (field, missing) in [("kind", "kind is required"), ("name", "name is required")] {
        let value = str_or_empty(reference, field);
        if value.is_empty() {
            errs.required(&child(at, field), missing);
        }
        for msg in meta::check_name(NameRule::PathSegment, value, false) {
            errs.invalid(&child(at, field), value, &msg);
        }
    }
}

/// `validateIngressClassSpec`: the controller is a domain-prefixed path; the parameters
/// reference is scoped.
fn ingress_class_spec(errs: &mut Errors, spec: &Value) {
    let controller = str_or_empty(spec, "controller");
    if controller.len() > MAX_CONTROLLER_LENGTH {
        errs.too_long("spec.controller", MAX_CONTROLLER_LENGTH);
    }
    domain_prefixed_path(errs, "spec.controller", controller);
    let Some(parameters) = get(spec, "parameters") else { return };
    let at = "spec.parameters";
    typed_reference(errs, parameters, at);
    let Some(scope) = str_of(parameters, "scope") else {
        errs.required(&child(at, "scope"), "");
        return;
    };
    let namespace = str_of(parameters, "namespace");
    match scope {
        "Namespace" => match namespace {
            None => {
                errs.required(&child(at, "namespace"), "`parameters.scope` is set to 'Namespace'")
            }
            Some(namespace) => {
                for msg in meta::dns1123_label(namespace) {
                    errs.invalid(&child(at, "namespace"), namespace, &msg);
                }
            }
        },
        "Cluster" => {
            if namespace.is_some() {
                errs.forbidden(&child(at, "namespace"), "`parameters.scope` is set to 'Cluster'");
            }
        }
        other => errs.not_supported(&child(at, "scope"), other, &["Cluster", "Namespace"]),
    }
}

/// `IsDomainPrefixedPath`: `host/path`, the host a subdomain, the path HTTP path characters.
pub(crate) fn domain_prefixed_path(errs: &mut Errors, field: &str, value: &str) {
    if value.is_empty() {
        errs.required(field, "");
        return;
    }
    let Some((host, path)) = value.split_once('/').filter(|(h, p)| !h.is_empty() && !p.is_empty())
    else {
        errs.invalid(field, value, "must be a domain-prefixed path (such as \"acme.io/foo\")");
        return;
    };
    for msg in meta::dns1123_subdomain(host) {
        errs.invalid(field, host, &msg);
    }
    let http_path = |c: char| c.is_ascii_alphanumeric() || "/-._~%!$&'()*+,;=:".contains(c);
    if !path.chars().all(http_path) {
        errs.invalid(
            field,
            path,
            "Invalid path (regex used for validation is '[A-Za-z0-9/\\-._~%!$&'()*+,;=:]+')",
        );
    }
}

/// `ValidateNetworkPolicySpec`.
fn network_policy_spec(errs: &mut Errors, spec: &Value) {
    meta::label_selector(
        errs,
        get(spec, "podSelector").unwrap_or(&Value::Null),
        "spec.podSelector",
    );
    for (direction, peers) in [("ingress", "from"), ("egress", "to")] {
        for (i, rule) in list(spec, direction).iter().enumerate() {
            let at = index(&child("spec", direction), i);
            for (j, port) in list(rule, "ports").iter().enumerate() {
                network_policy_port(errs, port, &index(&child(&at, "ports"), j));
            }
            for (j, peer) in list(rule, peers).iter().enumerate() {
                network_policy_peer(errs, peer, &index(&child(&at, peers), j));
            }
        }
    }
    let types = list(spec, "policyTypes");
    if types.len() > 2 {
        let shown: Vec<&str> = types.iter().map(|t| t.as_str().unwrap_or("")).collect();
        errs.invalid(
            "spec.policyTypes",
            Shown::Raw(format!("&[{}]", shown.join(" "))),
            "may not specify more than two policyTypes",
        );
        return;
    }
    for (i, kind) in types.iter().enumerate() {
        let kind = kind.as_str().unwrap_or("");
        if !matches!(kind, "Ingress" | "Egress") {
            errs.not_supported(&index("spec.policyTypes", i), kind, &["Ingress", "Egress"]);
        }
    }
}

/// `ValidateNetworkPolicyPort`.
fn network_policy_port(errs: &mut Errors, port: &Value, at: &str) {
    let protocol = get(port, "protocol").and_then(Value::as_str);
    if let Some(protocol) = protocol.filter(|p| !matches!(*p, "TCP" | "UDP" | "SCTP")) {
        errs.not_supported(&child(at, "protocol"), protocol, &["TCP", "UDP", "SCTP"]);
    }
    let end = get(port, "endPort").and_then(Value::as_i64);
    match get(port, "port") {
        Some(Value::Number(number)) => {
            let number = number.as_i64().unwrap_or(0);
            super::core::port_number(errs, number, &child(at, "port"));
            if let Some(end) = end {
                if end < number {
                    errs.invalid(
                        &child(at, "endPort"),
                        number,
                        "must be greater than or equal to `port`",
                    );
                }
                super::core::port_number(errs, end, &child(at, "endPort"));
            }
        }
        Some(Value::String(name)) => {
            if let Some(end) = end {
                errs.invalid(
                    &child(at, "endPort"),
                    end,
                    "may not be specified when `port` is non-numeric",
                );
            }
            for msg in super::core::port_name(name) {
                errs.invalid(&child(at, "port"), name.as_str(), &msg);
            }
        }
        _ => {
            if let Some(end) = end {
                errs.invalid(
                    &child(at, "endPort"),
                    end,
                    "may not be specified when `port` is not specified",
                );
            }
        }
    }
}

/// `ValidateNetworkPolicyPeer`: pods, namespaces or an IP block, the block alone.
fn network_policy_peer(errs: &mut Errors, peer: &Value, at: &str) {
    let mut peers = 0;
    for selector in ["podSelector", "namespaceSelector"] {
        if let Some(selector_value) = get(peer, selector) {
            peers += 1;
            meta::label_selector(errs, selector_value, &child(at, selector));
        }
    }
    let block = get(peer, "ipBlock");
    if let Some(block) = block {
        peers += 1;
        ip_block(errs, block, &child(at, "ipBlock"));
    }
    if peers == 0 {
        errs.required(at, "must specify a peer");
    } else if peers > 1 && block.is_some() {
        errs.forbidden(at, "may not specify both ipBlock and another peer");
    }
}

/// `ValidateIPBlock`: a CIDR, and exceptions strictly inside it.
fn ip_block(errs: &mut Errors, block: &Value, at: &str) {
    let cidr = str_or_empty(block, "cidr");
    if cidr.is_empty() {
        errs.required(&child(at, "cidr"), "");
        return;
    }
    let Some(network) = parse_cidr(cidr) else {
        errs.invalid(&child(at, "cidr"), cidr, CIDR_MESSAGE);
        return;
    };
    for (i, except) in list(block, "except").iter().enumerate() {
        let except = except.as_str().unwrap_or("");
        let path = index(&child(at, "except"), i);
        let Some(inner) = parse_cidr(except) else {
            errs.invalid(&path, except, CIDR_MESSAGE);
            continue;
        };
        if !contains(network, inner.0) || network.1 >= inner.1 {
            errs.invalid(&path, except, "must be a strict subset of `cidr`");
        }
    }
}

fn contains((net, bits): (IpAddr, u8), ip: IpAddr) -> bool {
    net.is_ipv4() == ip.is_ipv4() && network(ip, bits) == net
}

// === IPAddress and ServiceCIDR ===

/// `validation.IsValidIP`: an IP address, strictly parsed, in canonical form (the
/// `ValidateIPAddressName` rule, so the name is the one spelling of its address).
pub(crate) fn ip_problems(value: &str) -> Vec<String> {
    let ip = match value.parse::<IpAddr>() {
        Ok(ip) => ip,
        // `netutils.ParseIPSloppy` takes what `netip.ParseAddr` does not only for leading 0s.
        Err(_) if sloppy_ipv4(value).is_some() => return vec!["must not have leading 0s".into()],
        Err(_) => return vec![IP_MESSAGE.into()],
    };
    if let IpAddr::V6(v6) = ip
        && v6.to_ipv4_mapped().is_some()
    {
        return vec!["must not be an IPv4-mapped IPv6 address".into()];
    }
    let canonical = ip.to_string();
    if canonical != value {
        return vec![format!("must be in canonical form ({})", go_quote(&canonical))];
    }
    Vec::new()
}

/// `validation.IsValidCIDR`: a subnet, strictly parsed, in canonical form.
pub(crate) fn cidr_problems(value: &str) -> Vec<String> {
    let Some((ip_text, bits_text)) = value.split_once('/') else {
        return vec![CIDR_MESSAGE.into()];
    };
    let sloppy_bits = !bits_text.is_empty()
        && bits_text.len() <= 3
        && bits_text.bytes().all(|b| b.is_ascii_digit());
    let strict = ip_text.parse::<IpAddr>().ok();
    let ip = strict.or_else(|| sloppy_ipv4(ip_text).map(IpAddr::V4));
    let width = if ip.is_some_and(|ip| ip.is_ipv4()) { 32 } else { 128 };
    let bits = bits_text.parse::<u8>().ok().filter(|bits| sloppy_bits && *bits <= width);
    let (Some(ip), Some(bits)) = (ip, bits) else {
        return vec![CIDR_MESSAGE.into()];
    };
    if strict.is_none() || (bits_text.len() > 1 && bits_text.starts_with('0')) {
        return vec!["must not have leading 0s in IP or prefix length".into()];
    }
    if let IpAddr::V6(v6) = ip
        && v6.to_ipv4_mapped().is_some()
    {
        return vec!["must not have an IPv4-mapped IPv6 address".into()];
    }
    let network = network(ip, bits);
    if network != ip {
        return vec!["must not have bits set beyond the prefix length".into()];
    }
    let canonical = format!("{network}/{bits}");
    if canonical != value {
        return vec![format!("must be in canonical form ({})", go_quote(&canonical))];
    }
    Vec::new()
}

/// An IPv4 address as Go's `ParseIPSloppy` reads one: decimal octets, leading 0s allowed.
fn sloppy_ipv4(value: &str) -> Option<Ipv4Addr> {
    let octets: Vec<u8> = value
        .split('.')
        .map(|octet| {
            let digits = !octet.is_empty() && octet.bytes().all(|b| b.is_ascii_digit());
            digits.then(|| octet.parse::<u8>().ok()).flatten()
        })
        .collect::<Option<_>>()?;
    let octets: [u8; 4] = octets.try_into().ok()?;
    Some(Ipv4Addr::from(octets))
}

/// `validateIPAddressParentReference`.
fn ip_address_parent(errs: &mut Errors, spec: &Value) {
    let Some(parent) = get(spec, "parentRef").filter(|p| p.is_object()) else {
        errs.required("spec.parentRef", "");
        return;
    };
    let at = "spec.parentRef";
    // The core group of Services is "", so a group cannot be required.
    let group = str_or_empty(parent, "group");
    if !group.is_empty() {
        for problem in meta::dns1123_subdomain(group) {
            errs.invalid(&child(at, "group"), group, &problem);
        }
    }
    for (field, required) in [("resource", true), ("name", true), ("namespace", false)] {
        let value = str_or_empty(parent, field);
        if value.is_empty() {
            if required {
                errs.required(&child(at, field), "");
            }
            continue;
        }
        for problem in meta::path_segment(value) {
            errs.invalid(&child(at, field), value, &problem);
        }
    }
}

/// A `*networking.ParentReference` as `field.Invalid` shows it (`%#v` of the struct).
fn parent_shown(parent: Option<&Value>) -> Shown {
    let Some(parent) = parent.filter(|p| p.is_object()) else {
        return Shown::Null;
    };
    let field = |name: &str| go_quote(str_or_empty(parent, name));
    Shown::Raw(format!(
        "networking.ParentReference{{Group:{}, Resource:{}, Namespace:{}, Name:{}}}",
        field("group"),
        field("resource"),
        field("namespace"),
        field("name")
    ))
}

/// `[]string{"a", "b"}`, as `%#v` shows a string slice.
fn strings_shown(values: &[Value]) -> String {
    if values.is_empty() {
        return "[]string(nil)".to_owned();
    }
    let quoted: Vec<String> = values.iter().map(|v| go_quote(v.as_str().unwrap_or(""))).collect();
    format!("[]string{{{}}}", quoted.join(", "))
}

/// `validateServiceCIDRSpec`: one or two CIDRs, of different families.
fn service_cidr_spec(errs: &mut Errors, spec: &Value) {
    const AT: &str = "spec.cidrs";
    let cidrs = list(spec, "cidrs");
    if cidrs.is_empty() {
        errs.required(AT, "at least one CIDR required");
        return;
    }
    if cidrs.len() > 2 {
        let shown = format!("networking.ServiceCIDRSpec{{CIDRs:{}}}", strings_shown(cidrs));
        errs.invalid(AT, Shown::Raw(shown), "may only hold up to 2 values");
        return;
    }
    for (i, cidr) in cidrs.iter().enumerate() {
        let text = cidr.as_str().unwrap_or("");
        for problem in cidr_problems(text) {
            errs.invalid(&index(AT, i), text, &problem);
        }
    }
    // `netutils.IPFamilyOfCIDRString`, of sloppily parsed values.
    let family = |cidr: &Value| {
        let ip = cidr.as_str().and_then(|c| c.split_once('/')).map(|(ip, _)| ip)?;
        ip.parse::<IpAddr>().ok().or_else(|| sloppy_ipv4(ip).map(IpAddr::V4)).map(|ip| match ip {
            IpAddr::V6(v6) if v6.to_ipv4_mapped().is_none() => 6,
            _ => 4,
        })
    };
    if cidrs.len() == 2 && family(&cidrs[0]).is_some() && family(&cidrs[0]) == family(&cidrs[1]) {
        errs.invalid(
            AT,
            Shown::Raw(strings_shown(cidrs)),
            "may specify no more than one IP for each IP family, i.e 192.168.0.0/24 and 2001:db8::/64",
        );
    }
}

/// `ValidateServiceCIDRUpdate`: the CIDRs are immutable, but a single-stack ServiceCIDR may
/// gain a second family's CIDR.
fn service_cidr_update(errs: &mut Errors, spec: &Value, old_spec: &Value) {
    let (cidrs, old) = (list(spec, "cidrs"), list(old_spec, "cidrs"));
    let text = |v: &Value| v.as_str().unwrap_or("").to_owned();
    if cidrs.len() == old.len() {
        for (i, (new, old)) in cidrs.iter().zip(old).enumerate() {
            if new != old {
                errs.invalid(&index("spec.cidrs", i), text(new), "field is immutable");
            }
        }
    } else if old.len() == 1 && cidrs.len() == 2 {
        if cidrs[0] != old[0] {
            errs.invalid("spec.cidrs[0]", text(&cidrs[0]), "field is immutable");
        }
        service_cidr_spec(errs, spec);
    } else {
        // A JSON `[]` decodes to an empty slice, an absent field to a nil one.
        let shown = match get(spec, "cidrs") {
            Some(Value::Array(_)) if cidrs.is_empty() => "[]string{}".to_owned(),
            _ => strings_shown(cidrs),
        };
        errs.invalid("spec.cidrs", Shown::Raw(shown), "field is immutable");
    }
}
