//! What Kubernetes' CEL environment has beyond the `cel` crate's standard functions: cel-go's
//! strings extension (`ext/strings.go`: `charAt`, `indexOf`, `lastIndexOf`, `lowerAscii`,
//! `upperAscii`, `replace`, `split`, `substring`, `trim`, `join`), Kubernetes' lists library
//! (`apiserver/pkg/cel/library/lists.go`: `isSorted`, `sum`, `min`, `max`, `indexOf`,
//! `lastIndexOf`), its quantity library (`quantity.go`: `quantity`, `isQuantity`, `sign`,
//! `isGreaterThan`, `isLessThan`, `compareTo`, `add`, `sub`, `isInteger`, `asInteger`,
//! `asApproximateFloat`, over [`crate::quantity`]), its URL library (`urls.go`: `url`, `isURL`,
//! `getScheme`, `getHost`, `getHostname`, `getPort`, `getEscapedPath`, `getQuery`, over a port
//! of Go's `url.ParseRequestURI`), its named formats (`format.go`: `format.<name>()`,
//! `format.named`, `<Format>.validate`), and the evaluation helpers [`run`] and
//! [`error_message`].
//!
//! A function that shares its name with a method of another type (`indexOf` on strings and
//! lists) dispatches on its target, as cel-go's overloads do.

use std::sync::Arc;

use cel::extractors::{Arguments, This};
use cel::{Context, ExecutionError, Program, ResolveResult, Value as Cel};

use crate::validation::go_quote;

/// The functions [`context`] adds to the standard library.
pub(super) const FUNCTIONS: &[&str] = &[
    "charAt",
    "indexOf",
    "lastIndexOf",
    "lowerAscii",
    "upperAscii",
    "replace",
    "split",
    "substring",
    "trim",
    "join",
    "isSorted",
    "sum",
    "min",
    "max",
    "quantity",
    "isQuantity",
    "sign",
    "isGreaterThan",
    "isLessThan",
    "compareTo",
    "add",
    "sub",
    "isInteger",
    "asInteger",
    "asApproximateFloat",
    "url",
    "isURL",
    "getScheme",
    "getHost",
    "getHostname",
    "getPort",
    "getEscapedPath",
    "getQuery",
    "validate",
];

/// The context rules run in, built once.
pub(in crate::custom) fn shared_context() -> &'static Context<'static, 'static> {
    static CONTEXT: std::sync::OnceLock<Context<'static, 'static>> = std::sync::OnceLock::new();
    CONTEXT.get_or_init(context)
}

/// The context rules run in: the `cel` crate's standard functions and macros plus this
/// module's.
fn context() -> Context<'static, 'static> {
    let mut ctx = Context::default();
    // None of these names is a standard overload, so none is refused.
    let _ = ctx.add_function("charAt", char_at);
    let _ = ctx.add_function("indexOf", index_of);
    let _ = ctx.add_function("lastIndexOf", last_index_of);
    let _ = ctx.add_function("lowerAscii", lower_ascii);
    let _ = ctx.add_function("upperAscii", upper_ascii);
    let _ = ctx.add_function("replace", replace);
    let _ = ctx.add_function("split", split);
    let _ = ctx.add_function("substring", substring);
    let _ = ctx.add_function("trim", trim);
    let _ = ctx.add_function("join", join);
    let _ = ctx.add_function("isSorted", is_sorted);
    let _ = ctx.add_function("sum", sum);
    let _ = ctx.add_function("min", min);
    let _ = ctx.add_function("max", max);
    let _ = ctx.add_function("quantity", quantity);
    let _ = ctx.add_function("isQuantity", is_quantity);
    let _ = ctx.add_function("sign", quantity_sign);
    let _ = ctx.add_function("isGreaterThan", is_greater_than);
    let _ = ctx.add_function("isLessThan", is_less_than);
    let _ = ctx.add_function("compareTo", compare_to);
    let _ = ctx.add_function("add", quantity_add);
    let _ = ctx.add_function("sub", quantity_sub);
    let _ = ctx.add_function("isInteger", is_integer);
    let _ = ctx.add_function("asInteger", as_integer);
    let _ = ctx.add_function("asApproximateFloat", as_approximate_float);
    let _ = ctx.add_function("url", url);
    let _ = ctx.add_function("isURL", is_url);
    let _ = ctx.add_function("getScheme", get_scheme);
    let _ = ctx.add_function("getHost", get_host);
    let _ = ctx.add_function("getHostname", get_hostname);
    let _ = ctx.add_function("getPort", get_port);
    let _ = ctx.add_function("getEscapedPath", get_escaped_path);
    let _ = ctx.add_function("getQuery", get_query);
    for name in FORMATS {
        let _ = ctx.add_function(&format!("format.{name}"), move || format_value(name));
    }
    let _ = ctx.add_function("format.named", format_named);
    let _ = ctx.add_function("validate", format_validate);
    ctx
}

