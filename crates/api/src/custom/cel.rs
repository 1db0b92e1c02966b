//! CEL `x-kubernetes-validations` rules: compiled once when a schema is parsed ([`Rule::new`],
//! apiextensions-apiserver's `schema/cel/compilation.go`) and evaluated against a custom
//! resource ([`validate`], `schema/cel/validation.go`'s `Validator.Validate`), with `self` bound
//! to the value of the schema node that declares the rule and, for transition rules, `oldSelf`
//! to its correlated old value.
//!
//! The expressions run on the `cel` crate, which parses and interprets CEL (macros, `has`,
//! `size`, `matches`, `startsWith`/`endsWith`/`contains`, timestamps and durations, optionals)
//! but does not type-check. What it lacks of Kubernetes' CEL environment is registered here
//! ([`library`]): cel-go's strings extension, Kubernetes' lists, quantity, URL and format
//! libraries. Without a type checker a compile is a parse plus the checks [`check`] does on the
//! AST (undeclared variables and functions, fields the schema does not declare); another type
//! error upstream reports when the CRD is written shows here as a runtime error of the rule.
//! The cost estimation and runtime cost budget are not ported.
//!
//! Suggested reading order: [`Rule`] (compiling), [`validate`] and `Walk` (the tree walk, with
//! the transition rules' `oldSelf` correlation and the ratcheting of unchanged values), then
//! [`to_cel`] (the values rules see) and [`library`].
//!
//! Nothing here panics on any rule or object: the evaluation runs under `catch_unwind`, so a
//! panic inside the library becomes the rule's runtime error.

mod check;
pub(super) mod library;

use std::sync::Arc;

use cel::objects::{Key, Map as CelMap};
use cel::{Context, ExecutionError, Program, Value as Cel};
use serde_json::{Map, Value};

use super::schema::Node;
use super::validate::{correlate_item, ratchet_equal};
use crate::validation::{Errors, Shown, go_quote};

/// `celconfig.MaxEvaluatedMessageExpressionSizeBytes`.
const MAX_MESSAGE_EXPRESSION_BYTES: usize = 5 * 1024;

/// `field.Path.String()` of the nil path the strategy validates the root with.
const NIL_PATH: &str = "<nil>";

/// One `ValidationRule` with its compiled programs (`CompilationResult`).
#[derive(Clone)]
pub(super) struct Rule {
    rule: String,
    message: String,
    message_expression: String,
    reason: Option<String>,
    field_path: String,
    optional_old_self: Option<bool>,
    /// The program, `None` for an empty rule, or upstream's error detail
    /// (`compilation failed: ERROR: <input>:…`).
    program: Option<Result<Arc<Program>, String>>,
    /// The `messageExpression` program, or its error detail.
    message_program: Option<Result<Arc<Program>, String>>,
    /// `UsesOldSelf`: the rule references `oldSelf`, so it is a transition rule.
    uses_old_self: bool,
    /// `NormalizedRuleFieldPath`: `fieldPath` as a `field.Path` string, when it is valid.
    normalized_field_path: Option<String>,
}

impl std::fmt::Debug for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rule")
            .field("rule", &self.rule)
            .field("message", &self.message)
            .field("message_expression", &self.message_expression)
            .field("reason", &self.reason)
            .field("field_path", &self.field_path)
            .field("uses_old_self", &self.uses_old_self)
            .finish_non_exhaustive()
    }
}

/// The compile problems of one rule, as CRD validation reports them: the rule's and the
/// `messageExpression`'s error details.
#[derive(Debug, Default)]
pub(crate) struct Problems {
    pub(crate) rule: Option<String>,
    pub(crate) message_expression: Option<String>,
    /// The rule uses `oldSelf` (upstream then checks the schema path is correlatable).
    pub(crate) uses_old_self: bool,
}

