//! Notifications: a signed CloudEvent to each receiver the cluster admin configured when a
//! TestJob reaches a final phase, and when an attempt fails and another follows.
//!
//! At least once, across restarts, without announcing old jobs again:
//! - the status write that makes the transition also adds it to `status.pendingNotifications`
//!   (no extra write), but only while notifications are configured — so jobs that finished
//!   before, or while they were off, are never announced;
//! - the leader's [`Notifier`] follows the TestJob watch: every pending entry it sees is queued
//!   once (in memory, bounded: a full queue drops the delivery, counted and logged; the entry
//!   stays pending and is queued again at the next relist or restart);
//! - a delivery goes to every receiver, retried with exponential backoff while one is
//!   unreachable or answers 429 or 5xx; then the entry is removed from the job's status (one
//!   write, resourceVersion-checked, retried on conflict). A job that finished while the operator
//!   was down is announced by the next leader, which finds the entry in its first list.
//!
//! So a delivery whose removal did not happen before a crash is sent again, with the same `id`
//! (see [`event`]): receivers dedupe on it.

pub mod config;
pub mod event;
pub mod sign;

use std::{
    collections::HashSet,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use futures::StreamExt;
use kube::{Api, Client, ResourceExt, api::PostParams};
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use crate::{crd::TestJob, metrics::Metrics, pod::MANAGER};
pub use config::{NotifyArgs, NotifyConfig};
use event::{CloudEvent, Pending};

/// Deliveries in flight at once.
const CONCURRENCY: usize = 8;
/// First pause before a delivery is tried again; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
/// Longest pause between two tries.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How long one request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Attempts at removing a delivered entry when the job keeps changing under us.
const ACK_TRIES: usize = 5;

/// One queued delivery.
struct Delivery {
    /// The job, as of when the delivery was queued.
    job: Arc<TestJob>,
    /// The entry of `status.pendingNotifications`.
    pending: String,
    /// The event.
    event: CloudEvent,
}

/// Sends the notifications of this process's TestJobs (the leader's).
pub struct Notifier {
    config: NotifyConfig,
    client: Client,
    http: reqwest::Client,
    metrics: Arc<Metrics>,
    queue: mpsc::Sender<Delivery>,
    /// Event ids queued or being delivered, so each pending entry is queued once.
    queued: Mutex<HashSet<String>>,
}

impl Notifier {
    /// A notifier for `config` and its delivery task.
    pub fn start(
        config: NotifyConfig,
        client: Client,
        metrics: Arc<Metrics>,
    ) -> Result<(Arc<Self>, tokio::task::JoinHandle<()>), reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            // The receiver is the admin's; a redirect would send the event somewhere else.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("testjob-operator/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let (queue, receiver) = mpsc::channel(config.queue_size);
        let notifier = Arc::new(Notifier {
            config,
            client,
            http,
            metrics,
            queue,
            queued: Mutex::default(),
        });
        let worker = tokio::spawn(notifier.clone().deliver_all(receiver));
        Ok((notifier, worker))
    }

    fn queued(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.queued.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues what `job` (as the watch shows it) has pending and is not queued yet.
    pub fn observe(&self, job: &TestJob) {
        let Some(status) = job
            .status
            .as_ref()
            .filter(|s| !s.pending_notifications.is_empty())
        else {
            return;
        };
        let job = Arc::new(job.clone());
        for key in &status.pending_notifications {
            let Some(pending) = Pending::parse(key) else {
                continue;
            };
            let Some(event) = event::build(&job, pending) else {
                continue;
            };
            if !self.queued().insert(event.id.clone()) {
                continue;
            }
            let id = event.id.clone();
            let delivery = Delivery {
                job: job.clone(),
                pending: key.clone(),
                event,
            };
            match self.queue.try_send(delivery) {
                Ok(()) => self.metrics.notification_queued(),
                Err(_) => {
                    self.queued().remove(&id);
                    self.metrics.notification_dropped();
                    warn!(testjob = %job.name_any(), %id, "notification queue full: dropped; it stays pending and is retried at the next relist");
                }
            }
        }
    }

    async fn deliver_all(self: Arc<Self>, receiver: mpsc::Receiver<Delivery>) {
        tokio_stream_from(receiver)
            .for_each_concurrent(CONCURRENCY, |delivery| {
                let notifier = self.clone();
                async move { notifier.deliver(delivery).await }
            })
            .await;
    }

    /// Sends one event to every receiver, then removes its entry from the job.
    async fn deliver(&self, delivery: Delivery) {
        for sink in &self.config.sinks {
            self.send(sink, &delivery).await;
        }
        self.acknowledge(&delivery).await;
        self.queued().remove(&delivery.event.id);
        self.metrics.notification_done();
    }

    /// Posts `delivery` to `sink` until it is accepted (2xx) or refused for good (another 4xx).
    async fn send(&self, sink: &reqwest::Url, delivery: &Delivery) {
        let id = &delivery.event.id;
        let mut backoff = FIRST_BACKOFF;
        loop {
            let timestamp = now_seconds();
            let signature = self.config.key.sign(id, timestamp, &delivery.event.body);
            let result = self
                .http
                .post(sink.clone())
                .header(
                    "content-type",
                    "application/cloudevents+json; charset=utf-8",
                )
                .header("webhook-id", id)
                .header("webhook-timestamp", timestamp.to_string())
                .header("webhook-signature", signature)
                .body(delivery.event.body.clone())
                .send()
                .await;
            let retry = match result {
                Ok(response) if response.status().is_success() => {
                    self.metrics.notification_sent();
                    debug!(%id, %sink, "notification delivered");
                    return;
                }
                Ok(response)
                    if response.status().is_server_error()
                        || response.status() == reqwest::StatusCode::TOO_MANY_REQUESTS =>
                {
                    format!("answered {}", response.status())
                }
                Ok(response) => {
                    self.metrics.notification_failed();
                    warn!(%id, %sink, status = %response.status(), "notification refused by the receiver; not retried");
                    return;
                }
                Err(error) => format!("unreachable: {error}"),
            };
            self.metrics.notification_failed();
            info!(%id, %sink, "notification not delivered ({retry}); retrying in {backoff:?}");
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// Removes the delivered entry from the job's `status.pendingNotifications`.
    async fn acknowledge(&self, delivery: &Delivery) {
        let job = &delivery.job;
        let Some(namespace) = job.namespace() else {
            return;
        };
        let api: Api<TestJob> = Api::namespaced(self.client.clone(), &namespace);
        let name = job.name_any();
        for _ in 0..ACK_TRIES {
            let current = match api.get_opt(&name).await {
                Ok(Some(current)) if current.metadata.uid == job.metadata.uid => current,
                // Deleted (or replaced by another job of that name): nothing to acknowledge.
                Ok(_) => return,
                Err(error) => {
                    warn!(testjob = %name, %error, "cannot read the job to mark its notification delivered");
                    tokio::time::sleep(FIRST_BACKOFF).await;
                    continue;
                }
            };
            let mut updated = current.clone();
            let Some(status) = updated.status.as_mut() else {
                return;
            };
            let before = status.pending_notifications.len();
            status
                .pending_notifications
                .retain(|p| *p != delivery.pending);
            if status.pending_notifications.len() == before {
                return;
            }
            let params = PostParams {
                field_manager: Some(MANAGER.into()),
                ..PostParams::default()
            };
            match api.replace_status(&name, &params, &updated).await {
                Ok(_) => return,
                Err(kube::Error::Api(status)) if status.is_conflict() => continue,
                Err(kube::Error::Api(status)) if status.code == 404 => return,
                Err(error) => {
                    warn!(testjob = %name, %error, "cannot mark the notification delivered; it may be sent again");
                    return;
                }
            }
        }
    }
}

/// A stream of what `receiver` receives.
fn tokio_stream_from<T>(mut receiver: mpsc::Receiver<T>) -> impl futures::Stream<Item = T> {
    futures::stream::poll_fn(move |cx| receiver.poll_recv(cx))
}

fn now_seconds() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
