//! The collect step, between decide and apply for an attempt that ended: take the runner's
//! report over from its Pod ([`crate::handover`]: from the termination message, or one read of
//! the sidecar's log), read it ([`crate::report`]), fold it into the outcome (exact summary,
//! bounded results), and keep it — with `keepLogs` also the runner's log tail — in the attempt's
//! ConfigMap ([`crate::archive`]) before the Pod may be deleted.
//!
//! Whatever the runner wrote is untrusted: a report that cannot be read never fails the
//! reconcile; the outcome's message says what was wrong, and the phase stays the exit code's.

use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::{
    Api, ResourceExt,
    api::{LogParams, Patch, PatchParams},
};
use tracing::{debug, warn};

use super::{Context, Result};
use crate::{
    archive::{self, Report},
    crd::{Phase, ReportFormat, Summary, TestJob},
    handover::{self, Handover, SIDECAR},
    outcome::{Outcome, reason},
    pod::{MANAGER, RUNNER_CONTAINER},
    report,
};

/// Lines of the runner's log asked for when keeping its tail (the last 64 KiB are kept).
const LOG_TAIL_LINES: i64 = 4000;
/// At most this much log is read for the tail.
const LOG_TAIL_READ_BYTES: i64 = 2 << 20;

/// Folds the report of `pod`'s attempt into `outcome` and archives it. `keep_log`: the runner's
/// log is to be kept too (its Pod will be deleted).
pub async fn collect(
    job: &TestJob,
    mut outcome: Outcome,
    pod: Option<&Pod>,
    keep_log: bool,
    pods: &Api<Pod>,
    ctx: &Context,
) -> Result<Outcome> {
    let Some(pod) = pod else {
        return Ok(outcome);
    };
    let pod_name = pod.name_any();
    let raw = match handed_over(&mut outcome, pod, pods).await? {
        Taken::Report(bytes) => Some(bytes),
        Taken::Nothing => None,
        Taken::Lost => return Ok(outcome),
    };
    let format = raw.as_ref().map(|bytes| read(&mut outcome, bytes, job));
    let log = if keep_log {
        runner_log(&pod_name, pods).await?
    } else {
        None
    };
    if raw.is_none() && log.is_none() {
        return Ok(outcome);
    }
    let report = raw.as_deref().map(|bytes| Report {
        bytes,
        format: format.unwrap_or("unknown"),
    });
    let archived = archive::archive(job, &pod_name, report, log.as_deref())?;
    let name = archive::config_map_name(&pod_name);
    let namespace = job.namespace().unwrap_or_default();
    let config_maps: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), &namespace);
    config_maps
        .patch(
            &name,
            &PatchParams::apply(MANAGER).force(),
            &Patch::Apply(&archived.config_map),
        )
        .await?;
    debug!(testjob = %job.name_any(), configmap = %name, "kept the attempt's report");
    outcome.report = archived.report.map(Box::new);
    Ok(outcome)
}

/// What the hand-over gave.
enum Taken {
    /// The report, byte for byte.
    Report(Vec<u8>),
    /// No report (none written, or it could not be used: the outcome's message says why).
    Nothing,
    /// The report was in the Pod's log, and the Pod is gone: the outcome says so.
    Lost,
}

