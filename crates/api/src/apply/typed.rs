//! Walks over JSON values with their merge types (structured-merge-diff's `typed` package):
//! the field set a configuration sets, the comparison of two objects, the merge of a
//! configuration into an object, and the removal of a set of fields.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::fieldpath::{Element, Set};
use super::schema::Ty;

fn has_fields(ty: Ty) -> bool {
    matches!(ty, Ty::Struct(_) | Ty::Map(_) | Ty::Deduced)
}

fn has_items(ty: Ty) -> bool {
    matches!(ty, Ty::Set | Ty::Keyed(..))
}

/// The value a missing key field of a map list takes, from the schema's defaults (kube-openapi
/// gives `protocol` the default `TCP` in ports lists).
fn key_default(key: &str) -> Option<Value> {
    (key == "protocol").then(|| Value::String("TCP".into()))
}

/// The path element of a list item: its keys for map lists, its value for sets.
pub(crate) fn item_element(ty: Ty, item: &Value) -> Result<Element, String> {
    let Ty::Keyed(keys, _) = ty else { return Ok(Element::Value(item.to_string())) };
    let Value::Object(map) = item else {
        return Err(format!("associative list with keys has an element that is not a map: {item}"));
    };
    // `canonical_key` of the key fields, written directly: this runs for every item of every
    // keyed list (containers, ports, env …) of every write.
    let mut sorted: Vec<&String> = keys.iter().collect();
    sorted.sort_unstable();
    let mut text = String::from("{");
    for (i, key) in sorted.into_iter().enumerate() {
        let default;
        let value = match map.get(key).filter(|v| !v.is_null()) {
            Some(value) => value,
            None => {
                default = key_default(key).ok_or_else(|| {
                    format!(
                        "associative list with keys has an element that omits key field {key:?} (and doesn't have default value)"
                    )
                })?;
                &default
            }
        };
        if i > 0 {
            text.push(',');
        }
        text.push_str(&Value::String(key.clone()).to_string());
        text.push(':');
        text.push_str(&value.to_string());
    }
    text.push('}');
    Ok(Element::Key(text))
}

/// The items of a list with their elements; the first of duplicates wins.
fn index(ty: Ty, items: &[Value]) -> Result<Vec<(Element, &Value)>, String> {
    let mut out: Vec<(Element, &Value)> = Vec::with_capacity(items.len());
    // Lists are short: a scan finds duplicates without hashing or cloning every element.
    let mut seen = std::collections::HashSet::new();
    for item in items {
        let element = item_element(ty, item)?;
        let duplicate = if items.len() <= 32 {
            out.iter().any(|(e, _)| *e == element)
        } else {
            !seen.insert(element.clone())
        };
        if !duplicate {
            out.push((element, item));
        }
    }
    Ok(out)
}

/// The fields a configuration sets: its leaves, its list items, the keys of its maps, and
/// struct fields it sets to null or `{}`.
pub(crate) fn to_set(
    value: &Value,
    ty: Ty,
    path: &mut Vec<Element>,
    set: &mut Set,
) -> Result<(), String> {
    match value {
        Value::Object(map) if has_fields(ty) => {
            for (key, child) in map {
                path.push(Element::Field(key.clone()));
                to_set(child, ty.member(key), path, set)?;
                let empty = child.is_null() || child.as_object().is_some_and(Map::is_empty);
                if empty || !ty.is_struct() {
                    set.insert(path);
                }
                path.pop();
            }
        }
        Value::Array(items) if has_items(ty) => {
            for (element, item) in index(ty, items)? {
                path.push(element);
                to_set(item, ty.item(), path, set)?;
                set.insert(path);
                path.pop();
            }
        }
        _ => set.insert(path),
    }
    Ok(())
}

/// The `FieldsV1` JSON of every field of `value` — what comparing nothing with `value` marks
/// as added (leaves, list items, non-empty containers), encoded — written as text straight
/// from `value`, without building a [`Set`] or a JSON tree: a create records this for its
/// writer, for every object, and kube-apiserver keeps `FieldsV1` as raw bytes too. `skip`
/// holds fields nobody owns (its members go, their children are still walked) and `reset`
/// top-level fields to leave out whole. `None` if it owns nothing. Identical to `compare` +
/// [`Set::subtract`] + [`Set::to_fields_v1`], serialized (tested).
pub(crate) fn added_fields_v1(
    value: &Value,
    ty: Ty,
    zero: &Value,
    skip: &Set,
    reset: &[&str],
) -> Option<String> {
    let mut out = Vec::with_capacity(2048);
    if !added_node(&mut out, value, ty, Some(zero), Some(skip), reset, false) {
        return None;
    }
    // Only JSON text was written: keys and strings through `push_str`, the rest ASCII.
    String::from_utf8(out).ok()
}

