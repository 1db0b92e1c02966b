//! Discovery documents, built from the kinds registry (`crate::kinds`): pure functions returning
//! the JSON kube-apiserver v1.33 serves, plus the `Accept` negotiation between aggregated (v2)
//! and legacy discovery.
//!
//! - `/api` → [`api_versions`] (`APIVersions`) or [`aggregated_discovery`]`(true)`;
//! - `/apis` → [`api_group_list`] (`APIGroupList`) or [`aggregated_discovery`]`(false)`;
//! - `/api/v1`, `/apis/{group}/{version}` → [`api_resource_list`] (`APIResourceList`);
//! - `/apis/{group}` → [`api_group`] (`APIGroup`).
//!
//! Objects are written in the field order of Kubernetes' Go types. `serde_json::Value` keeps
//! that order only with serde_json's `preserve_order` feature; without it keys come out sorted,
//! which is the same JSON to every client.
//!
//! Kubernetes quirks kept on purpose: the core documents (`/api`, `/api/v1`) carry no
//! `apiVersion` while the group ones do; in aggregated discovery a `responseKind` whose group
//! and version are the resource's own is written with empty `group` and `version` (only kinds
//! of another group version, like `autoscaling/v1 Scale`, are qualified), exactly as
//! kube-apiserver's `ConvertGroupVersionIntoToDiscovery` does.

use serde_json::{Map, Value, json};

use crate::kinds::{self, ResourceType, Scope, Subresource};

/// The `Content-Type` of an aggregated discovery (v2) response. kubectl needs exactly this;
/// with plain `application/json` it reads the body as legacy discovery and finds nothing.
pub const AGGREGATED_DISCOVERY_CONTENT_TYPE: &str =
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

/// Whether a request to `/api` or `/apis` with this `Accept` header gets aggregated discovery
/// (v2) rather than the legacy documents.
///
/// Follows kube-apiserver's negotiation: clauses ordered by `q` (wildcards after specific types
/// of equal `q`, otherwise in header order); the first one berth can serve wins. A JSON clause
/// with `g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList` (parameters in any order) means
/// aggregated; a JSON or wildcard clause without `as` means legacy. Clauses berth cannot serve
/// (protobuf, YAML, aggregated `v2beta1`) are skipped, and when nothing is left the answer is
/// legacy: kubectl 1.27–1.29 ask only for `v2beta1` and then fall back to legacy discovery.
pub fn wants_aggregated(accept: Option<&str>) -> bool {
    let Some(accept) = accept else { return false };
    let mut clauses: Vec<MediaRange<'_>> =
        accept.split(',').filter_map(MediaRange::parse).collect();
    // A stable sort keeps header order among equals.
    clauses.sort_by(|a, b| {
        b.q.total_cmp(&a.q)
            .then((a.type_ == "*").cmp(&(b.type_ == "*")))
            .then((a.subtype == "*").cmp(&(b.subtype == "*")))
    });
    for clause in clauses.iter().filter(|c| c.q > 0.0) {
        let json = matches!(
            (clause.type_.as_str(), clause.subtype.as_str()),
            ("application", "json" | "*") | ("*", "*")
        );
        if !json {
            continue;
        }
        match clause.param("as") {
            None => return false,
            Some("APIGroupDiscoveryList")
                if clause.param("g") == Some("apidiscovery.k8s.io")
                    && clause.param("v") == Some("v2") =>
            {
                return true;
            }
            Some(_) => continue,
        }
    }
    false
}

/// One clause of an `Accept` header.
#[derive(Debug)]
struct MediaRange<'a> {
    type_: String,
    subtype: String,
    params: Vec<(&'a str, &'a str)>,
    q: f32,
}

