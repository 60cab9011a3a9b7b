//! Reporting the transitions a reconcile made: one log line, the metrics, and one Kubernetes
//! event per transition. [`transitioned`] is the one place every observer hooks into; which
//! event a transition makes is the pure [`event_of`].

use k8s_openapi::{api::core::v1::Pod, jiff::Timestamp};
use kube::{
    Resource, ResourceExt,
    runtime::events::{Event, EventType, Recorder},
};
use tracing::{info, warn};

use super::Context;
use crate::{
    crd::{Phase, TestJob, TestJobStatus},
    outcome::Outcome,
    results::truncate_bytes,
};

/// The events API caps notes at 1 kB.
const MAX_NOTE_BYTES: usize = 1024;

/// A phase change this controller has just written.
pub enum Transition<'a> {
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

/// The event a transition of `job` publishes: type, reason and note.
pub fn event_of(job: &TestJob, transition: &Transition<'_>) -> (EventType, &'static str, String) {
    match transition {
        Transition::Queued { running, limit } => (
            EventType::Normal,
            "Queued",
            format!("waiting for a run slot: {running} running, limit {limit}"),
        ),
        Transition::Started {
            attempt,
            pod,
            adopted,
        } => {
            let verb = if *adopted { "Adopted" } else { "Created" };
            (
                EventType::Normal,
                "Started",
                format!(
                    "{verb} runner Pod {} for test {} (attempt {attempt})",
                    pod.name_any(),
                    job.spec.test_id
                ),
            )
        }
        Transition::Retrying {
            failed,
            max_attempts,
            next_attempt_at,
        } => (
            EventType::Warning,
            "AttemptFailed",
            format!(
                "attempt {} of {max_attempts} failed: {}: {}; retrying at {next_attempt_at}",
                failed.attempt, failed.reason, failed.message
            ),
        ),
        Transition::Finished { outcome, .. } => match outcome.phase {
            Phase::Succeeded => (EventType::Normal, "Succeeded", outcome.message.clone()),
            Phase::Cancelled => (EventType::Normal, "Cancelled", outcome.message.clone()),
            Phase::Failed | Phase::Pending | Phase::Running => (
                EventType::Warning,
                "Failed",
                format!("{}: {}", outcome.reason, outcome.message),
            ),
        },
    }
}

/// Reports a transition: log line, metrics and Kubernetes event.
pub async fn transitioned(ctx: &Context, job: &TestJob, transition: Transition<'_>) {
    let name = job.name_any();
    match &transition {
        Transition::Queued { running, limit } => info!(testjob = %name, running, limit, "queued"),
        Transition::Started {
            attempt,
            pod,
            adopted,
        } => {
            ctx.metrics.attempt_started(job, *attempt, pod);
            let verb = if *adopted { "adopted" } else { "created" };
            info!(testjob = %name, pod = %pod.name_any(), attempt, "{verb} runner Pod");
        }
        Transition::Retrying {
            failed,
            next_attempt_at,
            ..
        } => {
            info!(testjob = %name, attempt = failed.attempt, reason = %failed.reason, %next_attempt_at, "attempt failed, will retry: {}", failed.message);
        }
        Transition::Finished { outcome, status } => {
            ctx.metrics.job_finished(status);
            let duration = status.duration.as_deref().unwrap_or("-");
            info!(testjob = %name, phase = %outcome.phase, reason = %outcome.reason, duration, "finished: {}", outcome.message);
        }
    }
    let (type_, reason, note) = event_of(job, &transition);
    publish(ctx, job, type_, reason, note).await;
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
        note: Some(truncate_bytes(&note, MAX_NOTE_BYTES)),
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::{
        crd::{TestId, TestJobSpec},
        outcome::reason,
    };

    fn job() -> TestJob {
        TestJob::new("smoke", TestJobSpec::new(TestId::Int(220)))
    }

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(1_750_000_000 + secs).expect("valid time")
    }

    #[test]
    fn each_transition_makes_one_event() {
        let job = job();
        let pod: Pod =
            serde_json::from_value(json!({"metadata": {"name": "smoke-2"}})).expect("pod");
        let (type_, reason, note) = event_of(
            &job,
            &Transition::Queued {
                running: 3,
                limit: 3,
            },
        );
        assert_eq!(
            (type_, reason, note.as_str()),
            (
                EventType::Normal,
                "Queued",
                "waiting for a run slot: 3 running, limit 3"
            )
        );
        let started = |adopted| {
            event_of(
                &job,
                &Transition::Started {
                    attempt: 2,
                    pod: &pod,
                    adopted,
                },
            )
        };
        assert_eq!(
            started(false).2,
            "Created runner Pod smoke-2 for test 220 (attempt 2)"
        );
        assert_eq!(
            started(true).2,
            "Adopted runner Pod smoke-2 for test 220 (attempt 2)"
        );
        let failed = Outcome::failed(1, reason::TESTS_FAILED, "exit code 1".into(), at(0));
        let (type_, reason, note) = event_of(
            &job,
            &Transition::Retrying {
                failed: &failed,
                max_attempts: 3,
                next_attempt_at: at(10),
            },
        );
        assert_eq!((type_, reason), (EventType::Warning, "AttemptFailed"));
        assert_eq!(
            note,
            format!(
                "attempt 1 of 3 failed: TestsFailed: exit code 1; retrying at {}",
                at(10)
            )
        );
    }

    #[test]
    fn a_finished_job_succeeds_is_cancelled_or_fails_with_its_reason() {
        let job = job();
        let status = TestJobStatus::default();
        let finished = |phase, reason_: &str| {
            let outcome = Outcome {
                phase,
                ..Outcome::failed(1, reason_, "the message".into(), at(0))
            };
            let (type_, reason, note) = event_of(
                &job,
                &Transition::Finished {
                    outcome: &outcome,
                    status: &status,
                },
            );
            (type_, reason, note)
        };
        assert_eq!(
            finished(Phase::Succeeded, reason::TESTS_PASSED),
            (EventType::Normal, "Succeeded", "the message".to_owned())
        );
        assert_eq!(
            finished(Phase::Cancelled, reason::CANCELLED),
            (EventType::Normal, "Cancelled", "the message".to_owned())
        );
        assert_eq!(
            finished(Phase::Failed, reason::POD_DELETED),
            (
                EventType::Warning,
                "Failed",
                "PodDeleted: the message".to_owned()
            )
        );
    }
}
