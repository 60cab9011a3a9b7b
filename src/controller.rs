//! The controller: a kube-runtime `Controller` over TestJobs that owns their runner Pods. Each
//! reconcile runs the pipeline read → decide → apply (queue, create or stop Pods, clean up) →
//! write status, and reports the transitions it made in one place ([`transitioned`]).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use futures::{FutureExt, StreamExt, TryStreamExt};
use k8s_openapi::{api::core::v1::Pod, jiff::Timestamp};
use kube::{
    Api, Client, Resource, ResourceExt,
    api::{DeleteParams, ListParams, Patch, PatchParams, PostParams, Preconditions},
    runtime::{
        Controller, WatchStreamExt,
        controller::{self, Action},
        events::{Event, EventType, Recorder, Reporter},
        reflector::{self, ObjectRef, Store},
        watcher,
    },
};
use tokio::{sync::watch, task::JoinHandle};
use tracing::{debug, error, info, warn};

use crate::{
    Error, Result,
    config::Config,
    crd::{Phase, TestJob, TestJobStatus},
    decide::{Decision, Outcome, STOP_DEADLINE_SECONDS, decide, reason},
    http::{self, Health},
    leader::{self, Elector, LeaseSettings},
    metrics::Metrics,
    pod::{MANAGED_BY_LABEL, MANAGER, build_runner_pod, is_owned_by, pod_name},
    queue::{Admission, Queue},
    status::{finished_status, is_queued, queued_status, retry_status, running_status},
};

/// How soon to look again after losing an optimistic-concurrency race.
const CONFLICT_REQUEUE: Duration = Duration::from_secs(1);
/// How soon to retry after an error.
const ERROR_REQUEUE: Duration = Duration::from_secs(5);
/// How long a cleanup check waits for the Pod cache's first list.
const POD_CACHE_WAIT: Duration = Duration::from_secs(30);
/// How soon to look again at a job whose cached copy predates our own status write, should the
/// watch event of that write not arrive (it normally comes within milliseconds).
const STALE_REQUEUE: Duration = Duration::from_secs(5);

/// State shared by all reconciles.
pub struct Context {
    /// Kubernetes client.
    pub client: Client,
    /// Who publishes the events on TestJobs (see [`publish`]).
    pub reporter: Reporter,
    /// Operator configuration.
    pub config: Config,
    /// The run queue (`--max-running`) and this process's bookkeeping of jobs.
    pub queue: Arc<Queue>,
    /// The metrics served on `/metrics`.
    pub metrics: Arc<Metrics>,
    /// What `/readyz` reports.
    pub health: Arc<Health>,
    /// The controller's cache of runner Pods, once [`controller`] built it.
    pods: Mutex<Option<Store<Pod>>>,
    /// Turns true once the Pod cache holds a complete list. (kube-runtime's
    /// `Store::wait_until_ready` wakes only its last waiter, and reconciles wait concurrently.)
    pods_listed: tokio::sync::watch::Sender<bool>,
    /// For each job (by UID) whose status this process wrote last, the resourceVersion the
    /// write replaced. A reconcile that finds the job at that version reads a cache that has
    /// not yet seen the write; acting on it would redo the step just taken (a Pod create that
    /// ends in AlreadyExists, a status write that ends in Conflict), so it waits for the
    /// write's watch event instead.
    superseded: Arc<Mutex<HashMap<String, String>>>,
}

impl Context {
    /// A context whose events are reported as coming from `testjob-operator` on this host.
    pub fn new(client: Client, config: Config) -> Self {
        let reporter = Reporter {
            controller: MANAGER.into(),
            instance: std::env::var("POD_NAME").ok(),
        };
        Context {
            reporter,
            client,
            queue: Arc::new(Queue::new(config.queue.clone())),
            metrics: Arc::new(Metrics::new()),
            health: Arc::new(Health::new(config.leader_election.is_some())),
            config,
            pods: Mutex::new(None),
            pods_listed: tokio::sync::watch::Sender::new(false),
            superseded: Arc::default(),
        }
    }

