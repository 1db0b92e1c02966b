//! Tests of CEL `x-kubernetes-validations` rules: rules from real CRDs against custom resources
//! on create and update, each failure as the exact line kube-apiserver reports, and the compile
//! problems CRD validation reports.

use serde_json::{Value, json};

use super::Schema;

/// A `Widget` schema whose nodes carry the kinds of rules real CRDs use.
fn widget_schema() -> Value {
    json!({
        "type": "object",
        "x-kubernetes-validations": [
            {"rule": "self.metadata.name.startsWith('widget-')"}
        ],
        "properties": {
            "spec": {
                "type": "object",
                "x-kubernetes-validations": [
                    {"rule": "self.minReplicas <= self.maxReplicas"},
                    {
                        "rule": "self.replicas <= self.maxReplicas",
                        "message": "replicas must not exceed maxReplicas"
                    },
                    {
                        "rule": "has(self.image) || has(self.template)",
                        "message": "one of image or template is required",
                        "reason": "FieldValueRequired",
                        "fieldPath": ".image"
                    }
                ],
                "properties": {
                    "minReplicas": {"type": "integer"},
                    "maxReplicas": {"type": "integer"},
                    "replicas": {"type": "integer"},
                    "image": {"type": "string"},
                    "template": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                    "name": {
                        "type": "string",
                        "x-kubernetes-validations": [
                            {"rule": "self == oldSelf", "message": "Value is immutable"}
                        ]
                    },
                    "mode": {
                        "type": "string",
                        "x-kubernetes-validations": [{
                            "rule": "self != 'Legacy'",
                            "message": "Legacy mode is no longer supported",
                            "reason": "FieldValueForbidden"
                        }]
                    },
                    "tags": {
                        "type": "array",
                        "items": {"type": "string"},
                        "x-kubernetes-validations": [
                            {"rule": "self.all(x, x.matches('^[a-z]+$'))"},
                            {
                                "rule": "self.size() <= 3",
                                "messageExpression": "'at most 3 tags, got ' + string(self.size())"
                            }
                        ]
                    },
                    "volumes": {
                        "type": "array",
                        "items": {"type": "string"},
                        "x-kubernetes-validations": [{
                            "rule": "oldSelf.size() <= self.size()",
                            "message": "volumes may not be removed"
                        }]
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
                            },
                            "x-kubernetes-validations": [
                                {"rule": "self.port == oldSelf.port", "message": "port is immutable"},
                                {"rule": "self.port > 0 && self.port < 65536"}
                            ]
                        }
                    },
                    "labels": {
                        "type": "object",
                        "additionalProperties": {
                            "type": "string",
                            "x-kubernetes-validations": [{"rule": "self.size() <= 5"}]
                        }
                    },
                    "generation": {
                        "type": "integer",
                        "x-kubernetes-validations": [{
                            "rule": "!oldSelf.hasValue() || self >= oldSelf.value()",
                            "message": "generation may not decrease",
                            "optionalOldSelf": true
                        }]
                    },
                    "window": {
                        "type": "object",
                        "properties": {
                            "start": {"type": "string", "format": "date-time"},
                            "end": {"type": "string", "format": "date-time"},
                            "every": {"type": "string", "format": "duration"}
                        },
                        "x-kubernetes-validations": [
                            {"rule": "self.start < self.end"},
                            {"rule": "self.every >= duration('1m')"}
                        ]
                    },
                    "ratio": {
                        "type": "number",
                        "x-kubernetes-validations": [{"rule": "self <= 1.0"}]
                    },
                    "limit": {
                        "type": "object",
                        "properties": {"value": {"type": "integer"}},
                        "x-kubernetes-validations": [{"rule": "self.value > 0"}]
                    }
                }
            }
        }
    })
}

fn widget(spec: Value) -> Value {
    json!({
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "widget-a", "namespace": "default"},
        "spec": spec,
    })
}

