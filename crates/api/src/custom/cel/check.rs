//! The part of cel-go's type checker ([`check`]) a rule needs most when its CRD is written:
//! every identifier is declared (`self`, `oldSelf`, a macro's variables, a type name), every
//! function exists, and a field selected on an object the schema describes is one of its
//! (escaped) properties. The
//! messages are cel-go's (`undeclared reference to 'x' (in container '')`, `undefined field
//! 'x'`); what cel-go infers beyond that (overloads, result types) is not checked.

use cel::common::ast::{EntryExpr, Expr, IdedExpr, LiteralValue};

use super::escape;
use crate::custom::schema::Node;

/// Identifiers that need no declaration: cel-go's type names and function namespaces.
const PREDECLARED: &[&str] = &[
    "int",
    "uint",
    "double",
    "bool",
    "string",
    "bytes",
    "list",
    "map",
    "null_type",
    "type",
    "dyn",
    "timestamp",
    "duration",
    "optional",
    "format",
    "strings",
    "math",
    "sets",
    "lists",
    "google",
];

/// Functions of the `cel` crate's standard library that rules use most, known without asking
/// the probe context (which is slow to build).
const STANDARD: &[&str] = &[
    "size",
    "contains",
    "startsWith",
    "endsWith",
    "matches",
    "int",
    "uint",
    "double",
    "string",
    "bytes",
    "bool",
    "dyn",
    "type",
    "timestamp",
    "duration",
    "getDate",
    "getDayOfMonth",
    "getDayOfWeek",
    "getDayOfYear",
    "getFullYear",
    "getHours",
    "getMilliseconds",
    "getMinutes",
    "getMonth",
    "getSeconds",
    "optional.none",
    "optional.of",
    "hasValue",
    "value",
];

/// What the checker knows of a value's type.
#[derive(Clone, Copy)]
enum Ty<'a> {
    /// A value under this schema node (`resource`: it also has `apiVersion`, `kind`, and a
    /// `metadata` with `name` and `generateName`).
    Node(&'a Node, bool),
    /// The `metadata` of a resource: only `name` and `generateName` are declared.
    Metadata,
    /// Anything else: not checked.
    Dyn,
}

/// What [`check`] found wrong.
#[derive(Debug, PartialEq)]
pub(super) enum Problem {
    /// A checker error: the byte offset it is reported at, and its message.
    At(usize, String),
    /// A rule whose result is surely not a `bool` (a literal, arithmetic, a non-boolean field):
    /// upstream's `cel expression must evaluate to a bool`.
    NotBool,
}

/// The first problem of `expr` (the parsed `source`) as cel-go's checker would report it;
/// `rule`: the expression is a rule, which must evaluate to a `bool`.
pub(super) fn check(
    source: &str,
    expr: &IdedExpr,
    node: &Node,
    resource_root: bool,
    rule: bool,
) -> Option<Problem> {
    let mut scope = vec!["self".to_owned(), "oldSelf".to_owned()];
    let mut checker = Checker { probe: None, source, node, resource_root, problem: None };
    let ty = checker.expr(expr, &mut scope);
    if let Some((offset, message)) = checker.problem {
        return Some(Problem::At(offset, message));
    }
    (rule && surely_not_bool(expr, ty)).then_some(Problem::NotBool)
}

/// Whether an expression of this form and known type cannot be a `bool`.
fn surely_not_bool(expr: &IdedExpr, ty: Ty<'_>) -> bool {
    const NOT_BOOL: &[&str] =
        &["_+_", "_-_", "_*_", "_/_", "_%_", "-_", "size", "string", "int", "uint", "double"];
    match &expr.expr {
        Expr::Literal(literal) => !matches!(literal, LiteralValue::Boolean(_)),
        Expr::List(_) | Expr::Map(_) => true,
        Expr::Call(call) => NOT_BOOL.contains(&call.func_name.as_str()),
        Expr::Ident(_) | Expr::Select(_) => match ty {
            Ty::Node(s, _) => matches!(s.types.as_slice(), [t] if t != "boolean"),
            Ty::Metadata | Ty::Dyn => false,
        },
        _ => false,
    }
}

struct Checker<'a> {
    /// A context with the standard library only, asked whether a function exists; built when
    /// first needed.
    probe: Option<cel::Context<'static, 'static>>,
    source: &'a str,
    node: &'a Node,
    resource_root: bool,
    problem: Option<(usize, String)>,
}

impl<'a> Checker<'a> {
    /// Whether `name` is an operator, a function of the standard library (the probe context
    /// refuses to add a function by that name) or one of [`super::library`]'s.
    fn known_function(&mut self, name: &str) -> bool {
        if name.starts_with('_') || name.starts_with('@') || name.ends_with('_') {
            return true;
        }
        if STANDARD.contains(&name) || super::library::FUNCTIONS.contains(&name) {
            return true;
        }
        if let Some(format) = name.strip_prefix("format.") {
            return format == "named" || super::library::FORMATS.contains(&format);
        }
        let probe = self.probe.get_or_insert_with(cel::Context::default);
        probe.add_function(name, || true).is_err()
    }

    fn report(&mut self, offset: usize, message: String) {
        if self.problem.is_none() {
            self.problem = Some((offset, message));
        }
    }

