//! Tests of custom resources: pruning, defaulting, validation (with upstream's exact messages),
//! the printer columns and their JSONPaths, over a realistic `CronTab` CRD.

use serde_json::{Value, json};

use super::gofmt::{go_float, sprint};
use super::regex::Regex;
use super::{Columns, Schema};
use crate::table::IncludeObject;

/// `spec.versions[0].schema.openAPIV3Schema` of a `CronTab` CRD that uses every feature.
fn crontab_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "required": ["cronSpec"],
                "properties": {
                    "cronSpec": {
                        "type": "string",
                        "pattern": r"^(\d+|\*)(/\d+)?(\s+(\d+|\*)(/\d+)?){4}$"
                    },
                    "image": {"type": "string", "maxLength": 20},
                    "replicas": {"type": "integer", "minimum": 1, "maximum": 10, "default": 1},
                    "policy": {
                        "type": "string",
                        "enum": ["Allow", "Forbid", "Replace"],
                        "default": "Allow"
                    },
                    "ratio": {
                        "type": "number",
                        "multipleOf": 0.5,
                        "maximum": 10,
                        "exclusiveMaximum": true
                    },
                    "size": {"type": "integer", "anyOf": [{"minimum": 10}, {"maximum": 2}]},
                    "suspend": {"type": "boolean"},
                    "startedAt": {"type": "string", "format": "date-time"},
                    "uid": {"type": "string", "format": "uuid"},
                    "count": {"type": "integer", "format": "int32"},
                    "port": {"x-kubernetes-int-or-string": true},
                    "tags": {
                        "type": "array",
                        "maxItems": 3,
                        "x-kubernetes-list-type": "set",
                        "items": {"type": "string", "minLength": 2}
                    },
                    "ports": {
                        "type": "array",
                        "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["name"],
                        "items": {
                            "type": "object",
                            "required": ["name"],
                            "properties": {
                                "name": {"type": "string"},
                                "port": {"type": "integer"}
                            }
                        }
                    },
                    "config": {
                        "type": "object",
                        "x-kubernetes-preserve-unknown-fields": true,
                        "properties": {
                            "known": {"type": "object", "properties": {"a": {"type": "string"}}}
                        }
                    },
                    "template": {
                        "type": "object",
                        "x-kubernetes-embedded-resource": true,
                        "x-kubernetes-preserve-unknown-fields": true
                    },
                    "labels": {
                        "type": "object",
                        "maxProperties": 2,
                        "additionalProperties": {"type": "string"}
                    },
                    "nested": {
                        "type": "object",
                        "properties": {
                            "inner": {
                                "type": "object",
                                "properties": {"x": {"type": "string", "default": "dx"}}
                            }
                        }
                    },
                    "note": {"type": "string", "nullable": true}
                }
            },
            "status": {
                "type": "object",
                "properties": {
                    "replicas": {"type": "integer"},
                    "conditions": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "type": {"type": "string"},
                                "status": {"type": "string"}
                            }
                        }
                    }
                }
            }
        }
    })
}

fn crontab(spec: Value) -> Value {
    json!({
        "apiVersion": "stable.example.com/v1",
        "kind": "CronTab",
        "metadata": {"name": "my-cron", "namespace": "default"},
        "spec": spec,
    })
}

/// The errors as `field: message (reason)` lines, the way the API server lists causes.
fn check_errors(spec: Value, expected: &[&str]) {
    let schema = Schema::new(Some(&crontab_schema()));
    let errors: Vec<String> = schema
        .validate(&crontab(spec))
        .iter()
        .map(|e| format!("{}: {} ({})", e.field, e.message, e.reason))
        .collect();
    assert_eq!(errors, expected);
}

const CRON: &str = "*/5 * * * *";

#[test]
fn valid_crontab_has_no_errors() {
    check_errors(
        json!({
            "cronSpec": CRON,
            "image": "my-awesome-cron-image",
            "replicas": 3,
            "policy": "Forbid",
            "ratio": 2.5,
            "size": 1,
            "startedAt": "2024-05-01T10:00:00Z",
            "uid": "123e4567-e89b-12d3-a456-426614174000",
            "port": "http",
            "tags": ["ab", "cd"],
            "ports": [{"name": "http", "port": 80}, {"name": "https", "port": 443}],
            "config": {"anything": [1, 2]},
            "template": {"apiVersion": "v1", "kind": "Pod", "spec": {}},
            "labels": {"app": "x"},
            "note": null,
        }),
        &["spec.image: Too long: may not be more than 20 bytes (FieldValueTooLong)"],
    );
    check_errors(json!({"cronSpec": "0 0 1 * *", "port": 8080, "ratio": 3.0}), &[]);
}

