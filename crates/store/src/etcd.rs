//! etcd v3 backend: [`EtcdStore`] keeps berth's keys under a prefix of an etcd cluster.
//!
//! Revisions are etcd's own. Writes are single-key transactions guarded by `create_revision` /
//! `mod_revision` compares, so several berth servers can share one etcd safely. Watches fan out
//! from one etcd watch on the whole data prefix (the feed task below) into the shared [`Hub`];
//! watchers that start in the past catch up from etcd's history through a temporary etcd watch.
//!
//! Key layout, for a configured prefix `p` (trailing `/` trimmed): user key `k` lives at `p/k`,
//! and the compaction marker at `p#compacted`. The two never collide (`/` and `#` differ), and
//! stores with different, non-nested prefixes can share one etcd.
//!
//! Where etcd shows through the trait: revisions are shared with everything else in the cluster
//! (a fresh etcd is at revision 1, and other prefixes' writes use revisions too); `compact`
//! writes the marker, so it takes a revision of its own; and a revision in which another client
//! changed several of our keys at once (a multi-key txn, a prefix delete) resets every watcher,
//! because the watch feed carries one event per revision.
//!
//! Suggested reading order: [`EtcdStore::connect`], the [`Store`] impl, the [`History`] impl,
//! then the feed task.

use std::{fmt, future::Future, sync::Arc, time::Duration};

use async_trait::async_trait;
use bytes::Bytes;
use etcd_client::{
    Client, Compare, CompareOp, ConnectOptions, DeleteOptions, EventType, GetOptions, GetResponse,
    KvClient, PutOptions, ResponseHeader, Txn, TxnOp, TxnOpResponse, TxnResponse, WatchClient,
    WatchOptions, WatchResponse, WatchStream,
};
use tokio::{task::AbortHandle, time::timeout};
use tracing::Instrument;

use crate::{
    Deleted, Error, Event, KeyValue, MAX_VALUE_BYTES, RangePage, RangeRequest, Result, Revision,
    Store, check_size, prefix_end,
    watch::{History, Hub, Watch},
};

/// Keys per etcd range request when a range is read in pages.
const RANGE_PAGE: usize = 500;

/// The largest gRPC message the client accepts. One value may be 1.5 MiB and a page holds many,
/// so this is as high as tonic allows (Kubernetes uses `math.MaxInt32` too).
const MAX_MESSAGE_BYTES: usize = i32::MAX as usize;

/// How long a unary request (or opening a watch) may take before it fails.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A history read fails when its watch has been silent this long. A watch over all keys gets a
/// response for every revision it passes, so silence means etcd is stuck, not that it is idle.
const HISTORY_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// How long to wait for etcd to say how far it has compacted (see `etcd_compacted_revision`).
const COMPACT_PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// The feed's reconnect backoff.
const FEED_BACKOFF_MIN: Duration = Duration::from_millis(100);
const FEED_BACKOFF_MAX: Duration = Duration::from_secs(2);

/// Where the etcd cluster is.
#[derive(Debug, Clone)]
pub struct EtcdConfig {
    /// Client URLs (`http://host:port`, or `host:port`).
    pub endpoints: Vec<String>,
    /// Every key berth writes lives under this prefix (e.g. `/berth`). Stores sharing one etcd
    /// need prefixes where neither is a prefix of the other.
    pub prefix: String,
}

/// A store on an etcd cluster. Cheap to clone; clones share one connection and one watch feed.
///
/// The feed task stops when the last clone and the last [`Watch`] made from it are dropped.
#[derive(Debug, Clone)]
pub struct EtcdStore {
    inner: Arc<Inner>,
}

struct Inner {
    kv: KvClient,
    watch: WatchClient,
    keys: Keys,
    /// Names the cluster in [`Error::Backend`].
    context: String,
    hub: Arc<Hub>,
    _feed: AbortOnDrop,
}

impl fmt::Debug for Inner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inner")
            .field("cluster", &self.context)
            .field("prefix", &self.keys.data)
            .field("hub", &self.hub)
            .finish_non_exhaustive()
    }
}