impl Rule {
    /// Reads and compiles the rules of one schema node (`x-kubernetes-validations`), `node` being
    /// the node they are declared on (what `self` is).
    pub(super) fn all_of(rules: Option<&Value>, node: &Node) -> Vec<Rule> {
        let Some(rules) = rules.and_then(Value::as_array) else { return Vec::new() };
        rules.iter().map(|r| Rule::new(r, node)).collect()
    }

    /// `compileRule`: parses the rule and its `messageExpression`, and resolves `fieldPath`.
    fn new(raw: &Value, node: &Node) -> Rule {
        let text = |f: &str| raw.get(f).and_then(Value::as_str).unwrap_or("").to_owned();
        let rule = text("rule");
        let message_expression = text("messageExpression");
        let field_path = text("fieldPath");
        let program = (!rule.trim().is_empty()).then(|| compile(&rule, None));
        let uses_old_self =
            matches!(&program, Some(Ok(p)) if p.references().has_variable("oldSelf"));
        let message_program =
            (!message_expression.trim().is_empty()).then(|| compile(&message_expression, None));
        let normalized_field_path =
            if field_path.is_empty() { None } else { valid_field_path(&field_path, node).ok() };
        Rule {
            rule,
            message: text("message"),
            message_expression,
            reason: raw.get("reason").and_then(Value::as_str).map(str::to_owned),
            field_path,
            optional_old_self: raw.get("optionalOldSelf").and_then(Value::as_bool),
            program,
            message_program,
            uses_old_self,
            normalized_field_path,
        }
    }

    /// `ruleErrorString`: the message if there is one, else the rule, trimmed.
    fn error_string(&self) -> &str {
        if self.message.is_empty() { self.rule.trim() } else { self.message.trim() }
    }

    /// `ruleMessageOrDefault`.
    fn message_or_default(&self) -> String {
        if self.message.is_empty() {
            format!("failed rule: {}", self.error_string())
        } else {
            self.message.trim().to_owned()
        }
    }
}

/// Compiles the rules of one schema node as CRD validation does (`cel.Compile` against the
/// node's type): a parse, then [`check`]'s static checks against `node`. `is_root`: the node is
/// the resource root (`self.metadata`, `self.apiVersion`, `self.kind` are declared).
pub(crate) fn compile_problems(schema: &Value, is_root: bool) -> Vec<Problems> {
    let node = Node::parse_shape(schema);
    let Some(rules) = schema.get("x-kubernetes-validations").and_then(Value::as_array) else {
        return Vec::new();
    };
    rules
        .iter()
        .map(|raw| {
            let text = |f: &str| raw.get(f).and_then(Value::as_str).unwrap_or("");
            let mut problems = Problems::default();
            let rule = text("rule");
            if !rule.trim().is_empty() {
                let checked = Checked { node: &node, resource_root: is_root, rule: true };
                match compile(rule, Some(checked)) {
                    Ok(program) => {
                        problems.uses_old_self = program.references().has_variable("oldSelf")
                    }
                    Err(detail) => problems.rule = Some(detail),
                }
            }
            let message_expression = text("messageExpression");
            // Upstream compiles the message expression only after the rule compiled.
            if problems.rule.is_none()
                && !message_expression.trim().is_empty()
                && let Err(detail) = compile(
                    message_expression,
                    Some(Checked { node: &node, resource_root: is_root, rule: false }),
                )
            {
                problems.message_expression = Some(detail.replacen(
                    "compilation failed: ",
                    "messageExpression compilation failed: ",
                    1,
                ));
            }
            problems
        })
        .collect()
}

/// What [`compile`] checks an expression against.
#[derive(Clone, Copy)]
struct Checked<'a> {
    /// The schema node declaring the rule.
    node: &'a Node,
    /// The node is a resource root (or an embedded resource).
    resource_root: bool,
    /// The expression is the rule (a `bool`), not its `messageExpression`.
    rule: bool,
}

