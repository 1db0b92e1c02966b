//! ControllerRevisions of a StatefulSet, byte for byte as kube-controller-manager makes them:
//! the patch that records a pod template (`getPatch` in
//! pkg/controller/statefulset/stateful_set_utils.go), its hash and name
//! (`HashControllerRevision`, `ControllerRevisionName` in pkg/controller/history), which
//! revision is current and which is the update (`getStatefulSetRevisions` in
//! stateful_set_control.go) and which old ones go (`truncateHistory`).

use std::collections::{BTreeMap, HashSet};

use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet};
use k8s_openapi::api::core::v1::PodTemplateSpec;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::runtime::RawExtension;
use serde_json::Value;

use super::identity;
use crate::cached_pod::CachedPod;

/// The label a ControllerRevision carries its hash in (`history.ControllerRevisionHashLabel`).
pub(crate) const REVISION_HASH_LABEL: &str = "controller.kubernetes.io/hash";

/// The JSON a revision's `data` holds for `set`: `{"spec":{"template":{…,"$patch":"replace"}}}`
/// with every object's keys sorted, as Go's `json.Marshal` of the generic map writes it.
///
/// Kubernetes v1.33 serializes the template with `metadata.creationTimestamp: null` and
/// `resources: {}` on every container (non-pointer structs that `omitempty` cannot drop); the
/// typed template here has neither, so both are put back to hash the same bytes.
pub(crate) fn patch(template: &PodTemplateSpec) -> Value {
    let mut template = serde_json::to_value(template).unwrap_or(Value::Null);
    if let Value::Object(template) = &mut template {
        let metadata =
            template.entry("metadata").or_insert_with(|| Value::Object(Default::default()));
        if let Value::Object(metadata) = metadata {
            metadata.entry("creationTimestamp").or_insert(Value::Null);
        }
        if let Some(Value::Object(spec)) = template.get_mut("spec") {
            for list in ["initContainers", "containers", "ephemeralContainers"] {
                if let Some(Value::Array(containers)) = spec.get_mut(list) {
                    for container in containers {
                        if let Value::Object(container) = container {
                            container
                                .entry("resources")
                                .or_insert_with(|| Value::Object(Default::default()));
                        }
                    }
                }
            }
        }
        template.insert("$patch".into(), Value::String("replace".into()));
    }
    serde_json::json!({ "spec": { "template": template } })
}

/// `value` written as Go's `encoding/json` writes a generic map: compact, keys sorted,
/// `<`, `>`, `&`, U+2028 and U+2029 escaped.
pub(crate) fn go_json(value: &Value) -> String {
    let mut out = String::new();
    write_go_json(value, &mut out);
    out
}

fn write_go_json(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_go_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_go_json(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_go_string(key, out);
                out.push(':');
                write_go_json(&map[key], out);
            }
            out.push('}');
        }
    }
}

fn write_go_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Go's `hash/fnv.New32` (FNV-1, not FNV-1a).
pub(crate) fn fnv32(chunks: &[&[u8]]) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for chunk in chunks {
        for &byte in *chunk {
            hash = hash.wrapping_mul(0x0100_0193);
            hash ^= u32::from(byte);
        }
    }
    hash
}

/// `rand.SafeEncodeString`: every byte mapped into an alphabet without vowels or look-alikes.
pub(crate) fn safe_encode(s: &str) -> String {
    const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    s.bytes().map(|b| ALPHANUMS[usize::from(b) % ALPHANUMS.len()] as char).collect()
}

/// `history.HashControllerRevision`: FNV-32 over the data bytes and the decimal collision
/// count, safe-encoded from its decimal form.
pub(crate) fn hash(data: &str, collision_count: i32) -> String {
    let probe = collision_count.to_string();
    safe_encode(&fnv32(&[data.as_bytes(), probe.as_bytes()]).to_string())
}

/// `history.ControllerRevisionName`: the prefix is cut to 223 characters.
pub(crate) fn revision_name(set_name: &str, hash: &str) -> String {
    let prefix: String = set_name.chars().take(223).collect();
    format!("{prefix}-{hash}")
}

