//! Rules of networking.k8s.io: NetworkPolicy (`pkg/apis/networking/validation`).

use std::net::IpAddr;

use serde_json::Value;

use super::core::{CIDR_MESSAGE, network, parse_cidr};
use super::meta::{self, NameRule};
use super::{Errors, Shown, child, get, index, list, str_or_empty};

pub(crate) fn validate(errs: &mut Errors, kind: &str, object: &Value) {
    match kind {
        "NetworkPolicy" => {
            meta::object_meta(errs, object, true, NameRule::Subdomain);
            network_policy_spec(errs, get(object, "spec").unwrap_or(&Value::Null));
        }
        kind => meta::object_meta(errs, object, true, meta::name_rule(kind)),
    }
}

/// `ValidateNetworkPolicyUpdate`: the spec is checked as on create, and may change.
pub(crate) fn validate_update(errs: &mut Errors, kind: &str, object: &Value) {
    if kind == "NetworkPolicy" {
        network_policy_spec(errs, get(object, "spec").unwrap_or(&Value::Null));
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