/// Writes one node of [`added_fields_v1`] to `out`; false (and nothing written) if it owns
/// nothing. Object members are named `f:<key>` directly (in the keys' order, as for
/// [`Element::Field`]); list items go through their [`Element`]s. `zero` is what the kind's
/// zero value has at this node (`zero.rs`): a member it has (a non-pointer struct, a `null`
/// list) existed before the create, so it does not own itself (no `.`), only what is under it.
fn added_node(
    out: &mut Vec<u8>,
    value: &Value,
    ty: Ty,
    zero: Option<&Value>,
    skip: Option<&Set>,
    reset: &[&str],
    owned: bool,
) -> bool {
    // Added whole: the node owns itself.
    let member = owned && zero.is_none();
    let below = |element: &Element| match skip {
        Some(skip) => (skip.has_member(element), skip.child(element).filter(|s| !s.is_empty())),
        None => (false, None),
    };
    let start = out.len();
    // `.` sorts before every `f:`, `k:` and `v:` name; it is kept only if a child follows.
    out.extend_from_slice(if member { br#"{".":{}"# } else { b"{" });
    let mut children = 0;
    let mut leaf = false;
    match value {
        Value::Object(map) if has_fields(ty) && !map.is_empty() => {
            let mut members: Vec<(&String, &Value)> =
                map.iter().filter(|(key, _)| !reset.contains(&key.as_str())).collect();
            members.sort_unstable_by(|a, b| a.0.cmp(b.0));
            for (key, value) in members {
                let (skipped, below) = match skip {
                    Some(_) => below(&Element::Field(key.clone())),
                    None => (false, None),
                };
                let zero = zero.and_then(|zero| zero.get(key));
                let first = !member && children == 0;
                if added_child(out, first, &["f:", key], |out| {
                    added_node(out, value, ty.member(key), zero, below, &[], !skipped)
                }) {
                    children += 1;
                }
            }
        }
        Value::Array(items) if has_items(ty) && !items.is_empty() => {
            if let Ok(mut items) = index(ty, items) {
                items.sort_by(|a, b| a.0.cmp(&b.0));
                for (element, item) in items {
                    let (skipped, below) = below(&element);
                    let first = !member && children == 0;
                    if added_child(out, first, &[&element.encode()], |out| {
                        added_node(out, item, ty.item(), None, below, &[], !skipped)
                    }) {
                        children += 1;
                    }
                }
            }
        }
        _ => leaf = true,
    }
    if children == 0 {
        out.truncate(start);
        // A leaf (a scalar, an atomic or empty value) the zero value has is owned if the
        // create changed it (`selector: null` to a selector; SMD compares the two as leaves).
        let changed = owned && leaf && zero.is_some_and(|zero| zero != value);
        if member || changed {
            out.extend_from_slice(b"{}");
            return true;
        }
        return false;
    }
    out.push(b'}');
    true
}

/// Writes one member of an [`added_node`] object, `"name":` (after a comma unless it is the
/// `first`) and the node `write` writes; takes it all back if the node owns nothing.
fn added_child(
    out: &mut Vec<u8>,
    first: bool,
    name: &[&str],
    write: impl FnOnce(&mut Vec<u8>) -> bool,
) -> bool {
    let mark = out.len();
    if !first {
        out.push(b',');
    }
    push_str(out, name);
    out.push(b':');
    let owns = write(out);
    if !owns {
        out.truncate(mark);
    }
    owns
}

/// Writes the concatenation of `parts` as a JSON string, escaped as `serde_json` escapes.
pub(crate) fn push_str(out: &mut Vec<u8>, parts: &[&str]) {
    let plain = |part: &&str| part.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\');
    if parts.iter().all(plain) {
        out.push(b'"');
        for part in parts {
            out.extend_from_slice(part.as_bytes());
        }
        out.push(b'"');
    } else {
        // Writing a `String` into a `Vec` cannot fail.
        let _ = serde_json::to_writer(&mut *out, &parts.concat());
    }
}

/// What changed from one object to another, path by path.
#[derive(Debug, Default)]
pub(crate) struct Comparison {
    pub(crate) added: Set,
    pub(crate) modified: Set,
    pub(crate) removed: Set,
}

impl Comparison {
    fn leaf(&mut self, lhs: Option<&Value>, rhs: Option<&Value>, path: &[Element]) {
        match (lhs, rhs) {
            (None, Some(_)) => self.added.insert(path),
            (Some(_), None) => self.removed.insert(path),
            (Some(l), Some(r)) if !crate::json::equal(l, r) => self.modified.insert(path),
            _ => {}
        }
    }

    /// Containers that appear or disappear are themselves added or removed.
    fn container(&mut self, lhs: Option<&Value>, rhs: Option<&Value>, path: &[Element]) {
        match (lhs, rhs) {
            (None, Some(_)) => self.added.insert(path),
            (Some(_), None) => self.removed.insert(path),
            _ => {}
        }
    }
}

/// Compares `lhs` with `rhs` (either may be absent) into `out`.
pub(crate) fn compare(
    lhs: Option<&Value>,
    rhs: Option<&Value>,
    ty: Ty,
    path: &mut Vec<Element>,
    out: &mut Comparison,
) {
    fn object(value: Option<&Value>) -> Option<Option<&Map<String, Value>>> {
        match value {
            None | Some(Value::Null) => Some(None),
            Some(Value::Object(map)) => Some(Some(map)),
            Some(_) => None,
        }
    }
    fn array(value: Option<&Value>) -> Option<&[Value]> {
        match value {
            None | Some(Value::Null) => Some(&[]),
            Some(Value::Array(items)) => Some(items),
            Some(_) => None,
        }
    }
    // Equal values have no differences anywhere below (most of an update is unchanged).
    if let (Some(l), Some(r)) = (lhs, rhs)
        && crate::json::equal(l, r)
    {
        return;
    }
    if has_fields(ty)
        && let (Some(l), Some(r)) = (object(lhs), object(rhs))
        && (l.is_some_and(|m| !m.is_empty()) || r.is_some_and(|m| !m.is_empty()))
    {
        let empty = Map::new();
        let (l, r) = (l.unwrap_or(&empty), r.unwrap_or(&empty));
        for (key, value) in l {
            path.push(Element::Field(key.clone()));
            compare(Some(value), r.get(key), ty.member(key), path, out);
            path.pop();
        }
        for (key, value) in r.iter().filter(|(key, _)| !l.contains_key(*key)) {
            path.push(Element::Field(key.clone()));
            compare(None, Some(value), ty.member(key), path, out);
            path.pop();
        }
        out.container(lhs, rhs, path);
        return;
    }
    if has_items(ty)
        && let (Some(l), Some(r)) = (array(lhs), array(rhs))
        && (!l.is_empty() || !r.is_empty())
        && let (Ok(l), Ok(r)) = (index(ty, l), index(ty, r))
    {
        let right: HashMap<&Element, &Value> = r.iter().map(|(e, v)| (e, *v)).collect();
        let left: HashMap<&Element, &Value> = l.iter().map(|(e, v)| (e, *v)).collect();
        for (element, value) in &l {
            path.push(element.clone());
            compare(Some(value), right.get(element).copied(), ty.item(), path, out);
            path.pop();
        }
        for (element, value) in r.iter().filter(|(e, _)| !left.contains_key(e)) {
            path.push(element.clone());
            compare(None, Some(value), ty.item(), path, out);
            path.pop();
        }
        out.container(lhs, rhs, path);
        return;
    }
    out.leaf(lhs, rhs, path);
}

/// A copy without null members (a null in a configuration means "not set").
fn without_nulls(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), without_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_nulls).collect()),
        other => other.clone(),
    }
}

