//! Custom resources: the objects a CustomResourceDefinition defines, as apiextensions-apiserver
//! v1.33 handles them — pruning, defaulting and validation against one CRD version's structural
//! schema ([`Schema`]), and server-side printing with its `additionalPrinterColumns`
//! ([`Columns`]).
//!
//! Everything is pure and tolerant: a CRD that reached the store passed validation, but nothing
//! here panics on any schema or object. Suggested reading order: [`Schema`] (`schema`: parsing,
//! [`Schema::prune`], [`Schema::default`]), `validate` ([`Schema::validate`], kube-openapi's
//! validator and its error conversion; `formats`), `cel` (the `x-kubernetes-validations`
//! rules), then [`Columns`] (`columns`) and `jsonpath`.
//! `regex` is the small RE2-style engine behind `pattern`; `gofmt` renders JSON values as Go's
//! `fmt` prints the decoded `interface{}` values upstream reports.
//!
//! A write runs them in upstream's order: [`Schema::prune`] (the decoder's schema coercion),
//! [`Schema::default`], then [`Schema::validate`] or [`Schema::validate_update`] (the strategy).

mod cel;
mod columns;
mod formats;
mod gofmt;
mod jsonpath;
mod regex;
mod schema;
mod validate;

#[cfg(test)]
mod cel_tests;
#[cfg(test)]
mod tests;

use serde_json::Value;

use crate::validation::FieldError;

pub use columns::Columns;

use schema::Node;

/// The compile problems of each of the `x-kubernetes-validations` rules of one schema node (a
/// `JSONSchemaProps`), as CRD validation reports them; `resource_root`: the node is the
/// resource root or an embedded resource. See `cel` for what a compile checks.
pub(crate) fn compile_problems(schema: &Value, resource_root: bool) -> Vec<cel::Problems> {
    cel::compile_problems(schema, resource_root)
}

/// `ValidFieldPath`: a rule's `fieldPath` resolved against the schema node declaring the rule,
/// or why it does not resolve.
pub(crate) fn valid_field_path(schema: &Value, field_path: &str) -> Result<String, String> {
    cel::valid_field_path(field_path, &Node::parse_shape(schema))
}

pub(crate) use cel::go_rule;

/// One CRD version's structural schema (`spec.versions[i].schema.openAPIV3Schema`), parsed once.
#[derive(Debug, Clone)]
pub struct Schema {
    /// `None`: the version has no schema, everything is preserved and nothing is checked.
    root: Option<Node>,
}

impl Schema {
    /// From `spec.versions[i].schema.openAPIV3Schema` (`None`: no schema, i.e. everything
    /// preserved). Infallible: a part of the schema that is not what the CRD API allows is read
    /// as absent.
    pub fn new(open_api_v3_schema: Option<&Value>) -> Schema {
        Schema { root: open_api_v3_schema.map(Node::parse) }
    }

    /// Drops every field the schema does not specify, as apiextensions-apiserver's
    /// `pruning.PruneWithOptions` (with `isResourceRoot` and unknown-field tracking) does,
    /// honouring `x-kubernetes-preserve-unknown-fields` and `x-kubernetes-embedded-resource`;
    /// then prunes the `metadata` of embedded resources to `ObjectMeta`'s fields
    /// (`objectmeta.CoerceWithOptions`). At the root `apiVersion`, `kind` and `metadata` are
    /// always kept.
    ///
    /// Returns the pruned fields' paths as upstream reports them for `fieldValidation`
    /// (`spec.foo`, `spec.items[0].bar`): the pruning's paths sorted, then the embedded
    /// metadata's, sorted.
    pub fn prune(&self, object: &mut Value) -> Vec<String> {
        schema::prune(self.root.as_ref(), object)
    }

    /// Applies the schema's `default`s as the CR decoder does: first
    /// `defaulting.PruneNonNullableNullsWithoutDefaults` (a `null` where the schema neither
    /// allows null nor has a default is dropped), then `defaulting.Default` (a property's
    /// default applies only when its parent object exists; a non-nullable `null` with a default
    /// is replaced by it).
    pub fn default(&self, object: &mut Value) {
        if let Some(root) = &self.root {
            schema::prune_non_nullable_nulls(object, Some(root));
            schema::default(object, root);
        }
    }

