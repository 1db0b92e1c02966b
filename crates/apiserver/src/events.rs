//! core/v1 and events.k8s.io/v1 Events are one storage, as in Kubernetes: both resources keep
//! their objects under the core key prefix, in the core/v1 form, and events.k8s.io/v1 reads
//! and writes convert field by field (`pkg/apis/events/v1/conversion.go`).

use berth_api::kinds::ResourceType;
use serde_json::{Map, Value, json};

/// (core/v1 field, events.k8s.io/v1 field) for the fields whose names differ; the others
/// (`metadata`, `eventTime`, `series`, `reason`, `type`, `action`, `related`,
/// `reportingInstance`) are the same in both.
const RENAMES: [(&str, &str); 7] = [
    ("involvedObject", "regarding"),
    ("message", "note"),
    ("reportingComponent", "reportingController"),
    ("source", "deprecatedSource"),
    ("firstTimestamp", "deprecatedFirstTimestamp"),
    ("lastTimestamp", "deprecatedLastTimestamp"),
    ("count", "deprecatedCount"),
];

/// The field selectors events.k8s.io/v1 Events support (`AddFieldLabelConversionsForEvent`);
/// their values are read from the events.k8s.io/v1 form, `source` as the core one's.
const SELECTABLE: [&str; 13] = [
    "reason",
    "regarding.kind",
    "regarding.namespace",
    "regarding.name",
    "regarding.uid",
    "regarding.apiVersion",
    "regarding.resourceVersion",
    "regarding.fieldPath",
    "reportingController",
    "source",
    "type",
    "metadata.namespace",
    "metadata.name",
];

/// Refuses a field selector on events.k8s.io/v1 Events that names a field Kubernetes does not
/// select on, with kube-apiserver's 400.
pub(crate) fn check_field_selector(
    resource: &ResourceType,
    selector: &berth_api::selector::FieldSelector,
) -> Result<(), crate::status::Status> {
    if !is_events_v1(resource) {
        return Ok(());
    }
    match selector.fields().find(|field| !SELECTABLE.contains(field)) {
        None => Ok(()),
        Some(field) => {
            Err(crate::status::Status::bad_request(format!("field label not supported: {field}")))
        }
    }
}

/// Whether `resource` is `events.k8s.io/v1 events`, stored as core/v1 Events.
pub(crate) fn is_events_v1(resource: &ResourceType) -> bool {
    resource.group == "events.k8s.io" && resource.plural == "events"
}

/// A stored core/v1 Event as events.k8s.io/v1 shows it.
pub(crate) fn from_core(object: Value) -> Value {
    convert(object, "events.k8s.io/v1", |(core, v1)| (core, v1))
}

/// An events.k8s.io/v1 Event in its stored core/v1 form.
pub(crate) fn to_core(object: Value) -> Value {
    convert(object, "v1", |(core, v1)| (v1, core))
}

fn convert(
    object: Value,
    api_version: &str,
    direction: impl Fn((&'static str, &'static str)) -> (&'static str, &'static str),
) -> Value {
    let Value::Object(mut fields) = object else { return object };
    let mut converted = Map::new();
    for pair in RENAMES {
        let (from, to) = direction(pair);
        // A field of the target form that arrived as such stays (and is not overwritten).
        if let Some(value) = fields.remove(from) {
            converted.insert(to.to_owned(), value);
        }
    }
    for (key, value) in fields {
        converted.entry(key).or_insert(value);
    }
    converted.insert("apiVersion".into(), json!(api_version));
    converted.insert("kind".into(), json!("Event"));
    Value::Object(converted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_convert_both_ways() {
        let core = json!({
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": { "name": "web-0.1", "namespace": "ns" },
            "involvedObject": { "kind": "Pod", "name": "web-0" },
            "reason": "Scheduled",
            "message": "assigned",
            "source": { "component": "scheduler" },
            "firstTimestamp": "2024-01-01T00:00:00Z",
            "lastTimestamp": "2024-01-01T00:00:01Z",
            "count": 2,
            "type": "Normal",
            "reportingComponent": "scheduler",
            "reportingInstance": "node-1",
        });
        let v1 = from_core(core.clone());
        assert_eq!(v1["apiVersion"], "events.k8s.io/v1");
        assert_eq!(v1["regarding"]["name"], "web-0");
        assert_eq!(v1["note"], "assigned");
        assert_eq!(v1["deprecatedCount"], 2);
        assert_eq!(v1["reportingController"], "scheduler");
        assert_eq!(v1["reportingInstance"], "node-1");
        assert!(v1.get("involvedObject").is_none());
        assert_eq!(to_core(v1), core);
    }
}