fn good_spec() -> Value {
    json!({
        "minReplicas": 1,
        "maxReplicas": 3,
        "replicas": 2,
        "image": "nginx",
        "name": "a",
        "mode": "Fast",
        "tags": ["a", "b"],
        "volumes": ["data"],
        "ports": [{"name": "http", "port": 80}],
        "labels": {"tier": "web"},
        "generation": 2,
        "window": {"start": "2026-01-01T00:00:00Z", "end": "2026-01-02T00:00:00Z", "every": "5m"},
        "ratio": 0.5,
    })
}

fn lines(errors: Vec<crate::validation::FieldError>) -> Vec<String> {
    errors.iter().map(|e| format!("{e} ({})", e.reason)).collect()
}

fn create(spec: Value) -> Vec<String> {
    lines(Schema::new(Some(&widget_schema())).validate(&widget(spec)))
}

fn update(spec: Value, old_spec: Value) -> Vec<String> {
    lines(Schema::new(Some(&widget_schema())).validate_update(&widget(spec), &widget(old_spec)))
}

fn with(changes: Value) -> Value {
    let mut spec = good_spec();
    if let (Some(spec), Some(changes)) = (spec.as_object_mut(), changes.as_object()) {
        for (k, v) in changes {
            if v.is_null() {
                spec.remove(k);
            } else {
                spec.insert(k.clone(), v.clone());
            }
        }
    }
    spec
}

#[test]
fn a_valid_widget_passes_every_rule() {
    assert_eq!(create(good_spec()), Vec::<String>::new());
    assert_eq!(update(good_spec(), good_spec()), Vec::<String>::new());
}

#[test]
fn object_rules_with_default_and_custom_messages() {
    assert_eq!(
        create(with(json!({"minReplicas": 5, "replicas": 4}))),
        [
            r#"spec: Invalid value: "object": failed rule: self.minReplicas <= self.maxReplicas (FieldValueInvalid)"#,
            r#"spec: Invalid value: "object": replicas must not exceed maxReplicas (FieldValueInvalid)"#,
        ]
    );
}

#[test]
fn root_rules_see_the_metadata_name() {
    let schema = Schema::new(Some(&widget_schema()));
    let mut object = widget(good_spec());
    object["metadata"]["name"] = json!("gadget");
    assert_eq!(
        lines(schema.validate(&object)),
        [
            r#"<nil>: Invalid value: "object": failed rule: self.metadata.name.startsWith('widget-') (FieldValueInvalid)"#
        ]
    );
}

#[test]
fn has_with_a_reason_and_a_field_path() {
    assert_eq!(
        create(with(json!({"image": null}))),
        ["spec.image: Required value: one of image or template is required (FieldValueRequired)"]
    );
    assert_eq!(
        create(with(json!({"image": null, "template": {"kind": "Pod"}}))),
        Vec::<String>::new()
    );
}

#[test]
fn forbidden_reason() {
    assert_eq!(
        create(with(json!({"mode": "Legacy"}))),
        ["spec.mode: Forbidden: Legacy mode is no longer supported (FieldValueForbidden)"]
    );
}

#[test]
fn list_macros_size_and_message_expressions() {
    assert_eq!(
        create(with(json!({"tags": ["a", "B", "c", "d"]}))),
        [
            r#"spec.tags: Invalid value: "array": failed rule: self.all(x, x.matches('^[a-z]+$')) (FieldValueInvalid)"#,
            r#"spec.tags: Invalid value: "array": at most 3 tags, got 4 (FieldValueInvalid)"#,
        ]
    );
}

#[test]
fn map_values_are_checked_under_their_keys() {
    assert_eq!(
        create(with(json!({"labels": {"tier": "web", "owner": "platform"}}))),
        [
            r#"spec.labels[owner]: Invalid value: "string": failed rule: self.size() <= 5 (FieldValueInvalid)"#
        ]
    );
}