    /// Walks `e`, returning what is known of its type.
    fn expr(&mut self, e: &IdedExpr, scope: &mut Vec<String>) -> Ty<'a> {
        if self.problem.is_some() {
            return Ty::Dyn;
        }
        match &e.expr {
            Expr::Ident(name) => {
                // `self` and `oldSelf` are the first two entries; a macro variable may shadow them.
                if let Some(at) = scope.iter().rposition(|s| s == name) {
                    return if at < 2 { Ty::Node(self.node, self.resource_root) } else { Ty::Dyn };
                }
                if !PREDECLARED.contains(&name.as_str()) {
                    let offset = find_word(self.source, name).unwrap_or(0);
                    let message = format!("undeclared reference to '{name}' (in container '')");
                    self.report(offset, message);
                }
                Ty::Dyn
            }
            Expr::Select(select) => {
                let operand = self.expr(&select.operand, scope);
                self.select(operand, &select.field)
            }
            Expr::Call(call) => {
                // A namespaced function (`optional.none()`, `strings.quote(…)`) has its namespace
                // as target.
                let namespaced = matches!(
                    call.target.as_deref().map(|t| &t.expr),
                    Some(Expr::Ident(n)) if PREDECLARED.contains(&n.as_str()) && !scope.iter().any(|s| s == n)
                );
                let target = match &call.target {
                    Some(t) if !namespaced => self.expr(t, scope),
                    _ => Ty::Dyn,
                };
                let name = match (namespaced, call.target.as_deref().map(|t| &t.expr)) {
                    (true, Some(Expr::Ident(ns))) => format!("{ns}.{}", call.func_name),
                    _ => call.func_name.clone(),
                };
                if !self.known_function(&name) {
                    let at = self.source.find(&format!("{}(", call.func_name));
                    let offset = at.map_or(0, |i| i + call.func_name.len());
                    let message = format!("undeclared reference to '{name}' (in container '')");
                    self.report(offset, message);
                }
                let args: Vec<Ty<'a>> = call.args.iter().map(|a| self.expr(a, scope)).collect();
                match (call.func_name.as_str(), args.as_slice()) {
                    ("_[_]", [Ty::Node(s, _), _]) => item_of(s),
                    ("value" | "orValue", _) => target,
                    _ => Ty::Dyn,
                }
            }
            Expr::Comprehension(c) => {
                let range = self.expr(&c.iter_range, scope);
                let _ = range;
                self.expr(&c.accu_init, scope);
                let base = scope.len();
                scope.push(c.iter_var.clone());
                if let Some(v2) = &c.iter_var2 {
                    scope.push(v2.clone());
                }
                scope.push(c.accu_var.clone());
                self.expr(&c.loop_cond, scope);
                self.expr(&c.loop_step, scope);
                self.expr(&c.result, scope);
                scope.truncate(base);
                Ty::Dyn
            }
            Expr::List(list) => {
                for element in &list.elements {
                    self.expr(element, scope);
                }
                Ty::Dyn
            }
            Expr::Map(map) => {
                for entry in &map.entries {
                    if let EntryExpr::MapEntry(entry) = &entry.expr {
                        self.expr(&entry.key, scope);
                        self.expr(&entry.value, scope);
                    }
                }
                Ty::Dyn
            }
            Expr::Struct(s) => {
                for entry in &s.entries {
                    if let EntryExpr::StructField(field) = &entry.expr {
                        self.expr(&field.value, scope);
                    }
                }
                Ty::Dyn
            }
            _ => Ty::Dyn,
        }
    }

    /// `operand.field`: an undefined field of a described object is an error.
    fn select(&mut self, operand: Ty<'a>, field: &str) -> Ty<'a> {
        match operand {
            Ty::Node(s, resource) => {
                if !s.properties.is_empty() || resource {
                    for (name, prop) in &s.properties {
                        if escape(name).as_deref() == Some(field) {
                            return Ty::Node(prop, prop.embedded_resource);
                        }
                    }
                    if resource {
                        match field {
                            "apiVersion" | "kind" => return Ty::Dyn,
                            "metadata" => return Ty::Metadata,
                            _ => {}
                        }
                    }
                    if s.properties.is_empty() && s.preserve_unknown_fields {
                        return Ty::Dyn;
                    }
                    self.undefined(field);
                    Ty::Dyn
                } else if let Some(additional) = &s.additional_properties {
                    match additional.schema.as_deref() {
                        Some(values) => Ty::Node(values, values.embedded_resource),
                        None => Ty::Dyn,
                    }
                } else {
                    Ty::Dyn
                }
            }
            Ty::Metadata => {
                if field != "name" && field != "generateName" {
                    self.undefined(field);
                }
                Ty::Dyn
            }
            Ty::Dyn => Ty::Dyn,
        }
    }

    fn undefined(&mut self, field: &str) {
        let offset = self.source.find(&format!(".{field}")).unwrap_or(0);
        self.report(offset, format!("undefined field '{field}'"));
    }
}

/// The type of `s[…]`: a list's items or a map's values.
fn item_of(s: &Node) -> Ty<'_> {
    if let Some(items) = s.items.as_deref() {
        return Ty::Node(items, items.embedded_resource);
    }
    match s.additional_properties.as_ref().and_then(|a| a.schema.as_deref()) {
        Some(values) if s.properties.is_empty() => Ty::Node(values, values.embedded_resource),
        _ => Ty::Dyn,
    }
}

/// The byte offset of the first occurrence of `word` as a whole identifier outside quotes.
fn find_word(source: &str, word: &str) -> Option<usize> {
    let bytes = source.as_bytes();
    let is_ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut quote: Option<u8> = None;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match quote {
            Some(q) => {
                if b == b'\\' {
                    i += 1;
                } else if b == q {
                    quote = None;
                }
            }
            None if b == b'\'' || b == b'"' => quote = Some(b),
            None => {
                if source.get(i..).is_some_and(|rest| rest.starts_with(word))
                    && (i == 0 || !is_ident(bytes[i - 1]))
                    && bytes.get(i + word.len()).is_none_or(|b| !is_ident(*b))
                {
                    return Some(i);
                }
            }
        }
        i += 1;
    }
    None
}
