//! The one conformance suite every store backend passes: memory, SQLite and a real etcd.
//!
//! Each case is an async function over an `Arc<dyn Store>`; `conformance!` instantiates every
//! case once per backend. The last cases are randomized model tests: concurrent writers and
//! watchers checked against a simple reference model.

mod common;

use std::collections::BTreeMap;

use berth_store::{Error, Event, KeyValue, MAX_VALUE_BYTES, RangeRequest, Revision};
use bytes::Bytes;
use common::Fixture;
use rand::{Rng, SeedableRng, rngs::StdRng};

macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod memory {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() { super::$case(&super::Fixture::memory().await).await }
            )*
        }
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() { super::$case(&super::Fixture::sqlite().await).await }
            )*
        }
        mod etcd {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                if let Some(fixture) = super::Fixture::etcd().await {
                    super::$case(&fixture).await
                }
            }
            )*
        }
    };
}

conformance!(
    create_then_get,
    create_of_an_existing_key_fails_without_a_new_revision,
    update_is_a_compare_and_swap_on_mod_revision,
    delete_with_and_without_a_guard,
    range_returns_the_prefix_in_key_order,
    range_pages_are_consistent_at_the_first_pages_revision,
    range_at_an_old_revision_sees_the_old_state,
    range_in_the_future_fails,
    compaction_forgets_old_revisions_only,
    watch_delivers_changes_in_order_with_previous_values,
    watch_from_the_past_replays_history_then_goes_live,
    slow_watcher_gets_every_event_without_a_gap,
    lagging_watcher_behind_compaction_gets_compacted,
    values_over_the_size_limit_are_refused,
    random_concurrent_writers_match_the_model,
);

