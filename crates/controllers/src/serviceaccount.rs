//! The service account controller and the root CA publisher (kube-controller-manager's
//! `serviceaccount-controller` and `root-ca-cert-publisher`, v1.33: pkg/controller/
//! serviceaccount/serviceaccounts_controller.go and pkg/controller/certificates/rootcacertpublisher).
//!
//! Every active namespace gets the `default` ServiceAccount (created when missing, never
//! modified) and the `kube-root-ca.crt` ConfigMap holding the cluster CA under `ca.crt` with
//! the description annotation (created when missing, rewritten when its data or annotation
//! differ). Namespaces that are terminating are left alone. Three watches (namespaces, the
//! `default` ServiceAccounts, the `kube-root-ca.crt` ConfigMaps) feed one level-triggered loop.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, ServiceAccount};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use tokio::time::Instant;

use crate::Context;

/// The ServiceAccount every namespace gets.
pub(crate) const DEFAULT_SERVICE_ACCOUNT: &str = "default";
/// The ConfigMap carrying the cluster CA.
pub(crate) const ROOT_CA_CONFIG_MAP: &str = "kube-root-ca.crt";
/// The annotation the publisher sets on it, and its value (Kubernetes' own words).
pub(crate) const DESCRIPTION_ANNOTATION: &str = "kubernetes.io/description";
pub(crate) const DESCRIPTION: &str = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.";

/// What one namespace needs.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Change {
    CreateServiceAccount,
    CreateConfigMap(ConfigMap),
    /// The existing ConfigMap with its data and annotation restored.
    UpdateConfigMap(ConfigMap),
}

/// What the controller observed of one namespace.
#[derive(Debug, Default, Clone)]
struct Observed {
    /// Exists and is `Active` (not terminating).
    active: bool,
    has_service_account: bool,
    config_map: Option<ConfigMap>,
}

/// The changes one namespace needs: pure, from what was observed.
pub(crate) fn plan(
    namespace: &str,
    active: bool,
    has_service_account: bool,
    config_map: Option<&ConfigMap>,
    ca_pem: &str,
) -> Vec<Change> {
    if !active {
        return Vec::new();
    }
    let mut changes = Vec::new();
    if !has_service_account {
        changes.push(Change::CreateServiceAccount);
    }
    let data = BTreeMap::from([("ca.crt".to_owned(), ca_pem.to_owned())]);
    match config_map {
        None => changes.push(Change::CreateConfigMap(ConfigMap {
            metadata: ObjectMeta {
                name: Some(ROOT_CA_CONFIG_MAP.to_owned()),
                namespace: Some(namespace.to_owned()),
                annotations: Some(BTreeMap::from([(
                    DESCRIPTION_ANNOTATION.to_owned(),
                    DESCRIPTION.to_owned(),
                )])),
                ..ObjectMeta::default()
            },
            data: Some(data),
            ..ConfigMap::default()
        })),
        Some(existing) => {
            // The publisher's check: the data and a non-empty description annotation.
            let described = existing
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(DESCRIPTION_ANNOTATION))
                .is_some_and(|d| !d.is_empty());
            if existing.data.as_ref() != Some(&data) || !described {
                let mut updated = existing.clone();
                updated.data = Some(data);
                updated
                    .metadata
                    .annotations
                    .get_or_insert_with(BTreeMap::new)
                    .insert(DESCRIPTION_ANNOTATION.to_owned(), DESCRIPTION.to_owned());
                changes.push(Change::UpdateConfigMap(updated));
            }
        }
    }
    changes
}

/// A namespace is active when it exists, is not being deleted and its phase is `Active`.
fn is_active(namespace: &Namespace) -> bool {
    let phase = namespace.status.as_ref().and_then(|s| s.phase.as_deref());
    namespace.metadata.deletion_timestamp.is_none() && matches!(phase, None | Some("Active"))
}

