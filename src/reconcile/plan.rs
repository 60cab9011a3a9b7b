//! The decisions of the apply step, as pure functions: what a refused Pod create means, whether
//! an existing Pod is ours to adopt, when an adopted attempt started, whether a verdict is stale,
//! which orphan Pod a cancel must stop, how a Pod is stopped and which Pods cleanup deletes.
//! The apply code ([`super::apply`], [`super::cleanup`]) only carries them out.

use std::time::Duration;

use k8s_openapi::{api::core::v1::Pod, jiff::Timestamp};
use kube::{Resource, ResourceExt, core::Status};

use crate::{
    crd::{Phase, TestJob},
    outcome::{Outcome, reason},
    pod::{is_owned_by, pod_name},
};

/// Whether the API server refused a runner Pod for good: the Pod itself is invalid (400, 422)
/// or violates Pod Security admission. Retrying cannot help those. Other 403s (RBAC, quota) may
/// clear up, so they are retried like any other error.
pub fn is_refusal(status: &Status) -> bool {
    matches!(status.code, 400 | 422)
        || (status.code == 403 && status.message.contains("violates PodSecurity"))
}

/// The outcome of an attempt whose runner Pod `name` the API server refused for good.
pub fn refused(attempt: i32, name: &str, status: &Status, now: Timestamp) -> Outcome {
    Outcome::failed(
        attempt,
        reason::POD_REJECTED,
        format!(
            "the API server refused runner Pod {name}: {}",
            status.message
        ),
        now,
    )
}

/// What a Pod that already exists under the attempt's name means: ours (created by an earlier
/// try at the same attempt, or by another replica) is adopted (`None`); a foreign one fails the
/// attempt with the returned outcome.
pub fn foreign_pod(job: &TestJob, attempt: i32, existing: &Pod, now: Timestamp) -> Option<Outcome> {
    if is_owned_by(existing, job) {
        return None;
    }
    Some(Outcome::failed(
        attempt,
        reason::POD_CONFLICT,
        format!(
            "Pod {} already exists and is not controlled by this TestJob",
            existing.name_any()
        ),
        now,
    ))
}

/// When an attempt started: an adopted Pod when it was created (possibly long ago, while the
/// controller was down), a new one now.
pub fn attempt_start(pod: &Pod, adopted: bool, now: Timestamp) -> Timestamp {
    pod.meta()
        .creation_timestamp
        .as_ref()
        .map(|t| t.0)
        .filter(|_| adopted)
        .unwrap_or(now)
}

/// `job` as it stands once `attempt` has begun, for an attempt that fails before its Pod exists:
/// the final status then names the attempt.
pub fn with_attempt(job: &TestJob, attempt: i32) -> TestJob {
    let mut status = job.status.as_deref().cloned().unwrap_or_default();
    status.attempt = Some(attempt);
    job.with_status(status)
}

/// Whether `outcome` belongs to an older attempt than the one `job` records: it must never
/// overwrite a newer attempt.
pub fn is_stale(job: &TestJob, outcome: &Outcome) -> bool {
    job.status
        .as_ref()
        .and_then(|s| s.attempt)
        .is_some_and(|attempt| attempt != outcome.attempt)
}

/// The Pod a cancel may have left running: a job cancelled after it took a run slot but before
/// its Running status was written may already have created the next attempt's Pod.
pub fn orphan_after_cancel(job: &TestJob, outcome: &Outcome, holds_slot: bool) -> Option<String> {
    let phase = job.status.as_ref().and_then(|s| s.phase);
    (outcome.phase == Phase::Cancelled && phase != Some(Phase::Running) && holds_slot)
        .then(|| pod_name(&job.name_any(), outcome.attempt + 1))
}

/// How a runner Pod is stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// The container runs: lower `activeDeadlineSeconds` so the kubelet ends it and the Pod
    /// and its logs stay.
    LowerDeadline,
    /// It never started, so it has no logs and may never reach a kubelet: delete it.
    Delete,
}

