//! The HTTPS listener: TLS (rustls, ring), HTTP/2 via ALPN and HTTP/1.1 with upgrades (exec
//! and attach need them), one task per connection.
//!
//! Client certificates are optional in the handshake (a bearer token works too); when one is
//! sent, rustls verifies it against our CA and the connection's `auth::Peer` carries its
//! identity into every request on that connection.
//!
//! [`LocalService`] is the same API for clients in this process (berth's own controllers and
//! kubelets): requests go to the same router, authentication, handlers and store, without
//! TCP, TLS or HTTP framing in between.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use std::convert::Infallible;
use std::task::{Context, Poll};

use axum::Router;
use axum::body::HttpBody;
use axum::http::{HeaderValue, header};
use bytes::Bytes;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use rustls::ServerConfig;
use rustls::server::WebPkiClientVerifier;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt as _;

use crate::auth::{AUTHENTICATED, Authenticator, Peer, User};
use crate::instrumented::InstrumentedStore;
use crate::metrics::Metrics;
use crate::router::{AppState, router};
use crate::{Error, pki};

/// A TLS handshake must finish within this.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Request headers must arrive within this (HTTP/1.1).
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);
/// How long open connections get to finish after shutdown begins.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Where to listen and where the PKI and kubeconfig live.
#[derive(Clone, Debug)]
pub struct ApiServerConfig {
    /// The address to listen on; port 0 picks a free port (see [`ApiServer::local_addr`]).
    pub listen: SocketAddr,
    /// The data dir: the PKI goes to `pki/`, the admin kubeconfig to `kubeconfig.yaml`.
    pub data_dir: PathBuf,
    /// Where Service cluster IPs come from (`--service-cluster-ip-range`); its first address
    /// is the `kubernetes` Service's.
    pub service_cidr: crate::allocator::ServiceCidr,
    /// The `MaxUnavailableStatefulSet` feature gate (alpha in v1.33, off by default): without
    /// it a StatefulSet's `maxUnavailable` is dropped unless the stored set already has one.
    pub max_unavailable_statefulset: bool,
}

impl ApiServerConfig {
    /// Listens on `listen` with the PKI in `data_dir` and Kubernetes' default Service range
    /// (10.96.0.0/12).
    pub fn new(listen: SocketAddr, data_dir: impl Into<PathBuf>) -> ApiServerConfig {
        ApiServerConfig {
            listen,
            data_dir: data_dir.into(),
            service_cidr: crate::allocator::ServiceCidr::DEFAULT,
            max_unavailable_statefulset: false,
        }
    }
}

/// A running API server. [`ApiServer::shutdown`] stops it and waits; dropping it stops it
/// without waiting.
#[derive(Debug)]
pub struct ApiServer {
    local_addr: SocketAddr,
    kubeconfig: PathBuf,
    stop: watch::Sender<()>,
    task: JoinHandle<()>,
    local: LocalService,
}

impl ApiServer {
    /// The API for clients in this process: see [`LocalService`].
    pub fn local_service(&self) -> LocalService {
        self.local.clone()
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The admin kubeconfig, `DIR/kubeconfig.yaml`.
    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig
    }

    /// Stops accepting connections, lets open ones finish their requests (for a few seconds
    /// at most) and returns once the listener is closed.
    pub async fn shutdown(self) {
        let ApiServer { stop, task, .. } = self;
        stop.send_replace(());
        if let Err(error) = task.await {
            tracing::warn!(%error, "the API server task failed");
        }
    }
}

