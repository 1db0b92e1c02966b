//! The JSONPath of printer columns: client-go's `util/jsonpath` over a decoded object, for one
//! `{…}` expression (`relaxedJSONPathExpression` wraps the column's path in braces) with
//! `AllowMissingKeys(true)`.
//!
//! Supported, parsed as client-go's parser does: `.field` (escapes with `\`), `['key']`, `[n]`,
//! `[start:end:step]`, `[*]`, `.*`, and filters `[?(@.path)]` and `[?(@.path OP operand)]`
//! with `== != < > <= >=` comparing as Go's `text/template` does. Recursive descent (`..`),
//! unions (`[a,b]`), text and `range` are not: [`JsonPath::parse`] refuses them.

use serde_json::Value;

use super::gofmt::GoNumber;

/// A parsed path.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct JsonPath {
    steps: Vec<Step>,
}

#[derive(Debug, Clone, PartialEq)]
enum Step {
    Field(String),
    Wildcard,
    /// `[start:end:step]`, each part optional; `[n]` is `[n:n+1]`.
    Slice {
        start: Option<i64>,
        end: Option<i64>,
        step: Option<i64>,
        index: bool,
    },
    Filter(Filter),
}

#[derive(Debug, Clone, PartialEq)]
struct Filter {
    left: Vec<Step>,
    /// `None`: `exists`.
    comparison: Option<(Op, Operand)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
}

#[derive(Debug, Clone, PartialEq)]
enum Operand {
    Path(Vec<Step>),
    Literal(Value),
}

impl JsonPath {
    /// Parses a column's `jsonPath` wrapped in braces as upstream wraps it (`{.spec.replicas}`);
    /// `None` when client-go's parser refuses it or it uses what this port does not evaluate.
    pub(super) fn parse(text: &str) -> Option<JsonPath> {
        let inner = text.strip_prefix('{')?.strip_suffix('}')?;
        if inner.contains(['{', '}']) {
            return None;
        }
        Some(JsonPath { steps: parse_action(inner)? })
    }

    /// `FindResults`: every value the path reaches, in order; `None` on an evaluation error
    /// (an index out of range, a filter on a non-list, an incomparable filter).
    pub(super) fn find<'a>(&self, data: &'a Value) -> Option<Vec<&'a Value>> {
        eval(&self.steps, vec![data])
    }
}

// === parsing ===

/// `isTerminator`: what ends a field name.
fn is_terminator(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n' | '.' | ',' | '[' | ']' | '$' | '@' | '{' | '}')
}

/// `parseInsideAction` over one action's text, for the node kinds a column path can hold.
fn parse_action(text: &str) -> Option<Vec<Step>> {
    let chars: Vec<char> = text.chars().collect();
    let mut steps = Vec::new();
    let mut pos = 0;
    while pos < chars.len() {
        let rest: String = chars[pos..].iter().collect();
        if rest.starts_with("[?(") {
            let (filter, used) = parse_filter(&chars[pos + 3..])?;
            steps.push(Step::Filter(filter));
            pos += 3 + used;
            continue;
        }
        if rest.starts_with("..") {
            // Recursive descent: not evaluated here.
            return None;
        }
        let c = chars[pos];
        pos += 1;
        match c {
            ' ' | '@' | '$' => {}
            '[' => {
                // `parseArray`: everything up to the first `]`.
                let len = chars[pos..].iter().position(|&c| c == ']' || c == '\n')?;
                if chars[pos + len] != ']' {
                    return None;
                }
                let inside: String = chars[pos..pos + len].iter().collect();
                pos += len + 1;
                steps.extend(parse_array(&inside)?);
            }
            '.' => {
                // `parseField`: up to a terminator that is not escaped; backslashes dropped.
                let mut name = String::new();
                while pos < chars.len() {
                    let c = chars[pos];
                    if c == '\\' {
                        // The escaped character is kept; every backslash is dropped.
                        if let Some(&next) = chars.get(pos + 1)
                            && next != '\\'
                        {
                            name.push(next);
                        }
                        pos += 2;
                        continue;
                    }
                    if is_terminator(c) {
                        break;
                    }
                    name.push(c);
                    pos += 1;
                }
                match name.as_str() {
                    "*" => steps.push(Step::Wildcard),
                    // A lone `.` (the current object) adds nothing.
                    "" => {}
                    _ => steps.push(Step::Field(name)),
                }
            }
            // Text, numbers, identifiers (`range`, `end`), anything else: not a column path.
            _ => return None,
        }
    }
    Some(steps)
}

