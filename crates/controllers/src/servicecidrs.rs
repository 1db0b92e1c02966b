//! The ServiceCIDR controller (kube-controller-manager's `service-cidr-controller`, v1.33:
//! pkg/controller/servicecidrs/servicecidrs_controller.go).
//!
//! Every ServiceCIDR not being deleted gets the finalizer
//! `networking.k8s.io/service-cidr-finalizer` and the condition `Ready=True` ("Kubernetes
//! Service CIDR is ready"), applied to its status with the field manager
//! `service-cidrs-controller` and `force`, as the Go controller does. A ServiceCIDR being
//! deleted keeps its finalizer while an IPAddress the apiserver's allocator manages would be
//! orphaned (no other ServiceCIDR holds it), and says so with `Ready=False Terminating`; once
//! nothing would be, the finalizer goes, after a grace period of 10 s from the deletion so
//! that no allocator still gives IPs from it. The plan is pure ([`plan`]); the loop writes it.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::networking::v1::{IPAddress, ServiceCIDR};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;
use tokio::sync::Notify;

use crate::Context;
use crate::cache::Backoff;
use crate::informer::Cached;
use crate::meta::{error_chain, name_of, status_code};

/// `ServiceCIDRProtectionFinalizer`.
pub(crate) const FINALIZER: &str = "networking.k8s.io/service-cidr-finalizer";
/// The field manager of the controller's status applies (`controllerName`).
const FIELD_MANAGER: &str = "service-cidrs-controller";
/// `deletionGracePeriod`: how long after its deletion a ServiceCIDR keeps its finalizer.
const DELETION_GRACE_PERIOD: Duration = Duration::from_secs(10);
const READY_MESSAGE: &str = "Kubernetes Service CIDR is ready";
const TERMINATING_MESSAGE: &str = "There are still IPAddresses referencing the ServiceCIDR, please remove them or create a new ServiceCIDR";
/// `ipallocator.ControllerName`: only the IPs of Services block a deletion.
const IP_MANAGED_BY: &str = "ipallocator.k8s.io";

impl Cached for ServiceCIDR {}
impl Cached for IPAddress {}

/// One write a ServiceCIDR needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Change {
    AddFinalizer(String),
    /// `Ready=True`, the ServiceCIDR being in use.
    Ready(String),
    /// `Ready=False Terminating`: its deletion waits for IPAddresses.
    Terminating(String),
    RemoveFinalizer(String),
}

impl Change {
    fn name(&self) -> &str {
        match self {
            Change::AddFinalizer(name)
            | Change::Ready(name)
            | Change::Terminating(name)
            | Change::RemoveFinalizer(name) => name,
        }
    }
}

/// Why a write failed.
#[derive(Debug, thiserror::Error)]
#[error("cannot update servicecidr {name:?}")]
struct Error {
    name: String,
    #[source]
    source: kube::Error,
}

/// The changes the ServiceCIDRs need now, and how long until a deleted one's grace period
/// ends (then the plan changes without any event): pure, from what is observed at `now`.
pub(crate) fn plan(
    cidrs: &[Arc<ServiceCIDR>],
    ips: &[Arc<IPAddress>],
    now: Timestamp,
) -> (Vec<Change>, Option<Duration>) {
    let mut changes = Vec::new();
    let mut next: Option<Duration> = None;
    for cidr in cidrs {
        let name = name_of(&cidr.metadata).to_owned();
        let has_finalizer = cidr.metadata.finalizers.iter().flatten().any(|f| f == FINALIZER);
        let ready = ready_condition(cidr);
        let Some(Time(deleted)) = cidr.metadata.deletion_timestamp else {
            if !has_finalizer {
                changes.push(Change::AddFinalizer(name.clone()));
            }
            let is_ready =
                ready.is_some_and(|(status, message)| status == "True" && message == READY_MESSAGE);
            if !is_ready {
                changes.push(Change::Ready(name));
            }
            continue;
        };
        if !has_finalizer {
            continue;
        }
        if !can_delete(cidr, cidrs, ips) {
            let terminating = ready.is_some_and(|(status, message)| {
                status == "False" && message == TERMINATING_MESSAGE
            });
            if !terminating {
                changes.push(Change::Terminating(name));
            }
            continue;
        }
        let elapsed = Duration::try_from(now.duration_since(deleted)).unwrap_or_default();
        match DELETION_GRACE_PERIOD.checked_sub(elapsed).filter(|left| !left.is_zero()) {
            Some(left) => next = Some(next.map_or(left, |n| n.min(left))),
            None => changes.push(Change::RemoveFinalizer(name)),
        }
    }
    (changes, next)
}

/// The Ready condition's status and message, if it has one.
fn ready_condition(cidr: &ServiceCIDR) -> Option<(&str, &str)> {
    let conditions = cidr.status.as_ref()?.conditions.as_ref()?;
    let ready = conditions.iter().find(|c| c.type_ == "Ready")?;
    Some((ready.status.as_str(), ready.message.as_str()))
}

