//! Server-side apply and managedFields at the HTTP boundary: who the field manager of a
//! request is, the checks kube-apiserver makes on PatchOptions, reading an
//! `application/apply-patch+yaml` body, and the one hook every write calls so that
//! `metadata.managedFields` records it (`berth_api::apply` does the work).

use axum::http::{HeaderMap, StatusCode, header};
use berth_api::apply::{self, Error, ManagedText, Writer};
use berth_api::kinds::ResourceType;
use serde_json::Value;

use crate::objects;
use crate::request::Query;
use crate::status::{Cause, Details, Status};
use crate::strict::Duplicate;

/// The Content-Type of server-side apply.
pub(crate) const APPLY_PATCH: &str = "application/apply-patch+yaml";

/// The longest field manager name Kubernetes accepts (and keeps from a User-Agent).
const MAX_MANAGER: usize = 128;

fn is_apply(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(';').next().unwrap_or_default().trim() == APPLY_PATCH)
}

/// The request's field manager: `fieldManager`, else the User-Agent up to its first `/`
/// (`kubectl-client-side-apply/v1.33.0 (linux/amd64) …` → `kubectl-client-side-apply`), as
/// kube-apiserver derives it.
pub(crate) fn manager(headers: &HeaderMap, query: &Query) -> String {
    if let Some(manager) = query.get("fieldManager") {
        return manager.to_owned();
    }
    let agent = headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let prefix = agent.split('/').next().unwrap_or_default();
    prefix.chars().take(MAX_MANAGER).collect()
}

/// `PatchOptions` validation: apply needs a field manager, only apply may force.
pub(crate) fn check_patch_options(query: &Query, applying: bool) -> Result<(), Status> {
    let mut causes = Vec::new();
    if applying && query.get("fieldManager").is_none() {
        causes.push(Cause {
            reason: "FieldValueRequired",
            message: "Required value: is required for apply patch".into(),
            field: "fieldManager".into(),
        });
    }
    if !applying && query.get("force").is_some() {
        causes.push(Cause {
            reason: "FieldValueForbidden",
            message: "Forbidden: may not be specified for non-apply patch".into(),
            field: "force".into(),
        });
    }
    if let Some(manager) = query.get("fieldManager")
        && manager.chars().count() > MAX_MANAGER
    {
        causes.push(Cause {
            reason: "FieldValueTooLong",
            message: format!("Too long: may not be more than {MAX_MANAGER} bytes"),
            field: "fieldManager".into(),
        });
    }
    if causes.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = causes.iter().map(|c| format!("{}: {}", c.field, c.message)).collect();
    let message = match list.as_slice() {
        [one] => format!("PatchOptions.meta.k8s.io \"\" is invalid: {one}"),
        many => format!("PatchOptions.meta.k8s.io \"\" is invalid: [{}]", many.join(", ")),
    };
    Err(Status::new(StatusCode::UNPROCESSABLE_ENTITY, "Invalid", message).with_details(Details {
        group: Some("meta.k8s.io".into()),
        kind: Some("PatchOptions".into()),
        causes,
        ..Details::default()
    }))
}

/// Reads an apply configuration: YAML, or JSON (which kubectl sends), with the keys it repeats
/// (with their YAML lines: kube-apiserver reads every apply body as YAML).
pub(crate) fn parse(bytes: &[u8]) -> Result<(Value, Vec<Duplicate>), Status> {
    let yaml = || {
        let text = std::str::from_utf8(bytes)
            .map_err(|_| Status::bad_request("error decoding YAML: the body is not UTF-8"))?;
        crate::strict::yaml(text)
            .map_err(|e| Status::bad_request(format!("error decoding YAML: {e}")))
    };
    let (value, duplicates) = match crate::strict::json(bytes) {
        Ok((value, duplicates)) if duplicates.is_empty() => (value, duplicates),
        // Lines come from reading it as YAML, which is rare enough to do twice.
        Ok((value, _)) => (value, yaml().map(|(_, d)| d).unwrap_or_default()),
        Err(_) => yaml()?,
    };
    if !value.is_object() {
        return Err(Status::bad_request(
            "error decoding YAML: an apply configuration must be an object",
        ));
    }
    Ok((value, duplicates))
}

/// `fieldValidation=Strict` refuses an apply configuration that repeats keys (kube-apiserver's
/// `yaml.UnmarshalStrict` after the apply).
pub(crate) fn check_duplicates(directive: &str, duplicates: &[Duplicate]) -> Result<(), Status> {
    if directive != "Strict" || duplicates.is_empty() {
        return Ok(());
    }
    Err(Status::bad_request(format!(
        "error strict decoding YAML: error converting YAML to JSON: {}",
        crate::strict::yaml_error(duplicates)
    )))
}

/// The warnings `fieldValidation=Warn` gives an apply configuration that repeats keys.
pub(crate) fn duplicate_warnings(directive: &str, duplicates: &[Duplicate]) -> Vec<String> {
    if directive != "Warn" {
        return Vec::new();
    }
    duplicates.iter().map(Duplicate::yaml_line).collect()
}

