//! CustomResourceDefinitions (`apiextensions.k8s.io/v1`) as objects: their defaults, the
//! registry strategy's create/update preparation, and the status the naming, establishing,
//! API-approval and finalizer controllers of kube-apiserver v1.33 compute — all pure, on JSON.
//!
//! Ported from `staging/src/k8s.io/apiextensions-apiserver`: `pkg/apis/apiextensions/v1/defaults.go`,
//! `pkg/registry/customresourcedefinition/{strategy,etcd}.go`, `pkg/controller/status`
//! (`NamingConditionController`), `pkg/controller/establish`, `pkg/controller/apiapproval`,
//! `pkg/controller/finalizer` and `pkg/apihelpers`. Validation lives in `crd::validation`
//! (reached through [`crate::validation::validate`]); custom resources themselves (their schema
//! validation, pruning, defaulting) are `crate::custom`'s.
//!
//! Suggested reading order: [`set_defaults`], [`prepare_for_create`], [`prepare_for_update`],
//! [`naming_status`], [`mark_for_deletion`].

pub(crate) mod structural;
pub(crate) mod validation;

use std::collections::HashSet;

use serde_json::{Map, Value, json};

/// The finalizer kube-apiserver puts on a CRD being deleted (`CustomResourceCleanupFinalizer`):
/// its instances are deleted before it goes.
pub const FINALIZER: &str = "customresourcecleanup.apiextensions.k8s.io";

/// The annotation protected groups (`*.k8s.io`, `*.kubernetes.io`) need
/// (`KubeAPIApprovedAnnotation`).
pub const API_APPROVED_ANNOTATION: &str = "api-approved.kubernetes.io";

// === defaults ===

/// `SetDefaults_CustomResourceDefinition` with `SetDefaults_CustomResourceDefinitionSpec` and
/// `SetDefaults_ServiceReference`: `names.singular` is the lowercased kind, `names.listKind` the
/// kind + `List`, `conversion` `{strategy: None}`, a webhook service's port 443, and
/// `status.storedVersions` the storage version when empty. Also writes what a typed decode of
/// the v1 struct writes although it has no `omitempty` (`served`, `storage` of each version).
pub fn set_defaults(crd: &mut Value) {
    let Some(object) = crd.as_object_mut() else { return };
    let Some(spec) = object.get_mut("spec").and_then(Value::as_object_mut) else { return };
    if let Some(names) = spec.get_mut("names").and_then(Value::as_object_mut) {
        let kind = names.get("kind").and_then(Value::as_str).unwrap_or("").to_owned();
        if names.get("singular").and_then(Value::as_str).is_none_or(str::is_empty) {
            names.insert("singular".into(), json!(kind.to_lowercase()));
        }
        if names.get("listKind").and_then(Value::as_str).is_none_or(str::is_empty)
            && !kind.is_empty()
        {
            names.insert("listKind".into(), json!(format!("{kind}List")));
        }
    }
    if spec.get("conversion").is_none_or(Value::is_null) {
        spec.insert("conversion".into(), json!({"strategy": "None"}));
    }
    if let Some(service) = spec
        .get_mut("conversion")
        .and_then(|c| c.get_mut("webhook"))
        .and_then(|w| w.get_mut("clientConfig"))
        .and_then(|c| c.get_mut("service"))
        .and_then(Value::as_object_mut)
        && service.get("port").is_none_or(Value::is_null)
    {
        service.insert("port".into(), json!(443));
    }
    if let Some(Value::Array(versions)) = spec.get_mut("versions") {
        for version in versions.iter_mut().filter_map(Value::as_object_mut) {
            for flag in ["served", "storage"] {
                if version.get(flag).is_none_or(Value::is_null) {
                    version.insert(flag.into(), json!(false));
                }
            }
        }
    }
    let storage = storage_version(crd).map(str::to_owned);
    let Some(object) = crd.as_object_mut() else { return };
    if let Some(storage) = storage
        && let Some(status) = object.entry("status").or_insert_with(|| json!({})).as_object_mut()
        && status.get("storedVersions").and_then(Value::as_array).is_none_or(Vec::is_empty)
    {
        status.insert("storedVersions".into(), json!([storage]));
    }
}

// === strategy ===

