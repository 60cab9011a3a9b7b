//! `--report-bytes N`: what a large report costs the operator. After the main run (whose jobs
//! carry only the small results file, so its writes per job are unchanged), jobs run one at a
//! time, alternately without a report and with a generated JUnit report of about N bytes. The
//! report reaches the operator as from a real runner: through the report sidecar's termination
//! message, or its log when it does not fit, here given by the simulated sidecar's
//! `sandbox.kube/termination-message.report` / `sandbox.kube/log.report` annotations, encoded by
//! the operator's own `handover::encode`. Every job's summary and stored report are checked, so
//! that the figures are of reports really parsed and kept.
//!
//! Per job: the operator's CPU time (the mean over the jobs of each kind, as `/proc` counts it in
//! clock ticks; the difference is the report's cost), and its transient memory: the peak RSS during the job (`VmHWM`, reset
//! through `/proc/PID/clear_refs` before each job) above the RSS before it.

use std::time::Duration;

use anyhow::{Context as _, ensure};
use kube::api::Api;
use serde::Serialize;
use serde_json::{Value, json};
use testjob_operator::crd::TestJob;
use testjob_operator::handover;
use testjob_operator::report::samples::{sample_junit, sample_summary};
use testjob_testkit::jobs::{JobPlan, create_timed};
use testjob_testkit::wait::poll;

use crate::procfs::ProcUsage;
use crate::report::Goal;

/// The namespace of the report jobs.
pub const REPORT_NAMESPACE: &str = "bench-report";

/// Jobs of each kind (with and without a report).
const JOBS: usize = 20;

/// Bytes of JUnit per test case of the generated report (Surefire-like, with some output).
const BYTES_PER_CASE: usize = 200;

/// What `--report-bytes` measured.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ReportCost {
    /// Size of the raw report.
    pub bytes: usize,
    /// Its test cases.
    pub cases: usize,
    /// Size of the gzipped report handed over.
    pub gzip_bytes: u64,
    /// Jobs run of each kind.
    pub jobs: usize,
    /// Mean operator CPU of a job with the report, ms.
    pub cpu_ms_with_report: f64,
    /// Mean operator CPU of a job without one, ms.
    pub cpu_ms_without_report: f64,
    /// Largest peak RSS above the RSS before the job, KiB, over the jobs with a report.
    pub transient_kib_max: u64,
    /// The same for the jobs without a report.
    pub transient_kib_max_without_report: u64,
}

impl ReportCost {
    /// What the report adds to a job's operator CPU, ms.
    pub fn cpu_ms_per_report(&self) -> f64 {
        (self.cpu_ms_with_report - self.cpu_ms_without_report).max(0.0)
    }

    /// The transient memory of a job with the report, MiB.
    pub fn transient_mib(&self) -> f64 {
        self.transient_kib_max as f64 / 1024.0
    }

    /// The goals for a 1 MiB report.
    pub fn goals(&self) -> Vec<Goal> {
        let cpu = self.cpu_ms_per_report();
        vec![
            Goal {
                name: "report: operator CPU per report, ms",
                value: cpu,
                limit: "≤ 50 (for 1 MiB)".into(),
                met: cpu <= 50.0,
            },
            Goal {
                name: "report: operator transient memory, MiB",
                value: self.transient_mib(),
                limit: "≤ 16 (for 1 MiB)".into(),
                met: self.transient_mib() <= 16.0,
            },
        ]
    }

    /// The JSON key `report`.
    pub fn json(&self) -> Value {
        let mut value = serde_json::to_value(self).unwrap_or_default();
        value["cpu_ms_per_report"] = json!((self.cpu_ms_per_report() * 100.0).round() / 100.0);
        value
    }

    /// One line for the table.
    pub fn describe(&self) -> String {
        format!(
            "{} bytes ({} cases, {} gzipped): +{:.1} ms operator CPU per report ({:.1} with, {:.1} without; {} jobs each), transient {:.1} MiB ({:.1} MiB without)",
            self.bytes,
            self.cases,
            self.gzip_bytes,
            self.cpu_ms_per_report(),
            self.cpu_ms_with_report,
            self.cpu_ms_without_report,
            self.jobs,
            self.transient_mib(),
            self.transient_kib_max_without_report as f64 / 1024.0
        )
    }
}

