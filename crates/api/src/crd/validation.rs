//! CustomResourceDefinition validation, ported from kube-apiserver v1.33's
//! `apiextensions-apiserver/pkg/apis/apiextensions/validation/validation.go`:
//! `ValidateCustomResourceDefinition`, `ValidateCustomResourceDefinitionUpdate` and
//! `ValidateUpdateCustomResourceDefinitionStatus`, with the OpenAPI schema rules
//! (`ValidateCustomResourceDefinitionOpenAPISchema`) and the structural schema checks
//! (`crd::structural`).
//!
//! Upstream validates the *internal* type, which the v1 object is converted to first
//! (`Convert_v1_CustomResourceDefinitionSpec_To_apiextensions_CustomResourceDefinitionSpec`):
//! when every version has the same schema (or subresources, or printer columns, or selectable
//! fields) it is moved to the top level, so a single-version CRD's schema errors are reported
//! under `spec.validation.openAPIV3Schema…` and those of versions that differ under
//! `spec.versions[i].schema.openAPIV3Schema…`; the webhook client config is
//! `spec.conversion.webhookClientConfig`; a printer column's path is `JSONPath`. [`Internal`]
//! is that view of the v1 JSON, so the paths kubectl prints are upstream's.
//!
//! CEL `x-kubernetes-validations` rules are compiled (parsed and statically checked, see
//! `custom::cel`) against their node's schema, and `fieldPath` is resolved.
//!
//! Not ported (each needs machinery this crate does not have): the CEL cost estimation, and
//! type-checking rules beyond what `custom::cel` checks, compiling `pattern`
//! regular expressions (RE2), checking a `default` against the schema's value validations and
//! ObjectMeta rules (only its pruning is checked), `NewStructural`'s own conversion errors
//! (the OpenAPI rules report the same problems), `ValidateCABundle` (PEM parsing), and the
//! `error building validator` fallback.

use std::collections::{BTreeMap, HashSet};

use serde_json::{Map, Value};

use super::structural::{self, array, flag, items_schema, properties, text};
use crate::validation::meta::{self, NameRule};
use crate::validation::{Errors, Shown, go_quote};

/// `printerColumnDatatypes`, sorted as `sets.String.List()` gives them.
const PRINTER_COLUMN_TYPES: &[&str] = &["boolean", "date", "integer", "number", "string"];
/// `customResourceColumnDefinitionFormats`, sorted.
const PRINTER_COLUMN_FORMATS: &[&str] =
    &["byte", "date", "date-time", "double", "float", "int32", "int64", "password"];
/// `openapiV3Types`, sorted.
const OPENAPI_V3_TYPES: &[&str] = &["array", "boolean", "integer", "number", "object", "string"];
/// `supportedValidationReason`, sorted.
const VALIDATION_REASONS: &[&str] =
    &["FieldValueDuplicate", "FieldValueForbidden", "FieldValueInvalid", "FieldValueRequired"];
/// `acceptedConversionReviewVersions`, sorted.
const CONVERSION_REVIEW_VERSIONS: &[&str] = &["v1", "v1beta1"];
/// `MaxSelectableFields`.
const MAX_SELECTABLE_FIELDS: usize = 8;
/// `allowedFieldsAtRootSchema`, as Go prints the slice, with the JSON names of those fields.
const ALLOWED_AT_ROOT: &str = "[Description Type Format Title Maximum ExclusiveMaximum Minimum ExclusiveMinimum MaxLength MinLength Pattern MaxItems MinItems UniqueItems MultipleOf Required Items Properties ExternalDocs Example XPreserveUnknownFields XValidations]";
const ALLOWED_AT_ROOT_JSON: &[&str] = &[
    "description",
    "type",
    "format",
    "title",
    "maximum",
    "exclusiveMaximum",
    "minimum",
    "exclusiveMinimum",
    "maxLength",
    "minLength",
    "pattern",
    "maxItems",
    "minItems",
    "uniqueItems",
    "multipleOf",
    "required",
    "items",
    "properties",
    "externalDocs",
    "example",
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-validations",
];
/// The fields of the internal `JSONSchemaProps`, in struct order, by their JSON names: the
/// order the status-subresource root check visits them in.
const SCHEMA_FIELDS: &[&str] = &[
    "id",
    "$schema",
    "$ref",
    "description",
    "type",
    "format",
    "title",
    "default",
    "maximum",
    "exclusiveMaximum",
    "minimum",
    "exclusiveMinimum",
    "maxLength",
    "minLength",
    "pattern",
    "maxItems",
    "minItems",
    "uniqueItems",
    "multipleOf",
    "enum",
    "maxProperties",
    "minProperties",
    "required",
    "items",
    "allOf",
    "oneOf",
    "anyOf",
    "not",
    "properties",
    "additionalProperties",
    "patternProperties",
    "dependencies",
    "additionalItems",
    "definitions",
    "externalDocs",
    "example",
    "nullable",
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-embedded-resource",
    "x-kubernetes-int-or-string",
    "x-kubernetes-list-map-keys",
    "x-kubernetes-list-type",
    "x-kubernetes-map-type",
    "x-kubernetes-validations",
];

/// `ValidateCustomResourceDefinition` (the kind is checked by the caller's dispatch).
pub(crate) fn validate(errs: &mut Errors, crd: &Value) {
    let spec = Internal::of(crd);
    object_meta(errs, crd, &spec);
    let opts = Options::create();
    spec_rules(errs, &spec, opts);
    status(errs, crd);
    stored_versions(errs, crd, &spec);
    api_approval(errs, crd, None);
    preserve_unknown_fields(errs, crd, None);
}

/// `ValidateCustomResourceDefinitionUpdate` (the object meta update rules ran already).
pub(crate) fn validate_update(errs: &mut Errors, crd: &Value, old: &Value) {
    meta::generic_finalizer_rules(errs);
    let spec = Internal::of(crd);
    let old_spec = Internal::of(old);
    let opts = Options::update(&old_spec, old);
    spec_rules(errs, &spec, opts);
    // `validateCustomResourceDefinitionSpecUpdate`.
    if opts.require_immutable_names {
        immutable(errs, "spec.scope", crd, old, "/spec/scope");
        immutable(errs, "spec.names.kind", crd, old, "/spec/names/kind");
    }
    immutable(errs, "spec.group", crd, old, "/spec/group");
    immutable(errs, "spec.names.plural", crd, old, "/spec/names/plural");
    status(errs, crd);
    stored_versions(errs, crd, &spec);
    api_approval(errs, crd, Some(old));
    preserve_unknown_fields(errs, crd, Some(old));
}

/// `ValidateUpdateCustomResourceDefinitionStatus` (the object meta update rules ran already).
pub(crate) fn validate_status(errs: &mut Errors, crd: &Value) {
    meta::generic_finalizer_rules(errs);
    status(errs, crd);
}

/// `ValidateObjectMeta` with the CRD's name function: a DNS subdomain, and
/// `spec.names.plural + "." + spec.group`.
fn object_meta(errs: &mut Errors, crd: &Value, spec: &Internal<'_>) {
    let mut meta_errs = Errors::default();
    meta::object_meta(&mut meta_errs, crd, false, NameRule::Subdomain);
    meta::generic_finalizer_rules(&mut meta_errs);
    let required = format!("{}.{}", spec.text("/names/plural"), spec.text("/group"));
    let detail = "must be spec.names.plural+\".\"+spec.group";
    let generate = str_at(crd, "/metadata/generateName");
    let name = str_at(crd, "/metadata/name");
    // The name function's extra message follows its DNS messages, field by field.
    let mut out = Vec::with_capacity(meta_errs.0.len() + 2);
    let mut extra = Errors::default();
    if !generate.is_empty() && generate != required {
        extra.invalid("metadata.generateName", generate, detail);
    }
    let generate_extra = extra.0.drain(..).collect::<Vec<_>>();
    if !name.is_empty() && name != required {
        extra.invalid("metadata.name", name, detail);
    }
    let name_extra = extra.0;
    let mut generate_extra = Some(generate_extra);
    let mut name_extra = Some(name_extra);
    for error in meta_errs.0 {
        let field = error.field.clone();
        if field != "metadata.generateName"
            && let Some(pending) = generate_extra.take()
        {
            out.extend(pending);
        }
        if field != "metadata.generateName"
            && field != "metadata.name"
            && let Some(pending) = name_extra.take()
        {
            out.extend(pending);
        }
        out.push(error);
    }
    out.extend(generate_extra.into_iter().flatten());
    out.extend(name_extra.into_iter().flatten());
    errs.0.extend(out);
}