/// Merges a configuration into an object: the configuration's leaves win, structs and maps
/// merge member by member, set and map lists item by item, atomic values are replaced.
pub(crate) fn merge(lhs: Option<&Value>, rhs: &Value, ty: Ty) -> Result<Value, String> {
    match rhs {
        Value::Object(patch) if has_fields(ty) => {
            let mut out = match lhs {
                Some(Value::Object(map)) => map.clone(),
                _ => Map::new(),
            };
            for (key, value) in patch {
                if value.is_null() {
                    out.remove(key);
                    continue;
                }
                let merged = merge(out.get(key), value, ty.member(key))?;
                out.insert(key.clone(), merged);
            }
            Ok(Value::Object(out))
        }
        Value::Array(items) if has_items(ty) => {
            let right = index(ty, items)?;
            let left = match lhs {
                // A stored list the schema cannot key is replaced.
                Some(Value::Array(existing)) => index(ty, existing).unwrap_or_default(),
                _ => Vec::new(),
            };
            let mut out = Vec::with_capacity(left.len().max(right.len()));
            for (l, r) in merge_order(&left, &right) {
                out.push(match r {
                    Some(r) => merge(l, r, ty.item())?,
                    None => l.cloned().unwrap_or(Value::Null),
                });
            }
            Ok(Value::Array(out))
        }
        other => Ok(without_nulls(other)),
    }
}

