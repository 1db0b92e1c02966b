//! SQLite backend: the default store, one file in the data dir.
//!
//! Layout (format 2, `PRAGMA user_version`): `log` holds one row per revision (the key, the new
//! value or NULL for a delete, the key's create revision and the revision it replaced); `meta`
//! holds the compacted revision and how far compaction has physically cleaned. The current
//! revision is not stored: it is the newest `log` row, or the compacted revision if cleanup
//! removed that row (cleanup never touches rows after the compacted revision), which saves a
//! page write per commit.
//!
//! Which `log` row is each live key's current version lives in memory, in an [`Index`] built
//! from `log` at open (etcd's treeIndex): a write is one B-tree insert, like the plainest SQLite
//! commit. (Format 1 kept that index as a `kv` table, a second B-tree update per write and a
//! fifth of the sequential write rate; opening a format-1 file drops the table.)
//!
//! One writer thread owns the write connection. It takes every write waiting in its queue,
//! applies them in one transaction (each still checked against its own compare-and-swap guard)
//! and commits once: one fsync acknowledges the whole group (`synchronous=FULL` in WAL mode), so
//! concurrent writers share fsyncs. After the commit it publishes the changes to the watch feed,
//! then answers the writers. Reads run on a small pool of connections in WAL snapshot isolation.
//! Compaction is cut into short transactions that the writer runs between write groups.
//!
//! A second process opening the same file is refused (an exclusive lock on `<file>.lock`); a file
//! that is not a berth store is refused with its path named, never reset.

use std::{
    collections::{BTreeMap, HashMap},
    fs::File,
    ops::Bound,
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard,
        atomic::{AtomicI64, Ordering},
        mpsc,
    },
};

use async_trait::async_trait;
use bytes::Bytes;
use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, TransactionBehavior, params};
use tokio::sync::oneshot;

use crate::{
    Deleted, Error, Event, KeyValue, RangePage, RangeRequest, Result, Revision, Store, check_size,
    prefix_end,
    watch::{History, Hub, Watch},
};

/// `PRAGMA application_id` of a berth store: "bert".
const APPLICATION_ID: i64 = 0x6265_7274;
/// The on-disk format this code reads and writes (1, with a `kv` table, is upgraded on open).
const FORMAT: i64 = 2;
/// At most this many writes share one transaction.
const MAX_GROUP: usize = 512;
/// How long a group waits for one more write when several writers are active.
const GROUP_LINGER: std::time::Duration = std::time::Duration::from_micros(50);
/// Revisions cleaned per compaction transaction.
const COMPACT_CHUNK: i64 = 2000;
/// Reads that run at once, each on its own connection and blocking thread; the rest wait for a
/// turn. Also the number of read connections kept open. Unbounded, a burst of reads (a
/// 1,000-pod StatefulSet's controllers) grew the blocking pool to a thread per read, each with
/// its own allocator pages and a connection opened for it and closed after.
const MAX_READERS: usize = 4;
/// How often a current read starts over when compaction removed a version it was about to read.
const READ_ATTEMPTS: usize = 5;
/// The recently read current values kept in memory ([`Values`]): at most this many…
const CACHED_VALUES: usize = 1024;
/// …and this many bytes of values. Enough for the hot keys (admission's namespaces and
/// ServiceAccounts); the API server keeps the objects it wrote last decoded anyway.
const CACHED_BYTES: usize = 1 << 20;
/// SQLite's page cache per read connection, in KiB (`PRAGMA cache_size`; SQLite's default is
/// 2,000). Pages it misses come from the OS page cache with a `pread`; up to
/// [`MAX_READERS`] caches filled by LISTs were a large part of the server's memory per
/// stored object (docs/benchmarks.md, control plane (d)).
const READER_CACHE_KIB: u32 = 512;
/// The writer's page cache, in KiB: the log's last pages and the key index's inner pages.
const WRITER_CACHE_KIB: u32 = 1024;

const SCHEMA: &str = "
CREATE TABLE meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE log (
    rev INTEGER PRIMARY KEY,
    key BLOB NOT NULL,
    value BLOB,
    create_rev INTEGER NOT NULL,
    prev_rev INTEGER NOT NULL
);
INSERT INTO meta (name, value) VALUES ('compacted', 0), ('cleaned', 0);
";

/// The SQLite-backed store. Cheap to clone; the file closes when the last clone is dropped.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// `None` once closing.
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
    readers: Readers,
    hub: Arc<Hub>,
    revisions: Arc<Revisions>,
    values: Values,
}

/// Recently read current values, keyed by key and valid for one mod revision: a `get` whose
/// key the index shows still at that revision needs no SQL and no thread hop. Admission reads
/// the same namespace and ServiceAccount for every pod it creates. A version's bytes never
/// change, so an entry is never wrong, only outdated (then it is a miss and is replaced).
#[derive(Debug, Default)]
struct Values {
    cached: Mutex<ValuesInner>,
}

#[derive(Debug, Default)]
struct ValuesInner {
    entries: HashMap<String, KeyValue>,
    bytes: usize,
}

impl Values {
    fn get(&self, key: &str, modified: Revision) -> Option<KeyValue> {
        let cached = self.cached.lock().unwrap_or_else(|p| p.into_inner());
        cached.entries.get(key).filter(|kv| kv.mod_revision == modified).cloned()
    }