// === the internal view ===

/// The internal CRD spec a v1 spec converts to: per-version fields that are identical in
/// every version moved to the top level.
struct Internal<'a> {
    spec: &'a Value,
    /// `spec.validation`: a `CustomResourceValidation` (`{openAPIV3Schema: …}`).
    validation: Option<&'a Value>,
    subresources: Option<&'a Value>,
    columns: &'a [Value],
    selectable: &'a [Value],
    versions: Vec<Version<'a>>,
}

struct Version<'a> {
    raw: &'a Value,
    schema: Option<&'a Value>,
    subresources: Option<&'a Value>,
    columns: &'a [Value],
    selectable: &'a [Value],
}

impl<'a> Internal<'a> {
    fn of(crd: &'a Value) -> Internal<'a> {
        let spec = crd.get("spec").unwrap_or(&Value::Null);
        let raw: &[Value] =
            spec.get("versions").and_then(Value::as_array).map_or(&[], Vec::as_slice);
        let mut versions: Vec<Version<'a>> = raw
            .iter()
            .map(|v| Version {
                raw: v,
                schema: present(v.get("schema")),
                subresources: present(v.get("subresources")),
                columns: list(v, "additionalPrinterColumns"),
                selectable: list(v, "selectableFields"),
            })
            .collect();
        let mut internal = Internal {
            spec,
            validation: None,
            subresources: None,
            columns: &[],
            selectable: &[],
            versions: Vec::new(),
        };
        if let Some(first) = versions.first() {
            let (schema, subresources, columns, selectable) =
                (first.schema, first.subresources, first.columns, first.selectable);
            let same_schema = versions.iter().all(|v| v.schema == schema);
            let same_subresources = versions.iter().all(|v| v.subresources == subresources);
            let same_columns = versions.iter().all(|v| v.columns == columns);
            let same_selectable = versions.iter().all(|v| v.selectable == selectable);
            if same_subresources {
                internal.subresources = subresources;
            }
            if same_schema {
                internal.validation = schema;
            }
            if same_columns {
                internal.columns = columns;
            }
            if same_schema && same_selectable {
                internal.selectable = selectable;
            }
            for v in &mut versions {
                if same_subresources {
                    v.subresources = None;
                }
                if same_schema {
                    v.schema = None;
                }
                if same_columns {
                    v.columns = &[];
                }
                if same_schema && same_selectable {
                    v.selectable = &[];
                }
            }
        }
        internal.versions = versions;
        internal
    }

    fn text(&self, pointer: &str) -> &'a str {
        self.spec.pointer(pointer).and_then(Value::as_str).unwrap_or("")
    }

    fn preserve_unknown_fields(&self) -> bool {
        self.spec.get("preserveUnknownFields").and_then(Value::as_bool).unwrap_or(false)
    }

    /// Every schema of the spec, top level and per version (`HasSchemaWith`).
    fn schemas(&self) -> impl Iterator<Item = &'a Value> + '_ {
        self.validation
            .into_iter()
            .chain(self.versions.iter().filter_map(|v| v.schema))
            .filter_map(|v| present(v.get("openAPIV3Schema")))
    }

    /// `getSubresourcesForVersion`.
    fn subresources_for(&self, version: &Version<'a>) -> Option<&'a Value> {
        if self.versions.iter().all(|v| v.subresources.is_none()) {
            self.subresources
        } else {
            version.subresources
        }
    }

    /// `hasAnyStatusEnabled`.
    fn any_status_enabled(&self) -> bool {
        status_enabled(self.subresources)
            || self.versions.iter().any(|v| status_enabled(v.subresources))
    }
}

fn status_enabled(subresources: Option<&Value>) -> bool {
    subresources.and_then(|s| present(s.get("status"))).is_some()
}

// === options ===

/// `validationOptions`: what an update may keep of what the stored object already had.
#[derive(Clone, Copy, Debug)]
struct Options {
    allow_defaults: bool,
    require_recognized_conversion_review_version: bool,
    require_immutable_names: bool,
    require_openapi_schema: bool,
    require_valid_property_type: bool,
    require_structural_schema: bool,
    require_pruned_defaults: bool,
    require_atomic_set_type: bool,
    require_map_list_keys_map_set_validation: bool,
}

impl Options {
    fn create() -> Options {
        Options {
            allow_defaults: true,
            require_recognized_conversion_review_version: true,
            require_immutable_names: false,
            require_openapi_schema: true,
            require_valid_property_type: true,
            require_structural_schema: true,
            require_pruned_defaults: true,
            require_atomic_set_type: true,
            require_map_list_keys_map_set_validation: true,
        }
    }