/// Runs a program; a panic inside the library is the rule's error, not the server's.
pub(super) fn run(program: &Program, ctx: &Context<'_, '_>) -> Result<Cel, ExecutionError> {
    let run = std::panic::AssertUnwindSafe(|| program.execute(ctx));
    match std::panic::catch_unwind(run) {
        Ok(result) => result,
        Err(_) => Err(ExecutionError::function_error("<eval>", "internal error")),
    }
}

/// An optional (`optionalOldSelf`): `optional.of(value)` or `optional.none()`.
pub(super) fn optional(value: Option<Cel>) -> Cel {
    match value {
        Some(v) => Cel::Opaque(Arc::new(cel::objects::OptionalValue::of(v))),
        None => Cel::Opaque(Arc::new(cel::objects::OptionalValue::none())),
    }
}

/// A `date-time` (RFC 3339) or `date` string as a CEL timestamp.
pub(super) fn timestamp(text: &str) -> Option<Cel> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Some(Cel::Timestamp(t));
    }
    let date = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    let utc = date.and_hms_opt(0, 0, 0)?.and_utc();
    Some(Cel::Timestamp(utc.fixed_offset()))
}

/// A `duration` string (Go's `time.ParseDuration` form) as a CEL duration.
pub(super) fn duration(text: &str) -> Option<Cel> {
    let nanos = crate::duration::parse_go(text).ok()?;
    Some(Cel::Duration(chrono::Duration::nanoseconds(nanos)))
}

/// An evaluation error worded as cel-go words it (`no such key: x`, `no such overload`,
/// `division by zero`, …).
pub(super) fn error_message(e: &ExecutionError) -> String {
    match e {
        ExecutionError::NoSuchKey(key) => format!("no such key: {key}"),
        ExecutionError::UndeclaredReference(name) => {
            format!("undeclared reference to '{name}'")
        }
        ExecutionError::FunctionError { message, .. } => message.clone(),
        ExecutionError::NoSuchOverload(_)
        | ExecutionError::ValuesNotComparable(..)
        | ExecutionError::MissingArgumentOrTarget
        | ExecutionError::UnsupportedBinaryOperator(..)
        | ExecutionError::UnsupportedTargetType { .. }
        | ExecutionError::NotSupportedAsMethod { .. }
        | ExecutionError::UnexpectedType { .. }
        | ExecutionError::UnsupportedIndex(..)
        | ExecutionError::UnsupportedKeyType(_)
        | ExecutionError::InvalidArgumentCount { .. } => "no such overload".to_owned(),
        ExecutionError::IndexOutOfBounds(Cel::Int(index)) => {
            format!("index out of bounds: {index}")
        }
        ExecutionError::DivisionByZero(_) => "division by zero".to_owned(),
        ExecutionError::RemainderByZero(_) => "modulus by zero".to_owned(),
        ExecutionError::Overflow(..) => "integer overflow".to_owned(),
        other => other.to_string(),
    }
}

fn err(function: &str, message: impl Into<String>) -> ExecutionError {
    ExecutionError::function_error(function, message.into())
}

fn no_overload(function: &str) -> ExecutionError {
    err(function, "no such overload")
}

fn string(s: impl Into<String>) -> Cel {
    Cel::String(Arc::new(s.into()))
}

fn int_arg(args: &[Cel], i: usize, function: &str) -> Result<Option<i64>, ExecutionError> {
    match args.get(i) {
        None => Ok(None),
        Some(Cel::Int(n)) => Ok(Some(*n)),
        Some(_) => Err(no_overload(function)),
    }
}

fn str_arg<'a>(args: &'a [Cel], i: usize, function: &str) -> Result<&'a str, ExecutionError> {
    match args.get(i) {
        Some(Cel::String(s)) => Ok(s.as_str()),
        _ => Err(no_overload(function)),
    }
}

// === strings extension ===

/// `<string>.charAt(<int>)`: the code point at the index, `""` at the end.
fn char_at(This(this): This<Arc<String>>, index: i64) -> ResolveResult {
    let chars: Vec<char> = this.chars().collect();
    match usize::try_from(index) {
        Ok(i) if i < chars.len() => Ok(string(chars[i].to_string())),
        Ok(i) if i == chars.len() => Ok(string("")),
        _ => Err(err("charAt", format!("index out of range: {index}"))),
    }
}

