//! The registry of every resource berth serves, as Kubernetes v1.33 reports it in discovery.
//!
//! One static table: group, version, kind, plural and singular names, scope, short names,
//! categories, verbs and subresources. The values are Kubernetes' own (its `pkg/registry/*`
//! storage: `ShortNames()`, `Categories()`, the REST interfaces each storage implements, which
//! become the sorted verb lists). The apiserver routes by this table and the discovery documents
//! (`crate::discovery`) are built from it, so a resource appears in both or in neither.
//!
//! Deliberately absent: subresources berth does not serve (`pods/proxy`, `pods/ephemeralcontainers`,
//! `pods/resize`, `services/proxy`, `nodes/proxy`) and every group berth does not serve.

/// Whether objects of a resource live in a namespace or in the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Objects live in a namespace (`/namespaces/{ns}/{plural}/{name}`).
    Namespaced,
    /// Objects live in the cluster (`/{plural}/{name}`).
    Cluster,
}

/// A fully qualified kind; `group` is `""` for the core (legacy) group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GroupVersionKind {
    /// API group, `""` for core.
    pub group: &'static str,
    /// API version within the group, e.g. `v1`.
    pub version: &'static str,
    /// Kind, e.g. `Scale`.
    pub kind: &'static str,
}

/// A subresource of a resource (`pods/status`, `statefulsets/scale`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subresource {
    /// The path segment after the object name, e.g. `scale`.
    pub name: &'static str,
    /// What the subresource accepts and returns, fully qualified (`autoscaling/v1 Scale`,
    /// `v1 Pod` for `pods/status`).
    pub kind: GroupVersionKind,
    /// Verbs, sorted as Kubernetes sorts them.
    pub verbs: &'static [&'static str],
}

/// One resource of one group version, exactly as discovery reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceType {
    /// API group, `""` for core.
    pub group: &'static str,
    /// API version, e.g. `v1`.
    pub version: &'static str,
    /// Kind, e.g. `StatefulSet`.
    pub kind: &'static str,
    /// The resource (plural) name used in paths, e.g. `statefulsets`.
    pub plural: &'static str,
    /// The singular name, e.g. `statefulset`.
    pub singular: &'static str,
    /// Namespaced or cluster-scoped.
    pub scope: Scope,
    /// Short names kubectl resolves, e.g. `sts`.
    pub short_names: &'static [&'static str],
    /// Categories, e.g. `all` (what `kubectl get all` lists).
    pub categories: &'static [&'static str],
    /// Verbs, sorted as Kubernetes sorts them.
    pub verbs: &'static [&'static str],
    /// Subresources, sorted by name.
    pub subresources: &'static [Subresource],
    /// Kubernetes' `storageVersionHash`: the first 8 bytes of SHA-256 over
    /// `group/version/kind` of the storage version, base64. `events.k8s.io` events are stored
    /// as core `v1 Event`, so they share its hash; CustomResourceDefinitions are stored as
    /// `apiextensions.k8s.io/v1beta1`, so theirs is of that version.
    pub storage_version_hash: &'static str,
}

impl ResourceType {
    /// `v1` for core, `group/version` otherwise.
    pub fn api_version(&self) -> String {
        group_version(self.group, self.version)
    }

    /// Whether objects live in a namespace.
    pub fn namespaced(&self) -> bool {
        self.scope == Scope::Namespaced
    }

    /// The fully qualified kind of the objects.
    pub fn gvk(&self) -> GroupVersionKind {
        GroupVersionKind { group: self.group, version: self.version, kind: self.kind }
    }

    /// The named subresource, if the resource has it.
    pub fn subresource(&self, name: &str) -> Option<&'static Subresource> {
        self.subresources.iter().find(|s| s.name == name)
    }
}

/// One served API group and its versions, the preferred version first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiGroup {
    /// Group name, `""` for core.
    pub name: &'static str,
    /// Served versions, preferred first.
    pub versions: &'static [&'static str],
}

impl ApiGroup {
    /// The version clients should use.
    pub fn preferred_version(&self) -> &'static str {
        self.versions[0]
    }
}

/// `v1` for the core group, `group/version` otherwise.
pub fn group_version(group: &str, version: &str) -> String {
    if group.is_empty() { version.to_owned() } else { format!("{group}/{version}") }
}

/// Every resource berth serves, grouped as [`groups`] orders them, each group's resources
/// sorted by plural name.
pub fn all() -> &'static [ResourceType] {
    RESOURCES
}

/// The resources by plural and by kind (a few share each, across groups and versions):
/// [`find`] runs for every request, several times for a write, and a scan of the whole table
/// was a measurable part of one (docs/benchmarks.md, session 17).
static INDEX: std::sync::LazyLock<Index> = std::sync::LazyLock::new(|| {
    let mut index = Index::default();
    for resource in RESOURCES {
        index.by_plural.entry(resource.plural).or_default().push(resource);
        index.by_kind.entry(resource.kind).or_default().push(resource);
    }
    index
});

#[derive(Default)]
struct Index {
    by_plural: foldhash::HashMap<&'static str, Vec<&'static ResourceType>>,
    by_kind: foldhash::HashMap<&'static str, Vec<&'static ResourceType>>,
}

/// The resource `plural` of `group`/`version`.
pub fn find(group: &str, version: &str, plural: &str) -> Option<&'static ResourceType> {
    let candidates = INDEX.by_plural.get(plural)?;
    candidates.iter().copied().find(|r| r.group == group && r.version == version)
}