#[test]
fn immutability_is_a_transition_rule() {
    // On create there is no old value: the transition rule does not run.
    assert_eq!(create(with(json!({"name": "b"}))), Vec::<String>::new());
    assert_eq!(
        update(with(json!({"name": "b"})), good_spec()),
        [r#"spec.name: Invalid value: "string": Value is immutable (FieldValueInvalid)"#]
    );
    // Without an old value to correlate (the field was unset) it does not run either.
    assert_eq!(
        update(with(json!({"name": "b"})), with(json!({"name": null}))),
        Vec::<String>::new()
    );
}

#[test]
fn transition_rule_on_a_list() {
    assert_eq!(
        update(with(json!({"volumes": []})), with(json!({"volumes": ["a", "b"]}))),
        [r#"spec.volumes: Invalid value: "array": volumes may not be removed (FieldValueInvalid)"#]
    );
    assert_eq!(
        update(with(json!({"volumes": ["a", "b", "c"]})), good_spec()),
        Vec::<String>::new()
    );
}

#[test]
fn map_list_items_correlate_by_key() {
    let old =
        with(json!({"ports": [{"name": "http", "port": 80}, {"name": "https", "port": 443}]}));
    // Reordered, same ports: nothing changed for the transition rule.
    let new =
        with(json!({"ports": [{"name": "https", "port": 443}, {"name": "http", "port": 80}]}));
    assert_eq!(update(new, old.clone()), Vec::<String>::new());
    let new = with(
        json!({"ports": [{"name": "https", "port": 8443}, {"name": "metrics", "port": 9090}]}),
    );
    assert_eq!(
        update(new, old),
        [r#"spec.ports[0]: Invalid value: "object": port is immutable (FieldValueInvalid)"#]
    );
}

#[test]
fn immutable_set_and_map_lists_ignore_their_order() {
    let schema = Schema::new(Some(&json!({
        "type": "object",
        "properties": {"spec": {
            "type": "object",
            "x-kubernetes-validations": [{"rule": "self == oldSelf", "message": "Value is immutable"}],
            "properties": {
                "tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
                "ports": {
                    "type": "array",
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["name"],
                    "items": {"type": "object", "properties": {
                        "name": {"type": "string"},
                        "port": {"type": "integer"}
                    }}
                },
                "args": {"type": "array", "items": {"type": "string"}}
            }
        }}
    })));
    let spec = |tags: Value, ports: Value, args: Value| json!({"spec": {"tags": tags, "ports": ports, "args": args}});
    let old = spec(
        json!(["a", "b"]),
        json!([{"name": "http", "port": 80}, {"name": "https", "port": 443}]),
        json!(["x", "y"]),
    );
    let reordered = spec(
        json!(["b", "a"]),
        json!([{"name": "https", "port": 443}, {"name": "http", "port": 80}]),
        json!(["x", "y"]),
    );
    assert!(schema.validate_update(&reordered, &old).is_empty());
    let changed = spec(
        json!(["b", "a"]),
        json!([{"name": "https", "port": 443}, {"name": "http", "port": 80}]),
        json!(["y", "x"]),
    );
    assert_eq!(
        lines(schema.validate_update(&changed, &old)),
        [r#"spec: Invalid value: "object": Value is immutable (FieldValueInvalid)"#]
    );
}

#[test]
fn optional_old_self_runs_on_create_too() {
    assert_eq!(create(with(json!({"generation": 0}))), Vec::<String>::new());
    assert_eq!(
        update(with(json!({"generation": 1})), good_spec()),
        [
            r#"spec.generation: Invalid value: "integer": generation may not decrease (FieldValueInvalid)"#
        ]
    );
}

#[test]
fn formats_become_timestamps_and_durations() {
    assert_eq!(
        create(with(json!({"window": {
            "start": "2026-01-02T00:00:00Z",
            "end": "2026-01-01T00:00:00+01:00",
            "every": "30s"
        }}))),
        [
            r#"spec.window: Invalid value: "object": failed rule: self.start < self.end (FieldValueInvalid)"#,
            r#"spec.window: Invalid value: "object": failed rule: self.every >= duration('1m') (FieldValueInvalid)"#,
        ]
    );
}

#[test]
fn numbers_are_doubles_and_missing_fields_are_runtime_errors() {
    assert_eq!(
        create(with(json!({"ratio": 2, "limit": {}}))),
        [
            r#"spec.limit: Invalid value: "object": no such key: value evaluating rule: self.value > 0 (FieldValueInvalid)"#,
            r#"spec.ratio: Invalid value: "number": failed rule: self <= 1.0 (FieldValueInvalid)"#,
        ]
    );
}

#[test]
fn unchanged_invalid_values_are_ratcheted_on_update() {
    let old = with(json!({"tags": ["A"]}));
    assert_eq!(update(old.clone(), old.clone()), Vec::<String>::new());
    assert_eq!(
        update(with(json!({"tags": ["A", "b"]})), old),
        [
            r#"spec.tags: Invalid value: "array": failed rule: self.all(x, x.matches('^[a-z]+$')) (FieldValueInvalid)"#
        ]
    );
}

#[test]
fn blocking_errors_skip_the_rules() {
    assert_eq!(
        create(with(json!({"minReplicas": "one", "mode": "Legacy"}))),
        [
            r#"spec.minReplicas: Invalid value: "string": spec.minReplicas in body must be of type integer: "string" (FieldValueTypeInvalid)"#,
            "<nil>: Invalid value: \"null\": some validation rules were not checked because the \
             object was invalid; correct the existing errors to complete validation (FieldValueInvalid)",
        ]
    );
}

/// Kubernetes' library functions on top of the crate's standard ones.
#[test]
fn library_functions() {
    let rules = [
        "'a,b,c'.split(',') == ['a', 'b', 'c']",
        "'a,b,c'.split(',', 2) == ['a', 'b,c']",
        "['a', 'b'].join('-') == 'a-b'",
        "['a', 'b'].join() == 'ab'",
        "'hello'.charAt(1) == 'e' && 'hello'.charAt(5) == ''",
        "'hello'.indexOf('l') == 2 && 'hello'.lastIndexOf('l') == 3",
        "'hello'.indexOf('l', 3) == 3 && 'hello'.lastIndexOf('l', 2) == 2",
        "'hello'.indexOf('') == 0 && 'hello'.indexOf('z') == -1",
        "'Hello'.lowerAscii() == 'hello' && 'Hello'.upperAscii() == 'HELLO'",
        "'aaa'.replace('a', 'b') == 'bbb' && 'aaa'.replace('a', 'b', 1) == 'baa'",
        "'hello'.substring(1) == 'ello' && 'hello'.substring(1, 3) == 'el'",
        "'  x  '.trim() == 'x'",
        "[1, 2, 2, 3].isSorted() && ![2, 1].isSorted()",
        "[1, 2, 3].sum() == 6 && [].sum() == 0 && [1.5, 2.5].sum() == 4.0",
        "[3, 1, 2].min() == 1 && [3, 1, 2].max() == 3",
        "[1, 2, 1].indexOf(1) == 0 && [1, 2, 1].lastIndexOf(1) == 2",
        "max(1, 5, 3) == 5",
        "'abc'.startsWith('a') && 'abc'.endsWith('c') && 'abc'.contains('b')",
        "[1, 2, 3].exists_one(x, x == 2) && [1, 2, 3].map(x, x * 2) == [2, 4, 6]",
        "[1, 2, 3].filter(x, x > 1).size() == 2 && [1, 2].exists(x, x == 2)",
        "size('abc') == 3 && 'abc'.matches('^a')",
        "quantity('1Gi').isGreaterThan(quantity('1G')) && quantity('500m').isLessThan(quantity('1'))",
        "quantity('1k') == quantity('1000') && quantity('2').compareTo(quantity('2000m')) == 0",
        "isQuantity('10Mi') && !isQuantity('ten') && quantity('-1').sign() == -1",
        "quantity('1').add(quantity('500m')) == quantity('1.5') && quantity('2').sub(1) == quantity('1')",
        "quantity('3').isInteger() && quantity('3').asInteger() == 3 && !quantity('1.5').isInteger()",
        "quantity('1.5').asApproximateFloat() == 1.5",
        "isURL('https://example.com:8443/a%20b?x=1&x=2&y=z') && !isURL('example.com') && !isURL('')",
        "url('https://example.com:8443/a%20b').getScheme() == 'https'",
        "url('https://example.com:8443/a').getHost() == 'example.com:8443'",
        "url('https://[::1]:80/').getHostname() == '::1' && url('https://[::1]:80/').getPort() == '80'",
        "url('https://example.com/a%20b').getEscapedPath() == '/a%20b'",
        "url('/path?x=1&x=2&y=a+b').getQuery() == {'x': ['1', '2'], 'y': ['a b']}",
        "!format.dns1123Label().validate('my-name').hasValue()",
        "format.dns1123Label().validate('My_Name').value().size() == 1",
        "format.named('uuid').value().validate('nope') == optional.of(['does not match the UUID format'])",
        "!format.named('nope').hasValue() && !format.dns1123LabelPrefix().validate('abc-').hasValue()",
    ];
    for rule in rules {
        let schema = Schema::new(Some(&json!({
            "type": "object",
            "x-kubernetes-validations": [{"rule": rule}]
        })));
        let errors = lines(schema.validate(&json!({"metadata": {"name": "x"}})));
        assert_eq!(errors, Vec::<String>::new(), "{rule}");
    }
    let schema = Schema::new(Some(&json!({
        "type": "object",
        "x-kubernetes-validations": [
            {"rule": "[].min() == 1"},
            {"rule": "'abc'.substring(2, 1) == ''"},
            {"rule": "quantity('ten').sign() == 1"},
            {"rule": "quantity('1.5').asInteger() == 1"},
            {"rule": "self.nope == 1"},
            {"rule": "url('example.com').getHost() == ''"},
            {"rule": "self.metadata.name > 1"}
        ]
    })));
    assert_eq!(
        lines(schema.validate(&json!({"metadata": {"name": "a"}}))),
        [
            r#"<nil>: Invalid value: "object": min called on empty list evaluating rule: [].min() == 1 (FieldValueInvalid)"#,
            r#"<nil>: Invalid value: "object": invalid substring range. start: 2, end: 1 evaluating rule: 'abc'.substring(2, 1) == '' (FieldValueInvalid)"#,
            r#"<nil>: Invalid value: "object": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$' evaluating rule: quantity('ten').sign() == 1 (FieldValueInvalid)"#,
            r#"<nil>: Invalid value: "object": cannot convert value to integer evaluating rule: quantity('1.5').asInteger() == 1 (FieldValueInvalid)"#,
            r#"<nil>: Invalid value: "object": no such key: nope evaluating rule: self.nope == 1 (FieldValueInvalid)"#,
            r#"<nil>: Invalid value: "object": URL parse error during conversion from string: parse "example.com": invalid URI for request evaluating rule: url('example.com').getHost() == '' (FieldValueInvalid)"#,
            r#"<nil>: Invalid value: "object": 'no such overload': call arguments did not match a supported operator, function or macro signature for rule: self.metadata.name > 1 (FieldValueInvalid)"#,
        ]
    );
}

#[test]
fn escaped_property_names() {
    let schema = Schema::new(Some(&json!({
        "type": "object",
        "properties": {"spec": {
            "type": "object",
            "properties": {
                "namespace": {"type": "string"},
                "dash-name": {"type": "string"},
                "a.b": {"type": "string"}
            },
            "x-kubernetes-validations": [
                {"rule": "self.__namespace__ == 'x' && self.dash__dash__name == 'y' && self.a__dot__b == 'z'"}
            ]
        }}
    })));
    let object = json!({"spec": {"namespace": "x", "dash-name": "y", "a.b": "z"}});
    assert_eq!(lines(schema.validate(&object)), Vec::<String>::new());
}

// === compiling rules in CRD validation ===

/// The errors of creating a one-version CRD whose schema's `spec` has `rules` (and the
/// properties `replicas`, `image`, `tags`, `settings`).
fn crd_errors(rules: Value) -> Vec<String> {
    let mut crd = json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "kind": "Widget"},
            "versions": [{
                "name": "v1",
                "served": true,
                "storage": true,
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "x-kubernetes-validations": [{"rule": "self.metadata.name.size() < 20"}],
                    "properties": {"spec": {
                        "type": "object",
                        "x-kubernetes-validations": rules,
                        "properties": {
                            "replicas": {"type": "integer"},
                            "image": {"type": "string"},
                            "tags": {
                                "type": "array",
                                "items": {
                                    "type": "string",
                                    "x-kubernetes-validations": [{"rule": "self == oldSelf"}]
                                }
                            },
                            "settings": {
                                "type": "object",
                                "additionalProperties": {"type": "string"}
                            }
                        }
                    }}
                }}
            }]
        }
    });
    let group = "apiextensions.k8s.io";
    let kind = "CustomResourceDefinition";
    crate::defaults::apply(group, kind, &mut crd);
    crate::crd::prepare_for_create(&mut crd);
    crate::validation::validate(group, kind, &crd, crate::validation::Write::Create)
        .iter()
        .map(ToString::to_string)
        .collect()
}

