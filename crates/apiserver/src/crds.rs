//! Custom resources: what the established CustomResourceDefinitions add to the API (their
//! resources found by path, in discovery and in OpenAPI, each version with its schema, columns
//! and subresources), and the apiextensions-apiserver controllers kube-apiserver runs beside
//! them (naming and establishing, the cleanup finalizer).
//!
//! The CRDs are followed in memory (`follower.rs`). Each served version of an established CRD
//! becomes a [`ResourceType`] like the static ones of `berth_api::kinds`, so every handler serves
//! it unchanged; what is particular to custom resources hangs off it in [`info`]. A resource type
//! is leaked once per distinct shape (names, scope, subresources) and reused while the shape
//! stays: memory grows only with changes of CRD names, which are rare.
//!
//! Invariant: a custom resource is served (routed, discovered) exactly while its CRD has the
//! `Established` condition, under the names in `status.acceptedNames`, as kube-apiserver's
//! `crdHandler` and discovery controller do.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, LazyLock, RwLock};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use berth_api::custom::{Columns, Schema};
use berth_api::kinds::{self, GroupVersionKind, ResourceType, Scope, Subresource};
use berth_store::{KeyValue, Store};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tokio::sync::{Notify, watch};
use tower::ServiceExt;

use berth_api::crd::{Termination, condition_true, crd_condition, set_terminating};

use crate::follower::{Follower, View};

/// Where CRDs are stored.
pub(crate) const PREFIX: &str = "/registry/apiextensions.k8s.io/customresourcedefinitions/";
/// The verbs of a custom resource, in the order kube-apiserver's discovery lists them.
const VERBS: &[&str] =
    &["delete", "deletecollection", "get", "list", "patch", "create", "update", "watch"];
/// While its CRD is terminating.
const TERMINATING_VERBS: &[&str] = &["delete", "deletecollection", "get", "list", "watch"];
const GET_PATCH_UPDATE: &[&str] = &["get", "patch", "update"];
/// How often a CRD being deleted is checked for remaining instances (upstream's poll).
const CLEANUP_POLL: Duration = Duration::from_secs(5);
/// How long the controllers wait after a failed write before trying again.
const RETRY: Duration = Duration::from_secs(1);

/// What a custom resource version serves beyond its [`ResourceType`].
#[derive(Debug)]
pub(crate) struct CustomVersion {
    /// `group/version` of the version objects are stored in.
    pub(crate) storage_api_version: &'static str,
    /// `group/version` of this version.
    pub(crate) api_version: &'static str,
    /// `status.acceptedNames.listKind`: the kind of its lists.
    pub(crate) list_kind: String,
    /// The warning every request for a deprecated version gets.
    pub(crate) deprecation: Option<String>,
    pub(crate) schema: Schema,
    /// The version's `schema.openAPIV3Schema` as written, for `/openapi/v3`.
    pub(crate) open_api: Option<Value>,
    pub(crate) columns: Columns,
    /// `subresources.scale`: `specReplicasPath`, `statusReplicasPath`, `labelSelectorPath`.
    pub(crate) scale: Option<ScalePaths>,
    /// The CRD has the `Terminating` condition: no creates.
    pub(crate) terminating: bool,
    /// `selectableFields` JSON paths (`.spec.color`), usable in field selectors.
    pub(crate) selectable_fields: Vec<String>,
}

/// A CRD version's scale subresource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ScalePaths {
    pub(crate) spec_replicas: String,
    pub(crate) status_replicas: String,
    pub(crate) label_selector: Option<String>,
}

/// [`CustomVersion`]s by the address of their leaked [`ResourceType`]. Addresses are unique
/// per API server (each [`Crds`] leaks its own), so several servers in one process (tests)
/// never share an entry.
static INFO: LazyLock<RwLock<HashMap<usize, Arc<CustomVersion>>>> = LazyLock::new(RwLock::default);

/// Whether each custom resource type (by address, as [`INFO`]) is still served: `true` once
/// its CRD stopped serving it, so that open watches on it end (kube-apiserver tears a
/// custom resource's storage down, watches included, when its CRD goes).
static GONE: LazyLock<RwLock<HashMap<usize, watch::Sender<bool>>>> = LazyLock::new(RwLock::default);

