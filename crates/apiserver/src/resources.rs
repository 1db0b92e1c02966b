//! Resource handlers: create, get, list, watch, update, patch and delete, over the store.
//!
//! Every served resource goes through these generic handlers; objects are JSON values. The
//! stored form is the object without `metadata.resourceVersion`, which is filled from the
//! store's mod revision on the way out, so the two can never disagree. Keys are
//! `/registry/<group or core>/<resource>/<namespace>/<name>` (cluster-scoped: no namespace).
//!
//! Suggested reading order: [`serve`] (dispatch), then each verb.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use berth_api::apply::ManagedText;
use berth_api::json::{equal, equal_opt};
use berth_api::kinds::ResourceType;
use berth_api::selector::{FieldSelector, LabelSelector};
use berth_api::table::{TableObject, View};
use berth_store::{Event, KeyValue, RangeRequest, Revision, Store};
use bytes::Bytes;
use rand::Rng;
use serde_json::{Value, json};

use crate::allocator::{self, ServiceCidr};
use crate::deletion::{self, DeleteOptions, Outcome};
use crate::request::{self, Query, ResourcePath};
use crate::router::AppState;
use crate::status::{Cause, Details, Status};
use crate::strict::Duplicates;
use crate::{admission, body, objects, scale, subresources, table};

/// Pages a list without `limit` reads from the store at a time.
const LIST_PAGE: usize = 500;
/// How often a watch that asked for bookmarks gets one.
const BOOKMARK_INTERVAL: Duration = Duration::from_secs(60);

type Result<T, E = Status> = std::result::Result<T, E>;

/// Every resource request: routes by method and path shape.
pub(crate) async fn serve(State(state): State<AppState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let mut path = request::parse_path(parts.uri.path(), &state.crds.served());
    if path.is_none() && parts.uri.path().starts_with("/apis/") {
        // A custom resource whose CRD was established a moment ago may not be in the view
        // yet: a client that saw `Established` must find it.
        state.crds.catch_up().await;
        path = request::parse_path(parts.uri.path(), &state.crds.served());
    }
    let Some(path) = path else {
        return Status::path_not_found().into_response();
    };
    let query = Query::parse(parts.uri.query());
    let store = state.store.clone();
    let cx = Context {
        store,
        path,
        query,
        headers: parts.headers,
        stopping: state.stopping,
        service_cidr: state.service_cidr,
        max_unavailable_statefulset: state.max_unavailable_statefulset,
        decoded: state.decoded,
        listers: state.listers,
        requester: parts.extensions.get().cloned(),
        manager: Manager::Request,
    };
    let subresource = cx.path.subresource.clone();
    let result = match (&parts.method, cx.path.name.is_some(), subresource.as_deref()) {
        (&Method::GET | &Method::POST, true, Some(sub))
            if subresources::STREAMING.contains(&sub) =>
        {
            subresources::streaming(&cx).await
        }
        (&Method::POST, true, Some("binding")) => {
            subresources::bind(&cx, cx.path.name.as_deref(), body).await
        }
        (&Method::POST, true, Some("eviction")) => crate::eviction::evict(&cx, body).await,
        (&Method::PUT, true, Some("finalize")) => subresources::finalize(&cx, body).await,
        // Not stored objects: answers computed from the request (`tokens.rs`, `auth.rs`,
        // `token_review.rs`).
        (&Method::POST, true, Some("token")) if cx.resource().plural == "serviceaccounts" => {
            crate::tokens::create(&cx, &state.signing_key, body).await
        }
        (&Method::POST, false, None) if cx.resource().plural == "selfsubjectreviews" => {
            crate::auth::self_subject_review(&cx, parts.extensions.get(), body).await
        }
        (&Method::POST, false, None) if cx.resource().plural == "tokenreviews" => {
            crate::token_review::create(&cx, &state.authenticator, body).await
        }
        (&Method::POST, false, None) if crate::access_review::serves(cx.resource()) => {
            crate::access_review::create(&cx, &state.authorizer, parts.extensions.get(), body).await
        }
        _ if matches!(cx.resource().plural, "selfsubjectreviews" | "tokenreviews")
            || crate::access_review::serves(cx.resource()) =>
        {
            Err(Status::method_not_allowed())
        }
        (&Method::POST, false, None) if cx.resource().plural == "bindings" => {
            subresources::bind(&cx, None, body).await
        }
        (&Method::GET, true, _) => get(&cx).await,
        (&Method::GET, false, _) if cx.query.flag("watch") => {
            let resource = cx.resource();
            return with_deprecation(resource, watch(cx).await);
        }
        (&Method::GET, false, _) => list(&cx).await,
        (&Method::POST, false, _) => create(&cx, body).await,
        (&Method::PUT, true, _) => update(&cx, body).await,
        (&Method::PATCH, true, _) => patch(&cx, body).await,
        (&Method::DELETE, true, _) => delete(&cx, body).await,
        (&Method::DELETE, false, _) => delete_collection(&cx, body).await,
        _ => Err(Status::method_not_allowed()),
    };
    with_deprecation(cx.resource(), result.unwrap_or_else(IntoResponse::into_response))
}

/// One request's parsed parts.
pub(crate) struct Context {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) path: ResourcePath,
    pub(crate) query: Query,
    pub(crate) headers: HeaderMap,
    pub(crate) stopping: tokio::sync::watch::Receiver<()>,
    pub(crate) service_cidr: ServiceCidr,
    /// The `MaxUnavailableStatefulSet` feature gate (`objects::drop_disabled_fields`).
    pub(crate) max_unavailable_statefulset: bool,
    /// The objects written last, decoded: an update starts from one when it is current.
    pub(crate) decoded: Arc<crate::decoded::Decoded>,
    /// The namespaces and ServiceAccounts admission reads (`admission::Listers`).
    pub(crate) listers: Arc<admission::Listers>,
    /// Who writes, unless in `system:masters`: the RBAC kinds' escalation checks need it.
    pub(crate) requester: Option<crate::rbac::Requester>,
    /// Whom [`write_back`] records in managedFields.
    pub(crate) manager: Manager,
}

/// Whom an update records as the writer in managedFields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Manager {
    /// The request's `fieldManager`, else its User-Agent, as kube-apiserver's handlers do.
    Request,
    /// kube-apiserver's loopback client (`kube-apiserver`), for a write a handler makes
    /// through it, as the eviction's update of its budget's status.
    Loopback,
    /// Nobody: a write a handler makes through its registry, below the handlers that manage
    /// fields (the eviction's `DisruptionTarget` condition). managedFields stay as they are.
    Unrecorded,
}

impl Context {
    pub(crate) fn resource(&self) -> &'static ResourceType {
        self.path.resource
    }

    pub(crate) fn name(&self) -> &str {
        self.path.name.as_deref().unwrap_or_default()
    }

    pub(crate) fn key(&self, name: &str) -> String {
        key(self.resource(), self.path.namespace.as_deref(), name)
    }

    /// A served resource by group and plural (in version v1).
    pub(crate) fn resource_named(
        &self,
        group: &str,
        plural: &str,
    ) -> Result<&'static ResourceType> {
        berth_api::kinds::find(group, "v1", plural).ok_or_else(Status::internal)
    }

    /// The same request, aimed at the object `name` of `resource` in the same namespace.
    pub(crate) fn for_object(&self, resource: &'static ResourceType, name: &str) -> Context {
        Context {
            store: self.store.clone(),
            path: ResourcePath {
                resource,
                namespace: self.path.namespace.clone(),
                name: Some(name.to_owned()),
                subresource: None,
            },
            query: self.query.clone(),
            headers: self.headers.clone(),
            stopping: self.stopping.clone(),
            service_cidr: self.service_cidr,
            max_unavailable_statefulset: self.max_unavailable_statefulset,
            decoded: self.decoded.clone(),
            listers: self.listers.clone(),
            requester: self.requester.clone(),
            manager: self.manager,
        }
    }

    /// Subresources other than `status` are served elsewhere (or not yet).
    fn check_subresource(&self) -> Result<Option<&str>> {
        match self.path.subresource.as_deref() {
            None => Ok(None),
            Some("status") => Ok(Some("status")),
            Some("scale") => Ok(Some("scale")),
            Some(other) => Err(Status::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailable",
                format!("{}/{other} is not served yet", self.resource().plural),
            )),
        }
    }

    fn wants_table(&self) -> bool {
        self.headers.get(header::ACCEPT).and_then(|a| a.to_str().ok()).is_some_and(|accept| {
            accept.split(',').next().is_some_and(|first| first.contains("as=Table"))
        })
    }

    /// Whether an object is answered as its stored bytes, resourceVersion spliced in: JSON,
    /// not a Table, of a resource stored as it is served (`conversion.rs`: events.k8s.io
    /// Events and autoscaling/v1 HorizontalPodAutoscalers are converted).
    fn serves_stored_bytes(&self) -> bool {
        !self.wants_table() && !crate::conversion::is_converted(self.resource())
    }
}

/// The store key of one object.
pub(crate) fn key(resource: &ResourceType, namespace: Option<&str>, name: &str) -> String {
    format!("{}{name}", prefix(resource, namespace))
}

/// The store prefix of a resource's objects, in one namespace or all.
pub(crate) fn prefix(resource: &ResourceType, namespace: Option<&str>) -> String {
    // events.k8s.io/v1 Events share the core/v1 storage (`events.rs`).
    let group = if resource.group.is_empty() || crate::events::is_events_v1(resource) {
        "core"
    } else {
        resource.group
    };
    match namespace {
        Some(ns) => format!("/registry/{group}/{}/{ns}/", resource.plural),
        None => format!("/registry/{group}/{}/", resource.plural),
    }
}

// === get, list ===

async fn get(cx: &Context) -> Result<Response> {
    let subresource = cx.check_subresource()?;
    let kv = cx.store.get(&cx.key(cx.name())).await;
    let kv = kv.map_err(|e| Status::from_store(e, cx.resource(), cx.name()))?;
    let Some(kv) = kv else { return Err(Status::not_found(cx.resource(), cx.name())) };
    // As a LIST without selectors: the stored bytes, resourceVersion spliced in, instead of
    // parsing the object into a tree and serializing it again.
    if subresource.is_none()
        && cx.serves_stored_bytes()
        && let Some(body) = splice_resource_version(&kv, kv.mod_revision)
    {
        return Ok(json_bytes_response(StatusCode::OK, body));
    }
    let object = decode_for(cx.resource(), &kv)?;
    if subresource == Some("scale") {
        return Ok(json_response(StatusCode::OK, &scale::view(cx.resource(), &object)));
    }
    if cx.wants_table() {
        let rv = kv.mod_revision.to_string();
        return Ok(json_response(
            StatusCode::OK,
            &table::build(cx.resource(), vec![object], &rv, &cx.query),
        ));
    }
    Ok(json_response(StatusCode::OK, &object))
}

