//! SQLite backend specifics: reopening, the single-process lock, and files it must refuse.

use std::path::Path;

use berth_store::{Error, RangeRequest, Revision, SqliteStore, Store};
use bytes::Bytes;

fn open(path: &Path) -> SqliteStore {
    SqliteStore::open(path).unwrap()
}

#[tokio::test]
async fn reopening_keeps_data_revisions_and_history() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let (kept, compacted) = {
        let store = open(&path);
        let a = store.create("/a", Bytes::from_static(b"1")).await.unwrap();
        let a = store.update("/a", Bytes::from_static(b"2"), a.mod_revision).await.unwrap();
        let b = store.create("/b", Bytes::from_static(b"b")).await.unwrap();
        store.compact(a.mod_revision).await.unwrap();
        store.delete("/b", Some(b.mod_revision)).await.unwrap();
        (store.create("/c", Bytes::from_static(b"c")).await.unwrap(), a.mod_revision)
    };
    let store = open(&path);
    assert_eq!(store.current_revision().await.unwrap(), kept.mod_revision);
    assert_eq!(store.compacted_revision().await.unwrap(), compacted);
    assert_eq!(store.get("/c").await.unwrap(), Some(kept.clone()));
    assert_eq!(store.get("/b").await.unwrap(), None);
    // History after the compacted revision is still there to watch.
    let mut watch = store.watch("/", compacted).await.unwrap();
    let mut revisions = Vec::new();
    for _ in 0..3 {
        revisions.push(watch.next().await.unwrap().revision());
    }
    let first = compacted.0 + 1;
    assert_eq!(revisions, vec![Revision(first), Revision(first + 1), Revision(first + 2)]);
    // And the next write continues the sequence.
    let d = store.create("/d", Bytes::from_static(b"d")).await.unwrap();
    assert_eq!(d.mod_revision, kept.mod_revision.next());
}

#[tokio::test]
async fn a_second_opener_is_refused_while_the_first_has_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let first = open(&path);
    first.create("/k", Bytes::from_static(b"v")).await.unwrap();
    match SqliteStore::open(&path) {
        Err(error @ Error::Locked { .. }) => {
            let message = error.to_string();
            assert!(message.contains(&path.display().to_string()), "{message}");
            assert!(message.contains("in use"), "{message}");
        }
        other => panic!("expected Locked, got {other:?}"),
    }
    drop(first);
    let again = open(&path);
    assert!(again.get("/k").await.unwrap().is_some());
}

/// Opening must fail with a message naming the file, and leave the file exactly as it was.
fn assert_refused(path: &Path, expect_in_message: &str) {
    let before = std::fs::read(path).unwrap();
    match SqliteStore::open(path) {
        Err(error @ Error::BadFile { .. }) => {
            let message = error.to_string();
            assert!(message.contains(&path.display().to_string()), "{message}");
            assert!(message.contains(expect_in_message), "{message}");
        }
        other => panic!("expected BadFile for {}, got {other:?}", path.display()),
    }
    assert_eq!(std::fs::read(path).unwrap(), before, "a refused file must not be changed");
}

#[test]
fn a_file_that_is_not_sqlite_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    std::fs::write(&path, b"this is a text file, not a database\n".repeat(200)).unwrap();
    assert_refused(&path, "not a SQLite database");
}

#[test]
fn a_sqlite_file_of_another_application_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("CREATE TABLE users (name TEXT); INSERT INTO users VALUES ('ada');")
        .unwrap();
    drop(conn);
    assert_refused(&path, "not a berth store");
}

#[tokio::test]
async fn a_store_from_a_newer_berth_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    drop(open(&path));
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("PRAGMA user_version = 99;").unwrap();
    drop(conn);
    assert_refused(&path, "newer than this berth understands");
}

