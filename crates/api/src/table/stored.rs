//! Tables written straight to bytes from objects as stored: what a LIST as Table does, where
//! parsing every object into a tree and serializing the whole table again cost far more than
//! printing the cells.
//!
//! Each stored object is scanned once. Only what the printer reads and `metadata` (but its
//! `managedFields`, the bulk of a stored object) are parsed; `managedFields` is copied as bytes
//! into the row's `PartialObjectMetadata`. The result is byte for byte what
//! `serde_json::to_vec(&table(…))` gives over the parsed objects, provided the stored bytes are
//! serde_json's compact output, as the API server's stored objects are.

use std::fmt;
use std::ops::Range;

use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::ser::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Number, Value};

use super::{IncludeObject, Printer, row, table};
use crate::kinds::ResourceType;

/// Which parts of a stored object a [`TableObject`] parses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// What the resource's printer reads, and `metadata`: enough for the cells and for label
    /// selectors.
    Printed,
    /// Everything: for field selectors, which may read any field.
    Whole,
}

/// One object of a [`table_json`]: a parsed tree, or the stored JSON with the parts the printer
/// reads parsed beside it.
#[derive(Debug, Clone)]
pub struct TableObject(Repr);

#[derive(Debug, Clone)]
enum Repr {
    Tree(Value),
    Stored {
        /// The stored JSON.
        json: Vec<u8>,
        /// What was parsed of it: `metadata` without `managedFields` but with the
        /// resourceVersion.
        view: Value,
        resource_version: String,
        /// Where `managedFields` goes among `view`'s metadata keys, and its bytes in `json`.
        managed_fields: Option<(usize, Range<usize>)>,
    },
}

impl TableObject {
    /// An object already parsed; its row is built as [`table`] builds it.
    pub fn from_value(object: Value) -> TableObject {
        TableObject(Repr::Tree(object))
    }

    /// A stored object of `resource`, as the API server serves it: `metadata.resourceVersion`
    /// set to `resource_version` (in place, or as metadata's last key). `json` must be
    /// serde_json's compact serialization of the object, as the store holds it: parts of it
    /// are copied into the table. Errors when `json` is not JSON.
    pub fn from_stored(
        resource: &ResourceType,
        json: &[u8],
        resource_version: &str,
        view: View,
    ) -> Result<TableObject, serde_json::Error> {
        let shape = match view {
            View::Printed => Printer::of(resource).reads(),
            View::Whole => Shape::All,
        };
        let base = json.as_ptr() as usize;
        let mut deserializer = serde_json::Deserializer::from_slice(json);
        let top = TopSeed { shape, base, resource_version }.deserialize(&mut deserializer)?;
        deserializer.end()?;
        Ok(TableObject(match top {
            Some(Top { view, managed_fields, metadata_object: true }) => Repr::Stored {
                json: json.to_vec(),
                view: Value::Object(view),
                resource_version: resource_version.to_owned(),
                managed_fields,
            },
            // No metadata object to print from bytes (or no object at all): the tree path.
            _ => Repr::Tree(parse_whole(json, resource_version)?),
        }))
    }

    /// The object as printers and selectors read it: for a stored object, the parts its
    /// [`View`] parsed, and `metadata` without `managedFields`.
    pub fn view(&self) -> &Value {
        match &self.0 {
            Repr::Tree(object) => object,
            Repr::Stored { view, .. } => view,
        }
    }
}

/// The whole stored object as a tree, its resourceVersion set as the API server's `decode`
/// sets it.
fn parse_whole(json: &[u8], resource_version: &str) -> Result<Value, serde_json::Error> {
    let mut object: Value = serde_json::from_slice(json)?;
    if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.insert("resourceVersion".into(), resource_version.into());
    }
    Ok(object)
}

