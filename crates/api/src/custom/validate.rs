//! Validation of a custom resource against its schema: kube-openapi's `SchemaValidator`
//! (`pkg/validation/validate`: `schema.go`, `type.go`, `validator.go`, `object_validator.go`,
//! `slice_validator.go`, `schema_props.go`, `formats.go`, `values.go`, with the messages of
//! `pkg/validation/errors/schema.go`), converted to field errors as apiextensions-apiserver's
//! `kubeOpenAPIResultToFieldErrors` does; then `objectmeta.Validate` (embedded resources'
//! `apiVersion` and `kind`) and `listtype.ValidateListSetsAndMaps`.
//!
//! The walk mirrors upstream's `Result` bookkeeping (errors deduplicated by message, the match
//! count `anyOf`/`oneOf` pick their best failure by), so composed schemas report what upstream
//! reports.

use serde_json::{Map, Value};

use super::formats;
use super::gofmt::{GoNumber, go_float, shown};
use super::regex::Regex;
use super::schema::Node;
use crate::validation::{Errors, FieldError, Shown, go_quote};

/// Every problem of `object` under `root` (the strategy's `ValidateCreate`).
pub(super) fn validate(root: &Node, object: &Value) -> Vec<FieldError> {
    let result = validate_schema(root, "", object, None);
    let mut errs = Errors::default();
    for e in &result.errors {
        convert(&mut errs, e);
    }
    embedded_resources(&mut errs, object, root, "");
    list_sets_and_maps_of(&mut errs, root, object);
    cel_rules(&mut errs, root, object, None);
    errs.0
}

/// The problems of an update from `old` to `object` (the strategy's `ValidateUpdate`, with
/// `CRDValidationRatcheting` on as in v1.33): a schema error under a value that is unchanged
/// from its correlated old value is dropped (`RatchetingSchemaValidator.ValidateUpdate`), and
/// list-type uniqueness is checked only when the old object passed it.
pub(super) fn validate_update(root: &Node, object: &Value, old: &Value) -> Vec<FieldError> {
    let result = validate_node(root, "", object, Some(old));
    let mut errs = Errors::default();
    for e in &result.errors {
        convert(&mut errs, e);
    }
    embedded_resources(&mut errs, object, root, "");
    let mut old_errs = Errors::default();
    list_sets_and_maps_of(&mut old_errs, root, old);
    if old_errs.0.is_empty() {
        list_sets_and_maps_of(&mut errs, root, object);
    }
    cel_rules(&mut errs, root, object, Some(old));
    errs.0
}

/// Where the schema has CEL rules, the strategy's `hasBlockingErr`: after an error of a type
/// that blocks CEL (unsupported, required, too long, too many, wrong type), upstream reports
/// that the rules were not checked instead of running them; otherwise it runs them
/// (`celValidator.Validate`, with `old` on an update).
fn cel_rules(errs: &mut Errors, root: &Node, object: &Value, old: Option<&Value>) {
    const BLOCKING: &[&str] = &[
        "FieldValueNotSupported",
        "FieldValueRequired",
        "FieldValueTooLong",
        "FieldValueTooMany",
        "FieldValueTypeInvalid",
    ];
    if root.any_cel_rules() && errs.0.iter().any(|e| BLOCKING.contains(&e.reason)) {
        let detail = "some validation rules were not checked because the object was invalid; \
                      correct the existing errors to complete validation";
        errs.invalid(NIL_PATH, Shown::Str("null".to_owned()), detail);
    } else {
        super::cel::validate(errs, root, object, old);
    }
}

fn list_sets_and_maps_of(errs: &mut Errors, root: &Node, object: &Value) {
    if let Value::Object(map) = object {
        list_sets_and_maps(errs, "", root, map);
    }
}

// === ratcheting ===

/// A `ratchetingValueValidator` node: `data` validated as usual, its errors dropped when it has
/// a correlated old value that it equals.
fn validate_node(s: &Node, path: &str, data: &Value, old: Option<&Value>) -> Outcome {
    let mut result = validate_schema(s, path, data, old);
    if let Some(old) = old
        && !result.is_valid()
        && ratchet_equal(s, data, old)
    {
        // `MergeAsWarnings`: the match count stays, the errors go.
        result.errors.clear();
    }
    result
}