/// Parses `source` (and, given the node, runs the static checks), with upstream's error detail
/// on failure: `compilation failed: ERROR: <input>:1:7: …` followed by the source line and a
/// caret under the column.
fn compile(source: &str, node: Option<Checked<'_>>) -> Result<Arc<Program>, String> {
    let parsed = std::panic::catch_unwind(|| Program::compile(source));
    let program = match parsed {
        Ok(Ok(program)) => program,
        Ok(Err(errors)) => {
            let issues: Vec<String> = errors
                .errors
                .iter()
                .map(|e| {
                    let line = usize::try_from(e.pos.0).unwrap_or(1);
                    let column = usize::try_from(e.pos.1 - 1).unwrap_or(0);
                    issue(source, line, column, &e.msg)
                })
                .collect();
            return Err(format!("compilation failed: {}", issues.join("\n")));
        }
        Err(_) => return Err("compilation failed: the expression could not be parsed".to_owned()),
    };
    if let Some(Checked { node, resource_root, rule }) = node {
        match check::check(source, program.expression(), node, resource_root, rule) {
            Some(check::Problem::At(offset, message)) => {
                let (line, column) = line_column(source, offset);
                let issue = issue(source, line, column, &message);
                return Err(format!("compilation failed: {issue}"));
            }
            Some(check::Problem::NotBool) => {
                return Err("cel expression must evaluate to a bool".to_owned());
            }
            None => {}
        }
    }
    Ok(Arc::new(program))
}

/// The 1-based line and 0-based column (in characters) of a byte offset.
fn line_column(source: &str, offset: usize) -> (usize, usize) {
    let before = source.get(..offset).unwrap_or(source);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count());
    (line, column)
}

/// One of cel-go's `Errors.ToDisplayString` entries: `ERROR: <input>:<line>:<column+1>: <msg>`,
/// then the source line and a `.…^` marker under the column.
fn issue(source: &str, line: usize, column: usize, message: &str) -> String {
    let mut out = format!("ERROR: <input>:{line}:{}: {message}", column + 1);
    if let Some(text) = source.split('\n').nth(line.saturating_sub(1)) {
        out.push_str("\n | ");
        out.push_str(text);
        out.push_str("\n | ");
        out.push_str(&".".repeat(column));
        out.push('^');
    }
    out
}

// === ValidFieldPath ===

/// `ValidFieldPath`: `fieldPath` (`.a.b`, `.a['b.c']`) resolved against the schema of the node
/// declaring the rule, as a `field.Path` string (`a.b`, `a[k]` for a map key).
pub(super) fn valid_field_path(json_path: &str, schema: &Node) -> Result<String, String> {
    let tokens = field_path_tokens(json_path);
    let mut path = String::new();
    let mut schema = Some(schema);
    let mut tokens = tokens.into_iter();
    let named_or_key = |s: Option<&Node>| -> Result<bool, String> {
        match s {
            Some(s) if !s.properties.is_empty() => Ok(true),
            Some(s) if s.additional_properties.is_some() => Ok(false),
            _ => Err("does not refer to a valid field".to_owned()),
        }
    };
    while let Some(tok) = tokens.next() {
        let (name, named) = match tok.as_str() {
            "[" => {
                let Some(quoted) = tokens.next() else {
                    return Err("unexpected end of JSON path".to_owned());
                };
                if quoted.len() < 2 || !quoted.starts_with('\'') || !quoted.ends_with('\'') {
                    return Err(format!("expected single quoted string but got {quoted}"));
                }
                let name = unescape_single_quote(&quoted[1..quoted.len() - 1])
                    .map_err(|e| format!("invalid string literal: {e}"))?;
                let named = named_or_key(schema)?;
                match tokens.next() {
                    None => return Err("unexpected end of JSON path".to_owned()),
                    Some(t) if t != "]" => return Err(format!("expected ] but got {t}")),
                    Some(_) => {}
                }
                (name, named)
            }
            "." => {
                let Some(name) = tokens.next() else {
                    return Err("unexpected end of JSON path".to_owned());
                };
                (name, named_or_key(schema)?)
            }
            other => return Err(format!("expected [ or . but got: {other}")),
        };
        let current = schema.ok_or("does not refer to a valid field")?;
        if named {
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(&name);
            schema = Some(current.properties.get(&name).ok_or("does not refer to a valid field")?);
        } else {
            path.push_str(&format!("[{name}]"));
            schema = current.additional_properties.as_ref().and_then(|a| a.schema.as_deref());
        }
    }
    Ok(path)
}

