//! The reconcile pipeline for one TestJob, a step per module:
//!
//! 1. [`read`]: the runner Pod to judge, from the cache or a fresh read;
//! 2. [`decide`]: what should happen next, a pure function of job, Pod, time and policy;
//! 3. apply: [`apply`] (queue or start an attempt, retry, finish) and [`cleanup`] (stop and
//!    delete Pods, expire the job), carrying out the pure decisions of [`plan`];
//! 4. the status written with the resourceVersion the decision was made from (built by
//!    `crate::status`), so a stale controller never overwrites a newer attempt;
//! 5. [`report`]: log, metrics and event for each transition.
//!
//! [`Context`] is what reconciles share; [`controller()`] builds the watches that trigger them,
//! [`trim`] says what their caches keep and [`lean`] decodes their events straight into that.
//! The process around it (signals, leadership, HTTP) is `crate::operator`.

pub mod apply;
pub mod cleanup;
pub mod collect;
pub mod context;
pub mod controller;
pub mod decide;
pub mod error;
pub mod lean;
pub mod plan;
pub mod read;
pub mod report;
pub mod trim;

use std::{sync::Arc, time::Duration};

use k8s_openapi::{api::core::v1::Pod, jiff::Timestamp};
use kube::{Api, Resource, ResourceExt, runtime::controller::Action};
use tracing::{info, warn};

pub use context::Context;
pub use controller::controller;
pub use error::{Error, Result};

use crate::{
    crd::{PodCleanup, TestJob},
    pod::InvalidJob,
};
use decide::{Decision, decide};
use read::{PodRead, pod_to_read, read_pod};

/// How soon to retry after an error.
const ERROR_REQUEUE: Duration = Duration::from_secs(5);
/// How soon to look again at a job whose cached copy predates our own status write, should the
/// watch event of that write not arrive (it normally comes within milliseconds).
const STALE_REQUEUE: Duration = Duration::from_secs(5);

/// Reconciles one TestJob.
pub async fn reconcile(job: Arc<TestJob>, ctx: Arc<Context>) -> Result<Action> {
    if job.meta().deletion_timestamp.is_some() {
        // Garbage collection removes the runner Pods through their owner references.
        return Ok(Action::await_change());
    }
    if ctx.writes.is_superseded(&job) {
        return Ok(Action::requeue(STALE_REQUEUE));
    }
    let namespace = job.namespace().ok_or(InvalidJob::MissingNamespace)?;
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), &namespace);

    let policy = &ctx.config.policy;
    let what = pod_to_read(&job, policy, ctx.writes.is_cleaned_up(&job));
    let current_pod = read_pod(&what, &namespace, &pods, &ctx).await?;
    let decision = decide(&job, current_pod.as_ref(), Timestamp::now(), policy);
    if matches!(what, PodRead::Leftover(_)) && decision != Decision::CleanUp {
        // Nothing left over: no need to look again while this process runs.
        ctx.writes.cleaned_up(&job);
    }
    match decision {
        Decision::Done => {
            ctx.retire(&job);
            Ok(Action::await_change())
        }
        Decision::Wait { requeue_after } => Ok(Action::requeue(requeue_after)),
        Decision::Start { attempt } => apply::start_attempt(&job, attempt, &pods, &ctx).await,
        Decision::StopPod { pod } => {
            if let Some(current) = &current_pod {
                info!(testjob = %job.name_any(), %pod, "cancel: stopping the runner Pod");
                cleanup::stop_pod(&pods, current).await?;
            }
            Ok(Action::requeue(policy.resync))
        }
        Decision::Retry {
            failed,
            next_attempt_at,
        } => {
            let pod = current_pod.as_ref();
            // Every attempt's Pod goes when the job's Pods are cleaned up.
            let keep_log = policy.keep_logs(&job) && policy.pod_cleanup(&job) != PodCleanup::Never;
            let failed = collect::collect(&job, failed, pod, keep_log, &pods, &ctx).await?;
            apply::retry(&job, failed, next_attempt_at, pod, &pods, &ctx).await
        }
        Decision::Finish(outcome) => {
            let pod = current_pod.as_ref();
            let keep_log =
                policy.keep_logs(&job) && policy.pod_cleanup(&job).deletes_after(outcome.phase);
            let outcome = collect::collect(&job, outcome, pod, keep_log, &pods, &ctx).await?;
            apply::finish(&job, outcome, pod, &pods, &ctx).await
        }
        Decision::CleanUp => {
            cleanup::clean_up(&job, current_pod.as_ref(), &ctx).await?;
            Ok(Action::requeue(Duration::ZERO))
        }
        Decision::Expire => cleanup::expire(&job, &ctx).await,
    }
}

/// Logs the error, counts it under its category and retries soon.
pub fn error_policy(job: Arc<TestJob>, error: &Error, ctx: Arc<Context>) -> Action {
    warn!(testjob = %job.name_any(), namespace = ?job.namespace(), %error, category = error.category().as_str(), "reconcile error");
    ctx.metrics.reconcile_error(error.category());
    Action::requeue(ERROR_REQUEUE)
}