/// One event from any of the three watches.
#[derive(Debug)]
enum Seen {
    Namespace(Namespace, bool),
    ServiceAccount(ServiceAccount, bool),
    ConfigMap(ConfigMap, bool),
    /// A watch (re)listed: objects it no longer shows are gone.
    Relisted(Kind, HashSet<String>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Namespace,
    ServiceAccount,
    ConfigMap,
}

/// Runs the controller until the task is aborted.
pub(crate) async fn run(cx: Context) {
    // Watched as kube-controller-manager's shared informers watch; the ConfigMaps written as
    // the root CA publisher, the accounts as the service-account controller.
    let informers = cx.client_as(crate::Identity::INFORMERS);
    let publisher = cx.client_as(crate::Identity::ServiceAccount("root-ca-cert-publisher"));
    let clients = Clients { accounts: cx.client.clone(), config_maps: publisher };
    let namespaces = watch_kind(
        Api::<Namespace>::all(informers.clone()),
        watcher::Config::default(),
        Kind::Namespace,
    );
    let accounts = watch_kind(
        Api::<ServiceAccount>::all(informers.clone()),
        watcher::Config::default().fields(&format!("metadata.name={DEFAULT_SERVICE_ACCOUNT}")),
        Kind::ServiceAccount,
    );
    let config_maps = watch_kind(
        Api::<ConfigMap>::all(informers),
        watcher::Config::default().fields(&format!("metadata.name={ROOT_CA_CONFIG_MAP}")),
        Kind::ConfigMap,
    );
    let mut events = futures::stream::select_all([namespaces, accounts, config_maps]);
    let mut observed: HashMap<String, Observed> = HashMap::new();
    let mut dirty: BTreeSet<String> = BTreeSet::new();
    let mut retries: HashMap<String, (u32, Instant)> = HashMap::new();
    let ca = cx.config.root_ca_pem.clone();
    loop {
        let wake = retries.values().map(|(_, at)| *at).min();
        let wake = wake.unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            event = events.next() => match event {
                Some(seen) => note(&mut observed, &mut dirty, seen),
                None => return,
            },
            () = tokio::time::sleep_until(wake) => {
                let now = Instant::now();
                dirty.extend(retries.iter().filter(|(_, (_, at))| *at <= now).map(|(ns, _)| ns.clone()));
            }
        }
        // Take everything already waiting before acting on it.
        while let Some(Some(seen)) = futures::FutureExt::now_or_never(events.next()) {
            note(&mut observed, &mut dirty, seen);
        }
        for namespace in std::mem::take(&mut dirty) {
            let state = observed.get(&namespace).cloned().unwrap_or_default();
            let changes = plan(
                &namespace,
                state.active,
                state.has_service_account,
                state.config_map.as_ref(),
                &ca,
            );
            match apply(&clients, &namespace, changes).await {
                Ok(()) => {
                    retries.remove(&namespace);
                }
                Err(error) => {
                    tracing::warn!(%namespace, %error, "cannot publish service account or root CA");
                    let entry = retries.entry(namespace).or_insert((0, Instant::now()));
                    entry.0 = entry.0.saturating_add(1);
                    entry.1 = Instant::now() + Duration::from_millis(50u64 << entry.0.min(10));
                }
            }
        }
    }
}

fn watch_kind<K>(
    api: Api<K>,
    config: watcher::Config,
    kind: Kind,
) -> futures::stream::BoxStream<'static, Seen>
where
    K: kube::Resource + Clone + std::fmt::Debug + serde::de::DeserializeOwned + Send + 'static,
    Seen: From<(K, bool)>,
{
    let mut listing: HashSet<String> = HashSet::new();
    watcher(api, config)
        .default_backoff()
        .filter_map(move |event| {
            let seen = match event {
                Ok(watcher::Event::Init) => {
                    listing.clear();
                    None
                }
                Ok(watcher::Event::InitApply(object)) => {
                    listing.insert(
                        object
                            .meta()
                            .namespace
                            .clone()
                            .or(object.meta().name.clone())
                            .unwrap_or_default(),
                    );
                    Some(Seen::from((object, true)))
                }
                Ok(watcher::Event::InitDone) => {
                    Some(Seen::Relisted(kind, std::mem::take(&mut listing)))
                }
                Ok(watcher::Event::Apply(object)) => Some(Seen::from((object, true))),
                Ok(watcher::Event::Delete(object)) => Some(Seen::from((object, false))),
                Err(error) => {
                    tracing::debug!(%error, "service account controller watch");
                    None
                }
            };
            futures::future::ready(seen)
        })
        .boxed()
}

impl From<(Namespace, bool)> for Seen {
    fn from((object, exists): (Namespace, bool)) -> Seen {
        Seen::Namespace(object, exists)
    }
}

impl From<(ServiceAccount, bool)> for Seen {
    fn from((object, exists): (ServiceAccount, bool)) -> Seen {
        Seen::ServiceAccount(object, exists)
    }
}

impl From<(ConfigMap, bool)> for Seen {
    fn from((object, exists): (ConfigMap, bool)) -> Seen {
        Seen::ConfigMap(object, exists)
    }
}

