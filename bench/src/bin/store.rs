//! The store benchmark: berth's SQLite and etcd backends beside the raw floors measured in the
//! same run (plain rusqlite commits with `synchronous=FULL` and `NORMAL`, plain etcd-client puts
//! and compare-and-swap transactions, ranges and watches), printed as one table of figures,
//! ratios and goals. docs/benchmarks.md has the numbers and what they mean.
//!
//! Run: `cargo run --release -p berth-bench --bin store -- [--quick] [--backend all|sqlite|etcd]`.
//! Everything lives in a fresh temp dir and a fresh etcd (`berth_testkit::etcd::EtcdProcess`),
//! both removed at the end, also on an error or Ctrl-C.

// A benchmark's output is its product: it prints the report to stdout.
#![allow(clippy::print_stdout)]

use std::{path::Path, sync::Arc, time::Duration};

use anyhow::{Context, Result, anyhow, bail, ensure};
use berth_bench::{
    Goal, Rate, Row, Unit, latency_histogram, latency_rows, quantile_ms, render, thousands,
};
use berth_store::{EtcdConfig, EtcdStore, Event, KeyValue, RangeRequest, SqliteStore, Store};
use berth_testkit::etcd::EtcdProcess;
use bytes::Bytes;
use clap::{Parser, ValueEnum};
use etcd_client::{Compare, CompareOp, GetOptions, KvClient, PutOptions, Txn, TxnOp, WatchOptions};
use hdrhistogram::Histogram;
use tokio::{
    sync::{Barrier, mpsc},
    task::JoinSet,
    time::{Instant, timeout},
};

