//! Field paths and sets of them, as structured-merge-diff's `fieldpath` package models them,
//! and their `FieldsV1` form in `metadata.managedFields` (`f:field`, `k:{"name":"x"}`,
//! `v:"value"`, `i:0`, and `.` for an element that is itself a member).

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Map, Value};

/// One step of a path. The order (fields, keys, values, indexes) is the order `FieldsV1`
/// lists them in.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Element {
    /// A field of a struct or a key of a map.
    Field(String),
    /// An item of a map list, by its keys: canonical JSON, keys sorted (`{"name":"nginx"}`).
    Key(String),
    /// An item of a set list, by its value (JSON).
    Value(String),
    /// An item of a list by position (only read, never produced).
    Index(usize),
}

impl Element {
    pub(crate) fn encode(&self) -> String {
        match self {
            Element::Field(name) => format!("f:{name}"),
            Element::Key(key) => format!("k:{key}"),
            Element::Value(value) => format!("v:{value}"),
            Element::Index(index) => format!("i:{index}"),
        }
    }

    fn decode(text: &str) -> Result<Element, String> {
        let invalid = || format!("invalid path element {text:?}");
        let (kind, rest) = text.split_once(':').ok_or_else(invalid)?;
        Ok(match kind {
            "f" => Element::Field(rest.to_owned()),
            "k" => {
                let key: Map<String, Value> = serde_json::from_str(rest).map_err(|_| invalid())?;
                Element::Key(canonical_key(key))
            }
            "v" => {
                let value: Value = serde_json::from_str(rest).map_err(|_| invalid())?;
                Element::Value(value.to_string())
            }
            "i" => Element::Index(rest.parse().map_err(|_| invalid())?),
            _ => return Err(invalid()),
        })
    }
}

/// The canonical text of a map-list key: its fields sorted by name, compact JSON.
pub(crate) fn canonical_key(fields: Map<String, Value>) -> String {
    let sorted: BTreeMap<String, Value> = fields.into_iter().collect();
    let map: Map<String, Value> = sorted.into_iter().collect();
    Value::Object(map).to_string()
}

/// How Kubernetes prints an element in conflict messages: `.spec`, `[name="nginx"]`, `[=x]`.
impl fmt::Display for Element {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Element::Field(name) => write!(f, ".{name}"),
            Element::Key(key) => {
                let fields: Map<String, Value> = serde_json::from_str(key).unwrap_or_default();
                let parts: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
                write!(f, "[{}]", parts.join(","))
            }
            Element::Value(value) => write!(f, "[={value}]"),
            Element::Index(index) => write!(f, "[{index}]"),
        }
    }
}

/// A path printed as Kubernetes prints it: `.spec.template.spec.containers[name="nginx"].image`.
pub fn display(path: &[Element]) -> String {
    path.iter().map(ToString::to_string).collect()
}

/// A set of paths, as a tree: each node is a member (the path itself is in the set), a parent
/// of members, or both.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Set {
    nodes: BTreeMap<Element, Node>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Node {
    member: bool,
    children: Set,
}

impl Node {
    fn is_empty(&self) -> bool {
        !self.member && self.children.is_empty()
    }
}

