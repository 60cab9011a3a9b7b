//! The decision table: every phase × Pod state × policy, at fixed times.

use super::fixtures::*;
use super::*;
use crate::crd::{PodCleanup, TestJobStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde_json::json;

fn with_spec(mut job: TestJob, edit: impl FnOnce(&mut crate::crd::TestJobSpec)) -> TestJob {
    edit(&mut job.spec);
    job
}

fn cancelling(job: TestJob) -> TestJob {
    with_spec(job, |s| s.cancel = Some(true))
}

fn retrying(job: TestJob, retries: i32) -> TestJob {
    with_spec(job, |s| s.retries = Some(retries))
}

/// A Running job between attempt `attempt` and the next, due at t=`next`.
fn in_backoff(attempt: i32, next: i64) -> TestJob {
    let mut job = job(Some(Phase::Running), Some(attempt));
    if let Some(status) = job.status.as_mut() {
        status.next_attempt_time = Some(Time(at(next)));
    }
    job
}

fn retried(decision: Decision) -> (Outcome, Timestamp) {
    match decision {
        Decision::Retry {
            failed,
            next_attempt_at,
        } => (failed, next_attempt_at),
        other => panic!("expected Retry, got {other:?}"),
    }
}

/// A decision in a few words, for the table below.
fn summary(decision: &Decision) -> String {
    match decision {
        Decision::Start { attempt } => format!("Start {attempt}"),
        Decision::Wait { .. } => "Wait".into(),
        Decision::StopPod { .. } => "StopPod".into(),
        Decision::Retry { failed, .. } => format!("Retry {}", failed.reason),
        Decision::Finish(outcome) => format!("Finish {} {}", outcome.phase, outcome.reason),
        Decision::CleanUp => "CleanUp".into(),
        Decision::Expire => "Expire".into(),
        Decision::Done => "Done".into(),
    }
}

#[test]
fn every_phase_by_every_event() {
    let passed = terminated("Succeeded", 0, Some(r#"{"results":[]}"#));
    let failed = terminated("Failed", 1, None);
    let timed_out = deadline_exceeded();
    let live = alive();
    // (event, cancel, retries, Pod)
    let events: [(&str, bool, i32, Option<&Pod>); 8] = [
        ("no Pod", false, 0, None),
        ("live Pod", false, 0, Some(&live)),
        ("passed", false, 0, Some(&passed)),
        ("failed", false, 0, Some(&failed)),
        ("timed out", false, 0, Some(&timed_out)),
        ("failed, retries left", false, 1, Some(&failed)),
        ("cancel, live Pod", true, 0, Some(&live)),
        ("cancel, no Pod", true, 0, None),
    ];
    let expected: [(Option<Phase>, [&str; 8]); 6] = [
        (
            None,
            [
                "Start 1",
                "Start 1",
                "Start 1",
                "Start 1",
                "Start 1",
                "Start 1",
                "Finish Cancelled Cancelled",
                "Finish Cancelled Cancelled",
            ],
        ),
        (
            Some(Phase::Pending),
            [
                "Start 1",
                "Start 1",
                "Start 1",
                "Start 1",
                "Start 1",
                "Start 1",
                "Finish Cancelled Cancelled",
                "Finish Cancelled Cancelled",
            ],
        ),
        (
            Some(Phase::Running),
            [
                "Finish Failed PodDeleted",
                "Wait",
                "Finish Succeeded TestsPassed",
                "Finish Failed TestsFailed",
                "Finish Failed Timeout",
                "Retry TestsFailed",
                "StopPod",
                "Finish Cancelled Cancelled",
            ],
        ),
        (
            Some(Phase::Succeeded),
            [
                "Done", "CleanUp", "CleanUp", "CleanUp", "CleanUp", "CleanUp", "CleanUp", "Done",
            ],
        ),
        (Some(Phase::Failed), ["Done"; 8]),
        (Some(Phase::Cancelled), ["Done"; 8]),
    ];
    for (phase, outcomes) in expected {
        for ((event, cancel, retries, pod), want) in events.iter().zip(outcomes) {
            let mut job = match phase {
                Some(Phase::Running) => running(),
                Some(done) if done.is_terminal() => finished_job(done),
                other => job(other, None),
            };
            job.spec.cancel = cancel.then_some(true);
            job.spec.retries = Some(*retries);
            let got = summary(&decide_at(&job, *pod, 200));
            assert_eq!(got, want, "{phase:?} × {event}");
        }
    }
}

#[test]
fn new_and_pending_jobs_start_the_next_attempt() {
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
fn cancelled_before_starting_never_starts() {
    let mut fresh = cancelling(job(None, None));
    fresh.status = None;
    for (job, attempt) in [
        (fresh, 0),
        (cancelling(job(Some(Phase::Pending), None)), 0),
        (cancelling(job(Some(Phase::Pending), Some(2))), 2),
    ] {
        let outcome = finished(decide_at(&job, None, 7));
        assert_eq!(outcome.phase, Phase::Cancelled);
        assert_eq!(outcome.reason, reason::CANCELLED);
        assert_eq!(outcome.attempt, attempt);
        assert_eq!(
            outcome.message,
            "cancelled by spec.cancel before it started"
        );
        assert_eq!(outcome.finished_at, at(7));
        assert!(!outcome.stop_pod);
    }
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
    assert_eq!(failed.message, "runner exited with code 1");
    // The container state counts even before the Pod phase catches up.
    let early = finished(decide_at(
        &running(),
        Some(&terminated("Running", 0, None)),
        40,
    ));
    assert_eq!(early.phase, Phase::Succeeded);
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
    assert_eq!((outcome.finished_at, outcome.attempt), (at(5), 1));
}

#[test]
fn foreign_pod_is_a_conflict() {
    let mut foreign = alive();
    foreign.metadata.owner_references = None;
    let outcome = finished(decide_at(&running(), Some(&foreign), 0));
    assert_eq!(outcome.reason, reason::POD_CONFLICT);
}

#[test]
fn timeouts_fail_with_reason_timeout() {
    let outcome = finished(decide_at(&running(), Some(&deadline_exceeded()), 40));
    assert_eq!(
        (outcome.phase, outcome.reason.as_str()),
        (Phase::Failed, reason::TIMEOUT)
    );
    assert_eq!(
        outcome.message,
        "the attempt ran longer than its time limit of 20s"
    );
    assert_eq!(
        (outcome.exit_code, outcome.finished_at),
        (Some(143), at(30))
    );
    assert!(!outcome.stop_pod, "the kubelet already stopped it");
}

#[test]
fn the_controller_enforces_timeouts_the_kubelet_missed() {
    // Started at t=1 with a 20s limit and the default 30s grace: the kubelet had until t=51,
    // the controller gives it 15s more.
    let late = with_deadline(alive(), 20);
    assert_eq!(
        decide_at(&running(), Some(&late), 30),
        Decision::Wait {
            requeue_after: Duration::from_secs(36)
        }
    );
    let outcome = finished(decide_at(&running(), Some(&late), 66));
    assert_eq!(outcome.reason, reason::TIMEOUT);
    assert!(outcome.stop_pod);
    assert_eq!(outcome.exit_code, None);

    // A Pod that never reached a node is measured from its creation (t=0).
    let unscheduled = with_deadline(pod(json!({"phase": "Pending"})), 20);
    assert_eq!(
        decide_at(&running(), Some(&unscheduled), 30),
        Decision::Wait {
            requeue_after: Duration::from_secs(5)
        }
    );
    assert!(finished(decide_at(&running(), Some(&unscheduled), 35)).stop_pod);
}

#[test]
fn failed_attempts_are_retried_after_a_doubling_backoff() {
    let job = retrying(running(), 2);
    let (failed, next) = retried(decide_at(&job, Some(&terminated("Failed", 1, None)), 40));
    assert_eq!((failed.attempt, failed.exit_code), (1, Some(1)));
    assert_eq!(next, at(30 + 10), "10s after the runner ended at t=30");

    let second = retrying(job_at(2), 2);
    let (failed, next) = retried(decide_at(&second, Some(&terminated("Failed", 1, None)), 40));
    assert_eq!(failed.attempt, 2);
    assert_eq!(next, at(30 + 20));

    // The last attempt's verdict is final and says which attempt it was.
    let last = finished(decide_at(
        &retrying(job_at(3), 2),
        Some(&terminated("Failed", 1, None)),
        40,
    ));
    assert_eq!((last.phase, last.attempt), (Phase::Failed, 3));
    assert_eq!(
        last.message,
        "runner exited with code 1; no results file was written (attempt 3 of 3)"
    );

    // Success ends the job at any attempt.
    let passed = finished(decide_at(
        &retrying(job_at(2), 2),
        Some(&terminated("Succeeded", 0, None)),
        40,
    ));
    assert_eq!(passed.phase, Phase::Succeeded);
}

fn job_at(attempt: i32) -> TestJob {
    job(Some(Phase::Running), Some(attempt))
}

#[test]
fn timeouts_deletions_and_conflicts_are_retried_but_rejected_pods_are_not() {
    let job = retrying(running(), 1);
    assert_eq!(
        retried(decide_at(&job, Some(&deadline_exceeded()), 40))
            .0
            .reason,
        reason::TIMEOUT
    );
    assert_eq!(
        retried(decide_at(&job, None, 40)).0.reason,
        reason::POD_DELETED
    );
    let mut foreign = alive();
    foreign.metadata.owner_references = None;
    assert_eq!(
        retried(decide_at(&job, Some(&foreign), 40)).0.reason,
        reason::POD_CONFLICT
    );
    // A job at attempt 1 with no retries left finishes.
    assert!(matches!(
        decide_at(&running(), None, 40),
        Decision::Finish(_)
    ));
    // A refused Pod spec is not retried (the controller reaches after_attempt directly).
    let rejected = Outcome::failed(1, reason::POD_REJECTED, "no".into(), at(0));
    assert!(matches!(
        after_attempt(&job, rejected, &Policy::default()),
        Decision::Finish(_)
    ));
}

#[test]
fn retry_on_infrastructure_retries_pod_failures_but_not_test_failures_or_timeouts() {
    let job = with_spec(retrying(running(), 2), |s| {
        s.retry_on = Some(crate::crd::RetryOn::Infrastructure)
    });
    // The tests failed, or ran out of time: final.
    let failed = finished(decide_at(&job, Some(&terminated("Failed", 1, None)), 40));
    assert_eq!(
        (failed.phase, failed.reason.as_str()),
        (Phase::Failed, reason::TESTS_FAILED)
    );
    let timeout = finished(decide_at(&job, Some(&deadline_exceeded()), 40));
    assert_eq!(timeout.reason, reason::TIMEOUT);
    // The Pod went away, was OOM-killed, or could not start: retried.
    assert_eq!(
        retried(decide_at(&job, None, 40)).0.reason,
        reason::POD_DELETED
    );
    let mut oom = terminated("Failed", 137, None);
    if let Some(terminated) = oom
        .status
        .as_mut()
        .and_then(|s| s.container_statuses.as_mut())
        .and_then(|c| c.first_mut())
        .and_then(|c| c.state.as_mut())
        .and_then(|s| s.terminated.as_mut())
    {
        terminated.reason = Some(reason::OOM_KILLED.into());
    }
    assert_eq!(
        retried(decide_at(&job, Some(&oom), 40)).0.reason,
        reason::OOM_KILLED
    );
    for infrastructure in [
        reason::POD_FAILED,
        reason::UNSCHEDULABLE,
        "ImagePullBackOff",
    ] {
        let outcome = Outcome::failed(1, infrastructure, "x".into(), at(30));
        assert!(
            matches!(
                after_attempt(&job, outcome, &Policy::default()),
                Decision::Retry { .. }
            ),
            "{infrastructure}"
        );
    }
    let conflict = Outcome::failed(1, reason::POD_CONFLICT, "x".into(), at(30));
    assert!(matches!(
        after_attempt(&job, conflict, &Policy::default()),
        Decision::Finish(_)
    ));
    // `Always` (the default) retries the test failure.
    let always = with_spec(job, |s| s.retry_on = Some(crate::crd::RetryOn::Always));
    let (failed, _) = retried(decide_at(&always, Some(&terminated("Failed", 1, None)), 40));
    assert_eq!(failed.reason, reason::TESTS_FAILED);
}

#[test]
fn default_retries_come_from_the_policy() {
    let policy = Policy {
        retries: 1,
        ..Policy::default()
    };
    let decision = decide(
        &running(),
        Some(&terminated("Failed", 1, None)),
        at(40),
        &policy,
    );
    assert!(matches!(decision, Decision::Retry { .. }), "{decision:?}");
    // A job's own setting wins, also when it is 0.
    let decision = decide(
        &retrying(running(), 0),
        Some(&terminated("Failed", 1, None)),
        at(40),
        &policy,
    );
    assert!(matches!(decision, Decision::Finish(_)), "{decision:?}");
}

#[test]
fn backoff_doubles_up_to_the_limit() {
    let policy = Policy::default();
    let secs = |attempt| policy.backoff(attempt).as_secs();
    assert_eq!(
        [secs(1), secs(2), secs(3), secs(5), secs(6), secs(100)],
        [10, 20, 40, 160, 300, 300]
    );
    let fast = Policy {
        retry_backoff: Duration::from_millis(500),
        max_retry_backoff: Duration::from_secs(1),
        ..Policy::default()
    };
    assert_eq!(fast.backoff(1), Duration::from_millis(500));
    assert_eq!(fast.backoff(3), Duration::from_secs(1));
    assert_eq!(fast.backoff(0), Duration::from_millis(500));
}

#[test]
fn between_attempts_the_job_waits_then_starts_the_next() {
    let job = in_backoff(1, 50);
    assert_eq!(
        decide_at(&job, None, 42),
        Decision::Wait {
            requeue_after: Duration::from_secs(8)
        }
    );
    assert_eq!(decide_at(&job, None, 50), Decision::Start { attempt: 2 });
    // The failed attempt's Pod does not matter any more.
    assert_eq!(
        decide_at(&job, Some(&terminated("Failed", 1, None)), 60),
        Decision::Start { attempt: 2 }
    );
    let outcome = finished(decide_at(&cancelling(job), None, 45));
    assert_eq!(outcome.phase, Phase::Cancelled);
    assert_eq!(
        outcome.message,
        "cancelled by spec.cancel after attempt 1 failed, before attempt 2 started"
    );
}

#[test]
fn cancelling_a_running_job_stops_its_pod_and_keeps_it() {
    let job = cancelling(running());
    assert_eq!(
        decide_at(&job, Some(&alive()), 10),
        Decision::StopPod {
            pod: "checkout-1".into()
        }
    );
    assert_eq!(
        decide_at(&job, Some(&with_deadline(alive(), 3600)), 10),
        Decision::StopPod {
            pod: "checkout-1".into()
        }
    );
    // Already asked to stop: wait for the Pod to end.
    assert!(matches!(
        decide_at(&job, Some(&with_deadline(alive(), 1)), 10),
        Decision::Wait { .. }
    ));
    let mut deleting = alive();
    deleting.metadata.deletion_timestamp = Some(Time(at(40)));
    assert!(matches!(
        decide_at(&job, Some(&deleting), 10),
        Decision::Wait { .. }
    ));

    // Stopped: Cancelled, with what the runner left.
    let mut stopped = deadline_exceeded();
    if let Some(spec) = stopped.spec.as_mut() {
        spec.active_deadline_seconds = Some(1);
    }
    let outcome = finished(decide_at(&job, Some(&stopped), 40));
    assert_eq!(
        (outcome.phase, outcome.reason.as_str()),
        (Phase::Cancelled, reason::CANCELLED)
    );
    assert_eq!(outcome.exit_code, Some(143));
    assert_eq!(
        outcome.message,
        "cancelled by spec.cancel during attempt 1: runner Pod checkout-1 ended with exit code 143"
    );
    assert!(!outcome.stop_pod);

    // A runner that finished on its own before the stop took effect: still Cancelled.
    let done = finished(decide_at(&job, Some(&terminated("Succeeded", 0, None)), 40));
    assert_eq!(done.phase, Phase::Cancelled);

    // No retry after a cancel, even with retries left.
    let outcome = finished(decide_at(&retrying(job.clone(), 3), None, 40));
    assert_eq!(outcome.phase, Phase::Cancelled);
    assert!(
        outcome.message.contains("disappeared"),
        "{}",
        outcome.message
    );
}

#[test]
fn cancelling_before_the_pod_started_ends_at_once() {
    let job = cancelling(running());
    let outcome = finished(decide_at(&job, Some(&pod(json!({"phase": "Pending"}))), 10));
    assert_eq!(outcome.phase, Phase::Cancelled);
    assert!(outcome.stop_pod, "the unstarted Pod must go");
    assert_eq!(
        outcome.message,
        "cancelled by spec.cancel before runner Pod checkout-1 started"
    );
}

#[test]
fn final_jobs_clean_up_their_pods_by_policy() {
    let left = terminated("Succeeded", 0, None);
    let cases = [
        (Phase::Succeeded, None, true),
        (Phase::Failed, None, false),
        (Phase::Cancelled, None, false),
        (Phase::Succeeded, Some(PodCleanup::Never), false),
        (Phase::Failed, Some(PodCleanup::Never), false),
        (Phase::Succeeded, Some(PodCleanup::OnSuccess), true),
        (Phase::Failed, Some(PodCleanup::Always), true),
        (Phase::Cancelled, Some(PodCleanup::Always), true),
    ];
    for (phase, cleanup, deletes) in cases {
        let job = with_spec(finished_job(phase), |s| s.pod_cleanup = cleanup);
        let expected = if deletes {
            Decision::CleanUp
        } else {
            Decision::Done
        };
        assert_eq!(
            decide_at(&job, Some(&left), 200),
            expected,
            "{phase} {cleanup:?}"
        );
        // Without a Pod (or without looking) there is nothing to clean.
        assert_eq!(decide_at(&job, None, 200), Decision::Done);
        // Cancel on a finished job changes nothing.
        assert_eq!(
            decide_at(&cancelling(job.clone()), None, 200),
            Decision::Done
        );
    }
    let job = finished_job(Phase::Succeeded);
    let mut going = left.clone();
    going.metadata.deletion_timestamp = Some(Time(at(150)));
    assert_eq!(decide_at(&job, Some(&going), 200), Decision::Done);
    let mut foreign = left.clone();
    foreign.metadata.owner_references = None;
    assert_eq!(decide_at(&job, Some(&foreign), 200), Decision::Done);
    let policy = Policy {
        pod_cleanup: PodCleanup::Never,
        ..Policy::default()
    };
    assert_eq!(decide(&job, Some(&left), at(200), &policy), Decision::Done);
}

#[test]
fn finished_jobs_expire_after_their_ttl() {
    for phase in [Phase::Succeeded, Phase::Failed, Phase::Cancelled] {
        let job = with_spec(finished_job(phase), |s| {
            s.ttl_seconds_after_finished = Some(60)
        });
        assert_eq!(
            decide_at(&job, None, 110),
            Decision::Wait {
                requeue_after: Duration::from_secs(50)
            }
        );
        assert_eq!(decide_at(&job, None, 160), Decision::Expire);
        // Pods are cleaned up before the job goes.
        assert_eq!(
            decide_at(&job, Some(&terminated("Succeeded", 0, None)), 160),
            if phase == Phase::Succeeded {
                Decision::CleanUp
            } else {
                Decision::Expire
            }
        );
    }
    let at_once = with_spec(finished_job(Phase::Failed), |s| {
        s.ttl_seconds_after_finished = Some(0)
    });
    assert_eq!(decide_at(&at_once, None, 100), Decision::Expire);
    let policy = Policy {
        ttl_after_finished: Some(Duration::from_secs(10)),
        ..Policy::default()
    };
    let job = finished_job(Phase::Succeeded);
    assert_eq!(decide(&job, None, at(111), &policy), Decision::Expire);
    assert_eq!(
        decide_at(&job, None, 100_000),
        Decision::Done,
        "kept without a TTL"
    );
    let mut undated = job.clone();
    undated.status = Some(Box::new(TestJobStatus {
        phase: Some(Phase::Succeeded),
        ..TestJobStatus::default()
    }));
    assert_eq!(decide(&undated, None, at(111), &policy), Decision::Done);
}