/// `CachedDeepEqual`: deep equality through the correlated children the validation visits —
/// every old key must be a visited property (or `additionalProperties` key) of the new value,
/// every list item must correlate (`correlate_item`).
pub(super) fn ratchet_equal(s: &Node, new: &Value, old: &Value) -> bool {
    match (new, old) {
        (Value::Null, Value::Null) => true,
        (Value::Array(n), Value::Array(o)) => {
            if n.len() != o.len() {
                return false;
            }
            if n.is_empty() {
                return true;
            }
            let Some(items) = s.items.as_deref() else { return false };
            (0..n.len())
                .all(|i| correlate_item(s, n, o, i).is_some_and(|o| ratchet_equal(items, &n[i], o)))
        }
        (Value::Object(n), Value::Object(o)) => {
            if n.len() != o.len() {
                return false;
            }
            if n.is_empty() {
                return true;
            }
            o.iter().all(|(k, ov)| {
                let schema = match s.properties.get(k) {
                    Some(prop) => Some(prop),
                    None => s.additional_properties.as_ref().and_then(|a| a.schema.as_deref()),
                };
                match (n.get(k), schema) {
                    (Some(nv), Some(schema)) => ratchet_equal(schema, nv, ov),
                    _ => false,
                }
            })
        }
        (Value::Array(_) | Value::Object(_), _) | (_, Value::Array(_) | Value::Object(_)) => false,
        _ => new == old,
    }
}

/// `correlateOldValueForChildAtNewIndex`: the old item of a `map` list with the same keys, the
/// old item at the same index for a list without a list type, none for `set` and `atomic`.
pub(super) fn correlate_item<'a>(
    s: &Node,
    new: &[Value],
    old: &'a [Value],
    i: usize,
) -> Option<&'a Value> {
    let item = new.get(i)?;
    let found = match s.list_type.as_deref() {
        Some("map") => {
            let item = item.as_object()?;
            if s.list_map_keys.is_empty() {
                return None;
            }
            old.iter().find(|o| {
                o.as_object()
                    .is_some_and(|o| s.list_map_keys.iter().all(|k| o.get(k) == item.get(k)))
            })?
        }
        Some("set" | "atomic") => return None,
        _ => old.get(i)?,
    };
    (!found.is_null()).then_some(found)
}

// === kube-openapi's errors and results ===

/// `errors.Validation`'s codes (those the CRD subset of JSON schema can produce).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Code {
    InvalidType,
    Required,
    TooLong,
    TooShort,
    Pattern,
    Enum,
    MultipleOf,
    Max,
    Min,
    Unique,
    MaxItems,
    MinItems,
    TooFewProperties,
    TooManyProperties,
    UnallowedProperty,
    MultipleOfMustBePositive,
}

/// One error of a validation `Result`.
#[derive(Debug, Clone)]
enum OpenApiError {
    /// An `*errors.Validation`: its code, `Name` (the path), `Value`, `Valid` (a bound),
    /// `Values` (an enum) and message.
    Validation {
        code: Code,
        name: String,
        value: Option<Value>,
        valid: Option<i64>,
        values: Vec<Value>,
        message: String,
    },
    /// Any other error (composition failures, range checks): only a message.
    Plain(String),
}

impl OpenApiError {
    fn message(&self) -> &str {
        match self {
            OpenApiError::Validation { message, .. } | OpenApiError::Plain(message) => message,
        }
    }
}

fn verr(code: Code, name: &str, value: Option<Value>, message: String) -> OpenApiError {
    OpenApiError::Validation {
        code,
        name: name.to_owned(),
        value,
        valid: None,
        values: Vec::new(),
        message,
    }
}

/// `validate.Result`: errors (a repeated message is kept once) and the match count.
#[derive(Debug, Default)]
struct Outcome {
    errors: Vec<OpenApiError>,
    matches: u64,
}

impl Outcome {
    fn add(&mut self, e: OpenApiError) {
        if !self.errors.iter().any(|r| r.message() == e.message()) {
            self.errors.push(e);
        }
    }

    fn merge(&mut self, other: Outcome) {
        for e in other.errors {
            self.add(e);
        }
        self.matches += other.matches;
    }

    fn inc(&mut self) {
        self.matches += 1;
    }

    fn is_valid(&self) -> bool {
        self.errors.is_empty()
    }

    /// `errorHelp.sErr`: a result with one error and no match.
    fn error(e: OpenApiError) -> Outcome {
        Outcome { errors: vec![e], matches: 0 }
    }
}

/// `field.Path.String()` of the nil path `ValidateCustomResource` is called with: the field of
/// errors that name no property (composition failures, range checks, the root itself).
const NIL_PATH: &str = "<nil>";

