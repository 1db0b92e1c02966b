//! JSON merge patch (RFC 7386) and JSON patch (RFC 6902), applied to JSON objects.

use serde_json::Value;

/// Applies a JSON merge patch: objects merge key by key, `null` removes, anything else
/// replaces.
pub(crate) fn merge(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(serde_json::Map::new());
    }
    let Value::Object(map) = target else { return };
    for (key, value) in patch {
        if value.is_null() {
            map.remove(key);
        } else {
            merge(map.entry(key.clone()).or_insert(Value::Null), value);
        }
    }
}

/// Applies a JSON patch, all or nothing. The error says which operation failed and why.
pub(crate) fn json_patch(target: &mut Value, patch: &Value) -> Result<(), String> {
    let operations = patch.as_array().ok_or("a JSON patch must be an array of operations")?;
    let mut result = target.clone();
    for (index, operation) in operations.iter().enumerate() {
        apply_operation(&mut result, operation).map_err(|e| format!("operation {index}: {e}"))?;
    }
    *target = result;
    Ok(())
}

fn apply_operation(target: &mut Value, operation: &Value) -> Result<(), String> {
    let op = operation.get("op").and_then(Value::as_str).ok_or("missing \"op\"")?;
    let path = operation.get("path").and_then(Value::as_str).ok_or("missing \"path\"")?;
    let value = || operation.get("value").cloned().ok_or_else(|| format!("{op} needs a \"value\""));
    let from = || {
        operation.get("from").and_then(Value::as_str).ok_or_else(|| format!("{op} needs \"from\""))
    };
    match op {
        "add" => add(target, path, value()?),
        "remove" => remove(target, path).map(drop),
        "replace" => {
            remove(target, path)?;
            add(target, path, value()?)
        }
        "move" => {
            let moved = remove(target, from()?)?;
            add(target, path, moved)
        }
        "copy" => {
            let copied = target.pointer(from()?).cloned().ok_or("\"from\" does not exist")?;
            add(target, path, copied)
        }
        "test" => {
            let actual = target.pointer(path).ok_or_else(|| format!("{path} does not exist"))?;
            if *actual == value()? { Ok(()) } else { Err(format!("test failed at {path}")) }
        }
        other => Err(format!("unknown op {other:?}")),
    }
}

/// Splits a JSON pointer into its parent pointer and last token (unescaped).
fn split(path: &str) -> Result<(&str, String), String> {
    let index = path.rfind('/').ok_or_else(|| format!("invalid path {path:?}"))?;
    let token = path[index + 1..].replace("~1", "/").replace("~0", "~");
    Ok((&path[..index], token))
}

fn add(target: &mut Value, path: &str, value: Value) -> Result<(), String> {
    if path.is_empty() {
        *target = value;
        return Ok(());
    }
    let (parent, token) = split(path)?;
    match target.pointer_mut(parent) {
        Some(Value::Object(map)) => {
            map.insert(token, value);
            Ok(())
        }
        Some(Value::Array(items)) => {
            let index = if token == "-" {
                items.len()
            } else {
                token.parse::<usize>().map_err(|_| format!("invalid array index {token:?}"))?
            };
            if index > items.len() {
                return Err(format!("index {index} out of range"));
            }
            items.insert(index, value);
            Ok(())
        }
        _ => Err(format!("{parent:?} does not exist")),
    }
}

fn remove(target: &mut Value, path: &str) -> Result<Value, String> {
    let (parent, token) = split(path)?;
    match target.pointer_mut(parent) {
        Some(Value::Object(map)) => {
            map.remove(&token).ok_or_else(|| format!("{path} does not exist"))
        }
        Some(Value::Array(items)) => {
            let index =
                token.parse::<usize>().map_err(|_| format!("invalid array index {token:?}"))?;
            if index >= items.len() {
                return Err(format!("{path} does not exist"));
            }
            Ok(items.remove(index))
        }
        _ => Err(format!("{path} does not exist")),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn merge_patch_follows_rfc_7386() {
        let mut target = json!({"a": "b", "c": {"d": "e", "f": "g"}, "l": [1, 2]});
        merge(&mut target, &json!({"a": "z", "c": {"f": null}, "l": [3], "n": {"x": 1}}));
        assert_eq!(target, json!({"a": "z", "c": {"d": "e"}, "l": [3], "n": {"x": 1}}));
    }

    #[test]
    fn json_patch_applies_every_operation_or_none() {
        let mut target =
            json!({"metadata": {"labels": {"a": "1"}}, "spec": {"replicas": 1, "ports": [80]}});
        json_patch(
            &mut target,
            &json!([
                {"op": "replace", "path": "/spec/replicas", "value": 3},
                {"op": "add", "path": "/metadata/labels/b~1c", "value": "2"},
                {"op": "add", "path": "/spec/ports/-", "value": 443},
                {"op": "remove", "path": "/metadata/labels/a"},
                {"op": "test", "path": "/spec/replicas", "value": 3},
                {"op": "copy", "from": "/spec/replicas", "path": "/spec/copy"},
                {"op": "move", "from": "/spec/copy", "path": "/spec/moved"}
            ]),
        )
        .unwrap();
        assert_eq!(
            target,
            json!({"metadata": {"labels": {"b/c": "2"}}, "spec": {"replicas": 3, "ports": [80, 443], "moved": 3}})
        );
        let before = target.clone();
        let failed = json_patch(
            &mut target,
            &json!([{"op": "replace", "path": "/spec/replicas", "value": 5}, {"op": "remove", "path": "/nope"}]),
        );
        assert!(failed.unwrap_err().contains("operation 1"));
        assert_eq!(target, before, "a failed patch changes nothing");
    }
}