/// `indexOf`: `<string>.indexOf(<string>[, <int>])` (code point offsets) or, from the lists
/// library, `<list>.indexOf(<value>)`.
fn index_of(This(this): This<Cel>, Arguments(args): Arguments) -> ResolveResult {
    match &this {
        Cel::List(items) => {
            let item = args.first().ok_or_else(|| no_overload("indexOf"))?;
            let at = items.iter().position(|x| x == item);
            Ok(Cel::Int(at.map_or(-1, |i| i as i64)))
        }
        Cel::String(text) => {
            let search: Vec<char> = str_arg(&args, 0, "indexOf")?.chars().collect();
            let chars: Vec<char> = text.chars().collect();
            let offset = int_arg(&args, 1, "indexOf")?.unwrap_or(0);
            let start = usize::try_from(offset)
                .ok()
                .filter(|o| *o <= chars.len())
                .ok_or_else(|| err("indexOf", format!("index out of range: {offset}")))?;
            if search.is_empty() {
                return Ok(Cel::Int(offset));
            }
            let found = (start..chars.len())
                .find(|&i| chars[i..].starts_with(&search))
                .map_or(-1, |i| i as i64);
            Ok(Cel::Int(found))
        }
        _ => Err(no_overload("indexOf")),
    }
}

/// `lastIndexOf`: `<string>.lastIndexOf(<string>[, <int>])` or `<list>.lastIndexOf(<value>)`.
fn last_index_of(This(this): This<Cel>, Arguments(args): Arguments) -> ResolveResult {
    match &this {
        Cel::List(items) => {
            let item = args.first().ok_or_else(|| no_overload("lastIndexOf"))?;
            let at = items.iter().rposition(|x| x == item);
            Ok(Cel::Int(at.map_or(-1, |i| i as i64)))
        }
        Cel::String(text) => {
            let search: Vec<char> = str_arg(&args, 0, "lastIndexOf")?.chars().collect();
            let chars: Vec<char> = text.chars().collect();
            let offset = int_arg(&args, 1, "lastIndexOf")?.unwrap_or(chars.len() as i64);
            let start = usize::try_from(offset)
                .ok()
                .filter(|o| *o <= chars.len())
                .ok_or_else(|| err("lastIndexOf", format!("index out of range: {offset}")))?;
            if search.is_empty() {
                return Ok(Cel::Int(offset));
            }
            let last_start = start.min(chars.len().saturating_sub(search.len()));
            if search.len() > chars.len() {
                return Ok(Cel::Int(-1));
            }
            let found = (0..=last_start)
                .rev()
                .find(|&i| chars[i..].starts_with(&search))
                .map_or(-1, |i| i as i64);
            Ok(Cel::Int(found))
        }
        _ => Err(no_overload("lastIndexOf")),
    }
}

/// `<string>.lowerAscii()`.
fn lower_ascii(This(this): This<Arc<String>>) -> ResolveResult {
    Ok(string(this.to_ascii_lowercase()))
}

/// `<string>.upperAscii()`.
fn upper_ascii(This(this): This<Arc<String>>) -> ResolveResult {
    Ok(string(this.to_ascii_uppercase()))
}

/// `<string>.replace(<string>, <string>[, <int>])`: a negative count replaces all.
fn replace(This(this): This<Arc<String>>, Arguments(args): Arguments) -> ResolveResult {
    let old = str_arg(&args, 0, "replace")?;
    let new = str_arg(&args, 1, "replace")?;
    let n = int_arg(&args, 2, "replace")?.unwrap_or(-1);
    Ok(string(go_replace(&this, old, new, n)))
}

/// Go's `strings.Replace`.
fn go_replace(s: &str, old: &str, new: &str, n: i64) -> String {
    if n < 0 {
        return if old.is_empty() {
            go_replace(s, old, new, i64::MAX)
        } else {
            s.replace(old, new)
        };
    }
    if old.is_empty() {
        // An empty `old` matches before every code point and at the end.
        let mut out = String::new();
        let mut left = n;
        for c in s.chars() {
            if left > 0 {
                out.push_str(new);
                left -= 1;
            }
            out.push(c);
        }
        if left > 0 {
            out.push_str(new);
        }
        return out;
    }
    s.replacen(old, new, usize::try_from(n).unwrap_or(usize::MAX))
}

