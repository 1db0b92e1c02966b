//! The berth binary: parses flags, sets up tracing and runs the server's roles.
//!
//! This is the only crate that reads flags, the environment and files of its own choosing. Today
//! `berth server` opens the store (SQLite in the data dir, or etcd), compacts it and serves the
//! Kubernetes API over HTTPS; controllers, kubelet and DNS join as their crates land
//! (ARCHITECTURE.md).
#![allow(clippy::print_stderr, reason = "the ready line and fatal errors are the CLI's own output")]

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    process::ExitCode,
    sync::Arc,
    time::Duration,
};

use anyhow::Context;
use berth_apiserver::{ApiServerConfig, ServiceCidr};
use berth_store::{CompactionPolicy, EtcdConfig, EtcdStore, SqliteStore, Store};
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "berth",
    version,
    about = "Kubernetes workloads, StatefulSets first, from one binary"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the control plane on this machine.
    Server(ServerArgs),
}

#[derive(Debug, clap::Args)]
struct ServerArgs {
    /// Where berth keeps its state (created if missing).
    #[arg(long, value_name = "DIR")]
    data_dir: PathBuf,
    /// The address the Kubernetes API listens on (HTTPS).
    #[arg(long, default_value = "127.0.0.1:6443", value_name = "IP:PORT")]
    listen: SocketAddr,
    /// `sqlite` (a file in the data dir) or `etcd://HOST:PORT[,HOST:PORT…]`.
    #[arg(long, default_value = "sqlite", value_parser = parse_store)]
    store: StoreSpec,
    /// Keep at least this much store history (watchers further behind must re-list).
    #[arg(long, default_value = "5m", value_parser = parse_duration, value_name = "DURATION")]
    history: Duration,
    /// How this machine runs pods: `containerd` (real containers; no node runs yet, the
    /// containerd kubelet is still to come) or `simulated` (nodes that drive pods through
    /// their lifecycle without processes, for scale tests).
    #[arg(long, value_enum, default_value_t = RuntimeKind::Containerd)]
    runtime: RuntimeKind,
    /// This machine's Node name (default: the host name).
    #[arg(long, value_name = "NAME", value_parser = parse_node_name)]
    node_name: Option<String>,
    /// With `--runtime simulated`: how many nodes to simulate (`NAME-0` … when more than one).
    #[arg(long, default_value_t = 1, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1000))]
    nodes: u16,
    /// Where pod IPs come from; each node gets a /24 of it.
    #[arg(long, default_value = "10.244.0.0/16", value_name = "CIDR", value_parser = parse_pod_cidr)]
    pod_cidr: berth_kubelet::Ipv4Cidr,
    /// Where Service cluster IPs come from.
    #[arg(long, default_value = "10.96.0.0/12", value_name = "CIDR")]
    service_cidr: ServiceCidr,
    /// The controllers to run, as kube-controller-manager's flag: `*` all, `foo` enables foo,
    /// `-foo` disables it; empty runs none (the API server alone).
    #[arg(long, default_value = "*", value_name = "LIST", value_parser = parse_controllers)]
    controllers: Controllers,
    /// Feature gates, as kube-apiserver's flag: `Name=true|false,…`. Known:
    /// `MaxUnavailableStatefulSet` (alpha in v1.33, default false).
    #[arg(long, default_value = "", value_name = "LIST", value_parser = parse_feature_gates)]
    feature_gates: FeatureGates,
}

/// The `--feature-gates` berth knows, with Kubernetes v1.33's defaults.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct FeatureGates {
    max_unavailable_statefulset: bool,
}

fn parse_feature_gates(list: &str) -> Result<FeatureGates, String> {
    let mut gates = FeatureGates::default();
    for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let Some((name, value)) = entry.split_once('=') else {
            return Err(format!("missing bool value for {entry}"));
        };
        let value = match value.trim() {
            "true" | "True" | "TRUE" | "1" | "t" | "T" => true,
            "false" | "False" | "FALSE" | "0" | "f" | "F" => false,
            other => return Err(format!("invalid value of {name}={other}, err: not a bool")),
        };
        match name.trim() {
            "MaxUnavailableStatefulSet" => gates.max_unavailable_statefulset = value,
            other => return Err(format!("unrecognized feature gate: {other}")),
        }
    }
    Ok(gates)
}

/// The `--controllers` selection.
#[derive(Debug, Clone)]
struct Controllers(Vec<berth_controllers::Controller>);

