//! The control loops: each one an API client that observes, plans purely and applies its plan
//! through the API — never the store.
//!
//! Every controller is a module with a `run(Context)` future that never returns (it retries
//! with backoff on errors) and is level-triggered: it reconciles from what it observes now, not
//! from the event that woke it, so a missed event or a restart costs nothing but a resync.
//! [`spawn`] starts the ones a [`Config`] names, each in its own task.

mod cache;
mod cached_pod;
mod clusterrole_aggregation;
mod cronjob;
mod daemonset;
mod deployment;
mod disruption;
mod endpoints;
mod endpointslice;
mod events;
mod gc;
mod hpa;
mod informer;
mod job;
mod meta;
mod namespace;
mod node_lifecycle;
mod replicaset;
mod resourcequota;
mod scheduler;
mod serviceaccount;
mod servicecidrs;
mod statefulset;
mod ttl_after_finished;
mod volume;

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

pub use events::{EventType, Recorder};

/// One control loop berth can run. The names are kube-controller-manager's where there is one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Controller {
    /// StatefulSets: ordered pods with stable identities and claims, rolling updates.
    StatefulSet,
    /// The default StorageClass, the local-path provisioner, the PV binder (phases, reclaim)
    /// and the pvc-/pv-protection finalizers.
    Volume,
    /// Endpoints for Services with a selector.
    Endpoints,
    /// EndpointSlices for Services with a selector.
    EndpointSlice,
    /// Deletes objects whose owners are gone and carries out orphan and foreground deletion
    /// (`garbage-collector-controller`).
    GarbageCollector,
    /// Empties a namespace being deleted, then finalizes it (`namespace-controller`).
    Namespace,
    /// Gives every active namespace its `default` ServiceAccount and `kube-root-ca.crt`
    /// ConfigMap (`serviceaccount-controller` and `root-ca-cert-publisher`).
    ServiceAccount,
    /// Binds pending pods to nodes (kube-scheduler's default profile).
    Scheduler,
    /// Marks nodes whose kubelet went silent, keeps the condition taints, evicts by taint.
    NodeLifecycle,
    /// Gives every ClusterRole with an `aggregationRule` the rules of the ClusterRoles its
    /// selectors match (`clusterrole-aggregation-controller`).
    ClusterRoleAggregation,
    /// Keeps every PodDisruptionBudget's status (healthy and expected pods, disruptions
    /// allowed, the `DisruptionAllowed` condition) that evictions check
    /// (`disruption-controller`).
    Disruption,
    /// Keeps `spec.replicas` pods of every ReplicaSet: adopts and releases by its selector,
    /// creates from its template, deletes the surplus, writes its status
    /// (`replicaset-controller`).
    ReplicaSet,
    /// Rolls Deployments out through ReplicaSets: creates the set of the current template,
    /// scales it up and the old ones down by the strategy, keeps `revisionHistoryLimit` old
    /// sets, writes the status and its conditions (`deployment-controller`).
    Deployment,
    /// Runs one pod of every DaemonSet on each node that should run it, rolls them to new
    /// templates, keeps the set's ControllerRevisions and status (`daemonset-controller`).
    DaemonSet,
    /// Runs every Job's pods to completion: creates them from its template (Indexed or not),
    /// replaces failures after a backoff, applies its backoff limits, deadline, pod failure
    /// and success policies, suspends and resumes it, counts finished pods through the
    /// tracking finalizer and writes its status and conditions (`job-controller`).
    Job,
    /// Starts a Job from every CronJob's template at each time of its schedule (in its time
    /// zone, within its starting deadline), applies its concurrency policy, keeps its active
    /// list, last schedule and success times, and its history limits (`cronjob-controller`).
    CronJob,
    /// Deletes a finished Job (in the foreground, with its pods) `ttlSecondsAfterFinished`
    /// seconds after it finished (`ttl-after-finished-controller`).
    TtlAfterFinished,
    /// Keeps every HorizontalPodAutoscaler's target within its replica bounds through its
    /// `/scale` subresource and reports its metrics, unavailable without a metrics API
    /// (`horizontal-pod-autoscaler`).
    HorizontalPodAutoscaler,
    /// Keeps every ResourceQuota's `status.hard` and `status.used` current from the objects of
    /// its namespace (`resourcequota-controller`).
    ResourceQuota,
    /// Gives every ServiceCIDR its protection finalizer and Ready condition, and lets one being
    /// deleted go once no Service IP would be orphaned (`service-cidr-controller`).
    ServiceCidrs,
}