/// Takes the report over from `pod`'s sidecar.
async fn handed_over(outcome: &mut Outcome, pod: &Pod, pods: &Api<Pod>) -> Result<Taken> {
    // No message: a Pod without the sidecar, or one whose sidecar never ran.
    let Some(message) = handover::sidecar_message(pod).filter(|m| !m.trim().is_empty()) else {
        return Ok(Taken::Nothing);
    };
    let (bytes, sha256, gzip) = match handover::read_message(message) {
        Ok(Handover::Inline(report)) => return Ok(Taken::Report(report)),
        Ok(Handover::Missing) => return Ok(Taken::Nothing),
        Ok(Handover::InLog {
            bytes,
            sha256,
            gzip,
        }) => (bytes, sha256, gzip),
        Ok(Handover::TooLarge { bytes }) => {
            note(
                outcome,
                &format!(
                    "the report file has {bytes} bytes, more than the {} allowed; it was not read",
                    handover::MAX_REPORT_BYTES
                ),
            );
            return Ok(Taken::Nothing);
        }
        Ok(Handover::Failed(why)) => {
            note(
                outcome,
                &format!("the report could not be handed over: {why}"),
            );
            return Ok(Taken::Nothing);
        }
        Err(error) => {
            note(outcome, &error.to_string());
            return Ok(Taken::Nothing);
        }
    };
    let params = LogParams {
        container: Some(SIDECAR.into()),
        limit_bytes: Some(handover::log_limit_bytes(gzip)),
        ..LogParams::default()
    };
    let name = pod.name_any();
    let log = match pods.logs(&name, &params).await {
        Ok(log) => log,
        Err(kube::Error::Api(status)) if status.code == 404 => {
            *outcome = lost(outcome, &name, bytes);
            return Ok(Taken::Lost);
        }
        Err(error) => return Err(error.into()),
    };
    match handover::decode_log(log.as_bytes(), bytes, &sha256) {
        Ok(report) => Ok(Taken::Report(report)),
        Err(error) => {
            warn!(pod = %name, %error, "unusable report hand-over");
            note(outcome, &error.to_string());
            Ok(Taken::Nothing)
        }
    }
}

/// The outcome of an attempt whose report went with its Pod.
fn lost(outcome: &Outcome, pod: &str, bytes: u64) -> Outcome {
    Outcome {
        phase: Phase::Failed,
        reason: reason::REPORT_LOST.into(),
        // Not the runner's own message: without the report it would say that none was written.
        message: match outcome.exit_code {
            Some(code) => format!(
                "runner Pod {pod} was deleted before its report ({bytes} bytes) could be read; the runner exited with code {code}"
            ),
            None => format!(
                "runner Pod {pod} was deleted before its report ({bytes} bytes) could be read"
            ),
        },
        ..outcome.clone()
    }
}

/// Reads `bytes` as `job`'s report format into `outcome`; returns the format it was read as.
fn read(outcome: &mut Outcome, bytes: &[u8], job: &TestJob) -> &'static str {
    let format = match job.spec.report.as_ref().and_then(|r| r.format) {
        None | Some(ReportFormat::Auto) => None,
        Some(ReportFormat::Json) => Some(report::Format::Json),
        Some(ReportFormat::JUnit) => Some(report::Format::JUnit),
        Some(ReportFormat::Tap) => Some(report::Format::Tap),
    };
    match report::parse(bytes, format) {
        Ok(parsed) => {
            outcome.results = parsed.results;
            outcome.summary = Some(parsed.summary);
            let omitted = parsed.omitted;
            outcome.omitted = (omitted.total() > 0).then_some(Summary {
                total: omitted.total(),
                passed: omitted.passed,
                failed: omitted.failed.saturating_add(omitted.error),
                skipped: omitted.skipped,
            });
            let summary = parsed.summary;
            let counted = format!(
                "{} report: {} tests, {} passed, {} failed, {} skipped",
                parsed.format, summary.total, summary.passed, summary.failed, summary.skipped
            );
            note(outcome, &counted);
            if let Some(message) = parsed.message {
                note(outcome, &message);
            }
            parsed.format.as_str()
        }
        Err(error) => {
            note(outcome, &format!("the report could not be read: {error}"));
            if outcome.phase == Phase::Succeeded {
                outcome.reason = reason::INVALID_RESULTS.into();
            }
            match format {
                Some(format) => format.as_str(),
                None => "unknown",
            }
        }
    }
}