/// `strategy.PrepareForCreate`: the status starts empty (with the storage version stored),
/// `metadata.generation` is 1. `dropDisabledFields` drops nothing in v1.33 (CRDValidationRatcheting
/// and CustomResourceFieldSelectors are on by default). The apiserver's generic path owns uid,
/// creationTimestamp and resourceVersion.
pub fn prepare_for_create(crd: &mut Value) {
    let storage = storage_version(crd).map(str::to_owned);
    let Some(object) = crd.as_object_mut() else { return };
    let mut status = empty_status();
    if let Some(storage) = storage {
        status.insert("storedVersions".into(), json!([storage]));
    }
    object.insert("status".into(), Value::Object(status));
    if let Some(meta) = object.entry("metadata").or_insert_with(|| json!({})).as_object_mut() {
        meta.insert("generation".into(), json!(1));
    }
}

/// `strategy.PrepareForUpdate`: the status is the stored one (changed only through `/status`),
/// `metadata.generation` goes up by one when the spec changed, and the storage version is
/// appended to `status.storedVersions` when it is not there yet.
pub fn prepare_for_update(crd: &mut Value, old: &Value) {
    let status = old.get("status").cloned().unwrap_or_else(|| Value::Object(empty_status()));
    let spec_changed = !crate::json::equal(
        crd.get("spec").unwrap_or(&Value::Null),
        old.get("spec").unwrap_or(&Value::Null),
    );
    let old_generation = old.pointer("/metadata/generation").and_then(Value::as_i64).unwrap_or(0);
    let storage = storage_version(crd).map(str::to_owned);
    let Some(object) = crd.as_object_mut() else { return };
    object.insert("status".into(), status);
    if let Some(meta) = object.entry("metadata").or_insert_with(|| json!({})).as_object_mut() {
        let generation = if spec_changed { old_generation + 1 } else { old_generation };
        meta.insert("generation".into(), json!(generation));
    }
    if let Some(storage) = storage
        && let Some(status) = object.get_mut("status").and_then(Value::as_object_mut)
    {
        let stored = status.entry("storedVersions").or_insert_with(|| json!([]));
        if !stored.is_array() {
            *stored = json!([]);
        }
        if let Some(stored) = stored.as_array_mut()
            && !stored.iter().any(|v| v.as_str() == Some(storage.as_str()))
        {
            stored.push(json!(storage));
        }
    }
}

/// `statusStrategy.PrepareForUpdate`: a status write keeps the stored spec. (Its
/// `ResetObjectMetaForStatus` is the generic status path's, as for every kind.)
pub fn prepare_for_status_update(crd: &mut Value, old: &Value) {
    let spec = old.get("spec").cloned();
    let Some(object) = crd.as_object_mut() else { return };
    match spec {
        Some(spec) => object.insert("spec".into(), spec),
        None => object.remove("spec"),
    };
}