impl EtcdStore {
    /// Connects to etcd, reads its current revision and starts the watch feed from just after
    /// it. Fails with [`Error::Backend`] when etcd does not answer.
    pub async fn connect(config: EtcdConfig) -> Result<EtcdStore> {
        let context = format!("etcd {}", config.endpoints.join(","));
        let keys = Keys::new(&config.prefix);
        let options = ConnectOptions::new()
            .with_connect_timeout(CONNECT_TIMEOUT)
            .with_timeout(REQUEST_TIMEOUT)
            .with_keep_alive(Duration::from_secs(30), Duration::from_secs(10))
            .with_keep_alive_while_idle(true);
        let client = Client::connect(&config.endpoints, Some(options))
            .await
            .map_err(|e| backend(&context, e.into()))?;
        let kv = client.kv_client().max_decoding_message_size(MAX_MESSAGE_BYTES);
        let watch = client.watch_client().max_decoding_message_size(MAX_MESSAGE_BYTES);

        let current = current_revision(&kv, &keys).await.map_err(|e| backend(&context, e))?;
        let hub = Arc::new(Hub::new(current));
        let feed = Feed {
            watch: watch.clone(),
            keys: keys.clone(),
            hub: Arc::clone(&hub),
            last: current,
            resume_after: current,
            reset_at: None,
        };
        let span = tracing::info_span!("etcd_feed", cluster = %context, prefix = %keys.data);
        let task = tokio::spawn(feed.run().instrument(span));
        let inner =
            Inner { kv, watch, keys, context, hub, _feed: AbortOnDrop(task.abort_handle()) };
        Ok(EtcdStore { inner: Arc::new(inner) })
    }
}

// === impl Store ===

#[async_trait]
impl Store for EtcdStore {
    async fn current_revision(&self) -> Result<Revision> {
        let inner = &self.inner;
        current_revision(&inner.kv, &inner.keys).await.map_err(|e| inner.backend(e))
    }

    async fn compacted_revision(&self) -> Result<Revision> {
        Ok(self.inner.read_marker().await?.compacted)
    }

    async fn get(&self, key: &str) -> Result<Option<KeyValue>> {
        let inner = &self.inner;
        let mut kv = inner.kv.clone();
        let response = inner.call(kv.get(inner.keys.data_key(key), None)).await?;
        Ok(response.kvs().first().and_then(|kv| inner.keys.key_value(kv)))
    }

    async fn range(&self, request: &RangeRequest) -> Result<RangePage> {
        self.inner.range(request).await
    }

    async fn create(&self, key: &str, value: Bytes) -> Result<KeyValue> {
        check_size(key, &value)?;
        let inner = &self.inner;
        let data_key = inner.keys.data_key(key);
        let txn = Txn::new()
            .when([Compare::create_revision(data_key.clone(), CompareOp::Equal, 0)])
            .and_then([TxnOp::put(data_key.clone(), value.to_vec(), None)])
            .or_else([TxnOp::get(data_key, None)]);
        let response = inner.txn(txn, key, &value).await?;
        if response.succeeded() {
            let revision = header_revision(response.header()).map_err(|e| inner.backend(e))?;
            return Ok(KeyValue {
                key: key.to_owned(),
                value,
                create_revision: revision,
                mod_revision: revision,
            });
        }
        match inner.txn_get(&response) {
            Some(current) => {
                Err(Error::AlreadyExists { key: key.to_owned(), current: Box::new(current) })
            }
            None => Err(inner.backend(RpcError::Protocol("a failed create without the key"))),
        }
    }

    async fn update(&self, key: &str, value: Bytes, expected: Revision) -> Result<KeyValue> {
        check_size(key, &value)?;
        let inner = &self.inner;
        let data_key = inner.keys.data_key(key);
        // The key must exist: a missing key has mod revision 0, which `expected` may be.
        let txn = Txn::new()
            .when([
                Compare::create_revision(data_key.clone(), CompareOp::Greater, 0),
                Compare::mod_revision(data_key.clone(), CompareOp::Equal, expected.0),
            ])
            .and_then([TxnOp::put(
                data_key.clone(),
                value.to_vec(),
                Some(PutOptions::new().with_prev_key()),
            )])
            .or_else([TxnOp::get(data_key, None)]);
        let response = inner.txn(txn, key, &value).await?;
        if response.succeeded() {
            let revision = header_revision(response.header()).map_err(|e| inner.backend(e))?;
            let prev = response.op_responses().into_iter().find_map(|op| match op {
                TxnOpResponse::Put(put) => put.prev_key().map(|kv| kv.create_revision()),
                _ => None,
            });
            let Some(create_revision) = prev else {
                return Err(
                    inner.backend(RpcError::Protocol("an update without the previous value"))
                );
            };
            return Ok(KeyValue {
                key: key.to_owned(),
                value,
                create_revision: Revision(create_revision),
                mod_revision: revision,
            });
        }
        match inner.txn_get(&response) {
            Some(current) => {
                Err(Error::Conflict { key: key.to_owned(), expected, current: Box::new(current) })
            }
            None => Err(Error::NotFound { key: key.to_owned() }),
        }
    }