impl Controller {
    /// Every controller, in the order [`spawn`] starts them.
    pub const ALL: &'static [Controller] = &[
        Controller::ServiceAccount,
        Controller::Namespace,
        Controller::GarbageCollector,
        Controller::Volume,
        Controller::Endpoints,
        Controller::EndpointSlice,
        Controller::Scheduler,
        Controller::StatefulSet,
        Controller::ReplicaSet,
        Controller::Deployment,
        Controller::DaemonSet,
        Controller::Job,
        Controller::CronJob,
        Controller::TtlAfterFinished,
        Controller::HorizontalPodAutoscaler,
        Controller::ResourceQuota,
        Controller::Disruption,
        Controller::NodeLifecycle,
        Controller::ClusterRoleAggregation,
        Controller::ServiceCidrs,
    ];

    /// The name used in logs and as the events' `source.component`.
    pub fn name(self) -> &'static str {
        match self {
            Controller::StatefulSet => "statefulset-controller",
            Controller::Volume => "persistentvolume-controller",
            Controller::Endpoints => "endpoint-controller",
            Controller::EndpointSlice => "endpointslice-controller",
            Controller::GarbageCollector => "garbage-collector-controller",
            Controller::Namespace => "namespace-controller",
            Controller::ServiceAccount => "serviceaccount-controller",
            Controller::Scheduler => "default-scheduler",
            Controller::NodeLifecycle => "node-lifecycle-controller",
            Controller::ClusterRoleAggregation => "clusterrole-aggregation-controller",
            Controller::Disruption => "disruption-controller",
            Controller::ReplicaSet => "replicaset-controller",
            Controller::Deployment => "deployment-controller",
            Controller::DaemonSet => "daemonset-controller",
            Controller::Job => "job-controller",
            Controller::CronJob => "cronjob-controller",
            Controller::TtlAfterFinished => "ttl-after-finished-controller",
            Controller::HorizontalPodAutoscaler => "horizontal-pod-autoscaler",
            Controller::ResourceQuota => "resourcequota-controller",
            Controller::ServiceCidrs => "service-cidr-controller",
        }
    }

    /// Who this loop is in the API: the identity Kubernetes gives the same loop, so that its
    /// role in the bootstrap policy decides what it may do, as in a cluster.
    pub fn identity(self) -> Identity {
        match self {
            Controller::StatefulSet => Identity::ServiceAccount("statefulset-controller"),
            Controller::Endpoints => Identity::ServiceAccount("endpoint-controller"),
            Controller::EndpointSlice => Identity::ServiceAccount("endpointslice-controller"),
            Controller::GarbageCollector => Identity::ServiceAccount("generic-garbage-collector"),
            Controller::Namespace => Identity::ServiceAccount("namespace-controller"),
            Controller::Scheduler => Identity::User("system:kube-scheduler"),
            Controller::NodeLifecycle => Identity::ServiceAccount("node-controller"),
            Controller::ClusterRoleAggregation => {
                Identity::ServiceAccount("clusterrole-aggregation-controller")
            }
            Controller::Disruption => Identity::ServiceAccount("disruption-controller"),
            Controller::ReplicaSet => Identity::ServiceAccount("replicaset-controller"),
            Controller::Deployment => Identity::ServiceAccount("deployment-controller"),
            Controller::DaemonSet => Identity::ServiceAccount("daemon-set-controller"),
            Controller::Job => Identity::ServiceAccount("job-controller"),
            Controller::CronJob => Identity::ServiceAccount("cronjob-controller"),
            Controller::TtlAfterFinished => {
                Identity::ServiceAccount("ttl-after-finished-controller")
            }
            Controller::HorizontalPodAutoscaler => {
                Identity::ServiceAccount("horizontal-pod-autoscaler")
            }
            Controller::ResourceQuota => Identity::ServiceAccount("resourcequota-controller"),
            Controller::ServiceCidrs => Identity::ServiceAccount("service-cidrs-controller"),
            // Its role also covers the updates of pvc- and pv-protection; the default
            // StorageClass is created as an addon manager would, with the loopback identity.
            Controller::Volume => Identity::ServiceAccount("persistent-volume-binder"),
            // The `kube-root-ca.crt` ConfigMaps are published as `root-ca-cert-publisher`.
            Controller::ServiceAccount => Identity::ServiceAccount("service-account-controller"),
        }
    }

    /// The name `--controllers` knows it by: kube-controller-manager's flag name where there
    /// is one (`volume` covers its `persistentvolume-binder`, `pvc-protection` and
    /// `pv-protection`; `scheduler` is kube-scheduler).
    pub fn flag_name(self) -> &'static str {
        match self {
            Controller::StatefulSet => "statefulset",
            Controller::Volume => "volume",
            Controller::Endpoints => "endpoint",
            Controller::EndpointSlice => "endpointslice",
            Controller::GarbageCollector => "garbagecollector",
            Controller::Namespace => "namespace",
            Controller::ServiceAccount => "serviceaccount",
            Controller::Scheduler => "scheduler",
            Controller::NodeLifecycle => "nodelifecycle",
            Controller::ClusterRoleAggregation => "clusterrole-aggregation",
            Controller::Disruption => "disruption",
            Controller::ReplicaSet => "replicaset",
            Controller::Deployment => "deployment",
            Controller::DaemonSet => "daemonset",
            Controller::Job => "job",
            Controller::CronJob => "cronjob",
            Controller::TtlAfterFinished => "ttl-after-finished",
            Controller::HorizontalPodAutoscaler => "horizontalpodautoscaling",
            Controller::ResourceQuota => "resourcequota",
            Controller::ServiceCidrs => "service-cidr-controller",
        }
    }

    /// The controllers a `--controllers` list selects, as kube-controller-manager reads it:
    /// comma-separated; `*` is every controller, `foo` enables foo, `-foo` disables it (and
    /// wins); an empty list runs none.
    pub fn select(list: &str) -> Result<Vec<Controller>, UnknownController> {
        let items: Vec<&str> = list.split(',').map(str::trim).filter(|i| !i.is_empty()).collect();
        for item in &items {
            let name = item.strip_prefix('-').unwrap_or(item);
            if name != "*" && !Controller::ALL.iter().any(|c| c.flag_name() == name) {
                return Err(UnknownController(name.to_owned()));
            }
        }
        let listed = |name: &str| items.contains(&name);
        Ok(Controller::ALL
            .iter()
            .copied()
            .filter(|c| {
                let name = c.flag_name();
                !listed(&format!("-{name}")) && (listed(name) || listed("*"))
            })
            .collect())
    }
}

