//! The controller: a kube-runtime `Controller` over TestJobs that owns their runner Pods. Each
//! reconcile runs the pipeline read → decide → apply (create or adopt the Pod) → write status,
//! and publishes events for the transitions it made.

use std::{sync::Arc, time::Duration};

use futures::StreamExt;
use k8s_openapi::{api::core::v1::Pod, jiff::Timestamp};
use kube::{
    Api, Client, Resource, ResourceExt,
    api::{ListParams, PostParams},
    runtime::{
        Controller,
        controller::{self, Action},
        events::{Event, EventType, Recorder, Reporter},
        watcher,
    },
};
use tracing::{debug, info, warn};

use crate::{
    Error, Result,
    config::Config,
    crd::{Phase, TestJob, TestJobStatus},
    decide::{Decision, Outcome, decide, reason},
    pod::{MANAGED_BY_LABEL, MANAGER, build_runner_pod, is_owned_by, pod_name},
    status::{finished_status, running_status},
};

/// How soon to look again after losing an optimistic-concurrency race.
const CONFLICT_REQUEUE: Duration = Duration::from_secs(1);
/// How soon to retry after an error.
const ERROR_REQUEUE: Duration = Duration::from_secs(5);

/// State shared by all reconciles.
pub struct Context {
    /// Kubernetes client.
    pub client: Client,
    /// Publishes events on TestJobs.
    pub recorder: Recorder,
    /// Operator configuration.
    pub config: Config,
}

impl Context {
    /// A context whose events are reported as coming from `testjob-operator` on this host.
    pub fn new(client: Client, config: Config) -> Self {
        let reporter = Reporter {
            controller: MANAGER.into(),
            instance: std::env::var("POD_NAME").ok(),
        };
        Context {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            config,
        }
    }
}

/// Runs the controller until SIGINT/SIGTERM. Fails early when the TestJob CRD is not installed.
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
    info!(
        namespace = config.namespace.as_deref().unwrap_or("<all>"),
        image = %config.runner.image,
        "starting TestJob controller"
    );
    let ctx = Arc::new(Context::new(client, config));
    Controller::new(jobs, watcher::Config::default())
        .owns(
            pods,
            watcher::Config::default().labels(&format!("{MANAGED_BY_LABEL}={MANAGER}")),
        )
        .shutdown_on_signal()
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            match result {
                Ok((object, _)) => debug!(%object, "reconciled"),
                // Already logged by error_policy.
                Err(controller::Error::ReconcilerFailed(..)) => {}
                Err(error) => warn!(%error, "controller error"),
            }
        })
        .await;
    info!("controller stopped");
    Ok(())
}

/// Reconciles one TestJob.
pub async fn reconcile(job: Arc<TestJob>, ctx: Arc<Context>) -> Result<Action> {
    if job.meta().deletion_timestamp.is_some() {
        // Garbage collection removes the runner Pod through its owner reference.
        return Ok(Action::await_change());
    }
    let namespace = job.namespace().ok_or(Error::MissingNamespace)?;
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), &namespace);

    // Read: the runner Pod of the current attempt, fresh from the API server, because the cache
    // may not have seen a Pod created a moment ago and "missing" would fail the job.
    let current_pod = match running_pod_name(&job) {
        Some(name) => pods.get_opt(&name).await?,
        None => None,
    };

    match decide(
        &job,
        current_pod.as_ref(),
        Timestamp::now(),
        &ctx.config.policy,
    ) {
        Decision::Done => Ok(Action::await_change()),
        Decision::Wait { requeue_after } => Ok(Action::requeue(requeue_after)),
        Decision::Start { attempt } => start_attempt(&job, attempt, &pods, &ctx).await,
        Decision::Finish(outcome) => finish(&job, outcome, &ctx).await,
    }
}

/// Logs the error and retries soon.
pub fn error_policy(job: Arc<TestJob>, error: &Error, _ctx: Arc<Context>) -> Action {
    warn!(testjob = %job.name_any(), namespace = ?job.namespace(), %error, "reconcile error");
    Action::requeue(ERROR_REQUEUE)
}

/// The name of the runner Pod to look at, when the job is Running.
fn running_pod_name(job: &TestJob) -> Option<String> {
    let status = job.status.as_ref()?;
    if status.phase != Some(Phase::Running) {
        return None;
    }
    let attempt = status.attempt.unwrap_or(1).max(1);
    Some(
        status
            .pod_name
            .clone()
            .unwrap_or_else(|| pod_name(&job.name_any(), attempt)),
    )
}

/// What creating the runner Pod led to.
enum Launch {
    /// The Pod is ours: created now, or adopted from an earlier try at the same attempt.
    Ready { pod: Box<Pod>, adopted: bool },
    /// The Pod cannot exist; the attempt failed before it began.
    Failed(Outcome),
}

/// Apply: creates the runner Pod of `attempt` (or adopts it), then records the job as Running.
async fn start_attempt(
    job: &TestJob,
    attempt: i32,
    pods: &Api<Pod>,
    ctx: &Context,
) -> Result<Action> {
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
            return finish(&started, outcome, ctx).await;
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
        return Ok(Action::requeue(CONFLICT_REQUEUE));
    }
    let verb = if adopted { "Adopted" } else { "Created" };
    info!(testjob = %job.name_any(), pod = %name, attempt, "{} runner Pod", verb.to_lowercase());
    publish(
        ctx,
        job,
        EventType::Normal,
        "Started",
        format!(
            "{verb} runner Pod {name} for test {} (attempt {attempt})",
            job.spec.test_id
        ),
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

/// Writes the final status of an attempt, then publishes Succeeded or Failed.
async fn finish(job: &TestJob, outcome: Outcome, ctx: &Context) -> Result<Action> {
    let current_attempt = job.status.as_ref().and_then(|s| s.attempt);
    if current_attempt.is_some_and(|a| a != outcome.attempt) {
        // Never let an old attempt's verdict overwrite a newer attempt.
        return Ok(Action::requeue(CONFLICT_REQUEUE));
    }
    let status = finished_status(job, &outcome, Timestamp::now());
    if !write_status(job, status, ctx).await? {
        return Ok(Action::requeue(CONFLICT_REQUEUE));
    }
    let name = job.name_any();
    match outcome.phase {
        Phase::Succeeded => {
            info!(testjob = %name, reason = %outcome.reason, "succeeded: {}", outcome.message);
            publish(ctx, job, EventType::Normal, "Succeeded", outcome.message).await;
        }
        _ => {
            info!(testjob = %name, reason = %outcome.reason, "failed: {}", outcome.message);
            let note = format!("{}: {}", outcome.reason, outcome.message);
            publish(ctx, job, EventType::Warning, "Failed", note).await;
        }
    }
    Ok(Action::await_change())
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
        Ok(_) => Ok(true),
        Err(kube::Error::Api(status)) if status.is_conflict() => {
            debug!(testjob = %job.name_any(), "status write lost a race; will look again");
            Ok(false)
        }
        Err(error) => Err(error.into()),
    }
}

/// Publishes an event on `job`; failures are logged, since events are advisory.
async fn publish(ctx: &Context, job: &TestJob, type_: EventType, reason: &str, note: String) {
    let event = Event {
        type_,
        reason: reason.into(),
        // The events API caps notes at 1 kB.
        note: Some(crate::results::truncate_bytes(&note, 1024)),
        action: reason.into(),
        secondary: None,
    };
    if let Err(error) = ctx.recorder.publish(&event, &job.object_ref(&())).await {
        warn!(testjob = %job.name_any(), %error, "could not publish {reason} event");
    }
}