    async fn delete(&self, key: &str, expected: Option<Revision>) -> Result<Deleted> {
        let inner = &self.inner;
        let data_key = inner.keys.data_key(key);
        let mut compares = vec![Compare::create_revision(data_key.clone(), CompareOp::Greater, 0)];
        if let Some(expected) = expected {
            compares.push(Compare::mod_revision(data_key.clone(), CompareOp::Equal, expected.0));
        }
        let txn = Txn::new()
            .when(compares)
            .and_then([TxnOp::delete(data_key.clone(), Some(DeleteOptions::new().with_prev_key()))])
            .or_else([TxnOp::get(data_key, None)]);
        let response = inner.txn(txn, key, &Bytes::new()).await?;
        if response.succeeded() {
            let revision = header_revision(response.header()).map_err(|e| inner.backend(e))?;
            let prev = response.op_responses().into_iter().find_map(|op| match op {
                TxnOpResponse::Delete(delete) => {
                    delete.prev_kvs().first().and_then(|kv| inner.keys.key_value(kv))
                }
                _ => None,
            });
            let Some(prev) = prev else {
                return Err(
                    inner.backend(RpcError::Protocol("a delete without the previous value"))
                );
            };
            return Ok(Deleted { revision, prev });
        }
        match (inner.txn_get(&response), expected) {
            (Some(current), Some(expected)) => {
                Err(Error::Conflict { key: key.to_owned(), expected, current: Box::new(current) })
            }
            _ => Err(Error::NotFound { key: key.to_owned() }),
        }
    }

    async fn watch(&self, prefix: &str, after: Revision) -> Result<Watch> {
        let compacted = self.inner.read_marker().await?.compacted;
        if after < compacted {
            return Err(Error::Compacted { requested: after, compacted });
        }
        let history: Arc<dyn History> = self.inner.clone();
        Ok(self.inner.hub.watch(history, prefix, after))
    }

    async fn compact(&self, revision: Revision) -> Result<()> {
        let inner = &self.inner;
        let marker = inner.read_marker().await?;
        if revision <= marker.compacted {
            return Ok(());
        }
        if revision > marker.current {
            return Err(Error::FutureRevision { requested: revision, current: marker.current });
        }
        // Compact etcd first, then record it: if we crash in between, the marker lags and the
        // next compaction repeats the work, rather than claiming history etcd still has.
        let mut kv = inner.kv.clone();
        match rpc(kv.compact(revision.0, None)).await {
            Ok(_) => {}
            // Another server (or an etcd compactor) got further first: fine.
            Err(e) if e.is(ETCD_COMPACTED) => {}
            Err(e) => return Err(inner.backend(e)),
        }
        inner.advance_marker(revision, marker).await
    }
}

// === impl Inner: reads and writes ===

impl Inner {
    fn backend(&self, error: RpcError) -> Error {
        backend(&self.context, error)
    }

    /// Runs one request, mapping any failure to [`Error::Backend`].
    async fn call<T>(
        &self,
        request: impl Future<Output = Result<T, etcd_client::Error>>,
    ) -> Result<T> {
        rpc(request).await.map_err(|e| self.backend(e))
    }

    /// Runs a write transaction for `key`, mapping etcd's size limit to [`Error::TooLarge`].
    async fn txn(&self, txn: Txn, key: &str, value: &Bytes) -> Result<TxnResponse> {
        let mut kv = self.kv.clone();
        match rpc(kv.txn(txn)).await {
            Ok(response) => Ok(response),
            Err(e) if e.is(ETCD_TOO_LARGE) || e.is(GRPC_TOO_LARGE) => Err(Error::TooLarge {
                key: key.to_owned(),
                size: key.len() + value.len(),
                limit: MAX_VALUE_BYTES,
            }),
            Err(e) => Err(self.backend(e)),
        }
    }

