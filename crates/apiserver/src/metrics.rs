//! The Prometheus registry served at `/metrics`, with kube-apiserver's metric names and labels.
//!
//! - `apiserver_request_total{verb,dry_run,group,version,resource,subresource,scope,component,code}`
//!   and `apiserver_request_duration_seconds{verb,dry_run,group,version,resource,subresource,
//!   scope,component}` (staging/src/k8s.io/apiserver/pkg/endpoints/metrics/metrics.go);
//! - `apiserver_longrunning_requests{verb,group,version,resource,subresource,scope,component}`,
//!   open watches and connects (it replaced `apiserver_registered_watchers`, removed in 1.25);
//! - `etcd_request_duration_seconds{operation,type}`, every store call timed by
//!   `instrumented.rs` (staging/src/k8s.io/apiserver/pkg/storage/etcd3/metrics, the name kept
//!   whichever backend serves);
//! - `apiserver_storage_objects{resource}`, counted from the store when scraped, at most once a
//!   minute.
//!
//! The [`observe`] middleware wraps every request (authenticated or not) in a tracing span and
//! records it. Labels are bounded: verbs are Kubernetes' fixed set, resources come from the
//! kinds registry (`request::parse_path`), and any other path is reduced to its first segment
//! (`/healthz`, `/api`, …) or `other`, never a raw path or an object name. Each request takes
//! one short lock to record; open watches a second one when they start and end.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, PoisonError};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use berth_api::kinds;
use berth_store::{RangeRequest, Store};
use futures::StreamExt as _;
use tokio::time::Instant;
use tracing::Instrument as _;

use crate::request;

/// kube-apiserver's buckets for request and etcd latencies, in seconds.
const BUCKETS: [f64; 23] = [
    0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0,
    10.0, 15.0, 20.0, 30.0, 45.0, 60.0,
];

/// Stored objects by group-resource (`apiserver_storage_objects`).
type ObjectCounts = Vec<(String, u64)>;

/// How long an `apiserver_storage_objects` count is served before it is taken again.
const OBJECT_COUNT_INTERVAL: std::time::Duration = std::time::Duration::from_secs(60);

/// The `component` label: every request is served by the API server itself.
const COMPONENT: &str = "apiserver";

/// What a request is, as kube-apiserver labels it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct RequestLabels {
    verb: &'static str,
    dry_run: &'static str,
    group: &'static str,
    version: &'static str,
    resource: &'static str,
    subresource: &'static str,
    scope: &'static str,
}

impl RequestLabels {
    /// Watches and connects (exec, attach, port-forward, proxy) are long-running.
    fn long_running(&self) -> bool {
        matches!(self.verb, "WATCH" | "CONNECT")
    }
}

/// The registry. Cheap to share; every update takes one short lock.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    requests: Mutex<Requests>,
    long_running: Mutex<HashMap<RequestLabels, i64>>,
    /// (operation, type) → store call latency.
    store: Mutex<HashMap<(&'static str, &'static str), Histogram>>,
    /// The last `apiserver_storage_objects` count and when it was taken.
    objects: tokio::sync::Mutex<Option<(Instant, ObjectCounts)>>,
    /// The custom resources, to label their requests (set once at start).
    pub(crate) custom: std::sync::OnceLock<Arc<crate::crds::Crds>>,
}

#[derive(Debug, Default)]
struct Requests {
    counts: HashMap<(RequestLabels, u16), u64>,
    latency: HashMap<RequestLabels, Histogram>,
}

#[derive(Debug, Default, Clone)]
struct Histogram {
    /// Non-cumulative counts per bucket in `BUCKETS`; the rest fall in `+Inf` only.
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        if let Some(bucket) = BUCKETS.iter().position(|bound| seconds <= *bound) {
            self.buckets[bucket] += 1;
        }
        self.count += 1;
        self.sum += seconds;
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let mut cumulative = 0;
        for (bound, count) in BUCKETS.iter().zip(self.buckets) {
            cumulative += count;
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{bound}\"}} {cumulative}");
        }
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels},le=\"+Inf\"}} {}\n{name}_sum{{{labels}}} {}\n{name}_count{{{labels}}} {}",
            self.count, self.sum, self.count
        );
    }
}

impl Metrics {
    fn record(&self, labels: RequestLabels, code: u16, seconds: f64) {
        let mut requests = self.requests.lock().unwrap_or_else(PoisonError::into_inner);
        *requests.counts.entry((labels, code)).or_default() += 1;
        requests.latency.entry(labels).or_default().observe(seconds);
    }