/// `<string>.split(<string>[, <int>])`: Go's `strings.SplitN` (a count of 0 gives an empty
/// list, a negative one all parts).
fn split(This(this): This<Arc<String>>, Arguments(args): Arguments) -> ResolveResult {
    let sep = str_arg(&args, 0, "split")?;
    let n = int_arg(&args, 1, "split")?.unwrap_or(-1);
    if n == 0 {
        return Ok(Cel::List(Arc::new(Vec::new())));
    }
    let parts: Vec<String> = if sep.is_empty() {
        let chars: Vec<String> = this.chars().map(String::from).collect();
        match usize::try_from(n) {
            Ok(n) if n < chars.len() && n > 0 => {
                let mut head = chars[..n - 1].to_vec();
                head.push(chars[n - 1..].concat());
                head
            }
            _ => chars,
        }
    } else {
        match usize::try_from(n) {
            Ok(n) => this.splitn(n, sep).map(str::to_owned).collect(),
            Err(_) => this.split(sep).map(str::to_owned).collect(),
        }
    };
    Ok(Cel::List(Arc::new(parts.into_iter().map(string).collect())))
}

/// `<string>.substring(<int>[, <int>])`, in code points.
fn substring(This(this): This<Arc<String>>, Arguments(args): Arguments) -> ResolveResult {
    let chars: Vec<char> = this.chars().collect();
    let start = int_arg(&args, 0, "substring")?.ok_or_else(|| no_overload("substring"))?;
    let end = int_arg(&args, 1, "substring")?.unwrap_or(chars.len() as i64);
    let len = chars.len() as i64;
    if start < 0 || start > len {
        return Err(err("substring", format!("index out of range: {start}")));
    }
    if end < 0 || end > len {
        return Err(err("substring", format!("index out of range: {end}")));
    }
    if start > end {
        return Err(err(
            "substring",
            format!("invalid substring range. start: {start}, end: {end}"),
        ));
    }
    Ok(string(chars[start as usize..end as usize].iter().collect::<String>()))
}

/// `<string>.trim()`: Go's `strings.TrimSpace`.
fn trim(This(this): This<Arc<String>>) -> ResolveResult {
    Ok(string(this.trim()))
}

/// `<list<string>>.join([<string>])`.
fn join(This(this): This<Arc<Vec<Cel>>>, Arguments(args): Arguments) -> ResolveResult {
    let sep = match args.first() {
        None => "",
        Some(_) => str_arg(&args, 0, "join")?,
    };
    let mut parts = Vec::with_capacity(this.len());
    for item in this.iter() {
        match item {
            Cel::String(s) => parts.push(s.as_str()),
            _ => return Err(no_overload("join")),
        }
    }
    Ok(string(parts.join(sep)))
}

// === lists library ===

/// `Compare` of two comparable values of one type (ints, uints, doubles, and their mixes,
/// bools, strings, bytes, durations, timestamps).
fn compare(a: &Cel, b: &Cel, function: &str) -> Result<std::cmp::Ordering, ExecutionError> {
    use std::cmp::Ordering;
    let ordering = match (a, b) {
        (Cel::Int(x), Cel::Int(y)) => x.cmp(y),
        (Cel::UInt(x), Cel::UInt(y)) => x.cmp(y),
        (Cel::Float(x), Cel::Float(y)) => x.partial_cmp(y).unwrap_or(Ordering::Equal),
        (Cel::Int(x), Cel::Float(y)) => (*x as f64).partial_cmp(y).unwrap_or(Ordering::Equal),
        (Cel::Float(x), Cel::Int(y)) => x.partial_cmp(&(*y as f64)).unwrap_or(Ordering::Equal),
        (Cel::Bool(x), Cel::Bool(y)) => x.cmp(y),
        (Cel::String(x), Cel::String(y)) => x.cmp(y),
        (Cel::Bytes(x), Cel::Bytes(y)) => x.cmp(y),
        (Cel::Duration(x), Cel::Duration(y)) => x.cmp(y),
        (Cel::Timestamp(x), Cel::Timestamp(y)) => x.cmp(y),
        _ => return Err(no_overload(function)),
    };
    Ok(ordering)
}

/// `<list>.isSorted()`.
fn is_sorted(This(this): This<Arc<Vec<Cel>>>) -> ResolveResult {
    for pair in this.windows(2) {
        if compare(&pair[0], &pair[1], "isSorted")? == std::cmp::Ordering::Greater {
            return Ok(Cel::Bool(false));
        }
    }
    Ok(Cel::Bool(true))
}