    /// The key a failed write transaction read in its `or_else` branch.
    fn txn_get(&self, response: &TxnResponse) -> Option<KeyValue> {
        response.op_responses().into_iter().find_map(|op| match op {
            TxnOpResponse::Get(get) => get.kvs().first().and_then(|kv| self.keys.key_value(kv)),
            _ => None,
        })
    }

    async fn range(&self, request: &RangeRequest) -> Result<RangePage> {
        if let Some(requested) = request.revision.filter(|r| r.0 <= 0) {
            // etcd reads revision 0 as "now"; we mean "before anything", where nothing exists.
            let compacted = self.read_marker().await?.compacted;
            if requested < compacted {
                return Err(Error::Compacted { requested, compacted });
            }
            return Ok(RangePage { kvs: Vec::new(), more: false, revision: requested });
        }
        let prefix = self.keys.data_key(&request.prefix);
        let end = prefix_end(&prefix);
        let mut start = prefix.clone();
        if let Some(after) = &request.start_after {
            let mut after = self.keys.data_key(after);
            after.push(0);
            start = start.max(after);
        }
        if let Some(end) = &end
            && start > *end
        {
            // An empty range; etcd wants start <= end.
            start.clone_from(end);
        }

        // 0 asks etcd for its newest revision; every later page reads the first page's.
        let mut revision = request.revision.map_or(0, |r| r.0);
        let mut remaining = request.limit;
        let mut kvs = Vec::new();
        let mut more;
        loop {
            let page_limit = match remaining {
                // Only asks whether any key is there.
                Some(0) => 1,
                Some(n) => n.min(RANGE_PAGE),
                None => RANGE_PAGE,
            };
            let mut options = GetOptions::new()
                .with_limit(i64::try_from(page_limit).unwrap_or(i64::MAX))
                .with_revision(revision);
            options = match &end {
                Some(end) => options.with_range(end.clone()),
                None => options.with_from_key(),
            };
            let mut kv = self.kv.clone();
            let mut response = match rpc(kv.get(start.clone(), Some(options))).await {
                Ok(response) => response,
                Err(e) => return Err(self.read_error(e, Revision(revision)).await),
            };
            if revision == 0 {
                revision = header_revision(response.header()).map_err(|e| self.backend(e))?.0;
            }
            more = response.more();
            let page = response.take_kvs();
            if remaining == Some(0) {
                more = !page.is_empty();
                break;
            }
            if let Some(last) = page.last() {
                start = last.key().to_vec();
                start.push(0);
            }
            let taken = page.len();
            kvs.extend(page.into_iter().filter_map(|kv| self.keys.owned_key_value(kv)));
            if let Some(n) = remaining.as_mut() {
                *n = n.saturating_sub(taken);
                if *n == 0 {
                    break;
                }
            }
            if !more || taken == 0 {
                break;
            }
        }
        Ok(RangePage { kvs, more, revision: Revision(revision) })
    }

    /// Maps a failed read at `requested` to [`Error::Compacted`] / [`Error::FutureRevision`].
    async fn read_error(&self, error: RpcError, requested: Revision) -> Error {
        if error.is(ETCD_COMPACTED) {
            return self.compacted_error(requested).await;
        }
        if error.is(ETCD_FUTURE_REVISION) {
            return match self.call_current_revision().await {
                Ok(current) => Error::FutureRevision { requested, current },
                Err(e) => e,
            };
        }
        self.backend(error)
    }

    async fn call_current_revision(&self) -> Result<Revision> {
        current_revision(&self.kv, &self.keys).await.map_err(|e| self.backend(e))
    }

    /// [`Error::Compacted`] for a read etcd refused at `requested`, naming the oldest revision
    /// still readable: our marker, unless etcd was compacted further by someone else.
    async fn compacted_error(&self, requested: Revision) -> Error {
        let marker = match self.read_marker().await {
            Ok(marker) => marker.compacted,
            Err(e) => return e,
        };
        let compacted = if marker > requested {
            marker
        } else {
            let fallback = Revision(requested.0.saturating_add(1));
            self.etcd_compacted_revision(requested).await.unwrap_or(fallback)
        };
        Error::Compacted { requested, compacted }
    }