    /// `ValidateCustomResourceDefinitionUpdate`'s options, from the stored CRD.
    fn update(old: &Internal<'_>, old_crd: &Value) -> Options {
        let review_versions = array(
            old.spec.pointer("/conversion/webhook").unwrap_or(&Value::Null),
            "conversionReviewVersions",
        );
        let recognized = review_versions.is_empty()
            || review_versions
                .iter()
                .any(|v| v.as_str().is_some_and(|v| CONVERSION_REVIEW_VERSIONS.contains(&v)));
        let all_have_schema =
            old.validation.is_some_and(|v| present(v.get("openAPIV3Schema")).is_some())
                || old
                    .versions
                    .iter()
                    .all(|v| v.schema.and_then(|s| present(s.get("openAPIV3Schema"))).is_some());
        let any = |pred: &dyn Fn(&Value) -> bool| old.schemas().any(|s| schema_has(s, pred));
        Options {
            allow_defaults: true,
            require_recognized_conversion_review_version: recognized,
            require_immutable_names: condition_true(old_crd, "Established"),
            require_openapi_schema: all_have_schema,
            require_valid_property_type: !any(&|s| {
                let ty = text(s, "type");
                !ty.is_empty() && !OPENAPI_V3_TYPES.contains(&ty)
            }),
            require_structural_schema: !old
                .schemas()
                .any(|s| !structural::validate_structural(s, "").0.is_empty()),
            require_pruned_defaults: !old.schemas().any(|s| {
                structural::validate_structural(s, "").0.is_empty()
                    && !structural::validate_defaults(s, "").0.is_empty()
            }),
            require_atomic_set_type: !any(&has_non_atomic_set_type),
            require_map_list_keys_map_set_validation: !any(&|s| {
                let mut errs = Errors::default();
                map_list_keys_map_set(&mut errs, s, "");
                !errs.0.is_empty()
            }),
        }
    }
}

// === the spec ===

/// `validateCustomResourceDefinitionSpec`.
fn spec_rules(errs: &mut Errors, spec: &Internal<'_>, mut opts: Options) {
    let group = spec.text("/group");
    if group.is_empty() {
        errs.required("spec.group", "");
    } else {
        let problems = meta::dns1123_subdomain(group);
        if !problems.is_empty() {
            errs.invalid("spec.group", group, &problems.join(","));
        } else if group.split('.').count() < 2 {
            errs.invalid("spec.group", group, "should be a domain with at least one dot");
        }
    }
    enum_string(errs, "spec.scope", spec.text("/scope"), &["Cluster", "Namespaced"], true);

    let preserve = spec.preserve_unknown_fields();
    // Enabling pruning requires structural schemas.
    if !preserve {
        opts.require_structural_schema = true;
    }
    if opts.require_openapi_schema {
        if spec.validation.and_then(|v| present(v.get("openAPIV3Schema"))).is_none() {
            for (i, v) in spec.versions.iter().enumerate() {
                if v.schema.and_then(|s| present(s.get("openAPIV3Schema"))).is_none() {
                    errs.required(
                        &format!("spec.versions[{i}].schema.openAPIV3Schema"),
                        "schemas are required",
                    );
                }
            }
        }
    } else if !preserve && spec.validation.and_then(|v| present(v.get("openAPIV3Schema"))).is_none()
    {
        for (i, v) in spec.versions.iter().enumerate() {
            let served = v.raw.get("served").and_then(Value::as_bool).unwrap_or(false);
            if served && v.schema.and_then(|s| present(s.get("openAPIV3Schema"))).is_none() {
                errs.required(
                    &format!("spec.versions[{i}].schema.openAPIV3Schema"),
                    "because otherwise all fields are pruned",
                );
            }
        }
    }
    if opts.allow_defaults
        && spec.schemas().any(|s| schema_has(s, &|s| present(s.get("default")).is_some()))
    {
        opts.require_structural_schema = true;
        if preserve {
            errs.invalid(
                "spec.preserveUnknownFields",
                Shown::Bool(true),
                "must be false in order to use defaults in the schema",
            );
        }
    }
    if spec.schemas().any(|s| schema_has(s, &has_kubernetes_extensions)) {
        opts.require_structural_schema = true;
    }

    let mut storage_count = 0;
    let mut seen = HashSet::new();
    let mut unique = true;
    for (i, version) in spec.versions.iter().enumerate() {
        let path = format!("spec.versions[{i}]");
        if version.raw.get("storage").and_then(Value::as_bool) == Some(true) {
            storage_count += 1;
        }
        let name = str_of(version.raw, "name");
        if !seen.insert(name) {
            unique = false;
        }
        let problems = meta::dns1035_label(name);
        if !problems.is_empty() {
            errs.invalid(&format!("{path}.name"), name, &problems.join(","));
        }
        let status_on = status_enabled(spec.subresources_for(version));
        version_rules(errs, version, &path, status_on, opts);
    }
    // The top-level and per-version exclusivity rules cannot fail for a converted v1 object:
    // conversion moves a field to the top level only when every version has it alike.
    if !unique {
        errs.invalid(
            "spec.versions",
            Shown::Raw(go_versions(spec)),
            "must contain unique version names",
        );
    }
    if storage_count != 1 {
        errs.invalid(
            "spec.versions",
            Shown::Raw(go_versions(spec)),
            "must have exactly one version marked as storage version",
        );
    }
    // `spec.version` is `versions[0].name` after conversion.
    if let Some(first) = spec.versions.first() {
        let name = str_of(first.raw, "name");
        if !name.is_empty() {
            let problems = meta::dns1035_label(name);
            if !problems.is_empty() {
                errs.invalid("spec.version", name, &problems.join(","));
            }
        }
    }
    for field in ["plural", "singular", "kind", "listKind"] {
        if spec.text(&format!("/names/{field}")).is_empty() {
            errs.required(&format!("spec.names.{field}"), "");
        }
    }
    names(errs, spec.spec.get("names").unwrap_or(&Value::Null), "spec.names");
    custom_resource_validation(
        errs,
        spec.validation,
        spec.any_status_enabled(),
        opts,
        "spec.validation",
    );
    subresources(errs, spec.subresources, "spec.subresources");
    for (i, column) in spec.columns.iter().enumerate() {
        printer_column(errs, column, &format!("spec.additionalPrinterColumns[{i}]"));
    }
    if !spec.selectable.is_empty() {
        match spec.validation.and_then(|v| present(v.get("openAPIV3Schema"))) {
            None => errs.invalid(
                "spec.selectableFields",
                "",
                "selectableFields may only be set when validations.schema is included",
            ),
            Some(schema) => {
                selectable_fields(errs, spec.selectable, schema, "spec.selectableFields")
            }
        }
    }
    conversion(errs, spec, opts);
}

/// `validateCustomResourceDefinitionVersion`.
fn version_rules(
    errs: &mut Errors,
    version: &Version<'_>,
    path: &str,
    status_on: bool,
    opts: Options,
) {
    let deprecated = version.raw.get("deprecated").and_then(Value::as_bool).unwrap_or(false);
    let warning = version.raw.get("deprecationWarning").and_then(Value::as_str);
    for problem in deprecation_warning(deprecated, warning) {
        errs.invalid(&format!("{path}.deprecationWarning"), warning.unwrap_or(""), &problem);
    }
    custom_resource_validation(errs, version.schema, status_on, opts, &format!("{path}.schema"));
    subresources(errs, version.subresources, &format!("{path}.subresources"));
    for (i, column) in version.columns.iter().enumerate() {
        printer_column(errs, column, &format!("{path}.additionalPrinterColumns[{i}]"));
    }
    if !version.selectable.is_empty() {
        match version.schema.and_then(|s| present(s.get("openAPIV3Schema"))) {
            None => errs.invalid(
                &format!("{path}.selectableFields"),
                "",
                "selectableFields may only be set when version.schema.openAPIV3Schema is not included",
            ),
            Some(schema) => {
                selectable_fields(errs, version.selectable, schema, &format!("{path}.selectableFields"))
            }
        }
    }
}

/// `validateDeprecationWarning`.
fn deprecation_warning(deprecated: bool, warning: Option<&str>) -> Vec<String> {
    if !deprecated && warning.is_some() {
        return vec!["can only be set for deprecated versions".to_owned()];
    }
    let Some(warning) = warning else { return Vec::new() };
    let mut problems = Vec::new();
    if warning.len() > 256 {
        problems.push("must be <= 256 characters long".to_owned());
    }
    if warning.is_empty() {
        problems.push("must not be an empty string".to_owned());
    }
    for (i, c) in warning.char_indices() {
        if c.is_control() {
            problems.push(format!(
                "must only contain printable UTF-8 characters; control character found at index {i}"
            ));
            break;
        }
        // `unicode.IsPrint`: letters, marks, numbers, punctuation, symbols and the ASCII space;
        // other spaces (and unassigned code points, not told apart here) are not.
        if c != ' ' && c.is_whitespace() {
            problems.push(format!(
                "must only contain printable UTF-8 characters; non-printable character found at index {i}"
            ));
            break;
        }
    }
    problems
}

/// `validateEnumStrings`.
fn enum_string(errs: &mut Errors, path: &str, value: &str, accepted: &[&str], required: bool) {
    if value.is_empty() {
        if required {
            errs.required(path, "");
        }
        return;
    }
    if !accepted.contains(&value) {
        errs.not_supported(path, value, accepted);
    }
}

/// `ValidateCustomResourceDefinitionNames`.
fn names(errs: &mut Errors, names: &Value, path: &str) {
    for field in ["plural", "singular"] {
        let value = str_of(names, field);
        let problems = meta::dns1035_label(value);
        if !value.is_empty() && !problems.is_empty() {
            errs.invalid(&format!("{path}.{field}"), value, &problems.join(","));
        }
    }
    for field in ["kind", "listKind"] {
        let value = str_of(names, field);
        let problems = meta::dns1035_label(&value.to_lowercase());
        if !value.is_empty() && !problems.is_empty() {
            errs.invalid(
                &format!("{path}.{field}"),
                value,
                &format!("may have mixed case, but should otherwise match: {}", problems.join(",")),
            );
        }
    }
    for (i, short) in list(names, "shortNames").iter().enumerate() {
        let short = short.as_str().unwrap_or("");
        let problems = meta::dns1035_label(short);
        if !problems.is_empty() {
            errs.invalid(&format!("{path}.shortNames[{i}]"), short, &problems.join(","));
        }
    }
    let kind = str_of(names, "kind");
    if !kind.is_empty() && kind == str_of(names, "listKind") {
        errs.invalid(&format!("{path}.listKind"), kind, "kind and listKind may not be the same");
    }
    for (i, category) in list(names, "categories").iter().enumerate() {
        let category = category.as_str().unwrap_or("");
        let problems = meta::dns1035_label(category);
        if !problems.is_empty() {
            errs.invalid(&format!("{path}.categories[{i}]"), category, &problems.join(","));
        }
    }
}

/// `ValidateCustomResourceColumnDefinition`.
fn printer_column(errs: &mut Errors, column: &Value, path: &str) {
    if str_of(column, "name").is_empty() {
        errs.required(&format!("{path}.name"), "");
    }
    let types = format!("must be one of {}", PRINTER_COLUMN_TYPES.join(","));
    let ty = str_of(column, "type");
    if ty.is_empty() {
        errs.required(&format!("{path}.type"), &types);
    } else if !PRINTER_COLUMN_TYPES.contains(&ty) {
        errs.invalid(&format!("{path}.type"), ty, &types);
    }
    let format = str_of(column, "format");
    if !format.is_empty() && !PRINTER_COLUMN_FORMATS.contains(&format) {
        errs.invalid(
            &format!("{path}.format"),
            format,
            &format!("must be one of {}", PRINTER_COLUMN_FORMATS.join(",")),
        );
    }
    let json_path = str_of(column, "jsonPath");
    if json_path.is_empty() {
        errs.required(&format!("{path}.JSONPath"), "");
    } else {
        simple_json_path(errs, json_path, &format!("{path}.JSONPath"));
    }
}

/// `validateSimpleJSONPath`; whether it found nothing.
fn simple_json_path(errs: &mut Errors, s: &str, path: &str) -> bool {
    if s.is_empty() {
        errs.invalid(path, s, "must not be empty");
        false
    } else if !s.starts_with('.') {
        errs.invalid(path, s, "must be a simple json path starting with .");
        false
    } else {
        true
    }
}

/// `ValidateCustomResourceDefinitionSubresources`.
fn subresources(errs: &mut Errors, subresources: Option<&Value>, path: &str) {
    let Some(scale) = subresources.and_then(|s| present(s.get("scale"))) else { return };
    for (field, prefix, under) in [
        ("specReplicasPath", ".spec.", "should be a json path under .spec"),
        ("statusReplicasPath", ".status.", "should be a json path under .status"),
    ] {
        let at = format!("{path}.scale.{field}");
        let value = str_of(scale, field);
        if value.is_empty() {
            errs.required(&at, "");
        } else if simple_json_path(errs, value, &at) && !value.starts_with(prefix) {
            errs.invalid(&at, value, under);
        }
    }
    let selector = str_of(scale, "labelSelectorPath");
    let at = format!("{path}.scale.labelSelectorPath");
    if !selector.is_empty()
        && simple_json_path(errs, selector, &at)
        && !selector.starts_with(".spec.")
        && !selector.starts_with(".status.")
    {
        errs.invalid(&at, selector, "should be a json path under either .spec or .status");
    }
}

/// `ValidateCustomResourceSelectableFields`, with `cel.ValidFieldPath` (no array notation)
/// resolving each path in the structural schema.
fn selectable_fields(errs: &mut Errors, fields: &[Value], schema: &Value, path: &str) {
    let mut unique: HashSet<String> = HashSet::new();
    for (i, field) in fields.iter().enumerate() {
        let at = format!("{path}[{i}].jsonPath");
        let json_path = str_of(field, "jsonPath");
        if json_path.is_empty() {
            errs.required(&at, "");
            continue;
        }
        let (segments, found) = match field_path(json_path, schema) {
            Ok(resolved) => resolved,
            Err(problem) => {
                errs.invalid(&at, json_path, &format!("is an invalid path: {problem}"));
                continue;
            }
        };
        if segments.first().map(String::as_str) == Some("metadata") {
            errs.invalid(&at, json_path, "must not point to fields in metadata");
        }
        if !matches!(text(found, "type"), "string" | "boolean" | "integer") {
            errs.invalid(
                &at,
                json_path,
                "must point to a field of type string, boolean or integer. Enum string fields and strings with formats are allowed.",
            );
        }
        if !unique.insert(segments.join(".")) {
            errs.duplicate(&at, json_path);
        }
    }
    if unique.len() > MAX_SELECTABLE_FIELDS {
        errs.too_many(path, unique.len(), MAX_SELECTABLE_FIELDS);
    }
}

/// `cel.ValidFieldPath` without array notation: `.a.b` through `properties` (or
/// `additionalProperties`), the path's segments and the schema it ends at.
fn field_path<'a>(json_path: &str, schema: &'a Value) -> Result<(Vec<String>, &'a Value), String> {
    let Some(rest) = json_path.strip_prefix('.') else {
        return Err(format!(
            "expected [ or . but got: {}",
            json_path.split(['.', '[']).next().unwrap_or("")
        ));
    };
    let mut at = schema;
    let mut segments = Vec::new();
    for name in rest.split('.') {
        if name.contains('[') {
            return Err("array notation is not allowed".to_owned());
        }
        if name.is_empty() {
            return Err("unexpected end of JSON path".to_owned());
        }
        let next = at
            .get("properties")
            .and_then(|p| p.get(name))
            .or_else(|| at.get("additionalProperties").filter(|a| a.is_object()));
        match next {
            Some(next) => {
                segments.push(name.to_owned());
                at = next;
            }
            None => return Err("does not refer to a valid field".to_owned()),
        }
    }
    Ok((segments, at))
}