/// Resolves once `resource`, a custom resource, is no longer served; never for the static
/// kinds.
pub(crate) async fn gone(resource: &ResourceType) {
    let address = std::ptr::from_ref(resource) as usize;
    let signal = GONE.read().ok().and_then(|gone| gone.get(&address).map(watch::Sender::subscribe));
    match signal {
        Some(mut gone) => {
            let _ = gone.wait_for(|gone| *gone).await;
        }
        None => std::future::pending().await,
    }
}

/// What `resource` serves as a custom resource; `None` for the static kinds.
pub(crate) fn info(resource: &ResourceType) -> Option<Arc<CustomVersion>> {
    let address = std::ptr::from_ref(resource);
    if kinds::all().as_ptr_range().contains(&address) {
        return None;
    }
    INFO.read().ok()?.get(&(address as usize)).cloned()
}

/// The [`CustomVersion`] of the custom resource type at `address` (see [`address`]).
pub(crate) fn info_at(address: usize) -> Option<Arc<CustomVersion>> {
    INFO.read().ok()?.get(&address).cloned()
}

/// The key of `resource` in [`info_at`].
pub(crate) fn address(resource: &ResourceType) -> usize {
    std::ptr::from_ref(resource) as usize
}

/// Whether `resource` is a custom resource.
pub(crate) fn is_custom(resource: &ResourceType) -> bool {
    info(resource).is_some()
}

/// The served custom resources, as one consistent snapshot.
#[derive(Debug, Default)]
pub(crate) struct Served {
    by_path: HashMap<(String, String, String), &'static ResourceType>,
    /// Groups sorted by name, each with its versions in kube-aware order (preferred first).
    pub(crate) groups: Vec<CustomGroup>,
}

/// One API group custom resources are served in.
#[derive(Debug, Clone)]
pub(crate) struct CustomGroup {
    pub(crate) name: String,
    pub(crate) versions: Vec<CustomGroupVersion>,
}

/// One version of a [`CustomGroup`] and its resources, sorted by plural.
#[derive(Debug, Clone)]
pub(crate) struct CustomGroupVersion {
    pub(crate) version: String,
    pub(crate) resources: Vec<&'static ResourceType>,
}

impl Served {
    /// The resource at `/apis/{group}/{version}/{plural}`.
    pub(crate) fn find(
        &self,
        group: &str,
        version: &str,
        plural: &str,
    ) -> Option<&'static ResourceType> {
        self.by_path.get(&(group.to_owned(), version.to_owned(), plural.to_owned())).copied()
    }

    pub(crate) fn group(&self, name: &str) -> Option<&CustomGroup> {
        self.groups.iter().find(|g| g.name == name)
    }
}

/// The CRDs, followed from the store, and the custom resources they serve.
#[derive(Debug)]
pub(crate) struct Crds {
    follower: Arc<Follower<CrdView>>,
}

impl Crds {
    pub(crate) fn new(store: Arc<dyn Store>) -> Arc<Crds> {
        Arc::new(Crds { follower: Follower::new(store, PREFIX.to_owned(), CrdView::default()) })
    }

    /// Lists the CRDs and follows their changes until `stopping` fires.
    pub(crate) async fn follow(
        &self,
        stopping: watch::Receiver<()>,
    ) -> Result<(), berth_store::Error> {
        self.follower.follow(stopping).await
    }

    /// What is served now.
    pub(crate) fn served(&self) -> Arc<Served> {
        self.follower.view().inner.read().map(|inner| inner.served.clone()).unwrap_or_default()
    }

    /// Every CRD as stored, by name.
    fn all(&self) -> Vec<Arc<Value>> {
        let inner = self.follower.view().inner.read();
        inner.map(|inner| inner.crds.values().cloned().collect()).unwrap_or_default()
    }

    /// Waits until the view has seen the store's current revision (at most a second).
    pub(crate) async fn catch_up(&self) {
        self.follower.catch_up().await;
    }
}

/// The CRDs by name and what they serve.
#[derive(Debug, Default)]
pub(crate) struct CrdView {
    inner: RwLock<Inner>,
    /// Wakes the controllers after every change.
    changed: Notify,
}

#[derive(Debug, Default)]
struct Inner {
    crds: BTreeMap<String, Arc<Value>>,
    served: Arc<Served>,
    leaked: HashMap<Shape, &'static ResourceType>,
}

