//! The API server benchmark: berth's Kubernetes API over HTTPS on the SQLite and etcd stores,
//! every figure beside the same operation on the store alone (same store, same value sizes,
//! same run), then the real `berth` binary's cold start to `/readyz` and its memory idle and
//! with 10,000 pods stored. docs/benchmarks.md has the numbers and what they mean.
//!
//! Run: `cargo run --release -p berth-bench --bin apiserver -- [--quick] [--backend all|sqlite|etcd]`.
//! The API server runs in-process on a fresh store (SQLite in a temp dir, or a fresh etcd from
//! `berth_testkit::etcd::EtcdProcess`); the client is one HTTP/2 connection (TLS, ALPN `h2`,
//! the admin bearer token, trusting only the data dir's CA) shared by every request of a
//! section, as client-go shares one. Each write is also sent to an echo server beside it (the
//! API server's certificate and HTTP stack, no handler): the transport's part of a write.
//! Cold start and memory spawn `berth server` from the same target dir (`cargo build
//! --release -p berth` first, or pass `--berth PATH`) on a fresh SQLite data dir. Every
//! process and temp dir is removed at the end, also on an error or Ctrl-C.

// A benchmark's output is its product: it prints the report to stdout.
#![allow(clippy::print_stdout)]

use std::{
    future::Future,
    net::SocketAddr,
    path::{Path, PathBuf},
    process::Stdio,
    sync::{Arc, LazyLock},
    time::Duration,
};

use anyhow::{Context, Result, anyhow, bail, ensure};
use berth_apiserver::{ApiServerConfig, LocalService};
use berth_bench::{Goal, Rate, Row, Unit, latency_histogram, quantile_ms, render, thousands};
use berth_store::{EtcdConfig, EtcdStore, Event, KeyValue, RangeRequest, SqliteStore, Store};
use berth_testkit::etcd::EtcdProcess;
use bytes::Bytes;
use clap::{Parser, ValueEnum};
use hdrhistogram::Histogram;
use http_body_util::{BodyExt as _, Full, combinators::UnsyncBoxBody};
use hyper::{
    Method, Request, Response, StatusCode, body::Incoming, client::conn::http2::SendRequest, header,
};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, pem::PemObject as _};
use serde_json::{Value, json};
use tokio::{
    net::{TcpListener, TcpStream},
    process::{Child, Command},
    sync::{Barrier, mpsc},
    task::JoinSet,
    time::{Instant, sleep, timeout},
};
use tokio_rustls::{TlsAcceptor, TlsConnector};
use tower::ServiceExt as _;

/// Measures berth's API server beside its store, and the `berth` binary's start and memory.
#[derive(Debug, Parser)]
struct Args {
    /// Small counts: a smoke run that checks the benchmark still works, not a measurement.
    #[arg(long)]
    quick: bool,
    /// Which stores to run the API server on (cold start and memory always use SQLite, and are
    /// skipped with `etcd`).
    #[arg(long, value_enum, default_value_t = Backends::All)]
    backend: Backends,
    /// The `berth` binary for cold start and memory; default: `berth` beside this benchmark.
    #[arg(long, value_name = "PATH")]
    berth: Option<PathBuf>,
    /// Only the write figures (for profiling the write path; no reads, watches, cold start or
    /// memory).
    #[arg(long, conflicts_with = "reads_only")]
    writes_only: bool,
    /// Only the GET and LIST figures (for profiling the read path and the transport).
    #[arg(long)]
    reads_only: bool,
    /// The client calls the API server in-process (`LocalService`: no TLS, no HTTP/2, the
    /// loopback identity), so the API figures are the handlers and the store alone; the
    /// difference to a normal run is what the transport costs. Not the figures.
    #[arg(long)]
    in_process: bool,
    /// The client speaks HTTP/1.1 over TLS, a pool of connections (one per request in
    /// flight), as kube-rs and the Python client do; by default one HTTP/2 connection, as
    /// client-go and kubectl.
    #[arg(long, conflicts_with = "in_process")]
    http1: bool,
    /// Only this API write, repeated for `--profile-seconds`, with no store floor beside it:
    /// a loop to run under a profiler (the rate it prints is not a figure of the issue's).
    #[arg(long, value_enum, value_name = "WRITE")]
    profile: Option<Profiled>,
    /// How long `--profile` runs.
    #[arg(long, default_value_t = 10, value_name = "SECONDS")]
    profile_seconds: u64,
}

/// The writes `--profile` can repeat.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Profiled {
    /// Sequential POSTs of new pods.
    Create,
    /// 16 writers POSTing new pods at once.
    Create16,
    /// Sequential read-modify-write PUTs of one pod.
    Put,
    /// Sequential merge PATCHes of one pod.
    Patch,
    /// 16 writers PUTting a pod each at once.
    Put16,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Backends {
    All,
    Sqlite,
    Etcd,
}

/// Concurrent clients in the concurrent figures.
const WRITERS: usize = 16;
/// Watchers in the fan-out figures.
const FAN_OUT: usize = 100;
/// The namespace the write and watch figures use (it exists at start).
const NAMESPACE: &str = "default";
/// The namespace that holds exactly the pods the LIST figures read.
const LIST_NAMESPACE: &str = "bench-list";
/// The annotation every write changes; watchers find the write's number in it.
const SEQ_ANNOTATION: &str = "berth.bench/seq";
/// How long one watch event may take to reach every watcher before the run fails.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long `berth server` gets to answer `/readyz` before the run fails.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How often the cold start figure polls for the CA file and `/readyz`.
const POLL: Duration = Duration::from_millis(2);

// The goals.
/// API writes per second, as a share of the same write on the store alone.
const WRITE_RATIO_GOAL: f64 = 0.5;
const GET_P99_GOAL_MS: f64 = 5.0;
const LIST_P99_GOAL_MS: f64 = 100.0;
const COLD_START_GOAL_MS: f64 = 500.0;
const IDLE_RSS_GOAL_MIB: f64 = 64.0;
/// RSS per stored pod, in KB of 1,000 bytes (the stricter reading of "40 KB").
const RSS_PER_POD_GOAL_KB: f64 = 40.0;

/// How many operations each measurement does.
#[derive(Clone, Copy, Debug)]
struct Counts {
    /// Write throughput is measured in rounds that alternate store and API.
    rounds: usize,
    /// Per round: sequential creates, and as many updates (PUT and merge PATCH).
    sequential: usize,
    /// Per round and writer: concurrent creates, and as many PUTs.
    per_writer: usize,
    gets: usize,
    /// Pods in the LIST namespace.
    list_pods: usize,
    lists: usize,
    /// Writes timed one at a time, each waited for at every watcher.
    watch_events: usize,
    /// Writes sent back to back for the fan-out throughput.
    watch_burst: usize,
    /// Cold starts of each kind (fresh data dir, restart).
    starts: usize,
    /// Pods created in the spawned server for the memory figures.
    stored_pods: usize,
    /// Wait before reading RSS, so the figure is not taken mid-request.
    settle: Duration,
    /// Measure the writes only (`--writes-only`).
    writes_only: bool,
    /// Measure the reads only (`--reads-only`).
    reads_only: bool,
    /// Call the API server in-process (`--in-process`).
    in_process: bool,
    /// HTTP/1.1 instead of HTTP/2 (`--http1`).
    http1: bool,
    /// Repeat one API write alone (`--profile`).
    profile: Option<(Profiled, Duration)>,
}

impl Counts {
    fn new(quick: bool) -> Counts {
        if quick {
            Counts {
                rounds: 1,
                sequential: 20,
                per_writer: 3,
                gets: 50,
                list_pods: 100,
                lists: 3,
                watch_events: 10,
                watch_burst: 10,
                starts: 1,
                stored_pods: 200,
                settle: Duration::from_millis(100),
                writes_only: false,
                reads_only: false,
                in_process: false,
                http1: false,
                profile: None,
            }
        } else {
            Counts {
                rounds: 3,
                sequential: 400,
                per_writer: 40,
                gets: 2000,
                list_pods: 1000,
                lists: 30,
                watch_events: 200,
                watch_burst: 200,
                starts: 5,
                stored_pods: 10_000,
                settle: Duration::from_secs(2),
                writes_only: false,
                reads_only: false,
                in_process: false,
                http1: false,
                profile: None,
            }
        }
    }
}

/// Untimed operations before a timed loop: warm caches, connections and the WAL.
fn warmup(count: usize) -> usize {
    (count / 10).clamp(3, 100)
}

/// The allocator `berth` itself uses (crates/cli/src/main.rs), so the in-process API server
/// costs what it costs in the product.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    // On Ctrl-C the benchmark future is dropped, which kills etcd and `berth` (kill_on_drop)
    // and removes the temp dirs.
    tokio::select! {
        result = run(args) => result,
        signal = tokio::signal::ctrl_c() => {
            signal.context("listening for Ctrl-C")?;
            bail!("interrupted; processes stopped and temp dirs removed")
        }
    }
}

