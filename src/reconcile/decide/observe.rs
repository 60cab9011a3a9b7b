//! Reading the runner Pod of a job's current attempt: has it ended, and how (exit code, results,
//! Pod-level failures such as a deadline or an eviction), or how long to wait before looking
//! again (stuck image pulls, unschedulable Pods, the attempt's time limit).

use std::time::Duration;

use k8s_openapi::{
    api::core::v1::{ContainerStateTerminated, ContainerStateWaiting, Pod},
    jiff::{SignedDuration, Timestamp},
};

use crate::{
    crd::Phase,
    handover::SIDECAR,
    outcome::{Outcome, from_exit, reason, terminated_at},
    pod::RUNNER_CONTAINER,
    policy::Policy,
    results::parse_report,
};

/// Reasons that describe a container exit rather than a Pod-level event; a Pod reporting one of
/// these is judged by its container's exit code.
const CONTAINER_LIKE_REASONS: [&str; 2] = ["Error", "Completed"];

/// The Pod reason the kubelet sets when `activeDeadlineSeconds` ran out.
const DEADLINE_EXCEEDED: &str = "DeadlineExceeded";

/// How long the kubelet gets, beyond the deadline and the termination grace period, to report
/// the end of an attempt before the controller ends it itself.
const TIMEOUT_SLACK: Duration = Duration::from_secs(15);

/// Termination grace period of Pods that set none (the Kubernetes default).
const DEFAULT_GRACE_SECONDS: i64 = 30;
/// How long after the runner's exit the report sidecar may take to hand the report over: the
/// kubelet stops it at once and allows it a grace period (30 s by default).
const HANDOVER_GRACE: Duration = Duration::from_secs(45);

/// What the runner Pod of an attempt says.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum PodState {
    /// The attempt is over.
    Ended(Outcome),
    /// The attempt goes on: look again after `requeue_after` (or on a watch event).
    Live {
        /// When to look again at the latest.
        requeue_after: Duration,
    },
}

/// Reads the state of `pod`, the runner Pod (named `name`) of `attempt`.
pub(super) fn observe_pod(
    attempt: i32,
    name: &str,
    pod: &Pod,
    now: Timestamp,
    policy: &Policy,
) -> PodState {
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
        let terminated = state.and_then(|s| s.terminated.as_ref());
        let finished_at = terminated_at(terminated, now);
        let mut outcome = if pod_reason == DEADLINE_EXCEEDED {
            Outcome::failed(attempt, reason::TIMEOUT, timeout_message(pod), finished_at)
        } else {
            let pod_message = status
                .and_then(|s| s.message.clone())
                .unwrap_or_else(|| format!("runner Pod {name} failed"));
            Outcome::failed(attempt, pod_reason, pod_message, finished_at)
        };
        if let Some(terminated) = terminated {
            outcome.exit_code = Some(terminated.exit_code);
            outcome.results = parse_report(terminated.message.as_deref()).results;
        }
        return PodState::Ended(outcome);
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
            return PodState::Ended(outcome);
        }
        if let Some(left) = handing_over(pod, terminated, now) {
            // The report sidecar hands the report over once the runner has exited; its end
            // (a Pod update) brings the reconcile that reads it.
            return PodState::Live {
                requeue_after: left,
            };
        }
        return PodState::Ended(from_exit(attempt, terminated, now));
    }

    match pod_phase {
        Some("Failed") => {
            return PodState::Ended(Outcome::failed(
                attempt,
                reason::POD_FAILED,
                status
                    .and_then(|s| s.message.clone())
                    .unwrap_or_else(|| format!("runner Pod {name} failed without an exit code")),
                now,
            ));
        }
        Some("Succeeded") => {
            return PodState::Ended(Outcome {
                phase: Phase::Succeeded,
                ..Outcome::failed(
                    attempt,
                    reason::NO_RESULTS,
                    format!("runner Pod {name} succeeded but reported no container status"),
                    now,
                )
            });
        }
        _ => {}
    }

    if pod.metadata.deletion_timestamp.is_some() {
        // Being deleted: it will either report a final container state or vanish soon.
        return PodState::Live {
            requeue_after: Duration::from_secs(5),
        };
    }

    // The kubelet enforces the time limit; this is the backstop for when it does not (a Pod that
    // never reached a node, or a kubelet that is gone).
    if let Some(deadline) = timeout_backstop(pod) {
        match remaining(deadline, Duration::ZERO, now) {
            None => {
                let mut outcome =
                    Outcome::failed(attempt, reason::TIMEOUT, timeout_message(pod), now);
                outcome.stop_pod = true;
                return PodState::Ended(outcome);
            }
            Some(left) => {
                return match observe_start(attempt, name, pod, state, now, policy) {
                    PodState::Live { requeue_after } => PodState::Live {
                        requeue_after: requeue_after.min(left),
                    },
                    ended => ended,
                };
            }
        }
    }
    observe_start(attempt, name, pod, state, now, policy)
}