async fn list(cx: &Context) -> Result<Response> {
    validate_list_options(&cx.query, false)?;
    let labels = label_selector(&cx.query)?;
    let fields = field_selector(cx.resource(), &cx.query)?;
    let limit = match cx.query.get("limit") {
        Some(limit) => Some(
            limit
                .parse::<usize>()
                .map_err(|_| Status::bad_request(format!("invalid limit {limit:?}")))?,
        )
        .filter(|l| *l > 0),
        None => None,
    };
    let prefix = prefix(cx.resource(), cx.path.namespace.as_deref());
    let (mut start_after, mut revision) = (None, None);
    if let Some(token) = cx.query.get("continue") {
        let (rv, start) = decode_continue(token)?;
        revision = Some(rv);
        start_after = Some(format!("{prefix}{start}"));
    } else if let Some(rv) = cx.query.get("resourceVersion").filter(|rv| *rv != "0") {
        let rv = parse_rv(rv)?;
        if cx.query.get("resourceVersionMatch") == Some("Exact") {
            revision = Some(rv);
        } else {
            // NotOlderThan (also the meaning without a match): the latest state will do, if
            // the store has reached the revision at all.
            let current = cx.store.current_revision().await;
            let current = current.map_err(|e| Status::from_store(e, cx.resource(), ""))?;
            if rv > current {
                return Err(Status::from_store(
                    berth_store::Error::FutureRevision { requested: rv, current },
                    cx.resource(),
                    "",
                ));
            }
        }
    }
    // Without selectors, a JSON list copies the stored bytes, resourceVersion spliced in,
    // instead of parsing every object into a tree and serializing it again.
    let raw = cx.serves_stored_bytes() && labels.is_empty() && fields.is_empty();
    // A Table is written from the stored bytes too, parsing only what printers and selectors
    // read (converted resources are converted, and a selector on managedFields needs them).
    let rows = cx.wants_table()
        && !crate::conversion::is_converted(cx.resource())
        && !crate::crds::is_custom(cx.resource())
        && !fields.fields().any(|field| field.contains("managedFields"));
    let view = if fields.is_empty() { View::Printed } else { View::Whole };
    let mut items = match (raw, rows) {
        (true, _) => Items::Bytes(Vec::new()),
        (false, true) => Items::Table(Vec::new()),
        (false, false) => Items::Objects(Vec::new()),
    };
    let mut page_revision = None;
    let mut continue_token = None;
    loop {
        let request = RangeRequest {
            prefix: prefix.clone(),
            start_after: start_after.clone(),
            limit: Some(limit.map_or(LIST_PAGE, |l| l - items.len()).max(1)),
            revision: revision.or(page_revision),
        };
        let page = cx.store.range(&request).await.map_err(|e| match e {
            berth_store::Error::Compacted { .. } if cx.query.get("continue").is_some() => {
                Status::expired(
                    "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.",
                )
            }
            other => Status::from_store(other, cx.resource(), ""),
        })?;
        page_revision = Some(page.revision);
        start_after = page.kvs.last().map(|kv| kv.key.clone()).or(start_after);
        for kv in &page.kvs {
            match &mut items {
                // No selectors to apply here.
                Items::Bytes(bytes) => {
                    bytes.push(match splice_resource_version(kv, kv.mod_revision) {
                        Some(spliced) => spliced,
                        None => serde_json::to_vec(&decode(kv)?).map_err(|_| Status::internal())?,
                    })
                }
                Items::Objects(objects) => {
                    let object = decode_for(cx.resource(), kv)?;
                    if labels.matches_object(&object) && fields.matches(&object) {
                        objects.push(object);
                    }
                }
                Items::Table(rows) => {
                    let rv = kv.mod_revision.to_string();
                    let row = TableObject::from_stored(cx.resource(), &kv.value, &rv, view)
                        .map_err(|error| {
                            tracing::error!(key = %kv.key, %error, "stored object is not JSON");
                            Status::internal()
                        })?;
                    if labels.matches_object(row.view()) && fields.matches(row.view()) {
                        rows.push(row);
                    }
                }
            }
        }
        let full = limit.is_some_and(|l| items.len() >= l);
        if !page.more {
            break;
        }
        if full {
            let last = start_after.as_deref().unwrap_or_default();
            continue_token = Some(encode_continue(page.revision, &last[prefix.len()..]));
            break;
        }
    }
    let rv = page_revision.unwrap_or_default().to_string();
    let items = match items {
        Items::Objects(objects) => objects,
        Items::Bytes(bytes) => return Ok(raw_list(list_envelope(cx, &rv, continue_token), &bytes)),
        Items::Table(rows) => {
            let token = continue_token.as_deref();
            return Ok(table::list(cx.resource(), rows, &rv, token, &cx.query));
        }
    };
    if cx.wants_table() {
        let mut table = table::build(cx.resource(), items, &rv, &cx.query);
        if let Some(token) = &continue_token {
            table["metadata"]["continue"] = json!(token);
        }
        return Ok(json_response(StatusCode::OK, &table));
    }
    let mut list = list_envelope(cx, &rv, continue_token);
    // Moved in, not copied through `json!` (which would serialize every item again).
    list["items"] = Value::Array(items);
    Ok(json_response(StatusCode::OK, &list))
}

/// A list's items: parsed objects, (JSON without selectors) each object's bytes, or a Table's
/// objects.
enum Items {
    Objects(Vec<Value>),
    Bytes(Vec<Vec<u8>>),
    Table(Vec<TableObject>),
}

impl Items {
    fn len(&self) -> usize {
        match self {
            Items::Objects(objects) => objects.len(),
            Items::Bytes(bytes) => bytes.len(),
            Items::Table(rows) => rows.len(),
        }
    }
}

/// `{"kind": "<Kind>List", "apiVersion": …, "metadata": …}`, without items.
fn list_envelope(cx: &Context, rv: &str, continue_token: Option<String>) -> Value {
    let mut metadata = json!({ "resourceVersion": rv });
    if let Some(token) = continue_token {
        metadata["continue"] = json!(token);
    }
    let kind = match crate::crds::info(cx.resource()) {
        Some(custom) => custom.list_kind.clone(),
        None => format!("{}List", cx.resource().kind),
    };
    json!({
        "kind": kind,
        "apiVersion": cx.resource().api_version(),
        "metadata": metadata,
    })
}

/// The list of `items` as bytes: the envelope, then `,"items":[…]}` — the same bytes the
/// tree path writes.
fn raw_list(envelope: Value, items: &[Vec<u8>]) -> Response {
    let mut body = serde_json::to_vec(&envelope).unwrap_or_default();
    body.pop();
    body.reserve(items.iter().map(|item| item.len() + 1).sum::<usize>() + 12);
    body.extend_from_slice(b",\"items\":[");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(item);
    }
    body.extend_from_slice(b"]}");
    json_bytes_response(StatusCode::OK, body)
}

/// A stored object with `revision` as its resourceVersion (its own mod revision, or for a
/// deleted object the deletion's), as serializing `decode(kv)` with that version would give
/// it, without parsing it into a tree: the stored bytes are serde_json's compact output
/// without a resourceVersion, and `decode` appends one as metadata's last key, so it is
/// spliced in before metadata's closing brace. `None` when that shortcut does not apply (then
/// decode).
fn splice_resource_version(kv: &KeyValue, revision: Revision) -> Option<Vec<u8>> {
    #[derive(serde::Deserialize)]
    struct Top<'a> {
        #[serde(borrow)]
        metadata: Option<&'a serde_json::value::RawValue>,
    }
    let stored: &[u8] = &kv.value;
    let top: Top<'_> = serde_json::from_slice(stored).ok()?;
    let metadata = top.metadata?.get();
    // A stored resourceVersion (there should be none) would be replaced in place by decode.
    if !metadata.starts_with('{') || metadata.contains("\"resourceVersion\"") {
        return None;
    }
    // Where metadata's closing brace is in the stored bytes.
    let close = (metadata.as_ptr() as usize - stored.as_ptr() as usize) + metadata.len() - 1;
    Stored { bytes: kv.value.clone(), metadata_end: Some(close), managed_spliced: false }
        .served(revision)
}

/// `ValidateListOptions` (apimachinery): `resourceVersionMatch` and `sendInitialEvents` rules,
/// answered as `ListOptions.meta.k8s.io "" is invalid` (422). Returns `sendInitialEvents`.
fn validate_list_options(query: &Query, watch: bool) -> Result<Option<bool>> {
    let send = match query.get("sendInitialEvents") {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(other) => {
            return Err(Status::bad_request(format!("invalid sendInitialEvents {other:?}")));
        }
    };
    let matching = query.get("resourceVersionMatch");
    let forbidden = |field: &str, why: &str| Cause {
        reason: "FieldValueForbidden",
        message: format!("Forbidden: {why}"),
        field: field.into(),
    };
    let unsupported = |value: &str, supported: &str| Cause {
        reason: "FieldValueNotSupported",
        message: format!("Unsupported value: {value:?}: supported values: {supported}"),
        field: "resourceVersionMatch".into(),
    };
    let mut causes = Vec::new();
    if send.is_some() {
        if !watch {
            causes.push(forbidden("sendInitialEvents", "sendInitialEvents is forbidden for list"));
        }
        match matching {
            None => causes.push(forbidden(
                "resourceVersionMatch",
                "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
            )),
            Some("NotOlderThan") => {}
            Some(other) => causes.push(unsupported(other, "\"NotOlderThan\"")),
        }
        if !query.flag("allowWatchBookmarks") {
            causes.push(forbidden(
                "allowWatchBookmarks",
                "sendInitialEvents requires setting allowWatchBookmarks to true",
            ));
        }
    } else if let Some(matching) = matching {
        if watch {
            causes.push(forbidden(
                "resourceVersionMatch",
                "resourceVersionMatch is forbidden for watch",
            ));
        }
        if query.get("resourceVersion").is_none() {
            causes.push(forbidden(
                "resourceVersionMatch",
                "resourceVersionMatch is forbidden unless resourceVersion is provided",
            ));
        }
        if query.get("continue").is_some() {
            causes.push(forbidden(
                "resourceVersionMatch",
                "resourceVersionMatch is forbidden when continue is provided",
            ));
        }
        match matching {
            "Exact" if query.get("resourceVersion") == Some("0") => causes.push(forbidden(
                "resourceVersionMatch",
                "resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"",
            )),
            "Exact" | "NotOlderThan" => {}
            other => causes.push(unsupported(other, "\"Exact\", \"NotOlderThan\"")),
        }
    }
    if causes.is_empty() {
        return Ok(send);
    }
    let list: Vec<String> = causes.iter().map(|c| format!("{}: {}", c.field, c.message)).collect();
    let message = match list.as_slice() {
        [one] => format!("ListOptions.meta.k8s.io \"\" is invalid: {one}"),
        many => format!("ListOptions.meta.k8s.io \"\" is invalid: [{}]", many.join(", ")),
    };
    Err(Status::new(StatusCode::UNPROCESSABLE_ENTITY, "Invalid", message).with_details(Details {
        name: Some(String::new()),
        group: Some("meta.k8s.io".into()),
        kind: Some("ListOptions".into()),
        causes,
        ..Details::default()
    }))
}