    /// Every problem of `object` under the schema, as the CR strategy's schema checks report
    /// them: kube-openapi's `SchemaValidator` (type, nullable, `x-kubernetes-int-or-string`,
    /// enum, bounds, `multipleOf`, lengths, `pattern`, items, properties, `required`,
    /// `additionalProperties`, `allOf`/`anyOf`/`oneOf`/`not`, the formats CRDs support)
    /// converted by `kubeOpenAPIResultToFieldErrors`; then `objectmeta.Validate`'s `apiVersion`
    /// and `kind` checks of embedded resources; then `listtype.ValidateListSetsAndMaps`
    /// (`x-kubernetes-list-type` `set` and `map` uniqueness).
    ///
    /// Then the CEL `x-kubernetes-validations` rules (`cel`: `Validator.Validate`), each at the
    /// node that declares it with `self` bound to that node's value; where a blocking error was
    /// found they are not run and upstream's `some validation rules were not checked…` error
    /// is added instead. Not done here: the `ObjectMeta` validation of embedded resources'
    /// `metadata`, and the root `metadata` (the generic code validates it).
    /// Errors that name no property (`anyOf`/`oneOf`/`allOf`/`not` failures, integer range
    /// checks) have the field `<nil>`, as upstream's nil root path prints. Upstream walks
    /// properties in Go's random map order; this walks them sorted by name.
    pub fn validate(&self, object: &Value) -> Vec<FieldError> {
        match &self.root {
            Some(root) => validate::validate(root, object),
            None => Vec::new(),
        }
    }

    /// Every problem of an update from `old` to `object`, as the CR strategy's `ValidateUpdate`
    /// reports them with v1.33's `CRDValidationRatcheting` (on by default): the checks of
    /// [`Schema::validate`], except that a schema error under a value left unchanged from its
    /// correlated old value is dropped (properties correlate by name, `map` lists by their
    /// keys, other lists by index, `set` and `atomic` lists not at all), and list-type
    /// uniqueness is checked only when the old object satisfied it. CEL rules as in
    /// [`Schema::validate`], plus the transition rules (those using `oldSelf`) where the old
    /// object has a correlated value (properties and map keys by name, `map` list items by
    /// their keys); a failure of a rule that is not a transition rule is dropped when the value
    /// (or its nearest correlated ancestor) is unchanged (upstream warns instead).
    pub fn validate_update(&self, object: &Value, old: &Value) -> Vec<FieldError> {
        match &self.root {
            Some(root) => validate::validate_update(root, object, old),
            None => Vec::new(),
        }
    }

    /// Whether the schema specifies `.status` (a `status` property at the root), so the status
    /// subresource has something of its own to split off.
    pub fn has_status(&self) -> bool {
        self.root.as_ref().is_some_and(|root| root.properties.contains_key("status"))
    }

    /// Whether the schema has CEL `x-kubernetes-validations` rules anywhere (upstream then has a
    /// CEL validator; its "rules were not checked" error also counts the caller's own blocking
    /// errors, e.g. of `metadata`, which [`Schema::validate`] does not see).
    pub fn has_cel_rules(&self) -> bool {
        self.root.as_ref().is_some_and(Node::any_cel_rules)
    }

    /// Whether the root preserves unknown fields (`x-kubernetes-preserve-unknown-fields: true`),
    /// or there is no schema at all: then nothing outside the specified properties is pruned.
    pub fn preserves_unknown_fields(&self) -> bool {
        self.root.as_ref().is_none_or(|root| root.preserve_unknown_fields)
    }

    /// Whether the schema has a `default` anywhere: whether [`Schema::default`] can change an
    /// object (apiextensions-apiserver also defaults what it reads from storage).
    pub fn has_defaults(&self) -> bool {
        self.root.as_ref().is_some_and(Node::any_defaults)
    }
}
