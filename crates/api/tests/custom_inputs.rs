//! Arbitrary CustomResourceDefinitions and custom resources never panic the code that checks and
//! serves them: a valid CRD and a valid instance are mutated at random places into random JSON
//! (thousands of times, from a seed printed on failure) and each goes through defaulting,
//! validation (create and update), naming, and the instance through its version's schema
//! (prune, default, validate, validate on update, with its CEL rules) and printer columns.

#![recursion_limit = "256"]

use berth_api::custom::{Columns, Schema};
use berth_api::validation::{self, Write};
use serde_json::{Value, json};

/// A small deterministic generator (xorshift64*), so a failure can be replayed from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Words the code under test looks for, so mutations reach deep branches.
const WORDS: &[&str] = &[
    "type",
    "object",
    "array",
    "string",
    "integer",
    "number",
    "boolean",
    "properties",
    "items",
    "required",
    "enum",
    "default",
    "pattern",
    "format",
    "minimum",
    "maximum",
    "multipleOf",
    "minLength",
    "maxItems",
    "uniqueItems",
    "nullable",
    "allOf",
    "anyOf",
    "oneOf",
    "not",
    "additionalProperties",
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-int-or-string",
    "x-kubernetes-embedded-resource",
    "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys",
    "x-kubernetes-map-type",
    "x-kubernetes-validations",
    "map",
    "set",
    "atomic",
    "metadata",
    "spec",
    "status",
    "name",
    "v1",
    "v2beta1",
    "storage",
    "served",
    "scale",
    "jsonPath",
    ".spec.replicas",
    ".status.conditions[?(@.type==\"Ready\")].status",
    "date",
    "int32",
    "date-time",
    "^[a-z]+$",
    "(a|b)*c{2,3}[^x-z]\\d\\b",
    "[",
    "(?i)",
    "",
    "Namespaced",
    "Cluster",
    "rule",
    "message",
    "messageExpression",
    "fieldPath",
    "reason",
    "optionalOldSelf",
    "FieldValueForbidden",
    "self.size() > 1",
    "self == oldSelf",
    "self.all(x, x.matches('['))",
    "self.replicas / 0 == 1",
    "self.x.y.z",
    "[].max() < self",
    "self.map(k, k + 1).sum() > 9223372036854775807",
    "'abc'.substring(5)",
    "has(self.spec) ? self.spec.replicas : oldSelf",
    "self.ports.exists_one(p, p.name.indexOf('h', 9) > 0)",
    "(((",
    ".spec.tags",
    "['a']",
];

fn word(rng: &mut Rng) -> String {
    WORDS[rng.below(WORDS.len())].to_owned()
}

fn random_value(rng: &mut Rng, depth: usize) -> Value {
    match rng.below(if depth > 3 { 6 } else { 9 }) {
        0 => Value::Null,
        1 => json!(rng.below(2) == 0),
        2 => json!(rng.next() as i64 >> rng.below(64)),
        3 => json!((rng.next() as f64) / (rng.next() as f64 + 1.0) - 0.5),
        4 => json!(word(rng)),
        5 => json!(format!("{}{}", word(rng), rng.below(1000))),
        6 => Value::Array((0..rng.below(4)).map(|_| random_value(rng, depth + 1)).collect()),
        _ => Value::Object(
            (0..rng.below(4)).map(|_| (word(rng), random_value(rng, depth + 1))).collect(),
        ),
    }
}

/// `value` with one random place (a member, an item, or the whole) replaced by random JSON.
fn mutate(rng: &mut Rng, value: &mut Value) {
    let stop = rng.below(4) == 0;
    match value {
        Value::Object(map) if !map.is_empty() && !stop => {
            let at = rng.below(map.len());
            if let Some((_, member)) = map.iter_mut().nth(at) {
                mutate(rng, member);
            }
        }
        Value::Array(items) if !items.is_empty() && !stop => {
            let at = rng.below(items.len());
            if let Some(item) = items.get_mut(at) {
                mutate(rng, item);
            }
        }
        _ => *value = random_value(rng, 0),
    }
}

fn crd() -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "crontabs.stable.example.com"},
        "spec": {
            "group": "stable.example.com",
            "scope": "Namespaced",
            "names": {"plural": "crontabs", "singular": "crontab", "kind": "CronTab", "shortNames": ["ct"]},
            "versions": [{
                "name": "v1",
                "served": true,
                "storage": true,
                "subresources": {"status": {}, "scale": {
                    "specReplicasPath": ".spec.replicas",
                    "statusReplicasPath": ".status.replicas",
                }},
                "additionalPrinterColumns": [
                    {"name": "Spec", "type": "string", "jsonPath": ".spec.cronSpec"},
                    {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"},
                    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
                ],
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "properties": {
                        "spec": {
                            "type": "object",
                            "required": ["cronSpec"],
                            "x-kubernetes-validations": [
                                {"rule": "self.replicas <= 10 && self.cronSpec.split(' ').size() == 5"},
                                {"rule": "!has(self.mode) || self.mode != 'b'", "messageExpression": "'mode ' + self.mode + ' is retired'"},
                                {"rule": "self.tags.all(t, t.size() < 10) && self.labels.all(k, self.labels[k] != '')", "fieldPath": ".tags", "reason": "FieldValueForbidden"},
                            ],
                            "properties": {
                                "cronSpec": {"type": "string", "pattern": "^(\\d+|\\*)(/\\d+)?(\\s+(\\d+|\\*)(/\\d+)?){4}$"},
                                "replicas": {"type": "integer", "minimum": 1, "maximum": 10, "default": 1},
                                "mode": {"type": "string", "enum": ["a", "b"]},
                                "size": {"x-kubernetes-int-or-string": true},
                                "ports": {
                                    "type": "array",
                                    "x-kubernetes-list-type": "map",
                                    "x-kubernetes-list-map-keys": ["name"],
                                    "items": {"type": "object", "required": ["name"], "properties": {
                                        "name": {"type": "string"},
                                        "port": {"type": "integer", "format": "int32"},
                                    }, "x-kubernetes-validations": [
                                        {"rule": "self.port == oldSelf.port", "message": "port is immutable"},
                                        {"rule": "!oldSelf.hasValue() || oldSelf.value().name == self.name", "optionalOldSelf": true},
                                    ]},
                                },
                                "tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
                                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                                "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                                "template": {"type": "object", "x-kubernetes-embedded-resource": true, "x-kubernetes-preserve-unknown-fields": true},
                            },
                        },
                        "status": {"type": "object", "properties": {"replicas": {"type": "integer"}}},
                    },
                }},
            }],
        },
    })
}