    /// Whether `job` is a cached copy older than this process's last status write to it.
    /// Forgets the write once a newer copy shows up.
    fn is_superseded(&self, job: &TestJob) -> bool {
        let (Some(uid), Some(version)) = (&job.metadata.uid, &job.metadata.resource_version) else {
            return false;
        };
        let mut superseded = lock(&self.superseded);
        match superseded.get(uid) {
            Some(replaced) if replaced == version => true,
            Some(_) => {
                superseded.remove(uid);
                false
            }
            None => false,
        }
    }

    /// Records that this process replaced version `job` with a status write.
    fn wrote_status(&self, job: &TestJob) {
        if let (Some(uid), Some(version)) = (&job.metadata.uid, &job.metadata.resource_version) {
            lock(&self.superseded).insert(uid.clone(), version.clone());
        }
    }

    fn pod_cache(&self) -> Option<Store<Pod>> {
        lock(&self.pods).clone()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Drops `managedFields` from cached objects: nothing here reads them, they are often the
/// largest part of an object, and a status write without them keeps the stored ones.
fn without_managed_fields<K: Resource>(object: &mut K) {
    object.meta_mut().managed_fields = None;
}

/// The kube-runtime `Controller` over `jobs` and their runner Pods in `pods`, wired to `ctx`:
/// the run queue follows the TestJob watch (slot table, deletions) and wakes queued jobs through
/// `reconcile_on`; the Pod cache serves cleanup. Call it again to start over (e.g. on a new
/// leadership term); `Controller::store` gives the TestJob cache.
pub fn controller(jobs: Api<TestJob>, pods: Api<Pod>, ctx: &Context) -> Controller<TestJob> {
    let (job_cache, job_writer) = reflector::store();
    let (pod_cache, pod_writer) = reflector::store();
    let wakeups = ctx.queue.attach(job_cache.clone());
    *lock(&ctx.pods) = Some(pod_cache);
    let queue = ctx.queue.clone();
    let health = ctx.health.clone();
    let superseded = ctx.superseded.clone();
    let job_watch = watcher(jobs, watcher::Config::default()).modify(without_managed_fields);
    let job_events = reflector::reflector(job_writer, job_watch)
        .inspect_ok(move |event| {
            queue.observe(event);
            if let watcher::Event::Delete(job) = event
                && let Some(uid) = &job.metadata.uid
            {
                lock(&superseded).remove(uid);
            }
            // The cache now holds a complete list. (Waiting on `Store::wait_until_ready` instead
            // would race the controller's own wait: that signal wakes only its last waiter.)
            if matches!(event, watcher::Event::InitDone) {
                health.set_synced(true);
            }
        })
        .applied_objects();
    let pods_listed = ctx.pods_listed.clone();
    let pod_events = reflector::reflector(
        pod_writer,
        watcher(
            pods,
            watcher::Config::default().labels(&format!("{MANAGED_BY_LABEL}={MANAGER}")),
        )
        .modify(without_managed_fields),
    )
    .inspect_ok(move |event| {
        if matches!(event, watcher::Event::InitDone) {
            pods_listed.send_replace(true);
        }
    })
    .touched_objects();
    Controller::for_stream(job_events, job_cache)
        .owns_stream(pod_events)
        .reconcile_on(wakeups)
        .with_config(controller::Config::default().concurrency(ctx.config.concurrency))
}

/// Runs the controller until SIGINT/SIGTERM: serves the HTTP endpoints, waits for leadership
/// when leader election is on, then reconciles. A signal stops the controller gracefully
/// (running reconciles finish, a second signal abandons them) and releases the Lease, so a
/// standby takes over at once. Fails early when the TestJob CRD is not installed, and with
/// [`Error::LeadershipLost`] when the Lease is lost, so that the replica never reconciles
/// without leadership.
pub async fn run(client: Client, config: Config) -> Result<()> {
    let (jobs, pods): (Api<TestJob>, Api<Pod>) = match &config.namespace {
        Some(ns) => (
            Api::namespaced(client.clone(), ns),
            Api::namespaced(client.clone(), ns),
        ),
        None => (Api::all(client.clone()), Api::all(client.clone())),
    };
    jobs.list(&ListParams::default().limit(1))
        .await
        .map_err(Error::CrdNotQueryable)?;
    let ctx = Arc::new(Context::new(client.clone(), config));
    let health = ctx.health.clone();
    let _server = AbortOnDrop(
        http::serve(ctx.config.metrics_addr, ctx.metrics.clone(), health.clone()).await?,
    );
    let signals = listen_for_signals(health.clone());

    let mut leadership = match &ctx.config.leader_election {
        None => None,
        Some(election) => {
            let settings = LeaseSettings {
                name: election.lease_name.clone(),
                namespace: leader::resolve_namespace(
                    election.lease_namespace.as_deref(),
                    std::env::var("POD_NAMESPACE").ok().as_deref(),
                    client.default_namespace(),
                ),
                identity: leader::default_identity(),
                duration_seconds: election.duration_seconds,
                grace_seconds: election.grace_seconds,
            };
            let elector = Elector::start(client, settings, health.clone());
            tokio::select! {
                leadership = elector.acquire() => Some(leadership),
                () = signaled(signals.clone(), 1) => {
                    info!("stopped while standing by");
                    return Ok(());
                }
            }
        }
    };

    info!(
        namespace = ctx.config.namespace.as_deref().unwrap_or("<all>"),
        image = %ctx.config.runner.image,
        "starting TestJob controller"
    );
    let controller = controller(jobs, pods, &ctx);
    ctx.metrics.watch_store(controller.store());
    // `graceful_shutdown_on` wants a `Sync` future, which a oneshot receiver is.
    let (graceful_tx, graceful_rx) = futures::channel::oneshot::channel::<()>();
    let _graceful = AbortOnDrop(tokio::spawn({
        let signals = signals.clone();
        async move {
            signaled(signals, 1).await;
            let _ = graceful_tx.send(());
        }
    }));
    let reconciles = controller
        .graceful_shutdown_on(graceful_rx.map(|_| ()))
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            match result {
                Ok((object, _)) => debug!(%object, "reconciled"),
                // Already logged by error_policy.
                Err(controller::Error::ReconcilerFailed(..)) => {}
                Err(error) => warn!(%error, "controller error"),
            }
        });
    let lost = async {
        match leadership.as_mut() {
            Some(leadership) => leadership.lost().await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        () = reconciles => info!("controller stopped"),
        reason = lost => {
            health.set_stopping();
            error!(%reason, "lost leadership; exiting");
            return Err(Error::LeadershipLost(reason));
        }
        () = signaled(signals, 2) => {
            // Reconciles may still be running: leave the Lease to expire rather than hand it
            // over while they write.
            warn!("forced shutdown: abandoning running reconciles");
            return Ok(());
        }
    }
    if let Some(leadership) = leadership
        && let Err(error) = leadership.release().await
    {
        warn!(%error, "could not release the Lease; a standby takes over once it expires");
    }
    Ok(())
}

/// Aborts a background task when dropped, so none outlives [`run`].
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Counts SIGINT/SIGTERM signals (the first requests a graceful shutdown, the second forces it)
/// and marks the process unready on the first.
fn listen_for_signals(health: Arc<Health>) -> watch::Receiver<u8> {
    let (tx, rx) = watch::channel(0u8);
    tokio::spawn(async move {
        for count in 1..=2u8 {
            shutdown_signal().await;
            if count == 1 {
                info!("shutdown requested: finishing running reconciles (signal again to force)");
                health.set_stopping();
            }
            tx.send_replace(count);
        }
    });
    rx
}

/// Completes once `count` signals have arrived.
async fn signaled(mut signals: watch::Receiver<u8>, count: u8) {
    if signals.wait_for(|seen| *seen >= count).await.is_err() {
        // The listener is gone (no signal handling available): never completes.
        std::future::pending::<()>().await;
    }
}

async fn shutdown_signal() {
    #[cfg(unix)]
    if let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
    {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        return;
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// Reconciles one TestJob.
pub async fn reconcile(job: Arc<TestJob>, ctx: Arc<Context>) -> Result<Action> {
    if job.meta().deletion_timestamp.is_some() {
        // Garbage collection removes the runner Pods through their owner references.
        return Ok(Action::await_change());
    }
    if ctx.is_superseded(&job) {
        return Ok(Action::requeue(STALE_REQUEUE));
    }
    let namespace = job.namespace().ok_or(Error::MissingNamespace)?;
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), &namespace);

    // Read: the runner Pod to judge. A Running attempt's Pod comes from the cache while the
    // cache shows it running (nothing to do; its changes trigger a reconcile). Anything that may
    // end the attempt is judged on a fresh read: a Pod missing from the cache may just have been
    // created, and a finished or deleting Pod's last state decides the outcome. A finished
    // job's leftover Pod comes from the cache.
    let phase = job.status.as_ref().and_then(|s| s.phase);
    let cleanup_check = phase.is_some_and(|p| {
        ctx.config.policy.pod_cleanup(&job).deletes_after(p) && !ctx.queue.is_cleaned(&job)
    });
    let current_pod = match running_pod_name(&job) {
        Some(name) => match cached_pod_now(&ctx, &namespace, &name) {
            Some(pod) if is_running(&pod) => Some(pod),
            _ => pods.get_opt(&name).await?,
        },
        None if cleanup_check => cached_pod(&ctx, &namespace, &last_pod_name(&job)).await,
        None => None,
    };

    let decision = decide(
        &job,
        current_pod.as_ref(),
        Timestamp::now(),
        &ctx.config.policy,
    );
    if cleanup_check && decision != Decision::CleanUp {
        // Nothing left over: no need to look again while this process runs.
        ctx.queue.mark_cleaned(&job);
    }
    match decision {
        Decision::Done => Ok(Action::await_change()),
        Decision::Wait { requeue_after } => Ok(Action::requeue(requeue_after)),
        Decision::Start { attempt } => start_attempt(&job, attempt, &pods, &ctx).await,
        Decision::StopPod { pod } => {
            if let Some(current) = &current_pod {
                info!(testjob = %job.name_any(), %pod, "cancel: stopping the runner Pod");
                stop_pod(&pods, current).await?;
            }
            Ok(Action::requeue(ctx.config.policy.resync))
        }
        Decision::Retry {
            failed,
            next_attempt_at,
        } => {
            retry(
                &job,
                failed,
                next_attempt_at,
                current_pod.as_ref(),
                &pods,
                &ctx,
            )
            .await
        }
        Decision::Finish(outcome) => finish(&job, outcome, current_pod.as_ref(), &pods, &ctx).await,
        Decision::CleanUp => {
            clean_up(&job, current_pod.as_ref(), &pods, &ctx).await?;
            Ok(Action::requeue(Duration::ZERO))
        }
        Decision::Expire => expire(&job, &ctx).await,
    }
}

/// Logs the error and retries soon.
pub fn error_policy(job: Arc<TestJob>, error: &Error, ctx: Arc<Context>) -> Action {
    warn!(testjob = %job.name_any(), namespace = ?job.namespace(), %error, "reconcile error");
    ctx.metrics.reconcile_error(error);
    Action::requeue(ERROR_REQUEUE)
}

/// A phase change this controller has just written. [`transitioned`] is the one place where
/// they are reported (log, event), so that every observer hooks in there.
enum Transition<'a> {
    /// The job entered the queue.
    Queued { running: usize, limit: usize },
    /// An attempt's runner Pod was created (or adopted after a restart) and the job is Running.
    Started {
        attempt: i32,
        pod: &'a Pod,
        adopted: bool,
    },
    /// An attempt failed; the next starts at `next_attempt_at`.
    Retrying {
        failed: &'a Outcome,
        max_attempts: i32,
        next_attempt_at: Timestamp,
    },
    /// The job reached its final phase with `status`.
    Finished {
        outcome: &'a Outcome,
        status: &'a TestJobStatus,
    },
}

