//! `/openapi/v3`: just enough OpenAPI for kubectl to trust server-side field validation.
//!
//! kubectl's `create -f` and `apply` look, in the v3 document of the object's group-version,
//! for a `patch` operation tagged with the object's group-version-kind that takes a
//! `fieldValidation` query parameter; finding it, they send `fieldValidation=Strict` and leave
//! validation to the server. Without it they fail (kubectl-wire.md §4). Full schemas, which
//! `kubectl explain` needs, come later. `/openapi/v2` stays 404: kubectl only accepts it as
//! protobuf.

use axum::Router;
use axum::extract::Path;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use berth_api::kinds;
use serde_json::{Map, Value, json};

use crate::status::Status;

/// Changes when the served resources change, so kubectl's cache of the documents is refreshed.
const HASH: &str = "berth-2";

pub(crate) fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/openapi/v3", get(index))
        .route("/openapi/v3/api/{version}", get(core_document))
        .route("/openapi/v3/apis/{group}/{version}", get(group_document))
}

async fn index() -> Response {
    let mut paths = Map::new();
    for group in kinds::groups() {
        for version in group.versions {
            let gv = if group.name.is_empty() {
                format!("api/{version}")
            } else {
                format!("apis/{}/{version}", group.name)
            };
            let url = format!("/openapi/v3/{gv}?hash={HASH}");
            paths.insert(gv, json!({ "serverRelativeURL": url }));
        }
    }
    json_response(&json!({ "paths": paths }))
}

async fn core_document(Path(version): Path<String>) -> Response {
    document("", &version)
}

async fn group_document(Path((group, version)): Path<(String, String)>) -> Response {
    document(&group, &version)
}

fn document(group: &str, version: &str) -> Response {
    let mut paths = Map::new();
    let root = if group.is_empty() {
        format!("/api/{version}")
    } else {
        format!("/apis/{group}/{version}")
    };
    for resource in kinds::resources_in(group, version) {
        let path = if resource.namespaced() {
            format!("{root}/namespaces/{{namespace}}/{}/{{name}}", resource.plural)
        } else {
            format!("{root}/{}/{{name}}", resource.plural)
        };
        paths.insert(
            path,
            json!({ "patch": {
                "x-kubernetes-group-version-kind":
                    { "group": resource.group, "version": resource.version, "kind": resource.kind },
                "parameters": [ { "name": "fieldValidation", "in": "query", "schema": { "type": "string" } } ],
                "responses": { "200": { "description": "OK" } },
            }}),
        );
    }
    if paths.is_empty() {
        return Status::path_not_found().into_response();
    }
    json_response(&json!({
        "openapi": "3.0.0",
        "info": { "title": "Kubernetes", "version": "v1.33.0" },
        "paths": paths,
        "components": { "schemas": {} },
    }))
}

fn json_response(value: &Value) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], value.to_string()).into_response()
}
