//! What a benchmark run measured ([`Report`]), judged against the issue's goals, and shown as a
//! table, one JSON object and a chart.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::args::BenchArgs;
use crate::load::LoadPoint;
use crate::measure::{Latencies, Writes};
use crate::procfs::{Machine, ProcUsage};
use crate::reports::ReportCost;
use crate::storage::Stored;

mod charts;
mod goals;

pub use goals::Goal;

/// A write rate as measured (see `crate::capacity`).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Capacity {
    /// Writes done.
    pub writes: u64,
    /// How long they took, seconds.
    pub seconds: f64,
    /// Requests in flight at once.
    pub concurrency: usize,
}

impl Capacity {
    /// Writes per second.
    pub fn per_second(&self) -> f64 {
        if self.seconds > 0.0 {
            self.writes as f64 / self.seconds
        } else {
            0.0
        }
    }
}

/// The figures the issue asks for: keys of [`Report::json`] whose values are numbers.
pub const ISSUE_FIGURES: [&str; 10] = [
    "dispatch_ms_p50",
    "dispatch_ms_p99",
    "watch_ms_p50",
    "watch_ms_p99",
    "dispatch_over_watch",
    "jobs_per_s",
    "api_capacity_jobs_per_s",
    "writes_per_job",
    "operator_rss_mib",
    "operator_cpu_ms_per_job",
];

/// Everything one run measured.
#[derive(Debug)]
pub struct Report {
    /// The flags of the run.
    pub args: BenchArgs,
    /// The machine.
    pub machine: Machine,
    /// Dispatch latencies: TestJob create sent → its runner Pod seen by a watcher.
    pub dispatch: Latencies,
    /// Watch latencies of the probes: create sent → seen by a plain watcher.
    pub watch: Latencies,
    /// Dispatch latencies counted from the create's answer instead.
    pub dispatch_after_answer: Latencies,
    /// Watch latencies counted from the create's answer instead (near zero: the answer and
    /// the watch event leave the server together).
    pub watch_after_answer: Latencies,
    /// With `--max-running`: freed slot seen → next runner Pod seen.
    pub handoff: Option<Latencies>,
    /// Dispatch latency on the quiet cluster after the run, one job at a time.
    pub idle_dispatch: Latencies,
    /// Watch latency on the quiet cluster, measured alternately with `idle_dispatch`.
    pub idle_watch: Latencies,
    /// First create → every job created.
    pub create_seconds: f64,
    /// First create → last job seen finished.
    pub elapsed_seconds: f64,
    /// The API's write capacity for the writes of a job, many requests in flight.
    pub capacity: Capacity,
    /// The same, one request at a time.
    pub sequential: Capacity,
    /// The API's write capacity for small ConfigMaps (a reference: the cheapest writes).
    pub configmaps: Capacity,
    /// The fewest writes a job needs (status Running, Pod created, status final, Pod deleted).
    pub min_writes_per_job: u64,
    /// The operator's writes during the run.
    pub operator_writes: Writes,
    /// Every client's writes during the run (this program's, the operator's).
    pub all_writes: Writes,
    /// The operator's requests of any kind during the run.
    pub operator_requests: u64,
    /// The operator's usage when the first job was created.
    pub usage_before: ProcUsage,
    /// The operator's usage when the last job had finished and its Pods were cleaned up.
    pub usage_after: ProcUsage,
    /// CPU time of this process (sandbox, simulated kubelet, watchers, creates) over the same
    /// window as the operator's usage, milliseconds.
    pub own_cpu_ms: u64,
    /// The part of `own_cpu_ms` spent on the sandbox's own threads (API server, controllers,
    /// scheduler, simulated kubelet); the rest is this program's clients (creates, watchers).
    pub sandbox_threads_cpu_ms: u64,
    /// Length of that window (jobs created → finished and cleaned up), seconds.
    pub usage_seconds: f64,
    /// Jobs by phase, as last seen.
    pub phases: BTreeMap<String, usize>,
    /// Jobs never seen finished.
    pub unfinished: usize,
    /// Jobs whose runner Pod was never seen.
    pub undispatched: usize,
    /// Runner Pods still there when the run ended.
    pub leftover_pods: usize,
    /// Duplicate or unexpected runner Pods.
    pub duplicate_pods: Vec<String>,
    /// Times (seconds from the first create) at which jobs were created, runner Pods seen and
    /// jobs seen finished, for the chart.
    pub timeline: [Vec<f64>; 3],
    /// The operator's RSS (`VmRSS`, KiB) once the first half of the jobs had finished and once
    /// all had: the jobs are created in two equal bursts, so that the two samples differ by
    /// what the finished jobs of the second half keep (the transient memory of a burst is
    /// reused by the next).
    pub rss_at_half_kib: u64,
    /// See [`Report::rss_at_half_kib`].
    pub rss_at_end_kib: u64,
    /// The load curve's stages (none with `--load-seconds 0`).
    pub load_curve: Vec<LoadPoint>,
    /// What finished jobs store, measured on the idle jobs.
    pub stored: Stored,
    /// What a large report costs (`--report-bytes`).
    pub report_cost: Option<ReportCost>,
}

