//! JSON value helpers the write path runs on every request.

use serde_json::Value;

/// `a == b`, but objects whose keys come in the same order (as two versions of one object
/// almost always do) are compared member by member without a hash lookup per key, as
/// `serde_json`'s order-insensitive map equality makes. Where the orders part, the rest is
/// looked up by key, so the answer is always `a == b`.
pub fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Object(a), Value::Object(b)) => {
            if a.len() != b.len() {
                return false;
            }
            let (mut left, mut right) = (a.iter(), b.iter());
            loop {
                match (left.next(), right.next()) {
                    (Some((ka, va)), Some((kb, vb))) if ka == kb => {
                        if !equal(va, vb) {
                            return false;
                        }
                    }
                    (Some((key, value)), Some(_)) => {
                        // Same length, distinct keys: each of `a`'s keys found in `b` is a
                        // one-to-one match.
                        let found = |(key, value): (&String, &Value)| {
                            b.get(key).is_some_and(|other| equal(value, other))
                        };
                        return found((key, value)) && left.all(found);
                    }
                    _ => return true,
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| equal(x, y))
        }
        _ => a == b,
    }
}

/// [`equal`] for optional values.
pub fn equal_opt(a: Option<&Value>, b: Option<&Value>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => equal(a, b),
        (None, None) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn equal_is_map_equality_whatever_the_key_order() {
        let cases = [
            (
                json!({"a": 1, "b": [1, {"x": 2, "y": 3}]}),
                json!({"a": 1, "b": [1, {"x": 2, "y": 3}]}),
            ),
            (json!({"a": 1, "b": 2, "c": 3}), json!({"a": 1, "c": 3, "b": 2})),
            (json!({"a": 1, "b": 2, "c": 3}), json!({"c": 3, "b": 2, "a": 1})),
            (json!({"a": 1, "b": 2}), json!({"a": 1, "c": 2})),
            (json!({"a": 1, "b": 2}), json!({"a": 1, "b": 3})),
            (json!({"a": 1, "b": 2}), json!({"b": 2, "a": 2})),
            (json!({"a": 1}), json!({"a": 1, "b": 2})),
            (json!({"a": {"x": 1, "y": 2}}), json!({"a": {"y": 2, "x": 1}})),
            (json!([1, 2]), json!([2, 1])),
            (json!([1, 2]), json!([1, 2, 3])),
            (json!({}), json!({})),
            (json!({}), json!([])),
            (json!(1), json!(1.0)),
            (json!("a"), json!("a")),
            (json!(null), json!(null)),
        ];
        for (a, b) in cases {
            assert_eq!(equal(&a, &b), a == b, "{a} {b}");
            assert_eq!(equal(&b, &a), a == b, "{b} {a}");
        }
        assert!(equal_opt(None, None));
        assert!(!equal_opt(Some(&json!(1)), None));
        assert!(equal_opt(Some(&json!({"a": 1, "b": 2})), Some(&json!({"b": 2, "a": 1}))));
    }
}