/// The order of a merged list, as structured-merge-diff computes it: the configuration's
/// order for its items, the object's items it does not name kept where they were.
fn merge_order<'a>(
    lhs: &'a [(Element, &'a Value)],
    rhs: &'a [(Element, &'a Value)],
) -> Vec<(Option<&'a Value>, Option<&'a Value>)> {
    let left: HashMap<&Element, &Value> = lhs.iter().map(|(e, v)| (e, *v)).collect();
    let right: HashMap<&Element, &Value> = rhs.iter().map(|(e, v)| (e, *v)).collect();
    let mut shared = rhs.iter().map(|(e, _)| e).filter(|e| left.contains_key(e));
    let mut next_shared = shared.next();
    let mut out = Vec::with_capacity(lhs.len().max(rhs.len()));
    let (mut l, mut r) = (0, 0);
    while l < lhs.len() || r < rhs.len() {
        if l < lhs.len() && r < rhs.len() {
            let element = &lhs[l].0;
            if *element == rhs[r].0 {
                out.push((Some(lhs[l].1), Some(rhs[r].1)));
                l += 1;
                r += 1;
                next_shared = shared.next();
                continue;
            }
            if right.contains_key(element) && next_shared.is_some_and(|n| n != element) {
                l += 1;
                continue;
            }
        }
        if l < lhs.len() && !right.contains_key(&lhs[l].0) {
            out.push((Some(lhs[l].1), None));
            l += 1;
            continue;
        }
        if r < rhs.len() {
            let element = &rhs[r].0;
            out.push((left.get(element).copied(), Some(rhs[r].1)));
            r += 1;
            if next_shared == Some(element) {
                next_shared = shared.next();
            }
            continue;
        }
        // Only shared items the configuration already placed are left.
        l += 1;
    }
    out
}

/// Removes the members of `doomed` from `value`; maps and lists left empty by that go too.
pub(crate) fn remove(value: &mut Value, ty: Ty, doomed: &Set) {
    match value {
        Value::Object(map) if has_fields(ty) => {
            for element in doomed.elements() {
                let Element::Field(name) = element else { continue };
                if doomed.has_member(element) {
                    map.remove(name);
                    continue;
                }
                let child_ty = ty.member(name);
                if let (Some(child), Some(sub)) = (map.get_mut(name), doomed.child(element)) {
                    remove(child, child_ty, sub);
                    if !child_ty.is_struct() && is_empty_container(child) {
                        map.remove(name);
                    }
                }
            }
        }
        Value::Array(items) if has_items(ty) => {
            items.retain_mut(|item| {
                let Ok(element) = item_element(ty, item) else { return true };
                if doomed.has_member(&element) {
                    return false;
                }
                if let Some(sub) = doomed.child(&element) {
                    remove(item, ty.item(), sub);
                }
                true
            });
        }
        _ => {}
    }
}

fn is_empty_container(value: &Value) -> bool {
    match value {
        Value::Object(map) => map.is_empty(),
        Value::Array(items) => items.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::fieldpath::canonical_key;
    use super::*;

    #[test]
    fn keyed_items_are_named_by_their_canonical_keys() {
        let keys = ["protocol".to_owned(), "containerPort".to_owned(), "na\"me".to_owned()];
        let ty = Ty::Keyed(Box::leak(Box::new(keys)).as_slice(), None);
        let item = json!({"containerPort": 80, "na\"me": "ü\n", "other": 1});
        let mut expected = Map::new();
        expected.insert("containerPort".into(), json!(80));
        expected.insert("na\"me".into(), json!("ü\n"));
        expected.insert("protocol".into(), json!("TCP"));
        assert_eq!(item_element(ty, &item), Ok(Element::Key(canonical_key(expected))));
        let missing = json!({"protocol": "UDP"});
        assert!(item_element(ty, &missing).unwrap_err().contains("omits key field"));
    }

    #[test]
    fn the_first_of_duplicate_items_wins_in_short_and_long_lists() {
        for len in [3, 40] {
            let mut items: Vec<Value> = (0..len).map(|i| json!(i)).collect();
            items.push(json!(1));
            let indexed = index(Ty::Set, &items).unwrap();
            assert_eq!(indexed.len(), len);
            assert!(std::ptr::eq(indexed[1].1, &items[1]));
        }
    }
}
