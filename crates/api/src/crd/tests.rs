//! Tests of CustomResourceDefinitions as objects: defaults, strategy, validation messages
//! (as kubectl prints them), naming and deletion status, strict field decoding.

use serde_json::{Value, json};

use super::*;
use crate::validation::{Write, validate};

const GROUP: &str = "apiextensions.k8s.io";
const KIND: &str = "CustomResourceDefinition";
const NOW: &str = "2026-01-01T00:00:00Z";
const LATER: &str = "2026-01-01T00:01:00Z";

fn crd() -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "kind": "Widget", "shortNames": ["wd"]},
            "versions": [{
                "name": "v1",
                "served": true,
                "storage": true,
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "properties": {
                        "spec": {
                            "type": "object",
                            "properties": {
                                "size": {"type": "integer", "default": 1},
                                "color": {"type": "string", "enum": ["red", "blue"]},
                                "labels": {
                                    "type": "object",
                                    "additionalProperties": {"type": "string"}
                                },
                                "ports": {
                                    "type": "array",
                                    "x-kubernetes-list-type": "map",
                                    "x-kubernetes-list-map-keys": ["name"],
                                    "items": {
                                        "type": "object",
                                        "required": ["name"],
                                        "properties": {"name": {"type": "string"}}
                                    }
                                },
                                "port": {"x-kubernetes-int-or-string": true},
                                "raw": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
                            },
                            "x-kubernetes-validations": [{"rule": "self.size < 10"}]
                        },
                        "status": {"type": "object", "properties": {"replicas": {"type": "integer"}}}
                    }
                }},
                "subresources": {"status": {}, "scale": {
                    "specReplicasPath": ".spec.size",
                    "statusReplicasPath": ".status.replicas"
                }},
                "additionalPrinterColumns": [
                    {"name": "Size", "type": "integer", "jsonPath": ".spec.size"}
                ],
                "selectableFields": [{"jsonPath": ".spec.color"}]
            }]
        }
    })
}

/// The object as a create sees it: defaulted, prepared, validated.
fn created(mut object: Value) -> (Value, Vec<String>) {
    crate::defaults::apply(GROUP, KIND, &mut object);
    prepare_for_create(&mut object);
    let errors = validate(GROUP, KIND, &object, Write::Create);
    (object, errors.iter().map(ToString::to_string).collect())
}

fn create_errors(object: Value) -> Vec<String> {
    created(object).1
}

/// `crd()` with `patch` (a JSON pointer and its new value; `null` removes).
fn with(patches: &[(&str, Value)]) -> Value {
    let mut object = crd();
    for (pointer, value) in patches {
        let (parent, last) = pointer.rsplit_once('/').unwrap();
        let parent = object.pointer_mut(parent).unwrap();
        match (parent, value) {
            (Value::Object(map), Value::Null) => {
                map.remove(last);
            }
            (Value::Object(map), value) => {
                map.insert(last.to_owned(), value.clone());
            }
            (Value::Array(items), value) => items[last.parse::<usize>().unwrap()] = value.clone(),
            _ => panic!("{pointer}"),
        }
    }
    object
}

const SCHEMA: &str = "/spec/versions/0/schema/openAPIV3Schema";

fn schema_with(pointer: &str, value: Value) -> Value {
    with(&[(&format!("{SCHEMA}{pointer}"), value)])
}

fn assert_has(errors: &[String], expected: &str) {
    assert!(errors.iter().any(|e| e == expected), "{expected}\nnot in {errors:#?}");
}

// === defaults and strategy ===

#[test]
fn valid_crd_passes() {
    let (object, errors) = created(crd());
    assert_eq!(errors, Vec::<String>::new());
    assert_eq!(object["spec"]["names"]["singular"], "widget");
    assert_eq!(object["spec"]["names"]["listKind"], "WidgetList");
    assert_eq!(object["spec"]["conversion"], json!({"strategy": "None"}));
    assert_eq!(object["metadata"]["generation"], 1);
    assert_eq!(
        object["status"],
        json!({"acceptedNames": {"plural": "", "kind": ""}, "storedVersions": ["v1"]})
    );
}

