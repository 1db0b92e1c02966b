//! Discovery endpoints: `/api`, `/apis` (aggregated v2 or legacy, by `Accept`), `/api/v1`,
//! `/apis/{group}` and `/apis/{group}/{version}`.
//!
//! The documents come from `berth_api::discovery`, built from the kinds registry; this module
//! only negotiates, picks the content type and maps an unknown group or version to the
//! `NotFound` `Status`. `Vary: Accept` on `/api` and `/apis` keeps HTTP caches (kubectl keeps
//! one) from answering a legacy request with an aggregated body or the other way round.

use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRef, Path, State};
use axum::http::{HeaderMap, HeaderValue, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use berth_api::discovery::{self, AGGREGATED_DISCOVERY_CONTENT_TYPE, ExtraGroup, ExtraVersion};
use serde_json::Value;

use crate::crds::{Crds, Served};
use crate::status::Status;

/// The discovery routes, to merge into the server's router; custom resources come from the
/// state's [`Crds`].
pub(crate) fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Arc<Crds>: FromRef<S>,
{
    Router::new()
        .route("/api", get(core_root))
        .route("/apis", get(groups_root))
        .route("/api/v1", get(core_resources))
        .route("/apis/{group}", get(group))
        .route("/apis/{group}/{version}", get(group_resources))
}

/// `GET /api`: the aggregated core group, or `APIVersions`.
async fn core_root(uri: Uri, headers: HeaderMap) -> Response {
    if wants_aggregated(&headers) {
        return negotiated(
            AGGREGATED_DISCOVERY_CONTENT_TYPE,
            &discovery::aggregated_discovery(true, &[]),
        );
    }
    negotiated(JSON, &discovery::api_versions(server_address(&uri, &headers)))
}

/// `GET /apis`: every other group, aggregated, or `APIGroupList`.
async fn groups_root(State(crds): State<Arc<Crds>>, headers: HeaderMap) -> Response {
    let served = crds.served();
    let extra = Extra::of(&served);
    if wants_aggregated(&headers) {
        return negotiated(
            AGGREGATED_DISCOVERY_CONTENT_TYPE,
            &discovery::aggregated_discovery(false, &extra.groups()),
        );
    }
    negotiated(JSON, &discovery::api_group_list(&extra.groups()))
}

/// `GET /api/v1`.
async fn core_resources() -> Response {
    found(discovery::api_resource_list("", "v1", &[]))
}

/// `GET /apis/{group}`.
async fn group(State(crds): State<Arc<Crds>>, Path(group): Path<String>) -> Response {
    let served = crds.served();
    found(discovery::api_group(&group, &Extra::of(&served).groups()))
}

/// `GET /apis/{group}/{version}`.
async fn group_resources(
    State(crds): State<Arc<Crds>>,
    Path((group, version)): Path<(String, String)>,
) -> Response {
    let served = crds.served();
    found(discovery::api_resource_list(&group, &version, &Extra::of(&served).groups()))
}

/// The served custom resources as `berth_api::discovery` takes them.
struct Extra<'a> {
    served: &'a Served,
    versions: Vec<Vec<ExtraVersion<'a>>>,
}

impl<'a> Extra<'a> {
    fn of(served: &'a Served) -> Extra<'a> {
        let versions = served
            .groups
            .iter()
            .map(|g| {
                g.versions
                    .iter()
                    .map(|v| ExtraVersion { name: &v.version, resources: &v.resources })
                    .collect()
            })
            .collect();
        Extra { served, versions }
    }

    fn groups(&self) -> Vec<ExtraGroup<'_>> {
        self.served
            .groups
            .iter()
            .zip(&self.versions)
            .map(|(g, versions)| ExtraGroup { name: &g.name, versions })
            .collect()
    }
}

const JSON: &str = "application/json";

fn wants_aggregated(headers: &HeaderMap) -> bool {
    let accept = headers.get(header::ACCEPT).and_then(|value| value.to_str().ok());
    discovery::wants_aggregated(accept)
}

/// The address the client reached us at: the request target's authority (HTTP/2) or `Host`.
fn server_address<'a>(uri: &'a Uri, headers: &'a HeaderMap) -> Option<&'a str> {
    uri.authority()
        .map(|authority| authority.as_str())
        .or_else(|| headers.get(header::HOST).and_then(|value| value.to_str().ok()))
        .filter(|address| !address.is_empty())
}

/// A document whose body depends on `Accept`.
fn negotiated(content_type: &'static str, body: &Value) -> Response {
    let mut response = json(content_type, body);
    response.headers_mut().insert(header::VARY, HeaderValue::from_static("Accept"));
    response
}