/// The inside of `[…]`: `*`, a `'key'`, or a slice `start:end:step` (no unions).
fn parse_array(inside: &str) -> Option<Vec<Step>> {
    let text = if inside == "*" { ":" } else { inside };
    if text.contains(',') {
        return None;
    }
    if let Some(key) = text.strip_prefix('\'').and_then(|t| t.strip_suffix('\'')) {
        // `['a.b']` is parsed as the action `.a.b`, as upstream does.
        if key.contains('\'') {
            return None;
        }
        return parse_action(&format!(".{key}"));
    }
    // `^(-?[\d]*)(:-?[\d]*)?(:-?[\d]*)?$`
    let parts: Vec<&str> = text.split(':').collect();
    if parts.len() > 3 {
        return None;
    }
    let number = |p: &str| -> Option<Option<i64>> {
        let digits = p.strip_prefix('-').unwrap_or(p);
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        if p.is_empty() {
            return Some(None);
        }
        p.parse().ok().map(Some)
    };
    let start = number(parts[0])?;
    if parts.len() == 1 {
        // `[n]`: the end is derived, `n + 1` (which for `-1` means the end of the list).
        let index = start?;
        let end = if index == -1 { None } else { Some(index + 1) };
        return Some(vec![Step::Slice { start: Some(index), end, step: None, index: true }]);
    }
    let end = number(parts[1])?;
    let step = match parts.get(2) {
        Some(p) => number(p)?,
        None => None,
    };
    Some(vec![Step::Slice { start, end, step, index: false }])
}

/// `parseFilter`, after `[?(`: the filter and how many characters it used, `)]` included.
fn parse_filter(chars: &[char]) -> Option<(Filter, usize)> {
    let mut begin = false;
    let mut end = false;
    let mut pair = '"';
    let mut pos = 0;
    loop {
        let c = *chars.get(pos)?;
        pos += 1;
        match c {
            '\n' => return None,
            '"' | '\'' => {
                if !begin {
                    begin = true;
                    pair = c;
                } else if c == pair && chars.get(pos.wrapping_sub(2)) != Some(&'\\') {
                    end = true;
                }
            }
            ')' if begin == end => break,
            _ => {}
        }
    }
    if chars.get(pos) != Some(&']') {
        return None;
    }
    let text: String = chars[..pos - 1].iter().collect();
    let used = pos + 1;
    // `^([^!<>=]+)([!<>=]+)(.+?)$`
    let is_op = |c: char| matches!(c, '!' | '<' | '>' | '=');
    let Some(op_start) = text.find(is_op).filter(|&i| i > 0) else {
        return Some((Filter { left: parse_action(&text)?, comparison: None }, used));
    };
    let after = &text[op_start..];
    let op_len = after.find(|c: char| !is_op(c)).unwrap_or(after.len());
    let (op_text, right) = after.split_at(op_len);
    if right.is_empty() {
        return Some((Filter { left: parse_action(&text)?, comparison: None }, used));
    }
    let op = match op_text {
        "==" => Op::Eq,
        "!=" => Op::Ne,
        "<" => Op::Lt,
        ">" => Op::Gt,
        "<=" => Op::Le,
        ">=" => Op::Ge,
        // Upstream fails at evaluation ("unrecognized filter operator").
        _ => return None,
    };
    let left = parse_action(&text[..op_start])?;
    Some((Filter { left, comparison: Some((op, parse_operand(right)?)) }, used))
}

/// The right side of a comparison: a quoted string, a number, a boolean, or a path.
fn parse_operand(text: &str) -> Option<Operand> {
    let text = text.trim_matches(|c| c == ' ' || c == '\t');
    if let Some(q) = text.chars().next().filter(|&c| c == '"' || c == '\'') {
        let inner = text.strip_prefix(q)?.strip_suffix(q)?;
        let mut out = String::new();
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                out.push(match chars.next()? {
                    'n' => '\n',
                    't' => '\t',
                    other => other,
                });
            } else {
                out.push(c);
            }
        }
        return Some(Operand::Literal(Value::String(out)));
    }
    match text {
        "true" => return Some(Operand::Literal(Value::Bool(true))),
        "false" => return Some(Operand::Literal(Value::Bool(false))),
        _ => {}
    }
    if text.starts_with(|c: char| c == '+' || c == '-' || c.is_ascii_digit()) {
        let number = text.strip_prefix('+').unwrap_or(text);
        return Some(Operand::Literal(match number.parse::<i64>() {
            Ok(i) => Value::from(i),
            Err(_) => Value::from(number.parse::<f64>().ok()?),
        }));
    }
    Some(Operand::Path(parse_action(text)?))
}