/// The scanner of `ValidFieldPath`: `.`, `[` and `]` alone, single-quoted strings whole, and
/// the text between delimiters.
fn field_path_tokens(path: &str) -> Vec<String> {
    let chars: Vec<char> = path.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '\'' {
            let mut j = i + 1;
            while j < chars.len() && !(chars[j] == '\'' && chars[j - 1] != '\\') {
                j += 1;
            }
            let end = (j + 1).min(chars.len());
            tokens.push(chars[i..end].iter().collect());
            i = end;
        } else if matches!(chars[i], '.' | '[' | ']') {
            tokens.push(chars[i].to_string());
            i += 1;
        } else {
            let mut j = i;
            while j < chars.len() && !matches!(chars[j], '.' | '[' | ']') {
                j += 1;
            }
            tokens.push(chars[i..j].iter().collect());
            i = j;
        }
    }
    tokens
}

/// `unescapeSingleQuote`.
fn unescape_single_quote(s: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('a') => out.push('\u{7}'),
            Some('b') => out.push('\u{8}'),
            Some('f') => out.push('\u{c}'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some('v') => out.push('\u{b}'),
            Some('\'') => out.push('\''),
            Some('\\') => out.push('\\'),
            Some(other) => return Err(format!("invalid escape char \\{other}")),
            None => out.push('\\'),
        }
    }
    Ok(out)
}

// === Escape ===

/// `celReservedSymbols`.
const RESERVED: &[&str] = &[
    "true",
    "false",
    "null",
    "in",
    "as",
    "break",
    "const",
    "continue",
    "else",
    "for",
    "function",
    "if",
    "import",
    "let",
    "loop",
    "package",
    "namespace",
    "return",
    "var",
    "void",
    "while",
];

/// `cel.Escape`: a property name as a CEL field name (`namespace` → `__namespace__`,
/// `a-b.c/d` → `a__dash__b__dot__c__slash__d`, `__` → `__underscores__`); `None` when it
/// cannot be one (the property is then not visible to rules).
pub(super) fn escape(ident: &str) -> Option<String> {
    if ident.is_empty() || ident.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    if RESERVED.contains(&ident) {
        return Some(format!("__{ident}__"));
    }
    let mut out = String::with_capacity(ident.len());
    let mut rest = ident;
    while let Some(c) = rest.chars().next() {
        if rest.starts_with("__") {
            out.push_str("__underscores__");
            rest = &rest[2..];
            continue;
        }
        match c {
            '.' => out.push_str("__dot__"),
            '-' => out.push_str("__dash__"),
            '/' => out.push_str("__slash__"),
            c if c.is_alphanumeric() || c == '_' => out.push(c),
            _ => return None,
        }
        rest = &rest[c.len_utf8()..];
    }
    Some(out)
}

// === values ===

/// The type name upstream shows as the value of a rule's error (`sts.Type`): the schema's
/// `type`, empty for int-or-string and untyped nodes.
fn type_name(s: &Node) -> &str {
    match s.types.as_slice() {
        [t] => t,
        _ => "",
    }
}

