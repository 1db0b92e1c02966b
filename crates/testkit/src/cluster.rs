//! An in-process cluster for tests: a store, the API server on a free loopback port in a temp
//! data dir, and a kube client for it. Controllers and kubelets are started by the tests on top,
//! with [`Cluster::client`]: an HTTPS client, where `berth server` gives them a client on
//! `ApiServer::local_service` (the same router, without the network); the tests that run a
//! real `berth server` cover that path.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use berth_apiserver::{ApiServer, ApiServerConfig, LocalService};
use berth_controllers::{Config, Controllers, Identity};
use berth_store::{MemoryStore, Store};

/// A running API server over a store, with its kubeconfig and a client.
pub struct Cluster {
    dir: tempfile::TempDir,
    store: Arc<dyn Store>,
    api: Option<ApiServer>,
    client: kube::Client,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster").field("dir", &self.dir.path()).finish_non_exhaustive()
    }
}

impl Cluster {
    /// A cluster on a fresh in-memory store.
    pub async fn start() -> Cluster {
        Cluster::start_with(Arc::new(MemoryStore::new())).await
    }

    /// A cluster on `store`.
    pub async fn start_with(store: Arc<dyn Store>) -> Cluster {
        let dir = tempfile::tempdir().expect("temp dir");
        let api = start_api(dir.path(), store.clone()).await;
        let client = client(api.kubeconfig_path()).await;
        Cluster { dir, store, api: Some(api), client }
    }

    /// A client authenticated as the admin.
    pub fn client(&self) -> kube::Client {
        self.client.clone()
    }

    /// A client on the API server's in-process service, as `berth server` gives its own
    /// controllers and kubelets (without the retry and in-flight layers it adds).
    pub fn local_client(&self) -> kube::Client {
        kube::Client::new(self.api().local_service(), "default")
    }

    /// A client on the API server's in-process service acting as `identity`, as `berth server`
    /// gives each of its controllers (without the retry and in-flight layers it adds).
    pub fn client_as(&self, identity: Identity) -> kube::Client {
        client_as(&self.api().local_service(), identity)
    }

    /// Starts the controllers `config` names as `berth server` does: each under its
    /// [`Identity`], so that the bootstrap policy's role for it decides what it may do.
    pub fn spawn_controllers(&self, config: Config) -> Controllers {
        let local = self.api().local_service();
        berth_controllers::spawn(move |identity| client_as(&local, identity), config)
    }

    /// The admin kubeconfig (for kubectl).
    pub fn kubeconfig(&self) -> PathBuf {
        self.api().kubeconfig_path().to_owned()
    }

    /// The data dir the API server keeps its PKI in; tests may put other state under it.
    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    /// Where the API server listens.
    pub fn addr(&self) -> SocketAddr {
        self.api().local_addr()
    }

    /// The store under the API server (for assertions only: components never touch it).
    pub fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    /// Stops the API server and starts a new one on the same store and data dir, as a berth
    /// restart would. Clients made before are stale (the port changes); take a new one.
    pub async fn restart_api(&mut self) {
        if let Some(api) = self.api.take() {
            api.shutdown().await;
        }
        let api = start_api(self.dir.path(), self.store.clone()).await;
        self.client = client(api.kubeconfig_path()).await;
        self.api = Some(api);
    }

    /// Stops the API server.
    pub async fn shutdown(mut self) {
        if let Some(api) = self.api.take() {
            api.shutdown().await;
        }
    }

    fn api(&self) -> &ApiServer {
        self.api.as_ref().expect("the API server is running")
    }
}

async fn start_api(dir: &Path, store: Arc<dyn Store>) -> ApiServer {
    let config = ApiServerConfig::new("127.0.0.1:0".parse().expect("loopback address"), dir);
    berth_apiserver::start(config, store).await.expect("the API server starts")
}

/// A kube client from a kubeconfig file.
pub async fn client(kubeconfig: &Path) -> kube::Client {
    let kubeconfig = kube::config::Kubeconfig::read_from(kubeconfig).expect("readable kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .expect("usable kubeconfig");
    kube::Client::try_from(config).expect("a client")
}

/// How long [`eventually`] waits before it gives up. Generous: it bounds a hang, it is not a
/// performance assertion (those live in bench/).
pub const EVENTUALLY: Duration = Duration::from_secs(30);

/// Polls `check` every 20 ms until it returns `Some`, and returns that; panics naming `what`
/// after [`EVENTUALLY`].
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + EVENTUALLY;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A stand-in kubelet for controller tests: makes every pending pod in `pods`' scope Running
/// and Ready (now), as a kubelet with instant containers would, until the task is aborted.
pub async fn ready_kubelet(pods: kube::Api<k8s_openapi::api::core::v1::Pod>) {
    use kube::api::{ListParams, Patch, PatchParams};
    loop {
        if let Ok(list) = pods.list(&ListParams::default()).await {
            for pod in list.items {
                let phase = pod.status.as_ref().and_then(|s| s.phase.clone()).unwrap_or_default();
                if phase == "Pending" && pod.metadata.deletion_timestamp.is_none() {
                    let now = k8s_openapi::jiff::Timestamp::now().to_string();
                    let status = serde_json::json!({"status": {"phase": "Running", "conditions": [
                        {"type": "Ready", "status": "True", "lastTransitionTime": now}]}});
                    let name = pod.metadata.name.unwrap_or_default();
                    let _ = pods
                        .patch_status(&name, &PatchParams::default(), &Patch::Merge(&status))
                        .await;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
}

/// A client on `local` acting as `identity`.
fn client_as(local: &LocalService, identity: Identity) -> kube::Client {
    let local = local.with_user_agent(&identity.user_agent());
    let service = match identity {
        Identity::ServiceAccount(name) => local.as_service_account("kube-system", name),
        Identity::User(name) => local.as_user(name, &[]),
        Identity::Loopback => local,
    };
    kube::Client::new(service, "default")
}