#[test]
fn types() {
    check_errors(
        json!({"cronSpec": CRON, "replicas": "3", "suspend": "yes", "port": true}),
        &[
            "spec.port: Invalid value: \"boolean\": spec.port in body must be of type \
             integer,string: \"boolean\" (FieldValueTypeInvalid)",
            "spec.replicas: Invalid value: \"string\": spec.replicas in body must be of type \
             integer: \"string\" (FieldValueTypeInvalid)",
            "spec.suspend: Invalid value: \"string\": spec.suspend in body must be of type \
             boolean: \"string\" (FieldValueTypeInvalid)",
        ],
    );
    // A fraction where an integer is expected also fails the integer range check, which
    // upstream reports without a field.
    check_errors(
        json!({"cronSpec": CRON, "replicas": 1.5}),
        &[
            "spec.replicas: Invalid value: \"number\": spec.replicas in body must be of type \
             integer: \"number\" (FieldValueTypeInvalid)",
            "<nil>: Invalid value: \"\": Checked value must be of type integer (default format) in \
             spec.replicas (FieldValueInvalid)",
        ],
    );
    // 2.0 is an integer.
    check_errors(json!({"cronSpec": CRON, "replicas": 2.0}), &[]);
    check_errors(
        json!({"cronSpec": CRON, "labels": {"app": 1}, "tags": "a"}),
        &[
            "spec.labels.app: Invalid value: \"integer\": spec.labels.app in body must be of \
             type string: \"integer\" (FieldValueTypeInvalid)",
            "spec.tags: Invalid value: \"string\": spec.tags in body must be of type array: \
             \"string\" (FieldValueTypeInvalid)",
        ],
    );
}

#[test]
fn nulls_and_nullable() {
    check_errors(
        json!({"cronSpec": CRON, "note": null, "policy": null, "image": null}),
        &[
            "spec.image: Invalid value: \"null\": spec.image in body must be of type string: \
             \"null\" (FieldValueTypeInvalid)",
            "spec.policy: Invalid value: \"null\": spec.policy in body must be of type string: \
             \"null\" (FieldValueTypeInvalid)",
            "spec.policy: Unsupported value: \"null\": supported values: \"Allow\", \"Forbid\", \
             \"Replace\" (FieldValueNotSupported)",
        ],
    );
}

#[test]
fn required_pattern_enum_and_lengths() {
    check_errors(
        json!({"image": "nginx"}),
        &["spec.cronSpec: Required value (FieldValueRequired)"],
    );
    check_errors(
        json!({"cronSpec": "every minute", "policy": "Sometimes", "tags": ["a", "bb", "cc", "dd"]}),
        &[
            "spec.cronSpec: Invalid value: \"every minute\": spec.cronSpec in body should match \
             '^(\\d+|\\*)(/\\d+)?(\\s+(\\d+|\\*)(/\\d+)?){4}$' (FieldValueInvalid)",
            "spec.policy: Unsupported value: \"Sometimes\": supported values: \"Allow\", \
             \"Forbid\", \"Replace\" (FieldValueNotSupported)",
            "spec.tags[0]: Invalid value: \"a\": spec.tags[0] in body should be at least 2 chars \
             long (FieldValueInvalid)",
            "spec.tags: Too many: 4: must have at most 3 items (FieldValueTooMany)",
        ],
    );
}

#[test]
fn numeric_bounds() {
    check_errors(
        json!({"cronSpec": CRON, "replicas": 11}),
        &["spec.replicas: Invalid value: 11: spec.replicas in body should be less than or equal \
           to 10 (FieldValueInvalid)"],
    );
    check_errors(
        json!({"cronSpec": CRON, "replicas": 0}),
        &["spec.replicas: Invalid value: 0: spec.replicas in body should be greater than or \
           equal to 1 (FieldValueInvalid)"],
    );
    check_errors(
        json!({"cronSpec": CRON, "ratio": 0.7}),
        &["spec.ratio: Invalid value: 0.7: spec.ratio in body should be a multiple of 0.5 \
           (FieldValueInvalid)"],
    );
    // An integer value is checked against int64(multipleOf), which is 0 for 0.5: upstream's
    // quirk, kept.
    check_errors(
        json!({"cronSpec": CRON, "ratio": 10}),
        &[
            "spec.ratio: Invalid value: 0: factor MultipleOf declared for spec.ratio must be \
             positive: 0 (FieldValueInvalid)",
            "spec.ratio: Invalid value: 10: spec.ratio in body should be less than 10 \
             (FieldValueInvalid)",
        ],
    );
}