impl Set {
    pub fn new() -> Set {
        Set::default()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Adds a path; the empty path (the object itself) is never a member.
    pub fn insert(&mut self, path: &[Element]) {
        let Some((last, parents)) = path.split_last() else { return };
        let mut set = self;
        for element in parents {
            set = &mut set.node_mut(element).children;
        }
        set.node_mut(last).member = true;
    }

    /// The node of `element`, added if missing; the element is cloned only then (a path is
    /// inserted once per leaf, so its parents are mostly there already).
    fn node_mut(&mut self, element: &Element) -> &mut Node {
        if self.nodes.contains_key(element) {
            self.nodes.get_mut(element).expect("checked just above")
        } else {
            self.nodes.entry(element.clone()).or_default()
        }
    }

    /// Whether `path` itself is in the set.
    pub fn contains(&self, path: &[Element]) -> bool {
        self.node(path).is_some_and(|node| node.member)
    }

    /// Whether `path` or anything under it is in the set.
    pub fn covers(&self, path: &[Element]) -> bool {
        self.node(path).is_some()
    }

    fn node(&self, path: &[Element]) -> Option<&Node> {
        let (last, parents) = path.split_last()?;
        let mut set = self;
        for element in parents {
            set = &set.nodes.get(element)?.children;
        }
        set.nodes.get(last)
    }

    /// The subset under one element (empty if none).
    pub fn child(&self, element: &Element) -> Option<&Set> {
        self.nodes.get(element).map(|node| &node.children)
    }

    /// Whether `element` itself is a member.
    pub fn has_member(&self, element: &Element) -> bool {
        self.nodes.get(element).is_some_and(|node| node.member)
    }

    /// The elements directly under the root that lead to members.
    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.nodes.keys()
    }

    pub fn union(&mut self, other: &Set) {
        for (element, node) in &other.nodes {
            let mine = self.node_mut(element);
            mine.member |= node.member;
            mine.children.union(&node.children);
        }
    }

    pub fn difference(&self, other: &Set) -> Set {
        let mut nodes = BTreeMap::new();
        for (element, node) in &self.nodes {
            let kept = match other.nodes.get(element) {
                Some(theirs) => Node {
                    member: node.member && !theirs.member,
                    children: node.children.difference(&theirs.children),
                },
                None => node.clone(),
            };
            if !kept.is_empty() {
                nodes.insert(element.clone(), kept);
            }
        }
        Set { nodes }
    }

    /// [`Set::difference`] in place.
    pub fn subtract(&mut self, other: &Set) {
        if other.is_empty() {
            return;
        }
        self.nodes.retain(|element, node| {
            if let Some(theirs) = other.nodes.get(element) {
                node.member &= !theirs.member;
                node.children.subtract(&theirs.children);
            }
            !node.is_empty()
        });
    }

    pub fn intersection(&self, other: &Set) -> Set {
        let mut nodes = BTreeMap::new();
        for (element, node) in &self.nodes {
            if let Some(theirs) = other.nodes.get(element) {
                let kept = Node {
                    member: node.member && theirs.member,
                    children: node.children.intersection(&theirs.children),
                };
                if !kept.is_empty() {
                    nodes.insert(element.clone(), kept);
                }
            }
        }
        Set { nodes }
    }

    /// Removes a top-level field and everything under it.
    pub fn remove_field(&mut self, name: &str) {
        self.nodes.remove(&Element::Field(name.to_owned()));
    }

    /// Every member path, in order.
    pub fn paths(&self) -> Vec<Vec<Element>> {
        let mut out = Vec::new();
        self.collect(&mut Vec::new(), &mut out);
        out
    }

    fn collect(&self, prefix: &mut Vec<Element>, out: &mut Vec<Vec<Element>>) {
        for (element, node) in &self.nodes {
            prefix.push(element.clone());
            if node.member {
                out.push(prefix.clone());
            }
            node.children.collect(prefix, out);
            prefix.pop();
        }
    }

    /// The `FieldsV1` JSON of the set.
    pub fn to_fields_v1(&self) -> Value {
        let mut map = Map::new();
        for (element, node) in &self.nodes {
            let mut inner = node.children.to_fields_v1();
            if node.member
                && !node.children.is_empty()
                && let Value::Object(children) = &mut inner
            {
                let mut with_dot = Map::new();
                with_dot.insert(".".into(), Value::Object(Map::new()));
                with_dot.append(children);
                inner = Value::Object(with_dot);
            }
            map.insert(element.encode(), inner);
        }
        Value::Object(map)
    }

