//! Building the TestJob status the controller writes: the Running status of a new attempt and the
//! final status of a finished one, with Kubernetes-style conditions and a human duration.
//! Pure functions; the controller writes their output with optimistic concurrency.

use k8s_openapi::{
    apimachinery::pkg::apis::meta::v1::{Condition, Time},
    jiff::{SignedDuration, Timestamp},
};

use crate::{
    crd::{AttemptStatus, Phase, TestJob, TestJobStatus},
    outcome::{Outcome, reason},
};

/// Condition types on a TestJob.
pub mod condition {
    /// True while the runner Pod of the current attempt runs.
    pub const RUNNING: &str = "Running";
    /// True once the job succeeded (`kubectl wait --for=condition=Complete`).
    pub const COMPLETE: &str = "Complete";
    /// True once the job failed (`kubectl wait --for=condition=Failed`).
    pub const FAILED: &str = "Failed";
    /// True once `spec.cancel` stopped the job (`kubectl wait --for=condition=Cancelled`).
    pub const CANCELLED: &str = "Cancelled";
    /// True while the job waits for a run slot (`--max-running`); set once on entering the queue.
    pub const QUEUED: &str = "Queued";
}

/// The verdict conditions: at most one of them is present, on a finished job.
const VERDICTS: [&str; 3] = [condition::COMPLETE, condition::FAILED, condition::CANCELLED];

/// The status of a job that waits for one of the `limit` run slots, all taken by `running` jobs.
pub fn queued_status(job: &TestJob, running: usize, limit: usize, now: Timestamp) -> TestJobStatus {
    let generation = job.metadata.generation;
    let previous = previous(job);
    let mut conditions = previous.conditions.clone();
    let message = format!("Queued: {running} running, limit {limit}");
    set_condition(
        &mut conditions,
        condition::QUEUED,
        true,
        reason::MAX_RUNNING,
        &message,
        generation,
        now,
    );
    TestJobStatus {
        phase: Some(Phase::Pending),
        test_id: Some(job.spec.test_id.to_string()),
        message: Some(message),
        conditions,
        observed_generation: generation,
        ..previous
    }
}

/// Whether `job` already says it is queued (so entering the queue again writes nothing).
pub fn is_queued(job: &TestJob) -> bool {
    job.status.as_ref().is_some_and(|s| {
        s.conditions
            .iter()
            .any(|c| c.type_ == condition::QUEUED && c.status == "True")
    })
}

/// The status of a Running job whose attempt `failed`: the next of `max_attempts` attempts starts
/// at `next_attempt_at`.
pub fn retry_status(
    job: &TestJob,
    failed: &Outcome,
    max_attempts: i32,
    next_attempt_at: Timestamp,
    now: Timestamp,
) -> TestJobStatus {
    let generation = job.metadata.generation;
    let previous = previous(job);
    let mut conditions = previous.conditions.clone();
    let message = format!(
        "attempt {} failed ({}: {}); attempt {} of {max_attempts} starts in {}",
        failed.attempt,
        failed.reason,
        failed.message,
        failed.attempt + 1,
        format_duration(next_attempt_at.duration_since(now))
    );
    set_condition(
        &mut conditions,
        condition::RUNNING,
        true,
        reason::RETRY_BACKOFF,
        &message,
        generation,
        now,
    );
    let mut attempts = previous.attempts.clone();
    record_end(&mut attempts, &previous, failed);
    TestJobStatus {
        phase: Some(Phase::Running),
        test_id: Some(job.spec.test_id.to_string()),
        attempt: Some(failed.attempt),
        attempts,
        next_attempt_time: Some(Time(next_attempt_at)),
        exit_code: failed.exit_code,
        message: Some(message),
        conditions,
        observed_generation: generation,
        ..previous
    }
}

