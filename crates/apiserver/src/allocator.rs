//! Service cluster IPs and node ports, allocated atomically through the store, the default
//! `kubernetes` ServiceCIDR, and the `default/kubernetes` Service with its Endpoints and
//! EndpointSlice.
//!
//! A cluster IP's allocation record is its `networking.k8s.io/v1` IPAddress object, named by
//! the IP and created only if absent, so concurrent creates can never share an IP and an
//! IPAddress a user created reserves its IP; it is written as kube-apiserver's allocator
//! (`pkg/registry/core/service/ipallocator`, `ipallocator.k8s.io`) writes it, and released by
//! the Service it names as its parent. IPs come from every ServiceCIDR that is Ready and not
//! being deleted, as upstream's `MetaAllocator` chooses. Node ports are private keys
//! (`/registry/berth.dev/servicenodeports/<port>`, the value the owning Service's uid), as
//! upstream keeps a bitmap for them. Dynamic allocation starts at a random offset in the upper
//! band of a range and leaves the lower band to requested values, as kube-apiserver's
//! allocators do (`ipallocator`, `portallocator`).
//!
//! Data dirs from before IPAddress objects kept each IP as a private key
//! (`/registry/berth.dev/serviceips/<ip>`, the owner's uid); [`bootstrap`] turns those whose
//! Service still exists into IPAddress objects and drops the keys.

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

use crate::resources::{decode, key, prefix};
use crate::status::{Cause, Status};

/// Where cluster IPs were kept before IPAddress objects (migrated at start).
const OLD_IP_KEYS: &str = "/registry/berth.dev/serviceips/";
/// `ipallocator.ControllerName`, the `ipaddress.kubernetes.io/managed-by` of Services' IPs.
const IP_MANAGED_BY: &str = "ipallocator.k8s.io";
/// The default ServiceCIDR (`DefaultServiceCIDRName`).
const DEFAULT_SERVICE_CIDR: &str = "kubernetes";
/// The Ready condition's message the default-servicecidr controller writes.
const DEFAULT_READY_MESSAGE: &str = "Kubernetes default Service CIDR is ready";
const PORT_KEYS: &str = "/registry/berth.dev/servicenodeports/";
/// `--service-node-port-range` default.
const NODE_PORT_FIRST: u32 = 30000;
const NODE_PORT_LAST: u32 = 32767;
/// Random probes before falling back to a scan of what is allocated.
const RANDOM_PROBES: usize = 16;