fn parse_controllers(list: &str) -> Result<Controllers, String> {
    berth_controllers::Controller::select(list).map(Controllers).map_err(|e| e.to_string())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum RuntimeKind {
    Containerd,
    Simulated,
}

fn parse_node_name(name: &str) -> Result<String, String> {
    let label = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if name.len() <= 253 && name.split('.').all(label) {
        Ok(name.to_owned())
    } else {
        Err(format!("{name:?} is not a valid node name (lower-case DNS subdomain)"))
    }
}

fn parse_pod_cidr(text: &str) -> Result<berth_kubelet::Ipv4Cidr, String> {
    let cidr = berth_kubelet::Ipv4Cidr::parse(text).map_err(|e| e.to_string())?;
    if cidr.prefix() > 24 {
        return Err(format!("--pod-cidr {text} is smaller than one node's /24"));
    }
    Ok(cidr)
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum StoreSpec {
    Sqlite,
    Etcd { endpoints: Vec<String> },
}

/// Key prefix of berth's data in etcd, like kube-apiserver's `/registry`.
const ETCD_PREFIX: &str = "/berth";

fn parse_store(spec: &str) -> Result<StoreSpec, String> {
    if spec == "sqlite" {
        return Ok(StoreSpec::Sqlite);
    }
    let Some(hosts) = spec.strip_prefix("etcd://") else {
        return Err(format!("{spec:?} is neither `sqlite` nor `etcd://HOST:PORT[,HOST:PORT…]`"));
    };
    let endpoints: Vec<String> = hosts.split(',').map(str::trim).map(str::to_owned).collect();
    for endpoint in &endpoints {
        let port = endpoint.rsplit_once(':').map(|(host, port)| (host, port.parse::<u16>()));
        if !matches!(port, Some((host, Ok(_))) if !host.is_empty()) {
            return Err(format!("etcd endpoint {endpoint:?} is not HOST:PORT"));
        }
    }
    let endpoints = endpoints.into_iter().map(|e| format!("http://{e}")).collect();
    Ok(StoreSpec::Etcd { endpoints })
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let (number, unit) =
        text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()));
    let number: u64 =
        number.parse().map_err(|_| format!("{text:?} is not a duration like 90s, 5m or 1h"))?;
    let seconds = match unit {
        "s" => number,
        "m" => number * 60,
        "h" => number * 3600,
        _ => return Err(format!("{text:?} is not a duration like 90s, 5m or 1h")),
    };
    Ok(Duration::from_secs(seconds))
}

/// A failure worth exit code 2: the user gave us something we cannot use.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct BadInput(String);

