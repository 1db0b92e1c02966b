//! The default StorageClass `local-path`, created at start when missing, and the lookups the
//! binder needs on classes (which one is the default, how a class binds).

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::storage::v1::StorageClass;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, PostParams};

use super::{PROVISIONER, VolumeError};

/// The name of the class berth creates.
pub(crate) const DEFAULT_CLASS: &str = "local-path";

/// The annotation that makes a class the default (and its beta spelling, still honoured).
pub(crate) const ANN_DEFAULT_CLASS: &str = "storageclass.kubernetes.io/is-default-class";
const ANN_BETA_DEFAULT_CLASS: &str = "storageclass.beta.kubernetes.io/is-default-class";

/// The class berth ships: default, provisioned by berth's local-path provisioner, reclaim
/// Delete, bound at once.
pub(crate) fn default_class() -> StorageClass {
    StorageClass {
        metadata: ObjectMeta {
            name: Some(DEFAULT_CLASS.to_owned()),
            annotations: Some(BTreeMap::from([(ANN_DEFAULT_CLASS.to_owned(), "true".to_owned())])),
            ..ObjectMeta::default()
        },
        provisioner: PROVISIONER.to_owned(),
        reclaim_policy: Some("Delete".to_owned()),
        volume_binding_mode: Some("Immediate".to_owned()),
        ..StorageClass::default()
    }
}

/// Creates `local-path` unless a class of that name exists; a user's class is never
/// overwritten.
pub(crate) async fn ensure_default_class(client: &kube::Client) -> Result<(), VolumeError> {
    let api: Api<StorageClass> = Api::all(client.clone());
    if api
        .get_opt(DEFAULT_CLASS)
        .await
        .map_err(VolumeError::api("get storageclass local-path"))?
        .is_some()
    {
        return Ok(());
    }
    match api.create(&PostParams::default(), &default_class()).await {
        Ok(_) => {
            tracing::info!("created the default StorageClass local-path");
            Ok(())
        }
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(()),
        Err(error) => Err(VolumeError::api("create storageclass local-path")(error)),
    }
}

/// Whether a class is marked default (either annotation key, value "true").
pub(crate) fn is_default(class: &StorageClass) -> bool {
    let annotations = class.metadata.annotations.as_ref();
    [ANN_DEFAULT_CLASS, ANN_BETA_DEFAULT_CLASS]
        .iter()
        .any(|key| annotations.and_then(|a| a.get(*key)).is_some_and(|v| v == "true"))
}

/// The default class: with several, the newest (then the first by name), as the
/// DefaultStorageClass admission plugin picks it.
pub(crate) fn default_of(classes: &[Arc<StorageClass>]) -> Option<&StorageClass> {
    classes.iter().map(|c| &**c).filter(|c| is_default(c)).max_by(|a, b| {
        let created = |c: &StorageClass| c.metadata.creation_timestamp.as_ref().map(|t| t.0);
        created(a).cmp(&created(b)).then_with(|| b.metadata.name.cmp(&a.metadata.name))
    })
}

/// Whether claims of this class wait for a pod to be scheduled before binding.
pub(crate) fn waits_for_first_consumer(class: &StorageClass) -> bool {
    class.volume_binding_mode.as_deref() == Some("WaitForFirstConsumer")
}