#[test]
fn defaults_keep_what_is_set() {
    let mut object = with(&[
        ("/spec/names/singular", json!("wdgt")),
        ("/spec/names/listKind", json!("Widgets")),
        (
            "/spec/conversion",
            json!({"strategy": "Webhook", "webhook": {"conversionReviewVersions": ["v1"],
                "clientConfig": {"service": {"name": "conv", "namespace": "default"}}}}),
        ),
    ]);
    set_defaults(&mut object);
    assert_eq!(object["spec"]["names"]["singular"], "wdgt");
    assert_eq!(object["spec"]["names"]["listKind"], "Widgets");
    assert_eq!(object["spec"]["conversion"]["webhook"]["clientConfig"]["service"]["port"], 443);
    assert_eq!(object["status"]["storedVersions"], json!(["v1"]));
    // No kind: no list kind, an empty singular.
    let mut object = with(&[("/spec/names", json!({"plural": "widgets"}))]);
    set_defaults(&mut object);
    assert_eq!(object["spec"]["names"], json!({"plural": "widgets", "singular": ""}));
    // Any JSON at all: no panic.
    for mut odd in [json!(null), json!([]), json!({"spec": 3}), json!({"spec": {"names": []}})] {
        set_defaults(&mut odd);
        prepare_for_create(&mut odd);
        let old = odd.clone();
        prepare_for_update(&mut odd, &old);
        prepare_for_status_update(&mut odd, &old);
        let _ = validate(GROUP, KIND, &odd, Write::Create);
        let _ = validate(GROUP, KIND, &odd, Write::Update(&old));
        let _ = naming_status(&odd, &[&old], NOW);
    }
}

#[test]
fn update_bumps_generation_on_spec_change_and_keeps_status() {
    let (old, _) = created(crd());
    let mut old = old;
    old["status"]["acceptedNames"] = json!({"plural": "widgets", "kind": "Widget"});
    // Same spec, a status the client tried to change: generation stays, status is the old one.
    let mut same = old.clone();
    same["status"] = json!({"storedVersions": ["v9"]});
    prepare_for_update(&mut same, &old);
    assert_eq!(same["metadata"]["generation"], 1);
    assert_eq!(same["status"], old["status"]);
    // A new storage version: generation 2, the new version appended to storedVersions.
    let mut changed = old.clone();
    changed["spec"]["versions"][0]["storage"] = json!(false);
    let mut v2 = changed["spec"]["versions"][0].clone();
    v2["name"] = json!("v2");
    v2["storage"] = json!(true);
    changed["spec"]["versions"].as_array_mut().unwrap().push(v2);
    prepare_for_update(&mut changed, &old);
    assert_eq!(changed["metadata"]["generation"], 2);
    assert_eq!(changed["status"]["storedVersions"], json!(["v1", "v2"]));
    // A status write keeps the stored spec.
    let mut status = changed.clone();
    status["spec"]["group"] = json!("other.com");
    prepare_for_status_update(&mut status, &changed);
    assert_eq!(status["spec"], changed["spec"]);
}

// === validation ===

#[test]
fn metadata_and_names() {
    let errors = create_errors(with(&[("/metadata/name", json!("foo"))]));
    assert_eq!(
        errors,
        ["metadata.name: Invalid value: \"foo\": must be spec.names.plural+\".\"+spec.group"]
    );
    let errors = create_errors(with(&[
        ("/metadata/name", json!("widgets.foo")),
        ("/spec/group", json!("foo")),
    ]));
    assert_eq!(
        errors,
        ["spec.group: Invalid value: \"foo\": should be a domain with at least one dot"]
    );
    let errors = create_errors(with(&[("/spec/scope", json!("Global"))]));
    assert_eq!(
        errors,
        [
            "spec.scope: Unsupported value: \"Global\": supported values: \"Cluster\", \"Namespaced\""
        ]
    );
    let errors = create_errors(with(&[("/spec/scope", Value::Null)]));
    assert_eq!(errors, ["spec.scope: Required value"]);
    let errors = create_errors(with(&[
        ("/metadata/name", json!("Widgets.example.com")),
        ("/spec/names/plural", json!("Widgets")),
    ]));
    assert_has(
        &errors,
        "spec.names.plural: Invalid value: \"Widgets\": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')",
    );
    let errors = create_errors(with(&[("/spec/names/listKind", json!("Widget"))]));
    assert_eq!(
        errors,
        ["spec.names.listKind: Invalid value: \"Widget\": kind and listKind may not be the same"]
    );
    let errors = create_errors(with(&[("/spec/names/kind", json!("Wid_get"))]));
    assert_has(
        &errors,
        "spec.names.kind: Invalid value: \"Wid_get\": may have mixed case, but should otherwise match: a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')",
    );
    let errors = create_errors(with(&[("/spec/names/kind", Value::Null)]));
    assert_has(&errors, "spec.names.kind: Required value");
    assert_has(&errors, "spec.names.listKind: Required value");
}