/// `kubeOpenAPIResultToFieldErrors` for one error.
fn convert(errs: &mut Errors, e: &OpenApiError) {
    let OpenApiError::Validation { code, name, value, valid, values, message } = e else {
        errs.invalid(NIL_PATH, "", e.message());
        return;
    };
    let field =
        if name.is_empty() || name == "." { NIL_PATH } else { name.trim_start_matches('.') };
    let bad = || value.as_ref().map(shown).unwrap_or_else(|| Shown::Str(String::new()));
    match code {
        Code::Required => errs.required(field, ""),
        Code::Enum => {
            let allowed: Vec<String> = values
                .iter()
                .map(|v| match v {
                    Value::String(s) => s.clone(),
                    other => go_json(other),
                })
                .collect();
            let allowed: Vec<&str> = allowed.iter().map(String::as_str).collect();
            let value = value.as_ref().map(shown).unwrap_or_else(|| Shown::Str("null".to_owned()));
            errs.not_supported(field, value, &allowed);
        }
        Code::TooLong => {
            errs.too_long(field, valid.and_then(|v| usize::try_from(v).ok()).unwrap_or(0))
        }
        Code::MaxItems | Code::TooManyProperties => {
            let actual = value.as_ref().and_then(Value::as_u64).unwrap_or(0) as usize;
            let max = valid.and_then(|v| usize::try_from(v).ok()).unwrap_or(0);
            errs.too_many(field, actual, max);
        }
        Code::InvalidType => {
            // `field.TypeInvalid`: an "Invalid value" of its own cause type.
            let before = errs.0.len();
            errs.invalid(field, bad(), message);
            if let Some(last) = errs.0.get_mut(before) {
                last.reason = "FieldValueTypeInvalid";
            }
        }
        _ => errs.invalid(field, bad(), message),
    }
}

/// `json.Marshal` of a decoded value (how a non-string enum value is listed).
fn go_json(v: &Value) -> String {
    match v {
        Value::Number(n) => match GoNumber::of(n) {
            GoNumber::Int(i) => i.to_string(),
            GoNumber::Float(f) => go_json_float(f),
        },
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(go_json).collect();
            format!("[{}]", items.join(","))
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let items: Vec<String> = keys
                .into_iter()
                .map(|k| {
                    format!(
                        "{}:{}",
                        Value::String(k.clone()),
                        map.get(k).map(go_json).unwrap_or_default()
                    )
                })
                .collect();
            format!("{{{}}}", items.join(","))
        }
        other => other.to_string(),
    }
}

/// `encoding/json`'s float format: `%f`-style unless the exponent is below -6 or at least 21.
fn go_json_float(f: f64) -> String {
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let s = format!("{f:e}");
        // Go writes `1e-07` as `1e-7` in JSON, and a positive exponent with a sign.
        return match s.split_once('e') {
            Some((m, e)) if !e.starts_with('-') => format!("{m}e+{e}"),
            _ => s,
        };
    }
    let s = f.to_string();
    s.strip_suffix(".0").map(str::to_owned).unwrap_or(s)
}

// === SchemaValidator ===

/// The JSON type and format kube-openapi infers for a decoded value (`schemaInfoForType`).
fn schema_info(v: &Value) -> (&'static str, &'static str) {
    match v {
        Value::Bool(_) => ("boolean", ""),
        Value::String(_) => ("string", ""),
        Value::Number(n) => match GoNumber::of(n) {
            GoNumber::Int(_) => ("integer", "int64"),
            GoNumber::Float(_) => ("number", "float64"),
        },
        Value::Array(_) => ("array", ""),
        Value::Object(_) => ("object", ""),
        Value::Null => ("", ""),
    }
}

/// `swag.IsFloat64AJSONInteger`.
fn is_json_integer(f: f64) -> bool {
    f.is_finite() && f.fract() == 0.0 && f.abs() <= 9_007_199_254_740_992.0
}

fn has(types: &[String], t: &str) -> bool {
    types.iter().any(|x| x == t)
}

/// `SchemaValidator.Validate`.
fn validate_schema(s: &Node, path: &str, data: &Value, old: Option<&Value>) -> Outcome {
    let mut result = Outcome::default();
    if data.is_null() {
        result.merge(type_validator(s, path, data));
        result.merge(common_validator(s, path, data));
        return result;
    }
    let mut run = |outcome: Outcome| {
        result.merge(outcome);
        result.inc();
    };
    if !s.types.is_empty() || !s.format.is_empty() {
        run(type_validator(s, path, data));
    }
    run(schema_props_validator(s, path, data, old));
    if let Value::String(text) = data {
        run(string_validator(s, path, text));
        if formats::known(&s.format) {
            run(format_validator(s, path, text));
        }
    }
    if let Value::Number(n) = data {
        run(number_validator(s, path, GoNumber::of(n), data));
    }
    if let Value::Array(items) = data {
        run(slice_validator(s, path, items, old));
    }
    run(common_validator(s, path, data));
    if let Value::Object(map) = data {
        run(object_validator(s, path, map, old));
    }
    result.inc();
    result
}

