//! Server-side printing of custom resources: apiextensions-apiserver's
//! `registry/customresource/tableconvertor` (`New`, `ConvertToTable`, `cellForJSONValue`) with
//! the CRD version's `additionalPrinterColumns`, or the default `Age` column
//! (`serveDefaultColumnsIfEmpty`) when there are none.

use serde_json::{Map, Value, json};

use super::gofmt::{GoNumber, sprint};
use super::jsonpath::JsonPath;
use crate::metatime;
use crate::table::{AGE_DESC, IncludeObject, NAME_DESC, human_duration};

/// One CRD version's table columns.
#[derive(Debug, Clone)]
pub struct Columns {
    columns: Vec<Column>,
}

#[derive(Debug, Clone)]
struct Column {
    name: String,
    type_: String,
    format: String,
    description: String,
    priority: i64,
    /// `None`: a path this port does not evaluate; its cells are null.
    path: Option<JsonPath>,
}

impl Columns {
    /// From `spec.versions[i].additionalPrinterColumns`; `None` or empty gives the default
    /// `Age` column (`.metadata.creationTimestamp`, type `date`). An entry without a `name` is
    /// skipped.
    pub fn new(additional_printer_columns: Option<&Value>) -> Columns {
        let entries =
            additional_printer_columns.and_then(Value::as_array).filter(|a| !a.is_empty());
        let Some(entries) = entries else {
            return Columns {
                columns: vec![Column {
                    name: "Age".to_owned(),
                    type_: "date".to_owned(),
                    format: String::new(),
                    description: AGE_DESC.to_owned(),
                    priority: 0,
                    path: JsonPath::parse("{.metadata.creationTimestamp}"),
                }],
            };
        };
        let columns = entries
            .iter()
            .filter_map(|entry| {
                let text = |k: &str| entry.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
                let name = entry.get("name").and_then(Value::as_str)?.to_owned();
                let json_path = text("jsonPath");
                let description = match entry.get("description").and_then(Value::as_str) {
                    Some(d) if !d.is_empty() => d.to_owned(),
                    _ => format!(
                        "Custom resource definition column (in JSONPath format): {json_path}"
                    ),
                };
                Some(Column {
                    name,
                    type_: text("type"),
                    format: text("format"),
                    description,
                    priority: entry.get("priority").and_then(Value::as_i64).unwrap_or(0),
                    path: JsonPath::parse(&format!("{{{json_path}}}")),
                })
            })
            .collect();
        Columns { columns }
    }

    /// The `meta.k8s.io/v1` `TableColumnDefinition`s: `Name` (format `name`), then the columns.
    pub fn definitions(&self) -> Vec<Value> {
        let mut out = vec![json!({
            "name": "Name",
            "type": "string",
            "format": "name",
            "description": NAME_DESC,
            "priority": 0,
        })];
        out.extend(self.columns.iter().map(|c| {
            json!({
                "name": c.name,
                "type": c.type_,
                "format": c.format,
                "description": c.description,
                "priority": c.priority,
            })
        }));
        out
    }

    /// One row's cells: the name, then each column's first JSONPath result (as upstream, which
    /// assumes simple paths and prints only `results[0][0]`), formatted per the column's type;
    /// null when the path finds nothing or fails.
    pub fn cells(&self, object: &Value, now_unix_seconds: i64) -> Vec<Value> {
        let name = object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("");
        let mut cells = vec![Value::from(name)];
        for column in &self.columns {
            let found = column.path.as_ref().and_then(|p| p.find(object));
            let value = match found.as_deref() {
                Some([first, ..]) => *first,
                _ => {
                    cells.push(Value::Null);
                    continue;
                }
            };
            cells.push(if column.type_ == "string" {
                // The jsonpath printer (`PrintResults` of the one value).
                match value {
                    Value::Null => Value::from("<no value>"),
                    other => Value::from(sprint(other)),
                }
            } else {
                cell_for_json_value(&column.type_, value, now_unix_seconds)
            });
        }
        cells
    }

    /// A complete `meta.k8s.io/v1` `Table` of `objects`, one row each, in the same envelope as
    /// [`crate::table::table`]: `metadata.resourceVersion` (unless empty), the column
    /// definitions, and rows of `cells` and `object` per `include_object`.
    pub fn table(
        &self,
        objects: Vec<Value>,
        resource_version: &str,
        include_object: IncludeObject,
        now_unix_seconds: i64,
    ) -> Value {
        let rows: Vec<Value> = objects
            .into_iter()
            .map(|object| {
                let mut row = Map::new();
                row.insert("cells".into(), Value::Array(self.cells(&object, now_unix_seconds)));
                let object = match include_object {
                    IncludeObject::None => Value::Null,
                    // A stored custom resource always has its kind and apiVersion.
                    IncludeObject::Object => object,
                    IncludeObject::Metadata => crate::table::partial_object_metadata(object),
                };
                row.insert("object".into(), object);
                Value::Object(row)
            })
            .collect();
        crate::table::envelope(self.definitions(), rows, resource_version)
    }
}

/// `cellForJSONValue`: an `integer` (a float truncated), a `number`, a `boolean`, a `string`,
/// or a `date` printed as the age relative to `now` (`<invalid>` when it does not parse,
/// `<unknown>` for an empty or zero time); null for anything else.
fn cell_for_json_value(type_: &str, value: &Value, now: i64) -> Value {
    match (type_, value) {
        ("integer", Value::Number(n)) => match GoNumber::of(n) {
            GoNumber::Int(i) => Value::from(i),
            // Go's int64(f): truncation (saturating here).
            GoNumber::Float(f) => Value::from(f as i64),
        },
        ("number", Value::Number(n)) => match GoNumber::of(n) {
            GoNumber::Int(i) => float_cell(i as f64),
            GoNumber::Float(f) => float_cell(f),
        },
        ("boolean", Value::Bool(b)) => Value::Bool(*b),
        ("string", Value::String(s)) => Value::from(s.as_str()),
        ("date", Value::String(s)) => {
            if s.is_empty() || s == "null" {
                return Value::from("<unknown>");
            }
            match metatime::unix_seconds(s) {
                None => Value::from("<invalid>"),
                Some(t) if t == metatime::ZERO_UNIX => Value::from("<unknown>"),
                Some(t) => Value::from(human_duration(now - t)),
            }
        }
        _ => Value::Null,
    }
}

/// A `float64` cell as Go's JSON encoder writes it: integral values without a fraction.
fn float_cell(f: f64) -> Value {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        Value::from(f as i64)
    } else {
        serde_json::Number::from_f64(f).map(Value::Number).unwrap_or(Value::Null)
    }
}
