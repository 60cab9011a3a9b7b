//! The decision step of the reconcile pipeline: a pure function from a TestJob and the runner Pod
//! of its current attempt (as last read) to what should happen next. No client, no clock: the
//! caller passes `now`, so every phase × Pod state is unit-tested.

use std::time::Duration;

use k8s_openapi::{
    api::core::v1::{ContainerStateTerminated, ContainerStateWaiting, Pod},
    jiff::{SignedDuration, Timestamp},
};
use kube::ResourceExt;

pub use crate::outcome::{Outcome, reason};
use crate::{
    crd::Phase,
    crd::TestJob,
    outcome::{from_exit, terminated_at},
    pod::{RUNNER_CONTAINER, is_owned_by, pod_name},
    results::parse_report,
};

/// Container waiting reasons after which a runner will not start without outside help.
const STUCK_WAITING_REASONS: [&str; 6] = [
    "ImagePullBackOff",
    "ErrImagePull",
    "ErrImageNeverPull",
    "InvalidImageName",
    "CreateContainerConfigError",
    "CreateContainerError",
];

/// Reasons that describe a container exit rather than a Pod-level event; a Pod reporting one of
/// these is judged by its container's exit code.
const CONTAINER_LIKE_REASONS: [&str; 2] = ["Error", "Completed"];

/// Time limits the decision applies, from the operator's configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// How long a container may sit in an image-pull or config error before the job fails.
    pub start_grace: Duration,
    /// How long a Pod may stay unschedulable before the job fails.
    pub unschedulable_timeout: Duration,
    /// How often a Running job is looked at even without a watch event.
    pub resync: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            start_grace: Duration::from_secs(60),
            unschedulable_timeout: Duration::from_secs(300),
            resync: Duration::from_secs(60),
        }
    }
}

/// What the reconciler should do next.
#[derive(Clone, Debug, PartialEq)]
pub enum Decision {
    /// Create (or adopt) the runner Pod of `attempt`, then record the job as Running.
    Start {
        /// The attempt to start, from 1.
        attempt: i32,
    },
    /// The attempt is under way: look again after `requeue_after` (or on a watch event).
    Wait {
        /// When to look again.
        requeue_after: Duration,
    },
    /// The attempt is over: record the outcome.
    Finish(Outcome),
    /// The job is final; nothing to do.
    Done,
}

/// Decides the next step for `job`, given the runner Pod of its current attempt (`None` when
/// there is no such Pod) and the current time.
pub fn decide(job: &TestJob, pod: Option<&Pod>, now: Timestamp, policy: &Policy) -> Decision {
    let status = job.status.as_ref();
    let attempt = status.and_then(|s| s.attempt).unwrap_or(0);
    match status.and_then(|s| s.phase) {
        Some(Phase::Succeeded | Phase::Failed) => Decision::Done,
        None | Some(Phase::Pending) => Decision::Start {
            attempt: attempt.max(0) + 1,
        },
        Some(Phase::Running) => {
            let attempt = attempt.max(1);
            let name = status
                .and_then(|s| s.pod_name.clone())
                .unwrap_or_else(|| pod_name(&job.name_any(), attempt));
            match pod {
                None => Decision::Finish(Outcome::failed(
                    attempt,
                    reason::POD_DELETED,
                    format!("runner Pod {name} disappeared before it finished"),
                    now,
                )),
                Some(pod) if !is_owned_by(pod, job) => Decision::Finish(Outcome::failed(
                    attempt,
                    reason::POD_CONFLICT,
                    format!("Pod {name} exists but is not controlled by this TestJob"),
                    now,
                )),
                Some(pod) => observe_pod(attempt, &name, pod, now, policy),
            }
        }
    }
}

