//! Protobuf request bodies (`application/vnd.kubernetes.protobuf`), decoded to JSON objects.
//!
//! kubectl 1.32+ sends protobuf from its typed clients — `kubectl create namespace`,
//! `create configmap` and `create secret` — and has no JSON fallback on a 415. The body is
//! `k8s\0` followed by a `runtime.Unknown` (field 1 TypeMeta {1 apiVersion, 2 kind}, field 2
//! the raw object). This decodes the kinds those commands send: Namespace, ConfigMap and
//! Secret, with the ObjectMeta fields a client sets. Anything else is refused, so the caller
//! answers 415 rather than guess.

use base64::Engine;
use serde_json::{Map, Value, json};

const MAGIC: &[u8] = b"k8s\0";

/// Decodes a protobuf body; the error is a message for a 400/415.
pub(crate) fn decode(body: &[u8]) -> Result<Value, String> {
    let unknown = body.strip_prefix(MAGIC).ok_or("the protobuf body lacks the k8s\\0 prefix")?;
    let (mut api_version, mut kind, mut raw) = (String::new(), String::new(), &[][..]);
    for field in Fields::new(unknown) {
        match field? {
            (1, Wire::Bytes(type_meta)) => {
                for field in Fields::new(type_meta) {
                    match field? {
                        (1, Wire::Bytes(v)) => api_version = string(v)?,
                        (2, Wire::Bytes(k)) => kind = string(k)?,
                        _ => {}
                    }
                }
            }
            (2, Wire::Bytes(bytes)) => raw = bytes,
            _ => {}
        }
    }
    let mut object = match (api_version.as_str(), kind.as_str()) {
        ("v1", "Namespace") => namespace(raw)?,
        ("v1", "ConfigMap") => config_map(raw)?,
        ("v1", "Secret") => secret(raw)?,
        _ => {
            return Err(format!(
                "protobuf bodies of {api_version} {kind} are not supported; send JSON"
            ));
        }
    };
    object.insert("apiVersion".into(), json!(api_version));
    object.insert("kind".into(), json!(kind));
    Ok(Value::Object(object))
}

fn namespace(raw: &[u8]) -> Result<Map<String, Value>, String> {
    let mut object = Map::new();
    for field in Fields::new(raw) {
        match field? {
            (1, Wire::Bytes(meta)) => {
                object.insert("metadata".into(), object_meta(meta)?);
            }
            (2, Wire::Bytes(spec)) => {
                let mut finalizers = Vec::new();
                for field in Fields::new(spec) {
                    if let (1, Wire::Bytes(f)) = field? {
                        finalizers.push(json!(string(f)?));
                    }
                }
                if !finalizers.is_empty() {
                    object.insert("spec".into(), json!({ "finalizers": finalizers }));
                }
            }
            _ => {}
        }
    }
    Ok(object)
}

fn config_map(raw: &[u8]) -> Result<Map<String, Value>, String> {
    let mut object = Map::new();
    let (mut data, mut binary) = (Map::new(), Map::new());
    for field in Fields::new(raw) {
        match field? {
            (1, Wire::Bytes(meta)) => {
                object.insert("metadata".into(), object_meta(meta)?);
            }
            (2, Wire::Bytes(entry)) => {
                let (k, v) = map_entry(entry)?;
                data.insert(k, json!(string(v)?));
            }
            (3, Wire::Bytes(entry)) => {
                let (k, v) = map_entry(entry)?;
                binary.insert(k, json!(base64::engine::general_purpose::STANDARD.encode(v)));
            }
            (4, Wire::Varint(immutable)) => {
                object.insert("immutable".into(), json!(immutable != 0));
            }
            _ => {}
        }
    }
    if !data.is_empty() {
        object.insert("data".into(), Value::Object(data));
    }
    if !binary.is_empty() {
        object.insert("binaryData".into(), Value::Object(binary));
    }
    Ok(object)
}

fn secret(raw: &[u8]) -> Result<Map<String, Value>, String> {
    let mut object = Map::new();
    let (mut data, mut string_data) = (Map::new(), Map::new());
    for field in Fields::new(raw) {
        match field? {
            (1, Wire::Bytes(meta)) => {
                object.insert("metadata".into(), object_meta(meta)?);
            }
            (2, Wire::Bytes(entry)) => {
                let (k, v) = map_entry(entry)?;
                data.insert(k, json!(base64::engine::general_purpose::STANDARD.encode(v)));
            }
            (3, Wire::Bytes(kind)) => {
                object.insert("type".into(), json!(string(kind)?));
            }
            (4, Wire::Bytes(entry)) => {
                let (k, v) = map_entry(entry)?;
                string_data.insert(k, json!(string(v)?));
            }
            (5, Wire::Varint(immutable)) => {
                object.insert("immutable".into(), json!(immutable != 0));
            }
            _ => {}
        }
    }
    if !data.is_empty() {
        object.insert("data".into(), Value::Object(data));
    }
    if !string_data.is_empty() {
        object.insert("stringData".into(), Value::Object(string_data));
    }
    Ok(object)
}