/// `<list>.sum()`: of ints, uints, doubles or durations; `0` for an empty list.
fn sum(This(this): This<Arc<Vec<Cel>>>) -> ResolveResult {
    let mut items = this.iter();
    let Some(first) = items.next() else { return Ok(Cel::Int(0)) };
    let mut acc = first.clone();
    for item in items {
        acc = match (&acc, item) {
            (Cel::Int(a), Cel::Int(b)) => {
                Cel::Int(a.checked_add(*b).ok_or_else(|| err("sum", "integer overflow"))?)
            }
            (Cel::UInt(a), Cel::UInt(b)) => {
                Cel::UInt(a.checked_add(*b).ok_or_else(|| err("sum", "unsigned integer overflow"))?)
            }
            (Cel::Float(a), Cel::Float(b)) => Cel::Float(a + b),
            (Cel::Duration(a), Cel::Duration(b)) => {
                Cel::Duration(a.checked_add(b).ok_or_else(|| err("sum", "integer overflow"))?)
            }
            _ => return Err(no_overload("sum")),
        };
    }
    match acc {
        Cel::Int(_) | Cel::UInt(_) | Cel::Float(_) | Cel::Duration(_) => Ok(acc),
        _ => Err(no_overload("sum")),
    }
}

/// `min`: `<list>.min()` from the lists library, else the crate's own `min(a, b, …)`.
fn min(This(this): This<Cel>, Arguments(args): Arguments) -> ResolveResult {
    extreme(this, &args, "min", std::cmp::Ordering::Greater)
}

/// `max`: `<list>.max()` from the lists library, else `max(a, b, …)`.
fn max(This(this): This<Cel>, Arguments(args): Arguments) -> ResolveResult {
    extreme(this, &args, "max", std::cmp::Ordering::Less)
}

/// `cmp`: the first item that no later item is preferred to (`prefer`: the ordering of the
/// current result against an item that replaces it).
fn extreme(this: Cel, args: &[Cel], name: &str, prefer: std::cmp::Ordering) -> ResolveResult {
    // As a method the target is `this` and the arguments follow; as a global function (the
    // crate's variadic `min(a, b, …)`) `this` is the first argument, which `args` repeats.
    let global = args.first() == Some(&this);
    let items: Vec<Cel> = match this {
        Cel::List(items) if args.is_empty() || (global && args.len() == 1) => items.to_vec(),
        _ if global => args.to_vec(),
        first => std::iter::once(first).chain(args.iter().cloned()).collect(),
    };
    let mut result: Option<Cel> = None;
    for item in items {
        result = match result {
            None => Some(item),
            Some(current) => {
                if compare(&current, &item, name)? == prefer {
                    Some(item)
                } else {
                    Some(current)
                }
            }
        };
    }
    result.ok_or_else(|| err(name, format!("{name} called on empty list")))
}

// === quantity library ===

/// A `resource.Quantity` as a CEL value (`kubernetes.Quantity`): quantities are equal when
/// their values are (`Quantity.Equal`).
#[derive(Debug, Clone, Copy)]
struct QuantityValue(crate::quantity::Quantity);

impl PartialEq for QuantityValue {
    fn eq(&self, other: &Self) -> bool {
        self.0.nanos == other.0.nanos
    }
}

impl Eq for QuantityValue {}

impl cel::objects::Opaque for QuantityValue {
    fn runtime_type_name(&self) -> &str {
        "kubernetes.Quantity"
    }
}

fn quantity_value(q: crate::quantity::Quantity) -> Cel {
    Cel::Opaque(Arc::new(QuantityValue(q)))
}

fn as_quantity(v: &Cel, function: &str) -> Result<crate::quantity::Quantity, ExecutionError> {
    match v {
        Cel::Opaque(o) => o.downcast_ref::<QuantityValue>().map(|q| q.0),
        _ => None,
    }
    .ok_or_else(|| no_overload(function))
}

/// `quantity(<string>)`: `resource.ParseQuantity`.
fn quantity(This(text): This<Arc<String>>) -> ResolveResult {
    match crate::quantity::Quantity::parse(&text) {
        Some(q) => Ok(quantity_value(q)),
        None => Err(err(
            "quantity",
            "quantities must match the regular expression \
             '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
        )),
    }
}

/// `isQuantity(<string>)`.
fn is_quantity(This(text): This<Arc<String>>) -> ResolveResult {
    Ok(Cel::Bool(crate::quantity::Quantity::parse(&text).is_some()))
}

/// `<quantity>.sign()`.
fn quantity_sign(This(this): This<Cel>) -> ResolveResult {
    Ok(Cel::Int(as_quantity(&this, "sign")?.nanos.signum() as i64))
}