/// The name of the version marked `storage: true` (the first one, as upstream looks).
pub fn storage_version(crd: &Value) -> Option<&str> {
    list(crd.get("spec"), "versions")
        .iter()
        .find(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
        .and_then(|v| v.get("name").and_then(Value::as_str))
}

/// The empty v1 status as a typed encode writes it: `acceptedNames` has no `omitempty`, nor do
/// its `plural` and `kind`; `storedVersions` has none either but is nil (null) when empty,
/// which we leave out as the stored JSON does.
fn empty_status() -> Map<String, Value> {
    let mut status = Map::new();
    status.insert("acceptedNames".into(), json!({"plural": "", "kind": ""}));
    status
}

// === naming, establishing, API approval ===

/// The new `status` of `crd` as kube-apiserver's controllers leave it, given every other CRD
/// (`others`; the CRD itself may be among them, it counts once) and the current time:
///
/// - `NamingConditionController` (`calculateNamesAndConditions`): each requested name (plural,
///   singular, short names; kind, list kind) is accepted unless another CRD of the same group
///   has it among its accepted names; `NamesAccepted` is True `NoConflicts` or False with
///   `PluralConflict`/`SingularConflict`/`ShortNamesConflict`/`KindConflict`/`ListKindConflict`
///   and `"foos" is already in use`. Nothing changes when the spec names already are the
///   accepted ones.
/// - `EstablishingController`: once names are accepted, `Established` True
///   `InitialNamesAccepted` (upstream passes through False `Installing` for a moment first; berth
///   serves a CRD as soon as its names are accepted, so the two steps are one).
/// - `KubernetesAPIApprovalPolicyConformant` for the protected groups (`calculateCondition`).
///
/// Other conditions and `storedVersions` are kept; a condition keeps its `lastTransitionTime`
/// while its status does not change (`SetCRDCondition`).
pub fn naming_status(crd: &Value, others: &[&Value], now_rfc3339: &str) -> Value {
    let mut status = match crd.get("status") {
        Some(Value::Object(status)) => status.clone(),
        _ => empty_status(),
    };
    let spec_names = crd.pointer("/spec/names").cloned().unwrap_or_else(|| json!({}));
    let accepted = status.get("acceptedNames").cloned().unwrap_or_else(|| json!({}));
    if !names_equal(&spec_names, &accepted) {
        let group = str_at(crd, "/spec/group");
        let name = str_at(crd, "/metadata/name");
        let (resources, kinds) = names_in_group(crd, others, group, name);
        let (names, accepted_condition, established) =
            calculate_names(&status, &spec_names, &accepted, &resources, &kinds);
        let unchanged = names_equal(&accepted, &names)
            && find_condition(&status, "NamesAccepted")
                .is_some_and(|c| equivalent(c, &accepted_condition));
        if !unchanged {
            status.insert("acceptedNames".into(), names);
            set_condition(&mut status, accepted_condition, now_rfc3339);
            set_condition(&mut status, established, now_rfc3339);
        }
    }
    // `EstablishingController`: names accepted and not yet established.
    let names_accepted = find_condition(&status, "NamesAccepted")
        .is_some_and(|c| c.get("status").and_then(Value::as_str) == Some("True"));
    let established = find_condition(&status, "Established")
        .is_some_and(|c| c.get("status").and_then(Value::as_str) == Some("True"));
    if names_accepted && !established {
        let condition = condition(
            "Established",
            "True",
            "InitialNamesAccepted",
            "the initial names have been accepted",
        );
        set_condition(&mut status, condition, now_rfc3339);
    }
    if let Some(condition) = approval_condition(crd) {
        set_condition(&mut status, condition, now_rfc3339);
    }
    Value::Object(status)
}

/// Every name the CRDs of `group` have accepted (`getAcceptedNamesForGroup`): resources
/// (plural, singular, short names) and kinds (kind, list kind). Upstream lists every CRD of the
/// group, the one being named included.
fn names_in_group(
    crd: &Value,
    others: &[&Value],
    group: &str,
    name: &str,
) -> (HashSet<String>, HashSet<String>) {
    let mut resources = HashSet::new();
    let mut kinds = HashSet::new();
    let others =
        others.iter().copied().filter(|o| name.is_empty() || str_at(o, "/metadata/name") != name);
    for item in std::iter::once(crd).chain(others) {
        if str_at(item, "/spec/group") != group {
            continue;
        }
        let accepted = item.pointer("/status/acceptedNames").unwrap_or(&Value::Null);
        for field in ["plural", "singular"] {
            resources.insert(str_at(accepted, &format!("/{field}")).to_owned());
        }
        for short in list(Some(accepted), "shortNames") {
            resources.insert(short.as_str().unwrap_or("").to_owned());
        }
        for field in ["kind", "listKind"] {
            kinds.insert(str_at(accepted, &format!("/{field}")).to_owned());
        }
    }
    (resources, kinds)
}

/// `calculateNamesAndConditions`: the accepted names, `NamesAccepted` and the `Established`
/// condition the naming controller writes.
fn calculate_names(
    status: &Map<String, Value>,
    requested: &Value,
    accepted: &Value,
    resources: &HashSet<String>,
    kinds: &HashSet<String>,
) -> (Value, Value, Value) {
    let mut names = match accepted {
        Value::Object(map) => map.clone(),
        _ => Map::new(),
    };
    let mut conflict: Option<(&str, String)> = None;
    let text = |v: &Value, f: &str| v.get(f).and_then(Value::as_str).unwrap_or("").to_owned();
    for (field, reason, used) in
        [("plural", "PluralConflict", resources), ("singular", "SingularConflict", resources)]
    {
        match fresh(&text(requested, field), &text(accepted, field), used) {
            Err(message) => conflict = Some((reason, message)),
            Ok(()) => set_name(&mut names, field, requested.get(field)),
        }
    }
    let requested_short = list(Some(requested), "shortNames");
    let accepted_short = list(Some(accepted), "shortNames");
    if requested_short != accepted_short {
        let own_plural = text(accepted, "plural");
        let own_singular = text(accepted, "singular");
        let mut errors = Vec::new();
        for short in requested_short.iter().map(|s| s.as_str().unwrap_or("")) {
            // A short name that is already ours, or our own accepted plural/singular (which is
            // in the used set, as upstream reads its own status back), is no conflict.
            if accepted_short.iter().any(|a| a.as_str() == Some(short))
                || short == own_plural
                || short == own_singular
            {
                continue;
            }
            if let Err(message) = fresh(short, "", resources) {
                errors.push(message);
            }
        }
        if errors.is_empty() {
            set_name(&mut names, "shortNames", requested.get("shortNames"));
        } else {
            // `utilerrors.NewAggregate(...).Error()`: one message as is, several in brackets.
            let message = if errors.len() == 1 {
                errors.remove(0)
            } else {
                format!("[{}]", errors.join(", "))
            };
            conflict = Some(("ShortNamesConflict", message));
        }
    }
    for (field, reason) in [("kind", "KindConflict"), ("listKind", "ListKindConflict")] {
        match fresh(&text(requested, field), &text(accepted, field), kinds) {
            Err(message) => conflict = Some((reason, message)),
            Ok(()) => set_name(&mut names, field, requested.get(field)),
        }
    }
    set_name(&mut names, "categories", requested.get("categories"));
    for required in ["plural", "kind"] {
        names.entry(required).or_insert_with(|| json!(""));
    }
    let names_accepted = match conflict {
        Some((reason, message)) => condition("NamesAccepted", "False", reason, &message),
        None => condition("NamesAccepted", "True", "NoConflicts", "no conflicts found"),
    };
    let mut established = find_condition(status, "Established").cloned().unwrap_or_else(|| {
        condition("Established", "False", "NotAccepted", "not all names are accepted")
    });
    if established.get("status").and_then(Value::as_str) != Some("True")
        && names_accepted.get("status").and_then(Value::as_str) == Some("True")
    {
        established =
            condition("Established", "False", "Installing", "the initial names have been accepted");
    }
    (Value::Object(names), names_accepted, established)
}

/// `equalToAcceptedOrFresh`.
fn fresh(requested: &str, accepted: &str, used: &HashSet<String>) -> Result<(), String> {
    if requested == accepted || !used.contains(requested) {
        return Ok(());
    }
    Err(format!("{} is already in use", crate::validation::go_quote(requested)))
}

/// Sets (or, when empty, removes) one field of a names object, as Go's `omitempty` would write it.
fn set_name(names: &mut Map<String, Value>, field: &str, value: Option<&Value>) {
    let empty = match value {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        Some(_) => false,
    };
    if empty && !matches!(field, "plural" | "kind") {
        names.remove(field);
    } else {
        names.insert(field.to_owned(), value.cloned().unwrap_or_else(|| json!("")));
    }
}

/// `equality.Semantic.DeepEqual` of two names objects: missing, null, `""` and `[]` are alike.
fn names_equal(a: &Value, b: &Value) -> bool {
    ["plural", "singular", "shortNames", "kind", "listKind", "categories"].iter().all(|field| {
        let norm = |v: &Value| match v.get(*field) {
            None | Some(Value::Null) => Value::Null,
            Some(Value::String(s)) if s.is_empty() => Value::Null,
            Some(Value::Array(a)) if a.is_empty() => Value::Null,
            Some(other) => other.clone(),
        };
        norm(a) == norm(b)
    })
}

/// `apiapproval.calculateCondition`: the `KubernetesAPIApprovalPolicyConformant` condition of a
/// CRD in a protected group, `None` for other groups.
fn approval_condition(crd: &Value) -> Option<Value> {
    let group = str_at(crd, "/spec/group");
    if !is_protected_group(group) {
        return None;
    }
    let annotation = crd
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(API_APPROVED_ANNOTATION))
        .and_then(Value::as_str)
        .unwrap_or("");
    let (state, message) = approval_state(annotation);
    let (status, reason) = match state {
        ApprovalState::Invalid => ("False", "InvalidAnnotation"),
        ApprovalState::Missing => ("False", "MissingAnnotation"),
        ApprovalState::Approved => ("True", "ApprovedAnnotation"),
        ApprovalState::Bypassed => ("False", "UnapprovedAnnotation"),
    };
    Some(condition("KubernetesAPIApprovalPolicyConformant", status, reason, &message))
}