/// Records an event and marks the namespace it concerns.
fn note(observed: &mut HashMap<String, Observed>, dirty: &mut BTreeSet<String>, seen: Seen) {
    match seen {
        Seen::Namespace(namespace, exists) => {
            let Some(name) = namespace.metadata.name.clone() else { return };
            observed.entry(name.clone()).or_default().active = exists && is_active(&namespace);
            dirty.insert(name);
        }
        Seen::ServiceAccount(account, exists) => {
            let Some(namespace) = account.metadata.namespace else { return };
            observed.entry(namespace.clone()).or_default().has_service_account = exists;
            dirty.insert(namespace);
        }
        Seen::ConfigMap(config_map, exists) => {
            let Some(namespace) = config_map.metadata.namespace.clone() else { return };
            observed.entry(namespace.clone()).or_default().config_map =
                exists.then_some(config_map);
            dirty.insert(namespace);
        }
        Seen::Relisted(kind, present) => {
            for (namespace, state) in observed.iter_mut() {
                if present.contains(namespace) {
                    continue;
                }
                let changed = match kind {
                    Kind::Namespace => std::mem::replace(&mut state.active, false),
                    Kind::ServiceAccount => {
                        std::mem::replace(&mut state.has_service_account, false)
                    }
                    Kind::ConfigMap => state.config_map.take().is_some(),
                };
                if changed {
                    dirty.insert(namespace.clone());
                }
            }
        }
    }
    observed
        .retain(|_, state| state.active || state.has_service_account || state.config_map.is_some());
}

/// Why applying a namespace's changes failed.
#[derive(Debug, thiserror::Error)]
enum Error {
    #[error("{verb} {what}")]
    Api {
        verb: &'static str,
        what: &'static str,
        #[source]
        source: kube::Error,
    },
}

/// Conflicts, a namespace that vanished or started terminating: the watches will tell what
/// to do next, so these are not failures (Kubernetes ignores them the same way). A refusal by
/// authorization is one: it is retried and logged.
fn is_benign(error: &kube::Error) -> bool {
    match error {
        kube::Error::Api(status) => match status.code {
            404 | 409 => true,
            // NamespaceLifecycle's refusal carries the cause `NamespaceTerminating`.
            403 => status
                .details
                .iter()
                .flat_map(|details| &details.causes)
                .any(|cause| cause.reason == "NamespaceTerminating"),
            _ => false,
        },
        _ => false,
    }
}

/// The clients of the two Kubernetes controllers this loop is.
struct Clients {
    /// `service-account-controller`'s.
    accounts: kube::Client,
    /// `root-ca-cert-publisher`'s.
    config_maps: kube::Client,
}