/// `canDeleteCIDR`: whether deleting `cidr` orphans no IPAddress of a Service — each of its
/// CIDRs lies inside another ServiceCIDR, or every such IPAddress it holds another holds too.
fn can_delete(cidr: &ServiceCIDR, all: &[Arc<ServiceCIDR>], ips: &[Arc<IPAddress>]) -> bool {
    let name = name_of(&cidr.metadata);
    let own: Vec<(IpAddr, u8)> = cidrs_of(cidr);
    let others: Vec<(IpAddr, u8)> = all
        .iter()
        .filter(|other| name_of(&other.metadata) != name)
        .flat_map(|other| cidrs_of(other))
        .collect();
    let has_parent = own.iter().all(|(ip, bits)| {
        others
            .iter()
            .any(|(other, other_bits)| other_bits <= bits && contains(*other, *other_bits, *ip))
    });
    if has_parent {
        return true;
    }
    ips.iter()
        .filter(|ip| {
            ip.metadata.labels.as_ref().and_then(|l| l.get("ipaddress.kubernetes.io/managed-by"))
                == Some(&IP_MANAGED_BY.to_owned())
        })
        .filter_map(|ip| name_of(&ip.metadata).parse::<IpAddr>().ok())
        .all(|address| {
            let ours = own.iter().any(|(ip, bits)| contains(*ip, *bits, address));
            !ours || others.iter().any(|(ip, bits)| contains(*ip, *bits, address))
        })
}

/// The CIDRs of a ServiceCIDR that parse, as network address and prefix length.
fn cidrs_of(cidr: &ServiceCIDR) -> Vec<(IpAddr, u8)> {
    let spec = cidr.spec.as_ref().and_then(|s| s.cidrs.as_ref());
    spec.into_iter()
        .flatten()
        .filter_map(|text| {
            let (ip, bits) = text.split_once('/')?;
            Some((ip.parse().ok()?, bits.parse().ok()?))
        })
        .collect()
}

/// Whether the block `network/bits` holds `ip` (of the same family).
fn contains(network: IpAddr, bits: u8, ip: IpAddr) -> bool {
    match (network, ip) {
        (IpAddr::V4(network), IpAddr::V4(ip)) => {
            let keep = u32::MAX.checked_shl(32 - u32::from(bits.min(32))).unwrap_or(0);
            u32::from(network) & keep == u32::from(ip) & keep
        }
        (IpAddr::V6(network), IpAddr::V6(ip)) => {
            let keep = u128::MAX.checked_shl(128 - u32::from(bits.min(128))).unwrap_or(0);
            u128::from(network) & keep == u128::from(ip) & keep
        }
        _ => false,
    }
}

/// Runs the controller until the task is aborted.
pub(crate) async fn run(cx: Context) {
    let wake = Arc::new(Notify::new());
    let cidrs = crate::cache::cache::<ServiceCIDR>(&cx.informers, &wake);
    let ips = crate::cache::cache::<IPAddress>(&cx.informers, &wake);
    cidrs.wait_until_ready().await;
    ips.wait_until_ready().await;
    let api = Api::<ServiceCIDR>::all(cx.client.clone());
    let mut backoff: Backoff<String> = Backoff::new(Duration::from_secs(30));
    let mut failed: HashMap<String, tokio::time::Instant> = HashMap::new();
    loop {
        let (changes, grace) = plan(&cidrs.state(), &ips.state(), Timestamp::now());
        backoff.retain(|name| changes.iter().any(|c| c.name() == name));
        failed.retain(|name, _| changes.iter().any(|c| c.name() == name));
        for change in changes {
            if backoff.waiting(&change.name().to_owned()).is_some() {
                continue;
            }
            let name = change.name().to_owned();
            match write(&api, &change).await {
                Ok(()) => {
                    backoff.succeeded(&name);
                    failed.remove(&name);
                }
                Err(error) => {
                    tracing::warn!(error = %error_chain(&error), "servicecidrs");
                    let at = backoff.failed(name.clone());
                    failed.insert(name, at);
                }
            }
        }
        let retry = failed
            .values()
            .min()
            .map(|at| at.saturating_duration_since(tokio::time::Instant::now()));
        match [grace, retry].into_iter().flatten().min() {
            Some(wait) => {
                let _ = tokio::time::timeout(wait, wake.notified()).await;
            }
            None => crate::cache::woken(&wake).await,
        }
    }
}

