//! Prometheus metrics of the operator, served on `/metrics` in the OpenMetrics text format.
//!
//! Two kinds of metrics live here:
//! - counters and histograms that reconciles feed through [`Metrics::job_finished`],
//!   [`Metrics::pod_created`] and [`Metrics::reconcile_error`];
//! - gauges computed from the controller's TestJob cache at scrape time (`testjob_jobs`,
//!   `testjob_running`, `testjob_queue_depth`), so they are exact whatever the reconciles did
//!   and need no bookkeeping. Only the replica that runs the controller (the leader) has a cache,
//!   so standbys report no such samples and sums across replicas stay right.

use std::{
    collections::BTreeMap,
    fmt,
    sync::{Arc, LazyLock, PoisonError, RwLock},
};

use k8s_openapi::{api::core::v1::Pod, apimachinery::pkg::apis::meta::v1::Time};
use kube::{CustomResourceExt, Resource};
use prometheus_client::{
    collector::Collector,
    encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric},
    metrics::{
        counter::Counter,
        family::Family,
        gauge::{ConstGauge, Gauge},
        histogram::{Histogram, exponential_buckets},
    },
    registry::{Registry, Unit},
};

use crate::{
    crd::{Phase, TestJob, TestJobStatus},
    job_cache::JobCache,
};

/// The `Content-Type` of the OpenMetrics text format.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Label set of the per-phase metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PhaseLabel {
    phase: String,
}

/// Label set of `testjob_reconcile_errors_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: &'static str,
}

/// The operator's metrics registry, shared by all reconciles and the HTTP server.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    finished: Family<PhaseLabel, Counter>,
    duration: Histogram,
    queue_wait: Histogram,
    reconcile_errors: Family<ReasonLabel, Counter>,
    cache: Arc<CacheCollector>,
    notifications: Notifications,
}

/// The notification metrics (see `crate::notify`).
#[derive(Debug, Default, Clone)]
struct Notifications {
    sent: Counter,
    failed: Counter,
    dropped: Counter,
    queued: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A registry with every metric registered and no observations.
    pub fn new() -> Self {
        let finished = Family::<PhaseLabel, Counter>::default();
        // Runs last from seconds to hours: 1s .. ~4.5h.
        let duration = Histogram::new(exponential_buckets(1.0, 2.0, 15));
        // Waits are short unless jobs queue for a slot: 0.5s .. ~2.3h.
        let queue_wait = Histogram::new(exponential_buckets(0.5, 2.0, 15));
        let reconcile_errors = Family::<ReasonLabel, Counter>::default();
        let cache = Arc::new(CacheCollector::default());

        let mut registry = Registry::default();
        registry.register(
            "testjob_finished",
            "TestJobs that reached a final phase, by phase",
            finished.clone(),
        );
        registry.register_with_unit(
            "testjob_duration",
            "Run time of finished TestJobs (start of the final attempt to completion)",
            Unit::Seconds,
            duration.clone(),
        );
        registry.register_with_unit(
            "testjob_queue_wait",
            "Time from a TestJob's creation to the creation of its first runner Pod",
            Unit::Seconds,
            queue_wait.clone(),
        );
        registry.register(
            "testjob_reconcile_errors",
            "Failed reconciles, by kind of error",
            reconcile_errors.clone(),
        );
        registry.register_collector(Box::new(cache.clone()));
        let notifications = Notifications::default();
        registry.register(
            "testjob_notifications_sent",
            "Notifications a receiver accepted",
            notifications.sent.clone(),
        );
        registry.register(
            "testjob_notifications_failed",
            "Notification requests that failed (unreachable, 429, 5xx: retried; other 4xx: given up)",
            notifications.failed.clone(),
        );
        registry.register(
            "testjob_notifications_dropped",
            "Notifications dropped from a full queue (they stay pending and are retried at the next relist)",
            notifications.dropped.clone(),
        );
        registry.register(
            "testjob_notification_queue_depth",
            "Notifications waiting for delivery or being delivered",
            notifications.queued.clone(),
        );
        // Every reason starts at zero, so rates and alerts work before the first error.
        for reason in ERROR_REASONS {
            let _ = reconcile_errors.get_or_create(&ReasonLabel { reason });
        }
        for phase in terminal_phases() {
            let _ = finished.get_or_create(&PhaseLabel {
                phase: phase.clone(),
            });
        }
        Metrics {
            registry,
            finished,
            duration,
            queue_wait,
            reconcile_errors,
            cache,
            notifications,
        }
    }