/// [`table`] of `objects` as JSON bytes, `continue_token` (when `Some`) set as
/// `metadata.continue`: the same bytes as serializing that tree.
pub fn table_json(
    resource: &ResourceType,
    objects: Vec<TableObject>,
    resource_version: &str,
    continue_token: Option<&str>,
    include_object: IncludeObject,
    now_unix_seconds: i64,
) -> Result<Vec<u8>, serde_json::Error> {
    let printer = Printer::of(resource);
    let mut envelope = table(resource, Vec::new(), resource_version, include_object, 0);
    if let Some(token) = continue_token {
        envelope["metadata"]["continue"] = token.into();
    }
    let mut out = serde_json::to_vec(&envelope)?;
    // The envelope ends with `"rows":[]}`; the rows go between the brackets.
    out.truncate(out.len().saturating_sub(2));
    let sizes = objects.iter().map(|object| match &object.0 {
        Repr::Tree(_) => 0,
        Repr::Stored { json, .. } => json.len(),
    });
    out.reserve(sizes.sum::<usize>() + 2);
    for (i, object) in objects.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let (json, view, resource_version, managed_fields) = match object.0 {
            Repr::Tree(object) => {
                let row = row(printer, resource, object, include_object, now_unix_seconds);
                serde_json::to_writer(&mut out, &row)?;
                continue;
            }
            Repr::Stored { json, view, resource_version, managed_fields } => {
                (json, view, resource_version, managed_fields)
            }
        };
        if include_object == IncludeObject::Object {
            let object = parse_whole(&json, &resource_version)?;
            let row = row(printer, resource, object, include_object, now_unix_seconds);
            serde_json::to_writer(&mut out, &row)?;
            continue;
        }
        out.extend_from_slice(b"{\"cells\":");
        serde_json::to_writer(&mut out, &printer.cells(&view, now_unix_seconds))?;
        if let Some(condition) = printer.row_condition(&view) {
            out.extend_from_slice(b",\"conditions\":[");
            serde_json::to_writer(&mut out, &condition)?;
            out.push(b']');
        }
        out.extend_from_slice(b",\"object\":");
        match (include_object, &view["metadata"]) {
            (IncludeObject::Metadata, Value::Object(metadata)) => {
                out.extend_from_slice(
                    b"{\"kind\":\"PartialObjectMetadata\",\"apiVersion\":\"meta.k8s.io/v1\",\"metadata\":",
                );
                let managed_fields = managed_fields.map(|(at, range)| (at, &json[range]));
                write_metadata(&mut out, metadata, managed_fields)?;
                out.push(b'}');
            }
            _ => out.extend_from_slice(b"null"),
        }
        out.push(b'}');
    }
    out.extend_from_slice(b"]}");
    Ok(out)
}

/// `metadata` as serde_json writes a map, with `managedFields`' bytes as the entry at their
/// index.
fn write_metadata(
    out: &mut Vec<u8>,
    metadata: &Map<String, Value>,
    managed_fields: Option<(usize, &[u8])>,
) -> Result<(), serde_json::Error> {
    let mut first = true;
    let mut entry = |out: &mut Vec<u8>, key: &str| -> Result<(), serde_json::Error> {
        if !std::mem::take(&mut first) {
            out.push(b',');
        }
        key.serialize(&mut serde_json::Serializer::new(&mut *out))?;
        out.push(b':');
        Ok(())
    };
    out.push(b'{');
    for (i, (key, value)) in metadata.iter().enumerate() {
        if let Some((_, bytes)) = managed_fields.filter(|(at, _)| *at == i) {
            entry(out, "managedFields")?;
            out.extend_from_slice(bytes);
        }
        entry(out, key)?;
        serde_json::to_writer(&mut *out, value)?;
    }
    if let Some((_, bytes)) = managed_fields.filter(|(at, _)| *at >= metadata.len()) {
        entry(out, "managedFields")?;
        out.extend_from_slice(bytes);
    }
    out.push(b'}');
    Ok(())
}

// === Parsing only what is read ===

/// Which parts of a JSON value are parsed into the tree; the rest is skipped unparsed.
#[derive(Debug, Clone, Copy)]
pub(super) enum Shape {
    /// All of it.
    All,
    /// The listed keys of an object, each in its shape, and no other. A value that is not an
    /// object is parsed whole.
    Keys(&'static [(&'static str, Shape)]),
    /// Every element of an array, in this shape. A value that is not an array is parsed whole.
    Each(&'static Shape),
}

impl<'de> DeserializeSeed<'de> for Shape {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        match self {
            Shape::All => Value::deserialize(deserializer),
            shape => deserializer.deserialize_any(ShapeVisitor(shape)),
        }
    }
}