#[test]
fn versions() {
    let errors = create_errors(with(&[("/spec/versions/0/storage", json!(false))]));
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert!(errors[0].starts_with("spec.versions: Invalid value: []apiextensions.CustomResourceDefinitionVersion{apiextensions.CustomResourceDefinitionVersion{Name:\"v1\", Served:true, Storage:false"), "{}", errors[0]);
    assert!(errors[0].ends_with(": must have exactly one version marked as storage version"));
    assert_eq!(
        errors[1],
        "status.storedVersions: Invalid value: []string(nil): must have at least one stored version"
    );
    let mut two = crd();
    let second = two["spec"]["versions"][0].clone();
    two["spec"]["versions"].as_array_mut().unwrap().push(second);
    let errors = create_errors(two);
    assert!(
        errors.iter().any(|e| e.ends_with(": must contain unique version names")),
        "{errors:#?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.ends_with(": must have exactly one version marked as storage version"))
    );
    let errors = create_errors(with(&[("/spec/versions/0/name", json!("V1"))]));
    assert_has(
        &errors,
        "spec.versions[0].name: Invalid value: \"V1\": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')",
    );
    let errors = create_errors(with(&[("/spec/versions/0/schema", Value::Null)]));
    assert_has(
        &errors,
        "spec.versions[0].schema.openAPIV3Schema: Required value: schemas are required",
    );
    let errors = create_errors(with(&[("/spec/versions/0/deprecationWarning", json!("old"))]));
    assert_eq!(
        errors,
        [
            "spec.versions[0].deprecationWarning: Invalid value: \"old\": can only be set for deprecated versions"
        ]
    );
}

#[test]
fn structural_schema() {
    // One version: its schema is the top-level (internal) validation.
    let errors = create_errors(schema_with("/properties/spec/properties/size/type", Value::Null));
    assert_eq!(
        errors,
        [
            "spec.validation.openAPIV3Schema.properties[spec].properties[size].type: Required value: must not be empty for specified object fields"
        ]
    );
    // Two versions with different schemas: per-version paths.
    let mut two = crd();
    let mut second = two["spec"]["versions"][0].clone();
    second["name"] = json!("v2");
    second["storage"] = json!(false);
    second["schema"]["openAPIV3Schema"]["properties"]["status"] = json!({"properties": {}});
    two["spec"]["versions"].as_array_mut().unwrap().push(second);
    let errors = create_errors(two);
    assert_eq!(
        errors,
        [
            "spec.versions[1].schema.openAPIV3Schema.properties[status].type: Required value: must not be empty for specified object fields"
        ]
    );
    let errors = create_errors(schema_with("/type", Value::Null));
    assert_has(
        &errors,
        "spec.validation.openAPIV3Schema.type: Required value: must not be empty at the root",
    );
    let errors =
        create_errors(schema_with("/properties/spec/properties/ports/items/type", Value::Null));
    assert_has(
        &errors,
        "spec.validation.openAPIV3Schema.properties[spec].properties[ports].items.type: Required value: must not be empty for specified array items",
    );
    let errors = create_errors(schema_with(
        "/properties/metadata",
        json!({"type": "object", "properties": {"labels": {"type": "object"}}}),
    ));
    assert_eq!(
        errors,
        [
            "spec.validation.openAPIV3Schema.properties[metadata]: Forbidden: must not specify anything other than name and generateName, but metadata is implicitly specified"
        ]
    );
    let allowed = create_errors(schema_with(
        "/properties/metadata",
        json!({"type": "object", "properties": {"name": {"type": "string", "maxLength": 20}}}),
    ));
    assert_eq!(allowed, Vec::<String>::new());
    let errors = create_errors(schema_with(
        "/properties/spec/anyOf",
        json!([{"properties": {"other": {"type": "string"}}}]),
    ));
    assert_eq!(
        errors,
        [
            "spec.validation.openAPIV3Schema.properties[spec].anyOf[0].properties[other].type: Forbidden: must be empty to be structural",
        ]
    );
    // Completeness is checked for the root's junctors (as upstream does).
    let mut object = schema_with("/anyOf", json!([{"properties": {"other": {}}}]));
    object["spec"]["versions"][0]["subresources"] = Value::Null;
    assert_eq!(
        create_errors(object),
        [
            "spec.validation.openAPIV3Schema.properties[other]: Required value: because it is defined in spec.validation.openAPIV3Schema.anyOf[0].properties[other]",
        ]
    );
    let errors = create_errors(schema_with(
        "/properties/spec/properties/raw/x-kubernetes-int-or-string",
        json!(true),
    ));
    assert_has(
        &errors,
        "spec.validation.openAPIV3Schema.properties[spec].properties[raw].x-kubernetes-preserve-unknown-fields: Invalid value: true: must be false if x-kubernetes-int-or-string is true",
    );
}

