//! The control-plane benchmark: a real `berth server --runtime simulated` (release build) with
//! 10 simulated nodes and zero start delay, so what is measured is berth's own overhead —
//! apiserver, store, controllers, scheduler and kubelets talking through the API.
//!
//! Run: `cargo build --release -p berth && cargo run --release -p berth-bench --bin
//! controlplane -- [--quick]`. Figures: (a) the seed tutorial's StatefulSet (3 replicas,
//! OrderedReady, a claim per pod) from create to 3/3 Ready; (b) one 1,000-replica Parallel
//! StatefulSet to all Ready; (d) the server's RSS per stored pod with those pods stored; (c)
//! after deleting them (10 nodes take 1,100 pods), 100 StatefulSets × 10 replicas to all Ready. The floor, measured in the same run against the same server: how long
//! the API alone takes to absorb the same number of writes (the store revisions each scenario
//! consumed) from 16 concurrent writers — what the work would cost with zero control-plane
//! overhead. Every process and temp dir is removed at the end.

// A benchmark's output is its product: it prints the report to stdout.
#![allow(clippy::print_stdout)]

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, ensure};
use berth_bench::{Goal, Row, Unit, render, thousands};
use berth_testkit::kubectl::BerthProcess;
use clap::Parser;
use futures::future::try_join_all;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, ServiceAccount};
use kube::api::{Api, ListParams, PostParams};
use kube::runtime::wait::await_condition;
use serde_json::json;
use tokio::time::{Instant, sleep};

/// Measures the control plane on simulated nodes.
#[derive(Debug, Parser)]
struct Args {
    /// Small counts: a smoke run that checks the benchmark still works, not a measurement.
    #[arg(long)]
    quick: bool,
    /// The berth binary (default: `berth` beside this benchmark, i.e. target/release/berth).
    #[arg(long)]
    berth: Option<PathBuf>,
}

struct Counts {
    seed_runs: usize,
    big_replicas: i32,
    many_sets: usize,
    many_replicas: i32,
    floor_writes: usize,
}

const NODES: &str = "10";
const WRITERS: usize = 16;

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let counts = if args.quick {
        Counts {
            seed_runs: 2,
            big_replicas: 100,
            many_sets: 10,
            many_replicas: 10,
            floor_writes: 320,
        }
    } else {
        Counts {
            seed_runs: 5,
            big_replicas: 1000,
            many_sets: 100,
            many_replicas: 10,
            floor_writes: 3200,
        }
    };
    let berth = match args.berth {
        Some(path) => path,
        None => std::env::current_exe()?.with_file_name("berth"),
    };
    ensure!(berth.is_file(), "{} is missing: cargo build --release -p berth", berth.display());
    let dir = tempfile::tempdir()?;
    let server = BerthProcess::start(
        &berth,
        &dir.path().join("data"),
        &["--runtime", "simulated", "--nodes", NODES, "--node-name", "sim"],
    )
    .await;
    // On Ctrl-C the run is dropped and the server stopped the same way (the temp dir goes with
    // `dir`).
    let result = tokio::select! {
        result = run(&server, &counts) => result,
        signal = tokio::signal::ctrl_c() => {
            signal.context("listening for Ctrl-C")?;
            Err(anyhow!("interrupted; berth stopped and temp dir removed"))
        }
    };
    server.stop().await;
    let rows = result?;
    println!("\n{}", render(&rows));
    Ok(())
}