/// Reports a transition: log line and Kubernetes event.
async fn transitioned(ctx: &Context, job: &TestJob, transition: Transition<'_>) {
    let name = job.name_any();
    let (type_, reason, note) = match transition {
        Transition::Queued { running, limit } => {
            info!(testjob = %name, running, limit, "queued");
            (
                EventType::Normal,
                "Queued",
                format!("waiting for a run slot: {running} running, limit {limit}"),
            )
        }
        Transition::Started {
            attempt,
            pod,
            adopted,
        } => {
            ctx.metrics.attempt_started(job, attempt, pod);
            let pod_name = pod.name_any();
            let verb = if adopted { "Adopted" } else { "Created" };
            info!(testjob = %name, pod = %pod_name, attempt, "{} runner Pod", verb.to_lowercase());
            (
                EventType::Normal,
                "Started",
                format!(
                    "{verb} runner Pod {pod_name} for test {} (attempt {attempt})",
                    job.spec.test_id
                ),
            )
        }
        Transition::Retrying {
            failed,
            max_attempts,
            next_attempt_at,
        } => {
            info!(testjob = %name, attempt = failed.attempt, reason = %failed.reason, %next_attempt_at, "attempt failed, will retry: {}", failed.message);
            (
                EventType::Warning,
                "AttemptFailed",
                format!(
                    "attempt {} of {max_attempts} failed: {}: {}; retrying at {next_attempt_at}",
                    failed.attempt, failed.reason, failed.message
                ),
            )
        }
        Transition::Finished { outcome, status } => {
            ctx.metrics.job_finished(status);
            let duration = status.duration.as_deref().unwrap_or("-");
            info!(testjob = %name, phase = %outcome.phase, reason = %outcome.reason, duration, "finished: {}", outcome.message);
            match outcome.phase {
                Phase::Succeeded => (EventType::Normal, "Succeeded", outcome.message.clone()),
                Phase::Cancelled => (EventType::Normal, "Cancelled", outcome.message.clone()),
                _ => (
                    EventType::Warning,
                    "Failed",
                    format!("{}: {}", outcome.reason, outcome.message),
                ),
            }
        }
    };
    publish(ctx, job, type_, reason, note).await;
}