/// mimalloc rather than glibc's malloc: the server's heap is many small, short-lived objects
/// (JSON trees, watch events) spread over threads, and glibc's per-thread arenas keep the
/// freed pages; mimalloc returns them (docs/benchmarks.md, control plane (d)). Without the
/// default feature `mimalloc` (for heap profilers, which see only malloc) it is glibc's.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) if !error.use_stderr() => {
            // --help and --version.
            let _ = error.print();
            return ExitCode::SUCCESS;
        }
        Err(error) => {
            // clap explains over several lines and adds usage; say it in one.
            let rendered = error.render().to_string();
            let message: Vec<&str> = rendered
                .lines()
                .take_while(|line| !line.starts_with("Usage:") && !line.starts_with("For more"))
                .map(str::trim)
                .filter(|line| !line.is_empty())
                .collect();
            eprintln!("berth: {}", message.join(" ").trim_start_matches("error: "));
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("berth: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Server(args) => server(args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("berth: {error:#}");
            if error.chain().any(|cause| {
                cause.is::<BadInput>()
                    || matches!(
                        cause.downcast_ref::<berth_store::Error>(),
                        Some(berth_store::Error::BadFile { .. })
                    )
                    || cause
                        .downcast_ref::<berth_apiserver::Error>()
                        .is_some_and(berth_apiserver::Error::is_bad_data)
            }) {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

async fn server(args: ServerArgs) -> anyhow::Result<()> {
    let started = tokio::time::Instant::now();
    check_node_count(&args)?;
    create_data_dir(&args.data_dir)?;
    let (store, description): (Arc<dyn Store>, String) = match &args.store {
        StoreSpec::Sqlite => {
            let path = args.data_dir.join("store.db");
            let store = SqliteStore::open(&path)?;
            (Arc::new(store), format!("sqlite {}", path.display()))
        }
        StoreSpec::Etcd { endpoints } => {
            let config =
                EtcdConfig { endpoints: endpoints.clone(), prefix: ETCD_PREFIX.to_owned() };
            let store = EtcdStore::connect(config).await?;
            (Arc::new(store), format!("etcd {}", endpoints.join(",")))
        }
    };
    let compactor = berth_store::spawn_compactor(
        store.clone(),
        CompactionPolicy {
            interval: Duration::from_secs(60),
            retain: args.history,
            min_revisions: 1000,
        },
    );
    let mut api_config = ApiServerConfig::new(args.listen, args.data_dir.clone());
    api_config.service_cidr = args.service_cidr;
    api_config.max_unavailable_statefulset = args.feature_gates.max_unavailable_statefulset;
    let api = berth_apiserver::start(api_config, store.clone()).await?;

    // Controllers and kubelets are API clients like any other, in-process, each controller
    // under the identity Kubernetes gives it.
    let clients = Clients::new(&api);
    let kubelet_client = clients.kubelet();
    let ca = args.data_dir.join("pki/ca.crt");
    let root_ca_pem =
        std::fs::read_to_string(&ca).with_context(|| format!("reading {}", ca.display()))?;
    let controllers = berth_controllers::spawn(
        {
            let clients = clients.clone();
            move |identity| clients.of(identity)
        },
        berth_controllers::Config {
            controllers: args.controllers.0.clone(),
            root_ca_pem,
            max_unavailable_statefulset: args.feature_gates.max_unavailable_statefulset,
            ..berth_controllers::Config::default()
        },
    );
    let kubelets = match args.runtime {
        RuntimeKind::Simulated => start_simulated_nodes(&args, &kubelet_client, api.local_addr())?,
        RuntimeKind::Containerd => Vec::new(),
    };
    eprintln!(
        "berth: ready in {} ms at https://{} ({description}); export KUBECONFIG={}",
        started.elapsed().as_millis(),
        api.local_addr(),
        api.kubeconfig_path().display()
    );
    if args.runtime == RuntimeKind::Containerd {
        eprintln!(
            "berth: this build runs no containerd node yet, so pods stay Pending; \
             `--runtime simulated` runs simulated nodes"
        );
    }
    shutdown_signal().await?;
    for kubelet in kubelets {
        kubelet.shutdown().await;
    }
    controllers.shutdown().await;
    api.shutdown().await;
    compactor.abort();
    tracing::info!("shutting down");
    Ok(())
}

/// Each simulated node takes a /24 of `--pod-cidr`: refuse more nodes than it holds before
/// anything starts.
fn check_node_count(args: &ServerArgs) -> anyhow::Result<()> {
    let room = 1u64 << (24 - args.pod_cidr.prefix());
    if args.runtime == RuntimeKind::Simulated && u64::from(args.nodes) > room {
        return Err(BadInput(format!(
            "--nodes {} needs a /24 each, but --pod-cidr {} holds {room}",
            args.nodes, args.pod_cidr
        ))
        .into());
    }
    Ok(())
}

/// Requests the in-process client has waiting for their answer at once (a watch counts until
/// its headers arrive): a thousand pod workers writing their status at once would otherwise
/// each hold a request and its answer in memory at the same time; client-go's components get
/// a similar bound from the streams of their one HTTP/2 connection. Two cores of API server
/// need far fewer.
const IN_FLIGHT: usize = 64;

/// The clients of berth's own controllers and kubelets: kube's client on the API server's
/// [`LocalService`](berth_apiserver::LocalService) — the same API as over HTTPS, with an
/// identity instead of a credential, and no connections — with kube's retries of
/// 429/503/504 and at most [`IN_FLIGHT`] requests in flight among them all. Through session 5
/// this was HTTPS over loopback, and the buffers of its connections (both ends) were the largest
/// part of the server's heap after a rollout (docs/benchmarks.md, control plane).
#[derive(Clone)]
struct Clients {
    api: berth_apiserver::LocalService,
    in_flight: Arc<tokio::sync::Semaphore>,
}

impl Clients {
    fn new(api: &berth_apiserver::ApiServer) -> Clients {
        let in_flight = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
        Clients { api: api.local_service(), in_flight }
    }

    /// A client acting as `identity`: a controller's ServiceAccount in `kube-system`, a user
    /// of the bootstrap policy, or the loopback identity.
    fn of(&self, identity: berth_controllers::Identity) -> kube::Client {
        use berth_controllers::Identity;
        let api = self.api.with_user_agent(&identity.user_agent());
        let service = match identity {
            Identity::ServiceAccount(name) => api.as_service_account("kube-system", name),
            Identity::User(name) => api.as_user(name, &[]),
            Identity::Loopback => api,
        };
        self.client(service)
    }

    /// The kubelets' client: the API server's loopback identity (`system:apiserver` in
    /// `system:masters`), for berth has no Node authorizer to give them `system:node:<name>`'s
    /// rights; with the kubelet's `User-Agent`.
    fn kubelet(&self) -> kube::Client {
        self.client(self.api.with_user_agent(&berth_controllers::component_user_agent("kubelet")))
    }

    /// `service` behind the server-error retries and the shared in-flight bound.
    fn client(&self, service: berth_apiserver::LocalService) -> kube::Client {
        let service = tower::ServiceBuilder::new()
            .layer(tower::retry::RetryLayer::new(kube::client::retry::RetryPolicy::server_retry()))
            .layer(tower::limit::GlobalConcurrencyLimitLayer::with_semaphore(
                self.in_flight.clone(),
            ))
            .map_err(tower::BoxError::from)
            .service(service);
        kube::Client::new(service, "default")
    }
}

/// `--nodes` simulated kubelets in this process, storing volumes under `DIR/storage`.
fn start_simulated_nodes(
    args: &ServerArgs,
    client: &kube::Client,
    api: SocketAddr,
) -> anyhow::Result<Vec<berth_kubelet::Kubelet>> {
    let node_name = match &args.node_name {
        Some(name) => name.clone(),
        None => host_name()?,
    };
    let node_ip = if api.ip().is_unspecified() { [127, 0, 0, 1].into() } else { api.ip() };
    let data_dir = std::path::absolute(&args.data_dir)
        .with_context(|| format!("resolving {}", args.data_dir.display()))?;
    let template = berth_kubelet::KubeletConfig::new(
        &node_name,
        node_ip,
        &berth_kubelet::node_pod_cidr(&args.pod_cidr.to_string(), 0)?,
        data_dir.join("storage"),
    );
    if args.nodes == 1 {
        let runtime = Arc::new(template.simulated_runtime()?);
        return Ok(vec![berth_kubelet::spawn(client.clone(), template, runtime)]);
    }
    Ok(berth_kubelet::spawn_simulated_nodes(
        client,
        &template,
        &args.pod_cidr.to_string(),
        usize::from(args.nodes),
    )?)
}

/// The host name, as the kubelet defaults its node name: lower-cased.
fn host_name() -> anyhow::Result<String> {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .context("reading the host name (give --node-name)")?;
    parse_node_name(&name.trim().to_lowercase())
        .map_err(|reason| BadInput(format!("{reason}; give --node-name")).into())
}

fn create_data_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.exists() && !dir.is_dir() {
        return Err(BadInput(format!("--data-dir {} is not a directory", dir.display())).into());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating the data dir {}", dir.display()))
}

async fn shutdown_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result.context("listening for SIGINT"),
        _ = terminate.recv() => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_flag_parses_sqlite_and_etcd_endpoints() {
        assert_eq!(parse_store("sqlite"), Ok(StoreSpec::Sqlite));
        assert_eq!(
            parse_store("etcd://127.0.0.1:2379,10.0.0.2:2379"),
            Ok(StoreSpec::Etcd {
                endpoints: vec!["http://127.0.0.1:2379".into(), "http://10.0.0.2:2379".into()]
            })
        );
        assert!(parse_store("etcd://nohost").unwrap_err().contains("HOST:PORT"));
        assert!(parse_store("etcd://:2379").is_err());
        assert!(parse_store("postgres://x").unwrap_err().contains("neither"));
    }

    #[test]
    fn durations_take_seconds_minutes_and_hours() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("m").is_err());
        assert!(parse_duration("-5m").is_err());
    }

    #[test]
    fn feature_gates_parse_like_kubernetes() {
        assert_eq!(parse_feature_gates(""), Ok(FeatureGates::default()));
        let on = parse_feature_gates("MaxUnavailableStatefulSet=true").unwrap();
        assert!(on.max_unavailable_statefulset);
        assert_eq!(
            parse_feature_gates("MaxUnavailableStatefulSet=true, MaxUnavailableStatefulSet=false"),
            Ok(FeatureGates::default())
        );
        assert_eq!(parse_feature_gates("Foo=true").unwrap_err(), "unrecognized feature gate: Foo");
        assert!(parse_feature_gates("MaxUnavailableStatefulSet=yes").is_err());
        assert!(parse_feature_gates("MaxUnavailableStatefulSet").is_err());
    }
}
