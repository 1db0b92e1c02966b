//! The kubelet's core/v1 Events about its pods (Pulled, Created, Started, Failed, Killing), as
//! `kubectl describe pod` shows them: source `kubelet` on this node, the container as
//! `involvedObject.fieldPath`. Written in the background: a lost event never holds a pod up.

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, PostParams};

use crate::status::time;

/// Normal or Warning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EventType {
    Normal,
    Warning,
}

/// Writes the events of one node's pods.
#[derive(Clone)]
pub(crate) struct Events {
    client: kube::Client,
    node: String,
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
    pub(crate) fn new(client: kube::Client, node: String) -> Events {
        Events { client, node }
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
    fn containers_are_named_by_field_path() {
        assert_eq!(container_path("app", false), "spec.containers{app}");
        assert_eq!(container_path("init", true), "spec.initContainers{init}");
    }
}