/// Appends `note` to the outcome's message.
fn note(outcome: &mut Outcome, note: &str) {
    if outcome.message.is_empty() {
        outcome.message = note.to_owned();
    } else {
        outcome.message = format!("{}; {note}", outcome.message);
    }
}

/// The tail of the runner container's log, `None` when the Pod has none any more.
async fn runner_log(pod: &str, pods: &Api<Pod>) -> Result<Option<String>> {
    let params = LogParams {
        container: Some(RUNNER_CONTAINER.into()),
        tail_lines: Some(LOG_TAIL_LINES),
        limit_bytes: Some(LOG_TAIL_READ_BYTES),
        ..LogParams::default()
    };
    match pods.logs(pod, &params).await {
        Ok(log) => Ok(Some(log)),
        Err(kube::Error::Api(status)) if matches!(status.code, 400 | 404) => Ok(None),
        Err(error) => Err(error.into()),
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::jiff::Timestamp;

    use super::*;
    use crate::crd::{ReportSpec, TestId, TestJobSpec};

    fn ended(phase: Phase) -> Outcome {
        Outcome {
            phase,
            ..Outcome::failed(
                1,
                reason::TESTS_FAILED,
                "exit code 1".into(),
                Timestamp::UNIX_EPOCH,
            )
        }
    }

    fn job(format: Option<ReportFormat>) -> TestJob {
        TestJob::new(
            "smoke",
            TestJobSpec {
                report: Some(ReportSpec { format }),
                ..TestJobSpec::new(TestId::Int(1))
            },
        )
    }

    #[test]
    fn a_report_gives_the_exact_summary_and_the_failures() {
        let tap = b"1..3\nok 1 - a\nnot ok 2 - b\nok 3 - c # SKIP later\n";
        let mut outcome = ended(Phase::Failed);
        assert_eq!(read(&mut outcome, tap, &job(None)), "TAP");
        let summary = outcome.summary.expect("summary");
        assert_eq!(
            (
                summary.total,
                summary.passed,
                summary.failed,
                summary.skipped
            ),
            (3, 1, 1, 1)
        );
        assert_eq!(outcome.results[0].name, "b", "failures first");
        assert!(
            outcome
                .message
                .starts_with("exit code 1; TAP report: 3 tests"),
            "{}",
            outcome.message
        );
        assert_eq!(outcome.omitted, None);
    }

    #[test]
    fn an_unreadable_report_keeps_the_exit_codes_phase_and_says_why() {
        let mut passed = Outcome {
            reason: reason::TESTS_PASSED.into(),
            ..ended(Phase::Succeeded)
        };
        assert_eq!(read(&mut passed, b"\x00\x01garbage", &job(None)), "unknown");
        assert_eq!(
            (passed.phase, passed.reason.as_str()),
            (Phase::Succeeded, reason::INVALID_RESULTS)
        );
        assert!(
            passed.message.contains("the report could not be read"),
            "{}",
            passed.message
        );
        assert_eq!(passed.summary, None);

        let mut failed = ended(Phase::Failed);
        assert_eq!(
            read(
                &mut failed,
                b"1..2\nok 1\n",
                &job(Some(ReportFormat::JUnit))
            ),
            "JUnit"
        );
        assert_eq!(
            (failed.phase, failed.reason.as_str()),
            (Phase::Failed, reason::TESTS_FAILED)
        );
        assert!(
            failed.message.contains("not a JUnit XML report"),
            "{}",
            failed.message
        );
    }

    #[test]
    fn a_lost_report_fails_the_attempt_with_a_clear_reason() {
        let outcome = lost(&ended(Phase::Succeeded), "smoke-1", 2048);
        assert_eq!(
            (outcome.phase, outcome.reason.as_str()),
            (Phase::Failed, reason::REPORT_LOST)
        );
        assert!(outcome.message.starts_with(
            "runner Pod smoke-1 was deleted before its report (2048 bytes) could be read"
        ));
    }
}
