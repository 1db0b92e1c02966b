//! The loop of the controllers that sync one object (one key) at a time — ReplicaSet,
//! DaemonSet, Job, CronJob — in the manner of client-go's
//! `workqueue.TypedRateLimitingInterface` as kube-controller-manager's controllers use it.
//!
//! [`Queue`] is the work queue: a key is in it once however often it is added (`Add`), is
//! handed out to one sync at a time (`Get`/`Done`: a key added while it is being synced is
//! handed out again once that sync is done), comes back at a requested instant (`AddAfter`),
//! or after a failed sync, after a per-key backoff of [`BASE_DELAY`] doubling up to
//! [`MAX_DELAY`] (`AddRateLimited`), which a successful sync resets (`Forget`).
//!
//! [`WorkLoop`] drives it from the shared caches. The caches wake a loop on any change, not
//! per object, so a change (or the [`RESYNC`] every 30 s) adds every key: the syncs are
//! level-triggered, each plans from what the caches show, never from what woke it. Between
//! changes a pass syncs only the keys whose requested or retry time has come. After a pass
//! the loop waits ([`WorkLoop::caught_up`]) until the caches show the pass's own writes, each
//! an [`Expect`] (created, updated at a revision, deleted; the expectations of upstream's
//! controllers), so the next plan cannot make them again.
//!
//! Unlike upstream's event handlers, a change leaves the keys that wait out a retry backoff to
//! their time: every change of a cache adds every key here, and would otherwise defeat the
//! backoff. The resync adds them too, so a key that keeps failing is tried at least every
//! [`RESYNC`] whatever its backoff.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt::Display;
use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::cache::RESYNC;
use crate::informer::{Cached, Informers, Store};
use crate::meta::error_chain;

/// The first retry delay after a failed sync (`DefaultTypedControllerRateLimiter`'s base).
pub(crate) const BASE_DELAY: Duration = Duration::from_millis(5);

/// The longest retry delay.
pub(crate) const MAX_DELAY: Duration = Duration::from_secs(1000);

/// The instant of a wall-clock time, for [`Queue::add_after`] (now, if it has passed).
pub(crate) fn instant_at(at: Timestamp) -> Instant {
    let wait = at.duration_since(Timestamp::now());
    Instant::now() + Duration::try_from(wait).unwrap_or(Duration::ZERO)
}

/// The instant just after a wall-clock time (1 ms: a sync at the instant itself could still
/// find the time ahead), for a sync that must see it passed.
pub(crate) fn just_after(at: Timestamp) -> Instant {
    instant_at(at) + Duration::from_millis(1)
}

/// A rate-limiting work queue of keys (see the module docs).
#[derive(Debug)]
pub(crate) struct Queue<K> {
    /// The keys to hand out, in order.
    queue: VecDeque<K>,
    /// The keys to sync (queued, or added again while being synced), each once.
    dirty: HashSet<K>,
    /// The keys being synced.
    processing: HashSet<K>,
    /// The failed syncs in a row of each key.
    failures: HashMap<K, u32>,
    /// When a failed key is retried.
    retry_at: HashMap<K, Instant>,
    /// When a key asked to be synced again; the earliest request wins.
    requested_at: HashMap<K, Instant>,
}

impl<K: Clone + Eq + Hash> Queue<K> {
    pub(crate) fn new() -> Queue<K> {
        Queue {
            queue: VecDeque::new(),
            dirty: HashSet::new(),
            processing: HashSet::new(),
            failures: HashMap::new(),
            retry_at: HashMap::new(),
            requested_at: HashMap::new(),
        }
    }

    /// `Add`: `key` is to be synced (once, however often it is added before that).
    pub(crate) fn add(&mut self, key: K) {
        self.insert(key);
    }

    /// Whether `key` waits out the backoff of a failed sync.
    pub(crate) fn backing_off(&self, key: &K) -> bool {
        self.retry_at.get(key).is_some_and(|at| *at > Instant::now())
    }

    /// `AddAfter`: `key` is to be synced at `at` (or earlier, if it is added before).
    pub(crate) fn add_after(&mut self, key: K, at: Instant) {
        let due = self.requested_at.entry(key).or_insert(at);
        *due = (*due).min(at);
    }

    /// `AddRateLimited`: a sync of `key` failed; it is retried after its backoff, which
    /// doubles with each failure in a row. Returns when.
    pub(crate) fn add_rate_limited(&mut self, key: K) -> Instant {
        let failures = self.failures.entry(key.clone()).or_insert(0);
        let delay = BASE_DELAY.saturating_mul(2u32.saturating_pow(*failures)).min(MAX_DELAY);
        *failures = failures.saturating_add(1);
        let at = Instant::now() + delay;
        self.retry_at.insert(key, at);
        at
    }