    /// How far etcd itself is compacted, when it is past `requested`: a watch from `requested`
    /// is cancelled with etcd's compact revision. `None` if etcd does not say in time.
    async fn etcd_compacted_revision(&self, requested: Revision) -> Option<Revision> {
        let mut client = self.watch.clone();
        let options = WatchOptions::new().with_start_revision(requested.0.max(1));
        let probe = async {
            let mut stream = client.watch(self.keys.marker.clone(), Some(options)).await.ok()?;
            while let Some(response) = stream.message().await.ok()? {
                if response.canceled() {
                    return (response.compact_revision() > 0)
                        .then_some(Revision(response.compact_revision()));
                }
            }
            None
        };
        timeout(COMPACT_PROBE_TIMEOUT, probe).await.ok().flatten()
    }

    /// The compaction marker, and the current revision read with it.
    async fn read_marker(&self) -> Result<Marker> {
        let mut kv = self.kv.clone();
        let response = self.call(kv.get(self.keys.marker.clone(), None)).await?;
        Marker::from_response(&response).map_err(|e| self.backend(e))
    }

    /// Moves the marker forward to `revision`; never back, whoever else compacts.
    async fn advance_marker(&self, revision: Revision, mut marker: Marker) -> Result<()> {
        let key = self.keys.marker.clone();
        // Each failed round means another server moved the marker; it cannot move forever.
        for _ in 0..16 {
            if marker.compacted >= revision {
                return Ok(());
            }
            let txn = Txn::new()
                .when([Compare::mod_revision(key.clone(), CompareOp::Equal, marker.mod_revision)])
                .and_then([TxnOp::put(key.clone(), revision.0.to_string(), None)])
                .or_else([TxnOp::get(key.clone(), None)]);
            let mut kv = self.kv.clone();
            let response = self.call(kv.txn(txn)).await?;
            if response.succeeded() {
                return Ok(());
            }
            let current = response.op_responses().into_iter().find_map(|op| match op {
                TxnOpResponse::Get(get) => Some(Marker::from_response(&get)),
                _ => None,
            });
            marker = match current {
                Some(marker) => marker.map_err(|e| self.backend(e))?,
                None => {
                    return Err(self.backend(RpcError::Protocol("a failed txn without the marker")));
                }
            };
        }
        Err(self.backend(RpcError::Protocol("a compaction marker that keeps changing")))
    }
}

// === impl History ===

/// etcd keeps history only as watch events, so a watcher catching up opens a temporary etcd watch
/// from `after + 1` and reads until it has passed `upto`.
///
/// The watch covers *all* keys, not just `prefix`: every etcd revision has at least one event
/// somewhere, so an event at or past `upto` always arrives and says the read is complete, even
/// when nothing under `prefix` changed. (A progress request cannot say it on etcd 3.4.23: its
/// answer is not ordered after the events of a watch that is still catching up, etcd#15220.)
#[async_trait]
impl History for Inner {
    async fn history(
        &self,
        prefix: &str,
        after: Revision,
        upto: Revision,
        limit: usize,
    ) -> Result<Vec<Event>> {
        if upto <= after || limit == 0 {
            return Ok(Vec::new());
        }
        let marker = self.read_marker().await?;
        if after < marker.compacted {
            return Err(Error::Compacted { requested: after, compacted: marker.compacted });
        }
        // Revisions past etcd's current one would never arrive, and etcd's first revision (1,
        // the empty store) has no event; a watch waiting for either would wait for a write.
        let upto = upto.min(marker.current);
        let from = after.max(Revision(1));
        if upto <= from {
            return Ok(Vec::new());
        }
        let wanted = self.keys.data_key(prefix);
        let options =
            WatchOptions::new().with_all_keys().with_start_revision(from.0 + 1).with_prev_key();
        let mut client = self.watch.clone();
        let mut stream = self.call(client.watch(vec![0], Some(options))).await?;
        let result = self.read_history(&mut stream, &wanted, after, upto, limit).await;
        // Dropping the stream ends the watch on the server too; cancelling first is politeness.
        if let Some(watch_id) = result.as_ref().ok().map(|(_, id)| *id) {
            let _ = stream.cancel(watch_id).await;
        }
        result.map(|(events, _)| events)
    }
}

