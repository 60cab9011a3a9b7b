//! How an attempt ended ([`Outcome`]), and how the exit of a runner container is judged: the
//! phase comes from the exit code, the results and message from the results file.

use k8s_openapi::{api::core::v1::ContainerStateTerminated, jiff::Timestamp};

use crate::{
    crd::{Phase, ReportStatus, Summary, TestResult},
    results::{ReportProblem, parse_report, tail},
};

/// Reasons recorded in status conditions and events.
pub mod reason {
    /// The runner Pod was created (or adopted) and the attempt is under way.
    pub const POD_CREATED: &str = "PodCreated";
    /// Exit code 0 with readable results.
    pub const TESTS_PASSED: &str = "TestsPassed";
    /// Non-zero exit code.
    pub const TESTS_FAILED: &str = "TestsFailed";
    /// Exit code 0, but no results file.
    pub const NO_RESULTS: &str = "NoResults";
    /// The runner's report was handed over in its Pod's log, but the Pod went before the
    /// controller could read it.
    pub const REPORT_LOST: &str = "ReportLost";
    /// Exit code 0, but the results file was unreadable.
    pub const INVALID_RESULTS: &str = "InvalidResults";
    /// The runner Pod disappeared, or was deleted, before it finished.
    pub const POD_DELETED: &str = "PodDeleted";
    /// A Pod with the attempt's name exists but belongs to something else.
    pub const POD_CONFLICT: &str = "PodConflict";
    /// The API server refused the runner Pod (e.g. an invalid runner field).
    pub const POD_REJECTED: &str = "PodRejected";
    /// The Pod could not be scheduled for too long.
    pub const UNSCHEDULABLE: &str = "Unschedulable";
    /// The Pod failed without a container exit status.
    pub const POD_FAILED: &str = "PodFailed";
    /// The attempt ran longer than `timeoutSeconds`.
    pub const TIMEOUT: &str = "Timeout";
    /// `spec.cancel` stopped the job.
    pub const CANCELLED: &str = "Cancelled";
    /// An attempt failed and the next one waits out its backoff.
    pub const RETRY_BACKOFF: &str = "RetryBackoff";
    /// The job waits for a run slot (`--max-running`).
    pub const MAX_RUNNING: &str = "MaxRunningReached";
    /// A queued job got its run slot.
    pub const SLOT_ASSIGNED: &str = "SlotAssigned";
    /// The kernel killed the runner for using more memory than its limit.
    pub const OOM_KILLED: &str = "OOMKilled";
    /// The container runtime could not start the runner (containerd's `StartError`, Docker's
    /// `ContainerCannotRun`), e.g. because its command does not exist: no test ran.
    pub const START_ERROR: &str = "StartError";
    /// What runtimes report in `terminated.reason` when they could not start a container.
    pub const NOT_STARTED: [&str; 2] = [START_ERROR, "ContainerCannotRun"];
    /// Container waiting reasons after which a runner will not start without outside help; an
    /// attempt stuck in one past the start grace fails with it.
    pub const STUCK_WAITING: [&str; 6] = [
        "ImagePullBackOff",
        "ErrImagePull",
        "ErrImageNeverPull",
        "InvalidImageName",
        "CreateContainerConfigError",
        "CreateContainerError",
    ];

    /// Whether an attempt that failed with `reason` failed for the Pod's sake, not the tests':
    /// what `retryOn: Infrastructure` retries.
    pub fn is_infrastructure(reason: &str) -> bool {
        matches!(
            reason,
            POD_DELETED | POD_FAILED | OOM_KILLED | UNSCHEDULABLE | START_ERROR
        ) || STUCK_WAITING.contains(&reason)
    }
}

/// How an attempt ended.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    /// The attempt this outcome belongs to.
    pub attempt: i32,
    /// Succeeded or Failed.
    pub phase: Phase,
    /// A CamelCase reason, see [`reason`].
    pub reason: String,
    /// A human-readable explanation.
    pub message: String,
    /// Exit code of the runner container, when it ran.
    pub exit_code: Option<i32>,
    /// Results reported by the runner (at most 100 when they come from a report).
    pub results: Vec<TestResult>,
    /// Exact counts when `results` is a bounded selection of a report's results.
    pub summary: Option<Summary>,
    /// Counts of the report's results left out of `results`.
    pub omitted: Option<Summary>,
    /// Where the attempt's full report is kept.
    pub report: Option<Box<ReportStatus>>,
    /// When the attempt ended.
    pub finished_at: Timestamp,
    /// The controller ended the attempt while its runner Pod still ran (a timeout the kubelet
    /// did not enforce, or a cancel before the Pod started): the Pod must be stopped.
    pub stop_pod: bool,
}