/// `errors.InvalidType` with `in` = `body` and a string value.
fn invalid_type(path: &str, type_name: &str, value: &str) -> OpenApiError {
    verr(
        Code::InvalidType,
        path,
        Some(Value::String(value.to_owned())),
        format!("{path} in body must be of type {type_name}: {}", go_quote(value)),
    )
}

/// `typeValidator.Validate`.
fn type_validator(s: &Node, path: &str, data: &Value) -> Outcome {
    let mut result = Outcome::default();
    result.inc();
    if data.is_null() {
        if !s.types.is_empty() && !has(&s.types, "null") && !s.nullable {
            return Outcome::error(invalid_type(path, &s.types.join(","), "null"));
        }
        return result;
    }
    let (sch_type, format) = schema_info(data);
    let is_float_int = sch_type == "number"
        && data.as_f64().is_some_and(is_json_integer)
        && has(&s.types, "integer");
    let is_int_float = sch_type == "integer" && has(&s.types, "number");
    let string_or_slice = data.is_string() || data.is_array();
    // A number or an object whose type the format does not excuse either.
    let format_excuses = s.format.is_empty()
        || has(&s.types, sch_type)
        || format == s.format
        || is_float_int
        || is_int_float;
    if !string_or_slice && !format_excuses {
        return Outcome::error(invalid_type(path, &s.format, format));
    }
    let numeric = has(&s.types, "number") || has(&s.types, "integer");
    if !numeric && !s.format.is_empty() && string_or_slice {
        return result;
    }
    if !(has(&s.types, sch_type) || is_float_int || is_int_float) {
        return Outcome::error(invalid_type(path, &s.types.join(","), sch_type));
    }
    result
}

/// `basicCommonValidator.Validate`: `enum`.
fn common_validator(s: &Node, path: &str, data: &Value) -> Outcome {
    if s.enum_values.is_empty() || s.enum_values.iter().any(|e| enum_matches(data, e)) {
        return Outcome::default();
    }
    Outcome::error(OpenApiError::Validation {
        code: Code::Enum,
        name: path.to_owned(),
        value: (!data.is_null()).then(|| data.clone()),
        valid: None,
        values: s.enum_values.clone(),
        message: format!("{path} in body should be one of {}", go_values(&s.enum_values)),
    })
}

/// `%v` of the enum's `[]interface{}` (in a message the API server never shows).
fn go_values(values: &[Value]) -> String {
    super::gofmt::sprint(&Value::Array(values.to_vec()))
}

/// Whether `data` equals the enum value `e` after Go's `reflect` conversion to `e`'s type.
fn enum_matches(data: &Value, e: &Value) -> bool {
    match (data, e) {
        (Value::Number(d), Value::Number(e)) => match (GoNumber::of(d), GoNumber::of(e)) {
            (GoNumber::Int(a), GoNumber::Int(b)) => a == b,
            (GoNumber::Int(a), GoNumber::Float(b)) => a as f64 == b,
            (GoNumber::Float(a), GoNumber::Int(b)) => a as i64 == b,
            (GoNumber::Float(a), GoNumber::Float(b)) => a == b,
        },
        // Go converts an integer to a string as a code point.
        (Value::Number(d), Value::String(e)) => match GoNumber::of(d) {
            GoNumber::Int(i) => {
                let c = u32::try_from(i).ok().and_then(char::from_u32).unwrap_or('\u{fffd}');
                e.chars().eq(std::iter::once(c))
            }
            GoNumber::Float(_) => false,
        },
        (Value::String(a), Value::String(b)) => a == b,
        (Value::Bool(a), Value::Bool(b)) => a == b,
        (Value::Array(_), Value::Array(_)) | (Value::Object(_), Value::Object(_)) => data == e,
        _ => false,
    }
}

