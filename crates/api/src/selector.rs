//! Label and field selectors: parsing (`labels.Parse`, `fields.ParseSelector`) and matching.
//!
//! Label selectors take `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k` and `!k`,
//! joined by commas; field selectors take `path=v`, `path==v` and `path!=v`. A parse error is a
//! message for a 400 Bad Request.

use std::collections::BTreeMap;

use serde_json::Value;

/// Whether a `metav1.LabelSelector` object (`matchLabels`, `matchExpressions`) matches
/// `labels`; the empty selector matches everything, an unknown operator nothing.
pub fn label_selector_matches(selector: &Value, labels: &serde_json::Map<String, Value>) -> bool {
    crate::validation::meta::selector_matches(selector, labels)
}

/// A parsed label selector; the empty selector matches everything.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    DoesNotExist(String),
}

impl LabelSelector {
    pub fn parse(text: &str) -> Result<LabelSelector, String> {
        let mut requirements = Vec::new();
        for clause in split_top_level(text) {
            let clause = clause.trim();
            if clause.is_empty() {
                continue;
            }
            requirements.push(parse_requirement(clause)?);
        }
        Ok(LabelSelector { requirements })
    }

    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.requirements.iter().all(|r| match r {
            Requirement::Equals(k, v) => labels.get(k) == Some(v),
            Requirement::NotEquals(k, v) => labels.get(k) != Some(v),
            Requirement::In(k, vs) => labels.get(k).is_some_and(|l| vs.contains(l)),
            Requirement::NotIn(k, vs) => labels.get(k).is_none_or(|l| !vs.contains(l)),
            Requirement::Exists(k) => labels.contains_key(k),
            Requirement::DoesNotExist(k) => !labels.contains_key(k),
        })
    }

    /// Matches an object's `metadata.labels`.
    pub fn matches_object(&self, object: &Value) -> bool {
        self.is_empty() || self.matches(&labels_of(object))
    }
}

