//! Service cluster IPs and node ports, allocated atomically through the store, and the
//! `default/kubernetes` Service with its Endpoints and EndpointSlice.
//!
//! Each allocated IP or port is a key of its own, created only if absent
//! (`/registry/berth.dev/serviceips/<ip>`, `/registry/berth.dev/servicenodeports/<port>`, the
//! value the owning Service's uid), so concurrent creates can never share one, and a restart
//! keeps every reservation. Dynamic allocation starts at a random offset in the upper band of
//! the range and leaves the lower band to requested values, as kube-apiserver's allocators do
//! (`pkg/registry/core/service/ipallocator`, `portallocator`).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::str::FromStr;

use axum::http::StatusCode;
use berth_api::kinds::{self, ResourceType};
use berth_api::net::Ipv4Cidr;
use berth_store::{RangeRequest, Store};
use bytes::Bytes;
use rand::Rng;
use serde_json::{Value, json};

use crate::resources::{decode, key};
use crate::status::{Cause, Status};

const IP_KEYS: &str = "/registry/berth.dev/serviceips/";
const PORT_KEYS: &str = "/registry/berth.dev/servicenodeports/";
/// `--service-node-port-range` default.
const NODE_PORT_FIRST: u32 = 30000;
const NODE_PORT_LAST: u32 = 32767;
/// Random probes before falling back to a scan of what is allocated.
const RANDOM_PROBES: usize = 16;

/// The IPv4 range Service cluster IPs come from (`--service-cluster-ip-range`): a CIDR of
/// prefix 12 to 30.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServiceCidr(Ipv4Cidr);

/// A `--service-cluster-ip-range` value that is not a usable IPv4 CIDR.
#[derive(Debug, thiserror::Error)]
#[error("invalid service CIDR {value:?}: {why}")]
pub struct InvalidCidr {
    value: String,
    why: String,
}

impl ServiceCidr {
    /// kube-apiserver's default, 10.96.0.0/12.
    pub const DEFAULT: ServiceCidr = ServiceCidr(Ipv4Cidr::new(Ipv4Addr::new(10, 96, 0, 0), 12));

    fn size(self) -> u64 {
        self.0.size()
    }

    /// The address at `offset` from the network address (`offset` < [`Self::size`]).
    fn at(self, offset: u64) -> Ipv4Addr {
        self.0.address(offset).unwrap_or(Ipv4Addr::UNSPECIFIED)
    }

    /// The offset of `ip`, if the range holds it as an allocatable address (not the network
    /// or broadcast address).
    fn offset(self, ip: Ipv4Addr) -> Option<u64> {
        self.0.index_of(ip).filter(|offset| (1..self.size() - 1).contains(offset))
    }

    /// The first allocatable address, the `kubernetes` Service's.
    pub fn first(self) -> Ipv4Addr {
        self.at(1)
    }
}

impl FromStr for ServiceCidr {
    type Err = InvalidCidr;

    fn from_str(value: &str) -> Result<ServiceCidr, InvalidCidr> {
        let invalid = |why: String| InvalidCidr { value: value.to_owned(), why };
        let cidr = Ipv4Cidr::parse(value).map_err(|e| invalid(e.reason))?;
        if !(12..=30).contains(&cidr.prefix()) {
            return Err(invalid("the prefix length must be between 12 and 30".into()));
        }
        Ok(ServiceCidr(cidr))
    }
}

impl fmt::Display for ServiceCidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// What one request reserved, to give back if the request fails.
#[derive(Debug, Default)]
pub(crate) struct Reserved {
    keys: Vec<String>,
}

impl Reserved {
    /// Gives every reservation back (the write they were for did not happen).
    pub(crate) async fn release(self, store: &dyn Store) {
        for key in self.keys {
            if let Err(error) = store.delete(&key, None).await
                && !matches!(error, berth_store::Error::NotFound { .. })
            {
                tracing::warn!(%error, key, "releasing an allocation failed");
            }
        }
    }
}

fn is_service(resource: &ResourceType) -> bool {
    resource.group.is_empty() && resource.kind == "Service"
}

/// Whether creating an object of `resource` allocates anything (Services do).
pub(crate) fn allocates(resource: &ResourceType) -> bool {
    is_service(resource)
}