/// `Quantity.Cmp` of the target and the argument.
fn quantity_cmp(this: &Cel, args: &[Cel], function: &str) -> Result<i64, ExecutionError> {
    let a = as_quantity(this, function)?;
    let b = as_quantity(args.first().ok_or_else(|| no_overload(function))?, function)?;
    Ok(a.nanos.cmp(&b.nanos) as i64)
}

/// `<quantity>.isGreaterThan(<quantity>)`.
fn is_greater_than(This(this): This<Cel>, Arguments(args): Arguments) -> ResolveResult {
    Ok(Cel::Bool(quantity_cmp(&this, &args, "isGreaterThan")? > 0))
}

/// `<quantity>.isLessThan(<quantity>)`.
fn is_less_than(This(this): This<Cel>, Arguments(args): Arguments) -> ResolveResult {
    Ok(Cel::Bool(quantity_cmp(&this, &args, "isLessThan")? < 0))
}

/// `<quantity>.compareTo(<quantity>)`: -1, 0 or 1.
fn compare_to(This(this): This<Cel>, Arguments(args): Arguments) -> ResolveResult {
    Ok(Cel::Int(quantity_cmp(&this, &args, "compareTo")?))
}

/// The right operand of `add`/`sub`: a quantity, or an int of whole units.
fn quantity_operand(
    args: &[Cel],
    function: &str,
) -> Result<crate::quantity::Quantity, ExecutionError> {
    match args.first() {
        Some(Cel::Int(n)) => Ok(crate::quantity::Quantity {
            nanos: i128::from(*n) * 1_000_000_000,
            format: crate::quantity::Format::DecimalExponent,
        }),
        Some(other) => as_quantity(other, function),
        None => Err(no_overload(function)),
    }
}

/// `<quantity>.add(<quantity>|<int>)`.
fn quantity_add(This(this): This<Cel>, Arguments(args): Arguments) -> ResolveResult {
    let q = as_quantity(&this, "add")?;
    Ok(quantity_value(q + quantity_operand(&args, "add")?))
}

/// `<quantity>.sub(<quantity>|<int>)`.
fn quantity_sub(This(this): This<Cel>, Arguments(args): Arguments) -> ResolveResult {
    let q = as_quantity(&this, "sub")?;
    let mut other = quantity_operand(&args, "sub")?;
    other.nanos = other.nanos.saturating_neg();
    Ok(quantity_value(q + other))
}

/// `Quantity.AsInt64`: the value when it is whole and fits an int.
fn whole_units(q: crate::quantity::Quantity) -> Option<i64> {
    if q.nanos % 1_000_000_000 != 0 {
        return None;
    }
    i64::try_from(q.nanos / 1_000_000_000).ok()
}

/// `<quantity>.isInteger()`.
fn is_integer(This(this): This<Cel>) -> ResolveResult {
    Ok(Cel::Bool(whole_units(as_quantity(&this, "isInteger")?).is_some()))
}

/// `<quantity>.asInteger()`.
fn as_integer(This(this): This<Cel>) -> ResolveResult {
    whole_units(as_quantity(&this, "asInteger")?)
        .map(Cel::Int)
        .ok_or_else(|| err("asInteger", "cannot convert value to integer"))
}

/// `<quantity>.asApproximateFloat()`.
fn as_approximate_float(This(this): This<Cel>) -> ResolveResult {
    Ok(Cel::Float(as_quantity(&this, "asApproximateFloat")?.nanos as f64 / 1e9))
}

// === URL library ===

/// A URL as Go's `url.ParseRequestURI` splits it (`kubernetes.URL`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct UrlValue {
    scheme: String,
    /// `Opaque`: what follows `scheme:` when it does not start with `/`.
    opaque: String,
    host: String,
    /// The path as written (its escapes checked): `EscapedPath`.
    path: String,
    raw_query: String,
}

impl cel::objects::Opaque for UrlValue {
    fn runtime_type_name(&self) -> &str {
        "kubernetes.URL"
    }
}