#[test]
fn formats() {
    check_errors(
        json!({"cronSpec": CRON, "startedAt": "yesterday", "uid": "not-a-uuid", "count": 1e10}),
        &[
            "spec.startedAt: Invalid value: \"yesterday\": spec.startedAt in body must be of type \
             date-time: \"yesterday\" (FieldValueTypeInvalid)",
            "spec.uid: Invalid value: \"not-a-uuid\": spec.uid in body must be of type uuid: \
             \"not-a-uuid\" (FieldValueTypeInvalid)",
        ],
    );
    // `int32` is not a format CRDs check: 1e10 (an integer) passes.
    check_errors(json!({"cronSpec": CRON, "startedAt": "2024-05-01T10:00:00.123+02:00"}), &[]);
}

#[test]
fn any_of_reports_the_composition_and_the_best_failure() {
    check_errors(
        json!({"cronSpec": CRON, "size": 5}),
        &[
            "<nil>: Invalid value: \"\": \"spec.size\" must validate at least one schema (anyOf) \
             (FieldValueInvalid)",
            "spec.size: Invalid value: 5: spec.size in body should be greater than or equal to \
             10 (FieldValueInvalid)",
        ],
    );
    check_errors(json!({"cronSpec": CRON, "size": 12}), &[]);
}

#[test]
fn one_of_all_of_and_not() {
    let schema = Schema::new(Some(&json!({
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "properties": {
                    "a": {"type": "integer", "oneOf": [{"minimum": 1}, {"minimum": 2}]},
                    "b": {"type": "integer", "allOf": [{"minimum": 1}, {"maximum": 5}]},
                    "c": {"type": "string", "not": {"enum": ["forbidden"]}}
                }
            }
        }
    })));
    let errors: Vec<String> = schema
        .validate(&json!({"spec": {"a": 3, "b": 7, "c": "forbidden"}}))
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        errors,
        [
            "<nil>: Invalid value: \"\": \"spec.a\" must validate one and only one schema (oneOf). \
             Found 2 valid alternatives",
            "spec.b: Invalid value: 7: spec.b in body should be less than or equal to 5",
            "<nil>: Invalid value: \"\": \"spec.b\" must validate all the schemas (allOf)",
            "<nil>: Invalid value: \"\": \"spec.c\" must not validate the schema (not)",
        ]
    );
}

#[test]
fn properties_counts_and_forbidden_properties() {
    check_errors(
        json!({"cronSpec": CRON, "labels": {"a": "1", "b": "2", "c": "3"}}),
        &["spec.labels: Too many: 3: must have at most 2 items (FieldValueTooMany)"],
    );
    let schema = Schema::new(Some(&json!({
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "minProperties": 2,
                "additionalProperties": false,
                "properties": {"a": {"type": "string"}}
            }
        }
    })));
    let errors: Vec<String> =
        schema.validate(&json!({"spec": {"b": 1}})).iter().map(ToString::to_string).collect();
    assert_eq!(
        errors,
        [
            "spec: Invalid value: 1: spec in body should have at least 2 properties",
            "spec: Invalid value: \"b\": spec.b in body is a forbidden property",
        ]
    );
}

#[test]
fn list_types_and_unique_items() {
    check_errors(
        json!({
            "cronSpec": CRON,
            "tags": ["ab", "cd", "ab"],
            "ports": [{"name": "http", "port": 80}, {"name": "http", "port": 81}, {"port": 1}],
        }),
        &[
            "spec.ports[2].name: Required value (FieldValueRequired)",
            // In the object's order (upstream's is Go's map order).
            "spec.tags[2]: Duplicate value: \"ab\" (FieldValueDuplicate)",
            "spec.ports[1]: Duplicate value: map[string]interface {}{\"name\":\"http\"} \
             (FieldValueDuplicate)",
        ],
    );
    let schema = Schema::new(Some(&json!({
        "type": "object",
        "properties": {"spec": {"type": "object", "properties": {
            "xs": {"type": "array", "uniqueItems": true, "items": {"type": "integer"}}
        }}}
    })));
    let errors: Vec<String> = schema
        .validate(&json!({"spec": {"xs": [1, 2, 1]}}))
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        errors,
        [r#"spec.xs: Invalid value: "": spec.xs in body shouldn't contain duplicates"#]
    );
}