const AT: &str = "spec.validation.openAPIV3Schema.properties[spec].x-kubernetes-validations";
const TAGS_AT: &str = "spec.validation.openAPIV3Schema.properties[spec].properties[tags].items.x-kubernetes-validations[0].rule";

#[test]
fn crd_rules_compile_against_their_schema() {
    let uncorrelatable = format!(
        "{TAGS_AT}: Invalid value: \"self == oldSelf\": oldSelf cannot be used on the \
         uncorrelatable portion of the schema within \
         spec.validation.openAPIV3Schema.properties[spec].properties[tags]"
    );
    let ok = json!([
        {"rule": "self.replicas <= 10 && self.image.startsWith('nginx')"},
        {"rule": "self.settings.all(k, self.settings[k] != '') && has(self.tags)", "fieldPath": ".settings['a.b']"},
        {"rule": "self.replicas == oldSelf.replicas", "messageExpression": "'was ' + string(oldSelf.replicas)"},
    ]);
    assert_eq!(crd_errors(ok), std::slice::from_ref(&uncorrelatable));
    let errors = crd_errors(json!([
        {"rule": "self.replicas <="},
        {"rule": "self.replica > 1"},
        {"rule": "size(tags) > 1", "messageExpression": "'bad ' +"},
        {"rule": "self.replicas > 1", "messageExpression": "'bad ' +"},
        {"rule": "self.replicas > 1", "optionalOldSelf": true},
    ]));
    assert_eq!(
        errors,
        [
            uncorrelatable.clone(),
            format!(
                "{AT}[0].rule: Invalid value: apiextensions.ValidationRule{{Rule:\"self.replicas <=\", \
                 Message:\"\", MessageExpression:\"\", Reason:(*apiextensions.FieldValueErrorReason)(nil), \
                 FieldPath:\"\", OptionalOldSelf:(*bool)(nil)}}: compilation failed: ERROR: <input>:1:17: \
                 Syntax error: mismatched input '<EOF>' expecting {{'[', '{{', '(', '.', '-', '!', 'true', \
                 'false', 'null', NUM_FLOAT, NUM_INT, NUM_UINT, STRING, BYTES, IDENTIFIER}}\n \
                 | self.replicas <=\n | ................^"
            ),
            format!(
                "{AT}[1].rule: Invalid value: apiextensions.ValidationRule{{Rule:\"self.replica > 1\", \
                 Message:\"\", MessageExpression:\"\", Reason:(*apiextensions.FieldValueErrorReason)(nil), \
                 FieldPath:\"\", OptionalOldSelf:(*bool)(nil)}}: compilation failed: ERROR: <input>:1:5: \
                 undefined field 'replica'\n | self.replica > 1\n | ....^"
            ),
            format!(
                "{AT}[2].rule: Invalid value: apiextensions.ValidationRule{{Rule:\"size(tags) > 1\", \
                 Message:\"\", MessageExpression:\"'bad ' +\", Reason:(*apiextensions.FieldValueErrorReason)(nil), \
                 FieldPath:\"\", OptionalOldSelf:(*bool)(nil)}}: compilation failed: ERROR: <input>:1:6: \
                 undeclared reference to 'tags' (in container '')\n | size(tags) > 1\n | .....^"
            ),
            format!(
                "{AT}[3].messageExpression: Invalid value: apiextensions.ValidationRule{{Rule:\"self.replicas > 1\", \
                 Message:\"\", MessageExpression:\"'bad ' +\", Reason:(*apiextensions.FieldValueErrorReason)(nil), \
                 FieldPath:\"\", OptionalOldSelf:(*bool)(nil)}}: messageExpression compilation failed: ERROR: \
                 <input>:1:9: Syntax error: mismatched input '<EOF>' expecting {{'[', '{{', '(', '.', '-', '!', \
                 'true', 'false', 'null', NUM_FLOAT, NUM_INT, NUM_UINT, STRING, BYTES, IDENTIFIER}}\n \
                 | 'bad ' +\n | ........^"
            ),
            format!(
                "{AT}[4].optionalOldSelf: Invalid value: true: may not be set if oldSelf is not used in rule"
            ),
        ]
    );
    // A bad fieldPath is a schema error; the node's rules are then not compiled.
    assert_eq!(
        crd_errors(json!([{"rule": "self.x", "fieldPath": ".nope"}])),
        [
            format!(
                "{AT}[0].fieldPath: Invalid value: \".nope\": fieldPath must be a valid path: does not refer to a valid field"
            ),
            uncorrelatable,
        ]
    );
}

