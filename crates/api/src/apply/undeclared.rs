//! Fields an apply configuration sets that its kind does not declare: structured-merge-diff's
//! typed conversion refuses them (`.spec.foo: field not declared in schema`) before any merge.
//! Which fields exist comes from the field schema (`validation::fields`); how list items are
//! named in the paths (`[name="nginx"]`) from the apply schema.

use serde_json::Value;

use super::fieldpath::{Element, display};
use super::schema::{self, Ty};
use super::typed::item_element;
use crate::validation::fields;

/// The undeclared fields of `config`, a `group/version/kind` apply configuration, as
/// structured-merge-diff reports them: `.spec.template.spec.containers[name="c"].foo: field not
/// declared in schema`, in document order. Kinds without a schema declare everything.
pub fn undeclared(group: &str, version: &str, kind: &str, config: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(definition) = fields::definition_of(group, version, kind) {
        let ty = schema::root(group, version, kind);
        walk(definition, ty, config, &mut Vec::new(), &mut out);
    }
    out
}

/// One step of the walk, borrowed: the path is printed only for an undeclared field.
#[derive(Clone, Copy)]
enum Step<'a> {
    Field(&'a str),
    /// A list item: its list's type names it (`[name="c"]`, `[="v"]`) or its index does.
    Item(Ty, &'a Value, usize),
}

fn display_steps(steps: &[Step<'_>]) -> String {
    let path: Vec<Element> = steps
        .iter()
        .map(|step| match *step {
            Step::Field(name) => Element::Field(name.to_owned()),
            Step::Item(ty @ (Ty::Keyed(..) | Ty::Set), item, i) => {
                item_element(ty, item).unwrap_or(Element::Index(i))
            }
            Step::Item(_, _, i) => Element::Index(i),
        })
        .collect();
    display(&path)
}

fn walk<'a>(
    definition: &str,
    ty: Ty,
    value: &'a Value,
    path: &mut Vec<Step<'a>>,
    out: &mut Vec<String>,
) {
    let Value::Object(map) = value else { return };
    if !fields::has_properties(definition) {
        return;
    }
    for (name, child) in map {
        path.push(Step::Field(name));
        match fields::field_of(definition, name) {
            None => out.push(format!("{}: field not declared in schema", display_steps(path))),
            Some(None) => {}
            Some(Some((target, shape))) => {
                let child_ty = ty.member(name);
                match (shape, child) {
                    ("l", Value::Array(items)) => {
                        for (i, item) in items.iter().enumerate() {
                            path.push(Step::Item(child_ty, item, i));
                            walk(target, child_ty.item(), item, path, out);
                            path.pop();
                        }
                    }
                    ("m", Value::Object(items)) => {
                        for (key, item) in items {
                            path.push(Step::Field(key));
                            walk(target, child_ty.member(key), item, path, out);
                            path.pop();
                        }
                    }
                    (_, child) => walk(target, child_ty, child, path, out),
                }
            }
        }
        path.pop();
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn undeclared_fields_are_named_as_structured_merge_diff_names_them() {
        let config = json!({"apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": "web", "labels": {"any.key/x": "y"}, "bogus": 1},
            "spec": {"foo": 1, "selector": {"matchLabels": {"app": "x"}},
                "template": {"spec": {"containers": [{"name": "c", "image": "i", "typo": true,
                    "ports": [{"containerPort": 80, "extra": 1}]}],
                    "volumes": [{"name": "v", "emptyDir": {"sizeLimit": "1Gi", "odd": 1}}]}}}});
        assert_eq!(
            undeclared("apps", "v1", "StatefulSet", &config),
            [
                ".metadata.bogus: field not declared in schema",
                ".spec.foo: field not declared in schema",
                r#".spec.template.spec.containers[name="c"].typo: field not declared in schema"#,
                r#".spec.template.spec.containers[name="c"].ports[containerPort=80,protocol="TCP"].extra: field not declared in schema"#,
                r#".spec.template.spec.volumes[name="v"].emptyDir.odd: field not declared in schema"#,
            ]
        );
        let fine = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"},
            "data": {"anything": "goes"}});
        assert!(undeclared("", "v1", "ConfigMap", &fine).is_empty());
    }
}