/// The resource serving objects of `group`/`version` `kind`.
pub fn find_kind(group: &str, version: &str, kind: &str) -> Option<&'static ResourceType> {
    let candidates = INDEX.by_kind.get(kind)?;
    candidates.iter().copied().find(|r| r.group == group && r.version == version)
}

/// Resolves a name as kubectl does for `kubectl get NAME`: plural, singular or short name,
/// case-insensitively, preferring groups in [`groups`] order (so `ev` is core `events`, not
/// `events.k8s.io` `events`, as in Kubernetes).
pub fn resolve(name: &str) -> Option<&'static ResourceType> {
    let name = name.to_ascii_lowercase();
    // Full names win over short names across groups, as in kubectl's RESTMapper.
    RESOURCES
        .iter()
        .find(|r| r.plural == name || r.singular == name)
        .or_else(|| RESOURCES.iter().find(|r| r.short_names.contains(&name.as_str())))
}

/// The resources of one group version, sorted by plural name.
pub fn resources_in(group: &str, version: &str) -> impl Iterator<Item = &'static ResourceType> {
    let (group, version) = (group.to_owned(), version.to_owned());
    RESOURCES.iter().filter(move |r| r.group == group && r.version == version)
}

/// The served API groups, core (`""`) first, then in the order Kubernetes lists them in `/apis`
/// (kube-apiserver's group priorities: apps, events.k8s.io, authentication.k8s.io, …,
/// storage.k8s.io, apiextensions.k8s.io, scheduling.k8s.io, coordination.k8s.io,
/// node.k8s.io (16300), discovery.k8s.io). apiextensions.k8s.io has group priority 16700, as admissionregistration.k8s.io
/// (not served) has: between storage.k8s.io (16800) and scheduling.k8s.io (16600).
pub fn groups() -> &'static [ApiGroup] {
    GROUPS
}

/// The served group `name`, if any (`""` is core).
pub fn group(name: &str) -> Option<&'static ApiGroup> {
    GROUPS.iter().find(|g| g.name == name)
}

const GROUPS: &[ApiGroup] = &[
    ApiGroup { name: "", versions: &["v1"] },
    ApiGroup { name: "apps", versions: &["v1"] },
    ApiGroup { name: "events.k8s.io", versions: &["v1"] },
    ApiGroup { name: "authentication.k8s.io", versions: &["v1"] },
    ApiGroup { name: "authorization.k8s.io", versions: &["v1"] },
    ApiGroup { name: "autoscaling", versions: &["v2", "v1"] },
    ApiGroup { name: "batch", versions: &["v1"] },
    ApiGroup { name: "networking.k8s.io", versions: &["v1"] },
    ApiGroup { name: "policy", versions: &["v1"] },
    ApiGroup { name: "rbac.authorization.k8s.io", versions: &["v1"] },
    ApiGroup { name: "storage.k8s.io", versions: &["v1"] },
    ApiGroup { name: "apiextensions.k8s.io", versions: &["v1"] },
    ApiGroup { name: "scheduling.k8s.io", versions: &["v1"] },
    ApiGroup { name: "coordination.k8s.io", versions: &["v1"] },
    ApiGroup { name: "node.k8s.io", versions: &["v1"] },
    ApiGroup { name: "discovery.k8s.io", versions: &["v1"] },
];