    fn insert(&self, kv: &KeyValue) {
        if kv.value.len() > CACHED_BYTES / 16 {
            return;
        }
        let mut cached = self.cached.lock().unwrap_or_else(|p| p.into_inner());
        if cached.entries.len() >= CACHED_VALUES || cached.bytes + kv.value.len() > CACHED_BYTES {
            // Forget an arbitrary half: cheaper than tracking recency, and hot keys come back
            // at their next read.
            let mut keep = false;
            cached.entries.retain(|_, _| {
                keep = !keep;
                keep
            });
            cached.bytes = cached.entries.values().map(|kv| kv.value.len()).sum();
        }
        let size = kv.value.len();
        if let Some(old) = cached.entries.insert(kv.key.clone(), kv.clone()) {
            cached.bytes -= old.value.len();
        }
        cached.bytes += size;
    }
}

/// The compacted revision, set by the writer before it answers anyone. (The current revision
/// is the watch feed's: the writer publishes every commit before answering.)
#[derive(Debug)]
struct Revisions {
    compacted: AtomicI64,
}

impl Revisions {
    fn compacted(&self) -> Revision {
        Revision(self.compacted.load(Ordering::Acquire))
    }
}

/// Every live key's current version (the mod revision naming its `log` row, which holds the
/// rest) and the revision that state is at. The writer changes it
/// after each commit and before it publishes, so it never names an uncommitted row and is never
/// behind the watch feed's revision.
#[derive(Debug, Default)]
struct Index {
    revision: Revision,
    keys: BTreeMap<Vec<u8>, Revision>,
}

fn read_index(index: &RwLock<Index>) -> RwLockReadGuard<'_, Index> {
    // The writer only inserts and removes whole entries: a panic cannot leave one half-written.
    index.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn write_index(index: &RwLock<Index>) -> RwLockWriteGuard<'_, Index> {
    index.write().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Index {
    /// Replays `log` in revision order: each key's newest row is its current version, or its
    /// deletion.
    fn load(path: &Path, conn: &Connection, revision: Revision) -> Result<Index> {
        let mut keys = BTreeMap::new();
        let mut stmt = conn
            .prepare("SELECT rev, key, value IS NULL FROM log ORDER BY rev")
            .map_err(|e| sql_error(path, e))?;
        let mut rows = stmt.query([]).map_err(|e| sql_error(path, e))?;
        while let Some(row) = rows.next().map_err(|e| sql_error(path, e))? {
            let read = || -> rusqlite::Result<_> {
                Ok((Revision(row.get(0)?), row.get::<_, Vec<u8>>(1)?, row.get::<_, bool>(2)?))
            };
            let (rev, key, deleted) = read().map_err(|e| sql_error(path, e))?;
            if deleted {
                keys.remove(&key);
            } else {
                keys.insert(key, rev);
            }
        }
        Ok(Index { revision, keys })
    }

    /// Up to `limit` live keys in `range` whose current version is at or before `revision`
    /// (the keys unchanged since it), in key order.
    fn unchanged_since(
        &self,
        range: &KeyRange,
        revision: Revision,
        limit: usize,
    ) -> Vec<(Vec<u8>, Revision)> {
        let lower = if range.lower_exclusive {
            Bound::Excluded(&range.lower[..])
        } else {
            Bound::Included(&range.lower[..])
        };
        let upper = range.upper.as_deref().map_or(Bound::Unbounded, Bound::Excluded);
        if matches!((lower, upper), (Bound::Included(l) | Bound::Excluded(l), Bound::Excluded(u)) if l >= u)
        {
            return Vec::new();
        }
        self.keys
            .range::<[u8], _>((lower, upper))
            .filter(|(_, modified)| **modified <= revision)
            .take(limit)
            .map(|(key, modified)| (key.clone(), *modified))
            .collect()
    }
}

/// A pool of read connections; reads run off the async runtime.
#[derive(Debug, Clone)]
struct Readers {
    shared: Arc<ReaderPool>,
}

#[derive(Debug)]
struct ReaderPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    /// [`MAX_READERS`] turns.
    turns: Arc<tokio::sync::Semaphore>,
    index: Arc<RwLock<Index>>,
}

#[derive(Debug)]
enum Job {
    Write { op: WriteOp, reply: oneshot::Sender<Result<Written>> },
    Compact { revision: Revision, reply: oneshot::Sender<Result<()>> },
}

#[derive(Debug)]
enum WriteOp {
    Create { key: String, value: Bytes },
    Update { key: String, value: Bytes, expected: Revision },
    Delete { key: String, expected: Option<Revision> },
}

impl WriteOp {
    fn key(&self) -> &String {
        match self {
            WriteOp::Create { key, .. }
            | WriteOp::Update { key, .. }
            | WriteOp::Delete { key, .. } => key,
        }
    }
}

#[derive(Debug)]
enum Written {
    Put(KeyValue),
    Deleted(Deleted),
}

impl SqliteStore {
    /// Opens the store at `path`, creating it if the file does not exist or is empty.
    pub fn open(path: &Path) -> Result<SqliteStore> {
        let lock = lock_file(path)?;
        let conn = Connection::open(path).map_err(|e| sql_error(path, e))?;
        prepare_writer(path, &conn)?;
        let (revision, compacted, cleaned) = read_meta(path, &conn)?;
        let index = Arc::new(RwLock::new(Index::load(path, &conn, revision)?));
        let (jobs, queue) = mpsc::channel();
        let revisions = Arc::new(Revisions { compacted: AtomicI64::new(compacted.0) });
        let inner = Arc::new(Inner {
            jobs: Mutex::new(Some(jobs)),
            writer: Mutex::new(None),
            readers: Readers {
                shared: Arc::new(ReaderPool {
                    path: path.to_owned(),
                    idle: Mutex::new(Vec::new()),
                    turns: Arc::new(tokio::sync::Semaphore::new(MAX_READERS)),
                    index: index.clone(),
                }),
            },
            hub: Arc::new(Hub::new(revision)),
            revisions: revisions.clone(),
            values: Values::default(),
        });
        let writer = Writer {
            path: path.to_owned(),
            conn,
            revision,
            compacted,
            cleaned,
            written_since_compacted: None,
            index,
            hub: inner.hub.clone(),
            revisions,
            _lock: lock,
        };
        let handle = std::thread::Builder::new()
            .name("berth-sqlite-writer".into())
            .spawn(move || writer.run(queue))
            .map_err(|e| Error::Backend {
                context: format!("sqlite store {}: starting the writer thread", path.display()),
                source: Box::new(e),
            })?;
        *inner.writer.lock().unwrap_or_else(|p| p.into_inner()) = Some(handle);
        tracing::info!(path = %path.display(), %revision, %compacted, "sqlite store opened");
        Ok(SqliteStore { inner })
    }

