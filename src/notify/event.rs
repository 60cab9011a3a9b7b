//! The CloudEvents 1.0 a TestJob's end makes (structured JSON mode), built from the job as
//! written. Pure functions.
//!
//! | type | when |
//! |---|---|
//! | `dev.testjob.job.succeeded`, `.failed`, `.cancelled` | the job reached that final phase |
//! | `dev.testjob.attempt.failed` | an attempt failed and another follows |
//!
//! `id` is `<uid>-<attempt>-<phase>` (lower case), the same for every delivery of one
//! transition, so receivers can drop duplicates; `source` is the TestJobs collection of the
//! namespace, `subject` the job's name.

use serde_json::{Value, json};

use crate::crd::{Phase, ResultStatus, TestJob};

/// How many failures `data.failures` lists.
const FIRST_FAILURES: usize = 5;

/// A transition to announce, as kept in `status.pendingNotifications` until delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Pending {
    /// The job ended (its final phase is in status).
    Finished {
        /// The last attempt (0 for a job cancelled before it started).
        attempt: i32,
    },
    /// Attempt `attempt` failed and another follows.
    AttemptFailed {
        /// The failed attempt.
        attempt: i32,
    },
}

impl Pending {
    /// The entry in `status.pendingNotifications`.
    pub fn key(self) -> String {
        match self {
            Pending::Finished { attempt } => format!("finished/{attempt}"),
            Pending::AttemptFailed { attempt } => format!("attempt-failed/{attempt}"),
        }
    }

    /// Reads an entry of `status.pendingNotifications`.
    pub fn parse(key: &str) -> Option<Self> {
        let (kind, attempt) = key.split_once('/')?;
        let attempt = attempt.parse().ok()?;
        match kind {
            "finished" => Some(Pending::Finished { attempt }),
            "attempt-failed" => Some(Pending::AttemptFailed { attempt }),
            _ => None,
        }
    }
}

/// One CloudEvent, ready to send.
#[derive(Clone, Debug, PartialEq)]
pub struct CloudEvent {
    /// Its `id`.
    pub id: String,
    /// The JSON body (`application/cloudevents+json`).
    pub body: Vec<u8>,
}

