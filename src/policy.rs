//! The job policies the operator applies (time limits, retries and their backoff, Pod cleanup,
//! TTL): the defaults come from the operator's flags, a TestJob's spec overrides them.

use std::time::Duration;

use crate::crd::{PodCleanup, TestJob};

/// Time limits and defaults the decision applies, from the operator's configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// How long a container may sit in an image-pull or config error before the job fails.
    pub start_grace: Duration,
    /// How long a Pod may stay unschedulable before the job fails.
    pub unschedulable_timeout: Duration,
    /// How often a Running job is looked at even without a watch event.
    pub resync: Duration,
    /// Pause after the first failed attempt; it doubles after each further one.
    pub retry_backoff: Duration,
    /// Longest pause between two attempts.
    pub max_retry_backoff: Duration,
    /// `retries` of jobs that set none.
    pub retries: i32,
    /// `podCleanup` of jobs that set none.
    pub pod_cleanup: PodCleanup,
    /// `ttlSecondsAfterFinished` of jobs that set none; `None` keeps them.
    pub ttl_after_finished: Option<Duration>,
    /// `keepLogs` of jobs that set none.
    pub keep_logs: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            start_grace: Duration::from_secs(60),
            unschedulable_timeout: Duration::from_secs(300),
            resync: Duration::from_secs(60),
            retry_backoff: Duration::from_secs(10),
            max_retry_backoff: Duration::from_secs(300),
            retries: 0,
            pod_cleanup: PodCleanup::OnSuccess,
            ttl_after_finished: None,
            keep_logs: false,
        }
    }
}

impl Policy {
    /// How many attempts `job` gets in all.
    pub fn max_attempts(&self, job: &TestJob) -> i32 {
        1 + job.spec.retries.unwrap_or(self.retries).max(0)
    }

    /// The pause after attempt `failed` failed: `retry_backoff × 2^(failed-1)`, at most
    /// `max_retry_backoff`.
    pub fn backoff(&self, failed: i32) -> Duration {
        let doublings = u32::try_from(failed.saturating_sub(1)).unwrap_or(0).min(31);
        self.retry_backoff
            .saturating_mul(1u32 << doublings)
            .min(self.max_retry_backoff)
    }

    /// Whether the runner's log is kept before `job`'s runner Pods are deleted.
    pub fn keep_logs(&self, job: &TestJob) -> bool {
        job.spec.keep_logs.unwrap_or(self.keep_logs)
    }

    /// When `job`'s runner Pods are deleted.
    pub fn pod_cleanup(&self, job: &TestJob) -> PodCleanup {
        job.spec.pod_cleanup.unwrap_or(self.pod_cleanup)
    }

    /// How long `job` is kept after it finished, if not forever.
    pub fn ttl_after_finished(&self, job: &TestJob) -> Option<Duration> {
        match job.spec.ttl_seconds_after_finished {
            Some(seconds) => Some(Duration::from_secs(u64::try_from(seconds).unwrap_or(0))),
            None => self.ttl_after_finished,
        }
    }
}