    /// A notification was queued.
    pub fn notification_queued(&self) {
        self.notifications.queued.inc();
    }

    /// A queued notification was handled (delivered or given up).
    pub fn notification_done(&self) {
        self.notifications.queued.dec();
    }

    /// A receiver accepted a notification.
    pub fn notification_sent(&self) {
        self.notifications.sent.inc();
    }

    /// A notification request failed.
    pub fn notification_failed(&self) {
        self.notifications.failed.inc();
    }

    /// A notification was dropped from a full queue.
    pub fn notification_dropped(&self) {
        self.notifications.dropped.inc();
    }

    /// Computes the cache gauges from `store` from now on (the controller's TestJob cache).
    pub fn watch_jobs(&self, jobs: Arc<JobCache>) {
        *self
            .cache
            .jobs
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Some(jobs);
    }

    /// Records a final status just written: counts its phase and observes its run time.
    /// Statuses that are not final are ignored.
    pub fn job_finished(&self, status: &TestJobStatus) {
        let Some(phase) = status.phase.filter(|p| p.is_terminal()) else {
            return;
        };
        self.finished
            .get_or_create(&PhaseLabel {
                phase: phase.as_str().to_owned(),
            })
            .inc();
        if let (Some(start), Some(end)) = (&status.start_time, &status.completion_time) {
            self.duration.observe(seconds_between(start, end));
        }
    }

    /// Records that `job` started `attempt` with runner `pod` (created, or adopted after a
    /// restart; either way the Running status is written once per attempt): the first attempt's
    /// Pod ends the job's wait in the queue.
    pub fn attempt_started(&self, job: &TestJob, attempt: i32, pod: &Pod) {
        if attempt != 1 {
            return;
        }
        if let (Some(created), Some(started)) = (
            &job.meta().creation_timestamp,
            &pod.metadata.creation_timestamp,
        ) {
            self.queue_wait.observe(seconds_between(created, started));
        }
    }

    /// Counts a failed reconcile under the fixed reason of its error (the error's category).
    pub fn reconcile_error(&self, reason: ErrorReason) {
        self.reconcile_errors
            .get_or_create(&ReasonLabel {
                reason: reason.as_str(),
            })
            .inc();
    }

    /// The whole registry in the OpenMetrics text format (ending with `# EOF`).
    pub fn encode(&self) -> Result<String, fmt::Error> {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

/// The `reason` label of `testjob_reconcile_errors_total`: what kind of failure a reconcile met.
/// A fixed set, so error texts, which carry names and messages, never become labels; each
/// reconcile error maps to one of these by an exhaustive match (`reconcile::Error::category`),
/// so the compiler fixes the label set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorReason {
    /// A write lost an optimistic-concurrency race (409).
    Conflict,
    /// Something was gone (404, 410), or vanished between two calls.
    NotFound,
    /// Not authenticated or not allowed (401, 403).
    Forbidden,
    /// The API refused a request as invalid (400, 422).
    Invalid,
    /// The API server failed (5xx).
    ServerError,
    /// Any other API status.
    ApiError,
    /// The API was not reached or its answer not read (connection, TLS, decoding).
    Transport,
    /// The TestJob itself lacks what a reconcile needs (namespace, UID).
    InvalidObject,
}

impl ErrorReason {
    /// Every reason, in the order `/metrics` lists them.
    pub const ALL: [ErrorReason; 8] = [
        ErrorReason::Conflict,
        ErrorReason::NotFound,
        ErrorReason::Forbidden,
        ErrorReason::Invalid,
        ErrorReason::ServerError,
        ErrorReason::ApiError,
        ErrorReason::Transport,
        ErrorReason::InvalidObject,
    ];