/// The name of the runner Pod to look at, when the job is Running an attempt.
fn running_pod_name(job: &TestJob) -> Option<String> {
    let status = job.status.as_ref()?;
    if status.phase != Some(Phase::Running) || status.next_attempt_time.is_some() {
        return None;
    }
    Some(last_pod_name(job))
}

/// The runner Pod of the job's latest attempt.
fn last_pod_name(job: &TestJob) -> String {
    let status = job.status.clone().unwrap_or_default();
    let attempt = status.attempt.unwrap_or(1).max(1);
    status
        .pod_name
        .unwrap_or_else(|| pod_name(&job.name_any(), attempt))
}

/// Whether `pod` is Pending or Running and not being deleted.
fn is_running(pod: &Pod) -> bool {
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    matches!(phase, None | Some("Pending" | "Running")) && pod.metadata.deletion_timestamp.is_none()
}

/// The runner Pod `name` as the controller's cache holds it now.
fn cached_pod_now(ctx: &Context, namespace: &str, name: &str) -> Option<Pod> {
    ctx.pod_cache()?
        .get(&ObjectRef::new(name).within(namespace))
        .map(|pod| pod.as_ref().clone())
}

/// The runner Pod `name` in the controller's cache, once the cache has been listed.
async fn cached_pod(ctx: &Context, namespace: &str, name: &str) -> Option<Pod> {
    // Without a cache there is no list to wait for.
    ctx.pod_cache()?;
    // A timeout leaves the answer to the cache as it is: at worst a leftover Pod is kept.
    let mut listed = ctx.pods_listed.subscribe();
    let _ = tokio::time::timeout(POD_CACHE_WAIT, listed.wait_for(|done| *done)).await;
    cached_pod_now(ctx, namespace, name)
}