/// `UnstructuredToVal`: a JSON value as the CEL value a rule sees under schema `s` (`None`:
/// no schema, a dynamic value). Integers are `int`, `number`s are `double`, `date-time` and
/// `date` strings are timestamps and `duration` strings durations (when they parse), objects
/// with properties show their escaped property names (and at a resource root or embedded
/// resource `apiVersion`, `kind` and `metadata.name`/`generateName`), maps and unknown objects
/// their keys.
pub(super) fn to_cel(v: &Value, s: Option<&Node>, resource_root: bool) -> Cel {
    match v {
        Value::Null => Cel::Null,
        Value::Bool(b) => Cel::Bool(*b),
        Value::Number(n) => {
            let number = s.is_some_and(|s| s.types.len() == 1 && s.types[0] == "number");
            match n.as_i64() {
                Some(i) if !number => Cel::Int(i),
                _ => Cel::Float(n.as_f64().unwrap_or(f64::NAN)),
            }
        }
        Value::String(text) => match s.map(|s| s.format.as_str()) {
            Some("date-time" | "datetime" | "date") => {
                library::timestamp(text).unwrap_or_else(|| Cel::String(Arc::new(text.clone())))
            }
            Some("duration") => {
                library::duration(text).unwrap_or_else(|| Cel::String(Arc::new(text.clone())))
            }
            _ => Cel::String(Arc::new(text.clone())),
        },
        Value::Array(items) => {
            let item_schema = s.and_then(|s| s.items.as_deref());
            Cel::List(Arc::new(items.iter().map(|i| to_cel(i, item_schema, false)).collect()))
        }
        Value::Object(map) => object_to_cel(map, s, resource_root),
    }
}

fn object_to_cel(map: &Map<String, Value>, s: Option<&Node>, resource_root: bool) -> Cel {
    let mut out = std::collections::HashMap::with_capacity(map.len());
    let Some(s) = s else {
        for (k, v) in map {
            out.insert(Key::String(Arc::new(k.clone())), to_cel(v, None, false));
        }
        return Cel::Map(CelMap { map: Arc::new(out) });
    };
    let resource = resource_root || s.embedded_resource;
    if !s.properties.is_empty() || resource {
        for (k, v) in map {
            if let Some(prop) = s.properties.get(k) {
                if let Some(name) = escape(k) {
                    out.insert(Key::String(Arc::new(name)), to_cel(v, Some(prop), false));
                }
            } else if resource && (k == "apiVersion" || k == "kind") {
                out.insert(Key::String(Arc::new(k.clone())), to_cel(v, None, false));
            } else if resource && k == "metadata" {
                let meta = v.as_object().map(|m| {
                    m.iter()
                        .filter(|(k, _)| *k == "name" || *k == "generateName")
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect::<Map<String, Value>>()
                });
                let meta = meta.map_or(Cel::Null, |m| object_to_cel(&m, None, false));
                out.insert(Key::String(Arc::new(k.clone())), meta);
            } else if s.preserve_unknown_fields && s.properties.is_empty() {
                out.insert(Key::String(Arc::new(k.clone())), to_cel(v, None, false));
            }
        }
    } else {
        let values = s.additional_properties.as_ref().and_then(|a| a.schema.as_deref());
        for (k, v) in map {
            out.insert(Key::String(Arc::new(k.clone())), to_cel(v, values, false));
        }
    }
    Cel::Map(CelMap { map: Arc::new(out) })
}