#[tokio::test]
async fn a_damaged_file_gives_an_error_naming_it_never_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    {
        let store = open(&path);
        for i in 0..500 {
            store.create(&format!("/k/{i:04}"), Bytes::from(vec![b'v'; 2000])).await.unwrap();
        }
    }
    // Scribble over pages in the middle of the file (not the header).
    let mut bytes = std::fs::read(&path).unwrap();
    assert!(bytes.len() > 64 * 1024, "the store should span many pages");
    for b in &mut bytes[16 * 1024..48 * 1024] {
        *b = 0xa5;
    }
    std::fs::write(&path, &bytes).unwrap();

    let error = match SqliteStore::open(&path) {
        Err(error) => error,
        Ok(store) => {
            let result = store.range(&RangeRequest::prefix("/k/")).await;
            let result = match result {
                Ok(_) => store.create("/k/new", Bytes::from_static(b"x")).await.map(|_| ()),
                Err(error) => Err(error),
            };
            result.expect_err("reading a damaged store must fail")
        }
    };
    let message = error.to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(matches!(error, Error::BadFile { .. }), "{error:?}");
}

/// Compaction records the compacted revision at once and removes the obsolete rows afterwards, in
/// short transactions; once that is done, reads at and after the compacted revision, and watches
/// from it, must still see every version they are entitled to.
#[tokio::test]
async fn compaction_cleanup_removes_old_versions_and_keeps_what_reads_need() {
    use berth_store::Event;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let store = open(&path);
    let mut hot = store.create("/c/hot", Bytes::from_static(b"0")).await.unwrap();
    for i in 1..=5000 {
        hot = store.update("/c/hot", Bytes::from(i.to_string()), hot.mod_revision).await.unwrap();
    }
    let gone = store.create("/c/gone", Bytes::from_static(b"g")).await.unwrap();
    store.delete("/c/gone", None).await.unwrap();
    let reborn = store.create("/c/reborn", Bytes::from_static(b"r1")).await.unwrap();
    store.delete("/c/reborn", Some(reborn.mod_revision)).await.unwrap();
    let late = store.create("/c/late", Bytes::from_static(b"l1")).await.unwrap();
    let cold = store.create("/c/cold", Bytes::from_static(b"c")).await.unwrap();
    let compacted = store.current_revision().await.unwrap();
    let after = store.update("/c/hot", Bytes::from_static(b"after"), hot.mod_revision).await;
    let after = after.unwrap();
    store.compact(compacted).await.unwrap();
    // Writes while the cleanup runs.
    let late2 = store.update("/c/late", Bytes::from_static(b"l2"), late.mod_revision).await;
    let late2 = late2.unwrap();
    let reborn2 = store.create("/c/reborn", Bytes::from_static(b"r2")).await.unwrap();

    // Watch the cleanup finish from a second connection.
    let conn = rusqlite::Connection::open(&path).unwrap();
    let cleaned = || -> i64 {
        conn.query_row("SELECT value FROM meta WHERE name = 'cleaned'", [], |r| r.get(0)).unwrap()
    };
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    while cleaned() < compacted.0 {
        assert!(tokio::time::Instant::now() < deadline, "cleanup stalled at {}", cleaned());
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let rows: i64 = conn.query_row("SELECT count(*) FROM log", [], |r| r.get(0)).unwrap();
    // Left: hot, late and cold as they were at the compacted revision, and the three writes
    // after it.
    assert_eq!(rows, 6, "obsolete versions should be gone");
    assert!(gone.mod_revision < compacted);

    let at = RangeRequest { revision: Some(compacted), ..RangeRequest::prefix("/c/") };
    let keys: Vec<_> = store.range(&at).await.unwrap().kvs;
    assert_eq!(keys, vec![cold.clone(), hot.clone(), late.clone()]);
    let now = store.range(&RangeRequest::prefix("/c/")).await.unwrap().kvs;
    assert_eq!(now, vec![cold, after.clone(), late2.clone(), reborn2.clone()]);
    let mut watch = store.watch("/c/", compacted).await.unwrap();
    assert_eq!(watch.next().await.unwrap(), Event::Put { kv: after, prev: Some(hot) });
    assert_eq!(watch.next().await.unwrap(), Event::Put { kv: late2, prev: Some(late) });
    assert_eq!(watch.next().await.unwrap(), Event::Put { kv: reborn2, prev: None });
}

#[tokio::test]
async fn reopening_rebuilds_current_and_past_ranges_after_compaction_cleanup() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let all = RangeRequest::prefix("/r/");
    let (current, past, at) = {
        let store = open(&path);
        let mut revisions = Vec::new();
        for i in 0..20 {
            revisions.push(
                store
                    .create(&format!("/r/{i:02}"), Bytes::from(format!("v{i}")))
                    .await
                    .unwrap()
                    .mod_revision,
            );
        }
        for i in (0..20).step_by(3) {
            store.update(&format!("/r/{i:02}"), Bytes::from("again"), revisions[i]).await.unwrap();
        }
        for i in (1..20).step_by(4) {
            store.delete(&format!("/r/{i:02}"), None).await.unwrap();
        }
        let at = store.current_revision().await.unwrap();
        store.create("/r/20", Bytes::from("late")).await.unwrap();
        store.update("/r/02", Bytes::from("later"), revisions[2]).await.unwrap();
        store.delete("/r/04", None).await.unwrap();
        store.compact(at).await.unwrap();
        let past = store.range(&RangeRequest { revision: Some(at), ..all.clone() }).await.unwrap();
        (store.range(&all).await.unwrap(), past, at)
    };
    assert_eq!(past.kvs.len(), 20 - 5, "five of twenty deleted by then");
    assert!(past.kvs.iter().all(|kv| kv.mod_revision <= at));
    let store = open(&path);
    assert_eq!(store.range(&all).await.unwrap(), current);
    assert_eq!(
        store.range(&RangeRequest { revision: Some(at), ..all.clone() }).await.unwrap(),
        past
    );
    for kv in &current.kvs {
        assert_eq!(store.get(&kv.key).await.unwrap().as_ref(), Some(kv));
    }
    assert_eq!(store.get("/r/04").await.unwrap(), None);
}