async fn run(args: Args) -> Result<()> {
    let counts = Counts {
        writes_only: args.writes_only,
        reads_only: args.reads_only,
        in_process: args.in_process,
        http1: args.http1,
        profile: args.profile.map(|op| (op, Duration::from_secs(args.profile_seconds))),
        ..Counts::new(args.quick)
    };
    let berth = match args.berth {
        Some(path) => path,
        None => std::env::current_exe()
            .context("finding this benchmark's path")?
            .with_file_name("berth"),
    };
    if args.backend != Backends::Etcd {
        ensure!(
            berth.is_file(),
            "{} is missing: build it first with `cargo build --release -p berth` (with the same \
             CARGO_TARGET_DIR), or pass --berth PATH",
            berth.display()
        );
    }
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let dir = tempfile::Builder::new()
        .prefix("berth-apibench-")
        .tempdir()
        .context("creating a temp dir for the data dirs")?;
    println!(
        "berth API server benchmark ({} run, {cores} cores, {}, data dirs in {})",
        if args.quick { "--quick smoke" } else { "full" },
        if args.in_process {
            "the API called in-process: no TLS, no HTTP/2"
        } else if args.http1 {
            "HTTP/1.1 over TLS, a connection per request in flight"
        } else {
            "one HTTP/2 connection per section"
        },
        dir.path().display()
    );
    if args.quick {
        println!("--quick counts are too small to mean anything; use a full run for numbers");
    }
    let mut rows = Vec::new();
    let mut memory = Vec::new();
    if args.backend != Backends::Etcd {
        let data = dir.path().join("sqlite");
        let path = dir.path().join("sqlite-store.db");
        let store: Arc<dyn Store> = Arc::new(
            SqliteStore::open(&path).with_context(|| format!("opening {}", path.display()))?,
        );
        println!("\n== SQLite store ({}) under the in-process API server", path.display());
        rows.extend(api_section("sqlite", store, &data, counts).await?);
    }
    if args.backend != Backends::Sqlite {
        let etcd = EtcdProcess::start().await.context("starting etcd")?;
        let endpoint = etcd.endpoint();
        println!("\n== etcd store (fresh etcd at {endpoint}) under the in-process API server");
        let config = EtcdConfig { endpoints: vec![endpoint.clone()], prefix: "/bench".into() };
        let store: Arc<dyn Store> = Arc::new(
            EtcdStore::connect(config)
                .await
                .with_context(|| format!("connecting the etcd store to {endpoint}"))?,
        );
        let section = api_section("etcd", store, &dir.path().join("etcd"), counts).await;
        // Kills etcd and removes its data dir, after every client of it is gone.
        drop(etcd);
        rows.extend(section?);
    }
    if args.backend != Backends::Etcd
        && !counts.writes_only
        && !counts.reads_only
        && counts.profile.is_none()
    {
        println!("\n== `berth server` ({}) on SQLite: cold start and memory", berth.display());
        let (start_rows, memory_rows) = binary_section(&berth, dir.path(), counts).await?;
        rows.extend(start_rows);
        memory = memory_rows;
    }
    println!();
    print!("{}", render(&rows));
    if !memory.is_empty() {
        println!();
        print!("{}", render(&memory));
    }
    dir.close().context("removing the temp dir")?;
    Ok(())
}

// === the API on a store, beside the store alone ===

/// Starts the API server on `store` with its PKI in `data_dir`, measures, stops it.
async fn api_section(
    backend: &str,
    store: Arc<dyn Store>,
    data_dir: &Path,
    counts: Counts,
) -> Result<Vec<Row>> {
    let config = ApiServerConfig::new(SocketAddr::from(([127, 0, 0, 1], 0)), data_dir);
    let server =
        berth_apiserver::start(config, store.clone()).await.context("starting the API server")?;
    let api = if counts.in_process {
        Api::in_process(server.local_service())
    } else {
        client(counts, data_dir, server.local_addr()).await?
    };
    let rows = api_figures(backend, &store, api, data_dir, counts).await;
    server.shutdown().await;
    rows
}

/// A client of the HTTPS server at `addr` (the API server or the [`Echo`] beside it), over
/// the transport `counts` asks for, with the admin token of the API server in `data_dir`.
async fn client(counts: Counts, data_dir: &Path, addr: SocketAddr) -> Result<Api> {
    let token = Some(admin_token(data_dir)?);
    if counts.http1 {
        Ok(Api::http1(tls_connector_for(data_dir, b"http/1.1")?, addr, token))
    } else {
        Api::connect(&tls_connector(data_dir)?, addr, token).await
    }
}

async fn api_figures(
    backend: &str,
    store: &Arc<dyn Store>,
    api: Api,
    data_dir: &Path,
    counts: Counts,
) -> Result<Vec<Row>> {
    // The floor writes exactly the bytes the API server stores for a pod.
    api.create_service_account(NAMESPACE).await?;
    let created = api.create_pod(NAMESPACE, "bench-probe").await?;
    let manifest = serde_json::to_vec(&pod("bench-probe"))?.len();
    let stored = store
        .get(&pod_key(NAMESPACE, "bench-probe"))
        .await
        .context("store get")?
        .ok_or_else(|| anyhow!("the pod the API server created is not in the store"))?
        .value;
    println!(
        "  API server at {}; a pod manifest is {manifest} B, stored {} B",
        api.base,
        stored.len()
    );

    if let Some((op, duration)) = counts.profile {
        profile(&api, op, duration).await?;
        return Ok(Vec::new());
    }
    if counts.reads_only {
        return read_figures(backend, store, &api, counts).await;
    }
    // The transport's part of a write, where there is a transport.
    let echo = if counts.in_process { None } else { Some(Echo::start(data_dir, created).await?) };
    let transport = match &echo {
        Some(echo) => Some(client(counts, data_dir, echo.addr).await?),
        None => None,
    };
    let writes = write_figures(backend, store, &api, transport.as_ref(), &stored, counts).await?;
    drop((transport, echo));
    if counts.writes_only {
        return Ok(writes);
    }
    let reads = read_figures(backend, store, &api, counts).await?;
    let watch = watch_figures(backend, store, &api, &stored, counts).await?;
    Ok(writes.into_iter().chain(reads).chain(watch).collect())
}

/// Repeats one API write for `duration` and prints its rate (`--profile`).
async fn profile(api: &Api, op: Profiled, duration: Duration) -> Result<()> {
    async fn repeat(op: &mut impl Op, duration: Duration) -> Result<usize> {
        let start = Instant::now();
        let mut count = 0;
        while start.elapsed() < duration {
            op.once().await?;
            count += 1;
        }
        Ok(count)
    }
    let start = Instant::now();
    let count = match op {
        Profiled::Create => repeat(&mut ApiCreate::new(api, "profile-"), duration).await?,
        Profiled::Put => repeat(&mut ApiPut::new(api, "profile-put").await?, duration).await?,
        Profiled::Patch => {
            repeat(&mut ApiPatch::new(api, "profile-patch").await?, duration).await?
        }
        Profiled::Create16 => {
            let mut writers: Vec<_> =
                (0..WRITERS).map(|w| ApiCreate::new(api, &format!("profile-w{w:02}-"))).collect();
            let mut count = 0;
            while start.elapsed() < duration {
                concurrent(&mut writers, 50).await?;
                count += WRITERS * 50;
            }
            count
        }
        Profiled::Put16 => {
            let mut writers = Vec::new();
            for w in 0..WRITERS {
                writers.push(ApiPut::new(api, &format!("profile-put-w{w:02}")).await?);
            }
            let mut count = 0;
            while start.elapsed() < duration {
                concurrent(&mut writers, 50).await?;
                count += WRITERS * 50;
            }
            count
        }
    };
    let rate = count as f64 / start.elapsed().as_secs_f64();
    println!("  --profile {op:?}: {count} writes, {} per second", thousands(rate as u64));
    Ok(())
}

/// Latencies and the rate of a sequential loop, summed over rounds.
/// Latencies, the rate and the process's CPU time per operation (client, server and store
/// threads together: on a busy machine CPU time moves less than wall time).
#[derive(Debug)]
struct Measured {
    latency: Histogram<u64>,
    rate: Rate,
    cpu: Duration,
    operations: usize,
}

impl Measured {
    fn new() -> Measured {
        Measured {
            latency: latency_histogram(),
            rate: Rate::default(),
            cpu: Duration::ZERO,
            operations: 0,
        }
    }

    /// `count` operations one after the other; returns this round's rate.
    async fn sequential(&mut self, op: &mut impl Op, count: usize) -> Result<f64> {
        let cpu = process_cpu()?;
        let start = Instant::now();
        for _ in 0..count {
            let one = Instant::now();
            op.once().await?;
            record(&mut self.latency, one.elapsed())?;
        }
        let elapsed = start.elapsed();
        self.count_cpu(count, cpu)?;
        Ok(self.rate.add(count, elapsed))
    }

    /// `per_op` operations by each of `ops` at once; returns this round's rate.
    async fn concurrent<O: Op>(&mut self, ops: &mut Vec<O>, per_op: usize) -> Result<f64> {
        let count = ops.len() * per_op;
        let cpu = process_cpu()?;
        let elapsed = concurrent(ops, per_op).await?;
        self.count_cpu(count, cpu)?;
        Ok(self.rate.add(count, elapsed))
    }

    fn count_cpu(&mut self, operations: usize, before: Duration) -> Result<()> {
        self.cpu += process_cpu()?.saturating_sub(before);
        self.operations += operations;
        Ok(())
    }

    /// CPU milliseconds per operation.
    fn cpu_per_op(&self) -> f64 {
        self.cpu.as_secs_f64() * 1000.0 / self.operations.max(1) as f64
    }
}