fn label_selector(query: &Query) -> Result<LabelSelector> {
    LabelSelector::parse(query.get("labelSelector").unwrap_or_default())
        .map_err(|e| Status::bad_request(format!("unable to parse requirement: {e}")))
}

fn field_selector(resource: &ResourceType, query: &Query) -> Result<FieldSelector> {
    let selector = FieldSelector::parse(query.get("fieldSelector").unwrap_or_default())
        .map_err(Status::bad_request)?;
    crate::events::check_field_selector(resource, &selector)?;
    if let Some(custom) = crate::crds::info(resource) {
        // A custom resource's field labels: its name, its namespace and the version's
        // `selectableFields`.
        let selectable = |field: &str| {
            matches!(field, "metadata.name" | "metadata.namespace")
                || custom.selectable_fields.iter().any(|path| path.strip_prefix('.') == Some(field))
        };
        if let Some(field) = selector.fields().find(|field| !selectable(field)) {
            return Err(Status::bad_request(format!("field label not supported: {field}")));
        }
    }
    Ok(selector)
}

/// Continue tokens carry the list's revision and the last key, as kube-apiserver's do
/// (base64 of `{"v":"meta.k8s.io/v1","rv":…,"start":…}`).
fn encode_continue(revision: Revision, start: &str) -> String {
    use base64::Engine;
    let token = json!({ "v": "meta.k8s.io/v1", "rv": revision.0, "start": start });
    base64::engine::general_purpose::URL_SAFE.encode(token.to_string())
}

fn decode_continue(token: &str) -> Result<(Revision, String)> {
    use base64::Engine;
    let invalid = || {
        Status::bad_request(
            "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)",
        )
    };
    let bytes = base64::engine::general_purpose::URL_SAFE.decode(token).map_err(|_| invalid())?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    let rv = value.get("rv").and_then(Value::as_i64).filter(|rv| *rv > 0).ok_or_else(invalid)?;
    let start = value.get("start").and_then(Value::as_str).ok_or_else(invalid)?;
    Ok((Revision(rv), start.to_owned()))
}

fn parse_rv(rv: &str) -> Result<Revision> {
    rv.parse::<i64>()
        .ok()
        .filter(|rv| *rv >= 0)
        .map(Revision)
        .ok_or_else(|| Status::bad_request(format!("invalid resource version {rv:?}")))
}

// === watch ===

/// A watch: chunked JSON lines (`{"type":…,"object":…}`), kept open until the client leaves
/// or `timeoutSeconds` passes. Without a resourceVersion (or with "0") it starts with an
/// `ADDED` event for every current object, as kube-apiserver does.
async fn watch(cx: Context) -> Response {
    match start_watch(&cx).await {
        Ok(events) => {
            let mut stopping = cx.stopping.clone();
            let resource = cx.resource();
            let stream = futures::StreamExt::take_until(
                futures::stream::unfold(events, |mut events| async move {
                    let line = events.next_line().await?;
                    Some((Ok::<_, std::convert::Infallible>(line), events))
                }),
                async move {
                    // The server stops, or the watched custom resource's CRD went.
                    tokio::select! {
                        _ = stopping.changed() => {}
                        () = crate::crds::gone(resource) => {}
                    }
                },
            );
            Response::builder()
                .status(StatusCode::OK)
                .header(header::CONTENT_TYPE, "application/json")
                .header(header::CACHE_CONTROL, "no-cache, private")
                .body(Body::from_stream(stream))
                .unwrap_or_else(|_| Status::internal().into_response())
        }
        Err(status) => status.into_response(),
    }
}

/// `response` with the deprecation warning of `resource`, if it is a deprecated version of a
/// custom resource: every request for one gets it, watches included.
fn with_deprecation(resource: &ResourceType, response: Response) -> Response {
    match crate::crds::info(resource).and_then(|custom| custom.deprecation.clone()) {
        Some(warning) => objects::with_warnings(response, &[warning]),
        None => response,
    }
}

/// The state of one open watch.
struct WatchStream {
    resource: &'static ResourceType,
    labels: LabelSelector,
    fields: FieldSelector,
    table: bool,
    query: Query,
    initial: std::vec::IntoIter<Value>,
    watch: Option<berth_store::Watch>,
    bookmarks: bool,
    deadline: Option<tokio::time::Instant>,
    next_bookmark: tokio::time::Instant,
    /// Set after an ERROR event: the stream ends.
    done: bool,
}

async fn start_watch(cx: &Context) -> Result<WatchStream> {
    let send_initial_events = validate_list_options(&cx.query, true)?;
    let labels = label_selector(&cx.query)?;
    let fields = field_selector(cx.resource(), &cx.query)?;
    let prefix = prefix(cx.resource(), cx.path.namespace.as_deref());
    let mut initial = Vec::new();
    let requested = cx.query.get("resourceVersion").filter(|rv| *rv != "0");
    let after = match (send_initial_events, requested) {
        // A watch-list: the current state as ADDED events, then a bookmark that says so.
        (Some(true), requested) => {
            let page = cx.store.range(&RangeRequest::prefix(&prefix)).await;
            let page = page.map_err(|e| Status::from_store(e, cx.resource(), ""))?;
            if let Some(rv) = requested.map(parse_rv).transpose()?
                && rv > page.revision
            {
                return Err(Status::from_store(
                    berth_store::Error::FutureRevision { requested: rv, current: page.revision },
                    cx.resource(),
                    "",
                ));
            }
            for kv in &page.kvs {
                let object = decode_for(cx.resource(), kv)?;
                if labels.matches_object(&object) && fields.matches(&object) {
                    initial.push(event_json("ADDED", object));
                }
            }
            let bookmark = json!({
                "kind": cx.resource().kind,
                "apiVersion": cx.resource().api_version(),
                "metadata": {
                    "resourceVersion": page.revision.to_string(),
                    "annotations": { "k8s.io/initial-events-end": "true" },
                },
            });
            initial.push(event_json("BOOKMARK", bookmark));
            page.revision
        }
        (Some(false), None) => {
            let current = cx.store.current_revision().await;
            current.map_err(|e| Status::from_store(e, cx.resource(), ""))?
        }
        (_, Some(rv)) => parse_rv(rv)?,
        (None, None) => {
            let page = cx.store.range(&RangeRequest::prefix(&prefix)).await;
            let page = page.map_err(|e| Status::from_store(e, cx.resource(), ""))?;
            for kv in &page.kvs {
                let object = decode_for(cx.resource(), kv)?;
                if labels.matches_object(&object) && fields.matches(&object) {
                    initial.push(event_json("ADDED", object));
                }
            }
            page.revision
        }
    };
    let watch = match cx.store.watch(&prefix, after).await {
        Ok(watch) => Some(watch),
        Err(berth_store::Error::Compacted { requested, compacted }) => {
            // Kubernetes answers 200 and then an ERROR event with a 410 Status.
            initial.push(expired_event(requested, compacted));
            None
        }
        Err(other) => return Err(Status::from_store(other, cx.resource(), "")),
    };
    let timeout = cx.query.get("timeoutSeconds").and_then(|t| t.parse::<u64>().ok());
    let now = tokio::time::Instant::now();
    Ok(WatchStream {
        resource: cx.resource(),
        labels,
        fields,
        table: cx.wants_table(),
        query: cx.query.clone(),
        initial: initial.into_iter(),
        watch,
        bookmarks: cx.query.flag("allowWatchBookmarks"),
        deadline: timeout.map(|t| now + Duration::from_secs(t)),
        next_bookmark: now + BOOKMARK_INTERVAL,
        done: false,
    })
}

fn event_json(kind: &str, object: Value) -> Value {
    json!({ "type": kind, "object": object })
}

fn expired_event(requested: Revision, compacted: Revision) -> Value {
    let status = Status::expired(format!("too old resource version: {requested} ({compacted})"));
    let status: Value = serde_json::from_slice(&status.to_json()).unwrap_or(Value::Null);
    event_json("ERROR", status)
}

impl WatchStream {
    /// The next line to send, or `None` when the watch is over.
    async fn next_line(&mut self) -> Option<Bytes> {
        loop {
            if self.done {
                return None;
            }
            if let Some(event) = self.initial.next() {
                if event["type"] == "ERROR" {
                    self.done = true;
                }
                return Some(self.line(event));
            }
            let watch = self.watch.as_mut()?;
            let deadline = self.deadline.unwrap_or_else(|| {
                tokio::time::Instant::now() + Duration::from_secs(3600 * 24 * 365)
            });
            let wake = if self.bookmarks { deadline.min(self.next_bookmark) } else { deadline };
            let event = tokio::select! {
                event = watch.next() => event,
                () = tokio::time::sleep_until(wake) => {
                    if tokio::time::Instant::now() >= deadline {
                        return None;
                    }
                    self.next_bookmark = tokio::time::Instant::now() + BOOKMARK_INTERVAL;
                    if let Some(revision) = watch.synced_revision() {
                        let bookmark = json!({
                            "kind": self.resource.kind,
                            "apiVersion": self.resource.api_version(),
                            "metadata": { "resourceVersion": revision.to_string() },
                        });
                        return Some(self.line(event_json("BOOKMARK", bookmark)));
                    }
                    continue;
                }
            };
            let event = match event {
                Ok(event) => event,
                Err(berth_store::Error::Compacted { requested, compacted }) => {
                    self.done = true;
                    return Some(self.line(expired_event(requested, compacted)));
                }
                Err(error) => {
                    tracing::warn!(%error, "watch ended by a store error");
                    return None;
                }
            };
            if let Some(line) = self.translate(&event) {
                return Some(line);
            }
        }
    }