/// `stringValidator.Validate`: `maxLength`, `minLength`, `pattern` (the first failure only).
fn string_validator(s: &Node, path: &str, text: &str) -> Outcome {
    let len = text.chars().count() as i64;
    let value = || Some(Value::String(text.to_owned()));
    if let Some(max) = s.max_length
        && len > max
    {
        return Outcome::error(OpenApiError::Validation {
            code: Code::TooLong,
            name: path.to_owned(),
            value: value(),
            valid: Some(max),
            values: Vec::new(),
            message: format!("{path} in body should be at most {max} chars long"),
        });
    }
    if let Some(min) = s.min_length
        && len < min
    {
        return Outcome::error(OpenApiError::Validation {
            code: Code::TooShort,
            name: path.to_owned(),
            value: value(),
            valid: Some(min),
            values: Vec::new(),
            message: format!("{path} in body should be at least {min} chars long"),
        });
    }
    if !s.pattern.is_empty()
        && let Some(re) = Regex::new(&s.pattern)
        && !re.is_match(text)
    {
        let message = format!("{path} in body should match '{}'", s.pattern);
        return Outcome::error(verr(Code::Pattern, path, value(), message));
    }
    Outcome::default()
}

/// `formatValidator.Validate` (`FormatOf`).
fn format_validator(s: &Node, path: &str, text: &str) -> Outcome {
    if formats::validates(&s.format, text) {
        return Outcome::default();
    }
    Outcome::error(invalid_type(path, &s.format, text))
}

/// `%v` of a bound: an `int64` where upstream converted it to the value's integer type.
fn bound_text(bound: f64, as_int: bool) -> String {
    if as_int { (bound as i64).to_string() } else { go_float(bound) }
}

/// `IsValueValidAgainstRange` for a schema of `type: integer` (other types and formats check
/// nothing, CRD formats `int32`/`int64` being stripped): whether `v` prints as an `int64`.
fn range_error(integer_type: bool, v: GoNumber, prefix: &str, path: &str) -> Option<OpenApiError> {
    if !integer_type {
        return None;
    }
    let fits = match v {
        GoNumber::Int(_) => true,
        GoNumber::Float(f) => {
            // `strconv.FormatFloat(f, 'f', -1, 64)` parses with `ParseInt` when it has no
            // fraction and is within int64's range (2^63 is exactly `i64::MAX as f64`).
            f.fract() == 0.0 && (i64::MIN as f64..i64::MAX as f64).contains(&f)
        }
    };
    (!fits).then(|| {
        OpenApiError::Plain(format!(
            "{prefix} value must be of type integer (default format) in {path}"
        ))
    })
}

/// `numberValidator.Validate`: `multipleOf`, `minimum`, `maximum`.
fn number_validator(s: &Node, path: &str, v: GoNumber, data: &Value) -> Outcome {
    let integer_type = s.types.len() == 1 && s.types[0] == "integer";
    let mut res = Outcome::default();
    let value = || Some(data.clone());
    if let Some(e) = range_error(integer_type, v, "Checked", path) {
        res.add(e);
    }
    let mut res_multiple = Outcome::default();
    let mut res_minimum = Outcome::default();
    let mut res_maximum = Outcome::default();
    if let Some(factor) = s.multiple_of {
        let factor_range = range_error(integer_type, GoNumber::Float(factor), "MultipleOf", path);
        let native = factor_range.is_none();
        if let Some(e) = factor_range {
            res_multiple.add(e);
        }
        let (as_int, failed) = match v {
            GoNumber::Int(i) if native => {
                let f = factor as i64;
                (true, if f <= 0 { None } else { Some(i % f != 0) })
            }
            _ => {
                let d = v.as_f64();
                let mult = if factor < 1.0 { 1.0 / factor * d } else { d / factor };
                (false, if factor <= 0.0 { None } else { Some(!is_json_integer(mult)) })
            }
        };
        let shown_factor = bound_text(factor, as_int);
        match failed {
            None => res_multiple.add(verr(
                Code::MultipleOfMustBePositive,
                path,
                Some(if as_int { Value::from(factor as i64) } else { Value::from(factor) }),
                format!("factor MultipleOf declared for {path} must be positive: {shown_factor}"),
            )),
            Some(true) => res_multiple.add(verr(
                Code::MultipleOf,
                path,
                value(),
                format!("{path} in body should be a multiple of {shown_factor}"),
            )),
            Some(false) => {}
        }
    }
    if let Some(max) = s.maximum {
        let max_range = range_error(integer_type, GoNumber::Float(max), "Maximum boundary", path);
        let native = max_range.is_none();
        if let Some(e) = max_range {
            res_maximum.add(e);
        }
        let exclusive = s.exclusive_maximum;
        let (as_int, over) = match v {
            GoNumber::Int(i) if native => {
                let m = max as i64;
                (true, if exclusive { i >= m } else { i > m })
            }
            _ => {
                let d = v.as_f64();
                (false, if exclusive { d >= max } else { d > max })
            }
        };
        if over {
            let relation = if exclusive { "less than" } else { "less than or equal to" };
            res_maximum.add(verr(
                Code::Max,
                path,
                value(),
                format!("{path} in body should be {relation} {}", bound_text(max, as_int)),
            ));
        }
    }
    if let Some(min) = s.minimum {
        let min_range = range_error(integer_type, GoNumber::Float(min), "Minimum boundary", path);
        let native = min_range.is_none();
        if let Some(e) = min_range {
            res_minimum.add(e);
        }
        let exclusive = s.exclusive_minimum;
        let (as_int, under) = match v {
            GoNumber::Int(i) if native => {
                let m = min as i64;
                (true, if exclusive { i <= m } else { i < m })
            }
            _ => {
                let d = v.as_f64();
                (false, if exclusive { d <= min } else { d < min })
            }
        };
        if under {
            let relation = if exclusive { "greater than" } else { "greater than or equal to" };
            res_minimum.add(verr(
                Code::Min,
                path,
                value(),
                format!("{path} in body should be {relation} {}", bound_text(min, as_int)),
            ));
        }
    }
    res.merge(res_multiple);
    res.merge(res_minimum);
    res.merge(res_maximum);
    res.inc();
    res
}

