//! The decision step of the reconcile pipeline: a pure function from a TestJob and the runner Pod
//! of its current attempt (as last read) to what should happen next. No client, no clock: the
//! caller passes `now`, so every phase × event is unit-tested.
//!
//! The job-level rules live here (start, retry with backoff, cancel, Pod cleanup, TTL); how a
//! runner Pod's state reads is in [`observe`].

mod observe;

use std::time::Duration;

use k8s_openapi::{
    api::core::v1::Pod,
    jiff::{SignedDuration, Timestamp},
};
use kube::ResourceExt;

pub use crate::outcome::{Outcome, reason};
use crate::{
    crd::{Phase, RetryOn, TestJob},
    pod::{is_owned_by, pod_name},
    policy::Policy,
};
use observe::{PodState, active_deadline, has_started, observe_pod, remaining};

/// The `activeDeadlineSeconds` a cancelled runner Pod gets: the lowest the API allows, so the
/// kubelet stops the container at once and keeps the Pod and its logs.
pub const STOP_DEADLINE_SECONDS: i64 = 1;

/// What the reconciler should do next.
#[derive(Clone, Debug, PartialEq)]
pub enum Decision {
    /// Create (or adopt) the runner Pod of `attempt`, then record the job as Running. Attempt 1
    /// needs a run slot first (see [`crate::queue`]); later attempts keep the slot they hold.
    Start {
        /// The attempt to start, from 1.
        attempt: i32,
    },
    /// Nothing to do until `requeue_after` has passed (or a watch event comes).
    Wait {
        /// When to look again.
        requeue_after: Duration,
    },
    /// Cancel the running attempt: lower the `activeDeadlineSeconds` of runner Pod `pod` to
    /// [`STOP_DEADLINE_SECONDS`] so that the kubelet stops it, then wait for it to end.
    StopPod {
        /// Name of the runner Pod.
        pod: String,
    },
    /// The attempt failed and another follows: record the failure and when the next starts.
    Retry {
        /// How the attempt ended.
        failed: Outcome,
        /// When the next attempt may start.
        next_attempt_at: Timestamp,
    },
    /// The job is over: record `Outcome` as its final status, then clean up its Pods.
    Finish(Outcome),
    /// The job is over and its runner Pods are to be deleted (`podCleanup`), but one is left.
    CleanUp,
    /// The job finished longer than `ttlSecondsAfterFinished` ago: delete it.
    Expire,
    /// Nothing left to do.
    Done,
}

/// Decides the next step for `job`, given the runner Pod of its current attempt (`None` when
/// there is no such Pod, or when the caller did not look) and the current time.
pub fn decide(job: &TestJob, pod: Option<&Pod>, now: Timestamp, policy: &Policy) -> Decision {
    let status = job.status.as_ref();
    let attempt = status.and_then(|s| s.attempt).unwrap_or(0).max(0);
    let cancel = job.spec.is_cancelled();
    match status.and_then(|s| s.phase) {
        Some(phase) if phase.is_terminal() => after_finish(job, phase, pod, now, policy),
        None | Some(Phase::Pending) if cancel => Decision::Finish(cancelled(
            attempt,
            "cancelled by spec.cancel before it started".into(),
            now,
        )),
        None | Some(Phase::Pending) => Decision::Start {
            attempt: attempt + 1,
        },
        Some(_running) => {
            let attempt = attempt.max(1);
            if let Some(next) = status.and_then(|s| s.next_attempt_time.as_ref()) {
                return between_attempts(attempt, next.0, cancel, now);
            }
            let name = status
                .and_then(|s| s.pod_name.clone())
                .unwrap_or_else(|| pod_name(&job.name_any(), attempt));
            let state = match pod {
                None => PodState::Ended(Outcome::failed(
                    attempt,
                    reason::POD_DELETED,
                    format!("runner Pod {name} disappeared before its outcome was read"),
                    now,
                )),
                Some(pod) if !is_owned_by(pod, job) => PodState::Ended(Outcome::failed(
                    attempt,
                    reason::POD_CONFLICT,
                    format!("Pod {name} exists but is not controlled by this TestJob"),
                    now,
                )),
                Some(pod) if cancel => return cancel_running(attempt, &name, pod, now, policy),
                Some(pod) => observe_pod(attempt, &name, pod, now, policy),
            };
            match state {
                PodState::Live { requeue_after } => Decision::Wait { requeue_after },
                PodState::Ended(outcome) if cancel => {
                    Decision::Finish(cancelled_during(outcome, &name))
                }
                PodState::Ended(outcome) => after_attempt(job, outcome, policy),
            }
        }
    }
}