    /// `Forget`: a sync of `key` succeeded; its backoff starts again from [`BASE_DELAY`].
    pub(crate) fn forget(&mut self, key: &K) {
        self.failures.remove(key);
        self.retry_at.remove(key);
    }

    /// `Get`: the next key to sync, if any is due; it is not handed out again until
    /// [`Queue::done`].
    pub(crate) fn get(&mut self) -> Option<K> {
        self.promote(Instant::now());
        let key = self.queue.pop_front()?;
        self.dirty.remove(&key);
        self.processing.insert(key.clone());
        Some(key)
    }

    /// `Done`: the sync of `key` is over; if it was added meanwhile, it is queued again.
    pub(crate) fn done(&mut self, key: &K) {
        self.processing.remove(key);
        if self.dirty.contains(key) {
            self.queue.push_back(key.clone());
        }
    }

    /// When the next requested or retry time comes.
    pub(crate) fn next_due(&self) -> Option<Instant> {
        self.retry_at.values().chain(self.requested_at.values()).min().copied()
    }

    /// Drops what the queue knows of the keys `keep` refuses (objects that are gone).
    pub(crate) fn retain(&mut self, keep: impl Fn(&K) -> bool) {
        self.queue.retain(|k| keep(k));
        self.dirty.retain(|k| keep(k));
        self.failures.retain(|k, _| keep(k));
        self.retry_at.retain(|k, _| keep(k));
        self.requested_at.retain(|k, _| keep(k));
    }

    fn insert(&mut self, key: K) {
        if !self.dirty.insert(key.clone()) || self.processing.contains(&key) {
            return;
        }
        self.queue.push_back(key);
    }

    /// Queues the keys whose time has come.
    fn promote(&mut self, now: Instant) {
        let mut due: Vec<K> = Vec::new();
        self.retry_at.retain(|key, at| {
            let keep = *at > now;
            if !keep {
                due.push(key.clone());
            }
            keep
        });
        self.requested_at.retain(|key, at| {
            let keep = *at > now;
            if !keep {
                due.push(key.clone());
            }
            keep
        });
        for key in due {
            self.insert(key);
        }
    }
}

/// A write of a pass that the caches must show before the next pass plans again (upstream's
/// expectations): `kind` says which of the controller's caches, as an enum of its own.
#[derive(Debug, Clone)]
pub(crate) struct Expect<C> {
    pub(crate) kind: C,
    namespace: String,
    name: String,
    written: Written,
}

#[derive(Debug, Clone)]
enum Written {
    /// Created, by the name the API server gave it.
    Created,
    /// Created or updated at this revision: there, at it or later.
    Present(u64),
    /// Updated at this revision: at it or later, or gone since.
    At(u64),
    /// Deleted: gone, replaced or being deleted.
    Deleted { uid: String },
}

impl<C> Expect<C> {
    /// An object created.
    pub(crate) fn created(kind: C, namespace: String, name: String) -> Expect<C> {
        Expect { kind, namespace, name, written: Written::Created }
    }

    /// An object created or updated at `revision`, which must be there.
    pub(crate) fn present(kind: C, namespace: String, name: String, revision: u64) -> Expect<C> {
        Expect { kind, namespace, name, written: Written::Present(revision) }
    }

    /// An object updated (patched, its status written) at `revision`.
    pub(crate) fn at(kind: C, namespace: String, name: String, revision: u64) -> Expect<C> {
        Expect { kind, namespace, name, written: Written::At(revision) }
    }

    /// The object with `uid` deleted.
    pub(crate) fn deleted(kind: C, namespace: String, name: String, uid: String) -> Expect<C> {
        Expect { kind, namespace, name, written: Written::Deleted { uid } }
    }

    /// Whether `store`, the cache of the expectation's kind, shows the write.
    pub(crate) fn shown_by<K: Cached>(&self, store: &Store<K>) -> bool {
        let (namespace, name) = (&self.namespace, &self.name);
        match &self.written {
            Written::Created => crate::cache::shows_created(store, namespace, name),
            Written::Present(revision) => {
                crate::cache::shows_created(store, namespace, name)
                    && crate::cache::shows_at(store, namespace, name, *revision)
            }
            Written::At(revision) => crate::cache::shows_at(store, namespace, name, *revision),
            Written::Deleted { uid } => crate::cache::shows_deleted(store, namespace, name, uid),
        }
    }
}

/// The keys one pass syncs.
#[derive(Debug)]
pub(crate) struct Pass<K> {
    /// In key order; each is the loop's until [`WorkLoop::done`].
    pub(crate) keys: Vec<K>,
    /// Whether this is the [`RESYNC`] pass, in which every key is synced whatever else
    /// decides (for the CronJob controller, which skips keys whose objects did not change).
    pub(crate) resync: bool,
}