/// `schemaSliceValidator.Validate`: `items`, `minItems`, `maxItems`, `uniqueItems`.
fn slice_validator(s: &Node, path: &str, items: &[Value], old: Option<&Value>) -> Outcome {
    let mut result = Outcome::default();
    if let Some(item_schema) = s.items.as_deref() {
        for (i, item) in items.iter().enumerate() {
            let old_item = match old {
                Some(Value::Array(old)) => correlate_item(s, items, old, i),
                _ => None,
            };
            let item_path = format!("{path}[{i}]");
            result.merge(validate_node(item_schema, &item_path, item, old_item));
        }
    }
    let size = items.len() as i64;
    if let Some(min) = s.min_items
        && size < min
    {
        result.add(OpenApiError::Validation {
            code: Code::MinItems,
            name: path.to_owned(),
            value: Some(Value::from(size)),
            valid: Some(min),
            values: Vec::new(),
            message: format!("{path} in body should have at least {min} items"),
        });
    }
    if let Some(max) = s.max_items
        && size > max
    {
        result.add(OpenApiError::Validation {
            code: Code::MaxItems,
            name: path.to_owned(),
            value: Some(Value::from(size)),
            valid: Some(max),
            values: Vec::new(),
            message: format!("{path} in body should have at most {max} items"),
        });
    }
    if s.unique_items && has_duplicates(items) {
        let message = format!("{path} in body shouldn't contain duplicates");
        result.add(verr(Code::Unique, path, None, message));
    }
    result.inc();
    result
}

fn has_duplicates(items: &[Value]) -> bool {
    items.iter().enumerate().any(|(i, a)| items[..i].iter().any(|b| a == b))
}

/// `objectValidator.Validate`.
fn object_validator(
    s: &Node,
    path: &str,
    map: &Map<String, Value>,
    old: Option<&Value>,
) -> Outcome {
    let old_of = |k: &str| old.and_then(Value::as_object).and_then(|o| o.get(k));
    let mut res = Outcome::default();
    let size = map.len() as i64;
    if let Some(min) = s.min_properties
        && size < min
    {
        res.add(OpenApiError::Validation {
            code: Code::TooFewProperties,
            name: path.to_owned(),
            value: Some(Value::from(size)),
            valid: Some(min),
            values: Vec::new(),
            message: format!("{path} in body should have at least {min} properties"),
        });
    }
    if let Some(max) = s.max_properties
        && size > max
    {
        res.add(OpenApiError::Validation {
            code: Code::TooManyProperties,
            name: path.to_owned(),
            value: Some(Value::from(size)),
            valid: Some(max),
            values: Vec::new(),
            message: format!("{path} in body should have at most {max} properties"),
        });
    }
    match &s.additional_properties {
        Some(additional) if !additional.allows => {
            for k in map.keys() {
                if !s.properties.contains_key(k) {
                    let message = format!("{path}.{k} in body is a forbidden property");
                    let value = Some(Value::String(k.clone()));
                    res.add(verr(Code::UnallowedProperty, path, value, message));
                }
            }
        }
        Some(additional) => {
            if let Some(schema) = additional.schema.as_deref() {
                for (k, v) in map {
                    if !s.properties.contains_key(k) {
                        let field_path = format!("{path}.{k}");
                        res.merge(validate_node(schema, &field_path, v, old_of(k)));
                    }
                }
            }
        }
        None => {}
    }
    for (name, prop) in &s.properties {
        if let Some(v) = map.get(name) {
            let r_name = if path.is_empty() { name.clone() } else { format!("{path}.{name}") };
            res.merge(validate_node(prop, &r_name, v, old_of(name)));
        }
    }
    for k in &s.required {
        if !map.contains_key(k) {
            let name = format!("{path}.{k}");
            let message = format!("{name} in body is required");
            res.add(verr(Code::Required, &name, None, message));
        }
    }
    res
}

