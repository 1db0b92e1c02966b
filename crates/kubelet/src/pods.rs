//! The pod source: one watch on the pods bound to this node (`spec.nodeName=<node>`) feeding one
//! worker per pod uid. It only routes: each worker gets the latest version of its pod (or
//! `None` once the pod is gone) and owns everything else. After the first full list it also
//! removes sandboxes the runtime runs for pods that no longer exist.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use kube::runtime::{WatchStreamExt, watcher};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::Context;
use crate::worker::{KeptPod, Worker};

/// Routes the pods of this node to their workers. Never returns; aborting it aborts the workers
/// (their pods keep running in the runtime).
pub(crate) async fn run(context: Arc<Context>) {
    let api: Api<Pod> = Api::all(context.client.clone());
    let selector = format!("spec.nodeName={}", context.config.node_name);
    let stream = watcher(api, watcher::Config::default().fields(&selector)).default_backoff();
    let mut stream = std::pin::pin!(stream);
    let mut workers: HashMap<String, watch::Sender<Option<KeptPod>>> = HashMap::new();
    let mut tasks = JoinSet::new();
    // Which pod each worker task serves, so a worker that panicked is forgotten too (its
    // pod then gets a new worker on its next event) rather than left with a dead sender.
    let mut served: HashMap<tokio::task::Id, String> = HashMap::new();
    let mut listing: Option<HashSet<String>> = None;
    let mut first_list = true;
    loop {
        tokio::select! {
            event = stream.next() => {
                let Some(event) = event else { return };
                match event {
                    Ok(watcher::Event::Init) => listing = Some(HashSet::new()),
                    Ok(watcher::Event::InitApply(pod)) => {
                        if let (Some(listing), Some(uid)) = (&mut listing, &pod.metadata.uid) {
                            listing.insert(uid.clone());
                        }
                        deliver(&context, &mut workers, &mut tasks, &mut served, pod);
                    }
                    Ok(watcher::Event::InitDone) => {
                        let listed = listing.take().unwrap_or_default();
                        for (uid, sender) in &workers {
                            if !listed.contains(uid) {
                                sender.send_replace(None);
                            }
                        }
                        if first_list {
                            first_list = false;
                            remove_orphans(&context, &listed).await;
                        }
                    }
                    Ok(watcher::Event::Apply(pod)) => deliver(&context, &mut workers, &mut tasks, &mut served, pod),
                    Ok(watcher::Event::Delete(pod)) => {
                        if let Some(sender) = pod.metadata.uid.as_ref().and_then(|uid| workers.get(uid)) {
                            sender.send_replace(None);
                        }
                    }
                    Err(error) => tracing::debug!(error = %error, "pod watch"),
                }
            }
            Some(done) = tasks.join_next_with_id() => {
                let id = match &done {
                    Ok((id, _)) => *id,
                    Err(error) => error.id(),
                };
                if let Some(uid) = served.remove(&id) {
                    workers.remove(&uid);
                }
                if let Err(error) = done
                    && error.is_panic()
                {
                    tracing::error!("pod worker panicked");
                }
            }
        }
    }
}

/// Hands `pod` to its worker, starting one for a new uid.
fn deliver(
    context: &Arc<Context>,
    workers: &mut HashMap<String, watch::Sender<Option<KeptPod>>>,
    tasks: &mut JoinSet<String>,
    served: &mut HashMap<tokio::task::Id, String>,
    pod: Pod,
) {
    let Some(uid) = pod.metadata.uid.clone() else { return };
    let pod = match KeptPod::new(pod) {
        Ok(pod) => pod,
        Err(error) => {
            tracing::error!(pod.uid = %uid, %error, "cannot encode a pod");
            return;
        }
    };
    if let Some(sender) = workers.get(&uid) {
        sender.send_replace(Some(pod));
        return;
    }
    let (sender, receiver) = watch::channel(Some(pod));
    workers.insert(uid.clone(), sender);
    let task = tasks.spawn(Worker::new(context.clone(), uid.clone(), receiver).run());
    served.insert(task.id(), uid);
}

/// Stops and removes the sandboxes of pods that are not bound to this node any more.
async fn remove_orphans(context: &Context, listed: &HashSet<String>) {
    let runtime = &context.runtime;
    let sandboxes = match runtime.list_pod_sandboxes().await {
        Ok(sandboxes) => sandboxes,
        Err(error) => {
            tracing::warn!(error = %error, "listing sandboxes");
            return;
        }
    };
    for sandbox in sandboxes.into_iter().filter(|s| !listed.contains(&s.pod_uid)) {
        tracing::info!(pod = %format!("{}/{}", sandbox.namespace, sandbox.name), sandbox = %sandbox.id, "removing the sandbox of a pod that is gone");
        if let Err(error) = runtime.stop_pod_sandbox(&sandbox.id).await {
            tracing::warn!(sandbox = %sandbox.id, error = %error, "stopping an orphaned sandbox");
        }
        if let Err(error) = runtime.remove_pod_sandbox(&sandbox.id).await {
            tracing::warn!(sandbox = %sandbox.id, error = %error, "removing an orphaned sandbox");
        }
    }
}