    fn long_running(&self, labels: RequestLabels, delta: i64) {
        let labels = RequestLabels { dry_run: "", ..labels };
        let mut gauge = self.long_running.lock().unwrap_or_else(PoisonError::into_inner);
        *gauge.entry(labels).or_default() += delta;
    }

    /// Records one store call (`instrumented.rs`).
    pub(crate) fn record_store(&self, operation: &'static str, kind: &'static str, seconds: f64) {
        let mut store = self.store.lock().unwrap_or_else(PoisonError::into_inner);
        store.entry((operation, kind)).or_default().observe(seconds);
    }

    /// The registry in the Prometheus text exposition format (0.0.4); `objects` are the
    /// stored object counts by resource.
    pub(crate) fn render(&self, objects: &[(String, u64)]) -> String {
        let mut out = String::new();
        let (mut counts, mut latency) = {
            let requests = self.requests.lock().unwrap_or_else(PoisonError::into_inner);
            (
                requests.counts.iter().map(|(k, v)| (*k, *v)).collect::<Vec<_>>(),
                requests.latency.iter().map(|(k, v)| (*k, v.clone())).collect::<Vec<_>>(),
            )
        };
        counts.sort_unstable_by_key(|a| a.0);
        latency.sort_unstable_by_key(|a| a.0);
        out.push_str(
            "# HELP apiserver_request_total [STABLE] Counter of apiserver requests broken out for \
             each verb, dry run value, group, version, resource, scope, component, and HTTP \
             response code.\n# TYPE apiserver_request_total counter\n",
        );
        for ((labels, code), count) in &counts {
            let _ = writeln!(
                out,
                "apiserver_request_total{{{},code=\"{code}\"}} {count}",
                request_labels(labels, true)
            );
        }
        out.push_str(
            "# HELP apiserver_request_duration_seconds [STABLE] Response latency distribution \
             in seconds for each verb, dry run value, group, version, resource, subresource, \
             scope and component.\n# TYPE apiserver_request_duration_seconds histogram\n",
        );
        for (labels, histogram) in &latency {
            let name = "apiserver_request_duration_seconds";
            histogram.render(&mut out, name, &request_labels(labels, true));
        }

        let mut gauge: Vec<_> = {
            let gauge = self.long_running.lock().unwrap_or_else(PoisonError::into_inner);
            gauge.iter().map(|(k, v)| (*k, *v)).collect()
        };
        gauge.sort_unstable_by_key(|a| a.0);
        out.push_str(
            "# HELP apiserver_longrunning_requests [STABLE] Gauge of all active long-running \
             apiserver requests broken out by verb, group, version, resource, scope and \
             component. Not all requests are tracked this way.\n\
             # TYPE apiserver_longrunning_requests gauge\n",
        );
        for (labels, value) in &gauge {
            let _ = writeln!(
                out,
                "apiserver_longrunning_requests{{{}}} {value}",
                request_labels(labels, false)
            );
        }

        let mut store: Vec<_> = {
            let store = self.store.lock().unwrap_or_else(PoisonError::into_inner);
            store.iter().map(|(k, v)| (*k, v.clone())).collect()
        };
        store.sort_unstable_by_key(|a| a.0);
        out.push_str(
            "# HELP etcd_request_duration_seconds [ALPHA] Etcd request latency in seconds for \
             each operation and object type.\n# TYPE etcd_request_duration_seconds histogram\n",
        );
        for ((operation, kind), histogram) in &store {
            let labels = format!("operation=\"{operation}\",type=\"{kind}\"");
            histogram.render(&mut out, "etcd_request_duration_seconds", &labels);
        }

        out.push_str(
            "# HELP apiserver_storage_objects [STABLE] Number of stored objects at the time of \
             last check split by kind.\n# TYPE apiserver_storage_objects gauge\n",
        );
        for (resource, count) in objects {
            let _ = writeln!(out, "apiserver_storage_objects{{resource=\"{resource}\"}} {count}");
        }
        out
    }
}

fn request_labels(labels: &RequestLabels, dry_run: bool) -> String {
    let RequestLabels { verb, dry_run: dry, group, version, resource, subresource, scope } = labels;
    let mut out = format!("verb=\"{verb}\",");
    if dry_run {
        let _ = write!(out, "dry_run=\"{dry}\",");
    }
    let _ = write!(
        out,
        "group=\"{group}\",version=\"{version}\",resource=\"{resource}\",\
         subresource=\"{subresource}\",scope=\"{scope}\",component=\"{COMPONENT}\""
    );
    out
}

