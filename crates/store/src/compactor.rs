//! Periodic compaction: forget history older than a retained window.
//!
//! Like kube-apiserver's compactor it samples the current revision on every tick and compacts to
//! the revision that was current `retain` ago, but never closer than `min_revisions` to the
//! head, so a burst of writes does not cut short a watcher that is merely a few seconds behind.

use std::{collections::VecDeque, sync::Arc, time::Duration};

use tokio::{task::JoinHandle, time::Instant};

use crate::{Revision, Store};

/// When and how far to compact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompactionPolicy {
    /// How often to look.
    pub interval: Duration,
    /// Keep history at least this long.
    pub retain: Duration,
    /// Keep at least this many revisions.
    pub min_revisions: i64,
}

/// Compacts `store` by `policy` until the returned task is aborted.
pub fn spawn_compactor(store: Arc<dyn Store>, policy: CompactionPolicy) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut samples: VecDeque<(Instant, Revision)> = VecDeque::new();
        let mut ticker = tokio::time::interval(policy.interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let current = match store.current_revision().await {
                Ok(revision) => revision,
                Err(error) => {
                    tracing::warn!(%error, "compactor could not read the current revision");
                    continue;
                }
            };
            let now = Instant::now();
            samples.push_back((now, current));
            let Some(target) = compaction_target(&mut samples, now, current, policy) else {
                continue;
            };
            match store.compact(target).await {
                Ok(()) => tracing::debug!(revision = %target, "compacted"),
                Err(error) => tracing::warn!(%error, revision = %target, "compaction failed"),
            }
        }
    })
}

/// The revision to compact to: the newest sample at least `retain` old, capped at
/// `current - min_revisions`. Drops samples that can no longer matter.
fn compaction_target(
    samples: &mut VecDeque<(Instant, Revision)>,
    now: Instant,
    current: Revision,
    policy: CompactionPolicy,
) -> Option<Revision> {
    let mut old_enough = None;
    while let Some(&(at, revision)) = samples.front() {
        if now.duration_since(at) < policy.retain {
            break;
        }
        old_enough = Some(revision);
        samples.pop_front();
    }
    // Keep the sample we compact to, so the next tick still knows it.
    if let Some(revision) = old_enough {
        samples.push_front((now - policy.retain, revision));
    }
    let cap = Revision(current.0 - policy.min_revisions);
    old_enough.map(|revision| revision.min(cap)).filter(|target| *target > Revision::ZERO)
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::MemoryStore;

    #[tokio::test(start_paused = true)]
    async fn compacts_to_the_revision_current_a_window_ago_keeping_min_revisions() {
        let store = Arc::new(MemoryStore::new());
        let policy = CompactionPolicy {
            interval: Duration::from_secs(60),
            retain: Duration::from_secs(300),
            min_revisions: 5,
        };
        let task = spawn_compactor(store.clone(), policy);
        // Ten writes a minute for ten minutes.
        for minute in 0..10 {
            for i in 0..10 {
                store.create(&format!("/k/{minute}/{i}"), Bytes::from_static(b"v")).await.unwrap();
            }
            tokio::time::sleep(Duration::from_secs(60)).await;
        }
        // The last tick saw 100 revisions; the sample from five minutes earlier is at 50.
        let compacted = store.compacted_revision().await.unwrap();
        assert!(
            (40..=60).contains(&compacted.0),
            "expected about five minutes of history kept, compacted to {compacted:?}"
        );
        task.abort();
    }

    #[test]
    fn never_compacts_into_the_min_revisions_window() {
        let policy = CompactionPolicy {
            interval: Duration::from_secs(1),
            retain: Duration::from_secs(1),
            min_revisions: 1000,
        };
        let start = Instant::now();
        let mut samples = VecDeque::from([(start, Revision(900))]);
        let now = start + Duration::from_secs(5);
        assert_eq!(
            compaction_target(&mut samples, now, Revision(1200), policy),
            Some(Revision(200))
        );
        let mut samples = VecDeque::from([(start, Revision(100))]);
        assert_eq!(compaction_target(&mut samples, now, Revision(500), policy), None);
    }
}