fn service_type(service: &Value) -> &str {
    service.pointer("/spec/type").and_then(Value::as_str).unwrap_or("ClusterIP")
}

fn needs_node_ports(service: &Value) -> bool {
    matches!(service_type(service), "NodePort" | "LoadBalancer")
}

/// The cluster IP a Service asks for, if any (`spec.clusterIP`, else `spec.clusterIPs[0]`).
fn requested_ip(service: &Value) -> Option<String> {
    let ip = service.pointer("/spec/clusterIP").and_then(Value::as_str).filter(|ip| !ip.is_empty());
    let ips =
        service.pointer("/spec/clusterIPs/0").and_then(Value::as_str).filter(|ip| !ip.is_empty());
    ip.or(ips).map(str::to_owned)
}

/// Allocates the cluster IP and node ports a Service needs, filling them in. On update
/// (`current` is the stored Service) a body without `clusterIP` or `nodePort` keeps the current
/// ones, and a type change allocates what it newly needs. On an error nothing stays reserved.
pub(crate) async fn reserve_for(
    store: &dyn Store,
    cidr: ServiceCidr,
    resource: &ResourceType,
    current: Option<&Value>,
    service: &mut Value,
    dry_run: bool,
) -> Result<Reserved, Status> {
    let mut reserved = Reserved::default();
    if !is_service(resource) || service.get("spec").is_none_or(|s| !s.is_object()) {
        return Ok(reserved);
    }
    match allocate(store, cidr, resource, current, service, dry_run, &mut reserved).await {
        Ok(()) => Ok(reserved),
        Err(status) => {
            reserved.release(store).await;
            Err(status)
        }
    }
}