    /// A store event as the watcher sees it through its selectors, as its line: an update that
    /// moves an object into the selection is ADDED, out of it DELETED. Objects are decoded
    /// only to apply selectors or build a Table; a JSON event is otherwise written from the
    /// stored bytes with the resourceVersion spliced in (as a LIST is), since each event is
    /// written once per watcher.
    fn translate(&self, event: &Event) -> Option<Bytes> {
        let selected =
            |object: &Value| self.labels.matches_object(object) && self.fields.matches(object);
        let unfiltered = self.labels.is_empty() && self.fields.is_empty();
        let (kind, stored, revision, decoded) = match event {
            Event::Put { kv, prev } => {
                let decoded =
                    if unfiltered { None } else { Some(decode_for(self.resource, kv).ok()?) };
                let was = match prev {
                    Some(_) if unfiltered => true,
                    Some(prev) => decode_for(self.resource, prev).is_ok_and(|p| selected(&p)),
                    None => false,
                };
                let is = decoded.as_ref().is_none_or(selected);
                let kind = match (was, is) {
                    (false, true) => "ADDED",
                    (true, true) => "MODIFIED",
                    (true, false) => "DELETED",
                    (false, false) => return None,
                };
                (kind, kv, kv.mod_revision, decoded)
            }
            Event::Delete { revision, prev } => {
                let decoded =
                    if unfiltered { None } else { Some(decode_for(self.resource, prev).ok()?) };
                if decoded.as_ref().is_some_and(|object| !selected(object)) {
                    return None;
                }
                ("DELETED", prev, *revision, decoded)
            }
        };
        if !self.table
            && !crate::conversion::is_converted(self.resource)
            && let Some(object) = splice_resource_version(stored, revision)
        {
            let mut line = Vec::with_capacity(object.len() + 32);
            line.extend_from_slice(br#"{"type":""#);
            line.extend_from_slice(kind.as_bytes());
            line.extend_from_slice(br#"","object":"#);
            line.extend_from_slice(&object);
            line.extend_from_slice(b"}\n");
            return Some(Bytes::from(line));
        }
        let mut object = match decoded {
            Some(object) => object,
            None => decode_for(self.resource, stored).ok()?,
        };
        objects::set_resource_version(&mut object, revision);
        Some(self.line(event_json(kind, object)))
    }

    fn line(&self, mut event: Value) -> Bytes {
        if self.table && event["type"] != "ERROR" && event["type"] != "BOOKMARK" {
            let object = event["object"].take();
            let rv = object
                .pointer("/metadata/resourceVersion")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            event["object"] = table::build(self.resource, vec![object], &rv, &self.query);
        }
        let mut line = serde_json::to_vec(&event).unwrap_or_default();
        line.push(b'\n');
        Bytes::from(line)
    }
}

// === create ===

async fn create(cx: &Context, body: Body) -> Result<Response> {
    if cx.path.subresource.is_some() {
        return Err(Status::method_not_allowed());
    }
    let (object, duplicates) = read_checked(cx, body).await?;
    create_object(cx, object, &duplicates).await
}

/// Creates `object` (from a POST, or an apply to a missing object).
async fn create_object(
    cx: &Context,
    mut object: Value,
    duplicates: &Duplicates,
) -> Result<Response> {
    let resource = cx.resource();
    if let Some(custom) = crate::crds::info(resource)
        && custom.terminating
    {
        // kube-apiserver's `crdHandler`: a CRD being deleted takes no new instances.
        return Err(Status::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "create not allowed while custom resource definition is terminating",
        ));
    }
    objects::check_quantities(resource, &object)?;
    let mut warnings = objects::strict_fields(
        resource,
        &mut object,
        cx.query.get("fieldValidation"),
        objects::Decoded::Body,
        duplicates,
    )?;
    objects::check_type(resource, &mut object)?;
    let metadata = objects::metadata_mut(&mut object)?;
    if let Some(ns) = &cx.path.namespace {
        match metadata.get("namespace").and_then(Value::as_str) {
            Some(body_ns) if !body_ns.is_empty() && body_ns != ns => {
                return Err(Status::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            _ => {
                metadata.insert("namespace".into(), json!(ns));
            }
        }
    } else {
        metadata.remove("namespace");
    }
    let name = match metadata.get("name").and_then(Value::as_str).filter(|n| !n.is_empty()) {
        Some(name) => name.to_owned(),
        None => {
            match metadata.get("generateName").and_then(Value::as_str).filter(|n| !n.is_empty()) {
                Some(base) => {
                    let name = generate_name(base);
                    metadata.insert("name".into(), json!(name));
                    name
                }
                // `limitrangeStrategy.PrepareForCreate` names a LimitRange that has neither
                // with a UUID.
                None if (resource.group, resource.kind) == ("", "LimitRange") => {
                    let name = objects::new_uid();
                    metadata.insert("name".into(), json!(name));
                    name
                }
                None => {
                    return Err(Status::invalid(
                        resource,
                        "",
                        vec![Cause {
                            reason: "FieldValueRequired",
                            message: "Required value: name or generateName is required".into(),
                            field: "metadata.name".into(),
                        }],
                    ));
                }
            }
        }
    };
    let generate_name = metadata.get("generateName").and_then(Value::as_str);
    objects::validate_names(resource, generate_name, &name)?;
    metadata.insert("uid".into(), json!(objects::new_uid()));
    metadata.insert("creationTimestamp".into(), json!(objects::now_rfc3339()));
    for field in ["resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"]
    {
        metadata.remove(field);
    }
    if object.get("spec").is_some() && resource.kind != "Namespace" {
        objects::metadata_mut(&mut object)?.insert("generation".into(), json!(1));
    }
    objects::normalize(resource, &mut object);
    objects::drop_disabled_fields(resource, &mut object, None, cx.max_unavailable_statefulset);
    crate::rbac::check_write(cx, &object, None).await?;
    // The creator owns what it sent, defaulted, as in kube-apiserver: its field manager runs
    // before admission and the registry, so what they add (a pod's service account and
    // tolerations, a claim's storage class and finalizer, a Service's cluster IP) is no one's.
    let supplied = crate::apply::take_supplied(&mut object);
    let mut managed =
        crate::apply::record_create(resource, &cx.headers, &cx.query, supplied, &mut object);
    if crate::conversion::is_converted(resource)
        && let Some(managed) = managed.take()
    {
        // Stored converted (a core/v1 Event, an autoscaling/v2 HorizontalPodAutoscaler), and
        // answered from the object: both need it all.
        managed.put_in(&mut object);
    }
    // As in kube-apiserver: mutating admission, the registry's PrepareForCreate (a pod's QoS
    // class comes from the requests and limits LimitRanger gave it), the object's validation,
    // then the validating plugins.
    let namespace = cx.path.namespace.as_deref();
    admission::on_create(&*cx.store, &cx.listers, resource, namespace, &name, &mut object).await?;
    objects::prepare_for_create(resource, &mut object);
    objects::validate(resource, &object, berth_api::validation::Write::Create)?;
    admission::validate_create(&*cx.store, &cx.listers, resource, namespace, &name, &object)
        .await?;
    // The last validating plugin, ResourceQuota, charges the namespace's quotas.
    crate::quota::admit_create(cx, resource, namespace, &name, &object).await?;
    warnings.extend(objects::create_warnings(resource, &object));
    let dry_run = cx.query.dry_run();
    if allocator::allocates(resource)
        && !dry_run
        && cx.store.get(&cx.key(&name)).await.ok().flatten().is_some()
    {
        // Refused before allocating anything for it.
        return Err(Status::already_exists(resource, &name));
    }
    let reserved =
        allocator::reserve_for(&*cx.store, cx.service_cidr, resource, None, &mut object, dry_run)
            .await?;
    if dry_run {
        if let Some(managed) = managed {
            managed.put_in(&mut object);
        }
        return Ok(objects::with_warnings(json_response(StatusCode::CREATED, &object), &warnings));
    }
    let stored = stored_for(resource, &object, managed.as_ref())?;
    let kv =
        match while_committing(cx, &stored, cx.store.create(&cx.key(&name), stored.bytes.clone()))
            .await
        {
            Ok(kv) => kv,
            Err(error) => {
                reserved.release(&*cx.store).await;
                return Err(Status::from_store(error, resource, &name));
            }
        };
    objects::set_resource_version(&mut object, kv.mod_revision);
    let written = Written::stored(cx, cx.key(&name), object, &stored, kv.mod_revision);
    Ok(objects::with_warnings(written.response(StatusCode::CREATED), &warnings))
}

fn generate_name(base: &str) -> String {
    // kube-apiserver's alphabet: no vowels (no words), no lookalikes.
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut rng = rand::rng();
    let suffix: String =
        (0..5).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect();
    let base = &base[..base.len().min(58)];
    format!("{base}{suffix}")
}

// === update, patch ===

async fn update(cx: &Context, body: Body) -> Result<Response> {
    let subresource = cx.check_subresource()?;
    let (mut object, duplicates) = read_checked(cx, body).await?;
    // A resourceVersion in the body is a precondition; without one the update is unconditional.
    let expected = object
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .filter(|rv| !rv.is_empty())
        .map(parse_rv)
        .transpose()?;
    if subresource == Some("scale") {
        let written = write_back(cx, None, expected, |current| {
            scale::with_replicas(cx.resource(), current, &object)
        })
        .await?;
        return Ok(json_response(StatusCode::OK, &scale::view(cx.resource(), &written.object)));
    }
    objects::check_quantities(cx.resource(), &object)?;
    let warnings = objects::strict_fields(
        cx.resource(),
        &mut object,
        cx.query.get("fieldValidation"),
        objects::Decoded::Body,
        &duplicates,
    )?;
    let body_name = object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
    if body_name != cx.name() {
        return Err(Status::bad_request(format!(
            "the name of the object ({body_name}) does not match the name on the URL ({})",
            cx.name()
        )));
    }
    let mut body = Some(object);
    let written = write_back(cx, subresource, expected, |_current| {
        // With a resourceVersion a conflict is not retried: the body is moved, not copied.
        let object = if expected.is_some() { body.take() } else { body.clone() };
        object.ok_or_else(Status::internal)
    })
    .await?;
    Ok(objects::with_warnings(written.response(StatusCode::OK), &warnings))
}

async fn patch(cx: &Context, body: Body) -> Result<Response> {
    let subresource = cx.check_subresource()?;
    let content_type = content_type(&cx.headers);
    let applying = content_type == crate::apply::APPLY_PATCH;
    crate::apply::check_patch_options(&cx.query, applying)?;
    let bytes = body::read(body).await?;
    if applying {
        return apply_patch(cx, subresource, &bytes).await;
    }
    let (patch, duplicates) = crate::strict::json(&bytes)
        .map_err(|e| Status::bad_request(format!("error decoding patch: {e}")))?;
    #[derive(Clone, Copy)]
    enum Kind {
        Merge,
        Json,
        Strategic,
    }
    let kind = match content_type.as_str() {
        "application/merge-patch+json" => Kind::Merge,
        "application/json-patch+json" => Kind::Json,
        "application/strategic-merge-patch+json" if crate::crds::is_custom(cx.resource()) => {
            // Custom resources have no patch strategies (kubectl falls back to a merge patch).
            return Err(Status::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UnsupportedMediaType",
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
            ));
        }
        "application/strategic-merge-patch+json" => Kind::Strategic,
        other => return Err(Status::unsupported_media_type(other)),
    };
    let resource = cx.resource();
    let apply = move |target: &mut Value, patch: &Value| -> Result<(), String> {
        match kind {
            Kind::Merge => {
                crate::patch::merge(target, patch);
                Ok(())
            }
            Kind::Json => crate::patch::json_patch(target, patch),
            Kind::Strategic => {
                let (group, version, kind) = if subresource == Some("scale") {
                    ("autoscaling", "v1", "Scale")
                } else {
                    (resource.group, resource.version, resource.kind)
                };
                *target = berth_api::strategic::apply(group, version, kind, target, patch)?;
                Ok(())
            }
        }
    };
    let invalid = |e: String| Status::new(StatusCode::UNPROCESSABLE_ENTITY, "Invalid", e);
    if subresource == Some("scale") {
        let written = write_back(cx, None, None, |current| {
            let mut view = scale::view(cx.resource(), current);
            apply(&mut view, &patch).map_err(invalid)?;
            scale::with_replicas(cx.resource(), current, &view)
        })
        .await?;
        return Ok(json_response(StatusCode::OK, &scale::view(cx.resource(), &written.object)));
    }
    let strict = cx.query.get("fieldValidation");
    let json_patch = matches!(kind, Kind::Json);
    let decode_errors = crate::strict::patch_errors(json_patch, &patch, &duplicates);
    let found = std::sync::Mutex::new(Vec::new());
    let written = write_back(cx, subresource, None, |current| {
        let mut patched = current.clone();
        apply(&mut patched, &patch).map_err(invalid)?;
        // Unknown fields go first: they must not count as a spec change. An error shows the
        // patched object as it was before they were dropped.
        let shown = |_: &Value| match kind {
            Kind::Strategic => crate::strict::go_format(&patch),
            Kind::Merge | Kind::Json => {
                let mut again = current.clone();
                let _ = apply(&mut again, &patch);
                again.to_string()
            }
        };
        let warnings =
            objects::patch_fields(resource, &mut patched, strict, &decode_errors, shown)?;
        *found.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = warnings;
        Ok(patched)
    })
    .await?;
    let warnings = found.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
    Ok(objects::with_warnings(written.response(StatusCode::OK), &warnings))
}

/// Server-side apply: merges the configuration into the object, or creates it.
async fn apply_patch(cx: &Context, subresource: Option<&str>, bytes: &[u8]) -> Result<Response> {
    if subresource == Some("scale") {
        return scale::apply(cx, bytes).await;
    }
    let (config, duplicates) = crate::apply::parse(bytes)?;
    let body_name = config.pointer("/metadata/name").and_then(Value::as_str);
    if body_name.is_some_and(|name| name != cx.name()) {
        return Err(Status::bad_request(format!(
            "the name of the object ({}) does not match the name on the URL ({})",
            body_name.unwrap_or_default(),
            cx.name()
        )));
    }
    let (resource, headers, query) = (cx.resource(), &cx.headers, &cx.query);
    let directive = objects::field_validation(query.get("fieldValidation"))?;
    let merge = |live: Option<&Value>| {
        let merged =
            crate::apply::apply_config(resource, headers, query, subresource, live, &config)?;
        // As kube-apiserver, the configuration is decoded strictly once it applied.
        crate::apply::check_duplicates(directive, &duplicates)?;
        Ok::<_, Status>(merged)
    };
    let warnings = crate::apply::duplicate_warnings(directive, &duplicates);
    let updated = write_back(cx, subresource, None, |current| {
        let mut merged = merge(Some(current))?;
        let strict = query.get("fieldValidation");
        objects::unknown_fields(resource, &mut merged, strict, objects::Decoded::Patch)?;
        Ok(merged)
    })
    .await;
    match updated {
        // Apply to a missing object creates it (as kube-apiserver's patcher does).
        Err(status) if status.code() == StatusCode::NOT_FOUND && subresource.is_none() => {
            let mut object = merge(None)?;
            objects::metadata_mut(&mut object)?.insert("name".into(), json!(cx.name()));
            let created = create_object(cx, object, &Duplicates::None).await?;
            Ok(objects::with_warnings(created, &warnings))
        }
        updated => Ok(objects::with_warnings(updated?.response(StatusCode::OK), &warnings)),
    }
}

/// What [`write_back`] wrote (or found already there): the object, resourceVersion included,
/// and, when it was just stored, its serialized form and where it was stored.
pub(crate) struct Written {
    pub(crate) object: Value,
    served: Option<Vec<u8>>,
    stored: Option<StoredAt>,
}

/// Where a write stored its object: what the decoded cache needs to hold it.
struct StoredAt {
    cache: Arc<crate::decoded::Decoded>,
    key: String,
    revision: Revision,
    bytes: Bytes,
    /// The bytes hold what the object lacks (a create's managedFields): the cache holds them.
    spliced: bool,
}

impl Written {
    /// An object found as it was (nothing written).
    fn unchanged(object: Value) -> Written {
        Written { object, served: None, stored: None }
    }

    /// The object `cx` just stored at `key`, as `stored`, at `revision`.
    fn stored(
        cx: &Context,
        key: String,
        object: Value,
        stored: &Stored,
        revision: Revision,
    ) -> Written {
        let served = stored.served(revision);
        let at = stored.held().then(|| StoredAt {
            cache: cx.decoded.clone(),
            key,
            revision,
            bytes: stored.bytes.clone(),
            spliced: stored.managed_spliced,
        });
        Written { object, served, stored: at }
    }

    /// The object as the answer, serialized once; the object itself goes to the decoded cache.
    pub(crate) fn response(self, code: StatusCode) -> Response {
        match self.served {
            Some(body) => {
                if let Some(StoredAt { cache, key, revision, bytes, spliced }) = self.stored {
                    if spliced {
                        cache.put_stored(&key, revision, bytes);
                    } else {
                        cache.put(&key, revision, bytes.len(), as_decoded(self.object));
                    }
                }
                json_bytes_response(code, body)
            }
            None => json_response(code, &self.object),
        }
    }
}

/// A written object as decoding its stored bytes gives it: `resourceVersion` last in metadata
/// (it is not stored; [`decode`] appends it), where a client's body may have put it elsewhere.
fn as_decoded(mut object: Value) -> Value {
    if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut)
        && let Some(version) = metadata.shift_remove("resourceVersion")
    {
        metadata.insert("resourceVersion".into(), version);
    }
    object
}

/// Reads the current object, lets `change` produce the new one, keeps what a client cannot
/// change, and writes it back with a compare-and-swap: against `expected` when the client named
/// a resourceVersion (a conflict is the client's), otherwise against what was read (a conflict
/// is retried).
///
/// As kube-apiserver's `GuaranteedUpdate` starts from its cached object, the first attempt
/// starts from the object this server wrote last at the key (the decoded cache), without
/// reading the store: the compare-and-swap tells whether it was still current. What an attempt
/// decides without writing (an error, a no-op, a dry run) stands only once a read shows the
/// object it started from is still the stored one; otherwise the next attempt starts from the
/// store. With `expected` the cached object is used only at that revision, so `change` runs
/// once: either that object is current, or the answer is a conflict.
pub(crate) async fn write_back(
    cx: &Context,
    subresource: Option<&str>,
    expected: Option<Revision>,
    mut change: impl FnMut(&Value) -> Result<Value>,
) -> Result<Written> {
    let resource = cx.resource();
    let name = cx.name().to_owned();
    let key = cx.key(&name);
    let mut cached =
        cx.decoded.latest(&key).filter(|(revision, _)| expected.is_none_or(|e| e == *revision));
    // A store read made already (to check a cached object), for the next attempt to start from.
    let mut read: Option<Option<KeyValue>> = None;
    loop {
        let (revision, stored, fresh) = match cached.take() {
            Some((revision, object)) => (revision, object, false),
            None => {
                let kv = match read.take() {
                    Some(kv) => kv,
                    None => {
                        let kv = cx.store.get(&key).await;
                        kv.map_err(|e| Status::from_store(e, resource, &name))?
                    }
                };
                let Some(kv) = kv else { return Err(Status::not_found(resource, &name)) };
                if expected.is_some_and(|e| e != kv.mod_revision) {
                    return Err(Status::modified(resource, &name));
                }
                // The decoded cache stands in for decoding the stored bytes.
                let stored = match cx.decoded.get(&key, kv.mod_revision) {
                    Some(object) => object,
                    None => Arc::new(decode(&kv)?),
                };
                (kv.mod_revision, stored, true)
            }
        };
        let current = if crate::conversion::is_converted(resource) {
            Arc::new(shown_as(resource, Arc::unwrap_or_clone(stored)))
        } else {
            stored
        };
        let attempt =
            attempt(cx, subresource, expected, &key, revision, current, &mut change).await;
        let decided = match attempt {
            Ok(Attempt::Wrote(written)) => return Ok(written),
            Ok(Attempt::Conflict) => continue,
            Ok(Attempt::Decided(written)) => Ok(written),
            Err(status) => Err(status),
        };
        if fresh {
            return decided;
        }
        let now = cx.store.get(&key).await.map_err(|e| Status::from_store(e, resource, &name))?;
        if now.as_ref().is_some_and(|kv| kv.mod_revision == revision) {
            return decided;
        }
        // The cached object was behind the store: decide again from what was just read.
        read = Some(now);
    }
}

/// How one attempt of [`write_back`] ended.
enum Attempt {
    /// The store took the write (or the delete, when the last finalizer went).
    Wrote(Written),
    /// The object changed since it was read, and no resourceVersion was asked for: again.
    Conflict,
    /// Decided from the object read, without writing: a no-op or a dry run.
    Decided(Written),
}

/// One attempt of [`write_back`] from `current`, the object at `revision`.
async fn attempt(
    cx: &Context,
    subresource: Option<&str>,
    expected: Option<Revision>,
    key: &str,
    revision: Revision,
    current: Arc<Value>,
    change: &mut impl FnMut(&Value) -> Result<Value>,
) -> Result<Attempt> {
    let resource = cx.resource();
    let name = cx.name();
    let mut updated = change(&current)?;
    let supplied = crate::apply::take_supplied(&mut updated);
    objects::check_type(resource, &mut updated)?;
    // Defaults first, so that a spec equal once defaulted bumps no generation.
    objects::normalize(resource, &mut updated);
    objects::keep_immutable(resource, &current, &mut updated, subresource)?;
    let gate = cx.max_unavailable_statefulset;
    objects::drop_disabled_fields(resource, &mut updated, Some(&current), gate);
    crate::rbac::check_write(cx, &updated, Some(&current)).await?;
    let dry_run = cx.query.dry_run();
    // Allocations are kept (or made) before validation, as the Service strategy's
    // PrepareForUpdate does.
    let reserved = allocator::reserve_for(
        &*cx.store,
        cx.service_cidr,
        resource,
        Some(&current),
        &mut updated,
        dry_run,
    )
    .await?;
    // Admission's mutations (before validation), then its checks.
    let admitted = admission::on_update(&cx.listers, resource, subresource, &current, &mut updated);
    if let Err(status) = admitted.await {
        reserved.release(&*cx.store).await;
        return Err(status);
    }
    // Validation also refuses new finalizers on an object being deleted.
    if let Err(status) = objects::check_update(resource, &current, &mut updated, subresource) {
        reserved.release(&*cx.store).await;
        return Err(status);
    }
    let checked = admission::validate_update(
        &*cx.store,
        &cx.listers,
        resource,
        subresource,
        &current,
        &updated,
    );
    if let Err(status) = checked.await {
        reserved.release(&*cx.store).await;
        return Err(status);
    }
    let charged = crate::quota::admit_update(cx, resource, subresource, &current, &updated);
    if let Err(status) = charged.await {
        reserved.release(&*cx.store).await;
        return Err(status);
    }
    if deletion::deletes_on_update(resource, &current, &updated) {
        // The last finalizer is gone: the object goes, as kube-apiserver's update does.
        reserved.release(&*cx.store).await;
        if dry_run {
            return Ok(Attempt::Decided(Written::unchanged(updated)));
        }
        return match cx.store.delete(key, Some(revision)).await {
            Ok(_) => {
                cx.decoded.forget(key);
                allocator::release(&*cx.store, resource, &current).await;
                Ok(Attempt::Wrote(Written::unchanged(Arc::unwrap_or_clone(current))))
            }
            Err(berth_store::Error::Conflict { .. }) if expected.is_none() => Ok(Attempt::Conflict),
            Err(error) => Err(Status::from_store(error, resource, name)),
        };
    }
    match cx.manager {
        Manager::Request => crate::apply::record(
            resource,
            &cx.headers,
            &cx.query,
            cx.path.subresource.as_deref(),
            Some(&current),
            supplied,
            &mut updated,
        ),
        Manager::Loopback => {
            crate::apply::record_loopback(resource, subresource, &current, supplied, &mut updated);
        }
        Manager::Unrecorded => crate::apply::keep_supplied(supplied, &mut updated),
    }
    if same_but_resource_version(&updated, &current) {
        let mut current = Arc::unwrap_or_clone(current);
        objects::set_resource_version(&mut current, revision);
        return Ok(Attempt::Decided(Written::unchanged(current)));
    }
    if dry_run {
        // As kube-apiserver's dry-run storage: the update of the current object, at the
        // current resourceVersion (`kubectl diff` shows no resourceVersion change).
        objects::set_resource_version(&mut updated, revision);
        return Ok(Attempt::Decided(Written::unchanged(updated)));
    }
    let stored = stored_for(resource, &updated, None)?;
    match while_committing(cx, &stored, cx.store.update(key, stored.bytes.clone(), revision)).await
    {
        Ok(written) => {
            allocator::release_unused(&*cx.store, resource, &current, &updated).await;
            objects::set_resource_version(&mut updated, written.mod_revision);
            let written =
                Written::stored(cx, key.to_owned(), updated, &stored, written.mod_revision);
            Ok(Attempt::Wrote(written))
        }
        Err(berth_store::Error::Conflict { .. }) if expected.is_none() => {
            reserved.release(&*cx.store).await;
            Ok(Attempt::Conflict)
        }
        Err(error) => {
            reserved.release(&*cx.store).await;
            Err(Status::from_store(error, resource, name))
        }
    }
}

/// Awaits `write`, the store write of `stored`, and while the store commits makes room in the
/// decoded cache for the object (`Decoded::make_room`): the first poll hands the write over.
async fn while_committing<T>(cx: &Context, stored: &Stored, write: impl Future<Output = T>) -> T {
    let mut write = std::pin::pin!(write);
    let first = futures::poll!(write.as_mut());
    if stored.held() {
        cx.decoded.make_room(stored.bytes.len());
    }
    match first {
        std::task::Poll::Ready(done) => done,
        std::task::Poll::Pending => write.await,
    }
}

/// Whether `updated`, which carries no resourceVersion (it is the store's), is `current` but
/// for current's resourceVersion.
fn same_but_resource_version(updated: &Value, current: &Value) -> bool {
    let (Some(updated), Some(current)) = (updated.as_object(), current.as_object()) else {
        return equal(updated, current);
    };
    updated.len() == current.len()
        && updated.iter().all(|(key, value)| match (key.as_str(), current.get(key)) {
            (_, None) => false,
            ("metadata", Some(live)) => match (value.as_object(), live.as_object()) {
                (Some(updated), Some(live)) => {
                    let versioned = usize::from(live.contains_key("resourceVersion"));
                    updated.len() + versioned == live.len()
                        && updated
                            .iter()
                            .all(|(k, v)| k != "resourceVersion" && equal_opt(live.get(k), Some(v)))
                }
                _ => equal(value, live),
            },
            (_, Some(live)) => equal(value, live),
        })
}

// === delete ===

async fn delete(cx: &Context, body: Body) -> Result<Response> {
    if cx.path.subresource.is_some() {
        return Err(Status::method_not_allowed());
    }
    let options = DeleteOptions::parse(&body::read(body).await?, &cx.query)?;
    let (answer, removed) = delete_outcome(cx, cx.name(), &options).await?;
    // kube-apiserver's delete handler: 202 only for an object that stays (finalizers, grace)
    // when the client asked for cascading with the legacy `orphanDependents: false`.
    let code = if !removed && options.orphan_dependents == Some(false) {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    Ok(json_response(code, &answer))
}

/// Deletes `name` by the rules of `deletion.rs` and returns the answer: the object when it is
/// kept (marked) or its kind returns deleted objects, else a success `Status`.
pub(crate) async fn delete_object(
    cx: &Context,
    name: &str,
    options: &DeleteOptions,
) -> Result<Value> {
    Ok(delete_outcome(cx, name, options).await?.0)
}

/// [`delete_object`], also saying whether the object went (rather than being marked).
async fn delete_outcome(
    cx: &Context,
    name: &str,
    options: &DeleteOptions,
) -> Result<(Value, bool)> {
    let resource = cx.resource();
    admission::check_delete(&cx.listers, resource, name)?;
    let key = cx.key(name);
    let dry_run = options.dry_run || cx.query.dry_run();
    loop {
        let kv = cx.store.get(&key).await.map_err(|e| Status::from_store(e, resource, name))?;
        let Some(kv) = kv else { return Err(Status::not_found(resource, name)) };
        let mut current = decode_for(resource, &kv)?;
        check_preconditions(
            resource,
            name,
            options.preconditions.as_ref(),
            &current,
            kv.mod_revision,
        )?;
        match deletion::plan(resource, &current, options, deletion::now()) {
            Outcome::Keep(mut object) => {
                if object == current || dry_run {
                    return Ok((object, false));
                }
                match cx.store.update(&key, encode_for(resource, &object)?, kv.mod_revision).await {
                    Ok(written) => {
                        objects::set_resource_version(&mut object, written.mod_revision);
                        return Ok((object, false));
                    }
                    Err(berth_store::Error::Conflict { .. }) => continue,
                    Err(error) => return Err(Status::from_store(error, resource, name)),
                }
            }
            Outcome::Remove => {
                if !dry_run {
                    match cx.store.delete(&key, Some(kv.mod_revision)).await {
                        Ok(deleted) => {
                            cx.decoded.forget(&key);
                            allocator::release(&*cx.store, resource, &current).await;
                            objects::set_resource_version(&mut current, deleted.revision);
                        }
                        Err(berth_store::Error::Conflict { .. }) => continue,
                        Err(error) => return Err(Status::from_store(error, resource, name)),
                    }
                }
                if deletion::returns_deleted_object(resource) {
                    return Ok((current, true));
                }
                return Ok((deletion::success_status(resource, &current), true));
            }
        }
    }
}

/// `deletecollection`: every object the selectors pick, each deleted as by its own DELETE;
/// answers the list of those objects as they were.
async fn delete_collection(cx: &Context, body: Body) -> Result<Response> {
    let resource = cx.resource();
    if cx.path.subresource.is_some()
        || !resource.verbs.contains(&"deletecollection")
        || (resource.namespaced() && cx.path.namespace.is_none())
    {
        return Err(Status::method_not_allowed());
    }
    let options = DeleteOptions::parse(&body::read(body).await?, &cx.query)?;
    let labels = label_selector(&cx.query)?;
    let fields = field_selector(cx.resource(), &cx.query)?;
    let prefix = prefix(resource, cx.path.namespace.as_deref());
    let page = cx.store.range(&RangeRequest::prefix(&prefix)).await;
    let page = page.map_err(|e| Status::from_store(e, resource, ""))?;
    let mut items = Vec::new();
    for kv in &page.kvs {
        let object = decode_for(resource, kv)?;
        if !(labels.matches_object(&object) && fields.matches(&object)) {
            continue;
        }
        let name = object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
        match delete_object(cx, name, &options).await {
            Ok(_) => items.push(object),
            Err(status) if status.code() == StatusCode::NOT_FOUND => {}
            Err(status) => return Err(status),
        }
    }
    let mut list = json!({
        "kind": format!("{}List", resource.kind),
        "apiVersion": resource.api_version(),
        "metadata": { "resourceVersion": page.revision.to_string() },
    });
    list["items"] = Value::Array(items);
    Ok(json_response(StatusCode::OK, &list))
}

fn check_preconditions(
    resource: &ResourceType,
    name: &str,
    preconditions: Option<&Value>,
    object: &Value,
    revision: Revision,
) -> Result<()> {
    let Some(preconditions) = preconditions else { return Ok(()) };
    if let Some(uid) = preconditions.get("uid").and_then(Value::as_str) {
        let actual = object.pointer("/metadata/uid").and_then(Value::as_str).unwrap_or_default();
        if uid != actual {
            return Err(Status::conflict(
                resource,
                name,
                &format!(
                    "Precondition failed: UID in precondition: {uid}, UID in object meta: {actual}"
                ),
            ));
        }
    }
    if let Some(rv) = preconditions.get("resourceVersion").and_then(Value::as_str)
        && rv != revision.to_string()
    {
        return Err(Status::conflict(
            resource,
            name,
            &format!(
                "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {revision}"
            ),
        ));
    }
    Ok(())
}

// === bodies ===

fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or_default().trim().to_ascii_lowercase())
        .unwrap_or_default()
}

