//! What the controller's caches keep of an object: only what a reconcile, the run queue, the
//! notifier and the metrics read, so that memory stays flat as finished TestJobs pile up.
//!
//! Every cached object loses its `managedFields` (nothing here reads them, and a status write
//! without them keeps the stored ones). A *finished* TestJob whose notifications are delivered
//! keeps only what is still decided from it: its identity and version (cache keys, own-write
//! memory, owner checks, UID preconditions), the spec fields the policy reads (Pod cleanup,
//! TTL, logs, retries, priority, cancel) and the status fields that name its Pods and date its
//! end (phase, attempt, Pod name, completion time). The results, attempts, report, conditions,
//! messages, pod template and annotations (kubectl's last-applied copy among them) go: nothing
//! writes a status from a finished job's cached copy (see [`super::decide`]: a finished job is
//! only cleaned up, expired or left alone), and the notifier, which needs them, sees the full
//! object while a notification is pending.
//!
//! A runner Pod keeps its metadata (owner, deletion, labels), its status (phase, container
//! states, termination messages: what ends an attempt) and the two spec fields the time-limit
//! backstop reads; its containers, volumes and the annotations the operator copied from the
//! job go.

use k8s_openapi::api::core::v1::{Pod, PodSpec};
use kube::Resource;

use crate::crd::{TestJob, TestJobSpec, TestJobStatus};

/// Drops `managedFields` from a cached object.
pub fn without_managed_fields<K: Resource>(object: &mut K) {
    object.meta_mut().managed_fields = None;
}

/// Trims a TestJob for the controller's cache (see the module docs).
pub fn trim_job(job: &mut TestJob) {
    without_managed_fields(job);
    let Some(status) = &job.status else {
        return;
    };
    let settled =
        status.phase.is_some_and(|p| p.is_terminal()) && status.pending_notifications.is_empty();
    if !settled {
        return;
    }
    let meta = job.meta_mut();
    meta.annotations = None;
    meta.labels = None;
    let spec = &job.spec;
    job.spec = TestJobSpec {
        test_id: spec.test_id.clone(),
        runner: None,
        timeout_seconds: spec.timeout_seconds,
        retries: spec.retries,
        retry_on: spec.retry_on,
        priority: spec.priority,
        cancel: spec.cancel,
        pod_cleanup: spec.pod_cleanup,
        report: None,
        keep_logs: spec.keep_logs,
        ttl_seconds_after_finished: spec.ttl_seconds_after_finished,
    };
    // In place: the box is reused, only what the old status held beyond these fields is freed.
    if let Some(status) = job.status.as_deref_mut() {
        let old = std::mem::take(status);
        *status = TestJobStatus {
            phase: old.phase,
            attempt: old.attempt,
            pod_name: old.pod_name,
            start_time: old.start_time,
            completion_time: old.completion_time,
            exit_code: old.exit_code,
            summary: old.summary,
            observed_generation: old.observed_generation,
            ..TestJobStatus::default()
        };
    }
}