async fn allocate(
    store: &dyn Store,
    cidr: ServiceCidr,
    resource: &ResourceType,
    current: Option<&Value>,
    service: &mut Value,
    dry_run: bool,
    reserved: &mut Reserved,
) -> Result<(), Status> {
    let name =
        service.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().to_owned();
    let owner =
        service.pointer("/metadata/uid").and_then(Value::as_str).unwrap_or_default().to_owned();
    let external = service_type(service) == "ExternalName";
    let current_ip = current.and_then(requested_ip);
    if !external {
        match (requested_ip(service), current_ip) {
            (None, Some(ip)) => set_ip(service, &ip),
            (Some(ip), Some(old)) if ip == old => set_ip(service, &ip),
            (Some(ip), Some(old)) if old != "None" => {
                return Err(Status::invalid(
                    resource,
                    &name,
                    vec![Cause {
                        reason: "FieldValueInvalid",
                        message: format!(
                            "Invalid value: []string{{{ip:?}}}: may not change once set"
                        ),
                        field: "spec.clusterIPs[0]".into(),
                    }],
                ));
            }
            (Some(ip), _) if ip == "None" => {}
            (Some(ip), _) => {
                let invalid = |why: String| {
                    Status::invalid(
                        resource,
                        &name,
                        vec![Cause {
                            reason: "FieldValueInvalid",
                            message: format!(
                                "Invalid value: []string{{{ip:?}}}: failed to allocate IP {ip}: {why}"
                            ),
                            field: "spec.clusterIPs".into(),
                        }],
                    )
                };
                let parsed: Ipv4Addr =
                    ip.parse().map_err(|_| invalid("not a valid IPv4 address".into()))?;
                if cidr.offset(parsed).is_none() {
                    return Err(invalid(format!(
                        "the provided IP ({ip}) is not in the valid range. The range of valid IPs is {cidr}"
                    )));
                }
                if !dry_run {
                    let key = format!("{IP_KEYS}{parsed}");
                    if !reserve(store, &key, &owner).await? {
                        return Err(invalid("provided IP is already allocated".into()));
                    }
                    reserved.keys.push(key);
                }
                set_ip(service, &ip);
            }
            (None, None) => {
                let ip = allocate_ip(store, cidr, &owner, dry_run, reserved).await?;
                set_ip(service, &ip.to_string());
            }
        }
    }
    if !needs_node_ports(service) {
        // A type change away from NodePort/LoadBalancer gives the node ports up, and the
        // fields only external Services have (`dropTypeDependentFields`).
        if let Some(current) = current.filter(|c| needs_node_ports(c)) {
            if let Some(Value::Array(ports)) = service.pointer_mut("/spec/ports") {
                for port in ports.iter_mut().filter_map(Value::as_object_mut) {
                    port.remove("nodePort");
                }
            }
            for field in ["externalTrafficPolicy", "healthCheckNodePort"] {
                let unchanged = service["spec"].get(field) == current["spec"].get(field);
                if unchanged && let Some(spec) = service["spec"].as_object_mut() {
                    spec.remove(field);
                }
            }
        }
        return Ok(());
    }
    let old_ports: Vec<(i64, String, i64)> = current
        .filter(|c| needs_node_ports(c))
        .and_then(|c| c.pointer("/spec/ports").and_then(Value::as_array))
        .map(|ports| {
            ports
                .iter()
                .filter_map(|p| {
                    let node_port = p.get("nodePort").and_then(Value::as_i64)?;
                    Some((port_number(p), protocol(p), node_port))
                })
                .collect()
        })
        .unwrap_or_default();
    let count = service.pointer("/spec/ports").and_then(Value::as_array).map_or(0, Vec::len);
    for index in 0..count {
        let port = &service["spec"]["ports"][index];
        let requested = port.get("nodePort").and_then(Value::as_i64).filter(|p| *p != 0);
        let (number, proto) = (port_number(port), protocol(port));
        let kept = old_ports.iter().find(|(n, p, _)| *n == number && *p == proto).map(|o| o.2);
        let node_port = match (requested, kept) {
            (None, Some(kept)) => kept,
            (Some(requested), _) if old_ports.iter().any(|o| o.2 == requested) => requested,
            (Some(requested), _) => {
                let invalid = |why: String| {
                    Status::invalid(
                        resource,
                        &name,
                        vec![Cause {
                            reason: "FieldValueInvalid",
                            message: format!("Invalid value: {requested}: {why}"),
                            field: format!("spec.ports[{index}].nodePort"),
                        }],
                    )
                };
                let in_range = u32::try_from(requested)
                    .is_ok_and(|p| (NODE_PORT_FIRST..=NODE_PORT_LAST).contains(&p));
                if !in_range {
                    return Err(invalid(format!(
                        "provided port is not in the valid range. The range of valid ports is {NODE_PORT_FIRST}-{NODE_PORT_LAST}"
                    )));
                }
                if !dry_run {
                    let key = format!("{PORT_KEYS}{requested}");
                    if !reserve(store, &key, &owner).await? {
                        return Err(invalid("provided port is already allocated".into()));
                    }
                    reserved.keys.push(key);
                }
                requested
            }
            (None, None) => i64::from(allocate_port(store, &owner, dry_run, reserved).await?),
        };
        service["spec"]["ports"][index]["nodePort"] = json!(node_port);
    }
    Ok(())
}

fn port_number(port: &Value) -> i64 {
    port.get("port").and_then(Value::as_i64).unwrap_or_default()
}

fn protocol(port: &Value) -> String {
    port.get("protocol").and_then(Value::as_str).unwrap_or("TCP").to_owned()
}

fn set_ip(service: &mut Value, ip: &str) {
    service["spec"]["clusterIP"] = json!(ip);
    service["spec"]["clusterIPs"] = json!([ip]);
}

/// Creates `key` if absent; whether it was free.
async fn reserve(store: &dyn Store, key: &str, owner: &str) -> Result<bool, Status> {
    match store.create(key, Bytes::from(owner.to_owned())).await {
        Ok(_) => Ok(true),
        Err(berth_store::Error::AlreadyExists { .. }) => Ok(false),
        Err(error) => {
            tracing::error!(%error, key, "reserving an allocation failed");
            Err(Status::internal())
        }
    }
}

/// The band dynamic allocation prefers: `[min(max(16, size/div), cap), size)`.
fn upper_band_start(size: u64, divisor: u64, cap: u64) -> u64 {
    (size / divisor).clamp(16, cap)
}

