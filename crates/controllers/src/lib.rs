//! The control loops: each one an API client that observes, plans purely and applies its plan
//! through the API — never the store.
//!
//! Every controller is a module with a `run(Context)` future that never returns (it retries
//! with backoff on errors) and is level-triggered: it reconciles from what it observes now, not
//! from the event that woke it, so a missed event or a restart costs nothing but a resync.
//! [`spawn`] starts the ones a [`Config`] names, each in its own task.

mod events;
mod statefulset;

use std::sync::Arc;

use tokio::task::JoinHandle;

pub use events::{EventType, Recorder};

/// One control loop berth can run. The names are kube-controller-manager's where there is one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Controller {
    /// Never constructed yet; the controllers join as their modules land.
    #[doc(hidden)]
    Placeholder,
    /// StatefulSets: ordered pods with stable identities and claims, rolling updates.
    StatefulSet,
}

impl Controller {
    /// Every controller, in the order [`spawn`] starts them.
    pub const ALL: &'static [Controller] = &[Controller::StatefulSet];

    /// The name used in logs and as the events' `source.component`.
    pub fn name(self) -> &'static str {
        match self {
            Controller::Placeholder => "placeholder",
            Controller::StatefulSet => "statefulset-controller",
        }
    }
}

/// What the controllers need to know about the cluster they run in.
#[derive(Debug, Clone)]
pub struct Config {
    /// The controllers to run.
    pub controllers: Vec<Controller>,
}

impl Default for Config {
    fn default() -> Config {
        Config { controllers: Controller::ALL.to_vec() }
    }
}

/// What every controller gets: the API client and the configuration.
#[derive(Clone)]
pub(crate) struct Context {
    #[allow(dead_code, reason = "read by the controllers as they land")]
    pub(crate) client: kube::Client,
    #[allow(dead_code, reason = "read by the controllers as they land")]
    pub(crate) config: Arc<Config>,
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
}

impl Controllers {
    /// Stops every controller and waits until their tasks are gone.
    pub async fn shutdown(self) {
        for (_, task) in &self.tasks {
            task.abort();
        }
        for (controller, task) in self.tasks {
            if let Err(error) = task.await
                && error.is_panic()
            {
                tracing::error!(controller = controller.name(), "controller panicked");
            }
        }
    }
}

/// Starts the controllers `config` names, each in its own task on the current runtime.
pub fn spawn(client: kube::Client, config: Config) -> Controllers {
    let context = Context { client, config: Arc::new(config) };
    let tasks = context
        .config
        .controllers
        .iter()
        .map(|&controller| {
            let context = context.clone();
            let task = match controller {
                Controller::Placeholder => tokio::spawn(async {}),
                Controller::StatefulSet => tokio::spawn(statefulset::run(context)),
            };
            (controller, task)
        })
        .collect();
    Controllers { tasks }
}
