//! What all reconciles share: the client, the configuration, the run queue, metrics, the memory
//! of this process's own writes and the cache of runner Pods.

use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use k8s_openapi::api::core::v1::Pod;
use kube::{
    Client,
    runtime::{
        events::Reporter,
        reflector::{ObjectRef, Store},
    },
};
use tokio::sync::watch;

use crate::{
    config::Config, crd::TestJob, health::Health, job_cache::JobCache, metrics::Metrics,
    notify::Notifier, own_writes::OwnWrites, pod::MANAGER, queue::Queue,
};

/// How long a read of the Pod cache waits for the cache's first list.
const POD_CACHE_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// State shared by all reconciles.
pub struct Context {
    /// Kubernetes client.
    pub client: Client,
    /// Who publishes the events on TestJobs.
    pub reporter: Reporter,
    /// Operator configuration.
    pub config: Config,
    /// The run queue (`--max-running`).
    pub queue: Arc<Queue>,
    /// What this process remembers of its own writes.
    pub writes: Arc<OwnWrites>,
    /// The metrics served on `/metrics`.
    pub metrics: Arc<Metrics>,
    /// What `/readyz` reports.
    pub health: Arc<Health>,
    /// Sends the notifications (`--notify-url`), once this process leads.
    pub notifier: OnceLock<Arc<Notifier>>,
    /// The controller's TestJob cache, once the controller is built.
    jobs: Mutex<Option<Arc<JobCache>>>,
    /// The controller's cache of runner Pods, once the controller is built.
    pods: Mutex<Option<Store<Pod>>>,
    /// Turns true once the Pod cache holds a complete list. (kube-runtime's
    /// `Store::wait_until_ready` wakes only its last waiter, and reconciles wait concurrently.)
    pods_listed: watch::Sender<bool>,
}

impl Context {
    /// A context whose events are reported as coming from `testjob-operator` on this host.
    pub fn new(client: Client, config: Config) -> Self {
        let reporter = Reporter {
            controller: MANAGER.into(),
            instance: std::env::var("POD_NAME").ok(),
        };
        let writes = Arc::new(OwnWrites::default());
        Context {
            reporter,
            client,
            queue: Arc::new(Queue::new(config.queue.clone(), writes.clone())),
            writes,
            metrics: Arc::new(Metrics::new()),
            health: Arc::new(Health::new(config.leader_election.is_some())),
            config,
            notifier: OnceLock::new(),
            jobs: Mutex::new(None),
            pods: Mutex::new(None),
            pods_listed: watch::Sender::new(false),
        }
    }

    /// The TestJob cache of the controller built last (for the metrics and for retiring jobs).
    pub(super) fn set_job_cache(&self, cache: Arc<JobCache>) {
        *self.jobs.lock().unwrap_or_else(PoisonError::into_inner) = Some(cache);
    }

    /// The controller's TestJob cache, once the controller is built.
    pub fn job_cache(&self) -> Option<Arc<JobCache>> {
        self.jobs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Lets the cache go of `job`, a reconcile of which decided nothing is left to do (see
    /// `crate::job_cache`); this process's memory of its writes to it goes too.
    pub(super) fn retire(&self, job: &TestJob) {
        if self.job_cache().is_some_and(|cache| cache.retire(job)) {
            self.writes.forget(job);
        }
    }

    /// Serves Pod reads from `cache` from now on; `listed` turns true with its first full list.
    pub(super) fn set_pod_cache(&self, cache: Store<Pod>) -> watch::Sender<bool> {
        *self.pods.lock().unwrap_or_else(PoisonError::into_inner) = Some(cache);
        self.pods_listed.send_replace(false);
        self.pods_listed.clone()
    }

    fn pod_cache(&self) -> Option<Store<Pod>> {
        self.pods
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The runner Pod `name` as the controller's cache holds it now.
    pub(super) fn cached_pod_now(&self, namespace: &str, name: &str) -> Option<Pod> {
        self.pod_cache()?
            .get(&ObjectRef::new(name).within(namespace))
            .map(|pod| pod.as_ref().clone())
    }

    /// The runner Pod `name` in the controller's cache, once the cache has been listed.
    pub(super) async fn cached_pod(&self, namespace: &str, name: &str) -> Option<Pod> {
        // Without a cache there is no list to wait for.
        self.pod_cache()?;
        // A timeout leaves the answer to the cache as it is: at worst a leftover Pod is kept.
        let mut listed = self.pods_listed.subscribe();
        let _ = tokio::time::timeout(POD_CACHE_WAIT, listed.wait_for(|done| *done)).await;
        self.cached_pod_now(namespace, name)
    }
}