#[test]
fn embedded_resources_need_api_version_and_kind() {
    let kind_problem = crate::validation::meta::dns1035_label("bad_kind").join(",");
    check_errors(
        json!({"cronSpec": CRON, "template": {"kind": "Bad_Kind", "metadata": {"name": "x"}}}),
        &[
            "spec.template.apiVersion: Required value (FieldValueRequired)",
            &format!(
                "spec.template.kind: Invalid value: \"Bad_Kind\": may have mixed case, but should \
                 otherwise match: {kind_problem} (FieldValueInvalid)"
            ),
        ],
    );
    check_errors(
        json!({"cronSpec": CRON, "template": {"apiVersion": "a/b/c", "kind": "Pod"}}),
        &["spec.template.apiVersion: Invalid value: \"a/b/c\": unexpected GroupVersion string: \
           a/b/c (FieldValueInvalid)"],
    );
}

#[test]
fn no_schema_checks_and_prunes_nothing() {
    let schema = Schema::new(None);
    let mut object = crontab(json!({"anything": 1}));
    let before = object.clone();
    assert!(schema.prune(&mut object).is_empty());
    schema.default(&mut object);
    assert_eq!(object, before);
    assert!(schema.validate(&object).is_empty());
    assert!(schema.preserves_unknown_fields());
    assert!(!schema.has_status());
    assert!(Schema::new(Some(&crontab_schema())).has_status());
}

#[test]
fn pruning() {
    let schema = Schema::new(Some(&crontab_schema()));
    let mut object = json!({
        "apiVersion": "stable.example.com/v1",
        "kind": "CronTab",
        "metadata": {"name": "my-cron", "unknownMeta": 1},
        "spec": {
            "cronSpec": CRON,
            "unknown": 1,
            "config": {"free": {"deep": 1}, "known": {"a": "y", "b": 2}},
            "template": {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": "p",
                    "bogus": 1,
                    "ownerReferences": [{"name": "o", "extra": true}]
                },
                "spec": {"containers": []}
            },
            "ports": [{"name": "a", "extra": 1}],
            "labels": {"k": "v"}
        },
        "status": {"replicas": 1, "phase": "Running"},
        "extraTop": true
    });
    let pruned = schema.prune(&mut object);
    assert_eq!(
        pruned,
        [
            "extraTop",
            "spec.config.known.b",
            "spec.ports[0].extra",
            "spec.unknown",
            "status.phase",
            "spec.template.metadata.bogus",
            "spec.template.metadata.ownerReferences[0].extra",
        ]
    );
    assert_eq!(
        object,
        json!({
            "apiVersion": "stable.example.com/v1",
            "kind": "CronTab",
            // The root's metadata is left to the generic object-meta code.
            "metadata": {"name": "my-cron", "unknownMeta": 1},
            "spec": {
                "cronSpec": CRON,
                "config": {"free": {"deep": 1}, "known": {"a": "y"}},
                "template": {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {"name": "p", "ownerReferences": [{"name": "o"}]},
                    "spec": {"containers": []}
                },
                "ports": [{"name": "a"}],
                "labels": {"k": "v"}
            },
            "status": {"replicas": 1}
        })
    );
}

#[test]
fn pruning_with_a_preserving_root_and_nested_unknown_objects() {
    let schema = Schema::new(Some(&json!({
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": true,
        "properties": {"spec": {"type": "object", "properties": {"a": {"type": "string"}}}}
    })));
    let mut object = json!({"kind": "X", "spec": {"a": "1", "b": {"c": 1}}, "other": {"d": 1}});
    assert_eq!(schema.prune(&mut object), ["spec.b"]);
    assert_eq!(object, json!({"kind": "X", "spec": {"a": "1"}, "other": {"d": 1}}));
}