fn found(body: Option<Value>) -> Response {
    match body {
        Some(body) => json(JSON, &body),
        None => Status::path_not_found().into_response(),
    }
}

fn json(content_type: &'static str, body: &Value) -> Response {
    ([(header::CONTENT_TYPE, content_type)], body.to_string()).into_response()
}

#[cfg(test)]
mod tests {
    use axum::body::{Body, to_bytes};
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    use super::*;

    const KUBECTL_ACCEPT: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";

    /// Sends one GET through the routes; answers status, content type, `Vary` and JSON body.
    async fn get(path: &str, accept: Option<&str>) -> (StatusCode, String, Option<String>, Value) {
        let mut request = Request::get(path).header(header::HOST, "127.0.0.1:6443");
        if let Some(accept) = accept {
            request = request.header(header::ACCEPT, accept);
        }
        let response = routes::<Arc<Crds>>()
            .with_state(Crds::new(Arc::new(berth_store::MemoryStore::new())))
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let header = |name| {
            response.headers().get(name).map(|v: &HeaderValue| v.to_str().unwrap().to_owned())
        };
        let content_type = header(header::CONTENT_TYPE).unwrap_or_default();
        let vary = header(header::VARY);
        let status = response.status();
        let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
        (status, content_type, vary, serde_json::from_slice(&body).unwrap())
    }

    #[tokio::test]
    async fn roots_are_aggregated_when_asked_with_the_exact_content_type() {
        for (path, core) in [("/api?timeout=32s", true), ("/apis?timeout=32s", false)] {
            let (status, content_type, vary, body) = get(path, Some(KUBECTL_ACCEPT)).await;
            assert_eq!(status, StatusCode::OK, "{path}");
            assert_eq!(content_type, AGGREGATED_DISCOVERY_CONTENT_TYPE, "{path}");
            assert_eq!(vary.as_deref(), Some("Accept"), "{path}");
            assert_eq!(body, discovery::aggregated_discovery(core, &[]), "{path}");
        }
    }

    #[tokio::test]
    async fn roots_are_legacy_otherwise() {
        let v2beta1_only = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
        for accept in [None, Some("application/json, */*"), Some(v2beta1_only)] {
            let (status, content_type, vary, body) = get("/api", accept).await;
            assert_eq!((status, content_type.as_str()), (StatusCode::OK, JSON), "{accept:?}");
            assert_eq!(vary.as_deref(), Some("Accept"));
            assert_eq!(body["kind"], "APIVersions");
            assert_eq!(
                body["serverAddressByClientCIDRs"],
                serde_json::json!([{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:6443"}])
            );
            let (status, content_type, _, body) = get("/apis", accept).await;
            assert_eq!((status, content_type.as_str()), (StatusCode::OK, JSON), "{accept:?}");
            assert_eq!(body, discovery::api_group_list(&[]));
        }
    }

    #[tokio::test]
    async fn resource_lists_and_groups() {
        let accept = Some("application/json, */*");
        let (status, content_type, _, body) = get("/api/v1?timeout=32s", accept).await;
        assert_eq!((status, content_type.as_str()), (StatusCode::OK, JSON));
        assert_eq!(body["groupVersion"], "v1");
        for (path, group) in
            [("/apis/apps/v1", "apps"), ("/apis/storage.k8s.io/v1", "storage.k8s.io")]
        {
            let (status, content_type, _, body) = get(path, accept).await;
            assert_eq!((status, content_type.as_str()), (StatusCode::OK, JSON), "{path}");
            assert_eq!(Some(body), discovery::api_resource_list(group, "v1", &[]), "{path}");
        }
        let (status, _, _, body) = get("/apis/apps", accept).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["kind"], "APIGroup");
        assert_eq!(body["preferredVersion"]["groupVersion"], "apps/v1");
    }

    #[tokio::test]
    async fn unknown_group_or_version_is_a_not_found_status() {
        let expected = serde_json::json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "the server could not find the requested resource", "reason": "NotFound",
            "details": {}, "code": 404,
        });
        for path in [
            "/apis/certificates.k8s.io/v1",
            "/apis/apps/v2",
            "/apis/flowcontrol.apiserver.k8s.io",
            "/apis/autoscaling/v2beta2",
        ] {
            let (status, content_type, _, body) = get(path, None).await;
            assert_eq!((status, content_type.as_str()), (StatusCode::NOT_FOUND, JSON), "{path}");
            assert_eq!(body, expected, "{path}");
        }
    }
}
