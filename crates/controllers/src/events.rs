//! Kubernetes events (core/v1, what `kubectl describe` lists), aggregated like client-go's
//! recorder: the same reason and message about the same object again bumps `count` and
//! `lastTimestamp` instead of adding an event.

use std::collections::HashMap;

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams, PostParams};
use tokio::sync::mpsc;

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

/// Records events for one component (`source.component`). Cheap to clone; clones share one
/// writer task and its aggregation cache. Recording never blocks or fails the caller: the event
/// is queued and written in order by the writer (client-go's broadcaster); a full queue or a
/// failed write is logged and the event dropped, as client-go does.
#[derive(Clone)]
pub struct Recorder {
    component: &'static str,
    queue: mpsc::Sender<Pending>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder").field("component", &self.component).finish_non_exhaustive()
    }
}

/// Events queued per recorder before new ones are dropped (client-go's broadcaster: 1,000).
const QUEUE: usize = 1000;

/// An event waiting for the writer.
struct Pending {
    object: ObjectReference,
    event_type: EventType,
    reason: String,
    message: String,
    at: Timestamp,
}

impl Recorder {
    /// A recorder for `component` (e.g. `statefulset-controller`), optionally on a node
    /// (`source.host`, as kubelets set it). Starts its writer task on the current runtime; the
    /// task ends when the last clone is dropped.
    pub fn new(client: kube::Client, component: &'static str, host: Option<String>) -> Recorder {
        let (queue, pending) = mpsc::channel(QUEUE);
        let writer = Writer { client, component, host, seen: HashMap::new() };
        tokio::spawn(writer.run(pending));
        Recorder { component, queue }
    }

    /// Records that `reason` happened to `object`, with a human `message`.
    pub fn record(
        &self,
        object: &ObjectReference,
        event_type: EventType,
        reason: &str,
        message: impl Into<String>,
    ) {
        let pending = Pending {
            object: object.clone(),
            event_type,
            reason: reason.to_owned(),
            message: message.into(),
            at: Timestamp::now(),
        };
        if self.queue.try_send(pending).is_err() {
            tracing::warn!(component = self.component, reason, "event queue full; event dropped");
        }
    }
}

/// Writes one recorder's events, aggregating repeats.
struct Writer {
    client: kube::Client,
    component: &'static str,
    host: Option<String>,
    seen: HashMap<Key, Seen>,
}

impl Writer {
    async fn run(mut self, mut pending: mpsc::Receiver<Pending>) {
        while let Some(event) = pending.recv().await {
            self.write(event).await;
        }
    }

    async fn write(&mut self, pending: Pending) {
        let Pending { object, event_type, reason, message, at: now } = pending;
        let reason = reason.as_str();
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
        if let Some(seen) = self.seen.get(&key).cloned() {
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
            involved_object: object,
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

    fn remember(&mut self, key: Key, seen: Seen) {
        if self.seen.len() >= CACHE_SIZE && !self.seen.contains_key(&key) {
            self.seen.clear();
        }
        self.seen.insert(key, seen);
    }
}