async fn apply(clients: &Clients, namespace: &str, changes: Vec<Change>) -> Result<(), Error> {
    for change in changes {
        let (verb, what, result) = match change {
            Change::CreateServiceAccount => {
                let api: Api<ServiceAccount> = Api::namespaced(clients.accounts.clone(), namespace);
                let account = ServiceAccount {
                    metadata: ObjectMeta {
                        name: Some(DEFAULT_SERVICE_ACCOUNT.to_owned()),
                        namespace: Some(namespace.to_owned()),
                        ..ObjectMeta::default()
                    },
                    ..ServiceAccount::default()
                };
                (
                    "create",
                    "serviceaccount",
                    api.create(&PostParams::default(), &account).await.map(drop),
                )
            }
            Change::CreateConfigMap(config_map) => {
                let api: Api<ConfigMap> = Api::namespaced(clients.config_maps.clone(), namespace);
                (
                    "create",
                    "configmap",
                    api.create(&PostParams::default(), &config_map).await.map(drop),
                )
            }
            Change::UpdateConfigMap(config_map) => {
                let api: Api<ConfigMap> = Api::namespaced(clients.config_maps.clone(), namespace);
                let result =
                    api.replace(ROOT_CA_CONFIG_MAP, &PostParams::default(), &config_map).await;
                ("update", "configmap", result.map(drop))
            }
        };
        match result {
            Ok(()) => tracing::debug!(namespace, verb, what, "published"),
            Err(error) if is_benign(&error) => {}
            Err(source) => return Err(Error::Api { verb, what, source }),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::NamespaceStatus;

    use super::*;

    #[test]
    fn a_terminating_namespace_is_benign_and_a_refused_role_is_not() {
        let status = |code: u16, cause: Option<&str>| {
            let status: kube::core::Status = serde_json::from_value(serde_json::json!({
                "code": code, "reason": "Forbidden",
                "details": {"causes": cause.map(|c| vec![serde_json::json!({"reason": c})]).unwrap_or_default()},
            }))
            .unwrap();
            kube::Error::Api(status.boxed())
        };
        assert!(is_benign(&status(403, Some("NamespaceTerminating"))));
        assert!(!is_benign(&status(403, None)), "RBAC's refusal is retried");
        assert!(is_benign(&status(409, None)));
        assert!(is_benign(&status(404, None)));
        assert!(!is_benign(&status(500, None)));
    }

    const CA: &str = "-----BEGIN CERTIFICATE-----\nabc\n-----END CERTIFICATE-----\n";

    fn published(namespace: &str) -> ConfigMap {
        match plan(namespace, true, true, None, CA).pop() {
            Some(Change::CreateConfigMap(config_map)) => config_map,
            other => panic!("expected a ConfigMap to create, got {other:?}"),
        }
    }

    /// Name, active, has the account, the ConfigMap, expected changes.
    type Case<'a> = (&'a str, bool, bool, Option<&'a ConfigMap>, Vec<Change>);

    #[test]
    fn every_active_namespace_gets_its_account_and_ca() {
        let good = published("ns");
        assert_eq!(good.metadata.name.as_deref(), Some(ROOT_CA_CONFIG_MAP));
        assert_eq!(good.data.as_ref().and_then(|d| d.get("ca.crt")).map(String::as_str), Some(CA));
        assert_eq!(
            good.metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(DESCRIPTION_ANNOTATION))
                .map(String::as_str),
            Some(DESCRIPTION)
        );
        let mut changed_data = good.clone();
        changed_data.data = Some(BTreeMap::from([("ca.crt".to_owned(), "tampered".to_owned())]));
        let mut extra_key = good.clone();
        extra_key.data.get_or_insert_with(BTreeMap::new).insert("other".into(), "x".into());
        let mut no_annotation = good.clone();
        no_annotation.metadata.annotations = None;
        let mut other_annotations = good.clone();
        other_annotations
            .metadata
            .annotations
            .get_or_insert_with(BTreeMap::new)
            .insert("a".into(), "b".into());
        let restored = |mut cm: ConfigMap| {
            cm.data = good.data.clone();
            cm.metadata
                .annotations
                .get_or_insert_with(BTreeMap::new)
                .insert(DESCRIPTION_ANNOTATION.into(), DESCRIPTION.into());
            Change::UpdateConfigMap(cm)
        };
        let cases: Vec<Case<'_>> = vec![
            ("terminating namespace", false, false, None, vec![]),
            ("all in place", true, true, Some(&good), vec![]),
            ("account missing", true, false, Some(&good), vec![Change::CreateServiceAccount]),
            (
                "both missing",
                true,
                false,
                None,
                vec![Change::CreateServiceAccount, Change::CreateConfigMap(good.clone())],
            ),
            ("CA changed", true, true, Some(&changed_data), vec![restored(changed_data.clone())]),
            ("extra key dropped", true, true, Some(&extra_key), vec![restored(extra_key.clone())]),
            (
                "annotation removed",
                true,
                true,
                Some(&no_annotation),
                vec![restored(no_annotation.clone())],
            ),
            ("other annotations are kept", true, true, Some(&other_annotations), vec![]),
        ];
        for (name, active, has_account, config_map, expected) in cases {
            assert_eq!(plan("ns", active, has_account, config_map, CA), expected, "{name}");
        }
    }

    #[test]
    fn only_active_namespaces_count() {
        let namespace = |phase: Option<&str>, deleting: bool| Namespace {
            metadata: ObjectMeta {
                deletion_timestamp: deleting.then_some(
                    k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                        k8s_openapi::jiff::Timestamp::UNIX_EPOCH,
                    ),
                ),
                ..ObjectMeta::default()
            },
            status: phase.map(|p| NamespaceStatus {
                phase: Some(p.to_owned()),
                ..NamespaceStatus::default()
            }),
            ..Namespace::default()
        };
        assert!(is_active(&namespace(Some("Active"), false)));
        assert!(is_active(&namespace(None, false)));
        assert!(!is_active(&namespace(Some("Terminating"), false)));
        assert!(!is_active(&namespace(Some("Active"), true)));
    }

    #[test]
    fn relists_forget_what_they_no_longer_show() {
        let mut observed = HashMap::new();
        let mut dirty = BTreeSet::new();
        let account = ServiceAccount {
            metadata: ObjectMeta {
                name: Some(DEFAULT_SERVICE_ACCOUNT.into()),
                namespace: Some("a".into()),
                ..ObjectMeta::default()
            },
            ..ServiceAccount::default()
        };
        note(&mut observed, &mut dirty, Seen::ServiceAccount(account, true));
        let ns = Namespace {
            metadata: ObjectMeta { name: Some("a".into()), ..ObjectMeta::default() },
            ..Namespace::default()
        };
        note(&mut observed, &mut dirty, Seen::Namespace(ns, true));
        assert!(observed["a"].has_service_account && observed["a"].active);
        dirty.clear();
        note(&mut observed, &mut dirty, Seen::Relisted(Kind::ServiceAccount, HashSet::new()));
        assert!(!observed["a"].has_service_account);
        assert_eq!(dirty, BTreeSet::from(["a".to_owned()]));
    }
}