/// Who a control loop acts as in the API ([`Controller::identity`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Identity {
    /// A ServiceAccount in `kube-system`, bound to `system:controller:<name>`: what
    /// kube-controller-manager's loops are with `--use-service-account-credentials` (kubeadm's
    /// default).
    ServiceAccount(&'static str),
    /// A user bound by the bootstrap policy: `system:kube-scheduler`, and
    /// `system:kube-controller-manager` for the shared informers.
    User(&'static str),
    /// The API server's own loopback identity (`system:masters`).
    Loopback,
}

impl Identity {
    /// The shared informers' identity: kube-controller-manager's own, which may list and
    /// watch everything, as its shared informer factory does.
    pub const INFORMERS: Identity = Identity::User("system:kube-controller-manager");

    /// The `User-Agent` the component acting as this identity sends, as client-go builds it
    /// (`DefaultKubernetesUserAgent()` and the client's name): its first segment is the field
    /// manager of the component's updates (`kube-controller-manager`, `kube-scheduler`).
    pub fn user_agent(self) -> String {
        let (binary, client) = match self {
            // `--use-service-account-credentials`: the client is named after the account.
            Identity::ServiceAccount(name) => ("kube-controller-manager", name),
            Identity::User("system:kube-scheduler") => ("kube-scheduler", "scheduler"),
            Identity::User("system:kube-controller-manager") => {
                ("kube-controller-manager", "shared-informers")
            }
            Identity::User(name) => (name, ""),
            Identity::Loopback => ("berth", ""),
        };
        let agent = component_user_agent(binary);
        if client.is_empty() { agent } else { format!("{agent}/{client}") }
    }
}

/// client-go's `DefaultKubernetesUserAgent()` for `binary`:
/// `kubelet/v1.33.0+berth.0.1.0 (linux/amd64) kubernetes/berth`.
pub fn component_user_agent(binary: &str) -> String {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    let version = concat!("v1.33.0+berth.", env!("CARGO_PKG_VERSION"));
    format!("{binary}/{version} ({}/{arch}) kubernetes/berth", std::env::consts::OS)
}

/// A `--controllers` entry that names no controller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown controller {0:?} (known: *, {known})", known = Controller::ALL.iter().map(|c| c.flag_name()).collect::<Vec<_>>().join(", "))]
pub struct UnknownController(pub String);

/// What the controllers need to know about the cluster they run in.
#[derive(Debug, Clone)]
pub struct Config {
    /// The controllers to run.
    pub controllers: Vec<Controller>,
    /// The cluster CA certificate (PEM) published in every namespace as the `ca.crt` key of
    /// the `kube-root-ca.crt` ConfigMap.
    pub root_ca_pem: String,
    /// How long a node's kubelet may go without renewing its Lease before the node is
    /// marked Unknown (`--node-monitor-grace-period`, 50 s).
    pub node_monitor_grace_period: Duration,
    /// How often the node lifecycle controller checks the nodes (`--node-monitor-period`, 5 s).
    pub node_monitor_period: Duration,
    /// The `MaxUnavailableStatefulSet` feature gate (alpha in v1.33, off by default): a
    /// RollingUpdate replaces up to `maxUnavailable` pods at once instead of one.
    pub max_unavailable_statefulset: bool,
    /// How often every HorizontalPodAutoscaler is synced
    /// (`--horizontal-pod-autoscaler-sync-period`, 15 s).
    pub horizontal_pod_autoscaler_sync_period: Duration,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            controllers: Controller::ALL.to_vec(),
            root_ca_pem: String::new(),
            node_monitor_grace_period: node_lifecycle::DEFAULT_GRACE_PERIOD,
            node_monitor_period: node_lifecycle::DEFAULT_MONITOR_PERIOD,
            max_unavailable_statefulset: false,
            horizontal_pod_autoscaler_sync_period: hpa::DEFAULT_SYNC_PERIOD,
        }
    }
}

