//! JSON values printed as Go's `fmt` prints the `interface{}` values apimachinery decodes them
//! to (`int64`, `float64`, `string`, `bool`, `nil`, `map[string]interface{}`,
//! `[]interface{}`): `%v` ([`sprint`], what the jsonpath printer writes), `%#v` ([`sharp_v`]),
//! and `field.Error`'s rendering of a bad value ([`shown`]).

use std::fmt::Write as _;

use serde_json::{Number, Value};

use crate::validation::{Shown, go_quote};

/// A JSON number as the Go value apimachinery's JSON decoding makes of it: `int64` when it is an
/// integer that fits, `float64` otherwise.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum GoNumber {
    Int(i64),
    Float(f64),
}

impl GoNumber {
    pub(super) fn of(n: &Number) -> GoNumber {
        match n.as_i64() {
            Some(i) => GoNumber::Int(i),
            None => GoNumber::Float(n.as_f64().unwrap_or(f64::NAN)),
        }
    }

    pub(super) fn as_f64(self) -> f64 {
        match self {
            GoNumber::Int(i) => i as f64,
            GoNumber::Float(f) => f,
        }
    }
}

/// Go's `%v` of a `float64` (`strconv.FormatFloat(f, 'g', -1, 64)`): the shortest digits, in
/// exponent form when the exponent is below -4 or at least 6, the precision `%g` decides with
/// for the shortest representation (`1e+06`, `123456`, `1.5e-05`, `0.5`).
pub(super) fn go_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".to_owned();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf".to_owned() } else { "-Inf".to_owned() };
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0".to_owned() } else { "0".to_owned() };
    }
    // Rust's `{:e}` gives the shortest round-trip digits, like Go's shortest formatting.
    let sci = format!("{:e}", f.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if f < 0.0 { "-" } else { "" };
    if !(-4..6).contains(&exp) {
        let mut out = format!("{sign}{}", &digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let _ = write!(out, "e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs());
        return out;
    }
    if exp < 0 {
        let zeros = "0".repeat((-exp - 1) as usize);
        return format!("{sign}0.{zeros}{digits}");
    }
    let int_len = exp as usize + 1;
    if digits.len() <= int_len {
        format!("{sign}{digits}{}", "0".repeat(int_len - digits.len()))
    } else {
        format!("{sign}{}.{}", &digits[..int_len], &digits[int_len..])
    }
}

/// Go's `%v` of a number.
pub(super) fn go_number(n: &Number) -> String {
    match GoNumber::of(n) {
        GoNumber::Int(i) => i.to_string(),
        GoNumber::Float(f) => go_float(f),
    }
}

/// `fmt.Fprint` of the decoded value: a string as is, `<nil>`, `map[a:1 b:x]`, `[a b]`.
pub(super) fn sprint(value: &Value) -> String {
    let mut out = String::new();
    sprint_into(&mut out, value);
    out
}

fn sprint_into(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("<nil>"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&go_number(n)),
        Value::String(s) => out.push_str(s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                sprint_into(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            // Go prints maps with their keys sorted.
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push_str("map[");
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(k);
                out.push(':');
                if let Some(v) = map.get(k) {
                    sprint_into(out, v);
                }
            }
            out.push(']');
        }
    }
}

/// Go's `%#v` of the decoded value, as it appears inside a map or slice:
/// `map[string]interface {}{"a":1, "b":"x"}`, `[]interface {}{"a"}`, `interface {}(nil)`.
pub(super) fn sharp_v(value: &Value) -> String {
    let mut out = String::new();
    sharp_v_into(&mut out, value);
    out
}

fn sharp_v_into(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("interface {}(nil)"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&go_number(n)),
        Value::String(s) => out.push_str(&go_quote(s)),
        Value::Array(items) => {
            out.push_str("[]interface {}{");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                sharp_v_into(out, item);
            }
            out.push('}');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push_str("map[string]interface {}{");
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&go_quote(k));
                out.push(':');
                if let Some(v) = map.get(k) {
                    sharp_v_into(out, v);
                }
            }
            out.push('}');
        }
    }
}

/// A decoded value as `field.Error.ErrorBody` shows it: `nil` as `"null"`, numbers and booleans
/// with `%v`, strings quoted, maps and slices with `%#v`.
pub(super) fn shown(value: &Value) -> Shown {
    match value {
        Value::Null => Shown::Str("null".to_owned()),
        Value::String(s) => Shown::Str(s.clone()),
        Value::Bool(b) => Shown::Bool(*b),
        Value::Number(n) => Shown::Raw(go_number(n)),
        other => Shown::Raw(sharp_v(other)),
    }
}