/// Format 1 kept the current version of each key in a `kv` table; format 2 keeps it in memory.
#[tokio::test]
async fn a_format_1_store_is_upgraded_in_place_and_keeps_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             CREATE TABLE meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
             CREATE TABLE log (rev INTEGER PRIMARY KEY, key BLOB NOT NULL, value BLOB,
                               create_rev INTEGER NOT NULL, prev_rev INTEGER NOT NULL);
             CREATE TABLE kv (key BLOB PRIMARY KEY, rev INTEGER NOT NULL) WITHOUT ROWID;
             INSERT INTO meta (name, value) VALUES ('compacted', 0), ('cleaned', 0);
             INSERT INTO log VALUES (1, CAST('/a' AS BLOB), CAST('one' AS BLOB), 1, 0);
             INSERT INTO log VALUES (2, CAST('/b' AS BLOB), CAST('bee' AS BLOB), 2, 0);
             INSERT INTO log VALUES (3, CAST('/a' AS BLOB), CAST('two' AS BLOB), 1, 1);
             INSERT INTO log VALUES (4, CAST('/b' AS BLOB), NULL, 2, 2);
             INSERT INTO kv VALUES (CAST('/a' AS BLOB), 3);
             PRAGMA application_id = 1650815604;
             PRAGMA user_version = 1;",
        )
        .unwrap();
    }
    let store = open(&path);
    assert_eq!(store.current_revision().await.unwrap(), Revision(4));
    let a = store.get("/a").await.unwrap().unwrap();
    assert_eq!(
        (a.value, a.create_revision, a.mod_revision),
        (Bytes::from("two"), Revision(1), Revision(3))
    );
    assert_eq!(store.get("/b").await.unwrap(), None);
    let before = store
        .range(&RangeRequest { revision: Some(Revision(2)), ..RangeRequest::prefix("/") })
        .await
        .unwrap();
    let keys: Vec<_> = before.kvs.iter().map(|kv| (kv.key.as_str(), kv.value.clone())).collect();
    assert_eq!(keys, vec![("/a", Bytes::from("one")), ("/b", Bytes::from("bee"))]);
    store.update("/a", Bytes::from("three"), Revision(3)).await.unwrap();
    drop(store);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let version: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0)).unwrap();
    let kv_tables: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_master WHERE name = 'kv'", [], |row| row.get(0))
        .unwrap();
    assert_eq!((version, kv_tables), (2, 0));
    drop(conn);
    assert_eq!(open(&path).get("/a").await.unwrap().unwrap().value, Bytes::from("three"));
}