/// A job with the report handed over (or none).
fn job(name: &str, report: Option<&[u8]>) -> anyhow::Result<TestJob> {
    let mut job = JobPlan::new(name).to_testjob()?;
    if let Some(report) = report {
        let encoded = handover::encode(report);
        let sidecar = handover::SIDECAR;
        let annotations = job
            .spec
            .runner
            .get_or_insert_with(Default::default)
            .pod_annotations
            .get_or_insert_with(Default::default);
        annotations.insert(
            format!("sandbox.kube/termination-message.{sidecar}"),
            encoded.message,
        );
        if let Some(log) = encoded.log {
            annotations.insert(format!("sandbox.kube/log.{sidecar}"), log);
        }
    }
    Ok(job)
}

/// Resets the peak RSS of `pid` to its current RSS (`clear_refs` 5, Linux ≥ 4.0).
fn reset_peak(pid: u32) -> anyhow::Result<()> {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5")
        .with_context(|| format!("resetting the peak RSS of process {pid}"))
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len().max(1) as f64
}

/// Runs one job to its end and returns (operator CPU ms, transient KiB); with a report, checks
/// that its summary is exact and its report stored.
async fn run_one(
    api: &Api<TestJob>,
    pid: u32,
    name: &str,
    report: Option<(&[u8], usize)>,
) -> anyhow::Result<(f64, u64)> {
    const LIMIT: Duration = Duration::from_secs(60);
    reset_peak(pid)?;
    let before = ProcUsage::of(pid)?;
    create_timed(api, &job(name, report.map(|(r, _)| r))?, LIMIT).await?;
    let finished = poll(&format!("report job {name} to finish"), LIMIT, || async {
        let job = api.get(name).await?;
        let done = job
            .status
            .as_ref()
            .and_then(|s| s.phase)
            .is_some_and(|p| p.is_terminal());
        // The report is stored with the final status; a passed job's Pod is then deleted.
        anyhow::Ok(done.then_some(job))
    })
    .await?;
    let after = ProcUsage::of(pid)?;
    if let Some((bytes, cases)) = report {
        let status = finished.status.unwrap_or_default();
        ensure!(
            status.summary == Some(sample_summary(cases)),
            "{name}: summary {:?}, expected that of {cases} cases ({:?})",
            status.summary,
            status.message
        );
        let stored = status.report.context("no status.report")?;
        ensure!(
            stored.sha256 == handover::sha256_hex(bytes),
            "{name}: the stored report's sha256 differs"
        );
    }
    Ok((
        after.cpu_ms.saturating_sub(before.cpu_ms) as f64,
        after.rss_peak_kib.saturating_sub(before.rss_kib),
    ))
}

/// Measures the cost of a report of about `bytes` bytes for the operator process `pid`.
pub async fn measure(client: kube::Client, pid: u32, bytes: usize) -> anyhow::Result<ReportCost> {
    let cases = (bytes / BYTES_PER_CASE).max(1);
    let report = sample_junit(cases, bytes).into_bytes();
    let api: Api<TestJob> = Api::namespaced(client, REPORT_NAMESPACE);
    let (mut with, mut without) = (Vec::new(), Vec::new());
    let (mut peak_with, mut peak_without) = (0, 0);
    for i in 0..JOBS {
        let (cpu, transient) = run_one(&api, pid, &format!("plain-{i:03}"), None).await?;
        without.push(cpu);
        peak_without = peak_without.max(transient);
        let (cpu, transient) =
            run_one(&api, pid, &format!("report-{i:03}"), Some((&report, cases))).await?;
        with.push(cpu);
        peak_with = peak_with.max(transient);
    }
    Ok(ReportCost {
        bytes: report.len(),
        cases,
        gzip_bytes: handover::gzip(&report).len() as u64,
        jobs: JOBS,
        cpu_ms_with_report: mean(&with),
        cpu_ms_without_report: mean(&without),
        transient_kib_max: peak_with,
        transient_kib_max_without_report: peak_without,
    })
}
