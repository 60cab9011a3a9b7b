//! Jobs and runner Pods in every state, for the decision tests.

use k8s_openapi::{api::core::v1::Pod, apimachinery::pkg::apis::meta::v1::Time, jiff::Timestamp};
use serde_json::{Value, json};

use super::{Decision, Outcome, decide};
use crate::policy::Policy;
use crate::{
    crd::{Phase, TestJob, TestJobSpec, TestJobStatus},
    pod::{RunnerDefaults, build_runner_pod},
};

const T0: i64 = 1_750_000_000;

/// `secs` seconds after a fixed instant.
pub fn at(secs: i64) -> Timestamp {
    Timestamp::from_second(T0 + secs).expect("valid timestamp")
}

/// [`at`] in RFC 3339.
pub fn rfc3339(secs: i64) -> String {
    at(secs).to_string()
}

/// Job `checkout` in `phase`, at `attempt` (with Pod `checkout-<attempt>`).
pub fn job(phase: Option<Phase>, attempt: Option<i32>) -> TestJob {
    let mut job = TestJob::new("checkout", TestJobSpec::new(220));
    job.metadata.namespace = Some("ns".into());
    job.metadata.uid = Some("job-uid".into());
    job.status = Some(Box::new(TestJobStatus {
        phase,
        attempt,
        pod_name: attempt.map(|a| format!("checkout-{a}")),
        ..TestJobStatus::default()
    }));
    job
}

/// A Running job at attempt 1.
pub fn running() -> TestJob {
    job(Some(Phase::Running), Some(1))
}

/// A job that finished in `phase` at t=100.
pub fn finished_job(phase: Phase) -> TestJob {
    let mut job = job(Some(phase), Some(1));
    if let Some(status) = job.status.as_mut() {
        status.completion_time = Some(Time(at(100)));
    }
    job
}

/// The job's own runner Pod, created at t=0, with `status` as its status.
pub fn pod(status: Value) -> Pod {
    let defaults = RunnerDefaults {
        command: vec!["true".into()],
        ..crate::config::Config::default().runner
    };
    let mut pod = build_runner_pod(&running(), 1, &defaults).expect("pod builds");
    pod.metadata.creation_timestamp = Some(Time(at(0)));
    pod.status = Some(serde_json::from_value(status).expect("valid pod status"));
    pod
}

/// A runner Pod with `activeDeadlineSeconds`.
pub fn with_deadline(mut pod: Pod, seconds: i64) -> Pod {
    if let Some(spec) = pod.spec.as_mut() {
        spec.active_deadline_seconds = Some(seconds);
    }
    pod
}

/// The `containerStatuses` of a Pod whose runner is in `state`.
pub fn runner_state(state: Value) -> Value {
    json!([{"name": "runner", "image": "busybox", "imageID": "", "ready": false,
            "restartCount": 0, "state": state}])
}

/// A Pod whose runner started at t=1 and runs.
pub fn alive() -> Pod {
    pod(json!({
        "phase": "Running",
        "startTime": rfc3339(1),
        "containerStatuses": runner_state(json!({"running": {"startedAt": rfc3339(1)}})),
    }))
}

/// A Pod whose runner exited with `exit_code` at t=30.
pub fn terminated(phase: &str, exit_code: i32, message: Option<&str>) -> Pod {
    pod(json!({
        "phase": phase,
        "startTime": rfc3339(1),
        "containerStatuses": runner_state(json!({"terminated": {
            "exitCode": exit_code,
            "reason": if exit_code == 0 { "Completed" } else { "Error" },
            "message": message,
            "startedAt": rfc3339(1),
            "finishedAt": rfc3339(30),
        }})),
    }))
}

/// A Pod the kubelet failed at its deadline (runner killed with 143 at t=30).
pub fn deadline_exceeded() -> Pod {
    let mut pod = with_deadline(terminated("Failed", 143, None), 20);
    if let Some(status) = pod.status.as_mut() {
        status.reason = Some("DeadlineExceeded".into());
        status.message =
            Some("Pod was active on the node longer than the specified deadline".into());
    }
    pod
}

/// A Pod whose runner waits with `reason`.
pub fn waiting(reason: &str) -> Pod {
    pod(json!({
        "phase": "Pending",
        "containerStatuses": runner_state(json!({"waiting": {"reason": reason, "message": "details"}})),
    }))
}

/// [`decide`] at t=`secs` with the default policy.
pub fn decide_at(job: &TestJob, pod: Option<&Pod>, secs: i64) -> Decision {
    decide(job, pod, at(secs), &Policy::default())
}

/// The outcome of a `Finish` decision; panics on anything else.
pub fn finished(decision: Decision) -> Outcome {
    match decision {
        Decision::Finish(outcome) => outcome,
        other => panic!("expected Finish, got {other:?}"),
    }
}