/// Reads an object body: JSON (also when the Content-Type is missing, as kube-apiserver
/// treats it) or the protobuf kubectl's typed clients send.
pub(crate) async fn read_object(cx: &Context, body: Body) -> Result<Value> {
    Ok(read_checked(cx, body).await?.0)
}

/// [`read_object`], with the keys the body repeats (for `fieldValidation`).
pub(crate) async fn read_checked(cx: &Context, body: Body) -> Result<(Value, Duplicates)> {
    let content_type = content_type(&cx.headers);
    if content_type == "application/vnd.kubernetes.protobuf" {
        let bytes = body::read(body).await?;
        let value = crate::protobuf::decode(&bytes).map_err(|error| match error {
            crate::protobuf::DecodeError::Unsupported(message) => {
                Status::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "UnsupportedMediaType", message)
            }
            crate::protobuf::DecodeError::Malformed(message) => Status::bad_request(message),
        })?;
        return Ok((value, Duplicates::None));
    }
    if content_type == "application/yaml" {
        let bytes = body::read(body).await?;
        let text = std::str::from_utf8(&bytes)
            .map_err(|e| Status::bad_request(format!("the YAML body is not UTF-8: {e}")))?;
        let (value, duplicates) = crate::strict::yaml(text).map_err(|e| {
            Status::bad_request(format!("error converting YAML to JSON: yaml: {e}"))
        })?;
        if !value.is_object() {
            return Err(Status::bad_request("the object provided is not a YAML mapping"));
        }
        return Ok((value, Duplicates::Yaml(duplicates)));
    }
    if !(content_type.is_empty() || content_type == "application/json") {
        return Err(Status::unsupported_media_type(&content_type));
    }
    let bytes = body::read(body).await?;
    let (value, duplicates) = crate::strict::json(&bytes).map_err(|e| {
        Status::bad_request(format!("the object provided is unrecognized or malformed: {e}"))
    })?;
    if !value.is_object() {
        return Err(Status::bad_request("the object provided is not a JSON object"));
    }
    Ok((value, Duplicates::Json(duplicates)))
}