/// `oldSelf` as the rules compare it: upstream's `==` ignores the order of `set` lists and of
/// `map` lists (items matched by their keys), the crate's does not; so where an old list holds
/// the new list's items (or keys) in another order, it is put in the new list's order, at any
/// depth.
fn aligned(new: &Value, old: &Value, s: &Node) -> Value {
    match (new, old) {
        (Value::Object(new), Value::Object(old)) => {
            let values = s.additional_properties.as_ref().and_then(|a| a.schema.as_deref());
            let out = old
                .iter()
                .map(|(k, o)| {
                    let schema = s.properties.get(k).or(values);
                    let v = match (new.get(k), schema) {
                        (Some(n), Some(schema)) => aligned(n, o, schema),
                        _ => o.clone(),
                    };
                    (k.clone(), v)
                })
                .collect();
            Value::Object(out)
        }
        (Value::Array(new), Value::Array(old)) if new.len() == old.len() => {
            let Some(items) = s.items.as_deref() else { return Value::Array(old.clone()) };
            let reordered: Option<Vec<&Value>> = match s.list_type.as_deref() {
                Some("set") => {
                    let mut left: Vec<&Value> = old.iter().collect();
                    new.iter()
                        .map(|n| {
                            let at = left.iter().position(|o| *o == n)?;
                            Some(left.swap_remove(at))
                        })
                        .collect()
                }
                Some("map") => (0..new.len()).map(|i| correlate_item(s, new, old, i)).collect(),
                _ => None,
            };
            let reordered = reordered.filter(|r| {
                // Each old item is used once.
                r.iter().enumerate().all(|(i, a)| r[..i].iter().all(|b| !std::ptr::eq(*a, *b)))
            });
            match reordered {
                Some(r) => {
                    Value::Array(r.iter().zip(new).map(|(o, n)| aligned(n, o, items)).collect())
                }
                None => {
                    Value::Array(old.iter().zip(new).map(|(o, n)| aligned(n, o, items)).collect())
                }
            }
        }
        _ => old.clone(),
    }
}

// === Validator ===

/// The ratcheting state of the walk (`ratchetingOptions`): the correlation of the current node
/// and of its nearest correlatable ancestor. A rule's failure (not a transition rule's) is
/// dropped when the correlated value equals its old value (`shouldRatchetError`; upstream
/// turns it into a warning).
#[derive(Clone, Copy, Default)]
struct Ratchet<'a> {
    current: Option<Correlated<'a>>,
    nearest_parent: Option<Correlated<'a>>,
}

/// One `CorrelatedObject`: a value, its old value, and the schema that correlates children.
#[derive(Clone, Copy)]
struct Correlated<'a> {
    schema: &'a Node,
    new: &'a Value,
    old: &'a Value,
}

impl<'a> Correlated<'a> {
    /// `CorrelatedObject.Key`.
    fn key(self, field: &str) -> Option<Correlated<'a>> {
        let new = self.new.as_object()?.get(field)?;
        let old = self.old.as_object()?.get(field)?;
        let schema = match self.schema.properties.get(field) {
            Some(prop) => prop,
            None => self.schema.additional_properties.as_ref()?.schema.as_deref()?,
        };
        Some(Correlated { schema, new, old })
    }

    /// `CorrelatedObject.Index`.
    fn index(self, i: usize) -> Option<Correlated<'a>> {
        let (Value::Array(new), Value::Array(old)) = (self.new, self.old) else { return None };
        let old = correlate_item(self.schema, new, old, i)?;
        Some(Correlated { schema: self.schema.items.as_deref()?, new: new.get(i)?, old })
    }
}

impl<'a> Ratchet<'a> {
    /// `ratchetingOptions.key`.
    fn key(self, field: &str) -> Ratchet<'a> {
        let Some(current) = self.current else { return self };
        if self.nearest_parent.is_none() && (field == "apiVersion" || field == "kind") {
            return Ratchet::default();
        }
        Ratchet { current: current.key(field), nearest_parent: Some(current) }
    }

    /// `ratchetingOptions.index`.
    fn index(self, i: usize) -> Ratchet<'a> {
        let Some(current) = self.current else { return self };
        Ratchet { current: current.index(i), nearest_parent: Some(current) }
    }

    /// `shouldRatchetError`.
    fn should_ratchet(self) -> bool {
        self.current.or(self.nearest_parent).is_some_and(|c| ratchet_equal(c.schema, c.new, c.old))
    }
}

/// Runs every rule of the schema under `root` against `object` (`Validator.Validate`), with
/// `old` the stored object on an update (transition rules run, and failures of other rules
/// under unchanged values are ratcheted away).
pub(super) fn validate(errs: &mut Errors, root: &Node, object: &Value, old: Option<&Value>) {
    if !root.any_cel_rules() {
        return;
    }
    let context = library::shared_context();
    let ratchet = match old {
        Some(old) => Ratchet {
            current: Some(Correlated { schema: root, new: object, old }),
            nearest_parent: None,
        },
        None => Ratchet::default(),
    };
    let mut walk = Walk { context, errs };
    walk.node(root, "", object, old, ratchet, true);
}