async fn run(server: &BerthProcess, counts: &Counts) -> Result<Vec<Row>> {
    let client = berth_testkit::cluster::client(&server.kubeconfig()).await;
    let pid = server.pid().ok_or_else(|| anyhow!("berth exited"))?;
    println!("== control plane on {NODES} simulated nodes, berth pid {pid}");
    wait_for_nodes(&client).await?;
    let idle_kib = settled_rss_kib(pid).await?;

    // The floor: API writes/s from 16 concurrent writers, on this server, now.
    namespace(&client, "floor").await?;
    let floor_rate = api_write_rate(&client, counts.floor_writes).await?;
    println!("  floor: {:.0} API creates/s from {WRITERS} writers", floor_rate);
    let floor_ms = |writes: i64| writes as f64 / floor_rate * 1000.0;
    let mut rows = Vec::new();

    // (a) The seed tutorial's StatefulSet, several times, each in a fresh namespace.
    let mut seed = Vec::new();
    for run in 0..counts.seed_runs {
        let ns = format!("seed-{run}");
        namespace(&client, &ns).await?;
        let (elapsed, writes) = measure(&client, async {
            create_set(&client, &ns, "web", 3, "OrderedReady", true).await?;
            ready(&client, &ns, "web", 3).await
        })
        .await?;
        println!(
            "  (a) seed StatefulSet 3/3 Ready: {:.1} ms, {writes} writes (floor {:.1} ms)",
            elapsed.as_secs_f64() * 1000.0,
            floor_ms(writes)
        );
        seed.push((elapsed, writes));
    }
    seed.sort();
    let (median, writes) = seed[seed.len() / 2];
    rows.push(
        Row::new("(a) seed StatefulSet apply → 3/3 Ready, median", Unit::Millis, millis(median))
            .floor("API absorbing the same writes", floor_ms(writes))
            .goal(Goal::AtMost(100.0)),
    );

    // (b) One big Parallel StatefulSet.
    namespace(&client, "big").await?;
    let pods_before = pod_count(&client).await?;
    let before_kib = settled_rss_kib(pid).await?;
    let replicas = counts.big_replicas;
    let (elapsed, writes) = measure(&client, async {
        create_set(&client, "big", "big", replicas, "Parallel", false).await?;
        ready(&client, "big", "big", replicas).await
    })
    .await?;
    println!(
        "  (b) {replicas}-replica Parallel StatefulSet all Ready: {:.2} s, {} writes",
        elapsed.as_secs_f64(),
        thousands(writes as u64)
    );
    rows.push(
        Row::new(
            format!("(b) {replicas}-replica Parallel StatefulSet → all Ready"),
            Unit::Millis,
            millis(elapsed),
        )
        .floor("API absorbing the same writes", floor_ms(writes))
        .goal(if replicas >= 1000 { Goal::AtMost(10_000.0) } else { Goal::None }),
    );

    // (d) Memory per stored pod: what the big set's pods (with their set, revision and
    // events) added to the settled RSS. Beside it, the growth since idle over every pod stored,
    // which also charges to the pods what the floor's ConfigMaps and the seed sets left (and
    // the bounded caches they filled).
    let pods = pod_count(&client).await?;
    let loaded_kib = settled_rss_kib(pid).await?;
    let added = pods - pods_before;
    let per_pod_kb = (loaded_kib - before_kib) * 1.024 / added as f64;
    let since_idle_kb = (loaded_kib - idle_kib) * 1.024 / pods as f64;
    println!(
        "  (d) RSS idle {:.1} MiB, before the big set ({pods_before} pods) {:.1} MiB, with \
         {pods} pods (and their sets, revisions, events) {:.1} MiB",
        idle_kib / 1024.0,
        before_kib / 1024.0,
        loaded_kib / 1024.0
    );
    rows.push(
        Row::new(format!("(d) RSS per stored pod ({added} pods added)"), Unit::Kb, per_pod_kb)
            .goal(Goal::AtMost(40.0)),
    );
    rows.push(Row::new(
        format!(
            "(d') RSS growth since idle / stored pods ({pods} pods, {} ConfigMaps)",
            counts.floor_writes
        ),
        Unit::Kb,
        since_idle_kb,
    ));

    // Make room: 10 nodes take 110 pods each (the kubelet's default maxPods).
    Api::<Namespace>::all(client.clone()).delete("big", &Default::default()).await?;
    let big = Api::<k8s_openapi::api::core::v1::Pod>::namespaced(client.clone(), "big");
    let start = Instant::now();
    while !big.list_metadata(&ListParams::default()).await?.items.is_empty() {
        ensure!(start.elapsed() < Duration::from_secs(300), "the big set's pods did not go");
        sleep(Duration::from_millis(100)).await;
    }
    println!(
        "  deleting the namespace with {replicas} pods took {:.1} s",
        start.elapsed().as_secs_f64()
    );

    // (c) Many small StatefulSets at once.
    namespace(&client, "many").await?;
    let (sets, replicas) = (counts.many_sets, counts.many_replicas);
    let (elapsed, writes) = measure(&client, async {
        try_join_all((0..sets).map(|i| {
            let client = client.clone();
            async move {
                let name = format!("set-{i}");
                create_set(&client, "many", &name, replicas, "OrderedReady", false).await?;
                ready(&client, "many", &name, replicas).await
            }
        }))
        .await
        .map(drop)
    })
    .await?;
    println!(
        "  (c) {sets} StatefulSets × {replicas} all Ready: {:.2} s, {} writes",
        elapsed.as_secs_f64(),
        thousands(writes as u64)
    );
    rows.push(
        Row::new(
            format!("(c) {sets} StatefulSets × {replicas} → all Ready"),
            Unit::Millis,
            millis(elapsed),
        )
        .floor("API absorbing the same writes", floor_ms(writes)),
    );

    Ok(rows)
}

async fn pod_count(client: &kube::Client) -> Result<usize> {
    let pods = Api::<k8s_openapi::api::core::v1::Pod>::all(client.clone());
    Ok(pods.list_metadata(&ListParams::default()).await?.items.len())
}

/// Runs `work`; returns how long it took and how many store revisions (writes) it consumed.
async fn measure(
    client: &kube::Client,
    work: impl std::future::Future<Output = Result<()>>,
) -> Result<(Duration, i64)> {
    let before = revision(client).await?;
    let start = Instant::now();
    work.await?;
    let elapsed = start.elapsed();
    Ok((elapsed, revision(client).await? - before))
}

/// The store's current revision, as a list reports it.
async fn revision(client: &kube::Client) -> Result<i64> {
    let list = Api::<Namespace>::all(client.clone()).list_metadata(&ListParams::default()).await?;
    let rv = list.metadata.resource_version.ok_or_else(|| anyhow!("a list without a version"))?;
    rv.parse().with_context(|| format!("resourceVersion {rv:?}"))
}