/// The revision `newRevision` builds for `set` at `number` (not yet created): labels from the
/// template plus the hash label, the set's annotations, a controller reference to the set.
pub(crate) fn new_revision(
    set: &StatefulSet,
    number: i64,
    collision_count: i32,
) -> ControllerRevision {
    let data = patch(&set.spec.as_ref().map(|s| s.template.clone()).unwrap_or_default());
    let raw = go_json(&data);
    let hash = hash(&raw, collision_count);
    let set_name = set.metadata.name.clone().unwrap_or_default();
    let mut labels: BTreeMap<String, String> = set
        .spec
        .as_ref()
        .and_then(|s| s.template.metadata.as_ref())
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    labels.insert(REVISION_HASH_LABEL.into(), hash.clone());
    ControllerRevision {
        metadata: ObjectMeta {
            name: Some(revision_name(&set_name, &hash)),
            namespace: set.metadata.namespace.clone(),
            labels: Some(labels),
            annotations: Some(set.metadata.annotations.clone().unwrap_or_default()),
            owner_references: Some(vec![identity::set_owner_ref(set)]),
            ..ObjectMeta::default()
        },
        data: Some(RawExtension(data)),
        revision: number,
    }
}

/// Whether two revisions record the same template (`history.EqualRevision` compares the raw
/// bytes; the API server may re-encode them, so both sides are compared in Go's encoding).
pub(crate) fn equal(a: &ControllerRevision, b: &ControllerRevision) -> bool {
    let raw = |r: &ControllerRevision| r.data.as_ref().map(|d| go_json(&d.0));
    raw(a) == raw(b)
}

/// `history.SortControllerRevisions`: by `.revision`, then creation time, then name.
pub(crate) fn sort(revisions: &mut [ControllerRevision]) {
    revisions.sort_by(|a, b| {
        a.revision
            .cmp(&b.revision)
            .then_with(|| {
                let created =
                    |r: &ControllerRevision| r.metadata.creation_timestamp.as_ref().map(|t| t.0);
                created(a).cmp(&created(b))
            })
            .then_with(|| a.metadata.name.cmp(&b.metadata.name))
    });
}

/// The pod template a revision recorded (`ApplyRevision` replaces the set's template with it).
pub(crate) fn template(revision: &ControllerRevision) -> Option<PodTemplateSpec> {
    let mut template = revision.data.as_ref()?.0.pointer("/spec/template")?.clone();
    if let Value::Object(map) = &mut template {
        map.remove("$patch");
        if let Some(Value::Object(metadata)) = map.get_mut("metadata") {
            metadata.remove("creationTimestamp");
        }
    }
    serde_json::from_value(template).ok()
}

/// What to do to find the update revision (`getStatefulSetRevisions`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum UpdateRevision {
    /// The newest revision already records the template: it is the update revision.
    Newest(usize),
    /// An older revision records it (a rollback): bump its `.revision` to this number.
    Bump { index: usize, revision: i64 },
    /// No revision records it: create this one (retrying with a higher collision count when
    /// the name is taken by different data).
    Create(Box<ControllerRevision>),
}

/// Decides the update revision for `set` given its revisions, sorted by [`sort`].
pub(crate) fn decide(set: &StatefulSet, revisions: &[ControllerRevision]) -> UpdateRevision {
    let collision_count = set.status.as_ref().and_then(|s| s.collision_count).unwrap_or(0);
    let next = revisions.last().map_or(1, |r| r.revision + 1);
    let candidate = new_revision(set, next, collision_count);
    let last_equal = revisions.iter().rposition(|r| equal(r, &candidate));
    match last_equal {
        Some(index) if index + 1 == revisions.len() => UpdateRevision::Newest(index),
        Some(index) => UpdateRevision::Bump { index, revision: next },
        None => UpdateRevision::Create(Box::new(candidate)),
    }
}