impl Outcome {
    /// Counts of the attempt's results: the report's exact counts, else those of `results`.
    pub fn summary(&self) -> Option<Summary> {
        self.summary
            .or_else(|| (!self.results.is_empty()).then(|| Summary::of(&self.results)))
    }

    /// A failure that happened before or around the runner, with no exit code or results.
    pub fn failed(attempt: i32, reason: &str, message: String, finished_at: Timestamp) -> Self {
        Outcome {
            attempt,
            phase: Phase::Failed,
            reason: reason.to_owned(),
            message,
            exit_code: None,
            results: vec![],
            summary: None,
            omitted: None,
            report: None,
            finished_at,
            stop_pod: false,
        }
    }
}

/// The outcome of a runner container that exited: phase from the exit code, results from the
/// termination message.
pub fn from_exit(attempt: i32, terminated: &ContainerStateTerminated, now: Timestamp) -> Outcome {
    let exit_code = terminated.exit_code;
    let report = parse_report(terminated.message.as_deref());
    let finished_at = terminated_at(Some(terminated), now);
    let (phase, reason, message) = if exit_code == 0 {
        let (reason, summary) = match &report.problem {
            None => (reason::TESTS_PASSED, success_summary(&report.results)),
            Some(ReportProblem::MalformedEntries { .. }) => {
                (reason::INVALID_RESULTS, success_summary(&report.results))
            }
            Some(ReportProblem::Missing) => {
                (reason::NO_RESULTS, "runner exited with code 0".into())
            }
            Some(_) => (reason::INVALID_RESULTS, "runner exited with code 0".into()),
        };
        let mut message = report.message.clone().unwrap_or(summary);
        if let Some(problem) = &report.problem {
            message = format!("{message}, but {problem}");
        }
        (Phase::Succeeded, reason, message)
    } else if let Some(runtime) = terminated
        .reason
        .as_deref()
        .filter(|r| reason::NOT_STARTED.contains(r))
    {
        // The runtime's message (e.g. `exec: "pytest": executable file not found in $PATH`)
        // is the runtime's, not the runner's: it says why no test ran.
        let detail = terminated.message.as_deref().map(tail).unwrap_or_default();
        let message =
            format!("the runner could not be started ({runtime}, exit code {exit_code}): {detail}");
        (Phase::Failed, reason::START_ERROR, message)
    } else {
        let reason = match terminated.reason.as_deref() {
            Some(reason::OOM_KILLED) => reason::OOM_KILLED,
            _ => reason::TESTS_FAILED,
        };
        let mut message = format!("runner exited with code {exit_code}");
        if let Some(runner_message) = &report.message {
            message = format!("{message}: {runner_message}");
        }
        match &report.problem {
            None => {}
            // With FallbackToLogsOnError the "file" of a crashed runner is its log tail.
            Some(ReportProblem::InvalidJson { .. }) => {
                let output = terminated.message.as_deref().unwrap_or_default();
                message = format!(
                    "{message} without writing a valid results file; last output: {:?}",
                    tail(output)
                );
            }
            Some(problem) => message = format!("{message}; {problem}"),
        }
        (Phase::Failed, reason, message)
    };
    Outcome {
        attempt,
        phase,
        reason: reason.to_owned(),
        message,
        exit_code: Some(exit_code),
        results: report.results,
        finished_at,
        ..Outcome::failed(attempt, reason, String::new(), finished_at)
    }
}

fn success_summary(results: &[TestResult]) -> String {
    if results.is_empty() {
        return "runner exited with code 0".into();
    }
    let summary = Summary::of(results);
    let mut text = format!("{} of {} steps passed", summary.passed, summary.total);
    if summary.skipped > 0 {
        text.push_str(&format!(", {} skipped", summary.skipped));
    }
    if summary.failed > 0 {
        text.push_str(&format!(", {} failed", summary.failed));
    }
    text
}