/// `validateCustomResourceConversion`, on the internal view of `spec.conversion`.
fn conversion(errs: &mut Errors, spec: &Internal<'_>, opts: Options) {
    let Some(conversion) = present(spec.spec.get("conversion")) else { return };
    let strategy = str_of(conversion, "strategy");
    if !strategy.is_empty() && strategy != "None" && spec.preserve_unknown_fields() {
        errs.invalid(
            "spec.conversion.strategy",
            strategy,
            "must be None if spec.preserveUnknownFields is true",
        );
    }
    enum_string(errs, "spec.conversion.strategy", strategy, &["None", "Webhook"], true);
    let webhook = present(conversion.get("webhook"));
    let client_config = webhook.and_then(|w| present(w.get("clientConfig")));
    let review_versions = webhook.map(|w| list(w, "conversionReviewVersions")).unwrap_or(&[]);
    if strategy == "Webhook" {
        let path = "spec.conversion.webhookClientConfig";
        match client_config {
            None => errs.required(path, "required when strategy is set to Webhook"),
            Some(config) => {
                let url = config.get("url").and_then(Value::as_str);
                let service = present(config.get("service"));
                match (url, service) {
                    (None, None) | (Some(_), Some(_)) => {
                        errs.required(path, "exactly one of url or service is required")
                    }
                    (Some(url), None) => webhook_url(errs, &format!("{path}.url"), url),
                    (None, Some(service)) => {
                        webhook_service(errs, &format!("{path}.service"), service)
                    }
                }
            }
        }
        review_versions_rules(
            errs,
            review_versions,
            opts.require_recognized_conversion_review_version,
            "spec.conversion.conversionReviewVersions",
        );
    } else {
        if client_config.is_some() {
            errs.forbidden(
                "spec.conversion.webhookClientConfig",
                "should not be set when strategy is not set to Webhook",
            );
        }
        if !review_versions.is_empty() {
            errs.forbidden(
                "spec.conversion.conversionReviewVersions",
                "should not be set when strategy is not set to Webhook",
            );
        }
    }
}

/// `validateConversionReviewVersions`.
fn review_versions_rules(
    errs: &mut Errors,
    versions: &[Value],
    require_recognized: bool,
    path: &str,
) {
    if versions.is_empty() {
        errs.required(path, "");
        return;
    }
    let mut seen = HashSet::new();
    let mut accepted = false;
    for (i, v) in versions.iter().enumerate() {
        let v = v.as_str().unwrap_or("");
        let at = format!("{path}[{i}]");
        if !seen.insert(v) {
            errs.invalid(&at, v, "duplicate version");
            continue;
        }
        for problem in meta::dns1035_label(v) {
            errs.invalid(&at, v, &problem);
        }
        accepted |= CONVERSION_REVIEW_VERSIONS.contains(&v);
    }
    if require_recognized && !accepted {
        errs.invalid(
            path,
            Shown::Raw(go_strings(versions)),
            &format!("must include at least one of {}", CONVERSION_REVIEW_VERSIONS.join(", ")),
        );
    }
}