/// Builds the values [`Value`]'s own `Deserialize` would, but for what a [`Shape`] skips.
struct ShapeVisitor(Shape);

impl<'de> Visitor<'de> for ShapeVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any valid JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut values = Vec::new();
        match self.0 {
            Shape::Each(shape) => {
                while let Some(value) = seq.next_element_seed(*shape)? {
                    values.push(value);
                }
            }
            Shape::All | Shape::Keys(_) => {
                while let Some(value) = seq.next_element()? {
                    values.push(value);
                }
            }
        }
        Ok(Value::Array(values))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut values = Map::new();
        match self.0 {
            Shape::Keys(keys) => {
                while let Some(key) = map.next_key::<String>()? {
                    match keys.iter().find(|(name, _)| *name == key) {
                        Some(&(_, shape)) => {
                            let value = map.next_value_seed(shape)?;
                            values.insert(key, value);
                        }
                        None => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
            }
            Shape::All | Shape::Each(_) => {
                while let Some((key, value)) = map.next_entry()? {
                    values.insert(key, value);
                }
            }
        }
        Ok(Value::Object(values))
    }
}

/// A stored object, scanned: the top-level keys its shape keeps, `metadata` parsed without
/// `managedFields`.
struct Top {
    view: Map<String, Value>,
    managed_fields: Option<(usize, Range<usize>)>,
    /// Whether `metadata` (the last, should there be several) is an object.
    metadata_object: bool,
}

/// Scans a stored object; `None` for JSON that is not an object.
struct TopSeed<'r> {
    shape: Shape,
    /// Where the JSON starts in memory, to find `managedFields` in it.
    base: usize,
    resource_version: &'r str,
}

