//! Crash durability: a writer killed with SIGKILL loses nothing it had acknowledged.
//!
//! The writer (`store-writer`) prints each key after the store acknowledged it; the test kills
//! it at a random moment, reopens the store and looks for every printed key. On etcd it kills
//! etcd in the same instant and restarts it from its data dir.

use std::{process::Stdio, sync::Arc, time::Duration};

use berth_store::{EtcdConfig, EtcdStore, Revision, SqliteStore, Store};
use berth_testkit::etcd::EtcdProcess;
use rand::Rng;
use tokio::io::{AsyncBufReadExt, BufReader};

/// Runs the writer with `args`, lets it write for a random while, kills it (and calls `also`
/// at the same moment), and returns every acknowledged key with its revision.
async fn write_then_kill(args: &[&str], also: impl FnOnce()) -> Vec<(String, Revision)> {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_store-writer"))
        .args(args)
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start store-writer");
    let stdout = child.stdout.take().unwrap();
    let reader = tokio::spawn(async move {
        let mut lines = BufReader::new(stdout).lines();
        let mut acked = Vec::new();
        while let Ok(Some(line)) = lines.next_line().await {
            let (key, revision) = line.split_once(' ').expect("KEY REVISION");
            acked.push((key.to_owned(), Revision(revision.parse().expect("revision"))));
        }
        acked
    });
    let millis = rand::rng().random_range(300..1200);
    tokio::time::sleep(Duration::from_millis(millis)).await;
    child.start_kill().expect("SIGKILL the writer");
    also();
    child.wait().await.expect("reap the writer");
    reader.await.unwrap()
}

async fn assert_all_present(store: &dyn Store, acked: &[(String, Revision)]) {
    assert!(acked.len() > 50, "the writer acknowledged only {} writes", acked.len());
    for (key, revision) in acked {
        let kv = store.get(key).await.unwrap();
        let kv =
            kv.unwrap_or_else(|| panic!("acknowledged key {key} (revision {revision}) was lost"));
        assert_eq!(kv.mod_revision, *revision, "{key}");
        assert_eq!(kv.value, key.as_bytes(), "{key}");
    }
}

#[tokio::test]
async fn sqlite_keeps_every_acknowledged_write_after_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let path_arg = path.to_str().unwrap();
    let mut total = 0;
    // Several rounds on one file: each reopen recovers the WAL the killed writer left behind.
    for round in 0..3 {
        let acked = write_then_kill(&["sqlite", path_arg], || ()).await;
        let store = SqliteStore::open(&path).unwrap();
        assert_all_present(&store, &acked).await;
        total += acked.len();
        let stored = store.range(&berth_store::RangeRequest::prefix("/crash/")).await.unwrap();
        assert!(stored.kvs.len() >= total, "round {round}: {} < {total}", stored.kvs.len());
    }
}

#[tokio::test]
#[allow(clippy::print_stderr, reason = "a skipped test must be visible in the test output")]
async fn etcd_keeps_every_acknowledged_write_after_sigkill_of_writer_and_etcd() {
    let mut etcd = match EtcdProcess::start().await {
        Ok(etcd) => etcd,
        Err(error) if std::env::var_os("BERTH_REAL").is_none() => {
            eprintln!("skipping: {error} (set BERTH_REAL=1 to make this fail)");
            return;
        }
        Err(error) => panic!("BERTH_REAL=1 and etcd cannot start: {error}"),
    };
    let endpoint = etcd.endpoint();
    // SIGKILL etcd in the same instant as the writer.
    let acked = write_then_kill(&["etcd", &endpoint, "/crash-test"], || etcd.kill()).await;
    etcd.restart().await.expect("restart etcd on its data dir");
    let store: Arc<dyn Store> = Arc::new(
        EtcdStore::connect(EtcdConfig {
            endpoints: vec![etcd.endpoint()],
            prefix: "/crash-test".into(),
        })
        .await
        .unwrap(),
    );
    assert_all_present(&*store, &acked).await;
}