#[test]
fn openapi_schema_rules() {
    let errors = create_errors(schema_with(
        "/properties/spec/properties/labels/properties",
        json!({"a": {"type": "string"}}),
    ));
    assert_eq!(
        errors,
        [
            "spec.validation.openAPIV3Schema.properties[spec].properties[labels].additionalProperties: Forbidden: additionalProperties and properties are mutual exclusive"
        ]
    );
    let errors = create_errors(schema_with("/properties/spec/properties/size/type", json!("int")));
    assert_has(
        &errors,
        "spec.validation.openAPIV3Schema.properties[spec].properties[size].type: Unsupported value: \"int\": supported values: \"array\", \"boolean\", \"integer\", \"number\", \"object\", \"string\"",
    );
    let errors =
        create_errors(schema_with("/properties/spec/properties/color/uniqueItems", json!(true)));
    assert_eq!(
        errors,
        [
            "spec.validation.openAPIV3Schema.properties[spec].properties[color].uniqueItems: Forbidden: uniqueItems cannot be set to true since the runtime complexity becomes quadratic"
        ]
    );
    let errors = create_errors(schema_with("/properties/spec/properties/color/$ref", json!("#/x")));
    assert_eq!(
        errors,
        [
            "spec.validation.openAPIV3Schema.properties[spec].properties[color].$ref: Forbidden: $ref is not supported"
        ]
    );
    let errors = create_errors(schema_with(
        "/properties/spec/properties/ports/x-kubernetes-list-map-keys",
        Value::Null,
    ));
    assert_eq!(
        errors,
        [
            "spec.validation.openAPIV3Schema.properties[spec].properties[ports].x-kubernetes-list-map-keys: Required value: must not be empty if x-kubernetes-list-type is map"
        ]
    );
    let errors =
        create_errors(schema_with("/properties/spec/properties/ports/items/required", Value::Null));
    assert_eq!(
        errors,
        [
            "spec.validation.openAPIV3Schema.properties[spec].properties[ports].items.properties[name].default: Required value: this property is in x-kubernetes-list-map-keys, so it must have a default or be a required property"
        ]
    );
    let errors = create_errors(schema_with(
        "/properties/spec/properties/raw/x-kubernetes-preserve-unknown-fields",
        json!(false),
    ));
    assert_has(
        &errors,
        "spec.validation.openAPIV3Schema.properties[spec].properties[raw].x-kubernetes-preserve-unknown-fields: Invalid value: false: must be true or undefined",
    );
    let errors = create_errors(schema_with(
        "/properties/metadata",
        json!({"type": "object", "default": {}}),
    ));
    assert_eq!(
        errors,
        [
            "spec.validation.openAPIV3Schema.properties[metadata].default: Forbidden: must not be set in top-level metadata"
        ]
    );
    let errors =
        create_errors(schema_with("/properties/spec/properties/labels/default", json!({"a": "b"})));
    assert_eq!(errors, Vec::<String>::new());
    let errors = create_errors(schema_with(
        "/properties/spec/properties/ports/items/default",
        json!({"name": "x", "extra": 1}),
    ));
    assert_eq!(
        errors,
        [
            "spec.validation.openAPIV3Schema.properties[spec].properties[ports].items.default: Invalid value: map[string]interface {}{\"extra\":1, \"name\":\"x\"}: must not have unknown fields"
        ]
    );
    let errors = create_errors(with(&[("/spec/preserveUnknownFields", json!(true))]));
    assert_eq!(
        errors,
        [
            "spec.preserveUnknownFields: Invalid value: true: must be false in order to use defaults in the schema",
            "spec.preserveUnknownFields: Invalid value: true: cannot set to true, set x-kubernetes-preserve-unknown-fields to true in spec.versions[*].schema instead",
        ]
    );
    // An empty rule is a schema error, and a node with schema errors has its rules not
    // compiled (so the bad CEL is not reported; `custom::cel_tests` covers compile errors).
    let errors = create_errors(schema_with(
        "/properties/spec/x-kubernetes-validations",
        json!([{"rule": "this is not CEL"}, {"rule": " ", "reason": "Bad"}]),
    ));
    assert_eq!(
        errors,
        [
            "spec.validation.openAPIV3Schema.properties[spec].x-kubernetes-validations[1].rule: Required value: rule is not specified",
            "spec.validation.openAPIV3Schema.properties[spec].x-kubernetes-validations[1].reason: Unsupported value: \"Bad\": supported values: \"FieldValueDuplicate\", \"FieldValueForbidden\", \"FieldValueInvalid\", \"FieldValueRequired\"",
        ]
    );
    // With the status subresource only some fields are allowed at the root.
    let errors = create_errors(schema_with("/type", json!("array")));
    assert_has(
        &errors,
        "spec.validation.openAPIV3Schema.type: Invalid value: \"array\": only \"object\" is allowed as the type at the root of the schema if the status subresource is enabled",
    );
    let errors = create_errors(schema_with("/anyOf", json!([{"required": ["spec"]}])));
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(errors[0].ends_with(": only [Description Type Format Title Maximum ExclusiveMaximum Minimum ExclusiveMinimum MaxLength MinLength Pattern MaxItems MinItems UniqueItems MultipleOf Required Items Properties ExternalDocs Example XPreserveUnknownFields XValidations] fields are allowed at the root of the schema if the status subresource is enabled"), "{}", errors[0]);
}