/// What a standard generic-registry storage supports.
const CRUD: &[&str] =
    &["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];
/// Namespaces: no `deletecollection` (the namespace storage does not implement it).
const CRUD_NO_COLLECTION: &[&str] =
    &["create", "delete", "get", "list", "patch", "update", "watch"];
/// A status or scale subresource.
const GET_PATCH_UPDATE: &[&str] = &["get", "patch", "update"];
/// A streaming connect subresource reachable by GET (WebSocket) and POST (SPDY).
const CONNECT: &[&str] = &["create", "get"];
const CREATE: &[&str] = &["create"];
const GET: &[&str] = &["get"];
const ALL: &[&str] = &["all"];
const NONE: &[&str] = &[];

const fn core(kind: &'static str) -> GroupVersionKind {
    GroupVersionKind { group: "", version: "v1", kind }
}

const fn apps(kind: &'static str) -> GroupVersionKind {
    GroupVersionKind { group: "apps", version: "v1", kind }
}

const fn policy(kind: &'static str) -> GroupVersionKind {
    GroupVersionKind { group: "policy", version: "v1", kind }
}

const fn batch(kind: &'static str) -> GroupVersionKind {
    GroupVersionKind { group: "batch", version: "v1", kind }
}

const fn autoscaling(version: &'static str) -> GroupVersionKind {
    GroupVersionKind { group: "autoscaling", version, kind: "HorizontalPodAutoscaler" }
}

const fn networking(kind: &'static str) -> GroupVersionKind {
    GroupVersionKind { group: "networking.k8s.io", version: "v1", kind }
}

const SCALE: Subresource = Subresource {
    name: "scale",
    kind: GroupVersionKind { group: "autoscaling", version: "v1", kind: "Scale" },
    verbs: GET_PATCH_UPDATE,
};

const fn status(kind: GroupVersionKind) -> Subresource {
    Subresource { name: "status", kind, verbs: GET_PATCH_UPDATE }
}

const RESOURCES: &[ResourceType] = &[
    // core/v1, `pkg/registry/core/*/storage`.
    ResourceType {
        group: "",
        version: "v1",
        kind: "Binding",
        plural: "bindings",
        singular: "binding",
        scope: Scope::Namespaced,
        short_names: NONE,
        categories: NONE,
        verbs: CREATE,
        subresources: &[],
        storage_version_hash: "",
    },
    ResourceType {
        group: "",
        version: "v1",
        kind: "ConfigMap",
        plural: "configmaps",
        singular: "configmap",
        scope: Scope::Namespaced,
        short_names: &["cm"],
        categories: NONE,
        verbs: CRUD,
        subresources: &[],
        storage_version_hash: "qFsyl6wFWjQ=",
    },
    ResourceType {
        group: "",
        version: "v1",
        kind: "Endpoints",
        plural: "endpoints",
        singular: "endpoints",
        scope: Scope::Namespaced,
        short_names: &["ep"],
        categories: NONE,
        verbs: CRUD,
        subresources: &[],
        storage_version_hash: "fWeeMqaN/OA=",
    },
    ResourceType {
        group: "",
        version: "v1",
        kind: "Event",
        plural: "events",
        singular: "event",
        scope: Scope::Namespaced,
        short_names: &["ev"],
        categories: NONE,
        verbs: CRUD,
        subresources: &[],
        storage_version_hash: "r2yiGXH7wu8=",
    },
    // `pkg/registry/core/limitrange/storage`: the LimitRanger admission plugin reads them.
    ResourceType {
        group: "",
        version: "v1",
        kind: "LimitRange",
        plural: "limitranges",
        singular: "limitrange",
        scope: Scope::Namespaced,
        short_names: &["limits"],
        categories: NONE,
        verbs: CRUD,
        subresources: &[],
        storage_version_hash: "EBKMFVe6cwo=",
    },
    ResourceType {
        group: "",
        version: "v1",
        kind: "Namespace",
        plural: "namespaces",
        singular: "namespace",
        scope: Scope::Cluster,
        short_names: &["ns"],
        categories: NONE,
        verbs: CRUD_NO_COLLECTION,
        subresources: &[
            Subresource { name: "finalize", kind: core("Namespace"), verbs: &["update"] },
            status(core("Namespace")),
        ],
        storage_version_hash: "Q3oi5N2YM8M=",
    },
    ResourceType {
        group: "",
        version: "v1",
        kind: "Node",
        plural: "nodes",
        singular: "node",
        scope: Scope::Cluster,
        short_names: &["no"],
        categories: NONE,
        verbs: CRUD,
        subresources: &[status(core("Node"))],
        storage_version_hash: "XwShjMxG9Fs=",
    },
    ResourceType {
        group: "",
        version: "v1",
        kind: "PersistentVolumeClaim",
        plural: "persistentvolumeclaims",
        singular: "persistentvolumeclaim",
        scope: Scope::Namespaced,
        short_names: &["pvc"],
        categories: NONE,
        verbs: CRUD,
        subresources: &[status(core("PersistentVolumeClaim"))],
        storage_version_hash: "QWTyNDq0dC4=",
    },
    ResourceType {
        group: "",
        version: "v1",
        kind: "PersistentVolume",
        plural: "persistentvolumes",
        singular: "persistentvolume",
        scope: Scope::Cluster,
        short_names: &["pv"],
        categories: NONE,
        verbs: CRUD,
        subresources: &[status(core("PersistentVolume"))],
        storage_version_hash: "HN/zwEC+JgM=",
    },
    ResourceType {
        group: "",
        version: "v1",
        kind: "Pod",
        plural: "pods",
        singular: "pod",
        scope: Scope::Namespaced,
        short_names: &["po"],
        categories: ALL,
        verbs: CRUD,
        subresources: &[
            Subresource { name: "attach", kind: core("PodAttachOptions"), verbs: CONNECT },
            Subresource { name: "binding", kind: core("Binding"), verbs: CREATE },
            Subresource {
                name: "eviction",
                kind: GroupVersionKind { group: "policy", version: "v1", kind: "Eviction" },
                verbs: CREATE,
            },
            Subresource { name: "exec", kind: core("PodExecOptions"), verbs: CONNECT },
            Subresource { name: "log", kind: core("Pod"), verbs: GET },
            Subresource {
                name: "portforward",
                kind: core("PodPortForwardOptions"),
                verbs: CONNECT,
            },
            status(core("Pod")),
        ],
        storage_version_hash: "xPOwRZ+Yhw8=",
    },
    // `pkg/registry/core/resourcequota`: the ResourceQuota admission plugin charges them and
    // the resource quota controller recalculates their status.
    // `pkg/registry/core/podtemplate/storage`.
    ResourceType {
        group: "",
        version: "v1",
        kind: "PodTemplate",
        plural: "podtemplates",
        singular: "podtemplate",
        scope: Scope::Namespaced,
        short_names: NONE,
        categories: NONE,
        verbs: CRUD,
        subresources: &[],
        storage_version_hash: "LIXB2x4IFpk=",
    },
    ResourceType {
        group: "",
        version: "v1",
        kind: "ResourceQuota",
        plural: "resourcequotas",
        singular: "resourcequota",
        scope: Scope::Namespaced,
        short_names: &["quota"],
        categories: NONE,
        verbs: CRUD,
        subresources: &[status(core("ResourceQuota"))],
        storage_version_hash: "8uhSgffRX6w=",
    },
    ResourceType {
        group: "",
        version: "v1",
        kind: "Secret",
        plural: "secrets",
        singular: "secret",
        scope: Scope::Namespaced,
        short_names: NONE,
        categories: NONE,
        verbs: CRUD,
        subresources: &[],
        storage_version_hash: "S6u1pOWzb84=",
    },
    ResourceType {
        group: "",
        version: "v1",
        kind: "ServiceAccount",
        plural: "serviceaccounts",
        singular: "serviceaccount",
        scope: Scope::Namespaced,
        short_names: &["sa"],
        categories: NONE,
        verbs: CRUD,
        subresources: &[Subresource {
            name: "token",
            kind: GroupVersionKind {
                group: "authentication.k8s.io",
                version: "v1",
                kind: "TokenRequest",
            },
            verbs: CREATE,
        }],
        storage_version_hash: "pbx9ZvyFpBE=",
    },
    ResourceType {
        group: "",
        version: "v1",
        kind: "Service",
        plural: "services",
        singular: "service",
        scope: Scope::Namespaced,
        short_names: &["svc"],
        categories: ALL,
        verbs: CRUD,
        subresources: &[status(core("Service"))],
        storage_version_hash: "0/CO1lhkEBI=",
    },
    // apps/v1, `pkg/registry/apps/*/storage`.
    ResourceType {
        group: "apps",
        version: "v1",
        kind: "ControllerRevision",
        plural: "controllerrevisions",
        singular: "controllerrevision",
        scope: Scope::Namespaced,
        short_names: NONE,
        categories: NONE,
        verbs: CRUD,
        subresources: &[],
        storage_version_hash: "85nkx63pcBU=",
    },
    ResourceType {
        group: "apps",
        version: "v1",
        kind: "DaemonSet",
        plural: "daemonsets",
        singular: "daemonset",
        scope: Scope::Namespaced,
        short_names: &["ds"],
        categories: ALL,
        verbs: CRUD,
        subresources: &[status(apps("DaemonSet"))],
        storage_version_hash: "dd7pWHUlMKQ=",
    },
    ResourceType {
        group: "apps",
        version: "v1",
        kind: "Deployment",
        plural: "deployments",
        singular: "deployment",
        scope: Scope::Namespaced,
        short_names: &["deploy"],
        categories: ALL,
        verbs: CRUD,
        subresources: &[SCALE, status(apps("Deployment"))],
        storage_version_hash: "8aSe+NMegvE=",
    },
    ResourceType {
        group: "apps",
        version: "v1",
        kind: "ReplicaSet",
        plural: "replicasets",
        singular: "replicaset",
        scope: Scope::Namespaced,
        short_names: &["rs"],
        categories: ALL,
        verbs: CRUD,
        subresources: &[SCALE, status(apps("ReplicaSet"))],
        storage_version_hash: "P1RzHs8/mWQ=",
    },
    ResourceType {
        group: "apps",
        version: "v1",
        kind: "StatefulSet",
        plural: "statefulsets",
        singular: "statefulset",
        scope: Scope::Namespaced,
        short_names: &["sts"],
        categories: ALL,
        verbs: CRUD,
        subresources: &[SCALE, status(apps("StatefulSet"))],
        storage_version_hash: "H+vl74LkKdo=",
    },
    // events.k8s.io/v1, `pkg/registry/events/rest`: the same storage as core events.
    ResourceType {
        group: "events.k8s.io",
        version: "v1",
        kind: "Event",
        plural: "events",
        singular: "event",
        scope: Scope::Namespaced,
        short_names: &["ev"],
        categories: NONE,
        verbs: CRUD,
        subresources: &[],
        storage_version_hash: "r2yiGXH7wu8=",
    },
    // authentication.k8s.io/v1, `pkg/registry/authentication`: create-only reviews, never
    // stored.
    ResourceType {
        group: "authentication.k8s.io",
        version: "v1",
        kind: "SelfSubjectReview",
        plural: "selfsubjectreviews",
        singular: "selfsubjectreview",
        scope: Scope::Cluster,
        short_names: NONE,
        categories: NONE,
        verbs: CREATE,
        subresources: &[],
        storage_version_hash: "",
    },
    ResourceType {
        group: "authentication.k8s.io",
        version: "v1",
        kind: "TokenReview",
        plural: "tokenreviews",
        singular: "tokenreview",
        scope: Scope::Cluster,
        short_names: NONE,
        categories: NONE,
        verbs: CREATE,
        subresources: &[],
        storage_version_hash: "",
    },
    // authorization.k8s.io/v1, `pkg/registry/authorization`: create-only reviews, never stored.
    ResourceType {
        group: "authorization.k8s.io",
        version: "v1",
        kind: "LocalSubjectAccessReview",
        plural: "localsubjectaccessreviews",
        singular: "localsubjectaccessreview",
        scope: Scope::Namespaced,
        short_names: NONE,
        categories: NONE,
        verbs: CREATE,
        subresources: &[],
        storage_version_hash: "",
    },
    ResourceType {
        group: "authorization.k8s.io",
        version: "v1",
        kind: "SelfSubjectAccessReview",
        plural: "selfsubjectaccessreviews",
        singular: "selfsubjectaccessreview",
        scope: Scope::Cluster,
        short_names: NONE,
        categories: NONE,
        verbs: CREATE,
        subresources: &[],
        storage_version_hash: "",
    },
    ResourceType {
        group: "authorization.k8s.io",
        version: "v1",
        kind: "SelfSubjectRulesReview",
        plural: "selfsubjectrulesreviews",
        singular: "selfsubjectrulesreview",
        scope: Scope::Cluster,
        short_names: NONE,
        categories: NONE,
        verbs: CREATE,
        subresources: &[],
        storage_version_hash: "",
    },
    ResourceType {
        group: "authorization.k8s.io",
        version: "v1",
        kind: "SubjectAccessReview",
        plural: "subjectaccessreviews",
        singular: "subjectaccessreview",
        scope: Scope::Cluster,
        short_names: NONE,
        categories: NONE,
        verbs: CREATE,
        subresources: &[],
        storage_version_hash: "",
    },
    // autoscaling/v2 and autoscaling/v1, `pkg/registry/autoscaling/horizontalpodautoscaler`:
    // one storage in the v2 form, v1 converted on the way in and out (berth_api::autoscaling).
    ResourceType {
        group: "autoscaling",
        version: "v2",
        kind: "HorizontalPodAutoscaler",
        plural: "horizontalpodautoscalers",
        singular: "horizontalpodautoscaler",
        scope: Scope::Namespaced,
        short_names: &["hpa"],
        categories: ALL,
        verbs: CRUD,
        subresources: &[status(autoscaling("v2"))],
        storage_version_hash: "qwQve8ut294=",
    },
    ResourceType {
        group: "autoscaling",
        version: "v1",
        kind: "HorizontalPodAutoscaler",
        plural: "horizontalpodautoscalers",
        singular: "horizontalpodautoscaler",
        scope: Scope::Namespaced,
        short_names: &["hpa"],
        categories: ALL,
        verbs: CRUD,
        subresources: &[status(autoscaling("v1"))],
        storage_version_hash: "qwQve8ut294=",
    },
    // batch/v1, `pkg/registry/batch/cronjob` and `…/job`.
    ResourceType {
        group: "batch",
        version: "v1",
        kind: "CronJob",
        plural: "cronjobs",
        singular: "cronjob",
        scope: Scope::Namespaced,
        short_names: &["cj"],
        categories: &["all"],
        verbs: CRUD,
        subresources: &[status(batch("CronJob"))],
        storage_version_hash: "sd5LIXh4Fjs=",
    },
    ResourceType {
        group: "batch",
        version: "v1",
        kind: "Job",
        plural: "jobs",
        singular: "job",
        scope: Scope::Namespaced,
        short_names: NONE,
        categories: &["all"],
        verbs: CRUD,
        subresources: &[status(batch("Job"))],
        storage_version_hash: "mudhfqk/qZY=",
    },
    // networking.k8s.io/v1, `pkg/registry/networking/ingressclass` and `…/ingress`: stored and
    // served; as in a cluster without an ingress controller, nothing routes them.
    ResourceType {
        group: "networking.k8s.io",
        version: "v1",
        kind: "IngressClass",
        plural: "ingressclasses",
        singular: "ingressclass",
        scope: Scope::Cluster,
        short_names: NONE,
        categories: NONE,
        verbs: CRUD,
        subresources: &[],
        storage_version_hash: "l/iqIbDgFyQ=",
    },
    ResourceType {
        group: "networking.k8s.io",
        version: "v1",
        kind: "Ingress",
        plural: "ingresses",
        singular: "ingress",
        scope: Scope::Namespaced,
        short_names: &["ing"],
        categories: NONE,
        verbs: CRUD,
        subresources: &[status(networking("Ingress"))],
        storage_version_hash: "39NQlfNR+bo=",
    },
    // networking.k8s.io/v1, `pkg/registry/networking/ipaddress`: the allocation records of
    // Service cluster IPs, written by the apiserver's allocator (`ipallocator.k8s.io`).
    ResourceType {
        group: "networking.k8s.io",
        version: "v1",
        kind: "IPAddress",
        plural: "ipaddresses",
        singular: "ipaddress",
        scope: Scope::Cluster,
        short_names: &["ip"],
        categories: NONE,
        verbs: CRUD,
        subresources: &[],
        storage_version_hash: "3f/plJFChNE=",
    },
    // networking.k8s.io/v1, `pkg/registry/networking/networkpolicy`: stored and served; as in a
    // cluster whose network plugin does not enforce them, nothing acts on them.
    ResourceType {
        group: "networking.k8s.io",
        version: "v1",
        kind: "NetworkPolicy",
        plural: "networkpolicies",
        singular: "networkpolicy",
        scope: Scope::Namespaced,
        short_names: &["netpol"],
        categories: NONE,
        verbs: CRUD,
        subresources: &[],
        storage_version_hash: "YpfwF18m1G8=",
    },
    // networking.k8s.io/v1, `pkg/registry/networking/servicecidr`: the ranges Service cluster
    // IPs come from; `kubernetes` is the --service-cidr one.
    ResourceType {
        group: "networking.k8s.io",
        version: "v1",
        kind: "ServiceCIDR",
        plural: "servicecidrs",
        singular: "servicecidr",
        scope: Scope::Cluster,
        short_names: NONE,
        categories: NONE,
        verbs: CRUD,
        subresources: &[status(networking("ServiceCIDR"))],
        storage_version_hash: "gNLvruQhW2g=",
    },
    // policy/v1, `pkg/registry/policy/poddisruptionbudget`.
    ResourceType {
        group: "policy",
        version: "v1",
        kind: "PodDisruptionBudget",
        plural: "poddisruptionbudgets",
        singular: "poddisruptionbudget",
        scope: Scope::Namespaced,
        short_names: &["pdb"],
        categories: NONE,
        verbs: CRUD,
        subresources: &[status(policy("PodDisruptionBudget"))],
        storage_version_hash: "EVWiDmWqyJw=",
    },
    // rbac.authorization.k8s.io/v1, `pkg/registry/rbac/*`.
    ResourceType {
        group: "rbac.authorization.k8s.io",
        version: "v1",
        kind: "ClusterRoleBinding",
        plural: "clusterrolebindings",
        singular: "clusterrolebinding",
        scope: Scope::Cluster,
        short_names: NONE,
        categories: NONE,
        verbs: CRUD,
        subresources: &[],
        storage_version_hash: "48tpQ8gZHFc=",
    },
    ResourceType {
        group: "rbac.authorization.k8s.io",
        version: "v1",
        kind: "ClusterRole",
        plural: "clusterroles",
        singular: "clusterrole",
        scope: Scope::Cluster,
        short_names: NONE,
        categories: NONE,
        verbs: CRUD,
        subresources: &[],
        storage_version_hash: "bYE5ZWDrJ44=",
    },
    ResourceType {
        group: "rbac.authorization.k8s.io",
        version: "v1",
        kind: "RoleBinding",
        plural: "rolebindings",
        singular: "rolebinding",
        scope: Scope::Namespaced,
        short_names: NONE,
        categories: NONE,
        verbs: CRUD,
        subresources: &[],
        storage_version_hash: "eGsCzGH6b1g=",
    },
    ResourceType {
        group: "rbac.authorization.k8s.io",
        version: "v1",
        kind: "Role",
        plural: "roles",
        singular: "role",
        scope: Scope::Namespaced,
        short_names: NONE,
        categories: NONE,
        verbs: CRUD,
        subresources: &[],
        storage_version_hash: "7FuwZcIIItM=",
    },
    // storage.k8s.io/v1, `pkg/registry/storage/*/storage`: no short names or categories in v1.33.
    ResourceType {
        group: "storage.k8s.io",
        version: "v1",
        kind: "CSIDriver",
        plural: "csidrivers",
        singular: "csidriver",
        scope: Scope::Cluster,
        short_names: NONE,
        categories: NONE,
        verbs: CRUD,
        subresources: &[],
        storage_version_hash: "hL6j/rwBV5w=",
    },
    ResourceType {
        group: "storage.k8s.io",
        version: "v1",
        kind: "CSINode",
        plural: "csinodes",
        singular: "csinode",
        scope: Scope::Cluster,
        short_names: NONE,
        categories: NONE,
        verbs: CRUD,
        subresources: &[],
        storage_version_hash: "Pe62DkZtjuo=",
    },
    ResourceType {
        group: "storage.k8s.io",
        version: "v1",
        kind: "CSIStorageCapacity",
        plural: "csistoragecapacities",
        singular: "csistoragecapacity",
        scope: Scope::Namespaced,
        short_names: NONE,
        categories: NONE,
        verbs: CRUD,
        subresources: &[],
        storage_version_hash: "xeVl+2Ly1kE=",
    },
    ResourceType {
        group: "storage.k8s.io",
        version: "v1",
        kind: "StorageClass",
        plural: "storageclasses",
        singular: "storageclass",
        scope: Scope::Cluster,
        short_names: &["sc"],
        categories: NONE,
        verbs: CRUD,
        subresources: &[],
        storage_version_hash: "K+m6uJwbjGY=",
    },
    // `volumeattachments/status`: the external attacher reports through it.
    ResourceType {
        group: "storage.k8s.io",
        version: "v1",
        kind: "VolumeAttachment",
        plural: "volumeattachments",
        singular: "volumeattachment",
        scope: Scope::Cluster,
        short_names: NONE,
        categories: NONE,
        verbs: CRUD,
        subresources: &[status(GroupVersionKind {
            group: "storage.k8s.io",
            version: "v1",
            kind: "VolumeAttachment",
        })],
        storage_version_hash: "tJx/ezt6UDU=",
    },
    // apiextensions.k8s.io/v1, `apiextensions-apiserver/pkg/registry/customresourcedefinition`.
    // CRDs are stored as apiextensions.k8s.io/v1beta1 (the apiextensions server's storage
    // codec), so the hash is of `apiextensions.k8s.io/v1beta1/CustomResourceDefinition`.
    ResourceType {
        group: "apiextensions.k8s.io",
        version: "v1",
        kind: "CustomResourceDefinition",
        plural: "customresourcedefinitions",
        singular: "customresourcedefinition",
        scope: Scope::Cluster,
        short_names: &["crd", "crds"],
        categories: &["api-extensions"],
        verbs: CRUD,
        subresources: &[status(GroupVersionKind {
            group: "apiextensions.k8s.io",
            version: "v1",
            kind: "CustomResourceDefinition",
        })],
        storage_version_hash: "jfWCUB31mvA=",
    },
    // scheduling.k8s.io/v1, `pkg/registry/scheduling/priorityclass`.
    ResourceType {
        group: "scheduling.k8s.io",
        version: "v1",
        kind: "PriorityClass",
        plural: "priorityclasses",
        singular: "priorityclass",
        scope: Scope::Cluster,
        short_names: &["pc"],
        categories: NONE,
        verbs: CRUD,
        subresources: &[],
        storage_version_hash: "1QwjyaZjj3Y=",
    },
    // coordination.k8s.io/v1.
    ResourceType {
        group: "coordination.k8s.io",
        version: "v1",
        kind: "Lease",
        plural: "leases",
        singular: "lease",
        scope: Scope::Namespaced,
        short_names: NONE,
        categories: NONE,
        verbs: CRUD,
        subresources: &[],
        storage_version_hash: "gqkMMb/YqFM=",
    },
    // node.k8s.io/v1, `pkg/registry/node/runtimeclass/storage`.
    ResourceType {
        group: "node.k8s.io",
        version: "v1",
        kind: "RuntimeClass",
        plural: "runtimeclasses",
        singular: "runtimeclass",
        scope: Scope::Cluster,
        short_names: NONE,
        categories: NONE,
        verbs: CRUD,
        subresources: &[],
        storage_version_hash: "WQTu1GL3T2Q=",
    },
    // discovery.k8s.io/v1.
    ResourceType {
        group: "discovery.k8s.io",
        version: "v1",
        kind: "EndpointSlice",
        plural: "endpointslices",
        singular: "endpointslice",
        scope: Scope::Namespaced,
        short_names: NONE,
        categories: NONE,
        verbs: CRUD,
        subresources: &[],
        storage_version_hash: "qgS0xkrxYAI=",
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_resolve_like_kubectl() {
        let cases = [
            ("po", "", "pods"),
            ("pod", "", "pods"),
            ("pods", "", "pods"),
            ("PODS", "", "pods"),
            ("svc", "", "services"),
            ("ep", "", "endpoints"),
            ("endpoints", "", "endpoints"),
            ("pvc", "", "persistentvolumeclaims"),
            ("pv", "", "persistentvolumes"),
            ("cm", "", "configmaps"),
            ("sa", "", "serviceaccounts"),
            ("ev", "", "events"),
            ("event", "", "events"),
            ("no", "", "nodes"),
            ("ns", "", "namespaces"),
            ("limits", "", "limitranges"),
            ("quota", "", "resourcequotas"),
            ("limitrange", "", "limitranges"),
            ("secret", "", "secrets"),
            ("sts", "apps", "statefulsets"),
            ("statefulset", "apps", "statefulsets"),
            ("deploy", "apps", "deployments"),
            ("rs", "apps", "replicasets"),
            ("ds", "apps", "daemonsets"),
            ("controllerrevision", "apps", "controllerrevisions"),
            ("sc", "storage.k8s.io", "storageclasses"),
            ("pc", "scheduling.k8s.io", "priorityclasses"),
            ("crd", "apiextensions.k8s.io", "customresourcedefinitions"),
            ("crds", "apiextensions.k8s.io", "customresourcedefinitions"),
            ("netpol", "networking.k8s.io", "networkpolicies"),
            ("ing", "networking.k8s.io", "ingresses"),
            ("job", "batch", "jobs"),
            ("cj", "batch", "cronjobs"),
            ("ingressclass", "networking.k8s.io", "ingressclasses"),
            ("ip", "networking.k8s.io", "ipaddresses"),
            ("servicecidr", "networking.k8s.io", "servicecidrs"),
            ("lease", "coordination.k8s.io", "leases"),
            ("endpointslices", "discovery.k8s.io", "endpointslices"),
            ("podtemplate", "", "podtemplates"),
            ("runtimeclass", "node.k8s.io", "runtimeclasses"),
            ("csidriver", "storage.k8s.io", "csidrivers"),
            ("csinodes", "storage.k8s.io", "csinodes"),
            ("volumeattachment", "storage.k8s.io", "volumeattachments"),
            ("csistoragecapacity", "storage.k8s.io", "csistoragecapacities"),
            ("clusterrole", "rbac.authorization.k8s.io", "clusterroles"),
            ("rolebindings", "rbac.authorization.k8s.io", "rolebindings"),
        ];
        for (name, group, plural) in cases {
            let found = resolve(name).unwrap_or_else(|| panic!("{name} does not resolve"));
            assert_eq!((found.group, found.plural), (group, plural), "{name}");
        }
        assert_eq!(resolve("foo"), None);
    }

    #[test]
    fn scopes_match_kubernetes() {
        let cluster = [
            "clusterrolebindings",
            "clusterroles",
            "csidrivers",
            "csinodes",
            "customresourcedefinitions",
            "ingressclasses",
            "ipaddresses",
            "namespaces",
            "nodes",
            "persistentvolumes",
            "priorityclasses",
            "runtimeclasses",
            "selfsubjectaccessreviews",
            "selfsubjectreviews",
            "selfsubjectrulesreviews",
            "servicecidrs",
            "storageclasses",
            "subjectaccessreviews",
            "tokenreviews",
            "volumeattachments",
        ];
        for r in all() {
            let expected =
                if cluster.contains(&r.plural) { Scope::Cluster } else { Scope::Namespaced };
            assert_eq!(r.scope, expected, "{}", r.plural);
        }
    }

    #[test]
    fn short_names_are_unique_except_events() {
        let mut seen = std::collections::HashMap::new();
        for r in all() {
            for short in r.short_names {
                if let Some(other) = seen.insert(*short, r) {
                    // Kubernetes itself gives `ev` to both event APIs, and a resource served
                    // in two versions has its short name in both.
                    let two_versions = (other.group, other.plural) == (r.group, r.plural);
                    assert!(
                        two_versions
                            || (*short, other.plural, r.plural) == ("ev", "events", "events"),
                        "{short}"
                    );
                }
            }
        }
    }

    #[test]
    fn every_resource_is_in_a_served_group_and_unique() {
        for r in all() {
            let group = group(r.group).unwrap_or_else(|| panic!("{}: group", r.plural));
            assert!(group.versions.contains(&r.version), "{}", r.plural);
            let same = all()
                .iter()
                .filter(|o| (o.group, o.version, o.plural) == (r.group, r.version, r.plural));
            assert_eq!(same.count(), 1, "{} listed twice", r.plural);
            assert_eq!(find(r.group, r.version, r.plural), Some(r));
            assert_eq!(find_kind(r.group, r.version, r.kind), Some(r));
        }
        // Every group serves something.
        for g in groups() {
            assert!(resources_in(g.name, g.preferred_version()).next().is_some(), "{}", g.name);
        }
    }

    #[test]
    fn table_is_ordered_by_group_then_plural() {
        let rank = |r: &ResourceType| groups().iter().position(|g| g.name == r.group).unwrap();
        // A resource served in two versions is listed preferred version first.
        let version =
            |r: &ResourceType| groups()[rank(r)].versions.iter().position(|v| *v == r.version);
        for pair in all().windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            assert!(
                (rank(a), a.plural, version(a)) < (rank(b), b.plural, version(b)),
                "{} before {}",
                a.plural,
                b.plural
            );
        }
        assert_eq!(groups()[0].name, "", "core first");
    }

    #[test]
    fn verbs_and_subresources_are_sorted_and_well_formed() {
        for r in all() {
            assert!(r.verbs.is_sorted(), "{} verbs", r.plural);
            assert!(r.subresources.windows(2).all(|w| w[0].name < w[1].name), "{}", r.plural);
            assert!(!r.singular.is_empty() && r.singular == r.kind.to_ascii_lowercase());
            // Every subresource's parent exists, by construction; its name is a path segment.
            for s in r.subresources {
                assert!(!s.name.is_empty() && !s.name.contains('/'), "{}/{}", r.plural, s.name);
                assert!(!s.verbs.is_empty() && s.verbs.is_sorted(), "{}/{}", r.plural, s.name);
                assert!(r.subresource(s.name).is_some());
            }
        }
    }

    #[test]
    fn subresource_kinds_match_kubernetes() {
        let scale = ("autoscaling", "v1", "Scale", &["get", "patch", "update"][..]);
        let cases = [
            ("", "pods", "status", ("", "v1", "Pod", &["get", "patch", "update"][..])),
            ("", "pods", "binding", ("", "v1", "Binding", &["create"][..])),
            ("", "pods", "eviction", ("policy", "v1", "Eviction", &["create"][..])),
            ("", "pods", "log", ("", "v1", "Pod", &["get"][..])),
            ("", "pods", "exec", ("", "v1", "PodExecOptions", &["create", "get"][..])),
            ("", "pods", "attach", ("", "v1", "PodAttachOptions", &["create", "get"][..])),
            ("", "pods", "portforward", ("", "v1", "PodPortForwardOptions", &["create", "get"])),
            ("", "namespaces", "finalize", ("", "v1", "Namespace", &["update"][..])),
            (
                "",
                "serviceaccounts",
                "token",
                ("authentication.k8s.io", "v1", "TokenRequest", &["create"]),
            ),
            ("apps", "statefulsets", "scale", scale),
            ("apps", "deployments", "scale", scale),
            ("apps", "replicasets", "scale", scale),
            (
                "autoscaling",
                "horizontalpodautoscalers",
                "status",
                ("autoscaling", "v1", "HorizontalPodAutoscaler", &["get", "patch", "update"]),
            ),
            (
                "apps",
                "daemonsets",
                "status",
                ("apps", "v1", "DaemonSet", &["get", "patch", "update"]),
            ),
            (
                "apiextensions.k8s.io",
                "customresourcedefinitions",
                "status",
                (
                    "apiextensions.k8s.io",
                    "v1",
                    "CustomResourceDefinition",
                    &["get", "patch", "update"],
                ),
            ),
        ];
        for (group, plural, name, (g, v, k, verbs)) in cases {
            let s = find(group, "v1", plural).and_then(|r| r.subresource(name)).unwrap();
            assert_eq!((s.kind.group, s.kind.version, s.kind.kind, s.verbs), (g, v, k, verbs));
        }
        // Namespaces cannot be deleted as a collection; everything else listable can.
        assert!(!find("", "v1", "namespaces").unwrap().verbs.contains(&"deletecollection"));
        assert_eq!(find("", "v1", "services").unwrap().verbs, CRUD);
    }

    #[test]
    fn storage_version_hashes_are_of_the_storage_version() {
        // `discovery.StorageVersionHash`: base64 of the first 8 bytes of SHA-256 over
        // `group/version/kind`; CRDs are stored as v1beta1 (upstream discovery shows this).
        let crds = find("apiextensions.k8s.io", "v1", "customresourcedefinitions").unwrap();
        assert_eq!(crds.storage_version_hash, "jfWCUB31mvA=");
        assert_eq!(crds.categories, ["api-extensions"]);
        assert_eq!(crds.short_names, ["crd", "crds"]);
        for (group, plural, hash) in [
            ("", "podtemplates", "LIXB2x4IFpk="),
            ("node.k8s.io", "runtimeclasses", "WQTu1GL3T2Q="),
            ("storage.k8s.io", "csidrivers", "hL6j/rwBV5w="),
            ("storage.k8s.io", "csinodes", "Pe62DkZtjuo="),
            ("storage.k8s.io", "volumeattachments", "tJx/ezt6UDU="),
            ("storage.k8s.io", "csistoragecapacities", "xeVl+2Ly1kE="),
        ] {
            assert_eq!(find(group, "v1", plural).unwrap().storage_version_hash, hash, "{plural}");
        }
    }

    #[test]
    fn categories_all_is_kubernetes_set() {
        let mut in_all: Vec<_> =
            all().iter().filter(|r| r.categories.contains(&"all")).map(|r| r.plural).collect();
        in_all.sort_unstable();
        assert_eq!(
            in_all,
            [
                "cronjobs",
                "daemonsets",
                "deployments",
                "horizontalpodautoscalers",
                "horizontalpodautoscalers",
                "jobs",
                "pods",
                "replicasets",
                "services",
                "statefulsets"
            ]
        );
    }
}