/// What every controller gets: the API client of its identity, the configuration and the
/// shared caches.
#[derive(Clone)]
pub(crate) struct Context {
    pub(crate) client: kube::Client,
    pub(crate) config: Arc<Config>,
    pub(crate) informers: Arc<informer::Informers>,
    clients: Arc<dyn Fn(Identity) -> kube::Client + Send + Sync>,
}

impl Context {
    /// A client acting as `identity`, for the part of a loop that is another Kubernetes
    /// controller's (or an addon manager's) work.
    pub(crate) fn client_as(&self, identity: Identity) -> kube::Client {
        (self.clients)(identity)
    }
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context").field("config", &self.config).finish_non_exhaustive()
    }
}

/// The running controllers. Dropping this does not stop them; [`Controllers::shutdown`] does.
#[derive(Debug)]
pub struct Controllers {
    tasks: Vec<(Controller, JoinHandle<()>)>,
    informers: Arc<informer::Informers>,
}

impl Controllers {
    /// Stops every controller and waits until their tasks are gone.
    pub async fn shutdown(self) {
        for (_, task) in &self.tasks {
            task.abort();
        }
        self.informers.shutdown();
        for (controller, task) in self.tasks {
            if let Err(error) = task.await
                && error.is_panic()
            {
                tracing::error!(controller = controller.name(), "controller panicked");
            }
        }
    }
}

