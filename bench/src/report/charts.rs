//! The run's charts (SVG, through [`crate::chart`]): latency distributions and progress of the
//! bulk run, and the load curve.

use super::{Report, p50_ratio};
use crate::chart::{self, ChartData, Curve, Series};

impl Report {
    /// The load curve's chart: dispatch at each load against the watch floor measured at the
    /// same load; `None` without a load curve.
    pub fn load_chart(&self) -> Option<String> {
        const COLOURS: [&str; 4] = ["#2ca02c", "#1f77b4", "#ff7f0e", "#d62728"];
        if self.load_curve.is_empty() {
            return None;
        }
        let labels: Vec<(String, String)> = self
            .load_curve
            .iter()
            .map(|p| {
                let pct = p.fraction * 100.0;
                (
                    format!("dispatch at {pct:.0}% ({:.0} jobs/s)", p.rate),
                    format!("watch floor at {pct:.0}%"),
                )
            })
            .collect();
        let mut latencies = Vec::new();
        for (i, (point, (dispatch, watch))) in self.load_curve.iter().zip(&labels).enumerate() {
            let colour = COLOURS[i % COLOURS.len()];
            latencies.push(Curve {
                label: dispatch,
                colour,
                latencies: &point.dispatch,
                dashed: false,
            });
            latencies.push(Curve {
                label: watch,
                colour,
                latencies: &point.watch,
                dashed: true,
            });
        }
        let ratios: Vec<String> = self
            .load_curve
            .iter()
            .map(|p| {
                format!(
                    "{:.0}%: ×{:.1}",
                    p.fraction * 100.0,
                    p50_ratio(&p.dispatch, &p.watch)
                )
            })
            .collect();
        Some(chart::render(&ChartData {
            title: format!(
                "testjob-operator load curve: jobs arriving at a fixed rate, throughput {:.0} jobs/s",
                self.jobs_per_s()
            ),
            subtitle: format!(
                "dispatch p50 ÷ watch p50 — {} · {} × {}",
                ratios.join(", "),
                self.machine.cpus,
                self.machine.cpu_model
            ),
            latencies,
            progress: vec![Series {
                label: "runner Pods seen (bulk run)",
                colour: "#7f7f7f",
                times: self.timeline[1].clone(),
            }],
        }))
    }

    /// The chart of the run.
    pub fn chart(&self) -> String {
        let [created, dispatched, finished] = self.timeline.clone();
        chart::render(&ChartData {
            title: format!(
                "testjob-operator: {} TestJobs on kube-sandbox, {:.0} jobs/s",
                self.n(),
                self.jobs_per_s()
            ),
            subtitle: format!(
                "dispatch p50 ÷ watch p50: ×{:.2} all at once, ×{:.2} one at a time · {} × {} · pods {} s, --max-running {}",
                self.dispatch_over_watch(),
                self.idle_dispatch_over_watch(),
                self.machine.cpus,
                self.machine.cpu_model,
                self.args.pod_seconds,
                self.args.max_running
            ),
            latencies: vec![
                Curve {
                    label: "dispatch, all N at once",
                    colour: "#d62728",
                    latencies: &self.dispatch,
                    dashed: false,
                },
                Curve {
                    label: "watch floor, same run",
                    colour: "#1f77b4",
                    latencies: &self.watch,
                    dashed: false,
                },
                Curve {
                    label: "dispatch, one at a time",
                    colour: "#d62728",
                    latencies: &self.idle_dispatch,
                    dashed: true,
                },
                Curve {
                    label: "watch floor, one at a time",
                    colour: "#1f77b4",
                    latencies: &self.idle_watch,
                    dashed: true,
                },
            ],
            progress: vec![
                Series {
                    label: "TestJobs created",
                    colour: "#7f7f7f",
                    times: created,
                },
                Series {
                    label: "runner Pods seen",
                    colour: "#d62728",
                    times: dispatched,
                },
                Series {
                    label: "TestJobs finished",
                    colour: "#2ca02c",
                    times: finished,
                },
            ],
        })
    }
}