async fn allocate_ip(
    store: &dyn Store,
    cidr: ServiceCidr,
    owner: &str,
    dry_run: bool,
    reserved: &mut Reserved,
) -> Result<Ipv4Addr, Status> {
    let size = cidr.size();
    let usable_last = size - 2; // offsets 1..=size-2
    let band = upper_band_start(size, 16, 256).min(usable_last);
    let offset =
        pick(store, IP_KEYS, band, usable_last, 1, dry_run, owner, |o| cidr.at(o).to_string())
            .await?;
    let ip = cidr.at(offset);
    if !dry_run {
        reserved.keys.push(format!("{IP_KEYS}{ip}"));
    }
    Ok(ip)
}

async fn allocate_port(
    store: &dyn Store,
    owner: &str,
    dry_run: bool,
    reserved: &mut Reserved,
) -> Result<u32, Status> {
    let size = u64::from(NODE_PORT_LAST - NODE_PORT_FIRST + 1);
    let band = upper_band_start(size, 32, 128);
    let offset = pick(store, PORT_KEYS, band, size - 1, 0, dry_run, owner, |o| {
        (u64::from(NODE_PORT_FIRST) + o).to_string()
    })
    .await?;
    let port = NODE_PORT_FIRST + offset as u32;
    if !dry_run {
        reserved.keys.push(format!("{PORT_KEYS}{port}"));
    }
    Ok(port)
}

/// Reserves a free offset: random probes in `[band, last]`, then a scan of every offset in
/// `[first, last]` against what is allocated. Returns the offset (reserved unless `dry_run`).
#[allow(clippy::too_many_arguments, reason = "one private helper for both allocators")]
async fn pick(
    store: &dyn Store,
    prefix: &str,
    band: u64,
    last: u64,
    first: u64,
    dry_run: bool,
    owner: &str,
    name: impl Fn(u64) -> String,
) -> Result<u64, Status> {
    let try_one = |offset: u64| {
        let key = format!("{prefix}{}", name(offset));
        async move {
            if dry_run {
                return match store.get(&key).await {
                    Ok(found) => Ok(found.is_none()),
                    Err(_) => Err(Status::internal()),
                };
            }
            reserve(store, &key, owner).await
        }
    };
    if band <= last {
        for _ in 0..RANDOM_PROBES {
            let offset = rand::rng().random_range(band..=last);
            if try_one(offset).await? {
                return Ok(offset);
            }
        }
    }
    let page = store.range(&RangeRequest::prefix(prefix)).await.map_err(|error| {
        tracing::error!(%error, "reading allocations failed");
        Status::internal()
    })?;
    let taken: std::collections::HashSet<String> =
        page.kvs.iter().map(|kv| kv.key[prefix.len()..].to_owned()).collect();
    let upper = (band.max(first)..=last).chain(first..band.min(last + 1));
    for offset in upper {
        if !taken.contains(&name(offset)) && try_one(offset).await? {
            return Ok(offset);
        }
    }
    Err(Status::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "InternalError",
        "Internal error occurred: failed to allocate a serviceIP: range is full",
    ))
}

/// Releases what a Service held, after it was removed from the store.
pub(crate) async fn release(store: &dyn Store, resource: &ResourceType, service: &Value) {
    if !is_service(resource) {
        return;
    }
    let owner = service.pointer("/metadata/uid").and_then(Value::as_str).unwrap_or_default();
    let mut keys = Vec::new();
    if let Some(ip) = requested_ip(service).filter(|ip| ip != "None") {
        keys.push(format!("{IP_KEYS}{ip}"));
    }
    for port in service.pointer("/spec/ports").and_then(Value::as_array).into_iter().flatten() {
        if let Some(node_port) = port.get("nodePort").and_then(Value::as_i64) {
            keys.push(format!("{PORT_KEYS}{node_port}"));
        }
    }
    release_owned(store, keys, owner).await;
}