/// How to stop `pod`.
pub fn how_to_stop(pod: &Pod) -> Stop {
    let started = pod
        .status
        .as_ref()
        .and_then(|s| s.start_time.as_ref())
        .is_some();
    if started {
        Stop::LowerDeadline
    } else {
        Stop::Delete
    }
}

/// The runner Pods a finished job may have left: one per attempt.
pub fn attempt_pods(job: &TestJob) -> Vec<String> {
    let attempts = job
        .status
        .as_ref()
        .and_then(|s| s.attempt)
        .unwrap_or(0)
        .max(0);
    (1..=attempts)
        .map(|attempt| pod_name(&job.name_any(), attempt))
        .collect()
}

/// Whether cleanup deletes `pod`: only Pods `job` controls, and not those already going.
pub fn is_deletable(pod: &Pod, job: &TestJob) -> bool {
    is_owned_by(pod, job) && pod.meta().deletion_timestamp.is_none()
}

/// How long until the next attempt at `next`.
pub fn pause_until(next: Timestamp, now: Timestamp) -> Duration {
    Duration::try_from(next.duration_since(now)).unwrap_or(Duration::ZERO)
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{OwnerReference, Time};
    use serde_json::json;

    use super::*;
    use crate::crd::{TestId, TestJobSpec, TestJobStatus};

    fn job(phase: Option<Phase>, attempt: Option<i32>) -> TestJob {
        let mut job = TestJob::new("smoke", TestJobSpec::new(TestId::Int(1)));
        job.metadata.namespace = Some("ns".into());
        job.metadata.uid = Some("uid-1".into());
        job.status = Some(Box::new(TestJobStatus {
            phase,
            attempt,
            ..TestJobStatus::default()
        }));
        job
    }

    fn pod(owner_uid: Option<&str>, started: bool) -> Pod {
        let mut pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "smoke-1", "namespace": "ns",
                         "creationTimestamp": "2025-06-15T12:00:00Z"},
            "status": if started { json!({"startTime": "2025-06-15T12:00:01Z"}) } else { json!({}) },
        }))
        .expect("a pod");
        pod.metadata.owner_references = owner_uid.map(|uid| {
            vec![OwnerReference {
                api_version: "testjob.dev/v1alpha1".into(),
                kind: "TestJob".into(),
                name: "smoke".into(),
                uid: uid.into(),
                controller: Some(true),
                ..OwnerReference::default()
            }]
        });
        pod
    }

    fn status(code: u16, message: &str) -> Status {
        Status {
            code,
            message: message.into(),
            ..Status::default()
        }
    }

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(1_750_000_000 + secs).expect("valid time")
    }

    #[test]
    fn invalid_pods_and_pod_security_violations_are_refusals_other_errors_are_retried() {
        assert!(is_refusal(&status(422, "Pod \"x\" is invalid")));
        assert!(is_refusal(&status(400, "bad request")));
        assert!(is_refusal(&status(
            403,
            "pods \"x\" is forbidden: violates PodSecurity \"restricted:latest\": runAsNonRoot != true"
        )));
        // RBAC or quota may be fixed by an admin: retried.
        assert!(!is_refusal(&status(
            403,
            "pods is forbidden: User \"x\" cannot create resource \"pods\""
        )));
        assert!(!is_refusal(&status(500, "etcd timeout")));
        assert!(!is_refusal(&status(409, "already exists")));
        let outcome = refused(
            2,
            "smoke-2",
            &status(422, "spec.containers: Required"),
            at(0),
        );
        assert_eq!(
            (outcome.phase, outcome.reason.as_str(), outcome.attempt),
            (Phase::Failed, reason::POD_REJECTED, 2)
        );
        assert_eq!(
            outcome.message,
            "the API server refused runner Pod smoke-2: spec.containers: Required"
        );
    }

    #[test]
    fn an_existing_pod_is_adopted_only_when_the_job_controls_it() {
        let job = job(None, None);
        assert_eq!(
            foreign_pod(&job, 1, &pod(Some("uid-1"), false), at(0)),
            None
        );
        let foreign = foreign_pod(&job, 1, &pod(Some("other"), false), at(0)).expect("conflict");
        assert_eq!(foreign.reason, reason::POD_CONFLICT);
        assert_eq!(
            foreign.message,
            "Pod smoke-1 already exists and is not controlled by this TestJob"
        );
        assert!(foreign_pod(&job, 1, &pod(None, false), at(0)).is_some());
    }

    #[test]
    fn an_adopted_attempt_started_when_its_pod_was_created() {
        let p = pod(Some("uid-1"), true);
        let created = p.metadata.creation_timestamp.clone().expect("set").0;
        assert_eq!(attempt_start(&p, true, at(99)), created);
        assert_eq!(attempt_start(&p, false, at(99)), at(99));
        let mut no_time = p.clone();
        no_time.metadata.creation_timestamp = None;
        assert_eq!(attempt_start(&no_time, true, at(99)), at(99));
    }

    #[test]
    fn a_failed_launch_records_its_attempt() {
        let started = with_attempt(&job(Some(Phase::Running), Some(1)), 2);
        let status = started.status.expect("status");
        assert_eq!(
            (status.attempt, status.phase),
            (Some(2), Some(Phase::Running))
        );
        assert_eq!(
            with_attempt(&job(None, None), 1)
                .status
                .and_then(|s| s.attempt),
            Some(1)
        );
    }

    #[test]
    fn an_old_attempts_verdict_is_stale() {
        let outcome = Outcome::failed(1, reason::TESTS_FAILED, "x".into(), at(0));
        assert!(!is_stale(&job(Some(Phase::Running), Some(1)), &outcome));
        assert!(is_stale(&job(Some(Phase::Running), Some(2)), &outcome));
        // No attempt recorded yet (cancel before the start): nothing newer to protect.
        assert!(!is_stale(&job(None, None), &outcome));
    }

    #[test]
    fn a_cancel_before_running_was_recorded_looks_for_the_next_attempts_pod() {
        let cancelled = Outcome {
            phase: Phase::Cancelled,
            ..Outcome::failed(0, reason::CANCELLED, "cancelled".into(), at(0))
        };
        assert_eq!(
            orphan_after_cancel(&job(None, None), &cancelled, true),
            Some("smoke-1".into())
        );
        assert_eq!(
            orphan_after_cancel(&job(Some(Phase::Pending), None), &cancelled, true),
            Some("smoke-1".into())
        );
        // Without a slot it never launched; once Running is recorded the Pod is the current one.
        assert_eq!(
            orphan_after_cancel(&job(None, None), &cancelled, false),
            None
        );
        assert_eq!(
            orphan_after_cancel(&job(Some(Phase::Running), Some(1)), &cancelled, true),
            None
        );
        let failed = Outcome::failed(0, reason::TESTS_FAILED, "x".into(), at(0));
        assert_eq!(orphan_after_cancel(&job(None, None), &failed, true), None);
    }

    #[test]
    fn a_started_pod_is_stopped_by_its_deadline_an_unstarted_one_deleted() {
        assert_eq!(how_to_stop(&pod(Some("uid-1"), true)), Stop::LowerDeadline);
        assert_eq!(how_to_stop(&pod(Some("uid-1"), false)), Stop::Delete);
    }

    #[test]
    fn cleanup_covers_every_attempt_and_only_pods_the_job_controls() {
        assert_eq!(
            attempt_pods(&job(Some(Phase::Succeeded), Some(3))),
            ["smoke-1", "smoke-2", "smoke-3"]
        );
        assert!(attempt_pods(&job(Some(Phase::Cancelled), None)).is_empty());
        let job = job(Some(Phase::Succeeded), Some(1));
        assert!(is_deletable(&pod(Some("uid-1"), true), &job));
        assert!(!is_deletable(&pod(Some("other"), true), &job));
        let mut going = pod(Some("uid-1"), true);
        going.metadata.deletion_timestamp = Some(Time(at(0)));
        assert!(!is_deletable(&going, &job));
    }

    #[test]
    fn the_pause_before_a_retry_never_goes_negative() {
        assert_eq!(pause_until(at(10), at(0)), Duration::from_secs(10));
        assert_eq!(pause_until(at(0), at(10)), Duration::ZERO);
    }
}