/// `schemaPropsValidator.Validate`: `anyOf`, `oneOf`, `allOf`, `not`.
fn schema_props_validator(s: &Node, path: &str, data: &Value, old: Option<&Value>) -> Outcome {
    let mut main = Outcome::default();
    let quoted = go_quote(path);
    if !s.any_of.is_empty() {
        let mut best: Option<Outcome> = None;
        let mut first_success: Option<Outcome> = None;
        let mut succeeded = false;
        for schema in &s.any_of {
            let result = validate_schema(schema, path, data, old);
            if result.is_valid() {
                best = None;
                succeeded = true;
                first_success.get_or_insert(result);
                break;
            }
            if best.as_ref().is_none_or(|b| result.matches > b.matches) {
                best = Some(result);
            }
        }
        if !succeeded {
            main.add(OpenApiError::Plain(format!(
                "{quoted} must validate at least one schema (anyOf)"
            )));
        }
        if let Some(best) = best {
            main.merge(best);
        } else if let Some(success) = first_success {
            main.merge(success);
        }
    }
    if !s.one_of.is_empty() {
        let mut best: Option<Outcome> = None;
        let mut first_success: Option<Outcome> = None;
        let mut validated = 0;
        for schema in &s.one_of {
            let result = validate_schema(schema, path, data, old);
            if result.is_valid() {
                validated += 1;
                best = None;
                first_success.get_or_insert(result);
                continue;
            }
            if validated == 0 && best.as_ref().is_none_or(|b| result.matches > b.matches) {
                best = Some(result);
            }
        }
        if validated != 1 {
            let additional = if validated == 0 {
                "Found none valid".to_owned()
            } else {
                format!("Found {validated} valid alternatives")
            };
            main.add(OpenApiError::Plain(format!(
                "{quoted} must validate one and only one schema (oneOf). {additional}"
            )));
            if let Some(best) = best {
                main.merge(best);
            }
        } else if let Some(success) = first_success {
            main.merge(success);
        }
    }
    if !s.all_of.is_empty() {
        let mut validated = 0;
        for schema in &s.all_of {
            let result = validate_schema(schema, path, data, old);
            if result.is_valid() {
                validated += 1;
            }
            main.merge(result);
        }
        if validated != s.all_of.len() {
            let additional = if validated == 0 { ". None validated" } else { "" };
            main.add(OpenApiError::Plain(format!(
                "{quoted} must validate all the schemas (allOf){additional}"
            )));
        }
    }
    if let Some(not) = s.not.as_deref()
        && validate_schema(not, path, data, old).is_valid()
    {
        main.add(OpenApiError::Plain(format!("{quoted} must not validate the schema (not)")));
    }
    main.inc();
    main
}

// === embedded resources and list types ===

/// `field.Path.Child`.
fn child(path: &str, name: &str) -> String {
    if path.is_empty() { name.to_owned() } else { format!("{path}.{name}") }
}

