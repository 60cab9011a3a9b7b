//! Flags of `testjob-operator dashboard`.

use std::net::SocketAddr;

use crate::config::LogFormat;

/// Flags of `testjob-operator dashboard`.
#[derive(clap::Args, Debug, Clone)]
pub struct DashboardArgs {
    /// Address to serve the dashboard on. The default is reachable from this machine only; the
    /// chart passes `0.0.0.0:<port>` inside the Pod.
    #[arg(
        long,
        env = "TESTJOB_DASHBOARD_LISTEN",
        default_value = "127.0.0.1:8081"
    )]
    pub listen: SocketAddr,

    /// Show the TestJobs of this namespace only (default: all namespaces).
    #[arg(long, env = "TESTJOB_DASHBOARD_NAMESPACE")]
    pub namespace: Option<String>,

    /// The operator's `--max-running`, for the queue view (0 = no limit, no queue view).
    #[arg(long, env = "TESTJOB_OPERATOR_MAX_RUNNING", default_value_t = 0)]
    pub max_running: usize,

    /// The operator's `--default-priority`, to order the queue as the controller does.
    #[arg(long, env = "TESTJOB_OPERATOR_DEFAULT_PRIORITY", default_value_t = 0)]
    pub default_priority: i32,

    /// Rows per page of the job list.
    #[arg(long, env = "TESTJOB_DASHBOARD_PAGE_SIZE", default_value_t = 100,
          value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub page_size: u16,

    /// Log format on standard error: `text` for people, `json` (one object per line) for log
    /// collectors.
    #[arg(long, env = "TESTJOB_DASHBOARD_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}