fn crontab() -> Value {
    json!({
        "apiVersion": "stable.example.com/v1",
        "kind": "CronTab",
        "metadata": {"name": "nightly", "namespace": "default", "creationTimestamp": "2026-12-08T00:00:00Z"},
        "spec": {
            "cronSpec": "* * * * */5",
            "replicas": 2,
            "mode": "a",
            "size": "10Gi",
            "ports": [{"name": "http", "port": 80}],
            "tags": ["x", "y"],
            "labels": {"a": "b"},
            "extra": {"anything": [1, 2]},
            "template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}},
        },
        "status": {"replicas": 2},
    })
}

#[test]
fn the_unmutated_definition_and_instance_are_valid() {
    // Defaulted and prepared as the API server does before validating a create.
    let mut crd = crd();
    berth_api::defaults::apply("apiextensions.k8s.io", "CustomResourceDefinition", &mut crd);
    berth_api::crd::prepare_for_create(&mut crd);
    let errors = validation::validate(
        "apiextensions.k8s.io",
        "CustomResourceDefinition",
        &crd,
        Write::Create,
    );
    assert!(errors.is_empty(), "{errors:?}");
    let schema = Schema::new(crd.pointer("/spec/versions/0/schema/openAPIV3Schema"));
    let mut object = crontab();
    assert!(schema.prune(&mut object).is_empty());
    assert_eq!(object, crontab());
    assert!(schema.validate(&object).is_empty(), "{:?}", schema.validate(&object));
    let columns = Columns::new(crd.pointer("/spec/versions/0/additionalPrinterColumns"));
    let cells = columns.cells(&object, 1_765_152_000 + 60);
    assert_eq!(cells[..3], [json!("nightly"), json!("* * * * */5"), json!(2)]);
    assert!(cells[3].is_string(), "{cells:?}");
}

#[test]
fn random_definitions_and_instances_never_panic() {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
        | 1;
    let mut rng = Rng(seed);
    let base_crd = crd();
    let base_object = crontab();
    for round in 0..3000 {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut crd = base_crd.clone();
            for _ in 0..1 + rng.below(3) {
                mutate(&mut rng, &mut crd);
            }
            let mut defaulted = crd.clone();
            berth_api::defaults::apply(
                "apiextensions.k8s.io",
                "CustomResourceDefinition",
                &mut defaulted,
            );
            let group = "apiextensions.k8s.io";
            let kind = "CustomResourceDefinition";
            validation::validate(group, kind, &defaulted, Write::Create);
            validation::validate(group, kind, &defaulted, Write::Update(&base_crd));
            validation::validate(group, kind, &defaulted, Write::Status(&base_crd));
            berth_api::crd::prepare_for_create(&mut defaulted.clone());
            berth_api::crd::prepare_for_update(&mut defaulted.clone(), &base_crd);
            berth_api::crd::naming_status(&defaulted, &[&base_crd], "2026-12-08T00:00:00Z");

            let schema = Schema::new(defaulted.pointer("/spec/versions/0/schema/openAPIV3Schema"));
            let columns =
                Columns::new(defaulted.pointer("/spec/versions/0/additionalPrinterColumns"));
            let mut object = base_object.clone();
            for _ in 0..1 + rng.below(3) {
                mutate(&mut rng, &mut object);
            }
            schema.prune(&mut object);
            schema.default(&mut object);
            schema.validate(&object);
            schema.validate_update(&object, &base_object);
            columns.cells(&object, 1_765_152_000);
            columns.definitions();
        }));
        assert!(outcome.is_ok(), "seed {seed}, round {round}: panicked");
    }
}

/// A custom resource's metadata is checked as apimachinery checks it: a finalizer needs no
/// `/` (core's rule for built-in kinds does not apply), but must still be a qualified name.
#[test]
fn custom_resource_finalizers_follow_apimachinery() {
    let mut object = crontab();
    object["metadata"]["finalizers"] = json!(["cleanup", "example.com/cleanup"]);
    assert_eq!(validation::custom_resource_meta(&object, true, None), vec![]);
    object["metadata"]["finalizers"] = json!(["bad finalizer"]);
    let errors: Vec<String> = validation::custom_resource_meta(&object, true, None)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        errors,
        [
            "metadata.finalizers[0]: Invalid value: \"bad finalizer\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
        ]
    );
}