/// `objectmeta.Validate` (with `isResourceRoot` false): an embedded resource needs a string
/// `apiVersion` that parses as a group/version and a string `kind` that is a DNS-1035 label
/// once lower-cased. Its `metadata` is not validated here.
fn embedded_resources(errs: &mut Errors, x: &Value, s: &Node, pth: &str) {
    match x {
        Value::Object(map) => {
            if s.embedded_resource {
                embedded_type_meta(errs, map, pth);
            }
            for (k, v) in map {
                if let Some(prop) = s.properties.get(k) {
                    embedded_resources(errs, v, prop, &child(pth, k));
                } else if let Some(Some(ap)) =
                    s.additional_properties.as_ref().map(|a| a.schema.as_deref())
                {
                    embedded_resources(errs, v, ap, &format!("{pth}[{k}]"));
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = s.items.as_deref() {
                for (i, v) in items.iter().enumerate() {
                    embedded_resources(errs, v, item_schema, &format!("{pth}[{i}]"));
                }
            }
        }
        _ => {}
    }
}

/// `validateEmbeddedResource`'s `apiVersion` and `kind` checks.
fn embedded_type_meta(errs: &mut Errors, map: &Map<String, Value>, pth: &str) {
    let api_version_path = child(pth, "apiVersion");
    let kind_path = child(pth, "kind");
    if !map.contains_key("apiVersion") {
        errs.required(&api_version_path, "");
    }
    if !map.contains_key("kind") {
        errs.required(&kind_path, "");
    }
    for (k, v) in map {
        match k.as_str() {
            "apiVersion" => match v.as_str() {
                None => errs.invalid(&api_version_path, shown(v), "must be a string"),
                Some("") => errs.invalid(&api_version_path, "", "must not be empty"),
                Some(gv) if gv != "/" && gv.matches('/').count() > 1 => errs.invalid(
                    &api_version_path,
                    gv,
                    &format!("unexpected GroupVersion string: {gv}"),
                ),
                Some(_) => {}
            },
            "kind" => match v.as_str() {
                None => errs.invalid(&kind_path, shown(v), "must be a string"),
                Some("") => errs.invalid(&kind_path, "", "must not be empty"),
                Some(kind) => {
                    let problems = crate::validation::meta::dns1035_label(&kind.to_lowercase());
                    if !problems.is_empty() {
                        let detail = format!(
                            "may have mixed case, but should otherwise match: {}",
                            problems.join(",")
                        );
                        errs.invalid(&kind_path, kind, &detail);
                    }
                }
            },
            _ => {}
        }
    }
}

/// `ValidateListSetsAndMaps`: `x-kubernetes-list-type: set` items and `map` keys are unique.
fn list_sets_and_maps(errs: &mut Errors, pth: &str, s: &Node, obj: &Map<String, Value>) {
    if let Some(Some(ap)) = s.additional_properties.as_ref().map(|a| a.schema.as_deref()) {
        for (k, v) in obj {
            list_set_and_maps_value(errs, &format!("{pth}[{k}]"), ap, v);
        }
    }
    for (k, v) in obj {
        if let Some(prop) = s.properties.get(k) {
            list_set_and_maps_value(errs, &child(pth, k), prop, v);
        }
    }
}

fn list_set_and_maps_value(errs: &mut Errors, pth: &str, s: &Node, v: &Value) {
    match v {
        Value::Array(items) => list_sets_and_maps_array(errs, pth, s, items),
        Value::Object(map) => list_sets_and_maps(errs, pth, s, map),
        _ => {}
    }
}

fn list_sets_and_maps_array(errs: &mut Errors, pth: &str, s: &Node, items: &[Value]) {
    match s.list_type.as_deref() {
        Some("set") => {
            for i in non_unique(items) {
                errs.duplicate(&format!("{pth}[{i}]"), shown(&items[i]));
            }
        }
        Some("map") => list_map(errs, pth, s, items),
        _ => {}
    }
    if let Some(item_schema) = s.items.as_deref() {
        for (i, item) in items.iter().enumerate() {
            list_set_and_maps_value(errs, &format!("{pth}[{i}]"), item_schema, item);
        }
    }
}

/// `validateListSet`: the index of each value's second appearance.
fn non_unique(items: &[Value]) -> Vec<usize> {
    let mut out = Vec::new();
    for (i, x) in items.iter().enumerate() {
        let seen_before = items[..i].iter().filter(|y| *y == x).count();
        if seen_before == 1 {
            out.push(i);
        }
    }
    out
}

/// `validateListMap`.
fn list_map(errs: &mut Errors, pth: &str, s: &Node, items: &[Value]) {
    for (i, x) in items.iter().enumerate() {
        if !x.is_null() && !x.is_object() {
            let detail = "must be an object for an array of list-type map";
            errs.invalid(&format!("{pth}[{i}]"), shown(x), detail);
            return;
        }
    }
    if items.len() <= 1 {
        return;
    }
    // Each item's key: the map of its key fields that are present (an unspecified key and a
    // missing object compare as `{}`).
    let keys: Vec<Value> = items
        .iter()
        .map(|x| {
            let mut key = Map::new();
            if let Value::Object(x) = x {
                for field in &s.list_map_keys {
                    if let Some(k) = x.get(field) {
                        key.insert(field.clone(), k.clone());
                    }
                }
            }
            Value::Object(key)
        })
        .collect();
    for i in non_unique(&keys) {
        errs.duplicate(&format!("{pth}[{i}]"), shown(&keys[i]));
    }
}
