//! Volumes, the same with every runtime: a pod's hostPath volumes, and the hostPath
//! (local-path) PersistentVolumes behind its claims, are real directories created before its
//! containers start; and when a local-path PV of this node is marked for deletion, its
//! directory is removed and then its `berth.dev/local-path` finalizer. Nothing outside the
//! node's storage directory is ever deleted.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use berth_api::local_path::{PROVISIONED_BY, PROVISIONER as LOCAL_PATH};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{
    HostPathVolumeSource, PersistentVolume, PersistentVolumeClaim, Pod,
};
use kube::api::{Api, PostParams};
use kube::runtime::{WatchStreamExt, reflector, watcher};

use crate::Context;

/// Why a pod's volumes are not ready.
#[derive(Debug, thiserror::Error)]
pub(crate) enum VolumeError {
    #[error("reading {what}")]
    Api {
        what: String,
        #[source]
        source: kube::Error,
    },
    #[error("persistentvolumeclaim {claim:?} not found")]
    ClaimMissing { claim: String },
    #[error("persistentvolumeclaim {claim:?} is not bound")]
    ClaimUnbound { claim: String },
    #[error("hostPath type check failed: {path} is not a {kind}")]
    WrongType { path: PathBuf, kind: &'static str },
    #[error("creating {path}")]
    Create {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("removing {path}")]
    Remove {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("removing the {LOCAL_PATH} finalizer of persistentvolume {pv}")]
    Finalizer {
        pv: String,
        #[source]
        source: kube::Error,
    },
}

/// Makes every hostPath behind the pod's volumes exist, as its type says.
pub(crate) async fn prepare(client: &kube::Client, pod: &Pod) -> Result<(), VolumeError> {
    let namespace = pod.metadata.namespace.clone().unwrap_or_default();
    for volume in pod.spec.iter().flat_map(|s| s.volumes.iter().flatten()) {
        if let Some(host_path) = &volume.host_path {
            ensure_host_path(host_path)?;
        }
        let Some(source) = &volume.persistent_volume_claim else { continue };
        let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), &namespace);
        let claim = claims
            .get_opt(&source.claim_name)
            .await
            .map_err(|source_error| VolumeError::Api {
                what: format!("persistentvolumeclaim {namespace}/{}", source.claim_name),
                source: source_error,
            })?
            .ok_or_else(|| VolumeError::ClaimMissing { claim: source.claim_name.clone() })?;
        let Some(volume_name) = claim.spec.and_then(|s| s.volume_name).filter(|n| !n.is_empty())
        else {
            return Err(VolumeError::ClaimUnbound { claim: source.claim_name.clone() });
        };
        let volumes: Api<PersistentVolume> = Api::all(client.clone());
        let pv = volumes.get(&volume_name).await.map_err(|source| VolumeError::Api {
            what: format!("persistentvolume {volume_name}"),
            source,
        })?;
        if let Some(host_path) = pv.spec.and_then(|s| s.host_path) {
            ensure_host_path(&host_path)?;
        }
    }
    Ok(())
}

/// Checks or creates a hostPath by its type (pkg/volume/hostpath `checkType`).
fn ensure_host_path(source: &HostPathVolumeSource) -> Result<(), VolumeError> {
    let path = PathBuf::from(&source.path);
    let create = |result: std::io::Result<()>| {
        result.map_err(|e| VolumeError::Create { path: path.clone(), source: e })
    };
    match source.type_.as_deref().unwrap_or_default() {
        "DirectoryOrCreate" => create(std::fs::create_dir_all(&path)),
        "Directory" if !path.is_dir() => Err(VolumeError::WrongType { path, kind: "directory" }),
        "FileOrCreate" if !path.exists() => create(std::fs::write(&path, b"")),
        "File" if !path.is_file() => Err(VolumeError::WrongType { path, kind: "file" }),
        "Socket" | "CharDevice" | "BlockDevice" if !path.exists() => {
            Err(VolumeError::WrongType { path, kind: "device or socket" })
        }
        _ => Ok(()),
    }
}

/// Whether `path` is strictly inside `root`, with no `..` or `.` to escape it.
pub(crate) fn is_inside(root: &Path, path: &Path) -> bool {
    path.is_absolute()
        && root.is_absolute()
        && path.components().all(|c| matches!(c, Component::RootDir | Component::Normal(_)))
        && path.starts_with(root)
        && path != root
}

/// The directory of a local-path PV of this node that is marked for deletion and still holds
/// our finalizer, if `pv` is one.
pub(crate) fn cleanup_target(
    pv: &PersistentVolume,
    node: &str,
    storage_dir: &Path,
) -> Option<PathBuf> {
    let meta = &pv.metadata;
    meta.deletion_timestamp.as_ref()?;
    if meta.annotations.as_ref()?.get(PROVISIONED_BY).map(String::as_str) != Some(LOCAL_PATH) {
        return None;
    }
    if !meta.finalizers.iter().flatten().any(|f| f == LOCAL_PATH) {
        return None;
    }
    let spec = pv.spec.as_ref()?;
    let path = PathBuf::from(&spec.host_path.as_ref()?.path);
    // Another node's volume is another kubelet's to clean.
    let hostnames: Vec<&String> = spec
        .node_affinity
        .iter()
        .flat_map(|a| a.required.iter())
        .flat_map(|r| r.node_selector_terms.iter())
        .flat_map(|t| t.match_expressions.iter().flatten())
        .filter(|e| e.key == "kubernetes.io/hostname")
        .flat_map(|e| e.values.iter().flatten())
        .collect();
    if !hostnames.is_empty() && !hostnames.iter().any(|h| *h == node) {
        return None;
    }
    is_inside(storage_dir, &path).then_some(path)
}