/// Releases what `current` held and `updated` no longer does, after the update was written.
pub(crate) async fn release_unused(
    store: &dyn Store,
    resource: &ResourceType,
    current: &Value,
    updated: &Value,
) {
    if !is_service(resource) {
        return;
    }
    let owner = current.pointer("/metadata/uid").and_then(Value::as_str).unwrap_or_default();
    let node_ports = |s: &Value| -> Vec<i64> {
        s.pointer("/spec/ports")
            .and_then(Value::as_array)
            .map(|ports| {
                ports.iter().filter_map(|p| p.get("nodePort").and_then(Value::as_i64)).collect()
            })
            .unwrap_or_default()
    };
    let kept = node_ports(updated);
    let mut keys: Vec<String> = node_ports(current)
        .into_iter()
        .filter(|p| !kept.contains(p))
        .map(|p| format!("{PORT_KEYS}{p}"))
        .collect();
    let old_ip = requested_ip(current).filter(|ip| ip != "None");
    if old_ip.is_some() && requested_ip(updated) != old_ip {
        keys.extend(old_ip.map(|ip| format!("{IP_KEYS}{ip}")));
    }
    release_owned(store, keys, owner).await;
}

/// Deletes each key that still names `owner`.
async fn release_owned(store: &dyn Store, keys: Vec<String>, owner: &str) {
    for key in keys {
        match store.get(&key).await {
            Ok(Some(kv)) if kv.value.as_ref() == owner.as_bytes() => {
                if let Err(error) = store.delete(&key, Some(kv.mod_revision)).await {
                    tracing::warn!(%error, key, "releasing an allocation failed");
                }
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, key, "reading an allocation failed"),
        }
    }
}

// === the kubernetes Service ===

/// Creates or refreshes `default/kubernetes` (cluster IP: the range's first address, port 443 →
/// the API server's port) and its Endpoints and EndpointSlice, pointing at `addr`.
pub(crate) async fn bootstrap(
    store: &dyn Store,
    cidr: ServiceCidr,
    addr: SocketAddr,
) -> Result<(), berth_store::Error> {
    let ip = match addr.ip() {
        ip if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        ip => ip,
    };
    let port = addr.port();
    let address_type = if ip.is_ipv4() { "IPv4" } else { "IPv6" };
    let cluster_ip = cidr.first().to_string();
    let find = |group: &str, plural: &str| kinds::find(group, "v1", plural);
    let (Some(services), Some(endpoints), Some(slices)) =
        (find("", "services"), find("", "endpoints"), find("discovery.k8s.io", "endpointslices"))
    else {
        return Ok(());
    };

    let service_key = key(services, Some("default"), "kubernetes");
    let existing = store.get(&service_key).await?;
    let live = existing.as_ref().and_then(|kv| decode(kv).ok()).filter(Value::is_object);
    let mut service = live.clone().unwrap_or_default();
    if !service.is_object() {
        service = json!({
            "kind": "Service",
            "apiVersion": "v1",
            "metadata": {
                "name": "kubernetes",
                "namespace": "default",
                "uid": crate::objects::new_uid(),
                "creationTimestamp": crate::objects::now_rfc3339(),
                "labels": { "component": "apiserver", "provider": "kubernetes" },
            },
            "spec": {
                "type": "ClusterIP",
                "clusterIP": cluster_ip,
                "clusterIPs": [cluster_ip],
                "ipFamilies": ["IPv4"],
                "ipFamilyPolicy": "SingleStack",
                "internalTrafficPolicy": "Cluster",
                "sessionAffinity": "None",
                "ports": [{ "name": "https", "port": 443, "protocol": "TCP", "targetPort": port }],
            },
            "status": { "loadBalancer": {} },
        });
    } else {
        service["spec"]["ports"] =
            json!([{ "name": "https", "port": 443, "protocol": "TCP", "targetPort": port }]);
    }
    let owner =
        service.pointer("/metadata/uid").and_then(Value::as_str).unwrap_or_default().to_owned();
    let ip_key = format!("{IP_KEYS}{}", requested_ip(&service).unwrap_or(cluster_ip));
    match store.create(&ip_key, Bytes::from(owner)).await {
        Ok(_) | Err(berth_store::Error::AlreadyExists { .. }) => {}
        Err(error) => return Err(error),
    }
    upsert(store, services, &service_key, existing.as_ref(), live, service).await?;

    let subsets = json!([{
        "addresses": [{ "ip": ip.to_string() }],
        "ports": [{ "name": "https", "port": port, "protocol": "TCP" }],
    }]);
    let endpoints_object = json!({
        "kind": "Endpoints",
        "apiVersion": "v1",
        "metadata": {
            "name": "kubernetes",
            "namespace": "default",
            "labels": { "endpointslice.kubernetes.io/skip-mirror": "true" },
        },
        "subsets": subsets,
    });
    let endpoints_key = key(endpoints, Some("default"), "kubernetes");
    refresh(store, endpoints, &endpoints_key, endpoints_object, &["subsets"]).await?;
    let slice = json!({
        "kind": "EndpointSlice",
        "apiVersion": "discovery.k8s.io/v1",
        "metadata": {
            "name": "kubernetes",
            "namespace": "default",
            "labels": { "kubernetes.io/service-name": "kubernetes" },
        },
        "addressType": address_type,
        "endpoints": [{ "addresses": [ip.to_string()], "conditions": { "ready": true } }],
        "ports": [{ "name": "https", "port": port, "protocol": "TCP" }],
    });
    refresh(
        store,
        slices,
        &key(slices, Some("default"), "kubernetes"),
        slice,
        &["addressType", "endpoints", "ports"],
    )
    .await
}

