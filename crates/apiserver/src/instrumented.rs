//! A [`Store`] wrapper that times every call into `etcd_request_duration_seconds`.
//!
//! Operations are kube-apiserver's etcd3 store names (`get`, `list`, `create`, `update`,
//! `delete`, `watch`, `compact`, plus `getRevision` for revision reads); the `type` label is the
//! key's group-resource (`metrics::key_type`), so label values stay bounded.

use std::sync::Arc;

use async_trait::async_trait;
use berth_store::{Deleted, KeyValue, RangePage, RangeRequest, Result, Revision, Store, Watch};
use bytes::Bytes;
use tokio::time::Instant;

use crate::metrics::{Metrics, key_type};

/// The store, timed.
#[derive(Debug)]
pub(crate) struct InstrumentedStore {
    inner: Arc<dyn Store>,
    metrics: Arc<Metrics>,
}

impl InstrumentedStore {
    pub(crate) fn new(inner: Arc<dyn Store>, metrics: Arc<Metrics>) -> InstrumentedStore {
        InstrumentedStore { inner, metrics }
    }

    fn done(&self, operation: &'static str, key: &str, started: Instant) {
        self.metrics.record_store(operation, key_type(key), started.elapsed().as_secs_f64());
    }
}

#[async_trait]
impl Store for InstrumentedStore {
    async fn current_revision(&self) -> Result<Revision> {
        let started = Instant::now();
        let result = self.inner.current_revision().await;
        self.done("getRevision", "", started);
        result
    }

    async fn compacted_revision(&self) -> Result<Revision> {
        let started = Instant::now();
        let result = self.inner.compacted_revision().await;
        self.done("getRevision", "", started);
        result
    }

    async fn get(&self, key: &str) -> Result<Option<KeyValue>> {
        let started = Instant::now();
        let result = self.inner.get(key).await;
        self.done("get", key, started);
        result
    }

    async fn range(&self, request: &RangeRequest) -> Result<RangePage> {
        let started = Instant::now();
        let result = self.inner.range(request).await;
        self.done("list", &request.prefix, started);
        result
    }

    async fn create(&self, key: &str, value: Bytes) -> Result<KeyValue> {
        let started = Instant::now();
        let result = self.inner.create(key, value).await;
        self.done("create", key, started);
        result
    }

    async fn update(&self, key: &str, value: Bytes, expected: Revision) -> Result<KeyValue> {
        let started = Instant::now();
        let result = self.inner.update(key, value, expected).await;
        self.done("update", key, started);
        result
    }

    async fn delete(&self, key: &str, expected: Option<Revision>) -> Result<Deleted> {
        let started = Instant::now();
        let result = self.inner.delete(key, expected).await;
        self.done("delete", key, started);
        result
    }

    async fn watch(&self, prefix: &str, after: Revision) -> Result<Watch> {
        let started = Instant::now();
        let result = self.inner.watch(prefix, after).await;
        self.done("watch", prefix, started);
        result
    }

    async fn compact(&self, revision: Revision) -> Result<()> {
        let started = Instant::now();
        let result = self.inner.compact(revision).await;
        self.done("compact", "", started);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_call_is_timed_by_operation_and_type() {
        let metrics = Arc::new(Metrics::default());
        let store =
            InstrumentedStore::new(Arc::new(berth_store::MemoryStore::new()), metrics.clone());
        let created =
            store.create("/registry/core/pods/s/p", Bytes::from_static(b"{}")).await.unwrap();
        store.get("/registry/core/pods/s/p").await.unwrap();
        store.range(&RangeRequest::prefix("/registry/apps/statefulsets/")).await.unwrap();
        store
            .update("/registry/core/pods/s/p", Bytes::from_static(b"{}"), created.mod_revision)
            .await
            .unwrap();
        store.delete("/registry/core/pods/s/p", None).await.unwrap();
        let text = metrics.render(&[]);
        for (operation, kind) in [
            ("create", "pods"),
            ("get", "pods"),
            ("list", "statefulsets.apps"),
            ("update", "pods"),
            ("delete", "pods"),
        ] {
            let count = format!(
                "etcd_request_duration_seconds_count{{operation=\"{operation}\",type=\"{kind}\"}} 1\n"
            );
            assert!(text.contains(&count), "{count} in {text}");
        }
    }
}