async fn write_figures(
    backend: &str,
    store: &Arc<dyn Store>,
    api: &Api,
    transport: Option<&Api>,
    stored: &Bytes,
    counts: Counts,
) -> Result<Vec<Row>> {
    let (n, m) = (counts.sequential, counts.per_writer);
    println!(
        "  writes: {} rounds of {n} sequential and {WRITERS} x {m} concurrent, store then API",
        counts.rounds
    );
    let mut store_create = StoreCreate::new(store, "/bench/create/seq/", stored);
    let mut api_create = ApiCreate::new(api, "seq-");
    let mut store_creates: Vec<_> = (0..WRITERS)
        .map(|w| StoreCreate::new(store, &format!("/bench/create/w{w:02}/"), stored))
        .collect();
    let mut api_creates: Vec<_> =
        (0..WRITERS).map(|w| ApiCreate::new(api, &format!("w{w:02}-"))).collect();
    let mut store_update = StoreUpdate::new(store, "/bench/update/seq", stored).await?;
    let mut api_put = ApiPut::new(api, "put-seq").await?;
    let mut api_patch = ApiPatch::new(api, "patch-seq").await?;
    let mut store_updates = Vec::new();
    let mut api_puts = Vec::new();
    for w in 0..WRITERS {
        store_updates
            .push(StoreUpdate::new(store, &format!("/bench/update/w{w:02}"), stored).await?);
        api_puts.push(ApiPut::new(api, &format!("put-w{w:02}")).await?);
    }

    for _ in 0..warmup(n) {
        store_create.once().await?;
        api_create.once().await?;
        store_update.once().await?;
        api_put.once().await?;
        api_patch.once().await?;
    }
    concurrent(&mut store_creates, warmup(m)).await?;
    concurrent(&mut api_creates, warmup(m)).await?;
    concurrent(&mut store_updates, warmup(m)).await?;
    concurrent(&mut api_puts, warmup(m)).await?;
    let mut transport = match transport {
        Some(echo) => Some(TransportWrites::new(echo, counts).await?),
        None => None,
    };

    let mut f: [Measured; 9] = std::array::from_fn(|_| Measured::new());
    for round in 1..=counts.rounds {
        let [s_create, a_create, s_creates, a_creates, s_update, a_put, a_patch, s_updates, a_puts] =
            &mut f;
        let sc = s_create.sequential(&mut store_create, n).await?;
        let ac = a_create.sequential(&mut api_create, n).await?;
        let scc = s_creates.concurrent(&mut store_creates, m).await?;
        let acc = a_creates.concurrent(&mut api_creates, m).await?;
        let su = s_update.sequential(&mut store_update, n).await?;
        let au = a_put.sequential(&mut api_put, n).await?;
        let ap = a_patch.sequential(&mut api_patch, n).await?;
        let suc = s_updates.concurrent(&mut store_updates, m).await?;
        let auc = a_puts.concurrent(&mut api_puts, m).await?;
        println!(
            "  round {round}: create {}/{} ({:.2})  {WRITERS}x create {}/{} ({:.2})  update {}/PUT {} ({:.2}) PATCH {} ({:.2})  {WRITERS}x update {}/PUT {} ({:.2})   [store/API per s]",
            thousands(sc as u64),
            thousands(ac as u64),
            ac / sc,
            thousands(scc as u64),
            thousands(acc as u64),
            acc / scc,
            thousands(su as u64),
            thousands(au as u64),
            au / su,
            thousands(ap as u64),
            ap / su,
            thousands(suc as u64),
            thousands(auc as u64),
            auc / suc,
        );
        if let Some(transport) = &mut transport {
            transport.round(round, counts).await?;
        }
    }
    let [s_create, a_create, s_creates, a_creates, s_update, a_put, a_patch, s_updates, a_puts] =
        &f;
    let write_rate = |name: &str, api: &Measured, floor_name: &str, floor: &Measured| {
        Row::new(format!("{backend} {name}"), Unit::PerSecond, api.rate.per_second())
            .floor(floor_name, floor.rate.per_second())
            .goal(Goal::RatioAtLeast(WRITE_RATIO_GOAL))
    };
    let cpu = |name: &str, api: &Measured, floor_name: &str, floor: &Measured| {
        Row::new(format!("{backend} {name} CPU per op"), Unit::Millis, api.cpu_per_op())
            .floor(format!("{floor_name} CPU per op"), floor.cpu_per_op())
    };
    let mut rows = vec![write_rate("create seq /s", a_create, "store create seq", s_create)];
    rows.extend(latency_rows(
        &format!("{backend} create"),
        a_create,
        "store create",
        s_create,
        None,
    ));
    rows.push(write_rate(
        &format!("create {WRITERS}-writer /s"),
        a_creates,
        &format!("store create {WRITERS}-writer"),
        s_creates,
    ));
    rows.push(write_rate("update PUT seq /s", a_put, "store CAS update seq", s_update));
    rows.extend(latency_rows(
        &format!("{backend} update PUT"),
        a_put,
        "store update",
        s_update,
        None,
    ));
    rows.push(write_rate("merge PATCH seq /s", a_patch, "store CAS update seq", s_update));
    rows.extend(latency_rows(
        &format!("{backend} merge PATCH"),
        a_patch,
        "store update",
        s_update,
        None,
    ));
    rows.push(write_rate(
        &format!("update PUT {WRITERS}-writer /s"),
        a_puts,
        &format!("store update {WRITERS}-writer"),
        s_updates,
    ));
    let n = counts.sequential;
    rows.push(decode_row::<Value>(backend, "JSON tree", stored, n, s_create)?);
    rows.push(decode_row::<k8s_openapi::api::core::v1::Pod>(
        backend,
        "typed Pod",
        stored,
        n,
        s_create,
    )?);
    rows.push(cpu("create seq", a_create, "store create", s_create));
    rows.push(cpu(&format!("create {WRITERS}-writer"), a_creates, "store create", s_creates));
    rows.push(cpu("update PUT seq", a_put, "store update", s_update));
    rows.push(cpu("merge PATCH seq", a_patch, "store update", s_update));
    rows.push(cpu(&format!("update PUT {WRITERS}-writer"), a_puts, "store update", s_updates));
    if let Some(transport) = &transport {
        let [t_create, t_creates, t_put, t_patch, t_puts] = &transport.measured;
        rows.extend([
            transport_alone(backend, "create seq /s", t_create, "store create seq", s_create),
            transport_alone(
                backend,
                &format!("create {WRITERS}-writer /s"),
                t_creates,
                &format!("store create {WRITERS}-writer"),
                s_creates,
            ),
            transport_alone(backend, "update PUT seq /s", t_put, "store CAS update seq", s_update),
        ]);
        rows.extend(latency_rows(
            &format!("{backend} transport alone: create"),
            t_create,
            "store create",
            s_create,
            None,
        ));
        rows.push(cpu("transport alone: create seq", t_create, "store create", s_create));
        let in_series = [
            ("create seq /s", a_create, s_create, t_create),
            (&format!("create {WRITERS}-writer /s"), a_creates, s_creates, t_creates),
            ("update PUT seq /s", a_put, s_update, t_put),
            ("merge PATCH seq /s", a_patch, s_update, t_patch),
            (&format!("update PUT {WRITERS}-writer /s"), a_puts, s_updates, t_puts),
        ];
        for (name, api, store, transport) in in_series {
            rows.push(
                Row::new(
                    format!("{backend} {name} beside store + transport"),
                    Unit::PerSecond,
                    api.rate.per_second(),
                )
                .floor("store, then transport", in_series_rate(store, transport)),
            );
        }
    }
    Ok(rows)
}

/// The rate of an operation that does one `first` and one `second` after the other: their
/// times per operation add up. For the concurrent figures it is a model (both parts share the
/// same two cores), not a measurement.
fn in_series_rate(first: &Measured, second: &Measured) -> f64 {
    let (a, b) = (first.rate.per_second(), second.rate.per_second());
    if a > 0.0 && b > 0.0 { 1.0 / (1.0 / a + 1.0 / b) } else { 0.0 }
}

/// The API's writes sent to the [`Echo`] server instead: what the transport costs each of
/// them, client and server, with no handler and no store.
struct TransportWrites {
    create: ApiCreate,
    creates: Vec<ApiCreate>,
    put: ApiPut,
    patch: ApiPatch,
    puts: Vec<ApiPut>,
    /// Create, create 16-writer, PUT, PATCH, PUT 16-writer.
    measured: [Measured; 5],
}

impl TransportWrites {
    async fn new(echo: &Api, counts: Counts) -> Result<TransportWrites> {
        let mut puts = Vec::new();
        for w in 0..WRITERS {
            puts.push(ApiPut::new(echo, &format!("put-w{w:02}")).await?);
        }
        let mut writes = TransportWrites {
            create: ApiCreate::new(echo, "seq-"),
            creates: (0..WRITERS).map(|w| ApiCreate::new(echo, &format!("w{w:02}-"))).collect(),
            put: ApiPut::new(echo, "put-seq").await?,
            patch: ApiPatch::new(echo, "patch-seq").await?,
            puts,
            measured: std::array::from_fn(|_| Measured::new()),
        };
        let (n, m) = (warmup(counts.sequential), warmup(counts.per_writer));
        for _ in 0..n {
            writes.create.once().await?;
            writes.put.once().await?;
            writes.patch.once().await?;
        }
        concurrent(&mut writes.creates, m).await?;
        concurrent(&mut writes.puts, m).await?;
        Ok(writes)
    }

    /// One round of every write, as many as the API did.
    async fn round(&mut self, round: usize, counts: Counts) -> Result<()> {
        let (n, m) = (counts.sequential, counts.per_writer);
        let [create, creates, put, patch, puts] = &mut self.measured;
        let c = create.sequential(&mut self.create, n).await?;
        let cc = creates.concurrent(&mut self.creates, m).await?;
        let u = put.sequential(&mut self.put, n).await?;
        let p = patch.sequential(&mut self.patch, n).await?;
        let uc = puts.concurrent(&mut self.puts, m).await?;
        println!(
            "  round {round}, transport alone: create {}  {WRITERS}x create {}  PUT {}  PATCH {}  {WRITERS}x PUT {}   [per s]",
            thousands(c as u64),
            thousands(cc as u64),
            thousands(u as u64),
            thousands(p as u64),
            thousands(uc as u64),
        );
        Ok(())
    }
}

/// A transport rate beside the store's.
fn transport_alone(
    backend: &str,
    name: &str,
    transport: &Measured,
    floor_name: &str,
    floor: &Measured,
) -> Row {
    Row::new(
        format!("{backend} transport alone: {name}"),
        Unit::PerSecond,
        transport.rate.per_second(),
    )
    .floor(floor_name, floor.rate.per_second())
}

// === the transport alone ===

/// An HTTPS server that answers the API's writes what the API server answered them, with
/// nothing in between: the API server's own certificate, hyper's HTTP/2 and HTTP/1.1 as the
/// API server serves them, each request's body read whole. A POST gets the probe pod's create
/// answer (201), a PATCH the same bytes (200), a PUT its own body back (200: the answer to a
/// PUT is the object written, and the benchmark's PUT edits the answer it got). A write sent
/// here costs what the transport costs an API write (TLS and HTTP framing on both ends, the
/// bodies both ways, the wake-ups) and nothing else.
struct Echo {
    addr: SocketAddr,
    /// The accept loop; aborting it drops (and so aborts) the connections' tasks.
    task: tokio::task::JoinHandle<()>,
}