    pub fn path(&self) -> &Path {
        &self.inner.readers.shared.path
    }

    async fn write(&self, op: WriteOp) -> Result<Written> {
        let (reply, answer) = oneshot::channel();
        self.inner.send(Job::Write { op, reply })?;
        answer.await.map_err(|_| Error::Closed)?
    }

    /// Runs a read that answers `None` when compaction removed a version the index named
    /// between reading the index and reading the row: it starts over on the newer state.
    async fn read_current<T, F>(&self, read: F) -> Result<T>
    where
        T: Send + 'static,
        F: Fn(&Path, &RwLock<Index>, &rusqlite::Transaction<'_>) -> Result<Option<T>>
            + Send
            + Sync
            + 'static,
    {
        let read = Arc::new(read);
        let readers = &self.inner.readers;
        for _ in 0..READ_ATTEMPTS {
            let (read, index) = (read.clone(), readers.shared.index.clone());
            if let Some(value) = readers.read(move |path, tx| read(path, &index, tx)).await? {
                return Ok(value);
            }
        }
        Err(Error::Backend {
            context: format!(
                "sqlite store {}: compaction kept removing the versions a read wanted",
                self.path().display()
            ),
            source: "retried too often".into(),
        })
    }
}

/// The version of `key` written at `rev`, or `None` if that row is gone.
fn version_at(
    tx: &rusqlite::Transaction<'_>,
    key: String,
    rev: Revision,
) -> rusqlite::Result<Option<KeyValue>> {
    let row: Option<(Option<Vec<u8>>, i64)> = tx
        .prepare_cached("SELECT value, create_rev FROM log WHERE rev = ?1")?
        .query_row([rev.0], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?;
    Ok(match row {
        Some((Some(value), create)) => Some(KeyValue {
            key,
            value: Bytes::from(value),
            create_revision: Revision(create),
            mod_revision: rev,
        }),
        _ => None,
    })
}

/// An index key as the `String` it was written as.
fn key_string(path: &Path, key: Vec<u8>) -> Result<String> {
    String::from_utf8(key).map_err(|e| Error::BadFile {
        path: path.to_owned(),
        reason: format!("a key that is not UTF-8 ({e})"),
    })
}

// === impl Inner: reads ===

impl Inner {
    fn send(&self, job: Job) -> Result<()> {
        let jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        jobs.as_ref().ok_or(Error::Closed)?.send(job).map_err(|_| Error::Closed)
    }
}

impl Drop for Inner {
    /// Waits for the writer to finish what it was given and release the file, so the store can
    /// be reopened as soon as the last handle is gone.
    fn drop(&mut self) {
        self.jobs.get_mut().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(writer) = self.writer.get_mut().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = writer.join();
        }
    }
}

impl Readers {
    /// Runs `read` on a pooled connection in one read transaction, off the async runtime.
    async fn read<T, F>(&self, read: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Path, &rusqlite::Transaction<'_>) -> Result<T> + Send + 'static,
    {
        let pool = self.shared.clone();
        // The semaphore is never closed.
        let turn = pool.turns.clone().acquire_owned().await.map_err(|_| Error::Closed)?;
        let task = tokio::task::spawn_blocking(move || {
            // Held until the read is done, even if the caller stops waiting for it.
            let _turn = turn;
            let idle = pool.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
            let mut conn = match idle {
                Some(conn) => conn,
                None => open_reader(&pool.path)?,
            };
            let result = (|| {
                let tx = conn.transaction().map_err(|e| sql_error(&pool.path, e))?;
                let value = read(&pool.path, &tx)?;
                tx.finish().map_err(|e| sql_error(&pool.path, e))?;
                Ok(value)
            })();
            let mut idle = pool.idle.lock().unwrap_or_else(|p| p.into_inner());
            if idle.len() < MAX_READERS {
                idle.push(conn);
            }
            result
        });
        task.await.map_err(|e| Error::Backend {
            context: format!("sqlite store {}: read task", self.shared.path.display()),
            source: Box::new(e),
        })?
    }
}

fn open_reader(path: &Path) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|e| sql_error(path, e))?;
    conn.execute_batch(&format!(
        "PRAGMA query_only = 1; PRAGMA busy_timeout = 5000; PRAGMA cache_size = -{READER_CACHE_KIB};"
    ))
    .map_err(|e| sql_error(path, e))?;
    Ok(conn)
}

/// The revision and compacted revision as of the transaction's snapshot.
fn snapshot_revisions(path: &Path, tx: &rusqlite::Transaction<'_>) -> Result<(Revision, Revision)> {
    let mut stmt = tx
        .prepare_cached(
            "SELECT max(coalesce((SELECT max(rev) FROM log), 0), c.value), c.value
             FROM meta c WHERE c.name = 'compacted'",
        )
        .map_err(|e| sql_error(path, e))?;
    stmt.query_row([], |row| Ok((Revision(row.get(0)?), Revision(row.get(1)?))))
        .map_err(|e| sql_error(path, e))
}