/// Measures berth's store backends beside raw SQLite and etcd in one run.
#[derive(Debug, Parser)]
struct Args {
    /// Small counts: a smoke run that checks the benchmark still works, not a measurement.
    #[arg(long)]
    quick: bool,
    /// Which backends to measure.
    #[arg(long, value_enum, default_value_t = Backends::All)]
    backend: Backends,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Backends {
    All,
    Sqlite,
    Etcd,
}

/// Concurrent writers in the group-commit figures.
const WRITERS: usize = 16;
/// Keys read by one range.
const RANGE_KEYS: usize = 1000;
/// Watchers in the fan-out figures.
const FAN_OUT: usize = 100;
/// Bytes per value, about a small Kubernetes object.
const VALUE_BYTES: usize = 1024;
/// How long one watch event may take to reach every watcher before the run fails.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);
/// The watch latency goal, in milliseconds.
const WATCH_P99_GOAL_MS: f64 = 10.0;

/// How many operations each measurement does. Write throughput is measured in rounds that
/// alternate floor and store, so a change in the machine's background load hits both alike.
#[derive(Clone, Copy, Debug)]
struct Counts {
    rounds: usize,
    /// Per round: rusqlite `synchronous=FULL` commits.
    sqlite_full_commits: usize,
    /// Once: rusqlite `synchronous=NORMAL` commits.
    sqlite_normal_commits: usize,
    /// Per round: sequential SQLite store updates.
    sqlite_sequential_updates: usize,
    /// Per round and writer: concurrent SQLite store updates.
    sqlite_updates_per_writer: usize,
    /// Per round: sequential etcd puts, and as many etcd store updates.
    etcd_sequential: usize,
    /// Per round and writer: concurrent etcd puts, and as many etcd store updates.
    etcd_per_writer: usize,
    range_reads: usize,
    watch_events: usize,
}

impl Counts {
    fn new(quick: bool) -> Counts {
        if quick {
            Counts {
                rounds: 2,
                sqlite_full_commits: 100,
                sqlite_normal_commits: 1000,
                sqlite_sequential_updates: 100,
                sqlite_updates_per_writer: 10,
                etcd_sequential: 50,
                etcd_per_writer: 5,
                range_reads: 5,
                watch_events: 50,
            }
        } else {
            Counts {
                rounds: 5,
                sqlite_full_commits: 1000,
                sqlite_normal_commits: 30_000,
                sqlite_sequential_updates: 1000,
                sqlite_updates_per_writer: 250,
                etcd_sequential: 500,
                etcd_per_writer: 60,
                range_reads: 50,
                watch_events: 1000,
            }
        }
    }
}

/// Untimed operations before a timed loop: warm caches, connections and the WAL.
fn warmup(count: usize) -> usize {
    (count / 10).clamp(5, 100)
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    // On Ctrl-C the benchmark future is dropped, which kills etcd and removes the temp dirs.
    tokio::select! {
        result = run(args) => result,
        signal = tokio::signal::ctrl_c() => {
            signal.context("listening for Ctrl-C")?;
            bail!("interrupted; etcd stopped and temp dirs removed")
        }
    }
}

async fn run(args: Args) -> Result<()> {
    let counts = Counts::new(args.quick);
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let dir = tempfile::Builder::new()
        .prefix("berth-bench-")
        .tempdir()
        .context("creating a temp dir for the SQLite files")?;
    println!(
        "berth store benchmark ({} run, {cores} cores, values {VALUE_BYTES} B, SQLite files in {})",
        if args.quick { "--quick smoke" } else { "full" },
        dir.path().display()
    );
    if args.quick {
        println!("--quick counts are too small to mean anything; use a full run for numbers");
    }
    let mut rows = Vec::new();
    if args.backend != Backends::Etcd {
        rows.extend(sqlite_section(dir.path(), counts).await?);
    }
    if args.backend != Backends::Sqlite {
        rows.extend(etcd_section(counts).await?);
    }
    println!();
    print!("{}", render(&rows));
    dir.close().context("removing the temp dir")?;
    Ok(())
}

// === SQLite ===

async fn sqlite_section(dir: &Path, counts: Counts) -> Result<Vec<Row>> {
    println!(
        "\n== SQLite: rusqlite floor (WAL, one INSERT per transaction) and the berth store, {} rounds",
        counts.rounds
    );
    let mut full = RawSqlite::open(&dir.join("floor-full.db"), "FULL")?;
    let path = dir.join("store.db");
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&path).with_context(|| format!("opening {}", path.display()))?);
    let mut sequential = KeyWriter::store(&store, "/bench/seq").await?;
    let mut writers = Writers::store(&store).await?;

    // Warm up every path untimed, then forget the floor's warm-up latencies.
    full = blocking(move || full.commits(warmup(counts.sqlite_full_commits)).map(|_| full)).await?;
    full.latency.reset();
    sequential.run(warmup(counts.sqlite_sequential_updates)).await?;
    writers.run(warmup(counts.sqlite_updates_per_writer)).await?;

    let (mut floor_rate, mut sequential_rate, mut concurrent_rate) =
        (Rate::default(), Rate::default(), Rate::default());
    for round in 1..=counts.rounds {
        let commits = counts.sqlite_full_commits;
        let (floor, elapsed) =
            blocking(move || full.commits(commits).map(|elapsed| (full, elapsed))).await?;
        full = floor;
        let floor = floor_rate.add(commits, elapsed);
        let updates = counts.sqlite_sequential_updates;
        let seq = sequential_rate.add(updates, sequential.run(updates).await?);
        let per_writer = counts.sqlite_updates_per_writer;
        let conc = concurrent_rate.add(WRITERS * per_writer, writers.run(per_writer).await?);
        println!(
            "  round {round}: rusqlite FULL {:>7}/s   seq CAS {:>7}/s ({:.2})   {WRITERS}-writer CAS {:>7}/s ({:.2})",
            thousands(floor as u64),
            thousands(seq as u64),
            seq / floor,
            thousands(conc as u64),
            conc / floor,
        );
    }
    println!(
        "  FULL commit latency p50 {:.3} ms, p99 {:.3} ms",
        quantile_ms(&full.latency, 0.5),
        quantile_ms(&full.latency, 0.99)
    );
    let normal = RawSqlite::open(&dir.join("floor-normal.db"), "NORMAL")?;
    let (normal_commits, normal_elapsed) = blocking(move || {
        let mut normal = normal;
        normal.commits(warmup(counts.sqlite_normal_commits))?;
        let elapsed = normal.commits(counts.sqlite_normal_commits)?;
        Ok((counts.sqlite_normal_commits, elapsed))
    })
    .await?;
    let normal = normal_commits as f64 / normal_elapsed.as_secs_f64();
    println!("  rusqlite NORMAL {:>7} commits/s", thousands(normal as u64));

    let path = dir.join("floor-range.db");
    let range_floor = blocking(move || raw_sqlite_range(&path, counts.range_reads)).await?;
    let range = range_latency(&store, counts.range_reads).await?;
    print_latency(&format!("rusqlite SELECT {RANGE_KEYS} rows"), &range_floor);
    print_latency(&format!("store range {RANGE_KEYS} keys"), &range);
    let watch_one = watch_latency(&store, "/bench/watch-one/", 1, counts.watch_events).await?;
    print_latency("store watch, 1 watcher", &watch_one);
    let watch_fan_out =
        watch_latency(&store, "/bench/watch-many/", FAN_OUT, counts.watch_events).await?;
    print_latency(&format!("store watch, {FAN_OUT} watchers"), &watch_fan_out);
    drop((sequential, writers, store));

    let full_rate = floor_rate.per_second();
    let mut rows = vec![
        Row::new("sqlite seq CAS writes/s", Unit::PerSecond, sequential_rate.per_second())
            .floor("rusqlite FULL", full_rate)
            .goal(Goal::RatioAtLeast(0.8)),
        Row::new(
            format!("sqlite {WRITERS}-writer CAS writes/s"),
            Unit::PerSecond,
            concurrent_rate.per_second(),
        )
        .floor("rusqlite FULL (seq)", full_rate)
        .goal(Goal::RatioAtLeast(3.0)),
        Row::new(
            format!("sqlite {WRITERS}-writer CAS writes/s"),
            Unit::PerSecond,
            concurrent_rate.per_second(),
        )
        .floor("rusqlite NORMAL (seq)", normal),
    ];
    rows.extend(latency_rows("sqlite range 1,000 keys", &range, "SELECT", &range_floor, None));
    for (watchers, histogram) in [(1, &watch_one), (FAN_OUT, &watch_fan_out)] {
        rows.extend(latency_rows(
            &format!("sqlite watch, {watchers} watcher(s)"),
            histogram,
            "FULL commit",
            &full.latency,
            Some(WATCH_P99_GOAL_MS),
        ));
    }
    Ok(rows)
}