#[test]
fn subresources_columns_selectable_fields() {
    let scale = "/spec/versions/0/subresources/scale";
    let errors =
        create_errors(with(&[(&format!("{scale}/specReplicasPath"), json!(".status.size"))]));
    assert_eq!(
        errors,
        [
            "spec.subresources.scale.specReplicasPath: Invalid value: \".status.size\": should be a json path under .spec"
        ]
    );
    let errors =
        create_errors(with(&[(&format!("{scale}/statusReplicasPath"), json!("status.replicas"))]));
    assert_eq!(
        errors,
        [
            "spec.subresources.scale.statusReplicasPath: Invalid value: \"status.replicas\": must be a simple json path starting with ."
        ]
    );
    let errors = create_errors(with(&[(&format!("{scale}/specReplicasPath"), Value::Null)]));
    assert_eq!(errors, ["spec.subresources.scale.specReplicasPath: Required value"]);
    let column = "/spec/versions/0/additionalPrinterColumns/0";
    let errors = create_errors(with(&[
        (&format!("{column}/type"), json!("int")),
        (&format!("{column}/format"), json!("hex")),
        (&format!("{column}/jsonPath"), Value::Null),
    ]));
    assert_eq!(
        errors,
        [
            "spec.additionalPrinterColumns[0].type: Invalid value: \"int\": must be one of boolean,date,integer,number,string",
            "spec.additionalPrinterColumns[0].format: Invalid value: \"hex\": must be one of byte,date,date-time,double,float,int32,int64,password",
            "spec.additionalPrinterColumns[0].JSONPath: Required value",
        ]
    );
    let errors = create_errors(with(&[(
        "/spec/versions/0/selectableFields/0/jsonPath",
        json!(".spec.nope"),
    )]));
    assert_eq!(
        errors,
        [
            "spec.selectableFields[0].jsonPath: Invalid value: \".spec.nope\": is an invalid path: does not refer to a valid field"
        ]
    );
    let errors = create_errors(with(&[(
        "/spec/versions/0/selectableFields/0/jsonPath",
        json!(".spec.labels"),
    )]));
    assert_eq!(
        errors,
        [
            "spec.selectableFields[0].jsonPath: Invalid value: \".spec.labels\": must point to a field of type string, boolean or integer. Enum string fields and strings with formats are allowed."
        ]
    );
}

#[test]
fn conversion() {
    let errors = create_errors(with(&[("/spec/conversion", json!({"strategy": "Webhook"}))]));
    assert_eq!(
        errors,
        [
            "spec.conversion.webhookClientConfig: Required value: required when strategy is set to Webhook",
            "spec.conversion.conversionReviewVersions: Required value",
        ]
    );
    let errors = create_errors(with(&[(
        "/spec/conversion",
        json!({"strategy": "Webhook", "webhook": {"conversionReviewVersions": ["v2"],
            "clientConfig": {"url": "http://conv.example.com/x?y=1"}}}),
    )]));
    assert_eq!(
        errors,
        [
            "spec.conversion.webhookClientConfig.url: Invalid value: \"http\": 'https' is the only allowed URL scheme; desired format: https://host[/path]",
            "spec.conversion.webhookClientConfig.url: Invalid value: \"y=1\": query parameters are not permitted in the URL",
            "spec.conversion.conversionReviewVersions: Invalid value: []string{\"v2\"}: must include at least one of v1, v1beta1",
        ]
    );
    let errors = create_errors(with(&[(
        "/spec/conversion",
        json!({"strategy": "None", "webhook": {"conversionReviewVersions": ["v1"]}}),
    )]));
    assert_eq!(
        errors,
        [
            "spec.conversion.conversionReviewVersions: Forbidden: should not be set when strategy is not set to Webhook"
        ]
    );
    let errors = create_errors(with(&[("/spec/conversion", json!({"strategy": "Magic"}))]));
    assert_eq!(
        errors,
        [
            "spec.conversion.strategy: Unsupported value: \"Magic\": supported values: \"None\", \"Webhook\""
        ]
    );
}