#[test]
fn defaulting() {
    let schema = Schema::new(Some(&crontab_schema()));
    let mut object = crontab(json!({"cronSpec": CRON, "image": null, "note": null}));
    schema.default(&mut object);
    // A property's default applies only where its parent exists (`nested` does not).
    assert_eq!(
        object["spec"],
        json!({"cronSpec": CRON, "replicas": 1, "policy": "Allow", "note": null})
    );

    let mut object = crontab(json!({"replicas": 4, "policy": null, "nested": {"inner": {}}}));
    schema.default(&mut object);
    assert_eq!(
        object["spec"],
        json!({"replicas": 4, "policy": "Allow", "nested": {"inner": {"x": "dx"}}})
    );

    // No spec, no defaults inside it.
    let mut object = json!({"apiVersion": "stable.example.com/v1", "kind": "CronTab"});
    schema.default(&mut object);
    assert_eq!(object, json!({"apiVersion": "stable.example.com/v1", "kind": "CronTab"}));
}

#[test]
fn defaulting_items_and_additional_properties() {
    let schema = Schema::new(Some(&json!({
        "type": "object",
        "properties": {"spec": {"type": "object", "properties": {
            "list": {"type": "array", "items": {
                "type": "object",
                "properties": {"weight": {"type": "integer", "default": 5}}
            }},
            "map": {"type": "object", "additionalProperties": {"type": "string", "default": "d"}}
        }}}
    })));
    let mut object = json!({"spec": {"list": [{}, {"weight": 1}], "map": {"a": null, "b": "x"}}});
    schema.default(&mut object);
    assert_eq!(
        object,
        json!({"spec": {"list": [{"weight": 5}, {"weight": 1}], "map": {"a": "d", "b": "x"}}})
    );
}

fn crontab_columns() -> Columns {
    Columns::new(Some(&json!([
        {"name": "Spec", "type": "string", "jsonPath": ".spec.cronSpec",
         "description": "The cron spec"},
        {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"},
        {"name": "Tags", "type": "string", "jsonPath": ".spec.tags", "priority": 1},
        {"name": "Ready", "type": "string",
         "jsonPath": ".status.conditions[?(@.type==\"Ready\")].status"},
        {"name": "First Port", "type": "string", "jsonPath": ".spec.ports[0].name"},
        {"name": "Ports", "type": "string", "jsonPath": ".spec.ports[*].name"},
        {"name": "Labels", "type": "string", "jsonPath": ".spec.labels"},
        {"name": "Ratio", "type": "number", "jsonPath": ".spec.ratio"},
        {"name": "Suspended", "type": "boolean", "jsonPath": ".spec.suspend"},
        {"name": "Started", "type": "date", "jsonPath": ".spec.startedAt"},
        {"name": "Note", "type": "string", "jsonPath": ".spec.note"},
        {"name": "Missing", "type": "string", "jsonPath": ".spec.nothing"},
        {"name": "Out Of Range", "type": "string", "jsonPath": ".spec.ports[5].name"},
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}
    ])))
}

/// 2024-05-01T12:00:00Z.
const NOW: i64 = 1_714_564_800;

fn printed_crontab() -> Value {
    json!({
        "apiVersion": "stable.example.com/v1",
        "kind": "CronTab",
        "metadata": {
            "name": "my-cron",
            "namespace": "default",
            "resourceVersion": "42",
            "creationTimestamp": "2024-05-01T11:50:00Z"
        },
        "spec": {
            "cronSpec": CRON,
            "replicas": 2.9,
            "tags": ["a", "b"],
            "ports": [{"name": "http"}, {"name": "https"}],
            "labels": {"tier": "web", "app": "x"},
            "ratio": 2.5,
            "suspend": true,
            "startedAt": "2024-05-01T10:00:00Z",
            "note": null
        },
        "status": {"conditions": [
            {"type": "Scheduled", "status": "False"},
            {"type": "Ready", "status": "True"}
        ]}
    })
}

#[test]
fn cells() {
    let cells = crontab_columns().cells(&printed_crontab(), NOW);
    assert_eq!(
        cells,
        [
            json!("my-cron"),
            json!(CRON),
            json!(2),
            json!("[a b]"),
            json!("True"),
            json!("http"),
            // Upstream prints only the first result of a path.
            json!("http"),
            json!("map[app:x tier:web]"),
            json!(2.5),
            json!(true),
            json!("120m"),
            json!("<no value>"),
            Value::Null,
            Value::Null,
            json!("10m"),
        ]
    );
}

