//! The apply step for the decisions that write a status: start an attempt (take a run slot or
//! queue, create or adopt the runner Pod, record Running), record a failed attempt before a
//! retry, and finish (final status, free the slot, clean up). What each step decides is in
//! [`super::plan`]; this module only carries it out.

use std::time::Duration;

use k8s_openapi::{api::core::v1::Pod, jiff::Timestamp};
use kube::{Api, ResourceExt, api::PostParams, runtime::controller::Action};
use tracing::debug;

use super::{
    Context, Error, Result,
    cleanup::{clean_up, stop_pod},
    lean::Lean,
    plan,
    report::{Transition, transitioned},
};
use crate::{
    crd::{TestJob, TestJobStatus},
    notify::event::Pending,
    outcome::Outcome,
    pod::{InvalidJob, MANAGER, build_runner_pod, is_owned_by},
    queue::Admission,
    status::{finished_status, is_queued, queued_status, retry_status, running_status},
};

/// How soon to look again after losing an optimistic-concurrency race.
pub const CONFLICT_REQUEUE: Duration = Duration::from_secs(1);

/// What creating the runner Pod led to.
enum Launch {
    /// The Pod is ours: created now, or adopted from an earlier try at the same attempt.
    Ready { pod: Box<Pod>, adopted: bool },
    /// The Pod cannot exist; the attempt failed before it began.
    Failed(Outcome),
}

/// Takes a run slot (or queues), creates the runner Pod of `attempt` (or adopts it), then
/// records the job as Running.
pub async fn start_attempt(
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
    let (pod, adopted) = match launch_pod(job, attempt, pods, ctx).await? {
        Launch::Ready { pod, adopted } => (pod, adopted),
        // Record the attempt so the failed status names it, then finish in the same write.
        Launch::Failed(outcome) => {
            return finish(&plan::with_attempt(job, attempt), outcome, None, pods, ctx).await;
        }
    };
    let now = Timestamp::now();
    let start = plan::attempt_start(&pod, adopted, now);
    let status = running_status(job, attempt, &pod.name_any(), start, now);
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
    // Of the answer only metadata is read (name, creation time): decoded lean.
    let namespace = job.namespace().ok_or(InvalidJob::MissingNamespace)?;
    let lean: Api<Lean<Pod>> = Api::namespaced(ctx.client.clone(), &namespace);
    match lean.create(&params, &Lean::new(desired)).await {
        Ok(pod) => Ok(Launch::Ready {
            pod: Box::new(pod.into_inner()),
            adopted: false,
        }),
        Err(kube::Error::Api(status)) if status.is_already_exists() => {
            let Some(existing) = pods.get_opt(&name).await? else {
                // Deleted between our create and get: let the next reconcile create it again.
                return Err(Error::PodVanished(name));
            };
            Ok(
                match plan::foreign_pod(job, attempt, &existing, Timestamp::now()) {
                    None => Launch::Ready {
                        pod: Box::new(existing),
                        adopted: true,
                    },
                    Some(conflict) => Launch::Failed(conflict),
                },
            )
        }
        Err(kube::Error::Api(status)) if plan::is_refusal(&status) => Ok(Launch::Failed(
            plan::refused(attempt, &name, &status, Timestamp::now()),
        )),
        Err(error) => Err(error.into()),
    }
}

/// Records a failed attempt and when the next one starts; the job keeps its run slot.
pub async fn retry(
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
    let mut status = retry_status(job, &failed, max_attempts, next_attempt_at, now);
    announce(
        ctx,
        &mut status,
        Pending::AttemptFailed {
            attempt: failed.attempt,
        },
    );
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
    Ok(Action::requeue(plan::pause_until(next_attempt_at, now)))
}

/// Writes the final status, frees the run slot, then deletes the Pods as `podCleanup` says.
pub async fn finish(
    job: &TestJob,
    outcome: Outcome,
    pod: Option<&Pod>,
    pods: &Api<Pod>,
    ctx: &Context,
) -> Result<Action> {
    if plan::is_stale(job, &outcome) {
        return Ok(Action::requeue(CONFLICT_REQUEUE));
    }
    if outcome.stop_pod
        && let Some(pod) = pod
    {
        stop_pod(pods, pod).await?;
    }
    if let Some(orphan) = plan::orphan_after_cancel(job, &outcome, ctx.queue.holds(job))
        && let Some(orphan) = pods.get_opt(&orphan).await?
        && is_owned_by(&orphan, job)
    {
        stop_pod(pods, &orphan).await?;
    }
    let mut status = finished_status(job, &outcome, Timestamp::now());
    announce(
        ctx,
        &mut status,
        Pending::Finished {
            attempt: outcome.attempt,
        },
    );
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
        clean_up(&job.with_status(status), pod, ctx).await?;
    } else {
        ctx.writes.cleaned_up(job);
    }
    Ok(Action::await_change())
}

/// Records in `status` that `pending` is to be announced, when notifications are configured (the
/// notifier delivers it and removes the entry; see `crate::notify`).
fn announce(ctx: &Context, status: &mut TestJobStatus, pending: Pending) {
    let key = pending.key();
    if ctx.config.notify.is_some() && !status.pending_notifications.contains(&key) {
        status.pending_notifications.push(key);
    }
}

/// Replaces the status, guarded by the resourceVersion the decision was made from. Returns
/// `false` when someone wrote the job in between (the newer version triggers another reconcile).
async fn write_status(job: &TestJob, status: TestJobStatus, ctx: &Context) -> Result<bool> {
    let namespace = job.namespace().ok_or(InvalidJob::MissingNamespace)?;
    // The answer is decoded lean: nothing of it is read.
    let api: Api<Lean<TestJob>> = Api::namespaced(ctx.client.clone(), &namespace);
    let updated = Lean::new(job.with_status(status));
    let params = PostParams {
        field_manager: Some(MANAGER.into()),
        ..PostParams::default()
    };
    match api.replace_status(&job.name_any(), &params, &updated).await {
        Ok(_) => {
            ctx.writes.wrote_status(job);
            Ok(true)
        }
        Err(kube::Error::Api(status)) if status.is_conflict() => {
            debug!(testjob = %job.name_any(), "status write lost a race; will look again");
            Ok(false)
        }
        Err(error) => Err(error.into()),
    }
}