/// `apihelpers.IsProtectedCommunityGroup`.
pub(crate) fn is_protected_group(group: &str) -> bool {
    group == "k8s.io"
        || group.ends_with(".k8s.io")
        || group == "kubernetes.io"
        || group.ends_with(".kubernetes.io")
}

/// `apihelpers.APIApprovalState`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ApprovalState {
    Invalid,
    Approved,
    Bypassed,
    Missing,
}

/// `apihelpers.GetAPIApprovalState`: the state of the approval annotation and why.
pub(crate) fn approval_state(annotation: &str) -> (ApprovalState, String) {
    let quoted = crate::validation::go_quote(API_APPROVED_ANNOTATION);
    if annotation.is_empty() {
        return (
            ApprovalState::Missing,
            format!(
                "protected groups must have approval annotation {quoted}, see https://github.com/kubernetes/enhancements/pull/1111"
            ),
        );
    }
    if annotation.starts_with("unapproved") {
        return (
            ApprovalState::Bypassed,
            format!("not approved: {}", crate::validation::go_quote(annotation)),
        );
    }
    if is_request_uri_with_host(annotation) {
        return (ApprovalState::Approved, format!("approved in {annotation}"));
    }
    (
        ApprovalState::Invalid,
        format!(
            "protected groups must have approval annotation {quoted} with either a URL or a reason starting with \"unapproved\", see https://github.com/kubernetes/enhancements/pull/1111"
        ),
    )
}