    /// The label value.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorReason::Conflict => "Conflict",
            ErrorReason::NotFound => "NotFound",
            ErrorReason::Forbidden => "Forbidden",
            ErrorReason::Invalid => "Invalid",
            ErrorReason::ServerError => "ServerError",
            ErrorReason::ApiError => "ApiError",
            ErrorReason::Transport => "Transport",
            ErrorReason::InvalidObject => "InvalidObject",
        }
    }

    /// The reason of an API answer with HTTP status `code`.
    pub fn of_api_status(code: u16) -> Self {
        match code {
            409 => ErrorReason::Conflict,
            404 | 410 => ErrorReason::NotFound,
            401 | 403 => ErrorReason::Forbidden,
            400 | 422 => ErrorReason::Invalid,
            500..=599 => ErrorReason::ServerError,
            _ => ErrorReason::ApiError,
        }
    }
}

/// Every value of the `reason` label of `testjob_reconcile_errors_total`.
pub const ERROR_REASONS: [&str; ErrorReason::ALL.len()] = {
    let mut names = [""; ErrorReason::ALL.len()];
    let mut i = 0;
    while i < names.len() {
        names[i] = ErrorReason::ALL[i].as_str();
        i += 1;
    }
    names
};

fn seconds_between(from: &Time, to: &Time) -> f64 {
    to.0.duration_since(from.0).as_secs_f64().max(0.0)
}

/// The phases the CRD allows, read from its schema so that a new phase is counted without a
/// change here.
fn all_phases() -> &'static [String] {
    static PHASES: LazyLock<Vec<String>> = LazyLock::new(|| {
        let crd = serde_json::to_value(TestJob::crd()).unwrap_or_default();
        let phases = crd
            .pointer(
                "/spec/versions/0/schema/openAPIV3Schema/properties/status/properties/phase/enum",
            )
            .and_then(|e| e.as_array())
            .map(|e| {
                e.iter()
                    .filter_map(|p| p.as_str().map(str::to_owned))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        if phases.is_empty() {
            [
                Phase::Pending,
                Phase::Running,
                Phase::Succeeded,
                Phase::Failed,
            ]
            .iter()
            .map(|p| p.as_str().to_owned())
            .collect()
        } else {
            phases
        }
    });
    &PHASES
}

fn terminal_phases() -> impl Iterator<Item = &'static String> {
    all_phases().iter().filter(|p| {
        serde_json::from_value::<Phase>(serde_json::Value::String(p.to_string()))
            .is_ok_and(Phase::is_terminal)
    })
}

/// Counts of the cached TestJobs, computed per scrape.
#[derive(Debug, Default, PartialEq, Eq)]
struct CacheCounts {
    by_phase: BTreeMap<String, i64>,
    running: i64,
    queued: i64,
}

impl CacheCounts {
    fn of<'a>(jobs: impl IntoIterator<Item = &'a TestJob>) -> Self {
        let mut counts = CacheCounts {
            by_phase: all_phases().iter().map(|p| (p.clone(), 0)).collect(),
            ..CacheCounts::default()
        };
        for job in jobs {
            if job.meta().deletion_timestamp.is_some() {
                continue;
            }
            // A job the controller has not looked at yet waits like a Pending one.
            let phase = job
                .status
                .as_ref()
                .and_then(|s| s.phase)
                .unwrap_or(Phase::Pending);
            *counts
                .by_phase
                .entry(phase.as_str().to_owned())
                .or_default() += 1;
            match phase {
                Phase::Pending => counts.queued += 1,
                Phase::Running => counts.running += 1,
                _ => {}
            }
        }
        counts
    }
}

/// Encodes the gauges derived from the TestJob cache.
#[derive(Debug, Default)]
struct CacheCollector {
    jobs: RwLock<Option<Arc<JobCache>>>,
}