/// The status recording that `attempt` started with runner Pod `pod_name` at `start_time`.
pub fn running_status(
    job: &TestJob,
    attempt: i32,
    pod_name: &str,
    start_time: Timestamp,
    now: Timestamp,
) -> TestJobStatus {
    let generation = job.metadata.generation;
    let previous = previous(job);
    let mut conditions = previous.conditions;
    let mut attempts = previous.attempts;
    // Undelivered notifications of earlier attempts stay until the notifier delivers them.
    let pending_notifications = previous.pending_notifications;
    attempts.retain(|a| a.attempt != attempt);
    attempts.push(AttemptStatus {
        attempt,
        pod_name: Some(pod_name.to_owned()),
        phase: Some(Phase::Running),
        start_time: Some(Time(start_time)),
        ..AttemptStatus::default()
    });
    attempts.sort_by_key(|a| a.attempt);
    // A new attempt starts with a clean slate: no verdict from an earlier one.
    conditions.retain(|c| !VERDICTS.contains(&c.type_.as_str()));
    let message = format!("runner Pod {pod_name} started (attempt {attempt})");
    leave_queue(
        &mut conditions,
        reason::SLOT_ASSIGNED,
        "a run slot was assigned",
        generation,
        now,
    );
    set_condition(
        &mut conditions,
        condition::RUNNING,
        true,
        reason::POD_CREATED,
        &message,
        generation,
        now,
    );
    TestJobStatus {
        phase: Some(Phase::Running),
        test_id: Some(job.spec.test_id.to_string()),
        attempt: Some(attempt),
        pod_name: Some(pod_name.to_owned()),
        start_time: Some(Time(start_time)),
        attempts,
        pending_notifications,
        message: Some(message),
        conditions,
        observed_generation: generation,
        ..TestJobStatus::default()
    }
}

/// The final status of the job's current attempt, from its `outcome`.
pub fn finished_status(job: &TestJob, outcome: &Outcome, now: Timestamp) -> TestJobStatus {
    let generation = job.metadata.generation;
    let previous = previous(job);
    let mut conditions = previous.conditions.clone();
    set_condition(
        &mut conditions,
        condition::RUNNING,
        false,
        &outcome.reason,
        "the runner finished",
        generation,
        now,
    );
    leave_queue(
        &mut conditions,
        &outcome.reason,
        &outcome.message,
        generation,
        now,
    );
    let verdict = match outcome.phase {
        Phase::Succeeded => condition::COMPLETE,
        Phase::Cancelled => condition::CANCELLED,
        _ => condition::FAILED,
    };
    conditions.retain(|c| c.type_ == verdict || !VERDICTS.contains(&c.type_.as_str()));
    set_condition(
        &mut conditions,
        verdict,
        true,
        &outcome.reason,
        &outcome.message,
        generation,
        now,
    );

    let start = previous.start_time.as_ref().map(|t| t.0);
    // Clocks of the node and the controller may disagree; never report a completion before the start.
    let completion = match start {
        Some(start) if outcome.finished_at < start => start,
        _ => outcome.finished_at,
    };
    let summary = outcome.summary();
    let mut attempts = previous.attempts.clone();
    record_end(&mut attempts, &previous, outcome);
    TestJobStatus {
        phase: Some(outcome.phase),
        test_id: Some(job.spec.test_id.to_string()),
        // A job cancelled before it started has had no attempt.
        attempt: (outcome.attempt > 0).then_some(outcome.attempt),
        pod_name: previous.pod_name.clone(),
        start_time: previous.start_time.clone(),
        completion_time: Some(Time(completion)),
        next_attempt_time: None,
        duration: start.map(|start| format_duration(completion.duration_since(start))),
        exit_code: outcome.exit_code,
        results: outcome.results.clone(),
        results_omitted: outcome.omitted,
        report: outcome.report.as_deref().cloned(),
        attempts,
        summary,
        result: summary.map(|s| s.display()),
        message: Some(outcome.message.clone()),
        conditions,
        pending_notifications: previous.pending_notifications.clone(),
        observed_generation: generation,
    }
}