impl Report {
    /// N, the jobs of the run.
    fn n(&self) -> usize {
        self.args.jobs
    }

    /// Jobs finished per second, end to end.
    pub fn jobs_per_s(&self) -> f64 {
        per_second(self.n() as f64, self.elapsed_seconds)
    }

    /// The API's write capacity divided by the writes a job needs at least.
    pub fn capacity_jobs_per_s(&self) -> f64 {
        self.capacity.per_second() / self.min_writes_per_job.max(1) as f64
    }

    /// The operator's writes per job.
    pub fn writes_per_job(&self) -> f64 {
        self.operator_writes.total as f64 / self.n().max(1) as f64
    }

    /// The operator's writes per job that change state (its Events apart: the issue's goal counts
    /// state writes, and Events are written as the Job controller does).
    pub fn state_writes_per_job(&self) -> f64 {
        (self.operator_writes.total - self.operator_writes.events()) as f64 / self.n().max(1) as f64
    }

    /// Dispatch p50 ÷ watch p50.
    pub fn dispatch_over_watch(&self) -> f64 {
        p50_ratio(&self.dispatch, &self.watch)
    }

    /// Idle dispatch p50 ÷ idle watch p50.
    pub fn idle_dispatch_over_watch(&self) -> f64 {
        p50_ratio(&self.idle_dispatch, &self.idle_watch)
    }

    /// Peak RSS of the operator, MiB.
    pub fn rss_mib(&self) -> f64 {
        self.usage_after.rss_peak_kib as f64 / 1024.0
    }

    /// The operator's marginal memory per finished job, KiB: the RSS growth from the first
    /// half's end to the second's, over the jobs of the second half.
    pub fn rss_kib_per_finished_job(&self) -> f64 {
        let second_half = self.n() - self.n() / 2;
        (self.rss_at_end_kib as f64 - self.rss_at_half_kib as f64) / second_half.max(1) as f64
    }

    /// The load curve as JSON: one object per stage.
    fn load_curve_json(&self) -> Value {
        self.load_curve
            .iter()
            .map(|point| {
                json!({
                    "load": point.fraction,
                    "jobs_per_s": round(point.rate, 1),
                    "jobs": point.jobs,
                    "undispatched": point.undispatched,
                    "dispatch_ms_p50": round(point.dispatch.percentile(50.0), 2),
                    "dispatch_ms_p99": round(point.dispatch.percentile(99.0), 2),
                    "watch_ms_p50": round(point.watch.percentile(50.0), 2),
                    "watch_ms_p99": round(point.watch.percentile(99.0), 2),
                    "watch_probes": point.watch.len(),
                    "dispatch_over_watch": round(p50_ratio(&point.dispatch, &point.watch), 2),
                })
            })
            .collect()
    }

