//! A small Prometheus registry: request counts and latencies, served at `/metrics`.
//!
//! The [`observe`] middleware wraps every request (authenticated or not) in a tracing span and
//! records it here. Labels are bounded: the verb is one of a fixed set of methods and the path
//! is reduced to its group (`/api`, `/apis`, `/version`, …), never the full path.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::{Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::time::Instant;
use tracing::Instrument as _;

/// Upper bounds of the latency histogram's buckets, in seconds (kube-apiserver's, trimmed).
const BUCKETS: [f64; 12] = [0.005, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

/// The registry. Cheap to share; every update takes one short lock.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// (verb, path group, code) → count.
    requests: BTreeMap<(&'static str, &'static str, u16), u64>,
    /// (verb, path group) → latency histogram.
    latency: BTreeMap<(&'static str, &'static str), Histogram>,
}

#[derive(Debug, Default)]
struct Histogram {
    /// Non-cumulative counts per bucket in `BUCKETS`; the rest fall in `+Inf` only.
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Metrics {
    fn record(&self, verb: &'static str, group: &'static str, code: u16, seconds: f64) {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        *inner.requests.entry((verb, group, code)).or_default() += 1;
        let histogram = inner.latency.entry((verb, group)).or_default();
        if let Some(bucket) = BUCKETS.iter().position(|bound| seconds <= *bound) {
            histogram.buckets[bucket] += 1;
        }
        histogram.count += 1;
        histogram.sum += seconds;
    }

    /// The registry in the Prometheus text exposition format (0.0.4).
    pub(crate) fn render(&self) -> String {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let mut out = String::new();
        out.push_str(
            "# HELP apiserver_request_total Counter of apiserver requests broken out by verb, \
             path group and HTTP response code.\n# TYPE apiserver_request_total counter\n",
        );
        for ((verb, group, code), count) in &inner.requests {
            let _ = writeln!(
                out,
                "apiserver_request_total{{verb=\"{verb}\",group=\"{group}\",code=\"{code}\"}} {count}"
            );
        }
        out.push_str(
            "# HELP apiserver_request_duration_seconds Response latency distribution in seconds \
             for each verb and path group.\n# TYPE apiserver_request_duration_seconds histogram\n",
        );
        for ((verb, group), histogram) in &inner.latency {
            let labels = format!("verb=\"{verb}\",group=\"{group}\"");
            let mut cumulative = 0;
            for (bound, count) in BUCKETS.iter().zip(histogram.buckets) {
                cumulative += count;
                let _ = writeln!(
                    out,
                    "apiserver_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "apiserver_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}\n\
                 apiserver_request_duration_seconds_sum{{{labels}}} {}\n\
                 apiserver_request_duration_seconds_count{{{labels}}} {}",
                histogram.count, histogram.sum, histogram.count
            );
        }
        out
    }
}

/// `GET /metrics`.
pub(crate) async fn serve(State(metrics): State<Arc<Metrics>>) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], metrics.render())
        .into_response()
}

/// The outermost middleware: a span per request (method, path, status) and its metrics.
pub(crate) async fn observe(
    State(metrics): State<Arc<Metrics>>,
    request: Request,
    next: Next,
) -> Response {
    let verb = verb(request.method());
    let group = path_group(request.uri().path());
    let span = tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        status = tracing::field::Empty,
        user = tracing::field::Empty,
    );
    let started = Instant::now();
    let response = next.run(request).instrument(span.clone()).await;
    let elapsed = started.elapsed();
    let code = response.status().as_u16();
    span.record("status", code);
    tracing::debug!(parent: &span, elapsed_ms = elapsed.as_millis(), "answered");
    metrics.record(verb, group, code, elapsed.as_secs_f64());
    response
}

fn verb(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// The first path segment, when it is one the server knows; `other` for the rest.
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
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_cumulative_buckets() {
        let metrics = Metrics::default();
        metrics.record("GET", "/version", 200, 0.001);
        metrics.record("GET", "/version", 200, 0.2);
        metrics.record("GET", "other", 404, 100.0);
        let text = metrics.render();
        let total = "apiserver_request_total";
        assert!(
            text.contains(&format!("{total}{{verb=\"GET\",group=\"/version\",code=\"200\"}} 2\n"))
        );
        assert!(
            text.contains(&format!("{total}{{verb=\"GET\",group=\"other\",code=\"404\"}} 1\n"))
        );
        let bucket = "apiserver_request_duration_seconds_bucket{verb=\"GET\",group=\"/version\"";
        assert!(text.contains(&format!("{bucket},le=\"0.005\"}} 1\n")), "{text}");
        assert!(text.contains(&format!("{bucket},le=\"0.25\"}} 2\n")), "{text}");
        assert!(text.contains(&format!("{bucket},le=\"+Inf\"}} 2\n")), "{text}");
        let slow = "apiserver_request_duration_seconds_bucket{verb=\"GET\",group=\"other\"";
        assert!(text.contains(&format!("{slow},le=\"60\"}} 0\n")), "{text}");
        assert!(text.contains(&format!("{slow},le=\"+Inf\"}} 1\n")), "{text}");
    }

    #[test]
    fn path_groups_are_bounded() {
        assert_eq!(path_group("/api/v1/namespaces"), "/api");
        assert_eq!(path_group("/apis/apps/v1"), "/apis");
        assert_eq!(path_group("/readyz"), "/readyz");
        assert_eq!(path_group("/"), "other");
        assert_eq!(path_group("/x/../../etc"), "other");
    }
}