/// The keys under a prefix, optionally after a given key, as SQL bounds `?1` and `?2`.
#[derive(Debug)]
struct KeyRange {
    lower_exclusive: bool,
    lower: Vec<u8>,
    /// `None`: no upper bound (bound as NULL).
    upper: Option<Vec<u8>>,
}

impl KeyRange {
    fn new(prefix: &str, start_after: Option<&str>) -> KeyRange {
        let (lower_exclusive, lower) = match start_after {
            Some(after) if after >= prefix => (true, after.as_bytes().to_vec()),
            _ => (false, prefix.as_bytes().to_vec()),
        };
        KeyRange { lower_exclusive, lower, upper: prefix_end(prefix.as_bytes()) }
    }

    /// The `WHERE` clause on `column`, reading the bounds from `?1` and `?2`.
    fn clause(&self, column: &str) -> String {
        let op = if self.lower_exclusive { ">" } else { ">=" };
        match self.upper {
            Some(_) => format!("{column} {op} ?1 AND {column} < ?2"),
            None => format!("{column} {op} ?1 AND ?2 IS NULL"),
        }
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn current_revision(&self) -> Result<Revision> {
        Ok(self.inner.hub.published())
    }

    async fn compacted_revision(&self) -> Result<Revision> {
        Ok(self.inner.revisions.compacted())
    }

    async fn get(&self, key: &str) -> Result<Option<KeyValue>> {
        // The index answers for missing keys and names the version a cached value must have.
        let current =
            read_index(&self.inner.readers.shared.index).keys.get(key.as_bytes()).copied();
        let Some(modified) = current else { return Ok(None) };
        if let Some(kv) = self.inner.values.get(key, modified) {
            return Ok(Some(kv));
        }
        let key = key.to_owned();
        let kv = self
            .read_current(move |path, index, tx| {
                let Some(modified) = read_index(index).keys.get(key.as_bytes()).copied() else {
                    return Ok(Some(None));
                };
                let kv = version_at(tx, key.clone(), modified).map_err(|e| sql_error(path, e))?;
                Ok(kv.map(Some))
            })
            .await?;
        if let Some(kv) = &kv {
            self.inner.values.insert(kv);
        }
        Ok(kv)
    }

    async fn range(&self, request: &RangeRequest) -> Result<RangePage> {
        let request = request.clone();
        self.read_current(move |path, index, tx| {
            let keys = KeyRange::new(&request.prefix, request.start_after.as_deref());
            // One more than asked tells whether more follow.
            let wanted = request.limit.map_or(usize::MAX, |limit| limit.saturating_add(1));
            // The index first, then the transaction's snapshot: the snapshot is at least as
            // new as the index, so a key the index shows unchanged since the revision was
            // unchanged up to the index's revision, and any later change is in the snapshot.
            let (current, revision, unchanged) = {
                let index = read_index(index);
                let revision = request.revision.unwrap_or(index.revision);
                if revision > index.revision {
                    return Err(Error::FutureRevision {
                        requested: revision,
                        current: index.revision,
                    });
                }
                (index.revision, revision, index.unchanged_since(&keys, revision, wanted))
            };
            let (_, compacted) = snapshot_revisions(path, tx)?;
            if revision < compacted {
                return match request.revision {
                    Some(_) => Err(Error::Compacted { requested: revision, compacted }),
                    // Compaction passed the index's revision just now: read the newer state.
                    None => Ok(None),
                };
            }
            let mut versions: BTreeMap<Vec<u8>, Revision> = unchanged.into_iter().collect();
            if revision < current {
                // A key changed since the revision had, then, the version its first change
                // after it replaced (`prev_rev`), or none (0). No index on `log.key` is needed
                // (it would cost every write a B-tree update), and the work grows with the
                // changes since the revision, which paging keeps recent.
                let bounds = keys.clause("key");
                let sql = format!(
                    "SELECT c.key, l.prev_rev FROM (
                         SELECT key, min(rev) AS first FROM log
                         WHERE rev > ?3 AND {bounds} GROUP BY key
                     ) c JOIN log l ON l.rev = c.first"
                );
                let mut stmt = tx.prepare_cached(&sql).map_err(|e| sql_error(path, e))?;
                let rows = stmt
                    .query_map(params![keys.lower, keys.upper, revision.0], |row| {
                        Ok((row.get::<_, Vec<u8>>(0)?, row.get::<_, i64>(1)?))
                    })
                    .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
                    .map_err(|e| sql_error(path, e))?;
                for (key, prev) in rows {
                    if prev != 0 {
                        versions.insert(key, Revision(prev));
                    } else {
                        versions.remove(&key);
                    }
                }
            }
            let mut kvs = Vec::with_capacity(versions.len().min(wanted));
            for (key, rev) in versions.into_iter().take(wanted) {
                let key = key_string(path, key)?;
                let Some(kv) = version_at(tx, key, rev).map_err(|e| sql_error(path, e))? else {
                    // Only a current read can get here (its version compacted away since the
                    // index was read); a read at a kept revision finds every version it names.
                    return match request.revision {
                        Some(_) => Err(Error::BadFile {
                            path: path.to_owned(),
                            reason: format!("log row {rev} is missing"),
                        }),
                        None => Ok(None),
                    };
                };
                kvs.push(kv);
            }
            let more = request.limit.is_some_and(|limit| kvs.len() > limit);
            if more {
                kvs.pop();
            }
            Ok(Some(RangePage { kvs, more, revision }))
        })
        .await
    }