    /// Operator CPU time per job during the run, milliseconds.
    pub fn cpu_ms_per_job(&self) -> f64 {
        self.usage_after
            .cpu_ms
            .saturating_sub(self.usage_before.cpu_ms) as f64
            / self.n().max(1) as f64
    }

    /// This process's CPU time (the sandbox and the measuring) per job, milliseconds.
    pub fn own_cpu_ms_per_job(&self) -> f64 {
        self.own_cpu_ms as f64 / self.n().max(1) as f64
    }

    /// The sandbox's own threads' CPU time per job, milliseconds: `own_cpu_ms_per_job` without
    /// the measuring clients.
    pub fn sandbox_threads_cpu_ms_per_job(&self) -> f64 {
        self.sandbox_threads_cpu_ms as f64 / self.n().max(1) as f64
    }

    /// This program's clients' CPU time per job (creates, watch trackers, probes), milliseconds.
    pub fn clients_cpu_ms_per_job(&self) -> f64 {
        self.own_cpu_ms.saturating_sub(self.sandbox_threads_cpu_ms) as f64 / self.n().max(1) as f64
    }

    /// How busy the machine's CPUs were with the operator and this process during the run
    /// (1 = every CPU all the time).
    pub fn cpu_busy(&self) -> f64 {
        let used = self
            .usage_after
            .cpu_ms
            .saturating_sub(self.usage_before.cpu_ms)
            + self.own_cpu_ms;
        let available = self.usage_seconds * 1000.0 * self.machine.cpus.max(1) as f64;
        if available > 0.0 {
            used as f64 / available
        } else {
            0.0
        }
    }