/// The `type` label of a store key (`/registry/<group>/<plural>/…`): `pods`,
/// `statefulsets.apps`, … as kube-apiserver's group-resource; `other` for keys of no served
/// resource.
pub(crate) fn key_type(key: &str) -> &'static str {
    let mut parts = key.strip_prefix("/registry/").unwrap_or("").splitn(3, '/');
    let (Some(group), Some(plural)) = (parts.next(), parts.next()) else {
        return "other";
    };
    let group = if group == "core" { "" } else { group };
    kinds::all()
        .iter()
        .find(|r| r.group == group && r.plural == plural)
        .map_or("other", |r| r.storage_type())
}

/// The group-resource string kube-apiserver labels storage metrics with.
trait StorageType {
    fn storage_type(&self) -> &'static str;
}

impl StorageType for kinds::ResourceType {
    fn storage_type(&self) -> &'static str {
        // Interned once per resource: the registry is static, so the set is bounded.
        static NAMES: std::sync::OnceLock<HashMap<(&'static str, &'static str), &'static str>> =
            std::sync::OnceLock::new();
        let names = NAMES.get_or_init(|| {
            kinds::all()
                .iter()
                .map(|r| {
                    let name = if r.group.is_empty() {
                        r.plural.to_owned()
                    } else {
                        format!("{}.{}", r.plural, r.group)
                    };
                    ((r.group, r.plural), &*Box::leak(name.into_boxed_str()))
                })
                .collect()
        });
        names.get(&(self.group, self.plural)).copied().unwrap_or("other")
    }
}

/// `GET /metrics`.
pub(crate) async fn serve(
    State(metrics): State<Arc<Metrics>>,
    State(store): State<Arc<dyn Store>>,
) -> Response {
    let objects = {
        // Counting reads every object: at most once a minute, as kube-apiserver's tracker.
        let mut cached = metrics.objects.lock().await;
        match &*cached {
            Some((counted, objects)) if counted.elapsed() < OBJECT_COUNT_INTERVAL => {
                objects.clone()
            }
            _ => {
                let custom = metrics.custom.get().map(|crds| crds.served());
                let objects = count_objects(&*store, custom).await;
                *cached = Some((Instant::now(), objects.clone()));
                objects
            }
        }
    };
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], metrics.render(&objects))
        .into_response()
}

/// Objects stored per resource (`apiserver_storage_objects`), read page by page: the static
/// kinds', then the served custom resources' (one count per resource, whatever its versions).
/// A store error leaves the resource out rather than failing the scrape.
async fn count_objects(
    store: &dyn Store,
    custom: Option<Arc<crate::crds::Served>>,
) -> ObjectCounts {
    let mut counts: Vec<(String, u64)> = Vec::new();
    for resource in kinds::all() {
        // Reviews are never stored; converted resources (events.k8s.io Events, autoscaling/v1
        // HorizontalPodAutoscalers) share their storage's objects, counted once.
        if !resource.verbs.contains(&"list")
            || crate::conversion::is_converted(resource)
            || counts.iter().any(|(name, _)| name == resource.storage_type())
        {
            continue;
        }
        let prefix = crate::resources::prefix(resource, None);
        if let Some(count) = count_prefix(store, prefix).await {
            counts.push((resource.storage_type().to_owned(), count));
        }
    }
    let custom = custom.iter().flat_map(|served| served.groups.clone());
    for resource in custom.flat_map(|group| group.versions).flat_map(|version| version.resources) {
        let name = format!("{}.{}", resource.plural, resource.group);
        if counts.iter().any(|(counted, _)| *counted == name) {
            continue;
        }
        let prefix = crate::resources::prefix(resource, None);
        if let Some(count) = count_prefix(store, prefix).await {
            counts.push((name, count));
        }
    }
    counts.sort();
    counts
}

/// The objects stored under `prefix`; `None` if the store failed.
async fn count_prefix(store: &dyn Store, prefix: String) -> Option<u64> {
    let mut request = RangeRequest::prefix(prefix);
    request.limit = Some(1000);
    let mut count = 0u64;
    loop {
        let page = store.range(&request).await.ok()?;
        count += page.kvs.len() as u64;
        match page.kvs.last() {
            Some(last) if page.more => {
                request.start_after = Some(last.key.clone());
                request.revision = Some(page.revision);
            }
            _ => return Some(count),
        }
    }
}