/// A controller's loop over its [`Queue`] and the shared caches (see the module docs).
#[derive(Debug)]
pub(crate) struct WorkLoop<K> {
    /// The controller's name, in logs.
    what: &'static str,
    queue: Queue<K>,
    /// Woken by any change of the caches: every key is to be synced.
    wake: Arc<Notify>,
    /// Woken by any change of the caches too, for [`WorkLoop::caught_up`] only: that wait must
    /// not take the loop's notice of someone else's change.
    changed: Arc<Notify>,
    /// When every key is synced again regardless.
    resync: Instant,
    /// Whether the next pass adds every key, and whether it is the resync's.
    everything: bool,
    resyncing: bool,
}

impl<K: Clone + Eq + Hash + Ord + Display> WorkLoop<K> {
    pub(crate) fn new(what: &'static str) -> WorkLoop<K> {
        WorkLoop {
            what,
            queue: Queue::new(),
            wake: Arc::new(Notify::new()),
            changed: Arc::new(Notify::new()),
            resync: Instant::now() + RESYNC,
            everything: true,
            resyncing: false,
        }
    }

    /// The shared cache of every object of one kind; each of its changes wakes the loop.
    pub(crate) fn cache<T: Cached>(&self, informers: &Informers) -> Store<T> {
        let store = informers.get::<T>();
        store.wake(&self.wake);
        store.wake(&self.changed);
        store
    }

    /// Starts a pass: `keys` are those of every object there is (what the queue knows of
    /// others is dropped). At the resync every key is synced, after a change every key but
    /// those backing off; otherwise those whose time has come.
    pub(crate) fn pass(&mut self, keys: impl IntoIterator<Item = K>) -> Pass<K> {
        let keys: HashSet<K> = keys.into_iter().collect();
        self.queue.retain(|key| keys.contains(key));
        if std::mem::take(&mut self.everything) {
            let mut all: Vec<K> = keys.into_iter().collect();
            all.sort();
            if !self.resyncing {
                all.retain(|key| !self.queue.backing_off(key));
            }
            for key in all {
                self.queue.add(key);
            }
        }
        let mut batch = Vec::new();
        while let Some(key) = self.queue.get() {
            batch.push(key);
        }
        batch.sort();
        Pass { keys: batch, resync: std::mem::take(&mut self.resyncing) }
    }

    /// Ends the sync of `key`: on success its backoff is forgotten and it comes back at the
    /// instant it asked for, if any; on failure it is retried after its backoff.
    pub(crate) fn done<E: std::error::Error>(
        &mut self,
        key: K,
        result: Result<Option<Instant>, E>,
    ) {
        match result {
            Ok(again) => {
                self.queue.forget(&key);
                if let Some(at) = again {
                    self.queue.add_after(key.clone(), at);
                }
            }
            Err(error) => {
                let error = error_chain(&error);
                tracing::warn!(controller = self.what, object.ref = %key, %error, "sync failed");
                self.queue.add_rate_limited(key.clone());
            }
        }
        self.queue.done(&key);
    }

    /// Waits (bounded) until `check` holds on the caches: that they show the pass's writes.
    pub(crate) async fn caught_up(&self, check: impl Fn() -> bool) {
        crate::cache::caught_up(&self.changed, check).await;
    }

