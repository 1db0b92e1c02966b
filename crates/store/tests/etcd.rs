//! etcd-only behaviour, against a real etcd: a second berth server on the same etcd (its writes
//! seen by our watches, another prefix invisible), ranges paged past the internal page size, and
//! the watch feed reconnecting after etcd restarts. Skipped when etcd is missing, unless
//! `BERTH_REAL=1`.

mod common;

use std::time::Duration;

use berth_store::{Error, EtcdConfig, EtcdStore, Event, RangeRequest, Revision, Store, Watch};
use bytes::Bytes;
use common::{etcd_config, real_etcd};
use tokio::time::timeout;

async fn next(watch: &mut Watch) -> Event {
    timeout(Duration::from_secs(10), watch.next()).await.expect("a watch event in time").unwrap()
}

#[tokio::test]
async fn etcd_backend_shares_etcd_pages_big_ranges_and_survives_restarts() {
    let Some(mut etcd) = real_etcd().await else { return };
    let store = EtcdStore::connect(etcd_config(&etcd)).await.unwrap();
    let other = EtcdStore::connect(etcd_config(&etcd)).await.unwrap();
    let foreign_prefix = format!("{}x", etcd_config(&etcd).prefix);
    let foreign = EtcdConfig { prefix: foreign_prefix, ..etcd_config(&etcd) };
    let foreign = EtcdStore::connect(foreign).await.unwrap();
    let start = store.current_revision().await.unwrap();

    // create / update / conflict / not found
    let a = store.create("/pods/a", Bytes::from("1")).await.unwrap();
    assert!(a.mod_revision > start);
    assert_eq!(a.create_revision, a.mod_revision);
    assert!(matches!(
        store.create("/pods/a", Bytes::from("x")).await,
        Err(Error::AlreadyExists { current, .. }) if current.mod_revision == a.mod_revision
    ));
    let a2 = store.update("/pods/a", Bytes::from("2"), a.mod_revision).await.unwrap();
    assert_eq!((a2.create_revision, a2.mod_revision), (a.create_revision, a.mod_revision.next()));
    assert!(matches!(
        store.update("/pods/a", Bytes::from("3"), a.mod_revision).await,
        Err(Error::Conflict { expected, current, .. })
            if expected == a.mod_revision && current.mod_revision == a2.mod_revision
    ));
    assert!(matches!(
        store.update("/pods/none", Bytes::from("3"), Revision::ZERO).await,
        Err(Error::NotFound { .. })
    ));
    assert_eq!(store.get("/pods/a").await.unwrap().unwrap().value, Bytes::from("2"));
    // Another prefix on the same etcd is invisible.
    foreign.create("/pods/a", Bytes::from("foreign")).await.unwrap();
    let b = store.create("/pods/b", Bytes::from("b")).await.unwrap();
    assert!(matches!(
        store.delete("/pods/b", Some(a.mod_revision)).await,
        Err(Error::Conflict { .. })
    ));
    let deleted = store.delete("/pods/b", Some(b.mod_revision)).await.unwrap();
    assert_eq!(deleted.prev, b);
    assert!(matches!(store.delete("/pods/b", None).await, Err(Error::NotFound { .. })));
    let too_large = Bytes::from(vec![0u8; berth_store::MAX_VALUE_BYTES]);
    assert!(matches!(store.create("/pods/big", too_large).await, Err(Error::TooLarge { .. })));

    // Paging: 1200 keys, read in internal pages and in client pages at one revision.
    for i in 0..1200 {
        store.create(&format!("/many/{i:04}"), Bytes::from(format!("v{i}"))).await.unwrap();
    }
    let at = store.current_revision().await.unwrap();
    store.update("/many/0000", Bytes::from("changed"), Revision(at.0 - 1199)).await.unwrap();
    store.create("/many/9999", Bytes::from("late")).await.unwrap();
    let all = RangeRequest { revision: Some(at), ..RangeRequest::prefix("/many/") };
    let all = store.range(&all).await.unwrap();
    assert_eq!((all.kvs.len(), all.more, all.revision), (1200, false, at));
    assert_eq!(all.kvs[0].value, Bytes::from("v0"));
    let mut paged = Vec::new();
    let mut start_after = None;
    loop {
        let request = RangeRequest {
            prefix: "/many/".into(),
            start_after: start_after.clone(),
            limit: Some(500),
            revision: Some(at),
        };
        let page = store.range(&request).await.unwrap();
        assert_eq!(page.revision, at);
        start_after = page.kvs.last().map(|kv| kv.key.clone());
        paged.extend(page.kvs);
        if !page.more {
            break;
        }
    }
    assert_eq!(paged, all.kvs);
    let now = store.range(&RangeRequest::prefix("/many/")).await.unwrap();
    assert_eq!(now.kvs.len(), 1201);
    assert!(now.revision > at);
    let zero = RangeRequest { limit: Some(0), ..RangeRequest::prefix("/many/") };
    let zero = store.range(&zero).await.unwrap();
    assert!(zero.kvs.is_empty() && zero.more);
    let future =
        RangeRequest { revision: Some(Revision(now.revision.0 + 10)), ..RangeRequest::prefix("") };
    assert!(matches!(store.range(&future).await, Err(Error::FutureRevision { .. })));

    // Watches from the past read history (more than one page), then go live; a write by
    // another store on the same prefix shows up.
    let mut pods = store.watch("/pods/", start).await.unwrap();
    let mut many = store.watch("/many/", start).await.unwrap();
    assert!(matches!(next(&mut pods).await, Event::Put { kv, prev: None } if kv == a));
    assert!(
        matches!(next(&mut pods).await, Event::Put { kv, prev: Some(prev) } if kv == a2 && prev == a)
    );
    assert!(matches!(next(&mut pods).await, Event::Put { kv, .. } if kv == b));
    assert!(matches!(next(&mut pods).await, Event::Delete { prev, .. } if prev == b));
    for i in 0..1200 {
        assert!(
            matches!(next(&mut many).await, Event::Put { kv, .. } if kv.key == format!("/many/{i:04}"))
        );
    }
    assert!(matches!(next(&mut many).await, Event::Put { kv, .. } if kv.key == "/many/0000"));
    assert!(matches!(next(&mut many).await, Event::Put { kv, .. } if kv.key == "/many/9999"));
    let c = other.create("/pods/c", Bytes::from("c")).await.unwrap();
    assert!(matches!(next(&mut pods).await, Event::Put { kv, .. } if kv == c));

    // Compaction.
    let compact_to = c.mod_revision;
    store.compact(compact_to).await.unwrap();
    assert_eq!(store.compacted_revision().await.unwrap(), compact_to);
    assert_eq!(other.compacted_revision().await.unwrap(), compact_to);
    other.compact(Revision(compact_to.0 - 5)).await.unwrap();
    assert_eq!(store.compacted_revision().await.unwrap(), compact_to);
    let old = RangeRequest { revision: Some(at), ..RangeRequest::prefix("/many/") };
    assert!(matches!(
        store.range(&old).await,
        Err(Error::Compacted { requested, compacted }) if requested == at && compacted == compact_to
    ));
    assert!(matches!(
        store.watch("/pods/", start).await,
        Err(Error::Compacted { compacted, .. }) if compacted == compact_to
    ));
    let current = store.current_revision().await.unwrap();
    assert!(matches!(
        store.compact(Revision(current.0 + 1)).await,
        Err(Error::FutureRevision { .. })
    ));

    // etcd crashes and comes back: data is durable, the feed reconnects.
    etcd.kill();
    assert!(matches!(store.get("/pods/c").await, Err(Error::Backend { .. })));
    etcd.restart().await.unwrap();
    assert_eq!(store.get("/pods/c").await.unwrap(), Some(c));
    let d = other.create("/pods/d", Bytes::from("d")).await.unwrap();
    assert!(matches!(next(&mut pods).await, Event::Put { kv, .. } if kv == d));
}