/// The outermost middleware: a span per request (method, path, status) and its metrics.
pub(crate) async fn observe(
    State(metrics): State<Arc<Metrics>>,
    request: Request,
    next: Next,
) -> Response {
    let custom = metrics.custom.get().map(|crds| crds.served()).unwrap_or_default();
    let (method, uri, headers) = (request.method(), request.uri(), request.headers());
    let labels = classify(&custom, method, uri.path(), uri.query(), headers);
    let span = tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        status = tracing::field::Empty,
        user = tracing::field::Empty,
    );
    let started = Instant::now();
    let long_running = labels.long_running().then(|| LongRunning::start(&metrics, labels));
    let response = next.run(request).instrument(span.clone()).await;
    let elapsed = started.elapsed();
    let code = response.status().as_u16();
    span.record("status", code);
    tracing::debug!(parent: &span, elapsed_ms = elapsed.as_millis(), "answered");
    metrics.record(labels, code, elapsed.as_secs_f64());
    match long_running {
        // The gauge counts the request until its body (the watch stream) ends or is dropped.
        // An error answer is complete already and keeps its length.
        Some(guard) if response.status().is_success() => {
            let (parts, body) = response.into_parts();
            let stream = body.into_data_stream().map(move |chunk| {
                let _open = &guard;
                chunk
            });
            Response::from_parts(parts, Body::from_stream(stream))
        }
        _ => response,
    }
}

/// Holds one count of `apiserver_longrunning_requests` while alive.
#[derive(Debug)]
struct LongRunning {
    metrics: Arc<Metrics>,
    labels: RequestLabels,
}

impl LongRunning {
    fn start(metrics: &Arc<Metrics>, labels: RequestLabels) -> LongRunning {
        metrics.long_running(labels, 1);
        LongRunning { metrics: metrics.clone(), labels }
    }
}

impl Drop for LongRunning {
    fn drop(&mut self) {
        self.metrics.long_running(self.labels, -1);
    }
}

/// Subresources served over a connection upgrade: kube-apiserver's CONNECT verb.
const CONNECT_SUBRESOURCES: [&str; 4] = ["exec", "attach", "portforward", "proxy"];

/// Labels a request as kube-apiserver's `RequestInfo` and `metrics.CleanVerb`/`CleanScope`
/// would.
pub(crate) fn classify(
    custom: &crate::crds::Served,
    method: &Method,
    path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
) -> RequestLabels {
    let Some(resource) = request::parse_path(path, custom) else {
        let verb = match *method {
            Method::GET | Method::HEAD => "GET",
            Method::POST => "POST",
            Method::PUT => "PUT",
            Method::PATCH => "PATCH",
            Method::DELETE => "DELETE",
            Method::OPTIONS => "OPTIONS",
            _ => "other",
        };
        return RequestLabels {
            verb,
            dry_run: "",
            group: "",
            version: "",
            resource: "",
            subresource: path_group(path),
            scope: "",
        };
    };
    let named = resource.name.is_some();
    let subresource = resource
        .subresource
        .as_deref()
        .and_then(|sub| resource.resource.subresource(sub))
        .map_or("", |sub| sub.name);
    let verb = if CONNECT_SUBRESOURCES.contains(&subresource) {
        "CONNECT"
    } else {
        match *method {
            Method::GET | Method::HEAD if matches!(param(query, "watch"), Some("true" | "1")) => {
                "WATCH"
            }
            Method::GET | Method::HEAD if named => "GET",
            Method::GET | Method::HEAD => "LIST",
            Method::POST => "POST",
            Method::PUT => "PUT",
            Method::PATCH if is_apply(headers) => "APPLY",
            Method::PATCH => "PATCH",
            Method::DELETE if named => "DELETE",
            Method::DELETE => "DELETECOLLECTION",
            _ => "other",
        }
    };
    // metrics.go CleanScope: a name or a create → resource, else namespace, else cluster.
    let scope = if named || verb == "POST" {
        "resource"
    } else if resource.namespace.is_some() {
        "namespace"
    } else {
        "cluster"
    };
    RequestLabels {
        verb,
        dry_run: if param(query, "dryRun").is_some() { "All" } else { "" },
        group: resource.resource.group,
        version: resource.resource.version,
        resource: resource.resource.plural,
        subresource,
        scope,
    }
}

/// A query parameter's last non-empty value, as `request::Query` reads it, without
/// allocating (the keys and values labelled here are never percent-encoded).
fn param<'a>(query: Option<&'a str>, key: &str) -> Option<&'a str> {
    query?
        .split('&')
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (k == key).then_some(v)
        })
        .next_back()
        .filter(|v| !v.is_empty())
}