    /// The closing JSON object.
    pub fn json(&self) -> Value {
        let writes_by_kind: serde_json::Map<String, Value> = self
            .operator_writes
            .by_kind
            .iter()
            .map(|(k, v)| (k.clone(), json!(*v as f64 / self.n().max(1) as f64)))
            .collect();
        let phases: serde_json::Map<String, Value> = self
            .phases
            .iter()
            .map(|(p, n)| (p.clone(), json!(n)))
            .collect();
        let n = self.n().max(1) as f64;
        let pairs: Vec<(&str, Value)> = vec![
            ("n", json!(self.n())),
            ("max_running", json!(self.args.max_running)),
            ("pod_seconds", json!(self.args.pod_seconds)),
            ("concurrency", json!(self.args.concurrency)),
            (
                "dispatch_ms_p50",
                json!(round(self.dispatch.percentile(50.0), 2)),
            ),
            (
                "dispatch_ms_p99",
                json!(round(self.dispatch.percentile(99.0), 2)),
            ),
            ("dispatch_ms_max", json!(round(self.dispatch.max(), 2))),
            ("watch_ms_p50", json!(round(self.watch.percentile(50.0), 2))),
            ("watch_ms_p99", json!(round(self.watch.percentile(99.0), 2))),
            ("watch_probes", json!(self.watch.len())),
            (
                "dispatch_after_answer_ms_p50",
                json!(round(self.dispatch_after_answer.percentile(50.0), 2)),
            ),
            (
                "dispatch_after_answer_ms_p99",
                json!(round(self.dispatch_after_answer.percentile(99.0), 2)),
            ),
            (
                "watch_after_answer_ms_p50",
                json!(round(self.watch_after_answer.percentile(50.0), 2)),
            ),
            (
                "watch_after_answer_ms_p99",
                json!(round(self.watch_after_answer.percentile(99.0), 2)),
            ),
            (
                "dispatch_over_watch",
                json!(round(self.dispatch_over_watch(), 2)),
            ),
            (
                "idle_dispatch_ms_p50",
                json!(round(self.idle_dispatch.percentile(50.0), 2)),
            ),
            (
                "idle_dispatch_ms_p99",
                json!(round(self.idle_dispatch.percentile(99.0), 2)),
            ),
            (
                "idle_watch_ms_p50",
                json!(round(self.idle_watch.percentile(50.0), 2)),
            ),
            (
                "idle_watch_ms_p99",
                json!(round(self.idle_watch.percentile(99.0), 2)),
            ),
            ("idle_samples", json!(self.idle_dispatch.len())),
            (
                "idle_dispatch_over_watch",
                json!(round(self.idle_dispatch_over_watch(), 2)),
            ),
            ("jobs_per_s", json!(round(self.jobs_per_s(), 1))),
            (
                "creates_per_s",
                json!(round(per_second(self.n() as f64, self.create_seconds), 1)),
            ),
            ("elapsed_s", json!(round(self.elapsed_seconds, 2))),
            (
                "api_capacity_writes_per_s",
                json!(round(self.capacity.per_second(), 1)),
            ),
            (
                "api_sequential_writes_per_s",
                json!(round(self.sequential.per_second(), 1)),
            ),
            (
                "api_configmap_writes_per_s",
                json!(round(self.configmaps.per_second(), 1)),
            ),
            ("min_writes_per_job", json!(self.min_writes_per_job)),
            (
                "api_capacity_jobs_per_s",
                json!(round(self.capacity_jobs_per_s(), 1)),
            ),
            (
                "jobs_per_s_over_capacity",
                json!(round(
                    self.jobs_per_s() / self.capacity_jobs_per_s().max(f64::MIN_POSITIVE),
                    3
                )),
            ),
            ("writes_per_job", json!(round(self.writes_per_job(), 3))),
            (
                "writes_per_job_without_events",
                json!(round(self.state_writes_per_job(), 3)),
            ),
            (
                "failed_writes_per_job",
                json!(round(self.operator_writes.failed as f64 / n, 3)),
            ),
            ("writes_per_job_by_kind", json!(writes_by_kind)),
            (
                "server_writes_per_job",
                json!(round(self.all_writes.total as f64 / n, 3)),
            ),
            (
                "operator_requests_per_job",
                json!(round(self.operator_requests as f64 / n, 3)),
            ),
            ("operator_rss_mib", json!(round(self.rss_mib(), 1))),
            (
                "operator_rss_end_mib",
                json!(round(self.usage_after.rss_kib as f64 / 1024.0, 1)),
            ),
            (
                "operator_cpu_ms_per_job",
                json!(round(self.cpu_ms_per_job(), 3)),
            ),
            (
                "sandbox_cpu_ms_per_job",
                json!(round(self.own_cpu_ms_per_job(), 3)),
            ),
            (
                "sandbox_server_cpu_ms_per_job",
                json!(round(self.sandbox_threads_cpu_ms_per_job(), 3)),
            ),
            (
                "bench_clients_cpu_ms_per_job",
                json!(round(self.clients_cpu_ms_per_job(), 3)),
            ),
            ("cpu_busy", json!(round(self.cpu_busy(), 3))),
            (
                "rss_kib_per_finished_job",
                json!(round(self.rss_kib_per_finished_job(), 3)),
            ),
            ("load_curve", self.load_curve_json()),
            (
                "report",
                self.report_cost
                    .as_ref()
                    .map_or(Value::Null, ReportCost::json),
            ),
            (
                "storage_bytes_per_job",
                json!(round(self.stored.per_job(), 1)),
            ),
            (
                "storage_bytes_per_job_by_kind",
                json!({
                    "testjobs": round(self.stored.testjob_bytes as f64 / self.stored.jobs.max(1) as f64, 1),
                    "events": round(self.stored.event_bytes as f64 / self.stored.jobs.max(1) as f64, 1),
                    "configmaps": round(self.stored.configmap_bytes as f64 / self.stored.jobs.max(1) as f64, 1),
                }),
            ),
            ("phases", json!(phases)),
            ("unfinished", json!(self.unfinished)),
            ("undispatched", json!(self.undispatched)),
            ("leftover_pods", json!(self.leftover_pods)),
            ("duplicate_pods", json!(self.duplicate_pods.len())),
            ("cpus", json!(self.machine.cpus)),
            ("cpu_model", json!(self.machine.cpu_model)),
            ("memory_mib", json!(self.machine.memory_mib)),
            ("load_average_at_start", json!(self.machine.load_average)),
        ];
        let mut out: serde_json::Map<String, Value> =
            pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        if let Some(handoff) = &self.handoff {
            out.insert(
                "slot_wait_ms_p50".into(),
                json!(round(handoff.percentile(50.0), 2)),
            );
            out.insert(
                "slot_wait_ms_p99".into(),
                json!(round(handoff.percentile(99.0), 2)),
            );
        }
        Value::Object(out)
    }