impl<'a> MediaRange<'a> {
    fn parse(clause: &'a str) -> Option<Self> {
        let mut parts = clause.split(';');
        let (type_, subtype) = parts.next()?.trim().split_once('/')?;
        let (type_, subtype) =
            (type_.trim().to_ascii_lowercase(), subtype.trim().to_ascii_lowercase());
        if type_.is_empty() || subtype.is_empty() {
            return None;
        }
        let mut params = Vec::new();
        let mut q = 1.0;
        for param in parts {
            let Some((key, value)) = param.split_once('=') else { continue };
            let (key, value) = (key.trim(), value.trim().trim_matches('"'));
            if key.eq_ignore_ascii_case("q") {
                q = value.parse().unwrap_or(0.0);
            } else {
                params.push((key, value));
            }
        }
        Some(MediaRange { type_, subtype, params, q })
    }

    fn param(&self, key: &str) -> Option<&'a str> {
        self.params.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| *v)
    }
}

/// `GET /api`: the legacy `APIVersions`. `server_address` (the address the client used, e.g.
/// from its `Host` header) fills `serverAddressByClientCIDRs` for `0.0.0.0/0`; without one the
/// list is empty.
pub fn api_versions(server_address: Option<&str>) -> Value {
    let cidrs: Vec<Value> = server_address
        .map(|address| json!({"clientCIDR": "0.0.0.0/0", "serverAddress": address}))
        .into_iter()
        .collect();
    let core = kinds::group("").expect("the core group is served");
    json!({
        "kind": "APIVersions",
        "versions": core.versions,
        "serverAddressByClientCIDRs": cidrs,
    })
}

/// A group served besides the static ones (custom resources, from CustomResourceDefinitions):
/// its versions, preferred first, each with its resources sorted by plural. Such groups come
/// after the static ones, by name, as kube-apiserver lists groups of priority 1000.
#[derive(Debug, Clone, Copy)]
pub struct ExtraGroup<'a> {
    pub name: &'a str,
    pub versions: &'a [ExtraVersion<'a>],
}

/// One version of an [`ExtraGroup`].
#[derive(Debug, Clone, Copy)]
pub struct ExtraVersion<'a> {
    pub name: &'a str,
    pub resources: &'a [&'static ResourceType],
}