/// The event `pending` of `job` announces, or `None` when the job's status does not hold that
/// transition (e.g. a stale entry).
pub fn build(job: &TestJob, pending: Pending) -> Option<CloudEvent> {
    let status = job.status.as_ref()?;
    let uid = job.metadata.uid.as_deref()?;
    let namespace = job.metadata.namespace.as_deref()?;
    let name = job.metadata.name.as_deref()?;
    let (type_, attempt, phase, reason, message, summary, exit_code, time) = match pending {
        Pending::Finished { attempt } => {
            let phase = status.phase.filter(|p| p.is_terminal())?;
            let reason = status
                .conditions
                .iter()
                .find(|c| matches!(c.type_.as_str(), "Complete" | "Failed" | "Cancelled"))
                .map(|c| c.reason.clone());
            let type_ = match phase {
                Phase::Succeeded => "dev.testjob.job.succeeded",
                Phase::Cancelled => "dev.testjob.job.cancelled",
                Phase::Failed | Phase::Pending | Phase::Running => "dev.testjob.job.failed",
            };
            (
                type_,
                attempt,
                phase,
                reason,
                status.message.clone(),
                status.summary,
                status.exit_code,
                status.completion_time.clone(),
            )
        }
        Pending::AttemptFailed { attempt } => {
            let record = status.attempts.iter().find(|a| a.attempt == attempt)?;
            (
                "dev.testjob.attempt.failed",
                attempt,
                record.phase.unwrap_or(Phase::Failed),
                record.reason.clone(),
                None,
                record.summary,
                record.exit_code,
                record.completion_time.clone(),
            )
        }
    };
    let failures: Vec<Value> = match pending {
        Pending::Finished { .. } => status
            .results
            .iter()
            .filter(|r| matches!(r.status, ResultStatus::Failed | ResultStatus::Error))
            .take(FIRST_FAILURES)
            .map(|r| json!({"name": r.name, "message": r.message}))
            .collect(),
        Pending::AttemptFailed { .. } => vec![],
    };
    let id = format!("{uid}-{attempt}-{}", phase.as_str().to_ascii_lowercase());
    let event = json!({
        "specversion": "1.0",
        "id": id,
        "source": format!("/apis/testjob.dev/v1alpha1/namespaces/{namespace}/testjobs"),
        "type": type_,
        "subject": name,
        "time": time.map(|t| t.0.to_string()),
        "datacontenttype": "application/json",
        "data": {
            "name": name,
            "namespace": namespace,
            "uid": uid,
            "testId": job.spec.test_id.to_string(),
            "phase": phase.as_str(),
            "reason": reason,
            "message": message,
            "attempt": attempt,
            "exitCode": exit_code,
            "summary": summary,
            "failures": failures,
            "report": status.report,
        },
    });
    Some(CloudEvent {
        id,
        body: serde_json::to_vec(&event).unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use k8s_openapi::{apimachinery::pkg::apis::meta::v1::Time, jiff::Timestamp};

    use super::*;
    use crate::crd::{AttemptStatus, Summary, TestId, TestJobSpec, TestJobStatus, TestResult};

    fn job(status: TestJobStatus) -> TestJob {
        let mut job = TestJob::new("checkout", TestJobSpec::new(TestId::Int(220)));
        job.metadata.namespace = Some("shop".into());
        job.metadata.uid = Some("u-1".into());
        job.status = Some(Box::new(status));
        job
    }

    fn failure(name: &str) -> TestResult {
        TestResult {
            name: name.into(),
            status: ResultStatus::Failed,
            duration_ms: None,
            message: Some(format!("{name} broke")),
        }
    }

    #[test]
    fn pending_entries_round_trip() {
        for pending in [
            Pending::Finished { attempt: 3 },
            Pending::AttemptFailed { attempt: 1 },
        ] {
            assert_eq!(Pending::parse(&pending.key()), Some(pending));
        }
        assert_eq!(Pending::parse("other/1"), None);
        assert_eq!(Pending::parse("finished/x"), None);
    }

    #[test]
    fn a_finished_job_makes_one_event_with_a_stable_id_and_its_first_failures() {
        let at = Time(Timestamp::from_second(1_750_000_000).expect("time"));
        let status = TestJobStatus {
            phase: Some(Phase::Failed),
            attempt: Some(2),
            completion_time: Some(at),
            message: Some("1 of 7 failed".into()),
            summary: Some(Summary {
                total: 7,
                passed: 1,
                failed: 6,
                skipped: 0,
            }),
            results: (0..6).map(|i| failure(&format!("t{i}"))).collect(),
            ..TestJobStatus::default()
        };
        let event = build(&job(status), Pending::Finished { attempt: 2 }).expect("event");
        assert_eq!(event.id, "u-1-2-failed");
        let body: Value = serde_json::from_slice(&event.body).expect("json");
        assert_eq!(body["specversion"], "1.0");
        assert_eq!(body["type"], "dev.testjob.job.failed");
        assert_eq!(
            body["source"],
            "/apis/testjob.dev/v1alpha1/namespaces/shop/testjobs"
        );
        assert_eq!(body["subject"], "checkout");
        assert_eq!(body["time"], "2025-06-15T15:06:40Z");
        assert_eq!(body["data"]["testId"], "220");
        assert_eq!(body["data"]["summary"]["failed"], 6);
        assert_eq!(
            body["data"]["failures"].as_array().map(Vec::len),
            Some(FIRST_FAILURES)
        );
        assert_eq!(body["data"]["failures"][0]["message"], "t0 broke");
        // Still running: nothing to announce for a Finished entry.
        let running = TestJobStatus {
            phase: Some(Phase::Running),
            ..TestJobStatus::default()
        };
        assert_eq!(build(&job(running), Pending::Finished { attempt: 1 }), None);
    }

    #[test]
    fn a_failed_attempt_is_announced_from_its_record() {
        let status = TestJobStatus {
            phase: Some(Phase::Running),
            attempts: vec![AttemptStatus {
                attempt: 1,
                phase: Some(Phase::Failed),
                reason: Some("PodDeleted".into()),
                ..AttemptStatus::default()
            }],
            ..TestJobStatus::default()
        };
        let event =
            build(&job(status.clone()), Pending::AttemptFailed { attempt: 1 }).expect("event");
        assert_eq!(event.id, "u-1-1-failed");
        let body: Value = serde_json::from_slice(&event.body).expect("json");
        assert_eq!(body["type"], "dev.testjob.attempt.failed");
        assert_eq!(body["data"]["reason"], "PodDeleted");
        assert_eq!(
            build(&job(status), Pending::AttemptFailed { attempt: 2 }),
            None
        );
    }
}