    /// Waits for a change of the caches, the next requested or retry time, or the resync.
    pub(crate) async fn wait(&mut self) {
        let due = self.queue.next_due().map_or(self.resync, |at| at.min(self.resync));
        let changed = tokio::time::timeout_at(due, self.wake.notified()).await.is_ok();
        let now = Instant::now();
        if now >= self.resync {
            self.resync = now + RESYNC;
            self.resyncing = true;
            self.everything = true;
        }
        self.everything |= changed;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(queue: &mut Queue<&'static str>) -> Vec<&'static str> {
        let mut keys = Vec::new();
        while let Some(key) = queue.get() {
            keys.push(key);
        }
        keys
    }

    #[test]
    fn a_key_added_twice_is_synced_once() {
        let mut queue = Queue::new();
        queue.add("a");
        queue.add("b");
        queue.add("a");
        assert_eq!(drain(&mut queue), ["a", "b"]);
    }

    #[test]
    fn a_key_is_synced_by_one_sync_at_a_time() {
        let mut queue = Queue::new();
        queue.add("a");
        assert_eq!(queue.get(), Some("a"));
        // Added while being synced: not handed out until that sync is done, then once.
        queue.add("a");
        queue.add("a");
        assert_eq!(queue.get(), None);
        queue.done(&"a");
        assert_eq!(drain(&mut queue), ["a"]);
        queue.done(&"a");
        assert_eq!(queue.get(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn failures_back_off_doubling_until_forgotten() {
        let mut queue = Queue::new();
        let start = Instant::now();
        let delays: Vec<Duration> = (0..4).map(|_| queue.add_rate_limited("a") - start).collect();
        let ms = Duration::from_millis;
        assert_eq!(delays, [ms(5), ms(10), ms(20), ms(40)]);
        assert!(queue.backing_off(&"a"));
        assert_eq!(queue.get(), None);
        assert_eq!(queue.next_due(), Some(start + ms(40)));
        tokio::time::advance(ms(40)).await;
        assert!(!queue.backing_off(&"a"));
        assert_eq!(queue.get(), Some("a"));
        queue.done(&"a");
        for _ in 0..30 {
            queue.add_rate_limited("a");
        }
        assert_eq!(queue.add_rate_limited("a") - Instant::now(), MAX_DELAY);
        // A success starts the backoff again.
        queue.forget(&"a");
        assert_eq!(queue.next_due(), None);
        assert_eq!(queue.add_rate_limited("a") - Instant::now(), BASE_DELAY);
    }

    #[tokio::test(start_paused = true)]
    async fn a_requested_time_brings_the_key_back() {
        let mut queue = Queue::new();
        let start = Instant::now();
        queue.add_after("a", start + Duration::from_secs(10));
        queue.add_after("a", start + Duration::from_secs(3));
        queue.add_after("a", start + Duration::from_secs(7));
        assert_eq!(queue.get(), None);
        assert_eq!(queue.next_due(), Some(start + Duration::from_secs(3)), "the earliest");
        tokio::time::advance(Duration::from_secs(3)).await;
        assert_eq!(drain(&mut queue), ["a"]);
        assert_eq!(queue.next_due(), None);
    }

    #[derive(Debug, thiserror::Error)]
    #[error("failed")]
    struct Failed;

    #[tokio::test(start_paused = true)]
    async fn the_loop_syncs_every_key_on_a_change_and_due_keys_at_their_time() {
        let mut work: WorkLoop<String> = WorkLoop::new("test");
        let keys = || ["a".to_owned(), "b".to_owned(), "c".to_owned()];
        // The first pass syncs every key.
        let pass = work.pass(keys());
        assert_eq!(pass.keys, keys());
        let start = Instant::now();
        work.done("a".to_owned(), Ok::<_, Failed>(Some(start + Duration::from_secs(2))));
        work.done("b".to_owned(), Err(Failed));
        work.done("c".to_owned(), Ok::<_, Failed>(None));
        // b's retry comes first, then a's requested time.
        work.wait().await;
        assert_eq!(Instant::now() - start, BASE_DELAY);
        assert_eq!(work.pass(keys()).keys, ["b"]);
        work.done("b".to_owned(), Ok::<_, Failed>(None));
        work.wait().await;
        assert_eq!(Instant::now() - start, Duration::from_secs(2));
        let pass = work.pass(keys());
        assert_eq!((pass.keys, pass.resync), (vec!["a".to_owned()], false));
        work.done("a".to_owned(), Ok::<_, Failed>(None));
        // A change syncs every key; a key that is gone is forgotten.
        work.wake.notify_one();
        work.wait().await;
        assert_eq!(work.pass(["a".to_owned(), "c".to_owned()]).keys, ["a", "c"]);
        work.done("a".to_owned(), Ok::<_, Failed>(None));
        work.done("c".to_owned(), Ok::<_, Failed>(None));
        // Nothing changes: the resync syncs every key.
        work.wait().await;
        assert_eq!(Instant::now() - start, RESYNC);
        let pass = work.pass(keys());
        assert_eq!((pass.keys.len(), pass.resync), (3, true));
        work.done("a".to_owned(), Ok::<_, Failed>(None));
        work.done("c".to_owned(), Ok::<_, Failed>(None));
        // A key that keeps failing is left to its backoff by changes, not by the resync.
        work.done("b".to_owned(), Err(Failed));
        for _ in 0..20 {
            work.queue.add_rate_limited("b".to_owned());
        }
        work.wake.notify_one();
        work.wait().await;
        assert_eq!(work.pass(keys()).keys, ["a", "c"]);
        work.done("a".to_owned(), Ok::<_, Failed>(None));
        work.done("c".to_owned(), Ok::<_, Failed>(None));
        work.wait().await;
        assert_eq!(Instant::now() - start, 2 * RESYNC);
        assert_eq!(work.pass(keys()).keys, keys());
    }
}
