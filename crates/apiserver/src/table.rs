//! Server-side `Table` responses (`Accept: application/json;as=Table;g=meta.k8s.io;v=v1`): what
//! `kubectl get` prints, since kubectl has no printers of its own.

use berth_api::kinds::ResourceType;
use serde_json::Value;

use crate::request::Query;

/// A `meta.k8s.io/v1` Table of `objects`, honouring `?includeObject=`.
pub(crate) fn build(
    resource: &ResourceType,
    objects: Vec<Value>,
    resource_version: &str,
    query: &Query,
) -> Value {
    let include = match query.get("includeObject") {
        Some("None") => berth_api::table::IncludeObject::None,
        Some("Object") => berth_api::table::IncludeObject::Object,
        _ => berth_api::table::IncludeObject::Metadata,
    };
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    berth_api::table::table(resource, objects, resource_version, include, now)
}