#[test]
fn cells_of_odd_values() {
    let columns = Columns::new(Some(&json!([
        {"name": "Date", "type": "date", "jsonPath": ".spec.when"},
        {"name": "Int", "type": "integer", "jsonPath": ".spec.n"},
        {"name": "Bool", "type": "boolean", "jsonPath": ".spec.n"},
        {"name": "Filter", "type": "string", "jsonPath": ".spec.items[?(@.k==1)].v"},
        {"name": "Bad", "type": "string", "jsonPath": ".spec..recursive"}
    ])));
    let object = json!({"metadata": {"name": "x"}, "spec": {
        "when": "last tuesday", "n": "seven", "items": [{"k": 2, "v": "b"}, {"k": 1, "v": "a"}]
    }});
    assert_eq!(
        columns.cells(&object, NOW),
        [json!("x"), json!("<invalid>"), Value::Null, Value::Null, json!("a"), Value::Null]
    );
    // A filter over items that lack the field fails the whole path, as upstream.
    let object =
        json!({"metadata": {"name": "x"}, "spec": {"items": [{"v": "b"}, {"k": 1, "v": "a"}]}});
    assert_eq!(columns.cells(&object, NOW)[4], Value::Null);
}

#[test]
fn column_definitions() {
    let definitions = crontab_columns().definitions();
    assert_eq!(definitions.len(), 15);
    assert_eq!(definitions[0]["name"], "Name");
    assert_eq!(definitions[0]["format"], "name");
    assert_eq!(definitions[0]["description"], crate::table::NAME_DESC);
    assert_eq!(
        definitions[1],
        json!({"name": "Spec", "type": "string", "format": "", "description": "The cron spec",
               "priority": 0})
    );
    assert_eq!(
        definitions[3],
        json!({"name": "Tags", "type": "string", "format": "",
               "description": "Custom resource definition column (in JSONPath format): .spec.tags",
               "priority": 1})
    );

    // No columns: the default Age column.
    for columns in [Columns::new(None), Columns::new(Some(&json!([])))] {
        let definitions = columns.definitions();
        assert_eq!(definitions.len(), 2);
        assert_eq!(
            definitions[1],
            json!({"name": "Age", "type": "date", "format": "",
                   "description": crate::table::AGE_DESC, "priority": 0})
        );
        assert_eq!(columns.cells(&printed_crontab(), NOW), [json!("my-cron"), json!("10m")]);
    }
}