/// A plain SQLite table written one single-row transaction at a time.
#[derive(Debug)]
struct RawSqlite {
    conn: rusqlite::Connection,
    written: usize,
    /// Every commit's latency, in microseconds.
    latency: Histogram<u64>,
}

impl RawSqlite {
    fn open(path: &Path, synchronous: &str) -> Result<RawSqlite> {
        let conn = rusqlite::Connection::open(path)
            .with_context(|| format!("opening {}", path.display()))?;
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
        ensure!(
            mode.eq_ignore_ascii_case("wal"),
            "{} did not switch to WAL (got {mode})",
            path.display()
        );
        conn.execute_batch(&format!(
            "PRAGMA synchronous = {synchronous};
             CREATE TABLE kv (key TEXT PRIMARY KEY, value BLOB NOT NULL);"
        ))?;
        Ok(RawSqlite { conn, written: 0, latency: latency_histogram() })
    }

    /// `count` INSERT transactions of one new key each; how long they took.
    fn commits(&mut self, count: usize) -> Result<Duration> {
        let start = Instant::now();
        for _ in 0..count {
            let commit = Instant::now();
            let i = self.written;
            let tx = self.conn.transaction()?;
            tx.prepare_cached("INSERT INTO kv (key, value) VALUES (?1, ?2)")?
                .execute(rusqlite::params![format!("/floor/{i:08}"), value(i as u64).as_ref()])?;
            tx.commit()?;
            self.written += 1;
            record(&mut self.latency, commit.elapsed())?;
        }
        Ok(start.elapsed())
    }
}