/// Names of the revisions `truncateHistory` deletes: the oldest ones that neither the current
/// nor the update revision nor any pod uses, beyond `revisionHistoryLimit` (negative: keep all).
pub(crate) fn to_truncate(
    set: &StatefulSet,
    pods: &[std::sync::Arc<CachedPod>],
    revisions: &[ControllerRevision],
    current: &str,
    update: &str,
) -> Vec<String> {
    let limit = set.spec.as_ref().and_then(|s| s.revision_history_limit).unwrap_or(10);
    let mut live: HashSet<&str> = HashSet::from([current, update]);
    for pod in pods {
        live.insert(identity::pod_revision(pod));
    }
    let history: Vec<&ControllerRevision> = revisions
        .iter()
        .filter(|r| !live.contains(r.metadata.name.as_deref().unwrap_or_default()))
        .collect();
    let Ok(limit) = usize::try_from(limit) else { return Vec::new() };
    if history.len() <= limit {
        return Vec::new();
    }
    history[..history.len() - limit].iter().filter_map(|r| r.metadata.name.clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv32_is_fnv1_like_go() {
        // Test vectors of FNV-1 (32 bit) from the FNV reference (isthe.com/chongo/tech/comp/fnv).
        assert_eq!(fnv32(&[b""]), 0x811c_9dc5);
        assert_eq!(fnv32(&[b"a"]), 0x050c_5d7e);
        assert_eq!(fnv32(&[b"foo", b"bar"]), 0x31f0_b262);
    }

    #[test]
    fn safe_encode_maps_digits_like_go() {
        assert_eq!(safe_encode("0123456789"), "456789bcdf");
    }

    #[test]
    fn hash_matches_kubernetes_133() {
        // pkg/controller/statefulset/stateful_set_control_test.go (v1.33): "c77f6d978 and the
        // raw data was computed from the hash of the defaulted serialized statefulset spec".
        let raw = r#"{"spec":{"template":{"$patch":"replace","metadata":{"annotations":{"test":"value"},"creationTimestamp":null,"labels":{"app":"foo"}},"spec":{"containers":[{"image":"test","imagePullPolicy":"Always","name":"test","resources":{},"terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File"}],"dnsPolicy":"ClusterFirst","restartPolicy":"Always","schedulerName":"default-scheduler","securityContext":{},"terminationGracePeriodSeconds":30}}}}"#;
        assert_eq!(hash(raw, 0), "c77f6d978");
        assert_eq!(revision_name("test", &hash(raw, 0)), "test-c77f6d978");
        // A collision count changes the name.
        assert_ne!(hash(raw, 1), "c77f6d978");
    }

    #[test]
    fn patch_of_a_typed_template_is_the_bytes_kubernetes_hashes() {
        let template: PodTemplateSpec = serde_json::from_value(serde_json::json!({
            "metadata": {"labels": {"app": "foo"}, "annotations": {"test": "value"}},
            "spec": {
                "containers": [{"name": "test", "image": "test", "imagePullPolicy": "Always",
                    "terminationMessagePath": "/dev/termination-log",
                    "terminationMessagePolicy": "File"}],
                "restartPolicy": "Always", "terminationGracePeriodSeconds": 30,
                "dnsPolicy": "ClusterFirst", "securityContext": {},
                "schedulerName": "default-scheduler"
            }
        }))
        .unwrap();
        assert_eq!(hash(&go_json(&patch(&template)), 0), "c77f6d978");
    }

    #[test]
    fn go_json_sorts_keys_and_escapes_html() {
        let value =
            serde_json::json!({"b": [1, "x<y&z>"], "a": {"d": null, "c": true}, "e": "\n\u{1}"});
        assert_eq!(
            go_json(&value),
            r#"{"a":{"c":true,"d":null},"b":[1,"x\u003cy\u0026z\u003e"],"e":"\n\u0001"}"#
        );
    }

    #[test]
    fn template_round_trips_through_a_revision() {
        let template: PodTemplateSpec = serde_json::from_value(serde_json::json!({
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "nginx", "image": "nginx:1"}]}
        }))
        .unwrap();
        let revision = ControllerRevision {
            data: Some(RawExtension(patch(&template))),
            ..ControllerRevision::default()
        };
        let back = template_or_panic(&revision);
        assert_eq!(back.metadata, template.metadata);
        assert_eq!(back.spec.unwrap().containers[0].image.as_deref(), Some("nginx:1"));
    }

    fn template_or_panic(revision: &ControllerRevision) -> PodTemplateSpec {
        template(revision).expect("a template")
    }
}