/// Records how attempt `ended.attempt` ended in `attempts` (a job cancelled before it started has
/// no attempt to record). An attempt whose Running status was never written (it failed before its
/// Pod existed) gets an entry now.
fn record_end(attempts: &mut Vec<AttemptStatus>, previous: &TestJobStatus, ended: &Outcome) {
    if ended.attempt < 1 {
        return;
    }
    if !attempts.iter().any(|a| a.attempt == ended.attempt) {
        let current = previous.attempt == Some(ended.attempt);
        attempts.push(AttemptStatus {
            attempt: ended.attempt,
            pod_name: previous.pod_name.clone().filter(|_| current),
            start_time: previous.start_time.clone().filter(|_| current),
            ..AttemptStatus::default()
        });
        attempts.sort_by_key(|a| a.attempt);
    }
    let Some(entry) = attempts.iter_mut().find(|a| a.attempt == ended.attempt) else {
        return;
    };
    let completion = match entry.start_time.as_ref().map(|t| t.0) {
        Some(start) if ended.finished_at < start => start,
        _ => ended.finished_at,
    };
    entry.phase = Some(ended.phase);
    entry.reason = Some(ended.reason.clone());
    entry.exit_code = ended.exit_code;
    entry.completion_time = Some(Time(completion));
    entry.summary = ended.summary();
}

/// A duration the way Go and kubectl print them, to whole seconds: `0s`, `42s`, `1m23s`, `2h0m5s`.
pub fn format_duration(duration: SignedDuration) -> String {
    let total = duration.as_secs().max(0);
    let (hours, minutes, seconds) = (total / 3600, (total % 3600) / 60, total % 60);
    if hours > 0 {
        format!("{hours}h{minutes}m{seconds}s")
    } else if minutes > 0 {
        format!("{minutes}m{seconds}s")
    } else {
        format!("{seconds}s")
    }
}

/// Turns a True `Queued` condition, if the job has one, to False.
fn leave_queue(
    conditions: &mut Vec<Condition>,
    reason: &str,
    message: &str,
    generation: Option<i64>,
    now: Timestamp,
) {
    if conditions
        .iter()
        .any(|c| c.type_ == condition::QUEUED && c.status == "True")
    {
        set_condition(
            conditions,
            condition::QUEUED,
            false,
            reason,
            message,
            generation,
            now,
        );
    }
}

fn previous(job: &TestJob) -> TestJobStatus {
    job.status.as_deref().cloned().unwrap_or_default()
}