/// Trims a runner Pod for the controller's cache (see the module docs).
pub fn trim_pod(pod: &mut Pod) {
    without_managed_fields(pod);
    pod.metadata.annotations = None;
    pod.spec = pod.spec.take().map(|spec| PodSpec {
        active_deadline_seconds: spec.active_deadline_seconds,
        termination_grace_period_seconds: spec.termination_grace_period_seconds,
        node_name: spec.node_name,
        ..PodSpec::default()
    });
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::{
        crd::Phase,
        policy::Policy,
        reconcile::{
            decide::{Decision, decide},
            read::{PodRead, pod_to_read},
        },
    };

    fn job(phase: &str, pending: &[&str]) -> TestJob {
        serde_json::from_value(json!({
            "apiVersion": "testjob.dev/v1alpha1",
            "kind": "TestJob",
            "metadata": {
                "name": "smoke", "namespace": "ns", "uid": "u-1", "resourceVersion": "7",
                "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{…}"},
                "labels": {"team": "a"},
                "managedFields": [{"manager": "kubectl", "operation": "Apply"}],
            },
            "spec": {
                "testId": 220, "podCleanup": "Always", "ttlSecondsAfterFinished": 60,
                "runner": {"image": "busybox", "command": ["sh", "-c", "true"]},
            },
            "status": {
                "phase": phase, "attempt": 2, "podName": "smoke-2",
                "completionTime": "2026-01-01T00:00:00Z",
                "results": [{"name": "a", "status": "passed"}],
                "attempts": [{"attempt": 1}, {"attempt": 2}],
                "message": "done", "pendingNotifications": pending,
            },
        }))
        .expect("a TestJob")
    }

    #[test]
    fn a_finished_job_keeps_what_decisions_read() {
        let full = job("Succeeded", &[]);
        let mut trimmed = full.clone();
        trim_job(&mut trimmed);
        assert!(trimmed.metadata.managed_fields.is_none());
        assert!(trimmed.metadata.annotations.is_none() && trimmed.metadata.labels.is_none());
        assert!(trimmed.spec.runner.is_none());
        let status = trimmed.status.as_ref().expect("status");
        assert!(status.results.is_empty() && status.attempts.is_empty());
        assert_eq!(status.message, None);
        assert_eq!(status.phase, Some(Phase::Succeeded));
        assert_eq!(status.pod_name.as_deref(), Some("smoke-2"));
        assert_eq!(trimmed.metadata.uid, full.metadata.uid);
        assert_eq!(
            trimmed.metadata.resource_version,
            full.metadata.resource_version
        );
        // Every decision a finished job can lead to comes out the same on the trimmed copy.
        let policy = Policy::default();
        assert_eq!(
            pod_to_read(&trimmed, &policy, false),
            pod_to_read(&full, &policy, false)
        );
        assert_eq!(
            pod_to_read(&trimmed, &policy, false),
            PodRead::Leftover("smoke-2".into())
        );
        for seconds in [0, 30, 120] {
            let now =
                k8s_openapi::jiff::Timestamp::from_second(1_767_225_600 + seconds).expect("a time");
            let decision = decide(&trimmed, None, now, &policy);
            assert_eq!(decision, decide(&full, None, now, &policy));
            assert_ne!(decision, Decision::Done, "the TTL is still honoured");
        }
    }

    #[test]
    fn running_jobs_and_pending_notifications_keep_everything_but_managed_fields() {
        for full in [job("Running", &[]), job("Failed", &["finished/2"])] {
            let mut trimmed = full.clone();
            trim_job(&mut trimmed);
            let mut expected = full.clone();
            expected.metadata.managed_fields = None;
            assert_eq!(trimmed, expected);
        }
    }

    #[test]
    fn a_pod_keeps_its_status_owner_and_time_limit() {
        let mut pod: Pod = serde_json::from_value(json!({
            "metadata": {
                "name": "smoke-1", "uid": "p-1", "annotations": {"note": "x"},
                "labels": {"app.kubernetes.io/managed-by": "testjob-operator"},
                "ownerReferences": [{"apiVersion": "testjob.dev/v1alpha1", "kind": "TestJob",
                    "name": "smoke", "uid": "u-1", "controller": true}],
            },
            "spec": {"activeDeadlineSeconds": 30, "terminationGracePeriodSeconds": 5,
                "containers": [{"name": "runner", "image": "busybox", "env": [{"name": "A", "value": "b"}]}]},
            "status": {"phase": "Running", "startTime": "2026-01-01T00:00:00Z"},
        }))
        .expect("a pod");
        let status = pod.status.clone();
        let owners = pod.metadata.owner_references.clone();
        trim_pod(&mut pod);
        let spec = pod.spec.as_ref().expect("spec");
        assert_eq!(spec.active_deadline_seconds, Some(30));
        assert_eq!(spec.termination_grace_period_seconds, Some(5));
        assert!(spec.containers.is_empty());
        assert!(pod.metadata.annotations.is_none());
        assert!(pod.metadata.labels.is_some());
        assert_eq!(pod.status, status);
        assert_eq!(pod.metadata.owner_references, owners);
    }
}
