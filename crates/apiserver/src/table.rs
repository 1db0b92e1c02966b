//! Server-side `Table` responses (`Accept: application/json;as=Table;g=meta.k8s.io;v=v1`): what
//! `kubectl get` prints, since kubectl has no printers of its own.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use berth_api::kinds::ResourceType;
use berth_api::table::{IncludeObject, TableObject};
use serde_json::Value;

use crate::request::Query;
use crate::status::Status;

/// A `meta.k8s.io/v1` Table of `objects`, honouring `?includeObject=`.
pub(crate) fn build(
    resource: &ResourceType,
    objects: Vec<Value>,
    resource_version: &str,
    query: &Query,
) -> Value {
    if let Some(custom) = crate::crds::info(resource) {
        // `additionalPrinterColumns` (apiextensions-apiserver's table convertor).
        return custom.columns.table(objects, resource_version, include(query), now());
    }
    berth_api::table::table(resource, objects, resource_version, include(query), now())
}

/// A LIST's Table as a response: the bytes of [`build`]'s Table with `metadata.continue` set,
/// written without building the tree.
pub(crate) fn list(
    resource: &ResourceType,
    objects: Vec<TableObject>,
    resource_version: &str,
    continue_token: Option<&str>,
    query: &Query,
) -> Response {
    let include = include(query);
    match berth_api::table::table_json(
        resource,
        objects,
        resource_version,
        continue_token,
        include,
        now(),
    ) {
        Ok(body) => crate::resources::json_bytes_response(StatusCode::OK, body),
        Err(error) => {
            tracing::error!(%error, "writing a Table failed");
            Status::internal().into_response()
        }
    }
}

/// `?includeObject=`: `Metadata` unless `None` or `Object`.
fn include(query: &Query) -> IncludeObject {
    match query.get("includeObject") {
        Some("None") => IncludeObject::None,
        Some("Object") => IncludeObject::Object,
        _ => IncludeObject::Metadata,
    }
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}