/// Go's `url.ParseRequestURI`, with its error messages (`parse "x": invalid URI for request`).
fn parse_request_uri(raw: &str) -> Result<UrlValue, String> {
    let fail = |why: String| Err(format!("parse {}: {why}", go_quote(raw)));
    if raw.is_empty() {
        return fail("empty url".to_owned());
    }
    if raw.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return fail("net/url: invalid control character in URL".to_owned());
    }
    let mut url = UrlValue {
        scheme: String::new(),
        opaque: String::new(),
        host: String::new(),
        path: String::new(),
        raw_query: String::new(),
    };
    // `getScheme`.
    let mut rest = raw;
    for (i, c) in raw.char_indices() {
        match c {
            'a'..='z' | 'A'..='Z' => {}
            '0'..='9' | '+' | '-' | '.' if i > 0 => {}
            ':' if i == 0 => return fail("missing protocol scheme".to_owned()),
            ':' => {
                url.scheme = raw[..i].to_ascii_lowercase();
                rest = &raw[i + 1..];
                break;
            }
            _ => break,
        }
    }
    if let Some((before, query)) = rest.split_once('?') {
        url.raw_query = query.to_owned();
        rest = before;
    }
    if !rest.starts_with('/') {
        if !url.scheme.is_empty() {
            url.opaque = rest.to_owned();
            return Ok(url);
        }
        return fail("invalid URI for request".to_owned());
    }
    if !url.scheme.is_empty()
        && let Some(after) = rest.strip_prefix("//")
    {
        let end = after.find('/').unwrap_or(after.len());
        let authority = &after[..end];
        rest = &after[end..];
        let host = match authority.rfind('@') {
            Some(at) => &authority[at + 1..],
            None => authority,
        };
        if let Err(why) = check_host(host) {
            return fail(why);
        }
        url.host = host.to_owned();
    }
    if let Err(why) = check_escapes(rest) {
        return fail(why);
    }
    url.path = rest.to_owned();
    Ok(url)
}

/// `parseHost`: a bracketed IPv6 host, and a port of digits only.
fn check_host(host: &str) -> Result<(), String> {
    let port = if let Some(inner) = host.strip_prefix('[') {
        let Some(close) = inner.find(']') else {
            return Err("missing ']' in host".to_owned());
        };
        &inner[close + 1..]
    } else {
        match host.rfind(':') {
            Some(i) => &host[i..],
            None => "",
        }
    };
    let valid_port = port.is_empty()
        || port.strip_prefix(':').is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()));
    if !valid_port {
        return Err(format!("invalid port {} after host", go_quote(port)));
    }
    check_escapes(host)
}