/// `webhook.ValidateWebhookURL` with `forceHttps`.
fn webhook_url(errs: &mut Errors, path: &str, url: &str) {
    const FORM: &str = "; desired format: https://host[/path]";
    let (scheme, rest) = match url.split_once(':') {
        Some((scheme, rest))
            if scheme.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) =>
        {
            (scheme.to_ascii_lowercase(), rest)
        }
        _ => (String::new(), url),
    };
    let (rest, fragment) = rest.split_once('#').unwrap_or((rest, ""));
    let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (user, host) = match rest.strip_prefix("//") {
        Some(authority) => {
            let authority = authority.split('/').next().unwrap_or("");
            match authority.rsplit_once('@') {
                Some((user, host)) => (Some(user), host),
                None => (None, authority),
            }
        }
        None => (None, ""),
    };
    if scheme != "https" {
        errs.invalid(
            path,
            scheme.as_str(),
            &format!("'https' is the only allowed URL scheme{FORM}"),
        );
    }
    if host.is_empty() {
        errs.invalid(path, host, &format!("host must be specified{FORM}"));
    }
    if let Some(user) = user {
        errs.invalid(path, user, "user information is not permitted in the URL");
    }
    if !fragment.is_empty() {
        errs.invalid(path, fragment, "fragments are not permitted in the URL");
    }
    if !query.is_empty() {
        errs.invalid(path, query, "query parameters are not permitted in the URL");
    }
}

/// `webhook.ValidateWebhookService`. Upstream calls it with the service's name and namespace
/// in the order of its `namespace, name` parameters, so a missing name is reported as the
/// namespace and the other way round; kept, for the same messages.
fn webhook_service(errs: &mut Errors, path: &str, service: &Value) {
    if str_of(service, "name").is_empty() {
        errs.required(&format!("{path}.namespace"), "service namespace is required");
    }
    if str_of(service, "namespace").is_empty() {
        errs.required(&format!("{path}.name"), "service name is required");
    }
    let port = service.get("port").and_then(Value::as_i64).unwrap_or(443);
    if !(1..=65535).contains(&port) {
        errs.invalid(
            &format!("{path}.port"),
            port,
            "port is not valid: must be between 1 and 65535, inclusive",
        );
    }
    let Some(url_path) = service.get("path").and_then(Value::as_str) else { return };
    if url_path == "/" || url_path.is_empty() {
        return;
    }
    let at = format!("{path}.path");
    if url_path == "//" {
        errs.invalid(&at, url_path, "segment[0] may not be empty");
        return;
    }
    if !url_path.starts_with('/') {
        errs.invalid(&at, url_path, "must start with a '/'");
    }
    let mut check = url_path.get(1..).unwrap_or("");
    check = check.strip_suffix('/').unwrap_or(check);
    for (i, step) in check.split('/').enumerate() {
        if step.is_empty() {
            errs.invalid(&at, url_path, &format!("segment[{i}] may not be empty"));
            continue;
        }
        for failure in meta::dns1123_subdomain(step) {
            errs.invalid(&at, url_path, &format!("segment[{i}]: {failure}"));
        }
    }
}

// === status ===

/// `ValidateCustomResourceDefinitionStatus`.
fn status(errs: &mut Errors, crd: &Value) {
    let accepted = crd.pointer("/status/acceptedNames").unwrap_or(&Value::Null);
    names(errs, accepted, "status.acceptedNames");
}

/// `ValidateCustomResourceDefinitionStoredVersions`.
fn stored_versions(errs: &mut Errors, crd: &Value, spec: &Internal<'_>) {
    let path = "status.storedVersions";
    let stored: &[Value] =
        crd.pointer("/status/storedVersions").and_then(Value::as_array).map_or(&[], Vec::as_slice);
    if stored.is_empty() {
        errs.invalid(
            path,
            Shown::Raw("[]string(nil)".to_owned()),
            "must have at least one stored version",
        );
        return;
    }
    let mut remaining: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, v) in stored.iter().enumerate() {
        remaining.insert(v.as_str().unwrap_or(""), i);
    }
    for version in &spec.versions {
        let name = str_of(version.raw, "name");
        let found = remaining.contains_key(name);
        if version.raw.get("storage").and_then(Value::as_bool) == Some(true) && !found {
            errs.invalid(
                path,
                Shown::Raw(go_strings(stored)),
                &format!("must have the storage version {name}"),
            );
        }
        remaining.remove(name);
    }
    // Upstream iterates a map here; index order is stable.
    let mut left: Vec<(&str, usize)> = remaining.into_iter().collect();
    left.sort_by_key(|(_, i)| *i);
    for (v, i) in left {
        errs.invalid(
            &format!("{path}[{i}]"),
            v,
            &format!(
                "missing from spec.versions; {v} was previously a storage version, and must remain in spec.versions until a storage migration ensures no data remains persisted in {v} and removes {v} from status.storedVersions"
            ),
        );
    }
}