fn bytes(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

async fn create_then_get(f: &Fixture) {
    let store = &f.store;
    let before = store.current_revision().await.unwrap();
    let kv = store.create("/a/x", bytes("one")).await.unwrap();
    assert_eq!(kv.key, "/a/x");
    assert_eq!(kv.value, bytes("one"));
    assert_eq!(kv.mod_revision, before.next());
    assert_eq!(kv.create_revision, kv.mod_revision);
    assert_eq!(store.current_revision().await.unwrap(), kv.mod_revision);
    assert_eq!(store.get("/a/x").await.unwrap(), Some(kv));
    assert_eq!(store.get("/a/y").await.unwrap(), None);
    assert_eq!(store.get("/a/").await.unwrap(), None, "a prefix is not a key");
}

async fn create_of_an_existing_key_fails_without_a_new_revision(f: &Fixture) {
    let store = &f.store;
    let first = store.create("/k", bytes("v1")).await.unwrap();
    match store.create("/k", bytes("v2")).await {
        Err(Error::AlreadyExists { key, current }) => {
            assert_eq!(key, "/k");
            assert_eq!(*current, first);
        }
        other => panic!("expected AlreadyExists, got {other:?}"),
    }
    assert_eq!(store.current_revision().await.unwrap(), first.mod_revision);
    assert_eq!(store.get("/k").await.unwrap().unwrap().value, bytes("v1"));
}

async fn update_is_a_compare_and_swap_on_mod_revision(f: &Fixture) {
    let store = &f.store;
    let created = store.create("/k", bytes("v1")).await.unwrap();
    let updated = store.update("/k", bytes("v2"), created.mod_revision).await.unwrap();
    assert_eq!(updated.mod_revision, created.mod_revision.next());
    assert_eq!(updated.create_revision, created.create_revision);
    assert_eq!(updated.value, bytes("v2"));

    // The stale guard loses, reports what is there, and makes no revision.
    match store.update("/k", bytes("v3"), created.mod_revision).await {
        Err(Error::Conflict { key, expected, current }) => {
            assert_eq!(key, "/k");
            assert_eq!(expected, created.mod_revision);
            assert_eq!(*current, updated);
        }
        other => panic!("expected Conflict, got {other:?}"),
    }
    assert_eq!(store.current_revision().await.unwrap(), updated.mod_revision);
    assert!(matches!(
        store.update("/missing", bytes("v"), updated.mod_revision).await,
        Err(Error::NotFound { key }) if key == "/missing"
    ));
    assert_eq!(store.get("/k").await.unwrap(), Some(updated));
}

async fn delete_with_and_without_a_guard(f: &Fixture) {
    let store = &f.store;
    let a = store.create("/a", bytes("a")).await.unwrap();
    let b = store.create("/b", bytes("b")).await.unwrap();
    match store.delete("/a", Some(Revision(a.mod_revision.0 + 100))).await {
        Err(Error::Conflict { current, .. }) => assert_eq!(*current, a),
        other => panic!("expected Conflict, got {other:?}"),
    }
    let deleted = store.delete("/a", Some(a.mod_revision)).await.unwrap();
    assert_eq!(deleted.prev, a);
    assert_eq!(deleted.revision, b.mod_revision.next());
    let deleted_b = store.delete("/b", None).await.unwrap();
    assert_eq!(deleted_b.prev, b);
    assert_eq!(deleted_b.revision, deleted.revision.next());
    assert_eq!(store.get("/a").await.unwrap(), None);
    assert!(matches!(store.delete("/a", None).await, Err(Error::NotFound { .. })));
    assert_eq!(store.current_revision().await.unwrap(), deleted_b.revision);

    // A re-created key starts a new life.
    let again = store.create("/a", bytes("again")).await.unwrap();
    assert_eq!(again.create_revision, again.mod_revision);
    assert!(again.create_revision > a.create_revision);
}

async fn range_returns_the_prefix_in_key_order(f: &Fixture) {
    let store = &f.store;
    for key in ["/r/c", "/r/a", "/r0", "/r/b/deep", "/q/a", "/r/", "/ra", "/r/b"] {
        store.create(key, bytes(key)).await.unwrap();
    }
    let page = store.range(&RangeRequest::prefix("/r/")).await.unwrap();
    let keys: Vec<_> = page.kvs.iter().map(|kv| kv.key.as_str()).collect();
    assert_eq!(keys, ["/r/", "/r/a", "/r/b", "/r/b/deep", "/r/c"]);
    assert!(!page.more);
    assert_eq!(page.revision, store.current_revision().await.unwrap());
    for kv in &page.kvs {
        assert_eq!(kv.value, bytes(&kv.key));
    }
    let all = store.range(&RangeRequest::prefix("")).await.unwrap();
    assert_eq!(all.kvs.len(), 8);
    // A continuation key before the prefix starts at the prefix; one past its end finds nothing.
    let before = RangeRequest { start_after: Some("/a".into()), ..RangeRequest::prefix("/r/") };
    assert_eq!(store.range(&before).await.unwrap().kvs, page.kvs);
    let past = RangeRequest { start_after: Some("/r/z".into()), ..RangeRequest::prefix("/r/") };
    assert!(store.range(&past).await.unwrap().kvs.is_empty());
    let none = store.range(&RangeRequest::prefix("/zzz")).await.unwrap();
    assert!(none.kvs.is_empty() && !none.more);
}

async fn range_pages_are_consistent_at_the_first_pages_revision(f: &Fixture) {
    let store = &f.store;
    for i in 0..10 {
        store.create(&format!("/p/{i:02}"), bytes("v")).await.unwrap();
    }
    let mut request = RangeRequest { limit: Some(3), ..RangeRequest::prefix("/p/") };
    let first = store.range(&request).await.unwrap();
    assert_eq!(first.kvs.len(), 3);
    assert!(first.more);

    // Changes after the first page must not show in the later pages.
    store.create("/p/05a", bytes("late")).await.unwrap();
    store.delete("/p/07", None).await.unwrap();
    let current = store.get("/p/08").await.unwrap().unwrap();
    store.update("/p/08", bytes("changed"), current.mod_revision).await.unwrap();

    let mut keys: Vec<String> = first.kvs.iter().map(|kv| kv.key.clone()).collect();
    request.revision = Some(first.revision);
    let mut last = first;
    while last.more {
        request.start_after = last.kvs.last().map(|kv| kv.key.clone());
        last = store.range(&request).await.unwrap();
        assert_eq!(last.revision, request.revision.unwrap());
        assert!(last.kvs.len() <= 3);
        for kv in &last.kvs {
            assert_eq!(kv.value, bytes("v"), "{} read at the first page's revision", kv.key);
        }
        keys.extend(last.kvs.iter().map(|kv| kv.key.clone()));
    }
    let expected: Vec<String> = (0..10).map(|i| format!("/p/{i:02}")).collect();
    assert_eq!(keys, expected);

    // A limit that ends exactly at the last key reports no more.
    let exact = store.range(&RangeRequest { limit: Some(10), ..RangeRequest::prefix("/p/") }).await;
    let exact = exact.unwrap();
    assert_eq!(exact.kvs.len(), 10);
    assert!(!exact.more);
}

async fn range_at_an_old_revision_sees_the_old_state(f: &Fixture) {
    let store = &f.store;
    let a1 = store.create("/o/a", bytes("a1")).await.unwrap();
    let b1 = store.create("/o/b", bytes("b1")).await.unwrap();
    let a2 = store.update("/o/a", bytes("a2"), a1.mod_revision).await.unwrap();
    let deleted = store.delete("/o/b", None).await.unwrap();
    let c1 = store.create("/o/c", bytes("c1")).await.unwrap();

    let at = |revision: Revision| {
        let request = RangeRequest { revision: Some(revision), ..RangeRequest::prefix("/o/") };
        async move {
            let page = store.range(&request).await.unwrap();
            assert_eq!(page.revision, revision);
            page.kvs
        }
    };
    assert_eq!(at(a1.mod_revision).await, vec![a1.clone()]);
    assert_eq!(at(b1.mod_revision).await, vec![a1.clone(), b1.clone()]);
    assert_eq!(at(a2.mod_revision).await, vec![a2.clone(), b1.clone()]);
    assert_eq!(at(deleted.revision).await, vec![a2.clone()]);
    assert_eq!(at(c1.mod_revision).await, vec![a2.clone(), c1.clone()]);
    let current = store.range(&RangeRequest::prefix("/o/")).await.unwrap();
    assert_eq!(current.kvs, vec![a2, c1]);
}

async fn range_in_the_future_fails(f: &Fixture) {
    let store = &f.store;
    store.create("/f", bytes("v")).await.unwrap();
    let current = store.current_revision().await.unwrap();
    let request =
        RangeRequest { revision: Some(Revision(current.0 + 5)), ..RangeRequest::prefix("/") };
    match store.range(&request).await {
        Err(Error::FutureRevision { requested, current: reported }) => {
            assert_eq!(requested, Revision(current.0 + 5));
            assert!(reported >= current);
        }
        other => panic!("expected FutureRevision, got {other:?}"),
    }
}

async fn compaction_forgets_old_revisions_only(f: &Fixture) {
    let store = &f.store;
    let a1 = store.create("/c/a", bytes("a1")).await.unwrap();
    let b1 = store.create("/c/b", bytes("b1")).await.unwrap();
    let a2 = store.update("/c/a", bytes("a2"), a1.mod_revision).await.unwrap();
    let deleted = store.delete("/c/b", None).await.unwrap();
    let a3 = store.update("/c/a", bytes("a3"), a2.mod_revision).await.unwrap();

    store.compact(deleted.revision).await.unwrap();
    assert_eq!(store.compacted_revision().await.unwrap(), deleted.revision);
    let old = RangeRequest { revision: Some(b1.mod_revision), ..RangeRequest::prefix("/c/") };
    match store.range(&old).await {
        Err(Error::Compacted { requested, compacted }) => {
            assert_eq!(requested, b1.mod_revision);
            assert_eq!(compacted, deleted.revision);
        }
        other => panic!("expected Compacted, got {other:?}"),
    }
    // The compacted revision itself is still readable, as are later ones.
    let at = RangeRequest { revision: Some(deleted.revision), ..RangeRequest::prefix("/c/") };
    assert_eq!(store.range(&at).await.unwrap().kvs, vec![a2.clone()]);
    assert_eq!(store.range(&RangeRequest::prefix("/c/")).await.unwrap().kvs, vec![a3.clone()]);

    // Watches that need forgotten history are refused; the rest still replay it.
    assert!(matches!(store.watch("/c/", a2.mod_revision).await, Err(Error::Compacted { .. })));
    let mut watch = store.watch("/c/", deleted.revision).await.unwrap();
    match watch.next().await.unwrap() {
        Event::Put { kv, prev } => {
            assert_eq!(kv, a3);
            assert_eq!(prev, Some(a2.clone()), "the previous value survives compaction");
        }
        other => panic!("expected the put of a3, got {other:?}"),
    }

    // Compacting to an older revision is a no-op; into the future is an error.
    store.compact(a1.mod_revision).await.unwrap();
    assert_eq!(store.compacted_revision().await.unwrap(), deleted.revision);
    assert!(matches!(
        store.compact(Revision(a3.mod_revision.0 + 10)).await,
        Err(Error::FutureRevision { .. })
    ));
    // Writes go on after compaction, and the deleted key can come back.
    // (etcd records the compacted revision in a key of its own, so that may take a revision.)
    let b2 = store.create("/c/b", bytes("b2")).await.unwrap();
    assert!(b2.mod_revision > a3.mod_revision);
    assert_eq!(store.get("/c/b").await.unwrap(), Some(b2));
}

async fn watch_delivers_changes_in_order_with_previous_values(f: &Fixture) {
    let store = &f.store;
    let start = store.current_revision().await.unwrap();
    let mut watch = store.watch("/w/", start).await.unwrap();
    let mut other = store.watch("/other/", start).await.unwrap();
    let a1 = store.create("/w/a", bytes("1")).await.unwrap();
    let x = store.create("/other/x", bytes("x")).await.unwrap();
    let a2 = store.update("/w/a", bytes("2"), a1.mod_revision).await.unwrap();
    let deleted = store.delete("/w/a", None).await.unwrap();

    assert_eq!(watch.next().await.unwrap(), Event::Put { kv: a1.clone(), prev: None });
    assert_eq!(watch.next().await.unwrap(), Event::Put { kv: a2.clone(), prev: Some(a1) });
    assert_eq!(watch.next().await.unwrap(), Event::Delete { revision: deleted.revision, prev: a2 });
    assert_eq!(other.next().await.unwrap(), Event::Put { kv: x, prev: None });

    // Nothing else arrives for the first watcher, and it says it is in sync.
    let quiet = tokio::time::timeout(std::time::Duration::from_millis(200), watch.next()).await;
    assert!(quiet.is_err(), "unexpected event: {quiet:?}");
    let synced = watch.synced_revision();
    assert!(synced.is_none() || synced >= Some(deleted.revision), "synced at {synced:?}");
}

async fn watch_from_the_past_replays_history_then_goes_live(f: &Fixture) {
    let store = &f.store;
    let mut expected = Vec::new();
    let mut kv = store.create("/h/k", bytes("0")).await.unwrap();
    let start = kv.mod_revision;
    for i in 1..=20 {
        let next = store.update("/h/k", bytes(&i.to_string()), kv.mod_revision).await.unwrap();
        expected.push(next.mod_revision);
        kv = next;
    }
    let mut watch = store.watch("/h/", start).await.unwrap();
    for i in 21..=30 {
        let next = store.update("/h/k", bytes(&i.to_string()), kv.mod_revision).await.unwrap();
        expected.push(next.mod_revision);
        kv = next;
    }
    for revision in expected {
        let event = watch.next().await.unwrap();
        assert_eq!(event.revision(), revision);
    }
}

async fn slow_watcher_gets_every_event_without_a_gap(f: &Fixture) {
    let store = &f.store;
    let start = store.current_revision().await.unwrap();
    let mut slow = store.watch("/s/", start).await.unwrap();
    // Far more changes than the live feed buffers, while the watcher reads nothing.
    let writes = 3000;
    let mut revisions = Vec::with_capacity(writes);
    for chunk in 0..(writes / 100) {
        let batch = (0..100).map(|i| {
            let store = store.clone();
            async move { store.create(&format!("/s/{chunk:03}/{i:03}"), bytes("v")).await }
        });
        for kv in futures::future::join_all(batch).await {
            revisions.push(kv.unwrap().mod_revision);
        }
    }
    revisions.sort();
    for expected in revisions {
        let event = slow.next().await.unwrap();
        assert_eq!(event.revision(), expected, "watch skipped or reordered an event");
    }
}

async fn lagging_watcher_behind_compaction_gets_compacted(f: &Fixture) {
    let store = &f.store;
    let start = store.current_revision().await.unwrap();
    let mut lagging = store.watch("/l/", start).await.unwrap();
    let mut kv = store.create("/l/k", bytes("0")).await.unwrap();
    for i in 0..2000 {
        kv = store.update("/l/k", bytes(&i.to_string()), kv.mod_revision).await.unwrap();
    }
    store.compact(kv.mod_revision).await.unwrap();
    // It may still get what the feed buffered, in order, but then it must be told to re-list.
    let mut last = start;
    let outcome = loop {
        match lagging.next().await {
            Ok(event) => {
                assert!(event.revision() > last);
                last = event.revision();
                if last == kv.mod_revision {
                    break None;
                }
            }
            Err(error) => break Some(error),
        }
    };
    match outcome {
        Some(Error::Compacted { .. }) => {}
        other => panic!("a watcher behind compaction must get Compacted, got {other:?}"),
    }
}

async fn values_over_the_size_limit_are_refused(f: &Fixture) {
    let store = &f.store;
    let key = "/big";
    let fits = Bytes::from(vec![b'x'; MAX_VALUE_BYTES - key.len()]);
    let kv = store.create(key, fits.clone()).await.unwrap();
    assert_eq!(store.get(key).await.unwrap().unwrap().value.len(), fits.len());
    let too_big = Bytes::from(vec![b'y'; MAX_VALUE_BYTES - key.len() + 1]);
    match store.update(key, too_big.clone(), kv.mod_revision).await {
        Err(Error::TooLarge { key: k, size, limit }) => {
            assert_eq!(k, key);
            assert_eq!(size, MAX_VALUE_BYTES + 1);
            assert_eq!(limit, MAX_VALUE_BYTES);
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
    assert!(matches!(store.create("/big2", too_big).await, Err(Error::TooLarge { .. })));
    assert_eq!(store.get(key).await.unwrap().unwrap().value, fits, "nothing stored is lost");
    assert_eq!(store.current_revision().await.unwrap(), kv.mod_revision);
}

/// What a writer task did, as the store acknowledged it.
#[derive(Debug, Clone)]
enum Acked {
    Created(KeyValue),
    Updated { kv: KeyValue, expected: Revision },
    Deleted { key: String, revision: Revision, expected: Option<Revision> },
}

impl Acked {
    fn revision(&self) -> Revision {
        match self {
            Acked::Created(kv) | Acked::Updated { kv, .. } => kv.mod_revision,
            Acked::Deleted { revision, .. } => *revision,
        }
    }
}

/// Concurrent writers race on a few keys with compare-and-swap while watchers listen; the
/// acknowledged writes, replayed in revision order on a plain map, must explain everything the
/// store shows: every revision used once, every guard held, every watch event and the final
/// state, plus a range at a revision in the middle.
#[allow(clippy::print_stderr, reason = "the seed reproduces a failure")]
async fn random_concurrent_writers_match_the_model(f: &Fixture) {
    let store = &f.store;
    let seed: u64 = rand::rng().random();
    eprintln!("model test seed {seed}");
    let start = store.current_revision().await.unwrap();
    let mut watch_all = store.watch("/m/", start).await.unwrap();

    let writers = 8;
    let ops_per_writer = 150;
    let tasks: Vec<_> = (0..writers)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut rng = StdRng::seed_from_u64(seed ^ (w as u64 + 1));
                let mut acked = Vec::new();
                let mut seen: BTreeMap<String, Revision> = BTreeMap::new();
                for i in 0..ops_per_writer {
                    let key = format!("/m/{}", rng.random_range(0..6));
                    let value = Bytes::from(format!("w{w}-{i}"));
                    let guess = seen.get(&key).copied();
                    let result = match rng.random_range(0..10) {
                        0..=2 => store.create(&key, value).await.map(Acked::Created),
                        3..=7 => match guess {
                            Some(expected) => store
                                .update(&key, value, expected)
                                .await
                                .map(|kv| Acked::Updated { kv, expected }),
                            None => continue,
                        },
                        _ => {
                            let expected = guess.filter(|_| rng.random_bool(0.7));
                            store.delete(&key, expected).await.map(|d| Acked::Deleted {
                                key: key.clone(),
                                revision: d.revision,
                                expected,
                            })
                        }
                    };
                    match result {
                        Ok(op) => {
                            match &op {
                                Acked::Created(kv) | Acked::Updated { kv, .. } => {
                                    seen.insert(key, kv.mod_revision);
                                }
                                Acked::Deleted { .. } => {
                                    seen.remove(&key);
                                }
                            }
                            acked.push(op);
                        }
                        Err(
                            Error::AlreadyExists { current, .. } | Error::Conflict { current, .. },
                        ) => {
                            seen.insert(key, current.mod_revision);
                        }
                        Err(Error::NotFound { .. }) => {
                            seen.remove(&key);
                        }
                        Err(other) => panic!("unexpected store error: {other}"),
                    }
                    if rng.random_bool(0.1) {
                        tokio::task::yield_now().await;
                    }
                }
                acked
            })
        })
        .collect();
    // A second watcher joins from the start while writes are under way: it replays history.
    tokio::task::yield_now().await;
    let mut watch_late = store.watch("/m/", start).await.unwrap();

    let mut acked: Vec<Acked> = Vec::new();
    for task in tasks {
        acked.extend(task.await.unwrap());
    }
    acked.sort_by_key(Acked::revision);
    let end = store.current_revision().await.unwrap();

    // Every revision from start to end was made by exactly one acknowledged write.
    let revisions: Vec<i64> = acked.iter().map(|a| a.revision().0).collect();
    let expected: Vec<i64> = (start.0 + 1..=end.0).collect();
    assert_eq!(revisions, expected, "revisions must be unique and contiguous (seed {seed})");

    // Replay on the model; each guard must match the model's state just before.
    let mut model: BTreeMap<String, KeyValue> = BTreeMap::new();
    let mut events = Vec::new();
    let mut snapshots = BTreeMap::new();
    for op in &acked {
        match op {
            Acked::Created(kv) => {
                assert!(
                    !model.contains_key(&kv.key),
                    "two creates won on {} (seed {seed})",
                    kv.key
                );
                assert_eq!(kv.create_revision, kv.mod_revision);
                model.insert(kv.key.clone(), kv.clone());
                events.push(Event::Put { kv: kv.clone(), prev: None });
            }
            Acked::Updated { kv, expected } => {
                let prev = model.get(&kv.key).cloned().expect("update of a missing key won");
                assert_eq!(prev.mod_revision, *expected, "a stale CAS won (seed {seed})");
                assert_eq!(kv.create_revision, prev.create_revision);
                model.insert(kv.key.clone(), kv.clone());
                events.push(Event::Put { kv: kv.clone(), prev: Some(prev) });
            }
            Acked::Deleted { key, revision, expected } => {
                let prev = model.remove(key).expect("delete of a missing key won");
                if let Some(expected) = expected {
                    assert_eq!(prev.mod_revision, *expected, "a stale guarded delete won");
                }
                events.push(Event::Delete { revision: *revision, prev });
            }
        }
        snapshots.insert(op.revision(), model.values().cloned().collect::<Vec<_>>());
    }

    let current = store.range(&RangeRequest::prefix("/m/")).await.unwrap();
    assert_eq!(current.kvs, model.values().cloned().collect::<Vec<_>>());
    if let Some((&middle, state)) = snapshots.iter().nth(snapshots.len() / 2) {
        let request = RangeRequest { revision: Some(middle), ..RangeRequest::prefix("/m/") };
        assert_eq!(&store.range(&request).await.unwrap().kvs, state, "range at {middle:?}");
    }
    for watch in [&mut watch_all, &mut watch_late] {
        for expected in &events {
            let got = tokio::time::timeout(std::time::Duration::from_secs(20), watch.next())
                .await
                .expect("watch stalled")
                .unwrap();
            assert_eq!(&got, expected, "watch diverged from the model (seed {seed})");
        }
    }
}