    /// Reads `FieldsV1` JSON.
    pub fn from_fields_v1(value: &Value) -> Result<Set, String> {
        let Value::Object(map) = value else {
            return Err("fieldsV1 must be a JSON object".into());
        };
        let mut set = Set::new();
        for (key, inner) in map {
            if key == "." {
                continue;
            }
            let element = Element::decode(key)?;
            let children = Set::from_fields_v1(inner)?;
            let inner_map = inner.as_object();
            let member = inner_map.is_some_and(|m| m.is_empty() || m.contains_key("."));
            let node = Node { member, children };
            if !node.is_empty() {
                set.nodes.insert(element, node);
            }
        }
        Ok(set)
    }
}

/// Whether the `FieldsV1` JSON `fields` lists `path` as a member, looked up by the path's
/// encoding (so `fields` must be canonical, as the server writes it).
pub(crate) fn lists(fields: &Value, path: &[Element]) -> bool {
    let mut node = fields;
    for element in path {
        match node.as_object().and_then(|map| map.get(&element.encode())) {
            Some(inner) => node = inner,
            None => return false,
        }
    }
    !path.is_empty() && node.as_object().is_some_and(|map| map.is_empty() || map.contains_key("."))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn field(name: &str) -> Element {
        Element::Field(name.into())
    }

    #[test]
    fn fields_v1_round_trips_with_dots_for_members_that_have_children() {
        let fields = json!({
            "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
            "f:spec": {"f:ports": {"k:{\"port\":80,\"protocol\":\"TCP\"}": {".": {}, "f:port": {}}},
                       "f:finalizers": {"v:\"a\"": {}}}
        });
        let set = Set::from_fields_v1(&fields).unwrap();
        assert!(set.contains(&[field("metadata"), field("labels")]));
        assert!(set.contains(&[field("metadata"), field("labels"), field("app")]));
        assert!(!set.contains(&[field("metadata")]));
        assert!(set.covers(&[field("metadata")]));
        let encoded = set.to_fields_v1();
        assert_eq!(encoded, fields);
        assert_eq!(
            serde_json::to_string(&encoded["f:metadata"]["f:labels"]).unwrap(),
            r#"{".":{},"f:app":{}}"#,
            "the dot comes first"
        );
    }

    #[test]
    fn malformed_fields_v1_is_an_error() {
        assert!(Set::from_fields_v1(&json!([])).is_err());
        assert!(Set::from_fields_v1(&json!({"x:y": {}})).is_err());
        assert!(Set::from_fields_v1(&json!({"k:notjson": {}})).is_err());
    }

    #[test]
    fn set_algebra_works_on_members() {
        let mut a = Set::new();
        a.insert(&[field("spec"), field("replicas")]);
        a.insert(&[field("spec"), field("selector")]);
        a.insert(&[field("spec")]);
        let mut b = Set::new();
        b.insert(&[field("spec"), field("replicas")]);
        let diff = a.difference(&b);
        assert_eq!(diff.paths(), vec![vec![field("spec")], vec![field("spec"), field("selector")]]);
        let mut subtracted = a.clone();
        subtracted.subtract(&b);
        assert_eq!(subtracted, diff);
        subtracted.subtract(&a);
        assert!(subtracted.is_empty(), "nothing is left, not even empty parents");
        assert_eq!(a.intersection(&b), b);
        let mut u = diff.clone();
        u.union(&b);
        assert_eq!(u, a);
        assert!(Set::new().difference(&a).is_empty());
    }

    #[test]
    fn paths_print_like_kubernetes() {
        let key = canonical_key(
            json!({"protocol": "TCP", "containerPort": 80}).as_object().cloned().unwrap(),
        );
        assert_eq!(key, r#"{"containerPort":80,"protocol":"TCP"}"#);
        let path = [
            field("spec"),
            field("containers"),
            Element::Key(r#"{"name":"nginx"}"#.into()),
            field("ports"),
            Element::Key(key),
        ];
        assert_eq!(
            display(&path),
            r#".spec.containers[name="nginx"].ports[containerPort=80,protocol="TCP"]"#
        );
        assert_eq!(display(&[field("f"), Element::Value("\"x\"".into())]), r#".f[="x"]"#);
    }
}