/// `validateAPIApproval`: protected groups need the approval annotation, unless it did not
/// change.
fn api_approval(errs: &mut Errors, crd: &Value, old: Option<&Value>) {
    if !super::is_protected_group(str_at(crd, "/spec/group")) {
        return;
    }
    let annotation = |o: &Value| {
        o.pointer("/metadata/annotations")
            .and_then(|a| a.get(super::API_APPROVED_ANNOTATION))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    let new = annotation(crd);
    let (state, reason) = super::approval_state(&new);
    if let Some(old) = old
        && super::approval_state(&annotation(old)).0 == state
    {
        return;
    }
    let path = format!("metadata.annotations[{}]", super::API_APPROVED_ANNOTATION);
    match state {
        super::ApprovalState::Missing => errs.required(&path, &reason),
        super::ApprovalState::Invalid => errs.invalid(&path, new.as_str(), &reason),
        super::ApprovalState::Approved | super::ApprovalState::Bypassed => {}
    }
}

/// `validatePreserveUnknownFields`: `spec.preserveUnknownFields` may not become true.
fn preserve_unknown_fields(errs: &mut Errors, crd: &Value, old: Option<&Value>) {
    let preserve =
        |o: &Value| o.pointer("/spec/preserveUnknownFields").and_then(Value::as_bool) == Some(true);
    if old.is_some_and(preserve) {
        return;
    }
    if preserve(crd) {
        errs.invalid(
            "spec.preserveUnknownFields",
            Shown::Bool(true),
            "cannot set to true, set x-kubernetes-preserve-unknown-fields to true in spec.versions[*].schema instead",
        );
    }
}

// === the schema ===

/// `validateCustomResourceDefinitionValidation`: `validation` is a `CustomResourceValidation`
/// (`{openAPIV3Schema: …}`) at `path`.
fn custom_resource_validation(
    errs: &mut Errors,
    validation: Option<&Value>,
    status_on: bool,
    opts: Options,
    path: &str,
) {
    let Some(schema) = validation.and_then(|v| present(v.get("openAPIV3Schema"))) else { return };
    let at = format!("{path}.openAPIV3Schema");
    if status_on && let Some(map) = schema.as_object() {
        for field in SCHEMA_FIELDS {
            let Some(value) = map.get(*field).filter(|v| !is_zero(field, v)) else { continue };
            if *field == "type" {
                let ty = value.as_str().unwrap_or("");
                if ty != "object" {
                    errs.invalid(
                        &format!("{path}.openAPIV3Schema.type"),
                        ty,
                        "only \"object\" is allowed as the type at the root of the schema if the status subresource is enabled",
                    );
                    break;
                }
                continue;
            }
            if !ALLOWED_AT_ROOT_JSON.contains(field) {
                errs.invalid(
                    &at,
                    Shown::Raw(go_schema(schema)),
                    &format!(
                        "only {ALLOWED_AT_ROOT} fields are allowed at the root of the schema if the status subresource is enabled"
                    ),
                );
                break;
            }
        }
    }
    if flag(schema, "nullable") {
        errs.forbidden(
            &format!("{path}.openAPIV3Schema.nullable"),
            "nullable cannot be true at the root",
        );
    }
    // Upstream has a CEL context (and compiles rules) only for a structural schema.
    let mut structural_ok = true;
    if opts.require_structural_schema {
        let structural_errs = structural::validate_structural(schema, &at);
        if !structural_errs.0.is_empty() {
            structural_ok = false;
            errs.0.extend(structural_errs.0);
        } else {
            let default_errs = structural::validate_defaults(schema, &at);
            if opts.require_pruned_defaults {
                errs.0.extend(default_errs.0);
            }
        }
    }
    let ssv = Standard {
        allow_defaults: opts.allow_defaults,
        disallow_reason: String::new(),
        inside_resource_meta: false,
        require_valid_property_type: opts.require_valid_property_type,
    };
    let before = errs.0.len();
    openapi_schema(errs, Some(schema), &at, &ssv, true, opts);
    if structural_ok {
        let schema_errors: Vec<String> = errs.0[before..].iter().map(|e| e.field.clone()).collect();
        cel_rules(errs, schema, &at, true, None, &schema_errors);
    }
}

/// The CEL half of `ValidateCustomResourceDefinitionOpenAPISchema` (its `CELErrors`, which
/// upstream lists after all schema errors): along the structural spine (`additionalProperties`,
/// properties, items, then the node itself), every node with rules and no schema error at or
/// below it has its rules compiled against its type ([`crate::custom::compile_problems`]); a transition
/// rule under the items of a list that is not a `map` list cannot correlate `oldSelf`, and
/// `optionalOldSelf` needs a transition rule. Cost estimation is not ported.
fn cel_rules(
    errs: &mut Errors,
    s: &Value,
    path: &str,
    resource_root: bool,
    uncorrelatable: Option<&str>,
    schema_errors: &[String],
) {
    if !s.is_object() {
        return;
    }
    if let Some(additional @ Value::Object(_)) = s.get("additionalProperties") {
        let at = format!("{path}.additionalProperties");
        let embedded = flag(additional, "x-kubernetes-embedded-resource");
        cel_rules(errs, additional, &at, embedded, uncorrelatable, schema_errors);
    }
    for (k, prop) in properties(s) {
        let at = format!("{path}.properties[{k}]");
        let embedded = flag(prop, "x-kubernetes-embedded-resource");
        cel_rules(errs, prop, &at, embedded, uncorrelatable, schema_errors);
    }
    if let Some(items @ Value::Object(_)) = s.get("items") {
        let at = format!("{path}.items");
        let map_list = s.get("x-kubernetes-list-type").and_then(Value::as_str) == Some("map");
        let within = uncorrelatable.or(if map_list { None } else { Some(path) });
        let embedded = flag(items, "x-kubernetes-embedded-resource");
        cel_rules(errs, items, &at, embedded, within, schema_errors);
    }
    // Upstream compiles a node's rules after its children's.
    let rules = array(s, "x-kubernetes-validations");
    let clean = !schema_errors.iter().any(|field| {
        field.strip_prefix(path).is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
    });
    if !rules.is_empty() && clean {
        let problems = crate::custom::compile_problems(s, resource_root);
        for (i, (problem, raw)) in problems.iter().zip(rules).enumerate() {
            let at = format!("{path}.x-kubernetes-validations[{i}]");
            if let Some(detail) = &problem.rule {
                errs.invalid(&format!("{at}.rule"), crate::custom::go_rule(raw), detail);
            }
            if let Some(detail) = &problem.message_expression {
                errs.invalid(
                    &format!("{at}.messageExpression"),
                    crate::custom::go_rule(raw),
                    detail,
                );
            }
            if problem.uses_old_self {
                if let Some(within) = uncorrelatable {
                    errs.invalid(
                        &format!("{at}.rule"),
                        raw.get("rule").and_then(Value::as_str).unwrap_or(""),
                        &format!(
                            "oldSelf cannot be used on the uncorrelatable portion of the schema within {within}"
                        ),
                    );
                }
            } else if let Some(optional) = raw.get("optionalOldSelf").and_then(Value::as_bool) {
                errs.invalid(
                    &format!("{at}.optionalOldSelf"),
                    Shown::Bool(optional),
                    "may not be set if oldSelf is not used in rule",
                );
            }
        }
    }
}

/// `specStandardValidatorV3`.
#[derive(Clone, Debug)]
struct Standard {
    allow_defaults: bool,
    disallow_reason: String,
    inside_resource_meta: bool,
    require_valid_property_type: bool,
}

impl Standard {
    fn with_forbidden_defaults(&self, reason: &str) -> Standard {
        Standard { allow_defaults: false, disallow_reason: reason.to_owned(), ..self.clone() }
    }

    fn with_inside_resource_meta(&self) -> Standard {
        Standard { inside_resource_meta: true, ..self.clone() }
    }

    /// `specStandardValidatorV3.validate`.
    fn validate(&self, errs: &mut Errors, s: &Value, path: &str) {
        let ty = text(s, "type");
        if self.require_valid_property_type && !ty.is_empty() && !OPENAPI_V3_TYPES.contains(&ty) {
            errs.not_supported(&format!("{path}.type"), ty, OPENAPI_V3_TYPES);
        }
        if present(s.get("default")).is_some() && !self.allow_defaults {
            let mut detail = "must not be set".to_owned();
            if !self.disallow_reason.is_empty() {
                detail.push(' ');
                detail.push_str(&self.disallow_reason);
            }
            errs.forbidden(&format!("{path}.default"), &detail);
        }
        if !text(s, "id").is_empty() {
            errs.forbidden(&format!("{path}.id"), "id is not supported");
        }
        if present(s.get("additionalItems")).is_some() {
            errs.forbidden(&format!("{path}.additionalItems"), "additionalItems is not supported");
        }
        for (field, what) in
            [("patternProperties", "patternProperties"), ("definitions", "definitions")]
        {
            if s.get(field).and_then(Value::as_object).is_some_and(|m| !m.is_empty()) {
                errs.forbidden(&format!("{path}.{field}"), &format!("{what} is not supported"));
            }
        }
        if present(s.get("dependencies")).is_some() {
            errs.forbidden(&format!("{path}.dependencies"), "dependencies is not supported");
        }
        if present(s.get("$ref")).is_some() {
            errs.forbidden(&format!("{path}.$ref"), "$ref is not supported");
        }
        if ty == "null" {
            errs.forbidden(
                &format!("{path}.type"),
                "type cannot be set to null, use nullable as an alternative",
            );
        }
        if s.get("items").and_then(Value::as_array).is_some_and(|a| !a.is_empty()) {
            errs.forbidden(
                &format!("{path}.items"),
                "items must be a schema object and not an array",
            );
        }
        if self.inside_resource_meta && flag(s, "x-kubernetes-embedded-resource") {
            errs.forbidden(
                &format!("{path}.x-kubernetes-embedded-resource"),
                "must not be used inside of resource meta",
            );
        }
    }
}

/// `ValidateCustomResourceDefinitionOpenAPISchema` (its schema errors; the CEL half is not
/// ported, see the module doc).
fn openapi_schema(
    errs: &mut Errors,
    s: Option<&Value>,
    path: &str,
    ssv: &Standard,
    root: bool,
    opts: Options,
) {
    let Some(s) = s.filter(|s| s.is_object()) else { return };
    ssv.validate(errs, s, path);
    if flag(s, "uniqueItems") {
        errs.forbidden(
            &format!("{path}.uniqueItems"),
            "uniqueItems cannot be set to true since the runtime complexity becomes quadratic",
        );
    }
    let has_properties = properties(s).next().is_some();
    if let Some(additional) = present(s.get("additionalProperties")) {
        let allows = additional.as_bool().unwrap_or(true);
        if has_properties && (!allows || additional.is_object()) {
            errs.forbidden(
                &format!("{path}.additionalProperties"),
                "additionalProperties and properties are mutual exclusive",
            );
        }
        let sub = if ssv.inside_resource_meta {
            ssv.with_forbidden_defaults("inside additionalProperties applying to object metadata")
        } else {
            ssv.clone()
        };
        openapi_schema(
            errs,
            Some(additional),
            &format!("{path}.additionalProperties"),
            &sub,
            false,
            opts,
        );
    }
    let embedded = flag(s, "x-kubernetes-embedded-resource");
    for (k, sub_schema) in properties(s) {
        let mut sub = ssv.clone();
        if (root || embedded) && matches!(k.as_str(), "metadata" | "kind" | "apiVersion") {
            sub = sub.with_inside_resource_meta();
            if root {
                sub = sub.with_forbidden_defaults(&format!("in top-level {k}"));
            }
        }
        openapi_schema(
            errs,
            Some(sub_schema),
            &format!("{path}.properties[{k}]"),
            &sub,
            false,
            opts,
        );
    }
    openapi_schema(errs, s.get("not"), &format!("{path}.not"), ssv, false, opts);
    for junctor in ["allOf", "oneOf", "anyOf"] {
        for (i, sub) in array(s, junctor).iter().enumerate() {
            openapi_schema(errs, Some(sub), &format!("{path}.{junctor}[{i}]"), ssv, false, opts);
        }
    }
    for (k, sub) in s.get("definitions").and_then(Value::as_object).into_iter().flatten() {
        openapi_schema(errs, Some(sub), &format!("{path}.definitions[{k}]"), ssv, false, opts);
    }
    match s.get("items") {
        Some(items @ Value::Object(_)) => {
            openapi_schema(errs, Some(items), &format!("{path}.items"), ssv, false, opts)
        }
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                openapi_schema(errs, Some(item), &format!("{path}.items[{i}]"), ssv, false, opts);
            }
        }
        _ => {}
    }
    for (k, sub) in s.get("dependencies").and_then(Value::as_object).into_iter().flatten() {
        openapi_schema(errs, Some(sub), &format!("{path}.dependencies[{k}]"), ssv, false, opts);
    }
    if s.get("x-kubernetes-preserve-unknown-fields").and_then(Value::as_bool) == Some(false) {
        errs.invalid(
            &format!("{path}.x-kubernetes-preserve-unknown-fields"),
            Shown::Bool(false),
            "must be true or undefined",
        );
    }
    list_and_map_types(errs, s, path, opts);
    if opts.require_map_list_keys_map_set_validation {
        map_list_keys_map_set(errs, s, path);
    }
    validation_rules(errs, s, path);
}