/// What creating the runner Pod led to.
enum Launch {
    /// The Pod is ours: created now, or adopted from an earlier try at the same attempt.
    Ready { pod: Box<Pod>, adopted: bool },
    /// The Pod cannot exist; the attempt failed before it began.
    Failed(Outcome),
}

/// Apply: takes a run slot (or queues), creates the runner Pod of `attempt` (or adopts it), then
/// records the job as Running.
async fn start_attempt(
    job: &TestJob,
    attempt: i32,
    pods: &Api<Pod>,
    ctx: &Context,
) -> Result<Action> {
    if let Admission::Queued { running, limit } = ctx.queue.admit(job) {
        // Entering the queue is written once; a free slot wakes the job, no rewrite needed.
        if !is_queued(job) {
            let status = queued_status(job, running, limit, Timestamp::now());
            if !write_status(job, status, ctx).await? {
                return Ok(Action::requeue(CONFLICT_REQUEUE));
            }
            transitioned(ctx, job, Transition::Queued { running, limit }).await;
        }
        return Ok(Action::await_change());
    }
    let launch = launch_pod(job, attempt, pods, ctx).await?;
    let now = Timestamp::now();
    let (pod, adopted) = match launch {
        Launch::Ready { pod, adopted } => (pod, adopted),
        Launch::Failed(outcome) => {
            // Record the attempt so the failed status names it, then finish in the same write.
            let mut started = job.clone();
            started.status = Some(TestJobStatus {
                attempt: Some(attempt),
                ..job.status.clone().unwrap_or_default()
            });
            return finish(&started, outcome, None, pods, ctx).await;
        }
    };
    let name = pod.name_any();
    // An adopted Pod started when it was created, possibly long ago while we were down.
    let start = pod
        .meta()
        .creation_timestamp
        .as_ref()
        .map(|t| t.0)
        .filter(|_| adopted)
        .unwrap_or(now);
    let status = running_status(job, attempt, &name, start, now);
    if !write_status(job, status, ctx).await? {
        // The slot stays taken: the next reconcile adopts the Pod.
        return Ok(Action::requeue(CONFLICT_REQUEUE));
    }
    transitioned(
        ctx,
        job,
        Transition::Started {
            attempt,
            pod: &pod,
            adopted,
        },
    )
    .await;
    Ok(Action::requeue(ctx.config.policy.resync))
}