/// A Running job between a failed attempt and the next one.
fn between_attempts(attempt: i32, next: Timestamp, cancel: bool, now: Timestamp) -> Decision {
    if cancel {
        return Decision::Finish(cancelled(
            attempt,
            format!(
                "cancelled by spec.cancel after attempt {attempt} failed, before attempt {} started",
                attempt + 1
            ),
            now,
        ));
    }
    match remaining(next, Duration::ZERO, now) {
        None => Decision::Start {
            attempt: attempt + 1,
        },
        Some(left) => Decision::Wait {
            requeue_after: left,
        },
    }
}

/// A cancelled job whose runner Pod is still there.
fn cancel_running(
    attempt: i32,
    name: &str,
    pod: &Pod,
    now: Timestamp,
    policy: &Policy,
) -> Decision {
    match observe_pod(attempt, name, pod, now, policy) {
        PodState::Ended(outcome) => Decision::Finish(cancelled_during(outcome, name)),
        PodState::Live { .. } if pod.metadata.deletion_timestamp.is_some() => Decision::Wait {
            requeue_after: Duration::from_secs(5),
        },
        // Nothing ran, so there are no logs to keep: the job ends now and the Pod goes.
        PodState::Live { .. } if !has_started(pod) => {
            let mut outcome = cancelled(
                attempt,
                format!("cancelled by spec.cancel before runner Pod {name} started"),
                now,
            );
            outcome.stop_pod = true;
            Decision::Finish(outcome)
        }
        PodState::Live { .. } if active_deadline(pod).is_none_or(|d| d > STOP_DEADLINE_SECONDS) => {
            Decision::StopPod {
                pod: name.to_owned(),
            }
        }
        // Stop requested: the Pod's update event brings the end.
        PodState::Live { .. } => Decision::Wait {
            requeue_after: policy.resync,
        },
    }
}

/// A Running job whose current attempt just ended (not cancelled): retry, or finish.
fn after_attempt(job: &TestJob, mut outcome: Outcome, policy: &Policy) -> Decision {
    let max_attempts = policy.max_attempts(job);
    // A refused Pod spec is refused again; every other failure may be transient, and with
    // `retryOn: Infrastructure` only the Pod's own failures are retried.
    let retryable = outcome.phase == Phase::Failed
        && outcome.reason != reason::POD_REJECTED
        && match job.spec.retry_on.unwrap_or_default() {
            RetryOn::Always => true,
            RetryOn::Infrastructure => reason::is_infrastructure(&outcome.reason),
        };
    if retryable && outcome.attempt < max_attempts {
        let pause = SignedDuration::try_from(policy.backoff(outcome.attempt))
            .unwrap_or(SignedDuration::MAX);
        let next_attempt_at = outcome
            .finished_at
            .checked_add(pause)
            .unwrap_or(outcome.finished_at);
        return Decision::Retry {
            failed: outcome,
            next_attempt_at,
        };
    }
    if outcome.attempt > 1 {
        outcome.message = format!(
            "{} (attempt {} of {max_attempts})",
            outcome.message, outcome.attempt
        );
    }
    Decision::Finish(outcome)
}

/// A finished job: delete leftover Pods, then the job itself once its TTL has passed.
fn after_finish(
    job: &TestJob,
    phase: Phase,
    pod: Option<&Pod>,
    now: Timestamp,
    policy: &Policy,
) -> Decision {
    if let Some(pod) = pod
        && policy.pod_cleanup(job).deletes_after(phase)
        && is_owned_by(pod, job)
        && pod.metadata.deletion_timestamp.is_none()
    {
        return Decision::CleanUp;
    }
    let finished = job
        .status
        .as_ref()
        .and_then(|s| s.completion_time.as_ref())
        .map(|t| t.0);
    match (policy.ttl_after_finished(job), finished) {
        (Some(ttl), Some(finished)) => match remaining(finished, ttl, now) {
            None => Decision::Expire,
            Some(left) => Decision::Wait {
                requeue_after: left,
            },
        },
        _ => Decision::Done,
    }
}

/// The outcome of a job stopped by `spec.cancel`.
fn cancelled(attempt: i32, message: String, now: Timestamp) -> Outcome {
    Outcome {
        phase: Phase::Cancelled,
        ..Outcome::failed(attempt, reason::CANCELLED, message, now)
    }
}

/// The outcome of a cancelled attempt whose Pod ended: what ran is kept (exit code, results).
fn cancelled_during(ended: Outcome, name: &str) -> Outcome {
    let how = match ended.exit_code {
        Some(code) => format!("runner Pod {name} ended with exit code {code}"),
        None => format!(
            "runner Pod {name} ended ({}: {})",
            ended.reason, ended.message
        ),
    };
    Outcome {
        phase: Phase::Cancelled,
        reason: reason::CANCELLED.into(),
        message: format!(
            "cancelled by spec.cancel during attempt {}: {how}",
            ended.attempt
        ),
        ..ended
    }
}

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod tests;