async fn wait_for_nodes(client: &kube::Client) -> Result<()> {
    let nodes: Api<k8s_openapi::api::core::v1::Node> = Api::all(client.clone());
    let want: usize = NODES.parse()?;
    for _ in 0..600 {
        let ready = nodes
            .list(&ListParams::default())
            .await?
            .items
            .iter()
            .filter(|node| {
                node.status
                    .as_ref()
                    .and_then(|s| s.conditions.as_ref())
                    .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
            })
            .count();
        if ready == want {
            return Ok(());
        }
        sleep(Duration::from_millis(50)).await;
    }
    Err(anyhow!("the {want} simulated nodes did not become Ready"))
}

/// Creates a namespace and waits for its `default` ServiceAccount (pods need it).
async fn namespace(client: &kube::Client, name: &str) -> Result<()> {
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": name}}))?;
    Api::<Namespace>::all(client.clone()).create(&PostParams::default(), &ns).await?;
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), name);
    await_condition(accounts, "default", kube::runtime::conditions::is_created()).await?;
    Ok(())
}

async fn create_set(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    replicas: i32,
    policy: &str,
    claims: bool,
) -> Result<()> {
    let mut spec = json!({
        "serviceName": name,
        "replicas": replicas,
        "podManagementPolicy": policy,
        "selector": {"matchLabels": {"app": name}},
        "template": {
            "metadata": {"labels": {"app": name}},
            "spec": {"containers": [{
                "name": "nginx",
                "image": "nginx:1.27",
                "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}
            }]}
        }
    });
    if claims {
        spec["template"]["spec"]["containers"][0]["volumeMounts"] =
            json!([{"name": "data", "mountPath": "/usr/share/nginx/html"}]);
        spec["volumeClaimTemplates"] = json!([{
            "metadata": {"name": "data"},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "1Gi"}}
            }
        }]);
    }
    let set: StatefulSet =
        serde_json::from_value(json!({"metadata": {"name": name}, "spec": spec}))?;
    Api::<StatefulSet>::namespaced(client.clone(), namespace)
        .create(&PostParams::default(), &set)
        .await?;
    Ok(())
}

async fn ready(client: &kube::Client, namespace: &str, name: &str, replicas: i32) -> Result<()> {
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), namespace);
    let all_ready = move |set: Option<&StatefulSet>| {
        set.and_then(|s| s.status.as_ref()).and_then(|s| s.ready_replicas) == Some(replicas)
    };
    tokio::time::timeout(Duration::from_secs(300), await_condition(sets, name, all_ready))
        .await
        .with_context(|| format!("{namespace}/{name} not Ready within 300 s"))??;
    Ok(())
}

/// API creates per second from [`WRITERS`] concurrent writers.
async fn api_write_rate(client: &kube::Client, total: usize) -> Result<f64> {
    let per_writer = total / WRITERS;
    let start = Instant::now();
    try_join_all((0..WRITERS).map(|w| {
        let api: Api<ConfigMap> = Api::namespaced(client.clone(), "floor");
        async move {
            for i in 0..per_writer {
                let cm: ConfigMap = serde_json::from_value(json!({
                    "metadata": {"name": format!("w{w}-{i}")},
                    "data": {"k": "v"}
                }))?;
                api.create(&PostParams::default(), &cm).await?;
            }
            anyhow::Ok(())
        }
    }))
    .await?;
    Ok((per_writer * WRITERS) as f64 / start.elapsed().as_secs_f64())
}

/// How many one-second steps in a row the RSS must stay within 1 MiB to count as settled.
/// mimalloc returns freed pages 1 s after they empty and only while the process allocates, so
/// after a burst the RSS comes down in steps with plateaus of a few seconds between them (after
/// a 1,000-pod set: 73, 58, 63 for four seconds, then 57 MiB for good). One quiet second, the
/// criterion until session 7, could take a plateau for the end.
const SETTLED_SECONDS: u32 = 5;

/// The RSS once it has settled: sampled every second until it stayed within 1 MiB for
/// [`SETTLED_SECONDS`] in a row, for at most 30 s.
async fn settled_rss_kib(pid: u32) -> Result<f64> {
    let start = Instant::now();
    let mut last = rss_kib(pid)?;
    let mut steady = 0;
    loop {
        sleep(Duration::from_secs(1)).await;
        let now = rss_kib(pid)?;
        steady = if (now - last).abs() < 1024.0 { steady + 1 } else { 0 };
        if steady == SETTLED_SECONDS || start.elapsed() > Duration::from_secs(30) {
            println!(
                "  (RSS settled at {:.1} MiB after {:.0} s)",
                now / 1024.0,
                start.elapsed().as_secs_f64()
            );
            return Ok(now);
        }
        last = now;
    }
}

fn rss_kib(pid: u32) -> Result<f64> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().strip_suffix("kB")?.trim().parse().ok())
        .ok_or_else(|| anyhow!("no VmRSS in {path}"))
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