#[test]
fn crd_rules_call_only_declared_functions() {
    let errors = crd_errors(json!([
        {"rule": "self.image.lowerAscii().startsWith('a') && optional.none().hasValue() == false"},
        {"rule": "type(self.replicas) == int && string(self.replicas).size() > 0 && dyn(1) == 1"},
        {"rule": "!format.dns1123Label().validate(self.image).hasValue() && isURL(self.image) && quantity('1').sign() == 1"},
        {"rule": "self.image.shout() == 'A'"},
        {"rule": "self.replicas"},
        {"rule": "self.replicas + 1"},
    ]));
    let first = errors.get(1).map(String::as_str).unwrap_or("");
    assert_eq!(errors.len(), 4, "{errors:#?}");
    for (i, rule) in [(4, "self.replicas"), (5, "self.replicas + 1")] {
        assert_eq!(
            errors[i - 2],
            format!(
                "{AT}[{i}].rule: Invalid value: apiextensions.ValidationRule{{Rule:\"{rule}\", \
                 Message:\"\", MessageExpression:\"\", \
                 Reason:(*apiextensions.FieldValueErrorReason)(nil), FieldPath:\"\", \
                 OptionalOldSelf:(*bool)(nil)}}: cel expression must evaluate to a bool"
            )
        );
    }
    assert!(
        first.ends_with(
            ": compilation failed: ERROR: <input>:1:17: undeclared reference to 'shout' (in \
             container '')\n | self.image.shout() == 'A'\n | ................^"
        ),
        "{first}"
    );
}
