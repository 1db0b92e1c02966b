//! The kubelet's core/v1 Events about its pods (Pulled, Created, Started, Failed, Killing), as
//! `kubectl describe pod` shows them: source `kubelet` on this node, the container as
//! `involvedObject.fieldPath`. Written in the background: a lost event never holds a pod up.
//! Rate-limited like the kubelet's recorder (`--event-qps` 50, `--event-burst` 100): events over
//! the limit are dropped, so a thousand pods starting at once do not flood the API.

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, PostParams};
use std::sync::Mutex;
use tokio::time::Instant;

use crate::status::time;

/// Normal or Warning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EventType {
    Normal,
    Warning,
}

/// Writes the events of one node's pods.
pub(crate) struct Events {
    client: kube::Client,
    node: String,
    bucket: Mutex<TokenBucket>,
}

/// client-go's token bucket: `qps` tokens a second, at most `burst` saved up.
#[derive(Debug)]
pub(crate) struct TokenBucket {
    qps: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    pub(crate) fn new(qps: u32, burst: u32, now: Instant) -> TokenBucket {
        let burst = f64::from(burst.max(1));
        TokenBucket { qps: f64::from(qps), burst, tokens: burst, last: now }
    }

    /// Takes a token if there is one.
    pub(crate) fn take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.qps).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Events").field("node", &self.node).finish_non_exhaustive()
    }
}

/// The field path of a container (`spec.containers{app}`, `spec.initContainers{init}`).
pub(crate) fn container_path(name: &str, init: bool) -> String {
    let list = if init { "initContainers" } else { "containers" };
    format!("spec.{list}{{{name}}}")
}

impl Events {
    pub(crate) fn new(client: kube::Client, node: String, qps: u32, burst: u32) -> Events {
        Events { client, node, bucket: Mutex::new(TokenBucket::new(qps, burst, Instant::now())) }
    }

    /// Records an event about `pod` (or one of its containers, by `field_path`).
    pub(crate) fn record(
        &self,
        pod: &Pod,
        field_path: Option<String>,
        kind: EventType,
        reason: &str,
        message: String,
    ) {
        let admitted = self
            .bucket
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take(Instant::now());
        if !admitted {
            tracing::debug!(reason, "event dropped by the rate limit");
            return;
        }
        let now = Timestamp::now();
        let name = pod.metadata.name.clone().unwrap_or_default();
        let namespace = pod.metadata.namespace.clone().unwrap_or_default();
        let event = Event {
            metadata: ObjectMeta {
                // client-go's recorder names events `<object>.<unix nanos in hex>`.
                name: Some(format!("{name}.{:x}", now.as_nanosecond())),
                namespace: Some(namespace.clone()),
                ..ObjectMeta::default()
            },
            involved_object: ObjectReference {
                api_version: Some("v1".to_owned()),
                kind: Some("Pod".to_owned()),
                name: Some(name),
                namespace: Some(namespace.clone()),
                uid: pod.metadata.uid.clone(),
                resource_version: pod.metadata.resource_version.clone(),
                field_path,
            },
            reason: Some(reason.to_owned()),
            message: Some(message),
            source: Some(EventSource {
                component: Some("kubelet".to_owned()),
                host: Some(self.node.clone()),
            }),
            first_timestamp: Some(time(now)),
            last_timestamp: Some(time(now)),
            count: Some(1),
            type_: Some(
                match kind {
                    EventType::Normal => "Normal",
                    EventType::Warning => "Warning",
                }
                .to_owned(),
            ),
            reporting_component: Some("kubelet".to_owned()),
            reporting_instance: Some(self.node.clone()),
            ..Event::default()
        };
        let api: Api<Event> = Api::namespaced(self.client.clone(), &namespace);
        tokio::spawn(async move {
            if let Err(error) = api.create(&PostParams::default(), &event).await {
                tracing::debug!(error = %error, "writing an event");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_bucket_allows_a_burst_then_qps() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(2, 3, start);
        let taken = (0..5).filter(|_| bucket.take(start)).count();
        assert_eq!(taken, 3, "the burst");
        let later = start + std::time::Duration::from_millis(500);
        assert!(bucket.take(later), "one token after half a second at 2 qps");
        assert!(!bucket.take(later));
        let much_later = start + std::time::Duration::from_secs(60);
        let taken = (0..10).filter(|_| bucket.take(much_later)).count();
        assert_eq!(taken, 3, "never more than the burst saved up");
    }

    #[test]
    fn containers_are_named_by_field_path() {
        assert_eq!(container_path("app", false), "spec.containers{app}");
        assert_eq!(container_path("init", true), "spec.initContainers{init}");
    }
}