impl Inner {
    /// Reads `stream` until it has passed `upto` or found `limit` events under `wanted`; returns
    /// them and the watch id.
    async fn read_history(
        &self,
        stream: &mut WatchStream,
        wanted: &[u8],
        after: Revision,
        upto: Revision,
        limit: usize,
    ) -> Result<(Vec<Event>, i64)> {
        let mut events = Vec::new();
        loop {
            let response = match timeout(HISTORY_IDLE_TIMEOUT, stream.message()).await {
                Err(_) => return Err(self.backend(RpcError::TimedOut(HISTORY_IDLE_TIMEOUT))),
                Ok(Err(e)) => return Err(self.backend(e.into())),
                Ok(Ok(None)) => return Err(self.backend(RpcError::Protocol("the end of a watch"))),
                Ok(Ok(Some(response))) => response,
            };
            if response.canceled() {
                return Err(self.watch_cancelled(&response, after));
            }
            // etcd never splits one revision's events across responses (we do not ask for
            // fragments), so a response reaching `upto` completes it.
            let mut seen = after;
            for event in response.events() {
                let Some(kv) = event.kv() else { continue };
                let revision = Revision(kv.mod_revision());
                if revision > upto {
                    return Ok((events, response.watch_id()));
                }
                seen = revision;
                if !kv.key().starts_with(wanted) {
                    continue;
                }
                match self.keys.event(event) {
                    Converted::Event(event) => events.push(event),
                    Converted::Skip => {}
                    Converted::PrevCompacted(_) => {
                        return Err(self.compacted_error(after).await);
                    }
                }
                if events.len() == limit {
                    return Ok((events, response.watch_id()));
                }
            }
            if seen >= upto {
                return Ok((events, response.watch_id()));
            }
        }
    }

    fn watch_cancelled(&self, response: &WatchResponse, after: Revision) -> Error {
        if response.compact_revision() > 0 {
            let compacted = Revision(response.compact_revision());
            return Error::Compacted { requested: after, compacted };
        }
        self.backend(RpcError::Cancelled(response.cancel_reason().to_owned()))
    }
}

// === the feed ===

/// The one etcd watch on the whole data prefix that feeds the [`Hub`].
struct Feed {
    watch: WatchClient,
    keys: Keys,
    hub: Arc<Hub>,
    /// The revision of the last event published, or of the last reset.
    last: Revision,
    /// Every event up to here has been seen; a new etcd watch starts just after it.
    resume_after: Revision,
    /// A revision the feed has already reset for, so one bad revision resets once.
    reset_at: Option<Revision>,
}

impl Feed {
    async fn run(mut self) {
        let mut backoff = FEED_BACKOFF_MIN;
        loop {
            match self.follow().await {
                FeedEnd::Compacted(compacted) => {
                    // etcd no longer has the changes after `resume_after`: every watcher must
                    // re-list. Continue from the oldest revision etcd still has.
                    tracing::warn!(%compacted, after = %self.resume_after, "etcd compacted the feed's position; watchers must re-list");
                    self.reset(compacted);
                    self.resume_after = self.resume_after.max(compacted);
                    backoff = FEED_BACKOFF_MIN;
                }
                FeedEnd::Failed(error, made_progress) => {
                    if made_progress {
                        backoff = FEED_BACKOFF_MIN;
                    }
                    tracing::debug!(error = %error, after = %self.resume_after, ?backoff, "etcd feed watch ended; reconnecting");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(FEED_BACKOFF_MAX);
                }
            }
        }
    }

    /// Follows one etcd watch until it fails.
    async fn follow(&mut self) -> FeedEnd {
        let options = WatchOptions::new()
            .with_prefix()
            .with_start_revision(self.resume_after.0 + 1)
            .with_prev_key()
            .with_progress_notify();
        let mut client = self.watch.clone();
        let mut stream =
            match rpc(client.watch(self.keys.data.clone().into_bytes(), Some(options))).await {
                Ok(stream) => stream,
                Err(e) => return FeedEnd::Failed(e, false),
            };
        let mut watch_id = None;
        let mut made_progress = false;
        loop {
            let response = match stream.message().await {
                Ok(Some(response)) => response,
                Ok(None) => {
                    return FeedEnd::Failed(
                        RpcError::Protocol("the end of a watch"),
                        made_progress,
                    );
                }
                Err(e) => return FeedEnd::Failed(e.into(), made_progress),
            };
            made_progress = true;
            if response.created() {
                watch_id = Some(response.watch_id());
                tracing::debug!(after = %self.resume_after, "etcd feed watching");
            }
            if response.canceled() {
                if response.compact_revision() > 0 {
                    return FeedEnd::Compacted(Revision(response.compact_revision()));
                }
                let reason = RpcError::Cancelled(response.cancel_reason().to_owned());
                return FeedEnd::Failed(reason, made_progress);
            }
            if response.events().is_empty() {
                // A progress notification: this watch has seen everything up to the header's
                // revision, so a reconnect need not read those revisions again.
                if !response.created()
                    && Some(response.watch_id()) == watch_id
                    && let Ok(revision) = header_revision(response.header())
                {
                    self.resume_after = self.resume_after.max(revision);
                }
                continue;
            }
            self.publish(&response);
        }
    }