impl<'de> DeserializeSeed<'de> for TopSeed<'_> {
    type Value = Option<Top>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Option<Top>, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for TopSeed<'_> {
    type Value = Option<Top>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any valid JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<Top>, A::Error> {
        let mut top = Top { view: Map::new(), managed_fields: None, metadata_object: false };
        while let Some(key) = map.next_key::<String>()? {
            let shape = match (key.as_str(), self.shape) {
                ("metadata", _) => {
                    let seed =
                        MetadataSeed { base: self.base, resource_version: self.resource_version };
                    let (metadata, managed_fields) = match map.next_value_seed(seed)? {
                        Some((metadata, managed_fields)) => {
                            (Value::Object(metadata), managed_fields)
                        }
                        None => (Value::Null, None),
                    };
                    top.metadata_object = metadata.is_object();
                    top.managed_fields = managed_fields;
                    top.view.insert(key, metadata);
                    continue;
                }
                (_, Shape::Keys(keys)) => keys.iter().find(|(name, _)| *name == key).map(|k| k.1),
                (_, shape) => Some(shape),
            };
            match shape {
                Some(shape) => {
                    let value = map.next_value_seed(shape)?;
                    top.view.insert(key, value);
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Some(top))
    }

    fn visit_bool<E>(self, _: bool) -> Result<Option<Top>, E> {
        Ok(None)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Option<Top>, E> {
        Ok(None)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Option<Top>, E> {
        Ok(None)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Option<Top>, E> {
        Ok(None)
    }
    fn visit_str<E>(self, _: &str) -> Result<Option<Top>, E> {
        Ok(None)
    }
    fn visit_unit<E>(self) -> Result<Option<Top>, E> {
        Ok(None)
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Option<Top>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }
}

/// An object's `metadata`: its keys but `managedFields`, then the resourceVersion set; and
/// where `managedFields` was (its index among those keys, its bytes). `None` when it is not
/// an object.
struct MetadataSeed<'r> {
    base: usize,
    resource_version: &'r str,
}

type Metadata = (Map<String, Value>, Option<(usize, Range<usize>)>);

impl<'de> DeserializeSeed<'de> for MetadataSeed<'_> {
    type Value = Option<Metadata>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for MetadataSeed<'_> {
    type Value = Option<Metadata>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object's metadata")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut metadata = Map::new();
        let mut managed_fields: Option<(usize, Range<usize>)> = None;
        while let Some(key) = map.next_key::<String>()? {
            if key == "managedFields" {
                let raw: &'de RawValue = map.next_value()?;
                let start = raw.get().as_ptr() as usize - self.base;
                // A repeated key keeps its first place and takes the last value, as in a map.
                let at = managed_fields.map_or(metadata.len(), |(at, _)| at);
                managed_fields = Some((at, start..start + raw.get().len()));
            } else {
                let value: Value = map.next_value()?;
                metadata.insert(key, value);
            }
        }
        metadata.insert("resourceVersion".into(), self.resource_version.into());
        Ok(Some((metadata, managed_fields)))
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }
}
#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::{TableObject, View, table_json};
    use crate::kinds::{self, ResourceType};
    use crate::table::{IncludeObject, table};

    /// 2026-11-25T10:00:00Z.
    const NOW: i64 = 1_795_600_800;

    fn resource(group: &str, version: &str, plural: &str) -> &'static ResourceType {
        kinds::find(group, version, plural).expect("a served resource")
    }

    /// A pod as the API server stores and serves it: `kubectl run`'s, scheduled and running,
    /// with the managed fields of kubectl and the kubelet.
    fn pod(name: &str, phase: &str) -> Value {
        json!({
            "kind": "Pod",
            "apiVersion": "v1",
            "metadata": {
                "name": name,
                "namespace": "default",
                "uid": "8d1a51d2-2c4e-4a1f-9d7e-0a6c5e6b7f10",
                "creationTimestamp": "2026-11-25T09:58:00Z",
                "labels": {"run": name, "app.kubernetes.io/name": "web"},
                "annotations": {"note": "quotes \" and \\ and </script> and é and \u{1}"},
                "managedFields": [
                    {"manager": "kubectl-run", "operation": "Update", "apiVersion": "v1",
                     "time": "2026-11-25T09:58:00Z", "fieldsType": "FieldsV1",
                     "fieldsV1": {"f:metadata": {"f:labels": {".": {}, "f:run": {}}},
                                  "f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {
                                      ".": {}, "f:image": {}, "f:imagePullPolicy": {},
                                      "f:name": {}, "f:resources": {},
                                      "f:terminationMessagePath": {},
                                      "f:terminationMessagePolicy": {}}},
                                      "f:dnsPolicy": {}, "f:enableServiceLinks": {},
                                      "f:restartPolicy": {}, "f:schedulerName": {},
                                      "f:securityContext": {},
                                      "f:terminationGracePeriodSeconds": {}}}},
                    {"manager": "kubelet", "operation": "Update", "apiVersion": "v1",
                     "time": "2026-11-25T09:58:03Z", "fieldsType": "FieldsV1",
                     "subresource": "status",
                     "fieldsV1": {"f:status": {"f:conditions": {
                         "k:{\"type\":\"Ready\"}": {".": {}, "f:lastProbeTime": {},
                             "f:lastTransitionTime": {}, "f:status": {}, "f:type": {}}},
                         "f:containerStatuses": {}, "f:hostIP": {}, "f:phase": {},
                         "f:podIP": {}, "f:podIPs": {".": {}, "k:{\"ip\":\"10.244.0.7\"}": {
                             ".": {}, "f:ip": {}}}, "f:startTime": {}}}}
                ]
            },
            "spec": {
                "containers": [{"name": "web", "image": "nginx:1.27", "resources": {},
                    "terminationMessagePath": "/dev/termination-log",
                    "terminationMessagePolicy": "File", "imagePullPolicy": "IfNotPresent"}],
                "restartPolicy": "Always",
                "terminationGracePeriodSeconds": 30,
                "dnsPolicy": "ClusterFirst",
                "nodeName": "node-1",
                "schedulerName": "default-scheduler",
                "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists",
                    "effect": "NoExecute", "tolerationSeconds": 300}],
                "priority": 0,
                "readinessGates": [{"conditionType": "example.com/ready"}]
            },
            "status": {
                "phase": phase,
                "conditions": [
                    {"type": "Ready", "status": "True", "lastProbeTime": null,
                     "lastTransitionTime": "2026-11-25T09:58:03Z"},
                    {"type": "example.com/ready", "status": "True"}
                ],
                "hostIP": "172.18.0.2",
                "podIP": "10.244.0.7",
                "podIPs": [{"ip": "10.244.0.7"}],
                "startTime": "2026-11-25T09:58:00Z",
                "containerStatuses": [{"name": "web", "ready": true, "restartCount": 2,
                    "state": {"running": {"startedAt": "2026-11-25T09:58:02Z"}},
                    "lastState": {"terminated": {"exitCode": 1,
                        "finishedAt": "2026-11-25T09:59:30Z"}},
                    "image": "nginx:1.27", "imageID": "", "started": true}],
                "qosClass": "BestEffort",
                "score": 0.25
            }
        })
    }

    /// An object's revision in these tests: the store's, set as it is served.
    fn revision(i: usize) -> String {
        (100 + i).to_string()
    }

    /// The object as the API server's `decode` gives it: resourceVersion set if it has a
    /// metadata object.
    fn decoded(stored: &[u8], revision: &str) -> Value {
        let mut object: Value = serde_json::from_slice(stored).unwrap();
        if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
            metadata.insert("resourceVersion".into(), json!(revision));
        }
        object
    }

    /// Checks `table_json` over `objects` (their stored bytes) against the tree path (the
    /// decoded objects' `table`, `metadata.continue` set, serialized), for every
    /// `includeObject` and view, with and without a continue token.
    fn check_same(resource: &ResourceType, objects: &[Value]) {
        let stored: Vec<Vec<u8>> = objects.iter().map(|o| serde_json::to_vec(o).unwrap()).collect();
        let trees: Vec<Value> =
            stored.iter().enumerate().map(|(i, json)| decoded(json, &revision(i))).collect();
        for include in [IncludeObject::None, IncludeObject::Metadata, IncludeObject::Object] {
            for (rv, token) in [("4711", None), ("4711", Some("eyJ2IjoibWV0YSJ9")), ("", Some("t"))]
            {
                let mut table = table(resource, trees.clone(), rv, include, NOW);
                if let Some(token) = token {
                    table["metadata"]["continue"] = json!(token);
                }
                let expected = serde_json::to_vec(&table).unwrap();
                for view in [View::Printed, View::Whole] {
                    let objects = stored
                        .iter()
                        .enumerate()
                        .map(|(i, json)| {
                            TableObject::from_stored(resource, json, &revision(i), view).unwrap()
                        })
                        .collect();
                    let actual = table_json(resource, objects, rv, token, include, NOW).unwrap();
                    assert_eq!(
                        String::from_utf8_lossy(&actual),
                        String::from_utf8_lossy(&expected),
                        "{} {include:?} {view:?} {rv:?} {token:?}",
                        resource.plural
                    );
                }
                // Parsed trees go through the tree path's row.
                let objects = trees.iter().cloned().map(TableObject::from_value).collect();
                let actual = table_json(resource, objects, rv, token, include, NOW).unwrap();
                assert_eq!(actual, expected);
            }
        }
    }

    #[test]
    fn stored_pods_print_the_same_bytes_as_trees() {
        let pods = resource("", "v1", "pods");
        let mut bare = pod("bare", "Pending");
        // Stored objects lack kind and apiVersion only if written so; Object adds them.
        bare.as_object_mut().unwrap().shift_remove("kind");
        let mut no_version = pod("no-version", "Running");
        no_version.as_object_mut().unwrap().shift_remove("apiVersion");
        let mut deleting = pod("deleting", "Running");
        deleting["metadata"]["deletionTimestamp"] = json!("2026-11-25T09:59:59Z");
        let mut initializing = pod("initializing", "Pending");
        initializing["spec"]["initContainers"] = json!([
            {"name": "setup", "image": "busybox", "command": ["sh", "-c", "true"]},
            {"name": "proxy", "image": "envoy", "restartPolicy": "Always"}]);
        initializing["status"]["initContainerStatuses"] = json!([
            {"name": "setup", "restartCount": 0,
             "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
            {"name": "proxy", "restartCount": 1, "started": true, "ready": true,
             "state": {"running": {}},
             "lastState": {"terminated": {"finishedAt": "2026-11-25T09:59:00Z"}}}]);
        let mut init_failed = initializing.clone();
        init_failed["status"]["initContainerStatuses"][0]["state"] =
            json!({"terminated": {"exitCode": 2}});
        // managedFields first, and a stored resourceVersion (replaced in place).
        let mut reordered = pod("reordered", "Running");
        let mut metadata = reordered["metadata"].as_object().unwrap().clone();
        let mut first = serde_json::Map::new();
        first.insert("managedFields".into(), metadata.shift_remove("managedFields").unwrap());
        first.insert("resourceVersion".into(), json!("1"));
        first.extend(metadata);
        reordered["metadata"] = Value::Object(first);
        let objects = [
            pod("web-0", "Running"),
            pod("done", "Succeeded"),
            pod("failed", "Failed"),
            bare,
            no_version,
            deleting,
            initializing,
            init_failed,
            reordered,
        ];
        check_same(pods, &objects);
        // The printed view leaves out what the printer does not read.
        let json = serde_json::to_vec(&objects[0]).unwrap();
        let stored = TableObject::from_stored(pods, &json, "7", View::Printed).unwrap();
        assert_eq!(stored.view()["metadata"].get("managedFields"), None);
        assert_eq!(stored.view()["metadata"]["resourceVersion"], json!("7"));
        assert_eq!(stored.view()["status"], objects[0]["status"]);
        assert_eq!(stored.view()["spec"]["containers"], json!([{}]));
        assert_eq!(stored.view()["spec"].get("dnsPolicy"), None);
        let whole = TableObject::from_stored(pods, &json, "7", View::Whole).unwrap();
        assert_eq!(whole.view()["spec"], objects[0]["spec"]);
        // The row's metadata is the pod's, managedFields included.
        let bytes = table_json(pods, vec![stored], "1", None, IncludeObject::Metadata, NOW);
        let table: Value = serde_json::from_slice(&bytes.unwrap()).unwrap();
        let mut metadata = objects[0]["metadata"].clone();
        metadata["resourceVersion"] = json!("7");
        assert_eq!(table["rows"][0]["object"]["metadata"], metadata);
        assert_eq!(table["rows"][0]["cells"][1], json!("1/1"));
        assert_eq!(table["rows"][0]["cells"][3], json!("2 (30s ago)"));
    }

    #[test]
    fn odd_objects_print_the_same_bytes_as_trees() {
        let pods = resource("", "v1", "pods");
        let objects = [
            json!({"kind": "Pod", "spec": {"nodeName": "n"}}),
            json!({"kind": "Pod", "metadata": null, "status": {"phase": "Failed"}}),
            json!({"metadata": {}}),
            json!({"metadata": "web"}),
            json!({"metadata": {"name": "x", "managedFields": []}, "metadata ": 1}),
            json!({"metadata": {"managedFields": [{"manager": "m"}]}}),
            json!({"metadata": {"name": "x", "managedFields": null, "resourceVersion": "1"}}),
            json!({}),
            json!([1, {"metadata": {}}]),
            json!("pod"),
            json!(null),
        ];
        check_same(pods, &objects);
        check_same(pods, &[]);
    }

    #[test]
    fn other_kinds_print_the_same_bytes_as_trees() {
        let meta = |name: &str| {
            json!({"name": name, "namespace": "kube-system",
                   "creationTimestamp": "2026-11-20T10:00:00Z",
                   "managedFields": [{"manager": "kubectl", "operation": "Apply",
                                      "fieldsV1": {"f:data": {"f:a": {}}}}]})
        };
        check_same(
            resource("", "v1", "configmaps"),
            &[json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta("settings"),
                     "data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}})],
        );
        check_same(
            resource("apps", "v1", "deployments"),
            &[json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta("coredns"),
                "spec": {"replicas": 2, "selector": {"matchLabels": {"k8s-app": "kube-dns"}},
                         "template": {"spec": {"containers": [{"name": "coredns",
                             "image": "registry.k8s.io/coredns/coredns:v1.12.0"}]}}},
                "status": {"replicas": 2, "readyReplicas": 1, "updatedReplicas": 2}})],
        );
        check_same(
            // The default printer's.
            resource("", "v1", "bindings"),
            &[json!({"apiVersion": "v1", "kind": "Binding", "metadata": meta("web-0"),
                     "target": {"kind": "Node", "name": "node-1"}})],
        );
        check_same(
            resource("", "v1", "nodes"),
            &[json!({"apiVersion": "v1", "kind": "Node", "metadata": meta("node-1"),
                "status": {"conditions": [{"type": "Ready", "status": "True"}],
                           "nodeInfo": {"kubeletVersion": "v1.33.0"}}})],
        );
    }
}
