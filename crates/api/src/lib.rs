//! The Kubernetes object model berth serves: pure data and functions, no async and no IO.
//!
//! - [`kinds`]: the registry of every served resource (group, version, kind, names, scope,
//!   short names, categories, verbs, subresources), as Kubernetes v1.33 reports it.
//! - [`defaults`]: the values kube-apiserver fills in when a field is left out.
//! - [`apply`]: server-side apply and `managedFields` (field sets, merge, conflicts).
//! - [`validation`]: what kube-apiserver refuses (422 causes), immutable fields, unknown fields.
//! - [`strategic`]: strategic merge patch, driven by the v1.33 definitions' patch metadata.
//! - [`local_path`]: the names the volume controller and kubelets share for local-path volumes.
//! - [`net`]: IPv4 CIDR blocks (pod and Service ranges).
//! - [`quantity`]: resource quantities as exact numbers, and a pod's QoS class.
//! - [`rbac`]: RBAC rule matching, binding resolution, escalation checks and the bootstrap
//!   policy, as kube-apiserver's RBAC authorizer evaluates them.
//! - [`selector`]: label and field selectors, parsed and matched.
//! - [`table`]: server-side printing, the `meta.k8s.io/v1` `Table` `kubectl get` prints (columns
//!   and cells per kind, as kube-apiserver's printers compute them).
//! - [`duration`]: Go durations, as `time.ParseDuration` reads them.
//! - [`metatime`]: `metav1.Time` and `MicroTime`, as kube-apiserver decodes and re-encodes them.
//! - [`cron`]: cron schedules as CronJobs read them (robfig/cron's standard parser and `Next`).
//! - [`autoscaling`]: HorizontalPodAutoscalers' autoscaling/v1 ↔ v2 conversion and defaults.
//! - [`crd`]: CustomResourceDefinitions as objects: defaults, create/update preparation, the
//!   naming/establishing/deletion status kube-apiserver's controllers compute.
//! - [`custom`]: custom resources under their CRD version: the structural schema's pruning,
//!   defaulting and validation, and the printer columns of their Table.
//! - [`quota`]: ResourceQuota usage, the quota admission's decision and the controller's
//!   recalculation (pure).
//! - [`json`]: JSON value helpers for the write path (an equality without a hash per key).
//! - [`discovery`]: the discovery documents built from that registry (`/api`, `/apis`, aggregated
//!   and legacy, the per-group-version resource lists) and the `Accept` negotiation between them.

pub mod apply;
pub mod autoscaling;
pub mod crd;
pub mod cron;
pub mod custom;
pub mod defaults;
pub mod discovery;
pub mod duration;
pub mod json;
pub mod kinds;
pub mod local_path;
pub mod metatime;
pub mod net;
pub mod quantity;
pub mod quota;
pub mod rbac;
pub mod selector;
pub mod strategic;
pub mod table;
pub mod validation;