/// Decides from the state of a runner Pod that belongs to the job's current attempt.
fn observe_pod(attempt: i32, name: &str, pod: &Pod, now: Timestamp, policy: &Policy) -> Decision {
    let status = pod.status.as_ref();
    let runner = status
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|all| all.iter().find(|c| c.name == RUNNER_CONTAINER));
    let state = runner.and_then(|c| c.state.as_ref());
    let pod_phase = status.and_then(|s| s.phase.as_deref());
    let pod_reason = status.and_then(|s| s.reason.as_deref());

    // Pod-level failures (deadline, eviction) explain a killed container better than its exit code.
    if pod_phase == Some("Failed")
        && let Some(pod_reason) = pod_reason.filter(|r| !CONTAINER_LIKE_REASONS.contains(r))
    {
        let pod_message = status
            .and_then(|s| s.message.clone())
            .unwrap_or_else(|| format!("runner Pod {name} failed"));
        let terminated = state.and_then(|s| s.terminated.as_ref());
        let mut outcome = Outcome::failed(
            attempt,
            pod_reason,
            pod_message,
            terminated_at(terminated, now),
        );
        if let Some(terminated) = terminated {
            outcome.exit_code = Some(terminated.exit_code);
            outcome.results = parse_report(terminated.message.as_deref()).results;
        }
        return Decision::Finish(outcome);
    }

    if let Some(terminated) = state.and_then(|s| s.terminated.as_ref()) {
        if let Some(deleted) = deleted_before_finishing(pod, terminated) {
            let mut outcome = Outcome::failed(
                attempt,
                reason::POD_DELETED,
                format!(
                    "runner Pod {name} was deleted while running (exit code {})",
                    terminated.exit_code
                ),
                deleted.max(terminated_at(Some(terminated), now)),
            );
            outcome.exit_code = Some(terminated.exit_code);
            outcome.results = parse_report(terminated.message.as_deref()).results;
            return Decision::Finish(outcome);
        }
        return Decision::Finish(from_exit(attempt, terminated, now));
    }

    match pod_phase {
        Some("Failed") => {
            return Decision::Finish(Outcome::failed(
                attempt,
                reason::POD_FAILED,
                status
                    .and_then(|s| s.message.clone())
                    .unwrap_or_else(|| format!("runner Pod {name} failed without an exit code")),
                now,
            ));
        }
        Some("Succeeded") => {
            return Decision::Finish(Outcome {
                attempt,
                phase: Phase::Succeeded,
                reason: reason::NO_RESULTS.into(),
                message: format!("runner Pod {name} succeeded but reported no container status"),
                exit_code: None,
                results: vec![],
                finished_at: now,
            });
        }
        _ => {}
    }

    if pod.metadata.deletion_timestamp.is_some() {
        // Being deleted: it will either report a final container state or vanish soon.
        return Decision::Wait {
            requeue_after: Duration::from_secs(5),
        };
    }

    let created = pod.metadata.creation_timestamp.as_ref().map(|t| t.0);
    if let Some(waiting) = state.and_then(|s| s.waiting.as_ref())
        && let Some(stuck) = stuck_reason(waiting)
    {
        let since = created.unwrap_or(now);
        return match remaining(since, policy.start_grace, now) {
            None => Decision::Finish(Outcome::failed(
                attempt,
                stuck,
                format!(
                    "runner container cannot start: {stuck}{}",
                    waiting
                        .message
                        .as_deref()
                        .map(|m| format!(": {m}"))
                        .unwrap_or_default()
                ),
                now,
            )),
            Some(left) => Decision::Wait {
                requeue_after: left,
            },
        };
    }

    if let Some(scheduled) = status
        .and_then(|s| s.conditions.as_ref())
        .and_then(|all| all.iter().find(|c| c.type_ == "PodScheduled"))
        && scheduled.status == "False"
        && scheduled.reason.as_deref() == Some("Unschedulable")
    {
        let since = scheduled
            .last_transition_time
            .as_ref()
            .map(|t| t.0)
            .or(created)
            .unwrap_or(now);
        return match remaining(since, policy.unschedulable_timeout, now) {
            None => Decision::Finish(Outcome::failed(
                attempt,
                reason::UNSCHEDULABLE,
                format!(
                    "runner Pod {name} could not be scheduled for {}s: {}",
                    policy.unschedulable_timeout.as_secs(),
                    scheduled.message.as_deref().unwrap_or("no node fits")
                ),
                now,
            )),
            Some(left) => Decision::Wait {
                requeue_after: left,
            },
        };
    }

    Decision::Wait {
        requeue_after: policy.resync,
    }
}