impl Collector for CacheCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let cache = self
            .jobs
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let Some(cache) = cache else {
            return Ok(());
        };
        let jobs = cache.store().state();
        let mut counts = CacheCounts::of(jobs.iter().map(|j| j.as_ref()));
        // Finished jobs the cache let go of (see `crate::job_cache`) still count.
        for (phase, count) in cache.retired_by_phase() {
            *counts.by_phase.entry(phase.to_owned()).or_default() += count;
        }

        let gauge = ConstGauge::new(0i64);
        let mut family = encoder.encode_descriptor(
            "testjob_jobs",
            "TestJobs in the watched scope, by phase (jobs not yet picked up count as Pending)",
            None,
            gauge.metric_type(),
        )?;
        for (phase, count) in &counts.by_phase {
            let label = PhaseLabel {
                phase: phase.clone(),
            };
            ConstGauge::new(*count).encode(family.encode_family(&label)?)?;
        }
        ConstGauge::new(counts.running).encode(encoder.encode_descriptor(
            "testjob_running",
            "TestJobs whose runner Pod is running (phase Running)",
            None,
            gauge.metric_type(),
        )?)?;
        ConstGauge::new(counts.queued).encode(encoder.encode_descriptor(
            "testjob_queue_depth",
            "TestJobs waiting to start (phase Pending, or not yet picked up)",
            None,
            gauge.metric_type(),
        )?)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::{apimachinery::pkg::apis::meta::v1::ObjectMeta, jiff::Timestamp};
    use kube::runtime::watcher;

    fn time(seconds: i64) -> Time {
        Time(Timestamp::from_second(1_700_000_000 + seconds).expect("valid time"))
    }

    fn job(name: &str, phase: Option<Phase>) -> TestJob {
        let mut job: TestJob = serde_json::from_value(serde_json::json!({
            "apiVersion": "testjob.dev/v1alpha1",
            "kind": "TestJob",
            "metadata": {},
            "spec": {"testId": 1},
        }))
        .expect("a valid TestJob");
        job.metadata = ObjectMeta {
            name: Some(name.into()),
            namespace: Some("ci".into()),
            creation_timestamp: Some(time(0)),
            ..ObjectMeta::default()
        };
        job.status = phase.map(|phase| {
            Box::new(TestJobStatus {
                phase: Some(phase),
                ..TestJobStatus::default()
            })
        });
        job
    }

    /// The sample lines of the exposition (no comments), as written.
    fn samples(text: &str) -> Vec<&str> {
        text.lines().filter(|l| !l.starts_with('#')).collect()
    }

    #[test]
    fn exposition_is_openmetrics_with_every_metric_at_zero() {
        let metrics = Metrics::new();
        let text = metrics.encode().expect("encodes");
        assert!(text.ends_with("# EOF\n"), "{text}");
        for line in [
            "# TYPE testjob_finished counter",
            "# TYPE testjob_duration_seconds histogram",
            "# UNIT testjob_duration_seconds seconds",
            "# TYPE testjob_queue_wait_seconds histogram",
            "# TYPE testjob_reconcile_errors counter",
            r#"testjob_finished_total{phase="Succeeded"} 0"#,
            r#"testjob_finished_total{phase="Failed"} 0"#,
            r#"testjob_reconcile_errors_total{reason="Conflict"} 0"#,
            "testjob_duration_seconds_count 0",
            "testjob_queue_wait_seconds_count 0",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
        // Non-final phases are never counted as finished.
        assert!(!text.contains(r#"testjob_finished_total{phase="Running"}"#));
        // Without a cache (a standby) the cache gauges are left out entirely.
        assert!(!text.contains("testjob_jobs"), "{text}");
    }

    #[test]
    fn finished_jobs_are_counted_by_phase_with_their_duration() {
        let metrics = Metrics::new();
        let finished = |phase, seconds: i64| TestJobStatus {
            phase: Some(phase),
            start_time: Some(time(10)),
            completion_time: Some(time(10 + seconds)),
            ..TestJobStatus::default()
        };
        metrics.job_finished(&finished(Phase::Succeeded, 3));
        metrics.job_finished(&finished(Phase::Succeeded, 100));
        metrics.job_finished(&finished(Phase::Failed, 1));
        // A Running status is not an end.
        metrics.job_finished(&finished(Phase::Running, 1));
        let text = metrics.encode().expect("encodes");
        let lines = samples(&text);
        for line in [
            r#"testjob_finished_total{phase="Succeeded"} 2"#,
            r#"testjob_finished_total{phase="Failed"} 1"#,
            "testjob_duration_seconds_sum 104.0",
            "testjob_duration_seconds_count 3",
            r#"testjob_duration_seconds_bucket{le="1.0"} 1"#,
            r#"testjob_duration_seconds_bucket{le="4.0"} 2"#,
            r#"testjob_duration_seconds_bucket{le="128.0"} 3"#,
        ] {
            assert!(lines.contains(&line), "missing {line:?} in\n{text}");
        }
    }

    #[test]
    fn queue_wait_is_observed_for_the_first_attempt_only() {
        let metrics = Metrics::new();
        let job = job("a", None);
        let pod = |seconds| Pod {
            metadata: ObjectMeta {
                creation_timestamp: Some(time(seconds)),
                ..ObjectMeta::default()
            },
            ..Pod::default()
        };
        metrics.attempt_started(&job, 1, &pod(7));
        metrics.attempt_started(&job, 2, &pod(60));
        let text = metrics.encode().expect("encodes");
        let lines = samples(&text);
        assert!(
            lines.contains(&"testjob_queue_wait_seconds_sum 7.0"),
            "{text}"
        );
        assert!(
            lines.contains(&"testjob_queue_wait_seconds_count 1"),
            "{text}"
        );
    }

    #[test]
    fn reconcile_errors_use_fixed_reasons() {
        let metrics = Metrics::new();
        let api = ErrorReason::of_api_status;
        metrics.reconcile_error(api(409));
        metrics.reconcile_error(api(409));
        metrics.reconcile_error(api(503));
        metrics.reconcile_error(api(418));
        metrics.reconcile_error(ErrorReason::InvalidObject);
        metrics.reconcile_error(ErrorReason::Transport);
        let text = metrics.encode().expect("encodes");
        let lines = samples(&text);
        for line in [
            r#"testjob_reconcile_errors_total{reason="Conflict"} 2"#,
            r#"testjob_reconcile_errors_total{reason="ServerError"} 1"#,
            r#"testjob_reconcile_errors_total{reason="ApiError"} 1"#,
            r#"testjob_reconcile_errors_total{reason="InvalidObject"} 1"#,
            r#"testjob_reconcile_errors_total{reason="Transport"} 1"#,
        ] {
            assert!(lines.contains(&line), "missing {line:?} in\n{text}");
        }
        // The label set never grows beyond the fixed reasons.
        let reasons = lines
            .iter()
            .filter(|l| l.starts_with("testjob_reconcile_errors_total"))
            .count();
        assert_eq!(reasons, ERROR_REASONS.len(), "{text}");
    }

    #[test]
    fn cache_gauges_count_the_stored_jobs_by_phase() {
        let metrics = Metrics::new();
        let (cache, _) = JobCache::new();
        let mut deleted = job("gone", Some(Phase::Running));
        deleted.metadata.deletion_timestamp = Some(time(5));
        for object in [
            job("new", None),
            job("waiting", Some(Phase::Pending)),
            job("run-1", Some(Phase::Running)),
            job("run-2", Some(Phase::Running)),
            job("ok", Some(Phase::Succeeded)),
            deleted,
        ] {
            cache.apply(&watcher::Event::Apply(object));
        }
        let mut retired = job("retired", Some(Phase::Succeeded));
        retired.metadata.uid = Some("9d1c0c4e-1f7b-4b5e-8a3d-6e2f1a0b9c33".into());
        cache.apply(&watcher::Event::Apply(retired.clone()));
        assert!(cache.retire(&retired));
        metrics.watch_jobs(Arc::new(cache));
        let text = metrics.encode().expect("encodes");
        let lines = samples(&text);
        for line in [
            r#"testjob_jobs{phase="Pending"} 2"#,
            r#"testjob_jobs{phase="Running"} 2"#,
            r#"testjob_jobs{phase="Succeeded"} 2"#,
            r#"testjob_jobs{phase="Failed"} 0"#,
            "testjob_running 2",
            "testjob_queue_depth 2",
        ] {
            assert!(lines.contains(&line), "missing {line:?} in\n{text}");
        }
        assert!(text.contains("# TYPE testjob_jobs gauge"), "{text}");
    }

    #[test]
    fn every_phase_of_the_crd_gets_a_jobs_row() {
        let phases = all_phases();
        for phase in ["Pending", "Running", "Succeeded", "Failed"] {
            assert!(phases.iter().any(|p| p == phase), "{phases:?}");
        }
        let counts = CacheCounts::of([]);
        assert_eq!(counts.by_phase.len(), phases.len());
        assert!(counts.by_phase.values().all(|n| *n == 0));
        assert!(terminal_phases().all(|p| p != "Pending" && p != "Running"));
    }
}