/// Top-level fields a write through this endpoint does not own (kube-apiserver's reset
/// fields): a main resource with a status subresource leaves `status` alone, `status` the
/// spec. The metadata a status strategy also resets (a Deployment's labels, a pod's owner
/// references) is put back before the write is recorded, so no one gains it.
fn reset(resource: &ResourceType, subresource: &str) -> &'static [&'static str] {
    match subresource {
        "status" => &["spec"],
        "" if resource.subresource("status").is_some() => &["status"],
        _ => &[],
    }
}

fn writer<'a>(
    resource: &'a ResourceType,
    manager: &'a str,
    subresource: &'a str,
    now: &'a str,
) -> Writer<'a> {
    Writer {
        group: resource.group,
        version: resource.version,
        kind: resource.kind,
        manager,
        subresource,
        reset: reset(resource, subresource),
        now,
    }
}

/// Merges an apply configuration into `live` (`None`: create it), or the 409 that lists the
/// conflicts.
pub(crate) fn apply_config(
    resource: &ResourceType,
    headers: &HeaderMap,
    query: &Query,
    subresource: Option<&str>,
    live: Option<&Value>,
    config: &Value,
) -> Result<Value, Status> {
    let undeclared = apply::undeclared(resource.group, resource.version, resource.kind, config);
    if !undeclared.is_empty() {
        return Err(typed_patch_error(resource, config, &validation_errors(&undeclared)));
    }
    let manager = manager(headers, query);
    let now = objects::now_rfc3339();
    let writer = writer(resource, &manager, subresource.unwrap_or_default(), &now);
    apply::apply(&writer, live, config, query.flag("force")).map_err(|error| match error {
        Error::Conflicts(conflicts) => {
            let causes = conflicts
                .iter()
                .map(|c| Cause {
                    reason: "FieldManagerConflict",
                    message: format!("conflict with {}", c.manager),
                    field: c.field.clone(),
                })
                .collect();
            let message = Error::Conflicts(conflicts).to_string();
            Status::new(StatusCode::CONFLICT, "Conflict", message)
                .with_details(Details { causes, ..Details::default() })
        }
        Error::Invalid(message) => typed_patch_error(resource, config, &message),
    })
}

/// structured-merge-diff's `ValidationErrors`: one error as it is, several listed.
fn validation_errors(errors: &[String]) -> String {
    match errors {
        [one] => one.clone(),
        many => format!("errors:\n  {}", many.join("\n  ")),
    }
}

/// A configuration structured-merge-diff cannot type, worded as kube-apiserver v1.33 words it:
/// the patch object's `namespace/name; group/version, Kind=…` and the error. Kubernetes sends
/// it as a 500 (the error is not a Status there, kubernetes/kubernetes#122480, a known bug);
/// we answer the 400 that bug asks for: the body is the client's fault, never a server error.
fn typed_patch_error(resource: &ResourceType, config: &Value, detail: &str) -> Status {
    let text = |pointer: &str| config.pointer(pointer).and_then(Value::as_str).unwrap_or_default();
    let (group, version) = match text("/apiVersion") {
        "" => (resource.group, resource.version),
        api_version => api_version.split_once('/').unwrap_or(("", api_version)),
    };
    let kind = Some(text("/kind")).filter(|k| !k.is_empty()).unwrap_or(resource.kind);
    let message = format!(
        "failed to create typed patch object ({}/{}; {group}/{version}, Kind={kind}): {detail}",
        text("/metadata/namespace"),
        text("/metadata/name"),
    );
    Status::bad_request(message)
}

/// The hook every write calls once `new` is final: records the write in
/// `metadata.managedFields`. `supplied` is the managedFields the request's object carried
/// (before the server reset anything); an apply keeps what [`apply_config`] computed.
pub(crate) fn record(
    resource: &ResourceType,
    headers: &HeaderMap,
    query: &Query,
    subresource: Option<&str>,
    live: Option<&Value>,
    supplied: Option<Value>,
    new: &mut Value,
) {
    let Some(live) = live else {
        if let Some(managed) = record_create(resource, headers, query, supplied, new) {
            managed.put_in(new);
        }
        return;
    };
    if !restore_supplied(supplied, new) {
        return;
    }
    if !is_apply(headers) {
        let manager = manager(headers, query);
        let now = objects::now_rfc3339();
        let writer = writer(resource, &manager, subresource.unwrap_or_default(), &now);
        apply::update(&writer, Some(live), new);
    }
    apply::keep_times_of_noop(live, new);
}

/// [`record`] for a create, except that the creator's entry comes back as text for the
/// stored bytes ([`apply::update_created`]) instead of going into `new`; `None` when `new` is
/// complete as it is (an apply, supplied entries, or nothing owned).
pub(crate) fn record_create(
    resource: &ResourceType,
    headers: &HeaderMap,
    query: &Query,
    supplied: Option<Value>,
    new: &mut Value,
) -> Option<ManagedText> {
    if !restore_supplied(supplied, new) || is_apply(headers) {
        return None;
    }
    let manager = manager(headers, query);
    let now = objects::now_rfc3339();
    apply::update_created(&writer(resource, &manager, "", &now), new)
}