/// Creates the runner Pod; on AlreadyExists adopts it when this job controls it.
async fn launch_pod(job: &TestJob, attempt: i32, pods: &Api<Pod>, ctx: &Context) -> Result<Launch> {
    let desired = build_runner_pod(job, attempt, &ctx.config.runner)?;
    let name = desired.name_any();
    let params = PostParams {
        field_manager: Some(MANAGER.into()),
        ..PostParams::default()
    };
    match pods.create(&params, &desired).await {
        Ok(pod) => Ok(Launch::Ready {
            pod: Box::new(pod),
            adopted: false,
        }),
        Err(kube::Error::Api(status)) if status.is_already_exists() => {
            let Some(existing) = pods.get_opt(&name).await? else {
                // Deleted between our create and get: let the next reconcile create it again.
                return Err(Error::PodVanished(name));
            };
            if is_owned_by(&existing, job) {
                Ok(Launch::Ready {
                    pod: Box::new(existing),
                    adopted: true,
                })
            } else {
                Ok(Launch::Failed(Outcome::failed(
                    attempt,
                    reason::POD_CONFLICT,
                    format!("Pod {name} already exists and is not controlled by this TestJob"),
                    Timestamp::now(),
                )))
            }
        }
        // The API server refuses the Pod itself (invalid spec, or a Pod Security violation):
        // retrying cannot help. Other 403s (RBAC, quota) may clear up, so those are retried.
        Err(kube::Error::Api(status))
            if matches!(status.code, 400 | 422)
                || (status.code == 403 && status.message.contains("violates PodSecurity")) =>
        {
            Ok(Launch::Failed(Outcome::failed(
                attempt,
                reason::POD_REJECTED,
                format!(
                    "the API server refused runner Pod {name}: {}",
                    status.message
                ),
                Timestamp::now(),
            )))
        }
        Err(error) => Err(error.into()),
    }
}