/// The IPv4 range of the default `kubernetes` ServiceCIDR (`--service-cluster-ip-range`): a
/// CIDR of prefix 12 to 30.
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

    /// The address at `offset` from the network address (`offset` < the range's size).
    fn at(self, offset: u64) -> Ipv4Addr {
        at(self.0, offset)
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
/// ones, and a type change allocates what it newly needs. IPs come from the ready
/// ServiceCIDRs (`cidr` only while there are none). On an error nothing stays reserved.
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
                let ranges = ready_ranges(store, cidr).await?;
                let Some(range) = widest_containing(&ranges, parsed) else {
                    return Err(invalid(
                        "the provided network does not match the current range".into(),
                    ));
                };
                if !allocatable(range, parsed) {
                    return Err(invalid(format!(
                        "the provided IP ({ip}) is not in the valid range. The range of valid IPs is {range}"
                    )));
                }
                // As upstream's dry-run allocator: the range is checked, the IP is not.
                if !dry_run {
                    let ips = ip_addresses()?;
                    let key = key(ips, None, &parsed.to_string());
                    if !reserve(store, &key, ip_record(ips, parsed, service)).await? {
                        return Err(invalid("provided IP is already allocated".into()));
                    }
                    reserved.keys.push(key);
                }
                set_ip(service, &ip);
            }
            (None, None) => {
                let ip = allocate_ip(store, cidr, service, dry_run, reserved).await?;
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
                    if !reserve(store, &key, Bytes::from(owner.clone())).await? {
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

/// Creates `key` holding `value` if absent; whether it was free.
async fn reserve(store: &dyn Store, key: &str, value: Bytes) -> Result<bool, Status> {
    match store.create(key, value).await {
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

fn ip_addresses() -> Result<&'static ResourceType, Status> {
    kinds::find("networking.k8s.io", "v1", "ipaddresses").ok_or_else(Status::internal)
}

/// The IPAddress object recording that `service` holds `ip`, as stored: what upstream's
/// allocator creates through the loopback client (`createIPAddress`).
fn ip_record(ips: &ResourceType, ip: Ipv4Addr, service: &Value) -> Bytes {
    let text = |pointer: &str| service.pointer(pointer).and_then(Value::as_str).unwrap_or("");
    let mut object = json!({
        "kind": "IPAddress",
        "apiVersion": "networking.k8s.io/v1",
        "metadata": {
            "name": ip.to_string(),
            "uid": crate::objects::new_uid(),
            "creationTimestamp": crate::objects::now_rfc3339(),
            "labels": {
                "ipaddress.kubernetes.io/ip-family": "IPv4",
                "ipaddress.kubernetes.io/managed-by": IP_MANAGED_BY,
            },
        },
        "spec": {
            "parentRef": {
                "group": "",
                "resource": "services",
                "namespace": text("/metadata/namespace"),
                "name": text("/metadata/name"),
            },
        },
    });
    crate::apply::record_own(ips, None, &mut object);
    Bytes::from(serde_json::to_vec(&object).unwrap_or_default())
}

/// Whether the IPAddress `record` names `service` as its parent.
fn held_by(record: &Value, service: &Value) -> bool {
    let parent = &record["spec"]["parentRef"];
    let field = |name: &str| parent.get(name).and_then(Value::as_str).unwrap_or("");
    let meta = |name: &str| service["metadata"].get(name).and_then(Value::as_str).unwrap_or("");
    field("group").is_empty()
        && field("resource") == "services"
        && field("namespace") == meta("namespace")
        && field("name") == meta("name")
}

/// The address at `offset` in `range` (`offset` < its size).
fn at(range: Ipv4Cidr, offset: u64) -> Ipv4Addr {
    range.address(offset).unwrap_or(Ipv4Addr::UNSPECIFIED)
}

/// Whether `range` gives out `ip`: inside it, neither its network nor its broadcast address.
fn allocatable(range: Ipv4Cidr, ip: Ipv4Addr) -> bool {
    range.index_of(ip).is_some_and(|offset| offset >= 1 && offset + 1 < range.size())
}

/// The IPv4 ranges of every ServiceCIDR that is Ready and not being deleted (one without a
/// Ready condition yet counts as Ready, as upstream's `isReady` assumes), sorted; the
/// `--service-cidr` while there is no ServiceCIDR at all.
async fn ready_ranges(store: &dyn Store, fallback: ServiceCidr) -> Result<Vec<Ipv4Cidr>, Status> {
    let resource =
        kinds::find("networking.k8s.io", "v1", "servicecidrs").ok_or_else(Status::internal)?;
    let page =
        store.range(&RangeRequest::prefix(prefix(resource, None))).await.map_err(|error| {
            tracing::error!(%error, "reading service CIDRs failed");
            Status::internal()
        })?;
    if page.kvs.is_empty() {
        return Ok(vec![fallback.0]);
    }
    let mut ranges: Vec<Ipv4Cidr> =
        page.kvs.iter().filter_map(|kv| decode(kv).ok()).flat_map(|o| usable_ranges(&o)).collect();
    ranges.sort_by_key(|range| (at(*range, 0), range.prefix()));
    ranges.dedup();
    Ok(ranges)
}

/// The IPv4 CIDRs a ServiceCIDR object gives IPs from (none while it is not Ready or is
/// being deleted).
fn usable_ranges(object: &Value) -> Vec<Ipv4Cidr> {
    let deleting = object.pointer("/metadata/deletionTimestamp").is_some_and(|t| !t.is_null());
    let conditions = object.pointer("/status/conditions").and_then(Value::as_array);
    let ready = conditions
        .and_then(|all| all.iter().find(|c| c["type"] == "Ready"))
        .is_none_or(|ready| ready["status"] == "True");
    if deleting || !ready {
        return Vec::new();
    }
    let cidrs = object.pointer("/spec/cidrs").and_then(Value::as_array);
    cidrs.into_iter().flatten().filter_map(|cidr| Ipv4Cidr::parse(cidr.as_str()?).ok()).collect()
}

/// The widest range holding `ip`: upstream's `ShortestPrefixMatch` (every narrower one lies
/// inside it).
fn widest_containing(ranges: &[Ipv4Cidr], ip: Ipv4Addr) -> Option<Ipv4Cidr> {
    ranges.iter().copied().filter(|r| r.index_of(ip).is_some()).min_by_key(|r| r.prefix())
}

/// The ranges no other range holds (upstream's `TopLevelPrefixes`), in order.
fn top_level(ranges: &[Ipv4Cidr]) -> Vec<Ipv4Cidr> {
    let inside = |r: &Ipv4Cidr, o: &Ipv4Cidr| {
        o != r && o.prefix() <= r.prefix() && o.index_of(at(*r, 0)).is_some()
    };
    ranges.iter().copied().filter(|r| !ranges.iter().any(|o| inside(r, o))).collect()
}

fn range_full() -> Status {
    Status::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "InternalError",
        "Internal error occurred: failed to allocate a serviceIP: range is full",
    )
}

/// A free IP from the first top-level ready range that has one, its IPAddress created for
/// `service` (unless `dry_run`).
async fn allocate_ip(
    store: &dyn Store,
    fallback: ServiceCidr,
    service: &Value,
    dry_run: bool,
    reserved: &mut Reserved,
) -> Result<Ipv4Addr, Status> {
    let ips = ip_addresses()?;
    let ip_prefix = prefix(ips, None);
    for range in top_level(&ready_ranges(store, fallback).await?) {
        let size = range.size();
        if size < 4 {
            continue; // no address besides the network and broadcast ones
        }
        let usable_last = size - 2; // offsets 1..=size-2
        let band = upper_band_start(size, 16, 256).min(usable_last);
        let name = |offset: u64| at(range, offset).to_string();
        let record = |offset: u64| ip_record(ips, at(range, offset), service);
        let picked = pick(store, &ip_prefix, band, usable_last, 1, dry_run, name, record).await?;
        if let Some(offset) = picked {
            let ip = at(range, offset);
            if !dry_run {
                reserved.keys.push(key(ips, None, &ip.to_string()));
            }
            return Ok(ip);
        }
    }
    Err(range_full())
}

async fn allocate_port(
    store: &dyn Store,
    owner: &str,
    dry_run: bool,
    reserved: &mut Reserved,
) -> Result<u32, Status> {
    let size = u64::from(NODE_PORT_LAST - NODE_PORT_FIRST + 1);
    let band = upper_band_start(size, 32, 128);
    let name = |o: u64| (u64::from(NODE_PORT_FIRST) + o).to_string();
    let value = |_: u64| Bytes::from(owner.to_owned());
    let offset = pick(store, PORT_KEYS, band, size - 1, 0, dry_run, name, value)
        .await?
        .ok_or_else(range_full)?;
    let port = NODE_PORT_FIRST + offset as u32;
    if !dry_run {
        reserved.keys.push(format!("{PORT_KEYS}{port}"));
    }
    Ok(port)
}

/// Reserves a free offset, creating `{prefix}{name(offset)}` holding `value(offset)`: random
/// probes in `[band, last]`, then a scan of every offset in `[first, last]` against what is
/// allocated. Returns the offset (reserved unless `dry_run`), or `None` when all are taken.
#[allow(clippy::too_many_arguments, reason = "one private helper for both allocators")]
async fn pick(
    store: &dyn Store,
    prefix: &str,
    band: u64,
    last: u64,
    first: u64,
    dry_run: bool,
    name: impl Fn(u64) -> String,
    value: impl Fn(u64) -> Bytes,
) -> Result<Option<u64>, Status> {
    let try_one = |offset: u64| {
        let key = format!("{prefix}{}", name(offset));
        let value = (!dry_run).then(|| value(offset));
        async move {
            match value {
                None => match store.get(&key).await {
                    Ok(found) => Ok(found.is_none()),
                    Err(_) => Err(Status::internal()),
                },
                Some(value) => reserve(store, &key, value).await,
            }
        }
    };
    if band <= last {
        for _ in 0..RANDOM_PROBES {
            let offset = rand::rng().random_range(band..=last);
            if try_one(offset).await? {
                return Ok(Some(offset));
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
            return Ok(Some(offset));
        }
    }
    Ok(None)
}

/// Releases what a Service held, after it was removed from the store.
pub(crate) async fn release(store: &dyn Store, resource: &ResourceType, service: &Value) {
    if !is_service(resource) {
        return;
    }
    let owner = service.pointer("/metadata/uid").and_then(Value::as_str).unwrap_or_default();
    if let Some(ip) = requested_ip(service).filter(|ip| ip != "None") {
        release_ip(store, &ip, service).await;
    }
    let mut keys = Vec::new();
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
    let keys: Vec<String> = node_ports(current)
        .into_iter()
        .filter(|p| !kept.contains(p))
        .map(|p| format!("{PORT_KEYS}{p}"))
        .collect();
    let old_ip = requested_ip(current).filter(|ip| ip != "None");
    if let Some(ip) = old_ip.as_deref()
        && requested_ip(updated).as_deref() != Some(ip)
    {
        release_ip(store, ip, current).await;
    }
    release_owned(store, keys, owner).await;
}

/// Deletes the IPAddress of `ip` if `service` is its parent.
async fn release_ip(store: &dyn Store, ip: &str, service: &Value) {
    let Ok(ips) = ip_addresses() else { return };
    let key = key(ips, None, ip);
    match store.get(&key).await {
        Ok(Some(kv)) if decode(&kv).is_ok_and(|record| held_by(&record, service)) => {
            if let Err(error) = store.delete(&key, Some(kv.mod_revision)).await {
                tracing::warn!(%error, key, "releasing an IP failed");
            }
        }
        Ok(_) => {}
        Err(error) => tracing::warn!(%error, key, "reading an IP allocation failed"),
    }
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

// === bootstrap: old records, the default ServiceCIDR, the kubernetes Service ===

/// Turns each old private IP key whose Service still exists into that Service's IPAddress
/// (unless one exists) and deletes the old keys.
async fn migrate_ip_keys(
    store: &dyn Store,
    ips: &ResourceType,
    services: &ResourceType,
) -> Result<(), berth_store::Error> {
    let old = store.range(&RangeRequest::prefix(OLD_IP_KEYS)).await?;
    if old.kvs.is_empty() {
        return Ok(());
    }
    let all = store.range(&RangeRequest::prefix(prefix(services, None))).await?;
    let by_uid: std::collections::HashMap<String, Value> = all
        .kvs
        .iter()
        .filter_map(|kv| decode(kv).ok())
        .filter_map(|s| Some((s.pointer("/metadata/uid")?.as_str()?.to_owned(), s)))
        .collect();
    for kv in &old.kvs {
        let ip = kv.key[OLD_IP_KEYS.len()..].parse::<Ipv4Addr>();
        let owner = by_uid.get(String::from_utf8_lossy(&kv.value).as_ref());
        if let (Ok(ip), Some(service)) = (ip, owner) {
            let record = ip_record(ips, ip, service);
            match store.create(&key(ips, None, &ip.to_string()), record).await {
                Ok(_) | Err(berth_store::Error::AlreadyExists { .. }) => {}
                Err(error) => return Err(error),
            }
        }
        match store.delete(&kv.key, Some(kv.mod_revision)).await {
            Ok(_) | Err(berth_store::Error::NotFound { .. }) => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

/// Creates the `kubernetes` ServiceCIDR of `cidr`, and sets its Ready condition as the
/// default-servicecidr controller does (`pkg/controlplane/controller/defaultservicecidr`):
/// when there is none or it is Unknown, the ServiceCIDR is not being deleted and its CIDRs
/// are this server's.
async fn default_service_cidr(
    store: &dyn Store,
    resource: &ResourceType,
    cidr: ServiceCidr,
) -> Result<(), berth_store::Error> {
    let key = key(resource, None, DEFAULT_SERVICE_CIDR);
    let now = crate::objects::now_rfc3339();
    let ready = json!({
        "type": "Ready",
        "status": "True",
        "lastTransitionTime": now,
        "reason": "",
        "message": DEFAULT_READY_MESSAGE,
    });
    let existing = store.get(&key).await?;
    let Some(kv) = existing else {
        let mut object = json!({
            "kind": "ServiceCIDR",
            "apiVersion": "networking.k8s.io/v1",
            "metadata": {
                "name": DEFAULT_SERVICE_CIDR,
                "uid": crate::objects::new_uid(),
                "creationTimestamp": now,
            },
            "spec": { "cidrs": [cidr.to_string()] },
            "status": {},
        });
        crate::apply::record_own(resource, None, &mut object);
        let created = object.clone();
        object["status"] = json!({ "conditions": [ready] });
        let supplied = crate::apply::take_supplied(&mut object);
        crate::apply::record_loopback(resource, Some("status"), &created, supplied, &mut object);
        let bytes = Bytes::from(serde_json::to_vec(&object).unwrap_or_default());
        return match store.create(&key, bytes).await {
            Ok(_) | Err(berth_store::Error::AlreadyExists { .. }) => Ok(()),
            Err(error) => Err(error),
        };
    };
    let Ok(live) = decode(&kv).map(without_rv) else {
        return Ok(());
    };
    let deleting = live.pointer("/metadata/deletionTimestamp").is_some_and(|t| !t.is_null());
    let same_config = live.pointer("/spec/cidrs") == Some(&json!([cidr.to_string()]));
    let conditions = live.pointer("/status/conditions").and_then(Value::as_array);
    let current = conditions.and_then(|all| all.iter().find(|c| c["type"] == "Ready"));
    if deleting || !same_config || current.is_some_and(|c| c["status"] != "Unknown") {
        return Ok(());
    }
    let mut object = live.clone();
    let mut kept: Vec<Value> =
        conditions.into_iter().flatten().filter(|c| c["type"] != "Ready").cloned().collect();
    kept.push(ready);
    object["status"]["conditions"] = Value::Array(kept);
    let supplied = crate::apply::take_supplied(&mut object);
    crate::apply::record_loopback(resource, Some("status"), &live, supplied, &mut object);
    let bytes = Bytes::from(serde_json::to_vec(&object).unwrap_or_default());
    store.update(&key, bytes, kv.mod_revision).await.map(drop)
}

/// Creates or refreshes `default/kubernetes` (cluster IP: the range's first address, port 443 →
/// the API server's port) and its Endpoints and EndpointSlice, pointing at `addr`; before
/// that migrates old IP records and writes the default ServiceCIDR.
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
    let (Some(ips), Some(service_cidrs)) =
        (find("networking.k8s.io", "ipaddresses"), find("networking.k8s.io", "servicecidrs"))
    else {
        return Ok(());
    };
    migrate_ip_keys(store, ips, services).await?;
    default_service_cidr(store, service_cidrs, cidr).await?;

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
    let held = requested_ip(&service).unwrap_or(cluster_ip).parse::<Ipv4Addr>();
    if let Ok(ip) = held {
        let record = ip_record(ips, ip, &service);
        match store.create(&key(ips, None, &ip.to_string()), record).await {
            Ok(_) | Err(berth_store::Error::AlreadyExists { .. }) => {}
            Err(error) => return Err(error),
        }
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
        assert!(!allocatable(cidr.0, Ipv4Addr::new(10, 96, 0, 0)));
        assert!(allocatable(cidr.0, Ipv4Addr::new(10, 96, 0, 10)));
        assert!(!allocatable(cidr.0, Ipv4Addr::new(10, 111, 255, 255)));
        assert!(allocatable(cidr.0, Ipv4Addr::new(10, 111, 255, 254)));
        assert!(!allocatable(cidr.0, Ipv4Addr::new(10, 95, 255, 255)));
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

    fn service(name: &str, spec: Value) -> Value {
        json!({"metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}")},
            "spec": spec})
    }

    async fn ip_address(store: &dyn Store, ip: &str) -> Option<Value> {
        let ips = ip_addresses().unwrap();
        store.get(&key(ips, None, ip)).await.unwrap().map(|kv| decode(&kv).unwrap())
    }

    async fn put_service_cidr(store: &dyn Store, name: &str, cidrs: Value, ready: Option<&str>) {
        let resource = kinds::find("networking.k8s.io", "v1", "servicecidrs").unwrap();
        let mut object = json!({"metadata": {"name": name}, "spec": {"cidrs": cidrs}});
        if let Some(status) = ready {
            object["status"] = json!({"conditions": [{"type": "Ready", "status": status}]});
        }
        let bytes = Bytes::from(serde_json::to_vec(&object).unwrap());
        store.create(&key(resource, None, name), bytes).await.unwrap();
    }

    #[tokio::test]
    async fn allocations_are_unique_and_released() {
        let store = berth_store::MemoryStore::new();
        let services = kinds::find("", "v1", "services").unwrap();
        let cidr: ServiceCidr = "10.0.0.0/29".parse().unwrap();
        let mut ips = Vec::new();
        for n in 0..6 {
            let mut svc = service(&format!("s{n}"), json!({"type": "ClusterIP"}));
            reserve_for(&store, cidr, services, None, &mut svc, false).await.unwrap();
            ips.push(svc["spec"]["clusterIP"].as_str().unwrap().to_owned());
        }
        let mut distinct = ips.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), 6, "{ips:?}");
        // Each allocation is an IPAddress naming its Service.
        let record = ip_address(&store, &ips[0]).await.unwrap();
        assert_eq!(
            record["spec"]["parentRef"],
            json!({"group": "", "resource": "services", "namespace": "default", "name": "s0"})
        );
        assert_eq!(
            record["metadata"]["labels"],
            json!({"ipaddress.kubernetes.io/ip-family": "IPv4",
                "ipaddress.kubernetes.io/managed-by": "ipallocator.k8s.io"})
        );
        assert_eq!(record["metadata"]["managedFields"][0]["manager"], "kube-apiserver");
        let mut full = service("x", json!({}));
        let error = reserve_for(&store, cidr, services, None, &mut full, false).await.unwrap_err();
        assert!(String::from_utf8(error.to_json()).unwrap().contains("range is full"));
        // Another Service does not release an IP it does not hold.
        let other = service("someone-else", json!({"clusterIP": ips[0]}));
        release(&store, services, &other).await;
        let mut again = service("s9", json!({"clusterIP": ips[0]}));
        let error = reserve_for(&store, cidr, services, None, &mut again, false).await.unwrap_err();
        let body = String::from_utf8(error.to_json()).unwrap();
        assert!(body.contains("provided IP is already allocated"), "{body}");
        for (n, ip) in ips.iter().enumerate() {
            release(&store, services, &service(&format!("s{n}"), json!({"clusterIP": ip}))).await;
        }
        assert!(ip_address(&store, &ips[0]).await.is_none());
        let mut freed = service("s9", json!({}));
        reserve_for(&store, cidr, services, None, &mut freed, false).await.unwrap();
    }

    #[tokio::test]
    async fn ips_come_from_every_ready_service_cidr() {
        let store = berth_store::MemoryStore::new();
        let services = kinds::find("", "v1", "services").unwrap();
        let fallback: ServiceCidr = "10.96.0.0/12".parse().unwrap();
        // Only the default's range, full after six.
        put_service_cidr(&store, "kubernetes", json!(["10.0.0.0/29"]), Some("True")).await;
        put_service_cidr(&store, "not-ready", json!(["10.2.0.0/29"]), Some("False")).await;
        let request = |name: &str, ip: &str| service(name, json!({"clusterIP": ip}));
        let refused = |status: Status| String::from_utf8(status.to_json()).unwrap();
        let mut outside = request("out", "10.2.0.3");
        let error = reserve_for(&store, fallback, services, None, &mut outside, false).await;
        assert!(refused(error.unwrap_err()).contains(
            "failed to allocate IP 10.2.0.3: the provided network does not match the current range"
        ));
        let mut broadcast = request("b", "10.0.0.7");
        let error = reserve_for(&store, fallback, services, None, &mut broadcast, false).await;
        assert!(refused(error.unwrap_err()).contains(
            "the provided IP (10.0.0.7) is not in the valid range. The range of valid IPs is 10.0.0.0/29"
        ));
        for n in 0..6 {
            let mut svc = service(&format!("s{n}"), json!({}));
            reserve_for(&store, fallback, services, None, &mut svc, false).await.unwrap();
        }
        let mut seventh = service("s6", json!({}));
        assert!(reserve_for(&store, fallback, services, None, &mut seventh, false).await.is_err());
        // A second ServiceCIDR extends the range; one inside another is no new top level.
        put_service_cidr(&store, "extra", json!(["10.1.0.0/29"]), None).await;
        put_service_cidr(&store, "inner", json!(["10.1.0.0/30"]), Some("True")).await;
        reserve_for(&store, fallback, services, None, &mut seventh, false).await.unwrap();
        let ip = seventh["spec"]["clusterIP"].as_str().unwrap().to_owned();
        assert!(ip.starts_with("10.1.0."), "{ip}");
        // The widest range holding a requested IP decides what is in range: 10.1.0.3 is the
        // broadcast address of the /30 but inside the /29.
        let mut inner = request("inner", "10.1.0.3");
        if ip != "10.1.0.3" {
            reserve_for(&store, fallback, services, None, &mut inner, false).await.unwrap();
        }
        assert_eq!(
            top_level(&[
                Ipv4Cidr::parse("10.1.0.0/30").unwrap(),
                Ipv4Cidr::parse("10.1.0.0/29").unwrap()
            ]),
            [Ipv4Cidr::parse("10.1.0.0/29").unwrap()]
        );
    }

    #[tokio::test]
    async fn old_ip_keys_become_ip_addresses() {
        let store = berth_store::MemoryStore::new();
        let services = kinds::find("", "v1", "services").unwrap();
        let ips = ip_addresses().unwrap();
        let web = service("web", json!({"clusterIP": "10.96.0.20"}));
        let bytes = Bytes::from(serde_json::to_vec(&web).unwrap());
        store.create(&key(services, Some("default"), "web"), bytes).await.unwrap();
        store.create(&format!("{OLD_IP_KEYS}10.96.0.20"), Bytes::from("uid-web")).await.unwrap();
        store.create(&format!("{OLD_IP_KEYS}10.96.0.21"), Bytes::from("uid-gone")).await.unwrap();
        migrate_ip_keys(&store, ips, services).await.unwrap();
        let record = ip_address(&store, "10.96.0.20").await.unwrap();
        assert!(held_by(&record, &web));
        assert!(ip_address(&store, "10.96.0.21").await.is_none());
        let old = store.range(&RangeRequest::prefix(OLD_IP_KEYS)).await.unwrap();
        assert!(old.kvs.is_empty());
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