/// Prepares the PKI and kubeconfig in `config.data_dir`, binds `config.listen` and serves the
/// Kubernetes API from `store` in a spawned task.
pub async fn start(
    config: ApiServerConfig,
    store: Arc<dyn berth_store::Store>,
) -> Result<ApiServer, Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let pki = pki::prepare(&config.data_dir, config.listen.ip(), &provider)?;
    let verifier =
        WebPkiClientVerifier::builder_with_provider(Arc::new(pki.roots()), provider.clone())
            .allow_unauthenticated()
            .build()
            .map_err(|source| Error::Verifier { source })?;
    let mut tls = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|builder| {
            builder
                .with_client_cert_verifier(verifier)
                .with_single_cert(vec![pki.server_cert.clone()], pki.server_key.clone_key())
        })
        .map_err(|source| Error::Tls { source })?;
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];

    let bind = |source| Error::Bind { addr: config.listen, source };
    let listener = TcpListener::bind(config.listen).await.map_err(bind)?;
    let local_addr = listener.local_addr().map_err(bind)?;
    let kubeconfig = config.data_dir.join("kubeconfig.yaml");
    pki::write_kubeconfig(&kubeconfig, local_addr, &pki)?;

    let metrics = Arc::new(Metrics::default());
    let store: Arc<dyn berth_store::Store> =
        Arc::new(InstrumentedStore::new(store, metrics.clone()));
    crate::resources::bootstrap(&*store).await.map_err(|source| Error::Store { source })?;
    crate::allocator::bootstrap(&*store, config.service_cidr, local_addr)
        .await
        .map_err(|source| Error::Store { source })?;
    crate::rbac::bootstrap(&*store).await.map_err(|source| Error::Store { source })?;
    let (stop, stopped) = watch::channel(());
    let authorizer = crate::rbac::Authorizer::new(store.clone());
    authorizer.follow(stopped.clone()).await.map_err(|source| Error::Store { source })?;
    let listers = crate::admission::Listers::new(&store);
    listers.follow(stopped.clone()).await.map_err(|source| Error::Store { source })?;
    let crds = crate::crds::Crds::new(store.clone());
    crds.follow(stopped.clone()).await.map_err(|source| Error::Store { source })?;
    let _ = metrics.custom.set(crds.clone());
    let signing_key = Arc::new(pki.service_account_key);
    let authenticator =
        Arc::new(Authenticator::new(pki.admin_token.clone(), store.clone(), signing_key.clone()));
    let state = AppState {
        store,
        metrics,
        stopping: stopped.clone(),
        service_cidr: config.service_cidr,
        max_unavailable_statefulset: config.max_unavailable_statefulset,
        openid: Arc::new(crate::oidc::Documents::new(&signing_key, local_addr)),
        signing_key,
        authenticator,
        decoded: Arc::default(),
        authorizer,
        listers,
        crds: crds.clone(),
    };
    let app = router(state);
    let local = LocalService {
        app: app.clone(),
        peer: Peer { user: Some(loopback_user()) },
        user_agent: None,
    };
    tokio::spawn(crate::crds::run(crds, local.clone(), stopped.clone()));
    let task = tokio::spawn(serve(listener, TlsAcceptor::from(Arc::new(tls)), app, stopped));
    tracing::info!(%local_addr, kubeconfig = %kubeconfig.display(), "serving the Kubernetes API");
    Ok(ApiServer { local_addr, kubeconfig, stop, task, local })
}

/// Who in-process clients are: kube-apiserver's loopback identity, `system:apiserver` in
/// `system:masters`.
fn loopback_user() -> User {
    User {
        name: "system:apiserver".into(),
        uid: None,
        groups: vec!["system:masters".into(), AUTHENTICATED.into()],
        extra: Vec::new(),
    }
}

/// The Kubernetes API as a tower service for clients in this process (a `kube::Client` is
/// built on it with `kube::Client::new`): each request goes to the router the HTTPS listener
/// serves — authentication, admission, handlers and store alike — with the identity of
/// kube-apiserver's own loopback client instead of a credential. A request costs no TLS, no
/// HTTP framing and no connection (the buffers of the in-process client's connections were the
/// largest part of the server's heap after a rollout, docs/benchmarks.md); bodies, watches
/// included, stream through as they do over the network. It keeps serving after
/// [`ApiServer::shutdown`]; the controllers and kubelets using it are stopped first.
#[derive(Clone)]
pub struct LocalService {
    app: Router,
    peer: Peer,
    /// The `User-Agent` of requests that bring none (see [`LocalService::with_user_agent`]).
    user_agent: Option<HeaderValue>,
}