#[test]
fn api_approval_for_protected_groups() {
    let protected = with(&[
        ("/metadata/name", json!("widgets.apps.k8s.io")),
        ("/spec/group", json!("apps.k8s.io")),
    ]);
    let errors = create_errors(protected.clone());
    assert_eq!(
        errors,
        [
            "metadata.annotations[api-approved.kubernetes.io]: Required value: protected groups must have approval annotation \"api-approved.kubernetes.io\", see https://github.com/kubernetes/enhancements/pull/1111"
        ]
    );
    let mut approved = protected;
    approved["metadata"]["annotations"] =
        json!({"api-approved.kubernetes.io": "https://github.com/kubernetes/kubernetes/pull/1"});
    let (approved, errors) = created(approved);
    assert_eq!(errors, Vec::<String>::new());
    let status = naming_status(&approved, &[], NOW);
    let conformant = status["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "KubernetesAPIApprovalPolicyConformant")
        .unwrap();
    assert_eq!(conformant["reason"], "ApprovedAnnotation");
    assert_eq!(
        conformant["message"],
        "approved in https://github.com/kubernetes/kubernetes/pull/1"
    );
}

#[test]
fn updates() {
    let (mut old, _) = created(crd());
    old["status"] = naming_status(&old, &[], NOW);
    // Established: scope and kind are immutable; group and plural always are.
    let mut new = old.clone();
    new["spec"]["scope"] = json!("Cluster");
    new["spec"]["names"]["kind"] = json!("Gadget");
    new["spec"]["names"]["listKind"] = json!("GadgetList");
    new["spec"]["names"]["singular"] = json!("gadget");
    prepare_for_update(&mut new, &old);
    let errors: Vec<String> =
        validate(GROUP, KIND, &new, Write::Update(&old)).iter().map(ToString::to_string).collect();
    assert_eq!(
        errors,
        [
            "spec.scope: Invalid value: \"Cluster\": field is immutable",
            "spec.names.kind: Invalid value: \"Gadget\": field is immutable",
        ]
    );
    let mut new = old.clone();
    new["spec"]["group"] = json!("other.com");
    prepare_for_update(&mut new, &old);
    let errors: Vec<String> =
        validate(GROUP, KIND, &new, Write::Update(&old)).iter().map(ToString::to_string).collect();
    assert_has(&errors, "spec.group: Invalid value: \"other.com\": field is immutable");
    // A stored version dropped from spec.versions.
    let mut new = old.clone();
    new["status"]["storedVersions"] = json!(["v1beta1", "v1"]);
    let errors: Vec<String> =
        validate(GROUP, KIND, &new, Write::Update(&old)).iter().map(ToString::to_string).collect();
    assert_eq!(
        errors,
        [
            "status.storedVersions[0]: Invalid value: \"v1beta1\": missing from spec.versions; v1beta1 was previously a storage version, and must remain in spec.versions until a storage migration ensures no data remains persisted in v1beta1 and removes v1beta1 from status.storedVersions"
        ]
    );
    // A status write checks the accepted names.
    let mut new = old.clone();
    new["status"]["acceptedNames"]["plural"] = json!("Widgets");
    let errors: Vec<String> =
        validate(GROUP, KIND, &new, Write::Status(&old)).iter().map(ToString::to_string).collect();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(
        errors[0].starts_with(
            "status.acceptedNames.plural: Invalid value: \"Widgets\": a DNS-1035 label"
        )
    );
}

// === naming ===

fn condition<'a>(status: &'a Value, kind: &str) -> &'a Value {
    status["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == kind)
        .unwrap_or_else(|| panic!("{kind} in {status}"))
}

#[test]
fn names_accepted_and_established() {
    let (mut widgets, _) = created(crd());
    let status = naming_status(&widgets, &[], NOW);
    assert_eq!(
        status["acceptedNames"],
        json!({"plural": "widgets", "singular": "widget", "shortNames": ["wd"],
            "kind": "Widget", "listKind": "WidgetList"})
    );
    assert_eq!(
        condition(&status, "NamesAccepted"),
        &json!({"type": "NamesAccepted", "status": "True", "reason": "NoConflicts",
            "message": "no conflicts found", "lastTransitionTime": NOW})
    );
    assert_eq!(
        condition(&status, "Established"),
        &json!({"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
            "message": "the initial names have been accepted", "lastTransitionTime": NOW})
    );
    assert_eq!(status["storedVersions"], json!(["v1"]));
    // Nothing changes later: the times stay.
    widgets["status"] = status.clone();
    assert_eq!(naming_status(&widgets, &[&widgets], LATER), status);
}

