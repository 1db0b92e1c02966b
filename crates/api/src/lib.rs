//! The Kubernetes object model berth serves: pure data and functions, no async and no IO.
//!
//! - [`kinds`]: the registry of every served resource (group, version, kind, names, scope,
//!   short names, categories, verbs, subresources), as Kubernetes v1.33 reports it.
//! - [`discovery`]: the discovery documents built from that registry (`/api`, `/apis`, aggregated
//!   and legacy, the per-group-version resource lists) and the `Accept` negotiation between them.

pub mod discovery;
pub mod kinds;