impl LocalService {
    /// The same service acting as user `name` in `groups` (and `system:authenticated`), as a
    /// client with that identity's credential would: authorization decides what it may do.
    /// berth's components use it to run under the identity Kubernetes gives each of them.
    pub fn as_user(&self, name: &str, groups: &[&str]) -> LocalService {
        let mut groups: Vec<String> = groups.iter().map(|&group| group.to_owned()).collect();
        groups.push(AUTHENTICATED.into());
        let user = User { name: name.to_owned(), uid: None, groups, extra: Vec::new() };
        LocalService {
            app: self.app.clone(),
            peer: Peer { user: Some(user) },
            user_agent: self.user_agent.clone(),
        }
    }

    /// The same service sending `agent` as the `User-Agent` of requests without one, as the
    /// component it stands for would (client-go's `kube-controller-manager/v1.33.0 (linux/amd64)
    /// kubernetes/…/statefulset-controller`): the field manager of an update without
    /// `fieldManager` is the agent up to its first `/`. An agent that is not a valid header
    /// value is ignored.
    pub fn with_user_agent(&self, agent: &str) -> LocalService {
        LocalService {
            app: self.app.clone(),
            peer: self.peer.clone(),
            user_agent: HeaderValue::from_str(agent).ok(),
        }
    }

    /// The same service acting as ServiceAccount `namespace/name`
    /// (`system:serviceaccount:NAMESPACE:NAME` in `system:serviceaccounts` and
    /// `system:serviceaccounts:NAMESPACE`), as a client with its token would.
    pub fn as_service_account(&self, namespace: &str, name: &str) -> LocalService {
        let user = format!("system:serviceaccount:{namespace}:{name}");
        let in_namespace = format!("system:serviceaccounts:{namespace}");
        self.as_user(&user, &["system:serviceaccounts", &in_namespace])
    }
}

impl std::fmt::Debug for LocalService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalService").finish_non_exhaustive()
    }
}

impl<B> tower::Service<hyper::Request<B>> for LocalService
where
    B: HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = axum::response::Response;
    type Error = Infallible;
    type Future = axum::routing::future::RouteFuture<Infallible>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // The router is always ready.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut request: hyper::Request<B>) -> Self::Future {
        request.extensions_mut().insert(self.peer.clone());
        if let Some(agent) = &self.user_agent {
            request.headers_mut().entry(header::USER_AGENT).or_insert_with(|| agent.clone());
        }
        self.app.call(request)
    }
}

/// The accept loop, until `stopped` fires (or its sender is dropped).
async fn serve(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    app: Router,
    mut stopped: watch::Receiver<()>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = stopped.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, remote)) => {
                    let connection = connection(stream, remote, acceptor.clone(), app.clone(), stopped.clone());
                    connections.spawn(connection);
                }
                Err(error) => {
                    // Out of file descriptors, most likely: back off instead of spinning.
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while connections.join_next().await.is_some() {}
    });
    if drained.await.is_err() {
        tracing::debug!(
            open = connections.len(),
            "closing connections that outlived the grace period"
        );
    }
    // Dropping the set aborts what is left.
}

/// One connection: the TLS handshake, then HTTP until the client leaves or shutdown.
async fn connection(
    stream: TcpStream,
    remote: SocketAddr,
    acceptor: TlsAcceptor,
    app: Router,
    mut stopped: watch::Receiver<()>,
) {
    let _ = stream.set_nodelay(true);
    let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(error)) => {
            tracing::debug!(%remote, %error, "TLS handshake failed");
            return;
        }
        Err(_) => {
            tracing::debug!(%remote, "TLS handshake timed out");
            return;
        }
    };
    // rustls hands out peer certificates only once they verified against our CA.
    let peer = match tls.get_ref().1.peer_certificates().and_then(|chain| chain.first()) {
        Some(certificate) => Peer::from_certificate(certificate),
        None => Peer::default(),
    };
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(peer.clone());
        app.clone().oneshot(request)
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(HEADER_TIMEOUT);
    builder.http2().timer(TokioTimer::new());
    let connection = builder.serve_connection_with_upgrades(TokioIo::new(tls), service);
    tokio::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        _ = stopped.changed() => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(error) = result {
        tracing::debug!(%remote, %error, "connection ended with an error");
    }
}