// === evaluation ===

fn eval<'a>(steps: &[Step], mut current: Vec<&'a Value>) -> Option<Vec<&'a Value>> {
    for step in steps {
        current = eval_step(step, current)?;
    }
    Some(current)
}

fn eval_step<'a>(step: &Step, input: Vec<&'a Value>) -> Option<Vec<&'a Value>> {
    let mut out = Vec::new();
    match step {
        // `evalField`: a missing key, a null or a non-object gives nothing (missing keys are
        // allowed).
        Step::Field(name) => {
            for v in input {
                if let Value::Object(map) = v
                    && let Some(found) = map.get(name)
                {
                    out.push(found);
                }
            }
        }
        Step::Wildcard => {
            for v in input {
                match v {
                    Value::Object(map) => {
                        let mut keys: Vec<&String> = map.keys().collect();
                        keys.sort();
                        out.extend(keys.into_iter().filter_map(|k| map.get(k)));
                    }
                    Value::Array(items) => out.extend(items.iter()),
                    _ => {}
                }
            }
        }
        Step::Slice { start, end, step, index } => {
            for v in input {
                let items = match v {
                    Value::Null => continue,
                    Value::Array(items) => items,
                    _ => return None,
                };
                let len = items.len() as i64;
                let mut s = start.unwrap_or(0);
                if s < 0 {
                    s += len;
                }
                let mut e = end.unwrap_or(len);
                if e < 0 {
                    e += len;
                }
                // `[-1]` means the last item.
                if *index && end.is_none() {
                    e = len;
                }
                // Requesting zero items is allowed, whatever the bounds.
                if e != s && (s >= len || e > len) {
                    return None;
                }
                if s < 0 || e < s {
                    return None;
                }
                let step = step.unwrap_or(1);
                if step <= 0 {
                    return None;
                }
                let mut i = s;
                while i < e {
                    out.push(items.get(usize::try_from(i).ok()?)?);
                    i += step;
                }
            }
        }
        Step::Filter(filter) => {
            for v in input {
                let Value::Array(items) = v else { return None };
                for item in items {
                    let lefts = eval(&filter.left, vec![item]);
                    let Some((op, operand)) = &filter.comparison else {
                        if lefts.is_some_and(|l| !l.is_empty()) {
                            out.push(item);
                        }
                        continue;
                    };
                    let lefts = lefts?;
                    let [left] = lefts.as_slice() else { return None };
                    let right = match operand {
                        Operand::Literal(v) => v,
                        Operand::Path(steps) => {
                            let rights = eval(steps, vec![item])?;
                            let [right] = rights.as_slice() else { return None };
                            *right
                        }
                    };
                    if compare(*op, left, right)? {
                        out.push(item);
                    }
                }
            }
        }
    }
    Some(out)
}

/// Go `text/template`'s basic kinds, for comparisons.
#[derive(Debug, PartialEq, PartialOrd)]
enum Basic<'a> {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(&'a str),
}

fn basic(v: &Value) -> Option<Basic<'_>> {
    Some(match v {
        Value::Bool(b) => Basic::Bool(*b),
        Value::Number(n) => match GoNumber::of(n) {
            GoNumber::Int(i) => Basic::Int(i),
            GoNumber::Float(f) => Basic::Float(f),
        },
        Value::String(s) => Basic::Str(s),
        _ => return None,
    })
}

/// `template.Equal`, `Less`, …: values of different kinds (or not basic) cannot be compared.
fn compare(op: Op, left: &Value, right: &Value) -> Option<bool> {
    let (l, r) = (basic(left)?, basic(right)?);
    if std::mem::discriminant(&l) != std::mem::discriminant(&r) {
        return None;
    }
    if matches!(l, Basic::Bool(_)) && !matches!(op, Op::Eq | Op::Ne) {
        return None;
    }
    Some(match op {
        Op::Eq => l == r,
        Op::Ne => l != r,
        Op::Lt => l < r,
        Op::Gt => l > r,
        Op::Le => l <= r,
        Op::Ge => l >= r,
    })
}
