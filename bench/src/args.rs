//! The flags of `testjob-bench` ([`BenchArgs`]).

use std::path::PathBuf;

/// Flags of `testjob-bench`.
#[derive(clap::Parser, Clone, Debug)]
#[command(
    name = "testjob-bench",
    about = "Measures the TestJob operator on an in-memory cluster: dispatch latency against the watch floor, throughput against the API's capacity, API writes per job, memory and CPU."
)]
pub struct BenchArgs {
    /// How many TestJobs to run.
    #[arg(short = 'n', long = "jobs", default_value_t = 10_000)]
    pub jobs: usize,

    /// The operator's `--max-running` (0: no limit).
    #[arg(long, default_value_t = 0)]
    pub max_running: usize,

    /// How long each simulated runner Pod runs, in seconds (0: it finishes as it starts).
    #[arg(long, default_value_t = 0.0)]
    pub pod_seconds: f64,

    /// TestJob creates in flight at once.
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,

    /// Probe objects for the watch-latency floor.
    #[arg(long, default_value_t = 1000)]
    pub probes: usize,

    /// Jobs created one at a time after the run, to measure dispatch on a quiet cluster.
    #[arg(long, default_value_t = 200)]
    pub idle_jobs: usize,

    /// Seconds of each load-curve stage (jobs arriving at 25, 50, 75, 100% of the measured
    /// throughput); 0 skips the load curve.
    #[arg(long, default_value_t = 10.0)]
    pub load_seconds: f64,

    /// How long to measure the API's write capacity, in seconds.
    #[arg(long, default_value_t = 5.0)]
    pub capacity_seconds: f64,

    /// Write an SVG chart (latency distributions, progress) to this file, and the load curve's
    /// next to it (`NAME-load.svg`).
    #[arg(long, value_name = "PATH")]
    pub chart: Option<PathBuf>,

    /// The operator binary [default: testjob-operator next to this program].
    #[arg(long, value_name = "PATH")]
    pub operator: Option<PathBuf>,

    /// An extra flag for `testjob-operator run` (repeatable), e.g. `--operator-arg=--default-retries=1`.
    #[arg(long = "operator-arg", value_name = "FLAG", allow_hyphen_values = true)]
    pub operator_args: Vec<String>,

    /// Give up when the jobs have not all finished after this many seconds.
    #[arg(long, default_value_t = 3600)]
    pub timeout_seconds: u64,

    /// Keep the operator's log (printed path) instead of deleting it with the sandbox.
    #[arg(long)]
    pub keep_logs: bool,

    /// After the run, measure what a report of about this many bytes (generated JUnit, handed
    /// over through the report sidecar) costs the operator: CPU and transient memory per job.
    #[arg(long, value_name = "BYTES")]
    pub report_bytes: Option<usize>,
}