/// Starts the controllers `config` names, each in its own task on the current runtime, each
/// with the client `clients` gives for its [`Controller::identity`], and the shared informers
/// with the one for [`Identity::INFORMERS`].
pub fn spawn(
    clients: impl Fn(Identity) -> kube::Client + Send + Sync + 'static,
    config: Config,
) -> Controllers {
    let clients: Arc<dyn Fn(Identity) -> kube::Client + Send + Sync> = Arc::new(clients);
    let informers = Arc::new(informer::Informers::new(clients(Identity::INFORMERS)));
    let config = Arc::new(config);
    let tasks = config
        .controllers
        .iter()
        .map(|&controller| {
            let context = Context {
                client: clients(controller.identity()),
                config: config.clone(),
                informers: informers.clone(),
                clients: clients.clone(),
            };
            let task = match controller {
                Controller::StatefulSet => tokio::spawn(statefulset::run(context)),
                Controller::Volume => tokio::spawn(volume::run(context)),
                Controller::Endpoints => tokio::spawn(endpoints::run(context)),
                Controller::EndpointSlice => tokio::spawn(endpointslice::run(context)),
                Controller::GarbageCollector => tokio::spawn(gc::run(context)),
                Controller::Namespace => tokio::spawn(namespace::run(context)),
                Controller::ServiceAccount => tokio::spawn(serviceaccount::run(context)),
                Controller::Scheduler => tokio::spawn(scheduler::run(context)),
                Controller::NodeLifecycle => tokio::spawn(node_lifecycle::run(context)),
                Controller::ClusterRoleAggregation => {
                    tokio::spawn(clusterrole_aggregation::run(context))
                }
                Controller::Disruption => tokio::spawn(disruption::run(context)),
                Controller::ReplicaSet => tokio::spawn(replicaset::run(context)),
                Controller::Deployment => tokio::spawn(deployment::run(context)),
                Controller::DaemonSet => tokio::spawn(daemonset::run(context)),
                Controller::Job => tokio::spawn(job::run(context)),
                Controller::CronJob => tokio::spawn(cronjob::run(context)),
                Controller::TtlAfterFinished => tokio::spawn(ttl_after_finished::run(context)),
                Controller::HorizontalPodAutoscaler => tokio::spawn(hpa::run(context)),
                Controller::ResourceQuota => tokio::spawn(resourcequota::run(context)),
                Controller::ServiceCidrs => tokio::spawn(servicecidrs::run(context)),
            };
            (controller, task)
        })
        .collect();
    Controllers { tasks, informers }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_agents_name_the_component_first_as_client_go_does() {
        let agent = Controller::StatefulSet.identity().user_agent();
        let (component, rest) = agent.split_once('/').unwrap();
        assert_eq!(component, "kube-controller-manager");
        assert!(rest.starts_with("v1.33.0+berth."), "{agent}");
        assert!(agent.ends_with(" kubernetes/berth/statefulset-controller"), "{agent}");
        let scheduler = Controller::Scheduler.identity().user_agent();
        assert!(scheduler.starts_with("kube-scheduler/") && scheduler.ends_with("/scheduler"));
        assert!(Identity::INFORMERS.user_agent().ends_with("/shared-informers"));
        assert!(component_user_agent("kubelet").ends_with(" kubernetes/berth"));
    }

    #[test]
    fn controllers_flag_reads_like_kube_controller_manager() {
        assert_eq!(Controller::select("*").unwrap(), Controller::ALL);
        assert_eq!(Controller::select("").unwrap(), Vec::new());
        assert_eq!(
            Controller::select("statefulset, scheduler").unwrap(),
            vec![Controller::Scheduler, Controller::StatefulSet]
        );
        let without = Controller::select("*,-scheduler").unwrap();
        assert_eq!(without.len(), Controller::ALL.len() - 1);
        assert!(!without.contains(&Controller::Scheduler));
        assert_eq!(Controller::select("-scheduler,scheduler").unwrap(), Vec::new());
        let error = Controller::select("*,-schedular").unwrap_err();
        assert_eq!(error, UnknownController("schedular".to_owned()));
        assert!(error.to_string().contains("known: *, serviceaccount, namespace"), "{error}");
    }
}