impl Echo {
    async fn start(data_dir: &Path, created: Bytes) -> Result<Echo> {
        let pki = data_dir.join("pki");
        let cert_path = pki.join("server.crt");
        let cert = CertificateDer::from_pem_file(&cert_path)
            .with_context(|| format!("reading {}", cert_path.display()))?;
        let key_path = pki.join("server.key");
        let key = PrivateKeyDer::from_pem_file(&key_path)
            .with_context(|| format!("reading {}", key_path.display()))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut tls = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(vec![cert], key)
            .context("the echo server's TLS configuration")?;
        tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let acceptor = TlsAcceptor::from(Arc::new(tls));
        let listener = TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0))
            .await
            .context("binding the echo server")?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            let mut connections = JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                connections.spawn(echo_connection(stream, acceptor.clone(), created.clone()));
            }
        });
        Ok(Echo { addr, task })
    }
}

impl Drop for Echo {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One connection to the [`Echo`] server, served as the API server serves its own.
async fn echo_connection(stream: TcpStream, acceptor: TlsAcceptor, created: Bytes) {
    let _ = stream.set_nodelay(true);
    let Ok(tls) = acceptor.accept(stream).await else { return };
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        let created = created.clone();
        async move {
            let method = request.method().clone();
            let body = request.into_body().collect().await?.to_bytes();
            let (status, answer) = match method {
                Method::POST => (StatusCode::CREATED, created),
                Method::PUT => (StatusCode::OK, body),
                _ => (StatusCode::OK, created),
            };
            let mut response = Response::new(Full::new(answer));
            *response.status_mut() = status;
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, header::HeaderValue::from_static("application/json"));
            Ok::<_, hyper::Error>(response)
        }
    });
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder.http2().timer(hyper_util::rt::TokioTimer::new());
    if let Err(error) = builder.serve_connection(TokioIo::new(tls), service).await {
        println!("  the echo server's connection ended: {error}");
    }
}

/// What decoding the stored pod into a `T` and dropping it costs, in ms per pod, sequentially
/// on this thread, beside the store's create: a `serde_json::Value` (a JSON tree, as the
/// handlers hold objects) or `k8s_openapi`'s `Pod` (typed structs, as kube-rs clients and
/// Kubernetes' Go code hold them). A reference for the handlers' share, not a goal.
fn decode_row<T: serde::de::DeserializeOwned>(
    backend: &str,
    what: &str,
    stored: &Bytes,
    count: usize,
    create: &Measured,
) -> Result<Row> {
    // A decode that failed part way would be timed short.
    serde_json::from_slice::<T>(stored)
        .with_context(|| format!("decoding the stored pod as a {what}"))?;
    let start = Instant::now();
    for _ in 0..count {
        let decoded = serde_json::from_slice::<T>(stored);
        std::hint::black_box(&decoded);
    }
    let per_pod = millis(start.elapsed()) / count.max(1) as f64;
    println!("  the stored pod as a {what}: {:.1} µs to decode and drop", per_pod * 1000.0);
    Ok(Row::new(format!("{backend} decode the stored pod ({what})"), Unit::Millis, per_pod)
        .floor("store create p50", quantile_ms(&create.latency, 0.5)))
}

/// This process's CPU time so far (user and system, every thread), from `/proc/self/stat`
/// in clock ticks of 10 ms (Linux's USER_HZ is 100).
fn process_cpu() -> Result<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").context("reading /proc/self/stat")?;
    // The command name (field 2) may hold spaces; utime and stime are fields 14 and 15.
    let after_name = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or_default();
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| -> Result<u64> {
        let field = fields.get(i).ok_or_else(|| anyhow!("/proc/self/stat is too short"))?;
        field.parse().with_context(|| format!("/proc/self/stat field {field:?}"))
    };
    // After the name, field 3 (state) is index 0: utime (14) is 11, stime (15) is 12.
    Ok(Duration::from_millis((ticks(11)? + ticks(12)?) * 10))
}

async fn read_figures(
    backend: &str,
    store: &Arc<dyn Store>,
    api: &Api,
    counts: Counts,
) -> Result<Vec<Row>> {
    let pods = counts.list_pods;
    api.call(
        Method::POST,
        "/api/v1/namespaces",
        Some("application/json"),
        None,
        Bytes::from(
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": LIST_NAMESPACE}})
                .to_string(),
        ),
        StatusCode::CREATED,
    )
    .await?;
    api.create_service_account(LIST_NAMESPACE).await?;
    let fill_start = Instant::now();
    let mut fill: Vec<_> = (0..WRITERS)
        .map(|w| {
            let mut create = ApiCreate::new(api, &format!("l{w:02}-"));
            create.namespace = LIST_NAMESPACE;
            create
        })
        .collect();
    let per_writer = pods / WRITERS;
    concurrent(&mut fill, per_writer).await?;
    for create in fill.iter_mut().take(pods % WRITERS) {
        create.once().await?;
    }
    let prefix = format!("/registry/core/pods/{LIST_NAMESPACE}/");
    let page = store.range(&RangeRequest::prefix(&prefix)).await.context("store range")?;
    ensure!(page.kvs.len() == pods, "{} pods in {LIST_NAMESPACE}, not {pods}", page.kvs.len());
    println!(
        "  reads: {pods} pods created in {LIST_NAMESPACE} in {:.1} s; {} GETs, {} LISTs of each kind",
        fill_start.elapsed().as_secs_f64(),
        counts.gets,
        counts.lists
    );
    let keys: Arc<Vec<String>> = Arc::new(page.kvs.iter().map(|kv| kv.key.clone()).collect());
    let paths: Arc<Vec<String>> = Arc::new(
        keys.iter()
            .map(|key| format!("/api/v1/namespaces/{LIST_NAMESPACE}/pods/{}", &key[prefix.len()..]))
            .collect(),
    );

    // GET: one object by name, cycling over the pods.
    let mut store_get = StoreGet { store: store.clone(), keys: keys.clone(), next: 0 };
    let mut api_get = ApiGet { api: api.clone(), paths: paths.clone(), next: 0 };
    // The transport alone: an authenticated `GET /version` goes through TLS, HTTP/2 on both
    // ends, authentication and the router, but no store and no object.
    let versions = Arc::new(vec!["/version".to_owned()]);
    let mut api_version = ApiGet { api: api.clone(), paths: versions, next: 0 };
    let (mut s_get, mut a_get, mut a_version) = (Measured::new(), Measured::new(), Measured::new());
    warm(&mut store_get, warmup(counts.gets)).await?;
    warm(&mut api_get, warmup(counts.gets)).await?;
    warm(&mut api_version, warmup(counts.gets)).await?;
    // Two halves, store then API each time, so drift hits both.
    for _ in 0..2 {
        s_get.sequential(&mut store_get, counts.gets / 2).await?;
        a_get.sequential(&mut api_get, counts.gets / 2).await?;
        a_version.sequential(&mut api_version, counts.gets / 2).await?;
    }
    let per_getter = (counts.gets / WRITERS).max(1);
    let mut store_gets: Vec<_> = (0..WRITERS)
        .map(|w| StoreGet { store: store.clone(), keys: keys.clone(), next: w * 61 })
        .collect();
    let mut api_gets: Vec<_> = (0..WRITERS)
        .map(|w| ApiGet { api: api.clone(), paths: paths.clone(), next: w * 61 })
        .collect();
    let (mut s_gets, mut a_gets) = (Measured::new(), Measured::new());
    s_gets.concurrent(&mut store_gets, per_getter).await?;
    a_gets.concurrent(&mut api_gets, per_getter).await?;
    print_latency("store get", &s_get.latency);
    print_latency("API GET", &a_get.latency);
    print_latency("API GET /version", &a_version.latency);

    // LIST: the whole namespace, as JSON and as a Table (what `kubectl get pods` asks for).
    // The timed loop reads the whole body; the item count is checked once, untimed, here.
    let mut store_range = StoreRange { store: store.clone(), prefix: prefix.clone(), pods };
    let list_path = format!("/api/v1/namespaces/{LIST_NAMESPACE}/pods");
    let mut api_list = ApiList { api: api.clone(), path: list_path.clone(), accept: None };
    let mut api_table = ApiList { api: api.clone(), path: list_path, accept: Some(TABLE) };
    let list: Value = serde_json::from_slice(&api_list.read().await?)?;
    ensure!(
        list["items"].as_array().map(Vec::len) == Some(pods),
        "the API's list of {LIST_NAMESPACE} does not hold {pods} items"
    );
    let table: Value = serde_json::from_slice(&api_table.read().await?)?;
    ensure!(
        table["kind"] == "Table" && table["rows"].as_array().map(Vec::len) == Some(pods),
        "the API's Table of {LIST_NAMESPACE} does not hold {pods} rows"
    );
    let (mut s_range, mut a_list, mut a_table) =
        (Measured::new(), Measured::new(), Measured::new());
    warm(&mut store_range, warmup(counts.lists)).await?;
    warm(&mut api_list, warmup(counts.lists)).await?;
    warm(&mut api_table, warmup(counts.lists)).await?;
    for _ in 0..2 {
        let half = counts.lists.div_ceil(2);
        s_range.sequential(&mut store_range, half).await?;
        a_list.sequential(&mut api_list, half).await?;
        a_table.sequential(&mut api_table, half).await?;
    }
    print_latency(&format!("store range {pods} keys"), &s_range.latency);
    print_latency(&format!("API LIST {pods} pods"), &a_list.latency);
    print_latency(&format!("API LIST {pods} pods as Table"), &a_table.latency);

    let mut rows =
        latency_rows(&format!("{backend} GET"), &a_get, "store get", &s_get, Some(GET_P99_GOAL_MS))
            .to_vec();
    rows.push(
        Row::new(format!("{backend} GET seq /s"), Unit::PerSecond, a_get.rate.per_second())
            .floor("store get seq", s_get.rate.per_second()),
    );
    rows.extend(latency_rows(
        &format!("{backend} GET /version (transport)"),
        &a_version,
        "store get",
        &s_get,
        None,
    ));
    rows.push(
        Row::new(format!("{backend} GET CPU per op"), Unit::Millis, a_get.cpu_per_op())
            .floor("GET /version CPU per op", a_version.cpu_per_op()),
    );
    rows.push(
        Row::new(
            format!("{backend} GET {WRITERS}-client /s"),
            Unit::PerSecond,
            a_gets.rate.per_second(),
        )
        .floor(format!("store get {WRITERS}-client"), s_gets.rate.per_second()),
    );
    let range_name = format!("store range {pods}");
    rows.extend(latency_rows(
        &format!("{backend} LIST {pods} pods"),
        &a_list,
        &range_name,
        &s_range,
        Some(LIST_P99_GOAL_MS),
    ));
    rows.extend(latency_rows(
        &format!("{backend} LIST {pods} pods Table"),
        &a_table,
        &range_name,
        &s_range,
        Some(LIST_P99_GOAL_MS),
    ));
    rows.push(
        Row::new(
            format!("{backend} LIST {pods} pods /s"),
            Unit::PerSecond,
            a_list.rate.per_second(),
        )
        .floor(format!("{range_name} /s"), s_range.rate.per_second()),
    );
    Ok(rows)
}