    /// The human-readable table.
    pub fn table(&self) -> String {
        let mut rows: Vec<(String, String)> = vec![];
        let mut row = |k: &str, v: String| rows.push((k.to_owned(), v));
        let m = &self.machine;
        row(
            "machine",
            format!(
                "{} CPUs ({}), {} MiB, load average {:.2} at start",
                m.cpus, m.cpu_model, m.memory_mib, m.load_average
            ),
        );
        row(
            "run",
            format!(
                "{} jobs, pods run {} s, --max-running {}, {} creates in flight",
                self.n(),
                self.args.pod_seconds,
                self.args.max_running,
                self.args.concurrency
            ),
        );
        let l = |x: &Latencies| {
            format!(
                "p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} samples)",
                x.percentile(50.0),
                x.percentile(99.0),
                x.max(),
                x.len()
            )
        };
        row("dispatch (job create sent → Pod seen)", l(&self.dispatch));
        row("watch floor (create sent → seen)", l(&self.watch));
        row(
            "  counted from the create's answer",
            format!(
                "dispatch p50 {:.1} ms, p99 {:.1} ms; watch p50 {:.1} ms, p99 {:.1} ms",
                self.dispatch_after_answer.percentile(50.0),
                self.dispatch_after_answer.percentile(99.0),
                self.watch_after_answer.percentile(50.0),
                self.watch_after_answer.percentile(99.0)
            ),
        );
        row("idle dispatch (one job at a time)", l(&self.idle_dispatch));
        row("idle watch floor (alternating)", l(&self.idle_watch));
        if let Some(handoff) = &self.handoff {
            row("slot wait (job finished → next Pod)", l(handoff));
        }
        row(
            "throughput",
            format!(
                "{:.1} jobs/s end to end ({:.1} s); creates {:.1}/s",
                self.jobs_per_s(),
                self.elapsed_seconds,
                per_second(self.n() as f64, self.create_seconds)
            ),
        );
        row(
            "API capacity",
            format!(
                "{:.0} job-shaped writes/s ({} in flight; {:.0}/s one at a time; small ConfigMaps {:.0}/s) ÷ {} writes/job = {:.1} jobs/s",
                self.capacity.per_second(),
                self.capacity.concurrency,
                self.sequential.per_second(),
                self.configmaps.per_second(),
                self.min_writes_per_job,
                self.capacity_jobs_per_s()
            ),
        );
        let n = self.n().max(1) as f64;
        let kinds: Vec<String> = self
            .operator_writes
            .by_kind
            .iter()
            .map(|(k, v)| format!("{k} {:.2}", *v as f64 / n))
            .collect();
        row(
            "operator writes per job",
            format!(
                "{:.2} ({:.2} without events; {:.2} failed): {}",
                self.writes_per_job(),
                self.state_writes_per_job(),
                self.operator_writes.failed as f64 / n,
                kinds.join(", ")
            ),
        );
        row(
            "all writes per job",
            format!(
                "{:.2} (operator, kubelet excluded: it writes in-process; this program's creates)",
                self.all_writes.total as f64 / n
            ),
        );
        row(
            "operator requests per job",
            format!(
                "{:.2} (reads and writes)",
                self.operator_requests as f64 / n
            ),
        );
        row(
            "operator memory",
            format!(
                "peak RSS {:.1} MiB, at the end {:.1} MiB",
                self.rss_mib(),
                self.usage_after.rss_kib as f64 / 1024.0
            ),
        );
        row(
            "operator CPU",
            format!(
                "{:.3} ms per job ({} ms in all)",
                self.cpu_ms_per_job(),
                self.usage_after
                    .cpu_ms
                    .saturating_sub(self.usage_before.cpu_ms)
            ),
        );
        row(
            "sandbox CPU",
            format!(
                "{:.3} ms per job (this process: {:.3} the sandbox's threads — API server, controllers, scheduler, simulated kubelet — and {:.3} this program's creates and watchers); operator and sandbox kept the {} CPUs {:.0}% busy",
                self.own_cpu_ms_per_job(),
                self.sandbox_threads_cpu_ms_per_job(),
                self.clients_cpu_ms_per_job(),
                self.machine.cpus,
                100.0 * self.cpu_busy()
            ),
        );
        let mut phases: Vec<String> = self
            .phases
            .iter()
            .map(|(p, n)| format!("{p} {n}"))
            .collect();
        phases.sort();
        row(
            "outcome",
            format!(
                "{}; unfinished {}, undispatched {}, leftover Pods {}, duplicate Pods {}",
                phases.join(", "),
                self.unfinished,
                self.undispatched,
                self.leftover_pods,
                self.duplicate_pods.len()
            ),
        );
        row(
            "memory per finished job",
            format!(
                "{:.2} KiB (operator RSS {} → {} KiB between the two halves' ends)",
                self.rss_kib_per_finished_job(),
                self.rss_at_half_kib,
                self.rss_at_end_kib
            ),
        );
        row(
            "stored per finished job",
            format!(
                "{:.0} bytes (TestJob, its Events and ConfigMaps; {} idle jobs measured)",
                self.stored.per_job(),
                self.stored.jobs
            ),
        );
        if let Some(cost) = &self.report_cost {
            row("report (--report-bytes)", cost.describe());
        }
        for point in &self.load_curve {
            row(
                &format!(
                    "load {:.0}% ({:.0} jobs/s)",
                    point.fraction * 100.0,
                    point.rate
                ),
                format!(
                    "dispatch p50 {:.2} ms p99 {:.2} ms; watch p50 {:.2} ms p99 {:.2} ms; ×{:.2}",
                    point.dispatch.percentile(50.0),
                    point.dispatch.percentile(99.0),
                    point.watch.percentile(50.0),
                    point.watch.percentile(99.0),
                    p50_ratio(&point.dispatch, &point.watch)
                ),
            );
        }
        for goal in self.goals() {
            row(
                &format!("goal: {}", goal.name),
                format!(
                    "{:.2} {} → {}",
                    goal.value,
                    goal.limit,
                    if goal.met { "met" } else { "NOT met" }
                ),
            );
        }
        let width = rows
            .iter()
            .map(|(k, _)| k.chars().count())
            .max()
            .unwrap_or(0);
        rows.iter()
            .map(|(k, v)| format!("{k:<width$}  {v}\n"))
            .collect()
    }
}

pub(super) fn per_second(count: f64, seconds: f64) -> f64 {
    if seconds > 0.0 { count / seconds } else { 0.0 }
}

pub(super) fn round(value: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (value * scale).round() / scale
}

/// `a` p50 ÷ `b` p50; 0 when `b` has no positive p50.
fn p50_ratio(a: &Latencies, b: &Latencies) -> f64 {
    let floor = b.percentile(50.0);
    if floor > 0.0 {
        a.percentile(50.0) / floor
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests;