    async fn create(&self, key: &str, value: Bytes) -> Result<KeyValue> {
        check_size(key, &value)?;
        match self.write(WriteOp::Create { key: key.to_owned(), value }).await? {
            Written::Put(kv) => Ok(kv),
            Written::Deleted(_) => unreachable!("a create answers with the created value"),
        }
    }

    async fn update(&self, key: &str, value: Bytes, expected: Revision) -> Result<KeyValue> {
        check_size(key, &value)?;
        match self.write(WriteOp::Update { key: key.to_owned(), value, expected }).await? {
            Written::Put(kv) => Ok(kv),
            Written::Deleted(_) => unreachable!("an update answers with the new value"),
        }
    }

    async fn delete(&self, key: &str, expected: Option<Revision>) -> Result<Deleted> {
        match self.write(WriteOp::Delete { key: key.to_owned(), expected }).await? {
            Written::Deleted(deleted) => Ok(deleted),
            Written::Put(_) => unreachable!("a delete answers with the deleted value"),
        }
    }

    async fn watch(&self, prefix: &str, after: Revision) -> Result<Watch> {
        let compacted = self.inner.revisions.compacted();
        if after < compacted {
            return Err(Error::Compacted { requested: after, compacted });
        }
        Ok(self.inner.hub.watch(Arc::new(self.inner.readers.clone()), prefix, after))
    }

    async fn compact(&self, revision: Revision) -> Result<()> {
        let (reply, answer) = oneshot::channel();
        self.inner.send(Job::Compact { revision, reply })?;
        answer.await.map_err(|_| Error::Closed)?
    }
}

#[async_trait]
impl History for Readers {
    async fn history(
        &self,
        prefix: &str,
        after: Revision,
        upto: Revision,
        limit: usize,
    ) -> Result<Vec<Event>> {
        let prefix = prefix.to_owned();
        self.read(move |path, tx| {
            let (_, compacted) = snapshot_revisions(path, tx)?;
            if after < compacted {
                return Err(Error::Compacted { requested: after, compacted });
            }
            let keys = KeyRange::new(&prefix, None);
            let bounds = keys.clause("l.key");
            let sql = format!(
                "SELECT l.rev, l.key, l.value, l.create_rev, l.prev_rev, p.value, p.create_rev
                 FROM log l LEFT JOIN log p ON p.rev = l.prev_rev
                 WHERE {bounds} AND l.rev > ?3 AND l.rev <= ?4 ORDER BY l.rev LIMIT ?5"
            );
            let mut stmt = tx.prepare_cached(&sql).map_err(|e| sql_error(path, e))?;
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            stmt.query_map(params![keys.lower, keys.upper, after.0, upto.0, limit], history_event)
                .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
                .map_err(|e| sql_error(path, e))
        })
        .await
    }
}

fn history_event(row: &rusqlite::Row<'_>) -> rusqlite::Result<Event> {
    let revision = Revision(row.get(0)?);
    let key: Vec<u8> = row.get(1)?;
    let key = String::from_utf8(key).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(1, rusqlite::types::Type::Blob, e.into())
    })?;
    let value: Option<Vec<u8>> = row.get(2)?;
    let create_revision = Revision(row.get(3)?);
    let prev_revision = Revision(row.get(4)?);
    let prev_value: Option<Vec<u8>> = row.get(5)?;
    let prev = match prev_value {
        Some(prev_value) => Some(KeyValue {
            key: key.clone(),
            value: Bytes::from(prev_value),
            create_revision: Revision(row.get(6)?),
            mod_revision: prev_revision,
        }),
        None => None,
    };
    Ok(match (value, prev) {
        (Some(value), prev) => Event::Put {
            kv: KeyValue {
                key,
                value: Bytes::from(value),
                create_revision,
                mod_revision: revision,
            },
            prev,
        },
        (None, Some(prev)) => Event::Delete { revision, prev },
        (None, None) => {
            return Err(rusqlite::Error::InvalidColumnType(
                5,
                "delete without a previous value".into(),
                rusqlite::types::Type::Null,
            ));
        }
    })
}

// === Writer ===

struct Writer {
    path: PathBuf,
    conn: Connection,
    revision: Revision,
    compacted: Revision,
    /// Compaction has physically removed old versions up to here.
    cleaned: Revision,
    /// While cleanup runs: every key written after the compacted revision, with its first
    /// revision after it. Built on the first cleanup step, then kept up to date by each write.
    written_since_compacted: Option<HashMap<Vec<u8>, Revision>>,
    index: Arc<RwLock<Index>>,
    hub: Arc<Hub>,
    revisions: Arc<Revisions>,
    /// Held for as long as the writer has the file open.
    _lock: File,
}