/// `url.ParseRequestURI(s)` succeeding with a scheme and a host: `scheme://host…`, the scheme
/// `[A-Za-z][A-Za-z0-9+.-]*`, no spaces or control characters.
fn is_request_uri_with_host(s: &str) -> bool {
    let Some((scheme, rest)) = s.split_once("://") else { return false };
    let scheme_ok = scheme.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit('@').next().unwrap_or("");
    scheme_ok && !host.is_empty() && !s.chars().any(|c| c.is_control() || c == ' ')
}

// === deletion ===

/// Where the deletion of a CRD's instances stands, as the `Terminating` condition says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Termination {
    /// `REST.Delete` marked the CRD: True `InstanceDeletionPending`.
    Pending,
    /// The finalizer controller started: True `InstanceDeletionInProgress`.
    InProgress,
    /// Deleting instances failed: True `InstanceDeletionFailed` with this message
    /// (upstream: `could not list instances: …`, `could not issue all deletes: …`).
    Failed(String),
    /// Instances remain after the deletes: True `InstanceDeletionCheck` with this message
    /// (`could not confirm zero CustomResources remaining: …`).
    Check(String),
    /// Every instance is gone: False `InstanceDeletionCompleted`; the finalizer goes next.
    Completed,
    /// The CRD was never established, so it has no instances: False `NeverEstablished`.
    NeverEstablished,
}

/// The `Terminating` condition for `stage` (`crd_finalizer.go`, `etcd.go` `Delete`).
pub fn terminating_condition(stage: &Termination) -> Value {
    match stage {
        Termination::Pending => condition(
            "Terminating",
            "True",
            "InstanceDeletionPending",
            "CustomResourceDefinition marked for deletion; CustomResource deletion will begin soon",
        ),
        Termination::InProgress => condition(
            "Terminating",
            "True",
            "InstanceDeletionInProgress",
            "CustomResource deletion is in progress",
        ),
        Termination::Failed(message) => {
            condition("Terminating", "True", "InstanceDeletionFailed", message)
        }
        Termination::Check(message) => {
            condition("Terminating", "True", "InstanceDeletionCheck", message)
        }
        Termination::Completed => {
            condition("Terminating", "False", "InstanceDeletionCompleted", "removed all instances")
        }
        Termination::NeverEstablished => {
            condition("Terminating", "False", "NeverEstablished", "resource was never established")
        }
    }
}

/// Sets the `Terminating` condition of `crd` for `stage` (`SetCRDCondition`).
pub fn set_terminating(crd: &mut Value, stage: &Termination, now_rfc3339: &str) {
    let Some(object) = crd.as_object_mut() else { return };
    let status = object.entry("status").or_insert_with(|| Value::Object(empty_status()));
    if !status.is_object() {
        *status = Value::Object(empty_status());
    }
    if let Some(status) = status.as_object_mut() {
        set_condition(status, terminating_condition(stage), now_rfc3339);
    }
}