impl View for CrdView {
    fn reset(&self, kvs: &[KeyValue]) {
        if let Ok(mut inner) = self.inner.write() {
            inner.crds = kvs.iter().filter_map(parse).collect();
            inner.rebuild();
        }
        self.changed.notify_one();
    }

    fn put(&self, kv: &KeyValue) {
        if let (Some((name, crd)), Ok(mut inner)) = (parse(kv), self.inner.write()) {
            inner.crds.insert(name, crd);
            inner.rebuild();
        }
        self.changed.notify_one();
    }

    fn delete(&self, key: &str) {
        if let Ok(mut inner) = self.inner.write() {
            let name = key.strip_prefix(PREFIX).unwrap_or(key);
            inner.crds.remove(name);
            inner.rebuild();
        }
        self.changed.notify_one();
    }
}

fn parse(kv: &KeyValue) -> Option<(String, Arc<Value>)> {
    let name = kv.key.strip_prefix(PREFIX)?.to_owned();
    match serde_json::from_slice(&kv.value) {
        Ok(crd) => Some((name, Arc::new(crd))),
        Err(error) => {
            tracing::warn!(%error, key = %kv.key, "a stored CRD is not JSON; not serving it");
            None
        }
    }
}

/// What makes two served versions the same [`ResourceType`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Shape {
    group: String,
    version: String,
    kind: String,
    plural: String,
    singular: String,
    namespaced: bool,
    short_names: Vec<String>,
    categories: Vec<String>,
    status: bool,
    scale: bool,
    terminating: bool,
    storage_version_hash: String,
}

impl Shape {
    fn leak(&self) -> &'static ResourceType {
        fn text(s: &str) -> &'static str {
            Box::leak(s.to_owned().into_boxed_str())
        }
        fn list(items: &[String]) -> &'static [&'static str] {
            Box::leak(items.iter().map(|s| text(s)).collect::<Vec<_>>().into_boxed_slice())
        }
        let (group, version, kind) = (text(&self.group), text(&self.version), text(&self.kind));
        let mut subresources = Vec::new();
        if self.scale {
            subresources.push(Subresource {
                name: "scale",
                kind: GroupVersionKind { group: "autoscaling", version: "v1", kind: "Scale" },
                verbs: GET_PATCH_UPDATE,
            });
        }
        if self.status {
            subresources.push(Subresource {
                name: "status",
                kind: GroupVersionKind { group, version, kind },
                verbs: GET_PATCH_UPDATE,
            });
        }
        Box::leak(Box::new(ResourceType {
            group,
            version,
            kind,
            plural: text(&self.plural),
            singular: text(&self.singular),
            scope: if self.namespaced { Scope::Namespaced } else { Scope::Cluster },
            short_names: list(&self.short_names),
            categories: list(&self.categories),
            verbs: if self.terminating { TERMINATING_VERBS } else { VERBS },
            subresources: Box::leak(subresources.into_boxed_slice()),
            storage_version_hash: text(&self.storage_version_hash),
        }))
    }
}

