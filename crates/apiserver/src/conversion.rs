//! Resources served in a form other than the one stored, as kube-apiserver serves one storage
//! under several group versions: events.k8s.io/v1 Events live in the core/v1 Event storage
//! (`events.rs`), autoscaling/v1 HorizontalPodAutoscalers in the autoscaling/v2 storage
//! (`berth_api::autoscaling`). Every place that reads, lists, watches, writes or prints
//! objects asks [`of`] whether its resource is converted, and then converts each object with
//! [`Conversion::to_served`] on the way out and [`Conversion::to_stored`] on the way in, so
//! a converted resource never serves its stored bytes as they are.

use berth_api::kinds::ResourceType;
use serde_json::Value;

/// How a served resource's objects differ from the stored form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Conversion {
    /// events.k8s.io/v1 Events, stored as core/v1 Events.
    EventsV1,
    /// autoscaling/v1 HorizontalPodAutoscalers, stored as autoscaling/v2 ones.
    AutoscalingV1,
    /// A custom resource's version other than its CRD's storage version (strategy `None`:
    /// only `apiVersion` changes), or one whose schema has defaults: apiextensions-apiserver
    /// defaults what it reads from storage, so an object stored before a default was added
    /// shows it.
    Custom {
        /// `group/version` served.
        served: &'static str,
        /// `group/version` stored.
        stored: &'static str,
        /// The resource type's key in `crds::info_at`, when its schema has defaults.
        defaults: Option<usize>,
    },
}

/// The conversion `resource`'s objects go through, if any.
pub(crate) fn of(resource: &ResourceType) -> Option<Conversion> {
    if crate::events::is_events_v1(resource) {
        Some(Conversion::EventsV1)
    } else if (resource.group, resource.version, resource.plural)
        == ("autoscaling", "v1", "horizontalpodautoscalers")
    {
        Some(Conversion::AutoscalingV1)
    } else {
        let custom = crate::crds::info(resource)?;
        let defaults = custom.schema.has_defaults().then(|| crate::crds::address(resource));
        (custom.api_version != custom.storage_api_version || defaults.is_some()).then_some(
            Conversion::Custom {
                served: custom.api_version,
                stored: custom.storage_api_version,
                defaults,
            },
        )
    }
}

/// Whether `resource` is served converted from its storage.
pub(crate) fn is_converted(resource: &ResourceType) -> bool {
    of(resource).is_some()
}

impl Conversion {
    /// A decoded stored object as the resource shows it.
    pub(crate) fn to_served(self, stored: Value) -> Value {
        match self {
            Conversion::EventsV1 => crate::events::from_core(stored),
            Conversion::AutoscalingV1 => berth_api::autoscaling::v2_to_v1(&stored),
            Conversion::Custom { served, defaults, .. } => {
                let mut object = with_api_version(stored, served);
                if let Some(custom) = defaults.and_then(crate::crds::info_at) {
                    custom.schema.default(&mut object);
                }
                object
            }
        }
    }

    /// An object of the resource in its stored form. A HorizontalPodAutoscaler gets the v2
    /// defaults its converted form needs (a behavior from the annotation is completed), as
    /// kube-apiserver's decoding of the stored version applies them.
    pub(crate) fn to_stored(self, served: Value) -> Value {
        match self {
            Conversion::EventsV1 => crate::events::to_core(served),
            Conversion::AutoscalingV1 => {
                let mut stored = berth_api::autoscaling::v1_to_v2(&served);
                berth_api::defaults::apply("autoscaling", "HorizontalPodAutoscaler", &mut stored);
                stored
            }
            Conversion::Custom { stored, .. } => with_api_version(served, stored),
        }
    }
}

/// The `None` conversion strategy of custom resources: the object as it is, but for its
/// `apiVersion`.
fn with_api_version(mut object: Value, api_version: &str) -> Value {
    if let Some(map) = object.as_object_mut() {
        map.insert("apiVersion".into(), api_version.into());
    }
    object
}

/// A stored object as `resource` shows it.
pub(crate) fn shown_as(resource: &ResourceType, stored: Value) -> Value {
    match of(resource) {
        Some(conversion) => conversion.to_served(stored),
        None => stored,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn autoscaling_v1_round_trips_through_storage() {
        let v1 = berth_api::kinds::find("autoscaling", "v1", "horizontalpodautoscalers").unwrap();
        let v2 = berth_api::kinds::find("autoscaling", "v2", "horizontalpodautoscalers").unwrap();
        assert_eq!(of(v2), None);
        let conversion = of(v1).unwrap();
        let served = json!({
            "kind": "HorizontalPodAutoscaler", "apiVersion": "autoscaling/v1",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"scaleTargetRef": {"kind": "StatefulSet", "name": "web", "apiVersion": "apps/v1"},
                "minReplicas": 2, "maxReplicas": 5, "targetCPUUtilizationPercentage": 80},
            "status": {"currentReplicas": 0, "desiredReplicas": 0},
        });
        let stored = conversion.to_stored(served.clone());
        assert_eq!(stored["apiVersion"], "autoscaling/v2");
        assert_eq!(stored["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"], 80);
        assert_eq!(conversion.to_served(stored), served);
    }
}