/// The ObjectMeta fields a client sets on create: name, generateName, namespace, labels,
/// annotations, finalizers.
fn object_meta(raw: &[u8]) -> Result<Value, String> {
    let mut meta = Map::new();
    let (mut labels, mut annotations, mut finalizers) = (Map::new(), Map::new(), Vec::new());
    for field in Fields::new(raw) {
        match field? {
            (1, Wire::Bytes(v)) if !v.is_empty() => {
                meta.insert("name".into(), json!(string(v)?));
            }
            (2, Wire::Bytes(v)) if !v.is_empty() => {
                meta.insert("generateName".into(), json!(string(v)?));
            }
            (3, Wire::Bytes(v)) if !v.is_empty() => {
                meta.insert("namespace".into(), json!(string(v)?));
            }
            (11, Wire::Bytes(entry)) => {
                let (k, v) = map_entry(entry)?;
                labels.insert(k, json!(string(v)?));
            }
            (12, Wire::Bytes(entry)) => {
                let (k, v) = map_entry(entry)?;
                annotations.insert(k, json!(string(v)?));
            }
            (14, Wire::Bytes(v)) => finalizers.push(json!(string(v)?)),
            _ => {}
        }
    }
    if !labels.is_empty() {
        meta.insert("labels".into(), Value::Object(labels));
    }
    if !annotations.is_empty() {
        meta.insert("annotations".into(), Value::Object(annotations));
    }
    if !finalizers.is_empty() {
        meta.insert("finalizers".into(), Value::Array(finalizers));
    }
    Ok(Value::Object(meta))
}

fn map_entry(entry: &[u8]) -> Result<(String, &[u8]), String> {
    let (mut key, mut value) = (String::new(), &[][..]);
    for field in Fields::new(entry) {
        match field? {
            (1, Wire::Bytes(k)) => key = string(k)?,
            (2, Wire::Bytes(v)) => value = v,
            _ => {}
        }
    }
    Ok((key, value))
}

fn string(bytes: &[u8]) -> Result<String, String> {
    String::from_utf8(bytes.to_vec()).map_err(|_| "a protobuf string is not UTF-8".to_owned())
}

/// One field's value by wire type (fixed-width fields are skipped by the caller).
#[derive(Debug)]
enum Wire<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed,
}

/// Iterates the fields of a message: `(field number, value)`.
#[derive(Debug)]
struct Fields<'a> {
    rest: &'a [u8],
    failed: bool,
}

impl<'a> Fields<'a> {
    fn new(bytes: &'a [u8]) -> Fields<'a> {
        Fields { rest: bytes, failed: false }
    }

    fn varint(&mut self) -> Result<u64, String> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let (&byte, rest) = self.rest.split_first().ok_or("truncated protobuf varint")?;
            self.rest = rest;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err("protobuf varint too long".into())
    }

    fn take(&mut self, len: usize) -> Result<&'a [u8], String> {
        if len > self.rest.len() {
            return Err("truncated protobuf field".into());
        }
        let (taken, rest) = self.rest.split_at(len);
        self.rest = rest;
        Ok(taken)
    }

    fn field(&mut self) -> Result<(u64, Wire<'a>), String> {
        let tag = self.varint()?;
        let value = match tag & 7 {
            0 => Wire::Varint(self.varint()?),
            1 => {
                self.take(8)?;
                Wire::Fixed
            }
            2 => {
                let len =
                    usize::try_from(self.varint()?).map_err(|_| "protobuf length too large")?;
                Wire::Bytes(self.take(len)?)
            }
            5 => {
                self.take(4)?;
                Wire::Fixed
            }
            other => return Err(format!("unsupported protobuf wire type {other}")),
        };
        Ok((tag >> 3, value))
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<(u64, Wire<'a>), String>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.rest.is_empty() {
            return None;
        }
        let field = self.field();
        self.failed = field.is_err();
        Some(field)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode_field(number: u64, bytes: &[u8]) -> Vec<u8> {
        let mut out =
            vec![u8::try_from((number << 3) | 2).unwrap(), u8::try_from(bytes.len()).unwrap()];
        out.extend_from_slice(bytes);
        out
    }

    #[test]
    fn a_namespace_body_decodes() {
        let meta = encode_field(1, b"statefulset01");
        let raw = [encode_field(1, &meta), encode_field(2, b""), encode_field(3, b"")].concat();
        let type_meta = [encode_field(1, b"v1"), encode_field(2, b"Namespace")].concat();
        let body = [MAGIC.to_vec(), encode_field(1, &type_meta), encode_field(2, &raw)].concat();
        let object = decode(&body).unwrap();
        assert_eq!(
            object,
            json!({"metadata": {"name": "statefulset01"}, "apiVersion": "v1", "kind": "Namespace"})
        );
    }

    #[test]
    fn a_config_map_with_labels_and_data_decodes() {
        let label = [encode_field(1, b"app"), encode_field(2, b"web")].concat();
        let meta =
            [encode_field(1, b"demo"), encode_field(3, b"s"), encode_field(11, &label)].concat();
        let entry = [encode_field(1, b"k"), encode_field(2, b"v")].concat();
        let binary = [encode_field(1, b"b"), encode_field(2, &[0, 255])].concat();
        let raw =
            [encode_field(1, &meta), encode_field(2, &entry), encode_field(3, &binary)].concat();
        let type_meta = [encode_field(1, b"v1"), encode_field(2, b"ConfigMap")].concat();
        let body = [MAGIC.to_vec(), encode_field(1, &type_meta), encode_field(2, &raw)].concat();
        assert_eq!(
            decode(&body).unwrap(),
            json!({"metadata": {"name": "demo", "namespace": "s", "labels": {"app": "web"}},
                   "data": {"k": "v"}, "binaryData": {"b": "AP8="}, "apiVersion": "v1", "kind": "ConfigMap"})
        );
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for body in
            [&b""[..], b"k8s\0", b"k8s\0\x0a\xff", b"k8s\0\x0a\x05ab", b"json", b"k8s\0\x0f"]
        {
            let _ = decode(body);
        }
        assert!(decode(b"{}").is_err());
        let type_meta = [encode_field(1, b"apps/v1"), encode_field(2, b"Deployment")].concat();
        let body = [MAGIC.to_vec(), encode_field(1, &type_meta)].concat();
        assert!(decode(&body).unwrap_err().contains("not supported"));
    }
}