async fn watch_figures(
    backend: &str,
    store: &Arc<dyn Store>,
    api: &Api,
    stored: &Bytes,
    counts: Counts,
) -> Result<Vec<Row>> {
    println!(
        "  watch: {FAN_OUT} watchers, {} writes one at a time, then {} back to back",
        counts.watch_events, counts.watch_burst
    );
    // The floor: store watches on a prefix of their own, written by CAS updates.
    let prefix = "/bench/watch/";
    let mut writer = StoreUpdate::new(store, &format!("{prefix}key"), stored).await?;
    let (delivered, mut deliveries) = mpsc::unbounded_channel();
    let mut watchers = JoinSet::new();
    for _ in 0..FAN_OUT {
        let mut watch = store.watch(prefix, writer.kv.mod_revision).await.context("store watch")?;
        let delivered = delivered.clone();
        watchers.spawn(async move {
            loop {
                let event = watch.next().await;
                let at = Instant::now();
                let message = match event {
                    Ok(Event::Put { kv, .. }) => Ok((kv.mod_revision.0 as u64, at)),
                    Ok(other) => Err(anyhow!("unexpected watch event {other:?}")),
                    Err(error) => Err(anyhow::Error::new(error).context("store watch")),
                };
                let failed = message.is_err();
                if delivered.send(message).is_err() || failed {
                    return;
                }
            }
        });
    }
    drop(delivered);
    let (floor_latency, floor_rate) = fan_out(&mut writer, &mut deliveries, counts).await?;
    watchers.abort_all();
    print_latency(&format!("store watch, {FAN_OUT} watchers"), &floor_latency);

    // The API: watches on the namespace from the watched pod's resourceVersion, written by
    // merge patches of one annotation.
    let mut writer = ApiPatch::new(api, "watched").await?;
    let rv = writer.resource_version.clone();
    let (delivered, mut deliveries) = mpsc::unbounded_channel();
    let mut watchers = JoinSet::new();
    for _ in 0..FAN_OUT {
        let path = format!("/api/v1/namespaces/{NAMESPACE}/pods?watch=1&resourceVersion={rv}");
        let response = api.send(api.request(Method::GET, &path, None, None, Bytes::new())?).await?;
        ensure!(response.status() == StatusCode::OK, "watch {path}: {}", response.status());
        spawn_api_watcher(&mut watchers, response.into_body(), delivered.clone());
    }
    drop(delivered);
    let (api_latency, api_rate) = fan_out(&mut writer, &mut deliveries, counts).await?;
    watchers.abort_all();
    print_latency(&format!("API watch, {FAN_OUT} watchers"), &api_latency);
    println!(
        "  back to back: store {:.0} events/s, API {:.0} events/s to all {FAN_OUT} watchers",
        floor_rate, api_rate
    );

    let name = format!("{backend} watch {FAN_OUT} watchers");
    let mut rows = [("p50", 0.5), ("p99", 0.99)]
        .map(|(label, quantile)| {
            Row::new(format!("{name} {label}"), Unit::Millis, quantile_ms(&api_latency, quantile))
                .floor(
                    format!("store watch {FAN_OUT} {label}"),
                    quantile_ms(&floor_latency, quantile),
                )
        })
        .to_vec();
    rows.push(
        Row::new(format!("{name} events/s"), Unit::PerSecond, api_rate)
            .floor(format!("store watch {FAN_OUT} events/s"), floor_rate),
    );
    Ok(rows)
}

/// Something a watch fan-out figure writes: returns the number the watchers report for it.
trait WatchedWrite {
    fn write(&mut self) -> impl Future<Output = Result<u64>> + Send;
}

/// Watch latency (from just before the write to each watcher's delivery; every write reaches
/// every watcher before the next, so this is latency, not queueing), then throughput: writes
/// back to back, timed until the last watcher has the last one (events/s to all watchers).
async fn fan_out(
    writer: &mut impl WatchedWrite,
    deliveries: &mut mpsc::UnboundedReceiver<Result<(u64, Instant)>>,
    counts: Counts,
) -> Result<(Histogram<u64>, f64)> {
    let mut receive = async || -> Result<(u64, Instant)> {
        timeout(DELIVERY_TIMEOUT, deliveries.recv())
            .await
            .map_err(|_| anyhow!("a watch event did not arrive within {DELIVERY_TIMEOUT:?}"))?
            .ok_or_else(|| anyhow!("every watcher stopped early"))?
    };
    let mut latency = latency_histogram();
    let events = counts.watch_events;
    for i in 0..warmup(events) + events {
        let start = Instant::now();
        let id = writer.write().await?;
        for _ in 0..FAN_OUT {
            let (got, at) = receive().await?;
            ensure!(got == id, "a watcher got write {got} while {id} was expected");
            if i >= warmup(events) {
                record(&mut latency, at - start)?;
            }
        }
    }
    let start = Instant::now();
    let mut last = 0;
    for _ in 0..counts.watch_burst {
        last = writer.write().await?;
    }
    let mut end = start;
    let mut at_last = 0;
    for _ in 0..counts.watch_burst * FAN_OUT {
        let (got, at) = receive().await?;
        ensure!(got <= last, "a watcher got write {got}, after the last ({last})");
        at_last += usize::from(got == last);
        end = end.max(at);
    }
    ensure!(at_last == FAN_OUT, "{at_last} of {FAN_OUT} watchers got the last write");
    let rate = counts.watch_burst as f64 / (end - start).as_secs_f64();
    Ok((latency, rate))
}

/// Reads a watch's chunked JSON lines; reports each line's [`SEQ_ANNOTATION`] and when the
/// chunk that completed it arrived.
fn spawn_api_watcher(
    tasks: &mut JoinSet<()>,
    mut body: AnswerBody,
    delivered: mpsc::UnboundedSender<Result<(u64, Instant)>>,
) {
    tasks.spawn(async move {
        let mut buffer: Vec<u8> = Vec::new();
        loop {
            let frame = match body.frame().await {
                Some(Ok(frame)) => frame,
                Some(Err(error)) => {
                    let _ = delivered.send(Err(error.context("a watch")));
                    return;
                }
                None => {
                    let _ = delivered.send(Err(anyhow!("a watch ended")));
                    return;
                }
            };
            let at = Instant::now();
            let Ok(data) = frame.into_data() else { continue };
            buffer.extend_from_slice(&data);
            while let Some(end) = buffer.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = buffer.drain(..=end).collect();
                let message = seq_of(&line).map(|seq| (seq, at)).ok_or_else(|| {
                    anyhow!(
                        "a watch line without {SEQ_ANNOTATION}: {}",
                        String::from_utf8_lossy(&line[..line.len().min(300)])
                    )
                });
                let failed = message.is_err();
                if delivered.send(message).is_err() || failed {
                    return;
                }
            }
        }
    });
}

/// The value of [`SEQ_ANNOTATION`] in a compact JSON line, without parsing the line.
fn seq_of(line: &[u8]) -> Option<u64> {
    let needle = format!("\"{SEQ_ANNOTATION}\":\"");
    let start = line.windows(needle.len()).position(|w| w == needle.as_bytes())? + needle.len();
    let rest = &line[start..];
    let end = rest.iter().position(|b| *b == b'"')?;
    std::str::from_utf8(&rest[..end]).ok()?.parse().ok()
}

// === the operations ===

/// One operation of a timed loop, repeated.
trait Op: Send + 'static {
    fn once(&mut self) -> impl Future<Output = Result<()>> + Send;
}

async fn warm(op: &mut impl Op, count: usize) -> Result<()> {
    for _ in 0..count {
        op.once().await?;
    }
    Ok(())
}

/// `per_op` operations by every op, started together; how long they took together.
async fn concurrent<O: Op>(ops: &mut Vec<O>, per_op: usize) -> Result<Duration> {
    let barrier = Arc::new(Barrier::new(ops.len() + 1));
    let mut tasks = JoinSet::new();
    for mut op in ops.drain(..) {
        let barrier = barrier.clone();
        tasks.spawn(async move {
            barrier.wait().await;
            for _ in 0..per_op {
                op.once().await?;
            }
            Ok::<_, anyhow::Error>(op)
        });
    }
    barrier.wait().await;
    let start = Instant::now();
    while let Some(joined) = tasks.join_next().await {
        ops.push(joined.context("a concurrent task")??);
    }
    Ok(start.elapsed())
}

/// Creates new keys under a prefix, each holding a stored pod's bytes.
struct StoreCreate {
    store: Arc<dyn Store>,
    prefix: String,
    value: Bytes,
    next: usize,
}

impl StoreCreate {
    fn new(store: &Arc<dyn Store>, prefix: &str, value: &Bytes) -> StoreCreate {
        StoreCreate { store: store.clone(), prefix: prefix.into(), value: value.clone(), next: 0 }
    }
}