/// `unescape`'s check: every `%` starts two hex digits.
fn check_escapes(s: &str) -> Result<(), String> {
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let ok = bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
            if !ok {
                let bad: String = s[i..].chars().take(3).collect();
                return Err(format!("invalid URL escape {}", go_quote(&bad)));
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    Ok(())
}

/// `url.QueryUnescape`: `+` is a space, `%XX` a byte; `None` for a bad escape.
fn query_unescape(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = s.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

fn as_url(v: &Cel, function: &str) -> Result<UrlValue, ExecutionError> {
    match v {
        Cel::Opaque(o) => o.downcast_ref::<UrlValue>().cloned(),
        _ => None,
    }
    .ok_or_else(|| no_overload(function))
}

/// `url(<string>)`.
fn url(This(text): This<Arc<String>>) -> ResolveResult {
    match parse_request_uri(&text) {
        Ok(u) => Ok(Cel::Opaque(Arc::new(u))),
        Err(why) => {
            Err(err("url", format!("URL parse error during conversion from string: {why}")))
        }
    }
}

/// `isURL(<string>)`.
fn is_url(This(text): This<Arc<String>>) -> ResolveResult {
    Ok(Cel::Bool(parse_request_uri(&text).is_ok()))
}

/// `<URL>.getScheme()`.
fn get_scheme(This(this): This<Cel>) -> ResolveResult {
    Ok(string(as_url(&this, "getScheme")?.scheme))
}

/// `<URL>.getHost()`: host and port, IPv6 addresses in brackets.
fn get_host(This(this): This<Cel>) -> ResolveResult {
    Ok(string(as_url(&this, "getHost")?.host))
}

/// `splitHostPort`: the host without its port and brackets, and the port.
fn split_host_port(host: &str) -> (&str, &str) {
    let (name, port) = match host.rfind(':') {
        Some(i) if host[i + 1..].bytes().all(|b| b.is_ascii_digit()) => {
            (&host[..i], &host[i + 1..])
        }
        _ => (host, ""),
    };
    let name = name.strip_prefix('[').and_then(|n| n.strip_suffix(']')).unwrap_or(name);
    (name, port)
}

/// `<URL>.getHostname()`.
fn get_hostname(This(this): This<Cel>) -> ResolveResult {
    let u = as_url(&this, "getHostname")?;
    Ok(string(split_host_port(&u.host).0))
}

/// `<URL>.getPort()`.
fn get_port(This(this): This<Cel>) -> ResolveResult {
    let u = as_url(&this, "getPort")?;
    Ok(string(split_host_port(&u.host).1))
}

/// `<URL>.getEscapedPath()`.
fn get_escaped_path(This(this): This<Cel>) -> ResolveResult {
    Ok(string(as_url(&this, "getEscapedPath")?.path))
}

/// `<URL>.getQuery()`: `url.ParseQuery`'s map of each key to its values (bad pairs skipped).
fn get_query(This(this): This<Cel>) -> ResolveResult {
    let u = as_url(&this, "getQuery")?;
    let mut query: std::collections::HashMap<String, Vec<Cel>> = std::collections::HashMap::new();
    for pair in u.raw_query.split('&').filter(|p| !p.is_empty() && !p.contains(';')) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if let (Some(k), Some(v)) = (query_unescape(k), query_unescape(v)) {
            query.entry(k).or_default().push(string(v));
        }
    }
    let map = query
        .into_iter()
        .map(|(k, v)| (cel::objects::Key::String(Arc::new(k)), Cel::List(Arc::new(v))))
        .collect();
    Ok(Cel::Map(cel::objects::Map { map: Arc::new(map) }))
}

// === format library ===

/// `ConstantFormats`' names.
pub(super) const FORMATS: &[&str] = &[
    "dns1123Label",
    "dns1123Subdomain",
    "dns1035Label",
    "qualifiedName",
    "dns1123LabelPrefix",
    "dns1123SubdomainPrefix",
    "dns1035LabelPrefix",
    "labelValue",
    "uri",
    "uuid",
    "byte",
    "date",
    "datetime",
];

/// A named format (`kubernetes.NamedFormat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FormatValue(&'static str);

impl cel::objects::Opaque for FormatValue {
    fn runtime_type_name(&self) -> &str {
        "kubernetes.NamedFormat"
    }
}

fn format_value(name: &'static str) -> Cel {
    Cel::Opaque(Arc::new(FormatValue(name)))
}

/// `format.named(<string>)`: the format, or `optional.none()` for an unknown name.
fn format_named(This(name): This<Arc<String>>) -> ResolveResult {
    let found = FORMATS.iter().find(|f| **f == name.as_str()).map(|f| format_value(f));
    Ok(optional(found))
}

/// `NameIsDNSLabel` and friends with `prefix`: a trailing `-` is allowed (`maskTrailingDash`).
fn mask_trailing_dash(s: &str) -> String {
    match s.strip_suffix('-') {
        Some(head) if s.len() > 1 => format!("{head}a"),
        _ => s.to_owned(),
    }
}

/// The problems of `text` under the named format (`Format.ValidateFunc`).
fn format_problems(name: &str, text: &str) -> Vec<String> {
    use crate::validation::meta;
    let check = |ok: bool, problem: &str| if ok { Vec::new() } else { vec![problem.to_owned()] };
    match name {
        "dns1123Label" => meta::dns1123_label(text),
        "dns1123Subdomain" => meta::dns1123_subdomain(text),
        "dns1035Label" => meta::dns1035_label(text),
        "qualifiedName" => meta::qualified_name(text),
        "dns1123LabelPrefix" => meta::dns1123_label(&mask_trailing_dash(text)),
        "dns1123SubdomainPrefix" => meta::dns1123_subdomain(&mask_trailing_dash(text)),
        "dns1035LabelPrefix" => meta::dns1035_label(&mask_trailing_dash(text)),
        "labelValue" => meta::label_value(text),
        "uri" => parse_request_uri(text).err().into_iter().collect(),
        "uuid" => {
            check(super::super::formats::validates("uuid", text), "does not match the UUID format")
        }
        "byte" => check(super::super::formats::validates("byte", text), "invalid base64"),
        "date" => check(super::super::formats::validates("date", text), "invalid date"),
        "datetime" => check(super::super::formats::validates("datetime", text), "invalid datetime"),
        _ => Vec::new(),
    }
}

/// `<Format>.validate(<string>)`: `optional.none()` when valid, else the problems.
fn format_validate(This(this): This<Cel>, Arguments(args): Arguments) -> ResolveResult {
    let Cel::Opaque(o) = &this else { return Err(no_overload("validate")) };
    let Some(FormatValue(name)) = o.downcast_ref::<FormatValue>() else {
        return Err(no_overload("validate"));
    };
    let text = str_arg(&args, 0, "validate")?;
    let problems = format_problems(name, text);
    if problems.is_empty() {
        return Ok(optional(None));
    }
    Ok(optional(Some(Cel::List(Arc::new(problems.into_iter().map(string).collect())))))
}