/// What the store holds for the object `name` of `cx`'s resource (in its namespace); a 404
/// when there is none.
pub(crate) async fn stored_kv(cx: &Context, name: &str) -> Result<KeyValue> {
    let kv = cx.store.get(&cx.key(name)).await;
    let kv = kv.map_err(|e| Status::from_store(e, cx.resource(), name))?;
    kv.ok_or_else(|| Status::not_found(cx.resource(), name))
}

pub(crate) fn decode(kv: &KeyValue) -> Result<Value> {
    decode_stored(&kv.key, &kv.value, kv.mod_revision)
}

/// The object stored at `key` as `value`, at `revision`: [`decode`] of its parts.
pub(crate) fn decode_stored(key: &str, value: &[u8], revision: Revision) -> Result<Value> {
    let mut object: Value = serde_json::from_slice(value).map_err(|error| {
        tracing::error!(%key, %error, "stored object is not JSON");
        Status::internal()
    })?;
    objects::set_resource_version(&mut object, revision);
    Ok(object)
}

/// A stored object as `resource` shows it (events.k8s.io/v1 Events are stored as core/v1).
fn decode_for(resource: &ResourceType, kv: &KeyValue) -> Result<Value> {
    Ok(shown_as(resource, decode(kv)?))
}

/// A decoded stored object as `resource` shows it.
fn shown_as(resource: &ResourceType, stored: Value) -> Value {
    crate::conversion::shown_as(resource, stored)
}