/// Watches PersistentVolumes and cleans up the local-path ones of this node marked for
/// deletion; level-triggered (every event and every few seconds it looks at all of them).
pub(crate) async fn run_cleanup(context: Arc<Context>) {
    let api: Api<PersistentVolume> = Api::all(context.client.clone());
    let (reader, writer) = reflector::store();
    // Without managedFields: every node keeps every PV (a few KB each with them).
    let watch =
        watcher(api, watcher::Config::default()).modify(|pv| pv.metadata.managed_fields = None);
    let stream = reflector(writer, watch).default_backoff().touched_objects();
    let mut stream = std::pin::pin!(stream);
    let mut resync = tokio::time::interval(Duration::from_secs(5));
    loop {
        tokio::select! {
            event = stream.next() => match event {
                Some(Ok(_)) => {}
                Some(Err(error)) => tracing::debug!(error = %error, "persistentvolume watch"),
                None => return,
            },
            _ = resync.tick() => {}
        }
        for pv in reader.state() {
            let Some(path) =
                cleanup_target(&pv, &context.config.node_name, &context.config.storage_dir)
            else {
                continue;
            };
            let name = pv.metadata.name.clone().unwrap_or_default();
            if let Err(error) = clean_up(&context.client, &pv, &path).await {
                tracing::warn!(pv = %name, error = %error, source = ?std::error::Error::source(&error), "local-path volume cleanup");
            } else {
                tracing::info!(pv = %name, path = %path.display(), "local-path volume removed");
            }
        }
    }
}

async fn clean_up(
    client: &kube::Client,
    pv: &PersistentVolume,
    path: &Path,
) -> Result<(), VolumeError> {
    match tokio::fs::remove_dir_all(path).await {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => return Err(VolumeError::Remove { path: path.to_owned(), source }),
    }
    let name = pv.metadata.name.clone().unwrap_or_default();
    let mut updated = pv.clone();
    updated.metadata.finalizers = Some(
        pv.metadata.finalizers.iter().flatten().filter(|f| *f != LOCAL_PATH).cloned().collect(),
    );
    // The update carries the observed resourceVersion, so it is a compare-and-swap: after a
    // concurrent change it fails with a conflict and the next pass looks again.
    let api: Api<PersistentVolume> = Api::all(client.clone());
    match api.replace(&name, &PostParams::default(), &updated).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(source) => Err(VolumeError::Finalizer { pv: name, source }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pv(value: serde_json::Value) -> PersistentVolume {
        serde_json::from_value(value).unwrap()
    }

    fn local_pv(path: &str, deleting: bool, finalizers: &[&str], node: &str) -> PersistentVolume {
        let mut value = serde_json::json!({
            "metadata": {
                "name": "pvc-1",
                "annotations": {PROVISIONED_BY: LOCAL_PATH},
                "finalizers": finalizers,
            },
            "spec": {
                "hostPath": {"path": path, "type": "DirectoryOrCreate"},
                "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                    {"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}
                ]}]}},
            },
        });
        if deleting {
            value["metadata"]["deletionTimestamp"] = "2026-11-25T12:00:00Z".into();
        }
        pv(value)
    }

    #[test]
    fn only_our_marked_local_path_volumes_inside_storage_are_cleaned() {
        let storage = Path::new("/data/storage");
        let both = [LOCAL_PATH, "kubernetes.io/pv-protection"];
        let cases = [
            ("/data/storage/pvc-1", true, &both[..], "n1", Some("/data/storage/pvc-1")),
            ("/data/storage/pvc-1", false, &both[..], "n1", None),
            ("/data/storage/pvc-1", true, &both[1..], "n1", None),
            ("/data/storage/pvc-1", true, &both[..], "n2", None),
            ("/data/other/pvc-1", true, &both[..], "n1", None),
            ("/data/storage/../pvc-1", true, &both[..], "n1", None),
            ("/data/storage", true, &both[..], "n1", None),
            ("data/storage/pvc-1", true, &both[..], "n1", None),
        ];
        for (path, deleting, finalizers, node, want) in cases {
            let got = cleanup_target(&local_pv(path, deleting, finalizers, node), "n1", storage);
            assert_eq!(
                got.as_deref(),
                want.map(Path::new),
                "{path} {deleting} {finalizers:?} {node}"
            );
        }
        let mut foreign = local_pv("/data/storage/pvc-1", true, &both, "n1");
        foreign.metadata.annotations = None;
        assert_eq!(cleanup_target(&foreign, "n1", storage), None);
    }

    #[test]
    fn host_paths_are_checked_or_created_by_type() {
        let dir = tempfile::tempdir().unwrap();
        let source = |path: &Path, type_: &str| HostPathVolumeSource {
            path: path.display().to_string(),
            type_: Some(type_.to_owned()),
        };
        let nested = dir.path().join("a/b");
        ensure_host_path(&source(&nested, "DirectoryOrCreate")).unwrap();
        assert!(nested.is_dir());
        ensure_host_path(&source(&nested, "Directory")).unwrap();
        let missing = dir.path().join("missing");
        assert!(matches!(
            ensure_host_path(&source(&missing, "Directory")),
            Err(VolumeError::WrongType { kind: "directory", .. })
        ));
        ensure_host_path(&source(&missing, "")).unwrap();
        assert!(!missing.exists());
        let file = dir.path().join("f");
        ensure_host_path(&source(&file, "FileOrCreate")).unwrap();
        assert!(file.is_file());
        ensure_host_path(&source(&file, "File")).unwrap();
    }
}