impl Op for StoreCreate {
    async fn once(&mut self) -> Result<()> {
        let key = format!("{}{:06}", self.prefix, self.next);
        self.next += 1;
        self.store.create(&key, self.value.clone()).await.context("store create")?;
        Ok(())
    }
}

/// POSTs new pods.
struct ApiCreate {
    api: Api,
    namespace: &'static str,
    prefix: String,
    next: usize,
}

impl ApiCreate {
    fn new(api: &Api, prefix: &str) -> ApiCreate {
        ApiCreate { api: api.clone(), namespace: NAMESPACE, prefix: prefix.into(), next: 0 }
    }
}

impl Op for ApiCreate {
    async fn once(&mut self) -> Result<()> {
        let name = format!("{}{:06}", self.prefix, self.next);
        self.next += 1;
        self.api.create_pod(self.namespace, &name).await.map(drop)
    }
}

/// Compare-and-swap updates of one key with the revision the last update returned.
struct StoreUpdate {
    store: Arc<dyn Store>,
    kv: KeyValue,
    value: Bytes,
}

impl StoreUpdate {
    async fn new(store: &Arc<dyn Store>, key: &str, value: &Bytes) -> Result<StoreUpdate> {
        let kv = store.create(key, value.clone()).await.context("store create")?;
        Ok(StoreUpdate { store: store.clone(), kv, value: value.clone() })
    }
}

impl Op for StoreUpdate {
    async fn once(&mut self) -> Result<()> {
        self.write().await.map(drop)
    }
}

impl WatchedWrite for StoreUpdate {
    async fn write(&mut self) -> Result<u64> {
        let StoreUpdate { store, kv, value } = self;
        *kv =
            store.update(&kv.key, value.clone(), kv.mod_revision).await.context("store update")?;
        Ok(kv.mod_revision.0 as u64)
    }
}

/// PUTs one pod back with a changed annotation and the resourceVersion the last PUT returned
/// (as a client's read-modify-write does), parsing each answer for the next.
struct ApiPut {
    api: Api,
    path: String,
    /// The object as the last answer had it: the next PUT sends it back with the
    /// annotation changed.
    object: Vec<u8>,
    seq: u64,
}

impl ApiPut {
    async fn new(api: &Api, name: &str) -> Result<ApiPut> {
        let mut object: Value = serde_json::from_slice(&api.create_pod(NAMESPACE, name).await?)?;
        object["metadata"]["annotations"][SEQ_ANNOTATION] = json!("0");
        let path = format!("/api/v1/namespaces/{NAMESPACE}/pods/{name}");
        let mut put = ApiPut { api: api.clone(), path, object: Vec::new(), seq: 0 };
        put.object = put.put(Bytes::from(serde_json::to_vec(&object)?)).await?;
        Ok(put)
    }

    async fn put(&self, body: Bytes) -> Result<Vec<u8>> {
        let answer = self
            .api
            .call(Method::PUT, &self.path, Some("application/json"), None, body, StatusCode::OK)
            .await?;
        Ok(answer.into())
    }
}

impl Op for ApiPut {
    /// Edits the annotation in the answer's text, as a client editing what it read would:
    /// everything else, resourceVersion and managedFields included, goes back as it came.
    async fn once(&mut self) -> Result<()> {
        let was = format!("\"{SEQ_ANNOTATION}\":\"{}\"", self.seq);
        self.seq += 1;
        let now = format!("\"{SEQ_ANNOTATION}\":\"{}\"", self.seq);
        let text = std::str::from_utf8(&self.object).context("a PUT's answer is not UTF-8")?;
        ensure!(text.matches(&was).count() == 1, "the last PUT's answer lacks {was}");
        let body = Bytes::from(text.replacen(&was, &now, 1));
        self.object = self.put(body).await?;
        Ok(())
    }
}

/// Merge-patches one annotation of one pod (no resourceVersion: the server retries its CAS).
struct ApiPatch {
    api: Api,
    path: String,
    resource_version: String,
    seq: u64,
}

impl ApiPatch {
    async fn new(api: &Api, name: &str) -> Result<ApiPatch> {
        let created: Value = serde_json::from_slice(&api.create_pod(NAMESPACE, name).await?)?;
        let resource_version = created["metadata"]["resourceVersion"]
            .as_str()
            .ok_or_else(|| anyhow!("a created pod without a resourceVersion"))?
            .to_owned();
        let path = format!("/api/v1/namespaces/{NAMESPACE}/pods/{name}");
        Ok(ApiPatch { api: api.clone(), path, resource_version, seq: 0 })
    }
}

impl Op for ApiPatch {
    async fn once(&mut self) -> Result<()> {
        self.write().await.map(drop)
    }
}

impl WatchedWrite for ApiPatch {
    async fn write(&mut self) -> Result<u64> {
        self.seq += 1;
        let patch = json!({"metadata": {"annotations": {SEQ_ANNOTATION: self.seq.to_string()}}});
        let content_type = Some("application/merge-patch+json");
        let body = Bytes::from(patch.to_string());
        self.api.call(Method::PATCH, &self.path, content_type, None, body, StatusCode::OK).await?;
        Ok(self.seq)
    }
}

/// Gets keys in turn.
struct StoreGet {
    store: Arc<dyn Store>,
    keys: Arc<Vec<String>>,
    next: usize,
}

impl Op for StoreGet {
    async fn once(&mut self) -> Result<()> {
        let key = &self.keys[self.next % self.keys.len()];
        self.next += 1;
        let kv = self.store.get(key).await.context("store get")?;
        ensure!(kv.is_some(), "{key} is missing");
        Ok(())
    }
}

/// GETs pods in turn.
struct ApiGet {
    api: Api,
    paths: Arc<Vec<String>>,
    next: usize,
}

impl Op for ApiGet {
    async fn once(&mut self) -> Result<()> {
        let path = &self.paths[self.next % self.paths.len()];
        self.next += 1;
        self.api.call(Method::GET, path, None, None, Bytes::new(), StatusCode::OK).await.map(drop)
    }
}

/// Reads every key under a prefix in one range (the store pages internally).
struct StoreRange {
    store: Arc<dyn Store>,
    prefix: String,
    pods: usize,
}

impl Op for StoreRange {
    async fn once(&mut self) -> Result<()> {
        let page = self.store.range(&RangeRequest::prefix(&self.prefix)).await;
        let page = page.context("store range")?;
        ensure!(page.kvs.len() == self.pods && !page.more, "store range read {}", page.kvs.len());
        Ok(())
    }
}

/// The `Accept` header kubectl sends for `kubectl get`.
const TABLE: &str = "application/json;as=Table;v=v1;g=meta.k8s.io";

/// LISTs a namespace's pods, reading the whole answer.
struct ApiList {
    api: Api,
    path: String,
    accept: Option<&'static str>,
}

impl ApiList {
    async fn read(&self) -> Result<Bytes> {
        self.api
            .call(Method::GET, &self.path, None, self.accept, Bytes::new(), StatusCode::OK)
            .await
    }
}

impl Op for ApiList {
    async fn once(&mut self) -> Result<()> {
        self.read().await.map(drop)
    }
}

// === the client ===

/// The API server as the benchmark reaches it: one HTTP/2 connection over TLS (clones share it,
/// each request a stream on it), or the router in-process.
#[derive(Clone, Debug)]
struct Api {
    send: Transport,
    /// `https://127.0.0.1:PORT`: HTTP/2 requests carry the scheme and authority.
    base: String,
    /// `Bearer <admin token>`, or none for the open endpoints.
    authorization: Option<String>,
}

impl Api {
    async fn connect(
        connector: &TlsConnector,
        addr: SocketAddr,
        token: Option<String>,
    ) -> Result<Api> {
        let tcp =
            TcpStream::connect(addr).await.with_context(|| format!("connecting to {addr}"))?;
        tcp.set_nodelay(true).context("setting TCP_NODELAY")?;
        let tls = connector
            .connect(ServerName::try_from("localhost")?, tcp)
            .await
            .with_context(|| format!("TLS handshake with {addr}"))?;
        ensure!(
            tls.get_ref().1.alpn_protocol() == Some(b"h2"),
            "the API server at {addr} did not agree to HTTP/2"
        );
        // hyper's defaults: 2 MiB per stream and 5 MiB per connection of receive window, so a
        // LIST of a few MB is not throttled by flow control.
        let (send, connection) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
            .handshake(TokioIo::new(tls))
            .await
            .context("HTTP/2 handshake")?;
        // Ends when every clone of `send` is gone, or the server closes the connection.
        tokio::spawn(connection);
        let authorization = token.map(|token| format!("Bearer {token}"));
        Ok(Api { send: Transport::Http2(send), base: format!("https://{addr}"), authorization })
    }

    /// HTTP/1.1 over TLS: a pool of connections, a new one when every pooled one is busy.
    fn http1(connector: TlsConnector, addr: SocketAddr, token: Option<String>) -> Api {
        let pool = Arc::new(Http1Pool { connector, addr, idle: std::sync::Mutex::default() });
        let authorization = token.map(|token| format!("Bearer {token}"));
        Api { send: Transport::Http1(pool), base: String::new(), authorization }
    }

    /// Requests go straight to the API server's router, as the controllers' do.
    fn in_process(local: LocalService) -> Api {
        Api { send: Transport::Local(local), base: "http://in-process".into(), authorization: None }
    }

    fn request(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        accept: Option<&str>,
        body: Bytes,
    ) -> Result<Request<Full<Bytes>>> {
        let mut request = Request::builder().method(method).uri(format!("{}{path}", self.base));
        if let Transport::Http1(pool) = &self.send {
            // HTTP/1.1 requests name the path; the authority goes in Host.
            request = request.header(header::HOST, pool.addr.to_string());
        }
        if let Some(authorization) = &self.authorization {
            request = request.header(header::AUTHORIZATION, authorization.as_str());
        }
        if let Some(content_type) = content_type {
            request = request.header(header::CONTENT_TYPE, content_type);
        }
        request = request.header(header::ACCEPT, accept.unwrap_or("application/json"));
        request.body(Full::new(body)).context("building a request")
    }