/// The stored form of an object of `resource`.
fn encode_for(resource: &ResourceType, object: &Value) -> Result<Bytes> {
    stored_for(resource, object, None).map(|stored| stored.bytes)
}

/// The stored form of a write through `resource`, with a create's `managed` fields written
/// into metadata; a converted resource's objects (events.k8s.io events stored as core
/// events, autoscaling/v1 HorizontalPodAutoscalers as v2 ones) are stored as their storage's,
/// so their stored bytes are not what is served (no metadata end to splice at), and their
/// object holds its managedFields already (`create_object` puts them there, for the answer).
fn stored_for(
    resource: &ResourceType,
    object: &Value,
    managed: Option<&ManagedText>,
) -> Result<Stored> {
    if let Some(conversion) = crate::conversion::of(resource) {
        debug_assert!(managed.is_none(), "a converted object holds its managedFields");
        let bytes = encode(&conversion.to_stored(object.clone()))?;
        return Ok(Stored { bytes, metadata_end: None, managed_spliced: false });
    }
    encode_stored(object, managed)
}

/// The stored form: without resourceVersion (the store's revision is the truth).
pub(crate) fn encode(object: &Value) -> Result<Bytes> {
    encode_stored(object, None).map(|stored| stored.bytes)
}

/// An object's stored bytes, and where metadata's closing brace is in them.
struct Stored {
    bytes: Bytes,
    metadata_end: Option<usize>,
    /// Whether the bytes hold managedFields the object does not (a create's, as text).
    managed_spliced: bool,
}

impl Stored {
    /// Whether the decoded cache holds the object written so: only objects stored as served
    /// (not events.k8s.io ones) are what decoding their bytes gives.
    fn held(&self) -> bool {
        self.metadata_end.is_some()
    }

    /// The stored bytes with `revision` as metadata's last key: the object as served
    /// (`decode` appends the resourceVersion the same way).
    fn served(&self, revision: Revision) -> Option<Vec<u8>> {
        let end = self.metadata_end?;
        let empty = self.bytes[..end].trim_ascii_end().ends_with(b"{");
        let comma = if empty { "" } else { "," };
        let rv = format!("{comma}\"resourceVersion\":\"{revision}\"");
        let mut out = Vec::with_capacity(self.bytes.len() + rv.len());
        out.extend_from_slice(&self.bytes[..end]);
        out.extend_from_slice(rv.as_bytes());
        out.extend_from_slice(&self.bytes[end..]);
        Some(out)
    }
}

/// Serializes `object` as `serde_json::to_vec` does (compact, in the map's order) but without
/// `metadata.resourceVersion` (the other keys keep their order) and with `managed` as
/// metadata's last key, noting where metadata ends — no copy of the object, no second
/// serialization for the answer.
fn encode_stored(object: &Value, managed: Option<&ManagedText>) -> Result<Stored> {
    fn write(out: &mut Vec<u8>, value: &impl serde::Serialize) -> Result<()> {
        serde_json::to_writer(out, value).map_err(|_| Status::internal())
    }
    let Value::Object(map) = object else {
        let bytes = serde_json::to_vec(object).map_err(|_| Status::internal())?;
        return Ok(Stored { bytes: bytes.into(), metadata_end: None, managed_spliced: false });
    };
    let mut out = Vec::with_capacity(4096 + managed.map_or(0, |text| text.as_str().len()));
    let mut metadata_end = None;
    let write_managed = |out: &mut Vec<u8>, first: bool| {
        if let Some(managed) = managed {
            if !first {
                out.push(b',');
            }
            out.extend_from_slice(br#""managedFields":"#);
            out.extend_from_slice(managed.as_str().as_bytes());
        }
    };
    out.push(b'{');
    for (i, (key, value)) in map.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write(&mut out, key)?;
        out.push(b':');
        match value {
            Value::Object(metadata) if key == "metadata" => {
                out.push(b'{');
                let skipped = |key: &str| {
                    key == "resourceVersion" || (managed.is_some() && key == "managedFields")
                };
                let fields = metadata.iter().filter(|(key, _)| !skipped(key));
                let mut first = true;
                for (key, value) in fields {
                    if !first {
                        out.push(b',');
                    }
                    first = false;
                    write(&mut out, key)?;
                    out.push(b':');
                    write(&mut out, value)?;
                }
                write_managed(&mut out, first);
                metadata_end = Some(out.len());
                out.push(b'}');
            }
            _ => write(&mut out, value)?,
        }
    }
    if managed.is_some() && metadata_end.is_none() {
        // A create's object always has metadata (`create_object` makes sure).
        tracing::error!("managedFields for an object without metadata");
        return Err(Status::internal());
    }
    out.push(b'}');
    Ok(Stored { bytes: out.into(), metadata_end, managed_spliced: managed.is_some() })
}

pub(crate) fn json_response(code: StatusCode, value: &Value) -> Response {
    json_bytes_response(code, serde_json::to_vec(value).unwrap_or_default())
}

