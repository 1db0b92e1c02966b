//! Malformed `resource.Quantity` values. kube-apiserver fails to decode them (the typed
//! object cannot hold them), so they are refused before any validation, with
//! `ParseQuantity`'s error; a quantity's field path is not part of that message.

use serde_json::Value;

/// `ParseQuantity`'s `ErrFormatWrong`.
pub const FORMAT_WRONG: &str =
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
/// `ParseQuantity`'s `ErrSuffix`.
pub const BAD_SUFFIX: &str = "unable to parse quantity's suffix";

/// The error kube-apiserver's `ParseQuantity` gives `text` (the trimmed, unquoted JSON text of
/// the value), if any: a port of `parseQuantityString` and the suffix table.
pub fn quantity_error(text: &str) -> Option<&'static str> {
    let b = text.as_bytes();
    if b.is_empty() {
        return Some(FORMAT_WRONG);
    }
    if text == "0" {
        return None;
    }
    let end = b.len();
    let mut pos = usize::from(matches!(b[0], b'-' | b'+'));
    while pos < end && b[pos] == b'0' {
        pos += 1;
    }
    if pos >= end {
        return None;
    }
    while pos < end && b[pos].is_ascii_digit() {
        pos += 1;
    }
    if pos < end && b[pos] == b'.' {
        pos += 1;
        while pos < end && b[pos].is_ascii_digit() {
            pos += 1;
        }
    }
    let suffix_start = pos;
    while pos < end && b"eEinumkKMGTP".contains(&b[pos]) {
        pos += 1;
    }
    if pos < end && matches!(b[pos], b'-' | b'+') {
        pos += 1;
    }
    while pos < end && b[pos].is_ascii_digit() {
        pos += 1;
    }
    if pos < end {
        return Some(FORMAT_WRONG);
    }
    let suffix = &text[suffix_start..];
    let known = matches!(
        suffix,
        "" | "n"
            | "u"
            | "m"
            | "k"
            | "M"
            | "G"
            | "T"
            | "P"
            | "E"
            | "Ki"
            | "Mi"
            | "Gi"
            | "Ti"
            | "Pi"
            | "Ei"
    ) || suffix
        .strip_prefix(['e', 'E'])
        .is_some_and(|exponent| exponent.parse::<i64>().is_ok());
    (!known).then_some(BAD_SUFFIX)
}

/// The error of one quantity value as JSON carries it (`Quantity.UnmarshalJSON`).
fn value_error(value: &Value) -> Option<&'static str> {
    match value {
        Value::Null => None,
        Value::String(s) => quantity_error(s.trim()),
        Value::Number(n) => quantity_error(&n.to_string()),
        other => quantity_error(&other.to_string()),
    }
}

/// The first error among a map of quantities (`requests`, `capacity`, …).
fn map_error(map: Option<&Value>) -> Option<&'static str> {
    map?.as_object()?.values().find_map(value_error)
}

/// Walks the members of `value` in document order, `visit` giving each one's error.
fn members(
    value: Option<&Value>,
    mut visit: impl FnMut(&str, &Value) -> Option<&'static str>,
) -> Option<&'static str> {
    value?.as_object()?.iter().find_map(|(key, member)| visit(key, member))
}

fn items(
    value: Option<&Value>,
    visit: impl Fn(&Value) -> Option<&'static str>,
) -> Option<&'static str> {
    value?.as_array()?.iter().find_map(visit)
}

/// `ResourceRequirements`, `VolumeResourceRequirements`.
fn requirements(value: &Value) -> Option<&'static str> {
    members(Some(value), |key, member| match key {
        "limits" | "requests" => map_error(Some(member)),
        _ => None,
    })
}

fn claim_spec(value: &Value) -> Option<&'static str> {
    members(Some(value), |key, member| (key == "resources").then(|| requirements(member)).flatten())
}

/// A LimitRange's item: its five resource lists.
fn limit_range_item(item: &Value) -> Option<&'static str> {
    members(Some(item), |key, member| {
        let lists = ["max", "min", "default", "defaultRequest", "maxLimitRequestRatio"];
        lists.contains(&key).then(|| map_error(Some(member))).flatten()
    })
}