    async fn send(&self, request: Request<Full<Bytes>>) -> Result<Response<AnswerBody>> {
        match &self.send {
            Transport::Http2(send) => {
                let mut send = send.clone();
                send.ready().await.context("the HTTP/2 connection")?;
                let response = send.send_request(request).await.context("sending a request")?;
                Ok(response.map(|body| body.map_err(anyhow::Error::new).boxed_unsync()))
            }
            Transport::Http1(pool) => {
                let mut send = pool.checkout().await?;
                let response = send.send_request(request).await.context("sending a request")?;
                let pool = pool.clone();
                Ok(response.map(|body| {
                    Returning { body, connection: Some((send, pool)) }
                        .map_err(anyhow::Error::new)
                        .boxed_unsync()
                }))
            }
            Transport::Local(local) => {
                let response =
                    local.clone().oneshot(request).await.unwrap_or_else(|never| match never {});
                Ok(response.map(|body| body.map_err(anyhow::Error::new).boxed_unsync()))
            }
        }
    }

    /// One request, its whole answer read; the answer's body if the status is `expect`.
    async fn call(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        accept: Option<&str>,
        body: Bytes,
        expect: StatusCode,
    ) -> Result<Bytes> {
        let response =
            self.send(self.request(method.clone(), path, content_type, accept, body)?).await?;
        let status = response.status();
        let body = response.into_body().collect().await.context("reading an answer")?.to_bytes();
        ensure!(
            status == expect,
            "{method} {path}: {status}: {}",
            String::from_utf8_lossy(&body[..body.len().min(500)])
        );
        Ok(body)
    }

    /// POSTs [`pod`] named `name`; the created object as the server answered it.
    /// The `default` ServiceAccount pods need (the ServiceAccount admission plugin refuses
    /// pods without it; in a cluster the service-account controller creates it).
    async fn create_service_account(&self, namespace: &str) -> Result<()> {
        let account =
            json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}});
        let path = format!("/api/v1/namespaces/{namespace}/serviceaccounts");
        let existing = format!("{path}/default");
        if self.call(Method::GET, &existing, None, None, Bytes::new(), StatusCode::OK).await.is_ok()
        {
            return Ok(());
        }
        let body = Bytes::from(account.to_string());
        self.call(Method::POST, &path, Some("application/json"), None, body, StatusCode::CREATED)
            .await
            .map(drop)
    }

    async fn create_pod(&self, namespace: &str, name: &str) -> Result<Bytes> {
        let body = pod_body(name);
        let path = format!("/api/v1/namespaces/{namespace}/pods");
        self.call(Method::POST, &path, Some("application/json"), None, body, StatusCode::CREATED)
            .await
    }
}

/// How the benchmark's client reaches the API server.
#[derive(Clone, Debug)]
enum Transport {
    /// One HTTP/2 connection over TLS: the figures.
    Http2(SendRequest<Full<Bytes>>),
    /// HTTP/1.1 connections over TLS (`--http1`).
    Http1(Arc<Http1Pool>),
    /// The router in-process (`--in-process`).
    Local(LocalService),
}

type Http1Send = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

/// Idle HTTP/1.1 connections to one server.
struct Http1Pool {
    connector: TlsConnector,
    addr: SocketAddr,
    idle: std::sync::Mutex<Vec<Http1Send>>,
}

impl std::fmt::Debug for Http1Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Http1Pool").field("addr", &self.addr).finish_non_exhaustive()
    }
}