/// Puts back the managedFields the request's object carried (or none); false if `new` has no
/// metadata (then nothing is recorded).
fn restore_supplied(supplied: Option<Value>, new: &mut Value) -> bool {
    let Some(metadata) = new.get_mut("metadata").and_then(Value::as_object_mut) else {
        return false;
    };
    match supplied {
        Some(managed) => metadata.insert("managedFields".into(), managed),
        None => metadata.remove("managedFields"),
    };
    true
}

/// Records an update kube-apiserver makes through its loopback client, as a handler does
/// (the eviction's update of its budget's status): an `Update` by `kube-apiserver` on
/// `subresource`.
pub(crate) fn record_loopback(
    resource: &ResourceType,
    subresource: Option<&str>,
    live: &Value,
    supplied: Option<Value>,
    new: &mut Value,
) {
    if restore_supplied(supplied, new) {
        record_server(resource, subresource.unwrap_or_default(), Some(live), new);
    }
}

/// Puts back the managedFields [`take_supplied`] took, recording nothing: a write below the
/// handlers that manage fields.
pub(crate) fn keep_supplied(supplied: Option<Value>, new: &mut Value) {
    restore_supplied(supplied, new);
}

/// The field manager of the API server's own writes: kube-apiserver's loopback client's user
/// agent, `kube-apiserver/v1.33.0 (linux/amd64) kubernetes/…`, cut at the slash.
const SERVER_MANAGER: &str = "kube-apiserver";

/// Records a write the API server makes itself (the bootstrap namespaces, RBAC policy and
/// `kubernetes` Service) as kube-apiserver's bootstrap controllers' writes through its loopback
/// client are recorded: an `Update` by `kube-apiserver`. `new` carries the live managedFields
/// or none; a write that changes nothing keeps the live entries' times.
pub(crate) fn record_own(resource: &ResourceType, live: Option<&Value>, new: &mut Value) {
    record_server(resource, "", live, new);
}

/// An `Update` by `kube-apiserver` on `subresource`; a write that changes nothing keeps the
/// live entries' times.
fn record_server(
    resource: &ResourceType,
    subresource: &str,
    live: Option<&Value>,
    new: &mut Value,
) {
    let now = objects::now_rfc3339();
    apply::update(&writer(resource, SERVER_MANAGER, subresource, &now), live, new);
    if let Some(live) = live {
        apply::keep_times_of_noop(live, new);
    }
}

/// Takes the managedFields a request's object carries out of it, to hand to [`record`] (which
/// puts them back, or the server's own). Nothing in between reads them.
pub(crate) fn take_supplied(object: &mut Value) -> Option<Value> {
    object.get_mut("metadata")?.as_object_mut()?.remove("managedFields")
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn managers_come_from_the_query_or_the_user_agent() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::USER_AGENT,
            HeaderValue::from_static(
                "kubectl-client-side-apply/v1.33.0 (linux/amd64) kubernetes/abc",
            ),
        );
        assert_eq!(manager(&headers, &Query::parse(None)), "kubectl-client-side-apply");
        assert_eq!(manager(&headers, &Query::parse(Some("fieldManager=ci"))), "ci");
        assert_eq!(manager(&HeaderMap::new(), &Query::parse(None)), "");
    }

    #[test]
    fn patch_options_are_checked_like_kubernetes() {
        let error = check_patch_options(&Query::parse(None), true).unwrap_err();
        let body: Value = serde_json::from_slice(&error.to_json()).unwrap();
        assert_eq!(body["code"], 422);
        assert_eq!(
            body["message"],
            "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch"
        );
        assert!(check_patch_options(&Query::parse(Some("force=true")), false).is_err());
        assert!(
            check_patch_options(&Query::parse(Some("fieldManager=x&force=true")), true).is_ok()
        );
    }

    #[test]
    fn bodies_are_yaml_or_json_objects() {
        assert_eq!(parse(b"{\"a\": 1}").unwrap().0["a"], 1);
        let yaml = parse(b"apiVersion: v1\nkind: ConfigMap\ndata:\n  k: v\n").unwrap().0;
        assert_eq!(yaml["data"]["k"], "v");
        let (json, duplicates) = parse(b"{\"data\": {\"k\": \"a\",\n \"k\": \"b\"}}").unwrap();
        assert_eq!(json["data"]["k"], "b");
        assert_eq!(
            duplicate_warnings("Warn", &duplicates),
            ["line 2: key \"k\" already set in map"]
        );
        let strict = check_duplicates("Strict", &duplicates).unwrap_err();
        assert_eq!(strict.code(), StatusCode::BAD_REQUEST);
        assert!(check_duplicates("Ignore", &duplicates).is_ok());
        assert!(parse(b"- 1\n- 2\n").is_err());
        assert!(parse(b"a: [unclosed\n").is_err());
        assert!(parse(&[0xff, 0xfe]).is_err());
    }
}