/// Writes `fresh` at `key`, keeping an existing object's identity and replacing `fields`.
async fn refresh(
    store: &dyn Store,
    resource: &ResourceType,
    key: &str,
    mut fresh: Value,
    fields: &[&str],
) -> Result<(), berth_store::Error> {
    let existing = store.get(key).await?;
    let live = existing.as_ref().and_then(|kv| decode(kv).ok());
    let object = match &live {
        Some(current) => {
            let mut current = current.clone();
            for field in fields {
                current[*field] = fresh[*field].take();
            }
            current
        }
        None => {
            fresh["metadata"]["uid"] = json!(crate::objects::new_uid());
            fresh["metadata"]["creationTimestamp"] = json!(crate::objects::now_rfc3339());
            fresh
        }
    };
    upsert(store, resource, key, existing.as_ref(), live, object).await
}

/// Writes `object` at `key` unless it is `live` (what `existing` holds, decoded), its
/// managedFields recorded as kube-apiserver's own writes are.
async fn upsert(
    store: &dyn Store,
    resource: &ResourceType,
    key: &str,
    existing: Option<&berth_store::KeyValue>,
    live: Option<Value>,
    object: Value,
) -> Result<(), berth_store::Error> {
    let live = live.map(without_rv);
    let mut stored = without_rv(object);
    crate::apply::record_own(resource, live.as_ref(), &mut stored);
    let bytes = Bytes::from(serde_json::to_vec(&stored).unwrap_or_default());
    match existing {
        Some(_) if live == Some(stored) => Ok(()),
        Some(kv) => store.update(key, bytes, kv.mod_revision).await.map(drop),
        None => store.create(key, bytes).await.map(drop),
    }
}