/// Judges a Pod that has not ended: is it stuck before its container could start?
fn observe_start(
    attempt: i32,
    name: &str,
    pod: &Pod,
    state: Option<&k8s_openapi::api::core::v1::ContainerState>,
    now: Timestamp,
    policy: &Policy,
) -> PodState {
    let status = pod.status.as_ref();
    let created = pod.metadata.creation_timestamp.as_ref().map(|t| t.0);
    if let Some(waiting) = state.and_then(|s| s.waiting.as_ref())
        && let Some(stuck) = stuck_reason(waiting)
    {
        let since = created.unwrap_or(now);
        return match remaining(since, policy.start_grace, now) {
            None => PodState::Ended(Outcome::failed(
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
            Some(left) => PodState::Live {
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
            None => PodState::Ended(Outcome::failed(
                attempt,
                reason::UNSCHEDULABLE,
                format!(
                    "runner Pod {name} could not be scheduled for {}s: {}",
                    policy.unschedulable_timeout.as_secs(),
                    scheduled.message.as_deref().unwrap_or("no node fits")
                ),
                now,
            )),
            Some(left) => PodState::Live {
                requeue_after: left,
            },
        };
    }

    PodState::Live {
        requeue_after: policy.resync,
    }
}

/// How long to wait for the report sidecar of a Pod whose runner exited with `terminated`: it is
/// still running and the runner ended less than [`HANDOVER_GRACE`] ago. `None`: no need to wait.
fn handing_over(
    pod: &Pod,
    terminated: &ContainerStateTerminated,
    now: Timestamp,
) -> Option<Duration> {
    let status = pod.status.as_ref()?;
    if status
        .phase
        .as_deref()
        .is_some_and(|p| p == "Succeeded" || p == "Failed")
    {
        return None;
    }
    let sidecar = status
        .init_container_statuses
        .as_ref()?
        .iter()
        .find(|c| c.name == SIDECAR)?;
    let stopped = sidecar
        .state
        .as_ref()
        .is_some_and(|s| s.terminated.is_some());
    if stopped {
        return None;
    }
    remaining(terminated_at(Some(terminated), now), HANDOVER_GRACE, now)
}

/// Whether the kubelet has taken the Pod on (it sets `startTime` before pulling images).
pub(super) fn has_started(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.start_time.as_ref())
        .is_some()
}

/// The Pod's `activeDeadlineSeconds`.
pub(super) fn active_deadline(pod: &Pod) -> Option<i64> {
    pod.spec.as_ref().and_then(|s| s.active_deadline_seconds)
}

/// When the controller ends an attempt whose Pod outlived its `activeDeadlineSeconds`: the
/// kubelet counts from the Pod's `startTime` and then allows the termination grace period; a Pod
/// that never started is only measured from its creation.
fn timeout_backstop(pod: &Pod) -> Option<Timestamp> {
    let limit = active_deadline(pod)?.max(0);
    let (since, grace) = match pod.status.as_ref().and_then(|s| s.start_time.as_ref()) {
        Some(started) => (
            started.0,
            pod.spec
                .as_ref()
                .and_then(|s| s.termination_grace_period_seconds)
                .unwrap_or(DEFAULT_GRACE_SECONDS)
                .max(0),
        ),
        None => (pod.metadata.creation_timestamp.as_ref()?.0, 0),
    };
    let total = SignedDuration::from_secs(limit.saturating_add(grace))
        .checked_add(SignedDuration::try_from(TIMEOUT_SLACK).ok()?)?;
    since.checked_add(total).ok()
}

fn timeout_message(pod: &Pod) -> String {
    match active_deadline(pod) {
        Some(seconds) => format!("the attempt ran longer than its time limit of {seconds}s"),
        None => "the attempt ran longer than its time limit".to_owned(),
    }
}

fn stuck_reason(waiting: &ContainerStateWaiting) -> Option<&str> {
    waiting
        .reason
        .as_deref()
        .filter(|r| reason::STUCK_WAITING.contains(r))
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
pub(super) fn remaining(since: Timestamp, limit: Duration, now: Timestamp) -> Option<Duration> {
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
    use crate::reconcile::decide::{Decision, fixtures::*};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use serde_json::json;

    #[test]
    fn pod_level_failures_win_over_exit_codes() {
        let mut deadline = terminated("Failed", 137, None);
        if let Some(status) = deadline.status.as_mut() {
            status.reason = Some("DeadlineExceeded".into());
            status.message =
                Some("Pod was active on the node longer than the specified deadline".into());
        }
        let outcome = finished(decide_at(&running(), Some(&deadline), 40));
        assert_eq!(outcome.reason, reason::TIMEOUT);
        assert_eq!(outcome.exit_code, Some(137));
        assert!(
            outcome.message.contains("time limit"),
            "{}",
            outcome.message
        );

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
        for stuck in reason::STUCK_WAITING {
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
        deleting.metadata.deletion_timestamp = Some(Time(at(40)));
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
        done.metadata.deletion_timestamp = Some(Time(at(80)));
        done.metadata.deletion_grace_period_seconds = Some(30);
        assert_eq!(
            finished(decide_at(&running(), Some(&done), 60)).phase,
            Phase::Succeeded
        );
    }

    #[test]
    fn a_finished_runner_waits_for_its_report_sidecar_to_hand_over() {
        let with_sidecar = |pod_phase: &str, sidecar: serde_json::Value| {
            let mut pod = terminated(pod_phase, 0, None);
            if let Some(status) = pod.status.as_mut() {
                status.init_container_statuses = Some(vec![
                    serde_json::from_value(json!({
                        "name": "report", "ready": true, "restartCount": 0, "image": "x",
                        "imageID": "", "state": sidecar,
                    }))
                    .expect("status"),
                ]);
            }
            pod
        };
        let live = json!({"running": {"startedAt": rfc3339(1)}});
        let stopped =
            json!({"terminated": {"exitCode": 0, "message": "{\"v\":1,\"missing\":true}"}});
        // The runner ended at t=30; the sidecar still runs: wait, at most 45 s after the exit.
        let handing = with_sidecar("Running", live.clone());
        assert_eq!(
            decide_at(&running(), Some(&handing), 40),
            Decision::Wait {
                requeue_after: Duration::from_secs(35)
            }
        );
        assert!(matches!(
            decide_at(&running(), Some(&handing), 80),
            Decision::Finish(_)
        ));
        // Stopped, or the Pod is over: judge it now.
        let done = with_sidecar("Running", stopped);
        assert!(matches!(
            decide_at(&running(), Some(&done), 40),
            Decision::Finish(_)
        ));
        let over = with_sidecar("Succeeded", live);
        assert!(matches!(
            decide_at(&running(), Some(&over), 40),
            Decision::Finish(_)
        ));
        // Without a sidecar (an older Pod): nothing to wait for.
        assert!(matches!(
            decide_at(&running(), Some(&terminated("Running", 0, None)), 40),
            Decision::Finish(_)
        ));
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
