//! The read step: which runner Pod a reconcile judges, and whether the controller's cache may
//! answer or a fresh read is needed.
//!
//! A Running attempt's Pod comes from the cache while the cache shows it running (nothing to do;
//! its changes trigger a reconcile), and when the cache shows it Succeeded and not being deleted:
//! the container ended by itself with exit 0, and a deletion requested after that cannot change
//! the outcome (see `decide::observe`: a Pod that finished before its deletion was requested keeps
//! its real result), so a fresh read would only repeat what the cache holds, one GET per job.
//! Anything else that may end the attempt is judged on a fresh read: a Pod missing from the cache
//! may just have been created, and a failed or deleting Pod's last state decides the outcome (a
//! Pod deleted by hand ends Failed with exit 143, and the fault tests showed a cached copy of such
//! a Pod judged as TestsFailed rather than PodDeleted). A finished job's leftover Pod comes from
//! the cache.

use k8s_openapi::api::core::v1::Pod;
use kube::{Api, ResourceExt};

use super::{Context, Result};
use crate::{
    crd::{Phase, TestJob},
    pod::pod_name,
    policy::Policy,
};

/// Which Pod a reconcile looks at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PodRead {
    /// The Pod of the running attempt: from the cache while it runs there, else read fresh.
    Current(String),
    /// A finished job's last Pod, which `podCleanup` may still have to delete: from the cache.
    Leftover(String),
    /// None: the job has no attempt running and nothing to clean up.
    Nothing,
}

/// Decides which Pod to read for `job`. `cleaned_up`: this process already cleaned up (or
/// found nothing to clean) after the job finished.
pub fn pod_to_read(job: &TestJob, policy: &Policy, cleaned_up: bool) -> PodRead {
    if let Some(name) = running_pod_name(job) {
        return PodRead::Current(name);
    }
    if needs_cleanup_check(job, policy, cleaned_up) {
        return PodRead::Leftover(last_pod_name(job));
    }
    PodRead::Nothing
}

/// Whether a finished `job`'s Pods may still have to be deleted.
pub fn needs_cleanup_check(job: &TestJob, policy: &Policy, cleaned_up: bool) -> bool {
    let phase = job.status.as_ref().and_then(|s| s.phase);
    phase.is_some_and(|p| policy.pod_cleanup(job).deletes_after(p) && !cleaned_up)
}

/// Whether a cached copy of the current attempt's Pod is good enough: it is not being deleted
/// and it is Pending or Running, so nothing about it can end the attempt yet, or Succeeded, which
/// nothing can change any more (see the module docs).
pub fn cached_copy_will_do(pod: &Pod) -> bool {
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    matches!(phase, None | Some("Pending" | "Running" | "Succeeded"))
        && pod.metadata.deletion_timestamp.is_none()
}

/// The name of the runner Pod to look at, when the job is Running an attempt (not waiting
/// between two).
fn running_pod_name(job: &TestJob) -> Option<String> {
    let status = job.status.as_ref()?;
    if status.phase != Some(Phase::Running) || status.next_attempt_time.is_some() {
        return None;
    }
    Some(last_pod_name(job))
}

/// The runner Pod of the job's latest attempt.
fn last_pod_name(job: &TestJob) -> String {
    let status = job.status.clone().unwrap_or_default();
    let attempt = status.attempt.unwrap_or(1).max(1);
    status
        .pod_name
        .unwrap_or_else(|| pod_name(&job.name_any(), attempt))
}