/// The object as stored: without the resourceVersion (the store's revision is the truth).
fn without_rv(mut object: Value) -> Value {
    if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.remove("resourceVersion");
    }
    object
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs_parse_and_bound_the_range() {
        let cidr: ServiceCidr = "10.96.0.0/12".parse().unwrap();
        assert_eq!(cidr, ServiceCidr::DEFAULT);
        assert_eq!(cidr.to_string(), "10.96.0.0/12");
        assert_eq!(cidr.first(), Ipv4Addr::new(10, 96, 0, 1));
        assert_eq!(cidr.offset(Ipv4Addr::new(10, 96, 0, 0)), None);
        assert_eq!(cidr.offset(Ipv4Addr::new(10, 96, 0, 10)), Some(10));
        assert_eq!(cidr.offset(Ipv4Addr::new(10, 111, 255, 255)), None);
        assert_eq!(cidr.offset(Ipv4Addr::new(10, 111, 255, 254)), Some((1 << 20) - 2));
        assert_eq!(cidr.offset(Ipv4Addr::new(10, 95, 255, 255)), None);
        assert_eq!("10.96.5.5/24".parse::<ServiceCidr>().unwrap().to_string(), "10.96.5.0/24");
        assert!("10.0.0.0/8".parse::<ServiceCidr>().is_err());
        assert!("fd00::/108".parse::<ServiceCidr>().is_err());
        assert!("10.96.0.0".parse::<ServiceCidr>().is_err());
    }

    #[test]
    fn dynamic_bands_leave_room_for_requested_values() {
        assert_eq!(upper_band_start(1 << 20, 16, 256), 256);
        assert_eq!(upper_band_start(256, 16, 256), 16);
        assert_eq!(upper_band_start(2768, 32, 128), 86);
    }

    #[tokio::test]
    async fn allocations_are_unique_and_released() {
        let store = berth_store::MemoryStore::new();
        let services = kinds::find("", "v1", "services").unwrap();
        let cidr: ServiceCidr = "10.0.0.0/29".parse().unwrap();
        let mut ips = Vec::new();
        for n in 0..6 {
            let mut svc = json!({
                "metadata": { "name": format!("s{n}"), "uid": format!("u{n}") },
                "spec": { "type": "ClusterIP", "ports": [{ "port": 80 }] },
            });
            reserve_for(&store, cidr, services, None, &mut svc, false).await.unwrap();
            ips.push(svc["spec"]["clusterIP"].as_str().unwrap().to_owned());
        }
        let mut distinct = ips.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), 6, "{ips:?}");
        let mut full = json!({ "metadata": { "name": "x", "uid": "ux" }, "spec": {} });
        assert!(reserve_for(&store, cidr, services, None, &mut full, false).await.is_err());
        let owner =
            json!({ "metadata": { "uid": "someone-else" }, "spec": { "clusterIP": ips[0] } });
        release(&store, services, &owner).await;
        let mut again = json!({ "metadata": { "uid": "u9" }, "spec": { "clusterIP": ips[0] } });
        assert!(reserve_for(&store, cidr, services, None, &mut again, false).await.is_err());
        // Each IP is released by its owner only.
        let mut freed = json!({ "metadata": { "uid": "u9" }, "spec": {} });
        for (n, ip) in ips.iter().enumerate() {
            let svc =
                json!({ "metadata": { "uid": format!("u{n}") }, "spec": { "clusterIP": ip } });
            release(&store, services, &svc).await;
        }
        reserve_for(&store, cidr, services, None, &mut freed, false).await.unwrap();
    }

    #[tokio::test]
    async fn node_ports_are_allocated_kept_and_checked() {
        let store = berth_store::MemoryStore::new();
        let services = kinds::find("", "v1", "services").unwrap();
        let mut svc = json!({
            "metadata": { "name": "web", "uid": "u1" },
            "spec": { "type": "NodePort", "ports": [{ "port": 80, "protocol": "TCP" }, { "port": 81, "protocol": "TCP", "nodePort": 30080 }] },
        });
        // As on every write: defaulted (externalTrafficPolicy among others), then allocated.
        berth_api::defaults::apply("", "Service", &mut svc);
        reserve_for(&store, ServiceCidr::DEFAULT, services, None, &mut svc, false).await.unwrap();
        let first = svc["spec"]["ports"][0]["nodePort"].as_i64().unwrap();
        assert!((30000..=32767).contains(&first), "{first}");
        assert_eq!(svc["spec"]["ports"][1]["nodePort"], 30080);
        assert_eq!(svc["spec"]["externalTrafficPolicy"], "Cluster");

        let mut clash = json!({
            "metadata": { "name": "other", "uid": "u2" },
            "spec": { "type": "NodePort", "ports": [{ "port": 80, "nodePort": 30080 }] },
        });
        let error = reserve_for(&store, ServiceCidr::DEFAULT, services, None, &mut clash, false)
            .await
            .unwrap_err();
        let body = String::from_utf8(error.to_json()).unwrap();
        assert!(
            body.contains(
                "spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated"
            ),
            "{body}"
        );

        // An update without nodePorts or clusterIP keeps them.
        let mut update = json!({
            "metadata": { "name": "web", "uid": "u1" },
            "spec": { "type": "NodePort", "ports": [{ "port": 80, "protocol": "TCP" }] },
        });
        reserve_for(&store, ServiceCidr::DEFAULT, services, Some(&svc), &mut update, false)
            .await
            .unwrap();
        assert_eq!(update["spec"]["ports"][0]["nodePort"], first);
        assert_eq!(update["spec"]["clusterIP"], svc["spec"]["clusterIP"]);
        release_unused(&store, services, &svc, &update).await;
        // 30080 is free again.
        reserve_for(&store, ServiceCidr::DEFAULT, services, None, &mut clash, false).await.unwrap();
    }
}