    fn publish(&mut self, response: &WatchResponse) {
        for event in response.events() {
            let Some(kv) = event.kv() else { continue };
            let revision = Revision(kv.mod_revision());
            self.resume_after = self.resume_after.max(revision);
            if revision < self.last {
                continue;
            }
            if revision == self.last {
                // A second event in one revision (another client's multi-key txn or a prefix
                // delete). The watch feed carries one event per revision, so make watchers
                // re-list rather than drop it.
                if self.reset_at != Some(revision) {
                    tracing::warn!(%revision, key = %String::from_utf8_lossy(kv.key()), "several changes in one etcd revision; watchers must re-list");
                    self.reset(revision);
                }
                continue;
            }
            match self.keys.event(event) {
                Converted::Event(event) => {
                    self.hub.publish([event]);
                    self.last = revision;
                }
                Converted::Skip => {
                    tracing::warn!(key = %String::from_utf8_lossy(kv.key()), "ignoring a key that is not UTF-8");
                }
                Converted::PrevCompacted(revision) => {
                    tracing::warn!(%revision, "etcd compacted an event's previous value; watchers must re-list");
                    self.reset(revision);
                }
            }
        }
    }

    fn reset(&mut self, revision: Revision) {
        self.hub.reset(revision);
        self.last = self.last.max(revision);
        self.reset_at = Some(revision);
    }
}

enum FeedEnd {
    Compacted(Revision),
    /// The watch failed; `true` if it had delivered anything (so the backoff starts over).
    Failed(RpcError, bool),
}

/// Aborts the feed task when the store is dropped.
#[derive(Debug)]
struct AbortOnDrop(AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

// === key layout and conversions ===

#[derive(Debug, Clone)]
struct Keys {
    /// `prefix/`: every user key lives under it.
    data: String,
    /// `prefix#compacted`: the compacted revision, in decimal.
    marker: String,
}

enum Converted {
    Event(Event),
    /// Not one of ours: a key that is not UTF-8.
    Skip,
    /// etcd no longer has the previous value of this revision's change.
    PrevCompacted(Revision),
}

impl Keys {
    fn new(prefix: &str) -> Keys {
        let prefix = prefix.trim_end_matches('/');
        Keys { data: format!("{prefix}/"), marker: format!("{prefix}#compacted") }
    }

    fn data_key(&self, key: &str) -> Vec<u8> {
        let mut data = Vec::with_capacity(self.data.len() + key.len());
        data.extend_from_slice(self.data.as_bytes());
        data.extend_from_slice(key.as_bytes());
        data
    }

    fn user_key<'a>(&self, key: &'a [u8]) -> Option<&'a str> {
        std::str::from_utf8(key.strip_prefix(self.data.as_bytes())?).ok()
    }

    fn key_value(&self, kv: &etcd_client::KeyValue) -> Option<KeyValue> {
        Some(KeyValue {
            key: self.user_key(kv.key())?.to_owned(),
            value: Bytes::copy_from_slice(kv.value()),
            create_revision: Revision(kv.create_revision()),
            mod_revision: Revision(kv.mod_revision()),
        })
    }

    /// Like `key_value`, without copying the value.
    fn owned_key_value(&self, kv: etcd_client::KeyValue) -> Option<KeyValue> {
        let (create_revision, mod_revision) = (kv.create_revision(), kv.mod_revision());
        let (key, value) = kv.into_key_value();
        let Some(user_key) = self.user_key(&key) else {
            tracing::warn!(key = %String::from_utf8_lossy(&key), "ignoring a key that is not UTF-8");
            return None;
        };
        Some(KeyValue {
            key: user_key.to_owned(),
            value: Bytes::from(value),
            create_revision: Revision(create_revision),
            mod_revision: Revision(mod_revision),
        })
    }

    fn event(&self, event: &etcd_client::Event) -> Converted {
        let Some(kv) = event.kv().and_then(|kv| self.key_value(kv)) else {
            return Converted::Skip;
        };
        let prev = event.prev_kv().and_then(|kv| self.key_value(kv));
        let revision = kv.mod_revision;
        match event.event_type() {
            EventType::Put => {
                // An update whose previous value etcd could not read any more.
                if prev.is_none() && kv.create_revision != kv.mod_revision {
                    return Converted::PrevCompacted(revision);
                }
                Converted::Event(Event::Put { kv, prev })
            }
            EventType::Delete => match prev {
                Some(prev) => Converted::Event(Event::Delete { revision, prev }),
                None => Converted::PrevCompacted(revision),
            },
        }
    }
}