/// Sets a condition, keeping its `lastTransitionTime` when its status does not change.
fn set_condition(
    conditions: &mut Vec<Condition>,
    type_: &str,
    status: bool,
    reason: &str,
    message: &str,
    generation: Option<i64>,
    now: Timestamp,
) {
    let status = if status { "True" } else { "False" };
    let transition = conditions
        .iter()
        .find(|c| c.type_ == type_ && c.status == status)
        .map(|c| c.last_transition_time.clone())
        .unwrap_or(Time(now));
    conditions.retain(|c| c.type_ != type_);
    conditions.push(Condition {
        type_: type_.to_owned(),
        status: status.to_owned(),
        reason: reason.to_owned(),
        message: message.to_owned(),
        last_transition_time: transition,
        observed_generation: generation,
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::{ResultStatus, TestId, TestJobSpec, TestResult};

    fn ts(secs: i64) -> Timestamp {
        Timestamp::from_second(1_750_000_000 + secs).expect("valid timestamp")
    }

    fn job() -> TestJob {
        let mut job = TestJob::new("j", TestJobSpec::new(TestId::Int(1)));
        job.metadata.generation = Some(2);
        job
    }

    fn condition<'a>(status: &'a TestJobStatus, type_: &str) -> Option<&'a Condition> {
        status.conditions.iter().find(|c| c.type_ == type_)
    }

    fn result(name: &str, status: ResultStatus) -> TestResult {
        TestResult {
            name: name.into(),
            status,
            duration_ms: None,
            message: None,
        }
    }

    #[test]
    fn durations_read_like_go() {
        let s = SignedDuration::from_secs;
        assert_eq!(format_duration(s(0)), "0s");
        assert_eq!(format_duration(SignedDuration::from_millis(999)), "0s");
        assert_eq!(format_duration(s(42)), "42s");
        assert_eq!(format_duration(s(83)), "1m23s");
        assert_eq!(format_duration(s(3600)), "1h0m0s");
        assert_eq!(format_duration(s(7205)), "2h0m5s");
        assert_eq!(format_duration(s(90_061)), "25h1m1s");
        assert_eq!(format_duration(s(-5)), "0s");
    }

    #[test]
    fn running_status_records_the_attempt() {
        let status = running_status(&job(), 1, "j-1", ts(0), ts(1));
        assert_eq!(status.phase, Some(Phase::Running));
        assert_eq!(status.attempt, Some(1));
        assert_eq!(status.pod_name.as_deref(), Some("j-1"));
        assert_eq!(status.start_time, Some(Time(ts(0))));
        assert_eq!(status.observed_generation, Some(2));
        let running = condition(&status, condition::RUNNING).expect("Running condition");
        assert_eq!(running.status, "True");
        assert_eq!(running.reason, reason::POD_CREATED);
        assert_eq!(running.observed_generation, Some(2));
        assert_eq!(running.last_transition_time, Time(ts(1)));
        assert!(condition(&status, condition::COMPLETE).is_none());
    }

    #[test]
    fn success_sets_complete_summary_and_duration() {
        let mut job = job();
        job.status = Some(Box::new(running_status(&job, 1, "j-1", ts(0), ts(0))));
        let outcome = Outcome {
            attempt: 1,
            phase: Phase::Succeeded,
            reason: reason::TESTS_PASSED.into(),
            message: "all good".into(),
            exit_code: Some(0),
            results: vec![
                result("a", ResultStatus::Passed),
                result("b", ResultStatus::Skipped),
            ],
            finished_at: ts(83),
            stop_pod: false,
            summary: None,
            omitted: None,
            report: None,
        };
        let status = finished_status(&job, &outcome, ts(90));
        assert_eq!(status.phase, Some(Phase::Succeeded));
        assert_eq!(status.duration.as_deref(), Some("1m23s"));
        assert_eq!(status.completion_time, Some(Time(ts(83))));
        assert_eq!(status.start_time, Some(Time(ts(0))));
        assert_eq!(status.pod_name.as_deref(), Some("j-1"));
        assert_eq!(status.exit_code, Some(0));
        assert_eq!(status.result.as_deref(), Some("1/2 passed"));
        assert_eq!(status.summary.map(|s| (s.total, s.skipped)), Some((2, 1)));
        assert_eq!(status.message.as_deref(), Some("all good"));
        let complete = condition(&status, condition::COMPLETE).expect("Complete");
        assert_eq!(
            (complete.status.as_str(), complete.reason.as_str()),
            ("True", "TestsPassed")
        );
        let running = condition(&status, condition::RUNNING).expect("Running");
        assert_eq!(running.status, "False");
        assert!(condition(&status, condition::FAILED).is_none());
    }

    #[test]
    fn failure_sets_failed_and_no_result_without_results() {
        let mut job = job();
        job.status = Some(Box::new(running_status(&job, 1, "j-1", ts(10), ts(10))));
        let outcome = Outcome::failed(1, reason::POD_DELETED, "gone".into(), ts(5));
        let status = finished_status(&job, &outcome, ts(20));
        assert_eq!(status.phase, Some(Phase::Failed));
        let failed = condition(&status, condition::FAILED).expect("Failed");
        assert_eq!(
            (failed.status.as_str(), failed.reason.as_str()),
            ("True", "PodDeleted")
        );
        assert_eq!(failed.message, "gone");
        assert_eq!(status.result, None);
        assert_eq!(status.summary, None);
        assert!(status.results.is_empty());
        // A node clock behind the controller's never yields a negative duration.
        assert_eq!(status.completion_time, Some(Time(ts(10))));
        assert_eq!(status.duration.as_deref(), Some("0s"));
    }

    #[test]
    fn queueing_sets_pending_and_a_queued_condition() {
        let job = job();
        let status = queued_status(&job, 3, 3, ts(5));
        assert_eq!(status.phase, Some(Phase::Pending));
        assert_eq!(
            status.message.as_deref(),
            Some("Queued: 3 running, limit 3")
        );
        let queued = condition(&status, condition::QUEUED).expect("Queued");
        assert_eq!(
            (queued.status.as_str(), queued.reason.as_str()),
            ("True", reason::MAX_RUNNING)
        );
        assert_eq!(queued.message, "Queued: 3 running, limit 3");
        assert_eq!(status.attempt, None);
        assert!(!is_queued(&job));
        let mut queued_job = job.clone();
        queued_job.status = Some(Box::new(status));
        assert!(is_queued(&queued_job));

        // Starting turns the condition False, keeping it as a record of the wait.
        let running = running_status(&queued_job, 1, "j-1", ts(9), ts(9));
        let queued = condition(&running, condition::QUEUED).expect("Queued");
        assert_eq!(
            (queued.status.as_str(), queued.reason.as_str()),
            ("False", reason::SLOT_ASSIGNED)
        );
        assert_eq!(queued.last_transition_time, Time(ts(9)));
        // A job that never queued gets no Queued condition.
        assert!(
            condition(
                &running_status(&job, 1, "j-1", ts(0), ts(0)),
                condition::QUEUED
            )
            .is_none()
        );
    }

    #[test]
    fn a_failed_attempt_with_retries_left_stays_running() {
        let mut job = job();
        job.status = Some(Box::new(running_status(&job, 1, "j-1", ts(0), ts(0))));
        let mut failed = Outcome::failed(
            1,
            reason::TESTS_FAILED,
            "runner exited with code 1".into(),
            ts(30),
        );
        failed.exit_code = Some(1);
        let status = retry_status(&job, &failed, 3, ts(40), ts(31));
        assert_eq!(status.phase, Some(Phase::Running));
        assert_eq!((status.attempt, status.exit_code), (Some(1), Some(1)));
        assert_eq!(status.next_attempt_time, Some(Time(ts(40))));
        assert_eq!(status.pod_name.as_deref(), Some("j-1"));
        assert_eq!(
            status.message.as_deref(),
            Some(
                "attempt 1 failed (TestsFailed: runner exited with code 1); attempt 2 of 3 starts in 9s"
            )
        );
        let running = condition(&status, condition::RUNNING).expect("Running");
        assert_eq!(
            (running.status.as_str(), running.reason.as_str()),
            ("True", reason::RETRY_BACKOFF)
        );
        assert_eq!(running.last_transition_time, Time(ts(0)), "still running");

        // The next attempt clears the pause.
        job.status = Some(Box::new(status));
        let next = running_status(&job, 2, "j-2", ts(40), ts(40));
        assert_eq!(next.next_attempt_time, None);
        assert_eq!((next.attempt, next.exit_code), (Some(2), None));
    }

    #[test]
    fn cancelling_sets_the_cancelled_condition() {
        let mut job = job();
        job.status = Some(Box::new(queued_status(&job, 1, 1, ts(0))));
        let outcome = Outcome {
            phase: Phase::Cancelled,
            ..Outcome::failed(
                0,
                reason::CANCELLED,
                "cancelled by spec.cancel before it started".into(),
                ts(7),
            )
        };
        let status = finished_status(&job, &outcome, ts(7));
        assert_eq!(status.phase, Some(Phase::Cancelled));
        assert_eq!(status.attempt, None, "it never had an attempt");
        assert_eq!(status.duration, None);
        let cancelled = condition(&status, condition::CANCELLED).expect("Cancelled");
        assert_eq!(
            (cancelled.status.as_str(), cancelled.reason.as_str()),
            ("True", reason::CANCELLED)
        );
        assert!(condition(&status, condition::FAILED).is_none());
        assert!(condition(&status, condition::COMPLETE).is_none());
        let queued = condition(&status, condition::QUEUED).expect("Queued");
        assert_eq!(queued.status, "False");

        // Cancelled while running: the verdict replaces nothing but itself.
        let mut running = self::job();
        running.status = Some(Box::new(running_status(&running, 2, "j-2", ts(0), ts(0))));
        let outcome = Outcome {
            phase: Phase::Cancelled,
            ..Outcome::failed(2, reason::CANCELLED, "stopped".into(), ts(20))
        };
        let status = finished_status(&running, &outcome, ts(20));
        assert_eq!(
            (status.attempt, status.duration.as_deref()),
            (Some(2), Some("20s"))
        );
        assert_eq!(
            condition(&status, condition::RUNNING).map(|c| c.status.as_str()),
            Some("False")
        );
    }

    #[test]
    fn unchanged_condition_keeps_its_transition_time() {
        let mut conditions = vec![];
        set_condition(&mut conditions, "Running", true, "A", "m", None, ts(1));
        set_condition(&mut conditions, "Running", true, "B", "m2", None, ts(5));
        assert_eq!(conditions.len(), 1);
        assert_eq!(conditions[0].last_transition_time, Time(ts(1)));
        assert_eq!(conditions[0].reason, "B");
        set_condition(&mut conditions, "Running", false, "C", "m3", None, ts(9));
        assert_eq!(conditions[0].last_transition_time, Time(ts(9)));
    }

    #[test]
    fn every_attempt_is_recorded_with_how_it_ended() {
        let mut job = job();
        job.status = Some(Box::new(running_status(&job, 1, "smoke-1", ts(0), ts(0))));
        let mut failed = Outcome::failed(1, reason::POD_DELETED, "gone".into(), ts(5));
        failed.exit_code = Some(137);
        job.status = Some(Box::new(retry_status(&job, &failed, 2, ts(15), ts(5))));
        job.status = Some(Box::new(running_status(&job, 2, "smoke-2", ts(15), ts(15))));
        let passed = Outcome {
            phase: Phase::Succeeded,
            reason: reason::TESTS_PASSED.into(),
            exit_code: Some(0),
            results: vec![
                result("a", ResultStatus::Passed),
                result("b", ResultStatus::Failed),
            ],
            ..Outcome::failed(2, "", "ok".into(), ts(20))
        };
        let status = finished_status(&job, &passed, ts(21));
        let attempts = &status.attempts;
        assert_eq!(attempts.len(), 2, "{attempts:?}");
        assert_eq!(
            (
                attempts[0].attempt,
                attempts[0].pod_name.as_deref(),
                attempts[0].phase,
                attempts[0].reason.as_deref(),
                attempts[0].exit_code,
            ),
            (
                1,
                Some("smoke-1"),
                Some(Phase::Failed),
                Some("PodDeleted"),
                Some(137)
            )
        );
        assert_eq!(attempts[0].start_time, Some(Time(ts(0))));
        assert_eq!(attempts[0].completion_time, Some(Time(ts(5))));
        assert_eq!(attempts[0].summary, None);
        assert_eq!(
            (
                attempts[1].attempt,
                attempts[1].phase,
                attempts[1].exit_code
            ),
            (2, Some(Phase::Succeeded), Some(0))
        );
        assert_eq!(attempts[1].start_time, Some(Time(ts(15))));
        assert_eq!(attempts[1].completion_time, Some(Time(ts(20))));
        assert_eq!(
            attempts[1].summary.map(|s| (s.total, s.passed)),
            Some((2, 1))
        );
    }

    #[test]
    fn an_attempt_that_failed_before_its_pod_existed_is_recorded_too() {
        let job = job();
        let refused = Outcome::failed(1, reason::POD_REJECTED, "invalid".into(), ts(1));
        let mut started = job.clone();
        started.status = Some(Box::new(TestJobStatus {
            attempt: Some(1),
            ..TestJobStatus::default()
        }));
        let status = finished_status(&started, &refused, ts(1));
        assert_eq!(status.attempts.len(), 1);
        assert_eq!(status.attempts[0].reason.as_deref(), Some("PodRejected"));
        assert_eq!(status.attempts[0].pod_name, None);
        // Cancelled before any attempt: nothing to record.
        let cancelled = Outcome {
            phase: Phase::Cancelled,
            ..Outcome::failed(0, reason::CANCELLED, "cancelled".into(), ts(1))
        };
        assert!(finished_status(&job, &cancelled, ts(1)).attempts.is_empty());
    }
}