struct Walk<'e> {
    context: &'static Context<'static, 'static>,
    errs: &'e mut Errors,
}

impl Walk<'_> {
    /// `Validator.validate`: the node's rules, its `allOf` rules, then its children.
    fn node(
        &mut self,
        s: &Node,
        path: &str,
        obj: &Value,
        old: Option<&Value>,
        ratchet: Ratchet<'_>,
        resource_root: bool,
    ) {
        if obj.is_null() {
            return;
        }
        let old = old.filter(|o| !o.is_null());
        self.expressions(s, &s.rules, path, obj, old, ratchet, resource_root);
        for all_of in &s.all_of {
            let ratchet = Ratchet { current: None, nearest_parent: ratchet.nearest_parent };
            self.expressions(s, &all_of.rules, path, obj, old, ratchet, resource_root);
        }
        match obj {
            Value::Array(items) => {
                let Some(item_schema) = s.items.as_deref() else { return };
                for (i, item) in items.iter().enumerate() {
                    let old_item = match (s.list_type.as_deref(), old) {
                        (Some("map"), Some(Value::Array(old))) => correlate_item(s, items, old, i),
                        _ => None,
                    };
                    let at = format!("{path}[{i}]");
                    let embedded = item_schema.embedded_resource;
                    self.node(item_schema, &at, item, old_item, ratchet.index(i), embedded);
                }
            }
            Value::Object(map) => {
                let old_map = old.and_then(Value::as_object);
                if let Some(Some(values)) =
                    s.additional_properties.as_ref().map(|a| a.schema.as_deref())
                    && s.properties.is_empty()
                {
                    for (k, v) in map {
                        let old_v = old_map.and_then(|o| o.get(k));
                        let at = format!("{path}[{k}]");
                        let embedded = values.embedded_resource;
                        self.node(values, &at, v, old_v, ratchet.key(k), embedded);
                    }
                }
                for (k, prop) in &s.properties {
                    let Some(v) = map.get(k) else { continue };
                    let old_v = old_map.and_then(|o| o.get(k));
                    let at = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                    let embedded = prop.embedded_resource;
                    self.node(prop, &at, v, old_v, ratchet.key(k), embedded);
                }
            }
            _ => {}
        }
    }

    /// `validateExpressions`: the rules declared on one node.
    #[allow(clippy::too_many_arguments)]
    fn expressions(
        &mut self,
        s: &Node,
        rules: &[Rule],
        path: &str,
        obj: &Value,
        old: Option<&Value>,
        ratchet: Ratchet<'_>,
        resource_root: bool,
    ) {
        if rules.is_empty() {
            return;
        }
        let field = if path.is_empty() { NIL_PATH } else { path };
        let type_name = type_name(s);
        let self_value = to_cel(obj, Some(s), resource_root);
        let uses_old = rules.iter().any(|r| r.uses_old_self || r.optional_old_self == Some(true));
        let old_value =
            old.filter(|_| uses_old).map(|o| to_cel(&aligned(obj, o, s), Some(s), resource_root));
        for rule in rules {
            let program = match &rule.program {
                None => continue,
                Some(Err(detail)) => {
                    let detail = format!("rule compile error: {detail}");
                    self.errs.invalid(field, type_name, &detail);
                    continue;
                }
                Some(Ok(program)) => program,
            };
            let optional = rule.optional_old_self == Some(true);
            if rule.uses_old_self && old_value.is_none() && !optional {
                // Transition rules run only where there is a correlated old value.
                continue;
            }
            let mut scope = self.context.new_inner_scope();
            scope.add_variable_from_value("self", self_value.clone());
            if rule.uses_old_self || optional {
                let old_self = match (&old_value, optional) {
                    (Some(o), false) => o.clone(),
                    (o, true) => library::optional(o.clone()),
                    (None, false) => Cel::Null,
                };
                scope.add_variable_from_value("oldSelf", old_self);
            }
            let result = match library::run(program, &scope) {
                Err(e) => {
                    let detail = runtime_error(&e, rule);
                    self.errs.invalid(field, type_name, &detail);
                    continue;
                }
                Ok(result) => result,
            };
            if result == Cel::Bool(true) {
                continue;
            }
            if !rule.uses_old_self && ratchet.should_ratchet() {
                continue;
            }
            let at = match &rule.normalized_field_path {
                Some(p) if path.is_empty() => p.clone(),
                Some(p) => format!("{path}.{p}"),
                None => field.to_owned(),
            };
            let detail = self
                .message_expression(rule, obj, old_value.as_ref(), s, resource_root)
                .unwrap_or_else(|| rule.message_or_default());
            match rule.reason.as_deref() {
                Some("FieldValueForbidden") => self.errs.forbidden(&at, &detail),
                Some("FieldValueRequired") => self.errs.required(&at, &detail),
                Some("FieldValueDuplicate") => self.errs.duplicate(&at, type_name),
                _ => self.errs.invalid(&at, type_name, &detail),
            }
        }
    }

    /// `evalMessageExpression`: the message, or `None` when it fails (upstream then logs and
    /// uses the rule's message).
    fn message_expression(
        &self,
        rule: &Rule,
        obj: &Value,
        old_value: Option<&Cel>,
        s: &Node,
        resource_root: bool,
    ) -> Option<String> {
        let Some(Ok(program)) = &rule.message_program else { return None };
        let mut scope = self.context.new_inner_scope();
        scope.add_variable_from_value("self", to_cel(obj, Some(s), resource_root));
        if let Some(old) = old_value {
            scope.add_variable_from_value("oldSelf", old.clone());
        }
        let Ok(Cel::String(message)) = library::run(program, &scope) else { return None };
        let trimmed = message.trim();
        let fits = !trimmed.is_empty()
            && trimmed.len() <= MAX_MESSAGE_EXPRESSION_BYTES
            && !trimmed.contains('\n');
        fits.then(|| trimmed.to_owned())
    }
}