/// The `x-kubernetes-map-type`, `x-kubernetes-list-type` and `x-kubernetes-list-map-keys`
/// rules of `ValidateCustomResourceDefinitionOpenAPISchema`.
fn list_and_map_types(errs: &mut Errors, s: &Value, path: &str, opts: Options) {
    let ty = text(s, "type");
    let map_type = s.get("x-kubernetes-map-type").and_then(Value::as_str);
    let list_type = s.get("x-kubernetes-list-type").and_then(Value::as_str);
    let keys = array(s, "x-kubernetes-list-map-keys");
    if map_type.is_some() && ty != "object" {
        type_must_be(errs, path, ty, "must be object if x-kubernetes-map-type is specified");
    }
    if let Some(map_type) = map_type
        && map_type != "atomic"
        && map_type != "granular"
    {
        errs.not_supported(
            &format!("{path}.x-kubernetes-map-type"),
            map_type,
            &["atomic", "granular"],
        );
    }
    if list_type.is_some() && ty != "array" {
        type_must_be(errs, path, ty, "must be array if x-kubernetes-list-type is specified");
    } else if opts.require_atomic_set_type
        && list_type == Some("set")
        && let Some(items) = items_schema(s)
    {
        let item_list_type = items.get("x-kubernetes-list-type").and_then(Value::as_str);
        let message = "must be atomic as item of a list with x-kubernetes-list-type=set";
        match text(items, "type") {
            "array" if item_list_type.is_some_and(|t| t != "atomic") => errs.invalid(
                &format!("{path}.items.x-kubernetes-list-type"),
                item_list_type.unwrap_or(""),
                message,
            ),
            // Upstream shows the items' list type here too (usually nil).
            "object"
                if items.get("x-kubernetes-map-type").and_then(Value::as_str) != Some("atomic") =>
            {
                errs.invalid(
                    &format!("{path}.items.x-kubernetes-map-type"),
                    item_list_type.map_or(Shown::Null, Shown::from),
                    message,
                )
            }
            _ => {}
        }
    }
    if let Some(list_type) = list_type
        && !matches!(list_type, "atomic" | "set" | "map")
    {
        errs.not_supported(
            &format!("{path}.x-kubernetes-list-type"),
            list_type,
            &["atomic", "set", "map"],
        );
    }
    if !keys.is_empty() {
        match list_type {
            None => errs.required(
                &format!("{path}.x-kubernetes-list-type"),
                "must be map if x-kubernetes-list-map-keys is non-empty",
            ),
            Some(t) if t != "map" => errs.invalid(
                &format!("{path}.x-kubernetes-list-type"),
                t,
                "must be map if x-kubernetes-list-map-keys is non-empty",
            ),
            Some(_) => {}
        }
    }
    if list_type == Some("map") {
        if keys.is_empty() {
            errs.required(
                &format!("{path}.x-kubernetes-list-map-keys"),
                "must not be empty if x-kubernetes-list-type is map",
            );
        }
        match s.get("items").filter(|i| !i.is_null()) {
            None => errs.required(
                &format!("{path}.items"),
                "must have a schema if x-kubernetes-list-type is map",
            ),
            Some(items) if !items.is_object() => errs.invalid(
                &format!("{path}.items"),
                Shown::Raw(structural::go_value(items)),
                "must only have a single schema if x-kubernetes-list-type is map",
            ),
            Some(items) => {
                let item_type = text(items, "type");
                if item_type != "object" {
                    errs.invalid(
                        &format!("{path}.items.type"),
                        item_type,
                        "must be object if parent array's x-kubernetes-list-type is map",
                    );
                } else {
                    let mut seen = HashSet::new();
                    for key in keys {
                        let key = key.as_str().unwrap_or("");
                        match items.get("properties").and_then(|p| p.get(key)) {
                            Some(prop) => {
                                if matches!(text(prop, "type"), "array" | "object") {
                                    errs.invalid(
                                        &format!("{path}.items.properties[{key}].type"),
                                        item_type,
                                        "must be a scalar type if parent array's x-kubernetes-list-type is map",
                                    );
                                }
                            }
                            None => errs.invalid(
                                &format!("{path}.x-kubernetes-list-map-keys"),
                                Shown::Raw(go_strings(keys)),
                                "entries must all be names of item properties",
                            ),
                        }
                        if !seen.insert(key) {
                            errs.invalid(
                                &format!("{path}.x-kubernetes-list-map-keys"),
                                Shown::Raw(go_strings(keys)),
                                "must not contain duplicate entries",
                            );
                        }
                    }
                }
            }
        }
    }
}

fn type_must_be(errs: &mut Errors, path: &str, ty: &str, detail: &str) {
    if ty.is_empty() {
        errs.required(&format!("{path}.type"), detail);
    } else {
        errs.invalid(&format!("{path}.type"), ty, detail);
    }
}

/// `validateMapListKeysMapSet`: items of set and map lists, and map keys, cannot be nullable;
/// map keys must be required or defaulted.
fn map_list_keys_map_set(errs: &mut Errors, s: &Value, path: &str) {
    let Some(items) = items_schema(s) else { return };
    let Some(list_type) = s.get("x-kubernetes-list-type").and_then(Value::as_str) else { return };
    if list_type != "set" && list_type != "map" {
        return;
    }
    if flag(items, "nullable") {
        errs.forbidden(
            &format!("{path}.items.nullable"),
            &format!("cannot be nullable when x-kubernetes-list-type is {list_type}"),
        );
    }
    if list_type == "map" {
        let required: Vec<&str> =
            array(items, "required").iter().filter_map(Value::as_str).collect();
        for key in array(s, "x-kubernetes-list-map-keys").iter().filter_map(Value::as_str) {
            let Some(prop) = items.get("properties").and_then(|p| p.get(key)) else { continue };
            if !required.contains(&key) && present(prop.get("default")).is_none() {
                errs.required(
                    &format!("{path}.items.properties[{key}].default"),
                    "this property is in x-kubernetes-list-map-keys, so it must have a default or be a required property",
                );
            }
            if flag(prop, "nullable") {
                errs.forbidden(
                    &format!("{path}.items.properties[{key}].nullable"),
                    "this property is in x-kubernetes-list-map-keys, so it cannot be nullable",
                );
            }
        }
    }
}