/// Records a failed attempt and when the next one starts; the job keeps its run slot.
async fn retry(
    job: &TestJob,
    failed: Outcome,
    next_attempt_at: Timestamp,
    pod: Option<&Pod>,
    pods: &Api<Pod>,
    ctx: &Context,
) -> Result<Action> {
    if failed.stop_pod
        && let Some(pod) = pod
    {
        stop_pod(pods, pod).await?;
    }
    let now = Timestamp::now();
    let max_attempts = ctx.config.policy.max_attempts(job);
    let status = retry_status(job, &failed, max_attempts, next_attempt_at, now);
    if !write_status(job, status, ctx).await? {
        return Ok(Action::requeue(CONFLICT_REQUEUE));
    }
    transitioned(
        ctx,
        job,
        Transition::Retrying {
            failed: &failed,
            max_attempts,
            next_attempt_at,
        },
    )
    .await;
    let pause = Duration::try_from(next_attempt_at.duration_since(now)).unwrap_or(Duration::ZERO);
    Ok(Action::requeue(pause))
}

/// Writes the final status, frees the run slot, then deletes the Pods as `podCleanup` says.
async fn finish(
    job: &TestJob,
    outcome: Outcome,
    pod: Option<&Pod>,
    pods: &Api<Pod>,
    ctx: &Context,
) -> Result<Action> {
    let status = job.status.clone().unwrap_or_default();
    if status
        .attempt
        .is_some_and(|attempt| attempt != outcome.attempt)
    {
        // Never let an old attempt's verdict overwrite a newer attempt.
        return Ok(Action::requeue(CONFLICT_REQUEUE));
    }
    if outcome.stop_pod
        && let Some(pod) = pod
    {
        stop_pod(pods, pod).await?;
    }
    if outcome.phase == Phase::Cancelled
        && status.phase != Some(Phase::Running)
        && ctx.queue.holds(job)
    {
        // Cancelled after taking a slot but before Running was recorded: its Pod may exist.
        let next = pod_name(&job.name_any(), outcome.attempt + 1);
        if let Some(orphan) = pods.get_opt(&next).await?
            && is_owned_by(&orphan, job)
        {
            stop_pod(pods, &orphan).await?;
        }
    }
    let status = finished_status(job, &outcome, Timestamp::now());
    if !write_status(job, status.clone(), ctx).await? {
        return Ok(Action::requeue(CONFLICT_REQUEUE));
    }
    ctx.queue.settle(job);
    transitioned(
        ctx,
        job,
        Transition::Finished {
            outcome: &outcome,
            status: &status,
        },
    )
    .await;
    if ctx
        .config
        .policy
        .pod_cleanup(job)
        .deletes_after(outcome.phase)
    {
        let mut finished = job.clone();
        finished.status = Some(status);
        clean_up(&finished, pod, pods, ctx).await?;
    } else {
        ctx.queue.mark_cleaned(job);
    }
    Ok(Action::await_change())
}

/// Deletes the runner Pods of every attempt of a finished job (those it controls).
async fn clean_up(job: &TestJob, last: Option<&Pod>, pods: &Api<Pod>, ctx: &Context) -> Result<()> {
    let attempts = job
        .status
        .as_ref()
        .and_then(|s| s.attempt)
        .unwrap_or(0)
        .max(0);
    let namespace = job.namespace().ok_or(Error::MissingNamespace)?;
    for attempt in 1..=attempts {
        let name = pod_name(&job.name_any(), attempt);
        let pod = match last.filter(|p| p.name_any() == name) {
            Some(pod) => Some(pod.clone()),
            None => cached_pod(ctx, &namespace, &name).await,
        };
        let Some(pod) =
            pod.filter(|p| is_owned_by(p, job) && p.meta().deletion_timestamp.is_none())
        else {
            continue;
        };
        let params = DeleteParams {
            // Only this Pod, not one created under its name since.
            preconditions: pod.meta().uid.clone().map(|uid| Preconditions {
                uid: Some(uid),
                resource_version: None,
            }),
            ..DeleteParams::default()
        };
        match pods.delete(&name, &params).await {
            Ok(_) => debug!(testjob = %job.name_any(), pod = %name, "deleted runner Pod"),
            Err(kube::Error::Api(status)) if status.code == 404 || status.is_conflict() => {}
            Err(error) => return Err(error.into()),
        }
    }
    ctx.queue.mark_cleaned(job);
    Ok(())
}