/// The detail of a rule whose evaluation failed, as `validateExpressions` words it: `'no such
/// overload': call arguments did not match a supported operator, function or macro signature
/// for rule: <rule>` for an overload error, else `<error> evaluating rule: <rule>`.
fn runtime_error(e: &ExecutionError, rule: &Rule) -> String {
    let message = library::error_message(e);
    if message.starts_with("no such overload") {
        format!(
            "'{message}': call arguments did not match a supported operator, function or macro \
             signature for rule: {}",
            rule.error_string()
        )
    } else {
        format!("{message} evaluating rule: {}", rule.error_string())
    }
}

/// `%#v` of the internal `apiextensions.ValidationRule`, as CRD validation shows a rule that
/// does not compile. Go prints a set pointer as its address, which no port can reproduce; a
/// fixed placeholder stands in.
pub(crate) fn go_rule(raw: &Value) -> Shown {
    let text = |f: &str| go_quote(raw.get(f).and_then(Value::as_str).unwrap_or(""));
    let pointer = |f: &str, ty: &str| {
        if raw.get(f).is_some_and(|v| !v.is_null()) {
            format!("(*{ty})(0xc000000000)")
        } else {
            format!("(*{ty})(nil)")
        }
    };
    Shown::Raw(format!(
        "apiextensions.ValidationRule{{Rule:{}, Message:{}, MessageExpression:{}, Reason:{}, \
         FieldPath:{}, OptionalOldSelf:{}}}",
        text("rule"),
        text("message"),
        text("messageExpression"),
        pointer("reason", "apiextensions.FieldValueErrorReason"),
        text("fieldPath"),
        pointer("optionalOldSelf", "bool"),
    ))
}