/// The static rules of `x-kubernetes-validations` (the rules are compiled afterwards, by
/// `cel_rules`, as upstream's `CELErrors` come after the schema errors).
fn validation_rules(errs: &mut Errors, s: &Value, path: &str) {
    for (i, rule) in array(s, "x-kubernetes-validations").iter().enumerate() {
        let at = format!("{path}.x-kubernetes-validations[{i}]");
        let text_of = |f: &str| rule.get(f).and_then(Value::as_str).unwrap_or("");
        let (rule_text, message, message_expression) =
            (text_of("rule"), text_of("message"), text_of("messageExpression"));
        let trimmed_rule = rule_text.trim();
        let trimmed_message = message.trim();
        if trimmed_rule.is_empty() {
            errs.required(&format!("{at}.rule"), "rule is not specified");
        } else if !message.is_empty() && trimmed_message.is_empty() {
            errs.invalid(
                &format!("{at}.message"),
                message,
                "message must be non-empty if specified",
            );
        } else if has_newlines(trimmed_message) {
            errs.invalid(&format!("{at}.message"), message, "message must not contain line breaks");
        } else if has_newlines(trimmed_rule) && trimmed_message.is_empty() {
            errs.required(
                &format!("{at}.message"),
                "message must be specified if rule contains line breaks",
            );
        }
        if !message_expression.is_empty() && message_expression.trim().is_empty() {
            errs.required(
                &format!("{at}.messageExpression"),
                "messageExpression must be non-empty if specified",
            );
        }
        if let Some(reason) = rule.get("reason").and_then(Value::as_str)
            && !VALIDATION_REASONS.contains(&reason)
        {
            errs.not_supported(&format!("{at}.reason"), reason, VALIDATION_REASONS);
        }
        let field_path = text_of("fieldPath");
        if !field_path.is_empty() && field_path.trim().is_empty() {
            errs.invalid(
                &format!("{at}.fieldPath"),
                field_path,
                "fieldPath must be non-empty if specified",
            );
        }
        if has_newlines(field_path) {
            errs.invalid(
                &format!("{at}.fieldPath"),
                field_path,
                "fieldPath must not contain line breaks",
            );
        }
        if !field_path.is_empty()
            && let Err(e) = crate::custom::valid_field_path(s, field_path)
        {
            errs.invalid(
                &format!("{at}.fieldPath"),
                field_path,
                &format!("fieldPath must be a valid path: {e}"),
            );
        }
    }
}

fn has_newlines(s: &str) -> bool {
    s.contains(['\n', '\r'])
}

// === schema predicates ===

/// `SchemaHas`: whether `pred` holds anywhere in `s`.
fn schema_has(s: &Value, pred: &dyn Fn(&Value) -> bool) -> bool {
    if !s.is_object() {
        return false;
    }
    if pred(s) {
        return true;
    }
    let subs = s
        .get("items")
        .into_iter()
        .flat_map(|items| match items {
            Value::Array(a) => a.iter().collect::<Vec<_>>(),
            other => vec![other],
        })
        .chain(["allOf", "anyOf", "oneOf"].iter().flat_map(|j| array(s, j).iter()))
        .chain(s.get("not"))
        .chain(
            ["properties", "patternProperties", "definitions", "dependencies"].iter().flat_map(
                |f| s.get(*f).and_then(Value::as_object).into_iter().flat_map(Map::values),
            ),
        )
        .chain(s.get("additionalProperties"))
        .chain(s.get("additionalItems"));
    for sub in subs {
        if schema_has(sub, pred) {
            return true;
        }
    }
    false
}

/// `schemaHasKubernetesExtensions`' predicate.
fn has_kubernetes_extensions(s: &Value) -> bool {
    flag(s, "x-kubernetes-embedded-resource")
        || present(s.get("x-kubernetes-preserve-unknown-fields")).is_some()
        || flag(s, "x-kubernetes-int-or-string")
        || !array(s, "x-kubernetes-list-map-keys").is_empty()
        || present(s.get("x-kubernetes-list-type")).is_some()
        || !array(s, "x-kubernetes-validations").is_empty()
}

/// `hasNonAtomicSetType`'s predicate.
fn has_non_atomic_set_type(s: &Value) -> bool {
    if s.get("x-kubernetes-list-type").and_then(Value::as_str) != Some("set") {
        return false;
    }
    let Some(items) = items_schema(s) else { return false };
    match text(items, "type") {
        "array" => items
            .get("x-kubernetes-list-type")
            .and_then(Value::as_str)
            .is_some_and(|t| t != "atomic"),
        "object" => items.get("x-kubernetes-map-type").and_then(Value::as_str) != Some("atomic"),
        _ => false,
    }
}

/// Whether a schema field holds its Go zero value (the status-subresource root check skips
/// those): pointers are set by any value, plain strings/bools/slices/maps only when non-empty.
fn is_zero(field: &str, value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.is_empty() && !matches!(field, "$ref" | "$schema"),
        Value::Bool(b) => {
            !*b && matches!(
                field,
                "uniqueItems"
                    | "nullable"
                    | "x-kubernetes-embedded-resource"
                    | "x-kubernetes-int-or-string"
                    | "exclusiveMaximum"
                    | "exclusiveMinimum"
            )
        }
        Value::Array(a) => a.is_empty(),
        Value::Object(m) => {
            m.is_empty()
                && matches!(
                    field,
                    "properties" | "patternProperties" | "definitions" | "dependencies"
                )
        }
        Value::Number(_) => false,
    }
}

// === Go rendering ===

/// `%#v` of the internal `[]CustomResourceDefinitionVersion` (pointers shown as `(…)`, as
/// their addresses mean nothing to a reader).
fn go_versions(spec: &Internal<'_>) -> String {
    let versions: Vec<String> = spec
        .versions
        .iter()
        .map(|v| {
            let name = go_quote(str_of(v.raw, "name"));
            let flag = |f: &str| v.raw.get(f).and_then(Value::as_bool).unwrap_or(false);
            let pointer = |set: bool, ty: &str| {
                if set { format!("(*{ty})(…)") } else { format!("(*{ty})(nil)") }
            };
            let slice = |set: bool, ty: &str| {
                if set { format!("[]{ty}{{…}}") } else { format!("[]{ty}(nil)") }
            };
            format!(
                "apiextensions.CustomResourceDefinitionVersion{{Name:{name}, Served:{}, Storage:{}, Deprecated:{}, DeprecationWarning:{}, Schema:{}, Subresources:{}, AdditionalPrinterColumns:{}, SelectableFields:{}}}",
                flag("served"),
                flag("storage"),
                flag("deprecated"),
                pointer(v.raw.get("deprecationWarning").is_some_and(|w| !w.is_null()), "string"),
                pointer(v.schema.is_some(), "apiextensions.CustomResourceValidation"),
                pointer(v.subresources.is_some(), "apiextensions.CustomResourceSubresources"),
                slice(!v.columns.is_empty(), "apiextensions.CustomResourceColumnDefinition"),
                slice(!v.selectable.is_empty(), "apiextensions.SelectableField"),
            )
        })
        .collect();
    format!("[]apiextensions.CustomResourceDefinitionVersion{{{}}}", versions.join(", "))
}

/// `%#v` of the internal `JSONSchemaProps` struct, abbreviated.
fn go_schema(schema: &Value) -> String {
    let ty = go_quote(text(schema, "type"));
    format!(
        "apiextensions.JSONSchemaProps{{ID:\"\", Schema:\"\", Ref:(*string)(nil), Description:{}, Type:{ty}, …}}",
        go_quote(text(schema, "description"))
    )
}

/// `%#v` of a `[]string`.
fn go_strings(values: &[Value]) -> String {
    let items: Vec<String> = values.iter().map(|v| go_quote(v.as_str().unwrap_or(""))).collect();
    format!("[]string{{{}}}", items.join(", "))
}

// === JSON access ===

/// A field that is set (null counts as unset, as for a Go pointer).
fn present(value: Option<&Value>) -> Option<&Value> {
    value.filter(|v| !v.is_null())
}

/// `ValidateImmutableField` of a string field.
fn immutable(errs: &mut Errors, path: &str, crd: &Value, old: &Value, pointer: &str) {
    let new = str_at(crd, pointer);
    if new != str_at(old, pointer) {
        errs.invalid(path, new, "field is immutable");
    }
}

fn str_of<'a>(value: &'a Value, field: &str) -> &'a str {
    value.get(field).and_then(Value::as_str).unwrap_or("")
}

fn str_at<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

fn list<'a>(value: &'a Value, field: &str) -> &'a [Value] {
    value.get(field).and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[])
}

/// `IsCRDConditionTrue`.
fn condition_true(crd: &Value, kind: &str) -> bool {
    list(crd.get("status").unwrap_or(&Value::Null), "conditions").iter().any(|c| {
        c.get("type").and_then(Value::as_str) == Some(kind)
            && c.get("status").and_then(Value::as_str) == Some("True")
    })
}
