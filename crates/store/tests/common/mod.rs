//! Backends for the store tests: each fixture owns its store and whatever keeps it alive.

use std::sync::Arc;

use berth_store::{EtcdConfig, EtcdStore, MemoryStore, SqliteStore, Store};
use berth_testkit::etcd::EtcdProcess;

#[allow(dead_code, reason = "each test file uses some of the fields")]
pub(crate) struct Fixture {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) dir: Option<tempfile::TempDir>,
    pub(crate) etcd: Option<EtcdProcess>,
}

#[allow(dead_code, reason = "each test file uses some of the fixtures")]
impl Fixture {
    pub(crate) async fn memory() -> Fixture {
        Fixture { store: Arc::new(MemoryStore::new()), dir: None, etcd: None }
    }

    pub(crate) async fn sqlite() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("store.db")).unwrap();
        Fixture { store: Arc::new(store), dir: Some(dir), etcd: None }
    }

    /// A store on a fresh etcd of its own, or `None` when etcd is not installed and the run
    /// does not require real components (`BERTH_REAL=1`, which `.ci/run` sets, makes it fail).
    pub(crate) async fn etcd() -> Option<Fixture> {
        let etcd = real_etcd().await?;
        let store = EtcdStore::connect(etcd_config(&etcd)).await.unwrap();
        Some(Fixture { store: Arc::new(store), dir: None, etcd: Some(etcd) })
    }
}

pub(crate) fn etcd_config(etcd: &EtcdProcess) -> EtcdConfig {
    EtcdConfig { endpoints: vec![etcd.endpoint()], prefix: "/berth-test".into() }
}

/// Starts a real etcd, unless it is missing and not required.
#[allow(clippy::print_stderr, reason = "a skipped backend must be visible in the test output")]
pub(crate) async fn real_etcd() -> Option<EtcdProcess> {
    match EtcdProcess::start().await {
        Ok(etcd) => Some(etcd),
        Err(error) if std::env::var_os("BERTH_REAL").is_none() => {
            eprintln!("skipping the etcd backend: {error} (set BERTH_REAL=1 to make this fail)");
            None
        }
        Err(error) => panic!("BERTH_REAL=1 and etcd cannot start: {error}"),
    }
}