/// Carries out one change as the Go controller writes it: strategic merge patches of the
/// finalizers, a forced apply of the status.
async fn write(api: &Api<ServiceCIDR>, change: &Change) -> Result<(), Error> {
    let name = change.name();
    let condition = |status: &str, reason: Option<&str>, message: &str| {
        let mut condition = json!({
            "type": "Ready",
            "status": status,
            "message": message,
            "lastTransitionTime": Time(Timestamp::now()),
        });
        if let Some(reason) = reason {
            condition["reason"] = json!(reason);
        }
        json!({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "ServiceCIDR",
            "metadata": {"name": name},
            "status": {"conditions": [condition]},
        })
    };
    let apply = PatchParams::apply(FIELD_MANAGER).force();
    let result = match change {
        Change::AddFinalizer(_) => {
            let patch = json!({"metadata": {"finalizers": [FINALIZER]}});
            api.patch(name, &PatchParams::default(), &Patch::Strategic(patch)).await
        }
        Change::RemoveFinalizer(_) => {
            let patch = json!({"metadata": {"$deleteFromPrimitiveList/finalizers": [FINALIZER]}});
            api.patch(name, &PatchParams::default(), &Patch::Strategic(patch)).await
        }
        Change::Ready(_) => {
            let status = condition("True", None, READY_MESSAGE);
            api.patch_status(name, &apply, &Patch::Apply(status)).await
        }
        Change::Terminating(_) => {
            let status = condition("False", Some("Terminating"), TERMINATING_MESSAGE);
            api.patch_status(name, &apply, &Patch::Apply(status)).await
        }
    };
    match result {
        Ok(_) => Ok(()),
        // Gone meanwhile: nothing left to do (`IsNotFound` is ignored upstream too).
        Err(error) if status_code(&error) == Some(404) => Ok(()),
        Err(source) => Err(Error { name: name.to_owned(), source }),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::api::networking::v1::{IPAddressSpec, ServiceCIDRSpec, ServiceCIDRStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, ObjectMeta};

    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + seconds).unwrap()
    }

    fn cidr(
        name: &str,
        cidrs: &[&str],
        deleted: Option<i64>,
        ready: Option<&str>,
    ) -> Arc<ServiceCIDR> {
        Arc::new(ServiceCIDR {
            metadata: ObjectMeta {
                name: Some(name.to_owned()),
                finalizers: Some(vec![FINALIZER.to_owned()]),
                deletion_timestamp: deleted.map(|s| Time(at(s))),
                ..ObjectMeta::default()
            },
            spec: Some(ServiceCIDRSpec {
                cidrs: Some(cidrs.iter().map(|c| (*c).to_owned()).collect()),
            }),
            status: ready.map(|message| ServiceCIDRStatus {
                conditions: Some(vec![Condition {
                    type_: "Ready".into(),
                    status: "True".into(),
                    message: message.into(),
                    last_transition_time: Time(at(0)),
                    reason: String::new(),
                    observed_generation: None,
                }]),
            }),
        })
    }

    fn service_ip(ip: &str) -> Arc<IPAddress> {
        Arc::new(IPAddress {
            metadata: ObjectMeta {
                name: Some(ip.to_owned()),
                labels: Some(BTreeMap::from([(
                    "ipaddress.kubernetes.io/managed-by".to_owned(),
                    IP_MANAGED_BY.to_owned(),
                )])),
                ..ObjectMeta::default()
            },
            spec: Some(IPAddressSpec::default()),
        })
    }

    #[test]
    fn new_service_cidrs_get_the_finalizer_and_ready() {
        let mut bare = (*cidr("extra", &["10.1.0.0/24"], None, None)).clone();
        bare.metadata.finalizers = None;
        let (changes, _) = plan(&[Arc::new(bare)], &[], at(0));
        assert_eq!(changes, [Change::AddFinalizer("extra".into()), Change::Ready("extra".into())]);
        // Settled: nothing to write.
        let settled = cidr("extra", &["10.1.0.0/24"], None, Some(READY_MESSAGE));
        assert_eq!(plan(&[settled], &[], at(0)), (vec![], None));
        // The default's own message is replaced, as the forced apply does upstream.
        let default = cidr(
            "kubernetes",
            &["10.96.0.0/12"],
            None,
            Some("Kubernetes default Service CIDR is ready"),
        );
        assert_eq!(plan(&[default], &[], at(0)).0, [Change::Ready("kubernetes".into())]);
    }

    #[test]
    fn deletion_waits_for_orphans_and_the_grace_period() {
        let deleted = cidr("extra", &["10.1.0.0/24"], Some(0), Some(READY_MESSAGE));
        let default = cidr("kubernetes", &["10.96.0.0/12"], None, Some(READY_MESSAGE));
        let all = [deleted.clone(), default.clone()];
        // An IP of a Service in it and in no other ServiceCIDR blocks the deletion.
        let (changes, _) = plan(&all, &[service_ip("10.1.0.5"), service_ip("10.96.0.1")], at(20));
        assert_eq!(changes, [Change::Terminating("extra".into())]);
        // IPs outside it or not a Service's do not.
        let mut user = (*service_ip("10.1.0.6")).clone();
        user.metadata.labels = None;
        let free = [service_ip("10.96.0.1"), Arc::new(user)];
        assert_eq!(plan(&all, &free, at(3)), (vec![], Some(Duration::from_secs(7))));
        assert_eq!(plan(&all, &free, at(10)).0, [Change::RemoveFinalizer("extra".into())]);
        // A wider ServiceCIDR holding it holds its IPs too.
        let wider = cidr("wide", &["10.0.0.0/8"], None, Some(READY_MESSAGE));
        let (changes, _) = plan(&[deleted, wider], &[service_ip("10.1.0.5")], at(20));
        assert_eq!(changes, [Change::RemoveFinalizer("extra".into())]);
    }
}