/// Deletes a finished job whose `ttlSecondsAfterFinished` has passed (its Pods follow by garbage
/// collection).
async fn expire(job: &TestJob, ctx: &Context) -> Result<Action> {
    let namespace = job.namespace().ok_or(Error::MissingNamespace)?;
    let api: Api<TestJob> = Api::namespaced(ctx.client.clone(), &namespace);
    let params = DeleteParams {
        // Only this job, not one created under its name since.
        preconditions: job.meta().uid.clone().map(|uid| Preconditions {
            uid: Some(uid),
            resource_version: None,
        }),
        ..DeleteParams::background()
    };
    match api.delete(&job.name_any(), &params).await {
        Ok(_) => info!(testjob = %job.name_any(), "deleted: ttlSecondsAfterFinished passed"),
        Err(kube::Error::Api(status)) if status.code == 404 || status.is_conflict() => {}
        Err(error) => return Err(error.into()),
    }
    Ok(Action::await_change())
}

/// Stops a runner Pod and keeps it: its `activeDeadlineSeconds` drops to the minimum, so the
/// kubelet ends the container and the logs stay readable. A Pod that never started has no logs
/// and may never reach a kubelet, so it is deleted instead.
async fn stop_pod(pods: &Api<Pod>, pod: &Pod) -> Result<()> {
    let name = pod.name_any();
    let started = pod
        .status
        .as_ref()
        .and_then(|s| s.start_time.as_ref())
        .is_some();
    let result = if started {
        let patch = serde_json::json!({"spec": {"activeDeadlineSeconds": STOP_DEADLINE_SECONDS}});
        let params = PatchParams {
            field_manager: Some(MANAGER.into()),
            ..PatchParams::default()
        };
        pods.patch(&name, &params, &Patch::Merge(&patch))
            .await
            .map(|_| ())
    } else {
        pods.delete(&name, &DeleteParams::default())
            .await
            .map(|_| ())
    };
    match result {
        Ok(()) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(error) => Err(error.into()),
    }
}

/// Replaces the status, guarded by the resourceVersion the decision was made from. Returns
/// `false` when someone wrote the job in between (the newer version triggers another reconcile).
async fn write_status(job: &TestJob, status: TestJobStatus, ctx: &Context) -> Result<bool> {
    let namespace = job.namespace().ok_or(Error::MissingNamespace)?;
    let api: Api<TestJob> = Api::namespaced(ctx.client.clone(), &namespace);
    let mut updated = job.clone();
    updated.status = Some(status);
    let params = PostParams {
        field_manager: Some(MANAGER.into()),
        ..PostParams::default()
    };
    match api.replace_status(&job.name_any(), &params, &updated).await {
        Ok(_) => {
            ctx.wrote_status(job);
            Ok(true)
        }
        Err(kube::Error::Api(status)) if status.is_conflict() => {
            debug!(testjob = %job.name_any(), "status write lost a race; will look again");
            Ok(false)
        }
        Err(error) => Err(error.into()),
    }
}

/// Publishes an event on `job`; failures are logged, since events are advisory.
async fn publish(ctx: &Context, job: &TestJob, type_: EventType, reason: &str, note: String) {
    if !ctx
        .config
        .events
        .publishes(matches!(type_, EventType::Warning))
    {
        return;
    }
    let event = Event {
        type_,
        reason: reason.into(),
        // The events API caps notes at 1 kB.
        note: Some(crate::results::truncate_bytes(&note, 1024)),
        action: reason.into(),
        secondary: None,
    };
    // A Recorder per event: a long-lived Recorder keeps every event it published for six
    // minutes, to count repeats into a series, and this controller never repeats an event (each
    // names one transition of one job), so the cache only grew (about 3 kB per event: some
    // 60 MiB after 10,000 jobs).
    let recorder = Recorder::new(ctx.client.clone(), ctx.reporter.clone());
    if let Err(error) = recorder.publish(&event, &job.object_ref(&())).await {
        warn!(testjob = %job.name_any(), %error, "could not publish {reason} event");
    }
}