impl Http1Pool {
    /// An idle connection, or a new one.
    async fn checkout(&self) -> Result<Http1Send> {
        loop {
            let idle = self.idle.lock().map_err(|_| anyhow!("the pool's lock"))?.pop();
            let Some(mut send) = idle else { break };
            if send.ready().await.is_ok() {
                return Ok(send);
            }
        }
        let tcp = TcpStream::connect(self.addr)
            .await
            .with_context(|| format!("connecting to {}", self.addr))?;
        tcp.set_nodelay(true).context("setting TCP_NODELAY")?;
        let tls = self
            .connector
            .connect(ServerName::try_from("localhost")?, tcp)
            .await
            .with_context(|| format!("TLS handshake with {}", self.addr))?;
        let (send, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .context("HTTP/1.1 handshake")?;
        tokio::spawn(connection);
        Ok(send)
    }
}

/// An HTTP/1.1 answer's body; its connection goes back to the pool once the body was read
/// to its end (a watch's connection, dropped mid-stream, is closed).
struct Returning {
    body: hyper::body::Incoming,
    connection: Option<(Http1Send, Arc<Http1Pool>)>,
}

impl hyper::body::Body for Returning {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, hyper::Error>>> {
        std::pin::Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }
}

impl Drop for Returning {
    fn drop(&mut self) {
        use hyper::body::Body as _;
        if let Some((send, pool)) = self.connection.take()
            && self.body.is_end_stream()
            && let Ok(mut idle) = pool.idle.lock()
        {
            idle.push(send);
        }
    }
}

/// An answer's body from either transport.
type AnswerBody = UnsyncBoxBody<Bytes, anyhow::Error>;

/// Trusts only the data dir's CA; offers only HTTP/2.
fn tls_connector(data_dir: &Path) -> Result<TlsConnector> {
    tls_connector_for(data_dir, b"h2")
}

/// Trusts only the data dir's CA; offers only `alpn`.
fn tls_connector_for(data_dir: &Path, alpn: &[u8]) -> Result<TlsConnector> {
    let path = data_dir.join("pki/ca.crt");
    let ca = CertificateDer::from_pem_file(&path)
        .with_context(|| format!("reading {}", path.display()))?;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca).with_context(|| format!("trusting {}", path.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![alpn.to_vec()];
    Ok(TlsConnector::from(Arc::new(config)))
}

fn admin_token(data_dir: &Path) -> Result<String> {
    let path = data_dir.join("pki/admin.token");
    let token =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    Ok(token.trim().to_owned())
}

fn pod_key(namespace: &str, name: &str) -> String {
    format!("/registry/core/pods/{namespace}/{name}")
}

/// [`pod`] named `name`, serialized: the JSON is written once and the name spliced in, as a
/// client sending one manifest under many names would, so the benchmark's own client costs
/// little beside the server it measures.
fn pod_body(name: &str) -> Bytes {
    const PLACEHOLDER: &str = "bench-pod-name-placeholder";
    static TEMPLATE: LazyLock<(String, String)> = LazyLock::new(|| {
        let json = pod(PLACEHOLDER).to_string();
        let quoted = format!("\"{PLACEHOLDER}\"");
        let (before, after) = json.split_once(&quoted).expect("the pod names itself once");
        assert!(!after.contains(PLACEHOLDER), "the pod names itself once");
        (format!("{before}\""), format!("\"{after}"))
    });
    let (before, after) = &*TEMPLATE;
    Bytes::from([before.as_str(), name, after.as_str()].concat())
}

/// A realistic pod of about 2.5 KB: labels, annotations, one container with a command,
/// arguments, ports, environment, resources, mounts and probes, and two volumes.
fn pod(name: &str) -> Value {
    let env: Vec<Value> = [
        ("LOG_LEVEL", "info"),
        ("LOG_FORMAT", "json"),
        ("HTTP_PORT", "8080"),
        ("METRICS_PORT", "9090"),
        ("DATABASE_URL", "postgres://web@db.default.svc.cluster.local:5432/web?sslmode=require"),
        ("CACHE_URL", "redis://cache.default.svc.cluster.local:6379/0"),
        ("FEATURE_FLAGS", "new-checkout,fast-search,dark-mode"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://otel-collector.observability.svc:4317"),
        ("GOMAXPROCS", "2"),
        ("TZ", "UTC"),
    ]
    .into_iter()
    .map(|(name, value)| json!({"name": name, "value": value}))
    .chain([
        json!({"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}),
        json!({"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}}),
        json!({"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}),
    ])
    .collect();
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "labels": {
                "app": "web",
                "tier": "frontend",
                "app.kubernetes.io/name": "web",
                "app.kubernetes.io/component": "server",
                "app.kubernetes.io/part-of": "shop",
                "pod-template-hash": "7d9c6b5f4",
            },
            "annotations": {
                SEQ_ANNOTATION: "0",
                "prometheus.io/scrape": "true",
                "prometheus.io/port": "9090",
            },
        },
        "spec": {
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30,
            "serviceAccountName": "default",
            "containers": [{
                "name": "web",
                "image": "registry.example.com/shop/web-frontend:v1.42.7",
                "imagePullPolicy": "IfNotPresent",
                "command": ["/usr/local/bin/web"],
                "args": ["--listen=:8080", "--metrics=:9090", "--config=/etc/web/config.yaml"],
                "ports": [
                    {"name": "http", "containerPort": 8080, "protocol": "TCP"},
                    {"name": "metrics", "containerPort": 9090, "protocol": "TCP"},
                ],
                "env": env,
                "resources": {
                    "requests": {"cpu": "250m", "memory": "256Mi"},
                    "limits": {"cpu": "1", "memory": "512Mi"},
                },
                "volumeMounts": [
                    {"name": "config", "mountPath": "/etc/web", "readOnly": true},
                    {"name": "data", "mountPath": "/var/lib/web"},
                ],
                "readinessProbe": {
                    "httpGet": {"path": "/readyz", "port": 8080},
                    "initialDelaySeconds": 5,
                    "periodSeconds": 10,
                },
                "livenessProbe": {
                    "httpGet": {"path": "/healthz", "port": 8080},
                    "initialDelaySeconds": 15,
                    "periodSeconds": 20,
                    "failureThreshold": 3,
                },
            }],
            "volumes": [
                {"name": "config", "configMap": {"name": "web-config"}},
                {"name": "data", "emptyDir": {}},
            ],
        },
    })
}

// === the binary: cold start and memory ===

async fn binary_section(berth: &Path, dir: &Path, counts: Counts) -> Result<(Vec<Row>, Vec<Row>)> {
    // The floor: the same binary started and run to exit, with nothing to do.
    let mut floor = Vec::new();
    for _ in 0..counts.starts {
        let start = Instant::now();
        let status = Command::new(berth)
            .arg("--version")
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .status()
            .await
            .with_context(|| format!("running {} --version", berth.display()))?;
        ensure!(status.success(), "{} --version failed: {status}", berth.display());
        floor.push(start.elapsed());
    }

    let stored = dir.join("stored");
    let mut fresh = Vec::new();
    let mut memory = Vec::new();
    for k in 0..counts.starts {
        let data = if k == 0 { stored.clone() } else { dir.join(format!("fresh-{k}")) };
        let server = Spawned::start(berth, &data).await?;
        fresh.push(server.ready_after);
        if k == 0 {
            memory = memory_figures(&server, &data, counts).await?;
        }
        server.stop().await?;
    }
    let mut restart = Vec::new();
    for k in 0..counts.starts {
        let server = Spawned::start(berth, &stored).await?;
        restart.push(server.ready_after);
        if k == 0 {
            sleep(counts.settle).await;
            let rss = server.rss_kib()?;
            println!(
                "  restart with {} pods stored: ready in {:.0} ms, idle RSS {:.1} MiB",
                counts.stored_pods,
                millis(server.ready_after),
                rss / 1024.0
            );
            memory.push(Row::new(
                format!("RSS idle after a restart, {} pods stored", counts.stored_pods),
                Unit::MiB,
                rss / 1024.0,
            ));
        }
        server.stop().await?;
    }
    let show = |durations: &[Duration]| {
        durations.iter().map(|d| format!("{:.0}", millis(*d))).collect::<Vec<_>>().join(" ")
    };
    println!("  `berth --version` to exit, ms:          {}", show(&floor));
    println!("  spawn to /readyz 200, fresh data dir, ms: {}", show(&fresh));
    println!("  spawn to /readyz 200, restart, ms:        {}", show(&restart));

    let (floor_median, floor_worst) = median_and_worst(&floor);
    let mut rows = Vec::new();
    for (name, starts) in [("fresh data dir", &fresh), ("restart, pods stored", &restart)] {
        let (median, worst) = median_and_worst(starts);
        rows.push(
            Row::new(format!("cold start to /readyz, {name}, median"), Unit::Millis, median)
                .floor("berth --version, median", floor_median),
        );
        rows.push(
            Row::new(
                format!("cold start to /readyz, {name}, worst of {}", starts.len()),
                Unit::Millis,
                worst,
            )
            .floor("berth --version, worst", floor_worst)
            .goal(Goal::AtMost(COLD_START_GOAL_MS)),
        );
    }
    Ok((rows, memory))
}

/// Idle RSS of a fresh server, then after creating `stored_pods` pods through its API.
async fn memory_figures(server: &Spawned, data: &Path, counts: Counts) -> Result<Vec<Row>> {
    sleep(counts.settle).await;
    let idle = server.rss_kib()?;
    let api = Api::connect(&tls_connector(data)?, server.addr, Some(admin_token(data)?)).await?;
    api.create_service_account(NAMESPACE).await?;
    let start = Instant::now();
    let mut creates: Vec<_> =
        (0..WRITERS).map(|w| ApiCreate::new(&api, &format!("m{w:02}-"))).collect();
    concurrent(&mut creates, counts.stored_pods / WRITERS).await?;
    for create in creates.iter_mut().take(counts.stored_pods % WRITERS) {
        create.once().await?;
    }
    let elapsed = start.elapsed();
    let probe = serde_json::to_vec(&pod("bench-probe"))?.len();
    let mut created: Value = serde_json::from_slice(
        &api.call(
            Method::GET,
            &format!("/api/v1/namespaces/{NAMESPACE}/pods/m00-000000"),
            None,
            None,
            Bytes::new(),
            StatusCode::OK,
        )
        .await?,
    )?;
    // What the store holds per pod: the object as served minus its resourceVersion.
    if let Some(metadata) = created["metadata"].as_object_mut() {
        metadata.remove("resourceVersion");
    }
    let stored_bytes = serde_json::to_vec(&created)?.len();
    drop((creates, api));
    sleep(counts.settle).await;
    let after = server.rss_kib()?;
    let peak = server.status_kib("VmHWM")?;
    let per_pod_kb = (after - idle) * 1024.0 / 1000.0 / counts.stored_pods as f64;
    println!(
        "  idle RSS {:.1} MiB; {} pods ({probe} B manifests) created in {:.1} s ({:.0}/s, {WRITERS} writers); RSS {:.1} MiB, peak {:.1} MiB",
        idle / 1024.0,
        counts.stored_pods,
        elapsed.as_secs_f64(),
        counts.stored_pods as f64 / elapsed.as_secs_f64(),
        after / 1024.0,
        peak / 1024.0
    );
    Ok(vec![
        Row::new("RSS idle, fresh data dir", Unit::MiB, idle / 1024.0)
            .goal(Goal::AtMost(IDLE_RSS_GOAL_MIB)),
        Row::new(
            format!("RSS after creating {} pods", counts.stored_pods),
            Unit::MiB,
            after / 1024.0,
        ),
        Row::new(
            format!("peak RSS (VmHWM) after creating {} pods", counts.stored_pods),
            Unit::MiB,
            peak / 1024.0,
        ),
        Row::new("RSS growth per stored pod", Unit::Kb, per_pod_kb)
            .floor("stored object size", stored_bytes as f64 / 1000.0)
            .goal(Goal::AtMost(RSS_PER_POD_GOAL_KB)),
    ])
}

/// A `berth server` child on a fresh port, ready (it answered `/readyz` with 200).
struct Spawned {
    child: Child,
    addr: SocketAddr,
    /// From spawn to the first 200 on `/readyz`.
    ready_after: Duration,
}

impl Spawned {
    async fn start(berth: &Path, data: &Path) -> Result<Spawned> {
        let addr = free_addr()?;
        let log_path = data.with_extension("log");
        let log = std::fs::File::create(&log_path)
            .with_context(|| format!("creating {}", log_path.display()))?;
        let start = Instant::now();
        let mut child = Command::new(berth)
            .arg("server")
            .arg("--data-dir")
            .arg(data)
            .arg("--listen")
            .arg(addr.to_string())
            // The API server alone: the controllers' memory is the control-plane benchmark's.
            .arg("--controllers=")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("spawning {} server", berth.display()))?;
        let ca = data.join("pki/ca.crt");
        let mut connector = None;
        loop {
            if let Some(status) = child.try_wait()? {
                let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                bail!("berth server exited before it was ready ({status}):\n{log}");
            }
            ensure!(
                start.elapsed() < START_TIMEOUT,
                "berth server did not answer /readyz within {START_TIMEOUT:?}; its log is {}",
                log_path.display()
            );
            // The CA appears (renamed into place whole) before the server listens.
            if connector.is_none() && ca.is_file() {
                connector = Some(tls_connector(data)?);
            }
            if let Some(connector) = &connector
                && ready(connector, addr).await
            {
                let ready_after = start.elapsed();
                return Ok(Spawned { child, addr, ready_after });
            }
            sleep(POLL).await;
        }
    }

    /// SIGTERM by PID, as a service manager stops it, then waits (SIGKILL after 10 s).
    async fn stop(mut self) -> Result<()> {
        if let Some(pid) = self.child.id() {
            let status = Command::new("kill")
                .arg("-TERM")
                .arg(pid.to_string())
                .status()
                .await
                .context("running kill")?;
            ensure!(status.success(), "kill -TERM {pid} failed: {status}");
        }
        match timeout(Duration::from_secs(10), self.child.wait()).await {
            Ok(status) => {
                status.context("waiting for berth server")?;
            }
            Err(_) => {
                self.child.kill().await.context("killing berth server")?;
                bail!("berth server did not stop within 10 s of SIGTERM");
            }
        }
        Ok(())
    }

    fn rss_kib(&self) -> Result<f64> {
        self.status_kib("VmRSS")
    }

    /// A `kB` line of `/proc/<pid>/status`.
    fn status_kib(&self, field: &str) -> Result<f64> {
        let pid = self.child.id().ok_or_else(|| anyhow!("berth server has exited"))?;
        let path = format!("/proc/{pid}/status");
        let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
        status
            .lines()
            .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|value| value.trim().strip_suffix("kB")?.trim().parse().ok())
            .ok_or_else(|| anyhow!("no {field} in {path}"))
    }
}

/// Whether `/readyz` answers 200 on a new connection (no credentials: it is open).
async fn ready(connector: &TlsConnector, addr: SocketAddr) -> bool {
    let Ok(api) = Api::connect(connector, addr, None).await else { return false };
    let answer = api.call(Method::GET, "/readyz", None, None, Bytes::new(), StatusCode::OK).await;
    answer.is_ok()
}

/// A loopback address with a port that was free a moment ago.
fn free_addr() -> Result<SocketAddr> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    listener.local_addr().context("finding a free port")
}

fn median_and_worst(durations: &[Duration]) -> (f64, f64) {
    let mut sorted = durations.to_vec();
    sorted.sort();
    let median = sorted.get(sorted.len() / 2).copied().unwrap_or_default();
    let worst = sorted.last().copied().unwrap_or_default();
    (millis(median), millis(worst))
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

// === helpers ===

/// p50 and p99 rows for a figure beside its floor, from their latency histograms.
fn latency_rows(
    name: &str,
    figure: &Measured,
    floor_name: &str,
    floor: &Measured,
    p99_goal: Option<f64>,
) -> [Row; 2] {
    berth_bench::latency_rows(name, &figure.latency, floor_name, &floor.latency, p99_goal)
}

fn print_latency(name: &str, histogram: &Histogram<u64>) {
    println!("{}", berth_bench::latency_line(name, histogram));
}

fn record(histogram: &mut Histogram<u64>, elapsed: Duration) -> Result<()> {
    berth_bench::record(histogram, elapsed)
        .with_context(|| format!("recording a latency of {elapsed:?}"))
}