/// An object's `metadata.labels`.
pub fn labels_of(object: &Value) -> BTreeMap<String, String> {
    object
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|labels| {
            labels
                .iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

/// Commas outside parentheses separate clauses.
fn split_top_level(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

fn parse_requirement(clause: &str) -> Result<Requirement, String> {
    if let Some(key) = clause.strip_prefix('!') {
        return Ok(Requirement::DoesNotExist(check_key(key.trim())?));
    }
    if let Some((key, value)) = clause.split_once("!=") {
        return Ok(Requirement::NotEquals(check_key(key.trim())?, check_value(value.trim())?));
    }
    if let Some((key, value)) = clause.split_once("==").or_else(|| clause.split_once('=')) {
        return Ok(Requirement::Equals(check_key(key.trim())?, check_value(value.trim())?));
    }
    let words: Vec<&str> = clause.splitn(2, char::is_whitespace).collect();
    if let [key, rest] = words.as_slice() {
        let rest = rest.trim();
        let (op, set) = if let Some(set) = rest.strip_prefix("notin") {
            ("notin", set)
        } else if let Some(set) = rest.strip_prefix("in") {
            ("in", set)
        } else {
            return Err(format!("unable to parse requirement: {clause:?}"));
        };
        let set = set.trim();
        let Some(inner) = set.strip_prefix('(').and_then(|s| s.strip_suffix(')')) else {
            return Err(format!("unable to parse requirement: {clause:?}: expected a set in ()"));
        };
        let values =
            inner.split(',').map(|v| check_value(v.trim())).collect::<Result<Vec<_>, _>>()?;
        let key = check_key(key)?;
        return Ok(if op == "in" {
            Requirement::In(key, values)
        } else {
            Requirement::NotIn(key, values)
        });
    }
    Ok(Requirement::Exists(check_key(clause)?))
}

fn check_key(key: &str) -> Result<String, String> {
    let valid = !key.is_empty()
        && key.len() <= 317
        && key.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'));
    if valid { Ok(key.to_owned()) } else { Err(format!("invalid label key {key:?}")) }
}

fn check_value(value: &str) -> Result<String, String> {
    let valid = value.len() <= 63
        && value.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if valid { Ok(value.to_owned()) } else { Err(format!("invalid label value {value:?}")) }
}

/// A parsed field selector.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FieldSelector {
    terms: Vec<(String, bool, String)>,
}

impl FieldSelector {
    pub fn parse(text: &str) -> Result<FieldSelector, String> {
        let mut terms = Vec::new();
        for clause in text.split(',').map(str::trim).filter(|c| !c.is_empty()) {
            let (field, equal, value) = if let Some((f, v)) = clause.split_once("!=") {
                (f, false, v)
            } else if let Some((f, v)) = clause.split_once("==").or_else(|| clause.split_once('='))
            {
                (f, true, v)
            } else {
                return Err(format!("invalid selector: {clause:?}; can't understand {clause:?}"));
            };
            terms.push((field.trim().to_owned(), equal, value.trim().to_owned()));
        }
        Ok(FieldSelector { terms })
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// The fields selected on, to check against what a resource supports.
    pub fn fields(&self) -> impl Iterator<Item = &str> {
        self.terms.iter().map(|(f, _, _)| f.as_str())
    }

    /// Matches `object`, reading each field by its JSON path (`spec.nodeName` →
    /// `/spec/nodeName`); a missing field reads as the empty string, as in Kubernetes.
    pub fn matches(&self, object: &Value) -> bool {
        self.terms.iter().all(|(field, equal, value)| {
            if field == "source" && object.get("kind").and_then(Value::as_str) == Some("Event") {
                return (event_source(object) == *value) == *equal;
            }
            let pointer = format!("/{}", field.replace('.', "/"));
            let actual = match object.pointer(&pointer) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None => String::new(),
                Some(other) => other.to_string(),
            };
            (actual == *value) == *equal
        })
    }
}

/// An Event's selectable `source` (core/v1 or events.k8s.io/v1 form): its source component,
/// else its reporting controller (the Event strategy's `ToSelectableFields`).
fn event_source(event: &Value) -> &str {
    let text = |pointer: &str| event.pointer(pointer).and_then(Value::as_str).unwrap_or_default();
    let component = match text("/source/component") {
        "" => text("/deprecatedSource/component"),
        component => component,
    };
    match component {
        "" => match text("/reportingComponent") {
            "" => text("/reportingController"),
            reporting => reporting,
        },
        component => component,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn label_selectors_match_like_kubernetes() {
        let web = labels(&[("app", "nginx"), ("tier", "web")]);
        let cases = [
            ("", true),
            ("app=nginx", true),
            ("app==nginx", true),
            ("app!=nginx", false),
            ("app=nginx,tier=db", false),
            ("tier in (web,db)", true),
            ("tier notin (web,db)", false),
            ("tier in (db), app", false),
            ("app", true),
            ("!app", false),
            ("!missing", true),
            ("missing!=x", true),
            ("missing notin (x)", true),
            ("missing in (x)", false),
            ("app=nginx,tier in (a,web),!gone", true),
        ];
        for (selector, expected) in cases {
            let parsed = LabelSelector::parse(selector).unwrap();
            assert_eq!(parsed.matches(&web), expected, "{selector}");
        }
    }

    #[test]
    fn bad_label_selectors_are_errors() {
        for bad in ["app=ngi nx", "tier in web", "a b c", "=x", "k in (a,b"] {
            assert!(LabelSelector::parse(bad).is_err(), "{bad} should not parse");
        }
    }

    #[test]
    fn field_selectors_read_json_paths() {
        let pod = json!({"metadata": {"name": "web-0", "namespace": "s"}, "spec": {"nodeName": "n1"},
                         "status": {"phase": "Running"}});
        let matches = |s: &str| FieldSelector::parse(s).unwrap().matches(&pod);
        assert!(matches("metadata.name=web-0"));
        assert!(matches("metadata.name==web-0,status.phase=Running"));
        assert!(!matches("metadata.name!=web-0"));
        assert!(matches("spec.nodeName!=n2"));
        assert!(matches("spec.schedulerName="));
        assert!(FieldSelector::parse("metadata.name").is_err());
    }
}