impl Writer {
    fn run(mut self, queue: mpsc::Receiver<Job>) {
        loop {
            // Clean old history only when no write is waiting, one short transaction at a time.
            let first = if self.cleaned < self.compacted {
                match queue.try_recv() {
                    Ok(job) => job,
                    Err(mpsc::TryRecvError::Empty) => {
                        if let Err(error) = self.clean_chunk() {
                            tracing::error!(%error, "compaction cleanup failed");
                            self.cleaned = self.compacted;
                        }
                        continue;
                    }
                    Err(mpsc::TryRecvError::Disconnected) => break,
                }
            } else {
                match next_job(&queue) {
                    Some(job) => job,
                    None => break,
                }
            };
            let mut group = Vec::new();
            let mut compactions = Vec::new();
            let mut next = Some(first);
            while let Some(job) = next.take() {
                match job {
                    Job::Write { op, reply } => group.push((op, reply)),
                    Job::Compact { revision, reply } => compactions.push((revision, reply)),
                }
                if group.len() < MAX_GROUP {
                    next = match queue.try_recv() {
                        Ok(job) => Some(job),
                        // Several writers are active: the ones just answered are about to send
                        // again, so wait a moment for them and share one fsync, rather than
                        // settling into two half-size groups. A lone writer never waits.
                        Err(_) if group.len() > 1 => queue.recv_timeout(GROUP_LINGER).ok(),
                        Err(_) => None,
                    };
                }
            }
            if !group.is_empty() {
                self.write_group(group);
            }
            for (revision, reply) in compactions {
                let _ = reply.send(self.start_compaction(revision));
            }
        }
        tracing::debug!(path = %self.path.display(), "sqlite writer stopped");
    }

    /// Applies a group of writes in one transaction and one fsync.
    fn write_group(&mut self, group: Vec<(WriteOp, oneshot::Sender<Result<Written>>)>) {
        let start = self.revision;
        let (ops, replies): (Vec<_>, Vec<_>) = group.into_iter().unzip();
        match self.apply(&ops) {
            Ok((outcomes, changed)) => {
                let events: Vec<Event> = outcomes.iter().filter_map(|(_, e)| e.clone()).collect();
                if let Some(written) = &mut self.written_since_compacted {
                    for event in &events {
                        written.entry(event.key().as_bytes().to_vec()).or_insert(event.revision());
                    }
                }
                {
                    let mut index = write_index(&self.index);
                    for (key, modified) in changed {
                        match modified {
                            Some(modified) => index.keys.insert(key, modified),
                            None => index.keys.remove(&key),
                        };
                    }
                    index.revision = self.revision;
                }
                self.hub.publish(events);
                for ((outcome, _), reply) in outcomes.into_iter().zip(replies) {
                    let _ = reply.send(outcome);
                }
            }
            Err(error) => {
                self.revision = start;
                tracing::error!(%error, path = %self.path.display(), "write group failed");
                for reply in replies {
                    let _ = reply.send(Err(sql_error(&self.path, clone_sql_error(&error))));
                }
            }
        }
    }

    /// Applies and commits the group: each write's outcome and event, and the index entries
    /// it changed (`None`: deleted), for the caller to put in the index once committed.
    #[allow(clippy::type_complexity)]
    fn apply(
        &mut self,
        ops: &[WriteOp],
    ) -> rusqlite::Result<(Vec<(Result<Written>, Option<Event>)>, HashMap<Vec<u8>, Option<Revision>>)>
    {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut outcomes = Vec::with_capacity(ops.len());
        let mut changed: HashMap<Vec<u8>, Option<Revision>> = HashMap::new();
        let mut revision = self.revision;
        for op in ops {
            let key = op.key().as_bytes();
            let current = match changed.get(key) {
                Some(version) => *version,
                None => read_index(&self.index).keys.get(key).copied(),
            };
            let outcome = apply_one(&tx, op, revision, current)?;
            if let Some(event) = &outcome.1 {
                revision = revision.next();
                let modified = match event {
                    Event::Put { kv, .. } => Some(kv.mod_revision),
                    Event::Delete { .. } => None,
                };
                changed.insert(key.to_vec(), modified);
            }
            outcomes.push(outcome);
        }
        tx.commit()?;
        self.revision = revision;
        Ok((outcomes, changed))
    }

    fn start_compaction(&mut self, revision: Revision) -> Result<()> {
        if revision <= self.compacted {
            return Ok(());
        }
        if revision > self.revision {
            return Err(Error::FutureRevision { requested: revision, current: self.revision });
        }
        self.conn
            .execute("UPDATE meta SET value = ?1 WHERE name = 'compacted'", [revision.0])
            .map_err(|e| sql_error(&self.path, e))?;
        self.compacted = revision;
        self.written_since_compacted = None;
        self.revisions.compacted.store(revision.0, Ordering::Release);
        Ok(())
    }