fn stuck_reason(waiting: &ContainerStateWaiting) -> Option<&str> {
    waiting
        .reason
        .as_deref()
        .filter(|r| STUCK_WAITING_REASONS.contains(r))
}

/// When the Pod was deleted while its container was still running: the time of the deletion
/// request. `deletionTimestamp` is the request time plus the grace period.
fn deleted_before_finishing(pod: &Pod, terminated: &ContainerStateTerminated) -> Option<Timestamp> {
    let deadline = pod.metadata.deletion_timestamp.as_ref()?.0;
    let grace = pod.metadata.deletion_grace_period_seconds.unwrap_or(0);
    let requested = deadline
        .checked_sub(SignedDuration::from_secs(grace))
        .unwrap_or(deadline);
    match terminated.finished_at.as_ref() {
        Some(finished) if finished.0 < requested => None,
        _ => Some(requested),
    }
}

/// How much of `limit` is left since `since`, or `None` when it is used up.
fn remaining(since: Timestamp, limit: Duration, now: Timestamp) -> Option<Duration> {
    let elapsed = now.duration_since(since);
    let limit = SignedDuration::try_from(limit).unwrap_or(SignedDuration::MAX);
    let left = limit.checked_sub(elapsed).unwrap_or(SignedDuration::ZERO);
    if left <= SignedDuration::ZERO {
        None
    } else {
        Duration::try_from(left).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        crd::{TestId, TestJobSpec, TestJobStatus},
        pod::{RunnerDefaults, build_runner_pod},
    };
    use serde_json::{Value, json};

    const T0: i64 = 1_750_000_000;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(T0 + secs).expect("valid timestamp")
    }

    fn rfc3339(secs: i64) -> String {
        at(secs).to_string()
    }

    fn job(phase: Option<Phase>, attempt: Option<i32>) -> TestJob {
        let mut job = TestJob::new(
            "checkout",
            TestJobSpec {
                test_id: TestId::Int(220),
                runner: None,
            },
        );
        job.metadata.namespace = Some("ns".into());
        job.metadata.uid = Some("job-uid".into());
        job.status = Some(TestJobStatus {
            phase,
            attempt,
            pod_name: attempt.map(|a| format!("checkout-{a}")),
            ..TestJobStatus::default()
        });
        job
    }

    fn running() -> TestJob {
        job(Some(Phase::Running), Some(1))
    }

    /// The job's own runner Pod, created at t=0, with `status` as its status.
    fn pod(status: Value) -> Pod {
        let defaults = RunnerDefaults {
            image: "busybox:1.37".into(),
            command: vec!["true".into()],
        };
        let mut pod = build_runner_pod(&running(), 1, &defaults).expect("pod builds");
        pod.metadata.creation_timestamp =
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(at(0)));
        pod.status = Some(serde_json::from_value(status).expect("valid pod status"));
        pod
    }

    fn runner_state(state: Value) -> Value {
        json!([{"name": "runner", "image": "busybox", "imageID": "", "ready": false,
                "restartCount": 0, "state": state}])
    }

    fn terminated(phase: &str, exit_code: i32, message: Option<&str>) -> Pod {
        pod(json!({
            "phase": phase,
            "containerStatuses": runner_state(json!({"terminated": {
                "exitCode": exit_code,
                "reason": if exit_code == 0 { "Completed" } else { "Error" },
                "message": message,
                "startedAt": rfc3339(1),
                "finishedAt": rfc3339(30),
            }})),
        }))
    }

    fn waiting(reason: &str) -> Pod {
        pod(json!({
            "phase": "Pending",
            "containerStatuses": runner_state(json!({"waiting": {"reason": reason, "message": "details"}})),
        }))
    }

    fn decide_at(job: &TestJob, pod: Option<&Pod>, secs: i64) -> Decision {
        decide(job, pod, at(secs), &Policy::default())
    }

    fn finished(decision: Decision) -> Outcome {
        match decision {
            Decision::Finish(outcome) => outcome,
            other => panic!("expected Finish, got {other:?}"),
        }
    }

    #[test]
    fn new_job_starts_attempt_one() {
        let mut fresh = job(None, None);
        fresh.status = None;
        assert_eq!(decide_at(&fresh, None, 0), Decision::Start { attempt: 1 });
        assert_eq!(
            decide_at(&job(None, None), None, 0),
            Decision::Start { attempt: 1 }
        );
        assert_eq!(
            decide_at(&job(Some(Phase::Pending), None), None, 0),
            Decision::Start { attempt: 1 }
        );
        // A Pending job that already used an attempt moves on to the next one.
        assert_eq!(
            decide_at(&job(Some(Phase::Pending), Some(1)), None, 0),
            Decision::Start { attempt: 2 }
        );
    }

    #[test]
    fn final_jobs_are_done_whatever_the_pod() {
        let alive = pod(json!({"phase": "Running"}));
        for phase in [Phase::Succeeded, Phase::Failed] {
            let job = job(Some(phase), Some(1));
            assert_eq!(decide_at(&job, None, 0), Decision::Done);
            assert_eq!(decide_at(&job, Some(&alive), 0), Decision::Done);
        }
    }

    #[test]
    fn running_without_pod_fails_as_deleted() {
        let outcome = finished(decide_at(&running(), None, 5));
        assert_eq!(outcome.phase, Phase::Failed);
        assert_eq!(outcome.reason, reason::POD_DELETED);
        assert!(
            outcome.message.contains("checkout-1"),
            "{}",
            outcome.message
        );
        assert_eq!(outcome.finished_at, at(5));
        assert_eq!(outcome.attempt, 1);
    }

    #[test]
    fn foreign_pod_is_a_conflict() {
        let mut foreign = pod(json!({"phase": "Running"}));
        foreign.metadata.owner_references = None;
        let outcome = finished(decide_at(&running(), Some(&foreign), 0));
        assert_eq!(outcome.reason, reason::POD_CONFLICT);
    }

    #[test]
    fn live_pods_are_waited_on() {
        let policy = Policy::default();
        for status in [
            json!({}),
            json!({"phase": "Pending"}),
            json!({"phase": "Pending", "containerStatuses": runner_state(json!({"waiting": {"reason": "ContainerCreating"}}))}),
            json!({"phase": "Running", "containerStatuses": runner_state(json!({"running": {"startedAt": rfc3339(1)}}))}),
            json!({"phase": "Unknown"}),
        ] {
            assert_eq!(
                decide_at(&running(), Some(&pod(status.clone())), 10),
                Decision::Wait {
                    requeue_after: policy.resync
                },
                "{status}"
            );
        }
    }

    #[test]
    fn exited_runners_finish_by_exit_code() {
        let results = r#"{"results":[{"name":"a","status":"passed"}]}"#;
        let passed = finished(decide_at(
            &running(),
            Some(&terminated("Succeeded", 0, Some(results))),
            40,
        ));
        assert_eq!((passed.phase, passed.results.len()), (Phase::Succeeded, 1));
        let failed = finished(decide_at(
            &running(),
            Some(&terminated("Failed", 1, Some(results))),
            40,
        ));
        assert_eq!((failed.phase, failed.exit_code), (Phase::Failed, Some(1)));
        // The container state counts even before the Pod phase catches up.
        let early = finished(decide_at(
            &running(),
            Some(&terminated("Running", 0, None)),
            40,
        ));
        assert_eq!(early.phase, Phase::Succeeded);
    }

    #[test]
    fn pod_level_failures_win_over_exit_codes() {
        let mut deadline = terminated("Failed", 137, None);
        if let Some(status) = deadline.status.as_mut() {
            status.reason = Some("DeadlineExceeded".into());
            status.message =
                Some("Pod was active on the node longer than the specified deadline".into());
        }
        let outcome = finished(decide_at(&running(), Some(&deadline), 40));
        assert_eq!(outcome.reason, "DeadlineExceeded");
        assert_eq!(outcome.exit_code, Some(137));
        assert!(outcome.message.contains("deadline"));

        let evicted =
            pod(json!({"phase": "Failed", "reason": "Evicted", "message": "low on memory"}));
        let outcome = finished(decide_at(&running(), Some(&evicted), 40));
        assert_eq!(
            (outcome.reason.as_str(), outcome.message.as_str()),
            ("Evicted", "low on memory")
        );
        assert_eq!(outcome.finished_at, at(40));

        // A container-like reason on the Pod does not hide the exit code.
        let mut plain = terminated("Failed", 1, None);
        if let Some(status) = plain.status.as_mut() {
            status.reason = Some("Error".into());
        }
        assert_eq!(
            finished(decide_at(&running(), Some(&plain), 40)).reason,
            reason::TESTS_FAILED
        );
    }

    #[test]
    fn finished_pods_without_container_status() {
        let failed = finished(decide_at(
            &running(),
            Some(&pod(json!({"phase": "Failed"}))),
            40,
        ));
        assert_eq!(
            (failed.phase, failed.reason.as_str()),
            (Phase::Failed, reason::POD_FAILED)
        );
        let succeeded = finished(decide_at(
            &running(),
            Some(&pod(json!({"phase": "Succeeded"}))),
            40,
        ));
        assert_eq!(succeeded.phase, Phase::Succeeded);
        assert_eq!(succeeded.reason, reason::NO_RESULTS);
    }

    #[test]
    fn stuck_containers_fail_after_the_grace_period() {
        for stuck in STUCK_WAITING_REASONS {
            let pod = waiting(stuck);
            assert_eq!(
                decide_at(&running(), Some(&pod), 20),
                Decision::Wait {
                    requeue_after: Duration::from_secs(40)
                },
                "{stuck} within grace"
            );
            let outcome = finished(decide_at(&running(), Some(&pod), 60));
            assert_eq!(outcome.reason, stuck);
            assert_eq!(outcome.phase, Phase::Failed);
            assert_eq!(
                outcome.message,
                format!("runner container cannot start: {stuck}: details")
            );
        }
    }

    #[test]
    fn unschedulable_pods_fail_after_the_timeout() {
        let pod = pod(json!({
            "phase": "Pending",
            "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                            "message": "0/3 nodes are available", "lastTransitionTime": rfc3339(10)}],
        }));
        assert_eq!(
            decide_at(&running(), Some(&pod), 100),
            Decision::Wait {
                requeue_after: Duration::from_secs(210)
            }
        );
        let outcome = finished(decide_at(&running(), Some(&pod), 310));
        assert_eq!(outcome.reason, reason::UNSCHEDULABLE);
        assert!(
            outcome.message.contains("0/3 nodes are available"),
            "{}",
            outcome.message
        );
    }

    #[test]
    fn deleted_pods() {
        let mut deleting = pod(json!({"phase": "Running"}));
        deleting.metadata.deletion_timestamp =
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(at(40)));
        deleting.metadata.deletion_grace_period_seconds = Some(30);
        assert!(matches!(
            decide_at(&running(), Some(&deleting), 15),
            Decision::Wait { .. }
        ));

        // Killed by the deletion (requested at t=10, container finished at t=30).
        let mut killed = terminated("Failed", 143, None);
        killed.metadata.deletion_timestamp = deleting.metadata.deletion_timestamp.clone();
        killed.metadata.deletion_grace_period_seconds = Some(30);
        let outcome = finished(decide_at(&running(), Some(&killed), 35));
        assert_eq!(outcome.reason, reason::POD_DELETED);
        assert_eq!(outcome.exit_code, Some(143));

        // Finished (t=30) before the deletion was requested (t=50): the real result counts.
        let mut done = terminated("Succeeded", 0, Some(r#"{"results":[]}"#));
        done.metadata.deletion_timestamp =
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(at(80)));
        done.metadata.deletion_grace_period_seconds = Some(30);
        assert_eq!(
            finished(decide_at(&running(), Some(&done), 60)).phase,
            Phase::Succeeded
        );
    }

    #[test]
    fn remaining_time() {
        assert_eq!(
            remaining(at(0), Duration::from_secs(10), at(4)),
            Some(Duration::from_secs(6))
        );
        assert_eq!(remaining(at(0), Duration::from_secs(10), at(10)), None);
        assert_eq!(remaining(at(0), Duration::ZERO, at(0)), None);
    }
}