/// A JSON body already serialized.
pub(crate) fn json_bytes_response(code: StatusCode, body: Vec<u8>) -> Response {
    (code, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// A review's body (TokenReview, the access reviews: created, never stored), decoded as the
/// create handler decodes an object: its type checked, unknown and duplicate fields refused or
/// warned about as `fieldValidation` says. The object and the warnings.
pub(crate) async fn read_review(cx: &Context, body: Body) -> Result<(Value, Vec<String>)> {
    let resource = cx.resource();
    let (mut review, duplicates) = read_checked(cx, body).await?;
    objects::check_type(resource, &mut review)?;
    let warnings = objects::strict_fields(
        resource,
        &mut review,
        cx.query.get("fieldValidation"),
        objects::Decoded::Body,
        &duplicates,
    )?;
    Ok((review, warnings))
}

/// Creates the namespaces and system PriorityClasses every Kubernetes cluster has, if they are
/// missing.
pub(crate) async fn bootstrap(store: &dyn Store) -> Result<(), berth_store::Error> {
    let Some(namespaces) = berth_api::kinds::find("", "v1", "namespaces") else { return Ok(()) };
    for name in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        let object = json!({
            "kind": "Namespace",
            "apiVersion": "v1",
            "metadata": { "name": name, "labels": { "kubernetes.io/metadata.name": name } },
        });
        create_if_missing(store, namespaces, &key(namespaces, None, name), object).await?;
    }
    // kube-apiserver's `scheduling/bootstrap-system-priority-classes` hook.
    let Some(classes) = berth_api::kinds::find("scheduling.k8s.io", "v1", "priorityclasses") else {
        return Ok(());
    };
    for (name, value, description) in berth_api::validation::SYSTEM_PRIORITY_CLASSES {
        let object = json!({
            "kind": "PriorityClass",
            "apiVersion": "scheduling.k8s.io/v1",
            "metadata": { "name": name },
            "value": value,
            "description": description,
        });
        create_if_missing(store, classes, &key(classes, None, name), object).await?;
    }
    Ok(())
}

/// The API server's own create of a bootstrap object: a uid, the creation time and the
/// kind's defaults, as a create gets them; an object already at `key` stays as it is (a
/// restart reads each one and prepares or writes nothing).
pub(crate) async fn create_if_missing(
    store: &dyn Store,
    resource: &ResourceType,
    key: &str,
    object: Value,
) -> Result<(), berth_store::Error> {
    if store.get(key).await?.is_some() {
        return Ok(());
    }
    create_own(store, resource, key, object).await
}

/// [`create_if_missing`] for a caller that has just found `key` empty: prepares the object
/// and creates it (an object that appeared meanwhile stays).
pub(crate) async fn create_own(
    store: &dyn Store,
    resource: &ResourceType,
    key: &str,
    mut object: Value,
) -> Result<(), berth_store::Error> {
    if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.insert("uid".into(), objects::new_uid().into());
        metadata.insert("creationTimestamp".into(), objects::now_rfc3339().into());
    }
    objects::normalize(resource, &mut object);
    crate::apply::record_own(resource, None, &mut object);
    objects::prepare_for_create(resource, &mut object);
    let bytes = serde_json::to_vec(&object).map(Bytes::from).unwrap_or_default();
    match store.create(key, bytes).await {
        Ok(_) | Err(berth_store::Error::AlreadyExists { .. }) => Ok(()),
        Err(error) => Err(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An update equal to the live object but for the live resourceVersion writes nothing;
    /// any other difference, a resourceVersion in the update included, is a change.
    #[test]
    fn an_update_is_unchanged_only_if_all_but_the_resource_version_is_equal() {
        let live = json!({"kind": "Pod", "metadata": {"name": "a", "resourceVersion": "7"}, "spec": {"x": 1}});
        let same = json!({"kind": "Pod", "metadata": {"name": "a"}, "spec": {"x": 1}});
        assert!(same_but_resource_version(&same, &live));
        let changed = [
            json!({"kind": "Pod", "metadata": {"name": "a"}, "spec": {"x": 2}}),
            json!({"kind": "Pod", "metadata": {"name": "b"}, "spec": {"x": 1}}),
            json!({"kind": "Pod", "metadata": {"name": "a", "labels": {}}, "spec": {"x": 1}}),
            json!({"kind": "Pod", "metadata": {"name": "a", "resourceVersion": "7"}, "spec": {"x": 1}}),
            json!({"kind": "Pod", "metadata": {"name": "a"}}),
            json!({"kind": "Pod", "metadata": {"name": "a"}, "spec": {"x": 1}, "status": {}}),
        ];
        for updated in changed {
            assert!(!same_but_resource_version(&updated, &live), "{updated}");
        }
        let unversioned = json!({"metadata": {"name": "a"}});
        assert!(same_but_resource_version(&unversioned, &unversioned));
    }

    /// The spliced bytes are exactly what decoding and serializing gives.
    #[test]
    fn splicing_the_resource_version_matches_decoding() {
        let objects = [
            json!({"kind": "Pod", "metadata": {"name": "a", "labels": {"x": "y\"z"}}, "spec": {}}),
            json!({"metadata": {}, "data": {"k": "ünïcode \u{1} tab\t"}}),
            json!({"apiVersion": "v1", "metadata": {"name": "n", "managedFields": [{"f:x": {}}]}, "n": 1.5e300}),
        ];
        for object in objects {
            let kv = KeyValue {
                key: "/k".into(),
                value: encode(&object).unwrap(),
                create_revision: Revision(3),
                mod_revision: Revision(42),
            };
            let spliced = splice_resource_version(&kv, kv.mod_revision).expect("splices");
            let decoded = serde_json::to_vec(&decode(&kv).unwrap()).unwrap();
            assert_eq!(String::from_utf8(spliced).unwrap(), String::from_utf8(decoded).unwrap());
        }
        let no_metadata = KeyValue {
            key: "/k".into(),
            value: Bytes::from_static(b"{\"a\":1}"),
            create_revision: Revision(1),
            mod_revision: Revision(1),
        };
        assert_eq!(splice_resource_version(&no_metadata, Revision(1)), None);
    }

    /// The stored bytes are serde_json's, without the resourceVersion; the answer is the
    /// object with the new one, as serializing it would give.
    #[test]
    fn stored_bytes_and_the_answer_match_serializing_the_object() {
        let objects = [
            json!({"kind": "Pod", "metadata": {"name": "a", "resourceVersion": "7",
                   "labels": {"x": "y\"z"}, "uid": "u"}, "spec": {"n": [1, 2.5, null, true]}}),
            json!({"metadata": {"resourceVersion": "1"}, "data": {"k": "ünïcode \u{1} tab\t"}}),
            json!({"data": {}, "metadata": {}}),
            json!({"apiVersion": "v1", "metadata": {"name": "n"}, "metadata2": {"resourceVersion": "x"}}),
        ];
        for object in objects {
            let stored = encode_stored(&object, None).unwrap();
            let mut without = object.clone();
            // The other keys keep their order.
            without["metadata"].as_object_mut().unwrap().shift_remove("resourceVersion");
            assert_eq!(stored.bytes, serde_json::to_vec(&without).unwrap());
            let mut served = without;
            objects::set_resource_version(&mut served, Revision(42));
            assert_eq!(
                String::from_utf8(stored.served(Revision(42)).unwrap()).unwrap(),
                serde_json::to_string(&served).unwrap()
            );
        }
        let no_metadata = encode_stored(&json!({"a": 1}), None).unwrap();
        assert_eq!(no_metadata.served(Revision(1)), None);
    }

    /// What the decoded cache holds for a write is what decoding its stored bytes gives, key
    /// order included (an update starts from either).
    #[test]
    fn a_written_object_as_cached_is_its_stored_bytes_decoded() {
        let objects = [
            json!({"kind": "Pod", "metadata": {"name": "a", "resourceVersion": "7",
                   "labels": {"x": "y"}, "uid": "u"}, "spec": {"n": [1, -2, 2.5, 1e300, null]}}),
            json!({"metadata": {"name": "b"}, "data": {"k": "v"}}),
            json!({"metadata": {}, "x": {}}),
        ];
        for mut object in objects {
            let stored = encode_stored(&object, None).unwrap();
            objects::set_resource_version(&mut object, Revision(42));
            let kv = KeyValue {
                key: "/k".into(),
                value: stored.bytes,
                create_revision: Revision(1),
                mod_revision: Revision(42),
            };
            let decoded = decode(&kv).unwrap();
            let cached = as_decoded(object);
            assert_eq!(cached, decoded);
            assert_eq!(
                serde_json::to_string(&cached).unwrap(),
                serde_json::to_string(&decoded).unwrap(),
                "same key order"
            );
        }
        assert_eq!(encode_stored(&json!([1]), None).unwrap().bytes, b"[1]".as_slice());
    }

    /// A create's managedFields, kept as text, are stored as metadata's last key: the bytes,
    /// the answer and what decoding them gives are those of the object with the list in it.
    #[test]
    fn a_creates_managed_fields_text_is_stored_as_metadatas_last_key() {
        let pods = berth_api::kinds::find("", "v1", "pods").unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(header::USER_AGENT, "kubectl-create/v1.33.0 (linux/amd64)".parse().unwrap());
        let objects = [
            json!({"apiVersion": "v1", "kind": "Pod",
                   "metadata": {"name": "a", "labels": {"x": "y"}, "resourceVersion": "3"},
                   "spec": {"containers": [{"name": "c", "image": "i"}]}}),
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {},
                   "spec": {"nodeName": "n"}}),
        ];
        for original in objects {
            let mut object = original.clone();
            let managed =
                crate::apply::record_create(pods, &headers, &Query::default(), None, &mut object)
                    .expect("the creator owns fields");
            let stored = encode_stored(&object, Some(&managed)).unwrap();
            assert!(stored.managed_spliced);
            let mut whole = object.clone();
            let metadata = whole["metadata"].as_object_mut().unwrap();
            metadata.shift_remove("resourceVersion");
            metadata.insert("managedFields".into(), managed.to_value());
            assert_eq!(
                String::from_utf8(stored.bytes.to_vec()).unwrap(),
                serde_json::to_string(&whole).unwrap()
            );
            objects::set_resource_version(&mut whole, Revision(9));
            assert_eq!(
                String::from_utf8(stored.served(Revision(9)).unwrap()).unwrap(),
                serde_json::to_string(&whole).unwrap()
            );
            let kv = KeyValue {
                key: "/k".into(),
                value: stored.bytes,
                create_revision: Revision(9),
                mod_revision: Revision(9),
            };
            assert_eq!(decode(&kv).unwrap(), whole);
            let entry = &whole["metadata"]["managedFields"][0];
            assert_eq!(
                (&entry["manager"], &entry["operation"]),
                (&json!("kubectl-create"), &json!("Update"))
            );
        }
    }
}

#[cfg(test)]
mod watch_tests {
    use berth_api::selector::{FieldSelector, LabelSelector};
    use bytes::Bytes;

    use super::*;

    fn stream(labels: &str, fields: &str, table: bool) -> WatchStream {
        let resource = berth_api::kinds::find("", "v1", "pods").unwrap();
        let now = tokio::time::Instant::now();
        WatchStream {
            resource,
            labels: LabelSelector::parse(labels).unwrap(),
            fields: FieldSelector::parse(fields).unwrap(),
            table,
            query: Query::parse(None),
            initial: Vec::new().into_iter(),
            watch: None,
            bookmarks: false,
            deadline: None,
            next_bookmark: now,
            done: false,
        }
    }

    fn kv(object: &Value, revision: i64) -> KeyValue {
        KeyValue {
            key: "/registry/pods/default/p".into(),
            value: encode(object).unwrap(),
            create_revision: Revision(1),
            mod_revision: Revision(revision),
        }
    }

    /// What the tree path writes: decode, set the revision, serialize the event.
    fn expected(kind: &str, stored: &KeyValue, revision: i64) -> Bytes {
        let mut object = decode(stored).unwrap();
        objects::set_resource_version(&mut object, Revision(revision));
        stream("", "", false).line(event_json(kind, object))
    }

    /// The lines written from the stored bytes are the tree path's, byte for byte, for every
    /// event type, with and without selectors.
    #[tokio::test]
    async fn watch_lines_from_stored_bytes_are_what_serializing_gives() {
        let pod = |app: &str| {
            json!({"apiVersion": "v1", "kind": "Pod",
                   "metadata": {"name": "p", "namespace": "default", "labels": {"app": app},
                                "annotations": {"note": "ünï \"q\" \u{1}"}},
                   "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "i"}]},
                   "status": {"phase": "Running", "x": [1.5, -2, null]}})
        };
        let (old, new) = (kv(&pod("a"), 5), kv(&pod("b"), 6));
        let put = Event::Put { kv: new.clone(), prev: Some(old.clone()) };
        let added = Event::Put { kv: old.clone(), prev: None };
        let deleted = Event::Delete { revision: Revision(7), prev: new.clone() };

        let all = stream("", "", false);
        assert_eq!(all.translate(&put).unwrap(), expected("MODIFIED", &new, 6));
        assert_eq!(all.translate(&added).unwrap(), expected("ADDED", &old, 5));
        assert_eq!(all.translate(&deleted).unwrap(), expected("DELETED", &new, 7));

        // Moving out of and into a label selection; a field selector that matches.
        let app_a = stream("app=a", "spec.nodeName=n1", false);
        assert_eq!(app_a.translate(&put).unwrap(), expected("DELETED", &new, 6));
        assert_eq!(app_a.translate(&added).unwrap(), expected("ADDED", &old, 5));
        assert!(app_a.translate(&deleted).is_none());
        let app_b = stream("app=b", "", false);
        assert_eq!(app_b.translate(&put).unwrap(), expected("ADDED", &new, 6));
        assert_eq!(app_b.translate(&deleted).unwrap(), expected("DELETED", &new, 7));
        assert!(stream("", "spec.nodeName=n2", false).translate(&put).is_none());

        // A Table watch builds its rows from the decoded object.
        let table = stream("", "", true).translate(&put).unwrap();
        let line: Value = serde_json::from_slice(&table).unwrap();
        assert_eq!(line["object"]["kind"], "Table");
        assert_eq!(line["type"], "MODIFIED");
    }
}