/// `GET /apis`: the legacy `APIGroupList` of every served group except core, then `extra`.
pub fn api_group_list(extra: &[ExtraGroup<'_>]) -> Value {
    let groups: Vec<Value> = kinds::groups()
        .iter()
        .filter(|g| !g.name.is_empty())
        .map(|g| group_body(g.name, g.versions))
        .chain(extra.iter().map(|g| {
            let versions: Vec<&str> = g.versions.iter().map(|v| v.name).collect();
            group_body(g.name, &versions)
        }))
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `GET /apis/{group}`: the `APIGroup`, or `None` when berth does not serve the group (neither
/// statically nor among `extra`).
pub fn api_group(name: &str, extra: &[ExtraGroup<'_>]) -> Option<Value> {
    let fields = match kinds::group(name).filter(|g| !g.name.is_empty()) {
        Some(group) => group_body(group.name, group.versions),
        None => {
            let group = extra.iter().find(|g| g.name == name && !g.versions.is_empty())?;
            let versions: Vec<&str> = group.versions.iter().map(|v| v.name).collect();
            group_body(group.name, &versions)
        }
    };
    let mut body = Map::new();
    body.insert("kind".into(), "APIGroup".into());
    body.insert("apiVersion".into(), "v1".into());
    if let Value::Object(fields) = fields {
        body.extend(fields);
    }
    Some(Value::Object(body))
}

/// A group's versions, the first preferred.
fn group_body(name: &str, versions: &[&str]) -> Value {
    let version = |v: &str| json!({"groupVersion": kinds::group_version(name, v), "version": v});
    json!({
        "name": name,
        "versions": versions.iter().map(|v| version(v)).collect::<Vec<_>>(),
        "preferredVersion": versions.first().map(|v| version(v)),
    })
}

/// `GET /api/v1` (`group` `""`) or `GET /apis/{group}/{version}`: the `APIResourceList`, every
/// resource and subresource (`pods/status`) sorted by name as Kubernetes sorts them, or `None`
/// when berth does not serve that group version (neither statically nor among `extra`).
pub fn api_resource_list(group: &str, version: &str, extra: &[ExtraGroup<'_>]) -> Option<Value> {
    let resources: Vec<&'static ResourceType> = match kinds::group(group) {
        Some(served) if served.versions.contains(&version) => {
            kinds::resources_in(group, version).collect()
        }
        Some(_) => return None,
        None => extra
            .iter()
            .find(|g| g.name == group)?
            .versions
            .iter()
            .find(|v| v.name == version)?
            .resources
            .to_vec(),
    };
    let mut entries: Vec<(String, Value)> = Vec::new();
    for r in resources {
        entries.push((r.plural.to_owned(), legacy_resource(r)));
        for s in r.subresources {
            let name = format!("{}/{}", r.plural, s.name);
            entries.push((name.clone(), legacy_subresource(r, s, name)));
        }
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    let resources: Vec<Value> = entries.into_iter().map(|(_, v)| v).collect();
    let mut body = Map::new();
    body.insert("kind".into(), "APIResourceList".into());
    if !group.is_empty() {
        body.insert("apiVersion".into(), "v1".into());
    }
    body.insert("groupVersion".into(), kinds::group_version(group, version).into());
    body.insert("resources".into(), resources.into());
    Some(Value::Object(body))
}

fn legacy_resource(r: &ResourceType) -> Value {
    let mut entry = Map::new();
    entry.insert("name".into(), r.plural.into());
    entry.insert("singularName".into(), r.singular.into());
    entry.insert("namespaced".into(), r.namespaced().into());
    entry.insert("kind".into(), r.kind.into());
    entry.insert("verbs".into(), r.verbs.into());
    insert_nonempty(&mut entry, "shortNames", r.short_names);
    insert_nonempty(&mut entry, "categories", r.categories);
    if !r.storage_version_hash.is_empty() {
        entry.insert("storageVersionHash".into(), r.storage_version_hash.into());
    }
    Value::Object(entry)
}

fn legacy_subresource(r: &ResourceType, s: &Subresource, name: String) -> Value {
    let mut entry = Map::new();
    entry.insert("name".into(), name.into());
    entry.insert("singularName".into(), "".into());
    entry.insert("namespaced".into(), r.namespaced().into());
    if (s.kind.group, s.kind.version) != (r.group, r.version) {
        entry.insert("group".into(), s.kind.group.into());
        entry.insert("version".into(), s.kind.version.into());
    }
    entry.insert("kind".into(), s.kind.kind.into());
    entry.insert("verbs".into(), s.verbs.into());
    Value::Object(entry)
}

fn insert_nonempty(entry: &mut Map<String, Value>, key: &str, values: &[&str]) {
    if !values.is_empty() {
        entry.insert(key.into(), values.into());
    }
}

/// The aggregated `APIGroupDiscoveryList` (`apidiscovery.k8s.io/v2`): for `/api` when `core`
/// (one item, the unnamed core group), for `/apis` otherwise (every other group, in
/// [`kinds::groups`] order, then `extra`). Serve it with [`AGGREGATED_DISCOVERY_CONTENT_TYPE`].
pub fn aggregated_discovery(core: bool, extra: &[ExtraGroup<'_>]) -> Value {
    let extra = extra.iter().filter(|_| !core).map(|g| {
        let versions: Vec<Value> = g
            .versions
            .iter()
            .map(|v| {
                let resources: Vec<Value> =
                    v.resources.iter().map(|r| aggregated_resource(r, true)).collect();
                json!({"version": v.name, "resources": resources, "freshness": "Current"})
            })
            .collect();
        json!({"metadata": {"name": g.name, "creationTimestamp": null}, "versions": versions})
    });
    let items: Vec<Value> = kinds::groups()
        .iter()
        .filter(|g| g.name.is_empty() == core)
        .map(|g| {
            let mut metadata = Map::new();
            if !g.name.is_empty() {
                metadata.insert("name".into(), g.name.into());
            }
            metadata.insert("creationTimestamp".into(), Value::Null);
            let versions: Vec<Value> = g
                .versions
                .iter()
                .map(|v| {
                    let resources: Vec<Value> = kinds::resources_in(g.name, v)
                        .map(|r| aggregated_resource(r, false))
                        .collect();
                    json!({"version": v, "resources": resources, "freshness": "Current"})
                })
                .collect();
            json!({"metadata": metadata, "versions": versions})
        })
        .chain(extra)
        .collect();
    json!({
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": items,
    })
}

/// One resource of aggregated discovery. A `custom` resource names its own group and version
/// in its response kinds, as the CRD discovery controller writes them.
fn aggregated_resource(r: &ResourceType, custom: bool) -> Value {
    let mut entry = Map::new();
    entry.insert("resource".into(), r.plural.into());
    let (group, version) = if custom { (r.group, r.version) } else { ("", "") };
    entry
        .insert("responseKind".into(), json!({"group": group, "version": version, "kind": r.kind}));
    let scope = match r.scope {
        Scope::Namespaced => "Namespaced",
        Scope::Cluster => "Cluster",
    };
    entry.insert("scope".into(), scope.into());
    entry.insert("singularResource".into(), r.singular.into());
    entry.insert("verbs".into(), r.verbs.into());
    insert_nonempty(&mut entry, "shortNames", r.short_names);
    insert_nonempty(&mut entry, "categories", r.categories);
    if !r.subresources.is_empty() {
        let subresources: Vec<Value> = r
            .subresources
            .iter()
            .map(|s| {
                let (group, version) =
                    if (s.kind.group, s.kind.version) == (r.group, r.version) && !custom {
                        ("", "")
                    } else {
                        (s.kind.group, s.kind.version)
                    };
                json!({
                    "subresource": s.name,
                    "responseKind": {"group": group, "version": version, "kind": s.kind.kind},
                    "verbs": s.verbs,
                })
            })
            .collect();
        entry.insert("subresources".into(), subresources.into());
    }
    Value::Object(entry)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// kubectl ≥ 1.30's discovery `Accept` (kubectl-wire.md §1).
    const KUBECTL_ACCEPT: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";

    #[test]
    fn accept_negotiation() {
        let cases = [
            (None, false),
            (Some(""), false),
            (Some(KUBECTL_ACCEPT), true),
            (Some(AGGREGATED_DISCOVERY_CONTENT_TYPE), true),
            // kubectl 1.27–1.29: v2beta1 only, then legacy.
            (
                Some(
                    "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json",
                ),
                false,
            ),
            (
                Some("application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"),
                false,
            ),
            // Legacy fetches.
            (Some("application/json, */*"), false),
            (Some("application/json"), false),
            (Some("*/*"), false),
            // Parameter order and spacing do not matter (kube-rs, browsers' clients).
            (Some("application/json;as=APIGroupDiscoveryList;v=v2;g=apidiscovery.k8s.io"), true),
            (Some("application/json; g=apidiscovery.k8s.io; v=v2; as=APIGroupDiscoveryList"), true),
            // Protobuf first (client-go with protobuf): skipped, the JSON v2 clause wins.
            (
                Some(
                    "application/vnd.kubernetes.protobuf;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json",
                ),
                true,
            ),
            // Header order decides among equal q; q decides otherwise.
            (
                Some(
                    "application/json,application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList",
                ),
                false,
            ),
            (
                Some(
                    "application/json;q=0.5,application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList",
                ),
                true,
            ),
            (
                Some("*/*,application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"),
                true,
            ),
            (
                Some("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList;q=0"),
                false,
            ),
            // Only protobuf or YAML: berth answers legacy JSON.
            (Some("application/vnd.kubernetes.protobuf"), false),
            (Some("application/yaml"), false),
        ];
        for (accept, aggregated) in cases {
            assert_eq!(wants_aggregated(accept), aggregated, "{accept:?}");
        }
    }

    #[test]
    fn aggregated_statefulsets_entry_matches_kubernetes() {
        // kubectl-wire.md §1's entry, with `responseKind` as kube-apiserver writes it for the
        // resource's own kind (group and version empty).
        let expected = json!({
            "resource": "statefulsets",
            "responseKind": {"group": "", "version": "", "kind": "StatefulSet"},
            "scope": "Namespaced",
            "singularResource": "statefulset",
            "shortNames": ["sts"],
            "categories": ["all"],
            "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
            "subresources": [
                {"subresource": "scale",
                 "responseKind": {"group": "autoscaling", "version": "v1", "kind": "Scale"},
                 "verbs": ["get", "patch", "update"]},
                {"subresource": "status",
                 "responseKind": {"group": "", "version": "", "kind": "StatefulSet"},
                 "verbs": ["get", "patch", "update"]},
            ],
        });
        let list = aggregated_discovery(false, &[]);
        assert_eq!(list["kind"], "APIGroupDiscoveryList");
        assert_eq!(list["apiVersion"], "apidiscovery.k8s.io/v2");
        assert_eq!(list["metadata"], json!({}));
        let apps = &list["items"][0];
        assert_eq!(apps["metadata"], json!({"name": "apps", "creationTimestamp": null}));
        let v1 = &apps["versions"][0];
        assert_eq!((&v1["version"], &v1["freshness"]), (&json!("v1"), &json!("Current")));
        let sts =
            v1["resources"].as_array().unwrap().iter().find(|r| r["resource"] == "statefulsets");
        assert_eq!(sts, Some(&expected));
    }

    #[test]
    fn aggregated_core_is_one_unnamed_group() {
        let list = aggregated_discovery(true, &[]);
        let items = list["items"].as_array().unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(items[0]["metadata"], json!({"creationTimestamp": null}));
        let resources = items[0]["versions"][0]["resources"].as_array().unwrap();
        let pods = resources.iter().find(|r| r["resource"] == "pods").unwrap();
        assert_eq!(pods["shortNames"], json!(["po"]));
        assert_eq!(pods["categories"], json!(["all"]));
        let eviction = pods["subresources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["subresource"] == "eviction")
            .unwrap();
        assert_eq!(
            eviction,
            &json!({
                "subresource": "eviction",
                "responseKind": {"group": "policy", "version": "v1", "kind": "Eviction"},
                "verbs": ["create"],
            })
        );
        // Resources without short names or categories leave the fields out (`omitempty`).
        let secrets = resources.iter().find(|r| r["resource"] == "secrets").unwrap();
        assert!(secrets.get("shortNames").is_none() && secrets.get("categories").is_none());
        assert!(secrets.get("subresources").is_none());
        let ns = resources.iter().find(|r| r["resource"] == "namespaces").unwrap();
        assert_eq!(ns["scope"], "Cluster");
        // `/apis` never lists the core group.
        let groups = aggregated_discovery(false, &[]);
        let names: Vec<_> = groups["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["metadata"]["name"].clone())
            .collect();
        assert_eq!(
            names,
            [
                "apps",
                "events.k8s.io",
                "authentication.k8s.io",
                "authorization.k8s.io",
                "autoscaling",
                "batch",
                "networking.k8s.io",
                "policy",
                "rbac.authorization.k8s.io",
                "storage.k8s.io",
                "apiextensions.k8s.io",
                "scheduling.k8s.io",
                "coordination.k8s.io",
                "node.k8s.io",
                "discovery.k8s.io"
            ]
        );
    }

    #[test]
    fn legacy_documents_match_kubernetes() {
        assert_eq!(
            api_versions(Some("127.0.0.1:18431")),
            json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
                {"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:18431"}]})
        );
        let apps_group = json!({
            "name": "apps",
            "versions": [{"groupVersion": "apps/v1", "version": "v1"}],
            "preferredVersion": {"groupVersion": "apps/v1", "version": "v1"},
        });
        let list = api_group_list(&[]);
        assert_eq!((&list["kind"], &list["apiVersion"]), (&json!("APIGroupList"), &json!("v1")));
        assert_eq!(list["groups"][0], apps_group);
        assert_eq!(list["groups"].as_array().unwrap().len(), kinds::groups().len() - 1);
        let mut group = apps_group.as_object().unwrap().clone();
        group.insert("kind".into(), "APIGroup".into());
        group.insert("apiVersion".into(), "v1".into());
        assert_eq!(api_group("apps", &[]), Some(Value::Object(group)));
        assert_eq!(api_group("", &[]), None);
        assert_eq!(api_group("certificates.k8s.io", &[]), None);
    }

    #[test]
    fn resource_lists_match_kubernetes() {
        let apps = api_resource_list("apps", "v1", &[]).unwrap();
        assert_eq!(apps["kind"], "APIResourceList");
        assert_eq!(apps["apiVersion"], "v1");
        assert_eq!(apps["groupVersion"], "apps/v1");
        let find = |list: &Value, name: &str| {
            list["resources"].as_array().unwrap().iter().find(|r| r["name"] == name).cloned()
        };
        assert_eq!(
            find(&apps, "statefulsets"),
            Some(json!({
                "name": "statefulsets", "singularName": "statefulset", "namespaced": true,
                "kind": "StatefulSet",
                "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
                "shortNames": ["sts"], "categories": ["all"], "storageVersionHash": "H+vl74LkKdo=",
            }))
        );
        assert_eq!(
            find(&apps, "statefulsets/scale"),
            Some(json!({
                "name": "statefulsets/scale", "singularName": "", "namespaced": true,
                "group": "autoscaling", "version": "v1", "kind": "Scale",
                "verbs": ["get", "patch", "update"],
            }))
        );
        assert_eq!(
            find(&apps, "statefulsets/status"),
            Some(json!({
                "name": "statefulsets/status", "singularName": "", "namespaced": true,
                "kind": "StatefulSet", "verbs": ["get", "patch", "update"],
            }))
        );

        // The core list has no apiVersion, and entries are sorted by full name.
        let core = api_resource_list("", "v1", &[]).unwrap();
        assert!(core.get("apiVersion").is_none());
        assert_eq!(core["groupVersion"], "v1");
        let names: Vec<&str> = core["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect();
        assert!(names.is_sorted(), "{names:?}");
        for name in ["pods", "pods/log", "pods/exec", "persistentvolumeclaims/status", "bindings"] {
            assert!(names.contains(&name), "{name}");
        }
        assert_eq!(
            find(&core, "pods/log"),
            Some(json!({
                "name": "pods/log", "singularName": "", "namespaced": true, "kind": "Pod", "verbs": ["get"],
            }))
        );
        assert_eq!(find(&core, "pods/binding").unwrap()["kind"], "Binding");
        assert!(find(&core, "pods/binding").unwrap().get("group").is_none());
        assert_eq!(find(&core, "nodes").unwrap()["namespaced"], false);

        assert_eq!(api_resource_list("apps", "v2", &[]), None);
        assert_eq!(api_resource_list("autoscaling", "v2beta2", &[]), None);
        assert_eq!(api_resource_list("", "v2", &[]), None);
    }

    #[test]
    fn aggregated_and_legacy_agree() {
        // Every legacy entry appears in aggregated discovery with the same verbs, and back.
        for group in kinds::groups() {
            for version in group.versions {
                let legacy = api_resource_list(group.name, version, &[]).unwrap();
                let list = aggregated_discovery(group.name.is_empty(), &[]);
                let item = list["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|i| i["metadata"]["name"].as_str().unwrap_or("") == group.name)
                    .unwrap();
                let version_doc =
                    item["versions"].as_array().unwrap().iter().find(|v| v["version"] == *version);
                let resources = version_doc.unwrap()["resources"].as_array().unwrap();
                let mut count = 0;
                for r in resources {
                    count += 1;
                    let entry = legacy["resources"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .find(|l| l["name"] == r["resource"])
                        .unwrap();
                    assert_eq!(entry["verbs"], r["verbs"]);
                    for s in r["subresources"].as_array().into_iter().flatten() {
                        count += 1;
                        let name = format!(
                            "{}/{}",
                            r["resource"].as_str().unwrap(),
                            s["subresource"].as_str().unwrap()
                        );
                        assert!(
                            legacy["resources"]
                                .as_array()
                                .unwrap()
                                .iter()
                                .any(|l| l["name"] == name)
                        );
                    }
                }
                assert_eq!(count, legacy["resources"].as_array().unwrap().len());
            }
        }
    }
}
