//! The goals, judged on a run's figures.

use super::{Report, p50_ratio};

/// A goal of the issue and whether the run met it.
#[derive(Clone, Debug, PartialEq)]
pub struct Goal {
    /// What is measured.
    pub name: &'static str,
    /// The measured value.
    pub value: f64,
    /// The limit, as text.
    pub limit: String,
    /// Whether the value is within the limit.
    pub met: bool,
}

impl Report {
    /// The goals.
    pub fn goals(&self) -> Vec<Goal> {
        let mut goals = self.bulk_goals();
        if let Some(half) = self.load_curve.iter().find(|p| p.fraction == 0.5) {
            let watch = half.watch.percentile(50.0);
            let ratio = p50_ratio(&half.dispatch, &half.watch);
            goals.push(Goal {
                name: "at 50% load: dispatch p50 ≤ 3 × watch p50",
                value: ratio,
                limit: format!("≤ 3 (3 × {watch:.1} ms = {:.1} ms)", 3.0 * watch),
                met: ratio <= 3.0,
            });
        }
        if let Some(cost) = &self.report_cost {
            goals.extend(cost.goals());
        }
        goals
    }

    fn bulk_goals(&self) -> Vec<Goal> {
        let watch = self.watch.percentile(50.0);
        let capacity = self.capacity_jobs_per_s();
        vec![
            Goal {
                name: "dispatch p50 ≤ 3 × watch p50",
                value: self.dispatch_over_watch(),
                limit: format!("≤ 3 (3 × {watch:.1} ms = {:.1} ms)", 3.0 * watch),
                met: self.dispatch_over_watch() <= 3.0,
            },
            Goal {
                name: "idle: dispatch p50 ≤ 3 × watch p50",
                value: self.idle_dispatch_over_watch(),
                limit: format!(
                    "≤ 3 (3 × {:.1} ms = {:.1} ms)",
                    self.idle_watch.percentile(50.0),
                    3.0 * self.idle_watch.percentile(50.0)
                ),
                met: self.idle_dispatch_over_watch() <= 3.0,
            },
            Goal {
                name: "operator state writes per job (Events apart)",
                value: self.state_writes_per_job(),
                limit: format!("≤ {}", self.min_writes_per_job),
                met: self.state_writes_per_job() <= self.min_writes_per_job as f64,
            },
            Goal {
                name: "jobs/s ÷ API capacity jobs/s",
                value: self.jobs_per_s() / capacity.max(f64::MIN_POSITIVE),
                limit: format!("≥ 0.5 (0.5 × {capacity:.0} = {:.0} jobs/s)", 0.5 * capacity),
                met: self.jobs_per_s() >= 0.5 * capacity,
            },
            Goal {
                name: "marginal memory per finished job, KiB",
                value: self.rss_kib_per_finished_job(),
                limit: "≤ 1".into(),
                met: self.rss_kib_per_finished_job() <= 1.0,
            },
            Goal {
                name: "operator CPU per job, ms",
                value: self.cpu_ms_per_job(),
                limit: "≤ 1.0 (at N = 10,000)".into(),
                met: self.cpu_ms_per_job() <= 1.0,
            },
            Goal {
                name: "sandbox CPU per job, ms (its threads)",
                value: self.sandbox_threads_cpu_ms_per_job(),
                limit: format!(
                    "≤ 1.9 (at N = 10,000; with this program's clients {:.2})",
                    self.own_cpu_ms_per_job()
                ),
                met: self.sandbox_threads_cpu_ms_per_job() <= 1.9,
            },
            Goal {
                name: "operator peak RSS, MiB",
                value: self.rss_mib(),
                limit: "≤ 64 (at N = 10,000)".into(),
                met: self.rss_mib() <= 64.0,
            },
        ]
    }
}