    /// Removes versions made obsolete by compaction in one short transaction: at or before the
    /// compacted revision, every delete and every version other than the key's newest one at
    /// it. Range reads at the compacted revision still find each key's version, and the first
    /// change after it still finds its previous value.
    fn clean_chunk(&mut self) -> rusqlite::Result<()> {
        let target = self.compacted;
        let written = match &mut self.written_since_compacted {
            Some(written) => written,
            None => {
                let mut written = HashMap::new();
                let mut stmt = self
                    .conn
                    .prepare("SELECT key, min(rev) FROM log WHERE rev > ?1 GROUP BY key")?;
                let rows =
                    stmt.query_map([target.0], |row| Ok((row.get(0)?, Revision(row.get(1)?))))?;
                for row in rows {
                    let (key, first): (Vec<u8>, Revision) = row?;
                    written.insert(key, first);
                }
                self.written_since_compacted.insert(written)
            }
        };
        let low = self.cleaned.0;
        let high = (low + COMPACT_CHUNK).min(target.0);
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let rows: Vec<(i64, Vec<u8>, bool)> = tx
            .prepare_cached("SELECT rev, key, value IS NULL FROM log WHERE rev > ?1 AND rev <= ?2")?
            .query_map([low, high], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let mut newest_at_target: HashMap<Vec<u8>, Option<i64>> = HashMap::new();
        let mut obsolete = Vec::new();
        for (rev, key, deleted) in rows {
            let keep = !deleted
                && match newest_at_target.get(&key) {
                    Some(newest) => *newest == Some(rev),
                    None => {
                        let newest = newest_version_at(&tx, written, &self.index, &key)?;
                        newest_at_target.insert(key, newest);
                        newest == Some(rev)
                    }
                };
            if !keep {
                obsolete.push(rev);
            }
        }
        let mut delete = tx.prepare_cached("DELETE FROM log WHERE rev = ?1")?;
        for rev in obsolete {
            delete.execute([rev])?;
        }
        drop(delete);
        tx.prepare_cached("UPDATE meta SET value = ?1 WHERE name = 'cleaned'")?.execute([high])?;
        tx.commit()?;
        self.cleaned = Revision(high);
        if self.cleaned >= self.compacted {
            self.written_since_compacted = None;
        }
        Ok(())
    }
}

/// The revision of `key`'s live version at the compacted revision, if it had one: named by its
/// first write after that revision (`prev_rev`), or else still the current one in the index.
fn newest_version_at(
    tx: &rusqlite::Transaction<'_>,
    written_since: &HashMap<Vec<u8>, Revision>,
    index: &RwLock<Index>,
    key: &[u8],
) -> rusqlite::Result<Option<i64>> {
    match written_since.get(key) {
        Some(first) => {
            let prev: i64 = tx
                .prepare_cached("SELECT prev_rev FROM log WHERE rev = ?1")?
                .query_row([first.0], |row| row.get(0))?;
            Ok((prev != 0).then_some(prev))
        }
        None => Ok(read_index(index).keys.get(key).map(|modified| modified.0)),
    }
}

/// The next job, waiting for it. (The writer used to spin on `sched_yield` for a while first, to
/// catch a writer's next write awake; on two cores the spinning took CPU from the API server
/// and the client, and API creates were 1.7× faster without it — the store's own loop too,
/// docs/benchmarks.md, session 6.)
fn next_job(queue: &mpsc::Receiver<Job>) -> Option<Job> {
    queue.recv().ok()
}

/// One write inside the group's transaction: the outcome for the caller and, if it changed
/// anything, the event (whose revision is `last + 1`).
fn apply_one(
    tx: &rusqlite::Transaction<'_>,
    op: &WriteOp,
    last: Revision,
    current: Option<Revision>,
) -> rusqlite::Result<(Result<Written>, Option<Event>)> {
    let key = op.key();
    let current = match current {
        // The index only names committed (or this group's) rows, and cleanup keeps them.
        Some(modified) => Some(
            version_at(tx, key.clone(), modified)?.ok_or(rusqlite::Error::QueryReturnedNoRows)?,
        ),
        None => None,
    };
    let revision = last.next();
    let refused = |error: Error| Ok((Err(error), None));
    let (value, create_revision) = match (op, &current) {
        (WriteOp::Create { .. }, Some(current)) => {
            return refused(Error::AlreadyExists {
                key: key.clone(),
                current: Box::new(current.clone()),
            });
        }
        (WriteOp::Update { .. } | WriteOp::Delete { .. }, None) => {
            return refused(Error::NotFound { key: key.clone() });
        }
        (
            WriteOp::Update { expected, .. } | WriteOp::Delete { expected: Some(expected), .. },
            Some(current),
        ) if current.mod_revision != *expected => {
            return refused(Error::Conflict {
                key: key.clone(),
                expected: *expected,
                current: Box::new(current.clone()),
            });
        }
        (WriteOp::Create { value, .. }, None) => (Some(value), revision),
        (WriteOp::Update { value, .. }, Some(current)) => (Some(value), current.create_revision),
        (WriteOp::Delete { .. }, Some(current)) => (None, current.create_revision),
    };
    let prev_revision = current.as_ref().map_or(0, |c| c.mod_revision.0);
    tx.prepare_cached(
        "INSERT INTO log (rev, key, value, create_rev, prev_rev) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        revision.0,
        key.as_bytes(),
        value.map(|v| &v[..]),
        create_revision.0,
        prev_revision
    ])?;
    Ok(match (value, current) {
        (Some(value), prev) => {
            let kv = KeyValue {
                key: key.clone(),
                value: value.clone(),
                create_revision,
                mod_revision: revision,
            };
            (Ok(Written::Put(kv.clone())), Some(Event::Put { kv, prev }))
        }
        (None, Some(prev)) => {
            let deleted = Deleted { revision, prev: prev.clone() };
            (Ok(Written::Deleted(deleted)), Some(Event::Delete { revision, prev }))
        }
        (None, None) => unreachable!("a delete of a missing key was refused above"),
    })
}

// === Opening and checking the file ===

fn lock_file(path: &Path) -> Result<File> {
    let mut lock_path = path.as_os_str().to_owned();
    lock_path.push(".lock");
    let lock_path = PathBuf::from(lock_path);
    let file =
        File::options().create(true).truncate(false).write(true).open(&lock_path).map_err(|e| {
            Error::Backend {
                context: format!(
                    "sqlite store {}: opening {}",
                    path.display(),
                    lock_path.display()
                ),
                source: Box::new(e),
            }
        })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::Locked { path: path.to_owned() }),
        Err(std::fs::TryLockError::Error(e)) => Err(Error::Backend {
            context: format!("sqlite store {}: locking {}", path.display(), lock_path.display()),
            source: Box::new(e),
        }),
    }
}