fn is_apply(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/apply-patch"))
}

/// A non-resource path as a bounded label: its first segment when the server knows it,
/// `other` for the rest.
fn path_group(path: &str) -> &'static str {
    let first = path.trim_start_matches('/').split('/').next().unwrap_or("");
    match first {
        "api" => "/api",
        "apis" => "/apis",
        "version" => "/version",
        "healthz" => "/healthz",
        "livez" => "/livez",
        "readyz" => "/readyz",
        "metrics" => "/metrics",
        "openapi" => "/openapi",
        ".well-known" => "/.well-known",
        "openid" => "/openid",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(method: Method, path_and_query: &str, content_type: Option<&str>) -> String {
        let (path, query) = match path_and_query.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (path_and_query, None),
        };
        let mut headers = HeaderMap::new();
        if let Some(content_type) = content_type {
            headers.insert(header::CONTENT_TYPE, content_type.parse().unwrap());
        }
        request_labels(&classify(&Default::default(), &method, path, query, &headers), true)
    }

    fn expect(verb: &str, group: &str, resource: &str, sub: &str, scope: &str) -> String {
        let version = if verb.is_empty() { "" } else { "v1" };
        format!(
            "verb=\"{verb}\",dry_run=\"\",group=\"{group}\",version=\"{version}\",\
             resource=\"{resource}\",subresource=\"{sub}\",scope=\"{scope}\",component=\"apiserver\""
        )
    }

    #[test]
    fn requests_are_labelled_as_kube_apiserver_labels_them() {
        let cases = [
            (
                Method::GET,
                "/api/v1/namespaces/s/pods",
                None,
                expect("LIST", "", "pods", "", "namespace"),
            ),
            (
                Method::GET,
                "/api/v1/pods?watch=true",
                None,
                expect("WATCH", "", "pods", "", "cluster"),
            ),
            (
                Method::GET,
                "/api/v1/namespaces/s/pods/web-0",
                None,
                expect("GET", "", "pods", "", "resource"),
            ),
            (
                Method::POST,
                "/api/v1/namespaces/s/pods",
                None,
                expect("POST", "", "pods", "", "resource"),
            ),
            (
                Method::POST,
                "/api/v1/namespaces/s/pods/web-0/binding",
                None,
                expect("POST", "", "pods", "binding", "resource"),
            ),
            (
                Method::PUT,
                "/apis/apps/v1/namespaces/s/statefulsets/web/status",
                None,
                expect("PUT", "apps", "statefulsets", "status", "resource"),
            ),
            (
                Method::PATCH,
                "/apis/apps/v1/namespaces/s/statefulsets/web",
                Some("application/merge-patch+json"),
                expect("PATCH", "apps", "statefulsets", "", "resource"),
            ),
            (
                Method::PATCH,
                "/apis/apps/v1/namespaces/s/statefulsets/web?fieldManager=k",
                Some("application/apply-patch+yaml"),
                expect("APPLY", "apps", "statefulsets", "", "resource"),
            ),
            (
                Method::DELETE,
                "/api/v1/namespaces/s/configmaps/c",
                None,
                expect("DELETE", "", "configmaps", "", "resource"),
            ),
            (
                Method::DELETE,
                "/api/v1/namespaces/s/configmaps",
                None,
                expect("DELETECOLLECTION", "", "configmaps", "", "namespace"),
            ),
            (
                Method::GET,
                "/api/v1/namespaces/s/pods/web-0/exec?command=ls",
                None,
                expect("CONNECT", "", "pods", "exec", "resource"),
            ),
            (Method::GET, "/api/v1/nodes", None, expect("LIST", "", "nodes", "", "cluster")),
            // Non-resource paths: bounded, never the raw path.
            (
                Method::GET,
                "/readyz",
                None,
                expect("GET", "", "", "/readyz", "").replace("version=\"v1\"", "version=\"\""),
            ),
            (
                Method::GET,
                "/api/v1/namespaces/s/frobs/x",
                None,
                expect("GET", "", "", "/api", "").replace("version=\"v1\"", "version=\"\""),
            ),
            (
                Method::GET,
                "/openid/v1/jwks",
                None,
                expect("GET", "", "", "/openid", "").replace("version=\"v1\"", "version=\"\""),
            ),
            (
                Method::POST,
                "/apis/authentication.k8s.io/v1/tokenreviews",
                None,
                expect("POST", "authentication.k8s.io", "tokenreviews", "", "resource"),
            ),
            (
                Method::GET,
                "/x/../../etc/passwd",
                None,
                expect("GET", "", "", "other", "").replace("version=\"v1\"", "version=\"\""),
            ),
        ];
        for (method, path, content_type, expected) in cases {
            assert_eq!(labels(method, path, content_type), expected, "{path}");
        }
        let dry = labels(Method::POST, "/api/v1/namespaces/s/pods?dryRun=All", None);
        assert!(dry.contains("dry_run=\"All\""), "{dry}");
    }

    #[test]
    fn renders_counters_gauges_and_cumulative_buckets() {
        let metrics = Metrics::default();
        let get = classify(
            &Default::default(),
            &Method::GET,
            "/api/v1/namespaces/s/pods/p",
            None,
            &HeaderMap::new(),
        );
        metrics.record(get, 200, 0.001);
        metrics.record(get, 200, 0.3);
        metrics.record(get, 404, 100.0);
        let watch = classify(
            &Default::default(),
            &Method::GET,
            "/api/v1/pods",
            Some("watch=1"),
            &HeaderMap::new(),
        );
        let first = LongRunning::start(&Arc::new(Metrics::default()), watch);
        drop(first);
        let metrics = Arc::new(metrics);
        let open = LongRunning::start(&metrics, watch);
        let closed = LongRunning::start(&metrics, watch);
        drop(closed);
        metrics.record_store("get", key_type("/registry/core/pods/s/p"), 0.002);
        let text = metrics.render(&[("pods".to_owned(), 7)]);
        let pod = "group=\"\",version=\"v1\",resource=\"pods\",subresource=\"\",scope=\"resource\",\
                   component=\"apiserver\"";
        let total = format!("apiserver_request_total{{verb=\"GET\",dry_run=\"\",{pod}");
        assert!(text.contains(&format!("{total},code=\"200\"}} 2\n")), "{text}");
        assert!(text.contains(&format!("{total},code=\"404\"}} 1\n")), "{text}");
        let bucket =
            format!("apiserver_request_duration_seconds_bucket{{verb=\"GET\",dry_run=\"\",{pod}");
        assert!(text.contains(&format!("{bucket},le=\"0.005\"}} 1\n")), "{text}");
        assert!(text.contains(&format!("{bucket},le=\"0.4\"}} 2\n")), "{text}");
        assert!(text.contains(&format!("{bucket},le=\"60\"}} 2\n")), "{text}");
        assert!(text.contains(&format!("{bucket},le=\"+Inf\"}} 3\n")), "{text}");
        assert!(
            text.contains(
                "apiserver_longrunning_requests{verb=\"WATCH\",group=\"\",version=\"v1\",\
                 resource=\"pods\",subresource=\"\",scope=\"cluster\",component=\"apiserver\"} 1\n"
            ),
            "{text}"
        );
        drop(open);
        assert!(metrics.render(&[]).contains("scope=\"cluster\",component=\"apiserver\"} 0\n"));
        assert!(
            text.contains("etcd_request_duration_seconds_bucket{operation=\"get\",type=\"pods\",le=\"0.005\"} 1\n"),
            "{text}"
        );
        assert!(text.contains("apiserver_storage_objects{resource=\"pods\"} 7\n"), "{text}");
    }

    #[test]
    fn query_parameters_read_as_request_query_reads_them() {
        assert_eq!(param(Some("watch=1&limit=5"), "watch"), Some("1"));
        assert_eq!(param(Some("watch=false&watch=true"), "watch"), Some("true"));
        assert_eq!(param(Some("watch="), "watch"), None);
        assert_eq!(param(Some("watchx=1&dryRun=All"), "watch"), None);
        assert_eq!(param(Some("dryRun"), "dryRun"), None);
        assert_eq!(param(None, "watch"), None);
    }

    #[test]
    fn store_keys_map_to_bounded_group_resources() {
        assert_eq!(key_type("/registry/core/pods/s/web-0"), "pods");
        assert_eq!(key_type("/registry/apps/statefulsets/s/web"), "statefulsets.apps");
        assert_eq!(key_type("/registry/core/namespaces/s"), "namespaces");
        assert_eq!(key_type("/registry/berth.dev/serviceips/10.96.0.1"), "other");
        assert_eq!(key_type("/registry/core/"), "other");
        assert_eq!(key_type("garbage"), "other");
    }
}