#[test]
fn name_conflicts() {
    let (mut widgets, _) = created(crd());
    widgets["status"] = naming_status(&widgets, &[], NOW);
    // Another CRD of the group wants the same plural and kind.
    let mut gadgets = with(&[
        ("/metadata/name", json!("gadgets.example.com")),
        ("/spec/names", json!({"plural": "gadgets", "kind": "Widget", "shortNames": ["wd", "gd"]})),
    ]);
    crate::defaults::apply(GROUP, KIND, &mut gadgets);
    prepare_for_create(&mut gadgets);
    let status = naming_status(&gadgets, &[&widgets], NOW);
    // Singular, short names, kind and list kind all conflict; the last one checked is the
    // condition's, as upstream overwrites it.
    let accepted = condition(&status, "NamesAccepted");
    assert_eq!(accepted["status"], "False");
    assert_eq!(accepted["reason"], "ListKindConflict");
    assert_eq!(accepted["message"], "\"WidgetList\" is already in use");
    assert_eq!(status["acceptedNames"], json!({"plural": "gadgets", "kind": ""}));
    assert_eq!(
        condition(&status, "Established"),
        &json!({"type": "Established", "status": "False", "reason": "NotAccepted",
            "message": "not all names are accepted", "lastTransitionTime": NOW})
    );
    // A plural in use, and the short name.
    let clash = with(&[
        ("/metadata/name", json!("widgets2.example.com")),
        (
            "/spec/names",
            json!({"plural": "widgets", "singular": "w2", "kind": "W2",
            "listKind": "W2List", "shortNames": ["wd"]}),
        ),
    ]);
    let status = naming_status(&clash, &[&widgets], NOW);
    let accepted = condition(&status, "NamesAccepted");
    assert_eq!(accepted["reason"], "ShortNamesConflict");
    assert_eq!(accepted["message"], "\"wd\" is already in use");
    let clash = with(&[(
        "/spec/names",
        json!({"plural": "widgets", "singular": "w2",
        "kind": "W2", "listKind": "W2List"}),
    )]);
    let mut clash = clash;
    clash["metadata"]["name"] = json!("other.example.com");
    let status = naming_status(&clash, &[&widgets], NOW);
    assert_eq!(condition(&status, "NamesAccepted")["reason"], "PluralConflict");
    assert_eq!(condition(&status, "NamesAccepted")["message"], "\"widgets\" is already in use");
    // Other groups do not conflict.
    let mut elsewhere = widgets.clone();
    elsewhere["spec"]["group"] = json!("elsewhere.com");
    elsewhere["metadata"]["name"] = json!("widgets.elsewhere.com");
    elsewhere["status"] = json!({"acceptedNames": {"plural": "", "kind": ""}});
    let status = naming_status(&elsewhere, &[&widgets], NOW);
    assert_eq!(condition(&status, "NamesAccepted")["reason"], "NoConflicts");
}

#[test]
fn condition_times_change_only_with_status() {
    let (mut widgets, _) = created(crd());
    widgets["status"] = naming_status(&widgets, &[], NOW);
    // The names change to ones in use: NamesAccepted turns False at LATER; Established
    // stays True with its time.
    let mut other = widgets.clone();
    other["metadata"]["name"] = json!("things.example.com");
    other["status"]["acceptedNames"] = json!({"plural": "things", "kind": "Thing"});
    widgets["spec"]["names"]["kind"] = json!("Thing");
    let status = naming_status(&widgets, &[&other], LATER);
    assert_eq!(condition(&status, "NamesAccepted")["lastTransitionTime"], LATER);
    assert_eq!(condition(&status, "Established")["lastTransitionTime"], NOW);
    assert_eq!(condition(&status, "Established")["status"], "True");
    assert_eq!(status["acceptedNames"]["kind"], "Widget");
}

#[test]
fn deletion() {
    let (mut widgets, _) = created(crd());
    widgets["status"] = naming_status(&widgets, &[], NOW);
    mark_for_deletion(&mut widgets, NOW);
    mark_for_deletion(&mut widgets, NOW);
    assert_eq!(widgets["metadata"]["finalizers"], json!([FINALIZER]));
    assert_eq!(condition(&widgets["status"], "Terminating")["reason"], "InstanceDeletionPending");
    set_terminating(&mut widgets, &Termination::InProgress, LATER);
    let terminating = condition(&widgets["status"], "Terminating");
    assert_eq!(
        terminating,
        &json!({"type": "Terminating", "status": "True", "reason": "InstanceDeletionInProgress",
            "message": "CustomResource deletion is in progress", "lastTransitionTime": NOW})
    );
    set_terminating(&mut widgets, &Termination::Completed, LATER);
    assert_eq!(condition(&widgets["status"], "Terminating")["status"], "False");
    assert_eq!(condition(&widgets["status"], "Terminating")["lastTransitionTime"], LATER);
    // The finalizer has no `/`, which only core kinds refuse.
    let old = widgets.clone();
    let errors = validate(GROUP, KIND, &widgets, Write::Status(&old));
    assert_eq!(errors, []);
    let errors = validate(GROUP, KIND, &widgets, Write::Update(&old));
    assert_eq!(errors, []);
    remove_finalizer(&mut widgets);
    assert_eq!(widgets["metadata"]["finalizers"], json!([]));
}