fn pod_spec(value: &Value) -> Option<&'static str> {
    members(Some(value), |key, member| match key {
        "containers" | "initContainers" | "ephemeralContainers" => items(Some(member), |c| {
            members(Some(c), |k, m| (k == "resources").then(|| requirements(m)).flatten())
        }),
        "overhead" => map_error(Some(member)),
        "resources" => requirements(member),
        "volumes" => items(Some(member), |volume| {
            members(Some(volume), |k, m| match k {
                "emptyDir" => m.get("sizeLimit").and_then(value_error),
                "ephemeral" => m.pointer("/volumeClaimTemplate/spec").and_then(claim_spec),
                _ => None,
            })
        }),
        _ => None,
    })
}

/// The first malformed quantity of a `group/kind` object (document order), as the error
/// kube-apiserver's decoding gives it.
pub fn malformed_quantity(group: &str, kind: &str, object: &Value) -> Option<&'static str> {
    let spec = object.get("spec");
    match (group, kind) {
        ("", "Pod") => spec.and_then(pod_spec),
        ("apps", "StatefulSet" | "Deployment" | "ReplicaSet" | "DaemonSet") => {
            members(spec, |key, member| match key {
                "template" => member.get("spec").and_then(pod_spec),
                "volumeClaimTemplates" => {
                    items(Some(member), |claim| claim.get("spec").and_then(claim_spec))
                }
                _ => None,
            })
        }
        ("", "PersistentVolumeClaim") => members(Some(object), |key, member| match key {
            "spec" => claim_spec(member),
            "status" => members(Some(member), |k, m| {
                matches!(k, "capacity" | "allocatedResources").then(|| map_error(Some(m))).flatten()
            }),
            _ => None,
        }),
        ("", "PersistentVolume") => spec.and_then(|s| map_error(s.get("capacity"))),
        ("", "LimitRange") => members(spec, |key, member| {
            (key == "limits").then(|| items(Some(member), limit_range_item)).flatten()
        }),
        ("", "Node") => members(object.get("status"), |key, member| {
            matches!(key, "capacity" | "allocatable").then(|| map_error(Some(member))).flatten()
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn quantities_fail_as_parse_quantity_fails() {
        for good in ["0", "1", "100m", "1.5Gi", "2e3", "1E-2", "+5", "-1", ".5", "1.", "0.000"] {
            assert_eq!(quantity_error(good), None, "{good}");
        }
        for (bad, error) in [
            ("", FORMAT_WRONG),
            ("1x", FORMAT_WRONG),
            ("abc", FORMAT_WRONG),
            ("1 Gi", FORMAT_WRONG),
            ("1.2.3", FORMAT_WRONG),
            ("1GG", BAD_SUFFIX),
            ("1Mb", FORMAT_WRONG),
            ("1ki", BAD_SUFFIX),
            ("1e", BAD_SUFFIX),
        ] {
            assert_eq!(quantity_error(bad), Some(error), "{bad}");
        }
    }

    #[test]
    fn quantities_are_found_where_kinds_hold_them() {
        let pod = json!({"spec": {"containers": [{"name": "c",
            "resources": {"requests": {"cpu": "100m", "memory": "1x"}}}]}});
        assert_eq!(malformed_quantity("", "Pod", &pod), Some(FORMAT_WRONG));
        let sts = json!({"spec": {"template": {"spec": {"volumes": [{"name": "v",
            "emptyDir": {"sizeLimit": "1GG"}}]}}}});
        assert_eq!(malformed_quantity("apps", "StatefulSet", &sts), Some(BAD_SUFFIX));
        let claim = json!({"spec": {"resources": {"requests": {"storage": 5}}}});
        assert_eq!(malformed_quantity("", "PersistentVolumeClaim", &claim), None);
        let node = json!({"status": {"capacity": {"cpu": true}}});
        assert_eq!(malformed_quantity("", "Node", &node), Some(FORMAT_WRONG));
        let range = json!({"spec": {"limits": [{"type": "Container", "max": {"cpu": "1"}},
            {"type": "Pod", "maxLimitRequestRatio": {"cpu": "2x"}}]}});
        assert_eq!(malformed_quantity("", "LimitRange", &range), Some(FORMAT_WRONG));
        assert_eq!(malformed_quantity("", "ConfigMap", &json!({"data": {"a": "1x"}})), None);
    }
}