/// What `REST.Delete` does to a CRD on the first delete request, besides setting
/// `metadata.deletionTimestamp` (the apiserver's): adds [`FINALIZER`] and sets `Terminating`
/// True `InstanceDeletionPending`.
pub fn mark_for_deletion(crd: &mut Value, now_rfc3339: &str) {
    if let Some(meta) = crd
        .as_object_mut()
        .and_then(|o| o.entry("metadata").or_insert_with(|| json!({})).as_object_mut())
    {
        let finalizers = meta.entry("finalizers").or_insert_with(|| json!([]));
        if !finalizers.is_array() {
            *finalizers = json!([]);
        }
        if let Some(finalizers) = finalizers.as_array_mut()
            && !finalizers.iter().any(|f| f.as_str() == Some(FINALIZER))
        {
            finalizers.push(json!(FINALIZER));
        }
    }
    set_terminating(crd, &Termination::Pending, now_rfc3339);
}

/// `CRDRemoveFinalizer` of [`FINALIZER`], once every instance is gone.
pub fn remove_finalizer(crd: &mut Value) {
    if let Some(Value::Array(finalizers)) = crd.pointer_mut("/metadata/finalizers") {
        finalizers.retain(|f| f.as_str() != Some(FINALIZER));
    }
}

// === conditions ===

fn condition(kind: &str, status: &str, reason: &str, message: &str) -> Value {
    json!({"type": kind, "status": status, "reason": reason, "message": message})
}

/// `FindCRDCondition` on a whole CRD: its condition of type `kind`, if any.
pub fn crd_condition<'a>(crd: &'a Value, kind: &str) -> Option<&'a Value> {
    find_condition(crd.get("status")?.as_object()?, kind)
}

/// `IsCRDConditionTrue`.
pub fn condition_true(crd: &Value, kind: &str) -> bool {
    crd_condition(crd, kind)
        .is_some_and(|c| c.get("status").and_then(Value::as_str) == Some("True"))
}

/// `FindCRDCondition`.
fn find_condition<'a>(status: &'a Map<String, Value>, kind: &str) -> Option<&'a Value> {
    status
        .get("conditions")
        .and_then(Value::as_array)?
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(kind))
}

/// `IsCRDConditionEquivalent`: equal but for the time.
fn equivalent(a: &Value, b: &Value) -> bool {
    ["type", "status", "reason", "message"]
        .iter()
        .all(|f| a.get(*f).and_then(Value::as_str) == b.get(*f).and_then(Value::as_str))
}

/// `SetCRDCondition`: replaces the condition of the same type, keeping its
/// `lastTransitionTime` unless the status changes (or it had none), or appends it.
fn set_condition(status: &mut Map<String, Value>, mut new: Value, now: &str) {
    let conditions = status.entry("conditions").or_insert_with(|| json!([]));
    if !conditions.is_array() {
        *conditions = json!([]);
    }
    let Some(conditions) = conditions.as_array_mut() else { return };
    let kind = new.get("type").cloned();
    let existing = conditions.iter_mut().find(|c| c.get("type") == kind.as_ref());
    match existing {
        None => {
            if let Some(new) = new.as_object_mut() {
                new.insert("lastTransitionTime".into(), json!(now));
            }
            conditions.push(new);
        }
        Some(existing) => {
            let changed = existing.get("status") != new.get("status");
            let no_time = existing
                .get("lastTransitionTime")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty);
            let time = if changed || no_time {
                json!(now)
            } else {
                existing.get("lastTransitionTime").cloned().unwrap_or_else(|| json!(now))
            };
            if let (Some(existing), Some(new)) = (existing.as_object_mut(), new.as_object_mut()) {
                for field in ["status", "reason", "message"] {
                    match new.remove(field) {
                        Some(value) => existing.insert(field.into(), value),
                        None => existing.remove(field),
                    };
                }
                existing.insert("lastTransitionTime".into(), time);
            }
        }
    }
}

// === JSON access ===

fn str_at<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

fn list<'a>(value: Option<&'a Value>, field: &str) -> &'a [Value] {
    value.and_then(|v| v.get(field)).and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[])
}

#[cfg(test)]
mod tests;