/// When a container ended: its `finishedAt`, else `now`.
pub(crate) fn terminated_at(
    terminated: Option<&ContainerStateTerminated>,
    now: Timestamp,
) -> Timestamp {
    terminated
        .and_then(|t| t.finished_at.as_ref())
        .map(|t| t.0)
        .unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::ResultStatus;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(1_750_000_000 + secs).expect("valid timestamp")
    }

    fn exited(exit_code: i32, message: Option<&str>) -> ContainerStateTerminated {
        ContainerStateTerminated {
            exit_code,
            reason: Some(if exit_code == 0 { "Completed" } else { "Error" }.into()),
            message: message.map(str::to_owned),
            started_at: Some(Time(at(1))),
            finished_at: Some(Time(at(30))),
            ..ContainerStateTerminated::default()
        }
    }

    fn judge(exit_code: i32, message: Option<&str>) -> Outcome {
        from_exit(1, &exited(exit_code, message), at(40))
    }

    #[test]
    fn exit_zero_with_results_succeeds() {
        let message =
            r#"{"results":[{"name":"a","status":"passed"},{"name":"b","status":"skipped"}]}"#;
        let outcome = judge(0, Some(message));
        assert_eq!(outcome.phase, Phase::Succeeded);
        assert_eq!(outcome.reason, reason::TESTS_PASSED);
        assert_eq!(outcome.exit_code, Some(0));
        assert_eq!(outcome.results.len(), 2);
        assert_eq!(outcome.results[1].status, ResultStatus::Skipped);
        assert_eq!(outcome.message, "1 of 2 steps passed, 1 skipped");
        assert_eq!(
            outcome.finished_at,
            at(30),
            "uses the container's finishedAt"
        );
        assert_eq!(outcome.attempt, 1);
    }

    #[test]
    fn runner_message_is_used_when_given() {
        let message = r#"{"results":[{"name":"a","status":"passed"}],"message":"checkout ok"}"#;
        let outcome = judge(0, Some(message));
        assert_eq!(outcome.message, "checkout ok");
    }

    #[test]
    fn exit_zero_without_usable_results_still_succeeds_with_a_message() {
        let none = judge(0, None);
        assert_eq!(
            (none.phase, none.reason.as_str()),
            (Phase::Succeeded, reason::NO_RESULTS)
        );
        assert!(none.message.contains("no results file"), "{}", none.message);

        let garbage = judge(0, Some("garbage!"));
        assert_eq!(garbage.reason, reason::INVALID_RESULTS);
        assert!(
            garbage.message.contains("not valid JSON"),
            "{}",
            garbage.message
        );

        let big = "x".repeat(5000);
        let oversized = judge(0, Some(&big));
        assert_eq!(oversized.reason, reason::INVALID_RESULTS);
        assert!(oversized.message.contains("4096"), "{}", oversized.message);
    }

    #[test]
    fn non_zero_exit_fails_with_results() {
        let message = r#"{"results":[{"name":"a","status":"passed"},{"name":"b","status":"failed","message":"boom"}],"message":"payment broke"}"#;
        let outcome = judge(1, Some(message));
        assert_eq!(outcome.phase, Phase::Failed);
        assert_eq!(outcome.reason, reason::TESTS_FAILED);
        assert_eq!(outcome.exit_code, Some(1));
        assert_eq!(outcome.results.len(), 2);
        assert_eq!(outcome.message, "runner exited with code 1: payment broke");
    }

    #[test]
    fn non_zero_exit_without_results_quotes_the_log_tail() {
        let outcome = judge(3, Some("step 1\nsegfault in step 2\n"));
        assert_eq!(outcome.exit_code, Some(3));
        assert!(
            outcome
                .message
                .starts_with("runner exited with code 3 without writing a valid results file"),
            "{}",
            outcome.message
        );
        assert!(
            outcome.message.contains("segfault in step 2"),
            "{}",
            outcome.message
        );
        let silent = judge(2, None);
        assert_eq!(
            silent.message,
            "runner exited with code 2; no results file was written"
        );
    }

    #[test]
    fn a_runner_that_could_not_start_is_not_a_test_failure() {
        let mut start = exited(
            128,
            Some("exec: \"nope\": executable file not found in $PATH"),
        );
        start.reason = Some("StartError".into());
        let outcome = from_exit(1, &start, at(30));
        assert_eq!(
            (outcome.phase, outcome.reason.as_str()),
            (Phase::Failed, reason::START_ERROR)
        );
        assert!(
            outcome.message.contains("executable file not found"),
            "{}",
            outcome.message
        );
        assert!(reason::is_infrastructure(&outcome.reason));
        assert!(outcome.results.is_empty());
    }

    #[test]
    fn oom_killed_is_named() {
        let mut oom = exited(137, None);
        oom.reason = Some("OOMKilled".into());
        let outcome = from_exit(1, &oom, at(40));
        assert_eq!(
            (outcome.phase, outcome.reason.as_str()),
            (Phase::Failed, "OOMKilled")
        );
    }
}