/// Latency of reading [`RANGE_KEYS`] rows of a plain table in key order.
fn raw_sqlite_range(path: &Path, reads: usize) -> Result<Histogram<u64>> {
    let mut conn =
        rusqlite::Connection::open(path).with_context(|| format!("opening {}", path.display()))?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         CREATE TABLE kv (key TEXT PRIMARY KEY, value BLOB NOT NULL);",
    )?;
    let tx = conn.transaction()?;
    for i in 0..RANGE_KEYS {
        tx.execute(
            "INSERT INTO kv (key, value) VALUES (?1, ?2)",
            rusqlite::params![format!("/range/{i:04}"), value(i as u64).as_ref()],
        )?;
    }
    tx.commit()?;
    let mut latency = latency_histogram();
    for read in 0..warmup(reads) + reads {
        let start = Instant::now();
        let tx = conn.transaction()?;
        let rows = tx
            .prepare_cached(
                "SELECT key, value FROM kv WHERE key >= '/range/' AND key < '/range0' ORDER BY key",
            )?
            .query_map([], |row| Ok((row.get::<_, String>(0)?, row.get::<_, Vec<u8>>(1)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        tx.finish()?;
        let elapsed = start.elapsed();
        ensure!(rows.len() == RANGE_KEYS, "raw range read {} rows, not {RANGE_KEYS}", rows.len());
        if read >= warmup(reads) {
            record(&mut latency, elapsed)?;
        }
    }
    Ok(latency)
}

// === etcd ===

async fn etcd_section(counts: Counts) -> Result<Vec<Row>> {
    let etcd = EtcdProcess::start().await.context("starting etcd")?;
    let rows = etcd_figures(&etcd, counts).await;
    // Kills etcd and removes its data dir, after every client of it is gone.
    drop(etcd);
    rows
}

async fn etcd_figures(etcd: &EtcdProcess, counts: Counts) -> Result<Vec<Row>> {
    let endpoint = etcd.endpoint();
    println!(
        "\n== etcd: etcd-client floors and the berth store on a fresh etcd at {endpoint}, {} rounds",
        counts.rounds
    );
    let client = etcd_client::Client::connect([endpoint.as_str()], None)
        .await
        .with_context(|| format!("connecting to etcd at {endpoint}"))?;
    let config = EtcdConfig { endpoints: vec![endpoint.clone()], prefix: "/berth-bench".into() };
    let store: Arc<dyn Store> = Arc::new(
        EtcdStore::connect(config)
            .await
            .with_context(|| format!("connecting the etcd store to {endpoint}"))?,
    );
    let mut raw_put = KeyWriter::etcd(&client, "/floor/seq-put", RawWrite::Put).await?;
    let mut raw_cas = KeyWriter::etcd(&client, "/floor/seq-cas", RawWrite::Cas).await?;
    let mut raw_puts = Writers::etcd(&client, "/floor/put-writer/", RawWrite::Put).await?;
    let mut raw_cases = Writers::etcd(&client, "/floor/cas-writer/", RawWrite::Cas).await?;
    let mut sequential = KeyWriter::store(&store, "/bench/seq").await?;
    let mut writers = Writers::store(&store).await?;

    let (n, m) = (counts.etcd_sequential, counts.etcd_per_writer);
    for writer in [&mut raw_put, &mut raw_cas, &mut sequential] {
        writer.run(warmup(n)).await?;
    }
    for writers in [&mut raw_puts, &mut raw_cases, &mut writers] {
        writers.run(warmup(m)).await?;
    }

    // Rates: sequential put, CAS txn, store CAS; then the same with WRITERS writers.
    let mut rates: [Rate; 6] = Default::default();
    for round in 1..=counts.rounds {
        let [put, cas, store_cas, puts, cases, store_cases] = &mut rates;
        let put = put.add(n, raw_put.run(n).await?);
        let cas = cas.add(n, raw_cas.run(n).await?);
        let store_cas = store_cas.add(n, sequential.run(n).await?);
        let puts = puts.add(WRITERS * m, raw_puts.run(m).await?);
        let cases = cases.add(WRITERS * m, raw_cases.run(m).await?);
        let store_cases = store_cases.add(WRITERS * m, writers.run(m).await?);
        println!(
            "  round {round}: seq put {:>6}/s  txn {:>6}/s  store {:>6}/s ({:.2})   {WRITERS}-writer put {:>6}/s  txn {:>6}/s  store {:>6}/s ({:.2})",
            thousands(put as u64),
            thousands(cas as u64),
            thousands(store_cas as u64),
            store_cas / put,
            thousands(puts as u64),
            thousands(cases as u64),
            thousands(store_cases as u64),
            store_cases / puts,
        );
    }

    let range_floor = etcd_range(&client, counts.range_reads).await?;
    let range = range_latency(&store, counts.range_reads).await?;
    print_latency(&format!("etcd-client range {RANGE_KEYS} keys"), &range_floor);
    print_latency(&format!("store range {RANGE_KEYS} keys"), &range);
    let watch_floor = etcd_watch(&client, counts.watch_events).await?;
    print_latency("etcd-client watch", &watch_floor);
    let watch_one = watch_latency(&store, "/bench/watch-one/", 1, counts.watch_events).await?;
    print_latency("store watch, 1 watcher", &watch_one);
    let watch_fan_out =
        watch_latency(&store, "/bench/watch-many/", FAN_OUT, counts.watch_events).await?;
    print_latency(&format!("store watch, {FAN_OUT} watchers"), &watch_fan_out);

    let [put, cas, seq, puts, cases, conc] = rates.map(|rate| rate.per_second());
    let mut rows = vec![
        Row::new("etcd seq CAS writes/s", Unit::PerSecond, seq).floor("etcd-client seq puts", put),
        Row::new("etcd seq CAS writes/s", Unit::PerSecond, seq)
            .floor("etcd-client seq CAS txns", cas),
        Row::new(format!("etcd {WRITERS}-writer CAS writes/s"), Unit::PerSecond, conc)
            .floor(format!("etcd-client {WRITERS}-writer puts"), puts),
        Row::new(format!("etcd {WRITERS}-writer CAS writes/s"), Unit::PerSecond, conc)
            .floor(format!("etcd-client {WRITERS}-writer CAS txns"), cases),
    ];
    rows.extend(latency_rows("etcd range 1,000 keys", &range, "etcd-client", &range_floor, None));
    for (watchers, histogram) in [(1, &watch_one), (FAN_OUT, &watch_fan_out)] {
        rows.extend(latency_rows(
            &format!("etcd watch, {watchers} watcher(s)"),
            histogram,
            "etcd-client watch",
            &watch_floor,
            Some(WATCH_P99_GOAL_MS),
        ));
    }
    Ok(rows)
}

/// Latency of one etcd range request over [`RANGE_KEYS`] keys.
async fn etcd_range(client: &etcd_client::Client, reads: usize) -> Result<Histogram<u64>> {
    let mut fill = JoinSet::new();
    for writer in 0..WRITERS {
        let mut kv = client.clone();
        fill.spawn(async move {
            for i in (writer..RANGE_KEYS).step_by(WRITERS) {
                kv.put(format!("/floor/range/{i:04}"), value(i as u64).to_vec(), None).await?;
            }
            Ok::<_, etcd_client::Error>(())
        });
    }
    while let Some(joined) = fill.join_next().await {
        joined.context("etcd fill task")?.context("etcd put")?;
    }
    let mut kv = client.clone();
    let mut latency = latency_histogram();
    for read in 0..warmup(reads) + reads {
        let start = Instant::now();
        let response = kv
            .get("/floor/range/", Some(GetOptions::new().with_prefix()))
            .await
            .context("etcd range")?;
        let elapsed = start.elapsed();
        ensure!(
            response.kvs().len() == RANGE_KEYS,
            "raw etcd range read {} keys, not {RANGE_KEYS}",
            response.kvs().len()
        );
        if read >= warmup(reads) {
            record(&mut latency, elapsed)?;
        }
    }
    Ok(latency)
}

/// Watch delivery on one etcd watch: one put at a time, each waited for before the next.
async fn etcd_watch(client: &etcd_client::Client, events: usize) -> Result<Histogram<u64>> {
    let mut kv = client.clone();
    let mut stream = kv
        .watch("/floor/watch/", Some(WatchOptions::new().with_prefix()))
        .await
        .context("etcd watch")?;
    let mut latency = latency_histogram();
    for i in 0..warmup(events) + events {
        let start = Instant::now();
        kv.put("/floor/watch/key", value(i as u64).to_vec(), None).await.context("etcd put")?;
        let delivered = loop {
            let response = timeout(DELIVERY_TIMEOUT, stream.message())
                .await
                .map_err(|_| {
                    anyhow!("raw etcd watch event {i} not delivered in {DELIVERY_TIMEOUT:?}")
                })?
                .context("etcd watch")?
                .ok_or_else(|| anyhow!("the raw etcd watch stream ended"))?;
            // The first response only confirms that the watch was created.
            if let Some(event) = response.events().last() {
                let kv = event.kv().ok_or_else(|| anyhow!("etcd watch event without a kv"))?;
                ensure!(index(kv.value()) == Some(i as u64), "raw etcd watch: unexpected event");
                break Instant::now();
            }
        };
        if i >= warmup(events) {
            record(&mut latency, delivered - start)?;
        }
    }
    Ok(latency)
}

// === the store figures, the same for every backend ===

/// How a raw etcd writer writes its key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RawWrite {
    /// A plain put: the floor the issue names.
    Put,
    /// A transaction that puts only if the key's mod revision is the one last written, returning
    /// the previous value: the request the etcd store sends for an update, without the store.
    Cas,
}

/// One key written over and over by the store (compare-and-swap on the mod revision the last
/// update returned) or by a raw etcd client.
enum KeyWriter {
    Store { store: Arc<dyn Store>, kv: KeyValue },
    // Boxed: a gRPC client is a few hundred bytes, the store variant a few dozen.
    Etcd { client: Box<KvClient>, key: String, kind: RawWrite, revision: i64 },
}

impl KeyWriter {
    /// Creates `key` in the store.
    async fn store(store: &Arc<dyn Store>, key: &str) -> Result<KeyWriter> {
        let kv = store.create(key, value(0)).await.context("store create")?;
        Ok(KeyWriter::Store { store: store.clone(), kv })
    }

    /// Puts `key` in etcd.
    async fn etcd(client: &etcd_client::Client, key: &str, kind: RawWrite) -> Result<KeyWriter> {
        let mut client = Box::new(client.kv_client());
        let response = client.put(key, value(0).to_vec(), None).await.context("etcd put")?;
        let revision = response
            .header()
            .map(|header| header.revision())
            .ok_or_else(|| anyhow!("etcd answered a put without a header"))?;
        Ok(KeyWriter::Etcd { client, key: key.to_owned(), kind, revision })
    }

    /// `count` writes, one after the other; how long they took.
    async fn run(&mut self, count: usize) -> Result<Duration> {
        let start = Instant::now();
        for i in 0..count {
            self.write(value(i as u64)).await?;
        }
        Ok(start.elapsed())
    }

    async fn write(&mut self, value: Bytes) -> Result<()> {
        match self {
            KeyWriter::Store { store, kv } => {
                *kv =
                    store.update(&kv.key, value, kv.mod_revision).await.context("store update")?;
            }
            KeyWriter::Etcd { client, key, kind: RawWrite::Put, .. } => {
                client.put(key.as_str(), value.to_vec(), None).await.context("etcd put")?;
            }
            KeyWriter::Etcd { client, key, kind: RawWrite::Cas, revision } => {
                let txn = Txn::new()
                    .when([Compare::mod_revision(key.as_str(), CompareOp::Equal, *revision)])
                    .and_then([TxnOp::put(
                        key.as_str(),
                        value.to_vec(),
                        Some(PutOptions::new().with_prev_key()),
                    )]);
                let response = client.txn(txn).await.context("etcd txn")?;
                ensure!(response.succeeded(), "raw etcd CAS on {key} failed its compare");
                *revision = response
                    .header()
                    .map(|header| header.revision())
                    .ok_or_else(|| anyhow!("etcd answered a txn without a header"))?;
            }
        }
        Ok(())
    }
}

/// [`WRITERS`] concurrent writers, each on its own key.
struct Writers {
    writers: Vec<KeyWriter>,
}

impl Writers {
    async fn store(store: &Arc<dyn Store>) -> Result<Writers> {
        let mut writers = Vec::with_capacity(WRITERS);
        for writer in 0..WRITERS {
            writers.push(KeyWriter::store(store, &format!("/bench/writer/{writer:02}")).await?);
        }
        Ok(Writers { writers })
    }

    async fn etcd(client: &etcd_client::Client, prefix: &str, kind: RawWrite) -> Result<Writers> {
        let mut writers = Vec::with_capacity(WRITERS);
        for writer in 0..WRITERS {
            writers.push(KeyWriter::etcd(client, &format!("{prefix}{writer:02}"), kind).await?);
        }
        Ok(Writers { writers })
    }

    /// `per_writer` writes by every writer, started together; how long they took together.
    async fn run(&mut self, per_writer: usize) -> Result<Duration> {
        let barrier = Arc::new(Barrier::new(self.writers.len() + 1));
        let mut tasks = JoinSet::new();
        for mut writer in self.writers.drain(..) {
            let barrier = barrier.clone();
            tasks.spawn(async move {
                barrier.wait().await;
                writer.run(per_writer).await.map(|_| writer)
            });
        }
        barrier.wait().await;
        let start = Instant::now();
        while let Some(joined) = tasks.join_next().await {
            self.writers.push(joined.context("writer task")??);
        }
        Ok(start.elapsed())
    }
}

/// Latency of reading [`RANGE_KEYS`] keys under one prefix (the store pages internally).
async fn range_latency(store: &Arc<dyn Store>, reads: usize) -> Result<Histogram<u64>> {
    let prefix = "/bench/range/";
    let mut fill = JoinSet::new();
    for writer in 0..WRITERS {
        let store = store.clone();
        fill.spawn(async move {
            for i in (writer..RANGE_KEYS).step_by(WRITERS) {
                store.create(&format!("{prefix}{i:04}"), value(i as u64)).await?;
            }
            Ok::<_, berth_store::Error>(())
        });
    }
    while let Some(joined) = fill.join_next().await {
        joined.context("store fill task")?.context("store create")?;
    }
    let request = RangeRequest::prefix(prefix);
    let mut latency = latency_histogram();
    for read in 0..warmup(reads) + reads {
        let start = Instant::now();
        let page = store.range(&request).await.context("store range")?;
        let elapsed = start.elapsed();
        ensure!(
            page.kvs.len() == RANGE_KEYS && !page.more,
            "store range read {} keys (more: {}), not {RANGE_KEYS}",
            page.kvs.len(),
            page.more
        );
        if read >= warmup(reads) {
            record(&mut latency, elapsed)?;
        }
    }
    Ok(latency)
}

/// Watch delivery latency: from just before `update()` is called to when each watcher's
/// `next()` returns that event. Every event reaches every watcher before the next update, so
/// this measures latency, not queueing.
async fn watch_latency(
    store: &Arc<dyn Store>,
    prefix: &str,
    watchers: usize,
    events: usize,
) -> Result<Histogram<u64>> {
    let key = format!("{prefix}key");
    let mut kv = store.create(&key, value(0)).await.context("store create")?;
    let total = warmup(events) + events;
    let (delivered, mut deliveries) = mpsc::unbounded_channel();
    let mut tasks = JoinSet::new();
    for _ in 0..watchers {
        let mut watch = store.watch(prefix, kv.mod_revision).await.context("store watch")?;
        let delivered = delivered.clone();
        tasks.spawn(async move {
            for _ in 0..total {
                let event = watch.next().await;
                let at = Instant::now();
                let message = match event {
                    Ok(Event::Put { kv, .. }) => {
                        index(&kv.value).map(|i| (i, at)).ok_or_else(|| {
                            anyhow!("watch event with a value the benchmark did not write")
                        })
                    }
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
    let mut latency = latency_histogram();
    for i in 0..total {
        let start = Instant::now();
        kv = store.update(&key, value(i as u64), kv.mod_revision).await.context("store update")?;
        for _ in 0..watchers {
            let (got, at) = timeout(DELIVERY_TIMEOUT, deliveries.recv())
                .await
                .map_err(|_| {
                    anyhow!("watch event {i} did not reach all {watchers} watchers in {DELIVERY_TIMEOUT:?}")
                })?
                .ok_or_else(|| anyhow!("every watcher stopped early"))??;
            ensure!(got == i as u64, "a watcher got event {got} while {i} was expected");
            if i >= warmup(events) {
                record(&mut latency, at - start)?;
            }
        }
    }
    while let Some(joined) = tasks.join_next().await {
        joined.context("watcher task")?;
    }
    Ok(latency)
}

// === helpers ===

fn print_latency(name: &str, histogram: &Histogram<u64>) {
    println!("{}", berth_bench::latency_line(name, histogram));
}

/// A [`VALUE_BYTES`]-byte value that starts with `index` (little endian), so a watcher can tell
/// which write it sees.
fn value(index: u64) -> Bytes {
    let mut value = vec![b'x'; VALUE_BYTES];
    value[..8].copy_from_slice(&index.to_le_bytes());
    Bytes::from(value)
}

fn index(value: &[u8]) -> Option<u64> {
    Some(u64::from_le_bytes(value.get(..8)?.try_into().ok()?))
}

fn record(histogram: &mut Histogram<u64>, elapsed: Duration) -> Result<()> {
    berth_bench::record(histogram, elapsed)
        .with_context(|| format!("recording a latency of {elapsed:?}"))
}

/// Runs blocking SQLite work off the async runtime.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(work).await.context("blocking task")?
}