/// Checks that the file is a berth store of a format we read (creating it if it is new), and
/// sets the writer's pragmas.
fn prepare_writer(path: &Path, conn: &Connection) -> Result<()> {
    let bad = |reason: String| Error::BadFile { path: path.to_owned(), reason };
    let application_id: i64 = conn
        .pragma_query_value(None, "application_id", |row| row.get(0))
        .map_err(|e| sql_error(path, e))?;
    let format: i64 = conn
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(|e| sql_error(path, e))?;
    let tables: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_master", [], |row| row.get(0))
        .map_err(|e| sql_error(path, e))?;
    let fresh = application_id == 0 && tables == 0;
    if !fresh {
        if application_id != APPLICATION_ID {
            return Err(bad(format!(
                "a SQLite database of another application (application_id {application_id:#x}), not a berth store"
            )));
        }
        if format > FORMAT {
            return Err(bad(format!(
                "store format {format} is newer than this berth understands ({FORMAT}); upgrade berth"
            )));
        }
        if format < 1 {
            return Err(bad(format!("unknown store format {format}")));
        }
    }
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
        .map_err(|e| sql_error(path, e))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(bad(format!("cannot switch to WAL mode (journal_mode is {mode})")));
    }
    // FULL: the WAL is fsync'd at every commit, so an acknowledged write survives a power cut.
    conn.execute_batch(&format!(
        "PRAGMA synchronous = FULL;
         PRAGMA busy_timeout = 5000;
         PRAGMA journal_size_limit = 67108864;
         PRAGMA wal_autocheckpoint = 4000;
         PRAGMA cache_size = -{WRITER_CACHE_KIB};"
    ))
    .map_err(|e| sql_error(path, e))?;
    if fresh {
        let init = format!(
            "BEGIN; {SCHEMA} PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = {FORMAT}; COMMIT;"
        );
        conn.execute_batch(&init).map_err(|e| sql_error(path, e))?;
    } else if format == 1 {
        // Format 1's `kv` table is what the in-memory index now keeps; `log` is unchanged.
        conn.execute_batch("BEGIN; DROP TABLE kv; PRAGMA user_version = 2; COMMIT;")
            .map_err(|e| sql_error(path, e))?;
        tracing::info!(path = %path.display(), "upgraded the store from format 1 to 2");
    }
    Ok(())
}

fn read_meta(path: &Path, conn: &Connection) -> Result<(Revision, Revision, Revision)> {
    let get = |name: &str| -> Result<Revision> {
        conn.query_row("SELECT value FROM meta WHERE name = ?1", [name], |row| row.get(0))
            .optional()
            .map_err(|e| sql_error(path, e))?
            .map(Revision)
            .ok_or_else(|| Error::BadFile {
                path: path.to_owned(),
                reason: format!("the store's meta table has no {name:?} row"),
            })
    };
    let compacted = get("compacted")?;
    let cleaned = get("cleaned")?;
    let newest: Option<i64> = conn
        .query_row("SELECT max(rev) FROM log", [], |row| row.get(0))
        .map_err(|e| sql_error(path, e))?;
    if cleaned > compacted {
        return Err(Error::BadFile {
            path: path.to_owned(),
            reason: format!("inconsistent meta: cleaned {cleaned} is past compacted {compacted}"),
        });
    }
    let revision = Revision(newest.unwrap_or(0)).max(compacted);
    Ok((revision, compacted, cleaned))
}

fn sql_error(path: &Path, error: rusqlite::Error) -> Error {
    match error.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => {
            Error::BadFile { path: path.to_owned(), reason: "not a SQLite database".into() }
        }
        Some(ErrorCode::DatabaseCorrupt) => Error::BadFile {
            path: path.to_owned(),
            reason: format!("the database is corrupt ({error})"),
        },
        _ => Error::Backend {
            context: format!("sqlite store {}", path.display()),
            source: Box::new(error),
        },
    }
}

/// rusqlite errors are not `Clone`; a failed group answers every writer with the same cause.
fn clone_sql_error(error: &rusqlite::Error) -> rusqlite::Error {
    match error {
        rusqlite::Error::SqliteFailure(code, message) => {
            rusqlite::Error::SqliteFailure(*code, message.clone())
        }
        other => rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ERROR),
            Some(other.to_string()),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(key: &str, revision: i64, size: usize) -> KeyValue {
        KeyValue {
            key: key.to_owned(),
            value: Bytes::from(vec![b'x'; size]),
            create_revision: Revision(1),
            mod_revision: Revision(revision),
        }
    }

    #[test]
    fn cached_values_answer_only_for_their_revision_and_stay_bounded() {
        let values = Values::default();
        values.insert(&kv("/a", 5, 10));
        assert_eq!(values.get("/a", Revision(5)).map(|kv| kv.mod_revision), Some(Revision(5)));
        assert!(values.get("/a", Revision(6)).is_none(), "a newer version is a miss");
        values.insert(&kv("/a", 6, 20));
        assert_eq!(values.get("/a", Revision(6)).map(|kv| kv.value.len()), Some(20));
        assert!(values.get("/a", Revision(5)).is_none());

        for i in 0..3 * CACHED_VALUES {
            values.insert(&kv(&format!("/k{i}"), 7, 100));
        }
        let inner = values.cached.lock().unwrap();
        assert!(inner.entries.len() <= CACHED_VALUES, "{} entries", inner.entries.len());
        assert_eq!(inner.bytes, inner.entries.values().map(|kv| kv.value.len()).sum::<usize>());
        drop(inner);
        for i in 0..100 {
            values.insert(&kv(&format!("/big{i}"), 8, CACHED_BYTES / 20));
        }
        assert!(values.cached.lock().unwrap().bytes <= CACHED_BYTES);
        values.insert(&kv("/huge", 9, CACHED_BYTES));
        assert!(values.get("/huge", Revision(9)).is_none(), "too big to keep");
    }
}