/// Reads the Pod `what` names, from the cache or the API as [`PodRead`] says.
pub async fn read_pod(
    what: &PodRead,
    namespace: &str,
    pods: &Api<Pod>,
    ctx: &Context,
) -> Result<Option<Pod>> {
    Ok(match what {
        PodRead::Current(name) => match ctx.cached_pod_now(namespace, name) {
            Some(pod) if cached_copy_will_do(&pod) => Some(pod),
            _ => pods.get_opt(name).await?,
        },
        PodRead::Leftover(name) => ctx.cached_pod(namespace, name).await,
        PodRead::Nothing => None,
    })
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use k8s_openapi::jiff::Timestamp;
    use serde_json::json;

    use super::*;
    use crate::crd::{PodCleanup, TestId, TestJobSpec, TestJobStatus};

    fn job(phase: Option<Phase>, attempt: Option<i32>, cleanup: Option<PodCleanup>) -> TestJob {
        let mut job = TestJob::new(
            "smoke",
            TestJobSpec {
                pod_cleanup: cleanup,
                ..TestJobSpec::new(TestId::Int(1))
            },
        );
        job.status = Some(Box::new(TestJobStatus {
            phase,
            attempt,
            ..TestJobStatus::default()
        }));
        job
    }

    fn pod(phase: Option<&str>) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "smoke-1"},
            "status": phase.map(|p| json!({"phase": p})),
        }))
        .expect("a pod")
    }

    #[test]
    fn a_running_attempt_reads_its_pod() {
        let policy = Policy::default();
        let running = job(Some(Phase::Running), Some(2), None);
        assert_eq!(
            pod_to_read(&running, &policy, false),
            PodRead::Current("smoke-2".into())
        );
        let mut named = running.clone();
        if let Some(status) = named.status.as_mut() {
            status.pod_name = Some("custom-2".into());
        }
        assert_eq!(
            pod_to_read(&named, &policy, false),
            PodRead::Current("custom-2".into())
        );
    }

    #[test]
    fn between_attempts_and_before_the_start_nothing_is_read() {
        let policy = Policy::default();
        let mut waiting = job(Some(Phase::Running), Some(1), None);
        if let Some(status) = waiting.status.as_mut() {
            status.next_attempt_time = Some(Time(Timestamp::UNIX_EPOCH));
        }
        assert_eq!(pod_to_read(&waiting, &policy, false), PodRead::Nothing);
        assert_eq!(
            pod_to_read(&job(None, None, None), &policy, false),
            PodRead::Nothing
        );
        assert_eq!(
            pod_to_read(&job(Some(Phase::Pending), None, None), &policy, false),
            PodRead::Nothing
        );
    }

    #[test]
    fn a_finished_job_reads_its_leftover_pod_until_cleaned_up() {
        let policy = Policy::default();
        let succeeded = job(Some(Phase::Succeeded), Some(3), None);
        assert_eq!(
            pod_to_read(&succeeded, &policy, false),
            PodRead::Leftover("smoke-3".into())
        );
        assert_eq!(pod_to_read(&succeeded, &policy, true), PodRead::Nothing);
        // OnSuccess (the default) keeps a failed job's Pods: nothing to clean, nothing to read.
        let failed = job(Some(Phase::Failed), Some(1), None);
        assert_eq!(pod_to_read(&failed, &policy, false), PodRead::Nothing);
        let always = job(Some(Phase::Failed), Some(1), Some(PodCleanup::Always));
        assert_eq!(
            pod_to_read(&always, &policy, false),
            PodRead::Leftover("smoke-1".into())
        );
        let never = job(Some(Phase::Succeeded), Some(1), Some(PodCleanup::Never));
        assert_eq!(pod_to_read(&never, &policy, false), PodRead::Nothing);
    }

    #[test]
    fn only_a_live_pod_is_judged_from_the_cache() {
        assert!(cached_copy_will_do(&pod(None)));
        assert!(cached_copy_will_do(&pod(Some("Pending"))));
        assert!(cached_copy_will_do(&pod(Some("Running"))));
        assert!(cached_copy_will_do(&pod(Some("Succeeded"))));
        assert!(!cached_copy_will_do(&pod(Some("Failed"))));
        for phase in ["Running", "Succeeded"] {
            let mut deleting = pod(Some(phase));
            deleting.metadata.deletion_timestamp = Some(Time(Timestamp::UNIX_EPOCH));
            assert!(!cached_copy_will_do(&deleting));
        }
    }
}