#[test]
fn table() {
    let columns = Columns::new(None);
    let table = columns.table(vec![printed_crontab()], "42", IncludeObject::Metadata, NOW);
    assert_eq!(table["kind"], "Table");
    assert_eq!(table["apiVersion"], "meta.k8s.io/v1");
    assert_eq!(table["metadata"], json!({"resourceVersion": "42"}));
    assert_eq!(table["columnDefinitions"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        table["rows"],
        json!([{
            "cells": ["my-cron", "10m"],
            "object": {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": printed_crontab()["metadata"]
            }
        }])
    );
    let table = columns.table(vec![printed_crontab()], "", IncludeObject::Object, NOW);
    assert_eq!(table["metadata"], json!({}));
    assert_eq!(table["rows"][0]["object"], printed_crontab());
    let table = columns.table(vec![printed_crontab()], "", IncludeObject::None, NOW);
    assert_eq!(table["rows"][0]["object"], Value::Null);
}

#[test]
fn go_printing() {
    assert_eq!(go_float(1e6), "1e+06");
    assert_eq!(go_float(123456.0), "123456");
    assert_eq!(go_float(0.5), "0.5");
    assert_eq!(go_float(1.5e-5), "1.5e-05");
    assert_eq!(go_float(0.0001), "0.0001");
    assert_eq!(go_float(-2.25), "-2.25");
    assert_eq!(go_float(1.23456789e8), "1.23456789e+08");
    assert_eq!(
        sprint(&json!({"b": [1, "x", null], "a": {"c": true}})),
        "map[a:map[c:true] b:[1 x <nil>]]"
    );
}

#[test]
fn regex_engine() {
    let cron = Regex::new(r"^(\d+|\*)(/\d+)?(\s+(\d+|\*)(/\d+)?){4}$").expect("compiles");
    assert!(cron.is_match("*/5 * * * *"));
    assert!(cron.is_match("0 0 1 1 0"));
    assert!(!cron.is_match("* * * *"));
    assert!(!cron.is_match("every minute"));
    let dns = Regex::new(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$").expect("compiles");
    assert!(dns.is_match("my-name"));
    assert!(!dns.is_match("-bad"));
    // Unanchored search, classes, alternation, counted repetition, case folding.
    assert!(Regex::new(r"b+c").expect("compiles").is_match("aabbbcd"));
    assert!(Regex::new(r"^(foo|ba[rz]){2,3}$").expect("compiles").is_match("foobazbar"));
    assert!(!Regex::new(r"^(foo|ba[rz]){2,3}$").expect("compiles").is_match("foo"));
    assert!(Regex::new(r"(?i)^abc$").expect("compiles").is_match("AbC"));
    assert!(Regex::new(r"^[^\s:]+:\d{1,5}$").expect("compiles").is_match("host:8080"));
    assert!(Regex::new(r"^\p{L}+$").expect("compiles").is_match("héllo"));
    assert!(Regex::new(r"^[[:alpha:]_]+\b").expect("compiles").is_match("ab_c d"));
    // Invalid or unsupported syntax does not compile.
    assert!(Regex::new(r"a**").is_none());
    assert!(Regex::new(r"(a").is_none());
    assert!(Regex::new(r"\p{Greek}").is_none());
    // Pathological patterns stay linear.
    let evil = Regex::new(r"^(a+)+$").expect("compiles");
    assert!(!evil.is_match(&format!("{}!", "a".repeat(5000))));
}

#[test]
fn arbitrary_input_does_not_panic() {
    let schemas = [
        json!(null),
        json!("string"),
        json!({"type": 1, "properties": [], "items": "x", "enum": {}, "required": "a"}),
        json!({"properties": {"a": {"pattern": "(", "minimum": "x", "multipleOf": 0}}}),
        json!({"type": "array", "x-kubernetes-list-type": "map", "items": {"type": "object"}}),
    ];
    let objects = [
        json!(null),
        json!([1, null, {"a": 1}]),
        json!({"a": 3, "b": [null]}),
        json!("text"),
        json!(1e300),
    ];
    for schema in &schemas {
        let schema = Schema::new(Some(schema));
        for object in &objects {
            let mut object = object.clone();
            let _ = schema.validate(&object);
            schema.default(&mut object);
            let _ = schema.prune(&mut object);
        }
    }
    let columns = Columns::new(Some(&json!([
        {"name": "x", "type": "integer", "jsonPath": ".a[-9:99]"},
        {"name": "y", "type": "date", "jsonPath": "{"},
        {"jsonPath": ".nameless"},
        {"name": "z", "type": "number", "jsonPath": ".b[?(@ > )]"}
    ])));
    for object in &objects {
        let _ = columns.cells(object, 0);
    }
}

#[test]
fn json_paths_as_client_go_parses_them() {
    let columns = Columns::new(Some(&json!([
        {"name": "Label", "type": "string",
         "jsonPath": ".metadata.labels.app\\.kubernetes\\.io/name"},
        {"name": "Dict", "type": "string", "jsonPath": ".metadata['name']"},
        {"name": "Last", "type": "string", "jsonPath": ".spec.ports[-1].name"},
        {"name": "Slice", "type": "string", "jsonPath": ".spec.ports[1:].name"},
        {"name": "Star On Map", "type": "string", "jsonPath": ".spec.labels[*]"},
        {"name": "Dot Star", "type": "string", "jsonPath": ".spec.labels.*"},
        {"name": "Exists", "type": "string", "jsonPath": ".spec.ports[?(@.port)].name"},
        {"name": "Number", "type": "integer", "jsonPath": ".spec.ports[?(@.port >= 443)].port"},
        {"name": "Whole", "type": "string", "jsonPath": ".spec.ports[0]"},
        {"name": "Double Quoted Key", "type": "string", "jsonPath": ".metadata[\"name\"]"},
        {"name": "Union", "type": "string", "jsonPath": ".spec.ports[0,1].name"}
    ])));
    let object = json!({
        "metadata": {"name": "x", "labels": {"app.kubernetes.io/name": "web"}},
        "spec": {
            "labels": {"b": "2", "a": "1"},
            "ports": [{"name": "http", "port": 80}, {"name": "https", "port": 443}]
        }
    });
    assert_eq!(
        columns.cells(&object, NOW),
        [
            json!("x"),
            json!("web"),
            json!("x"),
            json!("https"),
            json!("https"),
            // `[*]` is the slice `[:]`: a map cannot be sliced.
            Value::Null,
            json!("1"),
            json!("http"),
            json!(443),
            json!("map[name:http port:80]"),
            Value::Null,
            Value::Null,
        ]
    );
}

#[test]
fn regex_odd_classes_do_not_panic() {
    for pattern in ["[[:]", "[[:]]", "[:alpha:]", "[]a]", "[^]]", r"\x{110000}", "a{2,1}", "(?i"] {
        let _ = Regex::new(pattern).map(|re| re.is_match("a]:"));
    }
    assert!(Regex::new("[]a]").expect("compiles").is_match("]"));
}

#[test]
fn updates_ratchet_unchanged_values() {
    let schema = Schema::new(Some(&crontab_schema()));
    let show = |errors: Vec<crate::validation::FieldError>| -> Vec<String> {
        errors.iter().map(ToString::to_string).collect()
    };
    // Stored before the schema tightened: replicas out of range, a too-short tag, a port whose
    // number is a string.
    let old = crontab(json!({
        "cronSpec": CRON,
        "replicas": 11,
        "tags": ["a", "bc"],
        "ports": [{"name": "http", "port": "80"}, {"name": "https", "port": 443}]
    }));
    // Changing something else keeps the old problems, except under an unchanged set list.
    let mut new = old.clone();
    new["spec"]["image"] = json!("nginx");
    // A map list reordered is still the same list.
    new["spec"]["ports"] = json!([{"name": "https", "port": 443}, {"name": "http", "port": "80"}]);
    assert_eq!(
        show(schema.validate_update(&new, &old)),
        [
            r#"spec.tags[0]: Invalid value: "a": spec.tags[0] in body should be at least 2 chars long"#
        ]
    );
    // A changed value is checked.
    new["spec"]["replicas"] = json!(12);
    assert_eq!(
        show(schema.validate_update(&new, &old)),
        [
            "spec.replicas: Invalid value: 12: spec.replicas in body should be less than or equal \
             to 10",
            r#"spec.tags[0]: Invalid value: "a": spec.tags[0] in body should be at least 2 chars long"#,
        ]
    );
    // Even unchanged, a `set` list is never correlated (nor, then, anything holding it).
    assert_eq!(
        show(schema.validate_update(&old, &old)),
        [
            r#"spec.tags[0]: Invalid value: "a": spec.tags[0] in body should be at least 2 chars long"#
        ]
    );
    // List-type uniqueness is not enforced when the old object already broke it.
    let old = crontab(json!({"cronSpec": CRON, "tags": ["ab", "ab"]}));
    let mut new = old.clone();
    new["spec"]["image"] = json!("nginx");
    assert!(schema.validate_update(&new, &old).is_empty());
    assert_eq!(show(schema.validate(&new)), [r#"spec.tags[1]: Duplicate value: "ab""#]);
}

#[test]
fn cel_rules_are_reported_unchecked_after_blocking_errors() {
    let schema = Schema::new(Some(&json!({
        "type": "object",
        "properties": {"spec": {
            "type": "object",
            "x-kubernetes-validations": [{"rule": "self.min <= self.max"}],
            "properties": {"min": {"type": "integer"}, "max": {"type": "integer", "minimum": 0}}
        }}
    })));
    let show = |object: Value| -> Vec<String> {
        schema.validate(&object).iter().map(ToString::to_string).collect()
    };
    assert_eq!(
        show(json!({"spec": {"min": "1", "max": 2}})),
        [
            r#"spec.min: Invalid value: "string": spec.min in body must be of type integer: "string""#,
            "<nil>: Invalid value: \"null\": some validation rules were not checked because the \
             object was invalid; correct the existing errors to complete validation",
        ]
    );
    // Not a blocking error: the rules run.
    assert_eq!(
        show(json!({"spec": {"min": 1, "max": -2}})),
        [
            "spec.max: Invalid value: -2: spec.max in body should be greater than or equal to 0",
            r#"spec: Invalid value: "object": failed rule: self.min <= self.max"#,
        ]
    );
}