/// The compaction marker as read, with the revision it was read at.
#[derive(Debug, Clone, Copy)]
struct Marker {
    compacted: Revision,
    /// The marker key's mod revision (0 if absent): the guard for moving it.
    mod_revision: i64,
    current: Revision,
}

impl Marker {
    fn from_response(response: &GetResponse) -> Result<Marker, RpcError> {
        let current = header_revision(response.header())?;
        let Some(kv) = response.kvs().first() else {
            return Ok(Marker { compacted: Revision::ZERO, mod_revision: 0, current });
        };
        let compacted = std::str::from_utf8(kv.value())
            .ok()
            .and_then(|value| value.parse().ok())
            .ok_or(RpcError::Protocol("a compaction marker that is not a number"))?;
        Ok(Marker { compacted: Revision(compacted), mod_revision: kv.mod_revision(), current })
    }
}

// === requests and errors ===

/// etcd's error messages (gRPC status messages) that mean something to the store.
const ETCD_COMPACTED: &str = "required revision has been compacted";
const ETCD_FUTURE_REVISION: &str = "required revision is a future revision";
const ETCD_TOO_LARGE: &str = "request is too large";
/// gRPC's own limit (etcd's `--max-request-bytes` plus 512 KiB) answers `ResourceExhausted`.
const GRPC_TOO_LARGE: &str = "larger than max";

/// Why a request to etcd failed; the `source` of [`Error::Backend`].
#[derive(Debug, thiserror::Error)]
enum RpcError {
    #[error(transparent)]
    Etcd(#[from] etcd_client::Error),
    #[error("no answer within {0:?}")]
    TimedOut(Duration),
    #[error("etcd sent {0}")]
    Protocol(&'static str),
    #[error("etcd cancelled the watch: {0}")]
    Cancelled(String),
}

impl RpcError {
    /// Whether this is a gRPC error whose message contains `message`.
    fn is(&self, message: &str) -> bool {
        match self {
            RpcError::Etcd(etcd_client::Error::GRpcStatus(status)) => {
                status.message().contains(message)
            }
            _ => false,
        }
    }
}

fn backend(context: &str, error: RpcError) -> Error {
    Error::Backend { context: context.to_owned(), source: Box::new(error) }
}

/// Runs one request under [`REQUEST_TIMEOUT`] (tonic's own timeout does not cover waiting for a
/// connection).
async fn rpc<T>(
    request: impl Future<Output = Result<T, etcd_client::Error>>,
) -> Result<T, RpcError> {
    match timeout(REQUEST_TIMEOUT, request).await {
        Ok(result) => result.map_err(RpcError::from),
        Err(_) => Err(RpcError::TimedOut(REQUEST_TIMEOUT)),
    }
}

/// The current revision: the header of the cheapest read there is.
async fn current_revision(kv: &KvClient, keys: &Keys) -> Result<Revision, RpcError> {
    let mut kv = kv.clone();
    let options = GetOptions::new().with_count_only();
    let response = rpc(kv.get(keys.marker.clone(), Some(options))).await?;
    header_revision(response.header())
}

fn header_revision(header: Option<&ResponseHeader>) -> Result<Revision, RpcError> {
    header.map(|h| Revision(h.revision())).ok_or(RpcError::Protocol("a response without a header"))
}