// === strict decoding ===

#[test]
fn unknown_fields_in_a_crd_body() {
    use crate::validation::fields::decode_typed;
    let mut object = crd();
    let schema = &mut object["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
    // Arbitrary JSON: defaults, examples and enums hold anything.
    schema["properties"]["spec"]["default"] = json!({"anything": {"goes": [1, {"here": true}]}});
    schema["properties"]["spec"]["example"] = json!({"unknownKey": 1});
    schema["properties"]["spec"]["properties"]["color"]["enum"] = json!([{"weird": "value"}]);
    // A typed schema: an unknown key is flagged (and dropped), at any depth of `properties`.
    schema["properties"]["spec"]["properties"]["size"]["typo"] = json!("integer");
    schema["properties"]["status"]["properties"]["replicas"]["minimun"] = json!(0);
    object["spec"]["names"]["plurals"] = json!("widgets");
    let decoded =
        decode_typed("apiextensions.k8s.io", "v1", "CustomResourceDefinition", &mut object);
    let mut unknown = decoded.unknown.clone();
    unknown.sort();
    assert_eq!(
        unknown,
        [
            "spec.names.plurals",
            "spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[size].typo",
            "spec.versions[0].schema.openAPIV3Schema.properties[status].properties[replicas].minimun",
        ]
    );
    let spec = &object["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"];
    assert_eq!(spec["default"], json!({"anything": {"goes": [1, {"here": true}]}}));
    assert_eq!(spec["example"], json!({"unknownKey": 1}));
    assert!(spec["properties"]["size"].get("typo").is_none());
}

#[test]
fn kubebuilder_style_schema_passes() {
    let schema = json!({
        "description": "Certificate is a request for a certificate.",
        "type": "object",
        "required": ["spec"],
        "properties": {
            "apiVersion": {"type": "string", "description": "APIVersion"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": {
                "type": "object",
                "required": ["secretName"],
                "properties": {
                    "secretName": {"type": "string", "minLength": 1},
                    "duration": {"type": "string", "format": "duration"},
                    "resources": {
                        "type": "object",
                        "additionalProperties": {
                            "anyOf": [{"type": "integer"}, {"type": "string"}],
                            "pattern": "^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))$",
                            "x-kubernetes-int-or-string": true
                        }
                    },
                    "port": {
                        "anyOf": [{"type": "integer"}, {"type": "string"}],
                        "x-kubernetes-int-or-string": true
                    },
                    "selector": {
                        "type": "object",
                        "x-kubernetes-map-type": "atomic",
                        "properties": {"matchLabels": {"type": "object",
                            "additionalProperties": {"type": "string"}}}
                    },
                    "dnsNames": {"type": "array", "items": {"type": "string"},
                        "x-kubernetes-list-type": "set"},
                    "template": {"type": "object", "x-kubernetes-embedded-resource": true,
                        "x-kubernetes-preserve-unknown-fields": true},
                    "mode": {"type": "string", "enum": ["A", "B"], "default": "A",
                        "nullable": true},
                    "oneOfThese": {"type": "object",
                        "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
                        "oneOf": [{"required": ["a"]}, {"required": ["b"]}]}
                }
            },
            "status": {
                "type": "object",
                "properties": {"conditions": {
                    "type": "array",
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["type"],
                    "items": {"type": "object", "required": ["type", "status"],
                        "properties": {
                            "type": {"type": "string"},
                            "status": {"type": "string", "enum": ["True", "False", "Unknown"]},
                            "lastTransitionTime": {"type": "string", "format": "date-time"}
                        }}
                }}
            }
        }
    });
    let object = with(&[
        ("/spec/versions/0/schema/openAPIV3Schema", schema),
        ("/spec/versions/0/subresources", json!({"status": {}})),
        (
            "/spec/versions/0/additionalPrinterColumns",
            json!([
                {"name": "Ready", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"Ready\")].status"},
                {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}
            ]),
        ),
        ("/spec/versions/0/selectableFields", json!([{"jsonPath": ".spec.secretName"}])),
    ]);
    assert_eq!(create_errors(object), Vec::<String>::new());
}
