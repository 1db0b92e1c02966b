//! Kubernetes events (core/v1, what `kubectl describe` lists), aggregated like client-go's
//! recorder: the same reason and message about the same object again bumps `count` and
//! `lastTimestamp` instead of adding an event.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams, PostParams};

/// An event's `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    Normal,
    Warning,
}

impl EventType {
    fn as_str(self) -> &'static str {
        match self {
            EventType::Normal => "Normal",
            EventType::Warning => "Warning",
        }
    }
}

/// Entries kept for aggregation before the cache starts over (client-go keeps 4,096).
const CACHE_SIZE: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    namespace: String,
    kind: String,
    name: String,
    uid: String,
    event_type: EventType,
    reason: String,
    message: String,
}

#[derive(Debug, Clone)]
struct Seen {
    name: String,
    count: i32,
}

/// Records events for one component (`source.component`). Cheap to clone; clones share the
/// aggregation cache. Recording never fails the caller: a failed write is logged and dropped,
/// as client-go does.
#[derive(Clone)]
pub struct Recorder {
    client: kube::Client,
    component: &'static str,
    host: Option<String>,
    seen: Arc<Mutex<HashMap<Key, Seen>>>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder").field("component", &self.component).finish_non_exhaustive()
    }
}

impl Recorder {
    /// A recorder for `component` (e.g. `statefulset-controller`), optionally on a node
    /// (`source.host`, as kubelets set it).
    pub fn new(client: kube::Client, component: &'static str, host: Option<String>) -> Recorder {
        Recorder { client, component, host, seen: Arc::default() }
    }

    /// Records that `reason` happened to `object`, with a human `message`.
    pub async fn record(
        &self,
        object: &ObjectReference,
        event_type: EventType,
        reason: &str,
        message: impl Into<String>,
    ) {
        let message = message.into();
        let namespace = object.namespace.clone().unwrap_or_else(|| "default".to_owned());
        let key = Key {
            namespace: namespace.clone(),
            kind: object.kind.clone().unwrap_or_default(),
            name: object.name.clone().unwrap_or_default(),
            uid: object.uid.clone().unwrap_or_default(),
            event_type,
            reason: reason.to_owned(),
            message: message.clone(),
        };
        let api: Api<Event> = Api::namespaced(self.client.clone(), &namespace);
        let now = Timestamp::now();
        let previous = self.seen.lock().unwrap_or_else(|e| e.into_inner()).get(&key).cloned();
        if let Some(seen) = previous {
            let count = seen.count + 1;
            let patch = serde_json::json!({ "count": count, "lastTimestamp": Time(now) });
            match api.patch(&seen.name, &PatchParams::default(), &Patch::Merge(&patch)).await {
                Ok(_) => {
                    self.remember(key, Seen { name: seen.name, count });
                    return;
                }
                Err(kube::Error::Api(status)) if status.code == 404 => {}
                Err(error) => {
                    tracing::warn!(%error, reason, "cannot update event");
                    return;
                }
            }
        }
        let name =
            format!("{}.{:x}", object.name.as_deref().unwrap_or("unknown"), now.as_nanosecond());
        let event = Event {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: Some(namespace),
                ..ObjectMeta::default()
            },
            involved_object: object.clone(),
            reason: Some(reason.to_owned()),
            message: Some(message),
            type_: Some(event_type.as_str().to_owned()),
            source: Some(EventSource {
                component: Some(self.component.to_owned()),
                host: self.host.clone(),
            }),
            first_timestamp: Some(Time(now)),
            last_timestamp: Some(Time(now)),
            count: Some(1),
            reporting_component: Some(self.component.to_owned()),
            reporting_instance: Some(self.host.clone().unwrap_or_default()),
            ..Event::default()
        };
        match api.create(&PostParams::default(), &event).await {
            Ok(_) => self.remember(key, Seen { name, count: 1 }),
            Err(error) => tracing::warn!(%error, reason, "cannot record event"),
        }
    }

    fn remember(&self, key: Key, seen: Seen) {
        let mut cache = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= CACHE_SIZE && !cache.contains_key(&key) {
            cache.clear();
        }
        cache.insert(key, seen);
    }
}