impl Inner {
    /// Recomputes what is served from the CRDs.
    fn rebuild(&mut self) {
        let mut served = Served::default();
        let mut groups: BTreeMap<String, BTreeMap<String, Vec<&'static ResourceType>>> =
            BTreeMap::new();
        let mut info = Vec::new();
        for crd in self.crds.values() {
            if !condition_true(crd, "Established") {
                continue;
            }
            let text = |pointer: &str| {
                crd.pointer(pointer).and_then(Value::as_str).unwrap_or_default().to_owned()
            };
            let strings = |pointer: &str| -> Vec<String> {
                crd.pointer(pointer)
                    .and_then(Value::as_array)
                    .map(|items| {
                        items.iter().filter_map(Value::as_str).map(str::to_owned).collect()
                    })
                    .unwrap_or_default()
            };
            let group = text("/spec/group");
            let plural = text("/status/acceptedNames/plural");
            let kind = text("/status/acceptedNames/kind");
            if group.is_empty() || plural.is_empty() || kind.is_empty() {
                continue;
            }
            let versions = crd.pointer("/spec/versions").and_then(Value::as_array);
            let versions = versions.map(Vec::as_slice).unwrap_or_default();
            let Some(storage) = versions
                .iter()
                .find(|v| v.get("storage") == Some(&Value::Bool(true)))
                .and_then(|v| v.get("name"))
                .and_then(Value::as_str)
            else {
                continue;
            };
            let terminating = condition_true(crd, "Terminating");
            let storage_version_hash =
                storage_version_hash(&group, storage, &text("/spec/names/kind"));
            let storage_api_version: &'static str =
                Box::leak(format!("{group}/{storage}").into_boxed_str());
            for version in versions {
                if version.get("served") != Some(&Value::Bool(true)) {
                    continue;
                }
                let Some(version_name) = version.get("name").and_then(Value::as_str) else {
                    continue;
                };
                let subresources = version.get("subresources");
                let scale = subresources.and_then(|s| s.get("scale")).filter(|s| s.is_object());
                let shape = Shape {
                    group: group.clone(),
                    version: version_name.to_owned(),
                    kind: kind.clone(),
                    plural: plural.clone(),
                    singular: text("/status/acceptedNames/singular"),
                    namespaced: text("/spec/scope") == "Namespaced",
                    short_names: strings("/status/acceptedNames/shortNames"),
                    categories: strings("/status/acceptedNames/categories"),
                    status: subresources
                        .and_then(|s| s.get("status"))
                        .is_some_and(Value::is_object),
                    scale: scale.is_some(),
                    terminating,
                    storage_version_hash: storage_version_hash.clone(),
                };
                let resource = *self.leaked.entry(shape.clone()).or_insert_with(|| shape.leak());
                // Server-side apply merges by the version's schema (list types, map types).
                berth_api::apply::register_custom(
                    &group,
                    version_name,
                    &kind,
                    version.pointer("/schema/openAPIV3Schema"),
                );
                let path_text = |field: &str| {
                    scale.and_then(|s| s.get(field)).and_then(Value::as_str).map(str::to_owned)
                };
                let selectable_fields = version
                    .get("selectableFields")
                    .and_then(Value::as_array)
                    .map(|fields| {
                        fields
                            .iter()
                            .filter_map(|f| f.get("jsonPath").and_then(Value::as_str))
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default();
                info.push((
                    resource,
                    CustomVersion {
                        storage_api_version,
                        api_version: Box::leak(format!("{group}/{version_name}").into_boxed_str()),
                        deprecation: deprecation(
                            version,
                            versions,
                            &group,
                            &text("/spec/names/kind"),
                        ),
                        list_kind: match text("/status/acceptedNames/listKind") {
                            list_kind if list_kind.is_empty() => format!("{kind}List"),
                            list_kind => list_kind,
                        },
                        schema: Schema::new(version.pointer("/schema/openAPIV3Schema")),
                        open_api: version.pointer("/schema/openAPIV3Schema").cloned(),
                        columns: Columns::new(version.get("additionalPrinterColumns")),
                        scale: scale.map(|_| ScalePaths {
                            spec_replicas: path_text("specReplicasPath").unwrap_or_default(),
                            status_replicas: path_text("statusReplicasPath").unwrap_or_default(),
                            label_selector: path_text("labelSelectorPath"),
                        }),
                        terminating,
                        selectable_fields,
                    },
                ));
                served
                    .by_path
                    .insert((group.clone(), version_name.to_owned(), plural.clone()), resource);
                groups
                    .entry(group.clone())
                    .or_default()
                    .entry(version_name.to_owned())
                    .or_default()
                    .push(resource);
            }
        }
        if let Ok(mut gone) = GONE.write() {
            // What this view served before and serves no more is gone; what it serves is not.
            for resource in self.served.by_path.values() {
                if !served.by_path.values().any(|now| std::ptr::eq(*now, *resource))
                    && let Some(signal) = gone.get(&(std::ptr::from_ref(*resource) as usize))
                {
                    signal.send_replace(true);
                }
            }
            for resource in served.by_path.values() {
                let address = std::ptr::from_ref(*resource) as usize;
                if gone.get(&address).is_none_or(|signal| *signal.borrow()) {
                    gone.insert(address, watch::Sender::new(false));
                }
            }
        }
        if let Ok(mut map) = INFO.write() {
            for (resource, version) in info {
                map.insert(std::ptr::from_ref(resource) as usize, Arc::new(version));
            }
        }
        served.groups = groups
            .into_iter()
            .map(|(name, versions)| {
                let mut versions: Vec<CustomGroupVersion> = versions
                    .into_iter()
                    .map(|(version, mut resources)| {
                        resources.sort_by_key(|r| r.plural);
                        CustomGroupVersion { version, resources }
                    })
                    .collect();
                versions.sort_by(|a, b| compare_kube_aware(&b.version, &a.version));
                CustomGroup { name, versions }
            })
            .collect();
        self.served = Arc::new(served);
    }
}

/// The warning of a deprecated `version` of a CRD (`crdHandler`'s): its `deprecationWarning`,
/// else `defaultDeprecationWarning`'s text naming the most preferred newer version that is
/// served and not deprecated.
fn deprecation(version: &Value, versions: &[Value], group: &str, kind: &str) -> Option<String> {
    if version.get("deprecated") != Some(&Value::Bool(true)) {
        return None;
    }
    if let Some(warning) = version.get("deprecationWarning").and_then(Value::as_str) {
        return Some(warning.to_owned());
    }
    let name = version.get("name").and_then(Value::as_str).unwrap_or_default();
    let mut message = format!("{group}/{name} {kind} is deprecated");
    let newer = versions
        .iter()
        .filter(|v| {
            v.get("served") == Some(&Value::Bool(true))
                && v.get("deprecated") != Some(&Value::Bool(true))
        })
        .filter_map(|v| v.get("name").and_then(Value::as_str))
        .filter(|v| compare_kube_aware(name, v) == Ordering::Less)
        .max_by(|a, b| compare_kube_aware(a, b));
    if let Some(newer) = newer {
        message.push_str(&format!("; use {group}/{newer} {kind}"));
    }
    Some(message)
}

/// apiserver's `discovery.StorageVersionHash`: the first 8 bytes of SHA-256 over
/// `group/version/kind`, base64.
fn storage_version_hash(group: &str, version: &str, kind: &str) -> String {
    use base64::Engine;
    let digest =
        ring::digest::digest(&ring::digest::SHA256, format!("{group}/{version}/{kind}").as_bytes());
    base64::engine::general_purpose::STANDARD.encode(&digest.as_ref()[..8])
}

/// apimachinery's `version.CompareKubeAwareVersionStrings`: GA before beta before alpha, higher
/// numbers first, then versions that are not Kubernetes-like, alphabetically. `Greater` means
/// `a` is preferred.
pub(crate) fn compare_kube_aware(a: &str, b: &str) -> Ordering {
    match (kube_version(a), kube_version(b)) {
        (Some(a), Some(b)) => a.cmp(&b),
        (Some(_), None) => Ordering::Greater,
        (None, Some(_)) => Ordering::Less,
        (None, None) => b.cmp(a),
    }
}

/// `^v(\d+)(?:(alpha|beta)(\d+))?$` as (stability, major, minor), ordered by preference.
fn kube_version(version: &str) -> Option<(u8, u64, u64)> {
    let rest = version.strip_prefix('v')?;
    let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
    let (major, rest) = rest.split_at(digits);
    if major.is_empty() {
        return None;
    }
    let major: u64 = major.parse().ok()?;
    if rest.is_empty() {
        return Some((2, major, 0));
    }
    let (stability, minor) = if let Some(minor) = rest.strip_prefix("beta") {
        (1, minor)
    } else {
        (0, rest.strip_prefix("alpha")?)
    };
    if minor.is_empty() || !minor.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((stability, major, minor.parse().ok()?))
}

// === the controllers ===

/// The User-Agent of the controllers' writes: their field manager is `kube-apiserver`, as
/// for kube-apiserver's own loopback client.
const USER_AGENT: &str = "kube-apiserver/v1.33.0 (linux/amd64) kubernetes/berth";

/// Runs kube-apiserver's CRD controllers until `stopping` fires: the naming and establishing
/// controllers (`status.acceptedNames`, `NamesAccepted`, `Established`) and the finalizer
/// controller (a deleted CRD's instances go, then its `customresourcecleanup` finalizer).
/// Level-triggered: every change of any CRD makes one pass over all of them. Writes go
/// through `app`, the API server's own router, as the loopback client's do.
pub(crate) async fn run(
    crds: Arc<Crds>,
    app: crate::server::LocalService,
    mut stopping: watch::Receiver<()>,
) {
    let app = app.with_user_agent(USER_AGENT);
    let mut wait = None;
    loop {
        let pause = async {
            match wait {
                Some(after) => tokio::time::sleep(after).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = stopping.changed() => return,
            () = crds.follower.view().changed.notified() => {}
            () = pause => {}
        }
        wait = pass(&crds, &app).await;
    }
}

/// One pass over every CRD; how long until the next one must run without a change (a CRD is
/// waiting for its instances to go, or a write failed).
async fn pass(crds: &Crds, app: &crate::server::LocalService) -> Option<Duration> {
    let all = crds.all();
    let mut wait: Option<Duration> = None;
    let mut again = |after: Duration| wait = Some(wait.map_or(after, |w| w.min(after)));
    for crd in &all {
        let outcome = if crd.pointer("/metadata/deletionTimestamp").is_some_and(|t| !t.is_null()) {
            finalize(crds, crd, app).await
        } else {
            name(crd, &all, app).await
        };
        match outcome {
            Ok(Some(after)) => again(after),
            Ok(None) => {}
            Err(error) => {
                let name =
                    crd.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
                tracing::warn!(crd = name, %error, "CRD controller; retrying");
                again(RETRY);
            }
        }
    }
    wait
}

/// The naming and establishing controllers: writes the status `berth_api::crd` computes
/// when it differs from the stored one.
async fn name(
    crd: &Value,
    all: &[Arc<Value>],
    app: &crate::server::LocalService,
) -> Result<Option<Duration>, String> {
    let others: Vec<&Value> = all.iter().map(|c| &**c).filter(|c| !std::ptr::eq(*c, crd)).collect();
    let status = berth_api::crd::naming_status(crd, &others, &crate::objects::now_rfc3339());
    if crd.get("status") == Some(&status) {
        return Ok(None);
    }
    let mut updated = crd.clone();
    updated["status"] = status;
    write_status(app, &updated).await.map(|_| None)
}

/// The finalizer controller (`crdFinalizer.sync`): for a CRD being deleted that still has the
/// cleanup finalizer, marks it `Terminating`, deletes every instance (a DELETE of each
/// namespace's collection, so that their own finalizers hold them as usual), waits until none
/// is left, then removes the finalizer (and the API server then deletes the CRD).
async fn finalize(
    crds: &Crds,
    crd: &Value,
    app: &crate::server::LocalService,
) -> Result<Option<Duration>, String> {
    let finalizer = berth_api::crd::FINALIZER;
    let has_finalizer = crd
        .pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .is_some_and(|list| list.iter().any(|f| f == finalizer));
    if !has_finalizer {
        return Ok(None);
    }
    let mut crd = crd.clone();
    let served = crds.served();
    let group = crd.pointer("/spec/group").and_then(Value::as_str).unwrap_or_default().to_owned();
    let plural = crd
        .pointer("/status/acceptedNames/plural")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let resource = served.group(&group).and_then(|g| {
        g.versions.iter().flat_map(|v| v.resources.iter()).find(|r| r.plural == plural).copied()
    });
    let condition = if condition_true(&crd, "Established")
        && let Some(resource) = resource
    {
        if !condition_true(&crd, "Terminating")
            || crd_condition(&crd, "Terminating").and_then(|c| c.get("reason"))
                != Some(&json!("InstanceDeletionInProgress"))
        {
            set_terminating(&mut crd, &Termination::InProgress, &crate::objects::now_rfc3339());
            crd = write_status(app, &crd).await?;
        }
        let base = format!("/apis/{}/{}", resource.group, resource.version);
        let items = list_instances(app, &base, resource).await?;
        if !items.is_empty() {
            let mut namespaces: Vec<Option<String>> = items
                .iter()
                .map(|item| {
                    item.pointer("/metadata/namespace").and_then(Value::as_str).map(str::to_owned)
                })
                .collect();
            namespaces.dedup();
            let mut failures = Vec::new();
            for namespace in namespaces {
                let path = match &namespace {
                    Some(ns) => format!("{base}/namespaces/{ns}/{}", resource.plural),
                    None => format!("{base}/{}", resource.plural),
                };
                if let Err(error) = call(app, Method::DELETE, &path, None).await {
                    failures.push(error);
                }
            }
            if !failures.is_empty() {
                let message = format!("could not issue all deletes: {}", failures.join(", "));
                let now = crate::objects::now_rfc3339();
                set_terminating(&mut crd, &Termination::Failed(message), &now);
                write_status(app, &crd).await?;
                return Ok(Some(RETRY));
            }
            if !list_instances(app, &base, resource).await?.is_empty() {
                // Finalizers of their own hold some: look again later.
                return Ok(Some(CLEANUP_POLL));
            }
        }
        Termination::Completed
    } else {
        Termination::NeverEstablished
    };
    set_terminating(&mut crd, &condition, &crate::objects::now_rfc3339());
    berth_api::crd::remove_finalizer(&mut crd);
    write_status(app, &crd).await?;
    Ok(None)
}

/// Every instance of `resource` in all namespaces.
async fn list_instances(
    app: &crate::server::LocalService,
    base: &str,
    resource: &ResourceType,
) -> Result<Vec<Value>, String> {
    let list = call(app, Method::GET, &format!("{base}/{}", resource.plural), None).await?;
    Ok(list.get("items").and_then(Value::as_array).cloned().unwrap_or_default())
}

/// PUTs `crd` to its status subresource; the CRD as written.
async fn write_status(app: &crate::server::LocalService, crd: &Value) -> Result<Value, String> {
    let name = crd.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
    let path = format!("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}/status");
    call(app, Method::PUT, &path, Some(crd)).await
}

/// One request through the API server's router; the answer's JSON, or why it failed.
async fn call(
    app: &crate::server::LocalService,
    method: Method,
    path: &str,
    body: Option<&Value>,
) -> Result<Value, String> {
    let body = body.map(|b| Body::from(b.to_string())).unwrap_or_else(Body::empty);
    let request = Request::builder()
        .method(method.clone())
        .uri(path)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ACCEPT, "application/json")
        .body(body)
        .map_err(|e| e.to_string())?;
    let response = app.clone().oneshot(request).await.map_err(|e| e.to_string())?;
    let status = response.status();
    let bytes = response.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
    let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    if status == StatusCode::OK || status == StatusCode::CREATED || status == StatusCode::ACCEPTED {
        Ok(value)
    } else {
        let message = value.get("message").and_then(Value::as_str).unwrap_or_default();
        Err(format!("{method} {path}: {status} {message}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_sort_as_kubernetes_prefers_them() {
        let mut versions = vec![
            "v1alpha1",
            "foo",
            "v2",
            "v1",
            "v10beta3",
            "v1beta1",
            "v11alpha2",
            "bar",
            "v12alpha1",
            "v3beta1",
            "v10",
            "v1beta2",
        ];
        versions.sort_by(|a, b| compare_kube_aware(b, a));
        assert_eq!(
            versions,
            [
                "v10",
                "v2",
                "v1",
                "v10beta3",
                "v3beta1",
                "v1beta2",
                "v1beta1",
                "v12alpha1",
                "v11alpha2",
                "v1alpha1",
                "bar",
                "foo"
            ]
        );
    }

    #[test]
    fn deprecated_versions_warn_as_upstream_words_it() {
        let versions = vec![
            json!({"name": "v1alpha1", "served": true, "deprecated": true}),
            json!({"name": "v1beta1", "served": true, "deprecated": true, "deprecationWarning": "use v2"}),
            json!({"name": "v1", "served": true}),
            json!({"name": "v2", "served": false}),
        ];
        let warning = |i: usize| deprecation(&versions[i], &versions, "example.com", "Widget");
        assert_eq!(
            warning(0).as_deref(),
            Some("example.com/v1alpha1 Widget is deprecated; use example.com/v1 Widget")
        );
        assert_eq!(warning(1).as_deref(), Some("use v2"));
        assert_eq!(warning(2), None);
        let alone = vec![json!({"name": "v1", "served": true, "deprecated": true})];
        assert_eq!(
            deprecation(&alone[0], &alone, "example.com", "Widget").as_deref(),
            Some("example.com/v1 Widget is deprecated")
        );
    }

    #[test]
    fn storage_version_hashes_are_kubernetes_own() {
        // Discovery of a v1.33 cluster: statefulsets' hash, and customresourcedefinitions'
        // (stored as v1beta1).
        assert_eq!(storage_version_hash("apps", "v1", "StatefulSet"), "H+vl74LkKdo=");
        assert_eq!(
            storage_version_hash("apiextensions.k8s.io", "v1beta1", "CustomResourceDefinition"),
            "jfWCUB31mvA="
        );
    }
}
